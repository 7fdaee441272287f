/*
 * pipeline.h: the detector's whole job between input messages and the store,
 * shared by the daemon (Kafka) and `foreshock-bench replay` (files).
 *
 *   message -> decode (invalid: dead letter) -> event-time checks (late,
 *   future) -> slices -> in-process aggregate -> on bucket close: models ->
 *   alert decisions -> on flush: one atomic store batch (counters, users,
 *   offsets, alert state, outbox) -> publish the alert messages.
 *
 * The pipeline reads no clock: callers pass the wall clock where it matters
 * (future-stamped events, idle partitions), so replay and tests control it.
 * Not thread safe: one pipeline per thread.
 */
#ifndef FS_DETECTOR_PIPELINE_H
#define FS_DETECTOR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "detector/event.h"
#include "detector/store.h"

typedef struct fs_pipeline fs_pipeline_t;

/* Where the pipeline's output goes. Callbacks must not call back into it,
 * except fs_pipeline_delivered. */
typedef struct fs_pipeline_sink {
    void *opaque;
    /* An invalid input message: publish payload unchanged to the dead-letter
     * topic with its reason and source. */
    void (*dead_letter)(void *opaque, const char *topic, int32_t partition, int64_t offset,
                        const void *payload, size_t len, const char *reason);
    /* An alert message whose store batch committed: publish it (key =
     * fingerprint) and call fs_pipeline_delivered(id) once it is acknowledged. */
    void (*alert)(void *opaque, const char *id, const char *fingerprint, const char *message);
    /* Optional (may be NULL): called with done = 0 before a closed bucket is
     * evaluated (models, localization, alert decisions) and with done = 1
     * after, so that the caller can time evaluation; the pipeline reads no
     * clock itself. */
    void (*evaluating)(void *opaque, int done);
} fs_pipeline_sink_t;

typedef struct fs_pipeline_stats {
    uint64_t events;        /* applied to counters */
    uint64_t invalid;       /* dead-lettered */
    uint64_t late;          /* older than the closed buckets: counted, not applied */
    uint64_t future;        /* stamped beyond the allowed clock skew */
    uint64_t buckets_closed;
    uint64_t flushes;
    uint64_t alerts_fired, alerts_resolved;
    size_t open_alerts;
    size_t live_slices;
    uint64_t slice_overflow; /* slice memberships dropped at the slices.max bound */
    uint64_t evicted_slices;
    int64_t watermark_ms;    /* end of the last closed bucket (event time) */
    int64_t snapshot_ms;     /* watermark of the last model snapshot written whole to the
                                store (the restart point), INT64_MIN if none */
    uint64_t buckets_restored; /* buckets re-evaluated from the store at start */
    size_t slices_restored;    /* slices known at start from the store */
} fs_pipeline_stats_t;

/*
 * A pipeline over cfg (borrowed; must outlive it) and store (borrowed).
 * Returns NULL with the reason in err.
 */
fs_pipeline_t *fs_pipeline_new(const fs_config_t *cfg, fs_store_t *store,
                               const fs_pipeline_sink_t *sink, char *err, size_t err_size);

/* Frees the pipeline. Accepts NULL. Unflushed state is lost. */
void fs_pipeline_free(fs_pipeline_t *p);

/*
 * Registers an input partition (or re-registers it after a rebalance) and
 * returns its handle, or -1. `stored` is the last offset the store holds for
 * it (-1 if none): the caller resumes consumption at stored + 1.
 */
int fs_pipeline_add_partition(fs_pipeline_t *p, const char *topic, int32_t partition,
                              fs_event_kind_t kind, int64_t stored);

/* The consumer has read everything the partition holds: until its next
 * message it cannot bring old events, so it does not hold the watermark. */
void fs_pipeline_partition_at_end(fs_pipeline_t *p, int handle);

/* Restarts the idle clocks of all partitions: after consumption was paused
 * (the store was down), silence says nothing about the partitions. */
void fs_pipeline_touch(fs_pipeline_t *p, int64_t now_ms);

/* The partition no longer belongs to this pipeline (revoked). Flush first. */
void fs_pipeline_remove_partition(fs_pipeline_t *p, int handle);

#define FS_PIPELINE_TAKEN 0
#define FS_PIPELINE_AHEAD 1

/*
 * Processes one message of a registered partition. now_ms is the wall clock.
 * Offsets must increase per partition; a message at or below the stored
 * offset is ignored (already applied).
 *
 * Returns FS_PIPELINE_TAKEN, or FS_PIPELINE_AHEAD when the event lies beyond
 * the open horizon while another partition still holds the watermark back
 * (typical when catching up on a backlog): nothing was changed, and the
 * caller offers the same message again later, after other partitions moved
 * on, pausing this partition meanwhile. The slowest partition is never told
 * to wait: its events close old buckets instead.
 */
int fs_pipeline_message(fs_pipeline_t *p, int handle, int64_t offset, const char *buf,
                        size_t len, int64_t now_ms);

/* Closes and evaluates the buckets the watermark allows, treating partitions
 * silent since before now_ms - window.idle_timeout as idle. */
void fs_pipeline_tick(fs_pipeline_t *p, int64_t now_ms);

/* End of input (replay): closes every bucket up to the newest event. */
void fs_pipeline_drain(fs_pipeline_t *p);

/*
 * Commits everything not yet in the store as one batch, then hands the
 * batch's alert messages to the sink. Returns FS_STORE_OK, or the store's
 * error (state is kept for a retry on FS_STORE_EUNAVAILABLE; on
 * FS_STORE_EFENCE the caller must call fs_pipeline_reset and re-read offsets).
 */
int fs_pipeline_flush(fs_pipeline_t *p, char *err, size_t err_size);

/* Calls cb for every registered partition with the last offset the store
 * holds for it (-1 if none). */
void fs_pipeline_stored_offsets(const fs_pipeline_t *p,
                                void (*cb)(void *opaque, const char *topic, int32_t partition,
                                           int64_t stored),
                                void *opaque);

/* Whether anything waits for a flush. */
int fs_pipeline_dirty(const fs_pipeline_t *p);

/* Events applied since the last batch went to the store (window.flush_events
 * bounds it). */
uint64_t fs_pipeline_batch_events(const fs_pipeline_t *p);

/* The alert message id was acknowledged by the broker. */
void fs_pipeline_delivered(fs_pipeline_t *p, const char *id);

/*
 * Picks up the previous run's state from the store: the models' last
 * snapshot, brought up to date with the stored counters of the buckets
 * closed since (without alerting again), and the counters of the buckets
 * still open. Then loads open alerts (so they are resolved, not fired again),
 * and calls pending(id, message) for every outbox message not known to be
 * delivered; the caller publishes those not already on the alerts topic and
 * reports each with fs_pipeline_delivered. Returns FS_STORE_*.
 */
int fs_pipeline_restore(fs_pipeline_t *p,
                        void (*pending)(void *opaque, const char *id, const char *message),
                        void *opaque, char *err, size_t err_size);

/* Drops all in-process state and partitions (after a fence). */
void fs_pipeline_reset(fs_pipeline_t *p);

void fs_pipeline_stats(const fs_pipeline_t *p, fs_pipeline_stats_t *stats);

/* Bytes of in-process state per possible slice (memory figure for benchmarks). */
size_t fs_pipeline_bytes_per_slice(const fs_pipeline_t *p);

#endif
