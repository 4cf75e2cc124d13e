/* test_request.c - a request: what it copies, what it tells the agent, its
 * transitions and its two lists */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "request.h"

/* A sink that records what it is told. */
struct seen {
	int outputs, dones, waitings, events, congested;
	char last_output[64];
	char last_waiting[32];
	json_t *result;
	struct request *done_r;
};

static int
seen_output(struct request *r, int fd, const char *data, size_t len)
{
	struct seen *s = request_sink_data(r);

	s->outputs++;
	snprintf(s->last_output, sizeof(s->last_output), "%d:%.*s", fd, (int)len, data);
	return s->congested;
}

static void
seen_done(struct request *r, json_t *result)
{
	struct seen *s = request_sink_data(r);

	s->dones++;
	s->result = json_deep_copy(result);
	s->done_r = r;
	request_free(r); /* the sink owns it now, as a connection does */
}

static void
seen_waiting(struct request *r, const char *state)
{
	struct seen *s = request_sink_data(r);

	s->waitings++;
	snprintf(s->last_waiting, sizeof(s->last_waiting), "%s", state);
}

static void
seen_event(struct request *r, json_t *msg)
{
	struct seen *s = request_sink_data(r);

	(void)msg;
	s->events++;
}

static const struct request_sink full_sink = {
        .output = seen_output,
        .done = seen_done,
        .waiting = seen_waiting,
        .event = seen_event,
};

static const struct request_sink bare_sink = {
        .output = seen_output,
        .done = seen_done,
};

static struct request *
exec_request(const char *code, struct seen *s)
{
	struct request_spec spec = {
	        .op = REQUEST_EXEC,
	        .code = xstrdup(code),
	        .code_len = strlen(code),
	};

	return request_new(&spec, &full_sink, s);
}

/* The agent's line for r, parsed: one line of ASCII JSON (the code is
 * not in it). */
static json_t *
agent_line(const struct request *r, uint64_t id, const char **code, size_t *code_len)
{
	struct buf line = BUF_INIT;
	json_error_t err;
	json_t *m;
	size_t i;

	request_agent_line(r, id, &line, code, code_len);
	ck_assert_uint_gt(line.len, 0);
	for (i = 0; i < line.len; i++)
		ck_assert_msg((unsigned char)line.data[i] >= 0x20 &&
		                      (unsigned char)line.data[i] < 0x80,
		              "byte %zu of the line is %#x: %s", i, (unsigned char)line.data[i],
		              line.data);
	m = json_loadb(line.data, line.len, JSON_REJECT_DUPLICATES, &err);
	ck_assert_msg(m != NULL, "not JSON (%s): %s", err.text, line.data);
	ck_assert(json_is_object(m));
	buf_free(&line);
	return m;
}

START_TEST(copies_what_the_spec_lends)
{
	char file[] = "tool.py", path[] = "/tmp/tool.py", cwd[] = "/tmp";
	json_t *argv = json_pack("[s, s]", "tool.py", "-v");
	json_t *id = json_integer(7);
	struct request_spec spec = {
	        .op = REQUEST_EXEC,
	        .code = xstrdup("print(1)"),
	        .code_len = 8,
	        .file = file,
	        .fresh = 1,
	        .timeout = 2.5,
	        .path = path,
	        .cwd = cwd,
	        .argv = argv,
	        .client_id = id,
	};
	struct seen s = {0};
	struct request *r = request_new(&spec, &full_sink, &s);
	const char *code;
	size_t code_len;
	json_t *m;

	/* what the caller lent may go now */
	memset(file, 'x', sizeof(file) - 1);
	memset(path, 'x', sizeof(path) - 1);
	memset(cwd, 'x', sizeof(cwd) - 1);
	json_decref(argv);
	json_decref(id);

	ck_assert_int_eq(request_op(r), REQUEST_EXEC);
	ck_assert_int_eq(request_state(r), REQUEST_QUEUED);
	ck_assert_uint_eq(request_code_len(r), 8);
	ck_assert_double_eq(request_timeout(r), 2.5);
	ck_assert_uint_eq(request_deadline_ns(r), 0);
	ck_assert_str_eq(request_client_id_json(r), "7");

	m = agent_line(r, 41, &code, &code_len);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "id")), 41);
	ck_assert_str_eq(json_string_value(json_object_get(m, "op")), "exec");
	/* the code follows the line as a payload, not in it */
	ck_assert_ptr_null(json_object_get(m, "code"));
	ck_assert_int_eq(json_integer_value(json_object_get(m, "code_bytes")), 8);
	ck_assert_uint_eq(code_len, 8);
	ck_assert_mem_eq(code, "print(1)", 8);
	ck_assert_str_eq(json_string_value(json_object_get(m, "file")), "tool.py");
	ck_assert_str_eq(json_string_value(json_object_get(m, "ns")), "fresh");
	ck_assert_str_eq(json_string_value(json_object_get(m, "path")), "/tmp/tool.py");
	ck_assert_str_eq(json_string_value(json_object_get(m, "cwd")), "/tmp");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "argv"), 1)), "-v");
	ck_assert_ptr_null(json_object_get(m, "changed"));
	ck_assert_ptr_null(json_object_get(m, "modules"));
	json_decref(m);
	request_free(r);
}
END_TEST

START_TEST(raw_requests_have_null_ids_and_defaults)
{
	struct request_spec spec = {.op = REQUEST_EXEC}; /* an empty raw payload */
	struct seen s = {0};
	struct request *r = request_new(&spec, &bare_sink, &s);
	const char *code;
	size_t code_len;
	json_t *m;

	ck_assert_str_eq(request_client_id_json(r), "null");
	ck_assert(json_is_null(request_client_id(r)));
	m = agent_line(r, 1, &code, &code_len);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "code_bytes")), 0);
	ck_assert_uint_eq(code_len, 0);
	ck_assert_str_eq(code, "");
	ck_assert(json_is_null(json_object_get(m, "file")));
	ck_assert_str_eq(json_string_value(json_object_get(m, "ns")), "main");
	ck_assert_ptr_null(json_object_get(m, "path"));
	json_decref(m);
	request_free(r);
}
END_TEST

START_TEST(reload_requests_name_modules_and_strategy)
{
	json_t *mods = json_pack("[s]", "studio.tools");
	struct request_spec spec = {.op = REQUEST_RELOAD, .modules = mods, .purge = 1};
	struct seen s = {0};
	struct request *r = request_new(&spec, &bare_sink, &s);
	const char *code;
	size_t code_len;
	json_t *m;

	json_decref(mods);
	m = agent_line(r, 3, &code, &code_len);
	ck_assert_str_eq(json_string_value(json_object_get(m, "op")), "reload");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "modules"), 0)),
	                 "studio.tools");
	ck_assert_str_eq(json_string_value(json_object_get(m, "strategy")), "purge");
	ck_assert_ptr_null(json_object_get(m, "code"));
	ck_assert_ptr_null(json_object_get(m, "code_bytes"));
	ck_assert_uint_eq(code_len, 0);
	json_decref(m);
	request_free(r);
}
END_TEST

START_TEST(changed_files_and_poll_roots_go_to_the_agent)
{
	struct seen s = {0};
	struct request *r = exec_request("x", &s);
	const char *code;
	size_t code_len;
	json_t *m;

	request_set_reload(r, "purge", json_pack("[s]", "/src/a.py"), NULL);
	m = agent_line(r, 1, &code, &code_len);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "changed"), 0)),
	                 "/src/a.py");
	ck_assert_str_eq(json_string_value(json_object_get(m, "reload_strategy")), "purge");
	json_decref(m);

	/* set again: the first ones are replaced, not leaked */
	request_set_reload(r, "reload", NULL, json_pack("[s]", "/src"));
	m = agent_line(r, 2, &code, &code_len);
	ck_assert_ptr_null(json_object_get(m, "changed"));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "poll_roots"), 0)),
	                 "/src");
	ck_assert_str_eq(json_string_value(json_object_get(m, "reload_strategy")), "reload");
	json_decref(m);
	request_free(r);
}
END_TEST

START_TEST(agent_line_strings_are_escaped_ascii)
{
	const char *file = "na\xc3\xafve \"q\"\\\n\t\x01.py";
	const char *path = "/proj/\xe2\x82\xac/\xf0\x9f\x8e\xa8.py";
	json_t *argv = json_pack("[s, s, i, b, n, f]", "\xe2\x82\xac\x7f", "a\"b", 3, 1, 0.5);
	struct request_spec spec = {
	        .op = REQUEST_EVAL,
	        .code = xstrdup("1"),
	        .code_len = 1,
	        .file = file,
	        .path = path,
	        .cwd = "/",
	        .argv = argv,
	};
	struct seen s = {0};
	struct request *r = request_new(&spec, &full_sink, &s);
	const char *code;
	size_t code_len;
	json_t *m;

	json_decref(argv);
	request_set_reload(r, NULL, json_pack("[s]", "/proj/\xe2\x82\xac.py"),
	                   json_pack("[s]", "/x"));
	m = agent_line(r, 1ull << 40, &code, &code_len);
	ck_assert_str_eq(json_string_value(json_object_get(m, "op")), "eval");
	ck_assert_str_eq(json_string_value(json_object_get(m, "file")), file);
	ck_assert_str_eq(json_string_value(json_object_get(m, "path")), path);
	ck_assert_str_eq(json_string_value(json_object_get(m, "cwd")), "/");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "argv"), 0)),
	                 "\xe2\x82\xac\x7f");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "argv"), 1)), "a\"b");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(m, "argv"), 2)), 3);
	ck_assert(json_is_true(json_array_get(json_object_get(m, "argv"), 3)));
	ck_assert(json_is_null(json_array_get(json_object_get(m, "argv"), 4)));
	ck_assert_double_eq(json_real_value(json_array_get(json_object_get(m, "argv"), 5)), 0.5);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "changed"), 0)),
	                 "/proj/\xe2\x82\xac.py");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "poll_roots"), 0)),
	                 "/x");
	/* once, though both ask for it (the parse rejects duplicates) */
	ck_assert_str_eq(json_string_value(json_object_get(m, "reload_strategy")), "reload");
	json_decref(m);
	request_free(r);
}
END_TEST

START_TEST(debug_requests_carry_their_fields)
{
	struct request_spec spec = {
	        .op = REQUEST_DEBUG,
	        .debug_host = "127.0.0.1",
	        .debug_port = 5678,
	        .debug_token = "t1",
	        .debug_client_token = "t2",
	};
	struct seen s = {0};
	struct request *r = request_new(&spec, &full_sink, &s);
	const char *code;
	size_t code_len;
	json_t *m;

	m = agent_line(r, 9, &code, &code_len);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "id")), 9);
	ck_assert_str_eq(json_string_value(json_object_get(m, "op")), "debug");
	ck_assert_uint_eq(code_len, 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "host")), "127.0.0.1");
	ck_assert_int_eq(json_integer_value(json_object_get(m, "port")), 5678);
	json_decref(m);
	request_free(r);
}
END_TEST

START_TEST(queued_running_done)
{
	struct seen s = {0};
	struct request *r = exec_request("print(2)", &s);
	struct pool *pool = (struct pool *)&s;       /* only compared, never used */
	struct worker *worker = (struct worker *)&r; /* likewise */
	json_t *res = json_pack("{s:b}", "ok", 1);

	ck_assert_ptr_null(request_pool(r));
	request_queue(r, pool);
	ck_assert_ptr_eq(request_pool(r), pool);
	ck_assert_int_eq(request_state(r), REQUEST_QUEUED);
	ck_assert_ptr_null(request_worker(r));

	request_start(r, worker);
	ck_assert_int_eq(request_state(r), REQUEST_RUNNING);
	ck_assert_ptr_eq(request_worker(r), worker);
	ck_assert_uint_gt(request_started_ns(r), 0);

	ck_assert_int_eq(request_output(r, 1, "hi", 2), 0);
	ck_assert_str_eq(s.last_output, "1:hi");
	s.congested = 1;
	ck_assert_int_eq(request_output(r, 2, "err", 3), 1);
	request_waiting(r, "starting");
	ck_assert_str_eq(s.last_waiting, "starting");
	request_event(r, res);
	ck_assert_int_eq(s.events, 1);

	request_finish(r, res); /* the sink frees r */
	ck_assert_int_eq(s.dones, 1);
	ck_assert(json_is_true(json_object_get(s.result, "ok")));
	json_decref(s.result);
	json_decref(res);
}
END_TEST

START_TEST(unqueued_requests_can_be_queued_again)
{
	struct seen s = {0};
	struct request *r = exec_request("x", &s);
	struct pool *a = (struct pool *)&s, *b = (struct pool *)&a;

	request_queue(r, a);
	request_unqueue(r);
	ck_assert_ptr_null(request_pool(r));
	request_queue(r, b);
	ck_assert_ptr_eq(request_pool(r), b);
	request_fail(r, "ShuttingDown", "the daemon is shutting down");
	ck_assert_int_eq(s.dones, 1);
	ck_assert_str_eq(
	        json_string_value(json_object_get(json_object_get(s.result, "error"), "type")),
	        "ShuttingDown");
	ck_assert(json_is_false(json_object_get(s.result, "ok")));
	json_decref(s.result);
}
END_TEST

START_TEST(an_orphan_is_told_nothing_and_freed_when_done)
{
	struct seen s = {0};
	struct request *r = exec_request("x", &s);

	request_start(r, (struct worker *)&s);
	request_orphan(r);
	ck_assert_int_eq(request_output(r, 1, "lost", 4), 0);
	request_waiting(r, "queued");
	ck_assert_int_eq(request_client_gone(r), 0);
	request_fail(r, "WorkerDied", "gone");
	/* freed by request_finish itself: AddressSanitizer reports a leak if not */
	ck_assert_int_eq(s.outputs + s.dones + s.waitings, 0);
}
END_TEST

static void
count_quiet(void *data)
{
	++*(int *)data;
}

/* The daemon gives memory back when it has nothing to do: request_free
 * tells it when the last request is gone, an orphan's included. */
START_TEST(the_last_request_freed_is_told)
{
	struct seen s = {0};
	int quiet = 0;
	struct request *a, *b, *c;

	ck_assert_uint_eq(request_live(), 0); /* every other test frees its requests */
	request_on_last_freed(count_quiet, &quiet);
	a = exec_request("a", &s);
	b = exec_request("b", &s);
	ck_assert_uint_eq(request_live(), 2);
	request_free(a);
	ck_assert_int_eq(quiet, 0);
	request_start(b, (struct worker *)&s);
	request_orphan(b);
	request_fail(b, "WorkerDied", "gone"); /* request_finish frees it */
	ck_assert_uint_eq(request_live(), 0);
	ck_assert_int_eq(quiet, 1);
	request_free(NULL);
	ck_assert_int_eq(quiet, 1);
	request_on_last_freed(NULL, NULL);
	c = exec_request("c", &s);
	request_free(c);
	ck_assert_int_eq(quiet, 1);
}
END_TEST

START_TEST(a_sink_without_waiting_is_not_told)
{
	struct seen s = {0};
	struct request_spec spec = {.op = REQUEST_PING};
	struct request *r = request_new(&spec, &bare_sink, &s);

	request_waiting(r, "backoff");
	request_event(r, NULL);
	ck_assert_int_eq(s.waitings + s.events, 0);
	request_free(r);
}
END_TEST

START_TEST(code_hash_is_of_op_and_code)
{
	struct seen s = {0};
	struct request *a = exec_request("boom()", &s), *b = exec_request("boom()", &s);
	struct request *c = exec_request("boom() ", &s);
	struct request_spec spec = {.op = REQUEST_EVAL, .code = xstrdup("boom()"), .code_len = 6};
	struct request *d = request_new(&spec, &full_sink, &s);

	ck_assert_uint_eq(request_code_hash(a), request_code_hash(b));
	ck_assert_uint_ne(request_code_hash(a), request_code_hash(c));
	ck_assert_uint_ne(request_code_hash(a), request_code_hash(d));
	/* made once and kept: the same when asked again, and as another's */
	{
		struct request *e = exec_request("boom()", &s);

		ck_assert_uint_eq(request_code_hash(a), request_code_hash(e));
		ck_assert_uint_eq(request_code_hash(e), request_code_hash(b));
		request_free(e);
	}
	/* A byte changed anywhere in longer code, across and within words. */
	{
		char base[] = "import os; os.abort()  # a crash, 41 bytes";
		struct request *orig = exec_request(base, &s);
		size_t i;

		for (i = 0; i < sizeof(base) - 1; i++) {
			char other[sizeof(base)];
			struct request *x;

			memcpy(other, base, sizeof(base));
			other[i] ^= 1;
			x = exec_request(other, &s);
			ck_assert_uint_ne(request_code_hash(orig), request_code_hash(x));
			request_free(x);
		}
		request_free(orig);
	}
	request_free(a);
	request_free(b);
	request_free(c);
	request_free(d);
}
END_TEST

START_TEST(a_deadline_is_counted_from_now)
{
	struct request_spec spec = {.op = REQUEST_EXEC, .deadline = 5};
	struct seen s = {0};
	uint64_t before = uv_hrtime();
	struct request *r = request_new(&spec, &bare_sink, &s);

	ck_assert_double_eq(request_deadline(r), 5);
	ck_assert_uint_ge(request_deadline_ns(r), before + 5000000000ull);
	ck_assert_uint_le(request_deadline_ns(r), uv_hrtime() + 5000000000ull);
	request_free(r);
}
END_TEST

START_TEST(owner_list_and_queue_are_apart)
{
	struct request_list owner = TAILQ_HEAD_INITIALIZER(owner);
	struct request_list queue = TAILQ_HEAD_INITIALIZER(queue);
	struct seen s = {0};
	struct request *a = exec_request("a", &s), *b = exec_request("b", &s);

	request_owner_append(&owner, a);
	request_owner_append(&owner, b);
	request_queue_append(&queue, b);
	request_queue_append(&queue, a);
	ck_assert_ptr_eq(TAILQ_FIRST(&owner), a);
	ck_assert_ptr_eq(request_owner_next(a), b);
	ck_assert_ptr_null(request_owner_next(b));
	ck_assert_ptr_eq(TAILQ_FIRST(&queue), b);
	ck_assert_ptr_eq(request_queue_next(b), a);
	request_queue_remove(&queue, b);
	ck_assert_ptr_eq(TAILQ_FIRST(&queue), a);
	ck_assert_ptr_eq(request_owner_next(a), b); /* still in its owner's list */
	request_owner_remove(&owner, a);
	ck_assert_ptr_eq(TAILQ_FIRST(&owner), b);
	request_queue_remove(&queue, a);
	request_owner_remove(&owner, b);
	ck_assert(TAILQ_EMPTY(&owner) && TAILQ_EMPTY(&queue));
	request_free(a);
	request_free(b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, copies_what_the_spec_lends);
	tcase_add_test(tc, raw_requests_have_null_ids_and_defaults);
	tcase_add_test(tc, reload_requests_name_modules_and_strategy);
	tcase_add_test(tc, changed_files_and_poll_roots_go_to_the_agent);
	tcase_add_test(tc, agent_line_strings_are_escaped_ascii);
	tcase_add_test(tc, debug_requests_carry_their_fields);
	tcase_add_test(tc, queued_running_done);
	tcase_add_test(tc, unqueued_requests_can_be_queued_again);
	tcase_add_test(tc, an_orphan_is_told_nothing_and_freed_when_done);
	tcase_add_test(tc, a_sink_without_waiting_is_not_told);
	tcase_add_test(tc, the_last_request_freed_is_told);
	tcase_add_test(tc, code_hash_is_of_op_and_code);
	tcase_add_test(tc, a_deadline_is_counted_from_now);
	tcase_add_test(tc, owner_list_and_queue_are_apart);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
