/*
 * check_gen.c: `foreshock-bench gen` (bench/gen.h), its traffic effects and
 * its delivery noise, checked on the files it writes against counts made
 * here from the lines alone.
 *
 * Shares drawn at random are checked against binomial bounds: a count k of
 * n trials at probability p must lie within p*n +- 5 standard deviations
 * (sqrt(n p (1-p))), which a correct generator misses with probability
 * below 1e-6 per check; the seeds are fixed, so the runs are reproducible.
 * Properties that hold by construction are checked exactly: the traffic
 * without noise is the same whatever the noise options; duplicates are
 * copies of lines of that traffic; events out of order stay within the
 * lateness and late ones are older than the newest event before them by
 * more than the lateness; the detector counts exactly those late ones as
 * late; a handful is exactly K failures out of N attempts.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/gen.h"
#include "bench/replay.h"
#include "bench/score.h"
#include "detector/timestamp.h"

#ifndef FS_SOURCE_DIR
#error "FS_SOURCE_DIR must name the source tree"
#endif

/* 2026-11-18T11:06:40.000Z, the default start of `gen`. */
#define T0       1795000000000LL
#define MAX_ARGS 40

static const char *const dims[4] = {"country", "platform", "app_version", "cdn"};

/* A scratch directory with the three files of one workload. */
typedef struct workload {
    char dir[64];
    char playback[128], errors[128], truth[128];
} workload_t;

/* Runs gen with the extra arguments (NULL-terminated) into a new directory;
 * returns gen's exit status. */
static int run_gen(workload_t *w, const char *const *extra)
{
    char *argv[MAX_ARGS];
    int argc = 0;

    snprintf(w->dir, sizeof w->dir, "/tmp/check_gen.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(w->dir));
    snprintf(w->playback, sizeof w->playback, "%s/p.ndjson", w->dir);
    snprintf(w->errors, sizeof w->errors, "%s/e.ndjson", w->dir);
    snprintf(w->truth, sizeof w->truth, "%s/t.ndjson", w->dir);
    argv[argc++] = "gen";
    argv[argc++] = "--playback";
    argv[argc++] = w->playback;
    argv[argc++] = "--errors";
    argv[argc++] = w->errors;
    argv[argc++] = "--truth";
    argv[argc++] = w->truth;
    for (size_t i = 0; extra[i]; i++) {
        ck_assert_int_lt(argc, MAX_ARGS - 1);
        argv[argc++] = (char *)extra[i];
    }
    argv[argc] = NULL;
    return fs_bench_gen_main(argc, argv);
}

static void remove_workload(workload_t *w)
{
    char path[160];
    unlink(w->playback);
    unlink(w->errors);
    unlink(w->truth);
    snprintf(path, sizeof path, "%s/a.ndjson", w->dir);
    unlink(path);
    rmdir(w->dir);
}

/* ---- reading the lines back ---- */

typedef struct lines {
    char **items;
    size_t n, cap;
} lines_t;

static void read_lines(const char *path, lines_t *out)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;

    ck_assert_ptr_nonnull(f);
    memset(out, 0, sizeof *out);
    while ((len = getline(&buf, &cap, f)) > 0) {
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 4096;
            out->items = realloc(out->items, out->cap * sizeof *out->items);
            ck_assert_ptr_nonnull(out->items);
        }
        out->items[out->n] = strdup(buf);
        ck_assert_ptr_nonnull(out->items[out->n]);
        out->n++;
    }
    free(buf);
    fclose(f);
}

/* Runs gen with args (NULL-terminated), which must succeed, and reads its
 * playback file into lines. */
static void gen_playback(workload_t *w, const char *const *args, lines_t *lines)
{
    ck_assert_int_eq(run_gen(w, args), 0);
    read_lines(w->playback, lines);
}

static void free_lines(lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One decoded line: its time, outcome, and dimensions (NULL when absent). */
typedef struct parsed {
    json_t *doc;
    int64_t ts;
    int failed;
    const char *dim[4];
} parsed_t;

static void parse(const char *line, parsed_t *p)
{
    json_error_t jerr;
    p->doc = json_loads(line, 0, &jerr);
    ck_assert_msg(p->doc != NULL, "%s: %s", jerr.text, line);
    json_t *ts = json_object_get(p->doc, "ts");
    if (json_is_integer(ts))
        p->ts = (int64_t)json_integer_value(ts);
    else
        ck_assert_int_eq(fs_timestamp_parse(json_string_value(ts), json_string_length(ts), &p->ts),
                         0);
    const char *outcome = json_string_value(json_object_get(p->doc, "outcome"));
    p->failed = outcome && strcmp(outcome, "failed") == 0;
    for (int d = 0; d < 4; d++)
        p->dim[d] = json_string_value(json_object_get(p->doc, dims[d]));
}

/* k of n at probability p is within 5 standard deviations of n p. */
static void assert_binomial(const char *what, double k, double n, double p)
{
    double sd = sqrt(n * p * (1 - p));
    ck_assert_msg(fabs(k - n * p) <= 5 * sd + 1e-9, "%s: %.0f of %.0f, expected %.1f +- %.1f", what,
                  k, n, n * p, 5 * sd);
}

/* Two shares f1/n1 and f2/n2 are equal within 5 standard errors. */
static void assert_same_share(const char *what, double f1, double n1, double f2, double n2)
{
    double p = (f1 + f2) / (n1 + n2);
    double se = sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
    ck_assert_msg(fabs(f1 / n1 - f2 / n2) <= 5 * se,
                  "%s: %.5f (%.0f of %.0f) vs %.5f (%.0f of %.0f)", what, f1 / n1, f1, n1, f2 / n2,
                  f2, n2);
}

/* Counts, in file order, the lines older than the newest line before them by
 * more than lateness_ms (late) and those older by at most that (out of order
 * but in time); *gap_ms gets the least amount by which a late line exceeds
 * the lateness. */
static void scan_order(const lines_t *l, int64_t lateness_ms, size_t *late, size_t *disordered,
                       int64_t *gap_ms)
{
    int64_t max = INT64_MIN;
    *late = *disordered = 0;
    *gap_ms = INT64_MAX;
    for (size_t i = 0; i < l->n; i++) {
        parsed_t p;
        parse(l->items[i], &p);
        if (max != INT64_MIN && p.ts < max - lateness_ms) {
            (*late)++;
            if (max - lateness_ms - p.ts < *gap_ms)
                *gap_ms = max - lateness_ms - p.ts;
        } else if (p.ts < max) {
            (*disordered)++;
        }
        if (p.ts > max)
            max = p.ts;
        json_decref(p.doc);
    }
}

/* ---- tests ---- */

START_TEST(noise_adds_copies_of_the_same_traffic)
{
    const char *plain[] = {"--rate", "300", "--duration", "4m", "--seed", "5", "--no-noise", NULL};
    const char *dups[] = {"--rate", "300",        "--duration",   "4m",   "--seed",
                          "5",      "--no-noise", "--duplicates", "0.02", NULL};
    workload_t a, b, c;
    lines_t la, lb, lc;

    gen_playback(&a, plain, &la);
    gen_playback(&b, dups, &lb);
    gen_playback(&c, plain, &lc);
    /* Reproducible: the same seed gives the same file. */
    ck_assert_uint_eq(la.n, lc.n);
    for (size_t i = 0; i < la.n; i++)
        ck_assert_str_eq(la.items[i], lc.items[i]);
    /* Without noise the events are in time order. */
    size_t late, disordered;
    int64_t gap;
    scan_order(&la, 0, &late, &disordered, &gap);
    ck_assert_uint_eq(late + disordered, 0);

    /* With duplicates: the same lines, some twice. Sorted, walking both lists
     * must account for every line of b as a line of a or a repeat. */
    qsort(la.items, la.n, sizeof *la.items, compare_strings);
    qsort(lb.items, lb.n, sizeof *lb.items, compare_strings);
    size_t i = 0, repeats = 0;
    for (size_t j = 0; j < lb.n; j++) {
        if (i < la.n && strcmp(la.items[i], lb.items[j]) == 0) {
            i++;
            continue;
        }
        ck_assert_msg(j > 0 && strcmp(lb.items[j - 1], lb.items[j]) == 0, "not a copy: %s",
                      lb.items[j]);
        repeats++;
    }
    ck_assert_uint_eq(i, la.n);
    ck_assert_uint_eq(lb.n, la.n + repeats);
    assert_binomial("duplicates", (double)repeats, (double)la.n, 0.02);
    ck_assert_uint_gt(repeats, 0);
    free_lines(&la);
    free_lines(&lb);
    free_lines(&lc);
    remove_workload(&a);
    remove_workload(&b);
    remove_workload(&c);
}
END_TEST

START_TEST(out_of_order_stays_within_the_lateness)
{
    const char *args[] = {"--rate",     "500",        "--duration", "5m",         "--seed", "6",
                          "--no-noise", "--disorder", "0.05",       "--lateness", "3s",     NULL};
    workload_t w;
    lines_t l;
    size_t late, disordered;
    int64_t gap;

    gen_playback(&w, args, &l);
    scan_order(&l, 3000, &late, &disordered, &gap);
    /* Nothing is older than the newest line before it by more than 3 s. */
    ck_assert_uint_eq(late, 0);
    /* An event delayed by d overtakes the events of the next d ms: all but
     * the shortest delays show up as out of order. */
    ck_assert_uint_gt(disordered, 0.5 * 0.05 * (double)l.n);
    ck_assert_uint_lt(disordered, 0.05 * (double)l.n + 5 * sqrt(0.05 * (double)l.n));
    free_lines(&l);
    remove_workload(&w);
}
END_TEST

START_TEST(late_events_are_older_than_the_lateness_and_counted_late)
{
    const char *args[] = {"--rate",     "1000",   "--duration", "6m",           "--seed", "8",
                          "--no-noise", "--late", "0.002",      "--duplicates", "0.01",   NULL};
    workload_t w;
    lines_t lp, le;
    size_t late_p, late_e, disordered_p, disordered_e;
    int64_t gap_p, gap_e;

    gen_playback(&w, args, &lp);
    read_lines(w.errors, &le);
    scan_order(&lp, 5000, &late_p, &disordered_p, &gap_p);
    scan_order(&le, 5000, &late_e, &disordered_e, &gap_e);
    /* Late events come at least 2 s after the lateness has passed (less the
     * gap to the newest event before them), so a 1 s bucket has closed. */
    ck_assert_int_ge(gap_p, 1000);
    /* Events whose delay would carry them past the end of the workload stay
     * on time (at most 35 s of 360 s), and a late event's copy is late too. */
    double n = (double)lp.n;
    ck_assert_msg((double)late_p >= 0.002 * n * (1 - 35.0 / 360) - 5 * sqrt(0.002 * n) &&
                      (double)late_p <= 0.002 * n * 1.01 + 5 * sqrt(0.002 * n),
                  "%zu late of %.0f", late_p, n);

    /* The detector, with the reference configuration (window.lateness = 5s),
     * counts exactly those as late and applies the rest. */
    fs_config_t *cfg = fs_config_new();
    fs_config_diag_t diag = {0};
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(fs_config_set_default(cfg, "store", "memory"), 0);
    ck_assert_int_eq(fs_config_load(cfg, FS_SOURCE_DIR "/config/foreshock.conf", NULL, 0, &diag),
                     0);
    char alerts[160], err[512];
    snprintf(alerts, sizeof alerts, "%s/a.ndjson", w.dir);
    fs_bench_replay_files_t files = {w.playback, w.errors, alerts, NULL};
    fs_bench_replay_stats_t stats;
    ck_assert_msg(fs_bench_replay_run(cfg, &files, NULL, &stats, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(stats.pipeline.late, late_p + late_e);
    ck_assert_uint_eq(stats.pipeline.events, lp.n + le.n - late_p - late_e);
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
    free_lines(&lp);
    free_lines(&le);
    remove_workload(&w);
}
END_TEST

START_TEST(missing_dimensions_share)
{
    const char *args[] = {"--rate", "500",        "--duration", "5m",   "--seed",
                          "9",      "--no-noise", "--missing",  "0.03", NULL};
    workload_t w;
    lines_t l;
    size_t missing[4] = {0, 0, 0, 0}, total_missing = 0;

    gen_playback(&w, args, &l);
    for (size_t i = 0; i < l.n; i++) {
        parsed_t p;
        int absent = 0;
        parse(l.items[i], &p);
        for (int d = 0; d < 4; d++) {
            if (!p.dim[d]) {
                missing[d]++;
                absent++;
            }
        }
        /* At most one dimension is left out, and the required fields never. */
        ck_assert_int_le(absent, 1);
        ck_assert_ptr_nonnull(json_object_get(p.doc, "outcome"));
        ck_assert_ptr_nonnull(json_object_get(p.doc, "user_id"));
        total_missing += (size_t)absent;
        json_decref(p.doc);
    }
    assert_binomial("lines missing a dimension", (double)total_missing, (double)l.n, 0.03);
    for (int d = 0; d < 4; d++)
        assert_binomial(dims[d], (double)missing[d], (double)total_missing, 0.25);
    free_lines(&l);
    remove_workload(&w);
}
END_TEST

START_TEST(rollout_share_ramps_with_the_normal_failure_ratio)
{
    /* 9.2.0 rolls out from minute 2 to a share of 40% at minute 8. */
    const char *args[] = {"--rate",     "500",     "--duration",
                          "10m",        "--seed",  "10",
                          "--no-noise", "--decoy", "app_version=9.2.0@2m-8mr0.4",
                          NULL};
    workload_t w;
    lines_t l;
    double total[10] = {0}, rolled[10] = {0};
    double f_new = 0, n_new = 0, f_old = 0, n_old = 0;

    gen_playback(&w, args, &l);
    for (size_t i = 0; i < l.n; i++) {
        parsed_t p;
        parse(l.items[i], &p);
        int minute = (int)((p.ts - T0) / 60000);
        int is_new = strcmp(p.dim[2], "9.2.0") == 0;
        ck_assert(minute >= 0 && minute < 10);
        total[minute]++;
        rolled[minute] += is_new;
        if (minute >= 2) {
            f_new += is_new && p.failed;
            n_new += is_new;
            f_old += !is_new && p.failed;
            n_old += !is_new;
        }
        json_decref(p.doc);
    }
    /* Minute m in 2..7 has the mean share 0.4 * (m - 2 + 0.5) / 6 of its
     * ramp; none before, 0.4 after. */
    for (int m = 0; m < 10; m++) {
        double share = m < 2 ? 0 : m >= 8 ? 0.4 : 0.4 * ((m - 2) + 0.5) / 6;
        char what[32];
        snprintf(what, sizeof what, "minute %d", m);
        if (share == 0)
            ck_assert_msg(rolled[m] == 0, "%s: %.0f", what, rolled[m]);
        else
            assert_binomial(what, rolled[m], total[m], share);
    }
    assert_same_share("failure ratio of 9.2.0 vs the rest", f_new, n_new, f_old, n_old);
    /* The truth names it as a decoy. */
    char alerts[160], err[256];
    snprintf(alerts, sizeof alerts, "%s/a.ndjson", w.dir);
    FILE *empty = fopen(alerts, "w");
    ck_assert_ptr_nonnull(empty);
    fclose(empty);
    fs_score_options_t opt = {w.truth, alerts, NULL, NULL, 0, 0};
    fs_score_result_t *r = NULL;
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r->n_incidents, 0);
    ck_assert_uint_eq(r->n_decoys, 1);
    ck_assert_str_eq(r->decoys[0].slice.text, "app_version=9.2.0");
    fs_score_result_free(r);
    free_lines(&l);
    remove_workload(&w);
}
END_TEST

START_TEST(surge_keeps_the_failure_ratio)
{
    /* US traffic x3 from minute 3 to minute 6 of 9. */
    const char *args[] = {"--rate",     "500",     "--duration",         "9m", "--seed", "11",
                          "--no-noise", "--decoy", "country=US@3m-6mv3", NULL};
    workload_t w;
    lines_t l, le;
    /* [in the surge][US]: attempts, failures; error events. */
    double attempts[2][2] = {{0}}, failures[2][2] = {{0}}, errors[2][2] = {{0}};

    gen_playback(&w, args, &l);
    read_lines(w.errors, &le);
    for (size_t i = 0; i < l.n; i++) {
        parsed_t p;
        parse(l.items[i], &p);
        int in = p.ts >= T0 + 180000 && p.ts < T0 + 360000;
        int us = strcmp(p.dim[0], "US") == 0;
        attempts[in][us]++;
        failures[in][us] += p.failed;
        json_decref(p.doc);
    }
    for (size_t i = 0; i < le.n; i++) {
        parsed_t p;
        parse(le.items[i], &p);
        errors[p.ts >= T0 + 180000 && p.ts < T0 + 360000][strcmp(p.dim[0], "US") == 0]++;
        json_decref(p.doc);
    }
    /* The surge's 3 minutes against the 6 outside: US attempts per minute x3
     * (the daily cycle moves less than 1% in 9 minutes), the rest x1. */
    double us_x = (attempts[1][1] / 3) / (attempts[0][1] / 6);
    double rest_x = (attempts[1][0] / 3) / (attempts[0][0] / 6);
    ck_assert_msg(fabs(us_x - 3) < 0.1, "US traffic x%.3f", us_x);
    ck_assert_msg(fabs(rest_x - 1) < 0.05, "other traffic x%.3f", rest_x);
    /* Failures and errors rise in proportion: their ratios to the attempts do not move. */
    assert_same_share("US failure ratio", failures[1][1], attempts[1][1], failures[0][1],
                      attempts[0][1]);
    assert_same_share("US errors per attempt", errors[1][1], attempts[1][1], errors[0][1],
                      attempts[0][1]);
    free_lines(&l);
    free_lines(&le);
    remove_workload(&w);
}
END_TEST

START_TEST(truth_marks_the_decoys)
{
    const char *args[] = {"--rate",     "200",
                          "--duration", "4m",
                          "--seed",     "12",
                          "--incident", "country=BR@2m-3m*4",
                          "--decoy",    "country=IS,platform=web@1m-2mf3/5",
                          NULL};
    workload_t w;

    ck_assert_int_eq(run_gen(&w, args), 0);
    /* The incident first, as before decoys existed; then the decoy. */
    lines_t t;
    read_lines(w.truth, &t);
    ck_assert_uint_eq(t.n, 2);
    json_t *inc = json_loads(t.items[0], 0, NULL), *decoy = json_loads(t.items[1], 0, NULL);
    ck_assert_ptr_null(json_object_get(inc, "decoy"));
    ck_assert(json_is_true(json_object_get(decoy, "decoy")));
    ck_assert_str_eq(json_string_value(json_object_get(decoy, "incident")),
                     "country=IS,platform=web@1m-2mf3/5");
    ck_assert_str_eq(json_string_value(json_object_get(decoy, "start")),
                     "2026-11-18T11:07:40.000Z");
    ck_assert_double_eq_tol(json_number_value(json_object_get(decoy, "factor")), 0.6, 1e-12);
    json_decref(inc);
    json_decref(decoy);
    free_lines(&t);
    remove_workload(&w);
}
END_TEST

START_TEST(handful_is_exactly_k_failures_of_n)
{
    const char *args[] = {"--rate",     "200",     "--duration",
                          "3m",         "--seed",  "13",
                          "--no-noise", "--decoy", "app_version=9.2.0-rc1@1m-2mf3/5",
                          NULL};
    workload_t w;
    lines_t l;
    size_t n = 0, failed = 0;

    gen_playback(&w, args, &l);
    for (size_t i = 0; i < l.n; i++) {
        parsed_t p;
        parse(l.items[i], &p);
        if (strcmp(p.dim[2], "9.2.0-rc1") == 0) {
            n++;
            failed += p.failed;
        }
        json_decref(p.doc);
    }
    /* 9.2.0-rc1 is a version nothing else has: its slice is the handful. */
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(failed, 3);
    free_lines(&l);
    remove_workload(&w);
}
END_TEST

START_TEST(bad_options_are_usage_errors)
{
    static const char *const cases[][3] = {
        {"--decoy", "country=US@1m-2mr0.5", NULL},    /* a rollout names its app_version */
        {"--decoy", "app_version=9@1m-2mr1.5", NULL}, /* a share above 1 */
        {"--decoy", "country=IS@1m-2mf6/5", NULL},    /* more failures than attempts */
        {"--decoy", "country=IS@1m-2mf3", NULL},      /* K/N */
        {"--late", "2", NULL},
        {"--duplicates", "-0.1", NULL},
        {"--missing", "lots", NULL},
        {"--lateness", "0", NULL},
        {"--incident", "platform=web@3m-2m*2", NULL}, /* ends before it starts */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        workload_t w;
        const char *args[] = {"--duration", "1m", cases[i][0], cases[i][1], NULL};
        ck_assert_msg(run_gen(&w, args) == 2, "case %zu", i);
        rmdir(w.dir);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("noise");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, noise_adds_copies_of_the_same_traffic);
    tcase_add_test(tc, out_of_order_stays_within_the_lateness);
    tcase_add_test(tc, late_events_are_older_than_the_lateness_and_counted_late);
    tcase_add_test(tc, missing_dimensions_share);
    suite_add_tcase(s, tc);
    tc = tcase_create("effects");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rollout_share_ramps_with_the_normal_failure_ratio);
    tcase_add_test(tc, surge_keeps_the_failure_ratio);
    tcase_add_test(tc, truth_marks_the_decoys);
    tcase_add_test(tc, handful_is_exactly_k_failures_of_n);
    tcase_add_test(tc, bad_options_are_usage_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
