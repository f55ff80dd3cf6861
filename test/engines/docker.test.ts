// docker 20.10 (Debian's docker.io unpacked, a private dockerd with its own
// containerd under our exec-root) driving RUNTIME as the runtime "runts".
import t from 'tap';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { dockerLikeCases } from './cli-cases';
import { Engine, RUNTIME, dockerTree, ensurePackages, readmeSnippet, rootfsTar, sh, waitFor, type Result } from './lib';

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
    // runtimes and default-runtime: the README's.
    ...(JSON.parse(readmeSnippet('docker-daemon.json', e.runtime)) as object),
  }, null, 2));
  mkdirSync(e.path('cli'));
  const env = { ...process.env, DOCKER_CONFIG: e.path('cli'), DOCKER_HOST: `unix://${sock}`, PATH: `/usr/sbin:/usr/bin:/sbin:/bin` };
  const docker = (...args: string[]): Result => sh(cli, args, { env, timeoutMs: 90_000 });
  const IMG = 'runts-busybox:latest';
  const why = (r: Result) => e.evidence(r);
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

  t.test('info shows the runtime', async (t) => {
    const r = docker('info', '--format', '{{json .Runtimes}} {{.DefaultRuntime}}');
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, new RegExp(`"runts":\\{"path":"${e.runtime.replace(/[/.]/g, '\\$&')}"`), 'listed with its path', why(r));
    t.match(r.stdout, / runts\n$/, 'the default runtime', why(r));
  });

  dockerLikeCases(t, {
    cli: docker,
    argv: (...args) => [cli, ...args],
    env,
    image: IMG,
    runArgs: ['--network', 'none'],
    name,
    cgroup: (controller, id) => `/sys/fs/cgroup/${controller}/${e.tag}/${id}`,
    why,
  });

  // docker always sends cpu.shares 0 and blockIO.weight 0 meaning "unset";
  // writing them fails (blkio ERANGE) or clamps shares to 2.
  t.test('run: zero resources from docker leave cgroup defaults', async (t) => {
    const r = docker('run', '-d', '--network', 'none', IMG, 'sleep', '1000');
    t.equal(r.code, 0, 'exit code', why(r));
    const id = r.stdout.trim();
    const f = `/sys/fs/cgroup/cpu/${e.tag}/${id}/cpu.shares`;
    t.equal(existsSync(f) ? readFileSync(f, 'utf8').trim() : `(no ${f})`, '1024', 'cpu.shares', { config: e.config(id)?.linux?.resources });
    t.equal(docker('rm', '-f', id).code, 0, 'rm -f');
  });

  t.test('runtime under test', async (t) => {
    t.pass(`RUNTIME=${RUNTIME}`);
  });
}
