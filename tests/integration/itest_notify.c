/* itest_notify.c - the daemon and its service manager: sd_notify messages
 * and their order, the watchdog, and socket activation with
 * systemd-socket-activate (Unix and TCP listeners passed in) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

/* A stand-in for systemd's notification socket. */
struct notify_sink {
	int fd;
	char path[96];
	char *seen; /* every message, one per line */
	size_t len;
};

static void
sink_open(struct notify_sink *n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(n->path, sizeof(n->path), "/tmp/hl-notify-%d.sock", (int)getpid());
	unlink(n->path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", n->path);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(n->fd, 0);
	ck_assert_int_eq(bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n->seen = calloc(1, 1);
	n->len = 0;
}

/* Read messages until one equal to want arrives (or the deadline). */
static int
sink_wait(struct notify_sink *n, const char *want, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;
	char buf[4096];

	for (;;) {
		long long left = end - itest_now_ms();
		ssize_t r;

		if (left <= 0 || itest_wait_readable(n->fd, (int)left) <= 0)
			return 0;
		r = recv(n->fd, buf, sizeof(buf) - 1, 0);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		n->seen = realloc(n->seen, n->len + (size_t)r + 2);
		memcpy(n->seen + n->len, buf, (size_t)r);
		n->len += (size_t)r;
		n->seen[n->len++] = '\n';
		n->seen[n->len] = '\0';
		if (!strcmp(buf, want) ||
		    (want[strlen(want) - 1] == '*' && !strncmp(buf, want, strlen(want) - 1)))
			return 1;
	}
}

static void
sink_close(struct notify_sink *n)
{
	close(n->fd);
	unlink(n->path);
	free(n->seen);
}

/* READY=1 once listening (a client is served right after it), STATUS=
 * following the workers, RELOADING=1 then READY=1 around SIGHUP,
 * STOPPING=1 on SIGTERM, in that order. */
START_TEST(notify_sequence)
{
	struct notify_sink n;
	struct itest_daemon *d;
	char *out;
	const char *ready, *status, *reloading, *ready2, *stopping;

	sink_open(&n);
	setenv("NOTIFY_SOCKET", n.path, 1);
	d = itest_start(NULL);
	unsetenv("NOTIFY_SOCKET");
	ck_assert_msg(sink_wait(&n, "READY=1", ITEST_TIMEOUT_MS), "no READY=1; got:\n%s", n.seen);
	out = itest_raw(d, ITEST_UNIX, "python:3", "print('up')\n");
	ck_assert_str_eq(out, "OUTPUT: \nup\n");
	free(out);
	ck_assert_msg(sink_wait(&n, "STATUS=1 worker: 1 idle*", ITEST_TIMEOUT_MS),
	              "no STATUS for an idle worker; got:\n%s", n.seen);
	kill(d->pid, SIGHUP);
	ck_assert_msg(sink_wait(&n, "RELOADING=1", ITEST_TIMEOUT_MS), "no RELOADING=1:\n%s",
	              n.seen);
	ck_assert_msg(sink_wait(&n, "READY=1", ITEST_TIMEOUT_MS), "no READY=1 after reload:\n%s",
	              n.seen);
	itest_stop(d);
	ck_assert_msg(sink_wait(&n, "STOPPING=1", 2000), "no STOPPING=1:\n%s", n.seen);

	ready = strstr(n.seen, "READY=1");
	status = strstr(n.seen, "STATUS=1 worker: 1 idle");
	reloading = strstr(n.seen, "RELOADING=1");
	ready2 = reloading ? strstr(reloading, "READY=1") : NULL;
	stopping = strstr(n.seen, "STOPPING=1");
	ck_assert_msg(ready && status && reloading && ready2 && stopping && ready < status &&
	                      status < reloading && ready2 < stopping,
	              "messages out of order:\n%s", n.seen);
	sink_close(&n);
}
END_TEST

/* WATCHDOG_USEC set: pings at half the interval, from the running loop. */
START_TEST(watchdog_pings)
{
	struct notify_sink n;
	struct itest_daemon *d;
	long long t0;
	int pings = 0;

	sink_open(&n);
	setenv("NOTIFY_SOCKET", n.path, 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	d = itest_start(NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	t0 = itest_now_ms();
	while (itest_now_ms() - t0 < 2000 && sink_wait(&n, "WATCHDOG=1", 1000))
		pings++;
	/* every 200 ms: about 10 in 2 s */
	ck_assert_msg(pings >= 6, "only %d WATCHDOG=1 in 2 s (WATCHDOG_USEC=400000):\n%s", pings,
	              n.seen);
	itest_stop(d);
	sink_close(&n);
}
END_TEST

/* A raw python:3 request on a connected fd. */
static char *
raw_on(int fd, const char *code)
{
	char *req = itest_strf("python:3\n%s\n", code), *out;

	itest_send_str(fd, req);
	itest_half_close(fd);
	out = itest_read_all(fd, ITEST_TIMEOUT_MS, NULL);
	close(fd);
	free(req);
	return out;
}

/* systemd-socket-activate passes a Unix and a TCP listener, named as the
 * units name them; the daemon serves on both and opens neither configured
 * one itself. */
START_TEST(socket_activation)
{
	char dir[] = "/tmp/hl-act-XXXXXX";
	char *cfg, *act_sock, *conf_sock, *log, *listen_tcp, *yaml, *out;
	int port = itest_free_port(), conf_port = itest_free_port(), fd, status;
	size_t len;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	cfg = itest_strf("%s/hotloadd.yaml", dir);
	act_sock = itest_strf("%s/activated.sock", dir);
	conf_sock = itest_strf("%s/configured.sock", dir);
	log = itest_strf("%s/hotloadd.log", dir);
	listen_tcp = itest_strf("127.0.0.1:%d", port);
	yaml = itest_strf("listen:\n  unix: %s\n  tcp: 127.0.0.1:%d\nhooks_dirs: []\n", conf_sock,
	                  conf_port);
	itest_write_file(cfg, yaml, strlen(yaml));
	ck_assert_msg(access("/usr/bin/systemd-socket-activate", X_OK) == 0,
	              "systemd-socket-activate is missing: apt-get install systemd");

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(lf, 1);
		dup2(lf, 2);
		execl("/usr/bin/systemd-socket-activate", "systemd-socket-activate", "-l", act_sock,
		      "-l", listen_tcp, "--fdname=unix:tcp", HOTLOAD_BINARY_DIR "/bin/hotloadd",
		      "--config", cfg, (char *)NULL);
		_exit(127);
	}
	/* The sockets exist before the daemon runs; the first connection
	 * starts it, and is served. */
	for (fd = -1; fd < 0;) {
		fd = itest_try_connect_unix(act_sock);
		if (fd < 0)
			itest_sleep_ms(50);
	}
	out = raw_on(fd, "print('via unix')");
	ck_assert_str_eq(out, "OUTPUT: \nvia unix\n");
	free(out);
	out = raw_on(itest_connect_tcp(port), "print('via tcp')");
	ck_assert_str_eq(out, "OUTPUT: \nvia tcp\n");
	free(out);
	/* the configured listeners were covered by the passed ones */
	ck_assert_int_lt(itest_try_connect_unix(conf_sock), 0);
	out = itest_read_file(log, &len);
	itest_assert_contains(out, "(from systemd)");
	free(out);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	itest_remove_tree(dir);
	free(cfg);
	free(act_sock);
	free(conf_sock);
	free(log);
	free(listen_tcp);
	free(yaml);
}
END_TEST

/* Only the Unix socket is passed and the configured TCP port is taken (as
 * by another user's daemon on a shared machine): the daemon warns and
 * serves on what it was given instead of exiting. */
START_TEST(activation_survives_a_taken_port)
{
	char dir[] = "/tmp/hl-act-XXXXXX";
	char *cfg, *act_sock, *log, *yaml, *out;
	int taken = itest_free_port(), fd, holder, status, one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	size_t len;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	holder = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(holder, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons(taken);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(holder, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(holder, 1), 0);
	cfg = itest_strf("%s/hotloadd.yaml", dir);
	act_sock = itest_strf("%s/activated.sock", dir);
	log = itest_strf("%s/hotloadd.log", dir);
	yaml = itest_strf("listen:\n  unix: %s/unused.sock\n  tcp: 127.0.0.1:%d\nhooks_dirs: []\n",
	                  dir, taken);
	itest_write_file(cfg, yaml, strlen(yaml));

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(lf, 1);
		dup2(lf, 2);
		execl("/usr/bin/systemd-socket-activate", "systemd-socket-activate", "-l", act_sock,
		      "--fdname=unix", HOTLOAD_BINARY_DIR "/bin/hotloadd", "--config", cfg,
		      (char *)NULL);
		_exit(127);
	}
	for (fd = -1; fd < 0;) {
		fd = itest_try_connect_unix(act_sock);
		if (fd < 0)
			itest_sleep_ms(50);
	}
	out = raw_on(fd, "print('still here')");
	ck_assert_str_eq(out, "OUTPUT: \nstill here\n");
	free(out);
	out = itest_read_file(log, &len);
	itest_assert_contains(out, "serving on the sockets from systemd");
	free(out);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hotloadd exited %d", status);
	close(holder);
	itest_remove_tree(dir);
	free(cfg);
	free(act_sock);
	free(log);
	free(yaml);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, notify_sequence);
	tcase_add_test(tc, watchdog_pings);
	tcase_add_test(tc, socket_activation);
	tcase_add_test(tc, activation_survives_a_taken_port);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
