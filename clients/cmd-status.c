/* cmd-status.c - `hotloadctl status`: the status control op, as a table */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd-status.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl-table.h"
#include "ctl.h"
#include "version.h"

enum {
	COL_TARGET,
	COL_WORKER,
	COL_STATE,
	COL_PID,
	COL_UPTIME,
	COL_REQUESTS,
	COL_RSS,
	COL_QUEUE,
	COL_RESTARTS,
	COL_LAST_EXIT,
	NCOL
};

static const char *const col_names[NCOL] = {"TARGET",   "WORKER", "STATE", "PID",      "UPTIME",
                                            "REQUESTS", "RSS",    "QUEUE", "RESTARTS", "LAST EXIT"};

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
	else
		snprintf(out, outlen, "-");
}

/* Seconds as "4m12s", "-" when missing. */
static void
fmt_secs(json_t *v, char *out, size_t outlen)
{
	if (json_is_number(v))
		ctl_fmt_duration(json_number_value(v), out, outlen);
	else
		snprintf(out, outlen, "-");
}

/* Resident memory in MiB, "-" when unknown (0). */
static void
fmt_rss(json_t *v, char *out, size_t outlen)
{
	double mib = json_is_number(v) ? json_number_value(v) / (1024.0 * 1024.0) : 0;

	if (mib > 0)
		snprintf(out, outlen, "%.1fM", mib);
	else
		snprintf(out, outlen, "-");
}

/* spawn: fork: the row of the interpreter the workers are forked from, if
 * it runs; its state is "template", or "template (starting)" and so on. */
static void
add_template(struct ctltable *t, json_t *tg, char cells[NCOL][256], const char **row)
{
	json_t *w = json_object_get(tg, "template");
	const char *state = ctl_str(w, "state", "?");

	if (!json_is_object(w))
		return;
	fmt_value(json_object_get(w, "id"), cells[COL_WORKER], 256);
	fmt_value(json_object_get(w, "pid"), cells[COL_PID], 256);
	snprintf(cells[COL_REQUESTS], 256, "-");
	fmt_secs(json_object_get(w, "uptime_s"), cells[COL_UPTIME], 256);
	fmt_rss(json_object_get(w, "rss_bytes"), cells[COL_RSS], 256);
	if (!strcmp(state, "idle"))
		snprintf(cells[COL_STATE], 256, "template");
	else
		snprintf(cells[COL_STATE], 256, "template (%s)", state);
	ctltable_add(t, row);
}

/* The rows of one target: one per worker, or one without a worker, and its
 * template. */
static void
add_target(struct ctltable *t, json_t *tg)
{
	const char *state = ctl_str(tg, "state", "ok");
	int retired = json_is_true(json_object_get(tg, "retired"));
	json_t *workers = json_object_get(tg, "workers");
	char cells[NCOL][256];
	const char *row[NCOL];
	size_t i, n = json_array_size(workers);

	for (i = 0; i < NCOL; i++)
		row[i] = cells[i];
	fmt_value(json_object_get(tg, "target"), cells[COL_TARGET], sizeof(cells[0]));
	fmt_value(json_object_get(tg, "queue"), cells[COL_QUEUE], sizeof(cells[0]));
	fmt_value(json_object_get(tg, "restarts"), cells[COL_RESTARTS], sizeof(cells[0]));
	fmt_value(json_object_get(tg, "last_exit"), cells[COL_LAST_EXIT], sizeof(cells[0]));
	for (i = 0; i < n || (i == 0 && n == 0); i++) {
		json_t *w = json_array_get(workers, i);

		fmt_value(json_object_get(w, "id"), cells[COL_WORKER], sizeof(cells[0]));
		fmt_value(json_object_get(w, "pid"), cells[COL_PID], sizeof(cells[0]));
		fmt_value(json_object_get(w, "requests"), cells[COL_REQUESTS], sizeof(cells[0]));
		fmt_secs(json_object_get(w, "uptime_s"), cells[COL_UPTIME], sizeof(cells[0]));
		fmt_rss(json_object_get(w, "rss_bytes"), cells[COL_RSS], sizeof(cells[0]));
		/* A target that is not ok says so rather than its workers. */
		snprintf(cells[COL_STATE], sizeof(cells[0]), "%s%s",
		         strcmp(state, "ok")                          ? state
		         : json_is_true(json_object_get(w, "paused")) ? "paused"
		         : w                                          ? ctl_str(w, "state", "?")
		                                                      : "stopped",
		         retired ? " (retired)" : "");
		ctltable_add(t, row);
	}
	add_template(t, tg, cells, row);
}

/* What the table cannot show: why a target is failed or backing off. */
static void
add_notes(json_t *tg, struct buf *out)
{
	const char *name = ctl_str(tg, "target", "?");
	const char *state = ctl_str(tg, "state", "ok");
	json_t *backoff = json_object_get(tg, "backoff_s");
	json_t *w;
	size_t i;

	if (!strcmp(state, "failed")) {
		const char *why =
		        ctl_str(tg, "failed_reason", "failed; 'hotloadctl start' clears it");

		/* The daemon's reason names the target already. */
		if (!strncmp(why, name, strlen(name)) && why[strlen(name)] == ' ')
			buf_printf(out, "%s\n", why);
		else
			buf_printf(out, "%s: %s\n", name, why);
	}
	if (!strcmp(state, "backoff"))
		buf_printf(out, "%s: backing off, next start in %.1fs (last exit: %s)\n", name,
		           json_is_number(backoff) ? json_number_value(backoff) : 0.0,
		           ctl_str(tg, "last_exit", "?"));
	json_array_foreach(json_object_get(tg, "workers"), i, w)
	{
		if (!json_is_string(json_object_get(w, "session")))
			continue;
		buf_printf(out, "%s: worker %lld (pid %lld) is leased to debug session '%s'%s\n",
		           name, (long long)json_integer_value(json_object_get(w, "id")),
		           (long long)json_integer_value(json_object_get(w, "pid")),
		           ctl_str(w, "session", "?"),
		           json_is_true(json_object_get(w, "paused")) ? ", stopped in the debugger"
		                                                      : "");
	}
	if (json_is_true(json_object_get(tg, "retired")))
		buf_printf(out,
		           "%s (retired): its hook changed at a reload; its workers stop when "
		           "their requests are done\n",
		           name);
}

/* The header line and the table of targets; see cmd-status.h. */
void
cmd_status_table(json_t *status, json_t *targets, const char *missing, struct buf *out)
{
	json_t *daemon = json_object_get(status, "daemon");
	json_t *conns = json_object_get(daemon, "connections");
	struct ctltable *t;
	struct buf notes = BUF_INIT;
	char up[64], pid[32];
	size_t i;

	fmt_secs(json_object_get(daemon, "uptime_s"), up, sizeof(up));
	fmt_value(json_object_get(daemon, "pid"), pid, sizeof(pid));
	buf_printf(out, "hotloadd %s, pid %s, up %s", ctl_str(daemon, "version", "?"), pid, up);
	if (json_is_integer(conns))
		buf_printf(out, ", %" JSON_INTEGER_FORMAT " connection%s",
		           json_integer_value(conns), json_integer_value(conns) == 1 ? "" : "s");
	buf_puts(out, "\n");
	if (!json_array_size(targets) && !missing) {
		buf_puts(out, "no targets yet: one appears with its first request, or with "
		              "'hotloadctl start TARGET'\n");
		return;
	}
	t = ctltable_new(NCOL);
	ctltable_add(t, col_names);
	for (i = 0; i < json_array_size(targets); i++) {
		add_target(t, json_array_get(targets, i));
		add_notes(json_array_get(targets, i), &notes);
	}
	if (missing) {
		const char *row[NCOL] = {missing, NULL, "stopped"};

		ctltable_add(t, row);
	}
	ctltable_print(t, out);
	ctltable_free(t);
	if (notes.len)
		buf_append(out, notes.data, notes.len);
	buf_free(&notes);
}

/* Whether hook (a hook object of the list op) is called dcc. */
static int
hook_named(json_t *hook, const char *dcc)
{
	json_t *aliases = json_object_get(hook, "aliases"), *a;
	size_t i;

	if (!strcmp(ctl_str(hook, "name", ""), dcc))
		return 1;
	json_array_foreach(aliases, i, a)
	{
		if (json_is_string(a) && !strcmp(json_string_value(a), dcc))
			return 1;
	}
	return 0;
}

/* The hook name dcc stands for: itself when a target has that hook,
 * else looked up in the daemon's hooks. */
static int
hook_name(struct ctlcontrol *cc, json_t *targets, const char *dcc, char **ret)
{
	json_t *done = NULL, *tg, *h;
	size_t i;
	int r;

	json_array_foreach(targets, i, tg)
	{
		if (!strcmp(ctl_str(tg, "hook", ""), dcc)) {
			*ret = xstrdup(dcc);
			return 0;
		}
	}
	r = ctlcontrol_op(cc, "list", &done);
	if (r)
		return r;
	json_array_foreach(json_object_get(done, "hooks"), i, h)
	{
		if (hook_named(h, dcc)) {
			*ret = xstrdup(ctl_str(h, "name", dcc));
			json_decref(done);
			return 0;
		}
	}
	json_decref(done);
	ctl_err("unknown DCC '%s'; 'hotloadctl list' shows the known ones", dcc);
	return CTL_EXIT_REFUSED;
}

/* Pick the targets target means; see cmd-status.h. The daemon resolves a
 * version against the installs, we only against running targets, by the
 * same rule: "3" matches "3" and "3.11", as in a header. */
int
cmd_status_match(struct ctlcontrol *cc, json_t *status, const char *target, json_t **ret_targets)
{
	json_t *targets = json_object_get(status, "targets"), *tg, *out;
	const char *colon = strchr(target, ':');
	const char *version = colon ? colon + 1 : "";
	char *dcc = colon ? xstrndup(target, (size_t)(colon - target)) : xstrdup(target);
	char *hook = NULL;
	size_t i;
	int r;

	out = json_array();
	json_array_foreach(targets, i, tg)
	{
		if (!strcmp(ctl_str(tg, "target", ""), target))
			json_array_append(out, tg);
	}
	if (json_array_size(out))
		goto done;
	r = hook_name(cc, targets, dcc, &hook);
	if (r) {
		json_decref(out);
		free(dcc);
		return r;
	}
	json_array_foreach(targets, i, tg)
	{
		const char *v = ctl_str(tg, "version", "");

		if (strcmp(ctl_str(tg, "hook", ""), hook))
			continue;
		if (version_match(v, version))
			json_array_append(out, tg);
	}
done:
	free(hook);
	free(dcc);
	*ret_targets = out;
	return 0;
}

/* status [TARGET]: the daemon's status as a table, or with o->json as the
 * status object; only target's rows when there is one. 1 when a target
 * shown has failed. */
int
cmd_status(const struct ctl_opts *o, const struct cmd_args *a)
{
	const char *target = a->npos == 2 ? a->pos[1] : NULL;
	struct ctlcontrol *cc = NULL;
	json_t *status = NULL, *targets = NULL, *tg;
	struct buf out = BUF_INIT;
	size_t i;
	int r, failed = 0;

	if (a->npos > 2)
		return ctl_usage("status", "unexpected argument '%s'", a->pos[2]);
	if (target && ctl_check_target(target))
		return CTL_EXIT_USAGE;
	r = ctlcontrol_open(o, 0, &cc);
	if (r)
		return r;
	r = ctlcontrol_status(cc, &status);
	if (r)
		goto fail;
	if (target) {
		r = cmd_status_match(cc, status, target, &targets);
		if (r)
			goto fail;
		json_object_set(status, "targets", targets);
	} else
		targets = json_incref(json_object_get(status, "targets"));
	json_array_foreach(targets, i, tg)
	{
		if (!strcmp(ctl_str(tg, "state", ""), "failed"))
			failed = 1;
	}
	if (o->json) {
		char *s = json_dumps(status, JSON_INDENT(2) | JSON_REAL_PRECISION(12));

		buf_puts(&out, s);
		buf_puts(&out, "\n");
		free(s);
	} else
		cmd_status_table(status, targets,
		                 target && !json_array_size(targets) ? target : NULL, &out);
	ctl_write_all(1, out.data, out.len);
	r = failed ? CTL_EXIT_FAILED : CTL_EXIT_OK;
fail:
	buf_free(&out);
	json_decref(targets);
	json_decref(status);
	ctlcontrol_free(cc);
	return r;
}
