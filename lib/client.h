/* client.h - a connection to hotloadd in JSON mode, for C front ends:
 * connect, name the target, send requests, read their events, interrupt
 *
 *	struct client *c;
 *	json_t *ev;
 *	long id;
 *
 *	client_connect(NULL, "127.0.0.1:7720", &c, err, sizeof(err));
 *	client_send_header(c, "python:3", NULL, token);
 *	client_send_request(c, req, &id);
 *	while (client_read_event(c, -1, &ev, err, sizeof(err)) == 1) {
 *		... "stdout", "stderr", "waiting", "reloaded", then "done" ...
 *		json_decref(ev);
 *	}
 *	client_free(c);
 *
 * I/O blocks (with poll, so a timeout or a wake fd ends a wait); nothing
 * here prints or exits: failures are -errno, with words in reterr. */
#ifndef HOTLOAD_CLIENT_H
#define HOTLOAD_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct client;

#define CLIENT_WAKE_FDS 2 /* wake fds a connection can watch besides its socket */

/* Connect to the Unix socket unix_path, or when it is NULL to tcp
 * ("host:port", "[v6]:port", "host" or ":port", see addr_parse_hostport).
 * Nothing is sent yet. On failure returns -errno and writes a one-line
 * reason to reterr (reterrlen bytes); *ret is untouched. -EINVAL and
 * -ENAMETOOLONG: the address is not usable; -EPERM: the socket's directory
 * is not safe (not ours, not 0700, a symlink), nothing was connected to;
 * others: no daemon answers there. */
int client_connect(const char *unix_path, const char *tcp, struct client **ret, char *reterr,
                   size_t reterrlen);

/* A connection over fd, a socket connected already (one end of a
 * socketpair, a socket passed in); takes ownership of fd, closed on
 * failure too. Returns 0 with *ret, or -errno. */
int client_adopt(int fd, struct client **ret);

/* Close the connection and free everything; accepts NULL. */
void client_free(struct client *c);

/* Send the header: target ("dcc[:version]", or HOTLOAD_CONTROL_TARGET) in
 * JSON mode, then options (e.g. "watch=/home/me/tools", or NULL), then
 * over TCP the token (hexadecimal; NULL: none). -EINVAL when target is
 * not a plain dcc[:version], which could smuggle options in. */
int client_send_header(struct client *c, const char *target, const char *options,
                       const char *token);

/* Send all of data. Whatever the daemon sends meanwhile is kept for the
 * reads, so that neither side can block the other. -errno on failure. */
int client_send(struct client *c, const void *data, size_t len);

/* Send req as one request line, its "id" set to the connection's next
 * one (1, 2, ...), which also goes to *ret_id when that is not NULL. The
 * "code" of an exec or eval is sent after the line (code_bytes).
 * -EINVAL when req cannot be encoded (a string that is not UTF-8). */
int client_send_request(struct client *c, json_t *req, long *ret_id);

/* Ask the daemon to interrupt request (KeyboardInterrupt in its code: its
 * done says so), with an interrupt request of the next id. */
int client_interrupt(struct client *c, long request);

/* Also end a wait for the daemon, with -EINTR, when fd becomes readable:
 * the read end of a self-pipe a signal handler writes to, say. slot is 0
 * to CLIENT_WAKE_FDS - 1; fd -1 clears it. The fd stays the caller's. */
void client_set_wake_fd(struct client *c, unsigned slot, int fd);

/* Wait up to timeout_ms (-1: for ever) for the next line from the daemon.
 * Returns 1 with the line (its '\n' included, except for a last line cut
 * off by EOF) in *ret_line and *ret_len, valid until the next read or send
 * (a send reads what the daemon sends meanwhile); 0 at end of stream;
 * -ETIMEDOUT when none came in time; -EINTR when a signal arrived or a
 * wake fd became readable (nothing is lost, call again); other -errno. */
int client_read_line(struct client *c, int timeout_ms, const char **ret_line, size_t *ret_len);

/* The next event: the next line that is not empty, parsed. Returns 1 with
 * the JSON object (the caller's reference) in *ret_event; 0, -ETIMEDOUT,
 * -EINTR and -errno as client_read_line; -EBADMSG when the line is not a
 * JSON object, with why in reterr. */
int client_read_event(struct client *c, int timeout_ms, json_t **ret_event, char *reterr,
                      size_t reterrlen);

/* The line the last client_read_event read, as it came (to show it as it
 * is), even when it was not an event; valid until the next read or send
 * (then it is NULL and 0). */
void client_last_line(const struct client *c, const char **ret_line, size_t *ret_len);

/* The "event" member of an event, or NULL. */
const char *client_event_name(json_t *event);

/* Send req and read events up to its done, skipping the others (output,
 * waiting, events of other requests): a control op, or a request whose
 * output does not matter. Returns 0 with the done (the caller's
 * reference) in *ret_done. On failure *ret_done is untouched and reterr
 * says why: -ECONNREFUSED, the daemon ended the connection with an error
 * event (reterr: its "Type: message"); -EPIPE, it closed the connection
 * before the done (reterr: why the request could not be sent, or "");
 * -EBADMSG, it sent what is not an event; -EINVAL, req cannot be
 * encoded; other -errno, the connection failed. */
int client_call(struct client *c, json_t *req, json_t **ret_done, char *reterr, size_t reterrlen);

#endif
