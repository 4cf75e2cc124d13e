/* control.c - the daemon's own requests: status, start, stop, and the rest
 *
 * Reached with the header "hotload mode=json"; every request answers with
 * one done. Targets are "dcc[:version]" as in a connection's header. */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "control.h"
#include "header.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "server.h"

#define LOGS_DEFAULT 200

enum target_action {
	ACTION_START,
	ACTION_STOP,
	ACTION_RESTART,
	ACTION_INTERRUPT,
	ACTION_RECYCLE,
};

/* Find the pool of a target string; start and restart make it.
 * -EINPROGRESS (no error) while its install's version is being probed. */
static int
control_pool(struct server *s, const char *target, int create, struct pool **ret,
             json_t **ret_error)
{
	struct header h;
	struct buf m = BUF_INIT;
	const char *type = NULL;
	char err[256];
	int r;

	if (header_parse(target, strlen(target), &h, err, sizeof(err)) < 0 || h.file[0] ||
	    h.mode != HEADER_MODE_RAW) {
		*ret_error = json_pack("{s:s, s:s}", "type", "BadRequest", "message",
		                       "a target is dcc or dcc:version");
		return -EINVAL;
	}
	r = server_route(s, h.dcc, h.version, create, ret, &type, &m);
	if (r == -EINPROGRESS) {
		buf_free(&m);
		return r;
	}
	if (r == -ESRCH)
		*ret = NULL; /* known, but nothing running: nothing to do */
	else if (r < 0) {
		*ret_error = json_pack("{s:s, s:s}", "type", type, "message", m.data);
		buf_free(&m);
		return r;
	}
	buf_free(&m);
	return 0;
}

/* One target of start/stop/restart/interrupt: {"target", "ok", …}. */
static json_t *
act_on(struct server *s, const char *target, enum target_action a)
{
	struct pool *p = NULL;
	json_t *error = NULL, *res;
	int n = 0, r;

	r = control_pool(s, target, a == ACTION_START || a == ACTION_RESTART, &p, &error);
	if (r == -EINPROGRESS) /* probed a moment ago, and changed since */
		error = json_pack("{s:s, s:s}", "type", "ServerBusy", "message",
		                  "the version of its install is being probed; try again");
	if (r < 0)
		return json_pack("{s:s, s:b, s:o}", "target", target, "ok", 0, "error", error);
	if (p) {
		switch (a) {
		case ACTION_START:
		case ACTION_RESTART:
			if (a == ACTION_RESTART)
				pool_stop_workers(p);
			if (pool_start(p) < 0)
				return json_pack("{s:s, s:b, s:{s:s, s:s}}", "target", pool_name(p),
				                 "ok", 0, "error", "type", "ShuttingDown",
				                 "message", "the daemon is shutting down");
			break;
		case ACTION_STOP:
			pool_stop_workers(p);
			break;
		case ACTION_INTERRUPT:
			n = pool_interrupt(p);
			break;
		case ACTION_RECYCLE:
			n = pool_recycle(p);
			break;
		}
	}
	res = json_pack("{s:s, s:b}", "target", p ? pool_name(p) : target, "ok", 1);
	if (a == ACTION_INTERRUPT)
		json_object_set_new(res, "interrupted", json_integer(n));
	if (a == ACTION_RECYCLE)
		json_object_set_new(res, "recycled", json_integer(n));
	return res;
}

/* Is any of the targets waiting for a version probe? Nothing is done to
 * any of them until none is, so that asking again does each thing once. */
static int
targets_pending(struct server *s, json_t *list)
{
	struct pool *p;
	json_t *v, *error;
	size_t i;
	int pending = 0;

	json_array_foreach(list, i, v)
	{
		error = NULL;
		if (json_is_string(v) &&
		    control_pool(s, json_string_value(v), 0, &p, &error) == -EINPROGRESS)
			pending = 1;
		json_decref(error);
	}
	return pending;
}

/* {"targets": [...]} or {"target": "..."}; every target's result, and ok
 * when all went well. NULL while a target's version is being probed. */
static json_t *
act_on_targets(struct server *s, json_t *req, enum target_action a)
{
	json_t *list = json_object_get(req, "targets");
	json_t *one = json_object_get(req, "target");
	json_t *results, *v;
	size_t i;
	int ok = 1;

	if (one && json_is_string(one)) {
		list = json_array();
		json_array_append(list, one);
	} else if (!json_is_array(list) || !json_array_size(list)) {
		return request_error_json("BadRequest",
		                          "needs \"target\" or a non-empty \"targets\"");
	} else
		json_incref(list);
	if (targets_pending(s, list)) {
		json_decref(list);
		return NULL;
	}
	results = json_array();
	json_array_foreach(list, i, v)
	{
		json_t *r;

		if (!json_is_string(v)) {
			r = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "type", "BadRequest",
			              "message", "targets are strings");
		} else
			r = act_on(s, json_string_value(v), a);
		ok = ok && json_is_true(json_object_get(r, "ok"));
		json_array_append_new(results, r);
	}
	json_decref(list);
	return json_pack("{s:b, s:o}", "ok", ok, "targets", results);
}

static json_t *
control_logs(struct server *s, json_t *req)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	json_t *entries = json_object_get(req, "entries");
	size_t max = json_is_integer(entries) && json_integer_value(entries) > 0
	                     ? (size_t)json_integer_value(entries)
	                     : LOGS_DEFAULT;
	struct pool *p = NULL;
	json_t *error = NULL;
	int r;

	if (!target)
		return request_error_json("BadRequest", "logs needs \"target\"");
	r = control_pool(s, target, 0, &p, &error);
	if (r == -EINPROGRESS)
		return NULL;
	if (r < 0) {
		json_t *res = json_pack("{s:b, s:o}", "ok", 0, "error", error);

		return res;
	}
	return json_pack("{s:b, s:o}", "ok", 1, "logs", p ? pool_logs(p, max) : json_array());
}

/* {"op":"watch"|"unwatch","target":T,"dirs":[...]}: the target's watched
 * roots change; the answer has the roots now. NULL while its version is
 * being probed. */
static json_t *
control_watch(struct server *s, json_t *req, int add)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	json_t *dirs = json_object_get(req, "dirs"), *v, *error = NULL;
	struct pool *p = NULL;
	struct buf m = BUF_INIT;
	size_t i;
	int ok = 1, r;

	if (!target || !json_is_array(dirs) || !json_array_size(dirs))
		return request_error_json(
		        "BadRequest", "needs \"target\" and a non-empty \"dirs\" (absolute paths)");
	json_array_foreach(dirs, i, v) if (!json_is_string(v) || json_string_value(v)[0] != '/')
	{
		return request_error_json("BadRequest", "\"dirs\" are absolute paths");
	}
	r = control_pool(s, target, 1, &p, &error);
	if (r == -EINPROGRESS)
		return NULL;
	if (r < 0)
		return json_pack("{s:b, s:o}", "ok", 0, "error", error);
	json_array_foreach(dirs, i, v)
	{
		char err[512];
		const char *dir = json_string_value(v);

		if (add && pool_watch_add(p, dir, err, sizeof(err)) < 0) {
			buf_printf(&m, "%s%s", m.len ? "; " : "", err);
			ok = 0;
		} else if (!add && pool_watch_remove(p, dir) < 0) {
			buf_printf(&m, "%s%s is not watched", m.len ? "; " : "", dir);
			ok = 0;
		} else
			log_info("%s: %s %s", pool_name(p), add ? "watching" : "no longer watching",
			         dir);
	}
	if (!ok) {
		json_t *res = request_error_json("BadRequest", m.data);

		json_object_set_new(res, "watch", json_deep_copy(pool_watch_roots(p)));
		buf_free(&m);
		return res;
	}
	return json_pack("{s:b, s:s, s:O}", "ok", 1, "target", pool_name(p), "watch",
	                 pool_watch_roots(p));
}

static json_t *
control_reload(struct server *s)
{
	struct buf err = BUF_INIT;
	json_t *res;

	if (server_reload(s, &err) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err.data);
		res = request_error_json("ConfigError", err.data ? err.data : "reload failed");
	} else
		res = json_pack("{s:b}", "ok", 1);
	buf_free(&err);
	return res;
}

/* {"ok":true,"hooks":[…]} once every install's version is known. */
static json_t *
control_list(struct server *s)
{
	json_t *hooks = NULL;
	int r = server_list(s, &hooks);

	if (r == -EINPROGRESS)
		return NULL;
	if (r < 0)
		return request_error_json("ShuttingDown", "the daemon is shutting down");
	return json_pack("{s:b, s:o}", "ok", 1, "hooks", hooks);
}

/* The answer to one request; NULL while it waits for a version probe. */
static json_t *
control_answer(struct server *s, json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *target = json_string_value(json_object_get(req, "target"));

	if (!op)
		return request_error_json("BadRequest", "missing field 'op' (a string)");
	if (!strcmp(op, "ping"))
		return json_pack("{s:b}", "ok", 1);
	if (!strcmp(op, "status"))
		return json_pack("{s:b, s:o}", "ok", 1, "status", server_status(s, target));
	if (!strcmp(op, "list"))
		return control_list(s);
	if (!strcmp(op, "start"))
		return act_on_targets(s, req, ACTION_START);
	if (!strcmp(op, "stop"))
		return act_on_targets(s, req, ACTION_STOP);
	if (!strcmp(op, "restart"))
		return act_on_targets(s, req, ACTION_RESTART);
	if (!strcmp(op, "interrupt"))
		return act_on_targets(s, req, ACTION_INTERRUPT);
	if (!strcmp(op, "logs"))
		return control_logs(s, req);
	if (!strcmp(op, "recycle"))
		return act_on_targets(s, req, ACTION_RECYCLE);
	if (!strcmp(op, "watch") || !strcmp(op, "unwatch"))
		return control_watch(s, req, !strcmp(op, "watch"));
	if (!strcmp(op, "reload"))
		return control_reload(s);
	if (!strcmp(op, "shutdown")) {
		server_request_exit(s);
		return json_pack("{s:b}", "ok", 1);
	}
	return request_error_json("BadRequest", "unknown control op (known: status, list, start, "
	                                        "stop, restart, interrupt, recycle, watch, "
	                                        "unwatch, logs, reload, shutdown, ping)");
}

int
control_handle(struct server *s, json_t *req, json_t **ret)
{
	json_t *res = control_answer(s, req);

	if (!res)
		return -EINPROGRESS;
	*ret = res;
	return 0;
}
