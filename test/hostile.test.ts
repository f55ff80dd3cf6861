// Hostile config.json files: a seeded generator of malformed, huge and
// escaping configs. Every one is rejected with one line or runs safely;
// nothing is left behind and nothing outside the bundle is touched.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Env, RUNTS, baseConfig, cgroupsOf, ownMounts } from './lib/harness';

const CASES = Number(process.env['HOSTILE_CASES'] ?? 1000);
// A thousand runtime starts take minutes, not the default two.
t.setTimeout(20 * 60 * 1000);
const SEED = Number(process.env['HOSTILE_SEED'] ?? 20261125);

/** mulberry32: small, seeded, good enough to pick mutations reproducibly. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = any;
type Mutation = { name: string; apply: (c: Json) => void };

/** Every path to a value in the config: where type swaps and deletions go. */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}
function setAt(root: Json, path: (string | number)[], value: unknown, remove = false) {
  const parent = path.slice(0, -1).reduce((o, k) => o[k], root);
  const key = path[path.length - 1]!;
  if (remove) Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key];
  else parent[key] = value;
}
const show = (p: (string | number)[]) => p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').slice(1);

const WRONG: unknown[] = [null, 0, -1, 1.5, 1e308, 2 ** 64, -(2 ** 63), '', 'x', '../..', [], [null], {}, { a: 1 }, true];
const BIG = 'A'.repeat(10 * 1024 * 1024);

function mutations(r: () => number, escape: string): Mutation[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const fixed: Mutation[] = [
    { name: 'relative mount destination', apply: (c) => c.mounts.push({ destination: 'rel/x', type: 'tmpfs', source: 'tmpfs' }) },
    { name: '.. mount destination', apply: (c) => c.mounts.push({ destination: '/../../../../tmp/runts-escape', type: 'tmpfs', source: 'tmpfs' }) },
    { name: 'mount through a symlink out of the rootfs', apply: (c) => c.mounts.push({ destination: '/escape/x', type: 'tmpfs', source: 'tmpfs' }) },
    { name: 'bind a missing source', apply: (c) => c.mounts.push({ destination: '/mnt', type: 'bind', source: '/nonexistent-runts', options: ['bind'] }) },
    { name: 'unknown mount option', apply: (c) => c.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['bogus-option'] }) },
    { name: 'root path outside', apply: (c) => (c.root.path = `${escape}/../../no-such-rootfs`) },
    { name: 'relative cwd', apply: (c) => (c.process.cwd = 'tmp') },
    { name: 'cwd through a symlink out', apply: (c) => (c.process.cwd = '/escape') },
    { name: 'unknown namespace', apply: (c) => c.linux.namespaces.push({ type: pick(['bogus', 'USER', '', 'net']) }) },
    { name: 'duplicate namespace', apply: (c) => c.linux.namespaces.push({ type: 'pid' }) },
    { name: 'namespace path missing', apply: (c) => (c.linux.namespaces[1] = { type: 'network', path: '/proc/999999999/ns/net' }) },
    { name: 'namespace path of the wrong kind', apply: (c) => (c.linux.namespaces[1] = { type: 'network', path: '/proc/self/ns/uts' }) },
    { name: 'mappings without a user namespace', apply: (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]) },
    { name: 'huge mapping', apply: (c) => ((c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 2 ** 40 }]), c.linux.namespaces.push({ type: 'user' })) },
    { name: 'hostname without uts', apply: (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: Json) => n.type !== 'uts')) },
    { name: 'host sysctl', apply: (c) => (c.linux.sysctl = { [pick(['vm.swappiness', 'kernel.core_pattern', 'fs.file-max', '../../x'])]: '1' }) },
    { name: 'seccomp: unknown action', apply: (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_BOGUS' }) },
    { name: 'seccomp: unknown arch', apply: (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_PDP11'] }) },
    { name: 'seccomp: bad operator', apply: (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 9, value: 1, op: 'SCMP_CMP_WHAT' }] }] }) },
    { name: 'seccomp: huge', apply: (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: Array.from({ length: 5000 }, (_, i) => ({ names: [`nosuch${i}`, 'mkdir'], action: 'SCMP_ACT_ERRNO' })) }) },
    { name: 'relative hook', apply: (c) => (c.hooks = { prestart: [{ path: 'bin/true' }] }) },
    { name: 'unknown rlimit', apply: (c) => c.process.rlimits.push({ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }) },
    { name: 'soft above hard', apply: (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 4096, hard: 1 }]) },
    { name: 'unknown capability', apply: (c) => c.process.capabilities.bounding.push('CAP_BOGUS') },
    { name: 'bad device', apply: (c) => (c.linux.devices = [{ path: pick(['dev/x', '/dev/../../x', '/dev/x']), type: pick(['z', 'c', '']), major: -1, minor: 2 ** 40 }]) },
    { name: 'masked path relative', apply: (c) => c.linux.maskedPaths.push('proc/kcore') },
    { name: 'masked path through a symlink out', apply: (c) => c.linux.maskedPaths.push('/escape/masked') },
    { name: 'bad propagation', apply: (c) => (c.linux.rootfsPropagation = 'sideways') },
    { name: 'absolute cgroup path with ..', apply: (c) => (c.linux.cgroupsPath = '/../../../runts-escape') },
    { name: 'bad ociVersion', apply: (c) => (c.ociVersion = pick(['', '99.0.0', 'x'])) },
    { name: 'huge string', apply: (c) => setAt(c, pick([['hostname'], ['process', 'args', 0], ['process', 'env', 0], ['process', 'cwd'], ['mounts', 0, 'destination']]), BIG) },
    { name: 'many args', apply: (c) => (c.process.args = Array.from({ length: 100000 }, () => 'x')) },
    { name: 'NUL in a string', apply: (c) => setAt(c, pick([['hostname'], ['process', 'args', 0], ['process', 'cwd'], ['process', 'env', 0]]), 'a\u0000b') },
  ];
  return fixed;
}

function generate(r: () => number, base: Json, escape: string): { name: string; config: Json }[] {
  const fixed = mutations(r, escape);
  const out: { name: string; config: Json }[] = [];
  for (let i = 0; i < CASES; i++) {
    const c = structuredClone(base);
    let name: string;
    const roll = r();
    if (i < fixed.length) {
      fixed[i]!.apply(c);
      name = fixed[i]!.name;
    } else if (roll < 0.5) {
      const all = paths(c).filter((p) => p.length > 0);
      const p = all[Math.floor(r() * all.length)]!;
      const v = WRONG[Math.floor(r() * WRONG.length)];
      setAt(c, p, structuredClone(v));
      name = `${show(p)} = ${JSON.stringify(v)}`;
    } else if (roll < 0.75) {
      const all = paths(c).filter((p) => p.length > 0);
      const p = all[Math.floor(r() * all.length)]!;
      setAt(c, p, undefined, true);
      name = `delete ${show(p)}`;
    } else {
      const m = fixed[Math.floor(r() * fixed.length)]!;
      if (m.name === 'huge string' || m.name === 'many args') continue; // a few of those are enough
      m.apply(c);
      name = `${m.name} (again)`;
    }
    out.push({ name, config: c });
  }
  return out;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function runts(env: Env, args: string[]): Promise<Outcome> {
  const err = join(env.dir, `err-${args[args.length - 1]}`);
  const fd = openSync(err, 'w');
  return new Promise((resolve) => {
    const p = spawn(RUNTS, ['--root', env.root, ...args], { stdio: ['ignore', 'ignore', fd], timeout: 30000 });
    p.on('exit', (code, signal) => {
      closeSync(fd);
      const stderr = readFileSync(err, 'utf8');
      rmSync(err, { force: true });
      resolve({ code, signal, stderr });
    });
  });
}

t.test(`${CASES} hostile configs: rejected in one line or run safely, nothing left behind`, async (t) => {
  const env = new Env(t);
  // A private rootfs with a symlink that points out of it, at a host dir we watch.
  const outside = join(env.dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'sentinel'), 'untouched');
  const bundle = join(env.dir, 'bundle');
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(bundle);
  cpSync(readFileSync(join(env.bundle(baseConfig(['true'])), 'config.json'), 'utf8').match(/"path": "([^"]+)"/)![1]!, rootfs, { recursive: true, verbatimSymlinks: true });
  symlinkSync(outside, join(rootfs, 'escape'));
  const base = baseConfig(['true']);
  base.root.path = 'rootfs';
  const hostName = hostname();
  const mountsBefore = ownMounts(env);

  const cases = generate(rng(SEED), base, outside);
  const failures: string[] = [];
  let rejected = 0;
  let created = 0;
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const n = next++;
      const { name, config } = cases[n]!;
      const id = env.id('h');
      const dir = join(env.dir, `b${n}`);
      mkdirSync(dir);
      symlinkSync(rootfs, join(dir, 'rootfs'));
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const r = await runts(env, ['create', '--bundle', dir, id]);
      if (process.env['HOSTILE_VERBOSE']) t.comment(`${n} ${name}: ${r.code} ${r.stderr.trim().slice(0, 200)}`);
      const bad = (why: string) => failures.push(`case ${n} (${name}): ${why}: ${r.stderr.slice(0, 300)}`);
      if (r.code === 0) {
        created++;
        const d = await runts(env, ['delete', '--force', id]);
        if (d.code !== 0) bad(`delete --force failed: ${d.stderr}`);
      } else {
        rejected++;
        if (r.code !== 1) bad(`exit ${r.code} signal ${r.signal}`);
        if (!/^runts: [^\n]+\n$/.test(r.stderr)) bad('not one line');
        if (r.stderr.length > 1100) bad(`a ${r.stderr.length}-byte error line`);
        if (/\n\s+at |node:internal|TypeError|RangeError/.test(r.stderr)) bad('stack trace or internal error');
      }
      if (existsSync(join(env.root, id))) bad('state dir left');
      if (cgroupsOf(id).length) bad(`cgroup left: ${cgroupsOf(id).join(' ')}`);
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // A long run says how far it is every 10 s, rather than going silent for minutes.
  const progress = setInterval(() => t.comment(`hostile configs: ${next}/${cases.length} done, ${failures.length} failures so far`), 10_000);
  await Promise.all([worker(), worker()]).finally(() => clearInterval(progress));

  t.same(failures.slice(0, 20), [], `every case rejected cleanly or run safely (${failures.length} failures)`);
  t.ok(rejected > CASES / 3, `most cases rejected (${rejected} rejected, ${created} created)`);
  t.same(readdirSync(outside), ['sentinel'], 'nothing created through the symlink on the host');
  t.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), 'untouched');
  t.equal(hostname(), hostName, 'host name untouched');
  t.notOk(existsSync('/tmp/runts-escape'), 'no .. escape on the host');
  t.same(ownMounts(env), mountsBefore, 'no mounts left under the test\'s dirs and rootfs');
  t.same(readdirSync('/sys/fs/cgroup').filter((c) => existsSync(join('/sys/fs/cgroup', c, 'runts-escape'))), [], 'no cgroup outside /runts');
});
