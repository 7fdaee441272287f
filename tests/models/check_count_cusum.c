/*
 * check_count_cusum.c: the count models on constructed and seeded series.
 * count_cusum_up (error counts): rises caught with their onset, rare-error
 * slices quiet in control. count_cusum_down (attempt volume): falls caught
 * with their onset and resolved, tiny volumes never paged, skipped buckets
 * counted as zero, over-dispersed counts absorbed.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/count_cusum.h"
#include "models/engine.h"
#include "models/model.h"
#include "tests/models/sim.h"

typedef struct slice {
    const fs_model_vtable_t *model;
    fs_model_params_t params;
    void *state;
    int64_t bucket; /* index of the next bucket */
    fs_model_verdict_t v;
} slice_t;

static void slice_open(slice_t *sl, const char *name)
{
    sl->model = fs_model_find(name);
    ck_assert_ptr_nonnull(sl->model);
    sl->params.bucket_seconds = 1.0;
    /* 1 false alarm a day over 10,000 slices: h about 20. */
    sl->params.threshold = fs_model_threshold(sl->model, 1.0, 10000.0, 1.0);
    sl->params.baseline_halflife = 600.0;
    sl->params.warmup_buckets = 300.0;
    sl->params.min_rate_ratio = 2.0;
    sl->state = malloc(sl->model->state_size);
    ck_assert_ptr_nonnull(sl->state);
    /* Zeroed first only so that tests may compare states with memcmp. */
    memset(sl->state, 0, sl->model->state_size);
    sl->model->init(sl->state, &sl->params);
    sl->bucket = 0;
    memset(&sl->v, 0, sizeof(sl->v));
}

static void slice_close(slice_t *sl)
{
    free(sl->state);
}

static int64_t ms(int64_t bucket)
{
    return bucket * 1000;
}

static int feed(slice_t *sl, double x)
{
    fs_model_obs_t obs = {.bucket_start_ms = ms(sl->bucket), .n = 0, .x = x, .prior = NAN};
    sl->model->update(sl->state, &sl->params, &obs, &sl->v);
    sl->bucket++;
    return sl->v.firing;
}

/* Feeds `count` Poisson buckets of mean mu; returns how many fired. */
static int feed_poisson(slice_t *sl, sim_rng_t *rng, int count, double mu)
{
    int fired = 0;
    for (int i = 0; i < count; i++)
        fired += feed(sl, sim_poisson(rng, mu));
    return fired;
}

/* Feeds buckets until firing, at most `limit`; returns the bucket index that
 * fired, or -1. */
static int64_t feed_until_fire(slice_t *sl, sim_rng_t *rng, int limit, double mu)
{
    for (int i = 0; i < limit; i++)
        if (feed(sl, sim_poisson(rng, mu)))
            return sl->bucket - 1;
    return -1;
}

/* Errors at 20 per bucket rise to 100: the x4.5 arm gains
 * 100 ln 4.47 - 3.47 * 20 = 80 in the first bucket, capped at h/2; it fires
 * in the second. */
START_TEST(test_error_rise)
{
    static const uint64_t seeds[] = {1, 2, 3};
    for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
        slice_t sl;
        sim_rng_t rng;
        int64_t jump = 1000, fired_at;

        sim_seed(&rng, seeds[k]);
        slice_open(&sl, "count_cusum_up");
        ck_assert_int_eq(feed_poisson(&sl, &rng, (int)jump, 20.0), 0);
        fired_at = feed_until_fire(&sl, &rng, 10, 100.0);
        ck_assert_int_ge(fired_at, jump + 1);
        ck_assert_int_le(fired_at, jump + 2);
        ck_assert_int_eq(sl.v.onset_ms, ms(jump));
        ck_assert_double_eq(sl.v.window_n, (double)(fired_at - jump + 1));
        ck_assert_double_eq_tol(sl.v.observed, 100.0, 25.0);
        ck_assert_double_eq_tol(sl.v.expected, 20.0, 2.0);
        slice_close(&sl);
    }
}
END_TEST

/* A slice with one error every 100 buckets stays quiet for 50,000 buckets;
 * then 30 errors in each of two buckets fire (30 ln 10 = 69 > h, but one
 * bucket counts for h/2 at most). */
START_TEST(test_rare_errors)
{
    slice_t sl;
    sim_rng_t rng;

    sim_seed(&rng, 5);
    slice_open(&sl, "count_cusum_up");
    ck_assert_int_eq(feed_poisson(&sl, &rng, 50000, 0.01), 0);
    ck_assert_int_eq(feed(&sl, 30), 0);
    ck_assert_int_eq(feed(&sl, 30), 1);
    ck_assert_int_eq(sl.v.onset_ms, ms(sl.bucket - 2));
    ck_assert_double_eq(sl.v.window_x, 60.0);
    slice_close(&sl);
}
END_TEST

/* Attempts at 1000 per bucket fall to 200 (0.2x): the 0.3x arm gains
 * 200 ln 0.3 + 700 = 459 in the first bucket (capped at h/2), so it fires in
 * the second. After recovery it resolves within a bounded number of buckets
 * (each normal bucket is KL(Poisson(1000) || Poisson(~200)) = 1000 ln 5 - 800
 * = 809 of recovery evidence, capped at h_rec / 2: R reaches h_rec on the
 * second and the calm run of FS_ENGINE_HOLD_BUCKETS (3) completes on the
 * third, see check_engine.c) and never fires again. */
START_TEST(test_volume_drop)
{
    slice_t sl;
    sim_rng_t rng;
    int64_t jump = 1000, end = 1120, fired_at = -1, resolved_at = -1;
    int transitions = 0, prev = 0;

    sim_seed(&rng, 6);
    slice_open(&sl, "count_cusum_down");
    for (int64_t b = 0; b < 5000; b++) {
        double mu = b >= jump && b < end ? 200.0 : 1000.0;
        int firing = feed(&sl, sim_poisson(&rng, mu));
        if (firing && fired_at < 0) {
            fired_at = b;
            ck_assert_int_eq(sl.v.onset_ms, ms(jump));
            ck_assert_double_eq_tol(sl.v.expected, 1000.0, 30.0);
        }
        if (firing != prev) {
            transitions++;
            if (!firing)
                resolved_at = b;
        }
        if (b > fired_at && fired_at >= 0 && b < end)
            ck_assert(firing);
        prev = firing;
    }
    ck_assert_int_eq(fired_at, jump + 1);
    ck_assert_int_eq(transitions, 2);
    ck_assert_int_ge(resolved_at, end);
    ck_assert_int_le(resolved_at, end + 20);
    slice_close(&sl);
}
END_TEST

/* A slice with 0.05 attempts per bucket goes silent for 300 buckets: 15
 * expected attempts missing is no outage. The 0.1x arm gains only
 * 0.9 * 0.05 = 0.045 per bucket (13.5 < h), and the window floor
 * (FS_COUNT_CUSUM_DROP_MIN_EXPECTED = 20) would hold it anyway. */
START_TEST(test_tiny_volume_not_paged)
{
    slice_t sl;
    sim_rng_t rng;

    sim_seed(&rng, 7);
    slice_open(&sl, "count_cusum_down");
    ck_assert_int_eq(feed_poisson(&sl, &rng, 3000, 0.05), 0);
    for (int i = 0; i < 300; i++)
        ck_assert_int_eq(feed(&sl, 0), 0);
    slice_close(&sl);
}
END_TEST

/* With a threshold set low (h = 3), the CUSUM alone would page on 6
 * expected attempts; the window floor of 20 expected attempts holds it
 * until the missing traffic is worth paging on, and the onset is still the
 * first silent bucket. */
START_TEST(test_drop_window_floor)
{
    slice_t sl;
    sim_rng_t rng;
    int64_t silent = 3000, fired_at = -1;

    sim_seed(&rng, 8);
    slice_open(&sl, "count_cusum_down");
    sl.params.threshold = 3.0;
    for (int i = 0; i < silent; i++)
        feed(&sl, (double)(i % 2)); /* 0.5 per bucket, no noise to speak of */
    for (int i = 0; i < 200 && fired_at < 0; i++)
        if (feed(&sl, 0))
            fired_at = sl.bucket - 1;
    ck_assert_int_ge(fired_at, silent + 39);
    ck_assert_int_le(fired_at, silent + 60);
    ck_assert_int_eq(sl.v.onset_ms, ms(silent));
    ck_assert_double_ge(sl.v.expected * sl.v.window_n, 20.0);
    slice_close(&sl);
}
END_TEST

/* Skipped buckets count as zero attempts: a slice whose caller stops
 * calling during an outage ends up in the same state as one fed zeros, and
 * fires with the onset at the first missing bucket. */
START_TEST(test_gap_is_zero)
{
    slice_t a, b;
    sim_rng_t rng;

    sim_seed(&rng, 9);
    slice_open(&a, "count_cusum_down");
    slice_open(&b, "count_cusum_down");
    for (int i = 0; i < 1000; i++) {
        double x = sim_poisson(&rng, 300.0);
        feed(&a, x);
        feed(&b, x);
    }
    for (int i = 0; i < 20; i++)
        feed(&a, 0);
    b.bucket += 20;
    feed(&a, 0);
    feed(&b, 0);
    ck_assert(memcmp(a.state, b.state, a.model->state_size) == 0);
    ck_assert_int_eq(b.v.firing, 1);
    ck_assert_int_eq(b.v.onset_ms, ms(1000));
    ck_assert_double_eq(b.v.window_seconds, 21.0);
    slice_close(&a);
    slice_close(&b);
}
END_TEST

/* In control for 50,000 buckets, both directions: Poisson counts, and counts
 * whose mean wanders (phi about 20), which the dispersion estimate absorbs. */
START_TEST(test_in_control)
{
    static const char *const names[] = {"count_cusum_up", "count_cusum_down"};
    sim_rng_t rng;

    sim_seed(&rng, 10);
    for (int m = 0; m < 2; m++) {
        slice_t sl;
        int fired = 0;
        slice_open(&sl, names[m]);
        ck_assert_int_eq(feed_poisson(&sl, &rng, 50000, 50.0), 0);
        slice_close(&sl);

        slice_open(&sl, names[m]);
        for (int i = 0; i < 30000; i++)
            fired += feed(&sl, sim_poisson(&rng, 200.0 * exp(0.3 * sim_normal(&rng) - 0.045)));
        ck_assert_int_eq(fired, 0);
        ck_assert_double_eq_tol(((fs_engine_t *)sl.state)->phi, 19.8, 4.0);
        slice_close(&sl);
    }
}
END_TEST

/* While firing nothing is learned: the drop is never taken for normal. */
START_TEST(test_drop_not_learned)
{
    slice_t sl;
    sim_rng_t rng;
    double rate;

    sim_seed(&rng, 11);
    slice_open(&sl, "count_cusum_down");
    feed_poisson(&sl, &rng, 1000, 500.0);
    ck_assert_int_eq(feed(&sl, 0), 0);
    ck_assert_int_eq(feed(&sl, 0), 1);
    rate = ((fs_engine_t *)sl.state)->rate;
    for (int i = 0; i < 3000; i++)
        ck_assert_int_eq(feed(&sl, sim_poisson(&rng, 50.0)), 1);
    ck_assert_double_eq(((fs_engine_t *)sl.state)->rate, rate);
    ck_assert_double_eq_tol(sl.v.expected, 500.0, 10.0);
    slice_close(&sl);
}
END_TEST

static Suite *count_suite(void)
{
    Suite *s = suite_create("models_count_cusum");
    TCase *tc = tcase_create("up");
    tcase_add_test(tc, test_error_rise);
    tcase_add_test(tc, test_rare_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("down");
    tcase_add_test(tc, test_volume_drop);
    tcase_add_test(tc, test_tiny_volume_not_paged);
    tcase_add_test(tc, test_drop_window_floor);
    tcase_add_test(tc, test_gap_is_zero);
    tcase_add_test(tc, test_drop_not_learned);
    suite_add_tcase(s, tc);

    tc = tcase_create("control");
    tcase_add_test(tc, test_in_control);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(count_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
