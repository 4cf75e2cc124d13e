/* itest_limits.c - bad input and limits: each bad client gets a clear error
 * on its own connection while a good connection keeps working */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "itest.h"
#include "utf8.h"

#define MiB (1024 * 1024)
#define JSON_HDR "python:3 mode=json"

/* A JSON connection that must keep working through the bad input. */
static struct jclient *
good_open(struct itest_daemon *d)
{
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;

	jc_call(c, 1, "exec", "print('alive')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "alive\n");
	jreply_free(&r);
	return c;
}

static void
good_check(struct jclient *c, json_int_t id)
{
	struct jreply r;

	jc_call(c, id, "exec", "print('still alive')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "still alive\n");
	jreply_free(&r);
}

/* A raw reply must be "ERRORS: \n<type>: <message>\n" and nothing else. */
static void
assert_raw_error(const char *reply, const char *type)
{
	char *prefix = itest_strf("ERRORS: \n%s: ", type);
	size_t n = strlen(reply);

	ck_assert_msg(!strncmp(reply, prefix, strlen(prefix)), "expected \"%s…\", got \"%s\"",
	              prefix, reply);
	ck_assert_msg(n > strlen(prefix) && reply[n - 1] == '\n',
	              "no message or no final "
	              "newline: \"%s\"",
	              reply);
	free(prefix);
}

/* A JSON-mode header error: one {"event":"error"} then the daemon closes.
 * Returns the message (new string). */
static char *
json_header_error(struct itest_daemon *d, const char *header, const char *type)
{
	struct jclient *c = jc_open(d, ITEST_UNIX, header);
	json_t *m = jc_next(c, 0);
	json_t *err;
	char *s, *msg;

	ck_assert_msg(m != NULL, "the daemon closed without an error event for '%s'", header);
	s = json_dumps(m, JSON_COMPACT);
	err = json_object_get(m, "error");
	ck_assert_msg(
	        !strcmp(json_string_value(json_object_get(m, "event")) ?: "", "error") &&
	                !strcmp(json_string_value(json_object_get(err, "type")) ?: "", type) &&
	                json_is_string(json_object_get(err, "message")),
	        "header '%s': expected an error event of type %s, got %s", header, type, s);
	msg = strdup(json_string_value(json_object_get(err, "message")));
	free(s);
	json_decref(m);
	jc_expect_eof(c, 5000);
	jc_close(c);
	return msg;
}

START_TEST(unknown_target)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *good = good_open(d);
	char *r;

	r = itest_raw(d, ITEST_UNIX, "nosuchdcc:1", "print(1)\n");
	assert_raw_error(r, "UnknownTarget");
	itest_assert_contains(r, "nosuchdcc");
	itest_assert_contains(r, "python"); /* lists the known ones */
	free(r);
	good_check(good, 2);
	r = json_header_error(d, "nosuchdcc mode=json", "UnknownTarget");
	itest_assert_contains(r, "nosuchdcc");
	free(r);
	good_check(good, 3);
	jc_close(good);
	itest_stop(d);
}
END_TEST

START_TEST(not_installed)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *good = good_open(d);
	char *r;

	r = itest_raw(d, ITEST_UNIX, "mayapy:1999", "print(1)\n");
	assert_raw_error(r, "NotInstalled");
	itest_assert_contains(r, "mayapy:1999");
	/* the message lists where it looked (the hint patterns) */
	itest_assert_contains(r, "/usr/autodesk/maya");
	itest_assert_contains(r, "/bin/mayapy\n");
	free(r);
	good_check(good, 2);
	r = json_header_error(d, "maya:1999 mode=json", "NotInstalled");
	itest_assert_contains(r, "/usr/autodesk/maya");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "hython:99.0", "print(1)\n");
	assert_raw_error(r, "NotInstalled");
	itest_assert_contains(r, "/opt/hfs");
	free(r);
	good_check(good, 3);
	jc_close(good);
	itest_stop(d);
}
END_TEST

START_TEST(malformed_headers)
{
	static const char *const bad[] = {
	        "py thon:3",
	        "python:3 bogus=1",
	        "python:3 mode=xml",
	        "python:3 ns=weird",
	        "python:3 mode",
	        ":3",
	        "python:",
	        "python:3:4",
	        "pyth\xc3\xb6n:3",
	        "python:3 =json",
	        "",
	        "   ",
	        "python:3\tmode=raw",
	        "python:3 file=",
	};
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *good = good_open(d);
	size_t i;
	char *r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *hdr = itest_strf("%s\n", bad[i]);

		r = itest_raw(d, ITEST_UNIX, hdr, "print('must not run')\n");
		ck_assert_msg(!strncmp(r, "ERRORS: \nBadHeader: ", 20),
		              "header \"%s\": expected a BadHeader error, got \"%s\"", bad[i], r);
		itest_assert_not_contains(r, "must not run");
		free(r);
		free(hdr);
	}
	good_check(good, 2);
	/* with mode=json the error comes as a JSON event */
	r = json_header_error(d, "python:3 mode=json bogus=1", "BadHeader");
	itest_assert_contains(r, "bogus");
	free(r);
	r = json_header_error(d, "py thon:3 mode=json", "BadHeader");
	free(r);
	/* the control target has no raw mode */
	r = itest_raw(d, ITEST_UNIX, "hotload", "");
	assert_raw_error(r, "BadHeader");
	free(r);
	good_check(good, 3);
	jc_close(good);
	itest_stop(d);
}
END_TEST

START_TEST(header_too_long)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *good = good_open(d);
	char *hdr, *pad = malloc(2001), *r;
	int fd;

	memset(pad, 'a', 2000);
	pad[2000] = '\0';
	/* a complete line over 1024 bytes */
	hdr = itest_strf("python:3 file=%.1100s\n", pad);
	r = itest_raw(d, ITEST_UNIX, hdr, "print(1)\n");
	assert_raw_error(r, "BadHeader");
	free(r);
	free(hdr);
	/* exactly 1024 bytes with its newline is fine, 1025 is not */
	hdr = itest_strf("python:3 file=%.*s\n", 1024 - 15, pad);
	ck_assert_uint_eq(strlen(hdr), 1024);
	r = itest_raw(d, ITEST_UNIX, hdr, "print(1)\n");
	ck_assert_msg(!strncmp(r, "ERRORS: \nBadHeader: ", 20) && strstr(r, "file must be"),
	              "a 1024-byte header with a 1009-byte file name: %s", r);
	free(r);
	free(hdr);
	/* no newline at all: refused once 1024 bytes are in, without waiting
	 * for the end of the line or of the connection */
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_all(fd, "python:3 file=", 14);
	(void)itest_try_send_all(fd, pad, 2000, 5000); /* refused at 1024 */
	r = itest_read_all(fd, 5000, NULL);
	close(fd);
	assert_raw_error(r, "BadHeader");
	itest_assert_contains(r, "1024");
	free(r);
	good_check(good, 2);
	free(pad);
	jc_close(good);
	itest_stop(d);
}
END_TEST

/* A refusal that quotes the client's header is valid UTF-8 however the
 * header was (an invalid byte, a character cut by the message's length),
 * and comes JSON-framed whenever the header asked for mode=json. */
START_TEST(header_refusals_utf8)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *good = good_open(d);
	struct buf header = BUF_INIT;
	char *r, *msg;
	size_t len;
	int fd, i;

	/* jc_next fails on anything that is not valid JSON, so valid UTF-8 */
	msg = json_header_error(d, "py\xffthon:3 mode=json", "BadHeader");
	ck_assert_msg(strstr(msg, "py\xef\xbf\xbdthon:3") != NULL, "message: %s", msg);
	free(msg);
	buf_puts(&header, "python:3 mode=json ns=a");
	for (i = 0; i < 300; i++)
		buf_puts(&header, "\xc3\xa9"); /* é, cut somewhere by the message's limit */
	msg = json_header_error(d, header.data, "BadHeader");
	free(msg);
	buf_free(&header);

	r = itest_raw_n(d, ITEST_UNIX, "py\xffthon:3", "print(1)", 8, 5000, &len);
	assert_raw_error(r, "BadHeader");
	ck_assert_msg(utf8_valid_len(r, len) == len, "raw refusal is not valid UTF-8: %s", r);
	free(r);

	/* the header ends at EOF, without its newline, and asked for JSON */
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3 mode=json");
	itest_half_close(fd);
	r = itest_read_all(fd, 5000, NULL);
	close(fd);
	ck_assert_msg(!strncmp(r, "{\"event\":\"error\"", 16) && strstr(r, "BadHeader"),
	              "expected a JSON error event, got \"%s\"", r);
	free(r);
	good_check(good, 2);
	jc_close(good);
	itest_stop(d);
}
END_TEST

START_TEST(eof_before_header_end)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *good = good_open(d);
	char *r;
	int fd;

	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3");
	itest_half_close(fd);
	r = itest_read_all(fd, 5000, NULL);
	close(fd);
	assert_raw_error(r, "BadHeader");
	free(r);
	/* a client that connects and goes: nothing to answer, nothing breaks */
	fd = itest_connect(d, ITEST_UNIX);
	close(fd);
	fd = itest_connect(d, ITEST_UNIX);
	itest_half_close(fd);
	r = itest_read_all(fd, 5000, NULL);
	close(fd);
	ck_assert_str_eq(r, "");
	free(r);
	/* one that goes in the middle of the header line */
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3 mode=js");
	close(fd);
	good_check(good, 2);
	jc_close(good);
	itest_stop(d);
}
END_TEST

/* Per-request errors answer with a done and keep the connection usable. */
START_TEST(bad_requests)
{
	static const struct {
		const char *line;
		int id; /* 0: the done's id must be null */
	} bad[] = {
	        {"{\"id\":1,", 0},
	        {"not json at all", 0},
	        {"[1, 2]", 0},
	        {"{\"op\":\"ping\"}", 0},
	        {"{\"id\":5,\"op\":\"frobnicate\"}", 5},
	        {"{\"id\":6,\"op\":\"exec\"}", 6},
	        {"{\"id\":7,\"op\":\"exec\",\"code\":5}", 7},
	        {"{\"id\":8,\"op\":\"exec\",\"code\":\"print(1)\",\"ns\":\"weird\"}", 8},
	        {"{\"id\":9}", 9},
	        {"{\"id\":10,\"op\":\"eval\"}", 10},
	        {"{\"id\":11,\"op\":\"exec\",\"code\":\"print(\\\"\xff\\\")\"}", 0},
	};
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = good_open(d);
	struct jreply r;
	json_t *m;
	size_t i;
	char *s;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		jc_send_line(c, bad[i].line);
		m = jc_next(c, 0);
		ck_assert_msg(m != NULL, "the daemon closed the connection on \"%s\"", bad[i].line);
		s = json_dumps(m, JSON_COMPACT);
		ck_assert_msg(
		        !strcmp(json_string_value(json_object_get(m, "event")) ?: "", "done") &&
		                json_is_false(json_object_get(m, "ok")),
		        "\"%s\": expected a done with ok:false, got %s", bad[i].line, s);
		ck_assert_msg(!strcmp(json_string_value(
		                              json_object_get(json_object_get(m, "error"), "type"))
		                              ?: "",
		                      "BadRequest"),
		              "\"%s\": expected BadRequest, got %s", bad[i].line, s);
		if (bad[i].id)
			ck_assert_msg(json_integer_value(json_object_get(m, "id")) == bad[i].id,
			              "\"%s\": wrong id in %s", bad[i].line, s);
		else
			ck_assert_msg(json_is_null(json_object_get(m, "id")),
			              "\"%s\": expected \"id\":null in %s", bad[i].line, s);
		free(s);
		json_decref(m);
	}
	/* blank lines are ignored */
	jc_send_line(c, "");
	jc_send_line(c, "   ");
	good_check(c, 20);
	jc_call(c, 21, "ping", NULL, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* The next message on fd (a JSON-mode connection) is an error of type; fd
 * is closed. */
static void
expect_json_error(int fd, const char *type)
{
	struct jclient *jc = jc_adopt(fd);
	json_t *m = jc_next(jc, 10000);
	char *line;

	ck_assert_ptr_nonnull(m);
	line = json_dumps(m, JSON_COMPACT);
	ck_assert_msg(
	        !strcmp(json_string_value(json_object_get(json_object_get(m, "error"), "type"))
	                        ?: "",
	                type),
	        "expected a %s error, got %s", type, line);
	free(line);
	json_decref(m);
	jc_close(jc);
}

START_TEST(payload_too_large)
{
	struct itest_opts o = {.max_payload = "1M", .tcp = 1};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *good = good_open(d);
	size_t n = 2 * MiB, i;
	char *payload = malloc(n + 1), *r;
	int fd;

	/* under the limit: runs */
	memcpy(payload, "x = '", 5);
	memset(payload + 5, 'q', 900 * 1024);
	strcpy(payload + 5 + 900 * 1024, "'\nprint(len(x))\n");
	r = itest_raw_n(d, ITEST_UNIX, "python:3", payload, strlen(payload), 0, NULL);
	ck_assert_str_eq(r, "OUTPUT: \n921600\n");
	free(r);

	/* over it: refused, the rest of the payload unread */
	for (i = 0; i < n; i++)
		payload[i] = (char)('a' + i % 26);
	payload[n] = '\0';
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3\n");
	(void)itest_try_send_all(fd, payload, n, 10000); /* may stop at EPIPE */
	r = itest_read_all(fd, 10000, NULL);
	close(fd);
	assert_raw_error(r, "PayloadTooLarge");
	free(r);
	good_check(good, 2);

	/* a JSON request line over the limit */
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, JSON_HDR "\n{\"id\":1,\"op\":\"exec\",\"code\":\"");
	(void)itest_try_send_all(fd, payload, n, 10000);
	expect_json_error(fd, "PayloadTooLarge");
	good_check(good, 3);
	free(payload);
	jc_close(good);
	itest_stop(d);
}
END_TEST

/* A whole JSON line over the limit that the daemon reads in one go (the
 * client's socket buffer holds all of it, and the daemon's reads grow) is
 * refused like one that trickles in, not run. */
START_TEST(json_line_over_limit_at_once)
{
	struct itest_opts o = {.max_payload = "1M"};
	struct itest_daemon *d = itest_start(&o);
	struct buf b = BUF_INIT;
	int fd, big = 4 * MiB;

	buf_puts(&b, JSON_HDR "\n{\"id\":1,\"op\":\"exec\",\"code\":\"x = '");
	while (b.len < 3 * MiB / 2)
		buf_puts(&b, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq");
	buf_puts(&b, "'; print('ran')\"}\n");
	fd = itest_connect(d, ITEST_UNIX);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	(void)itest_try_send_all(fd, b.data, b.len, 10000);
	expect_json_error(fd, "PayloadTooLarge");
	buf_free(&b);
	itest_stop(d);
}
END_TEST

/* A client that goes away while its request runs: the request finishes
 * unheard, the worker stays, others are served. */
START_TEST(client_gone_mid_request)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *good = good_open(d), *c;
	long pid = jc_worker_pid(good, 2);
	int fd;

	c = jc_open(d, ITEST_UNIX, JSON_HDR);
	jc_send_line(c, "{\"id\":1,\"op\":\"exec\",\"code\":\"import time\\nfor i in "
	                "range(50):\\n    print(i)\\n    time.sleep(0.01)\"}");
	itest_sleep_ms(150);
	jc_close(c);
	fd = itest_connect(d, ITEST_UNIX);
	itest_send_str(fd, "python:3\nimport time\nprint('x' * 100000)\ntime.sleep(0.3)\n");
	itest_half_close(fd);
	itest_sleep_ms(100);
	close(fd);
	/* queued behind the abandoned ones, then served by the same worker */
	good_check(good, 3);
	ck_assert_int_eq(jc_worker_pid(good, 4), pid);
	jc_close(good);
	itest_stop(d);
}
END_TEST

/* A client that reads slowly still gets all of a large output. */
START_TEST(slow_reader)
{
	struct itest_daemon *d = itest_start(NULL);
	int fd = itest_connect(d, ITEST_UNIX);
	size_t len;
	char *r;

	itest_send_str(fd, "python:3\nimport sys\nfor i in range(64):\n"
	                   "    sys.stdout.write(str(i % 10) * 131072)\n");
	itest_half_close(fd);
	itest_sleep_ms(1500);
	r = itest_read_all(fd, 30000, &len);
	close(fd);
	ck_assert_uint_eq(len, 9 + 8 * MiB);
	ck_assert(!strncmp(r, "OUTPUT: \n0000", 13));
	ck_assert(r[9 + 8 * MiB - 1] == '3');
	free(r);
	itest_stop(d);
}
END_TEST

/* A reply that is all written (the request is done) but still waits in
 * the daemon for a client that reads late (a pager the user has not
 * scrolled): it arrives whole, however late. */
START_TEST(late_reader_after_reply)
{
	struct itest_daemon *d = itest_start(NULL);
	int fd = itest_connect(d, ITEST_UNIX);
	size_t len;
	char *r;

	/* under the daemon's 1 MiB high-water mark, above the socket's buffer */
	itest_send_str(fd, "python:3\nimport sys\nsys.stdout.write('7' * 900000)\n");
	itest_half_close(fd);
	itest_sleep_ms(7000);
	r = itest_read_all(fd, 30000, &len);
	close(fd);
	ck_assert_uint_eq(len, 9 + 900000);
	ck_assert(r[9 + 900000 - 1] == '7');
	free(r);
	itest_stop(d);
}
END_TEST

/* limits.max_connections: one more is told why and closed; the open ones
 * keep working, and a slot that frees up can be used again. */
START_TEST(too_many_connections)
{
	struct itest_opts o = {.max_connections = 2};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *a = good_open(d), *b = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	char *reply;
	long long end;

	jc_call(b, 1, "ping", NULL, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	reply = itest_raw(d, ITEST_UNIX, "python:3", "print('one too many')\n");
	assert_raw_error(reply, "TooManyConnections");
	free(reply);
	good_check(a, 2);
	good_check(b, 3);
	jc_close(b);
	/* the daemon notices the close soon, not at once */
	end = itest_now_ms() + 5000;
	for (;;) {
		reply = itest_raw(d, ITEST_UNIX, "python:3", "print('fits again')\n");
		if (!strcmp(reply, "OUTPUT: \nfits again\n") || itest_now_ms() > end)
			break;
		free(reply);
		itest_sleep_ms(50);
	}
	ck_assert_str_eq(reply, "OUTPUT: \nfits again\n");
	free(reply);
	good_check(a, 4);
	jc_close(a);
	itest_stop(d);
}
END_TEST

/* An empty directory in hooks_dirs is not an error. */
START_TEST(empty_hooks_dir)
{
	/* Regression: hookset_load_dir() once called qsort(NULL, 0, …) here
	 * and UBSan stopped hotloadd at start-up. */
	struct itest_opts o = {.empty_hooks_dir = 1};
	struct itest_daemon *d = itest_start(&o);
	char *r = itest_raw(d, ITEST_UNIX, "python:3", "print('ok')\n");

	ck_assert_str_eq(r, "OUTPUT: \nok\n");
	free(r);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unknown_target);
	tcase_add_test(tc, not_installed);
	tcase_add_test(tc, malformed_headers);
	tcase_add_test(tc, header_too_long);
	tcase_add_test(tc, eof_before_header_end);
	tcase_add_test(tc, header_refusals_utf8);
	tcase_add_test(tc, late_reader_after_reply);
	tcase_add_test(tc, json_line_over_limit_at_once);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, payload_too_large);
	tcase_add_test(tc, client_gone_mid_request);
	tcase_add_test(tc, slow_reader);
	tcase_add_test(tc, too_many_connections);
	tcase_add_test(tc, empty_hooks_dir);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
