/* itest_children.c - processes started by user code do not outlive their
 * worker: not when it is stopped (__SHUTDOWN__, control stop, daemon exit),
 * not when it crashes, not when the daemon itself is SIGKILLed; both a
 * child that stays in the worker's process group and one that left it with
 * setsid(1)
 *
 * The children carry HL_TAG=<the test's directory> in their environment,
 * so the test finds them (and only them) in /proc. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define JSON_HDR "python:3 mode=json"

#define SUPERVISION ITEST_SUPERVISION("1", "0.5")

enum which {
	IN_GROUP = 1, /* sleep 300, in the worker's process group */
	SETSID = 2,   /* setsid sleep 301: its own session */
	BOTH = 3,
};

static struct itest_daemon *
start_daemon(void)
{
	struct itest_opts o = {.extra_config = SUPERVISION};

	return itest_start(&o);
}

static char *
tag(const struct itest_daemon *d)
{
	return itest_strf("HL_TAG=%s", d->dir);
}

/* How many tagged children run now. */
static size_t
children(const struct itest_daemon *d)
{
	char *t = tag(d);
	size_t n = itest_procs_with_env(t, NULL, 0);

	free(t);
	return n;
}

/* Start the children in the worker over c; assert they run. */
static void
spawn_children(const struct itest_daemon *d, struct jclient *c, json_int_t id, enum which w)
{
	char *code = itest_strf("import os, subprocess\n"
	                        "env = dict(os.environ, HL_TAG='%s')\n"
	                        "pids = []\n"
	                        "if %d & 1:\n"
	                        "    pids.append(subprocess.Popen(['sleep', '300'], env=env).pid)\n"
	                        "if %d & 2:\n"
	                        "    pids.append(subprocess.Popen(['setsid', 'sleep', '301'], "
	                        "env=env).pid)\n"
	                        "print(*pids)\n",
	                        d->dir, (int)w, (int)w);
	size_t want = w == BOTH ? 2 : 1;
	long long end = itest_now_ms() + 5000;
	struct jreply r;

	jc_call(c, id, "exec", code, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	free(code);
	/* /proc/PID/environ reads empty for a moment while setsid execs sleep */
	while (children(d) != want && itest_now_ms() < end)
		itest_sleep_ms(20);
	ck_assert_uint_eq(children(d), want);
}

/* Wait until no tagged child runs; kill those left (so a failure leaves no
 * orphans behind) and fail naming them. */
static void
assert_children_gone(const struct itest_daemon *d, const char *after)
{
	long long end = itest_now_ms() + 5000;
	char *t = tag(d);
	pid_t left[8];
	size_t n, i;

	while ((n = itest_procs_with_env(t, left, 8)) && itest_now_ms() < end)
		itest_sleep_ms(50);
	for (i = 0; i < n && i < 8; i++)
		kill(left[i], SIGKILL);
	free(t);
	ck_assert_msg(n == 0, "%zu child process(es) of user code (first pid %d) still ran 5 s %s",
	              n, n ? (int)left[0] : 0, after);
}

START_TEST(gone_after_shutdown_token)
{
	struct itest_daemon *d = start_daemon();
	char *code = itest_strf("import os, subprocess\n"
	                        "env = dict(os.environ, HL_TAG='%s')\n"
	                        "subprocess.Popen(['sleep', '300'], env=env)\n"
	                        "subprocess.Popen(['setsid', 'sleep', '301'], env=env)\n"
	                        "__SHUTDOWN__\n",
	                        d->dir);
	char *reply = itest_raw(d, ITEST_UNIX, "python:3", code);

	ck_assert_str_eq(reply, "Script executed (no output).");
	assert_children_gone(d, "after __SHUTDOWN__ stopped their worker");
	free(reply);
	free(code);
	itest_stop(d);
}
END_TEST

START_TEST(gone_after_control_stop)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);
	json_t *fields = json_pack("{s:s}", "target", "python:3"), *res;

	spawn_children(d, c, 2, BOTH);
	res = itest_control_with(d, "stop", fields);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	json_decref(fields);
	ck_assert(itest_wait_gone((pid_t)pid, 5000));
	assert_children_gone(d, "after control stop stopped their worker");
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(gone_after_crash)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;

	spawn_children(d, c, 1, BOTH);
	jc_call(c, 2, "exec", "import os\nos.kill(os.getpid(), 9)", &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	assert_children_gone(d, "after their worker was killed");
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(gone_after_daemon_sigterm)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	int status;

	spawn_children(d, c, 1, BOTH);
	status = itest_terminate(d, 15000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	assert_children_gone(d, "after their daemon exited on SIGTERM");
	jc_close(c);
	itest_free(d);
}
END_TEST

/* SIGKILL the daemon; its worker's children go with the worker. */
static void
daemon_sigkill(enum which w, int busy)
{
	struct itest_daemon *d = start_daemon();
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long pid = jc_worker_pid(c, 1);
	int status, gone;

	spawn_children(d, c, 2, w);
	if (busy) {
		json_t *m;

		jc_send_line(c, "{\"id\":3,\"op\":\"exec\",\"code\":\"import time\\n"
		                "print('busy', flush=True)\\ntime.sleep(60)\"}");
		m = jc_next_output(c, 0);
		json_decref(m);
	}
	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	gone = itest_wait_gone((pid_t)pid, 5000);
	if (!gone)
		kill((pid_t)pid, SIGKILL);
	assert_children_gone(d, "after their daemon was SIGKILLed");
	ck_assert_msg(gone, "worker %ld outlived its SIGKILLed daemon", pid);
	jc_close(c);
	itest_free(d);
}

/* Four idle workers, each with a child in its group; SIGKILL the daemon;
 * five rounds, as the failure was intermittent.
 *
 * Regression: when the daemon died, the kernel closed its end of each
 * worker's control socket (exit_files) before it sent hotload-launch the
 * parent-death SIGHUP (exit_notify). An idle agent saw the EOF and exited
 * 0 at once; hotload-launch could get SIGCHLD first and exit like its
 * child without killing its group (strace: rt_sigtimedwait -> SIGCHLD,
 * wait4 -> 0, exit_group(0)), leaving this sleep 300 to init: about one
 * worker in ten. Fixed by c9e5660 (hotload-launch is the subreaper of its
 * DCC and kills its children when the interpreter ends). */
START_TEST(in_group_child_gone_after_daemon_sigkill)
{
	static const char *const four[] = {
	        "four.yaml",
	        "name: four\n"
	        "hints:\n"
	        "  linux:\n"
	        "    - path: python3\n"
	        "      version: \"1\"\n"
	        "max_workers: 4\n"
	        "min_workers: 4\n",
	        NULL,
	};
	struct itest_opts o = {.hooks = four, .extra_config = SUPERVISION};
	int round;

	for (round = 1; round <= 5; round++) {
		struct itest_daemon *d = itest_start(&o);
		struct jclient *c[4];
		struct jreply r;
		char *code = itest_strf("import os, subprocess, time\n"
		                        "env = dict(os.environ, HL_TAG='%s')\n"
		                        "subprocess.Popen(['sleep', '300'], env=env)\n"
		                        "time.sleep(0.5)\n"
		                        "print(os.getpid())\n",
		                        d->dir);
		char *msg;
		int i, status;
		long long end;

		/* four at once: one on each worker */
		for (i = 0; i < 4; i++) {
			json_t *req =
			        json_pack("{s:i, s:s, s:s}", "id", 1, "op", "exec", "code", code);

			c[i] = jc_open(d, ITEST_UNIX, "four mode=json");
			jc_send(c[i], req);
			json_decref(req);
		}
		for (i = 0; i < 4; i++) {
			jc_collect(c[i], 1, 0, &r);
			jreply_assert_ok(&r);
			jreply_free(&r);
		}
		end = itest_now_ms() + 5000;
		while (children(d) != 4 && itest_now_ms() < end)
			itest_sleep_ms(20);
		ck_assert_uint_eq(children(d), 4);
		ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
		waitpid(d->pid, &status, 0);
		d->pid = 0;
		msg = itest_strf("after their daemon was SIGKILLed (round %d; their workers idle)",
		                 round);
		assert_children_gone(d, msg);
		free(msg);
		for (i = 0; i < 4; i++)
			jc_close(c[i]);
		free(code);
		itest_free(d);
	}
}
END_TEST

START_TEST(in_group_child_gone_after_daemon_sigkill_busy)
{
	daemon_sigkill(IN_GROUP, 1);
}
END_TEST

/* The child that left the worker's process group (setsid) goes too.
 *
 * Regression: hotload-launch killed only its group, and with the daemon (the
 * subreaper) gone the setsid'd child was re-parented to init and ran on.
 * Fixed by c9e5660 (hotload-launch is a subreaper itself). */
START_TEST(setsid_child_gone_after_daemon_sigkill)
{
	daemon_sigkill(SETSID, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("children");
	TCase *tc = tcase_create("children");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, gone_after_shutdown_token);
	tcase_add_test(tc, gone_after_control_stop);
	tcase_add_test(tc, gone_after_crash);
	tcase_add_test(tc, gone_after_daemon_sigterm);
	tcase_add_test(tc, in_group_child_gone_after_daemon_sigkill);
	tcase_add_test(tc, in_group_child_gone_after_daemon_sigkill_busy);
	tcase_add_test(tc, setsid_child_gone_after_daemon_sigkill);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
