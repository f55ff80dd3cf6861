// podman 4.3 + conmon driving RUNTIME, with private root/runroot/tmpdir and config.
import t from 'tap';
import { writeFileSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { dockerLikeCases } from './cli-cases';
import { Engine, RUNTIME, ensurePackages, readmeSnippet, rootfsTar, sh, type Result } from './lib';

const skip = ensurePackages(['podman', 'conmon', 'uidmap', 'golang-github-containers-common']);
if (skip) {
  t.plan(0, `podman unavailable: ${skip}`);
} else {
  main();
}

function main(): void {
  const e = new Engine(t, 'podman');
  // podman runs the runtime with its default state dir (runc's /run/runc, ours /run/runts).
  e.tidyDirs([`/run/${basename(e.runtime)}`]);
  const name = (n: string) => `${e.tag}-${n}`;
  mkdirSync(e.path('net'));
  // The README's [engine] table (runtime, runtimes), with this test's private keys added to it.
  const engine = [
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${e.path('events.log')}"`,
    `tmp_dir = "${e.path('tmp')}"`,
  ];
  writeFileSync(e.path('containers.conf'), [
    '[containers]',
    // nproc too: podman's default exceeds what this host lets even root raise (no CAP_SYS_RESOURCE).
    'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
    'netns = "none"',
    readmeSnippet('podman-containers.conf', e.runtime).replace(/^\[engine\]\n/m, `[engine]\n${engine.join('\n')}\n`),
    '[network]',
    `network_config_dir = "${e.path('net')}"`,
    '',
  ].join('\n'));
  writeFileSync(e.path('storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${e.path('root')}"\nrunroot = "${e.path('runroot')}"\n`);
  const env = { ...process.env, CONTAINERS_CONF: e.path('containers.conf'), CONTAINERS_STORAGE_CONF: e.path('storage.conf') };
  const global = [
    '--root', e.path('root'), '--runroot', e.path('runroot'), '--tmpdir', e.path('tmp'), '--storage-driver', 'vfs',
    // By its name in containers.conf, as the README shows.
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', 'runts',
  ];
  const podman = (...args: string[]): Result => sh('podman', [...global, ...args], { env, timeoutMs: 90_000 });
  const IMG = 'localhost/runts-busybox:latest';
  const runArgs = ['--network', 'none', '--cgroup-parent', `/${e.tag}`];
  const why = (r: Result) => e.evidence(r);

  // Remove every container through podman before the Engine kills what is left.
  e.onCleanup(() => { podman('rm', '-af', '-t', '0'); });

  t.before(() => {
    const r = podman('import', rootfsTar(), IMG);
    if (r.code !== 0) throw new Error(`podman import: ${r.stderr}`);
  });

  dockerLikeCases(t, {
    cli: podman,
    argv: (...args) => ['podman', ...global, ...args],
    env,
    image: IMG,
    runArgs,
    name,
    cgroup: (controller, id) => `/sys/fs/cgroup/${controller}/${e.tag}/libpod-${id}`,
    why,
  });

  // After a failed create podman runs `delete --force`; runc treats a container
  // that never got state as deleted, so the user sees only the real error.
  t.test('run: a failed create shows only the runtime\'s error', async (t) => {
    const r = podman('run', '--rm', ...runArgs, IMG, '/nonexistent');
    t.equal(r.code, 127, 'exit code', why(r));
    const lines = r.stderr.trim().split('\n').filter((l) => l.trim() !== '');
    t.same(lines.filter((l) => !/^Error: /.test(l)), [], 'nothing but podman\'s Error: line', why(r));
  });

  // podman's --read-only mounts tmpfs on /tmp, /var/tmp and /run with runc's tmpcopyup.
  t.test('run --read-only: /tmp, /var/tmp and /run are writable tmpfs, /tmp with what the image had there', async (t) => {
    const seeded = `localhost/${e.tag}-seeded:latest`;
    const prep = podman('run', '--name', name('seed'), ...runArgs, IMG, 'sh', '-c', 'echo seed > /tmp/seed');
    t.equal(prep.code, 0, 'seed the image', why(prep));
    const commit = podman('commit', name('seed'), seeded);
    t.equal(commit.code, 0, 'commit', why(commit));
    podman('rm', '-f', name('seed'));
    const script = 'cat /tmp/seed; for d in /tmp /var/tmp /run; do echo x > $d/f && grep " $d " /proc/self/mounts | cut -d" " -f3; done; touch /etc/x 2>/dev/null || echo etc-ro';
    const r = podman('run', '--rm', '--read-only', ...runArgs, seeded, 'sh', '-c', script);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'seed\ntmpfs\ntmpfs\ntmpfs\netc-ro\n', 'output', why(r));
    podman('rmi', '-f', seeded);
  });

  t.test('runtime under test', async (t) => {
    t.pass(`RUNTIME=${RUNTIME}`);
  });
}
