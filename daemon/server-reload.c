/* server-reload.c - reading the configuration again (SIGHUP, control reload) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "buf.h"
#include "config.h"
#include "hook.h"
#include "log.h"
#include "notify.h"
#include "probe.h"
#include "request.h"
#include "server-private.h"

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
		       !strcmp(old->compat[i].target, cfg->compat[i].target) &&
		       old->compat[i].quiet == cfg->compat[i].quiet &&
		       old->compat[i].keep_on_shutdown_token ==
		               cfg->compat[i].keep_on_shutdown_token;
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
	live->max_buffered = cfg->max_buffered;
	live->refusals_per_second = cfg->refusals_per_second;
	live->token_required = cfg->token_required;
	live->supervision = cfg->supervision;
}

static void
retire(struct server *s, struct pool *p)
{
	s->retired = xrealloc(s->retired, (s->n_retired + 1) * sizeof(*s->retired));
	s->retired[s->n_retired++] = p;
	pool_retire(p);
}

static void reroute(struct server *s, struct request *r, const char *hook, const char *version);

/* The probes the parked requests wait for ended: route them again, each
 * taken off the list before it is (a client going meanwhile unparks its
 * own), those parked again going to its end. */
static void
on_parked_wake(void *data)
{
	struct server *s = data;
	size_t n = s->n_parked;
	struct parked first;

	s->parked_wait = NULL;
	while (n-- > 0 && s->n_parked > 0) {
		first = s->parked[0];
		memmove(&s->parked[0], &s->parked[1], --s->n_parked * sizeof(*s->parked));
		reroute(s, first.r, first.hook, first.version); /* may park it again */
		free(first.hook);
		free(first.version);
	}
}

/* Move r, taken from a pool of a changed hook, to the pool that now serves
 * the same hook and version; while that waits for a version probe, r waits
 * here (in order: those of one target all wait or none does). */
static void
reroute(struct server *s, struct request *r, const char *hook, const char *version)
{
	struct buf m = BUF_INIT;
	const char *type = NULL;
	struct pool *p = NULL;
	int rc = server_route(s, hook, version, 1, &p, &type, &m);

	if (rc == -EINPROGRESS) {
		s->parked = xrealloc(s->parked, (s->n_parked + 1) * sizeof(*s->parked));
		s->parked[s->n_parked].r = r;
		s->parked[s->n_parked].hook = xstrdup(hook);
		s->parked[s->n_parked].version = xstrdup(version);
		s->n_parked++;
		if (!s->parked_wait)
			s->parked_wait = probes_wait(s->probes, on_parked_wake, s);
	} else if (rc < 0)
		request_fail(r, type ? type : "UnknownTarget", m.data);
	else
		pool_submit(p, r);
	buf_free(&m);
}

void
server_unpark(struct server *s, struct request *r)
{
	size_t i;

	for (i = 0; i < s->n_parked; i++) {
		if (s->parked[i].r != r)
			continue;
		free(s->parked[i].hook);
		free(s->parked[i].version);
		memmove(&s->parked[i], &s->parked[i + 1],
		        (s->n_parked - i - 1) * sizeof(*s->parked));
		s->n_parked--;
		break;
	}
}

void
server_parked_free(struct server *s)
{
	size_t i;

	/* Their connections are gone (each unparks its own): only the
	 * bookkeeping is left. */
	for (i = 0; i < s->n_parked; i++) {
		free(s->parked[i].hook);
		free(s->parked[i].version);
	}
	free(s->parked);
	s->parked = NULL;
	s->n_parked = 0;
	probes_cancel(s->probes, s->parked_wait);
	s->parked_wait = NULL;
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
	access_set_policy(s->access, s->cfg->token_required, s->cfg->refusals_per_second);

	/* The old hooks stay alive while pools that point into them drain. */
	s->old_hooks = xrealloc(s->old_hooks, (s->n_old_hooks + 1) * sizeof(*s->old_hooks));
	s->old_hooks[s->n_old_hooks++] = s->hooks;
	s->hooks = hs;
	server_routes_clear(s);

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
	server_free_drained(s);
	server_prewarm(s);
	/* Whoever waits for a probe routes again against the new hooks. */
	probes_wake(s->probes);
	log_info("configuration reloaded: %zu hooks", hookset_count(s->hooks));
	return 0;
}
