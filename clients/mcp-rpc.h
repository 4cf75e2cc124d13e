/* mcp-rpc.h - the JSON-RPC 2.0 side of hotloadctl's MCP server: one
 * message line taken apart, answers built, the protocol revision agreed
 * on, and output cut to a size a model can take. Nothing here does I/O. */
#ifndef HOTLOAD_MCP_RPC_H
#define HOTLOAD_MCP_RPC_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/* JSON-RPC 2.0 error codes */
#define MCPRPC_PARSE_ERROR (-32700)
#define MCPRPC_INVALID_REQUEST (-32600)
#define MCPRPC_METHOD_NOT_FOUND (-32601)
#define MCPRPC_INVALID_PARAMS (-32602)
#define MCPRPC_INTERNAL_ERROR (-32603)

enum mcprpc_kind {
	MCPRPC_REQUEST,      /* method and id: wants an answer */
	MCPRPC_NOTIFICATION, /* method, no id */
	MCPRPC_RESPONSE,     /* result or error and an id: an answer to us */
	MCPRPC_INVALID,      /* error_code and error say why; id when one was readable */
};

/* One message from the client. */
struct mcprpc_msg {
	enum mcprpc_kind kind;
	json_t *msg;        /* the whole object (owned), NULL when not parsed */
	json_t *id;         /* borrowed from msg: a string or an integer; NULL */
	const char *method; /* borrowed from msg */
	json_t *params;     /* borrowed from msg: an object, or NULL when absent */
	int error_code;     /* MCPRPC_INVALID: MCPRPC_PARSE_ERROR, ..._INVALID_REQUEST */
	char error[160];
};

/* Take one line (without its newline) apart into ret, which is always
 * filled (release with mcprpc_msg_done). */
void mcprpc_parse(const char *line, size_t len, struct mcprpc_msg *ret);

void mcprpc_msg_done(struct mcprpc_msg *m);

/* {"jsonrpc":"2.0","id":id,"result":result}; takes result. */
json_t *mcprpc_result(json_t *id, json_t *result);

/* {"jsonrpc":"2.0","id":id,"error":{code,message}}, without "id" when
 * it is NULL. */
json_t *mcprpc_error(json_t *id, int code, const char *message);

/* {"jsonrpc":"2.0","method":method,"params":params}; takes params. */
json_t *mcprpc_notification(const char *method, json_t *params);

/* The protocol revision to answer an initialize that asks for requested
 * (NULL when it named none): requested itself when we speak it, else the
 * newest we speak. */
const char *mcprpc_negotiate(const char *requested);

/* The revisions we speak, newest first, NULL-terminated. */
extern const char *const mcprpc_versions[];

/* One output stream of a request, kept up to a limit. */
struct mcprpc_out {
	struct buf kept;
	size_t max;     /* bytes kept at most */
	size_t dropped; /* bytes past max, not kept */
};

void mcprpc_out_init(struct mcprpc_out *o, size_t max);
void mcprpc_out_free(struct mcprpc_out *o);

/* Keep what fits of data[0..len) (whole UTF-8 characters only), count
 * the rest as dropped. */
void mcprpc_out_add(struct mcprpc_out *o, const char *data, size_t len);

/* What was kept, with "\n[hotloadctl mcp: N more bytes of NAME dropped]\n"
 * after it when something was dropped: a new string. */
json_t *mcprpc_out_json(const struct mcprpc_out *o, const char *name);

/* Whether target may be used under the allow-list targets[0..n) (n 0:
 * anything): it is one of them exactly. */
int mcprpc_target_allowed(const char *const *targets, size_t n, const char *target);

#endif
