/* test_supervise.c - the supervision policy: every path of supervise_exit */
#include <check.h>
#include <stdlib.h>

#include "supervise.h"

static const struct supervision cfg = {
        .stop_grace = 10,
        .interrupt_grace = 3,
        .kill_grace = 5,
        .backoff_initial = 1,
        .backoff_max = 60,
        .crash_budget = 5,
        .crash_window = 600,
};

static const struct supervise_exit start_failure = {.was_ready = 0};
static const struct supervise_exit early_exit = {.was_ready = 1, .ready_for = 2};
static const struct supervise_exit late_exit = {.was_ready = 1, .ready_for = 100};
static const struct supervise_exit busy_crash = {
        .was_ready = 1, .ready_for = 1, .while_busy = 1, .busy_hash = 42};

static struct supervise_decision
decide(struct supervise_history *h, const struct supervise_exit *e, double now, double jitter)
{
	struct supervise_decision d;

	supervise_exit(h, &cfg, e, now, jitter, &d);
	return d;
}

START_TEST(requested_exit_is_nothing)
{
	struct supervise_history h = {0};
	struct supervise_exit e = {.requested = 1, .while_busy = 1, .busy_hash = 7};
	struct supervise_decision d;
	int i;

	for (i = 0; i < 20; i++) {
		d = decide(&h, &e, i, 0.5);
		ck_assert_int_eq(d.action, SUPERVISE_NONE);
		ck_assert_int_eq(d.start_failure, 0);
	}
	ck_assert_uint_eq(h.n_crashes + h.n_start_failures, 0);
	ck_assert_int_eq(supervise_poisoned(&h, 7), 0); /* a stop mid-request is not a crash */
	supervise_history_free(&h);
}
END_TEST

/* Start-up failures back off 1, 2, 4, 8 s (jitter 0.5 is exact), then the
 * fifth inside the window fails the target. */
START_TEST(start_failures_back_off_then_fail)
{
	struct supervise_history h = {0};
	struct supervise_decision d;
	double want[] = {1, 2, 4, 8};
	int i;

	for (i = 0; i < 4; i++) {
		d = decide(&h, &start_failure, i * 10.0, 0.5);
		ck_assert_int_eq(d.action, SUPERVISE_BACKOFF);
		ck_assert_int_eq(d.start_failure, 1);
		ck_assert_double_eq_tol(d.delay, want[i], 1e-9);
	}
	d = decide(&h, &start_failure, 40, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_FAIL);
	ck_assert_int_eq(d.start_failure, 1);
	ck_assert_uint_eq(d.failures, 5);
	ck_assert_str_eq(d.what, "start-up failures");
	ck_assert_int_eq(h.failed, 1);
	/* failed already and under the budget again later: counted, no backoff */
	d = decide(&h, &late_exit, 10000, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_COUNTED);
	supervise_history_free(&h);
}
END_TEST

START_TEST(backoff_capped_and_jittered)
{
	struct supervise_history h = {0};
	struct supervise_decision d;
	struct supervision small = cfg;
	int i;

	small.crash_budget = 1000;
	for (i = 0; i < 12; i++)
		supervise_exit(&h, &small, &early_exit, i, 0.5, &d);
	ck_assert_int_eq(d.action, SUPERVISE_BACKOFF);
	ck_assert_double_eq_tol(d.delay, 60, 1e-9); /* 2^11 capped at backoff_max */
	supervise_exit(&h, &small, &early_exit, 13, 0, &d);
	ck_assert_double_eq_tol(d.delay, 54, 1e-9); /* -10% */
	supervise_exit(&h, &small, &early_exit, 14, 1, &d);
	ck_assert_double_eq_tol(d.delay, 66, 1e-9);         /* +10% */
	supervise_exit(&h, &small, &early_exit, 15, 7, &d); /* out of range: clamped */
	ck_assert_double_eq_tol(d.delay, 66, 1e-9);
	supervise_history_free(&h);
}
END_TEST

/* A worker that ran a while before it died restarts at once and resets the
 * backoff; one that died soon after it was ready waits. */
START_TEST(late_exit_restarts_and_resets_backoff)
{
	struct supervise_history h = {0};
	struct supervise_decision d;

	d = decide(&h, &early_exit, 0, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_BACKOFF);
	ck_assert_int_eq(d.start_failure, 0);
	d = decide(&h, &early_exit, 1, 0.5);
	ck_assert_double_eq_tol(d.delay, 2, 1e-9);
	d = decide(&h, &late_exit, 2, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_RESTART);
	ck_assert_uint_eq(h.backoff_step, 0);
	d = decide(&h, &early_exit, 3, 0.5);
	ck_assert_double_eq_tol(d.delay, 1, 1e-9); /* from the start again */
	supervise_history_free(&h);
}
END_TEST

/* A crash while running a request is the request's doing: it counts
 * against the budget but needs no wait, even right after ready; the code
 * that did it twice is poisoned. */
START_TEST(busy_crash_poisons_code)
{
	struct supervise_history h = {0};
	struct supervise_decision d;

	ck_assert_int_eq(supervise_poisoned_any(&h), 0);
	d = decide(&h, &busy_crash, 0, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_RESTART);
	ck_assert_int_eq(supervise_poisoned(&h, 42), 0);
	ck_assert_int_eq(supervise_poisoned_any(&h), 0);
	d = decide(&h, &busy_crash, 1, 0.5);
	ck_assert_int_eq(supervise_poisoned(&h, 42), 1);
	ck_assert_int_eq(supervise_poisoned(&h, 43), 0);
	ck_assert_int_eq(supervise_poisoned_any(&h), 1);
	ck_assert_uint_eq(h.n_crashes, 2);
	supervise_reset(&h);
	ck_assert_int_eq(supervise_poisoned(&h, 42), 0);
	ck_assert_int_eq(supervise_poisoned_any(&h), 0);
	supervise_history_free(&h);
}
END_TEST

/* Crashes and start-up failures are counted apart, and only inside the
 * window. */
START_TEST(budgets_apart_and_windowed)
{
	struct supervise_history h = {0};
	struct supervise_decision d;
	int i;

	for (i = 0; i < 4; i++)
		d = decide(&h, &start_failure, i, 0.5);
	for (i = 0; i < 4; i++)
		d = decide(&h, &late_exit, 10 + i, 0.5);
	ck_assert_int_ne(d.action, SUPERVISE_FAIL); /* 4 + 4, each under 5 */
	d = decide(&h, &late_exit, 700, 0.5);       /* the first four crashes left the window */
	ck_assert_int_eq(d.action, SUPERVISE_RESTART);
	ck_assert_uint_eq(h.n_crashes, 1);
	d = decide(&h, &start_failure, 700.5, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_BACKOFF);
	ck_assert_uint_eq(h.n_start_failures, 1);
	for (i = 0; i < 3; i++)
		d = decide(&h, &late_exit, 701 + i, 0.5);
	d = decide(&h, &late_exit, 705, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_FAIL);
	ck_assert_str_eq(d.what, "crashes");
	ck_assert_uint_eq(d.failures, 5);
	supervise_reset(&h); /* hotloadctl start */
	ck_assert_int_eq(h.failed, 0);
	d = decide(&h, &late_exit, 706, 0.5);
	ck_assert_int_eq(d.action, SUPERVISE_RESTART);
	supervise_history_free(&h);
}
END_TEST

/* The poison table keeps the codes that crashed most when it is full. */
START_TEST(poison_table_evicts_least)
{
	struct supervise_history h = {0};
	struct supervision big = cfg;
	struct supervise_exit e = busy_crash;
	struct supervise_decision d;
	uint64_t k;

	big.crash_budget = 1000;
	e.busy_hash = 1;
	supervise_exit(&h, &big, &e, 0, 0.5, &d);
	supervise_exit(&h, &big, &e, 0, 0.5, &d); /* 1 crashed twice */
	for (k = 100; k < 100 + 3 * SUPERVISE_POISON_SLOTS; k++) {
		e.busy_hash = k;
		supervise_exit(&h, &big, &e, 0, 0.5, &d);
	}
	ck_assert_int_eq(supervise_poisoned(&h, 1), 1);
	supervise_history_free(&h);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("supervise");
	TCase *tc = tcase_create("policy");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, requested_exit_is_nothing);
	tcase_add_test(tc, start_failures_back_off_then_fail);
	tcase_add_test(tc, backoff_capped_and_jittered);
	tcase_add_test(tc, late_exit_restarts_and_resets_backoff);
	tcase_add_test(tc, busy_crash_poisons_code);
	tcase_add_test(tc, budgets_apart_and_windowed);
	tcase_add_test(tc, poison_table_evicts_least);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
