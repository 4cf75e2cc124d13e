/* cmd-logs.c - `hotloadctl logs`: the recent output of a target's workers */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cmd-logs.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl.h"

#define LOGS_ALL 1000000 /* entries: more than the daemon keeps */
#define LOGS_DEFAULT_LINES 200

/* Cut the entries into lines; see cmd-logs.h. */
size_t
cmd_logs_split(json_t *logs, struct cmd_logline **ret)
{
	struct cmd_logline *v = NULL, *last;
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
print_lines(const struct cmd_logline *v, size_t from, size_t n, int prefix)
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

/* logs TARGET */
int
cmd_logs(const struct ctl_opts *o, const struct cmd_args *a)
{
	const char *target = a->pos[1];
	json_t *req, *done = NULL, *logs;
	struct cmd_logline *lines = NULL;
	size_t n, i, want;
	int r;

	if (a->npos < 2)
		return ctl_usage("logs", "missing TARGET");
	if (a->npos > 2)
		return ctl_usage("logs", "unexpected argument '%s'", a->pos[2]);
	if (ctl_check_target(target))
		return CTL_EXIT_USAGE;
	/* All the daemon keeps (a few dozen KiB): -n counts lines, which
	 * only whole output can tell. With --json it counts entries. */
	req = json_pack("{s:s, s:s, s:I}", "op", "logs", "target", target, "entries",
	                (json_int_t)(o->json && o->lines > 0 ? o->lines : LOGS_ALL));
	r = ctlcontrol_call_ok(o, req, target, &done);
	json_decref(req);
	if (r)
		return r;
	logs = json_object_get(done, "logs");
	if (o->json) {
		ctl_print_json(logs);
		json_decref(done);
		return CTL_EXIT_OK;
	}
	if (!json_array_size(logs))
		ctl_msg(o, "%s: no output recorded", target);
	n = cmd_logs_split(logs, &lines);
	want = o->lines < 0 ? LOGS_DEFAULT_LINES : o->lines == 0 ? n : (size_t)o->lines;
	print_lines(lines, n > want ? n - want : 0, n, isatty(STDOUT_FILENO));
	for (i = 0; i < n; i++)
		buf_free(&lines[i].text);
	free(lines);
	json_decref(done);
	return CTL_EXIT_OK;
}
