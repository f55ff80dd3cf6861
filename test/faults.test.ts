// Faults during setup: runts killed at each step of create, a full state
// disk, a rootfs that vanishes. Each time `delete --force` (or create's own
// cleanup) leaves no process, mount, cgroup or state behind.
import t from 'tap';
import { execSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Env, RUNTS, TEST_RUNTS, baseConfig, cgroupsOf, processesWith } from './lib/harness';


const mountsUnder = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));

function settle(check: () => unknown[]): unknown[] {
  for (let i = 0; i < 200; i++) {
    const left = check();
    if (left.length === 0) return left;
    execSync('sleep 0.01');
  }
  return check();
}

t.test('runts create killed at each step: delete --force cleans up', async (t) => {
  const env = new Env(t);
  const cfg = baseConfig(['sleep', '60']);
  cfg.process.env.push(`RUNTS_TEST_DIR=${env.dir}`);
  cfg.hooks = { createRuntime: [{ path: '/bin/true' }] };
  const bundle = env.bundle(cfg);
  for (const step of ['claimed', 'saved', 'cloned', 'cgroups', 'hooks', 'created']) {
    const id = env.id(step);
    const r = spawnSync(TEST_RUNTS, ['--root', env.root, 'create', '--bundle', bundle, id], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      env: { ...process.env, RUNTS_FAULT: step, RUNTS_TEST_DIR: env.dir },
      timeout: 30000,
    });
    t.equal(r.signal, 'SIGKILL', `${step}: runts died there: ${r.stderr}`);
    const d = env.runts(['delete', '--force', id]);
    t.equal(d.code, 0, `${step}: delete --force works: ${d.stderr}`);
    t.notOk(existsSync(join(env.root, id)), `${step}: no state dir`);
    t.same(cgroupsOf(id), [], `${step}: no cgroup`);
    t.same(settle(() => processesWith(`RUNTS_TEST_DIR=${env.dir}`)), [], `${step}: no container process`);
    t.same(mountsUnder(env.dir), [], `${step}: no mount`);
    const again = env.runts(['create', '--bundle', bundle, id]);
    t.equal(again.code, 0, `${step}: the id can be used again: ${again.stderr}`);
    t.equal(env.runts(['delete', '--force', id]).code, 0);
  }
});

t.test('a full state disk: one line naming the file, nothing left', async (t) => {
  const env = new Env(t);
  const root = join(env.dir, 'small');
  mkdirSync(root);
  // Room for the state dir itself, not for the config copy.
  execSync(`mount -t tmpfs -o size=4k,mode=0700 tmpfs ${root}`);
  t.teardown(() => execSync(`umount -l ${root}`));
  const cfg = baseConfig(['true']);
  cfg.annotations = { big: 'x'.repeat(64 * 1024) };
  const bundle = env.bundle(cfg);
  const r = spawnSync(RUNTS, ['--root', root, 'create', '--bundle', bundle, 'full'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  t.equal(r.status, 1);
  t.match(r.stderr, /^runts: [^\n]*ENOSPC[^\n]*\n$/, 'one line with the errno');
  t.same(readdirSync(root), [], 'no state left');
  t.same(cgroupsOf('full'), [], 'no cgroup');
});

t.test('a rootfs that vanishes: create fails cleanly; after create, delete still cleans up', async (t) => {
  const env = new Env(t);
  const rootfs = join(env.dir, 'rootfs-copy');
  const shared = JSON.parse(readFileSync(join(env.bundle(baseConfig(['true'])), 'config.json'), 'utf8')).root.path;
  cpSync(shared, rootfs, { recursive: true, verbatimSymlinks: true });
  const bundle = join(env.dir, 'vanish');
  mkdirSync(bundle);
  const cfg = baseConfig(['sleep', '60']);
  cfg.root.path = rootfs;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(cfg));

  const id = env.id('vanish');
  t.equal(env.runts(['create', '--bundle', bundle, id]).code, 0);
  rmSync(rootfs, { recursive: true, force: true });
  const s = env.runts(['start', id]);
  t.ok(s.code === 0 || /^runts: [^\n]+\n$/.test(s.stderr), 'start runs or fails in one line');
  t.equal(env.runts(['delete', '--force', id]).code, 0);
  t.same(cgroupsOf(id), [], 'no cgroup');
  t.same(mountsUnder(env.dir), [], 'no mount');

  const gone = env.id('gone');
  const c = env.runts(['create', '--bundle', bundle, gone]);
  t.equal(c.code, 1);
  t.match(c.stderr, /^runts: root\.path: [^\n]+ is not a directory\n$/);
  t.notOk(existsSync(join(env.root, gone)), 'no state dir');
});
