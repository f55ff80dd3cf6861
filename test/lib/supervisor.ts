// One private runtsd per test, driven through runtsctl; teardown removes every
// container, shim and cgroup it made, with or without the daemon.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTS, TOP, cgroupsOf, reapOrphans, type Result } from './harness';

export const RUNTSD = join(TOP, 'bin', 'runtsd');
export const RUNTSCTL = join(TOP, 'bin', 'runtsctl');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Ctr {
  id: string;
  status: string;
  pid: number;
  exitStatus: number;
  group: string;
  shimPid: number;
  reason: string;
}

/** One runtsd with a private state dir and socket; teardown removes all it started. */
export class Supervisor {
  readonly dir = mkdtempSync(join(tmpdir(), 'runtsd-it-'));
  readonly state: string;
  readonly address: string;
  readonly ids = new Set<string>();
  private daemon: ChildProcess | undefined;
  private n = 0;

  /** By default its state dir and socket are in a private temp dir. */
  constructor(t: { teardown(fn: () => void | Promise<void>): void }, where: { state?: string; address?: string } = {}) {
    this.state = where.state ?? join(this.dir, 'state');
    this.address = where.address ?? join(this.dir, 'runtsd.sock');
    t.teardown(() => this.cleanup());
    // A test killed by tap's timeout runs no teardown: the same, synchronously, as the process exits.
    process.once('exit', () => this.cleanupSync());
  }

  /** With a prefix, runtsd runs under that command (e.g. one that gives it a session keyring); extra: more flags. */
  async start(prefix: string[] = [], extra: string[] = []): Promise<void> {
    const log = openSync(join(this.dir, 'runtsd.log'), 'a');
    const [cmd, ...args] = [...prefix, RUNTSD, '--address', this.address, '--state-dir', this.state, ...extra];
    this.daemon = spawn(cmd!, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    for (let i = 0; i < 200; i++) {
      if (existsSync(this.address) && this.ctl(['ps']).code === 0) return;
      if (this.daemon.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`runtsd did not start: ${this.log()}`);
  }

  pid(): number {
    return this.daemon?.pid ?? 0;
  }

  log(): string {
    return readFileSync(join(this.dir, 'runtsd.log'), 'utf8');
  }

  /** kill -9 (or a clean TERM) of runtsd; resolves once it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const d = this.daemon;
    this.daemon = undefined;
    if (!d || d.exitCode !== null || d.signalCode !== null) return d?.exitCode ?? null;
    const gone = new Promise<number | null>((res) => d.once('exit', (code) => res(code)));
    d.kill(signal);
    return gone;
  }

  /** Output goes to files: a detached container must not hold our pipes. */
  ctl(args: string[], timeoutMs = 60000): Result {
    const out = join(this.dir, `out-${++this.n}`);
    const err = join(this.dir, `err-${this.n}`);
    const fds = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const r = spawnSync(RUNTSCTL, ['--address', this.address, ...args], { stdio: ['ignore', fds[0], fds[1]], timeout: timeoutMs });
      return { code: r.status ?? 128 + 9, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      fds.forEach((fd) => closeSync(fd));
      rmSync(out, { force: true });
      rmSync(err, { force: true });
    }
  }

  runDetached(id: string, bundle: string, extra: string[] = []): Result {
    this.ids.add(id);
    return this.ctl(['run', '-d', '--name', id, ...extra, bundle]);
  }

  ps(): Ctr[] {
    const r = this.ctl(['ps', '-a', '--format', 'json']);
    if (r.code !== 0) throw new Error(`ps: ${r.stderr}`);
    return JSON.parse(r.stdout) as Ctr[];
  }

  inspect(id: string): Ctr {
    const r = this.ctl(['inspect', id]);
    if (r.code !== 0) throw new Error(`inspect ${id}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as Ctr[])[0]!;
  }

  async until(what: () => boolean, ms = 15000): Promise<boolean> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (what()) return true;
    return what();
  }

  /** Dirs of shims that serve (or served) containers; warm ones wait, marked, for a first container. */
  shimDirs(): string[] {
    return this.allShimDirs().filter((d) => !existsSync(join(d, 'warm')));
  }

  allShimDirs(): string[] {
    const d = join(this.state, 'shims');
    return existsSync(d) ? readdirSync(d).map((n) => join(d, n)) : [];
  }

  /** Whatever is left, without runtsd: containers via each shim's runtime root, shims, cgroups. */
  async cleanup(): Promise<void> {
    await this.stop();
    this.cleanupSync();
    await sleep(100);
    reapOrphans();
  }

  /** Everything but waiting: containers deleted, then every process naming our dir killed. */
  private cleanupSync(): void {
    if (!existsSync(this.dir)) return;
    try {
      if (this.daemon?.pid) process.kill(this.daemon.pid, 'SIGKILL');
    } catch {
      // Gone since.
    }
    for (const dir of this.allShimDirs()) {
      const root = join(dir, 'runtime');
      if (existsSync(root)) for (const id of readdirSync(root)) spawnSync(RUNTS, ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 15000 });
    }
    // Every shim of this state dir, found by its arguments: one runtsd started just before
    // it stopped may still be booting, with no shim.pid yet.
    const shims = join(this.state, 'shims') + '/';
    for (const p of readdirSync('/proc')) {
      const cmd = readText(`/proc/${p}/cmdline`);
      if (!/^\d+$/.test(p) || !(cmd.includes(shims) || cmd.includes(this.dir))) continue;
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // Gone since.
      }
    }
    for (const id of this.ids) {
      for (const cg of cgroupsOf(id)) {
        try {
          rmdirSync(cg);
        } catch {
          // Its last process is still dying: the runtime's delete removes it.
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

