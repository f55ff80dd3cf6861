// runts-shim with real containers: lifecycle over the Task service, stdio to
// logs, exit statuses, event order, the durable outbox, and orphan reaping.
import t from 'tap';
import { execSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { baseConfig } from './lib/harness';
import { sleep, withShim } from './lib/shim';

const sh = (script: string) => baseConfig(['sh', '-c', script]);
const topics = (evs: { topic: string }[]) => evs.map((e) => e.topic);

t.test('create, start, output, exit status and events in order', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  const { pid } = await s.call('Create', { id, bundle: env.bundle(sh('echo out; echo err >&2; exit 3')) });
  t.ok(pid > 0, 'the init pid');
  t.equal((await s.call('State', { id })).status, 'CREATED');
  await s.call('Start', { id });
  const w = await s.call('Wait', { id });
  t.equal(w.exitStatus, 3, 'exit status');
  t.ok(w.exitedAtMs > 0);
  const st = await s.call('State', { id });
  t.same([st.status, st.exitStatus], ['STOPPED', 3]);
  const log = await s.output(id);
  t.match(log.out, /out\n/);
  t.match(log.out, /err\n/);
  await s.call('Delete', { id });
  const evs = await s.events(0, (e) => e.length >= 4);
  t.same(topics(evs), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  t.same(evs.map((e) => e.seq), [1, 2, 3, 4], 'seq from 1, by one');
  t.equal(evs[2]!.exit!.exitStatus, 3);
  await t.rejects(s.call('State', { id }), { code: 5 }, 'NOT_FOUND after delete');
});

t.test('create with start: the container runs from that one call, its events in order', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  const { pid } = await s.call('Create', { id, bundle: env.bundle(sh('echo ran; exit 4')), start: true });
  t.ok(pid > 0, 'the init pid');
  t.equal((await s.call('Wait', { id })).exitStatus, 4, 'it ran without a Start');
  t.match((await s.output(id)).out, /ran\n/);
  await s.call('Delete', { id });
  const evs = await s.events(0, (e) => e.length >= 4);
  t.same(topics(evs), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  t.equal(evs[1]!.start!.pid, pid);
});

t.test('a signalled init exits 128+signal; kill of a created container is an exit too', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  await s.call('Create', { id, bundle: env.bundle(sh('sleep 100')) });
  await s.call('Start', { id });
  await s.call('Kill', { id, signal: 9 });
  t.equal((await s.call('Wait', { id })).exitStatus, 137);
  const id2 = env.id();
  await s.call('Create', { id: id2, bundle: env.bundle(sh('true')) });
  await s.call('Kill', { id: id2, signal: 9 });
  t.equal((await s.call('Wait', { id: id2 })).exitStatus, 137, 'a created init killed');
  await t.rejects(s.call('Delete', { id: env.id() }), { code: 5 });
  await s.call('Delete', { id });
  await s.call('Delete', { id: id2 });
});

t.test('exec: output, exit code, and the init\'s exit after its exec\'s', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  await s.call('Create', { id, bundle: env.bundle(sh('sleep 100')) });
  await s.call('Start', { id });
  const proc = { ...baseConfig(['sh', '-c', 'echo in-exec; exit 4']).process };
  await s.call('Exec', { id, execId: 'e1', specJson: JSON.stringify(proc) });
  await s.call('Start', { id, execId: 'e1' });
  t.equal((await s.call('Wait', { id, execId: 'e1' })).exitStatus, 4);
  t.equal((await s.output(id, 'e1')).out, 'in-exec\n');
  await s.call('Exec', { id, execId: 'e2', specJson: JSON.stringify(baseConfig(['sleep', '100']).process) });
  await s.call('Start', { id, execId: 'e2' });
  const pids = (await s.call('Pids', { id })).processes;
  t.equal(pids.filter((p: { execId: string }) => p.execId === 'e2').length, 1, 'Pids names the exec');
  await s.call('Kill', { id, signal: 9 });
  await s.call('Wait', { id });
  const evs = await s.events(0, (e) => e.filter((x) => x.topic === '/tasks/exit').length >= 3);
  const exits = evs.filter((e) => e.topic === '/tasks/exit').map((e) => e.exit!.id);
  t.same(exits, ['e1', 'e2', id], 'exits: the execs, then the init');
  await t.rejects(s.call('Exec', { id, execId: 'e3', specJson: '{' }), { code: 9 }, 'no exec in a stopped container');
  await s.call('Delete', { id });
});

t.test('follow: live output until the process exits, then its status', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  await s.call('Create', { id, bundle: env.bundle(sh('echo one; sleep 0.3; echo two; exit 7')) });
  const following = s.output(id, '', true);
  await s.call('Start', { id });
  t.same(await following, { out: 'one\ntwo\n', exitStatus: 7 });
  await s.call('Delete', { id });
});

t.test('the outbox keeps what was not acknowledged', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  await s.call('Create', { id, bundle: env.bundle(sh('exit 0')) });
  await s.call('Start', { id });
  await s.call('Wait', { id });
  const all = await s.events(0, (e) => e.length >= 3);
  t.same(topics(all), ['/tasks/create', '/tasks/start', '/tasks/exit']);
  await s.call('Ack', { seq: 2 });
  t.same(topics(await s.events(0, (e) => e.length >= 1, 500)), ['/tasks/exit'], 'acknowledged events are gone');
  t.same(topics(await s.events(3, () => false, 300)), [], 'nothing after the last');
  await s.call('Delete', { id });
});

t.test('orphans a container leaves are reaped by the shim (a subreaper)', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  const cfg = sh('(sleep 0.2 &); exit 0');
  // No pid namespace: the orphan comes to the shim, not to a container init.
  cfg.linux.namespaces = cfg.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
  await s.call('Create', { id, bundle: env.bundle(cfg) });
  await s.call('Start', { id });
  await s.call('Wait', { id });
  await sleep(1500);
  const zombies = execSync(`ps -o stat= --ppid ${s.pid} || true`).toString().split('\n').filter((l) => l.startsWith('Z'));
  t.same(zombies, [], 'no zombie children of the shim');
  await s.call('Delete', { id });
});

t.test('an OOM kill: TaskOOM, then the exit (137)', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  const cfg = baseConfig(['tail', '/dev/zero']);
  cfg.linux.resources = { memory: { limit: 32 << 20, swap: 32 << 20 } };
  await s.call('Create', { id, bundle: env.bundle(cfg) });
  await s.call('Start', { id });
  t.equal((await s.call('Wait', { id })).exitStatus, 137);
  const evs = await s.events(0, (e) => e.some((x) => x.topic === '/tasks/exit'));
  // One kill, one TaskOOM (v1 may notify more than once for it), before the exit.
  t.same(topics(evs), ['/tasks/create', '/tasks/start', '/tasks/oom', '/tasks/exit']);
  await s.call('Delete', { id });
});

t.test('a terminal: the pty master stays with the shim', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  const cfg = sh('tty; exit 0');
  cfg.process.terminal = true;
  await s.call('Create', { id, bundle: env.bundle(cfg), terminal: true });
  const following = s.output(id, '', true);
  await s.call('Start', { id });
  const got = await following;
  t.match(got.out, /^\/dev\/pts\/\d+\r\n$/, 'a tty inside');
  t.equal(got.exitStatus, 0);
  await s.call('Delete', { id });
});

t.test('exec with a terminal, resized; stats', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  await s.call('Create', { id, bundle: env.bundle(sh('sleep 100')) });
  await s.call('Start', { id });
  const proc = { ...baseConfig(['sh', '-c', 'sleep 0.3; test -t 0 && echo stdin-tty; stty size']).process, terminal: true };
  await s.call('Exec', { id, execId: 't1', terminal: true, specJson: JSON.stringify(proc) });
  const following = s.output(id, 't1', true);
  await s.call('Start', { id, execId: 't1' });
  await s.call('ResizePty', { id, execId: 't1', width: 101, height: 33 });
  t.same(await following, { out: 'stdin-tty\r\n33 101\r\n', exitStatus: 0 });
  const stats = JSON.parse((await s.call('Stats', { id })).statsJson);
  t.ok(stats.pids.current >= 1, 'stats: pids in the cgroup');
  await s.call('Delete', { id, force: true });
});

/** Attach with a create in its first message: every message, in order, or the error. */
function runAttached(s: { client: { Attach(): any } }, first: object): Promise<{ msgs: any[]; error?: any }> {
  const call = s.client.Attach();
  const msgs: any[] = [];
  return new Promise((res) => {
    call.on('data', (m: unknown) => msgs.push(m));
    call.on('end', () => res({ msgs }));
    call.on('error', (error: unknown) => res({ msgs, error }));
    call.write(first);
  });
}

t.test('Attach with create: created, started, attached in one call', async (t) => {
  const { env, s } = await withShim(t);
  const id = env.id();
  const { msgs, error } = await runAttached(s, { logs: true, follow: true, create: { id, bundle: env.bundle(sh('echo ran; exit 5')), start: true } });
  t.equal(error, undefined);
  t.ok(msgs[0].created?.pid > 0, 'the first answer is the pid, before any output');
  t.equal(msgs.slice(1).map((m) => m.stdout.toString()).join(''), 'ran\n', 'then all output, from the start');
  t.same([msgs.at(-1).exited, msgs.at(-1).exitStatus], [true, 5], 'then the exit');
  await s.call('Delete', { id });

  const tty = sh('stty size');
  tty.process.terminal = true;
  const id2 = env.id();
  const sized = await runAttached(s, { logs: true, follow: true, width: 97, height: 31, create: { id: id2, bundle: env.bundle(tty), terminal: true, start: true } });
  t.equal(sized.msgs.slice(1).map((m) => m.stdout.toString()).join(''), '31 97\r\n', 'a terminal has its size from the start');
  await s.call('Delete', { id: id2 });

  const bad = sh('true');
  bad.process.args = ['/no/such/binary'];
  const id3 = env.id();
  const failed = await runAttached(s, { logs: true, follow: true, create: { id: id3, bundle: env.bundle(bad), start: true } });
  t.equal(failed.msgs.length, 0, 'a failed start answers nothing but the error');
  t.match(failed.error, { details: /no\/such\/binary/ });
  await t.rejects(s.call('State', { id: id3 }), { code: 5 }, 'and leaves no container');
  t.same((await s.call('Connect', { id: '' })).ids, [], 'the shim holds nothing');
});

t.test('errors: one line, a gRPC code; Shutdown leaves a shim that still serves', async (t) => {
  const { env, s } = await withShim(t);
  const bad = sh('true');
  bad.process.args = [];
  await t.rejects(s.call('Create', { id: env.id(), bundle: env.bundle(bad) }), { code: 3, details: /^process\.args/ });
  const id = env.id();
  await s.call('Create', { id, bundle: env.bundle(sh('sleep 100')) });
  await t.rejects(s.call('Create', { id, bundle: env.bundle(sh('true')) }), { code: 6 });
  await s.call('Start', { id });
  await t.rejects(s.call('Delete', { id }), { code: 9 }, 'running: needs force');
  await s.call('Shutdown', { now: false });
  await sleep(200);
  t.ok(s.alive(), 'still serving a container');
  t.same((await s.call('Connect', { id: '' })).ids, [id]);
  await s.call('Delete', { id, force: true });
  await s.call('Shutdown', { now: false });
  for (let i = 0; i < 100 && s.alive(); i++) await sleep(20);
  t.notOk(s.alive(), 'exits when it serves nothing');
});

// make soak runs 1000 (SHIM_CYCLES); make test 100.
t.test('cycles on one shim leave no fd, zombie or memory growth', async (t) => {
  const { env, s } = await withShim(t);
  const cycles = Number(process.env['SHIM_CYCLES'] ?? 100);
  const bundle = env.bundle(sh('echo hi'));
  const fds = () => readdirSync(`/proc/${s.pid}/fd`).length;
  const rssKiB = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))?.[1]);
  let seq = 0;
  const cycle = async (i: number) => {
    const id = `${env.id()}-${i}`;
    await s.call('Create', { id, bundle });
    await s.call('Start', { id });
    await s.call('Wait', { id });
    await s.call('Delete', { id });
    // As runtsd does: delivered events leave the outbox.
    await s.call('Ack', { seq: (seq += 4) });
  };
  // Warm up: lazily loaded code and the heap V8 settles on are not leaks.
  const warm = Math.min(100, Math.floor(cycles / 5));
  for (let i = 0; i < warm; i++) await cycle(i);
  const fd0 = fds();
  const rss0 = rssKiB();
  for (let i = warm; i < cycles; i++) await cycle(i);
  await sleep(1500);
  t.equal(fds(), fd0, `shim fds after ${cycles} cycles`);
  // V8 may fill its old generation before collecting; the launcher caps it at 64 MiB,
  // so a real leak ends the shim or passes the bound.
  const rss = rssKiB();
  t.ok(rss < 128 * 1024, `shim RSS ${(rss / 1024).toFixed(1)} MiB after ${cycles} cycles, ${((rss - rss0) / 1024).toFixed(1)} MiB more than after warm-up (bound 128 MiB)`);
  t.ok(s.alive(), 'the shim is alive');
  const zombies = execSync(`ps -o stat= --ppid ${s.pid} || true`).toString().split('\n').filter(Boolean);
  t.same(zombies, [], 'no children left');
  t.same((await s.call('Connect', { id: '' })).ids, [], 'serves nothing');
});

t.test('a grouped shim never stalls: a 5 s createRuntime hook does not hold up another container', async (t) => {
  const { env, s } = await withShim(t);
  const a = env.id();
  await s.call('Create', { id: a, bundle: env.bundle(sh('sleep 100')), start: true });
  const slow = env.id();
  const config = sh('true');
  config.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '5'] }] };
  const creating = s.call('Create', { id: slow, bundle: env.bundle(config) });
  await sleep(300);
  const timed = async (what: string, fn: () => Promise<unknown>) => {
    const t0 = Date.now();
    await fn();
    return [what, Date.now() - t0] as const;
  };
  const took = [
    await timed('State', () => s.call('State', { id: a })),
    await timed('Exec', async () => {
      await s.call('Exec', { id: a, execId: 'e1', specJson: JSON.stringify(baseConfig(['true']).process) });
      await s.call('Start', { id: a, execId: 'e1' });
    }),
    await timed('Kill', () => s.call('Kill', { id: a, signal: 9 })),
  ];
  for (const [what, ms] of took) t.ok(ms < 100, `${what} answered in ${ms} ms while the other create waits for its hook`);
  t.ok((await creating).pid > 0, 'the slow create finishes');
  await s.call('Wait', { id: a });
  await s.call('Delete', { id: a });
  await s.call('Delete', { id: slow, force: true });
});

t.test('a grouped shim never stalls: a 2 s startContainer hook does not hold up another container', async (t) => {
  const { env, s } = await withShim(t);
  const a = env.id();
  await s.call('Create', { id: a, bundle: env.bundle(sh('sleep 100')), start: true });
  const slow = env.id();
  const config = sh('true');
  config.hooks = { startContainer: [{ path: '/bin/sleep', args: ['sleep', '2'] }] };
  await s.call('Create', { id: slow, bundle: env.bundle(config) });
  const starting = s.call('Start', { id: slow });
  await sleep(300);
  const t0 = Date.now();
  await s.call('State', { id: a });
  const ms = Date.now() - t0;
  t.ok(ms < 100, `State answered in ${ms} ms while the other start waits for its hook`);
  t.ok((await starting).pid > 0, 'the slow start finishes');
  await s.call('Kill', { id: a, signal: 9 });
  await s.call('Wait', { id: a });
  await s.call('Delete', { id: a });
  await s.call('Wait', { id: slow });
  await s.call('Delete', { id: slow });
});
