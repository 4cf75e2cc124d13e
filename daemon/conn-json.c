/* conn-json.c - JSON mode: newline-delimited requests, streamed events */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn-private.h"
#include "control.h"
#include "jsonesc.h"
#include "jsonreq.h"
#include "log.h"
#include "pool.h"
#include "server.h"
#include "utf8.h"

/* {"id":…,"event":EVENT, rest's members…[,"duration_ms":…]}: written as
 * it goes, not built as an object to dump (rest's own "id" and "event", if
 * any, are not the event's and are left out, and so is its "duration_ms"
 * when there is ours). duration_ms, when given, has three decimals; the
 * rest is at full precision, so an eval's "json" value round-trips
 * exactly. */
static void
json_event(struct conn *c, struct request *r, const char *event, json_t *rest,
           const double *duration_ms)
{
	struct buf b = BUF_INIT;
	const char *key;
	json_t *v;

	buf_reserve(&b, 256);
	buf_puts(&b, "{\"id\":");
	buf_puts(&b, request_client_id_json(r));
	buf_puts(&b, ",\"event\":");
	json_write_string(&b, event, 0);
	json_object_foreach(rest, key, v)
	{
		if (strcmp(key, "id") && strcmp(key, "event") &&
		    (!duration_ms || strcmp(key, "duration_ms")))
			json_write_member(&b, key, v, 0);
	}
	if (duration_ms) {
		buf_puts(&b, ",\"duration_ms\":");
		json_write_millis(&b, *duration_ms);
	}
	buf_puts(&b, "}\n");
	conn_write(c, b.data, b.len);
	buf_free(&b);
}

static int
json_output(struct request *r, int fd, const char *data, size_t len)
{
	struct conn *c = request_sink_data(r);
	struct buf b = BUF_INIT;

	buf_reserve(&b, len + 64);
	buf_printf(&b, "{\"id\":%s,\"event\":\"%s\",\"data\":\"", request_client_id_json(r),
	           fd == 1 ? "stdout" : "stderr");
	json_escape(&b, data, len);
	buf_puts(&b, "\"}\n");
	conn_write(c, b.data, b.len);
	buf_free(&b);
	return c->congested;
}

/* A half-closed JSON connection ends when its last answer is out (and no
 * request line waits for its route). */
void
conn_json_maybe_finish(struct conn *c)
{
	if (c->eof && !c->busy && !c->wait && TAILQ_EMPTY(&c->reqs) && c->state != CONN_CLOSING)
		conn_end(c);
}

static void
json_done(struct request *r, json_t *result)
{
	struct conn *c = request_sink_data(r);
	double ms;
	int timed = request_duration_ms(r, &ms);

	json_event(c, r, "done", result, timed ? &ms : NULL);
	request_owner_remove(&c->reqs, r);
	request_free(r);
	conn_json_maybe_finish(c);
}

/* The request waits for its target: hotloadctl shows this on a terminal. */
static void
json_waiting(struct request *r, const char *state)
{
	json_t *rest = json_pack("{s:s}", "state", state);

	json_event(request_sink_data(r), r, "waiting", rest, NULL);
	json_decref(rest);
}

/* An event of the agent's about the request: what it reloaded. */
static void
json_agent_event(struct request *r, json_t *msg)
{
	const char *event = json_string_value(json_object_get(msg, "event"));
	json_t *rest = json_deep_copy(msg);

	json_object_del(rest, "id");
	json_object_del(rest, "event");
	json_event(request_sink_data(r), r, event ? event : "event", rest, NULL);
	json_decref(rest);
}

/* A client that closed its socket after sending its requests does not
 * hear their answers: the queued ones are not run. */
static int
json_gone(struct request *r)
{
	return conn_client_gone(request_sink_data(r));
}

static const struct request_sink json_sink = {
        .output = json_output,
        .done = json_done,
        .waiting = json_waiting,
        .gone = json_gone,
        .event = json_agent_event,
};

/* Answer a request that never reached a worker. */
static void
json_reject(struct conn *c, json_t *id, const char *type, const char *message)
{
	json_t *m = json_pack("{s:O, s:s, s:b, s:{s:s, s:s}}", "id", id ? id : json_null(), "event",
	                      "done", "ok", 0, "error", "type", type, "message", message);

	conn_write_json(c, m);
	json_decref(m);
}

/* The worker's op for a parsed one (exec, eval, reset, ping). */
static enum request_op
request_op_of(enum jsonreq_op op)
{
	switch (op) {
	case JSONREQ_EVAL:
		return REQUEST_EVAL;
	case JSONREQ_RESET:
		return REQUEST_RESET;
	case JSONREQ_PING:
		return REQUEST_PING;
	case JSONREQ_RELOAD:
		return REQUEST_RELOAD;
	case JSONREQ_DEBUG:
		return REQUEST_DEBUG;
	default:
		return REQUEST_EXEC;
	}
}

/* Make the request a parsed line (exec, eval, reset, ping) describes. */
static struct request *
json_build(struct conn *c, const struct jsonreq *q)
{
	struct request_spec spec = {
	        .op = request_op_of(q->op),
	        .code = q->code ? xstrndup(q->code, q->code_len) : NULL,
	        .code_len = q->code_len,
	        .file = q->file,
	        .fresh = q->fresh,
	        .isolated = q->isolated,
	        .interactive = q->interactive,
	        .timeout = q->timeout,
	        .deadline = q->deadline,
	        .path = q->path,
	        .cwd = q->cwd,
	        .argv = q->argv,
	        .modules = q->modules,
	        .purge = q->purge,
	        .client_id = q->id,
	        .session = q->session,
	        .debug_host = q->debug_host,
	        .debug_port = q->debug_port,
	        .debug_token = q->debug_token,
	        .debug_client_token = q->debug_client_token,
	};

	return request_new(&spec, &json_sink, c);
}

/* {"op":"interrupt","request":ID}: KeyboardInterrupt in that request of
 * this connection (all of them without "request"). A running request gets
 * SIGINT and stays on a warm worker; a queued one never runs. */
static void
json_interrupt(struct conn *c, json_t *which, json_t *id)
{
	struct request *r, *next;
	int n = 0;
	json_t *m;

	for (r = TAILQ_FIRST(&c->reqs); r; r = next) {
		next = request_owner_next(r);
		if (which && !json_equal(which, request_client_id(r)))
			continue;
		if (request_pool(r)) /* may finish and free r */
			n += pool_interrupt_request(request_pool(r), r);
	}
	m = json_pack("{s:O, s:s, s:b, s:i}", "id", id, "event", "done", "ok", 1, "interrupted", n);
	conn_write_json(c, m);
	json_decref(m);
}

/* The op of a parsed request line, as the client named it. */
static const char *
json_op_name(const struct jsonreq *q)
{
	static const char *const names[] = {
	        [JSONREQ_EXEC] = "exec",           [JSONREQ_EVAL] = "eval",
	        [JSONREQ_RESET] = "reset",         [JSONREQ_PING] = "ping",
	        [JSONREQ_RELOAD] = "reload",       [JSONREQ_DEBUG] = "debug",
	        [JSONREQ_INTERRUPT] = "interrupt",
	};

	if (q->op == JSONREQ_CONTROL)
		return json_string_value(json_object_get(q->msg, "op"));
	return (size_t)q->op < sizeof(names) / sizeof(names[0]) && names[q->op] ? names[q->op]
	                                                                        : "?";
}

/* Every request of a connection whose header named its client (client=)
 * is in the log with that name: a front end that runs code for somebody
 * else (an AI agent over MCP) is accountable for each call. Others are
 * logged at debug level. Never the code itself: it may hold secrets. */
static void
json_log_request(struct conn *c, const struct jsonreq *q)
{
	int level = c->hdr.client[0] ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;
	const char *op = json_op_name(q);
	char *id;

	if (!log_enabled(level))
		return;
	id = json_dumps(q->id, JSON_COMPACT | JSON_ENCODE_ANY);
	if (q->code)
		log_msg(level, "%s: request %s: %s, %zu bytes of code, from client %s", c->target,
		        id ? id : "?", op ? op : "?", q->code_len,
		        c->hdr.client[0] ? c->hdr.client : "(unnamed)");
	else
		log_msg(level, "%s: request %s: %s, from client %s", c->target, id ? id : "?",
		        op ? op : "?", c->hdr.client[0] ? c->hdr.client : "(unnamed)");
	free(id);
}

/* Answer one request line of a JSON-mode or control connection; rest is
 * what the client sent after the line's newline (rest_len bytes), where a
 * request's code_bytes are. Returns 0 with *ret_taken set to the number of
 * those bytes the request took; -EAGAIN when they are not all in yet, or
 * -EINPROGRESS, having done nothing, when the route it needs waits for a
 * version probe: the line is to be handled again then, in both cases. On
 * a code_bytes that cannot be right, the connection ends (CONN_CLOSING). */
int
conn_json_line(struct conn *c, const char *line, size_t len, const char *rest, size_t rest_len,
               size_t *ret_taken)
{
	struct buf message = BUF_INIT;
	struct jsonreq q;
	json_t *bad_id = NULL;
	struct request *r;
	struct pool *pool = NULL;
	const char *type = NULL;
	size_t payload = 0;
	int ret = 0, rc;

	*ret_taken = 0;
	if (conn_is_blank(line, len))
		return 0;
	memset(&q, 0, sizeof(q));
	if (c->state == CONN_CONTROL)
		rc = jsonreq_parse(line, len, JSONREQ_ANY_OP, &q, &bad_id, &message);
	else
		rc = jsonreq_parse_framed(line, len, 0,
		                          c->max_payload > len ? c->max_payload - len : 0, &payload,
		                          &q, &bad_id, &message);
	if (rc == -EPROTO) {
		/* where the next request starts is not known: nothing more can
		 * be read from this connection */
		json_reject(c, bad_id, "BadRequest", message.data);
		json_decref(bad_id);
		conn_end(c);
		goto out;
	}
	if (payload > rest_len) {
		ret = -EAGAIN;
		json_decref(bad_id);
		goto out;
	}
	*ret_taken = payload;
	if (rc < 0) {
		json_reject(c, bad_id, "BadRequest", message.data);
		json_decref(bad_id);
		goto out;
	}
	if (payload || q.framed) {
		if (utf8_valid_len(rest, payload) != payload) {
			json_reject(c, q.id, "BadRequest",
			            "the code after the line (code_bytes) is not valid UTF-8");
			goto out;
		}
		q.code = rest;
		q.code_len = payload;
	}
	if (q.op == JSONREQ_CONTROL) {
		json_t *res = NULL, *m;

		rc = control_handle(c->srv, q.msg, &res);
		if (rc < 0) {
			ret = rc;
			goto out;
		}
		json_log_request(c, &q);
		m = json_pack("{s:O, s:s}", "id", q.id, "event", "done");
		json_object_update(m, res);
		conn_write_json(c, m);
		json_decref(m);
		json_decref(res);
		goto out;
	}
	if (q.op == JSONREQ_INTERRUPT) {
		json_log_request(c, &q);
		json_interrupt(c, q.target, q.id);
		goto out;
	}
	rc = conn_pool(c, &pool, &type, &message);
	if (rc == -EINPROGRESS) {
		ret = rc;
		goto out;
	}
	json_log_request(c, &q); /* once: not while the route waits */
	if (rc < 0) {
		json_reject(c, q.id, type, message.data);
		goto out;
	}
	r = json_build(c, &q);
	if (q.op == JSONREQ_DEBUG && !c->debug_executable)
		/* its sessions end with the connection: remember where they are */
		c->debug_executable = xstrdup(pool_executable(pool));
	request_owner_append(&c->reqs, r);
	pool_submit(pool, r);
out:
	buf_free(&message);
	jsonreq_done(&q);
	return ret;
}
