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
    FS_SIGNAL_VALUE = 3,         /* a generic value stream (obs.x); the NAB benchmark */
} fs_signal_t;

/* Settings shared by every slice of a signal; derived from configuration. */
typedef struct fs_model_params {
    double bucket_seconds;    /* width of one bucket */
    double threshold;         /* decision threshold of the sequential test (log-LR units) */
    double baseline_halflife; /* buckets for the baseline to forget half of its past */
    double warmup_buckets;    /* buckets of history before the model may fire */
    double min_rate_ratio;    /* smallest relative shift worth detecting (e.g. 2 = x2) */
    /* FS_SIGNAL_VALUE only (models/value_novelty.h); the other signals ignore them. */
    double value_min; /* the range of the values, cut into cells */
    double value_max;
    double rest_buckets; /* after a detection, buckets reported as score 0 */
} fs_model_params_t;

/* One closed bucket of one slice. */
typedef struct fs_model_obs {
    int64_t bucket_start_ms; /* event time */
    double n;                /* attempts: the trials of FAILURE_RATIO; for ERROR_COUNT the
                                traffic that produced the errors; ignored otherwise */
    double x;                /* failures, errors or attempts, or the value, by signal */
    double prior;            /* the parent slice's expected rate/count, or NAN if none */
} fs_model_obs_t;
/*
 * Notes on fs_model_obs_t (models/baseline.h has the formulas):
 * - Feed every bucket of a slice, empty ones too (n = 0, x = 0), or at least
 *   the next non-empty one: buckets skipped between two calls are replayed as
 *   empty ones. For a ratio an empty bucket carries no information; for a
 *   count it is a count of 0, which is how a volume drop shows.
 * - prior is the parent's *baseline* (expected), not its observed value, so
 *   that a parent in an incident does not drag its children along. For
 *   FAILURE_RATIO it is the parent's expected failure ratio. For the count
 *   signals it must be the expected count of THIS slice per bucket (e.g. the
 *   parent's expected count times this slice's usual share), never the
 *   parent's own count. (A count model that follows its hour-of-week
 *   profile divides it by the bucket's multiplier itself; see engine.h.) It weighs as much as FS_BASELINE_PRIOR_EVENTS (10)
 *   observed events, so it steers small slices and is negligible for busy ones.
 * - ERROR_COUNT: errors are judged against the traffic that produced them:
 *   n is the slice's attempts in the bucket (a slice with no attempts of
 *   its own, an error code, passes all traffic's). The model learns the
 *   attempts with the errors; when recent attempts clearly exceed what the
 *   slice usually has (a surge, a rollout ramping up) the expected error
 *   count rises in proportion, at the slice's usual errors per attempt, so
 *   only errors that outgrow the traffic are a burst. Fewer attempts than
 *   usual never lower it (models/engine.h, exposure). A caller that passes
 *   n = 0 gets the count judged against its history alone, as before n had
 *   a meaning for counts.
 * - Negative or non-finite counts are taken as 0.
 */

/* The model's view after a bucket. The deciding window runs from onset_ms to
 * the end of this bucket: while firing (and on the bucket that resolves) the
 * incident so far; otherwise the current excursion of the leading test, or
 * just this bucket when there is none. Its excess over the baseline is
 * window_x - expected * window_n. While firing, score is 1 minus the
 * evidence that the signal is back at its baseline (a recovery test, see
 * models/engine.h) over that test's threshold: 1 at most after the entry
 * bucket, 1 while the data look like the incident, falling toward 0 as
 * recovery builds up; the bucket that resolves has score 0. The value model
 * (FS_SIGNAL_VALUE) scores each value on its own: see models/value_novelty.h. */
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
    size_t state_size; /* bytes of per-slice state; a multiple of 8. Blocks must be
                          aligned as malloc aligns (they hold doubles and int64_t) */
    /* Puts a state block of state_size bytes into its initial (cold) state. */
    void (*init)(void *state, const fs_model_params_t *params);
    /* Feeds one closed bucket, in order of bucket_start_ms, and writes the verdict. */
    void (*update)(void *state, const fs_model_params_t *params, const fs_model_obs_t *obs,
                   fs_model_verdict_t *verdict);
    /* One-sided tests the model runs per slice (at most): count them all
     * when sharing a false-alarm budget (fs_model_threshold). */
    int tests;
} fs_model_vtable_t;

/* The model registered for a signal under this name, or NULL. */
const fs_model_vtable_t *fs_model_find(const char *name);

/* The default model of a signal. Never NULL. */
const fs_model_vtable_t *fs_model_default(fs_signal_t signal);

/*
 * A threshold (fs_model_params_t.threshold) that keeps the expected number of
 * false alarms of this model across `slices` slices at or below
 * alarms_per_day, for buckets of bucket_seconds: the per-test in-control
 * average run length is slices * model->tests * buckets per day /
 * alarms_per_day (fs_budget_arl0), and the threshold meets it by Siegmund's
 * approximation at its least favourable information per bucket
 * (fs_cusum_threshold in models/stats.h). NAN when an argument is not > 0.
 */
double fs_model_threshold(const fs_model_vtable_t *model, double alarms_per_day, double slices,
                          double bucket_seconds);

#endif
