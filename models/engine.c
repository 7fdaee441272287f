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
    double shifts[FS_ENGINE_BANK_MAX];
    int arms;
    double h;       /* threshold */
    double decay;   /* baseline forgetting per bucket */
    double decay_r; /* recent-window forgetting per bucket */
    double warmup;  /* buckets */
    double prior;   /* obs->prior */
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

void fs_engine_init(fs_engine_t *eng)
{
    fs_baseline_init(&eng->base);
    for (int i = 0; i < FS_ENGINE_BANK_MAX; i++)
        fs_cusum_reset(&eng->arm[i]);
    eng->last_ms = 0;
    eng->started = 0;
    eng->firing = 0;
    eng->drained = 0;
    eng->lead = 0;
    eng->onset_ms = 0;
    eng->rate = 0.0;
    eng->phi = 1.0;
    eng->score = 0.0;
    eng->win_n = 0.0;
    eng->win_x = 0.0;
    eng->win_e = 0.0;
    eng->win_buckets = 0.0;
    eng->recent_x = 0.0;
    eng->recent_e = 0.0;
    eng->quiet = 0.0;
}

/* Log-LR of one arm for one bucket, before dividing by phi. */
static double arm_llr(const step_ctx_t *ctx, double shift, double n, double x, double rate)
{
    if (ctx->spec->family == FS_FAMILY_BINOMIAL) {
        /* Cap the alternative halfway between p0 and 1: a ratio cannot
         * exceed 1, and p1 must stay above p0 whatever p0 is. */
        double p1 = fmin(shift * rate, 0.5 * (1.0 + rate));
        if (!(p1 > rate) || n <= 0.0)
            return 0.0;
        return fs_llr_binomial(x, n, rate, p1);
    }
    return fs_llr_poisson(x, rate, shift);
}

/* Whether the recent window sits near the baseline (the exit condition's
 * second half): its excess (rises) or shortfall (falls) against the expected
 * count is within the geometric midpoint between the baseline and the
 * mildest shift, or not significant at 2 standard deviations. */
static int recent_near(const fs_engine_t *eng, const step_ctx_t *ctx)
{
    double g = sqrt(ctx->shifts[0]);
    double e = eng->recent_e, x = eng->recent_x;
    double noise = 2.0 * sqrt(eng->phi * e);

    if (ctx->spec->falling)
        return e - x <= fmax((1.0 - g) * e, noise);
    return x - e <= fmax((g - 1.0) * e, noise);
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

/* One bucket: n trials (binomial), x events. */
static void step(fs_engine_t *eng, const step_ctx_t *ctx, int64_t bucket_ms, double n, double x)
{
    const fs_engine_spec_t *spec = ctx->spec;
    double nn = spec->family == FS_FAMILY_BINOMIAL ? n : 1.0;
    double expect, top = 0.0;
    int warm, lead;

    if (!eng->firing) {
        eng->rate = fs_baseline_rate(&eng->base, spec->family, ctx->prior);
        eng->phi = fs_baseline_dispersion(&eng->base);
    }
    expect = nn * eng->rate;
    warm = eng->firing || (eng->base.buckets_seen >= ctx->warmup &&
                           eng->base.trials_seen >= spec->warm_min_trials);

    for (int i = 0; i < ctx->arms; i++) {
        if (!warm) {
            fs_cusum_reset(&eng->arm[i]);
            continue;
        }
        /* While firing, hold each statistic at the threshold: what matters
         * then is how soon the evidence reverses, not how much piled up. */
        double llr = arm_llr(ctx, ctx->shifts[i], n, x, eng->rate) / eng->phi;
        fs_cusum_step(&eng->arm[i], fmin(llr, FS_ENGINE_STEP_MAX * ctx->h),
                      eng->firing ? ctx->h : INFINITY, bucket_ms, nn, x, expect);
        top = fmax(top, eng->arm[i].s);
    }
    eng->score = top / ctx->h;

    eng->recent_x = ctx->decay_r * eng->recent_x + x;
    eng->recent_e = ctx->decay_r * eng->recent_e + expect;

    if (eng->firing) {
        eng->win_n += nn;
        eng->win_x += x;
        eng->win_e += expect;
        eng->win_buckets += 1.0;
        if (top == 0.0)
            eng->drained = 1;
        if (top >= FS_ENGINE_EXIT_LEVEL * ctx->h)
            eng->drained = 0;
        if (eng->drained && recent_near(eng, ctx))
            eng->quiet += 1.0;
        else
            eng->quiet = 0.0;
        if (eng->quiet >= FS_ENGINE_HOLD_BUCKETS) {
            eng->firing = 0;
            eng->drained = 0;
            eng->quiet = 0.0;
            for (int i = 0; i < ctx->arms; i++)
                fs_cusum_reset(&eng->arm[i]);
        }
        return;
    }

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
        eng->drained = 0;
        eng->lead = lead;
        eng->onset_ms = c->start_ms;
        eng->win_n = c->n;
        eng->win_x = c->x;
        eng->win_e = c->e;
        eng->win_buckets = c->buckets;
        eng->quiet = 0.0;
        /* The entry bucket is evidence of the incident: not learned. From
         * now on the rate and phi stay as they are. */
        for (int i = 0; i < ctx->arms; i++)
            if (eng->arm[i].s > ctx->h)
                eng->arm[i].s = ctx->h;
        return;
    }
    fs_baseline_learn(&eng->base, spec->family, ctx->decay, n, x, eng->rate, warm);
}

/* Clean counts: never negative, never NaN, failures never above attempts. */
static double clean(double v)
{
    return isfinite(v) && v > 0.0 ? v : 0.0;
}

void fs_engine_update(fs_engine_t *eng, const fs_engine_spec_t *spec,
                      const fs_model_params_t *params, const fs_model_obs_t *obs,
                      fs_model_verdict_t *verdict)
{
    step_ctx_t ctx;
    int64_t bucket_ms;
    int was_firing = eng->firing;
    double n = clean(obs->n), x = clean(obs->x), halflife = params->baseline_halflife;
    double bucket_seconds = params->bucket_seconds;
    double wn, wx, we, wb;
    int64_t onset;

    if (!(bucket_seconds > 0.0) || !isfinite(bucket_seconds))
        bucket_seconds = 1.0;
    bucket_ms = (int64_t)llround(bucket_seconds * 1000.0);
    if (bucket_ms < 1)
        bucket_ms = 1;
    if (!(halflife > 0.0))
        halflife = 1.0;

    ctx.spec = spec;
    ctx.arms = fs_engine_shifts(spec, params, ctx.shifts);
    ctx.h = params->threshold > 0.0 ? params->threshold : INFINITY;
    ctx.decay = exp2(-1.0 / halflife);
    ctx.decay_r = exp2(-1.0 / FS_ENGINE_RECENT_HALFLIFE);
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
    step(eng, &ctx, obs->bucket_start_ms, n, x);
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
            we = wn * eng->rate;
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
