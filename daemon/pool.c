/* pool.c - the workers of one target and the requests waiting for them
 *
 * The pool is the target's supervisor. It starts workers on demand (and
 * min_workers ahead of demand), queues requests, and carries out what a
 * worker's exit means, as supervise.c decides it: nothing, a restart, a
 * backoff before the next start, or "failed", where the target stays until
 * hotloadctl start clears it. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "hook.h"
#include "log.h"
#include "logring.h"
#include "pool.h"
#include "request.h"
#include "supervise.h"
#include "watch.h"
#include "worker.h"

#define DEFAULT_QUEUE 64    /* max_queue when the hook says nothing */
#define LOG_MAX (64u << 10) /* bytes of recent output (and its records) per target */

enum pool_state {
	POOL_OK,
	POOL_BACKOFF,
	POOL_FAILED,
};

struct pool {
	struct pool_context ctx;
	const struct hook *hook;
	char *name;
	char *executable;
	char *version;

	struct request_list queue;
	size_t queued;
	struct request *submitting; /* pool_submit's, while it dispatches */
	uv_timer_t deadlines;       /* the next queued request's deadline */
	int open_timers;
	struct worker **workers;
	size_t n_workers;
	struct worker *tmpl; /* spawn: fork: the warm interpreter workers are forked from */
	size_t n_templates;  /* templates not yet exited: tmpl, and old ones on their way out */
	int stopping;

	enum pool_state state;
	uv_timer_t backoff;
	uint64_t backoff_until_ns;
	struct supervise_history history;
	unsigned restarts;
	char *last_exit;
	char *last_error; /* why the last start failed, traceback included */
	char *failed_reason;

	/* Hotloading: the watched roots, the Python files changed under them
	 * (each once, with the count of changes at its last one), and how many
	 * changes there were; a worker is told what changed since it last
	 * heard. In watch_mode poll, the agent looks itself instead. */
	struct watch *watch;
	json_t *roots;     /* real paths, the hook's first */
	size_t *root_refs; /* how many asked for each of roots: the hook, watch ops, connections */
	struct change {
		char *path;
		uint64_t seq;
	} * changes;
	size_t n_changes;
	uint64_t change_seq;

	struct logring log; /* recent output, for hotloadctl logs */

	/* Debug sessions: each leases one worker, from its debug op's
	 * dispatch (w set) to its end, to the requests that name it; other
	 * requests never go to that worker. The connection that started it
	 * (owner) ends it by closing; its worker is then recycled. */
	struct session {
		char *name;
		struct worker *w; /* NULL while the debug op is queued */
		const void *owner;
	} * sessions;
	size_t n_sessions;
};

static void pool_dispatch(struct pool *p);
static void stop_templates(struct pool *p, const char *why);
static void replace_template_of(struct pool *p, struct worker *w);

/* Take r out of the queue. */
static void
queue_remove(struct pool *p, struct request *r)
{
	request_queue_remove(&p->queue, r);
	p->queued--;
	if (p->ctx.queued_bytes)
		*p->ctx.queued_bytes -= request_code_len(r);
	/* An armed deadline timer with nothing left to time would wake the
	 * daemon for nothing and hold its exit until it fires. */
	if (!p->queued)
		uv_timer_stop(&p->deadlines);
}

static double
now_s(void)
{
	return (double)uv_hrtime() / 1e9;
}

/* Files changed under the watched roots: every worker hears of them before
 * its next request (and reloads what they are of). */
static void
on_files_changed(struct watch *wt, char *const *paths, size_t n, void *data)
{
	struct pool *p = data;
	size_t i, j;

	for (i = 0; i < n; i++) {
		p->change_seq++;
		for (j = 0; j < p->n_changes; j++)
			if (!strcmp(p->changes[j].path, paths[i]))
				break;
		if (j == p->n_changes) {
			p->changes = xrealloc(p->changes, (p->n_changes + 1) * sizeof(*p->changes));
			p->changes[p->n_changes++].path = xstrdup(paths[i]);
		}
		p->changes[j].seq = p->change_seq;
	}
	log_info("%s: %zu file%s changed (%s%s); workers reload before their next request", p->name,
	         n, n == 1 ? "" : "s", paths[0], n > 1 ? ", ..." : "");
}

int
pool_watch_add(struct pool *p, const char *dir, char *err, size_t errlen)
{
	char *real = realpath(dir, NULL);
	json_t *v;
	size_t i;
	int r = 0;

	if (!real) {
		r = -errno;
		snprintf(err, errlen, "cannot watch %s: %s", dir, strerror(errno));
		return r;
	}
	json_array_foreach(p->roots, i, v) if (!strcmp(json_string_value(v), real))
	{
		p->root_refs[i]++;
		free(real);
		return 0;
	}
	if (!p->hook->watch_poll && !p->stopping) {
		if (!p->watch)
			p->watch = watch_new(p->ctx.loop, on_files_changed, p);
		r = watch_add_root(p->watch, real, err, errlen);
	}
	if (r >= 0) {
		i = json_array_size(p->roots);
		p->root_refs = xrealloc(p->root_refs, (i + 1) * sizeof(*p->root_refs));
		p->root_refs[i] = 1;
		json_array_append_new(p->roots, json_string(real));
	}
	free(real);
	return r;
}

int
pool_watch_remove(struct pool *p, const char *dir)
{
	char *real = realpath(dir, NULL);
	const char *want = real ? real : dir;
	json_t *v;
	size_t i;
	int r = -ENOENT;

	json_array_foreach(p->roots, i, v) if (!strcmp(json_string_value(v), want))
	{
		r = 0;
		if (--p->root_refs[i] > 0)
			break;
		if (p->watch)
			watch_remove_root(p->watch, want);
		json_array_remove(p->roots, i);
		memmove(p->root_refs + i, p->root_refs + i + 1,
		        (json_array_size(p->roots) - i) * sizeof(*p->root_refs));
		break;
	}
	free(real);
	return r;
}

const json_t *
pool_watch_roots(const struct pool *p)
{
	return p->roots;
}

/* What request r, about to run on w, must reload first: the files changed
 * since w last heard (events), or the roots to look under (poll). */
static void
attach_changes(struct pool *p, struct worker *w, struct request *r)
{
	const char *strategy = p->hook->reload_purge ? "purge" : "reload";
	json_t *changed;
	size_t i;

	if (request_op(r) != REQUEST_EXEC && request_op(r) != REQUEST_EVAL)
		return;
	if (p->hook->watch_poll) {
		if (json_array_size(p->roots))
			request_set_reload(r, strategy, NULL, json_incref(p->roots));
		return;
	}
	watch_flush(p->watch); /* a save just before the request counts */
	if (worker_seen_changes(w) == p->change_seq)
		return;
	changed = json_array();
	for (i = 0; i < p->n_changes; i++)
		if (p->changes[i].seq > worker_seen_changes(w))
			json_array_append_new(changed, json_string(p->changes[i].path));
	request_set_reload(r, strategy, changed, NULL);
	worker_set_seen_changes(w, p->change_seq);
}

/* Replace w with a fresh worker: it finishes what it runs and stops; with
 * min_workers the replacement starts at once, before it is gone. */
static void
recycle(struct pool *p, struct worker *w, const char *why)
{
	log_info("%s: recycling worker %d: %s", p->name, worker_pid(w), why);
	worker_stop(w);
}

static struct session *
find_session(struct pool *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_sessions; i++)
		if (!strcmp(p->sessions[i].name, name))
			return &p->sessions[i];
	return NULL;
}

/* Whether session name's debug op is still in the queue. */
static int
debug_queued(const struct pool *p, const char *name)
{
	struct request *r;

	for (r = TAILQ_FIRST(&p->queue); r; r = request_queue_next(r))
		if (request_op(r) == REQUEST_DEBUG && !strcmp(request_session(r), name))
			return 1;
	return 0;
}

static struct session *
session_of_worker(const struct pool *p, const struct worker *w)
{
	size_t i;

	for (i = 0; i < p->n_sessions; i++)
		if (p->sessions[i].w == w)
			return &p->sessions[i];
	return NULL;
}

/* End session s: refuse the requests still waiting for it, give its worker
 * back to be recycled (a debugger cannot be unloaded from an interpreter),
 * and forget it. why completes "debug session 'x' ...". */
static void
end_session(struct pool *p, struct session *s, const char *why, int recycle_worker)
{
	struct request *r, *n;
	struct buf m = BUF_INIT;

	buf_printf(&m, "the debug session '%s' of %s %s", s->name, p->name, why);
	log_info("%s", m.data);
	for (r = TAILQ_FIRST(&p->queue); r; r = n) {
		n = request_queue_next(r);
		if (request_session(r) && !strcmp(request_session(r), s->name) &&
		    request_op(r) != REQUEST_DEBUG) {
			queue_remove(p, r);
			request_fail(r, "DebugSession", m.data);
		}
	}
	if (s->w) {
		worker_set_leased(s->w, 0);
		if (recycle_worker)
			recycle(p, s->w, "its debug session ended");
	}
	free(s->name);
	*s = p->sessions[--p->n_sessions];
	buf_free(&m);
}

void
pool_end_sessions(struct pool *p, const void *owner)
{
	size_t i = 0;

	while (i < p->n_sessions)
		if (p->sessions[i].owner == owner)
			end_session(p, &p->sessions[i], "ended: its client left", 1);
		else
			i++;
	pool_dispatch(p);
}

struct pool *
pool_new(const struct pool_context *ctx, const struct hook *h, const char *executable,
         const char *version)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	struct buf name = BUF_INIT;
	size_t i;

	p->ctx = *ctx;
	p->hook = h;
	buf_printf(&name, "%s:%s", h->name, version);
	p->name = buf_steal(&name);
	p->executable = xstrdup(executable);
	p->version = xstrdup(version);
	logring_init(&p->log, LOG_MAX);
	TAILQ_INIT(&p->queue);
	uv_timer_init(ctx->loop, &p->backoff);
	uv_timer_init(ctx->loop, &p->deadlines);
	p->roots = json_array();
	for (i = 0; i < h->n_watch; i++) {
		char err[512];

		if (pool_watch_add(p, h->watch[i], err, sizeof(err)) < 0)
			log_warn("%s: %s (watch in %s), ignoring", p->name, err,
			         h->source ? h->source : h->name);
	}
	p->backoff.data = p->deadlines.data = p;
	p->open_timers = 2;
	return p;
}

static void
on_pool_closed(uv_handle_t *h)
{
	struct pool *p = h->data;
	size_t i;

	if (--p->open_timers > 0)
		return;
	supervise_history_free(&p->history);
	free(p->workers);
	free(p->name);
	free(p->executable);
	free(p->version);
	free(p->last_exit);
	free(p->last_error);
	free(p->failed_reason);
	for (i = 0; i < p->n_changes; i++)
		free(p->changes[i].path);
	free(p->changes);
	json_decref(p->roots);
	free(p->root_refs);
	logring_free(&p->log);
	for (i = 0; i < p->n_sessions; i++)
		free(p->sessions[i].name);
	free(p->sessions);
	free(p);
}

void
pool_free(struct pool *p)
{
	struct request *r;

	if (!p)
		return;
	assert(p->n_workers == 0 && !p->n_templates); /* pool_stop() first, and wait for on_empty */
	while ((r = TAILQ_FIRST(&p->queue))) {
		queue_remove(p, r);
		request_fail(r, "ShuttingDown", "the daemon is shutting down");
	}
	watch_free(p->watch);
	p->watch = NULL;
	uv_close((uv_handle_t *)&p->backoff, on_pool_closed);
	uv_close((uv_handle_t *)&p->deadlines, on_pool_closed);
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
	return p->n_workers + p->n_templates;
}

static const char *
pool_state_name(enum pool_state s)
{
	switch (s) {
	case POOL_OK:
		return "ok";
	case POOL_BACKOFF:
		return "backoff";
	case POOL_FAILED:
		return "failed";
	}
	return "?";
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

/* Refuse everything queued. */
static void
fail_queue(struct pool *p, const char *type, const char *message)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&p->queue))) {
		queue_remove(p, r);
		request_fail(r, type, message);
	}
}

static void
on_backoff_done(uv_timer_t *t)
{
	struct pool *p = t->data;

	if (p->state != POOL_BACKOFF)
		return;
	p->state = POOL_OK;
	log_info("%s: backoff over", p->name);
	pool_dispatch(p);
}

/* Wait delay seconds before the next start. */
static void
enter_backoff(struct pool *p, double delay)
{
	p->state = POOL_BACKOFF;
	p->backoff_until_ns = uv_hrtime() + (uint64_t)(delay * 1e9);
	log_warn("%s: next start in %.1f s (backoff)", p->name, delay);
	uv_timer_start(&p->backoff, on_backoff_done, (uint64_t)(delay * 1000), 0);
}

static void
enter_failed(struct pool *p, const char *what, size_t n)
{
	struct buf m = BUF_INIT;

	buf_printf(&m,
	           "%s failed: %zu %s within %g s (last: %s); not restarting until "
	           "'hotloadctl start %s'",
	           p->name, n, what, p->ctx.sup->crash_window, p->last_exit ? p->last_exit : "?",
	           p->name);
	free(p->failed_reason);
	p->failed_reason = buf_steal(&m);
	p->state = POOL_FAILED;
	uv_timer_stop(&p->backoff);
	log_err("%s", p->failed_reason);
	fail_queue(p, "TargetFailed", p->failed_reason);
}

/* Whether w was forked from a template that is stopping: replaced (or,
 * when the target stops, going with its workers). */
static int
template_replaced(const struct worker *w)
{
	return worker_template(w) && worker_state(worker_template(w)) == WORKER_STOPPING;
}

static void
on_worker_ready(struct worker *w, void *data)
{
	struct pool *p = data;

	/* forked from a template replaced while it started: it has the old
	 * code, as its template's idle workers, which went then */
	if (template_replaced(w) && !session_of_worker(p, w))
		recycle(p, w, "its template is replaced");
	pool_dispatch(p);
	/* an ns=isolated worker that no isolated request took now (it would
	 * have) is for one that went before it was ready: past its deadline,
	 * or its client left. It serves nobody else. */
	if (worker_isolated(w) && worker_state(w) == WORKER_IDLE && !worker_requests(w)) {
		log_debug("%s: stopping worker %d: the ns=isolated request it was for is gone",
		          p->name, worker_pid(w));
		worker_stop(w);
	}
}

/* Between requests: a worker that served recycle_after requests, grew past
 * max_rss, or failed to reload with reload_fallback: recycle, is replaced. */
static void
on_worker_idle(struct worker *w, void *data)
{
	struct pool *p = data;
	const struct hook *h = p->hook;
	struct session *s = session_of_worker(p, w);
	char why[128];
	size_t rss;

	if (worker_isolated(w)) {
		/* its one request is done: the next one has a new worker */
		log_debug("%s: stopping worker %d: its ns=isolated request is done", p->name,
		          worker_pid(w));
		worker_stop(w);
		if (h->reload_recycle && worker_reload_failed(w))
			replace_template_of(p, w);
	} else if (s && !worker_debugger(w)) {
		/* its debug op failed: what it loaded of the debugger stays */
		end_session(p, s, "could not start", 1);
	} else if (s) {
		/* leased: kept as it is until the session ends */
	} else if (template_replaced(w)) {
		/* its template waits for it */
		recycle(p, w, "its template is replaced");
	} else if (h->recycle_after && worker_requests(w) >= h->recycle_after) {
		snprintf(why, sizeof(why), "it served %u requests (recycle_after)",
		         worker_requests(w));
		recycle(p, w, why);
	} else if (h->max_rss && (rss = worker_rss_bytes(w)) > h->max_rss) {
		snprintf(why, sizeof(why), "it uses %zu MiB, above max_rss (%zu MiB)", rss >> 20,
		         h->max_rss >> 20);
		recycle(p, w, why);
	} else if (h->reload_recycle && worker_reload_failed(w)) {
		recycle(p, w, "a module failed to reload (reload_fallback: recycle)");
		replace_template_of(p, w);
	}
	pool_dispatch(p);
}

/* Workers not on their way out, of one kind: for ns=isolated requests
 * (isolated), or the others. */
static size_t
live_of(const struct pool *p, int isolated)
{
	size_t i, n = 0;

	for (i = 0; i < p->n_workers; i++) {
		enum worker_state s = worker_state(p->workers[i]);

		if (s != WORKER_STOPPING && s != WORKER_STOPPED &&
		    worker_isolated(p->workers[i]) == isolated)
			n++;
	}
	return n;
}

static size_t
live_workers(const struct pool *p)
{
	return live_of(p, 0);
}

static int
may_reap(struct worker *w, void *data)
{
	struct pool *p = data;

	/* min_workers counts workers for any request, not ns=isolated ones */
	return worker_isolated(w) || live_workers(p) > p->hook->min_workers;
}

/* A start-up failure: tell the requests that were waiting why, at once,
 * rather than keep them through every retry of a DCC that cannot start.
 * The one log line of it (worker.c leaves it to us) also says how the
 * process ended. */
static void
start_failed(struct pool *p, struct worker *w, const struct worker_exit *e)
{
	const char *msg = json_string_value(json_object_get(e->start_error, "message"));
	const char *tb = json_string_value(json_object_get(e->start_error, "traceback"));
	struct buf m = BUF_INIT;
	size_t head;

	buf_printf(&m, "%s could not start: ", p->name);
	head = m.len;
	buf_puts(&m, msg ? msg : e->reason);
	if (tb && *tb)
		buf_printf(&m, "\n%s", tb);
	log_err("%s could not start (pid %d %s): %s", p->name, worker_pid(w), e->reason,
	        m.data + head);
	fail_queue(p, "WorkerStartFailed", m.data);
	free(p->last_error);
	p->last_error = buf_steal(&m);
}

/* An interpreter of the pool ended (a worker, or a template): count it
 * unless it was asked for, restart, back off or fail the target, and hand
 * the queue on. */
static void
supervise_end(struct pool *p, struct worker *w, const struct worker_exit *e)
{
	struct supervise_exit se = {
	        .requested = e->requested,
	        .was_ready = e->was_ready,
	        .ready_for = e->ready_for,
	        .while_busy = e->while_busy,
	        .busy_hash = e->busy_hash,
	};
	struct supervise_decision d;

	if (p->stopping)
		return;
	supervise_exit(&p->history, p->ctx.sup, &se, now_s(), (double)rand() / RAND_MAX, &d);
	if (d.action != SUPERVISE_NONE) {
		p->restarts++;
		free(p->last_exit);
		p->last_exit = xstrdup(e->reason);
	}
	if (d.start_failure)
		start_failed(p, w, e);
	if (d.action == SUPERVISE_FAIL)
		enter_failed(p, d.what, d.failures);
	else if (d.action == SUPERVISE_BACKOFF)
		enter_backoff(p, d.delay);
	pool_dispatch(p);
}

static void
on_worker_exited(struct worker *w, const struct worker_exit *e, void *data)
{
	struct pool *p = data;
	struct session *s;

	remove_worker(p, w);
	if ((s = session_of_worker(p, w)))
		end_session(p, s, "ended: its worker exited", 0);
	/* one that went with its template is the template's end, told next:
	 * neither a crash of its own nor a time to start workers */
	if (!e->with_template)
		supervise_end(p, w, e);
	if (!p->n_workers && !p->n_templates && p->ctx.on_empty)
		p->ctx.on_empty(p, p->ctx.data);
}

/* Keep a copy of what workers print, for hotloadctl logs. */
static void
on_worker_output(struct worker *w, int fd, const char *text, size_t len, void *data)
{
	struct pool *p = data;

	logring_add(&p->log, (double)time(NULL), worker_pid(w), fd, text, len);
}

static const struct worker_events worker_events = {
        .ready = on_worker_ready,
        .idle = on_worker_idle,
        .exited = on_worker_exited,
        .may_reap = may_reap,
        .output = on_worker_output,
};

/* The template. Its workers went with it already (worker-fork.c), told as
 * gone with it; its end counts once, as a worker's would, and the next
 * worker starts a new template. */
static void
on_template_ready(struct worker *w, void *data)
{
	struct pool *p = data;

	log_info("%s: template %d is ready: workers are forked from it", p->name, worker_pid(w));
	pool_dispatch(p);
}

static void
on_template_idle(struct worker *w, void *data)
{
}

static void
on_template_exited(struct worker *w, const struct worker_exit *e, void *data)
{
	struct pool *p = data;

	if (p->tmpl == w)
		p->tmpl = NULL;
	p->n_templates--;
	if (!e->requested && e->was_ready)
		log_warn("%s: template %d %s; the next worker starts a new one", p->name,
		         worker_pid(w), e->reason);
	supervise_end(p, w, e);
	if (!p->n_workers && !p->n_templates && p->ctx.on_empty)
		p->ctx.on_empty(p, p->ctx.data);
}

static const struct worker_events template_events = {
        .ready = on_template_ready,
        .idle = on_template_idle,
        .exited = on_template_exited,
        .output = on_worker_output,
};

/* Every worker is being stopped: so are the templates, the current one
 * (a fresh one, of what is on disk now, is started for the next worker)
 * and any replaced one still waiting for its workers. */
static void
stop_templates(struct pool *p, const char *why)
{
	size_t i;

	if (p->tmpl) {
		if (why)
			log_info("%s: stopping template %d: %s", p->name, worker_pid(p->tmpl), why);
		worker_stop_with_workers(p->tmpl);
	}
	for (i = 0; i < p->n_workers; i++) {
		struct worker *t = worker_template(p->workers[i]);

		if (t)
			worker_stop_with_workers(t);
	}
}

/* A module failed to reload in w (reload_fallback: recycle): a fork of the
 * template it came from would have the old module again, so that template
 * is replaced, if it still is the one workers are forked from. Its idle
 * workers go now, the others when they are idle (on_worker_idle), each
 * after its request, and it goes after them. */
static void
replace_template_of(struct pool *p, struct worker *w)
{
	if (!p->tmpl || worker_template(w) != p->tmpl)
		return;
	log_info("%s: replacing template %d: a module failed to reload (reload_fallback: "
	         "recycle)",
	         p->name, worker_pid(p->tmpl));
	worker_retire_template(p->tmpl);
}

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
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "name", h->name, "target", p->name,
	              "initialize", h->initialize ? json_string(h->initialize) : json_null(),
	              "uninitialize", h->uninitialize ? json_string(h->uninitialize) : json_null(),
	              "namespace", h->namespace_code ? json_string(h->namespace_code) : json_null(),
	              "class", h->hook_class ? json_string(h->hook_class) : json_null(), "path",
	              path);
	if (h->before_reload)
		json_object_set_new(o, "before_reload", json_string(h->before_reload));
	if (h->after_reload)
		json_object_set_new(o, "after_reload", json_string(h->after_reload));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Refuse the waiting requests: "P could not start: what: why". */
static void
start_refused(struct pool *p, const char *what, int r)
{
	struct buf m = BUF_INIT;

	buf_printf(&m, "%s could not start: %s: %s", p->name, what, uv_strerror(r));
	log_err("%s", m.data);
	fail_queue(p, "WorkerStartFailed", m.data);
	buf_free(&m);
}

/* Start an interpreter (a worker, or with spec->template the template)
 * with the hook's argv and environment; ev hears of it. */
static int
spawn_process(struct pool *p, struct worker_spec *spec, const struct worker_events *ev,
              struct worker **ret)
{
	struct buf hookvar = BUF_INIT, target = BUF_INIT, what = BUF_INIT;
	char *hookjson = hook_env_json(p);
	char *extra[7];
	int r;

	buf_printf(&hookvar, "HOTLOAD_HOOK=%s", hookjson ? hookjson : "{}");
	buf_printf(&target, "HOTLOAD_TARGET=%s", p->name);
	extra[0] = "HOTLOAD_CONTROL_FD=3";
	extra[1] = hookvar.data;
	extra[2] = target.data;
	extra[3] = "PYTHONUNBUFFERED=1";
	extra[4] = "PYTHONIOENCODING=utf-8";
	extra[5] = spec->template ? "HOTLOAD_SPAWN=template" : NULL;
	extra[6] = NULL;
	spec->argv = hook_build_argv(p->hook, p->executable, p->version, p->ctx.agent);
	spec->env = hook_build_env(p->hook, p->executable, p->version, p->ctx.agent, extra);
	r = worker_spawn(p->ctx.loop, spec, ev, p, ret);
	if (r < 0) {
		buf_printf(&what, "cannot run %s", spec->argv[0]);
		start_refused(p, what.data, r);
	}
	hook_strv_free(spec->argv);
	hook_strv_free(spec->env);
	spec->argv = spec->env = NULL;
	free(hookjson);
	buf_free(&hookvar);
	buf_free(&target);
	buf_free(&what);
	return r;
}

/* spawn: fork: start the template unless it runs; spec is the workers'.
 * It has no idle or request timeout: it never runs a request. */
static int
spawn_template(struct pool *p, const struct worker_spec *spec)
{
	struct worker_spec ts = *spec;
	struct worker *t;
	int r;

	if (p->tmpl && worker_state(p->tmpl) != WORKER_STOPPING &&
	    worker_state(p->tmpl) != WORKER_STOPPED)
		return 0;
	/* none, or the old one is on its way out (a recycle) or gone (its
	 * workers' exits come before its own): a new one */
	ts.template = 1;
	ts.idle_timeout = 0;
	ts.request_timeout = 0;
	r = spawn_process(p, &ts, &template_events, &t);
	if (r < 0)
		return r;
	p->tmpl = t;
	p->n_templates++;
	worker_set_seen_changes(t, p->change_seq);
	return 0;
}

/* Start a worker (isolated: for one ns=isolated request): an interpreter,
 * or with spawn: fork a fork of the template, which only that starts with
 * the hook's argv and environment. */
static int
pool_spawn(struct pool *p, int isolated)
{
	const struct supervision *sup = p->ctx.sup;
	struct worker_spec spec;
	struct worker *w;
	int r;

	memset(&spec, 0, sizeof(spec));
	spec.name = p->name;
	spec.launcher = p->ctx.launcher;
	spec.reaper = p->ctx.reaper;
	spec.startup_timeout = p->hook->startup_timeout;
	spec.idle_timeout = p->hook->idle_timeout;
	spec.request_timeout = p->hook->request_timeout;
	spec.stop_grace = sup->stop_grace;
	spec.interrupt_grace = sup->interrupt_grace;
	spec.kill_grace = sup->kill_grace;

	if (!p->hook->spawn_fork) {
		r = spawn_process(p, &spec, &worker_events, &w);
	} else if ((r = spawn_template(p, &spec)) == 0 &&
	           (r = worker_fork(p->tmpl, &spec, &worker_events, p, &w)) < 0)
		start_refused(p, "cannot fork its template", r);
	if (r < 0)
		return r;
	p->workers = xrealloc(p->workers, (p->n_workers + 1) * sizeof(*p->workers));
	p->workers[p->n_workers++] = w;
	if (isolated)
		worker_set_isolated(w);
	/* a new interpreter imports what is on disk now; a fork has the
	 * modules its template imported */
	worker_set_seen_changes(w,
	                        p->hook->spawn_fork ? worker_seen_changes(p->tmpl) : p->change_seq);
	return 0;
}

/* The idle worker r may go to now, or NULL: its session's worker for a
 * request that names a session, else one that no session leases. */
static struct worker *
worker_for(struct pool *p, struct request *r)
{
	const char *name = request_session(r);
	struct session *s;
	size_t i;

	if (name && request_op(r) != REQUEST_DEBUG) {
		s = find_session(p, name);
		return s && s->w && worker_state(s->w) == WORKER_IDLE ? s->w : NULL;
	}
	/* an ns=isolated request has a new worker of its own, which serves
	 * nothing else */
	for (i = 0; i < p->n_workers; i++) {
		struct worker *w = p->workers[i];

		if (worker_state(w) == WORKER_IDLE && !session_of_worker(p, w) &&
		    worker_isolated(w) == !!request_isolated(r) &&
		    (!worker_isolated(w) || !worker_requests(w)))
			return w;
	}
	return NULL;
}

/* Hand queued requests to idle workers, in order, each to a worker it may
 * go to (a request for a busy session waits without holding up the rest);
 * start workers for the rest (and up to min_workers), within max_workers,
 * unless in backoff or failed. Leased workers serve their sessions only. */
static void
pool_dispatch(struct pool *p)
{
	size_t i, starting = 0, live, leased = 0, waiting = 0;
	size_t iso_starting = 0, iso_waiting = 0, iso_live;
	unsigned max = p->hook->max_workers ? p->hook->max_workers : 1;
	size_t want;
	struct request *r, *next;

	for (r = TAILQ_FIRST(&p->queue); r; r = next) {
		struct worker *w = worker_for(p, r);

		next = request_queue_next(r);
		if (!w) {
			if (request_isolated(r))
				iso_waiting++;
			else if (!request_session(r) || request_op(r) == REQUEST_DEBUG)
				waiting++;
			continue;
		}
		queue_remove(p, r);
		/* A client that closed its connection (a raw client killed
		 * while sending, say) would get nothing of what its code
		 * does: the code is not run, cut short or not. */
		if (r != p->submitting && request_client_gone(r)) {
			log_info("%s: the client closed its connection before its request ran; "
			         "not running it",
			         p->name);
			request_fail(r, "ClientGone", "the client closed its connection");
			next = TAILQ_FIRST(&p->queue); /* failing it may change the queue */
			waiting = 0;
			continue;
		}
		if (request_op(r) == REQUEST_DEBUG) {
			struct session *s = find_session(p, request_session(r));

			if (s) {
				s->w = w;
				worker_set_leased(w, 1);
				log_info("%s: worker %d is leased to debug session '%s'", p->name,
				         worker_pid(w), s->name);
			}
		}
		attach_changes(p, w, r);
		worker_run(w, r);
		next = TAILQ_FIRST(&p->queue); /* running it may change the queue */
		waiting = 0;
	}
	if (p->stopping || p->state != POOL_OK)
		return;
	for (i = 0; i < p->n_workers; i++) {
		if (worker_state(p->workers[i]) == WORKER_STARTING) {
			if (worker_isolated(p->workers[i]))
				iso_starting++;
			else
				starting++;
		}
		if (session_of_worker(p, p->workers[i]))
			leased++;
	}
	live = live_workers(p);
	want = p->hook->min_workers + leased > live ? p->hook->min_workers + leased - live : 0;
	if (waiting > starting && waiting - starting > want)
		want = waiting - starting;
	while (want-- && live < max) {
		if (pool_spawn(p, 0) < 0)
			return;
		live++;
	}
	/* up to max_workers more, each for one ns=isolated request */
	iso_live = live_of(p, 1);
	want = iso_waiting > iso_starting ? iso_waiting - iso_starting : 0;
	while (want-- && iso_live < max) {
		if (pool_spawn(p, 1) < 0)
			return;
		iso_live++;
	}
}

static void
tell_waiting(struct pool *p, struct request *r)
{
	size_t i;

	for (i = 0; i < p->n_workers; i++)
		if (worker_state(p->workers[i]) == WORKER_STARTING) {
			request_waiting(r, "starting");
			return;
		}
	if (p->state == POOL_BACKOFF)
		request_waiting(r, "backoff");
	else if (p->n_workers)
		request_waiting(r, "queued");
}

static void on_deadline(uv_timer_t *t);

/* Queued requests past their deadline are answered Timeout and never run;
 * the timer is set for the next deadline in the queue. */
static void
check_deadlines(struct pool *p, int expire)
{
	uint64_t now = uv_hrtime(), next = 0;
	struct request *r, *n;

	for (r = TAILQ_FIRST(&p->queue); r; r = n) {
		uint64_t deadline = request_deadline_ns(r);

		n = request_queue_next(r);
		if (!deadline)
			continue;
		if (expire && deadline <= now) {
			struct buf m = BUF_INIT;

			buf_printf(&m,
			           "it waited for a worker of %s past its deadline of %g s; it was "
			           "not "
			           "run",
			           p->name, request_deadline(r));
			queue_remove(p, r);
			request_fail(r, "Timeout", m.data);
			buf_free(&m);
			continue;
		}
		if (!next || deadline < next)
			next = deadline;
	}
	if (next)
		uv_timer_start(&p->deadlines, on_deadline,
		               next > now ? (next - now) / 1000000 + 1 : 0, 0);
	else
		uv_timer_stop(&p->deadlines);
}

static void
on_deadline(uv_timer_t *t)
{
	check_deadlines(t->data, 1);
}

void
pool_submit(struct pool *p, struct request *r)
{
	size_t max_queue = p->hook->max_queue ? p->hook->max_queue : DEFAULT_QUEUE;

	if (p->stopping) {
		request_fail(r, "ShuttingDown", "the daemon is shutting down");
		return;
	}
	if (p->state == POOL_FAILED) {
		request_fail(r, "TargetFailed", p->failed_reason);
		return;
	}
	if (supervise_poisoned_any(&p->history) &&
	    supervise_poisoned(&p->history, request_code_hash(r))) {
		struct buf m = BUF_INIT;

		buf_printf(&m,
		           "this code crashed %s's worker %d times; refusing to run it again "
		           "('hotloadctl restart %s' forgets)",
		           p->name, SUPERVISE_POISON_LIMIT, p->name);
		request_fail(r, "RequestRefused", m.data);
		buf_free(&m);
		return;
	}
	if (p->queued >= max_queue) {
		struct buf m = BUF_INIT;

		buf_printf(&m, "%s has %zu requests waiting already (max_queue)", p->name,
		           p->queued);
		request_fail(r, "QueueFull", m.data);
		buf_free(&m);
		return;
	}
	if (request_session(r)) {
		struct session *sess = find_session(p, request_session(r));
		struct buf m = BUF_INIT;

		if (sess && !sess->w && !debug_queued(p, sess->name)) {
			/* its debug op never ran (interrupted, past its deadline) */
			free(sess->name);
			*sess = p->sessions[--p->n_sessions];
			sess = NULL;
		}

		if (request_op(r) == REQUEST_DEBUG && sess)
			buf_printf(&m,
			           "%s has a debug session '%s' already (name another, or end "
			           "that one first)",
			           p->name, sess->name);
		else if (request_op(r) != REQUEST_DEBUG && !sess)
			buf_printf(
			        &m,
			        "%s has no debug session '%s' ('hotloadctl debug %s' starts one)",
			        p->name, request_session(r), p->name);
		if (m.len) {
			request_fail(r, "DebugSession", m.data);
			buf_free(&m);
			return;
		}
	}
	/* Asked here rather than in pool_dispatch, which would free r under
	 * us when it is the one it takes. */
	if (request_client_gone(r)) {
		log_info("%s: the client closed its connection before its request ran; not "
		         "running it",
		         p->name);
		request_fail(r, "ClientGone", "the client closed its connection");
		return;
	}
	if (request_op(r) == REQUEST_DEBUG) {
		p->sessions = xrealloc(p->sessions, (p->n_sessions + 1) * sizeof(*p->sessions));
		p->sessions[p->n_sessions].name = xstrdup(request_session(r));
		p->sessions[p->n_sessions].w = NULL;
		p->sessions[p->n_sessions].owner = request_sink_data(r);
		p->n_sessions++;
	}
	request_queue(r, p);
	request_queue_append(&p->queue, r);
	p->queued++;
	if (p->ctx.queued_bytes)
		*p->ctx.queued_bytes += request_code_len(r);
	p->submitting = r;
	pool_dispatch(p);
	p->submitting = NULL;
	if (request_state(r) == REQUEST_QUEUED) {
		tell_waiting(p, r);
		if (request_deadline_ns(r))
			check_deadlines(p, 0);
	}
}

void
pool_cancel(struct pool *p, struct request *r)
{
	if (request_state(r) == REQUEST_QUEUED) {
		queue_remove(p, r);
		request_free(r);
	} else if (request_state(r) == REQUEST_RUNNING && request_worker(r))
		worker_detach(request_worker(r), r);
}

int
pool_interrupt_request(struct pool *p, struct request *r)
{
	if (request_state(r) == REQUEST_QUEUED) {
		queue_remove(p, r);
		request_fail(r, "KeyboardInterrupt", "interrupted before it ran");
		return 1;
	}
	if (request_state(r) == REQUEST_RUNNING && request_worker(r))
		return worker_interrupt(request_worker(r)) >= 0;
	return 0;
}

int
pool_interrupt(struct pool *p)
{
	size_t i;
	int n = 0;

	for (i = 0; i < p->n_workers; i++)
		if (worker_interrupt(p->workers[i]) >= 0)
			n++;
	return n;
}

void
pool_stop(struct pool *p)
{
	size_t i;

	p->stopping = 1;
	uv_timer_stop(&p->backoff);
	uv_timer_stop(&p->deadlines); /* the queue goes below: no deadline is left */
	/* nothing is reloaded any more, and its handles must not keep the
	 * loop, and so the daemon, alive */
	watch_free(p->watch);
	p->watch = NULL;
	fail_queue(p, "ShuttingDown", "the daemon is shutting down");
	for (i = 0; i < p->n_workers; i++)
		worker_stop(p->workers[i]);
	stop_templates(p, NULL);
}

void
pool_stop_workers(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n_workers; i++)
		worker_stop(p->workers[i]);
	stop_templates(p, NULL);
}

int
pool_recycle(struct pool *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->n_workers; i++) {
		enum worker_state s = worker_state(p->workers[i]);

		if (s == WORKER_STOPPING || s == WORKER_STOPPED)
			continue;
		recycle(p, p->workers[i], "asked to (recycle)");
		n++;
	}
	stop_templates(p, "asked to (recycle)");
	pool_dispatch(p); /* the replacements, as min_workers wants them */
	return (int)n;
}

int
pool_start(struct pool *p)
{
	size_t live;

	if (p->stopping)
		return -ESHUTDOWN;
	if (p->state != POOL_OK)
		log_info("%s: %s cleared by start", p->name, pool_state_name(p->state));
	uv_timer_stop(&p->backoff);
	p->state = POOL_OK;
	supervise_reset(&p->history);
	free(p->failed_reason);
	p->failed_reason = NULL;
	free(p->last_error);
	p->last_error = NULL;
	live = live_workers(p);
	if (!live && !p->hook->min_workers)
		pool_spawn(p, 0);
	pool_dispatch(p);
	return 0;
}

void
pool_retire(struct pool *p)
{
	p->stopping = 1;
	uv_timer_stop(&p->backoff);
	uv_timer_stop(&p->deadlines); /* the queue goes below: no deadline is left */
	pool_stop_workers(p);
}

json_t *
pool_logs(const struct pool *p, size_t max_entries)
{
	return logring_json(&p->log, max_entries);
}

json_t *
pool_status(const struct pool *p)
{
	json_t *workers = json_array();
	json_t *o;
	size_t i;

	for (i = 0; i < p->n_workers; i++) {
		json_t *ws = worker_status(p->workers[i]);
		const struct session *s = session_of_worker(p, p->workers[i]);

		if (s)
			json_object_set_new(ws, "session", json_string(s->name));
		json_array_append_new(workers, ws);
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "target", p->name, "hook",
	              p->hook->name, "version", p->version, "executable", p->executable, "state",
	              pool_state_name(p->state), "restarts", (json_int_t)p->restarts, "queue",
	              (json_int_t)p->queued, "workers", workers);
	json_object_set_new(o, "last_exit", p->last_exit ? json_string(p->last_exit) : json_null());
	if (p->state == POOL_BACKOFF) {
		uint64_t now = uv_hrtime();
		uint64_t left = p->backoff_until_ns > now ? p->backoff_until_ns - now : 0;

		json_object_set_new(o, "backoff_s", json_real((double)left / 1e9));
	}
	if (p->failed_reason)
		json_object_set_new(o, "failed_reason", json_string(p->failed_reason));
	if (p->last_error)
		json_object_set_new(o, "last_error", json_string(p->last_error));
	if (p->hook->spawn_fork)
		json_object_set_new(o, "template", p->tmpl ? worker_status(p->tmpl) : json_null());
	if (json_array_size(p->roots)) {
		json_object_set(o, "watch", p->roots);
		json_object_set_new(o, "watch_mode",
		                    json_string(p->hook->watch_poll ? "poll" : "events"));
	}
	return o;
}

void
pool_rebind(struct pool *p, const struct hook *h, const struct supervision *sup)
{
	p->hook = h;
	p->ctx.sup = sup;
	pool_dispatch(p);
}

size_t
pool_take_queue(struct pool *p, struct request ***ret)
{
	struct request **v = xcalloc(p->queued + 1, sizeof(*v));
	struct request *r;
	size_t n = 0;

	while ((r = TAILQ_FIRST(&p->queue))) {
		queue_remove(p, r);
		request_unqueue(r);
		v[n++] = r;
	}
	*ret = v;
	return n;
}

const struct hook *
pool_hook(const struct pool *p)
{
	return p->hook;
}

const char *
pool_version(const struct pool *p)
{
	return p->version;
}

const char *
pool_executable(const struct pool *p)
{
	return p->executable;
}

void
pool_prewarm(struct pool *p)
{
	pool_dispatch(p);
}

void
pool_release_memory(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n_workers; i++)
		worker_release_memory(p->workers[i]);
	if (p->tmpl)
		worker_release_memory(p->tmpl);
}

void
pool_count_states(const struct pool *p, unsigned *counts)
{
	size_t i;

	for (i = 0; i < p->n_workers; i++)
		counts[worker_state(p->workers[i])]++;
}
