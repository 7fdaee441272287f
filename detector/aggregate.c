/*
 * aggregate.c: the ring of open bucket frames (see aggregate.h).
 *
 * A frame is two dense count arrays (totals and unflushed) plus the list of
 * slice ids whose unflushed counts are non-zero, so a flush walks only what
 * changed. Arrays are allocated for max_slices at once: memory is
 * n_frames * 24 bytes per possible slice, paid up front so the event path
 * never allocates. The arrays come from calloc, so pages of ids never used
 * are never touched and cost no resident memory.
 */
#include "detector/aggregate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct frame {
    fs_counts_t *total;
    fs_counts_t *unflushed;
    uint32_t *dirty; /* ids with non-zero unflushed counts */
    size_t n_dirty;
    uint32_t hi; /* one past the highest id counted since the frame was cleared */
} frame_t;

struct fs_aggregate {
    int64_t bucket_ms;
    size_t n_frames;
    size_t max_slices;
    frame_t *frames;
    size_t oldest; /* index of the frame of open_from */
    int64_t open_from;
    int started;
    int closed_any;
    int64_t newest_ms; /* newest time counted, INT64_MIN before any */

    fs_delta_t *pending; /* unflushed counts of closed buckets */
    size_t n_pending, cap_pending;
};

void fs_aggregate_free(fs_aggregate_t *agg)
{
    if (!agg)
        return;
    if (agg->frames) {
        for (size_t i = 0; i < agg->n_frames; i++) {
            free(agg->frames[i].total);
            free(agg->frames[i].unflushed);
            free(agg->frames[i].dirty);
        }
    }
    free(agg->frames);
    free(agg->pending);
    free(agg);
}

fs_aggregate_t *fs_aggregate_new(int64_t bucket_ms, size_t n_frames, size_t max_slices,
                                 char *err, size_t err_size)
{
    fs_aggregate_t *agg = calloc(1, sizeof *agg);
    if (!agg || bucket_ms <= 0 || n_frames == 0)
        goto fail;
    agg->bucket_ms = bucket_ms;
    agg->n_frames = n_frames;
    agg->max_slices = max_slices;
    agg->frames = calloc(n_frames, sizeof *agg->frames);
    if (!agg->frames)
        goto fail;
    for (size_t i = 0; i < n_frames; i++) {
        frame_t *f = &agg->frames[i];
        f->total = calloc(max_slices, sizeof *f->total);
        f->unflushed = calloc(max_slices, sizeof *f->unflushed);
        f->dirty = malloc(max_slices * sizeof *f->dirty);
        if (!f->total || !f->unflushed || !f->dirty)
            goto fail;
    }
    return agg;
fail:
    snprintf(err, err_size, "cannot allocate %zu buckets for %zu slices", n_frames, max_slices);
    fs_aggregate_free(agg);
    return NULL;
}

static int64_t floor_bucket(int64_t ts, int64_t width)
{
    int64_t q = ts / width;
    if (ts % width < 0)
        q--;
    return q * width;
}

void fs_aggregate_start(fs_aggregate_t *agg, int64_t first_bucket_ms)
{
    agg->open_from = floor_bucket(first_bucket_ms, agg->bucket_ms);
    agg->started = 1;
    agg->newest_ms = INT64_MIN;
}

void fs_aggregate_seal(fs_aggregate_t *agg)
{
    agg->closed_any = 1;
}

int fs_aggregate_extend_back(fs_aggregate_t *agg, int64_t ts_ms)
{
    int64_t from = floor_bucket(ts_ms, agg->bucket_ms);
    if (agg->closed_any || from >= agg->open_from)
        return agg->closed_any ? -1 : 0;
    int64_t span = (int64_t)agg->n_frames * agg->bucket_ms;
    if (agg->newest_ms != INT64_MIN && agg->newest_ms >= from + span)
        return -1;
    /* The frames past the newest count are empty: they become the oldest. */
    size_t k = (size_t)((agg->open_from - from) / agg->bucket_ms) % agg->n_frames;
    agg->oldest = (agg->oldest + agg->n_frames - k) % agg->n_frames;
    agg->open_from = from;
    return 0;
}

int fs_aggregate_started(const fs_aggregate_t *agg)
{
    return agg->started;
}

int64_t fs_aggregate_open_from(const fs_aggregate_t *agg)
{
    return agg->open_from;
}

int64_t fs_aggregate_open_until(const fs_aggregate_t *agg)
{
    return agg->open_from + (int64_t)agg->n_frames * agg->bucket_ms;
}

int64_t fs_aggregate_bucket_ms(const fs_aggregate_t *agg)
{
    return agg->bucket_ms;
}

void fs_aggregate_add(fs_aggregate_t *agg, int64_t ts_ms, const uint32_t *ids, size_t n,
                      uint32_t attempts, uint32_t failures, uint32_t errors, int unflushed)
{
    size_t offset = (size_t)((ts_ms - agg->open_from) / agg->bucket_ms);
    frame_t *f = &agg->frames[(agg->oldest + offset) % agg->n_frames];
    if (ts_ms > agg->newest_ms)
        agg->newest_ms = ts_ms;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        if (id >= f->hi)
            f->hi = id + 1;
        fs_counts_t *t = &f->total[id];
        t->attempts += attempts;
        t->failures += failures;
        t->errors += errors;
        if (unflushed) {
            fs_counts_t *u = &f->unflushed[id];
            if ((u->attempts | u->failures | u->errors) == 0)
                f->dirty[f->n_dirty++] = id;
            u->attempts += attempts;
            u->failures += failures;
            u->errors += errors;
        }
    }
}

fs_counts_t fs_aggregate_oldest(const fs_aggregate_t *agg, uint32_t id)
{
    const frame_t *f = &agg->frames[agg->oldest];
    if (id >= f->hi) {
        fs_counts_t zero = {0, 0, 0};
        return zero;
    }
    return f->total[id];
}

void fs_aggregate_close_oldest(fs_aggregate_t *agg)
{
    frame_t *f = &agg->frames[agg->oldest];
    if (agg->n_pending + f->n_dirty > agg->cap_pending) {
        size_t cap = agg->cap_pending ? agg->cap_pending : 1024;
        while (cap < agg->n_pending + f->n_dirty)
            cap *= 2;
        fs_delta_t *grown = realloc(agg->pending, cap * sizeof *grown);
        if (grown) {
            agg->pending = grown;
            agg->cap_pending = cap;
        }
    }
    for (size_t i = 0; i < f->n_dirty; i++) {
        uint32_t id = f->dirty[i];
        /* Out of memory for the pending list would lose counts: keep the
         * frame's deltas in place instead by not closing. The check above
         * makes this unreachable unless realloc failed. */
        if (agg->n_pending < agg->cap_pending) {
            fs_delta_t *d = &agg->pending[agg->n_pending++];
            d->slice = id;
            d->bucket_ms = agg->open_from;
            d->counts = f->unflushed[id];
        }
        memset(&f->unflushed[id], 0, sizeof f->unflushed[id]);
    }
    f->n_dirty = 0;
    memset(f->total, 0, f->hi * sizeof *f->total);
    f->hi = 0;
    agg->oldest = (agg->oldest + 1) % agg->n_frames;
    agg->open_from += agg->bucket_ms;
    agg->closed_any = 1;
}

void fs_aggregate_deltas(const fs_aggregate_t *agg, void (*cb)(void *opaque, const fs_delta_t *d),
                         void *opaque)
{
    for (size_t i = 0; i < agg->n_pending; i++)
        cb(opaque, &agg->pending[i]);
    for (size_t k = 0; k < agg->n_frames; k++) {
        const frame_t *f = &agg->frames[(agg->oldest + k) % agg->n_frames];
        fs_delta_t d;
        d.bucket_ms = agg->open_from + (int64_t)k * agg->bucket_ms;
        for (size_t i = 0; i < f->n_dirty; i++) {
            d.slice = f->dirty[i];
            d.counts = f->unflushed[d.slice];
            cb(opaque, &d);
        }
    }
}

size_t fs_aggregate_n_deltas(const fs_aggregate_t *agg)
{
    size_t n = agg->n_pending;
    for (size_t k = 0; k < agg->n_frames; k++)
        n += agg->frames[k].n_dirty;
    return n;
}

void fs_aggregate_mark_flushed(fs_aggregate_t *agg)
{
    agg->n_pending = 0;
    for (size_t k = 0; k < agg->n_frames; k++) {
        frame_t *f = &agg->frames[k];
        for (size_t i = 0; i < f->n_dirty; i++)
            memset(&f->unflushed[f->dirty[i]], 0, sizeof f->unflushed[0]);
        f->n_dirty = 0;
    }
}

void fs_aggregate_forget_slice(fs_aggregate_t *agg, uint32_t id)
{
    for (size_t k = 0; k < agg->n_frames; k++)
        memset(&agg->frames[k].total[id], 0, sizeof agg->frames[k].total[id]);
}

size_t fs_aggregate_bytes_per_slice(const fs_aggregate_t *agg)
{
    return agg->n_frames * (2 * sizeof(fs_counts_t) + sizeof(uint32_t));
}
