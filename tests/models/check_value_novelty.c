/*
 * check_value_novelty.c: the value model (models/value_novelty.h) on
 * constructed series whose scores are counted by hand. The range is [0, 16],
 * so a value's fine cell is its integer part and its cell at resolution r
 * (2^r cells) is that integer shifted right by 4 - r; each value has 4
 * resolutions x 3 context lengths = 12 contexts once two values precede it.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/value_novelty.h"

#define CLOSE(a, b) ck_assert_double_le(fabs((a) - (b)), 1e-12)

typedef struct stream {
    const fs_model_vtable_t *model;
    fs_model_params_t params;
    void *state;
    int64_t t; /* index of the next value */
    fs_model_verdict_t v;
} stream_t;

static void stream_open(stream_t *st, double warmup, double rest)
{
    memset(st, 0, sizeof *st);
    st->model = fs_model_find("value_novelty");
    ck_assert_ptr_nonnull(st->model);
    st->params.bucket_seconds = 60.0;
    st->params.warmup_buckets = warmup;
    st->params.value_min = 0.0;
    st->params.value_max = 16.0;
    st->params.rest_buckets = rest;
    st->state = malloc(st->model->state_size);
    ck_assert_ptr_nonnull(st->state);
    /* Filled with garbage first: init must set every byte that matters. */
    memset(st->state, 0xa5, st->model->state_size);
    st->model->init(st->state, &st->params);
}

static double feed(stream_t *st, double x)
{
    fs_model_obs_t obs = {.bucket_start_ms = st->t * 60000, .n = 0.0, .x = x, .prior = NAN};
    st->model->update(st->state, &st->params, &obs, &st->v);
    st->t++;
    ck_assert(st->v.score >= 0.0 && st->v.score <= 1.0);
    return st->v.score;
}

static void stream_close(stream_t *st)
{
    free(st->state);
    st->state = NULL;
}

START_TEST(test_layout)
{
    /* 2^(r (k + 1)) counters for r = 1..4, k = 0..2, summed by hand. */
    const int cells = (2 + 4 + 8) + (4 + 16 + 64) + (8 + 64 + 512) + (16 + 256 + 4096);
    const fs_model_vtable_t *m = fs_model_find("value_novelty");

    ck_assert_int_eq(FS_VALUE_NOVELTY_CELLS, cells);
    ck_assert_int_eq(FS_VALUE_NOVELTY_FEATURES, 12);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->signal, FS_SIGNAL_VALUE);
    ck_assert_ptr_eq(fs_model_default(FS_SIGNAL_VALUE), m);
    ck_assert_uint_eq(m->state_size, sizeof(fs_value_novelty_state_t));
    ck_assert_uint_eq(m->state_size % 8, 0);
    ck_assert_uint_eq(m->state_size, 10120); /* as value_novelty.h says */
    ck_assert_int_eq(m->tests, 1);
}
END_TEST

/* Ten values in cell 1 (learned during a warm-up of 10), then the values
 * below, with the scores counted by hand; a detection (firing) is a score
 * of at least 1/3.
 * - A jump to cell 12, staying there (no rest period). Cell 12 differs from
 *   cell 1 at every resolution (12 >> 3 = 1, 1 >> 3 = 0), so the jump makes
 *   all 12 contexts new: 1. The next value repeats the new cell: its 4
 *   1-grams are known, its 2-grams (12, 12) and 3-grams (1, 12, 12) are
 *   new: 8 / 12. Then only the 3-grams (12, 12, 12): 4 / 12. Then nothing.
 * - The same jump with a rest period of 5: score 1 at the change, then 0
 *   for five values, which are learned all the same: the sixth value in
 *   cell 12 is not new (without learning during the rest its 2- and 3-grams
 *   would be). Then a step to cell 6 after (12, 12): its 1-grams are new at
 *   4, 8 and 16 cells (1, 3, 6; at 2 cells it is 0 like cell 1), its
 *   2-grams (12, 6) and 3-grams (12, 12, 6) at every resolution: 11 / 12. */
static const struct {
    double rest;
    int n;
    double x[8], want[8];
} after_level[] = {
    {0.0, 5, {12.5, 12.5, 12.5, 12.5, 12.5}, {1.0, 8.0 / 12.0, 4.0 / 12.0, 0.0, 0.0}},
    {5.0,
     8,
     {12.5, 12.5, 12.5, 12.5, 12.5, 12.5, 12.5, 6.5},
     {1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 11.0 / 12.0}},
};

START_TEST(test_after_level)
{
    stream_t st;

    stream_open(&st, 10.0, after_level[_i].rest);
    for (int i = 0; i < 10; i++) {
        CLOSE(feed(&st, 1.5), 0.0);
        ck_assert_int_eq(st.v.firing, 0);
    }
    for (int i = 0; i < after_level[_i].n; i++) {
        double x = after_level[_i].x[i], want = after_level[_i].want[i];
        CLOSE(feed(&st, x), want);
        ck_assert_int_eq(st.v.firing, want >= 1.0 / 3.0);
        ck_assert_int_eq(st.v.onset_ms, (10 + i) * 60000);
        CLOSE(st.v.observed, x);
        CLOSE(st.v.window_x, x);
        CLOSE(st.v.window_n, 1.0);
        CLOSE(st.v.window_seconds, 60.0);
    }
    stream_close(&st);
}
END_TEST

/* A step to the next cell is new only at the fine resolutions: from cell 1
 * to cell 2, the cells differ at 8 and 16 cells (0 vs 1, 1 vs 2) but not at
 * 2 and 4 cells (both 0). Every context at those two resolutions is new, at
 * the other two none: 6 / 12, and the model's guess was cell 1's centre. */
START_TEST(test_small_step)
{
    stream_t st;

    stream_open(&st, 5.0, 0.0);
    for (int i = 0; i < 20; i++)
        feed(&st, 1.2);
    CLOSE(st.v.expected, 1.5);
    CLOSE(feed(&st, 2.7), 0.5);
    CLOSE(st.v.expected, 1.5);
    ck_assert_int_eq(st.v.firing, 1);
    stream_close(&st);
}
END_TEST

/* A repeated pattern is novel on its first pass only. The cycle a b c d
 * (cells 1, 5, 9, 13; at 2 cells 0 0 1 1, at 4 cells 0 1 2 3, at 8 cells
 * 0 2 4 6) scores, by counting new contexts: a 4 / 4 (only 1-grams), b 7 / 8
 * (its 2-cell 1-gram 0 is a's), c 12 / 12, d 11 / 12 (2-cell 1-gram 1 is
 * c's), a again 8 / 12 (2- and 3-grams new), b again 4 / 12 (3-grams d a b
 * new), and from the seventh value on 0: the 4 3-grams of the cycle (abc,
 * bcd, cda, dab) have all been seen. The guess is then the next cell's
 * centre. */
START_TEST(test_repeated_pattern)
{
    const double cycle[] = {1.5, 5.5, 9.5, 13.5};
    const double want[] = {1.0, 7.0 / 8.0, 1.0, 11.0 / 12.0, 8.0 / 12.0, 4.0 / 12.0};
    stream_t st;

    stream_open(&st, 0.0, 0.0);
    for (int i = 0; i < 400; i++) {
        double s = feed(&st, cycle[i % 4]);
        CLOSE(s, i < 6 ? want[i] : 0.0);
        if (i >= 6)
            CLOSE(st.v.expected, cycle[i % 4]);
    }
    stream_close(&st);
}
END_TEST

/* Values beyond the range share the edge cells: after infinities and then
 * far-out values alternating (cells 15 and 0), in-range values in the edge
 * cells alternating the same way are not new. */
START_TEST(test_out_of_range)
{
    const double far[][2] = {{INFINITY, -INFINITY}, {1e300, -100.0}, {15.9, 0.2}};
    stream_t st;

    stream_open(&st, 0.0, 0.0);
    for (int i = 0; i < 30; i++) {
        double s = feed(&st, far[i / 10][i % 2]);
        if (i >= 10)
            CLOSE(s, 0.0);
    }
    stream_close(&st);
}
END_TEST

/* A NaN is no observation: score 0, window_n 0, and the value after it
 * scores as if it had not been there (its context is the values before). */
START_TEST(test_nan_skipped)
{
    stream_t a, b;

    stream_open(&a, 3.0, 0.0);
    stream_open(&b, 3.0, 0.0);
    for (int i = 0; i < 8; i++) {
        feed(&a, 3.5);
        feed(&b, 3.5);
    }
    /* b sees a NaN; a sees an extra 3.5, which changes no count that
     * matters for novelty (all its contexts are known). */
    feed(&a, 3.5);
    CLOSE(feed(&b, NAN), 0.0);
    CLOSE(b.v.window_n, 0.0);
    ck_assert_int_eq(b.v.firing, 0);
    CLOSE(feed(&a, 9.5), feed(&b, 9.5));
    CLOSE(a.v.score, 1.0);
    stream_close(&a);
    stream_close(&b);
}
END_TEST

/* Warm-up: novel values are learned but scored 0 until warmup_buckets have
 * gone by. With no usable range every value is in one cell: only the very
 * first value is new. */
START_TEST(test_warmup_and_no_range)
{
    stream_t st;

    stream_open(&st, 3.0, 0.0);
    CLOSE(feed(&st, 1.5), 0.0);
    CLOSE(feed(&st, 7.5), 0.0);
    CLOSE(feed(&st, 14.5), 0.0);
    /* Cell 3 after cells 1, 7, 14: at 2 and 4 cells it is 0 like cell 1, so
     * 2 of its 1-grams are known; every 2- and 3-gram is new: 10 / 12. */
    CLOSE(feed(&st, 3.5), 10.0 / 12.0);
    stream_close(&st);

    stream_open(&st, 0.0, 0.0);
    st.params.value_min = st.params.value_max = 5.0;
    CLOSE(feed(&st, 1.0), 1.0);
    ck_assert_int_eq(st.v.firing, 1);
    CLOSE(st.v.expected, 1.0);
    /* Then only the first 2-grams (4 of 8) and 3-grams (4 of 12) are new. */
    for (int i = 0; i < 50; i++)
        CLOSE(feed(&st, i * 37.0 - 900.0), i == 0 ? 4.0 / 8.0 : i == 1 ? 4.0 / 12.0 : 0.0);
    stream_close(&st);
}
END_TEST

/* Identical inputs give identical verdicts and identical state bytes. */
START_TEST(test_deterministic)
{
    stream_t a, b;
    uint64_t seed = 12345;

    stream_open(&a, 50.0, 20.0);
    stream_open(&b, 50.0, 20.0);
    for (int i = 0; i < 5000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double x = 8.0 + 3.0 * sin(i / 30.0) + (double)(seed >> 40) / (double)(1 << 24) +
                   (i > 4000 ? 4.0 : 0.0);
        double sa = feed(&a, x), sb = feed(&b, x);
        ck_assert(sa == sb);
        ck_assert_int_eq(a.v.firing, b.v.firing);
        ck_assert(a.v.expected == b.v.expected);
    }
    ck_assert_int_eq(memcmp(a.state, b.state, a.model->state_size), 0);
    stream_close(&a);
    stream_close(&b);
}
END_TEST

static Suite *value_novelty_suite(void)
{
    Suite *s = suite_create("models_value_novelty");
    TCase *tc = tcase_create("value_novelty");
    tcase_add_test(tc, test_layout);
    tcase_add_loop_test(tc, test_after_level, 0,
                        (int)(sizeof(after_level) / sizeof(after_level[0])));
    tcase_add_test(tc, test_small_step);
    tcase_add_test(tc, test_repeated_pattern);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_nan_skipped);
    tcase_add_test(tc, test_warmup_and_no_range);
    tcase_add_test(tc, test_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(value_novelty_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
