/* probe.h - version probes: a hook's version_command, run without blocking
 *
 * Finding which version an executable is can mean starting it (Blender's
 * --version takes most of a second, a studio wrapper longer): a probe runs
 * it as a child process on the loop while every other client is served.
 * Whoever needs the answer asks again once a probe has ended (probes_wait). */
#ifndef HOTLOAD_PROBE_H
#define HOTLOAD_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct buf;
struct probes;
struct probe_waiter;
struct reaper;

#define PROBE_TIMEOUT_MS 10000 /* a probe still running then is killed, with its group */
#define PROBE_OUTPUT_MAX 65536 /* what is kept of its output (stdout and stderr together) */

/* How one probe ended: result is its exit status (0-255), -ETIMEDOUT when
 * it was killed at its deadline, -EINTR when a signal ended it, or
 * -ECANCELED when probes_stop killed it (which says nothing about the
 * executable). out holds what it printed (out->data is NULL when nothing). */
typedef void (*probe_done_cb)(int result, const struct buf *out, void *data);

/* A waiter's turn to look again: a probe ended, or the hooks changed. */
typedef void (*probe_wake_cb)(void *data);

/* The probes of one loop. Their pids are tracked in reaper (may be NULL),
 * which must outlive them; a probe is killed after timeout_ms. */
struct probes *probes_new(uv_loop_t *loop, struct reaper *reaper, uint64_t timeout_ms);

/* probes_stop, drop the waiters unheard, and free once every handle is
 * closed (the loop must run for that). Accepts NULL. Not from a waiter's
 * callback. */
void probes_free(struct probes *pr);

/* fn(data) each time the last probe is gone (closed), for the shutdown. */
void probes_set_empty_cb(struct probes *pr, void (*fn)(void *data), void *data);

/* Run argv (argv[0] looked up on $PATH) as the probe named key: in its own
 * session and process group, stdin /dev/null, stdout and stderr into one
 * pipe of which the first PROBE_OUTPUT_MAX bytes are kept, killed with its
 * group at the deadline. On 0, done(result, out, data) is called exactly
 * once from the loop, then every waiter is woken. Else done is not called:
 * -EBUSY while a probe of key runs already (wait for it), -ESHUTDOWN after
 * probes_stop, or why it could not be started (the command is missing). */
int probes_start(struct probes *pr, const char *key, char *const *argv, probe_done_cb done,
                 void *data);

/* 1 while the probe named key runs (its done is still to come). */
int probes_running(const struct probes *pr, const char *key);

/* Probes running or still closing their handles. */
size_t probes_count(const struct probes *pr);

/* Call fn(data) once, from the loop, after the next probe ends or
 * probes_wake: the waiter is freed before fn runs, so fn may wait again.
 * probes_cancel takes a waiter back before that (accepts NULL). */
struct probe_waiter *probes_wait(struct probes *pr, probe_wake_cb fn, void *data);
void probes_cancel(struct probes *pr, struct probe_waiter *w);

/* Wake every waiter on the next turn of the loop (the hooks changed). */
void probes_wake(struct probes *pr);

/* The daemon shuts down: every probe is killed (done hears -ECANCELED
 * now), none starts any more, and the waiters are woken. */
void probes_stop(struct probes *pr);

#endif
