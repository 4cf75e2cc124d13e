/* conn-json.c - JSON mode: newline-delimited requests, streamed events */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "conn-private.h"
#include "control.h"
#include "pool.h"
#include "server.h"

static void
json_event(struct conn *c, struct request *r, const char *event, json_t *rest, const char *tail)
{
	json_t *m = json_object();

	json_object_set(m, "id", r->client_id ? r->client_id : json_null());
	json_object_set_new(m, "event", json_string(event));
	if (rest)
		json_object_update(m, rest);
	conn_write_json(c, m, tail);
	json_decref(m);
}

/* Append s as the body of a JSON string. s is valid UTF-8 already (the
 * worker's output is repaired as it is read), so only quotes, backslashes
 * and control characters need escaping: much cheaper than jansson checking
 * and escaping megabytes of output a character at a time. */
static void
json_escape(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	buf_reserve(b, len + 16);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[7];
		size_t elen = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		buf_append(b, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (ch) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[2] = esc[3] = '0';
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			elen = 6;
		}
		buf_append(b, esc, elen);
	}
	buf_append(b, s + run, len - run);
}

static int
json_output(struct request *r, int fd, const char *data, size_t len)
{
	struct conn *c = r->sink_data;
	struct buf b = BUF_INIT;

	if (!r->client_id_json)
		r->client_id_json = json_dumps(r->client_id ? r->client_id : json_null(),
		                               JSON_ENCODE_ANY | JSON_COMPACT);
	buf_reserve(&b, len + 64);
	buf_printf(&b, "{\"id\":%s,\"event\":\"%s\",\"data\":\"", r->client_id_json,
	           fd == 1 ? "stdout" : "stderr");
	json_escape(&b, data, len);
	buf_puts(&b, "\"}\n");
	conn_write(c, b.data, b.len);
	buf_free(&b);
	return c->congested;
}

/* A half-closed JSON connection ends when its last answer is out. */
void
conn_json_maybe_finish(struct conn *c)
{
	if (c->eof && !c->busy && TAILQ_EMPTY(&c->reqs) && c->state != CONN_CLOSING)
		conn_end(c);
}

static void
json_done(struct request *r, json_t *result)
{
	struct conn *c = r->sink_data;
	json_t *d = json_object_get(result, "duration_ms");
	char tail[64];
	int timed = json_is_number(d);

	/* duration_ms with three decimals; the rest at full precision, so an
	 * eval's "json" value round-trips exactly. */
	if (timed) {
		snprintf(tail, sizeof(tail), ",\"duration_ms\":%.3f", json_number_value(d));
		json_object_del(result, "duration_ms"); /* d is gone now */
	}
	json_event(c, r, "done", result, timed ? tail : NULL);
	TAILQ_REMOVE(&c->reqs, r, owner_entry);
	request_free(r);
	conn_json_maybe_finish(c);
}

/* The request waits for its target: hotloadctl shows this on a terminal. */
static void
json_waiting(struct request *r, const char *state)
{
	json_t *rest = json_pack("{s:s}", "state", state);

	json_event(r->sink_data, r, "waiting", rest, NULL);
	json_decref(rest);
}

static const struct request_sink json_sink = {
        .output = json_output,
        .done = json_done,
        .waiting = json_waiting,
};

/* Answer a request that never reached a worker. */
static void
json_reject(struct conn *c, json_t *id, const char *type, const char *message)
{
	json_t *m = json_pack("{s:O, s:s, s:b, s:{s:s, s:s}}", "id", id ? id : json_null(), "event",
	                      "done", "ok", 0, "error", "type", type, "message", message);

	conn_write_json(c, m, NULL);
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
	json_t *timeout = json_object_get(msg, "timeout");
	enum request_op op;
	struct request *r;

	if (!opname) {
		buf_puts(message,
		         "missing field 'op' (a string: exec, eval, reset, ping, interrupt)");
		return NULL;
	}
	if (parse_op(opname, &op) < 0) {
		buf_printf(message, "unknown op '%s' (known: exec, eval, reset, ping, interrupt)",
		           opname);
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
	if (timeout && !json_is_null(timeout) &&
	    (!json_is_number(timeout) || !(json_number_value(timeout) > 0) ||
	     json_number_value(timeout) > REQUEST_TIMEOUT_MAX)) {
		buf_puts(message,
		         "field 'timeout' must be a number of seconds above 0 and at most 1e9");
		return NULL;
	}
	if (ns && !json_is_null(ns) &&
	    (!json_is_string(ns) ||
	     (strcmp(json_string_value(ns), "main") && strcmp(json_string_value(ns), "fresh")))) {
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
	r->timeout = json_is_number(timeout) ? json_number_value(timeout) : 0;
	return r;
}

/* {"op":"interrupt","request":ID}: KeyboardInterrupt in that request of
 * this connection (all of them without "request"). A running request gets
 * SIGINT and stays on a warm worker; a queued one never runs. */
static void
json_interrupt(struct conn *c, json_t *msg, json_t *id)
{
	json_t *which = json_object_get(msg, "request");
	struct request *r, *next;
	int n = 0;
	json_t *m;

	for (r = TAILQ_FIRST(&c->reqs); r; r = next) {
		next = TAILQ_NEXT(r, owner_entry);
		if (which && !json_equal(which, r->client_id))
			continue;
		if (r->pool)
			n += pool_interrupt_request(r->pool, r); /* may finish and free r */
	}
	m = json_pack("{s:O, s:s, s:b, s:i}", "id", id, "event", "done", "ok", 1, "interrupted", n);
	conn_write_json(c, m, NULL);
	json_decref(m);
}

void
conn_json_line(struct conn *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg, *id;
	struct buf message = BUF_INIT;
	struct request *r;
	struct pool *pool;
	const char *type = NULL;

	if (conn_is_blank(line, len))
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
		conn_write_json(c, m, NULL);
		json_decref(m);
		json_decref(res);
		goto out;
	}
	if (json_is_string(json_object_get(msg, "op")) &&
	    !strcmp(json_string_value(json_object_get(msg, "op")), "interrupt")) {
		json_interrupt(c, msg, id);
		goto out;
	}
	r = json_build(c, msg, id, &message);
	if (!r) {
		json_reject(c, id, "BadRequest", message.data);
		goto out;
	}
	pool = conn_pool(c, &type, &message);
	if (!pool) {
		json_reject(c, id, type, message.data);
		request_free(r);
		goto out;
	}
	TAILQ_INSERT_TAIL(&c->reqs, r, owner_entry);
	pool_submit(pool, r);
out:
	buf_free(&message);
	json_decref(msg);
}
