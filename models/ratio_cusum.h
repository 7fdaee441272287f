/*
 * ratio_cusum.h: the failure-ratio model "ratio_cusum" (FS_SIGNAL_FAILURE_RATIO).
 *
 * Binomial log-LR CUSUMs on failures out of attempts against a robust decayed
 * baseline ratio, for the shifts of fs_engine_shifts (x2, x4.5, x10 by
 * default), with over-dispersion, shrinkage toward the parent's ratio
 * (obs->prior), warm-up, freeze while firing and hysteresis (engine.h).
 * Reach it through the registry (model.h); declared here for the registry.
 */
#ifndef FS_MODELS_RATIO_CUSUM_H
#define FS_MODELS_RATIO_CUSUM_H

#include "models/model.h"

/* Attempts a slice must have seen before it may fire. Fewer than 100 attempts
 * cannot tell a 1% ratio from 0% (the Jeffreys estimate alone puts it at
 * 0.5% or more); with a parent prior the baseline is anchored earlier, but a
 * slice still has to show some traffic of its own. */
#define FS_RATIO_CUSUM_WARM_ATTEMPTS 100.0

extern const fs_model_vtable_t fs_ratio_cusum_model;

#endif
