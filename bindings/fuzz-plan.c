/* libFuzzer harness for the plan decoder (make fuzz): any bytes either fail
 * plan_check or decode without a read outside the buffer (ASan, UBSan), the
 * way the stage's ops read them. Built by clang with -fsanitize=fuzzer. */
#include "stage/internal.h"

#include <linux/filter.h>
#include <stdlib.h>

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1U << 20))
		return 0;
	/* The stage's plan is page-aligned (mmap) and the runtime's 8-aligned. */
	uint8_t *p = aligned_alloc(8, (size + 7) & ~(size_t)7);
	if (!p)
		return 0;
	memcpy(p, data, size);
	uint32_t bad;
	if (plan_check(p, (uint32_t)size, &bad)) {
		const struct runts_plan_header *h = (const struct runts_plan_header *)p;
		const struct runts_op *ops = (const struct runts_op *)(p + h->ops_off);
		struct stage st = STAGE_INIT, *s = &st;
		s->plan = p;
		s->plan_len = (uint32_t)size;
		size_t n = 0;
		for (uint32_t i = 0; i < h->nops; i++) {
			const char *kinds = op_args[ops[i].code];
			const int64_t *a = ops[i].a;
			for (int j = 0; kinds[j]; j++) {
				switch (kinds[j]) {
				case 'S':
				case 's':
					n += str(s, a[j]) ? strlen(str(s, a[j])) : 0;
					break;
				case 'V':
					for (char **v = strv(s, a[j]); *v; v++)
						n += strlen(*v);
					break;
				case 'G':
					for (int64_t k = 0; k < a[1]; k++)
						n += ((const uint32_t *)(p + a[j]))[k];
					break;
				case 'P':
					for (int64_t k = 0; k < a[1]; k++)
						n += ((const struct sock_filter *)(p + a[j]))[k].k;
					break;
				case 'D':
					for (int64_t k = 0; k < a[2]; k++)
						n += p[a[j] + k];
					break;
				case 'A':
					n += p[a[j] + SCHED_ATTR_SIZE_VER0 - 1];
					break;
				}
			}
		}
		/* plan_fds looks at every fd below OP_CLOSE_FDS's first: 3 plus
		 * --preserve-fds from the runtime, but up to INT_MAX fcntl calls
		 * (minutes) from a fuzzed one, which would only stall the run. */
		int spin = 0;
		for (uint32_t i = 0; i < h->nops; i++)
			spin |= ops[i].code == OP_CLOSE_FDS && ops[i].a[0] > 65536;
		int keep[1024];
		if (!spin)
			n += (size_t)plan_fds(p, keep, (int)(sizeof keep / sizeof keep[0]));
		sink = n;
	}
	free(p);
	return 0;
}
