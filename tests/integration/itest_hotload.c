/* itest_hotload.c - the edit -> run loop against the real daemon and
 * python3: exec --watch, watch roots, recycling */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

/* A hotloadctl running in the background, stdout and stderr on one pipe. */
struct bg {
	pid_t pid;
	int fd;
	struct buf_out {
		char *data;
		size_t len;
	} out;
};

static void
bg_start(struct bg *b, const char *const *args)
{
	char *bin = itest_bin("hotloadctl");
	const char *argv[32];
	int p[2], n = 0;

	argv[n++] = bin;
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe(p), 0);
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	b->fd = p[0];
	b->out.data = calloc(1, 1);
	b->out.len = 0;
	free(bin);
}

/* Read until the output holds needle (after what was matched before). */
static void
bg_expect(struct bg *b, size_t *from, const char *needle, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;
	char *hit;

	while (!(hit = strstr(b->out.data + *from, needle))) {
		char chunk[4096];
		ssize_t n;
		int left = (int)(end - itest_now_ms());

		ck_assert_msg(left > 0 && itest_wait_readable(b->fd, left) == 1,
		              "no \"%s\" from hotloadctl within %d ms; it wrote:\n%s", needle,
		              deadline_ms, b->out.data);
		n = read(b->fd, chunk, sizeof(chunk));
		ck_assert_msg(n > 0, "hotloadctl ended before \"%s\"; it wrote:\n%s", needle,
		              b->out.data);
		b->out.data = realloc(b->out.data, b->out.len + (size_t)n + 1);
		memcpy(b->out.data + b->out.len, chunk, (size_t)n);
		b->out.len += (size_t)n;
		b->out.data[b->out.len] = '\0';
	}
	*from = (size_t)(hit - b->out.data) + strlen(needle);
}

static int
bg_stop(struct bg *b, int sig)
{
	int status;

	kill(b->pid, sig);
	ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
	close(b->fd);
	free(b->out.data);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
write_text(const char *path, const char *text)
{
	itest_write_file(path, text, strlen(text));
}

/* Saved as editors save it: a temporary file renamed over the original. */
static void
save_by_rename(const char *path, const char *text)
{
	char *tmp = itest_strf("%s.tmp~", path);

	write_text(tmp, text);
	ck_assert_int_eq(rename(tmp, path), 0);
	free(tmp);
}

/* "module=status" per entry of a reloaded event, comma-separated. */
static char *
statuses(const json_t *modules)
{
	char *s = strdup(""), *next;
	const json_t *m;
	size_t i;

	ck_assert_msg(modules != NULL, "no reloaded event");
	json_array_foreach(modules, i, m)
	{
		next = itest_strf("%s%s%s=%s", s, i ? "," : "",
		                  json_string_value(json_object_get(m, "module")),
		                  json_string_value(json_object_get(m, "status")));
		free(s);
		s = next;
	}
	return s;
}

static void
assert_statuses(const struct jreply *r, const char *want)
{
	char *got = statuses(r->reloaded);

	ck_assert_msg(!strcmp(got, want), "reloaded %s, want %s", got, want);
	free(got);
}

/* The stdout of r before its reloaded event is before, after it after. */
static void
assert_output_around_reload(const struct jreply *r, const char *before, const char *after)
{
	struct buf_out parts[2] = {{calloc(1, 1), 0}, {calloc(1, 1), 0}};
	const json_t *e;
	size_t i;
	int k = 0;

	json_array_foreach(r->events, i, e)
	{
		const char *ev = json_string_value(json_object_get(e, "event"));
		const char *data = json_string_value(json_object_get(e, "data"));

		if (!strcmp(ev, "reloaded"))
			k = 1;
		else if (!strcmp(ev, "stdout") && data) {
			size_t n = strlen(data);

			parts[k].data = realloc(parts[k].data, parts[k].len + n + 1);
			memcpy(parts[k].data + parts[k].len, data, n + 1);
			parts[k].len += n;
		}
	}
	ck_assert_str_eq(parts[0].data, before);
	ck_assert_str_eq(parts[1].data, after);
	free(parts[0].data);
	free(parts[1].data);
}

/* A package mytools (a imports b imports c) under DIR/src, watched for
 * target by the control op; returns DIR/src/mytools. */
static char *
make_package(struct itest_daemon *d, const char *target)
{
	char *src = itest_strf("%s/src", d->dir), *pkg = itest_strf("%s/mytools", src);
	char *f;
	json_t *fields, *res;

	ck_assert_int_eq(mkdir(src, 0700), 0);
	ck_assert_int_eq(mkdir(pkg, 0700), 0);
	f = itest_strf("%s/__init__.py", pkg);
	write_text(f, "");
	free(f);
	f = itest_strf("%s/c.py", pkg);
	write_text(f, "def value():\n    return 1\nclass Thing:\n    def name(self):\n"
	              "        return 'old'\n");
	free(f);
	f = itest_strf("%s/b.py", pkg);
	write_text(f, "from mytools.c import value\ndef twice():\n    return 2 * value()\n");
	free(f);
	f = itest_strf("%s/a.py", pkg);
	write_text(f, "from . import b\ndef run():\n    return b.twice()\n");
	free(f);
	fields = json_pack("{s:s, s:[s]}", "target", target, "dirs", src);
	res = itest_control_with(d, "watch", fields);
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "watch failed");
	json_decref(res);
	json_decref(fields);
	free(src);
	return pkg;
}

/* Code that imports make_package's package from DIR/src, then more. */
static char *
import_package(struct itest_daemon *d, const char *more)
{
	return itest_strf("import sys\nsys.path.insert(0, '%s/src')\nimport mytools.a%s", d->dir,
	                  more);
}

static void
eval_json(struct jclient *c, json_int_t id, const char *code, int deadline_ms, struct jreply *r)
{
	jc_call_with(c, id, "eval", code, NULL, deadline_ms, r);
	jreply_assert_ok(r);
}

/* The watched roots' changes reach the daemon after the debounce (50 ms,
 * at most 300 ms): wait for its log line. */
static void
wait_changed(struct itest_daemon *d, size_t n)
{
	ck_assert_msg(itest_wait_file_count(d->log, "changed (", n, 10000),
	              "the daemon never saw change %zu", n);
}

/* Saving c.py (by rename, then in place) is seen by the next request with
 * no explicit reload: b's functions, a function and an instance held from
 * before run the new code; the reload's note precedes the code's output. */
START_TEST(edit_reloads_before_next_request)
{
	struct itest_daemon *d = itest_start(NULL);
	char *pkg = make_package(d, "python:3"), *c_py = itest_strf("%s/c.py", pkg);
	struct jclient *c = jc_open(d, ITEST_UNIX, "python:3 mode=json");
	struct jreply r;
	char *code = import_package(
	        d, "\nfrom mytools.c import value as held\nthing = mytools.c.Thing()");

	jc_call(c, 1, "exec", code, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	save_by_rename(c_py, "print('c runs again')\ndef value():\n    return 5\nclass Thing:\n"
	                     "    def name(self):\n        return 'new'\n");
	wait_changed(d, 1);
	jc_call(c, 2, "exec", "print(mytools.a.run(), held(), thing.name())", &r);
	jreply_assert_ok(&r);
	assert_statuses(&r, "mytools.c=reloaded");
	ck_assert_str_eq(r.out, "c runs again\n10 5 new\n");
	/* the module's own output, then the event, then the code's */
	assert_output_around_reload(&r, "c runs again\n", "10 5 new\n");
	jreply_free(&r);
	write_text(c_py, "def value():\n    return 7\nclass Thing:\n    def name(self):\n"
	                 "        return 'newer'\n");
	wait_changed(d, 2);
	eval_json(c, 3, "(mytools.a.run(), held(), thing.name())", 10000, &r);
	assert_statuses(&r, "mytools.c=reloaded");
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "(14, 7, 'newer')");
	jreply_free(&r);
	/* nothing changed: no event */
	eval_json(c, 4, "mytools.a.run()", 10000, &r);
	ck_assert_ptr_null(r.reloaded);
	jreply_free(&r);
	/* a request right after the save, within the burst's settling time,
	 * runs the saved code: as a "save and run" key in an editor does */
	for (int i = 0; i < 5; i++) {
		char *text = itest_strf("def value():\n    return %d\n", 100 + i);

		save_by_rename(c_py, text);
		free(text);
		eval_json(c, 10 + i, "mytools.a.run()", 10000, &r);
		assert_statuses(&r, "mytools.c=reloaded");
		ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")),
		                 2 * (100 + i));
		jreply_free(&r);
	}
	jc_close(c);
	free(code);
	free(c_py);
	free(pkg);
	itest_stop(d);
}
END_TEST

/* A syntax error keeps the old module and says where; a deleted module is
 * gone; a new one is found; 50 saves in a second are one reload. */
START_TEST(failures_deletions_and_bursts)
{
	struct itest_daemon *d = itest_start(NULL);
	char *pkg = make_package(d, "python:3"), *c_py = itest_strf("%s/c.py", pkg);
	char *b_py = itest_strf("%s/b.py", pkg), *new_py = itest_strf("%s/fresh.py", pkg);
	struct jclient *c = jc_open(d, ITEST_UNIX, "python:3 mode=json");
	struct jreply r;
	char *code = import_package(d, "");
	char *where = itest_strf("File \"%s\", line 2", c_py), *text;
	const char *tb;
	int i;

	jc_call(c, 1, "exec", code, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	write_text(c_py, "def value():\n    return (\n");
	wait_changed(d, 1);
	eval_json(c, 2, "mytools.a.run()", 10000, &r);
	assert_statuses(&r, "mytools.c=failed");
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")), 2); /* the old c */
	tb = json_string_value(json_object_get(
	        json_object_get(json_array_get(r.reloaded, 0), "error"), "traceback"));
	itest_assert_contains(tb, where);
	itest_assert_contains(tb, "SyntaxError");
	jreply_free(&r);

	/* 50 saves in about a second: the next request reloads c once */
	for (i = 0; i < 50; i++) {
		text = itest_strf(
		        "import builtins\nbuiltins.runs = getattr(builtins, 'runs', 0) + 1\n"
		        "def value():\n    return %d\n",
		        i);
		save_by_rename(c_py, text);
		free(text);
		itest_sleep_ms(20);
	}
	itest_sleep_ms(400);
	eval_json(c, 3, "(mytools.a.run(), runs)", 10000, &r);
	assert_statuses(&r, "mytools.c=reloaded");
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "(98, 1)");
	jreply_free(&r);

	/* b deleted, fresh added: b is no longer importable, fresh is */
	ck_assert_int_eq(unlink(b_py), 0);
	write_text(new_py, "def hello():\n    return 'fresh'\n");
	itest_sleep_ms(400);
	eval_json(c, 4, "__import__('mytools.fresh').fresh.hello()", 10000, &r);
	assert_statuses(&r, "mytools.b=deleted");
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "'fresh'");
	jreply_free(&r);
	jc_call(c, 5, "exec", "import mytools.b", &r);
	jreply_assert_error(&r, "ModuleNotFoundError");
	jreply_free(&r);
	jc_close(c);
	free(where);
	free(code);
	free(new_py);
	free(b_py);
	free(c_py);
	free(pkg);
	itest_stop(d);
}
END_TEST

/* hotloadctl reload-modules: a line per module, exit 1 when one failed. */
START_TEST(reload_modules_command)
{
	struct itest_daemon *d = itest_start(NULL);
	char *pkg = make_package(d, "python:3"), *c_py = itest_strf("%s/c.py", pkg);
	char *ctl = itest_bin("hotloadctl");
	char *code = import_package(d, "");
	const char *exec[] = {ctl, "--socket", d->sock, "exec", "python:3", "-c", code, NULL};
	const char *reload[] = {ctl,        "--socket", d->sock, "reload-modules",
	                        "python:3", "mytools",  NULL};
	const char *purge[] = {ctl,       "--socket", d->sock,     "reload-modules",
	                       "--purge", "python:3", "mytools.c", NULL};
	const char *run[] = {ctl,
	                     "--socket",
	                     d->sock,
	                     "exec",
	                     "python:3",
	                     "-c",
	                     "import mytools.a; print(mytools.a.run())",
	                     NULL};
	struct itest_proc p;

	itest_run(exec, NULL, NULL, 0, &p);
	ck_assert_msg(p.status == 0, "%s", p.err);
	itest_proc_free(&p);
	write_text(c_py, "def value():\n    return 3\n");
	itest_run(reload, NULL, NULL, 0, &p);
	ck_assert_msg(p.status == 0, "%d %s", p.status, p.err);
	ck_assert_str_eq(p.out, "mytools: unchanged\nmytools.a: unchanged\nmytools.b: unchanged\n"
	                        "mytools.c: reloaded\n");
	itest_proc_free(&p);
	write_text(c_py, "def value():\n    return 1 / 0\nvalue()\n");
	itest_run(reload, NULL, NULL, 0, &p);
	ck_assert_int_eq(p.status, 1);
	itest_assert_contains(p.err, "mytools.c: failed (the old module is still the one in use): "
	                             "ZeroDivisionError: division by zero");
	itest_assert_contains(p.err, "line 3, in <module>");
	itest_proc_free(&p);
	itest_run(run, NULL, NULL, 0, &p); /* the old c still runs */
	ck_assert_msg(p.status == 0 && !strcmp(p.out, "6\n"), "%d %s %s", p.status, p.out, p.err);
	itest_proc_free(&p);
	write_text(c_py, "def value():\n    return 4\n");
	itest_run(purge, NULL, NULL, 0, &p);
	ck_assert_msg(p.status == 0, "%s", p.err);
	ck_assert_str_eq(p.out, "mytools.c: purged\n");
	itest_proc_free(&p);
	itest_run(run, NULL, NULL, 0, &p); /* b keeps the old value(): purge does not patch */
	ck_assert_msg(p.status == 0 && !strcmp(p.out, "6\n"), "%d %s %s", p.status, p.out, p.err);
	itest_proc_free(&p);
	free(code);
	free(ctl);
	free(c_py);
	free(pkg);
	itest_stop(d);
}
END_TEST

static const char *const fallback_hooks[] = {
        "fallback.yaml",
        ITEST_PY_HOOK("fallback") "reload_fallback: recycle\n",
        "polled.yaml",
        ITEST_PY_HOOK("polled") "watch_mode: poll\n",
        NULL,
};

/* reload_fallback: recycle replaces a worker whose reload failed, after its
 * request; watch_mode: poll finds a change with no inotify event. */
START_TEST(fallback_and_poll)
{
	struct itest_opts o = {.hooks = fallback_hooks,
	                       .extra_config = ITEST_SUPERVISION("5", "1")};
	struct itest_daemon *d = itest_start(&o);
	char *pkg = make_package(d, "fallback:1"), *c_py = itest_strf("%s/c.py", pkg);
	char *code = import_package(d, "");
	struct jclient *c = jc_open(d, ITEST_UNIX, "fallback:1 mode=json");
	struct jreply r;
	json_t *fields, *res;
	long before, after;

	jc_call(c, 1, "exec", code, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	before = jc_worker_pid(c, 2);
	write_text(c_py, "raise RuntimeError('broken')\n");
	wait_changed(d, 1);
	eval_json(c, 3, "mytools.a.run()", 10000, &r); /* served, by the old code */
	assert_statuses(&r, "mytools.c=failed");
	jreply_free(&r);
	ck_assert_int_eq(itest_wait_gone((pid_t)before, 10000), 1);
	after = jc_worker_pid(c, 4);
	ck_assert_int_ne(after, before);
	jc_close(c);

	/* poll: the roots are looked at before each request */
	fields = json_pack("{s:s, s:[s]}", "target", "polled:1", "dirs", pkg);
	res = itest_control_with(d, "watch", fields);
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "watch failed");
	json_decref(res);
	json_decref(fields);
	write_text(c_py, "def value():\n    return 1\n");
	c = jc_open(d, ITEST_UNIX, "polled:1 mode=json");
	jc_call(c, 1, "exec", code, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	eval_json(c, 2, "mytools.a.run()", 10000, &r);
	ck_assert_ptr_null(r.reloaded);
	jreply_free(&r);
	write_text(c_py, "def value():\n    return 21\n");
	eval_json(c, 3, "mytools.a.run()", 10000, &r); /* no wait for an event */
	assert_statuses(&r, "mytools.c=reloaded");
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")), 42);
	jreply_free(&r);
	jc_close(c);
	free(code);
	free(c_py);
	free(pkg);
	itest_stop(d);
}
END_TEST

/* The watch roots of target, as one comma-separated string. */
static char *
roots_of(struct itest_daemon *d, const char *target)
{
	json_t *t = itest_target_status(d, target), *v;
	char *s = strdup(""), *next;
	size_t i;

	json_array_foreach(json_object_get(t, "watch"), i, v)
	{
		next = itest_strf("%s%s%s", s, i ? "," : "", json_string_value(v));
		free(s);
		s = next;
	}
	json_decref(t);
	return s;
}

static void
assert_roots(struct itest_daemon *d, const char *target, const char *want)
{
	char *got = roots_of(d, target);

	ck_assert_msg(!strcmp(got, want), "%s watches '%s', want '%s'", target, got, want);
	free(got);
}

/* Wait until target watches want: a closed connection reaches the daemon
 * a moment after the client is gone. */
static void
wait_roots(struct itest_daemon *d, const char *target, const char *want)
{
	long long end = itest_now_ms() + 5000;

	for (;;) {
		char *got = roots_of(d, target);
		int same = !strcmp(got, want);

		free(got);
		if (same || itest_now_ms() > end)
			break;
		itest_sleep_ms(20);
	}
	assert_roots(d, target, want);
}

/* watch=DIR in a connection's header: the target watches DIR while the
 * connection is open; a DIR also watched otherwise stays watched after it
 * closes; a bad one refuses the header. */
START_TEST(connection_watch)
{
	struct itest_daemon *d = itest_start(NULL);
	char *src = itest_strf("%s/src", d->dir), *py = itest_strf("%s/mod.py", src);
	char *hdr = itest_strf("python:3 mode=json watch=%s", src);
	char *code = itest_strf("import sys\nsys.path.insert(0, '%s')\nimport mod", src);
	struct jclient *c, *c2;
	struct jreply r;
	json_t *fields, *res, *m;

	ck_assert_int_eq(mkdir(src, 0700), 0);
	write_text(py, "def f():\n    return 1\n");
	c = jc_open(d, ITEST_UNIX, hdr);
	jc_call(c, 1, "exec", code, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	assert_roots(d, "python:3", src);
	save_by_rename(py, "def f():\n    return 2\n");
	eval_json(c, 2, "mod.f()", 10000, &r);
	assert_statuses(&r, "mod=reloaded");
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")), 2);
	jreply_free(&r);
	jc_close(c);
	wait_roots(d, "python:3", "");

	/* watched by a watch op too: a connection's close leaves it watched */
	fields = json_pack("{s:s, s:[s]}", "target", "python:3", "dirs", src);
	res = itest_control_with(d, "watch", fields);
	json_decref(res);
	c = jc_open(d, ITEST_UNIX, hdr);
	jc_call(c, 1, "ping", NULL, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	jc_close(c);
	itest_sleep_ms(300);
	assert_roots(d, "python:3", src);
	res = itest_control_with(d, "unwatch", fields);
	json_decref(res);
	json_decref(fields);
	assert_roots(d, "python:3", "");

	/* a directory that is not there: refused, and nothing watched */
	c2 = jc_open(d, ITEST_UNIX, "python:3 mode=json watch=/nonexistent/dir");
	m = jc_next(c2, 10000);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "error"), "type")),
	                 "BadHeader");
	itest_assert_contains(
	        json_string_value(json_object_get(json_object_get(m, "error"), "message")),
	        "cannot watch /nonexistent/dir: No such file or directory");
	json_decref(m);
	jc_close(c2);
	assert_roots(d, "python:3", "");
	c2 = jc_open(d, ITEST_UNIX, "hotload mode=json watch=/tmp");
	m = jc_next(c2, 10000);
	ck_assert_ptr_nonnull(m);
	itest_assert_contains(
	        json_string_value(json_object_get(json_object_get(m, "error"), "message")),
	        "watch= is for a DCC target");
	json_decref(m);
	jc_close(c2);
	free(code);
	free(hdr);
	free(py);
	free(src);
	itest_stop(d);
}
END_TEST

/* A client that closes a connection and at once opens another finds the
 * first one's watch= gone: the daemon ends a connection before it takes
 * a request from one it accepts after it. Both can reach the daemon in
 * one wake-up; here they are sent while the daemon is stopped. */
START_TEST(close_before_the_next_connection)
{
	struct itest_daemon *d = itest_start(NULL);
	char *src = itest_strf("%s/src", d->dir);
	char *hdr = itest_strf("python:3 mode=json watch=%s", src);
	struct jclient *c, *c2;
	struct jreply r;
	json_t *m, *t;
	int round;

	ck_assert_int_eq(mkdir(src, 0700), 0);
	for (round = 0; round < 3; round++) {
		c = jc_open(d, ITEST_UNIX, hdr);
		jc_call(c, 1, "ping", NULL, &r);
		jreply_assert_ok(&r);
		jreply_free(&r);
		assert_roots(d, "python:3", src);
		ck_assert_int_eq(kill(d->pid, SIGSTOP), 0);
		jc_close(c);
		c2 = jc_open(d, ITEST_UNIX, "hotload mode=json");
		jc_send_line(c2, "{\"id\":1,\"op\":\"status\",\"target\":\"python:3\"}");
		itest_sleep_ms(50);
		ck_assert_int_eq(kill(d->pid, SIGCONT), 0);
		m = jc_next(c2, 10000);
		ck_assert_ptr_nonnull(m);
		t = json_array_get(json_object_get(json_object_get(m, "status"), "targets"), 0);
		ck_assert_msg(t && json_array_size(json_object_get(t, "watch")) == 0,
		              "round %d: the closed connection's watch is still there", round);
		json_decref(m);
		jc_close(c2);
	}
	free(hdr);
	free(src);
	itest_stop(d);
}
END_TEST

/* exec --watch: a run, then one per save (in place, or by rename); a run
 * still going when the next save comes is interrupted; Ctrl-C ends it. */
START_TEST(exec_watch_reruns)
{
	struct itest_daemon *d = itest_start(NULL);
	char *dir = itest_strf("%s/proj", d->dir), *script = itest_strf("%s/run.py", dir);
	const char *args[] = {"--socket", d->sock, "exec", "--watch", "python:3", script, NULL};
	struct bg b;
	size_t at = 0;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	write_text(script, "print('version', 1)\n");
	bg_start(&b, args);
	bg_expect(&b, &at, "run 1 ---", 20000);
	bg_expect(&b, &at, "version 1\n", 20000);
	bg_expect(&b, &at, "waiting for changes", 10000);
	assert_roots(d, "python:3", dir); /* the target watches it too, while the loop runs */
	write_text(script, "print('version', 2)\n");
	bg_expect(&b, &at, "run.py changed ---", 10000);
	bg_expect(&b, &at, "version 2\n", 10000);
	bg_expect(&b, &at, "waiting for changes", 10000);
	save_by_rename(script, "import time\nprint('version', 3, flush=True)\ntime.sleep(30)\n");
	bg_expect(&b, &at, "version 3\n", 10000);
	save_by_rename(script, "print('version', 4)\n");
	bg_expect(&b, &at, "interrupted by a change", 10000);
	bg_expect(&b, &at, "version 4\n", 10000);
	bg_expect(&b, &at, "waiting for changes", 10000);
	ck_assert_int_eq(bg_stop(&b, SIGINT), 0);
	wait_roots(d, "python:3", "");
	/* however the loop ends: even SIGKILL lets the daemon forget the root */
	at = 0;
	bg_start(&b, args);
	bg_expect(&b, &at, "waiting for changes", 20000);
	assert_roots(d, "python:3", dir);
	ck_assert_int_eq(bg_stop(&b, SIGKILL), 128 + SIGKILL);
	wait_roots(d, "python:3", "");
	free(script);
	free(dir);
	itest_stop(d);
}
END_TEST

/* The worker pid of target, by a request. */
static long
pid_of(const struct itest_daemon *d, const char *target)
{
	char *r = itest_raw(d, ITEST_UNIX, target, "import os\nprint(os.getpid())\n");
	long pid;

	ck_assert_msg(sscanf(r, "OUTPUT: \n%ld", &pid) == 1, "reply: %s", r);
	free(r);
	return pid;
}

static const char *const recycle_hooks[] = {
        "warm.yaml",    ITEST_PY_HOOK("warm") "min_workers: 1\nmax_workers: 1\n",
        "counted.yaml", ITEST_PY_HOOK("counted") "recycle_after: 2\n",
        "fat.yaml",     ITEST_PY_HOOK("fat") "max_rss: 1M\n",
        NULL,
};

/* recycle: the old worker finishes its request, the replacement of a
 * min_workers target is started at once; nothing fails. */
START_TEST(recycle_keeps_requests)
{
	struct itest_opts o = {.hooks = recycle_hooks, .extra_config = ITEST_SUPERVISION("5", "1")};
	struct itest_daemon *d = itest_start(&o);
	struct jclient *c = jc_open(d, ITEST_UNIX, "warm:1 mode=json");
	struct jreply r;
	json_t *st, *fields = json_pack("{s:[s]}", "targets", "warm:1");
	long old = jc_worker_pid(c, 1), fresh;
	long long end;

	jc_send_exec(c, 2, "import time\ntime.sleep(1)\nprint('finished')", 0);
	itest_sleep_ms(200);
	st = itest_control_with(d, "recycle", fields);
	json_decref(fields);
	ck_assert_msg(json_is_true(json_object_get(st, "ok")), "recycle failed");
	json_decref(st);
	/* the replacement starts while the old one still runs its request */
	end = itest_now_ms() + 5000;
	for (;;) {
		json_t *t = itest_target_status(d, "warm:1");
		size_t n = json_array_size(json_object_get(t, "workers"));

		json_decref(t);
		if (n == 2)
			break;
		ck_assert_msg(itest_now_ms() < end, "no replacement worker while the old one runs");
		itest_sleep_ms(50);
	}
	jc_collect(c, 2, 10000, &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "finished\n");
	jreply_free(&r);
	ck_assert_int_eq(itest_wait_gone((pid_t)old, 10000), 1);
	fresh = jc_worker_pid(c, 3);
	ck_assert_int_ne(fresh, old);
	jc_close(c);
	itest_stop(d);
}
END_TEST

/* recycle_after and max_rss replace workers between requests. */
START_TEST(recycle_after_and_max_rss)
{
	struct itest_opts o = {.hooks = recycle_hooks, .extra_config = ITEST_SUPERVISION("5", "1")};
	struct itest_daemon *d = itest_start(&o);
	long p1, p2, p3;
	char *log;

	p1 = pid_of(d, "counted:1");
	p2 = pid_of(d, "counted:1");
	ck_assert_int_eq(p1, p2);
	p3 = pid_of(d, "counted:1"); /* two served: a fresh one */
	ck_assert_int_ne(p3, p1);
	p1 = pid_of(d, "fat:1");
	p2 = pid_of(d, "fat:1"); /* any interpreter is above 1 MiB */
	ck_assert_int_ne(p1, p2);
	log = itest_daemon_log(d);
	itest_assert_contains(log, "it served 2 requests (recycle_after)");
	itest_assert_contains(log, "above max_rss (1 MiB)");
	free(log);
	itest_stop(d);
}
END_TEST

/* watch and unwatch: the roots show in status; a missing directory is a
 * clear error. */
START_TEST(watch_roots)
{
	struct itest_daemon *d = itest_start(NULL);
	char *dir = itest_strf("%s/src", d->dir), *ctl = itest_bin("hotloadctl");
	const char *watch[] = {ctl, "--socket", d->sock, "watch", "python:3", dir, NULL};
	const char *unwatch[] = {ctl, "--socket", d->sock, "unwatch", "python:3", dir, NULL};
	const char *missing[] = {ctl,        "--socket",     d->sock, "watch",
	                         "python:3", "/nonexistent", NULL};
	char *script = itest_strf("%s/run.py", dir);
	const char *nofile[] = {
	        ctl, "--socket", d->sock, "exec", "--watch", "python:3", "/nonexistent/run.py",
	        NULL};
	const char *unknown[] = {ctl,       "--socket", d->sock, "exec",
	                         "--watch", "nosuch",   script,  NULL};
	struct itest_proc p;
	json_t *t;
	char *want;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	itest_run(watch, NULL, NULL, 0, &p);
	want = itest_strf("python:3: watching %s\n", dir);
	ck_assert_msg(p.status == 0 && !strcmp(p.out, want), "watch: %d %s %s", p.status, p.out,
	              p.err);
	free(want);
	itest_proc_free(&p);
	t = itest_target_status(d, "python:3");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(t, "watch"), 0)), dir);
	ck_assert_str_eq(json_string_value(json_object_get(t, "watch_mode")), "events");
	json_decref(t);
	itest_run(missing, NULL, NULL, 0, &p);
	ck_assert_int_eq(p.status, 2);
	itest_assert_contains(p.err, "cannot watch /nonexistent");
	itest_proc_free(&p);
	itest_run(unwatch, NULL, NULL, 0, &p);
	ck_assert_msg(p.status == 0 && !strcmp(p.out, "python:3: watching nothing\n"), "%s", p.out);
	itest_proc_free(&p);
	/* exec --watch: a FILE that is not there, a target that is not known */
	itest_run(nofile, NULL, NULL, 0, &p);
	ck_assert_int_eq(p.status, 2);
	itest_assert_contains(p.err, "cannot run /nonexistent/run.py: No such file or directory");
	itest_proc_free(&p);
	write_text(script, "print(1)\n");
	itest_run(unknown, NULL, NULL, 20000, &p); /* ends: it does not wait for saves */
	ck_assert_int_eq(p.status, 4);
	itest_assert_contains(p.err, "UnknownTarget");
	itest_proc_free(&p);
	free(script);
	free(ctl);
	free(dir);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hotload");
	TCase *tc = tcase_create("hotload");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, edit_reloads_before_next_request);
	tcase_add_test(tc, failures_deletions_and_bursts);
	tcase_add_test(tc, reload_modules_command);
	tcase_add_test(tc, fallback_and_poll);
	tcase_add_test(tc, connection_watch);
	tcase_add_test(tc, close_before_the_next_connection);
	tcase_add_test(tc, exec_watch_reruns);
	tcase_add_test(tc, recycle_keeps_requests);
	tcase_add_test(tc, recycle_after_and_max_rss);
	tcase_add_test(tc, watch_roots);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
