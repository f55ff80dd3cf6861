/* The interpreter: runs the plan one op at a time. Every decision was made in
 * TypeScript; each op here is one syscall or one helper, in one flat switch. */
#include "internal.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#define IOPRIO_WHO_PROCESS 1

static void do_sync(struct stage *s, int32_t tag)
{
	struct runts_reply r;
	struct runts_plan_header *h = (struct runts_plan_header *)s->plan;
	send_msg(s, MSG_SYNC, s->join_err, tag);
	s->join_err = 0;
	if (read_all(s->sync_fd, &r, sizeof r) < 0 || r.status != 0)
		quit(1);
	if (r.len > h->scratch_len - 4)
		fail(s, E2BIG);
	uint8_t *scratch = s->plan + h->scratch_off;
	memcpy(scratch, &r.len, 4);
	if (r.len > 0 && read_all(s->sync_fd, scratch + 4, r.len) < 0)
		quit(1);
}

static void run_op(struct stage *s, const struct runts_op *op)
{
	const int64_t *a = op->a;
	switch (op->code) {
	case OP_SETNS:
		check(s, setns((int)a[0], (int)a[1]));
		break;
	case OP_UNSHARE:
		check(s, unshare((int)a[0]));
		break;
	case OP_SYNC:
		do_sync(s, (int32_t)a[0]);
		break;
	case OP_SETHOSTNAME:
		check(s, sethostname(str(s, a[0]), strlen(str(s, a[0]))));
		break;
	case OP_SETDOMAINNAME:
		check(s, setdomainname(str(s, a[0]), strlen(str(s, a[0]))));
		break;
	case OP_MOUNT:
		check(s, mount(str(s, a[0]), str(s, a[1]), str(s, a[2]), (unsigned long)a[3], str(s, a[4])));
		break;
	case OP_MOUNT_IN_ROOT:
		mount_in_root(s, str(s, a[0]), str(s, a[1]), str(s, a[2]), (unsigned long)a[3], str(s, a[4]));
		break;
	case OP_OPEN_ROOT:
		s->root_fd = open(str(s, a[0]), O_PATH | O_DIRECTORY | O_CLOEXEC);
		check(s, s->root_fd);
		break;
	case OP_MKDIR_IN_ROOT:
		mkdir_in_root(s, str(s, a[0]), (mode_t)a[1], (int)a[2]);
		break;
	case OP_MKNOD_IN_ROOT:
		mknod_in_root(s, str(s, a[0]), (mode_t)a[1], (dev_t)a[2], (uid_t)a[3], (gid_t)a[4]);
		break;
	case OP_SYMLINK_IN_ROOT:
		symlink_in_root(s, str(s, a[0]), str(s, a[1]));
		break;
	case OP_PIVOT_ROOT:
		do_pivot_root(s, str(s, a[0]));
		break;
	case OP_MOVE_ROOT:
		do_move_root(s, str(s, a[0]));
		break;
	case OP_CHROOT:
		do_chroot(s, str(s, a[0]));
		break;
	case OP_MASK:
		do_mask(s, str(s, a[0]));
		break;
	case OP_READONLY:
		do_readonly(s, str(s, a[0]), (int)a[1]);
		break;
	case OP_WRITE_FILE:
		do_write_file(s, str(s, a[0]), str(s, a[1]), (size_t)a[2]);
		break;
	case OP_SETRLIMIT: {
		struct rlimit rl = { (rlim_t)a[1], (rlim_t)a[2] };
		check(s, prlimit(0, (int)a[0], &rl, NULL));
		break;
	}
	case OP_UMASK:
		umask((mode_t)a[0]);
		break;
	case OP_SETGROUPS:
		do_setgroups(s, a);
		break;
	case OP_SETRESGID:
		check(s, syscall(SYS_setresgid, (gid_t)a[0], (gid_t)a[0], (gid_t)a[0]));
		break;
	case OP_SETRESUID:
		check(s, syscall(SYS_setresuid, (uid_t)a[0], (uid_t)a[0], (uid_t)a[0]));
		break;
	case OP_PRCTL:
		check(s, prctl((int)a[0], a[1], a[2], a[3], a[4]));
		break;
	case OP_CAPSET:
		do_capset(s, (uint64_t)a[0], (uint64_t)a[1], (uint64_t)a[2]);
		break;
	case OP_CHDIR:
		check(s, chdir(str(s, a[0])));
		do_check_cwd(s);
		break;
	case OP_STDIO:
		do_stdio(s, a);
		break;
	case OP_CLOSE_FDS:
		do_close_fds(s, (int)a[0]);
		break;
	case OP_EXEC_FIFO:
		do_exec_fifo(s, (int)a[0]);
		break;
	case OP_HOOK:
		do_hook(s, str(s, a[0]), strv(s, a[1]), strv(s, a[2]), a[3]);
		break;
	case OP_LOOKUP:
		do_lookup(s, str(s, a[0]), str(s, a[1]));
		break;
	case OP_EXEC: {
		char **argv = strv(s, a[0]);
		char **envp = strv(s, a[1]);
		execve(s->exec_path, argv, envp);
		send_msg(s, MSG_ERROR, errno, 0);
		quit(127);
	}
	case OP_SECCOMP: {
		struct sock_fprog prog = { (unsigned short)a[1], (struct sock_filter *)(s->plan + a[0]) };
		long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)a[2], &prog);
		check(s, fd);
		if (a[2] & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
			/* The parent hands the listener to the seccomp agent at listenerPath. */
			struct runts_msg m = { MSG_SECCOMP, s->cur_op, 0, 0 };
			struct runts_reply r;
			int rc = send_fd(s->sync_fd, &m, sizeof m, (int)fd);
			if (rc < 0)
				fail(s, -rc);
			close((int)fd);
			if (read_all(s->sync_fd, &r, sizeof r) < 0 || r.status != 0)
				quit(1);
		}
		break;
	}
	case OP_READY: {
		/* A runtime gone before READY leaves nobody to start us. */
		struct runts_msg m = { MSG_READY, s->cur_op, 0, 0 };
		if (write_all(s->sync_fd, &m, sizeof m) < 0)
			quit(1);
		break;
	}
	case OP_UNBLOCK_SIGNALS:
		unblock_signals();
		break;
	case OP_CAP_AMBIENT:
		do_cap_ambient(s, (uint64_t)a[0]);
		break;
	case OP_CAP_BOUND:
		do_cap_bound(s, (uint64_t)a[0]);
		break;
	case OP_REMOUNT_IN_ROOT:
		remount_in_root(s, str(s, a[0]), (unsigned long)a[1]);
		break;
	case OP_PERSONALITY:
		check(s, personality((unsigned long)a[0]));
		break;
	case OP_SETSID:
		check(s, setsid());
		break;
	case OP_SCHED_SETATTR:
		check(s, syscall(SYS_sched_setattr, 0, s->plan + a[0], 0));
		break;
	case OP_IOPRIO_SET:
		check(s, syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (int)a[0]));
		break;
	case OP_FORK: /* spawned without an intermediate: already where the rest belongs */
		break;
	case OP_CONSOLE:
		do_console(s, (int)a[0], (int)a[1], (int)a[2]);
		break;
	case OP_MOVE_MOUNT_IN_ROOT:
		move_mount_in_root(s, str(s, a[0]), (int)a[1]);
		break;
	case OP_SETATTR_IN_ROOT:
		setattr_in_root(s, str(s, a[0]), (uint64_t)a[1], (uint64_t)a[2], (unsigned int)a[3]);
		break;
	case OP_JOIN_CGROUP:
		/* Only this thread moves, which is the whole process: the stage is single-threaded. */
		if (write((int)a[0], "0", 1) < 0 && s->join_err == 0)
			s->join_err = errno;
		close((int)a[0]);
		break;
	case OP_COPY_UP_IN_ROOT:
		copy_up_in_root(s, str(s, a[0]), str(s, a[1]), str(s, a[2]), (unsigned long)a[3], str(s, a[4]));
		break;
	case OP_KEYRING:
		do_keyring(s, str(s, a[0]), (uint32_t)a[1]);
		break;
	default:
		fail(s, ENOSYS);
	}
}

/* Runs ops [from, to): the intermediate its share before OP_FORK, the child the rest. */
void run_ops(struct stage *s, uint32_t from, uint32_t to)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)s->plan;
	const struct runts_op *ops = (const struct runts_op *)(s->plan + h->ops_off);
	for (uint32_t i = from; i < to; i++) {
		s->cur_op = i;
		run_op(s, &ops[i]);
	}
}

__attribute__((noreturn)) void child_main(struct stage *s)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)s->plan;
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	/* Node's handlers and ignored signals (SIGPIPE) must not reach the container. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	s->sync_fd = h->sync_fd;
	/* Without the parent's end, a dead parent reads as EOF here. */
	if (h->close_fd >= 0)
		close(h->close_fd);
	umask(0);
	run_ops(s, s->first_op, h->nops);
	quit(0);
}
