/* itest_fork.c - spawn: fork with python3: workers forked from a warm
 * template, and everything a spawned worker guarantees (crash restart,
 * pools, interrupt, timeout, output, teardown, reloading) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

/* Make yaml the hook forky.yaml, and load it. */
static void
use_hook(struct itest_daemon *d, const char *yaml)
{
	json_t *res;

	itest_write_hook(d, "forky.yaml", yaml);
	res = itest_control(d, "reload");
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "reload failed");
	json_decref(res);
}

/* Whether s holds "WORD PID\n". */
static int
has_line(const char *s, const char *word, long pid)
{
	char line[64];

	snprintf(line, sizeof(line), "%s %ld\n", word, pid);
	return strstr(s, line) != NULL;
}

/* Stop the daemon (asserting a clean exit), keeping its directory. */
static void
stop_keep(struct itest_daemon *d)
{
	int st = itest_terminate(d, 0);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hotloadd exit status %d", st);
}

/* A daemon with hook "forky" (python3 as version 1, spawn: fork, two
 * workers): initialize and uninitialize log their pid to DIR/life.log;
 * more is appended to the hook as it is. */
static struct itest_daemon *
start_forky(const char *more)
{
	struct itest_opts o = {.empty_hooks_dir = 1, .extra_config = ITEST_SUPERVISION("2", "1")};
	struct itest_daemon *d = itest_start(&o);
	char *hook =
	        itest_strf(ITEST_PY_HOOK("forky") "spawn: fork\n"
	                                          "max_workers: 2\n"
	                                          "initialize: |\n"
	                                          "  import os\n"
	                                          "  with open('%s/life.log', 'a') as f:\n"
	                                          "      f.write('init %%d\\n' %% os.getpid())\n"
	                                          "uninitialize: |\n"
	                                          "  import os\n"
	                                          "  with open('%s/life.log', 'a') as f:\n"
	                                          "      f.write('uninit %%d\\n' %% os.getpid())\n"
	                                          "%s",
	                   d->dir, d->dir, more ? more : "");

	use_hook(d, hook);
	free(hook);
	return d;
}

/* DIR/life.log ("" when missing). */
static char *
life(const struct itest_daemon *d)
{
	char *path = itest_strf("%s/life.log", d->dir);
	char *s = itest_read_file(path, NULL);

	free(path);
	return s ? s : strdup("");
}

/* The template's pid of forky:1, or -1. */
static long
template_pid(const struct itest_daemon *d)
{
	return itest_template_pid(d, "forky:1");
}

/* A worker is a child of the template, leads its own process group, and
 * starts with what the template's initialize() left; initialize runs once
 * for every worker of one template, a crash is restarted by a new fork, two
 * workers are two forks, and at the stop every one of them and the
 * template run uninitialize and are gone. */
START_TEST(workers_are_forks_of_one_template)
{
	struct itest_daemon *d = start_forky(NULL);
	struct jclient *a = jc_open(d, ITEST_UNIX, "forky mode=json");
	struct jclient *b;
	struct jreply r, ra, rb;
	long pid = jc_eval_long(a, 1, "__import__('os').getpid()"), tmpl = template_pid(d), again;
	char *log;

	ck_assert_int_gt(tmpl, 0);
	ck_assert_int_ne(pid, tmpl);
	ck_assert_int_eq(jc_eval_long(a, 2, "__import__('os').getppid()"), tmpl);
	ck_assert_int_eq(jc_eval_long(a, 3, "__import__('os').getpgrp()"), pid);

	/* a crash: WorkerDied, and the next request is a new fork */
	jc_call(a, 4, "exec", "import os\nos._exit(3)", &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	again = jc_eval_long(a, 5, "__import__('os').getpid()");
	ck_assert_int_ne(again, pid);
	ck_assert_int_eq(jc_eval_long(a, 6, "__import__('os').getppid()"), tmpl);

	/* two at once: two forks */
	b = jc_open(d, ITEST_UNIX, "forky mode=json");
	jc_send_exec(a, 7, "import os, time\ntime.sleep(0.5)\nprint(os.getpid(), os.getppid())", 0);
	jc_send_exec(b, 1, "import os, time\ntime.sleep(0.5)\nprint(os.getpid(), os.getppid())", 0);
	jc_collect(a, 7, 0, &ra);
	jc_collect(b, 1, 0, &rb);
	jreply_assert_ok(&ra);
	jreply_assert_ok(&rb);
	ck_assert_str_ne(ra.out, rb.out);
	ck_assert_int_eq(atol(strchr(ra.out, ' ') + 1), tmpl);
	ck_assert_int_eq(atol(strchr(rb.out, ' ') + 1), tmpl);
	jreply_free(&ra);
	jreply_free(&rb);

	/* three workers so far, one initialize: the template's */
	log = life(d);
	ck_assert_int_eq(itest_count(log, "init "), 1);
	ck_assert_msg(has_line(log, "init", tmpl), "life.log:\n%s", log);
	free(log);

	jc_close(a);
	jc_close(b);
	stop_keep(d);
	/* each of the two workers and the template tore down, and are gone */
	log = life(d);
	ck_assert_msg(itest_count(log, "uninit ") == 3, "life.log:\n%s", log);
	ck_assert_msg(has_line(log, "uninit", tmpl), "life.log:\n%s", log);
	free(log);
	ck_assert(itest_wait_gone((pid_t)tmpl, 5000));
	ck_assert(itest_wait_gone((pid_t)again, 5000));
	itest_free(d);
}
END_TEST

/* Output, native writes included, is the request's; a timeout and an
 * interrupt stop the code and keep the forked worker warm. */
START_TEST(output_timeout_and_interrupt)
{
	struct itest_daemon *d = start_forky(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, "forky mode=json");
	struct jreply r;
	json_t *fields, *res;
	long pid = jc_eval_long(c, 1, "__import__('os').getpid()");

	jc_call(c, 2, "exec",
	        "import os, sys\nprint('out')\nsys.stderr.write('err\\n')\nsys.stdout.flush()\n"
	        "os.write(1, b'native\\n')\nos.write(2, b'native err\\n')",
	        &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "out\nnative\n");
	ck_assert_str_eq(r.err, "err\nnative err\n");
	jreply_free(&r);

	jc_send_exec(c, 3, "import time\ntime.sleep(30)", 0.5);
	jc_collect(c, 3, 0, &r);
	jreply_assert_error(&r, "Timeout");
	jreply_free(&r);
	ck_assert_int_eq(jc_eval_long(c, 4, "__import__('os').getpid()"), pid);

	jc_send_exec(c, 5, "import time\nprint('started', flush=True)\ntime.sleep(30)", 0);
	json_decref(jc_next_output(c, 0)); /* "started": the code runs */
	fields = json_pack("{s:s}", "target", "forky:1");
	res = itest_control_with(d, "interrupt", fields);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	json_decref(fields);
	jc_collect(c, 5, 0, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	jreply_free(&r);
	ck_assert_int_eq(jc_eval_long(c, 6, "__import__('os').getpid()"), pid);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* The template's exit takes its workers with it: the running request gets
 * WorkerDied, and the next one is served by a fork of a new template. */
START_TEST(template_exit_takes_its_workers)
{
	struct itest_daemon *d = start_forky(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, "forky mode=json");
	struct jreply r;
	long pid = jc_eval_long(c, 1, "__import__('os').getpid()"), tmpl = template_pid(d), fresh;
	char *log;

	jc_send_exec(c, 2, "import time\nprint('started', flush=True)\ntime.sleep(30)", 0);
	json_decref(jc_next_output(c, 0));
	ck_assert_int_eq(kill((pid_t)tmpl, SIGKILL), 0);
	jc_collect(c, 2, 0, &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)pid, 5000));

	fresh = jc_eval_long(c, 3, "__import__('os').getppid()");
	ck_assert_int_ne(fresh, tmpl);
	ck_assert_int_eq(fresh, template_pid(d));
	log = life(d);
	ck_assert_int_eq(itest_count(log, "init "), 2);
	free(log);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* A template whose initialize() fails: the request hears why, traceback
 * included, and no template is left running. */
START_TEST(template_start_failure)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){.empty_hooks_dir = 1});
	struct jclient *c;
	struct jreply r;
	long long end;

	use_hook(d, ITEST_PY_HOOK("forky") "spawn: fork\n"
	                                   "initialize: |\n"
	                                   "  raise RuntimeError('no licence for this seat')\n");
	c = jc_open(d, ITEST_UNIX, "forky mode=json");

	jc_call(c, 1, "exec", "print(1)", &r);
	jreply_assert_error(&r, "WorkerStartFailed");
	ck_assert_msg(strstr(jreply_error_str(&r, "message"), "no licence for this seat"),
	              "message: %s", jreply_error_str(&r, "message"));
	jreply_free(&r);
	end = itest_now_ms() + 5000;
	while (template_pid(d) > 0 && itest_now_ms() < end)
		itest_sleep_ms(20);
	ck_assert_int_le(template_pid(d), 0);
	jc_close(c);
	itest_stop(d);
}
END_TEST

static void
write_text(const char *path, const char *text)
{
	char *tmp = itest_strf("%s.tmp~", path);

	itest_write_file(tmp, text, strlen(text));
	ck_assert_int_eq(rename(tmp, path), 0);
	free(tmp);
}

/* A module that imports in a fresh interpreter and fails when it runs a
 * second time in one, as a reload does: FMOD_ONCE, then FMOD_NOT_TWICE
 * saved over it. */
#define FMOD_ONCE "import sys\nsys.fmod_loaded = 1\nVALUE = 1\n"
#define FMOD_NOT_TWICE                                                                             \
	"import sys\nif getattr(sys, 'fmod_loaded', 0):\n    raise RuntimeError('run twice')\n"    \
	"sys.fmod_loaded = 1\nVALUE = 2\n"

/* Hook forky (spawn: fork) with DIR/src on its python_path and watched,
 * and the keys more (an initialize that imports fmod, say), with
 * DIR/src/fmod.py holding source; returns that file's path. */
static char *
use_fmod_hook(struct itest_daemon *d, const char *source, const char *more)
{
	char *src = itest_strf("%s/src", d->dir), *mod = itest_strf("%s/fmod.py", src);
	char *hook = itest_strf(ITEST_PY_HOOK("forky") "spawn: fork\n"
	                                               "python_path: [%s]\n"
	                                               "watch: [%s]\n"
	                                               "%s",
	                        src, src, more);

	ck_assert_int_eq(mkdir(src, 0700), 0);
	write_text(mod, source);
	use_hook(d, hook);
	free(hook);
	free(src);
	return mod;
}

/* The template imported a module at its start; a save reloads it in the
 * forked worker before its next request, and a worker forked after the
 * save (from the template that has the old code) reloads it too. A
 * recycle replaces the template. */
START_TEST(forked_workers_reload_what_changed)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){.empty_hooks_dir = 1});
	char *mod = use_fmod_hook(d, "VALUE = 1\n", "initialize: import fmod\n");
	struct jclient *c;
	struct jreply r;
	json_t *res, *fields;
	long tmpl, pid;
	long long end;

	c = jc_open(d, ITEST_UNIX, "forky mode=json");
	ck_assert_int_eq(jc_eval_long(c, 1, "__import__('fmod').VALUE"), 1);
	tmpl = template_pid(d);

	write_text(mod, "VALUE = 2\n");
	itest_sleep_ms(300); /* the watch's debounce */
	ck_assert_int_eq(jc_eval_long(c, 2, "__import__('fmod').VALUE"), 2);

	/* a new fork of the same template: it is told of the change too */
	jc_call(c, 3, "exec", "import os\nos._exit(1)", &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	ck_assert_int_eq(jc_eval_long(c, 4, "__import__('fmod').VALUE"), 2);
	ck_assert_int_eq(jc_eval_long(c, 5, "__import__('os').getppid()"), tmpl);

	/* recycle: a new template, which imports what is on disk now */
	pid = jc_eval_long(c, 6, "__import__('os').getpid()");
	fields = json_pack("{s:[s]}", "targets", "forky:1");
	res = itest_control_with(d, "recycle", fields);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	json_decref(fields);
	end = itest_now_ms() + 10000;
	while ((template_pid(d) == tmpl || itest_pid_alive((pid_t)pid)) && itest_now_ms() < end)
		itest_sleep_ms(20);
	ck_assert(!itest_pid_alive((pid_t)pid));
	ck_assert_int_eq(jc_eval_long(c, 7, "__import__('fmod').VALUE"), 2);
	ck_assert_int_ne(jc_eval_long(c, 8, "__import__('os').getppid()"), tmpl);
	jc_close(c);
	itest_stop(d);
	free(mod);
}
END_TEST

/* ns=isolated: each request runs in a new fork of the template of its
 * own, which goes after it: what one does is not in the next, nor in the
 * main worker's namespace; raw mode has it as a header option; a target
 * that starts its workers gives each isolated request a started one. */
START_TEST(isolated_requests)
{
	struct itest_daemon *d = start_forky(NULL);
	struct jclient *c = jc_open(d, ITEST_UNIX, "forky mode=json");
	struct jclient *e;
	struct jreply r;
	json_t *extra = json_pack("{s:s}", "ns", "isolated");
	long main_pid, tmpl, iso[2];
	char *out, *want;
	int i;

	jc_call(c, 1, "exec", "x = 'main'", &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	main_pid = jc_eval_long(c, 2, "__import__('os').getpid()");
	tmpl = template_pid(d);
	for (i = 0; i < 2; i++) {
		jc_call_with(c, 3 + i, "exec",
		             "import os\nprint(os.getpid(), os.getppid(), 'x' in dir(), "
		             "'y' in dir())\ny = 1",
		             extra, 0, &r);
		jreply_assert_ok(&r);
		iso[i] = atol(r.out);
		want = itest_strf(" %ld False False\n", tmpl);
		ck_assert_msg(strstr(r.out, want), "got \"%s\", want \"%s\"", r.out, want);
		free(want);
		jreply_free(&r);
		ck_assert_int_ne(iso[i], main_pid);
		ck_assert_msg(itest_wait_gone((pid_t)iso[i], 5000), "isolated worker %ld stays",
		              iso[i]);
	}
	ck_assert_int_ne(iso[0], iso[1]);
	/* the main worker is as it was */
	jc_call(c, 5, "exec", "import os\nprint(os.getpid(), x, 'y' in dir())", &r);
	jreply_assert_ok(&r);
	want = itest_strf("%ld main False\n", main_pid);
	ck_assert_str_eq(r.out, want);
	free(want);
	jreply_free(&r);

	/* raw mode */
	out = itest_raw(d, ITEST_UNIX, "forky ns=isolated",
	                "import os\nprint(os.getppid(), 'x' in dir())");
	want = itest_strf("%ld False", tmpl);
	ck_assert_msg(strstr(out, want), "raw reply: %s", out);
	free(want);
	free(out);

	/* with a debug session: refused */
	json_object_set_new(extra, "session", json_string("s"));
	jc_call_with(c, 6, "exec", "print(1)", extra, 0, &r);
	jreply_assert_error(&r, "BadRequest");
	jreply_free(&r);
	json_object_del(extra, "session");

	/* spawn: exec: a started worker of its own */
	e = jc_open(d, ITEST_UNIX, "python:3 mode=json");
	main_pid = jc_worker_pid(e, 1);
	jc_call_with(e, 2, "exec", "import os\nprint(os.getpid())", extra, 0, &r);
	jreply_assert_ok(&r);
	ck_assert_int_ne(atol(r.out), main_pid);
	ck_assert(itest_wait_gone((pid_t)atol(r.out), 5000));
	jreply_free(&r);
	ck_assert_int_eq(jc_worker_pid(e, 3), main_pid);

	json_decref(extra);
	jc_close(c);
	jc_close(e);
	itest_stop(d);
}
END_TEST

/* Isolated workers of target now in its status (each counted once). */
static int
isolated_workers(const struct itest_daemon *d)
{
	json_t *t = itest_target_status(d, "forky:1"), *w;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(t, "workers"), i, w) n +=
	        json_is_true(json_object_get(w, "isolated"));
	json_decref(t);
	return n;
}

/* When a template dies its workers die with it: that is one end, the
 * template's, not a crash of each worker. With as many workers as
 * crash_budget, the target is not failed, the running request alone gets
 * WorkerDied, and the next one is served by a fork of a new template. */
START_TEST(template_death_counts_once)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){
	        .empty_hooks_dir = 1, .extra_config = ITEST_SUPERVISION("2", "1")});
	struct jclient *c[4];
	struct jreply r;
	json_t *t;
	long pid[4], tmpl;
	int i, j;

	use_hook(d, ITEST_PY_HOOK("forky") "spawn: fork\nmax_workers: 4\n");
	/* four at once: four workers, crash_budget of them */
	for (i = 0; i < 4; i++) {
		c[i] = jc_open(d, ITEST_UNIX, "forky mode=json");
		jc_send_exec(c[i], 1, "import os, time\ntime.sleep(0.5)\nprint(os.getpid())", 0);
	}
	for (i = 0; i < 4; i++) {
		jc_collect(c[i], 1, 0, &r);
		jreply_assert_ok(&r);
		pid[i] = atol(r.out);
		jreply_free(&r);
		for (j = 0; j < i; j++)
			ck_assert_int_ne(pid[i], pid[j]);
	}
	tmpl = template_pid(d);
	jc_send_exec(c[0], 2, "import time\nprint('started', flush=True)\ntime.sleep(30)", 0);
	json_decref(jc_next_output(c[0], 0));
	ck_assert_int_eq(kill((pid_t)tmpl, SIGKILL), 0);
	jc_collect(c[0], 2, 0, &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	for (i = 0; i < 4; i++)
		ck_assert(itest_wait_gone((pid_t)pid[i], 5000));

	for (i = 0; i < 4; i++)
		ck_assert_int_ne(jc_eval_long(c[i], 3, "__import__('os').getppid()"), tmpl);
	t = itest_target_status(d, "forky:1");
	ck_assert_str_eq(json_string_value(json_object_get(t, "state")), "ok");
	ck_assert_int_eq(json_integer_value(json_object_get(t, "restarts")), 1);
	json_decref(t);
	for (i = 0; i < 4; i++)
		jc_close(c[i]);
	itest_stop(d);
}
END_TEST

/* reload_fallback: recycle, and a module fails to reload in one worker: a
 * fork of its template would have the old module, so the template is
 * replaced, but its other workers serve on (a request running in one
 * runs to its end, past stop_grace), each replaced when it is idle, and
 * the old template goes after the last; none of it is a crash. The
 * module fails when it runs a second time in one interpreter, as a
 * reload does, and imports fresh. */
START_TEST(reload_failure_replaces_the_template_only)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){
	        .empty_hooks_dir = 1, .extra_config = ITEST_SUPERVISION("1", "1")});
	char *mod = use_fmod_hook(d, FMOD_ONCE,
	                          "max_workers: 2\n"
	                          "reload_fallback: recycle\n"
	                          "initialize: import fmod\n");
	struct jclient *a, *b;
	struct jreply r;
	json_t *t;
	long tmpl, fresh, pid_a, pid_b;

	a = jc_open(d, ITEST_UNIX, "forky mode=json");
	b = jc_open(d, ITEST_UNIX, "forky mode=json");
	pid_a = jc_eval_long(a, 1, "__import__('os').getpid()");
	tmpl = template_pid(d);

	/* worker A runs for longer than stop_grace */
	jc_send_exec(a, 2, "import time\nprint('started', flush=True)\ntime.sleep(4)\nprint('end')",
	             0);
	json_decref(jc_next_output(a, 0));
	write_text(mod, FMOD_NOT_TWICE);
	itest_sleep_ms(300); /* the watch's debounce */
	/* worker B, a new fork: the reload fails, the old code runs, and B
	 * and the template are replaced */
	jc_call(b, 1, "eval", "__import__('fmod').VALUE", &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")), 1);
	jreply_free(&r);
	/* the next worker is a fork of a new template, which has the new code */
	ck_assert_int_eq(jc_eval_long(b, 2, "__import__('fmod').VALUE"), 2);
	fresh = template_pid(d);
	ck_assert_int_gt(fresh, 0);
	ck_assert_int_ne(fresh, tmpl);
	pid_b = jc_eval_long(b, 3, "__import__('os').getpid()");
	ck_assert(itest_pid_alive((pid_t)tmpl)); /* the old template waits for A */
	/* A's request ran to its end; then A and the old template go */
	jc_collect(a, 2, 0, &r);
	jreply_assert_ok(&r);
	itest_assert_contains(r.out, "end\n"); /* after "started", read above */
	jreply_free(&r);
	ck_assert(itest_wait_gone((pid_t)pid_a, 5000));
	ck_assert(itest_wait_gone((pid_t)tmpl, 5000));

	/* the new template stays, past stop_grace; its forks run the saved code */
	itest_sleep_ms(1500);
	ck_assert_int_eq(template_pid(d), fresh);
	ck_assert_int_eq(jc_eval_long(b, 4, "__import__('os').getpid()"), pid_b);
	ck_assert_int_eq(jc_eval_long(a, 3, "__import__('os').getppid()"), fresh);
	ck_assert_int_eq(jc_eval_long(a, 4, "__import__('fmod').VALUE"), 2);
	t = itest_target_status(d, "forky:1");
	ck_assert_str_eq(json_string_value(json_object_get(t, "state")), "ok");
	ck_assert_int_eq(json_integer_value(json_object_get(t, "restarts")), 0);
	json_decref(t);
	jc_close(a);
	jc_close(b);
	itest_stop(d);
	free(mod);
}
END_TEST

/* An ns=isolated request that goes before its worker is ready (its
 * deadline passed) leaves no worker behind; a module that fails to reload
 * in an isolated worker replaces the template (reload_fallback: recycle). */
START_TEST(isolated_workers_do_not_stay)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){.empty_hooks_dir = 1});
	char *mod = use_fmod_hook(d, "VALUE = 1\n",
	                          "idle_timeout: 600\n"
	                          "reload_fallback: recycle\n"
	                          "initialize: |\n"
	                          "  import time, fmod\n"
	                          "  time.sleep(1)\n");
	struct jclient *c;
	struct jreply r;
	json_t *extra = json_pack("{s:s, s:f}", "ns", "isolated", "deadline", 0.3);
	long tmpl;
	long long end;

	c = jc_open(d, ITEST_UNIX, "forky mode=json");
	jc_call_with(c, 1, "eval", "1", extra, 0, &r);
	jreply_assert_error(&r, "Timeout");
	itest_assert_contains(jreply_error_str(&r, "message"), "it was not run");
	jreply_free(&r);
	/* the template starts, the fork is made, and goes: nobody waits */
	end = itest_now_ms() + 10000;
	while (template_pid(d) <= 0 && itest_now_ms() < end)
		itest_sleep_ms(20);
	ck_assert_int_gt(template_pid(d), 0);
	itest_sleep_ms(500);
	while (isolated_workers(d) && itest_now_ms() < end)
		itest_sleep_ms(20);
	ck_assert_int_eq(isolated_workers(d), 0);

	/* a reload that fails in an isolated worker: a new template */
	tmpl = template_pid(d);
	write_text(mod, "VALUE = (\n");
	itest_sleep_ms(300);
	json_object_del(extra, "deadline");
	jc_call_with(c, 2, "eval", "__import__('fmod').VALUE", extra, 0, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	write_text(mod, "VALUE = 2\n");
	itest_sleep_ms(300);
	jc_call_with(c, 3, "eval", "(__import__('fmod').VALUE, __import__('os').getppid())", extra,
	             0, &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(r.done, "json"), 0)), 2);
	ck_assert_int_ne(json_integer_value(json_array_get(json_object_get(r.done, "json"), 1)),
	                 tmpl);
	jreply_free(&r);
	json_decref(extra);
	jc_close(c);
	itest_stop(d);
	free(mod);
}
END_TEST

/* A template that does not answer (stopped with SIGSTOP here) is given up
 * once a fork asked of it is not made within startup_timeout: the request
 * hears why, the next worker is a fork of a new template, the running
 * worker of the old one runs on, and the stop ends them all (a worker
 * whose end its template cannot report is taken as gone after kill_grace
 * past its SIGKILL). The running request outlasts the new template's
 * start, so that the next request is not the old worker's. */
START_TEST(hung_template_is_replaced)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){
	        .empty_hooks_dir = 1, .extra_config = ITEST_SUPERVISION("1", "1")});
	struct jclient *a, *b;
	struct jreply r;
	long tmpl, pid_a;

	use_hook(d, ITEST_PY_HOOK("forky") "spawn: fork\nmax_workers: 2\nstartup_timeout: 1\n");
	a = jc_open(d, ITEST_UNIX, "forky mode=json");
	b = jc_open(d, ITEST_UNIX, "forky mode=json");
	pid_a = jc_eval_long(a, 1, "__import__('os').getpid()");
	tmpl = template_pid(d);
	jc_send_exec(a, 2, "import time\nprint('started', flush=True)\ntime.sleep(4)\nprint('end')",
	             0);
	json_decref(jc_next_output(a, 0));
	ck_assert_int_eq(kill((pid_t)tmpl, SIGSTOP), 0);
	jc_call(b, 1, "eval", "1", &r);
	jreply_assert_error(&r, "WorkerStartFailed");
	itest_assert_contains(jreply_error_str(&r, "message"), "did not become ready within 1 s");
	jreply_free(&r);
	ck_assert_int_ne(jc_eval_long(b, 2, "__import__('os').getppid()"), tmpl);
	ck_assert_int_ne(template_pid(d), tmpl);
	jc_collect(a, 2, 0, &r);
	jreply_assert_ok(&r);
	itest_assert_contains(r.out, "end\n");
	jreply_free(&r);
	/* then the old worker is replaced, and the old template goes, though
	 * it cannot say that its worker ended */
	ck_assert(itest_wait_gone((pid_t)tmpl, 15000));
	ck_assert(itest_wait_gone((pid_t)pid_a, 5000));
	jc_close(a);
	jc_close(b);
	itest_stop(d);
}
END_TEST

/* A fork that is still starting when its template is replaced has the
 * old code too: it is replaced once it is ready, and the old template goes
 * after it, though min_workers would keep an idle worker. The template's
 * second fork starts slowly (3 s), which the test makes sure of. */
START_TEST(fork_started_while_its_template_is_replaced)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){
	        .empty_hooks_dir = 1, .extra_config = ITEST_SUPERVISION("1", "1")});
	char *mod = use_fmod_hook(d, FMOD_ONCE,
	                          "min_workers: 2\n"
	                          "max_workers: 2\n"
	                          "reload_fallback: recycle\n"
	                          "initialize: |\n"
	                          "  import os, time, fmod\n"
	                          "  forks = [0]\n"
	                          "  def count():\n"
	                          "      forks[0] += 1\n"
	                          "  def child():\n"
	                          "      if forks[0] == 2:\n"
	                          "          time.sleep(3)\n"
	                          "  os.register_at_fork(before=count, after_in_child=child)\n");
	struct jclient *c = jc_open(d, ITEST_UNIX, "forky mode=json");
	long tmpl;

	ck_assert_int_gt(jc_eval_long(c, 1, "__import__('os').getpid()"), 0);
	tmpl = template_pid(d);
	write_text(mod, FMOD_NOT_TWICE);
	itest_sleep_ms(300); /* the watch's debounce */
	/* the first fork fails to reload: the template is replaced while its
	 * second fork sleeps */
	ck_assert_int_eq(jc_eval_long(c, 2, "__import__('fmod').VALUE"), 1);
	ck_assert_msg(itest_wait_gone((pid_t)tmpl, 15000), "the old template stays");
	ck_assert_int_eq(jc_eval_long(c, 3, "__import__('fmod').VALUE"), 2);
	ck_assert_int_ne(jc_eval_long(c, 4, "__import__('os').getppid()"), tmpl);
	jc_close(c);
	itest_stop(d);
	free(mod);
}
END_TEST

/* A template that does not start within startup_timeout is one start-up
 * failure, not one more for the fork that waited for it. */
START_TEST(template_start_timeout_counts_once)
{
	struct itest_daemon *d = itest_start(&(struct itest_opts){
	        .empty_hooks_dir = 1, .extra_config = ITEST_SUPERVISION("1", "1")});
	struct jclient *c;
	struct jreply r;
	json_t *t;

	use_hook(d, ITEST_PY_HOOK("forky") "spawn: fork\nstartup_timeout: 1\n"
	                                   "initialize: __import__('time').sleep(60)\n");
	c = jc_open(d, ITEST_UNIX, "forky mode=json");
	jc_call(c, 1, "eval", "1", &r);
	jreply_assert_error(&r, "WorkerStartFailed");
	itest_assert_contains(jreply_error_str(&r, "message"), "did not become ready within 1 s");
	jreply_free(&r);
	itest_sleep_ms(500); /* the template's end is told after its kill */
	t = itest_target_status(d, "forky:1");
	ck_assert_int_eq(json_integer_value(json_object_get(t, "restarts")), 1);
	json_decref(t);
	jc_close(c);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fork");
	TCase *tc = tcase_create("fork");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, workers_are_forks_of_one_template);
	tcase_add_test(tc, output_timeout_and_interrupt);
	tcase_add_test(tc, template_exit_takes_its_workers);
	tcase_add_test(tc, template_start_failure);
	tcase_add_test(tc, forked_workers_reload_what_changed);
	tcase_add_test(tc, isolated_requests);
	tcase_add_test(tc, template_death_counts_once);
	tcase_add_test(tc, reload_failure_replaces_the_template_only);
	tcase_add_test(tc, isolated_workers_do_not_stay);
	tcase_add_test(tc, hung_template_is_replaced);
	tcase_add_test(tc, template_start_timeout_counts_once);
	tcase_add_test(tc, fork_started_while_its_template_is_replaced);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
