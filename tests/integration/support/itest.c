/* itest.c - start and stop a real hotloadd for one test
 *
 * Each daemon gets its own mkdtemp directory holding its config, Unix
 * socket, log and (for the fake DCCs) install root, and free TCP ports, so
 * test programs can run in parallel. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define START_DEADLINE_MS 10000
#define STOP_DEADLINE_MS 20000
#define LOG_TAIL 24000 /* bytes of the daemon log printed on failure */

/* What a test process tells its guardian. */
struct guard_msg {
	char tag; /* 'P': the daemon's pid; 'K': stopped cleanly, nothing to do */
	int pid;
};

char *
itest_daemon_log(const struct itest_daemon *d)
{
	char *s = itest_read_file(d->log, NULL);

	return s ? s : strdup("(no log)");
}

/* Print the end of the daemon's log to stderr, for a failed test. */
static void
print_log(const struct itest_daemon *d, const char *why)
{
	char *s = itest_daemon_log(d);
	size_t n = strlen(s);
	const char *from = n > LOG_TAIL ? s + n - LOG_TAIL : s;

	fprintf(stderr,
	        "\n----- %s; hotloadd log %s%s -----\n%s\n----- end of hotloadd log -----\n", why,
	        d->log, from != s ? " (tail)" : "", from);
	fflush(stderr);
	free(s);
}

/* Wait for pid until the deadline; returns the wait status, or -1. */
static int
wait_pid(pid_t pid, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (itest_now_ms() >= end)
			return -1;
		itest_sleep_ms(10);
	}
}

/* The guardian: a process outside the test's process group that outlives
 * it. Check ends a failed forked test with _exit() and then kills its
 * process group, so nothing in the test process can clean up; when the
 * test process goes without a clean itest_stop, the guardian stops the
 * daemon if it still runs, prints its log and removes the directory. */
static void
guardian(struct itest_daemon *d, int rfd, int ready_fd)
{
	struct guard_msg m;
	long long end;
	ssize_t n;
	int fd;

	/* Out of the test's process group before the test may go on. */
	setsid();
	n = write(ready_fd, "x", 1);
	for (fd = 3; fd < 1024; fd++)
		if (fd != rfd)
			close(fd);
	for (;;) {
		n = read(rfd, &m, sizeof(m));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m))
			break;
		if (m.tag == 'P')
			d->pid = m.pid;
		else if (m.tag == 'K')
			_exit(0);
	}
	if (d->pid > 0 && itest_pid_alive(d->pid)) {
		kill(d->pid, SIGTERM);
		end = itest_now_ms() + 5000;
		while (itest_pid_alive(d->pid) && itest_now_ms() < end)
			itest_sleep_ms(20);
		if (itest_pid_alive(d->pid))
			kill(d->pid, SIGKILL);
	}
	print_log(d, "the test failed or ended early");
	itest_remove_tree(d->dir);
	_exit(0);
}

static void
guard_tell(struct itest_daemon *d, char tag, int pid)
{
	struct guard_msg m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.tag = tag;
	m.pid = pid;
	do
		n = write(d->guard_fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
}

static void
start_guardian(struct itest_daemon *d)
{
	int p[2], ready[2];
	char c;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	fflush(NULL);
	d->guard_pid = fork();
	ck_assert_msg(d->guard_pid >= 0, "fork: %s", strerror(errno));
	if (d->guard_pid == 0) {
		close(p[1]);
		close(ready[0]);
		guardian(d, p[0], ready[1]);
	}
	close(p[0]);
	close(ready[1]);
	d->guard_fd = p[1];
	/* Check kills the test's process group when the test ends: wait until
	 * the guardian has left it. */
	while (read(ready[0], &c, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
}

static void
write_config(struct itest_daemon *d, const struct itest_opts *o)
{
	FILE *f = fopen(d->config, "w");

	ck_assert_msg(f != NULL, "cannot write %s: %s", d->config, strerror(errno));
	fprintf(f, "listen:\n  unix: \"%s\"\n", d->sock);
	if (d->tcp_port)
		fprintf(f, "  tcp: \"127.0.0.1:%d\"\n", d->tcp_port);
	else
		fprintf(f, "  tcp: \"\"\n");
	if (o->listen_extra)
		fputs(o->listen_extra, f);
	fprintf(f, "hooks_dirs: [\"%s/share/hotload/hooks.d\", \"%s/hooks.d\"]\n",
	        HOTLOAD_BINARY_DIR, d->dir);
	if (d->compat_port)
		fprintf(f, "compat:\n  - port: %d\n    target: \"%s\"\n%s", d->compat_port,
		        o->compat, o->compat_extra ? o->compat_extra : "");
	fprintf(f, "limits:\n  max_payload: %s\n", o->max_payload ? o->max_payload : "64M");
	if (o->max_connections)
		fprintf(f, "  max_connections: %d\n", o->max_connections);
	if (o->limits_extra)
		fputs(o->limits_extra, f);
	fprintf(f, "log_level: debug\n");
	if (o->extra_config)
		fputs(o->extra_config, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The fake mayapy / hython install root, laid out by the fixture script. */
static void
make_fake_root(struct itest_daemon *d)
{
	char *script = itest_strf("%s/tests/fixtures/fake-dcc/make-root.sh", HOTLOAD_SOURCE_DIR);
	const char *argv[] = {"/bin/sh", script, d->hint_root, NULL};
	struct itest_proc p;

	ck_assert_msg(access(script, R_OK) == 0,
	              "the fake DCC fixture %s is missing (%s): cannot test mayapy/hython", script,
	              strerror(errno));
	itest_run(argv, NULL, NULL, 30000, &p);
	ck_assert_msg(p.status == 0, "%s %s failed (status %d):\n%s%s", script, d->hint_root,
	              p.status, p.out, p.err);
	itest_proc_free(&p);
	free(script);
}

static void
spawn(struct itest_daemon *d)
{
	char *bin = itest_bin("hotloadd");
	pid_t parent = getpid();
	int fd;

	ck_assert_msg(access(bin, X_OK) == 0, "%s is not built: %s", bin, strerror(errno));
	fflush(NULL);
	d->pid = fork();
	ck_assert_msg(d->pid >= 0, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		/* The daemon goes when the test process does, even on SIGKILL. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		if (d->hint_root[0]) {
			setenv("HOTLOAD_HINT_ROOT", d->hint_root, 1);
			setenv("HOTLOAD_FAKE_DCC_LOG", d->fake_log, 1);
		} else {
			unsetenv("HOTLOAD_HINT_ROOT");
			unsetenv("HOTLOAD_FAKE_DCC_LOG");
		}
		execl(bin, bin, "--config", d->config, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	free(bin);
}

/* Whether something listens on 127.0.0.1:port (/proc/net/tcp, state 0A). */
static int
tcp_listening(int port)
{
	char *tab = itest_read_file("/proc/net/tcp", NULL), *line, *save = NULL;
	unsigned addr, p, state;
	int found = 0;

	ck_assert_msg(tab != NULL, "cannot read /proc/net/tcp");
	for (line = strtok_r(tab, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, " %*u: %8x:%4x %*8x:%*4x %2x", &addr, &p, &state) == 3 &&
		    (int)p == port && state == 0x0a &&
		    (addr == 0 || addr == htonl(INADDR_LOOPBACK)))
			found = 1;
	free(tab);
	return found;
}

/* Until the listeners accept connections, or fail with the log. */
static void
wait_ready(struct itest_daemon *d)
{
	long long end = itest_now_ms() + START_DEADLINE_MS;
	int status, fd;
	pid_t r;

	for (;;) {
		r = waitpid(d->pid, &status, WNOHANG);
		if (r == d->pid) {
			d->pid = 0;
			ck_abort_msg("hotloadd exited at start-up with status %d (log below)",
			             WIFEXITED(status) ? WEXITSTATUS(status)
			                               : 128 + WTERMSIG(status));
		}
		fd = itest_try_connect_unix(d->sock);
		if (fd >= 0) {
			close(fd);
			break;
		}
		if (itest_now_ms() >= end)
			ck_abort_msg("hotloadd did not accept connections on %s within %d ms",
			             d->sock, START_DEADLINE_MS);
		itest_sleep_ms(20);
	}
	/* The TCP and compat ports may open a moment after the Unix socket.
	 * They are not probed by connecting (on a compat port that is a
	 * request): wait until the kernel lists them as listening. */
	while ((d->tcp_port && !tcp_listening(d->tcp_port)) ||
	       (d->compat_port && !tcp_listening(d->compat_port))) {
		if (itest_now_ms() >= end)
			ck_abort_msg(
			        "hotloadd did not listen on its TCP ports (%d, %d) within %d ms",
			        d->tcp_port, d->compat_port, START_DEADLINE_MS);
		itest_sleep_ms(20);
	}
}

struct itest_daemon *
itest_start(const struct itest_opts *opts)
{
	static const struct itest_opts none;
	const struct itest_opts *o = opts ? opts : &none;
	struct itest_daemon *d = calloc(1, sizeof(*d));
	char *hooks;
	size_t i;

	ck_assert_ptr_nonnull(d);
	strcpy(d->dir, "/tmp/hl-XXXXXX");
	ck_assert_msg(mkdtemp(d->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(d->sock, sizeof(d->sock), "%s/hotloadd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/hotloadd.log", d->dir);
	snprintf(d->config, sizeof(d->config), "%s/hotloadd.yaml", d->dir);
	start_guardian(d);

	/* DIR/hooks.d exists only when the test asks for it, as a user's
	 * ~/.config/hotload/hooks.d usually does not. */
	hooks = itest_strf("%s/hooks.d", d->dir);
	if (o->hooks || o->empty_hooks_dir)
		ck_assert_int_eq(mkdir(hooks, 0755), 0);
	for (i = 0; o->hooks && o->hooks[i] && o->hooks[i + 1]; i += 2) {
		char *path = itest_strf("%s/%s", hooks, o->hooks[i]);

		itest_write_file(path, o->hooks[i + 1], strlen(o->hooks[i + 1]));
		free(path);
	}
	free(hooks);
	if (o->fake_dcc) {
		snprintf(d->hint_root, sizeof(d->hint_root), "%s/root", d->dir);
		snprintf(d->fake_log, sizeof(d->fake_log), "%s/fake-dcc.log", d->dir);
		make_fake_root(d);
	}
	if (o->tcp)
		d->tcp_port = itest_free_port();
	if (o->compat) {
		do
			d->compat_port = itest_free_port();
		while (d->compat_port == d->tcp_port);
	}
	write_config(d, o);
	spawn(d);
	guard_tell(d, 'P', d->pid);
	wait_ready(d);
	return d;
}

int
itest_terminate(struct itest_daemon *d, int deadline_ms)
{
	int status;

	if (d->pid <= 0)
		return -1;
	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	status = wait_pid(d->pid, deadline_ms > 0 ? deadline_ms : STOP_DEADLINE_MS);
	if (status == -1) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		d->pid = 0;
		ck_abort_msg("hotloadd did not exit within %d ms of SIGTERM (log below)",
		             deadline_ms > 0 ? deadline_ms : STOP_DEADLINE_MS);
	}
	d->pid = 0;
	return status;
}

void
itest_free(struct itest_daemon *d)
{
	if (!d)
		return;
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	itest_remove_tree(d->dir);
	guard_tell(d, 'K', 0);
	close(d->guard_fd);
	waitpid(d->guard_pid, NULL, 0);
	free(d);
}

void
itest_stop_within(struct itest_daemon *d, int deadline_ms)
{
	int status = itest_terminate(d, deadline_ms);
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char how[64];

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
	else
		snprintf(how, sizeof(how), "signal %d", WTERMSIG(status));
	if (!ok)
		print_log(d, "hotloadd did not exit 0 on SIGTERM");
	itest_free(d);
	ck_assert_msg(ok,
	              "hotloadd ended with %s after SIGTERM, expected exit 0 "
	              "(sanitizer report or shutdown error in the log above)",
	              how);
}

int
itest_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
