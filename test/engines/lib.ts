// Engine tests: real podman / containerd / docker, each started privately
// under a temp dir, driving RUNTIME (default bin/runts; RUNTIME=/usr/sbin/runc
// to compare). Node built-ins only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync,
  renameSync, rmSync, rmdirSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Test } from 'tap';

export const TOP = resolve(__dirname, '..', '..');
export const RUNTIME = resolve(process.env['RUNTIME'] ?? join(TOP, 'bin', 'runts'));
export const CACHE = join(TOP, 'test', 'engines', '.cache');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
}

/** Runs a command to completion. Output goes to files, not pipes: detached
 * containers and daemons may inherit and keep a pipe open forever. */
export function sh(cmd: string, args: string[], opts: RunOpts = {}): Result {
  const dir = mkdtempSync(join(tmpdir(), 'runts-eng-out-'));
  const out = join(dir, 'out');
  const err = join(dir, 'err');
  const fds = [openSync(out, 'w'), openSync(err, 'w')] as const;
  try {
    const r = spawnSync(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', fds[0], fds[1]],
      input: opts.input,
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      timeout: opts.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
    const stderr = readFileSync(err, 'utf8') + (r.error ? `\n[spawn: ${r.error.message}]` : '');
    return { code: r.status ?? 128 + 9, stdout: readFileSync(out, 'utf8'), stderr };
  } finally {
    fds.forEach((fd) => closeSync(fd));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs cmd on a pty (util-linux script), for -t / -it cases. */
export function onPty(argv: string[], opts: RunOpts = {}): Result {
  const line = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return sh('script', ['-qefc', line, '/dev/null'], opts);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(what: string, fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fn()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Installs Debian packages if missing; returns a reason string when it can't. */
export function ensurePackages(pkgs: string[]): string | undefined {
  const missing = pkgs.filter((p) => sh('dpkg-query', ['-W', '-f=${Status}', p]).stdout !== 'install ok installed');
  if (missing.length === 0) return undefined;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const r = sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, timeoutMs: 300_000 });
  if (r.code === 0) return undefined;
  const u = sh('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
  const r2 = sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, timeoutMs: 300_000 });
  return r2.code === 0 ? undefined : `cannot install ${missing.join(' ')}: ${(u.stderr + r2.stderr).trim().slice(-400)}`;
}

/** A plain tar of a busybox rootfs (for podman/docker import), cached. */
export function rootfsTar(): string {
  mkdirSync(CACHE, { recursive: true });
  const tar = join(CACHE, 'busybox-rootfs.tar');
  if (existsSync(tar)) return tar;
  const dir = mkdtempSync(join(tmpdir(), 'runts-eng-rootfs-'));
  try {
    const mk = sh(join(TOP, 'test', 'lib', 'make-bundle.sh'), [dir]);
    if (mk.code !== 0) throw new Error(`make-bundle: ${mk.stderr}`);
    const t = sh('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', join(dir, 'rootfs'), '-cf', `${tar}.${process.pid}.tmp`, '.']);
    if (t.code !== 0) throw new Error(`tar: ${t.stderr}`);
    renameSync(`${tar}.${process.pid}.tmp`, tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tar;
}

/** An OCI image-layout archive for `ctr image import`: of the busybox rootfs,
 * or of image.layer (a plain tar, cached by its name) run as image.cmd. */
export function ociArchive(name: string, image: { layer: string; cmd: string[] } = { layer: rootfsTar(), cmd: ['/bin/sh'] }): string {
  const out = join(CACHE, `${basename(image.layer, '.tar')}-oci-${name.replace(/[^A-Za-z0-9]+/g, '_')}.tar`);
  if (existsSync(out)) return out;
  const layer = readFileSync(image.layer);
  const dir = mkdtempSync(join(tmpdir(), 'runts-eng-oci-'));
  try {
    const blobs = join(dir, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (data: Buffer | string, mediaType: string, extra: object = {}) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
      const hex = createHash('sha256').update(buf).digest('hex');
      writeFileSync(join(blobs, hex), buf);
      return { mediaType, digest: `sha256:${hex}`, size: buf.length, ...extra };
    };
    const layerDesc = put(layer, 'application/vnd.oci.image.layer.v1.tar');
    const config = put(JSON.stringify({
      architecture: 'amd64', os: 'linux',
      config: { Env: ['PATH=/bin:/sbin:/usr/bin'], Cmd: image.cmd },
      rootfs: { type: 'layers', diff_ids: [layerDesc.digest] },
    }), 'application/vnd.oci.image.config.v1+json');
    const manifest = put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layerDesc] }),
      'application/vnd.oci.image.manifest.v1+json', {
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': 'latest' },
      });
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [manifest] }));
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const t = sh('tar', ['--numeric-owner', '-C', dir, '-cf', `${out}.${process.pid}.tmp`, 'oci-layout', 'index.json', 'blobs']);
    if (t.code !== 0) throw new Error(`tar: ${t.stderr}`);
    renameSync(`${out}.${process.pid}.tmp`, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** docker.io from Debian unpacked (never installed: its scripts would start a
 * system dockerd) into the cache; returns the tree's root or a skip reason. */
export function dockerTree(): { root: string } | { skip: string } {
  const root = join(CACHE, 'docker.io');
  if (existsSync(join(root, 'usr', 'sbin', 'dockerd'))) return { root };
  mkdirSync(CACHE, { recursive: true });
  const dl = mkdtempSync(join(CACHE, 'dl-'));
  try {
    chmodSync(dl, 0o755); // apt's _apt user writes the download here
    let r = sh('apt-get', ['download', 'docker.io'], { timeoutMs: 300_000, cwd: dl });
    if (r.code !== 0) {
      sh('apt-get', ['update', '-qq'], { timeoutMs: 300_000 });
      r = sh('apt-get', ['download', 'docker.io'], { timeoutMs: 300_000, cwd: dl });
    }
    const deb = readdirSync(dl).find((f) => f.endsWith('.deb'));
    if (r.code !== 0 || !deb) return { skip: `apt-get download docker.io failed: ${r.stderr.trim().slice(-400)}` };
    const tmp = `${root}.${process.pid}.tmp`;
    const x = sh('dpkg', ['-x', join(dl, deb), tmp]);
    if (x.code !== 0) return { skip: `dpkg -x: ${x.stderr}` };
    rmSync(root, { recursive: true, force: true });
    renameSync(tmp, root);
    return { root };
  } finally {
    rmSync(dl, { recursive: true, force: true });
  }
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** One private engine instance: temp dir, unique tag, runtime trace, daemons
 * it started, and a teardown that leaves nothing behind, even on failure. */
export class Engine {
  readonly dir: string;
  /** Unique, short: names cgroup parents, namespaces and container names. */
  readonly tag: string;
  /** A wrapper with RUNTIME's basename (podman keys JSON-log support on the
   * name) that logs each call's argv, then execs RUNTIME. */
  readonly runtime: string;
  readonly traceFile: string;
  private daemons: ChildProcess[] = [];
  private cleanups: (() => void)[] = [];
  private done = false;

  constructor(t: Teardown, readonly engine: string) {
    this.dir = mkdtempSync(join(tmpdir(), `runts-eng-${engine}-`));
    chmodSync(this.dir, 0o711);
    this.tag = `runts-eng-${engine}-${process.pid}`;
    this.traceFile = join(this.dir, 'rt', 'calls.log');
    mkdirSync(join(this.dir, 'rt'));
    this.runtime = join(this.dir, 'rt', basename(RUNTIME));
    // On create it also keeps the bundle's config.json (engines delete bundles on failure).
    writeFileSync(this.runtime, [
      '#!/bin/sh',
      `echo "$(date +%T.%N) $*" >> '${this.traceFile}'`,
      'b=; prev=; for a in "$@"; do [ "$prev" = --bundle ] && b=$a; prev=$a; done',
      `[ -n "$b" ] && cp "$b/config.json" '${join(this.dir, 'rt')}/config-'"$prev"'.json' 2>/dev/null`,
      `exec '${RUNTIME}' "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
    t.teardown(() => this.cleanup());
    const onSignal = () => { this.cleanup(); process.exit(1); };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    process.once('exit', () => this.cleanup());
  }

  path(...p: string[]): string {
    return join(this.dir, ...p);
  }

  /** Runtime calls logged so far (argv), for failure messages. */
  trace(last = 12): string {
    if (!existsSync(this.traceFile)) return '(no runtime calls)';
    return readFileSync(this.traceFile, 'utf8').trim().split('\n').slice(-last).join('\n');
  }

  /** Diagnostics for a failed assertion (tap prints extras only on failure). */
  evidence(r: Result): { stdout: string; stderr: string; exit: number; runtimeCalls: string; runtimeLogs: string } {
    return { exit: r.code, stdout: r.stdout.slice(-2000), stderr: r.stderr.trim().slice(-2000), runtimeCalls: this.trace(), runtimeLogs: this.runtimeLogs() };
  }

  /** The config.json the engine gave the runtime for container id (kept by the wrapper). */
  config(id: string): any {
    const f = join(this.dir, 'rt', `config-${id}.json`);
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
  }

  /** Runtime log files (--log) the engine asked for, newest lines. */
  runtimeLogs(): string {
    if (!existsSync(this.traceFile)) return '';
    const files = readFileSync(this.traceFile, 'utf8').match(/--log[ =](\S+)/g) ?? [];
    const seen = new Set<string>();
    let s = '';
    for (const f of files.map((x) => x.replace(/^--log[ =]/, ''))) {
      if (seen.has(f) || !existsSync(f)) continue;
      seen.add(f);
      s += `${f}: ${readFileSync(f, 'utf8').trim().split('\n').slice(-3).join('\n')}\n`;
    }
    return s;
  }

  /** Starts a long-running daemon in its own process group, output to logFile. */
  daemon(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true, env });
    closeSync(fd);
    child.on('error', () => undefined);
    this.daemons.push(child);
    return child;
  }

  /** Host dirs an engine creates where we can't point it elsewhere: those
   * missing now are removed at cleanup if empty (never anyone else's). */
  tidyDirs(dirs: string[]): void {
    const missing = dirs.filter((d) => !existsSync(d));
    this.onCleanupLast(() => {
      for (const d of missing.sort((a, b) => b.length - a.length)) try { rmdirSync(d); } catch { /* not empty or gone */ }
    });
  }

  private lastCleanups: (() => void)[] = [];
  private onCleanupLast(fn: () => void): void {
    this.lastCleanups.push(fn);
  }

  onCleanup(fn: () => void): void {
    this.cleanups.unshift(fn);
  }

  cleanup(): void {
    if (this.done) return;
    this.done = true;
    // Engine-level removal first (registered by each test), then daemons.
    for (const fn of this.cleanups) {
      try { fn(); } catch { /* keep going: the rest must still run */ }
    }
    for (const d of this.daemons.reverse()) stopPid(d.pid, 15_000);
    // Whatever the engine left: shims/conmon/containers we caused, found by
    // our unique dir or tag in their command line or cgroup.
    killOurs([this.dir, this.tag]);
    unmountUnder(this.dir);
    removeCgroups(this.tag);
    // ENGINE_KEEP_TRACE=dir keeps the runtime calls and configs for a debug run.
    const keep = process.env['ENGINE_KEEP_TRACE'];
    if (keep) spawnSync('cp', ['-r', join(this.dir, 'rt'), join(keep, `${this.engine}-${process.pid}`)]);
    rmSync(this.dir, { recursive: true, force: true });
    for (const fn of this.lastCleanups) try { fn(); } catch { /* keep going */ }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is dead for our purposes.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGTERM, wait, then SIGKILL: one pid we started. */
export function stopPid(pid: number | undefined, graceMs: number): void {
  if (!pid || !alive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const end = Date.now() + graceMs;
  while (alive(pid) && Date.now() < end) spawnSync('sleep', ['0.1']);
  if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

function pids(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => p !== process.pid);
}

/** Kills processes whose cmdline or cgroup names one of markers (unique to this run). */
function killOurs(markers: string[]): void {
  const ours = (pid: number) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      return markers.some((m) => cmd.includes(m) || cg.includes(`/${m}/`));
    } catch {
      return false;
    }
  };
  for (let round = 0; round < 3; round++) {
    const victims = pids().filter(ours).filter(alive);
    if (victims.length === 0) return;
    for (const p of victims) try { process.kill(p, round === 0 ? 'SIGTERM' : 'SIGKILL'); } catch { /* gone */ }
    spawnSync('sleep', ['1']);
  }
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
}

/** Removes the cgroup subtree named tag (our unique parent) in every v1 hierarchy and v2. */
function removeCgroups(tag: string): void {
  const roots = readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h));
  roots.push('/sys/fs/cgroup');
  for (const r of roots) {
    const top = join(r, tag);
    if (existsSync(top)) rmdirTree(top);
  }
}

function rmdirTree(d: string): void {
  try {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(join(d, e.name));
    for (let i = 0; i < 20; i++) {
      try { rmdirSync(d); return; } catch { spawnSync('sleep', ['0.1']); }
    }
  } catch { /* already gone */ }
}

/** A private containerd's config.toml (no CRI): its root, state and sockets under the Engine's dir. */
export function containerdConfig(e: Engine, sock: string): string {
  return [
    'version = 2',
    `root = "${e.path('root')}"`,
    `state = "${e.path('state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
    '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",',
    '  "io.containerd.internal.v1.tracing"]',
    '[grpc]',
    `  address = "${sock}"`,
    '[ttrpc]',
    `  address = "${sock}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${e.path('opt')}"`,
    '',
  ].join('\n');
}

/** A task's status as `ctr task ls` shows it, or (none). */
export function ctrTaskStatus(ctr: (...args: string[]) => Result, id: string): string {
  const line = ctr('task', 'ls').stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
  return line?.trim().split(/\s+/)[2] ?? '(none)';
}

/** `ctr task ps` lists a running task's init by host pid, and an exec's process with its exec id;
 *  pause and resume move the task to PAUSED and back. */
export function ctrPsPauseResume(t: Test, ctr: (...args: string[]) => Result, why: (r: Result) => object, id: string, fifoDir: string): void {
  t.test('task ps', async (t) => {
    const pid = ctr('task', 'ls').stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[1] ?? '?';
    const r = ctr('task', 'ps', id);
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, new RegExp(`^${pid}\\s+-$`, 'm'), 'lists the init by host pid, with no details', why(r));
  });

  t.test('task ps: an exec\'s process shows its exec id (ProcessDetails)', async (t) => {
    const x = ctr('task', 'exec', '-d', '--fifo-dir', fifoDir, '--exec-id', 'ps1', id, 'sleep', '1000');
    t.equal(x.code, 0, 'exec -d', why(x));
    t.teardown(() => void ctr('task', 'kill', '--exec-id', 'ps1', '-s', 'SIGKILL', id));
    const r = ctr('task', 'ps', id);
    t.equal(r.code, 0, 'exit code', why(r));
    t.match(r.stdout, /^\d+\s+&ProcessDetails\{ExecID:ps1,/m, 'the exec\'s line', why(r));
  });

  t.test('pause and resume', async (t) => {
    let r = ctr('task', 'pause', id);
    t.equal(r.code, 0, 'pause exit code', why(r));
    t.equal(ctrTaskStatus(ctr, id), 'PAUSED');
    r = ctr('task', 'resume', id);
    t.equal(r.code, 0, 'resume exit code', why(r));
    t.equal(ctrTaskStatus(ctr, id), 'RUNNING');
  });
}

/** Where the README's engine snippets point: the installed runts (make install). */
export const README_RUNTS = '/usr/local/bin/runts';

/** The fenced block right after `<!-- snippet: NAME -->` in the README, with
 * runtime in place of the installed runts: the engine tests configure exactly
 * what the README shows (test/readme.test.ts checks each one is there). */
export function readmeSnippet(name: string, runtime = README_RUNTS): string {
  const readme = readFileSync(join(TOP, 'README.md'), 'utf8');
  const m = new RegExp(`^<!-- snippet: ${name.replace(/[.]/g, '\\.')} -->\\n\`\`\`\\w*\\n([^]*?)^\`\`\`$`, 'm').exec(readme);
  if (!m) throw new Error(`README.md: no snippet ${name}`);
  return m[1]!.replaceAll(README_RUNTS, runtime);
}

/** containerd's socket for a shim group: its naming, computed here on purpose rather than by the shim's code. */
export function groupSocket(address: string, ns: string, group: string): string {
  return `/run/containerd/s/${createHash('sha256').update(join(address, ns, group)).digest('hex')}`;
}

/** The pid of the containerd-shim-runts-v1 serving a group, from its own pid file; '' if none. */
export function groupShimPid(address: string, ns: string, group: string): string {
  try {
    return readFileSync(join('/run/containerd/runts-shim', basename(groupSocket(address, ns, group)), 'shim.pid'), 'utf8');
  } catch {
    return '';
  }
}
