/* itest_memory.c - the daemon gives back the memory a request used once no
 * request is left, whether clients are still connected or not, and the
 * buffers it frees then grow again for the next request
 *
 * Every worker socket is read into one static 256 KiB buffer (readbuf.c);
 * a burst of output makes its pages resident, and the daemon gives them
 * back when it is quiet. The buffer is the daemon's .bss: the anonymous
 * mapping right after the last mapping of the hotloadd binary in
 * /proc/PID/smaps, whose Rss these tests read. (malloc_trim, the other half
 * of giving memory back, does nothing under AddressSanitizer, whose
 * allocator is not glibc's: tests/bench shows it on a release build.) */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define JSON_HDR "python:3 mode=json"
#define TOUCHED_KIB 128   /* the buffer's pages are in use: at least this much */
#define QUIET_KIB 32      /* given back: the rest of the .bss is a few pages */
#define TRIM_WAIT_MS 1500 /* at most once a second, so within 1.5 s of the last request */

/* Rss in KiB of the mapping that follows the daemon binary's last one, and
 * its size; asserted found, anonymous and large enough to hold the buffer. */
static long
bss_rss_kib(pid_t pid)
{
	char path[64], exe[PATH_MAX], *smaps, *line, *save = NULL;
	ssize_t n;
	int after_exe = 0, in_bss = 0;
	long rss = -1, size_kib = 0;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	ck_assert_msg(n > 0, "cannot read %s (did hotloadd die?)", path);
	exe[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	smaps = itest_read_file(path, NULL);
	ck_assert_msg(smaps != NULL, "cannot read %s", path);
	for (line = strtok_r(smaps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long lo, hi;
		char name[PATH_MAX] = "";

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %4095s", &lo, &hi, name) >= 2) {
			if (in_bss)
				break;
			if (!strcmp(name, exe))
				after_exe = 1;
			else if (after_exe) {
				ck_assert_msg(name[0] == '\0',
				              "the mapping after %s is %s, not its .bss", exe,
				              name);
				in_bss = 1;
				size_kib = (long)((hi - lo) / 1024);
			}
		} else if (in_bss && !strncmp(line, "Rss:", 4))
			rss = strtol(line + 4, NULL, 10);
	}
	free(smaps);
	ck_assert_msg(rss >= 0, "no .bss mapping after %s in /proc/%d/smaps", exe, (int)pid);
	ck_assert_msg(size_kib >= 256, "the .bss after %s is %ld KiB: no room for the read buffer",
	              exe, size_kib);
	return rss;
}

/* Read events of request id until a stdout event whose data contains
 * marker has arrived. */
static void
wait_output(struct jclient *c, json_int_t id, const char *marker)
{
	for (;;) {
		json_t *m = jc_next_output(c, 20000);
		const char *data;

		ck_assert_msg(m != NULL, "EOF before the output \"%s\"", marker);
		ck_assert_msg(
		        json_integer_value(json_object_get(m, "id")) == id &&
		                strcmp(json_string_value(json_object_get(m, "event")), "done"),
		        "request %lld ended before the output \"%s\"", (long long)id, marker);
		data = json_string_value(json_object_get(m, "data"));
		if (data && strstr(data, marker)) {
			json_decref(m);
			return;
		}
		json_decref(m);
	}
}

/* 4 MiB of output, a marker, then a pause in which the test looks. */
#define BURST "import sys, time\nsys.stdout.write('x' * (4 << 20)); sys.stdout.flush()\n"
#define BURST_THEN_PAUSE                                                                           \
	"print('go', flush=True)\nimport time; time.sleep(0.3)\n" BURST                            \
	"print('written', flush=True)\ntime.sleep(1)\n"

/* An editor, a notebook or an MCP server keeps one connection open all day:
 * the memory its last request used goes back while it stays open. Before,
 * it went back only when the last client had gone. */
START_TEST(given_back_with_the_connection_open)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long busy, quiet;
	char *big;

	jc_call(c, 1, "exec", "pass", &r); /* the worker is up */
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_send_exec(c, 2, BURST_THEN_PAUSE, 0);
	wait_output(c, 2, "go");
	/* A daemon that keeps up reads a little at a time; stopped while the
	 * burst fills the socket (some 200 KiB), its first read then fills
	 * most of the buffer. */
	ck_assert_int_eq(kill(d->pid, SIGSTOP), 0);
	itest_sleep_ms(800);
	ck_assert_int_eq(kill(d->pid, SIGCONT), 0);
	wait_output(c, 2, "written");
	busy = bss_rss_kib(d->pid);
	ck_assert_msg(busy >= TOUCHED_KIB,
	              "4 MiB of output went through the read buffer, but the .bss holds %ld KiB",
	              busy);
	jc_collect(c, 2, 20000, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	itest_sleep_ms(TRIM_WAIT_MS);
	quiet = bss_rss_kib(d->pid);
	ck_assert_msg(quiet <= QUIET_KIB,
	              "no request left and the client still connected: the read buffer "
	              "holds %ld KiB (%ld KiB while the request ran)",
	              quiet, busy);

	/* the pages given back come back zeroed: output is whole; and the
	 * connection's input buffer, freed while it was empty, grows again */
	big = malloc(300032);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "x = '", 5);
	memset(big + 5, 'z', 300000);
	strcpy(big + 300005, "'\nprint(x.count('z'))");
	jc_call(c, 3, "exec", big, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "300000\n");
	jreply_free(&r);
	free(big);
	jc_call(c, 4, "exec", "print('y' * 300000)", &r);
	jreply_assert_ok(&r);
	ck_assert_uint_eq(strlen(r.out), 300001);
	ck_assert_uint_eq(strspn(r.out, "y"), 300000);
	jreply_free(&r);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* A request whose client has gone runs to its end, and its output is read
 * (and dropped) meanwhile: the memory goes back when it ends, not when the
 * client left. */
START_TEST(given_back_after_a_request_outlives_its_client)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	char *mark = itest_strf("%s/burst-written", d->dir);
	char *code = itest_strf("print('running', flush=True)\nimport time; time.sleep(0.5)\n" BURST
	                        "open(%s%s%s, 'w').write('yes')\n",
	                        "'", mark, "'");
	long quiet;

	jc_send_exec(c, 1, code, 0);
	wait_output(c, 1, "running");
	jc_close(c); /* the burst is read after the client has gone */
	ck_assert_msg(itest_wait_file_contains(mark, "yes", 20000),
	              "the request never got past its output");
	itest_sleep_ms(TRIM_WAIT_MS);
	quiet = bss_rss_kib(d->pid);
	ck_assert_msg(quiet <= QUIET_KIB,
	              "after a request that outlived its client, the read buffer holds %ld KiB",
	              quiet);
	free(code);
	free(mark);
	itest_stop(d);
}
END_TEST

/* A worker keeps the buffer of its agent's messages after a large answer
 * (up to 64 KiB) until the daemon is quiet, and then frees it: the next
 * large answer on the same worker is whole. */
START_TEST(a_workers_buffer_is_freed_and_grows_again)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, JSON_HDR);
	struct jreply r;
	long pid = jc_worker_pid(c, 1);
	int i;

	for (i = 0; i < 2; i++) {
		const char *value;

		/* a done of some 50 KB: the value's repr and its JSON */
		jc_call(c, 2 + i, "eval", "'q' * 25000", &r);
		jreply_assert_ok(&r);
		value = json_string_value(json_object_get(r.done, "json"));
		ck_assert_msg(value && strlen(value) == 25000 && strspn(value, "q") == 25000,
		              "eval %d: the value did not come back whole", i + 1);
		jreply_free(&r);
		itest_sleep_ms(TRIM_WAIT_MS);
	}
	ck_assert_int_eq(jc_worker_pid(c, 4), pid); /* the same worker both times */
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("memory");
	TCase *tc = tcase_create("memory");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, given_back_with_the_connection_open);
	tcase_add_test(tc, given_back_after_a_request_outlives_its_client);
	tcase_add_test(tc, a_workers_buffer_is_freed_and_grows_again);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
