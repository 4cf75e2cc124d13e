/* listen.c - listening sockets: Unix, TCP, compat ports */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "listen.h"

#define BACKLOG 128
/* Connections accepted from one listener per turn of the loop: a flood on
 * one port must not keep the loop from everything else. */
#define ACCEPT_BATCH 16

struct listener {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} h;
	enum listener_kind kind;
	int port;
	char *name;
	char *path; /* Unix: removed on close */
	const struct compat_port *compat;
	listener_connection_cb cb;
	void *data;
	uv_prepare_t turn; /* a new turn of the loop: a new batch */
	uv_idle_t resume;  /* accept again after a full batch */
	unsigned batch;    /* accepted this turn */
	int open_handles;
};

static void
on_listener_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	if (--l->open_handles > 0)
		return;
	free(l->name);
	free(l->path);
	free(l);
}

void
listener_close(struct listener *l)
{
	if (!l)
		return;
	if (l->path)
		unlink(l->path);
	uv_close(&l->h.handle, on_listener_closed);
	uv_close((uv_handle_t *)&l->turn, on_listener_closed);
	uv_close((uv_handle_t *)&l->resume, on_listener_closed);
}

static void
on_turn(uv_prepare_t *p)
{
	struct listener *l = p->data;

	l->batch = 0;
}

/* The next turn after a full batch: accept the client left waiting. */
static void
on_resume(uv_idle_t *i)
{
	struct listener *l = i->data;

	uv_idle_stop(&l->resume);
	l->batch = 1;
	l->cb(l, 0, l->data);
}

/* A client is waiting. Past a batch, it is left for the next turn of the
 * loop: libuv then stops watching the listener until it is accepted. */
static void
on_connection(uv_stream_t *s, int status)
{
	struct listener *l = s->data;

	if (status >= 0 && l->batch >= ACCEPT_BATCH) {
		uv_idle_start(&l->resume, on_resume);
		return;
	}
	l->batch++;
	l->cb(l, status, l->data);
}

int
listener_accept(struct listener *l, uv_stream_t *client)
{
	return uv_accept(&l->h.stream, client);
}

enum listener_kind
listener_kind(const struct listener *l)
{
	return l->kind;
}

const char *
listener_name(const struct listener *l)
{
	return l->name;
}

void
listener_set_compat(struct listener *l, const struct compat_port *c)
{
	l->compat = c;
}

const struct compat_port *
listener_compat(const struct listener *l)
{
	return l->compat;
}

/* Is a daemon answering on path? */
static int
socket_alive(const char *path)
{
	struct sockaddr_un sa;
	int fd, alive;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

static struct listener *
listener_alloc(uv_loop_t *loop, enum listener_kind kind, listener_connection_cb cb, void *data)
{
	struct listener *l = xcalloc(1, sizeof(*l));

	l->kind = kind;
	l->cb = cb;
	l->data = data;
	if (kind == LISTENER_UNIX)
		uv_pipe_init(loop, &l->h.pipe, 0);
	else
		uv_tcp_init(loop, &l->h.tcp);
	uv_prepare_init(loop, &l->turn);
	uv_idle_init(loop, &l->resume);
	/* the batch starts over every turn; this does not keep the loop alive */
	uv_prepare_start(&l->turn, on_turn);
	uv_unref((uv_handle_t *)&l->turn);
	l->h.handle.data = l->turn.data = l->resume.data = l;
	l->open_handles = 3;
	return l;
}

int
listener_open_unix(uv_loop_t *loop, const char *path, listener_connection_cb cb, void *data,
                   struct listener **ret)
{
	struct listener *l;
	struct buf name = BUF_INIT;
	struct stat st;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (socket_alive(path))
			return -EADDRINUSE;
		unlink(path);
	}

	l = listener_alloc(loop, LISTENER_UNIX, cb, data);
	/* Created 0600 from the start: no window in which others may connect. */
	old = umask(0177);
	r = uv_pipe_bind(&l->h.pipe, path);
	umask(old);
	if (r >= 0)
		r = uv_listen(&l->h.stream, BACKLOG, on_connection);
	if (r < 0) {
		listener_close(l);
		return r;
	}
	l->path = xstrdup(path);
	buf_printf(&name, "unix:%s", path);
	l->name = buf_steal(&name);
	*ret = l;
	return 0;
}

int
listener_open_tcp(uv_loop_t *loop, const char *host, int port, listener_connection_cb cb,
                  void *data, struct listener **ret)
{
	struct listener *l;
	struct sockaddr_storage sa;
	struct buf name = BUF_INIT;
	int r;

	if (strchr(host, ':'))
		r = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa);
	else
		r = uv_ip4_addr(host, port, (struct sockaddr_in *)&sa);
	if (r < 0)
		return r;
	l = listener_alloc(loop, LISTENER_TCP, cb, data);
	r = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&sa, 0);
	if (r >= 0)
		r = uv_listen(&l->h.stream, BACKLOG, on_connection);
	if (r < 0) {
		listener_close(l);
		return r;
	}
	buf_puts(&name, "tcp:");
	addr_format_hostport(&name, host, port);
	l->name = buf_steal(&name);
	l->port = port;
	*ret = l;
	return 0;
}

int
listener_port(const struct listener *l)
{
	return l->port;
}

int
listener_adopt(uv_loop_t *loop, int fd, listener_connection_cb cb, void *data,
               struct listener **ret)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct buf name = BUF_INIT;
	struct listener *l;
	int r;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (sa.ss_family == AF_UNIX) {
		l = listener_alloc(loop, LISTENER_UNIX, cb, data);
		r = uv_pipe_open(&l->h.pipe, fd);
		buf_printf(&name, "unix:%s (from systemd)", ((struct sockaddr_un *)&sa)->sun_path);
	} else if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) {
		char host[64] = "?";

		l = listener_alloc(loop, LISTENER_TCP, cb, data);
		r = uv_tcp_open(&l->h.tcp, fd);
		if (sa.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&sa;

			uv_ip4_name(in, host, sizeof(host));
			l->port = ntohs(in->sin_port);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

			uv_ip6_name(in6, host, sizeof(host));
			l->port = ntohs(in6->sin6_port);
		}
		buf_puts(&name, "tcp:");
		addr_format_hostport(&name, host, l->port);
		buf_puts(&name, " (from systemd)");
	} else {
		close(fd);
		return -EAFNOSUPPORT;
	}
	if (r < 0)
		close(fd); /* not the handle's: closing the handle leaves it open */
	else
		r = uv_listen(&l->h.stream, BACKLOG, on_connection);
	l->name = buf_steal(&name);
	if (r < 0) {
		listener_close(l);
		return r;
	}
	*ret = l;
	return 0;
}
