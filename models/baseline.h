/*
 * baseline.h: the robust, exponentially decayed baseline shared by all models.
 *
 * A baseline estimates what a slice normally does: its failure ratio (the
 * binomial family: events out of trials) or its count per bucket (the Poisson
 * family: events per bucket). It keeps decayed sums, so the past fades with a
 * configurable half-life, and it clips each bucket's contribution to a few
 * standard deviations around the current estimate, so one outlier bucket
 * cannot drag it. It also estimates the over-dispersion factor phi (how much
 * more the counts wander than the binomial or Poisson model says), which the
 * tests divide their evidence by.
 *
 * The caller decides when to learn: the models do not learn while firing,
 * so an incident is never taken for normal. The struct is plain data inside a
 * model's caller-owned state block; nothing here allocates.
 */
#ifndef FS_MODELS_BASELINE_H
#define FS_MODELS_BASELINE_H

/* How counts are distributed given the baseline. */
typedef enum fs_family {
    FS_FAMILY_BINOMIAL = 0, /* x events out of n trials, rate = ratio */
    FS_FAMILY_POISSON = 1,  /* x events in a bucket of exposure n, mean n * rate; n = 1 for
                               a plain bucket (rate = mean count per bucket), the seasonal
                               multiplier m(t) for a seasonal one (season.h) */
} fs_family_t;

/* Weight of the parent's rate, in pseudo-events: the prior counts as much as
 * this many observed events (failures, errors) would. Ten events pin a rate
 * to about +-30% (1/sqrt(10)), a fair guess for how far a slice's normal rate
 * sits from its parent's; a slice overrules its parent once it has seen
 * clearly more events of its own. See fs_baseline_rate. */
#define FS_BASELINE_PRIOR_EVENTS 10.0

/* Smallest prior rate used for weighting, so a parent rate of 0 gives a
 * large but finite weight. */
#define FS_BASELINE_PRIOR_FLOOR 1e-6

/* A bucket's count is clipped to estimate +- FS_BASELINE_CLIP_SD standard
 * deviations (+-1 event) before it is learned. */
#define FS_BASELINE_CLIP_SD 4.0

/* A bucket's squared deviation from the estimate is clipped to
 * FS_BASELINE_DISP_CLIP * phi * max(variance, 1) (4 standard deviations, or
 * 4 events where the variance is below one event) before it enters phi. */
#define FS_BASELINE_DISP_CLIP 16.0

/* Largest dispersion factor reported: beyond it the counts are not counts of
 * independent events in any useful sense, and evidence is discounted enough. */
#define FS_BASELINE_PHI_MAX 100.0

typedef struct fs_baseline {
    double events;       /* decayed, clipped events (failures, errors, attempts) */
    double trials;       /* decayed trials: attempts (binomial) or exposure (Poisson) */
    double disp_sum;     /* decayed sum of clipped squared deviations (x - n*rate)^2 */
    double disp_weight;  /* decayed sum of their model variances */
    double trials_seen;  /* raw trials (exposure) ever learned (never decays): for warm-up */
    double buckets_seen; /* buckets ever learned, empty ones included */
} fs_baseline_t;

/* Puts b into its empty state. */
void fs_baseline_init(fs_baseline_t *b);

/*
 * The baseline rate: a failure ratio in (0, 1) for FS_FAMILY_BINOMIAL, a mean
 * count per unit of exposure (per bucket, for plain buckets) > 0 for
 * FS_FAMILY_POISSON.
 *
 * With decayed events E over decayed trials N, a prior rate q (the parent's,
 * or NAN for none) and w = FS_BASELINE_PRIOR_EVENTS / max(q, floor) pseudo-
 * trials for it, the estimate is
 *
 *     rate = (E + w*q + 0.5) / (N + w + 1)          binomial
 *     rate = (E + w*q + 0.5) / max(N + w, 1)        Poisson (N: exposure)
 *
 * i.e. empirical-Bayes shrinkage toward the parent (a slice with few
 * attempts sits at its parent's rate and needs real evidence to move), plus a
 * Jeffreys half-event so that a slice which never failed gets a small
 * positive rate instead of 0 (against which a single failure would be
 * infinite evidence); these are the posterior means under a Jeffreys prior
 * when there is no parent. Without a prior w = 0. For the Poisson family q must be the expected
 * count of this slice per unit of exposure (per bucket, for plain buckets), not the parent's
 * own count.
 */
double fs_baseline_rate(const fs_baseline_t *b, fs_family_t family, double prior);

/*
 * The over-dispersion factor phi >= 1: the Pearson statistic pooled over the
 * decayed past, sum (x - n*rate)^2 / sum var, with var = n*rate*(1-rate)
 * (binomial) or n*rate (Poisson), floored at 1, capped at FS_BASELINE_PHI_MAX.
 * Pooling (rather than averaging each bucket's ratio) weighs buckets by their
 * size, and keeps sparse slices honest: there one event is already several
 * "standard deviations", so per-bucket ratios would be clipped away and
 * clustered failures (one user retrying) would go unnoticed.
 */
double fs_baseline_dispersion(const fs_baseline_t *b);

/*
 * Learns one bucket: first forgets (multiplies every decayed sum by decay, in
 * (0, 1]: 2^(-1/halflife) per bucket), then adds the bucket.
 *   n      trials in the bucket (attempts) for the binomial family; the
 *          bucket's exposure for the Poisson family: 1 for a plain bucket,
 *          the seasonal multiplier m(t) for a seasonal one (season.h). The
 *          variance is n*rate*(1-rate) or n*rate
 *   x      events in the bucket (failures, errors or attempts)
 *   rate   the baseline rate the bucket was predicted with (fs_baseline_rate
 *          before this call); residuals and clipping are relative to it
 *   robust nonzero once the baseline is warm: clip x to the rate's
 *          +-FS_BASELINE_CLIP_SD band. Before that the rate is too rough to
 *          judge outliers by.
 * A bucket with n = 0 carries no information: only forgetting and the
 * bucket count change.
 */
void fs_baseline_learn(fs_baseline_t *b, fs_family_t family, double decay, double n, double x,
                       double rate, int robust);

#endif
