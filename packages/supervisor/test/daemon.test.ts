// runtsd against in-process fake shims (no root, no containers): restore
// with event replay, a dead shim's outbox, a shim lost while serving, stop,
// wait, delete, and the errors a client sees.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { shim, supervisor } from '@runts/proto';
import { Daemon } from '../src/daemon';
import { RecordStore } from '../src/records';
import { call, connect, type Client } from '../src/ctl/client';
import { eventLine } from '../src/ctl/format';
import { FakeShim } from './fakeshim';
import { record } from './fixtures';

interface Setup {
  dir: string;
  store: RecordStore;
  start(): Promise<{ daemon: Daemon; client: Client }>;
}

function setup(t: { teardown(fn: () => void): void }): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'runtsd-unit-'));
  const state = join(dir, 'state');
  const store = new RecordStore(state);
  const open: Array<() => void> = [];
  t.teardown(() => {
    open.forEach((f) => f());
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    store,
    async start() {
      const daemon = new Daemon({ address: join(dir, 'd.sock'), stateDir: state, shimBin: '/nonexistent', runtsBin: '/bin/true', log: () => {} });
      await daemon.claim();
      await daemon.restore();
      await daemon.listen();
      const client = connect(join(dir, 'd.sock'));
      open.push(() => client.close(), () => daemon.close());
      return { daemon, client };
    },
  };
}

const get = (c: Client, id: string) => call<supervisor.Container__Output>((cb) => c.Get({ id }, cb));
const until = async (what: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test('restart: events kept by a live shim are replayed after the acked seq, then live ones arrive', async (t) => {
  const s = setup(t);
  const fake = new FakeShim(join(s.dir, 'shim-a'), ['c1', 'c2']);
  t.teardown(() => fake.kill());
  fake.emit('/tasks/start', { event: 'start', start: { containerId: 'c1', pid: 11 } });
  fake.emit('/tasks/start', { event: 'start', start: { containerId: 'c2', pid: 12 } });
  fake.exit('c1', 3); // happened while runtsd was down
  await fake.listen();
  const at = { shimDir: fake.dir, shimSocket: fake.socket, status: 'running' as const, lastSeq: 2 };
  s.store.write(record('c1', { ...at, pid: 11 }));
  s.store.write(record('c2', { ...at, pid: 12, createdAtMs: 2000 }));

  const { client } = await s.start();
  await until(() => fake.acked === 3);
  t.equal(fake.ackCalls, 1, 'the replayed events are acknowledged in one call');
  t.match(await get(client, 'c1'), { status: 'stopped', exitStatus: 3, shimPid: 1 });
  t.match(new RecordStore(join(s.dir, 'state')).load()[0], { id: 'c1', status: 'stopped', exitStatus: 3, lastSeq: 3 }, 'on disk before the ack');
  const { containers } = await call<supervisor.ListResponse__Output>((cb) => client.List({}, cb));
  t.same(containers.map((c) => [c.id, c.status]), [['c1', 'stopped'], ['c2', 'running']]);

  const seen: string[] = [];
  const events = client.Events({});
  events.on('data', (e: supervisor.Event__Output) => seen.push(eventLine(e)));
  events.on('error', () => {});
  t.teardown(() => events.cancel());
  await new Promise((r) => setTimeout(r, 100));
  const waited = call<shim.WaitResponse__Output>((cb) => client.Wait({ id: 'c2' }, cb));
  fake.exit('c2', 0);
  t.match(await waited, { exitStatus: 0 });
  await until(() => seen.length === 1);
  t.match(JSON.parse(seen[0]!), { id: 'c2', seq: 4, topic: '/tasks/exit', event: { exitStatus: 0 } });

  // Wait on an exited container answers from the record.
  t.match(await call<shim.WaitResponse__Output>((cb) => client.Wait({ id: 'c1' }, cb)), { exitStatus: 3 });
  await call((cb) => client.Delete({ id: 'c1' }, cb));
  t.notOk(new RecordStore(join(s.dir, 'state')).load().some((r) => r.id === 'c1'), 'its record is gone from disk');
  t.ok(fake.calls.some((c) => c.startsWith('Delete') && c.includes('"c1"')));
  t.notOk(fake.calls.some((c) => c.startsWith('Shutdown')), 'c2 still uses the shim');
  await t.rejects(get(client, 'c1'), { code: 5, details: 'no such container: c1' });
  await call((cb) => client.Delete({ id: 'c2' }, cb));
  await until(() => fake.calls.some((c) => c.startsWith('Shutdown')));
});

t.test("a removal returns once the shim has acknowledged the container's events", async (t) => {
  const s = setup(t);
  const fake = new FakeShim(join(s.dir, 'shim-c'), ['c5']);
  t.teardown(() => fake.kill());
  fake.emit('/tasks/start', { event: 'start', start: { containerId: 'c5', pid: 15 } });
  await fake.listen();
  s.store.write(record('c5', { shimDir: fake.dir, shimSocket: fake.socket, status: 'running', lastSeq: 1 }));
  const { client } = await s.start();
  const waited = call<shim.WaitResponse__Output>((cb) => client.Wait({ id: 'c5' }, cb));
  fake.exit('c5', 0);
  await waited;
  await call((cb) => client.Delete({ id: 'c5' }, cb));
  t.equal(fake.acked, 2, 'the exit is acknowledged before the removal returns, not 100 ms later');
});

t.test('a removal waits for an Ack already on its way to the shim', async (t) => {
  const s = setup(t);
  const fake = new FakeShim(join(s.dir, 'shim-d'), ['c6']);
  t.teardown(() => fake.kill());
  fake.emit('/tasks/start', { event: 'start', start: { containerId: 'c6', pid: 16 } });
  fake.ackDelayMs = 300;
  await fake.listen();
  s.store.write(record('c6', { shimDir: fake.dir, shimSocket: fake.socket, status: 'running', lastSeq: 1 }));
  const { client } = await s.start();
  const waited = call<shim.WaitResponse__Output>((cb) => client.Wait({ id: 'c6' }, cb));
  fake.exit('c6', 0);
  await waited;
  await until(() => fake.ackCalls === 1); // the timed Ack went out and is not yet answered
  await call((cb) => client.Delete({ id: 'c6' }, cb));
  t.equal(fake.acked, 2, 'the removal returned after the shim had served that Ack');
});

t.test("restart with a dead shim: its outbox's exits are applied, the rest marked unknown", async (t) => {
  const s = setup(t);
  const fake = new FakeShim(join(s.dir, 'shim-b'), []);
  fake.emit('/tasks/start', { event: 'start', start: { containerId: 'c3', pid: 13 } });
  fake.exit('c3', 5);
  writeFileSync(join(fake.dir, 'outbox.jsonl'), `${JSON.stringify(fake.events[0])}\n${JSON.stringify(fake.events[1])}\n{"seq":3,"topi`); // cut by the crash
  const at = { shimDir: fake.dir, shimSocket: fake.socket, status: 'running' as const, lastSeq: 1 };
  s.store.write(record('c3', at));
  s.store.write(record('c4', at));
  const { client } = await s.start();
  t.match(await get(client, 'c3'), { status: 'stopped', exitStatus: 5, reason: '' });
  t.match(await get(client, 'c4'), { status: 'unknown', reason: 'shim exited' });
  await t.rejects(call((cb) => client.Wait({ id: 'c4' }, cb)), { code: 9, details: 'container c4: shim exited' });
  await t.rejects(call((cb) => client.Kill({ id: 'c4', signal: 9 }, cb)), { code: 9 });
  await t.rejects(call((cb) => client.Delete({ id: 'c4' }, cb)), { code: 9, details: /force the removal/ });
  await call((cb) => client.Delete({ id: 'c4', force: true }, cb));
  await call((cb) => client.Delete({ id: 'c3' }, cb));
  t.notOk(existsSync(fake.dir), "the dead shim's dir goes with its last container");
});

t.test('a shim that dies while serving: its containers become unknown, waiters hear it', async (t) => {
  const s = setup(t);
  const fake = new FakeShim(join(s.dir, 'shim-c'), ['c5']);
  await fake.listen();
  s.store.write(record('c5', { shimDir: fake.dir, shimSocket: fake.socket, status: 'running' }));
  const { client } = await s.start();
  await new Promise((r) => setTimeout(r, 100));
  const waited = call((cb) => client.Wait({ id: 'c5' }, cb));
  fake.kill();
  await t.rejects(waited, { code: 9, details: 'container c5: shim exited' });
  t.match(await get(client, 'c5'), { status: 'unknown', reason: 'shim exited' });
  t.match(s.store.load()[0], { status: 'unknown', reason: 'shim exited' });
});

t.test('stop: SIGTERM, then SIGKILL after the timeout', async (t) => {
  const s = setup(t);
  const fake = new FakeShim(join(s.dir, 'shim-d'), ['c6', 'c7']);
  t.teardown(() => fake.kill());
  fake.ignoreTerm = true;
  await fake.listen();
  s.store.write(record('c6', { shimDir: fake.dir, shimSocket: fake.socket, status: 'running' }));
  s.store.write(record('c7', { shimDir: fake.dir, shimSocket: fake.socket, status: 'running' }));
  const { client } = await s.start();
  const t0 = Date.now();
  const c = await call<supervisor.Container__Output>((cb) => client.Stop({ id: 'c6', timeoutS: 1 }, cb));
  t.match(c, { status: 'stopped', exitStatus: 137 });
  t.ok(Date.now() - t0 >= 900, 'waited for the timeout');
  t.same(fake.calls.filter((x) => x.startsWith('Kill')), ['Kill c6 15', 'Kill c6 9']);
  fake.ignoreTerm = false;
  t.match(await call<supervisor.Container__Output>((cb) => client.Stop({ id: 'c7', timeoutS: 10 }, cb)), { status: 'stopped', exitStatus: 143 });
  await t.rejects(call((cb) => client.Create({ id: 'c7', bundle: '/nonexistent' }, cb)), { code: 6, details: 'container c7 already exists' });
  await t.rejects(call((cb) => client.Create({ id: 'bad/id', bundle: '/b' }, cb)), { code: 3 });
  await t.rejects(call((cb) => client.Create({ id: 'c8', bundle: '/nonexistent' }, cb)), { code: 3, details: 'no config.json in bundle /nonexistent' });
  t.match(JSON.parse((await call<shim.StatsResponse__Output>((cb) => client.Stats({ id: 'c7' }, cb))).statsJson), { cpu: { usage: 1 } });
});

t.test('an event that cannot be written is not acked, and is applied from the replay', async (t) => {
  const s = setup(t);
  const fake = new FakeShim(join(s.dir, 'shim-e'), ['c9']);
  t.teardown(() => fake.kill());
  await fake.listen();
  s.store.write(record('c9', { shimDir: fake.dir, shimSocket: fake.socket, status: 'running' }));
  const { client } = await s.start();
  await new Promise((r) => setTimeout(r, 100));
  const write = RecordStore.prototype.write;
  let failures = 0;
  RecordStore.prototype.write = function (this: RecordStore, rec) {
    if (failures++ === 0) throw new Error('ENOSPC: no space left on device');
    write.call(this, rec);
  };
  t.teardown(() => void (RecordStore.prototype.write = write));
  fake.exit('c9', 2);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(fake.acked, 0, 'not acked while not on disk');
  t.match(await get(client, 'c9'), { status: 'running' }, 'memory follows the disk');
  await until(() => fake.acked === 1);
  t.match(await get(client, 'c9'), { status: 'stopped', exitStatus: 2 });
  t.equal(failures, 2);
});
