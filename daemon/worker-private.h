/* worker-private.h - what worker.c and worker-agent.c share: the record */
#ifndef HOTLOAD_WORKER_PRIVATE_H
#define HOTLOAD_WORKER_PRIVATE_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "reaper.h"
#include "worker.h"

#define TAIL_MAX 4096 /* bytes of stderr kept for error messages */

struct ostream;

struct worker {
	uv_loop_t *loop;
	uv_process_t proc;
	struct ostream *out; /* fd 1 */
	struct ostream *err; /* fd 2 */
	uv_pipe_t ctl;
	uv_timer_t timer;      /* start-up, idle, request, escalation; after the exit, the linger */
	uv_timer_t intr_timer; /* a user's interrupt: has the code stopped? */
	uv_timer_t wake_timer; /* after a SIGINT: wake the agent's main thread */
	int open_handles;      /* of the uv handles above */

	enum worker_state state;
	char *name;
	unsigned id;
	int pid;       /* the process we started: the group leader */
	int agent_pid; /* the interpreter, from its ready message */
	int agent_tid; /* its main thread, from the same; 0 if not said */
	struct reaper *reaper;
	uint64_t started_ns;
	unsigned requests;
	uint64_t ready_ns;
	double startup_timeout;
	double idle_timeout;
	double request_timeout;
	double stop_grace;
	double interrupt_grace;
	double kill_grace;
	/* Escalation, while stopping or past a request's timeout: the last
	 * signal step taken (0 none or "stop" sent, SIGINT, SIGTERM, SIGKILL). */
	int escalated;
	int stop_requested;
	double timed_out;      /* the running request's timeout, once it expired */
	double run_limit;      /* seconds the running request may run: timeout or deadline */
	double limit_shown;    /* that, as messages name it */
	int limit_is_deadline; /* ... and it is what its deadline left */
	double deadline;       /* that deadline, in seconds */
	int interrupt_ignored; /* the code went on after an interrupt */
	int reload_failed;     /* a module of the last request's reload failed */
	uint64_t seen_changes; /* the pool's change count this worker has been told of */
	int interrupt_kill;    /* so a second interrupt is stopping the worker */
	unsigned wakes;        /* of the agent's main thread since the last SIGINT ... */
	uint64_t wake_id;      /* ... which interrupted this request */
	int leased;            /* to a debug session: no idle timeout */
	int isolated;          /* for one ns=isolated request */
	int debugger;          /* a debugger runs in it (a debug op succeeded) */
	int paused;            /* threads of the running request stopped in the debugger */
	int limit_held;        /* ... and its time limit's timer is stopped, with */
	uint64_t paused_left;  /* the ns it had left */
	uint64_t limit_end_ns; /* when the running request's limit ends (uv_hrtime) */
	int lingering;         /* exited, and an output pipe is still open ... */
	uint64_t exited_ns;    /* ... since then */
	int held;              /* ... and the reaper holds it (hold), to cut at the daemon's exit */
	struct reaper_held hold;

	/* spawn: fork. A template forks the workers of its target: it keeps
	 * them (children) until they exit, sends each the fds of its new
	 * worker when it is ready, and reports each fork and each exit. */
	int is_template;
	int stop_waits; /* stopped, and waits for its workers before its grace */
	struct worker **children;
	size_t n_children;
	uint64_t next_fork;
	/* A worker forked from tmpl: there is no uv_process (its template is
	 * its parent and tells its exit); fork_fds are its ends of fds 1, 2
	 * and 3 until they are handed to the template (-1 after). */
	int forked;
	int with_template; /* killed because its template went */
	struct worker *tmpl;
	uint64_t fork_id;
	int fork_fds[3];

	const struct worker_events *ev;
	void *data;

	struct request *current;
	uint64_t current_id;
	uint64_t next_id;

	struct buf ctl_in;
	struct buf tail;     /* last TAIL_MAX bytes of stderr */
	json_t *start_error; /* why it never became ready */
};

/* worker.c: the process, its output and its timers */
/* The agent says threads of the running request stopped in the debugger
 * (paused 1) or went on (0): the request's time limit is held meanwhile. */
void worker_hold_limit(struct worker *w, int paused);
void worker_log(const struct worker *w, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void worker_drain_output(struct worker *w);
void worker_finish_carry(struct worker *w);
void worker_arm_idle_timer(struct worker *w);
/* A worker has startup_timeout to become ready, from now. */
void worker_time_start(struct worker *w);
/* A worker asked to stop has stop_grace to end before SIGTERM, from now. */
void worker_stop_grace(struct worker *w);
struct worker *worker_new(uv_loop_t *loop, const struct worker_spec *spec,
                          const struct worker_events *ev, void *data);
void worker_start_io(struct worker *w, const struct worker_spec *spec);
void worker_close(struct worker *w);
/* The process ended (its status or signal): for uv's exit callback, and for
 * a forked worker, for its template's word. */
void worker_exited(struct worker *w, int64_t status, int sig);

/* worker-fork.c: templates and the workers forked from them */
/* The template is ready: the forks asked of it meanwhile go to it now. */
void worker_template_ready(struct worker *tmpl);
/* A template's "forked", "fork-failed" or "exited" (msg); 0 when event is
 * none of these. */
int worker_template_event(struct worker *tmpl, const char *event, json_t *msg);
/* The template is gone (why: reason), and the workers forked from it with
 * it: each is told to its owner as gone with its template, before the
 * template is. */
void worker_template_exited(struct worker *tmpl, const char *reason);
/* A forked worker is gone: forget it in its template. */
void worker_fork_forget(struct worker *w);

/* worker-agent.c: the control socket to the agent */
void worker_agent_send(struct worker *w, json_t *msg);
/* A line (line[0..n), no newline), then len bytes of payload (a request's
 * code) */
void worker_agent_send_line(struct worker *w, const char *line, size_t n, const char *payload,
                            size_t len);
int worker_agent_sigint(struct worker *w);
/* SIGINT to the group for the running request, now that the agent has the
 * line that says which request it is for; the agent's main thread is then
 * woken while the request runs on (worker.c). */
void worker_sigint(struct worker *w);
void worker_agent_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
void worker_timeout_error(struct worker *w, json_t *res, const char *how);
void worker_interrupt_kill_error(json_t *res, const char *how);

#endif
