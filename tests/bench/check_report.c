/*
 * check_report.c: `foreshock-bench report` (bench/report.h) on constructed
 * inputs.
 *
 * The playback file has two slices of 10 events a second each for 20
 * minutes, one of them cdn=<&> (a value that must be escaped); exactly 2% of
 * each fail, except in the incident windows: 20% of cdn=<&> in minutes 12-14
 * (incident 1) and 30% of cdn=akamai in minutes 16-17 (incident 2, missed).
 * Two alerts match incident 1 (its own slice and all traffic), one is false.
 * So the page must hold one chart per incident plus the histogram (and the
 * scatter with --tune), recall 0.500 and precision 0.667, incident 1's series
 * with one point per 10 s bin of its span and exactly two levels, the
 * escaped slice and no raw one, and nothing that loads from elsewhere.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/report.h"

/* 2026-11-18T11:06:40.000Z, a multiple of 10 s. */
#define T0 1795000000000LL

static char dir[64];
static char playback[128], errors[128], truth[128], alerts[128], tune_csv[128], out[128];

static void path_in(char *path, size_t size, const char *name)
{
    int n = snprintf(path, size, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < size);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void inputs_setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/check_report.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    path_in(playback, sizeof playback, "p.ndjson");
    path_in(errors, sizeof errors, "e.ndjson");
    path_in(truth, sizeof truth, "t.ndjson");
    path_in(alerts, sizeof alerts, "a.ndjson");
    path_in(tune_csv, sizeof tune_csv, "r.csv");
    path_in(out, sizeof out, "report.html");

    FILE *f = fopen(playback, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not an event\n", f); /* skipped, as the detector skips it */
    for (int64_t s = 0; s < 20 * 60; s++) {
        for (int k = 0; k < 10; k++) {
            int64_t n = s * 10 + k;
            int special_failed = n % 50 == 0, akamai_failed = n % 50 == 0;
            if (s >= 12 * 60 && s < 14 * 60)
                special_failed = k < 2;
            if (s >= 16 * 60 && s < 17 * 60)
                akamai_failed = k < 3;
            fprintf(f,
                    "{\"ts\":%lld,\"outcome\":\"%s\",\"user_id\":\"u%d\",\"country\":\"XX\","
                    "\"platform\":\"android\",\"cdn\":\"<&>\"}\n",
                    (long long)(T0 + s * 1000 + k * 100), special_failed ? "failed" : "ok", k);
            fprintf(f,
                    "{\"ts\":%lld,\"outcome\":\"%s\",\"user_id\":\"v%d\",\"country\":\"XX\","
                    "\"platform\":\"ios\",\"cdn\":\"akamai\"}\n",
                    (long long)(T0 + s * 1000 + k * 100 + 50), akamai_failed ? "failed" : "ok", k);
        }
    }
    ck_assert_int_eq(fclose(f), 0);
    write_file(errors, "{\"ts\":1795000000500,\"code\":\"NET_TIMEOUT\",\"cdn\":\"<&>\"}\n");
    write_file(truth,
               "{\"incident\":\"cdn=<&>@12m-14m*10\",\"start\":\"2026-11-18T11:18:40.000Z\","
               "\"end\":\"2026-11-18T11:20:40.000Z\",\"factor\":10}\n"
               "{\"incident\":\"cdn=akamai@16m-17m*15\",\"start\":\"2026-11-18T11:22:40.000Z\","
               "\"end\":\"2026-11-18T11:23:40.000Z\",\"factor\":15}\n");
#define ALERT(fp, status, slice, starts, detected, ends)                                           \
    "{\"fingerprint\":\"" fp "\",\"status\":\"" status                                             \
    "\",\"alertname\":\"PlaybackFailureBurst\","                                                   \
    "\"slice\":" slice ",\"startsAt\":\"2026-11-18T" starts                                        \
    "Z\",\"detectedAt\":\"2026-11-18T" detected "Z\",\"endsAt\":" ends "}\n"
    write_file(alerts,
               /* A false alert, long before anything. */
               ALERT("f1", "firing", "{\"country\":\"XX\",\"platform\":\"ios\"}", "11:11:40.000",
                     "11:11:45.000", "null")
               /* Incident 1's own slice, 6 s after the start, resolved 20 s after the end. */
               ALERT("a1", "firing", "{\"cdn\":\"<&>\"}", "11:18:42.000", "11:18:46.000", "null")
               /* All traffic, more general, later. */
               ALERT("a2", "firing", "{}", "11:18:45.000", "11:18:55.000", "null")
                   ALERT("a1", "resolved", "{\"cdn\":\"<&>\"}", "11:18:42.000", "11:18:46.000",
                         "\"2026-11-18T11:21:00.000Z\""));
    /* The columns of `tune`, a swept list value that needs quoting and one that
     * needs escaping. */
    write_file(tune_csv,
               "point,slices.pairs,log.status_interval,incidents,detected,firing_alerts,"
               "false_alerts,recall,precision,false_alerts_per_day,delay_p50_s,delay_p95_s,"
               "delay_ratio_p50,events_per_s,pareto\n"
               "1,\"country+platform,country+cdn\",x<&>y,2,1,3,1,0.5,0.666667,72,4,4,1.2,"
               "100000,1\n"
               "2,country+platform,10s,2,1,2,0,0.5,1,0,6,6,1.5,100000,1\n"
               "3,country+platform,1m,2,1,4,2,0.5,0.5,144,7,7,2,100000,0\n"
               "4,country+cdn,1m,2,0,0,0,0,,0,,,,100000,0\n");
}

static void inputs_teardown(void)
{
    const char *files[] = {playback, errors, truth, alerts, tune_csv, out};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    char bad[128];
    path_in(bad, sizeof bad, "bad.csv");
    unlink(bad);
    rmdir(dir);
}

/* The written page, NUL-terminated; free it. */
static char *read_page(void)
{
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_gt(size, 0);
    rewind(f);
    char *page = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(page);
    ck_assert_uint_eq(fread(page, 1, (size_t)size, f), (size_t)size);
    page[size] = '\0';
    fclose(f);
    return page;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *write_page(int with_tune)
{
    fs_report_options_t opt = {truth, alerts, playback, errors, with_tune ? tune_csv : NULL, out};
    char err[256];
    ck_assert_msg(fs_report_write(&opt, err, sizeof err) == 0, "%s", err);
    return read_page();
}

START_TEST(one_chart_per_incident_and_a_histogram)
{
    char *page = write_page(0);
    ck_assert_uint_eq(count(page, "<svg"), 2 + 1);
    ck_assert_uint_eq(count(page, "</svg>"), 2 + 1);
    ck_assert_ptr_nonnull(strstr(page, "id=\"delay-histogram\""));
    ck_assert_ptr_nonnull(strstr(page, "id=\"incident-1\""));
    ck_assert_ptr_nonnull(strstr(page, "id=\"incident-2\""));
    ck_assert_ptr_null(strstr(page, "id=\"pareto\""));
    free(page);

    page = write_page(1);
    ck_assert_uint_eq(count(page, "<svg"), 2 + 1 + 1);
    ck_assert_ptr_nonnull(strstr(page, "id=\"pareto\""));
    free(page);
}
END_TEST

START_TEST(summary_has_the_scores)
{
    char *page = write_page(0);
    /* 1 of 2 incidents, 2 of 3 alerts; incident 1 detected 6.0 s after its start. */
    ck_assert_ptr_nonnull(strstr(page, "0.500 &nbsp;(1 of 2 incidents detected)"));
    ck_assert_ptr_nonnull(strstr(page, "0.667 &nbsp;(2 of 3 firing alerts match an incident)"));
    ck_assert_ptr_nonnull(strstr(page, "detected after 6.0 s"));
    ck_assert_ptr_nonnull(strstr(page, "class=\"missed\""));
    /* Two lanes under incident 1 (its slice and all traffic), none under 2. */
    char *one = strstr(page, "id=\"incident-1\""), *two = strstr(page, "id=\"incident-2\"");
    ck_assert(one && two && one < two);
    *two = '\0';
    ck_assert_uint_eq(count(one, "class=\"lane\""), 2);
    ck_assert_uint_eq(count(two + 1, "class=\"lane\""), 0);
    free(page);
}
END_TEST

START_TEST(series_has_a_point_per_bin)
{
    char *page = write_page(0);
    char *chart = strstr(page, "id=\"incident-1\"");
    ck_assert_ptr_nonnull(chart);
    /* The ratio line: from 10 minutes before the start to 5 minutes after the end
     * (the alert resolved 20 s after it), 17 minutes of 10 s bins, all with
     * attempts, so one unbroken line. */
    char *line = strstr(chart, "<polyline fill=\"none\" stroke=\"#2563eb\"");
    ck_assert_ptr_nonnull(line);
    char *points = strstr(line, "points=\"");
    ck_assert_ptr_nonnull(points);
    points += strlen("points=\"");
    char *end = strchr(points, '"');
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    double levels[4];
    size_t n_levels = 0, n_points = 0, n_at[4] = {0};
    for (char *p = points; *p;) {
        double x, y;
        int used;
        ck_assert_int_eq(sscanf(p, "%lf,%lf %n", &x, &y, &used), 2);
        size_t k = 0;
        while (k < n_levels && levels[k] != y)
            k++;
        if (k == n_levels) {
            ck_assert_uint_lt(n_levels, 4);
            levels[n_levels++] = y;
        }
        n_at[k]++;
        n_points++;
        p += used;
    }
    ck_assert_uint_eq(n_points, 17 * 6);
    /* 2% everywhere but the 12 bins of the incident, 20% there. */
    ck_assert_uint_eq(n_levels, 2);
    size_t high = levels[0] < levels[1] ? 0 : 1; /* SVG y grows downwards */
    ck_assert_uint_eq(n_at[high], 12);
    ck_assert_uint_eq(n_at[1 - high], 17 * 6 - 12);
    free(page);
}
END_TEST

START_TEST(text_is_escaped)
{
    char *page = write_page(1);
    ck_assert_ptr_nonnull(strstr(page, "cdn=&lt;&amp;&gt;"));
    ck_assert_ptr_null(strstr(page, "<&>"));
    /* From the CSV: the quoted list unquoted, the odd value escaped. */
    ck_assert_ptr_nonnull(strstr(page, "country+platform,country+cdn"));
    ck_assert_ptr_nonnull(strstr(page, "x&lt;&amp;&gt;y"));
    ck_assert_ptr_null(strstr(page, "x<&>y"));
    free(page);
}
END_TEST

START_TEST(nothing_is_loaded_from_elsewhere)
{
    char *page = write_page(1);
    static const char *const attributes[] = {"src=", "href=", "xlink:href="};
    for (size_t a = 0; a < sizeof attributes / sizeof attributes[0]; a++) {
        for (const char *p = page; (p = strstr(p, attributes[a])); p++) {
            const char *value = p + strlen(attributes[a]);
            ck_assert_msg(*value == '"' && value[1] == '#', "%.60s", p);
        }
    }
    ck_assert_ptr_null(strstr(page, "http"));
    ck_assert_ptr_null(strstr(page, "<script"));
    ck_assert_ptr_null(strstr(page, "url("));
    ck_assert_ptr_null(strstr(page, "@import"));
    free(page);
}
END_TEST

START_TEST(pareto_front_is_drawn_from_the_csv)
{
    char *page = write_page(1);
    char *scatter = strstr(page, "id=\"pareto\"");
    ck_assert_ptr_nonnull(scatter);
    char *end = strstr(scatter, "</svg>");
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    /* Points 1 and 2 on the front, 3 dominated, 4 without a delay not drawn;
     * the legend has one circle of each kind. */
    ck_assert_uint_eq(count(scatter, "<circle"), 3 + 2);
    ck_assert_uint_eq(count(scatter, "fill=\"#ea580c\""), 2 + 1);
    ck_assert_uint_eq(count(scatter, "<polyline"), 1);
    free(page);
}
END_TEST

START_TEST(bad_csv_names_file_and_line)
{
    char bad[128], err[256];
    path_in(bad, sizeof bad, "bad.csv");
    write_file(bad, "point,incidents\n1,2\n3\n");
    fs_report_options_t opt = {truth, alerts, playback, errors, bad, out};
    ck_assert_int_eq(fs_report_write(&opt, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "bad.csv:3: 1 fields, the header has 2"));

    /* A CSV that is not tune's fails before the page is written. */
    unlink(out);
    write_file(bad, "point,incidents\n1,2\n");
    ck_assert_int_eq(fs_report_write(&opt, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a foreshock-bench tune CSV"));
    ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("page");
    tcase_add_unchecked_fixture(tc, inputs_setup, inputs_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_chart_per_incident_and_a_histogram);
    tcase_add_test(tc, summary_has_the_scores);
    tcase_add_test(tc, series_has_a_point_per_bin);
    tcase_add_test(tc, text_is_escaped);
    tcase_add_test(tc, nothing_is_loaded_from_elsewhere);
    tcase_add_test(tc, pareto_front_is_drawn_from_the_csv);
    tcase_add_test(tc, bad_csv_names_file_and_line);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
