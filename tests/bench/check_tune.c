/*
 * check_tune.c: `foreshock-bench tune` (bench/tune.h).
 *
 * Figures: quantiles, the summary of a hand-built score result and the Pareto
 * marking, each against values worked out by hand.
 *
 * Sweep: a small workload made with `gen` in a scratch folder (12 simulated
 * minutes at 200 events/s, two incidents), a 2x2 sweep. The CSV must have a
 * row per point in point order with the swept values, its Pareto column must
 * agree with the front computed here from the rows themselves, a point's
 * figures must equal those `score` gives on that point's alerts with the event
 * files (tune scans them once, score on every call), and two runs (on
 * one thread and on two) must agree on every column but events_per_s.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/gen.h"
#include "bench/score.h"
#include "bench/tune.h"

#define CLOSE(a, b, tol) ck_assert_double_le(fabs((a) - (b)), (tol))

#define MAX_ROWS 8
#define MAX_COLS 24

/* ---- figures ---- */

START_TEST(quantile_interpolates_between_order_statistics)
{
    static const struct {
        double v[5];
        size_t n;
        double q, want;
    } cases[] = {
        {{3, 1, 2}, 3, 0.5, 2},        /* odd count: the middle one */
        {{1, 2, 3, 4}, 4, 0.5, 2.5},   /* even count: the mean of the middle two */
        {{4, 3, 2, 1}, 4, 0.95, 3.85}, /* h = 2.85: 3 + 0.85 * (4 - 3) */
        {{4, 1}, 2, 0.25, 1.75},       /* h = 0.25: 1 + 0.25 * 3 */
        {{10}, 1, 0.95, 10},           /* one value */
        {{7, 7, 7}, 3, 0.95, 7},       /* ties */
        {{-2, 5, 0, 1}, 4, 0, -2},     /* q = 0: the minimum */
        {{-2, 5, 0, 1}, 4, 1, 5},      /* q = 1: the maximum */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v[5];
        memcpy(v, cases[i].v, sizeof v);
        CLOSE(fs_tune_quantile(v, cases[i].n, cases[i].q), cases[i].want, 1e-12);
    }
    ck_assert(isnan(fs_tune_quantile(NULL, 0, 0.5)));
}
END_TEST

START_TEST(pareto_marks_the_undominated_points)
{
    static const struct {
        double delay, fpd;
        int front;
    } rows[] = {
        {5, 1, 0},   /* beaten by (4, 1): faster at the same rate */
        {3, 4, 1},   /* nothing is faster with at most 4 false alerts a day... */
        {8, 0, 1},   /* the only point with no false alerts */
        {3, 4, 1},   /* ...and an identical point does not dominate it */
        {NAN, 0, 0}, /* detected nothing: never on the front, dominates nothing */
        {2, 9, 1},   /* the fastest */
        {4, 1, 1},   /* nothing is at least as good on both */
        {6, NAN, 0}, /* no false-alert rate */
        {8, 0.5, 0}, /* beaten by (8, 0) on the rate alone */
    };
    enum { N = sizeof rows / sizeof rows[0] };
    double delay[N], fpd[N];
    int front[N];
    for (size_t i = 0; i < N; i++) {
        delay[i] = rows[i].delay;
        fpd[i] = rows[i].fpd;
        front[i] = -1;
    }
    fs_tune_pareto(delay, fpd, N, front);
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(front[i] == rows[i].front, "row %zu: front %d, want %d", i, front[i],
                      rows[i].front);
}
END_TEST

START_TEST(metrics_summarise_a_result)
{
    fs_score_incident_t incidents[4];
    fs_score_result_t r;
    fs_tune_metrics_t m;

    memset(incidents, 0, sizeof incidents);
    memset(&r, 0, sizeof r);
    /* Detector delays 6 s, none, 2 s, 4 s; oracle delays 3 s, 1 s, none, 0 s. */
    static const int64_t delay[4] = {6000, FS_SCORE_NO_TIME, 2000, 4000};
    static const int64_t oracle[4] = {3000, 1000, FS_SCORE_NO_TIME, 0};
    for (size_t i = 0; i < 4; i++) {
        incidents[i].delay_ms = delay[i];
        incidents[i].oracle_delay_ms = oracle[i];
    }
    r.incidents = incidents;
    r.n_incidents = 4;
    r.n_detected = 3;
    r.n_alerts = 5;
    r.n_false_alerts = 1;
    r.recall = 0.75;
    r.precision = 0.8;
    r.false_per_day = 12;
    ck_assert_int_eq(fs_tune_metrics(&r, &r, &m), 0);
    ck_assert_uint_eq(m.incidents, 4);
    ck_assert_uint_eq(m.detected, 3);
    ck_assert_uint_eq(m.alerts, 5);
    ck_assert_uint_eq(m.false_alerts, 1);
    CLOSE(m.recall, 0.75, 1e-12);
    CLOSE(m.precision, 0.8, 1e-12);
    CLOSE(m.false_per_day, 12, 1e-12);
    /* Delays 2, 4, 6: median 4; p95 at h = 1.9: 4 + 0.9 * 2 = 5.8. */
    CLOSE(m.delay_p50_s, 4, 1e-12);
    CLOSE(m.delay_p95_s, 5.8, 1e-12);
    /* Only incident 1 has both delays and a positive oracle one: 6 / 3. */
    CLOSE(m.ratio_p50, 2, 1e-12);

    /* Nothing detected: the delays are undefined, not zero. */
    for (size_t i = 0; i < 4; i++)
        incidents[i].delay_ms = FS_SCORE_NO_TIME;
    ck_assert_int_eq(fs_tune_metrics(&r, &r, &m), 0);
    ck_assert(isnan(m.delay_p50_s) && isnan(m.delay_p95_s) && isnan(m.ratio_p50));
}
END_TEST

/* ---- the sweep ---- */

static char dir[64];
static char playback[128], errors[128], truth[128], config[128];

static void path_in(char *out, size_t size, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < size);
}

/* Writes the workload once for the whole test case. */
static void workload_setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_tune.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    path_in(playback, sizeof playback, "p.ndjson");
    path_in(errors, sizeof errors, "e.ndjson");
    path_in(truth, sizeof truth, "t.ndjson");
    /* Every key at its default. */
    path_in(config, sizeof config, "tune.conf");
    FILE *f = fopen(config, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# defaults\n", f);
    ck_assert_int_eq(fclose(f), 0);
    char *argv[] = {"gen",
                    "--playback",
                    playback,
                    "--errors",
                    errors,
                    "--truth",
                    truth,
                    "--rate",
                    "200",
                    "--duration",
                    "12m",
                    "--seed",
                    "7",
                    "--incident",
                    "country=US@6m-7m*6",
                    "--incident",
                    "country=BR,platform=android@9m-10m*10",
                    NULL};
    ck_assert_int_eq(fs_bench_gen_main(17, argv), 0);
}

static void workload_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "check_tune: could not remove %s\n", dir);
}

/* Runs tune with the 2x2 sweep into dir/NAME, on jobs threads. */
static void run_tune(const char *name, const char *jobs, const char *alerts_dir)
{
    char out[128];
    path_in(out, sizeof out, name);
    char *argv[24] = {"tune",
                      "-c",
                      config,
                      "--playback",
                      playback,
                      "--errors",
                      errors,
                      "--truth",
                      truth,
                      "--out",
                      out,
                      "--sweep",
                      "detect.min_excess=5,40",
                      "--sweep",
                      "detect.false_alarms_per_day=1;1000",
                      "--jobs",
                      (char *)jobs};
    int argc = 17;
    if (alerts_dir) {
        argv[argc++] = "--alerts-dir";
        argv[argc++] = (char *)alerts_dir;
    }
    ck_assert_int_eq(fs_bench_tune_main(argc, argv), 0);
}

/* The CSV as lines cut into fields (no field of this sweep needs quoting). */
typedef struct table {
    char text[8192];
    char *cells[MAX_ROWS][MAX_COLS];
    size_t n_rows, n_cols; /* rows include the header */
} table_t;

static void read_table(const char *name, table_t *t)
{
    char path[128];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(t->text, 1, sizeof t->text - 1, f);
    ck_assert(feof(f));
    fclose(f);
    t->text[len] = '\0';
    t->n_rows = 0;
    for (char *save = NULL, *line = strtok_r(t->text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        ck_assert_uint_lt(t->n_rows, MAX_ROWS);
        size_t c = 0;
        for (char *p = line;; p++) {
            ck_assert_uint_lt(c, MAX_COLS);
            t->cells[t->n_rows][c++] = p;
            p = strchr(p, ',');
            if (!p)
                break;
            *p = '\0';
        }
        if (t->n_rows == 0)
            t->n_cols = c;
        ck_assert_uint_eq(c, t->n_cols);
        t->n_rows++;
    }
}

static int column(const table_t *t, const char *name)
{
    for (size_t c = 0; c < t->n_cols; c++)
        if (strcmp(t->cells[0][c], name) == 0)
            return (int)c;
    ck_abort_msg("no column %s", name);
    return -1;
}

static double number(const char *field)
{
    return field[0] ? strtod(field, NULL) : NAN;
}

START_TEST(sweep_writes_a_row_per_point_and_marks_the_front)
{
    char alerts_dir[128];
    table_t t;

    path_in(alerts_dir, sizeof alerts_dir, "points");
    run_tune("a.csv", "2", alerts_dir);
    read_table("a.csv", &t);

    static const char *const header[] = {"point",
                                         "detect.min_excess",
                                         "detect.false_alarms_per_day",
                                         "incidents",
                                         "detected",
                                         "firing_alerts",
                                         "false_alerts",
                                         "recall",
                                         "precision",
                                         "false_alerts_per_day",
                                         "delay_p50_s",
                                         "delay_p95_s",
                                         "delay_ratio_p50",
                                         "events_per_s",
                                         "pareto"};
    ck_assert_uint_eq(t.n_cols, sizeof header / sizeof header[0]);
    for (size_t c = 0; c < t.n_cols; c++)
        ck_assert_str_eq(t.cells[0][c], header[c]);
    ck_assert_uint_eq(t.n_rows, 1 + 4);

    /* The first sweep varies slowest. */
    static const char *const points[4][3] = {
        {"1", "5", "1"}, {"2", "5", "1000"}, {"3", "40", "1"}, {"4", "40", "1000"}};
    for (size_t i = 0; i < 4; i++) {
        for (size_t c = 0; c < 3; c++)
            ck_assert_str_eq(t.cells[1 + i][c], points[i][c]);
        ck_assert_str_eq(t.cells[1 + i][column(&t, "incidents")], "2");
        ck_assert(number(t.cells[1 + i][column(&t, "events_per_s")]) > 0);
    }

    /* The front, by the definition, on the values as written. */
    int c_delay = column(&t, "delay_p50_s"), c_fpd = column(&t, "false_alerts_per_day");
    int c_front = column(&t, "pareto"), on_front = 0;
    for (size_t i = 1; i < t.n_rows; i++) {
        double d = number(t.cells[i][c_delay]), f = number(t.cells[i][c_fpd]);
        int dominated = 0;
        for (size_t j = 1; j < t.n_rows; j++) {
            double dj = number(t.cells[j][c_delay]), fj = number(t.cells[j][c_fpd]);
            if (j != i && !isnan(dj) && !isnan(fj) && dj <= d && fj <= f && (dj < d || fj < f))
                dominated = 1;
        }
        int want = !isnan(d) && !isnan(f) && !dominated;
        ck_assert_msg(atoi(t.cells[i][c_front]) == want, "point %zu: pareto %s, want %d", i,
                      t.cells[i][c_front], want);
        on_front += want;
    }
    /* x6 and x10 incidents: some point detects something, so the front is not empty. */
    ck_assert_int_ge(on_front, 1);

    /* Point 1's figures are those of score on its alerts with the event files. */
    char alerts[160];
    snprintf(alerts, sizeof alerts, "%s/point-1.ndjson", alerts_dir);
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char err[256];
    memset(&opt, 0, sizeof opt);
    opt.truth_path = truth;
    opt.alerts_path = alerts;
    opt.playback_path = playback;
    opt.errors_path = errors;
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    char **row = t.cells[1];
    ck_assert_uint_eq(strtoul(row[column(&t, "detected")], NULL, 10), r->n_detected);
    ck_assert_uint_eq(strtoul(row[column(&t, "firing_alerts")], NULL, 10), r->n_alerts);
    ck_assert_uint_eq(strtoul(row[column(&t, "false_alerts")], NULL, 10), r->n_false_alerts);
    CLOSE(number(row[column(&t, "recall")]), r->recall, 1e-5);
    CLOSE(number(row[column(&t, "precision")]), r->precision, 1e-5);
    CLOSE(number(row[column(&t, "false_alerts_per_day")]), r->false_per_day,
          1e-5 * fmax(1, r->false_per_day));
    /* Two incidents: the median of two values is their mean and p95 lies 95% of
     * the way from the lower to the higher; of one value, both are that value. */
    double delays[2], ratios[2];
    size_t n_delays = 0, n_ratios = 0;
    ck_assert_uint_eq(r->n_incidents, 2);
    for (size_t i = 0; i < r->n_incidents; i++) {
        if (r->incidents[i].delay_ms != FS_SCORE_NO_TIME)
            delays[n_delays++] = (double)r->incidents[i].delay_ms / 1000.0;
        if (isfinite(r->incidents[i].delay_ratio))
            ratios[n_ratios++] = r->incidents[i].delay_ratio;
    }
    const struct {
        const char *column;
        const double *v;
        size_t n;
        double q;
    } quantiles[] = {{"delay_p50_s", delays, n_delays, 0.5},
                     {"delay_p95_s", delays, n_delays, 0.95},
                     {"delay_ratio_p50", ratios, n_ratios, 0.5}};
    for (size_t k = 0; k < 3; k++) {
        const double *v = quantiles[k].v;
        double got = number(row[column(&t, quantiles[k].column)]);
        if (quantiles[k].n == 0)
            ck_assert(isnan(got));
        else if (quantiles[k].n == 1)
            CLOSE(got, v[0], 1e-4);
        else
            CLOSE(got, fmin(v[0], v[1]) + quantiles[k].q * fabs(v[0] - v[1]), 1e-4);
    }
    fs_score_result_free(r);
}
END_TEST

START_TEST(sweep_is_deterministic)
{
    table_t a, b;

    run_tune("one-job.csv", "1", NULL);
    run_tune("two-jobs.csv", "2", NULL);
    read_table("one-job.csv", &a);
    read_table("two-jobs.csv", &b);
    ck_assert_uint_eq(a.n_rows, 5);
    ck_assert_uint_eq(a.n_rows, b.n_rows);
    ck_assert_uint_eq(a.n_cols, b.n_cols);
    int c_speed = column(&a, "events_per_s");
    for (size_t i = 0; i < a.n_rows; i++)
        for (size_t c = 0; c < a.n_cols; c++)
            if ((int)c != c_speed || i == 0)
                ck_assert_str_eq(a.cells[i][c], b.cells[i][c]);
}
END_TEST

START_TEST(bad_sweeps_are_usage_errors)
{
    char out[128];
    path_in(out, sizeof out, "bad.csv");
    static const char *const sweeps[][2] = {
        {"--sweep", "detect.min_excess"},      /* no values */
        {"--sweep", "detect.min_excess=5,,6"}, /* an empty value */
        {"--sweep", "=5,6"},                   /* no key */
        {"--jobs", "0"},
    };
    for (size_t i = 0; i < sizeof sweeps / sizeof sweeps[0]; i++) {
        char *argv[] = {"tune",
                        "-c",
                        config,
                        "--playback",
                        playback,
                        "--errors",
                        errors,
                        "--truth",
                        truth,
                        "--out",
                        out,
                        (char *)sweeps[i][0],
                        (char *)sweeps[i][1],
                        NULL};
        ck_assert_int_eq(fs_bench_tune_main(13, argv), 2);
    }
    /* A key swept twice, or swept and set with -X. */
    char *twice[] = {"tune",
                     "-c",
                     config,
                     "--playback",
                     playback,
                     "--errors",
                     errors,
                     "--truth",
                     truth,
                     "--out",
                     out,
                     "--sweep",
                     "detect.min_excess=5",
                     "--sweep",
                     "detect.min_excess=6",
                     NULL};
    ck_assert_int_eq(fs_bench_tune_main(15, twice), 2);
    char *fixed[] = {"tune",
                     "-c",
                     config,
                     "--playback",
                     playback,
                     "--errors",
                     errors,
                     "--truth",
                     truth,
                     "--out",
                     out,
                     "--sweep",
                     "detect.min_excess=5",
                     "-X",
                     "detect.min_excess = 6",
                     NULL};
    ck_assert_int_eq(fs_bench_tune_main(15, fixed), 2);
    /* A value the configuration rejects stops the sweep before any replay. */
    char *invalid[] = {"tune",
                       "-c",
                       config,
                       "--playback",
                       playback,
                       "--errors",
                       errors,
                       "--truth",
                       truth,
                       "--out",
                       out,
                       "--sweep",
                       "detect.min_excess=5,-1",
                       NULL};
    ck_assert_int_eq(fs_bench_tune_main(13, invalid), 1);
    ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("figures");
    tcase_add_test(tc, quantile_interpolates_between_order_statistics);
    tcase_add_test(tc, pareto_marks_the_undominated_points);
    tcase_add_test(tc, metrics_summarise_a_result);
    suite_add_tcase(s, tc);
    tc = tcase_create("sweep");
    tcase_add_unchecked_fixture(tc, workload_setup, workload_teardown);
    /* Each test replays the workload several times: generous under sanitizers. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sweep_writes_a_row_per_point_and_marks_the_front);
    tcase_add_test(tc, sweep_is_deterministic);
    tcase_add_test(tc, bad_sweeps_are_usage_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
