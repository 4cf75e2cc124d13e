/* jsonreq.h - one JSON-mode request line, checked and taken apart */
#ifndef HOTLOAD_JSONREQ_H
#define HOTLOAD_JSONREQ_H

#include <jansson.h>
#include <stddef.h>

struct buf;

enum jsonreq_op {
	JSONREQ_EXEC,
	JSONREQ_EVAL,
	JSONREQ_RESET,
	JSONREQ_PING,
	JSONREQ_RELOAD,
	JSONREQ_DEBUG,
	JSONREQ_INTERRUPT,
	JSONREQ_CONTROL, /* parsed with JSONREQ_ANY_OP: the op was not looked at */
};

/* jsonreq_parse() flags */
#define JSONREQ_ANY_OP 0x1u /* a control connection's line: check only the envelope */

/* A well-formed request. The pointers point into msg and live as long as
 * it does: until jsonreq_done(). An interrupt sets only msg, id, op and
 * target; a control line only msg, id and op. */
struct jsonreq {
	json_t *msg; /* the request object (owned) */
	json_t *id;  /* its "id": any JSON value, null included */
	enum jsonreq_op op;
	const char *code; /* "code", code_len bytes; NULL unless a string (exec, eval: always,
	                   * unless framed) */
	size_t code_len;
	int framed;       /* the request has a "code_bytes" member */
	const char *file; /* "file"; NULL when absent or null: the agent's default */
	int fresh;        /* "ns": "fresh" */
	int isolated;     /* "ns": "isolated" */
	int interactive;  /* "interactive": true (exec): a final expression's value */
	double timeout;   /* "timeout" in seconds, in (0, REQUEST_TIMEOUT_MAX]; 0: none */
	double deadline;  /* "deadline": seconds from now it may wait and run in all; 0: none */
	const char *path; /* "path": the file the code was read from; NULL: none */
	const char *cwd;  /* "cwd": the client's working directory; NULL: none */
	json_t *argv;     /* "argv": an array of strings for sys.argv; NULL: none */
	json_t *modules;  /* reload: "modules", a non-empty array of names */
	int purge;        /* reload: "strategy": "purge" */
	json_t *target;   /* interrupt: "request", the id to interrupt; NULL: every one */
	const char *
	        session; /* "session": the debug session to run in; NULL: none (debug: "default") */
	const char *debug_host; /* debug: "host", a loopback address; "127.0.0.1" when absent */
	int debug_port;         /* debug: "port" */
	const char *debug_token,
	        *debug_client_token; /* debug: "access_token", "client_access_token" */
};

#define JSONREQ_SESSION_MAX 64 /* bytes of a session name */
#define JSONREQ_TOKEN_MIN 16   /* characters of a debug token */
#define JSONREQ_TOKEN_MAX 256

/* Take one request line apart: len bytes, without the newline. On success
 * returns 0 and fills ret (release with jsonreq_done()). On failure returns
 * -EINVAL, appends a one-line reason to err (valid UTF-8, what it quotes
 * of the line with control characters escaped) and sets *err_id to the id to answer with: a new
 * reference, or NULL when the line is not a JSON object with an "id"; ret
 * is untouched. Nothing else is looked at: no connection, pool or server. */
int jsonreq_parse(const char *line, size_t len, unsigned flags, struct jsonreq *ret,
                  json_t **err_id, struct buf *err);

/* jsonreq_parse for a connection that takes code after the line: a
 * request's "code_bytes": N (instead of "code") says that N bytes of code
 * follow the line's newline. *ret_payload is set to N whenever the line is
 * a JSON object with a valid "code_bytes" (0 without one), also when the
 * request is refused for another reason, so that the caller can skip the
 * bytes and find the next line; ret->code stays NULL for the caller to
 * point at them. A "code_bytes" that is not an integer from 0 to max_bytes
 * returns -EPROTO with the reason: where the next request starts is not
 * known then. So does a line that is not valid JSON and may have a
 * "code_bytes" (it holds the name, spelt out or with \u escapes).
 * Not with JSONREQ_ANY_OP. */
int jsonreq_parse_framed(const char *line, size_t len, unsigned flags, size_t max_bytes,
                         size_t *ret_payload, struct jsonreq *ret, json_t **err_id,
                         struct buf *err);

/* Release what req holds; accepts a zeroed one and one already done. */
void jsonreq_done(struct jsonreq *req);

#endif
