/*
 * count_cusum.c: the count models (see count_cusum.h). All the logic is the
 * engine's; this file says what kind of tests they are.
 */
#include "models/count_cusum.h"

#include "models/engine.h"

static const fs_engine_spec_t up_spec = {
    .family = FS_FAMILY_POISSON,
    .falling = 0,
    .warm_min_trials = 0.0,
    .min_window_expected = 0.0,
    .exposure = 1,
};

static const fs_engine_spec_t down_spec = {
    .family = FS_FAMILY_POISSON,
    .falling = 1,
    .warm_min_trials = 0.0,
    .min_window_expected = FS_COUNT_CUSUM_DROP_MIN_EXPECTED,
};

static void count_init(void *state, const fs_model_params_t *params)
{
    fs_count_state_t *cs = state;

    (void)params;
    fs_engine_init(&cs->eng);
    fs_season_init(&cs->season);
}

static void up_update(void *state, const fs_model_params_t *params, const fs_model_obs_t *obs,
                      fs_model_verdict_t *verdict)
{
    fs_count_state_t *cs = state;

    fs_engine_update(&cs->eng, &cs->season, &up_spec, params, obs, verdict);
}

static void down_update(void *state, const fs_model_params_t *params, const fs_model_obs_t *obs,
                        fs_model_verdict_t *verdict)
{
    fs_count_state_t *cs = state;

    fs_engine_update(&cs->eng, &cs->season, &down_spec, params, obs, verdict);
}

const fs_model_vtable_t fs_count_cusum_up_model = {
    .name = "count_cusum_up",
    .signal = FS_SIGNAL_ERROR_COUNT,
    .state_size = sizeof(fs_count_state_t),
    .init = count_init,
    .update = up_update,
    .tests = FS_ENGINE_RISE_ARMS,
};

const fs_model_vtable_t fs_count_cusum_down_model = {
    .name = "count_cusum_down",
    .signal = FS_SIGNAL_VOLUME_DROP,
    .state_size = sizeof(fs_count_state_t),
    .init = count_init,
    .update = down_update,
    .tests = FS_ENGINE_FALL_ARMS,
};
