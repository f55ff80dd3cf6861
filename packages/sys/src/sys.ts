/** The one syscall interface of runts. Everything the runtime does to the
 * host outside plain file I/O goes through a `Sys`, so tests can record it. */

export interface Spawned {
  pid: number;
  pidfd: number;
}

export interface WaitStatus {
  /** Exit code, or 128 + signal for a signalled process (the shell's and runc's convention). */
  code: number;
  signal?: number;
}

export interface MountAttr {
  set: number;
  clr: number;
  /** A user namespace fd, with MOUNT_ATTR_IDMAP in set. */
  usernsFd?: number;
}

export interface Sys {
  /** Clones a child that runs `plan` in the native stage (bindings/stage/);
   * with `join`, through an intermediate that joins the user namespace, runs
   * the plan's ops before FORK, joins the pid namespace, then clones the child. */
  spawn(plan: Uint8Array, cloneFlags: bigint, join?: { userns?: number; pidns?: number }): Spawned;
  /** open_tree(OPEN_TREE_CLONE): a detached copy of the mount at path (with its submounts if recursive). */
  openTree(path: string, recursive: boolean): number;
  /** mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE]) with a struct mount_attr. */
  mountSetattr(fd: number, recursive: boolean, attr: MountAttr): void;
  /** A connected AF_UNIX stream pair, both close-on-exec. */
  socketpair(): [number, number];
  mkfifo(path: string, mode: number): void;
  /** open(path, O_PATH|O_CLOEXEC): a handle to pass to the child without opening the file. */
  openPath(path: string): number;
  /** open(path, flags|O_CLOEXEC) of a file that exists (a namespace, a cgroup's procs file, the exec fifo). */
  open(path: string, flags: number): number;
  /** open(O_WRONLY|O_TRUNC) of a file that exists, and one write(2) of data, as a /proc knob wants it (id maps, oom_score_adj). */
  writeFile(path: string, data: string): void;
  chmod(path: string, mode: number): void;
  chown(path: string, uid: number, gid: number): void;
  pidfdOpen(pid: number): number;
  /** Sends a signal through a pidfd: no race with pid reuse. */
  pidfdSendSignal(pidfd: number, signal: number): void;
  kill(pid: number, signal: number): void;
  /** Reaps a child of this process; resolves when it exits. */
  waitPidfd(pidfd: number): Promise<WaitStatus>;
  /** Non-blocking reap: null while the child still runs. */
  tryWaitPidfd(pidfd: number): WaitStatus | null;
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array): number;
  close(fd: number): void;
  geteuid(): number;
  /** A stream socket connected to the unix socket at path (the console socket). */
  connectUnix(path: string): number;
  /** Reads up to `len` bytes (fewer only at EOF), with any fd passed along (SCM_RIGHTS; else -1). */
  recvMsg(sock: number, len: number): { data: Buffer; fd: number };
  /** Sends data with an fd attached (SCM_RIGHTS). */
  sendFd(sock: number, data: Uint8Array, fd: number): void;
  /** TIOCSWINSZ on a terminal fd. */
  setWinsize(fd: number, rows: number, cols: number): void;
  /** eventfd(2): a counter fd the kernel signals (memory cgroup OOM notices). */
  eventfd(initval: number, flags: number): number;
  /** bpf(BPF_PROG_LOAD): loads an eBPF program (8-byte instructions); returns its fd. */
  bpfProgLoad(progType: number, insns: Uint8Array, license: string): number;
  /** bpf(BPF_PROG_ATTACH): attaches a program to a target fd (a cgroup v2 directory). */
  bpfProgAttach(progFd: number, targetFd: number, attachType: number, flags: number): void;
  /** PR_SET_CHILD_SUBREAPER: orphaned descendants become our children (the shim). */
  setChildSubreaper(): void;
  /** mount(2) in the caller's mount namespace (the containerd shim's rootfs). */
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** umount2(2). */
  umount2(target: string, flags: number): void;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /** dup3(oldfd, newfd, 0): newfd now names oldfd's file (a warm shim's stderr becomes its task's log). */
  dup2(oldfd: number, newfd: number): void;
  /** Non-blocking reap of one child by pid: null while it runs (or is not ours to reap). */
  reapPid(pid: number): WaitStatus | null;
  /** poll(2) for input on one fd: true once it is readable, false on timeout or hang-up. */
  pollIn(fd: number, timeoutMs: number): boolean;
}
