/*
 * perf.c: `foreshock-bench perf [-c FILE] [-X key=value]... [--rate N]
 * [--duration D] [--seed N] [--slices N] [--redis HOST:PORT]
 * [-b BOOTSTRAP] [--foreshock PATH] [--kcat PATH] [--partitions N]
 * [--timeout SECONDS] [--json OUT]`.
 *
 * Every figure of one run, on a workload written by gen's generator into a
 * private temporary folder:
 *
 *  1. Memory per live slice: replay's pipeline over a two-minute workload
 *     with the events' user_id added as a dimension and slices.max =
 *     --slices, so that that many slices are live. The growth of the peak
 *     resident set over the run (Linux: /proc/self/clear_refs resets the
 *     peak, /proc/self/status reads it) divided by the live slices, next to
 *     the static size of a slice (fs_pipeline_bytes_per_slice: its aggregate
 *     ring, model states and slice state). It runs first, while the heap
 *     holds nothing freed by earlier runs, with the store the daemon uses
 *     (Redis with --redis, else the memory store, which keeps the counters
 *     and user sets in process as well).
 *  2. Events/s through decode + aggregate + evaluate: fs_bench_replay_run,
 *     the daemon's pipeline, over the workload with the memory store; with
 *     --redis again with the Redis store under a fresh key prefix, with the
 *     server's INFO commandstats totals read before and after (commands run
 *     by the commit script count; so would other clients' commands).
 *  3. With -b (and --redis): fresh topics, the workload produced with
 *     `kcat -P`, then `kcat -C -G` reads both topics to their end, then the
 *     foreshock daemon (found next to foreshock-bench, or --foreshock)
 *     consumes them with the Redis store until Redis holds the last offset
 *     of every partition. Both are timed from their spawn, start-up and
 *     group join included.
 *
 * The topics, the Redis keys and the folder are removed at the end (the
 * folder is kept, with kcat's and the daemon's logs, when FORESHOCK_PERF_KEEP
 * is set). Only
 * this file of bench/ talks to Redis directly (to read the server's
 * counters and offsets, and to delete what the run wrote).
 */
#include "bench/perf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/gen.h"
#include "bench/replay.h"
#include "config/config.h"

extern char **environ;

#define MEMORY_RUN_DURATION "2m"
#define MAX_ARGS            256
#define POLL_MS             20

typedef struct perf_opts {
    const char *config; /* -c FILE; NULL: the key table's defaults */
    const char **overrides;
    size_t n_overrides;
    const char *rate, *duration, *seed;
    long slices; /* 0: no memory run */
    const char *redis;
    const char *bootstrap;
    const char *foreshock;
    const char *kcat;
    const char *json;
    int partitions;
    double timeout_s;
} perf_opts_t;

/* One timed consumption of the workload. */
typedef struct run_figures {
    int done;
    uint64_t events;  /* messages read */
    uint64_t counted; /* of which applied or dead-lettered: not late, not future-stamped */
    double elapsed_s;
    size_t live_slices;
    uint64_t round_trips;
    int64_t commands; /* at the server; -1 when not measured */
} run_figures_t;

typedef struct perf_results {
    uint64_t playback, errors;
    run_figures_t memory, redis;
    /* memory per live slice */
    int mem_done;
    size_t mem_slices, static_bytes;
    double mem_growth; /* bytes */
    const char *mem_store;
    /* Kafka end to end */
    int kafka_done;
    uint64_t produced, kcat_events;
    double kcat_s;
    run_figures_t daemon;
} perf_results_t;

/* Paths and names of one run. */
typedef struct perf_run {
    char dir[256];
    char playback[300], errors[300], mem_playback[300], mem_errors[300];
    char run_id[64];
} perf_run_t;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double per(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

static uint64_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[65536];
    size_t n;
    uint64_t lines = 0;
    if (!f)
        return 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
            lines++;
    fclose(f);
    return lines;
}

/* Whether the assignment `key=value` sets one of the keys of mine. */
static int set_by(const char *assignment, const char *const *mine, size_t n_mine)
{
    size_t len = strcspn(assignment, "=");
    for (size_t i = 0; i < n_mine; i++)
        if (strncmp(mine[i], assignment, len) == 0 && mine[i][len] == '=')
            return 1;
    return 0;
}

/* The user's -X overrides, less those of keys perf sets itself, then perf's
 * (which therefore win). Returns the count, or -1 when they do not fit. */
static int merge_overrides(const perf_opts_t *o, const char *const *mine, size_t n_mine,
                           const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_overrides; i++)
        if (!set_by(o->overrides[i], mine, n_mine) && n < cap)
            out[n++] = o->overrides[i];
    for (size_t i = 0; i < n_mine && n < cap; i++)
        out[n++] = mine[i];
    return n == cap ? -1 : (int)n;
}

/* The configuration of one run: -c FILE (or the defaults) with the merged
 * overrides. Prints the problems and returns NULL when it does not load. */
static fs_config_t *load_config(const perf_opts_t *o, const char *const *mine, size_t n_mine)
{
    const char *all[MAX_ARGS];
    fs_config_diag_t diag = {0};
    int n = merge_overrides(o, mine, n_mine, all, MAX_ARGS);
    fs_config_t *cfg = fs_config_new();
    int problems = 0;
    if (!cfg || n < 0 || fs_config_set_default(cfg, "store", "memory") != 0) {
        fputs("perf: out of memory or too many -X\n", stderr);
        fs_config_free(cfg);
        return NULL;
    }
    if (o->config) {
        problems = fs_config_load(cfg, o->config, all, (size_t)n, &diag);
    } else {
        for (int i = 0; i < n; i++)
            problems += fs_config_override(cfg, all[i], i + 1, &diag);
        problems += fs_config_finish(cfg, &diag);
    }
    for (size_t i = 0; i < diag.n; i++)
        fprintf(stderr, "%s\n", diag.messages[i]);
    fs_config_diag_clear(&diag);
    if (problems) {
        fs_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* ---- child processes ---- */

/*
 * Starts argv[0] (searched in PATH when it has no '/') with stdin from
 * /dev/null and stdout and stderr to the files out and errs (NULL:
 * /dev/null). Returns 0 with *pid set, or an errno value.
 */
static int spawn(char *const argv[], const char *out, const char *errs, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    if (!(rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
        !(rc = posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
                                                O_WRONLY | O_CREAT | O_TRUNC, 0644)) &&
        !(rc = posix_spawn_file_actions_addopen(&fa, 2, errs ? errs : "/dev/null",
                                                O_WRONLY | O_CREAT | O_TRUNC, 0644)))
        rc = strchr(argv[0], '/') ? posix_spawn(pid, argv[0], &fa, NULL, argv, environ)
                                  : posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Waits for a child; returns its exit status, or -1 when a signal ended it. */
static int wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs a child to its end; returns 0 when it exits 0, else prints why. */
static int run_child(char *const argv[], const char *out, const char *errs, double *elapsed_s)
{
    pid_t pid;
    double t0 = mono_s();
    int rc = spawn(argv, out, errs, &pid);
    if (rc) {
        fprintf(stderr, "perf: cannot start %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    rc = wait_child(pid);
    if (elapsed_s)
        *elapsed_s = mono_s() - t0;
    if (rc != 0) {
        fprintf(stderr, "perf: %s exited with status %d%s%s\n", argv[0], rc, errs ? "; see " : "",
                errs ? errs : "");
        return -1;
    }
    return 0;
}

/* ---- Redis: the server's counters, offsets and clean-up ---- */

static redisContext *redis_open(const char *address, const fs_config_t *cfg)
{
    struct timeval tv = {10, 0};
    redisContext *c = NULL;
    char host[256];
    const char *colon = strrchr(address, ':');
    if (address[0] == '/') {
        c = redisConnectUnixWithTimeout(address, tv);
    } else if (colon && colon > address && (size_t)(colon - address) < sizeof host) {
        memcpy(host, address, (size_t)(colon - address));
        host[colon - address] = '\0';
        char *h = host;
        size_t len = strlen(h);
        if (h[0] == '[' && len > 2 && h[len - 1] == ']') {
            h[len - 1] = '\0';
            h++;
        }
        c = redisConnectWithTimeout(h, atoi(colon + 1), tv);
    } else {
        fprintf(stderr, "perf: --redis %s: not HOST:PORT or /path\n", address);
        return NULL;
    }
    if (!c || c->err) {
        fprintf(stderr, "perf: redis %s: %s\n", address, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (cfg->redis_password[0]) {
        redisReply *r = cfg->redis_user[0]
                            ? redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password)
                            : redisCommand(c, "AUTH %s", cfg->redis_password);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "perf: redis %s: AUTH failed\n", address);
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* The sum of calls over INFO commandstats (commands run by scripts
 * included), or -1. The INFO itself is counted after it answers. */
static int64_t redis_calls(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    int64_t total = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        total = 0;
        for (const char *p = r->str; (p = strstr(p, ":calls=")); p += 7)
            total += strtoll(p + 7, NULL, 10);
    }
    freeReplyObject(r);
    return total;
}

/* Deletes every key that starts with prefix (no glob characters in it). */
static void redis_drop(redisContext *c, const char *prefix)
{
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            return;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        const char *argv[1001];
        size_t lens[1001], n = 0;
        argv[n] = "DEL";
        lens[n++] = 3;
        for (size_t i = 0; i < keys->elements && n < 1001; i++) {
            argv[n] = keys->element[i]->str;
            lens[n++] = keys->element[i]->len;
        }
        if (n > 1)
            freeReplyObject(redisCommandArgv(c, (int)n, argv, lens));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
}

/* ---- the runs ---- */

/* Reads the peak and current resident set in bytes (Linux); -1 if unknown. */
static void resident(double *peak, double *now)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    *peak = *now = -1;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            *peak = 1024.0 * strtod(line + 6, NULL);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            *now = 1024.0 * strtod(line + 6, NULL);
    }
    fclose(f);
}

/* Makes the peak resident set the current one (Linux 4.0 and later). */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int bad = fputs("5", f) < 0;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* Replays files through cfg's store into run, with the alerts in the folder. */
static int replay(const fs_config_t *cfg, const perf_run_t *r, const char *playback,
                  const char *errors, run_figures_t *fig, fs_bench_replay_stats_t *stats)
{
    char alerts[300], err[1024];
    snprintf(alerts, sizeof alerts, "%s/alerts.ndjson", r->dir);
    fs_bench_replay_files_t files = {playback, errors, alerts, NULL};
    if (fs_bench_replay_run(cfg, &files, stderr, stats, err, sizeof err) != 0) {
        fprintf(stderr, "perf: %s\n", err);
        return -1;
    }
    fig->done = 1;
    const fs_pipeline_stats_t *ps = &stats->pipeline;
    fig->counted = ps->events + ps->invalid;
    fig->events = fig->counted + ps->late + ps->future;
    fig->elapsed_s = stats->elapsed_s;
    fig->live_slices = stats->pipeline.live_slices;
    fig->round_trips = stats->store_round_trips;
    fig->commands = -1;
    return 0;
}

/* The store settings of a run: Redis under prefix when the run has one. */
static size_t store_settings(const perf_opts_t *o, const char *prefix, char (*buf)[300])
{
    if (!prefix) {
        snprintf(buf[0], sizeof buf[0], "store=memory");
        return 1;
    }
    snprintf(buf[0], sizeof buf[0], "store=redis");
    snprintf(buf[1], sizeof buf[1], "redis.address=%s", o->redis);
    snprintf(buf[2], sizeof buf[2], "redis.prefix=%s", prefix);
    return 3;
}

/* Memory per live slice: see the top of the file. */
static int memory_run(const perf_opts_t *o, const perf_run_t *r, redisContext *redis,
                      perf_results_t *res)
{
    char buf[5][300], prefix[96], dims[300] = "";
    const char *mine[5];
    fs_bench_replay_stats_t stats;
    run_figures_t fig;
    double peak0, now0, peak1, now1;
    int rc = -1;

    /* The user's dimensions, plus the high-cardinality user_id. */
    fs_config_t *cfg = load_config(o, NULL, 0);
    if (!cfg)
        return -1;
    for (size_t i = 0; i < cfg->dimensions.n; i++)
        if (strcmp(cfg->dimensions.items[i], "user_id") != 0)
            snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s,",
                     cfg->dimensions.items[i]);
    fs_config_free(cfg);
    snprintf(prefix, sizeof prefix, "%s-memory:", r->run_id);
    size_t n = store_settings(o, redis ? prefix : NULL, buf);
    snprintf(buf[n++], sizeof buf[0], "dimensions=%suser_id", dims);
    snprintf(buf[n++], sizeof buf[0], "slices.max=%ld", o->slices);
    for (size_t i = 0; i < n; i++)
        mine[i] = buf[i];
    if (!(cfg = load_config(o, mine, n)))
        return -1;
    if (reset_peak() != 0)
        fprintf(stderr, "perf: cannot reset the peak resident set; the memory figure "
                        "includes what came before\n");
    resident(&peak0, &now0);
    if (replay(cfg, r, r->mem_playback, r->mem_errors, &fig, &stats) == 0) {
        resident(&peak1, &now1);
        if (peak1 >= 0 && now0 >= 0 && fig.live_slices > 0) {
            res->mem_done = 1;
            res->mem_slices = fig.live_slices;
            res->mem_growth = peak1 - now0;
            res->static_bytes = stats.bytes_per_slice;
            res->mem_store = redis ? "redis" : "memory";
            rc = 0;
        } else {
            fputs("perf: cannot read the resident set (/proc/self/status)\n", stderr);
        }
    }
    if (redis)
        redis_drop(redis, prefix);
    fs_config_free(cfg);
    return rc;
}

/* Events/s in process with the memory store, then with Redis. */
static int throughput_runs(const perf_opts_t *o, const perf_run_t *r, redisContext *redis,
                           perf_results_t *res)
{
    char buf[3][300], prefix[96];
    const char *mine[3];
    fs_bench_replay_stats_t stats;
    int rc = -1;

    size_t n = store_settings(o, NULL, buf);
    mine[0] = buf[0];
    fs_config_t *cfg = load_config(o, mine, n);
    if (!cfg || replay(cfg, r, r->playback, r->errors, &res->memory, &stats) != 0)
        goto done;
    fs_config_free(cfg);
    cfg = NULL;
    if (redis) {
        snprintf(prefix, sizeof prefix, "%s-replay:", r->run_id);
        n = store_settings(o, prefix, buf);
        for (size_t i = 0; i < n; i++)
            mine[i] = buf[i];
        if (!(cfg = load_config(o, mine, n)))
            goto done;
        int64_t before = redis_calls(redis);
        int failed = replay(cfg, r, r->playback, r->errors, &res->redis, &stats) != 0;
        int64_t after = redis_calls(redis);
        /* Less the INFO that took the first reading. */
        res->redis.commands = before >= 0 && after >= 0 ? after - before - 1 : -1;
        redis_drop(redis, prefix);
        if (failed)
            goto done;
    }
    rc = 0;
done:
    fs_config_free(cfg);
    return rc;
}

/* ---- Kafka end to end ---- */

/* The last offset of one partition that holds messages. */
typedef struct partition_end {
    const char *topic;
    int32_t partition;
    int64_t last;
} partition_end_t;

typedef struct kafka_run {
    char topics[4][128]; /* playback, errors, alerts, deadletter */
    char group_kcat[128], group_daemon[128], prefix[128];
    rd_kafka_t *rk; /* admin and watermark queries */
    int created;
    partition_end_t *ends;
    size_t n_ends;
} kafka_run_t;

/* The kafka.* properties the user set (not the program's defaults). */
static int user_kafka_prop(const fs_kafka_prop_t *prop)
{
    return prop->origin.file != NULL && strcmp(prop->name, "bootstrap.servers") != 0 &&
           strcmp(prop->name, "group.id") != 0;
}

static rd_kafka_t *kafka_client(const fs_config_t *cfg, const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (user_kafka_prop(&cfg->kafka[i]) &&
            rd_kafka_conf_set(conf, cfg->kafka[i].name, cfg->kafka[i].value, err, sizeof err))
            goto fail;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err))
        goto fail;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk)
        return rk;
fail:
    fprintf(stderr, "perf: kafka: %s\n", err);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Creates (create = 1) or deletes the run's four topics; 0 or -1. */
static int kafka_topics(kafka_run_t *k, int partitions, int create)
{
    char err[512];
    rd_kafka_NewTopic_t *new_topics[4] = {NULL};
    rd_kafka_DeleteTopic_t *del_topics[4] = {NULL};
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(
        k->rk, create ? RD_KAFKA_ADMIN_OP_CREATETOPICS : RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **results = NULL;
    size_t n_results = 0;
    int rc = -1;

    rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, err, sizeof err);
    for (int i = 0; i < 4; i++) {
        /* The inputs get --partitions, alerts and dead letters one; -1 is
         * the broker's default replication factor. */
        if (create && !(new_topics[i] = rd_kafka_NewTopic_new(k->topics[i], i < 2 ? partitions : 1,
                                                              -1, err, sizeof err))) {
            fprintf(stderr, "perf: topic %s: %s\n", k->topics[i], err);
            goto done;
        }
        if (!create)
            del_topics[i] = rd_kafka_DeleteTopic_new(k->topics[i]);
    }
    if (create)
        rd_kafka_CreateTopics(k->rk, new_topics, 4, ao, q);
    else
        rd_kafka_DeleteTopics(k->rk, del_topics, 4, ao, q);
    ev = rd_kafka_queue_poll(q, 60000);
    if (!ev || rd_kafka_event_error(ev)) {
        fprintf(stderr, "perf: %s topics: %s\n", create ? "creating" : "deleting",
                ev ? rd_kafka_event_error_string(ev) : "timed out");
        goto done;
    }
    if (create)
        results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n_results);
    else
        results =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n_results);
    rc = 0;
    for (size_t i = 0; i < n_results; i++) {
        if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "perf: topic %s: %s\n", rd_kafka_topic_result_name(results[i]),
                    rd_kafka_topic_result_error_string(results[i]));
            rc = -1;
        }
    }
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    for (int i = 0; i < 4; i++) {
        if (new_topics[i])
            rd_kafka_NewTopic_destroy(new_topics[i]);
        if (del_topics[i])
            rd_kafka_DeleteTopic_destroy(del_topics[i]);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Reads the end of every input partition; returns the messages they hold, or -1. */
static int64_t kafka_ends(kafka_run_t *k, int partitions)
{
    int64_t total = 0;
    k->ends = calloc(2 * (size_t)partitions, sizeof *k->ends);
    if (!k->ends)
        return -1;
    for (int t = 0; t < 2; t++) {
        for (int32_t p = 0; p < partitions; p++) {
            int64_t low, high;
            rd_kafka_resp_err_t e =
                rd_kafka_query_watermark_offsets(k->rk, k->topics[t], p, &low, &high, 30000);
            if (e) {
                fprintf(stderr, "perf: offsets of %s/%d: %s\n", k->topics[t], (int)p,
                        rd_kafka_err2str(e));
                return -1;
            }
            total += high - low;
            if (high > low)
                k->ends[k->n_ends++] = (partition_end_t){k->topics[t], p, high - 1};
        }
    }
    return total;
}

/* Whether Redis holds the last offset of every input partition; -1 on error. */
static int daemon_caught_up(redisContext *redis, const kafka_run_t *k)
{
    redisReply *r = redisCommand(redis, "HGETALL %soffsets", k->prefix);
    int reached = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < k->n_ends; i++) {
        char field[160];
        snprintf(field, sizeof field, "%s/%d", k->ends[i].topic, (int)k->ends[i].partition);
        for (size_t j = 0; j + 1 < r->elements; j += 2)
            if (strcmp(r->element[j]->str, field) == 0 &&
                strtoll(r->element[j + 1]->str, NULL, 10) >= k->ends[i].last)
                reached++;
    }
    freeReplyObject(r);
    return reached == (int)k->n_ends;
}

/* An argv of at most MAX_ARGS strings, copied into one buffer. */
typedef struct args {
    char *v[MAX_ARGS + 1];
    size_t n;
    char buf[16384];
    size_t used;
} args_t;

static void add_arg(args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_arg(args_t *a, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof a->buf - a->used;
    va_start(ap, fmt);
    int len = vsnprintf(a->buf + a->used, room, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= room || a->n == MAX_ARGS) {
        a->v[0] = NULL; /* too long: refused by the caller */
        return;
    }
    a->v[a->n++] = a->buf + a->used;
    a->v[a->n] = NULL;
    a->used += (size_t)len + 1;
}

/* Starts a kcat command line in a: kcat MODE -b BOOTSTRAP, with -X for the
 * user's kafka.* properties, so that kcat and foreshock connect alike. */
static void kcat_args(args_t *a, const perf_opts_t *o, const fs_config_t *cfg, const char *mode)
{
    a->n = a->used = 0;
    add_arg(a, "%s", o->kcat);
    add_arg(a, "%s", mode);
    add_arg(a, "-b");
    add_arg(a, "%s", o->bootstrap);
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (user_kafka_prop(&cfg->kafka[i])) {
            add_arg(a, "-X");
            add_arg(a, "%s=%s", cfg->kafka[i].name, cfg->kafka[i].value);
        }
}

/* The foreshock binary: --foreshock, else next to this program (installed)
 * or in the build tree's detector/ folder. */
static int find_foreshock(const perf_opts_t *o, char *path, size_t size)
{
    char self[2048];
    if (o->foreshock) {
        snprintf(path, size, "%s", o->foreshock);
        return 0;
    }
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return -1;
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(path, size, "%s/foreshock", self);
    if (access(path, X_OK) == 0)
        return 0;
    snprintf(path, size, "%s/../detector/foreshock", self);
    return access(path, X_OK);
}

/* Parses `events=N store_round_trips=M` of the daemon's last stopped line. */
static int daemon_stopped(const char *log, run_figures_t *fig)
{
    FILE *f = fopen(log, "r");
    char line[4096];
    int found = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        const char *ev = strstr(line, " events="), *trips = strstr(line, " store_round_trips=");
        if (strstr(line, "event=stopped") && ev && trips) {
            fig->counted = strtoull(ev + 8, NULL, 10);
            fig->round_trips = strtoull(trips + 19, NULL, 10);
            found = 1;
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

/* Runs the daemon until it has stored the last offset of every partition. */
static int run_daemon(const perf_opts_t *o, const perf_run_t *r, kafka_run_t *k,
                      redisContext *redis, perf_results_t *res)
{
    char exe[4096], conf[300], log[300], mine_buf[12][300];
    const char *mine[12], *all[MAX_ARGS];
    args_t *a = calloc(1, sizeof *a);
    pid_t pid = -1;
    int rc = -1, polls = 0;

    if (!a)
        return -1;
    if (find_foreshock(o, exe, sizeof exe) != 0) {
        fputs("perf: foreshock not found next to foreshock-bench; give --foreshock PATH\n", stderr);
        goto done;
    }
    snprintf(log, sizeof log, "%s/foreshock.log", r->dir);
    snprintf(conf, sizeof conf, "%s/empty.conf", r->dir);
    if (!o->config) {
        FILE *f = fopen(conf, "w");
        if (!f || fclose(f) != 0) {
            perror(conf);
            goto done;
        }
    }
    size_t n = 0;
    snprintf(mine_buf[n++], 300, "kafka.bootstrap.servers=%s", o->bootstrap);
    snprintf(mine_buf[n++], 300, "kafka.group.id=%s", k->group_daemon);
    snprintf(mine_buf[n++], 300, "topics.playback=%s", k->topics[0]);
    snprintf(mine_buf[n++], 300, "topics.errors=%s", k->topics[1]);
    snprintf(mine_buf[n++], 300, "topics.alerts=%s", k->topics[2]);
    snprintf(mine_buf[n++], 300, "topics.deadletter=%s", k->topics[3]);
    n += store_settings(o, k->prefix, &mine_buf[n]);
    snprintf(mine_buf[n++], 300, "metrics.enabled=false");
    snprintf(mine_buf[n++], 300, "log.format=logfmt");
    snprintf(mine_buf[n++], 300, "log.level=info");
    for (size_t i = 0; i < n; i++)
        mine[i] = mine_buf[i];
    int n_all = merge_overrides(o, mine, n, all, MAX_ARGS / 2 - 4);
    add_arg(a, "%s", exe);
    add_arg(a, "-c");
    add_arg(a, "%s", o->config ? o->config : conf);
    for (int i = 0; i < n_all; i++) {
        add_arg(a, "-X");
        add_arg(a, "%s", all[i]);
    }
    if (n_all < 0 || !a->v[0]) {
        fputs("perf: too many -X\n", stderr);
        goto done;
    }

    int64_t before = redis_calls(redis);
    double t0 = mono_s(), deadline = t0 + o->timeout_s;
    int err = spawn(a->v, NULL, log, &pid);
    if (err) {
        fprintf(stderr, "perf: cannot start %s: %s\n", exe, strerror(err));
        pid = -1;
        goto done;
    }
    for (;;) {
        int caught_up = daemon_caught_up(redis, k);
        polls++;
        if (caught_up > 0)
            break;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = -1;
            fprintf(stderr, "perf: foreshock exited before it consumed the workload; see %s\n",
                    log);
            goto done;
        }
        if (caught_up < 0 || mono_s() > deadline) {
            fprintf(stderr, "perf: foreshock %s; see %s\n",
                    caught_up < 0 ? "offsets unreadable in Redis" : "did not finish in time", log);
            goto done;
        }
        pause_ms(POLL_MS);
    }
    res->daemon.elapsed_s = mono_s() - t0;
    res->daemon.events = res->produced; /* every offset is stored: every message was read */
    int64_t after = redis_calls(redis);
    /* Less the INFO of the first reading and the offset polls. */
    res->daemon.commands = before >= 0 && after >= 0 ? after - before - 1 - polls : -1;
    kill(pid, SIGTERM);
    int status = wait_child(pid);
    pid = -1;
    if (status != 0 || daemon_stopped(log, &res->daemon) != 0) {
        fprintf(stderr, "perf: foreshock stopped with status %d; see %s\n", status, log);
        goto done;
    }
    res->daemon.done = 1;
    rc = 0;
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        wait_child(pid);
    }
    free(a);
    return rc;
}

/* Produces the workload, times kcat then foreshock over it. */
static int kafka_run(const perf_opts_t *o, const perf_run_t *r, redisContext *redis,
                     perf_results_t *res)
{
    static const char *const suffix[4] = {"playback", "errors", "alerts", "deadletter"};
    kafka_run_t k = {0};
    args_t *a = calloc(1, sizeof *a);
    char out[300], errs[300];
    fs_config_t *cfg = load_config(o, NULL, 0);
    int rc = -1;

    if (!a || !cfg)
        goto done;
    for (int i = 0; i < 4; i++)
        snprintf(k.topics[i], sizeof k.topics[i], "%s-%s", r->run_id, suffix[i]);
    snprintf(k.group_kcat, sizeof k.group_kcat, "%s-kcat", r->run_id);
    snprintf(k.group_daemon, sizeof k.group_daemon, "%s-foreshock", r->run_id);
    snprintf(k.prefix, sizeof k.prefix, "%s-daemon:", r->run_id);
    if (!(k.rk = kafka_client(cfg, o->bootstrap)) || kafka_topics(&k, o->partitions, 1) != 0)
        goto done;
    k.created = 1;

    /* The workload, one topic per file, with kcat -P. */
    const char *files[2] = {r->playback, r->errors};
    for (int t = 0; t < 2; t++) {
        kcat_args(a, o, cfg, "-P");
        add_arg(a, "-t");
        add_arg(a, "%s", k.topics[t]);
        add_arg(a, "-l");
        add_arg(a, "%s", files[t]);
        snprintf(errs, sizeof errs, "%s/kcat-produce.log", r->dir);
        if (!a->v[0] || run_child(a->v, NULL, errs, NULL) != 0)
            goto done;
    }
    int64_t produced = kafka_ends(&k, o->partitions);
    if (produced < 0)
        goto done;
    res->produced = (uint64_t)produced;
    if (res->produced != res->playback + res->errors) {
        fprintf(stderr, "perf: the topics hold %" PRIu64 " messages, the workload %" PRIu64 "\n",
                res->produced, res->playback + res->errors);
        goto done;
    }

    /* kcat as a group consumer of both topics, as foreshock is. */
    kcat_args(a, o, cfg, "-C");
    add_arg(a, "-X");
    add_arg(a, "auto.offset.reset=earliest");
    add_arg(a, "-G");
    add_arg(a, "%s", k.group_kcat);
    add_arg(a, "-o");
    add_arg(a, "beginning");
    add_arg(a, "-e");
    add_arg(a, "-q");
    add_arg(a, "%s", k.topics[0]);
    add_arg(a, "%s", k.topics[1]);
    snprintf(out, sizeof out, "%s/kcat.out", r->dir);
    snprintf(errs, sizeof errs, "%s/kcat-consume.log", r->dir);
    if (!a->v[0] || run_child(a->v, out, errs, &res->kcat_s) != 0)
        goto done;
    res->kcat_events = count_lines(out);
    unlink(out);

    if (run_daemon(o, r, &k, redis, res) != 0)
        goto done;
    res->kafka_done = 1;
    rc = 0;
done:
    if (k.created)
        kafka_topics(&k, o->partitions, 0);
    if (k.rk)
        rd_kafka_destroy(k.rk);
    if (redis && k.prefix[0])
        redis_drop(redis, k.prefix);
    free(k.ends);
    free(a);
    fs_config_free(cfg);
    return rc;
}

/* ---- output ---- */

/* Messages that counted nowhere: older than the closed buckets, or stamped
 * beyond the allowed clock skew. */
static uint64_t late_of(const run_figures_t *f)
{
    return f->events > f->counted ? f->events - f->counted : 0;
}

static void print_run(const char *what, const run_figures_t *f, int slices)
{
    printf("  %-22s %10.0f events/s  (%" PRIu64 " events in %.2f s, %" PRIu64 " late or future",
           what, per((double)f->events, f->elapsed_s), f->events, f->elapsed_s, late_of(f));
    if (slices)
        printf(", %zu live slices", f->live_slices);
    printf(")\n");
}

static void print_redis(const run_figures_t *f)
{
    printf("  %-22s %10.4f commands/event at the server (%" PRId64 " commands)\n", "Redis commands",
           per((double)f->commands, (double)f->events), f->commands);
    printf("  %-22s %10.6f round trips/event (%" PRIu64 " round trips)\n", "Redis round trips",
           per((double)f->round_trips, (double)f->events), f->round_trips);
}

static void print_results(const perf_opts_t *o, const perf_results_t *res)
{
    printf("workload: %" PRIu64 " events (%" PRIu64 " playback, %" PRIu64
           " errors): --rate %s --duration %s --seed %s\n",
           res->playback + res->errors, res->playback, res->errors, o->rate, o->duration, o->seed);
    printf("in process, decode + aggregate + evaluate (one thread):\n");
    if (res->memory.done)
        print_run("memory store", &res->memory, 1);
    if (res->redis.done) {
        print_run("Redis store", &res->redis, 1);
        print_redis(&res->redis);
    }
    if (res->mem_done) {
        printf("memory per live slice (%zu live slices, %s store, %s of --rate):\n",
               res->mem_slices, res->mem_store, MEMORY_RUN_DURATION);
        printf("  %-22s %10.0f bytes     (peak resident set +%.1f MB over the run)\n", "measured",
               per(res->mem_growth, (double)res->mem_slices), res->mem_growth / 1e6);
        printf("  %-22s %10zu bytes     (aggregate ring + model states + slice state)\n", "static",
               res->static_bytes);
    }
    if (res->kafka_done) {
        const run_figures_t *d = &res->daemon;
        printf("Kafka end to end (%" PRIu64 " events in 2 topics x %d partitions, Redis store):\n",
               res->produced, o->partitions);
        printf("  %-22s %10.0f events/s  (%" PRIu64 " events in %.2f s)\n", "kcat -C -G",
               per((double)res->kcat_events, res->kcat_s), res->kcat_events, res->kcat_s);
        print_run("foreshock", d, 0);
        printf("  %-22s (start-up, group join and the last flush included)\n", "");
        printf(
            "  %-22s %10.2f\n", "ratio foreshock/kcat",
            per(per((double)d->events, d->elapsed_s), per((double)res->kcat_events, res->kcat_s)));
        print_redis(d);
    }
}

/* A number, or null when it is not finite. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *run_json(const run_figures_t *f, int with_redis)
{
    json_t *j = json_pack("{s:I, s:I, s:o, s:o, s:I}", "events", (json_int_t)f->events,
                          "late_or_future", (json_int_t)late_of(f), "elapsed_s", num(f->elapsed_s),
                          "events_per_s", num(per((double)f->events, f->elapsed_s)), "live_slices",
                          (json_int_t)f->live_slices);
    if (j && with_redis) {
        json_object_set_new(j, "redis_commands", json_integer(f->commands));
        json_object_set_new(j, "redis_commands_per_event",
                            num(per((double)f->commands, (double)f->events)));
        json_object_set_new(j, "round_trips", json_integer((json_int_t)f->round_trips));
        json_object_set_new(j, "round_trips_per_event",
                            num(per((double)f->round_trips, (double)f->events)));
    }
    return j;
}

static int write_json(const perf_opts_t *o, const perf_results_t *res)
{
    json_t *root = json_object();
    json_object_set_new(root, "workload",
                        json_pack("{s:I, s:I, s:I, s:s, s:s, s:s}", "events",
                                  (json_int_t)(res->playback + res->errors), "playback",
                                  (json_int_t)res->playback, "errors", (json_int_t)res->errors,
                                  "rate", o->rate, "duration", o->duration, "seed", o->seed));
    json_t *in = json_object();
    if (res->memory.done)
        json_object_set_new(in, "memory_store", run_json(&res->memory, 0));
    if (res->redis.done)
        json_object_set_new(in, "redis_store", run_json(&res->redis, 1));
    json_object_set_new(root, "in_process", in);
    if (res->mem_done)
        json_object_set_new(root, "memory",
                            json_pack("{s:I, s:s, s:o, s:o, s:I}", "live_slices",
                                      (json_int_t)res->mem_slices, "store", res->mem_store,
                                      "rss_growth_bytes", num(res->mem_growth), "bytes_per_slice",
                                      num(per(res->mem_growth, (double)res->mem_slices)),
                                      "static_bytes_per_slice", (json_int_t)res->static_bytes));
    if (res->kafka_done) {
        json_t *kcat = json_pack("{s:I, s:o, s:o}", "events", (json_int_t)res->kcat_events,
                                 "elapsed_s", num(res->kcat_s), "events_per_s",
                                 num(per((double)res->kcat_events, res->kcat_s)));
        json_t *kafka =
            json_pack("{s:I, s:i, s:o, s:o}", "produced", (json_int_t)res->produced, "partitions",
                      o->partitions, "kcat", kcat, "foreshock", run_json(&res->daemon, 1));
        json_object_del(json_object_get(kafka, "foreshock"), "live_slices");
        json_object_set_new(kafka, "ratio",
                            num(per(per((double)res->daemon.events, res->daemon.elapsed_s),
                                    per((double)res->kcat_events, res->kcat_s))));
        json_object_set_new(root, "kafka", kafka);
    }
    int rc = json_dump_file(root, o->json, JSON_INDENT(2)) == 0 ? 0 : -1;
    if (rc)
        fprintf(stderr, "perf: cannot write %s\n", o->json);
    json_decref(root);
    return rc;
}

/* ---- the subcommand ---- */

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench perf [-c FILE] [-X key=value]... [--rate N] [--duration D]\n"
          "         [--seed N] [--slices N] [--redis HOST:PORT] [-b BOOTSTRAP]\n"
          "         [--foreshock PATH] [--kcat PATH] [--partitions N] [--timeout SECONDS]\n"
          "         [--json OUT]\n",
          out);
}

/* Writes the workloads with gen's generator. */
static int generate(const perf_opts_t *o, perf_run_t *r, perf_results_t *res)
{
    char *argv[] = {
        "gen",           "--playback", r->playback,         "--errors", r->errors,       "--rate",
        (char *)o->rate, "--duration", (char *)o->duration, "--seed",   (char *)o->seed, NULL};
    if (fs_bench_gen_main(11, argv) != 0)
        return -1;
    res->playback = count_lines(r->playback);
    res->errors = count_lines(r->errors);
    if (o->slices > 0) {
        argv[2] = r->mem_playback;
        argv[4] = r->mem_errors;
        argv[8] = MEMORY_RUN_DURATION;
        if (fs_bench_gen_main(11, argv) != 0)
            return -1;
    }
    return 0;
}

/* Removes the run's folder and the files in it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[600];
    if (!d)
        return;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

int fs_bench_perf_main(int argc, char **argv)
{
    enum {
        OPT_RATE = 256,
        OPT_DURATION,
        OPT_SEED,
        OPT_SLICES,
        OPT_REDIS,
        OPT_FORESHOCK,
        OPT_KCAT,
        OPT_PARTITIONS,
        OPT_TIMEOUT,
        OPT_JSON
    };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"bootstrap", required_argument, NULL, 'b'},
        {"rate", required_argument, NULL, OPT_RATE},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"seed", required_argument, NULL, OPT_SEED},
        {"slices", required_argument, NULL, OPT_SLICES},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"foreshock", required_argument, NULL, OPT_FORESHOCK},
        {"kcat", required_argument, NULL, OPT_KCAT},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"json", required_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    perf_opts_t o = {.rate = "2000",
                     .duration = "10m",
                     .seed = "1",
                     .slices = 20000,
                     .kcat = "kcat",
                     .partitions = 4,
                     .timeout_s = 600};
    perf_results_t res = {0};
    perf_run_t r;
    redisContext *redis = NULL;
    fs_config_t *cfg = NULL;
    char *end;
    int status = 1;

    memset(&r, 0, sizeof r);
    o.overrides = calloc((size_t)argc + 1, sizeof *o.overrides);
    if (!o.overrides)
        return 1;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:X:b:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o.config = optarg;
            break;
        case 'X':
            o.overrides[o.n_overrides++] = optarg;
            break;
        case 'b':
            o.bootstrap = optarg;
            break;
        case OPT_RATE:
            o.rate = optarg;
            break;
        case OPT_DURATION:
            o.duration = optarg;
            break;
        case OPT_SEED:
            o.seed = optarg;
            break;
        case OPT_SLICES:
            o.slices = strtol(optarg, &end, 10);
            if (*end || o.slices < 0 || (o.slices > 0 && o.slices < 16)) {
                fputs("perf: --slices takes 0 (no memory run) or 16 and more\n", stderr);
                status = 2;
                goto done;
            }
            break;
        case OPT_REDIS:
            o.redis = optarg;
            break;
        case OPT_FORESHOCK:
            o.foreshock = optarg;
            break;
        case OPT_KCAT:
            o.kcat = optarg;
            break;
        case OPT_PARTITIONS:
            o.partitions = atoi(optarg);
            break;
        case OPT_TIMEOUT:
            o.timeout_s = atof(optarg);
            break;
        case OPT_JSON:
            o.json = optarg;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto done;
        default:
            usage(stderr);
            status = 2;
            goto done;
        }
    }
    if (optind != argc || o.partitions < 1 || o.partitions > 1024 || o.timeout_s <= 0) {
        usage(stderr);
        status = 2;
        goto done;
    }
    if (o.bootstrap && !o.redis) {
        fputs("perf: -b needs --redis (foreshock keeps its state there)\n", stderr);
        status = 2;
        goto done;
    }
    /* The configuration must load before anything is generated. */
    if (!(cfg = load_config(&o, NULL, 0)))
        goto done;
    if (o.redis && !(redis = redis_open(o.redis, cfg)))
        goto done;

    const char *tmp = getenv("TMPDIR");
    snprintf(r.dir, sizeof r.dir, "%s/foreshock-perf.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(r.dir)) {
        perror(r.dir);
        r.dir[0] = '\0';
        goto done;
    }
    snprintf(r.playback, sizeof r.playback, "%s/playback.ndjson", r.dir);
    snprintf(r.errors, sizeof r.errors, "%s/errors.ndjson", r.dir);
    snprintf(r.mem_playback, sizeof r.mem_playback, "%s/memory-playback.ndjson", r.dir);
    snprintf(r.mem_errors, sizeof r.mem_errors, "%s/memory-errors.ndjson", r.dir);
    snprintf(r.run_id, sizeof r.run_id, "perf-%ld-%ld", (long)getpid(), (long)time(NULL));

    if (generate(&o, &r, &res) != 0)
        goto done;
    if (o.slices > 0 && memory_run(&o, &r, redis, &res) != 0)
        goto done;
    if (throughput_runs(&o, &r, redis, &res) != 0)
        goto done;
    if (o.bootstrap && kafka_run(&o, &r, redis, &res) != 0)
        goto done;
    print_results(&o, &res);
    if (o.json && write_json(&o, &res) != 0)
        goto done;
    status = 0;
done:
    if (status == 1 && (res.memory.done || res.mem_done))
        print_results(&o, &res); /* what was measured before the failure */
    if (r.dir[0] && getenv("FORESHOCK_PERF_KEEP"))
        fprintf(stderr, "perf: kept %s\n", r.dir);
    else if (r.dir[0])
        remove_dir(r.dir);
    redisFree(redis);
    fs_config_free(cfg);
    free(o.overrides);
    return status;
}
