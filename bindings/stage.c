/* runts native stage. Every decision is made in TypeScript; this file only
 * clones and then interprets the plan one op at a time. The child must not
 * allocate or take locks: another Node thread may have held one at clone time.
 * Credentials change through raw syscalls, as glibc's wrappers would try to
 * signal threads that do not exist in the child. */
#define _GNU_SOURCE
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <termios.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/personality.h>
#include <sys/sendfile.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#define RUNTS_XSTR(x) #x
#define RUNTS_STR(x) RUNTS_XSTR(x)
#define STAGE_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define IOPRIO_WHO_PROCESS 1
#define SCHED_ATTR_SIZE_VER0 48

/* struct mount_attr of <linux/mount.h>, which clashes with <sys/mount.h>. */
struct runts_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

static int send_fd(int sock, const void *buf, size_t len, int fd);

static uint8_t *plan;
static uint32_t plan_len;
static int sync_fd = -1;
static int root_fd = -1;
static uint32_t cur_op;
/* The exec fifo's writer, once start has the go: it reads errors there until we exec. */
static int late_fd = -1;
/* The first op the child runs: an intermediate ran those before OP_FORK. */
static uint32_t first_op;
/* errno of the first cgroup self-join that failed: the parent then moves us itself. */
static int32_t join_err;
static char exec_path[4096];

static __attribute__((noreturn)) void quit(int code)
{
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
}

static const char *str(int64_t off)
{
	if (off < 0 || (uint64_t)off >= plan_len)
		return NULL;
	return (const char *)(plan + off);
}

/* Rewrites an array of offsets into a NULL-terminated char* array in place. */
static char **strv(int64_t off)
{
	int64_t *v = (int64_t *)(plan + off);
	for (size_t i = 0;; i++) {
		if (v[i] < 0) {
			v[i] = 0;
			break;
		}
		v[i] = (int64_t)(intptr_t)(plan + v[i]);
	}
	return (char **)v;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void send_msg(uint32_t kind, int32_t err, int32_t arg)
{
	struct runts_msg m = { kind, cur_op, err, arg };
	if (late_fd >= 0)
		write_all(late_fd, &m, sizeof m);
	if (sync_fd >= 0)
		write_all(sync_fd, &m, sizeof m);
}

static __attribute__((noreturn)) void fail(int err)
{
	send_msg(MSG_ERROR, err, 0);
	quit(1);
}

static void check(long rc)
{
	if (rc < 0)
		fail(errno);
}

/* A cwd reached through a leaked fd can lie outside the root (CVE-2024-21626):
 * the kernel then reports it as "(unreachable)/...", never as a path from "/". */
static void do_check_cwd(void)
{
	char buf[PATH_MAX];

	if (syscall(SYS_getcwd, buf, sizeof(buf)) < 0)
		fail(errno);
	if (buf[0] != '/')
		fail(ENOENT);
}

/* Decimal digits of v and a NUL at buf, without snprintf. */
static void put_uint(char *buf, unsigned int v)
{
	char digits[12];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (int i = 0; i < n; i++)
		buf[i] = digits[n - 1 - i];
	buf[n] = '\0';
}

static void fd_path(char *buf, int fd)
{
	static const char prefix[] = "/proc/self/fd/";
	memcpy(buf, prefix, sizeof prefix - 1);
	put_uint(buf + sizeof prefix - 1, (unsigned int)fd);
}

/* Opens a path inside the container root; symlinks cannot escape it. */
static int open_in_root(const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
}

/* Splits rel into its parent (copied to parent) and last component. */
static const char *split(const char *rel, char *parent, size_t size)
{
	size_t len = strnlen(rel, size);
	if (len == 0 || len >= size)
		fail(ENAMETOOLONG);
	while (len > 1 && rel[len - 1] == '/')
		len--;
	size_t slash = len;
	while (slash > 0 && rel[slash - 1] != '/')
		slash--;
	if (slash == 0) {
		parent[0] = '/';
		parent[1] = '\0';
	} else {
		memcpy(parent, rel, slash);
		parent[slash] = '\0';
	}
	return rel + slash;
}

static int open_parent(const char *rel, const char **name)
{
	static char parent[4096];
	*name = split(rel, parent, sizeof parent);
	return open_in_root(parent, O_PATH | O_DIRECTORY);
}

static void mkdir_in_root(const char *rel, mode_t mode, int as_file)
{
	char buf[4096];
	size_t len = strnlen(rel, sizeof buf);
	if (len >= sizeof buf)
		fail(ENAMETOOLONG);
	memcpy(buf, rel, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		int fd = open_in_root(buf, O_PATH);
		if (fd >= 0) {
			close(fd);
		} else if (errno == ENOENT) {
			const char *name;
			int pfd = open_parent(buf, &name);
			check(pfd);
			int last = saved == '\0' || (saved == '/' && buf[i + 1] == '\0');
			if (last && as_file) {
				int f = openat(pfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
				if (f < 0 && errno != EEXIST)
					fail(errno);
				if (f >= 0)
					close(f);
			} else if (mkdirat(pfd, name, mode) < 0 && errno != EEXIST) {
				fail(errno);
			}
			close(pfd);
		} else {
			fail(errno);
		}
		buf[i] = saved;
	}
}

static void mount_in_root(const char *rel, const char *src, const char *type, unsigned long flags,
			  const char *data)
{
	char p[32];
	int fd = open_in_root(rel, O_PATH);
	check(fd);
	fd_path(p, fd);
	check(mount(src, p, type, flags, data));
	close(fd);
}

/* Flags a bind remount must keep: the kernel refuses to clear locked ones. */
static unsigned long kept_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static void remount_in_root(const char *rel, unsigned long flags)
{
	char p[32];
	int fd = open_in_root(rel, O_PATH);
	check(fd);
	fd_path(p, fd);
	if (mount(NULL, p, NULL, flags | MS_REMOUNT | MS_BIND, NULL) < 0) {
		if (errno != EPERM)
			fail(errno);
		check(mount(NULL, p, NULL, flags | MS_REMOUNT | MS_BIND | kept_flags(p), NULL));
	}
	close(fd);
}

/* Attaches a detached mount (made idmapped by the parent) at a path inside the root. */
static void move_mount_in_root(const char *rel, int tree)
{
	int fd = open_in_root(rel, O_PATH);
	check(fd);
	check(syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
	close(fd);
	close(tree);
}

static void setattr_in_root(const char *rel, uint64_t set, uint64_t clr, unsigned int flags)
{
	struct runts_mount_attr attr = { set, clr, 0, 0 };
	int fd = open_in_root(rel, O_PATH);
	check(fd);
	check(syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr));
	close(fd);
}

/* An unprivileged user namespace (or one whose gid_map newgidmap wrote for
 * the caller's own gid) has setgroups denied: there is nothing to drop then. */
static int setgroups_denied(void)
{
	char buf[8] = { 0 };
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n >= 4 && memcmp(buf, "deny", 4) == 0;
}

static void mknod_in_root(const char *rel, mode_t mode, dev_t dev, uid_t uid, gid_t gid)
{
	const char *name;
	int pfd = open_parent(rel, &name);
	check(pfd);
	if (mknodat(pfd, name, mode, dev) < 0 && errno != EEXIST)
		fail(errno);
	check(fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW));
	/* fchmodat follows symlinks; the node was just checked not to be one. */
	struct stat st;
	check(fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW));
	if (S_ISLNK(st.st_mode))
		fail(ELOOP);
	check(fchmodat(pfd, name, mode & 07777, 0));
	close(pfd);
}

static void symlink_in_root(const char *target, const char *rel)
{
	const char *name;
	int pfd = open_parent(rel, &name);
	check(pfd);
	if (symlinkat(target, pfd, name) < 0 && errno != EEXIST)
		fail(errno);
	close(pfd);
}

static void do_pivot_root(const char *path)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	check(oldroot);
	int newroot = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	check(newroot);
	check(fchdir(newroot));
	/* pivot_root(".", ".") stacks the old root under the new one. */
	check(syscall(SYS_pivot_root, ".", "."));
	check(fchdir(oldroot));
	/* Keep the unmount from propagating back to the host. */
	check(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL));
	check(umount2(".", MNT_DETACH));
	check(chdir("/"));
	close(oldroot);
	close(newroot);
	if (root_fd >= 0) {
		close(root_fd);
		root_fd = -1;
	}
}

static void do_move_root(const char *path)
{
	check(chdir(path));
	check(mount(path, "/", NULL, MS_MOVE, NULL));
	check(chroot("."));
	check(chdir("/"));
}

/* Without a mount namespace of its own, pivot_root or MS_MOVE would change the host's root. */
static void do_chroot(const char *path)
{
	check(chdir(path));
	check(chroot("."));
	check(chdir("/"));
}

static void do_mask(const char *path)
{
	struct stat st, null;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return;
		fail(errno);
	}
	if (S_ISDIR(st.st_mode)) {
		check(mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL));
		return;
	}
	/* Only ever bind the real null device (CVE-2025-31133). */
	check(stat("/dev/null", &null));
	if (!S_ISCHR(null.st_mode) || null.st_rdev != makedev(1, 3))
		fail(ENODEV);
	check(mount("/dev/null", path, NULL, MS_BIND, NULL));
}

static void do_readonly(const char *path, int remount_only)
{
	if (!remount_only) {
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				return;
			fail(errno);
		}
	}
	check(mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(path), NULL));
}

static void do_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	check(fd);
	if (write_all(fd, data, len) < 0)
		fail(errno);
	close(fd);
}

/* Installs fd src as fd i for the container, in a blocking description. */
static void install_stdio(int i, int src)
{
	struct stat st;
	char p[32];
	int fd = src;
	check(fstat(src, &st));
	if (S_ISFIFO(st.st_mode)) {
		/* A pipe reopened through /proc gets its own open file description,
		 * so clearing O_NONBLOCK does not reach the caller's copy. */
		int fl = fcntl(src, F_GETFL);
		check(fl);
		fd_path(p, src);
		int re = open(p, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
		if (re >= 0)
			fd = re;
	}
	if (fd != i)
		check(dup3(fd, i, 0));
	else
		check(fcntl(i, F_SETFD, 0));
	if (fd != src)
		close(fd);
	int fl = fcntl(i, F_GETFL);
	check(fl);
	if (fl & O_NONBLOCK)
		check(fcntl(i, F_SETFL, fl & ~O_NONBLOCK));
}

static void do_stdio(const int64_t *a)
{
	for (int i = 0; i < 3; i++)
		install_stdio(i, a[i] < 0 ? i : (int)a[i]);
}

/* Marks each fd >= first listed in /proc/self/fd close-on-exec, for kernels
 * without close_range (5.9) or its CLOSE_RANGE_CLOEXEC (5.11), or a runtime
 * itself under a profile that denies it. Only a real procfs lists them all. */
static void cloexec_from_proc(int first)
{
	char buf[2048] __attribute__((aligned(8)));
	struct statfs sf;
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check(dir);
	check(fstatfs(dir, &sf));
	if (sf.f_type != PROC_SUPER_MAGIC)
		fail(ENOTSUP);
	for (;;) {
		long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
		check(n);
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
				check(fcntl((int)fd, F_SETFD, FD_CLOEXEC));
		}
	}
	close(dir);
}

static int op_fds(const uint8_t *p, int *out, int max);

/* The caller's fds below `first` go to the container; the ops' own fds at those
 * numbers do not, and a number the caller did not pass is not open here. */
static void do_close_fds(int first)
{
	static int own[1024];
	int nown = op_fds(plan, own, (int)(sizeof own / sizeof own[0]));
	if (nown < 0)
		fail(EMFILE);
	for (int fd = 3; fd < first; fd++) {
		int mine = 0;
		for (int i = 0; i < nown && !mine; i++)
			mine = own[i] == fd;
		if (mine || (fcntl(fd, F_GETFD) < 0 && errno == EBADF))
			continue;
		check(fcntl(fd, F_SETFD, 0));
	}
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		cloexec_from_proc(first);
}

static void do_exec_fifo(int fd)
{
	char p[32];
	fd_path(p, fd);
	int w = open(p, O_WRONLY | O_CLOEXEC);
	check(w);
	if (write_all(w, "0", 1) < 0)
		fail(errno);
	/* w stays open until the exec closes it, after the startContainer hooks:
	 * start waits for that hang-up before it runs poststart. */
	late_fd = w;
	close(fd);
}

static void do_sync(int32_t tag)
{
	struct runts_reply r;
	struct runts_plan_header *h = (struct runts_plan_header *)plan;
	send_msg(MSG_SYNC, join_err, tag);
	join_err = 0;
	if (read_all(sync_fd, &r, sizeof r) < 0 || r.status != 0)
		quit(1);
	if (r.len > h->scratch_len - 4)
		fail(E2BIG);
	uint8_t *scratch = plan + h->scratch_off;
	memcpy(scratch, &r.len, 4);
	if (r.len > 0 && read_all(sync_fd, scratch + 4, r.len) < 0)
		quit(1);
}

static void unblock_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Runs a hook with the scratch payload (the state JSON) on its stdin. */
static void do_hook(const char *path, char **argv, char **envp, int64_t timeout_ms)
{
	struct runts_plan_header *h = (struct runts_plan_header *)plan;
	uint8_t *scratch = plan + h->scratch_off;
	uint32_t len;
	int p[2], pidfd = -1;
	memcpy(&len, scratch, 4);
	check(pipe2(p, O_CLOEXEC));
	if (len > 65536)
		fcntl(p[1], F_SETPIPE_SZ, (int)len);
	struct clone_args ca = { 0 };
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	check(pid);
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
	check(syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, NULL));
	close(pidfd);
	if (rc == 0) {
		send_msg(MSG_HOOK, ETIMEDOUT, -1);
		quit(1);
	}
	if (si.si_code != CLD_EXITED || si.si_status != 0) {
		send_msg(MSG_HOOK, 0, si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status);
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

static void do_lookup(const char *file, const char *pathenv)
{
	size_t flen = strlen(file);
	if (flen == 0 || flen >= sizeof exec_path)
		fail(ENOENT);
	if (strchr(file, '/')) {
		int rc = is_exec(file);
		if (rc < 0)
			fail(-rc);
		memcpy(exec_path, file, flen + 1);
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
		if (dlen + 1 + flen < sizeof exec_path) {
			memcpy(exec_path, p, dlen);
			exec_path[dlen] = '/';
			memcpy(exec_path + dlen + 1, file, flen + 1);
			int rc = is_exec(exec_path);
			if (rc == 0)
				return;
			if (rc != -ENOENT && rc != -ENOTDIR)
				last_err = -rc;
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	exec_path[0] = '\0';
	fail(last_err);
}

/* The container's own pty (its devpts, after pivot_root): the master goes to
 * the console socket with SCM_RIGHTS and the pty name as data, like runc; the
 * peer is opened through the master (TIOCGPTPEER), never by path. */
static void do_console(int sock, int rows, int cols)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	check(master);
	int unlock = 0;
	check(ioctl(master, TIOCSPTLCK, &unlock));
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	check(slave);
	if (rows > 0 || cols > 0) {
		struct winsize ws = { (unsigned short)rows, (unsigned short)cols, 0, 0 };
		check(ioctl(slave, TIOCSWINSZ, &ws));
	}
	unsigned int n = 0;
	check(ioctl(master, TIOCGPTN, &n));
	char name[32] = "/dev/pts/";
	char digits[12];
	int len = 0, pos = 9;
	do {
		digits[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	while (len > 0)
		name[pos++] = digits[--len];
	name[pos] = '\0';

	int rc = send_fd(sock, name, (size_t)pos, master);
	if (rc < 0)
		fail(-rc);
	close(master);
	close(sock);
	check(ioctl(slave, TIOCSCTTY, 0));
	for (int i = 0; i < 3; i++)
		check(dup3(slave, i, 0));
	close(slave);
}

static void do_capset(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};
	check(syscall(SYS_capset, &hdr, d));
}

static void do_cap_bound(uint64_t keep)
{
	for (int cap = 0; cap < 64; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			fail(errno);
	}
}

static void do_cap_ambient(uint64_t raise)
{
	for (int cap = 0; cap < 64; cap++) {
		if (raise & (1ULL << cap))
			check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
	}
}

/* runc's tmpcopyup. Copies the tree under dir `from` into dir `to`: files,
 * directories, symlinks (as links, never followed) and special files, with
 * owner, mode and times. Everything is reached by fd, never by path. */
#define COPY_UP_DEPTH 64

static void copy_attrs(int to, const char *name, const struct stat *st)
{
	const struct timespec times[2] = { st->st_atim, st->st_mtim };
	check(fchownat(to, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW));
	/* After the chown, which clears set-id bits; a symlink has no mode of its own. */
	if (!S_ISLNK(st->st_mode))
		check(fchmodat(to, name, st->st_mode & 07777, 0));
	check(utimensat(to, name, times, AT_SYMLINK_NOFOLLOW));
}

static void copy_file(int from, int to, const char *name)
{
	static char buf[65536];
	int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	check(in);
	int out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	check(out);
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		check(n);
		if (n == 0)
			break;
		check(write_all(out, buf, (size_t)n));
	}
	close(in);
	close(out);
}

static void copy_tree(int from, int to, int depth)
{
	char buf[4096];
	if (depth > COPY_UP_DEPTH)
		fail(ELOOP);
	for (;;) {
		long n = syscall(SYS_getdents64, from, buf, sizeof buf);
		check(n);
		if (n == 0)
			return;
		for (long off = 0; off < n;) {
			struct dirent64_raw {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (struct dirent64_raw *)(buf + off);
			off += d->reclen;
			const char *name = d->name;
			if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
				continue;
			struct stat st;
			check(fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW));
			if (S_ISDIR(st.st_mode)) {
				check(mkdirat(to, name, 0700));
				int sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				check(sub_from);
				int sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				check(sub_to);
				copy_tree(sub_from, sub_to, depth + 1);
				close(sub_from);
				close(sub_to);
			} else if (S_ISREG(st.st_mode)) {
				copy_file(from, to, name);
			} else if (S_ISLNK(st.st_mode)) {
				char target[4096];
				ssize_t len = readlinkat(from, name, target, sizeof target - 1);
				check(len);
				target[len] = '\0';
				check(symlinkat(target, to, name));
			} else {
				check(mknodat(to, name, st.st_mode & S_IFMT, st.st_rdev));
			}
			copy_attrs(to, name, &st);
		}
	}
}

static void copy_up_in_root(const char *rel, const char *src, const char *type, unsigned long flags,
			    const char *data)
{
	/* The directory as it is before the tmpfs covers it; the fd keeps reaching it after. */
	int from = open_in_root(rel, O_RDONLY | O_DIRECTORY);
	check(from);
	mount_in_root(rel, src, type, flags & ~MS_RDONLY, data);
	int to = open_in_root(rel, O_RDONLY | O_DIRECTORY);
	check(to);
	copy_tree(from, to, 0);
	close(from);
	close(to);
	if (flags & MS_RDONLY)
		remount_in_root(rel, flags);
}

/* A session keyring of the container's own instead of the caller's, whose keys
 * it could otherwise read. A kernel without keyrings has none to share. The
 * bits added let the container's exec'd processes join it by name. */
static void do_keyring(const char *name, uint32_t add)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
	if (id < 0 && errno == ENOSYS)
		return;
	check(id);
	if (add == 0)
		return;
	/* "type;uid;gid;perm;description", perm in hex; the kernel copies none of it
	 * into a buffer too small (ids are at most 1024 bytes). */
	char desc[2048];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1, 0);
	check(n);
	if ((size_t)n >= sizeof desc)
		fail(ENAMETOOLONG);
	desc[n] = 0;
	const char *p = desc;
	for (int semis = 0; semis < 3; p++) {
		if (*p == 0)
			fail(EINVAL);
		if (*p == ';')
			semis++;
	}
	uint32_t perm = 0;
	for (; *p && *p != ';'; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			fail(EINVAL);
		perm = perm << 4 | (uint32_t)d;
	}
	check(syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm | add, 0, 0));
}

static void run_op(const struct runts_op *op)
{
	const int64_t *a = op->a;
	switch (op->code) {
	case OP_SETNS:
		check(setns((int)a[0], (int)a[1]));
		break;
	case OP_UNSHARE:
		check(unshare((int)a[0]));
		break;
	case OP_SYNC:
		do_sync((int32_t)a[0]);
		break;
	case OP_SETHOSTNAME:
		check(sethostname(str(a[0]), strlen(str(a[0]))));
		break;
	case OP_SETDOMAINNAME:
		check(setdomainname(str(a[0]), strlen(str(a[0]))));
		break;
	case OP_MOUNT:
		check(mount(str(a[0]), str(a[1]), str(a[2]), (unsigned long)a[3], str(a[4])));
		break;
	case OP_MOUNT_IN_ROOT:
		mount_in_root(str(a[0]), str(a[1]), str(a[2]), (unsigned long)a[3], str(a[4]));
		break;
	case OP_OPEN_ROOT:
		root_fd = open(str(a[0]), O_PATH | O_DIRECTORY | O_CLOEXEC);
		check(root_fd);
		break;
	case OP_MKDIR_IN_ROOT:
		mkdir_in_root(str(a[0]), (mode_t)a[1], (int)a[2]);
		break;
	case OP_MKNOD_IN_ROOT:
		mknod_in_root(str(a[0]), (mode_t)a[1], (dev_t)a[2], (uid_t)a[3], (gid_t)a[4]);
		break;
	case OP_SYMLINK_IN_ROOT:
		symlink_in_root(str(a[0]), str(a[1]));
		break;
	case OP_PIVOT_ROOT:
		do_pivot_root(str(a[0]));
		break;
	case OP_MOVE_ROOT:
		do_move_root(str(a[0]));
		break;
	case OP_CHROOT:
		do_chroot(str(a[0]));
		break;
	case OP_MASK:
		do_mask(str(a[0]));
		break;
	case OP_READONLY:
		do_readonly(str(a[0]), (int)a[1]);
		break;
	case OP_WRITE_FILE:
		do_write_file(str(a[0]), str(a[1]), (size_t)a[2]);
		break;
	case OP_SETRLIMIT: {
		struct rlimit rl = { (rlim_t)a[1], (rlim_t)a[2] };
		check(prlimit(0, (int)a[0], &rl, NULL));
		break;
	}
	case OP_UMASK:
		umask((mode_t)a[0]);
		break;
	case OP_SETGROUPS:
		if (syscall(SYS_setgroups, (size_t)a[1], a[1] ? (const gid_t *)(plan + a[0]) : NULL) < 0) {
			if (errno == EPERM && a[2] && setgroups_denied())
				break;
			fail(errno);
		}
		break;
	case OP_SETRESGID:
		check(syscall(SYS_setresgid, (gid_t)a[0], (gid_t)a[0], (gid_t)a[0]));
		break;
	case OP_SETRESUID:
		check(syscall(SYS_setresuid, (uid_t)a[0], (uid_t)a[0], (uid_t)a[0]));
		break;
	case OP_PRCTL:
		check(prctl((int)a[0], a[1], a[2], a[3], a[4]));
		break;
	case OP_CAPSET:
		do_capset((uint64_t)a[0], (uint64_t)a[1], (uint64_t)a[2]);
		break;
	case OP_CHDIR:
		check(chdir(str(a[0])));
		do_check_cwd();
		break;
	case OP_STDIO:
		do_stdio(a);
		break;
	case OP_CLOSE_FDS:
		do_close_fds((int)a[0]);
		break;
	case OP_EXEC_FIFO:
		do_exec_fifo((int)a[0]);
		break;
	case OP_HOOK:
		do_hook(str(a[0]), strv(a[1]), strv(a[2]), a[3]);
		break;
	case OP_LOOKUP:
		do_lookup(str(a[0]), str(a[1]));
		break;
	case OP_EXEC: {
		char **argv = strv(a[0]);
		char **envp = strv(a[1]);
		execve(exec_path, argv, envp);
		send_msg(MSG_ERROR, errno, 0);
		quit(127);
	}
	case OP_SECCOMP: {
		struct sock_fprog prog = { (unsigned short)a[1], (struct sock_filter *)(plan + a[0]) };
		long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)a[2], &prog);
		check(fd);
		if (a[2] & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
			/* The parent hands the listener to the seccomp agent at listenerPath. */
			struct runts_msg m = { MSG_SECCOMP, cur_op, 0, 0 };
			struct runts_reply r;
			int rc = send_fd(sync_fd, &m, sizeof m, (int)fd);
			if (rc < 0)
				fail(-rc);
			close((int)fd);
			if (read_all(sync_fd, &r, sizeof r) < 0 || r.status != 0)
				quit(1);
		}
		break;
	}
	case OP_READY: {
		/* A runtime gone before READY leaves nobody to start us. */
		struct runts_msg m = { MSG_READY, cur_op, 0, 0 };
		if (write_all(sync_fd, &m, sizeof m) < 0)
			quit(1);
		break;
	}
	case OP_UNBLOCK_SIGNALS:
		unblock_signals();
		break;
	case OP_CAP_AMBIENT:
		do_cap_ambient((uint64_t)a[0]);
		break;
	case OP_CAP_BOUND:
		do_cap_bound((uint64_t)a[0]);
		break;
	case OP_REMOUNT_IN_ROOT:
		remount_in_root(str(a[0]), (unsigned long)a[1]);
		break;
	case OP_PERSONALITY:
		check(personality((unsigned long)a[0]));
		break;
	case OP_SETSID:
		check(setsid());
		break;
	case OP_SCHED_SETATTR:
		check(syscall(SYS_sched_setattr, 0, plan + a[0], 0));
		break;
	case OP_IOPRIO_SET:
		check(syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (int)a[0]));
		break;
	case OP_FORK: /* spawned without an intermediate: already where the rest belongs */
		break;
	case OP_CONSOLE:
		do_console((int)a[0], (int)a[1], (int)a[2]);
		break;
	case OP_MOVE_MOUNT_IN_ROOT:
		move_mount_in_root(str(a[0]), (int)a[1]);
		break;
	case OP_SETATTR_IN_ROOT:
		setattr_in_root(str(a[0]), (uint64_t)a[1], (uint64_t)a[2], (unsigned int)a[3]);
		break;
	case OP_JOIN_CGROUP:
		/* Only this thread moves, which is the whole process: the stage is single-threaded. */
		if (write((int)a[0], "0", 1) < 0 && join_err == 0)
			join_err = errno;
		close((int)a[0]);
		break;
	case OP_COPY_UP_IN_ROOT:
		copy_up_in_root(str(a[0]), str(a[1]), str(a[2]), (unsigned long)a[3], str(a[4]));
		break;
	case OP_KEYRING:
		do_keyring(str(a[0]), (uint32_t)a[1]);
		break;
	default:
		fail(ENOSYS);
	}
}

static __attribute__((noreturn)) void child_main(void)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)plan;
	const struct runts_op *ops = (const struct runts_op *)(plan + h->ops_off);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	/* Node's handlers and ignored signals (SIGPIPE) must not reach the container. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sync_fd = h->sync_fd;
	/* Without the parent's end, a dead parent reads as EOF here. */
	if (h->close_fd >= 0)
		close(h->close_fd);
	umask(0);
	for (uint32_t i = first_op; i < h->nops; i++) {
		cur_op = i;
		run_op(&ops[i]);
	}
	quit(0);
}

/* What each op's arguments are, by opcode (stage.h), checked before any op
 * runs: n a number (or fd), S a string, s a string or -1, V an array of
 * strings, G a[1] gids, P a[1] BPF instructions, D a[2] bytes, A a struct
 * sched_attr. Missing: an unknown op. */
static const char *const op_args[] = {
	[OP_SETNS] = "nn", [OP_UNSHARE] = "n", [OP_SYNC] = "n", [OP_SETHOSTNAME] = "S", [OP_SETDOMAINNAME] = "S",
	[OP_MOUNT] = "sssns", [OP_MOUNT_IN_ROOT] = "Sssns", [OP_OPEN_ROOT] = "S", [OP_MKDIR_IN_ROOT] = "Snn",
	[OP_MKNOD_IN_ROOT] = "Snnnn", [OP_SYMLINK_IN_ROOT] = "SS", [OP_PIVOT_ROOT] = "S", [OP_MOVE_ROOT] = "S",
	[OP_MASK] = "S", [OP_READONLY] = "Sn", [OP_WRITE_FILE] = "SDn", [OP_SETRLIMIT] = "nnn", [OP_UMASK] = "n",
	[OP_SETGROUPS] = "Gnn", [OP_SETRESGID] = "n", [OP_SETRESUID] = "n", [OP_PRCTL] = "nnnnn",
	[OP_CAPSET] = "nnn", [OP_CHDIR] = "S", [OP_STDIO] = "nnn", [OP_CLOSE_FDS] = "n", [OP_EXEC_FIFO] = "n",
	[OP_HOOK] = "SVVn", [OP_LOOKUP] = "Ss", [OP_EXEC] = "VV", [OP_SECCOMP] = "Pnn", [OP_READY] = "",
	[OP_CAP_AMBIENT] = "n", [OP_CAP_BOUND] = "n", [OP_REMOUNT_IN_ROOT] = "Sn", [OP_PERSONALITY] = "n",
	[OP_SETSID] = "", [OP_CONSOLE] = "nnn", [OP_SCHED_SETATTR] = "A", [OP_MOVE_MOUNT_IN_ROOT] = "Sn",
	[OP_SETATTR_IN_ROOT] = "Snnn", [OP_JOIN_CGROUP] = "n", [OP_KEYRING] = "Sn", [OP_UNBLOCK_SIGNALS] = "",
	[OP_FORK] = "", [OP_IOPRIO_SET] = "n", [OP_COPY_UP_IN_ROOT] = "Sssns", [OP_CHROOT] = "S",
};

/* The data area: strings, arrays and buffers live between the ops and the scratch. */
struct span {
	uint64_t lo, hi;
};

static int in_data(struct span d, int64_t off, uint64_t n, uint64_t align)
{
	return off >= 0 && (uint64_t)off >= d.lo && (uint64_t)off <= d.hi && n <= d.hi - (uint64_t)off &&
	       (uint64_t)off % align == 0;
}

/* A NUL-terminated string inside the data area, outside every array (an
 * array is rewritten into pointers in place: a string in it would lose its
 * NUL). */
static int str_ok(const uint8_t *p, struct span d, int64_t off, const struct span *arrays, int narrays)
{
	if (!in_data(d, off, 1, 1))
		return 0;
	const uint8_t *nul = memchr(p + off, 0, d.hi - (uint64_t)off);
	if (!nul)
		return 0;
	uint64_t end = (uint64_t)(nul - p) + 1;
	for (int i = 0; i < narrays; i++)
		if ((uint64_t)off < arrays[i].hi && arrays[i].lo < end)
			return 0;
	return 1;
}

/* argv and env of the process and of every hook: plenty. */
#define MAX_ARRAYS 1024

#define BAD_HEADER UINT32_MAX

/* Checks the header and every op's arguments against the buffer: after this,
 * no op reads outside the plan. Returns 1 if good, else 0 with the first bad
 * op's index in *bad (BAD_HEADER for the header). */
static int plan_check(const uint8_t *p, uint32_t len, uint32_t *bad)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)p;
	*bad = BAD_HEADER;
	if (len < sizeof *h || h->magic != RUNTS_PLAN_MAGIC || h->version != RUNTS_PLAN_VERSION || h->ops_off < sizeof *h ||
	    h->ops_off % 8 != 0 || h->scratch_off > len || h->scratch_off % 8 != 0 || h->ops_off > h->scratch_off ||
	    (uint64_t)h->nops * sizeof(struct runts_op) > h->scratch_off - h->ops_off || h->scratch_len < 4 ||
	    h->scratch_len > len - h->scratch_off)
		return 0;
	const struct runts_op *ops = (const struct runts_op *)(p + h->ops_off);
	struct span d = { h->ops_off + (uint64_t)h->nops * sizeof(struct runts_op), h->scratch_off };
	/* Arrays first: the strings are then checked against all of them. */
	struct span arrays[MAX_ARRAYS];
	int narrays = 0;
	for (uint32_t i = 0; i < h->nops; i++) {
		const char *kinds = ops[i].code < sizeof op_args / sizeof op_args[0] ? op_args[ops[i].code] : NULL;
		*bad = i;
		if (!kinds)
			return 0;
		for (int j = 0; kinds[j]; j++) {
			if (kinds[j] != 'V')
				continue;
			int64_t off = ops[i].a[j];
			if (!in_data(d, off, 8, 8) || narrays == MAX_ARRAYS)
				return 0;
			uint64_t n = 0;
			const int64_t *v = (const int64_t *)(p + off);
			while (v[n] >= 0) {
				n++;
				if (!in_data(d, off, (n + 1) * 8, 8))
					return 0;
			}
			struct span a = { (uint64_t)off, (uint64_t)off + (n + 1) * 8 };
			for (int k = 0; k < narrays; k++)
				if (a.lo < arrays[k].hi && arrays[k].lo < a.hi)
					return 0;
			arrays[narrays++] = a;
		}
	}
	for (uint32_t i = 0; i < h->nops; i++) {
		const char *kinds = op_args[ops[i].code];
		const int64_t *a = ops[i].a;
		*bad = i;
		for (int j = 0; kinds[j]; j++) {
			int ok = 1;
			switch (kinds[j]) {
			case 's':
				ok = a[j] == -1 || str_ok(p, d, a[j], arrays, narrays);
				break;
			case 'S':
				ok = str_ok(p, d, a[j], arrays, narrays);
				break;
			case 'V':
				for (const int64_t *v = (const int64_t *)(p + a[j]); ok && *v >= 0; v++)
					ok = str_ok(p, d, *v, arrays, narrays);
				break;
			case 'G': /* no gids: no array */
				ok = a[1] >= 0 && a[1] <= 65536 && (a[1] == 0 || in_data(d, a[j], (uint64_t)a[1] * 4, 4));
				break;
			case 'P':
				ok = a[1] > 0 && a[1] <= BPF_MAXINSNS && in_data(d, a[j], (uint64_t)a[1] * 8, 4);
				break;
			case 'D':
				ok = a[2] >= 0 && in_data(d, a[j], (uint64_t)a[2], 1);
				break;
			case 'A':
				ok = in_data(d, a[j], SCHED_ATTR_SIZE_VER0, 8);
				break;
			}
			if (!ok)
				return 0;
		}
	}
	return 1;
}

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

/* The stage executable, sealed in a memfd (runts_stage_load), and what it was
 * when made: a cached fd number that Node closed and reused is not it. */
static int stage_fd = -1;
static struct stat stage_st;

static int stage_ok(void)
{
	struct stat st;
	if (stage_fd < 0 || fstat(stage_fd, &st) < 0 || st.st_dev != stage_st.st_dev || st.st_ino != stage_st.st_ino)
		return 0;
	int seals = fcntl(stage_fd, F_GET_SEALS);
	return seals >= 0 && (seals & STAGE_SEALS) == STAGE_SEALS;
}

static int copy_stage_file(int out, const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0) {
		int err = errno;
		if (in >= 0)
			close(in);
		return -err;
	}
	int rc = 0;
	for (off_t done = 0; rc == 0 && done < st.st_size;) {
		ssize_t n = sendfile(out, in, NULL, (size_t)(st.st_size - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else
			done += n;
	}
	close(in);
	return rc;
}

int runts_stage_load(const char *path, const uint8_t *bytes, uint32_t len)
{
	if (stage_ok())
		return 0;
	stage_fd = -1; /* not ours any more, if it ever changed: never closed here */
	int fd = (int)syscall(SYS_memfd_create, "runts-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 */
		fd = (int)syscall(SYS_memfd_create, "runts-stage", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	int rc = path ? copy_stage_file(fd, path) : write_all(fd, bytes, len) < 0 ? -errno : 0;
	if (rc == 0 && (fcntl(fd, F_ADD_SEALS, STAGE_SEALS) < 0 || fstat(fd, &stage_st) < 0))
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	stage_fd = fd;
	return 0;
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

/* The fds the plan's own ops take (the sync socket, namespaces, the exec fifo, ...):
 * runts' own, never the caller's, whatever their numbers. */
static int op_fds(const uint8_t *p, int *out, int max)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)p;
	const struct runts_op *ops = (const struct runts_op *)(p + h->ops_off);
	int n = 0;
#define KEEP(fd)                                     \
	do {                                         \
		if ((fd) >= 0) {                     \
			if (n == max)                \
				return -1;           \
			out[n++] = (int)(fd);        \
		}                                    \
	} while (0)
	KEEP(h->sync_fd);
	for (uint32_t i = 0; i < h->nops; i++) {
		const int64_t *a = ops[i].a;
		switch (ops[i].code) {
		case OP_SETNS:
		case OP_EXEC_FIFO:
		case OP_CONSOLE:
		case OP_JOIN_CGROUP:
			KEEP(a[0]);
			break;
		case OP_MOVE_MOUNT_IN_ROOT:
			KEEP(a[1]);
			break;
		case OP_STDIO:
			for (int j = 0; j < 3; j++)
				KEEP(a[j]);
			break;
		}
	}
#undef KEEP
	return n;
}

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
static int plan_fds(const uint8_t *p, int *out, int max)
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
static __attribute__((noreturn)) void intermediate(uint8_t *p, uint32_t len, uint64_t flags, int userns_fd, int pidns_fd,
						   int report)
{
	const struct runts_plan_header *h = (const struct runts_plan_header *)p;
	const struct runts_op *ops = (const struct runts_op *)(p + h->ops_off);
	plan = p;
	plan_len = len;
	sync_fd = h->sync_fd;
	int64_t rc = userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0 ? -errno : 0;
	uint32_t fork_at = 0;
	while (fork_at < h->nops && ops[fork_at].code != OP_FORK)
		fork_at++;
	if (rc == 0 && fork_at < h->nops) {
		for (uint32_t i = 0; i < fork_at; i++) {
			cur_op = i;
			run_op(&ops[i]);
		}
		first_op = fork_at + 1;
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
			child_main();
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
 * tables (~50 MiB mapped), no copy-on-write while the init waits for start.
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
		first_op = 0;
		plan = p;
		plan_len = len;
		child_main();
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
	if (exe && !stage_ok())
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

int runts_recv_msg(int sock, char *buf, int len, int32_t *fd_out)
{
	int got = 0;
	*fd_out = -1;
	while (got < len) {
		char control[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf + got, (size_t)(len - got) };
		struct msghdr msg = { 0 };
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd_out, CMSG_DATA(c), sizeof(int));
		got += (int)n;
	}
	return got;
}

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
	char control[CMSG_SPACE(sizeof(int))];
	memset(control, 0, sizeof control);
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { 0 };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof control;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t n;
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int runts_send_fd(int sock, const char *buf, int len, int fd)
{
	return send_fd(sock, buf, (size_t)len, fd);
}

#ifdef RUNTS_STAGE_MAIN
/* Exec'd, a process is dumpable until it says otherwise, and its /proc/N/exe
 * is then open to the container it runs in: say so before anything else runs.
 * On x86_64 the ELF entry point (-e runts_stage_entry) does it, then goes on
 * to the C library's _start with rdx zeroed (no exit handler from a loader);
 * elsewhere, a constructor. */
#ifdef __x86_64__
__asm__(".text\n"
	".globl runts_stage_entry\n"
	".type runts_stage_entry, @function\n"
	"runts_stage_entry:\n"
	"	mov $" RUNTS_STR(SYS_prctl) ", %eax\n"
	"	mov $" RUNTS_STR(PR_SET_DUMPABLE) ", %edi\n"
	"	xor %esi, %esi\n"
	"	syscall\n"
	"	xor %edx, %edx\n"
	"	jmp _start\n");
#else
static __attribute__((constructor)) void not_dumpable(void)
{
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
#endif

static int arg_fd(const char *a)
{
	char *end;
	unsigned long v = strtoul(a, &end, 10);
	if (end == a || *end != '\0' || v > 0xffffffffu)
		quit(2);
	return v == 0xffffffffu ? -1 : (int)v;
}

/* The stage executable (see spawn_exec): argv[1] names the sync socket, which
 * brings the plan, length first. As the intermediate, four more: the clone
 * flags, the user and pid namespaces to join (or -1) and the report pipe. */
int main(int argc, char **argv)
{
	/* Exec'd from a memfd, our name would be its fd number. */
	prctl(PR_SET_NAME, "runts-stage", 0, 0, 0);
	if (argc != 2 && argc != 6)
		quit(2);
	int fd = arg_fd(argv[1]);
	/* The fds were kept open for this exec only: hooks and the container get
	 * them as a forked child would, close-on-exec. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	if (fd < 0)
		quit(2);
	sync_fd = fd;
	uint32_t len;
	uint8_t *p = MAP_FAILED;
	uint32_t bad = BAD_HEADER;
	if (read_all(fd, &len, sizeof len) == 0 && len <= (1U << 30) && len >= sizeof(struct runts_plan_header))
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* Everything up to the scratch area comes; the scratch is this mapping's zeros. */
	struct runts_plan_header *h = (struct runts_plan_header *)p;
	if (p == MAP_FAILED || read_all(fd, p, sizeof *h) < 0 || h->scratch_off < sizeof *h || h->scratch_off > len ||
	    read_all(fd, p + sizeof *h, h->scratch_off - sizeof *h) < 0 || !plan_check(p, len, &bad) || h->sync_fd != fd) {
		/* The runtime checked it before sending: this one was damaged on the way. */
		cur_op = bad;
		fail(EBADMSG);
	}
	h->close_fd = -1; /* the runtime's end was close-on-exec */
	if (argc == 6)
		intermediate(p, len, (unsigned int)arg_fd(argv[2]), arg_fd(argv[3]), arg_fd(argv[4]), arg_fd(argv[5]));
	plan = p;
	plan_len = len;
	child_main();
}
#endif
