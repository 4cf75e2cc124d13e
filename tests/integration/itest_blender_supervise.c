/* itest_blender_supervise.c - supervision of a real DCC: Debian's Blender
 * (3.4) in background mode. Interrupts reach Python code although Blender
 * installs its own SIGINT handler; a timeout on code that ignores SIGINT
 * escalates and replaces Blender; a killed Blender is replaced.
 *
 * A missing Blender fails these tests: it is part of the test
 * environment, not optional. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define BLENDER_DEADLINE_MS 60000 /* a cold first start of Blender can be slow */
#define JSON_HDR "blender mode=json"

#define SUPERVISION ITEST_SUPERVISION("2", "1")

static struct itest_daemon *
start_blender(void)
{
	struct itest_opts o = {.extra_config = SUPERVISION};

	ck_assert_msg(access("/usr/bin/blender", X_OK) == 0,
	              "Blender is not installed (no /usr/bin/blender): these tests need it; "
	              "install it with: apt-get install -y --no-install-recommends blender");
	return itest_start(&o);
}

/* Wait for a whole first line of the request's output: it runs. */
static void
wait_running(struct jclient *c, json_int_t id)
{
	int line = 0;

	while (!line) {
		json_t *m = jc_next_output(c, BLENDER_DEADLINE_MS);
		const char *data = json_string_value(json_object_get(m, "data"));

		ck_assert_msg(m && json_integer_value(json_object_get(m, "id")) == id && data,
		              "expected output of request %lld", (long long)id);
		line = *data && data[strlen(data) - 1] == '\n';
		json_decref(m);
	}
}

static long
blender_pid(struct jclient *c, json_int_t id)
{
	struct jreply r;
	long pid;

	jc_call_with(c, id, "eval", "__import__('os').getpid()", NULL, BLENDER_DEADLINE_MS, &r);
	jreply_assert_ok(&r);
	pid = (long)json_integer_value(json_object_get(r.done, "json"));
	ck_assert_int_gt(pid, 0);
	jreply_free(&r);
	return pid;
}

#define SLEEP_LOOP "import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.1)\n"

/* KeyboardInterrupt in a Python loop inside Blender, three ways (JSON
 * interrupt, control interrupt, a timeout); Blender stays warm. */
START_TEST(blender_interrupt_keeps_pid)
{
	struct itest_daemon *d = start_blender();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = blender_pid(c, 1);
	json_t *fields, *res;
	struct jreply r;
	long long t0;

	jc_send_exec(c, 2, SLEEP_LOOP, 0);
	wait_running(c, 2);
	t0 = itest_now_ms();
	jc_send_line(c, "{\"id\":3,\"op\":\"interrupt\",\"request\":2}");
	jc_collect(c, 2, 10000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	/* where it landed may be the print before the loop */
	itest_assert_contains(jreply_error_str(&r, "traceback"), "KeyboardInterrupt");
	itest_assert_contains(jreply_error_str(&r, "traceback"), "File \"<hotload-");
	ck_assert_msg(itest_now_ms() - t0 < 3000, "interrupting Blender took %lld ms",
	              itest_now_ms() - t0);
	jreply_free(&r);
	jc_collect(c, 3, 5000, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	ck_assert_int_eq(blender_pid(c, 4), pid);

	jc_send_exec(c, 5, SLEEP_LOOP, 0);
	wait_running(c, 5);
	fields = json_pack("{s:s}", "target", "blender");
	res = itest_control_with(d, "interrupt", fields);
	json_decref(fields);
	ck_assert_int_eq(
	        json_integer_value(json_object_get(
	                json_array_get(json_object_get(res, "targets"), 0), "interrupted")),
	        1);
	json_decref(res);
	jc_collect(c, 5, 10000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	jreply_free(&r);
	ck_assert_int_eq(blender_pid(c, 6), pid);

	jc_send_exec(c, 7, SLEEP_LOOP, 1);
	jc_collect(c, 7, 10000, &r);
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(jreply_error_str(&r, "message"), "KeyboardInterrupt");
	jreply_free(&r);
	ck_assert_int_eq(blender_pid(c, 8), pid);

	/* the scene is still there: the same warm Blender */
	jc_call_with(c, 9, "exec", "import bpy\nprint(len(bpy.data.objects))", NULL,
	             BLENDER_DEADLINE_MS, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "3\n");
	jreply_free(&r);
	jc_close(c);
	itest_stop_within(d, 30000);
	ck_assert(itest_wait_gone((pid_t)pid, 5000));
}
END_TEST

/* Blender's Python runs signal handlers in the main thread only: a SIGINT
 * that another thread takes (here the main thread blocks it) is seen once
 * the daemon's wake-up cuts the main thread's sleep short. */
START_TEST(blender_interrupt_reaches_a_main_thread_that_did_not_take_it)
{
	struct itest_daemon *d = start_blender();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = blender_pid(c, 1);
	struct jreply r;
	long long t0;

	jc_send_exec(c, 2, ITEST_SIGINT_TAKEN_ELSEWHERE, 0);
	wait_running(c, 2);
	/* in the sleep, not still in the print, which a SIGINT then ends */
	ck_assert_msg(itest_wait_in_sleep((pid_t)pid, 5000),
	              "Blender's main thread did not go to sleep");
	t0 = itest_now_ms();
	jc_send_line(c, "{\"id\":3,\"op\":\"interrupt\",\"request\":2}");
	jc_collect(c, 2, 10000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	itest_assert_contains(jreply_error_str(&r, "traceback"), "time.sleep(30)");
	/* interrupt_grace is 2 s here */
	ck_assert_msg(itest_now_ms() - t0 < 1500, "interrupting Blender took %lld ms",
	              itest_now_ms() - t0);
	jreply_free(&r);
	jc_collect(c, 3, 5000, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	ck_assert_int_eq(blender_pid(c, 4), pid);
	jc_close(c);
	itest_stop_within(d, 30000);
}
END_TEST

/* Code that ignores SIGINT in Blender: SIGTERM after interrupt_grace, a
 * Timeout, a new Blender. */
START_TEST(blender_timeout_escalates)
{
	struct itest_daemon *d = start_blender();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = blender_pid(c, 1), pid2;
	struct jreply r;
	long long t0, took;

	t0 = itest_now_ms();
	jc_send_exec(c, 2,
	             "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
	             "print('spinning', flush=True)\nwhile True:\n    pass\n",
	             1);
	jc_collect(c, 2, 20000, &r);
	took = itest_now_ms() - t0;
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(jreply_error_str(&r, "message"), "timeout of 1 s");
	ck_assert_msg(took >= 1450 && took < 8000, "escalation in Blender took %lld ms", took);
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)pid, 10000));
	pid2 = blender_pid(c, 3);
	ck_assert_int_ne(pid, pid2);
	jc_call_with(c, 4, "exec", "import bpy\nprint(bpy.app.version_string.split()[0])", NULL,
	             BLENDER_DEADLINE_MS, &r);
	jreply_assert_ok(&r);
	ck_assert_msg(!strncmp(r.out, "3.", 2), "got \"%s\"", r.out);
	jreply_free(&r);
	jc_close(c);
	itest_stop_within(d, 30000);
}
END_TEST

/* Blender killed mid-request: WorkerDied with the signal, status counts a
 * restart, and a new Blender serves the next request. */
START_TEST(blender_crash_restarts)
{
	struct itest_daemon *d = start_blender();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = blender_pid(c, 1), pid2;
	struct jreply r;
	char *target, *last;
	json_t *t, *all;

	jc_call_with(c, 2, "exec", "import os\nos.kill(os.getpid(), 9)", NULL, BLENDER_DEADLINE_MS,
	             &r);
	jreply_assert_error(&r, "WorkerDied");
	ck_assert_int_eq(
	        json_integer_value(json_object_get(json_object_get(r.done, "error"), "signal")),
	        SIGKILL);
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)pid, 5000));
	pid2 = blender_pid(c, 3);
	ck_assert_int_ne(pid, pid2);
	jc_call_with(c, 4, "exec", "import bpy\nprint(len(bpy.data.objects))", NULL,
	             BLENDER_DEADLINE_MS, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "3\n");
	jreply_free(&r);

	/* the one Blender target, whatever its version */
	all = itest_control(d, "status");
	t = json_incref(
	        json_array_get(json_object_get(json_object_get(all, "status"), "targets"), 0));
	json_decref(all);
	ck_assert_ptr_nonnull(t);
	target = strdup(json_string_value(json_object_get(t, "target")));
	ck_assert_msg(!strncmp(target, "blender:", 8), "target %s", target);
	ck_assert_int_eq(json_integer_value(json_object_get(t, "restarts")), 1);
	last = itest_target_str(d, target, "last_exit");
	ck_assert_str_eq(last, "killed by signal 9 (Killed)");
	free(last);
	free(target);
	json_decref(t);
	jc_close(c);
	itest_stop_within(d, 30000);
	ck_assert(itest_wait_gone((pid_t)pid2, 5000));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("blender_supervise");
	TCase *tc = tcase_create("blender_supervise");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, blender_interrupt_keeps_pid);
	tcase_add_test(tc, blender_interrupt_reaches_a_main_thread_that_did_not_take_it);
	tcase_add_test(tc, blender_timeout_escalates);
	tcase_add_test(tc, blender_crash_restarts);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
