/*
 * store_memory.c: the in-memory store (see store_memory.h).
 */
#include "detector/store_memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/hash.h"
#include "detector/hll.h"

#define MINUTE_MS 60000

typedef struct entry {
    char *key;
    char *value;
} entry_t;

typedef struct entries {
    entry_t *items;
    size_t n, cap;
} entries_t;

/* Binary values under string keys (meta and snapshot hashes). */
typedef struct blob {
    char *key;
    void *value;
    size_t len;
} blob_t;

typedef struct blobs {
    blob_t *items;
    size_t n, cap;
} blobs_t;

static void blobs_clear(blobs_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].key);
        free(b->items[i].value);
    }
    b->n = 0;
}

/* Adds an entry whose key is not in b yet. */
static int blobs_append(blobs_t *b, const char *key, const void *value, size_t len)
{
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, value, len);
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        blob_t *grown = realloc(b->items, cap * sizeof *grown);
        if (!grown) {
            free(copy);
            return -1;
        }
        b->items = grown;
        b->cap = cap;
    }
    if (!(b->items[b->n].key = strdup(key))) {
        free(copy);
        return -1;
    }
    b->items[b->n].value = copy;
    b->items[b->n].len = len;
    b->n++;
    return 0;
}

/* Sets key to value, replacing an entry with that key. */
static int blobs_put(blobs_t *b, const char *key, const void *value, size_t len)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->items[i].key, key) != 0)
            continue;
        void *copy = malloc(len ? len : 1);
        if (!copy)
            return -1;
        memcpy(copy, value, len);
        free(b->items[i].value);
        b->items[i].value = copy;
        b->items[i].len = len;
        return 0;
    }
    return blobs_append(b, key, value, len);
}

typedef struct users {
    char *slice;
    int64_t minute_ms;
    uint64_t hash;
    fs_hll_t hll;
    struct users *next;
} users_t;

/* Counters of one slice in one bucket. */
typedef struct counter {
    char *slice;
    int64_t bucket_ms;
    uint64_t hash;
    int64_t attempts, failures, errors;
    struct counter *next;
} counter_t;

typedef struct store_memory {
    fs_store_t base;
    int64_t retention_ms;
    int64_t keep_counters_ms;
    counter_t **counters; /* chained hash table */
    size_t counters_mask;
    int64_t newest_bucket_ms;
    int64_t counters_pruned_ms; /* newest bucket at the last pruning */
    entries_t offsets, alerts, outbox;
    blobs_t meta, snapshot, staging; /* staging: a snapshot arriving in parts */
    users_t **users; /* chained hash table */
    size_t users_mask;
    int64_t newest_minute_ms;
    int64_t pruned_minute_ms;
} store_memory_t;

static entry_t *find(entries_t *e, const char *key)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->items[i].key, key) == 0)
            return &e->items[i];
    return NULL;
}

static int put(entries_t *e, const char *key, const char *value)
{
    entry_t *it = find(e, key);
    char *v = strdup(value);
    if (!v)
        return -1;
    if (it) {
        free(it->value);
        it->value = v;
        return 0;
    }
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 16;
        entry_t *grown = realloc(e->items, cap * sizeof *grown);
        if (!grown) {
            free(v);
            return -1;
        }
        e->items = grown;
        e->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return -1;
    }
    e->items[e->n].key = k;
    e->items[e->n].value = v;
    e->n++;
    return 0;
}

static void del(entries_t *e, const char *key)
{
    entry_t *it = find(e, key);
    if (!it)
        return;
    free(it->key);
    free(it->value);
    *it = e->items[--e->n];
}

static void entries_free(entries_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->items[i].key);
        free(e->items[i].value);
    }
    free(e->items);
}

static int64_t minute_of(int64_t ms)
{
    int64_t q = ms / MINUTE_MS;
    if (ms % MINUTE_MS < 0)
        q--;
    return q * MINUTE_MS;
}

static uint64_t users_hash(const char *slice, int64_t minute_ms)
{
    return fs_hash_bytes(slice, strlen(slice)) ^ fs_hash_mix((uint64_t)minute_ms);
}

static users_t *users_get(store_memory_t *m, const char *slice, int64_t minute_ms, int create)
{
    uint64_t h = users_hash(slice, minute_ms);
    users_t **head = &m->users[h & m->users_mask];
    for (users_t *u = *head; u; u = u->next)
        if (u->hash == h && u->minute_ms == minute_ms && strcmp(u->slice, slice) == 0)
            return u;
    if (!create)
        return NULL;
    users_t *u = calloc(1, sizeof *u);
    if (!u || !(u->slice = strdup(slice))) {
        free(u);
        return NULL;
    }
    u->minute_ms = minute_ms;
    u->hash = h;
    u->next = *head;
    *head = u;
    return u;
}

/* Drops user counters older than the retention. */
static void prune(store_memory_t *m)
{
    int64_t before = m->newest_minute_ms - m->retention_ms;
    if (before <= m->pruned_minute_ms)
        return;
    for (size_t i = 0; i <= m->users_mask; i++) {
        users_t **link = &m->users[i];
        while (*link) {
            users_t *u = *link;
            if (u->minute_ms < before) {
                *link = u->next;
                fs_hll_clear(&u->hll);
                free(u->slice);
                free(u);
            } else {
                link = &u->next;
            }
        }
    }
    m->pruned_minute_ms = before;
}

static counter_t *counter_get(store_memory_t *m, const char *slice, int64_t bucket_ms)
{
    uint64_t h = users_hash(slice, bucket_ms);
    counter_t **head = &m->counters[h & m->counters_mask];
    for (counter_t *c = *head; c; c = c->next)
        if (c->hash == h && c->bucket_ms == bucket_ms && strcmp(c->slice, slice) == 0)
            return c;
    counter_t *c = calloc(1, sizeof *c);
    if (!c || !(c->slice = strdup(slice))) {
        free(c);
        return NULL;
    }
    c->bucket_ms = bucket_ms;
    c->hash = h;
    c->next = *head;
    *head = c;
    return c;
}

/* Drops counters older than what a restart reads back (the newest bucket
 * minus keep_counters_ms); before == INT64_MAX drops everything. */
static void prune_counters(store_memory_t *m, int64_t before)
{
    for (size_t i = 0; i <= m->counters_mask; i++) {
        counter_t **link = &m->counters[i];
        while (*link) {
            counter_t *c = *link;
            if (c->bucket_ms < before) {
                *link = c->next;
                free(c->slice);
                free(c);
            } else {
                link = &c->next;
            }
        }
    }
}

static int offset_key(char *buf, size_t size, const char *topic, int32_t partition)
{
    int n = snprintf(buf, size, "%s/%d", topic, (int)partition);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int mem_commit(fs_store_t *store, const fs_batch_t *b, char *err, size_t err_size)
{
    store_memory_t *m = (store_memory_t *)store;
    char key[512];
    for (size_t i = 0; i < b->n_offsets; i++) {
        const fs_offset_advance_t *o = &b->offsets[i];
        if (offset_key(key, sizeof key, o->topic, o->partition) != 0)
            return FS_STORE_EINVALID;
        entry_t *e = find(&m->offsets, key);
        int64_t stored = e ? strtoll(e->value, NULL, 10) : -1;
        if (stored != o->expected || (o->expected == -1 && e)) {
            snprintf(err, err_size, "fence: %s holds %lld, batch continues from %lld", key,
                     (long long)stored, (long long)o->expected);
            return FS_STORE_EFENCE;
        }
    }
    for (size_t i = 0; i < b->n_offsets; i++) {
        char value[32];
        offset_key(key, sizeof key, b->offsets[i].topic, b->offsets[i].partition);
        snprintf(value, sizeof value, "%lld", (long long)b->offsets[i].last);
        if (put(&m->offsets, key, value) != 0)
            goto oom;
    }
    for (size_t i = 0; i < b->n_counters; i++) {
        const fs_counter_delta_t *d = &b->counters[i];
        counter_t *c = counter_get(m, d->slice, d->bucket_ms);
        if (!c)
            goto oom;
        c->attempts += d->attempts;
        c->failures += d->failures;
        c->errors += d->errors;
        if (d->bucket_ms > m->newest_bucket_ms)
            m->newest_bucket_ms = d->bucket_ms;
    }
    /* Pruning walks the whole table: do it each quarter of the kept span. */
    if (b->n_counters && m->newest_bucket_ms - m->counters_pruned_ms >= m->keep_counters_ms / 4) {
        prune_counters(m, m->newest_bucket_ms - m->keep_counters_ms);
        m->counters_pruned_ms = m->newest_bucket_ms;
    }
    for (size_t i = 0; i < b->n_users; i++) {
        const fs_user_add_t *u = &b->users[i];
        int64_t minute = minute_of(u->bucket_ms);
        users_t *entry = users_get(m, u->slice, minute, 1);
        if (!entry || fs_hll_add(&entry->hll, fs_hash_bytes(u->user, u->user_len)) != 0)
            goto oom;
        if (minute > m->newest_minute_ms)
            m->newest_minute_ms = minute;
    }
    for (size_t i = 0; i < b->n_alerts; i++) {
        const fs_alert_put_t *a = &b->alerts[i];
        if (a->state) {
            if (put(&m->alerts, a->fingerprint, a->state) != 0)
                goto oom;
        } else {
            del(&m->alerts, a->fingerprint);
        }
        if (a->id && put(&m->outbox, a->id, a->message) != 0)
            goto oom;
    }
    for (size_t i = 0; i < b->n_delivered; i++)
        del(&m->outbox, b->delivered[i]);
    for (size_t i = 0; i < b->n_meta; i++)
        if (blobs_put(&m->meta, b->meta[i].key, b->meta[i].value, b->meta[i].len) != 0)
            goto oom;
    if (b->snapshot_part & FS_SNAPSHOT_FIRST)
        blobs_clear(&m->staging);
    for (size_t i = 0; i < b->n_snapshot; i++)
        if (blobs_append(&m->staging, b->snapshot[i].key, b->snapshot[i].value,
                         b->snapshot[i].len) != 0)
            goto oom;
    if (b->snapshot_part & FS_SNAPSHOT_LAST) {
        blobs_t old = m->snapshot;
        m->snapshot = m->staging;
        m->staging = old;
        blobs_clear(&m->staging);
    }
    prune(m);
    return FS_STORE_OK;
oom:
    /* Not atomic on out of memory; the process is in trouble anyway. */
    snprintf(err, err_size, "out of memory");
    return FS_STORE_EINVALID;
}

static int mem_offset(fs_store_t *store, const char *topic, int32_t partition, int64_t *offset,
                      char *err, size_t err_size)
{
    store_memory_t *m = (store_memory_t *)store;
    char key[512];
    if (offset_key(key, sizeof key, topic, partition) != 0) {
        snprintf(err, err_size, "topic name too long");
        return FS_STORE_EINVALID;
    }
    entry_t *e = find(&m->offsets, key);
    *offset = e ? strtoll(e->value, NULL, 10) : -1;
    return FS_STORE_OK;
}

static int mem_buckets(fs_store_t *store, int64_t from_ms, int64_t to_ms, fs_store_bucket_cb cb,
                       void *opaque, char *err, size_t err_size)
{
    store_memory_t *m = (store_memory_t *)store;
    (void)err, (void)err_size;
    for (size_t i = 0; i <= m->counters_mask; i++)
        for (counter_t *c = m->counters[i]; c; c = c->next)
            if (c->bucket_ms >= from_ms && c->bucket_ms < to_ms &&
                cb(opaque, c->slice, c->bucket_ms, c->attempts, c->failures, c->errors))
                return FS_STORE_OK;
    return FS_STORE_OK;
}

static int each(entries_t *e, fs_store_entry_cb cb, void *opaque)
{
    for (size_t i = 0; i < e->n; i++)
        if (cb(opaque, e->items[i].key, e->items[i].value))
            break;
    return FS_STORE_OK;
}

static int mem_alerts(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                      size_t err_size)
{
    (void)err, (void)err_size;
    return each(&((store_memory_t *)store)->alerts, cb, opaque);
}

static int mem_outbox(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                      size_t err_size)
{
    (void)err, (void)err_size;
    return each(&((store_memory_t *)store)->outbox, cb, opaque);
}

static int mem_affected_users(fs_store_t *store, const char *slice, int64_t from_ms,
                              int64_t to_ms, int64_t *count, char *err, size_t err_size)
{
    store_memory_t *m = (store_memory_t *)store;
    uint8_t *registers = calloc(FS_HLL_REGISTERS, 1);
    if (!registers) {
        snprintf(err, err_size, "out of memory");
        return FS_STORE_EINVALID;
    }
    for (int64_t minute = minute_of(from_ms); minute < to_ms; minute += MINUTE_MS) {
        users_t *u = users_get(m, slice, minute, 0);
        if (u)
            fs_hll_merge_into(&u->hll, registers);
    }
    *count = (int64_t)(fs_hll_estimate(registers) + 0.5);
    free(registers);
    return FS_STORE_OK;
}

static int mem_read_hash(fs_store_t *store, fs_store_hash_t which, fs_store_blob_cb cb,
                         void *opaque, char *err, size_t err_size)
{
    store_memory_t *m = (store_memory_t *)store;
    const blobs_t *b = which == FS_STORE_META ? &m->meta : &m->snapshot;
    (void)err, (void)err_size;
    for (size_t i = 0; i < b->n; i++)
        if (cb(opaque, b->items[i].key, b->items[i].value, b->items[i].len))
            break;
    return FS_STORE_OK;
}

static int mem_ping(fs_store_t *store, char *err, size_t err_size)
{
    (void)store, (void)err, (void)err_size;
    return FS_STORE_OK;
}

static uint64_t mem_round_trips(const fs_store_t *store)
{
    (void)store;
    return 0;
}

static void mem_free(fs_store_t *store)
{
    store_memory_t *m = (store_memory_t *)store;
    entries_free(&m->offsets);
    entries_free(&m->alerts);
    entries_free(&m->outbox);
    blobs_clear(&m->meta);
    blobs_clear(&m->snapshot);
    blobs_clear(&m->staging);
    free(m->meta.items);
    free(m->snapshot.items);
    free(m->staging.items);
    if (m->users) {
        m->newest_minute_ms = INT64_MAX / 2;
        m->pruned_minute_ms = INT64_MIN;
        m->retention_ms = 0;
        prune(m);
    }
    free(m->users);
    if (m->counters)
        prune_counters(m, INT64_MAX);
    free(m->counters);
    free(m);
}

static const fs_store_ops_t memory_ops = {
    .name = "memory",
    .commit = mem_commit,
    .offset = mem_offset,
    .buckets = mem_buckets,
    .alerts = mem_alerts,
    .outbox = mem_outbox,
    .affected_users = mem_affected_users,
    .read_hash = mem_read_hash,
    .ping = mem_ping,
    .round_trips = mem_round_trips,
    .free = mem_free,
};

fs_store_t *fs_store_memory_open(int64_t retention_ms, int64_t keep_counters_ms, char *err,
                                 size_t err_size)
{
    store_memory_t *m = calloc(1, sizeof *m);
    if (!m)
        goto oom;
    m->base.ops = &memory_ops;
    m->retention_ms = retention_ms;
    m->keep_counters_ms = keep_counters_ms;
    m->newest_bucket_ms = INT64_MIN;
    m->counters_pruned_ms = INT64_MIN / 2;
    m->counters_mask = 65535;
    m->counters = calloc(m->counters_mask + 1, sizeof *m->counters);
    if (!m->counters)
        goto oom;
    m->users_mask = 4095;
    m->users = calloc(m->users_mask + 1, sizeof *m->users);
    m->pruned_minute_ms = INT64_MIN;
    if (!m->users)
        goto oom;
    return &m->base;
oom:
    snprintf(err, err_size, "out of memory");
    if (m)
        mem_free(&m->base);
    return NULL;
}
