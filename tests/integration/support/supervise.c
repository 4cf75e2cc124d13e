/* supervise.c - helpers for the supervision tests: control requests with
 * fields, a target's status, processes found by their environment, hook
 * files written after the daemon started */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "itest.h"

json_t *
itest_control_with(const struct itest_daemon *d, const char *op, json_t *fields)
{
	struct jclient *c = jc_open(d, ITEST_UNIX, "hotload mode=json");
	struct jreply r;
	json_t *done;

	jc_call_with(c, 1, op, NULL, fields, 0, &r);
	done = json_incref(r.done);
	jreply_free(&r);
	jc_close(c);
	return done;
}

json_t *
itest_target_status(const struct itest_daemon *d, const char *target)
{
	json_t *fields = json_pack("{s:s}", "target", target);
	json_t *done = itest_control_with(d, "status", fields);
	json_t *targets = json_object_get(json_object_get(done, "status"), "targets");
	json_t *t, *found = NULL;
	size_t i;

	json_decref(fields);
	ck_assert_msg(json_is_true(json_object_get(done, "ok")) && json_is_array(targets),
	              "status did not answer ok with a targets list");
	json_array_foreach(targets, i, t)
	{
		if (json_is_true(json_object_get(t, "retired")))
			continue;
		if (!strcmp(json_string_value(json_object_get(t, "target")) ?: "", target)) {
			found = json_incref(t);
			break;
		}
	}
	json_decref(done);
	return found;
}

char *
itest_target_str(const struct itest_daemon *d, const char *target, const char *key)
{
	json_t *t = itest_target_status(d, target);
	const char *s = json_string_value(json_object_get(t, key));
	char *ret = strdup(s ? s : "");

	json_decref(t);
	ck_assert_ptr_nonnull(ret);
	return ret;
}

int
itest_wait_target_state(const struct itest_daemon *d, const char *target, const char *state,
                        int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;

	for (;;) {
		char *s = itest_target_str(d, target, "state");
		int same = !strcmp(s, state);

		free(s);
		if (same)
			return 1;
		if (itest_now_ms() >= end)
			return 0;
		itest_sleep_ms(20);
	}
}

long
itest_template_pid(const struct itest_daemon *d, const char *target)
{
	json_t *t = itest_target_status(d, target);
	json_t *tmpl = json_object_get(t, "template");
	long pid =
	        json_is_object(tmpl) ? (long)json_integer_value(json_object_get(tmpl, "pid")) : -1;

	json_decref(t);
	return pid;
}

int
itest_wait_gone(pid_t pid, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;

	while (itest_pid_alive(pid)) {
		if (itest_now_ms() >= end)
			return 0;
		itest_sleep_ms(20);
	}
	return 1;
}

static int
is_sleep_call(long nr)
{
#ifdef SYS_select
	if (nr == SYS_select)
		return 1;
#endif
	return nr == SYS_clock_nanosleep || nr == SYS_pselect6;
}

int
itest_wait_in_sleep(pid_t id, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;
	char *path = itest_strf("/proc/%ld/syscall", (long)id);
	int found = 0;

	for (;;) {
		char *text = itest_read_file(path, NULL);

		/* unreadable (ptrace_scope, a process gone) is no answer to wait for */
		ck_assert_msg(text && *text, "cannot read %s: %s", path, strerror(errno));
		/* the number, then its arguments; "running" or -1 outside one */
		found = text[0] >= '0' && text[0] <= '9' && is_sleep_call(strtol(text, NULL, 10));
		free(text);
		if (found || itest_now_ms() >= end)
			break;
		itest_sleep_ms(5);
	}
	free(path);
	return found;
}

/* Does /proc/PID/environ hold entry as one of its NUL-separated strings? */
static int
environ_has(const char *pid, const char *entry)
{
	char *path = itest_strf("/proc/%s/environ", pid);
	size_t len = 0, off, n = strlen(entry);
	char *env = itest_read_file(path, &len);
	int found = 0;

	free(path);
	for (off = 0; env && off < len && !found; off += strlen(env + off) + 1)
		found = !strncmp(env + off, entry, n) && env[off + n] == '\0';
	free(env);
	return found;
}

size_t
itest_procs_with_env(const char *entry, pid_t *ret, size_t max)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	ck_assert_msg(dir != NULL, "opendir /proc: %s", strerror(errno));
	while ((e = readdir(dir))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		if (!environ_has(e->d_name, entry) || !itest_pid_alive((pid_t)pid))
			continue;
		if (ret && n < max)
			ret[n] = (pid_t)pid;
		n++;
	}
	closedir(dir);
	return n;
}

int
itest_wait_file_count(const char *path, const char *needle, size_t n, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;

	for (;;) {
		char *s = itest_read_file(path, NULL);
		size_t k = s ? itest_count(s, needle) : 0;

		free(s);
		if (k >= n)
			return 1;
		if (itest_now_ms() >= end)
			return 0;
		itest_sleep_ms(20);
	}
}

void
itest_write_hook(const struct itest_daemon *d, const char *name, const char *yaml)
{
	char *dir = itest_strf("%s/hooks.d", d->dir);
	char *tmp = itest_strf("%s/.%s.tmp", dir, name);
	char *path = itest_strf("%s/%s", dir, name);

	if (mkdir(dir, 0755) < 0)
		ck_assert_msg(errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
	/* whole or not at all, for a daemon that may read it any time */
	itest_write_file(tmp, yaml, strlen(yaml));
	ck_assert_msg(rename(tmp, path) == 0, "rename %s: %s", tmp, strerror(errno));
	free(dir);
	free(tmp);
	free(path);
}
