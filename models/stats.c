/*
 * stats.c: log-likelihood ratios, CUSUM thresholds and count tail
 * probabilities (see stats.h).
 *
 * The special functions are written out here rather than taken from libm's
 * lgamma because lgamma writes the global `signgam`, and models keep no
 * global state: a Lanczos log-gamma, and the regularized incomplete gamma and
 * beta functions by series and continued fractions (modified Lentz).
 */
#include "models/stats.h"

#include <math.h>

/* Mean overshoot correction of Siegmund's approximation: 2 * 0.5826, where
 * 0.5826 = -zeta(1/2) / sqrt(2*pi). */
#define SIEGMUND_RHO2 1.166

double fs_llr_binomial(double f, double n, double p0, double p1)
{
    if (n <= 0.0)
        return 0.0;
    return f * log(p1 / p0) + (n - f) * log1p(-p1) - (n - f) * log1p(-p0);
}

double fs_llr_poisson(double x, double mu0, double r)
{
    return x * log(r) - (r - 1.0) * mu0;
}

double fs_kl_binomial(double p, double q)
{
    double kl = 0.0;

    /* 0 * ln(0) is 0: a certain outcome carries no term. */
    if (p > 0.0)
        kl += p * log(p / q);
    if (p < 1.0)
        kl += (1.0 - p) * (log1p(-p) - log1p(-q));
    return kl;
}

double fs_kl_poisson(double a, double b)
{
    if (a == 0.0)
        return b;
    return a * log(a / b) - a + b;
}

double fs_cusum_arl_siegmund(double drift, double sd, double h)
{
    double b, d;

    if (!(sd > 0.0) || !(h >= 0.0))
        return NAN;
    b = h / sd + SIEGMUND_RHO2;
    d = drift / sd;
    /* For tiny |d| the closed form cancels catastrophically; its limit b^2
     * (plus the first-order term) is exact to double precision there. */
    if (fabs(d * b) < 1e-5)
        return b * b * (1.0 - 2.0 * d * b / 3.0);
    return (expm1(-2.0 * d * b) + 2.0 * d * b) / (2.0 * d * d);
}

double fs_cusum_arl0_llr(double h, double delta)
{
    double x;

    if (!(delta > 0.0) || !(h >= 0.0))
        return NAN;
    x = h + SIEGMUND_RHO2 * delta;
    return 2.0 * (expm1(x) - x) / (delta * delta);
}

/* Smallest h >= 0 with arl(h) >= arl0, for an increasing arl(h), by
 * bisection. `arl` is either the fixed-delta or the least-favourable ARL. */
static double solve_h(double arl0, double delta, double (*arl)(double h, double delta))
{
    double lo = 0.0, hi = 1.0;

    if (arl(0.0, delta) >= arl0)
        return 0.0;
    while (arl(hi, delta) < arl0 && hi < 1e3)
        hi *= 2.0;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (arl(mid, delta) < arl0)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

double fs_cusum_threshold_delta(double arl0, double delta)
{
    if (!(arl0 >= 1.0) || !(delta > 0.0))
        return NAN;
    return solve_h(arl0, delta, fs_cusum_arl0_llr);
}

/* min over delta of ARL0(h, delta), by golden-section search on ln(delta).
 * ARL0(h, .) is unimodal in delta: it grows like 1/delta^2 as delta -> 0 and
 * like exp(1.166 delta) as delta -> infinity. The second argument is unused;
 * it lets solve_h treat both ARL functions alike. */
static double least_arl0(double h, double unused)
{
    const double g = 0.6180339887498949;
    double a = log(1e-3), b = log(1e2);
    double c = b - g * (b - a), d = a + g * (b - a);
    double fc = fs_cusum_arl0_llr(h, exp(c)), fd = fs_cusum_arl0_llr(h, exp(d));

    (void)unused;
    for (int i = 0; i < 100; i++) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = fs_cusum_arl0_llr(h, exp(c));
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = fs_cusum_arl0_llr(h, exp(d));
        }
    }
    return fc < fd ? fc : fd;
}

double fs_cusum_threshold(double arl0)
{
    if (!(arl0 >= 1.0))
        return NAN;
    return solve_h(arl0, 0.0, least_arl0);
}

double fs_cusum_threshold_lorden(double arl0)
{
    if (!(arl0 >= 1.0))
        return NAN;
    return log(arl0);
}

double fs_budget_arl0(double alarms_per_day, double tests, double bucket_seconds)
{
    if (!(alarms_per_day > 0.0) || !(tests > 0.0) || !(bucket_seconds > 0.0))
        return NAN;
    return tests * (86400.0 / bucket_seconds) / alarms_per_day;
}

/* ln Gamma(x) for x > 0: Lanczos approximation (g = 7, 9 terms), relative
 * error below 1e-15; reflection below 0.5. */
static double log_gamma(double x)
{
    static const double c[9] = {0.99999999999980993,  676.5203681218851,     -1259.1392167224028,
                                771.32342877765313,   -176.61502916214059,   12.507343278686905,
                                -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
    const double pi = 3.14159265358979323846;
    double a, t;

    if (x < 0.5)
        return log(pi / fabs(sin(pi * x))) - log_gamma(1.0 - x);
    x -= 1.0;
    a = c[0];
    for (int i = 1; i < 9; i++)
        a += c[i] / (x + i);
    t = x + 7.5;
    return 0.5 * log(2.0 * pi) + (x + 0.5) * log(t) - t + log(a);
}

#define CF_EPS  1e-16
#define CF_TINY 1e-300
#define CF_ITER 10000

/* Regularized lower incomplete gamma P(a, x) by its power series; converges
 * fast for x < a + 1. */
static double gamma_p_series(double a, double x)
{
    double ap = a, del = 1.0 / a, sum = del;

    for (int i = 0; i < CF_ITER; i++) {
        ap += 1.0;
        del *= x / ap;
        sum += del;
        if (fabs(del) < fabs(sum) * CF_EPS)
            break;
    }
    return sum * exp(-x + a * log(x) - log_gamma(a));
}

/* Regularized upper incomplete gamma Q(a, x) by its continued fraction
 * (modified Lentz); converges fast for x >= a + 1. */
static double gamma_q_cf(double a, double x)
{
    double b = x + 1.0 - a, c = 1.0 / CF_TINY, d = 1.0 / b, h = d;

    for (int i = 1; i < CF_ITER; i++) {
        double an = -i * (i - a), del;
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < CF_TINY)
            d = CF_TINY;
        c = b + an / c;
        if (fabs(c) < CF_TINY)
            c = CF_TINY;
        d = 1.0 / d;
        del = d * c;
        h *= del;
        if (fabs(del - 1.0) < CF_EPS)
            break;
    }
    return exp(-x + a * log(x) - log_gamma(a)) * h;
}

double fs_poisson_sf(double k, double mu)
{
    double a;

    if (!(mu >= 0.0) || isnan(k))
        return NAN;
    a = ceil(k);
    if (a <= 0.0)
        return 1.0;
    if (mu == 0.0)
        return 0.0;
    /* P(X >= a) for X ~ Poisson(mu) equals P(a, mu), the regularized lower
     * incomplete gamma function. */
    if (mu < a + 1.0)
        return gamma_p_series(a, mu);
    return 1.0 - gamma_q_cf(a, mu);
}

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap, h;

    if (fabs(d) < CF_TINY)
        d = CF_TINY;
    d = 1.0 / d;
    h = d;
    for (int m = 1; m < CF_ITER; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2)), del;
        d = 1.0 + aa * d;
        if (fabs(d) < CF_TINY)
            d = CF_TINY;
        c = 1.0 + aa / c;
        if (fabs(c) < CF_TINY)
            c = CF_TINY;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < CF_TINY)
            d = CF_TINY;
        c = 1.0 + aa / c;
        if (fabs(c) < CF_TINY)
            c = CF_TINY;
        d = 1.0 / d;
        del = d * c;
        h *= del;
        if (fabs(del - 1.0) < CF_EPS)
            break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b) for 0 < x < 1. */
static double beta_i(double a, double b, double x)
{
    double front = exp(log_gamma(a + b) - log_gamma(a) - log_gamma(b) + a * log(x) + b * log1p(-x));

    /* The continued fraction converges fast on the near side of the mean;
     * use the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) on the far side. */
    if (x < (a + 1.0) / (a + b + 2.0))
        return front * beta_cf(a, b, x) / a;
    return 1.0 - front * beta_cf(b, a, 1.0 - x) / b;
}

double fs_binomial_sf(double k, double n, double p)
{
    double kk, nn;

    if (!(p >= 0.0 && p <= 1.0) || !(n >= 0.0) || isnan(k))
        return NAN;
    kk = ceil(k);
    nn = floor(n + 0.5);
    if (kk <= 0.0)
        return 1.0;
    if (kk > nn)
        return 0.0;
    if (p == 0.0)
        return 0.0;
    if (p == 1.0)
        return 1.0;
    /* P(X >= k) for X ~ Binomial(n, p) equals I_p(k, n - k + 1). */
    return beta_i(kk, nn - kk + 1.0, p);
}
