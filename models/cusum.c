/*
 * cusum.c: one one-sided CUSUM with onset tracking (see cusum.h).
 */
#include "models/cusum.h"

void fs_cusum_reset(fs_cusum_t *c)
{
    c->s = 0.0;
    c->start_ms = 0;
    c->n = 0.0;
    c->x = 0.0;
    c->e = 0.0;
    c->buckets = 0.0;
}

void fs_cusum_step(fs_cusum_t *c, double llr, double cap, int64_t bucket_ms, double n, double x,
                   double e)
{
    double s = c->s + llr;

    if (!(s > 0.0)) {
        fs_cusum_reset(c);
        return;
    }
    if (c->s == 0.0) {
        /* S was 0 after the previous bucket, so the change, if any, began
         * with this one. */
        c->start_ms = bucket_ms;
        c->n = 0.0;
        c->x = 0.0;
        c->e = 0.0;
        c->buckets = 0.0;
    }
    c->s = s < cap ? s : cap;
    c->n += n;
    c->x += x;
    c->e += e;
    c->buckets += 1.0;
}
