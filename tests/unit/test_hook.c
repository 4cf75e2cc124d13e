/* test_hook.c - hook files, the hookset, hint resolution, argv and env */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "builtin_hooks.h"
#include "hook.h"
#include "probe.h"

#define SHIPPED HOTLOAD_SOURCE_DIR "/conf/hooks.d"

static char tmpdir[] = "/tmp/hotload-test-hook-XXXXXX";
static char *saved_path;
static uv_loop_t loop;
static struct probes *probes; /* where version_command runs */

static void
setup(void)
{
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	probes = probes_new(&loop, NULL, PROBE_TIMEOUT_MS);
	saved_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	unsetenv("HOTLOAD_HINT_ROOT");
	unsetenv("MAYA_LOCATION");
	unsetenv("HFS");
}

static void
teardown(void)
{
	char cmd[128];

	probes_free(probes);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	setenv("PATH", saved_path, 1);
	free(saved_path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/hotload-test-hook-XXXXXX");
}

/* tmpdir + "/" + formatted relative path (static buffer, rotating). */
static const char *
tmp_path(const char *fmt, ...)
{
	static char bufs[4][512];
	static int k;
	char rel[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	k = (k + 1) % 4;
	snprintf(bufs[k], sizeof(bufs[k]), "%s/%s", tmpdir, rel);
	return bufs[k];
}

/* Write text to path with mode, making the parent directories. */
static void
write_file(const char *path, const char *text, mode_t mode)
{
	char cmd[600];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* A fake executable at tmpdir/rel. */
static void
fake_exe(const char *rel)
{
	write_file(tmp_path("%s", rel), "#!/bin/sh\nexit 0\n", 0755);
}

/* hook_resolve, running the loop while a version is being probed. */
static int
resolve(const struct hook *h, const char *want, char **ret_path, char **ret_version,
        struct buf *searched)
{
	int r;

	while ((r = hook_resolve(h, want, probes, ret_path, ret_version, searched)) == -EINPROGRESS)
		uv_run(&loop, UV_RUN_ONCE);
	return r;
}

/* hook_find_installs, the same way. */
static int
find_installs(const struct hook *h, struct hook_install **ret, size_t *ret_n)
{
	int r;

	while ((r = hook_find_installs(h, probes, ret, ret_n)) == -EINPROGRESS)
		uv_run(&loop, UV_RUN_ONCE);
	return r;
}

/* Load one hook from text; returns the hookset (asserting success). */
static struct hookset *
load_text(const char *name, const char *text)
{
	struct hookset *hs = hookset_new();
	const char *path = tmp_path("hooks/%s", name);
	char err[512] = "";
	int r;

	write_file(path, text, 0644);
	r = hookset_load_file(hs, path, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	return hs;
}

/* The value of KEY in an environment vector, or NULL; asserts it is there once. */
static const char *
env_get(char **env, const char *key)
{
	const char *found = NULL;
	size_t i, n = strlen(key);

	for (i = 0; env[i]; i++) {
		if (strncmp(env[i], key, n) || env[i][n] != '=')
			continue;
		ck_assert_msg(!found, "%s twice in env", key);
		found = env[i] + n + 1;
	}
	return found;
}

START_TEST(test_shipped_hooks_load)
{
	struct hookset *hs = hookset_new();
	const struct hook *h;
	char err[512] = "";
	size_t i;
	int r;

	r = hookset_load_dir(hs, SHIPPED, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_uint_eq(hookset_count(hs), 4);
	for (i = 0; i < hookset_count(hs); i++) {
		h = hookset_at(hs, i);
		ck_assert_ptr_nonnull(h->description);
		ck_assert_uint_ge(h->n_hints, 1);
		ck_assert_uint_eq(h->n_env, 1);
		ck_assert_str_eq(h->env[0].key, "PYTHONUNBUFFERED");
		ck_assert_str_eq(h->env[0].value, "1");
		ck_assert_uint_eq(h->n_python_path, 1);
		ck_assert_str_eq(h->python_path[0], SHIPPED);
	}
	ck_assert_ptr_null(hookset_at(hs, 4));

	h = hookset_find(hs, "maya");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h->name, "mayapy");
	ck_assert_ptr_nonnull(strstr(h->initialize, "import maya.standalone\n"
	                                            "maya.standalone.initialize(name=\"python\")"));
	ck_assert_ptr_nonnull(strstr(h->uninitialize, "maya.standalone.uninitialize()"));
	ck_assert_uint_eq(h->n_hints, 3);
	ck_assert_str_eq(h->hints[0].path, "/usr/autodesk/maya{version}/bin/mayapy");
	ck_assert_str_eq(h->hints[1].path, "/usr/autodesk/Maya{version}/bin/mayapy");
	ck_assert_str_eq(h->hints[2].path, "$MAYA_LOCATION/bin/mayapy");

	h = hookset_find(hs, "houdini");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h->name, "hython");
	ck_assert_str_eq(h->initialize, "import hou\n");
	ck_assert_ptr_null(h->uninitialize);
	ck_assert_str_eq(h->hints[0].path, "/opt/hfs{version}/bin/hython");

	h = hookset_find(hs, "blender");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->argc, 7);
	ck_assert_str_eq(h->argv[1], "--background");
	ck_assert_str_eq(h->argv[6], "{agent}");
	ck_assert_ptr_null(h->argv[7]);

	h = hookset_find(hs, "python");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h->default_version, "3");
	ck_assert_ptr_null(hookset_find(hs, "nuke"));
	hookset_free(hs);
}
END_TEST

/* The compiled-in copy is the shipped python.yaml and resolves here. */
START_TEST(test_builtin_python_hook)
{
	struct hookset *hs = hookset_new();
	struct buf searched = BUF_INIT;
	const struct hook *h;
	char err[512] = "", *path = NULL, *version = NULL;
	int r;

	r = hookset_load_string(hs, "<built-in python hook>", builtin_python_hook, err,
	                        sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	h = hookset_find(hs, "python");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h->source, "<built-in python hook>");
	ck_assert_uint_eq(h->n_python_path, 0);
	ck_assert_ptr_null(h->python_path[0]);
	r = resolve(h, "", &path, &version, &searched);
	ck_assert_msg(r == 0, "python3 not found; searched:\n%s", searched.data);
	ck_assert_str_eq(version, "3");
	ck_assert_ptr_nonnull(strstr(path, "/python3"));
	free(path);
	free(version);
	r = resolve(h, "3", &path, &version, &searched);
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(version, "3");
	free(path);
	free(version);
	ck_assert_int_eq(resolve(h, "2.5", &path, &version, &searched), -ENOENT);
	/* the patterns tried, with the version asked for in them */
	ck_assert_ptr_nonnull(strstr(searched.data, "/python2.5*\n"));
	buf_free(&searched);
	hookset_free(hs);
}
END_TEST

START_TEST(test_defaults)
{
	struct hookset *hs = load_text("x.yaml", "name: x\nhints: {linux: [\"/x{version}\"]}\n");
	const struct hook *h = hookset_find(hs, "x");

	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->n_aliases, 0);
	ck_assert_ptr_null(h->description);
	ck_assert_ptr_null(h->default_version);
	ck_assert_uint_eq(h->argc, 2);
	ck_assert_str_eq(h->argv[0], "{executable}");
	ck_assert_str_eq(h->argv[1], "{agent}");
	ck_assert_ptr_null(h->argv[2]);
	ck_assert_uint_eq(h->n_launcher, 0);
	ck_assert_ptr_null(h->launcher[0]);
	ck_assert_ptr_null(h->aliases[0]);
	ck_assert_uint_eq(h->n_env, 0);
	ck_assert_double_eq(h->startup_timeout, 120);
	ck_assert_double_eq(h->idle_timeout, 0);
	ck_assert_uint_eq(h->max_workers, 1);
	ck_assert_uint_eq(h->min_workers, 0);
	ck_assert_uint_eq(h->max_queue, 0);
	ck_assert_double_eq(h->request_timeout, 0);
	ck_assert_int_eq(h->spawn_fork, 0);
	ck_assert_ptr_null(h->initialize);
	ck_assert_ptr_null(h->uninitialize);
	ck_assert_ptr_null(h->hook_class);
	ck_assert_uint_eq(h->n_python_path, 1);
	ck_assert_str_eq(h->python_path[0], tmp_path("hooks"));
	ck_assert_str_eq(h->source, tmp_path("hooks/x.yaml"));
	ck_assert_uint_eq(h->n_hints, 1);
	ck_assert_str_eq(h->hints[0].path, "/x{version}");
	ck_assert_ptr_null(h->hints[0].version);
	ck_assert_ptr_null(h->hints[0].version_command);
	ck_assert_ptr_null(h->hints[0].version_pattern);
	ck_assert_uint_eq(h->n_watch, 0);
	ck_assert_int_eq(h->watch_poll, 0);
	ck_assert_int_eq(h->reload_purge, 0);
	ck_assert_int_eq(h->reload_recycle, 0);
	ck_assert_ptr_null(h->before_reload);
	ck_assert_ptr_null(h->after_reload);
	ck_assert_uint_eq(h->recycle_after, 0);
	ck_assert_uint_eq(h->max_rss, 0);
	hookset_free(hs);
}
END_TEST

START_TEST(test_every_key)
{
	struct hookset *hs;
	const struct hook *h;

	setenv("HOME", "/home/artist", 1);
	hs = load_text(
	        "studio.yaml",
	        "name: studiomaya\n"
	        "aliases: [smaya, sm]\n"
	        "description: Maya through the studio wrapper\n"
	        "default_version: \"2024\"\n"
	        "hints:\n"
	        "  linux:\n"
	        "    - /usr/autodesk/maya{version}/bin/mayapy\n"
	        "    - {path: /opt/tool/bin/mayapy, version: \"2023\"}\n"
	        "    - path: /usr/bin/mayapy\n"
	        "      version_command: [\"{executable}\", \"-V\"]\n"
	        "      version_pattern: \"Maya ([0-9]+)\"\n"
	        "    - path: /usr/local/bin/mayapy\n"
	        "      version_command: [\"{executable}\", \"-V\"]\n"
	        "  macos: [\"/Applications/Autodesk/maya{version}/Maya.app/Contents/bin/mayapy\"]\n"
	        "  windows: [\"C:/Program Files/Autodesk/Maya{version}/bin/mayapy.exe\"]\n"
	        "argv: [\"{executable}\", \"-u\", \"{agent}\"]\n"
	        "launcher: [rez, env, \"maya-{version}\", --]\n"
	        "env:\n"
	        "  MAYA_DISABLE_CIP: 1\n"
	        "  PYTHONPATH: \"{agent_dir}:$PYTHONPATH\"\n"
	        "  EMPTY:\n"
	        "startup_timeout: 300\n"
	        "idle_timeout: 1800.5\n"
	        "max_workers: 4\n"
	        "min_workers: 2\n"
	        "max_queue: 16\n"
	        "request_timeout: 90.5\n"
	        "initialize: |\n"
	        "  import maya.standalone\n"
	        "  maya.standalone.initialize(name=\"python\")\n"
	        "uninitialize: maya.standalone.uninitialize()\n"
	        "hook_class: studio.hooks.maya:StudioMayaHook\n"
	        "python_path: [lib, /studio/python, ~/python]\n"
	        "watch: [src, ~/dev/tools]\n"
	        "watch_mode: poll\n"
	        "reload_strategy: purge\n"
	        "reload_fallback: recycle\n"
	        "before_reload: print('before', modules)\n"
	        "after_reload: print('after', modules)\n"
	        "recycle_after: 500\n"
	        "max_rss: 4G\n");
	h = hookset_find(hs, "sm");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h->name, "studiomaya");
	ck_assert_ptr_eq(hookset_find(hs, "smaya"), h);
	ck_assert_ptr_eq(hookset_find(hs, "studiomaya"), h);
	ck_assert_uint_eq(h->n_aliases, 2);
	ck_assert_str_eq(h->description, "Maya through the studio wrapper");
	ck_assert_str_eq(h->default_version, "2024");
	ck_assert_uint_eq(h->n_hints, 4); /* the linux list only */
	ck_assert_str_eq(h->hints[1].path, "/opt/tool/bin/mayapy");
	ck_assert_str_eq(h->hints[1].version, "2023");
	ck_assert_str_eq(h->hints[2].version_command[0], "{executable}");
	ck_assert_str_eq(h->hints[2].version_command[1], "-V");
	ck_assert_ptr_null(h->hints[2].version_command[2]);
	ck_assert_str_eq(h->hints[2].version_pattern, "Maya ([0-9]+)");
	ck_assert_str_eq(h->hints[3].version_pattern, "([0-9]+(\\.[0-9]+)*)");
	ck_assert_uint_eq(h->argc, 3);
	ck_assert_str_eq(h->argv[1], "-u");
	ck_assert_uint_eq(h->n_launcher, 4);
	ck_assert_str_eq(h->launcher[2], "maya-{version}");
	ck_assert_uint_eq(h->n_env, 3);
	ck_assert_str_eq(h->env[0].key, "MAYA_DISABLE_CIP");
	ck_assert_str_eq(h->env[0].value, "1");
	ck_assert_str_eq(h->env[1].key, "PYTHONPATH");
	ck_assert_str_eq(h->env[2].value, "");
	ck_assert_double_eq(h->startup_timeout, 300);
	ck_assert_double_eq(h->idle_timeout, 1800.5);
	ck_assert_uint_eq(h->max_workers, 4);
	ck_assert_uint_eq(h->min_workers, 2);
	ck_assert_uint_eq(h->max_queue, 16);
	ck_assert_double_eq(h->request_timeout, 90.5);
	ck_assert_str_eq(h->initialize,
	                 "import maya.standalone\nmaya.standalone.initialize(name=\"python\")\n");
	ck_assert_str_eq(h->uninitialize, "maya.standalone.uninitialize()");
	ck_assert_str_eq(h->hook_class, "studio.hooks.maya:StudioMayaHook");
	ck_assert_uint_eq(h->n_python_path, 3);
	ck_assert_str_eq(h->python_path[0], tmp_path("hooks/lib"));
	ck_assert_str_eq(h->python_path[1], "/studio/python");
	ck_assert_str_eq(h->python_path[2], "/home/artist/python");
	ck_assert_uint_eq(h->n_watch, 2);
	ck_assert_str_eq(h->watch[0], tmp_path("hooks/src"));
	ck_assert_str_eq(h->watch[1], "/home/artist/dev/tools");
	ck_assert_int_eq(h->watch_poll, 1);
	ck_assert_int_eq(h->reload_purge, 1);
	ck_assert_int_eq(h->reload_recycle, 1);
	ck_assert_str_eq(h->before_reload, "print('before', modules)");
	ck_assert_str_eq(h->after_reload, "print('after', modules)");
	ck_assert_uint_eq(h->recycle_after, 500);
	ck_assert_uint_eq(h->max_rss, (size_t)4 << 30);
	hookset_free(hs);
}
END_TEST

/* The edges of the worker, queue and timeout limits are accepted. */
START_TEST(test_limits_edges)
{
	struct hookset *hs;
	const struct hook *h;

	hs = load_text("a.yaml", "name: a\nmin_workers: 3\nmax_workers: 3\nmax_queue: 1\n"
	                         "request_timeout: 0\nidle_timeout: 0\nstartup_timeout: 0.001\n");
	h = hookset_find(hs, "a");
	ck_assert_uint_eq(h->min_workers, 3);
	ck_assert_uint_eq(h->max_workers, 3);
	ck_assert_uint_eq(h->max_queue, 1);
	ck_assert_double_eq(h->request_timeout, 0);
	ck_assert_double_eq(h->startup_timeout, 0.001);
	hookset_free(hs);

	/* Order in the file does not matter; max_workers alone may be 1. */
	hs = load_text("b.yaml", "name: b\nmax_queue: 1000000\nmin_workers: 1\n"
	                         "request_timeout: 3600\n");
	h = hookset_find(hs, "b");
	ck_assert_uint_eq(h->min_workers, 1);
	ck_assert_uint_eq(h->max_workers, 1);
	ck_assert_uint_eq(h->max_queue, 1000000);
	ck_assert_double_eq(h->request_timeout, 3600);
	hookset_free(hs);
}
END_TEST

/* Each bad hook file, and the exact message it must give (after "FILE:"). */
static const struct {
	const char *yaml;
	const char *err;
} bad[] = {
        {"", "1:1: expected a hook (a mapping with at least 'name')"},
        {"# just a comment\n", "1:1: expected a hook (a mapping with at least 'name')"},
        {"aliases: [x]\n", "1:1: missing key 'name'"},
        {"name: hotload\n", "1:7: name: 'hotload' is reserved for the daemon itself"},
        {"name: x\naliases: [y, hotload]\n",
         "2:14: aliases: 'hotload' is reserved for the daemon itself"},
        {"name: my dcc\n", "1:7: name: expected a name of letters, digits and . _ - + (at most 63 "
                           "bytes), got 'my dcc'"},
        {"name: x\naliases: [y, y]\n", "2:14: aliases: 'y' is listed twice"},
        {"name: x\naliases: [x]\n", "2:11: aliases: 'x' is the hook's own name"},
        {"name: [x]\n", "1:7: name: expected a string, got a sequence"},
        {"name: x\nexecutable: /usr/bin/x\n",
         "2:1: unknown key 'executable' (known: name, aliases, description, default_version, "
         "hints, argv, launcher, env, startup_timeout, idle_timeout, max_workers, min_workers, "
         "max_queue, request_timeout, spawn, initialize, uninitialize, namespace, hook_class, "
         "python_path, watch, watch_mode, reload_strategy, reload_fallback, before_reload, "
         "after_reload, recycle_after, max_rss)"},
        {"name: x\nhints:\n  linux: [\"/x{version}\"]\n  solaris: []\n",
         "4:3: hints: unknown key 'solaris' (known: linux, macos, windows)"},
        {"name: x\nhints:\n  linux: /x{version}\n",
         "3:10: hints.linux: expected a list of paths, got '/x{version}'"},
        {"name: x\nhints:\n  linux:\n    - version: \"1\"\n",
         "4:7: hints.linux[0]: missing key 'path'"},
        {"name: x\nhints:\n  linux:\n    - {path: /x, colour: red}\n",
         "4:18: hints.linux[0]: unknown key 'colour' (known: path, version, version_command, "
         "version_pattern)"},
        {"name: x\nhints:\n  linux:\n    - /usr/bin/x\n",
         "4:7: hints.linux[0]: the path has no {version}: add version or version_command"},
        {"name: x\nhints:\n  linux:\n    - {path: \"/x{version}\", version: \"1\"}\n",
         "4:7: hints.linux[0]: a path with {version} takes the version from the path; drop version "
         "/ version_command"},
        {"name: x\nhints:\n  linux:\n    - {path: /x, version: \"1\", version_command: [x]}\n",
         "4:7: hints.linux[0]: give either version or version_command, not both"},
        {"name: x\nhints:\n  linux:\n    - {path: /x, version: \"one two\"}\n",
         "4:27: hints.linux[0].version: expected a version like 2024 or 20.5.332, got 'one two'"},
        {"name: x\nhints:\n  linux:\n    - {path: /x, version_pattern: \"(.*)\"}\n",
         "4:35: hints.linux[0].version_pattern: needs a version_command to match"},
        {"name: x\nhints:\n  linux:\n    - path: /x\n      version_command: [x]\n"
         "      version_pattern: \"([0-9]+\"\n",
         "6:24: hints.linux[0].version_pattern: not a valid POSIX extended regular expression"},
        {"name: x\nhints:\n  linux:\n    - path: /x\n      version_command: [x]\n"
         "      version_pattern: \"[0-9]+\"\n",
         "6:24: hints.linux[0].version_pattern: needs a (group) around the version"},
        {"name: x\nhints:\n  linux:\n    - path: /x\n      version_command: []\n",
         "5:24: hints.linux[0].version_command: expected a command, got an empty list"},
        /* Lists for other systems are checked too, though not kept. */
        {"name: x\nhints:\n  windows:\n    - \"C:/x.exe\"\n",
         "4:7: hints.windows[0]: the path has no {version}: add version or version_command"},
        {"name: x\nargv: []\n", "2:7: argv: expected a command, got an empty list"},
        {"name: x\nargv: python {agent}\n",
         "2:7: argv: expected a list of strings, got 'python {agent}'"},
        {"name: x\nlauncher: [rez, [env]]\n",
         "2:17: launcher[1]: expected a string, got a sequence"},
        {"name: x\nenv: [A]\n", "2:6: env: expected a mapping, got a sequence"},
        {"name: x\nenv:\n  1BAD: x\n",
         "3:3: env: expected a variable name of letters, digits and _, got '1BAD'"},
        {"name: x\nenv:\n  A: [x]\n", "3:6: env.A: expected a string, got a sequence"},
        {"name: x\nstartup_timeout: 0\n",
         "2:18: startup_timeout: expected a number of seconds from 0.001 to 3.1536e+07, got '0'"},
        {"name: x\nidle_timeout: soon\n",
         "2:15: idle_timeout: expected a number of seconds from 0 to 3.1536e+07, got 'soon'"},
        {"name: x\nmax_workers: 0\n",
         "2:14: max_workers: expected an integer from 1 to 1024, got '0'"},
        {"name: x\nstartup_timeout: -5\n",
         "2:18: startup_timeout: expected a number of seconds from 0.001 to 3.1536e+07, got '-5'"},
        {"name: x\nidle_timeout: -1\n",
         "2:15: idle_timeout: expected a number of seconds from 0 to 3.1536e+07, got '-1'"},
        {"name: x\nmin_workers: -1\n",
         "2:14: min_workers: expected an integer from 0 to 1024, got '-1'"},
        {"name: x\nmin_workers: some\n",
         "2:14: min_workers: expected an integer from 0 to 1024, got 'some'"},
        {"name: x\nmin_workers: 1.5\n",
         "2:14: min_workers: expected an integer from 0 to 1024, got '1.5'"},
        /* max_workers defaults to 1 */
        {"name: x\nmin_workers: 2\n",
         "2:14: min_workers: expected at most max_workers (1), got '2'"},
        {"name: x\nmin_workers: 5\nmax_workers: 4\n",
         "2:14: min_workers: expected at most max_workers (4), got '5'"},
        {"name: x\nspawn: clone\n", "2:8: spawn: expected exec or fork, got 'clone'"},
        {"name: x\nmax_queue: 0\n",
         "2:12: max_queue: expected an integer from 1 to 1000000, got '0'"},
        {"name: x\nmax_queue: -3\n",
         "2:12: max_queue: expected an integer from 1 to 1000000, got '-3'"},
        {"name: x\nmax_queue: [1]\n",
         "2:12: max_queue: expected an integer from 1 to 1000000, got a sequence"},
        {"name: x\nmax_queue:\n",
         "2:11: max_queue: expected an integer from 1 to 1000000, got nothing"},
        {"name: x\nrequest_timeout: -0.5\n",
         "2:18: request_timeout: expected a number of seconds from 0 to 3.1536e+07, got '-0.5'"},
        {"name: x\nrequest_timeout: forever\n",
         "2:18: request_timeout: expected a number of seconds from 0 to 3.1536e+07, got "
         "'forever'"},
        {"name: x\nrequest_timeout: .nan\n",
         "2:18: request_timeout: expected a number of seconds from 0 to 3.1536e+07, got '.nan'"},
        {"name: x\nhook_class: studio.hooks\n",
         "2:13: hook_class: expected \"module:Class\", got 'studio.hooks'"},
        {"name: x\nhook_class: \"studio.:Hook\"\n",
         "2:13: hook_class: expected \"module:Class\", got 'studio.:Hook'"},
        {"name: x\ndefault_version: \"20 5\"\n",
         "2:18: default_version: expected a version like 2024 or 20.5, got '20 5'"},
        {"name: x\ninitialize: {a: 1}\n", "2:13: initialize: expected a string, got a mapping"},
        {"name: x\npython_path: lib\n", "2:14: python_path: expected a list of strings, got 'lib'"},
        {"name: x\nwatch: src\n", "2:8: watch: expected a list of strings, got 'src'"},
        {"name: x\nwatch_mode: inotify\n",
         "2:13: watch_mode: expected events or poll, got 'inotify'"},
        {"name: x\nreload_strategy: [purge]\n",
         "2:18: reload_strategy: expected a string, got a sequence"},
        {"name: x\nreload_strategy: superreload\n",
         "2:18: reload_strategy: expected reload or purge, got 'superreload'"},
        {"name: x\nreload_fallback: restart\n",
         "2:18: reload_fallback: expected none or recycle, got 'restart'"},
        {"name: x\nafter_reload: [x]\n", "2:15: after_reload: expected a string, got a sequence"},
        {"name: x\nrecycle_after: -1\n",
         "2:16: recycle_after: expected an integer from 0 to 100000000, got '-1'"},
        {"name: x\nmax_rss: lots\n",
         "2:10: max_rss: expected a size of at least 1048576 bytes (like 64M, 1G), "
         "got 'lots'"},
        {"name: x\nname: y\n", "2:1: duplicate key 'name'"},
        {"name: x\n  aliases: [y]\n", "2:10: mapping values are not allowed in this context"},
};

START_TEST(test_errors)
{
	struct hookset *hs = hookset_new();
	const char *path = tmp_path("bad.yaml");
	char err[768], want[768];

	write_file(path, bad[_i].yaml, 0644);
	ck_assert_int_eq(hookset_load_file(hs, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:%s", path, bad[_i].err);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(hookset_count(hs), 0);
	hookset_free(hs);
}
END_TEST

START_TEST(test_load_string_error)
{
	struct hookset *hs = hookset_new();
	char err[512];

	ck_assert_int_eq(
	        hookset_load_string(hs, "<built-in>", "name: x\nnope: 1\n", err, sizeof(err)),
	        -EINVAL);
	ck_assert_str_eq(err, "<built-in>:2:1: unknown key 'nope' (known: name, aliases, "
	                      "description, default_version, hints, argv, launcher, env, "
	                      "startup_timeout, idle_timeout, max_workers, min_workers, "
	                      "max_queue, request_timeout, spawn, initialize, uninitialize, "
	                      "namespace, hook_class, python_path, watch, watch_mode, "
	                      "reload_strategy, reload_fallback, before_reload, after_reload, "
	                      "recycle_after, max_rss)");
	hookset_free(hs);
}
END_TEST

/* A hook with every key, one line (or block) per entry, for hook_equal. */
static const char *const eq_base[] = {
        "name: x\n",
        "aliases: [y, z]\n",
        "description: one\n",
        "default_version: \"2\"\n",
        "hints:\n"
        "  linux:\n"
        "    - /x{version}/bin/x\n"
        "    - path: /opt/x\n"
        "      version_command: [\"{executable}\", -V]\n"
        "      version_pattern: \"x ([0-9]+)\"\n"
        "    - {path: /usr/x, version: \"1\"}\n"
        "  macos: [\"/m{version}\"]\n",
        "argv: [\"{executable}\", \"{agent}\"]\n",
        "launcher: [rez, env, --]\n",
        "env: {A: \"1\", B: two}\n",
        "startup_timeout: 30\n",
        "idle_timeout: 60\n",
        "max_workers: 3\n",
        "min_workers: 1\n",
        "max_queue: 10\n",
        "request_timeout: 5\n",
        "spawn: exec\n",
        "initialize: import x\n",
        "uninitialize: x.stop()\n",
        "hook_class: m:C\n",
        "python_path: [lib]\n",
        "namespace: import x\n",
        "watch: [src]\n",
        "watch_mode: events\n",
        "reload_strategy: reload\n",
        "reload_fallback: none\n",
        "before_reload: x.down()\n",
        "after_reload: x.up()\n",
        "recycle_after: 100\n",
        "max_rss: 2G\n",
};

/* eq_base with the entry starting with key replaced by line, and whether the
 * result should still be equal to eq_base. */
static const struct {
	const char *key;
	const char *line;
	int equal;
} eq_variants[] = {
        {"description", "description: two\n", 1},
        {"description", "", 1},
        {"spawn", "", 1}, /* exec is the default */
        {"spawn", "spawn: fork\n", 0},
        {"aliases", "aliases: [z, y]\n", 1},
        {"env", "env: {A: 1, B: two}\n", 1},
        {"startup_timeout", "startup_timeout: 30.0\n", 1},
#if !defined(__APPLE__) && !defined(_WIN32)
        /* Only this system's hints count. */
        {"hints",
         "hints:\n  linux:\n    - /x{version}/bin/x\n    - path: /opt/x\n"
         "      version_command: [\"{executable}\", -V]\n"
         "      version_pattern: \"x ([0-9]+)\"\n    - {path: /usr/x, version: \"1\"}\n"
         "  macos: [\"/other{version}\", \"/more{version}\"]\n  windows: "
         "[\"C:/x{version}/x.exe\"]\n",
         1},
#endif
        {"name", "name: w\n", 0},
        {"aliases", "aliases: [y]\n", 0},
        {"aliases", "aliases: [y, w]\n", 0},
        {"aliases", "", 0},
        {"default_version", "default_version: \"3\"\n", 0},
        {"default_version", "", 0},
        {"hints",
         "hints:\n  linux:\n    - /x{version}/bin/x\n    - path: /opt/x\n"
         "      version_command: [\"{executable}\", -V]\n"
         "      version_pattern: \"x ([0-9]+)\"\n",
         0},
        {"hints",
         "hints:\n  linux:\n    - /x{version}/bin/xx\n    - path: /opt/x\n"
         "      version_command: [\"{executable}\", -V]\n"
         "      version_pattern: \"x ([0-9]+)\"\n    - {path: /usr/x, version: \"1\"}\n",
         0},
        {"hints",
         "hints:\n  linux:\n    - /x{version}/bin/x\n    - path: /opt/x\n"
         "      version_command: [\"{executable}\", --version]\n"
         "      version_pattern: \"x ([0-9]+)\"\n    - {path: /usr/x, version: \"1\"}\n",
         0},
        {"hints",
         "hints:\n  linux:\n    - /x{version}/bin/x\n    - path: /opt/x\n"
         "      version_command: [\"{executable}\", -V]\n"
         "    - {path: /usr/x, version: \"1\"}\n",
         0},
        {"hints",
         "hints:\n  linux:\n    - /x{version}/bin/x\n    - path: /opt/x\n"
         "      version_command: [\"{executable}\", -V]\n"
         "      version_pattern: \"x ([0-9]+)\"\n    - {path: /usr/x, version: \"2\"}\n",
         0},
        {"argv", "argv: [\"{executable}\", -u, \"{agent}\"]\n", 0},
        {"argv", "", 1}, /* the default is the same */
        {"launcher", "launcher: [rez, env]\n", 0},
        {"launcher", "", 0},
        {"env", "env: {B: two, A: \"1\"}\n", 0}, /* order matters: $A may refer to B */
        {"env", "env: {A: \"1\", B: three}\n", 0},
        {"env", "env: {A: \"1\", C: two}\n", 0},
        {"env", "env: {A: \"1\"}\n", 0},
        {"startup_timeout", "startup_timeout: 31\n", 0},
        {"idle_timeout", "idle_timeout: 0\n", 0},
        {"max_workers", "max_workers: 4\n", 0},
        {"min_workers", "min_workers: 0\n", 0},
        {"max_queue", "max_queue: 11\n", 0},
        {"max_queue", "", 0},
        {"request_timeout", "request_timeout: 5.5\n", 0},
        {"request_timeout", "", 0},
        {"initialize", "initialize: import y\n", 0},
        {"initialize", "", 0},
        {"uninitialize", "uninitialize: x.halt()\n", 0},
        {"hook_class", "hook_class: m:D\n", 0},
        {"hook_class", "", 0},
        {"python_path", "python_path: [lib, lib2]\n", 0},
        {"python_path", "python_path: [/elsewhere/lib]\n", 0},
        {"python_path", "", 0}, /* the default, the file's directory, is not hooks/lib */
        {"namespace", "namespace: import y\n", 0},
        {"namespace", "", 0},
        {"watch", "watch: [src, more]\n", 0},
        {"watch", "", 0},
        {"watch_mode", "", 1}, /* events is the default */
        {"watch_mode", "watch_mode: poll\n", 0},
        {"reload_strategy", "", 1},
        {"reload_strategy", "reload_strategy: purge\n", 0},
        {"reload_fallback", "", 1},
        {"reload_fallback", "reload_fallback: recycle\n", 0},
        {"before_reload", "before_reload: x.off()\n", 0},
        {"before_reload", "", 0},
        {"after_reload", "after_reload: x.on()\n", 0},
        {"after_reload", "", 0},
        {"recycle_after", "recycle_after: 101\n", 0},
        {"recycle_after", "", 0},
        {"max_rss", "max_rss: 2048M\n", 1},
        {"max_rss", "max_rss: 1G\n", 0},
        {"max_rss", "", 0},
};

/* eq_base as one file, with entry key replaced by line (key NULL: none). */
static void
eq_text(struct buf *b, const char *key, const char *line)
{
	size_t i;

	for (i = 0; i < sizeof(eq_base) / sizeof(eq_base[0]); i++) {
		size_t n = key ? strlen(key) : 0;

		if (key && !strncmp(eq_base[i], key, n) && eq_base[i][n] == ':')
			buf_puts(b, line);
		else
			buf_puts(b, eq_base[i]);
	}
}

/* The same file loaded twice, or another file with the same content, is
 * equal; source and description do not count. */
START_TEST(test_hook_equal_same)
{
	struct buf text = BUF_INIT;
	struct hookset *a, *b, *c;
	const struct hook *ha, *hb, *hc;
	char err[512] = "";
	size_t i;

	eq_text(&text, NULL, NULL);
	a = load_text("a.yaml", text.data);
	b = load_text("a.yaml", text.data);
	c = load_text("c.yaml", text.data);
	ha = hookset_at(a, 0);
	hb = hookset_at(b, 0);
	hc = hookset_at(c, 0);
	ck_assert_uint_eq(ha->n_hints, 3);
	ck_assert_uint_eq(ha->min_workers, 1);
	ck_assert_int_eq(hook_equal(ha, hb), 1);
	ck_assert_int_eq(hook_equal(hb, ha), 1);
	ck_assert_int_eq(hook_equal(ha, ha), 1);
	ck_assert_str_ne(ha->source, hc->source);
	ck_assert_int_eq(hook_equal(ha, hc), 1);
	ck_assert_int_eq(hook_equal(ha, NULL), 0);
	ck_assert_int_eq(hook_equal(NULL, ha), 0);
	ck_assert_int_eq(hook_equal(NULL, NULL), 1);
	hookset_free(a);
	hookset_free(b);
	hookset_free(c);
	buf_free(&text);

	/* The shipped hooks, each against itself loaded again. */
	a = hookset_new();
	b = hookset_new();
	ck_assert_msg(hookset_load_dir(a, SHIPPED, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(hookset_load_dir(b, SHIPPED, err, sizeof(err)) == 0, "%s", err);
	for (i = 0; i < hookset_count(a); i++) {
		ha = hookset_at(a, i);
		ck_assert_int_eq(hook_equal(ha, hookset_find(b, ha->name)), 1);
		if (i > 0)
			ck_assert_int_eq(hook_equal(ha, hookset_at(b, i - 1)), 0);
	}
	hookset_free(a);
	hookset_free(b);
}
END_TEST

/* Each one-field change against the base: equal or not, both ways round. */
START_TEST(test_hook_equal_variant)
{
	struct buf base = BUF_INIT, text = BUF_INIT;
	struct hookset *a, *b;
	int eq;

	eq_text(&base, NULL, NULL);
	eq_text(&text, eq_variants[_i].key, eq_variants[_i].line);
	ck_assert_str_ne(base.data, text.data);
	a = load_text("a.yaml", base.data);
	b = load_text("a.yaml", text.data);
	eq = hook_equal(hookset_at(a, 0), hookset_at(b, 0));
	ck_assert_msg(eq == eq_variants[_i].equal, "hook_equal %d, want %d, for:\n%s", eq,
	              eq_variants[_i].equal, text.data);
	ck_assert_int_eq(hook_equal(hookset_at(b, 0), hookset_at(a, 0)), eq);
	hookset_free(a);
	hookset_free(b);
	buf_free(&base);
	buf_free(&text);
}
END_TEST

/* Later files override earlier ones by name; aliases go to the later file. */
START_TEST(test_override_and_aliases)
{
	struct hookset *hs = hookset_new();
	const struct hook *a, *b;
	char err[512] = "";

#define LOAD(file, text)                                                                           \
	do {                                                                                       \
		write_file(tmp_path("%s", file), text, 0644);                                      \
		ck_assert_msg(hookset_load_file(hs, tmp_path("%s", file), err, sizeof(err)) == 0,  \
		              "%s", err);                                                          \
	} while (0)

	LOAD("1.yaml", "name: a\naliases: [x, y]\ndescription: first a\n");
	LOAD("2.yaml", "name: b\naliases: [y]\n");
	a = hookset_find(hs, "a");
	b = hookset_find(hs, "b");
	ck_assert_ptr_eq(hookset_find(hs, "x"), a);
	ck_assert_ptr_eq(hookset_find(hs, "y"), b); /* the later file won y */
	ck_assert_uint_eq(a->n_aliases, 1);         /* and a lost it */
	ck_assert_str_eq(a->aliases[0], "x");
	ck_assert_ptr_null(a->aliases[1]);

	/* A second "a" replaces the first one, aliases and all. */
	LOAD("3.yaml", "name: a\naliases: [z]\ndescription: second a\n");
	ck_assert_uint_eq(hookset_count(hs), 2);
	a = hookset_find(hs, "a");
	ck_assert_str_eq(a->description, "second a");
	ck_assert_ptr_null(hookset_find(hs, "x"));
	ck_assert_ptr_eq(hookset_find(hs, "z"), a);
	ck_assert_str_eq(a->source, tmp_path("3.yaml"));

	/* An alias equal to an earlier hook's name takes that name: the hook
	 * that could no longer be reached is dropped, with a warning (it would
	 * be listed, and prewarmed, under a name that leads elsewhere). */
	LOAD("4.yaml", "name: d\naliases: [b]\n");
	ck_assert_str_eq(hookset_find(hs, "b")->name, "d");
	ck_assert_uint_eq(hookset_count(hs), 2);
	ck_assert_uint_eq(hookset_warning_count(hs), 1);
	ck_assert_ptr_nonnull(strstr(hookset_warning_at(hs, 0),
	                             "alias 'b' takes the name of the hook "
	                             "from "));
	ck_assert_ptr_nonnull(strstr(hookset_warning_at(hs, 0), "2.yaml, which is dropped"));

	/* And a later hook of that name takes it back from the alias. */
	LOAD("5.yaml", "name: b\n");
	ck_assert_str_eq(hookset_find(hs, "b")->name, "b");
	ck_assert_uint_eq(hookset_find(hs, "d")->n_aliases, 0);
	ck_assert_uint_eq(hookset_count(hs), 3);
	ck_assert_str_eq(hookset_at(hs, 2)->name, "b");

	/* version_pattern that would take regcomp gigabytes is refused */
	write_file(tmp_path("6.yaml"),
	           "name: r\nhints:\n  linux:\n    - path: /usr/bin/python3\n"
	           "      version_command: [\"{executable}\", \"--version\"]\n"
	           "      version_pattern: \"([0-9]++++++++++++++++++++++++++++++)\"\n",
	           0644);
	ck_assert_int_eq(hookset_load_file(hs, tmp_path("6.yaml"), err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "version_pattern: too complex"));
	write_file(tmp_path("6.yaml"),
	           "name: r\nhints:\n  linux:\n    - path: /usr/bin/python3\n"
	           "      version_command: [\"{executable}\", \"--version\"]\n"
	           "      version_pattern: \"((([0-9]{9}){9}){9}){9}\"\n",
	           0644);
	ck_assert_int_eq(hookset_load_file(hs, tmp_path("6.yaml"), err, sizeof(err)), -EINVAL);
	/* real ones are fine */
	write_file(
	        tmp_path("6.yaml"),
	        "name: r\nhints:\n  linux:\n    - path: /usr/bin/python3\n"
	        "      version_command: [\"{executable}\", \"--version\"]\n"
	        "      version_pattern: \"Blender ([0-9]+\\\\.[0-9]+(\\\\.[0-9]+)?)[ \\\\t]*\"\n",
	        0644);
	ck_assert_msg(hookset_load_file(hs, tmp_path("6.yaml"), err, sizeof(err)) == 0, "%s", err);
#undef LOAD
	hookset_free(hs);
}
END_TEST

START_TEST(test_load_dir)
{
	struct hookset *hs = hookset_new();
	char err[512] = "", want[600];

	/* Name order within a directory; other files are ignored. */
	write_file(tmp_path("d1/20-maya.yml"), "name: mayapy\ndescription: twenty\n", 0644);
	write_file(tmp_path("d1/10-maya.yaml"), "name: mayapy\ndescription: ten\n", 0644);
	write_file(tmp_path("d1/README"), "not yaml: [\n", 0644);
	write_file(tmp_path("d1/.hidden.yaml"), "not yaml: [\n", 0644);
	write_file(tmp_path("d1/old.yaml.bak"), "not yaml: [\n", 0644);
	write_file(tmp_path("d2/maya.yaml"), "name: mayapy\ndescription: user\n", 0644);
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("d1"), err, sizeof(err)), 0);
	ck_assert_str_eq(hookset_find(hs, "mayapy")->description, "twenty");
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("nonexistent"), err, sizeof(err)), 0);
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("d2"), err, sizeof(err)), 0);
	ck_assert_str_eq(hookset_find(hs, "mayapy")->description, "user");
	ck_assert_uint_eq(hookset_count(hs), 1);

	/* The first bad file is the error. */
	write_file(tmp_path("d3/a.yaml"), "name: ok\n", 0644);
	write_file(tmp_path("d3/b.yaml"), "name: bad\nmax_workers: lots\n", 0644);
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("d3"), err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
	         "%s:2:14: max_workers: expected an integer from 1 to 1024, got 'lots'",
	         tmp_path("d3/b.yaml"));
	ck_assert_str_eq(err, want);
	hookset_free(hs);
}
END_TEST

/* Hook files decide what runs: others must not be able to write them. */
START_TEST(test_unsafe_permissions)
{
	struct hookset *hs = hookset_new();
	char err[1024] = "", want[1200];

	write_file(tmp_path("w/open.yaml"), "name: x\n", 0666);
	ck_assert_int_eq(hookset_load_file(hs, tmp_path("w/open.yaml"), err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "%s is writable by everyone (mode 0666; chmod go-w %s)",
	         tmp_path("w/open.yaml"), tmp_path("w/open.yaml"));
	ck_assert_str_eq(err, want);

	/* In a directory: skipped with a warning that names it, the rest loads. */
	write_file(tmp_path("w/good.yaml"), "name: y\n", 0644);
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("w"), err, sizeof(err)), 0);
	ck_assert_uint_eq(hookset_count(hs), 1);
	ck_assert_ptr_nonnull(hookset_find(hs, "y"));
	ck_assert_uint_eq(hookset_warning_count(hs), 1);
	snprintf(want, sizeof(want),
	         "%s is writable by everyone (mode 0666; chmod go-w %s); ignoring it",
	         tmp_path("w/open.yaml"), tmp_path("w/open.yaml"));
	ck_assert_str_eq(hookset_warning_at(hs, 0), want);
	hookset_free(hs);

	/* A directory others can write to, sticky or not, is skipped whole:
	 * anyone could plant a hook, or a module the worker imports. */
	ck_assert_int_eq(chmod(tmp_path("w/open.yaml"), 0644), 0);
	ck_assert_int_eq(chmod(tmp_path("w"), 01777), 0);
	hs = hookset_new();
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("w"), err, sizeof(err)), 0);
	ck_assert_uint_eq(hookset_count(hs), 0);
	ck_assert_uint_eq(hookset_warning_count(hs), 1);
	snprintf(want, sizeof(want),
	         "%s is writable by everyone (mode 1777; chmod go-w %s); ignoring the hooks in %s",
	         tmp_path("w"), tmp_path("w"), tmp_path("w"));
	ck_assert_str_eq(hookset_warning_at(hs, 0), want);
	hookset_free(hs);
	ck_assert_int_eq(chmod(tmp_path("w"), 0775), 0);
	hs = hookset_new();
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("w"), err, sizeof(err)), 0);
	ck_assert_uint_eq(hookset_count(hs), 0);
	ck_assert_ptr_nonnull(strstr(hookset_warning_at(hs, 0), "is writable by its group"));
	hookset_free(hs);

	ck_assert_int_eq(chmod(tmp_path("w"), 0755), 0);
	hs = hookset_new();
	ck_assert_int_eq(hookset_load_dir(hs, tmp_path("w"), err, sizeof(err)), 0);
	ck_assert_uint_eq(hookset_count(hs), 2);
	ck_assert_uint_eq(hookset_warning_count(hs), 0);
	hookset_free(hs);
}
END_TEST

/* A hook's python_path goes on the worker's sys.path: a directory others
 * can write to (or create, when it is missing) refuses the hook. */
START_TEST(test_unsafe_python_path)
{
	struct hookset *hs = hookset_new();
	char err[1024] = "", text[600];

	ck_assert_int_eq(mkdir(tmp_path("shared"), 01777), 0);
	ck_assert_int_eq(chmod(tmp_path("shared"), 01777), 0);
	snprintf(text, sizeof(text), "name: p\npython_path: [%s]\n", tmp_path("shared"));
	write_file(tmp_path("pp/p.yaml"), text, 0644);
	ck_assert_int_eq(hookset_load_file(hs, tmp_path("pp/p.yaml"), err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "is writable by everyone (mode 1777"));
	ck_assert_ptr_nonnull(strstr(err, "(python_path of hook p)"));

	/* missing, inside the shared directory: anybody could make it */
	snprintf(text, sizeof(text), "name: p\npython_path: [%s/later]\n", tmp_path("shared"));
	write_file(tmp_path("pp/p.yaml"), text, 0644);
	ck_assert_int_eq(hookset_load_file(hs, tmp_path("pp/p.yaml"), err, sizeof(err)), -EPERM);

	/* missing, inside one of ours: fine */
	snprintf(text, sizeof(text), "name: p\npython_path: [%s/later]\n", tmp_path("pp"));
	write_file(tmp_path("pp/p.yaml"), text, 0644);
	ck_assert_int_eq(hookset_load_file(hs, tmp_path("pp/p.yaml"), err, sizeof(err)), 0);
	ck_assert_uint_eq(hookset_count(hs), 1);
	hookset_free(hs);
}
END_TEST

/* Load a shipped hook file. */
static struct hookset *
load_shipped(const char *file)
{
	struct hookset *hs = hookset_new();
	char path[512], err[512] = "";
	int r;

	snprintf(path, sizeof(path), "%s/%s", SHIPPED, file);
	r = hookset_load_file(hs, path, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	return hs;
}

/* Resolve and check the pick (path relative to tmpdir). */
static void
assert_resolves(const struct hook *h, const char *want_version_in, const char *version,
                const char *rel)
{
	struct buf searched = BUF_INIT;
	char *path = NULL, *v = NULL;
	int r;

	r = resolve(h, want_version_in, &path, &v, &searched);
	ck_assert_msg(r == 0, "%s:%s not found; searched:\n%s", h->name, want_version_in,
	              searched.data ? searched.data : "");
	ck_assert_str_eq(v, version);
	ck_assert_str_eq(path, tmp_path("%s", rel));
	free(path);
	free(v);
	buf_free(&searched);
}

START_TEST(test_resolve_maya_and_houdini)
{
	struct hookset *maya = load_shipped("mayapy.yaml"), *hou = load_shipped("hython.yaml");
	const struct hook *m = hookset_find(maya, "maya"), *hy = hookset_find(hou, "houdini");
	struct hook_install *v;
	struct buf searched = BUF_INIT;
	char *path = NULL, *ver = NULL, want[2048];
	size_t n;

	fake_exe("usr/autodesk/maya2024/bin/mayapy");
	fake_exe("usr/autodesk/maya2025/bin/mayapy");
	write_file(tmp_path("usr/autodesk/maya2026/bin/mayapy"), "", 0644); /* not executable */
	fake_exe("usr/autodesk/maya2027-beta/bin/mayapy");                  /* not a version */
	ck_assert_int_eq(mkdir(tmp_path("usr/autodesk/maya2028"), 0755), 0);
	ck_assert_int_eq(mkdir(tmp_path("usr/autodesk/maya2028/bin"), 0755), 0);
	ck_assert_int_eq(mkdir(tmp_path("usr/autodesk/maya2028/bin/mayapy"), 0755), 0); /* a dir */
	fake_exe("opt/hfs20.5.10/bin/hython");
	fake_exe("opt/hfs20.5.332/bin/hython");
	fake_exe("opt/hfs20.0.1/bin/hython");
	fake_exe("opt/hfs20.5.999-py39/bin/hython");
	setenv("HOTLOAD_HINT_ROOT", tmpdir, 1);

	ck_assert_int_eq(find_installs(m, &v, &n), 2);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].version, "2025");
	ck_assert_str_eq(v[0].path, tmp_path("usr/autodesk/maya2025/bin/mayapy"));
	ck_assert_str_eq(v[1].version, "2024");
	hook_installs_free(v, n);

	assert_resolves(m, "", "2025", "usr/autodesk/maya2025/bin/mayapy");
	assert_resolves(m, "2024", "2024", "usr/autodesk/maya2024/bin/mayapy");
	ck_assert_int_eq(resolve(m, "2023", &path, &ver, &searched), -ENOENT);
	ck_assert_ptr_null(path);
	ck_assert_ptr_null(ver);
	snprintf(want, sizeof(want),
	         "%s/usr/autodesk/maya2023*/bin/mayapy\n"
	         "%s/usr/autodesk/Maya2023*/bin/mayapy\n"
	         "$MAYA_LOCATION/bin/mayapy (skipped: $MAYA_LOCATION is not set)\n",
	         tmpdir, tmpdir);
	ck_assert_str_eq(searched.data, want);
	buf_free(&searched);

	/* Houdini: the build number is part of the version. */
	ck_assert_int_eq(find_installs(hy, &v, &n), 3);
	ck_assert_str_eq(v[0].version, "20.5.332");
	ck_assert_str_eq(v[1].version, "20.5.10");
	ck_assert_str_eq(v[2].version, "20.0.1");
	hook_installs_free(v, n);
	assert_resolves(hy, "20.5", "20.5.332", "opt/hfs20.5.332/bin/hython");
	assert_resolves(hy, "", "20.5.332", "opt/hfs20.5.332/bin/hython");
	assert_resolves(hy, "20", "20.5.332", "opt/hfs20.5.332/bin/hython");
	assert_resolves(hy, "20.5.10", "20.5.10", "opt/hfs20.5.10/bin/hython");
	assert_resolves(hy, "20.0", "20.0.1", "opt/hfs20.0.1/bin/hython");
	ck_assert_int_eq(resolve(hy, "19.5", &path, &ver, &searched), -ENOENT);
	ck_assert_int_eq(resolve(hy, "20.5.3", &path, &ver, NULL), -ENOENT);
	ck_assert_ptr_nonnull(strstr(searched.data, "/opt/hfs19.5*/bin/hython\n"));
	buf_free(&searched);

	/* $MAYA_LOCATION, under the hint root like every absolute path; its
	 * version comes from the directory name. */
	fake_exe("studio/maya2023/bin/mayapy");
	setenv("MAYA_LOCATION", "/studio/maya2023", 1);
	assert_resolves(m, "2023", "2023", "studio/maya2023/bin/mayapy");
	setenv("HFS", "/studio/hfs19.5.805", 1);
	fake_exe("studio/hfs19.5.805/bin/hython");
	assert_resolves(hy, "19.5", "19.5.805", "studio/hfs19.5.805/bin/hython");
	/* Empty counts as unset. */
	setenv("MAYA_LOCATION", "", 1);
	ck_assert_int_eq(resolve(m, "2023", &path, &ver, NULL), -ENOENT);
	hookset_free(maya);
	hookset_free(hou);
}
END_TEST

/* The fixture of the integration tests resolves with the shipped hooks and
 * its fakes log what maya.standalone did. */
START_TEST(test_fake_dcc_fixture)
{
	struct hookset *maya = load_shipped("mayapy.yaml"), *hou = load_shipped("hython.yaml");
	char cmd[2048], line[256];
	FILE *f;

	snprintf(cmd, sizeof(cmd), HOTLOAD_SOURCE_DIR "/tests/fixtures/fake-dcc/make-root.sh '%s'",
	         tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	setenv("HOTLOAD_HINT_ROOT", tmpdir, 1);
	assert_resolves(hookset_find(maya, "mayapy"), "2024", "2024",
	                "usr/autodesk/maya2024/bin/mayapy");
	assert_resolves(hookset_find(hou, "hython"), "20.5", "20.5.332",
	                "opt/hfs20.5.332/bin/hython");

	snprintf(cmd, sizeof(cmd),
	         "cd / && HOTLOAD_FAKE_DCC_LOG='%s/log' '%s/usr/autodesk/maya2024/bin/mayapy' -c "
	         "'import maya.standalone as s; s.initialize(name=\"python\"); "
	         "import maya.cmds as c; assert c.about(version=True) == \"2024\"; "
	         "s.uninitialize()' && HOTLOAD_FAKE_DCC_LOG='%s/log' "
	         "'%s/opt/hfs20.5.332/bin/hython' -c "
	         "'import hou; assert hou.applicationVersionString() == \"20.5.332\"; "
	         "assert hou.node(\"/obj\").path() == \"/obj\"'",
	         tmpdir, tmpdir, tmpdir, tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(tmp_path("log"), "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_str_eq(line, "maya.standalone.initialize name=python\n");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_str_eq(line, "maya.standalone.uninitialize\n");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_str_eq(line, "hou import version=20.5.332\n");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_str_eq(line, "hou atexit\n");
	fclose(f);
	hookset_free(maya);
	hookset_free(hou);
}
END_TEST

START_TEST(test_resolve_version_command)
{
	struct hookset *hs = load_shipped("blender.yaml");
	const struct hook *h = hookset_find(hs, "blender");
	char exe[512];
	struct hook_install *v;
	struct timespec times[2];
	struct stat st;
	size_t n;

	snprintf(exe, sizeof(exe), "%s/usr/bin/blender", tmpdir);
	write_file(exe, "#!/bin/sh\necho 'Blender 3.4.1'\necho '\tbuild date: 2023-03-06'\n", 0755);
	fake_exe("opt/blender-4.1.1-linux-x64/blender");
	fake_exe("opt/blender-4.2.0-alpha-linux-x64/blender"); /* not a version */
	/* A /usr/local/bin/blender whose --version fails is skipped. */
	write_file(tmp_path("usr/local/bin/blender"), "#!/bin/sh\necho 'Blender 9.9'\nexit 1\n",
	           0755);
	setenv("HOTLOAD_HINT_ROOT", tmpdir, 1);
	setenv("HOME", "/home/artist", 1);
	fake_exe("home/artist/blender-3.6.5-linux-x64/blender");

	ck_assert_int_eq(find_installs(h, &v, &n), 3);
	ck_assert_str_eq(v[0].version, "4.1.1");
	ck_assert_str_eq(v[1].version, "3.6.5");
	ck_assert_str_eq(v[1].path, tmp_path("home/artist/blender-3.6.5-linux-x64/blender"));
	ck_assert_str_eq(v[2].version, "3.4.1");
	ck_assert_str_eq(v[2].path, exe);
	hook_installs_free(v, n);
	assert_resolves(h, "3.4", "3.4.1", "usr/bin/blender");
	assert_resolves(h, "3", "3.6.5", "home/artist/blender-3.6.5-linux-x64/blender");

	/* The answer is cached per path and mtime: same mtime, same answer. */
	ck_assert_int_eq(stat(exe, &st), 0);
	write_file(exe, "#!/bin/sh\necho 'Blender 3.5.0'\n", 0755);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, exe, times, 0), 0);
	assert_resolves(h, "3.4", "3.4.1", "usr/bin/blender");
	/* A new mtime asks again. */
	times[1].tv_sec -= 10;
	ck_assert_int_eq(utimensat(AT_FDCWD, exe, times, 0), 0);
	assert_resolves(h, "3.5", "3.5.0", "usr/bin/blender");
	ck_assert_int_eq(resolve(h, "3.4", NULL, NULL, NULL), -ENOENT);
	hook_version_cache_clear();
	assert_resolves(h, "3.5", "3.5.0", "usr/bin/blender");
	hookset_free(hs);
}
END_TEST

/* A version not known yet is probed without blocking: hook_resolve says
 * -EINPROGRESS until the probe has ended, and whoever asks meanwhile
 * shares the same probe. */
START_TEST(test_resolve_probe_async)
{
	struct hookset *hs;
	const struct hook *h;
	struct hook_install *v = NULL;
	char yaml[1024], script[1024], *path = NULL, *version = NULL, *log;
	size_t n = 0;
	FILE *f;
	int lines = 0, c;

	snprintf(script, sizeof(script),
	         "#!/bin/sh\necho run >> '%s/count'\nsleep 0.2\necho 'tool 2.5'\n", tmpdir);
	write_file(tmp_path("bin/tool"), script, 0755);
	snprintf(yaml, sizeof(yaml),
	         "name: tool\n"
	         "hints:\n"
	         "  linux:\n"
	         "    - path: \"%s/bin/tool\"\n"
	         "      version_command: [\"{executable}\"]\n",
	         tmpdir);
	hs = load_text("tool.yaml", yaml);
	h = hookset_find(hs, "tool");
	ck_assert_int_eq(hook_resolve(h, "", probes, &path, &version, NULL), -EINPROGRESS);
	ck_assert_int_eq(hook_resolve(h, "2", probes, &path, &version, NULL), -EINPROGRESS);
	ck_assert_int_eq(hook_find_installs(h, probes, &v, &n), -EINPROGRESS);
	ck_assert_ptr_null(path);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(probes_count(probes), 1);
	/* no probes to run them: pending, nothing started */
	ck_assert_int_eq(hook_resolve(h, "", NULL, &path, &version, NULL), -EINPROGRESS);
	assert_resolves(h, "2", "2.5", "bin/tool");
	ck_assert_int_eq(find_installs(h, &v, &n), 1);
	hook_installs_free(v, n);
	log = (char *)tmp_path("count");
	f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	ck_assert_int_eq(lines, 1);
	hookset_free(hs);
}
END_TEST

/* Where Blender is really installed (Debian's package), the shipped hook
 * finds it by asking it for its version. */
START_TEST(test_real_blender)
{
	struct hookset *hs = load_shipped("blender.yaml");
	char *path = NULL, *version = NULL;
	size_t i;

	if (access("/usr/bin/blender", X_OK) != 0)
		goto out; /* not installed here */
	ck_assert_int_eq(resolve(hookset_find(hs, "blender"), "", &path, &version, NULL), 0);
	ck_assert_ptr_nonnull(strstr(path, "blender"));
	ck_assert_ptr_nonnull(strchr(version, '.'));
	for (i = 0; version[i]; i++)
		ck_assert(strchr("0123456789.", version[i]));
	free(path);
	free(version);
out:
	hookset_free(hs);
}
END_TEST

START_TEST(test_resolve_path_search)
{
	struct hookset *hs = load_text("fakepy.yaml", "name: fakepy\n"
	                                              "default_version: \"3\"\n"
	                                              "hints:\n"
	                                              "  linux: [\"fakepy{version}\"]\n");
	const struct hook *h = hookset_find(hs, "fakepy");
	struct buf searched = BUF_INIT;
	struct hook_install *v;
	char want[1024];
	size_t n;

	fake_exe("bin1/fakepy3");
	fake_exe("bin1/fakepy3.11");
	fake_exe("bin1/fakepy3.11-config");
	fake_exe("bin1/fakepy");
	fake_exe("bin2/fakepy3");
	fake_exe("bin2/fakepy3.12");
	/* bin1 twice: searched once, and listed once */
	setenv("PATH", tmp_path("bin1::%s/bin2:%s/bin1", tmpdir, tmpdir), 1);
	/* The hint root is for absolute hints, not for $PATH. */
	setenv("HOTLOAD_HINT_ROOT", "/nonexistent", 1);

	ck_assert_int_eq(find_installs(h, &v, &n), 3);
	ck_assert_str_eq(v[0].version, "3.12");
	ck_assert_str_eq(v[1].version, "3.11");
	ck_assert_str_eq(v[2].version, "3");
	ck_assert_str_eq(v[2].path, tmp_path("bin1/fakepy3")); /* the earlier PATH entry */
	hook_installs_free(v, n);
	assert_resolves(h, "", "3", "bin1/fakepy3");
	assert_resolves(h, "3.11", "3.11", "bin1/fakepy3.11");
	assert_resolves(h, "3.12", "3.12", "bin2/fakepy3.12");
	ck_assert_int_eq(resolve(h, "3.1", NULL, NULL, &searched), -ENOENT);
	snprintf(want, sizeof(want), "%s/bin1/fakepy3.1*\n%s/bin2/fakepy3.1*\n", tmpdir, tmpdir);
	ck_assert_str_eq(searched.data, want);
	buf_free(&searched);
	hookset_free(hs);
}
END_TEST

START_TEST(test_resolve_hint_forms)
{
	struct hookset *hs;
	const struct hook *h;
	struct hook_install *v;
	size_t n;

	hs = load_text("forms.yaml", "name: forms\n"
	                             "default_version: \"1.5\"\n"
	                             "hints:\n"
	                             "  linux:\n"
	                             "    - \"${TOOL_ROOT}/bin/tool{version}\"\n"
	                             "    - \"~/tools/tool-{version}/tool\"\n"
	                             "    - {path: /opt/fixed/bin/tool, version: \"0.9\"}\n"
	                             "    - \"/opt/multi{version}/bin/m{version}\"\n"
	                             "    - \"/opt/gl[ab]b/t?ol{version}\"\n"
	                             "    - \"$UNSET_TOOL_DIR/tool{version}\"\n");
	h = hookset_find(hs, "forms");
	setenv("TOOL_ROOT", "/studio", 1);
	setenv("HOME", "/home/artist", 1);
	unsetenv("UNSET_TOOL_DIR");
	fake_exe("studio/bin/tool1.0");
	fake_exe("home/artist/tools/tool-1.5/tool");
	fake_exe("opt/fixed/bin/tool");
	fake_exe("opt/multi2.0/bin/m2.0");
	fake_exe("opt/multi2.1/bin/m2.0"); /* the two {version}s disagree */
	fake_exe("opt/glab/tool3.0");
	fake_exe("opt/glob/tool3.1");                  /* [ab] does not match o */
	setenv("HOTLOAD_HINT_ROOT", tmp_path("/"), 1); /* a trailing '/' is fine */

	ck_assert_int_eq(find_installs(h, &v, &n), 5);
	ck_assert_str_eq(v[0].version, "3.0");
	ck_assert_str_eq(v[1].version, "2.0");
	ck_assert_str_eq(v[1].path, tmp_path("opt/multi2.0/bin/m2.0"));
	ck_assert_str_eq(v[2].version, "1.5");
	ck_assert_str_eq(v[3].version, "1.0");
	ck_assert_str_eq(v[4].version, "0.9");
	hook_installs_free(v, n);
	/* default_version is resolved like a request for it. */
	assert_resolves(h, "", "1.5", "home/artist/tools/tool-1.5/tool");
	assert_resolves(h, "1", "1.5", "home/artist/tools/tool-1.5/tool");
	hookset_free(hs);
}
END_TEST

START_TEST(test_build_argv)
{
	struct hookset *hs = load_shipped("blender.yaml");
	char **argv;

	argv = hook_build_argv(hookset_find(hs, "blender"), "/usr/bin/blender", "3.4.1",
	                       "/usr/lib/hotload/hookd/hookd.py");
	ck_assert_str_eq(argv[0], "/usr/bin/blender");
	ck_assert_str_eq(argv[1], "--background");
	ck_assert_str_eq(argv[2], "--factory-startup");
	ck_assert_str_eq(argv[3], "--python-exit-code");
	ck_assert_str_eq(argv[4], "1");
	ck_assert_str_eq(argv[5], "--python");
	ck_assert_str_eq(argv[6], "/usr/lib/hotload/hookd/hookd.py");
	ck_assert_ptr_null(argv[7]);
	hook_strv_free(argv);
	hookset_free(hs);

	hs = load_text("wrapped.yaml",
	               "name: wrapped\n"
	               "launcher: [rez, env, \"maya-{version}\", --]\n"
	               "argv: [\"{executable}\", \"--agent={agent}\", \"{unknown}\", "
	               "\"{agent_dir}\", \"$HOME\"]\n");
	argv = hook_build_argv(hookset_find(hs, "wrapped"), "mayapy", "2024", "/a/b/hookd.py");
	ck_assert_str_eq(argv[0], "rez");
	ck_assert_str_eq(argv[1], "env");
	ck_assert_str_eq(argv[2], "maya-2024");
	ck_assert_str_eq(argv[3], "--");
	ck_assert_str_eq(argv[4], "mayapy");
	ck_assert_str_eq(argv[5], "--agent=/a/b/hookd.py");
	ck_assert_str_eq(argv[6], "{unknown}");
	ck_assert_str_eq(argv[7], "/a/b");
	ck_assert_str_eq(argv[8], "$HOME");
	ck_assert_ptr_null(argv[9]);
	hook_strv_free(argv);
	hook_strv_free(NULL);
	hookset_free(hs);
}
END_TEST

START_TEST(test_build_env)
{
	struct hookset *hs;
	char *extra[] = {"B=from extra", "HOTLOAD_CONTROL_FD=3", NULL};
	char **env;

	setenv("FOO", "daemon", 1);
	setenv("B", "daemon b", 1);
	setenv("KEEP", "kept", 1);
	hs = load_text("env.yaml", "name: env\n"
	                           "env:\n"
	                           "  A: \"{executable} {version}\"\n"
	                           "  B: \"$FOO:x\"\n"
	                           "  C: \"${FOO}-{agent_dir}\"\n"
	                           "  D: \"$$FOO costs $5 and $UNSET_VAR_X.\"\n"
	                           "  E: \"$A+${B}\"\n"
	                           "  FOO: override\n"
	                           "  PYTHONUNBUFFERED: \"1\"\n");
	unsetenv("UNSET_VAR_X");
	env = hook_build_env(hookset_find(hs, "env"), "/opt/x/bin/x", "1.2", "/lib/hookd/hookd.py",
	                     extra);
	ck_assert_str_eq(env_get(env, "A"), "/opt/x/bin/x 1.2");
	ck_assert_str_eq(env_get(env, "B"), "from extra"); /* extra comes last */
	ck_assert_str_eq(env_get(env, "C"), "daemon-/lib/hookd");
	ck_assert_str_eq(env_get(env, "D"), "$FOO costs $5 and .");
	ck_assert_str_eq(env_get(env, "E"), "/opt/x/bin/x 1.2+daemon:x");
	ck_assert_str_eq(env_get(env, "FOO"), "override");
	ck_assert_str_eq(env_get(env, "KEEP"), "kept");
	ck_assert_str_eq(env_get(env, "PYTHONUNBUFFERED"), "1");
	ck_assert_str_eq(env_get(env, "HOTLOAD_CONTROL_FD"), "3");
	hook_strv_free(env);

	env = hook_build_env(hookset_find(hs, "env"), "x", "1", NULL, NULL);
	ck_assert_str_eq(env_get(env, "B"), "daemon:x");
	ck_assert_str_eq(env_get(env, "C"), "daemon-");
	hook_strv_free(env);
	hookset_free(hs);
}
END_TEST

static Suite *
hook_suite(void)
{
	Suite *s = suite_create("hook");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_shipped_hooks_load);
	tcase_add_test(tc, test_builtin_python_hook);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_limits_edges);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_load_string_error);
	tcase_add_test(tc, test_hook_equal_same);
	tcase_add_loop_test(tc, test_hook_equal_variant, 0,
	                    (int)(sizeof(eq_variants) / sizeof(eq_variants[0])));
	tcase_add_test(tc, test_override_and_aliases);
	tcase_add_test(tc, test_load_dir);
	tcase_add_test(tc, test_unsafe_permissions);
	tcase_add_test(tc, test_unsafe_python_path);
	tcase_add_test(tc, test_resolve_maya_and_houdini);
	tcase_add_test(tc, test_fake_dcc_fixture);
	tcase_add_test(tc, test_resolve_version_command);
	tcase_add_test(tc, test_resolve_probe_async);
	tcase_add_test(tc, test_real_blender);
	tcase_add_test(tc, test_resolve_path_search);
	tcase_add_test(tc, test_resolve_hint_forms);
	tcase_add_test(tc, test_build_argv);
	tcase_add_test(tc, test_build_env);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hook_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
