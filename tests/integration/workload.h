/*
 * workload.h: deterministic input for the end-to-end suite (check_daemon.c).
 *
 * A workload is a seeded stream of playback and error events as CONTRACT.md
 * section 1 JSON lines, in event-time order: `rate` playback events per
 * second spread over each second, countries, platforms, app versions and
 * CDNs drawn with skewed weights, a base failure ratio (each attempt fails
 * independently), error events at a fraction of the playback rate, and
 * optionally one incident that multiplies the failure ratio of one
 * (country, platform) for a span of seconds.
 *
 * Alongside, the workload keeps the TRUTH: per (slice key, 1 s bucket) the
 * attempts, failures and errors of the events it has handed out, computed
 * here from the generated values alone (no detector code), with the slices
 * of the default configuration: "" (all traffic), "<dim>=<value>" for each
 * dimension, the pairs country+platform, country+cdn, platform+app_version,
 * and "code=<code>" for error events. The generated values contain no '\\',
 * ',' or '=', so keys need no escaping.
 *
 * A small librdkafka producer sends the events (keyed by user_id) and can
 * record where tagged messages landed. Test scaffolding: not thread safe.
 */
#ifndef FS_TESTS_INTEGRATION_WORKLOAD_H
#define FS_TESTS_INTEGRATION_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

/* ---- truth: counters per (slice, bucket) -------------------------------- */

typedef struct fs_truth fs_truth_t;

/* An empty table. Returns NULL on out of memory. */
fs_truth_t *fs_truth_new(void);

/* Frees the table. Accepts NULL. */
void fs_truth_free(fs_truth_t *t);

/* Adds counts to the cell (slice copied). Returns 0, or -1 on out of memory. */
int fs_truth_add(fs_truth_t *t, const char *slice, int64_t bucket_ms, int64_t attempts,
                 int64_t failures, int64_t errors);

/* Cells with at least one non-zero count. */
size_t fs_truth_cells(const fs_truth_t *t);

/* Sums of attempts, failures and errors over every bucket of slice. */
void fs_truth_totals(const fs_truth_t *t, const char *slice, int64_t out[3]);

/*
 * Compares two tables over their non-zero cells. Returns the number of cells
 * that differ (0 = equal) and writes into report (size bytes, always
 * terminated) the first differences in (bucket, slice) order and the totals
 * of all traffic on both sides, so that a mismatch explains itself.
 */
size_t fs_truth_diff(const fs_truth_t *expected, const fs_truth_t *actual, char *report,
                     size_t size);

/* ---- the workload ------------------------------------------------------- */

/* An incident: in [start_s, end_s) seconds after base_ms, attempts of the
 * given country and platform (NULL: any) fail multiplier times as often. */
typedef struct fs_wl_incident {
    const char *country;
    const char *platform;
    int start_s, end_s;
    double multiplier;
} fs_wl_incident_t;

typedef struct fs_wl_params {
    uint64_t seed;
    int64_t base_ms;                  /* first event time; a multiple of 1000 */
    int duration_s;                   /* seconds of event time */
    int rate;                         /* playback events per second */
    double failure_ratio;             /* base probability that an attempt fails */
    double error_ratio;               /* error events per playback event */
    double string_ts;                 /* share of events whose ts is an RFC 3339 string */
    int users;                        /* size of the user_id pool */
    const fs_wl_incident_t *incident; /* borrowed; NULL for none */
} fs_wl_params_t;

/*
 * Fills params with the defaults: 1% failures, errors at 3% of the playback
 * rate, 10% string timestamps, 20,000 users, no incident, and base_ms = the
 * wall clock now minus the duration minus two minutes (rounded down to a
 * second), so that no event lies in the future.
 */
void fs_wl_defaults(fs_wl_params_t *params, uint64_t seed, int duration_s, int rate);

typedef enum fs_wl_kind { FS_WL_PLAYBACK = 0, FS_WL_ERROR = 1 } fs_wl_kind_t;

/* One generated event. */
typedef struct fs_wl_event {
    fs_wl_kind_t kind;
    int64_t ts_ms;
    const char *dims[4]; /* country, platform, app_version, cdn (string constants) */
    const char *code;    /* error events: the code; NULL for playback events */
    int failed;          /* playback events: outcome "failed" */
    char user[16];       /* user_id, also the Kafka key */
    char json[512];      /* the message value, len bytes (NUL-terminated too) */
    size_t len;
} fs_wl_event_t;

typedef struct fs_workload fs_workload_t;

/* A workload over params (copied; the incident is borrowed and must outlive
 * it). Returns NULL on out of memory or bad parameters. */
fs_workload_t *fs_wl_new(const fs_wl_params_t *params);

/* Frees the workload. Accepts NULL. */
void fs_wl_free(fs_workload_t *wl);

/* The next event into *ev, which then counts in the truth. Returns 1, or 0
 * when the workload is over. */
int fs_wl_next(fs_workload_t *wl, fs_wl_event_t *ev);

/* Event time of the next event (INT64_MAX when over), without taking it. */
int64_t fs_wl_peek_ms(fs_workload_t *wl);

/* The truth of the events handed out so far (owned by the workload). */
const fs_truth_t *fs_wl_truth(const fs_workload_t *wl);

/* Events of a kind handed out so far. */
uint64_t fs_wl_count(const fs_workload_t *wl, fs_wl_kind_t kind);

/* The end of the workload's event time (base_ms + duration). */
int64_t fs_wl_end_ms(const fs_workload_t *wl);

/* ---- producing to Kafka ------------------------------------------------- */

typedef struct fs_wl_producer fs_wl_producer_t;

/* An idempotent producer (acks=all) to brokers. NULL with the reason in err. */
fs_wl_producer_t *fs_wl_producer_new(const char *brokers, char *err, size_t err_size);

/*
 * Flushes for at most timeout_ms and frees. Accepts NULL.
 */
void fs_wl_producer_free(fs_wl_producer_t *prod, int timeout_ms);

/*
 * Queues one message (value and key copied; key may be NULL), waiting while
 * the local queue is full. tag >= 0 records the message's partition and
 * offset under tag once delivered (tags are small: below 1,000,000).
 * Returns 0, or -1 with the reason in err.
 */
int fs_wl_send(fs_wl_producer_t *prod, const char *topic, const char *key, const void *value,
               size_t len, long tag, char *err, size_t err_size);

/*
 * Waits up to timeout_ms for every queued message to be delivered. Returns
 * 0, or -1 with the reason in err (time out, or a failed delivery).
 */
int fs_wl_flush(fs_wl_producer_t *prod, int timeout_ms, char *err, size_t err_size);

/* Where the message sent with tag landed. Returns 0, or -1 if not (yet)
 * delivered. */
int fs_wl_delivery(const fs_wl_producer_t *prod, long tag, int32_t *partition, int64_t *offset);

/*
 * Sends the workload's events with an event time before until_ms (INT64_MAX:
 * all that are left) to the playback and error topics, keyed by user_id,
 * then flushes (bounded by 60 s). Returns the number sent, or -1 with the
 * reason in err.
 */
long fs_wl_produce(fs_workload_t *wl, fs_wl_producer_t *prod, const char *playback_topic,
                   const char *error_topic, int64_t until_ms, char *err, size_t err_size);

#endif
