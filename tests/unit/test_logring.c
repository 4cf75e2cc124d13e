/* test_logring.c - a target's recent output in a fixed-size ring */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logring.h"

static const char *
data_of(json_t *a, size_t i)
{
	return json_string_value(json_object_get(json_array_get(a, i), "data"));
}

START_TEST(test_empty)
{
	struct logring r;
	json_t *a;

	logring_init(&r, 1024);
	ck_assert_uint_eq(logring_count(&r), 0);
	ck_assert_ptr_null(r.data); /* nothing allocated until something is kept */
	a = logring_json(&r, 200);
	ck_assert_uint_eq(json_array_size(a), 0);
	json_decref(a);
	logring_add(&r, 1.0, 7, 1, "", 0);
	ck_assert_uint_eq(logring_count(&r), 0);
	logring_free(&r);
}
END_TEST

START_TEST(test_records)
{
	struct logring r;
	json_t *a, *e;

	logring_init(&r, 1024);
	logring_add(&r, 1.5, 42, 1, "out\n", 4);
	logring_add(&r, 2.0, 43, 2, "err", 3);
	a = logring_json(&r, 200);
	ck_assert_uint_eq(json_array_size(a), 2);
	e = json_array_get(a, 0);
	ck_assert(json_real_value(json_object_get(e, "time")) == 1.5);
	ck_assert_int_eq(json_integer_value(json_object_get(e, "pid")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(e, "stream")), "stdout");
	ck_assert_str_eq(data_of(a, 0), "out\n");
	e = json_array_get(a, 1);
	ck_assert_str_eq(json_string_value(json_object_get(e, "stream")), "stderr");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "pid")), 43);
	ck_assert_str_eq(data_of(a, 1), "err");
	json_decref(a);
	/* Only the newest: the last one of two. */
	a = logring_json(&r, 1);
	ck_assert_uint_eq(json_array_size(a), 1);
	ck_assert_str_eq(data_of(a, 0), "err");
	json_decref(a);
	logring_free(&r);
	ck_assert_uint_eq(logring_count(&r), 0);
}
END_TEST

/* Tiny pieces by the thousand: the ring's size bounds them, bookkeeping
 * included, and what is left is the newest, in order, across wrap-arounds. */
START_TEST(test_wraps_and_bounds)
{
	struct logring r;
	char piece[32];
	size_t i, n;
	json_t *a;

	logring_init(&r, 4096);
	for (i = 0; i < 10000; i++) {
		int len = snprintf(piece, sizeof(piece), "%zu\n", i);

		logring_add(&r, (double)i, 1, 1 + (int)(i % 2), piece, (size_t)len);
		ck_assert_uint_le(r.used, r.cap);
	}
	n = logring_count(&r);
	ck_assert_uint_gt(n, 50);
	ck_assert_uint_lt(n, 4096 / 8);
	a = logring_json(&r, 100000);
	ck_assert_uint_eq(json_array_size(a), n);
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		char want[32];

		snprintf(want, sizeof(want), "%zu\n", 10000 - n + i);
		ck_assert_str_eq(data_of(a, i), want);
		ck_assert(json_real_value(json_object_get(e, "time")) == (double)(10000 - n + i));
		ck_assert_str_eq(json_string_value(json_object_get(e, "stream")),
		                 (10000 - n + i) % 2 ? "stderr" : "stdout");
	}
	json_decref(a);
	logring_free(&r);
}
END_TEST

/* A piece larger than the ring keeps its end, cut at a character boundary,
 * and pushes out everything before it. */
START_TEST(test_too_large)
{
	struct logring r;
	size_t len = 3000, i;
	char *big = malloc(len);
	json_t *a;
	const char *s;

	for (i = 0; i < len; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3); /* EUR sign */
	memcpy(big + len - 3, "end", 3);
	logring_init(&r, 1024);
	logring_add(&r, 1.0, 1, 1, "before", 6);
	logring_add(&r, 2.0, 1, 1, big, len);
	ck_assert_uint_eq(logring_count(&r), 1);
	a = logring_json(&r, 10);
	s = data_of(a, 0);
	ck_assert_uint_le(strlen(s), 1024);
	ck_assert_uint_gt(strlen(s), 900);
	ck_assert((unsigned char)s[0] == 0xe2);
	ck_assert_str_eq(s + strlen(s) - 3, "end");
	json_decref(a);
	/* And the ring goes on from there. */
	logring_add(&r, 3.0, 1, 2, "after", 5);
	a = logring_json(&r, 10);
	ck_assert_uint_eq(json_array_size(a), 1);
	ck_assert_str_eq(data_of(a, 0), "after");
	json_decref(a);
	logring_free(&r);
	free(big);
}
END_TEST

static Suite *
logring_suite(void)
{
	Suite *s = suite_create("logring");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_records);
	tcase_add_test(tc, test_wraps_and_bounds);
	tcase_add_test(tc, test_too_large);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(logring_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
