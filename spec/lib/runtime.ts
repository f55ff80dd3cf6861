// The conformance suite's only view of a runtime: its command line (RUNTIME,
// default bin/runts). Nothing here comes from runts' packages, so runc and
// crun are measured with the same cases.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import t, { type Test } from 'tap';

export const RUNTIME = process.env['RUNTIME'] ?? resolve(__dirname, '..', '..', 'bin', 'runts');
/** The name report.mts files results under (runts, runc, crun): RUNTIME_NAME, else RUNTIME's basename. */
export const RUNTIME_NAME = process.env['RUNTIME_NAME'] ?? basename(RUNTIME);
const BUSYBOX = process.env['BUSYBOX'] ?? '/bin/busybox';

interface Teardown {
  teardown(fn: () => void): void;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The runtime's last stderr line, for an assertion's message ('' when it said nothing). */
export function said(r: { stderr: string }): string {
  const last = r.stderr.trim().split('\n').pop();
  return last ? ` (stderr: ${last})` : '';
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

// Process-wide, so ids (and cgroupsPaths made from them) differ across cases too.
let serial = 0;

/** A private --root, bundles and unique ids; teardown force-deletes what is left, even after a failure. */
export class Runtime {
  readonly dir: string;
  readonly root: string;

  constructor(t: Teardown) {
    this.dir = mkdtempSync(join(tmpdir(), 'spec-'));
    this.root = join(this.dir, 'root');
    t.teardown(() => this.cleanup());
  }

  id(): string {
    return `spec-${process.pid}-${++serial}`;
  }

  /** A bundle whose root.path is the shared busybox tree, by absolute path (runc refuses a symlinked rootfs). */
  bundle(cfg: any): string {
    const b = join(this.dir, `bundle-${++serial}`);
    mkdirSync(b);
    const own = cfg.root?.path === 'rootfs' ? { ...cfg, root: { ...cfg.root, path: rootfs() } } : cfg;
    writeFileSync(join(b, 'config.json'), JSON.stringify(own));
    return b;
  }

  /** Output to files: a created container keeps its stdio open after the runtime exits. */
  run(args: string[]): Result {
    const out = join(this.dir, `out-${++serial}`);
    const err = join(this.dir, `err-${serial}`);
    const fds = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const r = spawnSync(RUNTIME, ['--root', this.root, ...args], { stdio: ['ignore', fds[0], fds[1]], timeout: 30000, killSignal: 'SIGKILL' });
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

// known-failures.json: runtime name → "<file>: <case>" → the spec violation.
const KNOWN: Record<string, Record<string, string> | undefined> = JSON.parse(readFileSync(resolve(__dirname, '..', 'known-failures.json'), 'utf8'));

type Fail = (msg?: string, extra?: object) => boolean;

/**
 * t.test for the cases of one file. A case listed for this runtime in
 * known-failures.json still runs, each failing assertion marked todo (with its
 * diagnostics, so the report can say what was seen); tap's todo on the subtest
 * itself would skip the body. `skip` names the host feature that is missing.
 */
export function suite(file: string) {
  const group = basename(file).replace(/\.test\.ts$/, '');
  return (name: string, fn: (t: Test) => Promise<void>, opts: { skip?: string | undefined } = {}): void => {
    const known = KNOWN[RUNTIME_NAME]?.[`${group}: ${name}`];
    void t.test(name, opts.skip ? { skip: opts.skip } : {}, async (t) => {
      if (!known) return fn(t);
      const todo = `known ${RUNTIME_NAME} failure: ${known}`;
      const fail = t.fail.bind(t) as Fail;
      const marked: Fail = (msg, extra) => fail(msg, { ...extra, todo, diagnostic: true });
      Object.assign(t, { fail: marked });
      try {
        await fn(t);
      } catch (e) {
        marked(`threw: ${(e as Error).message}`);
      }
    });
  };
}

/** The cgroup hierarchies mounted here (v1 controllers and/or v2), from mountinfo. */
export function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const f = line.split(' ');
    const type = f[f.indexOf('-') + 1];
    return type === 'cgroup' || type === 'cgroup2' ? [f[4]!] : [];
  });
}

/** Directories named by a cgroupsPath in any hierarchy. */
export function cgroupDirs(cgroupsPath: string): string[] {
  return cgroupMounts().map((m) => join(m, cgroupsPath)).filter((d) => existsSync(d));
}

/**
 * Removes what a runtime left of a test's own cgroupsPath: killing what still
 * runs in it (a runtime's stuck init, say — the path is unique to the test),
 * then rmdir, retried while the kernel reaps.
 */
export function removeCgroup(cgroupsPath: string): void {
  for (const d of cgroupDirs(cgroupsPath)) {
    for (let i = 0; i < 100 && existsSync(d); i++) {
      const procs = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      for (const pid of procs) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      try {
        rmdirSync(d);
      } catch {
        spawnSync('sleep', ['0.02']);
      }
    }
  }
}

/**
 * A --console-socket (runc's protocol: the pty master arrives with
 * SCM_RIGHTS). Node cannot receive fds, so lib/console-socket.py does; output
 * resolves to what the container wrote up to the marker line, CRs dropped.
 */
export async function consoleSocket(dir: string, marker: string): Promise<{ path: string; output: Promise<string> }> {
  const path = join(dir, `console-${process.pid}.sock`);
  const child = spawn('python3', [join(__dirname, 'console-socket.py'), path, marker, '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number>((done) => child.on('close', (code) => done(code ?? 1)));
  await new Promise<void>((ready, fail) => {
    const poll = setInterval(() => {
      if (out.startsWith('ready\n')) { clearInterval(poll); ready(); }
      else if (child.exitCode !== null) { clearInterval(poll); fail(new Error(`console socket: ${err.trim()}`)); }
    }, 10);
  });
  const output = exited.then((code) => {
    if (code !== 0) throw new Error(`console socket: ${err.trim() || `exit ${code}`}`);
    return out.slice('ready\n'.length).replace(/\r/g, '');
  });
  // A case that fails before the runtime connects must not leave the receiver waiting.
  output.catch(() => undefined);
  process.on('exit', () => child.kill());
  return { path, output };
}
