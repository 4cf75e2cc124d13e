/* jclient.c - a JSON-mode client: requests out, events in, with deadlines */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"

struct jclient *
jc_adopt(int fd)
{
	struct jclient *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->fd = fd;
	c->in_cap = 65536;
	c->in = malloc(c->in_cap);
	ck_assert_ptr_nonnull(c->in);
	c->pending = json_array();
	return c;
}

struct jclient *
jc_open(const struct itest_daemon *d, enum itest_via via, const char *header)
{
	struct jclient *c = jc_adopt(itest_connect(d, via));

	if (header) {
		itest_send_str(c->fd, header);
		if (!*header || header[strlen(header) - 1] != '\n')
			itest_send_str(c->fd, "\n");
	}
	return c;
}

void
jc_close(struct jclient *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->in);
	json_decref(c->pending);
	free(c);
}

void
jc_send_line(struct jclient *c, const char *line)
{
	itest_send_str(c->fd, line);
	itest_send_str(c->fd, "\n");
}

void
jc_send(struct jclient *c, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);

	ck_assert_ptr_nonnull(s);
	jc_send_line(c, s);
	free(s);
}

void
jc_send_exec(struct jclient *c, json_int_t id, const char *code, double timeout)
{
	json_t *req = json_pack("{s:I, s:s, s:s}", "id", id, "op", "exec", "code", code);

	if (timeout > 0)
		json_object_set_new(req, "timeout", json_real(timeout));
	jc_send(c, req);
	json_decref(req);
}

/* Read more into c->in; 0 on EOF, 1 on data, asserts the deadline. */
static int
fill(struct jclient *c, long long end)
{
	ssize_t n;

	for (;;) {
		if (c->in_cap - c->in_len < 65536) {
			c->in_cap *= 2;
			c->in = realloc(c->in, c->in_cap);
			ck_assert_ptr_nonnull(c->in);
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			c->in[c->in_len] = '\0';
			return 1;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			c->eof = 1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));
		if (!itest_wait_readable(c->fd, (int)(end - itest_now_ms()))) {
			c->in[c->in_len] = '\0';
			ck_abort_msg("no complete JSON line from the daemon in time; pending: "
			             "\"%.2000s\"",
			             c->in);
		}
	}
}

/* The next message from the socket itself. */
static json_t *
next_from_socket(struct jclient *c, int deadline_ms)
{
	long long end = itest_now_ms() + (deadline_ms > 0 ? deadline_ms : ITEST_TIMEOUT_MS);
	json_error_t err;
	char *nl;
	json_t *m;
	size_t len;

	for (;;) {
		nl = c->in_len ? memchr(c->in, '\n', c->in_len) : NULL;
		if (nl)
			break;
		if (c->eof || !fill(c, end)) {
			ck_assert_msg(c->in_len == 0,
			              "the daemon closed in the middle of a line: \"%.*s\"",
			              (int)c->in_len, c->in);
			return NULL;
		}
	}
	len = (size_t)(nl - c->in);
	m = json_loadb(c->in, len, JSON_ALLOW_NUL, &err);
	ck_assert_msg(m != NULL, "the daemon sent invalid JSON (%s at column %d): \"%.*s\"",
	              err.text, err.column, (int)len, c->in);
	ck_assert_msg(json_is_object(m), "the daemon sent a non-object: \"%.*s\"", (int)len, c->in);
	memmove(c->in, nl + 1, c->in_len - len - 1);
	c->in_len -= len + 1;
	return m;
}

json_t *
jc_next(struct jclient *c, int deadline_ms)
{
	json_t *m;

	if (c->pending && json_array_size(c->pending)) {
		m = json_incref(json_array_get(c->pending, 0));
		json_array_remove(c->pending, 0);
		return m;
	}
	return next_from_socket(c, deadline_ms);
}

/* The first set-aside message of request id, taken out; or NULL. */
static json_t *
take_pending(struct jclient *c, json_int_t id)
{
	size_t i;
	json_t *m, *v;

	for (i = 0; c->pending && i < json_array_size(c->pending); i++) {
		m = json_array_get(c->pending, i);
		v = json_object_get(m, "id");
		if (json_is_integer(v) && json_integer_value(v) == id) {
			json_incref(m);
			json_array_remove(c->pending, i);
			return m;
		}
	}
	return NULL;
}

json_t *
jc_next_output(struct jclient *c, int deadline_ms)
{
	json_t *m;

	while ((m = jc_next(c, deadline_ms)) &&
	       !strcmp(json_string_value(json_object_get(m, "event")) ?: "", "waiting"))
		json_decref(m);
	return m;
}

void
jc_expect_eof(struct jclient *c, int deadline_ms)
{
	json_t *m = jc_next(c, deadline_ms);
	char *s;

	if (m) {
		s = json_dumps(m, JSON_COMPACT);
		ck_abort_msg("expected the daemon to close the connection, got %s", s);
	}
}

/* Append a string member of ev to *acc. */
static void
append_data(char **acc, json_t *ev)
{
	const char *d = json_string_value(json_object_get(ev, "data"));
	size_t old = strlen(*acc), n;

	ck_assert_msg(d != NULL, "an output event without a string \"data\"");
	n = json_string_length(json_object_get(ev, "data"));
	*acc = realloc(*acc, old + n + 1);
	ck_assert_ptr_nonnull(*acc);
	memcpy(*acc + old, d, n);
	(*acc)[old + n] = '\0';
}

void
jc_collect(struct jclient *c, json_int_t id, int deadline_ms, struct jreply *ret)
{
	long long end = itest_now_ms() + (deadline_ms > 0 ? deadline_ms : ITEST_TIMEOUT_MS);
	json_t *m;
	const char *ev;

	memset(ret, 0, sizeof(*ret));
	ret->events = json_array();
	ret->out = strdup("");
	ret->err = strdup("");
	for (;;) {
		long long left = end - itest_now_ms();

		ck_assert_msg(left > 0, "no done for request %lld within %d ms", (long long)id,
		              deadline_ms > 0 ? deadline_ms : ITEST_TIMEOUT_MS);
		m = take_pending(c, id);
		if (!m)
			m = next_from_socket(c, (int)left);
		ck_assert_msg(m != NULL,
		              "the daemon closed the connection before the done of "
		              "request %lld",
		              (long long)id);
		if (!json_is_integer(json_object_get(m, "id")) ||
		    json_integer_value(json_object_get(m, "id")) != id) {
			json_array_append_new(c->pending, m);
			continue;
		}
		json_array_append_new(ret->events, m);
		ev = json_string_value(json_object_get(m, "event"));
		ck_assert_msg(ev != NULL, "an event without \"event\"");
		if (!strcmp(ev, "waiting")) {
			/* "starting", "queued", …: before the request runs */
			ck_assert_msg(json_is_string(json_object_get(m, "state")),
			              "a waiting event without a string \"state\"");
			ck_assert_msg(!*ret->out && !*ret->err,
			              "a waiting event after output of request %lld",
			              (long long)id);
		} else if (!strcmp(ev, "reloaded")) {
			ck_assert_msg(!ret->reloaded, "two reloaded events for request %lld",
			              (long long)id);
			ret->reloaded = json_object_get(m, "modules");
			ck_assert_msg(json_is_array(ret->reloaded),
			              "a reloaded event without a \"modules\" array");
		} else if (!strcmp(ev, "stdout"))
			append_data(&ret->out, m);
		else if (!strcmp(ev, "stderr"))
			append_data(&ret->err, m);
		else if (!strcmp(ev, "done")) {
			ret->done = m;
			ck_assert_msg(json_is_boolean(json_object_get(m, "ok")),
			              "a done without boolean \"ok\"");
			return;
		} else
			ck_abort_msg("unknown event \"%s\"", ev);
	}
}

void
jc_call_with(struct jclient *c, json_int_t id, const char *op, const char *code, json_t *extra,
             int deadline_ms, struct jreply *ret)
{
	json_t *req = json_pack("{s:I, s:s}", "id", id, "op", op);

	if (code)
		json_object_set_new(req, "code", json_string(code));
	if (extra)
		json_object_update(req, extra);
	jc_send(c, req);
	json_decref(req);
	jc_collect(c, id, deadline_ms, ret);
}

void
jc_call(struct jclient *c, json_int_t id, const char *op, const char *code, struct jreply *ret)
{
	jc_call_with(c, id, op, code, NULL, 0, ret);
}

void
jreply_free(struct jreply *r)
{
	json_decref(r->events);
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

void
jreply_assert_ok(const struct jreply *r)
{
	char *s;

	if (json_is_true(json_object_get(r->done, "ok")))
		return;
	s = json_dumps(r->done, JSON_COMPACT);
	ck_abort_msg("expected ok:true, got %s (stderr: \"%s\")", s, r->err);
}

void
jreply_assert_error(const struct jreply *r, const char *type)
{
	const char *t =
	        json_string_value(json_object_get(json_object_get(r->done, "error"), "type"));
	char *s = json_dumps(r->done, JSON_COMPACT);

	ck_assert_msg(json_is_false(json_object_get(r->done, "ok")) && t && !strcmp(t, type),
	              "expected ok:false with error type %s, got %s", type, s);
	free(s);
}

const char *
jreply_error_str(const struct jreply *r, const char *key)
{
	const char *s = json_string_value(json_object_get(json_object_get(r->done, "error"), key));

	return s ? s : "";
}

long
jc_eval_long(struct jclient *c, json_int_t id, const char *expr)
{
	struct jreply r;
	json_t *v;
	long n;

	jc_call(c, id, "eval", expr, &r);
	jreply_assert_ok(&r);
	v = json_object_get(r.done, "json");
	ck_assert_msg(json_is_integer(v), "eval of %s gave no integer \"json\"", expr);
	n = (long)json_integer_value(v);
	jreply_free(&r);
	return n;
}

long
jc_worker_pid(struct jclient *c, json_int_t id)
{
	return jc_eval_long(c, id, "__import__('os').getpid()");
}

json_t *
itest_control(const struct itest_daemon *d, const char *op)
{
	struct jclient *c = jc_open(d, ITEST_UNIX, "hotload mode=json");
	struct jreply r;
	json_t *done;

	jc_call(c, 1, op, NULL, &r);
	done = json_incref(r.done);
	jreply_free(&r);
	jc_close(c);
	return done;
}
