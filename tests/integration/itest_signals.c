/* itest_signals.c - the daemon's own signals and configuration reloads:
 * SIGTERM/SIGINT stop gracefully (teardown runs, running requests end),
 * a second one forces the exit; SIGHUP and the control op reload replace
 * changed hooks' workers, keep unchanged ones, and keep the running
 * configuration when the new one is bad */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

/* stop_grace is long enough for a 1 s request to finish on its own. */
#define SUPERVISION(stop_grace) ITEST_SUPERVISION(stop_grace, "0.5")

#define PY_HOOK(name) ITEST_PY_HOOK(name)

/* uninitialize appends a line to DIR/teardown (DIR from the hook's
 * python_path, DIR/hooks.d by default). */
#define TIDY_HOOK                                                                                  \
	PY_HOOK("tidy")                                                                            \
	"uninitialize: |\n"                                                                        \
	"  import json, os\n"                                                                      \
	"  DIR = os.path.dirname(json.loads(os.environ['HOTLOAD_HOOK'])['path'][0])\n"             \
	"  with open(os.path.join(DIR, 'teardown'), 'a') as f:\n"                                  \
	"      f.write('uninitialize\\n')\n"

static const char *const signal_hooks[] = {
        "tidy.yaml",
        TIDY_HOOK,
        "stuck.yaml",
        PY_HOOK("stuck") "uninitialize: |\n"
                         "  import time\n"
                         "  time.sleep(30)\n",
        "alpha.yaml",
        PY_HOOK("alpha") "env:\n  HL_MARK: \"1\"\n",
        "beta.yaml",
        PY_HOOK("beta") "env:\n  HL_MARK: \"1\"\n",
        NULL,
};

static const char alpha_2[] = PY_HOOK("alpha") "env:\n  HL_MARK: \"2\"\n";
static const char alpha_broken[] = PY_HOOK("alpha") "env:\n  HL_MARK: \"3\"\nbogus_key: 1\n";

static struct itest_daemon *
start_daemon(const char *supervision)
{
	struct itest_opts o = {.hooks = signal_hooks, .extra_config = supervision};

	return itest_start(&o);
}

/* Wait for the first line of output of a request (it runs); a line may
 * come in several chunks. */
static void
wait_running(struct jclient *c)
{
	const char *data = "";

	do {
		json_t *m = jc_next_output(c, 0);

		ck_assert_msg(m != NULL, "the connection closed before the request ran");
		ck_assert_str_eq(json_string_value(json_object_get(m, "event")), "stdout");
		data = json_string_value(json_object_get(m, "data")) ?: "";
		data = *data && data[strlen(data) - 1] == '\n' ? "\n" : "";
		json_decref(m);
	} while (!*data);
}

/* Wait for the daemon to exit; returns the wait status (asserts it does
 * within deadline_ms, else kills it). */
static int
wait_exit(struct itest_daemon *d, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			d->pid = 0;
			return status;
		}
		if (itest_now_ms() >= end) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
			d->pid = 0;
			ck_abort_msg("hotloadd did not exit within %d ms", deadline_ms);
		}
		itest_sleep_ms(10);
	}
}

static char *
teardown_log(const struct itest_daemon *d)
{
	char *path = itest_strf("%s/teardown", d->dir);
	char *s = itest_read_file(path, NULL);

	free(path);
	return s ? s : strdup("");
}

/* The daemon has exited: its worker's teardown ran, once, and the worker
 * is gone. Closes c and frees d. */
static void
assert_torn_down(struct itest_daemon *d, struct jclient *c, long pid)
{
	char *log = teardown_log(d);

	ck_assert_str_eq(log, "uninitialize\n");
	free(log);
	ck_assert(!itest_pid_alive((pid_t)pid));
	jc_close(c);
	itest_free(d);
}

/* SIGTERM while a request runs: the request runs to its end (within
 * stop_grace), then teardown, then exit 0. */
START_TEST(sigterm_lets_running_request_finish)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("5"));
	struct jclient *c = jc_open(d, ITEST_UNIX, "tidy mode=json");
	long pid = jc_worker_pid(c, 1);
	struct jreply r;
	int status;

	jc_send_exec(c, 2, "import time\nprint('start', flush=True)\ntime.sleep(1)\nprint('end')",
	             0);
	wait_running(c);
	status = itest_terminate(d, 15000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "hotloadd ended with status 0x%x after SIGTERM", status);
	jc_collect(c, 2, 5000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "end\n");
	jreply_free(&r);
	jc_expect_eof(c, 5000);
	assert_torn_down(d, c, pid);
}
END_TEST

/* SIGINT is as graceful as SIGTERM; a request longer than stop_grace is
 * ended with SIGTERM (Terminated), teardown still runs, exit 0. */
START_TEST(sigint_ends_long_request_gracefully)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("0.5"));
	struct jclient *c = jc_open(d, ITEST_UNIX, "tidy mode=json");
	long pid = jc_worker_pid(c, 1);
	long long t0;
	struct jreply r;
	int status;

	jc_send_exec(c, 2, "import time\nprint('start', flush=True)\ntime.sleep(30)", 0);
	wait_running(c);
	t0 = itest_now_ms();
	ck_assert_int_eq(kill(d->pid, SIGINT), 0);
	status = wait_exit(d, 10000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "hotloadd ended with status 0x%x after SIGINT", status);
	ck_assert_msg(itest_now_ms() - t0 < 5000, "stopping took %lld ms", itest_now_ms() - t0);
	jc_collect(c, 2, 5000, &r);
	jreply_assert_error(&r, "Terminated");
	jreply_free(&r);
	assert_torn_down(d, c, pid);
}
END_TEST

/* A second SIGTERM while the first waits for a slow teardown: exit now,
 * non-zero; the worker goes too (it dies with its daemon). */
START_TEST(second_signal_forces_exit)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("20"));
	struct jclient *c = jc_open(d, ITEST_UNIX, "stuck mode=json");
	long pid = jc_worker_pid(c, 1);
	long long t0;
	int status;

	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	itest_sleep_ms(700);
	ck_assert_msg(itest_pid_alive(d->pid), "hotloadd did not wait for the teardown");
	ck_assert(itest_wait_file_contains(d->log, "stopping workers and exiting", 2000));
	t0 = itest_now_ms();
	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	status = wait_exit(d, 5000);
	ck_assert_msg(itest_now_ms() - t0 < 3000, "the forced exit took %lld ms",
	              itest_now_ms() - t0);
	ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) != 0,
	              "a forced exit should not be status 0");
	ck_assert(itest_wait_file_contains(d->log, "exiting without waiting for workers", 1000));
	ck_assert_msg(itest_wait_gone((pid_t)pid, 5000),
	              "worker %ld outlived its daemon's forced exit", pid);
	jc_close(c);
	itest_free(d);
}
END_TEST

/* control op shutdown: ok, then a graceful exit 0 with teardown. */
START_TEST(control_shutdown)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("5"));
	struct jclient *c = jc_open(d, ITEST_UNIX, "tidy mode=json");
	long pid = jc_worker_pid(c, 1);
	json_t *res;
	int status;

	res = itest_control(d, "shutdown");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	status = wait_exit(d, 10000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "hotloadd ended with status 0x%x after shutdown", status);
	assert_torn_down(d, c, pid);
}
END_TEST

/* pid and HL_MARK of target's worker, over a new connection. */
static long
pid_and_mark(const struct itest_daemon *d, const char *target, char *mark, size_t mark_size)
{
	char *hdr = itest_strf("%s mode=json", target);
	struct jclient *c = jc_open(d, ITEST_UNIX, hdr);
	struct jreply r;
	long pid;

	jc_call(c, 1, "exec", "import os\nprint(os.getpid(), os.environ.get('HL_MARK'))", &r);
	jreply_assert_ok(&r);
	ck_assert_msg(sscanf(r.out, "%ld %15s", &pid, mark) == 2, "got \"%s\"", r.out);
	ck_assert_uint_lt(strlen(mark), mark_size);
	jreply_free(&r);
	jc_close(c);
	free(hdr);
	return pid;
}

/* The reloads the daemon logged so far. */
static size_t
reloads(const struct itest_daemon *d, const char *what)
{
	char *log = itest_daemon_log(d);
	size_t n = itest_count(log, what);

	free(log);
	return n;
}

/* SIGHUP: a changed hook gets new workers, an unchanged one keeps its
 * own; a bad file keeps the running configuration. */
START_TEST(sighup_reload)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("1"));
	char mark[16];
	long a1, a2, b1;
	size_t n;

	a1 = pid_and_mark(d, "alpha", mark, sizeof(mark));
	ck_assert_str_eq(mark, "1");
	b1 = pid_and_mark(d, "beta", mark, sizeof(mark));

	itest_write_hook(d, "alpha.yaml", alpha_2);
	n = reloads(d, "configuration reloaded");
	ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
	ck_assert_msg(itest_wait_file_count(d->log, "configuration reloaded", n + 1, 5000),
	              "no reload logged after SIGHUP");
	ck_assert(itest_wait_file_contains(d->log, "alpha:1 changed", 1000));
	a2 = pid_and_mark(d, "alpha", mark, sizeof(mark));
	ck_assert_str_eq(mark, "2");
	ck_assert_int_ne(a1, a2);
	ck_assert_msg(itest_wait_gone((pid_t)a1, 5000), "alpha's old worker was not stopped");
	ck_assert_int_eq(pid_and_mark(d, "beta", mark, sizeof(mark)), b1);

	/* a bad hook file: logged, the old configuration keeps serving */
	itest_write_hook(d, "alpha.yaml", alpha_broken);
	n = reloads(d, "reload failed");
	ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
	ck_assert_msg(itest_wait_file_count(d->log, "reload failed", n + 1, 5000),
	              "no reload failure logged after SIGHUP with a bad hook file");
	ck_assert_msg(itest_wait_file_contains(d->log, "bogus_key", 1000),
	              "the log does not say what is wrong");
	ck_assert(itest_pid_alive(d->pid));
	ck_assert_int_eq(pid_and_mark(d, "alpha", mark, sizeof(mark)), a2);
	ck_assert_str_eq(mark, "2");
	ck_assert_int_eq(pid_and_mark(d, "beta", mark, sizeof(mark)), b1);
	itest_stop(d);
}
END_TEST

/* Control reload: ConfigError for a bad hotloadd.yaml or hook file, ok
 * for a good one; listener changes wait for a restart. */
START_TEST(control_reload)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("1"));
	char *good = itest_read_file(d->config, NULL), *bad, *moved;
	char mark[16];
	long a1, b1;
	json_t *res;
	const char *type, *msg;

	ck_assert_ptr_nonnull(good);
	a1 = pid_and_mark(d, "alpha", mark, sizeof(mark));
	b1 = pid_and_mark(d, "beta", mark, sizeof(mark));

	bad = itest_strf("%sbogus_setting: 1\n", good);
	itest_write_file(d->config, bad, strlen(bad));
	res = itest_control(d, "reload");
	type = json_string_value(json_object_get(json_object_get(res, "error"), "type"));
	msg = json_string_value(json_object_get(json_object_get(res, "error"), "message"));
	ck_assert(json_is_false(json_object_get(res, "ok")));
	ck_assert_str_eq(type ?: "", "ConfigError");
	itest_assert_contains(msg, "bogus_setting");
	itest_assert_contains(msg, "hotloadd.yaml");
	json_decref(res);
	free(bad);

	itest_write_file(d->config, good, strlen(good));
	itest_write_hook(d, "alpha.yaml", alpha_broken);
	res = itest_control(d, "reload");
	type = json_string_value(json_object_get(json_object_get(res, "error"), "type"));
	msg = json_string_value(json_object_get(json_object_get(res, "error"), "message"));
	ck_assert_str_eq(type ?: "", "ConfigError");
	itest_assert_contains(msg, "alpha.yaml");
	json_decref(res);
	/* still the old configuration, the same workers */
	ck_assert_int_eq(pid_and_mark(d, "alpha", mark, sizeof(mark)), a1);
	ck_assert_str_eq(mark, "1");
	ck_assert_int_eq(pid_and_mark(d, "beta", mark, sizeof(mark)), b1);

	/* a good one; the Unix socket moved in the file but not in fact */
	itest_write_hook(d, "alpha.yaml", alpha_2);
	moved = itest_strf("listen:\n  unix: \"%s/elsewhere.sock\"\n  tcp: \"\"\n%s", d->dir,
	                   strstr(good, "hooks_dirs:"));
	itest_write_file(d->config, moved, strlen(moved));
	res = itest_control(d, "reload");
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "a good reload failed");
	json_decref(res);
	ck_assert(itest_wait_file_contains(d->log, "take effect when hotloadd restarts", 2000));
	ck_assert_int_ne(pid_and_mark(d, "alpha", mark, sizeof(mark)), a1);
	ck_assert_str_eq(mark, "2");
	ck_assert_int_eq(pid_and_mark(d, "beta", mark, sizeof(mark)), b1);
	free(moved);
	free(good);
	itest_stop(d);
}
END_TEST

/* A reload while a changed hook's worker is busy: the request finishes on
 * the old worker (listed as retired), new requests go to a new one. */
START_TEST(reload_drains_busy_worker)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("5"));
	struct jclient *c = jc_open(d, ITEST_UNIX, "alpha mode=json");
	long a1 = jc_worker_pid(c, 1);
	char mark[16];
	struct jreply r;
	json_t *res, *st, *targets, *t;
	size_t i;
	int retired = 0;

	jc_send_exec(c, 2,
	             "import os, time\nprint('start', flush=True)\ntime.sleep(1.5)\n"
	             "print(os.getpid(), os.environ['HL_MARK'])",
	             0);
	wait_running(c);
	itest_write_hook(d, "alpha.yaml", alpha_2);
	res = itest_control(d, "reload");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);

	st = itest_control(d, "status");
	targets = json_object_get(json_object_get(st, "status"), "targets");
	json_array_foreach(targets, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "target")) ?: "", "alpha:1") ||
		    !json_is_true(json_object_get(t, "retired")))
			continue;
		retired = 1;
		ck_assert_int_eq(json_integer_value(json_object_get(
		                         json_array_get(json_object_get(t, "workers"), 0), "pid")),
		                 a1);
	}
	ck_assert_msg(retired, "no retired alpha:1 in the status while its worker drains");
	json_decref(st);

	ck_assert_int_ne(pid_and_mark(d, "alpha", mark, sizeof(mark)), a1);
	ck_assert_str_eq(mark, "2");
	jc_collect(c, 2, 10000, &r);
	jreply_assert_ok(&r);
	{
		char *want = itest_strf("%ld 1\n", a1);

		ck_assert_str_eq(r.out, want);
		free(want);
	}
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)a1, 5000));
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* A JSON connection opened before a reload that changed its hook, used
 * after the reload: the request runs on the new hook's worker (HL_MARK 2),
 * as on a new connection.
 *
 * Regression: connections kept the pool their header was routed to; the
 * reload retired it and freed it once drained, and the next request on the
 * connection was "AddressSanitizer: heap-use-after-free ... in pool_submit"
 * (conn_json_line -> pool_submit) and the daemon aborted. Fixed in 0799adb
 * (the pool is looked up for every request). */
START_TEST(connection_from_before_reload)
{
	struct itest_daemon *d = start_daemon(SUPERVISION("1"));
	struct jclient *c = jc_open(d, ITEST_UNIX, "alpha mode=json");
	long a1 = jc_worker_pid(c, 1);
	struct jreply r;
	json_t *res;

	itest_write_hook(d, "alpha.yaml", alpha_2);
	res = itest_control(d, "reload");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	ck_assert(itest_wait_gone((pid_t)a1, 5000));
	itest_sleep_ms(200); /* the retired pool is freed on the next loop turn */

	jc_call(c, 2, "exec", "import os\nprint(os.environ['HL_MARK'])", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "2\n");
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("signals");
	TCase *tc = tcase_create("signals");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sigterm_lets_running_request_finish);
	tcase_add_test(tc, sigint_ends_long_request_gracefully);
	tcase_add_test(tc, second_signal_forces_exit);
	tcase_add_test(tc, control_shutdown);
	tcase_add_test(tc, sighup_reload);
	tcase_add_test(tc, control_reload);
	tcase_add_test(tc, reload_drains_busy_worker);
	tcase_add_test(tc, connection_from_before_reload);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
