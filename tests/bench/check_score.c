/*
 * check_score.c: `foreshock-bench score` (bench/score.h) on constructed
 * truth, alert and event files whose answers are worked out by hand.
 *
 * Matching: four incidents and ten firing alerts covering a detection 7 s
 * after the start on the same slice, a more general match (all traffic), a
 * more specific one, the inclusive end + 60 s boundary and one millisecond
 * past it, a missed incident, a repeated firing message, a resolved message
 * without firing, an overlapping (collateral) false alert and disjoint ones.
 *
 * Decoys: truth lines marked "decoy" (a surge, a tiny slice) are not
 * incidents; an alert matching only a decoy is a false alert that paged on
 * it, one that also matches an incident is a true alert.
 *
 * Oracle: a playback series with known counts per second for the incident's
 * slice, noise in other slices and invalid lines; p0, p1, the threshold h and
 * the oracle delay were computed independently in Python (pure standard
 * library: Siegmund's least-favourable ARL0 minimised by golden section and
 * checked on a dense grid, h by bisection, then the CUSUM run bucket by
 * bucket); the values are pasted in below.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/score.h"
#include "detector/timestamp.h"

#define CLOSE(a, b, tol) ck_assert_double_le(fabs((a) - (b)), (tol))

/* 2026-11-18T11:06:40.000Z, the default start of `gen`. */
#define T0 1795000000000LL

/* A scratch directory and the files written into it, removed at teardown. */
typedef struct scratch {
    char dir[64];
    char paths[8][128];
    int n;
} scratch_t;

static void scratch_open(scratch_t *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/check_score.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
}

static const char *scratch_path(scratch_t *s, const char *name)
{
    ck_assert_int_lt(s->n, 8);
    char *path = s->paths[s->n++];
    ck_assert_uint_lt(strlen(s->dir) + 1 + strlen(name), sizeof s->paths[0]);
    strcpy(path, s->dir);
    strcat(path, "/");
    strcat(path, name);
    return path;
}

static const char *scratch_write(scratch_t *s, const char *name, const char *text)
{
    const char *path = scratch_path(s, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static void scratch_close(scratch_t *s)
{
    for (int i = 0; i < s->n; i++)
        unlink(s->paths[i]);
    rmdir(s->dir);
}

/* ---- matching ---- */

static const char truth4[] =
    "{\"incident\":\"country=BR,platform=android@20m-22m*10\","
    "\"start\":\"2026-11-18T11:20:00.000Z\",\"end\":\"2026-11-18T11:22:00.000Z\",\"factor\":10}\n"
    "{\"incident\":\"cdn=akamai@40m-45m*5\",\"start\":\"2026-11-18T11:40:00.000Z\","
    "\"end\":\"2026-11-18T11:45:00.000Z\",\"factor\":5}\n"
    "\n"
    "{\"incident\":\"country=DE@50m-52m*4\",\"start\":\"2026-11-18T11:50:00.000Z\","
    "\"end\":\"2026-11-18T11:52:00.000Z\",\"factor\":4}\n"
    "{\"incident\":\"country=US,platform=web@60m-61m*3\",\"start\":\"2026-11-18T12:00:00.000Z\","
    "\"end\":\"2026-11-18T12:01:00.000Z\",\"factor\":3}\n";

/* One alert message line; ends is null (firing) or a quoted time (resolved). */
#define ALERT(fp, status, name, slice, starts, detected, ends)                                     \
    "{\"fingerprint\":\"" fp "\",\"status\":\"" status "\",\"alertname\":\"" name "\","            \
    "\"severity\":\"warning\",\"slice\":" slice ",\"startsAt\":\"2026-11-18T" starts "Z\","        \
    "\"detectedAt\":\"2026-11-18T" detected "Z\",\"endsAt\":" ends ",\"labels\":{},"               \
    "\"annotations\":{\"summary\":\"s\",\"description\":\"d\"},\"evidence\":{}}\n"
#define PFB "PlaybackFailureBurst"

static const char alerts10[] =
    /* line 1, A6: cdn=fastly long before anything: false, disjoint from every incident. */
    ALERT("f6", "firing", PFB, "{\"cdn\":\"fastly\"}", "11:04:50.000", "11:05:00.000", "null")
    /* line 2, A1: incident 1's own slice, detected 7 s after its start. */
    ALERT("a1", "firing", PFB, "{\"country\":\"BR\",\"platform\":\"android\"}", "11:20:02.000",
          "11:20:07.000", "null")
    /* line 3, A2: country=BR, more general, detected later than A1. */
    ALERT("a2", "firing", PFB, "{\"country\":\"BR\"}", "11:20:01.000", "11:20:09.000", "null")
    /* line 4: A1 again (same fingerprint and startsAt): a duplicate, counted once. */
    ALERT("a1", "firing", PFB, "{\"country\":\"BR\",\"platform\":\"android\"}", "11:20:02.000",
          "11:20:07.000", "null")
    /* line 5, A7: country=BR,cdn=akamai overlaps incident 1 (false, collateral); it is more
       specific than incident 2 but 20 minutes early for it. */
    ALERT("a7", "firing", PFB, "{\"country\":\"BR\",\"cdn\":\"akamai\"}", "11:20:05.000",
          "11:20:15.000", "null")
    /* line 6: A1 resolves 30 s after incident 1 ends. */
    ALERT("a1", "resolved", PFB, "{\"country\":\"BR\",\"platform\":\"android\"}", "11:20:02.000",
          "11:20:07.000", "\"2026-11-18T11:22:30.000Z\"")
    /* line 7, A8: the same slice fires again 70 s after the end (window ends at +60 s). */
    ALERT("a1", "firing", PFB, "{\"country\":\"BR\",\"platform\":\"android\"}", "11:23:10.000",
          "11:23:30.000", "null")
    /* line 8, A3: all traffic, more general than incident 2, 75 s after its start; never
       resolved. */
    ALERT("a3", "firing", "ErrorBurst", "{}", "11:39:30.000", "11:41:15.000", "null")
    /* line 9, A4: country=DE,platform=ios, more specific than incident 3, after 20 s. */
    ALERT("a4", "firing", PFB, "{\"country\":\"DE\",\"platform\":\"ios\"}", "11:50:10.000",
          "11:50:20.000", "null")
    /* line 10: A4 resolves 10 s before incident 3 ends. */
    ALERT("a4", "resolved", PFB, "{\"country\":\"DE\",\"platform\":\"ios\"}", "11:50:10.000",
          "11:50:20.000", "\"2026-11-18T11:51:50.000Z\"")
    /* line 11, A9: country=DE exactly at end + 60 s: matches incident 3. */
    ALERT("a9", "firing", PFB, "{\"country\":\"DE\"}", "11:53:00.000", "11:53:00.000", "null")
    /* line 12, A10: one millisecond later: false (and disjoint from incident 4). */
    ALERT("a10", "firing", PFB, "{\"country\":\"DE\"}", "11:53:00.001", "11:53:00.001", "null")
    /* line 13, A5: country=US,platform=ios during incident 4 (US,web): disjoint, false. */
    ALERT("a5", "firing", PFB, "{\"country\":\"US\",\"platform\":\"ios\"}", "12:00:05.000",
          "12:00:10.000", "null")
    /* line 14: resolved without a firing message. */
    ALERT("zz", "resolved", PFB, "{}", "11:10:00.000", "11:10:05.000",
          "\"2026-11-18T11:11:00.000Z\"");

START_TEST(matches_incidents_and_alerts)
{
    scratch_t s;
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char err[256];

    scratch_open(&s);
    memset(&opt, 0, sizeof opt);
    opt.truth_path = scratch_write(&s, "truth.ndjson", truth4);
    opt.alerts_path = scratch_write(&s, "alerts.ndjson", alerts10);
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r->n_incidents, 4);
    ck_assert_uint_eq(r->n_alerts, 10);
    ck_assert_uint_eq(r->n_duplicates, 1);
    ck_assert_uint_eq(r->n_resolved, 3);
    ck_assert_uint_eq(r->n_orphan_resolved, 1);

    /* Alerts in order of first message: A6 A1 A2 A7 A8 A3 A4 A9 A10 A5. */
    static const char *const slices[] = {"cdn=fastly",
                                         "country=BR,platform=android",
                                         "country=BR",
                                         "country=BR,cdn=akamai",
                                         "country=BR,platform=android",
                                         "{}",
                                         "country=DE,platform=ios",
                                         "country=DE",
                                         "country=DE",
                                         "country=US,platform=ios"};
    static const int matched[] = {-1, 0, 0, -1, -1, 1, 2, 2, -1, -1};
    static const int collateral[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    static const long lines[] = {1, 2, 3, 5, 7, 8, 9, 11, 12, 13};
    for (size_t a = 0; a < 10; a++) {
        ck_assert_str_eq(r->alerts[a].slice.text, slices[a]);
        ck_assert_int_eq(r->alerts[a].matched, matched[a]);
        ck_assert_int_eq(r->alerts[a].collateral, collateral[a]);
        ck_assert_int_eq(r->alerts[a].line, lines[a]);
    }
    ck_assert_uint_eq(r->alerts[1].n_duplicates, 1);

    /* Per incident: reported alert, relation, matching alerts, delay, time to resolve. */
    static const struct {
        int alert;
        fs_score_relation_t relation;
        size_t n_matching;
        int64_t delay_ms, resolve_ms;
    } want[] = {
        {1, FS_SCORE_SAME, 2, 7000, 30000},
        {5, FS_SCORE_GENERAL, 1, 75000, FS_SCORE_NO_TIME},
        {6, FS_SCORE_SPECIFIC, 2, 20000, -10000},
        {-1, FS_SCORE_DISJOINT, 0, FS_SCORE_NO_TIME, FS_SCORE_NO_TIME},
    };
    for (size_t i = 0; i < 4; i++) {
        const fs_score_incident_t *inc = &r->incidents[i];
        ck_assert_int_eq(inc->alert, want[i].alert);
        if (want[i].alert >= 0)
            ck_assert_int_eq(inc->relation, want[i].relation);
        ck_assert_uint_eq(inc->n_matching, want[i].n_matching);
        ck_assert_int_eq(inc->delay_ms, want[i].delay_ms);
        ck_assert_int_eq(inc->resolve_ms, want[i].resolve_ms);
        ck_assert(!inc->has_oracle);
    }
    ck_assert_str_eq(r->incidents[1].slice.text, "cdn=akamai");
    CLOSE(r->incidents[0].factor, 10.0, 0);

    /* 3 of 4 incidents detected; 5 of 10 alerts (A1 A2 A3 A4 A9) match one. */
    ck_assert_uint_eq(r->n_detected, 3);
    CLOSE(r->recall, 0.75, 1e-15);
    ck_assert_uint_eq(r->n_matching_alerts, 5);
    CLOSE(r->precision, 0.5, 1e-15);
    ck_assert_uint_eq(r->n_false_alerts, 5);
    ck_assert_uint_eq(r->n_collateral, 1);

    /* Span from the truth and alerts: A6's startsAt 11:04:50 to incident 4's end 12:01:00,
       3370 s; 5 false alerts over 3370/86400 days = 5 * 86400 / 3370 = 128.189910979228... */
    char t[FS_TIMESTAMP_LEN + 1];
    fs_timestamp_format(r->span_start_ms, t);
    ck_assert_str_eq(t, "2026-11-18T11:04:50.000Z");
    fs_timestamp_format(r->span_end_ms, t);
    ck_assert_str_eq(t, "2026-11-18T12:01:00.000Z");
    ck_assert_str_eq(r->span_source, "truth and alerts");
    CLOSE(r->span_days, 3370.0 / 86400.0, 1e-15);
    CLOSE(r->false_per_day, 128.18991097922849, 1e-9);
    fs_score_result_free(r);

    /* --span overrides: 5 false alerts over 2 days. */
    opt.span_ms = 2 * 86400000LL;
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(r->span_source, "--span");
    CLOSE(r->false_per_day, 2.5, 1e-12);
    fs_score_result_free(r);
    scratch_close(&s);
}
END_TEST

START_TEST(empty_inputs_are_undefined_not_zero)
{
    scratch_t s;
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char err[256];

    scratch_open(&s);
    memset(&opt, 0, sizeof opt);
    opt.truth_path = scratch_write(&s, "truth.ndjson", "");
    opt.alerts_path = scratch_write(&s, "alerts.ndjson", "\n");
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    ck_assert(isnan(r->precision));
    ck_assert(isnan(r->recall));
    ck_assert(isnan(r->false_per_day));
    fs_score_result_free(r);
    scratch_close(&s);
}
END_TEST

START_TEST(bad_input_names_file_and_line)
{
    static const struct {
        const char *truth, *alerts, *reason;
    } cases[] = {
        {"{\"incident\":\"country=BR@1m-2m*2\",\"start\":\"yesterday\",\"end\":\"2026-11-18T11:"
         "22:00Z\"}\n",
         "", "truth.ndjson:1: start cannot be parsed"},
        {"{\"incident\":\"countryBR@1m-2m*2\",\"start\":\"2026-11-18T11:20:00Z\",\"end\":"
         "\"2026-11-18T11:22:00Z\"}\n",
         "", "truth.ndjson:1: incident slice is not DIM=V[,DIM=V]"},
        {"", "\n{\"fingerprint\":\"x\",\"status\":\"firing\"\n", "alerts.ndjson:2: not valid JSON"},
        {"",
         "{\"fingerprint\":\"x\",\"status\":\"pending\",\"alertname\":\"A\",\"startsAt\":"
         "\"2026-11-18T11:20:00Z\"}\n",
         "alerts.ndjson:1: status is neither firing nor resolved"},
        {"",
         "{\"fingerprint\":\"x\",\"status\":\"firing\",\"alertname\":\"A\",\"startsAt\":"
         "\"2026-11-18T11:20:00Z\",\"detectedAt\":\"2026-11-18T11:20:01Z\",\"slice\":{\"a\":1}}\n",
         "alerts.ndjson:1: slice value is not a string"},
        {"{\"incident\":\"country=BR@1m-2m*2\",\"start\":\"2026-11-18T11:20:00Z\",\"end\":"
         "\"2026-11-18T11:22:00Z\",\"decoy\":\"yes\"}\n",
         "", "truth.ndjson:1: decoy is neither true nor false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scratch_t s;
        fs_score_options_t opt;
        fs_score_result_t dummy, *r = &dummy;
        char err[256];

        scratch_open(&s);
        memset(&opt, 0, sizeof opt);
        opt.truth_path = scratch_write(&s, "truth.ndjson", cases[i].truth);
        opt.alerts_path = scratch_write(&s, "alerts.ndjson", cases[i].alerts);
        ck_assert_int_eq(fs_score_run(&opt, &r, err, sizeof err), -1);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err, cases[i].reason) != NULL, "case %zu: '%s'", i, err);
        scratch_close(&s);
    }
}
END_TEST

/* ---- decoys ---- */

static const char truth_decoys[] =
    "{\"incident\":\"country=BR,platform=android@20m-22m*10\","
    "\"start\":\"2026-11-18T11:20:00.000Z\",\"end\":\"2026-11-18T11:22:00.000Z\",\"factor\":10}\n"
    "{\"incident\":\"country=US@30m-40mv2\",\"start\":\"2026-11-18T11:30:00.000Z\","
    "\"end\":\"2026-11-18T11:40:00.000Z\",\"factor\":2,\"decoy\":true}\n"
    "{\"incident\":\"country=IS,platform=web@20m-22mf3/5\",\"start\":\"2026-11-18T11:20:00.000Z\","
    "\"end\":\"2026-11-18T11:22:00.000Z\",\"factor\":0.6,\"decoy\":true}\n"
    "{\"incident\":\"country=BR@20m-22mv2\",\"start\":\"2026-11-18T11:20:00.000Z\","
    "\"end\":\"2026-11-18T11:22:00.000Z\",\"factor\":2,\"decoy\":false}\n"
    "{\"incident\":\"country=BR@20m-22mv2\",\"start\":\"2026-11-18T11:20:00.000Z\","
    "\"end\":\"2026-11-18T11:22:00.000Z\",\"factor\":2,\"decoy\":true}\n";

static const char alerts_decoys[] =
    /* A1: the incident's own slice. */
    ALERT("d1", "firing", PFB, "{\"country\":\"BR\",\"platform\":\"android\"}", "11:20:02.000",
          "11:20:05.000", "null")
    /* A2: country=BR matches incident 1 (more general), incident 2 and decoy 3: a true
       alert. */
    ALERT("d2", "firing", PFB, "{\"country\":\"BR\"}", "11:20:03.000", "11:20:08.000", "null")
    /* A3: the US surge pages 3 s after it starts: false, decoy 1. */
    ALERT("d3", "firing", "ErrorBurst", "{\"country\":\"US\"}", "11:30:01.000", "11:30:03.000",
          "null")
    /* A4: more specific than the surge, exactly at its end + 60 s: false, decoy 1. */
    ALERT("d4", "firing", "PlaybackVolumeDrop", "{\"country\":\"US\",\"platform\":\"web\"}",
          "11:41:00.000", "11:41:00.000", "null")
    /* A5: cdn=akamai during the surge only overlaps it: false, no decoy. */
    ALERT("d5", "firing", PFB, "{\"cdn\":\"akamai\"}", "11:35:00.000", "11:35:02.000", "null")
    /* A6: all traffic after everything: false, no decoy. */
    ALERT("d6", "firing", PFB, "{}", "11:50:00.000", "11:50:05.000", "null");

START_TEST(decoys_are_false_alerts_not_incidents)
{
    scratch_t s;
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char err[256];
    json_error_t jerr;

    scratch_open(&s);
    memset(&opt, 0, sizeof opt);
    opt.truth_path = scratch_write(&s, "truth.ndjson", truth_decoys);
    opt.alerts_path = scratch_write(&s, "alerts.ndjson", alerts_decoys);
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    /* "decoy":false is an incident like any other. */
    ck_assert_uint_eq(r->n_incidents, 2);
    ck_assert_uint_eq(r->n_decoys, 3);
    ck_assert_str_eq(r->decoys[0].slice.text, "country=US");
    ck_assert_str_eq(r->decoys[1].slice.text, "country=IS,platform=web");

    static const int matched[] = {0, 0, -1, -1, -1, -1};
    static const int decoy[] = {-1, -1, 0, 0, -1, -1};
    for (size_t a = 0; a < 6; a++) {
        ck_assert_int_eq(r->alerts[a].matched, matched[a]);
        ck_assert_int_eq(r->alerts[a].decoy, decoy[a]);
    }
    /* Incident 2 (country=BR, "decoy":false) is detected first by A1, more specific. */
    ck_assert_int_eq(r->incidents[1].alert, 0);
    ck_assert_int_eq(r->incidents[1].relation, FS_SCORE_SPECIFIC);
    /* Recall and precision ignore the decoys: 2 of 2 incidents, 2 of 6 alerts. */
    ck_assert_uint_eq(r->n_detected, 2);
    CLOSE(r->recall, 1.0, 0);
    CLOSE(r->precision, 2.0 / 6.0, 1e-15);
    ck_assert_uint_eq(r->n_false_alerts, 4);
    ck_assert_uint_eq(r->n_decoy_alerts, 2);
    ck_assert_uint_eq(r->n_decoys_paged, 1);
    /* Decoy 1 paged after 3 s by A3 (same slice), with A4 too. */
    ck_assert_int_eq(r->decoys[0].alert, 2);
    ck_assert_int_eq(r->decoys[0].relation, FS_SCORE_SAME);
    ck_assert_uint_eq(r->decoys[0].n_matching, 2);
    ck_assert_int_eq(r->decoys[0].delay_ms, 3000);
    /* The tiny slice did not page; decoy 3's only alert is a true one. */
    ck_assert_int_eq(r->decoys[1].alert, -1);
    ck_assert_int_eq(r->decoys[2].alert, -1);
    ck_assert_uint_eq(r->decoys[2].n_matching, 0);
    fs_score_result_free(r);

    const char *out = scratch_path(&s, "out.json");
    char *argv[] = {"score",
                    "--truth",
                    (char *)opt.truth_path,
                    "--alerts",
                    (char *)opt.alerts_path,
                    "--json",
                    (char *)out,
                    NULL};
    ck_assert_int_eq(fs_bench_score_main(7, argv), 0);
    json_t *doc = json_load_file(out, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);
    json_t *summary = json_object_get(doc, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "decoys")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "decoys_paged")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "decoy_alerts")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "false_alerts")), 4);
    json_t *decoys = json_object_get(doc, "decoys");
    ck_assert_uint_eq(json_array_size(decoys), 3);
    ck_assert(json_is_true(json_object_get(json_array_get(decoys, 0), "paged")));
    ck_assert(json_is_false(json_object_get(json_array_get(decoys, 1), "paged")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(decoys, 0), "decoy")),
                     "country=US@30m-40mv2");
    json_t *alerts = json_object_get(doc, "alerts");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(alerts, 2), "decoy")), 1);
    ck_assert(json_is_null(json_object_get(json_array_get(alerts, 4), "decoy")));
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "incidents")), 2);
    json_decref(doc);
    scratch_close(&s);
}
END_TEST

/* The command line: usage errors, a missing file, and the JSON report. */
START_TEST(command_line_writes_json)
{
    scratch_t s;
    json_error_t jerr;
    json_t *doc;

    scratch_open(&s);
    const char *truth = scratch_write(&s, "truth.ndjson", truth4);
    const char *alerts = scratch_write(&s, "alerts.ndjson", alerts10);
    const char *out = scratch_path(&s, "out.json");

    char *no_alerts[] = {"score", "--truth", (char *)truth, NULL};
    ck_assert_int_eq(fs_bench_score_main(3, no_alerts), 2);
    char *missing[] = {"score", "--truth", (char *)truth, "--alerts", "/nonexistent/a", NULL};
    ck_assert_int_eq(fs_bench_score_main(5, missing), 1);
    char *bad_span[] = {"score",        "--truth", (char *)truth, "--alerts",
                        (char *)alerts, "--span",  "soon",        NULL};
    ck_assert_int_eq(fs_bench_score_main(7, bad_span), 2);

    char *argv[] = {"score",  "--truth",   (char *)truth, "--alerts", (char *)alerts,
                    "--json", (char *)out, "--span",      "2d",       NULL};
    ck_assert_int_eq(fs_bench_score_main(9, argv), 0);
    doc = json_load_file(out, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);
    json_t *summary = json_object_get(doc, "summary");
    CLOSE(json_real_value(json_object_get(summary, "precision")), 0.5, 1e-12);
    CLOSE(json_real_value(json_object_get(summary, "recall")), 0.75, 1e-12);
    CLOSE(json_real_value(json_object_get(summary, "false_alerts_per_day")), 2.5, 1e-12);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "false_alerts")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "duplicate_firing_messages")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "alerts")), 10);

    json_t *incidents = json_object_get(doc, "incidents");
    ck_assert_uint_eq(json_array_size(incidents), 4);
    json_t *i1 = json_array_get(incidents, 0), *i2 = json_array_get(incidents, 1);
    json_t *i3 = json_array_get(incidents, 2), *i4 = json_array_get(incidents, 3);
    CLOSE(json_real_value(json_object_get(i1, "delay_seconds")), 7.0, 1e-12);
    ck_assert_str_eq(json_string_value(json_object_get(i1, "relation")), "same");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(i1, "alert"), "slice"), "platform")),
                     "android");
    ck_assert_str_eq(json_string_value(json_object_get(i2, "relation")), "more general");
    ck_assert_uint_eq(json_object_size(json_object_get(json_object_get(i2, "alert"), "slice")), 0);
    ck_assert(json_is_null(json_object_get(i2, "resolve_seconds")));
    ck_assert_str_eq(json_string_value(json_object_get(i3, "relation")), "more specific");
    CLOSE(json_real_value(json_object_get(i3, "resolve_seconds")), -10.0, 1e-12);
    ck_assert(json_is_false(json_object_get(i4, "detected")));
    ck_assert(json_is_null(json_object_get(i4, "delay_seconds")));
    ck_assert(json_is_null(json_object_get(i4, "oracle")));
    json_decref(doc);
    scratch_close(&s);
}
END_TEST

/* ---- oracle ---- */

/* Failures of the incident's slice (country=BR, platform=android) in second b
 * from T0, out of 50 attempts; the incident covers seconds 600 to 719. Before
 * it, 1 failure except every fourth second, and 4 in the `burst` seconds
 * just before the start (a head start for the CUSUM); during it, 3 5 2 6 4
 * repeating. */
static int br_android_failures(int b, int burst)
{
    static const int during[5] = {3, 5, 2, 6, 4};
    if (b >= 600)
        return during[(b - 600) % 5];
    if (b >= 600 - burst)
        return 4;
    return b % 4 != 3 ? 1 : 0;
}

static void put_event(FILE *f, int64_t ts, int rfc3339, int failed, const char *country,
                      const char *platform)
{
    char t[FS_TIMESTAMP_LEN + 1];
    if (rfc3339) {
        fs_timestamp_format(ts, t);
        fprintf(f, "{\"ts\":\"%s\"", t);
    } else {
        fprintf(f, "{\"ts\":%lld", (long long)ts);
    }
    fprintf(f, ",\"outcome\":\"%s\"", failed ? "failed" : "ok");
    if (country)
        fprintf(f, ",\"country\":\"%s\"", country);
    fprintf(f, ",\"platform\":\"%s\",\"cdn\":\"akamai\"}\n", platform);
}

/* Writes the playback file: per second 50 BR/android events, 20 BR/ios (half
 * failing during the incident, none before), 20 US/android (one failing) and
 * one failing android event without a country; 5 failing BR/android events
 * 5 s before T0 (outside the 10 minutes); two invalid lines. */
static void write_playback(const char *path, int burst)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 5; i++)
        put_event(f, T0 - 5000 + i, 0, 1, "BR", "android");
    fputs("{\"ts\":\"not a time\",\"outcome\":\"failed\",\"country\":\"BR\","
          "\"platform\":\"android\"}\nnot json\n",
          f);
    for (int b = 0; b < 720; b++) {
        int64_t sec = T0 + (int64_t)b * 1000;
        int fb = br_android_failures(b, burst);
        for (int i = 0; i < 50; i++)
            put_event(f, sec + i * 20, i % 3 == 0, i < fb, "BR", "android");
        for (int i = 0; i < 20; i++)
            put_event(f, sec + i * 50, 0, b >= 600 && i < 10, "BR", "ios");
        for (int i = 0; i < 20; i++)
            put_event(f, sec + i * 50 + 1, 1, i == 0, "US", "android");
        put_event(f, sec + 999, 0, 1, NULL, "android");
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* Incident from T0 + 600 s (11:16:40) to T0 + 720 s (11:18:40); the detector's
 * alert comes 12 s after the start. */
static const char oracle_truth[] = "{\"incident\":\"country=BR,platform=android@10m-12m*8\","
                                   "\"start\":\"2026-11-18T11:16:40.000Z\","
                                   "\"end\":\"2026-11-18T11:18:40.000Z\",\"factor\":8}\n";
static const char oracle_alerts[] =
    ALERT("b1", "firing", PFB, "{\"country\":\"BR\",\"platform\":\"android\"}", "11:16:41.000",
          "11:16:52.000", "null");
/* One valid error event at T0 + 800 s (11:20:00) and one without a code. */
static const char oracle_errors[] =
    "{\"ts\":\"2026-11-18T11:20:00.000Z\",\"code\":\"CDN_404\",\"country\":\"BR\"}\n"
    "{\"ts\":\"2026-11-18T11:20:00.000Z\",\"country\":\"BR\"}\n";

/* h for 1 false alarm a day over N slices of 1 s buckets, by the Python
 * computation described at the top: N = 500 and N = 5. */
static const double h_500 = 15.967340356380;
static const double h_5 = 11.362192471891;

START_TEST(oracle_delay_on_constructed_series)
{
    scratch_t s;
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char err[256];

    scratch_open(&s);
    memset(&opt, 0, sizeof opt);
    opt.truth_path = scratch_write(&s, "truth.ndjson", oracle_truth);
    opt.alerts_path = scratch_write(&s, "alerts.ndjson", oracle_alerts);
    opt.errors_path = scratch_write(&s, "errors.ndjson", oracle_errors);
    opt.playback_path = scratch_path(&s, "playback.ndjson");
    write_playback(opt.playback_path, 2);

    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    const fs_score_incident_t *inc = &r->incidents[0];
    /* 91 valid events a second for 720 s, 5 early ones and 1 error; 3 invalid lines. */
    ck_assert_uint_eq(r->events_read, 91 * 720 + 5 + 1);
    ck_assert_uint_eq(r->events_invalid, 3);
    /* The span runs from the early events (T0 - 5 s) to the error (T0 + 800 s). */
    ck_assert_str_eq(r->span_source, "event files");
    ck_assert_int_eq(r->span_start_ms, T0 - 5000);
    ck_assert_int_eq(r->span_end_ms, T0 + 800000);
    CLOSE(r->span_days, 805.0 / 86400.0, 1e-15);

    /* Before: 457 failures of 30000 attempts; during: 480 of 6000. */
    ck_assert_int_eq(inc->delay_ms, 12000);
    CLOSE(inc->attempts_before, 30000, 0);
    CLOSE(inc->failures_before, 457, 0);
    CLOSE(inc->attempts_during, 6000, 0);
    CLOSE(inc->failures_during, 480, 0);
    CLOSE(inc->p0, 0.015233333333333333, 1e-15);
    CLOSE(inc->p1, 0.08, 1e-15);
    CLOSE(r->oracle_h, h_500, 1e-6);
    /* S = 0 until second 597, then 3.5047 7.0095 | 8.7876 14.0189 14.0705 21.0284: it first
       reaches h (15.967) at the end of second 603, 4 s after the start. */
    ck_assert(inc->has_oracle);
    ck_assert_int_eq(inc->oracle_delay_ms, 4000);
    ck_assert_uint_eq(inc->oracle_false_alarms, 0);
    CLOSE(inc->delay_ratio, 3.0, 1e-12);
    fs_score_result_free(r);

    /* Over 5 slices h is 11.362: S = 14.0189 crosses at the end of second 601, after 2 s. */
    opt.slices = 5;
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    CLOSE(r->oracle_h, h_5, 1e-6);
    ck_assert_int_eq(r->incidents[0].oracle_delay_ms, 2000);
    CLOSE(r->incidents[0].delay_ratio, 6.0, 1e-12);
    fs_score_result_free(r);
    scratch_close(&s);
}
END_TEST

START_TEST(oracle_restarts_after_a_false_alarm)
{
    scratch_t s;
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char err[256];

    scratch_open(&s);
    memset(&opt, 0, sizeof opt);
    opt.truth_path = scratch_write(&s, "truth.ndjson", oracle_truth);
    opt.alerts_path = scratch_write(&s, "alerts.ndjson", "");
    opt.playback_path = scratch_path(&s, "playback.ndjson");
    /* A 5 s burst before the start: S reaches 17.1686 at the end of second 599, which is the
       start itself, so that alarm is false; S restarts and goes 1.7291 6.8674 6.8920 13.7349
       17.1686, crossing at the end of second 604, 5 s after the start. p0 = 467/30000. */
    write_playback(opt.playback_path, 5);
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    const fs_score_incident_t *inc = &r->incidents[0];
    CLOSE(inc->p0, 0.015566666666666666, 1e-15);
    ck_assert_uint_eq(inc->oracle_false_alarms, 1);
    ck_assert_int_eq(inc->oracle_delay_ms, 5000);
    /* Undetected by the detector: no ratio. */
    ck_assert_int_eq(inc->delay_ms, FS_SCORE_NO_TIME);
    ck_assert(isnan(inc->delay_ratio));
    fs_score_result_free(r);
    scratch_close(&s);
}
END_TEST

START_TEST(oracle_needs_a_rise)
{
    scratch_t s;
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char err[256];

    scratch_open(&s);
    memset(&opt, 0, sizeof opt);
    /* US/android fails 1 in 20 before and during: the ratio does not rise. */
    opt.truth_path = scratch_write(
        &s, "truth.ndjson",
        "{\"incident\":\"country=US,platform=android@10m-12m*8\","
        "\"start\":\"2026-11-18T11:16:40.000Z\",\"end\":\"2026-11-18T11:18:40.000Z\"}\n"
        "{\"incident\":\"country=FR@10m-12m*8\",\"start\":\"2026-11-18T11:16:40.000Z\","
        "\"end\":\"2026-11-18T11:18:40.000Z\"}\n");
    opt.alerts_path = scratch_write(&s, "alerts.ndjson", "");
    opt.playback_path = scratch_path(&s, "playback.ndjson");
    write_playback(opt.playback_path, 2);
    ck_assert_msg(fs_score_run(&opt, &r, err, sizeof err) == 0, "%s", err);
    CLOSE(r->incidents[0].p0, 0.05, 1e-15);
    CLOSE(r->incidents[0].p1, 0.05, 1e-15);
    ck_assert(!r->incidents[0].has_oracle);
    ck_assert_str_eq(r->incidents[0].oracle_note, "the failure ratio did not rise");
    ck_assert(!r->incidents[1].has_oracle);
    ck_assert_str_eq(r->incidents[1].oracle_note,
                     "no attempts in the slice before or during the incident");
    ck_assert(isnan(r->incidents[0].factor));
    fs_score_result_free(r);
    scratch_close(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("score");
    TCase *tc = tcase_create("matching");
    tcase_add_test(tc, matches_incidents_and_alerts);
    tcase_add_test(tc, empty_inputs_are_undefined_not_zero);
    tcase_add_test(tc, bad_input_names_file_and_line);
    tcase_add_test(tc, command_line_writes_json);
    tcase_add_test(tc, decoys_are_false_alerts_not_incidents);
    suite_add_tcase(s, tc);
    tc = tcase_create("oracle");
    tcase_add_test(tc, oracle_delay_on_constructed_series);
    tcase_add_test(tc, oracle_restarts_after_a_false_alarm);
    tcase_add_test(tc, oracle_needs_a_rise);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
