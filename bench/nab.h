/*
 * nab.h: `foreshock-bench nab`, runs one value model with one parameter set
 * over every file of the NAB corpus and writes NAB results files
 * (<out>/<category>/<detector>_<name>.csv, `timestamp,anomaly_score`, the
 * data file's rows in order, scores in [0, 1]), then scores them with
 * nab_score.h and prints the three profiles.
 *
 * The model lives here for now (it is not yet in models/): a two-sided
 * Gaussian CUSUM on a robustly standardised stream. The baseline is an EWMA
 * of the value, the scale an EWMA of the absolute residual (both fed with the
 * residual clipped at FS_NAB_CLIP scales, so outliers barely move them); z =
 * residual / scale is clipped, S+ = max(0, S+ + z - k), S- = max(0, S- - z -
 * k), and the score is 1 - exp(-max(S+, S-) / h). When max(S+, S-) exceeds
 * the reset level the sums restart and the baseline jumps to the current
 * value, so a level shift alarms once instead of for ever.
 */
#ifndef FS_BENCH_NAB_H
#define FS_BENCH_NAB_H

#include <stddef.h>

typedef struct fs_nab_cusum_params {
    double alpha;     /* EWMA weight of the baseline */
    double beta;      /* EWMA weight of the scale */
    double k;         /* CUSUM allowance, in scales */
    double h;         /* score = 1 - exp(-S / h) */
    double reset;     /* restart when S exceeds this */
    double clip;      /* |z| clip */
    size_t warmup;    /* rows scored 0 while the estimates settle */
} fs_nab_cusum_params_t;

/* The one parameter set used for the whole corpus. */
extern const fs_nab_cusum_params_t fs_nab_cusum_default;

/* Scores n values into score (both borrowed, score written). */
void fs_nab_cusum_run(const fs_nab_cusum_params_t *params, const double *value, size_t n,
                      double *score);

/* `foreshock-bench nab --corpus DIR --out DIR [--detector NAME]`. */
int fs_bench_nab_main(int argc, char **argv);

#endif
