/*
 * coldstart.h: the cold-start experiment behind the table in models/engine.h,
 * shared by the measuring program (coldstart.c) and the suite that asserts
 * its bounds (check_coldstart.c). Test code only.
 *
 * A failure-ratio model starts with no state, as the detector does for a
 * new slice, with the parameters the pipeline passes by default for 1 s
 * buckets: warm-up 5 minutes (300 buckets), half-life 30 minutes (1800
 * buckets), shifts from x2, and the threshold of a third of one false alarm
 * a day (the budget's share of one signal) over COLD_SLICES live slices. It
 * sees `history` buckets of normal traffic (n attempts per bucket at
 * COLD_P0), then a x10 burst for COLD_BURST buckets; the burst is detected
 * if the model fires during it.
 */
#ifndef FS_TESTS_MODELS_COLDSTART_H
#define FS_TESTS_MODELS_COLDSTART_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "models/engine.h"
#include "models/model.h"
#include "tests/models/sim.h"

#define COLD_P0     0.01
#define COLD_MULT   10.0
#define COLD_BURST  600
#define COLD_SLICES 10000.0

/* The pipeline's defaults (detect.warmup 5m, detect.baseline_halflife 30m,
 * detect.false_alarms_per_day 1 shared by three signals) for 1 s buckets. */
static inline fs_model_params_t cold_params(const fs_model_vtable_t *model)
{
    fs_model_params_t params = {.bucket_seconds = 1.0,
                                .baseline_halflife = 1800.0,
                                .warmup_buckets = 300.0,
                                .min_rate_ratio = 2.0};
    params.threshold = fs_model_threshold(model, 1.0 / 3.0, COLD_SLICES, 1.0);
    return params;
}

/* Outcome of one run. */
typedef struct cold_run {
    int64_t delay;    /* buckets from the burst's start to firing, or -1 */
    int64_t first_ms; /* event time of the first firing bucket, or -1 */
    int early;        /* fired on normal traffic, before the burst */
} cold_run_t;

/*
 * One seeded run of the ratio model from a cold start: `history` normal
 * buckets of n attempts, then the burst. prior is the parent's ratio fed as
 * obs->prior (NAN: a slice without parent). It stops at the first firing.
 */
static inline cold_run_t cold_ratio_run(uint64_t seed, double n, int64_t history, double prior)
{
    const fs_model_vtable_t *model = fs_model_find("ratio_cusum");
    fs_model_params_t params = cold_params(model);
    fs_engine_t state;
    sim_rng_t rng;
    cold_run_t r = {-1, -1, 0};

    sim_seed(&rng, seed);
    memset(&state, 0, sizeof(state));
    model->init(&state, &params);
    for (int64_t b = 0; b < history + COLD_BURST; b++) {
        double p = b >= history ? COLD_MULT * COLD_P0 : COLD_P0;
        fs_model_obs_t obs = {
            .bucket_start_ms = b * 1000, .n = n, .x = sim_binomial(&rng, n, p), .prior = prior};
        fs_model_verdict_t v;
        model->update(&state, &params, &obs, &v);
        if (v.firing) {
            r.first_ms = b * 1000;
            if (b < history)
                r.early = 1;
            else
                r.delay = b - history;
            break;
        }
    }
    return r;
}

#endif
