import { join } from 'node:path';
import { closeSync, readSync, writeSync } from 'node:fs';
import { sysError } from './errno';
import type { Spawned, Sys, WaitStatus } from './sys';

// koffi is loaded on first use: commands that make no syscall never pay for it.
type Koffi = typeof import('koffi', { with: { 'resolution-mode': 'require' } });
type Fn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const P_PIDFD = 3;
const WEXITED = 4;
const WNOHANG = 1;
const CLD_EXITED = 1;

interface Lib {
  koffi: Koffi;
  spawn: Fn;
  socketpair: Fn;
  mkfifo: Fn;
  open: Fn;
  setns: Fn;
  pidfdOpen: Fn;
  pidfdSendSignal: Fn;
  kill: Fn;
  waitid: Fn;
  socket: Fn;
  connect: Fn;
  recvMsg: Fn;
  sendFd: Fn;
  ioctl: Fn;
}

let lib: Lib | undefined;

/** Where the native stage lives; the build puts it beside the sources. */
export function stagePath(): string {
  return process.env['RUNTS_STAGE_LIB'] ?? join(__dirname, '..', '..', '..', 'bindings', 'libruntsstage.so');
}

function load(): Lib {
  if (lib) return lib;
  const koffi = require('koffi') as Koffi;
  const libc = koffi.load('libc.so.6');
  const stage = koffi.load(stagePath());
  const f = (l: ReturnType<Koffi['load']>, sig: string) => l.func(sig) as unknown as Fn;
  lib = {
    koffi,
    spawn: f(stage, 'int runts_spawn(uint8_t *plan, uint32_t len, uint64_t flags, _Out_ int32_t *pidfd)'),
    socketpair: f(libc, 'int socketpair(int domain, int type, int protocol, int32_t *sv)'),
    mkfifo: f(libc, 'int mkfifo(const char *path, uint32_t mode)'),
    open: f(libc, 'int open(const char *path, int flags)'),
    setns: f(libc, 'int setns(int fd, int nstype)'),
    pidfdOpen: f(libc, 'int pidfd_open(int pid, unsigned int flags)'),
    pidfdSendSignal: f(libc, 'int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)'),
    kill: f(libc, 'int kill(int pid, int sig)'),
    waitid: f(libc, 'int waitid(int idtype, int id, uint8_t *info, int options)'),
    socket: f(libc, 'int socket(int domain, int type, int protocol)'),
    connect: f(libc, 'int connect(int fd, const uint8_t *addr, uint32_t len)'),
    recvMsg: f(stage, 'int runts_recv_msg(int sock, uint8_t *buf, int len, _Out_ int32_t *fd)'),
    sendFd: f(stage, 'int runts_send_fd(int sock, const uint8_t *buf, int len, int fd)'),
    ioctl: f(libc, 'int ioctl(int fd, unsigned long req, uint8_t *arg)'),
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
  spawn(plan: Uint8Array, cloneFlags: bigint): Spawned {
    const l = load();
    const out = [0];
    const rc = l.spawn(plan, plan.byteLength, cloneFlags, out);
    if (rc < 0) throw sysError('clone3', -rc);
    return { pid: rc, pidfd: out[0] ?? -1 };
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

  setns(fd: number, nstype: number): void {
    const l = load();
    if (l.setns(fd, nstype) < 0) throw sysError('setns', errno(l));
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

  waitPidfd(pidfd: number): Promise<WaitStatus> {
    const l = load();
    const info = Buffer.alloc(128);
    // waitid blocks on a koffi worker thread; the main thread stays free for signals.
    return new Promise((resolve, reject) => {
      l.waitid.async(P_PIDFD, pidfd, info, WEXITED, (err: unknown, rc: number) => {
        if (err) return reject(err);
        if (rc < 0) return reject(sysError('waitid', errno(l)));
        resolve(decodeSiginfo(info) ?? { code: 0 });
      });
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
}
