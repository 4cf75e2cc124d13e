/* jsonreq.c - one JSON-mode request line, checked and taken apart */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "header.h"
#include "jsonreq.h"
#include "utf8.h"

/* The op named op, for the ops a worker runs; -EINVAL when unknown. */
static int
parse_op(const char *op, enum jsonreq_op *ret)
{
	static const struct {
		const char *name;
		enum jsonreq_op op;
	} ops[] = {{"exec", JSONREQ_EXEC}, {"eval", JSONREQ_EVAL},     {"reset", JSONREQ_RESET},
	           {"ping", JSONREQ_PING}, {"reload", JSONREQ_RELOAD}, {"debug", JSONREQ_DEBUG}};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i].name)) {
			*ret = ops[i].op;
			return 0;
		}
	return -EINVAL;
}

/* Append s to err as valid UTF-8 on one line: an invalid byte becomes
 * U+FFFD, a control character \n, \t, \r or \xNN. For what a reason quotes
 * of the client's bytes: jansson's token, an op name. */
static void
append_quoted(struct buf *err, const char *s)
{
	struct utf8_carry carry = {{0}, 0};
	struct buf text = BUF_INIT;
	size_t i;

	utf8_repair(&carry, s, strlen(s), &text);
	utf8_finish(&carry, &text);
	for (i = 0; i < text.len; i++) {
		unsigned char c = (unsigned char)text.data[i];

		if (c >= 0x20 && c != 0x7f)
			buf_append(err, &text.data[i], 1);
		else if (c == '\n')
			buf_puts(err, "\\n");
		else if (c == '\t')
			buf_puts(err, "\\t");
		else if (c == '\r')
			buf_puts(err, "\\r");
		else
			buf_printf(err, "\\x%02x", c);
	}
	buf_free(&text);
}

/* Whether s is 1 to max characters of [A-Za-z0-9._-] (dots: allow_dot). */
static int
is_name(const char *s, size_t min, size_t max, int allow_dot)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      (allow_dot && ch == '.')))
			return 0;
	}
	return 1;
}

/* The members of a request that anything looks at, found in one pass over
 * the object: most requests have three or four members, and a hash lookup
 * for each name that may be there cost more than taking the request
 * apart. Members of other names are ignored, as they always were. */
struct fields {
	json_t *id, *op, *code, *code_bytes, *file, *ns, *timeout, *deadline, *path, *cwd, *argv,
	        *session, *interactive, *modules, *strategy, *request, *host, *port, *access_token,
	        *client_access_token;
};

static void
gather_fields(json_t *msg, struct fields *f)
{
	static const struct {
		const char *name;
		size_t at;
	} names[] = {
	        {"id", offsetof(struct fields, id)},
	        {"op", offsetof(struct fields, op)},
	        {"code", offsetof(struct fields, code)},
	        {"code_bytes", offsetof(struct fields, code_bytes)},
	        {"file", offsetof(struct fields, file)},
	        {"ns", offsetof(struct fields, ns)},
	        {"timeout", offsetof(struct fields, timeout)},
	        {"deadline", offsetof(struct fields, deadline)},
	        {"path", offsetof(struct fields, path)},
	        {"cwd", offsetof(struct fields, cwd)},
	        {"argv", offsetof(struct fields, argv)},
	        {"session", offsetof(struct fields, session)},
	        {"interactive", offsetof(struct fields, interactive)},
	        {"modules", offsetof(struct fields, modules)},
	        {"strategy", offsetof(struct fields, strategy)},
	        {"request", offsetof(struct fields, request)},
	        {"host", offsetof(struct fields, host)},
	        {"port", offsetof(struct fields, port)},
	        {"access_token", offsetof(struct fields, access_token)},
	        {"client_access_token", offsetof(struct fields, client_access_token)},
	};
	const char *key;
	size_t key_len, i;
	json_t *value;

	memset(f, 0, sizeof(*f));
	json_object_keylen_foreach(msg, key, key_len, value)
	{
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (key[0] == names[i].name[0] && key_len == strlen(names[i].name) &&
			    !memcmp(key, names[i].name, key_len)) {
				*(json_t **)((char *)f + names[i].at) = value;
				break;
			}
	}
}

/* The fields of op debug: where the worker's debugger connects (a port on
 * an IPv4 loopback address: the debugger runs code for whoever it talks
 * to) and the two tokens its connection is authenticated with. */
static int
parse_debug(const struct fields *f, struct jsonreq *q, struct buf *err)
{
	json_t *host = f->host, *port = f->port;
	const char *names[] = {"access_token", "client_access_token"};
	json_t *given[] = {f->access_token, f->client_access_token};
	const char *tokens[2];
	struct in_addr a;
	size_t i;

	if (host && !json_is_null(host) &&
	    (!json_is_string(host) || inet_pton(AF_INET, json_string_value(host), &a) != 1 ||
	     (ntohl(a.s_addr) >> 24) != 127)) {
		buf_puts(err, "field 'host' must be an IPv4 loopback address (127.0.0.1)");
		return -EINVAL;
	}
	if (!json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535) {
		buf_puts(err, "op 'debug' needs field 'port' (the TCP port on 127.0.0.1 the "
		              "worker's debugger connects to, 1 to 65535)");
		return -EINVAL;
	}
	for (i = 0; i < 2; i++) {
		tokens[i] = json_string_value(given[i]);
		if (!tokens[i] || !is_name(tokens[i], JSONREQ_TOKEN_MIN, JSONREQ_TOKEN_MAX, 0)) {
			buf_printf(err,
			           "op 'debug' needs field '%s' (%d to %d characters of A-Z, a-z, "
			           "0-9, - and _)",
			           names[i], JSONREQ_TOKEN_MIN, JSONREQ_TOKEN_MAX);
			return -EINVAL;
		}
	}
	q->debug_host = json_is_string(host) ? json_string_value(host) : "127.0.0.1";
	q->debug_port = (int)json_integer_value(port);
	q->debug_token = tokens[0];
	q->debug_client_token = tokens[1];
	return 0;
}

/* Check the fields of a request for a worker (msg is an object) and fill
 * q from them; -EINVAL with a reason in err when one is wrong. */
static int
parse_fields(const struct fields *f, int framed, struct jsonreq *q, struct buf *err)
{
	const char *opname = json_string_value(f->op);
	json_t *code = f->code, *file = f->file, *ns = f->ns, *timeout = f->timeout;
	json_t *deadline = f->deadline, *path = f->path, *cwd = f->cwd, *argv = f->argv, *arg;
	json_t *session = f->session, *interactive = f->interactive;
	size_t i;

	if (!opname) {
		buf_puts(err, "missing field 'op' (a string: exec, eval, reset, ping, reload, "
		              "debug, interrupt)");
		return -EINVAL;
	}
	if (parse_op(opname, &q->op) < 0) {
		buf_puts(err, "unknown op '");
		append_quoted(err, opname);
		buf_puts(err, "' (known: exec, eval, reset, ping, reload, debug, interrupt)");
		return -EINVAL;
	}
	if (framed && code) {
		buf_puts(err, "a request has field 'code' or 'code_bytes', not both");
		return -EINVAL;
	}
	if ((q->op == JSONREQ_EXEC || q->op == JSONREQ_EVAL) && !json_is_string(code) && !framed) {
		buf_printf(err, "op '%s' needs field 'code' (a string, or 'code_bytes')", opname);
		return -EINVAL;
	}
	if (q->op == JSONREQ_RELOAD) {
		json_t *modules = f->modules, *m, *strategy = f->strategy;
		int ok = json_is_array(modules) && json_array_size(modules) > 0;

		json_array_foreach(modules, i, m) ok =
		        ok && json_is_string(m) && json_string_length(m) > 0;
		if (!ok) {
			buf_puts(err,
			         "op 'reload' needs field 'modules' (a list of module or package "
			         "names, like [\"mytools\"])");
			return -EINVAL;
		}
		if (strategy && !json_is_null(strategy) &&
		    (!json_is_string(strategy) || (strcmp(json_string_value(strategy), "reload") &&
		                                   strcmp(json_string_value(strategy), "purge")))) {
			buf_puts(err, "field 'strategy' must be \"reload\" or \"purge\"");
			return -EINVAL;
		}
		q->modules = modules;
		q->purge =
		        json_is_string(strategy) && !strcmp(json_string_value(strategy), "purge");
	}
	if (session && !json_is_null(session) &&
	    (!json_is_string(session) ||
	     !is_name(json_string_value(session), 1, JSONREQ_SESSION_MAX, 1))) {
		buf_printf(err,
		           "field 'session' must be a debug session's name (1 to %d characters "
		           "of A-Z, a-z, 0-9, ., - and _)",
		           JSONREQ_SESSION_MAX);
		return -EINVAL;
	}
	if (q->op == JSONREQ_DEBUG && parse_debug(f, q, err) < 0)
		return -EINVAL;
	if (file && !json_is_string(file) && !json_is_null(file)) {
		buf_puts(err, "field 'file' must be a string");
		return -EINVAL;
	}
	if (timeout && !json_is_null(timeout) &&
	    (!json_is_number(timeout) || !(json_number_value(timeout) > 0) ||
	     json_number_value(timeout) > REQUEST_TIMEOUT_MAX)) {
		buf_puts(err,
		         "field 'timeout' must be a number of seconds above 0 and at most 1e9");
		return -EINVAL;
	}
	if (deadline && !json_is_null(deadline) &&
	    (!json_is_number(deadline) || !(json_number_value(deadline) > 0) ||
	     json_number_value(deadline) > REQUEST_TIMEOUT_MAX)) {
		buf_puts(err,
		         "field 'deadline' must be a number of seconds above 0 and at most 1e9");
		return -EINVAL;
	}
	if (path && !json_is_null(path) &&
	    (!json_is_string(path) || json_string_value(path)[0] != '/')) {
		buf_puts(err, "field 'path' must be an absolute path (a string starting with /)");
		return -EINVAL;
	}
	if (cwd && !json_is_null(cwd) &&
	    (!json_is_string(cwd) || json_string_value(cwd)[0] != '/')) {
		buf_puts(err, "field 'cwd' must be an absolute path (a string starting with /)");
		return -EINVAL;
	}
	if (argv && !json_is_null(argv)) {
		int ok = json_is_array(argv);

		json_array_foreach(argv, i, arg) ok = ok && json_is_string(arg);
		if (!ok) {
			buf_puts(err, "field 'argv' must be an array of strings");
			return -EINVAL;
		}
	}
	if (ns && !json_is_null(ns) &&
	    (!json_is_string(ns) ||
	     (strcmp(json_string_value(ns), "main") && strcmp(json_string_value(ns), "fresh") &&
	      strcmp(json_string_value(ns), "isolated")))) {
		buf_puts(err, "field 'ns' must be \"main\", \"fresh\" or \"isolated\"");
		return -EINVAL;
	}
	if (interactive && !json_is_null(interactive) && !json_is_boolean(interactive)) {
		buf_puts(err, "field 'interactive' must be true or false");
		return -EINVAL;
	}
	/* A reset or ping keeps a "code" string it was given: the request's
	 * hash (which requests crash workers) has always included it. */
	if (json_is_string(code)) {
		q->code = json_string_value(code);
		q->code_len = json_string_length(code);
	}
	q->file = json_string_value(file); /* NULL unless a string */
	q->fresh = json_is_string(ns) && !strcmp(json_string_value(ns), "fresh");
	q->isolated = json_is_string(ns) && !strcmp(json_string_value(ns), "isolated");
	q->interactive = q->op == JSONREQ_EXEC && json_is_true(interactive);
	q->timeout = json_is_number(timeout) ? json_number_value(timeout) : 0;
	q->deadline = json_is_number(deadline) ? json_number_value(deadline) : 0;
	q->path = json_string_value(path);
	q->cwd = json_string_value(cwd);
	q->argv = json_is_array(argv) ? argv : NULL;
	q->session = json_string_value(session);
	if (q->isolated && q->session) {
		buf_puts(err, "field 'ns' \"isolated\" runs the code in a worker of its own, not "
		              "a debug session's");
		return -EINVAL;
	}
	if (q->op == JSONREQ_DEBUG && !q->session)
		q->session = "default";
	return 0;
}

/* How many bytes at p spell the ASCII character c in a JSON string: c
 * itself, or its \u escape ("\u005f" or "\u005F" for '_'); 0 if neither. */
static size_t
spelt(const char *p, size_t left, char c)
{
	static const char hex[] = "0123456789abcdef";

	if (left >= 1 && p[0] == c)
		return 1;
	if (left >= 6 && p[0] == '\\' && p[1] == 'u' && p[2] == '0' && p[3] == '0' &&
	    (p[4] | 0x20) == hex[(unsigned char)c >> 4] && (p[5] | 0x20) == hex[c & 15])
		return 6;
	return 0;
}

/* Whether a line that is not valid JSON may have a member code_bytes: it
 * holds the name, spelt out or with escapes ("code\u005fbytes"). Such a
 * line may be followed by code, which must not be read as the next
 * requests, and its count cannot be read, so the connection cannot go on. */
static int
may_name_code_bytes(const char *line, size_t len)
{
	static const char name[] = "code_bytes";
	size_t i, j, at, n;

	for (i = 0; i < len; i++) {
		for (j = 0, at = i; name[j] && (n = spelt(line + at, len - at, name[j])) > 0; j++)
			at += n;
		if (!name[j])
			return 1;
	}
	return 0;
}

/* Take one request line apart; see jsonreq.h. The checks and their order
 * are the protocol's: the first one that fails is the one reported. */
int
jsonreq_parse(const char *line, size_t len, unsigned flags, struct jsonreq *ret, json_t **err_id,
              struct buf *err)
{
	return jsonreq_parse_framed(line, len, flags, 0, NULL, ret, err_id, err);
}

int
jsonreq_parse_framed(const char *line, size_t len, unsigned flags, size_t max_bytes,
                     size_t *ret_payload, struct jsonreq *ret, json_t **err_id, struct buf *err)
{
	struct jsonreq q;
	json_error_t jerr;
	json_t *bad_id = NULL, *code_bytes = NULL;
	struct fields f;
	const char *opname;
	int rc = -EINVAL;

	assert(!ret_payload || !(flags & JSONREQ_ANY_OP));
	if (ret_payload)
		*ret_payload = 0;

	memset(&q, 0, sizeof(q));
	q.msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!q.msg) {
		/* jansson quotes the token it stopped at as it is: invalid
		 * UTF-8, cut inside a character, a newline. The reason travels
		 * back in a JSON string, which must be UTF-8, or no answer can
		 * be made at all. */
		buf_printf(err, "invalid JSON at column %d: ", jerr.column);
		append_quoted(err, jerr.text);
		if (ret_payload && may_name_code_bytes(line, len)) {
			buf_puts(err, "; the line may give code_bytes, so where the next "
			              "request starts is not known");
			rc = -EPROTO;
		}
		goto fail;
	}
	if (!json_is_object(q.msg)) {
		buf_puts(err, "a request must be a JSON object");
		goto fail;
	}
	gather_fields(q.msg, &f);
	q.framed = f.code_bytes != NULL;
	if (ret_payload && (code_bytes = f.code_bytes)) {
		json_int_t n = json_integer_value(code_bytes);

		if (!json_is_integer(code_bytes) || n < 0 || (uint64_t)n > max_bytes) {
			if (json_is_integer(code_bytes) && n >= 0) /* a file too large to send */
				buf_printf(err,
				           "the code is %lld bytes, more than the %zu that "
				           "limits.max_payload leaves after its request line",
				           (long long)n, max_bytes);
			else
				buf_printf(err,
				           "field 'code_bytes' must be the number of bytes of code "
				           "after the line, from 0 to %zu (limits.max_payload less "
				           "the line)",
				           max_bytes);
			bad_id = json_incref(f.id);
			rc = -EPROTO;
			goto fail;
		}
		*ret_payload = (size_t)n;
	}
	q.id = f.id;
	if (!q.id) {
		buf_puts(err, "missing field 'id'");
		goto fail;
	}
	opname = json_string_value(f.op);
	if (flags & JSONREQ_ANY_OP) {
		q.op = JSONREQ_CONTROL;
	} else if (opname && !strcmp(opname, "interrupt")) {
		/* Nothing else of an interrupt is looked at. */
		q.op = JSONREQ_INTERRUPT;
		q.target = f.request;
	} else if (parse_fields(&f, code_bytes != NULL, &q, err) < 0) {
		bad_id = json_incref(q.id);
		goto fail;
	}
	*ret = q; /* takes ownership of q.msg */
	return 0;
fail:
	*err_id = bad_id;
	json_decref(q.msg);
	return rc;
}

/* Release the request object req holds and forget its pointers. */
void
jsonreq_done(struct jsonreq *req)
{
	json_decref(req->msg);
	memset(req, 0, sizeof(*req));
}
