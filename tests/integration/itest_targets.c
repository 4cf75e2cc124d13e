/* itest_targets.c - targets as hook keys and control ops shape them:
 * min_workers pre-warm, max_queue, and start / stop / restart / list
 *
 * (max_workers running requests in parallel and idle_timeout reaping are in
 * itest_pool.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

#define SUPERVISION ITEST_SUPERVISION("1", "0.5")

#define PY_HOOK(name) ITEST_PY_HOOK(name)

static const char *const target_hooks[] = {
        "warm.yaml",   PY_HOOK("warm") "min_workers: 1\nidle_timeout: 1\n",
        "pair.yaml",   PY_HOOK("pair") "max_workers: 2\nmin_workers: 2\nidle_timeout: 1\n",
        "narrow.yaml", PY_HOOK("narrow") "max_queue: 1\n",
        NULL,
};

static struct itest_daemon *
start_daemon(void)
{
	struct itest_opts o = {.hooks = target_hooks, .extra_config = SUPERVISION};

	return itest_start(&o);
}

/* The pids of target's workers once n of them are idle (10 s), sorted. */
static void
idle_pids(const struct itest_daemon *d, const char *target, size_t n, long *pids)
{
	long long end = itest_now_ms() + 10000;

	for (;;) {
		json_t *t = itest_target_status(d, target);
		json_t *workers = json_object_get(t, "workers"), *w;
		size_t i, idle = 0;

		json_array_foreach(workers, i, w)
		{
			if (!strcmp(json_string_value(json_object_get(w, "state")) ?: "", "idle") &&
			    idle < n)
				pids[idle++] = (long)json_integer_value(json_object_get(w, "pid"));
		}
		i = json_array_size(workers);
		json_decref(t);
		if (idle == n && i == n)
			break;
		ck_assert_msg(itest_now_ms() < end, "%s: not %zu idle workers within 10 s", target,
		              n);
		itest_sleep_ms(50);
	}
	if (n == 2 && pids[0] > pids[1]) {
		long t = pids[0];

		pids[0] = pids[1];
		pids[1] = t;
	}
}

/* min_workers: started with the daemon, before any request, and kept past
 * idle_timeout; requests use them. */
START_TEST(min_workers_prewarm)
{
	struct itest_daemon *d = start_daemon();
	long warm[1], pair[2], again[2];
	struct jclient *c;
	json_t *t;

	/* no request has been sent: only control connections */
	idle_pids(d, "warm:1", 1, warm);
	idle_pids(d, "pair:1", 2, pair);
	ck_assert(itest_pid_alive((pid_t)warm[0]));
	ck_assert_int_ne(pair[0], pair[1]);
	/* other targets are not started */
	t = itest_target_status(d, "narrow:1");
	ck_assert_ptr_null(t);

	itest_sleep_ms(2500); /* idle_timeout: 1, more than twice over */
	idle_pids(d, "warm:1", 1, again);
	ck_assert_int_eq(again[0], warm[0]);
	idle_pids(d, "pair:1", 2, again);
	ck_assert_int_eq(again[0], pair[0]);
	ck_assert_int_eq(again[1], pair[1]);

	c = jc_open(d, ITEST_UNIX, "warm mode=json");
	ck_assert_int_eq(jc_worker_pid(c, 1), warm[0]);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* max_queue: 1: with the worker busy and one request waiting, the next
 * is refused at once; the waiting one still runs. */
START_TEST(queue_full)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *a = jc_open(d, ITEST_UNIX, "narrow mode=json");
	struct jclient *b = jc_open(d, ITEST_UNIX, "narrow mode=json");
	struct jclient *c = jc_open(d, ITEST_UNIX, "narrow mode=json");
	struct jreply ra, rb, rc;
	json_t *m;
	char *reply;

	(void)jc_worker_pid(a, 1);
	jc_send_line(a, "{\"id\":2,\"op\":\"exec\",\"code\":\"import time\\n"
	                "print('busy', flush=True)\\ntime.sleep(1)\"}");
	m = jc_next_output(a, 0);
	json_decref(m);
	jc_send_line(b, "{\"id\":1,\"op\":\"exec\",\"code\":\"print('waited')\"}");
	m = jc_next(b, 0); /* waiting: queued */
	ck_assert_str_eq(json_string_value(json_object_get(m, "event")), "waiting");
	ck_assert_str_eq(json_string_value(json_object_get(m, "state")), "queued");
	json_decref(m);

	jc_call(c, 1, "exec", "print('refused')", &rc);
	jreply_assert_error(&rc, "QueueFull");
	itest_assert_contains(jreply_error_str(&rc, "message"), "max_queue");
	jreply_free(&rc);
	reply = itest_raw(d, ITEST_UNIX, "narrow", "print('refused')\n");
	ck_assert_msg(!strncmp(reply, "ERRORS: \nQueueFull: ", 20), "%s", reply);
	free(reply);

	jc_collect(a, 2, 0, &ra);
	jreply_assert_ok(&ra);
	jc_collect(b, 1, 0, &rb);
	jreply_assert_ok(&rb);
	ck_assert_str_eq(rb.out, "waited\n");
	jreply_free(&ra);
	jreply_free(&rb);
	/* room again */
	jc_call(c, 2, "exec", "print('now')", &rc);
	jreply_assert_ok(&rc);
	jreply_free(&rc);
	jc_close(a);
	jc_close(b);
	jc_close(c);
	itest_stop(d);
}
END_TEST

static json_t *
control_target(const struct itest_daemon *d, const char *op, const char *target)
{
	json_t *fields = json_pack("{s:s}", "target", target);
	json_t *res = itest_control_with(d, op, fields);

	json_decref(fields);
	return res;
}

static size_t
worker_count(const struct itest_daemon *d, const char *target)
{
	json_t *t = itest_target_status(d, target);
	size_t n = json_array_size(json_object_get(t, "workers"));

	json_decref(t);
	return n;
}

/* start, stop, restart and list on the control connection. */
START_TEST(control_target_ops)
{
	struct itest_daemon *d = start_daemon();
	json_t *res, *r0, *hooks, *h, *fields;
	long pid[1], pid2[1];
	size_t i;
	int found = 0;

	/* start: a worker without a request */
	res = control_target(d, "start", "python");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	r0 = json_array_get(json_object_get(res, "targets"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(r0, "target")), "python:3");
	json_decref(res);
	idle_pids(d, "python:3", 1, pid);

	/* restart: another process */
	res = control_target(d, "restart", "python:3");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	ck_assert(itest_wait_gone((pid_t)pid[0], 5000));
	idle_pids(d, "python:3", 1, pid2);
	ck_assert_int_ne(pid[0], pid2[0]);

	/* stop: gone, and not started again until asked */
	res = control_target(d, "stop", "python:3");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	ck_assert(itest_wait_gone((pid_t)pid2[0], 5000));
	itest_sleep_ms(300);
	ck_assert_uint_eq(worker_count(d, "python:3"), 0);

	/* several targets at once; one of them unknown */
	fields = json_pack("{s:[s, s]}", "targets", "python:3", "nosuch");
	res = itest_control_with(d, "start", fields);
	json_decref(fields);
	ck_assert(json_is_false(json_object_get(res, "ok")));
	r0 = json_array_get(json_object_get(res, "targets"), 0);
	ck_assert(json_is_true(json_object_get(r0, "ok")));
	r0 = json_array_get(json_object_get(res, "targets"), 1);
	ck_assert(json_is_false(json_object_get(r0, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r0, "error"), "type"))
	                         ?: "",
	                 "UnknownTarget");
	json_decref(res);
	idle_pids(d, "python:3", 1, pid);

	/* stop a known target that has no pool yet: nothing to do, ok */
	res = control_target(d, "stop", "narrow");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	ck_assert_ptr_null(itest_target_status(d, "narrow:1"));

	/* a target op without a target */
	res = itest_control(d, "start");
	ck_assert(json_is_false(json_object_get(res, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "error"), "type"))
	                         ?: "",
	                 "BadRequest");
	json_decref(res);
	res = itest_control(d, "frobnicate");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "error"), "type"))
	                         ?: "",
	                 "BadRequest");
	json_decref(res);

	/* list: every hook, with where it is installed */
	res = itest_control(d, "list");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	hooks = json_object_get(res, "hooks");
	json_array_foreach(hooks, i, h)
	{
		if (strcmp(json_string_value(json_object_get(h, "name")) ?: "", "narrow"))
			continue;
		found = 1;
		itest_assert_contains(json_string_value(json_object_get(h, "source")),
		                      "narrow.yaml");
		ck_assert_str_eq(
		        json_string_value(json_object_get(
		                json_array_get(json_object_get(h, "installs"), 0), "version")),
		        "1");
	}
	ck_assert_msg(found, "list does not show the narrow hook");
	json_decref(res);
	itest_stop(d);
}
END_TEST

/* stop on a min_workers target: the workers stop, and min_workers starts
 * new ones (min_workers are kept running). */
START_TEST(stop_min_workers_target)
{
	struct itest_daemon *d = start_daemon();
	long warm[1], again[1];
	json_t *res;

	idle_pids(d, "warm:1", 1, warm);
	res = control_target(d, "stop", "warm");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	ck_assert(itest_wait_gone((pid_t)warm[0], 5000));
	idle_pids(d, "warm:1", 1, again);
	ck_assert_int_ne(again[0], warm[0]);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("targets");
	TCase *tc = tcase_create("targets");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, min_workers_prewarm);
	tcase_add_test(tc, queue_full);
	tcase_add_test(tc, control_target_ops);
	tcase_add_test(tc, stop_min_workers_target);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
