/* cmd-reload.c - `hotloadctl reload`: the daemon re-reads its configuration */
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "ctl-control.h"
#include "ctl.h"

/* reload */
int
cmd_reload(const struct ctl_opts *o, const struct cmd_args *a)
{
	json_t *req, *done = NULL;
	int r;

	if (a->npos > 1)
		return ctl_usage("reload", "unexpected argument '%s'", a->pos[1]);
	req = json_pack("{s:s}", "op", "reload");
	r = ctlcontrol_call_ok(o, req, "reload failed, the running configuration is kept", &done);
	json_decref(req);
	if (r)
		return r;
	if (!o->quiet)
		ctl_print(1, "hotloadd reloaded its configuration\n");
	json_decref(done);
	return CTL_EXIT_OK;
}
