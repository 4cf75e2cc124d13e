/* cmd-exec.c - `hotloadctl exec`: run a file, stdin or -c CODE in a target,
 * once or (--watch) again on every save */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-request.h"
#include "ctl-watch.h"
#include "ctl.h"
#include "utf8.h"

/* How the code runs, as `python FILE ARGS` would run it. */
struct script {
	const char *path;        /* the file's absolute path (its __file__), or NULL */
	const char *argv0;       /* sys.argv[0]: the file as given, or "-c" */
	const char *const *args; /* the rest of sys.argv */
	int nargs;
};

/* "done" of exec: the output was streamed already. */
static int
on_exec_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	if (!json_is_true(json_object_get(done, "ok")))
		return ctlreq_print_failure(o, done);
	return CTL_EXIT_OK;
}

/* path, argv and cwd; CTL_EXIT_USAGE (said) when one is not UTF-8. */
static int
set_script(json_t *req, const struct script *s)
{
	json_t *argv = json_array(), *v;
	int i;

	ctlreq_set_cwd(req);
	if (s->path && ctlreq_set_string(req, "path", s->path, strlen(s->path)))
		goto fail;
	for (i = -1; i < s->nargs; i++) {
		const char *a = i < 0 ? s->argv0 : s->args[i];

		if (!(v = json_string(a))) {
			ctl_err("argument '%s' is not valid UTF-8", a);
			goto fail;
		}
		json_array_append_new(argv, v);
	}
	json_object_set_new(req, "argv", argv);
	return 0;
fail:
	json_decref(argv);
	return CTL_EXIT_USAGE;
}

/* Run code[0..len) in target; file is the name tracebacks show. The
 * client's working directory goes with it; script may be NULL. */
static int
exec_code(const struct ctl_opts *o, const char *target, const char *code, size_t len,
          const char *file, const char *ns, const struct script *script)
{
	json_t *req = json_object();
	int r = CTL_EXIT_USAGE;

	json_object_set_new(req, "op", json_string("exec"));
	if (ctlreq_set_string(req, "code", code, len) ||
	    ctlreq_set_string(req, "file", file, strlen(file)))
		goto fail;
	if (ns)
		json_object_set_new(req, "ns", json_string(ns));
	ctlreq_set_limits(o, req);
	if (script && set_script(req, script))
		goto fail;
	r = ctlreq_run(o, target, req, on_exec_done, NULL);
fail:
	json_decref(req);
	return r;
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
	const struct cmd_args *a = data;
	const char *code = a->value[OPT_CODE], *file = a->value[OPT_FILE], *src = NULL;
	struct buf in = BUF_INIT;
	struct script script = {NULL, NULL, NULL, 0};
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
	r = exec_code(o, a->pos[1], in.data + skip, in.len - skip, file,
	              a->value[OPT_ISOLATED] ? "isolated"
	              : a->value[OPT_FRESH]  ? "fresh"
	                                     : NULL,
	              &script);
fail:
	buf_free(&in);
	free(real);
	return r;
}

/* exec TARGET (-c CODE | FILE | -) [--watch[=DIR]] */
int
cmd_exec(const struct ctl_opts *o, const struct cmd_args *a)
{
	const char *code = a->value[OPT_CODE], *watch = a->value[OPT_WATCH];
	struct ctl_opts wo = *o;
	char *dir = NULL, *slash;
	int r;

	if (a->npos < 2)
		return ctl_usage("exec", "missing TARGET");
	if (!code && a->npos < 3)
		return ctl_usage("exec", "missing the code: -c CODE, a FILE, or - for stdin");
	if (a->value[OPT_FRESH] && a->value[OPT_ISOLATED])
		return ctl_usage("exec", "--fresh and --isolated cannot go together");
	if (a->value[OPT_ISOLATED] && a->value[OPT_SESSION])
		return ctl_usage("exec", "--isolated runs in a worker of its own, not a session's");
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
		return ctl_usage("exec", "with -c or stdin, --watch=DIR says what to watch");
	if (!dir) {
		ctl_err("cannot watch %s: %s", *watch ? watch : a->pos[2], strerror(errno));
		return CTL_EXIT_USAGE;
	}
	if (!code && !strcmp(a->pos[2], "-")) {
		free(dir);
		return ctl_usage("exec", "--watch cannot read stdin again; give a FILE");
	}
	r = ctlwatch_loop(&wo, a->pos[1], dir, NULL, exec_once, (void *)a);
	free(dir);
	return r;
}
