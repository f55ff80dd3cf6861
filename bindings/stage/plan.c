/* The plan decoder: the op table that says what each op's arguments are,
 * the check of a whole plan against it before any op runs, and the readers
 * of strings and arrays the ops then use. */
#include "internal.h"

#include <linux/filter.h>

const char *str(struct stage *s, int64_t off)
{
	if (off < 0 || (uint64_t)off >= s->plan_len)
		return NULL;
	return (const char *)(s->plan + off);
}

/* Rewrites an array of offsets into a NULL-terminated char* array in place. */
char **strv(struct stage *s, int64_t off)
{
	int64_t *v = (int64_t *)(s->plan + off);
	for (size_t i = 0;; i++) {
		if (v[i] < 0) {
			v[i] = 0;
			break;
		}
		v[i] = (int64_t)(intptr_t)(s->plan + v[i]);
	}
	return (char **)v;
}

/* What each op's arguments are, by opcode (stage.h), checked before any op
 * runs: n a number (or fd), S a string, s a string or -1, V an array of
 * strings, G a[1] gids, P a[1] BPF instructions, D a[2] bytes, A a struct
 * sched_attr. Missing: an unknown op. */
const char *const op_args[] = {
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

/* Checks the header and every op's arguments against the buffer: after this,
 * no op reads outside the plan. Returns 1 if good, else 0 with the first bad
 * op's index in *bad (BAD_HEADER for the header). */
int plan_check(const uint8_t *p, uint32_t len, uint32_t *bad)
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

/* The fds the plan's own ops take (the sync socket, namespaces, the exec fifo, ...):
 * runts' own, never the caller's, whatever their numbers. */
int op_fds(const uint8_t *p, int *out, int max)
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
