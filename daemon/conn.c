/* conn.c - one client connection
 *
 * Every connection starts with a header line naming the target (compat
 * ports skip it). Raw mode reads one payload until the client half-closes
 * and answers in the original project's format; JSON mode carries many
 * newline-delimited requests and streams events back. Bad input from a
 * client ends with a clear error to that client only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "access.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "control.h"
#include "header.h"
#include "listen.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "probe.h"
#include "request.h"
#include "server.h"
#include "sniff.h"
#include "jsonesc.h"
#include "utf8.h"
#include "conn-private.h"

#define IN_KEEP (256u << 10) /* capacity of the input buffer kept between requests */

/* What the socket did not take at once: a copy in data, or the rest of a
 * buffer the connection was given (owned, freed when it is written). */
struct write_req {
	uv_write_t req;
	struct conn *conn;
	size_t len;
	char *owned;
	char data[];
};

static void conn_process(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void
on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct server *s = c->srv;

	if (--c->open_handles > 0)
		return;
	buf_free(&c->in);
	buf_free(&c->raw_out);
	buf_free(&c->raw_err);
	free(c->executable);
	free(c->debug_executable);
	free(c);
	server_conn_freed(s);
}

/* The client is going: its queued requests are dropped, running ones
 * finish with nobody listening. */
static void
conn_drop_requests(struct conn *c)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&c->reqs))) {
		request_owner_remove(&c->reqs, r);
		request_orphan(r);
		if (request_pool(r))
			pool_cancel(request_pool(r), r);
		else {
			server_unpark(c->srv, r); /* it may wait for its route after a reload */
			request_free(r);
		}
	}
}

static void conn_unwatch(struct conn *c);

/* End the debug sessions the connection started; their workers are
 * recycled. The pool is looked up as conn_unwatch does. */
static void
conn_end_sessions(struct conn *c)
{
	struct pool *p;

	if (!c->debug_executable)
		return;
	p = server_pool_of(c->srv, c->hdr.dcc, c->debug_executable);
	if (p)
		pool_end_sessions(p, c);
	free(c->debug_executable);
	c->debug_executable = NULL;
}

void
conn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	c->state = CONN_CLOSING;
	server_hold(c->srv, c->held, 0);
	c->held = 0;
	probes_cancel(server_probes(c->srv), c->wait);
	c->wait = NULL;
	conn_drop_requests(c);
	conn_unwatch(c);
	conn_end_sessions(c);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
	uv_close((uv_handle_t *)&c->first_read, on_conn_closed);
	uv_close(&c->h.handle, on_conn_closed);
	server_conn_gone(c->srv, c);
}

void
conn_release_memory(struct conn *c)
{
	if (!c->busy)
		buf_shrink(&c->in, 0);
}

static void
on_abort(uv_timer_t *t)
{
	conn_close(t->data);
}

/* A write failed (the client is gone), or conn_end has nothing left to
 * wait for. Close from the loop rather than here, where the caller may be
 * walking this connection's requests or a pool's queue that conn_close
 * would change under it. */
static void
conn_abort(struct conn *c)
{
	if (c->state == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	c->aborting = 1;
	uv_read_stop(&c->h.stream);
	uv_timer_start(&c->timer, on_abort, 0, 0);
}

/* Everything is written. A client still sending (a refusal cut its
 * payload short) is read a little longer, and what it sends dropped:
 * closing with its bytes unread would reset the connection, and the reset
 * can destroy the answer before the client has read it. */
static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	if (status < 0 || c->eof || c->closed || c->no_linger ||
	    uv_read_start(&c->h.stream, on_alloc, on_read) < 0) {
		conn_close(c);
		return;
	}
	c->draining = 1;
	uv_timer_start(&c->timer, on_abort, DRAIN_MS, 0);
}

/* Close once everything written so far has reached the client. */
void
conn_end(struct conn *c)
{
	if (c->state == CONN_CLOSING)
		return;
	conn_drop_requests(c);
	if (c->eof && !c->write_queued) {
		/* The client has said all it will, and the socket has the
		 * answer: a close is what the shutdown would lead to. From the
		 * loop, as conn_abort's: a request's done, a pool's dispatch,
		 * may be what called. */
		conn_abort(c);
		return;
	}
	uv_read_stop(&c->h.stream);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) < 0) {
		conn_close(c);
		return;
	}
	c->state = CONN_CLOSING;
}

void
conn_end_by(struct conn *c, uint64_t ms)
{
	conn_end(c);
	if (c->closed || c->aborting)
		return;
	c->linger_ms = ms;
	uv_timer_start(&c->timer, on_abort, ms, 0);
}

static void
on_write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = w->conn;
	struct request *r;

	c->write_queued -= w->len;
	free(w->owned);
	free(w);
	if (status < 0) {
		if (c->state != CONN_CLOSING)
			conn_close(c);
		return;
	}
	if (c->linger_ms && !c->closed) /* the client still reads: give it time */
		uv_timer_start(&c->timer, on_abort, c->linger_ms, 0);
	if (c->congested && c->write_queued < WRITE_LOW) {
		c->congested = 0;
		if (c->read_paused && c->state != CONN_CLOSING) {
			c->read_paused = 0;
			uv_read_start(&c->h.stream, on_alloc, on_read);
		}
		for (r = TAILQ_FIRST(&c->reqs); r; r = request_owner_next(r))
			request_resume_output(r);
	}
}

/* Write data[0..len): what the socket takes now, and queue only the rest,
 * so output flowing to a reading client is not copied at all. The rest is
 * copied, or, when data lies in owned (which the connection then frees),
 * queued from where it is. */
static void
write_out(struct conn *c, const char *data, size_t len, char *owned)
{
	struct write_req *w;
	uv_buf_t b;

	if (!len || c->state == CONN_CLOSING)
		goto out;
	if (!c->write_queued) {
		int n;

		b = uv_buf_init((char *)data, (unsigned)len);
		n = uv_try_write(&c->h.stream, &b, 1);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			if (!len)
				goto out;
		} else if (n < 0 && n != UV_EAGAIN) {
			conn_abort(c);
			goto out;
		}
	}
	if (owned) {
		w = xmalloc(sizeof(*w));
		b = uv_buf_init((char *)data, (unsigned)len);
	} else {
		w = xmalloc(sizeof(*w) + len);
		memcpy(w->data, data, len);
		b = uv_buf_init(w->data, (unsigned)len);
	}
	w->conn = c;
	w->len = len;
	w->owned = owned;
	if (uv_write(&w->req, &c->h.stream, &b, 1, on_write_done) < 0) {
		free(w);
		conn_abort(c);
		goto out;
	}
	c->write_queued += len;
	if (c->write_queued > WRITE_HIGH) {
		c->congested = 1;
		/* A client that sends requests but does not read the answers
		 * is not read either, or its answers would pile up here. */
		if ((c->state == CONN_JSON || c->state == CONN_CONTROL) && !c->eof &&
		    !c->read_paused) {
			uv_read_stop(&c->h.stream);
			c->read_paused = 1;
		}
	}
	return;
out:
	free(owned);
}

void
conn_write(struct conn *c, const char *data, size_t len)
{
	write_out(c, data, len, NULL);
}

/* conn_write of a whole buffer, whose memory the connection takes (b is
 * left empty): a large reply is not copied to be queued. */
void
conn_write_buf(struct conn *c, struct buf *b)
{
	char *data = b->data;
	size_t len = b->len;

	*b = (struct buf)BUF_INIT;
	write_out(c, data, len, data);
}

void
conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

/* One JSON message and its newline. */
void
conn_write_json(struct conn *c, json_t *msg)
{
	struct buf b = BUF_INIT;

	if (!msg) /* a json_pack that failed */
		return;
	json_write_value(&b, msg, 0);
	buf_puts(&b, "\n");
	conn_write(c, b.data, b.len);
	buf_free(&b);
}

/* The connection cannot go on: say why in the client's framing, close.
 * The message may quote the client's bytes (a bad header), cut anywhere:
 * it is made valid UTF-8 first, as everything the daemon sends is. */
void
conn_fail(struct conn *c, int json, const char *type, const char *message)
{
	struct utf8_carry carry = {{0}, 0};
	struct buf text = BUF_INIT;

	buf_puts(&text, ""); /* never NULL, even for an empty message */
	utf8_repair(&carry, message, strlen(message), &text);
	utf8_finish(&carry, &text);
	log_debug("connection refused: %s: %s", type, text.data);
	if (json) {
		json_t *m = json_pack("{s:s, s:{s:s, s:s%}}", "event", "error", "error", "type",
		                      type, "message", text.data, text.len);

		conn_write_json(c, m);
		json_decref(m);
	} else {
		struct buf b = BUF_INIT;

		buf_printf(&b, "ERRORS: \n%s: %s\n", type, text.data);
		conn_write(c, b.data, b.len);
		buf_free(&b);
	}
	buf_free(&text);
	conn_end(c);
}

/* Refuse a client that may not run code: answered (and logged) at the
 * rate access.c allows for its uid, else closed at once. */
static void
conn_refuse(struct conn *c, int json, const char *type, const char *why)
{
	if (!access_refused(server_access(c->srv), &c->peer, c->listener, why, uv_hrtime())) {
		conn_close(c);
		return;
	}
	conn_fail(c, json, type, why);
}

/* HTTP or TLS on a TCP port: a web page (or a misdirected client) that
 * must not get near a worker. HTTP clients get an HTTP answer they can
 * show; a TLS client cannot read anything but TLS. */
static void
conn_refuse_protocol(struct conn *c, enum sniff_result what)
{
	static const char body[] = "hotload does not speak HTTP: this port runs Python code for "
	                           "its user only, and a web page may not (see hotload's "
	                           "docs/security.md)\n";
	const char *why = what == SNIFF_TLS ? "a TLS handshake, not hotload's protocol"
	                                    : "an HTTP request (a web page, or an HTTP client), "
	                                      "not hotload's protocol";
	struct buf b = BUF_INIT;

	if (!access_refused(server_access(c->srv), &c->peer, c->listener, why, uv_hrtime()) ||
	    what == SNIFF_TLS) {
		conn_end(c);
		return;
	}
	buf_printf(&b,
	           "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
	           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	           sizeof(body) - 1, body);
	conn_write(c, b.data, b.len);
	buf_free(&b);
	conn_end(c);
}

/* TCP only: refuse what starts like HTTP or TLS. -1 when refused, 0 when it
 * is neither, 1 while too little has come to tell. */
int
conn_sniff(struct conn *c)
{
	enum sniff_result what;

	if (!c->tcp || c->sniffed)
		return 0;
	what = sniff_protocol(c->in.data ? c->in.data : "", c->in.len, c->eof);
	if (what == SNIFF_MORE)
		return 1;
	if (what == SNIFF_HTTP || what == SNIFF_TLS) {
		conn_refuse_protocol(c, what);
		return -1;
	}
	c->sniffed = 1;
	return 0;
}

/* A client that closed its socket, rather than only its writing end, is
 * not there for the answer. Asked only after its end of file. */
int
conn_client_gone(struct conn *c)
{
	uv_os_fd_t fd;

	if (!c->eof || c->closed || uv_fileno(&c->h.handle, &fd) < 0)
		return c->closed;
	return peer_closed(fd, !c->tcp);
}

/* A header not yet (or not well) read asks for JSON framing of its refusal
 * when it says mode=json anywhere. */
static int
conn_header_wants_json(const struct conn *c, size_t len)
{
	return c->in.data && memmem(c->in.data, len, "mode=json", 9) != NULL;
}

/* Only white space? */
int
conn_is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

/* --- timers --- */

static void
on_quiet(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->state == CONN_HEADER) {
		conn_fail(c, conn_header_wants_json(c, c->in.len), "BadHeader",
		          "no header line within 30 seconds");
		return;
	}
	/* Compat clients do not half-close: silence ends the payload. */
	if (c->state == CONN_RAW) {
		uv_read_stop(&c->h.stream);
		if (c->tcp && !c->sniffed &&
		    sniff_protocol(c->in.data ? c->in.data : "", c->in.len, 1) != SNIFF_NONE) {
			conn_refuse_protocol(c, SNIFF_HTTP);
			return;
		}
		conn_raw_submit(c);
	}
}

/* --- header and routing --- */

/* Undo the header's watch= options. The pool is looked up again, by the
 * executable it was found at (no hints searched, no probe to wait for):
 * after a reload it may be a new one, which never had them (nothing to
 * undo), while the retired one goes with its watches. */
static void
conn_unwatch(struct conn *c)
{
	struct pool *p;
	int i;

	if (!c->watching)
		return;
	p = server_pool_of(c->srv, c->hdr.dcc, c->executable);
	for (i = 0; p && i < c->watching; i++)
		pool_watch_remove(p, c->hdr.watch[i]);
	c->watching = 0;
}

static void
on_conn_wake(void *data)
{
	struct conn *c = data;

	c->wait = NULL;
	if (c->state != CONN_CLOSING)
		c->wake(c);
}

/* The route of what the connection is doing waits for a version probe:
 * fn(c) does it again once a probe has ended. Until then no request of the
 * connection is looked at; other connections are served meanwhile. */
void
conn_wait(struct conn *c, void (*fn)(struct conn *c))
{
	c->wake = fn;
	c->wait = probes_wait(server_probes(c->srv), on_conn_wake, c);
}

static void conn_route(struct conn *c);

/* The header's route was in a probe: route, then take what came since. */
static void
conn_route_again(struct conn *c)
{
	conn_route(c);
	conn_input(c);
}

static void
conn_route(struct conn *c)
{
	struct buf message = BUF_INIT;
	const char *type = NULL;
	int json = c->hdr.mode == HEADER_MODE_JSON;
	struct pool *p;
	int i, r;

	header_target(&c->hdr, c->target, sizeof(c->target));
	if (!strcmp(c->hdr.dcc, HOTLOAD_CONTROL_TARGET)) {
		if (!json) {
			conn_fail(c, 0, "BadHeader", "the control target needs mode=json");
			return;
		}
		if (c->hdr.n_watch) {
			conn_fail(
			        c, 1, "BadHeader",
			        "watch= is for a DCC target; the control target has the op watch");
			return;
		}
		c->state = CONN_CONTROL;
		return;
	}
	r = conn_pool(c, &p, &type, &message);
	if (r == -EINPROGRESS) {
		c->state = CONN_ROUTING;
		conn_wait(c, conn_route_again);
		buf_free(&message);
		return;
	}
	if (r < 0) {
		conn_fail(c, json, type, message.data);
		buf_free(&message);
		return;
	}
	free(c->executable);
	c->executable = xstrdup(pool_executable(p));
	/* watch=DIR: the target watches it while this connection is open */
	for (i = 0; i < c->hdr.n_watch; i++) {
		char err[512];

		if (pool_watch_add(p, c->hdr.watch[i], err, sizeof(err)) < 0) {
			conn_unwatch(c);
			conn_fail(c, json, "BadHeader", err);
			return;
		}
		c->watching = i + 1;
	}
	c->state = json ? CONN_JSON : CONN_RAW;
}

/* The pool serving the connection's target now. Looked up for every
 * request, not kept: a reload may retire and free the pool the header
 * found while the connection stays open. -errno with type and message set
 * when the target cannot be served (any more); -EINPROGRESS while the
 * version of an install is being probed (conn_wait). */
int
conn_pool(struct conn *c, struct pool **ret, const char **reterr_type, struct buf *message)
{
	return server_route(c->srv, c->hdr.dcc, c->hdr.version, 1, ret, reterr_type, message);
}

static void
conn_header(struct conn *c)
{
	size_t len;
	char err[256];
	int json;

	if (conn_sniff(c) < 0)
		return;
	len = buf_line_len(&c->in);
	if (!len) {
		if (c->in.len >= HEADER_MAX)
			conn_fail(c, conn_header_wants_json(c, c->in.len), "BadHeader",
			          "header line longer than 1024 bytes");
		return;
	}
	if (header_parse(c->in.data, len, &c->hdr, err, sizeof(err)) < 0) {
		conn_fail(c, conn_header_wants_json(c, len), "BadHeader", err);
		return;
	}
	json = c->hdr.mode == HEADER_MODE_JSON;
	/* A token shown must be right even where it is not needed: a client
	 * with a wrong one hears so rather than getting in another way. */
	if ((c->need_token || c->hdr.token[0]) &&
	    !access_token_ok(server_access(c->srv), c->hdr.token)) {
		int shown = c->hdr.token[0] != '\0';

		explicit_bzero(c->hdr.token, sizeof(c->hdr.token));
		conn_refuse(c, json, "PermissionDenied",
		            shown ? "wrong token"
		                  : "this connection must show the daemon's token (token=...)");
		return;
	}
	explicit_bzero(c->hdr.token, sizeof(c->hdr.token));
	buf_consume(&c->in, len);
	uv_timer_stop(&c->timer);
	conn_route(c);
}

static void
conn_process(struct conn *c)
{
	size_t len, taken;
	int rc;

	if (c->wait)
		return; /* conn_wait: its wake carries on */
	if (c->state == CONN_HEADER)
		conn_header(c);
	switch (c->state) {
	case CONN_RAW:
		if (c->compat && conn_sniff(c) < 0)
			return;
		if (c->in.len > c->max_payload) {
			conn_fail(c, 0, "PayloadTooLarge",
			          "the payload is larger than limits.max_payload");
			return;
		}
		if (c->eof)
			conn_raw_submit(c);
		else if (c->compat && c->in.len)
			uv_timer_start(&c->timer, on_quiet, (uint64_t)(c->compat->quiet * 1000), 0);
		break;
	case CONN_JSON:
	case CONN_CONTROL:
		/* Requests answered while their lines are handled (an interrupt,
		 * a refusal) must not end the connection before the lines after
		 * them, or the interrupt's own answer, are done. */
		c->busy = 1;
		while (c->state != CONN_CLOSING && (len = buf_line_len(&c->in)) > 0) {
			/* one read can bring a whole line past the limit */
			if (len - 1 > c->max_payload)
				break;
			/* a line whose target waits stays, and the lines after it;
			 * so does one whose code (code_bytes) is still coming */
			rc = conn_json_line(c, c->in.data, len - 1, c->in.data + len,
			                    c->in.len - len, &taken);
			if (rc == -EINPROGRESS) {
				conn_wait(c, conn_input);
				c->busy = 0;
				return;
			}
			if (rc == -EAGAIN) {
				if (c->eof)
					conn_fail(
					        c, 1, "BadRequest",
					        "the connection ended before the request's code "
					        "did "
					        "(fewer bytes after the line than its code_bytes)");
				break;
			}
			buf_consume(&c->in, len + taken);
		}
		if (c->state != CONN_CLOSING && c->in.len > c->max_payload)
			conn_fail(c, 1, "PayloadTooLarge",
			          "a request line is larger than limits.max_payload");
		if (c->state != CONN_CLOSING && c->eof && c->in.len) {
			/* the last request had no newline: take it as it is */
			rc = conn_json_line(c, c->in.data, c->in.len, "", 0, &taken);
			if (rc == -EAGAIN) {
				c->busy = 0;
				conn_fail(c, 1, "BadRequest",
				          "the connection ended before the request's code did "
				          "(a line with code_bytes, and no newline after it)");
				return;
			}
			if (rc == -EINPROGRESS) {
				conn_wait(c, conn_input);
				c->busy = 0;
				return;
			}
			buf_clear(&c->in);
		}
		c->busy = 0;
		if (c->state == CONN_CLOSING)
			return;
		buf_shrink(&c->in, IN_KEEP);
		if (c->eof)
			conn_json_maybe_finish(c);
		break;
	case CONN_HEADER:
		if (c->eof) {
			if (c->in.len)
				conn_fail(c, conn_header_wants_json(c, c->in.len), "BadHeader",
				          "the connection ended before the header line did");
			else
				conn_close(c);
		}
		break;
	default:
		break;
	}
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *c = h->data;

	/* Small until the header is in, and while 4 KiB are free: most raw
	 * requests are small, and a large first allocation is an mmap and
	 * munmap per connection. A raw request whose header and code came in
	 * the first read needs no room to grow for its end of file: growing
	 * to 128 KiB for it was an allocation and a copy per request. */
	buf_reserve(&c->in, c->state == CONN_HEADER || c->in.cap - c->in.len > 4096 ? 4096 : 65536);
	*b = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (c->state == CONN_CLOSING) {
		if (n < 0 && c->draining) /* the client is done too */
			conn_close(c);
		return;
	}
	if (n == 0)
		return;
	if (n == UV_EOF) {
		uv_read_stop(s);
		c->eof = 1;
	} else if (n < 0) {
		conn_close(c);
		return;
	} else {
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
		if (c->state == CONN_RAW_RUN)
			return; /* past the payload: nothing more is read */
		if (server_hold(c->srv, c->held, c->in.len) < 0) {
			conn_fail(c, c->state == CONN_JSON || c->state == CONN_CONTROL,
			          "ServerBusy",
			          "the daemon holds limits.max_buffered bytes of requests from its "
			          "clients already; try again when they have run");
			return;
		}
		c->held = c->in.len;
	}
	conn_input(c);
}

/* Whether the client's socket is to be read: not after its end of file,
 * a raw payload taken, or the connection's end, nor while its answers pile
 * up unread (write_out). */
static int
conn_reading(const struct conn *c)
{
	return c->state != CONN_CLOSING && c->state != CONN_RAW_RUN && !c->eof && !c->read_paused;
}

/* Read what a new client has sent already, before its socket is watched.
 * Most clients send their header, and raw clients their payload and end of
 * file, as soon as they connect: read here, a raw request is taken in at
 * accept, and its socket is never added to the loop's poll set (nor woken
 * once more for the end of file it keeps reporting). Reads stop at the
 * first one that would wait, and after a few, as libuv's own do; the loop
 * reads from there.
 *
 * It runs at the start of the loop's next turn (on_first_read, an idle
 * handle, which also keeps the loop from waiting in between), after the
 * timers and the pending callbacks that close connections ended in the
 * accept's turn (conn_abort, the shutdown's callback). A client that
 * closed one connection and opened the next finds the first one's
 * watches and debug sessions gone: both can come in one wake-up, in
 * either order. */
static void
conn_read_now(struct conn *c)
{
	uv_os_fd_t fd;
	uv_buf_t b;
	ssize_t n;
	int reads;

	if (uv_fileno(&c->h.handle, &fd) < 0)
		return;
	for (reads = 0; reads < 4 && conn_reading(c); reads++) {
		on_alloc(&c->h.handle, 0, &b);
		do
			n = recv(fd, b.base, b.len, MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == 0)
			n = UV_EOF;
		else if (n < 0)
			n = uv_translate_sys_error(errno);
		on_read(&c->h.stream, n, &b);
	}
}

static void
on_first_read(uv_idle_t *h)
{
	struct conn *c = h->data;

	uv_idle_stop(h);
	conn_read_now(c);
	if (conn_reading(c))
		uv_read_start(&c->h.stream, on_alloc, on_read);
}

/* Handle what the client has sent so far. */
void
conn_input(struct conn *c)
{
	conn_process(c);
	/* what was taken out of the buffer is not held any more */
	if (!c->closed && c->held != c->in.len && server_hold(c->srv, c->held, c->in.len) == 0)
		c->held = c->in.len;
}

struct conn *
conn_accept(struct server *srv, struct listener *l, size_t max_payload, int over_limit)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	enum access_verdict verdict;
	const char *why = "cannot tell who the client is";
	uv_os_fd_t fd;

	server_conn_add(srv, c);
	c->srv = srv;
	c->max_payload = max_payload;
	c->compat = listener_compat(l);
	TAILQ_INIT(&c->reqs);
	if (listener_kind(l) == LISTENER_UNIX)
		uv_pipe_init(server_loop(srv), &c->h.pipe, 0);
	else
		uv_tcp_init(server_loop(srv), &c->h.tcp);
	uv_timer_init(server_loop(srv), &c->timer);
	uv_idle_init(server_loop(srv), &c->first_read);
	c->h.handle.data = c->timer.data = c->first_read.data = c;
	c->open_handles = 3;
	if (listener_accept(l, &c->h.stream) < 0) {
		conn_close(c);
		return NULL;
	}
	c->tcp = listener_kind(l) == LISTENER_TCP;
	/* cut as snprintf would, without its cost per connection */
	memcpy(c->listener, listener_name(l), strnlen(listener_name(l), sizeof(c->listener) - 1));
	/* Who it is, before a byte it sent is read. */
	if (uv_fileno(&c->h.handle, &fd) < 0)
		verdict = ACCESS_REFUSE;
	else {
		server_note_fd(srv, fd);
		verdict = access_check(server_access(srv), fd, c->tcp, &c->peer, &why);
	}
	if (verdict == ACCESS_NEED_TOKEN && c->compat) {
		verdict = ACCESS_REFUSE;
		why = "a compat port cannot carry a token, and who connected cannot be told";
	}
	if (verdict == ACCESS_REFUSE) {
		/* not worth a connection slot a moment longer than the answer */
		c->no_linger = 1;
		conn_refuse(c, 0, "PermissionDenied", why);
		return c;
	}
	c->need_token = verdict == ACCESS_NEED_TOKEN;
	if (over_limit) {
		conn_fail(c, 0, "TooManyConnections",
		          "the daemon has limits.max_connections connections open");
		return c;
	}
	if (c->compat) {
		/* No header: the target is the port's. */
		char err[256];
		struct header h;

		if (header_parse(c->compat->target, strlen(c->compat->target), &h, err,
		                 sizeof(err)) < 0) {
			conn_fail(c, 0, "BadHeader", err);
			return c;
		}
		c->hdr = h;
		conn_route(c);
	} else
		uv_timer_start(&c->timer, on_quiet, HEADER_TIMEOUT_MS, 0);
	if (c->state != CONN_CLOSING)
		uv_idle_start(&c->first_read, on_first_read);
	return c;
}
