/*
 * check_pipeline.c: the pipeline over the in-memory store: dead letters,
 * late and future events, offsets and fences, watermark alignment between
 * partitions, and a failure burst that fires once and resolves once.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "detector/pipeline.h"
#include "detector/store_memory.h"

#define T0 1795000000000LL
#define NOW (T0 + 86400000LL)

typedef struct sink_log {
    int dead, alerts_firing, alerts_resolved;
    int evaluating;     /* inside a bucket's evaluation */
    uint64_t evaluated; /* evaluations begun and ended */
    char last_reason[128];
    char last_alert[8192];
    fs_pipeline_t *p;
} sink_log_t;

static void on_dead(void *opaque, const char *topic, int32_t partition, int64_t offset,
                    const void *payload, size_t len, const char *reason)
{
    sink_log_t *log = opaque;
    (void)topic, (void)partition, (void)offset, (void)payload, (void)len;
    log->dead++;
    snprintf(log->last_reason, sizeof log->last_reason, "%s", reason);
}

static void on_alert(void *opaque, const char *id, const char *fp, const char *message)
{
    sink_log_t *log = opaque;
    (void)fp;
    if (strstr(message, "\"status\":\"firing\""))
        log->alerts_firing++;
    else
        log->alerts_resolved++;
    snprintf(log->last_alert, sizeof log->last_alert, "%s", message);
    fs_pipeline_delivered(log->p, id);
}

/* Each closed bucket's evaluation is announced, then finished, never nested. */
static void on_evaluating(void *opaque, int done)
{
    sink_log_t *log = opaque;
    ck_assert_int_eq(log->evaluating, !!done);
    log->evaluating = !done;
    if (done)
        log->evaluated++;
}

typedef struct fixture {
    fs_config_t *cfg;
    fs_store_t *store;
    fs_pipeline_t *p;
    sink_log_t log;
} fixture_t;

static void setup(fixture_t *f, const char *const *overrides, size_t n)
{
    char err[256];
    fs_config_diag_t diag = {0};
    memset(f, 0, sizeof *f);
    f->cfg = fs_config_new();
    ck_assert_ptr_nonnull(f->cfg);
    fs_config_set_default(f->cfg, "store", "memory");
    fs_config_set_default(f->cfg, "dimensions", "country");
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(fs_config_override(f->cfg, overrides[i], (int)i + 1, &diag), 0);
    ck_assert_int_eq(fs_config_finish(f->cfg, &diag), 0);
    f->store = fs_store_open(f->cfg, err, sizeof err);
    fs_pipeline_sink_t sink = {&f->log, on_dead, on_alert, on_evaluating};
    f->p = fs_pipeline_new(f->cfg, f->store, &sink, err, sizeof err);
    ck_assert_msg(f->p != NULL, "%s", err);
    f->log.p = f->p;
}

static void teardown(fixture_t *f)
{
    fs_pipeline_free(f->p);
    fs_store_free(f->store);
    fs_config_free(f->cfg);
}

static int send(fixture_t *f, int handle, int64_t offset, int64_t ts, const char *country,
                int failed)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "{\"ts\":%lld,\"outcome\":\"%s\",\"country\":\"%s\"}",
                     (long long)ts, failed ? "failed" : "ok", country);
    return fs_pipeline_message(f->p, handle, offset, msg, (size_t)n, NOW);
}

static fs_pipeline_stats_t stats(fixture_t *f)
{
    fs_pipeline_stats_t s;
    fs_pipeline_stats(f->p, &s);
    return s;
}

START_TEST(invalid_late_and_future_events_are_counted_not_applied)
{
    fixture_t f;
    setup(&f, NULL, 0);
    int h = fs_pipeline_add_partition(f.p, "plays", 0, FS_EVENT_PLAYBACK, -1);
    ck_assert_int_eq(fs_pipeline_message(f.p, h, 0, "nope", 4, NOW), FS_PIPELINE_TAKEN);
    ck_assert_int_eq(f.log.dead, 1);
    ck_assert_str_eq(f.log.last_reason, "not valid JSON");
    send(&f, h, 1, T0, "SE", 0);
    /* Move the watermark 30 s on: the buckets before T0+25s close. */
    send(&f, h, 2, T0 + 30000, "SE", 0);
    send(&f, h, 3, T0 + 1000, "SE", 0); /* late */
    send(&f, h, 4, NOW + 3600000, "SE", 0); /* an hour in the future */
    fs_pipeline_stats_t s = stats(&f);
    ck_assert_uint_eq(s.invalid, 1);
    ck_assert_uint_eq(s.late, 1);
    ck_assert_uint_eq(s.future, 1);
    ck_assert_uint_eq(s.events, 2);
    ck_assert_int_eq(s.watermark_ms, T0 + 25000);
    /* Every closed bucket was evaluated through the sink's hook (timed by the daemon). */
    ck_assert_uint_gt(s.buckets_closed, 0);
    ck_assert_uint_eq(f.log.evaluated, s.buckets_closed);
    ck_assert_int_eq(f.log.evaluating, 0);
    /* A message at or below the last offset is ignored. */
    send(&f, h, 4, T0 + 30000, "SE", 0);
    ck_assert_uint_eq(stats(&f).events, 2);
    /* The batch being gathered holds the 2 applied events (what
     * window.flush_events bounds), and none once it went to the store. */
    char err[256];
    ck_assert_uint_eq(fs_pipeline_batch_events(f.p), 2);
    ck_assert_int_eq(fs_pipeline_flush(f.p, err, sizeof err), FS_STORE_OK);
    ck_assert_uint_eq(fs_pipeline_batch_events(f.p), 0);
    send(&f, h, 5, T0 + 30001, "SE", 1);
    ck_assert_uint_eq(fs_pipeline_batch_events(f.p), 1);
    teardown(&f);
}
END_TEST

START_TEST(silence_of_all_partitions_moves_event_time_with_the_clock)
{
    fixture_t f;
    setup(&f, NULL, 0);
    int h = fs_pipeline_add_partition(f.p, "plays", 0, FS_EVENT_PLAYBACK, -1);
    char msg[128];
    int n = snprintf(msg, sizeof msg, "{\"ts\":%lld,\"outcome\":\"ok\"}", T0);
    ck_assert_int_eq(fs_pipeline_message(f.p, h, 0, msg, (size_t)n, T0), FS_PIPELINE_TAKEN);
    fs_pipeline_tick(f.p, T0 + 1000);
    ck_assert_int_eq(stats(&f).watermark_ms, 0); /* nothing closed: the partition speaks */
    /* 5 minutes of silence (wall clock): buckets close up to now - lateness -
     * idle timeout, a horizon per tick. */
    for (int i = 0; i < 10; i++)
        fs_pipeline_tick(f.p, T0 + 300000);
    ck_assert_int_eq(stats(&f).watermark_ms, T0 + 300000 - 5000 - 10000);
    teardown(&f);
}
END_TEST

START_TEST(offsets_are_fenced)
{
    fixture_t f;
    char err[256];
    setup(&f, NULL, 0);
    int h = fs_pipeline_add_partition(f.p, "plays", 3, FS_EVENT_PLAYBACK, -1);
    send(&f, h, 10, T0, "SE", 0);
    ck_assert_int_eq(fs_pipeline_flush(f.p, err, sizeof err), FS_STORE_OK);
    int64_t stored;
    ck_assert_int_eq(fs_store_offset(f.store, "plays", 3, &stored, err, sizeof err), 0);
    ck_assert_int_eq(stored, 10);
    ck_assert(!fs_pipeline_dirty(f.p));

    /* A second pipeline that believes nothing is stored is refused. */
    fs_pipeline_sink_t sink = {&f.log, on_dead, on_alert, NULL};
    fs_pipeline_t *other = fs_pipeline_new(f.cfg, f.store, &sink, err, sizeof err);
    int h2 = fs_pipeline_add_partition(other, "plays", 3, FS_EVENT_PLAYBACK, -1);
    send(&(fixture_t){.p = other}, h2, 11, T0, "SE", 0);
    ck_assert_int_eq(fs_pipeline_flush(other, err, sizeof err), FS_STORE_EFENCE);
    ck_assert_int_eq(fs_store_offset(f.store, "plays", 3, &stored, err, sizeof err), 0);
    ck_assert_int_eq(stored, 10);
    fs_pipeline_free(other);
    teardown(&f);
}
END_TEST

START_TEST(an_empty_partition_holds_nothing_back)
{
    fixture_t f;
    setup(&f, NULL, 0);
    int a = fs_pipeline_add_partition(f.p, "plays", 0, FS_EVENT_PLAYBACK, -1);
    int b = fs_pipeline_add_partition(f.p, "plays", 1, FS_EVENT_PLAYBACK, -1);
    ck_assert_int_eq(send(&f, a, 0, T0, "SE", 0), FS_PIPELINE_AHEAD);
    fs_pipeline_partition_at_end(f.p, b);
    ck_assert_int_eq(send(&f, a, 0, T0, "SE", 0), FS_PIPELINE_TAKEN);
    teardown(&f);
}
END_TEST

START_TEST(a_partition_ahead_waits_for_the_slow_one)
{
    fixture_t f;
    setup(&f, NULL, 0);
    int slow = fs_pipeline_add_partition(f.p, "plays", 0, FS_EVENT_PLAYBACK, -1);
    int fast = fs_pipeline_add_partition(f.p, "plays", 1, FS_EVENT_PLAYBACK, -1);
    /* Nothing starts before every partition has shown where it is. */
    ck_assert_int_eq(send(&f, slow, 0, T0, "SE", 0), FS_PIPELINE_AHEAD);
    ck_assert_int_eq(send(&f, fast, 0, T0 + 1000, "SE", 0), FS_PIPELINE_TAKEN);
    ck_assert_int_eq(send(&f, slow, 0, T0, "SE", 0), FS_PIPELINE_TAKEN);
    /* Two minutes ahead, beyond the 60 s horizon: it must wait. */
    ck_assert_int_eq(send(&f, fast, 1, T0 + 120000, "SE", 0), FS_PIPELINE_AHEAD);
    ck_assert_uint_eq(stats(&f).events, 2);
    /* The slow partition catches up; nothing of it is late. */
    for (int i = 1; i <= 100; i++)
        ck_assert_int_eq(send(&f, slow, i, T0 + i * 1000, "SE", 0), FS_PIPELINE_TAKEN);
    ck_assert_uint_eq(stats(&f).late, 0);
    ck_assert_int_eq(send(&f, fast, 1, T0 + 120000, "SE", 0), FS_PIPELINE_TAKEN);
    /* A jump of the slow partition waits for the other to pass 400 s, or to
     * be known to have nothing more: a partition at its end has read all
     * it holds, so waiting for it (until its idle timeout) would only stall
     * the other one. */
    ck_assert_int_eq(send(&f, slow, 101, T0 + 400000, "SE", 0), FS_PIPELINE_AHEAD);
    fs_pipeline_partition_at_end(f.p, fast);
    ck_assert_int_eq(send(&f, slow, 101, T0 + 400000, "SE", 0), FS_PIPELINE_TAKEN);
    ck_assert_uint_eq(stats(&f).late, 0);
    teardown(&f);
}
END_TEST

/* The message of one partition at (ts, offset) at wall clock now. */
static int send_at(fixture_t *f, int handle, int64_t offset, int64_t ts, int64_t now)
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "{\"ts\":%lld,\"outcome\":\"ok\"}", (long long)ts);
    return fs_pipeline_message(f->p, handle, offset, msg, (size_t)n, now);
}

START_TEST(a_waiting_partition_is_not_idle)
{
    /* Two partitions wait beyond the horizon for a third that has gone
     * silent without reaching its end. Waiting with a message is not
     * silence: when the third is idle, the watermark follows the waiting
     * partitions, not the wall clock, and their events are not late. */
    fixture_t f;
    setup(&f, NULL, 0);
    int a = fs_pipeline_add_partition(f.p, "plays", 0, FS_EVENT_PLAYBACK, -1);
    int b = fs_pipeline_add_partition(f.p, "plays", 1, FS_EVENT_PLAYBACK, -1);
    int c = fs_pipeline_add_partition(f.p, "plays", 2, FS_EVENT_PLAYBACK, -1);
    fs_pipeline_tick(f.p, NOW);
    ck_assert_int_eq(send_at(&f, c, 0, T0, NOW), FS_PIPELINE_AHEAD);
    ck_assert_int_eq(send_at(&f, a, 0, T0, NOW), FS_PIPELINE_AHEAD);
    ck_assert_int_eq(send_at(&f, b, 0, T0, NOW), FS_PIPELINE_TAKEN);
    ck_assert_int_eq(send_at(&f, a, 0, T0, NOW), FS_PIPELINE_TAKEN);
    ck_assert_int_eq(send_at(&f, c, 0, T0, NOW), FS_PIPELINE_TAKEN);
    for (int i = 1; i <= 10; i++)
        ck_assert_int_eq(send_at(&f, c, i, T0 + i * 1000, NOW), FS_PIPELINE_TAKEN);
    /* a and b jump 100 s ahead and wait for c, offered again now and then
     * (as the consumer does on every poll). */
    for (int64_t t = NOW; t <= NOW + 9000; t += 3000) {
        ck_assert_int_eq(send_at(&f, a, 1, T0 + 100000, t), FS_PIPELINE_AHEAD);
        ck_assert_int_eq(send_at(&f, b, 1, T0 + 100000, t), FS_PIPELINE_AHEAD);
        fs_pipeline_tick(f.p, t);
    }
    /* c has been silent for 12 s: idle. Ticks close what a and b allow,
     * not a horizon per tick after the wall clock. Then a and b go on, and
     * their events a little out of order (within the lateness) are on time. */
    for (int i = 0; i < 5; i++)
        fs_pipeline_tick(f.p, NOW + 12000 + i * 100);
    ck_assert_int_eq(send_at(&f, a, 1, T0 + 100000, NOW + 12500), FS_PIPELINE_TAKEN);
    ck_assert_int_eq(send_at(&f, b, 1, T0 + 100000, NOW + 12500), FS_PIPELINE_TAKEN);
    ck_assert_int_eq(send_at(&f, a, 2, T0 + 97000, NOW + 12500), FS_PIPELINE_TAKEN);
    ck_assert_int_eq(send_at(&f, b, 2, T0 + 96000, NOW + 12500), FS_PIPELINE_TAKEN);
    ck_assert_uint_eq(stats(&f).late, 0);
    ck_assert_uint_eq(stats(&f).events, 17);
    teardown(&f);
}
END_TEST

START_TEST(burst_fires_once_and_resolves_once)
{
    fixture_t f;
    char err[256];
    const char *x[] = {"detect.warmup=2m"};
    setup(&f, x, 1);
    int h = fs_pipeline_add_partition(f.p, "plays", 0, FS_EVENT_PLAYBACK, -1);
    int64_t offset = 0;
    unsigned rng = 12345;
    /* 20 minutes at 200 attempts/s: 1% failures, 20% from minute 10 to 12. */
    for (int sec = 0; sec < 1200; sec++) {
        int burst = sec >= 600 && sec < 720;
        for (int i = 0; i < 200; i++) {
            rng = rng * 1103515245u + 12345u;
            int failed = (int)((rng >> 8) % 1000) < (burst ? 200 : 10);
            send(&f, h, offset++, T0 + sec * 1000 + i * 5, "BR", failed);
        }
        if (sec % 5 == 0)
            ck_assert_int_eq(fs_pipeline_flush(f.p, err, sizeof err), FS_STORE_OK);
    }
    fs_pipeline_drain(f.p);
    ck_assert_int_eq(fs_pipeline_flush(f.p, err, sizeof err), FS_STORE_OK);
    /* All traffic and country=BR both move; country=BR explains it: one alert. */
    ck_assert_int_eq(f.log.alerts_firing, 1);
    ck_assert_int_eq(f.log.alerts_resolved, 1);
    ck_assert_ptr_nonnull(strstr(f.log.last_alert, "\"slice\":{\"country\":\"BR\"}"));
    ck_assert_uint_eq(stats(&f).open_alerts, 0);
    ck_assert_ptr_nonnull(strstr(f.log.last_alert, "PlaybackFailureBurst"));
    teardown(&f);
}
END_TEST

/* Collects every alert message of a pipeline, in order. */
typedef struct transcript {
    char *text;
    size_t len;
    fs_pipeline_t *p;
} transcript_t;

static void dead_ignore(void *opaque, const char *topic, int32_t partition, int64_t offset,
                        const void *payload, size_t len, const char *reason)
{
    (void)opaque, (void)topic, (void)partition, (void)offset, (void)payload, (void)len,
        (void)reason;
}

static void record_alert(void *opaque, const char *id, const char *fp, const char *message)
{
    transcript_t *t = opaque;
    size_t n = strlen(message);
    (void)fp;
    t->text = realloc(t->text, t->len + n + 2);
    memcpy(t->text + t->len, message, n);
    t->text[t->len + n] = '\n';
    t->len += n + 1;
    t->text[t->len] = '\0';
    fs_pipeline_delivered(t->p, id);
}

/* The workload of the restart test: one message per call, in order. */
static int workload_message(int64_t i, char *msg, size_t size)
{
    /* 20 minutes at 100 attempts/s in 4 countries; BR fails x15 from
     * minute 10 to 12. */
    static const char *const countries[] = {"US", "BR", "DE", "SE"};
    int64_t sec = i / 100, k = i % 100;
    const char *country = countries[k % 4];
    unsigned h = (unsigned)(i * 2654435761u);
    int rate = (sec >= 600 && sec < 720 && k % 4 == 1) ? 150 : 10;
    int failed = (int)(h % 1000) < rate;
    return snprintf(msg, size, "{\"ts\":%lld,\"outcome\":\"%s\",\"country\":\"%s\","
                    "\"user_id\":\"u%lld\"}",
                    (long long)(T0 + sec * 1000 + k * 10), failed ? "failed" : "ok", country,
                    (long long)(i % 5000));
}

static void run_workload(fs_pipeline_t *p, int handle, int64_t from, int64_t to)
{
    char msg[256], err[256];
    for (int64_t i = from; i < to; i++) {
        int n = workload_message(i, msg, sizeof msg);
        ck_assert_int_eq(fs_pipeline_message(p, handle, i, msg, (size_t)n, NOW), FS_PIPELINE_TAKEN);
        if (i % 500 == 499)
            ck_assert_int_eq(fs_pipeline_flush(p, err, sizeof err), FS_STORE_OK);
    }
}

/* The restart workload's alerts, with the pipeline freed and restored
 * from its store after the batch that ends at message crash_at (or no
 * restart when crash_at is 0). */
static char *transcript_of(const char *const *x, size_t n_x, int64_t crash_at)
{
    char err[256];
    const int64_t total = 1200 * 100;
    fixture_t f;
    transcript_t t = {0};

    setup(&f, x, n_x);
    fs_pipeline_sink_t sink = {&t, dead_ignore, record_alert, NULL};
    fs_pipeline_t *p = fs_pipeline_new(f.cfg, f.store, &sink, err, sizeof err);
    t.p = p;
    int h = fs_pipeline_add_partition(p, "plays", 0, FS_EVENT_PLAYBACK, -1);
    if (crash_at > 0) {
        run_workload(p, h, 0, crash_at);
        ck_assert_int_eq(fs_pipeline_flush(p, err, sizeof err), FS_STORE_OK);
        fs_pipeline_free(p);

        p = fs_pipeline_new(f.cfg, f.store, &sink, err, sizeof err);
        t.p = p;
        ck_assert_int_eq(fs_pipeline_restore(p, NULL, NULL, err, sizeof err), FS_STORE_OK);
        fs_pipeline_stats_t s;
        fs_pipeline_stats(p, &s);
        ck_assert_uint_gt(s.buckets_restored, 0);
        ck_assert_uint_eq(s.open_alerts, 1); /* country=BR, which explains all traffic */
        int64_t stored;
        ck_assert_int_eq(fs_store_offset(f.store, "plays", 0, &stored, err, sizeof err), 0);
        ck_assert_int_eq(stored, crash_at - 1);
        h = fs_pipeline_add_partition(p, "plays", 0, FS_EVENT_PLAYBACK, stored);
    }
    run_workload(p, h, crash_at, total);
    fs_pipeline_drain(p);
    ck_assert_int_eq(fs_pipeline_flush(p, err, sizeof err), FS_STORE_OK);
    fs_pipeline_stats_t s;
    fs_pipeline_stats(p, &s);
    ck_assert_uint_eq(s.late, 0);
    fs_pipeline_free(p);
    teardown(&f);
    ck_assert_ptr_nonnull(t.text);
    return t.text;
}

START_TEST(a_restart_resumes_warm_and_says_the_same)
{
    const char *x[] = {"detect.warmup=2m", "detect.snapshot_interval=1m"};
    char *ref = transcript_of(x, 2, 0);
    ck_assert_ptr_nonnull(strstr(ref, "\"status\":\"resolved\""));
    /* A restart in the middle of the incident, right after a batch: the
     * warm models and the restored open buckets make it invisible, byte for
     * byte. */
    char *run = transcript_of(x, 2, 660 * 100);
    ck_assert_str_eq(run, ref);
    free(run);
    free(ref);
}
END_TEST

START_TEST(a_restart_between_snapshot_parts_says_the_same)
{
    /* Snapshots of the 5 slices in parts of 2 (3 batches of 5 s each): a
     * restart at every 5 s of a minute meets each phase of the writing, and
     * resumes from the last snapshot written whole. */
    const char *x[] = {"detect.warmup=2m", "detect.snapshot_interval=1m"};
    const char *parts[] = {"detect.warmup=2m", "detect.snapshot_interval=1m",
                           "detect.snapshot_chunk=2"};
    char *ref = transcript_of(x, 2, 0);
    for (int64_t sec = 655; sec < 715; sec += 5) {
        char *run = transcript_of(parts, 3, sec * 100);
        ck_assert_msg(strcmp(run, ref) == 0, "restart at %llds differs", (long long)sec);
        free(run);
    }
    free(ref);
}
END_TEST

/* The meta hash's closed_until and snapshot_at, and the snapshot's size. */
typedef struct stored_state {
    int64_t closed_until, snapshot_at;
    size_t n_snapshot;
} stored_state_t;

static int read_meta(void *opaque, const char *key, const void *value, size_t len)
{
    stored_state_t *st = opaque;
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)len, (const char *)value);
    if (strcmp(key, "closed_until") == 0)
        st->closed_until = strtoll(text, NULL, 10);
    else if (strcmp(key, "snapshot_at") == 0)
        st->snapshot_at = strtoll(text, NULL, 10);
    return 0;
}

static int count_entry(void *opaque, const char *key, const void *value, size_t len)
{
    (void)key, (void)value, (void)len;
    ((stored_state_t *)opaque)->n_snapshot++;
    return 0;
}

static stored_state_t stored_state(fs_store_t *store)
{
    char err[256];
    stored_state_t st = {INT64_MIN, INT64_MIN, 0};
    ck_assert_int_eq(fs_store_read_hash(store, FS_STORE_META, read_meta, &st, err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(
        fs_store_read_hash(store, FS_STORE_SNAPSHOT, count_entry, &st, err, sizeof err),
        FS_STORE_OK);
    return st;
}

START_TEST(a_snapshot_in_parts_replaces_the_last_when_whole)
{
    /* With parts of k slices, a snapshot of n slices takes ceil(n/k)
     * batches: it becomes the stored one with its last part, stamped with
     * the watermark of the batch it was taken in, and the hash never holds
     * part of one. */
    for (int chunk = 1; chunk <= 5; chunk++) {
        char opt[64], err[256];
        snprintf(opt, sizeof opt, "detect.snapshot_chunk=%d", chunk);
        const char *x[] = {"detect.warmup=2m", "detect.snapshot_interval=1m", opt};
        fixture_t f;
        setup(&f, x, 3);
        int h = fs_pipeline_add_partition(f.p, "plays", 0, FS_EVENT_PLAYBACK, -1);
        int n_flush = 0, changes = 0;
        int64_t closed[400], last_at = INT64_MIN;
        size_t last_n = 0;
        char msg[256];
        for (int64_t i = 0; i < 300 * 100; i++) {
            int n = workload_message(i, msg, sizeof msg);
            ck_assert_int_eq(fs_pipeline_message(f.p, h, i, msg, (size_t)n, NOW),
                             FS_PIPELINE_TAKEN);
            if (i % 500 != 499)
                continue;
            ck_assert_int_eq(fs_pipeline_flush(f.p, err, sizeof err), FS_STORE_OK);
            stored_state_t st = stored_state(f.store);
            closed[n_flush] = st.closed_until;
            if (st.snapshot_at != last_at) {
                int batches = st.n_snapshot ? (int)(st.n_snapshot + chunk - 1) / chunk : 1;
                ck_assert_int_ge(n_flush, batches - 1);
                ck_assert_int_eq(st.snapshot_at, closed[n_flush - (batches - 1)]);
                if (last_at != INT64_MIN)
                    ck_assert_int_ge(st.snapshot_at - last_at, 60000);
                ck_assert_uint_ge(st.n_snapshot, last_n);
                last_at = st.snapshot_at;
                last_n = st.n_snapshot;
                changes++;
            }
            ck_assert_uint_eq(st.n_snapshot, last_n);
            n_flush++;
        }
        ck_assert_uint_eq(last_n, 5); /* all traffic and the 4 countries */
        ck_assert_int_ge(changes, 3); /* 5 minutes, one snapshot a minute */
        teardown(&f);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("memory store");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, invalid_late_and_future_events_are_counted_not_applied);
    tcase_add_test(tc, silence_of_all_partitions_moves_event_time_with_the_clock);
    tcase_add_test(tc, offsets_are_fenced);
    tcase_add_test(tc, an_empty_partition_holds_nothing_back);
    tcase_add_test(tc, a_partition_ahead_waits_for_the_slow_one);
    tcase_add_test(tc, a_waiting_partition_is_not_idle);
    tcase_add_test(tc, burst_fires_once_and_resolves_once);
    tcase_add_test(tc, a_restart_resumes_warm_and_says_the_same);
    tcase_add_test(tc, a_restart_between_snapshot_parts_says_the_same);
    tcase_add_test(tc, a_snapshot_in_parts_replaces_the_last_when_whole);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
