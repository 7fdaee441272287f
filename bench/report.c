/*
 * report.c: `foreshock-bench report`, an HTML page of a scored replay (the
 * contract is in report.h).
 *
 * The flow: score the inputs with fs_score_run (matching, delays, oracle,
 * span) and summarise them with fs_tune_metrics; pick each incident's chart
 * span and matching alerts; read the playback file once more with score's
 * event reader, counting attempts and failures of every incident's slice per
 * 10 s bin; read the tune CSV if given; write the page. Everything drawn is
 * computed here in C and written as SVG shapes: the page needs no script.
 */
#include "bench/report.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/score.h"
#include "bench/tune.h"
#include "detector/decode.h"
#include "detector/timestamp.h"

#define MINUTE_MS 60000
/* How far after the end a chart goes at least, and at most. */
#define TAIL_MIN_MS (5 * MINUTE_MS)
#define TAIL_MAX_MS (30 * MINUTE_MS)
/* Most alert lanes under one chart; the rest are counted. */
#define MAX_LANES 12
/* Most false alerts listed in the table. */
#define MAX_FALSE_ROWS 200

/* Chart geometry (SVG user units; the SVG scales to the page width). */
#define CHART_W  1040.0
#define MARGIN_L 190.0
#define MARGIN_R 24.0
#define PLOT_W   (CHART_W - MARGIN_L - MARGIN_R)

/* Colours, shared by the charts and the CSS. */
#define C_RATIO       "#2563eb"
#define C_BASE        "#6b7280"
#define C_WINDOW      "#fde2e2"
#define C_WINDOW_EDGE "#f4a5a5"
#define C_STARTS      "#d97706"
#define C_DETECTED    "#dc2626"
#define C_ENDS        "#16a34a"
#define C_ORACLE      "#7c3aed"
#define C_FRONT       "#ea580c"
#define C_GRID        "#e5e7eb"

/* One incident's chart: its span, bins and matching alerts. */
typedef struct chart {
    int64_t view_start, view_end; /* ms, multiples of the bin width */
    size_t n_bins;
    double *attempts, *failures;
    size_t *alerts; /* indices into the result's alerts, by detectedAt */
    size_t n_alerts;
} chart_t;

/* The tune CSV, cut into fields. */
typedef struct csv {
    char *text;    /* owned: the file, unquoted fields cut in place */
    char **copies; /* owned: the quoted fields, unquoted */
    size_t n_copies;
    char ***records;  /* owned arrays of n_cols fields (pointing into the above) */
    size_t n_records; /* records[0] is the header */
    size_t n_cols;
} csv_t;

static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;

    if (!err || err_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- escaping and small formats ---- */

/* Writes s as HTML text or attribute value: & < > " ' escaped. */
static void esc(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

/* Like esc, but at most max characters (bytes of UTF-8 lead bytes), then an
 * ellipsis; for lane labels. */
static void esc_short(FILE *out, const char *s, size_t max)
{
    size_t chars = 0;
    const char *p = s;

    while (*p && chars < max) {
        p++;
        while ((*p & 0xC0) == 0x80)
            p++;
        chars++;
    }
    if (!*p) {
        esc(out, s);
        return;
    }
    char *cut = strndup(s, (size_t)(p - s));
    if (cut)
        esc(out, cut);
    free(cut);
    fputs("\xE2\x80\xA6", out);
}

static const char *fmt_time(int64_t ms, char buf[FS_TIMESTAMP_LEN + 1])
{
    if (ms == FS_SCORE_NO_TIME)
        return "\xE2\x80\x93";
    fs_timestamp_format(ms, buf);
    return buf;
}

/* A number with a unit, or an en dash when undefined. */
static void put_num(FILE *out, double v, const char *fmt, const char *unit)
{
    if (!isfinite(v)) {
        fputs("\xE2\x80\x93", out);
        return;
    }
    fprintf(out, fmt, v);
    fputs(unit, out);
}

static void put_seconds_ms(FILE *out, int64_t ms)
{
    if (ms == FS_SCORE_NO_TIME)
        fputs("\xE2\x80\x93", out);
    else
        fprintf(out, "%.1f s", (double)ms / 1000.0);
}

/* A tick step of 1, 2 or 5 times a power of ten giving about target ticks. */
static double nice_step(double span, int target)
{
    if (!(span > 0))
        return 1;
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* Formats a tick value without trailing noise ("0.5", "2", "10"). */
static void put_tick(FILE *out, double v, double step)
{
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-6)
        v = 0;
    if (v < 0)
        fprintf(out, "\xE2\x88\x92%.*f", decimals, -v);
    else
        fprintf(out, "%.*f", decimals, v);
}

/* ---- matching alerts (score.h's rule) ---- */

/* Sorts alert indices by detectedAt, keeping file order among equals. */
static void sort_by_detection(const fs_score_result_t *r, size_t *idx, size_t n)
{
    for (size_t a = 1; a < n; a++) {
        size_t v = idx[a], b = a;
        while (b > 0 && r->alerts[idx[b - 1]].detected_at_ms > r->alerts[v].detected_at_ms) {
            idx[b] = idx[b - 1];
            b--;
        }
        idx[b] = v;
    }
}

/* ---- the charts' data ---- */

static void charts_free(chart_t *charts, size_t n)
{
    for (size_t i = 0; charts && i < n; i++) {
        free(charts[i].attempts);
        free(charts[i].failures);
        free(charts[i].alerts);
    }
    free(charts);
}

/* Picks the matching alerts and the span of each chart. Returns 0 or -1. */
static int charts_plan(const fs_score_result_t *r, chart_t *charts)
{
    for (size_t i = 0; i < r->n_incidents; i++) {
        const fs_score_incident_t *inc = &r->incidents[i];
        chart_t *c = &charts[i];
        int64_t last = inc->end_ms + TAIL_MIN_MS;

        if (!(c->alerts = calloc(r->n_alerts ? r->n_alerts : 1, sizeof *c->alerts)))
            return -1;
        for (size_t a = 0; a < r->n_alerts; a++) {
            const fs_score_alert_t *al = &r->alerts[a];
            if (!fs_score_matches(inc, al))
                continue;
            c->alerts[c->n_alerts++] = a;
            int64_t seen = al->ends_at_ms != FS_SCORE_NO_TIME ? al->ends_at_ms : al->detected_at_ms;
            if (seen + MINUTE_MS > last)
                last = seen + MINUTE_MS;
        }
        sort_by_detection(r, c->alerts, c->n_alerts);
        if (last > inc->end_ms + TAIL_MAX_MS)
            last = inc->end_ms + TAIL_MAX_MS;
        int64_t first = inc->start_ms - FS_SCORE_ORACLE_LEAD_MS;
        /* No need to draw time the event files do not cover, up to the window. */
        if (strcmp(r->span_source, "event files") == 0) {
            if (first < r->span_start_ms)
                first = r->span_start_ms < inc->start_ms ? r->span_start_ms : inc->start_ms;
            if (last > r->span_end_ms + 1)
                last = r->span_end_ms + 1 > inc->end_ms ? r->span_end_ms + 1 : inc->end_ms;
        }
        c->view_start = floor_div(first, FS_REPORT_BIN_MS) * FS_REPORT_BIN_MS;
        c->view_end = (floor_div(last - 1, FS_REPORT_BIN_MS) + 1) * FS_REPORT_BIN_MS;
        c->n_bins = (size_t)((c->view_end - c->view_start) / FS_REPORT_BIN_MS);
        c->attempts = calloc(c->n_bins, sizeof *c->attempts);
        c->failures = calloc(c->n_bins, sizeof *c->failures);
        if (!c->attempts || !c->failures)
            return -1;
    }
    return 0;
}

/* What fill_event needs: the charts of r, and the decoder dimension of each
 * pair of each incident's slice. */
typedef struct fill {
    const fs_score_result_t *r;
    chart_t *charts;
    int (*dim_index)[FS_MAX_DIMS];
} fill_t;

/* fs_score_event_fn: counts a playback event into the bin of each chart
 * whose span and slice it lies in. */
static void fill_event(void *ctx, const fs_event_t *ev)
{
    const fill_t *fill = ctx;

    for (size_t i = 0; i < fill->r->n_incidents; i++) {
        chart_t *c = &fill->charts[i];
        if (ev->ts_ms < c->view_start || ev->ts_ms >= c->view_end ||
            !fs_score_event_in_slice(ev, &fill->r->incidents[i].slice, fill->dim_index[i]))
            continue;
        size_t b = (size_t)((ev->ts_ms - c->view_start) / FS_REPORT_BIN_MS);
        c->attempts[b] += 1;
        c->failures[b] += ev->failed ? 1 : 0;
    }
}

/* Counts the playback file into the charts' bins, decoded as score decodes
 * it (fs_score_decoder_new, fs_score_read_events). */
static int charts_fill(const fs_score_result_t *r, chart_t *charts, const char *path, char *err,
                       size_t err_size)
{
    fill_t fill = {r, charts, NULL};
    fs_decoder_t *decoder = NULL;
    int rc = -1;

    if (!(fill.dim_index = calloc(r->n_incidents ? r->n_incidents : 1, sizeof *fill.dim_index))) {
        set_err(err, err_size, "out of memory");
        goto done;
    }
    if (!(decoder = fs_score_decoder_new(r, fill.dim_index, err, err_size)))
        goto done;
    rc = fs_score_read_events(path, FS_EVENT_PLAYBACK, decoder, fill_event, &fill, NULL, err,
                              err_size);
done:
    free(fill.dim_index);
    fs_decoder_free(decoder);
    return rc;
}

/* ---- the tune CSV ---- */

static void csv_free(csv_t *csv)
{
    for (size_t i = 0; i < csv->n_copies; i++)
        free(csv->copies[i]);
    free(csv->copies);
    for (size_t r = 0; r < csv->n_records; r++)
        free(csv->records[r]);
    free(csv->records);
    free(csv->text);
    memset(csv, 0, sizeof *csv);
}

/* Reads path as RFC 4180 CSV whose first record is the header. Returns 0,
 * or -1 with a reason; csv_free(csv) in either case. */
static int csv_load(const char *path, csv_t *csv, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    size_t len = 0, cap = 0, line = 1, records_cap = 0, n_fields = 0, fields_cap = 0;
    char **fields = NULL;

    memset(csv, 0, sizeof *csv);
    if (!f) {
        set_err(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (int ch; (ch = fgetc(f)) != EOF;) {
        if (len + 2 > cap) {
            char *grown = realloc(csv->text, cap = cap ? 2 * cap : 4096);
            if (!grown)
                goto oom;
            csv->text = grown;
        }
        csv->text[len++] = (char)ch;
    }
    if (ferror(f)) {
        set_err(err, err_size, "%s: read error", path);
        goto fail;
    }
    if (!csv->text && !(csv->text = calloc(1, 1)))
        goto oom;
    csv->text[len] = '\0';

    /* Cut fields: unquoted ones in place, quoted ones into copies. */
    char *p = csv->text, *end = csv->text + len;
    while (p < end) {
        char *field;
        if (*p == '"') {
            char *q = ++p, *w, *copy = malloc((size_t)(end - p) + 1);
            char **grown = realloc(csv->copies, (csv->n_copies + 1) * sizeof *grown);
            if (grown)
                csv->copies = grown;
            if (!copy || !grown) {
                free(copy);
                goto oom;
            }
            csv->copies[csv->n_copies++] = copy;
            for (w = copy; q < end && !(*q == '"' && (q + 1 >= end || q[1] != '"')); q++) {
                if (*q == '"')
                    q++; /* a doubled quote stands for one */
                line += *q == '\n';
                *w++ = *q;
            }
            *w = '\0';
            field = copy;
            p = q < end ? q + 1 : end;
        } else {
            field = p;
            while (p < end && *p != ',' && *p != '\n' && *p != '\r')
                p++;
        }
        if (n_fields == fields_cap) {
            fields_cap = fields_cap ? 2 * fields_cap : 16;
            char **grown = realloc(fields, fields_cap * sizeof *grown);
            if (!grown)
                goto oom;
            fields = grown;
        }
        fields[n_fields++] = field;
        char sep = p < end ? *p : '\n';
        if (p < end)
            *p++ = '\0';
        if (sep == ',')
            continue;
        if (sep == '\r' && p < end && *p == '\n')
            p++;
        if (sep != '\n' && sep != '\r') {
            set_err(err, err_size, "%s:%zu: unexpected character after a quoted field", path, line);
            goto fail;
        }
        /* End of a record; a blank line is none. */
        if (!(n_fields == 1 && fields[0][0] == '\0')) {
            if (csv->n_records == 0) {
                csv->n_cols = n_fields;
            } else if (n_fields != csv->n_cols) {
                set_err(err, err_size, "%s:%zu: %zu fields, the header has %zu", path, line,
                        n_fields, csv->n_cols);
                goto fail;
            }
            if (csv->n_records == records_cap) {
                records_cap = records_cap ? 2 * records_cap : 64;
                char ***grown = realloc(csv->records, records_cap * sizeof *grown);
                if (!grown)
                    goto oom;
                csv->records = grown;
            }
            csv->records[csv->n_records++] = fields;
            fields = NULL;
            fields_cap = 0;
        }
        n_fields = 0;
        line++;
    }
    if (csv->n_records == 0) {
        set_err(err, err_size, "%s: empty, no header", path);
        goto fail;
    }
    fclose(f);
    free(fields);
    return 0;
oom:
    set_err(err, err_size, "out of memory");
fail:
    fclose(f);
    free(fields);
    return -1;
}

/* Data row i (the header is record 0). */
static char **csv_row(const csv_t *csv, size_t i)
{
    return csv->records[i + 1];
}

static size_t csv_rows(const csv_t *csv)
{
    return csv->n_records ? csv->n_records - 1 : 0;
}

static int csv_column(const csv_t *csv, const char *name)
{
    for (size_t c = 0; c < csv->n_cols; c++)
        if (strcmp(csv->records[0][c], name) == 0)
            return (int)c;
    return -1;
}

static double csv_number(const char *field)
{
    char *end;
    double v;
    if (!field[0])
        return NAN;
    v = strtod(field, &end);
    return *end ? NAN : v;
}

/* ---- page parts ---- */

static void write_head(FILE *out)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>foreshock detection report</title>\n<style>\n"
          "body{margin:0;background:#f3f4f6;color:#1f2937;"
          "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\n"
          "main{max-width:1100px;margin:0 auto;padding:24px 20px 48px}\n"
          "h1{font-size:24px;margin:0 0 4px}\n"
          "h2{font-size:18px;margin:0 0 12px}\n"
          "h3{font-size:15px;margin:0 0 4px}\n"
          "section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;"
          "padding:16px 20px;margin:16px 0}\n"
          ".meta,.note{color:#6b7280;font-size:12.5px;margin:0 0 8px}\n"
          ".files{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}\n"
          "table{border-collapse:collapse;width:100%;font-size:13px}\n"
          "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e5e7eb;"
          "vertical-align:top}\n"
          "th{background:#f9fafb;font-weight:600;color:#374151}\n"
          "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\n"
          "table.summary{width:auto;min-width:520px}\n"
          "table.summary th{width:230px}\n"
          ".slice{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}\n"
          ".missed{color:" C_DETECTED ";font-weight:600}\n"
          ".warn{color:#b45309;font-weight:600}\n"
          ".incident{border-top:1px solid #e5e7eb;padding-top:14px;margin-top:14px}\n"
          ".incident:first-of-type{border-top:0;margin-top:0;padding-top:0}\n"
          "svg.chart{display:block;width:100%;height:auto;margin:8px 0 6px}\n"
          "svg.chart text{font:12px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
          "fill:#374151}\n"
          "svg.chart .axis{fill:#6b7280;font-size:11px}\n"
          "svg.chart .title{font-weight:600}\n"
          "svg.chart text.lane{font:11px ui-monospace,Menlo,Consolas,monospace}\n"
          "td.t{white-space:nowrap;font-variant-numeric:tabular-nums}\n"
          "</style>\n</head>\n<body>\n<main>\n",
          out);
}

static void write_header(FILE *out, const fs_report_options_t *opt, const fs_score_result_t *r)
{
    char t1[FS_TIMESTAMP_LEN + 1], t2[FS_TIMESTAMP_LEN + 1];

    fputs("<h1>foreshock detection report</h1>\n<p class=\"meta\">", out);
    fprintf(out, "%zu incident%s, %zu firing alert%s, simulated span ", r->n_incidents,
            r->n_incidents == 1 ? "" : "s", r->n_alerts, r->n_alerts == 1 ? "" : "s");
    fprintf(out, "%s .. %s (%.3f days, from the ", fmt_time(r->span_start_ms, t1),
            fmt_time(r->span_end_ms, t2), r->span_days);
    esc(out, r->span_source);
    fputs(").</p>\n<p class=\"meta files\">truth ", out);
    esc(out, opt->truth_path);
    fputs(" &middot; alerts ", out);
    esc(out, opt->alerts_path);
    fputs(" &middot; playback ", out);
    esc(out, opt->playback_path);
    fputs(" &middot; errors ", out);
    esc(out, opt->errors_path);
    if (opt->tune_path) {
        fputs(" &middot; tune ", out);
        esc(out, opt->tune_path);
    }
    fputs("</p>\n", out);
}

static void summary_row(FILE *out, const char *name)
{
    fputs("<tr><th>", out);
    esc(out, name);
    fputs("</th><td>", out);
}

static void write_summary(FILE *out, const fs_score_result_t *r, const fs_tune_metrics_t *m)
{
    fputs("<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"summary\">\n", out);
    summary_row(out, "Recall");
    put_num(out, r->recall, "%.3f", "");
    fprintf(out, " &nbsp;(%zu of %zu incidents detected)</td></tr>\n", r->n_detected,
            r->n_incidents);
    summary_row(out, "Precision");
    put_num(out, r->precision, "%.3f", "");
    fprintf(out, " &nbsp;(%zu of %zu firing alerts match an incident)</td></tr>\n",
            r->n_matching_alerts, r->n_alerts);
    summary_row(out, "False alerts per simulated day");
    put_num(out, r->false_per_day, "%.2f", "");
    fprintf(out,
            " &nbsp;(%zu false alert%s, %zu of them overlapping an incident's slice)"
            "</td></tr>\n",
            r->n_false_alerts, r->n_false_alerts == 1 ? "" : "s", r->n_collateral);
    summary_row(out, "Detection delay, median");
    put_num(out, m->delay_p50_s, "%.1f", " s");
    fputs("</td></tr>\n", out);
    summary_row(out, "Detection delay, p95");
    put_num(out, m->delay_p95_s, "%.1f", " s");
    fputs("</td></tr>\n", out);
    summary_row(out, "Delay / oracle delay, median");
    put_num(out, m->ratio_p50, "%.2f", "");
    fprintf(out, " &nbsp;(oracle: binomial CUSUM knowing p0 and p1, h = %.2f)</td></tr>\n",
            r->oracle_h);
    summary_row(out, "Events read");
    fprintf(out, "%llu valid, %llu invalid (skipped)</td></tr>\n",
            (unsigned long long)r->events_read, (unsigned long long)r->events_invalid);
    if (r->n_duplicates || r->n_orphan_resolved) {
        summary_row(out, "Contract violations");
        fprintf(out,
                "<span class=\"warn\">%zu duplicate firing message%s, %zu resolved message%s "
                "without firing</span></td></tr>\n",
                r->n_duplicates, r->n_duplicates == 1 ? "" : "s", r->n_orphan_resolved,
                r->n_orphan_resolved == 1 ? "" : "s");
    }
    fputs("</table>\n<p class=\"note\">Delays are detectedAt minus the incident start; "
          "quantiles over detected incidents. Matching and oracle as in "
          "<code>foreshock-bench score</code>.</p>\n</section>\n",
          out);
}

/* Histogram of detector and oracle delays, plus a bar of missed incidents. */
static void write_histogram(FILE *out, const fs_score_result_t *r, const fs_tune_metrics_t *m)
{
    const double h = 250, top = 34, plot_h = 170, bottom = top + plot_h;
    const double missed_w = 70, plot_w = PLOT_W - missed_w - 20;
    double min_delay = 0, max_delay = 0;
    size_t n_missed = r->n_incidents - r->n_detected;

    /* Delays can be negative: an alert up to 60 s before the start matches. */
    for (size_t i = 0; i < r->n_incidents; i++) {
        const fs_score_incident_t *inc = &r->incidents[i];
        int64_t both[2] = {inc->delay_ms, inc->oracle_delay_ms};
        for (int k = 0; k < 2; k++) {
            if (both[k] == FS_SCORE_NO_TIME)
                continue;
            min_delay = fmin(min_delay, (double)both[k] / 1000.0);
            max_delay = fmax(max_delay, (double)both[k] / 1000.0);
        }
    }
    double width = nice_step(fmax(max_delay - min_delay, 1), 12);
    double x_min = floor(min_delay / width) * width;
    size_t n_bins = (size_t)floor((max_delay - x_min) / width) + 1;
    size_t *det = calloc(n_bins, sizeof *det), *ora = calloc(n_bins, sizeof *ora), top_count = 1;
    if (!det || !ora) {
        free(det);
        free(ora);
        return;
    }
    for (size_t i = 0; i < r->n_incidents; i++) {
        const fs_score_incident_t *inc = &r->incidents[i];
        if (inc->delay_ms != FS_SCORE_NO_TIME)
            det[(size_t)(((double)inc->delay_ms / 1000.0 - x_min) / width)]++;
        if (inc->oracle_delay_ms != FS_SCORE_NO_TIME)
            ora[(size_t)(((double)inc->oracle_delay_ms / 1000.0 - x_min) / width)]++;
    }
    for (size_t b = 0; b < n_bins; b++) {
        if (det[b] > top_count)
            top_count = det[b];
        if (ora[b] > top_count)
            top_count = ora[b];
    }
    if (n_missed > top_count)
        top_count = n_missed;
    double count_step = nice_step((double)top_count, 5);
    if (count_step < 1)
        count_step = 1;
    double y_max = ceil((double)top_count / count_step) * count_step;
    double x_span = (double)n_bins * width;

    fputs("<section id=\"delays\">\n<h2>Detection delay</h2>\n", out);
    fprintf(out,
            "<svg class=\"chart\" id=\"delay-histogram\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
            "aria-label=\"Histogram of detection delays\">\n",
            CHART_W, h);
    /* Legend. */
    fprintf(out,
            "<rect x=\"%.1f\" y=\"8\" width=\"12\" height=\"12\" fill=\"" C_RATIO "\"/>"
            "<text x=\"%.1f\" y=\"18\">detector (detectedAt &#8722; start)</text>\n"
            "<rect x=\"%.1f\" y=\"8\" width=\"12\" height=\"12\" fill=\"none\" stroke=\"" C_ORACLE
            "\" stroke-width=\"2\"/><text x=\"%.1f\" y=\"18\">oracle CUSUM</text>\n",
            MARGIN_L, MARGIN_L + 18, MARGIN_L + 250, MARGIN_L + 268);
    if (isfinite(m->delay_p50_s))
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"14\" x2=\"%.1f\" y2=\"14\" stroke=\"#111827\" "
                "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"18\">median %.1f s</text>\n",
                MARGIN_L + 390, MARGIN_L + 414, MARGIN_L + 420, m->delay_p50_s);
    /* Grid and count axis. */
    for (double v = 0; v <= y_max + 1e-9; v += count_step) {
        double y = bottom - v / y_max * plot_h;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>"
                "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n",
                MARGIN_L, y, MARGIN_L + PLOT_W, y, MARGIN_L - 8, y + 4, v);
    }
    fprintf(out,
            "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">incidents</text>\n",
            MARGIN_L - 40, top + plot_h / 2, MARGIN_L - 40, top + plot_h / 2);
    /* Bars: the detector's filled, the oracle's outlined, side by side. */
    double bin_px = plot_w / (double)n_bins;
    for (size_t b = 0; b < n_bins; b++) {
        double x = MARGIN_L + (double)b * bin_px, bar = bin_px * 0.42;
        if (det[b]) {
            double hh = (double)det[b] / y_max * plot_h;
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" C_RATIO
                    "\"><title>detector: %zu incident%s with a delay in [%g s, %g s)</title>"
                    "</rect>\n",
                    x + bin_px * 0.06, bottom - hh, bar, hh, det[b], det[b] == 1 ? "" : "s",
                    x_min + (double)b * width, x_min + (double)(b + 1) * width);
        }
        if (ora[b]) {
            double hh = (double)ora[b] / y_max * plot_h;
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ede9fe\" "
                    "stroke=\"" C_ORACLE "\" stroke-width=\"1.5\"><title>oracle: %zu incident%s "
                    "with a delay in [%g s, %g s)</title></rect>\n",
                    x + bin_px * 0.52, bottom - hh, bar, hh, ora[b], ora[b] == 1 ? "" : "s",
                    x_min + (double)b * width, x_min + (double)(b + 1) * width);
        }
    }
    /* Delay axis. */
    double label_step = width;
    while (x_span / label_step > 14)
        label_step *= 2;
    for (double v = x_min; v <= x_min + x_span + 1e-9 * x_span; v += label_step) {
        double x = MARGIN_L + (v - x_min) / x_span * plot_w;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>"
                "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                x, bottom, x, bottom + 4, x, bottom + 17);
        put_tick(out, v, label_step);
        fputs("</text>\n", out);
    }
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>\n"
            "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">detection delay "
            "(s)</text>\n",
            MARGIN_L, bottom, MARGIN_L + plot_w, bottom, MARGIN_L + plot_w / 2, bottom + 36);
    if (isfinite(m->delay_p50_s)) {
        double x = MARGIN_L + (m->delay_p50_s - x_min) / x_span * plot_w;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#111827\" "
                "stroke-dasharray=\"4 3\"/>\n",
                x, top - 4, x, bottom);
    }
    /* Missed incidents, apart from the delay axis. */
    double mx = MARGIN_L + PLOT_W - missed_w;
    if (n_missed) {
        double hh = (double)n_missed / y_max * plot_h;
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" C_DETECTED
                "\" opacity=\"0.8\"><title>%zu missed incident%s</title></rect>\n",
                mx + 12, bottom - hh, missed_w - 24, hh, n_missed, n_missed == 1 ? "" : "s");
    }
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>"
            "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">missed (%zu)"
            "</text>\n",
            mx, bottom, mx + missed_w, bottom, mx + missed_w / 2, bottom + 17, n_missed);
    if (r->n_incidents == 0)
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no incidents</text>\n",
                MARGIN_L + plot_w / 2, top + plot_h / 2);
    fputs("</svg>\n</section>\n", out);
    free(det);
    free(ora);
}

/* Whether csv has the columns of `tune`, the point first. */
static int csv_is_tune(const csv_t *csv)
{
    static const char *const needed[] = {FS_TUNE_COL_DELAY_P50, FS_TUNE_COL_FALSE_PER_DAY,
                                         FS_TUNE_COL_PARETO,    FS_TUNE_COL_RECALL,
                                         FS_TUNE_COL_PRECISION, FS_TUNE_COL_INCIDENTS};
    if (csv_column(csv, FS_TUNE_COL_POINT) != 0)
        return 0;
    for (size_t k = 0; k < sizeof needed / sizeof needed[0]; k++)
        if (csv_column(csv, needed[k]) < 0)
            return 0;
    return 1;
}

/* Scatter of the tune points: median delay against false alerts per day.
 * csv has the columns of tune (csv_is_tune). */
static void write_pareto(FILE *out, const csv_t *csv, const char *path)
{
    int c_point = csv_column(csv, FS_TUNE_COL_POINT);
    int c_first = csv_column(csv, FS_TUNE_COL_INCIDENTS);
    int c_delay = csv_column(csv, FS_TUNE_COL_DELAY_P50);
    int c_fpd = csv_column(csv, FS_TUNE_COL_FALSE_PER_DAY);
    int c_front = csv_column(csv, FS_TUNE_COL_PARETO);
    int c_recall = csv_column(csv, FS_TUNE_COL_RECALL);
    int c_precision = csv_column(csv, FS_TUNE_COL_PRECISION);
    const double h = 330, top = 30, plot_h = 250, bottom = top + plot_h;
    double max_x = 0, max_y = 0;
    size_t shown = 0, n_front = 0;

    for (size_t i = 0; i < csv_rows(csv); i++) {
        double x = csv_number(csv_row(csv, i)[c_fpd]), y = csv_number(csv_row(csv, i)[c_delay]);
        if (!isfinite(x) || !isfinite(y))
            continue;
        max_x = fmax(max_x, x);
        max_y = fmax(max_y, y);
        shown++;
    }
    double x_step = nice_step(fmax(max_x, 1e-3) * 1.05, 8);
    double y_step = nice_step(fmax(max_y, 1e-3) * 1.05, 6);
    double x_max = ceil(fmax(max_x, 1e-3) * 1.05 / x_step) * x_step;
    double y_max = ceil(fmax(max_y, 1e-3) * 1.05 / y_step) * y_step;

    fputs("<section id=\"tuning\">\n<h2>Tuning: Pareto front</h2>\n<p class=\"note\">", out);
    fprintf(out, "%zu point%s from ", csv_rows(csv), csv_rows(csv) == 1 ? "" : "s");
    esc(out, path);
    fprintf(out,
            "; %zu with a median delay shown. Lower left is better: the front joins the "
            "points no other point beats on both.</p>\n",
            shown);
    fprintf(out,
            "<svg class=\"chart\" id=\"pareto\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
            "aria-label=\"Median delay against false alerts per day\">\n",
            CHART_W, h);
    for (double v = 0; v <= y_max + 1e-9 * y_max; v += y_step) {
        double y = bottom - v / y_max * plot_h;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>"
                "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                MARGIN_L, y, MARGIN_L + PLOT_W, y, MARGIN_L - 8, y + 4);
        put_tick(out, v, y_step);
        fputs("</text>\n", out);
    }
    for (double v = 0; v <= x_max + 1e-9 * x_max; v += x_step) {
        double x = MARGIN_L + v / x_max * PLOT_W;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>"
                "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                x, top, x, bottom + 4, x, bottom + 17);
        put_tick(out, v, x_step);
        fputs("</text>\n", out);
    }
    fprintf(out,
            "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">false alerts per "
            "simulated day</text>\n"
            "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">median detection delay (s)</text>\n",
            MARGIN_L + PLOT_W / 2, bottom + 36, MARGIN_L - 48, top + plot_h / 2, MARGIN_L - 48,
            top + plot_h / 2);
    fprintf(out,
            "<circle cx=\"%.1f\" cy=\"14\" r=\"4\" fill=\"#9ca3af\"/><text x=\"%.1f\" y=\"18\">"
            "point</text><circle cx=\"%.1f\" cy=\"14\" r=\"5.5\" fill=\"" C_FRONT "\"/>"
            "<text x=\"%.1f\" y=\"18\">on the Pareto front</text>\n",
            MARGIN_L + 6, MARGIN_L + 16, MARGIN_L + 76, MARGIN_L + 86);

    /* The front as a staircase, in order of false alerts per day. */
    size_t *front = calloc(csv_rows(csv) ? csv_rows(csv) : 1, sizeof *front);
    if (!front) {
        fputs("</svg>\n</section>\n", out);
        return;
    }
    for (size_t i = 0; i < csv_rows(csv); i++) {
        double x = csv_number(csv_row(csv, i)[c_fpd]), y = csv_number(csv_row(csv, i)[c_delay]);
        if (strcmp(csv_row(csv, i)[c_front], "1") == 0 && isfinite(x) && isfinite(y))
            front[n_front++] = i;
    }
    for (size_t a = 1; a < n_front; a++) { /* insertion sort: fronts are short */
        size_t v = front[a], b = a;
        while (b > 0 &&
               csv_number(csv_row(csv, front[b - 1])[c_fpd]) > csv_number(csv_row(csv, v)[c_fpd])) {
            front[b] = front[b - 1];
            b--;
        }
        front[b] = v;
    }
    if (n_front > 1) {
        fputs("<polyline fill=\"none\" stroke=\"" C_FRONT "\" stroke-width=\"1.5\" "
              "stroke-dasharray=\"5 3\" points=\"",
              out);
        for (size_t k = 0; k < n_front; k++) {
            double x = MARGIN_L + csv_number(csv_row(csv, front[k])[c_fpd]) / x_max * PLOT_W;
            double y = bottom - csv_number(csv_row(csv, front[k])[c_delay]) / y_max * plot_h;
            if (k > 0) {
                double py =
                    bottom - csv_number(csv_row(csv, front[k - 1])[c_delay]) / y_max * plot_h;
                fprintf(out, "%.1f,%.1f ", x, py);
            }
            fprintf(out, "%.1f,%.1f ", x, y);
        }
        fputs("\"/>\n", out);
    }
    /* Dominated points first, so the front is drawn on top. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < csv_rows(csv); i++) {
            char **row = csv_row(csv, i);
            double x = csv_number(row[c_fpd]), y = csv_number(row[c_delay]);
            int on_front = strcmp(row[c_front], "1") == 0;
            if (!isfinite(x) || !isfinite(y) || on_front != pass)
                continue;
            double cx = MARGIN_L + x / x_max * PLOT_W, cy = bottom - y / y_max * plot_h;
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"><title>point ", cx,
                    cy, on_front ? "5.5" : "4", on_front ? C_FRONT : "#9ca3af");
            esc(out, row[c_point]);
            for (int c = c_point + 1; c < c_first; c++) {
                fputs(c == c_point + 1 ? ": " : ", ", out);
                esc(out, csv->records[0][c]);
                fputc('=', out);
                esc(out, row[c]);
            }
            fputs(" \xE2\x80\x94 median delay ", out);
            esc(out, row[c_delay]);
            fputs(" s, ", out);
            esc(out, row[c_fpd]);
            fputs(" false alerts/day, recall ", out);
            esc(out, row[c_recall]);
            fputs("</title></circle>\n", out);
            if (on_front) {
                fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">#", cx + 8, cy - 7);
                esc(out, row[c_point]);
                fputs("</text>\n", out);
            }
        }
    }
    if (shown == 0)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no point detected any "
                "incident</text>\n",
                MARGIN_L + PLOT_W / 2, top + plot_h / 2);
    fputs("</svg>\n", out);

    /* The front as a table. */
    if (n_front) {
        fputs("<table>\n<tr><th class=\"num\">point</th>", out);
        for (int c = c_point + 1; c < c_first; c++) {
            fputs("<th>", out);
            esc(out, csv->records[0][c]);
            fputs("</th>", out);
        }
        fputs("<th class=\"num\">median delay (s)</th><th class=\"num\">false alerts/day</th>"
              "<th class=\"num\">recall</th><th class=\"num\">precision</th></tr>\n",
              out);
        for (size_t k = 0; k < n_front; k++) {
            char **row = csv_row(csv, front[k]);
            fputs("<tr><td class=\"num\">", out);
            esc(out, row[c_point]);
            fputs("</td>", out);
            for (int c = c_point + 1; c < c_first; c++) {
                fputs("<td class=\"slice\">", out);
                esc(out, row[c]);
                fputs("</td>", out);
            }
            const int cols[] = {c_delay, c_fpd, c_recall, c_precision};
            for (size_t c = 0; c < 4; c++) {
                fputs("<td class=\"num\">", out);
                esc(out, row[cols[c]][0] ? row[cols[c]] : "\xE2\x80\x93");
                fputs("</td>", out);
            }
            fputs("</tr>\n", out);
        }
        fputs("</table>\n", out);
    }
    fputs("</section>\n", out);
    free(front);
}

static void write_incident_table(FILE *out, const fs_score_result_t *r)
{
    char t1[FS_TIMESTAMP_LEN + 1], t2[FS_TIMESTAMP_LEN + 1];

    fputs("<table>\n<tr><th class=\"num\">#</th><th>slice</th><th class=\"num\">factor</th>"
          "<th>window</th><th>first alert (relation)</th><th class=\"num\">delay</th>"
          "<th class=\"num\">oracle</th><th class=\"num\">ratio</th>"
          "<th class=\"num\">resolved</th></tr>\n",
          out);
    for (size_t i = 0; i < r->n_incidents; i++) {
        const fs_score_incident_t *inc = &r->incidents[i];
        fprintf(out,
                "<tr><td class=\"num\"><a href=\"#incident-%zu\">%zu</a></td>"
                "<td class=\"slice\">",
                i + 1, i + 1);
        esc(out, inc->slice.text);
        fputs("</td><td class=\"num\">", out);
        put_num(out, inc->factor, "&times;%g", "");
        /* The end as time of day (the truth always has one). */
        fs_timestamp_format(inc->end_ms, t2);
        fprintf(out, "</td><td>%s .. %s</td><td>", fmt_time(inc->start_ms, t1), t2 + 11);
        if (inc->alert < 0) {
            fputs("<span class=\"missed\">missed</span>", out);
        } else {
            fputs("<span class=\"slice\">", out);
            esc(out, r->alerts[inc->alert].slice.text);
            fputs("</span> (", out);
            esc(out, fs_score_relation_name(inc->relation));
            fputc(')', out);
        }
        fputs("</td><td class=\"num\">", out);
        put_seconds_ms(out, inc->delay_ms);
        fputs("</td><td class=\"num\">", out);
        put_seconds_ms(out, inc->oracle_delay_ms);
        fputs("</td><td class=\"num\">", out);
        put_num(out, inc->delay_ratio, "%.2f", "");
        fputs("</td><td class=\"num\">", out);
        if (inc->resolve_ms == FS_SCORE_NO_TIME)
            fputs(inc->alert < 0 ? "\xE2\x80\x93" : "not resolved", out);
        else
            fprintf(out, "%+.1f s", (double)inc->resolve_ms / 1000.0);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n<p class=\"note\">Window end shown as time of day. Resolved: endsAt of "
          "the first alert minus the incident end.</p>\n",
          out);
}

/* A vertical marker across the plot. */
static void vline(FILE *out, double x, double y1, double y2, const char *colour, const char *dash,
                  double width)
{
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"%.1f\"%s%s%s/>\n",
            x, y1, x, y2, colour, width, dash ? " stroke-dasharray=\"" : "", dash ? dash : "",
            dash ? "\"" : "");
}

static void write_incident(FILE *out, const fs_score_result_t *r, size_t i, const chart_t *c)
{
    const fs_score_incident_t *inc = &r->incidents[i];
    char t1[FS_TIMESTAMP_LEN + 1], t2[FS_TIMESTAMP_LEN + 1];
    size_t lanes = c->n_alerts < MAX_LANES ? c->n_alerts : MAX_LANES;
    const double top = 34, plot_h = 210, bottom = top + plot_h, axis_h = 42, lane_h = 20;
    double h = bottom + axis_h + (lanes ? 10 + (double)lanes * lane_h : 0) +
               (c->n_alerts > lanes ? lane_h : 0) + 8;
    double span = (double)(c->view_end - c->view_start), max_ratio = 0;

#define X(t)       (MARGIN_L + ((double)(t) - (double)c->view_start) / span * PLOT_W)
#define CLAMP_X(t) X((t) < c->view_start ? c->view_start : (t) > c->view_end ? c->view_end : (t))

    for (size_t b = 0; b < c->n_bins; b++)
        if (c->attempts[b] > 0)
            max_ratio = fmax(max_ratio, c->failures[b] / c->attempts[b]);
    if (isfinite(inc->p0))
        max_ratio = fmax(max_ratio, inc->p0);
    double y_step = nice_step(fmax(max_ratio * 100, 0.5) * 1.08, 5);
    double y_max = ceil(fmax(max_ratio * 100, 0.5) * 1.08 / y_step) * y_step; /* percent */
#define Y(ratio) (bottom - (ratio)*100 / y_max * plot_h)

    fprintf(out,
            "<div class=\"incident\" id=\"incident-%zu\">\n<h3>Incident %zu: "
            "<span class=\"slice\">",
            i + 1, i + 1);
    esc(out, inc->slice.text);
    fputs("</span>", out);
    if (isfinite(inc->factor))
        fprintf(out, " &times;%g", inc->factor);
    fputs("</h3>\n<p class=\"meta\">", out);
    fprintf(out, "%s .. %s; ", fmt_time(inc->start_ms, t1), fmt_time(inc->end_ms, t2));
    if (inc->alert < 0) {
        fputs("<span class=\"missed\">missed</span>", out);
    } else {
        fprintf(out, "detected after %.1f s by <span class=\"slice\">",
                (double)inc->delay_ms / 1000.0);
        esc(out, r->alerts[inc->alert].slice.text);
        fputs("</span>", out);
    }
    if (inc->has_oracle && inc->oracle_delay_ms != FS_SCORE_NO_TIME)
        fprintf(out, "; oracle %.1f s", (double)inc->oracle_delay_ms / 1000.0);
    if (isfinite(inc->p0) && isfinite(inc->p1))
        fprintf(out, "; failure ratio %.2f%% before, %.2f%% during", 100 * inc->p0, 100 * inc->p1);
    fprintf(out, "; %zu matching alert%s.</p>\n", c->n_alerts, c->n_alerts == 1 ? "" : "s");

    fprintf(out,
            "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Failure "
            "ratio of incident %zu\">\n",
            CHART_W, h, i + 1);
    /* Legend. */
    double lx = MARGIN_L;
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"14\" x2=\"%.1f\" y2=\"14\" stroke=\"" C_RATIO
            "\" stroke-width=\"2\"/><text x=\"%.1f\" y=\"18\">failure ratio per 10 s</text>\n",
            lx, lx + 20, lx + 26);
    lx += 170;
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"14\" x2=\"%.1f\" y2=\"14\" stroke=\"" C_BASE
            "\" stroke-dasharray=\"5 3\"/><text x=\"%.1f\" y=\"18\">baseline</text>\n",
            lx, lx + 20, lx + 26);
    lx += 92;
    fprintf(out,
            "<rect x=\"%.1f\" y=\"8\" width=\"16\" height=\"12\" fill=\"" C_WINDOW
            "\" stroke=\"" C_WINDOW_EDGE "\"/><text x=\"%.1f\" y=\"18\">incident</text>\n",
            lx, lx + 22);
    lx += 88;
    const char *names[3] = {"startsAt", "detectedAt", "endsAt"};
    const char *colours[3] = {C_STARTS, C_DETECTED, C_ENDS};
    const char *dashes[3] = {"4 3", NULL, "2 3"};
    for (int k = 0; k < 3; k++) {
        vline(out, lx + 6, 7, 21, colours[k], dashes[k], 2);
        fprintf(out, "<text x=\"%.1f\" y=\"18\">%s</text>\n", lx + 14, names[k]);
        lx += k == 1 ? 96 : 82;
    }

    /* Grid and the ratio axis. */
    for (double v = 0; v <= y_max + 1e-9 * y_max; v += y_step) {
        double y = bottom - v / y_max * plot_h;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>"
                "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                MARGIN_L, y, MARGIN_L + PLOT_W, y, MARGIN_L - 8, y + 4);
        put_tick(out, v, y_step);
        fputs("%</text>\n", out);
    }
    fprintf(out,
            "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">failure ratio</text>\n",
            MARGIN_L - 52, top + plot_h / 2, MARGIN_L - 52, top + plot_h / 2);

    /* The incident window. */
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" C_WINDOW
            "\" stroke=\"" C_WINDOW_EDGE "\"><title>incident window %s .. %s</title></rect>\n",
            CLAMP_X(inc->start_ms), top, CLAMP_X(inc->end_ms) - CLAMP_X(inc->start_ms), plot_h,
            fmt_time(inc->start_ms, t1), fmt_time(inc->end_ms, t2));

    /* Time axis: minutes from the incident start. */
    double minutes = span / MINUTE_MS, step = nice_step(minutes, 10);
    for (double m = ceil(((double)c->view_start - (double)inc->start_ms) / MINUTE_MS / step) * step;
         m * MINUTE_MS + (double)inc->start_ms <= (double)c->view_end; m += step) {
        double x = X((double)inc->start_ms + m * MINUTE_MS);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>"
                "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                x, bottom, x, bottom + 4, x, bottom + 17);
        put_tick(out, m, step);
        fputs("</text>\n", out);
    }
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ca3af\"/>\n"
            "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">minutes from the "
            "incident start (%s)</text>\n",
            MARGIN_L, bottom, MARGIN_L + PLOT_W, bottom, MARGIN_L + PLOT_W / 2, bottom + 34,
            fmt_time(inc->start_ms, t1));

    /* The baseline the oracle measured over the 10 minutes before. */
    if (isfinite(inc->p0)) {
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_BASE
                "\" stroke-dasharray=\"5 3\"><title>baseline %.3f%% (10 minutes before the "
                "start)</title></line>\n",
                MARGIN_L, Y(inc->p0), MARGIN_L + PLOT_W, Y(inc->p0), 100 * inc->p0);
    }

    /* The ratio, one point per bin with attempts; bins without break the line. */
    int open = 0;
    for (size_t b = 0; b < c->n_bins; b++) {
        if (c->attempts[b] <= 0) {
            if (open)
                fputs("\"/>\n", out);
            open = 0;
            continue;
        }
        if (!open)
            fputs("<polyline fill=\"none\" stroke=\"" C_RATIO "\" stroke-width=\"1.8\" "
                  "stroke-linejoin=\"round\" points=\"",
                  out);
        open = 1;
        double t = (double)c->view_start + ((double)b + 0.5) * FS_REPORT_BIN_MS;
        fprintf(out, "%.1f,%.1f ", X(t), Y(c->failures[b] / c->attempts[b]));
    }
    if (open)
        fputs("\"/>\n", out);

    /* The first alert across the chart. */
    if (c->n_alerts) {
        const fs_score_alert_t *al = &r->alerts[c->alerts[0]];
        if (al->starts_at_ms >= c->view_start && al->starts_at_ms <= c->view_end)
            vline(out, X(al->starts_at_ms), top, bottom, C_STARTS, "4 3", 1.5);
        if (al->ends_at_ms != FS_SCORE_NO_TIME && al->ends_at_ms >= c->view_start &&
            al->ends_at_ms <= c->view_end)
            vline(out, X(al->ends_at_ms), top, bottom, C_ENDS, "2 3", 1.5);
        if (al->detected_at_ms >= c->view_start && al->detected_at_ms <= c->view_end) {
            double x = X(al->detected_at_ms);
            vline(out, x, top, bottom, C_DETECTED, NULL, 1.5);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" style=\"fill:" C_DETECTED "\">", x + 5,
                    top + 13);
            if (inc->alert >= 0)
                fprintf(out, "detected +%.1f s", (double)inc->delay_ms / 1000.0);
            else
                fputs("detectedAt", out);
            fputs("</text>\n", out);
        }
    }
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#d1d5db\"/>\n",
            MARGIN_L, top, PLOT_W, plot_h);

    /* One lane per matching alert. */
    double lane_top = bottom + axis_h + 10;
    for (size_t k = 0; k < lanes; k++) {
        const fs_score_alert_t *al = &r->alerts[c->alerts[k]];
        double y = lane_top + (double)k * lane_h + lane_h / 2;
        int open_end = al->ends_at_ms == FS_SCORE_NO_TIME || al->ends_at_ms > c->view_end;
        double x1 = CLAMP_X(al->starts_at_ms);
        double x2 = open_end ? MARGIN_L + PLOT_W : CLAMP_X(al->ends_at_ms);
        fprintf(out, "<g><title>");
        esc(out, al->alertname);
        fputs(" on ", out);
        esc(out, al->slice.text);
        fprintf(out, " (%s slice): startsAt %s, detectedAt ",
                fs_score_relation_name(fs_score_relate(&inc->slice, &al->slice)),
                fmt_time(al->starts_at_ms, t1));
        fprintf(out, "%s, endsAt ", fmt_time(al->detected_at_ms, t1));
        fprintf(out, "%s</title>\n",
                al->ends_at_ms == FS_SCORE_NO_TIME ? "none (still firing)"
                                                   : fmt_time(al->ends_at_ms, t2));
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"lane\">",
                MARGIN_L - 8, y + 4);
        esc_short(out, al->slice.text, 25);
        fputs("</text>\n", out);
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"8\" rx=\"2\" "
                "fill=\"#dbeafe\"/>\n",
                x1, y - 4, fmax(x2 - x1, 1));
        if (al->starts_at_ms >= c->view_start && al->starts_at_ms <= c->view_end)
            vline(out, X(al->starts_at_ms), y - 7, y + 7, C_STARTS, NULL, 2.5);
        if (!open_end && al->ends_at_ms >= c->view_start)
            vline(out, X(al->ends_at_ms), y - 7, y + 7, C_ENDS, NULL, 2.5);
        else
            fprintf(out, "<path d=\"M%.1f %.1f l6 5 l-6 5 z\" fill=\"#93c5fd\"/>\n",
                    MARGIN_L + PLOT_W - 6, y - 5);
        if (al->detected_at_ms >= c->view_start && al->detected_at_ms <= c->view_end) {
            double x = X(al->detected_at_ms);
            fprintf(out, "<path d=\"M%.1f %.1f l5 5 l-5 5 l-5 -5 z\" fill=\"" C_DETECTED "\"/>\n",
                    x, y - 5);
        }
        fputs("</g>\n", out);
    }
    if (c->n_alerts > lanes)
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\">and %zu more matching "
                "alert%s</text>\n",
                MARGIN_L, lane_top + (double)lanes * lane_h + 14, c->n_alerts - lanes,
                c->n_alerts - lanes == 1 ? "" : "s");
    fputs("</svg>\n</div>\n", out);
#undef X
#undef CLAMP_X
#undef Y
}

/* A duration in readable units: "21 s", "2 min 13 s", "3 h 05 min". */
static void put_duration(FILE *out, int64_t ms)
{
    int64_t s = (ms >= 0 ? ms + 500 : ms - 500) / 1000;
    const char *sign = s < 0 ? "\xE2\x88\x92" : "";
    if (s < 0)
        s = -s;
    if (s < 60)
        fprintf(out, "%s%lld s", sign, (long long)s);
    else if (s < 3600)
        fprintf(out, "%s%lld min %02lld s", sign, (long long)(s / 60), (long long)(s % 60));
    else
        fprintf(out, "%s%lld h %02lld min", sign, (long long)(s / 3600),
                (long long)(s % 3600 / 60));
}

static void write_false_alerts(FILE *out, const fs_score_result_t *r)
{
    char t1[FS_TIMESTAMP_LEN + 1];
    size_t shown = 0;

    fprintf(out, "<section id=\"false-alerts\">\n<h2>False alerts (%zu)</h2>\n", r->n_false_alerts);
    if (r->n_false_alerts == 0) {
        fputs("<p class=\"note\">Every firing alert matches an incident.</p>\n</section>\n", out);
        return;
    }
    fputs("<table>\n<tr><th>alertname</th><th>slice</th><th>startsAt</th>"
          "<th class=\"num\">detected after</th><th class=\"num\">firing for</th>"
          "<th>note</th></tr>\n",
          out);
    for (size_t a = 0; a < r->n_alerts && shown < MAX_FALSE_ROWS; a++) {
        const fs_score_alert_t *al = &r->alerts[a];
        if (al->matched >= 0)
            continue;
        shown++;
        fputs("<tr><td>", out);
        esc(out, al->alertname);
        fputs("</td><td class=\"slice\">", out);
        esc(out, al->slice.text);
        fprintf(out, "</td><td class=\"t\">%s</td><td class=\"num\">",
                fmt_time(al->starts_at_ms, t1));
        put_duration(out, al->detected_at_ms - al->starts_at_ms);
        fputs("</td><td class=\"num\">", out);
        if (al->ends_at_ms == FS_SCORE_NO_TIME)
            fputs("not resolved", out);
        else
            put_duration(out, al->ends_at_ms - al->starts_at_ms);
        fputs("</td><td>", out);
        if (al->collateral)
            fputs("overlaps an incident's slice", out);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
    if (r->n_false_alerts > shown)
        fprintf(out, "<p class=\"note\">The first %zu of %zu are listed.</p>\n", shown,
                r->n_false_alerts);
    fputs("</section>\n", out);
}

/* ---- the page ---- */

int fs_report_write(const fs_report_options_t *opt, char *err, size_t err_size)
{
    fs_score_result_t *r = NULL;
    chart_t *charts = NULL;
    csv_t csv;
    int have_csv = 0, rc = -1;
    FILE *out = NULL;
    char *tmp_path = NULL;
    fs_tune_metrics_t m;
    fs_score_options_t sopt;

    memset(&csv, 0, sizeof csv);
    if (!opt->truth_path || !opt->alerts_path || !opt->playback_path || !opt->errors_path ||
        !opt->out_path) {
        set_err(err, err_size, "--truth, --alerts, --playback, --errors and --out are required");
        return -1;
    }
    memset(&sopt, 0, sizeof sopt);
    sopt.truth_path = opt->truth_path;
    sopt.alerts_path = opt->alerts_path;
    sopt.playback_path = opt->playback_path;
    sopt.errors_path = opt->errors_path;
    if (fs_score_run(&sopt, &r, err, err_size) != 0)
        goto done;
    if (fs_tune_metrics(r, r, &m) != 0 ||
        !(charts = calloc(r->n_incidents ? r->n_incidents : 1, sizeof *charts)) ||
        charts_plan(r, charts) != 0) {
        set_err(err, err_size, "out of memory");
        goto done;
    }
    if (charts_fill(r, charts, opt->playback_path, err, err_size) != 0)
        goto done;
    if (opt->tune_path) {
        if (csv_load(opt->tune_path, &csv, err, err_size) != 0)
            goto done;
        if (!csv_is_tune(&csv)) {
            set_err(err, err_size, "%s: not a foreshock-bench tune CSV (columns missing)",
                    opt->tune_path);
            goto done;
        }
        have_csv = 1;
    }

    /* Written beside the target and renamed, so a failure leaves no half page. */
    size_t len = strlen(opt->out_path) + sizeof ".tmp";
    if (!(tmp_path = malloc(len))) {
        set_err(err, err_size, "out of memory");
        goto done;
    }
    snprintf(tmp_path, len, "%s.tmp", opt->out_path);
    if (!(out = fopen(tmp_path, "w"))) {
        set_err(err, err_size, "%s: %s", tmp_path, strerror(errno));
        goto done;
    }
    write_head(out);
    write_header(out, opt, r);
    write_summary(out, r, &m);
    write_histogram(out, r, &m);
    if (have_csv)
        write_pareto(out, &csv, opt->tune_path);
    fputs("<section id=\"incidents\">\n<h2>Incidents</h2>\n", out);
    write_incident_table(out, r);
    fputs("</section>\n", out);
    if (r->n_incidents) {
        fputs("<section id=\"charts\">\n<h2>Failure ratio around each incident</h2>\n", out);
        for (size_t i = 0; i < r->n_incidents; i++)
            write_incident(out, r, i, &charts[i]);
        fputs("</section>\n", out);
    }
    write_false_alerts(out, r);
    fputs("<p class=\"meta\">Written by foreshock-bench report.</p>\n</main>\n</body>\n</html>\n",
          out);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        out = NULL;
        set_err(err, err_size, "%s: write error", tmp_path);
        goto done;
    }
    out = NULL;
    if (rename(tmp_path, opt->out_path) != 0) {
        set_err(err, err_size, "%s: %s", opt->out_path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (out)
        fclose(out);
    if (rc != 0 && tmp_path)
        unlink(tmp_path);
    free(tmp_path);
    csv_free(&csv);
    charts_free(charts, r ? r->n_incidents : 0);
    fs_score_result_free(r);
    return rc;
}

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench report --truth T.ndjson --alerts A.ndjson\n"
          "         --playback P.ndjson --errors E.ndjson [--tune RESULTS.csv]\n"
          "         --out REPORT.html\n",
          out);
}

int fs_bench_report_main(int argc, char **argv)
{
    enum { OPT_TRUTH = 256, OPT_ALERTS, OPT_PLAYBACK, OPT_ERRORS, OPT_TUNE, OPT_OUT };
    static const struct option options[] = {
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"alerts", required_argument, NULL, OPT_ALERTS},
        {"playback", required_argument, NULL, OPT_PLAYBACK},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"tune", required_argument, NULL, OPT_TUNE},
        {"out", required_argument, NULL, OPT_OUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    fs_report_options_t opt;
    char err[1024];
    int c;

    memset(&opt, 0, sizeof opt);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_TRUTH:
            opt.truth_path = optarg;
            break;
        case OPT_ALERTS:
            opt.alerts_path = optarg;
            break;
        case OPT_PLAYBACK:
            opt.playback_path = optarg;
            break;
        case OPT_ERRORS:
            opt.errors_path = optarg;
            break;
        case OPT_TUNE:
            opt.tune_path = optarg;
            break;
        case OPT_OUT:
            opt.out_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!opt.truth_path || !opt.alerts_path || !opt.playback_path || !opt.errors_path ||
        !opt.out_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (fs_report_write(&opt, err, sizeof err) != 0) {
        fprintf(stderr, "report: %s\n", err);
        return 1;
    }
    return 0;
}
