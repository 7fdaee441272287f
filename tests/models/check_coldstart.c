/*
 * check_coldstart.c: a model started with no state on a live stream learns
 * before it judges. It never fires on normal traffic while it learns (every
 * model, slices of 1 to 1000 events per bucket, many seeds), never fires
 * before its warm-up, and detects a x10 failure burst once it has seen
 * enough: the bounds of the table in models/engine.h (measured by
 * models_coldstart, coldstart.c), with delays worked out from closed forms.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/count_cusum.h"
#include "models/engine.h"
#include "models/model.h"
#include "models/stats.h"
#include "tests/models/coldstart.h"
#include "tests/models/sim.h"

static const double sizes[] = {1, 10, 100, 1000};

/* An hour of normal traffic from a cold start (the warm-up and two
 * half-lives), 200 seeds per size without a parent and 100 with one: no
 * failure-ratio alarm, ever. (models_coldstart runs 20,800 cold starts of up
 * to four hours without one.) */
START_TEST(test_ratio_quiet_while_learning)
{
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int k = 0; k < 300; k++) {
            double prior = k < 200 ? NAN : COLD_P0;
            cold_run_t r =
                cold_ratio_run(1000000u + 1000u * s + (uint64_t)k, sizes[s], 3600, prior);
            ck_assert_msg(!r.early, "%g attempts/s, seed %d: fired at %lld ms", sizes[s], k,
                          (long long)r.first_ms);
        }
    }
}
END_TEST

/* The count models likewise: Poisson counts of 1 to 1000 per bucket for an
 * hour from a cold start, 100 seeds each, neither an error burst nor a
 * volume drop. */
START_TEST(test_counts_quiet_while_learning)
{
    static const char *const names[] = {"count_cusum_up", "count_cusum_down"};

    for (size_t m = 0; m < 2; m++) {
        const fs_model_vtable_t *model = fs_model_find(names[m]);
        fs_model_params_t params = cold_params(model);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (int k = 0; k < 100; k++) {
                fs_count_state_t state;
                sim_rng_t rng;
                sim_seed(&rng, 2000000u + 10000u * m + 1000u * s + (uint64_t)k);
                model->init(&state, &params);
                for (int64_t b = 0; b < 3600; b++) {
                    fs_model_obs_t obs = {.bucket_start_ms = 1704067200000LL + b * 1000,
                                          .n = 0,
                                          .x = sim_poisson(&rng, sizes[s]),
                                          .prior = NAN};
                    fs_model_verdict_t v;
                    model->update(&state, &params, &obs, &v);
                    ck_assert_msg(!v.firing, "%s, %g per bucket, seed %d: fired at bucket %lld",
                                  names[m], sizes[s], k, (long long)b);
                }
            }
        }
    }
}
END_TEST

/* No alarm before the warm-up (300 buckets), even when the slice is born
 * into a burst: a burst from the first bucket, or from the 120th, fires
 * nowhere before bucket 300. (Where it is learned before the warm-up ends,
 * it is taken for normal: the table's 0% columns.) */
START_TEST(test_never_before_warmup)
{
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int k = 0; k < 50; k++) {
            cold_run_t a = cold_ratio_run(3000000u + 1000u * s + (uint64_t)k, sizes[s], 0, NAN);
            cold_run_t b = cold_ratio_run(3100000u + 1000u * s + (uint64_t)k, sizes[s], 120, NAN);
            ck_assert(a.first_ms < 0 || a.first_ms >= 300 * 1000);
            ck_assert(b.first_ms < 0 || b.first_ms >= 300 * 1000);
        }
    }
}
END_TEST

/* Median of the detection delays of `seeds` runs; writes the share
 * detected. */
static double median_delay(double n, int64_t history, double prior, uint64_t base, int seeds,
                           double *share)
{
    int64_t delays[200];
    int detected = 0;

    ck_assert_int_le(seeds, 200);
    for (int k = 0; k < seeds; k++) {
        cold_run_t r = cold_ratio_run(base + (uint64_t)k, n, history, prior);
        ck_assert(!r.early);
        if (r.delay >= 0)
            delays[detected++] = r.delay;
    }
    *share = (double)detected / seeds;
    if (detected == 0)
        return INFINITY;
    /* A small insertion sort: at most 200 values. */
    for (int i = 1; i < detected; i++)
        for (int j = i; j > 0 && delays[j - 1] > delays[j]; j--) {
            int64_t t = delays[j];
            delays[j] = delays[j - 1];
            delays[j - 1] = t;
        }
    return (double)delays[detected / 2];
}

/* With 10 or more attempts per bucket the warm-up is all the history a
 * slice needs. A burst starting on the first warm bucket (history 300) is
 * detected by every seed, as fast as in a fully warm slice: the x10 arm
 * gains n * KL(10% || 1%) = 0.1445 n per bucket on average, so at 10
 * attempts about h / 1.445 = 14.6 buckets; at 100 and 1000 each bucket's
 * evidence is capped at h / 2 and the second bucket fires (delay 1). */
START_TEST(test_busy_slices_need_the_warmup)
{
    static const struct {
        double n, lo, hi;
    } cases[] = {{10, 10, 25}, {100, 1, 2}, {1000, 1, 2}};
    const fs_model_vtable_t *model = fs_model_find("ratio_cusum");
    double kl = fs_kl_binomial(COLD_MULT * COLD_P0, COLD_P0), h = cold_params(model).threshold;

    ck_assert_double_eq_tol(kl, 0.1445, 1e-4);
    ck_assert_double_eq_tol(h / (10.0 * kl), 14.6, 0.2);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        double share, median = median_delay(cases[c].n, 300, NAN, 4000000u, 100, &share);
        ck_assert_msg(share >= 0.99, "%g attempts/s: %.0f%% detected", cases[c].n, 100 * share);
        ck_assert_double_ge(median, cases[c].lo);
        ck_assert_double_le(median, cases[c].hi);
    }
}
END_TEST

/* One attempt per bucket is the slow case: the x10 arm gains 0.1445 per
 * bucket, so detection takes about h / 0.1445 = 146 buckets or more, and
 * meanwhile the baseline learns part of the burst (one failure is inside
 * its clip band); with little history that part is large and the evidence
 * fades. So a slice needs about 45 minutes of history on its own (2700
 * buckets: 94% in the table), 30 minutes with its parent's ratio as a prior
 * (1800: 96%), and at 10 minutes it misses most bursts. */
START_TEST(test_tiny_slice_needs_history)
{
    double share, median;

    median = median_delay(1, 2700, NAN, 5000000u, 100, &share);
    ck_assert_double_ge(share, 0.85);
    ck_assert_double_ge(median, 140);
    ck_assert_double_le(median, 400);

    median = median_delay(1, 1800, COLD_P0, 5100000u, 100, &share);
    ck_assert_double_ge(share, 0.85);
    ck_assert_double_le(median, 450);

    median_delay(1, 600, NAN, 5200000u, 100, &share);
    ck_assert_double_le(share, 0.2);
    median_delay(1, 600, COLD_P0, 5300000u, 100, &share);
    ck_assert_double_le(share, 0.5);
}
END_TEST

static Suite *coldstart_suite(void)
{
    Suite *s = suite_create("models_coldstart");
    TCase *tc = tcase_create("coldstart");
    /* Millions of seeded buckets; generous for sanitizer builds. */
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_ratio_quiet_while_learning);
    tcase_add_test(tc, test_counts_quiet_while_learning);
    tcase_add_test(tc, test_never_before_warmup);
    tcase_add_test(tc, test_busy_slices_need_the_warmup);
    tcase_add_test(tc, test_tiny_slice_needs_history);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(coldstart_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
