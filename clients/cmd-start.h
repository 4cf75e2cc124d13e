/* cmd-start.h - start, stop, restart and interrupt named targets */
#ifndef HOTLOAD_CMD_START_H
#define HOTLOAD_CMD_START_H

struct ctl_opts;

/* op "start" or "restart" of targets[0..n), then (unless o->no_wait) wait
 * until each has a ready worker, has failed, or o->timeout passed.
 * Returns 0 when all are ready, 1 when one is not, 4 when one was refused. */
int ctltargets_start(const struct ctl_opts *o, const char *op, const char *const *targets, int n);

/* Stop the workers of targets[0..n) and (unless o->no_wait) wait until
 * they have exited. */
int ctltargets_stop(const struct ctl_opts *o, const char *const *targets, int n);

/* KeyboardInterrupt in the running requests of targets[0..n). */
int ctltargets_interrupt(const struct ctl_opts *o, const char *const *targets, int n);

/* recycle TARGET...: fresh workers for old ones, started before the old
 * ones stop where min_workers asks for them. */
int ctltargets_recycle(const struct ctl_opts *o, const char *const *targets, int n);

/* watch / unwatch TARGET DIR...: the directories whose changes the
 * target's workers reload. */
int ctltargets_watch(const struct ctl_opts *o, const char *target, const char *const *dirs, int n,
                     int add);

#endif
