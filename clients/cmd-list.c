/* cmd-list.c - `hotloadctl list`: the hooks and the installs they find */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl-table.h"
#include "ctl.h"

enum { LCOL_HOOK, LCOL_ALIASES, LCOL_DEFAULT, LCOL_VERSION, LCOL_PATH, LCOL_SOURCE, LCOL_N };

/* The hook's rows: one per install, the hook's own cells on the first. */
static void
add_hook(struct ctltable *t, json_t *h)
{
	json_t *aliases = json_object_get(h, "aliases"), *installs = json_object_get(h, "installs");
	const char *row[LCOL_N];
	struct buf al = BUF_INIT;
	json_t *a, *in;
	size_t i;

	json_array_foreach(aliases, i, a)
	{
		if (json_is_string(a))
			buf_printf(&al, "%s%s", al.len ? "," : "", json_string_value(a));
	}
	row[LCOL_HOOK] = ctl_str(h, "name", "?");
	row[LCOL_ALIASES] = al.len ? al.data : "-";
	row[LCOL_DEFAULT] = ctl_str(h, "default_version", "newest");
	row[LCOL_SOURCE] = ctl_str(h, "source", "-");
	if (!json_array_size(installs)) {
		row[LCOL_VERSION] = "-";
		row[LCOL_PATH] = "(not installed)";
		ctltable_add(t, row);
	}
	json_array_foreach(installs, i, in)
	{
		row[LCOL_VERSION] = ctl_str(in, "version", "?");
		row[LCOL_PATH] = ctl_str(in, "path", "?");
		ctltable_add(t, row);
		row[LCOL_HOOK] = row[LCOL_ALIASES] = row[LCOL_DEFAULT] = row[LCOL_SOURCE] = "";
	}
	buf_free(&al);
}

/* list */
int
cmd_list(const struct ctl_opts *o, const struct cmd_args *a)
{
	static const char *const header[LCOL_N] = {"HOOK",    "ALIASES", "DEFAULT",
	                                           "VERSION", "PATH",    "SOURCE"};
	json_t *req = json_pack("{s:s}", "op", "list"), *done = NULL, *hooks, *h;
	struct ctltable *t;
	struct buf out = BUF_INIT;
	size_t i;
	int r;

	if (a->npos > 1) {
		json_decref(req);
		return ctl_usage("list", "unexpected argument '%s'", a->pos[1]);
	}
	r = ctlcontrol_call_ok(o, req, "list", &done);
	json_decref(req);
	if (r)
		return r;
	hooks = json_object_get(done, "hooks");
	if (o->json) {
		ctl_print_json(hooks);
		json_decref(done);
		return CTL_EXIT_OK;
	}
	t = ctltable_new(LCOL_N);
	ctltable_add(t, header);
	json_array_foreach(hooks, i, h)
	{
		add_hook(t, h);
	}
	ctltable_print(t, &out);
	ctl_write_all(1, out.data, out.len);
	ctltable_free(t);
	buf_free(&out);
	json_decref(done);
	return CTL_EXIT_OK;
}
