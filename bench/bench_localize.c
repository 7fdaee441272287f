/*
 * bench_localize.c: the cost of one localization (fs_localize) at 100, 1,000
 * and 5,000 live slices, with many of them firing.
 *
 * Builds a synthetic set of live slices like the daemon's (all traffic;
 * country, platform, app_version and cdn; the pairs country x platform,
 * country x cdn and platform x app_version), with Zipf-like shares of values
 * and the number of countries chosen to reach the slice count. Each slice
 * gets its recent traffic, expected failures (1%) and excess failures from
 * an incident pattern on country x platform cells (x10 failures) plus
 * deterministic noise; slices with at least the paging minimum of excess
 * fire, slices with half of it go along as pending, as in the pipeline.
 * Patterns: one pair; one platform everywhere; 10% of the pairs at random
 * (many separate incidents: the most named slices); every pair (everything
 * fires). Prints the candidates, the slices named and the mean milliseconds
 * per call. No timing is asserted: this is a program to read, not a test.
 *
 * Usage: foreshock-bench-localize [SECONDS_PER_POINT]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector/hash.h"
#include "detector/localize.h"

#define MIN_EXCESS 20.0
#define SHARE      0.8
#define RATIO      0.01
#define TRAFFIC    2e6 /* attempts in the decayed recent window: ~50,000/s */

/* Values of the other dimensions, with Zipf-like shares like the countries. */
#define N_PLATFORMS 3
#define N_VERSIONS  4
#define N_CDNS      3
static double platform_share[N_PLATFORMS], version_share[N_VERSIONS], cdn_share[N_CDNS];

typedef struct slice {
    char key[64];
    int country, platform, version, cdn; /* -1: any */
    double traffic, expected, excess;
} slice_t;

typedef struct universe {
    slice_t *slices;
    size_t n;
    int n_countries;
    double *country_share;
    uint32_t *table; /* key hash table: index + 1 */
    size_t mask;
} universe_t;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: deterministic, so every run times the same sets. */
static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void add(universe_t *u, int country, int platform, int version, int cdn)
{
    slice_t *s = &u->slices[u->n++];
    s->country = country;
    s->platform = platform;
    s->version = version;
    s->cdn = cdn;
    /* Canonical order: country, platform, app_version, cdn. */
    int len = 0;
    s->key[0] = '\0';
    if (country >= 0)
        len += snprintf(s->key + len, sizeof s->key - (size_t)len, "country=C%d", country);
    if (platform >= 0)
        len += snprintf(s->key + len, sizeof s->key - (size_t)len, "%splatform=P%d", len ? "," : "",
                        platform);
    if (version >= 0)
        len += snprintf(s->key + len, sizeof s->key - (size_t)len, "%sapp_version=V%d",
                        len ? "," : "", version);
    if (cdn >= 0)
        snprintf(s->key + len, sizeof s->key - (size_t)len, "%scdn=D%d", len ? "," : "", cdn);
}

/* Shares 1/(i+1)^1.1, normalized: a few large values, a long tail. */
static void zipf(double *share, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += share[i] = 1.0 / pow(i + 1, 1.1);
    for (int i = 0; i < n; i++)
        share[i] /= total;
}

/* All slices for n_countries countries: 23 + 7 per country. */
static void build(universe_t *u, int n_countries)
{
    u->n_countries = n_countries;
    u->n = 0;
    u->slices = calloc((size_t)(23 + 7 * n_countries), sizeof *u->slices);
    u->country_share = calloc((size_t)n_countries, sizeof *u->country_share);
    if (!u->slices || !u->country_share) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    zipf(u->country_share, n_countries);
    zipf(platform_share, N_PLATFORMS);
    zipf(version_share, N_VERSIONS);
    zipf(cdn_share, N_CDNS);
    add(u, -1, -1, -1, -1);
    for (int c = 0; c < n_countries; c++)
        add(u, c, -1, -1, -1);
    for (int p = 0; p < N_PLATFORMS; p++)
        add(u, -1, p, -1, -1);
    for (int v = 0; v < N_VERSIONS; v++)
        add(u, -1, -1, v, -1);
    for (int d = 0; d < N_CDNS; d++)
        add(u, -1, -1, -1, d);
    for (int c = 0; c < n_countries; c++)
        for (int p = 0; p < N_PLATFORMS; p++)
            add(u, c, p, -1, -1);
    for (int c = 0; c < n_countries; c++)
        for (int d = 0; d < N_CDNS; d++)
            add(u, c, -1, -1, d);
    for (int p = 0; p < N_PLATFORMS; p++)
        for (int v = 0; v < N_VERSIONS; v++)
            add(u, -1, p, v, -1);
    size_t slots = 4;
    while (slots < 2 * u->n)
        slots *= 2;
    u->mask = slots - 1;
    u->table = calloc(slots, sizeof *u->table);
    if (!u->table) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    for (size_t i = 0; i < u->n; i++) {
        const char *k = u->slices[i].key;
        size_t h = (size_t)fs_hash_bytes(k, strlen(k)) & u->mask;
        while (u->table[h])
            h = (h + 1) & u->mask;
        u->table[h] = (uint32_t)i + 1;
    }
}

static double traffic_of(void *opaque, const char *key, size_t len)
{
    const universe_t *u = opaque;
    for (size_t h = (size_t)fs_hash_bytes(key, len) & u->mask; u->table[h]; h = (h + 1) & u->mask) {
        const slice_t *s = &u->slices[u->table[h] - 1];
        if (strlen(s->key) == len && memcmp(s->key, key, len) == 0)
            return s->traffic;
    }
    return 0;
}

/* The incident patterns, on country x platform cells. */
enum { PAIR, PLATFORM, SCATTERED, STORM, N_PATTERNS };
static const char *const pattern_names[] = {"one pair", "one platform", "10% of pairs",
                                            "everything"};

static int hit(int pattern, int country, int platform, const unsigned char *scattered)
{
    switch (pattern) {
    case PAIR:
        return country == 1 && platform == 0;
    case PLATFORM:
        return platform == 0;
    case SCATTERED:
        return scattered[country * N_PLATFORMS + platform];
    default:
        return 1;
    }
}

/* Sets every slice's traffic, expected and excess failures for a pattern. */
static void apply(universe_t *u, int pattern)
{
    unsigned char *scattered = calloc((size_t)u->n_countries * N_PLATFORMS, 1);
    if (!scattered) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    for (int i = 0; i < u->n_countries * N_PLATFORMS; i++)
        scattered[i] = uniform() < 0.1;
    for (size_t i = 0; i < u->n; i++) {
        slice_t *s = &u->slices[i];
        double other = (s->version >= 0 ? version_share[s->version] : 1) *
                       (s->cdn >= 0 ? cdn_share[s->cdn] : 1);
        double all = 0, bad = 0;
        for (int c = 0; c < u->n_countries; c++) {
            if (s->country >= 0 && c != s->country)
                continue;
            for (int p = 0; p < N_PLATFORMS; p++) {
                if (s->platform >= 0 && p != s->platform)
                    continue;
                double cell = u->country_share[c] * platform_share[p];
                all += cell;
                if (hit(pattern, c, p, scattered))
                    bad += cell;
            }
        }
        s->traffic = TRAFFIC * all * other;
        s->expected = RATIO * s->traffic;
        /* x10 failures in the cells hit, and noise of one standard
         * deviation at most. */
        s->excess = 9 * RATIO * TRAFFIC * bad * other +
                    (2 * uniform() - 1) * sqrt(s->expected > 1 ? s->expected : 1);
    }
    free(scattered);
}

static void run(universe_t *u, int pattern, double seconds)
{
    apply(u, pattern);
    fs_loc_candidate_t *c = calloc(u->n, sizeof *c);
    fs_localizer_t *loc = fs_localizer_new(u->n, MIN_EXCESS);
    if (!c || !loc) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    size_t n = 0, firing = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < u->n; i++) {
            const slice_t *s = &u->slices[i];
            int fires = s->excess >= MIN_EXCESS && s->excess >= 3 * sqrt(s->expected);
            if (pass == 0 ? !fires : fires || s->excess < MIN_EXCESS / 2)
                continue;
            c[n] = (fs_loc_candidate_t){s->key, s->excess, s->traffic, 0, 0, s->expected,
                                        !fires, 0,         0,          0, 0};
            firing += fires;
            n++;
        }
    size_t calls = 0;
    double start = now_seconds(), elapsed;
    do {
        fs_localize(loc, c, n, SHARE, traffic_of, u);
        calls++;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    size_t named = 0, held = 0;
    for (size_t i = 0; i < n; i++) {
        named += c[i].report != 0;
        held += c[i].held == 1;
    }
    printf("%8zu  %-13s %8zu %8zu %6zu %5zu %10.3f\n", u->n, pattern_names[pattern], firing,
           n - firing, named, held, 1000 * elapsed / (double)calls);
    fs_localizer_free(loc);
    free(c);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    if (!(seconds > 0)) {
        fputs("usage: foreshock-bench-localize [SECONDS_PER_POINT]\n", stderr);
        return 2;
    }
    static const int countries[] = {11, 140, 711}; /* 100, 1,003 and 5,000 slices */
    printf("%8s  %-13s %8s %8s %6s %5s %10s\n", "slices", "incident", "firing", "pending", "named",
           "held", "ms/call");
    for (size_t k = 0; k < sizeof countries / sizeof countries[0]; k++) {
        universe_t u = {0};
        build(&u, countries[k]);
        for (int pattern = 0; pattern < N_PATTERNS; pattern++)
            run(&u, pattern, seconds);
        free(u.slices);
        free(u.country_share);
        free(u.table);
    }
    return 0;
}
