/*
 * check_nab.c: the NAB scorer (bench/nab_score.h) and runner (bench/nab.h).
 *
 * Reference: the published results of numenta and windowedGaussian shipped in
 * ../shared/datasets/nab (FS_NAB_DIR) must score as NAB's table says (SOURCE.md,
 * results/final_results.json) to within 0.01, and the constant-0.5 (null)
 * detector 0. Without that folder the suite exits 77 (skipped), unless
 * CI=true, where it fails.
 *
 * Our value model: its three scores over the corpus.
 *
 * Rules: a 20-row corpus written to a temporary folder, scored by hand.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/nab.h"
#include "bench/nab_score.h"
#include "models/model.h"

#define CLOSE(a, b, tol) ck_assert_double_le(fabs((a) - (b)), (tol))

static fs_nab_corpus_t *load_reference(void)
{
    char err[4096] = "";
    fs_nab_corpus_t *corpus = fs_nab_corpus_load(FS_NAB_DIR, err, sizeof err);
    ck_assert_msg(corpus != NULL, "%s", err);
    return corpus;
}

static void check_detector(const char *detector, const double want[FS_NAB_PROFILES])
{
    char err[4096] = "";
    fs_nab_result_t res[FS_NAB_PROFILES];
    fs_nab_corpus_t *corpus = load_reference();
    int rc = fs_nab_score_dir(corpus, FS_NAB_DIR "/results", detector, res, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        ck_assert_str_eq(res[k].profile, fs_nab_profile_names[k]);
        ck_assert(res[k].published);
        ck_assert_int_eq(res[k].windows, 116);
        CLOSE(res[k].normalized, want[k], 0.01);
        /* The exhaustive sweep is never worse than the threshold used. */
        ck_assert_double_ge(res[k].sweep_raw, res[k].raw);
    }
    fs_nab_corpus_free(corpus);
}

START_TEST(numenta_reference)
{
    const double want[FS_NAB_PROFILES] = {70.10, 63.12, 74.32};
    check_detector("numenta", want);
}
END_TEST

START_TEST(windowed_gaussian_reference)
{
    const double want[FS_NAB_PROFILES] = {39.65, 20.87, 47.41};
    check_detector("windowedGaussian", want);
}
END_TEST

/* One score array per file of the corpus: the model's (bench/nab.h) or, for
 * NULL, 0.5 everywhere (NAB's null detector). Free with free_scores. */
static double **corpus_scores(const fs_nab_corpus_t *corpus, const fs_model_vtable_t *model)
{
    size_t nfiles = fs_nab_corpus_nfiles(corpus);
    double **scores = calloc(nfiles, sizeof *scores);

    ck_assert_ptr_nonnull(scores);
    for (size_t f = 0; f < nfiles; f++) {
        const double *value = fs_nab_corpus_values(corpus, f);
        size_t n = fs_nab_corpus_nrows(corpus, f);
        scores[f] = malloc(n * sizeof **scores);
        ck_assert_ptr_nonnull(scores[f]);
        if (model != NULL)
            ck_assert_int_eq(fs_nab_model_run(model, value, n, scores[f]), 0);
        else
            for (size_t r = 0; r < n; r++)
                scores[f][r] = 0.5;
    }
    return scores;
}

static void free_scores(const fs_nab_corpus_t *corpus, double **scores)
{
    for (size_t f = 0; f < fs_nab_corpus_nfiles(corpus); f++)
        free(scores[f]);
    free(scores);
}

START_TEST(null_detector_scores_zero)
{
    char err[4096] = "";
    fs_nab_result_t res[FS_NAB_PROFILES];
    fs_nab_corpus_t *corpus = load_reference();
    double **scores = corpus_scores(corpus, NULL);

    ck_assert_int_eq(
        fs_nab_score_arrays(corpus, "null", (const double *const *)scores, res, err, sizeof err),
        0);
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        CLOSE(res[k].normalized, 0.0, 1e-9);
        CLOSE(res[k].sweep_normalized, 0.0, 1e-9);
        CLOSE(res[k].null_raw, -116.0 * (k == 2 ? 2.0 : 1.0), 1e-9);
    }
    free_scores(corpus, scores);
    fs_nab_corpus_free(corpus);
}
END_TEST

/* Our value model (bench/nab.h, FS_NAB_MODEL) over the whole corpus with
 * its one parameter set: the scores the README reports, to 0.01. The model
 * is deterministic, so any change to it or to the runner shows here. */
START_TEST(value_model_scores)
{
    const double want[FS_NAB_PROFILES] = {67.62, 59.75, 72.09};
    const fs_model_vtable_t *model = fs_model_find(FS_NAB_MODEL);
    char err[4096] = "";
    fs_nab_result_t res[FS_NAB_PROFILES];
    fs_nab_corpus_t *corpus = load_reference();
    double **scores;

    ck_assert_ptr_nonnull(model);
    scores = corpus_scores(corpus, model);
    ck_assert_int_eq(
        fs_nab_score_arrays(corpus, NULL, (const double *const *)scores, res, err, sizeof err), 0);
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        ck_assert(!res[k].published);
        CLOSE(res[k].normalized, want[k], 0.01);
    }
    ck_assert_double_ge(res[0].normalized, 60.0);
    free_scores(corpus, scores);
    fs_nab_corpus_free(corpus);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    ck_assert_int_eq(fclose(fp), 0);
}

static double S(double x) { return x >= 3.0 ? -1.0 : 2.0 / (1.0 + exp(5.0 * x)) - 1.0; }

/* 20 rows 5 min apart, CRLF, no final newline; probation = 3 rows; one
 * window, rows 10..13 (width 4). Detector: 1.0 on row 1 (probation, not
 * counted), 0.9 on row 5 (false positive before any window), 1.0 on rows 11
 * and 12 (true positives; row 11 is the earlier, better one) and on row 16
 * (false positive 3 rows after the window: S(3 / (4 - 1)) = S(1)). */
START_TEST(rules_on_a_small_corpus)
{
    char dir[] = "/tmp/check_nab_XXXXXX", path[512], err[512] = "";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *sub[] = {"config", "labels", "data", "data/cat", "res", "res/d", "res/d/cat"};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
        ck_assert_int_eq(mkdir(path, 0700), 0);
    }
    snprintf(path, sizeof path, "%s/config/profiles.json", dir);
    write_file(path, "{\"standard\":{\"CostMatrix\":{\"tpWeight\":1.0,\"fnWeight\":1.0,"
                     "\"fpWeight\":0.11}},\"reward_low_FP_rate\":{\"CostMatrix\":{\"tpWeight\":"
                     "1.0,\"fnWeight\":1.0,\"fpWeight\":0.22}},\"reward_low_FN_rate\":{"
                     "\"CostMatrix\":{\"tpWeight\":1.0,\"fnWeight\":2.0,\"fpWeight\":0.11}}}");
    snprintf(path, sizeof path, "%s/labels/combined_windows.json", dir);
    write_file(path, "{\"cat/s.csv\":[[\"2020-01-01 00:50:00.000000\","
                     "\"2020-01-01 01:05:00.000000\"]]}");
    char data[4096] = "timestamp,value\r\n", res[4096] = "timestamp,anomaly_score\n";
    for (int i = 0; i < 20; i++) {
        char row[128];
        double score = i == 1 || i == 11 || i == 12 || i == 16 ? 1.0 : i == 5 ? 0.9 : 0.0;
        snprintf(row, sizeof row, "2020-01-01 %02d:%02d:00,%d%s", i * 5 / 60, i * 5 % 60, i,
                 i < 19 ? "\r\n" : "");
        strcat(data, row);
        snprintf(row, sizeof row, "2020-01-01 %02d:%02d:00,%g\n", i * 5 / 60, i * 5 % 60, score);
        strcat(res, row);
    }
    snprintf(path, sizeof path, "%s/data/cat/s.csv", dir);
    write_file(path, data);
    snprintf(path, sizeof path, "%s/res/d/cat/d_s.csv", dir);
    write_file(path, res);

    fs_nab_corpus_t *corpus = fs_nab_corpus_load(dir, err, sizeof err);
    ck_assert_msg(corpus != NULL, "%s", err);
    ck_assert_uint_eq(fs_nab_corpus_nfiles(corpus), 1);
    ck_assert_uint_eq(fs_nab_corpus_nrows(corpus, 0), 20);
    ck_assert_str_eq(fs_nab_corpus_timestamp(corpus, 0, 19), "2020-01-01 01:35:00");
    CLOSE(fs_nab_corpus_values(corpus, 0)[19], 19.0, 0.0);

    fs_nab_result_t out[FS_NAB_PROFILES];
    snprintf(path, sizeof path, "%s/res", dir);
    ck_assert_msg(fs_nab_score_dir(corpus, path, "d", out, err, sizeof err) == 0, "%s", err);
    const double fp_w[] = {0.11, 0.22, 0.11}, fn_w[] = {1.0, 1.0, 2.0};
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        double at_1 = S(-3.0 / 4.0) / S(-1.0) + fp_w[k] * S(1.0);
        ck_assert(!out[k].published);
        CLOSE(out[k].sweep_threshold, 1.0, 0.0);
        CLOSE(out[k].threshold, 1.0, 0.0);
        CLOSE(out[k].raw, at_1, 1e-12);
        ck_assert_int_eq(out[k].tp, 2);
        ck_assert_int_eq(out[k].fp, 1);
        ck_assert_int_eq(out[k].windows_detected, 1);
        /* Null (0.5 everywhere) either flags nothing (-fn) or every scored
         * row: the window's first row (+1), 7 rows before it, rows 14..19
         * after it. */
        double all = 1.0 - 7.0 * fp_w[k];
        for (int i = 14; i < 20; i++)
            all += fp_w[k] * S((i - 13) / 3.0);
        double null_raw = all > -fn_w[k] ? all : -fn_w[k];
        CLOSE(out[k].null_raw, null_raw, 1e-12);
        CLOSE(out[k].normalized, 100.0 * (at_1 - null_raw) / (1.0 - null_raw), 1e-9);
    }
    fs_nab_corpus_free(corpus);

    /* The runner's model on 1000 rows: probation 150 rows (0 while it
     * learns), rest 150 / 5 = 30 rows; the range is the rows' [0, 52]. The
     * jump at row 600 to cells never seen is new at every resolution (1),
     * the 30 rows after it rest (0). */
    static double v[1000], sc[1000];
    fs_model_params_t params;
    const fs_model_vtable_t *model = fs_model_find(FS_NAB_MODEL);
    ck_assert_ptr_nonnull(model);
    for (int i = 0; i < 1000; i++)
        v[i] = (i % 3) + (i >= 600 ? 50.0 : 0.0);
    fs_nab_model_params(v, 1000, &params);
    CLOSE(params.value_min, 0.0, 0.0);
    CLOSE(params.value_max, 52.0, 0.0);
    CLOSE(params.warmup_buckets, 150.0, 0.0);
    CLOSE(params.rest_buckets, 30.0, 0.0);
    ck_assert_int_eq(fs_nab_model_run(model, v, 1000, sc), 0);
    for (int i = 0; i < 1000; i++) {
        ck_assert(sc[i] >= 0.0 && sc[i] <= 1.0);
        if (i < 150 || (i > 600 && i <= 630))
            CLOSE(sc[i], 0.0, 0.0);
    }
    CLOSE(sc[600], 1.0, 0.0);

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    struct stat st;
    if (stat(FS_NAB_DIR, &st) != 0) {
        const char *ci = getenv("CI");
        fprintf(stderr, "check_nab: %s missing\n", FS_NAB_DIR);
        return ci != NULL && strcmp(ci, "true") == 0 ? 1 : 77;
    }
    Suite *s = suite_create("nab");
    TCase *tc = tcase_create("reference");
    tcase_add_test(tc, numenta_reference);
    tcase_add_test(tc, windowed_gaussian_reference);
    tcase_add_test(tc, null_detector_scores_zero);
    tcase_add_test(tc, value_model_scores);
    suite_add_tcase(s, tc);
    tc = tcase_create("rules");
    tcase_add_test(tc, rules_on_a_small_corpus);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
