/* The pod sandbox's process (the "pause" image): it holds the pod's
 * namespaces until SIGINT or SIGTERM, and as PID 1 of a pod's shared pid
 * namespace reaps the orphans it inherits. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  /* Blocked and taken with sigwait: PID 1 gets no default action anyway. */
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (;;) {
    int sig;
    if (sigwait(&set, &sig) != 0) return 1;
    if (sig != SIGCHLD) return 0;
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
  }
}
