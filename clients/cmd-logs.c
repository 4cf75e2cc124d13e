/* cmd-logs.c - `hotloadctl list`, `logs` and `reload` */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "ctl.h"
#include "errfmt.h"
#include "ctl-control.h"
#include "cmd-logs.h"
#include "ctl-table.h"

#define LOGS_ALL 1000000 /* entries: more than the daemon keeps */
#define LOGS_DEFAULT_LINES 200

enum { LCOL_HOOK, LCOL_ALIASES, LCOL_DEFAULT, LCOL_VERSION, LCOL_PATH, LCOL_SOURCE, LCOL_N };

/* Run one control request; its done in *ret_done when it is ok, else the
 * error is said and an exit status returned. */
static int
call_ok(const struct ctl_opts *o, json_t *req, const char *what, json_t **ret_done)
{
	struct ctlcontrol *cc = NULL;
	json_t *done = NULL;
	int r;

	r = ctlcontrol_open(o, 0, &cc);
	if (r)
		return r;
	r = ctlcontrol_call(cc, req, &done);
	ctlcontrol_free(cc);
	if (r)
		return r;
	if (!json_is_true(json_object_get(done, "ok"))) {
		json_t *e = json_object_get(done, "error");
		struct buf m = BUF_INIT;

		errfmt_summary(e, &m);
		ctl_err("%s: %s", what, m.data);
		buf_free(&m);
		r = ctl_error_exit(e);
		/* A bad configuration is not a refusal: the reload was tried. */
		if (!strcmp(ctl_str(e, "type", ""), "ConfigError"))
			r = CTL_EXIT_FAILED;
		json_decref(done);
		return r;
	}
	*ret_done = done;
	return 0;
}

/* Print a JSON value indented, with a newline. */
static void
print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));

	if (s) {
		ctl_print(1, "%s\n", s);
		free(s);
	}
}

/* The hook's rows: one per install, the hook's own cells on the first. */
static void
add_hook(struct ctltable *t, json_t *h)
{
	json_t *aliases = json_object_get(h, "aliases"), *installs = json_object_get(h, "installs");
	const char *row[LCOL_N];
	struct buf al = BUF_INIT;
	json_t *a, *in;
	size_t i;

	json_array_foreach(aliases, i, a)
	{
		if (json_is_string(a))
			buf_printf(&al, "%s%s", al.len ? "," : "", json_string_value(a));
	}
	row[LCOL_HOOK] = ctl_str(h, "name", "?");
	row[LCOL_ALIASES] = al.len ? al.data : "-";
	row[LCOL_DEFAULT] = ctl_str(h, "default_version", "newest");
	row[LCOL_SOURCE] = ctl_str(h, "source", "-");
	if (!json_array_size(installs)) {
		row[LCOL_VERSION] = "-";
		row[LCOL_PATH] = "(not installed)";
		ctltable_add(t, row);
	}
	json_array_foreach(installs, i, in)
	{
		row[LCOL_VERSION] = ctl_str(in, "version", "?");
		row[LCOL_PATH] = ctl_str(in, "path", "?");
		ctltable_add(t, row);
		row[LCOL_HOOK] = row[LCOL_ALIASES] = row[LCOL_DEFAULT] = row[LCOL_SOURCE] = "";
	}
	buf_free(&al);
}

/* list; see ctlinfo.h. */
int
ctlinfo_list(const struct ctl_opts *o)
{
	static const char *const header[LCOL_N] = {"HOOK",    "ALIASES", "DEFAULT",
	                                           "VERSION", "PATH",    "SOURCE"};
	json_t *req = json_pack("{s:s}", "op", "list"), *done = NULL, *hooks, *h;
	struct ctltable *t;
	struct buf out = BUF_INIT;
	size_t i;
	int r;

	r = call_ok(o, req, "list", &done);
	json_decref(req);
	if (r)
		return r;
	hooks = json_object_get(done, "hooks");
	if (o->json) {
		print_json(hooks);
		json_decref(done);
		return CTL_EXIT_OK;
	}
	t = ctltable_new(LCOL_N);
	ctltable_add(t, header);
	json_array_foreach(hooks, i, h)
	{
		add_hook(t, h);
	}
	ctltable_print(t, &out);
	ctl_write_all(1, out.data, out.len);
	ctltable_free(t);
	buf_free(&out);
	json_decref(done);
	return CTL_EXIT_OK;
}

/* A line of output put back together: the daemon keeps chunks as the
 * worker wrote them, and a chunk may end mid-line or hold many lines. */
struct logline {
	time_t time;
	json_int_t pid;
	const char *stream; /* "stdout" or "stderr", borrowed from the entry */
	struct buf text;
	int closed; /* ends with its '\n' */
};

/* Cut the entries into lines; returns how many are in *ret. */
static size_t
split_lines(json_t *logs, struct logline **ret)
{
	struct logline *v = NULL, *last;
	size_t n = 0, i;
	json_t *e;

	json_array_foreach(logs, i, e)
	{
		const char *stream = ctl_str(e, "stream", "?"), *p = ctl_str(e, "data", "");
		json_int_t pid = json_integer_value(json_object_get(e, "pid"));

		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

			last = n ? &v[n - 1] : NULL;
			/* The rest of a cut line comes from the same process and
			 * stream; anything else starts a new line. */
			if (!last || last->closed || last->pid != pid ||
			    strcmp(last->stream, stream)) {
				v = xrealloc(v, (n + 1) * sizeof(*v));
				last = &v[n++];
				memset(last, 0, sizeof(*last));
				last->time = (time_t)json_number_value(json_object_get(e, "time"));
				last->pid = pid;
				last->stream = stream;
			}
			buf_append(&last->text, p, len);
			last->closed = nl != NULL;
			p += len;
		}
	}
	*ret = v;
	return n;
}

/* Print lines[from..n), with "Mar 05 14:02:11 4711 stderr| " in front of
 * each when prefix is set. */
static void
print_lines(const struct logline *v, size_t from, size_t n, int prefix)
{
	struct buf out = BUF_INIT;
	size_t i;

	for (i = from; i < n; i++) {
		if (prefix) {
			char when[64];
			struct tm tm;

			if (!localtime_r(&v[i].time, &tm) ||
			    !strftime(when, sizeof(when), "%b %d %H:%M:%S", &tm))
				snprintf(when, sizeof(when), "?");
			buf_printf(&out, "%s %" JSON_INTEGER_FORMAT " %-6s| ", when, v[i].pid,
			           v[i].stream);
		}
		buf_append(&out, v[i].text.data, v[i].text.len);
		/* A cut line is ended when something else follows, and on a
		 * terminal at the very end too. */
		if (!v[i].closed && (i + 1 < n || prefix))
			buf_puts(&out, "\n");
	}
	if (out.len)
		ctl_write_all(1, out.data, out.len);
	buf_free(&out);
}

/* logs; see ctlinfo.h. */
int
ctlinfo_logs(const struct ctl_opts *o, const char *target)
{
	json_t *req, *done = NULL, *logs;
	struct logline *lines = NULL;
	size_t n, i, want;
	int r;

	if (ctl_check_target(target) < 0)
		return CTL_EXIT_USAGE;
	/* All the daemon keeps (a few dozen KiB): -n counts lines, which
	 * only whole output can tell. With --json it counts entries. */
	req = json_pack("{s:s, s:s, s:I}", "op", "logs", "target", target, "entries",
	                (json_int_t)(o->json && o->lines > 0 ? o->lines : LOGS_ALL));
	r = call_ok(o, req, target, &done);
	json_decref(req);
	if (r)
		return r;
	logs = json_object_get(done, "logs");
	if (o->json) {
		print_json(logs);
		json_decref(done);
		return CTL_EXIT_OK;
	}
	if (!json_array_size(logs))
		ctl_msg(o, "%s: no output recorded", target);
	n = split_lines(logs, &lines);
	want = o->lines < 0 ? LOGS_DEFAULT_LINES : o->lines == 0 ? n : (size_t)o->lines;
	print_lines(lines, n > want ? n - want : 0, n, isatty(STDOUT_FILENO));
	for (i = 0; i < n; i++)
		buf_free(&lines[i].text);
	free(lines);
	json_decref(done);
	return CTL_EXIT_OK;
}

/* reload; see ctlinfo.h. */
int
ctlinfo_reload(const struct ctl_opts *o)
{
	json_t *req = json_pack("{s:s}", "op", "reload"), *done = NULL;
	int r;

	r = call_ok(o, req, "reload failed, the running configuration is kept", &done);
	json_decref(req);
	if (r)
		return r;
	if (!o->quiet)
		ctl_print(1, "hotloadd reloaded its configuration\n");
	json_decref(done);
	return CTL_EXIT_OK;
}
