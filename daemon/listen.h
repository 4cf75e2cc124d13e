/* listen.h - listening sockets: Unix, TCP, compat ports */
#ifndef HOTLOAD_LISTEN_H
#define HOTLOAD_LISTEN_H

#include <uv.h>

struct compat_port;
struct listener;

enum listener_kind {
	LISTENER_UNIX,
	LISTENER_TCP,
};

/* A client is waiting: accept it with listener_accept(). status < 0: accept
 * failed (UV_EMFILE: out of file descriptors; libuv closed the client). At
 * most a small batch is offered per turn of the loop; the rest wait for the
 * next turn. */
typedef void (*listener_connection_cb)(struct listener *l, int status, void *data);

/* Bind and listen on a Unix socket in an existing directory (see
 * pathsafe_make_runtime_dir): the socket is 0600, and a stale socket is
 * replaced, but one with a live daemon behind it is not (-EADDRINUSE). */
int listener_open_unix(uv_loop_t *loop, const char *path, listener_connection_cb cb, void *data,
                       struct listener **ret);
int listener_open_tcp(uv_loop_t *loop, const char *host, int port, listener_connection_cb cb,
                      void *data, struct listener **ret);

/* Take over a listening socket passed by the service manager (socket
 * activation). Its file is not removed on close: it is systemd's. fd is
 * the listener's from now on, closed with it or on failure. */
int listener_adopt(uv_loop_t *loop, int fd, listener_connection_cb cb, void *data,
                   struct listener **ret);

/* The TCP port of a TCP listener, else 0. */
int listener_port(const struct listener *l);

/* Accept into client, an initialised uv_pipe_t (Unix) or uv_tcp_t (TCP). */
int listener_accept(struct listener *l, uv_stream_t *client);

enum listener_kind listener_kind(const struct listener *l);
/* "unix:/run/…/hotloadd.sock" or "tcp:127.0.0.1:7720" */
const char *listener_name(const struct listener *l);

/* For compat listeners: the configured port (borrowed), else NULL. */
void listener_set_compat(struct listener *l, const struct compat_port *c);
const struct compat_port *listener_compat(const struct listener *l);

/* Close; the Unix socket file is removed. Freed asynchronously. */
void listener_close(struct listener *l);

#endif
