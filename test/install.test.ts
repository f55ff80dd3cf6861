// What an operator installs: make install and make uninstall under a temp
// DESTDIR (never the real /usr), make deb read back with dpkg-deb and installed
// into a temp root with dpkg --root, runtsd's systemd unit, and the README's
// ways to make a bundle (make bundle, umoci unpack).
// Needs root (a container is run by the installed executable) and dist/runts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Env, TOP, baseConfig } from './lib/harness';
import { ociArchive } from './engines/lib';

t.setTimeout(10 * 60 * 1000);

const SEA = join(TOP, 'dist', 'runts');
const skip = existsSync(SEA) ? false : 'dist/runts is missing: run make sea';
// Symlinks to the executable; containerd-shim-runts-v1 is the native front beside it (shim-front.c).
const NAMES = ['runts-shim', 'runtsd', 'runtsctl'];
const FRONT = 'containerd-shim-runts-v1';

const make = (args: string[], timeout = 300_000) => spawnSync('make', ['-s', '--no-print-directory', '-C', TOP, ...args], { encoding: 'utf8', timeout });
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, env });
/** Every file and symlink under dir, relative to it, sorted. */
const files = (dir: string): string[] => {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (lstatSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
};
/** Stand-ins for the man pages and completion the build generates (MAN_DIR, COMPLETION_DIR). */
const generated = (dir: string) => {
  const man = join(dir, 'man');
  const completion = join(dir, 'completion');
  mkdirSync(man);
  mkdirSync(completion);
  writeFileSync(join(man, 'runts.8'), '.TH RUNTS 8\n');
  writeFileSync(join(man, 'runtsctl.1'), '.TH RUNTSCTL 1\n');
  writeFileSync(join(completion, 'runtsd.bash'), 'complete -W "--help" runtsd\n');
  return [`MAN_DIR=${man}`, `COMPLETION_DIR=${completion}`];
};

t.test('make install and make uninstall under DESTDIR, the written libraries included', { skip }, async (t) => {
  const env = new Env(t);
  const dest = join(env.dir, 'dest');
  const r = make(['install', `DESTDIR=${dest}`, ...generated(env.dir)]);
  t.equal(r.status, 0, `make install: ${r.stderr}`);
  const want = [
    'usr/local/bin/runts',
    ...NAMES.map((n) => `usr/local/bin/${n}`),
    `usr/local/bin/${FRONT}`,
    'usr/local/lib/systemd/system/runtsd.service',
    'usr/local/share/bash-completion/completions/runtsd',
    'usr/local/share/doc/runts/README.md',
    'usr/local/share/man/man1/runtsctl.1',
    'usr/local/share/man/man8/runts.8',
  ].sort();
  t.same(files(dest), want, 'the executable, its names, the unit, the README, the man pages and completion');
  for (const n of NAMES) t.equal(readlinkSync(join(dest, 'usr/local/bin', n)), 'runts', `${n} -> runts`);
  t.ok(lstatSync(join(dest, 'usr/local/bin', FRONT)).isFile(), `${FRONT}: the front, a file`);
  t.match(readFileSync(join(dest, 'usr/local/lib/systemd/system/runtsd.service'), 'utf8'), /^ExecStart=\/usr\/local\/bin\/runtsd$/m, 'the unit runs the installed runtsd');

  // The installed executable writes its libraries where root's would go, under DESTDIR.
  const lib = join(dest, 'var/lib/runts/lib');
  const exe = join(dest, 'usr/local/bin/runts');
  const ran = run(exe, ['--root', env.root, 'run', '--bundle', env.bundle(baseConfig(['true'])), env.id()], { ...process.env, RUNTS_LIB_DIR: lib });
  t.equal(ran.status, 0, `a container run by the installed runts: ${ran.stderr}`);
  t.equal(readdirSync(lib).length, 2, 'two library dirs written');
  // runtsd's records share /var/lib/runts: uninstall must leave them.
  mkdirSync(join(dest, 'var/lib/runts/containers'));
  writeFileSync(join(dest, 'var/lib/runts/containers/c1.jsonl'), '{}\n');

  const u = make(['uninstall', `DESTDIR=${dest}`]);
  t.equal(u.status, 0, `make uninstall: ${u.stderr}`);
  t.same(files(dest), ['var/lib/runts/containers/c1.jsonl'], "everything install and the executable put down is gone; runtsd's records stay");
  t.notOk(existsSync(lib), 'the library dir is removed');
});

t.test('make deb: dpkg-deb --info and --contents, dpkg --root installs and purges it', { skip }, async (t) => {
  const env = new Env(t);
  const out = join(env.dir, 'out');
  mkdirSync(out);
  const r = make(['deb', `DEB_OUT=${out}`, 'DEB_COMPRESS=none', ...generated(env.dir)], 600_000);
  t.equal(r.status, 0, `make deb: ${r.stderr}`);
  const version = /^runts version (\S+)$/m.exec(run(SEA, ['--version']).stdout)?.[1];
  const deb = join(out, `runts_${version}_amd64.deb`);
  t.equal(r.stdout.trim(), deb, 'runts_<version>_amd64.deb');
  t.same(readdirSync(out), [`runts_${version}_amd64.deb`], 'nothing else left in DEB_OUT');

  const info = run('dpkg-deb', ['--info', deb]);
  t.equal(info.status, 0, info.stderr);
  t.match(info.stdout, new RegExp(`^ Package: runts\n Version: ${version}\n Architecture: amd64\n`, 'm'));
  t.match(info.stdout, /^ Depends: libc6, libgcc-s1, libstdc\+\+6$/m, 'what the Node executable links');
  const scripts = [...info.stdout.matchAll(/^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+(\S+)/gm)].map((m) => m[1]);
  t.same(scripts.sort(), ['control', 'md5sums', 'postrm'], 'no preinst, postinst or prerm: nothing starts on install');
  const postrm = run('dpkg-deb', ['--info', deb, 'postrm']).stdout;
  t.notMatch(postrm, /systemctl (start|restart|enable)|runtsd /, 'postrm starts nothing');

  const contents = run('dpkg-deb', ['--contents', deb]);
  t.equal(contents.status, 0, contents.stderr);
  const entries = contents.stdout.split('\n').filter(Boolean).map((l) => {
    const f = l.split(/\s+/);
    return { mode: f[0]!, owner: f[1]!, path: f.slice(5).join(' ') };
  });
  const paths = entries.filter((e) => !e.mode.startsWith('d')).map((e) => e.path).sort();
  t.same(paths, [
    './lib/systemd/system/runtsd.service',
    './usr/bin/containerd-shim-runts-v1',
    './usr/bin/runts',
    './usr/bin/runts-shim -> runts',
    './usr/bin/runtsctl -> runts',
    './usr/bin/runtsd -> runts',
    './usr/share/bash-completion/completions/runtsd',
    './usr/share/doc/runts/README.md',
    './usr/share/man/man1/runtsctl.1.gz',
    './usr/share/man/man8/runts.8.gz',
  ]);
  t.ok(entries.every((e) => e.owner === 'root/root'), 'all root-owned');
  t.match(entries.find((e) => e.path === './usr/bin/runts')?.mode, /^-rwxr-xr-x$/);

  // An empty dpkg database in a temp root; maintainer scripts run outside it with DPKG_ROOT set.
  const root = join(env.dir, 'root');
  mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
  mkdirSync(join(root, 'var/lib/dpkg/updates'));
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  const dpkg = (...args: string[]) => run('dpkg', [`--root=${root}`, '--force-depends', '--force-script-chrootless', '--log=/dev/null', ...args]);
  const inst = dpkg('-i', deb);
  t.equal(inst.status, 0, `dpkg -i: ${inst.stderr}`);
  const installed = run(join(root, 'usr/bin/runts'), ['--version']);
  t.equal(installed.status, 0, installed.stderr);
  t.equal(installed.stdout, run(SEA, ['--version']).stdout, 'the installed runts --version');
  t.equal(run(join(root, 'usr/bin/runtsctl'), ['--version']).status, 0, 'runtsctl by its symlink');
  t.match(readFileSync(join(root, 'lib/systemd/system/runtsd.service'), 'utf8'), /^ExecStart=\/usr\/bin\/runtsd$/m);
  // As if root had run it: the libraries it wrote go with a purge.
  mkdirSync(join(root, 'var/lib/runts/lib/0123'), { recursive: true });
  const purge = dpkg('--purge', 'runts');
  t.equal(purge.status, 0, `dpkg --purge: ${purge.stderr}`);
  t.same(files(root).filter((f) => !f.startsWith('var/lib/dpkg/')), [], 'nothing left but the dpkg database');
});

t.test("runtsd.service: KillMode=process, runtsd from BINDIR, nothing that every container would inherit", async (t) => {
  const unit = readFileSync(join(TOP, 'packaging', 'runtsd.service.in'), 'utf8');
  const keys = new Map(unit.split('\n').filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  t.equal(keys.get('KillMode'), 'process', 'containers and their shims outlive a stop');
  t.equal(keys.get('ExecStart'), '@BINDIR@/runtsd');
  t.equal(keys.get('Delegate'), 'yes');
  t.equal(keys.get('WantedBy'), 'multi-user.target');
  // A mount or UTS namespace of its own, or a seccomp filter, would be every container's.
  for (const k of ['ProtectSystem', 'PrivateTmp', 'ProtectHome', 'PrivateDevices', 'ProtectHostname', 'SystemCallFilter', 'RestrictNamespaces', 'NoNewPrivileges', 'LockPersonality', 'MemoryDenyWriteExecute']) {
    t.notOk(keys.has(k), `no ${k}`);
  }
  const analyze = run('sh', ['-c', 'command -v systemd-analyze']).stdout.trim();
  if (!analyze || !existsSync(SEA)) return;
  const dir = mkdtempSync(join(TOP, 'dist', '.unit-'));
  t.teardown(() => run('rm', ['-rf', dir]));
  writeFileSync(join(dir, 'runtsd.service'), unit.replaceAll('@BINDIR@', join(TOP, 'dist')));
  const v = run(analyze, ['verify', '--man=no', join(dir, 'runtsd.service')]);
  t.same([v.status, v.stderr], [0, ''], 'systemd-analyze verify');
});

t.test('make bundle DIR=: a busybox bundle runts runs', async (t) => {
  const env = new Env(t);
  const dir = join(env.dir, 'made');
  const r = make(['bundle', `DIR=${dir}`]);
  t.equal(r.status, 0, `make bundle: ${r.stderr}`);
  t.ok(statSync(join(dir, 'rootfs/bin/busybox')).isFile(), 'busybox in the rootfs');
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  t.equal(cfg.root.path, 'rootfs', "runts spec's config");
  cfg.process.terminal = false;
  cfg.process.args = ['sh', '-c', 'echo from-bundle'];
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const ran = run(join(TOP, 'bin', 'runts'), ['--root', env.root, 'run', '--bundle', dir, env.id()]);
  t.same([ran.status, ran.stdout], [0, 'from-bundle\n'], ran.stderr);
  t.not(make(['bundle', `DIR=${dir}`]).status, 0, 'refuses a dir that has a bundle');
  t.not(make(['bundle']).status, 0, 'needs DIR');
});

const umoci = run('sh', ['-c', 'command -v umoci']).stdout.trim();
t.test('an OCI image layout unpacked by umoci (Debian 12 packages it) is a bundle runts runs', { skip: umoci ? false : 'umoci is not installed' }, async (t) => {
  const env = new Env(t);
  const layout = join(env.dir, 'layout');
  mkdirSync(layout);
  t.equal(run('tar', ['-C', layout, '-xf', ociArchive('localhost/runts-busybox:latest')]).status, 0, 'an image layout');
  const bundle = join(env.dir, 'bundle');
  const u = run(umoci, ['unpack', '--image', `${layout}:latest`, bundle]);
  t.equal(u.status, 0, `umoci unpack: ${u.stderr}`);
  const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['sh', '-c', 'echo from-umoci'];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(cfg));
  const ran = run(join(TOP, 'bin', 'runts'), ['--root', env.root, 'run', '--bundle', bundle, env.id()]);
  t.same([ran.status, ran.stdout], [0, 'from-umoci\n'], ran.stderr);
});
