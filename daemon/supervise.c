/* supervise.c - what a worker's exit means for its target (see supervise.h)
 *
 * A stop that was asked for is nothing. A worker that dies before it is
 * ready, or soon after without running anything, is a failure that waits
 * out an exponential backoff before the next start; one that crashes while
 * running a request counts too, but the next start need not wait (the
 * request did it, not the DCC), and that request's code is remembered:
 * code that crashed two workers is refused. Too many failures of one kind
 * inside the window make the target failed until it is reset. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "supervise.h"

/* Record a failure at t in times[0..*n); returns how many are inside the
 * window, t's included. */
static size_t
window_add(double **times, size_t *n, double t, double window)
{
	size_t i, kept = 0;

	for (i = 0; i < *n; i++)
		if (t - (*times)[i] < window)
			(*times)[kept++] = (*times)[i];
	*times = xrealloc(*times, (kept + 1) * sizeof(**times));
	(*times)[kept++] = t;
	*n = kept;
	return kept;
}

static void
poison_add(struct supervise_history *h, uint64_t hash)
{
	size_t i, victim = 0;

	for (i = 0; i < SUPERVISE_POISON_SLOTS; i++) {
		if (h->poison[i].hash == hash && h->poison[i].count) {
			h->poison[i].count++;
			return;
		}
		if (h->poison[i].count < h->poison[victim].count)
			victim = i;
	}
	h->poison[victim].hash = hash;
	h->poison[victim].count = 1;
}

/* initial * 2^step, capped at max, then ±10% by jitter. */
static double
backoff_delay(const struct supervision *cfg, unsigned step, double jitter)
{
	double delay = cfg->backoff_initial;
	unsigned i;

	for (i = 0; i < step && delay < cfg->backoff_max; i++)
		delay *= 2;
	if (delay > cfg->backoff_max)
		delay = cfg->backoff_max;
	if (jitter < 0)
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	return delay * (0.9 + 0.2 * jitter);
}

void
supervise_exit(struct supervise_history *h, const struct supervision *cfg,
               const struct supervise_exit *e, double now, double jitter,
               struct supervise_decision *ret)
{
	int early = !e->was_ready || (e->ready_for < SUPERVISE_EARLY_EXIT && !e->while_busy);
	size_t n;

	memset(ret, 0, sizeof(*ret));
	if (e->requested)
		return;
	if (e->while_busy)
		poison_add(h, e->busy_hash);
	ret->start_failure = !e->was_ready;
	if (ret->start_failure)
		n = window_add(&h->start_failures, &h->n_start_failures, now, cfg->crash_window);
	else
		n = window_add(&h->crashes, &h->n_crashes, now, cfg->crash_window);
	if (n >= cfg->crash_budget) {
		h->failed = 1;
		ret->action = SUPERVISE_FAIL;
		ret->failures = n;
		ret->what = ret->start_failure ? "start-up failures" : "crashes";
		return;
	}
	if (h->failed) {
		ret->action = SUPERVISE_COUNTED;
	} else if (early) {
		ret->action = SUPERVISE_BACKOFF;
		ret->delay = backoff_delay(cfg, h->backoff_step, jitter);
		h->backoff_step++;
	} else {
		ret->action = SUPERVISE_RESTART;
		h->backoff_step = 0;
	}
}

int
supervise_poisoned(const struct supervise_history *h, uint64_t hash)
{
	size_t i;

	for (i = 0; i < SUPERVISE_POISON_SLOTS; i++)
		if (h->poison[i].count >= SUPERVISE_POISON_LIMIT && h->poison[i].hash == hash)
			return 1;
	return 0;
}

int
supervise_poisoned_any(const struct supervise_history *h)
{
	size_t i;

	for (i = 0; i < SUPERVISE_POISON_SLOTS; i++)
		if (h->poison[i].count >= SUPERVISE_POISON_LIMIT)
			return 1;
	return 0;
}

void
supervise_reset(struct supervise_history *h)
{
	h->n_start_failures = 0;
	h->n_crashes = 0;
	h->backoff_step = 0;
	h->failed = 0;
	memset(h->poison, 0, sizeof(h->poison));
}

void
supervise_history_free(struct supervise_history *h)
{
	free(h->start_failures);
	free(h->crashes);
	memset(h, 0, sizeof(*h));
}
