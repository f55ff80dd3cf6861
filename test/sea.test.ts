// The single executable (make sea): `make install` into a temp DESTDIR, the
// multi-call names, a busybox container run from it, and the private lib dir
// its koffi addon and native stage are written to (needs root).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Env, RUNTS, TOP, baseConfig, processesWith } from './lib/harness';

const SEA = join(TOP, 'dist', 'runts');
const KOFFI = join(TOP, 'node_modules', '@koromix', 'koffi-linux-x64', 'linux_x64', 'koffi.node');
const STAGE = join(TOP, 'bindings', 'libruntsstage.so');
const STAGE_EXE = join(TOP, 'bindings', 'runts-stage');
const skip = existsSync(SEA) ? false : 'dist/runts is missing: run make sea';

t.test('make install, the multi-call names, a run, the private lib dir', { skip }, async (t) => {
  const env = new Env(t);
  const dest = mkdtempSync(join(env.dir, 'destdir-'));
  const make = spawnSync('make', ['-s', '-C', TOP, 'install', `DESTDIR=${dest}`, 'PREFIX=/usr/local'], { encoding: 'utf8', timeout: 120000 });
  t.equal(make.status, 0, `make install: ${make.stderr}`);
  const bin = join(dest, 'usr', 'local', 'bin');
  t.ok(lstatSync(join(bin, 'runts')).isFile(), 'runts is the executable');
  for (const n of ['runts-shim', 'runtsd', 'runtsctl']) t.equal(readlinkSync(join(bin, n)), 'runts', `${n} -> runts`);

  const lib = join(env.dir, 'lib');
  const exec = (name: string, args: string[], cwd = env.dir) => {
    const r = spawnSync(join(bin, name), args, { cwd, encoding: 'utf8', timeout: 30000, env: { ...process.env, RUNTS_LIB_DIR: lib } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  const version = exec('runts', ['--version']);
  t.equal(version.code, 0, version.stderr);
  t.match(version.stdout, /^runts version \S+\ncommit: \S+\nspec: /);
  const ctl = exec('runtsctl', ['--help']);
  t.equal(ctl.code, 0, ctl.stderr);
  t.match(ctl.stdout, /^usage: runtsctl/, 'runtsctl by its symlink');
  t.match(exec('runts', ['runtsctl', '--version']).stdout, /^runtsctl version/, 'runtsctl as a first argument');
  t.match(exec('runts-shim', ['--help']).stdout, /^usage: runts-shim/, 'runts-shim by its symlink');
  t.match(exec('runts-shim', []).stderr, /^runts-shim: --address and --dir are required \(see runts-shim --help\)$/m);
  t.match(exec('runtsd', ['--version']).stdout, /^runtsd version \S+\ncommit: /, 'runtsd by its symlink');
  // containerd's name is the native front (shim-front.c); with no warm shim it runs the executable by that name.
  t.ok(lstatSync(join(bin, 'containerd-shim-runts-v1')).isFile(), 'containerd-shim-runts-v1 is the front');
  t.match(exec('containerd-shim-runts-v1', ['-bogus']).stderr, /^containerd-shim-runts-v1: unknown flag -bogus$/m, 'which runs the shim\'s containerd face');

  const specDir = mkdtempSync(join(env.dir, 'spec-'));
  t.equal(exec('runts', ['spec'], specDir).code, 0);
  t.equal(JSON.parse(readFileSync(join(specDir, 'config.json'), 'utf8')).ociVersion, '1.2.1', 'runts spec');

  const run = () => exec('runts', ['--root', env.root, 'run', '--bundle', env.bundle(baseConfig(['sh', '-c', 'echo hello; exit 3'])), env.id()]);
  const first = run();
  t.equal(first.code, 3, first.stderr);
  t.equal(first.stdout, 'hello\n', 'a busybox container run by the executable');
  const bad = env.bundle(baseConfig(['true']));
  const cfg = JSON.parse(readFileSync(join(bad, 'config.json'), 'utf8'));
  delete cfg.process.user;
  writeFileSync(join(bad, 'config.json'), JSON.stringify(cfg));
  t.match(exec('runts', ['--root', env.root, 'run', '--bundle', bad, env.id()]).stderr, /process\.user: is required/, 'a bad config explained (TypeBox is an asset)');

  // One 0700 root dir per asset, named by its content hash.
  const dirs = readdirSync(lib).map((d) => join(lib, d));
  t.equal(dirs.length, 2, 'koffi and the stage library, each in its own dir (the stage executable is never written)');
  for (const dir of [lib, ...dirs]) {
    const st = statSync(dir);
    t.equal(st.mode & 0o777, 0o700, `${dir} is 0700`);
    t.equal(st.uid, 0, `${dir} is root's`);
  }
  const stageCopy = dirs.map((d) => join(d, 'libruntsstage.so')).find((f) => existsSync(f))!;
  const koffiCopy = dirs.map((d) => join(d, 'koffi.node')).find((f) => existsSync(f))!;
  t.ok(readFileSync(koffiCopy).equals(readFileSync(KOFFI)), 'koffi.node is the addon the build embedded');
  const id = env.id();
  t.equal(exec('runts', ['--root', env.root, 'create', '--bundle', env.bundle(baseConfig(['sleep', '60'])), id]).code, 0);
  const pid = JSON.parse(exec('runts', ['--root', env.root, 'state', id]).stdout).pid;
  t.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:runts-stage /, 'the waiting init is the stage exec\'d from memory');
  t.ok(readFileSync(`/proc/${pid}/exe`).equals(readFileSync(STAGE_EXE)), 'filled from the executable the build embedded');
  t.equal(exec('runts', ['--root', env.root, 'delete', '--force', id]).code, 0);

  appendFileSync(stageCopy, 'tampered');
  const again = run();
  t.equal(again.code, 3, again.stderr);
  t.ok(readFileSync(stageCopy).equals(readFileSync(STAGE)), 'a changed stage file is rewritten from the embedded copy');

  const dir = join(stageCopy, '..');
  chmodSync(dir, 0o755);
  const open = run();
  t.not(open.code, 3, 'a lib dir others can read is refused');
  t.match(open.stderr, /lib dir .* must be mode 0700 and owned by uid 0/);
  chmodSync(dir, 0o700);
  chownSync(dir, 65534, 65534);
  const foreign = run();
  t.not(foreign.code, 3, "a lib dir that is not root's is refused");
  t.match(foreign.stderr, /must be mode 0700 and owned by uid 0/);
  chownSync(dir, 0, 0);
  t.equal(run().code, 3, 'fine again once the dir is private');
});

t.test('runtsd and runtsctl from the executable run a container through a runts-shim', { skip }, async (t) => {
  const env = new Env(t);
  const marker = `RUNTS_SEA_TEST=${basename(env.dir)}`;
  const address = join(env.dir, 'runtsd.sock');
  const state = join(env.dir, 'sv');
  // runtsd finds runts-shim beside the name it was started by: dist/ has the same symlinks.
  const daemon = spawn(join(TOP, 'dist', 'runtsd'), ['--address', address, '--state-dir', state], {
    stdio: 'ignore',
    env: { ...process.env, RUNTS_LIB_DIR: join(env.dir, 'lib'), RUNTS_SEA_TEST: basename(env.dir) },
  });
  const exited = new Promise((res) => daemon.once('exit', res));
  const ctl = (args: string[]) => spawnSync(join(TOP, 'dist', 'runtsctl'), ['--address', address, ...args], { encoding: 'utf8', timeout: 30000 });
  try {
    for (let i = 0; i < 100 && ctl(['ps']).status !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    const r = ctl(['run', '--rm', '--name', env.id('sv'), env.bundle(baseConfig(['sh', '-c', 'echo through the shim']))]);
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, 'through the shim\n');
  } finally {
    // runtsd is reaped here, before Env's teardown reaps orphans; its shims
    // carry the marker; a container left behind goes with its shim's runtime root.
    daemon.kill('SIGTERM');
    await exited;
    for (const pid of processesWith(marker)) process.kill(Number(pid), 'SIGKILL');
    for (const rel of existsSync(state) ? (readdirSync(state, { recursive: true }) as string[]) : []) {
      if (basename(rel) !== 'runtime') continue;
      for (const id of readdirSync(join(state, rel))) spawnSync(RUNTS, ['--root', join(state, rel), 'delete', '--force', id], { stdio: 'ignore' });
    }
  }
});
