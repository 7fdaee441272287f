/*
 * engine.h: the machinery every CUSUM model shares.
 *
 * One engine per slice and signal: a robust decayed baseline (baseline.h), a
 * bank of CUSUMs for a few shift sizes at once (cusum.h), and the life cycle
 * around them:
 *
 *  - warm-up: no firing before params->warmup_buckets buckets and
 *    spec->warm_min_trials trials have been learned; the CUSUMs stay at 0
 *    until then, because a test against a baseline that means nothing yet
 *    would only accumulate noise;
 *  - evidence: each bucket adds its log-likelihood ratio divided by the
 *    dispersion phi (quasi-likelihood), at most FS_ENGINE_STEP_MAX times the
 *    threshold, to each arm; an arm's onset is the first bucket after its
 *    statistic was last 0;
 *  - entry: the model fires when an arm reaches params->threshold (and the
 *    arm's window holds at least spec->min_window_expected expected events,
 *    in units of phi). Of the arms that qualify, the one for the strongest
 *    shift decides: its onset is the alert's onset and its window is the
 *    alert's evidence;
 *  - freeze: while firing, the baseline rate and phi are those of the entry
 *    bucket and nothing is learned, so an incident is never taken for normal;
 *  - exit, with hysteresis (enter and exit conditions differ): while firing
 *    each statistic is held at most at the threshold, so it drains in bounded
 *    time once the incident ends. The evidence has reversed when every
 *    statistic has fallen back to 0 (even the mildest shift is now less
 *    likely than the baseline). From then on, the model resolves after
 *    FS_ENGINE_HOLD_BUCKETS consecutive buckets in which (a) no statistic
 *    climbs back to FS_ENGINE_EXIT_LEVEL times the threshold (under the
 *    baseline they wander a little above 0, so "exactly 0" would make the
 *    hold a lottery) and (b) the recent window (decayed, half-life
 *    FS_ENGINE_RECENT_HALFLIFE buckets) sits near the baseline: its excess
 *    (shortfall, for falls) against the expected count is within the
 *    geometric midpoint between the baseline and the mildest shift, or
 *    within 2 standard deviations. Renewed evidence (a) voids the reversal.
 *    After resolving the arms restart from 0, so firing again takes a full
 *    threshold of new evidence: an outage that sputters stays one alert, and
 *    a resolved one does not flap back on the first noisy bucket.
 *  - gaps: buckets missing between two calls (bucket_start_ms jumps by more
 *    than a bucket) are processed as empty buckets first: for a ratio no
 *    information, for a count a count of 0. At most FS_ENGINE_GAP_MAX of
 *    them; older ones are ignored.
 *
 * Plain data inside caller-owned model state; update never allocates.
 */
#ifndef FS_MODELS_ENGINE_H
#define FS_MODELS_ENGINE_H

#include <stdint.h>

#include "models/baseline.h"
#include "models/cusum.h"
#include "models/model.h"

/* Most arms in a bank. */
#define FS_ENGINE_BANK_MAX 4

/* Arms in a bank for rises and for falls. */
#define FS_ENGINE_RISE_ARMS 3
#define FS_ENGINE_FALL_ARMS 2

/* Largest rise in the bank: a x10 shift fires within a bucket or two in a
 * busy slice; larger shifts are caught by it at least as fast. */
#define FS_ENGINE_RISE_MAX 10.0

/* Mildest fall in the bank. Without a seasonal baseline, volume halves
 * naturally between evening and night within a half-life; only a fall to
 * 30% or less is an outage worth paging on. */
#define FS_ENGINE_FALL_MAX 0.3

/* Consecutive quiet buckets before a firing model resolves: an outage that
 * sputters (bad for a few buckets, good for a few) stays one alert. */
#define FS_ENGINE_HOLD_BUCKETS 10

/* While holding, a statistic at this fraction of the threshold is renewed
 * evidence: it voids the reversal. One bucket of a large shift reaches it
 * (FS_ENGINE_STEP_MAX); baseline noise hardly does. */
#define FS_ENGINE_EXIT_LEVEL 0.5

/* Half-life, in buckets, of the recent window the exit condition checks. */
#define FS_ENGINE_RECENT_HALFLIFE 2.0

/* No single bucket adds more than this fraction of the threshold to a
 * statistic (a robust, "winsorized" CUSUM). Over-dispersion is divided out
 * only on average: one user's retry storm or a heavy-tailed one-bucket spike
 * can still look like overwhelming evidence under the binomial or Poisson
 * model. With the cap it takes at least two buckets of evidence to fire,
 * which costs the largest shifts one bucket of delay and nothing else. */
#define FS_ENGINE_STEP_MAX 0.5

/* Most missing buckets replayed as empty between two calls (18 h at 1 s). */
#define FS_ENGINE_GAP_MAX 65536

/* What a model is, for the engine. */
typedef struct fs_engine_spec {
    fs_family_t family;         /* binomial (ratio) or Poisson (counts) */
    int falling;                /* 0: detect rises; 1: detect falls */
    double warm_min_trials;     /* raw trials (attempts) to see before firing */
    double min_window_expected; /* expected events / phi in the window to fire */
} fs_engine_spec_t;

/* Per-slice state. Plain data: it can be copied and persisted as bytes. */
typedef struct fs_engine {
    fs_baseline_t base;
    fs_cusum_t arm[FS_ENGINE_BANK_MAX];
    int64_t last_ms;    /* bucket_start_ms of the last bucket fed */
    int started;        /* a bucket has been fed */
    int firing;         /* 1 while anomalous */
    int drained;        /* while firing: every statistic has been back at 0 */
    int lead;           /* while firing: the deciding arm */
    int64_t onset_ms;   /* while firing: first bucket of the deciding window */
    double rate;        /* baseline rate used for the last bucket */
    double phi;         /* dispersion used for the last bucket */
    double score;       /* max statistic / threshold after the last bucket */
    double win_n;       /* while firing: trials since onset */
    double win_x;       /* while firing: events since onset */
    double win_e;       /* while firing: expected events since onset */
    double win_buckets; /* while firing: buckets since onset */
    double recent_x;    /* decayed events of the recent window */
    double recent_e;    /* decayed expected events of the recent window */
    double quiet;       /* while firing: consecutive buckets meeting the exit condition */
} fs_engine_t;

/*
 * The shift sizes of the bank, as rate multipliers, into shifts; returns how
 * many (1..FS_ENGINE_BANK_MAX). Rises: geometric from k = min_rate_ratio to
 * FS_ENGINE_RISE_MAX in FS_ENGINE_RISE_ARMS steps (2, 4.47, 10 for k = 2), a
 * single arm when k >= FS_ENGINE_RISE_MAX. Falls: r = min(1/k,
 * FS_ENGINE_FALL_MAX) and r/3. A min_rate_ratio that is not > 1 is taken as 2.
 */
int fs_engine_shifts(const fs_engine_spec_t *spec, const fs_model_params_t *params,
                     double shifts[FS_ENGINE_BANK_MAX]);

/* Puts eng into its cold state. */
void fs_engine_init(fs_engine_t *eng);

/*
 * Feeds one closed bucket and writes the verdict (see model.h). For the
 * binomial family obs->n is the attempts and obs->x the failures; for the
 * Poisson family obs->x is the count and obs->n is ignored. Negative or
 * non-finite counts are taken as 0, failures beyond attempts as attempts.
 * A threshold that is not > 0 never fires; a half-life that is not > 0 is
 * taken as 1 bucket. Never allocates, never fails.
 */
void fs_engine_update(fs_engine_t *eng, const fs_engine_spec_t *spec,
                      const fs_model_params_t *params, const fs_model_obs_t *obs,
                      fs_model_verdict_t *verdict);

#endif
