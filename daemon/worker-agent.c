/* worker-agent.c - a worker's control socket: lines to the agent, and
 * what its answers (ready, done, reloaded) do to the worker and its request
 *
 * The agent speaks newline-delimited JSON on fd 3 (agent-protocol.md). An
 * interrupt is the line first and SIGINT once the line is in the socket;
 * a done drains fd 1 and 2 before the result is handed on. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "request.h"
#include "worker-private.h"
#include "worker.h"

#define CTL_KEEP (64u << 10)      /* capacity of ctl_in kept between messages */
#define CTL_LINE_MAX (256u << 20) /* an agent reply larger than this is a broken agent */

/* A line for the agent that could not be written at once. */
struct ctl_write {
	uv_write_t req;
	struct worker *w;
	int sigint;          /* then SIGINT the worker, if it still runs ... */
	uint64_t request_id; /* ... this request */
	char data[];
};

static void
on_write_done(uv_write_t *req, int status)
{
	struct ctl_write *cw = (struct ctl_write *)req;
	struct worker *w = cw->w;

	if (cw->sigint && status == 0 && w->current && w->current_id == cw->request_id)
		worker_sigint(w);
	free(cw);
}

/* Send one line to the agent (line[0..n) without its newline) and the
 * payload bytes after it; with sigint, SIGINT the worker once it is all in
 * the socket, so that the agent finds the line when the signal comes. A
 * failed write is not reported: the agent is gone, and its exit says so. */
static void
worker_write_line(struct worker *w, const char *line, size_t n, const char *payload,
                  size_t payload_len, int sigint)
{
	uv_stream_t *ctl = (uv_stream_t *)&w->ctl;
	uv_buf_t bufs[3] = {uv_buf_init((char *)line, (unsigned)n), uv_buf_init("\n", 1),
	                    uv_buf_init((char *)payload, (unsigned)payload_len)};
	size_t total = n + 1 + payload_len, off = 0, i, skip;
	struct ctl_write *cw;
	uv_buf_t b;
	char *p;

	/* Nothing queued: write at once, which is the whole line nearly always,
	 * and spares a copy, a write request and an epoll change per request. */
	if (uv_stream_get_write_queue_size(ctl) == 0) {
		int r = uv_try_write(ctl, bufs, payload_len ? 3 : 2);

		if (r > 0)
			off = (size_t)r;
		if ((r < 0 && r != UV_EAGAIN) || off == total) {
			if (sigint && off == total)
				worker_sigint(w);
			return;
		}
	}
	cw = xmalloc(sizeof(*cw) + total - off);
	cw->w = w;
	cw->sigint = sigint;
	cw->request_id = w->current_id;
	p = cw->data;
	for (i = 0, skip = off; i < 3; i++) {
		size_t len = bufs[i].len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(p, bufs[i].base + skip, len - skip);
		p += len - skip;
		skip = 0;
	}
	b = uv_buf_init(cw->data, (unsigned)(total - off));
	if (uv_write(&cw->req, ctl, &b, 1, on_write_done) < 0)
		free(cw);
}

static void
worker_write(struct worker *w, json_t *msg, int sigint)
{
	char *s = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);

	if (!s)
		return;
	worker_write_line(w, s, strlen(s), NULL, 0, sigint);
	free(s);
}

void
worker_agent_send(struct worker *w, json_t *msg)
{
	worker_write(w, msg, 0);
}

void
worker_agent_send_line(struct worker *w, const char *line, size_t n, const char *payload,
                       size_t len)
{
	worker_write_line(w, line, n, payload, len, 0);
}

/* Interrupt the running request: tell the agent which one, then SIGINT.
 * A signal that lands before the agent has started the code would find
 * nothing to interrupt; the line lets the agent tell it was meant for the
 * request it is starting (agent-protocol.md). */
int
worker_agent_sigint(struct worker *w)
{
	json_t *msg;

	if (w->pid <= 0 || w->state == WORKER_STOPPED)
		return -ESRCH;
	msg = json_pack("{s:I, s:s}", "id", (json_int_t)w->current_id, "op", "interrupt");
	worker_write(w, msg, 1);
	json_decref(msg);
	return 0;
}

/* Make res (a result) say the request hit its timeout; how it ended (the
 * agent's KeyboardInterrupt traceback, or the signal that killed it) stays
 * in the message. */
void
worker_timeout_error(struct worker *w, json_t *res, const char *how)
{
	json_t *err = json_object_get(res, "error");
	struct buf m = BUF_INIT;
	const char *was = json_string_value(json_object_get(err, "type"));

	if (w->limit_is_deadline)
		buf_printf(&m, "the request ran past its deadline of %g s (its wait included)",
		           w->deadline);
	else
		buf_printf(&m, "the request ran longer than its timeout of %g s", w->timed_out);
	if (how)
		buf_printf(&m, "; the worker was %s", how);
	else if (was)
		buf_printf(&m, "; it was interrupted (%s)", was);
	if (!err) {
		err = json_object();
		json_object_set_new(res, "error", err);
	}
	json_object_set_new(res, "ok", json_false());
	json_object_set_new(err, "type", json_string("Timeout"));
	json_object_set_new(err, "message", json_string(m.data));
	json_object_set_new(err, "timeout", json_real(w->timed_out));
	buf_free(&m);
}

/* Make res say why its worker was stopped: the code went on after an
 * interrupt, and the client interrupted it again. */
void
worker_interrupt_kill_error(json_t *res, const char *how)
{
	json_t *err = json_object_get(res, "error");
	struct buf m = BUF_INIT;

	if (!err) {
		err = json_object();
		json_object_set_new(res, "error", err);
		json_object_set_new(err, "type", json_string("WorkerDied"));
	}
	json_object_set_new(res, "ok", json_false());
	buf_printf(&m,
	           "the code went on after an interrupt, so the next one stopped its worker: %s",
	           how);
	json_object_set_new(err, "message", json_string(m.data));
	buf_free(&m);
}

/* {"ok": true}, what most requests end with: one object that is never
 * changed, rather than a new one for each. */
static json_t *
plain_ok(void)
{
	static json_t *ok;

	if (!ok)
		ok = json_pack("{s:b}", "ok", 1);
	return ok;
}

/* The request ended: msg is the agent's done event, or NULL for a done
 * that said only that the request succeeded. */
static void
on_request_done(struct worker *w, json_t *msg)
{
	struct request *r = w->current;
	json_t *res;
	int stop_after;

	worker_drain_output(w);
	worker_finish_carry(w);
	if (msg) {
		res = json_incref(msg); /* ours: parsed for this call alone */
		json_object_del(res, "id");
		json_object_del(res, "event");
		if (!json_is_boolean(json_object_get(res, "ok")))
			json_object_set_new(res, "ok", json_false());
	} else if (request_op(r) == REQUEST_PING || w->timed_out || w->interrupt_kill) {
		res = json_pack("{s:b}", "ok", 1); /* added to below */
	} else {
		res = json_incref(plain_ok());
	}
	request_ran(r);
	/* a ping says who answered: the target's name, as status has it */
	if (request_op(r) == REQUEST_PING) {
		json_object_set_new(res, "target", json_string(w->name));
		json_object_set_new(res, "pid", json_integer(worker_pid(w)));
	}

	if (request_op(r) == REQUEST_DEBUG && json_is_true(json_object_get(res, "ok")))
		w->debugger = 1;
	w->paused = w->limit_held = 0;
	if (w->timed_out)
		worker_timeout_error(w, res, NULL);
	else if (w->interrupt_kill)
		worker_interrupt_kill_error(res, "stopped with SIGTERM");
	uv_timer_stop(&w->intr_timer);
	uv_timer_stop(&w->wake_timer);
	w->current = NULL;
	w->requests++;
	stop_after = request_shutdown_after(r);
	if (w->escalated > SIGINT || w->stop_requested) {
		/* On its way out: no more work, and the escalation timer runs on. */
		w->state = WORKER_STOPPING;
	} else {
		uv_timer_stop(&w->timer);
		w->state = WORKER_IDLE;
	}
	request_finish(r, res);
	json_decref(res);
	worker_resume_output(w);

	if (w->state == WORKER_STOPPING)
		return;
	if (stop_after) {
		worker_log(w, LOG_LEVEL_INFO, "__SHUTDOWN__ requested, stopping");
		worker_stop(w);
	} else {
		w->escalated = 0;
		w->timed_out = 0;
		worker_arm_idle_timer(w);
		w->ev->idle(w, w->data);
	}
}

/* The agent reloaded modules before running the request's code (or for a
 * reload op). What it printed while reloading goes first; then the event;
 * the code's own output only after, because the agent waits for our
 * acknowledgement before it runs the code. */
static void
on_reloaded(struct worker *w, json_t *msg)
{
	struct request *r = w->current;
	json_t *m, *ack;
	size_t i;

	worker_drain_output(w);
	json_array_foreach(json_object_get(msg, "modules"), i, m)
	{
		const char *status = json_string_value(json_object_get(m, "status"));

		if (status && !strcmp(status, "failed"))
			w->reload_failed = 1;
		worker_log(w,
		           status && !strcmp(status, "failed") ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO,
		           "%s: %s", json_string_value(json_object_get(m, "module")) ?: "?",
		           status ?: "?");
	}
	request_event(r, msg);
	if (request_op(r) != REQUEST_RELOAD) {
		ack = json_pack("{s:I, s:s}", "id", (json_int_t)w->current_id, "op",
		                "reloaded-ack");
		worker_agent_send(w, ack);
		json_decref(ack);
	}
}

/* The agent's done for nearly every exec, in the one spelling its encoder
 * gives: {"id":N,"event":"done","ok":true}. Known by its bytes, it needs
 * no JSON parse, which was over a quarter of the instructions the daemon
 * ran per no-op (tests/hookd/test_agent.py holds the agent to it). */
static const char plain_done_head[] = "{\"id\":";
static const char plain_done_tail[] = ",\"event\":\"done\",\"ok\":true}";

static int
is_plain_done(const char *line, size_t len, uint64_t id)
{
	size_t head = sizeof(plain_done_head) - 1, tail = sizeof(plain_done_tail) - 1, n = 0;
	char digits[20];

	do
		digits[sizeof(digits) - ++n] = (char)('0' + id % 10);
	while ((id /= 10) > 0);
	return len == head + n + tail && !memcmp(line, plain_done_head, head) &&
	       !memcmp(line + head, digits + sizeof(digits) - n, n) &&
	       !memcmp(line + head + n, plain_done_tail, tail);
}

/* One message from the agent. A message that makes no sense means the agent
 * is broken: kill the worker rather than guess. */
static void
on_agent_message(struct worker *w, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg;
	const char *event;
	int r;

	if (w->current && is_plain_done(line, len, w->current_id)) {
		on_request_done(w, NULL);
		return;
	}
	msg = json_loadb(line, len, JSON_ALLOW_NUL, &jerr); /* "\u0000" is in strings */
	event = json_string_value(json_object_get(msg, "event"));
	if (!event) {
		worker_log(w, LOG_LEVEL_ERR, "bad message from the agent: %.200s", line);
		worker_kill(w, SIGKILL);
		goto out;
	}
	if (!strcmp(event, "ready") && w->state == WORKER_STARTING) {
		uv_timer_stop(&w->timer);
		w->state = WORKER_IDLE;
		w->agent_pid = (int)json_integer_value(json_object_get(msg, "pid"));
		w->agent_tid = (int)json_integer_value(json_object_get(msg, "tid"));
		w->ready_ns = uv_hrtime();
		worker_arm_idle_timer(w);
		worker_log(w, LOG_LEVEL_INFO, "ready in %.*f ms", w->forked ? 1 : 0,
		           (double)(uv_hrtime() - w->started_ns) / 1e6);
		if (w->is_template)
			worker_template_ready(w);
		w->ev->ready(w, w->data);
	} else if (!strcmp(event, "failed")) {
		json_decref(w->start_error);
		w->start_error = json_incref(json_object_get(msg, "error"));
	} else if (!strcmp(event, "done") && w->current &&
	           json_integer_value(json_object_get(msg, "id")) == (json_int_t)w->current_id) {
		on_request_done(w, msg);
	} else if (!strcmp(event, "reloaded") && w->current &&
	           json_integer_value(json_object_get(msg, "id")) == (json_int_t)w->current_id) {
		on_reloaded(w, msg);
	} else if ((!strcmp(event, "paused") || !strcmp(event, "resumed")) && w->current &&
	           json_integer_value(json_object_get(msg, "id")) == (json_int_t)w->current_id) {
		worker_hold_limit(w, !strcmp(event, "paused"));
	} else if (!strcmp(event, "done") && w->state == WORKER_STOPPING) {
		/* the answer to "stop": the exit follows */
	} else if (w->is_template && (r = worker_template_event(w, event, msg)) != 0) {
		if (r < 0) {
			worker_log(w, LOG_LEVEL_ERR, "bad message from the template: %.200s", line);
			worker_kill(w, SIGKILL);
		}
	} else {
		worker_log(w, LOG_LEVEL_ERR, "unexpected '%s' from the agent, ignoring", event);
	}
out:
	json_decref(msg);
}

void
worker_agent_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct worker *w = s->data;
	size_t len;

	if (n < 0) {
		uv_read_stop(s);
		return;
	}
	buf_append(&w->ctl_in, b->base, (size_t)n);
	while ((len = buf_line_len(&w->ctl_in)) > 0) {
		/* The message may finish the request or stop the worker, but
		 * the record stays until the exit, so w is still valid. */
		w->ctl_in.data[len - 1] = '\0';
		on_agent_message(w, w->ctl_in.data, len - 1);
		buf_consume(&w->ctl_in, len);
	}
	if (w->ctl_in.len > CTL_LINE_MAX) {
		worker_log(w, LOG_LEVEL_ERR, "agent message larger than %u bytes, killing",
		           CTL_LINE_MAX);
		buf_clear(&w->ctl_in);
		worker_kill(w, SIGKILL);
	}
	buf_shrink(&w->ctl_in, CTL_KEEP); /* after a large answer (a long repr) */
}

void
worker_release_memory(struct worker *w)
{
	buf_shrink(&w->ctl_in, 0);
}
