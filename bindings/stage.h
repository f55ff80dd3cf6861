/* runts native stage: clone a child and run a plan in it that never returns to JS.
 *
 * The plan is one buffer built by TypeScript (packages/runtime/src/plan/encode.ts):
 *   header | ops[nops] | data (strings, arrays, BPF programs) | scratch
 * Strings are NUL-terminated and referenced by their offset from the start of
 * the buffer; -1 means NULL. Arrays of strings (argv, envp) are arrays of int64
 * offsets ending with -1; the child rewrites them into pointers in place (the
 * child owns a copy-on-write copy of the buffer, so nothing is allocated).
 *
 * The child reports over the sync socket with fixed 16-byte messages; the
 * parent answers each SYNC with a 8-byte reply header and an optional payload
 * that lands in the scratch area (state JSON for hooks).
 *
 * The sync protocol, in order: the runtime (packages/runtime: spawnIn and
 * converse during create and exec, then start) on the left, the stage on the
 * right. ─── is the sync socket, ═══ another channel; [x] marks what only
 * some plans have. The SYNC tags are packages/runtime/src/plan/ops.ts's
 * SyncTag: the stage passes them through and never reads them.
 *
 *   runtime (Node)                                              stage
 *   socketpair(): the plan's sync_fd is the child's end, close_fd ours
 *   runts_spawn[_join]: plan_check, then vfork + exec of runts-stage
 *     (argv: sync_fd [clone flags, userns, pidns, report pipe])
 *     ── u32 len, then the plan up to scratch_off ─────────────────▶ plan_check
 *   [a user namespace to make or join, a pid     the stage is an intermediate:
 *    namespace to join]                            it joins them, runs the ops
 *                                                  before FORK, clones the init
 *                                                  (CLONE_PARENT) and exits
 *     ◀══ report pipe: i64 init pid, or -errno ═════════════════════
 *   closes the child's ends: the init's exit now reads as EOF
 *                                                  ops up to SYNC(SETUP), the
 *                                                  cgroup self-join among them
 *     ◀── MSG_SYNC { arg SETUP (1), err: that join's errno or 0 } ──
 *   id maps; cgroup placement unless the self-join worked; resources;
 *   oom_score_adj (exec: the cgroup placement only)
 *     ── reply { status 0, len 0 } ────────────────────────────────▶
 *                                                  namespaces, the root, mounts
 *   [prestart or createRuntime hooks]
 *     ◀── MSG_SYNC { arg HOOKS (2) } ─────────────────────────────
 *   runs prestart, then createRuntime hooks
 *     ── reply { 0, len, state JSON } ─────────────────────────────▶ into scratch
 *                                                  HOOK createContainer: the
 *                                                  state JSON on its stdin
 *                                                  pivot_root, sysctls, masks
 *   [terminal]                                     CONSOLE: a new pty
 *     ◀══ console socket: "/dev/pts/N", the master (SCM_RIGHTS) ═══
 *        (to --console-socket's listener, or to the runtime's own
 *        socketpair when it relays the terminal itself)
 *                                                  user, capabilities, cwd, fds
 *   [startContainer hooks]
 *     ◀── MSG_SYNC { arg START_STATE (3) } ───────────────────────
 *     ── reply { 0, len, state JSON } ─────────────────────────────▶ into scratch
 *   [SCMP_ACT_NOTIFY]                              SECCOMP with a listener
 *     ◀── MSG_SECCOMP, the listener fd (SCM_RIGHTS) ──────────────
 *   hands it to the agent at linux.seccomp.listenerPath
 *     ── reply { status 0, len 0 } ────────────────────────────────▶
 *     ◀── MSG_READY ──────────────────────────────────────────────
 *   create: [relayed terminal] takes the master;
 *   records the container; is done.                EXEC_FIFO: opens the exec
 *                                                  fifo to write (blocks)
 *   start: opens the fifo to read ═══════════════════════════════▶ writes "0"
 *   reads "0"                                      and keeps the fifo open
 *                                                  HOOK startContainer,
 *                                                  UNBLOCK_SIGNALS, SECCOMP
 *     ◀══ fifo: EOF, execve closed it ══════════════════════════════ EXEC
 *   poststart hooks
 *
 * runts exec builds a plan without EXEC_FIFO: after MSG_READY it reads the
 * sync socket once more, for EOF (the execve closed it) or a step's failure.
 *
 * At any step:
 *   ◀── MSG_ERROR { op, err: errno }: that op failed; the stage exits 1 (an
 *       execve that failed: 127). After EXEC_FIFO the message also goes to
 *       the fifo, which start reads to its EOF. A plan damaged on its way to
 *       the stage: EBADMSG, op = the first bad op (0xffffffff: the header).
 *   ◀── MSG_HOOK { err 0, arg: exit status or 128 + signal; or err
 *       ETIMEDOUT, arg -1 }: a hook the stage ran failed; the stage exits 1.
 *   ── reply { status != 0 }: the runtime failed on its side and says why
 *       itself; the stage exits 1 without a word.
 *   EOF: the other side died. The stage then exits; the runtime reads the
 *       init's wait status from its pidfd and names the last op reported.
 *
 * Without the stage executable (RUNTS_STAGE_EXE=, empty) Node itself is
 * forked: no plan on the socket, and an intermediate only to join a user
 * namespace; the conversation is otherwise the same.
 */
#ifndef RUNTS_STAGE_H
#define RUNTS_STAGE_H

#include <stdint.h>

#define RUNTS_PLAN_MAGIC 0x53544e52u /* "RNTS" */
#define RUNTS_PLAN_VERSION 1u

struct runts_plan_header {
	uint32_t magic;
	uint32_t version;
	uint32_t nops;
	uint32_t ops_off;
	int32_t sync_fd;
	uint32_t scratch_off;
	uint32_t scratch_len;
	int32_t close_fd; /* the parent's end of the sync socket: closed first in the child */
};

#define RUNTS_OP_ARGS 6

struct runts_op {
	uint32_t code;
	uint32_t flags;
	int64_t a[RUNTS_OP_ARGS];
};

/* Keep in sync with packages/runtime/src/plan/ops.ts (checked by a test). */
enum runts_opcode {
	OP_SETNS = 1,           /* fd, nstype */
	OP_UNSHARE = 2,         /* flags */
	OP_SYNC = 3,            /* tag */
	OP_SETHOSTNAME = 4,     /* str */
	OP_SETDOMAINNAME = 5,   /* str */
	OP_MOUNT = 6,           /* src, target, fstype, flags, data */
	OP_MOUNT_IN_ROOT = 7,   /* relpath, src, fstype, flags, data */
	OP_OPEN_ROOT = 8,       /* path */
	OP_MKDIR_IN_ROOT = 9,   /* relpath, mode, as_file */
	OP_MKNOD_IN_ROOT = 10,  /* relpath, mode, dev, uid, gid */
	OP_SYMLINK_IN_ROOT = 11,/* target, relpath */
	OP_PIVOT_ROOT = 12,     /* path */
	OP_MOVE_ROOT = 13,      /* path (no pivot: MS_MOVE + chroot) */
	OP_MASK = 14,           /* path */
	OP_READONLY = 15,       /* path, recursive */
	OP_WRITE_FILE = 16,     /* path, data, len */
	OP_SETRLIMIT = 17,      /* resource, soft, hard */
	OP_UMASK = 18,          /* mask */
	OP_SETGROUPS = 19,      /* array offset (uint32[]), count, skip if the user namespace denies setgroups */
	OP_SETRESGID = 20,      /* gid */
	OP_SETRESUID = 21,      /* uid */
	OP_PRCTL = 22,          /* option, a2, a3, a4, a5 */
	OP_CAPSET = 23,         /* effective, permitted, inheritable (64-bit masks) */
	OP_CHDIR = 24,          /* path */
	OP_STDIO = 25,          /* fd0, fd1, fd2 (-1: keep) */
	OP_CLOSE_FDS = 26,      /* first fd to mark close-on-exec */
	OP_EXEC_FIFO = 27,      /* O_PATH fd of the exec fifo */
	OP_HOOK = 28,           /* path, argv, envp, timeout_ms */
	OP_LOOKUP = 29,         /* file, PATH string */
	OP_EXEC = 30,           /* argv, envp */
	OP_SECCOMP = 31,        /* prog offset, nfilters, flags */
	OP_READY = 32,          /* - */
	OP_CAP_AMBIENT = 33,    /* 64-bit mask of caps to raise */
	OP_CAP_BOUND = 34,      /* 64-bit mask of caps to keep in the bounding set */
	OP_REMOUNT_IN_ROOT = 35,/* relpath, flags (bind remount keeping locked flags) */
	OP_PERSONALITY = 36,    /* persona */
	OP_SETSID = 37,         /* - */
	OP_SCHED_SETATTR = 39,  /* offset of a struct sched_attr (SCHED_ATTR_SIZE_VER0 bytes) */
	OP_CONSOLE = 38,        /* socket fd, rows, cols: new pty, master sent over the socket, slave as stdio */
	OP_MOVE_MOUNT_IN_ROOT = 40, /* relpath, fd of a detached mount (open_tree): attached there, then closed */
	OP_SETATTR_IN_ROOT = 41,/* relpath, attr_set, attr_clr, AT_ flags (AT_RECURSIVE): mount_setattr */
	OP_JOIN_CGROUP = 42,    /* fd of a v1 `tasks` file the runtime opened: write "0", close; a failure rides on the next SYNC's err */
	OP_KEYRING = 43,        /* name, permission bits to add: join (or create) that session keyring; ENOSYS: none to share */
	OP_UNBLOCK_SIGNALS = 44,/* -: the stage runs with every signal blocked until just before the seccomp filter and execve */
	OP_FORK = 45,           /* an intermediate stops here: it joins the pid namespace and clones the rest (see runts_spawn_join) */
	OP_IOPRIO_SET = 46,     /* ioprio of this process (IOPRIO_WHO_PROCESS) */
	OP_COPY_UP_IN_ROOT = 50,/* as OP_MOUNT_IN_ROOT (a tmpfs), then what the directory held is copied into it (runc's tmpcopyup) */
	OP_CHROOT = 60,         /* path: chdir + chroot, for a container without a mount namespace of its own */
};

/* Child -> parent messages. */
enum runts_msg_kind {
	MSG_SYNC = 1,   /* reached OP_SYNC, tag in arg; err: the first failed OP_JOIN_CGROUP's errno */
	MSG_ERROR = 2,  /* op failed with errno */
	MSG_READY = 3,  /* about to block on the exec fifo */
	MSG_HOOK = 4,   /* a hook failed: arg = wait status, or errno if < 0 */
	MSG_SECCOMP = 5, /* the seccomp listener fd rides along (SCM_RIGHTS); a reply follows */
};

struct runts_msg {
	uint32_t kind;
	uint32_t op;
	int32_t err;
	int32_t arg;
};

struct runts_reply {
	uint32_t status; /* 0: go on; anything else: exit quietly */
	uint32_t len;    /* payload bytes that follow, stored in scratch */
};

/* Copies the stage built as an executable (the file at path, or len bytes)
 * into a sealed memfd, once per process: what runts_spawn execs. A container
 * that catches its /proc/N/exe gets a file nobody can write. 0 or -errno. */
int runts_stage_load(const char *path, const uint8_t *bytes, uint32_t len);

/* Returns the child's pid, or -errno. *pidfd_out gets a pidfd for it. With exe
 * set, the child (or an intermediate) execs the stage runts_stage_load made
 * and reads the plan from the sync socket, so Node is never forked; the plan's
 * close_fd must then be set. 0 forks Node. */
int runts_spawn(int32_t exe, uint8_t *plan, uint32_t len, uint64_t clone_flags, int32_t *pidfd_out);

/* As runts_spawn, but through a short-lived intermediate child that joins the
 * user namespace userns_fd (if >= 0; a threaded process cannot), runs the
 * plan's ops before its OP_FORK, joins the pid namespace pidns_fd (if >= 0) and
 * only then clones the child, which runs the rest: namespaces the child
 * creates belong to the joined user namespace, and nothing appears in a
 * container's pid namespace before it is in the container's other namespaces. */
int runts_spawn_join(int32_t exe, uint8_t *plan, uint32_t len, uint64_t clone_flags, int32_t userns_fd,
		     int32_t pidns_fd, int32_t *pidfd_out);

/* Reads len bytes, or fewer if the peer closes; an fd sent with SCM_RIGHTS lands
 * in *fd_out (else -1). Returns the bytes read (0 at EOF) or -errno. */
int runts_recv_msg(int sock, char *buf, int len, int32_t *fd_out);
/* Sends data with fd attached (SCM_RIGHTS). Returns 0 or -errno. */
int runts_send_fd(int sock, const char *buf, int len, int fd);

#endif
