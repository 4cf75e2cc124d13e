/* request.h - one piece of work for a worker, and where its results go */
#ifndef HOTLOAD_REQUEST_H
#define HOTLOAD_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct request;
struct worker;

enum request_op {
	REQUEST_EXEC,
	REQUEST_EVAL,
	REQUEST_RESET,
	REQUEST_PING,
	REQUEST_RELOAD,
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

struct request {
	TAILQ_ENTRY(request) entry; /* in its pool's queue, or its owner's list */
	TAILQ_ENTRY(request) owner_entry;
	enum request_op op;
	enum request_state state;
	char *code;
	size_t code_len;
	char *file;           /* NULL: the agent's default */
	int fresh;            /* ns=fresh */
	int shutdown_after;   /* __SHUTDOWN__: stop the worker gracefully after it */
	double timeout;       /* seconds it may run; 0: the hook's request_timeout */
	uint64_t deadline_ns; /* uv_hrtime() by which it must be done; 0: none */
	double deadline;      /* that, in seconds from when it was made */
	char *path;           /* the file the code is from (__file__, sys.path[0]); or NULL */
	char *cwd;            /* the client's working directory for the run; or NULL */
	json_t *argv;         /* sys.argv for the run (owned); or NULL */
	json_t *modules;      /* reload: the module or package names (owned) */
	int purge;            /* reload: purge rather than re-execute */
	json_t *changed;      /* files changed since the worker's last request (owned), or NULL */
	json_t *poll_roots;   /* watch_mode poll: the roots whose modules to check (owned) */
	const char *reload_strategy; /* the hook's, for changed files: "reload", "purge" */
	uint64_t code_hash;          /* of op and code: which requests crash workers */
	json_t *client_id;           /* the id the client gave, or NULL (raw mode) */
	char *client_id_json;        /* client_id serialised, made on first use */
	uint64_t started_ns;
	struct worker *worker;           /* while running */
	struct pool *pool;               /* while queued or running */
	const struct request_sink *sink; /* NULL once the client is gone */
	void *sink_data;
};

struct request *request_new(enum request_op op, const struct request_sink *sink, void *sink_data);
void request_free(struct request *r);

const char *request_op_name(enum request_op op);

/* The message for the agent: {"id": id, "op": …, "code": …, …}. */
json_t *request_to_agent(const struct request *r, uint64_t id);

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

/* FNV-1a of op and code, to recognise a request that crashes workers. */
uint64_t request_hash(const struct request *r);

/* Build {"ok": false, "error": {"type", "message"}} (new reference). */
json_t *request_error_json(const char *type, const char *message);

#endif
