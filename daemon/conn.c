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

#include "buf.h"
#include "config.h"
#include "conn.h"
#include "control.h"
#include "header.h"
#include "listen.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "server.h"
#include "utf8.h"

#define HEADER_TIMEOUT_MS 30000
#define WRITE_HIGH (1u << 20) /* queued reply bytes that make the worker wait */
#define WRITE_LOW (256u << 10)
#define SHUTDOWN_TOKEN "__SHUTDOWN__"

enum conn_state {
	CONN_HEADER,
	CONN_RAW,     /* reading the payload */
	CONN_RAW_RUN, /* payload submitted, waiting for the result */
	CONN_JSON,
	CONN_CONTROL,
	CONN_CLOSING,
};

TAILQ_HEAD(request_list, request);

struct conn {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} h;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	int open_handles;

	struct server *srv;
	enum conn_state state;
	int closed;
	const struct compat_port *compat;
	size_t max_payload;
	struct header hdr;
	char target[2 * HEADER_NAME_MAX];
	struct pool *pool;
	struct buf in;
	int eof;

	size_t write_queued;
	int congested;
	struct request_list reqs;

	/* raw mode reply */
	int raw_out_started;
	struct buf raw_err;
};

struct write_req {
	uv_write_t req;
	struct conn *conn;
	size_t len;
	char data[];
};

static void conn_process(struct conn *c);

static void
on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	buf_free(&c->in);
	buf_free(&c->raw_err);
	free(c);
}

void
conn_close(struct conn *c)
{
	struct request *r;

	if (c->closed)
		return;
	c->closed = 1;
	c->state = CONN_CLOSING;
	while ((r = TAILQ_FIRST(&c->reqs))) {
		TAILQ_REMOVE(&c->reqs, r, owner_entry);
		r->sink = NULL;
		if (r->pool)
			pool_cancel(r->pool, r);
		else
			request_free(r);
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
	uv_close(&c->h.handle, on_conn_closed);
	server_conn_gone(c->srv, c);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	conn_close(req->data);
}

/* Close once everything written so far has reached the client. */
static void
conn_finish(struct conn *c)
{
	struct request *r;

	if (c->state == CONN_CLOSING)
		return;
	while ((r = TAILQ_FIRST(&c->reqs))) {
		TAILQ_REMOVE(&c->reqs, r, owner_entry);
		r->sink = NULL;
		if (r->pool)
			pool_cancel(r->pool, r);
		else
			request_free(r);
	}
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->timer);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) < 0)
		conn_close(c);
	else
		c->state = CONN_CLOSING;
}

static void
on_write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = w->conn;
	struct request *r;

	c->write_queued -= w->len;
	free(w);
	if (status < 0) {
		if (c->state != CONN_CLOSING)
			conn_close(c);
		return;
	}
	if (c->congested && c->write_queued < WRITE_LOW) {
		c->congested = 0;
		TAILQ_FOREACH(r, &c->reqs, owner_entry)
			request_resume_output(r);
	}
}

static void
conn_write(struct conn *c, const char *data, size_t len)
{
	struct write_req *w;
	uv_buf_t b;

	if (!len || c->state == CONN_CLOSING)
		return;
	w = xmalloc(sizeof(*w) + len);
	w->conn = c;
	w->len = len;
	memcpy(w->data, data, len);
	b = uv_buf_init(w->data, (unsigned)len);
	if (uv_write(&w->req, &c->h.stream, &b, 1, on_write_done) < 0) {
		free(w);
		conn_close(c);
		return;
	}
	c->write_queued += len;
	if (c->write_queued > WRITE_HIGH)
		c->congested = 1;
}

static void
conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

/* One JSON message and its newline. */
static void
conn_write_json(struct conn *c, json_t *msg)
{
	/* 9 significant digits: durations in ms without binary noise */
	char *s = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(9));
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n] = '\n';
	conn_write(c, s, n + 1);
	free(s);
}

/* The connection cannot go on: say why in the client's framing, close. */
static void
conn_fail(struct conn *c, int json, const char *type, const char *message)
{
	log_debug("connection refused: %s: %s", type, message);
	if (json) {
		json_t *m = json_pack("{s:s, s:{s:s, s:s}}", "event", "error", "error", "type",
				      type, "message", message);

		conn_write_json(c, m);
		json_decref(m);
	} else {
		struct buf b = BUF_INIT;

		buf_printf(&b, "ERRORS: \n%s: %s\n", type, message);
		conn_write(c, b.data, b.len);
		buf_free(&b);
	}
	conn_finish(c);
}

/* --- raw mode --- */

static int
raw_output(struct request *r, int fd, const char *data, size_t len)
{
	struct conn *c = r->sink_data;

	if (fd == 2) {
		buf_append(&c->raw_err, data, len);
		return 0;
	}
	if (!c->raw_out_started) {
		conn_puts(c, "OUTPUT: \n");
		c->raw_out_started = 1;
	}
	conn_write(c, data, len);
	return c->congested;
}

/* The error part of a raw reply: the traceback, or "Type: message". */
static void
raw_append_error(struct buf *b, json_t *error)
{
	const char *tb = json_string_value(json_object_get(error, "traceback"));
	const char *type = json_string_value(json_object_get(error, "type"));
	const char *msg = json_string_value(json_object_get(error, "message"));

	if (tb && *tb)
		buf_puts(b, tb);
	else
		buf_printf(b, "%s: %s\n", type ? type : "Error", msg ? msg : "");
}

static void
raw_done(struct request *r, json_t *result)
{
	struct conn *c = r->sink_data;

	TAILQ_REMOVE(&c->reqs, r, owner_entry);
	request_free(r);
	if (!json_is_true(json_object_get(result, "ok")))
		raw_append_error(&c->raw_err, json_object_get(result, "error"));
	if (c->raw_err.len) {
		conn_puts(c, "ERRORS: \n");
		conn_write(c, c->raw_err.data, c->raw_err.len);
	} else if (!c->raw_out_started)
		conn_puts(c, "Script executed (no output).");
	conn_finish(c);
}

static const struct request_sink raw_sink = {
	.output = raw_output,
	.done = raw_done,
};

/* Remove every __SHUTDOWN__ from the payload; returns how many. */
static int
strip_shutdown(struct buf *b)
{
	size_t tl = strlen(SHUTDOWN_TOKEN);
	int found = 0;
	char *p;

	while (b->len >= tl && (p = memmem(b->data, b->len, SHUTDOWN_TOKEN, tl))) {
		size_t off = (size_t)(p - b->data);

		memmove(p, p + tl, b->len - off - tl);
		b->len -= tl;
		b->data[b->len] = '\0';
		found++;
	}
	return found;
}

static int
is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

static void
raw_submit(struct conn *c)
{
	struct request *r;
	struct buf code = BUF_INIT;
	struct utf8_carry carry = {{0}, 0};
	int shutdown = strip_shutdown(&c->in) > 0;

	uv_timer_stop(&c->timer);
	uv_read_stop(&c->h.stream);
	c->state = CONN_RAW_RUN;
	/* Nothing to run and no worker to stop: answer without starting one. */
	if (is_blank(c->in.data ? c->in.data : "", c->in.len) && shutdown &&
	    pool_worker_count(c->pool) == 0) {
		conn_puts(c, "Script executed (no output).");
		conn_finish(c);
		return;
	}
	utf8_repair(&carry, c->in.data ? c->in.data : "", c->in.len, &code);
	utf8_finish(&carry, &code);
	buf_free(&c->in);

	r = request_new(REQUEST_EXEC, &raw_sink, c);
	r->code_len = code.len;
	r->code = buf_steal(&code);
	r->file = c->hdr.file[0] ? xstrdup(c->hdr.file) : NULL;
	r->fresh = c->hdr.fresh;
	r->shutdown_after = shutdown;
	TAILQ_INSERT_TAIL(&c->reqs, r, owner_entry);
	log_debug("%s: raw request, %zu bytes", c->target, r->code_len);
	pool_submit(c->pool, r);
}

static void
on_quiet(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->state == CONN_HEADER) {
		conn_fail(c, 0, "BadHeader", "no header line within 30 seconds");
		return;
	}
	/* Compat clients do not half-close: silence ends the payload. */
	if (c->state == CONN_RAW) {
		uv_read_stop(&c->h.stream);
		raw_submit(c);
	}
}

/* --- JSON mode --- */

static void
json_event(struct conn *c, struct request *r, const char *event, json_t *rest)
{
	json_t *m = json_object();

	json_object_set(m, "id", r->client_id ? r->client_id : json_null());
	json_object_set_new(m, "event", json_string(event));
	if (rest)
		json_object_update(m, rest);
	conn_write_json(c, m);
	json_decref(m);
}

static int
json_output(struct request *r, int fd, const char *data, size_t len)
{
	struct conn *c = r->sink_data;
	json_t *rest = json_object();

	json_object_set_new(rest, "data", json_stringn(data, len));
	json_event(c, r, fd == 1 ? "stdout" : "stderr", rest);
	json_decref(rest);
	return c->congested;
}

/* A half-closed JSON connection ends when its last answer is out. */
static void
json_maybe_finish(struct conn *c)
{
	if (c->eof && TAILQ_EMPTY(&c->reqs) && c->state != CONN_CLOSING)
		conn_finish(c);
}

static void
json_done(struct request *r, json_t *result)
{
	struct conn *c = r->sink_data;

	json_event(c, r, "done", result);
	TAILQ_REMOVE(&c->reqs, r, owner_entry);
	request_free(r);
	json_maybe_finish(c);
}

static const struct request_sink json_sink = {
	.output = json_output,
	.done = json_done,
};

/* Answer a request that never reached a worker. */
static void
json_reject(struct conn *c, json_t *id, const char *type, const char *message)
{
	json_t *m = json_pack("{s:O, s:s, s:b, s:{s:s, s:s}}", "id", id ? id : json_null(),
			      "event", "done", "ok", 0, "error", "type", type, "message",
			      message);

	conn_write_json(c, m);
	json_decref(m);
}

static int
parse_op(const char *op, enum request_op *ret)
{
	static const struct {
		const char *name;
		enum request_op op;
	} ops[] = {{"exec", REQUEST_EXEC},
		   {"eval", REQUEST_EVAL},
		   {"reset", REQUEST_RESET},
		   {"ping", REQUEST_PING}};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i].name)) {
			*ret = ops[i].op;
			return 0;
		}
	return -EINVAL;
}

/* Check a request's shape and make it; on error fills message. */
static struct request *
json_build(struct conn *c, json_t *msg, json_t *id, struct buf *message)
{
	const char *opname = json_string_value(json_object_get(msg, "op"));
	json_t *code = json_object_get(msg, "code");
	json_t *file = json_object_get(msg, "file");
	json_t *ns = json_object_get(msg, "ns");
	enum request_op op;
	struct request *r;

	if (!opname) {
		buf_puts(message, "missing field 'op' (a string: exec, eval, reset, ping)");
		return NULL;
	}
	if (parse_op(opname, &op) < 0) {
		buf_printf(message, "unknown op '%s' (known: exec, eval, reset, ping)", opname);
		return NULL;
	}
	if ((op == REQUEST_EXEC || op == REQUEST_EVAL) && !json_is_string(code)) {
		buf_printf(message, "op '%s' needs field 'code' (a string)", opname);
		return NULL;
	}
	if (file && !json_is_string(file) && !json_is_null(file)) {
		buf_puts(message, "field 'file' must be a string");
		return NULL;
	}
	if (ns && !json_is_null(ns) &&
	    (!json_is_string(ns) || (strcmp(json_string_value(ns), "main") &&
				     strcmp(json_string_value(ns), "fresh")))) {
		buf_puts(message, "field 'ns' must be \"main\" or \"fresh\"");
		return NULL;
	}
	r = request_new(op, &json_sink, c);
	r->client_id = json_incref(id);
	if (json_is_string(code)) {
		r->code_len = json_string_length(code);
		r->code = xstrndup(json_string_value(code), r->code_len);
	}
	if (json_is_string(file))
		r->file = xstrdup(json_string_value(file));
	r->fresh = json_is_string(ns) && !strcmp(json_string_value(ns), "fresh");
	return r;
}

static void
json_line(struct conn *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg, *id;
	struct buf message = BUF_INIT;
	struct request *r;

	if (is_blank(line, len))
		return;
	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!msg) {
		buf_printf(&message, "invalid JSON at column %d: %s", jerr.column, jerr.text);
		json_reject(c, NULL, "BadRequest", message.data);
		goto out;
	}
	if (!json_is_object(msg)) {
		json_reject(c, NULL, "BadRequest", "a request must be a JSON object");
		goto out;
	}
	id = json_object_get(msg, "id");
	if (!id) {
		json_reject(c, NULL, "BadRequest", "missing field 'id'");
		goto out;
	}
	if (c->state == CONN_CONTROL) {
		json_t *res = control_handle(c->srv, msg);
		json_t *m = json_pack("{s:O, s:s}", "id", id, "event", "done");

		json_object_update(m, res);
		conn_write_json(c, m);
		json_decref(m);
		json_decref(res);
		goto out;
	}
	r = json_build(c, msg, id, &message);
	if (!r) {
		json_reject(c, id, "BadRequest", message.data);
		goto out;
	}
	TAILQ_INSERT_TAIL(&c->reqs, r, owner_entry);
	pool_submit(c->pool, r);
out:
	buf_free(&message);
	json_decref(msg);
}

/* --- header and routing --- */

static void
conn_route(struct conn *c)
{
	struct buf message = BUF_INIT;
	const char *type = NULL;
	int json = c->hdr.mode == HEADER_MODE_JSON;

	header_target(&c->hdr, c->target, sizeof(c->target));
	if (!strcmp(c->hdr.dcc, CONTROL_TARGET)) {
		if (!json) {
			conn_fail(c, 0, "BadHeader", "the control target needs mode=json");
			return;
		}
		c->state = CONN_CONTROL;
		return;
	}
	if (server_route(c->srv, c->hdr.dcc, c->hdr.version, &c->pool, &type, &message) < 0) {
		conn_fail(c, json, type, message.data);
		buf_free(&message);
		return;
	}
	c->state = json ? CONN_JSON : CONN_RAW;
}

static void
conn_header(struct conn *c)
{
	size_t len = buf_line_len(&c->in);
	char err[256];

	if (!len) {
		if (c->in.len >= HEADER_MAX)
			conn_fail(c, memmem(c->in.data, c->in.len, "mode=json", 9) != NULL,
				  "BadHeader", "header line longer than 1024 bytes");
		return;
	}
	if (header_parse(c->in.data, len, &c->hdr, err, sizeof(err)) < 0) {
		conn_fail(c, memmem(c->in.data, len, "mode=json", 9) != NULL, "BadHeader", err);
		return;
	}
	buf_consume(&c->in, len);
	uv_timer_stop(&c->timer);
	conn_route(c);
}

static void
conn_process(struct conn *c)
{
	size_t len;

	if (c->state == CONN_HEADER)
		conn_header(c);
	switch (c->state) {
	case CONN_RAW:
		if (c->in.len > c->max_payload) {
			conn_fail(c, 0, "PayloadTooLarge", "the payload is larger than limits.max_payload");
			return;
		}
		if (c->eof)
			raw_submit(c);
		else if (c->compat && c->in.len)
			uv_timer_start(&c->timer, on_quiet, (uint64_t)(c->compat->quiet * 1000), 0);
		break;
	case CONN_JSON:
	case CONN_CONTROL:
		while (c->state != CONN_CLOSING && (len = buf_line_len(&c->in)) > 0) {
			json_line(c, c->in.data, len - 1);
			buf_consume(&c->in, len);
		}
		if (c->state == CONN_CLOSING)
			return;
		if (c->in.len > c->max_payload) {
			conn_fail(c, 1, "PayloadTooLarge", "a request line is larger than limits.max_payload");
			return;
		}
		if (c->eof && c->in.len) {
			/* the last request had no newline: take it as it is */
			json_line(c, c->in.data, c->in.len);
			buf_clear(&c->in);
		}
		if (c->eof)
			json_maybe_finish(c);
		break;
	case CONN_HEADER:
		if (c->eof) {
			if (c->in.len)
				conn_fail(c, 0, "BadHeader", "the connection ended before the header line did");
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

	buf_reserve(&c->in, 65536);
	*b = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n == 0 || c->state == CONN_CLOSING)
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
	}
	conn_process(c);
}

/* Only the daemon's own user (and root) may connect over the Unix socket. */
static int
peer_allowed(struct conn *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (uv_fileno(&c->h.handle, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	return cred.uid == 0 || cred.uid == getuid();
}

struct conn *
conn_accept(struct server *srv, struct listener *l, size_t max_payload, int over_limit)
{
	struct conn *c = xcalloc(1, sizeof(*c));

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
	c->h.handle.data = c->timer.data = c;
	c->open_handles = 2;
	if (listener_accept(l, &c->h.stream) < 0) {
		conn_close(c);
		return NULL;
	}
	if (listener_kind(l) == LISTENER_UNIX && !peer_allowed(c)) {
		conn_fail(c, 0, "PermissionDenied", "only the daemon's own user may connect");
		return c;
	}
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
		uv_read_start(&c->h.stream, on_alloc, on_read);
	return c;
}
