/* supervise.h - what a worker's exit means for its target
 *
 * The supervision policy as a pure function of the exit and the target's
 * history: the crash budget (start-up failures and crashes counted apart
 * within a window), the exponential backoff, the "failed" state, and code
 * that crashed workers before ("poisoned"). No clock, no randomness, no
 * I/O: the caller passes the time and the jitter and carries out the
 * decision (pool.c), so every path has a unit test (test_supervise.c). */
#ifndef HOTLOAD_SUPERVISE_H
#define HOTLOAD_SUPERVISE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SUPERVISE_EARLY_EXIT 10.0 /* seconds after ready in which an exit counts as early */
#define SUPERVISE_POISON_SLOTS 16
#define SUPERVISE_POISON_LIMIT 2 /* crashes by the same code before it is refused */

/* One target's record. Zeroed is a fresh one. */
struct supervise_history {
	double *start_failures; /* times of start-up failures inside the window */
	size_t n_start_failures;
	double *crashes; /* times of crashes after ready inside the window */
	size_t n_crashes;
	unsigned backoff_step; /* consecutive early exits */
	int failed;            /* the budget ran out: no starts until a reset */
	struct {
		uint64_t hash;
		unsigned count;
	} poison[SUPERVISE_POISON_SLOTS];
};

/* How a worker ended. */
struct supervise_exit {
	int requested;      /* asked for (stop, idle reap, recycle): not a failure */
	int was_ready;      /* it had reported ready */
	double ready_for;   /* seconds from ready to the exit */
	int while_busy;     /* it was running a request */
	uint64_t busy_hash; /* that request's code, when while_busy */
};

enum supervise_action {
	SUPERVISE_NONE,    /* nothing to do: the exit was asked for */
	SUPERVISE_RESTART, /* start again when needed, without waiting */
	SUPERVISE_BACKOFF, /* wait delay seconds before the next start */
	SUPERVISE_FAIL,    /* the budget ran out: the target is failed */
	SUPERVISE_COUNTED, /* a failure of a target that is failed already */
};

struct supervise_decision {
	enum supervise_action action;
	int start_failure; /* it died before it was ready (the waiting requests hear why) */
	double delay;      /* SUPERVISE_BACKOFF: seconds */
	size_t failures;   /* SUPERVISE_FAIL: how many inside the window */
	const char *what;  /* SUPERVISE_FAIL: "start-up failures" or "crashes" */
};

/* Record exit e at time now (seconds, any monotonic origin) and decide.
 * jitter in [0, 1] spreads the backoff by ±10% so that targets failing
 * together do not retry in lock-step. */
void supervise_exit(struct supervise_history *h, const struct supervision *cfg,
                    const struct supervise_exit *e, double now, double jitter,
                    struct supervise_decision *ret);

/* Whether code of this hash crashed SUPERVISE_POISON_LIMIT workers. */
int supervise_poisoned(const struct supervise_history *h, uint64_t hash);
/* Whether any code did: when none did, no request's code needs hashing. */
int supervise_poisoned_any(const struct supervise_history *h);

/* Forget everything: hotloadctl start or restart clears "failed". */
void supervise_reset(struct supervise_history *h);

void supervise_history_free(struct supervise_history *h);

#endif
