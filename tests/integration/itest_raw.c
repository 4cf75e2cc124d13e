/* itest_raw.c - raw mode (the original project's replies), byte for byte,
 * over the Unix socket, TCP and a headerless compat port */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"

#define MiB (1024 * 1024)

static struct itest_daemon *
start_tcp(void)
{
	struct itest_opts o = {.tcp = 1};

	return itest_start(&o);
}

/* The pid of the worker behind target, from a raw request. */
static long
raw_pid(struct itest_daemon *d, const char *target)
{
	char *r = itest_raw(d, ITEST_UNIX, target, "import os\nprint(os.getpid())\n");
	long pid = 0;

	ck_assert_msg(sscanf(r, "OUTPUT: \n%ld\n", &pid) == 1, "no pid in \"%s\"", r);
	free(r);
	return pid;
}

START_TEST(print_unix_and_tcp)
{
	struct itest_daemon *d = start_tcp();
	char *r;

	r = itest_raw(d, ITEST_UNIX, "python:3", "print('hi')\n");
	ck_assert_str_eq(r, "OUTPUT: \nhi\n");
	free(r);
	r = itest_raw(d, ITEST_TCP, "python:3", "print('hi')\n");
	ck_assert_str_eq(r, "OUTPUT: \nhi\n");
	free(r);
	/* No trailing newline in the payload, several lines of output. */
	r = itest_raw(d, ITEST_TCP, "python:3", "print('a')\nprint('b', end='')");
	ck_assert_str_eq(r, "OUTPUT: \na\nb");
	free(r);
	itest_stop(d);
}
END_TEST

START_TEST(exception_after_print)
{
	struct itest_daemon *d = itest_start(NULL);
	const char *head = "OUTPUT: \npartial\nERRORS: \nTraceback (most recent call last):\n"
	                   "  File \"<";
	const char *tail = "ZeroDivisionError: division by zero\n", *nul;
	static const char nul_tail[] = "\nValueError: a\0b\n";
	char *r = itest_raw(d, ITEST_UNIX, "python:3", "print('partial')\nx = 1\n1/0\n");
	size_t n = strlen(r);

	ck_assert_msg(strncmp(r, head, strlen(head)) == 0, "reply does not start with\n%s\ngot\n%s",
	              head, r);
	itest_assert_contains(r, ">\", line 3, in <module>\n");
	ck_assert_msg(n > strlen(tail) && !strcmp(r + n - strlen(tail), tail),
	              "reply does not end with \"%s\": \"%s\"", tail, r);
	/* The traceback starts at the user's code: no frames of the agent. */
	ck_assert_uint_eq(itest_count(r, "  File \""), 1);
	itest_assert_not_contains(r, "hookd");
	free(r);

	/* An exception without output: the ERRORS part alone. */
	r = itest_raw(d, ITEST_UNIX, "python:3", "raise ValueError('bad value')\n");
	ck_assert_msg(!strncmp(r, "ERRORS: \nTraceback (most recent call last):\n", 44), "%s", r);
	itest_assert_contains(r, "\nValueError: bad value\n");
	free(r);

	/* A syntax error is an error reply too, and the worker keeps serving. */
	r = itest_raw(d, ITEST_UNIX, "python:3", "def f(:\n");
	ck_assert_msg(!strncmp(r, "ERRORS: \n", 9), "%s", r);
	itest_assert_contains(r, "SyntaxError");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "python:3", "print('still here')");
	ck_assert_str_eq(r, "OUTPUT: \nstill here\n");
	free(r);

	/* A NUL in the message: the reply has it, and what follows it. */
	nul = "raise ValueError('a\\x00b')";
	r = itest_raw_n(d, ITEST_UNIX, "python:3", nul, strlen(nul), 10000, &n);
	ck_assert_msg(n > sizeof(nul_tail) - 1 && !memcmp(r + n - (sizeof(nul_tail) - 1), nul_tail,
	                                                  sizeof(nul_tail) - 1),
	              "%s", r);
	free(r);
	itest_stop(d);
}
END_TEST

START_TEST(no_output_and_stderr_only)
{
	struct itest_daemon *d = itest_start(NULL);
	char *r;

	r = itest_raw(d, ITEST_UNIX, "python:3", "x = 1\n");
	ck_assert_str_eq(r, "Script executed (no output).");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "python:3", "");
	ck_assert_str_eq(r, "Script executed (no output).");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "python:3", "import sys\nsys.stderr.write('warn\\n')\n");
	ck_assert_str_eq(r, "ERRORS: \nwarn\n");
	free(r);
	/* Both streams: OUTPUT first, whatever order they were written in. */
	r = itest_raw(d, ITEST_UNIX, "python:3",
	              "import sys\nsys.stderr.write('e1\\n')\nprint('o1')\n"
	              "sys.stderr.write('e2\\n')\nprint('o2')\n");
	ck_assert_str_eq(r, "OUTPUT: \no1\no2\nERRORS: \ne1\ne2\n");
	free(r);
	itest_stop(d);
}
END_TEST

START_TEST(crlf_header_and_options)
{
	struct itest_daemon *d = start_tcp();
	char *r;

	r = itest_raw(d, ITEST_TCP, "python:3\r\n", "print('crlf')\r\n");
	ck_assert_str_eq(r, "OUTPUT: \ncrlf\n");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "python:3 mode=raw\r\n", "print('crlf')\n");
	ck_assert_str_eq(r, "OUTPUT: \ncrlf\n");
	free(r);
	/* Aliases and no version. */
	r = itest_raw(d, ITEST_UNIX, "python3", "print('alias')\n");
	ck_assert_str_eq(r, "OUTPUT: \nalias\n");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "python", "print('noversion')\n");
	ck_assert_str_eq(r, "OUTPUT: \nnoversion\n");
	free(r);
	/* file=NAME names the code in the traceback. */
	r = itest_raw(d, ITEST_UNIX, "python:3 file=tool.py", "x = 1\n1/0\n");
	itest_assert_contains(r, "  File \"tool.py\", line 2, in <module>\n");
	free(r);
	itest_stop(d);
}
END_TEST

START_TEST(namespaces)
{
	struct itest_daemon *d = itest_start(NULL);
	char *r;

	r = itest_raw(d, ITEST_UNIX, "python:3", "x = 41\n");
	ck_assert_str_eq(r, "Script executed (no output).");
	free(r);
	/* main persists from one connection to the next */
	r = itest_raw(d, ITEST_UNIX, "python:3", "print(x + 1)\n");
	ck_assert_str_eq(r, "OUTPUT: \n42\n");
	free(r);
	/* fresh sees nothing of main, and leaves nothing behind */
	r = itest_raw(d, ITEST_UNIX, "python:3 ns=fresh", "print('x' in globals())\ny = 1\n");
	ck_assert_str_eq(r, "OUTPUT: \nFalse\n");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "python:3", "print('y' in globals(), x)\n");
	ck_assert_str_eq(r, "OUTPUT: \nFalse 41\n");
	free(r);
	/* user code runs as __main__ */
	r = itest_raw(d, ITEST_UNIX, "python:3", "print(__name__)\n");
	ck_assert_str_eq(r, "OUTPUT: \n__main__\n");
	free(r);
	itest_stop(d);
}
END_TEST

/* Raw replies are UTF-8 too: bad bytes in the output, or in the payload,
 * become U+FFFD. */
START_TEST(invalid_utf8)
{
	struct itest_daemon *d = itest_start(NULL);
	char *r;

	r = itest_raw(d, ITEST_UNIX, "python:3", "import os\nos.write(1, b'\\xff ok\\n')\n");
	ck_assert_str_eq(r, "OUTPUT: \n\xef\xbf\xbd ok\n");
	free(r);
	r = itest_raw(d, ITEST_UNIX, "python:3", "print('caf\xc3\xa9 \xff!')\n");
	ck_assert_str_eq(r, "OUTPUT: \ncaf\xc3\xa9 \xef\xbf\xbd!\n");
	free(r);
	itest_stop(d);
}
END_TEST

/* 1 MiB of numbered lines arrives whole and in order. */
START_TEST(one_mib_output)
{
	struct itest_daemon *d = itest_start(NULL);
	const char *code = "for i in range(16384):\n    print('%08d' % i + 'x' * 55)\n";
	size_t lines = MiB / 64, i, len;
	char *expect = malloc(9 + MiB + 1), *r;

	memcpy(expect, "OUTPUT: \n", 9);
	for (i = 0; i < lines; i++) /* "%08d" + 55 'x' + "\n" = 64 bytes */
		snprintf(expect + 9 + i * 64, 65, "%08zu%055d\n", i, 0);
	for (i = 0; i < lines; i++)
		memset(expect + 9 + i * 64 + 8, 'x', 55);
	r = itest_raw_n(d, ITEST_UNIX, "python:3", code, strlen(code), 0, &len);
	ck_assert_uint_eq(len, 9 + MiB);
	ck_assert_msg(!memcmp(r, expect, len), "1 MiB of output arrived changed");
	free(r);
	free(expect);
	itest_stop(d);
}
END_TEST

/* A client whose header, payload and end of file come apart, after the
 * daemon has taken the connection (most clients send them at once, and
 * the daemon reads them at accept): the same reply, over both sockets. */
START_TEST(payload_in_pieces)
{
	static const char *const pieces[] = {"pyth", "on:3\nprint(", "'pie", "ces')\n"};
	static const enum itest_via vias[] = {ITEST_UNIX, ITEST_TCP};
	struct itest_daemon *d = start_tcp();
	size_t v, i;

	for (v = 0; v < 2; v++) {
		int fd = itest_connect(d, vias[v]);
		char *r;

		for (i = 0; i < 4; i++) {
			itest_sleep_ms(30);
			itest_send_str(fd, pieces[i]);
		}
		itest_sleep_ms(30);
		shutdown(fd, SHUT_WR);
		r = itest_read_all(fd, 10000, NULL);
		ck_assert_str_eq(r, "OUTPUT: \npieces\n");
		free(r);
		close(fd);
	}
	/* all of it at once, its end of file after the daemon read it */
	for (v = 0; v < 2; v++) {
		int fd = itest_connect(d, vias[v]);
		char *r;

		itest_send_str(fd, "python:3\nprint('later eof')\n");
		itest_sleep_ms(100);
		shutdown(fd, SHUT_WR);
		r = itest_read_all(fd, 10000, NULL);
		ck_assert_str_eq(r, "OUTPUT: \nlater eof\n");
		free(r);
		close(fd);
	}
	itest_stop(d);
}
END_TEST

/* One client more than the daemon accepts in one turn of its loop (it
 * takes 16, and the next one at the start of the next turn), over a
 * socket and a compat port: the last one, which sends a request while the
 * others say nothing, is answered at once. They all connect while the
 * daemon is stopped, so that they wait for it together. Left unread, it
 * would wait for whatever timer woke the daemon next: the silent
 * clients' header timeouts, 30 s. */
START_TEST(burst_of_connections)
{
	enum { N = 17 };
	struct itest_opts o = {.compat = "python:3"};
	struct itest_daemon *d = itest_start(&o);
	int fds[N], i, round;
	long long t0;
	char *r;

	free(itest_raw(d, ITEST_UNIX, "python:3", "pass")); /* a warm worker */
	for (round = 0; round < 2; round++) {
		enum itest_via via = round ? ITEST_COMPAT : ITEST_UNIX;

		itest_sleep_ms(1200); /* past the heap trim's timer, after the last request */
		ck_assert_int_eq(kill(d->pid, SIGSTOP), 0);
		for (i = 0; i < N; i++)
			fds[i] = itest_connect(d, via);
		itest_send_str(fds[N - 1], round ? "print(7 * 6)\n" : "python:3\nprint(7 * 6)\n");
		shutdown(fds[N - 1], SHUT_WR);
		ck_assert_int_eq(kill(d->pid, SIGCONT), 0);
		t0 = itest_now_ms();
		r = itest_read_all(fds[N - 1], 40000, NULL);
		ck_assert_msg(!strcmp(r, "OUTPUT: \n42\n"), "round %d: \"%s\"", round, r);
		ck_assert_msg(itest_now_ms() - t0 < 1000,
		              "%s: the last client was answered after %lld ms",
		              round ? "compat port" : "unix socket", itest_now_ms() - t0);
		free(r);
		for (i = 0; i < N; i++)
			close(fds[i]);
	}
	itest_stop(d);
}
END_TEST

/* An 8 MiB script: a big string literal whose length and CRC the code prints. */
START_TEST(eight_mib_payload)
{
	struct itest_daemon *d = itest_start(NULL);
	const char *pre = "import zlib\ndata = '''",
	           *post = "'''\nprint(len(data), zlib.crc32(data.encode()))\n";
	size_t n = 8 * MiB, i, plen;
	char *payload = malloc(strlen(pre) + n + strlen(post) + 1), *p, *r, *expect;

	p = payload + strlen(pre);
	memcpy(payload, pre, strlen(pre));
	for (i = 0; i < n; i++)
		p[i] = i % 101 == 100 ? '\n' : (char)('a' + (i * 7 + i / 997) % 26);
	strcpy(p + n, post);
	plen = strlen(payload);
	expect = itest_strf("OUTPUT: \n%zu %u\n", n, (unsigned)itest_crc32(p, n));
	r = itest_raw_n(d, ITEST_UNIX, "python:3", payload, plen, 60000, NULL);
	ck_assert_str_eq(r, expect);
	free(r);
	free(expect);
	free(payload);
	itest_stop(d);
}
END_TEST

START_TEST(shutdown_token)
{
	struct itest_daemon *d = itest_start(NULL);
	long pid1, pid2;
	long long end;
	char *r;

	pid1 = raw_pid(d, "python:3");
	r = itest_raw(d, ITEST_UNIX, "python:3", "x = 5\nprint('bye')\n__SHUTDOWN__\n");
	ck_assert_str_eq(r, "OUTPUT: \nbye\n");
	free(r);
	/* the worker goes after its request */
	end = itest_now_ms() + 10000;
	while (itest_pid_alive((pid_t)pid1) && itest_now_ms() < end)
		itest_sleep_ms(20);
	ck_assert_msg(!itest_pid_alive((pid_t)pid1),
	              "worker %ld still runs 10 s after __SHUTDOWN__", pid1);
	/* and the next request gets a new one, with a new namespace */
	pid2 = raw_pid(d, "python:3");
	ck_assert_int_ne(pid1, pid2);
	ck_assert(itest_pid_alive((pid_t)pid2));
	r = itest_raw(d, ITEST_UNIX, "python:3", "print('x' in globals())\n");
	ck_assert_str_eq(r, "OUTPUT: \nFalse\n");
	free(r);
	/* the token is removed wherever it is */
	r = itest_raw(d, ITEST_UNIX, "python:3", "print('a__SHUTDOWN__b')\n");
	ck_assert_str_eq(r, "OUTPUT: \nab\n");
	free(r);
	itest_stop(d);
}
END_TEST

/* __SHUTDOWN__ alone with no worker running answers without starting one. */
START_TEST(shutdown_token_without_worker)
{
	struct itest_daemon *d = itest_start(NULL);
	json_t *st, *targets;
	size_t i;
	char *r;

	r = itest_raw(d, ITEST_UNIX, "python:3", "__SHUTDOWN__\n");
	ck_assert_str_eq(r, "Script executed (no output).");
	free(r);
	st = itest_control(d, "status");
	targets = json_object_get(json_object_get(st, "status"), "targets");
	ck_assert_msg(json_is_array(targets), "status without targets");
	for (i = 0; i < json_array_size(targets); i++)
		ck_assert_uint_eq(
		        json_array_size(json_object_get(json_array_get(targets, i), "workers")), 0);
	json_decref(st);
	itest_stop(d);
}
END_TEST

/* The original sandbox client: connect, sendall(script), recv until close;
 * it never half-closes, so the compat port ends the payload on silence. */
START_TEST(compat_port_original_client)
{
	struct itest_opts o = {.compat = "python:3"};
	struct itest_daemon *d = itest_start(&o);
	size_t n = 6000;
	char *pad = malloc(n + 1), *script, *r, *expect;
	int fd;

	memset(pad, 'z', n);
	pad[n] = '\0';
	script = itest_strf("data = '%s'\nprint(len(data))\n", pad);
	ck_assert_uint_gt(strlen(script), 4096);
	expect = itest_strf("OUTPUT: \n%zu\n", n);
	r = itest_raw(d, ITEST_COMPAT, NULL, script);
	ck_assert_str_eq(r, expect);
	free(r);

	/* A script sent in two parts with a short pause is still one script. */
	fd = itest_connect(d, ITEST_COMPAT);
	itest_send_all(fd, script, 3000);
	itest_sleep_ms(60);
	itest_send_all(fd, script + 3000, strlen(script) - 3000);
	r = itest_read_all(fd, 0, NULL);
	close(fd);
	ck_assert_str_eq(r, expect);
	free(r);

	/* Errors come back in the original format; a client that half-closes
	 * works too. */
	fd = itest_connect(d, ITEST_COMPAT);
	itest_send_str(fd, "print('p')\n1/0\n");
	itest_half_close(fd);
	r = itest_read_all(fd, 0, NULL);
	close(fd);
	ck_assert_msg(!strncmp(r, "OUTPUT: \np\nERRORS: \nTraceback", 29), "%s", r);
	itest_assert_contains(r, "ZeroDivisionError: division by zero\n");
	free(r);
	free(expect);
	free(script);
	free(pad);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("raw");
	TCase *tc = tcase_create("raw");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, print_unix_and_tcp);
	tcase_add_test(tc, exception_after_print);
	tcase_add_test(tc, no_output_and_stderr_only);
	tcase_add_test(tc, crlf_header_and_options);
	tcase_add_test(tc, namespaces);
	tcase_add_test(tc, invalid_utf8);
	tcase_add_test(tc, one_mib_output);
	tcase_add_test(tc, payload_in_pieces);
	tcase_add_test(tc, burst_of_connections);
	tcase_add_test(tc, eight_mib_payload);
	tcase_add_test(tc, shutdown_token);
	tcase_add_test(tc, shutdown_token_without_worker);
	tcase_add_test(tc, compat_port_original_client);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
