/* request.c - one piece of work for a worker */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "jsonesc.h"
#include "request.h"
#include "worker.h"

struct request {
	TAILQ_ENTRY(request) entry;       /* in its pool's queue */
	TAILQ_ENTRY(request) owner_entry; /* in its connection's list */
	enum request_op op;
	enum request_state state;
	char *code;
	size_t code_len;
	char *file;
	int fresh;
	int isolated;
	int interactive;
	int shutdown_after;
	double timeout;
	uint64_t deadline_ns; /* uv_hrtime() by which it must be done; 0: none */
	double deadline;      /* that, in seconds from when it was made */
	char *path;
	char *cwd;
	json_t *argv;
	json_t *modules;
	int purge;
	json_t *changed;             /* files changed since the worker's last request, or NULL */
	json_t *poll_roots;          /* watch_mode poll: the roots whose modules to check */
	const char *reload_strategy; /* the hook's, for changed files: "reload", "purge" */
	uint64_t code_hash;          /* of op and code: which requests crash workers */
	int code_hashed;             /* code_hash is made (only when it is asked for) */
	json_t *client_id;
	char *session;
	json_t *debug;        /* debug: host, port and tokens for the agent */
	char *client_id_json; /* client_id serialised, made on first use */
	uint64_t started_ns;
	uint64_t ran_ns; /* how long its worker ran it, once request_ran said */
	int ran;
	struct worker *worker;           /* while running */
	struct pool *pool;               /* while queued or running */
	const struct request_sink *sink; /* NULL once the client is gone */
	void *sink_data;
};

/* A hash of op and code, to recognise a request that crashes workers: a
 * multiply-and-fold per 8 bytes, as a byte-at-a-time hash (FNV-1a, one
 * dependent multiply per byte) cost a millisecond per MiB of code. Not
 * for anything an attacker could aim at: only which code to stop
 * restarting workers for. */
static uint64_t
mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint64_t
hash_code(enum request_op op, const char *code, size_t len)
{
	uint64_t h = mix(1469598103934665603ull, (uint64_t)op), w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, code + i, 8);
		h = mix(h, w);
	}
	w = 0;
	if (len > i)
		memcpy(&w, code + i, len - i);
	/* the length too, so trailing zero bytes count */
	return mix(mix(h, w), (uint64_t)len);
}

static size_t live;
static void (*last_freed)(void *data);
static void *last_freed_data;

size_t
request_live(void)
{
	return live;
}

void
request_on_last_freed(void (*fn)(void *data), void *data)
{
	last_freed = fn;
	last_freed_data = data;
}

struct request *
request_new(const struct request_spec *spec, const struct request_sink *sink, void *sink_data)
{
	struct request *r = xcalloc(1, sizeof(*r));

	r->op = spec->op;
	r->state = REQUEST_QUEUED;
	r->code = spec->code;
	r->code_len = spec->code ? spec->code_len : 0;
	r->file = spec->file ? xstrdup(spec->file) : NULL;
	r->fresh = spec->fresh;
	r->isolated = spec->isolated;
	r->interactive = spec->interactive;
	r->shutdown_after = spec->shutdown_after;
	r->timeout = spec->timeout;
	if (spec->deadline > 0) {
		r->deadline = spec->deadline;
		r->deadline_ns = uv_hrtime() + (uint64_t)(spec->deadline * 1e9);
	}
	r->path = spec->path ? xstrdup(spec->path) : NULL;
	r->cwd = spec->cwd ? xstrdup(spec->cwd) : NULL;
	r->argv = json_incref(spec->argv);
	r->modules = json_incref(spec->modules);
	r->purge = spec->purge;
	r->client_id = json_incref(spec->client_id);
	r->session = spec->session ? xstrdup(spec->session) : NULL;
	if (spec->op == REQUEST_DEBUG)
		r->debug = json_pack("{s:s, s:i, s:s, s:s}", "host", spec->debug_host, "port",
		                     spec->debug_port, "access_token", spec->debug_token,
		                     "client_access_token", spec->debug_client_token);
	r->sink = sink;
	r->sink_data = sink_data;
	live++;
	return r;
}

void
request_free(struct request *r)
{
	if (!r)
		return;
	free(r->code);
	free(r->file);
	free(r->path);
	free(r->cwd);
	json_decref(r->argv);
	json_decref(r->modules);
	json_decref(r->changed);
	json_decref(r->poll_roots);
	json_decref(r->client_id);
	free(r->session);
	json_decref(r->debug);
	free(r->client_id_json);
	free(r);
	assert(live > 0);
	if (--live == 0 && last_freed)
		last_freed(last_freed_data);
}

const char *
request_op_name(enum request_op op)
{
	switch (op) {
	case REQUEST_EXEC:
		return "exec";
	case REQUEST_EVAL:
		return "eval";
	case REQUEST_RESET:
		return "reset";
	case REQUEST_PING:
		return "ping";
	case REQUEST_RELOAD:
		return "reload";
	case REQUEST_DEBUG:
		return "debug";
	}
	return "?";
}

void
request_agent_line(const struct request *r, uint64_t id, struct buf *line, const char **ret_code,
                   size_t *ret_len)
{
	const char *strategy = r->reload_strategy ? r->reload_strategy : "reload";
	const size_t flags = JSON_ENSURE_ASCII;
	const char *key;
	json_t *v;

	buf_puts(line, "{\"id\":");
	buf_put_int(line, (long long)id);
	buf_puts(line, ",\"op\":\"");
	buf_puts(line, request_op_name(r->op));
	buf_puts(line, "\"");
	*ret_code = "";
	*ret_len = 0;
	if (r->op == REQUEST_EXEC || r->op == REQUEST_EVAL) {
		/* valid UTF-8 already: raw mode repairs it, JSON strings are */
		buf_puts(line, ",\"code_bytes\":");
		buf_put_int(line, (long long)r->code_len);
		buf_puts(line, ",\"file\":");
		*ret_code = r->code ? r->code : "";
		*ret_len = r->code_len;
		if (r->file)
			json_write_string(line, r->file, flags);
		else
			buf_puts(line, "null");
		buf_puts(line, r->fresh ? ",\"ns\":\"fresh\"" : ",\"ns\":\"main\"");
		if (r->interactive)
			buf_puts(line, ",\"interactive\":true");
		if (r->path) {
			buf_puts(line, ",\"path\":");
			json_write_string(line, r->path, flags);
		}
		if (r->cwd) {
			buf_puts(line, ",\"cwd\":");
			json_write_string(line, r->cwd, flags);
		}
		if (r->argv)
			json_write_member(line, "argv", r->argv, flags);
		if (r->changed)
			json_write_member(line, "changed", r->changed, flags);
		if (r->poll_roots)
			json_write_member(line, "poll_roots", r->poll_roots, flags);
		if (r->changed || r->poll_roots) {
			buf_puts(line, ",\"reload_strategy\":");
			json_write_string(line, strategy, flags);
		}
	}
	if (r->op == REQUEST_RELOAD) {
		json_write_member(line, "modules", r->modules, flags);
		buf_puts(line, r->purge ? ",\"strategy\":\"purge\"" : ",\"strategy\":\"reload\"");
	}
	if (r->op == REQUEST_DEBUG && r->debug) {
		json_object_foreach(r->debug, key, v)
		{
			if (strcmp(key, "id") && strcmp(key, "op"))
				json_write_member(line, key, v, flags);
		}
	}
	buf_puts(line, "}");
}

int
request_output(struct request *r, int fd, const char *data, size_t len)
{
	if (!r->sink)
		return 0;
	return r->sink->output(r, fd, data, len);
}

void
request_event(struct request *r, json_t *msg)
{
	if (r->sink && r->sink->event)
		r->sink->event(r, msg);
}

int
request_client_gone(struct request *r)
{
	return r->sink && r->sink->gone && r->sink->gone(r);
}

json_t *
request_error_json(const char *type, const char *message)
{
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "type", type, "message", message);
}

void
request_fail(struct request *r, const char *type, const char *message)
{
	json_t *res = request_error_json(type, message);

	request_finish(r, res);
	json_decref(res);
}

void
request_finish(struct request *r, json_t *result)
{
	assert(r->state != REQUEST_DONE);
	r->state = REQUEST_DONE;
	r->worker = NULL;
	r->pool = NULL;
	if (r->sink)
		r->sink->done(r, result);
	else
		request_free(r);
}

void
request_resume_output(struct request *r)
{
	if (r->worker)
		worker_resume_output(r->worker);
}

void
request_queue(struct request *r, struct pool *p)
{
	assert(r->state == REQUEST_QUEUED && !r->pool);
	r->pool = p;
}

void
request_unqueue(struct request *r)
{
	assert(r->state == REQUEST_QUEUED);
	r->pool = NULL;
}

void
request_start(struct request *r, struct worker *w)
{
	assert(r->state == REQUEST_QUEUED);
	r->state = REQUEST_RUNNING;
	r->worker = w;
	r->started_ns = uv_hrtime();
}

void
request_orphan(struct request *r)
{
	r->sink = NULL;
}

void
request_set_reload(struct request *r, const char *strategy, json_t *changed, json_t *poll_roots)
{
	r->reload_strategy = strategy;
	json_decref(r->changed);
	json_decref(r->poll_roots);
	r->changed = changed;
	r->poll_roots = poll_roots;
}

void
request_waiting(struct request *r, const char *state)
{
	if (r->sink && r->sink->waiting)
		r->sink->waiting(r, state);
}

enum request_op
request_op(const struct request *r)
{
	return r->op;
}

enum request_state
request_state(const struct request *r)
{
	return r->state;
}

struct pool *
request_pool(const struct request *r)
{
	return r->pool;
}

struct worker *
request_worker(const struct request *r)
{
	return r->worker;
}

void *
request_sink_data(const struct request *r)
{
	return r->sink_data;
}

size_t
request_code_len(const struct request *r)
{
	return r->code_len;
}

double
request_timeout(const struct request *r)
{
	return r->timeout;
}

double
request_deadline(const struct request *r)
{
	return r->deadline;
}

uint64_t
request_deadline_ns(const struct request *r)
{
	return r->deadline_ns;
}

uint64_t
request_started_ns(const struct request *r)
{
	return r->started_ns;
}

void
request_ran(struct request *r)
{
	r->ran_ns = uv_hrtime() - r->started_ns;
	r->ran = 1;
}

int
request_duration_ms(const struct request *r, double *ret_ms)
{
	if (!r->ran)
		return 0;
	*ret_ms = (double)r->ran_ns / 1e6;
	return 1;
}

int
request_shutdown_after(const struct request *r)
{
	return r->shutdown_after;
}

json_t *
request_client_id(const struct request *r)
{
	return r->client_id ? r->client_id : json_null();
}

const char *
request_client_id_json(struct request *r)
{
	if (!r->client_id_json) {
		struct buf b = BUF_INIT;

		json_write_value(&b, request_client_id(r), 0);
		r->client_id_json = buf_steal(&b);
	}
	return r->client_id_json;
}

/* Made when asked for: a crash while r ran, or a target that refuses some
 * code already. Hashing every request's code cost 10,000 instructions per
 * 8 KiB of it, a fifth of what hotloadd did for such a request. */
uint64_t
request_code_hash(struct request *r)
{
	if (!r->code_hashed) {
		r->code_hash = hash_code(r->op, r->code, r->code_len);
		r->code_hashed = 1;
	}
	return r->code_hash;
}

const char *
request_session(const struct request *r)
{
	return r->session;
}

int
request_isolated(const struct request *r)
{
	return r->isolated;
}

void
request_owner_append(struct request_list *l, struct request *r)
{
	TAILQ_INSERT_TAIL(l, r, owner_entry);
}

void
request_owner_remove(struct request_list *l, struct request *r)
{
	TAILQ_REMOVE(l, r, owner_entry);
}

struct request *
request_owner_next(const struct request *r)
{
	return TAILQ_NEXT(r, owner_entry);
}

void
request_queue_append(struct request_list *l, struct request *r)
{
	TAILQ_INSERT_TAIL(l, r, entry);
}

void
request_queue_remove(struct request_list *l, struct request *r)
{
	TAILQ_REMOVE(l, r, entry);
}

struct request *
request_queue_next(const struct request *r)
{
	return TAILQ_NEXT(r, entry);
}
