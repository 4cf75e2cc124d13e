/* ctl-request.c - one request to hotloadd, its events shown as they come:
 * output to ours, a spinner while it waits, Ctrl-C interrupting it */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "client.h"
#include "ctl-request.h"
#include "ctl-spinner.h"
#include "ctl.h"
#include "errfmt.h"

#define WAKE_SIGINT 0  /* the connection's wake fds: Ctrl-C */
#define WAKE_WATCH 1   /* exec --watch: a file changed */
#define HINT_AFTER 1.0 /* seconds after Ctrl-C before "press again" is said */

/* Where output goes; a reader that went away (`| head`) is not an error of
 * the code that ran, so we stop writing to it and carry on. */
struct sink {
	int broken[3]; /* indexed by fd: 1 stdout, 2 stderr */
};

/* The state of one request while its events come. */
struct reqrun {
	const struct ctl_opts *o;
	const char *target;
	struct client *conn;
	long id; /* of the request: one per connection */
	struct sink sink;
	struct ctlspin spin;
	int presses;    /* Ctrl-Cs so far */
	double hint_at; /* when to say "press again"; 0: not (any more) */
	ctlreq_done_cb on_done;
	void *userdata;
	int reload_report; /* reload-modules: "MODULE: STATUS" lines on stdout */
};

/* The signals caught while a request runs: Ctrl-C interrupts the code;
 * SIGTERM and SIGHUP (an editor's "stop", a closed terminal) interrupt it
 * too, and end hotloadctl at once, as they would have without us. */
static const int caught_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_CAUGHT (sizeof(caught_signals) / sizeof(caught_signals[0]))

/* The self-pipe the handler writes the signal's number to: a handler may
 * only do async-signal-safe things, and a write() wakes the poll() in
 * client_read_line without a race between checking a flag and sleeping. */
static int sigint_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	ssize_t n = write(sigint_pipe[1], &c, 1);

	(void)n; /* a full pipe has enough presses in it already */
	errno = saved;
}

/* Catch the signals while a request runs; old[] gets the previous actions. */
static int
sigint_catch(struct sigaction old[N_CAUGHT])
{
	struct sigaction sa;
	size_t k;
	int i;

	if (pipe(sigint_pipe) < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		fcntl(sigint_pipe[i], F_SETFD, FD_CLOEXEC);
		fcntl(sigint_pipe[i], F_SETFL, fcntl(sigint_pipe[i], F_GETFL) | O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: poll() returns EINTR at once */
	for (k = 0; k < N_CAUGHT; k++)
		if (sigaction(caught_signals[k], &sa, &old[k]) < 0) {
			int r = -errno;

			while (k-- > 0)
				sigaction(caught_signals[k], &old[k], NULL);
			return r;
		}
	return 0;
}

/* Put the old actions back and close the pipe. */
static void
sigint_release(const struct sigaction old[N_CAUGHT])
{
	size_t k;
	int i;

	for (k = 0; k < N_CAUGHT; k++)
		sigaction(caught_signals[k], &old[k], NULL);
	for (i = 0; i < 2; i++) {
		if (sigint_pipe[i] >= 0)
			close(sigint_pipe[i]);
		sigint_pipe[i] = -1;
	}
}

/* How many Ctrl-Cs arrived since the last call; *ret_end the SIGTERM or
 * SIGHUP that came too, else left alone. */
static int
sigint_drain(int *ret_end)
{
	char b[64];
	ssize_t n, i;
	int total = 0;

	while ((n = read(sigint_pipe[0], b, sizeof(b))) > 0)
		for (i = 0; i < n; i++) {
			if (b[i] == SIGINT)
				total++;
			else
				*ret_end = b[i];
		}
	return total;
}

/* Write to fd 1 or 2 unless an earlier write there failed. */
static void
sink_write(struct sink *s, int fd, const char *data, size_t len)
{
	if (s->broken[fd])
		return;
	if (ctl_write_all(fd, data, len) < 0)
		s->broken[fd] = 1;
}

/* A "reloaded" event: one line per module. reload-modules says it on
 * stdout, all of it; before an exec it is a note on stderr (-q: only the
 * failures, whose tracebacks matter: the old module is still the one that
 * runs). */
static void
show_reloaded(struct reqrun *rr, json_t *ev)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(ev, "modules"), i, m)
	{
		const char *mod = ctl_str(m, "module", "?"), *status = ctl_str(m, "status", "?");
		const char *note = ctl_str(m, "note", NULL);
		json_t *error = json_object_get(m, "error");
		int failed = !strcmp(status, "failed");
		struct buf line = BUF_INIT;

		if (rr->reload_report)
			buf_printf(&line, "%s: %s", mod, status);
		else
			buf_printf(&line, "hotloadctl: %s %s", status, mod);
		if (note)
			buf_printf(&line, " (%s)", note);
		if (error) {
			json_t *tb = json_object_get(error, "traceback");

			buf_puts(&line, ": ");
			errfmt_summary(error, &line);
			buf_puts(&line, "\n");
			buf_append(&line, json_string_value(tb) ? json_string_value(tb) : "",
			           json_string_length(tb));
		} else
			buf_puts(&line, "\n");
		if (rr->reload_report && !failed)
			sink_write(&rr->sink, 1, line.data, line.len);
		else if (failed || !rr->o->quiet)
			sink_write(&rr->sink, 2, line.data, line.len);
		buf_free(&line);
	}
}

/* A "waiting" event: what the request waits for, as the spinner's text. */
static void
show_waiting(struct reqrun *rr, json_t *ev)
{
	const char *state = ctl_str(ev, "state", "");

	if (!strcmp(state, "starting"))
		ctlspin_set(&rr->spin, "starting %s...", rr->target);
	else if (!strcmp(state, "queued"))
		ctlspin_set(&rr->spin, "%s: waiting for a free worker...", rr->target);
	else if (!strcmp(state, "backoff"))
		ctlspin_set(&rr->spin, "%s: waiting to restart after a crash...", rr->target);
	else
		ctlspin_set(&rr->spin, "%s: waiting (%s)...", rr->target, state);
}

/* Handle one event of the request; returns an exit status when it ends
 * the request, else -1. */
static int
handle_event(struct reqrun *rr, json_t *ev)
{
	const char *name = json_string_value(json_object_get(ev, "event"));
	json_t *id = json_object_get(ev, "id"), *data;
	int r;

	if (!name)
		return -1;
	/* A refused header has no id; anything else not ours is ignored. */
	if (!strcmp(name, "error") && (!id || json_integer_value(id) == rr->id)) {
		json_t *e = json_object_get(ev, "error");

		ctlspin_clear(&rr->spin);
		ctl_err("%s: %s", ctl_str(e, "type", "Error"),
		        ctl_str(e, "message", "hotloadd refused the request"));
		return CTL_EXIT_REFUSED;
	}
	if (!json_is_integer(id) || json_integer_value(id) != rr->id)
		return -1;
	if (!strcmp(name, "waiting")) {
		show_waiting(rr, ev);
		return -1;
	}
	if (!strcmp(name, "reloaded")) {
		ctlspin_clear(&rr->spin);
		if (!rr->o->json)
			show_reloaded(rr, ev);
		return -1;
	}
	if (!strcmp(name, "done")) {
		ctlspin_clear(&rr->spin);
		r = rr->on_done(rr->o, ev, rr->userdata);
		if (r == CTL_EXIT_FAILED && rr->presses &&
		    !strcmp(ctl_str(json_object_get(ev, "error"), "type", ""), "KeyboardInterrupt"))
			r = CTL_EXIT_INTERRUPTED;
		return r;
	}
	data = json_object_get(ev, "data");
	if ((strcmp(name, "stdout") && strcmp(name, "stderr")) || !json_is_string(data))
		return -1; /* unknown events are from a newer daemon: skip them */
	ctlspin_clear(&rr->spin);
	if (!rr->o->json)
		sink_write(&rr->sink, !strcmp(name, "stdout") ? 1 : 2, json_string_value(data),
		           json_string_length(data));
	return -1;
}

/* Whether fd has something to read now. */
static int
fd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Ctrl-C: the first interrupts the request, the second gives up on it. */
static int
on_ctrl_c(struct reqrun *rr, int n)
{
	int r;

	if (!n)
		return -1;
	rr->presses += n;
	if (rr->presses >= 2) {
		ctlspin_clear(&rr->spin);
		ctl_msg(rr->o, "interrupted; not waiting for %s any more", rr->target);
		return CTL_EXIT_INTERRUPTED;
	}
	r = client_interrupt(rr->conn, rr->id);
	if (r < 0) {
		ctlspin_clear(&rr->spin);
		ctl_msg(rr->o, "cannot send the interrupt: %s", strerror(-r));
		return CTL_EXIT_INTERRUPTED;
	}
	rr->hint_at = isatty(STDERR_FILENO) ? ctl_now() + HINT_AFTER : 0;
	return -1;
}

/* SIGTERM or SIGHUP: interrupt the code, and wait (2 s at most) for any
 * done, which says the daemon has read the interrupt: a connection closed
 * with answers unread can lose what it sent last (a TCP reset). */
static void
interrupt_before_exit(struct reqrun *rr)
{
	double until = ctl_now() + 2.0;

	if (client_interrupt(rr->conn, rr->id) < 0)
		return;
	for (;;) {
		int left = (int)((until - ctl_now()) * 1000), r, done;
		char why[64];
		json_t *ev;

		if (left <= 0)
			return;
		r = client_read_event(rr->conn, left, &ev, why, sizeof(why));
		if (r == -EINTR)
			continue;
		if (r != 1)
			return;
		done = !strcmp(ctl_str(ev, "event", ""), "done");
		json_decref(ev);
		if (done)
			return;
	}
}

/* How long to wait for the next line: the spinner and the hint need
 * wake-ups; -1 when nothing does. */
static int
next_timeout(const struct reqrun *rr)
{
	int ms = ctlspin_active(&rr->spin) ? CTLSPIN_TICK_MS : -1;

	if (rr->hint_at > 0) {
		int hint = (int)((rr->hint_at - ctl_now()) * 1000) + 1;

		if (hint < 1)
			hint = 1;
		if (ms < 0 || hint < ms)
			ms = hint;
	}
	return ms;
}

/* A wait ended without a line: tick, or say how to stop waiting. */
static void
on_timeout(struct reqrun *rr)
{
	ctlspin_tick(&rr->spin);
	if (rr->hint_at > 0 && ctl_now() >= rr->hint_at) {
		rr->hint_at = 0;
		ctlspin_clear(&rr->spin);
		ctl_msg(rr->o, "interrupting %s; press Ctrl-C again to stop waiting", rr->target);
	}
}

/* With --json, every line goes to stdout as it came, an ending one too. */
static void
echo_line(struct reqrun *rr)
{
	const char *line;
	size_t len;

	client_last_line(rr->conn, &line, &len);
	if (!len)
		return;
	sink_write(&rr->sink, 1, line, len);
	if (line[len - 1] != '\n')
		sink_write(&rr->sink, 1, "\n", 1);
}

/* Read events until the request ends; returns the exit status. */
static int
read_events(struct reqrun *rr, const char *where, int send_err)
{
	const struct ctl_opts *o = rr->o;

	for (;;) {
		char why[256];
		json_t *ev = NULL;
		int r, end;

		r = client_read_event(rr->conn, next_timeout(rr), &ev, why, sizeof(why));
		if (r == -ETIMEDOUT) {
			on_timeout(rr);
			continue;
		}
		if (r == -EINTR) {
			if (o->watch_hit && !*o->watch_hit && fd_readable(o->watch_fd)) {
				/* a save while the last run still goes: interrupt it */
				*o->watch_hit = 1;
				client_set_wake_fd(rr->conn, WAKE_WATCH, -1);
				r = client_interrupt(rr->conn, rr->id);
				(void)r;
			}
			end = 0;
			r = on_ctrl_c(rr, sigint_pipe[0] >= 0 ? sigint_drain(&end) : 0);
			if (end) {
				/* the interrupt is on its way before we go: the code
				 * stops and its worker stays warm */
				ctlspin_clear(&rr->spin);
				interrupt_before_exit(rr);
				ctl_msg(o, "%s: interrupted the code in %s, exiting",
				        strsignal(end), rr->target);
				return 128 + end;
			}
			if (r >= 0)
				return r;
			continue;
		}
		if (o->json && (r == 1 || r == -EBADMSG))
			echo_line(rr);
		if (r == -EBADMSG) {
			ctlspin_clear(&rr->spin);
			ctl_err("bad message from hotloadd: %s", why);
			return CTL_EXIT_UNREACHABLE;
		}
		if (r <= 0)
			ctlspin_clear(&rr->spin);
		if (r < 0) {
			ctl_err("lost the connection to hotloadd on %s: %s", where, strerror(-r));
			return CTL_EXIT_UNREACHABLE;
		}
		if (r == 0) {
			if (send_err)
				ctl_err("hotloadd on %s closed the connection while the request "
				        "was sent: %s",
				        where, strerror(-send_err));
			else
				ctl_err("hotloadd on %s closed the connection before the "
				        "request finished",
				        where);
			return CTL_EXIT_UNREACHABLE;
		}
		r = handle_event(rr, ev);
		json_decref(ev);
		if (r >= 0)
			return r;
	}
}

/* Run one request; see ctl-request.h. */
int
ctlreq_run(const struct ctl_opts *o, const char *target, json_t *req, ctlreq_done_cb on_done,
           void *userdata)
{
	struct reqrun rr;
	struct sigaction old_sigint[N_CAUGHT];
	char where[1024], err[1200];
	int r, status, caught = 0;

	memset(&rr, 0, sizeof(rr));
	rr.o = o;
	rr.target = target;
	rr.on_done = on_done;
	rr.userdata = userdata;
	rr.reload_report = !strcmp(ctl_str(req, "op", ""), "reload");
	ctlspin_init(&rr.spin, o->quiet);
	if (ctl_check_target(target))
		return CTL_EXIT_USAGE;
	addr_describe(o->socket, o->tcp, where, sizeof(where));
	r = client_connect(o->socket, o->tcp, &rr.conn, err, sizeof(err));
	if (r < 0) {
		ctl_err("%s", err);
		if (r == -EINVAL || r == -ENAMETOOLONG) {
			status = CTL_EXIT_USAGE;
			goto fail;
		}
		if (r != -EPERM)
			ctl_msg(o, "is hotloadd running? Start it with 'hotloadctl start', or "
			           "point --socket or --tcp at it");
		status = CTL_EXIT_UNREACHABLE;
		goto fail;
	}
	/* From here a Ctrl-C (or SIGTERM, SIGHUP) interrupts the code rather
	 * than only us. */
	if (sigint_catch(old_sigint) == 0) {
		caught = 1;
		client_set_wake_fd(rr.conn, WAKE_SIGINT, sigint_pipe[0]);
	}
	if (o->watch_hit)
		client_set_wake_fd(rr.conn, WAKE_WATCH, o->watch_fd);
	/* A refused header is answered, and the connection closed, before the
	 * request is read: a failed send still reads that answer. */
	r = client_send_header(rr.conn, target, NULL, o->token);
	if (r >= 0) {
		rr.id = 1; /* the connection's first */
		r = client_send_request(rr.conn, req, &rr.id);
	}
	if (r == -EINVAL) {
		ctl_err("cannot encode the request (is the code valid UTF-8?)");
		status = CTL_EXIT_USAGE;
		goto fail;
	}
	status = read_events(&rr, where, r < 0 ? r : 0);
fail:
	ctlspin_clear(&rr.spin);
	if (caught)
		sigint_release(old_sigint);
	client_free(rr.conn);
	return status;
}

/* Print the error of a failed request as Python would (and a raw reply
 * has it). */
int
ctlreq_print_failure(const struct ctl_opts *o, json_t *done)
{
	struct buf b = BUF_INIT;

	if (o->json)
		return CTL_EXIT_FAILED;
	errfmt_report(json_object_get(done, "error"), &b);
	ctl_write_all(2, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_FAILED;
}

/* Set req[key] to s[0..len); see ctl-request.h. */
int
ctlreq_set_string(json_t *req, const char *key, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);

	if (!v) {
		ctl_err("the %s to send is not valid UTF-8", key);
		return CTL_EXIT_USAGE;
	}
	json_object_set_new(req, key, v);
	return 0;
}

/* --timeout: how long the code may run, and how long we wait in all (the
 * queue included), so that a command with a timeout never hangs. */
void
ctlreq_set_limits(const struct ctl_opts *o, json_t *req)
{
	if (o->timeout > 0) {
		json_object_set_new(req, "timeout", json_real(o->timeout));
		json_object_set_new(req, "deadline", json_real(o->timeout));
	}
	if (o->session)
		json_object_set_new(req, "session", json_string(o->session));
}

/* The client's working directory: the code runs there, as it would here. */
void
ctlreq_set_cwd(json_t *req)
{
	char *cwd = getcwd(NULL, 0);
	json_t *v = cwd && cwd[0] == '/' ? json_string(cwd) : NULL;

	if (v) /* NULL as well when it is not UTF-8: then it is not sent */
		json_object_set_new(req, "cwd", v);
	free(cwd);
}
