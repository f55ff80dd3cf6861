/** Opcodes of the native stage; the numbers are bindings/stage.h's (a test checks). */
export const Op = {
  SETNS: 1,
  UNSHARE: 2,
  SYNC: 3,
  SETHOSTNAME: 4,
  SETDOMAINNAME: 5,
  MOUNT: 6,
  MOUNT_IN_ROOT: 7,
  OPEN_ROOT: 8,
  MKDIR_IN_ROOT: 9,
  MKNOD_IN_ROOT: 10,
  SYMLINK_IN_ROOT: 11,
  PIVOT_ROOT: 12,
  MOVE_ROOT: 13,
  MASK: 14,
  READONLY: 15,
  WRITE_FILE: 16,
  SETRLIMIT: 17,
  UMASK: 18,
  SETGROUPS: 19,
  SETRESGID: 20,
  SETRESUID: 21,
  PRCTL: 22,
  CAPSET: 23,
  CHDIR: 24,
  STDIO: 25,
  CLOSE_FDS: 26,
  EXEC_FIFO: 27,
  HOOK: 28,
  LOOKUP: 29,
  EXEC: 30,
  SECCOMP: 31,
  READY: 32,
  CAP_AMBIENT: 33,
  CAP_BOUND: 34,
  REMOUNT_IN_ROOT: 35,
  PERSONALITY: 36,
  SETSID: 37,
  CONSOLE: 38,
  SCHED_SETATTR: 39,
  MOVE_MOUNT_IN_ROOT: 40,
  SETATTR_IN_ROOT: 41,
  JOIN_CGROUP: 42,
  KEYRING: 43,
  UNBLOCK_SIGNALS: 44,
  FORK: 45,
  IOPRIO_SET: 46,
  COPY_UP_IN_ROOT: 50,
  CHROOT: 60,
} as const;
export type OpName = keyof typeof Op;

/** Child -> parent message kinds. */
export const Msg = { SYNC: 1, ERROR: 2, READY: 3, HOOK: 4, SECCOMP: 5 } as const;

/** Tags of the SYNC points where the parent acts; the whole conversation is drawn at the top of bindings/stage.h. */
export const SyncTag = {
  /** Child exists: write id maps, place it in cgroups. */
  SETUP: 1,
  /** Namespaces and mounts are ready, root not yet pivoted: prestart and createRuntime hooks; reply carries the state JSON. */
  HOOKS: 2,
  /** Before the exec fifo: reply carries the state JSON for startContainer hooks. */
  START_STATE: 3,
} as const;

export const PLAN_MAGIC = 0x53544e52;
export const PLAN_VERSION = 1;
export const HEADER_SIZE = 32;
export const OP_SIZE = 56;
export const MSG_SIZE = 16;
