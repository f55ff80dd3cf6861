// Integration harness: a busybox bundle per test, a private --root, and a
// teardown that force-deletes whatever the test created, even on failure.
import { spawnSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const TOP = resolve(__dirname, '..', '..');
export const RUNTS = process.env['RUNTS'] ?? join(TOP, 'bin', 'runts');
/** The test build of runts: the only one that obeys RUNTS_FAULT (packages/sys/src/testbuild.ts). */
export const TEST_RUNTS = join(TOP, 'test', '.bin', 'runts');

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

// One busybox rootfs shared by all bundles of a test process (bundles point at it).
let sharedRootfs: string | undefined;
function rootfs(): string {
  if (sharedRootfs) return sharedRootfs;
  const dir = mkdtempSync(join(tmpdir(), 'runts-rootfs-'));
  const r = spawnSync(join(TOP, 'test', 'lib', 'make-bundle.sh'), [dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-bundle failed: ${r.stderr}`);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  sharedRootfs = join(dir, 'rootfs');
  return sharedRootfs;
}

export function baseConfig(args: string[]): any {
  return {
    ociVersion: '1.2.1',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/bin:/sbin:/usr/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN', 'CAP_SETUID', 'CAP_SETGID'],
        effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN', 'CAP_SETUID', 'CAP_SETGID'],
        permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_ADMIN', 'CAP_SETUID', 'CAP_SETGID'],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'runts-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/sys/firmware'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

// This host's PID 1 never reaps orphans, and after `runts create` exits its
// init is one. An engine's shim is a subreaper; so is every test process, and
// each Env reaps what came to it when it cleans up.
const libc = (() => {
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  return {
    prctl: lib.func('int prctl(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
  };
})();
const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
if (libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) throw new Error('prctl(PR_SET_CHILD_SUBREAPER) failed');

/** Reaps the exited orphans that came to this process; returns how many.
 * Call it only when no child_process spawn of this test is still running. */
export function reapOrphans(): number {
  let n = 0;
  while (libc.waitpid(-1, [0], WNOHANG) > 0) n++;
  return n;
}

export class Env {
  readonly root: string;
  readonly dir: string;
  private n = 0;

  constructor(t: Teardown) {
    this.dir = mkdtempSync(join(tmpdir(), 'runts-it-'));
    this.root = join(this.dir, 'state');
    t.teardown(() => this.cleanup());
  }

  id(prefix = 'c'): string {
    return `${prefix}-${process.pid}-${++this.n}`;
  }

  /** A bundle whose rootfs is the shared busybox tree, bound by path. */
  bundle(config: any): string {
    const b = join(this.dir, `bundle-${++this.n}`);
    spawnSync('mkdir', ['-p', b]);
    const cfg = { ...config, root: { ...config.root, path: rootfs() } };
    writeFileSync(join(b, 'config.json'), JSON.stringify(cfg, null, 2));
    return b;
  }

  /** Output goes to files, not pipes: a detached container keeps its stdio open long after runts exits. */
  runts(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; bin?: string } = {}): Result {
    const out = join(this.dir, `out-${++this.n}`);
    const err = join(this.dir, `err-${this.n}`);
    const fds = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const r = spawnSync(opts.bin ?? RUNTS, ['--root', this.root, ...args], { stdio: ['ignore', fds[0], fds[1]], timeout: opts.timeoutMs ?? 30000, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
      return { code: r.status ?? 128 + 9, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      fds.forEach((fd) => closeSync(fd));
      rmSync(out, { force: true });
      rmSync(err, { force: true });
    }
  }

  /** Starts runts without waiting for it (a foreground run to signal from outside). */
  spawnRunts(args: string[]) {
    return spawn(RUNTS, ['--root', this.root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  state(id: string): any {
    const r = this.runts(['state', id]);
    if (r.code !== 0) throw new Error(`state ${id}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** Runs a container in the foreground and returns its output and exit code. */
  run(config: any, extra: string[] = []): Result & { id: string } {
    const id = this.id();
    const b = this.bundle(config);
    return { id, ...this.runts(['run', '--bundle', b, ...extra, id]) };
  }

  cleanup(): void {
    // Only what still has state: a delete of the rest would find nothing.
    if (existsSync(this.root)) {
      for (const id of readdirSync(this.root)) this.runts(['delete', '--force', id], { timeoutMs: 10000 });
    }
    rmSync(this.dir, { recursive: true, force: true });
    reapOrphans();
  }
}

/** The container's cgroup dirs left under the default /runts parent, in any hierarchy. */
/** Mount points under this test's own dirs (its Env dirs and the shared rootfs):
 * another job's mounts elsewhere on the host are not this test's to count. */
export function ownMounts(...envs: Env[]): string[] {
  const dirs = [...envs.map((e) => e.dir), ...(sharedRootfs ? [join(sharedRootfs, '..')] : [])];
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) ?? '')
    .filter((p) => dirs.some((d) => p === d || p.startsWith(`${d}/`)));
}

export function cgroupsOf(id: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((c) => join('/sys/fs/cgroup', c, 'runts', id))
    .filter((d) => existsSync(d));
}

/** Live processes whose environment holds marker (put in the config's process.env): containers still around. */
export function processesWith(marker: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    });
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}

