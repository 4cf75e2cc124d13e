/* server.h - the daemon's state: configuration, hooks, listeners, pools */
#ifndef HOTLOAD_SERVER_H
#define HOTLOAD_SERVER_H

#include <jansson.h>
#include <uv.h>

struct buf;
struct config;
struct conn;
struct hookset;
struct pool;
struct server;

/* Takes ownership of cfg and hs. agent is the path of hookd.py, launcher
 * that of hotload-launch (NULL: workers are started without it). */
struct server *server_new(uv_loop_t *loop, struct config *cfg, struct hookset *hs,
			  const char *agent, const char *launcher);
void server_free(struct server *s);

/* Open every configured listener; on failure logs which one and returns
 * -errno with nothing left open. */
int server_start(struct server *s);

/* Stop listening, stop every worker gracefully; done is called once the
 * last worker is gone (at once when there is none). */
void server_shutdown(struct server *s, void (*done)(void *data), void *data);

const struct config *server_config(const struct server *s);

/* Find (or make) the pool for "dcc[:version]". On failure returns -errno,
 * sets *ret_type to the error type for the client and fills message. */
int server_route(struct server *s, const char *dcc, const char *version, struct pool **ret,
		 const char **ret_type, struct buf *message);

/* Connection bookkeeping, for limits and status. */
void server_conn_add(struct server *s, struct conn *c);
void server_conn_gone(struct server *s, struct conn *c);

uv_loop_t *server_loop(const struct server *s);

/* The control "status" object. */
json_t *server_status(const struct server *s);

#endif
