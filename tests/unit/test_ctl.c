/* test_ctl.c - hotloadctl's pieces that need no daemon: durations, targets,
 * exit statuses, tables, the status table, matching targets, log lines
 *
 * Linked with hotloadctl's command library (clients/), as hotloadctl is. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd-logs.h"
#include "cmd-status.h"
#include "ctl-dap.h"
#include "ctl-table.h"
#include "ctl.h"

/* ctl_fmt_duration of secs. */
static const char *
dur(double secs)
{
	static char out[64];

	ctl_fmt_duration(secs, out, sizeof(out));
	return out;
}

START_TEST(test_duration)
{
	ck_assert_str_eq(dur(0), "0s");
	ck_assert_str_eq(dur(3.7), "3s");
	ck_assert_str_eq(dur(59.99), "59s");
	ck_assert_str_eq(dur(60), "1m0s");
	ck_assert_str_eq(dur(252), "4m12s");
	ck_assert_str_eq(dur(7380), "2h3m");
	ck_assert_str_eq(dur(90061), "1d1h");
	ck_assert_str_eq(dur(-1), "-");
}
END_TEST

START_TEST(test_check_target)
{
	ck_assert_int_eq(ctl_check_target("python:3"), 0);
	ck_assert_int_eq(ctl_check_target("maya"), 0);
	ck_assert_int_eq(ctl_check_target("hython:20.5.332"), 0);
	/* what the header would read as options, or cannot read at all */
	ck_assert_int_eq(ctl_check_target("python:3 mode=raw"), CTL_EXIT_USAGE);
	ck_assert_int_eq(ctl_check_target("py thon"), CTL_EXIT_USAGE);
	ck_assert_int_eq(ctl_check_target(""), CTL_EXIT_USAGE);
	ck_assert_int_eq(ctl_check_target("a\tb"), CTL_EXIT_USAGE);
}
END_TEST

/* ctl_error_exit of an error of type. */
static int
exit_for(const char *type)
{
	json_t *e = json_pack("{s:s, s:s}", "type", type, "message", "m");
	int r = ctl_error_exit(e);

	json_decref(e);
	return r;
}

START_TEST(test_error_exit)
{
	ck_assert_int_eq(exit_for("UnknownTarget"), CTL_EXIT_REFUSED);
	ck_assert_int_eq(exit_for("NotInstalled"), CTL_EXIT_REFUSED);
	ck_assert_int_eq(exit_for("WorkerStartFailed"), CTL_EXIT_FAILED);
	ck_assert_int_eq(exit_for("ZeroDivisionError"), CTL_EXIT_FAILED);
	ck_assert_int_eq(ctl_error_exit(NULL), CTL_EXIT_FAILED);
}
END_TEST

START_TEST(test_table)
{
	const char *h[3] = {"A", "BB", "C"}, *r1[3] = {"long cell", NULL, "x"},
	           *r2[3] = {"é", "y", ""};
	struct ctltable *t = ctltable_new(3);
	struct buf out = BUF_INIT;

	ctltable_add(t, h);
	ctltable_add(t, r1);
	ctltable_add(t, r2);
	ctltable_print(t, &out);
	/* NULL is "-", a UTF-8 letter one column, trailing empties unpadded */
	ck_assert_str_eq(out.data, "A          BB  C\n"
	                           "long cell  -   x\n"
	                           "é          y\n");
	ctltable_free(t);
	ctltable_free(NULL);
	buf_free(&out);
}
END_TEST

/* The sample status of docs/protocol.md, with a failed target added. */
static const char sample_status[] =
        "{\"daemon\":{\"pid\":29377,\"version\":\"0.1.0\",\"uptime_s\":252.75,\"connections\":1},"
        "\"targets\":[{\"target\":\"python:3\",\"hook\":\"python\",\"version\":\"3\","
        "\"executable\":\"/usr/bin/python3\",\"state\":\"ok\",\"restarts\":0,\"queue\":0,"
        "\"last_exit\":null,\"workers\":[{\"id\":1,\"state\":\"idle\",\"pid\":29459,"
        "\"pgid\":29458,\"uptime_s\":7380.24,\"requests\":2,\"rss_bytes\":16445440}]},"
        "{\"target\":\"python:3.11\",\"hook\":\"python\",\"version\":\"3.11\",\"state\":\"ok\","
        "\"restarts\":0,\"queue\":0,\"workers\":[]},"
        "{\"target\":\"maya:2024\",\"hook\":\"mayapy\",\"version\":\"2024\",\"state\":\"failed\","
        "\"restarts\":5,\"queue\":0,\"last_exit\":\"exited with status 1\","
        "\"failed_reason\":\"maya:2024 failed: 5 crashes\",\"workers\":[]}]}";

START_TEST(test_status_table)
{
	json_t *st = json_loads(sample_status, 0, NULL);
	struct buf out = BUF_INIT;

	ck_assert_ptr_nonnull(st);
	cmd_status_table(st, json_object_get(st, "targets"), NULL, &out);
	ck_assert_str_eq(out.data,
	                 "hotloadd 0.1.0, pid 29377, up 4m12s, 1 connection\n"
	                 "TARGET       WORKER  STATE    PID    UPTIME  REQUESTS  RSS    QUEUE  "
	                 "RESTARTS  LAST EXIT\n"
	                 "python:3     1       idle     29459  2h3m    2         15.7M  0      0   "
	                 "      -\n"
	                 "python:3.11  -       stopped  -      -       -         -      0      0   "
	                 "      -\n"
	                 "maya:2024    -       failed   -      -       -         -      0      5   "
	                 "      exited with status 1\n"
	                 "maya:2024 failed: 5 crashes\n");
	buf_free(&out);
	json_decref(st);
}
END_TEST

/* The target names cmd_status_match picks for what. */
static void
assert_match(json_t *st, const char *what, const char *expect)
{
	struct buf got = BUF_INIT;
	json_t *targets = NULL, *tg;
	size_t i;

	ck_assert_int_eq(cmd_status_match(NULL, st, what, &targets), 0);
	json_array_foreach(targets, i, tg)
	{
		buf_printf(&got, "%s%s", i ? " " : "", ctl_str(tg, "target", "?"));
	}
	ck_assert_msg(!strcmp(got.len ? got.data : "", expect), "%s: expected '%s', got '%s'", what,
	              expect, got.len ? got.data : "");
	buf_free(&got);
	json_decref(targets);
}

/* A spawn: fork target: its template has a row of its own. */
START_TEST(test_status_table_template)
{
	json_t *st = json_loads(
	        "{\"daemon\":{\"pid\":1,\"version\":\"0.1.0\",\"uptime_s\":5,\"connections\":1},"
	        "\"targets\":[{\"target\":\"pyfork:3\",\"state\":\"ok\",\"restarts\":0,"
	        "\"queue\":0,\"last_exit\":null,\"workers\":[{\"id\":5,\"state\":\"idle\","
	        "\"pid\":18213,\"uptime_s\":2.2,\"requests\":1,\"rss_bytes\":11350016,"
	        "\"forked\":true}],\"template\":{\"id\":4,\"state\":\"idle\",\"pid\":18212,"
	        "\"uptime_s\":2.3,\"requests\":0,\"rss_bytes\":12574720}},"
	        "{\"target\":\"bfork:4\",\"state\":\"ok\",\"restarts\":0,\"queue\":1,"
	        "\"last_exit\":null,\"workers\":[],\"template\":{\"id\":9,"
	        "\"state\":\"starting\",\"pid\":300,\"uptime_s\":1,\"requests\":0}},"
	        "{\"target\":\"cfork:1\",\"state\":\"ok\",\"restarts\":0,\"queue\":0,"
	        "\"last_exit\":null,\"workers\":[],\"template\":null}]}",
	        0, NULL);
	struct buf out = BUF_INIT;

	ck_assert_ptr_nonnull(st);
	cmd_status_table(st, json_object_get(st, "targets"), NULL, &out);
	ck_assert_str_eq(out.data,
	                 "hotloadd 0.1.0, pid 1, up 5s, 1 connection\n"
	                 "TARGET    WORKER  STATE                PID    UPTIME  REQUESTS  RSS    "
	                 "QUEUE  RESTARTS  LAST EXIT\n"
	                 "pyfork:3  5       idle                 18213  2s      1         10.8M  "
	                 "0      0         -\n"
	                 "pyfork:3  4       template             18212  2s      -         12.0M  "
	                 "0      0         -\n"
	                 "bfork:4   -       stopped              -      -       -         -      "
	                 "1      0         -\n"
	                 "bfork:4   9       template (starting)  300    1s      -         -      "
	                 "1      0         -\n"
	                 "cfork:1   -       stopped              -      -       -         -      "
	                 "0      0         -\n");
	buf_free(&out);
	json_decref(st);
}
END_TEST

START_TEST(test_status_match)
{
	json_t *st = json_loads(sample_status, 0, NULL);

	assert_match(st, "python:3", "python:3");
	assert_match(st, "python", "python:3 python:3.11");
	assert_match(st, "python:3.11", "python:3.11");
	assert_match(st, "python:3.1", "");
	assert_match(st, "mayapy", "maya:2024");
	json_decref(st);
}
END_TEST

START_TEST(test_log_lines)
{
	json_t *logs =
	        json_loads("[{\"time\":1,\"pid\":7,\"stream\":\"stdout\",\"data\":\"a\\nb\"},"
	                   "{\"time\":2,\"pid\":7,\"stream\":\"stdout\",\"data\":\"c\\n\"},"
	                   "{\"time\":3,\"pid\":7,\"stream\":\"stdout\",\"data\":\"d\"},"
	                   "{\"time\":4,\"pid\":7,\"stream\":\"stderr\",\"data\":\"e\\nf\\n\"},"
	                   "{\"time\":5,\"pid\":8,\"stream\":\"stderr\",\"data\":\"g\"}]",
	                   0, NULL);
	struct cmd_logline *v = NULL;
	size_t n, i;

	ck_assert_ptr_nonnull(logs);
	n = cmd_logs_split(logs, &v);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(v[0].text.data, "a\n");
	/* the rest of a cut line, from the same process and stream */
	ck_assert_str_eq(v[1].text.data, "bc\n");
	ck_assert_int_eq((int)v[1].time, 1);
	ck_assert_str_eq(v[2].text.data, "d");
	ck_assert(!v[2].closed);
	/* another stream starts a line of its own */
	ck_assert_str_eq(v[3].text.data, "e\n");
	ck_assert_str_eq(v[3].stream, "stderr");
	ck_assert_str_eq(v[4].text.data, "f\n");
	ck_assert_str_eq(v[5].text.data, "g");
	ck_assert_int_eq((int)v[5].pid, 8);
	for (i = 0; i < n; i++)
		buf_free(&v[i].text);
	free(v);
	json_decref(logs);
}
END_TEST

/* Every test of hotloadctl's pieces. */
/* DAP framing: whole messages out of a stream, or how it is not DAP. */
START_TEST(test_dap_parse)
{
	const char two[] = "Content-Length: 11\r\n\r\n{\"seq\":1}  "
	                   "content-length:2\nX-Other: y\n\n{}";
	char err[256];
	json_t *m = NULL;
	size_t used = 0, i;

	ck_assert_int_eq(ctldap_parse(two, sizeof(two) - 1, &m, &used, err, sizeof(err)), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "seq")), 1);
	ck_assert_uint_eq(used, 22 + 11);
	json_decref(m);
	ck_assert_int_eq(
	        ctldap_parse(two + used, sizeof(two) - 1 - used, &m, &used, err, sizeof(err)), 1);
	ck_assert_uint_eq(json_object_size(m), 0);
	json_decref(m);
	/* a message cut anywhere is not whole yet */
	for (i = 0; i < 33; i++)
		ck_assert_int_eq(ctldap_parse(two, i, &m, &used, err, sizeof(err)), 0);
	ck_assert_int_eq(ctldap_parse("Content-Type: x\r\n\r\n{}", 21, &m, &used, err, sizeof(err)),
	                 -EBADMSG);
	ck_assert_str_eq(err, "a DAP header without a valid Content-Length");
	ck_assert_int_eq(
	        ctldap_parse("Content-Length: 1x\r\n\r\n{}", 23, &m, &used, err, sizeof(err)),
	        -EBADMSG);
	ck_assert_int_eq(ctldap_parse("Content-Length: 99999999999\r\n\r\n", 33, &m, &used, err,
	                              sizeof(err)),
	                 -EBADMSG);
	ck_assert_int_eq(
	        ctldap_parse("Content-Length: 2\r\n\r\n[]", 23, &m, &used, err, sizeof(err)),
	        -EBADMSG);
	ck_assert_str_eq(err, "a DAP message that is not a JSON object: not an object");
}
END_TEST

static Suite *
ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ctl");

	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_check_target);
	tcase_add_test(tc, test_error_exit);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_status_table);
	tcase_add_test(tc, test_status_table_template);
	tcase_add_test(tc, test_status_match);
	tcase_add_test(tc, test_log_lines);
	tcase_add_test(tc, test_dap_parse);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status tells CTest. */
int
main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
