/* cmd-start.c - `hotloadctl start`, `stop` and `restart` of targets (of
 * hotloadd itself without targets: cmd-daemon.c)
 *
 * The control ops return at once; a worker becomes ready (or fails) later,
 * so waiting is polling the status, with a spinner on a terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl-spinner.h"
#include "ctl.h"
#include "errfmt.h"

#define POLL_MS 100
#define START_TIMEOUT 300.0 /* a safety net: hooks have their startup_timeout */
#define STOP_TIMEOUT 30.0

enum wait_state {
	WAIT_PENDING,
	WAIT_DONE,
	WAIT_FAILED,
};

/* One target being waited for. */
struct waiting {
	char *name;          /* the daemon's name for it, "python:3" */
	json_int_t restarts; /* its restart count before our op */
	enum wait_state state;
	char what[64];     /* for the spinner: "starting", "stopping" */
	struct buf detail; /* ready: "worker 3, pid 4711"; failed: why */
};

/* The target called name in status, or NULL. */
static json_t *
find_target(json_t *status, const char *name)
{
	json_t *tg;
	size_t i;

	json_array_foreach(json_object_get(status, "targets"), i, tg)
	{
		if (!json_is_true(json_object_get(tg, "retired")) &&
		    !strcmp(ctl_str(tg, "target", ""), name))
			return tg;
	}
	return NULL;
}

/* A worker of tg in one of the states (NULL-terminated), or NULL. */
static json_t *
worker_in(json_t *tg, const char *const *states)
{
	json_t *w;
	size_t i, j;

	json_array_foreach(json_object_get(tg, "workers"), i, w)
	{
		for (j = 0; states[j]; j++)
			if (!strcmp(ctl_str(w, "state", ""), states[j]))
				return w;
	}
	return NULL;
}

/* Has the target of a start become ready, or failed? */
static void
check_started(struct waiting *wt, json_t *tg)
{
	static const char *const ready[] = {"idle", "busy", "interrupting", NULL};
	static const char *const starting[] = {"starting", NULL};
	const char *state = ctl_str(tg, "state", "ok");
	json_t *w;

	if (!tg) {
		wt->state = WAIT_FAILED;
		buf_puts(&wt->detail, "the target is gone (the configuration was reloaded?)");
		return;
	}
	w = worker_in(tg, ready);
	if (w) {
		wt->state = WAIT_DONE;
		buf_printf(&wt->detail,
		           "worker %" JSON_INTEGER_FORMAT ", pid %" JSON_INTEGER_FORMAT,
		           json_integer_value(json_object_get(w, "id")),
		           json_integer_value(json_object_get(w, "pid")));
		return;
	}
	if (!strcmp(state, "failed")) {
		wt->state = WAIT_FAILED;
		buf_puts(&wt->detail, ctl_str(tg, "failed_reason", "the target failed"));
		return;
	}
	/* A start that failed leaves the target backing off, and once that is
	 * over, idle without workers: the restart count tells. */
	if (!strcmp(state, "backoff") ||
	    (!worker_in(tg, starting) &&
	     json_integer_value(json_object_get(tg, "restarts")) > wt->restarts)) {
		wt->state = WAIT_FAILED;
		buf_printf(&wt->detail, "its worker did not start: %s",
		           ctl_str(tg, "last_exit", "no reason given"));
		return;
	}
	if (!worker_in(tg, starting)) {
		wt->state = WAIT_FAILED;
		buf_puts(&wt->detail, "no worker is starting (stopped meanwhile?)");
		return;
	}
	snprintf(wt->what, sizeof(wt->what), "starting");
}

/* Have the workers our stop hit exited? New ones (min_workers) may start. */
static void
check_stopped(struct waiting *wt, json_t *tg)
{
	static const char *const stopping[] = {"stopping", NULL};

	if (!tg || !worker_in(tg, stopping)) {
		wt->state = WAIT_DONE;
		return;
	}
	snprintf(wt->what, sizeof(wt->what), "stopping");
}

/* "waiting for slow:3 (starting), maya:2024 (starting)", for the spinner. */
static void
spin_text(struct waiting *wt, int n, struct buf *out)
{
	int i, k = 0;

	buf_puts(out, "waiting for");
	for (i = 0; i < n; i++)
		if (wt[i].state == WAIT_PENDING)
			buf_printf(out, "%s %s (%s)", k++ ? "," : "", wt[i].name,
			           wt[i].what[0] ? wt[i].what : "...");
}

/* Poll the status until no target is pending or the time is up. */
static int
wait_targets(struct ctlcontrol *cc, const struct ctl_opts *o, struct waiting *wt, int n,
             int stopping, double timeout)
{
	double deadline = ctl_now() + timeout;
	struct ctlspin spin;
	int i, r = 0, pending;

	ctlspin_init(&spin, o->quiet);
	ctlspin_catch_sigint(&spin);
	for (;;) {
		json_t *status = NULL;
		struct buf text = BUF_INIT;

		r = ctlcontrol_status(cc, &status);
		if (r)
			break;
		pending = 0;
		for (i = 0; i < n; i++) {
			if (wt[i].state != WAIT_PENDING)
				continue;
			if (stopping)
				check_stopped(&wt[i], find_target(status, wt[i].name));
			else
				check_started(&wt[i], find_target(status, wt[i].name));
			pending += wt[i].state == WAIT_PENDING;
		}
		json_decref(status);
		if (!pending || ctl_now() >= deadline)
			break;
		spin_text(wt, n, &text);
		ctlspin_set(&spin, "%s", text.data);
		buf_free(&text);
		ctl_sleep_ms(POLL_MS);
	}
	ctlspin_clear(&spin);
	for (i = 0; i < n && !r; i++)
		if (wt[i].state == WAIT_PENDING) {
			wt[i].state = WAIT_FAILED;
			buf_printf(&wt[i].detail, "still %s after %gs",
			           wt[i].what[0] ? wt[i].what : "waiting", timeout);
		}
	return r;
}

/* Say why a target did not start: its last error (the traceback of the
 * hook's initialize, say), else the last few lines it wrote, and where the
 * daemon that runs it logs (which may not be a daemon hotloadctl started). */
static void
show_failure(struct ctlcontrol *cc, const char *name)
{
	json_t *req = json_pack("{s:s, s:s, s:i}", "op", "logs", "target", name, "entries", 10);
	json_t *done = NULL, *status = NULL, *e;
	const char *last_error = NULL, *where = NULL;
	struct buf out = BUF_INIT;
	size_t i;

	if (ctlcontrol_status(cc, &status) == 0) {
		last_error = ctl_str(find_target(status, name), "last_error", NULL);
		where = ctl_str(json_object_get(status, "daemon"), "log", NULL);
	}
	if (last_error && *last_error) {
		buf_puts(&out, last_error);
	} else if (ctlcontrol_call(cc, req, &done) == 0) {
		json_array_foreach(json_object_get(done, "logs"), i, e)
		{
			buf_puts(&out, ctl_str(e, "data", ""));
		}
	}
	if (out.len) {
		if (out.data[out.len - 1] != '\n')
			buf_puts(&out, "\n");
		if (last_error)
			ctl_print(2, "hotloadctl: %s", out.data);
		else
			ctl_print(2, "hotloadctl: the last output of %s:\n%s", name, out.data);
	}
	if (where)
		ctl_err("more in the daemon's log: %s", where);
	buf_free(&out);
	json_decref(status);
	json_decref(done);
	json_decref(req);
}

/* Go through the op's answer: refused targets are said and left out of
 * the wait. Fills wt (names) and returns how many are usable in *ret_n. */
static int
take_results(json_t *done, const char *op, const char *const *targets, int n, json_t *before,
             struct waiting *wt, int *ret_n)
{
	json_t *results = json_object_get(done, "targets"), *res;
	int i, status = 0, m = 0;

	if (!json_is_array(results)) {
		struct buf msg = BUF_INIT;

		errfmt_summary(json_object_get(done, "error"), &msg);
		ctl_err("%s: %s", op, msg.data);
		status = ctl_error_exit(json_object_get(done, "error"));
		buf_free(&msg);
		*ret_n = 0;
		return status;
	}
	for (i = 0; i < n; i++) {
		json_t *tg;

		res = json_array_get(results, (size_t)i);
		if (!json_is_true(json_object_get(res, "ok"))) {
			struct buf msg = BUF_INIT;

			errfmt_summary(json_object_get(res, "error"), &msg);
			ctl_err("%s: %s", targets[i], msg.data);
			status = ctl_error_exit(json_object_get(res, "error"));
			buf_free(&msg);
			continue;
		}
		wt[m].name = xstrdup(ctl_str(res, "target", targets[i]));
		tg = before ? find_target(before, wt[m].name) : NULL;
		wt[m].restarts = json_integer_value(json_object_get(tg, "restarts"));
		m++;
	}
	*ret_n = m;
	return status;
}

/* Free the names and details. */
static void
waiting_free(struct waiting *wt, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(wt[i].name);
		buf_free(&wt[i].detail);
	}
	free(wt);
}

/* op "start" or "restart" of targets[0..n), then (unless o->no_wait) wait
 * until each has a ready worker, has failed, or o->timeout passed.
 * Returns 0 when all are ready, 1 when one is not, 4 when one was refused. */
static int
start_targets(const struct ctl_opts *o, const char *op, const char *const *targets, int n)
{
	struct waiting *wt = xcalloc((size_t)n, sizeof(*wt));
	struct ctlcontrol *cc = NULL;
	json_t *before = NULL, *done = NULL;
	int r, refused, m = 0, i;

	r = ctl_check_targets(targets, n);
	if (!r)
		r = ctlcontrol_open(o, 0, &cc);
	if (r)
		goto fail;
	/* The restart counts before the op tell a failed start from an old one. */
	r = ctlcontrol_status(cc, &before);
	if (r)
		goto fail;
	r = ctlcontrol_targets(cc, op, targets, n, &done);
	if (r)
		goto fail;
	refused = take_results(done, op, targets, n, before, wt, &m);
	if (o->no_wait) {
		for (i = 0; i < m; i++)
			if (!o->quiet)
				ctl_print(1, "%s: starting\n", wt[i].name);
		r = refused;
		goto fail;
	}
	r = wait_targets(cc, o, wt, m, 0, o->timeout > 0 ? o->timeout : START_TIMEOUT);
	if (r)
		goto fail;
	r = refused;
	for (i = 0; i < m; i++) {
		if (wt[i].state == WAIT_DONE) {
			if (!o->quiet)
				ctl_print(1, "%s: ready (%s)\n", wt[i].name, wt[i].detail.data);
			continue;
		}
		ctl_err("%s: %s", wt[i].name, wt[i].detail.data);
		show_failure(cc, wt[i].name);
		if (!r)
			r = CTL_EXIT_FAILED;
	}
fail:
	waiting_free(wt, m);
	json_decref(before);
	json_decref(done);
	ctlcontrol_free(cc);
	return r;
}

/* Stop the workers of targets[0..n) and (unless o->no_wait) wait until
 * they have exited. */
static int
stop_targets(const struct ctl_opts *o, const char *const *targets, int n)
{
	struct waiting *wt = xcalloc((size_t)n, sizeof(*wt));
	struct ctlcontrol *cc = NULL;
	json_t *done = NULL;
	int r, refused, m = 0, i;

	r = ctl_check_targets(targets, n);
	if (!r)
		r = ctlcontrol_open(o, 0, &cc);
	if (r)
		goto fail;
	r = ctlcontrol_targets(cc, "stop", targets, n, &done);
	if (r)
		goto fail;
	refused = take_results(done, "stop", targets, n, NULL, wt, &m);
	if (!o->no_wait) {
		r = wait_targets(cc, o, wt, m, 1, o->timeout > 0 ? o->timeout : STOP_TIMEOUT);
		if (r)
			goto fail;
	}
	r = refused;
	for (i = 0; i < m; i++) {
		if (wt[i].state == WAIT_FAILED) {
			ctl_err("%s: %s", wt[i].name, wt[i].detail.data);
			if (!r)
				r = CTL_EXIT_FAILED;
		} else if (!o->quiet)
			ctl_print(1, "%s: %s\n", wt[i].name, o->no_wait ? "stopping" : "stopped");
	}
fail:
	waiting_free(wt, m);
	json_decref(done);
	ctlcontrol_free(cc);
	return r;
}

/* start [TARGET...] */
int
cmd_start(const struct ctl_opts *o, const struct cmd_args *a)
{
	if (a->npos == 1)
		return cmd_daemon_start(o);
	return start_targets(o, "start", a->pos + 1, a->npos - 1);
}

/* stop [TARGET...] */
int
cmd_stop(const struct ctl_opts *o, const struct cmd_args *a)
{
	if (a->npos == 1)
		return cmd_daemon_stop(o);
	return stop_targets(o, a->pos + 1, a->npos - 1);
}

/* restart [TARGET...] */
int
cmd_restart(const struct ctl_opts *o, const struct cmd_args *a)
{
	if (a->npos == 1)
		return cmd_daemon_restart(o);
	return start_targets(o, "restart", a->pos + 1, a->npos - 1);
}
