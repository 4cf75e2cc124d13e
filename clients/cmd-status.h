/* cmd-status.h - `hotloadctl status`: the daemon's targets and workers */
#ifndef HOTLOAD_CMD_STATUS_H
#define HOTLOAD_CMD_STATUS_H

#include <jansson.h>

struct ctl_opts;
struct ctlcontrol;

/* Ask the daemon for its status and print it as a table, or with o->json as
 * the status object; only target's rows when it is not NULL. Returns an
 * exit status: 1 when a target shown has failed. */
int ctlstatus_show(const struct ctl_opts *o, const char *target);

/* The targets of status that target ("dcc[:version]", dcc a hook name or
 * alias) means, as a new array; asks the daemon for its hooks when an alias
 * must be looked up. Returns 0, or an exit status (said on stderr):
 * CTL_EXIT_REFUSED when no hook has that name. */
int ctlstatus_match(struct ctlcontrol *cc, json_t *status, const char *target,
                    json_t **ret_targets);

#endif
