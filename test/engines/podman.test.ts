// podman 4.3 + conmon driving RUNTIME, with private root/runroot/tmpdir and config.
import t from 'tap';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { Engine, RUNTIME, caseRunner, ensurePackages, onPty, rootfsTar, sh, waitFor, type Result } from './lib';

const skip = ensurePackages(['podman', 'conmon', 'uidmap', 'golang-github-containers-common']);
if (skip) {
  t.plan(0, `podman unavailable: ${skip}`);
} else {
  main();
}

function main(): void {
  const e = new Engine(t, 'podman');
  const name = (n: string) => `${e.tag}-${n}`;
  mkdirSync(e.path('net'));
  writeFileSync(e.path('containers.conf'), [
    '[containers]',
    // nproc too: podman's default exceeds what this host lets even root raise (no CAP_SYS_RESOURCE).
    'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
    'netns = "none"',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${e.path('events.log')}"`,
    `runtime_supports_json = ["runc", "crun", "runts"]`,
    `tmp_dir = "${e.path('tmp')}"`,
    '[network]',
    `network_config_dir = "${e.path('net')}"`,
    '',
  ].join('\n'));
  writeFileSync(e.path('storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${e.path('root')}"\nrunroot = "${e.path('runroot')}"\n`);
  const env = { ...process.env, CONTAINERS_CONF: e.path('containers.conf'), CONTAINERS_STORAGE_CONF: e.path('storage.conf') };
  const global = [
    '--root', e.path('root'), '--runroot', e.path('runroot'), '--tmpdir', e.path('tmp'), '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', e.runtime,
  ];
  const podman = (...args: string[]): Result => sh('podman', [...global, ...args], { env, timeoutMs: 90_000 });
  const IMG = 'localhost/runts-busybox:latest';
  const runArgs = ['--network', 'none', '--cgroup-parent', `/${e.tag}`];
  const why = (r: Result) => e.evidence(r);
  const state = (c: string) => podman('inspect', '-f', '{{.State.Status}}', c).stdout.trim();

  // Remove every container through podman before the Engine kills what is left.
  e.onCleanup(() => { podman('rm', '-af', '-t', '0'); });

  t.before(() => {
    const r = podman('import', rootfsTar(), IMG);
    if (r.code !== 0) throw new Error(`podman import: ${r.stderr}`);
  });

  const kase = caseRunner(t, 'podman');

  kase('run: output and exit 0', (t) => {
    const r = podman('run', '--rm', ...runArgs, IMG, 'echo', 'hello');
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(r.stdout, 'hello\n');
  });

  kase('run: a failing command\'s exit code', (t) => {
    const r = podman('run', '--rm', ...runArgs, IMG, 'sh', '-c', 'exit 3');
    t.equal(r.code, 3, 'exit code', why(r));
  });

  kase('run: the runtime\'s error for a nonexistent command', (t) => {
    const r = podman('run', '--rm', ...runArgs, IMG, '/nonexistent');
    t.equal(r.code, 127, 'exit code', why(r));
    t.match(r.stderr, /\/nonexistent/, 'the error names the command');
    t.match(r.stderr, /no such file or directory|not found/i, 'error text', why(r));
  });

  kase('run: the runtime\'s error for a non-executable command', (t) => {
    const r = podman('run', '--rm', ...runArgs, IMG, '/etc/passwd');
    t.equal(r.code, 126, 'exit code', why(r));
    t.match(r.stderr, /\/etc\/passwd/, 'the error names the command', why(r));
    t.match(r.stderr, /permission denied|not executable/i, 'error text', why(r));
  });

  // After a failed create podman runs `delete --force`; runc treats a container
  // that never got state as deleted, so the user sees only the real error.
  kase('run: a failed create shows only the runtime\'s error', (t) => {
    const r = podman('run', '--rm', ...runArgs, IMG, '/nonexistent');
    t.equal(r.code, 127, 'exit code', why(r));
    const lines = r.stderr.trim().split('\n').filter((l) => l.trim() !== '');
    t.same(lines.filter((l) => !/^Error: /.test(l)), [], 'nothing but podman\'s Error: line', why(r));
  });

  // One long-running container shared by the cases below, in order.
  const d1 = name('d1');
  kase('run -d and logs', async (t) => {
    const r = podman('run', '-d', '--name', d1, ...runArgs, IMG, 'sh', '-c', 'echo started; exec sleep 1000');
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /^[0-9a-f]{64}\n$/);
    t.equal(state(d1), 'running');
    if (state(d1) === 'running') await waitFor('logs', () => podman('logs', d1).stdout.includes('started'), 10_000).catch(() => undefined);
    const l = podman('logs', d1);
    t.equal(l.code, 0, 'exit code', why(l));
    t.equal(l.stdout, 'started\n');
  });

  kase('exec: output and exit code', (t) => {
    const r = podman('exec', d1, 'sh', '-c', 'echo in-exec; exit 4');
    t.equal(r.code, 4, 'exit code', why(r));
    t.equal(r.stdout, 'in-exec\n');
  });

  kase('exec -it: a terminal', (t) => {
    const r = onPty(['podman', ...global, 'exec', '-it', d1, 'sh', '-c', 'tty; test -t 0 && test -t 1 && echo both-tty; exit 5'], { env });
    t.equal(r.code, 5, 'exit code', why(r));
    t.match(r.stdout, /\/dev\/pts\/\d+\r?\nboth-tty/, 'output', why(r));
  });

  kase('top', (t) => {
    const r = podman('top', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /sleep 1000/);
  });

  kase('pause and unpause', (t) => {
    let r = podman('pause', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'paused');
    r = podman('unpause', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
    r = podman('exec', d1, 'true');
    t.equal(r.code, 0, 'exec after unpause', why(r));
  });

  kase('update: memory limit reaches the cgroup', (t) => {
    const r = podman('update', '--memory', '64m', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    const id = podman('inspect', '-f', '{{.Id}}', d1).stdout.trim();
    const f = `/sys/fs/cgroup/memory/${e.tag}/libpod-${id}/memory.limit_in_bytes`;
    t.equal(existsSync(f) ? readFileSync(f, 'utf8').trim() : `(no ${f})`, String(64 << 20));
  });

  kase('stop: SIGTERM then SIGKILL', (t) => {
    const r = podman('stop', '-t', '1', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(podman('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', d1).stdout.trim(), 'exited 137');
  });

  kase('restart: a stopped container runs again', (t) => {
    const r = podman('restart', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
    const x = podman('exec', d1, 'cat', '/proc/1/cmdline');
    t.equal(x.stdout, 'sleep\u00001000\u0000', 'output', why(x));
  });

  kase('restart: a running container', (t) => {
    const pid = podman('inspect', '-f', '{{.State.Pid}}', d1).stdout.trim();
    const r = podman('restart', '-t', '1', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(state(d1), 'running');
    t.not(podman('inspect', '-f', '{{.State.Pid}}', d1).stdout.trim(), pid, 'a new init');
  });

  kase('kill and wait', (t) => {
    const r = podman('kill', '-s', 'KILL', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    const w = podman('wait', d1);
    t.equal(w.stdout.trim(), '137', 'output', why(w));
    t.equal(state(d1), 'exited');
  });

  kase('rm -f: a running container', async (t) => {
    const c = name('rmf');
    let r = podman('run', '-d', '--name', c, ...runArgs, IMG, 'sleep', '1000');
    t.equal(r.code, 0, 'exit code', why(r));
    r = podman('rm', '-f', '-t', '0', c);
    t.equal(r.code, 0, 'exit code', why(r));
    t.equal(podman('ps', '-aq', '--filter', `name=${c}`).stdout, '', 'gone from podman');
    r = podman('rm', '-f', d1);
    t.equal(r.code, 0, 'exit code', why(r));
    // The runtime's own state dirs are gone too (podman's runtime root is under our dirs or the default).
    const leftovers = readdirSync('/sys/fs/cgroup/memory').includes(e.tag)
      ? readdirSync(`/sys/fs/cgroup/memory/${e.tag}`).filter((d) => d.startsWith('libpod-')) : [];
    t.same(leftovers, [], 'container cgroups removed');
  });

  t.test('runtime under test', async (t) => {
    t.pass(`RUNTIME=${RUNTIME}`);
  });
}
