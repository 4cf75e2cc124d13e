/* itest_crash.c - workers that die, fail to start or outlive their daemon */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define JSON_HDR "python:3 mode=json"

/* Wait until pid is gone; 1, or 0 at the deadline. */
static int
wait_gone(long pid, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;

	while (itest_pid_alive((pid_t)pid)) {
		if (itest_now_ms() >= end)
			return 0;
		itest_sleep_ms(20);
	}
	return 1;
}

static json_int_t
error_int(const struct jreply *r, const char *key)
{
	json_t *v = json_object_get(json_object_get(r->done, "error"), key);

	ck_assert_msg(json_is_integer(v), "error.%s is not an integer", key);
	return json_integer_value(v);
}

START_TEST(killed_by_signal)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long pid1, pid2;

	pid1 = jc_worker_pid(c, 1);
	jc_call(c, 2, "exec",
	        "import os, signal, sys\nprint('before')\nsys.stdout.flush()\n"
	        "os.kill(os.getpid(), signal.SIGKILL)",
	        &r);
	jreply_assert_error(&r, "WorkerDied");
	ck_assert_int_eq(error_int(&r, "signal"), SIGKILL);
	ck_assert_str_eq(r.out, "before\n"); /* printed before it died: not lost */
	jreply_free(&r);
	ck_assert(wait_gone(pid1, 5000));

	/* the daemon keeps serving: a new worker, same connection */
	pid2 = jc_worker_pid(c, 3);
	ck_assert_int_ne(pid1, pid2);
	jc_call(c, 4, "exec", "print('after')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "after\n");
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(exits_with_status)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long pid1;
	char *reply;

	pid1 = jc_worker_pid(c, 1);
	jc_call(c, 2, "exec", "import os\nos._exit(3)", &r);
	jreply_assert_error(&r, "WorkerDied");
	ck_assert_int_eq(error_int(&r, "exit_status"), 3);
	ck_assert_int_eq(error_int(&r, "signal"), 0);
	ck_assert_str_ne(jreply_error_str(&r, "message"), "");
	jreply_free(&r);
	ck_assert_int_ne(jc_worker_pid(c, 3), pid1);

	/* raw mode: the output so far, then the error */
	reply = itest_raw(d, ITEST_UNIX, "python:3",
	                  "import os, sys\nprint('partial')\nsys.stdout.flush()\nos._exit(7)\n");
	ck_assert_msg(!strncmp(reply, "OUTPUT: \npartial\nERRORS: \n", 26), "%s", reply);
	itest_assert_contains(reply, "WorkerDied");
	free(reply);
	reply = itest_raw(d, ITEST_UNIX, "python:3", "print('fine')\n");
	ck_assert_str_eq(reply, "OUTPUT: \nfine\n");
	free(reply);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Requests queued behind one that kills its worker run on the next one. */
START_TEST(queued_requests_survive)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *a = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *b = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply ra, rb;
	long pid1;

	pid1 = jc_worker_pid(a, 1);
	jc_send_line(a, "{\"id\":2,\"op\":\"exec\",\"code\":\"import os, time\\n"
	                "time.sleep(0.4)\\nos._exit(1)\"}");
	itest_sleep_ms(100);
	jc_send_line(b, "{\"id\":1,\"op\":\"exec\",\"code\":\"import os\\nprint(os.getpid())\"}");
	jc_collect(a, 2, 0, &ra);
	jreply_assert_error(&ra, "WorkerDied");
	jc_collect(b, 1, 30000, &rb);
	jreply_assert_ok(&rb);
	ck_assert_int_ne(atol(rb.out), pid1);
	ck_assert_int_ne(atol(rb.out), 0);
	jreply_free(&ra);
	jreply_free(&rb);
	jc_close(a);
	jc_close(b);
	itest_stop(d);
}
END_TEST

static const char *const broken_hooks[] = {
        "broken.yaml",
        "name: broken\n"
        "hints:\n"
        "  linux:\n"
        "    - path: python3\n"
        "      version: \"1\"\n"
        "initialize: |\n"
        "  raise RuntimeError('licence server unreachable')\n",
        "slow.yaml",
        "name: slow\n"
        "hints:\n"
        "  linux:\n"
        "    - path: python3\n"
        "      version: \"1\"\n"
        "startup_timeout: 1\n"
        "initialize: |\n"
        "  import time\n"
        "  time.sleep(60)\n",
        "gone.yaml",
        "name: gone\n"
        "hints:\n"
        "  linux:\n"
        "    - path: python3\n"
        "      version: \"1\"\n"
        "argv: [\"{executable}\", \"-c\", \"import sys; sys.exit(5)\"]\n",
        NULL,
};

START_TEST(start_failures)
{
	struct itest_opts o = {.hooks = broken_hooks};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *good = jc_open(d, ITEST_UNIX, JSON_HDR), *c;
	struct jreply r;
	long long t0;
	char *reply;

	/* initialize raises: the error says why */
	c = jc_open(d, ITEST_UNIX, "broken mode=json");
	jc_call(c, 1, "exec", "print(1)", &r);
	jreply_assert_error(&r, "WorkerStartFailed");
	ck_assert_msg(
	        strstr(jreply_error_str(&r, "message"), "licence server unreachable") ||
	                strstr(jreply_error_str(&r, "traceback"), "licence server unreachable"),
	        "the start error does not carry the initialize error: %s / %s",
	        jreply_error_str(&r, "message"), jreply_error_str(&r, "traceback"));
	jreply_free(&r);
	jc_close(c);
	reply = itest_raw(d, ITEST_UNIX, "broken", "print(1)\n");
	ck_assert_msg(!strncmp(reply, "ERRORS: \n", 9), "%s", reply);
	itest_assert_contains(reply, "licence server unreachable");
	itest_assert_not_contains(reply, "OUTPUT");
	free(reply);

	/* initialize never ends: startup_timeout */
	c = jc_open(d, ITEST_UNIX, "slow mode=json");
	t0 = itest_now_ms();
	jc_call_with(c, 1, "exec", "print(1)", NULL, 15000, &r);
	jreply_assert_error(&r, "WorkerStartFailed");
	itest_assert_contains(jreply_error_str(&r, "message"), "startup_timeout");
	ck_assert_msg(itest_now_ms() - t0 < 10000, "startup_timeout 1 took %lld ms",
	              itest_now_ms() - t0);
	jreply_free(&r);
	jc_close(c);

	/* the interpreter exits before it is ready */
	c = jc_open(d, ITEST_UNIX, "gone mode=json");
	jc_call(c, 1, "exec", "print(1)", &r);
	jreply_assert_error(&r, "WorkerStartFailed");
	jreply_free(&r);
	jc_close(c);

	/* python:3 is not affected */
	jc_call(good, 1, "exec", "print('ok')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "ok\n");
	jreply_free(&r);
	jc_close(good);
	itest_stop(d);
}
END_TEST

/* SIGTERM while a request runs: the request ends, the workers stop, the
 * daemon exits 0. */
START_TEST(sigterm_while_busy)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);
	long long t0;
	json_t *m;

	jc_send_line(c, "{\"id\":2,\"op\":\"exec\",\"code\":\"import time\\nprint('start')\\n"
	                "time.sleep(1.5)\\nprint('end')\"}");
	m = jc_next_output(c, 0); /* it runs */
	ck_assert_ptr_nonnull(m);
	json_decref(m);
	t0 = itest_now_ms();
	itest_stop_within(d, 30000);
	ck_assert_msg(itest_now_ms() - t0 < 15000, "stopping took %lld ms", itest_now_ms() - t0);
	ck_assert(!itest_pid_alive((pid_t)pid));
	/* whatever the client got, the connection ends */
	while ((m = jc_next(c, 5000)))
		json_decref(m);
	jc_close(c);
}
END_TEST

/* "If the daemon dies, its workers die with it": SIGKILL the daemon while
 * its worker runs user code, so the agent is not reading its control
 * socket and cannot notice the EOF there.
 * (Failed while workers had no PR_SET_PDEATHSIG: the orphaned worker ran
 * on until its user code returned.) */
START_TEST(daemon_killed_busy_worker)
{
	int gone;

	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);
	json_t *m;
	int status;

	jc_send_line(c, "{\"id\":2,\"op\":\"exec\",\"code\":\"import time\\nprint('busy')\\n"
	                "time.sleep(60)\"}");
	m = jc_next_output(c, 0);
	ck_assert_ptr_nonnull(m);
	json_decref(m);
	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	gone = wait_gone(pid, 5000);
	if (!gone)
		kill(-(pid_t)pid, SIGKILL); /* leave no orphan behind */
	jc_close(c);
	itest_free(d);
	ck_assert_msg(gone,
	              "worker %ld (busy in user code) still ran 5 s after its daemon was "
	              "SIGKILLed",
	              pid);
}
END_TEST

START_TEST(daemon_killed_idle_worker)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);
	int status;

	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	ck_assert_msg(wait_gone(pid, 5000),
	              "idle worker %ld still runs 5 s after its daemon was SIGKILLed", pid);
	jc_close(c);
	itest_free(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, killed_by_signal);
	tcase_add_test(tc, exits_with_status);
	tcase_add_test(tc, queued_requests_survive);
	tcase_add_test(tc, start_failures);
	tcase_add_test(tc, sigterm_while_busy);
	tcase_add_test(tc, daemon_killed_idle_worker);
	tcase_add_test(tc, daemon_killed_busy_worker);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
