/*
 * coldstart.c: measures how much history a failure-ratio model needs from a
 * cold start before it detects a x10 burst, for slices of 1, 10, 100 and
 * 1000 attempts per 1 s bucket (the experiment of coldstart.h), and prints
 * the table kept in models/engine.h. A program, not a test:
 * check_coldstart.c asserts the bounds.
 *
 *     models_coldstart [seeds per cell, default 200]
 *
 * Each cell: the share of seeds that fire during the burst, and the median
 * delay of those that do (buckets from the burst's start). "needs" is the
 * least history of the grid from which on every cell detects at least 90%
 * of the bursts with a median delay at most twice the fully warm one plus
 * two buckets. Runs that fire on normal traffic are counted too (there
 * should be none).
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests/models/coldstart.h"

static const double sizes[] = {1, 10, 100, 1000};
static const int64_t grid[] = {0, 120, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 7200};
#define GRID         (sizeof(grid) / sizeof(grid[0]))
#define WARM_HISTORY 14400

static int compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Detection share and median delay of one cell; adds early firings. */
static void cell(int seeds, double n, int64_t history, double prior, int64_t *delays, double *share,
                 int64_t *median, int *early)
{
    int detected = 0;

    for (int k = 0; k < seeds; k++) {
        cold_run_t r =
            cold_ratio_run(7919u * (uint64_t)(history + 1) + 104729u * (uint64_t)n + (uint64_t)k, n,
                           history, prior);
        *early += r.early;
        if (r.delay >= 0)
            delays[detected++] = r.delay;
    }
    qsort(delays, (size_t)detected, sizeof(delays[0]), compare);
    *share = (double)detected / seeds;
    *median = detected ? delays[detected / 2] : -1;
}

int main(int argc, char **argv)
{
    int seeds = argc > 1 ? atoi(argv[1]) : 200, early = 0;
    int64_t *delays;

    if (seeds < 1)
        seeds = 200;
    delays = malloc(sizeof(*delays) * (size_t)seeds);
    if (!delays)
        return 1;
    printf("ratio_cusum, 1 s buckets, p0 %.3g, x%g for %d s, h = %.2f (%g live slices), "
           "%d seeds per cell\n",
           COLD_P0, COLD_MULT, COLD_BURST, cold_params(fs_model_find("ratio_cusum")).threshold,
           COLD_SLICES, seeds);
    for (int with_prior = 0; with_prior < 2; with_prior++) {
        printf("\n%s\nattempts/s", with_prior ? "with a parent at p0 (obs->prior)" : "no parent");
        for (size_t g = 0; g < GRID; g++)
            printf(" %9lld", (long long)grid[g]);
        printf("      warm  needs\n");
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            double share[GRID], warm_share;
            int64_t median[GRID], warm_median, needs = -1;
            double prior = with_prior ? COLD_P0 : NAN;

            for (size_t g = 0; g < GRID; g++)
                cell(seeds, sizes[s], grid[g], prior, delays, &share[g], &median[g], &early);
            cell(seeds, sizes[s], WARM_HISTORY, prior, delays, &warm_share, &warm_median, &early);
            for (size_t g = GRID; g-- > 0;) {
                if (share[g] < 0.9 || median[g] > 2 * warm_median + 2)
                    break;
                needs = grid[g];
            }
            printf("%10g", sizes[s]);
            for (size_t g = 0; g < GRID; g++)
                printf(" %4.0f%%/%-4lld", 100.0 * share[g], (long long)median[g]);
            printf(" %4.0f%%/%-4lld %5lld\n", 100.0 * warm_share, (long long)warm_median,
                   (long long)needs);
        }
    }
    printf("\nruns that fired on normal traffic: %d\n", early);
    free(delays);
    return 0;
}
