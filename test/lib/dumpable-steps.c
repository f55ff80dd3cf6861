/* How many instructions an executable runs before it is non-dumpable
 * (test/security.test.ts). It is exec'd as uid 65534 under ptrace and
 * single-stepped from its first instruction; /proc/N/status is owned by that uid
 * while the process is dumpable and by root once it is not. Prints the count,
 * or -1 if it never became non-dumpable within the limit. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execl(argv[1], argv[1], (char *)NULL);
		_exit(4);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status)) /* the stop at exec: nothing of it has run */
		return 5;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/%d/status", pid);
	long steps = 0;
	for (; steps < 1000000; steps++) {
		struct stat st;
		if (stat(proc, &st) < 0)
			return 6;
		if (st.st_uid == 0)
			break;
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0 || waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status)) {
			steps = -1;
			break;
		}
	}
	printf("%ld\n", steps == 1000000 ? -1 : steps);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return 0;
}
