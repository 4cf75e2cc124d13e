/* itest_pool.c - pools of workers as hook files shape them: max_workers,
 * idle_timeout */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

static const char *const pool_hooks[] = {
        "wide.yaml",
        "name: wide\n"
        "hints:\n"
        "  linux:\n"
        "    - path: python3\n"
        "      version: \"1\"\n"
        "max_workers: 2\n",
        "brief.yaml",
        "name: brief\n"
        "hints:\n"
        "  linux:\n"
        "    - path: python3\n"
        "      version: \"1\"\n"
        "idle_timeout: 1\n",
        NULL,
};

/* max_workers: 2 runs two requests at once, on two processes. */
START_TEST(max_workers_in_parallel)
{
	struct itest_opts o = {.hooks = pool_hooks};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *a = jc_open(d, ITEST_UNIX, "wide mode=json");
	struct jclient *b = jc_open(d, ITEST_UNIX, "wide mode=json");
	const char *code = "{\"id\":1,\"op\":\"exec\",\"code\":\"import os, time\\n"
	                   "time.sleep(1)\\nprint(os.getpid())\"}";
	struct jreply ra, rb;
	long long t0 = itest_now_ms(), took;

	jc_send_line(a, code);
	jc_send_line(b, code);
	jc_collect(a, 1, 0, &ra);
	jc_collect(b, 1, 0, &rb);
	took = itest_now_ms() - t0;
	jreply_assert_ok(&ra);
	jreply_assert_ok(&rb);
	ck_assert_int_ne(atol(ra.out), atol(rb.out));
	/* two 1 s requests in well under 2 s (start-up included) */
	ck_assert_msg(took < 1900, "two requests on max_workers: 2 took %lld ms", took);
	jreply_free(&ra);
	jreply_free(&rb);
	jc_close(a);
	jc_close(b);
	itest_stop(d);
}
END_TEST

/* A request with a deadline that waited for its worker to start leaves no
 * timer behind: the daemon still exits at once, not when the deadline
 * would have passed. */
START_TEST(served_deadline_does_not_hold_the_exit)
{
	struct itest_opts o = {.hooks = pool_hooks};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *c = jc_open(d, ITEST_UNIX, "wide mode=json");
	struct jreply r;

	/* queued while its worker starts, then run: out of the queue */
	jc_send_line(c, "{\"id\":1,\"op\":\"exec\",\"code\":\"print(1)\",\"deadline\":60}");
	jc_collect(c, 1, 0, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_close(c);
	itest_stop_within(d, 5000);
}
END_TEST

/* idle_timeout: 1 stops an idle worker after a second; the next request
 * starts a new one. */
START_TEST(idle_timeout_stops_worker)
{
	struct itest_opts o = {.hooks = pool_hooks};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *c = jc_open(d, ITEST_UNIX, "brief mode=json");
	long pid1 = jc_worker_pid(c, 1), pid2;
	long long end = itest_now_ms() + 6000;

	while (itest_pid_alive((pid_t)pid1) && itest_now_ms() < end)
		itest_sleep_ms(50);
	ck_assert_msg(!itest_pid_alive((pid_t)pid1),
	              "worker %ld of a hook with idle_timeout: 1 still runs after 6 s idle", pid1);
	pid2 = jc_worker_pid(c, 2);
	ck_assert_int_ne(pid1, pid2);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* A busy worker is not idle: a request longer than idle_timeout finishes. */
START_TEST(idle_timeout_spares_busy_worker)
{
	struct itest_opts o = {.hooks = pool_hooks};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *c = jc_open(d, ITEST_UNIX, "brief mode=json");
	struct jreply r;
	long pid = jc_worker_pid(c, 1);

	jc_call(c, 2, "exec", "import os, time\ntime.sleep(2)\nprint(os.getpid())", &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(atol(r.out), pid);
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, max_workers_in_parallel);
	tcase_add_test(tc, served_deadline_does_not_hold_the_exit);
	tcase_add_test(tc, idle_timeout_stops_worker);
	tcase_add_test(tc, idle_timeout_spares_busy_worker);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
