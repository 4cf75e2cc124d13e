/* hook-resolve.c - find installed interpreters through a hook's hints */
#include <errno.h>
#include <glob.h>
#include <pwd.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "hook.h"
#include "probe.h"
#include "version.h"

#define GLOB_SPECIAL "*?[]\\"

#ifdef __APPLE__
#define st_mtim st_mtimespec
#endif

/* What version_command said about one executable, kept for the life of
 * the process (or until hook_version_cache_clear): starting a DCC just to
 * ask its version is slow, and it only changes when the file does. */
struct version_cache_entry {
	char *key; /* path, command and pattern */
	struct timespec mtime;
	ino_t ino;
	char *version; /* NULL: the command gave none */
};

/* Global (see log.c): versions belong to executable files, not to a
 * hookset or a server; hook_version_cache_clear() empties it. */
static struct version_cache_entry *version_cache;
static size_t n_version_cache;

/* Installs found so far, one per version, in the order found; and the
 * executables whose version is still being probed. */
struct found {
	struct hook_install *v;
	size_t n;
	struct probes *pr; /* where version_command runs */
	size_t pending;    /* executables it runs for now */
};

void
hook_version_cache_clear(void)
{
	size_t i;

	for (i = 0; i < n_version_cache; i++) {
		free(version_cache[i].key);
		free(version_cache[i].version);
	}
	free(version_cache);
	version_cache = NULL;
	n_version_cache = 0;
}

/* Digits and dots, starting and ending with a digit, no empty part. */
static int
version_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9') && !(s[i] == '.' && s[i + 1] != '.'))
			return 0;
	return 1;
}

void
hook_installs_free(struct hook_install *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].version);
		free(v[i].path);
	}
	free(v);
}

/* Record an install unless that version was found already. */
static void
found_add(struct found *f, const char *version, const char *path)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (version_cmp(f->v[i].version, version) == 0)
			return;
	f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
	f->v[f->n].version = xstrdup(version);
	f->v[f->n].path = xstrdup(path);
	f->n++;
}

/* The ':' ending the $PATH entry at p, or its terminating NUL. */
static const char *
path_entry_end(const char *p)
{
	const char *colon = strchr(p, ':');

	return colon ? colon : p + strlen(p);
}

/* Append s to the glob pattern with its glob characters escaped. */
static void
glob_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr(GLOB_SPECIAL, *s))
			buf_append(b, "\\", 1);
		buf_append(b, s, 1);
	}
}

/* Expand "~/" and $VAR / ${VAR} of a hint into a glob pattern (pat) and
 * the same text unescaped (shown). Returns -ENOENT when a variable is
 * unset or empty, with its name in ret_var. */
static int
expand_hint(const char *s, struct buf *pat, struct buf *shown, char **ret_var)
{
	const char *v;
	size_t n;

	if (s[0] == '~' && s[1] == '/') {
		struct passwd *pw;

		v = getenv("HOME");
		if ((!v || !*v) && (pw = getpwuid(getuid())))
			v = pw->pw_dir;
		if (!v || !*v) {
			*ret_var = xstrdup("HOME");
			return -ENOENT;
		}
		glob_escape(pat, v);
		buf_puts(shown, v);
		s++;
	}
	while (*s) {
		int braced = s[0] == '$' && s[1] == '{';
		const char *name = s + 1 + braced;

		for (n = 0; *s == '$' && (name[n] == '_' || (name[n] >= 'A' && name[n] <= 'Z') ||
		                          (name[n] >= 'a' && name[n] <= 'z') ||
		                          (n && name[n] >= '0' && name[n] <= '9'));
		     n++)
			;
		if (!n || (braced && name[n] != '}')) {
			buf_append(pat, s, 1);
			buf_append(shown, s++, 1);
			continue;
		}
		*ret_var = xstrndup(name, n);
		v = getenv(*ret_var);
		if (!v || !*v)
			return -ENOENT;
		free(*ret_var);
		*ret_var = NULL;
		glob_escape(pat, v);
		buf_puts(shown, v);
		s = name + n + braced;
	}
	return 0;
}

/* Append c to an ERE as a literal. */
static void
re_literal(struct buf *b, char c)
{
	if (strchr(".[]()*+?{}|^$\\", c))
		buf_append(b, "\\", 1);
	buf_append(b, &c, 1);
}

/* An anchored ERE matching what the glob pattern matches, with one group
 * per {version}; returns the group count. */
static size_t
glob_to_regex(const char *p, struct buf *re)
{
	size_t groups = 0, j;

	buf_puts(re, "^");
	while (*p) {
		if (!strncmp(p, "{version}", 9)) {
			buf_puts(re, "([0-9.]+)");
			groups++;
			p += 9;
		} else if (*p == '\\' && p[1]) {
			re_literal(re, p[1]);
			p += 2;
		} else if (*p == '*' || *p == '?') {
			buf_puts(re, *p == '*' ? "[^/]*" : "[^/]");
			p++;
		} else if (*p == '[') {
			j = 1 + (p[1] == '!' || p[1] == '^');
			j += p[j] == ']';
			while (p[j] && p[j] != ']')
				j++;
			if (!p[j]) {
				re_literal(re, *p++);
				continue;
			}
			buf_puts(re, "[");
			if (p[1] == '!' || p[1] == '^')
				buf_puts(re, "^");
			for (p += 1 + (p[1] == '!' || p[1] == '^'), j = 0; p[0] != ']' || !j;
			     p++, j++)
				if (*p != '\\')
					buf_append(re, p, 1);
			buf_puts(re, "]");
			p++;
		} else {
			re_literal(re, *p++);
		}
	}
	buf_puts(re, "$");
	return groups;
}

/* Forget the answer for key, or give it: replace its entry, or add one. */
static void
version_cache_store(const char *key, ino_t ino, struct timespec mtime, char *version)
{
	struct version_cache_entry *e;
	size_t i;

	for (i = 0; i < n_version_cache; i++)
		if (!strcmp(version_cache[i].key, key))
			break;
	if (i == n_version_cache) {
		version_cache = xrealloc(version_cache, (i + 1) * sizeof(*version_cache));
		n_version_cache++;
		version_cache[i].key = xstrdup(key);
		version_cache[i].version = NULL;
	}
	e = &version_cache[i];
	free(e->version);
	e->version = version; /* takes ownership */
	e->ino = ino;
	e->mtime = mtime;
}

/* What a running probe will tell the cache. */
struct version_probe {
	char *key;
	char *pattern;
	ino_t ino;
	struct timespec mtime; /* of the executable when the probe started */
};

/* A version_command ended: group 1 of the pattern in its output, if it
 * exited 0, is the version (none otherwise, also after a timeout). A probe
 * stopped by the daemon's shutdown says nothing. */
static void
on_version_probed(int result, const struct buf *out, void *data)
{
	struct version_probe *vp = data;
	char *version = NULL;
	regmatch_t m[2];
	regex_t re;

	if (result == -ECANCELED)
		goto out;
	if (result != 0 || !out->data)
		goto store;
	/* REG_NEWLINE: ^ and $ work per line of the output. */
	if (regcomp(&re, vp->pattern, REG_EXTENDED | REG_NEWLINE) != 0)
		goto store;
	if (regexec(&re, out->data, 2, m, 0) == 0 && m[1].rm_so >= 0 &&
	    version_valid(out->data + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so)))
		version = xstrndup(out->data + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
	regfree(&re);
store:
	version_cache_store(vp->key, vp->ino, vp->mtime, version);
out:
	free(vp->key);
	free(vp->pattern);
	free(vp);
}

/* Ask the interpreter at path for its version, through the cache: 0 with
 * the version in *ret_version (NULL: the command gave none), or
 * -EINPROGRESS while its probe runs (started here when it does not). */
static int
command_version(const struct hook_hint *t, const char *path, const struct stat *st,
                struct probes *pr, const char **ret_version)
{
	struct version_cache_entry *e;
	struct version_probe *vp;
	struct buf key = BUF_INIT;
	char **argv;
	size_t i, n, k;
	int r;

	buf_printf(&key, "%s\n%s\n", path, t->version_pattern);
	for (n = 0; t->version_command[n]; n++)
		buf_printf(&key, "%s\037", t->version_command[n]);
	for (i = 0; i < n_version_cache; i++) {
		e = &version_cache[i];
		if (strcmp(e->key, key.data))
			continue;
		if (e->ino == st->st_ino && e->mtime.tv_sec == st->st_mtim.tv_sec &&
		    e->mtime.tv_nsec == st->st_mtim.tv_nsec) {
			buf_free(&key);
			*ret_version = e->version;
			return 0;
		}
		break;
	}
	if (!pr || probes_running(pr, key.data)) {
		buf_free(&key);
		return -EINPROGRESS;
	}

	/* {executable} in any argument becomes the path. */
	argv = xcalloc(n + 1, sizeof(char *));
	for (k = 0; k < n; k++) {
		struct buf a = BUF_INIT;
		const char *s = t->version_command[k], *hit;

		buf_puts(&a, "");
		while ((hit = strstr(s, "{executable}"))) {
			buf_append(&a, s, (size_t)(hit - s));
			buf_puts(&a, path);
			s = hit + strlen("{executable}");
		}
		buf_puts(&a, s);
		argv[k] = buf_steal(&a);
	}
	vp = xcalloc(1, sizeof(*vp));
	vp->key = xstrdup(key.data);
	vp->pattern = xstrdup(t->version_pattern);
	vp->ino = st->st_ino;
	vp->mtime = st->st_mtim;
	r = probes_start(pr, key.data, argv, on_version_probed, vp);
	hook_strv_free(argv);
	if (r < 0) {
		free(vp->key);
		free(vp->pattern);
		free(vp);
	}
	/* A command that cannot be started gives no version, until the file
	 * changes; after the shutdown began nobody will answer. */
	if (r < 0 && r != -ESHUTDOWN) {
		version_cache_store(key.data, st->st_ino, st->st_mtim, NULL);
		buf_free(&key);
		*ret_version = NULL;
		return 0;
	}
	buf_free(&key);
	return -EINPROGRESS;
}

/* Glob one expanded pattern and record each executable it finds. */
static void
search_pattern(const struct hook_hint *t, const char *pat, struct found *f)
{
	struct buf g = BUF_INIT, re_src = BUF_INIT;
	regmatch_t m[16];
	const char *p, *version;
	size_t groups, i, k;
	struct stat st;
	regex_t re;
	glob_t gl;

	for (p = pat; *p; p++) {
		if (!strncmp(p, "{version}", 9)) {
			buf_puts(&g, "*");
			p += 8;
		} else {
			buf_append(&g, p, 1);
		}
	}
	groups = glob_to_regex(pat, &re_src);
	if (groups >= 16 || regcomp(&re, re_src.data, REG_EXTENDED) != 0)
		goto out;
	if (glob(g.data, 0, NULL, &gl) != 0)
		goto out_re;
	for (i = 0; i < gl.gl_pathc; i++) {
		const char *path = gl.gl_pathv[i];
		char *v = NULL;

		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
			continue;
		if (groups) {
			if (regexec(&re, path, groups + 1, m, 0) != 0)
				continue;
			/* Every {version} must have matched one and the same version. */
			for (k = 1; k <= groups; k++) {
				size_t len = (size_t)(m[k].rm_eo - m[k].rm_so);

				if (!version_valid(path + m[k].rm_so, len) ||
				    (v && (strlen(v) != len || strncmp(v, path + m[k].rm_so, len))))
					break;
				if (!v)
					v = xstrndup(path + m[k].rm_so, len);
			}
			if (k <= groups) {
				free(v);
				continue;
			}
			found_add(f, v, path);
			free(v);
			continue;
		}
		version = t->version;
		if (!version && command_version(t, path, &st, f->pr, &version) < 0) {
			f->pending++;
			continue;
		}
		if (version)
			found_add(f, version, path);
	}
	globfree(&gl);
out_re:
	regfree(&re);
out:
	buf_free(&g);
	buf_free(&re_src);
}

/* Note a pattern tried, as a user would look for it: {version} as the
 * version asked for and a *, or * for any, and each place once (a directory twice
 * on PATH is searched once). */
static void
searched_add(struct buf *searched, const char *prefix, const char *shown, const char *want)
{
	struct buf line = BUF_INIT;
	const char *p, *v, *hit;
	int dup = 0;

	buf_puts(&line, prefix);
	for (p = shown; (v = strstr(p, "{version}")); p = v + 9) {
		buf_append(&line, p, (size_t)(v - p));
		/* the version asked for, or one of its builds (20.5: 20.5.332) */
		if (want && *want)
			buf_puts(&line, want);
		buf_puts(&line, "*");
	}
	buf_puts(&line, p);
	buf_puts(&line, "\n");
	/* the same line already there: at the start, or after a newline */
	for (hit = searched->data; hit && !dup; hit++) {
		hit = memmem(hit, searched->len - (size_t)(hit - searched->data), line.data,
		             line.len);
		if (!hit)
			break;
		dup = hit == searched->data || hit[-1] == '\n';
	}
	if (!dup)
		buf_append(searched, line.data, line.len);
	buf_free(&line);
}

/* Search one hint: under $HOTLOAD_HINT_ROOT when absolute, in each $PATH
 * directory when it has no '/'. Each pattern tried goes to searched. */
static void
search_hint(const struct hook_hint *t, struct found *f, struct buf *searched, const char *want)
{
	struct buf pat = BUF_INIT, shown = BUF_INIT, full = BUF_INIT;
	const char *root = getenv("HOTLOAD_HINT_ROOT"), *path, *p, *colon;
	char *var = NULL;
	size_t rlen;

	if (expand_hint(t->path, &pat, &shown, &var) < 0) {
		buf_printf(&full, "%s (skipped: $%s is not set)", t->path, var);
		searched_add(searched, "", full.data, want);
		goto out;
	}
	if (!strchr(shown.data, '/')) {
		path = getenv("PATH");
		for (p = path ? path : ""; *p; p = *colon ? colon + 1 : colon) {
			colon = path_entry_end(p);
			if (colon == p)
				continue;
			buf_clear(&full);
			buf_printf(&full, "%.*s/", (int)(colon - p), p);
			searched_add(searched, full.data, shown.data, want);
			buf_clear(&full);
			buf_puts(&full, "");
			for (; p < colon; p++) {
				if (strchr(GLOB_SPECIAL, *p))
					buf_append(&full, "\\", 1);
				buf_append(&full, p, 1);
			}
			buf_printf(&full, "/%s", pat.data);
			search_pattern(t, full.data, f);
			p = colon;
		}
		goto out;
	}
	buf_puts(&full, "");
	if (root && *root && shown.data[0] == '/') {
		struct buf prefix = BUF_INIT;

		for (rlen = strlen(root); rlen > 1 && root[rlen - 1] == '/'; rlen--)
			;
		buf_printf(&prefix, "%.*s", (int)rlen, root);
		searched_add(searched, prefix.data, shown.data, want);
		buf_free(&prefix);
		for (p = root; p < root + rlen; p++) {
			if (strchr(GLOB_SPECIAL, *p))
				buf_append(&full, "\\", 1);
			buf_append(&full, p, 1);
		}
	} else
		searched_add(searched, "", shown.data, want);
	buf_puts(&full, pat.data);
	search_pattern(t, full.data, f);
out:
	free(var);
	buf_free(&pat);
	buf_free(&shown);
	buf_free(&full);
}

/* qsort: newest version first. */
static int
cmp_install_desc(const void *a, const void *b)
{
	return version_cmp(((const struct hook_install *)b)->version,
	                   ((const struct hook_install *)a)->version);
}

/* Every install of h, newest first; the patterns tried go to searched. */
static void
find_installs(const struct hook *h, struct found *f, struct buf *searched, const char *want)
{
	size_t i;

	for (i = 0; i < h->n_hints; i++)
		search_hint(&h->hints[i], f, searched, want);
	if (f->n > 1)
		qsort(f->v, f->n, sizeof(*f->v), cmp_install_desc);
}

int
hook_find_installs(const struct hook *h, struct probes *pr, struct hook_install **ret,
                   size_t *ret_n)
{
	struct found f = {NULL, 0, pr, 0};
	struct buf searched = BUF_INIT;

	find_installs(h, &f, &searched, NULL);
	buf_free(&searched);
	if (f.pending) {
		hook_installs_free(f.v, f.n);
		return -EINPROGRESS;
	}
	*ret = f.v;
	*ret_n = f.n;
	return (int)f.n;
}

int
hook_resolve(const struct hook *h, const char *version, struct probes *pr, char **ret_path,
             char **ret_version, struct buf *searched)
{
	struct buf tried = BUF_INIT;
	struct found f = {NULL, 0, pr, 0};
	const struct hook_install *pick = NULL;
	const char *want = version && *version ? version : h->default_version;
	size_t i;
	int r = -ENOENT;

	find_installs(h, &f, &tried, want);
	/* Any executable may be the pick (or win a tie) once its version is
	 * known: no answer until every one is. */
	if (f.pending) {
		r = -EINPROGRESS;
		goto out;
	}
	if (!want && f.n)
		pick = &f.v[0];
	for (i = 0; want && !pick && i < f.n; i++)
		if (!strcmp(f.v[i].version, want))
			pick = &f.v[i];
	for (i = 0; want && !pick && i < f.n; i++)
		if (version_match(f.v[i].version, want))
			pick = &f.v[i]; /* newest first, so the first is the newest */
	if (!pick) {
		if (searched && tried.data)
			buf_append(searched, tried.data, tried.len);
		goto out;
	}
	if (ret_path)
		*ret_path = xstrdup(pick->path);
	if (ret_version)
		*ret_version = xstrdup(pick->version);
	r = 0;
out:
	buf_free(&tried);
	hook_installs_free(f.v, f.n);
	return r;
}
