/* hook-set.c - the set of known hooks: loading, override order, lookup, comparison */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "hook-internal.h"
#include "pathsafe.h"
#include "yamlutil.h"

struct hookset {
	struct hook **v; /* in definition order: the last definition is last */
	size_t n;
	char **warnings; /* what was skipped, and why */
	size_t n_warnings;
};

struct hookset *
hookset_new(void)
{
	return xcalloc(1, sizeof(struct hookset));
}

void
hookset_free(struct hookset *hs)
{
	size_t i;

	if (!hs)
		return;
	for (i = 0; i < hs->n; i++)
		hook_free(hs->v[i]);
	for (i = 0; i < hs->n_warnings; i++)
		free(hs->warnings[i]);
	free(hs->warnings);
	free(hs->v);
	free(hs);
}

/* Both NULL, or both strings and equal. */
static int
str_equal(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* NULL-terminated vectors (or NULL) with the same strings in the same order. */
static int
strv_equal(char *const *a, char *const *b)
{
	size_t i;

	if (!a || !b)
		return a == b;
	for (i = 0; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]))
			return 0;
	return !a[i] && !b[i];
}

/* Same aliases, in any order (a hook never lists one twice). */
static int
aliases_equal(const struct hook *a, const struct hook *b)
{
	size_t i, j;

	if (a->n_aliases != b->n_aliases)
		return 0;
	for (i = 0; i < a->n_aliases; i++) {
		for (j = 0; j < b->n_aliases; j++)
			if (!strcmp(a->aliases[i], b->aliases[j]))
				break;
		if (j == b->n_aliases)
			return 0;
	}
	return 1;
}

/* Same hints for this OS and same env, in order (env entries may refer to
 * earlier ones, and the earliest hint wins a version). */
static int
hints_env_equal(const struct hook *a, const struct hook *b)
{
	size_t i;

	if (a->n_hints != b->n_hints || a->n_env != b->n_env)
		return 0;
	for (i = 0; i < a->n_hints; i++) {
		const struct hook_hint *x = &a->hints[i], *y = &b->hints[i];

		if (!str_equal(x->path, y->path) || !str_equal(x->version, y->version) ||
		    !strv_equal(x->version_command, y->version_command) ||
		    !str_equal(x->version_pattern, y->version_pattern))
			return 0;
	}
	for (i = 0; i < a->n_env; i++)
		if (strcmp(a->env[i].key, b->env[i].key) ||
		    strcmp(a->env[i].value, b->env[i].value))
			return 0;
	return 1;
}

int
hook_equal(const struct hook *a, const struct hook *b)
{
	if (!a || !b)
		return a == b;
	/* Seconds come from the same parser, so equal text is equal bits. */
	return str_equal(a->name, b->name) && aliases_equal(a, b) &&
	       str_equal(a->default_version, b->default_version) && hints_env_equal(a, b) &&
	       strv_equal(a->argv, b->argv) && strv_equal(a->launcher, b->launcher) &&
	       a->startup_timeout == b->startup_timeout && a->idle_timeout == b->idle_timeout &&
	       a->request_timeout == b->request_timeout && a->max_workers == b->max_workers &&
	       a->min_workers == b->min_workers && a->max_queue == b->max_queue &&
	       a->spawn_fork == b->spawn_fork && str_equal(a->initialize, b->initialize) &&
	       str_equal(a->uninitialize, b->uninitialize) &&
	       str_equal(a->namespace_code, b->namespace_code) &&
	       str_equal(a->before_reload, b->before_reload) &&
	       str_equal(a->after_reload, b->after_reload) && strv_equal(a->watch, b->watch) &&
	       a->watch_poll == b->watch_poll && a->reload_purge == b->reload_purge &&
	       a->reload_recycle == b->reload_recycle && a->recycle_after == b->recycle_after &&
	       a->max_rss == b->max_rss && str_equal(a->hook_class, b->hook_class) &&
	       strv_equal(a->python_path, b->python_path);
}

/* Whether h answers to name s (by name or alias). */
static int
hook_matches(const struct hook *h, const char *s)
{
	size_t i;

	if (!strcmp(h->name, s))
		return 1;
	for (i = 0; i < h->n_aliases; i++)
		if (!strcmp(h->aliases[i], s))
			return 1;
	return 0;
}

/* Take away alias s from h, if it has it. */
static void
hook_drop_alias(struct hook *h, const char *s)
{
	size_t i;

	for (i = 0; i < h->n_aliases; i++) {
		if (strcmp(h->aliases[i], s))
			continue;
		free(h->aliases[i]);
		memmove(&h->aliases[i], &h->aliases[i + 1],
		        (h->n_aliases - i) * sizeof(char *)); /* moves the NULL too */
		h->n_aliases--;
		return;
	}
}

static void hookset_warn(struct hookset *hs, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Add h (takes ownership): it replaces a hook of the same name, takes any
 * alias it shares with an earlier hook, and goes last, so that lookups,
 * which search from the end, find it before anything it shadows. */
static void
hookset_add(struct hookset *hs, struct hook *h)
{
	size_t i, j;

	for (i = 0; i < hs->n;) {
		int alias = 0;

		for (j = 0; j < h->n_aliases && !alias; j++)
			alias = !strcmp(hs->v[i]->name, h->aliases[j]);
		if (strcmp(hs->v[i]->name, h->name) && !alias) {
			i++;
			continue;
		}
		/* An alias that is an earlier hook's name takes that name: the
		 * earlier hook could no longer be reached, and would be listed
		 * and started (min_workers) under a name that leads elsewhere. */
		if (alias)
			hookset_warn(hs,
			             "%s: alias '%s' takes the name of the hook from %s, which is "
			             "dropped",
			             h->source ? h->source : h->name, hs->v[i]->name,
			             hs->v[i]->source ? hs->v[i]->source : "earlier");
		hook_free(hs->v[i]);
		memmove(&hs->v[i], &hs->v[i + 1], (hs->n - i - 1) * sizeof(*hs->v));
		hs->n--;
	}
	for (i = 0; i < hs->n; i++) {
		hook_drop_alias(hs->v[i], h->name);
		for (j = 0; j < h->n_aliases; j++)
			hook_drop_alias(hs->v[i], h->aliases[j]);
	}
	hs->v = xrealloc(hs->v, (hs->n + 1) * sizeof(*hs->v));
	hs->v[hs->n++] = h;
}

/* Parse a loaded document and add the hook. */
static int
hookset_add_doc(struct hookset *hs, struct yamlutil_doc *d, const char *base)
{
	struct hook *h;
	int r;

	r = hook_parse(d, yamlutil_root(d), base, &h);
	if (r < 0)
		return r;
	hookset_add(hs, h);
	return 0;
}

/* Note something skipped while loading. */
static void hookset_warn(struct hookset *hs, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
hookset_warn(struct hookset *hs, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	hs->warnings = xrealloc(hs->warnings, (hs->n_warnings + 1) * sizeof(char *));
	hs->warnings[hs->n_warnings++] = xstrdup(line);
}

size_t
hookset_warning_count(const struct hookset *hs)
{
	return hs->n_warnings;
}

const char *
hookset_warning_at(const struct hookset *hs, size_t i)
{
	return i < hs->n_warnings ? hs->warnings[i] : NULL;
}

/* A directory a worker imports from must be one only we and root can
 * change; one that does not exist yet must not be one others can make:
 * then its nearest existing parent is held to the same rule. */
static int
check_import_dir(const char *dir, char *err, size_t errlen)
{
	char *p = xstrdup(dir), *slash;
	int r;

	while ((r = pathsafe_trusted(p, geteuid(), err, errlen)) == -ENOENT &&
	       (slash = strrchr(p, '/')) && slash != p)
		*slash = '\0';
	free(p);
	return r == -ENOENT ? 0 : r;
}

/* Hook files decide what gets executed, and their python_path what the
 * worker imports: only we (or root) may be able to change either. */
static int
check_hook_safe(const struct hook *h, char *err, size_t errlen)
{
	size_t i, n;
	int r;

	for (i = 0; i < h->n_python_path; i++) {
		r = check_import_dir(h->python_path[i], err, errlen);
		if (r < 0) {
			n = strlen(err);
			snprintf(err + n, errlen - n, " (python_path of hook %s)", h->name);
			return r;
		}
	}
	return 0;
}

int
hookset_load_file(struct hookset *hs, const char *path, char *err, size_t errlen)
{
	struct yamlutil_doc d;
	struct hook *h;
	struct stat st;
	char *base;
	int r;

	r = pathsafe_trusted(path, geteuid(), err, errlen);
	if (r < 0)
		return r;
	r = yamlutil_load_file(&d, path, &st, err, errlen);
	if (r < 0)
		return r;
	base = hook_base_dir(path, 1);
	r = hook_parse(&d, yamlutil_root(&d), base, &h);
	if (r >= 0 && (r = check_hook_safe(h, err, errlen)) < 0)
		hook_free(h);
	else if (r >= 0)
		hookset_add(hs, h);
	free(base);
	yamlutil_done(&d);
	return r;
}

int
hookset_load_string(struct hookset *hs, const char *name, const char *yaml, char *err,
                    size_t errlen)
{
	struct yamlutil_doc d;
	char *base;
	int r;

	r = yamlutil_load_string(&d, name, yaml, strlen(yaml), err, errlen);
	if (r < 0)
		return r;
	base = hook_base_dir(name, 0);
	r = hookset_add_doc(hs, &d, base);
	free(base);
	yamlutil_done(&d);
	return r;
}

/* qsort comparator for strings. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
hookset_load_dir(struct hookset *hs, const char *dir, char *err, size_t errlen)
{
	struct buf path = BUF_INIT;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	DIR *dp;
	int r = 0;

	/* Hook files can be put into it, and a worker imports from it. */
	r = pathsafe_trusted(dir, geteuid(), err, errlen);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0) {
		hookset_warn(hs, "%s; ignoring the hooks in %s", err, dir);
		return 0;
	}
	dp = opendir(dir);
	if (!dp) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		hookset_warn(hs, "%s: %s; ignoring the hooks in it", dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(dp))) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' || !((len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) ||
		                             (len > 4 && !strcmp(e->d_name + len - 4, ".yml"))))
			continue;
		names = xrealloc(names, (n + 2) * sizeof(char *));
		names[n++] = xstrdup(e->d_name);
		names[n] = NULL;
	}
	if (n)
		qsort(names, n, sizeof(char *), cmp_str);
	for (i = 0; i < n && r >= 0; i++) {
		buf_clear(&path);
		buf_printf(&path, "%s/%s", dir, names[i]);
		r = hookset_load_file(hs, path.data, err, errlen);
		/* Someone else's file, or one we may not read, in a directory
		 * we share: not ours to load, and not a reason to stop. */
		if (r == -EPERM || r == -EACCES || r == -ENOENT) {
			hookset_warn(hs, "%s; ignoring it", err);
			r = 0;
		}
	}
	hook_strv_free(names);
	buf_free(&path);
	closedir(dp);
	return r;
}

const struct hook *
hookset_find(const struct hookset *hs, const char *name)
{
	size_t i;

	for (i = hs->n; i-- > 0;)
		if (hook_matches(hs->v[i], name))
			return hs->v[i];
	return NULL;
}

size_t
hookset_count(const struct hookset *hs)
{
	return hs->n;
}

const struct hook *
hookset_at(const struct hookset *hs, size_t i)
{
	return i < hs->n ? hs->v[i] : NULL;
}
