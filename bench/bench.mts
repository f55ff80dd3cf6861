// make bench: runts, runc and crun side by side on one busybox bundle,
// interleaved so that machine noise hits all of them alike. Never fails the build.
// Runs under Node 24's type stripping: no imports from the workspace.
import { spawnSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const TOP = resolve(import.meta.dirname, '..');
const NODE = join(TOP, 'node_modules', '.bin', 'node');
const QUICK = process.env['BENCH_QUICK'] === '1';
const N = QUICK ? 5 : 30;

interface Runtime {
  name: string;
  bin: string;
}

const runtimes: Runtime[] = [
  { name: 'runts', bin: join(TOP, 'bin', 'runts') },
  // The single executable, when `make sea` has built it.
  { name: 'runts (SEA)', bin: join(TOP, 'dist', 'runts') },
  { name: 'runc', bin: '/usr/sbin/runc' },
  { name: 'crun', bin: '/usr/bin/crun' },
].filter((r) => existsSync(r.bin));

const work = mkdtempSync(join(tmpdir(), 'runts-bench-'));
// The SEA writes its native assets once to a root-only dir: the bench's own, not the host's /var/lib/runts.
process.env['RUNTS_LIB_DIR'] ??= join(work, 'lib');
// Names in ids and paths: 'runts (SEA)' -> 'runts-SEA'.
const slug = (rt: Runtime) => rt.name.replace(/\W+/g, '-').replace(/-$/, '');
// Even after a failure: no container, cgroup or state left behind.
process.on('exit', () => {
  for (const rt of runtimes) {
    const root = join(work, `root-${slug(rt)}`);
    if (!existsSync(root)) continue;
    const ids = spawnSync(rt.bin, ['--root', root, 'list', '-q'], { encoding: 'utf8' }).stdout ?? '';
    for (const cid of ids.split('\n').filter(Boolean)) spawnSync(rt.bin, ['--root', root, 'delete', '--force', cid], { stdio: 'ignore' });
  }
  rmSync(work, { recursive: true, force: true });
});

function progress(msg: string): void {
  process.stderr.write(`\r\x1b[K${msg}`);
}

function makeBundle(): string {
  const bundle = join(work, 'bundle');
  const r = spawnSync(join(TOP, 'test', 'lib', 'make-bundle.sh'), [bundle], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const spec = spawnSync('/usr/sbin/runc', ['spec', '--bundle', bundle], { encoding: 'utf8' });
  if (spec.status !== 0) throw new Error(spec.stderr);
  const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['/bin/true'];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(cfg));
  return bundle;
}

function rootFor(rt: Runtime): string {
  const dir = join(work, `root-${slug(rt)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// The container inherits stderr and keeps it open past `create`: a file, not a pipe whose EOF would never come.
const errFile = join(work, 'stderr');
function exec(rt: Runtime, args: string[], bundle: string): number {
  const fd = openSync(errFile, 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(rt.bin, ['--root', rootFor(rt), ...args], { cwd: bundle, stdio: ['ignore', 'ignore', fd] });
  const t = ms(t0);
  closeSync(fd);
  if (r.status !== 0) throw new Error(`${rt.name} ${args.join(' ')}: ${readFileSync(errFile, 'utf8').trim()}`);
  return t;
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

type Row = { metric: string; unit: string; values: Map<string, number[]> };
const rows: Row[] = [];
function row(metric: string, unit: string): Row {
  const r = { metric, unit, values: new Map<string, number[]>() };
  rows.push(r);
  return r;
}
function add(r: Row, name: string, v: number): void {
  const list = r.values.get(name) ?? [];
  list.push(v);
  r.values.set(name, list);
}

let seq = 0;
const id = (rt: Runtime) => `bench-${slug(rt)}-${process.pid}-${++seq}`;

async function concurrent(rt: Runtime, bundle: string, total: number, width: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      await new Promise<void>((res, rej) => {
        const p = spawn(rt.bin, ['--root', rootFor(rt), 'run', id(rt)], { cwd: bundle, stdio: 'ignore' });
        p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`${rt.name} run exited ${code}`))));
      });
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return ms(t0);
}

function peakRss(rt: Runtime, bundle: string): number {
  // GNU time's ru_maxrss (KiB). It forks a small process: a vfork'd child
  // (posix_spawn) would count its parent's pages at exec, a floor of ~13 MiB.
  const cid = id(rt);
  const out = join(work, 'rss');
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, rt.bin, '--root', rootFor(rt), 'create', cid], { cwd: bundle, stdio: 'ignore' });
  exec(rt, ['delete', '--force', cid], bundle);
  if (r.status !== 0) throw new Error(`${rt.name} create exited ${r.status}`);
  return Number(readFileSync(out, 'utf8').trim()) / 1024;
}

async function main(): Promise<void> {
  const bundle = makeBundle();
  const floor = row('node -e 0 (floor)', 'ms');
  const run = row('run /bin/true', 'ms');
  const create = row('create', 'ms');
  const start = row('start', 'ms');
  const del = row('delete', 'ms');
  for (let i = 0; i < N; i++) {
    progress(`single operations ${i + 1}/${N}`);
    const t0 = process.hrtime.bigint();
    spawnSync(NODE, ['-e', '0']);
    add(floor, 'node', ms(t0));
    for (const rt of runtimes) {
      add(run, rt.name, exec(rt, ['run', id(rt)], bundle));
      const cid = id(rt);
      add(create, rt.name, exec(rt, ['create', cid], bundle));
      add(start, rt.name, exec(rt, ['start', cid], bundle));
      // start returns before /bin/true has exited: wait until the state says stopped.
      for (let k = 0; k < 500; k++) {
        const s = spawnSync(rt.bin, ['--root', rootFor(rt), 'state', cid], { encoding: 'utf8' });
        if (s.status !== 0 || JSON.parse(s.stdout).status === 'stopped') break;
      }
      add(del, rt.name, exec(rt, ['delete', cid], bundle));
    }
  }
  const seqRow = row(`${QUICK ? 10 : 100} sequential runs`, 'ms total');
  const concRow = row(`${QUICK ? 10 : 50} runs, 2 concurrent`, 'ms total');
  for (const rt of runtimes) {
    progress(`sequential runs: ${rt.name}`);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < (QUICK ? 10 : 100); i++) exec(rt, ['run', id(rt)], bundle);
    add(seqRow, rt.name, ms(t0));
    progress(`concurrent runs: ${rt.name}`);
    add(concRow, rt.name, await concurrent(rt, bundle, QUICK ? 10 : 50, 2));
  }
  const stateRow = row('state (50 containers)', 'ms');
  const listRow = row('list (50 containers)', 'ms');
  const rssRow = row('peak RSS of create', 'MiB');
  for (const rt of runtimes) {
    progress(`state/list with 50 containers: ${rt.name}`);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const cid = id(rt);
      exec(rt, ['create', cid], bundle);
      ids.push(cid);
    }
    for (let i = 0; i < N; i++) {
      add(stateRow, rt.name, exec(rt, ['state', ids[i % ids.length]!], bundle));
      add(listRow, rt.name, exec(rt, ['list'], bundle));
    }
    for (const cid of ids) exec(rt, ['delete', '--force', cid], bundle);
    for (let i = 0; i < (QUICK ? 3 : 10); i++) add(rssRow, rt.name, peakRss(rt, bundle));
  }
  progress('');
  report(floor);
  seccompCompile();
}

const PODMAN_PROFILE = '/usr/share/containers/seccomp.json';

/** runts' own BPF compiler on podman's default profile, in process (issue target: under 5 ms). */
function seccompCompile(): void {
  const lines = ['', '## seccomp: compile podman\'s default profile', ''];
  if (!existsSync(PODMAN_PROFILE)) {
    lines.push(`skipped: ${PODMAN_PROFILE} is missing (Debian's golang-github-containers-common)`);
  } else {
    const { compile } = createRequire(import.meta.url)(join(TOP, 'packages', 'seccomp', 'dist', 'index.js'));
    const profile = JSON.parse(readFileSync(PODMAN_PROFILE, 'utf8'));
    const first = process.hrtime.bigint();
    const out = compile(profile);
    const cold = ms(first);
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = process.hrtime.bigint();
      compile(profile);
      times.push(ms(t0));
    }
    const s = stats(times);
    const names = profile.syscalls.reduce((n: number, r: { names: string[] }) => n + r.names.length, 0);
    lines.push(`${profile.syscalls.length} rules, ${names} syscall names → ${out.instructions} BPF instructions. ` +
      `First call ${cold.toFixed(2)} ms; then median ${s.median.toFixed(2)} ms (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)}) over 100.`);
  }
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (!QUICK) writeFileSync(join(TOP, 'bench', 'RESULTS.md'), text, { flag: 'a' });
}

function report(floorRow: Row): void {
  const floor = stats(floorRow.values.get('node')!).median;
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  const lines: string[] = [];
  lines.push('# Benchmarks: runts, runc, crun');
  lines.push('');
  const versions = runtimes.map((rt) => `${rt.name} ${spawnSync(rt.bin, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]!.replace(/^.*version\s*/, '')}`);
  lines.push(`${new Date().toISOString()} · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · Linux ${release()} · ${versions.join(' · ')} · ${N} samples, interleaved`);
  lines.push('');
  lines.push(`Median (min–max). Ratios: to runc's median, and for times to the \`node -e 0\` floor (${fmt(floor)} ms).`);
  lines.push('');
  lines.push(`| metric | ${runtimes.map((r) => r.name).join(' | ')} | runts / runc | runts / floor |`);
  lines.push(`| --- |${runtimes.map(() => ' --- |').join('')} --- | --- |`);
  for (const r of rows) {
    if (r === floorRow) continue;
    const cells = runtimes.map((rt) => {
      const v = r.values.get(rt.name);
      if (!v) return '–';
      const s = stats(v);
      return v.length > 1 ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}) ${r.unit}` : `${fmt(s.median)} ${r.unit}`;
    });
    const m = (n: string) => (r.values.get(n) ? stats(r.values.get(n)!).median : NaN);
    const ratio = m('runts') / m('runc');
    const toFloor = r.unit === 'ms' ? (m('runts') / floor).toFixed(2) + '×' : '–';
    lines.push(`| ${r.metric} | ${cells.join(' | ')} | ${Number.isFinite(ratio) ? ratio.toFixed(2) + '×' : '–'} | ${toFloor} |`);
  }
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (!QUICK) writeFileSync(join(TOP, 'bench', 'RESULTS.md'), text);
}

main().catch((e) => {
  progress('');
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 0;
});
