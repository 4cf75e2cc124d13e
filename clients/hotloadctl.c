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
#include "ctl.h"
#include "cmd-daemon.h"
#include "ctl-help.h"
#include "cmd-logs.h"
#include "ctl-request.h"
#include "cmd-status.h"
#include "cmd-start.h"
#include "ctl-watch.h"
#include "proto.h"
#include "utf8.h"

enum opt_id {
	OPT_SOCKET,
	OPT_TCP,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
	OPT_CODE,
	OPT_FILE,
	OPT_FRESH,
	OPT_PURGE,
	OPT_WATCH,
	OPT_JSON,
	OPT_NO_WAIT,
	OPT_TIMEOUT,
	OPT_LINES,
	OPT_TOKEN_FILE,
	OPT_COUNT
};

#define BIT(id) (1u << (id))
#define GLOBAL_OPTS                                                                                \
	(BIT(OPT_SOCKET) | BIT(OPT_TCP) | BIT(OPT_QUIET) | BIT(OPT_HELP) | BIT(OPT_VERSION) |      \
	 BIT(OPT_TOKEN_FILE))

struct opt_def {
	const char *name;
	char letter; /* 0: long form only */
	int has_arg;
	enum opt_id id;
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
        {"purge", 0, 0, OPT_PURGE},
        {"watch", 0, 2, OPT_WATCH},
        {"json", 0, 0, OPT_JSON},
        {"no-wait", 0, 0, OPT_NO_WAIT},
        {"timeout", 0, 1, OPT_TIMEOUT},
        {"lines", 'n', 1, OPT_LINES},
        {"token-file", 0, 1, OPT_TOKEN_FILE},
};

/* The command line, taken apart. */
struct args {
	const char *value[OPT_COUNT];   /* argument, or "" for a flag; NULL when absent */
	const char *spelled[OPT_COUNT]; /* the argv word that gave it, for messages */
	const char **pos;               /* positional words, the command first */
	int npos;
};

struct command {
	const char *name;
	int (*run)(const struct ctl_opts *o, const struct args *a);
	unsigned opts; /* options it takes besides the global ones */
	const char *usage;
	const char *help;
};

static const struct command *find_command(const char *name);
static int unknown_command(const char *name);

/* Print a usage error and the hint where help is; returns the exit status. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("hotloadctl: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\nTry 'hotloadctl help %s'.\n", cmd);
	else
		fputs("\nTry 'hotloadctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

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
parse_args(int argc, char **argv, struct args *a)
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
				usage_error(NULL, "unknown option '%s'", w);
				return -EINVAL;
			}
			if (d->has_arg == 2) { /* an optional value: only as --opt=VALUE */
				a->value[d->id] = eq ? eq + 1 : "";
				a->spelled[d->id] = w;
				continue;
			}
			if (!d->has_arg && eq) {
				usage_error(NULL, "option '--%s' takes no value", d->name);
				return -EINVAL;
			}
			if (d->has_arg && !eq && i + 1 >= argc) {
				usage_error(NULL, "option '%s' needs a value", w);
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
				usage_error(NULL, "unknown option '-%c'", *p);
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
				usage_error(NULL, "option '-%c' needs a value", *p);
				return -EINVAL;
			}
			break;
		}
	}
	return 0;
}

/* Read all of path ("-": stdin) into b; -errno on failure. */
static int
read_input(const char *path, struct buf *b)
{
	int fd = STDIN_FILENO, r = 0;

	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		buf_reserve(b, 65536);
		n = read(fd, b->data + b->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			poll(&pfd, 1, -1); /* stdin left non-blocking by our parent */
			continue;
		}
		if (n < 0) {
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
fail:
	if (fd != STDIN_FILENO)
		close(fd);
	return r;
}

/* Line number (from 1) of the first byte that is not UTF-8, or 0 if all is. */
static size_t
bad_utf8_line(const char *s, size_t len)
{
	size_t valid = utf8_valid_len(s, len), i, line = 1;

	if (valid == len)
		return 0;
	for (i = 0; i < valid; i++)
		if (s[i] == '\n')
			line++;
	return line;
}

/* exec TARGET (-c CODE | FILE | -): one run; the file is read afresh. */
static int
exec_once(const struct ctl_opts *o, void *data)
{
	const struct args *a = data;
	const char *code = a->value[OPT_CODE], *file = a->value[OPT_FILE], *src = NULL;
	struct buf in = BUF_INIT;
	struct ctlreq_script script = {NULL, NULL, NULL, 0};
	char *real = NULL;
	size_t line, skip = 0;
	int r;

	/* sys.argv as python gives it: "-c" or the file, then the arguments */
	script.argv0 = code ? "-c" : a->pos[2];
	script.args = a->pos + (code ? 2 : 3);
	script.nargs = a->npos - (code ? 2 : 3);

	if (code) {
		buf_puts(&in, code);
		src = "the code given with -c";
		if (!file)
			file = "<string>";
	} else {
		src = a->pos[2];
		r = read_input(src, &in);
		if (r < 0) {
			fprintf(stderr, "hotloadctl: cannot read %s: %s\n",
			        strcmp(src, "-") ? src : "stdin", strerror(-r));
			r = CTL_EXIT_USAGE;
			goto fail;
		}
		/* a file runs as under python: __file__, its directory on
		 * sys.path, tracebacks naming it by its full path */
		if (strcmp(src, "-") && (real = realpath(src, NULL)))
			script.path = real;
		if (!file)
			file = real ? real : strcmp(src, "-") ? src : "<stdin>";
	}
	line = bad_utf8_line(in.data, in.len);
	if (line) {
		fprintf(stderr, "hotloadctl: %s is not valid UTF-8 (line %zu)\n",
		        strcmp(src, "-") ? src : "stdin", line);
		r = CTL_EXIT_USAGE;
		goto fail;
	}
	/* Python reads a BOM in a file as a signature; exec() of a str would
	 * choke on it. */
	if (in.len >= 3 && !memcmp(in.data, "\xef\xbb\xbf", 3))
		skip = 3;
	r = ctlreq_exec(o, a->pos[1], in.data + skip, in.len - skip, file,
	                a->value[OPT_FRESH] != NULL, &script);
fail:
	buf_free(&in);
	free(real);
	return r;
}

/* exec TARGET (-c CODE | FILE | -) [--watch[=DIR]] */
static int
cmd_exec(const struct ctl_opts *o, const struct args *a)
{
	const char *code = a->value[OPT_CODE], *watch = a->value[OPT_WATCH];
	struct ctl_opts wo = *o;
	char *dir = NULL, *slash;
	int r;

	if (a->npos < 2)
		return usage_error("exec", "missing TARGET");
	if (!code && a->npos < 3)
		return usage_error("exec", "missing the code: -c CODE, a FILE, or - for stdin");
	if (!watch)
		return exec_once(o, (void *)a);
	/* --watch: FILE's directory, or --watch=DIR */
	if (*watch)
		dir = realpath(watch, NULL);
	else if (!code && strcmp(a->pos[2], "-")) {
		if (!(dir = realpath(a->pos[2], NULL))) {
			ctl_err("cannot run %s: %s", a->pos[2], strerror(errno));
			return CTL_EXIT_USAGE;
		}
		slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
	} else
		return usage_error("exec", "with -c or stdin, --watch=DIR says what to watch");
	if (!dir) {
		ctl_err("cannot watch %s: %s", *watch ? watch : a->pos[2], strerror(errno));
		return CTL_EXIT_USAGE;
	}
	if (!code && !strcmp(a->pos[2], "-")) {
		free(dir);
		return usage_error("exec", "--watch cannot read stdin again; give a FILE");
	}
	r = ctlwatch_loop(&wo, a->pos[1], dir, NULL, exec_once, (void *)a);
	free(dir);
	return r;
}

/* eval TARGET EXPR */
static int
cmd_eval(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos < 3)
		return usage_error("eval", a->npos < 2 ? "missing TARGET" : "missing EXPR");
	if (a->npos > 3)
		return usage_error("eval", "unexpected argument '%s' (quote the expression)",
		                   a->pos[3]);
	return ctlreq_eval(o, a->pos[1], a->pos[2]);
}

/* ping TARGET */
static int
cmd_ping(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos < 2)
		return usage_error("ping", "missing TARGET");
	if (a->npos > 2)
		return usage_error("ping", "unexpected argument '%s'", a->pos[2]);
	return ctlreq_ping(o, a->pos[1]);
}

/* status [TARGET] */
static int
cmd_status(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos > 2)
		return usage_error("status", "unexpected argument '%s'", a->pos[2]);
	return ctlstatus_show(o, a->npos == 2 ? a->pos[1] : NULL);
}

/* start [TARGET...] */
static int
cmd_start(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos == 1)
		return ctldaemon_start(o);
	return ctltargets_start(o, "start", a->pos + 1, a->npos - 1);
}

/* stop [TARGET...] */
static int
cmd_stop(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos == 1)
		return ctldaemon_stop(o);
	return ctltargets_stop(o, a->pos + 1, a->npos - 1);
}

/* restart [TARGET...] */
static int
cmd_restart(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos == 1)
		return ctldaemon_restart(o);
	return ctltargets_start(o, "restart", a->pos + 1, a->npos - 1);
}

/* interrupt TARGET... */
static int
cmd_interrupt(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos < 2)
		return usage_error("interrupt", "missing TARGET");
	return ctltargets_interrupt(o, a->pos + 1, a->npos - 1);
}

/* reload-modules TARGET MODULE... */
static int
cmd_reload_modules(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos < 2)
		return usage_error("reload-modules", "missing TARGET");
	if (a->npos < 3)
		return usage_error("reload-modules", "missing the modules or packages to reload");
	return ctlreq_reload_modules(o, a->pos[1], a->pos + 2, a->npos - 2,
	                             a->value[OPT_PURGE] != NULL);
}

/* recycle TARGET... */
static int
cmd_recycle(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos < 2)
		return usage_error("recycle", "missing TARGET");
	return ctltargets_recycle(o, a->pos + 1, a->npos - 1);
}

/* watch / unwatch TARGET DIR... */
static int
cmd_watch_dirs(const struct ctl_opts *o, const struct args *a, int add)
{
	const char *cmd = add ? "watch" : "unwatch";

	if (a->npos < 2)
		return usage_error(cmd, "missing TARGET");
	if (a->npos < 3)
		return usage_error(cmd, "missing the directories");
	return ctltargets_watch(o, a->pos[1], a->pos + 2, a->npos - 2, add);
}

static int
cmd_watch(const struct ctl_opts *o, const struct args *a)
{
	return cmd_watch_dirs(o, a, 1);
}

static int
cmd_unwatch(const struct ctl_opts *o, const struct args *a)
{
	return cmd_watch_dirs(o, a, 0);
}

/* reload */
static int
cmd_reload(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos > 1)
		return usage_error("reload", "unexpected argument '%s'", a->pos[1]);
	return ctlinfo_reload(o);
}

/* list */
static int
cmd_list(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos > 1)
		return usage_error("list", "unexpected argument '%s'", a->pos[1]);
	return ctlinfo_list(o);
}

/* logs TARGET */
static int
cmd_logs(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos < 2)
		return usage_error("logs", "missing TARGET");
	if (a->npos > 2)
		return usage_error("logs", "unexpected argument '%s'", a->pos[2]);
	return ctlinfo_logs(o, a->pos[1]);
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
cmd_help(const struct ctl_opts *o, const struct args *a)
{
	const struct command *cmd = NULL;

	if (a->npos > 2)
		return usage_error("help", "unexpected argument '%s'", a->pos[2]);
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
         BIT(OPT_CODE) | BIT(OPT_FILE) | BIT(OPT_FRESH) | BIT(OPT_JSON) | BIT(OPT_TIMEOUT) |
                 BIT(OPT_WATCH),
         "exec [--fresh] [--file NAME] [--timeout S] [--json] [--watch[=DIR]] TARGET "
         "(-c CODE | FILE | -) "
         "[--] [ARG...]",
         ctlhelp_exec},
        {"eval", cmd_eval, BIT(OPT_JSON) | BIT(OPT_TIMEOUT),
         "eval [--timeout S] [--json] TARGET EXPR", ctlhelp_eval},
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
		return usage_error(NULL, "unknown command '%s'; did you mean '%s'?", name, best);
	return usage_error(NULL, "unknown command '%s'", name);
}

/* Where to connect: --socket, --tcp, $HOTLOAD_SOCKET, $HOTLOAD_TCP, or the
 * default socket (written to sockbuf). */
static int
pick_address(const struct args *a, struct ctl_opts *o, char *sockbuf, size_t sockbuflen)
{
	const char *env;
	char *path;
	int n;

	if (a->value[OPT_SOCKET] && a->value[OPT_TCP])
		return usage_error(NULL, "give --socket or --tcp, not both");
	if (a->value[OPT_SOCKET] || a->value[OPT_TCP]) {
		o->socket = a->value[OPT_SOCKET];
		o->tcp = a->value[OPT_TCP];
		if ((o->socket && !o->socket[0]) || (o->tcp && !o->tcp[0]))
			return usage_error(NULL, "empty --socket or --tcp");
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
		return usage_error(NULL, "the default socket path is too long; use --socket");
	o->socket = sockbuf;
	return 0;
}

/* The token to show over TCP: --token-file FILE, else $HOTLOAD_TOKEN. Never
 * the daemon's token file on its own accord: whoever listens on the port
 * would get it. */
static int
pick_token(const struct args *a, struct ctl_opts *o, char *buf, size_t buflen)
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
parse_numbers(const struct command *cmd, const struct args *a, struct ctl_opts *o)
{
	const char *t = a->value[OPT_TIMEOUT], *n = a->value[OPT_LINES];
	char *end;

	if (t) {
		errno = 0;
		o->timeout = strtod(t, &end);
		if (errno || end == t || *end || !(o->timeout > 0 && o->timeout <= 1e9))
			return usage_error(cmd->name, "--timeout wants seconds above 0, not '%s'",
			                   t);
	}
	if (n) {
		errno = 0;
		o->lines = strtol(n, &end, 10);
		if (errno || end == n || *end || o->lines < 0)
			return usage_error(cmd->name, "-n wants a count of 0 or more, not '%s'", n);
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
	struct args a;
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
			r = usage_error(cmd->name, "'%s' is not an option of %s", a.spelled[i],
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
