/* config.c - hotloadd.yaml: listeners, hook directories, compat ports, limits, supervision */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "pathsafe.h"

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "header.h"
#include "paths.h"
#include "proto.h"
#include "yamlutil.h"

#define CONFIG_DEFAULT_QUIET 0.25
#define CONFIG_SECONDS_MAX 86400 /* the longest grace, backoff or crash window */

static const char *const top_keys[] = {"listen", "hooks_dirs", "compat",      "limits",
                                       "agent",  "log_level",  "supervision", NULL};
static const char *const listen_keys[] = {"unix", "tcp", "token", NULL};
static const char *const compat_keys[] = {"port", "target", "host", "quiet", "shutdown", NULL};
static const char *const limits_keys[] = {"max_payload", "max_connections", "max_buffered",
                                          "refusals_per_second", NULL};
static const char *const supervision_keys[] = {
        "stop_grace",  "interrupt_grace", "kill_grace",   "backoff_initial",
        "backoff_max", "crash_budget",    "crash_window", NULL};
static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};

/* The user's home: $HOME, else the password database; NULL if neither. */
static const char *
home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

char *
config_expand_home(const char *path)
{
	const char *home;
	struct buf b = BUF_INIT;

	if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
		return xstrdup(path);
	home = home_dir();
	if (!home)
		return xstrdup(path);
	buf_puts(&b, home);
	buf_puts(&b, path + 1);
	return buf_steal(&b);
}

char *
config_runtime_dir(const struct config *c)
{
	char *path = c->unix_path ? xstrdup(c->unix_path) : proto_default_socket();
	char *slash = strrchr(path, '/');

	if (!slash) {
		free(path);
		return xstrdup(".");
	}
	if (slash == path)
		slash[1] = '\0';
	else
		*slash = '\0';
	return path;
}

/* s for a shell: as it is when it is made of safe characters only, else in
 * single quotes. */
static void
shell_word(struct buf *b, const char *s)
{
	const char *p;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                    "/._-+:@%=,[]") == strlen(s)) {
		buf_puts(b, s);
		return;
	}
	buf_puts(b, "'");
	for (p = s; *p; p++)
		if (*p == '\'')
			buf_puts(b, "'\\''");
		else
			buf_append(b, p, 1);
	buf_puts(b, "'");
}

void
config_client_hint(const struct config *c, struct buf *out)
{
	char *def = proto_default_socket();

	buf_puts(out, "hotloadctl ");
	if (c->unix_path && strcmp(c->unix_path, def)) {
		buf_puts(out, "--socket ");
		shell_word(out, c->unix_path);
		buf_puts(out, " ");
	} else if (!c->unix_path && c->tcp_host) {
		char *runtime = config_runtime_dir(c);

		buf_puts(out, "--tcp ");
		addr_format_hostport(out, c->tcp_host, c->tcp_port);
		buf_puts(out, " ");
		if (c->token_required) {
			struct buf tok = BUF_INIT;

			buf_printf(&tok, "%s/token", runtime);
			buf_puts(out, "--token-file ");
			shell_word(out, tok.data);
			buf_puts(out, " ");
			buf_free(&tok);
		}
		free(runtime);
	}
	buf_puts(out, "exec python:3 -c 'print(1)'");
	free(def);
}

char *
config_user_file(const char *name)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	struct buf b = BUF_INIT;

	if (xdg && *xdg == '/')
		buf_printf(&b, "%s/hotload/%s", xdg, name);
	else {
		char *home = config_expand_home("~/.config/hotload");

		buf_printf(&b, "%s/%s", home, name);
		free(home);
	}
	return buf_steal(&b);
}

/* ~/.config/hotload/hooks.d, honouring $XDG_CONFIG_HOME. */
static char *
default_user_hooks_dir(void)
{
	return config_user_file("hooks.d");
}

struct config *
config_new_default(const char *shipped_hooks_dir)
{
	struct config *c = xcalloc(1, sizeof(*c));
	size_t n = 0;

	c->unix_path = proto_default_socket();
	c->tcp_host = xstrdup(HOTLOAD_DEFAULT_HOST);
	c->tcp_port = HOTLOAD_DEFAULT_PORT;
	c->hooks_dirs = xcalloc(4, sizeof(char *));
	if (shipped_hooks_dir)
		c->hooks_dirs[n++] = xstrdup(shipped_hooks_dir);
	c->hooks_dirs[n++] = xstrdup(HOTLOAD_SYSCONFDIR "/hooks.d");
	c->hooks_dirs[n++] = default_user_hooks_dir();
	c->n_hooks_dirs = n;
	c->max_payload = (size_t)64 << 20;
	c->max_connections = 256;
	c->max_buffered = (size_t)256 << 20;
	c->refusals_per_second = 20;
	c->log_level = xstrdup("info");
	c->supervision.stop_grace = 10;
	c->supervision.interrupt_grace = 3;
	c->supervision.kill_grace = 5;
	c->supervision.backoff_initial = 1;
	c->supervision.backoff_max = 60;
	c->supervision.crash_budget = 5;
	c->supervision.crash_window = 600;
	return c;
}

/* Free the members of c, not c itself. */
static void
config_clear(struct config *c)
{
	size_t i;

	free(c->unix_path);
	free(c->tcp_host);
	for (i = 0; i < c->n_hooks_dirs; i++)
		free(c->hooks_dirs[i]);
	free(c->hooks_dirs);
	for (i = 0; i < c->n_compat; i++) {
		free(c->compat[i].host);
		free(c->compat[i].target);
	}
	free(c->compat);
	free(c->agent);
	free(c->log_level);
	memset(c, 0, sizeof(*c));
}

void
config_free(struct config *c)
{
	if (!c)
		return;
	config_clear(c);
	free(c);
}

/* strdup that passes NULL through. */
static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Deep copy of c's members into out. */
static void
config_copy(struct config *out, const struct config *c)
{
	size_t i;

	*out = *c;
	out->unix_path = dup_or_null(c->unix_path);
	out->tcp_host = dup_or_null(c->tcp_host);
	out->hooks_dirs = xcalloc(c->n_hooks_dirs + 1, sizeof(char *));
	for (i = 0; i < c->n_hooks_dirs; i++)
		out->hooks_dirs[i] = xstrdup(c->hooks_dirs[i]);
	out->compat = xcalloc(c->n_compat + 1, sizeof(struct compat_port));
	for (i = 0; i < c->n_compat; i++) {
		out->compat[i] = c->compat[i];
		out->compat[i].host = xstrdup(c->compat[i].host);
		out->compat[i].target = xstrdup(c->compat[i].target);
	}
	out->agent = dup_or_null(c->agent);
	out->log_level = dup_or_null(c->log_level);
}

/* listen: {unix, tcp}; remembers the tcp node for later checks. */
static int
parse_listen(struct yamlutil_doc *d, const yaml_node_t *n, struct config *c,
             const yaml_node_t **ret_tcp, const yaml_node_t **ret_token)
{
	const yaml_node_t *v;
	const char *why;
	char *s = NULL;
	int r;

	r = yamlutil_check_map(d, n, "listen", listen_keys);
	if (r < 0)
		return r;
	v = yamlutil_get(d, n, "unix");
	if (v) {
		r = yamlutil_string(d, v, "listen.unix", 1, &s);
		if (r < 0)
			return r;
		free(c->unix_path);
		c->unix_path = s && *s ? config_expand_home(s) : NULL;
		free(s);
		if (c->unix_path &&
		    strlen(c->unix_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return yamlutil_fail(d, v,
			                     "listen.unix: path is %zu bytes, a Unix socket path "
			                     "must be shorter than %zu",
			                     strlen(c->unix_path),
			                     sizeof(((struct sockaddr_un *)0)->sun_path));
	}
	v = yamlutil_get(d, n, "tcp");
	if (v) {
		char tmp[64];

		if (v->type != YAML_SCALAR_NODE)
			return yamlutil_fail(d, v, "listen.tcp: expected \"host:port\", got %s",
			                     yamlutil_describe(v, tmp, sizeof(tmp)));
		r = yamlutil_string(d, v, "listen.tcp", 1, &s);
		if (r < 0)
			return r;
		free(c->tcp_host);
		c->tcp_host = NULL;
		c->tcp_port = 0;
		if (s && *s) {
			struct addr_hostport hp;

			r = addr_parse_hostport(s, ADDR_NUMERIC, &hp, &why);
			free(s);
			if (r < 0)
				return yamlutil_fail(d, v, "listen.tcp: expected %s, got %s", why,
				                     yamlutil_describe(v, tmp, sizeof(tmp)));
			c->tcp_host = xstrdup(hp.host);
			c->tcp_port = hp.port;
		} else {
			free(s);
		}
		*ret_tcp = v;
	}
	v = yamlutil_get(d, n, "token");
	if (v) {
		char tmp[64];

		r = yamlutil_string(d, v, "listen.token", 0, &s);
		if (r < 0)
			return r;
		if (strcmp(s, "required") && strcmp(s, "optional")) {
			free(s);
			return yamlutil_fail(d, v,
			                     "listen.token: expected required or optional, got %s",
			                     yamlutil_describe(v, tmp, sizeof(tmp)));
		}
		c->token_required = !strcmp(s, "required");
		free(s);
		*ret_token = v;
	}
	return 0;
}

/* hooks_dirs: [..], ~ expanded. */
static int
parse_hooks_dirs(struct yamlutil_doc *d, const yaml_node_t *n, struct config *c)
{
	char **v;
	size_t i, count;
	int r;

	r = yamlutil_strv(d, n, "hooks_dirs", &v, &count);
	if (r < 0)
		return r;
	for (i = 0; i < c->n_hooks_dirs; i++)
		free(c->hooks_dirs[i]);
	free(c->hooks_dirs);
	for (i = 0; i < count; i++) {
		char *e = config_expand_home(v[i]);

		free(v[i]);
		v[i] = e;
	}
	c->hooks_dirs = v;
	c->n_hooks_dirs = count;
	return 0;
}

/* One compat entry at index i. */
static int
parse_compat_entry(struct yamlutil_doc *d, const yaml_node_t *n, size_t i, struct compat_port *cp)
{
	struct header h;
	const yaml_node_t *v;
	char what[64], msg[160], tmp[64];
	long port;
	int r;

	snprintf(what, sizeof(what), "compat[%zu]", i);
	r = yamlutil_check_map(d, n, what, compat_keys);
	if (r < 0)
		return r;
	cp->quiet = CONFIG_DEFAULT_QUIET;
	v = yamlutil_get(d, n, "port");
	if (!v)
		return yamlutil_fail(d, n, "%s: missing key 'port'", what);
	snprintf(what, sizeof(what), "compat[%zu].port", i);
	r = yamlutil_int(d, v, what, 1, 65535, &port);
	if (r < 0)
		return r;
	cp->port = (int)port;

	v = yamlutil_get(d, n, "target");
	if (!v)
		return yamlutil_fail(d, n, "compat[%zu]: missing key 'target'", i);
	snprintf(what, sizeof(what), "compat[%zu].target", i);
	r = yamlutil_string(d, v, what, 0, &cp->target);
	if (r < 0)
		return r;
	if (strchr(cp->target, ' ') ||
	    header_parse(cp->target, strlen(cp->target), &h, msg, sizeof(msg)) < 0)
		return yamlutil_fail(d, v, "%s: expected \"dcc[:version]\", got %s", what,
		                     yamlutil_describe(v, tmp, sizeof(tmp)));

	v = yamlutil_get(d, n, "host");
	snprintf(what, sizeof(what), "compat[%zu].host", i);
	if (v) {
		r = yamlutil_string(d, v, what, 0, &cp->host);
		if (r < 0)
			return r;
		if (!addr_is_numeric(cp->host))
			return yamlutil_fail(d, v,
			                     "%s: expected a numeric IPv4 or IPv6 address, "
			                     "got %s",
			                     what, yamlutil_describe(v, tmp, sizeof(tmp)));
		/* The original clients send no header, so no token: only a peer
		 * on this machine can be checked. */
		if (!addr_is_loopback(cp->host))
			return yamlutil_fail(d, v,
			                     "%s: %s is not a loopback address; a compat port "
			                     "cannot check who connects from elsewhere, so it "
			                     "only listens on loopback (127.0.0.1 or ::1)",
			                     what, cp->host);
	} else {
		cp->host = xstrdup(HOTLOAD_DEFAULT_HOST);
	}

	v = yamlutil_get(d, n, "quiet");
	snprintf(what, sizeof(what), "compat[%zu].quiet", i);
	if (v) {
		r = yamlutil_double(d, v, what, 0.001, 3600, &cp->quiet);
		if (r < 0)
			return r;
	}

	/* What __SHUTDOWN__ in a script means: the original stopped its
	 * server; "stop" stops this port's worker (teardown runs, the next
	 * request starts the DCC again), "ignore" keeps it warm. */
	v = yamlutil_get(d, n, "shutdown");
	snprintf(what, sizeof(what), "compat[%zu].shutdown", i);
	if (v) {
		char *s = NULL;

		r = yamlutil_string(d, v, what, 0, &s);
		if (r < 0)
			return r;
		if (strcmp(s, "stop") && strcmp(s, "ignore")) {
			free(s);
			return yamlutil_fail(d, v, "%s: expected stop or ignore, got %s", what,
			                     yamlutil_describe(v, tmp, sizeof(tmp)));
		}
		cp->keep_on_shutdown_token = !strcmp(s, "ignore");
		free(s);
	}
	return 0;
}

/* compat: [{port, target, host, quiet}, …]; ports must be distinct. */
static int
parse_compat(struct yamlutil_doc *d, const yaml_node_t *n, struct config *c,
             const yaml_node_t ***ret_ports)
{
	const yaml_node_t **ports;
	struct compat_port *v;
	yaml_node_item_t *it;
	size_t i = 0, j, count;
	int r;

	if (n->type != YAML_SEQUENCE_NODE) {
		char tmp[64];

		return yamlutil_fail(d, n, "compat: expected a list of {port, target}, got %s",
		                     yamlutil_describe(n, tmp, sizeof(tmp)));
	}
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	v = xcalloc(count + 1, sizeof(*v));
	ports = xcalloc(count + 1, sizeof(*ports));
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
		const yaml_node_t *e = yamlutil_node(d, *it);

		r = parse_compat_entry(d, e, i, &v[i]);
		if (r < 0)
			goto fail;
		ports[i] = yamlutil_get(d, e, "port");
		for (j = 0; j < i; j++) {
			if (v[j].port != v[i].port)
				continue;
			r = yamlutil_fail(d, ports[i],
			                  "compat[%zu].port: port %d is already used "
			                  "by compat[%zu]",
			                  i, v[i].port, j);
			goto fail;
		}
	}
	for (j = 0; j < c->n_compat; j++) {
		free(c->compat[j].host);
		free(c->compat[j].target);
	}
	free(c->compat);
	c->compat = v;
	c->n_compat = count;
	*ret_ports = ports;
	return 0;
fail:
	for (j = 0; j < count; j++) {
		free(v[j].host);
		free(v[j].target);
	}
	free(v);
	free(ports);
	return r;
}

/* limits: {max_payload, max_connections}. */
static int
parse_limits(struct yamlutil_doc *d, const yaml_node_t *n, struct config *c)
{
	const yaml_node_t *v;
	long l;
	int r;

	r = yamlutil_check_map(d, n, "limits", limits_keys);
	if (r < 0)
		return r;
	v = yamlutil_get(d, n, "max_payload");
	if (v) {
		r = yamlutil_size(d, v, "limits.max_payload", 1024, &c->max_payload);
		if (r < 0)
			return r;
	}
	v = yamlutil_get(d, n, "max_connections");
	if (v) {
		r = yamlutil_int(d, v, "limits.max_connections", 1, 1000000, &l);
		if (r < 0)
			return r;
		c->max_connections = (size_t)l;
	}
	v = yamlutil_get(d, n, "max_buffered");
	if (v) {
		r = yamlutil_size(d, v, "limits.max_buffered", 65536, &c->max_buffered);
		if (r < 0)
			return r;
	}
	v = yamlutil_get(d, n, "refusals_per_second");
	if (v) {
		r = yamlutil_int(d, v, "limits.refusals_per_second", 1, 1000000, &l);
		if (r < 0)
			return r;
		c->refusals_per_second = (double)l;
	}
	return 0;
}

/* Optional "supervision.KEY" seconds, above zero, into *ret. */
static int
opt_grace(struct yamlutil_doc *d, const yaml_node_t *n, const char *key, double *ret)
{
	const yaml_node_t *v = yamlutil_get(d, n, key);
	char what[64];

	snprintf(what, sizeof(what), "supervision.%s", key);
	return v ? yamlutil_double(d, v, what, 0.001, CONFIG_SECONDS_MAX, ret) : 0;
}

/* supervision: grace periods, restart backoff and the crash budget. */
static int
parse_supervision(struct yamlutil_doc *d, const yaml_node_t *n, struct config *c)
{
	struct supervision *s = &c->supervision;
	const yaml_node_t *v, *init, *max;
	char tmp[64];
	long l;
	int r;

	r = yamlutil_check_map(d, n, "supervision", supervision_keys);
	if (r < 0)
		return r;
	if ((r = opt_grace(d, n, "stop_grace", &s->stop_grace)) < 0 ||
	    (r = opt_grace(d, n, "interrupt_grace", &s->interrupt_grace)) < 0 ||
	    (r = opt_grace(d, n, "kill_grace", &s->kill_grace)) < 0 ||
	    (r = opt_grace(d, n, "backoff_initial", &s->backoff_initial)) < 0 ||
	    (r = opt_grace(d, n, "backoff_max", &s->backoff_max)) < 0 ||
	    (r = opt_grace(d, n, "crash_window", &s->crash_window)) < 0)
		return r;
	v = yamlutil_get(d, n, "crash_budget");
	if (v) {
		r = yamlutil_int(d, v, "supervision.crash_budget", 1, 10000, &l);
		if (r < 0)
			return r;
		s->crash_budget = (unsigned)l;
	}
	/* Blame the setting this file made; the other may be older. */
	init = yamlutil_get(d, n, "backoff_initial");
	max = yamlutil_get(d, n, "backoff_max");
	if (s->backoff_max >= s->backoff_initial)
		return 0;
	if (max)
		return yamlutil_fail(d, max,
		                     "supervision.backoff_max: expected at least backoff_initial "
		                     "(%g), got %s",
		                     s->backoff_initial, yamlutil_describe(max, tmp, sizeof(tmp)));
	return yamlutil_fail(d, init,
	                     "supervision.backoff_initial: expected at most backoff_max (%g), "
	                     "got %s",
	                     s->backoff_max, yamlutil_describe(init, tmp, sizeof(tmp)));
}

/* agent: PATH ("" or nothing = next to the binary). */
static int
parse_agent(struct yamlutil_doc *d, const yaml_node_t *n, struct config *c)
{
	char *s;
	int r;

	r = yamlutil_string(d, n, "agent", 1, &s);
	if (r < 0)
		return r;
	free(c->agent);
	c->agent = s && *s ? config_expand_home(s) : NULL;
	free(s);
	return 0;
}

/* log_level: one of log_levels. */
static int
parse_log_level(struct yamlutil_doc *d, const yaml_node_t *n, struct config *c)
{
	char tmp[64];
	char *s;
	size_t i;
	int r;

	r = yamlutil_string(d, n, "log_level", 0, &s);
	if (r < 0)
		return r;
	for (i = 0; log_levels[i]; i++)
		if (!strcmp(s, log_levels[i]))
			break;
	if (!log_levels[i]) {
		free(s);
		return yamlutil_fail(d, n,
		                     "log_level: expected debug, info, warning or error, "
		                     "got %s",
		                     yamlutil_describe(n, tmp, sizeof(tmp)));
	}
	free(c->log_level);
	c->log_level = s;
	return 0;
}

/* Parse every key of root into c. */
static int
config_apply(struct yamlutil_doc *d, const yaml_node_t *root, struct config *c)
{
	const yaml_node_t *v, *tcp = NULL, *token = NULL, **ports = NULL;
	size_t i;
	int r;

	r = yamlutil_check_map(d, root, NULL, top_keys);
	if (r < 0)
		return r;
	if ((v = yamlutil_get(d, root, "listen")) && (r = parse_listen(d, v, c, &tcp, &token)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "hooks_dirs")) && (r = parse_hooks_dirs(d, v, c)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "compat")) && (r = parse_compat(d, v, c, &ports)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "limits")) && (r = parse_limits(d, v, c)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "supervision")) && (r = parse_supervision(d, v, c)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "agent")) && (r = parse_agent(d, v, c)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "log_level")) && (r = parse_log_level(d, v, c)) < 0)
		goto fail;

	/* Other machines' clients cannot be looked up: they need the token.
	 * Blame the setting this file made. */
	if (c->tcp_host && !addr_is_loopback(c->tcp_host) && !c->token_required && (tcp || token)) {
		r = yamlutil_fail(d, tcp ? tcp : token,
		                  "listen.tcp: %s is not a loopback address: clients from other "
		                  "machines cannot be checked, so they must show the token; add "
		                  "'token: required' under listen (see docs/security.md)",
		                  c->tcp_host);
		goto fail;
	}
	/* A compat port may not take the main TCP listener's port. Blame the
	 * setting this file made; an older file's value is not its fault. */
	for (i = 0; c->tcp_host && i < c->n_compat && (tcp || ports); i++) {
		if (c->compat[i].port != c->tcp_port)
			continue;
		if (ports)
			r = yamlutil_fail(d, ports[i],
			                  "compat[%zu].port: port %d is already used by listen.tcp",
			                  i, c->tcp_port);
		else
			r = yamlutil_fail(d, tcp,
			                  "listen.tcp: port %d is already used by compat[%zu]",
			                  c->tcp_port, i);
		goto fail;
	}
fail:
	free(ports);
	return r;
}

int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	struct yamlutil_doc d;
	struct config tmp;
	yaml_node_t *root;
	int r;

	/* The file says which agent runs: only we and root may change it. */
	r = pathsafe_trusted(path, geteuid(), err, errlen);
	if (r == -EPERM) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, "; refusing to read the configuration %s", path);
		return r;
	}
	r = yamlutil_load_file(&d, path, NULL, err, errlen);
	if (r < 0)
		return r;
	root = yamlutil_root(&d);
	if (!root)
		goto done;
	config_copy(&tmp, c);
	r = config_apply(&d, root, &tmp);
	if (r < 0) {
		config_clear(&tmp);
		goto done;
	}
	config_clear(c);
	*c = tmp;
done:
	yamlutil_done(&d);
	return r;
}
