/* test_addr.c - "host:port" as the daemon (listen.tcp) and the clients
 * (--tcp) read it, and the words for an address */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

/* s parses with flags to host and port. */
static void
assert_parses(const char *s, unsigned flags, const char *host, int port)
{
	struct addr_hostport hp;
	const char *why = NULL;

	ck_assert_msg(addr_parse_hostport(s, flags, &hp, &why) == 0, "'%s' (flags %u): %s", s,
	              flags, why);
	ck_assert_str_eq(hp.host, host);
	ck_assert_int_eq(hp.port, port);
}

/* s is refused with flags, saying why, and ret is untouched. */
static void
assert_refused(const char *s, unsigned flags, const char *why)
{
	struct addr_hostport hp;
	const char *got = NULL;

	memset(&hp, 'x', sizeof(hp));
	hp.host[sizeof(hp.host) - 1] = '\0';
	ck_assert_msg(addr_parse_hostport(s, flags, &hp, &got) == -EINVAL, "'%s' parsed", s);
	ck_assert_msg(got && !strcmp(got, why), "'%s': expected '%s', got '%s'", s, why, got);
	ck_assert_int_eq(hp.host[0], 'x');
}

/* listen.tcp: all of it, and a numeric host. */
START_TEST(test_daemon)
{
	const unsigned f = ADDR_NUMERIC;

	assert_parses("127.0.0.1:7720", f, "127.0.0.1", 7720);
	assert_parses("[::1]:7720", f, "::1", 7720);
	assert_parses("0.0.0.0:1", f, "0.0.0.0", 1);
	assert_parses("[::]:65535", f, "::", 65535);
	assert_parses("127.0.0.1:080", f, "127.0.0.1", 80);
	assert_refused("127.0.0.1", f, "\"host:port\"");
	assert_refused("localhost:7720", f,
	               "a numeric IPv4 or IPv6 address as host (like 127.0.0.1 or [::1])");
	assert_refused(":7720", f,
	               "a numeric IPv4 or IPv6 address as host (like 127.0.0.1 or [::1])");
	assert_refused("::1:7720", f, "\"[IPv6]:port\" (an IPv6 address goes in brackets)");
	assert_refused("[::1]7720", f, "an IPv6 address in brackets followed by :PORT");
	assert_refused("[::1]", f, "an IPv6 address in brackets followed by :PORT");
	assert_refused("[::1:7720", f, "an IPv6 address in brackets followed by :PORT");
	assert_refused("127.0.0.1:0", f, "a port from 1 to 65535 after the ':'");
	assert_refused("127.0.0.1:65536", f, "a port from 1 to 65535 after the ':'");
	assert_refused("127.0.0.1:", f, "a port from 1 to 65535 after the ':'");
	assert_refused("127.0.0.1:+80", f, "a port from 1 to 65535 after the ':'");
	assert_refused("127.0.0.1:80x", f, "a port from 1 to 65535 after the ':'");
	assert_refused("127.0.0.1:99999999999999999999", f, "a port from 1 to 65535 after the ':'");
}
END_TEST

/* --tcp: a part left out is the default one; names are for the resolver. */
START_TEST(test_client)
{
	const unsigned f = ADDR_DEFAULTS;
	char longhost[300];

	assert_parses("127.0.0.1:7720", f, "127.0.0.1", 7720);
	assert_parses("farm042:7721", f, "farm042", 7721);
	assert_parses("farm042", f, "farm042", 7720);
	assert_parses(":7721", f, "127.0.0.1", 7721);
	assert_parses("", f, "127.0.0.1", 7720);
	assert_parses("[::1]:7721", f, "::1", 7721);
	assert_parses("[::1]", f, "::1", 7720);
	assert_parses("[]:7721", f, "127.0.0.1", 7721);
	assert_refused("::1", f, "\"[IPv6]:port\" (an IPv6 address goes in brackets)");
	assert_refused("[::1]x", f, "an IPv6 address in brackets followed by :PORT");
	assert_refused("farm042:", f, "a port from 1 to 65535 after the ':'");
	assert_refused("farm042:ssh", f, "a port from 1 to 65535 after the ':'");
	memset(longhost, 'a', 256);
	longhost[256] = '\0';
	assert_refused(longhost, f, "a host of at most 255 bytes");
	longhost[255] = '\0';
	assert_parses(longhost, f, longhost, 7720);
	/* without defaults, a host is needed even when any name will do */
	assert_refused(":7720", 0, "a host before the ':'");
	assert_parses("farm042:7720", 0, "farm042", 7720);
	/* both: the default host is numeric */
	assert_parses(":7721", ADDR_DEFAULTS | ADDR_NUMERIC, "127.0.0.1", 7721);
}
END_TEST

START_TEST(test_format)
{
	struct buf b = BUF_INIT;
	char out[64];

	addr_format_hostport(&b, "127.0.0.1", 7720);
	buf_puts(&b, " ");
	addr_format_hostport(&b, "::1", 7721);
	ck_assert_str_eq(b.data, "127.0.0.1:7720 [::1]:7721");
	buf_free(&b);
	addr_describe("/run/user/1000/hotload/hotloadd.sock", NULL, out, sizeof(out));
	ck_assert_str_eq(out, "unix socket /run/user/1000/hotload/hotloadd.sock");
	addr_describe(NULL, "farm042", out, sizeof(out));
	ck_assert_str_eq(out, "TCP farm042");
}
END_TEST

START_TEST(test_numeric_loopback)
{
	ck_assert(addr_is_numeric("127.0.0.1"));
	ck_assert(addr_is_numeric("::1"));
	ck_assert(addr_is_numeric("fe80::1"));
	ck_assert(!addr_is_numeric("localhost"));
	ck_assert(!addr_is_numeric(""));
	ck_assert(addr_is_loopback("127.0.0.1"));
	ck_assert(addr_is_loopback("127.1.2.3"));
	ck_assert(addr_is_loopback("::1"));
	ck_assert(addr_is_loopback("::ffff:127.0.0.1"));
	ck_assert(!addr_is_loopback("0.0.0.0"));
	ck_assert(!addr_is_loopback("::"));
	ck_assert(!addr_is_loopback("10.0.0.1"));
	ck_assert(!addr_is_loopback("localhost"));
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_daemon);
	tcase_add_test(tc, test_client);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_numeric_loopback);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
