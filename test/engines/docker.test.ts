// docker 20.10 (Debian's docker.io unpacked, a private dockerd with its own
// containerd under our exec-root) driving RUNTIME as the runtime "runts".
import t from 'tap';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, RUNTIME, caseRunner, dockerTree, ensurePackages, onPty, rootfsTar, sh, waitFor, type Result } from './lib';

const tree = (() => {
  const skip = ensurePackages(['containerd', 'libdevmapper1.02.1']);
  return skip ? { skip } : dockerTree();
})();
if ('skip' in tree) {
  t.plan(0, `docker unavailable: ${tree.skip}`);
} else {
  main(tree.root);
}

function main(root: string): void {
  const e = new Engine(t, 'docker');
  const sock = e.path('docker.sock');
  const dockerd = join(root, 'usr', 'sbin', 'dockerd');
  const cli = join(root, 'usr', 'bin', 'docker');
  // Shim sockets go to /run/containerd/s whatever we configure; dockerd keeps
  // its trust key under /etc/docker.
  e.tidyDirs(['/run/containerd', '/run/containerd/s', '/etc/docker']);
  const keyCreated = !existsSync('/etc/docker/key.json');
  writeFileSync(e.path('daemon.json'), JSON.stringify({
    'data-root': e.path('data'),
    'exec-root': e.path('exec'),
    pidfile: e.path('docker.pid'),
    hosts: [`unix://${sock}`],
    bridge: 'none',
    iptables: false,
    'ip-masq': false,
    'ip-forward': false,
    'userland-proxy': false,
    'storage-driver': 'vfs',
    'cgroup-parent': `/${e.tag}`,
    'exec-opts': ['native.cgroupdriver=cgroupfs'],
    runtimes: { runts: { path: e.runtime } },
    'default-runtime': 'runts',
  }, null, 2));
  mkdirSync(e.path('cli'));
  const env = { ...process.env, DOCKER_CONFIG: e.path('cli'), DOCKER_HOST: `unix://${sock}`, PATH: `/usr/sbin:/usr/bin:/sbin:/bin` };
  const docker = (...args: string[]): Result => sh(cli, args, { env, timeoutMs: 90_000 });
  const IMG = 'runts-busybox:latest';
  const why = (r: Result) => e.evidence(r);
  const state = (c: string) => docker('inspect', '-f', '{{.State.Status}}', c).stdout.trim();
  const name = (n: string) => `${e.tag}-${n}`;

  e.onCleanup(() => {
    const ids = docker('ps', '-aq').stdout.split('\n').filter(Boolean);
    if (ids.length) docker('rm', '-f', ...ids);
    if (keyCreated) sh('rm', ['-f', '/etc/docker/key.json']);
  });

  t.before(async () => {
    e.daemon(dockerd, ['--config-file', e.path('daemon.json')], e.path('dockerd.log'), env);
    await waitFor('dockerd to serve', () => existsSync(sock) && docker('version').code === 0, 60_000)
      .catch((err) => { throw new Error(`${err}\n${readFileSync(e.path('dockerd.log'), 'utf8').slice(-3000)}`); });
    const r = docker('import', rootfsTar(), IMG);
    if (r.code !== 0) throw new Error(`docker import: ${r.stderr}`);
  });

  const kase = caseRunner(t, 'docker');

  kase('info shows the runtime', (t) => {
    const r = docker('info', '--format', '{{json .Runtimes}} {{.DefaultRuntime}}');
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, new RegExp(`"runts":\\{"path":"${e.runtime.replace(/[/.]/g, '\\$&')}"`), 'listed with its path', why(r));
    t.match(r.stdout, / runts\n$/, 'the default runtime', why(r));
  });

  kase('run: output and exit 0', (t) => {
    const r = docker('run', '--rm', '--network', 'none', IMG, 'echo', 'hello');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'hello\n', 'output', why(r));
  });

  kase('run: a failing command\'s exit code', (t) => {
    const r = docker('run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'exit 3');
    t.equal(r.code, 3, 'exit code', why(r));
  });

  kase('run: the runtime\'s error for a nonexistent command', (t) => {
    const r = docker('run', '--rm', '--network', 'none', IMG, '/nonexistent');
    t.equal(r.code, 127, 'exit code', why(r));
    t.match(r.stderr, /\/nonexistent/, 'the runtime\'s error names the command', why(r));
  });

  const d1 = name('d1');
  kase('run -d and logs', async (t) => {
    const r = docker('run', '-d', '--name', d1, '--network', 'none', IMG, 'sh', '-c', 'echo started; exec sleep 1000');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
    if (state(d1) === 'running') await waitFor('logs', () => docker('logs', d1).stdout.includes('started'), 10_000).catch(() => undefined);
    const l = docker('logs', d1);
    t.equal(l.stdout, 'started\n', 'logs', why(l));
  });

  // docker always sends cpu.shares 0 (and blockIO.weight 0) meaning "unset";
  // writing 0 makes the kernel clamp shares to 2.
  kase('run: zero resources from docker leave cgroup defaults', (t) => {
    const id = docker('inspect', '-f', '{{.Id}}', d1).stdout.trim();
    const f = `/sys/fs/cgroup/cpu/${e.tag}/${id}/cpu.shares`;
    t.equal(existsSync(f) ? readFileSync(f, 'utf8').trim() : `(no ${f})`, '1024', 'cpu.shares', { config: e.config(id)?.linux?.resources });
  });

  kase('exec: output and exit code', (t) => {
    const r = docker('exec', d1, 'sh', '-c', 'echo in-exec; exit 4');
    t.equal(r.code, 4, 'exit code', why(r));
    t.equal(r.stdout, 'in-exec\n', 'output', why(r));
  });

  kase('exec -it: a terminal', (t) => {
    const r = onPty([cli, 'exec', '-it', d1, 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-tty; exit 5'], { env });
    t.equal(r.code, 5, 'exit code', why(r));
    t.match(r.stdout, /\/dev\/pts\/\d+\r?\nboth-tty/, 'output', why(r));
  });

  kase('top', (t) => {
    const r = docker('top', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /sleep 1000/, 'lists the process', why(r));
  });

  kase('pause and unpause', (t) => {
    let r = docker('pause', d1);
    t.equal(r.code, 0, 'pause exit code', why(r));
    t.equal(state(d1), 'paused');
    r = docker('unpause', d1);
    t.equal(r.code, 0, 'unpause exit code', why(r));
    t.equal(state(d1), 'running');
    r = docker('exec', d1, 'true');
    t.equal(r.code, 0, 'exec after unpause', why(r));
  });

  kase('update: memory limit reaches the cgroup', (t) => {
    const r = docker('update', '--memory', '64m', '--memory-swap', '128m', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    const id = docker('inspect', '-f', '{{.Id}}', d1).stdout.trim();
    const f = `/sys/fs/cgroup/memory/${e.tag}/${id}/memory.limit_in_bytes`;
    t.equal(existsSync(f) ? readFileSync(f, 'utf8').trim() : `(no ${f})`, String(64 << 20), 'memory.limit_in_bytes', why(r));
  });

  kase('stop: SIGTERM then SIGKILL', (t) => {
    const r = docker('stop', '-t', '1', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', d1).stdout.trim(), 'exited 137');
  });

  kase('restart: a stopped container runs again', (t) => {
    const r = docker('restart', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
  });

  kase('restart: a running container', (t) => {
    const pid = docker('inspect', '-f', '{{.State.Pid}}', d1).stdout.trim();
    const r = docker('restart', '-t', '1', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
    t.not(docker('inspect', '-f', '{{.State.Pid}}', d1).stdout.trim(), pid, 'a new init');
  });

  kase('kill and wait', (t) => {
    const r = docker('kill', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    const w = docker('wait', d1);
    t.equal(w.stdout.trim(), '137', 'exit status', why(w));
  });

  kase('rm -f: a running container', (t) => {
    const c = name('rmf');
    let r = docker('run', '-d', '--name', c, '--network', 'none', IMG, 'sleep', '1000');
    t.equal(r.code, 0, 'run -d', why(r));
    const id = r.stdout.trim();
    r = docker('rm', '-f', c);
    t.equal(r.code, 0, 'rm -f', why(r));
    t.equal(docker('ps', '-aq', '--filter', `name=${c}`).stdout, '', 'gone from docker');
    t.notOk(existsSync(`/sys/fs/cgroup/memory/${e.tag}/${id}`), 'cgroup removed');
    r = docker('rm', '-f', d1);
    t.equal(r.code, 0, 'rm -f of a stopped one', why(r));
  });

  t.test('runtime under test', async (t) => {
    t.pass(`RUNTIME=${RUNTIME}`);
  });
}
