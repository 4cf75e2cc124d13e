/* request.c - one piece of work for a worker */
#include <stdlib.h>

#include "buf.h"
#include "request.h"
#include "worker.h"

struct request *
request_new(enum request_op op, const struct request_sink *sink, void *sink_data)
{
	struct request *r = xcalloc(1, sizeof(*r));

	r->op = op;
	r->state = REQUEST_QUEUED;
	r->sink = sink;
	r->sink_data = sink_data;
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
	free(r->client_id_json);
	free(r);
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
	}
	return "?";
}

json_t *
request_to_agent(const struct request *r, uint64_t id)
{
	json_t *m = json_pack("{s:I, s:s}", "id", (json_int_t)id, "op", request_op_name(r->op));

	if (r->op == REQUEST_EXEC || r->op == REQUEST_EVAL) {
		json_object_set_new(m, "code", json_stringn(r->code ? r->code : "", r->code_len));
		json_object_set_new(m, "file", r->file ? json_string(r->file) : json_null());
		json_object_set_new(m, "ns", json_string(r->fresh ? "fresh" : "main"));
		if (r->path)
			json_object_set_new(m, "path", json_string(r->path));
		if (r->cwd)
			json_object_set_new(m, "cwd", json_string(r->cwd));
		if (r->argv)
			json_object_set(m, "argv", r->argv);
		if (r->changed) {
			json_object_set(m, "changed", r->changed);
			json_object_set_new(
			        m, "reload_strategy",
			        json_string(r->reload_strategy ? r->reload_strategy : "reload"));
		}
		if (r->poll_roots) {
			json_object_set(m, "poll_roots", r->poll_roots);
			json_object_set_new(
			        m, "reload_strategy",
			        json_string(r->reload_strategy ? r->reload_strategy : "reload"));
		}
	}
	if (r->op == REQUEST_RELOAD) {
		json_object_set(m, "modules", r->modules);
		json_object_set_new(m, "strategy", json_string(r->purge ? "purge" : "reload"));
	}
	return m;
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

uint64_t
request_hash(const struct request *r)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	h = (h ^ (uint64_t)r->op) * 1099511628211ull;
	for (i = 0; i < r->code_len; i++)
		h = (h ^ (unsigned char)r->code[i]) * 1099511628211ull;
	return h;
}
