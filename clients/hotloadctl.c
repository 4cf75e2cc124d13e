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
#include "ctlconn.h"
#include "ctlreq.h"
#include "ctlstatus.h"
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
	OPT_JSON,
	OPT_COUNT
};

#define BIT(id) (1u << (id))
#define GLOBAL_OPTS                                                                                \
	(BIT(OPT_SOCKET) | BIT(OPT_TCP) | BIT(OPT_QUIET) | BIT(OPT_HELP) | BIT(OPT_VERSION))

struct opt_def {
	const char *name;
	char letter; /* 0: long form only */
	int has_arg;
	enum opt_id id;
};

static const struct opt_def opt_defs[] = {
        {"socket", 0, 1, OPT_SOCKET}, {"tcp", 0, 1, OPT_TCP},         {"quiet", 'q', 0, OPT_QUIET},
        {"help", 'h', 0, OPT_HELP},   {"version", 0, 0, OPT_VERSION}, {"code", 'c', 1, OPT_CODE},
        {"file", 0, 1, OPT_FILE},     {"fresh", 0, 0, OPT_FRESH},     {"json", 0, 0, OPT_JSON},
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

static const char general_help[] =
        "Usage: hotloadctl [OPTIONS] COMMAND [ARGS]\n"
        "\n"
        "Run Python code in the warm DCC interpreters that hotloadd keeps.\n"
        "\n"
        "Commands:\n"
        "  exec TARGET (-c CODE | FILE | -)  run code, streaming its output\n"
        "  eval TARGET EXPR                  evaluate an expression, print its repr\n"
        "  ping TARGET                       check that a worker of TARGET answers\n"
        "  status                            show the daemon's targets and workers\n"
        "  help [COMMAND]                    show help for a command\n"
        "\n"
        "TARGET is DCC[:VERSION]: python:3, mayapy:2024, hython:20.5, blender, ...\n"
        "\n"
        "Options (for every command):\n"
        "  --socket PATH    the daemon's Unix socket (or $HOTLOAD_SOCKET); default\n"
        "                   $XDG_RUNTIME_DIR/hotload/hotloadd.sock, else\n"
        "                   /run/hotload/hotloadd.sock for root and\n"
        "                   /tmp/hotload-UID/hotloadd.sock for others\n"
        "  --tcp HOST:PORT  connect over TCP instead (or $HOTLOAD_TCP); port " CTLCONN_DEFAULT_PORT
        " when\n"
        "                   left out, host " CTLCONN_DEFAULT_HOST " when empty\n"
        "  -q, --quiet      print no messages of hotloadctl's own (the code's output\n"
        "                   and tracebacks are still shown)\n"
        "  -h, --help       show help\n"
        "      --version    print the version\n"
        "\n"
        "Exit status:\n"
        "  0  success\n"
        "  1  the code raised, or its worker died or could not start\n"
        "  2  usage error, or the input could not be read\n"
        "  3  hotloadd is not reachable, or the connection was lost\n"
        "  4  hotloadd refused: unknown target, DCC not installed, bad header, ...\n";

static const char exec_help[] =
        "Run Python code in a worker of TARGET. Its stdout and stderr are copied to\n"
        "ours as it prints; if it raises, the traceback goes to stderr and the exit\n"
        "status is 1.\n"
        "\n"
        "  -c, --code CODE  the code to run\n"
        "  FILE             run this file; '-' reads the code from stdin\n"
        "      --file NAME  the file name tracebacks show (default: FILE, <stdin>\n"
        "                   or <string>)\n"
        "      --fresh      run in a fresh namespace instead of the shared __main__\n"
        "      --json       print the daemon's event lines (JSON) as they arrive\n"
        "\n"
        "Examples:\n"
        "  hotloadctl exec python:3 -c 'print(42)'\n"
        "  hotloadctl exec mayapy:2024 tools/rebuild_rig.py\n"
        "  echo 'import hou; print(hou.applicationVersionString())' | hotloadctl exec hython -\n";

static const char eval_help[] =
        "Evaluate a Python expression in a worker of TARGET and print the repr of\n"
        "its value. An expression starting with '-' goes after '--'.\n"
        "\n"
        "      --json  print the daemon's event lines (JSON) as they arrive\n"
        "\n"
        "Example:\n"
        "  hotloadctl eval blender:4.1 'bpy.app.version_string'\n";

static const char ping_help[] =
        "Check that a worker of TARGET answers (it is started when none runs).\n"
        "\n"
        "      --json  print the daemon's event lines (JSON) as they arrive\n";

static const char status_help[] =
        "Show the daemon and, per target, its queue and workers: id, state, pid,\n"
        "uptime and requests served. Exit status 3 when the daemon is not running.\n"
        "\n"
        "      --json  print the status as JSON\n";

static const char help_help[] = "Show the help of COMMAND, or the general help.\n";

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
	struct utf8_carry carry = {{0}, 0};
	struct buf out = BUF_INIT;
	size_t i, line = 1;

	utf8_repair(&carry, s, len, &out);
	utf8_finish(&carry, &out);
	for (i = 0; i < len && i < out.len && s[i] == out.data[i]; i++)
		if (s[i] == '\n')
			line++;
	if (i == len && out.len == len)
		line = 0;
	buf_free(&out);
	return line;
}

/* exec TARGET (-c CODE | FILE | -) */
static int
cmd_exec(const struct ctl_opts *o, const struct args *a)
{
	const char *code = a->value[OPT_CODE], *file = a->value[OPT_FILE], *src = NULL;
	struct buf in = BUF_INIT;
	size_t line, skip = 0;
	int r;

	if (a->npos < 2)
		return usage_error("exec", "missing TARGET");
	if (code && a->npos > 2)
		return usage_error("exec", "give -c CODE or a FILE, not both");
	if (!code && a->npos < 3)
		return usage_error("exec", "missing the code: -c CODE, a FILE, or - for stdin");
	if (a->npos > 3)
		return usage_error("exec", "unexpected argument '%s'", a->pos[3]);

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
		if (!file)
			file = strcmp(src, "-") ? src : "<stdin>";
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
	                a->value[OPT_FRESH] != NULL);
fail:
	buf_free(&in);
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

/* status */
static int
cmd_status(const struct ctl_opts *o, const struct args *a)
{
	if (a->npos > 1)
		return usage_error("status", "unexpected argument '%s'", a->pos[1]);
	return ctlstatus_show(o);
}

/* Print the help of cmd, or the general help when it is NULL. */
static void
print_help(FILE *f, const struct command *cmd)
{
	if (!cmd) {
		fputs(general_help, f);
		return;
	}
	fprintf(f, "Usage: hotloadctl %s\n\n%s", cmd->usage, cmd->help);
	if (cmd->opts)
		fputs("\nSee 'hotloadctl --help' for the options every command takes and the "
		      "exit status.\n",
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
			return usage_error(NULL, "unknown command '%s'", a->pos[1]);
	}
	print_help(stdout, cmd);
	return CTL_EXIT_OK;
}

static const struct command commands[] = {
        {"exec", cmd_exec, BIT(OPT_CODE) | BIT(OPT_FILE) | BIT(OPT_FRESH) | BIT(OPT_JSON),
         "exec [--fresh] [--file NAME] [--json] TARGET (-c CODE | FILE | -)", exec_help},
        {"eval", cmd_eval, BIT(OPT_JSON), "eval [--json] TARGET EXPR", eval_help},
        {"ping", cmd_ping, BIT(OPT_JSON), "ping [--json] TARGET", ping_help},
        {"status", cmd_status, BIT(OPT_JSON), "status [--json]", status_help},
        {"help", cmd_help, 0, "help [COMMAND]", help_help},
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

/* Where to connect: --socket, --tcp, $HOTLOAD_SOCKET, $HOTLOAD_TCP, or the
 * default socket (written to sockbuf). */
static int
pick_address(const struct args *a, struct ctl_opts *o, char *sockbuf, size_t sockbuflen)
{
	const char *env;

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
	if (ctlconn_default_socket(sockbuf, sockbuflen) < 0)
		return usage_error(NULL, "the default socket path is too long; use --socket");
	o->socket = sockbuf;
	return 0;
}

/* Parse the command line, pick the daemon address and run the command. */
int
main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct ctl_opts o = {NULL, NULL, 0, 0};
	char sockbuf[PATH_MAX];
	struct args a;
	int i, r;

	/* A reader of our stdout that goes away must not kill us mid-request;
	 * writes then fail with EPIPE, which we handle. */
	signal(SIGPIPE, SIG_IGN);

	if (parse_args(argc, argv, &a) < 0) {
		r = CTL_EXIT_USAGE;
		goto done;
	}
	if (a.npos) {
		cmd = find_command(a.pos[0]);
		if (!cmd) {
			r = usage_error(NULL, "unknown command '%s'", a.pos[0]);
			goto done;
		}
	}
	if (a.value[OPT_VERSION]) {
		printf("hotloadctl %s\n", CTL_VERSION);
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
	o.quiet = a.value[OPT_QUIET] != NULL;
	o.json = a.value[OPT_JSON] != NULL;
	r = cmd->run(&o, &a);
done:
	free(a.pos);
	return r;
}
