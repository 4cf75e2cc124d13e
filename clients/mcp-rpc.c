/* mcp-rpc.c - JSON-RPC 2.0 messages of the MCP server, the protocol
 * revision, output limits */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "mcp-rpc.h"
#include "utf8.h"

/* Newest first: what an initialize asking for something else gets. */
const char *const mcprpc_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                       NULL};

/* Fill m as invalid, with code and why. */
static void
set_invalid(struct mcprpc_msg *m, int code, const char *why)
{
	m->kind = MCPRPC_INVALID;
	m->error_code = code;
	snprintf(m->error, sizeof(m->error), "%s", why);
}

/* Take one message line apart; see mcp-rpc.h. */
void
mcprpc_parse(const char *line, size_t len, struct mcprpc_msg *ret)
{
	json_error_t jerr;
	json_t *v, *id, *method, *params;

	memset(ret, 0, sizeof(*ret));
	v = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!v) {
		ret->kind = MCPRPC_INVALID;
		ret->error_code = MCPRPC_PARSE_ERROR;
		snprintf(ret->error, sizeof(ret->error), "parse error: %.100s (column %d)",
		         jerr.text, jerr.column);
		return;
	}
	ret->msg = v;
	if (json_is_array(v)) {
		set_invalid(ret, MCPRPC_INVALID_REQUEST,
		            "batches are not supported: send one message per line");
		return;
	}
	if (!json_is_object(v)) {
		set_invalid(ret, MCPRPC_INVALID_REQUEST, "a message must be a JSON object");
		return;
	}
	id = json_object_get(v, "id");
	/* The id is kept for the answer only when it is one an answer can
	 * carry; MCP allows no null id. */
	if (id && (json_is_string(id) || json_is_integer(id)))
		ret->id = id;
	if (!json_is_string(json_object_get(v, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(v, "jsonrpc")), "2.0") != 0) {
		set_invalid(ret, MCPRPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
		return;
	}
	if (id && !ret->id) {
		set_invalid(ret, MCPRPC_INVALID_REQUEST, "\"id\" must be a string or an integer");
		return;
	}
	method = json_object_get(v, "method");
	if (!method) {
		if (id && (json_object_get(v, "result") || json_object_get(v, "error"))) {
			ret->kind = MCPRPC_RESPONSE;
			return;
		}
		set_invalid(ret, MCPRPC_INVALID_REQUEST, "a request needs a \"method\"");
		return;
	}
	if (!json_is_string(method) || !json_string_length(method)) {
		set_invalid(ret, MCPRPC_INVALID_REQUEST, "\"method\" must be a non-empty string");
		return;
	}
	params = json_object_get(v, "params");
	if (params && !json_is_object(params)) {
		/* JSON-RPC allows arrays; no MCP method takes one. */
		set_invalid(ret, MCPRPC_INVALID_REQUEST, "\"params\" must be an object");
		return;
	}
	ret->method = json_string_value(method);
	ret->params = params;
	ret->kind = id ? MCPRPC_REQUEST : MCPRPC_NOTIFICATION;
}

/* Release what m holds; accepts a zeroed one. */
void
mcprpc_msg_done(struct mcprpc_msg *m)
{
	json_decref(m->msg);
	memset(m, 0, sizeof(*m));
}

/* A result answer; takes result. */
json_t *
mcprpc_result(json_t *id, json_t *result)
{
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

/* An error answer. Without an id (a line that is not JSON) it has none:
 * MCP's schema (2025-11-25) makes it optional and allows no null id,
 * where plain JSON-RPC would say null. */
json_t *
mcprpc_error(json_t *id, int code, const char *message)
{
	json_t *m = json_pack("{s:s, s:{s:i, s:s}}", "jsonrpc", "2.0", "error", "code", code,
	                      "message", message);

	if (id)
		json_object_set(m, "id", id);
	return m;
}

/* A notification; takes params. */
json_t *
mcprpc_notification(const char *method, json_t *params)
{
	return json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params);
}

/* The revision to answer; see mcp-rpc.h. The lifecycle says: the version
 * asked for when the server supports it, else the latest it supports
 * (the client then decides whether it can go on). */
const char *
mcprpc_negotiate(const char *requested)
{
	size_t i;

	for (i = 0; requested && mcprpc_versions[i]; i++)
		if (!strcmp(requested, mcprpc_versions[i]))
			return mcprpc_versions[i];
	return mcprpc_versions[0];
}

void
mcprpc_out_init(struct mcprpc_out *o, size_t max)
{
	memset(o, 0, sizeof(*o));
	o->max = max;
}

void
mcprpc_out_free(struct mcprpc_out *o)
{
	buf_free(&o->kept);
}

/* Keep what fits; see mcp-rpc.h. The daemon sends whole characters (it
 * joins a character split between two reads), so a cut between two
 * chunks falls between characters; within one chunk it backs off to the
 * start of the character that does not fit. */
void
mcprpc_out_add(struct mcprpc_out *o, const char *data, size_t len)
{
	size_t room = o->kept.len < o->max ? o->max - o->kept.len : 0, take = len;

	if (o->dropped)
		room = 0; /* once cut, what follows would not join up */
	if (take > room) {
		take = room;
		while (take > 0 && ((unsigned char)data[take] & 0xc0) == 0x80)
			take--;
	}
	buf_append(&o->kept, data, take);
	o->dropped += len - take;
}

/* The kept text with the note; see mcp-rpc.h. */
json_t *
mcprpc_out_json(const struct mcprpc_out *o, const char *name)
{
	struct buf b = BUF_INIT;
	json_t *v;

	buf_append(&b, o->kept.data ? o->kept.data : "", o->kept.len);
	if (o->dropped)
		buf_printf(
		        &b, "%s[hotloadctl mcp: %zu more bytes of %s dropped; the limit is %zu]\n",
		        b.len && b.data[b.len - 1] != '\n' ? "\n" : "", o->dropped, name, o->max);
	v = json_stringn(b.data ? b.data : "", b.len);
	if (!v) /* not UTF-8: cannot happen with the daemon's output */
		v = json_string("");
	buf_free(&b);
	return v;
}

/* Whether target is on the allow-list; see mcp-rpc.h. */
int
mcprpc_target_allowed(const char *const *targets, size_t n, const char *target)
{
	size_t i;

	if (!n)
		return 1;
	for (i = 0; i < n; i++)
		if (!strcmp(targets[i], target))
			return 1;
	return 0;
}
