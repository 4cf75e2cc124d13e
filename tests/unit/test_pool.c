/* test_pool.c - a target's pool with real python3 workers running the real
 * agent, driven through its API on a private loop: order, limits,
 * deadlines, interrupts, cancelling, crashes, start failures, stopping */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "hook.h"
#include "pool.h"
#include "request.h"
#include "supervise.h"

#define AGENT HOTLOAD_SOURCE_DIR "/hookd/hookd.py"
#define PYTHON "/usr/bin/python3"

/* What one request was told. */
struct rec {
	int done;
	int ok;
	char type[64];
	char message[512];
	char out[256]; /* what it printed to stdout (the start of it) */
	size_t out_len;
	int pid; /* a ping's */
	int order;
};

static int done_count;

static int
rec_output(struct request *r, int fd, const char *data, size_t len)
{
	struct rec *x = request_sink_data(r);

	if (fd == 1 && x->out_len + len < sizeof(x->out)) {
		memcpy(x->out + x->out_len, data, len);
		x->out_len += len;
	}
	return 0;
}

static void
rec_done(struct request *r, json_t *result)
{
	struct rec *x = request_sink_data(r);
	json_t *err = json_object_get(result, "error");

	x->done = 1;
	x->order = ++done_count;
	x->ok = json_is_true(json_object_get(result, "ok"));
	snprintf(x->type, sizeof(x->type), "%s",
	         json_string_value(json_object_get(err, "type")) ?: "");
	snprintf(x->message, sizeof(x->message), "%s",
	         json_string_value(json_object_get(err, "message")) ?: "");
	x->pid = (int)json_integer_value(json_object_get(result, "pid"));
	request_free(r);
}

static const struct request_sink rec_sink = {.output = rec_output, .done = rec_done};

static uv_loop_t loop;
static struct hookset *hooks;
static struct pool *pool;
static const struct supervision sup = {
        .stop_grace = 5,
        .interrupt_grace = 3,
        .kill_grace = 2,
        .backoff_initial = 0.05,
        .backoff_max = 0.1,
        .crash_budget = 50,
        .crash_window = 600,
};

/* A pool of a python3 hook with extra YAML lines, for executable. */
static void
pool_up(const char *extra, const char *executable)
{
	char yaml[1024], err[512];
	struct pool_context ctx = {
	        .loop = &loop,
	        .agent = AGENT,
	        .sup = &sup,
	};

	done_count = 0;
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	snprintf(yaml, sizeof(yaml),
	         "name: python\n"
	         "hints:\n  linux:\n    - path: python3\n      version: \"3\"\n"
	         "argv: [\"{executable}\", \"{agent}\"]\n"
	         "env:\n  PYTHONUNBUFFERED: \"1\"\n"
	         "startup_timeout: 30\n"
	         "%s",
	         extra ? extra : "");
	hooks = hookset_new();
	ck_assert_msg(hookset_load_string(hooks, "<test>", yaml, err, sizeof(err)) == 0, "%s", err);
	pool = pool_new(&ctx, hookset_find(hooks, "python"), executable, "3");
	ck_assert_ptr_nonnull(pool);
}

static void
on_expire(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Run the loop until *flag, or fail after secs. */
static void
run_until(const int *flag, double secs, const char *what)
{
	uv_timer_t t;
	int expired = 0;

	uv_timer_init(&loop, &t);
	t.data = &expired;
	uv_timer_start(&t, on_expire, (uint64_t)(secs * 1000), 0);
	while (!*flag && !expired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	ck_assert_msg(*flag, "timed out waiting for %s", what);
}

/* Stop the pool, wait for its workers, free it: the loop must close with
 * nothing left open. */
static void
pool_down(void)
{
	int gone = 0;
	uv_timer_t t;

	pool_stop(pool);
	uv_timer_init(&loop, &t);
	while (pool_worker_count(pool)) {
		t.data = &gone;
		uv_timer_start(&t, on_expire, 10000, 0);
		uv_run(&loop, UV_RUN_ONCE);
		ck_assert_msg(!gone, "workers did not stop");
	}
	uv_close((uv_handle_t *)&t, NULL);
	pool_free(pool);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	hookset_free(hooks);
}

static struct request *
submit(enum request_op op, const char *code, double deadline, struct rec *x)
{
	struct request_spec spec = {
	        .op = op,
	        .code = code ? xstrdup(code) : NULL,
	        .code_len = code ? strlen(code) : 0,
	        .deadline = deadline,
	};
	struct request *r = request_new(&spec, &rec_sink, x);

	pool_submit(pool, r);
	return r;
}

/* Run the loop until r runs on a worker (r must not finish quickly). */
static void
wait_running(struct request *r)
{
	uv_timer_t t;
	int expired = 0;

	uv_timer_init(&loop, &t);
	t.data = &expired;
	uv_timer_start(&t, on_expire, 30000, 0);
	while (request_state(r) != REQUEST_RUNNING && !expired)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	ck_assert_msg(!expired, "timed out waiting for the request to run");
}

START_TEST(one_worker_runs_requests_in_order)
{
	struct rec a = {0}, b = {0}, c = {0};

	pool_up(NULL, PYTHON);
	submit(REQUEST_EXEC, "print('a')", 0, &a);
	submit(REQUEST_EXEC, "print('b')", 0, &b);
	submit(REQUEST_EXEC, "print('c')", 0, &c);
	run_until(&c.done, 30, "three requests");
	ck_assert(a.ok && b.ok && c.ok);
	ck_assert_int_eq(a.order, 1);
	ck_assert_int_eq(b.order, 2);
	ck_assert_int_eq(c.order, 3);
	ck_assert_str_eq(a.out, "a\n");
	ck_assert_str_eq(c.out, "c\n");
	ck_assert_uint_eq(pool_worker_count(pool), 1);
	pool_down();
}
END_TEST

START_TEST(a_full_queue_refuses_at_once)
{
	struct rec a = {0}, b = {0}, c = {0};

	pool_up("max_queue: 2\n", PYTHON);
	submit(REQUEST_EXEC, "pass", 0, &a); /* queued: the worker is starting */
	submit(REQUEST_EXEC, "pass", 0, &b);
	submit(REQUEST_EXEC, "pass", 0, &c);
	ck_assert(c.done && !c.ok);
	ck_assert_str_eq(c.type, "QueueFull");
	ck_assert_ptr_nonnull(strstr(c.message, "max_queue"));
	ck_assert(!a.done && !b.done);
	run_until(&b.done, 30, "the queued requests");
	ck_assert(a.ok && b.ok);
	pool_down();
}
END_TEST

START_TEST(a_queued_request_past_its_deadline_never_runs)
{
	struct rec slow = {0}, late = {0};

	pool_up(NULL, PYTHON);
	submit(REQUEST_EXEC, "import time; time.sleep(1.5)", 0, &slow);
	submit(REQUEST_EXEC, "print('ran')", 0.3, &late);
	run_until(&late.done, 30, "the deadline");
	ck_assert(!late.ok);
	ck_assert_str_eq(late.type, "Timeout");
	ck_assert_ptr_nonnull(strstr(late.message, "past its deadline"));
	ck_assert(!slow.done);
	run_until(&slow.done, 30, "the slow request");
	ck_assert(slow.ok);
	ck_assert_uint_eq(late.out_len, 0);
	pool_down();
}
END_TEST

START_TEST(interrupts_hit_queued_and_running_requests)
{
	struct rec running = {0}, queued = {0}, before = {0}, after = {0};
	struct request *r, *q;

	pool_up(NULL, PYTHON);
	submit(REQUEST_PING, NULL, 0, &before);
	run_until(&before.done, 30, "a ping");
	r = submit(REQUEST_EXEC, "import time; time.sleep(60)", 0, &running);
	q = submit(REQUEST_EXEC, "print('never')", 0, &queued);
	ck_assert_int_eq(pool_interrupt_request(pool, q), 1);
	ck_assert(queued.done && !queued.ok);
	ck_assert_str_eq(queued.type, "KeyboardInterrupt");
	ck_assert_str_eq(queued.message, "interrupted before it ran");
	wait_running(r);
	ck_assert_int_eq(pool_interrupt_request(pool, r), 1);
	run_until(&running.done, 30, "the interrupted request");
	ck_assert(!running.ok);
	ck_assert_str_eq(running.type, "KeyboardInterrupt");
	/* the worker stayed warm */
	submit(REQUEST_PING, NULL, 0, &after);
	run_until(&after.done, 30, "a ping after");
	ck_assert(after.ok);
	ck_assert_int_eq(after.pid, before.pid);
	ck_assert_uint_eq(queued.out_len, 0);
	pool_down();
}
END_TEST

START_TEST(a_cancelled_queued_request_is_freed_unrun)
{
	struct rec slow = {0}, gone = {0};
	struct request *q;

	pool_up(NULL, PYTHON);
	submit(REQUEST_EXEC, "import time; time.sleep(0.3)", 0, &slow);
	q = submit(REQUEST_EXEC, "print('never')", 0, &gone);
	request_orphan(q);
	pool_cancel(pool, q); /* freed: AddressSanitizer reports a leak if not */
	run_until(&slow.done, 30, "the first request");
	ck_assert(slow.ok);
	ck_assert(!gone.done);
	pool_down();
}
END_TEST

START_TEST(a_crash_is_reported_and_repeated_crashes_refused)
{
	const char *crash = "import os; os._exit(3)";
	struct rec c1 = {0}, c2 = {0}, c3 = {0}, ping = {0};

	pool_up(NULL, PYTHON);
	submit(REQUEST_EXEC, crash, 0, &c1);
	run_until(&c1.done, 30, "the first crash");
	ck_assert_str_eq(c1.type, "WorkerDied");
	ck_assert_ptr_nonnull(strstr(c1.message, "exited with status 3"));
	submit(REQUEST_EXEC, crash, 0, &c2);
	run_until(&c2.done, 30, "the second crash");
	ck_assert_str_eq(c2.type, "WorkerDied");
	/* the same code crashed workers SUPERVISE_POISON_LIMIT times */
	submit(REQUEST_EXEC, crash, 0, &c3);
	ck_assert(c3.done);
	ck_assert_str_eq(c3.type, "RequestRefused");
	/* other code runs, on a new worker, after the backoff */
	submit(REQUEST_PING, NULL, 0, &ping);
	run_until(&ping.done, 30, "a ping after the crashes");
	ck_assert(ping.ok);
	pool_down();
}
END_TEST

START_TEST(a_worker_that_never_starts_fails_the_waiting_requests)
{
	struct rec a = {0};

	pool_up(NULL, "/bin/false");
	submit(REQUEST_EXEC, "pass", 0, &a);
	run_until(&a.done, 30, "the start failure");
	ck_assert(!a.ok);
	ck_assert_str_eq(a.type, "WorkerStartFailed");
	pool_down();
}
END_TEST

START_TEST(stopping_refuses_what_is_queued)
{
	struct rec slow = {0}, queued = {0}, after = {0};
	struct request *r;

	pool_up(NULL, PYTHON);
	r = submit(REQUEST_EXEC, "import time; time.sleep(0.3); print('finished')", 0, &slow);
	submit(REQUEST_EXEC, "print('never')", 0, &queued);
	wait_running(r);
	pool_stop(pool);
	ck_assert(queued.done);
	ck_assert_str_eq(queued.type, "ShuttingDown");
	submit(REQUEST_EXEC, "pass", 0, &after);
	ck_assert_str_eq(after.type, "ShuttingDown");
	run_until(&slow.done, 30, "the running request");
	ck_assert(slow.ok); /* a graceful stop lets the running request finish */
	ck_assert_str_eq(slow.out, "finished\n");
	pool_down();
}
END_TEST

START_TEST(the_queue_can_be_taken_to_run_elsewhere)
{
	struct rec slow = {0}, x = {0}, y = {0};
	struct request **v;
	size_t n;

	pool_up(NULL, PYTHON);
	submit(REQUEST_EXEC, "import time; time.sleep(0.2)", 0, &slow);
	submit(REQUEST_EXEC, "print('x')", 0, &x);
	submit(REQUEST_EXEC, "print('y')", 0, &y);
	n = pool_take_queue(pool, &v);
	/* the first may still be queued while its worker starts */
	ck_assert_uint_ge(n, 2);
	ck_assert_ptr_eq(request_sink_data(v[n - 2]), &x);
	ck_assert_ptr_eq(request_sink_data(v[n - 1]), &y);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_null(request_pool(v[i]));
		request_fail(v[i], "ShuttingDown", "moved");
	}
	free(v);
	ck_assert(x.done && y.done);
	ck_assert_uint_eq(x.out_len + y.out_len, 0);
	pool_down();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("real workers");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, one_worker_runs_requests_in_order);
	tcase_add_test(tc, a_full_queue_refuses_at_once);
	tcase_add_test(tc, a_queued_request_past_its_deadline_never_runs);
	tcase_add_test(tc, interrupts_hit_queued_and_running_requests);
	tcase_add_test(tc, a_cancelled_queued_request_is_freed_unrun);
	tcase_add_test(tc, a_crash_is_reported_and_repeated_crashes_refused);
	tcase_add_test(tc, a_worker_that_never_starts_fails_the_waiting_requests);
	tcase_add_test(tc, stopping_refuses_what_is_queued);
	tcase_add_test(tc, the_queue_can_be_taken_to_run_elsewhere);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
