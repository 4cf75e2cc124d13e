/* itest_supervise.c - the restart policy: workers that crash mid-request,
 * targets that cannot start (backoff, the crash budget, failed and what
 * clears it), poison requests, and what status and logs report about it
 *
 * The daemon runs with short supervision settings (SUPERVISION below) so
 * that backoff and failure happen within seconds. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define JSON_HDR "python:3 mode=json"

#define SUPERVISION ITEST_SUPERVISION("1", "0.5")

#define PY_HOOK(name) ITEST_PY_HOOK(name)

/* Inline Python for a hook: DIR, the test's temporary directory, from the
 * hook's python_path (its own directory, DIR/hooks.d, by default). */
#define PY_DIR                                                                                     \
	"  import json, os, time\n"                                                                \
	"  DIR = os.path.dirname(json.loads(os.environ['HOTLOAD_HOOK'])['path'][0])\n"

/* initialize notes the time of every start attempt in DIR/attempts and
 * fails until DIR/fixed exists. min_workers: 1 makes the daemon try to
 * start it without any request. */
static const char *const loop_hooks[] = {
        "loop.yaml",
        PY_HOOK("loop") "min_workers: 1\n"
                        "initialize: |\n" PY_DIR
                        "  with open(os.path.join(DIR, 'attempts'), 'a') as f:\n"
                        "      f.write('%.6f\\n' % time.time())\n"
                        "  if not os.path.exists(os.path.join(DIR, 'fixed')):\n"
                        "      raise RuntimeError('licence server unreachable')\n",
        "exits.yaml",
        PY_HOOK("exits") "initialize: |\n"
                         "  import os\n"
                         "  os._exit(4)\n",
        NULL,
};

static const char exits_fixed[] = PY_HOOK("exits") "description: fixed\n";

static struct itest_daemon *
start_daemon(const char *const *hooks)
{
	struct itest_opts o = {.hooks = hooks, .extra_config = SUPERVISION};
	struct rlimit no_core = {0, 0};

	/* SIGSEGV in a worker must not leave a core file in the build tree */
	setrlimit(RLIMIT_CORE, &no_core);
	return itest_start(&o);
}

static json_int_t
error_int(const struct jreply *r, const char *key)
{
	json_t *v = json_object_get(json_object_get(r->done, "error"), key);

	ck_assert_msg(json_is_integer(v), "error.%s is not an integer", key);
	return json_integer_value(v);
}

static json_int_t
int_member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "\"%s\" is not an integer", key);
	return json_integer_value(v);
}

/* workers[i] of a target's status (borrowed from t). */
static json_t *
worker_at(json_t *t, size_t i)
{
	json_t *w = json_array_get(json_object_get(t, "workers"), i);

	ck_assert_msg(w != NULL, "the target lists fewer than %zu workers", i + 1);
	return w;
}

/* A crash mid-request: the client gets WorkerDied with how it ended and
 * the end of its stderr; requests pipelined behind it on other connections
 * run on the next worker. */
static void
crash_with_queue(const char *crash, int sig, int status)
{
	struct itest_daemon *d = start_daemon(NULL);
	struct jclient *a = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *b = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply ra, rb1, rb2, rc;
	long pid1 = jc_worker_pid(a, 1);
	char *code = itest_strf("import os, sys, time\nprint('about to crash')\n"
	                        "print('last words', file=sys.stderr)\ntime.sleep(0.5)\n%s",
	                        crash);
	char *last;
	json_t *t;

	jc_send_exec(a, 2, code, 0);
	itest_sleep_ms(150);
	/* queued behind it: two on b (pipelined), one on c */
	jc_send_exec(b, 1, "import os\nprint(os.getpid())", 0);
	jc_send_exec(b, 2, "x = 6 * 7\nprint(x)", 0);
	jc_send_exec(c, 1, "import os\nprint(os.getpid())", 0);

	jc_collect(a, 2, 0, &ra);
	jreply_assert_error(&ra, "WorkerDied");
	ck_assert_int_eq(error_int(&ra, "signal"), sig);
	ck_assert_int_eq(error_int(&ra, "exit_status"), status);
	ck_assert_str_eq(ra.out, "about to crash\n");
	itest_assert_contains(jreply_error_str(&ra, "stderr_tail"), "last words\n");
	itest_assert_contains(jreply_error_str(&ra, "message"), "while running this request");
	if (sig)
		itest_assert_contains(jreply_error_str(&ra, "message"), "killed by signal");
	else
		itest_assert_contains(jreply_error_str(&ra, "message"), "exited with status");

	jc_collect(b, 1, 0, &rb1);
	jc_collect(b, 2, 0, &rb2);
	jc_collect(c, 1, 0, &rc);
	jreply_assert_ok(&rb1);
	jreply_assert_ok(&rb2);
	jreply_assert_ok(&rc);
	ck_assert_int_ne(atol(rb1.out), pid1);
	ck_assert_int_gt(atol(rb1.out), 0);
	ck_assert_int_eq(atol(rc.out), atol(rb1.out)); /* one new worker */
	ck_assert_str_eq(rb2.out, "42\n");
	ck_assert(itest_wait_gone((pid_t)pid1, 5000));

	/* status: one restart, and how the last worker ended */
	t = itest_target_status(d, "python:3");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(int_member(t, "restarts"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(t, "state")), "ok");
	last = sig ? itest_strf("killed by signal %d (%s)", sig, strsignal(sig))
	           : itest_strf("exited with status %d", status);
	ck_assert_str_eq(json_string_value(json_object_get(t, "last_exit")) ?: "(null)", last);
	ck_assert_int_eq(int_member(worker_at(t, 0), "pid"), atol(rb1.out));
	json_decref(t);

	free(last);
	free(code);
	jreply_free(&ra);
	jreply_free(&rb1);
	jreply_free(&rb2);
	jreply_free(&rc);
	jc_close(a);
	jc_close(b);
	jc_close(c);
	itest_stop(d);
}

START_TEST(sigsegv_mid_request)
{
	crash_with_queue("os.kill(os.getpid(), 11)", SIGSEGV, 0);
}
END_TEST

START_TEST(exit_mid_request)
{
	crash_with_queue("os._exit(3)", 0, 3);
}
END_TEST

/* The start times initialize wrote, in seconds; returns how many. */
static size_t
read_attempts(const struct itest_daemon *d, double *t, size_t max)
{
	char *path = itest_strf("%s/attempts", d->dir);
	char *s = itest_read_file(path, NULL), *p = s, *end;
	size_t n = 0;

	while (p && *p && n < max) {
		t[n] = strtod(p, &end);
		if (end == p)
			break;
		n++;
		p = end;
	}
	free(s);
	free(path);
	return n;
}

/* A hook whose initialize fails: started again after growing delays, then
 * failed after crash_budget start-up failures; requests are refused until
 * hotloadctl start, which tries again (and works once the cause is gone). */
START_TEST(crash_loop_backoff_then_failed)
{
	struct itest_daemon *d = start_daemon(loop_hooks);
	long long end = itest_now_ms() + 20000;
	int saw_backoff = 0, saw_failed = 0;
	double t[16], delay[4];
	struct jclient *c;
	struct jreply r;
	json_t *st, *res, *fields;
	char *reply, *fixed, *reason, *log, *p;
	size_t n, i;

	/* min_workers: 1 starts it with the daemon; watch it fail */
	while (!saw_failed && itest_now_ms() < end) {
		const char *state;

		st = itest_target_status(d, "loop:1");
		state = st ? json_string_value(json_object_get(st, "state")) : "";
		if (!strcmp(state, "backoff")) {
			json_t *left = json_object_get(st, "backoff_s");

			ck_assert_msg(json_is_number(left) && json_number_value(left) > 0 &&
			                      json_number_value(left) < 5.5,
			              "backoff without a sensible backoff_s");
			saw_backoff = 1;
		} else if (!strcmp(state, "failed"))
			saw_failed = 1;
		json_decref(st);
		itest_sleep_ms(20);
	}
	ck_assert_msg(saw_failed, "loop:1 never reached the failed state");
	ck_assert_msg(saw_backoff, "status never showed loop:1 in backoff");

	/* four attempts (crash_budget 4); before the 2nd, 3rd and 4th the
	 * daemon waited 0.2, 0.4 and 0.8 s (each ±10%), as it logged; the
	 * time between attempts adds how long each start took */
	n = read_attempts(d, t, 16);
	ck_assert_msg(n == 4, "expected 4 start attempts (crash_budget 4), got %zu", n);
	log = itest_daemon_log(d);
	for (i = 0, p = log; i < 4 && (p = strstr(p, "loop:1: next start in ")); i++, p++)
		ck_assert(sscanf(p, "loop:1: next start in %lf s", &delay[i]) == 1);
	free(log);
	ck_assert_msg(i == 3, "expected 3 backoff delays in the log, found %zu", i);
	ck_assert_msg(delay[0] >= 0.1 && delay[0] <= 0.3 && delay[1] >= 0.3 && delay[1] <= 0.5 &&
	                      delay[2] >= 0.7 && delay[2] <= 0.9,
	              "backoff delays do not double from 0.2 s: %.1f %.1f %.1f", delay[0], delay[1],
	              delay[2]);
	for (i = 0; i < 3; i++)
		ck_assert_msg(t[i + 1] - t[i] >= 0.2 * (1 << i) * 0.9 - 0.01,
		              "attempt %zu came %.3f s after the one before, within its backoff",
		              i + 2, t[i + 1] - t[i]);

	reason = itest_target_str(d, "loop:1", "failed_reason");
	itest_assert_contains(reason, "4 start-up failures within 60 s");
	itest_assert_contains(reason, "hotloadctl start loop:1");
	free(reason);
	reason = itest_target_str(d, "loop:1", "last_exit");
	ck_assert_str_eq(reason, "exited with status 1");
	free(reason);
	reason = itest_target_str(d, "loop:1", "last_error"); /* with the traceback */
	itest_assert_contains(reason, "RuntimeError: licence server unreachable");
	free(reason);

	/* failed: refused at once, JSON and raw, and not retried */
	c = jc_open(d, ITEST_UNIX, "loop mode=json");
	jc_call(c, 1, "exec", "print(1)", &r);
	jreply_assert_error(&r, "TargetFailed");
	itest_assert_contains(jreply_error_str(&r, "message"), "hotloadctl start loop:1");
	jreply_free(&r);
	reply = itest_raw(d, ITEST_UNIX, "loop", "print(1)\n");
	ck_assert_msg(!strncmp(reply, "ERRORS: \nTargetFailed: ", 23), "%s", reply);
	free(reply);

	/* the cause goes away; failed stays until start */
	fixed = itest_strf("%s/fixed", d->dir);
	itest_write_file(fixed, "", 0);
	free(fixed);
	itest_sleep_ms(1200);
	ck_assert_int_eq(read_attempts(d, t, 16), 4);
	jc_call(c, 2, "exec", "print(1)", &r);
	jreply_assert_error(&r, "TargetFailed");
	jreply_free(&r);

	fields = json_pack("{s:s}", "target", "loop");
	res = itest_control_with(d, "start", fields);
	json_decref(fields);
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "start loop failed");
	ck_assert_str_eq(json_string_value(json_object_get(
	                         json_array_get(json_object_get(res, "targets"), 0), "target")),
	                 "loop:1");
	json_decref(res);
	jc_call(c, 3, "exec", "print('up again')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "up again\n");
	jreply_free(&r);
	ck_assert_int_eq(read_attempts(d, t, 16), 5);
	st = itest_target_status(d, "loop:1");
	ck_assert_str_eq(json_string_value(json_object_get(st, "state")), "ok");
	ck_assert_ptr_null(json_object_get(st, "failed_reason"));
	ck_assert_ptr_null(json_object_get(st, "last_error"));
	json_decref(st);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* backoff_max caps the doubling: 0.2, then 0.3 (not 0.4) and 0.3. */
START_TEST(backoff_capped_at_max)
{
	struct itest_opts o = {.hooks = loop_hooks,
	                       .extra_config = "supervision:\n"
	                                       "  backoff_initial: 0.2\n"
	                                       "  backoff_max: 0.3\n"
	                                       "  crash_budget: 4\n"
	                                       "  crash_window: 60\n"};
	struct itest_daemon *d = itest_start(&o);
	double delay[4];
	char *log, *p;
	size_t i;

	ck_assert(itest_wait_target_state(d, "loop:1", "failed", 20000));
	log = itest_daemon_log(d);
	for (i = 0, p = log; i < 4 && (p = strstr(p, "loop:1: next start in ")); i++, p++)
		ck_assert(sscanf(p, "loop:1: next start in %lf s", &delay[i]) == 1);
	free(log);
	ck_assert_msg(i == 3, "expected 3 backoff delays in the log, found %zu", i);
	ck_assert_msg(delay[0] >= 0.1 && delay[0] <= 0.3 && delay[1] >= 0.2 && delay[1] <= 0.4 &&
	                      delay[2] >= 0.2 && delay[2] <= 0.4,
	              "backoff_max 0.3 does not cap the delays: %.1f %.1f %.1f", delay[0], delay[1],
	              delay[2]);
	itest_stop(d);
}
END_TEST

/* An interpreter that exits during start-up (no "failed" message): every
 * waiting request hears why, then failed; fixing the hook file and
 * reloading brings it back. */
START_TEST(start_exit_failed_then_reload)
{
	struct itest_daemon *d = start_daemon(loop_hooks);
	struct jclient *c = jc_open(d, ITEST_UNIX, "exits mode=json");
	struct jreply r;
	json_t *res;
	char *reason;
	int i;

	for (i = 1; i <= 4; i++) {
		jc_call(c, i, "exec", "print(1)", &r);
		jreply_assert_error(&r, "WorkerStartFailed");
		itest_assert_contains(jreply_error_str(&r, "message"),
		                      "exited with status 4 before it was ready");
		jreply_free(&r);
	}
	reason = itest_target_str(d, "exits:1", "state");
	ck_assert_str_eq(reason, "failed");
	free(reason);
	jc_call(c, 5, "exec", "print(1)", &r);
	jreply_assert_error(&r, "TargetFailed");
	jreply_free(&r);

	itest_write_hook(d, "exits.yaml", exits_fixed);
	res = itest_control(d, "reload");
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "reload failed");
	json_decref(res);
	/* a new connection: one opened before the reload is another story
	 * (itest_signals.c, connection_from_before_reload) */
	jc_close(c);
	c = jc_open(d, ITEST_UNIX, "exits mode=json");
	jc_call(c, 6, "exec", "print('fixed')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "fixed\n");
	jreply_free(&r);
	reason = itest_target_str(d, "exits:1", "state");
	ck_assert_str_eq(reason, "ok");
	free(reason);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* The same code crashing its worker twice is refused the third time;
 * other code still runs; restart forgets. */
START_TEST(poison_request)
{
	struct itest_daemon *d = start_daemon(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	const char *poison = "import os\nos.kill(os.getpid(), 9)";
	struct jreply r;
	json_t *fields, *res;
	long pid1, pid2;
	char *reply;

	jc_call(c, 1, "exec", poison, &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	jc_call(c, 2, "exec", poison, &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	jc_call(c, 3, "exec", poison, &r);
	jreply_assert_error(&r, "RequestRefused");
	itest_assert_contains(jreply_error_str(&r, "message"), "hotloadctl restart python:3");
	jreply_free(&r);
	/* raw mode sends the same code as an exec: refused too */
	reply = itest_raw(d, ITEST_UNIX, "python:3", poison);
	ck_assert_msg(!strncmp(reply, "ERRORS: \nRequestRefused: ", 25), "%s", reply);
	free(reply);

	/* different code runs (a crash while busy is not an early exit: no
	 * backoff in the way) */
	pid1 = jc_worker_pid(c, 4);

	fields = json_pack("{s:s}", "target", "python:3");
	res = itest_control_with(d, "restart", fields);
	json_decref(fields);
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "restart failed");
	json_decref(res);
	pid2 = jc_worker_pid(c, 5);
	ck_assert_int_ne(pid1, pid2);
	ck_assert(itest_wait_gone((pid_t)pid1, 5000));
	/* forgotten: it runs (and crashes) again */
	jc_call(c, 6, "exec", poison, &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* crash_budget crashes of ready workers (different code each time) within
 * crash_window: failed, until start. */
START_TEST(crash_budget_of_running_workers)
{
	struct itest_daemon *d = start_daemon(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	json_t *fields, *res;
	char *s;
	int i;

	for (i = 1; i <= 4; i++) {
		char *code = itest_strf("import os\nos._exit(%d)", 10 + i);

		jc_call(c, i, "exec", code, &r);
		jreply_assert_error(&r, "WorkerDied");
		jreply_free(&r);
		free(code);
	}
	s = itest_target_str(d, "python:3", "state");
	ck_assert_str_eq(s, "failed");
	free(s);
	s = itest_target_str(d, "python:3", "failed_reason");
	itest_assert_contains(s, "4 crashes within 60 s (last: exited with status 14)");
	free(s);
	jc_call(c, 5, "exec", "print(1)", &r);
	jreply_assert_error(&r, "TargetFailed");
	jreply_free(&r);

	fields = json_pack("{s:s}", "target", "python:3");
	res = itest_control_with(d, "start", fields);
	json_decref(fields);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	jc_call(c, 6, "exec", "print('back')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "back\n");
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* A worker that exits on its own while idle, soon after it was ready, is
 * an early exit: the target waits out a backoff before the next start. */
START_TEST(early_exit_while_idle_backs_off)
{
	struct itest_daemon *d = start_daemon(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long pid1 = jc_worker_pid(c, 1), pid2;
	json_t *t;

	jc_call(c, 2, "exec", "import os, threading\nthreading.Timer(0.3, os._exit, (5,)).start()",
	        &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)pid1, 5000));
	ck_assert_msg(itest_wait_file_contains(d->log, "python:3: next start in", 5000),
	              "no backoff after an idle worker exited on its own");
	pid2 = jc_worker_pid(c, 3);
	ck_assert_int_ne(pid1, pid2);
	t = itest_target_status(d, "python:3");
	ck_assert_int_eq(int_member(t, "restarts"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(t, "last_exit")),
	                 "exited with status 5");
	json_decref(t);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* status matches what the worker itself says. */
START_TEST(status_matches_reality)
{
	struct itest_daemon *d = start_daemon(NULL);
	struct jclient *a = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *b = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r, rb1, rb2;
	json_t *t, *w, *all, *daemon;
	long pid, pid2;
	double up1, up2;
	json_t *m;

	pid = jc_worker_pid(a, 1);
	jc_call(a, 2, "exec", "x = 1", &r);
	jreply_free(&r);
	jc_call(a, 3, "eval", "x + 1", &r);
	jreply_free(&r);

	all = itest_control(d, "status");
	daemon = json_object_get(json_object_get(all, "status"), "daemon");
	ck_assert_int_eq(int_member(daemon, "pid"), d->pid);
	json_decref(all);

	t = itest_target_status(d, "python:3");
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(json_string_value(json_object_get(t, "state")), "ok");
	ck_assert_str_eq(json_string_value(json_object_get(t, "hook")), "python");
	ck_assert_int_eq(int_member(t, "restarts"), 0);
	ck_assert_int_eq(int_member(t, "queue"), 0);
	ck_assert(json_is_null(json_object_get(t, "last_exit")));
	ck_assert_uint_eq(json_array_size(json_object_get(t, "workers")), 1);
	w = worker_at(t, 0);
	ck_assert_int_eq(int_member(w, "pid"), pid);
	ck_assert_int_gt(int_member(w, "pgid"), 0);
	ck_assert_int_eq(int_member(w, "requests"), 3);
	ck_assert_int_gt(int_member(w, "rss_bytes"), 1 << 20);
	ck_assert_str_eq(json_string_value(json_object_get(w, "state")), "idle");
	up1 = json_number_value(json_object_get(w, "uptime_s"));
	ck_assert(up1 > 0);
	/* the process group the daemon signals is the worker's */
	ck_assert_int_eq(getpgid((pid_t)pid), int_member(w, "pgid"));
	json_decref(t);

	itest_sleep_ms(300);
	t = itest_target_status(d, "python:3");
	up2 = json_number_value(json_object_get(worker_at(t, 0), "uptime_s"));
	ck_assert_msg(up2 >= up1 + 0.25, "uptime went from %g to %g in 300 ms", up1, up2);
	json_decref(t);

	/* busy, with two requests waiting behind it */
	jc_send_exec(a, 4, "import time\nprint('in', flush=True)\ntime.sleep(1.5)", 0);
	m = jc_next_output(a, 0);
	json_decref(m);
	jc_send_exec(b, 1, "pass", 0);
	jc_send_exec(b, 2, "pass", 0);
	itest_sleep_ms(200);
	t = itest_target_status(d, "python:3");
	ck_assert_int_eq(int_member(t, "queue"), 2);
	ck_assert_str_eq(json_string_value(json_object_get(worker_at(t, 0), "state")), "busy");
	json_decref(t);
	jc_collect(a, 4, 0, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_collect(b, 1, 0, &rb1);
	jc_collect(b, 2, 0, &rb2);
	jreply_free(&rb1);
	jreply_free(&rb2);
	t = itest_target_status(d, "python:3");
	ck_assert_int_eq(int_member(t, "queue"), 0);
	ck_assert_int_eq(int_member(worker_at(t, 0), "requests"), 6);
	json_decref(t);

	/* after a crash: a restart, the exit, a new pid, a fresh count */
	jc_call(a, 5, "exec", "import os\nos.kill(os.getpid(), 9)", &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	pid2 = jc_worker_pid(a, 6);
	t = itest_target_status(d, "python:3");
	ck_assert_int_eq(int_member(t, "restarts"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(t, "last_exit")),
	                 "killed by signal 9 (Killed)");
	ck_assert_int_eq(int_member(worker_at(t, 0), "pid"), pid2);
	ck_assert_int_eq(int_member(worker_at(t, 0), "requests"), 1);
	json_decref(t);
	jc_close(a);
	jc_close(b);
	itest_stop(d);
}
END_TEST

/* logs keeps what workers print, during requests and between them. */
START_TEST(logs_during_and_between)
{
	struct itest_daemon *d = start_daemon(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	json_t *fields, *res, *logs, *e, *last;
	long pid;
	size_t i;
	int during = 0, between_out = 0, between_err = 0;
	double now = (double)time(NULL);

	pid = jc_worker_pid(c, 1);
	jc_call(c, 2, "exec", "print('during-request')", &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_call(c, 3, "exec",
	        "import sys, threading\n"
	        "def later():\n"
	        "    print('between-requests', flush=True)\n"
	        "    print('between-stderr', file=sys.stderr, flush=True)\n"
	        "threading.Timer(0.2, later).start()",
	        &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, ""); /* not this request's output */
	jreply_free(&r);
	ck_assert_msg(itest_wait_file_contains(d->log, "between-stderr", 5000),
	              "output between requests did not reach the daemon's log");

	fields = json_pack("{s:s}", "target", "python:3");
	res = itest_control_with(d, "logs", fields);
	json_decref(fields);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	logs = json_object_get(res, "logs");
	ck_assert(json_is_array(logs));
	json_array_foreach(logs, i, e)
	{
		const char *data = json_string_value(json_object_get(e, "data")) ?: "";
		const char *stream = json_string_value(json_object_get(e, "stream")) ?: "";
		double t = json_number_value(json_object_get(e, "time"));

		ck_assert_int_eq(int_member(e, "pid"), pid);
		ck_assert_msg(t > now - 60 && t < now + 60, "log entry time %f", t);
		if (strstr(data, "during-request") && !strcmp(stream, "stdout"))
			during = 1;
		if (strstr(data, "between-requests") && !strcmp(stream, "stdout"))
			between_out = 1;
		if (strstr(data, "between-stderr") && !strcmp(stream, "stderr"))
			between_err = 1;
	}
	ck_assert_msg(during && between_out && between_err,
	              "logs lacks output: during %d, between stdout %d, stderr %d", during,
	              between_out, between_err);
	last = json_incref(json_array_get(logs, json_array_size(logs) - 1));
	json_decref(res);

	/* entries: the newest only (nothing printed since) */
	fields = json_pack("{s:s, s:i}", "target", "python:3", "entries", 1);
	res = itest_control_with(d, "logs", fields);
	json_decref(fields);
	logs = json_object_get(res, "logs");
	ck_assert_uint_eq(json_array_size(logs), 1);
	ck_assert(json_equal(json_array_get(logs, 0), last));
	json_decref(last);
	json_decref(res);
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("supervise");
	TCase *tc = tcase_create("supervise");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sigsegv_mid_request);
	tcase_add_test(tc, exit_mid_request);
	tcase_add_test(tc, crash_loop_backoff_then_failed);
	tcase_add_test(tc, backoff_capped_at_max);
	tcase_add_test(tc, start_exit_failed_then_reload);
	tcase_add_test(tc, poison_request);
	tcase_add_test(tc, crash_budget_of_running_workers);
	tcase_add_test(tc, early_exit_while_idle_backs_off);
	tcase_add_test(tc, status_matches_reality);
	tcase_add_test(tc, logs_during_and_between);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
