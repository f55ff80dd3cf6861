/* The process's stdio, and its terminal when it has one. */
#include "internal.h"

#include <sys/ioctl.h>
#include <termios.h>

/* Installs fd src as fd i for the container, in a blocking description. */
static void install_stdio(struct stage *s, int i, int src)
{
	struct stat st;
	char p[32];
	int fd = src;
	check(s, fstat(src, &st));
	if (S_ISFIFO(st.st_mode)) {
		/* A pipe reopened through /proc gets its own open file description,
		 * so clearing O_NONBLOCK does not reach the caller's copy. */
		int fl = fcntl(src, F_GETFL);
		check(s, fl);
		fd_path(p, src);
		int re = open(p, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
		if (re >= 0)
			fd = re;
	}
	if (fd != i)
		check(s, dup3(fd, i, 0));
	else
		check(s, fcntl(i, F_SETFD, 0));
	if (fd != src)
		close(fd);
	int fl = fcntl(i, F_GETFL);
	check(s, fl);
	if (fl & O_NONBLOCK)
		check(s, fcntl(i, F_SETFL, fl & ~O_NONBLOCK));
}

void do_stdio(struct stage *s, const int64_t *a)
{
	for (int i = 0; i < 3; i++)
		install_stdio(s, i, a[i] < 0 ? i : (int)a[i]);
}

/* The container's own pty (its devpts, after pivot_root): the master goes to
 * the console socket with SCM_RIGHTS and the pty name as data, like runc; the
 * peer is opened through the master (TIOCGPTPEER), never by path. */
void do_console(struct stage *s, int sock, int rows, int cols)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	check(s, master);
	int unlock = 0;
	check(s, ioctl(master, TIOCSPTLCK, &unlock));
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	check(s, slave);
	if (rows > 0 || cols > 0) {
		struct winsize ws = { (unsigned short)rows, (unsigned short)cols, 0, 0 };
		check(s, ioctl(slave, TIOCSWINSZ, &ws));
	}
	unsigned int n = 0;
	check(s, ioctl(master, TIOCGPTN, &n));
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
		fail(s, -rc);
	close(master);
	close(sock);
	check(s, ioctl(slave, TIOCSCTTY, 0));
	for (int i = 0; i < 3; i++)
		check(s, dup3(slave, i, 0));
	close(slave);
}
