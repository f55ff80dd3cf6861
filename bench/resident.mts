// The resident path (make bench runs it after bench.mts): memory per container
// of runts-shim, one shim per container and one shim serving all (a group),
// beside containerd 1.6's containerd-shim-runc-v2, for N = 1, 10, 30. Pss
// (proportional set size) splits pages shared between shims fairly.
// Never fails the build.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const TOP = resolve(import.meta.dirname, '..');
const require = createRequire(join(TOP, 'packages', 'shim', 'package.json'));
const { grpc, shimApi } = require('@runts/proto');
const api = shimApi();
const SIZES = (process.env['BENCH_SHIM_N'] ?? '1,10,30').split(',').map(Number);

// Shims (ours and containerd's) outlive their starters; this host's PID 1 does
// not reap, so the bench is their subreaper and reaps them at the end.
const libc = (() => {
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  return { prctl: lib.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)'), waitpid: lib.func('int waitpid(int, _Out_ int *, int)') };
})();
libc.prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0);
const reap = () => {
  while (libc.waitpid(-1, [0], 1 /* WNOHANG */) > 0);
};

const work = mkdtempSync(join(tmpdir(), 'runts-bench-shim-'));
const shims: { pid: number; dir: string; client: any }[] = [];
process.on('exit', () => {
  stopContainerd();
  for (const s of shims) cleanupShim(s);
  rmSync(work, { recursive: true, force: true });
  spawnSync('sleep', ['0.2']);
  reap();
});

function bundle(): string {
  const b = join(work, 'bundle');
  if (existsSync(b)) return b;
  const r = spawnSync(join(TOP, 'test', 'lib', 'make-bundle.sh'), [b], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  spawnSync(join(TOP, 'bin', 'runts'), ['spec', '--bundle', b]);
  const cfg = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['sleep', '1000'];
  writeFileSync(join(b, 'config.json'), JSON.stringify(cfg));
  return b;
}

const call = (client: any, method: string, req: object): Promise<any> =>
  new Promise((res, rej) => client[method](req, (e: Error | null, v: unknown) => (e ? rej(e) : res(v))));
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

async function startShim(): Promise<(typeof shims)[number]> {
  const dir = mkdtempSync(join(work, 'shim-'));
  const address = join(dir, 'task.sock');
  const child = spawn(join(TOP, 'bin', 'runts-shim'), ['--address', address, '--dir', dir], { detached: true, stdio: 'ignore' });
  child.unref();
  // Known before it answers, so the exit handler removes it even if it never does.
  const s = { pid: child.pid!, dir, client: undefined as any };
  shims.push(s);
  // The socket file appears at bind, before listen: retry with a fresh client.
  let client;
  for (let i = 0; ; i++) {
    if (existsSync(address)) {
      client = new api.Task(`unix://${address}`, grpc.credentials.createInsecure());
      if (await call(client, 'Connect', { id: '' }).then(() => true, () => false)) break;
      client.close();
    }
    if (i > 500) throw new Error(`runts-shim did not answer on ${address}`);
    await sleep(20);
  }
  s.client = client;
  return s;
}

function cleanupShim(s: (typeof shims)[number]): void {
  const root = join(s.dir, 'runtime');
  if (existsSync(root)) for (const id of readdirSync(root)) spawnSync(join(TOP, 'bin', 'runts'), ['--root', root, 'delete', '--force', id]);
  try {
    process.kill(s.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  s.client?.close();
}

function pssKiB(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

// containerd with its own root, state and socket; ctr runs runc through the v2 shim.
const CTRD = join(work, 'containerd');
const CTRD_SOCK = join(CTRD, 'containerd.sock');
const NS = `runts-bench-${process.pid}`;
let containerd: ReturnType<typeof spawn> | undefined;
const ctr = (...args: string[]) => spawnSync('ctr', ['--address', CTRD_SOCK, '-n', NS, ...args], { encoding: 'utf8', timeout: 60_000 });

async function startContainerd(): Promise<boolean> {
  if (spawnSync('sh', ['-c', 'command -v containerd && command -v ctr']).status !== 0) return false;
  mkdirSync(CTRD, { recursive: true });
  writeFileSync(join(CTRD, 'config.toml'), [
    'version = 2', `root = "${CTRD}/root"`, `state = "${CTRD}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = "${CTRD_SOCK}"`, '[ttrpc]', `  address = "${CTRD_SOCK}.ttrpc"`, '',
  ].join('\n'));
  containerd = spawn('containerd', ['--config', join(CTRD, 'config.toml')], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    if (existsSync(CTRD_SOCK) && ctr('version').status === 0) return true;
    await sleep(50);
  }
  return false;
}

function stopContainerd(): void {
  if (!containerd) return;
  for (const id of ctr('task', 'ls', '-q').stdout.split('\n').filter(Boolean)) {
    ctr('task', 'kill', '-s', 'SIGKILL', id);
    ctr('task', 'delete', '-f', id);
  }
  for (const id of ctr('container', 'ls', '-q').stdout.split('\n').filter(Boolean)) ctr('container', 'delete', id);
  containerd.kill('SIGKILL');
  // Shims outlive containerd; ours name our socket on their command line.
  for (const pid of shimPids()) process.kill(pid, 'SIGKILL');
  spawnSync('ctr', ['--address', CTRD_SOCK, 'namespace', 'rm', NS]);
  containerd = undefined;
  // runc made /<namespace>/<id> in each hierarchy and removed only <id>.
  for (const dir of ['', ...readdirSync('/sys/fs/cgroup')].map((h) => join('/sys/fs/cgroup', h, NS))) {
    try {
      rmdirSync(dir);
    } catch {
      // Not in this hierarchy (or a v2 host's single one).
    }
  }
}

function shimPids(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return cmd.includes('containerd-shim-runc-v2') && cmd.includes(NS);
    } catch {
      return false;
    }
  });
}

async function measureContainerd(n: number): Promise<number> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `bench-ctrd-${++seq}`;
    const r = ctr('run', '-d', '--runc-binary', '/usr/sbin/runc', '--rootfs', join(bundle(), 'rootfs'), id, '/bin/sleep', '1000');
    if (r.status !== 0) throw new Error(`ctr run: ${r.stderr}`);
    ids.push(id);
  }
  await sleep(2000);
  const total = shimPids().reduce((sum, p) => sum + pssKiB(p), 0);
  for (const id of ids) {
    ctr('task', 'kill', '-s', 'SIGKILL', id);
    for (let i = 0; i < 50 && ctr('task', 'delete', id).status !== 0; i++) await sleep(50);
    ctr('container', 'delete', id);
  }
  return total / n / 1024;
}

let seq = 0;
async function measure(n: number, grouped: boolean): Promise<number> {
  const used: (typeof shims)[number][] = [];
  const group = grouped ? await startShim() : undefined;
  if (group) used.push(group);
  for (let i = 0; i < n; i++) {
    const s = group ?? (await startShim());
    if (!group) used.push(s);
    const id = `bench-shim-${process.pid}-${++seq}`;
    await call(s.client, 'Create', { id, bundle: bundle() });
    await call(s.client, 'Start', { id });
  }
  await sleep(2000); // let start-up garbage be collected
  const total = used.reduce((sum, s) => sum + pssKiB(s.pid), 0);
  for (const s of used) {
    await call(s.client, 'Shutdown', { now: true }).catch(() => undefined);
    cleanupShim(s);
    shims.splice(shims.indexOf(s), 1);
  }
  return total / n / 1024;
}

const haveContainerd = await startContainerd();
const lines = [
  '| containers | runts-shim, one each | runts-shim, one grouped | containerd-shim-runc-v2 (containerd 1.6 + runc) |',
  '| ---: | ---: | ---: | ---: |',
];
for (const n of SIZES) {
  process.stderr.write(`\r\x1b[Kshim memory: N=${n}`);
  const each = await measure(n, false);
  const grouped = await measure(n, true);
  const ctrd = haveContainerd ? (await measureContainerd(n)).toFixed(2) : 'n/a';
  lines.push(`| ${n} | ${each.toFixed(2)} | ${grouped.toFixed(2)} | ${ctrd} |`);
}

// End to end: `runtsctl run --rm` (runtsd + a new shim, or a warm group shim)
// against `ctr run --rm` (containerd + containerd-shim-runc-v2 + runc), interleaved.
const RUNS = process.env['BENCH_QUICK'] === '1' ? 5 : 20;
const SV = join(work, 'runtsd');
const SV_SOCK = join(SV, 'runtsd.sock');
const runtsd = spawn(join(TOP, 'bin', 'runtsd'), ['--address', SV_SOCK, '--state-dir', join(SV, 'state')], { stdio: 'ignore' });
const runtsctl = (...args: string[]) => spawnSync(join(TOP, 'bin', 'runtsctl'), ['--address', SV_SOCK, ...args], { encoding: 'utf8', timeout: 60_000 });
for (let i = 0; i < 200 && runtsctl('ps').status !== 0; i++) await sleep(50);
const trueBundle = join(work, 'true');
mkdirSync(trueBundle);
const trueCfg = JSON.parse(readFileSync(join(bundle(), 'config.json'), 'utf8'));
trueCfg.process.args = ['/bin/true'];
trueCfg.root.path = join(bundle(), 'rootfs');
writeFileSync(join(trueBundle, 'config.json'), JSON.stringify(trueCfg));
runtsctl('run', '-d', '--group', 'warm', '--name', 'warm-keeper', bundle());
const timed = (f: () => { status: number | null; stderr: string }) => {
  const t0 = process.hrtime.bigint();
  const r = f();
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const e2e: Record<string, number[]> = { 'runtsctl run --rm (its own shim; runtsd keeps one warm)': [], 'runtsctl run --rm (a group shim already serving)': [], 'ctr run --rm (containerd + runc)': [] };
// Each run starts on a settled host: what one run left going in the background
// (runtsd booting the next warm shim 0.5 s later, containerd cleaning up) is not charged to the next.
const SETTLE_MS = 1500;
for (let i = 0; i < RUNS; i++) {
  process.stderr.write(`\r\x1b[Krun --rm: ${i + 1}/${RUNS}`);
  await sleep(SETTLE_MS);
  e2e['runtsctl run --rm (its own shim; runtsd keeps one warm)']!.push(timed(() => runtsctl('run', '--rm', trueBundle)));
  await sleep(SETTLE_MS);
  e2e['runtsctl run --rm (a group shim already serving)']!.push(timed(() => runtsctl('run', '--rm', '--group', 'warm', trueBundle)));
  await sleep(SETTLE_MS);
  if (haveContainerd) e2e['ctr run --rm (containerd + runc)']!.push(timed(() => ctr('run', '--rm', '--runc-binary', '/usr/sbin/runc', '--rootfs', join(bundle(), 'rootfs'), `bench-rm-${++seq}`, '/bin/true')));
}
runtsctl('rm', '-f', 'warm-keeper');
const runtsdGone = new Promise((res) => runtsd.once('exit', res));
runtsd.kill('SIGTERM');
await runtsdGone;
await sleep(500);
// Shims outlive runtsd by design; the warm one it kept goes with the bench.
const svShims = join(SV, 'state', 'shims');
for (const d of existsSync(svShims) ? readdirSync(svShims) : []) {
  const pidFile = join(svShims, d, 'shim.pid');
  if (existsSync(pidFile)) shims.push({ pid: Number(readFileSync(pidFile, 'utf8')), dir: join(svShims, d), client: undefined });
}
stopContainerd();
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const base = median(e2e['ctr run --rm (containerd + runc)']!);
const e2eLines = ['| path | median ms | min | max | vs ctr |', '| --- | ---: | ---: | ---: | ---: |'];
for (const [name, xs] of Object.entries(e2e)) {
  if (!xs.length) continue;
  e2eLines.push(`| ${name} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)} | ${Math.max(...xs).toFixed(1)} | ${base ? (median(xs) / base).toFixed(2) : 'n/a'} |`);
}
process.stderr.write('\r\x1b[K');
const text = [
  `## Shim memory, MiB Pss per container (${new Date().toISOString().slice(0, 10)})`, '',
  'Containers run `sleep 1000`; Pss from /proc/PID/smaps_rollup of the shim processes, 2 s after the last start.', '', ...lines, '',
  `## End to end, \`run --rm\` of /bin/true, ${RUNS} interleaved runs`, '',
  'runtsctl: runtsd gives the container its own shim (booted ahead: `--warm-shims 1`, the default) or a group shim that a long-running container keeps; the shim runs the container in process. ctr: containerd 1.6 starts containerd-shim-runc-v2, which runs runc. Each run starts 1.5 s after the previous one, so what that one left going (the next warm shim booting, containerd cleaning up) is not charged to it.', '',
  ...e2eLines, '',
].join('\n');
console.log(text);
if (process.env['BENCH_QUICK'] !== '1') writeFileSync(join(TOP, 'bench', 'RESIDENT.md'), text);
