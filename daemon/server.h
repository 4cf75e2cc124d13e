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
struct probes;
struct request;
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

/* Find the pool for "dcc[:version]", making it when create is set. On
 * failure returns -errno, sets *reterr_type to the error type for the client
 * and fills message; -ESRCH (no *reterr_type) when it exists but has no pool
 * and create is not set; -EINPROGRESS (no *reterr_type) while the version of
 * an install is being probed: ask again when a probe ends (probes_wait on
 * server_probes). Never blocks. */
int server_route(struct server *s, const char *dcc, const char *version, int create,
                 struct pool **ret, const char **reterr_type, struct buf *message);

/* The live pool of dcc's hook at executable, or NULL; no hints searched. */
struct pool *server_pool_of(struct server *s, const char *dcc, const char *executable);

/* r, which belongs to a client that is going, stops waiting for its new
 * route after a reload (r is not freed; no-op when r does not wait). */
void server_unpark(struct server *s, struct request *r);

/* The version probes of the daemon, for waiting on them. */
struct probes *server_probes(const struct server *s);

/* How to read the configuration again (main's loader). */
typedef int (*server_load_cb)(struct config **ret_cfg, struct hookset **ret_hs, struct buf *err,
                              void *data);
void server_set_loader(struct server *s, server_load_cb fn, void *data);

/* Reload: new and changed hooks take effect for new workers; workers of
 * changed or removed hooks drain and stop; their queued requests move to
 * the new pools. On error nothing changes and err says why. */
int server_reload(struct server *s, struct buf *err);

/* The daemon is asked to exit (control "shutdown"): main's handler. */
void server_set_exit(struct server *s, void (*fn)(void *data), void *data);
void server_request_exit(struct server *s);

/* [{"name","aliases","description","source","default_version","installs"}]
 * in *ret; -EINPROGRESS while the versions of some installs are being
 * probed (as server_route), -ESHUTDOWN when they never will be. */
int server_list(const struct server *s, json_t **ret);

/* Connection bookkeeping, for limits and status. */
void server_conn_add(struct server *s, struct conn *c);
void server_conn_gone(struct server *s, struct conn *c);
/* A connection's memory is freed: when no request is left, the daemon is
 * quiet, and gives the heap it no longer uses back to the system (as it
 * does when the last request is freed). */
void server_conn_freed(struct server *s);

uv_loop_t *server_loop(const struct server *s);

/* A client connection got file descriptor fd: warn when few are left. */
void server_note_fd(struct server *s, int fd);

/* Who may connect (made by server_start). */
struct access *server_access(const struct server *s);

/* A connection that held had bytes of request data now holds has: taken
 * into account, unless that would put what every client has sent and is
 * not yet running above limits.max_buffered (-ENOBUFS, nothing changed). */
int server_hold(struct server *s, size_t had, size_t has);

/* One line for the service manager: "2 workers: 1 idle, 1 busy". */
void server_summary(const struct server *s, struct buf *out);

/* The control "status" object; target NULL: every target. */
json_t *server_status(const struct server *s, const char *target);

#endif
