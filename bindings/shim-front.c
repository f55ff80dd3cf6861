// containerd-shim-runts-v1's front door. containerd runs `start` for every
// task and `delete` after every shim disconnect, each as a short process on
// the task's critical path; a Node start would cost more than runc's whole
// run. A warm runts-shim (packages/shim/src/warm.ts) keeps the runtime
// loaded: this front hands it the call (argv, cwd, environment, stdin) over
// a root-only unix socket and prints its answer. With no warm shim, or for
// anything else, it execs the Node shim with the same arguments.
//
// Wire (little-endian u32 lengths), one call per connection:
//   request:  nargs, {len, bytes} * nargs, nenv, {len, bytes} * nenv,
//             {len, cwd}, {len, stdin}
//   response: exit code, {len, stdout}, {len, stderr}
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// The Node shim, beside this executable: a script, or the single executable
// given the shim's name as its first argument.
#ifndef FALLBACK
#define FALLBACK "containerd-shim-runts-v1-node"
#endif
#define WARM_DIR "/run/containerd/runts-shim"
#define MAX_STDIN (4u << 20)

extern char **environ;

static char **self_argv;

static void fallback(void) {
  char self[PATH_MAX], path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) {
    perror("containerd-shim-runts-v1: readlink /proc/self/exe");
    exit(1);
  }
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (slash) *slash = 0;
  if (snprintf(path, sizeof path, "%s/%s", self, FALLBACK) >= (int)sizeof path) {
    fprintf(stderr, "containerd-shim-runts-v1: path too long: %s\n", self);
    exit(1);
  }
  int argc = 0;
  while (self_argv[argc]) argc++;
  char **argv = calloc((size_t)argc + 2, sizeof *argv);
  if (!argv) exit(1);
  int i = 0;
  argv[i++] = path;
#ifdef FALLBACK_ARG
  argv[i++] = FALLBACK_ARG;
#endif
  for (int j = 1; j < argc; j++) argv[i++] = self_argv[j];
  execv(path, argv);
  fprintf(stderr, "containerd-shim-runts-v1: exec %s: %s\n", path, strerror(errno));
  exit(1);
}

// FNV-1a, 64 bits: names the warm shim of one containerd (warm.ts computes the same).
static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

// Go's flag syntax, as containerd passes it: the action is the first
// argument that is not a flag; -debug is the one flag without a value.
static const char *parse(int argc, char **argv, const char **address) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') return a;
    const char *name = a + (a[1] == '-' ? 2 : 1);
    if (strchr(name, '=')) {
      if (!strncmp(name, "address=", 8)) *address = name + 8;
      continue;
    }
    if (!strcmp(name, "debug")) continue;
    if (i + 1 < argc && !strcmp(name, "address")) *address = argv[i + 1];
    i++;
  }
  return "";
}

// Only a socket that root made in a dir only root can write is trusted.
static int trusted(const char *path, int want_dir) {
  struct stat st;
  if (lstat(path, &st) < 0 || st.st_uid != geteuid()) return 0;
  if (want_dir) return S_ISDIR(st.st_mode) && !(st.st_mode & 022);
  return S_ISSOCK(st.st_mode);
}

struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) exit(1);
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void put_u32(struct buf *b, uint32_t v) { put(b, &v, 4); }

static void put_str(struct buf *b, const char *s, size_t n) {
  put_u32(b, (uint32_t)n);
  put(b, s, n);
}

static int read_full(int fd, void *p, size_t n) {
  for (size_t got = 0; got < n;) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *p, size_t n) {
  for (size_t done = 0; done < n;) {
    ssize_t r = write(fd, (const char *)p + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  return 0;
}

// Reads one {len, bytes} field of the answer and copies it to out.
static int relay(int sock, int out) {
  uint32_t n;
  if (read_full(sock, &n, 4) < 0) return -1;
  char chunk[65536];
  while (n) {
    uint32_t k = n < sizeof chunk ? n : sizeof chunk;
    if (read_full(sock, chunk, k) < 0) return -1;
    if (write_full(out, chunk, k) < 0) return -1;
    n -= k;
  }
  return 0;
}

int main(int argc, char **argv) {
  self_argv = argv;
  const char *address = "";
  const char *action = parse(argc, argv, &address);
  if ((strcmp(action, "start") && strcmp(action, "delete")) || !*address) fallback();

  char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  snprintf(sock_path, sizeof sock_path, WARM_DIR "/warm-%016llx.sock", (unsigned long long)fnv1a(address));
  if (!trusted(WARM_DIR, 1) || !trusted(sock_path, 0)) fallback();
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, sock_path, sizeof sock_path);
  if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0) fallback();

  struct buf req = {0};
  put_u32(&req, (uint32_t)(argc - 1));
  for (int i = 1; i < argc; i++) put_str(&req, argv[i], strlen(argv[i]));
  uint32_t nenv = 0;
  while (environ[nenv]) nenv++;
  put_u32(&req, nenv);
  for (uint32_t i = 0; i < nenv; i++) put_str(&req, environ[i], strlen(environ[i]));
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) {
    perror("containerd-shim-runts-v1: getcwd");
    return 1;
  }
  put_str(&req, cwd, strlen(cwd));
  // start's options arrive on stdin (containerd closes it); never wait on a terminal.
  struct buf in = {0};
  if (!isatty(0)) {
    char chunk[65536];
    ssize_t r;
    while ((r = read(0, chunk, sizeof chunk)) != 0) {
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break;
      put(&in, chunk, (size_t)r);
      if (in.len > MAX_STDIN) {
        fprintf(stderr, "containerd-shim-runts-v1: stdin larger than %u bytes\n", MAX_STDIN);
        return 1;
      }
    }
  }
  put_str(&req, in.p ? in.p : "", in.len);
  if (write_full(sock, req.p, req.len) < 0) {
    perror("containerd-shim-runts-v1: write to the warm shim");
    return 1;
  }
  shutdown(sock, SHUT_WR);

  // A warm shim that went away before taking the call answers nothing: the
  // Node shim does it instead (start and delete are both safe to repeat).
  uint32_t code;
  ssize_t got = recv(sock, &code, 4, MSG_WAITALL);
  if (got <= 0) fallback();
  if (got != 4 || relay(sock, 1) < 0 || relay(sock, 2) < 0) {
    fprintf(stderr, "containerd-shim-runts-v1: %s: the warm shim closed the connection before it answered\n", action);
    return 1;
  }
  return (int)code;
}
