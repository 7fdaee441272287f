/*
 * ratio_cusum.c: the failure-ratio model (see ratio_cusum.h). All the logic
 * is the engine's; this file says what kind of test it is.
 */
#include "models/ratio_cusum.h"

#include "models/engine.h"

static const fs_engine_spec_t spec = {
    .family = FS_FAMILY_BINOMIAL,
    .falling = 0,
    .warm_min_trials = FS_RATIO_CUSUM_WARM_ATTEMPTS,
    .min_window_expected = 0.0,
};

static void ratio_init(void *state, const fs_model_params_t *params)
{
    (void)params;
    fs_engine_init(state);
}

static void ratio_update(void *state, const fs_model_params_t *params, const fs_model_obs_t *obs,
                         fs_model_verdict_t *verdict)
{
    fs_engine_update(state, NULL, &spec, params, obs, verdict);
}

const fs_model_vtable_t fs_ratio_cusum_model = {
    .name = "ratio_cusum",
    .signal = FS_SIGNAL_FAILURE_RATIO,
    .state_size = sizeof(fs_engine_t),
    .init = ratio_init,
    .update = ratio_update,
    .tests = FS_ENGINE_RISE_ARMS,
};
