/* server.c - the daemon's state: hooks, pools, connections, routing, status */
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "hook.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "paths.h"
#include "pool.h"
#include "probe.h"
#include "readbuf.h"
#include "reaper.h"
#include "request.h"
#include "server.h"
#include "server-private.h"
#include "worker.h"

#define TRIM_EVERY_MS 1000 /* how often the daemon gives memory back, at most */

/* A large script, a burst of output or many clients at once leave freed
 * memory in the heap that glibc keeps (its trim threshold grows with what
 * was used), and the daemon then sits idle for hours holding it. So once no
 * request is left, what is free goes back to the system, all of it: free
 * pages left at the top of the heap stay resident when they were written.
 * That is whether clients are still connected or not: an editor, a notebook
 * or an MCP server keeps its connection open all day. The connections that
 * stay and the workers give back their empty input buffers too. At most
 * once a second, as the pages given back are faulted in again by the next
 * request (one after another from a client is a common way to use the
 * daemon): a timer does it, at once or at the end of the second, if the
 * daemon is still quiet then. */
static void
trim_heap(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n_conns; i++)
		conn_release_memory(s->conns[i]);
	for (i = 0; i < s->n_pools; i++)
		pool_release_memory(s->pools[i]);
	for (i = 0; i < s->n_retired; i++)
		pool_release_memory(s->retired[i]);
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
	readbuf_release_memory();
	s->trimmed_ms = uv_now(s->loop);
}

static void
on_trim_timer(uv_timer_t *t)
{
	struct server *s = t->data;

	if (!request_live())
		trim_heap(s);
}

/* From the loop, not from the request_free or the connection's close that
 * made the daemon quiet: their callers may still be using a buffer. */
static void
server_quiet(struct server *s)
{
	uint64_t now = uv_now(s->loop), wait = 0;

	if (request_live() || uv_is_active((uv_handle_t *)s->trim_timer))
		return;
	if (now - s->trimmed_ms < TRIM_EVERY_MS)
		wait = s->trimmed_ms + TRIM_EVERY_MS - now;
	uv_timer_start(s->trim_timer, on_trim_timer, wait, 0);
}

static void
on_last_request_freed(void *data)
{
	server_quiet(data);
}

static void
on_trim_timer_closed(uv_handle_t *h)
{
	free(h);
}

struct server *
server_new(uv_loop_t *loop, struct config *cfg, struct hookset *hs, const char *agent,
           const char *launcher)
{
	struct server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->cfg = cfg;
	s->hooks = hs;
	s->agent = xstrdup(agent);
	s->launcher = launcher ? xstrdup(launcher) : NULL;
	s->reaper = reaper_new(loop);
	s->probes = probes_new(loop, s->reaper, PROBE_TIMEOUT_MS);
	probes_set_empty_cb(s->probes, server_probes_empty, s);
	s->started_ns = uv_hrtime();
	s->trim_timer = xmalloc(sizeof(*s->trim_timer));
	uv_timer_init(loop, s->trim_timer);
	uv_unref((uv_handle_t *)s->trim_timer);
	s->trim_timer->data = s;
	request_on_last_freed(on_last_request_freed, s);
	s->pool_ctx.loop = loop;
	s->pool_ctx.agent = s->agent;
	s->pool_ctx.launcher = s->launcher;
	s->pool_ctx.reaper = s->reaper;
	s->pool_ctx.sup = &cfg->supervision;
	s->pool_ctx.on_empty = server_pool_empty;
	s->pool_ctx.data = s;
	s->pool_ctx.queued_bytes = &s->queued_bytes;
	return s;
}

#define ROUTE_TTL_NS (5ull * 1000000000ull) /* a newly installed version shows within 5 s */
/* and a removed one within 1 s: not a system call per request */
#define ROUTE_CHECK_NS (1000000000ull)
#define SHUTDOWN_LINGER_MS 5000 /* at exit, a client that takes nothing this long is closed */

void
server_routes_clear(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n_routes; i++) {
		free(s->routes[i].want);
		free(s->routes[i].path);
		free(s->routes[i].version);
	}
	free(s->routes);
	s->routes = NULL;
	s->n_routes = 0;
}

/* hook_resolve, remembered for a few seconds while the file is there. The
 * path and version returned are the cache's: they last until the next call
 * or until the routes are cleared. */
static int
resolve_cached(struct server *s, const struct hook *h, const char *want, const char **ret_path,
               const char **ret_version, struct buf *searched)
{
	char *path, *version;
	uint64_t now = uv_hrtime();
	struct route *rt;
	size_t i;
	int r;

	for (i = 0; i < s->n_routes; i++) {
		rt = &s->routes[i];
		if (rt->hook != h || strcmp(rt->want, want))
			continue;
		if (now - rt->at_ns < ROUTE_TTL_NS &&
		    (now - rt->checked_ns < ROUTE_CHECK_NS || access(rt->path, X_OK) == 0)) {
			if (now - rt->checked_ns >= ROUTE_CHECK_NS)
				rt->checked_ns = now;
			*ret_path = rt->path;
			*ret_version = rt->version;
			return 0;
		}
		free(rt->want);
		free(rt->path);
		free(rt->version);
		*rt = s->routes[--s->n_routes];
		break;
	}
	r = hook_resolve(h, want, s->probes, &path, &version, searched);
	if (r < 0)
		return r;
	s->routes = xrealloc(s->routes, (s->n_routes + 1) * sizeof(*s->routes));
	rt = &s->routes[s->n_routes++];
	rt->hook = h;
	rt->want = xstrdup(want);
	rt->path = path;
	rt->version = version;
	rt->at_ns = rt->checked_ns = now;
	*ret_path = rt->path;
	*ret_version = rt->version;
	return 0;
}

void
server_free(struct server *s)
{
	size_t i;

	if (!s)
		return;
	request_on_last_freed(NULL, NULL); /* what is freed below is not a quiet daemon */
	for (i = 0; i < s->n_pools; i++)
		pool_free(s->pools[i]);
	for (i = 0; i < s->n_retired; i++)
		pool_free(s->retired[i]);
	for (i = 0; i < s->n_old_hooks; i++)
		hookset_free(s->old_hooks[i]);
	server_routes_clear(s);
	server_parked_free(s);
	server_prewarm_forget(s);
	probes_free(s->probes); /* and the waiters: nobody is left to hear them */
	free(s->pools);
	free(s->retired);
	free(s->old_hooks);
	free(s->listeners);
	free(s->conns);
	reaper_free(s->reaper);
	uv_close((uv_handle_t *)s->trim_timer, on_trim_timer_closed);
	access_free(s->access);
	hookset_free(s->hooks);
	config_free(s->cfg);
	free(s->agent);
	free(s->launcher);
	free(s);
}

uv_loop_t *
server_loop(const struct server *s)
{
	return s->loop;
}

struct probes *
server_probes(const struct server *s)
{
	return s->probes;
}

struct access *
server_access(const struct server *s)
{
	return s->access;
}

int
server_hold(struct server *s, size_t had, size_t has)
{
	size_t total = s->buffered - had + s->queued_bytes;

	if (has > had && total + has > s->cfg->max_buffered)
		return -ENOBUFS;
	s->buffered = s->buffered - had + has;
	return 0;
}

void
server_conn_add(struct server *s, struct conn *c)
{
	s->conns = xrealloc(s->conns, (s->n_conns + 1) * sizeof(*s->conns));
	s->conns[s->n_conns++] = c;
}

void
server_conn_gone(struct server *s, struct conn *c)
{
	size_t i;

	for (i = 0; i < s->n_conns; i++)
		if (s->conns[i] == c) {
			s->conns[i] = s->conns[--s->n_conns];
			return;
		}
}

void
server_conn_freed(struct server *s)
{
	server_quiet(s);
}

/* "blender, hython (houdini), mayapy (maya), python" */
static void
known_hooks(const struct server *s, struct buf *b)
{
	size_t i, j;

	for (i = 0; i < hookset_count(s->hooks); i++) {
		const struct hook *h = hookset_at(s->hooks, i);

		buf_printf(b, "%s%s", i ? ", " : "", h->name);
		for (j = 0; j < h->n_aliases; j++)
			buf_printf(b, "%s%s", j ? ", " : " (", h->aliases[j]);
		if (h->n_aliases)
			buf_puts(b, ")");
	}
}

int
server_route(struct server *s, const char *dcc, const char *version, int create, struct pool **ret,
             const char **reterr_type, struct buf *message)
{
	const struct hook *h = hookset_find(s->hooks, dcc);
	struct buf searched = BUF_INIT;
	const char *path = NULL, *ver = NULL;
	struct pool *p = NULL;
	size_t i;
	int r;

	if (!h) {
		buf_printf(message, "unknown DCC '%s'; known: ", dcc);
		known_hooks(s, message);
		*reterr_type = "UnknownTarget";
		return -ENOENT;
	}
	r = resolve_cached(s, h, version, &path, &ver, &searched);
	if (r == -EINPROGRESS) {
		buf_free(&searched);
		if (!s->shutting_down)
			return r;
		/* the probes were stopped: nobody will answer */
		buf_puts(message, "the daemon is shutting down");
		*reterr_type = "ShuttingDown";
		return -ESHUTDOWN;
	}
	if (r < 0) {
		struct hook_install *found = NULL;
		size_t n = 0, k;

		buf_printf(message, "%s%s%s is not installed", dcc, *version ? ":" : "", version);
		if (hook_find_installs(h, s->probes, &found, &n) > 0) {
			buf_puts(message, " (installed:");
			for (k = 0; k < n; k++)
				buf_printf(message, " %s:%s", h->name, found[k].version);
			buf_puts(message, ")");
		}
		hook_installs_free(found, n);
		if (searched.len) {
			const char *line = searched.data, *nl;

			buf_puts(message, "; searched:");
			for (; *line; line = nl + 1) {
				nl = strchrnul(line, '\n');
				buf_printf(message, "\n  %.*s", (int)(nl - line), line);
				if (!*nl)
					break;
			}
		}
		*reterr_type = "NotInstalled";
		buf_free(&searched);
		return r;
	}
	buf_free(&searched);
	for (i = 0; i < s->n_pools && !p; i++)
		if (pool_matches(s->pools[i], h, path))
			p = s->pools[i];
	if (!p && !create)
		return -ESRCH;
	if (!p) {
		if (s->shutting_down) {
			buf_puts(message, "the daemon is shutting down");
			*reterr_type = "ShuttingDown";
			return -ESHUTDOWN;
		}
		p = pool_new(&s->pool_ctx, h, path, ver);
		s->pools = xrealloc(s->pools, (s->n_pools + 1) * sizeof(*s->pools));
		s->pools[s->n_pools++] = p;
		log_debug("new target %s: %s", pool_name(p), path);
	}
	*ret = p;
	return 0;
}

struct pool *
server_pool_of(struct server *s, const char *dcc, const char *executable)
{
	const struct hook *h = hookset_find(s->hooks, dcc);
	size_t i;

	for (i = 0; h && i < s->n_pools; i++)
		if (pool_matches(s->pools[i], h, executable))
			return s->pools[i];
	return NULL;
}

json_t *
server_status(const struct server *s, const char *target)
{
	char where[600];
	json_t *targets = json_array();
	size_t i;

	for (i = 0; i < s->n_pools; i++)
		if (!target || !strcmp(target, pool_name(s->pools[i])))
			json_array_append_new(targets, pool_status(s->pools[i]));
	for (i = 0; i < s->n_retired; i++) {
		json_t *st = pool_status(s->retired[i]);

		json_object_set_new(st, "retired", json_true());
		if (!target || !strcmp(target, pool_name(s->retired[i])))
			json_array_append_new(targets, st);
		else
			json_decref(st);
	}
	log_describe(where, sizeof(where));
	return json_pack("{s:{s:i, s:s, s:f, s:I, s:s}, s:o}", "daemon", "pid", (int)getpid(),
	                 "version", HOTLOAD_VERSION, "uptime_s",
	                 (double)(uv_hrtime() - s->started_ns) / 1e9, "connections",
	                 (json_int_t)s->n_conns, "log", where, "targets", targets);
}

static void
shutdown_check(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n_pools; i++)
		if (pool_worker_count(s->pools[i]))
			return;
	for (i = 0; i < s->n_retired; i++)
		if (pool_worker_count(s->retired[i]))
			return;
	/* Probes were killed; the reaper must see them reaped first. */
	if (probes_count(s->probes))
		return;
	/* Answers already written (a "shutdown" reply) still reach their
	 * clients; the connections go once they have. */
	for (i = s->n_conns; i > 0; i--)
		conn_end_by(s->conns[i - 1], SHUTDOWN_LINGER_MS);
	/* Last sweep for anything the workers left, then let the loop end. */
	if (s->reaper) {
		reaper_sweep(s->reaper);
		reaper_free(s->reaper);
		s->reaper = NULL;
	}
	if (s->shutdown_done) {
		void (*done)(void *) = s->shutdown_done;

		s->shutdown_done = NULL;
		done(s->shutdown_data);
	}
}

/* A retired pool whose workers are all gone is freed; the old hooksets
 * go with the last of them. */
void
server_free_drained(struct server *s)
{
	size_t i = 0;

	while (i < s->n_retired) {
		struct pool *p = s->retired[i];

		if (pool_worker_count(p) || s->shutting_down) {
			i++;
			continue;
		}
		s->retired[i] = s->retired[--s->n_retired];
		pool_free(p);
	}
	if (!s->n_retired) {
		for (i = 0; i < s->n_old_hooks; i++)
			hookset_free(s->old_hooks[i]);
		s->n_old_hooks = 0;
	}
}

void
server_pool_empty(struct pool *p, void *data)
{
	struct server *s = data;

	if (s->shutting_down)
		shutdown_check(s);
	else
		server_free_drained(s);
}

/* The last version probe is gone. */
void
server_probes_empty(void *data)
{
	struct server *s = data;

	if (s->shutting_down)
		shutdown_check(s);
}

void
server_shutdown(struct server *s, void (*done)(void *data), void *data)
{
	size_t i;

	if (s->shutting_down)
		return;
	s->shutting_down = 1;
	s->shutdown_done = done;
	s->shutdown_data = data;
	server_close_listeners(s);
	/* Who waits for a probe hears ShuttingDown when woken. */
	probes_stop(s->probes);
	for (i = 0; i < s->n_pools; i++)
		pool_stop(s->pools[i]);
	for (i = 0; i < s->n_retired; i++)
		pool_stop(s->retired[i]);
	shutdown_check(s);
}

void
server_set_loader(struct server *s, server_load_cb fn, void *data)
{
	s->load = fn;
	s->load_data = data;
}

void
server_set_exit(struct server *s, void (*fn)(void *data), void *data)
{
	s->exit_fn = fn;
	s->exit_data = data;
}

void
server_request_exit(struct server *s)
{
	if (s->exit_fn)
		s->exit_fn(s->exit_data);
}

int
server_list(const struct server *s, json_t **ret)
{
	json_t *list = json_array();
	size_t i, j, pending = 0;

	/* Every hook is looked at, so the probes it takes all run at once. */
	for (i = 0; i < hookset_count(s->hooks); i++) {
		const struct hook *h = hookset_at(s->hooks, i);
		json_t *aliases = json_array(), *installs = json_array();
		struct hook_install *v = NULL;
		size_t n = 0;

		for (j = 0; j < h->n_aliases; j++)
			json_array_append_new(aliases, json_string(h->aliases[j]));
		if (hook_find_installs(h, s->probes, &v, &n) == -EINPROGRESS)
			pending++;
		for (j = 0; j < n; j++)
			json_array_append_new(installs, json_pack("{s:s, s:s}", "version",
			                                          v[j].version, "path", v[j].path));
		hook_installs_free(v, n);
		json_array_append_new(list, json_pack("{s:s, s:o, s:s?, s:s?, s:s?, s:o}", "name",
		                                      h->name, "aliases", aliases, "description",
		                                      h->description, "source", h->source,
		                                      "default_version", h->default_version,
		                                      "installs", installs));
	}
	if (pending) {
		json_decref(list);
		return s->shutting_down ? -ESHUTDOWN : -EINPROGRESS;
	}
	*ret = list;
	return 0;
}

void
server_summary(const struct server *s, struct buf *out)
{
	unsigned counts[WORKER_STOPPED + 1] = {0}, total = 0;
	size_t i;
	int st, any = 0;

	for (i = 0; i < s->n_pools; i++)
		pool_count_states(s->pools[i], counts);
	for (i = 0; i < s->n_retired; i++)
		pool_count_states(s->retired[i], counts);
	for (st = 0; st <= WORKER_STOPPED; st++)
		total += counts[st];
	buf_printf(out, "%u worker%s", total, total == 1 ? "" : "s");
	for (st = 0; st <= WORKER_STOPPED; st++) {
		if (!counts[st])
			continue;
		buf_printf(out, "%s%u %s", any ? ", " : ": ", counts[st],
		           worker_state_name((enum worker_state)st));
		any = 1;
	}
	buf_printf(out, "; %zu connection%s", s->n_conns, s->n_conns == 1 ? "" : "s");
}
