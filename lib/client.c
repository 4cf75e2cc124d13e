/* client.c - a connection to hotloadd: connect over a Unix socket or TCP,
 * send the header and requests, read lines and events
 *
 * What hotloadctl and every other C front end use, so that the reading of
 * the event stream (partial lines, a last line without its newline, a
 * Ctrl-C while waiting) is written once. Blocking, with poll(): a client
 * has nothing else to do while it waits, and a wake fd ends a wait. */
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
#include "client.h"
#include "errfmt.h"
#include "header.h"
#include "pathsafe.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: the caller ignores SIGPIPE */
#endif

#define READ_CHUNK 65536

struct client {
	int fd;
	int tcp;       /* over TCP: the token goes in the header */
	struct buf in; /* received bytes; in.data[start..len) not yet read */
	size_t start;  /* first byte of the unread data */
	size_t scan;   /* bytes before this offset hold no '\n' of the unread data */
	int eof;
	int wake_fd[CLIENT_WAKE_FDS]; /* readable: a read returns -EINTR; -1: none */
	long next_id;                 /* of the next request sent */
	const char *line;             /* the last line client_read_event read */
	size_t line_len;
};

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
check_socket_dir(const char *path, char *reterr, size_t reterrlen)
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
		snprintf(reterr, reterrlen, "cannot connect to hotloadd on unix socket %s: %s",
		         path, strerror(ENOENT));
		return r;
	}
	if (r < 0)
		snprintf(reterr, reterrlen, "not connecting to unix socket %s: %s", path, why);
	return r;
}

/* Connect a Unix stream socket; returns the fd or -errno. */
static int
connect_unix(const char *path, char *reterr, size_t reterrlen)
{
	struct sockaddr_un sun;
	int fd, r;

	r = check_socket_dir(path, reterr, reterrlen);
	if (r < 0)
		return r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(reterr, reterrlen, "socket path is longer than %zu bytes: %s",
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
	snprintf(reterr, reterrlen, "cannot connect to hotloadd on unix socket %s: %s", path,
	         strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

/* Connect over TCP to the first address of host:port that answers. */
static int
connect_tcp(const char *spec, char *reterr, size_t reterrlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct addr_hostport hp;
	const char *why;
	char port[16];
	int fd = -1, r;

	if (addr_parse_hostport(spec, ADDR_DEFAULTS, &hp, &why) < 0) {
		snprintf(reterr, reterrlen, "bad TCP address '%s': expected HOST:PORT", spec);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%d", hp.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(hp.host, port, &hints, &res);
	if (r != 0) {
		snprintf(reterr, reterrlen, "cannot resolve %s: %s", spec, gai_strerror(r));
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
		snprintf(reterr, reterrlen, "cannot connect to hotloadd on TCP %s: %s", spec,
		         strerror(-r));
		return r;
	}
	return fd;
}

/* A connection over a connected socket; see client.h. */
int
client_adopt(int fd, struct client **ret)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	struct client *c;
	int r, i;

	r = set_flags(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd; /* ours now */
	c->tcp = getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 &&
	         (sa.ss_family == AF_INET || sa.ss_family == AF_INET6);
	for (i = 0; i < CLIENT_WAKE_FDS; i++)
		c->wake_fd[i] = -1;
	c->next_id = 1;
	*ret = c;
	return 0;
}

/* Open a connection; see client.h. */
int
client_connect(const char *unix_path, const char *tcp, struct client **ret, char *reterr,
               size_t reterrlen)
{
	int fd, r;

	fd = unix_path ? connect_unix(unix_path, reterr, reterrlen)
	               : connect_tcp(tcp, reterr, reterrlen);
	if (fd < 0)
		return fd;
	r = client_adopt(fd, ret); /* takes fd */
	if (r < 0)
		snprintf(reterr, reterrlen, "cannot set up the socket: %s", strerror(-r));
	return r;
}

/* Close the connection and free everything; accepts NULL. */
void
client_free(struct client *c)
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
fill(struct client *c)
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

/* Send all of data; see client.h. */
int
client_send(struct client *c, const void *data, size_t len)
{
	const char *p = data;

	c->line = NULL; /* what is read meanwhile may move the buffer */
	c->line_len = 0;
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

/* A wake fd; see client.h. */
void
client_set_wake_fd(struct client *c, unsigned slot, int fd)
{
	if (slot < CLIENT_WAKE_FDS)
		c->wake_fd[slot] = fd;
}

/* Next line from the daemon; see client.h. */
int
client_read_line(struct client *c, int timeout_ms, const char **ret_line, size_t *ret_len)
{
	for (;;) {
		struct pollfd pfd[1 + CLIENT_WAKE_FDS];
		const char *nl = NULL;
		size_t n;
		int r, i;

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
		pfd[0] = (struct pollfd){.fd = c->fd, .events = POLLIN};
		for (i = 0; i < CLIENT_WAKE_FDS; i++) /* poll skips a negative fd */
			pfd[1 + i] = (struct pollfd){.fd = c->wake_fd[i], .events = POLLIN};
		r = poll(pfd, 1 + CLIENT_WAKE_FDS, timeout_ms);
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		for (i = 0; i < CLIENT_WAKE_FDS; i++)
			if (c->wake_fd[i] >= 0 && (pfd[1 + i].revents & POLLIN))
				return -EINTR;
		r = fill(c);
		if (r < 0 && r != -EAGAIN)
			return r;
	}
}

/* The header line; see client.h. A token is for TCP only: on the Unix
 * socket the daemon knows who we are, and the token would travel for
 * nothing. It is a secret, so the buffer is wiped. */
int
client_send_header(struct client *c, const char *target, const char *options, const char *token)
{
	struct buf line = BUF_INIT;
	int r;

	if (header_check_target(target) < 0)
		return -EINVAL;
	buf_printf(&line, "%s mode=json", target);
	if (options && *options)
		buf_printf(&line, " %s", options);
	if (c->tcp && token)
		buf_printf(&line, " token=%s", token);
	buf_puts(&line, "\n");
	r = client_send(c, line.data, line.len);
	explicit_bzero(line.data, line.len);
	buf_free(&line);
	return r;
}

/* One request line; see client.h. */
int
client_send_request(struct client *c, json_t *req, long *ret_id)
{
	long id = c->next_id;
	char *body;
	size_t len;
	int r;

	json_t *code = json_object_get(req, "code");
	const char *op = json_string_value(json_object_get(req, "op"));
	size_t code_len = 0;

	json_object_set_new(req, "id", json_integer(id));
	/* The code of an exec or eval goes as it is after the line
	 * (code_bytes, protocol.md): no escaping here, no decoding in the
	 * daemon. req is left as it was given. */
	if (json_is_string(code) && op && (!strcmp(op, "exec") || !strcmp(op, "eval"))) {
		json_incref(code);
		code_len = json_string_length(code);
		json_object_del(req, "code");
		json_object_set_new(req, "code_bytes", json_integer((json_int_t)code_len));
		body = json_dumps(req, JSON_COMPACT);
		json_object_del(req, "code_bytes");
		json_object_set_new(req, "code", code);
	} else {
		code = NULL;
		body = json_dumps(req, JSON_COMPACT);
	}
	if (!body)
		return -EINVAL;
	len = strlen(body);
	body = xrealloc(body, len + 1 + code_len + 1);
	body[len++] = '\n';
	if (code)
		memcpy(body + len, json_string_value(code), code_len);
	len += code_len;
	body[len] = '\0';
	c->next_id++;
	r = client_send(c, body, len);
	free(body);
	if (r >= 0 && ret_id)
		*ret_id = id;
	return r;
}

/* An interrupt of request; see client.h. */
int
client_interrupt(struct client *c, long request)
{
	json_t *req = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)c->next_id, "op", "interrupt",
	                        "request", (json_int_t)request);
	int r = client_send_request(c, req, NULL);

	json_decref(req);
	return r;
}

/* The next event; see client.h. A line that is only a newline is no
 * event: a client that sends keep-alive newlines gets none back, but a
 * newer daemon may. */
int
client_read_event(struct client *c, int timeout_ms, json_t **ret_event, char *reterr,
                  size_t reterrlen)
{
	json_error_t jerr;
	json_t *ev;
	int r;

	do {
		c->line = NULL;
		c->line_len = 0;
		r = client_read_line(c, timeout_ms, &c->line, &c->line_len);
		if (r <= 0)
			return r;
	} while (c->line_len == 1 && c->line[0] == '\n');
	ev = json_loadb(c->line, c->line_len, JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(ev)) {
		snprintf(reterr, reterrlen, "%s", ev ? "not a JSON object" : jerr.text);
		json_decref(ev);
		return -EBADMSG;
	}
	*ret_event = ev;
	return 1;
}

/* The line behind the last event; see client.h. */
void
client_last_line(const struct client *c, const char **ret_line, size_t *ret_len)
{
	*ret_line = c->line;
	*ret_len = c->line_len;
}

const char *
client_event_name(json_t *event)
{
	return json_string_value(json_object_get(event, "event"));
}

/* One request to its done; see client.h. A failed send still reads on:
 * a refused header was answered, and that answer says more than EPIPE. */
int
client_call(struct client *c, json_t *req, json_t **ret_done, char *reterr, size_t reterrlen)
{
	long id = c->next_id;
	int sent = client_send_request(c, req, NULL);

	if (sent == -EINVAL) {
		snprintf(reterr, reterrlen, "cannot encode the request");
		return -EINVAL;
	}
	for (;;) {
		json_t *ev = NULL;
		const char *name;
		int r = client_read_event(c, -1, &ev, reterr, reterrlen);

		if (r == -EINTR)
			continue;
		if (r == -EBADMSG)
			return r;
		if (r < 0) {
			snprintf(reterr, reterrlen, "%s", strerror(-r));
			return r;
		}
		if (r == 0) {
			snprintf(reterr, reterrlen, "%s", sent < 0 ? strerror(-sent) : "");
			return -EPIPE;
		}
		name = client_event_name(ev);
		if (!name) {
			snprintf(reterr, reterrlen, "not an event");
			json_decref(ev);
			return -EBADMSG;
		}
		if (!strcmp(name, "error")) {
			struct buf m = BUF_INIT;

			errfmt_summary(json_object_get(ev, "error"), &m);
			snprintf(reterr, reterrlen, "%s", m.data);
			buf_free(&m);
			json_decref(ev);
			return -ECONNREFUSED;
		}
		if (!strcmp(name, "done") && json_integer_value(json_object_get(ev, "id")) == id) {
			*ret_done = ev;
			return 0;
		}
		json_decref(ev); /* not ours, or an event of a newer daemon */
	}
}
