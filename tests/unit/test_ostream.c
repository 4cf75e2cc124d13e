/* test_ostream.c - one output pipe read as UTF-8: a real pipe on a real
 * loop, split and invalid sequences, pause and resume, drain, EOF, close */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "ostream.h"
#include "utf8.h"

#define R "\xef\xbf\xbd" /* U+FFFD */

/* One stream reading the read end of a pipe the test writes to. */
struct fixture {
	uv_loop_t loop;
	struct ostream *os;
	int wfd;          /* the write end; -1 once closed */
	struct buf got;   /* every output, concatenated */
	int outputs;      /* output callbacks */
	int invalid;      /* outputs that were not valid UTF-8 */
	int eofs;         /* EOF callbacks */
	int close_on_eof; /* ostream_close from inside the EOF callback */
};

static void
on_output(struct ostream *os, const char *text, size_t len, void *data)
{
	struct fixture *f = data;

	ck_assert_ptr_eq(os, f->os);
	ck_assert_uint_gt(len, 0);
	if (utf8_valid_len(text, len) != len)
		f->invalid++;
	buf_append(&f->got, text, len);
	f->outputs++;
}

static void
on_eof(struct ostream *os, void *data)
{
	struct fixture *f = data;

	f->eofs++;
	if (f->close_on_eof) {
		ostream_close(os);
		f->os = NULL;
	}
}

static void
fixture_open(struct fixture *f)
{
	int p[2];

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(uv_loop_init(&f->loop), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	f->os = ostream_new(&f->loop, 2, on_output, on_eof, f);
	ck_assert_int_eq(ostream_fd(f->os), 2);
	ck_assert_int_eq(uv_pipe_open(ostream_pipe(f->os), p[0]), 0);
	ck_assert_int_eq(ostream_start(f->os), 0);
	f->wfd = p[1];
}

static void
send_bytes(struct fixture *f, const char *data, size_t len)
{
	ck_assert_int_eq(write(f->wfd, data, len), (ssize_t)len);
}

#define send_str(f, s) send_bytes((f), (s), strlen(s))

static void
close_writer(struct fixture *f)
{
	close(f->wfd);
	f->wfd = -1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Turn the loop for ms milliseconds, or until got holds want bytes (when
 * want is above 0) or EOF was reported (want 0 and until_eof). */
static void
run_for(struct fixture *f, int ms, size_t want, int until_eof)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		if ((want && f->got.len >= want) || (until_eof && f->eofs))
			return;
		usleep(1000);
	}
}

/* Close the stream (unless done already) and the loop: every handle must
 * be gone, the stream's included. */
static void
fixture_close(struct fixture *f)
{
	if (f->wfd >= 0)
		close_writer(f);
	ostream_close(f->os);
	f->os = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&f->loop), 0);
	buf_free(&f->got);
}

/* What utf8_repair and utf8_finish make of in, read in one piece. */
static struct buf
repaired(const char *in, size_t len, int finish)
{
	struct utf8_carry c = {{0}, 0};
	struct buf out = BUF_INIT;

	utf8_repair(&c, in, len, &out);
	if (finish)
		utf8_finish(&c, &out);
	return out;
}

static void
expect_got(const struct fixture *f, const char *want, size_t len)
{
	ck_assert_msg(f->got.len == len && !memcmp(f->got.data, want, len),
	              "got %zu bytes '%.*s', want %zu bytes '%.*s'", f->got.len, (int)f->got.len,
	              f->got.data ? f->got.data : "", len, (int)len, want);
}

#define expect_str(f, s) expect_got((f), (s), strlen(s))

START_TEST(split_sequences_are_joined)
{
	struct fixture f;

	fixture_open(&f);
	/* é (2 bytes), € (3), 😀 (4), each cut after its first byte */
	send_str(&f, "h\xc3");
	run_for(&f, 2000, 1, 0);
	expect_str(&f, "h"); /* the lead byte waits for the rest */
	send_str(&f, "\xa9 \xe2");
	run_for(&f, 2000, 4, 0);
	expect_str(&f, "h\xc3\xa9 ");
	send_str(&f, "\x82\xac \xf0\x9f");
	run_for(&f, 2000, 8, 0);
	send_str(&f, "\x98\x80!");
	run_for(&f, 2000, 13, 0);
	expect_str(&f, "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!");
	ck_assert_int_eq(f.invalid, 0);
	fixture_close(&f);
}
END_TEST

START_TEST(invalid_bytes_are_repaired)
{
	static const char in[] = "a\xff"
	                         "b\xc3("
	                         "\xed\xa0\x80"
	                         "c\xc0\xaf"
	                         "d\xe2\x82";
	struct buf partial = repaired(in, sizeof(in) - 1, 0);
	struct buf want = repaired(in, sizeof(in) - 1, 1);
	struct fixture f;

	fixture_open(&f);
	send_bytes(&f, in, sizeof(in) - 1);
	run_for(&f, 2000, partial.len, 0);
	/* the cut-off € at the end waits: the output is not over yet */
	expect_got(&f, partial.data, partial.len);
	ck_assert_uint_lt(f.got.len, want.len);
	ostream_finish(f.os);
	expect_got(&f, want.data, want.len);
	ck_assert(strstr(f.got.data, "a" R "b" R "("));
	ck_assert_int_eq(f.invalid, 0);
	/* finish again: nothing waits any more */
	ostream_finish(f.os);
	expect_got(&f, want.data, want.len);
	buf_free(&partial);
	buf_free(&want);
	fixture_close(&f);
}
END_TEST

START_TEST(pause_and_resume)
{
	struct fixture f;

	fixture_open(&f);
	ck_assert_int_eq(ostream_paused(f.os), 0);
	ostream_pause(f.os);
	ostream_pause(f.os); /* twice is once */
	ck_assert_int_eq(ostream_paused(f.os), 1);
	send_str(&f, "held back");
	run_for(&f, 200, 0, 0);
	ck_assert_int_eq(f.outputs, 0);
	ostream_resume(f.os);
	ck_assert_int_eq(ostream_paused(f.os), 0);
	run_for(&f, 2000, 9, 0);
	expect_str(&f, "held back");

	/* paused again, EOF included: it waits for the resume too */
	ostream_pause(f.os);
	send_str(&f, "!");
	close_writer(&f);
	run_for(&f, 200, 0, 1);
	ck_assert_int_eq(f.eofs, 0);
	expect_str(&f, "held back");
	ostream_resume(f.os);
	run_for(&f, 2000, 0, 1);
	ck_assert_int_eq(f.eofs, 1);
	expect_str(&f, "held back!");
	fixture_close(&f);
}
END_TEST

START_TEST(paused_before_start)
{
	struct fixture f;
	int p[2];

	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(uv_loop_init(&f.loop), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	f.os = ostream_new(&f.loop, 1, on_output, on_eof, &f);
	ck_assert_int_eq(uv_pipe_open(ostream_pipe(f.os), p[0]), 0);
	f.wfd = p[1];
	ostream_pause(f.os);
	ck_assert_int_eq(ostream_start(f.os), 0);
	send_str(&f, "later");
	run_for(&f, 200, 0, 0);
	ck_assert_int_eq(f.outputs, 0);
	ostream_resume(f.os);
	run_for(&f, 2000, 5, 0);
	expect_str(&f, "later");
	fixture_close(&f);
}
END_TEST

START_TEST(drain_reads_what_is_there)
{
	struct fixture f;

	fixture_open(&f);
	/* an empty pipe: drain returns at once */
	ostream_drain(f.os);
	ck_assert_int_eq(f.outputs, 0);

	/* no turn of the loop: drain reads it itself, paused or not */
	send_str(&f, "one ");
	ostream_drain(f.os);
	expect_str(&f, "one ");
	ostream_pause(f.os);
	send_str(&f, "two \xc3");
	ostream_drain(f.os);
	expect_str(&f, "one two ");
	ostream_finish(f.os);
	expect_str(&f, "one two " R);

	/* most of a pipe-full */
	{
		size_t n = 48 << 10, before = f.got.len;
		char *big = malloc(n);

		memset(big, 'x', n);
		send_bytes(&f, big, n);
		ostream_drain(f.os);
		ck_assert_uint_eq(f.got.len, before + n);
		free(big);
	}
	ck_assert_int_eq(f.eofs, 0);
	fixture_close(&f);
}
END_TEST

START_TEST(eof_reported_once)
{
	struct buf want = repaired("end\xe2\x82", 5, 1);
	struct fixture f;

	fixture_open(&f);
	send_str(&f, "end\xe2\x82");
	close_writer(&f);
	run_for(&f, 2000, 0, 1);
	ck_assert_int_eq(f.eofs, 1);
	ck_assert(ostream_eof(f.os));
	/* the cut-off character is finished before EOF is told */
	ck_assert(!strncmp(want.data, "end" R, 6));
	expect_got(&f, want.data, want.len);
	run_for(&f, 100, 0, 0);
	ostream_drain(f.os);
	ostream_resume(f.os);
	ostream_pause(f.os);
	ostream_resume(f.os);
	run_for(&f, 100, 0, 0);
	ck_assert_int_eq(f.eofs, 1);
	expect_got(&f, want.data, want.len);
	buf_free(&want);
	fixture_close(&f);
}
END_TEST

START_TEST(drain_finds_eof)
{
	struct fixture f;

	fixture_open(&f);
	send_str(&f, "last");
	close_writer(&f);
	ostream_drain(f.os);
	expect_str(&f, "last");
	ck_assert_int_eq(f.eofs, 1);
	ck_assert(ostream_eof(f.os));
	run_for(&f, 100, 0, 0);
	ck_assert_int_eq(f.eofs, 1);
	fixture_close(&f);
}
END_TEST

START_TEST(close_from_eof_callback)
{
	struct fixture f;

	fixture_open(&f);
	f.close_on_eof = 1;
	send_str(&f, "bye");
	close_writer(&f);
	run_for(&f, 2000, 0, 1);
	ck_assert_int_eq(f.eofs, 1);
	ck_assert_ptr_null(f.os);
	expect_str(&f, "bye");
	fixture_close(&f); /* the loop closes: the stream freed itself */
}
END_TEST

START_TEST(close_stops_callbacks)
{
	struct fixture f;

	fixture_open(&f);
	send_str(&f, "never read\xc3");
	ostream_close(f.os);
	ostream_close(NULL);
	f.os = NULL;
	close_writer(&f);
	run_for(&f, 100, 0, 0);
	ck_assert_int_eq(f.outputs, 0);
	ck_assert_int_eq(f.eofs, 0);
	fixture_close(&f);
}
END_TEST

START_TEST(close_unopened)
{
	uv_loop_t loop;
	struct ostream *os;

	/* a spawn that failed: the pipe was never opened */
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	os = ostream_new(&loop, 1, on_output, on_eof, NULL);
	ostream_close(os);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *
ostream_suite(void)
{
	Suite *s = suite_create("ostream");
	TCase *tc = tcase_create("ostream");

	tcase_add_test(tc, split_sequences_are_joined);
	tcase_add_test(tc, invalid_bytes_are_repaired);
	tcase_add_test(tc, pause_and_resume);
	tcase_add_test(tc, paused_before_start);
	tcase_add_test(tc, drain_reads_what_is_there);
	tcase_add_test(tc, eof_reported_once);
	tcase_add_test(tc, drain_finds_eof);
	tcase_add_test(tc, close_from_eof_callback);
	tcase_add_test(tc, close_stops_callbacks);
	tcase_add_test(tc, close_unopened);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status tells CTest. */
int
main(void)
{
	SRunner *sr = srunner_create(ostream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
