/* test_mcp_rpc.c - the MCP server's pure parts: JSON-RPC messages taken
 * apart, the protocol revision agreed on, output cut to a limit, the
 * --targets allow-list, and the tools' schemas
 *
 * Linked with hotloadctl's command library (clients/), as hotloadctl is. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mcp-rpc.h"
#include "mcp-server.h"
#include "mcp-tools.h"

/* Parse a C string into m. */
static void
parse(const char *line, struct mcprpc_msg *m)
{
	mcprpc_parse(line, strlen(line), m);
}

/* A line that must be invalid with code, its reason containing why. */
static void
parse_bad(const char *line, int code, const char *why)
{
	struct mcprpc_msg m;

	parse(line, &m);
	ck_assert_msg(m.kind == MCPRPC_INVALID, "'%s' was taken", line);
	ck_assert_int_eq(m.error_code, code);
	ck_assert_msg(strstr(m.error, why), "'%s': reason '%s' lacks '%s'", line, m.error, why);
	mcprpc_msg_done(&m);
}

START_TEST(test_parse_kinds)
{
	struct mcprpc_msg m;

	parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", &m);
	ck_assert_int_eq(m.kind, MCPRPC_REQUEST);
	ck_assert_str_eq(m.method, "tools/list");
	ck_assert_int_eq(json_integer_value(m.id), 1);
	ck_assert_ptr_null(m.params);
	mcprpc_msg_done(&m);

	parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\",\"params\":{\"name\":"
	      "\"x\"}}",
	      &m);
	ck_assert_int_eq(m.kind, MCPRPC_REQUEST);
	ck_assert_str_eq(json_string_value(m.id), "a");
	ck_assert(json_is_object(m.params));
	mcprpc_msg_done(&m);

	parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
	      "\"requestId\":3}}",
	      &m);
	ck_assert_int_eq(m.kind, MCPRPC_NOTIFICATION);
	ck_assert_ptr_null(m.id);
	mcprpc_msg_done(&m);

	/* valid JSON is taken, \u0000 in a string too */
	parse("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"x\",\"params\":{\"s\":\"a\\u0000b\"}}",
	      &m);
	ck_assert_int_eq(m.kind, MCPRPC_REQUEST);
	mcprpc_msg_done(&m);

	parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", &m);
	ck_assert_int_eq(m.kind, MCPRPC_RESPONSE);
	mcprpc_msg_done(&m);
}
END_TEST

START_TEST(test_parse_bad)
{
	struct mcprpc_msg m;

	parse_bad("", MCPRPC_PARSE_ERROR, "parse error");
	parse_bad("{\"jsonrpc\":\"2.0\",", MCPRPC_PARSE_ERROR, "parse error");
	parse_bad("not json", MCPRPC_PARSE_ERROR, "parse error");
	parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}", MCPRPC_PARSE_ERROR,
	          "duplicate");
	parse_bad("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", MCPRPC_INVALID_REQUEST,
	          "batches are not supported");
	parse_bad("42", MCPRPC_INVALID_REQUEST, "JSON object");
	parse_bad("{\"id\":1,\"method\":\"ping\"}", MCPRPC_INVALID_REQUEST, "\"jsonrpc\"");
	parse_bad("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", MCPRPC_INVALID_REQUEST,
	          "\"jsonrpc\"");
	parse_bad("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", MCPRPC_INVALID_REQUEST,
	          "string or an integer");
	parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", MCPRPC_INVALID_REQUEST,
	          "string or an integer");
	parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1}", MCPRPC_INVALID_REQUEST, "\"method\"");
	parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", MCPRPC_INVALID_REQUEST,
	          "non-empty string");
	parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", MCPRPC_INVALID_REQUEST,
	          "non-empty string");
	parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}",
	          MCPRPC_INVALID_REQUEST, "\"params\" must be an object");

	/* the id of an invalid request is kept for the answer */
	parse("{\"jsonrpc\":\"1.0\",\"id\":9,\"method\":\"ping\"}", &m);
	ck_assert_int_eq(json_integer_value(m.id), 9);
	mcprpc_msg_done(&m);
}
END_TEST

START_TEST(test_answers)
{
	json_t *id = json_integer(4), *m;
	char *s;

	m = mcprpc_result(id, json_pack("{s:b}", "x", 1));
	s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"id\":4,\"jsonrpc\":\"2.0\",\"result\":{\"x\":true}}");
	free(s);
	json_decref(m);
	m = mcprpc_error(id, MCPRPC_METHOD_NOT_FOUND, "no");
	s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(
	        s, "{\"error\":{\"code\":-32601,\"message\":\"no\"},\"id\":4,\"jsonrpc\":\"2.0\"}");
	free(s);
	json_decref(m);
	m = mcprpc_error(NULL, MCPRPC_PARSE_ERROR, "bad");
	ck_assert_ptr_null(json_object_get(m, "id")); /* MCP has no null id */
	json_decref(m);
	json_decref(id);
}
END_TEST

START_TEST(test_negotiate)
{
	ck_assert_str_eq(mcprpc_negotiate("2025-11-25"), "2025-11-25");
	ck_assert_str_eq(mcprpc_negotiate("2025-06-18"), "2025-06-18");
	ck_assert_str_eq(mcprpc_negotiate("2025-03-26"), "2025-03-26");
	ck_assert_str_eq(mcprpc_negotiate("2024-11-05"), "2024-11-05");
	/* unknown, newer or not: the newest we speak */
	ck_assert_str_eq(mcprpc_negotiate("2099-01-01"), "2025-11-25");
	ck_assert_str_eq(mcprpc_negotiate("2023-01-01"), "2025-11-25");
	ck_assert_str_eq(mcprpc_negotiate(""), "2025-11-25");
	ck_assert_str_eq(mcprpc_negotiate(NULL), "2025-11-25");
	ck_assert_str_eq(mcprpc_versions[0], "2025-11-25");
}
END_TEST

/* The kept text of o as a C string (the caller frees). */
static char *
out_text(const struct mcprpc_out *o, const char *name)
{
	json_t *v = mcprpc_out_json(o, name);
	char *s = strdup(json_string_value(v));

	json_decref(v);
	return s;
}

START_TEST(test_out_cut)
{
	struct mcprpc_out o;
	char *s;

	mcprpc_out_init(&o, 10);
	mcprpc_out_add(&o, "hello ", 6);
	mcprpc_out_add(&o, "world", 5);
	mcprpc_out_add(&o, "!!!", 3);
	ck_assert_uint_eq(o.kept.len, 10);
	ck_assert_uint_eq(o.dropped, 4);
	s = out_text(&o, "stdout");
	ck_assert_str_eq(s, "hello worl\n[hotloadctl mcp: 4 more bytes of stdout dropped; the "
	                    "limit is 10]\n");
	free(s);
	mcprpc_out_free(&o);

	/* nothing dropped: no note */
	mcprpc_out_init(&o, 10);
	mcprpc_out_add(&o, "ok\n", 3);
	s = out_text(&o, "stderr");
	ck_assert_str_eq(s, "ok\n");
	free(s);
	mcprpc_out_free(&o);

	/* empty */
	mcprpc_out_init(&o, 10);
	s = out_text(&o, "stderr");
	ck_assert_str_eq(s, "");
	free(s);
	mcprpc_out_free(&o);
}
END_TEST

START_TEST(test_out_utf8)
{
	struct mcprpc_out o;
	char *s;

	/* "é" is 2 bytes: a cut inside it backs off to its start */
	mcprpc_out_init(&o, 5);
	mcprpc_out_add(&o, "ab\xc3\xa9\xc3\xa9", 6);
	ck_assert_uint_eq(o.kept.len, 4);
	ck_assert_uint_eq(o.dropped, 2);
	/* once cut, a later chunk that would fit is dropped too */
	mcprpc_out_add(&o, "x", 1);
	ck_assert_uint_eq(o.kept.len, 4);
	ck_assert_uint_eq(o.dropped, 3);
	s = out_text(&o, "stdout");
	ck_assert_str_eq(s,
	                 "ab\xc3\xa9\n[hotloadctl mcp: 3 more bytes of stdout dropped; the limit "
	                 "is 5]\n");
	free(s);
	mcprpc_out_free(&o);

	/* a 4-byte character that does not fit at all */
	mcprpc_out_init(&o, 3);
	mcprpc_out_add(&o, "\xf0\x9f\x98\x80", 4);
	ck_assert_uint_eq(o.kept.len, 0);
	ck_assert_uint_eq(o.dropped, 4);
	mcprpc_out_free(&o);
}
END_TEST

START_TEST(test_allowed)
{
	const char *const list[] = {"python:3", "blender"};

	ck_assert(mcprpc_target_allowed(NULL, 0, "anything"));
	ck_assert(mcprpc_target_allowed(list, 2, "python:3"));
	ck_assert(mcprpc_target_allowed(list, 2, "blender"));
	ck_assert(!mcprpc_target_allowed(list, 2, "python"));
	ck_assert(!mcprpc_target_allowed(list, 2, "blender:3.4"));
	ck_assert(!mcprpc_target_allowed(list, 2, "mayapy"));
}
END_TEST

/* Every tool's schemas are valid JSON objects (mcptools_list aborts
 * otherwise), and --targets narrows the target property to an enum. */
START_TEST(test_tool_schemas)
{
	const char *const list[] = {"python:3"};
	struct mcp_config cfg;
	json_t *tools, *t, *target;
	size_t i;

	memset(&cfg, 0, sizeof(cfg));
	tools = mcptools_list(&cfg);
	ck_assert_uint_eq(json_array_size(tools), 8);
	json_array_foreach(tools, i, t)
	{
		ck_assert_str_eq(json_string_value(json_object_get(
		                         json_object_get(t, "inputSchema"), "type")),
		                 "object");
		ck_assert_str_eq(json_string_value(json_object_get(
		                         json_object_get(t, "outputSchema"), "type")),
		                 "object");
	}
	json_decref(tools);
	cfg.targets = list;
	cfg.ntargets = 1;
	tools = mcptools_list(&cfg);
	json_array_foreach(tools, i, t)
	{
		target = json_object_get(
		        json_object_get(json_object_get(t, "inputSchema"), "properties"), "target");
		if (!target)
			continue;
		ck_assert_uint_eq(json_array_size(json_object_get(target, "enum")), 1);
		ck_assert_str_eq(
		        json_string_value(json_array_get(json_object_get(target, "enum"), 0)),
		        "python:3");
	}
	json_decref(tools);
}
END_TEST

static Suite *
mcp_suite(void)
{
	Suite *s = suite_create("mcp_rpc");
	TCase *tc = tcase_create("mcp_rpc");

	tcase_add_test(tc, test_parse_kinds);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_answers);
	tcase_add_test(tc, test_negotiate);
	tcase_add_test(tc, test_out_cut);
	tcase_add_test(tc, test_out_utf8);
	tcase_add_test(tc, test_allowed);
	tcase_add_test(tc, test_tool_schemas);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status tells CTest. */
int
main(void)
{
	SRunner *sr = srunner_create(mcp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
