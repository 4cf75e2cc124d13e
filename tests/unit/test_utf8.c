/* test_utf8.c - UTF-8 repair, whole and split across chunks */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"

#define R "\xef\xbf\xbd" /* U+FFFD */

/* Repair in[0..len) split at the cut offsets (ascending, ncut of them),
 * then finish; returns what came out. */
static struct buf
repair_cut(const char *in, size_t len, const size_t *cuts, size_t ncut)
{
	struct utf8_carry c = {{0}, 0};
	struct buf out = BUF_INIT;
	size_t i, from = 0;

	for (i = 0; i <= ncut; i++) {
		size_t to = i < ncut ? cuts[i] : len;

		utf8_repair(&c, in + from, to - from, &out);
		from = to;
	}
	utf8_finish(&c, &out);
	ck_assert_uint_eq(c.len, 0);
	return out;
}

/* Check that out holds exactly want[0..wlen), describing the case. */
static void
expect_bytes(const struct buf *out, const char *want, size_t wlen, const char *what)
{
	ck_assert_msg(out->len == wlen && (wlen == 0 || !memcmp(out->data, want, wlen)),
	              "%s: got %zu bytes '%s', want %zu bytes '%s'", what, out->len,
	              out->data ? out->data : "", wlen, want);
	if (out->data)
		ck_assert_int_eq(out->data[out->len], '\0');
}

/* Repair in as one chunk, and split at every one and every two places;
 * each must give exactly want. */
static void
check_len(const char *in, size_t len, const char *want, size_t wlen)
{
	struct buf out;
	size_t cuts[2];
	char what[64];

	out = repair_cut(in, len, NULL, 0);
	expect_bytes(&out, want, wlen, "whole");
	buf_free(&out);
	for (cuts[0] = 0; cuts[0] <= len; cuts[0]++) {
		out = repair_cut(in, len, cuts, 1);
		snprintf(what, sizeof(what), "cut at %zu", cuts[0]);
		expect_bytes(&out, want, wlen, what);
		buf_free(&out);
		for (cuts[1] = cuts[0]; cuts[1] <= len; cuts[1]++) {
			out = repair_cut(in, len, cuts, 2);
			snprintf(what, sizeof(what), "cut at %zu and %zu", cuts[0], cuts[1]);
			expect_bytes(&out, want, wlen, what);
			buf_free(&out);
		}
	}
}

/* check_len for C strings. */
static void
check(const char *in, const char *want)
{
	check_len(in, strlen(in), want, strlen(want));
}

/* check for input that is valid and must pass through untouched. */
static void
check_valid(const char *in)
{
	check(in, in);
}

/* utf8_valid_len: the whole of valid text, up to the first bad or cut-off
 * sequence otherwise. */
START_TEST(test_valid_len)
{
	static const char long_ascii[] = "0123456789abcdefghijklmnopqrstuvwxyz";

	ck_assert_uint_eq(utf8_valid_len("", 0), 0);
	ck_assert_uint_eq(utf8_valid_len(long_ascii, 36), 36);
	ck_assert_uint_eq(utf8_valid_len("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 15), 15);
	ck_assert_uint_eq(utf8_valid_len("abcdefghij\xff", 11), 10);
	ck_assert_uint_eq(utf8_valid_len("abc\xe2\x82", 5), 3); /* cut off */
	ck_assert_uint_eq(utf8_valid_len("ab\xc0\xaf"
	                                 "cd",
	                                 6),
	                  2);                                    /* overlong */
	ck_assert_uint_eq(utf8_valid_len("\xed\xa0\x80", 3), 0); /* surrogate */
	ck_assert_uint_eq(utf8_valid_len("0123456789\x80xyz", 14), 10);
}
END_TEST

START_TEST(test_ascii)
{
	struct buf out;

	check_valid("");
	check_valid("hello, world\n");
	check_len("a\0b", 3, "a\0b", 3);
	out = repair_cut("", 0, NULL, 0);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
}
END_TEST

START_TEST(test_valid_multibyte)
{
	check_valid("\xc2\x80");         /* U+0080, smallest 2-byte */
	check_valid("caf\xc3\xa9");      /* é */
	check_valid("\xdf\xbf");         /* U+07FF, largest 2-byte */
	check_valid("\xe0\xa0\x80");     /* U+0800, smallest 3-byte */
	check_valid("\xe2\x82\xac 5");   /* € */
	check_valid("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
	check_valid("\xee\x80\x80");     /* U+E000, just above them */
	check_valid("\xef\xbf\xbf");     /* U+FFFF */
	check_valid(R);                  /* U+FFFD itself */
	check_valid("\xf0\x90\x80\x80"); /* U+10000, smallest 4-byte */
	check_valid("\xf0\x9f\x98\x80"); /* 😀 */
	check_valid("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
	check_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
}
END_TEST

START_TEST(test_invalid_bytes)
{
	check("\x80", R);
	check("\xbf", R);
	check("a\x80\x80z", "a" R R "z");
	check("\xff", R);
	check("\xfe\xff", R R);
	check("\xf5\x80\x80\x80", R R R R);
	check("\xf8\x88\x80\x80\x80", R R R R R);
	check("\xfc\x84\x80\x80\x80\x80", R R R R R R);
	check("ok\xffok", "ok" R "ok");
}
END_TEST

START_TEST(test_overlong)
{
	check("\xc0\x80", R R); /* NUL in two bytes */
	check("\xc1\xbf", R R);
	check("\xc0\xaf", R R);                 /* '/' in two bytes */
	check("\xe0\x80\x80", R R R);           /* NUL in three */
	check("\xe0\x9f\xbf", R R R);           /* U+07FF in three */
	check("\xf0\x80\x80\x80", R R R R);     /* NUL in four */
	check("\xf0\x8f\xbf\xbf", R R R R);     /* U+FFFF in four */
	check("a\xe0\x80\xafz", "a" R R R "z"); /* '/' in three */
}
END_TEST

START_TEST(test_surrogates)
{
	check("\xed\xa0\x80", R R R);                   /* U+D800 */
	check("\xed\xbf\xbf", R R R);                   /* U+DFFF */
	check("\xed\xa0\xbd\xed\xb8\x80", R R R R R R); /* a CESU-8 pair */
	check("x\xed\xb0\x80y", "x" R R R "y");
}
END_TEST

START_TEST(test_above_max)
{
	check("\xf4\x90\x80\x80", R R R R); /* U+110000 */
	check("\xf4\xbf\xbf\xbf", R R R R);
	check("\xf7\xbf\xbf\xbf", R R R R);
}
END_TEST

START_TEST(test_truncated_midstream)
{
	/* A sequence cut short by a byte that cannot continue it: every byte
	 * of the cut sequence is replaced, the next byte stands on its own. */
	check("\xe2\x82"
	      "A",
	      R R "A");
	check("\xf0\x9f\x98"
	      "A",
	      R R R "A");
	check("\xc3"
	      "A",
	      R "A");
	check("\xe2\x82\xe2\x82\xac", R R "\xe2\x82\xac");
	check("\xf0\x9f\xf0\x9f\x98\x80", R R "\xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_truncated_at_finish)
{
	check("\xc3", R);
	check("abc\xe2\x82", "abc" R R);
	check("abc\xf0\x9f\x98", "abc" R R R);
	check("\xe2\x82\xac\xf0", "\xe2\x82\xac" R);
}
END_TEST

START_TEST(test_split_explicit)
{
	static const size_t one[] = {1}, two[] = {2}, three[] = {3};
	static const size_t c11[] = {1, 2}, c12[] = {1, 3}, c21[] = {2, 3};
	struct buf out;

	/* 2-byte é split across two chunks. */
	out = repair_cut("\xc3\xa9", 2, one, 1);
	expect_bytes(&out, "\xc3\xa9", 2, "2-byte in two");
	buf_free(&out);

	/* 3-byte € across two and three chunks. */
	out = repair_cut("\xe2\x82\xac", 3, one, 1);
	expect_bytes(&out, "\xe2\x82\xac", 3, "3-byte 1+2");
	buf_free(&out);
	out = repair_cut("\xe2\x82\xac", 3, two, 1);
	expect_bytes(&out, "\xe2\x82\xac", 3, "3-byte 2+1");
	buf_free(&out);
	out = repair_cut("\xe2\x82\xac", 3, c11, 2);
	expect_bytes(&out, "\xe2\x82\xac", 3, "3-byte 1+1+1");
	buf_free(&out);

	/* 4-byte 😀 across two and three chunks. */
	out = repair_cut("\xf0\x9f\x98\x80", 4, three, 1);
	expect_bytes(&out, "\xf0\x9f\x98\x80", 4, "4-byte 3+1");
	buf_free(&out);
	out = repair_cut("\xf0\x9f\x98\x80", 4, c12, 2);
	expect_bytes(&out, "\xf0\x9f\x98\x80", 4, "4-byte 1+2+1");
	buf_free(&out);
	out = repair_cut("\xf0\x9f\x98\x80", 4, c21, 2);
	expect_bytes(&out, "\xf0\x9f\x98\x80", 4, "4-byte 2+1+1");
	buf_free(&out);
}
END_TEST

START_TEST(test_carry_state)
{
	struct utf8_carry c = {{0}, 0};
	struct buf out = BUF_INIT;

	/* Nothing of an incomplete sequence comes out until it completes. */
	utf8_repair(&c, "ab\xf0\x9f", 4, &out);
	ck_assert_str_eq(out.data, "ab");
	ck_assert_uint_eq(c.len, 2);
	utf8_repair(&c, "", 0, &out);
	ck_assert_uint_eq(c.len, 2);
	utf8_repair(&c, "\x98", 1, &out);
	ck_assert_str_eq(out.data, "ab");
	ck_assert_uint_eq(c.len, 3);
	utf8_repair(&c,
	            "\x80"
	            "cd",
	            3, &out);
	ck_assert_str_eq(out.data, "ab\xf0\x9f\x98\x80"
	                           "cd");
	ck_assert_uint_eq(c.len, 0);
	buf_free(&out);
}
END_TEST

START_TEST(test_invalid_in_carry)
{
	struct utf8_carry c = {{0}, 0};
	struct buf out = BUF_INIT;

	/* A carried 4-byte start broken by an ASCII byte. */
	utf8_repair(&c, "\xf0\x9f", 2, &out);
	utf8_repair(&c, "A", 1, &out);
	ck_assert_str_eq(out.data, R R "A");
	ck_assert_uint_eq(c.len, 0);

	/* Broken by a new lead byte: that one starts the next character. */
	buf_clear(&out);
	utf8_repair(&c, "\xe2", 1, &out);
	utf8_repair(&c, "\xe2\x82\xac", 3, &out);
	ck_assert_str_eq(out.data, R "\xe2\x82\xac");

	/* Broken by a lead byte that is itself cut off: it is carried on. */
	buf_clear(&out);
	utf8_repair(&c, "\xe2", 1, &out);
	utf8_repair(&c, "\xf0", 1, &out);
	ck_assert_str_eq(out.data, R);
	ck_assert_uint_eq(c.len, 1);
	utf8_repair(&c, "\x9f\x98", 2, &out);
	utf8_repair(&c, "\x80", 1, &out);
	ck_assert_str_eq(out.data, R "\xf0\x9f\x98\x80");

	/* The bytes after a bad lead get their own chance. */
	buf_clear(&out);
	utf8_repair(&c, "\xed", 1, &out);
	utf8_repair(&c, "\xa0\x80z", 3, &out);
	ck_assert_str_eq(out.data, R R R "z");

	/* An overlong caught only when its second byte arrives. */
	buf_clear(&out);
	utf8_repair(&c, "\xe0", 1, &out);
	utf8_repair(&c, "\x80", 1, &out);
	utf8_repair(&c, "\x80", 1, &out);
	ck_assert_str_eq(out.data, R R R);
	ck_assert_uint_eq(c.len, 0);
	buf_free(&out);
}
END_TEST

START_TEST(test_finish)
{
	struct utf8_carry c = {{0}, 0};
	struct buf out = BUF_INIT;

	/* Finishing with nothing carried adds nothing. */
	buf_puts(&out, "kept");
	utf8_finish(&c, &out);
	ck_assert_str_eq(out.data, "kept");

	/* Output is appended, never replaced; finish empties the carry. */
	utf8_repair(&c, "\xf0\x9f\x98", 3, &out);
	ck_assert_str_eq(out.data, "kept");
	utf8_finish(&c, &out);
	ck_assert_str_eq(out.data, "kept" R R R);
	ck_assert_uint_eq(c.len, 0);

	/* The carry can be used again afterwards. */
	utf8_repair(&c, "\xc3", 1, &out);
	utf8_repair(&c, "\xa9", 1, &out);
	utf8_finish(&c, &out);
	ck_assert_str_eq(out.data, "kept" R R R "\xc3\xa9");
	buf_free(&out);
}
END_TEST

START_TEST(test_large)
{
	struct utf8_carry c = {{0}, 0};
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t i, off, step;

	for (i = 0; i < 20000; i++)
		buf_puts(&in, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* Chunks of an odd size cut characters at every possible place. */
	for (off = 0, step = 7; off < in.len; off += step) {
		size_t n = in.len - off < step ? in.len - off : step;

		utf8_repair(&c, in.data + off, n, &out);
	}
	utf8_finish(&c, &out);
	ck_assert_uint_eq(out.len, in.len);
	ck_assert(!memcmp(out.data, in.data, in.len));
	buf_free(&in);
	buf_free(&out);
}
END_TEST

/* All the UTF-8 tests in one suite. */
static Suite *
utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("repair");

	tcase_add_test(tc, test_ascii);
	tcase_add_test(tc, test_valid_multibyte);
	tcase_add_test(tc, test_invalid_bytes);
	tcase_add_test(tc, test_overlong);
	tcase_add_test(tc, test_surrogates);
	tcase_add_test(tc, test_above_max);
	tcase_add_test(tc, test_truncated_midstream);
	tcase_add_test(tc, test_truncated_at_finish);
	tcase_add_test(tc, test_split_explicit);
	tcase_add_test(tc, test_carry_state);
	tcase_add_test(tc, test_invalid_in_carry);
	tcase_add_test(tc, test_finish);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_valid_len);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status tells CTest. */
int
main(void)
{
	SRunner *sr = srunner_create(utf8_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
