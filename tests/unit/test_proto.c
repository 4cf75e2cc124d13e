/* test_proto.c - the default socket, the protocol's constants, refusals */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/* The daemon binds and the clients connect to the same default. */
START_TEST(test_default_socket)
{
	char want[64], *path;

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	path = proto_default_socket();
	ck_assert_str_eq(path, "/run/user/1000/hotload/hotloadd.sock");
	free(path);
	setenv("XDG_RUNTIME_DIR", "", 1);
	path = proto_default_socket();
	if (geteuid() == 0)
		snprintf(want, sizeof(want), "/run/hotload/hotloadd.sock");
	else
		snprintf(want, sizeof(want), "/tmp/hotload-%u/hotloadd.sock", (unsigned)geteuid());
	ck_assert_str_eq(path, want);
	free(path);
}
END_TEST

START_TEST(test_constants)
{
	ck_assert_str_eq(HOTLOAD_DEFAULT_PORT_STR, "7720");
	ck_assert_int_eq(HOTLOAD_DEFAULT_PORT, 7720);
	ck_assert_str_eq(HOTLOAD_CONTROL_TARGET, "hotload");
	ck_assert_int_gt((int)strlen(HOTLOAD_VERSION), 0);
}
END_TEST

START_TEST(test_refused)
{
	ck_assert(proto_error_refused("UnknownTarget"));
	ck_assert(proto_error_refused("NotInstalled"));
	ck_assert(proto_error_refused("TooManyConnections"));
	ck_assert(!proto_error_refused("WorkerDied"));
	ck_assert(!proto_error_refused("ZeroDivisionError"));
	ck_assert(!proto_error_refused(""));
	ck_assert(!proto_error_refused(NULL));
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_default_socket);
	tcase_add_test(tc, test_constants);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
