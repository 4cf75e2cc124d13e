/* itest_blender_fork.c - spawn: fork with the real Blender (3.4): what
 * works in a fork of a warm Blender, and what does not, which is why the
 * shipped blender hook keeps spawn: exec (hooks.md, "spawn") */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define BLENDER_DEADLINE_MS 60000

/* The shipped blender hook as "bfork" with spawn: fork. */
static struct itest_daemon *
start_bfork(void)
{
	char *path = itest_strf("%s/conf/hooks.d/blender.yaml", HOTLOAD_SOURCE_DIR);
	char *yaml = itest_read_file(path, NULL), *hook, *at;
	struct itest_daemon *d;
	json_t *res;

	ck_assert_msg(access("/usr/bin/blender", X_OK) == 0,
	              "Blender is not installed (no /usr/bin/blender): these tests need it");
	ck_assert_msg(yaml && (at = strstr(yaml, "\nname: blender\naliases: [bpy]\n")),
	              "%s has no 'name: blender' line", path);
	at[1] = '\0';
	hook = itest_strf("%sname: bfork\nspawn: fork\n%s", yaml,
	                  at + strlen("\nname: blender\naliases: [bpy]\n"));
	d = itest_start(&(struct itest_opts){.empty_hooks_dir = 1});
	itest_write_hook(d, "bfork.yaml", hook);
	res = itest_control(d, "reload");
	ck_assert_msg(json_is_true(json_object_get(res, "ok")), "reload failed");
	json_decref(res);
	free(hook);
	free(yaml);
	free(path);
	return d;
}

static void
call(struct jclient *c, json_int_t id, const char *code, struct jreply *r)
{
	jc_call_with(c, id, "exec", code, NULL, BLENDER_DEADLINE_MS, r);
}

/* The target name of the one Blender installed: "bfork:3.4.1". */
static char *
target_of(const struct itest_daemon *d)
{
	json_t *st = itest_control(d, "status"), *t;
	char *name = NULL;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(st, "status"), "targets"), i, t)
	{
		const char *n = json_string_value(json_object_get(t, "target"));

		if (n && !strncmp(n, "bfork:", 6))
			name = strdup(n);
	}
	json_decref(st);
	ck_assert_msg(name != NULL, "no bfork target in the status");
	return name;
}

/* A parallel mesh operation, then the process's thread count. */
static const char threads_after_parallel_work[] =
        "import bpy, os\n"
        "bpy.ops.mesh.primitive_grid_add(x_subdivisions=400, y_subdivisions=400)\n"
        "o = bpy.context.active_object\n"
        "o.data.calc_normals_split()\n"
        "o.data.calc_loop_triangles()\n"
        "print(len(os.listdir('/proc/self/task')))\n"
        "bpy.data.objects.remove(o)\n";

/* A fork of a warm Blender serves bpy, renders with Cycles, is interrupted
 * and restarted like a spawned one; but the threads Blender started before
 * the fork (its task scheduler's) are not in it: its parallel work runs on
 * one thread, where a spawned Blender has its pool. */
START_TEST(forked_blender_works_on_one_thread)
{
	struct itest_daemon *d = start_bfork();
	struct jclient *c = jc_open(d, ITEST_UNIX, "bfork mode=json");
	struct jclient *e = jc_open(d, ITEST_UNIX, "blender mode=json");
	struct jreply r;
	json_t *fields, *res;
	char *target, *png = itest_strf("%s/render.png", d->dir), *code;
	long tmpl, pid;

	call(c, 1,
	     "import bpy, os\nprint(bpy.app.version_string.split()[0], len(bpy.data.objects), "
	     "os.getppid())",
	     &r);
	jreply_assert_ok(&r);
	target = target_of(d);
	tmpl = itest_template_pid(d, target);
	ck_assert_int_gt(tmpl, 0);
	code = itest_strf("3.4.1 3 %ld\n", tmpl);
	ck_assert_msg(!strncmp(r.out, "3.4", 3) && strstr(r.out, strchr(code, ' ')),
	              "got \"%s\", want \"%s\"", r.out, code);
	free(code);
	jreply_free(&r);

	/* a Cycles render: Blender's render threads are started after the fork */
	code = itest_strf("import bpy, os\ns = bpy.context.scene\ns.render.engine = 'CYCLES'\n"
	                  "s.cycles.samples = 2\ns.cycles.use_denoising = False\n"
	                  "s.render.resolution_x = s.render.resolution_y = 32\n"
	                  "s.render.filepath = '%s'\nbpy.ops.render.render(write_still=True)\n"
	                  "print('rendered', os.path.getsize('%s') > 0)",
	                  png, png);
	call(c, 2, code, &r);
	jreply_assert_ok(&r);
	ck_assert_msg(strstr(r.out, "rendered True\n"), "got \"%s\"", r.out);
	jreply_free(&r);
	free(code);

	/* what breaks: the spawned Blender has its worker threads, the fork not */
	call(c, 3, threads_after_parallel_work, &r);
	jreply_assert_ok(&r);
	ck_assert_msg(atoi(r.out) == 1, "a forked Blender has %s threads", r.out);
	jreply_free(&r);
	call(e, 1, threads_after_parallel_work, &r);
	jreply_assert_ok(&r);
	ck_assert_msg(atoi(r.out) > 1, "a spawned Blender has %s threads", r.out);
	jreply_free(&r);

	/* interrupt: Blender's own SIGINT handling is the agent's in a fork too */
	call(c, 4, "import os\nprint(os.getpid())", &r);
	jreply_assert_ok(&r);
	pid = atol(r.out);
	jreply_free(&r);
	jc_send_exec(c, 5, "import time\nprint('started', flush=True)\ntime.sleep(60)", 0);
	json_decref(jc_next_output(c, BLENDER_DEADLINE_MS));
	fields = json_pack("{s:s}", "target", target);
	res = itest_control_with(d, "interrupt", fields);
	ck_assert(json_is_true(json_object_get(res, "ok")));
	json_decref(res);
	json_decref(fields);
	jc_collect(c, 5, BLENDER_DEADLINE_MS, &r);
	jreply_assert_error(&r, "KeyboardInterrupt");
	jreply_free(&r);

	/* a crash: the next worker is a new fork of the same template */
	call(c, 6, "import os\nos._exit(3)", &r);
	jreply_assert_error(&r, "WorkerDied");
	jreply_free(&r);
	call(c, 7, "import bpy, os\nprint(os.getpid(), os.getppid(), len(bpy.data.objects))", &r);
	jreply_assert_ok(&r);
	code = itest_strf(" %ld 3\n", tmpl);
	ck_assert_msg(atol(r.out) != pid && strstr(r.out, code), "got \"%s\"", r.out);
	free(code);
	jreply_free(&r);

	jc_close(c);
	jc_close(e);
	itest_stop(d);
	ck_assert(itest_wait_gone((pid_t)tmpl, 5000));
	free(target);
	free(png);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("blender_fork");
	TCase *tc = tcase_create("blender_fork");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, forked_blender_works_on_one_thread);
	suite_add_tcase(s, tc);
	return itest_run_suite(s);
}
