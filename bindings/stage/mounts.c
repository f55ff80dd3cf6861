/* The container's root and its mounts. Paths inside the root are reached
 * from its fd (openat2 RESOLVE_IN_ROOT), so no symlink leads out of it. */
#include "internal.h"

#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

/* struct mount_attr of <linux/mount.h>, which clashes with <sys/mount.h>. */
struct runts_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

/* Opens a path inside the container root; symlinks cannot escape it. */
static int open_in_root(struct stage *s, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, s->root_fd, rel, &how, sizeof how);
}

/* Splits rel into its parent (copied to parent) and last component. */
static const char *split(struct stage *s, const char *rel, char *parent, size_t size)
{
	size_t len = strnlen(rel, size);
	if (len == 0 || len >= size)
		fail(s, ENAMETOOLONG);
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

static int open_parent(struct stage *s, const char *rel, const char **name)
{
	static char parent[4096];
	*name = split(s, rel, parent, sizeof parent);
	return open_in_root(s, parent, O_PATH | O_DIRECTORY);
}

void mkdir_in_root(struct stage *s, const char *rel, mode_t mode, int as_file)
{
	char buf[4096];
	size_t len = strnlen(rel, sizeof buf);
	if (len >= sizeof buf)
		fail(s, ENAMETOOLONG);
	memcpy(buf, rel, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		int fd = open_in_root(s, buf, O_PATH);
		if (fd >= 0) {
			close(fd);
		} else if (errno == ENOENT) {
			const char *name;
			int pfd = open_parent(s, buf, &name);
			check(s, pfd);
			int last = saved == '\0' || (saved == '/' && buf[i + 1] == '\0');
			if (last && as_file) {
				int f = openat(pfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
				if (f < 0 && errno != EEXIST)
					fail(s, errno);
				if (f >= 0)
					close(f);
			} else if (mkdirat(pfd, name, mode) < 0 && errno != EEXIST) {
				fail(s, errno);
			}
			close(pfd);
		} else {
			fail(s, errno);
		}
		buf[i] = saved;
	}
}

void mount_in_root(struct stage *s, const char *rel, const char *src, const char *type, unsigned long flags,
			  const char *data)
{
	char p[32];
	int fd = open_in_root(s, rel, O_PATH);
	check(s, fd);
	fd_path(p, fd);
	check(s, mount(src, p, type, flags, data));
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

void remount_in_root(struct stage *s, const char *rel, unsigned long flags)
{
	char p[32];
	int fd = open_in_root(s, rel, O_PATH);
	check(s, fd);
	fd_path(p, fd);
	if (mount(NULL, p, NULL, flags | MS_REMOUNT | MS_BIND, NULL) < 0) {
		if (errno != EPERM)
			fail(s, errno);
		check(s, mount(NULL, p, NULL, flags | MS_REMOUNT | MS_BIND | kept_flags(p), NULL));
	}
	close(fd);
}

/* Attaches a detached mount (made idmapped by the parent) at a path inside the root. */
void move_mount_in_root(struct stage *s, const char *rel, int tree)
{
	int fd = open_in_root(s, rel, O_PATH);
	check(s, fd);
	check(s, syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
	close(fd);
	close(tree);
}

void setattr_in_root(struct stage *s, const char *rel, uint64_t set, uint64_t clr, unsigned int flags)
{
	struct runts_mount_attr attr = { set, clr, 0, 0 };
	int fd = open_in_root(s, rel, O_PATH);
	check(s, fd);
	check(s, syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr));
	close(fd);
}

void mknod_in_root(struct stage *s, const char *rel, mode_t mode, dev_t dev, uid_t uid, gid_t gid)
{
	const char *name;
	int pfd = open_parent(s, rel, &name);
	check(s, pfd);
	if (mknodat(pfd, name, mode, dev) < 0 && errno != EEXIST)
		fail(s, errno);
	check(s, fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW));
	/* fchmodat follows symlinks; the node was just checked not to be one. */
	struct stat st;
	check(s, fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW));
	if (S_ISLNK(st.st_mode))
		fail(s, ELOOP);
	check(s, fchmodat(pfd, name, mode & 07777, 0));
	close(pfd);
}

void symlink_in_root(struct stage *s, const char *target, const char *rel)
{
	const char *name;
	int pfd = open_parent(s, rel, &name);
	check(s, pfd);
	if (symlinkat(target, pfd, name) < 0 && errno != EEXIST)
		fail(s, errno);
	close(pfd);
}

void do_pivot_root(struct stage *s, const char *path)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	check(s, oldroot);
	int newroot = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	check(s, newroot);
	check(s, fchdir(newroot));
	/* pivot_root(".", ".") stacks the old root under the new one. */
	check(s, syscall(SYS_pivot_root, ".", "."));
	check(s, fchdir(oldroot));
	/* Keep the unmount from propagating back to the host. */
	check(s, mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL));
	check(s, umount2(".", MNT_DETACH));
	check(s, chdir("/"));
	close(oldroot);
	close(newroot);
	if (s->root_fd >= 0) {
		close(s->root_fd);
		s->root_fd = -1;
	}
}

void do_move_root(struct stage *s, const char *path)
{
	check(s, chdir(path));
	check(s, mount(path, "/", NULL, MS_MOVE, NULL));
	check(s, chroot("."));
	check(s, chdir("/"));
}

/* Without a mount namespace of its own, pivot_root or MS_MOVE would change the host's root. */
void do_chroot(struct stage *s, const char *path)
{
	check(s, chdir(path));
	check(s, chroot("."));
	check(s, chdir("/"));
}

void do_mask(struct stage *s, const char *path)
{
	struct stat st, null;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return;
		fail(s, errno);
	}
	if (S_ISDIR(st.st_mode)) {
		check(s, mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL));
		return;
	}
	/* Only ever bind the real null device (CVE-2025-31133). */
	check(s, stat("/dev/null", &null));
	if (!S_ISCHR(null.st_mode) || null.st_rdev != makedev(1, 3))
		fail(s, ENODEV);
	check(s, mount("/dev/null", path, NULL, MS_BIND, NULL));
}

void do_readonly(struct stage *s, const char *path, int remount_only)
{
	if (!remount_only) {
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				return;
			fail(s, errno);
		}
	}
	check(s, mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(path), NULL));
}

/* runc's tmpcopyup. Copies the tree under dir `from` into dir `to`: files,
 * directories, symlinks (as links, never followed) and special files, with
 * owner, mode and times. Everything is reached by fd, never by path. */
#define COPY_UP_DEPTH 64

static void copy_attrs(struct stage *s, int to, const char *name, const struct stat *st)
{
	const struct timespec times[2] = { st->st_atim, st->st_mtim };
	check(s, fchownat(to, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW));
	/* After the chown, which clears set-id bits; a symlink has no mode of its own. */
	if (!S_ISLNK(st->st_mode))
		check(s, fchmodat(to, name, st->st_mode & 07777, 0));
	check(s, utimensat(to, name, times, AT_SYMLINK_NOFOLLOW));
}

static void copy_file(struct stage *s, int from, int to, const char *name)
{
	static char buf[65536];
	int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	check(s, in);
	int out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	check(s, out);
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		check(s, n);
		if (n == 0)
			break;
		check(s, write_all(out, buf, (size_t)n));
	}
	close(in);
	close(out);
}

static void copy_tree(struct stage *s, int from, int to, int depth)
{
	char buf[4096];
	if (depth > COPY_UP_DEPTH)
		fail(s, ELOOP);
	for (;;) {
		long n = syscall(SYS_getdents64, from, buf, sizeof buf);
		check(s, n);
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
			check(s, fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW));
			if (S_ISDIR(st.st_mode)) {
				check(s, mkdirat(to, name, 0700));
				int sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				check(s, sub_from);
				int sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				check(s, sub_to);
				copy_tree(s, sub_from, sub_to, depth + 1);
				close(sub_from);
				close(sub_to);
			} else if (S_ISREG(st.st_mode)) {
				copy_file(s, from, to, name);
			} else if (S_ISLNK(st.st_mode)) {
				char target[4096];
				ssize_t len = readlinkat(from, name, target, sizeof target - 1);
				check(s, len);
				target[len] = '\0';
				check(s, symlinkat(target, to, name));
			} else {
				check(s, mknodat(to, name, st.st_mode & S_IFMT, st.st_rdev));
			}
			copy_attrs(s, to, name, &st);
		}
	}
}

void copy_up_in_root(struct stage *s, const char *rel, const char *src, const char *type, unsigned long flags,
			    const char *data)
{
	/* The directory as it is before the tmpfs covers it; the fd keeps reaching it after. */
	int from = open_in_root(s, rel, O_RDONLY | O_DIRECTORY);
	check(s, from);
	mount_in_root(s, rel, src, type, flags & ~MS_RDONLY, data);
	int to = open_in_root(s, rel, O_RDONLY | O_DIRECTORY);
	check(s, to);
	copy_tree(s, from, to, 0);
	close(from);
	close(to);
	if (flags & MS_RDONLY)
		remount_in_root(s, rel, flags);
}
