/* hook.h - hook files: how to find, start and prepare one DCC interpreter */
#ifndef HOTLOAD_HOOK_H
#define HOTLOAD_HOOK_H

#include <stddef.h>

struct buf;
struct probes;

/* One place an interpreter may be installed, for the running OS. */
struct hook_hint {
	char *path;    /* template: {version}, globs, $VAR / ${VAR}, ~/; no '/' = search PATH */
	char *version; /* fixed version for a path without {version}, or NULL */
	char **version_command; /* argv ({executable} expanded) printing the version, or NULL */
	char *version_pattern;  /* POSIX ERE with one group picking the version from its output */
};

struct hook_env {
	char *key;
	char *value; /* may use {executable}, {version}, {agent_dir} and $VAR */
};

/* A new member that changes how workers start belongs in hook_equal(). */
struct hook {
	char *name;
	char **aliases;
	size_t n_aliases;
	char *description;
	char *default_version;   /* NULL: newest installed */
	struct hook_hint *hints; /* only those for the running OS */
	size_t n_hints;
	char **argv; /* template: {executable}, {agent}, {version} */
	size_t argc;
	char **launcher; /* prefix put before argv, may be empty */
	size_t n_launcher;
	struct hook_env *env;
	size_t n_env;
	double startup_timeout; /* seconds, default 120 */
	double idle_timeout;    /* seconds, 0 = never */
	unsigned max_workers;   /* default 1 */
	unsigned min_workers;   /* started with the daemon and kept warm; default 0 */
	unsigned max_queue;     /* requests waiting per target; 0: the default, 64 */
	double request_timeout; /* seconds a request may run; 0 = no limit */
	int spawn_fork;         /* spawn: fork (workers are forked from a warm template) */
	char *initialize;       /* inline Python, or NULL */
	char *uninitialize;     /* inline Python, or NULL */
	char *namespace_code;   /* inline Python run in every new user namespace, or NULL */
	char **watch;           /* directories whose changes reload modules (absolute) */
	size_t n_watch;
	int watch_poll;      /* watch_mode: poll (mtimes before each request) */
	int reload_purge;    /* reload_strategy: purge */
	int reload_recycle;  /* reload_fallback: recycle */
	char *before_reload; /* inline Python around a reload, or NULL */
	char *after_reload;
	unsigned recycle_after; /* requests a worker serves before it is replaced; 0: no limit */
	size_t max_rss;         /* bytes; a worker above it is replaced between requests; 0 */
	char *hook_class;       /* "module:Class", or NULL */
	char **python_path;     /* put on sys.path before the hook class is imported */
	size_t n_python_path;
	char *source; /* "FILE" it was read from, for messages */
};

struct hookset;

struct hookset *hookset_new(void);
void hookset_free(struct hookset *hs);

/* Parse one hook file; a hook with the same name as an earlier one replaces
 * it (and its aliases). On error returns -errno and puts one line
 * "FILE:LINE:COLUMN: what was expected" in err; hs is unchanged. */
int hookset_load_file(struct hookset *hs, const char *path, char *err, size_t errlen);

/* Same, from a string (built-in hooks); name is used in messages. */
int hookset_load_string(struct hookset *hs, const char *name, const char *yaml, char *err,
                        size_t errlen);

/* Every *.yaml / *.yml of dir in name order. A missing dir is not an
 * error (returns 0); the first bad file is (as hookset_load_file). What
 * others could have changed is skipped with a warning (see
 * hookset_warning_at): the whole directory when it is not safe (see
 * pathsafe_trusted), a file that is not or that cannot be read. */
int hookset_load_dir(struct hookset *hs, const char *dir, char *err, size_t errlen);

/* What loading skipped, one line each, for the log. */
size_t hookset_warning_count(const struct hookset *hs);
const char *hookset_warning_at(const struct hookset *hs, size_t i);

/* 1 when a and b would start and prepare workers identically: every field
 * but source and description is the same (aliases in any order; argv,
 * launcher, env, hints and python_path in order); else 0. A reload keeps
 * the workers of a hook whose new definition is equal to the old one. */
int hook_equal(const struct hook *a, const struct hook *b);

/* Look up by name or alias; NULL when unknown. */
const struct hook *hookset_find(const struct hookset *hs, const char *name);
size_t hookset_count(const struct hookset *hs);
const struct hook *hookset_at(const struct hookset *hs, size_t i);

/* An installed interpreter found through the hints. */
struct hook_install {
	char *version;
	char *path;
};

/* Every installed version the hints find, newest first, one per version
 * (the earliest hint wins a tie). Returns the count or -errno.
 *
 * A hint with version_command learns an executable's version by running
 * it, once per executable (see hook_version_cache_clear). Until the answer
 * is in, this and hook_resolve return -EINPROGRESS (nothing in *ret) after
 * starting the probes they need in pr (probe.c; NULL: none is started);
 * ask again when probes_wait says a probe ended. */
int hook_find_installs(const struct hook *h, struct probes *pr, struct hook_install **ret,
                       size_t *ret_n);
void hook_installs_free(struct hook_install *v, size_t n);

/* Pick the interpreter for a request of version ("" = the hook's default,
 * else the newest). "20.5" matches "20.5" exactly or else the newest
 * "20.5.*". On -ENOENT, searched lists each path pattern that was tried, one
 * per line, for the error message. -EINPROGRESS while a version is being
 * probed (see hook_find_installs). */
int hook_resolve(const struct hook *h, const char *version, struct probes *pr, char **ret_path,
                 char **ret_version, struct buf *searched);

/* Build the NULL-terminated argv (launcher + argv template expanded) for
 * starting the worker. */
char **hook_build_argv(const struct hook *h, const char *executable, const char *version,
                       const char *agent);
void hook_strv_free(char **v);

/* Build the NULL-terminated environment ("KEY=VALUE") for the worker: the
 * daemon's own environment, then the hook's env entries expanded, then extra
 * (NULL-terminated, may be NULL); later entries replace earlier ones. */
char **hook_build_env(const struct hook *h, const char *executable, const char *version,
                      const char *agent, char *const *extra);

/* Forget the versions learned by running version_command (they are kept
 * per path and mtime for the life of the process otherwise). A probe still
 * running gives its answer when it ends. */
void hook_version_cache_clear(void);

#endif
