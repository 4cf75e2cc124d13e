/* hook.c - hook files: parsing one into a struct hook, and freeing it */
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "header.h"
#include "hook-internal.h"
#include "proto.h"
#include "yamlutil.h"

#define VAR_NAME_RE "[A-Za-z_][A-Za-z0-9_]*"
#define DOTTED_RE "[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*"
#define HOOK_DEFAULT_VERSION_PATTERN "([0-9]+(\\.[0-9]+)*)"

#if defined(__APPLE__)
#define HOOK_OS "macos"
#elif defined(_WIN32)
#define HOOK_OS "windows"
#else
#define HOOK_OS "linux"
#endif

static const char *const hook_keys[] = {
        "name",
        "aliases",
        "description",
        "default_version",
        "hints",
        "argv",
        "launcher",
        "env",
        "startup_timeout",
        "idle_timeout",
        "max_workers",
        "min_workers",
        "max_queue",
        "request_timeout",
        "spawn",
        "initialize",
        "uninitialize",
        "namespace",
        "hook_class",
        "python_path",
        "watch",
        "watch_mode",
        "reload_strategy",
        "reload_fallback",
        "before_reload",
        "after_reload",
        "recycle_after",
        "max_rss",
        NULL,
};
static const char *const hints_keys[] = {"linux", "macos", "windows", NULL};
static const char *const hint_keys[] = {"path", "version", "version_command", "version_pattern",
                                        NULL};

void
hook_strv_free(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Free one hint's members. */
static void
hint_clear(struct hook_hint *t)
{
	free(t->path);
	free(t->version);
	hook_strv_free(t->version_command);
	free(t->version_pattern);
}

/* Free a hook and everything it owns; accepts a half-built one. A new
 * member goes here and, if it changes how workers start, in hook_equal(). */
void
hook_free(struct hook *h)
{
	size_t i;

	if (!h)
		return;
	free(h->name);
	hook_strv_free(h->aliases);
	free(h->description);
	free(h->default_version);
	for (i = 0; i < h->n_hints; i++)
		hint_clear(&h->hints[i]);
	free(h->hints);
	hook_strv_free(h->argv);
	hook_strv_free(h->launcher);
	for (i = 0; i < h->n_env; i++) {
		free(h->env[i].key);
		free(h->env[i].value);
	}
	free(h->env);
	free(h->initialize);
	free(h->uninitialize);
	free(h->namespace_code);
	free(h->before_reload);
	free(h->after_reload);
	hook_strv_free(h->watch);
	free(h->hook_class);
	hook_strv_free(h->python_path);
	free(h->source);
	free(h);
}

/* Whether all of s matches the POSIX ERE re (a constant of this file). */
static int
matches(const char *re, const char *s)
{
	regex_t r;
	int ok;

	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

/* Letters, digits and . _ - + (the header's rules), 1 to 63 bytes. */
static int
valid_name(const char *s)
{
	return strlen(s) < HEADER_NAME_MAX && matches("^[A-Za-z0-9._+-]+$", s);
}

/* A DCC name or alias: a valid name, and not the reserved one. */
static int
check_dcc_name(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, const char *s)
{
	if (!valid_name(s))
		return yamlutil_fail(d, n,
		                     "%s: expected a name of letters, digits and . _ - + "
		                     "(at most %d bytes), got '%s'",
		                     what, HEADER_NAME_MAX - 1, s);
	if (!strcmp(s, HOTLOAD_CONTROL_TARGET))
		return yamlutil_fail(d, n, "%s: '%s' is reserved for the daemon itself", what, s);
	return 0;
}

#define PATTERN_LEN_MAX 256
#define PATTERN_COPIES_MAX 4096.0

/* How many copies of its atoms glibc's regcomp makes of ERE s, or more:
 * every repetition is compiled by copying what it repeats ("a+" is "aa*",
 * "a{3}" is "aaa"), so stacked and nested repetitions grow exponentially
 * ("([0-9]+++...)" with 20 '+' takes a gigabyte). Stops counting past
 * PATTERN_COPIES_MAX. */
static double
pattern_copies(const char *s)
{
	double outer[32], total = 0, atom = 0;
	size_t depth = 0;
	const char *p;

	for (p = s; *p && total <= PATTERN_COPIES_MAX; p++) {
		switch (*p) {
		case '(':
			if (depth == sizeof(outer) / sizeof(outer[0]))
				return PATTERN_COPIES_MAX + 1;
			outer[depth++] = total;
			total = atom = 0;
			break;
		case ')':
			if (depth) {
				atom = total;
				total = outer[--depth] + atom;
				break;
			}
			atom = 1;
			total += 1;
			break;
		case '*':
		case '+':
		case '?':
			total += atom;
			atom *= 2;
			break;
		case '{': {
			char *end;
			double n = strtod(p + 1, &end);

			if (end == p + 1)
				n = 1;
			if (*end == ',')
				n = strtod(end + 1, &end) > n ? strtod(end + 1, NULL) : n + 1;
			total += atom * n;
			atom *= n + 1;
			while (*p && *p != '}')
				p++;
			if (!*p)
				return total;
			break;
		}
		case '[':
			/* a bracket expression is one atom, whatever it holds */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p++;
			if (!*p)
				return total + 1;
			atom = 1;
			total += 1;
			break;
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
			atom = 1;
			total += 1;
		}
	}
	return total;
}

/* One hint entry: "path" or {path, version, version_command, version_pattern}. */
static int
parse_hint(struct yamlutil_doc *d, const yaml_node_t *n, const char *what, struct hook_hint *t)
{
	const yaml_node_t *v, *where = n;
	char key[96];
	size_t count;
	regex_t re;
	int r;

	if (n->type == YAML_SCALAR_NODE) {
		r = yamlutil_string(d, n, what, 0, &t->path);
		if (r < 0)
			return r;
	} else {
		r = yamlutil_check_map(d, n, what, hint_keys);
		if (r < 0)
			return r;
		snprintf(key, sizeof(key), "%s.path", what);
		v = yamlutil_get(d, n, "path");
		if (!v)
			return yamlutil_fail(d, n, "%s: missing key 'path'", what);
		if ((r = yamlutil_string(d, v, key, 0, &t->path)) < 0)
			return r;
		where = v;
		snprintf(key, sizeof(key), "%s.version", what);
		v = yamlutil_get(d, n, "version");
		if (v && (r = yamlutil_string(d, v, key, 0, &t->version)) < 0)
			return r;
		if (t->version && !valid_name(t->version))
			return yamlutil_fail(d, v,
			                     "%s: expected a version like 2024 or 20.5.332, "
			                     "got '%s'",
			                     key, t->version);
		snprintf(key, sizeof(key), "%s.version_command", what);
		v = yamlutil_get(d, n, "version_command");
		if (v && (r = yamlutil_strv(d, v, key, &t->version_command, &count)) < 0)
			return r;
		if (v && count == 0)
			return yamlutil_fail(d, v, "%s: expected a command, got an empty list",
			                     key);
		snprintf(key, sizeof(key), "%s.version_pattern", what);
		v = yamlutil_get(d, n, "version_pattern");
		if (v && (r = yamlutil_string(d, v, key, 0, &t->version_pattern)) < 0)
			return r;
		if (v && !t->version_command)
			return yamlutil_fail(d, v, "%s: needs a version_command to match", key);
		if (t->version && t->version_command)
			return yamlutil_fail(d, n,
			                     "%s: give either version or version_command, "
			                     "not both",
			                     what);
	}
	if (!*t->path)
		return yamlutil_fail(d, where, "%s: expected a path, got ''", what);
	if (strstr(t->path, "{version}") && (t->version || t->version_command))
		return yamlutil_fail(d, n,
		                     "%s: a path with {version} takes the version from the "
		                     "path; drop version / version_command",
		                     what);
	if (!strstr(t->path, "{version}") && !t->version && !t->version_command)
		return yamlutil_fail(d, where,
		                     "%s: the path has no {version}: add version or "
		                     "version_command",
		                     what);
	if (t->version_command && !t->version_pattern)
		t->version_pattern = xstrdup(HOOK_DEFAULT_VERSION_PATTERN);
	if (t->version_pattern) {
		v = yamlutil_get(d, n, "version_pattern");
		/* Checked before regcomp sees it: one line of a hook file must not
		 * be able to take the daemon's memory (at start or a reload). */
		if (strlen(t->version_pattern) > PATTERN_LEN_MAX ||
		    pattern_copies(t->version_pattern) > PATTERN_COPIES_MAX)
			return yamlutil_fail(
			        d, v,
			        "%s.version_pattern: too complex (at most %d bytes, and "
			        "no stacked or deeply nested repetitions such as "
			        "'a+++' or '((a{9}){9}){9}')",
			        what, PATTERN_LEN_MAX);
		if (regcomp(&re, t->version_pattern, REG_EXTENDED) != 0)
			return yamlutil_fail(d, v,
			                     "%s.version_pattern: not a valid POSIX extended "
			                     "regular expression",
			                     what);
		count = re.re_nsub;
		regfree(&re);
		if (count < 1)
			return yamlutil_fail(d, v,
			                     "%s.version_pattern: needs a (group) around "
			                     "the version",
			                     what);
	}
	return 0;
}

/* hints: {linux: [...], macos: [...], windows: [...]}; keeps this OS's. */
static int
parse_hints(struct yamlutil_doc *d, const yaml_node_t *n, struct hook *h)
{
	yaml_node_item_t *it;
	size_t i, j, count;
	char what[64], tmp[64];
	int r;

	r = yamlutil_check_map(d, n, "hints", hints_keys);
	if (r < 0)
		return r;
	for (i = 0; hints_keys[i]; i++) {
		const yaml_node_t *list = yamlutil_get(d, n, hints_keys[i]);
		struct hook_hint *v;

		if (!list || yamlutil_is_null(list))
			continue;
		if (list->type != YAML_SEQUENCE_NODE)
			return yamlutil_fail(d, list, "hints.%s: expected a list of paths, got %s",
			                     hints_keys[i],
			                     yamlutil_describe(list, tmp, sizeof(tmp)));
		count = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
		v = xcalloc(count + 1, sizeof(*v));
		for (it = list->data.sequence.items.start, j = 0; j < count; it++, j++) {
			snprintf(what, sizeof(what), "hints.%s[%zu]", hints_keys[i], j);
			r = parse_hint(d, yamlutil_node(d, *it), what, &v[j]);
			if (r < 0)
				break;
		}
		if (r >= 0 && !strcmp(hints_keys[i], HOOK_OS)) {
			h->hints = v;
			h->n_hints = count;
			continue;
		}
		for (j = 0; j < count; j++)
			hint_clear(&v[j]);
		free(v);
		if (r < 0)
			return r;
	}
	return 0;
}

/* env: {KEY: value}, in file order. */
static int
parse_env(struct yamlutil_doc *d, const yaml_node_t *n, struct hook *h)
{
	yaml_node_pair_t *p;
	size_t i = 0, count;
	char what[96], *key;
	int r;

	r = yamlutil_check_map(d, n, "env", NULL);
	if (r < 0)
		return r;
	count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	h->env = xcalloc(count + 1, sizeof(*h->env));
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++, i++) {
		const yaml_node_t *kn = yamlutil_node(d, p->key), *vn = yamlutil_node(d, p->value);

		key = (char *)kn->data.scalar.value;
		if (!matches("^" VAR_NAME_RE "$", key))
			return yamlutil_fail(d, kn,
			                     "env: expected a variable name of letters, "
			                     "digits and _, got '%s'",
			                     key);
		snprintf(what, sizeof(what), "env.%s", key);
		r = yamlutil_string(d, vn, what, 1, &h->env[i].value);
		if (r < 0)
			return r;
		if (!h->env[i].value)
			h->env[i].value = xstrdup("");
		h->env[i].key = xstrdup(key);
		h->n_env = i + 1;
	}
	return 0;
}

/* A list of directories: ~/ expanded, relative entries relative to base
 * (the hook file's directory). */
static int
parse_dir_list(struct yamlutil_doc *d, const yaml_node_t *n, const char *key, const char *base,
               char ***ret, size_t *ret_n)
{
	size_t i;
	int r;

	r = yamlutil_strv(d, n, key, ret, ret_n);
	if (r < 0)
		return r;
	for (i = 0; i < *ret_n; i++) {
		char *p = config_expand_home((*ret)[i]);

		if (p[0] != '/' && base) {
			struct buf b = BUF_INIT;

			buf_printf(&b, "%s/%s", base, p);
			free(p);
			p = buf_steal(&b);
		}
		free((*ret)[i]);
		(*ret)[i] = p;
	}
	return 0;
}

/* python_path: relative entries are relative to base (the file's dir). */
static int
parse_python_path(struct yamlutil_doc *d, const yaml_node_t *n, const char *base, struct hook *h)
{
	return parse_dir_list(d, n, "python_path", base, &h->python_path, &h->n_python_path);
}

static int opt_string(struct yamlutil_doc *d, const yaml_node_t *root, const char *key, char **ret);
static int opt_unsigned(struct yamlutil_doc *d, const yaml_node_t *root, const char *key, long min,
                        long max, unsigned *ret);

/* One of the words a key may be; its index in *ret. */
static int
opt_word(struct yamlutil_doc *d, const yaml_node_t *root, const char *key, const char *const *words,
         int *ret)
{
	const yaml_node_t *v = yamlutil_get(d, root, key);
	struct buf list = BUF_INIT;
	char *s = NULL, tmp[64];
	int i, r;

	if (!v)
		return 0;
	r = yamlutil_string(d, v, key, 0, &s);
	if (r < 0)
		return r;
	for (i = 0; words[i]; i++)
		if (!strcmp(s, words[i])) {
			*ret = i;
			free(s);
			return 0;
		}
	free(s);
	for (i = 0; words[i]; i++)
		buf_printf(&list, "%s%s", i ? (words[i + 1] ? ", " : " or ") : "", words[i]);
	r = yamlutil_fail(d, v, "%s: expected %s, got %s", key, list.data,
	                  yamlutil_describe(v, tmp, sizeof(tmp)));
	buf_free(&list);
	return r;
}

/* The hotloading keys: what to watch, how to reload, when to recycle. */
static int
parse_hotloading(struct yamlutil_doc *d, const yaml_node_t *root, const char *base, struct hook *h)
{
	static const char *const modes[] = {"events", "poll", NULL};
	static const char *const strategies[] = {"reload", "purge", NULL};
	static const char *const fallbacks[] = {"none", "recycle", NULL};
	const yaml_node_t *v;
	int r, mode = 0, strategy = 0, fallback = 0;

	if ((v = yamlutil_get(d, root, "watch")) &&
	    (r = parse_dir_list(d, v, "watch", base, &h->watch, &h->n_watch)) < 0)
		return r;
	if ((r = opt_word(d, root, "watch_mode", modes, &mode)) < 0 ||
	    (r = opt_word(d, root, "reload_strategy", strategies, &strategy)) < 0 ||
	    (r = opt_word(d, root, "reload_fallback", fallbacks, &fallback)) < 0 ||
	    (r = opt_string(d, root, "before_reload", &h->before_reload)) < 0 ||
	    (r = opt_string(d, root, "after_reload", &h->after_reload)) < 0 ||
	    (r = opt_unsigned(d, root, "recycle_after", 0, 100000000, &h->recycle_after)) < 0)
		return r;
	h->watch_poll = mode == 1;
	h->reload_purge = strategy == 1;
	h->reload_recycle = fallback == 1;
	if ((v = yamlutil_get(d, root, "max_rss")) &&
	    (r = yamlutil_size(d, v, "max_rss", 1 << 20, &h->max_rss)) < 0)
		return r;
	return 0;
}

/* Optional string key into *ret. */
static int
opt_string(struct yamlutil_doc *d, const yaml_node_t *root, const char *key, char **ret)
{
	const yaml_node_t *v = yamlutil_get(d, root, key);

	return v ? yamlutil_string(d, v, key, 1, ret) : 0;
}

/* Optional number of seconds into *ret. */
static int
opt_seconds(struct yamlutil_doc *d, const yaml_node_t *root, const char *key, double min,
            double *ret)
{
	const yaml_node_t *v = yamlutil_get(d, root, key);

	return v ? yamlutil_double(d, v, key, min, 31536000, ret) : 0;
}

/* Optional integer in [min, max] into *ret. */
static int
opt_unsigned(struct yamlutil_doc *d, const yaml_node_t *root, const char *key, long min, long max,
             unsigned *ret)
{
	const yaml_node_t *v = yamlutil_get(d, root, key);
	long l;
	int r;

	if (!v)
		return 0;
	r = yamlutil_int(d, v, key, min, max, &l);
	if (r < 0)
		return r;
	*ret = (unsigned)l;
	return 0;
}

/* The scalar keys of a hook and their checks. */
static int
parse_scalars(struct yamlutil_doc *d, const yaml_node_t *root, struct hook *h)
{
	static const char *const spawns[] = {"exec", "fork", NULL};
	const yaml_node_t *v;
	char tmp[64];
	int r, spawn = 0;

	if ((r = opt_string(d, root, "description", &h->description)) < 0 ||
	    (r = opt_string(d, root, "default_version", &h->default_version)) < 0 ||
	    (r = opt_string(d, root, "initialize", &h->initialize)) < 0 ||
	    (r = opt_string(d, root, "uninitialize", &h->uninitialize)) < 0 ||
	    (r = opt_string(d, root, "namespace", &h->namespace_code)) < 0 ||
	    (r = opt_string(d, root, "hook_class", &h->hook_class)) < 0 ||
	    (r = opt_seconds(d, root, "startup_timeout", 0.001, &h->startup_timeout)) < 0 ||
	    (r = opt_seconds(d, root, "idle_timeout", 0, &h->idle_timeout)) < 0 ||
	    (r = opt_seconds(d, root, "request_timeout", 0, &h->request_timeout)) < 0 ||
	    (r = opt_unsigned(d, root, "max_workers", 1, 1024, &h->max_workers)) < 0 ||
	    (r = opt_unsigned(d, root, "min_workers", 0, 1024, &h->min_workers)) < 0 ||
	    (r = opt_unsigned(d, root, "max_queue", 1, 1000000, &h->max_queue)) < 0 ||
	    (r = opt_word(d, root, "spawn", spawns, &spawn)) < 0)
		return r;
	h->spawn_fork = spawn == 1;
	if (h->default_version && !valid_name(h->default_version))
		return yamlutil_fail(d, yamlutil_get(d, root, "default_version"),
		                     "default_version: expected a version like 2024 or 20.5, got "
		                     "'%s'",
		                     h->default_version);
	if (h->hook_class && !matches("^" DOTTED_RE ":" DOTTED_RE "$", h->hook_class))
		return yamlutil_fail(d, yamlutil_get(d, root, "hook_class"),
		                     "hook_class: expected \"module:Class\", got '%s'",
		                     h->hook_class);
	/* Blame min_workers: max_workers may be the default. */
	if (h->min_workers > h->max_workers) {
		v = yamlutil_get(d, root, "min_workers");
		return yamlutil_fail(d, v, "min_workers: expected at most max_workers (%u), got %s",
		                     h->max_workers, yamlutil_describe(v, tmp, sizeof(tmp)));
	}
	return 0;
}

/* Build a hook from a document's root; base is the file's directory. */
int
hook_parse(struct yamlutil_doc *d, const yaml_node_t *root, const char *base, struct hook **ret)
{
	struct hook *h = xcalloc(1, sizeof(*h));
	const yaml_node_t *v;
	size_t i, j;
	int r;

	h->startup_timeout = 120;
	h->max_workers = 1;
	h->source = xstrdup(d->file);
	if (!root) {
		r = yamlutil_fail(d, NULL, "expected a hook (a mapping with at least 'name')");
		goto fail;
	}
	if ((r = yamlutil_check_map(d, root, NULL, hook_keys)) < 0)
		goto fail;
	v = yamlutil_get(d, root, "name");
	if (!v) {
		r = yamlutil_fail(d, root, "missing key 'name'");
		goto fail;
	}
	if ((r = yamlutil_string(d, v, "name", 0, &h->name)) < 0 ||
	    (r = check_dcc_name(d, v, "name", h->name)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "aliases"))) {
		if ((r = yamlutil_strv(d, v, "aliases", &h->aliases, &h->n_aliases)) < 0)
			goto fail;
		for (i = 0; i < h->n_aliases; i++) {
			yaml_node_t *item = yamlutil_node(d, v->data.sequence.items.start[i]);

			if ((r = check_dcc_name(d, item, "aliases", h->aliases[i])) < 0)
				goto fail;
			for (j = 0; j < i; j++)
				if (!strcmp(h->aliases[i], h->aliases[j]))
					break;
			if (j < i || !strcmp(h->aliases[i], h->name)) {
				r = yamlutil_fail(d, item, "aliases: '%s' is %s", h->aliases[i],
				                  j < i ? "listed twice" : "the hook's own name");
				goto fail;
			}
		}
	}
	if ((r = parse_scalars(d, root, h)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "hints")) && (r = parse_hints(d, v, h)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "env")) && (r = parse_env(d, v, h)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "launcher")) &&
	    (r = yamlutil_strv(d, v, "launcher", &h->launcher, &h->n_launcher)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "argv"))) {
		if ((r = yamlutil_strv(d, v, "argv", &h->argv, &h->argc)) < 0)
			goto fail;
		if (h->argc == 0) {
			r = yamlutil_fail(d, v, "argv: expected a command, got an empty list");
			goto fail;
		}
	} else {
		h->argv = xcalloc(3, sizeof(char *));
		h->argv[0] = xstrdup("{executable}");
		h->argv[1] = xstrdup("{agent}");
		h->argc = 2;
	}
	if ((r = parse_hotloading(d, root, base, h)) < 0)
		goto fail;
	if ((v = yamlutil_get(d, root, "python_path"))) {
		if ((r = parse_python_path(d, v, base, h)) < 0)
			goto fail;
	} else if (base) {
		h->python_path = xcalloc(2, sizeof(char *));
		h->python_path[0] = xstrdup(base);
		h->n_python_path = 1;
	}
	/* Lists are never NULL, so callers may walk them to their NULL. */
	if (!h->aliases)
		h->aliases = xcalloc(1, sizeof(char *));
	if (!h->launcher)
		h->launcher = xcalloc(1, sizeof(char *));
	if (!h->python_path)
		h->python_path = xcalloc(1, sizeof(char *));
	*ret = h;
	return 0;
fail:
	hook_free(h);
	return r;
}

/* Directory part of path, made absolute; NULL when path has no '/'. */
char *
hook_base_dir(const char *path, int absolute)
{
	const char *slash = strrchr(path, '/');
	struct buf b = BUF_INIT;
	char cwd[PATH_MAX];

	if (!slash)
		return NULL;
	if (absolute && path[0] != '/' && getcwd(cwd, sizeof(cwd)))
		buf_printf(&b, "%s/", cwd);
	buf_append(&b, path, slash == path ? 1 : (size_t)(slash - path));
	return buf_steal(&b);
}
