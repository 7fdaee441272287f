/*
 * nab_score.h: `foreshock-bench nab-score`, the Numenta Anomaly Benchmark
 * (NAB v1.1) scoring rules, reimplemented from numenta/NAB nab/sweeper.py,
 * nab/optimizer.py and nab/runner.py (normalize).
 *
 * Corpus directory layout (as in NAB): data/<category>/<name>.csv
 * (`timestamp,value`), labels/combined_windows.json (file -> [[start, end]],
 * both inclusive) and config/profiles.json (the cost matrices). Results
 * directory layout: <results>/<detector>/<category>/<detector>_<name>.csv
 * with columns `timestamp,anomaly_score` (further columns are ignored), one
 * row per data row.
 *
 * Rules (per file of n rows):
 * - The probationary period is min(floor(0.15 n), 0.15 * 5000) rows; its
 *   points never count.
 * - A point in a window of width w whose right edge is row r scores
 *   tpWeight * S(-(r - i + 1) / w) / S(-1) if detected; a window's score is
 *   the best of its detected points, or -fnWeight when none is detected.
 * - A point outside every window scores fpWeight * S(|i - r'| / (w' - 1))
 *   after a window (r', w' of the previous window), fpWeight * -1 before any.
 * - S(x) = 2 / (1 + exp(5x)) - 1 for x < 3, else -1.
 * - A point is detected when its anomaly score is >= the threshold. One
 *   threshold per detector and profile is chosen over the whole corpus. The
 *   sweeper (nab/sweeper.py calcScoreByThreshold) tabulates the corpus total
 *   at every distinct anomaly score (plus 1.1, flagging nothing). The
 *   published NAB scores were made in two steps: `optimize` ran a hill climb
 *   (nab/optimizer.py twiddle: start 0.5, step 0.1, tolerance 1e-7, -inf
 *   outside [0, 1]) and stored its thresholds in config/thresholds.json;
 *   `score` then scored at those thresholds. So `threshold`/`raw`/
 *   `normalized` use the thresholds.json entry of the detector when the
 *   corpus has one (that reproduces the published table), else the
 *   exhaustive optimum of the table, reported for every detector as
 *   `sweep_*`. `twiddle_*` replays the hill climb on the table; it is not
 *   always what the published run found (windowedGaussian's stored
 *   thresholds come from an earlier run), and for numenta reward_low_FP_rate
 *   the hill climb stops short of the optimum (63.12 vs 63.21).
 * - Normalised score = 100 (raw - null) / (perfect - null), where null is the
 *   raw score of the constant-0.5 detector (scored the same way) and perfect
 *   is tpWeight times the number of windows.
 */
#ifndef FS_BENCH_NAB_SCORE_H
#define FS_BENCH_NAB_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FS_NAB_PROFILES 3
#define FS_NAB_TS_LEN 32

/* The three cost profiles, in this order. */
extern const char *const fs_nab_profile_names[FS_NAB_PROFILES];

typedef struct fs_nab_corpus fs_nab_corpus_t;

typedef struct fs_nab_result {
    char profile[32];
    double threshold;  /* the corpus-wide optimum */
    double raw;        /* total score at that threshold */
    double null_raw;   /* constant-0.5 detector's optimum */
    double perfect;    /* tpWeight * windows */
    double normalized; /* 100 (raw - null) / (perfect - null) */
    long tp, fp;       /* detected scored points inside / outside windows */
    long windows_detected, windows;
    int published;           /* threshold taken from config/thresholds.json */
    double sweep_threshold;  /* exhaustive optimum of the sweep table */
    double sweep_raw, sweep_normalized;
    double twiddle_threshold; /* nab/optimizer.py twiddle on the sweep table */
    double twiddle_raw, twiddle_normalized;
} fs_nab_result_t;

/* Loads the corpus at dir (data, labels, profiles). NULL on failure with the
 * reason in err. */
fs_nab_corpus_t *fs_nab_corpus_load(const char *dir, char *err, size_t errlen);
void fs_nab_corpus_free(fs_nab_corpus_t *corpus);

size_t fs_nab_corpus_nfiles(const fs_nab_corpus_t *corpus);
/* "category/name.csv"; borrowed. */
const char *fs_nab_corpus_file(const fs_nab_corpus_t *corpus, size_t f);
size_t fs_nab_corpus_nrows(const fs_nab_corpus_t *corpus, size_t f);
/* Row values and the timestamp text as in the data file; borrowed. */
const double *fs_nab_corpus_values(const fs_nab_corpus_t *corpus, size_t f);
const char *fs_nab_corpus_timestamp(const fs_nab_corpus_t *corpus, size_t f, size_t row);

/* Scores anomaly_scores[f] of the named detector (NULL: no published
 * thresholds) (nrows of file f each; borrowed) with the corpus's
 * windows and the data files' timestamps. out gets the three profiles. */
int fs_nab_score_arrays(const fs_nab_corpus_t *corpus, const char *detector,
                        const double *const *anomaly_scores,
                        fs_nab_result_t out[FS_NAB_PROFILES], char *err, size_t errlen);

/* Reads <results_dir>/<detector>/... and scores it. The results' timestamps
 * must match the data files' row for row. */
int fs_nab_score_dir(const fs_nab_corpus_t *corpus, const char *results_dir,
                     const char *detector, fs_nab_result_t out[FS_NAB_PROFILES], char *err,
                     size_t errlen);

/* Reads a CSV of `timestamp,number[,...]` with a header line (CRLF and a
 * missing final newline allowed). ts (FS_NAB_TS_LEN bytes a row) may be
 * NULL. The arrays are malloc'ed and taken by the caller. */
int fs_nab_read_csv(const char *path, char (**ts)[FS_NAB_TS_LEN], double **val, size_t *n,
                    char *err, size_t errlen);

/* Prints one line per profile. */
void fs_nab_print(FILE *out, const char *detector, const fs_nab_result_t res[FS_NAB_PROFILES]);

/* `foreshock-bench nab-score --corpus DIR --results DIR --detector NAME`. */
int fs_bench_nab_score_main(int argc, char **argv);

#endif
