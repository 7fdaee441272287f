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
 *  - exit, with hysteresis (enter and exit conditions differ): while firing,
 *    a recovery CUSUM R runs the test the other way round: H0 "still at the
 *    incident level" against H1 "back at the frozen baseline". Each bucket
 *    adds ln L(baseline) - ln L(incident level), divided by phi and at most
 *    FS_ENGINE_STEP_MAX * h_rec; R is held at h_rec at most. The incident
 *    level comes from the firing window without the current calm run
 *    (below; it may be the recovery already): the window's count moved
 *    FS_ENGINE_LEVEL_SD standard deviations toward the baseline (the window
 *    at entry ends on the lucky stretch that fired), and at least as far
 *    from the baseline as the geometric midpoint between it and the mildest
 *    shift. The evidence is divided by the incident's dispersion rather
 *    than the baseline's (incident_dispersion in engine.c: counts that
 *    wander by a factor wander more at a higher level). The threshold is
 *    h_rec = ln(FS_ENGINE_RECOVERY_ARL_SECONDS / bucket seconds), 12.8 for
 *    1 s buckets (fs_engine_recovery_threshold): by Lorden's bound a CUSUM on
 *    a log-LR crosses h under its H0 no more often than once in e^h buckets
 *    on average, so resolving while the incident goes on at its level takes
 *    100 hours on average (a chance of about 1% in an hour), whatever the
 *    slice's size. The model resolves when R is at h_rec and the calm run
 *    (the buckets since R was last 0 or the run last failed) is at least
 *    `hold` buckets long and, taken together, near the baseline: its excess
 *    (shortfall, for falls) against the expected count is within the
 *    geometric midpoint between the baseline and the mildest shift, or
 *    within FS_ENGINE_NEAR_SD standard deviations plus one event. The second
 *    condition keeps an alert open, where data are plentiful, while the level
 *    settles between the baseline and the incident: better than the
 *    incident, yet clearly elevated. hold is FS_ENGINE_HOLD_BUCKETS (3), so a
 *    single quiet bucket never resolves (relapses hold longer, below). The
 *    delay is about h_rec / KL per bucket of the baseline against the
 *    incident level: for a x10 incident at p0 = 0.6%, 3 buckets at 200 or
 *    more attempts per bucket, about 15 at 27, about 3 minutes at 4.
 *  - relapse: after resolving the arms restart from 0, so firing again takes a
 *    full threshold of new evidence (the false-alarm budget's level: noise
 *    after an incident does not page again). An alert whose onset falls
 *    within FS_ENGINE_COOLDOWN_SECONDS of the end of the previous one (the
 *    start of the recovery excursion that resolved it, when the data stopped
 *    looking like the incident) is a relapse: that recovery was a pause, not
 *    the end. The relapse's hold is twice the pause, and at least the hold of
 *    the alert before it, so an incident that goes on and off in a steady
 *    rhythm gives at most two alerts: the first resolves in the first pause,
 *    the second holds through the later ones and resolves two pauses after
 *    the incident has ended.
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

/* Shortest calm run that resolves: with no bucket adding more than
 * FS_ENGINE_STEP_MAX * h_rec to the recovery statistic it takes two buckets
 * to reach h_rec anyway; the third guards against a single quiet bucket
 * followed by one that merely looks quiet (a partial bucket at the end of
 * an outage). */
#define FS_ENGINE_HOLD_BUCKETS 3

/* Target in-control average run length of the recovery CUSUM, in seconds:
 * while an incident goes on at its level, the model resolves by mistake
 * about once in this time (at most: Lorden's bound), i.e. with a chance of
 * about 1% in an hour. h_rec = ln(this / bucket seconds): 12.8 for 1 s
 * buckets. */
#define FS_ENGINE_RECOVERY_ARL_SECONDS 360000.0

/* Standard deviations (of the window's count, phi included) taken off the
 * incident level estimate (added, for falls): the window at entry ends on
 * the stretch that made the CUSUM fire, so its ratio is biased away from
 * the baseline, and a recovery test against a level the incident never had
 * would resolve too early. */
#define FS_ENGINE_LEVEL_SD 1.0

/* Weight, in buckets, of the extrapolated dispersion of the incident
 * (phi grown in proportion to the level, as for counts whose mean wanders
 * by a factor) against the dispersion measured in its own buckets. It
 * matters in the first buckets after entry, before the incident's own
 * dispersion is known; small, because the baseline's phi may itself hold
 * part of a slow incident learned before it fired. */
#define FS_ENGINE_DISP_PRIOR_BUCKETS 5.0

/* Standard deviations of the calm run's expected count within which its
 * excess (shortfall) counts as noise, plus one event. */
#define FS_ENGINE_NEAR_SD 2.0

/* An alert whose onset falls within this many seconds of the end of the
 * previous one (the start of the recovery excursion that resolved it) is a
 * relapse (see above). */
#define FS_ENGINE_COOLDOWN_SECONDS 120.0

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

/* Sums over some buckets, for a Pearson dispersion estimate. */
typedef struct fs_engine_moments {
    double b;  /* buckets, empty ones included */
    double k;  /* buckets with trials (all of them, for counts) */
    double n;  /* trials (binomial) or buckets (Poisson) */
    double x;  /* events */
    double xx; /* sum of x^2 */
    double nx; /* sum of n*x */
    double nn; /* sum of n^2 */
} fs_engine_moments_t;

/* Per-slice state. Plain data: it can be copied and persisted as bytes. */
typedef struct fs_engine {
    fs_baseline_t base;
    fs_cusum_t arm[FS_ENGINE_BANK_MAX];
    int64_t last_ms;          /* bucket_start_ms of the last bucket fed */
    int started;              /* a bucket has been fed */
    int firing;               /* 1 while anomalous */
    int resolved;             /* an alert has resolved: calm_ms and hold are its */
    int lead;                 /* while firing: the deciding arm */
    int64_t onset_ms;         /* while firing: first bucket of the deciding window */
    double rate;              /* baseline rate used for the last bucket */
    double phi;               /* dispersion used for the last bucket */
    double score;             /* max statistic / threshold after the last bucket */
    double win_n;             /* while firing: trials since onset */
    double win_x;             /* while firing: events since onset */
    double win_e;             /* while firing: expected events since onset */
    double win_buckets;       /* while firing: buckets since onset */
    fs_cusum_t rec;           /* while firing: the recovery CUSUM */
    fs_engine_moments_t inc;  /* while firing: buckets since entry outside the calm run */
    fs_engine_moments_t calm; /* while firing: buckets of the calm run */
    double calm_e;            /* while firing: expected events of the calm run */
    double hold;              /* calm buckets the current (or last) alert needs to resolve */
    int64_t calm_ms;          /* where the recovery that resolved the last alert began */
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

/*
 * The recovery threshold h_rec for buckets of bucket_seconds: Lorden's
 * h = ln(ARL) for an ARL of FS_ENGINE_RECOVERY_ARL_SECONDS / bucket_seconds
 * buckets, at least 1. A bucket_seconds that is not > 0 and finite is taken
 * as 1.
 */
double fs_engine_recovery_threshold(double bucket_seconds);

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
