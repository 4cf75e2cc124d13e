/* ctlstatus.c - `hotloadctl status`: one control request, printed as a table */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "ctl.h"
#include "ctlreq.h"
#include "ctlstatus.h"

/* The control connection's header names this instead of a DCC. */
#define CONTROL_TARGET "hotload"

enum {
	COL_TARGET,
	COL_QUEUE,
	COL_WORKER,
	COL_STATE,
	COL_PID,
	COL_UPTIME,
	COL_REQUESTS,
	COL_EXECUTABLE,
	NCOL
};

static const char *const col_names[NCOL] = {"TARGET", "QUEUE",  "WORKER",   "STATE",
                                            "PID",    "UPTIME", "REQUESTS", "EXECUTABLE"};

/* Rows of text cells, printed with every column as wide as its widest cell. */
struct table {
	char **cells; /* nrow * NCOL */
	size_t nrow;
};

/* Add a row; takes copies of the cells. */
static void
table_add(struct table *t, char *const row[NCOL])
{
	size_t i;

	t->cells = xrealloc(t->cells, (t->nrow + 1) * NCOL * sizeof(*t->cells));
	for (i = 0; i < NCOL; i++)
		t->cells[t->nrow * NCOL + i] = xstrdup(row[i]);
	t->nrow++;
}

/* Print the table into out, the last column unpadded. */
static void
table_print(const struct table *t, struct buf *out)
{
	size_t width[NCOL] = {0};
	size_t r, i;

	for (r = 0; r < t->nrow; r++)
		for (i = 0; i < NCOL; i++) {
			size_t w = strlen(t->cells[r * NCOL + i]);

			if (w > width[i])
				width[i] = w;
		}
	for (r = 0; r < t->nrow; r++)
		for (i = 0; i < NCOL; i++) {
			const char *cell = t->cells[r * NCOL + i];

			if (i == NCOL - 1)
				buf_printf(out, "%s\n", cell);
			else
				buf_printf(out, "%-*s  ", (int)width[i], cell);
		}
}

/* Free the cells. */
static void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrow * NCOL; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrow = 0;
}

/* A short duration: "42s", "3m05s", "2h03m", "4d07h". */
static void
fmt_duration(double secs, char *out, size_t outlen)
{
	long s = (long)secs;

	if (secs < 0)
		snprintf(out, outlen, "-");
	else if (s < 60)
		snprintf(out, outlen, "%lds", s);
	else if (s < 3600)
		snprintf(out, outlen, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, outlen, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, outlen, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
}

/* A JSON scalar as cell text, "-" when missing. */
static void
fmt_value(json_t *v, char *out, size_t outlen)
{
	if (json_is_string(v))
		snprintf(out, outlen, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, outlen, "%.1f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(out, outlen, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(out, outlen, "-");
}

/* Fill the worker columns of row from worker w (NULL: no worker). */
static void
fill_worker(char cells[NCOL][256], json_t *w)
{
	json_t *up = json_object_get(w, "uptime_s");

	fmt_value(json_object_get(w, "id"), cells[COL_WORKER], sizeof(cells[0]));
	fmt_value(json_object_get(w, "state"), cells[COL_STATE], sizeof(cells[0]));
	fmt_value(json_object_get(w, "pid"), cells[COL_PID], sizeof(cells[0]));
	fmt_value(json_object_get(w, "requests"), cells[COL_REQUESTS], sizeof(cells[0]));
	if (json_is_number(up))
		fmt_duration(json_number_value(up), cells[COL_UPTIME], sizeof(cells[0]));
	else
		snprintf(cells[COL_UPTIME], sizeof(cells[0]), "-");
}

/* The status object as a daemon line and a table of one row per worker. */
static void
print_table(json_t *status, struct buf *out)
{
	json_t *daemon = json_object_get(status, "daemon");
	json_t *targets = json_object_get(status, "targets");
	json_t *up = json_object_get(daemon, "uptime_s");
	struct table t = {NULL, 0};
	char cells[NCOL][256], *row[NCOL];
	size_t i, j;

	fmt_value(json_object_get(daemon, "version"), cells[0], sizeof(cells[0]));
	fmt_value(json_object_get(daemon, "pid"), cells[1], sizeof(cells[0]));
	if (json_is_number(up))
		fmt_duration(json_number_value(up), cells[2], sizeof(cells[0]));
	else
		snprintf(cells[2], sizeof(cells[2]), "-");
	buf_printf(out, "hotloadd %s, pid %s, up %s\n", cells[0], cells[1], cells[2]);
	if (!json_array_size(targets)) {
		buf_puts(out, "no targets\n");
		return;
	}

	for (i = 0; i < NCOL; i++)
		row[i] = (char *)col_names[i];
	table_add(&t, row);
	for (i = 0; i < NCOL; i++)
		row[i] = cells[i];
	for (i = 0; i < json_array_size(targets); i++) {
		json_t *tg = json_array_get(targets, i);
		json_t *workers = json_object_get(tg, "workers");

		fmt_value(json_object_get(tg, "target"), cells[COL_TARGET], sizeof(cells[0]));
		fmt_value(json_object_get(tg, "queue"), cells[COL_QUEUE], sizeof(cells[0]));
		fmt_value(json_object_get(tg, "executable"), cells[COL_EXECUTABLE],
		          sizeof(cells[0]));
		if (!json_array_size(workers)) {
			fill_worker(cells, NULL);
			table_add(&t, row);
		}
		for (j = 0; j < json_array_size(workers); j++) {
			fill_worker(cells, json_array_get(workers, j));
			table_add(&t, row);
		}
	}
	table_print(&t, out);
	table_free(&t);
}

/* "done" of the status request. */
static int
on_status_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	const int *as_json = userdata;
	json_t *status = json_object_get(done, "status");
	json_t *e = json_object_get(done, "error");
	struct buf out = BUF_INIT;
	char *s;

	if (!json_is_true(json_object_get(done, "ok"))) {
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *message = json_string_value(json_object_get(e, "message"));

		ctl_msg(o, "status: %s: %s", type ? type : "Error", message ? message : "failed");
		return CTL_EXIT_FAILED;
	}
	if (!json_is_object(status)) {
		ctl_msg(o, "status: the daemon's answer has no status");
		return CTL_EXIT_UNREACHABLE;
	}
	if (*as_json) {
		s = json_dumps(status, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
		buf_puts(&out, s);
		buf_puts(&out, "\n");
		free(s);
	} else
		print_table(status, &out);
	ctl_write_all(1, out.data, out.len);
	buf_free(&out);
	return CTL_EXIT_OK;
}

/* status; see ctlstatus.h. */
int
ctlstatus_show(const struct ctl_opts *o)
{
	struct ctl_opts copy = *o;
	int as_json = o->json;
	json_t *req = json_object();
	int r;

	/* --json here means the status object, not the raw event lines. */
	copy.json = 0;
	json_object_set_new(req, "op", json_string("status"));
	r = ctlreq_run(&copy, CONTROL_TARGET, req, on_status_done, &as_json);
	json_decref(req);
	return r;
}
