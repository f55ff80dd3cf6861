// make bench, the engines' part: containerd 1.6 with each runtime, side by
// side in one run, interleaved, appended to bench/RESULTS.md:
//   - `ctr run --rm` of /bin/true: runts-shim (io.containerd.runts.v1), and
//     the runc v2 shim running runc, runts and crun;
//   - shim Pss per container, 30 containers in one group and one shim each;
//   - CRI: RunPodSandbox to a started container, and the pod's removal, for
//     the runts, runts-shim and runc handlers; shim Pss per pod with 10 pods.
// Runs with tap's TypeScript loader (make bench), as the engine tests do,
// whose private containerd and images it reuses. Never fails the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, TOP, containerdConfig, ociArchive, sh, sleep, waitFor } from '../test/engines/lib';
import { CriNode, RUNTS_SHIM, type Handler } from '../test/cri/lib';

const QUICK = process.env['BENCH_QUICK'] === '1';
const RUNS = QUICK ? 4 : 20;
const GROUP = QUICK ? 5 : 30;
const PODS = QUICK ? 3 : 10;
/** Between runs: what one run leaves going (a warm shim booting, containerd's cleanup) is not charged to the next. */
const GAP_MS = 500;
const IMG = 'localhost/runts-busybox:latest';

const teardowns: (() => void | Promise<void>)[] = [];
const owner = { teardown: (fn: () => void | Promise<void>) => void teardowns.unshift(fn) };
const lines: string[] = [];
const say = (s = '') => {
  lines.push(s);
  process.stdout.write(`${s}\n`);
};
const progress = (m: string) => process.stderr.write(`\r\x1b[K${m}`);

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] ?? NaN, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

/** Pss in MiB of the processes whose command line has all of `marks`. */
function pss(marks: string[]): { mib: number; procs: number } {
  let kib = 0;
  let procs = 0;
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (!marks.every((m) => cmd.includes(m))) continue;
      kib += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      procs++;
    } catch {
      // Gone meanwhile.
    }
  }
  return { mib: kib / 1024, procs };
}

async function ctrBench(): Promise<void> {
  const e = new Engine(owner, 'bench');
  const ns = e.tag;
  const sock = e.path('containerd.sock');
  e.tidyDirs(['/run/containerd', '/run/containerd/s', '/run/containerd/runts', `/run/containerd/runts/${ns}`, '/run/containerd/runts-shim', '/run/containerd/fifo']);
  mkdirSync(e.path('bin'));
  symlinkSync(RUNTS_SHIM, e.path('bin', 'containerd-shim-runts-v1'));
  writeFileSync(e.path('config.toml'), containerdConfig(e, sock));
  e.daemon('containerd', ['--config', e.path('config.toml')], e.path('containerd.log'), { ...process.env, PATH: `${e.path('bin')}:${process.env['PATH']}` });
  const ctr = (...args: string[]) => sh('ctr', ['--address', sock, '-n', ns, ...args], { timeoutMs: 60_000 });
  await waitFor('containerd', () => existsSync(sock) && ctr('version').code === 0, 20_000);
  e.onCleanup(() => {
    for (const id of ctr('task', 'ls', '-q').stdout.split('\n').filter(Boolean)) {
      ctr('task', 'kill', '-a', '-s', 'SIGKILL', id);
      ctr('task', 'delete', '-f', id);
    }
    for (const id of ctr('container', 'ls', '-q').stdout.split('\n').filter(Boolean)) ctr('container', 'delete', id);
  });
  const imp = ctr('image', 'import', '--snapshotter', 'overlayfs', '--base-name', 'localhost/runts-busybox', ociArchive(IMG));
  if (imp.code !== 0) throw new Error(`ctr image import: ${imp.stderr}`);

  const paths = [
    { name: 'runts-shim', flags: ['--runtime', 'io.containerd.runts.v1'] },
    { name: 'runc.v2 + runc', flags: ['--runtime', 'io.containerd.runc.v2', '--runc-binary', '/usr/sbin/runc'] },
    { name: 'runc.v2 + runts', flags: ['--runtime', 'io.containerd.runc.v2', '--runc-binary', join(TOP, 'bin', 'runts')] },
    { name: 'runc.v2 + crun', flags: ['--runtime', 'io.containerd.runc.v2', '--runc-binary', '/usr/bin/crun'] },
  ].filter((p) => !p.flags.includes('/usr/bin/crun') || existsSync('/usr/bin/crun'));
  const times = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  let seq = 0;
  const runRm = (flags: string[]) => {
    const t0 = process.hrtime.bigint();
    const r = ctr('run', '--rm', '--snapshotter', 'overlayfs', '--fifo-dir', e.path('fifo'), ...flags, IMG, `r${++seq}`, '/bin/true');
    if (r.code !== 0) throw new Error(`ctr run ${flags.join(' ')}: ${r.stderr.trim()}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  // One unmeasured run each: images unpacked, a warm shim booted, caches filled.
  for (const p of paths) runRm(p.flags);
  for (let i = 0; i < RUNS; i++) {
    for (const p of paths) {
      progress(`ctr run --rm: ${p.name} ${i + 1}/${RUNS}`);
      await sleep(GAP_MS);
      times.get(p.name)!.push(runRm(p.flags));
    }
  }
  progress('');
  const base = stats(times.get('runc.v2 + runc')!).median;
  say(`## containerd: \`ctr run --rm\` of /bin/true, ${RUNS} interleaved runs`);
  say();
  say(`containerd ${sh('containerd', ['--version']).stdout.trim().split(' ')[2] ?? ''}, overlayfs snapshotter. Each run starts ${GAP_MS} ms after the previous one ends. runts-shim: containerd execs the native front, which hands \`start\` and \`delete\` to the warm shim; that shim runs the task in process.`);
  say();
  say('| path | median ms | min | max | vs runc.v2 + runc |');
  say('| --- | ---: | ---: | ---: | ---: |');
  for (const p of paths) {
    const s = stats(times.get(p.name)!);
    say(`| ${p.name} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${(s.median / base).toFixed(2)}× |`);
  }
  say();

  // Memory: GROUP long-running containers per path, then the shims' Pss.
  const mem: [string, number, number][] = [];
  const layouts = [
    { name: 'runts-shim, one group', flags: ['--runtime', 'io.containerd.runts.v1', '--annotation', 'io.kubernetes.cri.sandbox-id=benchgroup'], shim: 'containerd-shim-runts-v1' },
    { name: 'containerd-shim-runc-v2 + runc, one group', flags: ['--runtime', 'io.containerd.runc.v2', '--runc-binary', '/usr/sbin/runc', '--annotation', 'io.kubernetes.cri.sandbox-id=benchgroup2'], shim: 'containerd-shim-runc-v2' },
    { name: 'containerd-shim-runc-v2 + runc, one shim each (ctr\'s default)', flags: ['--runtime', 'io.containerd.runc.v2', '--runc-binary', '/usr/sbin/runc'], shim: 'containerd-shim-runc-v2' },
  ];
  for (const l of layouts) {
    const ids: string[] = [];
    for (let i = 0; i < GROUP; i++) {
      progress(`memory: ${l.name} ${i + 1}/${GROUP}`);
      const id = `m${++seq}`;
      const r = ctr('run', '-d', '--snapshotter', 'overlayfs', '--fifo-dir', e.path('fifo'), ...l.flags, IMG, id, 'sleep', '1000');
      if (r.code !== 0) throw new Error(`ctr run -d ${l.name}: ${r.stderr.trim()}`);
      ids.push(id);
    }
    await sleep(2000);
    const m = pss([l.shim, sock]);
    mem.push([l.name, m.mib, m.procs]);
    for (const id of ids) {
      ctr('task', 'kill', '-s', 'SIGKILL', id);
    }
    for (const id of ids) {
      await waitFor(`${id} stopped`, () => !/RUNNING/.test(ctr('task', 'ls').stdout.split('\n').find((x) => x.startsWith(`${id} `)) ?? ''), 10_000).catch(() => undefined);
      ctr('task', 'delete', id);
      ctr('container', 'delete', id);
    }
  }
  progress('');
  say(`## containerd: shim Pss per container, ${GROUP} containers running \`sleep\``);
  say();
  say('Pss from /proc/PID/smaps_rollup of every shim process of the path (runts-shim\'s includes its warm spare), 2 s after the last start.');
  say();
  say('| shims | processes | MiB Pss total | MiB Pss per container |');
  say('| --- | ---: | ---: | ---: |');
  for (const [name, mib, procs] of mem) say(`| ${name} | ${procs} | ${fmt(mib)} | ${(mib / GROUP).toFixed(2)} |`);
  say();
  e.cleanup();
}

async function criBench(): Promise<void> {
  const handlers: Handler[] = [
    { name: 'runts', binary: join(TOP, 'bin', 'runts') },
    { name: 'runts-shim', runtimeType: 'io.containerd.runts.v1' },
    { name: 'runc', binary: '/usr/sbin/runc' },
  ];
  const node = new CriNode(owner, handlers);
  await node.start();
  node.importImages();
  const start = new Map<string, number[]>(handlers.map((h) => [h.name, []]));
  const remove = new Map<string, number[]>(handlers.map((h) => [h.name, []]));
  let seq = 0;
  const onePod = async (h: Handler, measure: boolean) => {
    const name = `b${++seq}`;
    const pod = node.podConfig(name);
    const t0 = process.hrtime.bigint();
    const podId = await node.runPod(h.name, pod);
    await node.runContainer(podId, pod, node.containerConfig('true', ['/bin/true']));
    const t1 = process.hrtime.bigint();
    await node.waitExited(await firstContainer(node, podId));
    const t2 = process.hrtime.bigint();
    await node.removePod(podId);
    const t3 = process.hrtime.bigint();
    if (measure) {
      start.get(h.name)!.push(Number(t1 - t0) / 1e6);
      remove.get(h.name)!.push(Number(t3 - t2) / 1e6);
    }
  };
  for (const h of handlers) await onePod(h, false);
  for (let i = 0; i < RUNS; i++) {
    for (const h of handlers) {
      progress(`CRI pod start: ${h.name} ${i + 1}/${RUNS}`);
      await sleep(GAP_MS);
      await onePod(h, true);
    }
  }
  progress('');
  const base = (m: Map<string, number[]>) => stats(m.get('runc')!).median;
  say(`## Kubernetes' node path: containerd's CRI plugin, ${RUNS} interleaved pods per handler`);
  say();
  say('A pod of one container running /bin/true, host network. Start: RunPodSandbox, CreateContainer and StartContainer. Removal: StopPodSandbox and RemovePodSandbox after the container exited. Handlers: runts (the runc v2 shim with BinaryName runts), runts-shim (containerd-shim-runts-v1, no runtime exec), runc.');
  say();
  say('| handler | pod start ms (min–max) | vs runc | pod removal ms (min–max) | vs runc |');
  say('| --- | ---: | ---: | ---: | ---: |');
  for (const h of handlers) {
    const s = stats(start.get(h.name)!);
    const r = stats(remove.get(h.name)!);
    say(`| ${h.name} | ${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}) | ${(s.median / base(start)).toFixed(2)}× | ${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)}) | ${(r.median / base(remove)).toFixed(2)}× |`);
  }
  say();

  say(`## CRI: shim Pss per pod, ${PODS} pods of one \`sleep\` container each`);
  say();
  say('| handler | shim processes | MiB Pss total | MiB Pss per pod |');
  say('| --- | ---: | ---: | ---: |');
  for (const h of handlers) {
    const pods: string[] = [];
    for (let i = 0; i < PODS; i++) {
      progress(`CRI memory: ${h.name} ${i + 1}/${PODS}`);
      const pod = node.podConfig(`m${++seq}`);
      const podId = await node.runPod(h.name, pod);
      await node.runContainer(podId, pod, node.containerConfig('sleep', ['sleep', '1000']));
      pods.push(podId);
    }
    await sleep(2000);
    const m = pss([h.runtimeType ? 'containerd-shim-runts-v1' : 'containerd-shim-runc-v2', node.sock]);
    say(`| ${h.name} | ${m.procs} | ${fmt(m.mib)} | ${(m.mib / PODS).toFixed(2)} |`);
    for (const podId of pods) await node.removePod(podId);
  }
  progress('');
  say();
}

async function firstContainer(node: CriNode, podId: string): Promise<string> {
  const r = await node.client.runtime.ListContainers({ filter: { podSandboxId: podId } });
  const id = r.containers[0]?.id;
  if (!id) throw new Error(`pod ${podId}: no container`);
  return id;
}

async function main(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v containerd && command -v ctr'], { stdio: 'ignore' }).status !== 0) {
    console.error('bench: containerd is not installed; skipped');
    return;
  }
  try {
    await ctrBench();
    await criBench();
  } finally {
    for (const fn of teardowns) await fn();
  }
  if (!QUICK) writeFileSync(join(TOP, 'bench', 'RESULTS.md'), `\n${lines.join('\n')}\n`, { flag: 'a' });
}

main().catch((e) => {
  progress('');
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 0;
}).finally(() => process.exit());
