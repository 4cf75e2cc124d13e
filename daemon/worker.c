/* worker.c - one DCC interpreter process running the hookd agent
 *
 * The daemon owns the worker's fd 1 and 2 (everything it prints, Python or
 * native; each an ostream) and talks to the agent over fd 3 in
 * newline-delimited JSON. Its owner hears of the exit once and forgets the
 * worker then; the record itself lives until the process is reaped *and*
 * both output pipes reached EOF, since a process it started may print on
 * after it (tmux frees a job only when it is both dead and closed). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "ostream.h"
#include "readbuf.h"
#include "reaper.h"
#include "request.h"
#include "worker.h"
#include "worker-private.h"

static unsigned next_worker_id = 1; /* global (see log.c): ids are unique in the process */

enum worker_state
worker_state(const struct worker *w)
{
	return w->state;
}

const char *
worker_state_name(enum worker_state s)
{
	switch (s) {
	case WORKER_STARTING:
		return "starting";
	case WORKER_IDLE:
		return "idle";
	case WORKER_BUSY:
		return "busy";
	case WORKER_INTERRUPTING:
		return "interrupting";
	case WORKER_STOPPING:
		return "stopping";
	case WORKER_STOPPED:
		return "stopped";
	}
	return "?";
}

int
worker_pid(const struct worker *w)
{
	return w->agent_pid ? w->agent_pid : w->pid;
}

/* log_worker, with the running request (if any) as HOTLOAD_REQUEST. */
void
worker_log(const struct worker *w, int level, const char *fmt, ...)
{
	char msg[1024], req[48];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->current)
		snprintf(req, sizeof(req), "%u.%llu", w->id, (unsigned long long)w->current_id);
	log_worker(level, w->name, worker_pid(w), w->current ? req : NULL, "%s", msg);
}

/* Resident memory of the interpreter, from /proc; 0 when unknown. */
static long long
worker_rss(const struct worker *w)
{
	char path[64];
	long long pages = 0, rss = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", worker_pid(w));
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%lld %lld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

json_t *
worker_status(const struct worker *w)
{
	double up = (double)(uv_hrtime() - w->started_ns) / 1e9;
	json_t *o;

	o = json_pack("{s:i, s:s, s:i, s:i, s:f, s:i, s:I}", "id", (int)w->id, "state",
	              worker_state_name(w->state), "pid", worker_pid(w), "pgid", w->pid, "uptime_s",
	              up, "requests", (int)w->requests, "rss_bytes", (json_int_t)worker_rss(w));
	if (w->paused)
		json_object_set_new(o, "paused", json_true());
	if (w->forked)
		json_object_set_new(o, "forked", json_true());
	if (w->isolated)
		json_object_set_new(o, "isolated", json_true());
	return o;
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct worker *w = h->data;

	if (--w->open_handles > 0)
		return;
	buf_free(&w->ctl_in);
	buf_free(&w->tail);
	json_decref(w->start_error);
	free(w->children);
	free(w->name);
	free(w);
}

static void
close_handle(struct worker *w, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_handle_closed);
}

/* Close everything; the record is freed by the last close callback. The
 * output streams free themselves, and call nothing once closed. */
void
worker_close(struct worker *w)
{
	ostream_close(w->out);
	ostream_close(w->err);
	w->out = w->err = NULL;
	close_handle(w, (uv_handle_t *)&w->ctl);
	close_handle(w, (uv_handle_t *)&w->timer);
	close_handle(w, (uv_handle_t *)&w->intr_timer);
	close_handle(w, (uv_handle_t *)&w->wake_timer);
	if (!w->forked)
		close_handle(w, (uv_handle_t *)&w->proc);
}

int
worker_kill(struct worker *w, int sig)
{
	/* Once reaped, its pid may be someone else's. */
	if (w->pid <= 0 || w->state == WORKER_STOPPED)
		return -ESRCH;
	/* The worker leads its own session: -pid is its whole group, so DCC
	 * child processes get the signal too. */
	if (kill(-w->pid, sig) < 0)
		return -errno;
	return 0;
}

/* After a SIGINT, the agent's main thread is woken (SIGURG, which the agent
 * handles and does nothing with) wake_at_ms after it, while the request
 * runs on. Python runs signal handlers in its main thread only, when it
 * next checks for them: a SIGINT that lands just before a blocking call,
 * or that the kernel gives to another thread, is seen only when the call
 * returns. A signal that interrupts the call makes it check, and the
 * interrupt lands. */
static const uint64_t wake_at_ms[] = {10, 100, 1000};

static void
on_wake_timer(uv_timer_t *t)
{
	struct worker *w = t->data;
	int pid = worker_pid(w), r;

	/* ended, went on after the interrupt, or being stopped */
	if (!w->current || w->current_id != w->wake_id || w->state == WORKER_BUSY ||
	    w->state == WORKER_STOPPED || w->escalated > SIGINT || w->pid <= 0)
		return;
	/* the agent's pid is its own word: only a process of the worker's group */
	if (getpgid(pid) != w->pid)
		return;
#ifdef __linux__
	/* Python's main thread, which the agent names: a thread of that
	 * process or nothing (tgkill checks); else the process's first */
	r = (int)syscall(SYS_tgkill, pid, w->agent_tid > 0 ? w->agent_tid : pid, SIGURG);
#else
	r = kill(pid, SIGURG);
#endif
	if (r < 0)
		return;
	worker_log(w, LOG_LEVEL_DEBUG,
	           "the code runs on after SIGINT: woke the agent's main thread");
	if (++w->wakes < sizeof(wake_at_ms) / sizeof(wake_at_ms[0]))
		uv_timer_start(t, on_wake_timer, wake_at_ms[w->wakes] - wake_at_ms[w->wakes - 1],
		               0);
}

void
worker_sigint(struct worker *w)
{
	if (worker_kill(w, SIGINT) < 0)
		return;
	w->wakes = 0;
	w->wake_id = w->current_id;
	uv_timer_start(&w->wake_timer, on_wake_timer, wake_at_ms[0], 0);
}

static void
pause_output(struct worker *w)
{
	ostream_pause(w->out);
	ostream_pause(w->err);
}

void
worker_resume_output(struct worker *w)
{
	if (w->state == WORKER_STOPPED)
		return;
	ostream_resume(w->out);
	ostream_resume(w->err);
}

/* Keep the last TAIL_MAX bytes of stderr for error messages. */
static void
tail_append(struct worker *w, const char *data, size_t len)
{
	if (len >= TAIL_MAX) {
		buf_clear(&w->tail);
		data += len - TAIL_MAX;
		len = TAIL_MAX;
	}
	if (w->tail.len + len > TAIL_MAX)
		buf_consume(&w->tail, w->tail.len + len - TAIL_MAX);
	buf_append(&w->tail, data, len);
	/* Start on a character boundary so the tail stays valid UTF-8. */
	while (w->tail.len && ((unsigned char)w->tail.data[0] & 0xc0) == 0x80)
		buf_consume(&w->tail, 1);
}

/* Valid UTF-8 output to the running request, or to the log between
 * requests and after the exit. */
static void
on_output(struct ostream *os, const char *text, size_t len, void *data)
{
	struct worker *w = data;
	int fd = ostream_fd(os);
	const char *stream = fd == 1 ? "stdout" : "stderr";

	/* Printed after the exit, by a process the worker left: its owner
	 * has forgotten it (and may be gone), so only the log is left. */
	if (w->state == WORKER_STOPPED) {
		log_worker_output(w->name, worker_pid(w), stream, text, len);
		return;
	}
	if (fd == 2)
		tail_append(w, text, len);
	if (w->ev->output)
		w->ev->output(w, fd, text, len, w->data);
	if (w->current) {
		if (request_output(w->current, fd, text, len) > 0)
			pause_output(w);
	} else
		log_worker_output(w->name, worker_pid(w), stream, text, len);
}

/* End of a request or of the process: a sequence cut off now stays cut. */
void
worker_finish_carry(struct worker *w)
{
	ostream_finish(w->out);
	ostream_finish(w->err);
}

/* Read whatever output is already in the worker's pipes. The agent
 * flushes before it sends "done", so when "done" arrives everything printed
 * for the request is here, even if libuv has not polled for it yet. One
 * poll() asks both pipes first: most requests print nothing, or their
 * output was read already, and a read of each that found nothing was two
 * of the eight system calls hotloadd made for a JSON no-op. */
void
worker_drain_output(struct worker *w)
{
	struct ostream *os[2] = {w->out, w->err}, *polled[2];
	struct pollfd p[2];
	nfds_t n = 0, i;
	int fd, r;

	for (i = 0; i < 2; i++)
		if ((fd = ostream_drain_fd(os[i])) >= 0) {
			polled[n] = os[i];
			p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
	if (!n)
		return;
	r = poll(p, n, 0);
	/* whatever it says (input, end of file, an error), or a poll that
	 * failed: the reads find out */
	for (i = 0; i < n; i++)
		if (r < 0 || p[i].revents)
			ostream_drain(polled[i]);
}

static void on_output_eof(struct ostream *os, void *data);

static void on_timer(uv_timer_t *t);

void
worker_arm_idle_timer(struct worker *w)
{
	if (w->idle_timeout > 0 && !w->leased)
		uv_timer_start(&w->timer, on_timer, (uint64_t)(w->idle_timeout * 1000), 0);
}

/* "exited with status 3" / "killed by signal 11 (Segmentation fault)" */
static void
describe_exit(struct buf *b, int64_t status, int sig)
{
	if (sig)
		buf_printf(b, "killed by signal %d (%s)", sig, strsignal(sig));
	else
		buf_printf(b, "exited with status %lld", (long long)status);
}

/* The exited worker's output is over: no pipe left open, or no more
 * waiting for it. */
static void
linger_end(struct worker *w)
{
	w->lingering = 0;
	if (w->held) {
		reaper_release(w->reaper, &w->hold);
		w->held = 0;
	}
	uv_timer_stop(&w->timer);
	worker_close(w);
}

static void
on_output_eof(struct ostream *os, void *data)
{
	struct worker *w = data;

	if (!w->lingering || !ostream_eof(w->out) || !ostream_eof(w->err))
		return;
	worker_log(w, LOG_LEVEL_DEBUG, "its output closed %.0f ms after its exit",
	           (double)(uv_hrtime() - w->exited_ns) / 1e6);
	linger_end(w);
}

/* Stop waiting for the pipes a process the worker left still holds: what
 * is in them goes to the log, what it prints later is lost. */
static void
linger_cut(struct worker *w, const char *why)
{
	int out_open, err_open;

	worker_drain_output(w);
	if (!w->lingering)
		return; /* that was the EOF */
	worker_finish_carry(w);
	out_open = !ostream_eof(w->out);
	err_open = !ostream_eof(w->err);
	worker_log(w, LOG_LEVEL_WARNING,
	           "%s%s%s still open %s, held by a process it left: closed, output cut off",
	           out_open ? "stdout" : "", out_open && err_open ? " and " : "",
	           err_open ? "stderr" : "", why);
	linger_end(w);
}

static void
on_linger_timeout(uv_timer_t *t)
{
	struct worker *w = t->data;
	char why[64];

	snprintf(why, sizeof(why), "%g s after its exit (kill_grace)", w->kill_grace);
	linger_cut(w, why);
}

/* The daemon exits; the reaper has released the hold already. */
static void
on_linger_cut(struct reaper_held *h)
{
	struct worker *w = (struct worker *)((char *)h - offsetof(struct worker, hold));

	w->held = 0;
	linger_cut(w, "at the daemon's exit");
}

/* The process is gone but an output pipe is not at EOF: a process it
 * started still holds it and may print on. Nobody waits for that output
 * any more, so it is read unpaused, into the log. What the DCC left is
 * SIGKILLed (its group; hotload-launch and our reaper for those that left
 * it) and its pipe ends close as it dies, within moments. The wait is
 * bounded by kill_grace, what a stop already allows from SIGTERM to
 * SIGKILL: a holder still there by then is out of our reach (not our
 * descendant, or not dying), waiting longer would keep the record for
 * nothing, and the record goes anyway. The daemon's exit does not wait at
 * all: the reaper holds the record to cut it then. */
static void
linger_start(struct worker *w)
{
	if (ostream_eof(w->out) && ostream_eof(w->err))
		return;
	w->lingering = 1;
	w->exited_ns = uv_hrtime();
	ostream_resume(w->out);
	ostream_resume(w->err);
	if (w->reaper) {
		w->hold.cut = on_linger_cut;
		reaper_hold(w->reaper, &w->hold);
		w->held = 1;
	}
	uv_timer_start(&w->timer, on_linger_timeout, (uint64_t)(w->kill_grace * 1000), 0);
	worker_log(w, LOG_LEVEL_DEBUG,
	           "its output is still open after its exit: reading it for up to %g s",
	           w->kill_grace);
}

void
worker_exited(struct worker *w, int64_t status, int sig)
{
	struct buf msg = BUF_INIT;
	json_t *start_err = NULL;
	enum worker_state was = w->state;
	struct worker_exit e;
	struct buf reason = BUF_INIT;

	uv_timer_stop(&w->timer);
	/* Children the DCC left behind go with it: those in its group now,
	 * those that left the group once they find their way to us. */
	worker_kill(w, SIGKILL);
	if (w->reaper) {
		reaper_untrack(w->reaper, w->pid);
		reaper_sweep(w->reaper);
	}
	worker_drain_output(w);
	worker_finish_carry(w);
	w->state = WORKER_STOPPED;

	describe_exit(&reason, status, sig);
	buf_printf(&msg, "%s (pid %d) %s", w->name, worker_pid(w), reason.data);
	/* A start that failed is logged once, by the owner, which decides
	 * what it means (and has the agent's reason) */
	if (was != WORKER_STARTING || w->stop_requested)
		log_msg(w->stop_requested && !sig && !status ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING,
		        "%s", msg.data);

	memset(&e, 0, sizeof(e));
	if (w->current) {
		struct request *r = w->current;
		json_t *res;

		e.busy_hash = request_code_hash(r);
		w->current = NULL;
		buf_puts(&msg, " while running this request");
		res = request_error_json("WorkerDied", msg.data);
		json_object_set_new(json_object_get(res, "error"), "exit_status",
		                    json_integer(status));
		json_object_set_new(json_object_get(res, "error"), "signal", json_integer(sig));
		if (w->tail.len)
			json_object_set_new(json_object_get(res, "error"), "stderr_tail",
			                    json_string(w->tail.data));
		if (w->timed_out)
			worker_timeout_error(w, res, reason.data);
		else if (w->interrupt_kill)
			worker_interrupt_kill_error(res, msg.data);
		request_finish(r, res);
		json_decref(res);
	}
	if (was == WORKER_STARTING) {
		if (w->start_error) {
			start_err = json_deep_copy(w->start_error);
			json_object_set_new(start_err, "type", json_string("WorkerStartFailed"));
		} else {
			buf_puts(&msg, " before it was ready");
			if (w->tail.len) {
				buf_puts(&msg, "; its last output:\n");
				buf_append(&msg, w->tail.data, w->tail.len);
			}
			start_err = json_pack("{s:s, s:s}", "type", "WorkerStartFailed", "message",
			                      msg.data);
		}
	}
	e.status = status;
	e.signal = sig;
	e.requested = w->stop_requested;
	e.was_ready = w->ready_ns != 0;
	e.ready_for = w->ready_ns ? (double)(uv_hrtime() - w->ready_ns) / 1e9 : 0;
	e.while_busy = was == WORKER_BUSY || was == WORKER_INTERRUPTING;
	e.start_error = start_err;
	e.reason = reason.data;
	e.with_template = w->with_template;
	/* Before exited(): that may be the daemon's last worker, and the
	 * reaper goes with it, cutting what it holds. */
	linger_start(w);
	if (w->forked)
		worker_fork_forget(w);
	else if (w->is_template)
		worker_template_exited(w, reason.data); /* those forked from it first */
	/* The owner forgets the worker now; the record may outlive it. */
	w->ev->exited(w, &e, w->data);
	buf_free(&msg);
	buf_free(&reason);
	json_decref(start_err);
	if (w->lingering) {
		if (!w->forked)
			close_handle(w, (uv_handle_t *)&w->proc);
		close_handle(w, (uv_handle_t *)&w->ctl);
		close_handle(w, (uv_handle_t *)&w->intr_timer);
		close_handle(w, (uv_handle_t *)&w->wake_timer);
	} else
		worker_close(w);
}

static void
on_worker_exit(uv_process_t *p, int64_t status, int sig)
{
	worker_exited(p->data, status, sig);
}

/* A forked worker was sent SIGKILL: its end is told by its template, which
 * may not answer; on_timer ends it after kill_grace if it has not. */
static void
kill_timer(struct worker *w)
{
	w->escalated = SIGKILL;
	uv_timer_start(&w->timer, on_timer, (uint64_t)(w->kill_grace * 1000), 0);
}

/* The next step of escalation: SIGINT (timeouts only), SIGTERM, SIGKILL,
 * each after its grace period. */
static void
escalate(struct worker *w)
{
	int sig = !w->escalated && w->timed_out ? SIGINT
	          : w->escalated < SIGTERM      ? SIGTERM
	                                        : SIGKILL;
	double grace = sig == SIGINT ? w->interrupt_grace : w->kill_grace;

	if (w->escalated == SIGKILL)
		return;
	worker_log(w, LOG_LEVEL_WARNING, "sending %s to its process group",
	           sig == SIGINT    ? "SIGINT"
	           : sig == SIGTERM ? "SIGTERM"
	                            : "SIGKILL");
	w->escalated = sig;
	if (sig == SIGINT)
		w->state = WORKER_INTERRUPTING;
	else
		w->stop_requested = 1; /* its end is our doing, not a crash */
	if (sig == SIGINT)
		worker_agent_sigint(w);
	else
		worker_kill(w, sig);
	if (sig != SIGKILL)
		uv_timer_start(&w->timer, on_timer, (uint64_t)(grace * 1000), 0);
	else if (w->forked)
		kill_timer(w);
}

static void
on_timer(uv_timer_t *t)
{
	struct worker *w = t->data;

	if (w->forked && w->escalated == SIGKILL) {
		/* killed, and its template, the parent that reaps it, did not
		 * say so in kill_grace: it does not answer, and the worker is
		 * gone all the same (or will be once the template is) */
		worker_log(w, LOG_LEVEL_WARNING,
		           "its template did not report its end within %g s of SIGKILL",
		           w->kill_grace);
		worker_exited(w, 0, SIGKILL);
		return;
	}
	switch (w->state) {
	case WORKER_STARTING: {
		char m[256];

		snprintf(m, sizeof(m), "%s did not become ready within %.0f s (startup_timeout)",
		         w->name, w->startup_timeout);
		worker_log(w, LOG_LEVEL_ERR, "%s, killing", m);
		json_decref(w->start_error);
		w->start_error = json_pack("{s:s, s:s}", "type", "WorkerStartFailed", "message", m);
		/* a fork its template has not made (or said it made) yet has
		 * no process to kill: it ends here, and one made later is
		 * killed when the template says so */
		if (w->forked && w->pid <= 0) {
			/* and a ready template that was asked to (the time
			 * counts from then) and did not fork does not answer:
			 * it forks no more, the next worker has a new one */
			if (w->tmpl && w->tmpl->state == WORKER_IDLE) {
				worker_log(w->tmpl, LOG_LEVEL_ERR,
				           "did not fork a worker within %.0f s (startup_timeout), "
				           "stopping it",
				           w->startup_timeout);
				worker_retire_template(w->tmpl);
			}
			worker_exited(w, 0, SIGKILL);
		} else {
			worker_kill(w, SIGKILL);
			if (w->forked)
				kill_timer(w);
		}
		break;
	}
	case WORKER_IDLE:
		if (w->ev->may_reap && !w->ev->may_reap(w, w->data)) {
			worker_arm_idle_timer(w);
			break;
		}
		worker_log(w, LOG_LEVEL_INFO, "idle for %g s (idle_timeout), stopping",
		           w->idle_timeout);
		worker_stop(w);
		break;
	case WORKER_BUSY:
	case WORKER_INTERRUPTING:
		if (!w->timed_out) {
			w->timed_out = w->limit_shown;
			worker_log(w, LOG_LEVEL_WARNING, "request timed out after %g s",
			           w->timed_out);
		}
		escalate(w);
		break;
	case WORKER_STOPPING:
		if (w->escalated < SIGTERM)
			worker_log(w, LOG_LEVEL_WARNING, "did not stop within %g s", w->stop_grace);
		escalate(w);
		break;
	case WORKER_STOPPED:
		break;
	}
}

/* The record and its handles, not started. */
struct worker *
worker_new(uv_loop_t *loop, const struct worker_spec *spec, const struct worker_events *ev,
           void *data)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->loop = loop;
	w->ev = ev;
	w->data = data;
	w->name = xstrdup(spec->name);
	w->id = next_worker_id++;
	w->state = WORKER_STARTING;
	w->startup_timeout = spec->startup_timeout;
	w->idle_timeout = spec->idle_timeout;
	w->request_timeout = spec->request_timeout;
	w->stop_grace = spec->stop_grace;
	w->interrupt_grace = spec->interrupt_grace;
	w->kill_grace = spec->kill_grace;
	w->next_id = 1;
	w->started_ns = uv_hrtime();

	w->out = ostream_new(loop, 1, on_output, on_output_eof, w);
	w->err = ostream_new(loop, 2, on_output, on_output_eof, w);
	uv_pipe_init(loop, &w->ctl, 0);
	uv_timer_init(loop, &w->timer);
	uv_timer_init(loop, &w->intr_timer);
	uv_timer_init(loop, &w->wake_timer);
	w->ctl.data = w->timer.data = w->proc.data = w->intr_timer.data = w->wake_timer.data = w;
	w->open_handles = 4;
	w->is_template = spec->template;
	w->fork_fds[0] = w->fork_fds[1] = w->fork_fds[2] = -1;
	return w;
}

/* Read its output and its agent, and time its start: a fork's from when
 * its template is asked for it (worker_time_start), since the template's
 * own start is timed by the template's timer. */
void
worker_start_io(struct worker *w, const struct worker_spec *spec)
{
	ostream_start(w->out);
	ostream_start(w->err);
	uv_read_start((uv_stream_t *)&w->ctl, readbuf_alloc, worker_agent_read);
	if (!w->forked)
		worker_time_start(w);
}

void
worker_time_start(struct worker *w)
{
	if (w->startup_timeout > 0)
		uv_timer_start(&w->timer, on_timer, (uint64_t)(w->startup_timeout * 1000), 0);
}

int
worker_spawn(uv_loop_t *loop, const struct worker_spec *spec, const struct worker_events *ev,
             void *data, struct worker **ret)
{
	struct worker *w = worker_new(loop, spec, ev, data);
	uv_process_options_t opts;
	uv_stdio_container_t stdio[4];
	char **argv = spec->argv;
	char daemon_pid[24];
	int r;

	/* uv_spawn initialises proc even when it fails, so it is always
	 * closed, and counted, too. */
	w->open_handles++;
	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)ostream_pipe(w->out);
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)ostream_pipe(w->err);
	stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
	stdio[3].data.stream = (uv_stream_t *)&w->ctl;
	if (spec->launcher) {
		size_t n = 0;

		while (spec->argv[n])
			n++;
		argv = xcalloc(n + 3, sizeof(*argv));
		snprintf(daemon_pid, sizeof(daemon_pid), "%d", (int)getpid());
		argv[0] = (char *)spec->launcher;
		argv[1] = daemon_pid;
		memcpy(argv + 2, spec->argv, n * sizeof(*argv));
	}
	opts.file = argv[0];
	opts.args = argv;
	opts.env = spec->env;
	opts.stdio = stdio;
	opts.stdio_count = 4;
	opts.exit_cb = on_worker_exit;
	/* setsid(): the worker leads its own session and process group. */
	opts.flags = UV_PROCESS_DETACHED;

	r = uv_spawn(loop, &w->proc, &opts);
	if (argv != spec->argv)
		free(argv);
	if (r < 0) {
		worker_close(w);
		return r;
	}
	w->reaper = spec->reaper;
	if (w->reaper)
		reaper_track(w->reaper, w->proc.pid);
	w->pid = w->proc.pid;
	worker_start_io(w, spec);
	worker_log(w, LOG_LEVEL_INFO, "starting %s%s", spec->argv[0],
	           spec->template ? " (the template workers are forked from)" : "");
	*ret = w;
	return 0;
}

/* Start the running request's time limit, ns from now, the loop's clock
 * just brought up to date. That clock counts whole milliseconds, so now
 * is up to 1 ms past it: the timer runs the limit rounded up and one
 * more, never ending the code before its time. The end is kept on the
 * exact clock, for a debugger's pause to hold. */
static void
start_limit(struct worker *w, uint64_t ns)
{
	w->limit_end_ns = uv_hrtime() + ns;
	uv_timer_start(&w->timer, on_timer, (ns + 999999) / 1000000 + 1, 0);
}

void
worker_run(struct worker *w, struct request *r)
{
	struct buf line = BUF_INIT;
	const char *code;
	size_t code_len;

	double timeout = request_timeout(r) > 0 ? request_timeout(r) : w->request_timeout;
	double asked = timeout;
	uint64_t now = uv_hrtime(), deadline = request_deadline_ns(r);

	/* a deadline bounds the wait and the run together */
	if (deadline) {
		double left = deadline > now ? (double)(deadline - now) / 1e9 : 0.001;

		/* which one is the limit, for the message: a deadline equal to
		 * the timeout is just the timeout less its wait */
		w->limit_is_deadline = timeout <= 0 || left + 0.05 < timeout;
		w->deadline = request_deadline(r);
		if (timeout <= 0 || left < timeout)
			timeout = left > 0.001 ? left : 0.001;
	} else
		w->limit_is_deadline = 0;
	w->run_limit = timeout;
	/* the timer runs for what is left; a message names the timeout asked
	 * for ("1 s"), not that less the few microseconds of its wait */
	w->limit_shown = w->limit_is_deadline ? timeout : asked;

	uv_timer_stop(&w->timer); /* the idle timer */
	buf_clear(&w->tail);      /* a WorkerDied shows this request's stderr */
	w->current = r;
	w->current_id = w->next_id++;
	w->state = WORKER_BUSY;
	w->escalated = 0;
	w->timed_out = 0;
	w->interrupt_ignored = 0;
	w->interrupt_kill = 0;
	w->reload_failed = 0;
	w->paused = 0;
	w->limit_held = 0;
	/* The loop's clock is the time this turn began: whatever ran before
	 * in this turn (a slow version probe) must not count as the code's. */
	uv_update_time(w->timer.loop);
	if (timeout > 0)
		start_limit(w, (uint64_t)(timeout * 1e9));
	request_start(r, w);
	request_agent_line(r, w->current_id, &line, &code, &code_len);
	worker_agent_send_line(w, line.data, line.len, code, code_len);
	buf_free(&line);
}

/* A thread of the running request stopped in the debugger (at a
 * breakpoint, a step), or went on: its time stopped does not count against
 * its timeout or deadline. Only the limit's own timer is held; once the
 * request is past it (escalation), a pause changes nothing. */
void
worker_hold_limit(struct worker *w, int paused)
{
	if (paused) {
		if ((w->state != WORKER_BUSY && w->state != WORKER_INTERRUPTING) || w->timed_out ||
		    w->escalated)
			return;
		if (w->paused++ == 0 && uv_is_active((uv_handle_t *)&w->timer)) {
			uint64_t now = uv_hrtime();

			w->limit_held = 1;
			w->paused_left = w->limit_end_ns > now ? w->limit_end_ns - now : 0;
			uv_timer_stop(&w->timer);
		}
	} else if (w->paused > 0 && --w->paused == 0 && w->limit_held) {
		/* an interrupt meanwhile does not matter; a stop or an
		 * escalation has the timer now */
		w->limit_held = 0;
		if ((w->state == WORKER_BUSY || w->state == WORKER_INTERRUPTING) && !w->timed_out &&
		    !w->escalated) {
			uv_update_time(w->timer.loop);
			start_limit(w, w->paused_left);
		}
	}
}

void
worker_detach(struct worker *w, struct request *r)
{
	if (w->current != r)
		return;
	request_orphan(r);
	worker_resume_output(w);
}

void
worker_stop(struct worker *w)
{
	json_t *msg;
	enum worker_state was = w->state;

	if (was == WORKER_STOPPING || was == WORKER_STOPPED)
		return;
	w->state = WORKER_STOPPING;
	w->stop_requested = 1;
	if (was == WORKER_STARTING) {
		/* no agent loop to ask yet */
		escalate(w);
		return;
	}
	/* A running request finishes first: the agent reads "stop" after it. */
	msg = json_pack("{s:i, s:s}", "id", 0, "op", "stop");
	worker_agent_send(w, msg);
	json_decref(msg);
	/* A template forks no more, and waits for the workers forked from it,
	 * which die with it: its grace counts from when the last has gone
	 * (worker_stop_grace, from worker-fork.c), not before. */
	if (w->is_template && w->n_children) {
		w->stop_waits = 1;
		return;
	}
	if (was == WORKER_IDLE || !w->timed_out)
		worker_stop_grace(w);
}

void
worker_retire_template(struct worker *tmpl)
{
	size_t i;

	worker_stop(tmpl);
	for (i = 0; i < tmpl->n_children; i++) {
		struct worker *c = tmpl->children[i];

		if (c->state == WORKER_IDLE && !c->leased) {
			worker_log(c, LOG_LEVEL_INFO, "stopping: its template is replaced");
			worker_stop(c);
		}
	}
}

void
worker_stop_with_workers(struct worker *tmpl)
{
	worker_stop(tmpl);
	if (!tmpl->stop_waits) /* its grace runs already */
		return;
	/* its workers are stopped too, and have stop_grace and kill_grace
	 * before their SIGKILL: it has as long, then SIGTERM */
	tmpl->stop_waits = 0;
	uv_timer_start(&tmpl->timer, on_timer,
	               (uint64_t)((tmpl->stop_grace + tmpl->kill_grace) * 1000), 0);
}

void
worker_stop_grace(struct worker *w)
{
	w->stop_waits = 0;
	uv_timer_start(&w->timer, on_timer, (uint64_t)(w->stop_grace * 1000), 0);
}

/* interrupt_grace after a user's interrupt, the request still runs: the
 * code caught the KeyboardInterrupt and went on. The worker is busy again
 * (not "interrupting" for ever), and the next interrupt stops it. */
static void
on_interrupt_ignored(uv_timer_t *t)
{
	struct worker *w = t->data;

	if (!w->current || w->state != WORKER_INTERRUPTING || w->escalated)
		return;
	worker_log(w, LOG_LEVEL_WARNING,
	           "the code went on %g s after an interrupt (it caught KeyboardInterrupt?); "
	           "the next interrupt stops the worker",
	           w->interrupt_grace);
	w->state = WORKER_BUSY;
	w->interrupt_ignored = 1;
}

uint64_t
worker_seen_changes(const struct worker *w)
{
	return w->seen_changes;
}

void
worker_set_seen_changes(struct worker *w, uint64_t seq)
{
	w->seen_changes = seq;
}

int
worker_reload_failed(const struct worker *w)
{
	return w->reload_failed;
}

void
worker_set_leased(struct worker *w, int leased)
{
	w->leased = leased;
	if (w->state != WORKER_IDLE)
		return;
	if (leased)
		uv_timer_stop(&w->timer); /* the idle timer */
	else
		worker_arm_idle_timer(w);
}

void
worker_set_isolated(struct worker *w)
{
	w->isolated = 1;
}

int
worker_isolated(const struct worker *w)
{
	return w->isolated;
}

struct worker *
worker_template(const struct worker *w)
{
	return w->tmpl;
}

int
worker_debugger(const struct worker *w)
{
	return w->debugger;
}

unsigned
worker_requests(const struct worker *w)
{
	return w->requests;
}

size_t
worker_rss_bytes(const struct worker *w)
{
	long long rss = worker_rss(w);

	return rss > 0 ? (size_t)rss : 0;
}

int
worker_interrupt(struct worker *w)
{
	if (!w->current || w->state == WORKER_STOPPED)
		return -EAGAIN;
	if (w->interrupt_ignored && !w->escalated) {
		worker_log(w, LOG_LEVEL_WARNING, "interrupted again: stopping the worker");
		w->interrupt_kill = 1;
		escalate(w); /* SIGTERM, then SIGKILL after kill_grace */
		return 0;
	}
	worker_log(w, LOG_LEVEL_INFO, "interrupting the running request");
	/* A worker asked to stop still runs its request first: the interrupt
	 * reaches that request and the worker stays on its way out. */
	if (w->state != WORKER_STOPPING) {
		w->state = WORKER_INTERRUPTING;
		uv_timer_start(&w->intr_timer, on_interrupt_ignored,
		               (uint64_t)(w->interrupt_grace * 1000), 0);
	}
	return worker_agent_sigint(w);
}
