/*
 * daemon.c: the detector's main loop (see daemon.h).
 *
 * One thread does the work. Each turn: take a batch of messages, feed the
 * pipeline, let idle partitions release the watermark, and when the flush
 * interval has passed commit one store batch. A batch the store cannot take
 * right now (Redis down) pauses consumption, and the same batch is retried
 * with backoff until it commits; nothing is dropped and nothing is counted
 * twice, because the batch and its offsets land together. A batch refused by
 * the fence means another instance moved on: state is dropped and every
 * partition re-read from the stored offsets.
 *
 * With Redis the commit is asynchronous (store.h, fs_store_async_new): the
 * batch is handed to the store's thread, which applies it over a connection
 * of its own while this loop goes on consuming and aggregating into the next
 * batch. The next batch is handed over only once the previous one landed, so
 * each continues from offsets the store holds; the alert messages of a batch
 * are published, and its offsets committed to Kafka, only after it landed.
 *
 * The loop also keeps the metrics registry up to date and publishes a
 * snapshot of it, with its readiness verdict, for the HTTP endpoint's thread
 * (http.h); publishing never waits for a scrape.
 */
#include "detector/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector/consumer.h"
#include "detector/http.h"
#include "detector/log.h"
#include "detector/metrics.h"
#include "detector/pipeline.h"
#include "detector/publisher.h"
#include "detector/store.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* With nothing to commit, Redis is pinged this often to notice an outage. */
#define IDLE_PING_MS 5000
#define OUTBOX_SCAN_DEPTH 10000
#define MAX_HANDLES 4096
#define REPORT_INTERVAL_MS 100

#ifndef FS_VERSION
#define FS_VERSION "unknown"
#endif
#ifndef FS_HIREDIS_VERSION
#define FS_HIREDIS_VERSION "unknown"
#endif

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The daemon's metric families (metrics.h); all NULL when metrics are off,
 * which makes every update a no-op. */
typedef struct daemon_metrics {
    fs_metric_t *consumed; /* {topic} */
    int consumed_id[2];    /* by fs_event_kind_t */
    fs_metric_t *applied, *invalid, *late, *future;
    fs_metric_t *live_slices, *slice_overflow, *evicted;
    fs_metric_t *buckets_closed, *watermark, *snapshot;
    fs_metric_t *round_trips, *redis_errors, *fenced, *store_up;
    fs_metric_t *flush_seconds, *eval_seconds;
    fs_metric_t *fired, *resolved; /* {alertname} */
    fs_metric_t *open_alerts;
    fs_metric_t *lag, *high_watermark, *committed, *position; /* {topic, partition} */
    fs_metric_t *assigned, *brokers_up, *ready;
    fs_metric_t *build_info, *start_time;
} daemon_metrics_t;

typedef struct daemon {
    const fs_config_t *cfg;
    fs_store_t *store;
    fs_pipeline_t *pipeline;
    fs_publisher_t *publisher;
    fs_consumer_t *consumer;
    int store_down;
    int async;        /* d->store commits asynchronously */
    int handing_over; /* inside fs_pipeline_flush with the asynchronous store */
    int64_t now_ms;
    /* (topic, partition) -> pipeline handle, for the message path. */
    struct {
        const char *topic; /* cfg's topic strings, compared by pointer first */
        int32_t partition;
        int handle;
    } handles[MAX_HANDLES];
    int n_handles;
    const char *last_topic; /* the last lookup, NULL when handles change */
    int32_t last_partition;
    int last_handle;
    /* Alert messages of the batch in flight: published once it landed. */
    struct awaiting {
        char *id, *fingerprint, *message;
    } *awaiting;
    size_t n_awaiting, cap_awaiting;
    /* outbox recovery */
    char **pending_ids;
    char **pending_messages;
    size_t n_pending;
    /* monitoring */
    fs_metrics_t *metrics;
    fs_http_t *http;
    daemon_metrics_t m;
    int64_t eval_started_ns; /* monotonic start of the bucket being evaluated */
    uint64_t consumed[2]; /* messages taken by the pipeline, by fs_event_kind_t */
    uint64_t stats_reports; /* the consumer's statistics reports already shown */
    int64_t last_report;
} daemon_t;

static void report(daemon_t *d, int force);

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- pipeline sink ---- */

static void sink_dead_letter(void *opaque, const char *topic, int32_t partition, int64_t offset,
                             const void *payload, size_t len, const char *reason)
{
    daemon_t *d = opaque;
    /* Dead letters are at least once: after a crash the messages since the
     * last batch are read and dead-lettered again. */
    while (fs_publisher_dead_letter(d->publisher, topic, partition, offset, payload, len,
                                    reason) != 0) {
        fs_publisher_poll(d->publisher);
        sleep_ms(10);
        if (stop_requested)
            break;
    }
}

/* The value of the first `"name":"value"` string field of a compact JSON
 * message (alert messages are written without spaces), or "". */
static void string_field(const char *message, const char *name, char *out, size_t size)
{
    char key[64];
    size_t n = 0;
    snprintf(key, sizeof key, "\"%s\":\"", name);
    const char *p = strstr(message, key);
    if (p)
        for (p += strlen(key); *p && *p != '"' && n + 1 < size; p++) {
            if (*p == '\\' && !*++p)
                break;
            out[n++] = *p;
        }
    out[n] = '\0';
}

/* Counts a published alert message by its alertname and status. */
static void count_alert(daemon_t *d, const char *message)
{
    char alertname[128], status[16];
    string_field(message, "alertname", alertname, sizeof alertname);
    string_field(message, "status", status, sizeof status);
    const char *labels[] = {alertname[0] ? alertname : "unknown"};
    fs_metric_t *f = strcmp(status, "resolved") == 0 ? d->m.resolved : d->m.fired;
    fs_metric_add(f, fs_metric_series(f, labels), 1);
}

static void publish_alert(daemon_t *d, const char *id, const char *fingerprint,
                          const char *message)
{
    char q[64];
    while (fs_publisher_alert(d->publisher, id, fingerprint, message) != 0) {
        fs_publisher_poll(d->publisher);
        sleep_ms(10);
    }
    count_alert(d, message);
    fs_log(FS_LOG_INFO, "alert_published", "id=%s fingerprint=%s", fs_log_quote(id, q, sizeof q),
           fingerprint);
}

/* Forgets the alert messages of a batch that did not land. */
static void drop_awaiting(daemon_t *d)
{
    for (size_t i = 0; i < d->n_awaiting; i++) {
        free(d->awaiting[i].id);
        free(d->awaiting[i].fingerprint);
        free(d->awaiting[i].message);
    }
    d->n_awaiting = 0;
}

/* Publishes the alert messages of the batch that landed. */
static void publish_awaiting(daemon_t *d)
{
    for (size_t i = 0; i < d->n_awaiting; i++)
        publish_alert(d, d->awaiting[i].id, d->awaiting[i].fingerprint, d->awaiting[i].message);
    drop_awaiting(d);
}

/* Keeps a message until its batch landed. */
static int await_alert(daemon_t *d, const char *id, const char *fingerprint, const char *message)
{
    if (d->n_awaiting == d->cap_awaiting) {
        size_t cap = d->cap_awaiting ? 2 * d->cap_awaiting : 16;
        struct awaiting *grown = realloc(d->awaiting, cap * sizeof *grown);
        if (!grown)
            return -1;
        d->awaiting = grown;
        d->cap_awaiting = cap;
    }
    struct awaiting *a = &d->awaiting[d->n_awaiting];
    a->id = strdup(id);
    a->fingerprint = strdup(fingerprint);
    a->message = strdup(message);
    if (!a->id || !a->fingerprint || !a->message) {
        free(a->id);
        free(a->fingerprint);
        free(a->message);
        return -1;
    }
    d->n_awaiting++;
    return 0;
}

static void sink_alert(void *opaque, const char *id, const char *fingerprint,
                       const char *message)
{
    daemon_t *d = opaque;
    /* The batch was only handed to the store's thread: its messages wait
     * until it landed. Without memory to keep one, it goes out now, which at
     * worst repeats it after a crash (the outbox still holds it). */
    if (d->handing_over && await_alert(d, id, fingerprint, message) == 0)
        return;
    publish_alert(d, id, fingerprint, message);
}

static void on_delivered(void *opaque, const char *id)
{
    daemon_t *d = opaque;
    fs_pipeline_delivered(d->pipeline, id);
}

/* ---- consumer handler ---- */

static int64_t on_assigned(void *opaque, const char *topic, int32_t partition,
                           fs_event_kind_t kind)
{
    daemon_t *d = opaque;
    char err[512], q[600];
    int64_t stored = -1;
    int64_t backoff = BACKOFF_MIN_MS;
    /* Without the stored offset the partition cannot start: wait for it. */
    while (fs_store_offset(d->store, topic, partition, &stored, err, sizeof err) !=
           FS_STORE_OK) {
        if (!d->store_down)
            fs_log(FS_LOG_WARN, "store_unavailable", "during=assign reason=%s",
                   fs_log_quote(err, q, sizeof q));
        d->store_down = 1;
        report(d, 1);
        if (stop_requested)
            break;
        sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    int handle = fs_pipeline_add_partition(d->pipeline, topic, partition, kind, stored);
    d->last_topic = NULL;
    int i;
    for (i = 0; i < d->n_handles; i++)
        if (d->handles[i].partition == partition && strcmp(d->handles[i].topic, topic) == 0)
            break;
    if (i == d->n_handles && d->n_handles < MAX_HANDLES) {
        d->handles[i].topic = strcmp(topic, d->cfg->topics_errors) == 0 ? d->cfg->topics_errors
                                                                         : d->cfg->topics_playback;
        d->handles[i].partition = partition;
        d->n_handles++;
    }
    if (i < MAX_HANDLES)
        d->handles[i].handle = handle;
    fs_log(FS_LOG_INFO, "partition_resumes", "topic=%s partition=%d stored_offset=%lld", topic,
           (int)partition, (long long)stored);
    return stored < 0 ? -1 : stored + 1;
}

static int flush_wait(daemon_t *d, int64_t deadline, int retry);
static void abandon(daemon_t *d);

static void on_revoking(void *opaque)
{
    daemon_t *d = opaque;
    /* Commit what belongs to the partitions before another instance takes
     * them. If that fails, drop it: the next owner re-reads from the store. */
    if (flush_wait(d, mono_ms() + 10000, 0) != FS_STORE_OK)
        abandon(d);
    for (int i = 0; i < d->n_handles; i++)
        fs_pipeline_remove_partition(d->pipeline, d->handles[i].handle);
    d->last_topic = NULL;
}

static int handle_of(daemon_t *d, const char *topic, int32_t partition)
{
    /* Messages come in runs of one partition, under one topic pointer. */
    if (topic == d->last_topic && partition == d->last_partition)
        return d->last_handle;
    for (int i = 0; i < d->n_handles; i++)
        if (d->handles[i].partition == partition && strcmp(d->handles[i].topic, topic) == 0) {
            d->last_topic = topic;
            d->last_partition = partition;
            d->last_handle = d->handles[i].handle;
            return d->handles[i].handle;
        }
    return -1;
}

static void on_at_end(void *opaque, const char *topic, int32_t partition)
{
    daemon_t *d = opaque;
    fs_pipeline_partition_at_end(d->pipeline, handle_of(d, topic, partition));
}

static int on_message(void *opaque, const char *topic, int32_t partition, fs_event_kind_t kind,
                      int64_t offset, const char *payload, size_t len)
{
    daemon_t *d = opaque;
    int handle = handle_of(d, topic, partition);
    if (handle >= 0 &&
        fs_pipeline_message(d->pipeline, handle, offset, payload, len, d->now_ms) ==
            FS_PIPELINE_AHEAD)
        return 1;
    d->consumed[kind == FS_EVENT_ERROR]++;
    return 0;
}

/* ---- flush and recovery ---- */

static void add_commit(void *opaque, const char *topic, int32_t partition, int64_t stored)
{
    daemon_t *d = opaque;
    if (stored >= 0)
        fs_consumer_commit_add(d->consumer, topic, partition, stored + 1);
}

/*
 * Accounts for the outcome of a store batch: metrics, logs, and for a batch
 * that landed the Kafka commit of its offsets and the publication of its
 * alert messages (asynchronous store; the synchronous flush published them
 * already). seconds < 0: no batch was sent.
 */
static void flush_done(daemon_t *d, int rc, const char *err, double seconds)
{
    char q[600];
    if (rc == FS_STORE_OK && seconds >= 0)
        fs_metric_observe(d->m.flush_seconds, 0, seconds);
    if (rc == FS_STORE_EFENCE)
        fs_metric_add(d->m.fenced, 0, 1);
    if (rc == FS_STORE_OK) {
        publish_awaiting(d);
        if (d->consumer)
            fs_consumer_commit_send(d->consumer);
        if (d->store_down) {
            fs_log(FS_LOG_INFO, "store_available", NULL);
            d->store_down = 0;
        }
    } else if (rc == FS_STORE_EUNAVAILABLE) {
        if (!d->store_down)
            fs_log(FS_LOG_WARN, "store_unavailable", "during=flush reason=%s",
                   fs_log_quote(err, q, sizeof q));
        d->store_down = 1;
    } else {
        /* The batch is gone: so are its messages and offsets. */
        drop_awaiting(d);
        if (d->consumer)
            fs_consumer_commit_clear(d->consumer);
        fs_log(FS_LOG_ERROR, rc == FS_STORE_EFENCE ? "store_fenced" : "store_error",
               "reason=%s", fs_log_quote(err, q, sizeof q));
    }
}

/*
 * Commits everything the pipeline holds as one batch. With the synchronous
 * store the outcome is known on return; with the asynchronous one the batch
 * is handed over (FS_STORE_OK) or there was nothing to send (FS_STORE_IDLE),
 * and its outcome comes from settle(). Never called while a batch is in
 * flight.
 */
static int flush_now(daemon_t *d)
{
    char err[512];
    fs_publisher_poll(d->publisher);
    int dirty = fs_pipeline_dirty(d->pipeline);
    int64_t t0 = mono_ns();
    d->handing_over = d->async;
    int rc = fs_pipeline_flush(d->pipeline, err, sizeof err);
    d->handing_over = 0;
    if (d->async) {
        if (rc == FS_STORE_OK && !fs_store_async_busy(d->store))
            return FS_STORE_IDLE;
        if (rc == FS_STORE_OK) {
            /* Committed to Kafka once the batch landed. */
            if (d->consumer)
                fs_pipeline_stored_offsets(d->pipeline, add_commit, d);
            return FS_STORE_OK;
        }
        /* Not handed over (no memory for the copy): the pipeline keeps its
         * state for the next try. */
        flush_done(d, rc, err, -1);
        return rc;
    }
    if (rc == FS_STORE_OK && d->consumer)
        fs_pipeline_stored_offsets(d->pipeline, add_commit, d);
    /* Only batches that carried something and landed are timed: an empty
     * flush is no round trip worth timing. */
    flush_done(d, rc, err, dirty ? (double)(mono_ns() - t0) / 1e9 : -1);
    return rc;
}

/*
 * Takes the outcome of the batch in flight (asynchronous store), waiting up
 * to wait_ms for it. Returns FS_STORE_IDLE (none), FS_STORE_PENDING (in
 * flight, or waiting for a retry) or the outcome, accounted for.
 */
static int settle(daemon_t *d, int wait_ms)
{
    char err[512] = "";
    double seconds = -1;
    int rc = fs_store_async_poll(d->store, wait_ms, &seconds, err, sizeof err);
    if (rc != FS_STORE_IDLE && rc != FS_STORE_PENDING)
        flush_done(d, rc, err, seconds);
    return rc;
}

/*
 * Waits until the batch in flight (if any) is settled, retrying it every
 * 200 ms while the store is unavailable when retry is set, until deadline.
 * Returns FS_STORE_OK when nothing is left in flight and the last batch
 * landed (or there was none), or the failure; after FS_STORE_EUNAVAILABLE
 * the batch is still kept.
 */
static int finish(daemon_t *d, int64_t deadline, int retry)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        int rc = settle(d, left > 100 ? 100 : left > 0 ? (int)left : 0);
        if (rc == FS_STORE_IDLE || rc == FS_STORE_OK)
            return FS_STORE_OK;
        if (rc == FS_STORE_EFENCE || rc == FS_STORE_EINVALID)
            return rc;
        if (mono_ms() >= deadline)
            return FS_STORE_EUNAVAILABLE;
        if (rc == FS_STORE_EUNAVAILABLE) {
            if (!retry)
                return rc;
            sleep_ms(200);
            fs_store_async_retry(d->store);
        }
    }
}

/* Commits everything now and waits for the outcome (rebalance, stop). */
static int flush_wait(daemon_t *d, int64_t deadline, int retry)
{
    if (!d->async) {
        int rc;
        while ((rc = flush_now(d)) == FS_STORE_EUNAVAILABLE && retry && mono_ms() < deadline)
            sleep_ms(200);
        return rc;
    }
    int rc = finish(d, deadline, retry);
    if (rc != FS_STORE_OK)
        return rc;
    rc = flush_now(d);
    if (rc == FS_STORE_IDLE)
        return FS_STORE_OK;
    return rc == FS_STORE_OK ? finish(d, deadline, retry) : rc;
}

/* Gives up a batch that did not land, with everything that depended on it:
 * the pipeline is reset and resumes from the stored offsets. */
static void abandon(daemon_t *d)
{
    fs_store_async_discard(d->store);
    drop_awaiting(d);
    if (d->consumer)
        fs_consumer_commit_clear(d->consumer);
    fs_pipeline_reset(d->pipeline);
}

static void collect_pending(void *opaque, const char *id, const char *message)
{
    daemon_t *d = opaque;
    char **ids = realloc(d->pending_ids, (d->n_pending + 1) * sizeof *ids);
    if (ids)
        d->pending_ids = ids;
    char **messages = realloc(d->pending_messages, (d->n_pending + 1) * sizeof *messages);
    if (messages)
        d->pending_messages = messages;
    if (!ids || !messages)
        return;
    d->pending_ids[d->n_pending] = strdup(id);
    d->pending_messages[d->n_pending] = strdup(message);
    if (d->pending_ids[d->n_pending] && d->pending_messages[d->n_pending])
        d->n_pending++;
}

/* The fingerprint of an alert message (its "fingerprint" field). */
static void fingerprint_of(const char *message, char *out, size_t size)
{
    string_field(message, "fingerprint", out, size);
}

/*
 * Loads open alerts and the outbox; sends the outbox messages that are not
 * on the alerts topic yet and marks the others delivered.
 */
static int restore(daemon_t *d)
{
    char err[512], q[600];
    int64_t backoff = BACKOFF_MIN_MS;
    int rc;
    while ((rc = fs_pipeline_restore(d->pipeline, collect_pending, d, err, sizeof err)) !=
           FS_STORE_OK) {
        if (rc == FS_STORE_EINVALID) {
            /* A wrong password or a store that refuses us: retrying will not help. */
            fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
            return -2;
        }
        if (!d->store_down)
            fs_log(FS_LOG_WARN, "store_unavailable", "during=start reason=%s",
                   fs_log_quote(err, q, sizeof q));
        d->store_down = 1;
        report(d, 1);
        for (size_t i = 0; i < d->n_pending; i++) {
            free(d->pending_ids[i]);
            free(d->pending_messages[i]);
        }
        d->n_pending = 0;
        if (stop_requested)
            return -1;
        sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    d->store_down = 0;
    if (d->n_pending == 0)
        return 0;
    int *found = calloc(d->n_pending, sizeof *found);
    if (!found)
        return -1;
    backoff = BACKOFF_MIN_MS;
    while (fs_publisher_scan_ids(d->cfg, (const char *const *)d->pending_ids, d->n_pending, found,
                                 OUTBOX_SCAN_DEPTH, 30000, err, sizeof err) != 0) {
        fs_log(FS_LOG_WARN, "outbox_scan_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
        if (stop_requested) {
            free(found);
            return -1;
        }
        sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    for (size_t i = 0; i < d->n_pending; i++) {
        if (found[i]) {
            fs_pipeline_delivered(d->pipeline, d->pending_ids[i]);
        } else {
            char fingerprint[64];
            fingerprint_of(d->pending_messages[i], fingerprint, sizeof fingerprint);
            sink_alert(d, d->pending_ids[i], fingerprint, d->pending_messages[i]);
        }
        fs_log(FS_LOG_INFO, "outbox_recovered", "id=%s already_published=%s",
               d->pending_ids[i], found[i] ? "true" : "false");
        free(d->pending_ids[i]);
        free(d->pending_messages[i]);
    }
    d->n_pending = 0;
    free(found);
    return 0;
}

static void log_status(daemon_t *d, fs_pipeline_stats_t *prev, uint64_t *prev_trips,
                       int64_t elapsed_ms)
{
    fs_pipeline_stats_t s;
    fs_pipeline_stats(d->pipeline, &s);
    uint64_t trips = fs_store_round_trips(d->store);
    double secs = elapsed_ms > 0 ? (double)elapsed_ms / 1000.0 : 1.0;
    fs_log(FS_LOG_INFO, "status",
           "events_per_s=%.0f consumer_lag=%lld dead_lettered=%llu late=%llu future=%llu "
           "live_slices=%zu slice_overflow=%llu store_round_trips_per_s=%.1f open_alerts=%zu "
           "partitions=%d store=%s",
           (double)(s.events - prev->events) / secs, (long long)fs_consumer_lag(d->consumer),
           (unsigned long long)s.invalid, (unsigned long long)s.late,
           (unsigned long long)s.future, s.live_slices, (unsigned long long)s.slice_overflow,
           (double)(trips - *prev_trips) / secs, s.open_alerts,
           fs_consumer_assigned(d->consumer), d->store_down ? "down" : "up");
    *prev = s;
    *prev_trips = trips;
}

/* ---- metrics and readiness ---- */

/*
 * Registers the daemon's metric families. Returns 0, or -1 if one could not
 * be registered (out of memory, or a bug in the names below).
 */
static int metrics_init(daemon_t *d)
{
    static const char *const topic[] = {"topic", NULL};
    static const char *const alertname[] = {"alertname", NULL};
    static const char *const partition[] = {"topic", "partition", NULL};
    static const char *const build[] = {"version", "librdkafka", "hiredis", NULL};
    /* A flush is one Lua call: milliseconds live, up to seconds while
     * catching up on a backlog. */
    static const double flush_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
    /* Evaluating one bucket runs every live slice's models: microseconds for
     * a few slices, tens of milliseconds near slices.max. */
    static const double eval_bounds[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                         0.0005,  0.001,    0.0025,  0.005,  0.01,
                                         0.025,   0.05,     0.1,     0.25,   1};
    fs_metrics_t *r = d->metrics;
    daemon_metrics_t *m = &d->m;

    m->build_info = fs_metrics_gauge(r, "foreshock_build_info",
                                     "Always 1; the labels say which versions are running.", build);
    m->start_time = fs_metrics_gauge(r, "foreshock_start_time_seconds",
                                     "When the daemon started, in Unix seconds.", NULL);
    m->ready = fs_metrics_gauge(r, "foreshock_ready",
                                "1 when /readyz answers 200: connected to the broker, partitions "
                                "assigned, consumption not paused by a store outage.",
                                NULL);
    m->consumed = fs_metrics_counter(r, "foreshock_events_consumed_total",
                                     "Messages read from each input topic and taken by the "
                                     "pipeline, valid or not.",
                                     topic);
    m->applied = fs_metrics_counter(r, "foreshock_events_applied_total",
                                    "Events applied to the counters.", NULL);
    m->invalid = fs_metrics_counter(r, "foreshock_events_invalid_total",
                                    "Invalid messages, published to the dead-letter topic.", NULL);
    m->late = fs_metrics_counter(r, "foreshock_events_late_total",
                                 "Events older than the closed buckets: counted, not applied.",
                                 NULL);
    m->future = fs_metrics_counter(r, "foreshock_events_future_total",
                                   "Events stamped more than window.future_skew ahead of the "
                                   "clock: counted, not applied.",
                                   NULL);
    m->live_slices = fs_metrics_gauge(r, "foreshock_live_slices", "Slices kept now.", NULL);
    m->slice_overflow = fs_metrics_counter(r, "foreshock_slice_overflow_total",
                                           "Slice memberships dropped at the slices.max bound.",
                                           NULL);
    m->evicted = fs_metrics_counter(r, "foreshock_slices_evicted_total",
                                    "Slices forgotten after slices.idle without events.", NULL);
    m->buckets_closed = fs_metrics_counter(r, "foreshock_buckets_closed_total",
                                           "Event-time buckets closed and evaluated.", NULL);
    m->watermark = fs_metrics_gauge(r, "foreshock_event_time_watermark_seconds",
                                    "End of the last closed bucket (event time, Unix seconds).",
                                    NULL);
    m->snapshot = fs_metrics_gauge(r, "foreshock_snapshot_watermark_seconds",
                                   "Event time (Unix seconds) of the models' last snapshot "
                                   "written whole to the store: a restart resumes from it.",
                                   NULL);
    m->eval_seconds = fs_metrics_histogram(
        r, "foreshock_evaluation_duration_seconds",
        "Time to evaluate one closed bucket (every live slice's models), for buckets closed "
        "by the loop's tick; those closed while messages are consumed are not timed yet.",
        NULL, eval_bounds, sizeof eval_bounds / sizeof eval_bounds[0]);
    m->flush_seconds = fs_metrics_histogram(
        r, "foreshock_flush_duration_seconds",
        "Time to commit one store batch (one Redis round trip) that carried changes.", NULL,
        flush_bounds, sizeof flush_bounds / sizeof flush_bounds[0]);
    m->round_trips = fs_metrics_counter(r, "foreshock_redis_round_trips_total",
                                        "Requests sent to Redis (0 with store = memory).", NULL);
    m->redis_errors = fs_metrics_counter(r, "foreshock_redis_errors_total",
                                         "Store calls that failed (Redis unreachable, timed "
                                         "out or refusing), each retry counted, the "
                                         "asynchronous commits and the pipeline's reads "
                                         "included.",
                                         NULL);
    m->fenced = fs_metrics_counter(r, "foreshock_store_fenced_total",
                                   "Store batches refused by the offset fence (another instance "
                                   "moved on); each drops in-process state.",
                                   NULL);
    m->store_up = fs_metrics_gauge(r, "foreshock_store_up",
                                   "0 while the store is unavailable and consumption paused.",
                                   NULL);
    m->fired = fs_metrics_counter(r, "foreshock_alerts_fired_total",
                                  "Firing alert messages published, by alertname.", alertname);
    m->resolved = fs_metrics_counter(r, "foreshock_alerts_resolved_total",
                                     "Resolved alert messages published, by alertname.",
                                     alertname);
    m->open_alerts = fs_metrics_gauge(r, "foreshock_open_alerts", "Alerts firing now.", NULL);
    m->assigned = fs_metrics_gauge(r, "foreshock_consumer_assigned_partitions",
                                   "Input partitions assigned to this instance.", NULL);
    m->brokers_up = fs_metrics_gauge(r, "foreshock_kafka_brokers_up",
                                     "Broker connections up in librdkafka's last statistics.",
                                     NULL);
    m->lag = fs_metrics_gauge(r, "foreshock_consumer_lag_messages",
                              "Messages between the offset committed after the last store "
                              "batch and the partition's end (librdkafka consumer_lag).",
                              partition);
    m->high_watermark = fs_metrics_gauge(r, "foreshock_consumer_high_watermark_offset",
                                         "The partition's high watermark (librdkafka hi_offset).",
                                         partition);
    m->committed = fs_metrics_gauge(r, "foreshock_consumer_committed_offset",
                                    "The offset committed to the group after the last store "
                                    "batch (the next one to apply).",
                                    partition);
    m->position = fs_metrics_gauge(r, "foreshock_consumer_position_offset",
                                   "The next offset the consumer hands to the pipeline "
                                   "(librdkafka app_offset).",
                                   partition);
    const void *all[] = {
        m->build_info,    m->start_time,     m->ready,        m->consumed,    m->applied,
        m->invalid,       m->late,           m->future,       m->live_slices, m->slice_overflow,
        m->evicted,       m->buckets_closed, m->watermark,    m->snapshot,    m->eval_seconds,
        m->flush_seconds, m->round_trips,    m->redis_errors, m->fenced,      m->store_up,
        m->fired,         m->resolved,       m->open_alerts,  m->assigned,    m->brokers_up,
        m->lag,           m->high_watermark, m->committed,    m->position};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!all[i])
            return -1;
    const char *versions[] = {FS_VERSION, fs_consumer_librdkafka_version(),
                              FS_HIREDIS_VERSION};
    fs_metric_set(m->build_info, fs_metric_series(m->build_info, versions), 1);
    fs_metric_set(m->start_time, 0, (double)wall_ms() / 1000.0);
    /* No value is better than a wrong one until these are known. */
    fs_metric_hide(m->watermark, 0);
    fs_metric_hide(m->snapshot, 0);
    fs_metric_hide(m->brokers_up, 0);
    const char *const topics[] = {d->cfg->topics_playback, d->cfg->topics_errors};
    for (int k = 0; k < 2; k++) {
        m->consumed_id[k] = fs_metric_series(m->consumed, &topics[k]);
        if (m->consumed_id[k] < 0)
            return -1;
    }
    return 0;
}

/* The pipeline evaluates a closed bucket: time it (foreshock_evaluation_duration_seconds). */
static void sink_evaluating(void *opaque, int done)
{
    daemon_t *d = opaque;
    if (!d->metrics)
        return;
    if (!done)
        d->eval_started_ns = mono_ns();
    else
        fs_metric_observe(d->m.eval_seconds, 0, (double)(mono_ns() - d->eval_started_ns) / 1e9);
}

/* Why /readyz answers 503, or NULL when the daemon is ready. */
static const char *not_ready(const daemon_t *d)
{
    if (stop_requested)
        return "stopping";
    if (!d->consumer)
        return d->store_down ? "starting: store unavailable"
                             : "starting: restoring state from the store";
    if (d->store_down)
        return "store unavailable: consumption paused";
    int assigned = fs_consumer_assigned(d->consumer);
    int up = fs_consumer_brokers_up(d->consumer);
    /* Before the first statistics report an assignment is the proof of a
     * working connection; after it, the report says. */
    if (up == 0 || (up < 0 && assigned == 0))
        return "not connected to the broker";
    if (assigned == 0)
        return "no partitions assigned";
    return NULL;
}

static void partition_metrics(void *opaque, const fs_consumer_partition_t *p)
{
    daemon_t *d = opaque;
    char number[16];
    snprintf(number, sizeof number, "%d", (int)p->partition);
    const char *labels[] = {p->topic, number};
    fs_metric_t *families[] = {d->m.lag, d->m.high_watermark, d->m.committed, d->m.position};
    int64_t values[] = {p->lag, p->high_watermark, p->committed, p->position};
    for (int i = 0; i < 4; i++)
        if (values[i] >= 0)
            fs_metric_set(families[i], fs_metric_series(families[i], labels), (double)values[i]);
}

/*
 * Brings the metrics up to date, publishes them and the readiness verdict
 * for the HTTP thread. At most every REPORT_INTERVAL_MS unless force; cheap
 * either way, and it never waits for a scrape.
 */
static void report(daemon_t *d, int force)
{
    int64_t now = mono_ms();
    if (!d->metrics || (!force && now - d->last_report < REPORT_INTERVAL_MS))
        return;
    d->last_report = now;
    daemon_metrics_t *m = &d->m;
    const char *reason = not_ready(d);
    fs_metric_set(m->ready, 0, reason ? 0 : 1);
    fs_metric_set(m->store_up, 0, d->store_down ? 0 : 1);
    for (int k = 0; k < 2; k++)
        fs_metric_set(m->consumed, m->consumed_id[k], (double)d->consumed[k]);
    if (d->pipeline) {
        fs_pipeline_stats_t s;
        fs_pipeline_stats(d->pipeline, &s);
        fs_metric_set(m->applied, 0, (double)s.events);
        fs_metric_set(m->invalid, 0, (double)s.invalid);
        fs_metric_set(m->late, 0, (double)s.late);
        fs_metric_set(m->future, 0, (double)s.future);
        fs_metric_set(m->live_slices, 0, (double)s.live_slices);
        fs_metric_set(m->slice_overflow, 0, (double)s.slice_overflow);
        fs_metric_set(m->evicted, 0, (double)s.evicted_slices);
        fs_metric_set(m->buckets_closed, 0, (double)s.buckets_closed);
        fs_metric_set(m->open_alerts, 0, (double)s.open_alerts);
        if (s.buckets_closed)
            fs_metric_set(m->watermark, 0, (double)s.watermark_ms / 1000.0);
        if (s.snapshot_ms != INT64_MIN)
            fs_metric_set(m->snapshot, 0, (double)s.snapshot_ms / 1000.0);
    }
    if (d->store) {
        fs_metric_set(m->round_trips, 0, (double)fs_store_round_trips(d->store));
        fs_metric_set(m->redis_errors, 0, (double)fs_store_failures(d->store));
    }
    if (d->consumer) {
        fs_metric_set(m->assigned, 0, fs_consumer_assigned(d->consumer));
        int up = fs_consumer_brokers_up(d->consumer);
        if (up >= 0)
            fs_metric_set(m->brokers_up, 0, up);
        uint64_t reports = fs_consumer_stats_reports(d->consumer);
        if (reports != d->stats_reports) {
            /* Only the partitions of the last report: revoked ones vanish. */
            d->stats_reports = reports;
            fs_metric_hide_all(m->lag);
            fs_metric_hide_all(m->high_watermark);
            fs_metric_hide_all(m->committed);
            fs_metric_hide_all(m->position);
            fs_consumer_partitions(d->consumer, partition_metrics, d);
        }
    }
    fs_metrics_publish(d->metrics);
    fs_http_set_ready(d->http, reason);
}

int fs_daemon_run(const fs_config_t *cfg)
{
    daemon_t *d = calloc(1, sizeof *d);
    char err[512], q[600];
    int status = 1;
    uint64_t final_events = 0, final_trips = 0;
    if (!d)
        return 1;
    d->cfg = cfg;
    d->now_ms = wall_ms();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The endpoint comes first, so /healthz answers and /readyz explains
     * while the state is restored. */
    if (cfg->metrics_enabled) {
        d->metrics = fs_metrics_new();
        if (!d->metrics || metrics_init(d) != 0) {
            fs_log(FS_LOG_ERROR, "startup_failed", "reason=\"metrics: out of memory\"");
            goto done;
        }
        d->http = fs_http_new(cfg->metrics_address, d->metrics, err, sizeof err);
        if (!d->http) {
            fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s",
                   fs_log_quote(err, q, sizeof q));
            goto done;
        }
        fs_log(FS_LOG_INFO, "metrics_listening", "address=%s port=%d", cfg->metrics_address,
               fs_http_port(d->http));
        report(d, 1);
    }

    d->store = fs_store_open(cfg, err, sizeof err);
    if (d->store && cfg->store != FS_STORE_MEMORY) {
        /* Batches are applied by a thread with a connection of its own,
         * while this one goes on consuming (see the top of this file). */
        fs_store_t *writer = fs_store_open(cfg, err, sizeof err);
        if (!writer)
            fs_store_free(d->store);
        d->store = writer ? fs_store_async_new(d->store, writer, err, sizeof err) : NULL;
        d->async = d->store != NULL;
    }
    if (!d->store) {
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
        goto done;
    }
    fs_pipeline_sink_t sink = {d, sink_dead_letter, sink_alert, sink_evaluating};
    d->pipeline = fs_pipeline_new(cfg, d->store, &sink, err, sizeof err);
    if (!d->pipeline) {
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
        goto done;
    }
    d->publisher = fs_publisher_new(cfg, on_delivered, d, err, sizeof err);
    if (!d->publisher) {
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
        goto done;
    }
    if (restore(d) != 0) {
        status = stop_requested ? 0 : 1;
        goto done;
    }
    fs_consumer_handler_t handler = {d, on_assigned, on_revoking, on_at_end, on_message};
    d->consumer = fs_consumer_new(cfg, &handler, err, sizeof err);
    if (!d->consumer) {
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
        goto done;
    }
    fs_log(FS_LOG_INFO, "started", "store=%s playback=%s errors=%s", cfg->store ? "memory" : "redis",
           cfg->topics_playback, cfg->topics_errors);

    int64_t last_flush = mono_ms(), last_status = last_flush, next_retry = 0;
    int64_t last_contact = last_flush; /* the last turn that had a batch to commit */
    int64_t backoff = BACKOFF_MIN_MS;
    fs_pipeline_stats_t prev = {0};
    uint64_t prev_trips = 0;
    while (!stop_requested) {
        d->now_ms = wall_ms();
        /* A full batch (window.flush_events) goes out as soon as the one in
         * flight has landed, and until then no more events are taken: its
         * outcome is awaited below instead. */
        int full = fs_pipeline_batch_events(d->pipeline) >= (uint64_t)cfg->window_flush_events;
        int capped = full && d->async && fs_store_async_busy(d->store);
        /* Paused partitions deliver nothing, but polling still serves
         * rebalances; what was fetched before the pause is processed. */
        if (!capped)
            fs_consumer_poll(d->consumer, 100, 4096);
        fs_publisher_poll(d->publisher);
        /* While consumption is paused, or no broker is reachable (from
         * librdkafka's statistics, so with metrics enabled), silence is not
         * the partitions': their idle clocks stand still, and events produced
         * meanwhile are not made late by a watermark that ran on. */
        if (d->store_down || fs_consumer_brokers_up(d->consumer) == 0)
            fs_pipeline_touch(d->pipeline, wall_ms());
        else
            fs_pipeline_tick(d->pipeline, wall_ms());
        int64_t now = mono_ms();
        int rc = FS_STORE_IDLE;
        if (d->async) {
            /* The outcome of the batch in flight, if it has one; the next
             * batch goes out once it landed and the interval has passed. */
            rc = settle(d, capped ? 100 : 0);
            if (rc == FS_STORE_PENDING && d->store_down && now >= next_retry) {
                /* The kept batch goes again once Redis answers: say so
                 * before it lands, as the synchronous flush does. */
                char why[512], quoted[600];
                if (fs_store_ping(d->store, why, sizeof why) == FS_STORE_OK) {
                    fs_log(FS_LOG_INFO, "store_available", NULL);
                    d->store_down = 0;
                    fs_store_async_retry(d->store);
                    next_retry = INT64_MAX; /* until this attempt fails */
                } else {
                    fs_log(FS_LOG_DEBUG, "store_still_unavailable", "reason=%s",
                           fs_log_quote(why, quoted, sizeof quoted));
                    next_retry = now + backoff;
                    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                }
            } else if (rc == FS_STORE_IDLE && (full || now - last_flush >= cfg->window_flush_ms)) {
                rc = flush_now(d);
                last_flush = now;
                if (rc == FS_STORE_OK)
                    rc = FS_STORE_PENDING; /* handed over: the outcome comes later */
            }
        } else if ((!d->store_down && (full || now - last_flush >= cfg->window_flush_ms)) ||
                   (d->store_down && now >= next_retry && fs_pipeline_dirty(d->pipeline))) {
            rc = flush_now(d);
            last_flush = now;
        }
        /* With nothing to commit no batch talks to Redis, so ask it now and
         * then: an outage shows (log, store_up, /readyz) and consumption
         * pauses before the next batch needs the store; once it answers
         * again, consumption resumes. */
        int quiet = rc == FS_STORE_IDLE && !fs_pipeline_dirty(d->pipeline) &&
                    !(d->async && fs_store_async_busy(d->store));
        if (!quiet)
            last_contact = now;
        else if (d->store_down ? now >= next_retry : now - last_contact >= IDLE_PING_MS) {
            char why[512], quoted[600];
            last_contact = now;
            if (fs_store_ping(d->store, why, sizeof why) == FS_STORE_OK) {
                if (d->store_down) {
                    fs_log(FS_LOG_INFO, "store_available", NULL);
                    d->store_down = 0;
                    fs_consumer_resume(d->consumer);
                    backoff = BACKOFF_MIN_MS;
                }
            } else {
                if (!d->store_down)
                    fs_log(FS_LOG_WARN, "store_unavailable", "during=idle reason=%s",
                           fs_log_quote(why, quoted, sizeof quoted));
                d->store_down = 1;
                fs_consumer_pause(d->consumer);
                next_retry = now + backoff;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            }
        }
        if (rc != FS_STORE_IDLE && rc != FS_STORE_PENDING) {
            if (rc == FS_STORE_OK) {
                fs_consumer_resume(d->consumer);
                backoff = BACKOFF_MIN_MS;
            } else if (rc == FS_STORE_EUNAVAILABLE) {
                fs_consumer_pause(d->consumer);
                next_retry = now + backoff;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            } else {
                /* Fenced or refused: forget everything since the last good
                 * batch and read it again from the stored offsets. */
                fs_pipeline_reset(d->pipeline);
                if (restore(d) != 0)
                    break;
                fs_consumer_reseek(d->consumer);
            }
        }
        if (now - last_status >= cfg->log_status_ms) {
            log_status(d, &prev, &prev_trips, now - last_status);
            last_status = now;
        }
        report(d, 0);
    }

    fs_log(FS_LOG_INFO, "stopping", NULL);
    report(d, 1);
    /* Final batch, then wait for the alerts it publishes, then a last batch
     * that clears them from the outbox. A store that stays down past the
     * deadline loses nothing: the next start replays from the stored offsets. */
    status = 0;
    flush_wait(d, mono_ms() + 5000, 1);
    fs_publisher_flush(d->publisher, 3000);
    flush_wait(d, mono_ms() + 2000, 0);
done:
    fs_consumer_free(d->consumer);
    if (d->pipeline) {
        fs_pipeline_stats_t fin;
        fs_pipeline_stats(d->pipeline, &fin);
        final_events = fin.events + fin.invalid;
    }
    if (d->store)
        final_trips = fs_store_round_trips(d->store);
    fs_publisher_free(d->publisher, 2000);
    /* The server's thread renders the registry: stop it first. */
    fs_http_free(d->http);
    fs_metrics_free(d->metrics);
    fs_pipeline_free(d->pipeline);
    fs_store_free(d->store);
    free(d->pending_ids);
    free(d->pending_messages);
    drop_awaiting(d);
    free(d->awaiting);
    fs_log(FS_LOG_INFO, "stopped", "status=%d events=%llu store_round_trips=%llu", status,
           (unsigned long long)final_events, (unsigned long long)final_trips);
    free(d);
    return status;
}
