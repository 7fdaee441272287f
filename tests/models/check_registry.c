/*
 * check_registry.c: the model registry, the vtables' contract and the
 * budget-to-threshold helper.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/stats.h"

static const struct {
    const char *name;
    fs_signal_t signal;
} registered[] = {
    {"ratio_cusum", FS_SIGNAL_FAILURE_RATIO},
    {"count_cusum_up", FS_SIGNAL_ERROR_COUNT},
    {"count_cusum_down", FS_SIGNAL_VOLUME_DROP},
    {"value_novelty", FS_SIGNAL_VALUE},
};

START_TEST(test_find)
{
    const fs_model_vtable_t *m = fs_model_find(registered[_i].name);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->name, registered[_i].name);
    ck_assert_int_eq(m->signal, registered[_i].signal);
    /* Each is its signal's default. */
    ck_assert_ptr_eq(fs_model_default(registered[_i].signal), m);
    ck_assert_ptr_nonnull(m->init);
    ck_assert_ptr_nonnull(m->update);
    ck_assert_uint_gt(m->state_size, 0);
    ck_assert_uint_eq(m->state_size % 8, 0);
    ck_assert_int_ge(m->tests, 1);
}
END_TEST

START_TEST(test_find_unknown)
{
    ck_assert_ptr_null(fs_model_find("nope"));
    ck_assert_ptr_null(fs_model_find(""));
    ck_assert_ptr_null(fs_model_find(NULL));
    ck_assert_ptr_nonnull(fs_model_default((fs_signal_t)42));
}
END_TEST

/* Every verdict field is written, on a cold state and on an empty bucket. */
START_TEST(test_verdict_complete)
{
    const fs_model_vtable_t *m = fs_model_find(registered[_i].name);
    fs_model_params_t params = {.bucket_seconds = 2.0,
                                .threshold = 15.0,
                                .baseline_halflife = 100.0,
                                .warmup_buckets = 10.0,
                                .min_rate_ratio = 2.0};
    void *state = malloc(m->state_size);
    fs_model_obs_t obs = {.bucket_start_ms = 4000, .n = 0, .x = 0, .prior = NAN};
    fs_model_verdict_t v;

    ck_assert_ptr_nonnull(state);
    m->init(state, &params);
    memset(&v, 0xff, sizeof(v));
    v.observed = v.expected = v.score = v.window_n = v.window_x = v.window_seconds = NAN;
    m->update(state, &params, &obs, &v);
    ck_assert_int_eq(v.firing, 0);
    ck_assert_int_eq(v.onset_ms, 4000);
    ck_assert(isfinite(v.observed) && isfinite(v.expected) && isfinite(v.score));
    ck_assert(isfinite(v.window_n) && isfinite(v.window_x));
    ck_assert_double_eq(v.window_seconds, 2.0);
    free(state);
}
END_TEST

/* fs_model_threshold = fs_cusum_threshold of the budget's per-test ARL0,
 * counting each of the model's tests: 3 arms x 1000 slices at 1 alarm/day
 * with 1 s buckets is an ARL0 of 3000 * 86400. */
START_TEST(test_threshold_budget)
{
    const fs_model_vtable_t *m = fs_model_find("ratio_cusum");
    double h = fs_model_threshold(m, 1.0, 1000.0, 1.0);

    ck_assert_int_eq(m->tests, 3);
    ck_assert_double_eq_tol(h, fs_cusum_threshold(2.592e8), 1e-12);
    ck_assert_double_gt(h, 15.0);
    ck_assert_double_lt(h, log(2.592e8));
    ck_assert(isnan(fs_model_threshold(m, 0.0, 1000.0, 1.0)));
    ck_assert(isnan(fs_model_threshold(m, 1.0, 0.0, 1.0)));
    ck_assert(isnan(fs_model_threshold(NULL, 1.0, 10.0, 1.0)));
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("models_registry");
    TCase *tc = tcase_create("registry");
    int n = (int)(sizeof(registered) / sizeof(registered[0]));
    tcase_add_loop_test(tc, test_find, 0, n);
    tcase_add_test(tc, test_find_unknown);
    tcase_add_loop_test(tc, test_verdict_complete, 0, n);
    tcase_add_test(tc, test_threshold_budget);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(registry_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
