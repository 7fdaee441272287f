/*
 * daemon.c: the detector's main loop (see daemon.h).
 *
 * One thread. Each turn: take a batch of messages, feed the pipeline, let
 * idle partitions release the watermark, and when the flush interval has
 * passed commit one store batch. A batch the store cannot take right now
 * (Redis down) pauses consumption, and the same batch is retried with
 * backoff until it commits; nothing is dropped and nothing is counted twice,
 * because the batch and its offsets land together. A batch refused by the
 * fence means another instance moved on: state is dropped and every
 * partition re-read from the stored offsets.
 */
#include "detector/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector/consumer.h"
#include "detector/log.h"
#include "detector/pipeline.h"
#include "detector/publisher.h"
#include "detector/store.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define OUTBOX_SCAN_DEPTH 10000
#define MAX_HANDLES 4096

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct daemon {
    const fs_config_t *cfg;
    fs_store_t *store;
    fs_pipeline_t *pipeline;
    fs_publisher_t *publisher;
    fs_consumer_t *consumer;
    int store_down;
    int64_t now_ms;
    /* (topic, partition) -> pipeline handle, for the message path. */
    struct {
        const char *topic; /* cfg's topic strings, compared by pointer first */
        int32_t partition;
        int handle;
    } handles[MAX_HANDLES];
    int n_handles;
    /* outbox recovery */
    char **pending_ids;
    char **pending_messages;
    size_t n_pending;
} daemon_t;

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

static void sink_alert(void *opaque, const char *id, const char *fingerprint,
                       const char *message)
{
    daemon_t *d = opaque;
    char q[64];
    while (fs_publisher_alert(d->publisher, id, fingerprint, message) != 0) {
        fs_publisher_poll(d->publisher);
        sleep_ms(10);
    }
    fs_log(FS_LOG_INFO, "alert_published", "id=%s fingerprint=%s", fs_log_quote(id, q, sizeof q),
           fingerprint);
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
        if (stop_requested)
            break;
        sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    int handle = fs_pipeline_add_partition(d->pipeline, topic, partition, kind, stored);
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

static int flush_now(daemon_t *d);

static void on_revoking(void *opaque)
{
    daemon_t *d = opaque;
    /* Commit what belongs to the partitions before another instance takes
     * them. If that fails, drop it: the next owner re-reads from the store. */
    if (flush_now(d) != FS_STORE_OK)
        fs_pipeline_reset(d->pipeline);
    for (int i = 0; i < d->n_handles; i++)
        fs_pipeline_remove_partition(d->pipeline, d->handles[i].handle);
}

static int handle_of(const daemon_t *d, const char *topic, int32_t partition)
{
    for (int i = 0; i < d->n_handles; i++)
        if (d->handles[i].partition == partition && strcmp(d->handles[i].topic, topic) == 0)
            return d->handles[i].handle;
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
    (void)kind;
    return handle >= 0 && fs_pipeline_message(d->pipeline, handle, offset, payload, len,
                                               d->now_ms) == FS_PIPELINE_AHEAD;
}

/* ---- flush and recovery ---- */

static void add_commit(void *opaque, const char *topic, int32_t partition, int64_t stored)
{
    daemon_t *d = opaque;
    if (stored >= 0)
        fs_consumer_commit_add(d->consumer, topic, partition, stored + 1);
}

static int flush_now(daemon_t *d)
{
    char err[512], q[600];
    fs_publisher_poll(d->publisher);
    int rc = fs_pipeline_flush(d->pipeline, err, sizeof err);
    if (rc == FS_STORE_OK) {
        if (d->consumer) {
            fs_pipeline_stored_offsets(d->pipeline, add_commit, d);
            fs_consumer_commit_send(d->consumer);
        }
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
        fs_log(FS_LOG_ERROR, rc == FS_STORE_EFENCE ? "store_fenced" : "store_error",
               "reason=%s", fs_log_quote(err, q, sizeof q));
    }
    return rc;
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
    const char *p = strstr(message, "\"fingerprint\":\"");
    size_t n = 0;
    if (p)
        for (p += 15; *p && *p != '"' && n + 1 < size; p++)
            out[n++] = *p;
    out[n] = '\0';
}

/*
 * Loads open alerts and the outbox; sends the outbox messages that are not
 * on the alerts topic yet and marks the others delivered.
 */
static int restore(daemon_t *d)
{
    char err[512], q[600];
    int64_t backoff = BACKOFF_MIN_MS;
    while (fs_pipeline_restore(d->pipeline, collect_pending, d, err, sizeof err) !=
           FS_STORE_OK) {
        if (!d->store_down)
            fs_log(FS_LOG_WARN, "store_unavailable", "during=start reason=%s",
                   fs_log_quote(err, q, sizeof q));
        d->store_down = 1;
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

    d->store = fs_store_open(cfg, err, sizeof err);
    if (!d->store) {
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
        goto done;
    }
    fs_pipeline_sink_t sink = {d, sink_dead_letter, sink_alert};
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
    int64_t backoff = BACKOFF_MIN_MS;
    fs_pipeline_stats_t prev = {0};
    uint64_t prev_trips = 0;
    while (!stop_requested) {
        d->now_ms = wall_ms();
        /* Paused partitions deliver nothing, but polling still serves
         * rebalances; what was fetched before the pause is processed. */
        fs_consumer_poll(d->consumer, 100, 4096);
        fs_publisher_poll(d->publisher);
        /* While consumption is paused, silence is ours, not the partitions':
         * their idle clocks stand still. */
        if (d->store_down)
            fs_pipeline_touch(d->pipeline, wall_ms());
        else
            fs_pipeline_tick(d->pipeline, wall_ms());
        int64_t now = mono_ms();
        if ((!d->store_down && now - last_flush >= cfg->window_flush_ms) ||
            (d->store_down && now >= next_retry)) {
            int rc = flush_now(d);
            last_flush = now;
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
    }

    fs_log(FS_LOG_INFO, "stopping", NULL);
    /* Final batch, then wait for the alerts it publishes, then a last batch
     * that clears them from the outbox. A store that stays down past the
     * deadline loses nothing: the next start replays from the stored offsets. */
    int64_t deadline = mono_ms() + 5000;
    status = 0;
    while (flush_now(d) == FS_STORE_EUNAVAILABLE && mono_ms() < deadline)
        sleep_ms(200);
    fs_publisher_flush(d->publisher, 3000);
    flush_now(d);
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
    fs_pipeline_free(d->pipeline);
    fs_store_free(d->store);
    free(d->pending_ids);
    free(d->pending_messages);
    fs_log(FS_LOG_INFO, "stopped", "status=%d events=%llu store_round_trips=%llu", status,
           (unsigned long long)final_events, (unsigned long long)final_trips);
    free(d);
    return status;
}
