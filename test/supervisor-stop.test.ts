// runtsd stopped with SIGTERM (what systemd sends, KillMode=process): its
// warm shims, which serve no container, stop and their dirs go; containers
// and the shims serving them keep running for the next runtsd. Real runtsd,
// real shims, a private state dir and socket per test (needs root).
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Env, baseConfig } from './lib/harness';
import { Supervisor, readText } from './lib/supervisor';

t.setTimeout(5 * 60 * 1000);

const alive = (pid: number) => pid > 0 && existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(readText(`/proc/${pid}/stat`));
/** Pids of the shims under this runtsd's state dir, found by their command lines. */
const shimProcs = (sv: Supervisor) =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && readText(`/proc/${p}/cmdline`).includes(join(sv.state, 'shims') + '/'))
    .map(Number)
    .filter(alive);
const warmDirs = (sv: Supervisor) => sv.allShimDirs().filter((d) => existsSync(join(d, 'warm')));
const staging = (sv: Supervisor) => (existsSync(sv.state) ? readdirSync(sv.state).filter((n) => n.startsWith('.warm-')) : []);

t.test('SIGTERM stops the warm shim and removes its dir; the container and its shim keep running', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const warmPid = () => Number(readText(join(warmDirs(sv)[0] ?? '/nonexistent', 'shim.pid')));
  t.ok(await sv.until(() => warmPid() > 0), 'a warm shim waits');
  const id = env.id('stop');
  const run = sv.runDetached(id, env.bundle(baseConfig(['sleep', '1000'])));
  t.equal(run.code, 0, run.stderr);
  const before = sv.inspect(id);
  t.ok(await sv.until(() => warmPid() > 0 && warmPid() !== before.shimPid), 'another warm shim replaces the one taken');
  const warm = warmPid();
  const warmDir = warmDirs(sv)[0]!;

  t.equal(await sv.stop('SIGTERM'), 0, 'runtsd exits 0');
  t.notOk(alive(warm), 'the warm shim is stopped');
  t.notOk(existsSync(warmDir), 'its dir is removed');
  t.same(warmDirs(sv), [], 'no warm dir is left');
  t.same(staging(sv), [], 'nor a staging dir');
  t.same(shimProcs(sv), [before.shimPid], "only the container's shim runs");
  t.ok(alive(before.pid), 'the container runs');
  t.same(sv.shimDirs().length, 1, "its shim's dir stays");

  await sv.start();
  t.match(sv.inspect(id), { status: 'running', pid: before.pid, shimPid: before.shimPid }, 'the next runtsd finds it running');
  t.equal(sv.ctl(['rm', '-f', id]).code, 0);
});

t.test('SIGTERM right after start stops the warm shim too, booted or still booting', async (t) => {
  const sv = new Supervisor(t);
  await sv.start();
  // start() returns once runtsd answers, often before its warm shim has booted.
  t.equal(await sv.stop('SIGTERM'), 0, 'runtsd exits 0');
  t.same(shimProcs(sv), [], 'no shim runs');
  t.same(sv.allShimDirs(), [], 'no shim dir is left');
  t.same(staging(sv), [], 'nor a staging dir');
});

t.test("a warm shim that fails to boot leaves no dir; runtsd still stops cleanly", async (t) => {
  const sv = new Supervisor(t);
  await sv.start([], ['--shim', '/bin/false']);
  t.ok(await sv.until(() => /warm shim: runts-shim failed/.test(sv.log())), 'the failure is logged');
  t.same(sv.allShimDirs(), [], 'its dir is removed');
  t.equal(await sv.stop('SIGTERM'), 0, 'runtsd exits 0');
  t.same(staging(sv), [], 'no staging dir');
});
