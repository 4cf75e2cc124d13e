/* test_jsonreq.c - a JSON-mode request line, checked and taken apart */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonreq.h"
#include "utf8.h"

/* Parse a C string with flags, checking that it succeeds. */
static void
parse_ok_flags(const char *line, unsigned flags, struct jsonreq *q)
{
	struct buf err = BUF_INIT;
	json_t *bad_id = (json_t *)&err; /* must stay as it is */
	int r;

	r = jsonreq_parse(line, strlen(line), flags, q, &bad_id, &err);
	ck_assert_msg(r == 0, "'%s' failed: %s", line, err.data ? err.data : "");
	ck_assert_msg(err.len == 0, "a reason on success: %s", err.data);
	ck_assert_ptr_eq(bad_id, (json_t *)&err);
	ck_assert(json_is_object(q->msg));
	ck_assert_ptr_eq(q->id, json_object_get(q->msg, "id"));
	buf_free(&err);
}

/* parse_ok_flags without flags. */
static void
parse_ok(const char *line, struct jsonreq *q)
{
	parse_ok_flags(line, 0, q);
}

/* Parse len bytes with flags, checking that it fails with -EINVAL and
 * exactly the reason want, that ret is left untouched, and that the id to
 * answer with is the integer want_id (0: none, NULL). */
static void
parse_fail_len(const char *line, size_t len, unsigned flags, const char *want, int want_id)
{
	struct jsonreq q, orig;
	struct buf err = BUF_INIT;
	json_t *bad_id = NULL;
	int r;

	memset(&q, 0x5a, sizeof(q));
	orig = q;
	r = jsonreq_parse(line, len, flags, &q, &bad_id, &err);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(err.data && !strcmp(err.data, want), "'%.*s': reason '%s', want '%s'",
	              (int)len, line, err.data ? err.data : "(none)", want);
	ck_assert_msg(memcmp(&q, &orig, sizeof(q)) == 0, "ret was modified on failure");
	if (want_id) {
		ck_assert_msg(json_is_integer(bad_id) && json_integer_value(bad_id) == want_id,
		              "'%.*s': wrong id to answer with", (int)len, line);
		ck_assert_int_eq(bad_id->refcount, 1); /* ours alone: the message is gone */
	} else {
		ck_assert_ptr_null(bad_id);
	}
	json_decref(bad_id);
	buf_free(&err);
}

/* parse_fail_len for a C string without flags. */
static void
parse_fail(const char *line, const char *want, int want_id)
{
	parse_fail_len(line, strlen(line), 0, want, want_id);
}

/* Parse a C string that must fail; the reason must start with prefix. */
static void
parse_fail_prefix(const char *line, const char *prefix)
{
	struct jsonreq q;
	struct buf err = BUF_INIT;
	json_t *bad_id = NULL;

	ck_assert_int_eq(jsonreq_parse(line, strlen(line), 0, &q, &bad_id, &err), -EINVAL);
	ck_assert_msg(err.data && !strncmp(err.data, prefix, strlen(prefix)),
	              "'%s': reason '%s' does not start with '%s'", line,
	              err.data ? err.data : "(none)", prefix);
	ck_assert_ptr_null(bad_id);
	buf_free(&err);
}

START_TEST(test_exec_all_fields)
{
	struct jsonreq q;

	parse_ok("{\"id\":1,\"op\":\"exec\",\"code\":\"print(1)\",\"file\":\"f.py\","
	         "\"ns\":\"fresh\",\"timeout\":2.5}",
	         &q);
	ck_assert_int_eq(q.op, JSONREQ_EXEC);
	ck_assert_int_eq(json_integer_value(q.id), 1);
	ck_assert_str_eq(q.code, "print(1)");
	ck_assert_uint_eq(q.code_len, 8);
	ck_assert_str_eq(q.file, "f.py");
	ck_assert_int_eq(q.fresh, 1);
	ck_assert(q.timeout == 2.5);
	ck_assert_ptr_null(q.target);
	jsonreq_done(&q);
	ck_assert_ptr_null(q.msg);
	ck_assert_ptr_null(q.code);

	/* running a file as python would */
	parse_ok("{\"id\":1,\"op\":\"exec\",\"code\":\"\",\"path\":\"/p/f.py\","
	         "\"cwd\":\"/p\",\"argv\":[\"f.py\",\"a\"],\"deadline\":3}",
	         &q);
	ck_assert_str_eq(q.path, "/p/f.py");
	ck_assert_str_eq(q.cwd, "/p");
	ck_assert_uint_eq(json_array_size(q.argv), 2);
	ck_assert(q.deadline == 3);
	jsonreq_done(&q);
}
END_TEST

START_TEST(test_defaults)
{
	struct jsonreq q;

	parse_ok("{\"id\":\"a\",\"op\":\"eval\",\"code\":\"1+1\"}", &q);
	ck_assert_int_eq(q.op, JSONREQ_EVAL);
	ck_assert_str_eq(json_string_value(q.id), "a");
	ck_assert_ptr_null(q.file);
	ck_assert_int_eq(q.fresh, 0);
	ck_assert(q.timeout == 0);
	jsonreq_done(&q);
	/* null means "not given" for file, ns and timeout */
	parse_ok("{\"id\":null,\"op\":\"exec\",\"code\":\"\",\"file\":null,\"ns\":null,"
	         "\"timeout\":null}",
	         &q);
	ck_assert(json_is_null(q.id));
	ck_assert_str_eq(q.code, "");
	ck_assert_uint_eq(q.code_len, 0);
	ck_assert_ptr_null(q.file);
	ck_assert_int_eq(q.fresh, 0);
	ck_assert(q.timeout == 0);
	jsonreq_done(&q);
	parse_ok("{\"id\":2,\"op\":\"exec\",\"code\":\"x\",\"ns\":\"main\",\"timeout\":7}", &q);
	ck_assert_int_eq(q.fresh, 0);
	ck_assert_int_eq(q.isolated, 0);
	ck_assert(q.timeout == 7);
	jsonreq_done(&q);
	parse_ok("{\"id\":3,\"op\":\"eval\",\"code\":\"x\",\"ns\":\"isolated\"}", &q);
	ck_assert_int_eq(q.fresh, 0);
	ck_assert_int_eq(q.isolated, 1);
	jsonreq_done(&q);
	/* a worker of its own is not a debug session's */
	parse_fail("{\"id\":4,\"op\":\"exec\",\"code\":\"x\",\"ns\":\"isolated\","
	           "\"session\":\"s\"}",
	           "field 'ns' \"isolated\" runs the code in a worker of its own, not a debug "
	           "session's",
	           4);
}
END_TEST

START_TEST(test_other_ops)
{
	struct jsonreq q;

	parse_ok("{\"id\":3,\"op\":\"ping\"}", &q);
	ck_assert_int_eq(q.op, JSONREQ_PING);
	ck_assert_ptr_null(q.code);
	jsonreq_done(&q);
	parse_ok("{\"id\":4,\"op\":\"reset\"}", &q);
	ck_assert_int_eq(q.op, JSONREQ_RESET);
	ck_assert_ptr_null(q.code);
	jsonreq_done(&q);
	/* a code string given to a reset is kept (it is part of the hash) */
	parse_ok("{\"id\":4,\"op\":\"reset\",\"code\":\"ab\"}", &q);
	ck_assert_str_eq(q.code, "ab");
	ck_assert_uint_eq(q.code_len, 2);
	jsonreq_done(&q);
	/* and one that is not a string is ignored */
	parse_ok("{\"id\":4,\"op\":\"ping\",\"code\":5}", &q);
	ck_assert_ptr_null(q.code);
	jsonreq_done(&q);
}
END_TEST

START_TEST(test_code_bytes)
{
	struct jsonreq q;

	/* "é" and a newline: code_len counts UTF-8 bytes */
	parse_ok("{\"id\":1,\"op\":\"exec\",\"code\":\"print('\\u00e9')\\n\"}", &q);
	ck_assert_uint_eq(q.code_len, strlen("print('\xc3\xa9')\n"));
	ck_assert(!memcmp(q.code, "print('\xc3\xa9')\n", q.code_len));
	jsonreq_done(&q);
}
END_TEST

START_TEST(test_interrupt)
{
	struct jsonreq q;

	parse_ok("{\"id\":9,\"op\":\"interrupt\"}", &q);
	ck_assert_int_eq(q.op, JSONREQ_INTERRUPT);
	ck_assert_ptr_null(q.target); /* every request */
	jsonreq_done(&q);
	parse_ok("{\"id\":9,\"op\":\"interrupt\",\"request\":3}", &q);
	ck_assert_int_eq(json_integer_value(q.target), 3);
	jsonreq_done(&q);
	/* null is an id like any other, not "every request" */
	parse_ok("{\"id\":9,\"op\":\"interrupt\",\"request\":null}", &q);
	ck_assert(q.target && json_is_null(q.target));
	jsonreq_done(&q);
	/* nothing else of an interrupt is checked */
	parse_ok("{\"id\":9,\"op\":\"interrupt\",\"timeout\":-1,\"ns\":5,\"file\":[]}", &q);
	ck_assert_int_eq(q.op, JSONREQ_INTERRUPT);
	ck_assert_ptr_null(q.file);
	jsonreq_done(&q);
}
END_TEST

START_TEST(test_control)
{
	struct jsonreq q;

	parse_ok_flags("{\"id\":1,\"op\":\"status\"}", JSONREQ_ANY_OP, &q);
	ck_assert_int_eq(q.op, JSONREQ_CONTROL);
	ck_assert_str_eq(json_string_value(json_object_get(q.msg, "op")), "status");
	jsonreq_done(&q);
	/* no op at all, and what would be an interrupt, go to the control handler */
	parse_ok_flags("{\"id\":1}", JSONREQ_ANY_OP, &q);
	ck_assert_int_eq(q.op, JSONREQ_CONTROL);
	jsonreq_done(&q);
	parse_ok_flags("{\"id\":1,\"op\":\"interrupt\"}", JSONREQ_ANY_OP, &q);
	ck_assert_int_eq(q.op, JSONREQ_CONTROL);
	jsonreq_done(&q);
	/* the envelope is still checked */
	parse_fail_len("[1]", 3, JSONREQ_ANY_OP, "a request must be a JSON object", 0);
	parse_fail_len("{\"op\":\"status\"}", 15, JSONREQ_ANY_OP, "missing field 'id'", 0);
}
END_TEST

/* The texts of itest_limits' bad_requests, exactly. */
START_TEST(test_envelope_errors)
{
	parse_fail_prefix("{\"id\":1,", "invalid JSON at column ");
	parse_fail_prefix("not json at all",
	                  "invalid JSON at column 3: '[' or '{' expected near 'not'");
	parse_fail_prefix("", "invalid JSON at column ");
	parse_fail_prefix("{\"id\":1,\"id\":2,\"op\":\"ping\"}", "invalid JSON at column ");
	parse_fail_prefix("{\"id\":1,\"op\":\"exec\",\"code\":\"\xff\"}",
	                  "invalid JSON at column ");
	parse_fail_prefix("{\"id\":1,\"op\":\"exec\",\"code\":\"\\u0000\"}",
	                  "invalid JSON at column ");
	parse_fail("[1, 2]", "a request must be a JSON object", 0);
	parse_fail("{\"op\":\"ping\"}", "missing field 'id'", 0);
}
END_TEST

/* jansson quotes the bad token cut inside a character; the reason goes
 * back inside a JSON string, so it must be valid UTF-8 all the same. */
START_TEST(test_invalid_json_reason_is_utf8)
{
	static const char line[] = "{\"id\":1,\"file\":\"a\\u\xd2\x8f\xdd\xc0\"}";
	struct buf err = BUF_INIT;
	struct jsonreq q;
	json_t *bad_id = NULL, *m;

	ck_assert_int_eq(jsonreq_parse(line, strlen(line), 0, &q, &bad_id, &err), -EINVAL);
	ck_assert_ptr_null(bad_id);
	ck_assert_str_eq(err.data,
	                 "invalid JSON at column 20: invalid escape near '\"a\\u\xef\xbf\xbd'");
	ck_assert_uint_eq(utf8_valid_len(err.data, err.len), err.len);
	m = json_pack("{s:s}", "message", err.data);
	ck_assert_ptr_nonnull(m);
	json_decref(m);
	buf_free(&err);
	/* a newline in the token it quotes is written \n */
	ck_assert_int_eq(jsonreq_parse("\"\\\n", 3, 0, &q, &bad_id, &err), -EINVAL);
	ck_assert_str_eq(err.data, "invalid JSON at column 0: invalid escape near '\"\\\\n'");
	buf_free(&err);
}
END_TEST

START_TEST(test_field_errors)
{
	static const char *const timeout_msg =
	        "field 'timeout' must be a number of seconds above 0 and at most 1e9";
	static const char *const ns_msg = "field 'ns' must be \"main\", \"fresh\" or \"isolated\"";

	parse_fail(
	        "{\"id\":9}",
	        "missing field 'op' (a string: exec, eval, reset, ping, reload, debug, interrupt)",
	        9);
	parse_fail(
	        "{\"id\":9,\"op\":3}",
	        "missing field 'op' (a string: exec, eval, reset, ping, reload, debug, interrupt)",
	        9);
	parse_fail("{\"id\":5,\"op\":\"frobnicate\"}",
	           "unknown op 'frobnicate' (known: exec, eval, reset, ping, reload, debug, "
	           "interrupt)",
	           5);
	/* what a reason quotes of the line is one line, without escapes */
	parse_fail("{\"id\":5,\"op\":\"a\\nb\\u001b[2J\"}",
	           "unknown op 'a\\nb\\x1b[2J' (known: exec, eval, reset, ping, reload, debug, "
	           "interrupt)",
	           5);
	parse_fail("{\"id\":5,\"op\":\"EXEC\"}",
	           "unknown op 'EXEC' (known: exec, eval, reset, ping, reload, debug, interrupt)",
	           5);
	parse_fail("{\"id\":6,\"op\":\"exec\"}",
	           "op 'exec' needs field 'code' (a string, or 'code_bytes')", 6);
	parse_fail("{\"id\":7,\"op\":\"exec\",\"code\":5}",
	           "op 'exec' needs field 'code' (a string, or 'code_bytes')", 7);
	parse_fail("{\"id\":10,\"op\":\"eval\"}",
	           "op 'eval' needs field 'code' (a string, or 'code_bytes')", 10);
	parse_fail("{\"id\":1,\"op\":\"ping\",\"file\":3}", "field 'file' must be a string", 1);
	parse_fail("{\"id\":1,\"op\":\"ping\",\"timeout\":0}", timeout_msg, 1);
	parse_fail("{\"id\":1,\"op\":\"ping\",\"timeout\":-1}", timeout_msg, 1);
	parse_fail("{\"id\":1,\"op\":\"ping\",\"timeout\":1e10}", timeout_msg, 1);
	parse_fail("{\"id\":1,\"op\":\"ping\",\"timeout\":\"5\"}", timeout_msg, 1);
	parse_fail("{\"id\":1,\"op\":\"ping\",\"timeout\":true}", timeout_msg, 1);
	parse_fail("{\"id\":8,\"op\":\"exec\",\"code\":\"print(1)\",\"ns\":\"weird\"}", ns_msg, 8);
	parse_fail("{\"id\":8,\"op\":\"exec\",\"code\":\"print(1)\",\"ns\":1}", ns_msg, 8);
	parse_fail("{\"id\":8,\"op\":\"exec\",\"code\":\"1\",\"interactive\":1}",
	           "field 'interactive' must be true or false", 8);
	parse_fail("{\"id\":1,\"op\":\"ping\",\"deadline\":0}",
	           "field 'deadline' must be a number of seconds above 0 and at most 1e9", 1);
	parse_fail("{\"id\":1,\"op\":\"exec\",\"code\":\"\",\"path\":\"f.py\"}",
	           "field 'path' must be an absolute path (a string starting with /)", 1);
	parse_fail("{\"id\":1,\"op\":\"exec\",\"code\":\"\",\"cwd\":3}",
	           "field 'cwd' must be an absolute path (a string starting with /)", 1);
	parse_fail("{\"id\":1,\"op\":\"exec\",\"code\":\"\",\"argv\":[\"a\",1]}",
	           "field 'argv' must be an array of strings", 1);
	parse_fail("{\"id\":1,\"op\":\"exec\",\"code\":\"\",\"argv\":\"a\"}",
	           "field 'argv' must be an array of strings", 1);
	/* the first failing check is the one reported */
	parse_fail("{\"id\":2,\"op\":\"exec\",\"file\":3,\"ns\":\"x\"}",
	           "op 'exec' needs field 'code' (a string, or 'code_bytes')", 2);
	parse_fail("{\"id\":2,\"op\":\"ping\",\"ns\":\"x\",\"timeout\":0,\"file\":3}",
	           "field 'file' must be a string", 2);
	parse_fail("{\"id\":2,\"op\":\"ping\",\"ns\":\"x\",\"timeout\":0}", timeout_msg, 2);
}
END_TEST

/* op debug: where the worker's debugger connects and its tokens; a
 * session's name on any request. */
START_TEST(test_debug_op)
{
	struct jsonreq q;
	const char *tokens = ",\"access_token\":\"0123456789abcdef\","
	                     "\"client_access_token\":\"ABCDEF-_0123456789\"";
	char line[512];

	snprintf(line, sizeof(line), "{\"id\":1,\"op\":\"debug\",\"port\":4321%s}", tokens);
	parse_ok(line, &q);
	ck_assert_int_eq(q.op, JSONREQ_DEBUG);
	ck_assert_str_eq(q.session, "default");
	ck_assert_str_eq(q.debug_host, "127.0.0.1");
	ck_assert_int_eq(q.debug_port, 4321);
	ck_assert_str_eq(q.debug_token, "0123456789abcdef");
	ck_assert_str_eq(q.debug_client_token, "ABCDEF-_0123456789");
	jsonreq_done(&q);
	snprintf(line, sizeof(line),
	         "{\"id\":1,\"op\":\"debug\",\"port\":65535,\"host\":\"127.8.9.1\","
	         "\"session\":\"rig.v2-a_b\"%s}",
	         tokens);
	parse_ok(line, &q);
	ck_assert_str_eq(q.session, "rig.v2-a_b");
	ck_assert_str_eq(q.debug_host, "127.8.9.1");
	jsonreq_done(&q);
	parse_ok("{\"id\":2,\"op\":\"exec\",\"code\":\"\",\"session\":\"default\"}", &q);
	ck_assert_str_eq(q.session, "default");
	jsonreq_done(&q);
	parse_ok("{\"id\":2,\"op\":\"exec\",\"code\":\"\"}", &q);
	ck_assert_ptr_null(q.session);
	jsonreq_done(&q);

	/* the debugger runs code for whoever it talks to: loopback only */
	snprintf(line, sizeof(line), "{\"id\":3,\"op\":\"debug\",\"port\":1,\"host\":\"%s\"%s}",
	         "192.168.1.2", tokens);
	parse_fail(line, "field 'host' must be an IPv4 loopback address (127.0.0.1)", 3);
	snprintf(line, sizeof(line), "{\"id\":3,\"op\":\"debug\",\"port\":1,\"host\":\"%s\"%s}",
	         "localhost", tokens);
	parse_fail(line, "field 'host' must be an IPv4 loopback address (127.0.0.1)", 3);
	snprintf(line, sizeof(line), "{\"id\":3,\"op\":\"debug\",\"port\":65536%s}", tokens);
	parse_fail(line,
	           "op 'debug' needs field 'port' (the TCP port on 127.0.0.1 the worker's debugger "
	           "connects to, 1 to 65535)",
	           3);
	parse_fail(
	        "{\"id\":3,\"op\":\"debug\",\"port\":9,\"access_token\":\"0123456789abcde\"}",
	        "op 'debug' needs field 'access_token' (16 to 256 characters of A-Z, a-z, 0-9, - "
	        "and _)",
	        3);
	parse_fail(
	        "{\"id\":3,\"op\":\"debug\",\"port\":9,\"access_token\":\"0123456789abcdef\","
	        "\"client_access_token\":\"0123456789abcdef\\n\"}",
	        "op 'debug' needs field 'client_access_token' (16 to 256 characters of A-Z, a-z, "
	        "0-9, - and _)",
	        3);
	parse_fail(
	        "{\"id\":4,\"op\":\"eval\",\"code\":\"1\",\"session\":\"a/b\"}",
	        "field 'session' must be a debug session's name (1 to 64 characters of A-Z, a-z, "
	        "0-9, ., - and _)",
	        4);
}
END_TEST

START_TEST(test_timeout_bounds)
{
	struct jsonreq q;

	parse_ok("{\"id\":1,\"op\":\"ping\",\"timeout\":1e9}", &q);
	ck_assert(q.timeout == 1e9);
	jsonreq_done(&q);
	parse_ok("{\"id\":1,\"op\":\"ping\",\"timeout\":1e-300}", &q);
	ck_assert(q.timeout > 0);
	jsonreq_done(&q);
}
END_TEST

/* code_bytes: how many bytes of code follow the line, known even when the
 * request is refused for another reason; a count that cannot be right is
 * -EPROTO; without framing, code_bytes is not a field at all. */
START_TEST(test_framed_code)
{
	static const struct {
		const char *line;
		int rc;
		size_t payload;
		const char *reason;
	} cases[] = {
	        {"{\"id\":1,\"op\":\"exec\",\"code_bytes\":12}", 0, 12, NULL},
	        {"{\"id\":1,\"op\":\"eval\",\"code_bytes\":0}", 0, 0, NULL},
	        {"{\"id\":1,\"op\":\"exec\",\"code_bytes\":100}", 0, 100, NULL},
	        {"{\"id\":2,\"op\":\"exec\",\"code_bytes\":3,\"ns\":\"x\"}", -EINVAL, 3,
	         "field 'ns' must be \"main\", \"fresh\" or \"isolated\""},
	        {"{\"id\":3,\"op\":\"exec\",\"code_bytes\":3,\"code\":\"abc\"}", -EINVAL, 3,
	         "a request has field 'code' or 'code_bytes', not both"},
	        {"{\"op\":\"exec\",\"code_bytes\":5}", -EINVAL, 5, "missing field 'id'"},
	        {"{\"id\":4,\"op\":\"exec\",\"code_bytes\":101}", -EPROTO, 0,
	         "the code is 101 bytes, more than the 100 that limits.max_payload leaves after "
	         "its request line"},
	        {"{\"id\":4,\"op\":\"exec\",\"code_bytes\":-1}", -EPROTO, 0, NULL},
	        {"{\"id\":4,\"op\":\"exec\",\"code_bytes\":\"5\"}", -EPROTO, 0, NULL},
	        {"{\"id\":4,\"op\":\"exec\",\"code_bytes\":2.0}", -EPROTO, 0, NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err = BUF_INIT;
		struct jsonreq q;
		json_t *bad_id = NULL;
		size_t payload = 99;
		int rc = jsonreq_parse_framed(cases[i].line, strlen(cases[i].line), 0, 100,
		                              &payload, &q, &bad_id, &err);

		ck_assert_msg(rc == cases[i].rc, "%s: %d", cases[i].line, rc);
		ck_assert_msg(payload == cases[i].payload, "%s: payload %zu", cases[i].line,
		              payload);
		if (rc == 0) {
			ck_assert_ptr_null(q.code); /* the caller points it at the bytes */
			jsonreq_done(&q);
		} else if (cases[i].reason) {
			ck_assert_str_eq(err.data, cases[i].reason);
		} else {
			ck_assert_msg(strstr(err.data, "'code_bytes' must be") != NULL, "%s",
			              err.data);
		}
		if (rc == -EPROTO) /* answered, then closed */
			ck_assert_int_eq(json_integer_value(bad_id), 4);
		json_decref(bad_id);
		buf_free(&err);
	}
	/* unframed, code_bytes is nobody's: an exec without code */
	parse_fail("{\"id\":6,\"op\":\"exec\",\"code_bytes\":3}",
	           "op 'exec' needs field 'code' (a string, or 'code_bytes')", 6);
}
END_TEST

/* A line that is not valid JSON may still have given code_bytes: its count
 * cannot be read, so its code would be read as the next requests, and the
 * connection must end (-EPROTO). A bad line that cannot have given it goes
 * on (-EINVAL), as does any bad line where no code follows lines. */
START_TEST(test_framed_unparsable)
{
	static const struct {
		const char *line;
		int rc;
	} cases[] = {
	        /* a count too large for jansson */
	        {"{\"id\":1,\"op\":\"exec\",\"code_bytes\":99999999999999999999}", -EPROTO},
	        /* members given twice */
	        {"{\"id\":1,\"id\":2,\"op\":\"exec\",\"code_bytes\":5}", -EPROTO},
	        {"{\"id\":1,\"op\":\"exec\",\"code_bytes\":5,\"code_bytes\":6}", -EPROTO},
	        /* invalid UTF-8 in a file name */
	        {"{\"id\":1,\"op\":\"exec\",\"code_bytes\":5,\"file\":\"\xff\"}", -EPROTO},
	        /* the name spelt with escapes */
	        {"{\"id\":1,\"id\":2,\"op\":\"exec\",\"code\\u005fbytes\":5}", -EPROTO},
	        {"{\"id\":1,\"id\":2,\"op\":\"exec\",\"\\u0063ode_b\\u0079te\\u0073\":5}", -EPROTO},
	        {"{\"id\":1,\"id\":2,\"op\":\"exec\",\"code\\u005Fbytes\":5}", -EPROTO},
	        /* a line cut short */
	        {"{\"id\":1,\"op\":\"exec\",\"code_bytes\":5", -EPROTO},
	        /* no code can follow these */
	        {"{\"id\":1,\"id\":2,\"op\":\"exec\",\"code\":\"pass\"}", -EINVAL},
	        {"not json", -EINVAL},
	        {"{\"id\":\"\\ud800\",\"op\":\"ping\"}", -EINVAL},
	        {"{\"id\":1,\"id\":2,\"op\":\"exec\",\"code\":\"\\u00e9 code\\u005f bytes\"}",
	         -EINVAL},
	        {"{\"id\":1,\"op\":\"exec\",\"code\":\"\xff\"}", -EINVAL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *line = cases[i].line;
		size_t len = strlen(line);
		struct buf err = BUF_INIT, unframed = BUF_INIT;
		struct jsonreq q;
		json_t *bad_id = (json_t *)1;
		size_t payload = 99;
		int rc = jsonreq_parse_framed(line, len, 0, 100, &payload, &q, &bad_id, &err);

		ck_assert_msg(rc == cases[i].rc, "case %zu: %d", i, rc);
		ck_assert_uint_eq(payload, 0);
		ck_assert_ptr_null(bad_id);
		ck_assert_msg(!strncmp(err.data, "invalid JSON at column ", 23), "%s", err.data);
		ck_assert_msg((strstr(err.data, "; the line may give code_bytes, so where the next "
		                                "request starts is not known") != NULL) ==
		                      (rc == -EPROTO),
		              "case %zu: %s", i, err.data);
		/* where no code follows the line, the connection goes on */
		bad_id = (json_t *)1;
		ck_assert_int_eq(jsonreq_parse(line, len, 0, &q, &bad_id, &unframed), -EINVAL);
		ck_assert_ptr_null(bad_id);
		ck_assert_ptr_null(strstr(unframed.data, "the line may give"));
		buf_free(&err);
		buf_free(&unframed);
	}
}
END_TEST

/* The line is len bytes, not a C string; the reason is appended to err. */
START_TEST(test_bytes_and_append)
{
	static const char line[] = "{\"id\":1,\"op\":\"ping\"}garbage";
	struct buf err = BUF_INIT;
	struct jsonreq q;
	json_t *bad_id = NULL;

	ck_assert_int_eq(jsonreq_parse(line, 20, 0, &q, &bad_id, &err), 0);
	ck_assert_int_eq(q.op, JSONREQ_PING);
	jsonreq_done(&q);
	buf_puts(&err, "so far; ");
	ck_assert_int_eq(jsonreq_parse(line, 19, 0, &q, &bad_id, &err), -EINVAL);
	ck_assert_msg(!strncmp(err.data, "so far; invalid JSON at column ", 31), "got '%s'",
	              err.data);
	buf_free(&err);
}
END_TEST

START_TEST(test_done_twice)
{
	struct jsonreq q;

	memset(&q, 0, sizeof(q));
	jsonreq_done(&q);
	parse_ok("{\"id\":1,\"op\":\"ping\"}", &q);
	jsonreq_done(&q);
	jsonreq_done(&q);
}
END_TEST

/* All the jsonreq tests in one suite. */
static Suite *
jsonreq_suite(void)
{
	Suite *s = suite_create("jsonreq");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_exec_all_fields);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_other_ops);
	tcase_add_test(tc, test_code_bytes);
	tcase_add_test(tc, test_interrupt);
	tcase_add_test(tc, test_control);
	tcase_add_test(tc, test_envelope_errors);
	tcase_add_test(tc, test_invalid_json_reason_is_utf8);
	tcase_add_test(tc, test_field_errors);
	tcase_add_test(tc, test_debug_op);
	tcase_add_test(tc, test_timeout_bounds);
	tcase_add_test(tc, test_bytes_and_append);
	tcase_add_test(tc, test_done_twice);
	tcase_add_test(tc, test_framed_code);
	tcase_add_test(tc, test_framed_unparsable);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status tells CTest. */
int
main(void)
{
	SRunner *sr = srunner_create(jsonreq_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
