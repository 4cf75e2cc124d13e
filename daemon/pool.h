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

/* What every pool of a daemon shares; strings and reaper are borrowed and
 * must outlive the pools. */
struct pool_context {
	uv_loop_t *loop;
	const char *agent;    /* hookd.py */
	const char *launcher; /* hotload-launch, or NULL */
	struct reaper *reaper;
	pool_empty_cb on_empty;
	void *data;
};

/* A pool for hook h at one installed interpreter. Its name is what users
 * see ("python:3", "hython:20.5.332"). The hook must outlive the pool. */
struct pool *pool_new(const struct pool_context *ctx, const struct hook *h,
		      const char *executable, const char *version);
/* Only for a pool without workers (after pool_stop() emptied it). */
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

/* Stop every worker gracefully; queued requests are refused. */
void pool_stop(struct pool *p);

/* {"target","hook","version","executable","queue","workers":[…]} */
json_t *pool_status(const struct pool *p);

#endif
