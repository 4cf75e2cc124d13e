/* ctl-watch.h - exec --watch: run again on every save */
#ifndef HOTLOAD_CTL_WATCH_H
#define HOTLOAD_CTL_WATCH_H

#include "ctl.h"

/* What one run does: read the code afresh and send it; returns the exit
 * status of the run (enum ctl_exit). */
typedef int (*ctlwatch_run_fn)(const struct ctl_opts *o, void *data);

/* Run, then run again each time a Python file (or the file given) under
 * dir changes, until Ctrl-C; a run still going when a change comes is
 * interrupted first. Each run is headed by a line on stderr (time, what
 * changed, and after it how it ended and how long it took). dir is
 * watched by the target too for the time (its modules reload). Returns
 * the exit status of the last run. */
int ctlwatch_loop(struct ctl_opts *o, const char *target, const char *dir, const char *file,
                  ctlwatch_run_fn run, void *data);

#endif
