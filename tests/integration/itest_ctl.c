/* itest_ctl.c - hotloadctl against a real daemon, and the control
 * connection's status */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

/* Run hotloadctl with args (NULL-terminated) and stdin_data. */
static void
ctl(const char *stdin_data, const char *const *env, struct itest_proc *p, ...)
{
	const char *argv[32];
	char *bin = itest_bin("hotloadctl");
	va_list ap;
	size_t n = 0;

	argv[n++] = bin;
	va_start(ap, p);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	itest_run(argv, stdin_data, env, 60000, p);
	free(bin);
}

#define assert_proc(p, status_, out_)                                                              \
	ck_assert_msg((p).status == (status_) && !strcmp((p).out, (out_)),                         \
	              "hotloadctl: expected exit %d and stdout \"%s\", got exit %d, stdout "       \
	              "\"%s\", stderr \"%s\"",                                                     \
	              (status_), (out_), (p).status, (p).out, (p).err)

START_TEST(exec_code)
{
	struct itest_daemon *d = itest_start(NULL);
	struct itest_proc p;

	ctl(NULL, NULL, &p, "exec", "python:3", "-c", "print(1)", "--socket", d->sock, NULL);
	assert_proc(p, 0, "1\n");
	itest_proc_free(&p);
	/* global options before the command too */
	ctl(NULL, NULL, &p, "--socket", d->sock, "exec", "python:3", "-c", "print(2)", NULL);
	assert_proc(p, 0, "2\n");
	itest_proc_free(&p);
	/* output goes to stdout, errors to stderr */
	ctl(NULL, NULL, &p, "exec", "python:3", "-c",
	    "import sys\nprint('out')\nprint('err', file=sys.stderr)", "--socket", d->sock, NULL);
	assert_proc(p, 0, "out\n");
	ck_assert_str_eq(p.err, "err\n");
	itest_proc_free(&p);
	/* output that cannot be written is a failure, said on stderr */
	{
		char *bin = itest_bin("hotloadctl");
		char *script = itest_strf(
		        "'%s' exec python:3 -c 'print(1)' --socket '%s' >/dev/full; "
		        "echo \"exec $?\"; '%s' --version >/dev/full; echo \"version $?\"",
		        bin, d->sock, bin);
		const char *argv[] = {"/bin/sh", "-c", script, NULL};

		itest_run(argv, NULL, NULL, 60000, &p);
		ck_assert_msg(!strcmp(p.out, "exec 1\nversion 1\n") &&
		                      strstr(p.err, "cannot write to standard output"),
		              "stdout \"%s\", stderr \"%s\"", p.out, p.err);
		itest_proc_free(&p);
		free(script);
		free(bin);
	}
	itest_stop(d);
}
END_TEST

START_TEST(exec_errors)
{
	struct itest_daemon *d = itest_start(NULL);
	struct itest_proc p;

	/* the code raises: 1, the traceback on stderr */
	ctl(NULL, NULL, &p, "exec", "python:3", "-c", "print('before')\n1/0", "--socket", d->sock,
	    NULL);
	assert_proc(p, 1, "before\n");
	itest_assert_contains(p.err, "Traceback (most recent call last):\n");
	itest_assert_contains(p.err, "ZeroDivisionError: division by zero\n");
	itest_proc_free(&p);
	/* the worker dies: 1 */
	ctl(NULL, NULL, &p, "exec", "python:3", "-c", "import os\nos._exit(9)", "--socket", d->sock,
	    NULL);
	assert_proc(p, 1, "");
	itest_assert_contains(p.err, "WorkerDied");
	itest_proc_free(&p);
	/* refused by the daemon: 4 */
	ctl(NULL, NULL, &p, "exec", "nosuchdcc:1", "-c", "print(1)", "--socket", d->sock, NULL);
	assert_proc(p, 4, "");
	itest_assert_contains(p.err, "nosuchdcc");
	itest_proc_free(&p);
	ctl(NULL, NULL, &p, "exec", "mayapy:1999", "-c", "print(1)", "--socket", d->sock, NULL);
	assert_proc(p, 4, "");
	itest_assert_contains(p.err, "not installed");
	itest_proc_free(&p);
	itest_stop(d);
}
END_TEST

START_TEST(no_daemon)
{
	char dir[] = "/tmp/hl-ctl-XXXXXX";
	char *sock;
	struct itest_proc p;
	int port = itest_free_port();
	char *tcp = itest_strf("127.0.0.1:%d", port);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	sock = itest_strf("%s/hotloadd.sock", dir);
	ctl(NULL, NULL, &p, "exec", "python:3", "-c", "print(1)", "--socket", sock, NULL);
	assert_proc(p, 3, "");
	ck_assert_str_ne(p.err, ""); /* says why */
	itest_proc_free(&p);
	ctl(NULL, NULL, &p, "exec", "python:3", "-c", "print(1)", "--tcp", tcp, NULL);
	assert_proc(p, 3, "");
	itest_proc_free(&p);
	/* -q keeps the reason a command failed, only the chatter goes */
	ctl(NULL, NULL, &p, "-q", "exec", "python:3", "-c", "print(1)", "--socket", sock, NULL);
	assert_proc(p, 3, "");
	ck_assert_msg(strstr(p.err, "cannot connect") != NULL, "stderr: %s", p.err);
	itest_proc_free(&p);
	/* a malformed target is a usage error before anything is sent */
	ctl(NULL, NULL, &p, "status", "foo bar", "--socket", sock, NULL);
	assert_proc(p, 2, "");
	itest_proc_free(&p);
	itest_remove_tree(dir);
	free(sock);
	free(tcp);
}
END_TEST

START_TEST(exec_stdin_and_file)
{
	struct itest_opts o = {.tcp = 1};
	struct itest_daemon *d = itest_start(&o);
	char *script = itest_strf("%s/my_script.py", d->dir);
	char *tcp = itest_strf("127.0.0.1:%d", d->tcp_port);
	char *env_sock = itest_strf("HOTLOAD_SOCKET=%s", d->sock);
	const char *env[] = {env_sock, NULL};
	const char *text = "import sys\nprint('from file', len(sys.argv) >= 0)\n\ndef f():\n"
	                   "    raise ValueError('in file')\n";
	struct itest_proc p;

	/* - reads the code from stdin */
	ctl("print('from stdin')\n", NULL, &p, "exec", "python:3", "-", "--socket", d->sock, NULL);
	assert_proc(p, 0, "from stdin\n");
	itest_proc_free(&p);
	/* a file argument; its name shows in tracebacks */
	itest_write_file(script, text, strlen(text));
	ctl(NULL, NULL, &p, "exec", "python:3", script, "--socket", d->sock, NULL);
	assert_proc(p, 0, "from file True\n");
	itest_proc_free(&p);
	/* f is now in the main namespace; calling it fails inside the file */
	ctl(NULL, NULL, &p, "exec", "python:3", "-c", "f()", "--tcp", tcp, NULL);
	assert_proc(p, 1, "");
	itest_assert_contains(p.err, "my_script.py\", line 5, in f");
	itest_assert_contains(p.err, "ValueError: in file");
	itest_proc_free(&p);
	/* $HOTLOAD_SOCKET */
	ctl(NULL, env, &p, "exec", "python:3", "-c", "print('env')", NULL);
	assert_proc(p, 0, "env\n");
	itest_proc_free(&p);
	/* eval and ping */
	ctl(NULL, env, &p, "eval", "python:3", "6*7", NULL);
	assert_proc(p, 0, "42\n");
	itest_proc_free(&p);
	ctl(NULL, env, &p, "ping", "python:3", NULL);
	ck_assert_msg(p.status == 0, "ping: exit %d, %s", p.status, p.err);
	itest_proc_free(&p);
	/* named as the daemon names the target, as start and status do */
	ctl(NULL, env, &p, "ping", "python", NULL);
	ck_assert_msg(p.status == 0 && !strncmp(p.out, "python:3: ok (", 14), "ping python: %s",
	              p.out);
	itest_proc_free(&p);
	/* the daemon's start-up hint is a command that works as it is */
	{
		char *log = itest_daemon_log(d), *try = strstr(log, "; try: "), *nl, *cmd;
		const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
		const char *path_env[] = {NULL, NULL};
		char *path = itest_strf("PATH=%s/bin:%s", HOTLOAD_BINARY_DIR, getenv("PATH"));

		ck_assert_msg(try != NULL, "no try: hint in the log");
		try += 7;
		nl = strchr(try, '\n');
		cmd = strndup(try, nl ? (size_t)(nl - try) : strlen(try));
		itest_assert_contains(cmd, "--socket ");
		argv[2] = cmd;
		path_env[0] = path;
		itest_run(argv, NULL, path_env, 0, &p);
		ck_assert_msg(p.status == 0 && !strcmp(p.out, "1\n"), "'%s': exit %d, %s%s", cmd,
		              p.status, p.out, p.err);
		itest_proc_free(&p);
		free(cmd);
		free(path);
		free(log);
	}
	/* a typo gets the command it is nearest to */
	ctl(NULL, env, &p, "exce", "python:3", "-c", "print(1)", NULL);
	ck_assert_int_eq(p.status, 2);
	itest_assert_contains(p.err, "unknown command 'exce'; did you mean 'exec'?");
	itest_proc_free(&p);
	/* a missing file is a usage error */
	ctl(NULL, env, &p, "exec", "python:3", "/nonexistent/x.py", NULL);
	ck_assert_int_eq(p.status, 2);
	itest_proc_free(&p);
	free(env_sock);
	free(tcp);
	free(script);
	itest_stop(d);
}
END_TEST

/* The control connection's status reflects a worker that served requests. */
/* A file runs as under python FILE ARGS: __file__, its directory first on
 * sys.path (a sibling imports), sys.argv, the client's working directory,
 * tracebacks naming the file; none of it stays for the next request but
 * __file__. */
START_TEST(exec_file_like_python)
{
	struct itest_daemon *d = itest_start(NULL);
	char *dir = itest_strf("%s/proj/tools", d->dir), *cmd, *path, *out;
	char *ctl_bin = itest_bin("hotloadctl");
	const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
	struct itest_proc p;

	path = itest_strf("mkdir -p '%s'", dir);
	ck_assert_int_eq(system(path), 0);
	free(path);
	path = itest_strf("%s/helper.py", dir);
	itest_write_file(path, "VALUE = 'sibling'\n", 18);
	free(path);
	path = itest_strf("%s/main.py", dir);
	out = itest_strf("import os, sys\nimport helper\n"
	                 "print(__file__ == %s, helper.VALUE, sys.argv, os.getcwd())\n"
	                 "def f():\n    raise ValueError('deep')\nf()\n",
	                 "os.path.abspath('tools/main.py')");
	itest_write_file(path, out, strlen(out));
	free(out);
	cmd = itest_strf(
	        "cd '%s/proj' && '%s' --socket '%s' exec python:3 tools/main.py -- a 'b c'", d->dir,
	        ctl_bin, d->sock);
	argv[2] = cmd;
	itest_run(argv, NULL, NULL, 0, &p);
	ck_assert_int_eq(p.status, 1);
	out = itest_strf("True sibling ['tools/main.py', 'a', 'b c'] %s/proj\n", d->dir);
	ck_assert_str_eq(p.out, out);
	free(out);
	out = itest_strf("File \"%s\", line 5, in f", path);
	itest_assert_contains(p.err, out);
	free(out);
	itest_proc_free(&p);
	free(cmd);

	/* the next request: sys.path, sys.argv and the directory are back */
	cmd = itest_strf("cd / && '%s' --socket '%s' exec python:3 -c "
	                 "'import sys, os; print(\"%s\" in sys.path, sys.argv, os.getcwd(), "
	                 "\"helper\" in sys.modules)' x",
	                 ctl_bin, d->sock, dir);
	argv[2] = cmd;
	itest_run(argv, NULL, NULL, 0, &p);
	assert_proc(p, 0, "False ['-c', 'x'] / True\n");
	itest_proc_free(&p);
	free(cmd);

	/* eval's tracebacks name <string>, as exec -c's do */
	ctl(NULL, NULL, &p, "--socket", d->sock, "eval", "python:3", "1/0", NULL);
	itest_assert_contains(p.err, "File \"<string>\", line 1");
	itest_proc_free(&p);
	free(path);
	free(dir);
	free(ctl_bin);
	itest_stop(d);
}
END_TEST

/* --timeout bounds the whole wait: a request queued behind a busy worker
 * is answered Timeout when it is up, without running. */
START_TEST(timeout_bounds_the_queue)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, "python:3 mode=json");
	char *marker = itest_strf("%s/ran", d->dir), *code;
	struct itest_proc p;
	struct jreply r;
	long long t0;

	jc_call(c, 1, "ping", NULL, &r);
	jreply_free(&r);
	jc_send_exec(c, 2, "import time\ntime.sleep(4)", 0);
	itest_sleep_ms(200);
	code = itest_strf("open('%s', 'w').write('x')", marker);
	t0 = itest_now_ms();
	ctl(NULL, NULL, &p, "--socket", d->sock, "exec", "--timeout", "1", "python:3", "-c", code,
	    NULL);
	ck_assert_int_eq(p.status, 1);
	itest_assert_contains(p.err,
	                      "Timeout: it waited for a worker of python:3 past its deadline "
	                      "of 1 s; it was not run");
	ck_assert_msg(itest_now_ms() - t0 < 3000, "took %lld ms", itest_now_ms() - t0);
	itest_proc_free(&p);
	jc_collect(c, 2, 10000, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	itest_sleep_ms(200);
	ck_assert_int_ne(access(marker, F_OK), 0);
	free(code);
	free(marker);
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(status_reflects_worker)
{
	struct itest_daemon *d = itest_start(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, "python:3 mode=json");
	struct jreply r;
	json_t *st, *daemon, *targets, *t = NULL, *workers, *w;
	long pid;
	size_t i;
	struct itest_proc p;
	char *pidstr;

	jc_call(c, 1, "exec", "print('hi')", &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	pid = jc_worker_pid(c, 2);

	st = itest_control(d, "status");
	ck_assert(json_is_true(json_object_get(st, "ok")));
	daemon = json_object_get(json_object_get(st, "status"), "daemon");
	ck_assert_int_eq(json_integer_value(json_object_get(daemon, "pid")), d->pid);
	ck_assert(json_is_string(json_object_get(daemon, "version")));
	targets = json_object_get(json_object_get(st, "status"), "targets");
	for (i = 0; i < json_array_size(targets); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(targets, i), "target"))
		                    ?: "",
		            "python:3"))
			t = json_array_get(targets, i);
	ck_assert_msg(t != NULL, "no python:3 in the status targets");
	ck_assert_str_eq(json_string_value(json_object_get(t, "hook")), "python");
	ck_assert(json_is_string(json_object_get(t, "executable")));
	ck_assert_int_eq(json_integer_value(json_object_get(t, "queue")), 0);
	workers = json_object_get(t, "workers");
	ck_assert_uint_eq(json_array_size(workers), 1);
	w = json_array_get(workers, 0);
	ck_assert_str_eq(json_string_value(json_object_get(w, "state")), "idle");
	ck_assert_int_eq(json_integer_value(json_object_get(w, "pid")), pid);
	ck_assert_int_eq(json_integer_value(json_object_get(w, "requests")), 2);
	ck_assert(json_number_value(json_object_get(w, "uptime_s")) >= 0);
	json_decref(st);

	/* a busy worker says so */
	jc_send_line(c, "{\"id\":3,\"op\":\"exec\",\"code\":\"import time\\nprint('go')\\n"
	                "time.sleep(0.5)\"}");
	json_decref(jc_next_output(c, 0)); /* "go": it runs */
	st = itest_control(d, "status");
	targets = json_object_get(json_object_get(st, "status"), "targets");
	workers = json_object_get(json_array_get(targets, 0), "workers");
	w = json_array_get(workers, 0);
	ck_assert_str_eq(json_string_value(json_object_get(w, "state")) ?: "", "busy");
	json_decref(st);
	jc_collect(c, 3, 0, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);

	/* control ping, and an unknown op */
	st = itest_control(d, "ping");
	ck_assert(json_is_true(json_object_get(st, "ok")));
	json_decref(st);
	st = itest_control(d, "frobnicate");
	ck_assert(json_is_false(json_object_get(st, "ok")));
	json_decref(st);

	/* hotloadctl status shows the same */
	ctl(NULL, NULL, &p, "status", "--socket", d->sock, NULL);
	ck_assert_msg(p.status == 0, "status: exit %d, %s", p.status, p.err);
	pidstr = itest_strf("%ld", pid);
	itest_assert_contains(p.out, "python:3");
	itest_assert_contains(p.out, pidstr);
	itest_proc_free(&p);
	ctl(NULL, NULL, &p, "status", "--json", "--socket", d->sock, NULL);
	ck_assert_int_eq(p.status, 0);
	st = json_loads(p.out, 0, NULL);
	ck_assert_msg(st != NULL, "status --json printed no JSON: %s", p.out);
	itest_assert_contains(p.out, pidstr);
	json_decref(st);
	itest_proc_free(&p);
	free(pidstr);
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ctl");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, exec_code);
	tcase_add_test(tc, exec_errors);
	tcase_add_test(tc, no_daemon);
	tcase_add_test(tc, exec_stdin_and_file);
	tcase_add_test(tc, status_reflects_worker);
	tcase_add_test(tc, exec_file_like_python);
	tcase_add_test(tc, timeout_bounds_the_queue);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
