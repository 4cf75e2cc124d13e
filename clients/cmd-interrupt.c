/* cmd-interrupt.c - `hotloadctl interrupt`: KeyboardInterrupt in the
 * requests running in targets' workers, whoever sent them */
#include "cmd.h"
#include "ctl-control.h"
#include "ctl.h"

/* interrupt TARGET... */
int
cmd_interrupt(const struct ctl_opts *o, const struct cmd_args *a)
{
	static const struct ctlcontrol_count c = {
	        .op = "interrupt",
	        .count = "interrupted",
	        .none = "nothing was running",
	        .did = "interrupted",
	        .noun = "request",
	};

	if (a->npos < 2)
		return ctl_usage("interrupt", "missing TARGET");
	return ctlcontrol_count_targets(o, &c, a->pos + 1, a->npos - 1);
}
