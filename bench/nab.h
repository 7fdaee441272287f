/*
 * nab.h: `foreshock-bench nab`, runs one value model with one parameter set
 * over every file of the NAB corpus and writes NAB results files
 * (<out>/<category>/<detector>_<name>.csv, `timestamp,anomaly_score`, the
 * data file's rows in order, scores in [0, 1]), then scores them with
 * nab_score.h and prints the three profiles.
 *
 * The model comes from the registry (models/model.h; FS_SIGNAL_VALUE, by
 * default value_novelty, models/value_novelty.h), fed one row per bucket,
 * with one parameter set for the corpus. Per file it gets only what NAB
 * gives every detector (nab/detectors/base.py): the file's minimum and
 * maximum value (inputMin, inputMax) and its probationary period (15% of the
 * file, at most 750 rows), which sets the warm-up and the rest period after
 * a detection. Nothing comes from the labels.
 */
#ifndef FS_BENCH_NAB_H
#define FS_BENCH_NAB_H

#include <stddef.h>

#include "models/model.h"

/* The model run when --model is not given. */
#define FS_NAB_MODEL "value_novelty"
/* The rest period after a detection is the probationary period over this
 * (as CAD OSE does: a fifth of 15% of the file, 3% of it, at most 150 rows). */
#define FS_NAB_REST_DIVISOR 5.0

/* The parameters of a value model for one NAB file of n values (borrowed):
 * value range, warm-up = the probationary period, rest period; the rest 0
 * (bucket_seconds 1). */
void fs_nab_model_params(const double *value, size_t n, fs_model_params_t *params);

/* Runs model (a FS_SIGNAL_VALUE model) over the n values of one file with
 * fs_nab_model_params and writes its scores (verdict.score of each row) to
 * score. Allocates the state block; -1 when that fails. */
int fs_nab_model_run(const fs_model_vtable_t *model, const double *value, size_t n, double *score);

/* `foreshock-bench nab --corpus DIR --out DIR [--model NAME] [--detector NAME]`. */
int fs_bench_nab_main(int argc, char **argv);

#endif
