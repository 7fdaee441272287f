/*
 * check_count_cusum.c: the count models on constructed and seeded series.
 * count_cusum_up (error counts): rises caught with their onset, rare-error
 * slices quiet in control; judged against the traffic that produced them
 * (the exposure of models/engine.h): the expected count of a surge on
 * constructed series, benign surges, back-to-back surges and rollouts never
 * paged, retry storms caught, buckets without attempts judged as before.
 * count_cusum_down (attempt volume): falls caught with their onset and
 * resolved, tiny volumes never paged, skipped buckets counted as zero,
 * over-dispersed counts absorbed.
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

/* Feeds the next bucket with n attempts and x events; returns firing. */
static int feed_nx(slice_t *sl, double n, double x)
{
    fs_model_obs_t obs = {.bucket_start_ms = ms(sl->bucket), .n = n, .x = x, .prior = NAN};
    sl->model->update(sl->state, &sl->params, &obs, &sl->v);
    sl->bucket++;
    return sl->v.firing;
}

/* Feeds the next bucket with no attempts: for count_cusum_up, the count
 * judged against its history alone. */
static int feed(slice_t *sl, double x)
{
    return feed_nx(sl, 0, x);
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

/* ---- exposure: errors judged against the traffic ---- */

/* The error ratio of the playback workloads: 3% of attempts send an error. */
#define ERROR_RATIO 0.03

/* The decayed bucket count of a baseline after `buckets` learned buckets
 * with the tests' half-life of 600: sum over k < buckets of 2^(-k/600). */
static double decayed_buckets(int buckets)
{
    double d = exp2(-1.0 / 600.0), b = 0.0;
    for (int i = 0; i < buckets; i++)
        b = d * b + 1.0;
    return b;
}

/* Constructed series (no noise), worked out from the rule in engine.h.
 * 3000 buckets of 1000 attempts and 30 errors: the baseline expects
 * (X + 0.5) / B = 30 + 0.5 / B errors and 1000 attempts per bucket
 * (B = 839.0 decayed buckets). A slice expecting 1000 attempts judges each
 * bucket's traffic alone, with the gate at 3 sqrt(1000) = 94.9 attempts
 * above expectation:
 *  - 1050 attempts (50 above: noise): f = 1, 30.0006 expected;
 *  - 2000 attempts: f = 2000 / 1000, 60.001 expected (60 errors: no
 *    evidence at all, the statistic stays 0);
 *  - 0 attempts or 500: never below the baseline, 30 expected.
 * The baseline learns each bucket (the errors follow the traffic, so
 * nothing is clipped), which moves it by at most 0.2% over these buckets. */
START_TEST(test_exposure_busy_constructed)
{
    slice_t sl;
    double rate = 30.0 + 0.5 / decayed_buckets(3000);

    slice_open(&sl, "count_cusum_up");
    ck_assert_double_eq_tol(decayed_buckets(3000), 839.0, 0.5);
    for (int i = 0; i < 3000; i++)
        ck_assert_int_eq(feed_nx(&sl, 1000, 30), 0);
    ck_assert_double_eq_tol(sl.v.expected, rate, 1e-6);
    ck_assert_int_eq(feed_nx(&sl, 1050, 30), 0);
    ck_assert_double_eq_tol(sl.v.expected, rate, 1e-4);
    ck_assert_int_eq(feed_nx(&sl, 2000, 60), 0);
    ck_assert_double_eq_tol(sl.v.expected, 2.0 * rate, 0.1);
    ck_assert_double_eq(sl.v.score, 0.0);
    ck_assert_int_eq(feed_nx(&sl, 0, 30), 0);
    ck_assert_double_eq_tol(sl.v.expected, rate, 0.1);
    ck_assert_int_eq(feed_nx(&sl, 500, 30), 0);
    ck_assert_double_eq_tol(sl.v.expected, rate, 0.1);
    slice_close(&sl);
}
END_TEST

/* The traffic window of a small slice, constructed: 10 attempts and 0.3
 * errors per bucket for 3000 buckets, then 20 attempts and 0.6 errors. The
 * window forgets 1 - 10/100 = 0.9 per bucket; in steady traffic it holds
 * e = 10 / 0.1 = 100 expected attempts with a variance of
 * v = 10 / (1 - 0.81) = 52.6, so the gate is 3 sqrt(52.6) = 21.8 attempts.
 * After k buckets of 20 it holds 200 - 100 * 0.9^k attempts: 10 above
 * expectation after one bucket, 19 after two (f = 1, 0.3006 expected),
 * 27.1 after three: f = 1.271, 0.382 expected. (The reference learns the
 * 20s too, by 0.1% a bucket: within the tolerance.) The x2 arm gains
 * 0.6 ln 2 - 0.3 = 0.12 in the first bucket, so the verdict's window is
 * these three buckets, expecting 0.3006 * (1 + 1 + 1.271) errors. Once the
 * window is full of the surge, the expected count is the errors per
 * attempt times the attempts, 0.6: the count follows the traffic, the arm
 * is back at 0, and there is nothing to page. */
START_TEST(test_exposure_small_window)
{
    slice_t sl;
    double rate = 0.3 + 0.5 / decayed_buckets(3000);

    slice_open(&sl, "count_cusum_up");
    for (int i = 0; i < 3000; i++)
        feed_nx(&sl, 10, 0.3);
    ck_assert_int_eq(feed_nx(&sl, 20, 0.6), 0);
    ck_assert_double_eq_tol(sl.v.expected, rate, 1e-3);
    ck_assert_int_eq(feed_nx(&sl, 20, 0.6), 0);
    ck_assert_double_eq_tol(sl.v.expected, rate, 1e-3);
    ck_assert_int_eq(feed_nx(&sl, 20, 0.6), 0);
    ck_assert_double_eq(sl.v.window_n, 3.0);
    ck_assert_double_eq_tol(sl.v.expected * sl.v.window_n,
                            rate * (2.0 + (200.0 - 100.0 * pow(0.9, 3)) / 100.0), 0.003);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(feed_nx(&sl, 20, 0.6), 0);
    ck_assert_double_eq_tol(sl.v.expected, 0.6, 0.006);
    slice_close(&sl);
}
END_TEST

/* One seeded bucket of a slice with mu attempts on average, the errors
 * per attempt multiplied by error_x; returns firing. */
static int feed_traffic(slice_t *sl, sim_rng_t *rng, double mu, double error_x)
{
    double n = sim_poisson(rng, mu);
    return feed_nx(sl, n, sim_poisson(rng, ERROR_RATIO * error_x * n));
}

/* A slice judged with its attempts and one judged on the same errors
 * without them (n = 0: the count model as it was before exposure). */
typedef struct pair {
    slice_t sl, plain;
    int fired, plain_fired; /* buckets in which each was firing */
} pair_t;

static void pair_open(pair_t *pr)
{
    slice_open(&pr->sl, "count_cusum_up");
    slice_open(&pr->plain, "count_cusum_up");
    pr->fired = 0;
    pr->plain_fired = 0;
}

static void pair_close(pair_t *pr)
{
    slice_close(&pr->sl);
    slice_close(&pr->plain);
}

/* One seeded bucket of mu attempts on average, errors at 3% of them. */
static void pair_feed(pair_t *pr, sim_rng_t *rng, double mu)
{
    double n = sim_poisson(rng, mu);
    double x = sim_poisson(rng, ERROR_RATIO * n);

    pr->fired += feed_nx(&pr->sl, n, x);
    pr->plain_fired += feed(&pr->plain, x);
}

/* The decoys of the standard suite, in one series: after 1800 buckets of
 * normal traffic, 600 buckets of traffic x2, 600 normal, 600 at x1.5 (a
 * second surge while the baseline still holds part of the first, which
 * paged through a reference that had learned the first), 600 normal, the
 * errors following the attempts at 3%. Four slice sizes (3 to 3000 attempts
 * per bucket), ten seeds each: no alarm. The same errors judged without
 * their attempts (n = 0, the count model before exposure) page on every
 * busy slice: 180 errors against 90 expected is x2 at once. */
START_TEST(test_surges_not_paged)
{
    static const double sizes[] = {3.0, 30.0, 300.0, 3000.0};
    static const double factor[] = {1.0, 2.0, 1.0, 1.5, 1.0};
    static const int length[] = {1800, 600, 600, 600, 600};

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int plain_paged = 0;
        for (uint64_t seed = 1; seed <= 10; seed++) {
            pair_t pr;
            sim_rng_t rng;

            sim_seed(&rng, 100 * seed + k);
            pair_open(&pr);
            for (size_t p = 0; p < sizeof(factor) / sizeof(factor[0]); p++)
                for (int i = 0; i < length[p]; i++)
                    pair_feed(&pr, &rng, sizes[k] * factor[p]);
            ck_assert_int_eq(pr.fired, 0);
            plain_paged += pr.plain_fired > 0;
            pair_close(&pr);
        }
        if (sizes[k] >= 300.0)
            ck_assert_int_eq(plain_paged, 10);
    }
}
END_TEST

/* A rollout: a new version's slice born with the first of its traffic,
 * which ramps up linearly to 300 attempts per bucket over an hour (3600
 * buckets) and stays there for another 1800; errors at 3% of its
 * attempts. The baseline lags the ramp (by about a half-life), the
 * reference lags it alike, and the expected count follows the traffic:
 * no alarm in ten seeds. Judged by their count alone the same errors look
 * like a slow rise: at the end of the ramp the plain baseline expects
 * roughly half of them. */
START_TEST(test_rollout_not_paged)
{
    int plain_paged = 0;

    for (uint64_t seed = 1; seed <= 10; seed++) {
        pair_t pr;
        sim_rng_t rng;

        sim_seed(&rng, 300 + seed);
        pair_open(&pr);
        for (int b = 0; b < 5400; b++)
            pair_feed(&pr, &rng, 300.0 * fmin((b + 1) / 3600.0, 1.0));
        ck_assert_int_eq(pr.fired, 0);
        plain_paged += pr.plain_fired > 0;
        pair_close(&pr);
    }
    ck_assert_int_ge(plain_paged, 5);
}
END_TEST

/* Retry storms: traffic and errors rise together, the errors faster. On
 * 1000 attempts per bucket (30 errors), traffic x2:
 *  - errors x10 (x5 per attempt): 300 against the 60 that x2 traffic
 *    explains; the x4.5 arm gains 300 ln 4.47 - 3.47 * 60 = 241 (capped at
 *    h/2), so it fires in the storm's second bucket, with the onset at its
 *    first (or a noisy bucket or two before) and the expected count at 60,
 *    not 30;
 *  - errors x4 (x2 per attempt): 120 against 60; the x2 arm gains
 *    120 ln 2 - 60 = 23 a bucket, so it fires within a few buckets.
 * On 30 attempts per bucket (0.9 errors), x2 traffic and x10 errors: 18
 * against 1.8; the x10 arm gains 18 ln 10 - 9 * 1.8 = 25 a bucket, and the
 * window (forgetting 0.3 a bucket) has caught up with the traffic within
 * three: it fires within five buckets. Three seeds each. */
START_TEST(test_retry_storm)
{
    static const struct {
        double mu, error_x;
        int within;
    } cases[] = {{1000.0, 5.0, 2}, {1000.0, 2.0, 10}, {30.0, 5.0, 5}};

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            slice_t sl;
            sim_rng_t rng;
            int64_t jump = 2000, fired_at = -1;

            sim_seed(&rng, 400 + 10 * seed + k);
            slice_open(&sl, "count_cusum_up");
            for (int i = 0; i < jump; i++)
                ck_assert_int_eq(feed_traffic(&sl, &rng, cases[k].mu, 1.0), 0);
            for (int i = 0; i < 60 && fired_at < 0; i++)
                if (feed_traffic(&sl, &rng, 2.0 * cases[k].mu, cases[k].error_x))
                    fired_at = sl.bucket - 1;
            ck_assert_int_ge(fired_at, jump + 1);
            ck_assert_int_le(fired_at, jump + cases[k].within - 1);
            /* The onset is the storm's first bucket, or a bucket or two
             * before it when the arm was on a noisy excursion already. */
            ck_assert_int_ge(sl.v.onset_ms, ms(jump - 2));
            ck_assert_int_le(sl.v.onset_ms, ms(jump));
            if (cases[k].mu >= 1000.0)
                ck_assert_double_eq_tol(sl.v.expected, 2.0 * ERROR_RATIO * cases[k].mu, 3.0);
            slice_close(&sl);
        }
}
END_TEST

/* Buckets without attempts: clients that cannot play send no playback
 * events, while their errors still arrive. On 100 attempts and 3 errors per
 * bucket, 30 errors in each of two buckets with no attempts fire in the
 * second with the onset at the first, as the plain count model does on the
 * same errors (x10: 30 ln 10 - 9 * 3 = 42 capped at h/2 per bucket), and
 * against the same expected count (3, within the noise that the few
 * buckets where the traffic gate opened by chance leave in the baseline).
 * Traffic that stops while the errors go on as usual is no error burst:
 * 600 buckets of no attempts and 3 errors each do not fire (a volume drop
 * is the volume model's). */
START_TEST(test_no_attempts)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        pair_t pr;
        slice_t sl;
        sim_rng_t rng;

        sim_seed(&rng, 500 + seed);
        pair_open(&pr);
        for (int i = 0; i < 2000; i++)
            pair_feed(&pr, &rng, 100.0);
        ck_assert_int_eq(pr.fired, 0);
        ck_assert_int_eq(feed_nx(&pr.sl, 0, 30), 0);
        ck_assert_int_eq(feed(&pr.plain, 30), 0);
        ck_assert_int_eq(feed_nx(&pr.sl, 0, 30), 1);
        ck_assert_int_eq(feed(&pr.plain, 30), 1);
        ck_assert_int_eq(pr.sl.v.onset_ms, ms(2000));
        ck_assert_int_eq(pr.sl.v.onset_ms, pr.plain.v.onset_ms);
        ck_assert_double_eq_tol(pr.sl.v.expected, 3.0, 0.3);
        ck_assert_double_eq_tol(pr.sl.v.expected, pr.plain.v.expected, 0.05 * pr.plain.v.expected);
        pair_close(&pr);

        slice_open(&sl, "count_cusum_up");
        for (int i = 0; i < 2000; i++)
            ck_assert_int_eq(feed_traffic(&sl, &rng, 100.0, 1.0), 0);
        for (int i = 0; i < 600; i++)
            ck_assert_int_eq(feed_nx(&sl, 0, sim_poisson(&rng, 3.0)), 0);
        slice_close(&sl);
    }
}
END_TEST

/* The onsets of the rise cases hold with steady traffic passed along:
 * test_error_rise's series (20 errors per bucket rising to 100) on 1000
 * attempts per bucket that do not change fires in the same bucket with the
 * same onset and window as without them; test_rare_errors' (one error in
 * 100 buckets, then 30 in each of two) on 10 attempts per bucket too. */
START_TEST(test_onsets_with_steady_traffic)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        slice_t sl, plain;
        sim_rng_t rng;
        int64_t jump = 1000;

        sim_seed(&rng, seed);
        slice_open(&sl, "count_cusum_up");
        slice_open(&plain, "count_cusum_up");
        for (int i = 0; i < jump; i++) {
            double x = sim_poisson(&rng, 20.0);
            ck_assert_int_eq(feed_nx(&sl, 1000, x), 0);
            ck_assert_int_eq(feed(&plain, x), 0);
        }
        for (int i = 0; i < 10 && !plain.v.firing; i++) {
            double x = sim_poisson(&rng, 100.0);
            ck_assert_int_eq(feed_nx(&sl, 1000, x), feed(&plain, x));
        }
        ck_assert_int_eq(sl.v.firing, 1);
        ck_assert_int_eq(sl.v.onset_ms, ms(jump));
        ck_assert_int_eq(sl.v.onset_ms, plain.v.onset_ms);
        ck_assert_double_eq(sl.v.window_n, plain.v.window_n);
        ck_assert_double_eq_tol(sl.v.expected, plain.v.expected, 1e-9);
        slice_close(&sl);
        slice_close(&plain);
    }
    {
        slice_t sl;
        sim_rng_t rng;

        sim_seed(&rng, 5);
        slice_open(&sl, "count_cusum_up");
        for (int i = 0; i < 50000; i++)
            ck_assert_int_eq(feed_nx(&sl, 10, sim_poisson(&rng, 0.01)), 0);
        ck_assert_int_eq(feed_nx(&sl, 10, 30), 0);
        ck_assert_int_eq(feed_nx(&sl, 10, 30), 1);
        ck_assert_int_eq(sl.v.onset_ms, ms(sl.bucket - 2));
        ck_assert_double_eq(sl.v.window_x, 60.0);
        slice_close(&sl);
    }
}
END_TEST

/* In control with traffic: 30,000 buckets of Poisson attempts (5 and 500
 * per bucket) and errors at 3% of them, three seeds each: no alarm. */
START_TEST(test_in_control_with_traffic)
{
    static const double sizes[] = {5.0, 500.0};

    for (size_t k = 0; k < 2; k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            slice_t sl;
            sim_rng_t rng;
            int fired = 0;

            sim_seed(&rng, 600 + 10 * seed + k);
            slice_open(&sl, "count_cusum_up");
            for (int i = 0; i < 30000; i++)
                fired += feed_traffic(&sl, &rng, sizes[k], 1.0);
            ck_assert_int_eq(fired, 0);
            slice_close(&sl);
        }
}
END_TEST

static Suite *count_suite(void)
{
    Suite *s = suite_create("models_count_cusum");
    TCase *tc = tcase_create("up");
    tcase_add_test(tc, test_error_rise);
    tcase_add_test(tc, test_rare_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("exposure");
    tcase_add_test(tc, test_exposure_busy_constructed);
    tcase_add_test(tc, test_exposure_small_window);
    tcase_add_test(tc, test_surges_not_paged);
    tcase_add_test(tc, test_rollout_not_paged);
    tcase_add_test(tc, test_retry_storm);
    tcase_add_test(tc, test_no_attempts);
    tcase_add_test(tc, test_onsets_with_steady_traffic);
    tcase_add_test(tc, test_in_control_with_traffic);
    tcase_set_timeout(tc, 60);
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
