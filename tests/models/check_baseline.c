/*
 * check_baseline.c: models/baseline (decay, clipping, shrinkage toward the
 * parent, dispersion) and models/cusum (onset tracking), against closed forms
 * and seeded simulations with known dispersion.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "models/baseline.h"
#include "models/cusum.h"
#include "tests/models/sim.h"

#define REL_CLOSE(a, b, tol) ck_assert_double_le(fabs((a) - (b)), (tol)*fabs(b))

/* After a step from ratio 1% to 2%, one half-life later the estimate is
 * halfway: with decay a per bucket and a long history at 1%, the decayed
 * sums are 10/(1-a) * (a^H) + 20/(1-a) * (1 - a^H) failures over 1000/(1-a)
 * attempts, and a^H = 1/2 at the half-life. */
START_TEST(test_halflife)
{
    fs_baseline_t b;
    double halflife = 600.0, a = exp2(-1.0 / halflife), expect;
    int i;

    fs_baseline_init(&b);
    for (i = 0; i < 30 * 600; i++)
        fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, a, 1000, 10,
                          fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN), i > 300);
    for (i = 0; i < 600; i++)
        fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, a, 1000, 20,
                          fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN), 1);
    expect = (15.0 / (1.0 - a) + 0.5) / (1000.0 / (1.0 - a) + 1.0);
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN), expect, 1e-6);
}
END_TEST

/* One bucket in which every attempt fails moves a warm baseline by at most
 * its clip band (4 standard deviations + 1 failure), not by 990 failures. */
START_TEST(test_clip_outlier)
{
    fs_baseline_t b;
    double a = exp2(-1.0 / 600.0), before, after, phi, band;

    fs_baseline_init(&b);
    for (int i = 0; i < 6000; i++)
        fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, a, 1000, 10,
                          fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN), 1);
    before = fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN);
    phi = fs_baseline_dispersion(&b);
    band = 4.0 * sqrt(phi * 1000 * before * (1 - before)) + 1.0;
    fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, a, 1000, 1000, before, 1);
    after = fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN);
    /* The band, plus the small shift from forgetting one bucket. */
    ck_assert_double_le(after - before, (band + 1.0) / b.trials);
    ck_assert_double_lt(after - before, 0.2 * 990.0 / b.trials);
    /* Dispersion takes the outlier at most as 16 phi variances. */
    ck_assert_double_le(fs_baseline_dispersion(&b),
                        phi + 16.0 * phi * 1000 * before / b.disp_weight + 1e-12);
}
END_TEST

/* Shrinkage toward the parent: w = 10 / q pseudo-trials at rate q. */
START_TEST(test_prior_weight)
{
    fs_baseline_t b;

    fs_baseline_init(&b);
    for (int i = 0; i < 40; i++)
        fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, 1.0, 5, 0, 0.01, 0);
    /* 200 attempts, no failure: on its own (0 + 0.5) / (200 + 1); with a
     * parent at 1%, w = 1000: (0 + 10 + 0.5) / (200 + 1000 + 1). */
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN), 0.5 / 201.0, 1e-12);
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, 0.01), 10.5 / 1201.0, 1e-12);

    /* Poisson: 50 buckets, 25 events; a prior of 2 per bucket weighs
     * 5 buckets: (25 + 10 + 0.5) / (50 + 5). */
    fs_baseline_init(&b);
    for (int i = 0; i < 50; i++)
        fs_baseline_learn(&b, FS_FAMILY_POISSON, 1.0, 1, i % 2, 0.5, 0);
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_POISSON, NAN), 25.5 / 50.0, 1e-12);
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_POISSON, 2.0), 35.5 / 55.0, 1e-12);

    /* A busy slice barely moves: 1e6 attempts at 2% against a parent at 1%. */
    fs_baseline_init(&b);
    fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, 1.0, 1e6, 2e4, 0.02, 0);
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, 0.01), 0.02, 1e-3);
}
END_TEST

/* Dispersion: about 1 for binomial data; for a ratio that wanders as
 * p_t = p0 exp(s z - s^2/2) around p0 = 1% with n = 1000, the expected squared
 * Pearson residual is (p0 - p0^2 e^(s^2) + n p0^2 (e^(s^2) - 1)) /
 * (p0 (1 - p0)) = 3.8658 at s = 0.5 (worked by hand). */
START_TEST(test_dispersion_binomial)
{
    static const struct {
        double sigma, phi, tol;
    } cases[] = {{0.0, 1.0, 0.08}, {0.5, 3.8658, 0.15}};
    double a = exp2(-1.0 / 2000.0);
    sim_rng_t rng;

    sim_seed(&rng, 99);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        fs_baseline_t b;
        double s = cases[c].sigma;
        fs_baseline_init(&b);
        for (int i = 0; i < 30000; i++) {
            double p = 0.01 * exp(s * sim_normal(&rng) - 0.5 * s * s);
            double rate = fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN);
            fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, a, 1000, sim_binomial(&rng, 1000, p), rate,
                              i > 500);
        }
        REL_CLOSE(fs_baseline_dispersion(&b), cases[c].phi, cases[c].tol);
        REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN), 0.01, 0.05);
    }
}
END_TEST

/* Poisson counts with mean 200 wandering by s = 0.3: expected squared
 * Pearson residual 1 + 200 (e^0.09 - 1) = 19.834. */
START_TEST(test_dispersion_poisson)
{
    static const struct {
        double sigma, phi, tol;
    } cases[] = {{0.0, 1.0, 0.08}, {0.3, 19.834, 0.15}};
    double a = exp2(-1.0 / 2000.0);
    sim_rng_t rng;

    sim_seed(&rng, 123);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        fs_baseline_t b;
        double s = cases[c].sigma;
        fs_baseline_init(&b);
        for (int i = 0; i < 30000; i++) {
            double mu = 200.0 * exp(s * sim_normal(&rng) - 0.5 * s * s);
            double rate = fs_baseline_rate(&b, FS_FAMILY_POISSON, NAN);
            fs_baseline_learn(&b, FS_FAMILY_POISSON, a, 1, sim_poisson(&rng, mu), rate, i > 500);
        }
        REL_CLOSE(fs_baseline_dispersion(&b), cases[c].phi, cases[c].tol);
        REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_POISSON, NAN), 200.0, 0.05);
    }
}
END_TEST

/* A binomial bucket without attempts carries no information: the rate and
 * phi stay, only the bucket count and the forgetting move. */
START_TEST(test_empty_bucket)
{
    fs_baseline_t b;
    double a = exp2(-1.0 / 100.0), rate, phi;

    fs_baseline_init(&b);
    for (int i = 0; i < 1000; i++)
        fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, a, 100, i % 3, 0.01, 0);
    rate = fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN);
    phi = fs_baseline_dispersion(&b);
    fs_baseline_learn(&b, FS_FAMILY_BINOMIAL, a, 0, 0, rate, 1);
    /* Only the Jeffreys half-event does not decay, hence a tiny shift. */
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_BINOMIAL, NAN), rate, 1e-4);
    REL_CLOSE(fs_baseline_dispersion(&b), phi, 1e-12);
    ck_assert_double_eq(b.buckets_seen, 1001.0);
    ck_assert_double_eq(b.trials_seen, 100000.0);
}
END_TEST

/* Poisson buckets with an exposure (a seasonal multiplier): the rate is
 * events per unit of exposure, (E + 0.5) / max(N, 1) with N the summed
 * exposure. 100 buckets alternating exposure 0.5 with 5 events and
 * exposure 2 with 20: (1250 + 0.5) / 125. Counts that follow their
 * exposure exactly are no dispersion (phi 1); an exposure of 0 carries no
 * information. */
START_TEST(test_poisson_exposure)
{
    fs_baseline_t b;
    double rate, phi;

    fs_baseline_init(&b);
    for (int i = 0; i < 100; i++) {
        double m = i % 2 ? 2.0 : 0.5;
        fs_baseline_learn(&b, FS_FAMILY_POISSON, 1.0, m, 10.0 * m,
                          fs_baseline_rate(&b, FS_FAMILY_POISSON, NAN), i > 10);
    }
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_POISSON, NAN), 1250.5 / 125.0, 1e-12);
    ck_assert_double_eq(b.trials_seen, 125.0);
    ck_assert_double_eq(fs_baseline_dispersion(&b), 1.0);
    /* A prior of 10 per unit weighs 10 / 10 = 1 unit of exposure. */
    REL_CLOSE(fs_baseline_rate(&b, FS_FAMILY_POISSON, 10.0), (1250.5 + 10.0) / 126.0, 1e-12);
    rate = fs_baseline_rate(&b, FS_FAMILY_POISSON, NAN);
    phi = fs_baseline_dispersion(&b);
    fs_baseline_learn(&b, FS_FAMILY_POISSON, 1.0, 0.0, 1000.0, rate, 1);
    ck_assert_double_eq(fs_baseline_rate(&b, FS_FAMILY_POISSON, NAN), rate);
    ck_assert_double_eq(fs_baseline_dispersion(&b), phi);
}
END_TEST

/* Onset tracking: an excursion starts with the first bucket that lifts S
 * above 0 and its sums cover exactly the buckets since then. */
START_TEST(test_cusum_onset)
{
    static const double llr[] = {-1, 2, -1, 3, -5, 1, 0, 0.5};
    static const double s_after[] = {0, 2, 1, 4, 0, 1, 1, 1.5};
    static const int64_t start_after[] = {-1, 2000, 2000, 2000, -1, 6000, 6000, 6000};
    static const double buckets_after[] = {0, 1, 2, 3, 0, 1, 2, 3};
    fs_cusum_t c;

    fs_cusum_reset(&c);
    for (int i = 0; i < 8; i++) {
        fs_cusum_step(&c, llr[i], INFINITY, (int64_t)(i + 1) * 1000, 10, i, 0.5);
        ck_assert_double_eq(c.s, s_after[i]);
        if (start_after[i] >= 0)
            ck_assert_int_eq(c.start_ms, start_after[i]);
        ck_assert_double_eq(c.buckets, buckets_after[i]);
    }
    /* Sums since bucket 6: x = 5 + 6 + 7, n = 30, e = 1.5. */
    ck_assert_double_eq(c.x, 18.0);
    ck_assert_double_eq(c.n, 30.0);
    ck_assert_double_eq(c.e, 1.5);

    /* A zero step at S = 0 starts nothing; the cap holds. */
    fs_cusum_reset(&c);
    fs_cusum_step(&c, 0.0, INFINITY, 1000, 0, 0, 0);
    ck_assert_double_eq(c.s, 0.0);
    ck_assert_double_eq(c.buckets, 0.0);
    fs_cusum_step(&c, 7.0, 5.0, 2000, 1, 1, 0);
    ck_assert_double_eq(c.s, 5.0);
}
END_TEST

static Suite *baseline_suite(void)
{
    Suite *s = suite_create("models_baseline");
    TCase *tc = tcase_create("baseline");
    tcase_add_test(tc, test_halflife);
    tcase_add_test(tc, test_clip_outlier);
    tcase_add_test(tc, test_prior_weight);
    tcase_add_test(tc, test_dispersion_binomial);
    tcase_add_test(tc, test_dispersion_poisson);
    tcase_add_test(tc, test_empty_bucket);
    tcase_add_test(tc, test_poisson_exposure);
    suite_add_tcase(s, tc);
    tc = tcase_create("cusum");
    tcase_add_test(tc, test_cusum_onset);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(baseline_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
