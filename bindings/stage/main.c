/* main of runts-stage, the stage built as a static executable (spawn.c). */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define RUNTS_XSTR(x) #x
#define RUNTS_STR(x) RUNTS_XSTR(x)

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

/* The stage executable (spawn.c, spawn_exec): argv[1] names the sync socket, which
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
	struct stage s = STAGE_INIT;
	s.sync_fd = fd;
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
		s.cur_op = bad;
		fail(&s, EBADMSG);
	}
	h->close_fd = -1; /* the runtime's end was close-on-exec */
	if (argc == 6)
		intermediate(p, len, (unsigned int)arg_fd(argv[2]), arg_fd(argv[3]), arg_fd(argv[4]), arg_fd(argv[5]));
	s.plan = p;
	s.plan_len = len;
	child_main(&s);
}
