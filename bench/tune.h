/*
 * tune.h: `foreshock-bench tune`: replays one workload under every
 * combination of swept configuration values, scores each run against the
 * workload's incidents and marks the Pareto front of detection delay against
 * false alerts.
 *
 *   foreshock-bench tune -c FILE --playback P --errors E --truth T --out R.csv
 *       [--sweep key=v1,v2,...]... [-X key=value]... [--jobs N] [--alerts-dir D]
 *
 * Every point of the cartesian product of the --sweep lists (the first
 * --sweep varies slowest; no --sweep is one point) is the configuration file
 * with -X and the point's values applied as overrides, replayed in-process
 * exactly as `foreshock-bench replay` does (fs_bench_replay_run, memory
 * store) and scored with fs_score_run. A value list is split at ';' when it
 * holds one, else at ',' (`--sweep 'slices.pairs=country+platform;
 * country+platform,country+cdn'` sweeps two lists). The figures are those of
 * `foreshock-bench score --playback P --errors E` on the point's alerts: the
 * event files are scanned once, for the oracle CUSUM's delays and the
 * simulated span, and each point is scored against those. --alerts-dir D
 * keeps each point's alerts as D/point-N.ndjson (for `foreshock-bench
 * report`); otherwise they live in a temporary folder that is removed.
 * Points run on --jobs threads (default 1), each with its own store and
 * pipeline; store must be memory.
 *
 * R.csv has a header and one row per point, in point order:
 *   point, <each swept key>, incidents, detected, firing_alerts, false_alerts,
 *   recall, precision, false_alerts_per_day, delay_p50_s, delay_p95_s,
 *   delay_ratio_p50, events_per_s, pareto
 * Quantiles interpolate linearly between order statistics (the usual
 * "type 7" definition), over the detected incidents; delay_ratio_p50 is the
 * median of detector delay / oracle delay over the incidents that have both.
 * An undefined figure is an empty field. pareto is 1 for a point no other
 * point dominates on (delay_p50_s, false_alerts_per_day), both minimised,
 * compared as written in the file; a point without a median delay (nothing
 * detected) or without a false-alert rate is never on the front. Every
 * column but events_per_s (throughput of that point's replay, which --jobs
 * above 1 shares out between the points) is the same on every run.
 *
 * Thread safety: the functions below share no state.
 */
#ifndef FS_BENCH_TUNE_H
#define FS_BENCH_TUNE_H

#include <stddef.h>

#include "bench/score.h"

/* Names of the CSV columns; the swept keys sit between the first two. */
#define FS_TUNE_COL_POINT         "point"
#define FS_TUNE_COL_INCIDENTS     "incidents"
#define FS_TUNE_COL_DETECTED      "detected"
#define FS_TUNE_COL_ALERTS        "firing_alerts"
#define FS_TUNE_COL_FALSE         "false_alerts"
#define FS_TUNE_COL_RECALL        "recall"
#define FS_TUNE_COL_PRECISION     "precision"
#define FS_TUNE_COL_FALSE_PER_DAY "false_alerts_per_day"
#define FS_TUNE_COL_DELAY_P50     "delay_p50_s"
#define FS_TUNE_COL_DELAY_P95     "delay_p95_s"
#define FS_TUNE_COL_RATIO_P50     "delay_ratio_p50"
#define FS_TUNE_COL_EVENTS_PER_S  "events_per_s"
#define FS_TUNE_COL_PARETO        "pareto"

/* The figures of one scored run. Undefined ones are NAN. */
typedef struct fs_tune_metrics {
    size_t incidents, detected, alerts, false_alerts;
    double recall, precision, false_per_day;
    double delay_p50_s, delay_p95_s; /* over detected incidents */
    double ratio_p50;                /* detector delay / oracle delay */
} fs_tune_metrics_t;

/*
 * The q-quantile (0 <= q <= 1) of v[0..n), interpolating linearly between
 * order statistics: with h = (n - 1) q, v(floor h) + (h - floor h)
 * (v(floor h + 1) - v(floor h)) over the sorted values. Sorts v in place.
 * NAN when n is 0.
 */
double fs_tune_quantile(double *v, size_t n, double q);

/*
 * Summarises r (borrowed). The oracle delays come from oracle (borrowed),
 * which must have been scored from the same truth file with the playback
 * file; it may be r itself. An incident's ratio is its delay over the
 * oracle's when both exist and the oracle's is positive (score.h).
 * Returns 0, or -1 if out of memory.
 */
int fs_tune_metrics(const fs_score_result_t *r, const fs_score_result_t *oracle,
                    fs_tune_metrics_t *m);

/*
 * Marks in front[0..n) (1 or 0) the points that no other point dominates
 * when minimising both delay[i] and false_per_day[i]: j dominates i when it
 * is no worse in both and better in one. Points with a NAN in either are
 * never on the front and dominate nothing. Arrays borrowed.
 */
void fs_tune_pareto(const double *delay, const double *false_per_day, size_t n, int *front);

/* Runs the tune subcommand; argv[0] is "tune". Returns the exit status:
 * 0 success, 1 a run or a file failed, 2 bad usage. */
int fs_bench_tune_main(int argc, char **argv);

#endif
