/* itest_blender.c - a real DCC: Debian's Blender (3.4) in background mode,
 * through the daemon. A missing Blender fails these tests: it is part of
 * the test environment, not optional. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

#define BLENDER_DEADLINE_MS 60000 /* a cold first start of Blender can be slow */

/* Fail clearly when Blender is not installed where the shipped hook looks. */
static void
require_blender(void)
{
	static const char *const where[] = {"/usr/bin/blender", "/usr/local/bin/blender",
	                                    "/snap/bin/blender"};
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return;
	ck_abort_msg("Blender is not installed (no /usr/bin/blender): these tests need it; "
	             "install it with: apt-get install -y --no-install-recommends blender");
}

static struct itest_daemon *
start_blender(void)
{
	require_blender();
	return itest_start(NULL);
}

/* A raw request with the Blender deadline. */
static char *
raw(struct itest_daemon *d, const char *target, const char *code)
{
	return itest_raw_n(d, ITEST_UNIX, target, code, strlen(code), BLENDER_DEADLINE_MS, NULL);
}

static int
wait_gone(long pid, int deadline_ms)
{
	long long end = itest_now_ms() + deadline_ms;

	while (itest_pid_alive((pid_t)pid) && itest_now_ms() < end)
		itest_sleep_ms(20);
	return !itest_pid_alive((pid_t)pid);
}

static void
call(struct jclient *c, json_int_t id, const char *op, const char *code, struct jreply *r)
{
	jc_call_with(c, id, op, code, NULL, BLENDER_DEADLINE_MS, r);
}

START_TEST(bpy_requests_on_one_warm_worker)
{
	struct itest_daemon *d = start_blender();
	struct jclient *c = jc_open(d, ITEST_UNIX, "blender mode=json");
	struct jreply r;
	long pid;
	const char *tb;

	call(c, 1, "eval", "__import__('os').getpid()", &r);
	jreply_assert_ok(&r);
	pid = (long)json_integer_value(json_object_get(r.done, "json"));
	ck_assert_int_gt(pid, 0);
	ck_assert_str_eq(r.out, ""); /* Blender's start-up banner is not ours */
	jreply_free(&r);

	/* the factory scene has Cube, Light and Camera */
	call(c, 2, "exec",
	     "import bpy\nbpy.ops.mesh.primitive_cube_add()\nprint(len(bpy.data.objects))", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "4\n");
	jreply_free(&r);

	/* state stays: the same Blender, the same scene */
	call(c, 3, "exec",
	     "import bpy\nprint(sorted(o.name for o in bpy.data.objects))\n"
	     "print(bpy.app.version_string.split()[0])",
	     &r);
	jreply_assert_ok(&r);
	ck_assert_msg(!strncmp(r.out, "['Camera', 'Cube', 'Cube.001', 'Light']\n3.4", 43),
	              "got \"%s\"", r.out);
	jreply_free(&r);

	call(c, 4, "exec", "print('hello from blender')", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(r.out, "hello from blender\n");
	jreply_free(&r);

	call(c, 5, "exec", "import bpy\nprint('before')\nbpy.data.objects['NoSuchObject']", &r);
	jreply_assert_error(&r, "KeyError");
	ck_assert_str_eq(r.out, "before\n");
	tb = jreply_error_str(&r, "traceback");
	ck_assert_msg(!strncmp(tb, "Traceback (most recent call last):\n", 35), "%s", tb);
	itest_assert_contains(tb, "line 3, in <module>");
	itest_assert_contains(tb, "NoSuchObject");
	jreply_free(&r);

	call(c, 6, "eval", "1+1", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "2");
	jreply_free(&r);

	/* all of it in the one warm Blender */
	call(c, 7, "eval", "__import__('os').getpid()", &r);
	jreply_assert_ok(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(r.done, "json")), pid);
	jreply_free(&r);
	jc_close(c);
	itest_stop_within(d, 30000);
	ck_assert(wait_gone(pid, 5000));
}
END_TEST

/* The user's code starts with what Blender's console has (the hook's
 * namespace): bpy, C, D, mathutils' names, in main, in fresh namespaces
 * and after a reset, as hotloadctl's documented example uses it. */
START_TEST(console_names_in_every_namespace)
{
	struct itest_daemon *d = start_blender();
	struct jclient *c = jc_open(d, ITEST_UNIX, "blender mode=json");
	char *ctl = itest_bin("hotloadctl");
	const char *argv[] = {ctl, "--socket", d->sock, "eval", "blender", "bpy.app.version_string",
	                      NULL};
	json_t *fresh = json_pack("{s:s}", "ns", "fresh");
	struct itest_proc p;
	struct jreply r;

	itest_run(argv, NULL, NULL, BLENDER_DEADLINE_MS, &p);
	ck_assert_msg(p.status == 0, "%s", p.err);
	ck_assert_msg(!strncmp(p.out, "'3.", 3), "%s", p.out);
	itest_proc_free(&p);
	call(c, 1, "eval",
	     "(C.scene.name, len(D.objects) >= 0, Vector((1, 2, 3)).length > 3, pi > 3)", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")),
	                 "('Scene', True, True, True)");
	jreply_free(&r);
	jc_call_with(c, 2, "eval", "bpy.context.scene.name", fresh, BLENDER_DEADLINE_MS, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	call(c, 3, "reset", NULL, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	call(c, 4, "eval", "D.scenes[0].name", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")), "'Scene'");
	jreply_free(&r);
	json_decref(fresh);
	free(ctl);
	jc_close(c);
	itest_stop(d);
}
END_TEST

START_TEST(raw_versions_and_alias)
{
	struct itest_daemon *d = start_blender();
	char *r;
	long pid1, pid2, pid3;

	r = raw(d, "blender:3.4", "import bpy, os\nprint(os.getpid())\n");
	ck_assert_msg(sscanf(r, "OUTPUT: \n%ld\n", &pid1) == 1, "%s", r);
	free(r);
	r = itest_raw(d, ITEST_UNIX, "blender", "import os\nprint(os.getpid())\n");
	ck_assert_msg(sscanf(r, "OUTPUT: \n%ld\n", &pid2) == 1, "%s", r);
	free(r);
	r = itest_raw(d, ITEST_UNIX, "bpy:3.4.1", "import os\nprint(os.getpid())\n");
	ck_assert_msg(sscanf(r, "OUTPUT: \n%ld\n", &pid3) == 1, "%s", r);
	free(r);
	/* one installation, one worker */
	ck_assert_int_eq(pid1, pid2);
	ck_assert_int_eq(pid1, pid3);

	r = itest_raw(d, ITEST_UNIX, "blender:3.4", "print('partial')\n1/0\n");
	ck_assert_msg(!strncmp(r,
	                       "OUTPUT: \npartial\nERRORS: \nTraceback (most recent call last):\n",
	                       61),
	              "%s", r);
	ck_assert_msg(strlen(r) > 36 &&
	                      !strcmp(r + strlen(r) - 36, "ZeroDivisionError: division by zero\n"),
	              "%s", r);
	itest_assert_not_contains(r, "Blender");
	free(r);

	r = itest_raw(d, ITEST_UNIX, "blender:3.4", "import bpy\nx = bpy.context.scene.name\n");
	ck_assert_str_eq(r, "Script executed (no output).");
	free(r);

	r = itest_raw(d, ITEST_UNIX, "blender:2.79", "print(1)\n");
	ck_assert_msg(!strncmp(r, "ERRORS: \nNotInstalled: ", 23), "%s", r);
	free(r);
	itest_stop_within(d, 30000);
}
END_TEST

START_TEST(blender_restarts)
{
	struct itest_daemon *d = start_blender();
	struct jclient *c = jc_open(d, ITEST_UNIX, "blender mode=json");
	struct jreply r;
	long pid1, pid2, pid3;
	char *reply;

	call(c, 1, "eval", "__import__('os').getpid()", &r);
	jreply_assert_ok(&r);
	pid1 = (long)json_integer_value(json_object_get(r.done, "json"));
	jreply_free(&r);

	/* killed mid-request: WorkerDied, then a new Blender */
	call(c, 2, "exec", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	call(c, 3, "eval", "__import__('os').getpid()", &r);
	jreply_assert_ok(&r);
	pid2 = (long)json_integer_value(json_object_get(r.done, "json"));
	jreply_free(&r);
	ck_assert_int_ne(pid1, pid2);

	/* __SHUTDOWN__: stopped after the request, started again on demand */
	reply = raw(d, "blender", "print('bye')\n__SHUTDOWN__");
	ck_assert_str_eq(reply, "OUTPUT: \nbye\n");
	free(reply);
	call(c, 4, "eval", "__import__('os').getpid()", &r);
	jreply_assert_ok(&r);
	pid3 = (long)json_integer_value(json_object_get(r.done, "json"));
	jreply_free(&r);
	ck_assert_int_ne(pid2, pid3);
	ck_assert(wait_gone(pid2, 10000));
	jc_close(c);
	itest_stop_within(d, 30000);
}
END_TEST

static const char addon_init[] = "import bpy\n"
                                 "from . import ops\n"
                                 "classes = (ops.MYADDON_OT_probe,)\n"
                                 "def register():\n"
                                 "    n = bpy.app.driver_namespace.get('registered', 0)\n"
                                 "    bpy.app.driver_namespace['registered'] = n + 1\n"
                                 "    for c in classes:\n"
                                 "        bpy.utils.register_class(c)\n"
                                 "def unregister():\n"
                                 "    for c in reversed(classes):\n"
                                 "        bpy.utils.unregister_class(c)\n";

static const char addon_ops[] = "import bpy\n"
                                "class MYADDON_OT_probe(bpy.types.Operator):\n"
                                "    bl_idname = 'myaddon.probe'\n"
                                "    bl_label = 'Probe %s'\n"
                                "    def execute(self, context):\n"
                                "        bpy.app.driver_namespace['probe'] = '%s'\n"
                                "        return {'FINISHED'}\n";

static const char loose_op[] = "import bpy\n"
                               "class HOTLOAD_OT_loose(bpy.types.Operator):\n"
                               "    bl_idname = 'hotload.loose'\n"
                               "    bl_label = 'Loose %s'\n"
                               "%s"
                               "    def execute(self, context):\n"
                               "        return {'FINISHED'}\n";

/* An add-on-like package under a watch root: after its operator's module
 * is saved, the next request reloads it (the shipped hook unregisters and
 * registers the add-on around that), and bpy.ops runs the new execute().
 * A class registered by hand from a module of no add-on is registered
 * again too: its new label and property are Blender's. */
START_TEST(addon_reloads_on_save)
{
	struct itest_daemon *d = start_blender();
	char *src = itest_strf("%s/src", d->dir), *pkg = itest_strf("%s/myaddon", src);
	char *init = itest_strf("%s/__init__.py", pkg), *ops = itest_strf("%s/ops.py", pkg);
	char *tmp = itest_strf("%s.tmp~", ops), *text;
	char *loose = itest_strf("%s/loose.py", src);
	char *code = itest_strf("import sys\nsys.path.insert(0, '%s')\nimport myaddon\n"
	                        "myaddon.register()\nbpy.ops.myaddon.probe()\n"
	                        "import loose\nbpy.utils.register_class(loose.HOTLOAD_OT_loose)",
	                        src);
	struct jclient *c = jc_open(d, ITEST_UNIX, "blender mode=json");
	json_t *fields = json_pack("{s:s, s:[s]}", "target", "blender", "dirs", src), *res;
	struct jreply r;
	const json_t *m;

	ck_assert_int_eq(mkdir(src, 0700), 0);
	ck_assert_int_eq(mkdir(pkg, 0700), 0);
	itest_write_file(init, addon_init, strlen(addon_init));
	text = itest_strf(addon_ops, "v1", "v1");
	itest_write_file(ops, text, strlen(text));
	free(text);
	text = itest_strf(loose_op, "one", "");
	itest_write_file(loose, text, strlen(text));
	free(text);
	res = itest_control_with(d, "watch", fields);
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "watch failed");
	json_decref(res);
	json_decref(fields);
	call(c, 1, "exec", code, &r);
	jreply_assert_ok(&r);
	jreply_free(&r);
	call(c, 2, "eval", "bpy.app.driver_namespace['probe']", &r);
	jreply_assert_ok(&r);
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "json")), "v1");
	jreply_free(&r);

	text = itest_strf(addon_ops, "v2", "v2"); /* saved as editors do: by rename */
	itest_write_file(tmp, text, strlen(text));
	free(text);
	ck_assert_int_eq(rename(tmp, ops), 0);
	ck_assert_msg(itest_wait_file_count(d->log, "changed (", 1, 10000), "no change seen");
	call(c, 3, "eval",
	     "bpy.ops.myaddon.probe(), bpy.app.driver_namespace['probe'], "
	     "bpy.app.driver_namespace['registered']",
	     &r);
	jreply_assert_ok(&r);
	ck_assert_msg(json_array_size(r.reloaded) == 1, "no reloaded event");
	m = json_array_get(r.reloaded, 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "module")), "myaddon.ops");
	ck_assert_str_eq(json_string_value(json_object_get(m, "status")), "reloaded");
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")),
	                 "({'FINISHED'}, 'v2', 2)");
	jreply_free(&r);

	text = itest_strf(loose_op, "two", "    count: bpy.props.IntProperty(default=7)\n");
	itest_write_file(loose, text, strlen(text));
	free(text);
	ck_assert_msg(itest_wait_file_count(d->log, "changed (", 2, 10000), "no change seen");
	call(c, 4, "eval",
	     "bpy.ops.hotload.loose.get_rna_type().name, "
	     "'count' in bpy.ops.hotload.loose.get_rna_type().properties",
	     &r);
	jreply_assert_ok(&r);
	ck_assert_msg(json_array_size(r.reloaded) == 1, "no reloaded event");
	ck_assert_str_eq(json_string_value(json_object_get(r.done, "value")),
	                 "('Loose two', True)");
	jreply_free(&r);
	jc_close(c);
	free(code);
	free(loose);
	free(tmp);
	free(ops);
	free(init);
	free(pkg);
	free(src);
	itest_stop(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("blender");
	TCase *tc = tcase_create("blender");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bpy_requests_on_one_warm_worker);
	tcase_add_test(tc, console_names_in_every_namespace);
	tcase_add_test(tc, raw_versions_and_alias);
	tcase_add_test(tc, blender_restarts);
	tcase_add_test(tc, addon_reloads_on_save);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
