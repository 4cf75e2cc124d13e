/* test_version.c - the order of versions, and what a version asks for */
#include <check.h>
#include <stdlib.h>

#include "version.h"

static const struct {
	const char *a, *b;
	int cmp;
} versions[] = {
        {"20.5.332", "20.5.10", 1},
        {"20.5.10", "20.5", 1},
        {"20.5", "20.5", 0},
        {"2024", "2025", -1},
        {"3.11", "3.9", 1},
        {"3.11", "3", 1},
        {"20.05", "20.5", 0},
        {"1.0", "1", 1},
        {"10", "9", 1},
        {"3.4.1", "3.4.1rc2", 1},
        {"3.4.1rc1", "3.4.1rc2", -1},
        {"", "1", -1},
};

START_TEST(test_version_cmp)
{
	ck_assert_int_eq(version_cmp(versions[_i].a, versions[_i].b), versions[_i].cmp);
	ck_assert_int_eq(version_cmp(versions[_i].b, versions[_i].a), -versions[_i].cmp);
}
END_TEST

/* "3" asks for 3 and its releases, as a header's python:3 does. */
START_TEST(test_version_match)
{
	ck_assert(version_match("3", "3"));
	ck_assert(version_match("3.11", "3"));
	ck_assert(version_match("3.11.4", "3.11"));
	ck_assert(version_match("20.5.332", "20.5"));
	ck_assert(!version_match("3.11", "3.1"));
	ck_assert(!version_match("31", "3"));
	ck_assert(!version_match("3", "3.11"));
	ck_assert(!version_match("2024", "2025"));
	/* no version asks for any */
	ck_assert(version_match("3.11", ""));
	ck_assert(version_match("3.11", NULL));
}
END_TEST

static Suite *
version_suite(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_version_cmp, 0, (int)(sizeof(versions) / sizeof(versions[0])));
	tcase_add_test(tc, test_version_match);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(version_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
