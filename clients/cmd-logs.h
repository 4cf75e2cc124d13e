/* cmd-logs.h - `hotloadctl list`, `logs` and `reload` */
#ifndef HOTLOAD_CMD_LOGS_H
#define HOTLOAD_CMD_LOGS_H

struct ctl_opts;

/* The hooks the daemon knows and the installs they find, as a table or
 * (o->json) the daemon's "hooks" array. */
int ctlinfo_list(const struct ctl_opts *o);

/* The last o->lines lines (-1: 200, 0: all) of the recent output of
 * target's workers, prefixed with time, pid and stream on a terminal;
 * o->json: the daemon's "logs" array (o->lines entries of it). */
int ctlinfo_logs(const struct ctl_opts *o, const char *target);

/* Have the daemon re-read its configuration; 1 with its ConfigError. */
int ctlinfo_reload(const struct ctl_opts *o);

#endif
