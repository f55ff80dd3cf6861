/* The sync socket from the child's side: fixed messages up, replies down,
 * fds with SCM_RIGHTS; and the failure that reports on it and exits. */
#include "internal.h"

#include <sys/socket.h>

__attribute__((noreturn)) void quit(int code)
{
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
}

int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void send_msg(struct stage *s, uint32_t kind, int32_t err, int32_t arg)
{
	struct runts_msg m = { kind, s->cur_op, err, arg };
	if (s->late_fd >= 0)
		write_all(s->late_fd, &m, sizeof m);
	if (s->sync_fd >= 0)
		write_all(s->sync_fd, &m, sizeof m);
}

__attribute__((noreturn)) void fail(struct stage *s, int err)
{
	send_msg(s, MSG_ERROR, err, 0);
	quit(1);
}

void check(struct stage *s, long rc)
{
	if (rc < 0)
		fail(s, errno);
}

/* Decimal digits of v and a NUL at buf, without snprintf. */
void put_uint(char *buf, unsigned int v)
{
	char digits[12];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (int i = 0; i < n; i++)
		buf[i] = digits[n - 1 - i];
	buf[n] = '\0';
}

void fd_path(char *buf, int fd)
{
	static const char prefix[] = "/proc/self/fd/";
	memcpy(buf, prefix, sizeof prefix - 1);
	put_uint(buf + sizeof prefix - 1, (unsigned int)fd);
}

int runts_recv_msg(int sock, char *buf, int len, int32_t *fd_out)
{
	int got = 0;
	*fd_out = -1;
	while (got < len) {
		char control[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf + got, (size_t)(len - got) };
		struct msghdr msg = { 0 };
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd_out, CMSG_DATA(c), sizeof(int));
		got += (int)n;
	}
	return got;
}

int send_fd(int sock, const void *buf, size_t len, int fd)
{
	char control[CMSG_SPACE(sizeof(int))];
	memset(control, 0, sizeof control);
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { 0 };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control;
	msg.msg_controllen = sizeof control;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t n;
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int runts_send_fd(int sock, const char *buf, int len, int fd)
{
	return send_fd(sock, buf, (size_t)len, fd);
}
