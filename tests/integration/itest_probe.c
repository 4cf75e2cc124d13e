/* itest_probe.c - version probes do not hold anyone up: a slow
 * version_command delays only the requests that need its answer
 *
 * The probes' commands log to $HOTLOAD_TEST_PROBE_DIR (a directory of the
 * test's own, in the daemon's environment): "run" when one starts, "end"
 * when it is about to answer, so a test can tell whether a request was
 * answered while the probe still ran, and how many probes ran. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

#define PY_JSON "python:3 mode=json"

/* A hint at the test's python3 whose version a command says. */
#define PROBED_HOOK(name, command)                                                                 \
	"name: " name "\n"                                                                         \
	"hints:\n"                                                                                 \
	"  linux:\n"                                                                               \
	"    - path: \"$HOTLOAD_TEST_PY\"\n"                                                       \
	"      version_command: [sh, -c, \"" command "\"]\n"

#define LOG(file) "\\\"$HOTLOAD_TEST_PROBE_DIR/" file "\\\""

static const char *const probe_hooks[] = {
        "slow.yaml",
        PROBED_HOOK("slow", "echo run >> " LOG("slow.log") "; sleep 3; echo end >> " LOG(
                                    "slow.log") "; echo 3"),
        "broken.yaml",
        PROBED_HOOK("broken", "echo run >> " LOG("broken.log") "; sleep 0.5; echo 3; exit 1"),
        "hang.yaml",
        PROBED_HOOK("hang", "echo $$ > " LOG("hang.pid") "; sleep 60 & echo $! > " LOG(
                                    "hang.child") "; wait"),
        "park.yaml",
        "name: park\n"
        "hints:\n"
        "  linux:\n"
        "    - path: \"$HOTLOAD_TEST_PY\"\n"
        "      version: \"3\"\n",
        "wrap.yaml",
        "name: wrap\n"
        "hints:\n"
        "  linux:\n"
        "    - path: \"$HOTLOAD_TEST_PROBE_DIR/py\"\n"
        "      version_command: [sh, -c, \"echo run >> " LOG(
                "wrap.log") "; sleep 2; echo end >> " LOG("wrap.log") "; echo 3\"]\n",
        NULL,
};

static const char *const warm_hooks[] = {
        "warmp.yaml",
        PROBED_HOOK("warmp",
                    "echo run >> " LOG("warmp.log") "; sleep 1; echo 3") "min_workers: 1\n",
        NULL,
};

static char probe_dir[64];

/* The first python3 on PATH, for the hints (they probe one executable). */
static char *
find_python(void)
{
	const char *path = getenv("PATH"), *p, *colon;
	char *exe;

	ck_assert_ptr_nonnull(path);
	for (p = path; *p; p = *colon ? colon + 1 : colon) {
		colon = strchr(p, ':');
		if (!colon)
			colon = p + strlen(p);
		exe = itest_strf("%.*s/python3", (int)(colon - p), p);
		if (colon > p && access(exe, X_OK) == 0)
			return exe;
		free(exe);
	}
	ck_abort_msg("no python3 on PATH");
	return NULL;
}

/* The daemon, with the probe directory (and a python3 wrapper in it whose
 * mtime a test may change) in its environment. */
static struct itest_daemon *
start_daemon_with(const char *const *hooks, int tcp)
{
	struct itest_opts o = {.hooks = hooks, .tcp = tcp};
	char *py = find_python(), *wrapper, *body;

	strcpy(probe_dir, "/tmp/hl-probe-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(probe_dir));
	setenv("HOTLOAD_TEST_PROBE_DIR", probe_dir, 1);
	setenv("HOTLOAD_TEST_PY", py, 1);
	wrapper = itest_strf("%s/py", probe_dir);
	body = itest_strf("#!/bin/sh\nexec '%s' \"$@\"\n", py);
	itest_write_file(wrapper, body, strlen(body));
	ck_assert_int_eq(chmod(wrapper, 0755), 0);
	free(wrapper);
	free(body);
	free(py);
	return itest_start(&o);
}

static struct itest_daemon *
start_daemon(int tcp)
{
	return start_daemon_with(probe_hooks, tcp);
}

static void
stop_daemon(struct itest_daemon *d)
{
	itest_stop(d);
	itest_remove_tree(probe_dir);
}

/* probe_dir/name, read now ("" when missing); new string. */
static char *
probe_log(const char *name)
{
	char *path = itest_strf("%s/%s", probe_dir, name);
	char *text = itest_read_file(path, NULL);

	free(path);
	return text ? text : strdup("");
}

/* Wait until probe_dir/name holds needle (10 s). */
static void
wait_log(const char *name, const char *needle)
{
	char *path = itest_strf("%s/%s", probe_dir, name);

	ck_assert_msg(itest_wait_file_contains(path, needle, 10000), "%s never said %s", name,
	              needle);
	free(path);
}

/* A raw request sent and half-closed, its reply not read yet. */
static int
raw_send(const struct itest_daemon *d, const char *header, const char *code)
{
	int fd = itest_connect(d, ITEST_UNIX);

	itest_send_str(fd, header);
	itest_send_str(fd, "\n");
	itest_send_str(fd, code);
	itest_half_close(fd);
	return fd;
}

/* exec code on a JSON connection and assert it printed out. */
static void
json_exec_ok(struct jclient *c, json_int_t id, const char *code, const char *out)
{
	struct jreply r;

	jc_call(c, id, "exec", code, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, out);
	jreply_free(&r);
}

/* While a target's version is probed (3 s), a request to another target
 * is answered at once; the waiting one is answered when the probe ends. */
START_TEST(slow_probe_does_not_block)
{
	struct itest_daemon *d = start_daemon(0);
	struct jclient *fast;
	char *reply, *log;
	long long t0;
	int fd;

	fd = raw_send(d, "slow", "print('slow ok')\n");
	wait_log("slow.log", "run");
	t0 = itest_now_ms();
	fast = jc_open(d, ITEST_UNIX, PY_JSON);
	json_exec_ok(fast, 1, "print('fast')", "fast\n");
	ck_assert_msg(itest_now_ms() - t0 < 2500, "python:3 took %lld ms while slow was probed",
	              itest_now_ms() - t0);
	log = probe_log("slow.log");
	ck_assert_msg(!strstr(log, "end"), "python:3 was answered only after the probe ended");
	free(log);
	ck_assert_msg(!itest_wait_readable(fd, 0), "slow answered before its probe ended");
	/* the control connection is not held up either */
	json_decref(itest_control(d, "status"));
	jc_close(fast);

	reply = itest_read_all(fd, 15000, NULL);
	ck_assert_str_eq(reply, "OUTPUT: \nslow ok\n");
	free(reply);
	close(fd);
	log = probe_log("slow.log");
	ck_assert_str_eq(log, "run\nend\n");
	free(log);
	/* known now: no second probe */
	reply = itest_raw(d, ITEST_UNIX, "slow", "print('again')\n");
	ck_assert_str_eq(reply, "OUTPUT: \nagain\n");
	free(reply);
	log = probe_log("slow.log");
	ck_assert_str_eq(log, "run\nend\n");
	free(log);
	stop_daemon(d);
}
END_TEST

/* Two clients and a list wait for the same probe: one process runs, and
 * list answers with the version it found. */
START_TEST(waiters_share_one_probe)
{
	struct itest_daemon *d = start_daemon(0);
	struct jclient *a, *b, *ctl;
	json_t *hooks, *h, *installs;
	struct jreply r;
	char *log;
	size_t i;
	int found = 0;

	a = jc_open(d, ITEST_UNIX, "slow mode=json");
	jc_send_exec(a, 1, "print('a')", 0);
	wait_log("slow.log", "run");
	b = jc_open(d, ITEST_UNIX, "slow:3 mode=json");
	jc_send_exec(b, 1, "print('b')", 0);
	ctl = jc_open(d, ITEST_UNIX, "hotload mode=json");
	jc_send_line(ctl, "{\"id\":7,\"op\":\"list\"}");
	jc_collect(a, 1, 15000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "a\n");
	jreply_free(&r);
	jc_collect(b, 1, 15000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "b\n");
	jreply_free(&r);
	jc_collect(ctl, 7, 15000, &r);
	jreply_assert_ok(&r);
	hooks = json_object_get(r.done, "hooks");
	json_array_foreach(hooks, i, h)
	{
		if (strcmp(json_string_value(json_object_get(h, "name")) ?: "", "slow"))
			continue;
		installs = json_object_get(h, "installs");
		ck_assert_uint_eq(json_array_size(installs), 1);
		ck_assert_str_eq(
		        json_string_value(json_object_get(json_array_get(installs, 0), "version")),
		        "3");
		found = 1;
	}
	ck_assert_msg(found, "list does not show slow");
	jreply_free(&r);
	log = probe_log("slow.log");
	ck_assert_str_eq(log, "run\nend\n");
	free(log);
	jc_close(a);
	jc_close(b);
	jc_close(ctl);
	stop_daemon(d);
}
END_TEST

/* Clients that go while their route waits: one closes, one resets its TCP
 * connection. Nothing is owed to them; the daemon serves on and exits
 * cleanly (no leak). */
START_TEST(client_gone_while_waiting)
{
	struct itest_daemon *d = start_daemon(1);
	struct linger lg = {1, 0};
	struct jclient *c;
	char *reply;
	int fd;

	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "slow mode=json\n{\"id\":1,\"op\":\"exec\",\"code\":\"print(1)\"}\n");
	wait_log("slow.log", "run");
	close(fd);
	fd = itest_connect(d, ITEST_TCP);
	itest_send_str(fd, "slow\nprint(2)\n");
	itest_sleep_ms(200);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd); /* a reset */
	fd = raw_send(d, "slow", "print('stayed')\n");
	c = jc_open(d, ITEST_UNIX, PY_JSON);
	json_exec_ok(c, 1, "print('meanwhile')", "meanwhile\n");
	jc_close(c);
	reply = itest_read_all(fd, 15000, NULL);
	ck_assert_str_eq(reply, "OUTPUT: \nstayed\n");
	free(reply);
	close(fd);
	stop_daemon(d);
}
END_TEST

/* A version_command that fails: the target is not installed, said once
 * the probe has ended. */
START_TEST(failing_probe_not_installed)
{
	struct itest_daemon *d = start_daemon(0);
	struct jclient *c;
	json_t *m;
	char *reply, *log;

	reply = itest_raw(d, ITEST_UNIX, "broken", "print(1)\n");
	itest_assert_contains(reply, "NotInstalled: broken is not installed");
	free(reply);
	c = jc_open(d, ITEST_UNIX, "broken:3 mode=json");
	m = jc_next(c, 5000);
	ck_assert_str_eq(json_string_value(json_object_get(m, "event")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "error"), "type")),
	                 "NotInstalled");
	json_decref(m);
	jc_close(c);
	/* the answer (none) is kept too */
	log = probe_log("broken.log");
	ck_assert_str_eq(log, "run\n");
	free(log);
	stop_daemon(d);
}
END_TEST

/* SIGTERM while a probe runs: it is killed with what it started, the
 * client waiting for it hears ShuttingDown, and the daemon exits 0 as
 * soon as that client has gone (no leak). */
START_TEST(shutdown_kills_probe)
{
	struct itest_daemon *d = start_daemon(0);
	struct jclient *c;
	pid_t pid, child;
	json_t *m;
	char *s;
	long long t0;

	c = jc_open(d, ITEST_UNIX, "hang mode=json");
	wait_log("hang.child", "\n");
	s = probe_log("hang.pid");
	pid = (pid_t)atol(s);
	free(s);
	s = probe_log("hang.child");
	child = (pid_t)atol(s);
	free(s);
	ck_assert(pid > 0 && child > 0);
	t0 = itest_now_ms();
	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	m = jc_next(c, 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(json_string_value(json_object_get(m, "event")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "error"), "type")),
	                 "ShuttingDown");
	json_decref(m);
	jc_close(c);
	ck_assert_msg(itest_wait_gone(d->pid, 4000), "hotloadd did not exit");
	ck_assert_msg(itest_now_ms() - t0 < 4000, "the shutdown took %lld ms", itest_now_ms() - t0);
	itest_stop_within(d, 5000); /* reaps it: exit 0, no leak */
	ck_assert_msg(itest_wait_gone(pid, 3000), "the probe outlived the daemon");
	ck_assert_msg(itest_wait_gone(child, 3000), "what the probe started outlived the daemon");
	itest_remove_tree(probe_dir);
}
END_TEST

/* A reload while a client waits for a probe: it is routed again against
 * the new hooks at once (here a fixed version, nothing to probe). */
START_TEST(reload_reroutes_waiting)
{
	struct itest_daemon *d = start_daemon(0);
	struct jclient *c;
	json_t *res;
	char *log;

	c = jc_open(d, ITEST_UNIX, "slow mode=json");
	jc_send_exec(c, 1, "print('rerouted')", 0);
	wait_log("slow.log", "run");
	itest_write_hook(d, "slow.yaml",
	                 "name: slow\n"
	                 "hints:\n"
	                 "  linux:\n"
	                 "    - path: \"$HOTLOAD_TEST_PY\"\n"
	                 "      version: \"3\"\n");
	res = itest_control(d, "reload");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	{
		struct jreply r;

		jc_collect(c, 1, 10000, &r);
		jreply_assert_ok(&r);
		ck_assert_str_eq(r.out, "rerouted\n");
		jreply_free(&r);
	}
	log = probe_log("slow.log");
	ck_assert_msg(!strstr(log, "end"), "the request waited for the old hook's probe");
	free(log);
	jc_close(c);
	stop_daemon(d);
}
END_TEST

/* A reload that changes a hook so that its version must be probed: the
 * requests queued for its old pool wait for the probe, then run in the new
 * pool; one whose client resets meanwhile is let go. */
START_TEST(reload_parks_queued_requests)
{
	struct itest_daemon *d = start_daemon(1);
	struct jclient *busy = jc_open(d, ITEST_UNIX, "park mode=json"), *queued, *gone;
	struct linger lg = {1, 0};
	struct jreply r;
	json_t *res;
	char *log;

	json_exec_ok(busy, 1, "print('warm')", "warm\n");
	jc_send_exec(busy, 2, "import time\ntime.sleep(2)\nprint('old')", 0);
	queued = jc_open(d, ITEST_UNIX, "park mode=json");
	jc_send_exec(queued, 1, "print('parked')", 0);
	gone = jc_open(d, ITEST_TCP, "park mode=json");
	jc_send_exec(gone, 1, "print('never')", 0);
	itest_sleep_ms(300);
	itest_write_hook(
	        d, "park.yaml",
	        "name: park\n"
	        "hints:\n"
	        "  linux:\n"
	        "    - path: \"$HOTLOAD_TEST_PY\"\n"
	        "      version_command: [sh, -c, \"echo run >> " LOG(
	                "park.log") "; sleep 1; echo end >> " LOG("park.log") "; echo 3\"]\n");
	res = itest_control(d, "reload");
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	wait_log("park.log", "run");
	ck_assert_int_eq(setsockopt(gone->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	jc_close(gone);
	jc_collect(queued, 1, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "parked\n");
	jreply_free(&r);
	log = probe_log("park.log");
	ck_assert_str_eq(log, "run\nend\n");
	free(log);
	jc_collect(busy, 2, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "old\n");
	jreply_free(&r);
	jc_close(busy);
	jc_close(queued);
	stop_daemon(d);
}
END_TEST

/* min_workers of a hook whose version is probed start once it is known. */
START_TEST(prewarm_waits_for_probe)
{
	struct itest_daemon *d = start_daemon_with(warm_hooks, 0);
	long long end = itest_now_ms() + 15000;
	json_t *t, *w;
	char *log;
	int idle = 0;

	while (!idle) {
		ck_assert_msg(itest_now_ms() < end, "warmp:3 was not pre-warmed");
		itest_sleep_ms(100);
		t = itest_target_status(d, "warmp:3");
		w = json_array_get(json_object_get(t, "workers"), 0);
		idle = w && !strcmp(json_string_value(json_object_get(w, "state")) ?: "", "idle");
		json_decref(t);
	}
	log = probe_log("warmp.log");
	ck_assert_str_eq(log, "run\n");
	free(log);
	stop_daemon(d);
}
END_TEST

/* A JSON request whose target's executable changed (a new mtime) waits
 * for the new probe, and the requests after it on the same connection wait
 * behind it, in order; other connections are served meanwhile. */
START_TEST(json_request_waits_in_order)
{
	struct itest_daemon *d = start_daemon(0);
	struct jclient *c = jc_open(d, ITEST_UNIX, "wrap mode=json"), *fast;
	struct timespec times[2] = {{0, UTIME_OMIT}, {0, 0}};
	struct jreply r;
	char *path, *log;
	struct stat st;

	json_exec_ok(c, 1, "print(1)", "1\n");
	path = itest_strf("%s/py", probe_dir);
	ck_assert_int_eq(stat(path, &st), 0);
	times[1].tv_sec = st.st_mtime - 100;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	free(path);
	/* the daemon keeps a route for 5 s; past that it looks again */
	itest_sleep_ms(5300);
	jc_send_exec(c, 2, "print(2)", 0);
	jc_send_exec(c, 3, "print(3)", 0);
	log = itest_strf("%s/wrap.log", probe_dir);
	ck_assert_msg(itest_wait_file_count(log, "run", 2, 5000), "no second probe");
	free(log);
	fast = jc_open(d, ITEST_UNIX, PY_JSON);
	json_exec_ok(fast, 1, "print('fast')", "fast\n");
	jc_close(fast);
	log = probe_log("wrap.log");
	ck_assert_msg(itest_count(log, "end") == 1, "python:3 was answered after the probe ended");
	free(log);
	jc_collect(c, 2, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "2\n");
	jreply_free(&r);
	jc_collect(c, 3, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "3\n");
	jreply_free(&r);
	log = probe_log("wrap.log");
	ck_assert_str_eq(log, "run\nend\nrun\nend\n");
	free(log);
	jc_close(c);
	stop_daemon(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("probe");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, slow_probe_does_not_block);
	tcase_add_test(tc, waiters_share_one_probe);
	tcase_add_test(tc, client_gone_while_waiting);
	tcase_add_test(tc, failing_probe_not_installed);
	tcase_add_test(tc, shutdown_kills_probe);
	tcase_add_test(tc, reload_reroutes_waiting);
	tcase_add_test(tc, reload_parks_queued_requests);
	tcase_add_test(tc, prewarm_waits_for_probe);
	tcase_add_test(tc, json_request_waits_in_order);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
