/* reaper.h - hotloadd as child subreaper: no DCC child outlives its worker */
#ifndef HOTLOAD_REAPER_H
#define HOTLOAD_REAPER_H

#include <sys/queue.h>
#include <sys/types.h>
#include <uv.h>

struct reaper;

/* A dead worker's output pipe that a process it left behind still holds
 * open: one the reaper could not kill (it is not our child, or it does not
 * die). Its owner reads it for a while; at the daemon's exit, reaper_free
 * releases it and calls cut, which must close it at once. */
struct reaper_held {
	void (*cut)(struct reaper_held *h);
	LIST_ENTRY(reaper_held) link;
};

/* Become the subreaper of everything below us (Linux) and watch SIGCHLD. */
struct reaper *reaper_new(uv_loop_t *loop);
/* The daemon's exit: what is held is cut first. */
void reaper_free(struct reaper *r);

/* Workers are our own children; anything else among our children is a
 * process a dead worker left behind that found its way to us. */
void reaper_track(struct reaper *r, pid_t pid);
void reaper_untrack(struct reaper *r, pid_t pid);

/* Kill and reap every child that is not a tracked worker. */
void reaper_sweep(struct reaper *r);

/* Keep h until reaper_release, or until reaper_free cuts it. */
void reaper_hold(struct reaper *r, struct reaper_held *h);
void reaper_release(struct reaper *r, struct reaper_held *h);

#endif
