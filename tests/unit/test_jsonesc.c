/* test_jsonesc.c - escaping output as the body of a JSON string */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonesc.h"

/* What s escapes to, quoted, decoded again by jansson: s itself. */
static void
assert_round_trip(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	json_error_t err;
	json_t *v;

	buf_puts(&b, "\"");
	json_escape(&b, s, len);
	buf_puts(&b, "\"");
	v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	ck_assert_msg(v != NULL, "not JSON (%s): %s", err.text, b.data);
	ck_assert_uint_eq(json_string_length(v), len);
	ck_assert(!memcmp(json_string_value(v), s, len));
	json_decref(v);
	buf_free(&b);
}

START_TEST(test_escapes)
{
	struct buf b = BUF_INIT;

	json_escape(&b, "a\"b\\c\nd\re\tf\x01g\x1f", 14);
	ck_assert_str_eq(b.data, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001f");
	buf_clear(&b);
	json_escape(&b, "", 0);
	ck_assert_uint_eq(b.len, 0);
	/* UTF-8 and DEL as they are */
	json_escape(&b, "caf\xc3\xa9 \xe2\x82\xac\x7f", 10);
	ck_assert_str_eq(b.data, "caf\xc3\xa9 \xe2\x82\xac\x7f");
	buf_free(&b);
}
END_TEST

/* Every byte that needs escaping, at every offset of a word and around it,
 * in text long enough for the word-at-a-time scan. */
START_TEST(test_every_position)
{
	static const char special[] = {'"', '\\', '\n', '\0', 0x1f, 0x01, '\t'};
	char s[64];
	size_t k, pos, len;

	for (k = 0; k < sizeof(special); k++)
		for (len = 1; len <= sizeof(s); len += 7)
			for (pos = 0; pos < len; pos++) {
				memset(s, 'x', sizeof(s));
				/* the bytes just above and below the limits */
				s[(pos + 3) % len] = ' ';
				s[(pos + 5) % len] = '#';
				s[(pos + 6) % len] = '[';
				s[(pos + 7) % len] = ']';
				s[pos] = special[k];
				assert_round_trip(s, len);
			}
}
END_TEST

/* Random bytes below 0x80 (valid UTF-8 whatever they are), and plain
 * high bytes of UTF-8 sequences around them. */
START_TEST(test_random)
{
	char s[300];
	int round;
	size_t i;

	srand(7);
	for (round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand() % (int)sizeof(s));

		for (i = 0; i < len; i++)
			s[i] = (char)(rand() % 0x80);
		if (len >= 2 && round % 2) {
			s[len / 2 - 1] = (char)0xc3;
			s[len / 2] = (char)0xa9;
		}
		assert_round_trip(s, len);
	}
}
END_TEST

/* json_write_value(v) parses back to v, ASCII only when asked. */
static void
assert_written(const json_t *v, size_t flags)
{
	struct buf b = BUF_INIT;
	json_error_t err;
	json_t *back;
	size_t i;

	json_write_value(&b, v, flags);
	back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	ck_assert_msg(back != NULL, "not JSON (%s): %s", err.text, b.data);
	ck_assert_msg(json_equal(back, v), "written as %s", b.data);
	if (flags & JSON_ENSURE_ASCII)
		for (i = 0; i < b.len; i++)
			ck_assert_msg((unsigned char)b.data[i] < 0x80, "not ASCII: %s", b.data);
	ck_assert_ptr_null(memchr(b.data, '\n', b.len)); /* one line */
	json_decref(back);
	buf_free(&b);
}

START_TEST(test_values)
{
	json_t *values[] = {
	        json_string(""),
	        json_string("plain"),
	        json_string("q\"b\\n\nr\rt\t\x01\x1f\x7f"),
	        json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa8"),
	        json_stringn("nul\0inside \xc3\xa9", 13),
	        json_integer(0),
	        json_integer(-1),
	        json_integer(INT64_MAX),
	        json_integer(INT64_MIN),
	        json_real(0.1),
	        json_real(-2.5e-300),
	        json_real(1e300),
	        json_true(),
	        json_false(),
	        json_null(),
	        json_pack("[]"),
	        json_pack("{}"),
	        json_pack("[s, i, f, b, n, [s], {s:s}]", "\xe2\x82\xac", 1, 2.5, 0, "x", "k\n",
	                  "v\xc3\xa9"),
	        json_pack("{s:{s:[i, i]}, s:s}", "a", "b", 1, 2, "\xc3\xa9\"", "\n"),
	};
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		ck_assert_ptr_nonnull(values[i]);
		assert_written(values[i], 0);
		assert_written(values[i], JSON_ENSURE_ASCII);
		json_decref(values[i]);
	}
}
END_TEST

START_TEST(test_members)
{
	struct buf b = BUF_INIT;
	json_t *v = json_pack("[i]", 1), *obj;
	json_error_t err;

	buf_puts(&b, "{");
	json_write_member(&b, "first", v, 0);
	json_write_member(&b, "s\xc3\xa9\"cond", json_true(), 0);
	json_write_member(&b, "third", json_null(), JSON_ENSURE_ASCII);
	buf_puts(&b, "}");
	obj = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &err);
	ck_assert_msg(obj != NULL, "not JSON (%s): %s", err.text, b.data);
	ck_assert_uint_eq(json_object_size(obj), 3);
	ck_assert(json_equal(json_object_get(obj, "first"), v));
	ck_assert(json_is_true(json_object_get(obj, "s\xc3\xa9\"cond")));
	ck_assert(json_is_null(json_object_get(obj, "third")));
	json_decref(obj);
	json_decref(v);
	buf_free(&b);
}
END_TEST

START_TEST(test_millis)
{
	double values[] = {0,       0.0004,   0.0006, 0.123,       0.1234, 1.5,
	                   12.3456, 999.9996, 1000,   86400000.25, -0.25,  -3.0006};
	struct buf b = BUF_INIT;
	char want[64];
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		buf_clear(&b);
		json_write_millis(&b, values[i]);
		snprintf(want, sizeof(want), "%.3f", values[i]);
		ck_assert_str_eq(b.data, want);
	}
	srand(7);
	for (i = 0; i < 100000; i++) {
		double ms = (double)rand() / RAND_MAX * 1e6;

		buf_clear(&b);
		json_write_millis(&b, ms);
		snprintf(want, sizeof(want), "%.3f", ms);
		if (strcmp(b.data, want)) {
			/* only an exact half may round the other way */
			double us = ms * 1000.0;

			ck_assert_msg(us - (double)(long long)us > 0.4999 &&
			                      us - (double)(long long)us < 0.5001,
			              "%.17g: %s, printf %s", ms, b.data, want);
		}
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_string_ascii)
{
	struct buf b = BUF_INIT;

	json_write_string(&b, "ab\"c", JSON_ENSURE_ASCII);
	ck_assert_str_eq(b.data, "\"ab\\\"c\"");
	buf_clear(&b);
	json_write_string(&b, "\xe2\x82\xac", 0);
	ck_assert_str_eq(b.data, "\"\xe2\x82\xac\"");
	buf_clear(&b);
	json_write_string(&b, "\xe2\x82\xac", JSON_ENSURE_ASCII);
	ck_assert_str_eq(b.data, "\"\\u20AC\"");
	buf_free(&b);
}
END_TEST

static Suite *
jsonesc_suite(void)
{
	Suite *s = suite_create("jsonesc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_every_position);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_members);
	tcase_add_test(tc, test_string_ascii);
	tcase_add_test(tc, test_millis);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(jsonesc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
