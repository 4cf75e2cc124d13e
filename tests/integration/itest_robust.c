/* itest_robust.c - regressions from a robustness review: clients that go
 * away, flood or stop reading, reloads of min_workers hooks, huge raw
 * payloads and stderr, shutdown races, out-of-range timeouts, interrupts
 * after a half-close or on a stopping worker
 *
 * Every test is one defect: it failed on the code the review looked at and
 * passes once the defect is fixed. Tests that measure the daemon's memory
 * read VmRSS from /proc/PID/status and cap ASan's quarantine for that
 * daemon (see small_asan_quarantine), so freed memory held back by ASan
 * does not count as growth. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define MiB (1024 * 1024)
#define JSON_HDR "python:3 mode=json"

/* stop_grace 0.5 s, kill_grace 0.5 s unless a test needs otherwise */
#define SUPERVISION_FAST ITEST_SUPERVISION("0.5", "0.5")

static struct itest_daemon *
start_with(const char *extra_config, const char *const *hooks)
{
	struct itest_opts o = {.extra_config = extra_config, .hooks = hooks};

	return itest_start(&o);
}

/* The daemon's resident set in KiB (VmRSS), asserted readable. */
static long
rss_kib(pid_t pid)
{
	char path[64], *s, *p;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = itest_read_file(path, NULL);
	ck_assert_msg(s != NULL, "cannot read %s (did hotloadd die?)", path);
	p = strstr(s, "\nVmRSS:");
	if (p)
		kib = strtol(p + 7, NULL, 10);
	free(s);
	ck_assert_msg(kib > 0, "no VmRSS in %s", path);
	return kib;
}

/* ASan keeps up to 256 MiB of freed memory in its quarantine, resident:
 * a daemon that churns through allocations would look like it grows when
 * it does not. The daemon started next inherits a small quarantine (the
 * test process's own ASan is set up already; a build without ASan ignores
 * the variable). */
static void
small_asan_quarantine(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char *v = itest_strf("%s%squarantine_size_mb=16", old && *old ? old : "",
	                     old && *old ? ":" : "");

	ck_assert_int_eq(setenv("ASAN_OPTIONS", v, 1), 0);
	free(v);
}

/* Has the daemon (our child) exited? Reaps it when it has. */
static int
daemon_exited(struct itest_daemon *d, int *ret_status)
{
	int status;
	pid_t r = waitpid(d->pid, &status, WNOHANG);

	if (r != d->pid)
		return 0;
	d->pid = 0;
	if (ret_status)
		*ret_status = status;
	return 1;
}

/* Wait for the daemon to exit by itself; returns the wait status, or -1
 * at the deadline (the daemon still runs then). */
static int
wait_daemon_exit(struct itest_daemon *d, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;
	int status;

	while (!daemon_exited(d, &status)) {
		if (itest_now_ms() >= end)
			return -1;
		itest_sleep_ms(10);
	}
	return status;
}

/* A fresh JSON connection runs print() and gets its output. */
static void
assert_serves(struct itest_daemon *d, const char *what)
{
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;

	jc_call_with(c, 1, "exec", "print('still here')", NULL, 10000, &r);
	ck_assert_msg(json_is_true(json_object_get(r.done, "ok")) && !strcmp(r.out, "still here\n"),
	              "hotloadd does not serve a plain exec after %s", what);
	jreply_free(&r);
	jc_close(c);
}

/* Wait until request id printed its first line (it runs). */
static void
wait_running(struct jclient *c, json_int_t id)
{
	int line = 0;

	while (!line) {
		json_t *m = jc_next_output(c, 10000);
		const char *data;

		ck_assert_msg(m != NULL, "the connection closed before request %lld ran",
		              (long long)id);
		ck_assert_msg(json_integer_value(json_object_get(m, "id")) == id &&
		                      !strcmp(json_string_value(json_object_get(m, "event")) ?: "",
		                              "stdout"),
		              "expected the output of request %lld first", (long long)id);
		data = json_string_value(json_object_get(m, "data")) ?: "";
		line = strchr(data, '\n') != NULL;
		json_decref(m);
	}
}

/* --- 1. a client that closes before its done --------------------------- */

/* A JSON client sends an exec and closes its socket before the done. The
 * done, written to the closed socket, failed and closed the connection
 * inside json_done, which then used the request the close had freed:
 * "heap-use-after-free in json_done" (a double free without ASan), and the
 * daemon died. The done must be the first write that fails: a failed
 * earlier write (a "waiting" event to a client already gone) closed the
 * connection safely. So: once after the "waiting" event of a cold start
 * was read, once on a warm worker (no event before the done), once after
 * the request's output was read. */
START_TEST(client_closes_before_done)
{
	struct itest_daemon *d = start_with(SUPERVISION_FAST, NULL);
	struct jclient *c;
	json_t *m;

	/* cold: the request waits for the worker, and says so */
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	jc_send_line(c, "{\"id\":1,\"op\":\"exec\",\"code\":\"import time; time.sleep(0.3)\"}");
	m = jc_next(c, 10000);
	ck_assert_msg(m && !strcmp(json_string_value(json_object_get(m, "event")) ?: "", "waiting"),
	              "expected a waiting event for the first request");
	json_decref(m);
	jc_close(c); /* gone before the done */
	/* queued behind it, so it runs after the done was written */
	assert_serves(d, "a client that closed before its done (cold worker)");

	/* warm: nothing is written before the done */
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	jc_send_line(c, "{\"id\":1,\"op\":\"exec\",\"code\":\"import time; time.sleep(0.3)\"}");
	itest_sleep_ms(100);
	jc_close(c);
	assert_serves(d, "a client that closed before its done (warm worker)");

	/* after reading some output */
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	jc_send_exec(c, 1, "import time\nprint('x', flush=True)\ntime.sleep(0.3)", 0);
	wait_running(c, 1);
	jc_close(c);
	assert_serves(d, "a client that closed before its done (after output)");

	itest_sleep_ms(100);
	ck_assert_msg(!daemon_exited(d, NULL), "hotloadd died (log above)");
	itest_stop(d);
}
END_TEST

/* --- 2. reload of a changed min_workers hook --------------------------- */

#define MIN_HOOK(mark) ITEST_PY_HOOK("warm") "min_workers: 1\nenv:\n  RB_MARK: \"" mark "\"\n"

static const char *const warm_hooks[] = {"warm.yaml", MIN_HOOK("v1"), NULL};

/* Pids of every worker the status lists for target, retired pools
 * included; returns how many (up to max into ret). *ret_idle: whether they
 * are all idle (a starting worker's pid is not the interpreter's yet). */
static size_t
all_worker_pids(struct itest_daemon *d, const char *target, long *ret, size_t max, int *ret_idle)
{
	json_t *st = itest_control(d, "status");
	json_t *targets = json_object_get(json_object_get(st, "status"), "targets");
	json_t *t, *w;
	size_t i, j, n = 0;

	*ret_idle = 1;
	ck_assert_msg(json_is_array(targets), "status without targets");
	json_array_foreach(targets, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "target")) ?: "", target))
			continue;
		json_array_foreach(json_object_get(t, "workers"), j, w)
		{
			if (strcmp(json_string_value(json_object_get(w, "state")) ?: "", "idle"))
				*ret_idle = 0;
			if (n < max)
				ret[n] = (long)json_integer_value(json_object_get(w, "pid"));
			n++;
		}
	}
	json_decref(st);
	return n;
}

/* A reload that changes a hook with min_workers: 1. The retired pool
 * asked its worker to stop but then topped itself up to min_workers again:
 * a worker of the old definition (RB_MARK=v1) ran on for ever next to the
 * new one. */
START_TEST(reload_min_workers_hook)
{
	struct itest_daemon *d = start_with(ITEST_SUPERVISION("2", "0.5"), warm_hooks);
	struct jclient *c;
	struct jreply r;
	long pids[8], old_pid = 0, new_pid = 0;
	long long end = itest_now_ms() + 10000;
	size_t n = 0;
	int idle;
	json_t *res;

	/* min_workers starts it without a request */
	while (itest_now_ms() < end) {
		n = all_worker_pids(d, "warm:1", pids, 8, &idle);
		if (n == 1 && idle) {
			old_pid = pids[0];
			break;
		}
		itest_sleep_ms(20);
	}
	ck_assert_msg(old_pid > 0, "the min_workers worker of warm:1 did not start (%zu)", n);

	itest_write_hook(d, "warm.yaml", MIN_HOOK("v2"));
	res = itest_control(d, "reload");
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "reload failed");
	json_decref(res);

	/* within a few seconds: the old worker gone, one worker in all */
	end = itest_now_ms() + 5000;
	for (;;) {
		n = all_worker_pids(d, "warm:1", pids, 8, &idle);
		if (n == 1 && idle && pids[0] != old_pid && !itest_pid_alive((pid_t)old_pid))
			break;
		ck_assert_msg(itest_now_ms() < end,
		              "5 s after the reload warm:1 has %zu workers listed (old pid %ld "
		              "%s); expected only the new one, idle",
		              n, old_pid, itest_pid_alive((pid_t)old_pid) ? "alive" : "gone");
		itest_sleep_ms(50);
	}
	new_pid = pids[0];
	/* and it stays that way: nothing tops the retired pool up again */
	itest_sleep_ms(500);
	n = all_worker_pids(d, "warm:1", pids, 8, &idle);
	ck_assert_msg(n == 1 && pids[0] == new_pid,
	              "warm:1 has %zu workers listed 0.5 s later (the first %ld, expected %ld)", n,
	              n ? pids[0] : 0L, new_pid);
	ck_assert_uint_eq(itest_procs_with_env("RB_MARK=v1", NULL, 0), 0);

	c = jc_open(d, ITEST_UNIX, "warm mode=json");
	jc_call(c, 1, "exec", "import os\nprint(os.getpid(), os.environ['RB_MARK'])", &r);
	jreply_assert_ok(&r);
	{
		char *want = itest_strf("%ld v2\n", new_pid);

		ck_assert_str_eq(r.out, want);
		free(want);
	}
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* --- 3. a JSON client that floods bad requests and never reads ---------- */

/* Each bad line is answered with a done the client never reads: the
 * answers were queued without limit and the daemon's RSS grew by hundreds
 * of MiB. The flood is sent from a non-blocking socket and ends after
 * 32 MiB, or when the daemon has taken nothing for a second (it stopped
 * reading, as it should), or when the daemon closed the connection. */
START_TEST(json_flood_without_reading)
{
	static const char line[] = "{\"id\":1,\"op\":\"bogus\"}\n";
	const size_t line_len = sizeof(line) - 1, per_chunk = 4096;
	const size_t chunk_len = line_len * per_chunk, limit = 32 * (size_t)MiB;
	struct itest_daemon *d;
	char *chunk = malloc(chunk_len);
	size_t sent = 0, off = 0, i;
	long base, now_kib, max_kib;
	long long t0, last_progress, last_check = 0;
	struct pollfd pfd;
	int fd, small = 4096;

	ck_assert_ptr_nonnull(chunk);
	for (i = 0; i < per_chunk; i++)
		memcpy(chunk + i * line_len, line, line_len);
	small_asan_quarantine();
	d = start_with(SUPERVISION_FAST, NULL);
	assert_serves(d, "start-up");
	base = max_kib = rss_kib(d->pid);

	fd = itest_connect(d, ITEST_UNIX);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	itest_send_str(fd, JSON_HDR "\n");
	pfd.fd = fd;
	pfd.events = POLLOUT;
	t0 = last_progress = itest_now_ms();
	while (sent < limit && itest_now_ms() - t0 < 10000) {
		ssize_t n = send(fd, chunk + off, chunk_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			sent += (size_t)n;
			off = (off + (size_t)n) % chunk_len;
			last_progress = itest_now_ms();
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (itest_now_ms() - last_progress >= 1000)
				break; /* the daemon stopped reading */
			poll(&pfd, 1, 50);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			ck_assert_msg(n < 0 && (errno == EPIPE || errno == ECONNRESET),
			              "flooding: %s", strerror(errno));
			break; /* the daemon closed the connection: fine too */
		}
		if (itest_now_ms() - last_check >= 50) {
			last_check = itest_now_ms();
			now_kib = rss_kib(d->pid);
			if (now_kib > max_kib)
				max_kib = now_kib;
			ck_assert_msg(now_kib - base < 64 * 1024,
			              "hotloadd grew from %ld to %ld KiB after %zu bytes of bad "
			              "requests nobody read the answers of",
			              base, now_kib, sent);
		}
	}
	/* what is still in the socket is read (or not) by now */
	itest_sleep_ms(300);
	assert_serves(d, "a flood of bad requests");
	now_kib = rss_kib(d->pid);
	if (now_kib > max_kib)
		max_kib = now_kib;
	ck_assert_msg(max_kib - base < 64 * 1024,
	              "hotloadd grew from %ld to %ld KiB after %zu bytes of bad requests", base,
	              max_kib, sent);
	close(fd);
	free(chunk);
	itest_stop(d);
}
END_TEST

/* --- 4. raw mode: unbounded stderr -------------------------------------- */

/* Raw mode holds stderr until the end (it follows stdout in the reply):
 * code that writes stderr without end grew the daemon by GiBs until its
 * timeout. At most 16 MiB is kept; the reply says how much was dropped and
 * still ends with the Timeout error. */
START_TEST(raw_stderr_flood_bounded)
{
	struct itest_daemon *d;
	size_t len = 0, cap = 4 * MiB;
	char *reply = malloc(cap), *last;
	long base, now_kib, max_kib;
	long long end;
	int fd, eof = 0;

	ck_assert_ptr_nonnull(reply);
	small_asan_quarantine();
	d = start_with(SUPERVISION_FAST, NULL);
	assert_serves(d, "start-up");
	base = max_kib = rss_kib(d->pid);

	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3 timeout=2\n"
	                   "import sys\n"
	                   "while True: sys.stderr.write('x' * 65536)\n");
	itest_half_close(fd);
	end = itest_now_ms() + 15000;
	while (!eof) {
		ssize_t n;

		ck_assert_msg(itest_now_ms() < end, "no whole reply within 15 s (%zu bytes so far)",
		              len);
		itest_wait_readable(fd, 50);
		now_kib = rss_kib(d->pid);
		if (now_kib > max_kib)
			max_kib = now_kib;
		ck_assert_msg(now_kib - base < 128 * 1024,
		              "hotloadd grew from %ld to %ld KiB holding a raw request's stderr",
		              base, now_kib);
		for (;;) {
			if (cap - len < 65536) {
				ck_assert_msg(
				        cap < 64 * (size_t)MiB,
				        "the reply is longer than 64 MiB: stderr is not capped");
				cap *= 2;
				reply = realloc(reply, cap);
				ck_assert_ptr_nonnull(reply);
			}
			n = recv(fd, reply + len, cap - len - 1, 0);
			if (n > 0) {
				len += (size_t)n;
				continue;
			}
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				eof = 1;
			else
				ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK ||
				                      errno == EINTR,
				              "recv: %s", strerror(errno));
			break;
		}
	}
	reply[len] = '\0';
	close(fd);
	ck_assert_msg(max_kib - base < 128 * 1024, "hotloadd grew from %ld to %ld KiB", base,
	              max_kib);
	ck_assert_msg(!strncmp(reply, "ERRORS: \nxxxx", 13), "the reply starts \"%.200s\"", reply);
	ck_assert_msg(len < 24 * (size_t)MiB, "the reply has %zu bytes: stderr is not capped", len);
	ck_assert_msg(strstr(reply, "bytes of stderr dropped") != NULL,
	              "the reply does not say that stderr was dropped; it ends \"%s\"",
	              len > 2000 ? reply + len - 2000 : reply);
	/* the last line is the Timeout error */
	ck_assert_msg(len > 1 && reply[len - 1] == '\n', "the reply does not end with a newline");
	reply[len - 1] = '\0';
	last = strrchr(reply, '\n');
	ck_assert_msg(last && !strncmp(last + 1, "Timeout: ", 9),
	              "the reply does not end with the Timeout error: \"%s\"",
	              len > 2000 ? reply + len - 2000 : reply);
	free(reply);
	assert_serves(d, "a raw request that flooded stderr");
	itest_stop(d);
}
END_TEST

/* --- 5. __SHUTDOWN__ stripping must not stall the loop ------------------ */

/* Milliseconds a control ping takes on an open control connection. */
static long long
ping_ms(struct jclient *ctl, json_int_t id, int deadline_ms)
{
	long long t0 = itest_now_ms();
	json_t *req = json_pack("{s:I, s:s}", "id", id, "op", "ping");
	json_t *m;

	jc_send(ctl, req);
	json_decref(req);
	for (;;) {
		long long left = t0 + deadline_ms - itest_now_ms();

		ck_assert_msg(left > 0 && itest_wait_readable(ctl->fd, (int)left),
		              "a control ping was not answered within %d ms", deadline_ms);
		m = jc_next(ctl, 1000);
		ck_assert_msg(m != NULL, "the control connection closed");
		if (json_integer_value(json_object_get(m, "id")) == id) {
			ck_assert(json_is_true(json_object_get(m, "ok")));
			json_decref(m);
			return itest_now_ms() - t0;
		}
		json_decref(m);
	}
}

/* A 4 MB raw payload of nothing but __SHUTDOWN__ tokens: removing them
 * one memmove at a time was quadratic and blocked the event loop for
 * many seconds (tens under ASan). Control pings on another connection
 * must be answered meanwhile. */
START_TEST(shutdown_token_flood)
{
	static const char token[] = "__SHUTDOWN__";
	const size_t tl = sizeof(token) - 1, count = 4000000 / (sizeof(token) - 1);
	struct itest_daemon *d = start_with(SUPERVISION_FAST, NULL);
	struct jclient *ctl = jc_open(d, ITEST_UNIX, "hotload mode=json");
	char *payload = malloc(tl * count), *reply;
	long long t0, worst = 0, took;
	json_int_t id = 1;
	size_t i;
	int fd, r;

	ck_assert_ptr_nonnull(payload);
	for (i = 0; i < count; i++)
		memcpy(payload + i * tl, token, tl);
	ping_ms(ctl, id++, 5000); /* the control connection works */

	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3\n");
	r = itest_try_send_all(fd, payload, tl * count, 10000);
	ck_assert_msg(r == 0, "sending the payload: %s", strerror(-r));
	itest_half_close(fd);
	/* pings for a second from the half-close on: the daemon strips the
	 * tokens in that time */
	t0 = itest_now_ms();
	while (itest_now_ms() - t0 < 1000) {
		took = ping_ms(ctl, id++, 2000);
		if (took > worst)
			worst = took;
		itest_sleep_ms(20);
	}
	reply = itest_read_all(fd, 10000, NULL);
	ck_assert_str_eq(reply, "Script executed (no output).");
	free(reply);
	close(fd);
	ck_assert_msg(worst < 2000, "a control ping took %lld ms", worst);
	free(payload);
	jc_close(ctl);
	itest_stop(d);
}
END_TEST

/* --- 6. start / restart while the daemon shuts down --------------------- */

/* The error type of a control answer, top-level or of its first target. */
static const char *
control_error_type(json_t *done)
{
	json_t *err = json_object_get(done, "error");

	if (!err)
		err = json_object_get(json_array_get(json_object_get(done, "targets"), 0), "error");
	return json_string_value(json_object_get(err, "type")) ?: "";
}

/* SIGTERM while a request runs: the daemon drains the busy worker. A
 * control start (or restart) on a connection opened before started a new
 * worker in the stopping pool, and the daemon never exited. Now they are
 * refused with ShuttingDown and the daemon exits once the request ends. */
START_TEST(start_during_shutdown)
{
	struct itest_daemon *d = start_with(ITEST_SUPERVISION("5", "0.5"), NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *ctl = jc_open(d, ITEST_UNIX, "hotload mode=json");
	static const char *const ops[] = {"start", "restart"};
	struct jreply r;
	int status;
	size_t i;
	char *s;

	jc_send_exec(c, 1, "import time\nprint('start', flush=True)\ntime.sleep(1.5)\nprint('end')",
	             0);
	wait_running(c, 1);
	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	ck_assert(itest_wait_file_contains(d->log, "stopping workers and exiting", 2000));
	for (i = 0; i < 2; i++) {
		json_t *f = json_pack("{s:s}", "target", "python:3");

		jc_call_with(ctl, (json_int_t)i + 1, ops[i], NULL, f, 5000, &r);
		s = json_dumps(r.done, JSON_COMPACT);
		ck_assert_msg(json_is_false(json_object_get(r.done, "ok")) &&
		                      !strcmp(control_error_type(r.done), "ShuttingDown"),
		              "control %s during the shutdown: expected ok:false with "
		              "ShuttingDown, got %s",
		              ops[i], s);
		free(s);
		json_decref(f);
		jreply_free(&r);
	}
	/* the running request still ends well, then the daemon exits */
	status = wait_daemon_exit(d, 8000);
	ck_assert_msg(status != -1, "hotloadd did not exit within 8 s of SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "hotloadd ended with status 0x%x after SIGTERM", status);
	jc_collect(c, 1, 5000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "end\n");
	jreply_free(&r);
	jc_close(ctl);
	jc_close(c);
	itest_free(d);
}
END_TEST

/* --- 7. JSON timeout range ---------------------------------------------- */

/* A JSON timeout of 1e300 s overflowed the timer and the request timed
 * out at once. Like the header's timeout=, more than 1e9 s is a
 * BadRequest; 1e9 itself is fine. */
START_TEST(json_timeout_range)
{
	struct itest_daemon *d = start_with(SUPERVISION_FAST, NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	static const double bad[] = {1e300, 2e9, 1e9 + 1};
	struct jreply r;
	json_t *f;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = json_pack("{s:f}", "timeout", bad[i]);
		jc_call_with(c, (json_int_t)i + 1, "exec", "print('ran')", f, 10000, &r);
		jreply_assert_error(&r, "BadRequest");
		itest_assert_contains(jreply_error_str(&r, "message"), "timeout");
		ck_assert_str_eq(r.out, "");
		jreply_free(&r);
		json_decref(f);
	}
	f = json_pack("{s:f}", "timeout", 1e9);
	jc_call_with(c, 10, "exec", "import time\ntime.sleep(0.1)\nprint('ran')", f, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "ran\n");
	jreply_free(&r);
	json_decref(f);
	f = json_pack("{s:I}", "timeout", (json_int_t)1000000000);
	jc_call_with(c, 11, "eval", "6 * 7", f, 10000, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	json_decref(f);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* --- 8. an interrupt as the last line before the half-close ------------- */

/* printf 'python:3 mode=json\n{exec …}\n{"id":2,"op":"interrupt"}' then a
 * half-close: the interrupt took the queued exec out and answered it,
 * which ended the half-closed connection before the interrupt's own done
 * was written; it was lost. Both dones must come, then the close. */
START_TEST(interrupt_then_half_close)
{
	struct itest_daemon *d = start_with(SUPERVISION_FAST, NULL);
	int fd = itest_connect(d, ITEST_UNIX);
	struct jclient *c;
	struct jreply r1, r2;

	/* one write: the exec is still waiting for the worker to start when
	 * the interrupt (no newline: taken at the EOF) arrives */
	itest_send_str(fd, "python:3 mode=json\n"
	                   "{\"id\":1,\"op\":\"exec\",\"code\":\"import time; time.sleep(5)\"}\n"
	                   "{\"id\":2,\"op\":\"interrupt\"}");
	itest_half_close(fd);
	c = jc_adopt(fd);
	jc_collect(c, 2, 5000, &r2);
	jreply_assert_ok(&r2);
	ck_assert_int_eq(json_integer_value(json_object_get(r2.done, "interrupted")), 1);
	jc_collect(c, 1, 5000, &r1);
	jreply_assert_error(&r1, "KeyboardInterrupt");
	jc_expect_eof(c, 5000);
	jreply_free(&r1);
	jreply_free(&r2);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* --- 9. interrupt a request whose worker was asked to stop -------------- */

/* control stop on a busy worker: it is stopping but still runs the
 * request. A JSON interrupt of that request was counted (interrupted: 1)
 * but no SIGINT was sent; the request ran on until stop_grace ended it as
 * Terminated. The interrupt must still reach it. */
START_TEST(interrupt_stopping_worker)
{
	struct itest_daemon *d = start_with(ITEST_SUPERVISION("10", "0.5"), NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	json_t *f = json_pack("{s:s}", "target", "python:3"), *res;
	long long t0;

	jc_send_exec(c, 1,
	             "import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.05)",
	             0);
	wait_running(c, 1);
	res = itest_control_with(d, "stop", f);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	json_decref(f);

	t0 = itest_now_ms();
	jc_send_line(c, "{\"id\":2,\"op\":\"interrupt\"}");
	jc_collect(c, 2, 5000, &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "interrupted")), 1);
	jreply_free(&r);
	/* stop_grace is 10 s: only the interrupt can end it this soon */
	jc_collect(c, 1, 4000, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	ck_assert_msg(itest_now_ms() - t0 < 4000, "the interrupt took %lld ms",
	              itest_now_ms() - t0);
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* --- 10. SIGTERM with a client that does not read ----------------------- */

/* A JSON client had the daemon queue megabytes of output and stopped
 * reading. On SIGTERM the daemon stopped its workers, then waited for
 * that connection's output to drain: for ever. It must exit within
 * seconds (such connections get a deadline of 5 s). */
START_TEST(sigterm_with_unread_output)
{
	struct itest_daemon *d = start_with(SUPERVISION_FAST, NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long long t0;
	int small = 4096, status;

	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	jc_worker_pid(c, 1); /* the worker is warm */
	/* 4 MiB of output nobody reads: more than 1 MiB stays queued */
	jc_send_exec(c, 2, "import sys\nsys.stdout.write('x' * (4 << 20))\nsys.stdout.flush()", 0);
	itest_sleep_ms(700);
	t0 = itest_now_ms();
	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	status = wait_daemon_exit(d, 12000);
	ck_assert_msg(status != -1,
	              "hotloadd did not exit within 12 s of SIGTERM while a client did not "
	              "read its output");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "hotloadd ended with status 0x%x after SIGTERM", status);
	ck_assert_msg(itest_now_ms() - t0 < 12000, "the exit took %lld ms", itest_now_ms() - t0);
	jc_close(c);
	itest_free(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("robust");
	TCase *tc = tcase_create("robust");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, client_closes_before_done);
	tcase_add_test(tc, reload_min_workers_hook);
	tcase_add_test(tc, json_flood_without_reading);
	tcase_add_test(tc, raw_stderr_flood_bounded);
	tcase_add_test(tc, shutdown_token_flood);
	tcase_add_test(tc, start_during_shutdown);
	tcase_add_test(tc, json_timeout_range);
	tcase_add_test(tc, interrupt_then_half_close);
	tcase_add_test(tc, interrupt_stopping_worker);
	tcase_add_test(tc, sigterm_with_unread_output);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
