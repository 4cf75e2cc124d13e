/* pool.c - the workers of one target and the requests waiting for them */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hook.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "worker.h"

#define STOP_GRACE 10.0 /* seconds for teardown before SIGTERM, then SIGKILL */

TAILQ_HEAD(request_queue, request);

struct pool {
	struct pool_context ctx;
	const struct hook *hook;
	char *name;
	char *executable;
	char *version;
	struct request_queue queue;
	size_t queued;
	struct worker **workers;
	size_t n_workers;
	int stopping;
};

static void pool_dispatch(struct pool *p);

struct pool *
pool_new(const struct pool_context *ctx, const struct hook *h, const char *executable,
         const char *version)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	struct buf name = BUF_INIT;

	p->ctx = *ctx;
	p->hook = h;
	buf_printf(&name, "%s:%s", h->name, version);
	p->name = buf_steal(&name);
	p->executable = xstrdup(executable);
	p->version = xstrdup(version);
	TAILQ_INIT(&p->queue);
	return p;
}

void
pool_free(struct pool *p)
{
	struct request *r;

	if (!p)
		return;
	while ((r = TAILQ_FIRST(&p->queue))) {
		TAILQ_REMOVE(&p->queue, r, entry);
		request_fail(r, "ShuttingDown", "the daemon is shutting down");
	}
	free(p->workers);
	free(p->name);
	free(p->executable);
	free(p->version);
	free(p);
}

int
pool_matches(const struct pool *p, const struct hook *h, const char *executable)
{
	return p->hook == h && !strcmp(p->executable, executable);
}

const char *
pool_name(const struct pool *p)
{
	return p->name;
}

size_t
pool_worker_count(const struct pool *p)
{
	return p->n_workers;
}

static void
remove_worker(struct pool *p, struct worker *w)
{
	size_t i;

	for (i = 0; i < p->n_workers; i++)
		if (p->workers[i] == w) {
			p->workers[i] = p->workers[--p->n_workers];
			return;
		}
}

/* Refuse everything queued: the target cannot be started. */
static void
fail_queue(struct pool *p, const char *type, const char *message)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&p->queue))) {
		TAILQ_REMOVE(&p->queue, r, entry);
		p->queued--;
		request_fail(r, type, message);
	}
}

static void
on_worker_ready(struct worker *w, void *data)
{
	pool_dispatch(data);
}

static void
on_worker_idle(struct worker *w, void *data)
{
	pool_dispatch(data);
}

static void
on_worker_exited(struct worker *w, json_t *error, void *data)
{
	struct pool *p = data;

	remove_worker(p, w);
	if (error) {
		/* It never became ready: starting another for the same
		 * requests would fail the same way. */
		const char *msg = json_string_value(json_object_get(error, "message"));
		const char *tb = json_string_value(json_object_get(error, "traceback"));
		struct buf m = BUF_INIT;

		buf_printf(&m, "%s could not start: %s", p->name, msg ? msg : "unknown error");
		if (tb && *tb)
			buf_printf(&m, "\n%s", tb);
		log_err("%s", m.data);
		fail_queue(p, "WorkerStartFailed", m.data);
		buf_free(&m);
	}
	if (!p->stopping)
		pool_dispatch(p);
	if (!p->n_workers && p->ctx.on_empty)
		p->ctx.on_empty(p, p->ctx.data);
}

static const struct worker_events worker_events = {
        .ready = on_worker_ready,
        .idle = on_worker_idle,
        .exited = on_worker_exited,
};

/* HOTLOAD_HOOK for the agent: what to run before READY and at teardown. */
static char *
hook_env_json(const struct pool *p)
{
	const struct hook *h = p->hook;
	json_t *path = json_array();
	json_t *o;
	char *s;
	size_t i;

	for (i = 0; i < h->n_python_path; i++)
		json_array_append_new(path, json_string(h->python_path[i]));
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "name", h->name, "target", p->name,
	              "initialize", h->initialize ? json_string(h->initialize) : json_null(),
	              "uninitialize", h->uninitialize ? json_string(h->uninitialize) : json_null(),
	              "class", h->hook_class ? json_string(h->hook_class) : json_null(), "path",
	              path);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static int
pool_spawn(struct pool *p)
{
	struct worker_spec spec;
	struct worker *w;
	struct buf hookvar = BUF_INIT, target = BUF_INIT;
	char *hookjson = hook_env_json(p);
	char *extra[6];
	int r;

	buf_printf(&hookvar, "HOTLOAD_HOOK=%s", hookjson ? hookjson : "{}");
	buf_printf(&target, "HOTLOAD_TARGET=%s", p->name);
	extra[0] = "HOTLOAD_CONTROL_FD=3";
	extra[1] = hookvar.data;
	extra[2] = target.data;
	extra[3] = "PYTHONUNBUFFERED=1";
	extra[4] = "PYTHONIOENCODING=utf-8";
	extra[5] = NULL;

	memset(&spec, 0, sizeof(spec));
	spec.argv = hook_build_argv(p->hook, p->executable, p->version, p->ctx.agent);
	spec.env = hook_build_env(p->hook, p->executable, p->version, p->ctx.agent, extra);
	spec.name = p->name;
	spec.startup_timeout = p->hook->startup_timeout;
	spec.stop_grace = STOP_GRACE;

	spec.launcher = p->ctx.launcher;
	spec.reaper = p->ctx.reaper;
	r = worker_spawn(p->ctx.loop, &spec, &worker_events, p, &w);
	if (r < 0) {
		struct buf m = BUF_INIT;

		buf_printf(&m, "%s could not start: cannot run %s: %s", p->name, spec.argv[0],
		           uv_strerror(r));
		log_err("%s", m.data);
		fail_queue(p, "WorkerStartFailed", m.data);
		buf_free(&m);
	} else {
		p->workers = xrealloc(p->workers, (p->n_workers + 1) * sizeof(*p->workers));
		p->workers[p->n_workers++] = w;
	}
	hook_strv_free(spec.argv);
	hook_strv_free(spec.env);
	free(hookjson);
	buf_free(&hookvar);
	buf_free(&target);
	return r;
}

/* Hand queued requests to idle workers; start workers for the rest, up to
 * the hook's max_workers. */
static void
pool_dispatch(struct pool *p)
{
	size_t i, starting = 0, live = 0;
	unsigned max = p->hook->max_workers ? p->hook->max_workers : 1;

	while (!TAILQ_EMPTY(&p->queue)) {
		struct worker *idle = NULL;
		struct request *r;

		for (i = 0; i < p->n_workers && !idle; i++)
			if (worker_state(p->workers[i]) == WORKER_IDLE)
				idle = p->workers[i];
		if (!idle)
			break;
		r = TAILQ_FIRST(&p->queue);
		TAILQ_REMOVE(&p->queue, r, entry);
		p->queued--;
		worker_run(idle, r);
	}
	if (TAILQ_EMPTY(&p->queue) || p->stopping)
		return;
	for (i = 0; i < p->n_workers; i++) {
		enum worker_state s = worker_state(p->workers[i]);

		if (s == WORKER_STARTING)
			starting++;
		if (s != WORKER_STOPPING && s != WORKER_DEAD)
			live++;
	}
	while (live < max && starting < p->queued) {
		if (pool_spawn(p) < 0)
			return;
		live++;
		starting++;
	}
}

void
pool_submit(struct pool *p, struct request *r)
{
	if (p->stopping) {
		request_fail(r, "ShuttingDown", "the daemon is shutting down");
		return;
	}
	r->pool = p;
	r->state = REQUEST_QUEUED;
	TAILQ_INSERT_TAIL(&p->queue, r, entry);
	p->queued++;
	pool_dispatch(p);
}

void
pool_cancel(struct pool *p, struct request *r)
{
	if (r->state == REQUEST_QUEUED) {
		TAILQ_REMOVE(&p->queue, r, entry);
		p->queued--;
		request_free(r);
	} else if (r->state == REQUEST_RUNNING && r->worker)
		worker_detach(r->worker, r);
}

void
pool_stop(struct pool *p)
{
	size_t i;

	p->stopping = 1;
	fail_queue(p, "ShuttingDown", "the daemon is shutting down");
	for (i = 0; i < p->n_workers; i++)
		worker_stop(p->workers[i]);
}

json_t *
pool_status(const struct pool *p)
{
	json_t *workers = json_array();
	size_t i;

	for (i = 0; i < p->n_workers; i++)
		json_array_append_new(workers, worker_status(p->workers[i]));
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "target", p->name, "hook", p->hook->name,
	                 "version", p->version, "executable", p->executable, "queue",
	                 (json_int_t)p->queued, "workers", workers);
}
