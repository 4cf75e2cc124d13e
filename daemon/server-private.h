/* server-private.h - what server.c, server-listen.c and server-reload.c share */
#ifndef HOTLOAD_SERVER_PRIVATE_H
#define HOTLOAD_SERVER_PRIVATE_H

#include <uv.h>

#include "pool.h"
#include "server.h"

struct server {
	uv_loop_t *loop;
	struct config *cfg;
	struct hookset *hooks;
	char *agent;
	char *launcher;
	struct reaper *reaper;
	struct probes *probes;
	struct pool_context pool_ctx;
	uint64_t started_ns;

	struct listener **listeners;
	size_t n_listeners;
	struct pool **pools;
	size_t n_pools;
	struct conn **conns;
	size_t n_conns;
	uv_timer_t *trim_timer; /* server_quiet's, for the rest of the second */
	uint64_t trimmed_ms;    /* uv_now of the last trim */
	struct access *access;
	size_t buffered;             /* bytes in every connection's input buffer */
	size_t queued_bytes;         /* code of every queued request */
	unsigned long accept_errors; /* failed accepts since the last log line */
	uint64_t accept_error_ns;
	unsigned long fd_limit; /* RLIMIT_NOFILE, once looked up */
	uint64_t fd_warned_ns;

	/* pools of hooks a reload changed or removed, draining */
	struct pool **retired;
	size_t n_retired;
	struct hookset **old_hooks; /* what the retired pools still point into */
	size_t n_old_hooks;

	/* hint resolutions of recent requests: a PATH search per connection
	 * costs more than running a no-op */
	struct route {
		const struct hook *hook;
		char *want;
		char *path;
		char *version;
		uint64_t at_ns;      /* resolved */
		uint64_t checked_ns; /* the file last seen there */
	} * routes;
	size_t n_routes;

	/* requests of retired pools whose new route waits for a probe */
	struct parked {
		struct request *r;
		char *hook;
		char *version;
	} * parked;
	size_t n_parked;
	struct probe_waiter *parked_wait;

	/* hooks with min_workers whose default install waits for a probe */
	char **prewarm_pending;
	size_t n_prewarm_pending;
	struct probe_waiter *prewarm_wait;

	server_load_cb load;
	void *load_data;
	void (*exit_fn)(void *data);
	void *exit_data;

	int shutting_down;
	void (*shutdown_done)(void *data);
	void *shutdown_data;
};
/* server.c */
void server_pool_empty(struct pool *p, void *data);
void server_probes_empty(void *data);
void server_free_drained(struct server *s);
void server_routes_clear(struct server *s);

/* server-listen.c */
void server_close_listeners(struct server *s);
void server_prewarm(struct server *s);
void server_prewarm_forget(struct server *s);

/* server-reload.c */
void server_parked_free(struct server *s);

#endif
