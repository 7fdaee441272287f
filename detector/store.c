/*
 * store.c: opens the store the configuration names, and the asynchronous
 * store that applies batches on a thread of its own (see store.h).
 *
 * The asynchronous store lets the daemon go on consuming and aggregating
 * while a batch is applied: commit() copies the batch into one allocation
 * and hands it to the store thread, which applies it through its own store
 * (its own connection) and keeps the outcome for fs_store_async_poll(). At
 * most one batch is in flight, so the next batch, built meanwhile, continues
 * from this one's offsets and is only sent once this one has landed: the
 * fence chain is the same as with synchronous commits.
 */
#include "detector/store.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector/store_memory.h"
#include "detector/store_redis.h"

fs_store_t *fs_store_open(const fs_config_t *cfg, char *err, size_t err_size)
{
    if (cfg->store == FS_STORE_MEMORY)
        /* Counters reach as far back as a restart reads: the snapshot
         * interval plus the open buckets. */
        return fs_store_memory_open(cfg->redis_retention_ms,
                                    cfg->detect_snapshot_ms + 2 * cfg->window_horizon_ms, err,
                                    err_size);
    return fs_store_redis_open(cfg, err, err_size);
}

/* ---- asynchronous commits ---- */

typedef enum slot_state {
    SLOT_EMPTY = 0, /* no batch */
    SLOT_QUEUED,    /* handed over, the thread has not finished with it */
    SLOT_DONE,      /* applied or failed: the outcome waits for poll */
    SLOT_FAILED,    /* failed retriably and reported: kept for a retry */
} slot_state_t;

typedef struct async_store {
    fs_store_t base; /* first: fs_store_t * and async_store_t * convert */
    fs_store_t *reader;
    fs_store_t *writer; /* the thread's only */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* to the thread: a batch is queued, or stop */
    pthread_cond_t landed; /* to the caller: the batch is done */
    int stop;
    /* Under lock. */
    slot_state_t state;
    fs_batch_t *batch; /* the copy in flight (one allocation), or NULL */
    int rc;
    char err[512];
    double seconds;        /* of the last attempt */
    uint64_t writer_trips; /* the writer's round trips after its last call */
    uint64_t writer_failures; /* the writer's failed calls after its last call */
} async_store_t;

static const fs_store_ops_t async_ops;

/* Adds n to *size, refusing to wrap around. */
static int add_size(size_t *size, size_t n)
{
    if (*size > SIZE_MAX - n)
        return -1;
    *size += n;
    return 0;
}

static int add_array(size_t *size, size_t n, size_t elem)
{
    if (n > 0 && elem > SIZE_MAX / n)
        return -1;
    /* Arrays start aligned for any member type. */
    size_t rest = *size % _Alignof(max_align_t);
    if (rest && add_size(size, _Alignof(max_align_t) - rest) != 0)
        return -1;
    return add_size(size, n * elem);
}

static int add_str(size_t *size, const char *s)
{
    return s ? add_size(size, strlen(s) + 1) : 0;
}

/* A bump allocator over the copy's one block, sized by batch_size(). */
typedef struct arena {
    char *base;
    size_t used;
} arena_t;

static void *take_array(arena_t *a, size_t n, size_t elem)
{
    size_t rest = a->used % _Alignof(max_align_t);
    if (rest)
        a->used += _Alignof(max_align_t) - rest;
    void *p = a->base + a->used;
    a->used += n * elem;
    return p;
}

static const char *take_bytes(arena_t *a, const void *src, size_t len)
{
    char *p = a->base + a->used;
    if (len)
        memcpy(p, src, len);
    a->used += len;
    return p;
}

static const char *take_str(arena_t *a, const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s) + 1;
    char *p = a->base + a->used;
    memcpy(p, s, len);
    a->used += len;
    return p;
}

/* The bytes a deep copy of b needs, or 0 when that does not fit a size_t. */
static size_t batch_size(const fs_batch_t *b)
{
    size_t size = sizeof *b, i;
    int bad = add_array(&size, b->n_counters, sizeof *b->counters) ||
              add_array(&size, b->n_users, sizeof *b->users) ||
              add_array(&size, b->n_offsets, sizeof *b->offsets) ||
              add_array(&size, b->n_alerts, sizeof *b->alerts) ||
              add_array(&size, b->n_delivered, sizeof *b->delivered) ||
              add_array(&size, b->n_meta, sizeof *b->meta) ||
              add_array(&size, b->n_snapshot, sizeof *b->snapshot);
    for (i = 0; !bad && i < b->n_counters; i++)
        bad = add_str(&size, b->counters[i].slice);
    for (i = 0; !bad && i < b->n_users; i++)
        bad = add_str(&size, b->users[i].slice) || add_size(&size, b->users[i].user_len);
    for (i = 0; !bad && i < b->n_offsets; i++)
        bad = add_str(&size, b->offsets[i].topic);
    for (i = 0; !bad && i < b->n_alerts; i++)
        bad = add_str(&size, b->alerts[i].fingerprint) || add_str(&size, b->alerts[i].state) ||
              add_str(&size, b->alerts[i].id) || add_str(&size, b->alerts[i].message);
    for (i = 0; !bad && i < b->n_delivered; i++)
        bad = add_str(&size, b->delivered[i]);
    for (i = 0; !bad && i < b->n_meta; i++)
        bad = add_str(&size, b->meta[i].key) || add_size(&size, b->meta[i].len);
    for (i = 0; !bad && i < b->n_snapshot; i++)
        bad = add_str(&size, b->snapshot[i].key) || add_size(&size, b->snapshot[i].len);
    return bad ? 0 : size;
}

/* A deep copy of b in one allocation (free() it), or NULL. Arrays whose
 * count is not 0 must not be NULL (the stores refuse such batches anyway). */
static fs_batch_t *batch_copy(const fs_batch_t *b)
{
    size_t size = batch_size(b), i;
    if (size == 0)
        return NULL;
    arena_t a = {malloc(size), 0};
    if (!a.base)
        return NULL;
    fs_batch_t *c = take_array(&a, 1, sizeof *c);
    *c = *b;
    fs_counter_delta_t *counters = take_array(&a, b->n_counters, sizeof *counters);
    fs_user_add_t *users = take_array(&a, b->n_users, sizeof *users);
    fs_offset_advance_t *offsets = take_array(&a, b->n_offsets, sizeof *offsets);
    fs_alert_put_t *alerts = take_array(&a, b->n_alerts, sizeof *alerts);
    const char **delivered = take_array(&a, b->n_delivered, sizeof *delivered);
    fs_blob_put_t *meta = take_array(&a, b->n_meta, sizeof *meta);
    fs_blob_put_t *snapshot = take_array(&a, b->n_snapshot, sizeof *snapshot);
    for (i = 0; i < b->n_counters; i++) {
        counters[i] = b->counters[i];
        counters[i].slice = take_str(&a, b->counters[i].slice);
    }
    for (i = 0; i < b->n_users; i++) {
        users[i] = b->users[i];
        users[i].slice = take_str(&a, b->users[i].slice);
        users[i].user =
            b->users[i].user ? take_bytes(&a, b->users[i].user, b->users[i].user_len) : NULL;
    }
    for (i = 0; i < b->n_offsets; i++) {
        offsets[i] = b->offsets[i];
        offsets[i].topic = take_str(&a, b->offsets[i].topic);
    }
    for (i = 0; i < b->n_alerts; i++) {
        alerts[i].fingerprint = take_str(&a, b->alerts[i].fingerprint);
        alerts[i].state = take_str(&a, b->alerts[i].state);
        alerts[i].id = take_str(&a, b->alerts[i].id);
        alerts[i].message = take_str(&a, b->alerts[i].message);
    }
    for (i = 0; i < b->n_delivered; i++)
        delivered[i] = take_str(&a, b->delivered[i]);
    for (i = 0; i < b->n_meta; i++) {
        meta[i].key = take_str(&a, b->meta[i].key);
        meta[i].value = take_bytes(&a, b->meta[i].value, b->meta[i].len);
        meta[i].len = b->meta[i].len;
    }
    for (i = 0; i < b->n_snapshot; i++) {
        snapshot[i].key = take_str(&a, b->snapshot[i].key);
        snapshot[i].value = take_bytes(&a, b->snapshot[i].value, b->snapshot[i].len);
        snapshot[i].len = b->snapshot[i].len;
    }
    c->counters = counters;
    c->users = users;
    c->offsets = offsets;
    c->alerts = alerts;
    c->delivered = delivered;
    c->meta = meta;
    c->snapshot = snapshot;
    return c;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Whether a batch the fence refused had landed already: an earlier attempt
 * applied it but its reply was lost (the connection broke after sending).
 * The store then holds exactly the batch's last offsets.
 */
static int landed_before(fs_store_t *writer, const fs_batch_t *b)
{
    char err[256];
    if (b->n_offsets == 0)
        return 0;
    for (size_t i = 0; i < b->n_offsets; i++) {
        int64_t stored;
        if (fs_store_offset(writer, b->offsets[i].topic, b->offsets[i].partition, &stored, err,
                            sizeof err) != FS_STORE_OK ||
            stored != b->offsets[i].last)
            return 0;
    }
    return 1;
}

static void *store_thread(void *arg)
{
    async_store_t *s = arg;
    char err[sizeof s->err];
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stop && s->state != SLOT_QUEUED)
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->stop)
            break;
        fs_batch_t *b = s->batch;
        pthread_mutex_unlock(&s->lock);

        err[0] = '\0';
        double t0 = mono_s();
        int rc = fs_store_commit(s->writer, b, err, sizeof err);
        if (rc == FS_STORE_EFENCE && landed_before(s->writer, b))
            rc = FS_STORE_OK;
        double seconds = mono_s() - t0;
        uint64_t trips = fs_store_round_trips(s->writer);
        uint64_t failures = fs_store_failures(s->writer);

        pthread_mutex_lock(&s->lock);
        s->rc = rc;
        snprintf(s->err, sizeof s->err, "%s", err);
        s->seconds = seconds;
        s->writer_trips = trips;
        s->writer_failures = failures;
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&s->landed);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int async_commit(fs_store_t *store, const fs_batch_t *batch, char *err, size_t err_size)
{
    async_store_t *s = (async_store_t *)store;
    if (!batch) {
        snprintf(err, err_size, "async store: NULL batch");
        return FS_STORE_EINVALID;
    }
    pthread_mutex_lock(&s->lock);
    slot_state_t state = s->state;
    pthread_mutex_unlock(&s->lock);
    if (state != SLOT_EMPTY) {
        /* The caller keeps its state and tries again once the batch in
         * flight is settled (fs_store_async_busy tells when). */
        snprintf(err, err_size, "async store: the previous batch has not landed yet");
        return FS_STORE_EUNAVAILABLE;
    }
    fs_batch_t *copy = batch_copy(batch);
    if (!copy) {
        snprintf(err, err_size, "async store: out of memory copying a batch");
        return FS_STORE_EUNAVAILABLE;
    }
    pthread_mutex_lock(&s->lock);
    s->batch = copy;
    s->state = SLOT_QUEUED;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return FS_STORE_OK;
}

static int async_offset(fs_store_t *store, const char *topic, int32_t partition, int64_t *offset,
                        char *err, size_t err_size)
{
    return fs_store_offset(((async_store_t *)store)->reader, topic, partition, offset, err,
                           err_size);
}

static int async_buckets(fs_store_t *store, int64_t from_ms, int64_t to_ms, fs_store_bucket_cb cb,
                         void *opaque, char *err, size_t err_size)
{
    return fs_store_buckets(((async_store_t *)store)->reader, from_ms, to_ms, cb, opaque, err,
                            err_size);
}

static int async_alerts(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                        size_t err_size)
{
    return fs_store_alerts(((async_store_t *)store)->reader, cb, opaque, err, err_size);
}

static int async_outbox(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                        size_t err_size)
{
    return fs_store_outbox(((async_store_t *)store)->reader, cb, opaque, err, err_size);
}

static int async_affected_users(fs_store_t *store, const char *slice, int64_t from_ms,
                                int64_t to_ms, int64_t *count, char *err, size_t err_size)
{
    return fs_store_affected_users(((async_store_t *)store)->reader, slice, from_ms, to_ms, count,
                                   err, err_size);
}

static int async_read_hash(fs_store_t *store, fs_store_hash_t which, fs_store_blob_cb cb,
                           void *opaque, char *err, size_t err_size)
{
    return fs_store_read_hash(((async_store_t *)store)->reader, which, cb, opaque, err, err_size);
}

static int async_ping(fs_store_t *store, char *err, size_t err_size)
{
    return fs_store_ping(((async_store_t *)store)->reader, err, err_size);
}

static uint64_t async_round_trips(const fs_store_t *store)
{
    async_store_t *s = (async_store_t *)(uintptr_t)store;
    pthread_mutex_lock(&s->lock);
    uint64_t trips = s->writer_trips;
    pthread_mutex_unlock(&s->lock);
    return trips + fs_store_round_trips(s->reader);
}

/* The calls made through this store (the reader's included) and the
 * writer's commits on the store thread. */
static uint64_t async_failures(const fs_store_t *store)
{
    async_store_t *s = (async_store_t *)(uintptr_t)store;
    pthread_mutex_lock(&s->lock);
    uint64_t failures = s->writer_failures;
    pthread_mutex_unlock(&s->lock);
    return failures + s->base.failures;
}

static void async_free(fs_store_t *store)
{
    async_store_t *s = (async_store_t *)store;
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        pthread_cond_destroy(&s->wake);
        pthread_cond_destroy(&s->landed);
        pthread_mutex_destroy(&s->lock);
    }
    /* A batch that never landed is dropped: the next start resumes from the
     * stored offsets. */
    free(s->batch);
    fs_store_free(s->reader);
    fs_store_free(s->writer);
    free(s);
}

static const fs_store_ops_t async_ops = {
    .name = "async",
    .commit = async_commit,
    .offset = async_offset,
    .buckets = async_buckets,
    .alerts = async_alerts,
    .outbox = async_outbox,
    .affected_users = async_affected_users,
    .read_hash = async_read_hash,
    .ping = async_ping,
    .round_trips = async_round_trips,
    .failures = async_failures,
    .free = async_free,
};

fs_store_t *fs_store_async_new(fs_store_t *reader, fs_store_t *writer, char *err, size_t err_size)
{
    async_store_t *s = calloc(1, sizeof *s);
    if (!s || !reader || !writer) {
        snprintf(err, err_size, !s ? "out of memory" : "async store: no reader or writer");
        free(s);
        fs_store_free(reader);
        fs_store_free(writer);
        return NULL;
    }
    s->base.ops = &async_ops;
    s->reader = reader;
    s->writer = writer;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        snprintf(err, err_size, "async store: cannot create a mutex");
        goto fail_early;
    }
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        snprintf(err, err_size, "async store: cannot create a condition variable");
        goto fail_early;
    }
    if (pthread_cond_init(&s->landed, NULL) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        snprintf(err, err_size, "async store: cannot create a condition variable");
        goto fail_early;
    }
    /* Signals are the caller's business: the thread starts with all of them
     * blocked, so SIGTERM and friends reach the threads that handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&s->thread, NULL, store_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        pthread_cond_destroy(&s->landed);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        snprintf(err, err_size, "async store: cannot start its thread: %s", strerror(e));
        goto fail_early;
    }
    s->thread_started = 1;
    return &s->base;
fail_early:
    fs_store_free(reader);
    fs_store_free(writer);
    free(s);
    return NULL;
}

int fs_store_async_poll(fs_store_t *store, int wait_ms, double *seconds, char *err, size_t err_size)
{
    if (store->ops != &async_ops)
        return FS_STORE_IDLE;
    async_store_t *s = (async_store_t *)store;
    int rc;
    pthread_mutex_lock(&s->lock);
    if (s->state == SLOT_QUEUED && wait_ms > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (s->state == SLOT_QUEUED &&
               pthread_cond_timedwait(&s->landed, &s->lock, &until) != ETIMEDOUT)
            ;
    }
    switch (s->state) {
    case SLOT_EMPTY:
        rc = FS_STORE_IDLE;
        break;
    case SLOT_QUEUED:
    case SLOT_FAILED: /* reported once already; waits for fs_store_async_retry */
        rc = FS_STORE_PENDING;
        break;
    default:
        rc = s->rc;
        if (seconds)
            *seconds = s->seconds;
        snprintf(err, err_size, "%s", s->err);
        if (rc == FS_STORE_EUNAVAILABLE) {
            s->state = SLOT_FAILED;
        } else {
            free(s->batch);
            s->batch = NULL;
            s->state = SLOT_EMPTY;
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void fs_store_async_retry(fs_store_t *store)
{
    if (store->ops != &async_ops)
        return;
    async_store_t *s = (async_store_t *)store;
    pthread_mutex_lock(&s->lock);
    if (s->state == SLOT_FAILED) {
        s->state = SLOT_QUEUED;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
}

void fs_store_async_discard(fs_store_t *store)
{
    if (store->ops != &async_ops)
        return;
    async_store_t *s = (async_store_t *)store;
    pthread_mutex_lock(&s->lock);
    if (s->state == SLOT_FAILED || s->state == SLOT_DONE) {
        free(s->batch);
        s->batch = NULL;
        s->state = SLOT_EMPTY;
    }
    pthread_mutex_unlock(&s->lock);
}

int fs_store_async_busy(fs_store_t *store)
{
    if (store->ops != &async_ops)
        return 0;
    async_store_t *s = (async_store_t *)store;
    pthread_mutex_lock(&s->lock);
    int busy = s->state != SLOT_EMPTY;
    pthread_mutex_unlock(&s->lock);
    return busy;
}

int fs_store_is_async(const fs_store_t *store)
{
    return store && store->ops == &async_ops;
}
