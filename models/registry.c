/*
 * registry.c: the models by name and the default model of each signal.
 */
#include "models/model.h"

#include <math.h>
#include <string.h>

#include "models/count_cusum.h"
#include "models/ratio_cusum.h"
#include "models/stats.h"
#include "models/value_novelty.h"

static const fs_model_vtable_t *const models[] = {
    &fs_ratio_cusum_model,
    &fs_count_cusum_up_model,
    &fs_count_cusum_down_model,
    &fs_value_novelty_model,
};

const fs_model_vtable_t *fs_model_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

const fs_model_vtable_t *fs_model_default(fs_signal_t signal)
{
    switch (signal) {
    case FS_SIGNAL_ERROR_COUNT:
        return &fs_count_cusum_up_model;
    case FS_SIGNAL_VOLUME_DROP:
        return &fs_count_cusum_down_model;
    case FS_SIGNAL_VALUE:
        return &fs_value_novelty_model;
    case FS_SIGNAL_FAILURE_RATIO:
    default:
        return &fs_ratio_cusum_model;
    }
}

double fs_model_threshold(const fs_model_vtable_t *model, double alarms_per_day, double slices,
                          double bucket_seconds)
{
    double arl0;

    if (model == NULL || !(slices > 0.0))
        return NAN;
    arl0 = fs_budget_arl0(alarms_per_day, slices * model->tests, bucket_seconds);
    if (!(arl0 >= 1.0))
        return isnan(arl0) ? NAN : 0.0;
    return fs_cusum_threshold(arl0);
}
