// containerd 1.6 (private daemon) + ctr driving RUNTIME through the runc v2 shim.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Engine, RUNTIME, ensurePackages, ociArchive, onPty, sh, waitFor, type Result, containerdConfig, ctrPsPauseResume, ctrTaskStatus } from './lib';

const skip = ensurePackages(['containerd']);
if (skip) {
  t.plan(0, `containerd unavailable: ${skip}`);
} else {
  main();
}

function main(): void {
  const e = new Engine(t, 'containerd');
  const ns = e.tag;
  const sock = e.path('containerd.sock');
  // The shim keeps runtime state here and its sockets under /run/containerd/s
  // whatever we configure; ctr's fifos go to our dir.
  const runtimeRoot = `/run/containerd/runc/${ns}`;
  e.tidyDirs(['/run/containerd', '/run/containerd/runc', '/run/containerd/s', '/run/containerd/fifo', runtimeRoot]);
  writeFileSync(e.path('config.toml'), containerdConfig(e, sock));
  const IMG = 'localhost/runts-busybox:latest';
  const ctr = (...args: string[]): Result => sh('ctr', ['--address', sock, '-n', ns, ...args], { timeoutMs: 60_000 });
  const runFlags = ['--snapshotter', 'native', '--runc-binary', e.runtime, '--fifo-dir', e.path('fifo')];
  const why = (r: Result) => e.evidence(r);
  const taskStatus = (id: string) => ctrTaskStatus(ctr, id);

  // Tasks and containers go through containerd first; the Engine then stops
  // the daemon and kills any shim left (they name our socket on their command line).
  e.onCleanup(() => {
    for (const id of ctr('task', 'ls', '-q').stdout.split('\n').filter(Boolean)) {
      ctr('task', 'kill', '-a', '-s', 'SIGKILL', id);
      ctr('task', 'delete', '-f', id);
    }
    for (const id of ctr('container', 'ls', '-q').stdout.split('\n').filter(Boolean)) ctr('container', 'delete', id);
  });

  t.before(async () => {
    e.daemon('containerd', ['--config', e.path('config.toml')], e.path('containerd.log'));
    await waitFor('containerd to serve', () => existsSync(sock) && ctr('version').code === 0, 20_000)
      .catch((err) => { throw new Error(`${err}\n${readFileSync(e.path('containerd.log'), 'utf8').slice(-2000)}`); });
    const r = ctr('image', 'import', '--snapshotter', 'native', '--base-name', 'localhost/runts-busybox', ociArchive(IMG));
    if (r.code !== 0) throw new Error(`ctr image import: ${r.stderr}`);
  });


  t.test('run --rm: output and exit 0', async (t) => {
    const r = ctr('run', '--rm', ...runFlags, IMG, 'r1', 'echo', 'hello');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'hello\n', 'output', why(r));
  });

  t.test('run --rm: a failing command\'s exit code', async (t) => {
    const r = ctr('run', '--rm', ...runFlags, IMG, 'r2', 'sh', '-c', 'exit 3');
    t.equal(r.code, 3, 'exit code', why(r));
  });

  t.test('run: the runtime\'s error for a nonexistent command', async (t) => {
    const r = ctr('run', '--rm', ...runFlags, IMG, 'r3', '/nonexistent');
    t.not(r.code, 0, 'fails', why(r));
    t.match(r.stderr, /\/nonexistent/, 'the runtime\'s error (from log.json) names the command', why(r));
    ctr('container', 'delete', 'r3');
  });

  t.test('run -t: a terminal', async (t) => {
    const r = onPty(['ctr', '--address', sock, '-n', ns, 'run', '--rm', '-t', ...runFlags, IMG, 'r4', 'sh', '-c', 'tty; exit 7']);
    t.equal(r.code, 7, 'exit code', why(r));
    t.match(r.stdout, /\/dev\/pts\/\d+/, 'output', why(r));
  });

  t.test('run -d', async (t) => {
    const r = ctr('run', '-d', ...runFlags, IMG, 'd1', 'sleep', '1000');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(taskStatus('d1'), 'RUNNING');
    t.ok(existsSync(`${runtimeRoot}/d1`), 'the runtime state is under the --root containerd passed');
  });

  t.test('exec: output and exit code', async (t) => {
    const r = ctr('task', 'exec', '--fifo-dir', e.path('fifo'), '--exec-id', 'e1', 'd1', 'sh', '-c', 'echo in-exec; exit 4');
    t.equal(r.code, 4, 'exit code', why(r));
    t.equal(r.stdout, 'in-exec\n', 'output', why(r));
  });

  t.test('exec: the runtime\'s error for a nonexistent command', async (t) => {
    const r = ctr('task', 'exec', '--fifo-dir', e.path('fifo'), '--exec-id', 'e2', 'd1', '/nonexistent');
    t.not(r.code, 0, 'fails', why(r));
    t.match(r.stderr, /\/nonexistent/, 'the runtime\'s error names the command', why(r));
    t.equal(taskStatus('d1'), 'RUNNING', 'the container is unaffected');
  });

  t.test('exec -t: a terminal', async (t) => {
    const r = onPty(['ctr', '--address', sock, '-n', ns, 'task', 'exec', '-t', '--fifo-dir', e.path('fifo'), '--exec-id', 'e3', 'd1', 'sh', '-c', 'tty; exit 6']);
    t.equal(r.code, 6, 'exit code', why(r));
    t.match(r.stdout, /\/dev\/pts\/\d+/, 'output', why(r));
  });

  ctrPsPauseResume(t, ctr, why, 'd1', e.path('fifo'));

  t.test('exec after resume', async (t) => {
    const r = ctr('task', 'exec', '--fifo-dir', e.path('fifo'), '--exec-id', 'e4', 'd1', 'true');
    t.equal(r.code, 0, 'exec after resume', why(r));
  });

  t.test('metrics', async (t) => {
    const r = ctr('task', 'metrics', 'd1');
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /memory\.usage_in_bytes\s+[1-9]\d*/, 'memory usage', why(r));
  });

  t.test('kill', async (t) => {
    const r = ctr('task', 'kill', '-s', 'SIGKILL', 'd1');
    t.equal(r.code, 0, 'exit code', why(r));
    await waitFor('STOPPED', () => taskStatus('d1') === 'STOPPED', 10_000).catch(() => undefined);
    t.equal(taskStatus('d1'), 'STOPPED');
  });

  // containerd's CRI sends one more kill after an exit; the shim takes the runtime's
  // "container not running" as already gone (checkKillError), any other words as a failure.
  t.test('a kill after the exit: already gone, not an unknown error', async (t) => {
    const r = ctr('task', 'kill', '-s', 'SIGKILL', 'd1');
    t.match(r.stderr, /process already finished: not found/, 'containerd read the runtime\'s words', why(r));
    t.notMatch(r.stderr, /unknown error after kill/, why(r));
  });

  t.test('delete: task and container, runtime state and cgroup gone', async (t) => {
    let r = ctr('task', 'delete', 'd1');
    t.equal(r.code, 0, 'task delete', why(r));
    t.match(r.stderr, /exit code 137/, 'reports 128+SIGKILL', why(r));
    r = ctr('container', 'delete', 'd1');
    t.equal(r.code, 0, 'container delete', why(r));
    t.notOk(existsSync(`${runtimeRoot}/d1`), 'runtime state removed');
    t.notOk(existsSync(`/sys/fs/cgroup/memory/${ns}/d1`), 'cgroup removed');
  });

  t.test('runtime under test', async (t) => {
    t.pass(`RUNTIME=${RUNTIME}`);
  });
}
