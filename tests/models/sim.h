/*
 * sim.h: seeded random draws for the model tests (xorshift64*), and helpers
 * to feed a model. Test code only: models themselves never draw random
 * numbers. Every suite seeds its own generator, so runs are reproducible.
 */
#ifndef FS_TESTS_MODELS_SIM_H
#define FS_TESTS_MODELS_SIM_H

#include <math.h>
#include <stdint.h>

typedef struct sim_rng {
    uint64_t s;
} sim_rng_t;

static inline void sim_seed(sim_rng_t *rng, uint64_t seed)
{
    rng->s = seed ? seed : 0x9e3779b97f4a7c15ull;
}

/* xorshift64* (Vigna 2016): good enough for simulations of this size. */
static inline uint64_t sim_next(sim_rng_t *rng)
{
    rng->s ^= rng->s >> 12;
    rng->s ^= rng->s << 25;
    rng->s ^= rng->s >> 27;
    return rng->s * 0x2545f4914f6cdd1dull;
}

/* Uniform in (0, 1). */
static inline double sim_uniform(sim_rng_t *rng)
{
    return ((double)(sim_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller; one of the pair is dropped for simplicity). */
static inline double sim_normal(sim_rng_t *rng)
{
    double u = sim_uniform(rng), v = sim_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Poisson(mu) by inversion; a rounded normal beyond mu = 500, where
 * exp(-mu) is too small to start from and the normal is close. */
static inline double sim_poisson(sim_rng_t *rng, double mu)
{
    double u, p, c;
    double k = 0.0;

    if (mu <= 0.0)
        return 0.0;
    if (mu > 500.0) {
        double v = floor(mu + sqrt(mu) * sim_normal(rng) + 0.5);
        return v < 0.0 ? 0.0 : v;
    }
    u = sim_uniform(rng);
    p = exp(-mu);
    c = p;
    while (u > c && k < 10.0 * mu + 100.0) {
        k += 1.0;
        p *= mu / k;
        c += p;
    }
    return k;
}

/* Binomial(n, p) by inversion (fine while n*p is at most a few hundred). */
static inline double sim_binomial(sim_rng_t *rng, double n, double p)
{
    double u, pk, c, k = 0.0;

    if (n <= 0.0 || p <= 0.0)
        return 0.0;
    if (p >= 1.0)
        return n;
    u = sim_uniform(rng);
    pk = pow(1.0 - p, n);
    c = pk;
    while (u > c && k < n) {
        pk *= (n - k) / (k + 1.0) * p / (1.0 - p);
        k += 1.0;
        c += pk;
    }
    return k;
}

#endif
