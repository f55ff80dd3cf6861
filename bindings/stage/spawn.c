/* The parent's side: clones the child that runs the plan, in one of three
 * ways. With the stage executable, a vforked child execs it straight into the
 * container's namespaces, or execs it as the intermediate that makes or joins
 * a user namespace (and joins a pid namespace) first; without it, Node itself
 * is forked. */
#include "internal.h"

#include <dirent.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

/* clone3 of a child that is ours to reap (SIGCHLD), with its pidfd. No
 * CLONE_VM: the child returns through here on its own copy of the stack. */
static long clone_pidfd(uint64_t flags, int *pidfd)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = flags | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = SIGCHLD;
	return syscall(SYS_clone3, &ca, sizeof ca);
}

/* What a vforked child needs to exec the stage: it shares our memory, so it
 * only reads this and reports a failed exec in err. */
struct exec_req {
	int exe;
	char *const *argv;
	const int *keep;
	int nkeep;
	int err;
};

/* Is fd one of Node's own (libuv's epoll, io_uring, eventfd, its signal pipes),
 * which sit at the numbers --preserve-fds names when the caller passed fewer?
 * Node marks inherited fds close-on-exec too, so only their kind tells: an
 * anonymous inode, or a pipe whose two ends this process holds. (Runs in the
 * parent, before the vfork: it may use the C library freely.) */
static int node_own_fd(int fd)
{
	char path[64], link[256], other[256];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	if (strncmp(link, "anon_inode:", 11) == 0)
		return 1;
	if (strncmp(link, "pipe:", 5) != 0)
		return 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	int both = 0;
	for (struct dirent *e; !both && (e = readdir(d));) {
		int o = atoi(e->d_name);
		if (e->d_name[0] == '.' || o == fd || o == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", o);
		ssize_t m = readlink(path, other, sizeof other - 1);
		if (m == n && memcmp(other, link, (size_t)n) == 0)
			both = 1;
	}
	closedir(d);
	return both;
}

/* The fds that must survive the stage's exec (Node opens all close-on-exec,
 * stdio included): stdio, the ops' fds, and the caller's preserved fds, but
 * never Node's own (they stay behind at the exec). */
int plan_fds(const uint8_t *p, int *out, int max)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)p;
	const struct runts_op *ops = (const struct runts_op *)(p + h->ops_off);
	if (max < 3)
		return -1;
	for (int fd = 0; fd < 3; fd++)
		out[fd] = fd;
	int n = op_fds(p, out + 3, max - 3);
	if (n < 0)
		return -1;
	n += 3;
	for (uint32_t i = 0; i < h->nops; i++) {
		if (ops[i].code != OP_CLOSE_FDS)
			continue;
		for (int64_t fd = 3; fd < ops[i].a[0] && fd < INT_MAX; fd++) {
			if (fcntl((int)fd, F_GETFD) < 0 || node_own_fd((int)fd))
				continue;
			if (n == max)
				return -1;
			out[n++] = (int)fd;
		}
	}
	return n;
}

static int exec_stage(void *arg)
{
	struct exec_req *r = arg;
	for (int i = 0; i < r->nkeep; i++)
		fcntl(r->keep[i], F_SETFD, 0);
	char *envp[] = { NULL };
	/* A static ELF needs no path after exec, so the close-on-exec memfd will do. */
	syscall(SYS_execveat, r->exe, "", r->argv, envp, AT_EMPTY_PATH);
	r->err = errno;
	syscall(SYS_exit, 127);
	return 127;
}

/* The intermediate child: joins the user namespace, runs the ops before
 * OP_FORK (the container's other namespaces and cgroup: an op that fails is
 * reported on the sync socket), joins the pid namespace, then clones the init
 * as its parent's child (namespaces created now belong to the joined user
 * namespace, which a threaded process could not join) and reports its pid.
 * Nothing shows in a container's pid namespace before it is in all the rest
 * of the container: its /proc/N/root there is never the host's. */
__attribute__((noreturn)) void intermediate(uint8_t *p, uint32_t len, uint64_t flags, int userns_fd, int pidns_fd,
					    int report)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)p;
	const struct runts_op *ops = (const struct runts_op *)(p + h->ops_off);
	struct stage st = STAGE_INIT, *s = &st;
	s->plan = p;
	s->plan_len = len;
	s->sync_fd = h->sync_fd;
	int64_t rc = userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0 ? -errno : 0;
	uint32_t fork_at = 0;
	while (fork_at < h->nops && ops[fork_at].code != OP_FORK)
		fork_at++;
	if (rc == 0 && fork_at < h->nops) {
		run_ops(s, 0, fork_at);
		s->first_op = fork_at + 1;
	}
	if (rc == 0 && pidns_fd >= 0 && setns(pidns_fd, CLONE_NEWPID) < 0)
		rc = -errno;
	if (rc == 0) {
		struct clone_args ca;
		memset(&ca, 0, sizeof ca);
		ca.flags = flags | CLONE_PARENT;
		long pid = syscall(SYS_clone3, &ca, sizeof ca);
		if (pid == 0) {
			close(report); /* a dead intermediate reads as EOF */
			/* A rootless runtime writes the id maps of a new user namespace through
			 * /proc, whose files a non-dumpable process keeps root's: dumpable as a
			 * fork of the runtime was, until the plan's prctl. */
			if (flags & CLONE_NEWUSER)
				prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
			child_main(s);
		}
		rc = pid < 0 ? -errno : pid;
	}
	write_all(report, &rc, sizeof rc);
	quit(0);
}

/* Reaps the intermediate and opens the init it reported. */
static int join_mid(int mid_pidfd, int report, int32_t *pidfd_out)
{
	int64_t rc;
	if (read_all(report, &rc, sizeof rc) < 0)
		rc = -EPIPE;
	siginfo_t si;
	memset(&si, 0, sizeof si);
	while (waitid((idtype_t)P_PIDFD, (id_t)mid_pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	close(mid_pidfd);
	if (rc < 0)
		return (int)rc;
	/* Our own unreaped child: its pid cannot be reused before we open it. */
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)rc, 0);
	if (pidfd < 0)
		return -errno;
	*pidfd_out = pidfd;
	return (int)rc;
}

/* With the stage executable, nothing is forked from Node: no copy of its page
 * tables (all of Node's mappings), no copy-on-write while the init waits for start.
 * Without a user namespace to create or join, the child is vforked into its
 * namespaces and execs the stage, which runs the plan. Otherwise the stage is
 * exec'd as the intermediate: an exec inside a new user namespace, before its
 * id maps exist, would drop every capability. */
static int spawn_exec(int exe, uint8_t *p, uint32_t len, uint64_t flags, int userns_fd, int pidns_fd,
		      const int *plan_keep, int nkeep, int32_t *pidfd_out)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)p;
	int direct = !(flags & CLONE_NEWUSER) && userns_fd < 0 && pidns_fd < 0;
	int pipefd[2] = { -1, -1 };
	if (!direct && pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	int keep[1024 + 3];
	memcpy(keep, plan_keep, (size_t)nkeep * sizeof keep[0]);
	char args[5][12];
	char *argv[7] = { "runts-stage", args[0], NULL };
	put_uint(args[0], (unsigned int)h->sync_fd);
	if (!direct) {
		const int nums[4] = { (int)flags, userns_fd, pidns_fd, pipefd[1] };
		for (int i = 0; i < 4; i++) {
			put_uint(args[i + 1], nums[i] < 0 ? 0xffffffffu : (unsigned int)nums[i]);
			argv[i + 2] = args[i + 1];
			if (i > 0 && nums[i] >= 0)
				keep[nkeep++] = nums[i];
		}
		argv[6] = NULL;
	}
	struct exec_req r = { exe, argv, keep, nkeep, 0 };

	/* The child's stack: ours is idle until it has exec'd. */
	char stack[16384] __attribute__((aligned(16)));
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int pidfd = -1;
	int pid = clone(exec_stage, stack + sizeof stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD | (direct ? (int)flags : 0),
			&r, &pidfd);
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (pid < 0 || r.err != 0) {
		if (pid >= 0) {
			siginfo_t si;
			while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
				;
			close(pidfd);
			err = r.err;
		}
		if (pipefd[0] >= 0)
			close(pipefd[0]);
		return -err;
	}
	/* The plan, length first, goes over the sync socket, without its scratch
	 * area: zeros the stage's fresh mapping already has. A stage that died
	 * reads as EOF to the caller's first receive (or to join_mid). Node
	 * ignores SIGPIPE. */
	if (write_all(h->close_fd, &len, sizeof len) == 0)
		write_all(h->close_fd, p, h->scratch_off);
	if (direct) {
		*pidfd_out = pidfd;
		return pid;
	}
	int rc = join_mid(pidfd, pipefd[0], pidfd_out);
	close(pipefd[0]);
	return rc;
}

/* The fork of Node itself, where the stage executable cannot be used. */
static int spawn_fork(uint8_t *p, uint32_t len, uint64_t clone_flags, int userns_fd, int pidns_fd, int32_t *pidfd_out)
{
	int join = userns_fd >= 0;
	int pipefd[2] = { -1, -1 };
	if (join && pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	sigset_t all, old;
	sigfillset(&all);
	/* The child starts with every signal blocked until it has reset handlers. */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int pidfd = -1;
	long pid = clone_pidfd(join ? 0 : clone_flags, &pidfd);
	if (pid == 0) {
		if (join)
			intermediate(p, len, clone_flags, userns_fd, pidns_fd, pipefd[1]);
		struct stage s = STAGE_INIT;
		s.plan = p;
		s.plan_len = len;
		child_main(&s);
	}
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!join) {
		if (pid < 0)
			return -err;
		*pidfd_out = pidfd;
		return (int)pid;
	}
	close(pipefd[1]);
	int rc = pid < 0 ? -err : join_mid(pidfd, pipefd[0], pidfd_out);
	close(pipefd[0]);
	return rc;
}

static int spawn(int exe, uint8_t *p, uint32_t len, uint64_t clone_flags, int userns_fd, int pidns_fd,
		 int32_t *pidfd_out)
{
	uint32_t bad;
	if (!plan_check(p, len, &bad))
		return -EBADMSG;
	int stage_fd = exe ? stage_exe() : -1;
	if (exe && stage_fd < 0)
		return -EBADF;
	int keep[1024];
	int nkeep = -1;
	/* clone() takes 31 flag bits here (they also ride in argv); the caller's end carries the plan. */
	if (exe && clone_flags >> 31 == 0 && ((const struct runts_plan_header *)p)->close_fd >= 0)
		nkeep = plan_fds(p, keep, (int)(sizeof keep / sizeof keep[0]));
	if (nkeep >= 0)
		return spawn_exec(stage_fd, p, len, clone_flags, userns_fd, pidns_fd, keep, nkeep, pidfd_out);
	return spawn_fork(p, len, clone_flags, userns_fd, pidns_fd, pidfd_out);
}

int runts_spawn(int32_t exe, uint8_t *p, uint32_t len, uint64_t clone_flags, int32_t *pidfd_out)
{
	return spawn(exe, p, len, clone_flags, -1, -1, pidfd_out);
}

int runts_spawn_join(int32_t exe, uint8_t *p, uint32_t len, uint64_t clone_flags, int32_t userns_fd, int32_t pidns_fd,
		     int32_t *pidfd_out)
{
	return spawn(exe, p, len, clone_flags, userns_fd, pidns_fd, pidfd_out);
}
