/* reaper.h - hotloadd as child subreaper: no DCC child outlives its worker */
#ifndef HOTLOAD_REAPER_H
#define HOTLOAD_REAPER_H

#include <sys/types.h>
#include <uv.h>

struct reaper;

/* Become the subreaper of everything below us (Linux) and watch SIGCHLD. */
struct reaper *reaper_new(uv_loop_t *loop);
void reaper_free(struct reaper *r);

/* Workers are our own children; anything else among our children is a
 * process a dead worker left behind that found its way to us. */
void reaper_track(struct reaper *r, pid_t pid);
void reaper_untrack(struct reaper *r, pid_t pid);

/* Kill and reap every child that is not a tracked worker. */
void reaper_sweep(struct reaper *r);

#endif
