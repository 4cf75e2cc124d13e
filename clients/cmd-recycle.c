/* cmd-recycle.c - `hotloadctl recycle`: fresh workers for old ones, started
 * before the old ones stop where min_workers asks for them */
#include "cmd.h"
#include "ctl-control.h"
#include "ctl.h"

/* recycle TARGET... */
int
cmd_recycle(const struct ctl_opts *o, const struct cmd_args *a)
{
	static const struct ctlcontrol_count c = {
	        .op = "recycle",
	        .count = "recycled",
	        .none = "no worker runs; the next request starts a fresh one",
	        .did = "recycling",
	        .noun = "worker",
	};

	if (a->npos < 2)
		return ctl_usage("recycle", "missing TARGET");
	return ctlcontrol_count_targets(o, &c, a->pos + 1, a->npos - 1);
}
