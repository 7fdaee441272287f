/*
 * Integration suite for the Redis window store (detector/store_redis.c),
 * against the real redis-server in FORESHOCK_TEST_REDIS. It checks what the
 * pipeline relies on: counters read back equal to totals summed here
 * independently over many random batches (slice keys with ':', '=', ',' and
 * UTF-8 included), one round trip per commit even for 50,000 deltas, offset
 * fences that refuse a batch without changing anything, TTLs on counters and
 * HyperLogLogs, the alert state and outbox, distinct affected users within
 * HyperLogLog error, and failures: a closed port, a server that never
 * answers and (when FORESHOCK_TEST_REDIS_SERVER names the binary) a private
 * redis-server killed and restarted under the store. Each test uses its own
 * key prefix and deletes its keys when it passes.
 */
#include "detector/store.h"
#include "detector/store_redis.h"
#include "tests/integration/services.h"

#include <check.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS     2000
#define RETENTION_MS   600000
#define CASE_TIMEOUT_S 120
#define BASE_MS        INT64_C(1700000040000) /* a whole minute */
#define WIDTH_MS       1000
#define TOPIC          "playback-events"

/* From the environment, set by main() before any test forks. */
static const char *redis_addr;
static const char *redis_server_bin;

/* ---- helpers ---------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* xorshift64*: reproducible batches. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int64_t rnd_below(int64_t n)
{
    return (int64_t)(rnd() % (uint64_t)n);
}

/* "{fs-store-itest-<pid>-...}:": a unique prefix, hash-tagged like a
 * deployment on Redis Cluster would be. */
static void make_prefix(char *buf, size_t size)
{
    char name[128];

    ck_assert_int_eq(fs_test_unique_name(name, sizeof name, "fs-store-itest"), 0);
    ck_assert_int_lt(snprintf(buf, size, "{%s}:", name), (int)size);
}

static fs_store_t *open_store_at(const char *address, const char *prefix, int64_t timeout_ms,
                                 int64_t retention_ms)
{
    char addr_buf[256], prefix_buf[256], err[256] = "";
    fs_config_t cfg;
    fs_store_t *store;

    memset(&cfg, 0, sizeof cfg);
    snprintf(addr_buf, sizeof addr_buf, "%s", address);
    snprintf(prefix_buf, sizeof prefix_buf, "%s", prefix);
    cfg.redis_address = addr_buf;
    cfg.redis_prefix = prefix_buf;
    cfg.redis_timeout_ms = timeout_ms;
    cfg.redis_retention_ms = retention_ms;
    store = fs_store_redis_open(&cfg, err, sizeof err);
    ck_assert_msg(store != NULL, "fs_store_redis_open(%s): %s", address, err);
    ck_assert_str_eq(store->ops->name, "redis");
    return store;
}

static fs_store_t *open_store(const char *prefix)
{
    return open_store_at(redis_addr, prefix, TIMEOUT_MS, RETENTION_MS);
}

static void commit_ok(fs_store_t *store, const fs_batch_t *batch)
{
    char err[512] = "";
    int rc = fs_store_commit(store, batch, err, sizeof err);

    ck_assert_msg(rc == FS_STORE_OK, "commit: %d: %s", rc, err);
}

/* A raw hiredis connection to FORESHOCK_TEST_REDIS, to look behind the
 * store's back. */
static redisContext *raw_connect(const char *address)
{
    redisContext *c = fs_test_redis_connect(address);
    ck_assert_msg(c != NULL, "cannot connect to redis at %s", address);
    return c;
}

/* Deletes every key under prefix and checks none is left. */
static void delete_keys(const char *address, const char *prefix)
{
    ck_assert_int_eq(fs_test_redis_delete_keys(address, prefix), 0);
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int port = fs_test_free_port();
    ck_assert_int_gt(port, 0);
    return port;
}

static long long raw_integer(redisContext *c, const char *format, const char *key)
{
    redisReply *reply = redisCommand(c, format, key);
    long long v;

    ck_assert_msg(reply != NULL, "%s %s: %s", format, key, c->errstr);
    ck_assert_msg(reply->type == REDIS_REPLY_INTEGER, "%s %s: reply type %d", format, key,
                  reply->type);
    v = reply->integer;
    freeReplyObject(reply);
    return v;
}

/* ---- counters: a grid of truth, and what the store reads back --------- */

typedef struct grid {
    size_t n_buckets, n_slices;
    const char *const *slices;
    int64_t *count;     /* [bucket][slice][3]: attempts, failures, errors */
    int *seen;          /* [bucket][slice]: mentioned by a batch / reported */
    int calls, unknown; /* callbacks, and callbacks naming no cell */
    int stop_after;     /* the callback returns 1 after this many (0 = never) */
} grid_t;

static void grid_init(grid_t *g, size_t n_buckets, const char *const *slices, size_t n_slices)
{
    memset(g, 0, sizeof *g);
    g->n_buckets = n_buckets;
    g->n_slices = n_slices;
    g->slices = slices;
    g->count = calloc(n_buckets * n_slices * 3, sizeof *g->count);
    g->seen = calloc(n_buckets * n_slices, sizeof *g->seen);
    ck_assert(g->count != NULL && g->seen != NULL);
}

static void grid_free(grid_t *g)
{
    free(g->count);
    free(g->seen);
}

static void grid_add(grid_t *g, size_t b, size_t s, int64_t a, int64_t f, int64_t e)
{
    int64_t *c = &g->count[(b * g->n_slices + s) * 3];

    c[0] += a;
    c[1] += f;
    c[2] += e;
    g->seen[b * g->n_slices + s]++;
}

static int grid_cb(void *opaque, const char *slice, int64_t bucket_ms, int64_t attempts,
                   int64_t failures, int64_t errors)
{
    grid_t *g = opaque;
    int64_t b = (bucket_ms - BASE_MS) / WIDTH_MS;
    size_t s;

    g->calls++;
    if (bucket_ms < BASE_MS || (bucket_ms - BASE_MS) % WIDTH_MS != 0 ||
        b >= (int64_t)g->n_buckets) {
        g->unknown++;
        return 0;
    }
    for (s = 0; s < g->n_slices; s++)
        if (strcmp(g->slices[s], slice) == 0)
            break;
    if (s == g->n_slices) {
        g->unknown++;
        return 0;
    }
    grid_add(g, (size_t)b, s, attempts, failures, errors);
    return g->stop_after > 0 && g->calls >= g->stop_after;
}

/* Reads [from, to) into a fresh grid shaped like truth. */
static void read_grid(fs_store_t *store, grid_t *got, const grid_t *truth, int64_t from, int64_t to)
{
    char err[512] = "";
    int rc;

    grid_init(got, truth->n_buckets, truth->slices, truth->n_slices);
    rc = fs_store_buckets(store, from, to, grid_cb, got, err, sizeof err);
    ck_assert_msg(rc == FS_STORE_OK, "buckets: %d: %s", rc, err);
    ck_assert_int_eq(got->unknown, 0);
}

/* Every cell of got equals truth in buckets [b_from, b_to) and is absent
 * elsewhere; each mentioned cell is reported exactly once. */
static void expect_grid(const grid_t *got, const grid_t *truth, size_t b_from, size_t b_to)
{
    size_t b, s, k;
    int expected_calls = 0;

    for (b = 0; b < truth->n_buckets; b++) {
        for (s = 0; s < truth->n_slices; s++) {
            size_t cell = b * truth->n_slices + s;
            int in_range = b >= b_from && b < b_to;

            if (!in_range || truth->seen[cell] == 0) {
                ck_assert_msg(got->seen[cell] == 0, "bucket %zu slice \"%s\": reported", b,
                              truth->slices[s]);
                continue;
            }
            expected_calls++;
            ck_assert_msg(got->seen[cell] == 1, "bucket %zu slice \"%s\": reported %d times", b,
                          truth->slices[s], got->seen[cell]);
            for (k = 0; k < 3; k++)
                ck_assert_msg(got->count[cell * 3 + k] == truth->count[cell * 3 + k],
                              "bucket %zu slice \"%s\" counter %zu: %lld, want %lld", b,
                              truth->slices[s], k, (long long)got->count[cell * 3 + k],
                              (long long)truth->count[cell * 3 + k]);
        }
    }
    ck_assert_int_eq(got->calls, expected_calls);
}

/* Slice keys that would break a naive encoding. */
static const char *const tricky_slices[] = {
    "global",
    "country=BR",
    "platform=android",
    "country=BR,platform=android",
    "app_version=1:2:3",
    "cdn=edge:443,pop=gru",
    "country=\xc3\x9c\xc3\x9f,city=\xe5\x8c\x97\xe4\xba\xac", /* UTF-8 */
    "a:b",
    "f:",
    "e:e:e",
    "x\x1fy",
    "with space = and , comma",
    "",
};
#define N_TRICKY (sizeof tricky_slices / sizeof tricky_slices[0])

/* ---- tests -------------------------------------------------------------- */

/* Many random batches, summed here cell by cell, read back exactly; one
 * round trip per commit, two per read. */
START_TEST(test_commit_read_back)
{
    enum { N_BATCHES = 40, N_BUCKETS = 8, PER_BATCH = 300, N_EXTRA = 30 };
    static char extra[N_EXTRA][32];
    const char *slices[N_TRICKY + N_EXTRA];
    fs_counter_delta_t deltas[PER_BATCH];
    fs_offset_advance_t offs[2];
    int64_t stored[2] = {-1, -1};
    grid_t truth, got;
    char prefix[200], err[256];
    fs_store_t *store;
    size_t i, n_slices = 0;
    int batch;

    make_prefix(prefix, sizeof prefix);
    for (i = 0; i < N_TRICKY; i++)
        slices[n_slices++] = tricky_slices[i];
    for (i = 0; i < N_EXTRA; i++) {
        snprintf(extra[i], sizeof extra[i], "country=C%zu,platform=p:%zu", i, i % 3);
        slices[n_slices++] = extra[i];
    }
    grid_init(&truth, N_BUCKETS, slices, n_slices);
    store = open_store(prefix);
    ck_assert_uint_eq(fs_store_round_trips(store), 0);

    for (batch = 0; batch < N_BATCHES; batch++) {
        fs_batch_t b;
        uint64_t trips = fs_store_round_trips(store);

        memset(&b, 0, sizeof b);
        for (i = 0; i < PER_BATCH; i++) {
            size_t bucket = (size_t)rnd_below(N_BUCKETS), s = (size_t)rnd_below((int64_t)n_slices);
            int64_t a = rnd_below(4) == 0 ? 0 : rnd_below(1000);
            int64_t f = rnd_below(3) == 0 ? rnd_below(a + 1) : 0;
            int64_t e = rnd_below(5) == 0 ? rnd_below(20) : 0;

            /* Now and then a large value, and the same cell twice in a batch. */
            if (rnd_below(50) == 0)
                a += INT64_C(5000000000);
            deltas[i].slice = slices[s];
            deltas[i].bucket_ms = BASE_MS + (int64_t)bucket * WIDTH_MS;
            deltas[i].attempts = a;
            deltas[i].failures = f;
            deltas[i].errors = e;
            grid_add(&truth, bucket, s, a, f, e);
        }
        for (i = 0; i < 2; i++) {
            offs[i].topic = TOPIC;
            offs[i].partition = (int32_t)i;
            offs[i].expected = stored[i];
            offs[i].last = stored[i] + 1 + rnd_below(500);
            stored[i] = offs[i].last;
        }
        b.counters = deltas;
        b.n_counters = PER_BATCH;
        b.offsets = offs;
        b.n_offsets = 2;
        commit_ok(store, &b);
        ck_assert_uint_eq(fs_store_round_trips(store), trips + 1);
    }

    for (i = 0; i < 2; i++) {
        int64_t off = -2;

        ck_assert_int_eq(fs_store_offset(store, TOPIC, (int32_t)i, &off, err, sizeof err),
                         FS_STORE_OK);
        ck_assert_int_eq(off, stored[i]);
    }

    {
        uint64_t trips = fs_store_round_trips(store);

        read_grid(store, &got, &truth, BASE_MS, BASE_MS + N_BUCKETS * WIDTH_MS);
        ck_assert_uint_eq(fs_store_round_trips(store), trips + 2);
        expect_grid(&got, &truth, 0, N_BUCKETS);
        grid_free(&got);
    }

    /* A sub-range, with bounds inside buckets: [from, to) on bucket starts. */
    read_grid(store, &got, &truth, BASE_MS + 2 * WIDTH_MS - 1, BASE_MS + 5 * WIDTH_MS);
    expect_grid(&got, &truth, 2, 5);
    grid_free(&got);
    read_grid(store, &got, &truth, BASE_MS + 2 * WIDTH_MS + 1, BASE_MS + 5 * WIDTH_MS + 1);
    expect_grid(&got, &truth, 3, 6);
    grid_free(&got);
    read_grid(store, &got, &truth, BASE_MS - 60000, BASE_MS);
    expect_grid(&got, &truth, 0, 0);
    grid_free(&got);

    /* The callback stops the walk. */
    grid_init(&got, truth.n_buckets, truth.slices, truth.n_slices);
    got.stop_after = 3;
    ck_assert_int_eq(fs_store_buckets(store, BASE_MS, BASE_MS + N_BUCKETS * WIDTH_MS, grid_cb, &got,
                                      err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(got.calls, 3);
    grid_free(&got);
    /* ... and the connection is still in step. */
    read_grid(store, &got, &truth, BASE_MS, BASE_MS + N_BUCKETS * WIDTH_MS);
    expect_grid(&got, &truth, 0, N_BUCKETS);
    grid_free(&got);

    /* A second store (another instance, or this one restarted) sees the same. */
    {
        fs_store_t *other = open_store(prefix);

        read_grid(other, &got, &truth, BASE_MS, BASE_MS + N_BUCKETS * WIDTH_MS);
        expect_grid(&got, &truth, 0, N_BUCKETS);
        grid_free(&got);
        fs_store_free(other);
    }

    grid_free(&truth);
    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

/* 50,000 deltas in one batch: still one atomic script call, one round trip. */
START_TEST(test_large_batch)
{
    enum { N_BUCKETS = 50, N_SLICES = 1000, N = N_BUCKETS * N_SLICES };
    static char names[N_SLICES][48];
    static const char *slices[N_SLICES];
    fs_counter_delta_t *deltas = calloc(N, sizeof *deltas);
    fs_offset_advance_t off = {TOPIC, 7, -1, 123456};
    grid_t truth, got;
    char prefix[200];
    fs_store_t *store;
    fs_batch_t b;
    uint64_t trips;
    size_t i;

    ck_assert_ptr_nonnull(deltas);
    make_prefix(prefix, sizeof prefix);
    for (i = 0; i < N_SLICES; i++) {
        snprintf(names[i], sizeof names[i], "country=K%zu,app_version=%zu.%zu:x", i % 97, i / 97,
                 i);
        slices[i] = names[i];
    }
    grid_init(&truth, N_BUCKETS, slices, N_SLICES);
    for (i = 0; i < N; i++) {
        /* Interleave buckets so that the store has to group them. */
        size_t bucket = i % N_BUCKETS, s = i / N_BUCKETS;

        deltas[i].slice = slices[s];
        deltas[i].bucket_ms = BASE_MS + (int64_t)bucket * WIDTH_MS;
        deltas[i].attempts = 1 + rnd_below(10000);
        deltas[i].failures = rnd_below(2) ? rnd_below(deltas[i].attempts) : 0;
        deltas[i].errors = rnd_below(10) == 0 ? rnd_below(50) : 0;
        grid_add(&truth, bucket, s, deltas[i].attempts, deltas[i].failures, deltas[i].errors);
    }
    memset(&b, 0, sizeof b);
    b.counters = deltas;
    b.n_counters = N;
    b.offsets = &off;
    b.n_offsets = 1;

    store = open_store(prefix);
    trips = fs_store_round_trips(store);
    commit_ok(store, &b);
    ck_assert_uint_eq(fs_store_round_trips(store), trips + 1);

    read_grid(store, &got, &truth, BASE_MS, BASE_MS + N_BUCKETS * WIDTH_MS);
    expect_grid(&got, &truth, 0, N_BUCKETS);
    grid_free(&got);

    grid_free(&truth);
    free(deltas);
    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

/* The counters of slice 0 in bucket 0, or -1 when absent. */
static int64_t attempts_of(fs_store_t *store, const char *slice)
{
    const char *slices[1] = {slice};
    grid_t got, shape;
    int64_t v;

    grid_init(&shape, 1, slices, 1);
    read_grid(store, &got, &shape, BASE_MS, BASE_MS + WIDTH_MS);
    v = got.seen[0] ? got.count[0] : -1;
    grid_free(&got);
    grid_free(&shape);
    return v;
}

static int count_entries(void *opaque, const char *key, const char *value)
{
    (void)key;
    (void)value;
    ++*(int *)opaque;
    return 0;
}

/* Offsets fence the batch: a wrong `expected` changes nothing at all. */
START_TEST(test_fence)
{
    fs_counter_delta_t delta = {"global", BASE_MS, 10, 2, 1};
    fs_user_add_t user = {"global", BASE_MS, "u-1", 3};
    fs_alert_put_t alert = {"fp-1", "{\"state\":\"firing\"}", "id-1", "{\"alert\":1}"};
    fs_offset_advance_t offs[2];
    char prefix[200], err[512];
    fs_store_t *store;
    fs_batch_t b;
    int64_t off, users;
    int n_alerts, n_outbox;
    uint64_t trips;

    make_prefix(prefix, sizeof prefix);
    store = open_store(prefix);
    memset(&b, 0, sizeof b);
    b.counters = &delta;
    b.n_counters = 1;
    b.offsets = offs;

    /* Nothing stored: -1 applies. */
    offs[0] = (fs_offset_advance_t){TOPIC, 0, -1, 10};
    b.n_offsets = 1;
    commit_ok(store, &b);
    ck_assert_int_eq(attempts_of(store, "global"), 10);

    /* A second -1 is fenced: an offset is stored now. */
    b.users = &user;
    b.n_users = 1;
    b.alerts = &alert;
    b.n_alerts = 1;
    offs[0] = (fs_offset_advance_t){TOPIC, 0, -1, 20};
    err[0] = '\0';
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EFENCE);
    ck_assert_msg(strstr(err, TOPIC "/0") != NULL, "fence message: %s", err);

    /* One good fence and one bad one: the whole batch is refused. */
    offs[0] = (fs_offset_advance_t){TOPIC, 0, 10, 20};
    offs[1] = (fs_offset_advance_t){TOPIC, 1, 5, 9}; /* partition 1 has nothing stored */
    b.n_offsets = 2;
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EFENCE);
    /* A stale batch from behind and one from beyond the stored offset. */
    offs[1] = (fs_offset_advance_t){TOPIC, 1, -1, 9};
    offs[0] = (fs_offset_advance_t){TOPIC, 0, 3, 20};
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EFENCE);
    offs[0] = (fs_offset_advance_t){TOPIC, 0, 11, 20};
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EFENCE);

    /* Nothing of the refused batches landed. */
    ck_assert_int_eq(attempts_of(store, "global"), 10);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &off, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(off, 10);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 1, &off, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(
        fs_store_affected_users(store, "global", BASE_MS, BASE_MS + 60000, &users, err, sizeof err),
        FS_STORE_OK);
    ck_assert_int_eq(users, 0);
    n_alerts = n_outbox = 0;
    ck_assert_int_eq(fs_store_alerts(store, count_entries, &n_alerts, err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(fs_store_outbox(store, count_entries, &n_outbox, err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(n_alerts, 0);
    ck_assert_int_eq(n_outbox, 0);

    /* The right fences apply everything. */
    offs[0] = (fs_offset_advance_t){TOPIC, 0, 10, 20};
    offs[1] = (fs_offset_advance_t){TOPIC, 1, -1, 9};
    commit_ok(store, &b);
    ck_assert_int_eq(attempts_of(store, "global"), 20);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &off, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(off, 20);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 1, &off, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(off, 9);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 2, &off, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(fs_store_offset(store, "other-topic", 0, &off, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(
        fs_store_affected_users(store, "global", BASE_MS, BASE_MS + 60000, &users, err, sizeof err),
        FS_STORE_OK);
    ck_assert_int_eq(users, 1);

    /* The same batch replayed (Kafka redelivered it) is fenced. */
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EFENCE);
    ck_assert_int_eq(attempts_of(store, "global"), 20);

    /* Invalid batches never reach Redis. */
    trips = fs_store_round_trips(store);
    offs[0] = (fs_offset_advance_t){TOPIC, 0, 20, 19}; /* last before expected */
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EINVALID);
    offs[0] = (fs_offset_advance_t){TOPIC, 1, 20, 30}; /* the same partition twice */
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EINVALID);
    ck_assert_int_eq(fs_store_commit(store, NULL, err, sizeof err), FS_STORE_EINVALID);
    offs[0] = (fs_offset_advance_t){TOPIC, 0, 20, 30};
    delta.attempts = INT64_C(1) << 53; /* beyond what a double holds exactly */
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EINVALID);
    ck_assert_uint_eq(fs_store_round_trips(store), trips);

    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

/* A stored counter that does not parse (a foreign write) fails the batch
 * before the script writes anything. */
START_TEST(test_corrupt_counter)
{
    fs_counter_delta_t deltas[2] = {{"global", BASE_MS, 1, 0, 0},
                                    {"global", BASE_MS + WIDTH_MS, 1, 0, 0}};
    fs_user_add_t user = {"global", BASE_MS, "u-1", 3};
    fs_offset_advance_t off = {TOPIC, 0, -1, 5};
    char prefix[200], key[300], err[512] = "";
    redisContext *c;
    redisReply *reply;
    fs_store_t *store;
    fs_batch_t b;
    int64_t v;

    make_prefix(prefix, sizeof prefix);
    store = open_store(prefix);
    memset(&b, 0, sizeof b);
    b.counters = deltas;
    b.n_counters = 2;
    commit_ok(store, &b);

    c = raw_connect(redis_addr);
    snprintf(key, sizeof key, "%sb:%lld", prefix, (long long)(BASE_MS + WIDTH_MS));
    reply = redisCommand(c, "HSET %s global garbage", key);
    ck_assert_ptr_nonnull(reply);
    freeReplyObject(reply);

    /* The script reaches the corrupt bucket after the sound one (buckets go
     * in time order): still nothing lands, users and offsets included. */
    b.counters = deltas;
    b.n_counters = 2;
    b.users = &user;
    b.n_users = 1;
    b.offsets = &off;
    b.n_offsets = 1;
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EINVALID);
    ck_assert_msg(strstr(err, "bad counters") != NULL, "message: %s", err);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &v, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(v, -1);
    ck_assert_int_eq(attempts_of(store, "global"), 1);
    ck_assert_int_eq(
        fs_store_affected_users(store, "global", BASE_MS, BASE_MS + 60000, &v, err, sizeof err),
        FS_STORE_OK);
    ck_assert_int_eq(v, 0);
    /* Reading it back says so too, and the store stays usable. */
    ck_assert_int_eq(fs_store_buckets(store, BASE_MS + WIDTH_MS, BASE_MS + 2 * WIDTH_MS, grid_cb,
                                      NULL, err, sizeof err),
                     FS_STORE_EINVALID);
    ck_assert_int_eq(fs_store_ping(store, err, sizeof err), FS_STORE_OK);

    redisFree(c);
    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

/* Counters, HyperLogLogs and the bucket index expire; durable state does not. */
START_TEST(test_ttl)
{
    fs_counter_delta_t deltas[2] = {{"country=BR", BASE_MS, 5, 1, 0},
                                    {"country=BR", BASE_MS + 130000, 1, 0, 0}};
    fs_user_add_t user = {"country=BR", BASE_MS + 5000, "u-7", 3};
    fs_alert_put_t alert = {"fp", "{}", "id", "{}"};
    fs_offset_advance_t off = {TOPIC, 0, -1, 1};
    char prefix[200], key[300];
    redisContext *c;
    fs_store_t *store;
    fs_batch_t b;
    grid_t got, shape;
    const char *slices[1] = {"country=BR"};
    long long ttl;
    size_t i;

    make_prefix(prefix, sizeof prefix);
    store = open_store(prefix);
    memset(&b, 0, sizeof b);
    b.counters = deltas;
    b.n_counters = 1;
    b.users = &user;
    b.n_users = 1;
    b.alerts = &alert;
    b.n_alerts = 1;
    b.offsets = &off;
    b.n_offsets = 1;
    commit_ok(store, &b);

    c = raw_connect(redis_addr);
    {
        char keys[3][300];

        snprintf(keys[0], sizeof keys[0], "%sb:%lld", prefix, (long long)BASE_MS);
        snprintf(keys[1], sizeof keys[1], "%su:%lld:country=BR", prefix, (long long)BASE_MS);
        snprintf(keys[2], sizeof keys[2], "%sbuckets", prefix);
        for (i = 0; i < 3; i++) {
            ttl = raw_integer(c, "PTTL %s", keys[i]);
            ck_assert_msg(ttl > 0 && ttl <= RETENTION_MS, "PTTL %s: %lld", keys[i], ttl);
        }
        /* A commit that touches the bucket again renews its TTL. */
        ck_assert_int_eq(raw_integer(c, "PEXPIRE %s 5000", keys[0]), 1);
        off = (fs_offset_advance_t){TOPIC, 0, 1, 2};
        b.n_users = 0;
        b.n_alerts = 0;
        commit_ok(store, &b);
        ttl = raw_integer(c, "PTTL %s", keys[0]);
        ck_assert_msg(ttl > 5000 && ttl <= RETENTION_MS, "PTTL after renewal: %lld", ttl);
    }
    {
        static const char *const durable[] = {"offsets", "alerts", "outbox"};

        for (i = 0; i < 3; i++) {
            snprintf(key, sizeof key, "%s%s", prefix, durable[i]);
            ck_assert_int_eq(raw_integer(c, "EXISTS %s", key), 1);
            ck_assert_int_eq(raw_integer(c, "PTTL %s", key), -1);
        }
    }
    fs_store_free(store);

    /* With the minimum retention, a bucket older than (newest - retention)
     * leaves the index, though its hash may outlive it for a while. */
    store = open_store_at(redis_addr, prefix, TIMEOUT_MS, 60000);
    off = (fs_offset_advance_t){TOPIC, 0, 2, 3};
    b.counters = &deltas[1];
    commit_ok(store, &b);
    grid_init(&shape, 1, slices, 1);
    read_grid(store, &got, &shape, BASE_MS, BASE_MS + WIDTH_MS);
    ck_assert_int_eq(got.calls, 0);
    grid_free(&got);
    grid_free(&shape);
    snprintf(key, sizeof key, "%sb:%lld", prefix, (long long)(BASE_MS + 130000));
    ttl = raw_integer(c, "PTTL %s", key);
    ck_assert_msg(ttl > 0 && ttl <= 60000, "PTTL %s: %lld", key, ttl);

    redisFree(c);
    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

/* Entries read back from alerts() or outbox(). */
typedef struct entries {
    char key[8][64];
    char value[8][128];
    int n;
} entries_t;

static int collect(void *opaque, const char *key, const char *value)
{
    entries_t *e = opaque;

    ck_assert_int_lt(e->n, 8);
    snprintf(e->key[e->n], sizeof e->key[e->n], "%s", key);
    snprintf(e->value[e->n], sizeof e->value[e->n], "%s", value);
    e->n++;
    return 0;
}

static void expect_entries(fs_store_t *store, int outbox, int n, const char *const *kv)
{
    entries_t e;
    char err[256];
    int i, j;

    memset(&e, 0, sizeof e);
    ck_assert_int_eq(outbox ? fs_store_outbox(store, collect, &e, err, sizeof err)
                            : fs_store_alerts(store, collect, &e, err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(e.n, n);
    for (i = 0; i < n; i++) {
        for (j = 0; j < e.n; j++)
            if (strcmp(e.key[j], kv[2 * i]) == 0)
                break;
        ck_assert_msg(j < e.n, "%s: %s missing", outbox ? "outbox" : "alerts", kv[2 * i]);
        ck_assert_str_eq(e.value[j], kv[2 * i + 1]);
    }
}

/* Alert state and outbox: put, list, resolve, deliver. */
START_TEST(test_alerts_outbox)
{
    static const char state1[] = "{\"slice\":\"country=BR\",\"state\":\"firing\"}";
    static const char state2[] = "{\"slice\":\"cdn=\xc3\xa9\",\"state\":\"firing\"}";
    static const char msg1[] = "{\"id\":\"a1\",\"status\":\"firing\"}";
    static const char msg2[] = "{\"id\":\"a2\",\"status\":\"firing\"}";
    static const char msg3[] = "{\"id\":\"a3\",\"status\":\"resolved\"}";
    fs_alert_put_t puts[2] = {{"fp:1", state1, "a1", msg1}, {"fp:2", state2, "a2", msg2}};
    const char *delivered[2] = {"a1", "a2"};
    char prefix[200];
    fs_store_t *store;
    fs_batch_t b;

    make_prefix(prefix, sizeof prefix);
    store = open_store(prefix);
    expect_entries(store, 0, 0, NULL);
    expect_entries(store, 1, 0, NULL);

    memset(&b, 0, sizeof b);
    b.alerts = puts;
    b.n_alerts = 2;
    commit_ok(store, &b);
    {
        const char *const alerts[] = {"fp:1", state1, "fp:2", state2};
        const char *const outbox[] = {"a1", msg1, "a2", msg2};

        expect_entries(store, 0, 2, alerts);
        expect_entries(store, 1, 2, outbox);
    }

    /* fp:1 resolves (its state goes, its message comes); a1 and a2 were
     * delivered since. */
    puts[0] = (fs_alert_put_t){"fp:1", NULL, "a3", msg3};
    b.n_alerts = 1;
    b.delivered = delivered;
    b.n_delivered = 2;
    commit_ok(store, &b);
    {
        const char *const alerts[] = {"fp:2", state2};
        const char *const outbox[] = {"a3", msg3};

        expect_entries(store, 0, 1, alerts);
        expect_entries(store, 1, 1, outbox);
    }

    /* A state change without a message leaves the outbox alone. */
    puts[0] = (fs_alert_put_t){"fp:2", state1, NULL, NULL};
    b.n_delivered = 0;
    commit_ok(store, &b);
    {
        const char *const alerts[] = {"fp:2", state1};
        const char *const outbox[] = {"a3", msg3};

        expect_entries(store, 0, 1, alerts);
        expect_entries(store, 1, 1, outbox);
    }

    /* Delivering everything empties the outbox. */
    delivered[0] = "a3";
    b.n_alerts = 0;
    b.n_delivered = 1;
    commit_ok(store, &b);
    expect_entries(store, 1, 0, NULL);

    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

/* 10,000 distinct users, each added up to three times over three minutes:
 * the HyperLogLog union is within 2% of the truth. */
START_TEST(test_affected_users)
{
    enum { N_USERS = 10000, CHUNK = 2500 };
    static const char slice[] = "country=BR:x,platform=\xe2\x9c\x93";
    static char names[N_USERS][16];
    fs_user_add_t *adds = calloc(3 * N_USERS, sizeof *adds);
    int64_t count, minute0 = 0, all = 0;
    char prefix[200], err[256];
    fs_store_t *store;
    size_t i, n = 0, done;

    ck_assert_ptr_nonnull(adds);
    make_prefix(prefix, sizeof prefix);
    store = open_store(prefix);
    for (i = 0; i < N_USERS; i++) {
        int m = (int)(i % 3), in_m0 = m == 0;

        snprintf(names[i], sizeof names[i], "user-%zu", i);
        /* Twice in its own minute (two buckets), and every fifth user also
         * in the next minute. */
        adds[n++] = (fs_user_add_t){slice, BASE_MS + m * 60000 + 1000, names[i], strlen(names[i])};
        adds[n++] = (fs_user_add_t){slice, BASE_MS + m * 60000 + 59000, names[i], strlen(names[i])};
        if (i % 5 == 0) {
            int m2 = (m + 1) % 3;

            adds[n++] = (fs_user_add_t){slice, BASE_MS + m2 * 60000, names[i], strlen(names[i])};
            in_m0 |= m2 == 0;
        }
        minute0 += in_m0;
        all++;
    }
    /* Spread over several batches, as flushes would be. */
    for (done = 0; done < n; done += CHUNK) {
        fs_batch_t b;

        memset(&b, 0, sizeof b);
        b.users = adds + done;
        b.n_users = n - done < CHUNK ? n - done : CHUNK;
        commit_ok(store, &b);
    }
    /* A user of another slice in the same minutes does not count. */
    {
        fs_user_add_t other = {"global", BASE_MS, "someone-else", 12};
        fs_batch_t b;

        memset(&b, 0, sizeof b);
        b.users = &other;
        b.n_users = 1;
        commit_ok(store, &b);
    }

    ck_assert_int_eq(
        fs_store_affected_users(store, slice, BASE_MS, BASE_MS + 180000, &count, err, sizeof err),
        FS_STORE_OK);
    ck_assert_msg(llabs(count - all) < all / 50, "3 minutes: %lld users, want %lld +- 2%%",
                  (long long)count, (long long)all);
    /* The minute keys cover [from, to): a partial minute counts whole. */
    ck_assert_int_eq(fs_store_affected_users(store, slice, BASE_MS + 30000, BASE_MS + 60000, &count,
                                             err, sizeof err),
                     FS_STORE_OK);
    ck_assert_msg(llabs(count - minute0) < minute0 / 50, "minute 0: %lld users, want %lld +- 2%%",
                  (long long)count, (long long)minute0);
    ck_assert_int_eq(fs_store_affected_users(store, slice, BASE_MS + 180000, BASE_MS + 240000,
                                             &count, err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(fs_store_affected_users(store, "global", BASE_MS, BASE_MS + 180000, &count,
                                             err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(
        fs_store_affected_users(store, slice, BASE_MS, BASE_MS, &count, err, sizeof err),
        FS_STORE_OK);
    ck_assert_int_eq(count, 0);

    free(adds);
    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

/* Every call of a store that cannot reach Redis: EUNAVAILABLE, within the
 * timeout (plus slack for a loaded machine). */
static void expect_unavailable(fs_store_t *store, int64_t timeout_ms)
{
    fs_counter_delta_t delta = {"global", BASE_MS, 1, 0, 0};
    fs_offset_advance_t off = {TOPIC, 0, -1, 1};
    fs_batch_t b;
    char err[256];
    int64_t v, start;
    int call, rc = 0;

    memset(&b, 0, sizeof b);
    b.counters = &delta;
    b.n_counters = 1;
    b.offsets = &off;
    b.n_offsets = 1;
    uint64_t failures = fs_store_failures(store);
    for (call = 0; call < 7; call++) {
        err[0] = '\0';
        start = now_ms();
        switch (call) {
        case 0:
            rc = fs_store_ping(store, err, sizeof err);
            break;
        case 1:
            rc = fs_store_commit(store, &b, err, sizeof err);
            break;
        case 2:
            rc = fs_store_offset(store, TOPIC, 0, &v, err, sizeof err);
            break;
        case 3:
            rc = fs_store_buckets(store, BASE_MS, BASE_MS + 1000, grid_cb, NULL, err, sizeof err);
            break;
        case 4:
            rc = fs_store_alerts(store, count_entries, NULL, err, sizeof err);
            break;
        case 5:
            rc = fs_store_outbox(store, count_entries, NULL, err, sizeof err);
            break;
        case 6:
            rc =
                fs_store_affected_users(store, "global", BASE_MS, BASE_MS + 1, &v, err, sizeof err);
            break;
        }
        ck_assert_msg(rc == FS_STORE_EUNAVAILABLE, "call %d: %d (%s), want EUNAVAILABLE", call, rc,
                      err);
        ck_assert_msg(err[0] != '\0', "call %d: no message", call);
        /* Every failed call is counted (foreshock_redis_errors_total). */
        ck_assert_uint_eq(fs_store_failures(store), failures + (uint64_t)call + 1);
        ck_assert_msg(now_ms() - start < timeout_ms + 1500, "call %d took %lld ms", call,
                      (long long)(now_ms() - start));
    }
}

START_TEST(test_unreachable)
{
    char addr[64], err[256];
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    fs_store_t *store;
    int64_t start;
    int fd;

    /* Connection refused. */
    snprintf(addr, sizeof addr, "127.0.0.1:%d", closed_port());
    store = open_store_at(addr, "fs-unreachable:", 500, RETENTION_MS);
    expect_unavailable(store, 500);
    ck_assert_uint_eq(fs_store_round_trips(store), 0);
    fs_store_free(store);

    /* No such socket. */
    store = open_store_at("/nonexistent/foreshock-redis.sock", "fs:", 500, RETENTION_MS);
    expect_unavailable(store, 500);
    fs_store_free(store);

    /* A server that accepts (the kernel's backlog does) and never answers:
     * every call ends at the timeout. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    store = open_store_at(addr, "fs-silent:", 300, RETENTION_MS);
    start = now_ms();
    expect_unavailable(store, 300);
    ck_assert_int_ge(now_ms() - start, 7 * 300 - 100);
    fs_store_free(store);
    close(fd);

    /* Malformed addresses are refused at once. */
    {
        static const char *const bad[] = {"localhost", "host:",      ":6379",
                                          "host:0",    "host:70000", "host:12ab"};
        fs_config_t cfg;
        char buf[64], prefix[] = "fs:";
        size_t i;

        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            memset(&cfg, 0, sizeof cfg);
            snprintf(buf, sizeof buf, "%s", bad[i]);
            cfg.redis_address = buf;
            cfg.redis_prefix = prefix;
            cfg.redis_timeout_ms = 500;
            cfg.redis_retention_ms = RETENTION_MS;
            err[0] = '\0';
            ck_assert_msg(fs_store_redis_open(&cfg, err, sizeof err) == NULL, "%s accepted",
                          bad[i]);
            ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i]);
        }
    }
}
END_TEST

/* ---- a private redis-server, killed and restarted --------------------- */

/* Starts a private redis-server on port (fs_test_redis_start; its folder
 * and log in a fresh temporary folder, removed by stop_redis), requiring
 * password when it is not NULL. */
static char redis_dir[64];

static pid_t start_redis(int port, const char *password)
{
    const char *args[] = {"--save", "", "--appendonly", "no", "--requirepass", password, NULL};
    char err[512];
    if (password == NULL)
        args[4] = NULL;
    if (redis_dir[0] == '\0') {
        snprintf(redis_dir, sizeof redis_dir, "/tmp/fs-store-redis-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(redis_dir));
    }
    pid_t pid = fs_test_redis_start(redis_server_bin, port, redis_dir, args, err, sizeof err);
    ck_assert_msg(pid > 0, "private redis-server: %s", err);
    return pid;
}

/* Kills the server as a crash would (SIGKILL: nothing saved, no goodbye). */
static void stop_redis(pid_t pid)
{
    int status;

    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    fs_test_remove_dir(redis_dir);
    redis_dir[0] = '\0';
}

/* Pings through the store until Redis answers (it is starting). */
static void wait_ready(fs_store_t *store)
{
    int64_t deadline = now_ms() + 15000;
    char err[256] = "";

    while (fs_store_ping(store, err, sizeof err) != FS_STORE_OK) {
        ck_assert_msg(now_ms() < deadline, "private redis-server not ready: %s", err);
        sleep_ms(50);
    }
}

/* A store for a password-protected server, without the open_store checks. */
static fs_store_t *open_with_password(const char *address, const char *password)
{
    char addr_buf[256], prefix_buf[64], pass_buf[64], user_buf[8] = "", err[256] = "";
    fs_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(addr_buf, sizeof addr_buf, "%s", address);
    make_prefix(prefix_buf, sizeof prefix_buf);
    snprintf(pass_buf, sizeof pass_buf, "%s", password);
    cfg.redis_address = addr_buf;
    cfg.redis_prefix = prefix_buf;
    cfg.redis_user = user_buf;
    cfg.redis_password = pass_buf;
    cfg.redis_timeout_ms = 2000;
    cfg.redis_retention_ms = 3600000;
    fs_store_t *store = fs_store_redis_open(&cfg, err, sizeof err);
    ck_assert_msg(store != NULL, "%s", err);
    return store;
}

START_TEST(test_auth)
{
    char addr[64], err[256] = "";
    int64_t stored;
    if (redis_server_bin == NULL || redis_server_bin[0] == '\0')
        return; /* main() said why */
    int port = closed_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    pid_t pid = start_redis(port, "s3cret-pass");

    /* The right password: the store works. */
    fs_store_t *good = open_with_password(addr, "s3cret-pass");
    wait_ready(good);
    ck_assert_int_eq(fs_store_offset(good, TOPIC, 0, &stored, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(stored, -1);
    fs_store_free(good);

    /* A wrong one is refused at once, not retried as if Redis were down. */
    fs_store_t *bad = open_with_password(addr, "wrong");
    ck_assert_int_eq(fs_store_ping(bad, err, sizeof err), FS_STORE_EINVALID);
    ck_assert_msg(strstr(err, "authentication failed") != NULL, "%s", err);
    fs_store_free(bad);

    /* No password at all: every command is refused (NOAUTH). */
    fs_store_t *none = open_with_password(addr, "");
    ck_assert_int_ne(fs_store_offset(none, TOPIC, 0, &stored, err, sizeof err), FS_STORE_OK);
    fs_store_free(none);

#ifdef FORESHOCK_BIN
    /* The daemon stops at startup with a clear message (it needs no broker
     * for that: it reads the store before it consumes). */
    char conf[] = "/tmp/fs_auth_conf_XXXXXX", cmd[512], out[4096];
    int fd = mkstemp(conf);
    ck_assert_int_ge(fd, 0);
    dprintf(fd, "redis.address = %s\nredis.password = wrong\nmetrics.enabled = false\n"
                "kafka.bootstrap.servers = 127.0.0.1:1\n", addr);
    close(fd);
    snprintf(cmd, sizeof cmd, "timeout 20 %s -c %s 2>&1", FORESHOCK_BIN, conf);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    unlink(conf);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit %d: %s", status, out);
    ck_assert_msg(strstr(out, "authentication failed") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "wrong") == NULL, "the password was logged: %s", out);
#endif
    stop_redis(pid);
}
END_TEST

START_TEST(test_restart)
{
    enum { N = 18000 }; /* a multiple of the 60 buckets */
    static char long_slice[280];
    fs_counter_delta_t *deltas = calloc(N, sizeof *deltas);
    fs_offset_advance_t off = {TOPIC, 0, -1, 100};
    char addr[64], err[256];
    fs_store_t *store;
    fs_batch_t b;
    int64_t v;
    uint64_t trips;
    pid_t pid;
    int port;
    size_t i;

    if (redis_server_bin == NULL || redis_server_bin[0] == '\0') {
        free(deltas);
        return; /* main() said why */
    }
    ck_assert_ptr_nonnull(deltas);
    for (i = 0; i < N; i++)
        deltas[i] = (fs_counter_delta_t){"global", BASE_MS + (int64_t)(i % 60) * 1000, 1, 0, 0};
    memset(&b, 0, sizeof b);
    b.counters = deltas;
    b.n_counters = 1;
    b.offsets = &off;
    b.n_offsets = 1;

    port = closed_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    pid = start_redis(port, NULL);
    store = open_store_at(addr, "fs-restart:", 1000, RETENTION_MS);
    wait_ready(store);
    commit_ok(store, &b);

    /* Killed under a live connection: the next commit fails retriably, and
     * so does every call until it is back. That commit is ~5 MB, more than
     * loopback takes in flight, so hiredis goes on writing into the reset
     * connection: SIGPIPE, which must not end the process. */
    stop_redis(pid);
    memset(long_slice, 'x', sizeof long_slice - 1);
    for (i = 0; i < N; i++)
        deltas[i].slice = long_slice;
    b.n_counters = N;
    off = (fs_offset_advance_t){TOPIC, 0, 100, 200};
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EUNAVAILABLE);
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EUNAVAILABLE);
    ck_assert_int_eq(fs_store_ping(store, err, sizeof err), FS_STORE_EUNAVAILABLE);
    for (i = 0; i < N; i++)
        deltas[i].slice = "global";

    /* Back, empty (no persistence): the store reconnects, loads its script
     * again and commits. */
    pid = start_redis(port, NULL);
    wait_ready(store);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &v, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(v, -1);
    off = (fs_offset_advance_t){TOPIC, 0, -1, 300};
    trips = fs_store_round_trips(store);
    commit_ok(store, &b);
    ck_assert_uint_eq(fs_store_round_trips(store), trips + 1);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &v, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(v, 300);
    {
        const char *slices[1] = {"global"};
        grid_t got, shape;

        grid_init(&shape, 60, slices, 1);
        read_grid(store, &got, &shape, BASE_MS, BASE_MS + 60000);
        ck_assert_int_eq(got.calls, 60);
        for (i = 0; i < 60; i++)
            ck_assert_int_eq(got.count[i * 3], N / 60);
        grid_free(&got);
        grid_free(&shape);
    }

    /* The script cache flushed behind the store's back: NOSCRIPT, and the
     * batch goes again with EVAL (a second round trip). */
    {
        redisContext *c = raw_connect(addr);
        redisReply *reply = redisCommand(c, "SCRIPT FLUSH");

        ck_assert_ptr_nonnull(reply);
        freeReplyObject(reply);
        redisFree(c);
    }
    off = (fs_offset_advance_t){TOPIC, 0, 300, 400};
    b.n_counters = 1;
    trips = fs_store_round_trips(store);
    commit_ok(store, &b);
    ck_assert_uint_eq(fs_store_round_trips(store), trips + 2);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &v, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(v, 400);
    /* And the next one is back to one round trip. */
    off = (fs_offset_advance_t){TOPIC, 0, 400, 500};
    trips = fs_store_round_trips(store);
    commit_ok(store, &b);
    ck_assert_uint_eq(fs_store_round_trips(store), trips + 1);

    fs_store_free(store);
    stop_redis(pid);
    free(deltas);
}
END_TEST

/* ---- the asynchronous store -------------------------------------------- */

/* Waits for the batch in flight and returns its outcome. */
static int async_outcome(fs_store_t *store, char *err, size_t err_size)
{
    int64_t deadline = now_ms() + 20000;
    int rc;

    while ((rc = fs_store_async_poll(store, 100, NULL, err, err_size)) == FS_STORE_PENDING)
        ck_assert_msg(now_ms() < deadline, "the store thread did not finish a batch");
    return rc;
}

static int blob_eq(void *opaque, const char *key, const void *value, size_t len)
{
    int *found = opaque;

    if (strcmp(key, "k") == 0 && len == 3 && memcmp(value, "a\0b", 3) == 0)
        (*found)++;
    return 0;
}

/* commit() copies the batch and returns at once; the thread applies it over
 * its own connection; one batch in flight at a time; outcomes are reported
 * once; a fenced batch that had landed is recognised; a batch kept through
 * an outage lands on retry, or is dropped on discard. */
START_TEST(test_async)
{
    char prefix[200], err[512] = "", slice[64], user[16], id[16], fp[16], state[32],
         message[32], delivered_id[16], topic[32], key[8], value[4];
    const char *delivered[1] = {delivered_id};
    fs_counter_delta_t delta;
    fs_user_add_t users[1];
    fs_offset_advance_t off;
    fs_alert_put_t alert;
    fs_blob_put_t meta, snap;
    fs_batch_t b;
    fs_store_t *store, *plain;
    int64_t v, n_users;
    int found = 0;

    make_prefix(prefix, sizeof prefix);
    store = fs_store_async_new(open_store(prefix), open_store(prefix), err, sizeof err);
    ck_assert_msg(store != NULL, "fs_store_async_new: %s", err);
    ck_assert(fs_store_is_async(store));
    ck_assert_int_eq(fs_store_async_poll(store, 0, NULL, err, sizeof err), FS_STORE_IDLE);

    snprintf(slice, sizeof slice, "global");
    snprintf(user, sizeof user, "u-1");
    snprintf(topic, sizeof topic, TOPIC);
    snprintf(fp, sizeof fp, "fp-1");
    snprintf(state, sizeof state, "{\"s\":1}");
    snprintf(id, sizeof id, "id-1");
    snprintf(message, sizeof message, "{\"m\":1}");
    snprintf(delivered_id, sizeof delivered_id, "id-0");
    memcpy(key, "k", 2);
    memcpy(value, "a\0b", 3);
    delta = (fs_counter_delta_t){slice, BASE_MS, 7, 3, 1};
    users[0] = (fs_user_add_t){slice, BASE_MS, user, 3};
    off = (fs_offset_advance_t){topic, 0, -1, 41};
    alert = (fs_alert_put_t){fp, state, id, message};
    meta = (fs_blob_put_t){key, value, 3};
    snap = (fs_blob_put_t){key, value, 3};
    memset(&b, 0, sizeof b);
    b.counters = &delta;
    b.n_counters = 1;
    b.users = users;
    b.n_users = 1;
    b.offsets = &off;
    b.n_offsets = 1;
    b.alerts = &alert;
    b.n_alerts = 1;
    b.delivered = delivered;
    b.n_delivered = 1;
    b.meta = &meta;
    b.n_meta = 1;
    b.snapshot_part = FS_SNAPSHOT_FIRST | FS_SNAPSHOT_LAST;
    b.snapshot = &snap;
    b.n_snapshot = 1;

    /* Accepted, then the caller's memory is scribbled over: the thread
     * applies its own copy. Another batch is refused meanwhile. */
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_OK);
    memset(slice, 'x', sizeof slice - 1);
    memset(user, 'y', sizeof user - 1);
    memset(topic, 'z', sizeof topic - 1);
    memset(state, 's', sizeof state - 1);
    memset(value, 'v', sizeof value);
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EUNAVAILABLE);
    ck_assert(fs_store_async_busy(store));
    ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_OK);
    ck_assert(!fs_store_async_busy(store));
    ck_assert_int_eq(fs_store_async_poll(store, 0, NULL, err, sizeof err), FS_STORE_IDLE);

    /* Everything landed, read back through the store's reader. */
    ck_assert_int_eq(attempts_of(store, "global"), 7);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &v, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(v, 41);
    ck_assert_int_eq(fs_store_affected_users(store, "global", BASE_MS,
                                             BASE_MS + 1000, &n_users, err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(n_users, 1);
    {
        const char *kv_alerts[] = {"fp-1", "{\"s\":1}"};
        const char *kv_outbox[] = {"id-1", "{\"m\":1}"};

        expect_entries(store, 0, 1, kv_alerts);
        expect_entries(store, 1, 1, kv_outbox);
    }
    ck_assert_int_eq(fs_store_read_hash(store, FS_STORE_META, blob_eq, &found, err, sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(fs_store_read_hash(store, FS_STORE_SNAPSHOT, blob_eq, &found, err,
                                        sizeof err),
                     FS_STORE_OK);
    ck_assert_int_eq(found, 2);

    /* The next batch continues from the one that landed. */
    snprintf(slice, sizeof slice, "global");
    snprintf(topic, sizeof topic, TOPIC);
    memset(&b, 0, sizeof b);
    b.counters = &delta;
    b.n_counters = 1;
    b.offsets = &off;
    b.n_offsets = 1;
    off = (fs_offset_advance_t){topic, 0, 41, 50};
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(attempts_of(store, "global"), 14);

    /* A batch from behind is fenced, reported once, and dropped. */
    off = (fs_offset_advance_t){topic, 0, 41, 45};
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_EFENCE);
    ck_assert_int_eq(fs_store_async_poll(store, 0, NULL, err, sizeof err), FS_STORE_IDLE);
    ck_assert_int_eq(attempts_of(store, "global"), 14);

    /* A batch applied by an earlier attempt whose reply was lost (here:
     * applied through another connection): fenced, recognised as landed,
     * and not applied twice. */
    plain = open_store(prefix);
    off = (fs_offset_advance_t){topic, 0, 50, 60};
    commit_ok(plain, &b);
    fs_store_free(plain);
    ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(attempts_of(store, "global"), 21);
    ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &v, err, sizeof err), FS_STORE_OK);
    ck_assert_int_eq(v, 60);
    fs_store_free(store);
    delete_keys(redis_addr, prefix);

    /* Nobody listening: the outcome is "unavailable" once, then the batch
     * is kept (pending) until it is retried or dropped. */
    {
        char addr[64];

        snprintf(addr, sizeof addr, "127.0.0.1:%d", closed_port());
        store = fs_store_async_new(open_store_at(addr, prefix, 500, RETENTION_MS),
                                   open_store_at(addr, prefix, 500, RETENTION_MS), err,
                                   sizeof err);
        ck_assert_ptr_nonnull(store);
        off = (fs_offset_advance_t){topic, 0, -1, 5};
        ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_OK);
        ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_EUNAVAILABLE);
        ck_assert_int_eq(fs_store_async_poll(store, 0, NULL, err, sizeof err),
                         FS_STORE_PENDING);
        ck_assert(fs_store_async_busy(store));
        ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EUNAVAILABLE);
        fs_store_async_retry(store);
        ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_EUNAVAILABLE);
        fs_store_async_discard(store);
        ck_assert(!fs_store_async_busy(store));
        ck_assert_int_eq(fs_store_async_poll(store, 0, NULL, err, sizeof err), FS_STORE_IDLE);

        /* With a private server: it comes up, and the kept batch lands on
         * retry, once. */
        if (redis_server_bin != NULL && redis_server_bin[0] != '\0') {
            int port = closed_port();
            pid_t pid;

            snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
            fs_store_free(store);
            store = fs_store_async_new(open_store_at(addr, "fs-async:", 1000, RETENTION_MS),
                                       open_store_at(addr, "fs-async:", 1000, RETENTION_MS),
                                       err, sizeof err);
            ck_assert_ptr_nonnull(store);
            ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_OK);
            ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_EUNAVAILABLE);
            pid = start_redis(port, NULL);
            wait_ready(store);
            fs_store_async_retry(store);
            ck_assert_int_eq(async_outcome(store, err, sizeof err), FS_STORE_OK);
            ck_assert_int_eq(attempts_of(store, "global"), 7);
            ck_assert_int_eq(fs_store_offset(store, TOPIC, 0, &v, err, sizeof err), FS_STORE_OK);
            ck_assert_int_eq(v, 5);
            fs_store_free(store);
            stop_redis(pid);
        } else {
            fs_store_free(store);
        }
    }
}
END_TEST

/* ---- snapshots in parts ---- */

/* The snapshot hash as "key=value," sorted by key, into out. */
typedef struct snap_text {
    char items[8][32];
    int n;
} snap_text_t;

static int snap_collect(void *opaque, const char *key, const void *value, size_t len)
{
    snap_text_t *t = opaque;
    ck_assert_int_lt(t->n, 8);
    snprintf(t->items[t->n++], sizeof t->items[0], "%s=%.*s", key, (int)len, (const char *)value);
    return 0;
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void expect_snapshot(fs_store_t *store, const char *want)
{
    snap_text_t t;
    char err[256], got[300] = "";
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(
        fs_store_read_hash(store, FS_STORE_SNAPSHOT, snap_collect, &t, err, sizeof err),
        FS_STORE_OK);
    qsort(t.items, (size_t)t.n, sizeof t.items[0], cmp_text);
    for (int i = 0; i < t.n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s,", t.items[i]);
    ck_assert_str_eq(got, want);
}

/* Commits a snapshot part: keys from the letters of names, values "v<key>". */
static void commit_part(fs_store_t *store, int part, const char *names)
{
    fs_blob_put_t e[8];
    char keys[8][2], values[8][3];
    fs_batch_t b;
    size_t n = strlen(names);
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%c", names[i]);
        snprintf(values[i], sizeof values[i], "v%c", names[i]);
        e[i] = (fs_blob_put_t){keys[i], values[i], 2};
    }
    memset(&b, 0, sizeof b);
    b.snapshot_part = part;
    b.snapshot = e;
    b.n_snapshot = n;
    commit_ok(store, &b);
}

START_TEST(test_snapshot_parts)
{
    char prefix[160], staging[200];
    fs_store_t *store;
    redisContext *raw = raw_connect(redis_addr);
    const int whole = FS_SNAPSHOT_FIRST | FS_SNAPSHOT_LAST;

    make_prefix(prefix, sizeof prefix);
    snprintf(staging, sizeof staging, "%ssnapshot:next", prefix);
    store = open_store(prefix);
    commit_part(store, whole, "a");
    expect_snapshot(store, "a=va,");
    /* A snapshot in three parts: the old one stays until the last lands. */
    commit_part(store, FS_SNAPSHOT_FIRST, "bc");
    expect_snapshot(store, "a=va,");
    commit_part(store, 0, "d");
    expect_snapshot(store, "a=va,");
    ck_assert_int_eq(raw_integer(raw, "HLEN %s", staging), 3);
    commit_part(store, FS_SNAPSHOT_LAST, "e");
    expect_snapshot(store, "b=vb,c=vc,d=vd,e=ve,");
    ck_assert_int_eq(raw_integer(raw, "EXISTS %s", staging), 0);
    /* One abandoned half way (a restart): the next first part starts over. */
    commit_part(store, FS_SNAPSHOT_FIRST, "xy");
    commit_part(store, FS_SNAPSHOT_FIRST, "f");
    commit_part(store, FS_SNAPSHOT_LAST, "");
    expect_snapshot(store, "f=vf,");
    /* A snapshot of no slice empties the hash. */
    commit_part(store, whole, "");
    expect_snapshot(store, "");
    /* Flags beyond the two are refused. */
    {
        char err[256];
        fs_batch_t b;
        memset(&b, 0, sizeof b);
        b.snapshot_part = 4;
        ck_assert_int_eq(fs_store_commit(store, &b, err, sizeof err), FS_STORE_EINVALID);
    }
    redisFree(raw);
    fs_store_free(store);
    delete_keys(redis_addr, prefix);
}
END_TEST

static Suite *store_redis_suite(void)
{
    Suite *s = suite_create("store_redis");
    TCase *tc = tcase_create("redis");

    tcase_set_timeout(tc, CASE_TIMEOUT_S);
    tcase_add_test(tc, test_commit_read_back);
    tcase_add_test(tc, test_large_batch);
    tcase_add_test(tc, test_fence);
    tcase_add_test(tc, test_corrupt_counter);
    tcase_add_test(tc, test_ttl);
    tcase_add_test(tc, test_alerts_outbox);
    tcase_add_test(tc, test_affected_users);
    tcase_add_test(tc, test_unreachable);
    tcase_add_test(tc, test_restart);
    tcase_add_test(tc, test_auth);
    tcase_add_test(tc, test_async);
    tcase_add_test(tc, test_snapshot_parts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    /* Before any test forks, so that a skip or a CI failure is this
     * program's exit code. */
    redis_addr = fs_test_service("FORESHOCK_TEST_REDIS");
    redis_server_bin = getenv("FORESHOCK_TEST_REDIS_SERVER");
    if (redis_server_bin == NULL || redis_server_bin[0] == '\0')
        printf("test_restart: FORESHOCK_TEST_REDIS_SERVER not set, restart not tested\n");
    sr = srunner_create(store_redis_suite());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
