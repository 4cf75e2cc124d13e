/* ctl-request.c - send one request to hotloadd and print its events as they come */
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
#include "ctl.h"
#include "client.h"
#include "ctl-request.h"
#include "ctl-spinner.h"
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

/* The self-pipe the SIGINT handler writes to: a handler may only do
 * async-signal-safe things, and a write() wakes the poll() in
 * client_read_line without a race between checking a flag and sleeping. */
static int sigint_pipe[2] = {-1, -1};

static void
on_sigint(int sig)
{
	int saved = errno;
	ssize_t n = write(sigint_pipe[1], "", 1);

	(void)n; /* a full pipe has enough presses in it already */
	(void)sig;
	errno = saved;
}

/* Catch Ctrl-C while a request runs; *old gets the previous action. */
static int
sigint_catch(struct sigaction *old)
{
	struct sigaction sa;
	int i;

	if (pipe(sigint_pipe) < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		fcntl(sigint_pipe[i], F_SETFD, FD_CLOEXEC);
		fcntl(sigint_pipe[i], F_SETFL, fcntl(sigint_pipe[i], F_GETFL) | O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: poll() returns EINTR at once */
	if (sigaction(SIGINT, &sa, old) < 0)
		return -errno;
	return 0;
}

/* Put the old SIGINT action back and close the pipe. */
static void
sigint_release(const struct sigaction *old)
{
	int i;

	sigaction(SIGINT, old, NULL);
	for (i = 0; i < 2; i++) {
		if (sigint_pipe[i] >= 0)
			close(sigint_pipe[i]);
		sigint_pipe[i] = -1;
	}
}

/* How many Ctrl-Cs arrived since the last call. */
static int
sigint_drain(void)
{
	char b[64];
	ssize_t n;
	int total = 0;

	while ((n = read(sigint_pipe[0], b, sizeof(b))) > 0)
		total += (int)n;
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
			struct buf text = BUF_INIT;
			const char *tb = ctl_str(error, "traceback", "");

			errfmt_summary(error, &text);
			buf_printf(&line, ": %s\n", text.data);
			if (*tb)
				buf_puts(&line, tb);
			buf_free(&text);
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
		int r;

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
			r = on_ctrl_c(rr, sigint_pipe[0] >= 0 ? sigint_drain() : 0);
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

/* Run one request; see ctlreq.h. */
int
ctlreq_run(const struct ctl_opts *o, const char *target, json_t *req, ctlreq_done_cb on_done,
           void *userdata)
{
	struct reqrun rr;
	struct sigaction old_sigint;
	char where[1024], err[1200];
	int r, status, caught = 0;

	memset(&rr, 0, sizeof(rr));
	rr.o = o;
	rr.target = target;
	rr.on_done = on_done;
	rr.userdata = userdata;
	rr.reload_report = !strcmp(ctl_str(req, "op", ""), "reload");
	ctlspin_init(&rr.spin, o->quiet);
	if (ctl_check_target(target) < 0)
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
	/* From here a Ctrl-C interrupts the code rather than us. */
	if (sigint_catch(&old_sigint) == 0) {
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
		sigint_release(&old_sigint);
	client_free(rr.conn);
	return status;
}

/* Print the error of a failed request as Python would (and a raw reply
 * has it). */
static int
print_failure(const struct ctl_opts *o, json_t *done)
{
	struct buf b = BUF_INIT;

	if (o->json)
		return CTL_EXIT_FAILED;
	errfmt_report(json_object_get(done, "error"), &b);
	ctl_write_all(2, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_FAILED;
}

/* "done" of exec: the output was streamed already. */
static int
on_exec_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	if (!json_is_true(json_object_get(done, "ok")))
		return print_failure(o, done);
	return CTL_EXIT_OK;
}

/* "done" of eval: print the repr of the value. */
static int
on_eval_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	json_t *value = json_object_get(done, "value");
	struct buf b = BUF_INIT;

	if (!json_is_true(json_object_get(done, "ok")))
		return print_failure(o, done);
	if (o->json || !json_is_string(value))
		return CTL_EXIT_OK;
	buf_append(&b, json_string_value(value), json_string_length(value));
	buf_puts(&b, "\n");
	ctl_write_all(1, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_OK;
}

/* "done" of ping: say how long the round trip in the worker took. */
static int
on_ping_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	const char *target = userdata;
	struct buf b = BUF_INIT;

	if (!json_is_true(json_object_get(done, "ok")))
		return print_failure(o, done);
	if (o->json || o->quiet)
		return CTL_EXIT_OK;
	/* the daemon's name of the target, as start and status print it */
	buf_printf(&b, "%s: ok", ctl_str(done, "target", target));
	if (json_is_number(json_object_get(done, "duration_ms")))
		buf_printf(&b, " (%.1f ms)",
		           json_number_value(json_object_get(done, "duration_ms")));
	buf_puts(&b, "\n");
	ctl_write_all(1, b.data, b.len);
	buf_free(&b);
	return CTL_EXIT_OK;
}

/* Set req[key] to s[0..len); -EILSEQ, said once, when it is not UTF-8. */
static int
set_string(json_t *req, const char *key, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);

	if (!v) {
		ctl_err("the %s to send is not valid UTF-8", key);
		return -EILSEQ;
	}
	json_object_set_new(req, key, v);
	return 0;
}

/* --timeout: how long the code may run, and how long we wait in all (the
 * queue included), so that a command with a timeout never hangs. */
static void
set_limits(const struct ctl_opts *o, json_t *req)
{
	if (o->timeout > 0) {
		json_object_set_new(req, "timeout", json_real(o->timeout));
		json_object_set_new(req, "deadline", json_real(o->timeout));
	}
}

/* The client's working directory: the code runs there, as it would here. */
static void
set_cwd(json_t *req)
{
	char *cwd = getcwd(NULL, 0);
	json_t *v = cwd && cwd[0] == '/' ? json_string(cwd) : NULL;

	if (v) /* NULL as well when it is not UTF-8: then it is not sent */
		json_object_set_new(req, "cwd", v);
	free(cwd);
}

/* path, argv and cwd; -EILSEQ (said) when one is not UTF-8. */
static int
set_script(json_t *req, const struct ctlreq_script *s)
{
	json_t *argv = json_array(), *v;
	int i;

	set_cwd(req);
	if (s->path && set_string(req, "path", s->path, strlen(s->path)) < 0)
		goto fail;
	for (i = -1; i < s->nargs; i++) {
		const char *a = i < 0 ? s->argv0 : s->args[i];

		if (!(v = json_string(a))) {
			ctl_err("argument '%s' is not valid UTF-8", a);
			goto fail;
		}
		json_array_append_new(argv, v);
	}
	json_object_set_new(req, "argv", argv);
	return 0;
fail:
	json_decref(argv);
	return -EILSEQ;
}

/* exec; see ctlreq.h. */
int
ctlreq_exec(const struct ctl_opts *o, const char *target, const char *code, size_t len,
            const char *file, int fresh, const struct ctlreq_script *script)
{
	json_t *req = json_object();
	int r = CTL_EXIT_USAGE;

	json_object_set_new(req, "op", json_string("exec"));
	if (set_string(req, "code", code, len) < 0 ||
	    set_string(req, "file", file, strlen(file)) < 0)
		goto fail;
	if (fresh)
		json_object_set_new(req, "ns", json_string("fresh"));
	set_limits(o, req);
	if (script && set_script(req, script) < 0)
		goto fail;
	r = ctlreq_run(o, target, req, on_exec_done, NULL);
fail:
	json_decref(req);
	return r;
}

/* eval; see ctlreq.h. */
int
ctlreq_eval(const struct ctl_opts *o, const char *target, const char *expr)
{
	json_t *req = json_object();
	int r = CTL_EXIT_USAGE;

	json_object_set_new(req, "op", json_string("eval"));
	if (set_string(req, "code", expr, strlen(expr)) < 0)
		goto fail;
	/* tracebacks name it as python -c does */
	json_object_set_new(req, "file", json_string("<string>"));
	set_limits(o, req);
	set_cwd(req);
	r = ctlreq_run(o, target, req, on_eval_done, NULL);
fail:
	json_decref(req);
	return r;
}

/* "done" of reload: the modules were listed already; say when none was. */
static int
on_reload_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	if (!json_is_true(json_object_get(done, "ok")) && json_object_get(done, "error"))
		return print_failure(o, done);
	return json_is_true(json_object_get(done, "ok")) ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/* reload-modules; see ctlreq.h. */
int
ctlreq_reload_modules(const struct ctl_opts *o, const char *target, const char *const *names, int n,
                      int purge)
{
	json_t *req = json_object(), *list = json_array(), *v;
	int i, r = CTL_EXIT_USAGE;

	for (i = 0; i < n; i++) {
		if (!(v = json_string(names[i]))) {
			ctl_err("'%s' is not valid UTF-8", names[i]);
			json_decref(list);
			goto fail;
		}
		json_array_append_new(list, v);
	}
	json_object_set_new(req, "op", json_string("reload"));
	json_object_set_new(req, "modules", list);
	json_object_set_new(req, "strategy", json_string(purge ? "purge" : "reload"));
	set_limits(o, req);
	r = ctlreq_run(o, target, req, on_reload_done, NULL);
fail:
	json_decref(req);
	return r;
}

/* ping; see ctlreq.h. */
int
ctlreq_ping(const struct ctl_opts *o, const char *target)
{
	json_t *req = json_object();
	int r;

	json_object_set_new(req, "op", json_string("ping"));
	r = ctlreq_run(o, target, req, on_ping_done, (void *)target);
	json_decref(req);
	return r;
}
