/* test_pathsafe.c - runtime directories and StrictModes */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pathsafe.h"

#define NOBODY 65534

static char tmpdir[] = "/tmp/hotload-test-pathsafe-XXXXXX";
static char path[512];

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", tmpdir, tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/hotload-test-pathsafe-XXXXXX");
}

static const char *
at(const char *rel)
{
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

START_TEST(test_make_runtime_dir)
{
	char err[1024] = "", want[1024];
	struct stat st;

	ck_assert_int_eq(pathsafe_make_runtime_dir(at("a/b/hotload"), geteuid(), err, sizeof(err)),
	                 0);
	ck_assert_int_eq(stat(at("a"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(stat(at("a/b/hotload"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* again: there already, still fine */
	ck_assert_int_eq(pathsafe_make_runtime_dir(at("a/b/hotload"), geteuid(), err, sizeof(err)),
	                 0);

	/* a directory made 0777 by someone else (or by us, by mistake) */
	ck_assert_int_eq(chmod(at("a/b/hotload"), 0777), 0);
	ck_assert_int_eq(pathsafe_make_runtime_dir(at("a/b/hotload"), geteuid(), err, sizeof(err)),
	                 -EPERM);
	snprintf(want, sizeof(want),
	         "%s has mode 0777; the runtime directory must be 0700 (chmod 700 %s)",
	         at("a/b/hotload"), at("a/b/hotload"));
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(at("a/b/hotload"), 0755), 0);
	ck_assert_int_eq(pathsafe_runtime_dir(at("a/b/hotload"), geteuid(), err, sizeof(err)),
	                 -EPERM);

	ck_assert_int_eq(pathsafe_make_runtime_dir("relative/dir", geteuid(), err, sizeof(err)),
	                 -EINVAL);
}
END_TEST

/* A symlink where the directory should be: someone else's directory. */
START_TEST(test_symlink)
{
	char err[1024] = "", target[512];

	ck_assert_int_eq(mkdir(at("theirs"), 0700), 0);
	snprintf(target, sizeof(target), "%s", at("theirs"));
	ck_assert_int_eq(symlink(target, at("hotload-1000")), 0);
	ck_assert_int_eq(pathsafe_make_runtime_dir(at("hotload-1000"), geteuid(), err, sizeof(err)),
	                 -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "is a symbolic link (owned by uid "));
	ck_assert_ptr_nonnull(strstr(err, at("hotload-1000")));
}
END_TEST

/* A directory another user made first (needs root to stand in for them). */
START_TEST(test_foreign_owner)
{
	char err[1024] = "";

	if (geteuid() != 0)
		return;
	ck_assert_int_eq(mkdir(at("planted"), 0700), 0);
	ck_assert_int_eq(chown(at("planted"), NOBODY, NOBODY), 0);
	ck_assert_int_eq(pathsafe_make_runtime_dir(at("planted"), geteuid(), err, sizeof(err)),
	                 -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "is owned by uid 65534"));
	ck_assert_ptr_nonnull(strstr(err, "not by uid 0 (root)"));

	/* StrictModes: a file of somebody else's, or one in their directory */
	ck_assert_int_eq(mkdir(at("ok"), 0755), 0);
	fclose(fopen(at("ok/hotloadd.yaml"), "w"));
	ck_assert_int_eq(pathsafe_trusted(at("ok/hotloadd.yaml"), 0, err, sizeof(err)), 0);
	ck_assert_int_eq(chown(at("ok/hotloadd.yaml"), NOBODY, NOBODY), 0);
	ck_assert_int_eq(pathsafe_trusted(at("ok/hotloadd.yaml"), 0, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "hotloadd.yaml is owned by uid 65534"));
	ck_assert_int_eq(chown(at("ok/hotloadd.yaml"), 0, 0), 0);
	ck_assert_int_eq(chown(at("ok"), NOBODY, NOBODY), 0);
	ck_assert_int_eq(pathsafe_trusted(at("ok/hotloadd.yaml"), 0, err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "/ok is owned by uid 65534"));
}
END_TEST

/* Symlinks are followed, and the real place is what is checked. */
START_TEST(test_trusted_follows_links)
{
	char err[1024] = "", target[512];

	ck_assert_int_eq(mkdir(at("open"), 0777), 0);
	ck_assert_int_eq(chmod(at("open"), 0777), 0);
	fclose(fopen(at("open/agent.py"), "w"));
	ck_assert_int_eq(chmod(at("open/agent.py"), 0644), 0);
	snprintf(target, sizeof(target), "%s", at("open/agent.py"));
	ck_assert_int_eq(mkdir(at("safe"), 0755), 0);
	ck_assert_int_eq(symlink(target, at("safe/agent.py")), 0);
	/* the real file sits in a directory where others may swap it */
	ck_assert_int_eq(pathsafe_trusted(at("safe/agent.py"), geteuid(), err, sizeof(err)),
	                 -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "/open is writable by everyone (mode 0777"));
	/* sticky: the file cannot be swapped, but the directory itself is
	 * still no place to trust (anyone may add files) */
	ck_assert_int_eq(chmod(at("open"), 01777), 0);
	ck_assert_int_eq(pathsafe_trusted(at("safe/agent.py"), geteuid(), err, sizeof(err)), 0);
	ck_assert_int_eq(pathsafe_trusted(at("open"), geteuid(), err, sizeof(err)), -EPERM);
	ck_assert_int_eq(chmod(at("open"), 0777), 0);
	ck_assert_int_eq(pathsafe_trusted(at("missing"), geteuid(), err, sizeof(err)), -ENOENT);
	/* the file's own directory, not sticky, lets others swap it */
	ck_assert_int_eq(mkdir(at("open/sub"), 0755), 0);
	fclose(fopen(at("open/sub/f"), "w"));
	ck_assert_int_eq(pathsafe_trusted(at("open/sub/f"), geteuid(), err, sizeof(err)), -EPERM);
	ck_assert_int_eq(chmod(at("open"), 01777), 0);
	ck_assert_int_eq(pathsafe_trusted(at("open/sub/f"), geteuid(), err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_describe_uid)
{
	char out[128];

	pathsafe_describe_uid(0, out, sizeof(out));
	ck_assert_str_eq(out, "uid 0 (root)");
	pathsafe_describe_uid(4000000000u, out, sizeof(out));
	ck_assert_str_eq(out, "uid 4000000000");
}
END_TEST

static Suite *
pathsafe_suite(void)
{
	Suite *s = suite_create("pathsafe");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_make_runtime_dir);
	tcase_add_test(tc, test_symlink);
	tcase_add_test(tc, test_foreign_owner);
	tcase_add_test(tc, test_trusted_follows_links);
	tcase_add_test(tc, test_describe_uid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pathsafe_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
