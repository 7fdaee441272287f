/*
 * check_daemon.c: end-to-end tests of the daemon `foreshock` against the
 * real Kafka broker and redis-server of tests/stack.
 *
 * Each test makes its own topics (4 partitions each), consumer group and
 * Redis key prefix, produces a deterministic workload (workload.h) whose
 * truth is computed independently of the detector, runs the daemon as a
 * child process (`foreshock -c <conf> -X ...`, stderr to a temporary log that
 * is printed when the test fails), waits until the store holds every input
 * offset, stops it with SIGTERM (exit 0 within 10 s) and checks what came
 * out. Counters are read back through the store API (fs_store_buckets) and
 * compared cell by cell with the truth; every alert message read back is
 * checked against CONTRACT.md section 2.
 *
 *   clean     no incident: no firing alert, counters exact;
 *   burst     failures x10 in country=BR, platform=android for two minutes:
 *             a PlaybackFailureBurst fires within 30 s and is resolved with
 *             the same fingerprint and startsAt after the incident;
 *   crash     the daemon SIGKILLed three times mid-stream and restarted:
 *             counters still exact, no alert message published twice;
 *   invalid   32 kinds of malformed messages interleaved with valid ones on
 *             both topics: each reaches the dead-letter topic once,
 *             unchanged, with its reason and its topic/partition/offset;
 *             counters are those of the valid events;
 *   outage    a private redis-server stopped for 10 s mid-stream: the
 *             daemon keeps running, logs store_unavailable and
 *             store_available, and the counters are exact;
 *   appended  minutes of events appended to every partition after the
 *             daemon caught up (a producer reconnecting): counters exact.
 *   skewed    the error topic ends two minutes before the playback topic:
 *             the playback partitions do not wait for the error partitions,
 *             read to their end, to go idle, and nothing is late.
 *
 * Every wait is bounded. The daemon and the private redis-server die with
 * the test process (PR_SET_PDEATHSIG), and a failing check kills them,
 * prints the daemon's log and deletes the test's keys before it reports.
 */
#include "config/config.h"
#include "detector/store.h"
#include "tests/integration/services.h"
#include "tests/integration/workload.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef FORESHOCK_BIN
#error "FORESHOCK_BIN must name the foreshock executable"
#endif

#define PARTITIONS       4
#define N_INPUTS         (2 * PARTITIONS)
#define STOP_TIMEOUT_MS  10000
#define APPLY_TIMEOUT_MS 90000
#define ADMIN_TIMEOUT_MS 30000
#define READ_TIMEOUT_MS  30000
#define LOG_TAIL_LINES   150

/* From the environment, set by main() before any test forks. */
static const char *brokers;
static const char *redis_addr;
static const char *redis_server_bin;

/* ---- time ----------------------------------------------------------------- */

/* ---- one test's world, and what a failure cleans up ------------------------ */

typedef struct e2e {
    const char *name;
    char id[128];
    char playback[160], errors[160], alerts[160], deadletter[160];
    char group[160];
    char prefix[160];
    char redis[64]; /* the Redis the daemon and the checks use */
    char conf_path[64];
    char log_path[64];
    pid_t daemon;
    int lives;
    pid_t redis_pid; /* a private redis-server, 0 if none */
    int redis_port;
    char redis_dir[64];
    fs_config_t *cfg;
    fs_store_t *store;
    rd_kafka_t *meta; /* a reader for watermarks (never joins its group) */
    int64_t t0;
} e2e_t;

/* The running test, for the failure path. */
static e2e_t *current;

/* The failure path: nothing of the test may outlive it. */
static void fail_cleanup(void)
{
    e2e_t *t = current;
    if (!t)
        return;
    current = NULL;
    if (t->daemon > 0) {
        fs_test_reap(t->daemon);
        t->daemon = 0;
    }
    fs_test_print_log_tail(t->log_path, "daemon log", LOG_TAIL_LINES);
    if (t->redis_pid > 0) {
        char path[128];
        snprintf(path, sizeof path, "%s/redis.log", t->redis_dir);
        fs_test_print_log_tail(path, "private redis-server log", LOG_TAIL_LINES);
    }
    /* FORESHOCK_E2E_KEEP=1 keeps the keys for a post-mortem. */
    const char *keep = getenv("FORESHOCK_E2E_KEEP");
    if (keep && strcmp(keep, "1") == 0)
        fprintf(stderr, "keys %s* kept on %s\n", t->prefix, t->redis);
    else if (t->redis_pid <= 0 || kill(t->redis_pid, 0) == 0)
        fs_test_redis_delete_keys(t->redis, t->prefix);
    if (t->redis_pid > 0)
        fs_test_reap(t->redis_pid);
    if (t->redis_dir[0] && !(keep && strcmp(keep, "1") == 0)) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->redis_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", t->redis_dir);
    }
    fprintf(stderr, "e2e %s failed after %.1f s (log kept at %s)\n", t->name,
            (double)(fs_test_mono_ms() - t->t0) / 1000.0, t->log_path);
    fflush(stderr);
}

/* A progress line on stdout: what happened, and when. */
__attribute__((format(printf, 2, 3))) static void note(const e2e_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_test_vnote("e2e", t->name, t->t0, fmt, ap);
    va_end(ap);
}

/* ---- Kafka ---------------------------------------------------------------- */

static rd_kafka_t *new_client(rd_kafka_type_t type, const char *const *props)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ==
                RD_KAFKA_CONF_OK,
            "bootstrap.servers: %s", errstr);
    for (size_t i = 0; props && props[i]; i += 2)
        REQUIRE(rd_kafka_conf_set(conf, props[i], props[i + 1], errstr, sizeof errstr) ==
                    RD_KAFKA_CONF_OK,
                "%s: %s", props[i], errstr);
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    REQUIRE(rk != NULL, "rd_kafka_new: %s", errstr);
    return rk;
}

static rd_kafka_t *new_reader(void)
{
    /* assign() needs a group.id; the reader never joins or commits. */
    static const char *const props[] = {
        "enable.auto.commit",   "false",    "enable.partition.eof", "true", "client.id",
        "foreshock-e2e-reader", "group.id", "foreshock-e2e-reader", NULL};
    return new_client(RD_KAFKA_CONSUMER, props);
}

/* One message read back from a topic. */
typedef struct kmsg {
    int32_t partition;
    int64_t offset;
    char *key, *value;
    size_t key_len, len;
    char *h_error, *h_source; /* header copies, NUL-terminated; NULL if absent */
} kmsg_t;

typedef struct kmsgs {
    kmsg_t *m;
    size_t n, cap;
} kmsgs_t;

static char *dup_bytes(const void *p, size_t len)
{
    char *s = malloc(len + 1);
    REQUIRE(s != NULL, "out of memory");
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static char *header_copy(rd_kafka_message_t *m, const char *name)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *value;
    size_t size;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return dup_bytes(value ? value : "", value ? size : 0);
}

static void kmsgs_free(kmsgs_t *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        free(ms->m[i].key);
        free(ms->m[i].value);
        free(ms->m[i].h_error);
        free(ms->m[i].h_source);
    }
    free(ms->m);
    memset(ms, 0, sizeof *ms);
}

/* Reads every message of every partition of topic, from the beginning to the
 * high watermarks as they are now. */
static void read_topic(const char *topic, kmsgs_t *out)
{
    rd_kafka_t *rk = new_reader();
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int64_t hi[PARTITIONS * 4], next[PARTITIONS * 4];
    int n_parts, waiting = 0;
    memset(out, 0, sizeof *out);

    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1, "metadata of %s: %s", topic,
            rd_kafka_err2str(e));
    n_parts = md->topics[0].partition_cnt;
    REQUIRE(n_parts <= PARTITIONS * 4, "%s has %d partitions", topic, n_parts);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n_parts);
    for (int p = 0; p < n_parts; p++) {
        int64_t lo;
        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 10000);
        REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks of %s/%d: %s", topic, p,
                rd_kafka_err2str(e));
        next[p] = lo;
        if (hi[p] > lo) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = lo;
            waiting++;
        }
    }
    if (waiting) {
        e = rd_kafka_assign(rk, parts);
        REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR, "assign %s: %s", topic, rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(parts);
    int64_t deadline = fs_test_mono_ms() + READ_TIMEOUT_MS;
    while (waiting > 0) {
        REQUIRE(fs_test_mono_ms() < deadline, "reading %s: %d partitions not read to the end in %d ms",
                topic, waiting, READ_TIMEOUT_MS);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err) {
            REQUIRE(m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF, "reading %s: %s", topic,
                    rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        int p = m->partition;
        if (m->offset >= next[p] && m->offset < hi[p]) {
            if (out->n == out->cap) {
                out->cap = out->cap ? 2 * out->cap : 256;
                out->m = realloc(out->m, out->cap * sizeof *out->m);
                REQUIRE(out->m != NULL, "out of memory");
            }
            kmsg_t *k = &out->m[out->n++];
            k->partition = p;
            k->offset = m->offset;
            k->key = dup_bytes(m->key ? m->key : "", m->key ? m->key_len : 0);
            k->key_len = m->key ? m->key_len : 0;
            k->value = dup_bytes(m->payload ? m->payload : "", m->payload ? m->len : 0);
            k->len = m->payload ? m->len : 0;
            k->h_error = header_copy(m, "foreshock-error");
            k->h_source = header_copy(m, "foreshock-source");
            next[p] = m->offset + 1;
            if (next[p] == hi[p])
                waiting--;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* ---- the test's world ------------------------------------------------------ */

static void write_conf(e2e_t *t)
{
    int fd = mkstemp(t->conf_path);
    REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    REQUIRE(f != NULL, "fdopen: %s", strerror(errno));
    fprintf(f,
            "# foreshock end-to-end test %s\n"
            "kafka.bootstrap.servers = %s\n"
            "kafka.group.id = %s\n"
            /* A SIGKILLed member holds its partitions until its session
             * expires: keep that short so restarts are quick. */
            "kafka.session.timeout.ms = 6000\n"
            "kafka.heartbeat.interval.ms = 500\n"
            "topics.playback = %s\n"
            "topics.errors = %s\n"
            "topics.alerts = %s\n"
            "topics.deadletter = %s\n"
            "redis.address = %s\n"
            "redis.prefix = %s\n"
            "store = redis\n"
            "log.status_interval = 2s\n",
            t->name, brokers, t->group, t->playback, t->errors, t->alerts, t->deadletter, t->redis,
            t->prefix);
    REQUIRE(fclose(f) == 0, "writing %s", t->conf_path);
}

/* The store API over the test's Redis and prefix, as the daemon opens it. */
static void open_store(e2e_t *t)
{
    fs_config_diag_t diag = {0};
    char addr[128], prefix[200], err[512] = "";
    t->cfg = fs_config_new();
    REQUIRE(t->cfg != NULL, "fs_config_new");
    snprintf(addr, sizeof addr, "redis.address=%s", t->redis);
    snprintf(prefix, sizeof prefix, "redis.prefix=%s", t->prefix);
    const char *overrides[] = {addr, prefix, "store=redis"};
    for (int i = 0; i < 3; i++)
        REQUIRE(fs_config_override(t->cfg, overrides[i], i + 1, &diag) == 0, "config %s: %s",
                overrides[i], diag.n ? diag.messages[0] : "?");
    REQUIRE(fs_config_finish(t->cfg, &diag) == 0, "config: %s", diag.n ? diag.messages[0] : "?");
    fs_config_diag_clear(&diag);
    t->store = fs_store_open(t->cfg, err, sizeof err);
    REQUIRE(t->store != NULL, "fs_store_open: %s", err);
}

static void e2e_init(e2e_t *t, const char *name)
{
    char base[64];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->t0 = fs_test_mono_ms();
    snprintf(t->conf_path, sizeof t->conf_path, "/tmp/fs-e2e-conf-XXXXXX");
    snprintf(t->log_path, sizeof t->log_path, "/tmp/fs-e2e-log-XXXXXX");
    snprintf(t->redis, sizeof t->redis, "%s", redis_addr);
    current = t;
    snprintf(base, sizeof base, "fs-e2e-%s", name);
    REQUIRE(fs_test_unique_name(t->id, sizeof t->id, base) == 0, "unique name");
    snprintf(t->playback, sizeof t->playback, "%s-playback", t->id);
    snprintf(t->errors, sizeof t->errors, "%s-errors", t->id);
    snprintf(t->alerts, sizeof t->alerts, "%s-alerts", t->id);
    snprintf(t->deadletter, sizeof t->deadletter, "%s-deadletter", t->id);
    snprintf(t->group, sizeof t->group, "%s-group", t->id);
    snprintf(t->prefix, sizeof t->prefix, "%s:", t->id);
    int fd = mkstemp(t->log_path);
    REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
    close(fd);
    const char *topics[] = {t->playback, t->errors, t->alerts, t->deadletter};
    char err[512];
    REQUIRE(fs_test_create_topics(brokers, topics, 4, PARTITIONS, ADMIN_TIMEOUT_MS, err,
                                  sizeof err) == 0,
            "%s", err);
    t->meta = new_reader();
    note(t, "topics %s-{playback,errors,alerts,deadletter} created", t->id);
}

/* Sets up the config file and the store reader; after any private Redis. */
static void e2e_ready(e2e_t *t)
{
    write_conf(t);
    open_store(t);
}

static void stop_private_redis(e2e_t *t);

/* A passing test's end: delete keys (and check none is left), topics, files. */
static void e2e_finish(e2e_t *t)
{
    const char *topics[] = {t->playback, t->errors, t->alerts, t->deadletter};
    REQUIRE(t->daemon == 0, "the test left the daemon running");
    long left = fs_test_redis_delete_keys(t->redis, t->prefix);
    REQUIRE(left == 0, "deleting the keys %s* of %s: %ld left", t->prefix, t->redis, left);
    fs_store_free(t->store);
    fs_config_free(t->cfg);
    rd_kafka_destroy(t->meta);
    if (t->redis_pid > 0)
        stop_private_redis(t);
    if (t->redis_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->redis_dir);
        if (system(cmd) != 0)
            note(t, "could not remove %s", t->redis_dir);
    }
    fs_test_delete_topics(brokers, topics, 4);
    unlink(t->conf_path);
    unlink(t->log_path);
    note(t, "passed");
    current = NULL;
}

/* ---- the daemon ------------------------------------------------------------ */

/* Starts `foreshock -c conf -X extra...` with stdout and stderr appended to
 * the test's log. */
static void daemon_start(e2e_t *t, const char *const *extra)
{
    const char *argv[32];
    int argc = 0;
    pid_t parent = getpid();
    int fd = open(t->log_path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    REQUIRE(fd >= 0, "open %s: %s", t->log_path, strerror(errno));
    dprintf(fd, "==== e2e: daemon life %d starts at +%.2fs ====\n", t->lives + 1,
            (double)(fs_test_mono_ms() - t->t0) / 1000.0);
    argv[argc++] = FORESHOCK_BIN;
    argv[argc++] = "-c";
    argv[argc++] = t->conf_path;
    for (size_t i = 0; extra && extra[i] && argc < 29; i++) {
        argv[argc++] = "-X";
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
#ifdef __linux__
        /* If the test dies, so does the daemon. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(FORESHOCK_BIN, (char *const *)argv);
        dprintf(fd, "e2e: exec %s: %s\n", FORESHOCK_BIN, strerror(errno));
        _exit(127);
    }
    close(fd);
    t->daemon = pid;
    t->lives++;
}

static const char *describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "status 0x%x", status);
    return buf;
}

/* Fails the test if the daemon is no longer running. */
static void require_daemon_alive(e2e_t *t, const char *during)
{
    int status;
    char why[64];
    pid_t r = waitpid(t->daemon, &status, WNOHANG);
    if (r == t->daemon) {
        t->daemon = 0;
        REQUIRE(0, "the daemon %s %s", describe_status(status, why, sizeof why), during);
    }
}

/* SIGTERM: the daemon must flush, commit and exit 0 within 10 s. */
static void daemon_stop(e2e_t *t)
{
    int status = 0;
    char why[64];
    int64_t start = fs_test_mono_ms();
    REQUIRE(kill(t->daemon, SIGTERM) == 0, "kill: %s", strerror(errno));
    for (;;) {
        pid_t r = waitpid(t->daemon, &status, WNOHANG);
        if (r == t->daemon)
            break;
        REQUIRE(fs_test_mono_ms() - start < STOP_TIMEOUT_MS,
                "the daemon did not exit within %d ms of "
                "SIGTERM",
                STOP_TIMEOUT_MS);
        fs_test_sleep_ms(20);
    }
    t->daemon = 0;
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "after SIGTERM the daemon %s, expected exit status 0",
            describe_status(status, why, sizeof why));
    note(t, "daemon stopped by SIGTERM: exit 0 after %lld ms", (long long)(fs_test_mono_ms() - start));
}

static void daemon_kill(e2e_t *t)
{
    fs_test_reap(t->daemon);
    t->daemon = 0;
}

/* ---- offsets and counters --------------------------------------------------- */

static const char *input_topic(const e2e_t *t, int i)
{
    return i < PARTITIONS ? t->playback : t->errors;
}

/* High watermarks of the 8 input partitions. */
static void input_watermarks(e2e_t *t, int64_t hw[N_INPUTS])
{
    for (int i = 0; i < N_INPUTS; i++) {
        int64_t lo;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            t->meta, input_topic(t, i), i % PARTITIONS, &lo, &hw[i], 10000);
        REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks of %s/%d: %s", input_topic(t, i),
                i % PARTITIONS, rd_kafka_err2str(e));
    }
}

/* Stored offsets of the input partitions. Returns FS_STORE_*. */
static int stored_offsets(e2e_t *t, int64_t out[N_INPUTS], char *err, size_t err_size)
{
    for (int i = 0; i < N_INPUTS; i++) {
        int rc =
            fs_store_offset(t->store, input_topic(t, i), i % PARTITIONS, &out[i], err, err_size);
        if (rc != FS_STORE_OK)
            return rc;
    }
    return FS_STORE_OK;
}

/* stored_offsets, retried for a while: the store reconnects on the call
 * after a failure (e.g. after a Redis restart). */
static void stored_offsets_now(e2e_t *t, int64_t out[N_INPUTS])
{
    char err[512] = "";
    int64_t deadline = fs_test_mono_ms() + 15000;
    while (stored_offsets(t, out, err, sizeof err) != FS_STORE_OK) {
        REQUIRE(fs_test_mono_ms() < deadline, "store offsets unreadable for 15 s: %s", err);
        fs_test_sleep_ms(50);
    }
}

/* Share of the messages below the watermarks that the store has applied. */
static double progress(const int64_t stored[N_INPUTS], const int64_t hw[N_INPUTS])
{
    int64_t done = 0, all = 0;
    for (int i = 0; i < N_INPUTS; i++) {
        done += stored[i] + 1;
        all += hw[i];
    }
    return all ? (double)done / (double)all : 1.0;
}

/* Event times (ms since base_ms) of the last applied message of each input
 * partition, or INT64_MIN where none is applied or none of the next few
 * messages has an integer ts: where a restarted daemon resumes. Diagnostic
 * only (printed, never asserted). */
static void resume_times(const e2e_t *t, const int64_t stored[N_INPUTS], int64_t base_ms,
                         int64_t out[N_INPUTS])
{
    rd_kafka_t *rk = new_reader();
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(N_INPUTS);
    int waiting = 0, tries[N_INPUTS] = {0};
    for (int i = 0; i < N_INPUTS; i++) {
        out[i] = INT64_MIN;
        if (stored[i] < 0)
            continue;
        rd_kafka_topic_partition_list_add(parts, input_topic(t, i), i % PARTITIONS)->offset =
            stored[i];
        waiting++;
    }
    if (waiting && rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        waiting = 0;
    rd_kafka_topic_partition_list_destroy(parts);
    int64_t deadline = fs_test_mono_ms() + 10000;
    while (waiting > 0 && fs_test_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        int i =
            (strcmp(rd_kafka_topic_name(m->rkt), t->playback) == 0 ? 0 : PARTITIONS) + m->partition;
        if (!m->err && out[i] == INT64_MIN && tries[i] < 20) {
            json_t *root = json_loadb(m->payload, m->len, 0, NULL);
            json_t *ts = root ? json_object_get(root, "ts") : NULL;
            if (json_is_integer(ts))
                out[i] = json_integer_value(ts) - base_ms;
            json_decref(root);
            if (out[i] != INT64_MIN || ++tries[i] == 20)
                waiting--;
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && out[i] == INT64_MIN &&
                   tries[i] < 20) {
            tries[i] = 20;
            waiting--;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void note_resume_times(const e2e_t *t, const int64_t stored[N_INPUTS], int64_t base_ms)
{
    int64_t at[N_INPUTS], lo = INT64_MAX, hi = INT64_MIN;
    char line[512];
    size_t used = 0;
    resume_times(t, stored, base_ms, at);
    for (int i = 0; i < N_INPUTS && used < sizeof line; i++) {
        if (at[i] == INT64_MIN) {
            used += (size_t)snprintf(line + used, sizeof line - used, " %c%d=?",
                                     i < PARTITIONS ? 'p' : 'e', i % PARTITIONS);
            continue;
        }
        used +=
            (size_t)snprintf(line + used, sizeof line - used, " %c%d=%+.1fs",
                             i < PARTITIONS ? 'p' : 'e', i % PARTITIONS, (double)at[i] / 1000.0);
        lo = at[i] < lo ? at[i] : lo;
        hi = at[i] > hi ? at[i] : hi;
    }
    note(t, "resume points in event time (p: playback, e: errors):%s; spread %.1f s", line,
         hi >= lo ? (double)(hi - lo) / 1000.0 : 0.0);
}

/* Waits until the stored progress reaches share (1.0: every offset applied,
 * i.e. each partition's stored offset is its high watermark - 1). */
static double wait_progress(e2e_t *t, const int64_t hw[N_INPUTS], double share, int timeout_ms)
{
    int64_t stored[N_INPUTS];
    char err[512] = "", detail[1024];
    int64_t deadline = fs_test_mono_ms() + timeout_ms;
    for (;;) {
        require_daemon_alive(t, "before applying the input");
        if (stored_offsets(t, stored, err, sizeof err) == FS_STORE_OK) {
            int all = 1;
            for (int i = 0; i < N_INPUTS; i++)
                if (stored[i] != hw[i] - 1)
                    all = 0;
            double got = progress(stored, hw);
            if (share >= 1.0 ? all : got >= share)
                return got;
            if (fs_test_mono_ms() > deadline) {
                size_t used = 0;
                detail[0] = '\0';
                for (int i = 0; i < N_INPUTS && used < sizeof detail; i++)
                    used +=
                        (size_t)snprintf(detail + used, sizeof detail - used, " %s/%d=%lld/%lld",
                                         i < PARTITIONS ? "playback" : "errors", i % PARTITIONS,
                                         (long long)stored[i], (long long)(hw[i] - 1));
                REQUIRE(0,
                        "after %d ms the store has %.1f%% of the input, waited for %.1f%%; "
                        "stored/last offsets:%s",
                        timeout_ms, 100 * got, 100 * share, detail);
            }
        } else {
            REQUIRE(fs_test_mono_ms() <= deadline, "store offsets unreadable for %d ms: %s", timeout_ms,
                    err);
        }
        fs_test_sleep_ms(share >= 1.0 ? 100 : 20);
    }
}

static int collect_bucket(void *opaque, const char *slice, int64_t bucket_ms, int64_t attempts,
                          int64_t failures, int64_t errors)
{
    return fs_truth_add(opaque, slice, bucket_ms, attempts, failures, errors) != 0;
}

/* Reads every counter of the test's prefix back through the store API and
 * compares it with the truth, cell by cell. */
static void check_counters(e2e_t *t, const fs_truth_t *truth, int64_t from_ms, int64_t to_ms)
{
    char err[512] = "", report[4096];
    fs_truth_t *stored = fs_truth_new();
    REQUIRE(stored != NULL, "out of memory");
    /* A day either side: buckets stamped wrongly must be seen too. */
    int rc = fs_store_buckets(t->store, from_ms - 86400000, to_ms + 86400000, collect_bucket,
                              stored, err, sizeof err);
    REQUIRE(rc == FS_STORE_OK, "fs_store_buckets: %d: %s", rc, err);
    size_t diffs = fs_truth_diff(truth, stored, report, sizeof report);
    REQUIRE(diffs == 0, "the counters in Redis differ from the truth: %s", report);
    note(t, "counters equal the truth: %zu (slice, bucket) cells", fs_truth_cells(truth));
    fs_truth_free(stored);
}

/* ---- alert messages (CONTRACT.md section 2) ---------------------------------- */

typedef struct alert {
    char fingerprint[64], status[16], alertname[64], severity[16];
    char slice[256]; /* "dim=value,..." as read from the slice object */
    char country[32], platform[32];
    int64_t starts_ms, detected_ms, ends_ms; /* ends_ms = INT64_MIN for null */
} alert_t;

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.f+]Z" (UTC); with exact_ms, the fraction must be
 * exactly 3 digits. Returns 0 and the instant, or -1. */
static int parse_utc(const char *s, int exact_ms, int64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (strlen(s) < 20 ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19 ||
        s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    int64_t ms = 0;
    int digits = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (int k = digits; k < 3; k++)
            ms *= 10;
    }
    if ((exact_ms && digits != 3) || strcmp(p, "Z") != 0)
        return -1;
    *out =
        (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) * 1000 +
        ms;
    return 0;
}

static int is_hex(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
            return 0;
    return 1;
}

static int object_of_strings(const json_t *o)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return 0;
    json_object_foreach((json_t *)o, k, v)
    {
        if (!json_is_string(v))
            return 0;
    }
    return 1;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, why_size, __VA_ARGS__);                                                      \
        goto bad;                                                                                  \
    } while (0)

/* Checks one alert message against CONTRACT.md section 2 and extracts what
 * the tests compare. Returns 0, or -1 with the reason in why. */
static int parse_alert(const kmsg_t *m, alert_t *a, char *why, size_t why_size)
{
    json_error_t jerr;
    json_t *root = json_loadb(m->value, m->len, JSON_REJECT_DUPLICATES, &jerr);
    const char *s;
    memset(a, 0, sizeof *a);
    if (!root)
        BAD("not JSON: %s", jerr.text);
    if (!json_is_object(root))
        BAD("not an object");
    json_t *v;
#define STRING_FIELD(name, dst)                                                                    \
    v = json_object_get(root, name);                                                               \
    if (!json_is_string(v))                                                                        \
        BAD("\"%s\" is missing or not a string", name);                                            \
    snprintf(dst, sizeof dst, "%s", json_string_value(v));
    STRING_FIELD("fingerprint", a->fingerprint);
    STRING_FIELD("status", a->status);
    STRING_FIELD("alertname", a->alertname);
    STRING_FIELD("severity", a->severity);
#undef STRING_FIELD
    if (!is_hex(a->fingerprint))
        BAD("fingerprint \"%s\" is not hex", a->fingerprint);
    if (m->key_len != strlen(a->fingerprint) || memcmp(m->key, a->fingerprint, m->key_len) != 0)
        BAD("message key \"%.*s\" is not the fingerprint %s", (int)m->key_len, m->key,
            a->fingerprint);
    int firing = strcmp(a->status, "firing") == 0;
    if (!firing && strcmp(a->status, "resolved") != 0)
        BAD("status \"%s\"", a->status);
    if (!a->alertname[0])
        BAD("empty alertname");
    if (strcmp(a->severity, "critical") && strcmp(a->severity, "warning") &&
        strcmp(a->severity, "info"))
        BAD("severity \"%s\"", a->severity);

    json_t *slice = json_object_get(root, "slice");
    if (!object_of_strings(slice))
        BAD("\"slice\" is not an object of strings");
    json_t *labels = json_object_get(root, "labels");
    if (!object_of_strings(labels))
        BAD("\"labels\" is missing or not an object of strings");
    {
        const char *k;
        size_t used = 0;
        json_object_foreach(slice, k, v)
        {
            static const char *const dims[] = {"country", "platform", "app_version", "cdn", "code"};
            int known = 0;
            for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
                known |= strcmp(k, dims[i]) == 0;
            if (!known)
                BAD("slice dimension \"%s\" is not a configured dimension", k);
            used += (size_t)snprintf(a->slice + used,
                                     used < sizeof a->slice ? sizeof a->slice - used : 0, "%s%s=%s",
                                     used ? "," : "", k, json_string_value(v));
            if (used >= sizeof a->slice)
                used = sizeof a->slice - 1;
            if (strcmp(k, "country") == 0)
                snprintf(a->country, sizeof a->country, "%s", json_string_value(v));
            if (strcmp(k, "platform") == 0)
                snprintf(a->platform, sizeof a->platform, "%s", json_string_value(v));
            json_t *l = json_object_get(labels, k);
            if (!l || strcmp(json_string_value(l), json_string_value(v)) != 0)
                BAD("labels.%s does not repeat the slice's value", k);
        }
    }
    s = json_string_value(json_object_get(labels, "alertname"));
    if (!s || strcmp(s, a->alertname) != 0)
        BAD("labels.alertname is not the alertname");
    s = json_string_value(json_object_get(labels, "severity"));
    if (!s || strcmp(s, a->severity) != 0)
        BAD("labels.severity is not the severity");

    s = json_string_value(json_object_get(root, "startsAt"));
    if (!s || parse_utc(s, 1, &a->starts_ms) != 0)
        BAD("startsAt is not RFC 3339 UTC with milliseconds");
    s = json_string_value(json_object_get(root, "detectedAt"));
    if (!s || parse_utc(s, 0, &a->detected_ms) != 0)
        BAD("detectedAt is not RFC 3339 UTC");
    v = json_object_get(root, "endsAt");
    if (!v)
        BAD("endsAt is missing");
    a->ends_ms = INT64_MIN;
    if (firing && !json_is_null(v))
        BAD("a firing message's endsAt is not null");
    if (!firing && (!json_is_string(v) || parse_utc(json_string_value(v), 0, &a->ends_ms) != 0))
        BAD("a resolved message's endsAt is not RFC 3339 UTC");
    if (a->detected_ms < a->starts_ms)
        BAD("detectedAt is before startsAt");
    if (!firing && a->ends_ms < a->starts_ms)
        BAD("endsAt is before startsAt");

    json_t *ann = json_object_get(root, "annotations");
    if (!object_of_strings(ann))
        BAD("\"annotations\" is missing or not an object of strings");
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "description" : "summary";
        s = json_string_value(json_object_get(ann, name));
        if (!s || !s[0])
            BAD("annotations.%s is missing or empty", name);
    }

    json_t *ev = json_object_get(root, "evidence");
    if (!json_is_object(ev))
        BAD("\"evidence\" is missing or not an object");
    {
        static const char *const numbers[] = {"observed", "expected", "window_seconds", "score"};
        for (size_t i = 0; i < 4; i++)
            if (!json_is_number(json_object_get(ev, numbers[i])))
                BAD("evidence.%s is missing or not a number", numbers[i]);
        const char *count = strcmp(a->alertname, "ErrorBurst") == 0 ? "errors" : "failures";
        if (strcmp(a->alertname, "PlaybackFailureBurst") == 0 &&
            (!json_is_number(json_object_get(ev, "attempts")) ||
             !json_is_number(json_object_get(ev, "failures"))))
            BAD("evidence.attempts and evidence.failures must be numbers");
        if (strcmp(a->alertname, "ErrorBurst") == 0 &&
            !json_is_number(json_object_get(ev, "errors")))
            BAD("evidence.errors must be a number");
        if (strcmp(a->alertname, "PlaybackVolumeDrop") == 0 &&
            !json_is_number(json_object_get(ev, "attempts")))
            BAD("evidence.attempts must be a number");
        if (!json_object_get(ev, "attempts") || !json_object_get(ev, count))
            BAD("evidence.attempts or evidence.%s is missing", count);
        v = json_object_get(ev, "affected_users");
        if (!v || !(json_is_integer(v) || json_is_null(v)) ||
            (json_is_integer(v) && json_integer_value(v) < 0))
            BAD("evidence.affected_users is missing or not a non-negative integer");
    }
    json_decref(root);
    return 0;
bad:
    if (root)
        json_decref(root);
    return -1;
}
#undef BAD

/* Reads the alerts topic and checks every message. */
static size_t read_alerts(e2e_t *t, alert_t **out)
{
    kmsgs_t ms;
    char why[512];
    read_topic(t->alerts, &ms);
    alert_t *a = calloc(ms.n ? ms.n : 1, sizeof *a);
    REQUIRE(a != NULL, "out of memory");
    for (size_t i = 0; i < ms.n; i++) {
        int ok = parse_alert(&ms.m[i], &a[i], why, sizeof why) == 0;
        REQUIRE(ok, "alert message %s/%d/%lld is not valid per CONTRACT section 2: %s: %.*s",
                t->alerts, (int)ms.m[i].partition, (long long)ms.m[i].offset, why,
                (int)(ms.m[i].len > 1500 ? 1500 : ms.m[i].len), ms.m[i].value);
    }
    size_t n = ms.n;
    kmsgs_free(&ms);
    *out = a;
    return n;
}

static void print_alerts(const e2e_t *t, const alert_t *a, size_t n, int64_t base_ms)
{
    for (size_t i = 0; i < n; i++)
        note(t, "alert %s %s %s {%s} %s startsAt=+%.1fs detectedAt=+%.1fs%s", a[i].status,
             a[i].alertname, a[i].fingerprint, a[i].slice, a[i].severity,
             (double)(a[i].starts_ms - base_ms) / 1000.0,
             (double)(a[i].detected_ms - base_ms) / 1000.0,
             a[i].ends_ms == INT64_MIN ? "" : " (resolved)");
}

/* No (fingerprint, status, startsAt) twice. */
static void require_no_duplicates(const alert_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            REQUIRE(!(strcmp(a[i].fingerprint, a[j].fingerprint) == 0 &&
                      strcmp(a[i].status, a[j].status) == 0 && a[i].starts_ms == a[j].starts_ms),
                    "alert %s %s {%s} startsAt %lld was published twice (messages %zu and %zu)",
                    a[i].status, a[i].alertname, a[i].slice, (long long)a[i].starts_ms, i, j);
}

/* ---- workload helpers --------------------------------------------------------- */

static fs_wl_producer_t *new_producer(void)
{
    char err[512] = "";
    fs_wl_producer_t *prod = fs_wl_producer_new(brokers, err, sizeof err);
    REQUIRE(prod != NULL, "producer: %s", err);
    return prod;
}

static long produce(e2e_t *t, fs_workload_t *wl, fs_wl_producer_t *prod, int64_t until_ms)
{
    char err[512] = "";
    int64_t start = fs_test_mono_ms();
    long n = fs_wl_produce(wl, prod, t->playback, t->errors, until_ms, err, sizeof err);
    REQUIRE(n >= 0, "producing the workload: %s", err);
    note(t, "produced %ld events in %.2f s (%llu playback, %llu error events so far)", n,
         (double)(fs_test_mono_ms() - start) / 1000.0, (unsigned long long)fs_wl_count(wl, FS_WL_PLAYBACK),
         (unsigned long long)fs_wl_count(wl, FS_WL_ERROR));
    return n;
}

static fs_workload_t *new_workload(const fs_wl_params_t *params)
{
    fs_workload_t *wl = fs_wl_new(params);
    REQUIRE(wl != NULL, "fs_wl_new");
    return wl;
}

/* Starts the daemon, waits until it applied every input offset, stops it. */
static void run_to_end(e2e_t *t, const char *const *extra)
{
    int64_t hw[N_INPUTS];
    input_watermarks(t, hw);
    daemon_start(t, extra);
    int64_t start = fs_test_mono_ms();
    wait_progress(t, hw, 1.0, APPLY_TIMEOUT_MS);
    note(t, "daemon applied every offset in %.2f s", (double)(fs_test_mono_ms() - start) / 1000.0);
    daemon_stop(t);
}

/* ---- a. clean ------------------------------------------------------------------ */

START_TEST(test_clean)
{
    e2e_t t;
    fs_wl_params_t params;
    alert_t *alerts;
    e2e_init(&t, "clean");
    e2e_ready(&t);
    fs_wl_defaults(&params, 0xC1EA11, 600, 400);
    fs_workload_t *wl = new_workload(&params);
    fs_wl_producer_t *prod = new_producer();
    produce(&t, wl, prod, INT64_MAX);
    fs_wl_producer_free(prod, 10000);
    REQUIRE(fs_wl_count(wl, FS_WL_PLAYBACK) + fs_wl_count(wl, FS_WL_ERROR) >= 200000,
            "the workload is too small");

    run_to_end(&t, NULL);

    size_t n = read_alerts(&t, &alerts);
    print_alerts(&t, alerts, n, params.base_ms);
    for (size_t i = 0; i < n; i++)
        REQUIRE(strcmp(alerts[i].status, "firing") != 0,
                "a clean workload fired %s {%s} (startsAt +%.1f s): a false alarm",
                alerts[i].alertname, alerts[i].slice,
                (double)(alerts[i].starts_ms - params.base_ms) / 1000.0);
    free(alerts);
    check_counters(&t, fs_wl_truth(wl), params.base_ms, fs_wl_end_ms(wl));
    fs_wl_free(wl);
    e2e_finish(&t);
}
END_TEST

/* ---- b. burst ------------------------------------------------------------------ */

START_TEST(test_burst)
{
    e2e_t t;
    fs_wl_params_t params;
    alert_t *alerts;
    const fs_wl_incident_t incident = {"BR", "android", 480, 600, 10.0};
    e2e_init(&t, "burst");
    e2e_ready(&t);
    fs_wl_defaults(&params, 0xB0257, 720, 400);
    params.incident = &incident;
    int64_t inc_start = params.base_ms + incident.start_s * 1000;
    int64_t inc_end = params.base_ms + incident.end_s * 1000;
    fs_workload_t *wl = new_workload(&params);
    fs_wl_producer_t *prod = new_producer();
    produce(&t, wl, prod, INT64_MAX);
    fs_wl_producer_free(prod, 10000);

    run_to_end(&t, NULL);
    check_counters(&t, fs_wl_truth(wl), params.base_ms, fs_wl_end_ms(wl));

    size_t n = read_alerts(&t, &alerts);
    print_alerts(&t, alerts, n, params.base_ms);
    require_no_duplicates(alerts, n);
    const alert_t *fired = NULL;
    for (size_t i = 0; i < n; i++) {
        const alert_t *a = &alerts[i];
        if (strcmp(a->alertname, "PlaybackFailureBurst") != 0 || strcmp(a->status, "firing") != 0)
            continue;
        if (strcmp(a->country, "BR") != 0 && strcmp(a->platform, "android") != 0)
            continue;
        if (a->detected_ms < inc_start || a->detected_ms > inc_end)
            continue;
        if (!fired || a->detected_ms < fired->detected_ms)
            fired = a;
    }
    REQUIRE(fired != NULL,
            "no PlaybackFailureBurst firing for country=BR or platform=android during the "
            "incident (%zu alert messages)",
            n);
    note(&t, "detected {%s} %.1f s after the incident started (startsAt %+.1f s from it)",
         fired->slice, (double)(fired->detected_ms - inc_start) / 1000.0,
         (double)(fired->starts_ms - inc_start) / 1000.0);
    REQUIRE(fired->detected_ms - inc_start <= 30000,
            "PlaybackFailureBurst {%s} detected %.1f s after the incident started, more than "
            "30 s",
            fired->slice, (double)(fired->detected_ms - inc_start) / 1000.0);
    const alert_t *resolved = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(alerts[i].fingerprint, fired->fingerprint) == 0 &&
            strcmp(alerts[i].status, "resolved") == 0 && alerts[i].starts_ms == fired->starts_ms)
            resolved = &alerts[i];
    REQUIRE(resolved != NULL,
            "no resolved message for %s PlaybackFailureBurst {%s} (startsAt +%.1f s) although "
            "the incident ended at +%d s and normal traffic went on to +%d s",
            fired->fingerprint, fired->slice, (double)(fired->starts_ms - params.base_ms) / 1000.0,
            incident.end_s, params.duration_s);
    REQUIRE(resolved->ends_ms >= inc_end,
            "{%s} resolved at +%.1f s, before the incident ended at +%d s", fired->slice,
            (double)(resolved->ends_ms - params.base_ms) / 1000.0, incident.end_s);
    note(&t, "resolved %.1f s after the incident ended",
         (double)(resolved->ends_ms - inc_end) / 1000.0);
    free(alerts);
    fs_wl_free(wl);
    e2e_finish(&t);
}
END_TEST

/* ---- c. crash -------------------------------------------------------------------- */

static uint64_t test_rng = 0x5DEECE66DULL;

static uint64_t test_rnd(void)
{
    test_rng ^= test_rng >> 12;
    test_rng ^= test_rng << 25;
    test_rng ^= test_rng >> 27;
    return test_rng * 0x2545F4914F6CDD1DULL;
}

START_TEST(test_crash)
{
    static const double kill_at[] = {0.15, 0.35, 0.55};
    /* Batches of at most 20,000 events (about 2% of the workload, and the
     * bound window.flush_events at work): a restarted daemon catching up on
     * the backlog lands it in small steps rather than a fifth at a time. */
    static const char *const extra[] = {"window.flush_interval=200ms", "window.flush_events=20000",
                                        "detect.warmup=60s", NULL};
    const fs_wl_incident_t incident = {"BR", "android", 300, 420, 10.0};
    e2e_t t;
    fs_wl_params_t params;
    alert_t *alerts;
    int64_t hw[N_INPUTS];
    const char *seed_env = getenv("FORESHOCK_E2E_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 0xC4A5B;

    e2e_init(&t, "crash");
    e2e_ready(&t);
    test_rng = seed * 2654435761u + 1;
    note(&t, "kill delays from seed %llu (set FORESHOCK_E2E_SEED to change)",
         (unsigned long long)seed);
    /* 1000 events/s (0.93 M events): enough backlog for three lives to
     * die in the middle of it. */
    fs_wl_defaults(&params, 0xC4A5, 900, 1000);
    params.incident = &incident;
    fs_workload_t *wl = new_workload(&params);
    fs_wl_producer_t *prod = new_producer();
    produce(&t, wl, prod, INT64_MAX);
    fs_wl_producer_free(prod, 10000);
    input_watermarks(&t, hw);

    double done = 0.0;
    for (size_t k = 0; k < sizeof kill_at / sizeof kill_at[0]; k++) {
        int64_t start = fs_test_mono_ms();
        daemon_start(&t, extra);
        /* Each life must apply something of its own before it dies. */
        double goal = kill_at[k] > done + 0.05 ? kill_at[k] : done + 0.05;
        double reached = wait_progress(&t, hw, goal, APPLY_TIMEOUT_MS);
        /* A restarted daemon catches up at over a million events a second,
         * about 15 ms per batch: a delay of up to 40 ms puts the kill
         * anywhere in a batch's cycle (aggregating, in flight, landed) and
         * still leaves most of the stream to the next life. */
        long delay = (long)(test_rnd() % 40);
        fs_test_sleep_ms(delay);
        require_daemon_alive(&t, "before it could be killed");
        daemon_kill(&t);
        int64_t stored[N_INPUTS];
        stored_offsets_now(&t, stored);
        double at = progress(stored, hw);
        note(&t, "life %d: SIGKILL at %.1f%% applied (%.1f%% + %ld ms), %.2f s after its start",
             t.lives, 100 * at, 100 * reached, delay, (double)(fs_test_mono_ms() - start) / 1000.0);
        REQUIRE(at < 1.0, "life %d applied everything before the kill: not mid-stream", t.lives);
        note_resume_times(&t, stored, params.base_ms);
        done = at;
    }
    int64_t start = fs_test_mono_ms();
    daemon_start(&t, extra);
    wait_progress(&t, hw, 1.0, APPLY_TIMEOUT_MS);
    note(&t, "last life applied the rest in %.2f s", (double)(fs_test_mono_ms() - start) / 1000.0);
    daemon_stop(&t);

    size_t n = read_alerts(&t, &alerts);
    print_alerts(&t, alerts, n, params.base_ms);
    require_no_duplicates(alerts, n);
    free(alerts);
    check_counters(&t, fs_wl_truth(wl), params.base_ms, fs_wl_end_ms(wl));
    fs_wl_free(wl);
    e2e_finish(&t);
}
END_TEST

/* ---- d. invalid -------------------------------------------------------------------- */

typedef struct invalid {
    const char *what;
    int errors_topic; /* 0: playback topic, 1: error topic */
    const char *fmt;  /* payload; %lld is replaced by a valid event time */
} invalid_t;

static const invalid_t invalids[] = {
    {"not JSON", 0, "this is not json"},
    {"empty", 0, ""},
    {"array instead of object", 0, "[{\"ts\":%lld,\"outcome\":\"ok\"}]"},
    {"top-level string", 0, "\"ts\""},
    {"missing ts", 0, "{\"outcome\":\"ok\",\"user_id\":\"u1\",\"country\":\"US\"}"},
    {"ts boolean", 0, "{\"ts\":true,\"outcome\":\"ok\"}"},
    {"ts object", 0, "{\"ts\":{\"ms\":%lld},\"outcome\":\"ok\"}"},
    {"ts fractional number", 0, "{\"ts\":%lld.5,\"outcome\":\"ok\"}"},
    {"ts unparseable string", 0, "{\"ts\":\"2026-13-45T25:61:00Z\",\"outcome\":\"ok\"}"},
    {"ts string not a date", 0, "{\"ts\":\"yesterday\",\"outcome\":\"failed\"}"},
    {"missing outcome", 0, "{\"ts\":%lld,\"user_id\":\"u1\"}"},
    {"unknown outcome", 0, "{\"ts\":%lld,\"outcome\":\"maybe\"}"},
    {"outcome boolean", 0, "{\"ts\":%lld,\"outcome\":true}"},
    {"user_id number", 0, "{\"ts\":%lld,\"outcome\":\"ok\",\"user_id\":12345}"},
    {"dimension array", 0, "{\"ts\":%lld,\"outcome\":\"failed\",\"country\":[\"BR\"]}"},
    {"dimension number", 0, "{\"ts\":%lld,\"outcome\":\"ok\",\"platform\":3}"},
    {"invalid UTF-8", 0, "{\"ts\":%lld,\"outcome\":\"ok\",\"country\":\"\xc3\x28\"}"},
    {"trailing garbage", 0, "{\"ts\":%lld,\"outcome\":\"ok\"} garbage"},
    {"truncated", 0, "{\"ts\":%lld,\"outcome\":\"fai"},
    {"leading zero", 0, "{\"ts\":0%lld,\"outcome\":\"ok\"}"},
    {"error: empty code", 1, "{\"ts\":%lld,\"code\":\"\"}"},
    {"error: missing code", 1, "{\"ts\":%lld,\"country\":\"US\"}"},
    {"error: code number", 1, "{\"ts\":%lld,\"code\":404}"},
    {"error: missing ts", 1, "{\"code\":\"AUDIO_DECODE\"}"},
    {"error: not JSON", 1, "{code: AUDIO_DECODE}"},
    {"error: invalid UTF-8 in code", 1, "{\"ts\":%lld,\"code\":\"\xff\xfe\"}"},
    {"error: user_id boolean", 1, "{\"ts\":%lld,\"code\":\"X\",\"user_id\":false}"},
    {"error: two objects", 1, "{\"ts\":%lld,\"code\":\"X\"}{\"ts\":1,\"code\":\"Y\"}"},
    {"error: bad escape", 1, "{\"ts\":%lld,\"code\":\"A\\q\"}"},
    {"error: raw control character", 1,
     "{\"ts\":%lld,\"code\":\"A\x01"
     "B\"}"},
    {"error: array", 1, "[]"},
    {"error: empty", 1, ""},
};
#define N_INVALID (sizeof invalids / sizeof invalids[0])
#define ROUNDS    2

START_TEST(test_invalid)
{
    e2e_t t;
    fs_wl_params_t params;
    fs_wl_event_t ev;
    char err[512] = "", payload[N_INVALID * ROUNDS][512];
    size_t plen[N_INVALID * ROUNDS];
    int seen[N_INVALID * ROUNDS];
    int32_t part[N_INVALID * ROUNDS];
    int64_t off[N_INVALID * ROUNDS];
    kmsgs_t dl;

    e2e_init(&t, "invalid");
    e2e_ready(&t);
    fs_wl_defaults(&params, 0x1A7A11D, 60, 100);
    fs_workload_t *wl = new_workload(&params);
    fs_wl_producer_t *prod = new_producer();
    /* One invalid message after every `every` valid events, each kind twice
     * (different keys, so different partitions). */
    long every = (long)(60 * 100 / (N_INVALID * ROUNDS + 1)), n_valid = 0;
    size_t next_invalid = 0;
    while (fs_wl_next(wl, &ev)) {
        REQUIRE(fs_wl_send(prod, ev.kind == FS_WL_PLAYBACK ? t.playback : t.errors, ev.user,
                           ev.json, ev.len, -1, err, sizeof err) == 0,
                "send: %s", err);
        if (++n_valid % every != 0 || next_invalid == N_INVALID * ROUNDS)
            continue;
        size_t i = next_invalid;
        const invalid_t *inv = &invalids[i % N_INVALID];
        char key[32];
        int n = snprintf(payload[i], sizeof payload[i], inv->fmt, (long long)ev.ts_ms);
        REQUIRE(n >= 0 && (size_t)n < sizeof payload[i], "payload %s", inv->what);
        plen[i] = (size_t)n;
        snprintf(key, sizeof key, "bad-%zu", i);
        REQUIRE(fs_wl_send(prod, inv->errors_topic ? t.errors : t.playback, key, payload[i],
                           plen[i], (long)i, err, sizeof err) == 0,
                "send: %s", err);
        next_invalid++;
    }
    REQUIRE(next_invalid == N_INVALID * ROUNDS, "only %zu invalid messages interleaved",
            next_invalid);
    REQUIRE(fs_wl_flush(prod, 60000, err, sizeof err) == 0, "flush: %s", err);
    for (size_t i = 0; i < N_INVALID * ROUNDS; i++)
        REQUIRE(fs_wl_delivery(prod, (long)i, &part[i], &off[i]) == 0,
                "no delivery report for invalid message %zu", i);
    fs_wl_producer_free(prod, 10000);
    note(&t, "produced %ld valid and %zu invalid messages (%zu kinds)", n_valid, next_invalid,
         N_INVALID);

    run_to_end(&t, NULL);

    read_topic(t.deadletter, &dl);
    memset(seen, 0, sizeof seen);
    for (size_t j = 0; j < dl.n; j++) {
        const kmsg_t *m = &dl.m[j];
        REQUIRE(m->h_source != NULL, "dead letter %zu has no foreshock-source header", j);
        REQUIRE(m->h_error != NULL && m->h_error[0] != '\0',
                "dead letter from %s has no (or an empty) foreshock-error header", m->h_source);
        size_t i;
        for (i = 0; i < N_INVALID * ROUNDS; i++) {
            char source[256];
            snprintf(source, sizeof source, "%s/%d/%lld",
                     invalids[i % N_INVALID].errors_topic ? t.errors : t.playback, (int)part[i],
                     (long long)off[i]);
            if (strcmp(source, m->h_source) == 0)
                break;
        }
        REQUIRE(i < N_INVALID * ROUNDS,
                "dead letter with foreshock-source \"%s\" (reason \"%s\") is no invalid message "
                "the test produced: %.*s",
                m->h_source, m->h_error, (int)(m->len > 300 ? 300 : m->len), m->value);
        REQUIRE(m->len == plen[i] && memcmp(m->value, payload[i], plen[i]) == 0,
                "dead letter of \"%s\" (%s) was changed: %zu bytes \"%.*s\", produced %zu bytes",
                invalids[i % N_INVALID].what, m->h_source, m->len,
                (int)(m->len > 300 ? 300 : m->len), m->value, plen[i]);
        seen[i]++;
        if (seen[i] == 1 && i < N_INVALID)
            note(&t, "dead letter %-30s -> %s, reason \"%s\"", invalids[i].what, m->h_source,
                 m->h_error);
    }
    for (size_t i = 0; i < N_INVALID * ROUNDS; i++)
        REQUIRE(seen[i] == 1,
                "invalid message \"%s\" (%s/%d/%lld) reached the dead-letter topic "
                "%d times, expected once",
                invalids[i % N_INVALID].what,
                invalids[i % N_INVALID].errors_topic ? t.errors : t.playback, (int)part[i],
                (long long)off[i], seen[i]);
    note(&t, "all %zu invalid messages dead-lettered once, unchanged",
         (size_t)(N_INVALID * ROUNDS));
    kmsgs_free(&dl);
    check_counters(&t, fs_wl_truth(wl), params.base_ms, fs_wl_end_ms(wl));
    fs_wl_free(wl);
    e2e_finish(&t);
}
END_TEST

/* ---- e. Redis outage ----------------------------------------------------------------- */

/* Starts the private redis-server (durable: AOF fsynced on every write) and
 * waits until it answers PING. */
static void start_private_redis(e2e_t *t)
{
    static const char *const args[] = {"--save", "3600 1", "--appendonly", "yes", "--appendfsync",
                                       "always", NULL};
    char err[512];
    t->redis_pid =
        fs_test_redis_start(redis_server_bin, t->redis_port, t->redis_dir, args, err, sizeof err);
    REQUIRE(t->redis_pid > 0, "%s", err);
}

/* SIGTERM (redis saves and exits) and a bounded wait. */
static void stop_private_redis(e2e_t *t)
{
    int stopped = fs_test_redis_stop(t->redis_pid, 10000);
    t->redis_pid = 0;
    REQUIRE(stopped == 0, "the private redis-server did not stop within 10 s of SIGTERM");
}

/* Whether the log has a line with "event=<event>" after byte `from`; returns
 * the offset just past it, or -1. */
static long log_find(const e2e_t *t, const char *event, long from)
{
    FILE *f = fopen(t->log_path, "r");
    char line[4096], needle[64];
    long found = -1;
    snprintf(needle, sizeof needle, "event=%s", event);
    if (!f)
        return -1;
    fseek(f, from, SEEK_SET);
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) {
            found = ftell(f);
            break;
        }
    fclose(f);
    return found;
}

START_TEST(test_redis_outage)
{
    e2e_t t;
    fs_wl_params_t params;
    int64_t hw[N_INPUTS], stored[N_INPUTS];
    static const char *const extra[] = {"window.flush_interval=200ms", "log.status_interval=1s",
                                        NULL};

    if (!redis_server_bin || !redis_server_bin[0]) {
        const char *ci = getenv("CI");
        ck_assert_msg(!(ci && strcmp(ci, "true") == 0),
                      "CI=true and FORESHOCK_TEST_REDIS_SERVER is not set");
        printf("test_redis_outage: skipped, FORESHOCK_TEST_REDIS_SERVER not set\n");
        return;
    }
    e2e_init(&t, "outage");
    snprintf(t.redis_dir, sizeof t.redis_dir, "/tmp/fs-e2e-redis-XXXXXX");
    REQUIRE(mkdtemp(t.redis_dir) != NULL, "mkdtemp: %s", strerror(errno));
    t.redis_port = fs_test_free_port();
    REQUIRE(t.redis_port > 0, "no free port");
    snprintf(t.redis, sizeof t.redis, "127.0.0.1:%d", t.redis_port);
    start_private_redis(&t);
    note(&t, "private redis-server on %s, dir %s", t.redis, t.redis_dir);
    e2e_ready(&t);

    /* Everything is in Kafka before the daemon starts, so the outage, and
     * nothing else, happens mid-stream (see test_appended for data that
     * arrives after the daemon caught up). */
    /* Ten minutes at 1000 events/s: with five at 400 the daemon could apply
     * everything between the 30% mark and the server's stop. */
    fs_wl_defaults(&params, 0x0A7A6E, 600, 1000);
    fs_workload_t *wl = new_workload(&params);
    fs_wl_producer_t *prod = new_producer();
    produce(&t, wl, prod, INT64_MAX);
    fs_wl_producer_free(prod, 10000);
    input_watermarks(&t, hw);
    daemon_start(&t, extra);
    double at = wait_progress(&t, hw, 0.30, APPLY_TIMEOUT_MS);
    stop_private_redis(&t);
    note(&t, "redis-server stopped with %.1f%% of the input applied", 100 * at);
    for (int i = 0; i < 100; i++) {
        require_daemon_alive(&t, "while Redis was down");
        fs_test_sleep_ms(100);
    }
    long down_at = log_find(&t, "store_unavailable", 0);
    REQUIRE(down_at >= 0, "no store_unavailable logged after 10 s without Redis");
    start_private_redis(&t);
    stored_offsets_now(&t, stored);
    REQUIRE(progress(stored, hw) < 1.0, "the daemon applied everything before the outage");
    note(&t, "redis-server restarted after 10 s; %.1f%% was applied before it stopped",
         100 * progress(stored, hw));
    int64_t start = fs_test_mono_ms();
    wait_progress(&t, hw, 1.0, APPLY_TIMEOUT_MS);
    note(&t, "daemon applied every offset %.2f s after Redis came back",
         (double)(fs_test_mono_ms() - start) / 1000.0);
    REQUIRE(log_find(&t, "store_available", down_at) >= 0,
            "no store_available logged after store_unavailable");
    daemon_stop(&t);
    check_counters(&t, fs_wl_truth(wl), params.base_ms, fs_wl_end_ms(wl));
    fs_wl_free(wl);
    e2e_finish(&t);
}
END_TEST

/* ---- f. a backlog appended after the daemon caught up ---------------------------- */

START_TEST(test_appended)
{
    e2e_t t;
    fs_wl_params_t params;
    int64_t hw[N_INPUTS];
    static const char *const extra[] = {"log.status_interval=1s", NULL};

    e2e_init(&t, "appended");
    e2e_ready(&t);
    fs_wl_defaults(&params, 0xA99E4D, 240, 400);
    fs_workload_t *wl = new_workload(&params);
    fs_wl_producer_t *prod = new_producer();
    produce(&t, wl, prod, params.base_ms + 120000);
    input_watermarks(&t, hw);
    daemon_start(&t, extra);
    wait_progress(&t, hw, 1.0, APPLY_TIMEOUT_MS);
    note(&t, "daemon caught up with the first two minutes; appending the next two");
    /* What a producer that was cut off sends when it reconnects: minutes of
     * events at once, on every partition, none older than the last ones. */
    produce(&t, wl, prod, INT64_MAX);
    fs_wl_producer_free(prod, 10000);
    input_watermarks(&t, hw);
    wait_progress(&t, hw, 1.0, APPLY_TIMEOUT_MS);
    daemon_stop(&t);
    check_counters(&t, fs_wl_truth(wl), params.base_ms, fs_wl_end_ms(wl));
    fs_wl_free(wl);
    e2e_finish(&t);
}
END_TEST

/* ---- g. skewed ------------------------------------------------------------------ */

/* The late count of the daemon's last status line, or -1. */
static long last_late(const e2e_t *t)
{
    FILE *f = fopen(t->log_path, "r");
    char line[4096];
    long late = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        const char *l = strstr(line, " late=");
        if (strstr(line, "event=status") && l)
            late = strtol(l + 6, NULL, 10);
    }
    fclose(f);
    return late;
}

/*
 * Partitions far apart in event time, as a backlog produced in chunks leaves
 * them: the error topic ends 20 s into a three-minute workload (the rest of
 * the error events go to a topic the daemon does not read). The playback
 * partitions run more than the 60 s horizon ahead of the error partitions,
 * which have been read to their end: they must not wait for those to go
 * idle (window.idle_timeout, 60 s here) and must not be made late while
 * they wait.
 */
START_TEST(test_skewed)
{
    e2e_t t;
    fs_wl_params_t params;
    int64_t hw[N_INPUTS];
    char aside[200], err[512] = "";
    static const char *const extra[] = {"window.idle_timeout=60s", "log.status_interval=1s",
                                        NULL};

    e2e_init(&t, "skewed");
    snprintf(aside, sizeof aside, "%s-aside", t.id);
    const char *topics[] = {aside};
    REQUIRE(fs_test_create_topics(brokers, topics, 1, PARTITIONS, ADMIN_TIMEOUT_MS, err,
                                  sizeof err) == 0,
            "%s", err);
    e2e_ready(&t);
    fs_wl_defaults(&params, 0x5CE3ED, 180, 200);
    fs_workload_t *wl = new_workload(&params);
    fs_wl_producer_t *prod = new_producer();
    produce(&t, wl, prod, params.base_ms + 20000);
    long n = fs_wl_produce(wl, prod, t.playback, aside, INT64_MAX, err, sizeof err);
    REQUIRE(n >= 0, "producing the workload: %s", err);
    fs_wl_producer_free(prod, 10000);
    input_watermarks(&t, hw);
    daemon_start(&t, extra);
    int64_t start = fs_test_mono_ms();
    wait_progress(&t, hw, 1.0, 40000);
    note(&t, "daemon applied every offset in %.2f s",
         (double)(fs_test_mono_ms() - start) / 1000.0);
    fs_test_sleep_ms(1500); /* one more status line */
    long late = last_late(&t);
    REQUIRE(late == 0, "%ld events late", late);
    daemon_stop(&t);
    fs_wl_free(wl);
    fs_test_delete_topics(brokers, topics, 1);
    e2e_finish(&t);
}
END_TEST

static Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    struct {
        const char *name;
        const TTest *test;
        double timeout_s;
    } cases[] = {
        {"clean", test_clean, 150},
        {"burst", test_burst, 150},
        {"crash", test_crash, 240},
        {"invalid", test_invalid, 120},
        {"redis_outage", test_redis_outage, 180},
        {"appended", test_appended, 120},
        {"skewed", test_skewed, 120},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, cases[i].timeout_s);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    /* Before any test forks, so that a skip or a CI failure is this
     * program's exit code. */
    brokers = fs_test_service("FORESHOCK_TEST_KAFKA");
    redis_addr = fs_test_service("FORESHOCK_TEST_REDIS");
    redis_server_bin = getenv("FORESHOCK_TEST_REDIS_SERVER");
    fs_test_on_failure(fail_cleanup);
    sr = srunner_create(daemon_suite());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
