// containerd 1.6 (private daemon) + ctr with runts-shim as its runtime v2 shim:
// `--runtime io.containerd.runts.v1` finds containerd-shim-runts-v1 on the
// daemon's PATH (ours only), which serves the task API over ttrpc in process.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codec } from '../../packages/proto/src/light';
import { TtrpcClient } from '../../packages/proto/src/ttrpc';
import { SHIM_ROOT, warmSocket } from '../../packages/shim/src/warm';
import { Engine, TOP, ensurePackages, groupShimPid, groupSocket, ociArchive, onPty, sh, sleep, waitFor, type Result, containerdConfig, ctrPsPauseResume, ctrTaskStatus } from './lib';

const skip = ensurePackages(['containerd']);
const SHIM = join(TOP, 'bin', 'containerd-shim-runts-v1');
if (skip) {
  t.plan(0, `containerd unavailable: ${skip}`);
} else if (!existsSync(SHIM)) {
  t.plan(0, `${SHIM} missing: make build`);
} else {
  main();
}

function main(): void {
  const e = new Engine(t, 'ctdshim');
  const ns = e.tag;
  const sock = e.path('containerd.sock');
  const runtimeRoot = `/run/containerd/runts/${ns}`;
  e.tidyDirs(['/run/containerd', '/run/containerd/s', '/run/containerd/runts', runtimeRoot, '/run/containerd/runts-shim', '/run/containerd/fifo']);
  // The shim is found on containerd's PATH: a dir holding only its name.
  const binDir = e.path('bin');
  mkdirSync(binDir);
  symlinkSync(SHIM, join(binDir, 'containerd-shim-runts-v1'));
  writeFileSync(e.path('config.toml'), containerdConfig(e, sock));
  const IMG = 'localhost/runts-busybox:latest';
  const ctr = (...args: string[]): Result => sh('ctr', ['--address', sock, '-n', ns, ...args], { timeoutMs: 60_000 });
  const runFlags = ['--runtime', 'io.containerd.runts.v1', '--snapshotter', 'overlayfs', '--fifo-dir', e.path('fifo')];
  const logTail = () => (existsSync(e.path('containerd.log')) ? readFileSync(e.path('containerd.log'), 'utf8').split('\n').filter((l) => /shim|runts|error/i.test(l)).slice(-15).join('\n') : '');
  const why = (r: Result) => ({ ...e.evidence(r), containerdLog: logTail() });
  const taskStatus = (id: string) => ctrTaskStatus(ctr, id);
  const cmdline = (p: string) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  /** Our shim processes: their command lines name our containerd's socket. */
  const ours = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    const cmd = cmdline(p);
    return cmd.includes('containerd-shim-runts-v1') && cmd.includes(sock);
  });
  const socketOf = (group: string) => groupSocket(sock, ns, group);
  const shimOf = (group: string) => groupShimPid(sock, ns, group);
  const residents = () => new Set(readdirSync(SHIM_ROOT).map((d) => {
    try {
      return readFileSync(join(SHIM_ROOT, d, 'shim.pid'), 'utf8');
    } catch {
      return '';
    }
  }));
  /** Warm spares (warm.ts): ours, started as `warm`, serving no group. */
  const spares = () => {
    const r = residents();
    return ours().filter((p) => cmdline(p).endsWith('\0warm\0') && !r.has(p));
  };
  /** Shims that serve tasks. */
  const shims = () => {
    const w = new Set(spares());
    return ours().filter((p) => !w.has(p));
  };
  const ids: string[] = [];

  e.onCleanup(() => {
    for (const id of ctr('task', 'ls', '-q').stdout.split('\n').filter(Boolean)) {
      ctr('task', 'kill', '-a', '-s', 'SIGKILL', id);
      ctr('task', 'delete', '-f', id);
    }
    for (const id of ctr('container', 'ls', '-q').stdout.split('\n').filter(Boolean)) ctr('container', 'delete', id);
  });

  let daemon: ReturnType<Engine['daemon']> | undefined;
  const startContainerd = () => {
    daemon = e.daemon('containerd', ['--config', e.path('config.toml')], e.path('containerd.log'), { ...process.env, PATH: `${binDir}:${process.env['PATH']}` });
  };
  t.before(async () => {
    startContainerd();
    await waitFor('containerd to serve', () => existsSync(sock) && ctr('version').code === 0, 20_000)
      .catch((err) => { throw new Error(`${err}\n${readFileSync(e.path('containerd.log'), 'utf8').slice(-2000)}`); });
    const r = ctr('image', 'import', '--snapshotter', 'overlayfs', '--base-name', 'localhost/runts-busybox', ociArchive(IMG));
    if (r.code !== 0) throw new Error(`ctr image import: ${r.stderr}`);
  });

  const run = (id: string, ...args: string[]) => {
    ids.push(id);
    return ctr('run', ...runFlags, ...args.slice(0, args.indexOf('--')), IMG, id, ...args.slice(args.indexOf('--') + 1));
  };

  t.test('run --rm: output and exit 0', async (t) => {
    const r = run('r1', '--rm', '--', 'echo', 'hello');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'hello\n', 'output', why(r));
  });

  t.test('run --rm: exit code and stderr', async (t) => {
    const r = run('r2', '--rm', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3');
    t.equal(r.code, 3, 'exit code', why(r));
    t.equal(r.stdout, 'out\n', 'stdout', why(r));
    t.match(r.stderr, /^err$/m, 'stderr', why(r));
  });

  t.test('run --rm: env', async (t) => {
    const r = run('r3', '--rm', '--env', 'FOO=bar', '--', 'sh', '-c', 'echo $FOO $(id -u)');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'bar 0\n', 'output', why(r));
  });

  t.test('run: a nonexistent command fails with the runtime\'s error, leaving nothing', async (t) => {
    const r = run('f1', '--rm', '--', '/nonexistent');
    t.not(r.code, 0, 'fails', why(r));
    t.match(r.stderr, /\/nonexistent/, 'the error names the command', why(r));
    ctr('container', 'delete', 'f1');
    await waitFor('its shim to exit', () => !existsSync(socketOf('f1')), 5000).catch(() => undefined);
    t.notOk(existsSync(socketOf('f1')), 'no shim socket');
    t.notOk(existsSync(`${runtimeRoot}/f1`), 'no runtime state');
    t.same(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(e.dir) && l.includes('f1')), [], 'no rootfs mount');
  });

  t.test('events: create, start, exit, delete in order, from the shim', async (t) => {
    const events = spawn('ctr', ['--address', sock, '-n', ns, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    events.stdout.on('data', (b: Buffer) => (out += b.toString()));
    t.teardown(() => void events.kill());
    await sleep(300);
    const r = run('ev1', '--rm', '--', 'sh', '-c', 'exit 5');
    t.equal(r.code, 5, 'exit code', why(r));
    await waitFor('/tasks/delete', () => /\/tasks\/delete.*ev1/.test(out), 5000).catch(() => undefined);
    const topics = out.split('\n').filter((l) => l.includes('"ev1"') && l.includes('/tasks/')).map((l) => /\/tasks\/\S+/.exec(l)![0]);
    t.same(topics, ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'], 'topics', { out });
    t.match(out, /\/tasks\/exit.*"exit_status":5/, 'the exit status in TaskExit', { out });
  });

  t.test('run --log-uri binary://: the logger gets stdout on fd 3, stderr on fd 4, the id and namespace', async (t) => {
    const logger = e.path('logger.sh');
    const out = e.path('logged');
    mkdirSync(out);
    writeFileSync(logger, `#!/bin/sh\ncat <&3 > "$1/$CONTAINER_ID.out" & cat <&4 > "$1/$CONTAINER_ID.err" &\necho "$CONTAINER_NAMESPACE" > "$1/$CONTAINER_ID.ns"\nprintf x >&5\nexec 5>&-\nwait\n`, { mode: 0o755 });
    const r = run('l1', '--rm', '--log-uri', `binary://${logger}?${out}`, '--', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 2');
    t.equal(r.code, 2, 'exit code', why(r));
    await waitFor('the logger to finish', () => existsSync(`${out}/l1.err`) && readFileSync(`${out}/l1.err`, 'utf8') !== '', 5000).catch(() => undefined);
    t.equal(readFileSync(`${out}/l1.out`, 'utf8'), 'to-out\n', 'stdout');
    t.equal(readFileSync(`${out}/l1.err`, 'utf8'), 'to-err\n', 'stderr');
    t.equal(readFileSync(`${out}/l1.ns`, 'utf8'), `${ns}\n`, 'CONTAINER_NAMESPACE');
  });

  t.test('run -t: a terminal', async (t) => {
    ids.push('t1');
    const r = onPty(['ctr', '--address', sock, '-n', ns, 'run', '--rm', '-t', ...runFlags, IMG, 't1', 'sh', '-c', 'tty; exit 7']);
    t.equal(r.code, 7, 'exit code', why(r));
    t.match(r.stdout, /\/dev\/pts\/\d+/, 'output', why(r));
  });

  t.test('run -d: a task served by our shim', async (t) => {
    const r = run('d1', '-d', '--', 'sleep', '1000');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(taskStatus('d1'), 'RUNNING');
    t.equal(shims().length, 1, 'one containerd-shim-runts-v1 for our containerd');
    t.ok(existsSync(socketOf('d1')), 'its socket, named as containerd names it');
    t.ok(existsSync(`${runtimeRoot}/d1`), 'the runtime state under the namespace\'s root');
  });

  t.test('exec: output and exit code', async (t) => {
    const r = ctr('task', 'exec', '--fifo-dir', e.path('fifo'), '--exec-id', 'e1', 'd1', 'sh', '-c', 'echo in-exec; exit 4');
    t.equal(r.code, 4, 'exit code', why(r));
    t.equal(r.stdout, 'in-exec\n', 'output', why(r));
  });

  t.test('exec: a nonexistent command fails with the runtime\'s error; the task is unaffected', async (t) => {
    const r = ctr('task', 'exec', '--fifo-dir', e.path('fifo'), '--exec-id', 'e2', 'd1', '/nonexistent');
    t.not(r.code, 0, 'fails', why(r));
    t.match(r.stderr, /\/nonexistent/, 'the error names the command', why(r));
    t.equal(taskStatus('d1'), 'RUNNING');
  });

  t.test('exec -t: a terminal', async (t) => {
    const r = onPty(['ctr', '--address', sock, '-n', ns, 'task', 'exec', '-t', '--fifo-dir', e.path('fifo'), '--exec-id', 'e3', 'd1', 'sh', '-c', 'tty; exit 6']);
    t.equal(r.code, 6, 'exit code', why(r));
    t.match(r.stdout, /\/dev\/pts\/\d+/, 'output', why(r));
  });

  t.test('exec: stdin reaches the process and its close ends it', async (t) => {
    const r = sh('sh', ['-c', `echo piped | ctr --address '${sock}' -n '${ns}' task exec --fifo-dir '${e.path('fifo')}' --exec-id e4 d1 cat`], { timeoutMs: 20_000 });
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'piped\n', 'output', why(r));
  });

  t.test('Update (no ctr command in 1.6): LinuxResources in the Any reach the cgroup', async (t) => {
    const c = await TtrpcClient.connect(socketOf('d1'));
    t.teardown(() => c.close());
    const value = Buffer.from(JSON.stringify({ memory: { limit: 64 << 20 } }));
    await c.call('containerd.task.v2.Task', 'Update', { id: 'd1', resources: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value } }, { metadata: { 'containerd-namespace-ttrpc': ns } });
    t.equal(readFileSync(`/sys/fs/cgroup/memory/${ns}/d1/memory.limit_in_bytes`, 'utf8').trim(), String(64 << 20));
  });

  ctrPsPauseResume(t, ctr, why, 'd1', e.path('fifo'));

  t.test('metrics', async (t) => {
    const r = ctr('task', 'metrics', 'd1');
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /memory\.usage_in_bytes\s+[1-9]\d*/, 'memory usage', why(r));
  });

  t.test('checkpoint: one clear sentence', async (t) => {
    const r = ctr('task', 'checkpoint', 'd1');
    t.not(r.code, 0, 'fails', why(r));
    t.match(r.stderr, /checkpoint is not supported/, 'says why', why(r));
    t.equal(taskStatus('d1'), 'RUNNING', 'the task is unaffected');
  });

  t.test('two containers with one sandbox-id share a shim', async (t) => {
    const before = shims().length;
    for (const id of ['p1', 'p2']) {
      const r = run(id, '-d', '--annotation', 'io.kubernetes.cri.sandbox-id=pod1', '--', 'sleep', '1000');
      t.equal(r.code, 0, `run ${id}`, why(r));
    }
    t.equal(shims().length, before + 1, 'one more shim');
    t.ok(existsSync(socketOf('pod1')), 'the socket is the group\'s');
    t.equal(taskStatus('p1'), 'RUNNING');
    t.equal(taskStatus('p2'), 'RUNNING');
    for (const id of ['p1', 'p2']) {
      ctr('task', 'kill', '-s', 'SIGKILL', id);
      await waitFor(`${id} STOPPED`, () => taskStatus(id) === 'STOPPED', 10_000).catch(() => undefined);
      const r = ctr('task', 'delete', id);
      t.equal(r.code, 0, `task delete ${id}`, why(r));
      ctr('container', 'delete', id);
    }
    await waitFor('the group shim to exit', () => shims().length === before, 10_000).catch(() => undefined);
    t.equal(shims().length, before, 'the group shim exits with its last container');
  });

  t.test('concurrent starts of one group: one shim serves both', async (t) => {
    const before = shims().length;
    const runAsync = (id: string) => new Promise<number>((res) => {
      ids.push(id);
      const c = spawn('ctr', ['--address', sock, '-n', ns, 'run', '-d', ...runFlags, '--annotation', 'io.kubernetes.cri.sandbox-id=pod2', IMG, id, 'sleep', '1000'], { stdio: 'ignore' });
      c.on('exit', (code) => res(code ?? 128));
    });
    const codes = await Promise.all(['q1', 'q2', 'q3'].map(runAsync));
    t.same(codes, [0, 0, 0], 'all three run');
    // The residents that lost the bind are on their way out.
    await waitFor('one shim left', () => shims().length === before + 1, 3000).catch(() => undefined);
    t.equal(shims().length, before + 1, 'one more shim');
    for (const id of ['q1', 'q2', 'q3']) t.equal(taskStatus(id), 'RUNNING', `${id} running`);
    for (const id of ['q1', 'q2', 'q3']) {
      ctr('task', 'kill', '-s', 'SIGKILL', id);
      await waitFor(`${id} STOPPED`, () => taskStatus(id) === 'STOPPED', 10_000).catch(() => undefined);
      ctr('task', 'delete', id);
      ctr('container', 'delete', id);
    }
  });

  t.test('the shim killed with -9: containerd sees the exit, delete cleans up', async (t) => {
    const r = run('k1', '-d', '--', 'sleep', '1000');
    t.equal(r.code, 0, 'run', why(r));
    const shimPid = shimOf('k1');
    t.ok(shimPid, 'k1\'s shim');
    process.kill(Number(shimPid), 'SIGKILL');
    await waitFor('k1 gone or stopped', () => ['STOPPED', '(none)'].includes(taskStatus('k1')), 10_000).catch(() => undefined);
    t.match(taskStatus('k1'), /STOPPED|\(none\)/, 'containerd no longer runs it');
    ctr('task', 'delete', 'k1');
    const d = ctr('container', 'delete', 'k1');
    t.equal(d.code, 0, 'container delete', why(d));
    // containerd runs the delete action on its own after the disconnect.
    await waitFor('runtime state and socket gone', () => !existsSync(`${runtimeRoot}/k1`) && !existsSync(socketOf('k1')), 5000).catch(() => undefined);
    t.notOk(existsSync(`${runtimeRoot}/k1`), 'the delete action removed the runtime state (and killed the container)');
    t.notOk(existsSync(socketOf('k1')), 'and the dead shim\'s socket');
  });

  t.test('containerd killed with -9 and restarted: tasks keep running, later exits reach it', async (t) => {
    const r = run('c1', '-d', '--', 'sleep', '1000');
    t.equal(r.code, 0, 'run', why(r));
    const r2 = run('c2', '-d', '--', 'sh', '-c', 'sleep 2; exit 9');
    t.equal(r2.code, 0, 'run', why(r2));
    process.kill(daemon!.pid!, 'SIGKILL');
    await waitFor('containerd to die', () => ctr('version').code !== 0, 10_000).catch(() => undefined);
    // c2 exits while containerd is down: its shim cannot publish, and its log fifo has no reader.
    await sleep(3000);
    startContainerd();
    await waitFor('containerd to serve again', () => ctr('version').code === 0, 20_000).catch(() => undefined);
    t.equal(taskStatus('c1'), 'RUNNING', 'still running, as containerd sees it');
    t.equal(taskStatus('d1'), 'RUNNING', 'and the earlier one');
    await waitFor('c2 STOPPED', () => taskStatus('c2') === 'STOPPED', 10_000).catch(() => undefined);
    t.equal(taskStatus('c2'), 'STOPPED', 'an exit while containerd was down reaches it');
    const d2 = ctr('task', 'delete', 'c2');
    t.match(d2.stderr, /exit code 9/, 'with its exit code', why(d2));
    t.equal(ctr('container', 'delete', 'c2').code, 0, 'container delete');
    const k = ctr('task', 'kill', '-s', 'SIGKILL', 'c1');
    t.equal(k.code, 0, 'kill after the restart', why(k));
    await waitFor('c1 STOPPED', () => taskStatus('c1') === 'STOPPED', 10_000).catch(() => undefined);
    t.equal(taskStatus('c1'), 'STOPPED', 'its exit reached the new containerd');
    t.equal(ctr('task', 'delete', 'c1').code, 0, 'task delete');
    t.equal(ctr('container', 'delete', 'c1').code, 0, 'container delete');
  });

  t.test('an OOM kill: a /tasks/oom event and exit 137', async (t) => {
    const events = spawn('ctr', ['--address', sock, '-n', ns, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    events.stdout.on('data', (b: Buffer) => (out += b.toString()));
    t.teardown(() => void events.kill());
    await sleep(300);
    const r = run('o1', '--rm', '--memory-limit', String(32 << 20), '--', 'sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done');
    t.equal(r.code, 137, 'exit code', why(r));
    await waitFor('/tasks/oom', () => /\/tasks\/oom.*o1/.test(out), 5000).catch(() => undefined);
    t.match(out, /\/tasks\/oom.*"o1"/, 'TaskOOM', { out });
  });

  t.test('delete action: idempotent, a DeleteResponse on stdout', async (t) => {
    const bundle = e.path('nobundle');
    mkdirSync(bundle);
    for (const n of [1, 2]) {
      const r = spawnSync(SHIM, ['-namespace', ns, '-address', sock, '-publish-binary', '/bin/false', '-id', 'gone', '-bundle', bundle, 'delete'], { timeout: 20_000 });
      t.equal(r.status, 0, `run ${n}`, { stderr: r.stderr?.toString() });
      t.match(codec('containerd.task.v2.DeleteResponse').decode(r.stdout), { exitStatus: 137 }, `run ${n}: the response decodes`);
    }
  });

  t.test('the warm spare becomes the next task\'s shim, and a new spare follows', async (t) => {
    await waitFor('a warm spare', () => spares().length === 1, 10_000).catch(() => undefined);
    const [spare] = spares();
    t.ok(spare, 'a warm spare serves our containerd', { ours: ours().map(cmdline) });
    const st = statSync(warmSocket(sock));
    t.equal(st.mode & 0o777, 0o600, 'its socket is root\'s only');
    t.equal(statSync(SHIM_ROOT).mode & 0o777, 0o700, 'in a dir only root can use');
    const r = run('w1', '-d', '--', 'sleep', '1000');
    t.equal(r.code, 0, 'run', why(r));
    t.equal(shimOf('w1'), spare, 'the spare serves w1');
    await waitFor('a new spare', () => spares().some((p) => p !== spare), 10_000).catch(() => undefined);
    t.ok(spares().some((p) => p !== spare), 'a new spare took its place');
    ctr('task', 'kill', '-s', 'SIGKILL', 'w1');
    await waitFor('w1 STOPPED', () => taskStatus('w1') === 'STOPPED', 10_000).catch(() => undefined);
    t.equal(ctr('task', 'delete', 'w1').code, 0, 'task delete');
    t.equal(ctr('container', 'delete', 'w1').code, 0, 'container delete');
  });

  t.test('kill', async (t) => {
    const r = ctr('task', 'kill', '-s', 'SIGKILL', 'd1');
    t.equal(r.code, 0, 'exit code', why(r));
    await waitFor('STOPPED', () => taskStatus('d1') === 'STOPPED', 10_000).catch(() => undefined);
    t.equal(taskStatus('d1'), 'STOPPED');
  });

  t.test('delete: task and container, runtime state, cgroup and rootfs mount gone', async (t) => {
    let r = ctr('task', 'delete', 'd1');
    t.equal(r.code, 0, 'task delete', why(r));
    t.match(r.stderr, /exit code 137/, 'reports 128+SIGKILL', why(r));
    r = ctr('container', 'delete', 'd1');
    t.equal(r.code, 0, 'container delete', why(r));
    t.notOk(existsSync(`${runtimeRoot}/d1`), 'runtime state removed');
    t.notOk(existsSync(`/sys/fs/cgroup/memory/${ns}/d1`), 'cgroup removed');
  });

  t.test('nothing left: no shim, mount, socket or cgroup', async (t) => {
    await waitFor('the shims to exit', () => shims().length === 0, 10_000).catch(() => undefined);
    t.same(shims(), [], 'no shim process', { containerdLog: logTail() });
    // A spare whose name a newer one took leaves within its next watch tick (200 ms).
    await waitFor('at most one warm spare', () => spares().length <= 1, 5000).catch(() => undefined);
    t.ok(spares().length <= 1, 'at most one warm spare', { spares: spares().map(cmdline) });
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(e.dir));
    t.same(mounts, [], 'no mount under our containerd\'s dirs');
    t.same(ids.filter((id) => existsSync(socketOf(id))), [], 'no shim socket');
    const cg = `/sys/fs/cgroup/memory/${ns}`;
    t.same(existsSync(cg) ? readdirSync(cg, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [], [], 'no container cgroup');
    t.notOk(existsSync(runtimeRoot) && readdirSync(runtimeRoot).length > 0, 'no runtime state');
  });

  t.test('the warm spare leaves with its containerd', async (t) => {
    process.kill(daemon!.pid!, 'SIGTERM');
    await waitFor('containerd to stop', () => ctr('version').code !== 0, 15_000).catch(() => undefined);
    await waitFor('no spare', () => spares().length === 0, 10_000).catch(() => undefined);
    t.same(spares(), [], 'no warm spare left');
    t.notOk(existsSync(warmSocket(sock)), 'nor its socket');
  });
}
