/* ctlconn.c - connect to hotloadd over a Unix socket or TCP, send, read lines */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "ctlconn.h"
#include "pathsafe.h"
#include "proto.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: the caller ignores SIGPIPE */
#endif

#define READ_CHUNK 65536

struct ctlconn {
	int fd;
	struct buf in; /* received bytes; in.data[start..len) not yet read */
	size_t start;  /* first byte of the unread data */
	size_t scan;   /* bytes before this offset hold no '\n' of the unread data */
	int eof;
	int wake_fd;  /* readable: return -EINTR from ctlconn_read_line; -1: none */
	int wake_fd2; /* the same, a second one (exec --watch: a file changed) */
};

/* Default Unix socket path for this user; see ctlconn.h. */
int
ctlconn_default_socket(char *out, size_t outlen)
{
	char *path = proto_default_socket();
	int n = snprintf(out, outlen, "%s", path);

	free(path);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Close-on-exec (we may later run an editor or pager) and non-blocking,
 * because every wait goes through poll(). */
static int
set_flags(int fd)
{
	int fl;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* The socket's directory must be ours (0700, no symlink), or another user
 * could have put a listener of theirs there to receive our code. Root may
 * talk to another user's daemon, whose directory is that user's. */
static int
check_socket_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], why[1024];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int r;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (geteuid() == 0 && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		r = pathsafe_runtime_dir(dir, st.st_uid, why, sizeof(why));
	else
		r = pathsafe_runtime_dir(dir, geteuid(), why, sizeof(why));
	if (r == -ENOENT) {
		snprintf(err, errlen, "cannot connect to hotloadd on unix socket %s: %s", path,
		         strerror(ENOENT));
		return r;
	}
	if (r < 0)
		snprintf(err, errlen, "not connecting to unix socket %s: %s", path, why);
	return r;
}

/* Connect a Unix stream socket; returns the fd or -errno. */
static int
connect_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd, r;

	r = check_socket_dir(path, err, errlen);
	if (r < 0)
		return r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path is longer than %zu bytes: %s",
		         sizeof(sun.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		goto fail;
	}
	return fd;
fail:
	snprintf(err, errlen, "cannot connect to hotloadd on unix socket %s: %s", path,
	         strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

/* Connect over TCP to the first address of host:port that answers. */
static int
connect_tcp(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct addr_hostport hp;
	const char *why;
	char port[16];
	int fd = -1, r;

	if (addr_parse_hostport(spec, ADDR_DEFAULTS, &hp, &why) < 0) {
		snprintf(err, errlen, "bad TCP address '%s': expected HOST:PORT", spec);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%d", hp.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(hp.host, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", spec, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	r = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		r = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to hotloadd on TCP %s: %s", spec,
		         strerror(-r));
		return r;
	}
	return fd;
}

/* Open a connection; see ctlconn.h. */
int
ctlconn_open(const char *socket_path, const char *tcp, struct ctlconn **ret, char *err,
             size_t errlen)
{
	struct ctlconn *c;
	int fd, r;

	fd = socket_path ? connect_unix(socket_path, err, errlen) : connect_tcp(tcp, err, errlen);
	if (fd < 0)
		return fd;
	r = set_flags(fd);
	if (r < 0) {
		snprintf(err, errlen, "cannot set up the socket: %s", strerror(-r));
		close(fd);
		return r;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->wake_fd = -1;
	c->wake_fd2 = -1;
	*ret = c;
	return 0;
}

/* Close the connection and free everything; accepts NULL. */
void
ctlconn_free(struct ctlconn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->in);
	free(c);
}

/* Read what is available into c->in: >0 bytes, 0 at EOF, -errno, -EAGAIN
 * when nothing was there after all. */
static int
fill(struct ctlconn *c)
{
	ssize_t n;

	/* Drop what was read already, but only when that is cheap or large,
	 * so that many small lines do not each move the whole buffer. */
	if (c->start && (c->start == c->in.len || c->start >= READ_CHUNK)) {
		buf_consume(&c->in, c->start);
		c->scan = c->scan > c->start ? c->scan - c->start : 0;
		c->start = 0;
	}
	buf_reserve(&c->in, READ_CHUNK);
	do
		n = read(c->fd, c->in.data + c->in.len, READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0) {
		c->eof = 1;
		return 0;
	}
	c->in.len += (size_t)n;
	c->in.data[c->in.len] = '\0';
	return (int)n;
}

/* Send all of data; see ctlconn.h. */
int
ctlconn_send(struct ctlconn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		ssize_t n;
		int r;

		if (!c->eof)
			pfd.events |= POLLIN;
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd.revents & POLLIN) {
			r = fill(c);
			if (r < 0 && r != -EAGAIN)
				return r;
		}
		if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The wake fd; see ctlconn.h. */
void
ctlconn_set_wake_fd(struct ctlconn *c, int fd)
{
	c->wake_fd = fd;
}

void
ctlconn_set_wake_fd2(struct ctlconn *c, int fd)
{
	c->wake_fd2 = fd;
}

/* Next line from the daemon; see ctlconn.h. */
int
ctlconn_read_line(struct ctlconn *c, int timeout_ms, const char **ret_line, size_t *ret_len)
{
	for (;;) {
		struct pollfd pfd[3] = {{.fd = c->fd, .events = POLLIN},
		                        {.fd = c->wake_fd, .events = POLLIN},
		                        {.fd = c->wake_fd2, .events = POLLIN}};
		const char *nl = NULL;
		size_t n;
		int r;

		if (c->scan < c->start)
			c->scan = c->start;
		if (c->scan < c->in.len)
			nl = memchr(c->in.data + c->scan, '\n', c->in.len - c->scan);
		if (nl || (c->eof && c->start < c->in.len)) {
			n = nl ? (size_t)(nl - c->in.data) + 1 - c->start : c->in.len - c->start;
			*ret_line = c->in.data + c->start;
			*ret_len = n;
			c->start += n;
			c->scan = c->start;
			return 1;
		}
		c->scan = c->in.len;
		if (c->eof)
			return 0;
		r = poll(pfd, 3, timeout_ms); /* poll skips a negative fd */
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if ((c->wake_fd >= 0 && (pfd[1].revents & POLLIN)) ||
		    (c->wake_fd2 >= 0 && (pfd[2].revents & POLLIN)))
			return -EINTR;
		r = fill(c);
		if (r < 0 && r != -EAGAIN)
			return r;
	}
}
