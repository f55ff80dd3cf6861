// The outbox without root: events survive a restart until acknowledged.
import t from 'tap';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../src/outbox';

t.test('seq, replay, ack and reload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = new Outbox(dir);
  const live: number[] = [];
  const stop = a.listen((e) => live.push(e.seq));
  a.publish({ topic: '/tasks/create', create: { containerId: 'c', bundle: '/b', pid: 1 } });
  a.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: 1 } });
  stop();
  a.publish({ topic: '/tasks/exit', exit: { containerId: 'c', id: 'c', pid: 1, exitStatus: 3, exitedAtMs: 5 } });
  t.same(live, [1, 2], 'listeners hear live events until they stop');
  t.same(a.since(1).map((e) => e.topic), ['/tasks/start', '/tasks/exit']);
  a.ack(1);
  a.close();

  // A new shim process on the same dir (or runtsd reading it) sees what was not acknowledged.
  const b = new Outbox(dir);
  t.same(b.since(0).map((e) => e.seq), [2, 3], 'unacknowledged events reloaded');
  t.equal(b.since(0)[1]!.exit!.exitStatus, 3);
  t.equal(b.publish({ topic: '/tasks/delete', delete: { containerId: 'c', pid: 1, exitStatus: 3, exitedAtMs: 5 } }).seq, 4, 'seq goes on');
  b.ack(99);
  t.same(b.since(0), [], 'ack past the end drops all');
  t.match(readFileSync(join(dir, 'outbox.jsonl'), 'utf8'), /\{"acked":4\}\n$/, 'acked is capped at the last seq');
  b.close();

  const c = new Outbox(dir);
  t.same(c.since(0), [], 'acknowledged events are not replayed');
  t.equal(c.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: 1 } }).seq, 5, 'seq goes on past the acks');
  c.close();
});

t.test('acks are appended and the file is compacted now and then', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'outbox.jsonl');
  const a = new Outbox(dir);
  let most = 0;
  for (let i = 1; i <= 3000; i++) {
    a.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: i } });
    if (i % 2 === 0) a.ack(i - 1);
    most = Math.max(most, readFileSync(file, 'utf8').split('\n').length);
  }
  t.ok(most <= 1100, `the file stays bounded (${most} lines at most)`);
  a.close();
  const b = new Outbox(dir);
  t.same(b.since(0).map((e) => e.seq), [3000], 'only the unacknowledged event is left');
  t.equal(b.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: 0 } }).seq, 3001);
  b.ack(3001);
  b.close();
  const c = new Outbox(dir);
  t.same(c.since(0), [], 'all acknowledged');
  c.close();
});

t.test('a line cut by a crash is skipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = new Outbox(dir);
  a.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: 1 } });
  a.close();
  appendFileSync(join(dir, 'outbox.jsonl'), '{"seq":2,"topi');
  const b = new Outbox(dir);
  t.same(b.since(0).map((e) => e.seq), [1]);
  b.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: 2 } });
  b.close();
  const c = new Outbox(dir);
  t.same(c.since(0).map((e) => e.seq), [1, 2], 'the next event is not glued to the cut line');
  c.close();
});
