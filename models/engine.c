/*
 * engine.c: baseline + CUSUM bank + firing life cycle, shared by all models
 * (see engine.h for the rules).
 */
#include "models/engine.h"

#include <math.h>

#include "models/stats.h"

/* Per-call constants derived from the parameters. */
typedef struct step_ctx {
    const fs_engine_spec_t *spec;
    fs_season_t *season; /* NULL: no seasonal profile */
    double bucket_seconds;
    double season_warm; /* buckets the seasonal level learns before it is used */
    double shifts[FS_ENGINE_BANK_MAX];
    int arms;
    double h;      /* threshold */
    double h_rec;  /* recovery threshold */
    double decay;  /* baseline forgetting per bucket */
    double warmup; /* buckets */
    double prior;  /* obs->prior */
    int64_t bucket_ms;
    double cooldown; /* FS_ENGINE_COOLDOWN_SECONDS in buckets */
} step_ctx_t;

int fs_engine_shifts(const fs_engine_spec_t *spec, const fs_model_params_t *params,
                     double shifts[FS_ENGINE_BANK_MAX])
{
    double k = params->min_rate_ratio;

    if (!(k > 1.0) || !isfinite(k))
        k = 2.0;
    if (spec->falling) {
        double r = fmin(1.0 / k, FS_ENGINE_FALL_MAX);
        shifts[0] = r;
        shifts[1] = r / 3.0;
        return FS_ENGINE_FALL_ARMS;
    }
    if (k >= FS_ENGINE_RISE_MAX) {
        shifts[0] = k;
        return 1;
    }
    for (int i = 0; i < FS_ENGINE_RISE_ARMS; i++)
        shifts[i] = k * pow(FS_ENGINE_RISE_MAX / k, (double)i / (FS_ENGINE_RISE_ARMS - 1));
    return FS_ENGINE_RISE_ARMS;
}

static void moments_clear(fs_engine_moments_t *m)
{
    m->b = 0.0;
    m->k = 0.0;
    m->n = 0.0;
    m->x = 0.0;
    m->xx = 0.0;
    m->nx = 0.0;
    m->nn = 0.0;
}

static void moments_add(fs_engine_moments_t *m, double n, double x)
{
    m->b += 1.0;
    m->k += n > 0.0 ? 1.0 : 0.0;
    m->n += n;
    m->x += x;
    m->xx += x * x;
    m->nx += n * x;
    m->nn += n * n;
}

static void moments_merge(fs_engine_moments_t *m, const fs_engine_moments_t *more)
{
    m->b += more->b;
    m->k += more->k;
    m->n += more->n;
    m->x += more->x;
    m->xx += more->xx;
    m->nx += more->nx;
    m->nn += more->nn;
}

double fs_engine_recovery_threshold(double bucket_seconds)
{
    if (!(bucket_seconds > 0.0) || !isfinite(bucket_seconds))
        bucket_seconds = 1.0;
    return fmax(fs_cusum_threshold_lorden(FS_ENGINE_RECOVERY_ARL_SECONDS / bucket_seconds), 1.0);
}

void fs_engine_init(fs_engine_t *eng)
{
    fs_baseline_init(&eng->base);
    for (int i = 0; i < FS_ENGINE_BANK_MAX; i++)
        fs_cusum_reset(&eng->arm[i]);
    eng->last_ms = 0;
    eng->started = 0;
    eng->firing = 0;
    eng->resolved = 0;
    eng->lead = 0;
    eng->onset_ms = 0;
    eng->rate = 0.0;
    eng->phi = 1.0;
    eng->score = 0.0;
    eng->win_n = 0.0;
    eng->win_x = 0.0;
    eng->win_e = 0.0;
    eng->win_buckets = 0.0;
    fs_cusum_reset(&eng->rec);
    moments_clear(&eng->inc);
    moments_clear(&eng->calm);
    eng->calm_e = 0.0;
    eng->hold = FS_ENGINE_HOLD_BUCKETS;
    eng->calm_ms = 0;
    eng->attempts = 0.0;
    eng->level_attempts = 0.0;
    eng->traffic_n = 0.0;
    eng->traffic_e = 0.0;
    eng->traffic_v = 0.0;
}

/* Log-LR of one arm for one bucket of nn trials (exposure, for counts),
 * before dividing by phi. */
static double arm_llr(const step_ctx_t *ctx, double shift, double nn, double x, double rate)
{
    if (ctx->spec->family == FS_FAMILY_BINOMIAL) {
        /* Cap the alternative halfway between p0 and 1: a ratio cannot
         * exceed 1, and p1 must stay above p0 whatever p0 is. */
        double p1 = fmin(shift * rate, 0.5 * (1.0 + rate));
        if (!(p1 > rate) || nn <= 0.0)
            return 0.0;
        return fs_llr_binomial(x, nn, rate, p1);
    }
    return fs_llr_poisson(x, nn * rate, shift);
}

/* The incident level the recovery CUSUM tests against (its H0): the rate
 * over the firing window without the current calm run, moved by
 * FS_ENGINE_LEVEL_SD standard deviations toward the baseline, and at least
 * as far from it as the geometric midpoint between the baseline and the
 * mildest shift of the bank (closer than that counts as near the baseline,
 * see calm_near). Not the mildest shift itself: an incident that grew
 * slowly was partly learned before it fired, and against the frozen
 * baseline it may sit below the mildest shift; testing against a level it
 * does not have would resolve it while it goes on. */
static double incident_level(const fs_engine_t *eng, const step_ctx_t *ctx)
{
    double rate = eng->rate, mild = sqrt(ctx->shifts[0]) * rate;
    double x = fmax(eng->win_x - eng->calm.x, 0.0), level;

    if (ctx->spec->family == FS_FAMILY_BINOMIAL) {
        double n = eng->win_n - eng->calm.n;
        if (!(n > 0.0))
            return fmin(mild, 0.5 * (1.0 + rate));
        level = (x - FS_ENGINE_LEVEL_SD * sqrt(eng->phi * x)) / n;
        /* As in arm_llr: a ratio stays halfway between p0 and 1 at most. */
        return fmin(fmax(level, mild), 0.5 * (1.0 + rate));
    }
    {
        /* Per unit of exposure (per bucket without a seasonal profile).
         * The window holds the entry bucket, which the calm run never
         * does, so the exposure is at least that bucket's; the guard is
         * for rounding only. */
        double e = eng->win_n - eng->calm.n;
        if (!(e > 0.0))
            return mild;
        if (ctx->spec->falling) {
            /* At least one event's worth of deviation: a window of zeros
             * says the level is small, not that it is exactly 0. */
            level = (x + FS_ENGINE_LEVEL_SD * sqrt(eng->phi * fmax(x, 1.0))) / e;
            return fmin(level, mild);
        }
        level = (x - FS_ENGINE_LEVEL_SD * sqrt(eng->phi * x)) / e;
        return fmax(level, mild);
    }
}

/* The dispersion of the incident, which the recovery evidence is divided
 * by; at least the baseline's phi0. phi0 was measured at the baseline's
 * scale. Where counts wander by a factor (a mean that varies
 * multiplicatively, the usual reason for phi0 > 1 in a busy slice) the
 * variance grows with the square of the mean, phi = 1 + c * mean, and at the
 * incident's level phi0 would overstate the evidence of each bucket: a few
 * low ones would resolve an incident that goes on. So the estimate starts
 * from that extrapolation and moves to the Pearson dispersion of the
 * incident's own buckets (since entry, outside the calm run) as they
 * accumulate, the extrapolation weighing FS_ENGINE_DISP_PRIOR_BUCKETS
 * buckets. Only the part of phi0 - 1 that is significant is extrapolated:
 * where less than an event per bucket is expected, phi0 - 1 is mostly
 * sampling noise (the Pearson term of one bucket has a variance of about
 * 2 + 1/mean), and multiplying it by the level's ratio would slow the
 * recovery of small slices for nothing. */
static double incident_dispersion(const fs_engine_t *eng, const step_ctx_t *ctx, double level,
                                  double nn)
{
    const fs_engine_moments_t *m = &eng->inc;
    double phi0 = eng->phi, ratio = level / eng->rate, guess = phi0, phi;
    double buckets = fmin(eng->base.buckets_seen, 1.0 / (1.0 - ctx->decay));
    double mean0 = nn * eng->rate, w = FS_ENGINE_DISP_PRIOR_BUCKETS;

    /* Events per bucket at the baseline (this bucket's, for counts); for a
     * ratio, attempts per bucket over the slice's life times the ratio. */
    if (ctx->spec->family == FS_FAMILY_BINOMIAL)
        mean0 = eng->base.buckets_seen > 0.0
                    ? eng->base.trials_seen / eng->base.buckets_seen * eng->rate
                    : 0.0;

    if (ratio > 1.0 && mean0 > 0.0 && buckets >= 1.0) {
        double sd = sqrt((2.0 + 1.0 / mean0) / buckets);
        double excess = phi0 - 1.0 - 2.0 * sd;
        if (excess > 0.0)
            guess = fmax(phi0, 1.0 + excess * ratio);
    }
    phi = guess;
    if (m->k >= 2.0 && m->n > 0.0 && m->x > 0.0) {
        int binomial = ctx->spec->family == FS_FAMILY_BINOMIAL;
        double p = m->x / m->n;
        double var = binomial ? p * (1.0 - p) * m->n : p * m->n;
        /* Pearson's sum of (x - n p)^2 over the buckets, from the sums; the
         * fitted p costs one degree of freedom. */
        double pearson = m->xx - 2.0 * p * m->nx + p * p * m->nn;
        if (var > 0.0) {
            double own = fmax(pearson, 0.0) / var * m->k / (m->k - 1.0);
            phi = (w * guess + m->k * own) / (w + m->k);
        }
    }
    return fmin(fmax(phi, phi0), FS_BASELINE_PHI_MAX);
}

/* Log-LR of the baseline against the incident level for one bucket of nn
 * trials (exposure, for counts), divided by the incident's dispersion:
 * positive when the bucket looks like the baseline. */
static double recovery_llr(const fs_engine_t *eng, const step_ctx_t *ctx, double nn, double x)
{
    double level = incident_level(eng, ctx), llr;

    if (ctx->spec->family == FS_FAMILY_BINOMIAL)
        llr = nn > 0.0 ? fs_llr_binomial(x, nn, level, eng->rate) : 0.0;
    else
        llr = fs_llr_poisson(x, nn * level, eng->rate / level);
    return llr / incident_dispersion(eng, ctx, level, nn);
}

/* Whether the calm run sits near the baseline: its excess (rises) or
 * shortfall (falls) against the expected count is within the geometric
 * midpoint between the baseline and the mildest shift, or within
 * FS_ENGINE_NEAR_SD standard deviations plus one event (where fewer than a
 * few events are expected, one event is no evidence of anything). */
static int calm_near(const fs_engine_t *eng, const step_ctx_t *ctx)
{
    double g = sqrt(ctx->shifts[0]);
    double e = eng->calm_e, x = eng->calm.x;
    double noise = FS_ENGINE_NEAR_SD * sqrt(eng->phi * e) + 1.0;

    if (ctx->spec->falling)
        return e - x <= fmax((1.0 - g) * e, noise);
    return x - e <= fmax((g - 1.0) * e, noise);
}

/* One bucket while firing: recovery evidence, calm run, and the decision to
 * resolve (see engine.h). */
static void recover(fs_engine_t *eng, const step_ctx_t *ctx, int64_t bucket_ms, double x, double nn,
                    double expect)
{
    double llr = recovery_llr(eng, ctx, nn, x);

    /* The level is estimated before this bucket joins the window. */
    fs_cusum_step(&eng->rec, fmin(llr, FS_ENGINE_STEP_MAX * ctx->h_rec), ctx->h_rec, bucket_ms, nn,
                  x, expect);
    eng->win_n += nn;
    eng->win_x += x;
    eng->win_e += expect;
    eng->win_buckets += 1.0;

    /* The calm run holds the buckets that look like the baseline; the
     * incident's level and dispersion come from the others. A bucket that
     * sends R back to 0 looks like the incident, and a calm run that is
     * clearly off the baseline is not calm: either way its buckets go to the
     * incident and the run starts again with the next bucket. (An empty
     * ratio bucket tells nothing about dispersion; it only lengthens the
     * run.) */
    moments_add(&eng->calm, nn, x);
    eng->calm_e += expect;
    if (eng->rec.s == 0.0 || !calm_near(eng, ctx)) {
        moments_merge(&eng->inc, &eng->calm);
        moments_clear(&eng->calm);
        eng->calm_e = 0.0;
    }
    eng->score = 1.0 - eng->rec.s / ctx->h_rec;

    if (eng->rec.s >= ctx->h_rec && eng->calm.b >= eng->hold) {
        eng->firing = 0;
        eng->resolved = 1;
        /* The recovery excursion began when the data stopped looking like
         * the incident: the best estimate of when it ended. The calm run
         * may have started later, after a noisy bucket. */
        eng->calm_ms = eng->rec.start_ms;
        eng->score = 0.0;
        fs_cusum_reset(&eng->rec);
        for (int i = 0; i < ctx->arms; i++)
            fs_cusum_reset(&eng->arm[i]);
    }
}

/* The calm buckets a new alert with this onset needs before it resolves:
 * FS_ENGINE_HOLD_BUCKETS, or for a relapse twice the pause before it. */
static double hold_for(const fs_engine_t *eng, const step_ctx_t *ctx, int64_t onset_ms)
{
    double pause;

    if (!eng->resolved)
        return FS_ENGINE_HOLD_BUCKETS;
    pause = (double)(onset_ms - eng->calm_ms) / (double)ctx->bucket_ms;
    if (!(pause >= 0.0) || pause > ctx->cooldown)
        return FS_ENGINE_HOLD_BUCKETS;
    return fmax(fmax(2.0 * pause, eng->hold), FS_ENGINE_HOLD_BUCKETS);
}

/* The arm with the largest statistic. */
static int lead_arm(const fs_engine_t *eng, int arms)
{
    int lead = 0;

    for (int i = 1; i < arms; i++)
        if (eng->arm[i].s > eng->arm[lead].s)
            lead = i;
    return lead;
}

/* Whether the seasonal profile decides the expected count (engine.h): it is
 * ready, its level has learned long enough, and the level (the mean count
 * per bucket with the cycle taken out) comes to FS_SEASON_MIN_HOURLY events
 * an hour. It cannot change while firing: the level is not learned then,
 * and once ready a profile stays ready (while the plain baseline fires, a
 * profile may become ready, but its level starts from nothing). */
static int season_in_use(const fs_season_t *season, const step_ctx_t *ctx)
{
    return season != NULL && season->ready && season->level.buckets_seen >= ctx->season_warm &&
           fs_baseline_rate(&season->level, FS_FAMILY_POISSON, NAN) * 3600.0 /
                   ctx->bucket_seconds >=
               FS_SEASON_MIN_HOURLY;
}

/* The prior per unit of exposure. */
static double prior_per(double prior, double expo)
{
    return isfinite(prior) ? prior / expo : prior;
}

/* Learns a bucket that did not fire: the plain baseline always, and with a
 * profile its hour and, once the profile is ready, the seasonal level
 * (exposure m(t)). With exposure (error counts) each baseline learns the
 * bucket's n attempts beside its errors, and its clipping and dispersion are
 * measured around the bucket's expected count, rate * f (engine.h). */
static void learn(fs_engine_t *eng, const step_ctx_t *ctx, int64_t bucket_ms, double n, double x,
                  int warm, int seasonal, double expo, double f, double plain_rate)
{
    const fs_engine_spec_t *spec = ctx->spec;
    fs_season_t *season = ctx->season;

    fs_baseline_learn(&eng->base, spec->family, ctx->decay,
                      spec->family == FS_FAMILY_BINOMIAL ? n : 1.0, x, plain_rate * f, warm);
    if (spec->exposure)
        eng->attempts = ctx->decay * eng->attempts + n;
    if (season == NULL)
        return;
    fs_season_add(season, x, FS_SEASON_LEARN);
    if (season->ready) {
        double m = seasonal ? expo : fs_season_factor(season, bucket_ms, ctx->bucket_seconds);
        double rate =
            seasonal ? eng->rate
                     : fs_baseline_rate(&season->level, spec->family, prior_per(ctx->prior, m));
        /* Clipped only once the level has a past to judge outliers by, as
         * the plain baseline during its warm-up. */
        fs_baseline_learn(&season->level, spec->family, ctx->decay, m, x, rate * f,
                          warm && season->level.buckets_seen >= ctx->warmup);
        if (spec->exposure)
            eng->level_attempts = ctx->decay * eng->level_attempts + n;
    }
}

/*
 * The exposure factor f >= 1 of a bucket of n attempts, expo its seasonal
 * multiplier (engine.h, exposure); updates the traffic window. The
 * reference is the baseline in use: its decayed attempts per unit of
 * exposure, times expo. f is 1 for the models without exposure, and while
 * the slice warms up (the window is cleared then, so that it starts from a
 * reference that means something) or has no reference yet.
 */
static double exposure(fs_engine_t *eng, const step_ctx_t *ctx, int seasonal, double expo, double n)
{
    const fs_baseline_t *b = seasonal ? &ctx->season->level : &eng->base;
    double attempts = seasonal ? eng->level_attempts : eng->attempts, r, keep;

    if (!ctx->spec->exposure || ctx->spec->family != FS_FAMILY_POISSON)
        return 1.0;
    if (eng->base.buckets_seen < ctx->warmup) {
        eng->traffic_n = 0.0;
        eng->traffic_e = 0.0;
        eng->traffic_v = 0.0;
        return 1.0;
    }
    if (!(b->trials > 0.0) || !(attempts > 0.0))
        return 1.0;
    /* Expected attempts, and an exponentially weighted window of about
     * FS_ENGINE_EXPOSURE_ATTEMPTS of them: weight keep^k on the bucket k
     * buckets back. If the traffic is as expected (Poisson), the window's
     * attempts have the variance sum(weight^2 * r), which the gate tests. */
    r = attempts / b->trials * expo;
    keep = fmax(1.0 - r / FS_ENGINE_EXPOSURE_ATTEMPTS, 0.0);
    eng->traffic_n = keep * eng->traffic_n + n;
    eng->traffic_e = keep * eng->traffic_e + r;
    eng->traffic_v = keep * keep * eng->traffic_v + r;
    if (!(eng->traffic_n - eng->traffic_e > FS_ENGINE_EXPOSURE_SD * sqrt(eng->traffic_v)))
        return 1.0;
    return fmin(eng->traffic_n / eng->traffic_e, FS_ENGINE_EXPOSURE_MAX);
}

/* One bucket: n trials (binomial) or attempts (Poisson, for the exposure),
 * x events. Returns the bucket's expected events. */
static double step(fs_engine_t *eng, const step_ctx_t *ctx, int64_t bucket_ms, double n, double x)
{
    const fs_engine_spec_t *spec = ctx->spec;
    fs_season_t *season = ctx->season;
    double expo = 1.0, f, nn, expect, top = 0.0, plain_rate = eng->rate;
    int warm, lead, seasonal = 0;

    if (season != NULL) {
        fs_season_roll(season, bucket_ms, ctx->bucket_seconds);
        seasonal = season_in_use(season, ctx);
        if (seasonal)
            expo = fs_season_factor(season, bucket_ms, ctx->bucket_seconds);
    }
    f = exposure(eng, ctx, seasonal, expo, n);
    nn = spec->family == FS_FAMILY_BINOMIAL ? n : expo * f;
    if (!eng->firing) {
        plain_rate = fs_baseline_rate(&eng->base, spec->family, ctx->prior);
        if (seasonal) {
            eng->rate = fs_baseline_rate(&season->level, spec->family, prior_per(ctx->prior, expo));
            eng->phi = fs_baseline_dispersion(&season->level);
        } else {
            eng->rate = plain_rate;
            eng->phi = fs_baseline_dispersion(&eng->base);
        }
    }
    expect = nn * eng->rate;
    warm = eng->firing || (eng->base.buckets_seen >= ctx->warmup &&
                           eng->base.trials_seen >= spec->warm_min_trials);

    if (eng->firing) {
        recover(eng, ctx, bucket_ms, x, nn, expect);
        if (season != NULL)
            fs_season_add(season, x, seasonal ? FS_SEASON_FROZEN : FS_SEASON_CANDIDATE);
        return expect;
    }

    for (int i = 0; i < ctx->arms; i++) {
        if (!warm) {
            fs_cusum_reset(&eng->arm[i]);
            continue;
        }
        double llr = arm_llr(ctx, ctx->shifts[i], nn, x, eng->rate) / eng->phi;
        fs_cusum_step(&eng->arm[i], fmin(llr, FS_ENGINE_STEP_MAX * ctx->h), INFINITY, bucket_ms, nn,
                      x, expect);
        top = fmax(top, eng->arm[i].s);
    }
    eng->score = top / ctx->h;

    /* Of the arms at the threshold, the strongest shift decides (the shifts
     * go from mildest to strongest). Its onset is the sharpest: under the
     * baseline it falls back to 0 fastest, so it carries no leftover
     * excursion from earlier noise, while with every bucket's evidence capped
     * a big shift lifts all arms alike. */
    lead = -1;
    for (int i = ctx->arms - 1; i >= 0 && lead < 0 && warm; i--)
        if (eng->arm[i].s >= ctx->h && eng->arm[i].e / eng->phi >= spec->min_window_expected)
            lead = i;
    if (lead >= 0) {
        const fs_cusum_t *c = &eng->arm[lead];
        eng->firing = 1;
        eng->lead = lead;
        eng->onset_ms = c->start_ms;
        eng->win_n = c->n;
        eng->win_x = c->x;
        eng->win_e = c->e;
        eng->win_buckets = c->buckets;
        eng->hold = hold_for(eng, ctx, c->start_ms);
        fs_cusum_reset(&eng->rec);
        moments_clear(&eng->inc);
        moments_clear(&eng->calm);
        eng->calm_e = 0.0;
        /* The entry bucket is evidence of the incident: not learned. From
         * now on the rate and phi stay as they are (and so does the
         * profile), and the arms wait (they restart from 0 on resolving). */
        if (season != NULL)
            fs_season_add(season, x, seasonal ? FS_SEASON_FROZEN : FS_SEASON_CANDIDATE);
        return expect;
    }
    learn(eng, ctx, bucket_ms, n, x, warm, seasonal, expo, f, plain_rate);
    return expect;
}

/* Clean counts: never negative, never NaN, failures never above attempts. */
static double clean(double v)
{
    return isfinite(v) && v > 0.0 ? v : 0.0;
}

void fs_engine_update(fs_engine_t *eng, fs_season_t *season, const fs_engine_spec_t *spec,
                      const fs_model_params_t *params, const fs_model_obs_t *obs,
                      fs_model_verdict_t *verdict)
{
    step_ctx_t ctx;
    int64_t bucket_ms;
    int was_firing = eng->firing;
    double n = clean(obs->n), x = clean(obs->x), halflife = params->baseline_halflife;
    double bucket_seconds = params->bucket_seconds;
    double wn, wx, we, wb, expect;
    int64_t onset;

    if (!(bucket_seconds > 0.0) || !isfinite(bucket_seconds))
        bucket_seconds = 1.0;
    bucket_ms = (int64_t)llround(bucket_seconds * 1000.0);
    if (bucket_ms < 1)
        bucket_ms = 1;
    if (!(halflife > 0.0))
        halflife = 1.0;

    ctx.spec = spec;
    ctx.season = spec->family == FS_FAMILY_POISSON ? season : NULL;
    ctx.bucket_seconds = bucket_seconds;
    ctx.season_warm = fmax(params->warmup_buckets, halflife);
    ctx.arms = fs_engine_shifts(spec, params, ctx.shifts);
    ctx.h = params->threshold > 0.0 ? params->threshold : INFINITY;
    ctx.h_rec = fs_engine_recovery_threshold(bucket_seconds);
    ctx.bucket_ms = bucket_ms;
    ctx.cooldown = FS_ENGINE_COOLDOWN_SECONDS / bucket_seconds;
    ctx.decay = exp2(-1.0 / halflife);
    ctx.warmup = params->warmup_buckets;
    ctx.prior = obs->prior;
    if (spec->family == FS_FAMILY_BINOMIAL && x > n)
        x = n;

    if (eng->started && obs->bucket_start_ms > eng->last_ms) {
        int64_t missing = (obs->bucket_start_ms - eng->last_ms) / bucket_ms - 1;
        if (missing > FS_ENGINE_GAP_MAX)
            missing = FS_ENGINE_GAP_MAX;
        for (int64_t i = 1; i <= missing; i++)
            step(eng, &ctx, eng->last_ms + i * bucket_ms, 0.0, 0.0);
    }
    expect = step(eng, &ctx, obs->bucket_start_ms, n, x);
    eng->last_ms = obs->bucket_start_ms;
    eng->started = 1;

    /* The deciding window: from the onset while firing and on the bucket
     * that resolves (so the resolution carries the whole incident);
     * otherwise the current excursion of the arm closest to firing, or this
     * bucket. */
    if (eng->firing || was_firing) {
        onset = eng->onset_ms;
        wn = eng->win_n;
        wx = eng->win_x;
        we = eng->win_e;
        wb = eng->win_buckets;
    } else {
        const fs_cusum_t *c = &eng->arm[lead_arm(eng, ctx.arms)];
        if (c->s > 0.0) {
            onset = c->start_ms;
            wn = c->n;
            wx = c->x;
            we = c->e;
            wb = c->buckets;
        } else {
            onset = obs->bucket_start_ms;
            wn = spec->family == FS_FAMILY_BINOMIAL ? n : 1.0;
            wx = x;
            we = expect;
            wb = 1.0;
        }
    }
    verdict->firing = eng->firing;
    verdict->onset_ms = onset;
    verdict->score = eng->score;
    verdict->window_x = wx;
    verdict->window_seconds = wb * bucket_seconds;
    if (spec->family == FS_FAMILY_BINOMIAL) {
        verdict->window_n = wn;
        verdict->observed = wn > 0.0 ? wx / wn : eng->rate;
        verdict->expected = wn > 0.0 ? we / wn : eng->rate;
    } else {
        verdict->window_n = wb;
        verdict->observed = wx / wb;
        verdict->expected = we / wb;
    }
}
