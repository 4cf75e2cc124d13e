/* test_probe.c - version probes: output, status, deadline, sharing, waiters, stop */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "probe.h"

static uv_loop_t loop;
static char tmpdir[] = "/tmp/hotload-test-probe-XXXXXX";

/* What one probe's done heard. */
struct outcome {
	int calls;
	int result;
	struct buf out;
};

static void
on_done(int result, const struct buf *out, void *data)
{
	struct outcome *o = data;

	o->calls++;
	o->result = result;
	if (out->data)
		buf_append(&o->out, out->data, out->len);
}

static void
setup(void)
{
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	ck_assert_int_eq(uv_loop_close(&loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/hotload-test-probe-XXXXXX");
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Free pr and run the loop until everything of it is closed. */
static void
free_and_drain(struct probes *pr)
{
	probes_free(pr);
	uv_run(&loop, UV_RUN_DEFAULT);
}

/* Start sh -c script as the probe of key, asserting it starts. */
static void
start_sh(struct probes *pr, const char *key, const char *script, struct outcome *o)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};

	ck_assert_int_eq(probes_start(pr, key, argv, on_done, o), 0);
}

/* A pid written by a script to tmpdir/name. */
static pid_t
read_pid(const char *name)
{
	char path[256];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

/* Gone, or a zombie nobody reaped yet (2 s). */
static int
gone(pid_t pid)
{
	long long end = now_ms() + 2000;
	char path[64], stat[256];
	FILE *f;

	do {
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
		f = fopen(path, "r");
		if (!f)
			return 1;
		stat[0] = '\0';
		if (!fgets(stat, sizeof(stat), f))
			stat[0] = '\0';
		fclose(f);
		if (strstr(stat, ") Z "))
			return 1;
		usleep(20000);
	} while (now_ms() < end);
	return 0;
}

START_TEST(test_output_and_status)
{
	struct probes *pr = probes_new(&loop, NULL, PROBE_TIMEOUT_MS);
	struct outcome o = {0, 0, BUF_INIT}, in = {0, 0, BUF_INIT};

	/* stdout and stderr together, and the exit status */
	start_sh(pr, "a", "echo out; echo err >&2; exit 3", &o);
	/* stdin is /dev/null: cat ends at once */
	start_sh(pr, "b", "cat; echo read-nothing", &in);
	ck_assert_int_eq(probes_running(pr, "a"), 1);
	ck_assert_uint_eq(probes_count(pr), 2);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, 3);
	ck_assert_str_eq(o.out.data, "out\nerr\n");
	ck_assert_int_eq(in.calls, 1);
	ck_assert_int_eq(in.result, 0);
	ck_assert_str_eq(in.out.data, "read-nothing\n");
	ck_assert_int_eq(probes_running(pr, "a"), 0);
	ck_assert_uint_eq(probes_count(pr), 0);
	buf_free(&o.out);
	buf_free(&in.out);
	free_and_drain(pr);
}
END_TEST

/* The first 64 KiB are kept; the rest is read and dropped. */
START_TEST(test_output_cap)
{
	struct probes *pr = probes_new(&loop, NULL, PROBE_TIMEOUT_MS);
	struct outcome o = {0, 0, BUF_INIT};

	start_sh(pr, "big", "head -c 1000000 /dev/zero | tr '\\000' x; echo; echo end", &o);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, 0);
	ck_assert_uint_ge(o.out.len, PROBE_OUTPUT_MAX);
	ck_assert_uint_lt(o.out.len, PROBE_OUTPUT_MAX + 4096 + 1);
	ck_assert_ptr_null(strstr(o.out.data, "end"));
	buf_free(&o.out);
	free_and_drain(pr);
}
END_TEST

/* At the deadline the probe and what it started are killed. */
START_TEST(test_deadline_kills_group)
{
	struct probes *pr = probes_new(&loop, NULL, 300);
	struct outcome o = {0, 0, BUF_INIT};
	char script[512];
	long long t0 = now_ms();

	snprintf(script, sizeof(script), "sleep 30 & echo $! > '%s/child'; echo started; wait",
	         tmpdir);
	start_sh(pr, "slow", script, &o);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, -ETIMEDOUT);
	ck_assert_str_eq(o.out.data, "started\n");
	ck_assert_msg(now_ms() - t0 < 3000, "a 0.3 s deadline took %lld ms", now_ms() - t0);
	ck_assert_msg(gone(read_pid("child")), "the probe's child outlived it");
	buf_free(&o.out);
	free_and_drain(pr);
}
END_TEST

/* A command that exits while something it started holds its output open
 * is judged by its exit status at the deadline; what holds it is killed. */
START_TEST(test_exited_with_output_held)
{
	struct probes *pr = probes_new(&loop, NULL, 300);
	struct outcome o = {0, 0, BUF_INIT};
	char script[512];

	snprintf(script, sizeof(script), "sleep 30 & echo $! > '%s/child'; echo 4.2", tmpdir);
	start_sh(pr, "held", script, &o);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, 0);
	ck_assert_str_eq(o.out.data, "4.2\n");
	ck_assert_msg(gone(read_pid("child")), "what held the output outlived the deadline");
	buf_free(&o.out);
	free_and_drain(pr);
}
END_TEST

/* One probe per key at a time; a command that cannot start is said at once. */
START_TEST(test_one_per_key_and_missing)
{
	struct probes *pr = probes_new(&loop, NULL, PROBE_TIMEOUT_MS);
	struct outcome o = {0, 0, BUF_INIT}, other = {0, 0, BUF_INIT};
	char *argv[] = {"sh", "-c", "echo 2", NULL};
	char *missing[] = {"/nonexistent/hotload-no-such-command", "--version", NULL};

	start_sh(pr, "k", "sleep 0.1; echo 1", &o);
	ck_assert_int_eq(probes_start(pr, "k", argv, on_done, &other), -EBUSY);
	ck_assert_int_eq(probes_start(pr, "m", missing, on_done, &other), -ENOENT);
	ck_assert_int_eq(probes_running(pr, "m"), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_str_eq(o.out.data, "1\n");
	ck_assert_int_eq(other.calls, 0);
	ck_assert_uint_eq(probes_count(pr), 0);
	/* the key is free again */
	start_sh(pr, "k", "echo 3", &other);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_str_eq(other.out.data, "3\n");
	buf_free(&o.out);
	buf_free(&other.out);
	free_and_drain(pr);
}
END_TEST

/* A waiter of the test: counts its wakes, may wait again or cancel another. */
struct waiter_state {
	struct probes *pr;
	int wakes;
	int wait_again;
	struct probe_waiter **self;   /* cleared when woken */
	struct probe_waiter **cancel; /* taken back from inside this one's callback */
};

static void
on_wake(void *data)
{
	struct waiter_state *w = data;

	w->wakes++;
	if (w->self)
		*w->self = NULL;
	if (w->cancel && *w->cancel) {
		probes_cancel(w->pr, *w->cancel);
		*w->cancel = NULL;
	}
	if (w->wait_again) {
		w->wait_again--;
		*w->self = probes_wait(w->pr, on_wake, w);
	}
}

START_TEST(test_waiters)
{
	struct probes *pr = probes_new(&loop, NULL, PROBE_TIMEOUT_MS);
	struct outcome o1 = {0, 0, BUF_INIT}, o2 = {0, 0, BUF_INIT};
	struct probe_waiter *wa, *wb, *wc, *wd;
	struct waiter_state a = {pr, 0, 1, &wa, NULL}, b = {pr, 0, 0, &wb, &wc};
	struct waiter_state c = {pr, 0, 0, &wc, NULL}, d = {pr, 0, 0, &wd, NULL};

	wa = probes_wait(pr, on_wake, &a);
	wb = probes_wait(pr, on_wake, &b); /* takes c back while they are woken */
	wc = probes_wait(pr, on_wake, &c);
	wd = probes_wait(pr, on_wake, &d);
	probes_cancel(pr, wd); /* never woken */
	probes_cancel(pr, NULL);
	start_sh(pr, "one", "echo 1", &o1);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(a.wakes, 1);
	ck_assert_int_eq(b.wakes, 1);
	ck_assert_int_eq(c.wakes, 0);
	ck_assert_int_eq(d.wakes, 0);
	ck_assert_ptr_nonnull(wa); /* waits again, for the next probe */
	start_sh(pr, "two", "echo 2", &o2);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(a.wakes, 2);
	ck_assert_ptr_null(wa);
	/* probes_wake: the next turn of the loop, with no probe at all */
	wa = probes_wait(pr, on_wake, &a);
	probes_wake(pr);
	ck_assert_int_eq(a.wakes, 2);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(a.wakes, 3);
	/* a waiter left at probes_free is dropped unheard (and freed) */
	wa = probes_wait(pr, on_wake, &a);
	buf_free(&o1.out);
	buf_free(&o2.out);
	free_and_drain(pr);
	ck_assert_int_eq(a.wakes, 3);
}
END_TEST

static void
on_empty(void *data)
{
	(*(int *)data)++;
}

/* The shutdown: probes are killed, their done hears -ECANCELED at once,
 * nothing starts any more, waiters are woken, and the loop ends soon. */
START_TEST(test_stop)
{
	struct probes *pr = probes_new(&loop, NULL, PROBE_TIMEOUT_MS);
	struct outcome o = {0, 0, BUF_INIT}, late = {0, 0, BUF_INIT};
	struct probe_waiter *w;
	struct waiter_state ws = {pr, 0, 0, &w, NULL};
	char *argv[] = {"sh", "-c", "echo 1", NULL};
	char script[512], path[256];
	long long t0;
	int empties = 0;

	probes_set_empty_cb(pr, on_empty, &empties);
	snprintf(script, sizeof(script), "sleep 30 & echo $! > '%s/child'; wait", tmpdir);
	start_sh(pr, "slow", script, &o);
	w = probes_wait(pr, on_wake, &ws);
	/* until the child has written its pid */
	snprintf(path, sizeof(path), "%s/child", tmpdir);
	for (t0 = now_ms(); access(path, F_OK) != 0 && now_ms() - t0 < 5000; usleep(10000))
		uv_run(&loop, UV_RUN_NOWAIT);
	usleep(50000);
	t0 = now_ms();
	probes_stop(pr);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, -ECANCELED);
	ck_assert_int_eq(probes_start(pr, "other", argv, on_done, &late), -ESHUTDOWN);
	ck_assert_int_eq(probes_running(pr, "slow"), 1); /* until it is reaped */
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_msg(now_ms() - t0 < 3000, "the stopped probe took %lld ms", now_ms() - t0);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(late.calls, 0);
	ck_assert_int_eq(ws.wakes, 1);
	ck_assert_int_eq(empties, 1);
	ck_assert_uint_eq(probes_count(pr), 0);
	ck_assert_msg(gone(read_pid("child")), "the stopped probe's child lives on");
	buf_free(&o.out);
	free_and_drain(pr);
}
END_TEST

/* Freed while a probe runs: killed, closed, nothing leaks, the loop ends. */
START_TEST(test_free_while_running)
{
	struct probes *pr = probes_new(&loop, NULL, PROBE_TIMEOUT_MS);
	struct outcome o = {0, 0, BUF_INIT};
	long long t0;

	start_sh(pr, "slow", "sleep 30", &o);
	uv_run(&loop, UV_RUN_NOWAIT);
	t0 = now_ms();
	free_and_drain(pr);
	ck_assert_msg(now_ms() - t0 < 3000, "freeing took %lld ms", now_ms() - t0);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, -ECANCELED);
	buf_free(&o.out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_output_and_status);
	tcase_add_test(tc, test_output_cap);
	tcase_add_test(tc, test_deadline_kills_group);
	tcase_add_test(tc, test_exited_with_output_held);
	tcase_add_test(tc, test_one_per_key_and_missing);
	tcase_add_test(tc, test_waiters);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_free_while_running);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
