/* itest_json.c - JSON mode: many requests on one connection, streamed
 * events, namespaces, eval, output encoding and ordering */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "itest.h"

#define MiB (1024 * 1024)
#define JSON_HDR "python:3 mode=json"

/* exec code on c as request id, assert ok, return its stdout (new string). */
static char *
exec_ok(struct jclient *c, json_int_t id, const char *code)
{
	struct jreply r;
	char *out;

	jc_call(c, id, "exec", code, &r);
	jreply_assert_ok(&r);
	out = strdup(r.out);
	jreply_free(&r);
	return out;
}

#define assert_exec_out(c, id, code, expect)                                                       \
	do {                                                                                       \
		char *_o = exec_ok((c), (id), (code));                                             \
		ck_assert_str_eq(_o, (expect));                                                    \
		free(_o);                                                                          \
	} while (0)

START_TEST(several_requests_one_connection)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	json_t *ev, *dur;
	size_t i;

	jc_call(c, 1, "exec", "print('one')\nprint('two')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "one\ntwo\n");
	ck_assert_str_eq(r.err, "");
	/* the first request waits for the worker to start; then output; the
	 * last event is the done */
	for (i = 0; i + 1 < json_array_size(r.events); i++) {
		const char *e;

		ev = json_array_get(r.events, i);
		e = json_string_value(json_object_get(ev, "event"));
		ck_assert_msg(!strcmp(e, "stdout") || !strcmp(e, "waiting"), "event %s", e);
	}
	dur = json_object_get(r.done, "duration_ms");
	ck_assert_msg(json_is_number(dur) && json_number_value(dur) >= 0,
	              "done without a duration_ms >= 0");
	jreply_free(&r);

	jc_call(c, 2, "ping", NULL, &r);
	jreply_assert_ok(&r);
	ck_assert_uint_eq(json_array_size(r.events), 1);
	jreply_free(&r);

	jc_call(c, 3, "exec", "import sys\nsys.stderr.write('careful\\n')\nprint('out')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_str_eq(r.err, "careful\n");
	jreply_free(&r);

	jc_call(c, 4, "exec", "print('before')\n{}['missing']", &r);
	jreply_assert_error(&r, "KeyError");
	ck_assert_str_eq(r.out, "before\n");
	ck_assert_str_eq(jreply_error_str(&r, "message"), "'missing'");
	ck_assert_msg(!strncmp(jreply_error_str(&r, "traceback"),
	                       "Traceback (most recent call last):\n", 35),
	              "traceback: %s", jreply_error_str(&r, "traceback"));
	itest_assert_contains(jreply_error_str(&r, "traceback"), "KeyError: 'missing'");
	jreply_free(&r);

	/* the connection is still usable after an error; ids may be strings */
	jc_send_line(c, "{\"id\":\"s-1\",\"op\":\"exec\",\"code\":\"print(5)\"}");
	for (;;) {
		const char *e;

		ev = jc_next_output(c, 0);
		ck_assert_ptr_nonnull(ev);
		ck_assert_str_eq(json_string_value(json_object_get(ev, "id")), "s-1");
		e = json_string_value(json_object_get(ev, "event"));
		if (!strcmp(e, "done")) {
			ck_assert(json_is_true(json_object_get(ev, "ok")));
			json_decref(ev);
			break;
		}
		ck_assert_str_eq(e, "stdout");
		json_decref(ev);
	}

	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Requests sent all at once are answered in order, never interleaved. */
START_TEST(pipelined_requests)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	char *outs[3] = {strdup(""), strdup(""), strdup("")};
	struct jreply r;
	int i;

	jc_send_line(c, "{\"id\":1,\"op\":\"exec\",\"code\":\"import time\\nfor i in range(3):\\n"
	                "    print('a', i)\\n    time.sleep(0.05)\"}\n"
	                "{\"id\":2,\"op\":\"exec\",\"code\":\"print('b')\"}\n"
	                "{\"id\":3,\"op\":\"eval\",\"code\":\"6*7\"}");
	/* Read the stream as it comes: apart from "waiting" notes, request 1's
	 * events, its done, then 2's, then 3's. */
	for (i = 1; i <= 3;) {
		json_t *m = jc_next(c, 0);
		const char *e;
		json_int_t id;

		ck_assert_ptr_nonnull(m);
		e = json_string_value(json_object_get(m, "event"));
		id = json_integer_value(json_object_get(m, "id"));
		ck_assert_ptr_nonnull(e);
		if (!strcmp(e, "waiting")) {
			/* the current one may wait for its worker to start */
			ck_assert_msg(id > i || (id == i && !*outs[i - 1]),
			              "a waiting event of request %lld while %d runs",
			              (long long)id, i);
		} else {
			ck_assert_msg(id == i, "an event of request %lld while %d runs",
			              (long long)id, i);
			if (!strcmp(e, "stdout")) {
				char *o = itest_strf("%s%s", outs[i - 1],
				                     json_string_value(json_object_get(m, "data")));

				free(outs[i - 1]);
				outs[i - 1] = o;
			} else {
				ck_assert_str_eq(e, "done");
				ck_assert(json_is_true(json_object_get(m, "ok")));
				if (i == 3)
					ck_assert_str_eq(
					        json_string_value(json_object_get(m, "value")),
					        "42");
				i++;
			}
		}
		json_decref(m);
	}
	ck_assert_str_eq(outs[0], "a 0\na 1\na 2\n");
	ck_assert_str_eq(outs[1], "b\n");
	ck_assert_str_eq(outs[2], "");
	for (i = 0; i < 3; i++)
		free(outs[i]);

	/* A client that half-closes after its requests still gets every answer,
	 * then the daemon closes. */
	for (i = 10; i < 13; i++) {
		char *line = itest_strf("{\"id\":%d,\"op\":\"exec\",\"code\":\"print(%d)\"}", i, i);

		jc_send_line(c, line);
		free(line);
	}
	itest_half_close(c->fd);
	for (i = 10; i < 13; i++) {
		char *expect = itest_strf("%d\n", i);

		jc_collect(c, i, 0, &r);
		jreply_assert_ok(&r);
		ck_assert_str_eq(r.out, expect);
		jreply_free(&r);
		free(expect);
	}
	jc_expect_eof(c, 5000);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Output reaches the client while the code still runs. */
START_TEST(streaming)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	long long t_first = 0, t_done = 0;
	char *out = strdup(""), *prev;
	json_t *ev;
	const char *e;

	/* warm the worker first so start-up time does not count */
	assert_exec_out(c, 1, "print('warm')", "warm\n");
	jc_send_line(c, "{\"id\":2,\"op\":\"exec\",\"code\":\"import time\\nprint('first')\\n"
	                "time.sleep(0.8)\\nprint('second')\"}");
	for (;;) {
		ev = jc_next_output(c, 0);
		ck_assert_ptr_nonnull(ev);
		e = json_string_value(json_object_get(ev, "event"));
		/* print() may write its text and its newline separately */
		if (!strcmp(e, "stdout")) {
			if (!t_first)
				t_first = itest_now_ms();
			out = itest_strf("%s%s", prev = out,
			                 json_string_value(json_object_get(ev, "data")));
			free(prev);
		}
		if (!strcmp(e, "done")) {
			ck_assert(json_is_true(json_object_get(ev, "ok")));
			t_done = itest_now_ms();
			json_decref(ev);
			break;
		}
		json_decref(ev);
	}
	ck_assert_msg(t_first > 0, "no stdout event before done");
	ck_assert_str_eq(out, "first\nsecond\n");
	free(out);
	ck_assert_msg(t_done - t_first >= 500,
	              "'first' arrived only %lld ms before done: output is not streamed",
	              t_done - t_first);
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(namespaces)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *a = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *b;
	json_t *fresh = json_pack("{s:s}", "ns", "fresh");
	json_t *main_ns = json_pack("{s:s}", "ns", "main");
	struct jreply r;

	assert_exec_out(a, 1, "x = 41\ndef f():\n    return x + 1", "");
	assert_exec_out(a, 2, "print(f())", "42\n");

	/* main is shared by every connection to the same worker */
	b = jc_open(d, ITEST_UNIX, JSON_HDR);
	jc_call(b, 1, "eval", "x + 1", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "42");
	jreply_free(&r);
	jc_call_with(b, 2, "exec", "print(x)", main_ns, 0, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "41\n");
	jreply_free(&r);

	/* fresh starts empty and leaves main alone */
	jc_call_with(b, 3, "exec", "print(x)", fresh, 0, &r);
	jreply_assert_error(&r, "NameError");
	jreply_free(&r);
	jc_call_with(b, 4, "exec", "y = 1\nprint('y' in globals(), __name__)", fresh, 0, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "True __main__\n");
	jreply_free(&r);
	jc_call_with(b, 5, "exec", "print(y)", fresh, 0, &r);
	jreply_assert_error(&r, "NameError");
	jreply_free(&r);
	jc_call(a, 3, "exec", "print(y)", &r);
	jreply_assert_error(&r, "NameError");
	jreply_free(&r);

	/* reset: main starts over, for everyone */
	jc_call(a, 4, "reset", NULL, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_call(b, 6, "eval", "x", &r);
	jreply_assert_error(&r, "NameError");
	jreply_free(&r);
	assert_exec_out(b, 7, "print(__name__)", "__main__\n");

	json_decref(fresh);
	json_decref(main_ns);
	jc_close(a);
	jc_close(b);
	itest_stop(d);
}
END_TEST

START_TEST(eval_values)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	json_t *j;

	jc_call(c, 1, "eval", "1+1", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "2");
	j = json_object_get(r.done, "json");
	ck_assert(json_is_integer(j) && json_integer_value(j) == 2);
	jreply_free(&r);

	jc_call(c, 2, "eval", "{'a': [1, 2.5, None, True], 'b': 'h\\u00e9'}", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")),
	                 "{'a': [1, 2.5, None, True], 'b': 'h\xc3\xa9'}");
	j = json_pack("{s:[i, f, n, b], s:s}", "a", 1, 2.5, 1, "b", "h\xc3\xa9");
	ck_assert_msg(json_equal(json_object_get(r.done, "json"), j), "json of a dict differs");
	json_decref(j);
	jreply_free(&r);

	/* no JSON form: the repr only */
	jc_call(c, 3, "eval", "object()", &r);
	jreply_assert_ok(&r);
	ck_assert_msg(!strncmp(json_string_value(json_object_get(r.done, "value")),
	                       "<object object at 0x", 20),
	              "value %s", json_string_value(json_object_get(r.done, "value")));
	ck_assert_ptr_null(json_object_get(r.done, "json"));
	jreply_free(&r);

	/* an integer jansson cannot hold: the repr only, and the worker lives */
	jc_call(c, 40, "eval", "[2**64]", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")),
	                 "[18446744073709551616]");
	ck_assert_ptr_null(json_object_get(r.done, "json"));
	jreply_free(&r);

	jc_call(c, 4, "eval", "None", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "None");
	jreply_free(&r);

	/* output printed during an eval is streamed like any other */
	jc_call(c, 5, "eval", "print('side') or 7", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "side\n");
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "7");
	jreply_free(&r);

	/* not an expression; and one that raises */
	jc_call(c, 6, "eval", "x = 1", &r);
	jreply_assert_error(&r, "SyntaxError");
	jreply_free(&r);
	jc_call(c, 7, "eval", "1/0", &r);
	jreply_assert_error(&r, "ZeroDivisionError");
	jreply_free(&r);

	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(errors_and_file_names)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	json_t *file = json_pack("{s:s}", "file", "my_tool.py");
	struct jreply r;
	const char *tb;
	json_t *msg;
	long pid;

	pid = jc_worker_pid(c, 1);
	jc_call_with(c, 2, "exec", "def g():\n    return 1/0\n\ng()\n", file, 0, &r);
	jreply_assert_error(&r, "ZeroDivisionError");
	ck_assert_str_eq(jreply_error_str(&r, "message"), "division by zero");
	tb = jreply_error_str(&r, "traceback");
	itest_assert_contains(tb, "  File \"my_tool.py\", line 4, in <module>\n");
	itest_assert_contains(tb, "  File \"my_tool.py\", line 2, in g\n");
	itest_assert_contains(tb, "return 1/0");            /* the source line is shown */
	ck_assert_uint_eq(itest_count(tb, "  File \""), 2); /* no agent frames */
	jreply_free(&r);

	/* sys.exit() is an error of the request, not of the worker */
	jc_call(c, 3, "exec", "import sys\nsys.exit(3)", &r);
	jreply_assert_error(&r, "SystemExit");
	jreply_free(&r);
	jc_call(c, 4, "exec", "import sys\nsys.exit(0)", &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_call(c, 5, "exec", "raise KeyboardInterrupt", &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	jreply_free(&r);
	/* a NUL in a message or a value is a character like another */
	jc_call(c, 7, "exec", "raise ValueError('a\\x00b')", &r);
	jreply_assert_error(&r, "ValueError");
	msg = json_object_get(json_object_get(r.done, "error"), "message");
	ck_assert_uint_eq(json_string_length(msg), 3);
	ck_assert(!memcmp(json_string_value(msg), "a\0b", 3));
	jreply_free(&r);
	jc_call(c, 8, "eval", "'\\x00'", &r);
	jreply_assert_ok(&r);
	ck_assert_uint_eq(json_string_length(json_object_get(r.done, "json")), 1);
	jreply_free(&r);
	/* not in a key, which JSON may hold and jansson may not: no "json" */
	jc_call(c, 9, "eval", "{'a\\x00': 1}", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "{'a\\x00': 1}");
	ck_assert_ptr_null(json_object_get(r.done, "json"));
	jreply_free(&r);
	ck_assert_int_eq(jc_worker_pid(c, 6), pid);

	json_decref(file);
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(output_encoding)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;

	/* invalid UTF-8 becomes U+FFFD, and the event is still valid JSON */
	jc_call(c, 1, "exec", "import os\nos.write(1, b'\\xff\\xfe ok')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "\xef\xbf\xbd\xef\xbf\xbd ok");
	jreply_free(&r);
	jc_call(c, 2, "exec", "import os\nos.write(2, b'bad \\xc3(')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.err, "bad \xef\xbf\xbd(");
	jreply_free(&r);

	/* a character split across two writes arrives whole */
	assert_exec_out(c, 3,
	                "import os, time\ne = '\\u00e9\\u20ac'.encode()\n"
	                "os.write(1, e[:1]); time.sleep(0.1); os.write(1, e[1:3])\n"
	                "time.sleep(0.1); os.write(1, e[3:])",
	                "\xc3\xa9\xe2\x82\xac");
	/* non-ASCII through print, both streams */
	jc_call(c, 4, "exec",
	        "import sys\nprint('h\\u00e9llo \\u2713 \\U0001F600')\n"
	        "print('\\u00fc', file=sys.stderr)",
	        &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\n");
	ck_assert_str_eq(r.err, "\xc3\xbc\n");
	jreply_free(&r);
	/* a cut-off sequence at the very end of a request is repaired too */
	jc_call(c, 5, "exec", "import os\nos.write(1, 'x\\u00e9'.encode()[:2])", &r);
	jreply_assert_ok(&r);
	ck_assert_msg(!strcmp(r.out, "x\xef\xbf\xbd"), "got \"%s\"", r.out);
	jreply_free(&r);
	/* and it does not leak into the next request's output */
	assert_exec_out(c, 6, "print('next')", "next\n");

	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Python prints, native writes and child processes reach the client in
 * order, all before the done. */
START_TEST(output_order)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	char *expect = NULL;
	size_t n = 0;
	FILE *f;
	int i;

	assert_exec_out(c, 1,
	                "import os, sys\nprint('one')\nos.write(1, b'two\\n')\n"
	                "os.system('echo native')\nsys.stdout.write('four')\nprint()\n"
	                "os.system('echo last')",
	                "one\ntwo\nnative\nfour\nlast\n");
	jc_call(c, 2, "exec",
	        "import subprocess\nsubprocess.run(['sh', '-c', 'echo from-child; "
	        "echo child-err >&2'])\nprint('after')",
	        &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "from-child\nafter\n");
	ck_assert_str_eq(r.err, "child-err\n");
	jreply_free(&r);

	/* 2000 lines in order */
	f = open_memstream(&expect, &n);
	for (i = 0; i < 2000; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
	assert_exec_out(c, 3, "for i in range(2000):\n    print('line', i)", expect);
	free(expect);

	/* unflushed, no newline: still delivered before the done */
	assert_exec_out(c, 4, "import sys\nsys.stdout.write('no newline')", "no newline");
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* The done goes to the client after all the request wrote, native writes
 * of every size to both streams, one request after the other. */
START_TEST(output_precedes_done_every_time)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	char code[160], out[32], err[32];
	struct jreply r;
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(code, sizeof(code),
		         "import os\nos.write(1, b'o%d\\n' + b'.' * %d)\n"
		         "os.write(2, b'e%d\\n')",
		         i, (i * 37) % 3000, i);
		jc_call(c, i + 1, "exec", code, &r);
		jreply_assert_ok(&r);
		snprintf(out, sizeof(out), "o%d\n", i);
		snprintf(err, sizeof(err), "e%d\n", i);
		ck_assert_msg(!strncmp(r.out, out, strlen(out)) &&
		                      strlen(r.out) == strlen(out) + (size_t)((i * 37) % 3000),
		              "request %d: stdout before its done was %zu bytes", i, strlen(r.out));
		ck_assert_str_eq(r.err, err);
		jreply_free(&r);
	}
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* The same for a client that reads slowly: hotloadd stops reading the
 * worker's output while the client's queue is full, so when the done comes
 * output may still wait in the pipe (a quarter of a MiB when this test was
 * written against a daemon that skipped the drain). All of it goes first. */
START_TEST(output_precedes_done_for_a_slow_reader)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	size_t got = 0;
	json_t *m;
	int round;

	for (round = 0; round < 3; round++) {
		got = 0;
		jc_send_exec(c, round + 1,
		             "import os, sys\nfor i in range(12):\n"
		             "    os.write(1, b'n' * 1048576)\n"
		             "    sys.stdout.write('p' * 65536)\n",
		             0);
		for (;;) {
			const char *event;

			m = jc_next_output(c, 60000);
			ck_assert_ptr_nonnull(m);
			event = json_string_value(json_object_get(m, "event"));
			ck_assert_ptr_nonnull(event);
			if (!strcmp(event, "done")) {
				ck_assert(json_is_true(json_object_get(m, "ok")));
				json_decref(m);
				break;
			}
			ck_assert_str_eq(event, "stdout");
			got += strlen(json_string_value(json_object_get(m, "data")));
			json_decref(m);
			itest_sleep_ms(1); /* a slow reader: hotloadd's queue fills */
		}
		ck_assert_msg(got == 12 * (1048576 + 65536),
		              "round %d: %zu bytes of stdout before the done, not %d", round, got,
		              12 * (1048576 + 65536));
	}
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(one_mib_output)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	size_t i;
	char *expect = malloc(MiB + 1);

	for (i = 0; i < MiB / 64; i++) {
		snprintf(expect + i * 64, 65, "%08zu", i);
		memset(expect + i * 64 + 8, 'y', 55);
		expect[i * 64 + 63] = '\n';
	}
	expect[MiB] = '\0';
	jc_call_with(c, 1, "exec", "for i in range(16384):\n    print('%08d' % i + 'y' * 55)", NULL,
	             60000, &r);
	jreply_assert_ok(&r);
	ck_assert_uint_eq(strlen(r.out), MiB);
	ck_assert_msg(!strcmp(r.out, expect), "1 MiB of output arrived changed");
	jreply_free(&r);

	/* the same through a single write */
	jc_call_with(c, 2, "exec", "import sys\nsys.stdout.write('z' * 1048576)", NULL, 60000, &r);
	jreply_assert_ok(&r);
	ck_assert_uint_eq(strlen(r.out), MiB);
	ck_assert_uint_eq(strspn(r.out, "z"), MiB);
	jreply_free(&r);
	free(expect);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* Two clients of one single-worker target: the second waits its turn and
 * each gets only its own output. */
START_TEST(two_concurrent_clients)
{
	struct itest_opts o = {.tcp = 1};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *a = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *b = jc_open(d, ITEST_TCP, JSON_HDR);
	struct jreply ra, rb;

	assert_exec_out(a, 1, "print('warm')", "warm\n");
	jc_send_line(a, "{\"id\":2,\"op\":\"exec\",\"code\":\"import time\\nprint('A1')\\n"
	                "time.sleep(0.5)\\nprint('A2')\"}");
	itest_sleep_ms(100);
	jc_send_line(b, "{\"id\":2,\"op\":\"exec\",\"code\":\"print('B')\"}");
	jc_collect(b, 2, 0, &rb);
	jc_collect(a, 2, 0, &ra);
	jreply_assert_ok(&ra);
	jreply_assert_ok(&rb);
	ck_assert_str_eq(ra.out, "A1\nA2\n");
	ck_assert_str_eq(rb.out, "B\n");
	jreply_free(&ra);
	jreply_free(&rb);
	jc_close(a);
	jc_close(b);
	itest_stop(d);
}
END_TEST

/* The next message on c is an event (done or error) whose error message
 * contains needle, and the last one: the connection ends. Closes c. */
static void
expect_last_error(struct jclient *c, const char *event, const char *needle)
{
	json_t *ev = jc_next(c, 0);

	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "event")), event);
	itest_assert_contains(
	        json_string_value(json_object_get(json_object_get(ev, "error"), "message")),
	        needle);
	json_decref(ev);
	jc_expect_eof(c, 0);
	jc_close(c);
}

/* A script far larger than the agent's socket takes at once (the rest is
 * queued and written as the agent reads it) arrives whole and in order;
 * the next request on the connection runs after it. */
START_TEST(large_code_reaches_the_agent_whole)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	const size_t lines = 3 * MiB / 8;
	struct buf code = BUF_INIT;
	char *line, *want;
	struct jreply r;
	size_t i;

	buf_puts(&code, "x = '''\\\n");
	for (i = 0; i < lines; i++)
		buf_printf(&code, "%07zu\n", i);
	buf_puts(&code, "'''\nprint(len(x), all(x[i * 8:i * 8 + 8] == '%07d\\n' % i\n"
	                "                   for i in range(len(x) // 8)))\n");
	line = itest_strf("{\"id\":1,\"op\":\"exec\",\"code_bytes\":%zu}\n", code.len);
	want = itest_strf("%zu True\n", lines * 8);
	itest_send_str(c->fd, line);
	itest_send_all(c->fd, code.data, code.len);
	itest_send_str(c->fd, "{\"id\":2,\"op\":\"eval\",\"code\":\"6*7\"}\n");
	jc_collect(c, 1, 0, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, want);
	jreply_free(&r);
	jc_collect(c, 2, 0, &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")), 42);
	jreply_free(&r);
	free(want);
	free(line);
	buf_free(&code);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* code_bytes: the code follows the line as it is, in pieces too; lines in
 * it are code, not requests; a request refused for another reason still
 * takes its bytes; a count that cannot be right, or a connection that ends
 * inside the code, is an error and the end of the connection. */
START_TEST(framed_code)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	const char *code =
	        "print('caf\xc3\xa9')\n# {\"id\":9,\"op\":\"ping\"}\nprint(len('x' * 3))\n";
	char *line = itest_strf("{\"id\":1,\"op\":\"exec\",\"code_bytes\":%zu}\n", strlen(code));
	struct jreply r;
	size_t half = strlen(code) / 2;

	itest_send_str(c->fd, line);
	itest_send_all(c->fd, code, half);
	itest_sleep_ms(100); /* the rest comes in a read of its own */
	itest_send_all(c->fd, code + half, strlen(code) - half);
	/* right after the code: the next request, and one refused for its ns
	 * whose code must not be taken for lines */
	itest_send_str(c->fd, "{\"id\":2,\"op\":\"eval\",\"code_bytes\":3}\n6*7"
	                      "{\"id\":3,\"op\":\"exec\",\"ns\":\"x\",\"code_bytes\":5}\n{}{}\n"
	                      "{\"id\":4,\"op\":\"exec\",\"code_bytes\":0}\n");
	jc_collect(c, 1, 0, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "caf\xc3\xa9\n3\n");
	jreply_free(&r);
	jc_collect(c, 2, 0, &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")), 42);
	jreply_free(&r);
	jc_collect(c, 3, 0, &r);
	jreply_assert_error(&r, "BadRequest");
	jreply_free(&r);
	jc_collect(c, 4, 0, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);

	/* not UTF-8: refused, and the connection serves on */
	itest_send_str(c->fd, "{\"id\":5,\"op\":\"exec\",\"code_bytes\":2}\n\xff\xfe");
	jc_collect(c, 5, 0, &r);
	jreply_assert_error(&r, "BadRequest");
	itest_assert_contains(jreply_error_str(&r, "message"), "not valid UTF-8");
	jreply_free(&r);
	/* both code and code_bytes */
	itest_send_str(c->fd, "{\"id\":6,\"op\":\"exec\",\"code\":\"1\",\"code_bytes\":1}\n2");
	jc_collect(c, 6, 0, &r);
	jreply_assert_error(&r, "BadRequest");
	jreply_free(&r);

	/* a count past the limit: answered, then the connection ends */
	itest_send_str(c->fd, "{\"id\":7,\"op\":\"exec\",\"code_bytes\":99999999999}\n");
	expect_last_error(c, "done", "the code is 99999999999 bytes, more than the ");

	/* a count that is not one */
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	itest_send_str(c->fd, "{\"id\":7,\"op\":\"exec\",\"code_bytes\":-1}\n");
	expect_last_error(c, "done", "'code_bytes' must be");
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	itest_send_str(c->fd, "{\"id\":7,\"op\":\"exec\",\"code_bytes\":\"12\"}\n");
	expect_last_error(c, "done", "'code_bytes' must be");

	/* a line that is not valid JSON but gives code_bytes: its code, here
	 * a request line, must not run, and the connection ends */
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	itest_send_str(c->fd, "{\"id\":7,\"id\":8,\"op\":\"exec\",\"code_bytes\":55}\n"
	                      "{\"id\":\"INJ\",\"op\":\"exec\",\"code\":\"print('injected')\"}\n");
	expect_last_error(c, "done", "; the line may give code_bytes, so where the next");
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	itest_send_str(c->fd, "{\"id\":7,\"op\":\"exec\",\"code_bytes\":99999999999999999999}\n"
	                      "{\"id\":\"INJ\",\"op\":\"exec\",\"code\":\"print('injected')\"}\n");
	expect_last_error(c, "done", "invalid JSON at column ");

	/* the client goes before its code is all there */
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	itest_send_str(c->fd, "{\"id\":8,\"op\":\"exec\",\"code_bytes\":100}\nprint(1)");
	itest_half_close(c->fd);
	expect_last_error(c, "error", "ended before the request's code did");

	/* the daemon served on */
	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	assert_exec_out(c, 9, "print('still here')", "still here\n");
	jc_close(c);
	free(line);
	itest_stop(d);
}
END_TEST

/* client=NAME in the header: each request of the connection, and each
 * control op, is logged at info level under that name (an MCP server
 * passes its client's name so); without it at debug; never the code. */
START_TEST(client_name_in_log)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR " client=agent-x/1.2");
	struct jclient *ctl = jc_open(d, ITEST_UNIX, "hotload mode=json client=agent-x/1.2");
	struct jclient *anon = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jclient *bad;
	struct jreply r;
	char *reply, *log;
	json_t *ev;

	assert_exec_out(c, 7, "secret_4711 = 1\nprint('hi')", "hi\n");
	jc_call(ctl, 1, "status", NULL, &r);
	jreply_free(&r);
	assert_exec_out(anon, 3, "print(3)", "3\n");
	reply = itest_raw(d, ITEST_UNIX, "python:3 client=raw-agent", "print(2)\n");
	ck_assert_str_eq(reply, "OUTPUT: \n2\n");
	free(reply);
	ck_assert(itest_wait_file_contains(
	        d->log,
	        "hotloadd: python:3: request 7: exec, 27 bytes of code, from client agent-x/1.2",
	        5000));
	ck_assert(itest_wait_file_contains(
	        d->log, "hotloadd: hotload: request 1: status, from client agent-x/1.2", 5000));
	ck_assert(itest_wait_file_contains(d->log,
	                                   "hotloadd: debug: python:3: request 3: exec, 8 bytes of "
	                                   "code, from client (unnamed)",
	                                   5000));
	ck_assert(itest_wait_file_contains(
	        d->log, "hotloadd: python:3: raw request, 9 bytes of code, from client raw-agent",
	        5000));
	log = itest_daemon_log(d);
	ck_assert_msg(!strstr(log, "secret_4711"), "the code reached the log");
	free(log);

	/* a name a log should not carry is a BadHeader */
	bad = jc_open(d, ITEST_UNIX,
	              JSON_HDR " client=a\xc2\x85"
	                       "b");
	ev = jc_next(bad, 5000);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "event")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "error"), "type")),
	                 "BadHeader");
	json_decref(ev);
	jc_close(bad);
	jc_close(anon);
	jc_close(ctl);
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, several_requests_one_connection);
	tcase_add_test(tc, pipelined_requests);
	tcase_add_test(tc, streaming);
	tcase_add_test(tc, namespaces);
	tcase_add_test(tc, eval_values);
	tcase_add_test(tc, errors_and_file_names);
	tcase_add_test(tc, output_encoding);
	tcase_add_test(tc, output_order);
	tcase_add_test(tc, output_precedes_done_every_time);
	tcase_add_test(tc, output_precedes_done_for_a_slow_reader);
	tcase_add_test(tc, one_mib_output);
	tcase_add_test(tc, two_concurrent_clients);
	tcase_add_test(tc, client_name_in_log);
	tcase_add_test(tc, framed_code);
	tcase_add_test(tc, large_code_reaches_the_agent_whole);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
