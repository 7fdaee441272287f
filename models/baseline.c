/*
 * baseline.c: decayed, clipped rate estimate with over-dispersion (see
 * baseline.h).
 */
#include "models/baseline.h"

#include <math.h>

void fs_baseline_init(fs_baseline_t *b)
{
    b->events = 0.0;
    b->trials = 0.0;
    b->disp_sum = 0.0;
    b->disp_weight = 0.0;
    b->trials_seen = 0.0;
    b->buckets_seen = 0.0;
}

double fs_baseline_rate(const fs_baseline_t *b, fs_family_t family, double prior)
{
    double w = 0.0, wq = 0.0, rate;

    if (isfinite(prior) && prior >= 0.0) {
        double q = prior;
        if (family == FS_FAMILY_BINOMIAL && q > 1.0)
            q = 1.0;
        w = FS_BASELINE_PRIOR_EVENTS / fmax(q, FS_BASELINE_PRIOR_FLOOR);
        wq = w * q;
    }
    if (family == FS_FAMILY_BINOMIAL) {
        rate = (b->events + wq + 0.5) / (b->trials + w + 1.0);
        /* The clip of learned events to [0, n] keeps the rate below 1; this
         * only guards the logarithms against rounding. */
        return fmin(rate, 1.0 - 1e-12);
    }
    return (b->events + wq + 0.5) / fmax(b->trials + w, 1.0);
}

double fs_baseline_dispersion(const fs_baseline_t *b)
{
    double phi;

    if (!(b->disp_weight > 1e-9))
        return 1.0;
    phi = b->disp_sum / b->disp_weight;
    return fmin(fmax(phi, 1.0), FS_BASELINE_PHI_MAX);
}

void fs_baseline_learn(fs_baseline_t *b, fs_family_t family, double decay, double n, double x,
                       double rate, int robust)
{
    double phi = fs_baseline_dispersion(b);
    double expect, var;

    if (!(n > 0.0))
        n = 0.0;
    /* For the Poisson family n is the bucket's exposure (1, or the seasonal
     * multiplier): the count is Poisson with mean n * rate. */
    var = family == FS_FAMILY_POISSON ? n * rate : n * rate * (1.0 - rate);
    expect = n * rate;

    /* The deviation is taken before the bucket is learned (a prediction
     * error), so its variance includes the error of the estimate itself:
     * about rate/N per trial for N past trials, hence the 1 + n/N factor.
     * Without it the first buckets would overstate phi. A baseline with no
     * past yet predicts nothing and gives no residual. */
    if (b->trials > 0.0 && var > 0.0) {
        double d = x - expect;
        double cap = FS_BASELINE_DISP_CLIP * phi * fmax(var, 1.0);
        b->disp_sum = decay * b->disp_sum + fmin(d * d, cap);
        b->disp_weight = decay * b->disp_weight + var * (1.0 + n / b->trials);
    } else {
        b->disp_sum *= decay;
        b->disp_weight *= decay;
    }

    if (robust && var > 0.0) {
        /* The +-1 keeps a whole event learnable where the band is narrower
         * than one event (few trials, small rate). */
        double band = FS_BASELINE_CLIP_SD * sqrt(phi * var) + 1.0;
        x = fmin(fmax(x, expect - band), expect + band);
    }
    if (x < 0.0 || n == 0.0)
        x = 0.0;
    if (family == FS_FAMILY_BINOMIAL && x > n)
        x = n;

    b->events = decay * b->events + x;
    b->trials = decay * b->trials + n;
    b->trials_seen += n;
    b->buckets_seen += 1.0;
}
