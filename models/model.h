/*
 * model.h: the interface every anomaly model implements, and the registry.
 *
 * A model decides, bucket after bucket, whether one signal of one slice is
 * anomalous: the failure ratio (failures out of attempts), an error count, or
 * the attempt volume. It is pure: numbers and event times come in as
 * arguments, the per-slice state is a plain fixed-size block that the caller
 * owns (so the detector can keep thousands in one array and persist them as
 * bytes), and update never allocates, never fails and reads no clock.
 *
 * Thread safety: none needed; states are independent, vtables are constant.
 */
#ifndef FS_MODELS_MODEL_H
#define FS_MODELS_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* What the model watches. */
typedef enum fs_signal {
    FS_SIGNAL_FAILURE_RATIO = 0, /* failures out of attempts rise: PlaybackFailureBurst */
    FS_SIGNAL_ERROR_COUNT = 1,   /* error count rises: ErrorBurst */
    FS_SIGNAL_VOLUME_DROP = 2,   /* attempts fall far below expected: PlaybackVolumeDrop */
} fs_signal_t;

/* Settings shared by every slice of a signal; derived from configuration. */
typedef struct fs_model_params {
    double bucket_seconds;     /* width of one bucket */
    double threshold;          /* decision threshold of the sequential test (log-LR units) */
    double baseline_halflife;  /* buckets for the baseline to forget half of its past */
    double warmup_buckets;     /* buckets of history before the model may fire */
    double min_rate_ratio;     /* smallest relative shift worth detecting (e.g. 2 = x2) */
} fs_model_params_t;

/* One closed bucket of one slice. */
typedef struct fs_model_obs {
    int64_t bucket_start_ms; /* event time */
    double n;                /* trials: attempts for FAILURE_RATIO, ignored for counts */
    double x;                /* failures, errors or attempts, by signal */
    double prior;            /* the parent slice's expected rate/count, or NAN if none */
} fs_model_obs_t;

/* The model's view after a bucket. */
typedef struct fs_model_verdict {
    int firing;               /* 1 while the signal is anomalous (after hysteresis) */
    int64_t onset_ms;         /* estimated start of the anomaly (event time), when firing */
    double observed;          /* ratio or count per bucket over the deciding window */
    double expected;          /* the baseline for the same window */
    double score;             /* test statistic divided by the threshold (>= 1 fires) */
    double window_n;          /* trials in the deciding window (attempts; counts: buckets) */
    double window_x;          /* events in the deciding window (failures, errors, attempts) */
    double window_seconds;    /* length of the deciding window */
} fs_model_verdict_t;

typedef struct fs_model_vtable {
    const char *name;
    fs_signal_t signal;
    size_t state_size; /* bytes of per-slice state */
    /* Puts a state block of state_size bytes into its initial (cold) state. */
    void (*init)(void *state, const fs_model_params_t *params);
    /* Feeds one closed bucket, in order of bucket_start_ms, and writes the verdict. */
    void (*update)(void *state, const fs_model_params_t *params, const fs_model_obs_t *obs,
                   fs_model_verdict_t *verdict);
} fs_model_vtable_t;

/* The model registered for a signal under this name, or NULL. */
const fs_model_vtable_t *fs_model_find(const char *name);

/* The default model of a signal. Never NULL. */
const fs_model_vtable_t *fs_model_default(fs_signal_t signal);

#endif
