/* worker.h - one DCC interpreter process running the hookd agent */
#ifndef HOTLOAD_WORKER_H
#define HOTLOAD_WORKER_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct request;
struct worker;

enum worker_state {
	WORKER_STARTING,
	WORKER_IDLE,
	WORKER_BUSY,
	WORKER_INTERRUPTING, /* busy, and SIGINT was sent */
	WORKER_STOPPING,
	WORKER_STOPPED, /* exited; the record goes once its output pipes are closed */
};

/* How a worker ended, for its owner's restart policy. */
struct worker_exit {
	int64_t status;
	int signal;
	int requested;       /* worker_stop() or an idle timeout asked for it */
	int was_ready;       /* it had sent READY */
	double ready_for;    /* seconds between READY and the exit */
	int while_busy;      /* a request was running */
	uint64_t busy_hash;  /* request_hash() of that request */
	json_t *start_error; /* never ready: {"type","message",…} (borrowed), else NULL */
	const char *reason;  /* "killed by signal 11 (Segmentation fault)" */
	int with_template;   /* forked: it went because its template did, which the
	                      * template's own exit, told after it, accounts for */
};

/* What a worker tells its owner (the pool). After exited() the owner must
 * forget the worker, and hears nothing more of it: the record stays until
 * its output pipes reach EOF (a process it started may hold them; at most
 * kill_grace), what they bring goes to the daemon's log, and then it frees
 * itself. */
struct worker_events {
	void (*ready)(struct worker *w, void *data);
	/* The running request finished; the worker is idle again. */
	void (*idle)(struct worker *w, void *data);
	/* The process is gone. */
	void (*exited)(struct worker *w, const struct worker_exit *e, void *data);
	/* Idle past its idle_timeout: may it be stopped? NULL: yes. */
	int (*may_reap)(struct worker *w, void *data);
	/* Everything it printed (valid UTF-8), for the target's log. */
	void (*output)(struct worker *w, int fd, const char *text, size_t len, void *data);
};

struct reaper;

struct worker_spec {
	char **argv;            /* NULL-terminated */
	const char *launcher;   /* hotload-launch, put before argv; NULL: none */
	struct reaper *reaper;  /* told about the worker's pid; may be NULL */
	char **env;             /* NULL-terminated */
	const char *name;       /* "python:3", for logs */
	double startup_timeout; /* seconds */
	double idle_timeout;    /* seconds idle before it is stopped; 0: never */
	double request_timeout; /* default for requests without one; 0: none */
	double stop_grace;      /* seconds from "stop" to SIGTERM */
	double interrupt_grace; /* seconds from a timeout's SIGINT to SIGTERM */
	double kill_grace;      /* seconds from SIGTERM to SIGKILL */
	int template;           /* spawn: fork: this is its target's template, never given work */
};

/* Start a worker. On failure returns -errno (the exec error included) and
 * nothing is left behind. */
int worker_spawn(uv_loop_t *loop, const struct worker_spec *spec, const struct worker_events *ev,
                 void *data, struct worker **ret);

/* spawn: fork. A worker made by tmpl (a template, spawned with
 * spec->template) forking itself, with new fds 1, 2 and 3 from us and its
 * own process group; argv and env of spec are not used. It is supervised
 * as any other; while tmpl is starting, the fork waits for it, and when
 * tmpl exits, every worker forked from it goes too. -errno on failure,
 * nothing left behind. */
int worker_fork(struct worker *tmpl, const struct worker_spec *spec, const struct worker_events *ev,
                void *data, struct worker **ret);

/* Send r to the idle worker; it becomes busy. r->worker is set. */
void worker_run(struct worker *w, struct request *r);

/* Stop gracefully: the agent's teardown runs; SIGTERM then SIGKILL to the
 * group if it does not exit within the grace. No-op when stopping or dead. */
void worker_stop(struct worker *w);

/* Send sig to the worker's whole process group. */
int worker_kill(struct worker *w, int sig);

/* KeyboardInterrupt for the running request: SIGINT to the group. The
 * worker stays warm. -EAGAIN when nothing is running. */
int worker_interrupt(struct worker *w);

void worker_resume_output(struct worker *w);

/* The daemon is quiet: the buffer of the agent's messages is freed when it
 * holds nothing (it is kept at up to 64 KiB after a large answer). */
void worker_release_memory(struct worker *w);

/* The pool's count of file changes this worker was told about. */
uint64_t worker_seen_changes(const struct worker *w);
void worker_set_seen_changes(struct worker *w, uint64_t seq);

/* Whether a module failed to reload for its last request. */
int worker_reload_failed(const struct worker *w);

/* Debugging: a leased worker (to a debug session) has no idle timeout;
 * worker_debugger tells whether a debug op succeeded in it (a debugger,
 * which cannot be unloaded, runs in it: it is recycled, not reused). */
void worker_set_leased(struct worker *w, int leased);
int worker_debugger(const struct worker *w);

/* ns=isolated: the worker is for one such request, and goes after it. */
void worker_set_isolated(struct worker *w);
int worker_isolated(const struct worker *w);

/* spawn: fork: the template w was forked from, while it has not exited
 * (NULL for a worker of its own process). */
struct worker *worker_template(const struct worker *w);

/* A template that is replaced: it forks no more, its idle workers are
 * stopped now (not one leased to a debug session), the others are left to
 * their owner to stop when they are idle (their template is stopping),
 * and it goes after the last of them, with no time limit of its own. */
void worker_retire_template(struct worker *tmpl);

/* A template whose workers are all being stopped: it waits for them, but
 * no longer than their stop may take (stop_grace and kill_grace), and is
 * then sent SIGTERM, as a worker is after its stop_grace. */
void worker_stop_with_workers(struct worker *tmpl);

/* Requests it has served; its resident memory in bytes (0: unknown). */
unsigned worker_requests(const struct worker *w);
size_t worker_rss_bytes(const struct worker *w);

/* The request finished or its client left: detach without stopping it. */
void worker_detach(struct worker *w, struct request *r);

enum worker_state worker_state(const struct worker *w);
const char *worker_state_name(enum worker_state s);
/* The interpreter's pid once it is ready, else its process group's. */
int worker_pid(const struct worker *w);
/* {"id","state","pid","pgid","uptime_s","requests","rss_bytes"}, and
 * "paused" while its request is stopped in the debugger (new reference). */
json_t *worker_status(const struct worker *w);

#endif
