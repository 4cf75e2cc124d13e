/* itest_interrupt.c - interrupts and timeouts: KeyboardInterrupt keeps the
 * worker warm; a timeout escalates SIGINT -> SIGTERM -> SIGKILL only as far
 * as the code makes it
 *
 * Grace periods are short (SUPERVISION below): interrupt_grace 0.5 s and
 * kill_grace 0.5 s, so the full escalation of a 0.5 s timeout takes 1.5 s. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define JSON_HDR "python:3 mode=json"

#define SUPERVISION ITEST_SUPERVISION("1", "0.5")

static const char *const timeout_hooks[] = {
        "limited.yaml",
        "name: limited\n"
        "hints:\n"
        "  linux:\n"
        "    - path: python3\n"
        "      version: \"1\"\n"
        "request_timeout: 0.5\n",
        NULL,
};

/* Ignores SIGINT, then spins in Python code: only SIGTERM reaches it. */
#define IGNORE_SIGINT_SPIN                                                                         \
	"import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('spinning', "          \
	"flush=True)\nwhile True:\n    pass\n"
/* Ignores SIGINT and SIGTERM: only SIGKILL ends it. */
#define IGNORE_ALL_SPIN                                                                            \
	"import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"                            \
	"signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('spinning', flush=True)\n"           \
	"while True:\n    pass\n"

static struct itest_daemon *
start_daemon(void)
{
	struct itest_opts o = {.hooks = timeout_hooks, .extra_config = SUPERVISION};

	return itest_start(&o);
}

/* The first events of request id are its output data (in one chunk or
 * several: a chunk is what one read got). */
static void
expect_output(struct jclient *c, json_int_t id, const char *data)
{
	char got[256] = "";

	while (strlen(got) < strlen(data)) {
		json_t *m = jc_next_output(c, 0);
		const char *ev = json_string_value(json_object_get(m, "event"));
		const char *chunk = json_string_value(json_object_get(m, "data"));

		ck_assert_msg(m && json_integer_value(json_object_get(m, "id")) == id && ev &&
		                      !strcmp(ev, "stdout") && chunk,
		              "expected the output of request %lld first", (long long)id);
		ck_assert_uint_lt(strlen(got) + strlen(chunk), sizeof(got));
		strcat(got, chunk);
		json_decref(m);
	}
	ck_assert_str_eq(got, data);
}

/* Run a sleep as request id and interrupt it with an interrupt (id + 1)
 * that names no request: a KeyboardInterrupt, and the interrupt's ok. */
static void
interrupt_a_sleep(struct jclient *c, json_int_t id)
{
	struct jreply r;
	char *line = itest_strf("{\"id\":%lld,\"op\":\"interrupt\"}", (long long)id + 1);

	jc_send_exec(c, id, "import time\nprint('again', flush=True)\ntime.sleep(30)", 0);
	expect_output(c, id, "again\n");
	jc_send_line(c, line);
	free(line);
	jc_collect(c, id, 5000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	jreply_free(&r);
	jc_collect(c, id + 1, 5000, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
}

/* Interrupt request id, sleeping in time.sleep(30) on thread tid, with an
 * interrupt (id + 1) that names no request, once the thread is in the
 * sleep's system call rather than still in the print before it (which a
 * SIGINT then ends): a KeyboardInterrupt at the sleep, well before
 * interrupt_grace (0.5 s here) rather than at the sleep's end, and the
 * interrupt's answer, one request interrupted. */
static void
interrupt_in_sleep(struct jclient *c, json_int_t id, pid_t tid)
{
	char *line = itest_strf("{\"id\":%lld,\"op\":\"interrupt\"}", (long long)id + 1);
	struct jreply r;
	long long t0;

	ck_assert_msg(itest_wait_in_sleep(tid, 5000), "Python's main thread did not go to sleep");
	t0 = itest_now_ms();
	jc_send_line(c, line);
	free(line);
	jc_collect(c, id, 10000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	itest_assert_contains(jreply_error_str(&r, "traceback"), "time.sleep(30)");
	ck_assert_msg(itest_now_ms() - t0 < 400, "the interrupt took %lld ms", itest_now_ms() - t0);
	jreply_free(&r);
	jc_collect(c, id + 1, 5000, &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "interrupted")), 1);
	jreply_free(&r);
}

/* An interrupt sent right behind its request, in the same write, lands
 * before the agent has started the code: it must interrupt all the same,
 * every time it is acknowledged (it once did in only a quarter of tries). */
START_TEST(interrupt_right_after_request)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);
	int i, acked = 0;

	for (i = 0; i < 300; i++) {
		json_int_t id = 10 + 2 * i;
		/* One long sleep: a SIGINT that lands between CPython's last
		 * check for signals and the sleep's system call is seen once
		 * the daemon's wake-up cuts the sleep short (see below). */
		char *lines = itest_strf("{\"id\":%lld,\"op\":\"exec\",\"code\":\"import "
		                         "time\\ntime.sleep(5)\"}\n{\"id\":%lld,\"op\":"
		                         "\"interrupt\"}",
		                         (long long)id, (long long)id + 1);
		struct jreply ir, er;
		json_int_t n;

		jc_send_line(c, lines);
		free(lines);
		jc_collect(c, id + 1, 2000, &ir);
		n = json_integer_value(json_object_get(ir.done, "interrupted"));
		ck_assert_int_eq(n, 1);
		acked += (int)n;
		/* a lost interrupt would leave it sleeping 5 s */
		jc_collect(c, id, 3000, &er);
		jreply_assert_error(&er, "KeyboardInterrupt");
		jreply_free(&ir);
		jreply_free(&er);
	}
	ck_assert_int_eq(acked, 300);
	ck_assert_int_eq(jc_worker_pid(c, 5), pid);
	jc_close(c);
	itest_stop_within(d, 10000);
}
END_TEST

/* The kernel gives a SIGINT sent to a process to any of its threads that
 * does not block it, and Python runs its handler in the main thread only,
 * when it next checks: here the main thread blocks SIGINT, a thread of the
 * code's takes it, and the main thread sleeps on. So does a SIGINT that
 * lands between Python's last check and the start of a blocking call (one
 * interrupt in about 1,500 was late so). The daemon wakes the main thread
 * after the SIGINT, the sleep is cut short, and the interrupt lands. */
START_TEST(interrupt_reaches_a_main_thread_that_did_not_take_it)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);

	jc_send_exec(c, 2, ITEST_SIGINT_TAKEN_ELSEWHERE, 0);
	expect_output(c, 2, "sleeping\n");
	interrupt_in_sleep(c, 2, (pid_t)pid);
	/* the same worker, and an interrupt of the next request is as usual */
	ck_assert_int_eq(jc_worker_pid(c, 4), pid);
	interrupt_a_sleep(c, 5);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* The state of the (one) worker of target, from status. */
static char *
worker_state_of(const struct itest_daemon *d, const char *target)
{
	json_t *t = itest_target_status(d, target);
	json_t *w = json_array_get(json_object_get(t, "workers"), 0);
	char *s = strdup(w ? json_string_value(json_object_get(w, "state")) : "none");

	json_decref(t);
	return s;
}

/* Code that catches KeyboardInterrupt and goes on: the worker does not
 * stay "interrupting" for ever but is busy again after interrupt_grace,
 * and the next interrupt stops the worker; the request is answered and
 * the next one gets a new worker. */
START_TEST(swallowed_interrupt)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);
	struct jreply r;
	char *state;
	long long end;

	/* a handler of its own: no interrupt can land outside it */
	jc_send_exec(
	        c, 2,
	        "import signal, time\nsignal.signal(signal.SIGINT, lambda *a: print('caught', "
	        "flush=True))\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.05)\n",
	        0);
	expect_output(c, 2, "looping\n");
	jc_send_line(c, "{\"id\":3,\"op\":\"interrupt\"}");
	jc_collect(c, 3, 0, &r);
	jreply_free(&r);
	state = worker_state_of(d, "python:3");
	ck_assert_str_eq(state, "interrupting");
	free(state);
	/* interrupt_grace is 0.5 s here */
	end = itest_now_ms() + 5000;
	do {
		itest_sleep_ms(100);
		state = worker_state_of(d, "python:3");
		if (!strcmp(state, "busy"))
			break;
		free(state);
		state = NULL;
	} while (itest_now_ms() < end);
	ck_assert_msg(state != NULL, "the worker did not go back to busy");
	free(state);
	jc_send_line(c, "{\"id\":4,\"op\":\"interrupt\"}");
	jc_collect(c, 4, 0, &r);
	jreply_free(&r);
	jc_collect(c, 2, 10000, &r);
	/* the agent answers Terminated on SIGTERM; had it not, WorkerDied */
	jreply_assert_error(&r, "Terminated");
	itest_assert_contains(jreply_error_str(&r, "message"),
	                      "the code went on after an interrupt, so the next one stopped its "
	                      "worker");
	itest_assert_contains(r.out, "caught\n");
	jreply_free(&r);
	ck_assert_int_ne(jc_worker_pid(c, 5), pid);
	jc_close(c);
	itest_stop(d);
}
END_TEST

static const char *const slow_probe_hooks[] = {
        "slowver.yaml",
        "name: slowver\n"
        "hints:\n"
        "  linux:\n"
        "    - path: python3\n"
        "      version_command: [sh, -c, \"sleep 0.4; echo 3\"]\n",
        NULL,
};

/* A request's timeout counts from when it starts, not from when the turn of
 * the event loop that started it began: a slow version probe earlier in
 * that turn once took 0.4 s off a 0.5 s timeout. */
START_TEST(timeout_counts_from_start)
{
	struct itest_opts o = {.hooks = slow_probe_hooks, .extra_config = SUPERVISION};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	int fd;

	jc_call(c, 1, "ping", NULL, &r); /* a warm, idle worker */
	jreply_free(&r);
	fd = itest_connect(d, ITEST_UNIX);
	itest_sleep_ms(200);
	/* both arrive while the daemon is stopped: one turn handles both */
	ck_assert_int_eq(kill(d->pid, SIGSTOP), 0);
	itest_send_str(fd, "slowver\nprint(1)\n");
	itest_half_close(fd);
	jc_send_exec(c, 2, "import time\ntime.sleep(5)", 0.5);
	itest_sleep_ms(100);
	ck_assert_int_eq(kill(d->pid, SIGCONT), 0);
	jc_collect(c, 2, 5000, &r);
	jreply_assert_error(&r, "Timeout");
	ck_assert_msg(json_number_value(json_object_get(r.done, "duration_ms")) >= 500,
	              "timed out after %.1f ms",
	              json_number_value(json_object_get(r.done, "duration_ms")));
	jreply_free(&r);
	close(fd);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Some DCCs run Python off their process's first thread: a SIGINT to the
 * process lands on the first thread, which is not Python's, and Python's
 * main thread sleeps on. The agent names its main thread in ready, and
 * that is the thread the daemon wakes. */
START_TEST(interrupt_reaches_python_off_the_first_thread)
{
	char *bin = itest_bin("offthread-python");
	char *yaml = itest_strf("name: offthread\n"
	                        "hints:\n"
	                        "  linux:\n"
	                        "    - path: %s\n"
	                        "      version: \"3\"\n",
	                        bin);
	const char *hooks[] = {"offthread.yaml", yaml, NULL};
	struct itest_opts o = {.hooks = hooks, .extra_config = SUPERVISION};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *c = jc_open(d, ITEST_UNIX, "offthread:3 mode=json");
	long pid = jc_worker_pid(c, 1);
	long tid = jc_eval_long(c, 2, "__import__('threading').get_native_id()");

	ck_assert_msg(tid != pid, "Python runs on the process's first thread (%ld)", tid);
	jc_send_exec(c, 3, "import time\nprint('sleeping', flush=True)\ntime.sleep(30)", 0);
	expect_output(c, 3, "sleeping\n");
	interrupt_in_sleep(c, 3, (pid_t)tid);
	ck_assert_int_eq(jc_worker_pid(c, 5), pid);
	jc_close(c);
	itest_stop(d);
	free(yaml);
	free(bin);
}
END_TEST

/* A timeout is never cut short: the loop's clock has whole milliseconds,
 * and a timer started on it fired up to 1 ms before the time asked for
 * (19.4 ms of a 20 ms timeout, the first time this test ran). */
START_TEST(timeout_is_never_early)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	json_int_t id;

	for (id = 1; id <= 40; id++) {
		double ms;

		jc_send_exec(c, id, "while True:\n    pass", 0.02);
		jc_collect(c, id, 5000, &r);
		jreply_assert_error(&r, "Timeout");
		ms = json_number_value(json_object_get(r.done, "duration_ms"));
		ck_assert_msg(ms >= 20, "a 20 ms timeout ended the code after %.3f ms", ms);
		jreply_free(&r);
	}
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* JSON op interrupt: KeyboardInterrupt in the running request, on the
 * same, still warm process; a queued request is answered at once. */
START_TEST(json_interrupt_keeps_pid)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r, rq;
	long pid = jc_worker_pid(c, 1);
	long long t0;

	jc_send_exec(c, 2, "import time\nprint('sleeping', flush=True)\ntime.sleep(30)", 0);
	expect_output(c, 2, "sleeping\n");
	jc_send_exec(c, 3, "print('never')", 0); /* queued behind 2 */
	itest_sleep_ms(100);

	/* the queued one: taken out, never runs */
	jc_send_line(c, "{\"id\":4,\"op\":\"interrupt\",\"request\":3}");
	jc_collect(c, 3, 5000, &rq);
	jreply_assert_error(&rq, "KeyboardInterrupt");
	itest_assert_contains(jreply_error_str(&rq, "message"), "before it ran");
	ck_assert_str_eq(rq.out, "");
	jreply_free(&rq);
	jc_collect(c, 4, 5000, &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "interrupted")), 1);
	jreply_free(&r);

	/* the running one */
	t0 = itest_now_ms();
	jc_send_line(c, "{\"id\":5,\"op\":\"interrupt\",\"request\":2}");
	jc_collect(c, 5, 5000, &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "interrupted")), 1);
	jreply_free(&r);
	jc_collect(c, 2, 5000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	/* where it landed may be the print before the sleep */
	itest_assert_contains(jreply_error_str(&r, "traceback"), "KeyboardInterrupt");
	itest_assert_contains(jreply_error_str(&r, "traceback"), "File \"<hotload-");
	ck_assert_msg(itest_now_ms() - t0 < 3000, "the interrupt took %lld ms",
	              itest_now_ms() - t0);
	jreply_free(&r);
	ck_assert_int_eq(jc_worker_pid(c, 6), pid);

	/* without "request": every request of this connection */
	interrupt_a_sleep(c, 7);
	ck_assert_int_eq(jc_worker_pid(c, 9), pid);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Control op interrupt: every busy worker of the target, from another
 * connection. */
START_TEST(control_interrupt_keeps_pid)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	json_t *fields, *res, *t0;
	long pid = jc_worker_pid(c, 1);

	/* nothing running: nothing interrupted */
	fields = json_pack("{s:s}", "target", "python:3");
	res = itest_control_with(d, "interrupt", fields);
	t0 = json_array_get(json_object_get(res, "targets"), 0);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	ck_assert_int_eq(json_integer_value(json_object_get(t0, "interrupted")), 0);
	json_decref(res);

	jc_send_exec(c, 2, "import time\nprint('sleeping', flush=True)\ntime.sleep(30)", 0);
	expect_output(c, 2, "sleeping\n");
	res = itest_control_with(d, "interrupt", fields);
	t0 = json_array_get(json_object_get(res, "targets"), 0);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(t0, "target")), "python:3");
	ck_assert_int_eq(json_integer_value(json_object_get(t0, "interrupted")), 1);
	json_decref(res);
	json_decref(fields);
	jc_collect(c, 2, 5000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	jreply_free(&r);
	ck_assert_int_eq(jc_worker_pid(c, 3), pid);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Timeout on code that SIGINT stops: a Timeout error, the same process. */
START_TEST(timeout_sigint_is_enough)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long pid = jc_worker_pid(c, 1);
	long long t0 = itest_now_ms(), took;

	jc_send_exec(c, 2, "import time\ntime.sleep(30)", 0.5);
	jc_collect(c, 2, 10000, &r);
	took = itest_now_ms() - t0;
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(jreply_error_str(&r, "message"), "timeout of 0.5 s");
	itest_assert_contains(jreply_error_str(&r, "message"), "KeyboardInterrupt");
	ck_assert(json_number_value(json_object_get(json_object_get(r.done, "error"), "timeout")) ==
	          0.5);
	ck_assert_msg(took >= 450 && took < 2500, "a 0.5 s timeout took %lld ms", took);
	jreply_free(&r);
	ck_assert_int_eq(jc_worker_pid(c, 3), pid);

	/* a blocking read on a pipe nobody writes: SIGINT ends it too */
	t0 = itest_now_ms();
	jc_send_exec(c, 4, "import os\nr, w = os.pipe()\nos.read(r, 1)", 0.5);
	jc_collect(c, 4, 10000, &r);
	took = itest_now_ms() - t0;
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(jreply_error_str(&r, "message"), "KeyboardInterrupt");
	ck_assert_msg(took < 2500, "a 0.5 s timeout on os.read took %lld ms", took);
	jreply_free(&r);
	ck_assert_int_eq(jc_worker_pid(c, 5), pid);

	/* a request that finishes in time is not touched */
	jc_send_exec(c, 6, "import time\ntime.sleep(0.2)\nprint('in time')", 2);
	jc_collect(c, 6, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "in time\n");
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Code that ignores SIGINT: SIGTERM after interrupt_grace; the worker is
 * replaced. Not a crash: no restart counted, no backoff, no poison. */
static void
escalation_to_sigterm(const char *code)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long pid = jc_worker_pid(c, 1), pid2;
	long long t0 = itest_now_ms(), took;
	json_t *t;

	jc_send_exec(c, 2, code, 0.5);
	jc_collect(c, 2, 15000, &r);
	took = itest_now_ms() - t0;
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(jreply_error_str(&r, "message"),
	                      "timeout of 0.5 s; it was interrupted (Terminated)");
	/* 0.5 s timeout + 0.5 s interrupt_grace, then SIGTERM ends it */
	ck_assert_msg(took >= 950 && took < 4000, "escalation to SIGTERM took %lld ms", took);
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)pid, 5000));
	pid2 = jc_worker_pid(c, 3);
	ck_assert_int_ne(pid2, pid);
	t = itest_target_status(d, "python:3");
	ck_assert_int_eq(json_integer_value(json_object_get(t, "restarts")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(t, "state")), "ok");
	json_decref(t);
	/* the same code again is not refused as poison: it times out again */
	jc_send_exec(c, 4, code, 0.5);
	jc_collect(c, 4, 15000, &r);
	jreply_assert_error(&r, "Timeout");
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}

START_TEST(timeout_escalates_to_sigterm)
{
	escalation_to_sigterm(IGNORE_SIGINT_SPIN);
}
END_TEST

START_TEST(timeout_blocking_read_ignoring_sigint)
{
	escalation_to_sigterm("import os, signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
	                      "r, w = os.pipe()\nos.read(r, 1)\n");
}
END_TEST

/* Code that ignores SIGINT and SIGTERM: SIGKILL after kill_grace. */
START_TEST(timeout_escalates_to_sigkill)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long pid = jc_worker_pid(c, 1);
	long long t0 = itest_now_ms(), took;

	jc_send_exec(c, 2, IGNORE_ALL_SPIN, 0.5);
	jc_collect(c, 2, 15000, &r);
	took = itest_now_ms() - t0;
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(r.out, "spinning\n");
	itest_assert_contains(jreply_error_str(&r, "message"), "killed by signal 9");
	ck_assert_msg(took >= 1400 && took < 5000, "escalation to SIGKILL took %lld ms", took);
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)pid, 5000));
	ck_assert_int_ne(jc_worker_pid(c, 3), pid);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* The hook's request_timeout applies to requests without one; a request's
 * own timeout replaces it. */
START_TEST(hook_request_timeout)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, "limited mode=json");
	struct jreply r;

	jc_send_exec(c, 1, "import time\ntime.sleep(30)", 0);
	jc_collect(c, 1, 10000, &r);
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(jreply_error_str(&r, "message"), "timeout of 0.5 s");
	jreply_free(&r);
	jc_send_exec(c, 2, "import time\ntime.sleep(1)\nprint('longer')", 3);
	jc_collect(c, 2, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "longer\n");
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Raw mode: timeout= in the header. The traceback where the code was (if
 * the agent could still send one), then a Timeout line. */
START_TEST(raw_header_timeout)
{
	struct itest_daemon *d = start_daemon();
	long long t0 = itest_now_ms();
	char *reply;

	reply = itest_raw(d, ITEST_UNIX, "python:3 timeout=0.5",
	                  "import time\nprint('started')\ntime.sleep(30)\n");
	ck_assert_msg(!strncmp(reply, "OUTPUT: \nstarted\nERRORS: \n", 26), "%s", reply);
	itest_assert_contains(reply, "KeyboardInterrupt\nTimeout: the request ran longer than its "
	                             "timeout of 0.5 s; it was interrupted (KeyboardInterrupt)\n");
	ck_assert_msg(itest_now_ms() - t0 < 3000, "raw timeout=0.5 took %lld ms",
	              itest_now_ms() - t0);
	free(reply);

	/* Per docs/protocol.md (raw mode): "one that needed SIGTERM/SIGKILL
	 * [shows] as `Timeout: the request ran longer than its timeout of
	 * 2 s; ...`". */
	reply = itest_raw(d, ITEST_UNIX, "python:3 timeout=0.5", IGNORE_SIGINT_SPIN);
	ck_assert_msg(!strncmp(reply, "OUTPUT: \nspinning\nERRORS: \n", 27), "%s", reply);
	itest_assert_contains(reply, "Timeout: the request ran longer than its timeout of 0.5 s");
	free(reply);

	reply = itest_raw(d, ITEST_UNIX, "python:3 timeout=0.5", IGNORE_ALL_SPIN);
	ck_assert_msg(!strncmp(reply, "OUTPUT: \nspinning\nERRORS: \n", 27), "%s", reply);
	itest_assert_contains(reply, "Timeout: the request ran longer than its timeout of 0.5 s");
	itest_assert_contains(reply, "killed by signal 9");
	free(reply);

	reply = itest_raw(d, ITEST_UNIX, "python:3 timeout=5", "print('quick')\n");
	ck_assert_str_eq(reply, "OUTPUT: \nquick\n");
	free(reply);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("interrupt");
	TCase *tc = tcase_create("interrupt");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, json_interrupt_keeps_pid);
	tcase_add_test(tc, interrupt_right_after_request);
	tcase_add_test(tc, timeout_counts_from_start);
	tcase_add_test(tc, timeout_is_never_early);
	tcase_add_test(tc, interrupt_reaches_python_off_the_first_thread);
	tcase_add_test(tc, swallowed_interrupt);
	tcase_add_test(tc, interrupt_reaches_a_main_thread_that_did_not_take_it);
	tcase_add_test(tc, control_interrupt_keeps_pid);
	tcase_add_test(tc, timeout_sigint_is_enough);
	tcase_add_test(tc, timeout_escalates_to_sigterm);
	tcase_add_test(tc, timeout_blocking_read_ignoring_sigint);
	tcase_add_test(tc, timeout_escalates_to_sigkill);
	tcase_add_test(tc, hook_request_timeout);
	tcase_add_test(tc, raw_header_timeout);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
