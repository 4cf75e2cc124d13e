/* cmd-daemon.c - `hotloadctl start`, `stop` and `restart` without targets:
 * hotloadd itself */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl-spinner.h"
#include "ctl-sys.h"
#include "ctl.h"
#include "errfmt.h"
#include "proc.h"

#define SERVICE_UNIT "hotloadd.service"
#define SOCKET_UNIT "hotloadd.socket"
#define START_TIMEOUT 10.0
#define STOP_TIMEOUT 30.0
#define POLL_MS 100
#define LOG_TAIL 4096

/* Describe o's address: "unix socket PATH" or "TCP HOST:PORT". */
static const char *
where(const struct ctl_opts *o, char *out, size_t outlen)
{
	addr_describe(o->socket, o->tcp, out, outlen);
	return out;
}

/* Whether to go through systemd: its user unit is installed, we are not
 * root (root's daemon is a system service or a foreground process), and
 * no HOTLOAD_CONFIG asks for a configuration the unit would not read. */
static int
use_systemd(void)
{
	const char *cfg = getenv("HOTLOAD_CONFIG");

	if (geteuid() == 0 || (cfg && cfg[0]))
		return 0;
	return ctlsys_user_unit_exists(SERVICE_UNIT);
}

/* systemctl --user VERB hotloadd.socket hotloadd.service (the socket unit
 * only when installed). */
static int
systemctl_user(const char *verb)
{
	char *argv[6] = {"systemctl", "--user", (char *)verb, NULL, NULL, NULL};
	int n = 3, r;

	if (ctlsys_user_unit_exists(SOCKET_UNIT))
		argv[n++] = SOCKET_UNIT;
	argv[n++] = SERVICE_UNIT;
	r = proc_run(argv, 0, NULL);
	if (r != 0)
		ctl_err("systemctl --user %s %s failed (%s)", verb, SERVICE_UNIT,
		        r < 0 ? strerror(-r) : "see its message above");
	return r;
}

/* The end of the log written since offset, for a daemon that died. */
static void
show_log_tail(const char *path, off_t offset)
{
	struct buf b = BUF_INIT;
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size - offset > LOG_TAIL)
		offset = st.st_size - LOG_TAIL;
	buf_reserve(&b, LOG_TAIL + 1);
	n = pread(fd, b.data, LOG_TAIL, offset);
	close(fd);
	if (n > 0) {
		b.len = (size_t)n;
		b.data[b.len] = '\0';
		ctl_write_all(2, b.data, b.len);
		if (b.data[b.len - 1] != '\n')
			ctl_write_all(2, "\n", 1);
	}
	buf_free(&b);
}

/* Wait until a daemon answers at o's address. child (when > 0) is the
 * daemon we spawned: its exit ends the wait. Returns 1 when one answers,
 * 0 when time ran out, -1 when child exited (*ret_status its status). */
static int
wait_answer(const struct ctl_opts *o, pid_t child, long *ret_pid, int *ret_status)
{
	double deadline = ctl_now() + (o->timeout > 0 ? o->timeout : START_TIMEOUT);
	struct ctlspin spin;
	int r = 0;

	ctlspin_init(&spin, o->quiet);
	ctlspin_catch_sigint(&spin);
	for (;;) {
		int status;

		if (ctlcontrol_alive(o, ret_pid)) {
			r = 1;
			break;
		}
		if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
			*ret_status = status;
			r = -1;
			break;
		}
		if (ctl_now() >= deadline)
			break;
		ctlspin_set(&spin, "starting hotloadd");
		ctl_sleep_ms(POLL_MS);
	}
	ctlspin_clear(&spin);
	return r;
}

/* Spawn hotloadd ourselves and wait for it. */
static int
spawn_and_wait(const struct ctl_opts *o)
{
	const char *config = getenv("HOTLOAD_CONFIG");
	char exe[PATH_MAX], log[PATH_MAX], err[PATH_MAX + 128], addr[PATH_MAX + 32];
	struct stat st;
	long pid = 0;
	pid_t child;
	off_t offset = 0;
	int fd, r, status = 0;

	if (ctlsys_find_daemon(o->argv0, exe, sizeof(exe)) < 0) {
		ctl_err("cannot find hotloadd next to hotloadctl or on PATH");
		return CTL_EXIT_FAILED;
	}
	fd = ctlsys_open_log(log, sizeof(log), err, sizeof(err));
	if (fd < 0) {
		ctl_err("cannot open the daemon's log: %s", err);
		return CTL_EXIT_FAILED;
	}
	if (fstat(fd, &st) == 0)
		offset = st.st_size;
	r = ctlsys_spawn_daemon(exe, config && config[0] ? config : NULL, fd, &child);
	close(fd);
	if (r < 0) {
		ctl_err("cannot start %s: %s", exe, strerror(-r));
		return CTL_EXIT_FAILED;
	}
	r = wait_answer(o, child, &pid, &status);
	if (r < 0) {
		if (WIFEXITED(status))
			ctl_err("%s exited at once with status %d; its log %s says:", exe,
			        WEXITSTATUS(status), log);
		else
			ctl_err("%s was killed at once by signal %d; its log %s says:", exe,
			        WTERMSIG(status), log);
		show_log_tail(log, offset);
		return CTL_EXIT_FAILED;
	}
	if (r == 0) {
		ctl_err("%s (pid %ld) runs but does not answer on %s; is that where its "
		        "configuration has it listen? Its log: %s",
		        exe, (long)child, where(o, addr, sizeof(addr)), log);
		return CTL_EXIT_FAILED;
	}
	if (!o->quiet)
		ctl_print(1, "hotloadd started (pid %ld), listening on %s; log: %s\n",
		          pid ? pid : (long)child, where(o, addr, sizeof(addr)), log);
	return CTL_EXIT_OK;
}

/* start without targets; see cmd.h. */
int
cmd_daemon_start(const struct ctl_opts *o)
{
	struct ctlcontrol *cc = NULL;
	char addr[PATH_MAX + 32];
	long pid = 0;
	int r, status = 0;

	r = ctlcontrol_open(o, 1, &cc);
	ctlcontrol_free(cc);
	if (r == CTL_EXIT_USAGE)
		return r;
	if (r == 0 && ctlcontrol_alive(o, &pid)) {
		if (!o->quiet)
			ctl_print(1, "hotloadd is already running (pid %ld) on %s\n", pid,
			          where(o, addr, sizeof(addr)));
		return CTL_EXIT_OK;
	}
	if (!use_systemd())
		return spawn_and_wait(o);
	if (systemctl_user("start") != 0)
		return CTL_EXIT_FAILED;
	r = wait_answer(o, 0, &pid, &status);
	if (r <= 0) {
		ctl_err("systemd started %s, but nothing answers on %s; see 'systemctl --user "
		        "status %s' and 'journalctl --user -u %s'",
		        SERVICE_UNIT, where(o, addr, sizeof(addr)), SERVICE_UNIT, SERVICE_UNIT);
		return CTL_EXIT_FAILED;
	}
	if (!o->quiet)
		ctl_print(1, "hotloadd started by systemd (%s, pid %ld), listening on %s\n",
		          SERVICE_UNIT, pid, where(o, addr, sizeof(addr)));
	return CTL_EXIT_OK;
}

/* Whether the daemon has gone: its pid, when we know it and it is local
 * (a Unix socket), else its address no longer answering. */
static int
daemon_gone(const struct ctl_opts *o, long pid)
{
	if (o->socket && pid > 0)
		return !ctlsys_pid_alive((pid_t)pid);
	return !ctlcontrol_alive(o, NULL);
}

/* stop without targets; see cmd.h. */
int
cmd_daemon_stop(const struct ctl_opts *o)
{
	double timeout = o->timeout > 0 ? o->timeout : STOP_TIMEOUT, deadline;
	struct ctlcontrol *cc = NULL;
	struct ctlspin spin;
	char addr[PATH_MAX + 32];
	json_t *done = NULL;
	long pid = 0;
	int r;

	r = ctlcontrol_open(o, 1, &cc);
	if (r == CTL_EXIT_USAGE)
		return r;
	if (r == 0) {
		ctlcontrol_free(cc);
		cc = NULL;
	}
	if (r || !ctlcontrol_alive(o, &pid)) {
		ctl_msg(o, "hotloadd is not running (nothing answers on %s)",
		        where(o, addr, sizeof(addr)));
		return CTL_EXIT_OK;
	}
	/* Under systemd a shutdown would only be undone by socket
	 * activation: the units are stopped instead. */
	if (geteuid() != 0 && pid > 0 && ctlsys_user_unit_pid(SERVICE_UNIT) == pid) {
		if (systemctl_user("stop") != 0)
			return CTL_EXIT_FAILED;
		if (!o->quiet)
			ctl_print(1, "hotloadd stopped (pid %ld, %s)\n", pid, SERVICE_UNIT);
		return CTL_EXIT_OK;
	}
	r = ctlcontrol_open(o, 0, &cc);
	if (r)
		return r;
	r = ctlcontrol_shutdown(cc, &done);
	ctlcontrol_free(cc);
	if (r)
		return r;
	if (done && !json_is_true(json_object_get(done, "ok"))) {
		struct buf m = BUF_INIT;

		errfmt_summary(json_object_get(done, "error"), &m);
		ctl_err("shutdown: %s", m.data);
		buf_free(&m);
		json_decref(done);
		return CTL_EXIT_FAILED;
	}
	json_decref(done);
	if (o->no_wait) {
		if (!o->quiet)
			ctl_print(1, "hotloadd (pid %ld) is shutting down\n", pid);
		return CTL_EXIT_OK;
	}
	ctlspin_init(&spin, o->quiet);
	ctlspin_catch_sigint(&spin);
	deadline = ctl_now() + timeout;
	while (!daemon_gone(o, pid) && ctl_now() < deadline) {
		ctlspin_set(&spin, "stopping hotloadd (pid %ld): its workers finish", pid);
		ctl_sleep_ms(POLL_MS);
	}
	ctlspin_clear(&spin);
	if (!daemon_gone(o, pid)) {
		ctl_err("hotloadd (pid %ld) is still running %gs after it was asked to shut down",
		        pid, timeout);
		return CTL_EXIT_FAILED;
	}
	if (!o->quiet)
		ctl_print(1, "hotloadd stopped (pid %ld)\n", pid);
	return CTL_EXIT_OK;
}

/* restart without targets; see cmd.h. */
int
cmd_daemon_restart(const struct ctl_opts *o)
{
	struct ctl_opts wait = *o;
	int r;

	/* The old daemon must be gone before the new one can listen. */
	wait.no_wait = 0;
	r = cmd_daemon_stop(&wait);
	if (r)
		return r;
	return cmd_daemon_start(o);
}
