/*
 * cusum.h: one one-sided CUSUM with onset tracking.
 *
 * Page's CUSUM accumulates log-likelihood-ratio evidence, S = max(0, S + llr),
 * and alarms when S reaches a threshold. Besides S, an arm remembers where its
 * current excursion began (the bucket after S was last 0: the onset estimate)
 * and the trials, events and expected events summed since then, which is the
 * window an alert reports as its evidence. The models keep a small bank of
 * arms, one per shift size; engine.c drives them.
 *
 * Plain data inside caller-owned model state; nothing here allocates.
 */
#ifndef FS_MODELS_CUSUM_H
#define FS_MODELS_CUSUM_H

#include <stdint.h>

typedef struct fs_cusum {
    double s;         /* the statistic, >= 0 */
    int64_t start_ms; /* first bucket of the current excursion (valid while s > 0) */
    double n;         /* trials since start_ms */
    double x;         /* events since start_ms */
    double e;         /* expected events since start_ms, by the baseline */
    double buckets;   /* buckets since start_ms, empty ones included */
} fs_cusum_t;

/* Sets the statistic to 0 and forgets the excursion. */
void fs_cusum_reset(fs_cusum_t *c);

/*
 * Adds one bucket's evidence llr (already divided by the dispersion) and
 * clips the statistic to at most cap (INFINITY for none). An excursion starts
 * with the first bucket that lifts S above 0, at bucket_ms, and ends when S
 * falls back to 0; n, x and e are the bucket's trials, events and expected
 * events. A bucket with llr = 0 at S = 0 (no information) starts nothing.
 */
void fs_cusum_step(fs_cusum_t *c, double llr, double cap, int64_t bucket_ms, double n, double x,
                   double e);

#endif
