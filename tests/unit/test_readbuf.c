/* test_readbuf.c - the one buffer that worker sockets are read into */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "readbuf.h"

START_TEST(test_shared_unless_in_use)
{
	uv_buf_t b;
	char *x, *y;

	readbuf_alloc(NULL, 65536, &b);
	ck_assert_uint_eq(b.len, READBUF_SIZE);
	/* Borrowed outside a callback: the shared buffer. */
	x = readbuf_borrow();
	ck_assert_ptr_eq(x, b.base);
	/* Borrowed again while it is in use (a drain from within an output
	 * callback): one of its own, so what was read is not overwritten. */
	memset(x, 'a', 16);
	y = readbuf_borrow();
	ck_assert_ptr_ne(y, x);
	memset(y, 'b', READBUF_SIZE);
	ck_assert_int_eq(x[15], 'a');
	readbuf_return(y);
	readbuf_return(x);
	/* The same while a read callback hands on what it read. */
	readbuf_lock();
	y = readbuf_borrow();
	ck_assert_ptr_ne(y, b.base);
	readbuf_return(y);
	readbuf_unlock();
	x = readbuf_borrow();
	ck_assert_ptr_eq(x, b.base);
	readbuf_return(x);
}
END_TEST

START_TEST(test_release_memory)
{
	uv_buf_t b;

	readbuf_alloc(NULL, 0, &b);
	memset(b.base, 'x', b.len);
	/* Not while in use: what is being handed on stays. */
	readbuf_lock();
	readbuf_release_memory();
	ck_assert_int_eq(b.base[0], 'x');
	readbuf_unlock();
	/* Idle: the pages go, and come back zeroed (Linux's MADV_DONTNEED). */
	readbuf_release_memory();
#ifdef __linux__
	ck_assert_int_eq(b.base[0], 0);
	ck_assert_int_eq(b.base[b.len - 1], 0);
#endif
}
END_TEST

static Suite *
readbuf_suite(void)
{
	Suite *s = suite_create("readbuf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_shared_unless_in_use);
	tcase_add_test(tc, test_release_memory);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(readbuf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
