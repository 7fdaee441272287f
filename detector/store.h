/*
 * store.h: where foreshock's window state lives, behind one interface.
 *
 * The pipeline aggregates events in process and hands the store one batch
 * per flush. A batch is applied atomically: its counter increments, the users
 * it adds to the HyperLogLogs, the Kafka offsets it covers, the alert state
 * changes and the alert messages it puts into the outbox all land together or
 * not at all. Each partition's offset carries a fence: the batch says which
 * offset it continues from, and the store refuses the whole batch when that
 * is not the offset it holds (another instance, or an earlier life of this
 * one, applied something the caller does not know about).
 *
 * Two implementations: store_redis.c (durable, shared, what the daemon uses)
 * and store_memory.c (one process, nothing kept: replay and unit tests).
 * Not thread safe: one store per pipeline thread. The asynchronous store at
 * the end of this file wraps two of them and applies batches on a thread of
 * its own.
 */
#ifndef FS_DETECTOR_STORE_H
#define FS_DETECTOR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct fs_store fs_store_t;

/* Return codes. Retriable ones leave the store usable: try again later. */
#define FS_STORE_OK 0
#define FS_STORE_EUNAVAILABLE -1 /* retriable: server unreachable, timeout, loading */
#define FS_STORE_EFENCE -2       /* the batch does not continue from the stored offsets */
#define FS_STORE_EINVALID -3     /* not retriable: a bug or a misconfiguration */

/* Counter increments of one slice in one bucket. */
typedef struct fs_counter_delta {
    const char *slice; /* canonical slice key, see slices.h */
    int64_t bucket_ms; /* bucket start, event time */
    int64_t attempts, failures, errors;
} fs_counter_delta_t;

/* One user with a failure or error in one slice, in the minute of bucket_ms. */
typedef struct fs_user_add {
    const char *slice;
    int64_t bucket_ms;
    const char *user;
    size_t user_len;
} fs_user_add_t;

/* The offsets a batch covers on one partition. */
typedef struct fs_offset_advance {
    const char *topic;
    int32_t partition;
    int64_t expected; /* the stored offset the batch continues from; -1 = none stored */
    int64_t last;     /* the last offset the batch applies */
} fs_offset_advance_t;

/* An alert whose state changes in this batch, and the message to publish. */
typedef struct fs_alert_put {
    const char *fingerprint;
    const char *state;   /* the alert's persisted state (JSON); NULL deletes it (resolved) */
    const char *id;      /* deterministic message id, the outbox key */
    const char *message; /* the alert message JSON for topics.alerts */
} fs_alert_put_t;

/* A binary value under a key, for the meta and snapshot hashes. */
typedef struct fs_blob_put {
    const char *key;
    const void *value;
    size_t len;
} fs_blob_put_t;

/* The two hashes of durable process state beside the counters. */
typedef enum fs_store_hash {
    FS_STORE_META = 0,     /* small facts: how far buckets are closed, formats */
    FS_STORE_SNAPSHOT = 1, /* the models' warm state, one value per slice */
} fs_store_hash_t;

typedef struct fs_batch {
    const fs_counter_delta_t *counters;
    size_t n_counters;
    const fs_user_add_t *users;
    size_t n_users;
    const fs_offset_advance_t *offsets;
    size_t n_offsets;
    const fs_alert_put_t *alerts;
    size_t n_alerts;
    const char *const *delivered; /* outbox ids published since the last batch: remove */
    size_t n_delivered;
    const fs_blob_put_t *meta; /* set in the meta hash */
    size_t n_meta;
    /* Model snapshots travel in parts, one per batch, so that none has to
     * carry the state of every slice: a batch's snapshot entries are added
     * to a staging hash, which a first part (FS_SNAPSHOT_FIRST) clears before
     * and which replaces the snapshot hash after a last part
     * (FS_SNAPSHOT_LAST). A snapshot in one batch carries both flags; a part
     * in the middle neither. Keys are distinct within a snapshot. */
    int snapshot_part;
    const fs_blob_put_t *snapshot;
    size_t n_snapshot;
} fs_batch_t;

#define FS_SNAPSHOT_FIRST 1 /* the staging hash starts empty */
#define FS_SNAPSHOT_LAST  2 /* the staged entries become the snapshot hash */

/* Callbacks of the readers below; return non-zero to stop early. */
typedef int (*fs_store_bucket_cb)(void *opaque, const char *slice, int64_t bucket_ms,
                                  int64_t attempts, int64_t failures, int64_t errors);
typedef int (*fs_store_entry_cb)(void *opaque, const char *key, const char *value);
typedef int (*fs_store_blob_cb)(void *opaque, const char *key, const void *value, size_t len);

typedef struct fs_store_ops {
    const char *name;
    int (*commit)(fs_store_t *store, const fs_batch_t *batch, char *err, size_t err_size);
    int (*offset)(fs_store_t *store, const char *topic, int32_t partition, int64_t *offset,
                  char *err, size_t err_size);
    int (*buckets)(fs_store_t *store, int64_t from_ms, int64_t to_ms, fs_store_bucket_cb cb,
                   void *opaque, char *err, size_t err_size);
    int (*alerts)(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                  size_t err_size);
    int (*outbox)(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                  size_t err_size);
    int (*affected_users)(fs_store_t *store, const char *slice, int64_t from_ms, int64_t to_ms,
                          int64_t *count, char *err, size_t err_size);
    int (*read_hash)(fs_store_t *store, fs_store_hash_t which, fs_store_blob_cb cb, void *opaque,
                     char *err, size_t err_size);
    int (*ping)(fs_store_t *store, char *err, size_t err_size);
    uint64_t (*round_trips)(const fs_store_t *store);
    /* Failed calls, when the header's count is not all of them (NULL: it is). */
    uint64_t (*failures)(const fs_store_t *store);
    void (*free)(fs_store_t *store);
} fs_store_ops_t;

/* Every implementation starts with this header. */
struct fs_store {
    const fs_store_ops_t *ops;
    uint64_t failures; /* calls through the functions below that failed (zeroed at creation) */
};

/* Counts a failed call: unreachable, timed out or refusing (FS_STORE_EUNAVAILABLE,
 * FS_STORE_EINVALID). A fenced batch is not a store failure. */
static inline int fs_store_counted(fs_store_t *s, int rc)
{
    if (rc == FS_STORE_EUNAVAILABLE || rc == FS_STORE_EINVALID)
        s->failures++;
    return rc;
}

/*
 * Opens the store that cfg->store names (cfg is borrowed). Returns NULL with
 * the reason in err when it cannot be created; an unreachable Redis is not a
 * reason: calls fail with FS_STORE_EUNAVAILABLE until it answers.
 */
fs_store_t *fs_store_open(const fs_config_t *cfg, char *err, size_t err_size);

/* Applies a batch atomically (see above). */
static inline int fs_store_commit(fs_store_t *s, const fs_batch_t *b, char *err, size_t n)
{
    return fs_store_counted(s, s->ops->commit(s, b, err, n));
}

/* The last applied offset of a partition, or -1 in *offset when none. */
static inline int fs_store_offset(fs_store_t *s, const char *topic, int32_t partition,
                                  int64_t *offset, char *err, size_t n)
{
    return fs_store_counted(s, s->ops->offset(s, topic, partition, offset, err, n));
}

/* Calls cb for every stored counter of buckets in [from_ms, to_ms). */
static inline int fs_store_buckets(fs_store_t *s, int64_t from_ms, int64_t to_ms,
                                   fs_store_bucket_cb cb, void *opaque, char *err, size_t n)
{
    return fs_store_counted(s, s->ops->buckets(s, from_ms, to_ms, cb, opaque, err, n));
}

/* Calls cb(fingerprint, state) for every open alert. */
static inline int fs_store_alerts(fs_store_t *s, fs_store_entry_cb cb, void *opaque, char *err,
                                  size_t n)
{
    return fs_store_counted(s, s->ops->alerts(s, cb, opaque, err, n));
}

/* Calls cb(id, message) for every alert message not yet marked delivered. */
static inline int fs_store_outbox(fs_store_t *s, fs_store_entry_cb cb, void *opaque, char *err,
                                  size_t n)
{
    return fs_store_counted(s, s->ops->outbox(s, cb, opaque, err, n));
}

/* Distinct users with a failure or error in slice over [from_ms, to_ms). */
static inline int fs_store_affected_users(fs_store_t *s, const char *slice, int64_t from_ms,
                                          int64_t to_ms, int64_t *count, char *err, size_t n)
{
    return fs_store_counted(s, s->ops->affected_users(s, slice, from_ms, to_ms, count, err, n));
}

/* Calls cb(key, value, len) for every entry of the meta or snapshot hash. */
static inline int fs_store_read_hash(fs_store_t *s, fs_store_hash_t which, fs_store_blob_cb cb,
                                     void *opaque, char *err, size_t n)
{
    return fs_store_counted(s, s->ops->read_hash(s, which, cb, opaque, err, n));
}

/* Checks the store answers. */
static inline int fs_store_ping(fs_store_t *s, char *err, size_t n)
{
    return fs_store_counted(s, s->ops->ping(s, err, n));
}

/* Requests sent to the server so far (0 for the memory store). */
static inline uint64_t fs_store_round_trips(const fs_store_t *s)
{
    return s->ops->round_trips(s);
}

/* Calls that failed so far (FS_STORE_EUNAVAILABLE, FS_STORE_EINVALID), the
 * store's internal ones included (e.g. an asynchronous commit's). Read it
 * from the thread that calls the store. */
static inline uint64_t fs_store_failures(const fs_store_t *s)
{
    return s->ops->failures ? s->ops->failures(s) : s->failures;
}

/* Closes the store. Accepts NULL. */
static inline void fs_store_free(fs_store_t *s)
{
    if (s)
        s->ops->free(s);
}

/*
 * Asynchronous commits: the daemon goes on consuming while a batch is
 * applied.
 *
 * fs_store_async_new takes reader and writer (two stores over the same data,
 * e.g. two Redis connections; both freed with the result, also on failure)
 * and returns a store whose reads go to reader on the caller's thread, and
 * whose commit() copies the batch, hands the copy to a thread of its own
 * that applies it through writer, and returns FS_STORE_OK at once: the batch
 * is accepted, NOT applied. Its outcome comes from fs_store_async_poll. At
 * most one batch is in flight: commit() while one is returns
 * FS_STORE_EUNAVAILABLE and changes nothing (the caller keeps its state, as
 * after any retriable failure). A batch the fence refuses is recognised as
 * landed when an earlier attempt applied it (the store holds its last
 * offsets). NULL with the reason in err when it cannot start.
 *
 * The caller must not treat an accepted batch as durable: publish its alert
 * messages and acknowledge its offsets only once poll reports FS_STORE_OK.
 * The next batch may be built meanwhile; it continues from the accepted
 * batch's offsets, so it is refused by the fence if that one never lands.
 * One caller thread; the store's own thread touches only writer.
 */
fs_store_t *fs_store_async_new(fs_store_t *reader, fs_store_t *writer, char *err,
                               size_t err_size);

#define FS_STORE_PENDING 1 /* poll: the batch is in flight, or waits for a retry */
#define FS_STORE_IDLE 2    /* poll: no batch (or its outcome was reported) */

/*
 * The state of the batch handed over last, waiting up to wait_ms for it to
 * finish when it is in flight. FS_STORE_OK (landed), FS_STORE_EFENCE or
 * FS_STORE_EINVALID (dropped) are reported once, with the attempt's time in
 * *seconds (may be NULL) and the reason in err. FS_STORE_EUNAVAILABLE is
 * reported once per attempt: the batch is kept (poll says FS_STORE_PENDING)
 * until fs_store_async_retry sends it again or fs_store_async_discard drops
 * it. FS_STORE_IDLE for a store that is not asynchronous.
 */
int fs_store_async_poll(fs_store_t *store, int wait_ms, double *seconds, char *err,
                        size_t err_size);

/* Sends the kept batch again after FS_STORE_EUNAVAILABLE. */
void fs_store_async_retry(fs_store_t *store);

/* Drops the kept batch (it may or may not have landed: the caller re-reads
 * the stored offsets). No effect on a batch in flight. */
void fs_store_async_discard(fs_store_t *store);

/* Whether a batch was handed over and its outcome not yet settled (commit()
 * would refuse another one). 0 for a store that is not asynchronous. */
int fs_store_async_busy(fs_store_t *store);

/* Whether store came from fs_store_async_new. */
int fs_store_is_async(const fs_store_t *store);

#endif
