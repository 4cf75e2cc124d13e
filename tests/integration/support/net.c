/* net.c - client sockets with deadlines, and raw-mode requests */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ck_assert_int_ge(fl, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

int
itest_try_connect_unix(const char *path)
{
	struct sockaddr_un a;
	int fd, e;

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof(a.sun_path));
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	set_nonblock(fd);
	return fd;
}

int
itest_connect_unix(const char *path)
{
	int fd = itest_try_connect_unix(path);

	ck_assert_msg(fd >= 0, "connect to %s: %s", path, strerror(-fd));
	return fd;
}

int
itest_connect_tcp(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0,
	              "connect to 127.0.0.1:%d: %s", port, strerror(errno));
	set_nonblock(fd);
	return fd;
}

int
itest_connect(const struct itest_daemon *d, enum itest_via via)
{
	switch (via) {
	case ITEST_UNIX:
		return itest_connect_unix(d->sock);
	case ITEST_TCP:
		ck_assert_msg(d->tcp_port, "this daemon has no TCP listener (opts.tcp)");
		return itest_connect_tcp(d->tcp_port);
	case ITEST_COMPAT:
		ck_assert_msg(d->compat_port, "this daemon has no compat port (opts.compat)");
		return itest_connect_tcp(d->compat_port);
	}
	ck_abort_msg("bad via %d", (int)via);
	return -1;
}

int
itest_wait_readable(int fd, int deadline_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	long long end = itest_now_ms() + deadline_ms;
	int r;

	for (;;) {
		long long left = end - itest_now_ms();

		r = poll(&p, 1, left > 0 ? (int)left : 0);
		if (r > 0)
			return 1;
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_msg(r == 0, "poll: %s", strerror(errno));
		if (left <= 0)
			return 0;
	}
}

int
itest_try_send_all(int fd, const void *data, size_t len, int deadline_ms)
{
	const char *p = data;
	long long end = itest_now_ms() + deadline_ms;
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (itest_now_ms() >= end)
			return -ETIMEDOUT;
		poll(&pfd, 1, 50);
	}
	return 0;
}

void
itest_send_all(int fd, const void *data, size_t len)
{
	int r = itest_try_send_all(fd, data, len, ITEST_TIMEOUT_MS);

	ck_assert_msg(r == 0, "sending %zu bytes: %s", len, strerror(-r));
}

void
itest_send_str(int fd, const char *s)
{
	itest_send_all(fd, s, strlen(s));
}

void
itest_half_close(int fd)
{
	ck_assert_msg(shutdown(fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
}

char *
itest_read_all(int fd, int deadline_ms, size_t *ret_len)
{
	long long end = itest_now_ms() + (deadline_ms > 0 ? deadline_ms : ITEST_TIMEOUT_MS);
	size_t len = 0, cap = 65536;
	char *s = malloc(cap);
	ssize_t n;

	ck_assert_ptr_nonnull(s);
	for (;;) {
		if (cap - len < 65536) {
			cap *= 2;
			s = realloc(s, cap);
			ck_assert_ptr_nonnull(s);
		}
		n = recv(fd, s + len, cap - len - 1, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (errno == EINTR)
			continue;
		ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));
		if (!itest_wait_readable(fd, (int)(end - itest_now_ms()))) {
			s[len] = '\0';
			ck_abort_msg("the daemon did not close the connection within %d ms; "
			             "got %zu bytes so far: \"%.2000s\"",
			             deadline_ms > 0 ? deadline_ms : ITEST_TIMEOUT_MS, len, s);
		}
	}
	s[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return s;
}

char *
itest_raw_n(const struct itest_daemon *d, enum itest_via via, const char *header,
            const char *payload, size_t payload_len, int deadline_ms, size_t *ret_len)
{
	int fd = itest_connect(d, via);
	int dl = deadline_ms > 0 ? deadline_ms : ITEST_TIMEOUT_MS;
	char *reply;
	int r = 0;

	if (via != ITEST_COMPAT && header) {
		r = itest_try_send_all(fd, header, strlen(header), dl);
		if (r == 0 && (!*header || header[strlen(header) - 1] != '\n'))
			r = itest_try_send_all(fd, "\n", 1, dl);
	}
	if (r == 0)
		r = itest_try_send_all(fd, payload, payload_len, dl);
	/* A daemon that refuses the connection or its header may close before
	 * the rest is in: its reply says why. */
	ck_assert_msg(r == 0 || r == -EPIPE || r == -ECONNRESET, "sending a %zu-byte payload: %s",
	              payload_len, strerror(-r));
	/* The original sandbox client never half-closes: the compat port ends
	 * the payload on silence. */
	if (via != ITEST_COMPAT && r == 0)
		itest_half_close(fd);
	reply = itest_read_all(fd, dl, ret_len);
	close(fd);
	return reply;
}

char *
itest_raw(const struct itest_daemon *d, enum itest_via via, const char *header, const char *payload)
{
	return itest_raw_n(d, via, header, payload, strlen(payload), 0, NULL);
}
