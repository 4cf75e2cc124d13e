/* cmd-recycle.c - `hotloadctl recycle`: fresh workers for old ones, started
 * before the old ones stop where min_workers asks for them */
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl.h"
#include "errfmt.h"

/* recycle TARGET... */
int
cmd_recycle(const struct ctl_opts *o, const struct cmd_args *a)
{
	const char *const *targets = a->pos + 1;
	int n = a->npos - 1;
	struct ctlcontrol *cc = NULL;
	json_t *done = NULL, *res;
	size_t i;
	int r;

	if (a->npos < 2)
		return ctl_usage("recycle", "missing TARGET");
	r = ctl_check_targets(targets, n);
	if (!r)
		r = ctlcontrol_open(o, 0, &cc);
	if (r)
		return r;
	r = ctlcontrol_targets(cc, "recycle", targets, n, &done);
	if (r)
		goto fail;
	if (!json_is_array(json_object_get(done, "targets"))) {
		struct buf msg = BUF_INIT;

		errfmt_summary(json_object_get(done, "error"), &msg);
		ctl_err("recycle: %s", msg.data);
		r = ctl_error_exit(json_object_get(done, "error"));
		buf_free(&msg);
		goto fail;
	}
	json_array_foreach(json_object_get(done, "targets"), i, res)
	{
		const char *name = ctl_str(res, "target", i < (size_t)n ? targets[i] : "?");
		json_int_t k = json_integer_value(json_object_get(res, "recycled"));
		struct buf msg = BUF_INIT;

		if (!json_is_true(json_object_get(res, "ok"))) {
			errfmt_summary(json_object_get(res, "error"), &msg);
			ctl_err("%s: %s", name, msg.data);
			r = ctl_error_exit(json_object_get(res, "error"));
		} else if (k == 0)
			ctl_msg(o, "%s: no worker runs; the next request starts a fresh one", name);
		else if (!o->quiet)
			ctl_print(1, "%s: recycling %" JSON_INTEGER_FORMAT " worker%s\n", name, k,
			          k == 1 ? "" : "s");
		buf_free(&msg);
	}
fail:
	json_decref(done);
	ctlcontrol_free(cc);
	return r;
}
