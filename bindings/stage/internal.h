/* What the stage's files share: the context a running plan carries and the
 * helpers each file lends the others. Not an interface: bindings/stage.h is.
 *
 * The child must not allocate or take locks: another Node thread may have
 * held one at clone time. Credentials change through raw syscalls, as glibc's
 * wrappers would try to signal threads that do not exist in the child. */
#ifndef RUNTS_STAGE_INTERNAL_H
#define RUNTS_STAGE_INTERNAL_H

#define _GNU_SOURCE
#include "../stage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define SCHED_ATTR_SIZE_VER0 48

/* Everything below is the stage's own: hidden from the shared library's
 * callers, and never bound to a same-named symbol of the process that loads it. */
#pragma GCC visibility push(hidden)

/* A plan being run: what the ops and every message need. One per process (the
 * child, or the intermediate, whose clone takes a copy of it along). */
struct stage {
	uint8_t *plan; /* this process's copy: strv rewrites its arrays in place */
	uint32_t plan_len;
	int sync_fd;   /* the child's end of the sync socket */
	int root_fd;   /* the container root (OP_OPEN_ROOT), until pivot_root */
	/* The exec fifo's writer, once start has the go: it reads errors there until we exec. */
	int late_fd;
	uint32_t cur_op; /* every message names the op it comes from */
	/* The first op the child runs: an intermediate ran those before OP_FORK. */
	uint32_t first_op;
	/* errno of the first cgroup self-join that failed: the parent then moves us itself. */
	int32_t join_err;
	char exec_path[4096]; /* OP_LOOKUP's find, OP_EXEC's file */
};
#define STAGE_INIT { .sync_fd = -1, .root_fd = -1, .late_fd = -1 }

/* msg.c: the sync socket, and failing on it. */
__attribute__((noreturn)) void quit(int code);
int write_all(int fd, const void *buf, size_t n);
int read_all(int fd, void *buf, size_t n);
void send_msg(struct stage *s, uint32_t kind, int32_t err, int32_t arg);
__attribute__((noreturn)) void fail(struct stage *s, int err);
void check(struct stage *s, long rc);
int send_fd(int sock, const void *buf, size_t len, int fd);
void put_uint(char *buf, unsigned int v);
void fd_path(char *buf, int fd);

/* plan.c: the plan decoder and its op table. */
#define BAD_HEADER UINT32_MAX
extern const char *const op_args[];
int plan_check(const uint8_t *p, uint32_t len, uint32_t *bad);
const char *str(struct stage *s, int64_t off);
char **strv(struct stage *s, int64_t off);
int op_fds(const uint8_t *p, int *out, int max);

/* run.c: the interpreter. */
void run_ops(struct stage *s, uint32_t from, uint32_t to);
__attribute__((noreturn)) void child_main(struct stage *s);

/* mounts.c: the root, mounts and paths inside the root. */
void mkdir_in_root(struct stage *s, const char *rel, mode_t mode, int as_file);
void mount_in_root(struct stage *s, const char *rel, const char *src, const char *type, unsigned long flags,
		   const char *data);
void remount_in_root(struct stage *s, const char *rel, unsigned long flags);
void move_mount_in_root(struct stage *s, const char *rel, int tree);
void setattr_in_root(struct stage *s, const char *rel, uint64_t set, uint64_t clr, unsigned int flags);
void mknod_in_root(struct stage *s, const char *rel, mode_t mode, dev_t dev, uid_t uid, gid_t gid);
void symlink_in_root(struct stage *s, const char *target, const char *rel);
void copy_up_in_root(struct stage *s, const char *rel, const char *src, const char *type, unsigned long flags,
		     const char *data);
void do_pivot_root(struct stage *s, const char *path);
void do_move_root(struct stage *s, const char *path);
void do_chroot(struct stage *s, const char *path);
void do_mask(struct stage *s, const char *path);
void do_readonly(struct stage *s, const char *path, int remount_only);

/* creds.c: groups, capabilities, the session keyring. */
void do_setgroups(struct stage *s, const int64_t *a);
void do_capset(struct stage *s, uint64_t eff, uint64_t perm, uint64_t inh);
void do_cap_bound(struct stage *s, uint64_t keep);
void do_cap_ambient(struct stage *s, uint64_t raise);
void do_keyring(struct stage *s, const char *name, uint32_t add);

/* console.c: the process's stdio and terminal. */
void do_stdio(struct stage *s, const int64_t *a);
void do_console(struct stage *s, int sock, int rows, int cols);

/* process.c: the process's last steps before its exec. */
void do_check_cwd(struct stage *s);
void do_write_file(struct stage *s, const char *path, const char *data, size_t len);
void do_close_fds(struct stage *s, int first);
void do_exec_fifo(struct stage *s, int fd);
void unblock_signals(void);
void do_hook(struct stage *s, const char *path, char **argv, char **envp, int64_t timeout_ms);
void do_lookup(struct stage *s, const char *file, const char *pathenv);

/* spawn.c: the parent's side of the clone, and the intermediate. */
int plan_fds(const uint8_t *p, int *out, int max);
__attribute__((noreturn)) void intermediate(uint8_t *p, uint32_t len, uint64_t flags, int userns_fd, int pidns_fd,
					    int report);

/* load.c: the sealed stage executable, or -1 if none is loaded. */
int stage_exe(void);

#pragma GCC visibility pop

#endif
