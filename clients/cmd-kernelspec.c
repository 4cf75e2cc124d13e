/* cmd-kernelspec.c - `hotloadctl kernelspec install|list|remove`: Jupyter
 * kernelspecs whose kernel (hotload_kernel) runs cells in a target
 *
 * A kernelspec is a directory kernels/NAME/ holding kernel.json, under a
 * Jupyter data directory: the user's ($JUPYTER_DATA_DIR, else
 * $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter) or PREFIX/share/jupyter,
 * as `jupyter kernelspec install --user | --prefix` lays it out. The
 * target's version is looked up in the daemon's `list` and pinned, so
 * "Blender 3.4.1 (hotload)" keeps running that Blender. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl.h"
#include "proto.h"

/* Debian's python3, which has python3-ipykernel; the kernel needs it. */
#define KERNEL_PYTHON "/usr/bin/python3"
#define KERNEL_MODULE "hotload_kernel"
/* Where Debian's python3 finds the kernel without help. */
#define SYSTEM_PYTHON_DIR "/usr/lib/python3/dist-packages"

/* Display names of the shipped hooks; others show the hook's name. */
static const char *const pretty_names[][2] = {
        {"blender", "Blender"},
        {"mayapy", "Maya"},
        {"hython", "Houdini"},
        {"python", "Python"},
};

/* The Jupyter data directory the options name, in *ret (the caller's). */
static int
data_dir(const struct cmd_args *a, char **ret)
{
	const char *prefix = a->value[OPT_PREFIX], *env;
	struct buf b = BUF_INIT;

	if (prefix && a->value[OPT_USER])
		return ctl_usage("kernelspec", "give --user or --prefix, not both");
	if (prefix) {
		if (!prefix[0])
			return ctl_usage("kernelspec", "--prefix wants a directory");
		buf_printf(&b, "%s/share/jupyter", prefix);
	} else if ((env = getenv("JUPYTER_DATA_DIR")) && env[0]) {
		buf_puts(&b, env);
	} else if ((env = getenv("XDG_DATA_HOME")) && env[0] == '/') {
		buf_printf(&b, "%s/jupyter", env);
	} else if ((env = getenv("HOME")) && env[0]) {
		buf_printf(&b, "%s/.local/share/jupyter", env);
	} else {
		ctl_err("kernelspec: no home directory ($HOME is unset); use --prefix DIR");
		return CTL_EXIT_USAGE;
	}
	*ret = buf_steal(&b);
	return 0;
}

/* A kernelspec name as Jupyter takes it: letters, digits, '.', '_', '-'. */
static int
valid_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < 128 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n &&
	       name[0] != '.';
}

/* The default name of target's spec: hotload-blender-3.4.1. */
static char *
default_name(const char *target)
{
	struct buf b = BUF_INIT;
	const char *p;

	buf_puts(&b, "hotload-");
	for (p = target; *p; p++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (c == ':')
			c = '-';
		else if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", c))
			c = '_';
		buf_append(&b, &c, 1);
	}
	return buf_steal(&b);
}

/* Whether an install's version is version, or below it (hython:20.5 is
 * 20.5.332). */
static int
version_matches(const char *install, const char *version)
{
	size_t n = strlen(version);

	return !strcmp(install, version) || (!strncmp(install, version, n) && install[n] == '.');
}

/* The hook of hooks (the daemon's list) that dcc names, or NULL. */
static json_t *
find_hook(json_t *hooks, const char *dcc)
{
	json_t *h, *alias;
	size_t i, j;

	json_array_foreach(hooks, i, h)
	{
		if (!strcmp(ctl_str(h, "name", ""), dcc))
			return h;
		json_array_foreach(json_object_get(h, "aliases"), j, alias)
		{
			if (json_is_string(alias) && !strcmp(json_string_value(alias), dcc))
				return h;
		}
	}
	return NULL;
}

/* Ask the daemon which install target means: *ret_target is the pinned
 * "hook:version", *ret_display "Blender 3.4.1 (hotload)". */
static int
resolve_target(const struct ctl_opts *o, const char *target, char **ret_target, char **ret_display)
{
	json_t *req = json_pack("{s:s}", "op", "list"), *done = NULL, *hook, *installs, *in;
	const char *colon = strchr(target, ':'), *version = colon ? colon + 1 : NULL, *name;
	char *dcc = colon ? xstrndup(target, (size_t)(colon - target)) : xstrdup(target);
	const char *pretty, *found = NULL;
	struct buf b = BUF_INIT;
	size_t i;
	int r;

	r = ctlcontrol_call_ok(o, req, "kernelspec", &done);
	json_decref(req);
	if (r)
		goto done;
	hook = find_hook(json_object_get(done, "hooks"), dcc);
	if (!hook) {
		ctl_err("kernelspec: no hook for '%s' (hotloadctl list shows the known ones)", dcc);
		r = CTL_EXIT_REFUSED;
		goto done;
	}
	name = ctl_str(hook, "name", dcc);
	installs = json_object_get(hook, "installs");
	if (!version)
		version = ctl_str(hook, "default_version", NULL);
	json_array_foreach(installs, i, in)
	{
		const char *v = ctl_str(in, "version", "");

		if (!version || version_matches(v, version)) {
			found = v;
			break;
		}
	}
	if (!found) {
		json_array_foreach(installs, i, in)
		{
			buf_printf(&b, "%s%s", b.len ? ", " : "", ctl_str(in, "version", "?"));
		}
		ctl_err("kernelspec: %s%s%s is not installed here (%s%s)", name, version ? ":" : "",
		        version ? version : "", b.len ? "installed: " : "no version found",
		        b.len ? b.data : "; hotloadctl list shows where the hook looks");
		r = CTL_EXIT_REFUSED;
		goto done;
	}
	/* A version the user gave stays as given (hython:20.5 follows the
	 * newest 20.5.*); else the one found now is pinned. */
	if (!colon && version && strcmp(version, found))
		found = version;
	pretty = name;
	for (i = 0; i < sizeof(pretty_names) / sizeof(pretty_names[0]); i++)
		if (!strcmp(pretty_names[i][0], name))
			pretty = pretty_names[i][1];
	buf_clear(&b);
	buf_printf(&b, "%s:%s", name, colon ? colon + 1 : found);
	*ret_target = buf_steal(&b);
	buf_printf(&b, "%s %s (hotload)", pretty, colon ? colon + 1 : found);
	*ret_display = buf_steal(&b);
done:
	buf_free(&b);
	free(dcc);
	json_decref(done);
	return r;
}

/* mkdir -p path, mode 0755; -errno. */
static int
mkdir_p(const char *path)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return r;
}

/* The directory of the Python packages installed with this hotloadctl
 * (BINDIR/../lib/python3/dist-packages), when the kernel is there and
 * Debian's python3 would not find it by itself: the kernel's PYTHONPATH.
 * NULL otherwise. */
static char *
kernel_pythonpath(void)
{
	char exe[PATH_MAX], *slash;
	struct buf b = BUF_INIT;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return NULL;
	*slash = '\0';
	if (!(slash = strrchr(exe, '/')))
		return NULL;
	*slash = '\0';
	buf_printf(&b, "%s/%s", exe, HOTLOAD_PYTHON_DIR);
	if (strcmp(b.data, SYSTEM_PYTHON_DIR) != 0) {
		size_t len = b.len;

		buf_puts(&b, "/" KERNEL_MODULE "/kernel.py");
		if (stat(b.data, &st) == 0) {
			b.data[len] = '\0';
			b.len = len;
			return buf_steal(&b);
		}
	}
	buf_free(&b);
	return NULL;
}

/* kernel.json of target (pinned) under display, for the options in a. */
static json_t *
spec_json(const struct cmd_args *a, const char *target, const char *display)
{
	json_t *env = json_pack("{s:s}", "PYDEVD_DISABLE_FILE_VALIDATION", "1");
	char *pythonpath = kernel_pythonpath();

	/* An address given on the command line is where the kernel connects
	 * too; one from the environment is the notebook server's to give. */
	if (a->value[OPT_SOCKET])
		json_object_set_new(env, "HOTLOAD_SOCKET", json_string(a->value[OPT_SOCKET]));
	if (a->value[OPT_TCP])
		json_object_set_new(env, "HOTLOAD_TCP", json_string(a->value[OPT_TCP]));
	if (pythonpath)
		json_object_set_new(env, "PYTHONPATH", json_string(pythonpath));
	free(pythonpath);
	return json_pack("{s:[s,s,s,s,s,s,s], s:s, s:s, s:s, s:o, s:{s:{s:s, s:s}}}", "argv",
	                 KERNEL_PYTHON, "-m", KERNEL_MODULE, "--target", target, "-f",
	                 "{connection_file}", "display_name", display, "language", "python",
	                 "interrupt_mode", "message", "env", env, "metadata", "hotload", "target",
	                 target, "hotloadctl", HOTLOAD_VERSION);
}

/* Whether spec (a kernel.json) runs hotload's kernel. */
static int
is_ours(json_t *spec)
{
	json_t *argv = json_object_get(spec, "argv"), *w;
	size_t i;

	json_array_foreach(argv, i, w)
	{
		if (json_is_string(w) && !strcmp(json_string_value(w), KERNEL_MODULE))
			return 1;
	}
	return 0;
}

/* kernelspec install TARGET */
static int
kernelspec_install(const struct ctl_opts *o, const struct cmd_args *a, const char *dir)
{
	char *target = NULL, *display = NULL, *name = NULL, *text = NULL;
	struct buf path = BUF_INIT, tmp = BUF_INIT;
	json_t *spec = NULL;
	struct stat st;
	FILE *f = NULL;
	int r;

	if (a->npos != 3)
		return a->npos < 3 ? ctl_usage("kernelspec", "install needs a TARGET")
		                   : ctl_usage("kernelspec", "unexpected argument '%s'", a->pos[3]);
	if ((r = ctl_check_target(a->pos[2])))
		return r;
	if (a->value[OPT_NAME] && !valid_name(a->value[OPT_NAME]))
		return ctl_usage("kernelspec",
		                 "--name '%s': a kernel name is lowercase letters, digits, '.', "
		                 "'_' and '-'",
		                 a->value[OPT_NAME]);
	if ((r = resolve_target(o, a->pos[2], &target, &display)))
		goto done;
	name = a->value[OPT_NAME] ? xstrdup(a->value[OPT_NAME]) : default_name(target);
	if (a->value[OPT_DISPLAY_NAME]) {
		free(display);
		display = xstrdup(a->value[OPT_DISPLAY_NAME]);
	}
	buf_printf(&path, "%s/kernels/%s", dir, name);
	if ((r = mkdir_p(path.data)) < 0) {
		ctl_err("kernelspec: cannot create %s: %s", path.data, strerror(-r));
		r = CTL_EXIT_FAILED;
		goto done;
	}
	buf_puts(&path, "/kernel.json");
	if (stat(path.data, &st) == 0 && !a->value[OPT_REPLACE]) {
		ctl_err("kernelspec: %s exists already; --replace overwrites it", path.data);
		r = CTL_EXIT_FAILED;
		goto done;
	}
	spec = spec_json(a, target, display);
	text = json_dumps(spec, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	/* Written whole, then renamed: a notebook server never reads half. */
	buf_printf(&tmp, "%s.tmp", path.data);
	if (!text || !(f = fopen(tmp.data, "we")) || fprintf(f, "%s\n", text) < 0 ||
	    fclose(f) != 0 || rename(tmp.data, path.data) < 0) {
		ctl_err("kernelspec: cannot write %s: %s", path.data, strerror(errno));
		f = NULL;
		unlink(tmp.data);
		r = CTL_EXIT_FAILED;
		goto done;
	}
	f = NULL;
	if (o->json) {
		json_t *out = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "target", target,
		                        "display_name", display, "path", path.data);

		ctl_print_json(out);
		json_decref(out);
	} else {
		ctl_print(1, "%s\n", path.data);
		ctl_msg(o, "installed kernel '%s' (\"%s\"): cells run in %s", name, display,
		        target);
	}
	r = CTL_EXIT_OK;
done:
	if (f)
		fclose(f);
	free(target);
	free(display);
	free(name);
	free(text);
	json_decref(spec);
	buf_free(&path);
	buf_free(&tmp);
	return r;
}

/* kernelspec list: hotload's kernelspecs under dir */
static int
kernelspec_list(const struct ctl_opts *o, const struct cmd_args *a, const char *dir)
{
	struct buf kernels = BUF_INIT, path = BUF_INIT;
	json_t *all = json_array();
	struct dirent *de;
	DIR *d;
	size_t i;
	json_t *s;

	if (a->npos > 2) {
		json_decref(all);
		return ctl_usage("kernelspec", "unexpected argument '%s'", a->pos[2]);
	}
	buf_printf(&kernels, "%s/kernels", dir);
	if ((d = opendir(kernels.data))) {
		while ((de = readdir(d))) {
			json_t *spec;

			if (de->d_name[0] == '.')
				continue;
			buf_clear(&path);
			buf_printf(&path, "%s/%s/kernel.json", kernels.data, de->d_name);
			spec = json_load_file(path.data, 0, NULL);
			if (spec && is_ours(spec))
				json_array_append_new(
				        all,
				        json_pack("{s:s, s:s, s:s, s:s}", "name", de->d_name,
				                  "target",
				                  ctl_str(json_object_get(
				                                  json_object_get(spec, "metadata"),
				                                  "hotload"),
				                          "target", "?"),
				                  "display_name", ctl_str(spec, "display_name", ""),
				                  "path", path.data));
			json_decref(spec);
		}
		closedir(d);
	}
	if (o->json) {
		ctl_print_json(all);
	} else {
		json_array_foreach(all, i, s)
		{
			ctl_print(1, "%s\t%s\t%s\n", ctl_str(s, "name", ""),
			          ctl_str(s, "target", ""), ctl_str(s, "display_name", ""));
		}
		if (!json_array_size(all))
			ctl_msg(o, "no hotload kernels in %s", kernels.data);
	}
	json_decref(all);
	buf_free(&kernels);
	buf_free(&path);
	return CTL_EXIT_OK;
}

/* kernelspec remove NAME: only a kernelspec of hotload's */
static int
kernelspec_remove(const struct ctl_opts *o, const struct cmd_args *a, const char *dir)
{
	struct buf path = BUF_INIT;
	json_t *spec = NULL;
	int r = CTL_EXIT_FAILED;
	size_t len;

	if (a->npos != 3)
		return a->npos < 3 ? ctl_usage("kernelspec", "remove needs a NAME")
		                   : ctl_usage("kernelspec", "unexpected argument '%s'", a->pos[3]);
	if (!valid_name(a->pos[2]))
		return ctl_usage("kernelspec", "'%s' is not a kernel name", a->pos[2]);
	buf_printf(&path, "%s/kernels/%s", dir, a->pos[2]);
	len = path.len;
	buf_puts(&path, "/kernel.json");
	spec = json_load_file(path.data, 0, NULL);
	if (!spec) {
		ctl_err("kernelspec: no kernel '%s' in %s/kernels", a->pos[2], dir);
		goto done;
	}
	if (!is_ours(spec)) {
		ctl_err("kernelspec: %s is not a hotload kernel; not removing it", path.data);
		goto done;
	}
	if (unlink(path.data) < 0) {
		ctl_err("kernelspec: cannot remove %s: %s", path.data, strerror(errno));
		goto done;
	}
	path.data[len] = '\0';
	if (rmdir(path.data) < 0)
		ctl_msg(o, "left %s: %s", path.data, strerror(errno));
	ctl_msg(o, "removed kernel '%s'", a->pos[2]);
	r = CTL_EXIT_OK;
done:
	json_decref(spec);
	buf_free(&path);
	return r;
}

/* kernelspec install|list|remove */
int
cmd_kernelspec(const struct ctl_opts *o, const struct cmd_args *a)
{
	const char *sub = a->npos > 1 ? a->pos[1] : NULL;
	char *dir = NULL;
	int r;

	if (!sub)
		return ctl_usage("kernelspec", "give install, list or remove");
	if (strcmp(sub, "install") && strcmp(sub, "list") && strcmp(sub, "remove"))
		return ctl_usage("kernelspec", "unknown subcommand '%s' (install, list, remove)",
		                 sub);
	if (strcmp(sub, "install") &&
	    (a->value[OPT_NAME] || a->value[OPT_DISPLAY_NAME] || a->value[OPT_REPLACE]))
		return ctl_usage("kernelspec",
		                 "--name, --display-name and --replace are for install");
	if ((r = data_dir(a, &dir)))
		return r;
	if (!strcmp(sub, "install"))
		r = kernelspec_install(o, a, dir);
	else if (!strcmp(sub, "list"))
		r = kernelspec_list(o, a, dir);
	else
		r = kernelspec_remove(o, a, dir);
	free(dir);
	return r;
}
