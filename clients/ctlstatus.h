/* ctlstatus.h - `hotloadctl status`: the daemon's targets and workers */
#ifndef HOTLOAD_CTLSTATUS_H
#define HOTLOAD_CTLSTATUS_H

struct ctl_opts;

/* Ask the daemon for its status and print it as a table, or with o->json as
 * the status object; returns an exit status. */
int ctlstatus_show(const struct ctl_opts *o);

#endif
