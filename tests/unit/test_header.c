/* test_header.c - the connection header parser */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"

/* Parse a C string, checking that it succeeds. */
static void
parse_ok(const char *line, struct header *h)
{
	char err[256] = "";
	int r;

	r = header_parse(line, strlen(line), h, err, sizeof(err));
	ck_assert_msg(r == 0, "'%s' failed: %s", line, err);
}

/* Parse len bytes, checking that it fails with -EINVAL, a reason containing
 * want, and that h is left untouched. */
static void
parse_fail_len(const char *line, size_t len, const char *want)
{
	struct header h, orig;
	char err[256] = "";
	int r;

	memset(&h, 0x5a, sizeof(h));
	orig = h;
	r = header_parse(line, len, &h, err, sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(err, want) != NULL, "reason '%s' lacks '%s'", err, want);
	ck_assert_msg(memcmp(&h, &orig, sizeof(h)) == 0, "ret was modified on failure");
}

/* parse_fail_len for a C string. */
static void
parse_fail(const char *line, const char *want)
{
	parse_fail_len(line, strlen(line), want);
}

START_TEST(test_dcc_only)
{
	struct header h;

	parse_ok("maya", &h);
	ck_assert_str_eq(h.dcc, "maya");
	ck_assert_str_eq(h.version, "");
	ck_assert_int_eq(h.mode, HEADER_MODE_RAW);
	ck_assert_str_eq(h.file, "");
	ck_assert_int_eq(h.fresh, 0);
}
END_TEST

START_TEST(test_dcc_version)
{
	struct header h;

	parse_ok("mayapy:2024", &h);
	ck_assert_str_eq(h.dcc, "mayapy");
	ck_assert_str_eq(h.version, "2024");
	parse_ok("hython:20.5.332", &h);
	ck_assert_str_eq(h.dcc, "hython");
	ck_assert_str_eq(h.version, "20.5.332");
	parse_ok("my_dcc-2+x:1.0-beta_2+local", &h);
	ck_assert_str_eq(h.dcc, "my_dcc-2+x");
	ck_assert_str_eq(h.version, "1.0-beta_2+local");
}
END_TEST

START_TEST(test_line_ends)
{
	struct header h;

	parse_ok("blender:4.1\n", &h);
	ck_assert_str_eq(h.dcc, "blender");
	ck_assert_str_eq(h.version, "4.1");
	parse_ok("blender:4.1\r\n", &h);
	ck_assert_str_eq(h.version, "4.1");
	parse_ok("python:3 mode=json\r\n", &h);
	ck_assert_int_eq(h.mode, HEADER_MODE_JSON);
	/* A lone CR at the end is a line end too. */
	parse_ok("python:3\r", &h);
	ck_assert_str_eq(h.version, "3");
}
END_TEST

START_TEST(test_options)
{
	struct header h;

	parse_ok("python:3 mode=json ns=fresh file=tool/x.py\n", &h);
	ck_assert_str_eq(h.dcc, "python");
	ck_assert_str_eq(h.version, "3");
	ck_assert_int_eq(h.mode, HEADER_MODE_JSON);
	ck_assert_int_eq(h.fresh, 1);
	ck_assert_str_eq(h.file, "tool/x.py");

	parse_ok("python mode=raw ns=main", &h);
	ck_assert_int_eq(h.mode, HEADER_MODE_RAW);
	ck_assert_int_eq(h.fresh, 0);

	/* The last of a repeated option wins. */
	parse_ok("python mode=json mode=raw ns=fresh ns=main", &h);
	ck_assert_int_eq(h.mode, HEADER_MODE_RAW);
	ck_assert_int_eq(h.fresh, 0);
	parse_ok("python ns=fresh ns=isolated", &h);
	ck_assert_int_eq(h.fresh, 0);
	ck_assert_int_eq(h.isolated, 1);
	parse_ok("python ns=isolated ns=fresh", &h);
	ck_assert_int_eq(h.fresh, 1);
	ck_assert_int_eq(h.isolated, 0);

	/* Only the first '=' splits key from value. */
	parse_ok("python file=a=b.py", &h);
	ck_assert_str_eq(h.file, "a=b.py");

	/* UTF-8 is fine in a file name. */
	parse_ok("python file=sc\xc3\xa8ne.py", &h);
	ck_assert_str_eq(h.file, "sc\xc3\xa8ne.py");
}
END_TEST

START_TEST(test_spaces)
{
	struct header h;

	parse_ok("  maya:2024   mode=json    file=a.py  \n", &h);
	ck_assert_str_eq(h.dcc, "maya");
	ck_assert_str_eq(h.version, "2024");
	ck_assert_int_eq(h.mode, HEADER_MODE_JSON);
	ck_assert_str_eq(h.file, "a.py");
}
END_TEST

START_TEST(test_name_lengths)
{
	char line[HEADER_NAME_MAX + 16];
	struct header h;

	memset(line, 'a', HEADER_NAME_MAX - 1);
	line[HEADER_NAME_MAX - 1] = '\0';
	parse_ok(line, &h);
	ck_assert_uint_eq(strlen(h.dcc), HEADER_NAME_MAX - 1);

	memset(line, 'a', HEADER_NAME_MAX);
	line[HEADER_NAME_MAX] = '\0';
	parse_fail(line, "bad target");

	strcpy(line, "maya:");
	memset(line + 5, '1', HEADER_NAME_MAX - 1);
	line[5 + HEADER_NAME_MAX - 1] = '\0';
	parse_ok(line, &h);
	ck_assert_uint_eq(strlen(h.version), HEADER_NAME_MAX - 1);
	line[5 + HEADER_NAME_MAX - 1] = '1';
	line[5 + HEADER_NAME_MAX] = '\0';
	parse_fail(line, "bad target");
}
END_TEST

START_TEST(test_file_lengths)
{
	struct header h;
	char line[300];
	size_t max = sizeof(h.file) - 1;

	strcpy(line, "python file=");
	memset(line + 12, 'f', max);
	line[12 + max] = '\0';
	parse_ok(line, &h);
	ck_assert_uint_eq(strlen(h.file), max);

	line[12 + max] = 'f';
	line[12 + max + 1] = '\0';
	parse_fail(line, "file must be");
	parse_fail("python file=", "file must be");
}
END_TEST

START_TEST(test_max_length)
{
	char line[HEADER_MAX + 8];
	struct header h;
	size_t i;

	/* Exactly HEADER_MAX bytes including the '\n' is accepted ... */
	memcpy(line, "python", 6);
	for (i = 6; i < HEADER_MAX - 1; i++)
		line[i] = ' ';
	line[HEADER_MAX - 1] = '\n';
	ck_assert_int_eq(header_parse(line, HEADER_MAX, &h, NULL, 0), 0);
	ck_assert_str_eq(h.dcc, "python");

	/* ... one more byte is not, whatever it is. */
	line[HEADER_MAX - 1] = ' ';
	line[HEADER_MAX] = '\n';
	parse_fail_len(line, HEADER_MAX + 1, "longer than 1024");
	parse_fail_len(line, HEADER_MAX + 1, "longer than");
	memset(line, 'x', sizeof(line));
	parse_fail_len(line, sizeof(line), "longer than");
}
END_TEST

START_TEST(test_empty)
{
	parse_fail("", "empty header");
	parse_fail("\n", "empty header");
	parse_fail("\r\n", "empty header");
	parse_fail("    \n", "empty header");
	parse_fail(" mode=json", "bad target");
}
END_TEST

START_TEST(test_control_chars)
{
	parse_fail("maya\tmode=json", "control character (0x09)");
	parse_fail("maya\x01", "control character (0x01)");
	parse_fail("maya\x7f", "control character (0x7f)");
	parse_fail("maya\rmode=json\n", "control character (0x0d)");
	parse_fail("maya\n\n", "control character (0x0a)");
	parse_fail("maya\nmode=json\n", "control character (0x0a)");
	parse_fail_len("maya\0mode=json", 14, "control character (0x00)");
	parse_fail("python file=a\x1b[1m.py", "control character (0x1b)");
}
END_TEST

START_TEST(test_bad_names)
{
	parse_fail("ma/ya", "bad target 'ma/ya'");
	parse_fail("maya:", "bad target");
	parse_fail(":2024", "bad target");
	parse_fail("maya:20:24", "bad target");
	parse_fail("maya:2024/1", "bad target");
	parse_fail("maya::2024", "bad target");
	parse_fail("m\xc3\xa4ya", "bad target");
	parse_fail("maya;rm", "bad target");
	parse_fail("maya=1", "bad target");
}
END_TEST

START_TEST(test_bad_options)
{
	parse_fail("maya mode", "bad header option 'mode': expected key=value");
	parse_fail("maya json", "expected key=value");
	parse_fail("maya =json", "expected key=value");
	parse_fail("maya =", "expected key=value");
	parse_fail("maya foo=bar", "unknown header option 'foo'");
	parse_fail("maya MODE=json", "unknown header option 'MODE'");
	parse_fail("maya mode=json retries=3", "unknown header option 'retries'");
	parse_fail("maya timeout=0", "timeout must be a number of seconds above 0, not '0'");
	parse_fail("maya timeout=-1", "timeout must be a number of seconds above 0");
	parse_fail("maya timeout=3s", "timeout must be a number of seconds above 0, not '3s'");
	parse_fail("maya timeout=", "timeout must be a number of seconds above 0");
	parse_fail("maya timeout=nan", "timeout must be a number of seconds above 0");
	parse_fail("maya mode=xml", "mode must be raw or json, not 'xml'");
	parse_fail("maya mode=JSON", "mode must be raw or json");
	parse_fail("maya mode=", "mode must be raw or json, not ''");
	parse_fail("maya ns=other", "ns must be main, fresh or isolated, not 'other'");
	parse_fail("maya ns=", "ns must be main, fresh or isolated");
}
END_TEST

START_TEST(test_timeout_option)
{
	struct header h;
	char err[256];

	ck_assert_int_eq(header_parse("python:3 timeout=2.5\n", 21, &h, err, sizeof(err)), 0);
	ck_assert(h.timeout == 2.5);
	ck_assert_int_eq(header_parse("python:3\n", 9, &h, err, sizeof(err)), 0);
	ck_assert(h.timeout == 0);
}
END_TEST

START_TEST(test_watch_option)
{
	struct header h;

	parse_ok("python:3 mode=json", &h);
	ck_assert_int_eq(h.n_watch, 0);
	parse_ok("python:3 watch=/home/a/dev watch=/srv/tools mode=json", &h);
	ck_assert_int_eq(h.n_watch, 2);
	ck_assert_str_eq(h.watch[0], "/home/a/dev");
	ck_assert_str_eq(h.watch[1], "/srv/tools");
	parse_ok("python watch=/a watch=/b watch=/c watch=/d", &h);
	ck_assert_int_eq(h.n_watch, 4);
	parse_fail("python watch=/a watch=/b watch=/c watch=/d watch=/e",
	           "at most 4 watch= options");
	parse_fail("python watch=src", "watch must be an absolute directory");
	parse_fail("python watch=", "watch must be an absolute directory");
	parse_fail("python watch=/\xff", "watch must be an absolute directory");
}
END_TEST

/* client=NAME: the log names the client with it, so it must be text a
 * log line can carry. */
START_TEST(test_client_option)
{
	char name[HEADER_CLIENT_LEN + 1], line[HEADER_CLIENT_LEN + 32];
	struct header h;

	parse_ok("python:3 mode=json", &h);
	ck_assert_str_eq(h.client, "");
	parse_ok("python:3 mode=json client=claude-code/1.0.3", &h);
	ck_assert_str_eq(h.client, "claude-code/1.0.3");
	parse_ok("hotload mode=json client=caf\xc3\xa9", &h);
	ck_assert_str_eq(h.client, "caf\xc3\xa9");
	memset(name, 'a', sizeof(name));
	name[HEADER_CLIENT_LEN - 1] = '\0';
	snprintf(line, sizeof(line), "python client=%s", name);
	parse_ok(line, &h);
	ck_assert_uint_eq(strlen(h.client), HEADER_CLIENT_LEN - 1);
	name[HEADER_CLIENT_LEN - 1] = 'a';
	name[HEADER_CLIENT_LEN] = '\0';
	snprintf(line, sizeof(line), "python client=%s", name);
	parse_fail(line, "client must be 1 to 64 bytes");
	parse_fail("python client=", "client must be 1 to 64 bytes");
	parse_fail("python client=\xff", "client must be");
	parse_fail("python client=a\xc2\x9b[31m", "client must be");
	parse_fail("python client=a\tb", "control character");
	parse_fail("python clint=a",
	           "known: mode, ns, file, timeout, stream, token, watch, client");
}
END_TEST

START_TEST(test_bad_file_utf8)
{
	parse_fail("python file=\xff.py", "file must be valid UTF-8");
	parse_fail("python file=\xc3", "file must be valid UTF-8");
	parse_fail("python file=\xed\xa0\x80.py", "file must be valid UTF-8");
}
END_TEST

START_TEST(test_small_err)
{
	struct header h;
	char err[8];

	memset(err, 'z', sizeof(err));
	ck_assert_int_eq(header_parse("maya mode=xml", 13, &h, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	/* No room for a reason at all is fine too. */
	ck_assert_int_eq(header_parse("", 0, &h, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_target)
{
	struct header h;
	char out[2 * HEADER_NAME_MAX];

	parse_ok("maya mode=json", &h);
	header_target(&h, out, sizeof(out));
	ck_assert_str_eq(out, "maya");
	parse_ok("hython:20.5 ns=fresh", &h);
	header_target(&h, out, sizeof(out));
	ck_assert_str_eq(out, "hython:20.5");
	header_target(&h, out, 5);
	ck_assert_str_eq(out, "hyth");
	/* cut as snprintf cuts: at the colon, just past it, to nothing */
	header_target(&h, out, 7);
	ck_assert_str_eq(out, "hython");
	header_target(&h, out, 8);
	ck_assert_str_eq(out, "hython:");
	header_target(&h, out, 9);
	ck_assert_str_eq(out, "hython:2");
	header_target(&h, out, 1);
	ck_assert_str_eq(out, "");
}
END_TEST

/* All the header tests in one suite. */
static Suite *
header_suite(void)
{
	Suite *s = suite_create("header");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_dcc_only);
	tcase_add_test(tc, test_dcc_version);
	tcase_add_test(tc, test_line_ends);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_spaces);
	tcase_add_test(tc, test_name_lengths);
	tcase_add_test(tc, test_file_lengths);
	tcase_add_test(tc, test_max_length);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_control_chars);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_timeout_option);
	tcase_add_test(tc, test_watch_option);
	tcase_add_test(tc, test_client_option);
	tcase_add_test(tc, test_bad_file_utf8);
	tcase_add_test(tc, test_small_err);
	tcase_add_test(tc, test_target);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status tells CTest. */
int
main(void)
{
	SRunner *sr = srunner_create(header_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
