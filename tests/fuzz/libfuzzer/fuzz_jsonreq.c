/* fuzz_jsonreq.c - libFuzzer: jsonreq_parse(), as a JSON-mode and a control line */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "fuzzcheck.h"
#include "header.h"
#include "jsonreq.h"
#include "utf8.h"

/* What conn-json.c sends back: the done of a refused request and the id
 * of an accepted one, serialised. Neither may fail to be made. */
static void
check_replies(json_t *id, const char *message)
{
	json_t *m = json_pack("{s:O, s:s, s:b, s:{s:s, s:s}}", "id", id ? id : json_null(), "event",
	                      "done", "ok", 0, "error", "type", "BadRequest", "message",
	                      message ? message : "");
	char *s;

	FUZZ_CHECK(m != NULL);
	s = json_dumps(m, JSON_COMPACT);
	FUZZ_CHECK(s != NULL);
	free(s);
	json_decref(m);
	if (id) {
		s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
		FUZZ_CHECK(s != NULL);
		free(s);
	}
}

/* What a parsed request promises. */
static void
check_request(const struct jsonreq *q, unsigned flags)
{
	json_t *code = json_object_get(q->msg, "code");
	json_t *file = json_object_get(q->msg, "file");

	FUZZ_CHECK(json_is_object(q->msg));
	FUZZ_CHECK(q->id && q->id == json_object_get(q->msg, "id"));
	if (flags & JSONREQ_ANY_OP) {
		FUZZ_CHECK(q->op == JSONREQ_CONTROL);
		return;
	}
	if (q->op == JSONREQ_INTERRUPT) {
		FUZZ_CHECK(!strcmp(json_string_value(json_object_get(q->msg, "op")), "interrupt"));
		FUZZ_CHECK(q->target == json_object_get(q->msg, "request"));
		FUZZ_CHECK(!q->code && !q->file && !q->fresh && !q->timeout);
		return;
	}
	FUZZ_CHECK(q->op == JSONREQ_EXEC || q->op == JSONREQ_EVAL || q->op == JSONREQ_RESET ||
	           q->op == JSONREQ_PING);
	FUZZ_CHECK(!q->target);
	if (q->op == JSONREQ_EXEC || q->op == JSONREQ_EVAL)
		FUZZ_CHECK(q->code != NULL);
	if (q->code) {
		FUZZ_CHECK(q->code == json_string_value(code));
		FUZZ_CHECK(q->code_len == json_string_length(code));
		FUZZ_CHECK(strlen(q->code) == q->code_len); /* no NUL: jansson refuses \u0000 */
	} else {
		FUZZ_CHECK(!json_is_string(code) && q->code_len == 0);
	}
	FUZZ_CHECK(q->file == json_string_value(file));
	FUZZ_CHECK(q->fresh == 0 || q->fresh == 1);
	FUZZ_CHECK(q->timeout == 0 || (q->timeout > 0 && q->timeout <= REQUEST_TIMEOUT_MAX));
}

/* Parse with flags; returns the result, the reason in err and the id to
 * answer with in *ret_id (a reference the caller drops) on failure. */
static int
parse(const char *line, size_t len, unsigned flags, json_t **ret_id, struct buf *err)
{
	static const unsigned char canary = 0xa5;
	struct jsonreq q, orig;
	json_t *bad_id = (json_t *)&canary;
	size_t i;
	int r;

	memset(&q, canary, sizeof(q));
	orig = q;
	r = jsonreq_parse(line, len, flags, &q, &bad_id, err);
	if (r == 0) {
		FUZZ_CHECK(bad_id == (json_t *)&canary && err->len == 0);
		check_request(&q, flags);
		check_replies(q.id, NULL);
		jsonreq_done(&q);
		FUZZ_CHECK(!q.msg);
		*ret_id = NULL;
		return 0;
	}
	FUZZ_CHECK(r == -EINVAL);
	FUZZ_CHECK(!memcmp(&q, &orig, sizeof(q))); /* untouched on failure */
	FUZZ_CHECK(bad_id != (json_t *)&canary);
	FUZZ_CHECK(err->len > 0 && strlen(err->data) == err->len);
	FUZZ_CHECK(utf8_valid_len(err->data, err->len) == err->len); /* it goes back as JSON */
	for (i = 0; i < err->len; i++) /* one line, and no terminal escapes */
		FUZZ_CHECK((unsigned char)err->data[i] >= 0x20 && err->data[i] != 0x7f);
	check_replies(bad_id, err->data);
	*ret_id = bad_id;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct buf err = BUF_INIT, cerr = BUF_INIT;
	json_t *id, *cid;
	int r, rc;

	r = parse(line, size, 0, &id, &err);
	rc = parse(line, size, JSONREQ_ANY_OP, &cid, &cerr);
	/* A control line is only checked for its envelope: whatever a JSON-mode
	 * connection takes, a control one takes too, and a line refused for its
	 * envelope is refused the same way by both. */
	if (r == 0)
		FUZZ_CHECK(rc == 0);
	if (rc < 0) {
		FUZZ_CHECK(r < 0 && !strcmp(err.data, cerr.data));
		FUZZ_CHECK(!id && !cid);
	}
	/* Refused with the id when, and only when, the envelope was fine. */
	if (r < 0 && rc == 0)
		FUZZ_CHECK(id != NULL);
	json_decref(id);
	json_decref(cid);
	buf_free(&err);
	buf_free(&cerr);
	return 0;
}
