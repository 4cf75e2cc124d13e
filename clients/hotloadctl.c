/* hotloadctl.c - command line client of hotloadd: options, commands, help */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-help.h"
#include "ctl.h"
#include "proto.h"

#define BIT(id) (1u << (id))
#define GLOBAL_OPTS                                                                                \
	(BIT(OPT_SOCKET) | BIT(OPT_TCP) | BIT(OPT_QUIET) | BIT(OPT_HELP) | BIT(OPT_VERSION) |      \
	 BIT(OPT_TOKEN_FILE))

struct opt_def {
	const char *name;
	char letter; /* 0: long form only */
	int has_arg;
	enum cmd_opt id;
};

static const struct opt_def opt_defs[] = {
        {"socket", 0, 1, OPT_SOCKET},
        {"tcp", 0, 1, OPT_TCP},
        {"quiet", 'q', 0, OPT_QUIET},
        {"help", 'h', 0, OPT_HELP},
        {"version", 0, 0, OPT_VERSION},
        {"code", 'c', 1, OPT_CODE},
        {"file", 0, 1, OPT_FILE},
        {"fresh", 0, 0, OPT_FRESH},
        {"isolated", 0, 0, OPT_ISOLATED},
        {"purge", 0, 0, OPT_PURGE},
        {"watch", 0, 2, OPT_WATCH},
        {"json", 0, 0, OPT_JSON},
        {"no-wait", 0, 0, OPT_NO_WAIT},
        {"timeout", 0, 1, OPT_TIMEOUT},
        {"lines", 'n', 1, OPT_LINES},
        {"token-file", 0, 1, OPT_TOKEN_FILE},
        {"session", 0, 1, OPT_SESSION},
        {"user", 0, 0, OPT_USER},
        {"prefix", 0, 1, OPT_PREFIX},
        {"name", 0, 1, OPT_NAME},
        {"display-name", 0, 1, OPT_DISPLAY_NAME},
        {"replace", 0, 0, OPT_REPLACE},
        {"targets", 0, 1, OPT_TARGETS},
        {"max-timeout", 0, 1, OPT_MAX_TIMEOUT},
        {"max-output", 0, 1, OPT_MAX_OUTPUT},
};

struct command {
	const char *name;
	int (*run)(const struct ctl_opts *o, const struct cmd_args *a);
	unsigned opts; /* options it takes besides the global ones */
	const char *usage;
	const char *help;
};

static const struct command *find_command(const char *name);
static int unknown_command(const char *name);

/* The option named name (long) or letter (short), or NULL. */
static const struct opt_def *
find_opt(const char *name, size_t namelen, char letter)
{
	size_t i;

	for (i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++) {
		const struct opt_def *d = &opt_defs[i];

		if (name ? strlen(d->name) == namelen && !strncmp(d->name, name, namelen)
		         : d->letter && d->letter == letter)
			return d;
	}
	return NULL;
}

/* Take argv apart: options anywhere (until "--"), the rest positional.
 * Prints the usage error itself and returns -EINVAL on a bad option. */
static int
parse_args(int argc, char **argv, struct cmd_args *a)
{
	int i, dashdash = 0;

	memset(a, 0, sizeof(*a));
	a->pos = xcalloc((size_t)argc + 1, sizeof(*a->pos));
	for (i = 1; i < argc; i++) {
		const char *w = argv[i];
		const struct opt_def *d;

		if (dashdash || w[0] != '-' || !w[1]) {
			a->pos[a->npos++] = w;
			continue;
		}
		if (!strcmp(w, "--")) {
			dashdash = 1;
			continue;
		}
		if (w[1] == '-') {
			const char *eq = strchr(w + 2, '=');

			d = find_opt(w + 2, eq ? (size_t)(eq - w - 2) : strlen(w + 2), 0);
			if (!d) {
				ctl_usage(NULL, "unknown option '%s'", w);
				return -EINVAL;
			}
			if (d->has_arg == 2) { /* an optional value: only as --opt=VALUE */
				a->value[d->id] = eq ? eq + 1 : "";
				a->spelled[d->id] = w;
				continue;
			}
			if (!d->has_arg && eq) {
				ctl_usage(NULL, "option '--%s' takes no value", d->name);
				return -EINVAL;
			}
			if (d->has_arg && !eq && i + 1 >= argc) {
				ctl_usage(NULL, "option '%s' needs a value", w);
				return -EINVAL;
			}
			a->value[d->id] = !d->has_arg ? "" : eq ? eq + 1 : argv[++i];
			a->spelled[d->id] = w;
			continue;
		}
		/* Short options, bundled ("-qc CODE") or with the value attached. */
		for (const char *p = w + 1; *p; p++) {
			d = find_opt(NULL, 0, *p);
			if (!d) {
				ctl_usage(NULL, "unknown option '-%c'", *p);
				return -EINVAL;
			}
			a->spelled[d->id] = w;
			if (!d->has_arg) {
				a->value[d->id] = "";
				continue;
			}
			if (p[1])
				a->value[d->id] = p + 1;
			else if (i + 1 < argc)
				a->value[d->id] = argv[++i];
			else {
				ctl_usage(NULL, "option '-%c' needs a value", *p);
				return -EINVAL;
			}
			break;
		}
	}
	return 0;
}

/* Print the help of cmd, or the general help when it is NULL. */
static void
print_help(FILE *f, const struct command *cmd)
{
	if (!cmd) {
		fputs(ctlhelp_general, f);
		return;
	}
	fprintf(f, "Usage: hotloadctl %s\n\n%s", cmd->usage, cmd->help);
	if (strcmp(cmd->name, "help") != 0)
		fputs("\nEvery command also takes --socket PATH, --tcp HOST:PORT, --token-file "
		      "FILE\n"
		      "and -q; see 'hotloadctl --help'.\n",
		      f);
}

/* help [COMMAND] */
static int
cmd_help(const struct ctl_opts *o, const struct cmd_args *a)
{
	const struct command *cmd = NULL;

	if (a->npos > 2)
		return ctl_usage("help", "unexpected argument '%s'", a->pos[2]);
	if (a->npos == 2) {
		cmd = find_command(a->pos[1]);
		if (!cmd)
			return unknown_command(a->pos[1]);
	}
	print_help(stdout, cmd);
	return CTL_EXIT_OK;
}

#define WAIT_OPTS (BIT(OPT_NO_WAIT) | BIT(OPT_TIMEOUT))

static const struct command commands[] = {
        {"exec", cmd_exec,
         BIT(OPT_CODE) | BIT(OPT_FILE) | BIT(OPT_FRESH) | BIT(OPT_ISOLATED) | BIT(OPT_JSON) |
                 BIT(OPT_TIMEOUT) | BIT(OPT_WATCH) | BIT(OPT_SESSION),
         "exec [--fresh | --isolated] [--file NAME] [--timeout S] [--json] [--watch[=DIR]] "
         "[--session NAME] "
         "TARGET (-c CODE | FILE | -) [--] [ARG...]",
         ctlhelp_exec},
        {"eval", cmd_eval, BIT(OPT_JSON) | BIT(OPT_TIMEOUT) | BIT(OPT_SESSION),
         "eval [--timeout S] [--json] [--session NAME] TARGET EXPR", ctlhelp_eval},
        {"debug", cmd_debug, BIT(OPT_SESSION), "debug [--session NAME] TARGET", ctlhelp_debug},
        {"ping", cmd_ping, BIT(OPT_JSON), "ping [--json] TARGET", ctlhelp_ping},
        {"status", cmd_status, BIT(OPT_JSON), "status [--json] [TARGET]", ctlhelp_status},
        {"start", cmd_start, WAIT_OPTS, "start [--no-wait] [--timeout S] [TARGET...]",
         ctlhelp_start},
        {"stop", cmd_stop, WAIT_OPTS, "stop [--no-wait] [--timeout S] [TARGET...]", ctlhelp_stop},
        {"restart", cmd_restart, WAIT_OPTS, "restart [--no-wait] [--timeout S] [TARGET...]",
         ctlhelp_restart},
        {"interrupt", cmd_interrupt, 0, "interrupt TARGET...", ctlhelp_interrupt},
        {"reload", cmd_reload, 0, "reload", ctlhelp_reload},
        {"reload-modules", cmd_reload_modules, BIT(OPT_PURGE) | BIT(OPT_TIMEOUT) | BIT(OPT_JSON),
         "reload-modules [--purge] [--timeout S] [--json] TARGET MODULE...",
         ctlhelp_reload_modules},
        {"recycle", cmd_recycle, 0, "recycle TARGET...", ctlhelp_recycle},
        {"watch", cmd_watch, 0, "watch TARGET DIR...", ctlhelp_watch},
        {"unwatch", cmd_unwatch, 0, "unwatch TARGET DIR...", ctlhelp_unwatch},
        {"list", cmd_list, BIT(OPT_JSON), "list [--json]", ctlhelp_list},
        {"logs", cmd_logs, BIT(OPT_JSON) | BIT(OPT_LINES), "logs [-n N] [--json] TARGET",
         ctlhelp_logs},
        {"kernelspec", cmd_kernelspec,
         BIT(OPT_USER) | BIT(OPT_PREFIX) | BIT(OPT_NAME) | BIT(OPT_DISPLAY_NAME) |
                 BIT(OPT_REPLACE) | BIT(OPT_JSON),
         "kernelspec install [--user | --prefix DIR] [--name NAME] [--display-name TEXT] "
         "[--replace] [--json] TARGET\n"
         "       hotloadctl kernelspec list [--user | --prefix DIR] [--json]\n"
         "       hotloadctl kernelspec remove [--user | --prefix DIR] NAME",
         ctlhelp_kernelspec},
        {"mcp", cmd_mcp, BIT(OPT_TARGETS) | BIT(OPT_MAX_TIMEOUT) | BIT(OPT_MAX_OUTPUT),
         "mcp [--targets T1,T2] [--max-timeout S] [--max-output BYTES]", ctlhelp_mcp},
        {"help", cmd_help, 0, "help [COMMAND]", ctlhelp_help},
};

/* The command called name, or NULL. */
static const struct command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Edits (insert, delete, change, swap two neighbours) from a to b, up to
 * 3: enough to tell a typo from another word. */
static int
edits(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int d[16][16];

	if (la >= 16 || lb >= 16)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/* "unknown command 'exce'; did you mean 'exec'?" */
static int
unknown_command(const char *name)
{
	const char *best = NULL;
	int best_d = 3;
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int e = edits(name, commands[i].name);

		if (e < best_d) {
			best_d = e;
			best = commands[i].name;
		}
	}
	if (best)
		return ctl_usage(NULL, "unknown command '%s'; did you mean '%s'?", name, best);
	return ctl_usage(NULL, "unknown command '%s'", name);
}

/* Where to connect: --socket, --tcp, $HOTLOAD_SOCKET, $HOTLOAD_TCP, or the
 * default socket (written to sockbuf). */
static int
pick_address(const struct cmd_args *a, struct ctl_opts *o, char *sockbuf, size_t sockbuflen)
{
	const char *env;
	char *path;
	int n;

	if (a->value[OPT_SOCKET] && a->value[OPT_TCP])
		return ctl_usage(NULL, "give --socket or --tcp, not both");
	if (a->value[OPT_SOCKET] || a->value[OPT_TCP]) {
		o->socket = a->value[OPT_SOCKET];
		o->tcp = a->value[OPT_TCP];
		if ((o->socket && !o->socket[0]) || (o->tcp && !o->tcp[0]))
			return ctl_usage(NULL, "empty --socket or --tcp");
		return 0;
	}
	if ((env = getenv("HOTLOAD_SOCKET")) && env[0]) {
		o->socket = env;
		return 0;
	}
	if ((env = getenv("HOTLOAD_TCP")) && env[0]) {
		o->tcp = env;
		return 0;
	}
	path = proto_default_socket();
	n = snprintf(sockbuf, sockbuflen, "%s", path);
	free(path);
	if (n < 0 || (size_t)n >= sockbuflen)
		return ctl_usage(NULL, "the default socket path is too long; use --socket");
	o->socket = sockbuf;
	return 0;
}

/* The token to show over TCP: --token-file FILE, else $HOTLOAD_TOKEN. Never
 * the daemon's token file on its own accord: whoever listens on the port
 * would get it. */
static int
pick_token(const struct cmd_args *a, struct ctl_opts *o, char *buf, size_t buflen)
{
	const char *file = a->value[OPT_TOKEN_FILE], *env = getenv("HOTLOAD_TOKEN");
	size_t n;
	FILE *f;

	if (file) {
		f = fopen(file, "re");
		if (!f) {
			ctl_err("cannot read the token file %s: %s", file, strerror(errno));
			return CTL_EXIT_USAGE;
		}
		if (!fgets(buf, (int)buflen, f))
			buf[0] = '\0';
		fclose(f);
		n = strcspn(buf, "\r\n");
		buf[n] = '\0';
		if (!n) {
			ctl_err("the token file %s is empty", file);
			return CTL_EXIT_USAGE;
		}
		o->token = buf;
	} else if (env && env[0]) {
		o->token = env;
	}
	if (o->token && strspn(o->token, "0123456789abcdefABCDEF") != strlen(o->token)) {
		ctl_err("the token must be hexadecimal digits (the daemon's token file holds it)");
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* --timeout S (seconds above 0) and -n N (0 or more) into o. */
static int
parse_numbers(const struct command *cmd, const struct cmd_args *a, struct ctl_opts *o)
{
	const char *t = a->value[OPT_TIMEOUT], *n = a->value[OPT_LINES];
	char *end;

	if (t) {
		errno = 0;
		o->timeout = strtod(t, &end);
		if (errno || end == t || *end || !(o->timeout > 0 && o->timeout <= 1e9))
			return ctl_usage(cmd->name, "--timeout wants seconds above 0, not '%s'", t);
	}
	if (n) {
		errno = 0;
		o->lines = strtol(n, &end, 10);
		if (errno || end == n || *end || o->lines < 0)
			return ctl_usage(cmd->name, "-n wants a count of 0 or more, not '%s'", n);
	}
	return 0;
}

/* Parse the command line, pick the daemon address and run the command. */
int
main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct ctl_opts o;
	char sockbuf[PATH_MAX], token[160];
	struct cmd_args a;
	int i, r;

	/* A reader of our stdout that goes away must not kill us mid-request;
	 * writes then fail with EPIPE, which we handle. */
	signal(SIGPIPE, SIG_IGN);

	memset(&o, 0, sizeof(o));
	o.lines = -1;
	o.watch_fd = -1;
	o.argv0 = argv[0];
	if (parse_args(argc, argv, &a) < 0) {
		r = CTL_EXIT_USAGE;
		goto done;
	}
	if (a.npos) {
		cmd = find_command(a.pos[0]);
		if (!cmd) {
			r = unknown_command(a.pos[0]);
			goto done;
		}
	}
	if (a.value[OPT_VERSION]) {
		printf("hotloadctl %s\n", HOTLOAD_VERSION);
		r = CTL_EXIT_OK;
		goto done;
	}
	if (a.value[OPT_HELP]) {
		print_help(stdout, cmd);
		r = CTL_EXIT_OK;
		goto done;
	}
	if (!cmd) {
		print_help(stderr, NULL);
		r = CTL_EXIT_USAGE;
		goto done;
	}
	for (i = 0; i < OPT_COUNT; i++)
		if (a.value[i] && !(BIT(i) & (GLOBAL_OPTS | cmd->opts))) {
			r = ctl_usage(cmd->name, "'%s' is not an option of %s", a.spelled[i],
			              cmd->name);
			goto done;
		}
	r = pick_address(&a, &o, sockbuf, sizeof(sockbuf));
	if (r)
		goto done;
	r = pick_token(&a, &o, token, sizeof(token));
	if (r)
		goto done;
	o.quiet = a.value[OPT_QUIET] != NULL;
	o.json = a.value[OPT_JSON] != NULL;
	o.no_wait = a.value[OPT_NO_WAIT] != NULL;
	o.session = a.value[OPT_SESSION];
	r = parse_numbers(cmd, &a, &o);
	if (r)
		goto done;
	r = cmd->run(&o, &a);
done:
	free(a.pos);
	explicit_bzero(token, sizeof(token));
	if (ctl_stdout_error()) {
		fprintf(stderr, "hotloadctl: cannot write to standard output: %s\n",
		        strerror(ctl_stdout_error()));
		if (r == CTL_EXIT_OK)
			r = CTL_EXIT_FAILED;
	}
	return r;
}
