/* test_errfmt.c - an error object as hotloadctl says it and a raw reply has it */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "errfmt.h"

/* errfmt_summary or errfmt_report of the error in JSON (NULL: none). */
static void
assert_text(int report, const char *json, const char *want)
{
	json_t *e = json ? json_loads(json, 0, NULL) : NULL;
	struct buf b = BUF_INIT;

	ck_assert(!json || e);
	if (report)
		errfmt_report(e, &b);
	else
		errfmt_summary(e, &b);
	ck_assert_msg(!strcmp(b.len ? b.data : "", want), "%s: expected \"%s\", got \"%s\"",
	              json ? json : "NULL", want, b.len ? b.data : "");
	buf_free(&b);
	json_decref(e);
}

START_TEST(test_summary)
{
	assert_text(0, "{\"type\":\"ConfigError\",\"message\":\"a.yaml:1:1: bad\"}",
	            "ConfigError: a.yaml:1:1: bad");
	assert_text(0, "{\"type\":\"KeyboardInterrupt\",\"message\":\"\"}", "KeyboardInterrupt");
	assert_text(0, "{\"message\":\"no type\"}", "Error: no type");
	assert_text(0, "{\"type\":7}", "Error");
	assert_text(0, NULL, "Error");
}
END_TEST

START_TEST(test_report)
{
	/* what the code raised: its traceback says it all */
	assert_text(1,
	            "{\"type\":\"ZeroDivisionError\",\"message\":\"division by zero\","
	            "\"traceback\":\"Traceback (most recent call last):\\n  File \\\"<string>\\\", "
	            "line 1, in <module>\\nZeroDivisionError: division by zero\\n\"}",
	            "Traceback (most recent call last):\n  File \"<string>\", line 1, in "
	            "<module>\nZeroDivisionError: division by zero\n");
	/* a traceback is ended with a newline */
	assert_text(1, "{\"type\":\"E\",\"message\":\"m\",\"traceback\":\"E: m\"}", "E: m\n");
	/* a timeout says so after the traceback of the interrupted code */
	assert_text(1,
	            "{\"type\":\"Timeout\",\"message\":\"request timed out after 0.5 s\","
	            "\"traceback\":\"Traceback ...\\nKeyboardInterrupt\\n\"}",
	            "Traceback ...\nKeyboardInterrupt\nTimeout: request timed out after 0.5 s\n");
	/* no traceback: the daemon's own error */
	assert_text(1, "{\"type\":\"WorkerDied\",\"message\":\"killed by signal 9\"}",
	            "WorkerDied: killed by signal 9\n");
	assert_text(1, "{\"type\":\"WorkerDied\",\"traceback\":\"\"}", "WorkerDied\n");
	assert_text(1, NULL, "Error\n");
}
END_TEST

/* A message may hold a NUL (Python's may): nothing after it is lost. */
START_TEST(test_nul)
{
	static const char report[] = "T\nValueError: a\0b\n", summary[] = "ValueError: a\0b";
	json_t *e = json_loads("{\"type\":\"ValueError\",\"message\":\"a\\u0000b\","
	                       "\"traceback\":\"T\\nValueError: a\\u0000b\\n\"}",
	                       JSON_ALLOW_NUL, NULL);
	struct buf b = BUF_INIT;

	ck_assert_ptr_nonnull(e);
	errfmt_report(e, &b);
	ck_assert_uint_eq(b.len, sizeof(report) - 1);
	ck_assert(!memcmp(b.data, report, b.len));
	buf_free(&b);
	errfmt_summary(e, &b);
	ck_assert_uint_eq(b.len, sizeof(summary) - 1);
	ck_assert(!memcmp(b.data, summary, b.len));
	buf_free(&b);
	json_decref(e);
}
END_TEST

static Suite *
errfmt_suite(void)
{
	Suite *s = suite_create("errfmt");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_report);
	tcase_add_test(tc, test_nul);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(errfmt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
