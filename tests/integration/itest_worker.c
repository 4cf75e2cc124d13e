/* itest_worker.c - a worker's output after its exit: a process it left
 * holds its stdout open. The request still gets WorkerDied at once and the
 * target a new worker; what that process prints goes to the daemon's log;
 * the record goes at EOF, or kill_grace after the exit at the latest, or
 * at the daemon's exit, which does not wait for it.
 *
 * What hotloadd can kill it does (the group's SIGKILL, hotload-launch and
 * the daemon as subreapers), and its pipe closes as it dies. What holds the
 * pipe here is out of that reach: the test process itself, to which the
 * code run in the worker hands its fd 1 (SCM_RIGHTS) before it exits. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define JSON_HDR "python:3 mode=json"

/* Where the worker hands over its stdout. */
struct holder {
	char path[160];
	int lfd;
};

static void
holder_listen(const struct itest_daemon *d, struct holder *h)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(h->path, sizeof(h->path), "%s/holder.sock", d->dir);
	ck_assert_uint_lt(strlen(h->path), sizeof(sa.sun_path));
	strcpy(sa.sun_path, h->path);
	h->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(h->lfd, 0);
	ck_assert_int_eq(bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(h->lfd, 4), 0);
}

/* The fd the worker sent: its stdout, now ours too. */
static int
holder_take(struct holder *h)
{
	struct pollfd p = {.fd = h->lfd, .events = POLLIN};
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m;
	struct cmsghdr *cm;
	int c, fd;

	ck_assert_msg(poll(&p, 1, 5000) == 1, "the worker did not hand over its stdout");
	c = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(c, 0);
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	ck_assert_int_eq(recvmsg(c, &m, MSG_CMSG_CLOEXEC), 1);
	cm = CMSG_FIRSTHDR(&m);
	ck_assert_msg(cm && cm->cmsg_type == SCM_RIGHTS, "no fd came with the message");
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	close(c);
	return fd;
}

static void
holder_close(struct holder *h)
{
	close(h->lfd);
	unlink(h->path);
}

/* Code that hands the worker's fd 1 to h, then runs then. */
static char *
hand_over(const struct holder *h, const char *then)
{
	return itest_strf("import array, os, socket\n"
	                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
	                  "s.connect('%s')\n"
	                  "s.sendmsg([b'1'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, "
	                  "array.array('i', [1]))])\n"
	                  "s.close()\n"
	                  "%s\n",
	                  h->path, then);
}

static json_int_t
error_int(const struct jreply *r, const char *key)
{
	json_t *v = json_object_get(json_object_get(r->done, "error"), key);

	ck_assert_msg(json_is_integer(v), "error.%s is not an integer", key);
	return json_integer_value(v);
}

/* Run code that hands over fd 1 to h, prints and exits 3: WorkerDied at
 * once, with what it printed before; returns the fd. */
static int
exit_holding_stdout(struct jclient *c, json_int_t id, struct holder *h)
{
	char *code = hand_over(h, "print('before', flush=True)\nos._exit(3)");
	long long t0 = itest_now_ms();
	struct jreply r;
	int fd;

	jc_call(c, id, "exec", code, &r);
	free(code);
	jreply_assert_error(&r, "WorkerDied");
	ck_assert_int_eq(error_int(&r, "exit_status"), 3);
	ck_assert_str_eq(r.out, "before\n");
	jreply_free(&r);
	/* the pipe is still open (the fd is ours, in flight or taken): the
	 * done did not wait for it */
	ck_assert_msg(itest_now_ms() - t0 < 2000, "WorkerDied took %lld ms", itest_now_ms() - t0);
	fd = holder_take(h);
	return fd;
}

/* Write s on the held stdout, as a process the worker left would. */
static void
print_late(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Wait until the daemon closed its end of the held stdout: a write fails. */
static int
wait_closed_by_daemon(int fd, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;

	while (itest_now_ms() < end) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 1;
		itest_sleep_ms(20);
	}
	return 0;
}

static void
expect_works(struct jclient *c, json_int_t id)
{
	struct jreply r;

	jc_call(c, id, "exec", "print('after')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "after\n");
	jreply_free(&r);
}

static struct itest_daemon *
start_daemon(const char *extra, const char *const *hooks)
{
	struct itest_opts o = {.extra_config = extra, .hooks = hooks};

	return itest_start(&o);
}

/* Late output reaches the log under the dead worker's name and pid, not
 * the next worker's request; EOF frees the record; the target goes on. */
START_TEST(late_output_goes_to_the_log)
{
	struct itest_daemon *d = start_daemon(ITEST_SUPERVISION("1", "5"), NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct holder h;
	long pid1, pid2;
	char *want, *log;
	struct jreply r;
	int fd;

	holder_listen(d, &h);
	pid1 = jc_worker_pid(c, 1);
	fd = exit_holding_stdout(c, 2, &h);

	/* the next request: a new worker, at once */
	pid2 = jc_worker_pid(c, 3);
	ck_assert_int_ne(pid1, pid2);
	expect_works(c, 4);

	itest_sleep_ms(300);
	print_late(fd, "late-line\nlate-\xc3");
	itest_sleep_ms(100);
	print_late(fd, "\xa9nd\n"); /* a character split across reads */
	want = itest_strf("python:3[%ld] stdout: late-line", pid1);
	ck_assert_msg(itest_wait_file_contains(d->log, want, 5000),
	              "late output did not reach the daemon's log as '%s'", want);
	free(want);
	/* a log line per read, but the character is whole, not U+FFFD */
	want = itest_strf("python:3[%ld] stdout: \xc3\xa9nd", pid1);
	ck_assert_msg(itest_wait_file_contains(d->log, want, 5000), "no '%s' in the log", want);
	free(want);
	log = itest_daemon_log(d);
	itest_assert_not_contains(log, "\xef\xbf\xbd");
	free(log);

	/* not the running worker's output */
	jc_call(c, 5, "exec", "import time\ntime.sleep(0.2)\nprint('mine')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "mine\n");
	jreply_free(&r);

	/* EOF: the record goes, nothing was cut off */
	close(fd);
	want = itest_strf("python:3[%ld]: its output closed", pid1);
	ck_assert_msg(itest_wait_file_contains(d->log, want, 5000), "no '%s' in the log", want);
	free(want);
	log = itest_daemon_log(d);
	itest_assert_not_contains(log, "output cut off");
	free(log);
	expect_works(c, 6);
	holder_close(&h);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* A pipe that is never closed: the record goes kill_grace after the exit,
 * saying so; the daemon's end is closed; shutdown is prompt. */
START_TEST(never_closed_cut_after_grace)
{
	struct itest_daemon *d = start_daemon(ITEST_SUPERVISION("1", "0.5"), NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct holder h;
	long pid1;
	long long t0;
	char *want;
	int fd;

	holder_listen(d, &h);
	pid1 = jc_worker_pid(c, 1);
	fd = exit_holding_stdout(c, 2, &h);
	t0 = itest_now_ms();
	print_late(fd, "while-lingering\n");
	want = itest_strf("python:3[%ld]: stdout still open 0.5 s after its exit (kill_grace)",
	                  pid1);
	ck_assert_msg(itest_wait_file_contains(d->log, want, 5000), "no '%s' in the log", want);
	free(want);
	ck_assert_msg(itest_now_ms() - t0 < 3000, "cut after %lld ms", itest_now_ms() - t0);
	want = itest_strf("python:3[%ld] stdout: while-lingering", pid1);
	ck_assert_msg(itest_wait_file_contains(d->log, want, 1000), "no '%s' in the log", want);
	free(want);
	ck_assert_msg(wait_closed_by_daemon(fd, 3000), "the daemon kept its end of the pipe");

	expect_works(c, 3);
	holder_close(&h);
	jc_close(c);
	itest_stop_within(d, 5000); /* fd still held by us: no matter */
	close(fd);
}
END_TEST

/* The daemon is stopped while a record waits (kill_grace 30 s): it exits
 * at once, ASan-clean, and says what it cut. */
START_TEST(shutdown_cuts_a_waiting_record)
{
	struct itest_daemon *d = start_daemon(ITEST_SUPERVISION("1", "30"), NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct holder h;
	long long t0;
	char *log;
	int fd, st;

	holder_listen(d, &h);
	jc_worker_pid(c, 1);
	fd = exit_holding_stdout(c, 2, &h);
	itest_sleep_ms(200);
	jc_close(c);
	t0 = itest_now_ms();
	st = itest_terminate(d, 5000);
	ck_assert_msg(itest_now_ms() - t0 < 4000, "shutdown took %lld ms", itest_now_ms() - t0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hotloadd ended with status %d", st);
	log = itest_daemon_log(d);
	itest_assert_contains(log, "stdout still open at the daemon's exit");
	free(log);
	holder_close(&h);
	itest_free(d);
	close(fd);
}
END_TEST

/* The last worker stops at shutdown while its stdout is held: the daemon
 * does not wait for the pipe either. */
START_TEST(last_worker_exits_at_shutdown)
{
	struct itest_daemon *d = start_daemon(ITEST_SUPERVISION("1", "30"), NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct holder h;
	struct jreply r;
	long long t0;
	char *code, *log;
	int fd, st;

	holder_listen(d, &h);
	code = hand_over(&h, "print('handed over')");
	jc_call(c, 1, "exec", code, &r);
	free(code);
	jreply_assert_ok(&r);
	jreply_free(&r);
	fd = holder_take(&h);
	jc_close(c);
	t0 = itest_now_ms();
	st = itest_terminate(d, 5000);
	ck_assert_msg(itest_now_ms() - t0 < 4000, "shutdown took %lld ms", itest_now_ms() - t0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hotloadd ended with status %d", st);
	log = itest_daemon_log(d);
	itest_assert_contains(log, "stdout still open at the daemon's exit");
	free(log);
	holder_close(&h);
	itest_free(d);
	close(fd);
}
END_TEST

static const char *const py_hook[] = {"py.yaml", ITEST_PY_HOOK("py"), NULL};

/* Is a retired target still listed? */
static int
has_retired(const struct itest_daemon *d)
{
	json_t *res = itest_control(d, "status");
	json_t *targets = json_object_get(json_object_get(res, "status"), "targets"), *t;
	size_t i;
	int any = 0;

	json_array_foreach(targets, i, t) any |= json_is_true(json_object_get(t, "retired"));
	json_decref(res);
	return any;
}

/* A reload retires the target; its worker stops and the retired pool goes
 * with it, while the worker's stdout is still held: what comes later goes
 * to the log, with no pool to tell. */
START_TEST(retired_pool_gone_before_the_output)
{
	struct itest_daemon *d = start_daemon(ITEST_SUPERVISION("1", "10"), py_hook);
	struct jclient *c = jc_open(d, ITEST_UNIX, "py mode=json");
	struct holder h;
	struct jreply r;
	long pid1;
	long long end;
	char *code, *want;
	json_t *res;
	int fd;

	holder_listen(d, &h);
	pid1 = jc_worker_pid(c, 1);
	code = hand_over(&h, "print('handed over')");
	jc_call(c, 2, "exec", code, &r);
	free(code);
	jreply_assert_ok(&r);
	jreply_free(&r);
	fd = holder_take(&h);
	jc_close(c);

	itest_write_hook(d, "py.yaml", ITEST_PY_HOOK("py") "idle_timeout: 1000\n");
	res = itest_control(d, "reload");
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "reload failed");
	json_decref(res);
	ck_assert_msg(itest_wait_gone((pid_t)pid1, 5000), "the retired worker did not stop");
	end = itest_now_ms() + 5000;
	while (has_retired(d) && itest_now_ms() < end)
		itest_sleep_ms(20);
	ck_assert_msg(!has_retired(d), "the retired target was not freed");

	print_late(fd, "after-the-pool\n");
	want = itest_strf("py:1[%ld] stdout: after-the-pool", pid1);
	ck_assert_msg(itest_wait_file_contains(d->log, want, 5000), "no '%s' in the log", want);
	free(want);
	close(fd);
	want = itest_strf("py:1[%ld]: its output closed", pid1);
	ck_assert_msg(itest_wait_file_contains(d->log, want, 5000), "no '%s' in the log", want);
	free(want);

	c = jc_open(d, ITEST_UNIX, "py mode=json");
	expect_works(c, 3);
	jc_close(c);
	holder_close(&h);
	itest_stop(d);
}
END_TEST

/* A child in a session of its own that would print after its worker's
 * exit is killed with it (hotload-launch, the subreapers): its pipe
 * closes, nothing waits, nothing is cut off, and nothing is printed late. */
START_TEST(setsid_grandchild_goes_with_its_worker)
{
	struct itest_daemon *d = start_daemon(ITEST_SUPERVISION("1", "5"), NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long long t0 = itest_now_ms();
	char *log;

	jc_call(c, 1, "exec",
	        "import os, subprocess\n"
	        "subprocess.Popen(['sh', '-c', 'sleep 0.5; echo late-line'], "
	        "start_new_session=True)\n"
	        "os._exit(3)",
	        &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	ck_assert_msg(itest_now_ms() - t0 < 2000, "WorkerDied took %lld ms", itest_now_ms() - t0);
	expect_works(c, 2);
	itest_sleep_ms(1000);
	log = itest_daemon_log(d);
	itest_assert_not_contains(log, "stdout: late-line");
	itest_assert_not_contains(log, "output cut off");
	free(log);
	jc_close(c);
	itest_stop_within(d, 5000);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("worker");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, late_output_goes_to_the_log);
	tcase_add_test(tc, never_closed_cut_after_grace);
	tcase_add_test(tc, shutdown_cuts_a_waiting_record);
	tcase_add_test(tc, last_worker_exits_at_shutdown);
	tcase_add_test(tc, retired_pool_gone_before_the_output);
	tcase_add_test(tc, setsid_grandchild_goes_with_its_worker);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
