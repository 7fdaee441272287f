/*
 * stats.h: the statistics every model builds on.
 *
 * Log-likelihood-ratio increments for binomial and Poisson counts (what a
 * CUSUM adds per bucket), Kullback-Leibler divergences (how much evidence a
 * shift yields per bucket, hence the expected detection delay), CUSUM
 * thresholds for a target in-control average run length (ARL0), the
 * conversion of a false-alarm budget into a per-test ARL0, and upper tail
 * probabilities of the binomial and Poisson distributions.
 *
 * Everything here is a pure function of its arguments: no state, no
 * allocation, no I/O; safe from any thread. Arguments outside a function's
 * domain give NAN unless documented otherwise.
 */
#ifndef FS_MODELS_STATS_H
#define FS_MODELS_STATS_H

/*
 * Binomial log-likelihood ratio of ratio p1 against p0 for f failures out of
 * n attempts: f*ln(p1/p0) + (n-f)*ln((1-p1)/(1-p0)).
 * Requires 0 < p0 < 1 and 0 < p1 < 1; n = 0 gives 0 (no information).
 */
double fs_llr_binomial(double f, double n, double p0, double p1);

/*
 * Poisson log-likelihood ratio of mean r*mu0 against mu0 for a count x:
 * x*ln(r) - (r-1)*mu0. Requires mu0 >= 0 and r > 0.
 */
double fs_llr_poisson(double x, double mu0, double r);

/*
 * Kullback-Leibler divergence KL(Bernoulli(p) || Bernoulli(q)) per trial, in
 * nats. The expected binomial log-LR of p1 against p0 per attempt is
 * fs_kl_binomial(p1, p0) when the true ratio is p1 and -fs_kl_binomial(p0, p1)
 * when it is p0. Requires 0 <= p <= 1 and 0 < q < 1.
 */
double fs_kl_binomial(double p, double q);

/*
 * KL(Poisson(a) || Poisson(b)) = a*ln(a/b) - a + b, in nats; a >= 0, b > 0.
 */
double fs_kl_poisson(double a, double b);

/*
 * Siegmund's approximation of the average run length of the CUSUM
 * S = max(0, S + X), alarm at S >= h, for i.i.d. increments X with mean
 * `drift` and standard deviation `sd` (D. Siegmund, "Sequential Analysis:
 * Tests and Confidence Intervals", Springer 1985; the form used in
 * Basseville & Nikiforov, "Detection of Abrupt Changes", 1993):
 *
 *     b   = h/sd + 1.166            (1.166 = 2*0.583: mean overshoot of a
 *     D   = drift/sd                 Gaussian random walk over its boundary)
 *     ARL = (exp(-2*D*b) + 2*D*b - 1) / (2*D^2)      (D != 0)
 *     ARL = b^2                                      (D == 0)
 *
 * Assumptions: the increments are i.i.d. and Gaussian; the overshoot
 * correction is exact in the limit of small increments. It is accurate to a
 * few percent for Gaussian increments. Do not use it for the log-LR of
 * counts: those are skewed, and its exponent -2*drift/sd^2 then differs from
 * the exact 1 (E[exp(llr)] = 1 under the null for any exact log-LR), which
 * mispredicts the ARL by orders of magnitude; use fs_cusum_arl0_llr.
 * Requires sd > 0 and h >= 0.
 */
double fs_cusum_arl_siegmund(double drift, double sd, double h);

/*
 * In-control ARL of a CUSUM on the log-likelihood ratio of a Gaussian mean
 * shift of delta standard deviations per step: under the null the increment is
 * N(-delta^2/2, delta^2), so with x = h + 1.166*delta Siegmund's formula gives
 *
 *     ARL0(h, delta) = 2 * (exp(x) - x - 1) / delta^2.
 *
 * delta measures the information per step: it is large for a busy slice
 * and a big shift, small for a tiny slice. For the binomial and Poisson
 * log-LR of a bucket, take delta = its standard deviation under the null: the
 * result is then within about 20% of simulation when delta >= 0.8, and
 * overstates the ARL of sparse slices (single events are large jumps).
 * Requires delta > 0.
 */
double fs_cusum_arl0_llr(double h, double delta);

/*
 * The threshold h with fs_cusum_arl0_llr(h, delta) == arl0 (arl0 >= 1 step).
 */
double fs_cusum_threshold_delta(double arl0, double delta);

/*
 * The CUSUM threshold h (log-LR units) for a target in-control ARL of arl0
 * steps, valid whatever the information per step: the smallest h such that
 * ARL0(h, delta) >= arl0 for every delta > 0, i.e. Siegmund's approximation
 * (fs_cusum_arl0_llr) at its least favourable delta. ARL0(h, .) is smallest
 * near delta = 1.7, where it is about 5*e^h, so h is close to ln(arl0/5).
 *
 * Assumptions: those of Siegmund's approximation (i.i.d., near-Gaussian
 * log-LR increments, in-control parameters known); over-dispersion must be
 * divided out of the increments (quasi-likelihood) for it to hold. For the
 * discrete log-LR of binomial buckets, simulation gives an ARL0 of about
 * 0.9 * arl0 near the least favourable information (delta 1.2 to 1.5) and
 * far more than arl0 for busy slices (delta > 3) and sparse ones. Compare
 * fs_cusum_threshold_lorden, which needs no distributional assumption.
 * Returns NAN for arl0 < 1.
 */
double fs_cusum_threshold(double arl0);

/*
 * Lorden's distribution-free bound: a CUSUM on an exact log-likelihood ratio
 * has ARL0 >= e^h, so h = ln(arl0) is always sufficient (and about ln 5 = 1.6
 * more than needed for near-Gaussian increments). Returns NAN for arl0 < 1.
 */
double fs_cusum_threshold_lorden(double arl0);

/*
 * Per-test ARL0, in buckets, that keeps the expected number of false alarms
 * at or below `alarms_per_day` across `tests` one-sided tests running side by
 * side (slices x signals x shift sizes per model), with buckets of
 * `bucket_seconds`: by the union bound the alarm rate is at most
 * tests / ARL0 per bucket, so ARL0 = tests * (86400 / bucket_seconds) /
 * alarms_per_day. All arguments must be > 0.
 */
double fs_budget_arl0(double alarms_per_day, double tests, double bucket_seconds);

/*
 * Upper tail P(X >= k) of a Poisson(mu) variable; k is rounded up to an
 * integer, k <= 0 gives 1. Relative accuracy about 1e-12 in the tail.
 */
double fs_poisson_sf(double k, double mu);

/*
 * Upper tail P(X >= k) of a Binomial(n, p) variable; n is rounded to an
 * integer and k up to one; k <= 0 gives 1, k > n gives 0.
 */
double fs_binomial_sf(double k, double n, double p);

#endif
