/* server-listen.c - the daemon's listeners: activated and configured */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "access.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "hook.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "pathsafe.h"
#include "probe.h"
#include "server-private.h"

#define ACCEPT_ERROR_LOG_NS 10000000000ull /* one line per 10 s */

void
server_note_fd(struct server *s, int fd)
{
	struct rlimit rl;
	uint64_t now;

	if (!s->fd_limit)
		s->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		                      ? (unsigned long)rl.rlim_cur
		                      : (unsigned long)-1;
	/* Descriptors are handed out lowest first: a connection this high up
	 * means few are left. Past the last one libuv closes new clients
	 * unanswered without telling us, so this is the warning there is. */
	if (fd < 0 || (unsigned long)fd < s->fd_limit - s->fd_limit / 10 - 1)
		return;
	now = uv_hrtime();
	if (s->fd_warned_ns && now - s->fd_warned_ns < ACCEPT_ERROR_LOG_NS)
		return;
	s->fd_warned_ns = now;
	log_warn("running out of file descriptors: a connection got fd %d of a limit of %lu (%zu "
	         "connections open); once they are gone, new clients are closed unanswered. Raise "
	         "the limit (LimitNOFILE=, ulimit -n) or lower limits.max_connections",
	         fd, s->fd_limit, s->n_conns);
}

static void
on_connection(struct listener *l, int status, void *data)
{
	struct server *s = data;

	if (status < 0) {
		/* Out of file descriptors, most likely: libuv took the client
		 * and closed it to keep the listener from spinning. */
		uint64_t now = uv_hrtime();

		s->accept_errors++;
		if (!s->accept_error_ns || now - s->accept_error_ns >= ACCEPT_ERROR_LOG_NS) {
			log_warn("cannot accept a connection on %s: %s (%lu since the last line; "
			         "%zu connections open); the client was closed unanswered",
			         listener_name(l), uv_strerror(status), s->accept_errors,
			         s->n_conns);
			s->accept_errors = 0;
			s->accept_error_ns = now;
		}
		return;
	}
	conn_accept(s, l, s->cfg->max_payload, s->n_conns >= s->cfg->max_connections);
}

static void
add_listener(struct server *s, struct listener *l)
{
	s->listeners = xrealloc(s->listeners, (s->n_listeners + 1) * sizeof(*s->listeners));
	s->listeners[s->n_listeners++] = l;
	log_info("listening on %s", listener_name(l));
}

void
server_close_listeners(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n_listeners; i++)
		listener_close(s->listeners[i]);
	s->n_listeners = 0;
}

static void prewarm_hook(struct server *s, const struct hook *h);

/* The probes pre-warming waits for ended: try those hooks again. */
static void
on_prewarm_wake(void *data)
{
	struct server *s = data;
	char **names = s->prewarm_pending;
	size_t i, n = s->n_prewarm_pending;

	s->prewarm_wait = NULL;
	s->prewarm_pending = NULL;
	s->n_prewarm_pending = 0;
	for (i = 0; i < n; i++) {
		const struct hook *h = hookset_find(s->hooks, names[i]);

		if (h && h->min_workers && !s->shutting_down)
			prewarm_hook(s, h);
		free(names[i]);
	}
	free(names);
}

/* Start min_workers of h at its default version; when that version is
 * still being probed, once the probe has ended. */
static void
prewarm_hook(struct server *s, const struct hook *h)
{
	struct buf m = BUF_INIT;
	const char *type = NULL;
	struct pool *p;
	size_t i;
	int r = server_route(s, h->name, "", 1, &p, &type, &m);

	if (r == -EINPROGRESS) {
		for (i = 0; i < s->n_prewarm_pending; i++)
			if (!strcmp(s->prewarm_pending[i], h->name))
				break;
		if (i == s->n_prewarm_pending) {
			s->prewarm_pending =
			        xrealloc(s->prewarm_pending, (i + 1) * sizeof(*s->prewarm_pending));
			s->prewarm_pending[s->n_prewarm_pending++] = xstrdup(h->name);
		}
		if (!s->prewarm_wait)
			s->prewarm_wait = probes_wait(s->probes, on_prewarm_wake, s);
	} else if (r < 0)
		log_warn("%s: min_workers %u, but %s, ignoring", h->name, h->min_workers, m.data);
	else
		pool_prewarm(p);
	buf_free(&m);
}

/* Start min_workers of every hook that asks for them, at its default
 * version. A DCC that is not installed here is not an error. */
void
server_prewarm(struct server *s)
{
	size_t i;

	for (i = 0; i < hookset_count(s->hooks); i++) {
		const struct hook *h = hookset_at(s->hooks, i);

		if (h->min_workers)
			prewarm_hook(s, h);
	}
}

void
server_prewarm_forget(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n_prewarm_pending; i++)
		free(s->prewarm_pending[i]);
	free(s->prewarm_pending);
	s->prewarm_pending = NULL;
	s->n_prewarm_pending = 0;
	probes_cancel(s->probes, s->prewarm_wait);
	s->prewarm_wait = NULL;
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
		           (!*names[i] || !strcmp(names[i], "tcp")) && cfg->tcp_host) {
			*have_tcp = 1;
		} else {
			log_warn("socket '%s' from systemd matches nothing configured (is "
			         "listen.tcp \"\"?), closing it",
			         names[i][0] ? names[i] : listener_name(l));
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

/* The runtime directory (ours alone, made when missing) and the token in
 * it; the socket goes there too. */
static int
server_prepare_access(struct server *s)
{
	struct buf path = BUF_INIT;
	char *dir = config_runtime_dir(s->cfg);
	char err[1024];
	int r;

	r = pathsafe_make_runtime_dir(dir, geteuid(), err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		free(dir);
		return r;
	}
	s->access = access_new(s->cfg->token_required, s->cfg->refusals_per_second);
	buf_printf(&path, "%s/token", dir);
	r = access_load_token(s->access, path.data, err, sizeof(err));
	if (r < 0)
		log_err("%s", err);
	buf_free(&path);
	free(dir);
	return r;
}

int
server_start(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct listener *l;
	int have_unix = 0, have_tcp = 0, activated;
	char *have_compat = xcalloc(cfg->n_compat + 1, 1);
	size_t i;
	int r;

	r = server_prepare_access(s);
	if (r < 0) {
		free(have_compat);
		return r;
	}
	adopt_activated(s, &have_unix, &have_tcp, have_compat);
	/* Started by systemd with some sockets: one we open ourselves and
	 * cannot (another user's daemon has the TCP port on a shared machine)
	 * must not take down the ones we were given. */
	activated = s->n_listeners > 0;
	if (cfg->unix_path && !have_unix) {
		r = listener_open_unix(s->loop, cfg->unix_path, on_connection, s, &l);
		if (r < 0) {
			log_msg(activated ? LOG_LEVEL_WARNING : LOG_LEVEL_ERR,
			        "cannot listen on unix:%s: %s%s%s", cfg->unix_path, uv_strerror(r),
			        r == -EADDRINUSE ? " (another hotloadd is running there)" : "",
			        activated ? "; serving on the sockets from systemd" : "");
			if (!activated)
				goto fail;
		} else
			add_listener(s, l);
	}
	if (cfg->tcp_host && !have_tcp) {
		r = listener_open_tcp(s->loop, cfg->tcp_host, cfg->tcp_port, on_connection, s, &l);
		if (r < 0) {
			log_msg(activated ? LOG_LEVEL_WARNING : LOG_LEVEL_ERR,
			        "cannot listen on tcp:%s:%d: %s%s", cfg->tcp_host, cfg->tcp_port,
			        uv_strerror(r),
			        activated ? "; serving on the sockets from systemd" : "");
			if (!activated)
				goto fail;
		} else
			add_listener(s, l);
	}
	for (i = 0; i < cfg->n_compat; i++) {
		const struct compat_port *c = &cfg->compat[i];

		if (!have_compat[i]) {
			r = listener_open_tcp(s->loop, c->host, c->port, on_connection, s, &l);
			if (r < 0) {
				log_msg(activated ? LOG_LEVEL_WARNING : LOG_LEVEL_ERR,
				        "cannot listen on compat port %s:%d: %s", c->host, c->port,
				        uv_strerror(r));
				if (!activated)
					goto fail;
				continue;
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
	server_prewarm(s);
	return 0;
fail:
	free(have_compat);
	server_close_listeners(s);
	return r;
}
