/* The process's last steps before its exec: its cwd, the fds it keeps, the
 * exec fifo that waits for start, the hooks run from inside, its executable. */
#include "internal.h"

#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/statfs.h>

/* A cwd reached through a leaked fd can lie outside the root (CVE-2024-21626):
 * the kernel then reports it as "(unreachable)/...", never as a path from "/". */
void do_check_cwd(struct stage *s)
{
	char buf[PATH_MAX];

	if (syscall(SYS_getcwd, buf, sizeof(buf)) < 0)
		fail(s, errno);
	if (buf[0] != '/')
		fail(s, ENOENT);
}

void do_write_file(struct stage *s, const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	check(s, fd);
	if (write_all(fd, data, len) < 0)
		fail(s, errno);
	close(fd);
}

/* Marks each fd >= first listed in /proc/self/fd close-on-exec, for kernels
 * without close_range (5.9) or its CLOSE_RANGE_CLOEXEC (5.11), or a runtime
 * itself under a profile that denies it. Only a real procfs lists them all. */
static void cloexec_from_proc(struct stage *s, int first)
{
	char buf[2048] __attribute__((aligned(8)));
	struct statfs sf;
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check(s, dir);
	check(s, fstatfs(dir, &sf));
	if (sf.f_type != PROC_SUPER_MAGIC)
		fail(s, ENOTSUP);
	for (;;) {
		long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
		check(s, n);
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			/* struct linux_dirent64: ino, off, reclen, type, name */
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof reclen);
			const char *name = buf + off + 19;
			off += reclen;
			long fd = name[0] ? 0 : -1; /* "." and ".." end up -1 */
			for (const char *c = name; *c && fd >= 0; c++)
				fd = *c >= '0' && *c <= '9' && fd < INT_MAX / 10 ? fd * 10 + (*c - '0') : -1;
			if (fd >= first && fd != dir)
				check(s, fcntl((int)fd, F_SETFD, FD_CLOEXEC));
		}
	}
	close(dir);
}

/* The caller's fds below `first` go to the container; the ops' own fds at those
 * numbers do not, and a number the caller did not pass is not open here. */
void do_close_fds(struct stage *s, int first)
{
	static int own[1024];
	int nown = op_fds(s->plan, own, (int)(sizeof own / sizeof own[0]));
	if (nown < 0)
		fail(s, EMFILE);
	for (int fd = 3; fd < first; fd++) {
		int mine = 0;
		for (int i = 0; i < nown && !mine; i++)
			mine = own[i] == fd;
		if (mine || (fcntl(fd, F_GETFD) < 0 && errno == EBADF))
			continue;
		check(s, fcntl(fd, F_SETFD, 0));
	}
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		cloexec_from_proc(s, first);
}

void do_exec_fifo(struct stage *s, int fd)
{
	char p[32];
	fd_path(p, fd);
	int w = open(p, O_WRONLY | O_CLOEXEC);
	check(s, w);
	if (write_all(w, "0", 1) < 0)
		fail(s, errno);
	/* w stays open until the exec closes it, after the startContainer hooks:
	 * start waits for that hang-up before it runs poststart. */
	s->late_fd = w;
	close(fd);
}

/* Runs a hook with the scratch payload (the state JSON) on its stdin. */
void do_hook(struct stage *s, const char *path, char **argv, char **envp, int64_t timeout_ms)
{
	struct runts_plan_header *h = (struct runts_plan_header *)s->plan;
	uint8_t *scratch = s->plan + h->scratch_off;
	uint32_t len;
	int p[2], pidfd = -1;
	memcpy(&len, scratch, 4);
	check(s, pipe2(p, O_CLOEXEC));
	if (len > 65536)
		fcntl(p[1], F_SETPIPE_SZ, (int)len);
	struct clone_args ca = { 0 };
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	check(s, pid);
	if (pid == 0) {
		dup3(p[0], 0, 0);
		fcntl(1, F_SETFD, 0);
		fcntl(2, F_SETFD, 0);
		unblock_signals();
		execve(path, argv, envp);
		syscall(SYS_exit_group, 127);
	}
	close(p[0]);
	write_all(p[1], scratch + 4, len); /* EPIPE is fine: the hook need not read */
	close(p[1]);
	struct pollfd pfd = { pidfd, POLLIN, 0 };
	int timeout = timeout_ms > 0 ? (int)timeout_ms : -1;
	int rc;
	do {
		rc = poll(&pfd, 1, timeout);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	check(s, syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, NULL));
	close(pidfd);
	if (rc == 0) {
		send_msg(s, MSG_HOOK, ETIMEDOUT, -1);
		quit(1);
	}
	if (si.si_code != CLD_EXITED || si.si_status != 0) {
		send_msg(s, MSG_HOOK, 0, si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status);
		quit(1);
	}
}

static int is_exec(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) < 0)
		return -errno;
	return 0;
}

void do_lookup(struct stage *s, const char *file, const char *pathenv)
{
	size_t flen = strlen(file);
	if (flen == 0 || flen >= sizeof s->exec_path)
		fail(s, ENOENT);
	if (strchr(file, '/')) {
		int rc = is_exec(file);
		if (rc < 0)
			fail(s, -rc);
		memcpy(s->exec_path, file, flen + 1);
		return;
	}
	int last_err = ENOENT;
	const char *p = pathenv ? pathenv : "";
	for (;;) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);
		if (dlen == 0) {
			dlen = 1;
			p = ".";
		}
		if (dlen + 1 + flen < sizeof s->exec_path) {
			memcpy(s->exec_path, p, dlen);
			s->exec_path[dlen] = '/';
			memcpy(s->exec_path + dlen + 1, file, flen + 1);
			int rc = is_exec(s->exec_path);
			if (rc == 0)
				return;
			if (rc != -ENOENT && rc != -ENOTDIR)
				last_err = -rc;
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	s->exec_path[0] = '\0';
	fail(s, last_err);
}

void unblock_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
