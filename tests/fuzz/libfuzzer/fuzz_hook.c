/* fuzz_hook.c - libFuzzer: hookset_load_string() on a hook file, and what
 * the daemon then does with a hook without running anything */
#include <errno.h>
#include <string.h>

#include "fuzzcheck.h"
#include "hook.h"

/* The name a hook file in the system directory would have in messages. */
#define HOOK_NAME "/etc/hotload/hooks.d/fuzz.yaml"

/* One hook the input may replace or take an alias from. */
static const char base_hook[] = "name: python\n"
                                "aliases: [py, python3]\n"
                                "hints:\n"
                                "  linux: [\"python{version}\"]\n";

/* glibc's regcomp() copies a subexpression for each repetition of it, so
 * stacked or nested ones ("[0-9]++++", "((a{9}){9}){9}") take memory
 * exponential in their number. hook.c refuses such a version_pattern
 * before compiling it (crashes/README.md, fixed); -DFUZZ_SKIP_REGEX_BLOWUP=1
 * skips inputs that could be one, for a build without that check. */
#ifndef FUZZ_SKIP_REGEX_BLOWUP
#define FUZZ_SKIP_REGEX_BLOWUP 0
#endif
#define REGEX_EXTRA_COPIES_MAX 65536.0 /* about 64 MiB in regcomp() */

/* The largest count of an interval "{n}", "{n,}", "{n,m}" at s[i] ('{'),
 * with *end at its '}'; -1 when s[i] does not start one. */
static double
interval_count(const char *s, size_t len, size_t i, size_t *end)
{
	double n = 0, max = 0;
	size_t j;

	for (j = i + 1; j < len && s[j] != '}'; j++) {
		if (s[j] == ',')
			n = 0;
		else if (s[j] >= '0' && s[j] <= '9')
			n = n * 10 + (s[j] - '0');
		else
			return -1;
		if (n > max)
			max = n;
	}
	if (j == len || j == i + 1)
		return -1;
	*end = j;
	return max;
}

/* An over-estimate of the copies regcomp() makes of the atoms of s, read
 * as one ERE: a repetition copies what it applies to ("+" twice, "{n,m}"
 * m times), a group being one atom. */
static double
regex_copies(const char *s, size_t len)
{
	double outer[64], atom = 0, total = 0, f;
	size_t i, end, depth = 0;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '(':
			if (depth < 64) {
				outer[depth++] = total;
				total = atom = 0;
			}
			continue;
		case ')':
			if (depth) {
				atom = total;
				total = outer[--depth] + atom;
			}
			continue;
		case '+':
			total += atom;
			atom *= 2;
			continue;
		case '*':
		case '?':
			continue;
		case '{':
			f = interval_count(s, len, i, &end);
			if (f < 0)
				break; /* a literal '{' */
			total += atom * (f - 1);
			atom *= f;
			i = end;
			continue;
		case '\\':
			i++;
			break;
		case '[':
			while (i + 1 < len && s[i] != ']')
				i++;
			break;
		}
		atom = 1;
		total += 1;
	}
	while (depth)
		total += outer[--depth];
	return total;
}

/* Vector v holds exactly n strings and its NULL. */
static void
check_strv(char *const *v, size_t n)
{
	size_t i;

	FUZZ_CHECK(v != NULL);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(v[i] != NULL);
	FUZZ_CHECK(v[n] == NULL);
}

/* Whether hook h answers to alias s. */
static int
has_alias(const struct hook *h, const char *s)
{
	size_t i;

	for (i = 0; i < h->n_aliases; i++)
		if (!strcmp(h->aliases[i], s))
			return 1;
	return 0;
}

/* What a loaded hook promises, and building its worker's argv and env.
 * A later hook (latest, or NULL) that claims h's name as an alias gets it
 * (docs/hooks.md: "the later hook gets it"); h keeps the name. */
static void
check_hook(const struct hookset *hs, const struct hook *h, const struct hook *latest)
{
	static char *const extra[] = {"HOTLOAD_FUZZ=1", NULL};
	char **argv, **env;
	size_t i;

	FUZZ_CHECK(h->name && *h->name && strlen(h->name) < 64);
	if (latest && has_alias(latest, h->name))
		FUZZ_CHECK(hookset_find(hs, h->name) == latest);
	else
		FUZZ_CHECK(hookset_find(hs, h->name) == h);
	check_strv(h->aliases, h->n_aliases);
	for (i = 0; i < h->n_aliases; i++)
		FUZZ_CHECK(hookset_find(hs, h->aliases[i]) == h);
	FUZZ_CHECK(h->argc >= 1);
	check_strv(h->argv, h->argc);
	check_strv(h->launcher, h->n_launcher);
	check_strv(h->python_path, h->n_python_path);
	for (i = 0; i < h->n_hints; i++)
		FUZZ_CHECK(h->hints[i].path && *h->hints[i].path);
	for (i = 0; i < h->n_env; i++)
		FUZZ_CHECK(h->env[i].key && h->env[i].value);
	FUZZ_CHECK(h->min_workers <= h->max_workers && h->max_workers >= 1);
	FUZZ_CHECK(h->startup_timeout > 0);
	FUZZ_CHECK(hook_equal(h, h));

	argv = hook_build_argv(h, "/usr/bin/python3.11", "3.11", "/usr/lib/hotload/hookd/hookd.py");
	check_strv(argv, h->n_launcher + h->argc);
	hook_strv_free(argv);
	argv = hook_build_argv(h, NULL, NULL, NULL);
	check_strv(argv, h->n_launcher + h->argc);
	hook_strv_free(argv);
	env = hook_build_env(h, "/usr/bin/python3.11", "3.11", "/usr/lib/hotload/hookd/hookd.py",
	                     extra);
	FUZZ_CHECK(env != NULL);
	for (i = 0; env[i]; i++)
		FUZZ_CHECK(strchr(env[i], '=') != NULL);
	hook_strv_free(env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hookset *hs = hookset_new(), *again = NULL;
	const struct hook *h;
	char *yaml = malloc(size + 1);
	char err[512];
	size_t n;
	int r;

	FUZZ_CHECK(yaml != NULL);
	if (FUZZ_SKIP_REGEX_BLOWUP &&
	    regex_copies((const char *)data, size) > (double)size + REGEX_EXTRA_COPIES_MAX) {
		hookset_free(hs);
		free(yaml);
		return 0;
	}
	memcpy(yaml, data, size);
	yaml[size] = '\0';
	FUZZ_CHECK(hookset_load_string(hs, "<built-in>", base_hook, err, sizeof(err)) == 0);
	err[0] = '\0';
	r = hookset_load_string(hs, HOOK_NAME, yaml, err, sizeof(err));
	n = hookset_count(hs);
	if (r < 0) {
		/* A bad file changes nothing and says where it is bad. */
		FUZZ_CHECK(r == -EINVAL);
		FUZZ_CHECK(n == 1 && hookset_find(hs, "py") == hookset_at(hs, 0));
		FUZZ_CHECK(!strncmp(err, HOOK_NAME ":", strlen(HOOK_NAME) + 1));
		FUZZ_CHECK_ONE_LINE(err);
		goto out;
	}
	FUZZ_CHECK(r == 0 && (n == 1 || n == 2));
	h = hookset_at(hs, n - 1);
	check_hook(hs, h, NULL);
	FUZZ_CHECK(!strcmp(h->source, HOOK_NAME));
	if (n == 2)
		check_hook(hs, hookset_at(hs, 0), h);
	/* The same text gives an equal hook, so a reload keeps its workers. */
	again = hookset_new();
	FUZZ_CHECK(hookset_load_string(again, HOOK_NAME, yaml, err, sizeof(err)) == 0);
	FUZZ_CHECK(hook_equal(h, hookset_at(again, 0)));
out:
	hookset_free(hs);
	hookset_free(again);
	free(yaml);
	return 0;
}
