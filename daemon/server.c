/* server.c - the daemon's state: configuration, hooks, listeners, pools */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "conn.h"
#include "hook.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "paths.h"
#include "pool.h"
#include "reaper.h"
#include "request.h"
#include "server.h"
#include "worker.h"

static void on_pool_empty(struct pool *p, void *data);
static void prewarm(struct server *s);

struct server {
	uv_loop_t *loop;
	struct config *cfg;
	struct hookset *hooks;
	char *agent;
	char *launcher;
	struct reaper *reaper;
	struct pool_context pool_ctx;
	uint64_t started_ns;

	struct listener **listeners;
	size_t n_listeners;
	struct pool **pools;
	size_t n_pools;
	struct conn **conns;
	size_t n_conns;

	/* pools of hooks a reload changed or removed, draining */
	struct pool **retired;
	size_t n_retired;
	struct hookset **old_hooks; /* what the retired pools still point into */
	size_t n_old_hooks;

	/* hint resolutions of recent requests: a PATH search per connection
	 * costs more than running a no-op */
	struct route {
		const struct hook *hook;
		char *want;
		char *path;
		char *version;
		uint64_t at_ns;
	} *routes;
	size_t n_routes;

	server_load_fn load;
	void *load_data;
	void (*exit_fn)(void *data);
	void *exit_data;

	int shutting_down;
	void (*shutdown_done)(void *data);
	void *shutdown_data;
};

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
	s->started_ns = uv_hrtime();
	s->pool_ctx.loop = loop;
	s->pool_ctx.agent = s->agent;
	s->pool_ctx.launcher = s->launcher;
	s->pool_ctx.reaper = s->reaper;
	s->pool_ctx.sup = &cfg->supervision;
	s->pool_ctx.on_empty = on_pool_empty;
	s->pool_ctx.data = s;
	return s;
}

#define ROUTE_TTL_NS (5ull * 1000000000ull) /* a newly installed version shows within 5 s */

static void
routes_clear(struct server *s)
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

/* hook_resolve, remembered for a few seconds while the file is there. */
static int
resolve_cached(struct server *s, const struct hook *h, const char *want, char **ret_path,
               char **ret_version, struct buf *searched)
{
	uint64_t now = uv_hrtime();
	struct route *rt;
	size_t i;
	int r;

	for (i = 0; i < s->n_routes; i++) {
		rt = &s->routes[i];
		if (rt->hook != h || strcmp(rt->want, want))
			continue;
		if (now - rt->at_ns < ROUTE_TTL_NS && access(rt->path, X_OK) == 0) {
			*ret_path = xstrdup(rt->path);
			*ret_version = xstrdup(rt->version);
			return 0;
		}
		free(rt->want);
		free(rt->path);
		free(rt->version);
		*rt = s->routes[--s->n_routes];
		break;
	}
	r = hook_resolve(h, want, ret_path, ret_version, searched);
	if (r < 0)
		return r;
	s->routes = xrealloc(s->routes, (s->n_routes + 1) * sizeof(*s->routes));
	rt = &s->routes[s->n_routes++];
	rt->hook = h;
	rt->want = xstrdup(want);
	rt->path = xstrdup(*ret_path);
	rt->version = xstrdup(*ret_version);
	rt->at_ns = now;
	return 0;
}

void
server_free(struct server *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n_pools; i++)
		pool_free(s->pools[i]);
	for (i = 0; i < s->n_retired; i++)
		pool_free(s->retired[i]);
	for (i = 0; i < s->n_old_hooks; i++)
		hookset_free(s->old_hooks[i]);
	routes_clear(s);
	free(s->pools);
	free(s->retired);
	free(s->old_hooks);
	free(s->listeners);
	free(s->conns);
	reaper_free(s->reaper);
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

const struct config *
server_config(const struct server *s)
{
	return s->cfg;
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

static void
on_connection(struct listener *l, void *data)
{
	struct server *s = data;

	conn_accept(s, l, s->cfg->max_payload, s->n_conns >= s->cfg->max_connections);
}

static void
add_listener(struct server *s, struct listener *l)
{
	s->listeners = xrealloc(s->listeners, (s->n_listeners + 1) * sizeof(*s->listeners));
	s->listeners[s->n_listeners++] = l;
	log_info("listening on %s", listener_name(l));
}

static void
close_listeners(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n_listeners; i++)
		listener_close(s->listeners[i]);
	s->n_listeners = 0;
}

/* Start min_workers of every hook that asks for them, at its default
 * version. A DCC that is not installed here is not an error. */
static void
prewarm(struct server *s)
{
	size_t i;

	for (i = 0; i < hookset_count(s->hooks); i++) {
		const struct hook *h = hookset_at(s->hooks, i);
		struct buf m = BUF_INIT;
		const char *type = NULL;
		struct pool *p;

		if (!h->min_workers)
			continue;
		if (server_route(s, h->name, "", 1, &p, &type, &m) < 0)
			log_warn("%s: min_workers %u, but %s, ignoring", h->name, h->min_workers,
			         m.data);
		else
			pool_prewarm(p);
		buf_free(&m);
	}
}

/* Which configured compat port an activated socket stands for: by its
 * name "compat-PORT", else by its port; -1 for none. */
static int
compat_index(const struct config *cfg, const char *name, int port)
{
	size_t i;

	if (!strncmp(name, "compat-", 7))
		port = atoi(name + 7);
	else if (*name)
		return -1;
	for (i = 0; i < cfg->n_compat; i++)
		if (cfg->compat[i].port == port)
			return (int)i;
	return -1;
}

/* Sockets from socket activation: "unix" (or any Unix socket) stands for
 * listen.unix, "tcp" (or an unnamed TCP socket that is no compat port) for
 * listen.tcp, "compat-PORT" for that compat port. What they cover is not
 * opened again; a socket that stands for nothing configured is closed. */
static void
adopt_activated(struct server *s, int *have_unix, int *have_tcp, char *have_compat)
{
	const struct config *cfg = s->cfg;
	char **names = NULL;
	int *fds = NULL, n = notify_listen_fds(&fds, &names), i;

	for (i = 0; i < n; i++) {
		struct listener *l;
		int r = listener_adopt(s->loop, fds[i], on_connection, s, &l), c;

		if (r < 0) {
			log_warn_errno(r, "cannot use socket '%s' (fd %d) from systemd, ignoring",
			               names[i], fds[i]);
			close(fds[i]);
			goto next;
		}
		c = listener_kind(l) == LISTENER_TCP ? compat_index(cfg, names[i], listener_port(l))
		                                     : -1;
		if (listener_kind(l) == LISTENER_UNIX &&
		    (!*names[i] || !strcmp(names[i], "unix"))) {
			*have_unix = 1;
		} else if (c >= 0) {
			listener_set_compat(l, &cfg->compat[c]);
			have_compat[c] = 1;
		} else if (listener_kind(l) == LISTENER_TCP &&
		           (!*names[i] || !strcmp(names[i], "tcp"))) {
			*have_tcp = 1;
		} else {
			log_warn("socket '%s' from systemd matches nothing configured, ignoring",
			         names[i]);
			listener_close(l);
			goto next;
		}
		add_listener(s, l);
	next:
		free(names[i]);
	}
	free(names);
	free(fds);
}

int
server_start(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct listener *l;
	int have_unix = 0, have_tcp = 0;
	char *have_compat = xcalloc(cfg->n_compat + 1, 1);
	size_t i;
	int r;

	adopt_activated(s, &have_unix, &have_tcp, have_compat);
	if (cfg->unix_path && !have_unix) {
		r = listener_open_unix(s->loop, cfg->unix_path, on_connection, s, &l);
		if (r < 0) {
			log_err("cannot listen on unix:%s: %s%s", cfg->unix_path, uv_strerror(r),
			        r == -EADDRINUSE ? " (another hotloadd is running there)" : "");
			goto fail;
		}
		add_listener(s, l);
	}
	if (cfg->tcp_host && !have_tcp) {
		r = listener_open_tcp(s->loop, cfg->tcp_host, cfg->tcp_port, on_connection, s, &l);
		if (r < 0) {
			log_err("cannot listen on tcp:%s:%d: %s", cfg->tcp_host, cfg->tcp_port,
			        uv_strerror(r));
			goto fail;
		}
		add_listener(s, l);
	}
	for (i = 0; i < cfg->n_compat; i++) {
		const struct compat_port *c = &cfg->compat[i];

		if (!have_compat[i]) {
			r = listener_open_tcp(s->loop, c->host, c->port, on_connection, s, &l);
			if (r < 0) {
				log_err("cannot listen on compat port %s:%d: %s", c->host, c->port,
				        uv_strerror(r));
				goto fail;
			}
			listener_set_compat(l, c);
			add_listener(s, l);
		}
		log_info("compat port %d serves %s", c->port, c->target);
	}
	free(have_compat);
	if (!s->n_listeners) {
		log_err("nothing to listen on: listen.unix, listen.tcp and compat are all empty");
		return -EINVAL;
	}
	prewarm(s);
	return 0;
fail:
	free(have_compat);
	close_listeners(s);
	return r;
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
             const char **ret_type, struct buf *message)
{
	const struct hook *h = hookset_find(s->hooks, dcc);
	struct buf searched = BUF_INIT;
	char *path = NULL, *ver = NULL;
	struct pool *p = NULL;
	size_t i;
	int r;

	if (!h) {
		buf_printf(message, "unknown DCC '%s'; known: ", dcc);
		known_hooks(s, message);
		*ret_type = "UnknownTarget";
		return -ENOENT;
	}
	r = resolve_cached(s, h, version, &path, &ver, &searched);
	if (r < 0) {
		struct hook_install *found = NULL;
		size_t n = 0, k;

		buf_printf(message, "%s%s%s is not installed", dcc, *version ? ":" : "", version);
		if (hook_find_installs(h, &found, &n) > 0) {
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
		*ret_type = "NotInstalled";
		buf_free(&searched);
		return r;
	}
	buf_free(&searched);
	for (i = 0; i < s->n_pools && !p; i++)
		if (pool_matches(s->pools[i], h, path))
			p = s->pools[i];
	if (!p && !create) {
		free(path);
		free(ver);
		return -ESRCH;
	}
	if (!p) {
		if (s->shutting_down) {
			buf_puts(message, "the daemon is shutting down");
			*ret_type = "ShuttingDown";
			free(path);
			free(ver);
			return -ESHUTDOWN;
		}
		p = pool_new(&s->pool_ctx, h, path, ver);
		s->pools = xrealloc(s->pools, (s->n_pools + 1) * sizeof(*s->pools));
		s->pools[s->n_pools++] = p;
		log_debug("new target %s: %s", pool_name(p), path);
	}
	free(path);
	free(ver);
	*ret = p;
	return 0;
}

json_t *
server_status(const struct server *s, const char *target)
{
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
	return json_pack("{s:{s:i, s:s, s:f, s:I}, s:o}", "daemon", "pid", (int)getpid(), "version",
	                 HOTLOAD_VERSION, "uptime_s", (double)(uv_hrtime() - s->started_ns) / 1e9,
	                 "connections", (json_int_t)s->n_conns, "targets", targets);
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
	while (s->n_conns)
		conn_close(s->conns[s->n_conns - 1]);
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
static void
free_drained(struct server *s)
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

static void
on_pool_empty(struct pool *p, void *data)
{
	struct server *s = data;

	if (s->shutting_down)
		shutdown_check(s);
	else
		free_drained(s);
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
	close_listeners(s);
	for (i = 0; i < s->n_pools; i++)
		pool_stop(s->pools[i]);
	for (i = 0; i < s->n_retired; i++)
		pool_stop(s->retired[i]);
	shutdown_check(s);
}

void
server_set_loader(struct server *s, server_load_fn fn, void *data)
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

/* Listeners keep the configuration they were opened with: say so when the
 * new file wants others. */
static void
warn_listener_changes(const struct config *old, const struct config *cfg)
{
	int same = (!old->unix_path == !cfg->unix_path) &&
	           (!old->unix_path || !strcmp(old->unix_path, cfg->unix_path)) &&
	           (!old->tcp_host == !cfg->tcp_host) &&
	           (!old->tcp_host ||
	            (!strcmp(old->tcp_host, cfg->tcp_host) && old->tcp_port == cfg->tcp_port)) &&
	           old->n_compat == cfg->n_compat;
	size_t i;

	for (i = 0; same && i < cfg->n_compat; i++)
		same = old->compat[i].port == cfg->compat[i].port &&
		       !strcmp(old->compat[i].host, cfg->compat[i].host) &&
		       !strcmp(old->compat[i].target, cfg->compat[i].target);
	if (!same)
		log_warn("reload: listen and compat changes take effect when hotloadd restarts, "
		         "ignoring them now");
}

/* Take the settings a reload may change from cfg into the live config;
 * the listeners' settings stay (they point into it). */
static void
adopt_config(struct config *live, struct config *cfg)
{
	char **dirs = live->hooks_dirs;
	size_t n = live->n_hooks_dirs;
	char *level = live->log_level;

	live->hooks_dirs = cfg->hooks_dirs;
	live->n_hooks_dirs = cfg->n_hooks_dirs;
	cfg->hooks_dirs = dirs;
	cfg->n_hooks_dirs = n;
	live->log_level = cfg->log_level;
	cfg->log_level = level;
	live->max_payload = cfg->max_payload;
	live->max_connections = cfg->max_connections;
	live->supervision = cfg->supervision;
}

static void
retire(struct server *s, struct pool *p)
{
	s->retired = xrealloc(s->retired, (s->n_retired + 1) * sizeof(*s->retired));
	s->retired[s->n_retired++] = p;
	pool_stop_workers(p);
}

/* Move r, taken from a pool of a changed hook, to the pool that now serves
 * the same hook and version. */
static void
reroute(struct server *s, struct request *r, const char *hook, const char *version)
{
	struct buf m = BUF_INIT;
	const char *type = NULL;
	struct pool *p = NULL;

	if (server_route(s, hook, version, 1, &p, &type, &m) < 0)
		request_fail(r, type ? type : "UnknownTarget", m.data);
	else
		pool_submit(p, r);
	buf_free(&m);
}

int
server_reload(struct server *s, struct buf *err)
{
	struct config *cfg = NULL;
	struct hookset *hs = NULL;
	struct pool **old;
	size_t n_old, i, j, n;
	int r;

	if (!s->load) {
		buf_puts(err, "reload is not available");
		return -ENOTSUP;
	}
	notify_reloading();
	r = s->load(&cfg, &hs, err, s->load_data);
	notify_ready(); /* a failed reload leaves the old configuration running */
	if (r < 0)
		return r;
	warn_listener_changes(s->cfg, cfg);
	adopt_config(s->cfg, cfg);
	config_free(cfg);
	log_setup(log_level_from_string(s->cfg->log_level));

	/* The old hooks stay alive while pools that point into them drain. */
	s->old_hooks = xrealloc(s->old_hooks, (s->n_old_hooks + 1) * sizeof(*s->old_hooks));
	s->old_hooks[s->n_old_hooks++] = s->hooks;
	s->hooks = hs;
	routes_clear(s);

	/* Unchanged hooks keep their pools and warm workers; the others
	 * drain, and what waited in them moves to the new pools. */
	old = s->pools;
	n_old = s->n_pools;
	s->pools = NULL;
	s->n_pools = 0;
	for (i = 0; i < n_old; i++) {
		struct pool *p = old[i];
		const struct hook *h = hookset_find(hs, pool_hook(p)->name);
		struct request **q;

		if (h && hook_equal(h, pool_hook(p))) {
			pool_rebind(p, h, &s->cfg->supervision);
			s->pools = xrealloc(s->pools, (s->n_pools + 1) * sizeof(*s->pools));
			s->pools[s->n_pools++] = p;
			continue;
		}
		log_info("reload: %s changed, its workers drain and are replaced", pool_name(p));
		retire(s, p);
		n = pool_take_queue(p, &q);
		for (j = 0; j < n; j++)
			reroute(s, q[j], pool_hook(p)->name, pool_version(p));
		free(q);
	}
	free(old);
	for (i = 0; i < s->n_retired; i++)
		pool_rebind(s->retired[i], pool_hook(s->retired[i]), &s->cfg->supervision);
	free_drained(s);
	prewarm(s);
	log_info("configuration reloaded: %zu hooks", hookset_count(s->hooks));
	return 0;
}

json_t *
server_list(const struct server *s)
{
	json_t *list = json_array();
	size_t i, j;

	for (i = 0; i < hookset_count(s->hooks); i++) {
		const struct hook *h = hookset_at(s->hooks, i);
		json_t *aliases = json_array(), *installs = json_array();
		struct hook_install *v = NULL;
		size_t n = 0;

		for (j = 0; j < h->n_aliases; j++)
			json_array_append_new(aliases, json_string(h->aliases[j]));
		if (hook_find_installs(h, &v, &n) > 0)
			for (j = 0; j < n; j++)
				json_array_append_new(installs,
				                      json_pack("{s:s, s:s}", "version",
				                                v[j].version, "path", v[j].path));
		hook_installs_free(v, n);
		json_array_append_new(list, json_pack("{s:s, s:o, s:s?, s:s?, s:s?, s:o}", "name",
		                                      h->name, "aliases", aliases, "description",
		                                      h->description, "source", h->source,
		                                      "default_version", h->default_version,
		                                      "installs", installs));
	}
	return list;
}

void
server_summary(const struct server *s, struct buf *out)
{
	unsigned counts[WORKER_DEAD + 1] = {0}, total = 0;
	size_t i;
	int st, any = 0;

	for (i = 0; i < s->n_pools; i++)
		pool_count_states(s->pools[i], counts);
	for (i = 0; i < s->n_retired; i++)
		pool_count_states(s->retired[i], counts);
	for (st = 0; st <= WORKER_DEAD; st++)
		total += counts[st];
	buf_printf(out, "%u worker%s", total, total == 1 ? "" : "s");
	for (st = 0; st <= WORKER_DEAD; st++) {
		if (!counts[st])
			continue;
		buf_printf(out, "%s%u %s", any ? ", " : ": ", counts[st],
		           worker_state_name((enum worker_state)st));
		any = 1;
	}
	buf_printf(out, "; %zu connection%s", s->n_conns, s->n_conns == 1 ? "" : "s");
}
