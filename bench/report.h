/*
 * report.h: `foreshock-bench report`: one self-contained HTML page that shows
 * how a replay's alerts met a workload's incidents.
 *
 *   foreshock-bench report --truth T --alerts A --playback P --errors E
 *       [--tune R.csv] --out REPORT.html
 *
 * The page holds, in this order: a summary table (recall, precision, false
 * alerts per simulated day, median and p95 detection delay, median ratio to
 * the oracle's delay: the figures of `foreshock-bench score`, see score.h and
 * tune.h); a histogram of the detection delays over the incidents, with the
 * oracle's delays beside them and the missed incidents counted apart; with
 * --tune, the CSV of `foreshock-bench tune` as a scatter of median delay
 * against false alerts per day with the Pareto front joined and listed; a
 * table of the incidents; for each incident, its slice's failure ratio per
 * 10 s of event time (from the playback file, from 10 minutes before the
 * start until a minute after the last matching alert resolved, at least 5 and
 * at most 30 minutes after the end, within the time the event files cover),
 * the incident window shaded, the baseline ratio the oracle
 * measured, and one lane per matching alert (score.h's matching rule) with
 * its startsAt, detectedAt and endsAt, the earliest one also drawn across the
 * chart; and the false alerts.
 *
 * Charts are inline SVG, styles inline CSS: the file loads nothing, runs no
 * script and reads the same offline. All text from the inputs (slices, file
 * names, alert names) is HTML-escaped.
 *
 * Thread safety: functions share no state.
 */
#ifndef FS_BENCH_REPORT_H
#define FS_BENCH_REPORT_H

#include <stddef.h>

/* Width of the failure-ratio bins of the incident charts, ms. */
#define FS_REPORT_BIN_MS 10000

typedef struct fs_report_options {
    const char *truth_path;    /* required: `gen --truth` */
    const char *alerts_path;   /* required: `replay --alerts` */
    const char *playback_path; /* required: the series and the oracle */
    const char *errors_path;   /* required: the simulated span, as score reads it */
    const char *tune_path;     /* optional: `tune --out` */
    const char *out_path;      /* required: the HTML file, created or truncated */
} fs_report_options_t;

/*
 * Reads the inputs of opt (borrowed) and writes the page to opt->out_path.
 * Returns 0, or -1 with a NUL-terminated reason in err (err_size bytes),
 * e.g. "results.csv:3: 5 fields, the header has 14".
 */
int fs_report_write(const fs_report_options_t *opt, char *err, size_t err_size);

/* Runs the report subcommand; argv[0] is "report". Returns the exit status:
 * 0 success, 1 an input or the output failed, 2 bad usage. */
int fs_bench_report_main(int argc, char **argv);

#endif
