/* test_proc.c - the PATH walk, and running a program and waiting for it */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "proc.h"

static char tmpdir[] = "/tmp/test_proc.XXXXXX";

/* Create path with mode (a directory when mode has S_IFDIR). */
static void
make(const char *rel, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if (mode & S_IFDIR) {
		ck_assert_int_eq(mkdir(path, mode & 0777), 0);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_find_exe)
{
	char path[1024], want[256], rm[256], *got = NULL;

	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	make("a", S_IFDIR | 0755);
	make("b", S_IFDIR | 0755);
	make("a/tool", S_IFDIR | 0755); /* a directory is no program */
	make("a/plain", 0644);          /* nor a file we may not run */
	make("b/tool", 0755);
	make("b/plain", 0755);
	/* empty entries are skipped, not taken for the working directory */
	snprintf(path, sizeof(path), "::%s/nope:%s/a::%s/b:", tmpdir, tmpdir, tmpdir);
	setenv("PATH", path, 1);
	ck_assert_int_eq(proc_find_exe("tool", &got), 0);
	snprintf(want, sizeof(want), "%s/b/tool", tmpdir);
	ck_assert_str_eq(got, want);
	free(got);
	ck_assert_int_eq(proc_find_exe("plain", &got), 0);
	snprintf(want, sizeof(want), "%s/b/plain", tmpdir);
	ck_assert_str_eq(got, want);
	free(got);
	got = NULL;
	ck_assert_int_eq(proc_find_exe("missing", &got), -ENOENT);
	ck_assert_ptr_null(got);
	/* a name with a slash is itself, when it may be run */
	ck_assert_int_eq(proc_find_exe(want, &got), 0);
	ck_assert_str_eq(got, want);
	free(got);
	got = NULL;
	snprintf(want, sizeof(want), "%s/a/plain", tmpdir);
	ck_assert_int_eq(proc_find_exe(want, &got), -ENOENT);
	ck_assert_ptr_null(got);
	/* no PATH at all: the usual directories */
	unsetenv("PATH");
	ck_assert_int_eq(proc_find_exe("sh", &got), 0);
	ck_assert_ptr_nonnull(strstr(got, "/sh"));
	free(got);
	setenv("PATH", "/usr/bin:/bin", 1);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(rm), 0);
}
END_TEST

START_TEST(test_run)
{
	char *ok[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	char *sig[] = {"sh", "-c", "kill -TERM $$", NULL};
	char *stdin_null[] = {"sh", "-c", "cat; echo end", NULL};
	char *missing[] = {"/nonexistent/program", NULL};
	struct buf out = BUF_INIT;

	ck_assert_int_eq(proc_run(ok, PROC_QUIET, &out), 3);
	ck_assert_str_eq(out.data, "out\n");
	buf_clear(&out);
	ck_assert_int_eq(proc_run(sig, PROC_QUIET, NULL), 128 + 15);
	/* stdin is /dev/null: nothing waits on the terminal */
	ck_assert_int_eq(proc_run(stdin_null, 0, &out), 0);
	ck_assert_str_eq(out.data, "end\n");
	buf_free(&out);
	ck_assert_int_eq(proc_run(missing, PROC_QUIET, NULL), 127);
}
END_TEST

static Suite *
proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_find_exe);
	tcase_add_test(tc, test_run);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
