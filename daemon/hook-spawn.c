/* hook-spawn.c - the argv and environment a worker is started with */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hook-internal.h"

extern char **environ;

/* Value of KEY in a "KEY=VALUE" vector, or NULL. */
static const char *
strv_getenv(char *const *env, const char *key, size_t klen)
{
	size_t i;

	for (i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, klen) && env[i][klen] == '=')
			return env[i] + klen + 1;
	return NULL;
}

/* Expand {name} placeholders from vars (name, value pairs, NULL-ended)
 * and, when env is given, $VAR / ${VAR} from it ("$$" is a '$'). */
static char *
expand(const char *s, const char *const *vars, char *const *env)
{
	struct buf b = BUF_INIT;
	size_t i, n;

	buf_puts(&b, "");
	while (*s) {
		if (*s == '{') {
			for (i = 0; vars[i]; i += 2) {
				n = strlen(vars[i]);
				if (!strncmp(s + 1, vars[i], n) && s[n + 1] == '}')
					break;
			}
			if (vars[i]) {
				buf_puts(&b, vars[i + 1]);
				s += n + 2;
				continue;
			}
		} else if (*s == '$' && env) {
			const char *name = s + 1, *v;
			int braced = *name == '{';

			if (*name == '$') {
				buf_puts(&b, "$");
				s += 2;
				continue;
			}
			name += braced;
			for (n = 0; name[n] == '_' || (name[n] >= 'A' && name[n] <= 'Z') ||
			            (name[n] >= 'a' && name[n] <= 'z') ||
			            (n && name[n] >= '0' && name[n] <= '9');
			     n++)
				;
			if (n && (!braced || name[n] == '}')) {
				v = strv_getenv(env, name, n);
				buf_puts(&b, v ? v : "");
				s = name + n + braced;
				continue;
			}
		}
		buf_append(&b, s++, 1);
	}
	return buf_steal(&b);
}

/* The placeholder table for one worker. */
static void
fill_vars(const char *vars[9], char *agent_dir, const char *executable, const char *version,
          const char *agent)
{
	vars[0] = "executable";
	vars[1] = executable ? executable : "";
	vars[2] = "version";
	vars[3] = version ? version : "";
	vars[4] = "agent_dir";
	vars[5] = agent_dir;
	vars[6] = "agent";
	vars[7] = agent ? agent : "";
	vars[8] = NULL;
}

/* Directory of the agent ("" without one) into out. */
static char *
agent_dir_of(const char *agent)
{
	char *d = hook_base_dir(agent ? agent : "", 0);

	return d ? d : xstrdup(agent && *agent ? "." : "");
}

char **
hook_build_argv(const struct hook *h, const char *executable, const char *version,
                const char *agent)
{
	char **v = xcalloc(h->n_launcher + h->argc + 1, sizeof(char *));
	char *adir = agent_dir_of(agent);
	const char *vars[9];
	size_t i, n = 0;

	fill_vars(vars, adir, executable, version, agent);
	for (i = 0; i < h->n_launcher; i++)
		v[n++] = expand(h->launcher[i], vars, NULL);
	for (i = 0; i < h->argc; i++)
		v[n++] = expand(h->argv[i], vars, NULL);
	free(adir);
	return v;
}

/* Put "KEY=VALUE" (taken) into env, replacing an entry with that key. */
static void
env_set(char ***env, size_t *n, char *kv)
{
	size_t i, klen = (size_t)(strchr(kv, '=') - kv);

	for (i = 0; i < *n; i++) {
		if (!strncmp((*env)[i], kv, klen) && (*env)[i][klen] == '=') {
			free((*env)[i]);
			(*env)[i] = kv;
			return;
		}
	}
	*env = xrealloc(*env, (*n + 2) * sizeof(char *));
	(*env)[(*n)++] = kv;
	(*env)[*n] = NULL;
}

char **
hook_build_env(const struct hook *h, const char *executable, const char *version, const char *agent,
               char *const *extra)
{
	char **env = xcalloc(1, sizeof(char *));
	char *adir = agent_dir_of(agent), *value;
	const char *vars[9];
	struct buf b = BUF_INIT;
	size_t i, n = 0;

	fill_vars(vars, adir, executable, version, agent);
	for (i = 0; environ && environ[i]; i++)
		if (strchr(environ[i], '='))
			env_set(&env, &n, xstrdup(environ[i]));
	for (i = 0; i < h->n_env; i++) {
		value = expand(h->env[i].value, vars, env);
		buf_printf(&b, "%s=%s", h->env[i].key, value);
		free(value);
		env_set(&env, &n, buf_steal(&b));
	}
	for (i = 0; extra && extra[i]; i++)
		if (strchr(extra[i], '='))
			env_set(&env, &n, xstrdup(extra[i]));
	free(adir);
	return env;
}
