/* cmd-reload-modules.c - `hotloadctl reload-modules`: edited modules,
 * reloaded in a warm worker */
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "ctl-request.h"
#include "ctl.h"

/* "done" of reload: the modules were listed already; say when none was. */
static int
on_reload_done(const struct ctl_opts *o, json_t *done, void *userdata)
{
	if (!json_is_true(json_object_get(done, "ok")) && json_object_get(done, "error"))
		return ctlreq_print_failure(o, done);
	return json_is_true(json_object_get(done, "ok")) ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/* Reload (or with purge, forget) the modules and packages names in a
 * worker of target; prints "MODULE: STATUS" per module. */
static int
reload_modules(const struct ctl_opts *o, const char *target, const char *const *names, int n,
               int purge)
{
	json_t *req = json_object(), *list = json_array(), *v;
	int i, r = CTL_EXIT_USAGE;

	for (i = 0; i < n; i++) {
		if (!(v = json_string(names[i]))) {
			ctl_err("'%s' is not valid UTF-8", names[i]);
			json_decref(list);
			goto fail;
		}
		json_array_append_new(list, v);
	}
	json_object_set_new(req, "op", json_string("reload"));
	json_object_set_new(req, "modules", list);
	json_object_set_new(req, "strategy", json_string(purge ? "purge" : "reload"));
	ctlreq_set_limits(o, req);
	r = ctlreq_run(o, target, req, on_reload_done, NULL);
fail:
	json_decref(req);
	return r;
}

/* reload-modules TARGET MODULE... */
int
cmd_reload_modules(const struct ctl_opts *o, const struct cmd_args *a)
{
	if (a->npos < 2)
		return ctl_usage("reload-modules", "missing TARGET");
	if (a->npos < 3)
		return ctl_usage("reload-modules", "missing the modules or packages to reload");
	return reload_modules(o, a->pos[1], a->pos + 2, a->npos - 2, a->value[OPT_PURGE] != NULL);
}
