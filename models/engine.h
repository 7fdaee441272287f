/*
 * engine.h: the machinery every CUSUM model shares.
 *
 * One engine per slice and signal: a robust decayed baseline (baseline.h), a
 * bank of CUSUMs for a few shift sizes at once (cusum.h), for counts an
 * hour-of-week profile (season.h), and the life cycle around them:
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
 *  - seasons (counts only: the count models pass a profile, the ratio model
 *    none): the expected count of a bucket is level * m(t), m(t) the
 *    profile's multiplier for the bucket's time of the week. The engine
 *    learns the plain baseline (exposure 1; f for error counts, see
 *    exposure below) and the profile's hours all along, and from the moment
 *    the profile is ready (a day of history) a second baseline, the level,
 *    on the counts with exposure m(t) (m(t) * f). It
 *    judges by the level once the level has learned for max(warm-up,
 *    half-life) buckets, while it comes to FS_SEASON_MIN_HOURLY events an
 *    hour; otherwise by the plain baseline. While firing, the level and the
 *    profile are frozen like the rest, and m(t) keeps moving with the time
 *    of the week, so an outage that lasts into the night is judged against
 *    the night. Where the plain baseline fires (before the profile is in
 *    use), its hours are only candidates for the profile (season.h): a
 *    steep cycle that makes it fire every evening is learned on the second
 *    evening instead of never. The ratio has no profile: attempts and
 *    failures follow the same cycle, which cancels in their ratio, and what
 *    is left (a wave of +-50% over the day, say) moves slowly enough for the
 *    30-minute baseline and stays far from the mildest shift (x2); a
 *    profile of failures would also need hundreds of failures per hour of
 *    the week to be worth its 840 bytes, which the small slices that most
 *    need help never have (tests/models/check_season.c shows both);
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
 *  - exposure (error counts: spec->exposure; obs->n the attempts that
 *    produced the errors): errors come from traffic, so twice the attempts
 *    bring about twice the errors at the same failure ratio, and a count
 *    judged against its own history alone pages on every benign surge and
 *    rollout. Alongside the baseline the engine keeps the decayed attempts
 *    of the same buckets, learned and frozen with it: with decayed errors
 *    X, attempts N and exposure B (buckets; the sum of m(t) for the level)
 *    the baseline expects rate = X / B errors and R = N / B attempts per
 *    unit, and X / N errors per attempt. A bucket's expected count is
 *    rate * m(t) * f, f >= 1 the recent traffic against R * m(t): the
 *    attempts of a short window holding about FS_ENGINE_EXPOSURE_ATTEMPTS
 *    expected attempts (each bucket keeps 1 - R m(t) / that of its past,
 *    so it is just the bucket where as many are expected in one), over
 *    its expected attempts, when they exceed them by more than
 *    FS_ENGINE_EXPOSURE_SD Poisson standard deviations (at most
 *    FS_ENGINE_EXPOSURE_MAX), and 1 otherwise. In a surge the expected
 *    count is thus X / N times the window's attempts: the errors per
 *    attempt the slice has had, times the traffic it has now. Poisson noise
 *    in the attempts of a small slice does not raise it, and traffic below
 *    R never lowers it: clients that cannot play stop sending playback
 *    events while their errors still arrive, and a fall in volume is the
 *    volume model's to judge; the floor is the usual count, rate * m(t).
 *    Because X and N learn together, a surge moves both in proportion: it
 *    is learned as more traffic, never as more errors per attempt, and a
 *    later surge or a ramp (a rollout, a morning) is judged by X / N
 *    whatever the first left in the baseline.
 *    (The volume model's baseline would not do as the reference: it learns
 *    on its own schedule, and after one surge it overstated the traffic the
 *    errors had been learned at, so the next surge looked like errors
 *    rising by about a fifth and paged, in the standard suite.) The
 *    baselines clip outliers and measure dispersion around the bucket's
 *    expected count, rate * f: a surge is not an outlier. f is 1 while the
 *    slice warms up (the window starts after it), and always for a caller
 *    that passes no attempts (obs->n = 0), which gets the plain count model
 *    exactly; a bucket without attempts (a gap, an outage) is a bucket of
 *    0 attempts in the window.
 *    The false-alarm budget holds as before. In steady traffic f is 1 but
 *    in the rare bucket where the window passes its 3-sd gate by chance,
 *    and there it raises the expectation. f depends on the attempts only, so
 *    given them each bucket's log-LR is the Poisson log-LR of the errors
 *    under H0 "errors per attempt at the baseline" with a known mean, and
 *    Lorden's bound and the threshold derivation apply unchanged. Where f
 *    falls short of the true traffic factor (the first buckets of a surge
 *    in a small slice, while its window fills) the mildest arm (x2) still
 *    drifts down: with errors (1 + d) times the expected count its mean
 *    log-LR per bucket is mu ((1 + d) ln 2 - 1), negative while
 *    d < 1 / ln 2 - 1 = 0.44. After a surge the floor has learned part of
 *    it, as the plain count model does: the expectation errs high for a
 *    while, never low. A retry storm whose errors outgrow its traffic (x10
 *    errors on x2 attempts: x5 per attempt) is judged by how far the errors
 *    exceed the traffic, and pages.
 *
 * Cold start. A slice that starts with no state (a new slice, or a detector
 * started without a snapshot) learns before it judges: its arms stay at 0
 * until it has learned params->warmup_buckets buckets (and, for the ratio,
 * FS_RATIO_CUSUM_WARM_ATTEMPTS attempts). In 20,800 seeded cold starts of
 * the ratio model on up to four hours of normal traffic none fired, nor did
 * the count models on an hour of 1 to 1000 events per bucket
 * (tests/models/check_coldstart.c). How much history it needs before it
 * detects a x10 failure burst (1% to 10% for 10 minutes) was measured with
 * models_coldstart (tests/models/coldstart.c), with the pipeline's defaults
 * for 1 s buckets: warm-up 5 minutes (300 buckets), half-life 30 minutes
 * (1800), h = 21.2 (a third of one false alarm a day over 10,000 live
 * slices); 200 seeds per cell; bursts detected / median delay in buckets
 * from the burst's start:
 *
 *   attempts    history before the burst, buckets (= seconds)          needs
 *   per bucket  0-120  240      300      600      1800     2700     4 h
 *   1           0%     0%       0%       2%/220   82%/301  94%/293  99%/199  2700 (45 min)
 *   1, parent   0%     0%       2%/563   24%/478  96%/278  99%/257  100%/181 1800 (30 min)
 *   10          0%     48%/335  100%/22  100%/18  100%/15  100%/15  100%/15   300 (5 min)
 *   100         0%     100%/131 100%/2   100%/2   100%/2   100%/2   100%/2    300 (5 min)
 *   1000        0%     100%/99  100%/1   100%/1   100%/1   100%/1   100%/1    300 (5 min)
 *
 * "needs" is the least history from which on at least 90% are detected
 * with a median delay at most twice the warm one (plus two buckets);
 * "parent" has its parent's ratio as obs->prior, as the pipeline passes it
 * to every slice but the root. A burst that begins before the warm-up ends
 * is learned as normal (0% up to 120 s; at 240 s busy slices fire only once
 * warm, late). From 10 attempts per bucket on, the warm-up is all the
 * history needed, and the delay is that of a warm slice, about
 * h / (n * KL(10% || 1%)) = 21.2 / (0.1445 n) buckets: 15 at 10 attempts, the
 * two-bucket minimum of the capped evidence from 100 on. At one attempt
 * per bucket the x10 arm gains only 0.14 a bucket, so it takes 150 buckets
 * or more to fire, and meanwhile the baseline learns the burst (a single
 * failure is within its clip band); until the slice has about 45 minutes
 * of its own history behind it, or 30 with its parent's ratio (1000
 * pseudo-attempts, FS_BASELINE_PRIOR_EVENTS), that dilutes the evidence
 * enough to miss most bursts.
 *
 * The counts judge flat traffic after the warm-up too. Their profile needs
 * a day (every hour of the day learned once; hours in which the plain
 * baseline fired, a second day) plus max(warm-up, half-life) for the level;
 * until then a steep daily cycle can raise a volume drop on the first one
 * or two evenings (an error burst on the first mornings): in the series of
 * tests/models/check_season.c, a night at 30% of the day reached by
 * raised-cosine transitions of two hours does, of two and a half hours
 * does not. Each hour of the week has its own knot from its first week on.
 *
 * Plain data inside caller-owned model state; update never allocates.
 */
#ifndef FS_MODELS_ENGINE_H
#define FS_MODELS_ENGINE_H

#include <stdint.h>

#include "models/baseline.h"
#include "models/cusum.h"
#include "models/model.h"
#include "models/season.h"

/* Most arms in a bank. */
#define FS_ENGINE_BANK_MAX 4

/* Arms in a bank for rises and for falls. */
#define FS_ENGINE_RISE_ARMS 3
#define FS_ENGINE_FALL_ARMS 2

/* Largest rise in the bank: a x10 shift fires within a bucket or two in a
 * busy slice; larger shifts are caught by it at least as fast. */
#define FS_ENGINE_RISE_MAX 10.0

/* Mildest fall in the bank. Without a seasonal baseline (the first day of a
 * slice, or a slice too small for a profile), volume halves naturally
 * between evening and night within a half-life; only a fall to 30% or less
 * is an outage worth paging on. */
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

/* Exposure (error counts, see above): the traffic window holds about this
 * many expected attempts (between it and twice it in Poisson information),
 * so its ratio of attempts to expected attempts wanders by 7 to 10% whatever
 * the slice's size. A slice expecting this many attempts in a bucket judges
 * each bucket by its own traffic, with no lag; a smaller one looks back
 * 100 / (expected attempts per bucket) buckets. At the onset of a surge the
 * lag costs evidence of the order of the errors of 100 attempts times a
 * fraction (a few errors at a 3% error ratio), against a threshold of about
 * 20: the lag is long only where errors are few. */
#define FS_ENGINE_EXPOSURE_ATTEMPTS 100.0

/* Exposure: the traffic window's attempts must exceed its expected attempts
 * by this many Poisson standard deviations before the expected errors are
 * raised (a one-sided chance of 0.13% per bucket in steady traffic). */
#define FS_ENGINE_EXPOSURE_SD 3.0

/* Exposure: largest factor f. Only a guard against a reference that means
 * little (a slice that had almost no attempts while it learned); a real
 * hundredfold rise in traffic within minutes is rather a replay or a bot. */
#define FS_ENGINE_EXPOSURE_MAX 100.0

/* What a model is, for the engine. */
typedef struct fs_engine_spec {
    fs_family_t family;         /* binomial (ratio) or Poisson (counts) */
    int falling;                /* 0: detect rises; 1: detect falls */
    double warm_min_trials;     /* raw trials (attempts) to see before firing */
    double min_window_expected; /* expected events / phi in the window to fire */
    int exposure;               /* Poisson: scale the expected count by the traffic,
                                   obs->n attempts (see exposure above) */
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
    double attempts;          /* exposure: decayed attempts of the buckets base learned */
    double level_attempts;    /* exposure: the same for the seasonal level */
    double traffic_n;         /* exposure: weighted attempts of the traffic window */
    double traffic_e;         /* exposure: weighted expected attempts of the window */
    double traffic_v;         /* exposure: their Poisson variance (squared weights) */
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
 * Poisson family obs->x is the count, and obs->n (the attempts) sets the
 * exposure when spec->exposure is set (above) and is ignored otherwise.
 * Negative or
 * non-finite counts are taken as 0, failures beyond attempts as attempts.
 * A threshold that is not > 0 never fires; a half-life that is not > 0 is
 * taken as 1 bucket. season (borrowed, may be NULL; ignored for the
 * binomial family) is the slice's hour-of-week profile, learned and used as
 * described above; NULL for a plain baseline. Never allocates, never fails.
 */
void fs_engine_update(fs_engine_t *eng, fs_season_t *season, const fs_engine_spec_t *spec,
                      const fs_model_params_t *params, const fs_model_obs_t *obs,
                      fs_model_verdict_t *verdict);

#endif
