/* request.h - one piece of work for a worker, and where its results go */
#ifndef HOTLOAD_REQUEST_H
#define HOTLOAD_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct pool;
struct request;
struct worker;

enum request_op {
	REQUEST_EXEC,
	REQUEST_EVAL,
	REQUEST_RESET,
	REQUEST_PING,
	REQUEST_RELOAD,
	REQUEST_DEBUG, /* start a debugger in the worker: the worker is leased to a session */
};

enum request_state {
	REQUEST_QUEUED,
	REQUEST_RUNNING,
	REQUEST_DONE,
};

/* Where a request's output and result go: implemented by the connection
 * that made it. */
struct request_sink {
	/* Output the worker printed (valid UTF-8). Returns 0 to keep it
	 * coming, 1 when the client is congested: the worker's pipes are
	 * then not read until request_resume_output(). */
	int (*output)(struct request *r, int fd, const char *data, size_t len);
	/* The result: {"ok": true, …} or {"ok": false, "error": {…}}
	 * (borrowed). The request is freed by its owner after this. */
	void (*done)(struct request *r, json_t *result);
	/* Optional: the request waits for its target ("starting", "backoff"). */
	void (*waiting)(struct request *r, const char *state);
	/* Optional: whether the client has closed its connection (not only
	 * its writing end), so the request is not worth running. */
	int (*gone)(struct request *r);
	/* Optional: an event of the agent's about the request ("reloaded"),
	 * borrowed, its "id" the agent's. */
	void (*event)(struct request *r, json_t *msg);
};

/* What a client asked for, copied into the request by request_new (code
 * is taken: it is freed with the request). */
struct request_spec {
	enum request_op op;
	char *code; /* taken; NULL: none */
	size_t code_len;
	const char *file;    /* NULL: the agent's default */
	int fresh;           /* ns=fresh */
	int isolated;        /* ns=isolated: a new worker of its own, stopped after it */
	int interactive;     /* exec: send back the value of a final expression */
	int shutdown_after;  /* __SHUTDOWN__: stop the worker gracefully after it */
	double timeout;      /* seconds it may run; 0: the hook's request_timeout */
	double deadline;     /* seconds from now by which it must be done; 0: none */
	const char *path;    /* the file the code is from (__file__, sys.path[0]); or NULL */
	const char *cwd;     /* the client's working directory for the run; or NULL */
	json_t *argv;        /* sys.argv for the run (borrowed); or NULL */
	json_t *modules;     /* reload: the module or package names (borrowed) */
	int purge;           /* reload: purge rather than re-execute */
	json_t *client_id;   /* the id the client gave (borrowed), or NULL (raw mode) */
	const char *session; /* the debug session whose worker runs it; NULL: any worker */
	/* debug: where the worker's debugger connects, and the tokens each end proves */
	const char *debug_host;
	int debug_port;
	const char *debug_token;        /* what the debugging client must present */
	const char *debug_client_token; /* what the debugger presents to the client */
};

/* A request is opaque: its state changes only through the transitions
 * below, each owned by one party.
 *
 *   request_new ──► (owner's list) ──request_queue (pool)──► QUEUED
 *   QUEUED ──request_start (worker)──► RUNNING
 *   QUEUED/RUNNING ──request_finish/request_fail──► DONE: the sink's done()
 *   request_unqueue (pool): QUEUED, out of the pool again (a reload moves it)
 *   request_orphan (connection): the client is gone; the result is dropped
 *
 * The connection that made it owns it until request_queue; the pool while
 * it is queued and running; the sink frees it in done(), or request_finish
 * does when it is orphaned. */
struct request *request_new(const struct request_spec *spec, const struct request_sink *sink,
                            void *sink_data);
void request_free(struct request *r);

/* How many requests exist (made and not yet freed), and a function that
 * request_free calls when it frees the last of them: the daemon has nothing
 * to do then. One hook for the process, as there is one loop; NULL: none. */
size_t request_live(void);
void request_on_last_freed(void (*fn)(void *data), void *data);

/* The pool took r into its queue. */
void request_queue(struct request *r, struct pool *p);

/* The pool took r out of its queue without finishing it (to give it to
 * another pool, or to free it). */
void request_unqueue(struct request *r);

/* Worker w runs r now. */
void request_start(struct request *r, struct worker *w);

/* The client is gone: nothing is told of r any more, and it is freed when
 * it is done. */
void request_orphan(struct request *r);

/* Hotloading: what r must reload before it runs (each owned, or NULL):
 * the changed files, or the roots to poll; strategy "reload" or "purge". */
void request_set_reload(struct request *r, const char *strategy, json_t *changed,
                        json_t *poll_roots);

enum request_op request_op(const struct request *r);
enum request_state request_state(const struct request *r);
struct pool *request_pool(const struct request *r);     /* while queued or running */
struct worker *request_worker(const struct request *r); /* while running */
void *request_sink_data(const struct request *r);
size_t request_code_len(const struct request *r);
double request_timeout(const struct request *r);
double request_deadline(const struct request *r);      /* seconds; 0: none */
uint64_t request_deadline_ns(const struct request *r); /* uv_hrtime(); 0: none */
uint64_t request_started_ns(const struct request *r);  /* when it started running */
/* Its worker answered it (the agent's done) now: how long that took is
 * the done's duration_ms, which request_duration_ms gives (1; 0 for a
 * request that ended without its worker's answer). */
void request_ran(struct request *r);
int request_duration_ms(const struct request *r, double *ret_ms);
int request_shutdown_after(const struct request *r);
json_t *request_client_id(const struct request *r);    /* borrowed; JSON null in raw mode */
const char *request_client_id_json(struct request *r); /* that, serialised */
uint64_t request_code_hash(struct request *r);         /* of op and code, made on first use */
const char *request_session(const struct request *r);  /* NULL: any worker */
int request_isolated(const struct request *r);

/* Tell the client r waits for its target ("starting", "backoff",
 * "queued"), if it listens for that. */
void request_waiting(struct request *r, const char *state);

/* The lists requests are kept in: a connection's own (request_owner_*)
 * and a pool's queue (request_queue_*), linked through the request. */
TAILQ_HEAD(request_list, request);
void request_owner_append(struct request_list *l, struct request *r);
void request_owner_remove(struct request_list *l, struct request *r);
struct request *request_owner_next(const struct request *r);
void request_queue_append(struct request_list *l, struct request *r);
void request_queue_remove(struct request_list *l, struct request *r);
struct request *request_queue_next(const struct request *r);

const char *request_op_name(enum request_op op);

/* The line for the agent, appended to line (no newline): {"id": id, "op":
 * …, "code_bytes": N, …}. The code is not in it: its N bytes follow the
 * line as they are (the agent protocol's payload), so that a script costs
 * its bytes, not a JSON encoding and decoding of them; *ret_code points at
 * them (r's own) and *ret_len is N, 0 for an op without code. */
void request_agent_line(const struct request *r, uint64_t id, struct buf *line,
                        const char **ret_code, size_t *ret_len);

/* Hand output to the client, if it is still there. Returns 1 when the
 * client is congested. */
int request_output(struct request *r, int fd, const char *data, size_t len);

/* Hand an event of the agent's ("reloaded") to the client, if it takes them. */
void request_event(struct request *r, json_t *msg);

/* Whether nobody will hear the result: the client left before it ran. */
int request_client_gone(struct request *r);

/* Finish with a result made by the daemon (not the agent). */
void request_fail(struct request *r, const char *type, const char *message);

/* Finish with result (borrowed). */
void request_finish(struct request *r, json_t *result);

/* The client drained its backlog: read the worker's output again. */
void request_resume_output(struct request *r);

/* Build {"ok": false, "error": {"type", "message"}} (new reference). */
json_t *request_error_json(const char *type, const char *message);

#endif
