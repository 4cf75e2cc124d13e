/* itest_compat.c - the original project's clients on compat ports, as they
 * are: send the script, read the reply with one recv(1024) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"

#define TRIES 40

/* What the original sandbox clients do: sendall, then a single recv. */
static char *
one_recv(const struct itest_daemon *d, const char *script)
{
	int fd = itest_connect(d, ITEST_COMPAT);
	char *buf = calloc(1, 1025);
	ssize_t n;

	itest_send_str(fd, script);
	ck_assert_int_eq(itest_wait_readable(fd, ITEST_TIMEOUT_MS), 1);
	n = recv(fd, buf, 1024, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static const struct {
	const char *script;
	const char *reply;
} cases[] = {
        {"print('hello')\n", "OUTPUT: \nhello\n"},
        {"import sys\nsys.stderr.write('oops\\n')\n", "ERRORS: \noops\n"},
        {"import sys\nprint('out')\nsys.stderr.write('err\\n')\n",
         "OUTPUT: \nout\nERRORS: \nerr\n"},
        {"x = 1\n", "Script executed (no output)."},
        {"print('before')\n1/0\n",
         "OUTPUT: \nbefore\nERRORS: \nTraceback (most recent call last):\n  File \"<hotload-"},
};

/* One recv gets the whole reply, every time, whatever it is made of. */
START_TEST(one_recv_gets_everything)
{
	struct itest_opts o = {.compat = "python:3", .compat_extra = "    quiet: 0.05\n"};
	struct itest_daemon *d = itest_start(&o);
	size_t i;
	int t;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (t = 0; t < TRIES; t++) {
			char *got = one_recv(d, cases[i].script);

			if (i == 4) {
				ck_assert_msg(!strncmp(got, cases[i].reply, strlen(cases[i].reply)),
				              "try %d: %s", t, got);
				itest_assert_contains(got, "ZeroDivisionError: division by zero\n");
			} else
				ck_assert_msg(!strcmp(got, cases[i].reply),
				              "try %d of '%s': got '%s'", t, cases[i].script, got);
			free(got);
		}
	itest_stop(d);
}
END_TEST

/* Past RAW_HOLD_MAX (1 MiB) of stdout the reply streams; all of it
 * arrives, in order, with the errors after it. */
START_TEST(large_reply_streams)
{
	struct itest_opts o = {.compat = "python:3"};
	struct itest_daemon *d = itest_start(&o);
	size_t len;
	char *out = itest_raw_n(
	        d, ITEST_COMPAT, NULL,
	        "import sys\nsys.stdout.write('x' * (3 << 20))\nsys.stderr.write('e')\n",
	        strlen("import sys\nsys.stdout.write('x' * (3 << 20))\n"
	               "sys.stderr.write('e')\n"),
	        0, &len);

	ck_assert_uint_eq(len, 9 + (3u << 20) + 10);
	ck_assert(!strncmp(out, "OUTPUT: \nxxx", 12));
	ck_assert_str_eq(out + 9 + (3u << 20), "ERRORS: \ne");
	free(out);
	itest_stop(d);
}
END_TEST

/* On the main port, stream=yes asks for stdout as it is printed: the first
 * line arrives while the code still runs. */
START_TEST(stream_option)
{
	struct itest_daemon *d = itest_start(NULL);
	int fd = itest_connect(d, ITEST_UNIX);
	char buf[64] = "";
	ssize_t n;

	itest_send_str(fd, "python:3 stream=yes\nimport time\nprint('first', flush=True)\n"
	                   "time.sleep(30)\n");
	itest_half_close(fd);
	ck_assert_int_eq(itest_wait_readable(fd, 10000), 1);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	ck_assert(!strncmp(buf, "OUTPUT: \n", 9));
	close(fd);
	itest_stop(d);
}
END_TEST

/* The worker's pid, asked over the compat port. */
static long
compat_pid(const struct itest_daemon *d)
{
	char *r = itest_raw(d, ITEST_COMPAT, NULL, "import os\nprint(os.getpid())\n");
	long pid;

	ck_assert_msg(sscanf(r, "OUTPUT: \n%ld", &pid) == 1, "reply: %s", r);
	free(r);
	return pid;
}

/* The original clients end every script with __SHUTDOWN__. By default (as
 * the original meant it) the port's worker stops after the request; with
 * shutdown: ignore it stays warm, namespace and all. */
START_TEST(shutdown_token_stop_and_ignore)
{
	struct itest_opts stop = {.compat = "python:3", .compat_extra = "    quiet: 0.05\n"};
	struct itest_opts keep = {.compat = "python:3",
	                          .compat_extra = "    quiet: 0.05\n    shutdown: ignore\n"};
	struct itest_daemon *d = itest_start(&stop);
	long pid = compat_pid(d);
	char *r;

	r = itest_raw(d, ITEST_COMPAT, NULL, "x = 5\nprint('bye')\n__SHUTDOWN__\n");
	ck_assert_str_eq(r, "OUTPUT: \nbye\n");
	free(r);
	ck_assert_int_eq(itest_wait_gone((pid_t)pid, 10000), 1);
	ck_assert_int_ne(compat_pid(d), pid);
	itest_stop(d);

	d = itest_start(&keep);
	pid = compat_pid(d);
	r = itest_raw(d, ITEST_COMPAT, NULL, "x = 5\nprint('bye')\n__SHUTDOWN__\n");
	ck_assert_str_eq(r, "OUTPUT: \nbye\n");
	free(r);
	r = itest_raw(d, ITEST_COMPAT, NULL, "print(x)\n__SHUTDOWN__\n");
	ck_assert_str_eq(r, "OUTPUT: \n5\n");
	free(r);
	ck_assert_int_eq(compat_pid(d), pid);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("compat");
	TCase *tc = tcase_create("compat");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, one_recv_gets_everything);
	tcase_add_test(tc, large_reply_streams);
	tcase_add_test(tc, stream_option);
	tcase_add_test(tc, shutdown_token_stop_and_ignore);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
