/* Credentials: supplementary groups, capabilities, and the session keyring. */
#include "internal.h"

#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sys/prctl.h>

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

void do_capset(struct stage *s, uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};
	check(s, syscall(SYS_capset, &hdr, d));
}

void do_cap_bound(struct stage *s, uint64_t keep)
{
	for (int cap = 0; cap < 64; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			fail(s, errno);
	}
}

void do_cap_ambient(struct stage *s, uint64_t raise)
{
	for (int cap = 0; cap < 64; cap++) {
		if (raise & (1ULL << cap))
			check(s, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
	}
}

/* A session keyring of the container's own instead of the caller's, whose keys
 * it could otherwise read. A kernel without keyrings has none to share. The
 * bits added let the container's exec'd processes join it by name. */
void do_keyring(struct stage *s, const char *name, uint32_t add)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
	if (id < 0 && errno == ENOSYS)
		return;
	check(s, id);
	if (add == 0)
		return;
	/* "type;uid;gid;perm;description", perm in hex; the kernel copies none of it
	 * into a buffer too small (ids are at most 1024 bytes). */
	char desc[2048];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1, 0);
	check(s, n);
	if ((size_t)n >= sizeof desc)
		fail(s, ENAMETOOLONG);
	desc[n] = 0;
	const char *p = desc;
	for (int semis = 0; semis < 3; p++) {
		if (*p == 0)
			fail(s, EINVAL);
		if (*p == ';')
			semis++;
	}
	uint32_t perm = 0;
	for (; *p && *p != ';'; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			fail(s, EINVAL);
		perm = perm << 4 | (uint32_t)d;
	}
	check(s, syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm | add, 0, 0));
}

void do_setgroups(struct stage *s, const int64_t *a)
{
	if (syscall(SYS_setgroups, (size_t)a[1], a[1] ? (const gid_t *)(s->plan + a[0]) : NULL) < 0) {
		if (errno == EPERM && a[2] && setgroups_denied())
			return;
		fail(s, errno);
	}
}
