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
	WORKER_STOPPING,
	WORKER_DEAD,
};

/* What a worker tells its owner (the pool). After exited() the worker frees
 * itself once its handles are closed; the owner must forget it then. */
struct worker_events {
	void (*ready)(struct worker *w, void *data);
	/* The running request finished; the worker is idle again. */
	void (*idle)(struct worker *w, void *data);
	/* The process is gone. error is set when it never became ready
	 * ({"type","message",…}, borrowed), else NULL. */
	void (*exited)(struct worker *w, json_t *error, void *data);
};

struct reaper;

struct worker_spec {
	char **argv; /* NULL-terminated */
	const char *launcher;  /* hotload-launch, put before argv; NULL: none */
	struct reaper *reaper; /* told about the worker's pid; may be NULL */
	char **env;  /* NULL-terminated */
	const char *name; /* "python:3", for logs */
	double startup_timeout; /* seconds */
	double stop_grace;      /* seconds from "stop" to SIGTERM, and to SIGKILL */
};

/* Start a worker. On failure returns -errno (the exec error included) and
 * nothing is left behind. */
int worker_spawn(uv_loop_t *loop, const struct worker_spec *spec,
		 const struct worker_events *ev, void *data, struct worker **ret);

/* Send r to the idle worker; it becomes busy. r->worker is set. */
void worker_run(struct worker *w, struct request *r);

/* Stop gracefully: the agent's teardown runs; SIGTERM then SIGKILL to the
 * group if it does not exit within the grace. No-op when stopping or dead. */
void worker_stop(struct worker *w);

/* Send sig to the worker's whole process group. */
int worker_kill(struct worker *w, int sig);

void worker_resume_output(struct worker *w);

/* The request finished or its client left: detach without stopping it. */
void worker_detach(struct worker *w, struct request *r);

enum worker_state worker_state(const struct worker *w);
const char *worker_state_name(enum worker_state s);
/* The interpreter's pid once it is ready, else its process group's. */
int worker_pid(const struct worker *w);
unsigned worker_id(const struct worker *w);
/* {"id","state","pid","uptime_s","requests"} (new reference). */
json_t *worker_status(const struct worker *w);

#endif
