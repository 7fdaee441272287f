/*
 * aggregate.h: in-process counters per slice and event-time bucket.
 *
 * The open buckets form a ring of frames, oldest first, starting at
 * fs_aggregate_open_from(). Each frame holds, per slice index, the bucket's
 * total counts (what evaluation reads when the bucket closes) and the part
 * not yet flushed to the store (what the next batch carries). Frames are
 * dense arrays indexed by slice id, so the per-event path is a few adds.
 * Not thread safe.
 */
#ifndef FS_DETECTOR_AGGREGATE_H
#define FS_DETECTOR_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_counts {
    uint32_t attempts, failures, errors;
} fs_counts_t;

typedef struct fs_aggregate fs_aggregate_t;

/*
 * n_frames buckets of bucket_ms each may be open at once; slice ids are below
 * max_slices. The first open bucket is set by fs_aggregate_start.
 */
fs_aggregate_t *fs_aggregate_new(int64_t bucket_ms, size_t n_frames, size_t max_slices,
                                 char *err, size_t err_size);
void fs_aggregate_free(fs_aggregate_t *agg);

/* Sets the first open bucket (aligned down to the bucket width). Only while empty. */
void fs_aggregate_start(fs_aggregate_t *agg, int64_t first_bucket_ms);

/*
 * Moves the start back so that ts_ms is in the oldest open bucket, if no
 * bucket was closed yet and the counted buckets still fit. Returns 0 if ts_ms
 * is now open, -1 if not.
 */
int fs_aggregate_extend_back(fs_aggregate_t *agg, int64_t ts_ms);

/* Forbids moving the start back (fs_aggregate_extend_back): the buckets
 * before it were evaluated, by this process or by its previous life. */
void fs_aggregate_seal(fs_aggregate_t *agg);

/* Whether fs_aggregate_start was called. */
int fs_aggregate_started(const fs_aggregate_t *agg);

/* Start of the oldest open bucket. */
int64_t fs_aggregate_open_from(const fs_aggregate_t *agg);

/* One past the newest bucket that fits: open_from + n_frames * bucket_ms. */
int64_t fs_aggregate_open_until(const fs_aggregate_t *agg);

int64_t fs_aggregate_bucket_ms(const fs_aggregate_t *agg);

/*
 * Adds counts to slices ids[0..n) in the bucket containing ts_ms, which must
 * be in [open_from, open_until). `unflushed` is 0 for counts restored from
 * the store (they are already there) and 1 for new events.
 */
void fs_aggregate_add(fs_aggregate_t *agg, int64_t ts_ms, const uint32_t *ids, size_t n,
                      uint32_t attempts, uint32_t failures, uint32_t errors, int unflushed);

/* The counts of slice id in the oldest open bucket. */
fs_counts_t fs_aggregate_oldest(const fs_aggregate_t *agg, uint32_t id);

/*
 * Closes the oldest bucket: its unflushed counts move to the pending list for
 * the next flush, the frame is cleared and reused for the bucket after the
 * newest.
 */
void fs_aggregate_close_oldest(fs_aggregate_t *agg);

/* One unflushed counter change. */
typedef struct fs_delta {
    uint32_t slice;
    int64_t bucket_ms;
    fs_counts_t counts;
} fs_delta_t;

/*
 * Calls cb for every unflushed change (pending closed buckets, then open
 * frames), in no particular order. Nothing is marked flushed: call
 * fs_aggregate_mark_flushed after the store accepted the batch.
 */
void fs_aggregate_deltas(const fs_aggregate_t *agg, void (*cb)(void *opaque, const fs_delta_t *d),
                         void *opaque);

/* Number of unflushed (slice, bucket) changes. */
size_t fs_aggregate_n_deltas(const fs_aggregate_t *agg);

/* Forgets all unflushed changes: they are in the store now. */
void fs_aggregate_mark_flushed(fs_aggregate_t *agg);

/* Clears every count of a slice id in every open frame (slice evicted). */
void fs_aggregate_forget_slice(fs_aggregate_t *agg, uint32_t id);

/* Bytes allocated per slice id of capacity. */
size_t fs_aggregate_bytes_per_slice(const fs_aggregate_t *agg);

#endif
