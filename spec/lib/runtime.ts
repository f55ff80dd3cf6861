// The conformance suite's only view of a runtime: its command line (RUNTIME,
// default bin/runts). Nothing here comes from runts' packages, so runc and
// crun are measured with the same cases.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const RUNTIME = process.env['RUNTIME'] ?? resolve(__dirname, '..', '..', 'bin', 'runts');
const BUSYBOX = process.env['BUSYBOX'] ?? '/bin/busybox';

interface Teardown {
  teardown(fn: () => void): void;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let sharedRootfs: string | undefined;
/** One busybox tree per test process: the static binary and a link per applet. */
function rootfs(): string {
  if (sharedRootfs) return sharedRootfs;
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing (apt-get install busybox-static)`);
  const parent = mkdtempSync(join(tmpdir(), 'spec-rootfs-'));
  // World-traversable, so a root mapped to another uid in a user namespace can reach it.
  chmodSync(parent, 0o755);
  const dir = join(parent, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  chmodSync(join(dir, 'tmp'), 0o1777);
  process.on('exit', () => rmSync(join(dir, '..'), { recursive: true, force: true }));
  sharedRootfs = dir;
  return dir;
}

/** A config as `runc spec` writes it (config.md's Linux example, trimmed), without a terminal. */
export function config(args: string[]): any {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'spec',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/sys/firmware'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** A private --root, bundles and unique ids; teardown force-deletes what is left, even after a failure. */
export class Runtime {
  readonly dir: string;
  readonly root: string;
  private n = 0;

  constructor(t: Teardown) {
    this.dir = mkdtempSync(join(tmpdir(), 'spec-'));
    this.root = join(this.dir, 'root');
    t.teardown(() => this.cleanup());
  }

  id(): string {
    return `spec-${process.pid}-${++this.n}`;
  }

  /** A bundle whose root.path is the shared busybox tree, by absolute path (runc refuses a symlinked rootfs). */
  bundle(cfg: any): string {
    const b = join(this.dir, `bundle-${++this.n}`);
    mkdirSync(b);
    const own = cfg.root?.path === 'rootfs' ? { ...cfg, root: { ...cfg.root, path: rootfs() } } : cfg;
    writeFileSync(join(b, 'config.json'), JSON.stringify(own));
    return b;
  }

  /** Output to files: a created container keeps its stdio open after the runtime exits. */
  run(args: string[]): Result {
    const out = join(this.dir, `out-${++this.n}`);
    const err = join(this.dir, `err-${this.n}`);
    const fds = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const r = spawnSync(RUNTIME, ['--root', this.root, ...args], { stdio: ['ignore', fds[0], fds[1]], timeout: 30000 });
      return { code: r.status ?? 128 + 9, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      fds.forEach((fd) => closeSync(fd));
      rmSync(out, { force: true });
      rmSync(err, { force: true });
    }
  }

  state(id: string): any {
    const r = this.run(['state', id]);
    if (r.code !== 0) throw new Error(`state ${id}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
  }

  /** Polls state until the status is reached (a process exits asynchronously). */
  waitStatus(id: string, status: string): string {
    let now = '';
    for (let i = 0; i < 500; i++) {
      now = this.state(id).status;
      if (now === status) break;
      spawnSync('sleep', ['0.01']);
    }
    return now;
  }

  ids(): string[] {
    const r = this.run(['list', '-q']);
    return r.stdout.split('\n').filter(Boolean);
  }

  cleanup(): void {
    if (existsSync(this.root)) for (const id of readdirSync(this.root)) this.run(['delete', '--force', id]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
