import { join } from 'node:path';
import { closeSync, readSync, writeSync } from 'node:fs';
import { errnoName, sysError } from './errno';
import { seaAsset, seaAssetBytes } from './sea';
import { testEnv } from './testbuild';
import type { MountAttr, Spawned, Sys, WaitStatus } from './sys';

// koffi is loaded on first use: commands that make no syscall never pay for it.
type Koffi = typeof import('koffi', { with: { 'resolution-mode': 'require' } });
type Fn = (...args: unknown[]) => number;

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const O_WRONLY = 1;
const O_TRUNC = 0o1000;
const EIO = 5;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const P_PIDFD = 3;
const WEXITED = 4;
const WNOHANG = 1;
const CLD_EXITED = 1;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
const OPEN_TREE_CLONE = 1;
const MOUNT_ATTR_SIZE = 32;
// The same numbers on every architecture (the syscall table unified after 5.1).
const SYS_OPEN_TREE = 428;
const SYS_MOUNT_SETATTR = 442;
const BPF_LOAD_TRIES = 5;

interface Lib {
  koffi: Koffi;
  stageLoad: Fn;
  spawn: Fn;
  spawnJoin: Fn;
  socketpair: Fn;
  mkfifo: Fn;
  open: Fn;
  write: Fn;
  chmod: Fn;
  chown: Fn;
  pidfdOpen: Fn;
  pidfdSendSignal: Fn;
  kill: Fn;
  waitid: Fn;
  socket: Fn;
  connect: Fn;
  recvMsg: Fn;
  sendFd: Fn;
  ioctl: Fn;
  eventfd: Fn;
  mount: Fn;
  umount2: Fn;
  poll: Fn;
  syscall: Fn;
}

let lib: Lib | undefined;

/** Where the native stage lives: the build puts it in the repo's bindings/,
 * found from this package's place so that the bundled CLI finds it too; the
 * single executable carries it as an asset. */
export function stagePath(): string {
  return testEnv('RUNTS_STAGE_LIB') ?? seaAsset('libruntsstage.so') ?? bindingsFile('libruntsstage.so');
}

/** Whether the container's first process (or its intermediate) execs the
 * stage built as a static executable instead of being a fork of Node
 * (bindings/stage/spawn.c, spawn_exec). It is exec'd from a sealed copy in memory
 * (runts_stage_load, once per process), never from a file a container could
 * reach through /proc/N/exe and rewrite; the single executable's copy comes
 * straight from its asset. RUNTS_STAGE_EXE= (empty) forks Node instead. */
function stageExe(l: Lib): 0 | 1 {
  const env = testEnv('RUNTS_STAGE_EXE');
  if (env === '') return 0;
  const bytes = env === undefined ? seaAssetBytes('runts-stage') : undefined;
  const file = bytes ? null : (env ?? bindingsFile('runts-stage'));
  const rc = l.stageLoad(file, bytes ?? null, bytes?.byteLength ?? 0);
  if (rc < 0) throw sysError('memfd_create', -rc, file ?? 'runts-stage', file ? { file } : {});
  return 1;
}

const bindingsFile = (name: string): string => join(require.resolve('@runts/sys/package.json'), '..', '..', '..', 'bindings', name);

/** koffi's addon, loaded directly: its JS loader costs many times what the
 * addon does at every start, looks for the addon beside its package (not in
 * the single executable) and only adds deprecated aliases. */
function loadKoffi(): Koffi {
  const dlopen = (file: string): Koffi => {
    const m = { exports: {} };
    process.dlopen(m, file);
    return m.exports as Koffi;
  };
  const embedded = seaAsset('koffi.node');
  if (embedded) return dlopen(embedded);
  try {
    const pkg = require.resolve(`@koromix/koffi-${process.platform}-${process.arch}/package.json`);
    return dlopen(join(pkg, '..', `${process.platform}_${process.arch}`, 'koffi.node'));
  } catch {
    // Another libc's build, or a layout we do not know: koffi's loader finds it.
    return require('koffi') as Koffi;
  }
}

function load(): Lib {
  if (lib) return lib;
  const koffi = loadKoffi();
  const libc = koffi.load('libc.so.6');
  const stage = koffi.load(stagePath());
  const f = (l: ReturnType<Koffi['load']>, sig: string) => l.func(sig) as unknown as Fn;
  lib = {
    koffi,
    stageLoad: f(stage, 'int runts_stage_load(const char *path, const uint8_t *bytes, uint32_t len)'),
    spawn: f(stage, 'int runts_spawn(int32_t exe, uint8_t *plan, uint32_t len, uint64_t flags, _Out_ int32_t *pidfd)'),
    spawnJoin: f(stage, 'int runts_spawn_join(int32_t exe, uint8_t *plan, uint32_t len, uint64_t flags, int32_t userns_fd, int32_t pidns_fd, _Out_ int32_t *pidfd)'),
    socketpair: f(libc, 'int socketpair(int domain, int type, int protocol, int32_t *sv)'),
    mkfifo: f(libc, 'int mkfifo(const char *path, uint32_t mode)'),
    open: f(libc, 'int open(const char *path, int flags)'),
    write: f(libc, 'long write(int fd, const uint8_t *buf, size_t len)'),
    chmod: f(libc, 'int chmod(const char *path, uint32_t mode)'),
    chown: f(libc, 'int chown(const char *path, uint32_t uid, uint32_t gid)'),
    pidfdOpen: f(libc, 'int pidfd_open(int pid, unsigned int flags)'),
    pidfdSendSignal: f(libc, 'int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)'),
    kill: f(libc, 'int kill(int pid, int sig)'),
    waitid: f(libc, 'int waitid(int idtype, int id, uint8_t *info, int options)'),
    socket: f(libc, 'int socket(int domain, int type, int protocol)'),
    connect: f(libc, 'int connect(int fd, const uint8_t *addr, uint32_t len)'),
    recvMsg: f(stage, 'int runts_recv_msg(int sock, uint8_t *buf, int len, _Out_ int32_t *fd)'),
    sendFd: f(stage, 'int runts_send_fd(int sock, const uint8_t *buf, int len, int fd)'),
    ioctl: f(libc, 'int ioctl(int fd, unsigned long req, uint8_t *arg)'),
    eventfd: f(libc, 'int eventfd(unsigned int initval, int flags)'),
    mount: f(libc, 'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: f(libc, 'int umount2(const char *target, int flags)'),
    poll: f(libc, 'int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
    syscall: f(libc, 'long syscall(long nr, ...)'),
  };
  return lib;
}

function errno(l: Lib): number {
  return l.koffi.errno();
}

function decodeSiginfo(info: Buffer): WaitStatus | null {
  const pid = info.readInt32LE(16);
  if (pid === 0) return null;
  const code = info.readInt32LE(8);
  const status = info.readInt32LE(24);
  return code === CLD_EXITED ? { code: status } : { code: 128 + status, signal: status };
}

export class LinuxSys implements Sys {
  spawn(plan: Uint8Array, cloneFlags: bigint, join?: { userns?: number; pidns?: number }): Spawned {
    const l = load();
    const out = [0];
    const exe = stageExe(l);
    const rc = join ? l.spawnJoin(exe, plan, plan.byteLength, cloneFlags, join.userns ?? -1, join.pidns ?? -1, out) : l.spawn(exe, plan, plan.byteLength, cloneFlags, out);
    if (rc < 0) throw sysError(join ? 'setns+clone3' : 'clone3', -rc);
    return { pid: rc, pidfd: out[0] ?? -1 };
  }

  openTree(path: string, recursive: boolean): number {
    const l = load();
    const flags = OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
    const fd = Number(l.syscall(SYS_OPEN_TREE, 'int', AT_FDCWD, 'const char *', path, 'unsigned int', flags));
    if (fd < 0) throw sysError('open_tree', errno(l), path, { file: path });
    return fd;
  }

  mountSetattr(fd: number, recursive: boolean, attr: MountAttr): void {
    const l = load();
    const a = Buffer.alloc(MOUNT_ATTR_SIZE);
    a.writeBigUInt64LE(BigInt(attr.set), 0);
    a.writeBigUInt64LE(BigInt(attr.clr), 8);
    a.writeBigUInt64LE(BigInt(attr.usernsFd ?? 0), 24);
    const flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    if (Number(l.syscall(SYS_MOUNT_SETATTR, 'int', fd, 'const char *', '', 'unsigned int', flags, 'uint8_t *', a, 'size_t', MOUNT_ATTR_SIZE)) < 0) {
      throw sysError('mount_setattr', errno(l));
    }
  }

  socketpair(): [number, number] {
    const l = load();
    const sv = new Int32Array(2);
    if (l.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw sysError('socketpair', errno(l));
    return [sv[0]!, sv[1]!];
  }

  mkfifo(path: string, mode: number): void {
    const l = load();
    if (l.mkfifo(path, mode) < 0) throw sysError('mkfifo', errno(l), path, { file: path });
  }

  openPath(path: string): number {
    const l = load();
    const fd = l.open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) throw sysError('open', errno(l), path, { file: path });
    return fd;
  }

  open(path: string, flags: number): number {
    const l = load();
    const fd = l.open(path, flags | O_CLOEXEC);
    if (fd < 0) throw sysError('open', errno(l), path, { file: path });
    return fd;
  }

  writeFile(path: string, data: string): void {
    const l = load();
    const fd = l.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) throw sysError('open', errno(l), path, { file: path });
    const buf = Buffer.from(data);
    const n = Number(l.write(fd, buf, buf.length));
    const e = errno(l);
    closeSync(fd);
    if (n < 0) throw sysError('write', e, path, { file: path });
    if (n !== buf.length) throw sysError('write', EIO, `${path} (${n} of ${buf.length} bytes)`, { file: path });
  }

  chmod(path: string, mode: number): void {
    const l = load();
    if (l.chmod(path, mode) < 0) throw sysError('chmod', errno(l), path, { file: path });
  }

  chown(path: string, uid: number, gid: number): void {
    const l = load();
    if (l.chown(path, uid, gid) < 0) throw sysError('chown', errno(l), path, { file: path });
  }

  pidfdOpen(pid: number): number {
    const l = load();
    const fd = l.pidfdOpen(pid, 0);
    if (fd < 0) throw sysError('pidfd_open', errno(l), String(pid));
    return fd;
  }

  pidfdSendSignal(pidfd: number, signal: number): void {
    const l = load();
    if (l.pidfdSendSignal(pidfd, signal, null, 0) < 0) throw sysError('pidfd_send_signal', errno(l));
  }

  kill(pid: number, signal: number): void {
    const l = load();
    if (l.kill(pid, signal) < 0) throw sysError('kill', errno(l), String(pid));
  }

  /** Checks at each SIGCHLD rather than blocking in waitid on a worker thread:
   * the first one would start libuv's four, a cost a one-shot run would feel. */
  waitPidfd(pidfd: number): Promise<WaitStatus> {
    return new Promise((resolve, reject) => {
      // Signal listeners do not keep the event loop alive; this does.
      const alive = setInterval(() => {}, 0x7fffffff);
      const done = () => {
        process.off('SIGCHLD', check);
        clearInterval(alive);
      };
      const check = () => {
        try {
          const st = this.tryWaitPidfd(pidfd);
          if (!st) return;
          done();
          resolve(st);
        } catch (e) {
          done();
          reject(e as Error);
        }
      };
      process.on('SIGCHLD', check);
      check();
    });
  }

  tryWaitPidfd(pidfd: number): WaitStatus | null {
    const l = load();
    const info = Buffer.alloc(128);
    if (l.waitid(P_PIDFD, pidfd, info, WEXITED | WNOHANG) < 0) throw sysError('waitid', errno(l));
    return decodeSiginfo(info);
  }

  read(fd: number, buf: Uint8Array): number {
    return readSync(fd, buf, 0, buf.byteLength, null);
  }

  write(fd: number, buf: Uint8Array): number {
    return writeSync(fd, buf);
  }

  close(fd: number): void {
    closeSync(fd);
  }

  geteuid(): number {
    return process.geteuid?.() ?? 0;
  }

  connectUnix(path: string): number {
    const l = load();
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(AF_UNIX, 0);
    if (Buffer.byteLength(path) > 107) throw sysError('connect', 36 /* ENAMETOOLONG */, path, { file: path });
    addr.write(path, 2);
    const fd = l.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sysError('socket', errno(l));
    if (l.connect(fd, addr, addr.length) < 0) {
      const e = errno(l);
      closeSync(fd);
      throw sysError('connect', e, path, { file: path });
    }
    return fd;
  }

  recvMsg(sock: number, len: number): { data: Buffer; fd: number } {
    const l = load();
    const data = Buffer.alloc(len);
    const out = [-1];
    const n = l.recvMsg(sock, data, len, out);
    if (n < 0) throw sysError('recvmsg', -n);
    return { data: data.subarray(0, n), fd: out[0] ?? -1 };
  }

  sendFd(sock: number, data: Uint8Array, fd: number): void {
    const l = load();
    const rc = l.sendFd(sock, data, data.byteLength, fd);
    if (rc < 0) throw sysError('sendmsg', -rc);
  }

  setWinsize(fd: number, rows: number, cols: number): void {
    const l = load();
    const ws = Buffer.alloc(8);
    ws.writeUInt16LE(rows, 0);
    ws.writeUInt16LE(cols, 2);
    if (l.ioctl(fd, 0x5414 /* TIOCSWINSZ */, ws) < 0) throw sysError('ioctl TIOCSWINSZ', errno(l));
  }

  eventfd(initval: number, flags: number): number {
    const l = load();
    const fd = l.eventfd(initval, flags);
    if (fd < 0) throw sysError('eventfd', errno(l));
    return fd;
  }

  bpfProgLoad(progType: number, insns: Uint8Array, license: string): number {
    const l = load();
    const lic = Buffer.from(`${license}\0`);
    const log = Buffer.alloc(64 * 1024);
    const attr = Buffer.alloc(BPF_ATTR_SIZE);
    attr.writeUInt32LE(progType, 0);
    attr.writeUInt32LE(insns.byteLength / 8, 4);
    attr.writeBigUInt64LE(addressOf(l, insns), 8);
    attr.writeBigUInt64LE(addressOf(l, lic), 16);
    attr.writeUInt32LE(1, 24); // log_level: the verifier says why it refused
    attr.writeUInt32LE(log.length, 28);
    attr.writeBigUInt64LE(addressOf(l, log), 32);
    // The verifier gives up with EAGAIN when a signal arrives (a child's SIGCHLD): try again, as libbpf does.
    let fd = -1;
    let e = 0;
    for (let i = 0; i < BPF_LOAD_TRIES && fd < 0; i++) {
      fd = Number(l.syscall(bpfNr(), 'int', BPF_PROG_LOAD, 'uint8_t *', attr, 'unsigned int', BPF_ATTR_SIZE));
      e = fd < 0 ? errno(l) : 0;
      if (fd < 0 && errnoName(e) !== 'EAGAIN') break;
    }
    if (fd < 0) {
      const why = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).split('\n').filter((l) => l.trim() && !/^(processed|verification time|stack depth) /.test(l)).pop();
      throw sysError('bpf BPF_PROG_LOAD', e, why ? `(verifier: ${why})` : undefined);
    }
    return fd;
  }

  bpfProgAttach(progFd: number, targetFd: number, attachType: number, flags: number): void {
    const l = load();
    const attr = Buffer.alloc(BPF_ATTR_SIZE);
    attr.writeUInt32LE(targetFd, 0);
    attr.writeUInt32LE(progFd, 4);
    attr.writeUInt32LE(attachType, 8);
    attr.writeUInt32LE(flags, 12);
    if (Number(l.syscall(bpfNr(), 'int', BPF_PROG_ATTACH, 'uint8_t *', attr, 'unsigned int', BPF_ATTR_SIZE)) < 0) throw sysError('bpf BPF_PROG_ATTACH', errno(l));
  }

  mount(source: string, target: string, fstype: string, flags: number, data: string): void {
    const l = load();
    if (l.mount(source, target, fstype, flags, data || null) < 0) throw sysError('mount', errno(l), target, { file: target });
  }

  umount2(target: string, flags: number): void {
    const l = load();
    if (l.umount2(target, flags) < 0) throw sysError('umount2', errno(l), target, { file: target });
  }

  setChildSubreaper(): void {
    const l = load();
    if (Number(l.syscall(SYS_PRCTL, 'int', PR_SET_CHILD_SUBREAPER, 'unsigned long', 1)) < 0) throw sysError('prctl PR_SET_CHILD_SUBREAPER', errno(l));
  }

  pipe(): [number, number] {
    const l = load();
    const fds = new Int32Array(2);
    if (Number(l.syscall(SYS_PIPE2, 'int32_t *', fds, 'int', O_CLOEXEC)) < 0) throw sysError('pipe2', errno(l));
    return [fds[0]!, fds[1]!];
  }

  dup2(oldfd: number, newfd: number): void {
    const l = load();
    if (Number(l.syscall(SYS_DUP3, 'int', oldfd, 'int', newfd, 'int', 0)) < 0) throw sysError('dup3', errno(l));
  }

  reapPid(pid: number): WaitStatus | null {
    const l = load();
    const info = Buffer.alloc(128);
    if (l.waitid(P_PID, pid, info, WEXITED | WNOHANG) < 0) {
      if (errno(l) === ECHILD) return null;
      throw sysError('waitid', errno(l));
    }
    return decodeSiginfo(info);
  }

  pollIn(fd: number, timeoutMs: number): boolean {
    const l = load();
    // struct pollfd { int fd; short events; short revents; }
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    const n = l.poll(pfd, 1, timeoutMs);
    if (n < 0 && errno(l) !== EINTR) throw sysError('poll', errno(l));
    return n > 0 && (pfd.readInt16LE(6) & POLLIN) !== 0;
  }
}

// x86-64 and arm64 numbers; the shim's only other raw syscalls.
const SYS_PRCTL = process.arch === 'arm64' ? 167 : 157;
const SYS_PIPE2 = process.arch === 'arm64' ? 59 : 293;
const SYS_DUP3 = process.arch === 'arm64' ? 24 : 292;
const PR_SET_CHILD_SUBREAPER = 36;
const P_PID = 1;
const ECHILD = 10;
const EINTR = 4;
const POLLIN = 1;

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_ATTR_SIZE = 128;

function bpfNr(): number {
  if (process.arch === 'x64') return 321;
  if (process.arch === 'arm64') return 280;
  throw sysError('bpf', 38 /* ENOSYS */, `(no syscall number known for ${process.arch})`);
}

/** The address of a buffer's bytes, for pointers inside a syscall's attr struct. */
function addressOf(l: Lib, buf: Uint8Array): bigint {
  return l.koffi.address(buf);
}
