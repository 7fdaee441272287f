/*
 * count_cusum.h: the count models "count_cusum_up" (FS_SIGNAL_ERROR_COUNT)
 * and "count_cusum_down" (FS_SIGNAL_VOLUME_DROP).
 *
 * Poisson log-LR CUSUMs on a count per bucket (errors; attempts) against a
 * robust decayed baseline mean that follows an hour-of-week profile once one
 * has been learned (season.h), with over-dispersion, warm-up, freeze while
 * firing and hysteresis (engine.h). "up" tests rises by the shifts of
 * fs_engine_shifts (x2, x4.5, x10 by default); "down" tests falls to 0.3x
 * and 0.1x of expected. "up" judges errors against the traffic that
 * produced them (obs->n, the attempts; the engine's exposure): a benign
 * surge or rollout, whose errors rise with its attempts, is no error burst,
 * while errors that outgrow the traffic are. "down" ignores obs->n. Reach
 * them through the registry (model.h).
 */
#ifndef FS_MODELS_COUNT_CUSUM_H
#define FS_MODELS_COUNT_CUSUM_H

#include "models/engine.h"
#include "models/model.h"
#include "models/season.h"

/* The per-slice state of both count models: the engine first (so a state
 * block can be read as an fs_engine_t), then the profile. 552 + 928 = 1480
 * bytes (FS_COUNT_CUSUM_STATE_BYTES). */
typedef struct fs_count_state {
    fs_engine_t eng;
    fs_season_t season;
} fs_count_state_t;

#define FS_COUNT_CUSUM_STATE_BYTES 1480

/* A volume drop fires only when its window expected at least this many
 * attempts (in units of the dispersion phi). Below that a slice is too small
 * for a missing stretch of traffic to mean an outage: its users simply did not
 * play anything. The CUSUM alone implies about h / (1 - 0.3) expected
 * attempts already; the floor keeps that true when h is set low. */
#define FS_COUNT_CUSUM_DROP_MIN_EXPECTED 20.0

extern const fs_model_vtable_t fs_count_cusum_up_model;
extern const fs_model_vtable_t fs_count_cusum_down_model;

#endif
