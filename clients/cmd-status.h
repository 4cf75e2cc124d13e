/* cmd-status.h - `hotloadctl status`: the table, and which targets a name means */
#ifndef HOTLOAD_CMD_STATUS_H
#define HOTLOAD_CMD_STATUS_H

#include <jansson.h>

struct buf;
struct ctlcontrol;

/* Append the status's header line and the table of targets to out, with
 * a row "missing ... stopped" when missing is not NULL (a target asked
 * for that has no workers), and below it why a target failed or backs off. */
void cmd_status_table(json_t *status, json_t *targets, const char *missing, struct buf *out);

/* The targets of status that target ("dcc[:version]", dcc a hook name or
 * alias) means, as a new array; asks the daemon for its hooks when an alias
 * must be looked up. Returns 0, or an exit status (said on stderr):
 * CTL_EXIT_REFUSED when no hook has that name. */
int cmd_status_match(struct ctlcontrol *cc, json_t *status, const char *target,
                     json_t **ret_targets);

#endif
