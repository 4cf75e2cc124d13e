/* pool.h - the workers of one target and the requests waiting for them */
#ifndef HOTLOAD_POOL_H
#define HOTLOAD_POOL_H

#include <jansson.h>
#include <uv.h>

struct hook;
struct pool;
struct request;

/* Called whenever the pool's last worker is gone (for shutdown). */
typedef void (*pool_empty_cb)(struct pool *p, void *data);

struct reaper;
struct supervision;

/* What every pool of a daemon shares; strings and reaper are borrowed and
 * must outlive the pools. */
struct pool_context {
	uv_loop_t *loop;
	const char *agent;    /* hookd.py */
	const char *launcher; /* hotload-launch, or NULL */
	struct reaper *reaper;
	const struct supervision *sup; /* restart policy and grace periods */
	pool_empty_cb on_empty;
	void *data;
	size_t *queued_bytes; /* code of every pool's queued requests, or NULL */
};

/* A pool for hook h at one installed interpreter. Its name is what users
 * see ("python:3", "hython:20.5.332"). The hook must outlive the pool. */
struct pool *pool_new(const struct pool_context *ctx, const struct hook *h, const char *executable,
                      const char *version);
/* Only for a pool without workers (after pool_stop() emptied it); freed
 * once its timer is closed. */
void pool_free(struct pool *p);

int pool_matches(const struct pool *p, const struct hook *h, const char *executable);
const char *pool_name(const struct pool *p);
size_t pool_worker_count(const struct pool *p);

/* Queue r; a worker is started on demand. The pool owns r until r's sink
 * hears done (or frees it when the client is gone). */
void pool_submit(struct pool *p, struct request *r);

/* r's client is gone: a queued r is dropped and freed, a running one runs
 * to its end with nobody listening. */
void pool_cancel(struct pool *p, struct request *r);

/* Stop every worker gracefully; queued requests are refused. For the
 * daemon's shutdown: the pool takes no more work. */
void pool_stop(struct pool *p);

/* hotloadctl start: clear failed and backoff, forget crashes, and start
 * workers up to min_workers (at least one). -ESHUTDOWN when the pool is
 * stopping (the daemon shuts down, or a reload retired it). */
int pool_start(struct pool *p);

/* Start workers up to min_workers (daemon start, reload). */
void pool_prewarm(struct pool *p);

/* hotloadctl stop: stop the workers gracefully; the target starts again on
 * demand. */
void pool_stop_workers(struct pool *p);

/* Replace every worker with a fresh one: each finishes its request and
 * stops; min_workers replacements start at once. Returns how many. */
int pool_recycle(struct pool *p);

/* Watch dir (and below) for changed Python files: workers reload them
 * before their next request. -errno with a reason in err. Counted: a dir
 * asked for twice (the hook and a connection) is watched until both
 * pool_watch_remove it. */
int pool_watch_add(struct pool *p, const char *dir, char *err, size_t errlen);
/* Undo one pool_watch_add of dir; -ENOENT when dir is not watched. */
int pool_watch_remove(struct pool *p, const char *dir);
/* The watched roots (borrowed JSON array of real paths). */
const json_t *pool_watch_roots(const struct pool *p);

/* Configuration reload: the pool's hook changed. Its workers finish what
 * they run and stop; none is started or restarted any more. */
void pool_retire(struct pool *p);

/* owner (a connection) is gone: end the debug sessions it started, refuse
 * the requests still waiting for them, and recycle their workers. */
void pool_end_sessions(struct pool *p, const void *owner);

/* KeyboardInterrupt in every running request; returns how many. */
int pool_interrupt(struct pool *p);

/* Interrupt r: a running r gets SIGINT, a queued r is taken out of the
 * queue and answered with KeyboardInterrupt. Returns 1 when r was hit, 0
 * when it could not be (no worker runs it). */
int pool_interrupt_request(struct pool *p, struct request *r);

/* Configuration reload: h (an equal hook from the new hookset) and sup
 * replace the pool's; workers keep running. */
void pool_rebind(struct pool *p, const struct hook *h, const struct supervision *sup);

/* Take every queued request out of the pool (to run elsewhere after a
 * reload); returns how many were put in *ret (malloc'd). */
size_t pool_take_queue(struct pool *p, struct request ***ret);

const struct hook *pool_hook(const struct pool *p);
const char *pool_version(const struct pool *p);
const char *pool_executable(const struct pool *p);

/* The daemon is quiet: its workers and template give back what their
 * buffers hold no more (worker_release_memory). */
void pool_release_memory(struct pool *p);

/* Add the pool's workers to counts, indexed by enum worker_state. */
void pool_count_states(const struct pool *p, unsigned *counts);

/* Recent worker output: [{"time","pid","stream","data"}…] (new reference). */
json_t *pool_logs(const struct pool *p, size_t max_entries);

/* {"target","hook","version","executable","state","restarts","last_exit",
 * "queue","workers":[…]} */
json_t *pool_status(const struct pool *p);

#endif
