/* ctlconn.h - one client connection to hotloadd, with plain blocking I/O */
#ifndef HOTLOAD_CTLCONN_H
#define HOTLOAD_CTLCONN_H

#include <stddef.h>

struct ctlconn;

/* The socket a daemon of this user listens on by default (see
 * proto_default_socket). -ENAMETOOLONG if it does not fit. */
int ctlconn_default_socket(char *out, size_t outlen);

/* Connect to the Unix socket socket_path, or when it is NULL to tcp
 * ("host:port", "[v6]:port", "host" or ":port": see addr_parse_hostport). On failure returns -errno
 * and writes a one-line reason to err; *ret is untouched. -EPERM: the
 * socket's directory is not safe (not ours, not 0700, a symlink): nothing
 * was connected to. */
int ctlconn_open(const char *socket_path, const char *tcp, struct ctlconn **ret, char *err,
                 size_t errlen);

void ctlconn_free(struct ctlconn *c);

/* Send all of data. Whatever the daemon sends meanwhile is kept for
 * ctlconn_read_line, so neither side can block the other. */
int ctlconn_send(struct ctlconn *c, const void *data, size_t len);

/* Also wake up ctlconn_read_line (with -EINTR) when fd becomes readable:
 * the read end of a self-pipe a signal handler writes to. -1: none. The fd
 * stays the caller's. */
void ctlconn_set_wake_fd(struct ctlconn *c, int fd);
/* A second one, the same way. */
void ctlconn_set_wake_fd2(struct ctlconn *c, int fd);

/* Wait up to timeout_ms (-1: for ever) for the next line from the daemon.
 * Returns 1 with the line (its '\n' included, except for a last line cut
 * off by EOF) in *ret_line and *ret_len, valid until the next call; 0 at
 * end of stream; -ETIMEDOUT when none came in time; -EINTR when a signal
 * arrived or the wake fd became readable (nothing is lost, call again);
 * other -errno. */
int ctlconn_read_line(struct ctlconn *c, int timeout_ms, const char **ret_line, size_t *ret_len);

#endif
