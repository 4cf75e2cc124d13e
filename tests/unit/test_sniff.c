/* test_sniff.c - HTTP and TLS are told apart from hotload's own protocol */
#include <check.h>
#include <string.h>

#include "sniff.h"

static enum sniff_result
sniff(const char *s, int eof)
{
	return sniff_protocol(s, strlen(s), eof);
}

/* What browsers send: fetch() POSTs (with a request line made to be valid
 * Python), WebSocket upgrades, DNS rebinding, HTTP/2's preface. */
START_TEST(test_http)
{
	ck_assert_int_eq(sniff("POST /1if(0)else(0);''' HTTP/1.1\r\nHost: 127.0.0.1:7001\r\n"
	                       "Content-Type: text/plain;charset=UTF-8\r\n\r\n'''\nprint(1)\n",
	                       0),
	                 SNIFF_HTTP);
	ck_assert_int_eq(sniff("GET /socket HTTP/1.1\r\nHost: 127.0.0.1:7720\r\nUpgrade: "
	                       "websocket\r\nConnection: Upgrade\r\n\r\n",
	                       0),
	                 SNIFF_HTTP);
	ck_assert_int_eq(sniff("GET / HTTP/1.1\r\nHost: attacker.example:7720\r\n\r\n", 0),
	                 SNIFF_HTTP);
	ck_assert_int_eq(sniff("OPTIONS * HTTP/1.1\r\n", 0), SNIFF_HTTP);
	ck_assert_int_eq(sniff("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0), SNIFF_HTTP);
	ck_assert_int_eq(sniff("x-Custom_Method! /a?b=c HTTP/1.0\n", 0), SNIFF_HTTP);
	/* empty lines before the request line are ignored by HTTP servers */
	ck_assert_int_eq(sniff("\r\n\r\nGET / HTTP/1.1\r\n", 0), SNIFF_HTTP);
	/* the whole line, at the end of the payload */
	ck_assert_int_eq(sniff("GET / HTTP/1.1", 1), SNIFF_HTTP);
}
END_TEST

START_TEST(test_tls)
{
	static const char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (char)0xfc};

	ck_assert_int_eq(sniff_protocol(hello, sizeof(hello), 0), SNIFF_TLS);
	ck_assert_int_eq(sniff_protocol("\x16\x03\x03", 3, 0), SNIFF_TLS);
	ck_assert_int_eq(sniff_protocol("\x16", 1, 0), SNIFF_MORE);
	ck_assert_int_eq(sniff_protocol("\x16\x03", 2, 1), SNIFF_NONE);
	ck_assert_int_eq(sniff_protocol("\x16\x07\x01", 3, 0), SNIFF_NONE);
}
END_TEST

/* Headers, Python code and JSON are none of those. */
START_TEST(test_not_http)
{
	ck_assert_int_eq(sniff("python:3\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("python:3 mode=json timeout=5\r\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("hotload mode=json\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("print('GET / HTTP/1.1')\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("import maya.cmds as cmds\ncmds.ls()\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("GET / HTTP/1.1 extra\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("GET  / HTTP/1.1\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("GET / HTTP/x.1\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("GET HTTP/1.1\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("{\"id\":1}\n", 0), SNIFF_NONE);
	ck_assert_int_eq(sniff("", 1), SNIFF_NONE);
}
END_TEST

/* Until the first line ends, it cannot be told (unless nothing more comes). */
START_TEST(test_more)
{
	ck_assert_int_eq(sniff("POST /1if(0)", 0), SNIFF_MORE);
	ck_assert_int_eq(sniff("", 0), SNIFF_MORE);
	ck_assert_int_eq(sniff("\r\n", 0), SNIFF_MORE);
	ck_assert_int_eq(sniff("print(1)", 1), SNIFF_NONE);
}
END_TEST

static Suite *
sniff_suite(void)
{
	Suite *s = suite_create("sniff");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_http);
	tcase_add_test(tc, test_tls);
	tcase_add_test(tc, test_not_http);
	tcase_add_test(tc, test_more);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sniff_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
