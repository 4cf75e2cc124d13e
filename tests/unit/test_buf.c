/* test_buf.c - the growable byte buffer and allocation helpers */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

START_TEST(test_init)
{
	struct buf b = BUF_INIT;

	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(buf_line_len(&b), 0);
	buf_clear(&b);
	buf_consume(&b, 3);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
	buf_free(&b);
}
END_TEST

START_TEST(test_append)
{
	struct buf b = BUF_INIT;

	buf_append(&b, "abc", 3);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_str_eq(b.data, "abc");
	buf_append(&b, "de\0f", 4);
	ck_assert_uint_eq(b.len, 7);
	ck_assert(!memcmp(b.data, "abcde\0f", 8));
	ck_assert_uint_gt(b.cap, b.len);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_append_empty)
{
	struct buf b = BUF_INIT;

	/* Even nothing leaves a NUL-terminated string behind. */
	buf_append(&b, NULL, 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_puts(&b, "");
	ck_assert_str_eq(b.data, "");
	buf_free(&b);
}
END_TEST

START_TEST(test_shrink)
{
	struct buf b = BUF_INIT;

	buf_reserve(&b, 1000);
	buf_append(&b, "x", 1);
	buf_shrink(&b, 100); /* not while it holds something */
	ck_assert_ptr_nonnull(b.data);
	buf_clear(&b);
	buf_shrink(&b, 4096); /* nor when it is small */
	ck_assert_ptr_nonnull(b.data);
	buf_shrink(&b, 100);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.cap, 0);
	buf_append(&b, "y", 1); /* and it grows again */
	ck_assert_str_eq(b.data, "y");
	buf_free(&b);
}
END_TEST

START_TEST(test_growth)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < 100000; i++) {
		char c = (char)('a' + i % 26);

		buf_append(&b, &c, 1);
		ck_assert_uint_lt(b.len, b.cap);
	}
	ck_assert_uint_eq(b.len, 100000);
	ck_assert_int_eq(b.data[b.len], '\0');
	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(b.data[i], 'a' + i % 26);
	buf_free(&b);
}
END_TEST

START_TEST(test_reserve)
{
	struct buf b = BUF_INIT;
	char *before;

	buf_reserve(&b, 5000);
	ck_assert_uint_ge(b.cap, 5001);
	ck_assert_uint_eq(b.len, 0);
	before = b.data;
	buf_append(&b, "x", 1);
	buf_reserve(&b, 4000);
	/* Room was already there: no reallocation, nothing moved. */
	ck_assert_ptr_eq(b.data, before);
	ck_assert_str_eq(b.data, "x");
	buf_free(&b);
}
END_TEST

START_TEST(test_puts_printf)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "id=");
	buf_printf(&b, "%d %s", 42, "x");
	buf_printf(&b, "%s", "");
	buf_printf(&b, "|%5.2f|", 2.5);
	ck_assert_str_eq(b.data, "id=42 x| 2.50|");
	ck_assert_uint_eq(b.len, strlen("id=42 x| 2.50|"));
	buf_free(&b);

	/* printf into an empty buffer with an empty result. */
	buf_printf(&b, "%s", "");
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_long)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_puts(&b, "<");
	/* Far beyond the first allocation. */
	buf_printf(&b, "%0*d", 5000, 7);
	buf_puts(&b, ">");
	ck_assert_uint_eq(b.len, 5002);
	ck_assert_int_eq(b.data[0], '<');
	for (i = 1; i < 5000; i++)
		ck_assert_int_eq(b.data[i], '0');
	ck_assert_int_eq(b.data[5000], '7');
	ck_assert_int_eq(b.data[5001], '>');
	ck_assert_int_eq(b.data[5002], '\0');
	buf_free(&b);
}
END_TEST

/* Whatever room is left, a printf fits in it or grows the buffer. */
START_TEST(test_printf_at_every_fill)
{
	char want[600];
	size_t fill, n;

	for (fill = 0; fill < 300; fill++) {
		for (n = 0; n < 140; n += 7) {
			struct buf b = BUF_INIT;

			memset(want, 'a', fill);
			memset(want + fill, 'z', n);
			want[fill + n] = '\0';
			buf_append(&b, want, fill);
			buf_printf(&b, "%.*s", (int)n, want + fill);
			ck_assert_uint_eq(b.len, fill + n);
			ck_assert_str_eq(b.data, want);
			ck_assert_uint_lt(b.len, b.cap);
			buf_free(&b);
		}
	}
}
END_TEST

START_TEST(test_put_int)
{
	struct buf b = BUF_INIT;

	buf_put_int(&b, 0);
	buf_puts(&b, " ");
	buf_put_int(&b, -1);
	buf_puts(&b, " ");
	buf_put_int(&b, 1234567);
	buf_puts(&b, " ");
	buf_put_int(&b, LLONG_MAX);
	buf_puts(&b, " ");
	buf_put_int(&b, LLONG_MIN);
	ck_assert_str_eq(b.data, "0 -1 1234567 9223372036854775807 -9223372036854775808");
	ck_assert_uint_eq(b.len, strlen(b.data));
	buf_free(&b);
}
END_TEST

START_TEST(test_consume)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "hello world");
	buf_consume(&b, 0);
	ck_assert_str_eq(b.data, "hello world");
	buf_consume(&b, 6);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(b.data, "world");
	buf_consume(&b, 5);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_puts(&b, "abc");
	buf_consume(&b, 100);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_free(&b);
}
END_TEST

START_TEST(test_clear)
{
	struct buf b = BUF_INIT;
	size_t cap;

	buf_puts(&b, "some text");
	cap = b.cap;
	buf_clear(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	ck_assert_uint_eq(b.cap, cap);
	buf_puts(&b, "again");
	ck_assert_str_eq(b.data, "again");
	buf_free(&b);
}
END_TEST

START_TEST(test_line_len)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "partial");
	ck_assert_uint_eq(buf_line_len(&b), 0);
	buf_puts(&b, " line\nsecond\n\nrest");
	ck_assert_uint_eq(buf_line_len(&b), 13);
	buf_consume(&b, buf_line_len(&b));
	ck_assert_uint_eq(buf_line_len(&b), 7);
	buf_consume(&b, 7);
	ck_assert_uint_eq(buf_line_len(&b), 1);
	buf_consume(&b, 1);
	ck_assert_str_eq(b.data, "rest");
	ck_assert_uint_eq(buf_line_len(&b), 0);
	buf_clear(&b);

	/* A NUL byte does not end the search for '\n'. */
	buf_append(&b, "a\0b\n", 4);
	ck_assert_uint_eq(buf_line_len(&b), 4);
	buf_free(&b);
}
END_TEST

START_TEST(test_steal)
{
	struct buf b = BUF_INIT;
	char *s;

	buf_puts(&b, "mine now");
	s = buf_steal(&b);
	ck_assert_str_eq(s, "mine now");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	free(s);

	/* Stealing from an empty buffer still gives a string. */
	s = buf_steal(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	free(s);

	/* The buffer is usable again after a steal. */
	buf_puts(&b, "next");
	ck_assert_str_eq(b.data, "next");
	buf_free(&b);
}
END_TEST

START_TEST(test_xalloc)
{
	char *s, *p;
	int *z;

	s = xstrdup("dup me");
	ck_assert_str_eq(s, "dup me");
	free(s);
	s = xstrndup("dup me", 3);
	ck_assert_str_eq(s, "dup");
	free(s);
	s = xstrndup("ab\0cd", 5);
	ck_assert(!memcmp(s, "ab\0cd", 6));
	free(s);

	z = xcalloc(16, sizeof(*z));
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(z[i], 0);
	free(z);

	/* Zero-sized requests still give a usable pointer. */
	p = xmalloc(0);
	ck_assert_ptr_nonnull(p);
	p = xrealloc(p, 0);
	ck_assert_ptr_nonnull(p);
	p = xrealloc(p, 10);
	memcpy(p, "123456789", 10);
	ck_assert_str_eq(p, "123456789");
	free(p);
	free(xcalloc(0, 0));
}
END_TEST

/* All the buffer tests in one suite. */
static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_append_empty);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_shrink);
	tcase_add_test(tc, test_reserve);
	tcase_add_test(tc, test_puts_printf);
	tcase_add_test(tc, test_printf_long);
	tcase_add_test(tc, test_consume);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_line_len);
	tcase_add_test(tc, test_steal);
	tcase_add_test(tc, test_xalloc);
	tcase_add_test(tc, test_printf_at_every_fill);
	tcase_add_test(tc, test_put_int);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status tells CTest. */
int
main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
