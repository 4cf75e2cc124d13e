/* itest_dcc.c - mayapy and hython (fake installs under HOTLOAD_HINT_ROOT,
 * tests/fixtures/fake-dcc): version picking, aliases, initialize and
 * uninitialize, several targets at once */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define MAYA_INIT "maya.standalone.initialize name=python\n"
#define MAYA_UNINIT "maya.standalone.uninitialize\n"

static struct itest_daemon *
start_fake(void)
{
	struct itest_opts o = {.fake_dcc = 1};

	return itest_start(&o);
}

/* Run code in raw mode; assert it printed and nothing failed; return the
 * output without the "OUTPUT: \n" (new string). */
static char *
raw_out(struct itest_daemon *d, const char *target, const char *code)
{
	char *r = itest_raw_n(d, ITEST_UNIX, target, code, strlen(code), 30000, NULL), *out;

	ck_assert_msg(!strncmp(r, "OUTPUT: \n", 9) && !strstr(r, "ERRORS: \n"),
	              "%s: expected output only, got \"%s\"", target, r);
	out = strdup(r + 9);
	free(r);
	return out;
}

#define assert_raw_out(d, target, code, expect)                                                    \
	do {                                                                                       \
		char *_o = raw_out((d), (target), (code));                                         \
		ck_assert_msg(!strcmp(_o, (expect)), "%s: expected \"%s\", got \"%s\"", (target),  \
		              (expect), _o);                                                       \
		free(_o);                                                                          \
	} while (0)

static char *
fake_log(struct itest_daemon *d)
{
	char *s = itest_read_file(d->fake_log, NULL);

	return s ? s : strdup("");
}

static long
pid_of(struct itest_daemon *d, const char *target)
{
	char *o = raw_out(d, target, "import os\nprint(os.getpid())\n");
	long pid = atol(o);

	ck_assert_int_gt(pid, 0);
	free(o);
	return pid;
}

START_TEST(mayapy_versions_and_alias)
{
	struct itest_daemon *d = start_fake();
	char *log, *o, *expect;
	long pid;

	/* maya.cmds works only after maya.standalone.initialize() */
	assert_raw_out(d, "mayapy:2024",
	               "import maya.cmds as cmds\nprint(cmds.about(version=True))\n", "2024\n");
	log = fake_log(d);
	ck_assert_str_eq(log, MAYA_INIT); /* initialize ran once, before the request */
	free(log);
	o = raw_out(d, "mayapy:2024", "import os\nprint(os.environ['MAYA_LOCATION'])\n");
	expect = itest_strf("%s/usr/autodesk/maya2024\n", d->hint_root);
	ck_assert_str_eq(o, expect);
	free(expect);
	free(o);

	/* maya:2024 and mayapy (newest) are the same target: the same worker */
	pid = pid_of(d, "mayapy:2024");
	ck_assert_int_eq(pid_of(d, "maya:2024"), pid);
	ck_assert_int_eq(pid_of(d, "mayapy"), pid);
	ck_assert_int_eq(pid_of(d, "maya"), pid);
	assert_raw_out(d, "maya:2024", "import maya.cmds as cmds\nprint(cmds.polyCube()[0])\n",
	               "pCube1\n");
	log = fake_log(d);
	ck_assert_str_eq(log, MAYA_INIT);
	free(log);
	itest_stop(d);
}
END_TEST

START_TEST(hython_versions_and_alias)
{
	struct itest_daemon *d = start_fake();
	const char *code =
	        "import hou, os\nprint(hou.applicationVersionString(), os.environ['HFS'])\n";
	char *expect_new = itest_strf("20.5.332 %s/opt/hfs20.5.332\n", d->hint_root);
	char *expect_old = itest_strf("20.5.10 %s/opt/hfs20.5.10\n", d->hint_root);
	char *log;
	long pid;

	/* 20.5 picks the newest 20.5.* build: 332 > 10 numerically */
	assert_raw_out(d, "hython:20.5", code, expect_new);
	assert_raw_out(d, "houdini:20.5", code, expect_new);
	assert_raw_out(d, "hython", code, expect_new);
	assert_raw_out(d, "hython:20.5.332", code, expect_new);
	pid = pid_of(d, "hython:20.5");
	ck_assert_int_eq(pid_of(d, "houdini"), pid);
	/* the exact older build is another target */
	assert_raw_out(d, "hython:20.5.10", code, expect_old);
	ck_assert_int_ne(pid_of(d, "houdini:20.5.10"), pid);
	/* the hook's initialize imported hou before the first request */
	log = fake_log(d);
	itest_assert_contains(log, "hou import version=20.5.332\n");
	itest_assert_contains(log, "hou import version=20.5.10\n");
	free(log);
	free(expect_new);
	free(expect_old);
	itest_stop(d);
}
END_TEST

/* The user's code starts with the names the DCC's own script editor or
 * shell has: cmds (and maya) in mayapy, hou in hython, also in a fresh
 * namespace; raw requests share the main one. */
START_TEST(dcc_names_in_user_namespace)
{
	struct itest_daemon *d = start_fake();
	char *o;

	assert_raw_out(d, "mayapy:2024", "print(cmds.about(version=True), maya.__name__)\n",
	               "2024 maya\n");
	o = itest_raw(d, ITEST_UNIX, "mayapy:2024 ns=fresh", "print(cmds.ls()[0])\n");
	ck_assert_str_eq(o, "OUTPUT: \ntime1\n");
	free(o);
	assert_raw_out(d, "hython:20.5", "print(hou.applicationVersionString())\n", "20.5.332\n");
	o = itest_raw(d, ITEST_UNIX, "hython:20.5 ns=fresh", "print(hou.node('/obj').path())\n");
	ck_assert_str_eq(o, "OUTPUT: \n/obj\n");
	free(o);
	itest_stop(d);
}
END_TEST

/* Two targets served at once: a slow python:3 request does not hold up
 * mayapy:2024. */
START_TEST(two_targets_at_once)
{
	struct itest_daemon *d = start_fake();
	struct jclient *py = jc_open(d, ITEST_UNIX, "python:3 mode=json");
	struct jclient *maya = jc_open(d, ITEST_UNIX, "mayapy:2024 mode=json");
	struct jreply rp, rm;
	long long t0, t_maya;

	ck_assert_int_ne(jc_worker_pid(py, 1), jc_worker_pid(maya, 1));
	jc_send_line(py, "{\"id\":2,\"op\":\"exec\",\"code\":\"import time\\ntime.sleep(1.5)\\n"
	                 "print('py done')\"}");
	itest_sleep_ms(100);
	t0 = itest_now_ms();
	jc_call(maya, 2, "exec", "import maya.cmds as cmds\nprint(cmds.ls()[0])", &rm);
	t_maya = itest_now_ms() - t0;
	jreply_assert_ok(&rm);
	ck_assert_str_eq(rm.out, "time1\n");
	ck_assert_msg(t_maya < 1000, "mayapy waited %lld ms behind python:3", t_maya);
	jc_collect(py, 2, 0, &rp);
	jreply_assert_ok(&rp);
	ck_assert_str_eq(rp.out, "py done\n");
	jreply_free(&rp);
	jreply_free(&rm);
	jc_close(py);
	jc_close(maya);
	itest_stop(d);
}
END_TEST

START_TEST(shutdown_token_runs_uninitialize)
{
	struct itest_daemon *d = start_fake();
	long pid1, pid2;
	char *log;

	pid1 = pid_of(d, "mayapy:2024");
	assert_raw_out(d, "mayapy:2024", "print('last')\n__SHUTDOWN__\n", "last\n");
	ck_assert_msg(itest_wait_file_contains(d->fake_log, MAYA_UNINIT, 10000),
	              "no maya.standalone.uninitialize after __SHUTDOWN__");
	/* a new worker, initialized again */
	pid2 = pid_of(d, "mayapy:2024");
	ck_assert_int_ne(pid1, pid2);
	log = fake_log(d);
	ck_assert_str_eq(log, MAYA_INIT MAYA_UNINIT MAYA_INIT);
	free(log);
	ck_assert(!itest_pid_alive((pid_t)pid1));
	itest_stop(d);
}
END_TEST

START_TEST(sigterm_runs_uninitialize)
{
	struct itest_daemon *d = start_fake();
	long pid;
	char *log;
	int status;

	pid = pid_of(d, "mayapy:2024");
	(void)pid_of(d, "hython:20.5");
	status = itest_terminate(d, 20000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "hotloadd exited with status 0x%x on SIGTERM", status);
	log = fake_log(d);
	ck_assert_msg(!strncmp(log, MAYA_INIT, strlen(MAYA_INIT)) &&
	                      itest_count(log, MAYA_UNINIT) == 1,
	              "expected initialize then one uninitialize in the fake DCC log after "
	              "SIGTERM, got \"%s\"",
	              log);
	free(log);
	ck_assert(!itest_pid_alive((pid_t)pid));
	itest_free(d);
}
END_TEST

/* A worker killed mid-request comes back initialized. */
START_TEST(crashed_maya_restarts_initialized)
{
	struct itest_daemon *d = start_fake();
	struct jclient *c = jc_open(d, ITEST_UNIX, "maya:2024 mode=json");
	struct jreply r;
	char *log;

	(void)jc_worker_pid(c, 1);
	jc_call(c, 2, "exec", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	jc_call(c, 3, "exec", "import maya.cmds as cmds\nprint(cmds.about(version=True))", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "2024\n");
	jreply_free(&r);
	log = fake_log(d);
	/* killed: no uninitialize; the new worker ran initialize */
	ck_assert_str_eq(log, MAYA_INIT MAYA_INIT);
	free(log);
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dcc");
	TCase *tc = tcase_create("dcc");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mayapy_versions_and_alias);
	tcase_add_test(tc, hython_versions_and_alias);
	tcase_add_test(tc, dcc_names_in_user_namespace);
	tcase_add_test(tc, two_targets_at_once);
	tcase_add_test(tc, shutdown_token_runs_uninitialize);
	tcase_add_test(tc, sigterm_runs_uninitialize);
	tcase_add_test(tc, crashed_maya_restarts_initialized);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
