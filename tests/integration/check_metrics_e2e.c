/*
 * check_metrics_e2e.c: the daemon's monitoring endpoint, end to end, against
 * the real Kafka broker and redis-server of tests/stack.
 *
 * Each test makes its own topics (2 partitions each), consumer group and
 * Redis key prefix, runs `foreshock` as a child process with the endpoint on
 * a free loopback port, and talks to it over HTTP like a scraper or a
 * Kubernetes probe would:
 *
 *   endpoints   /healthz answers at once; /readyz turns 200 once partitions
 *               are assigned; after a workload with an incident and some
 *               invalid messages, every series of /metrics exists and its
 *               value agrees with what the test produced (messages per
 *               topic, invalid ones, partitions, high watermarks, alerts),
 *               histograms are well formed;
 *   outage      events keep flowing while a private redis-server is stopped:
 *               /readyz turns 503 "store unavailable: consumption paused"
 *               (and /healthz stays 200), then 200 again once it restarted;
 *   prometheus  (`check_metrics_e2e prometheus`, its own ctest entry) Debian's
 *               Prometheus scrapes the daemon every second on loopback, and
 *               its query API returns foreshock_events_consumed_total with
 *               the values the endpoint shows. Skipped (77) without a
 *               `prometheus` binary, a failure under CI=true.
 *
 * Every wait is bounded. The children die with the test process
 * (PR_SET_PDEATHSIG); a failing check kills them, prints the daemon's log and
 * deletes the test's keys before it reports.
 */
#include "tests/integration/services.h"
#include "tests/integration/workload.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FORESHOCK_BIN
#error "FORESHOCK_BIN must name the foreshock executable"
#endif
#ifndef FS_PROJECT_VERSION
#error "FS_PROJECT_VERSION must be the project's version"
#endif

#define PARTITIONS         2
#define STOP_TIMEOUT_MS    10000
#define ADMIN_TIMEOUT_MS   30000
#define LOG_TAIL_LINES     120
#define N_INVALID_PLAYBACK 5
#define N_INVALID_ERRORS   3

/* From the environment, set by main() before any test forks. */
static const char *brokers;
static const char *redis_addr;
static const char *redis_server_bin;
static const char *prometheus_bin;

/* ---- time ------------------------------------------------------------------ */

/* ---- one test's world, and what a failure cleans up ------------------------- */

typedef struct world {
    const char *name;
    char id[128];
    char playback[160], errors[160], alerts[160], deadletter[160];
    char group[160], prefix[160];
    char redis[64];
    char conf_path[64], log_path[64];
    pid_t daemon;
    int port;        /* the daemon's metrics port */
    pid_t redis_pid; /* a private redis-server, 0 if none */
    int redis_port;
    char redis_dir[64];
    pid_t prom_pid; /* Prometheus, 0 if none */
    int prom_port;
    char prom_dir[64];
    int64_t t0;
} world_t;

static world_t *current;

/* The failure path: nothing of the test may outlive it. */
static void fail_cleanup(void)
{
    world_t *t = current;
    if (!t)
        return;
    current = NULL;
    if (t->daemon > 0)
        fs_test_reap(t->daemon);
    fs_test_print_log_tail(t->log_path, "daemon log", LOG_TAIL_LINES);
    if (t->prom_pid > 0) {
        char path[128];
        fs_test_reap(t->prom_pid);
        snprintf(path, sizeof path, "%s/prometheus.log", t->prom_dir);
        fs_test_print_log_tail(path, "prometheus log", LOG_TAIL_LINES);
    }
    if (t->prom_dir[0])
        fs_test_remove_dir(t->prom_dir);
    if (t->redis_pid > 0) {
        char path[128];
        snprintf(path, sizeof path, "%s/redis.log", t->redis_dir);
        fs_test_print_log_tail(path, "private redis-server log", LOG_TAIL_LINES);
        fs_test_reap(t->redis_pid);
    } else if (!t->redis_dir[0]) {
        fs_test_redis_delete_keys(t->redis, t->prefix);
    }
    if (t->redis_dir[0])
        fs_test_remove_dir(t->redis_dir);
    fprintf(stderr, "metrics e2e %s failed after %.1f s (daemon log kept at %s)\n", t->name,
            (double)(fs_test_mono_ms() - t->t0) / 1000.0, t->log_path);
    fflush(stderr);
}

/* A progress line on stdout: what happened, and when. */
__attribute__((format(printf, 2, 3))) static void note(const world_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_test_vnote("metrics", t->name, t->t0, fmt, ap);
    va_end(ap);
}

/* SIGTERM and a bounded wait; returns the wait status. */
static int stop_child(pid_t pid, const char *what)
{
    int status = 0;
    int64_t start = fs_test_mono_ms();
    REQUIRE(kill(pid, SIGTERM) == 0, "kill %s: %s", what, strerror(errno));
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (fs_test_mono_ms() - start > STOP_TIMEOUT_MS) {
            fs_test_reap(pid);
            REQUIRE(0, "%s did not exit within %d ms of SIGTERM", what, STOP_TIMEOUT_MS);
        }
        fs_test_sleep_ms(20);
    }
    return status;
}

/* fs_test_spawn that fails the test when it cannot start the child. */
static pid_t spawn(const char *const *argv, const char *log)
{
    char err[512];
    pid_t pid = fs_test_spawn(argv, log, NULL, err, sizeof err);
    REQUIRE(pid > 0, "%s", err);
    return pid;
}

/* ---- HTTP ------------------------------------------------------------------- */

/* GET path from 127.0.0.1:port over HTTP/1.0; the body into out. Returns the
 * status code, or -1 when nothing answered (not listening yet, or gone). */
static int http_get(int port, const char *path, char *out, size_t size)
{
    struct sockaddr_in sa;
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[2048];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t used = 0;
    ssize_t got;
    while (used + 1 < size && (got = read(fd, out + used, size - 1 - used)) > 0)
        used += (size_t)got;
    out[used] = '\0';
    close(fd);
    int status;
    const char *body = strstr(out, "\r\n\r\n");
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1 || !body)
        return -1;
    memmove(out, body + 4, strlen(body + 4) + 1);
    return status;
}

/* The value of the sample whose name and labels are exactly `series`
 * (e.g. `foreshock_ready` or `x_total{topic="a"}`), or NAN if absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return NAN;
}

/* Scrapes /metrics (200 required) into a heap buffer the caller frees. */
static char *scrape(world_t *t)
{
    size_t size = 1 << 20;
    char *text = malloc(size);
    REQUIRE(text != NULL, "out of memory");
    int status = http_get(t->port, "/metrics", text, size);
    REQUIRE(status == 200, "GET /metrics: status %d", status);
    return text;
}

/* Checks a histogram without labels: buckets cumulative and non-decreasing,
 * +Inf equal to _count, _count at least min_count, _sum within [0, count *
 * most]. Returns _count. */
static double check_histogram(world_t *t, const char *text, const char *name, double min_count,
                              double most)
{
    char type[200], line_start[200];
    snprintf(type, sizeof type, "# TYPE %s histogram\n", name);
    REQUIRE(strstr(text, type) != NULL, "no '%s' line", type);
    snprintf(line_start, sizeof line_start, "%s_bucket{le=\"", name);
    double prev = 0, inf = NAN;
    int buckets = 0;
    for (const char *p = strstr(text, line_start); p; p = strstr(p + 1, line_start)) {
        const char *value = strstr(p, "} ");
        REQUIRE(value != NULL, "malformed bucket line of %s", name);
        double v = strtod(value + 2, NULL);
        REQUIRE(v >= prev, "%s: bucket %.20s has %g, less than the previous %g", name, p, v, prev);
        prev = v;
        buckets++;
        if (strncmp(p + strlen(line_start), "+Inf\"", 5) == 0)
            inf = v;
    }
    char key[200];
    snprintf(key, sizeof key, "%s_count", name);
    double count = sample(text, key);
    snprintf(key, sizeof key, "%s_sum", name);
    double sum = sample(text, key);
    REQUIRE(buckets >= 2 && inf == count, "%s: %d buckets, +Inf %g, _count %g", name, buckets, inf,
            count);
    REQUIRE(count >= min_count, "%s_count is %g, expected at least %g", name, count, min_count);
    REQUIRE(sum >= 0 && sum <= count * most, "%s_sum %g for %g observations", name, sum, count);
    note(t, "%s: %g observations, mean %.6f s", name, count, count > 0 ? sum / count : 0.0);
    return count;
}

/* ---- the daemon ------------------------------------------------------------- */

static void world_init(world_t *t, const char *name)
{
    char base[64];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->t0 = fs_test_mono_ms();
    current = t;
    snprintf(t->conf_path, sizeof t->conf_path, "/tmp/fs-metrics-conf-XXXXXX");
    snprintf(t->log_path, sizeof t->log_path, "/tmp/fs-metrics-log-XXXXXX");
    snprintf(t->redis, sizeof t->redis, "%s", redis_addr);
    snprintf(base, sizeof base, "fs-metrics-%s", name);
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
    t->port = fs_test_free_port();
    REQUIRE(t->port > 0, "no free port");
    note(t, "topics %s-{playback,errors,alerts,deadletter} created; metrics on port %d", t->id,
         t->port);
}

static void write_conf(world_t *t)
{
    int fd = mkstemp(t->conf_path);
    REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    REQUIRE(f != NULL, "fdopen: %s", strerror(errno));
    fprintf(f,
            "kafka.bootstrap.servers = %s\n"
            "kafka.group.id = %s\n"
            "kafka.session.timeout.ms = 6000\n"
            "kafka.heartbeat.interval.ms = 500\n"
            "topics.playback = %s\n"
            "topics.errors = %s\n"
            "topics.alerts = %s\n"
            "topics.deadletter = %s\n"
            "redis.address = %s\n"
            "redis.prefix = %s\n"
            "store = redis\n"
            "metrics.enabled = true\n"
            "metrics.address = 127.0.0.1:%d\n"
            "log.status_interval = 2s\n",
            brokers, t->group, t->playback, t->errors, t->alerts, t->deadletter, t->redis,
            t->prefix, t->port);
    REQUIRE(fclose(f) == 0, "writing %s", t->conf_path);
}

static void daemon_start(world_t *t, const char *const *extra)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = FORESHOCK_BIN;
    argv[argc++] = "-c";
    argv[argc++] = t->conf_path;
    for (size_t i = 0; extra && extra[i] && argc < 29; i++) {
        argv[argc++] = "-X";
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
    t->daemon = spawn(argv, t->log_path);
}

static void require_daemon_alive(world_t *t)
{
    int status;
    if (waitpid(t->daemon, &status, WNOHANG) == t->daemon) {
        t->daemon = 0;
        REQUIRE(0, "the daemon exited (status 0x%x)", status);
    }
}

static void daemon_stop(world_t *t)
{
    int status = stop_child(t->daemon, "the daemon");
    t->daemon = 0;
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "after SIGTERM the daemon ended with status 0x%x, expected exit 0", status);
}

/* Polls GET path until it answers `want` (and, if body is not NULL, exactly
 * that body), at most timeout_ms; between polls calls pump (if any) so that
 * events keep flowing. Returns the time it took. */
static int64_t wait_status(world_t *t, const char *path, int want, const char *body, int timeout_ms,
                           void (*pump)(void *), void *pump_arg)
{
    char out[4096];
    int64_t start = fs_test_mono_ms(), deadline = start + timeout_ms;
    int last = 0;
    char last_body[256] = "";
    for (;;) {
        require_daemon_alive(t);
        last = http_get(t->port, path, out, sizeof out);
        if (last > 0)
            snprintf(last_body, sizeof last_body, "%.200s", out);
        if (last == want && (!body || strcmp(out, body) == 0))
            return fs_test_mono_ms() - start;
        REQUIRE(fs_test_mono_ms() < deadline, "GET %s: still %d \"%s\" after %d ms, waited for %d%s%s",
                path, last, last_body, timeout_ms, want, body ? " " : "", body ? body : "");
        if (pump)
            pump(pump_arg);
        fs_test_sleep_ms(100);
    }
}

static void world_finish(world_t *t)
{
    const char *topics[] = {t->playback, t->errors, t->alerts, t->deadletter};
    REQUIRE(t->daemon == 0, "the test left the daemon running");
    /* A private redis-server went away with its folder. */
    if (!t->redis_dir[0]) {
        long left = fs_test_redis_delete_keys(t->redis, t->prefix);
        REQUIRE(left == 0, "deleting the keys %s*: %ld left", t->prefix, left);
    }
    fs_test_delete_topics(brokers, topics, 4);
    unlink(t->conf_path);
    unlink(t->log_path);
    note(t, "passed");
    current = NULL;
}

/* ---- workload --------------------------------------------------------------- */

static fs_wl_producer_t *new_producer(void)
{
    char err[512] = "";
    fs_wl_producer_t *prod = fs_wl_producer_new(brokers, err, sizeof err);
    REQUIRE(prod != NULL, "producer: %s", err);
    return prod;
}

static void produce_until(world_t *t, fs_workload_t *wl, fs_wl_producer_t *prod, int64_t until_ms)
{
    char err[512] = "";
    long n = fs_wl_produce(wl, prod, t->playback, t->errors, until_ms, err, sizeof err);
    REQUIRE(n >= 0, "producing the workload: %s", err);
}

static void send_invalid(world_t *t, fs_wl_producer_t *prod, const char *topic, int n)
{
    char err[512] = "";
    for (int i = 0; i < n; i++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "not json %d", i);
        REQUIRE(fs_wl_send(prod, topic, NULL, msg, (size_t)len, -1, err, sizeof err) == 0,
                "send: %s", err);
    }
    REQUIRE(fs_wl_flush(prod, 30000, err, sizeof err) == 0, "flush: %s", err);
    (void)t;
}

/* ---- a. endpoints and series -------------------------------------------------- */

typedef struct partition_sums {
    double high_watermarks[2]; /* sum per input topic */
    int partitions;
    int lag_zero, committed_at_end;
} partition_sums_t;

/* Sums the per-partition series of both input topics. */
static void sum_partitions(const char *text, const world_t *t, partition_sums_t *s)
{
    memset(s, 0, sizeof *s);
    s->lag_zero = s->committed_at_end = 1;
    const char *topics[] = {t->playback, t->errors};
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < PARTITIONS; p++) {
            char series[400];
            snprintf(series, sizeof series,
                     "foreshock_consumer_high_watermark_offset{topic=\"%s\",partition=\"%d\"}",
                     topics[k], p);
            double hw = sample(text, series);
            if (isnan(hw))
                continue;
            s->partitions++;
            s->high_watermarks[k] += hw;
            snprintf(series, sizeof series,
                     "foreshock_consumer_lag_messages{topic=\"%s\",partition=\"%d\"}", topics[k],
                     p);
            double lag = sample(text, series);
            snprintf(series, sizeof series,
                     "foreshock_consumer_committed_offset{topic=\"%s\",partition=\"%d\"}",
                     topics[k], p);
            double committed = sample(text, series);
            /* An empty partition has nothing to commit. */
            if (hw > 0 && !(lag == 0))
                s->lag_zero = 0;
            if (hw > 0 && !(committed == hw))
                s->committed_at_end = 0;
        }
}

static double alert_sum(const char *text, const char *family)
{
    double sum = 0;
    char start[100];
    snprintf(start, sizeof start, "\n%s{alertname=\"", family);
    for (const char *p = strstr(text, start); p; p = strstr(p + 1, start)) {
        const char *v = strstr(p, "} ");
        if (v)
            sum += strtod(v + 2, NULL);
    }
    return sum;
}

START_TEST(test_endpoints)
{
    world_t t;
    fs_wl_params_t params;
    /* A failure burst after two minutes of warm-up, so that an alert fires.
     * The last buckets close once every partition has been idle for
     * window.idle_timeout (10 s): a shorter one would make a partition
     * whose first fetch is slow look idle, and its events late. */
    const fs_wl_incident_t incident = {"BR", "android", 200, 300, 10.0};
    static const char *const extra[] = {"detect.warmup=2m", NULL};
    world_init(&t, "endpoints");
    write_conf(&t);
    fs_wl_defaults(&params, 0x3E7121C5, 360, 300);
    params.incident = &incident;
    fs_workload_t *wl = fs_wl_new(&params);
    REQUIRE(wl != NULL, "fs_wl_new");
    fs_wl_producer_t *prod = new_producer();
    produce_until(&t, wl, prod, INT64_MAX);
    send_invalid(&t, prod, t.playback, N_INVALID_PLAYBACK);
    send_invalid(&t, prod, t.errors, N_INVALID_ERRORS);
    fs_wl_producer_free(prod, 10000);
    double playback = (double)fs_wl_count(wl, FS_WL_PLAYBACK) + N_INVALID_PLAYBACK;
    double errors = (double)fs_wl_count(wl, FS_WL_ERROR) + N_INVALID_ERRORS;
    double valid = (double)(fs_wl_count(wl, FS_WL_PLAYBACK) + fs_wl_count(wl, FS_WL_ERROR));
    note(&t, "produced %.0f playback and %.0f error messages (%d invalid)", playback, errors,
         N_INVALID_PLAYBACK + N_INVALID_ERRORS);

    daemon_start(&t, extra);
    /* /healthz answers as soon as the endpoint listens, before the broker. */
    int64_t took = wait_status(&t, "/healthz", 200, "ok\n", 10000, NULL, NULL);
    note(&t, "/healthz 200 %lld ms after start", (long long)took);
    char out[4096];
    int first = http_get(t.port, "/readyz", out, sizeof out);
    note(&t, "/readyz first answered %d \"%.*s\"", first, (int)strcspn(out, "\n"), out);
    REQUIRE(first == 200 || first == 503, "/readyz answered %d", first);
    took = wait_status(&t, "/readyz", 200, "ready\n", 60000, NULL, NULL);
    note(&t, "/readyz 200 after %lld ms more", (long long)took);
    char *text = scrape(&t);
    REQUIRE(sample(text, "foreshock_consumer_assigned_partitions") == 2 * PARTITIONS,
            "ready with foreshock_consumer_assigned_partitions %g, expected %d",
            sample(text, "foreshock_consumer_assigned_partitions"), 2 * PARTITIONS);
    free(text);

    /* Everything consumed, applied, committed and every bucket closed. */
    char consumed_p[300], consumed_e[300];
    snprintf(consumed_p, sizeof consumed_p, "foreshock_events_consumed_total{topic=\"%s\"}",
             t.playback);
    snprintf(consumed_e, sizeof consumed_e, "foreshock_events_consumed_total{topic=\"%s\"}",
             t.errors);
    int64_t deadline = fs_test_mono_ms() + 120000;
    partition_sums_t parts;
    for (;;) {
        require_daemon_alive(&t);
        text = scrape(&t);
        sum_partitions(text, &t, &parts);
        double fired = alert_sum(text, "foreshock_alerts_fired_total");
        double resolved = alert_sum(text, "foreshock_alerts_resolved_total");
        int done = sample(text, consumed_p) == playback && sample(text, consumed_e) == errors &&
                   parts.partitions == 2 * PARTITIONS && parts.lag_zero && parts.committed_at_end &&
                   sample(text, "foreshock_evaluation_duration_seconds_count") > 0 &&
                   fired == resolved + sample(text, "foreshock_open_alerts");
        if (done)
            break;
        REQUIRE(fs_test_mono_ms() < deadline,
                "after 120 s: consumed %g/%g playback, %g/%g errors; %d partitions shown, lag "
                "zero %d, committed at end %d; alerts fired %g, resolved %g, open %g",
                sample(text, consumed_p), playback, sample(text, consumed_e), errors,
                parts.partitions, parts.lag_zero, parts.committed_at_end, fired, resolved,
                sample(text, "foreshock_open_alerts"));
        free(text);
        fs_test_sleep_ms(250);
    }
    note(&t, "everything consumed and committed after %.1f s", (double)(fs_test_mono_ms() - t.t0) / 1000.0);

    /* Every series, with values that agree with what was produced. */
    char build[300];
    snprintf(build, sizeof build,
             "foreshock_build_info{version=\"%s\",librdkafka=\"%s\",hiredis=\"%d.%d.%d\"}",
             FS_PROJECT_VERSION, rd_kafka_version_str(), HIREDIS_MAJOR, HIREDIS_MINOR,
             HIREDIS_PATCH);
    static const struct {
        const char *series;
        double min, max;
    } plausible[] = {
        {"foreshock_ready", 1, 1},
        {"foreshock_store_up", 1, 1},
        {"foreshock_events_late_total", 0, 0},
        {"foreshock_events_future_total", 0, 0},
        {"foreshock_slice_overflow_total", 0, 0},
        {"foreshock_slices_evicted_total", 0, 0},
        {"foreshock_redis_errors_total", 0, 0},
        {"foreshock_store_fenced_total", 0, 0},
        {"foreshock_consumer_assigned_partitions", 2 * PARTITIONS, 2 * PARTITIONS},
        {"foreshock_kafka_brokers_up", 1, 100},
        /* all traffic, 30 countries, platforms, versions, CDNs, pairs, codes */
        {"foreshock_live_slices", 30, 100000},
        /* 360 s of one-second buckets at least; once every partition is
         * idle, event time may move on with the clock */
        {"foreshock_buckets_closed_total", 300, 3600},
        {"foreshock_redis_round_trips_total", 2, 1e6},
        {"foreshock_start_time_seconds", 1.7e9, 4.1e9},
    };
    for (size_t i = 0; i < sizeof plausible / sizeof plausible[0]; i++) {
        double v = sample(text, plausible[i].series);
        REQUIRE(v >= plausible[i].min && v <= plausible[i].max, "%s is %g, expected [%g, %g]",
                plausible[i].series, v, plausible[i].min, plausible[i].max);
    }
    REQUIRE(sample(text, build) == 1, "no series %s", build);
    REQUIRE(sample(text, "foreshock_events_applied_total") == valid,
            "foreshock_events_applied_total %g, expected the %g valid events",
            sample(text, "foreshock_events_applied_total"), valid);
    REQUIRE(sample(text, "foreshock_events_invalid_total") == N_INVALID_PLAYBACK + N_INVALID_ERRORS,
            "foreshock_events_invalid_total %g, expected %d",
            sample(text, "foreshock_events_invalid_total"), N_INVALID_PLAYBACK + N_INVALID_ERRORS);
    REQUIRE(parts.high_watermarks[0] == playback && parts.high_watermarks[1] == errors,
            "high watermarks add up to %g and %g, expected %g and %g", parts.high_watermarks[0],
            parts.high_watermarks[1], playback, errors);
    double wm = sample(text, "foreshock_event_time_watermark_seconds");
    double now = (double)time(NULL) + 1;
    REQUIRE(wm >= (double)params.base_ms / 1000 && wm <= now,
            "foreshock_event_time_watermark_seconds %.3f outside [%.3f (the workload's start), "
            "%.3f (now)]",
            wm, (double)params.base_ms / 1000, now);
    /* The first batch after buckets closed carried a whole snapshot (the
     * workload's slices fit one part), so the restart point is known and
     * lies within the closed buckets. */
    double snap = sample(text, "foreshock_snapshot_watermark_seconds");
    REQUIRE(snap >= (double)params.base_ms / 1000 && snap <= wm,
            "foreshock_snapshot_watermark_seconds %.3f outside [%.3f (the workload's start), "
            "%.3f (the watermark)]",
            snap, (double)params.base_ms / 1000, wm);
    double flushes = check_histogram(&t, text, "foreshock_flush_duration_seconds", 1, 10);
    REQUIRE(sample(text, "foreshock_redis_round_trips_total") >= flushes,
            "%g round trips for %g flushes", sample(text, "foreshock_redis_round_trips_total"),
            flushes);
    /* Every bucket closed while running is timed, whatever closed it (the
     * stream's own watermark or the idle clock); a scrape may fall between a
     * bucket's evaluation and the next counter update, hence the slack. */
    double evaluated = check_histogram(&t, text, "foreshock_evaluation_duration_seconds", 1, 1);
    double closed = sample(text, "foreshock_buckets_closed_total");
    REQUIRE(evaluated >= closed / 2 && evaluated <= closed + 5,
            "%g bucket evaluations timed for %g buckets closed", evaluated, closed);
    double fired = sample(text, "foreshock_alerts_fired_total{alertname=\"PlaybackFailureBurst\"}");
    REQUIRE(fired >= 1, "foreshock_alerts_fired_total{alertname=\"PlaybackFailureBurst\"} is %g",
            fired);
    note(&t, "alerts: %g fired, %g resolved, %g open",
         alert_sum(text, "foreshock_alerts_fired_total"),
         alert_sum(text, "foreshock_alerts_resolved_total"), sample(text, "foreshock_open_alerts"));
    static const char *const families[] = {
        "foreshock_build_info gauge", "foreshock_events_consumed_total counter",
        "foreshock_alerts_resolved_total counter", "foreshock_consumer_lag_messages gauge",
        "foreshock_consumer_position_offset gauge"};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char line[200];
        snprintf(line, sizeof line, "\n# TYPE %s\n", families[i]);
        REQUIRE(strstr(text, line) != NULL, "no line '# TYPE %s'", families[i]);
    }
    free(text);
    REQUIRE(wait_status(&t, "/nothing", 404, NULL, 1000, NULL, NULL) >= 0, "404");
    daemon_stop(&t);
    fs_wl_free(wl);
    world_finish(&t);
}
END_TEST

/* ---- b. readiness through a Redis outage ------------------------------------- */

static void start_private_redis(world_t *t)
{
    static const char *const args[] = {"--save", "",  "--appendonly", "yes", "--appendfsync",
                                       "always", NULL};
    char err[512];
    t->redis_pid =
        fs_test_redis_start(redis_server_bin, t->redis_port, t->redis_dir, args, err, sizeof err);
    REQUIRE(t->redis_pid > 0, "%s", err);
}

static void stop_private_redis(world_t *t)
{
    int stopped = fs_test_redis_stop(t->redis_pid, STOP_TIMEOUT_MS);
    t->redis_pid = 0;
    REQUIRE(stopped == 0, "the private redis-server did not exit within %d ms of SIGTERM",
            STOP_TIMEOUT_MS);
}

typedef struct flow {
    world_t *t;
    fs_workload_t *wl;
    fs_wl_producer_t *prod;
    int64_t until_ms;
} flow_t;

/* Produces the next second of event time (the workload is in the past, so
 * it arrives faster than real time, as after a short producer hiccup). */
static void pump(void *arg)
{
    flow_t *f = arg;
    if (fs_wl_peek_ms(f->wl) == INT64_MAX)
        return;
    f->until_ms += 1000;
    produce_until(f->t, f->wl, f->prod, f->until_ms);
}

START_TEST(test_outage)
{
    world_t t;
    fs_wl_params_t params;
    static const char *const extra[] = {"window.flush_interval=200ms", NULL};
    if (!redis_server_bin || !redis_server_bin[0]) {
        const char *ci = getenv("CI");
        ck_assert_msg(!(ci && strcmp(ci, "true") == 0),
                      "CI=true and FORESHOCK_TEST_REDIS_SERVER is not set");
        printf("test_outage: skipped, FORESHOCK_TEST_REDIS_SERVER not set\n");
        return;
    }
    world_init(&t, "outage");
    snprintf(t.redis_dir, sizeof t.redis_dir, "/tmp/fs-metrics-redis-XXXXXX");
    REQUIRE(mkdtemp(t.redis_dir) != NULL, "mkdtemp: %s", strerror(errno));
    t.redis_port = fs_test_free_port();
    REQUIRE(t.redis_port > 0, "no free port");
    snprintf(t.redis, sizeof t.redis, "127.0.0.1:%d", t.redis_port);
    start_private_redis(&t);
    note(&t, "private redis-server on %s", t.redis);
    write_conf(&t);

    fs_wl_defaults(&params, 0x0DA6E, 900, 100);
    flow_t flow = {&t, fs_wl_new(&params), new_producer(), params.base_ms};
    REQUIRE(flow.wl != NULL, "fs_wl_new");
    daemon_start(&t, extra);
    int64_t took = wait_status(&t, "/readyz", 200, "ready\n", 60000, pump, &flow);
    note(&t, "/readyz 200 after %lld ms", (long long)took);

    stop_private_redis(&t);
    note(&t, "redis-server stopped; events keep coming");
    took = wait_status(&t, "/readyz", 503, "store unavailable: consumption paused\n", 20000, pump,
                       &flow);
    note(&t, "/readyz 503 \"store unavailable: consumption paused\" after %lld ms",
         (long long)took);
    wait_status(&t, "/healthz", 200, "ok\n", 1000, NULL, NULL);
    char *text = scrape(&t);
    REQUIRE(sample(text, "foreshock_ready") == 0 && sample(text, "foreshock_store_up") == 0 &&
                sample(text, "foreshock_redis_errors_total") >= 1,
            "during the outage: foreshock_ready %g, foreshock_store_up %g, "
            "foreshock_redis_errors_total %g",
            sample(text, "foreshock_ready"), sample(text, "foreshock_store_up"),
            sample(text, "foreshock_redis_errors_total"));
    free(text);

    start_private_redis(&t);
    note(&t, "redis-server restarted");
    took = wait_status(&t, "/readyz", 200, "ready\n", 30000, pump, &flow);
    note(&t, "/readyz 200 again after %lld ms", (long long)took);
    text = scrape(&t);
    REQUIRE(sample(text, "foreshock_store_up") == 1, "foreshock_store_up %g after the outage",
            sample(text, "foreshock_store_up"));
    free(text);

    /* An outage while nothing is produced: the daemon still notices it
     * (through the batches of its idle clock, or by pinging a store it has
     * nothing to send) and notices its end. */
    fs_test_sleep_ms(3000);
    stop_private_redis(&t);
    note(&t, "redis-server stopped again, nothing produced");
    took = wait_status(&t, "/readyz", 503, "store unavailable: consumption paused\n", 15000, NULL,
                       NULL);
    note(&t, "idle: /readyz 503 after %lld ms", (long long)took);
    start_private_redis(&t);
    took = wait_status(&t, "/readyz", 200, "ready\n", 30000, NULL, NULL);
    note(&t, "idle: /readyz 200 again after %lld ms", (long long)took);
    daemon_stop(&t);
    fs_wl_producer_free(flow.prod, 10000);
    fs_wl_free(flow.wl);
    stop_private_redis(&t);
    fs_test_remove_dir(t.redis_dir);
    world_finish(&t);
}
END_TEST

/* ---- c. scraped by Prometheus -------------------------------------------------- */

/* Percent-encodes a PromQL expression for a query string. */
static void url_encode(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 4 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '-')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, size - n, "%%%02X", c);
    }
    out[n] = '\0';
}

/* Runs an instant query; returns the result array (a new reference), or
 * NULL when Prometheus does not answer (yet). */
static json_t *prom_query(world_t *t, const char *promql)
{
    char path[1024], encoded[900];
    size_t size = 1 << 20;
    char *body = malloc(size);
    REQUIRE(body != NULL, "out of memory");
    url_encode(promql, encoded, sizeof encoded);
    snprintf(path, sizeof path, "/api/v1/query?query=%s", encoded);
    int status = http_get(t->prom_port, path, body, size);
    json_t *result = NULL;
    if (status == 200) {
        json_t *root = json_loads(body, 0, NULL);
        const char *st = json_string_value(json_object_get(root, "status"));
        REQUIRE(st && strcmp(st, "success") == 0, "query %s: %s", promql, body);
        result = json_incref(json_object_get(json_object_get(root, "data"), "result"));
        json_decref(root);
    }
    free(body);
    return result;
}

/* The value of a vector element ("value": [time, "text"]). */
static double element_value(const json_t *element)
{
    const char *v = json_string_value(json_array_get(json_object_get(element, "value"), 1));
    return v ? strtod(v, NULL) : NAN;
}

static void start_prometheus(world_t *t)
{
    char yml[128], data[128], log[128], cfg_flag[160], data_flag[160], listen[64];
    snprintf(t->prom_dir, sizeof t->prom_dir, "/tmp/fs-metrics-prom-XXXXXX");
    REQUIRE(mkdtemp(t->prom_dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(yml, sizeof yml, "%s/prometheus.yml", t->prom_dir);
    snprintf(data, sizeof data, "%s/data", t->prom_dir);
    snprintf(log, sizeof log, "%s/prometheus.log", t->prom_dir);
    FILE *f = fopen(yml, "w");
    REQUIRE(f != NULL, "%s: %s", yml, strerror(errno));
    fprintf(f,
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "scrape_configs:\n"
            "  - job_name: foreshock\n"
            "    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n",
            t->port);
    REQUIRE(fclose(f) == 0, "writing %s", yml);
    t->prom_port = fs_test_free_port();
    REQUIRE(t->prom_port > 0, "no free port");
    snprintf(cfg_flag, sizeof cfg_flag, "--config.file=%s", yml);
    snprintf(data_flag, sizeof data_flag, "--storage.tsdb.path=%s", data);
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", t->prom_port);
    const char *argv[] = {prometheus_bin, cfg_flag, data_flag, listen, "--log.level=warn", NULL};
    t->prom_pid = spawn(argv, log);
    note(t, "prometheus on 127.0.0.1:%d scrapes 127.0.0.1:%d every second", t->prom_port, t->port);
}

START_TEST(test_prometheus)
{
    world_t t;
    fs_wl_params_t params;
    world_init(&t, "prometheus");
    write_conf(&t);
    fs_wl_defaults(&params, 0x9703E7, 60, 100);
    fs_workload_t *wl = fs_wl_new(&params);
    REQUIRE(wl != NULL, "fs_wl_new");
    fs_wl_producer_t *prod = new_producer();
    produce_until(&t, wl, prod, INT64_MAX);
    fs_wl_producer_free(prod, 10000);
    double want[2] = {(double)fs_wl_count(wl, FS_WL_PLAYBACK),
                      (double)fs_wl_count(wl, FS_WL_ERROR)};
    daemon_start(&t, NULL);
    wait_status(&t, "/readyz", 200, "ready\n", 60000, NULL, NULL);
    start_prometheus(&t);

    /* Prometheus shows the daemon up (it would mark a scrape it cannot
     * parse as down), then the counters with the values the endpoint has. */
    const char *topics[] = {t.playback, t.errors};
    int64_t deadline = fs_test_mono_ms() + 60000;
    double got[2] = {NAN, NAN};
    int up = 0;
    for (;;) {
        int status;
        require_daemon_alive(&t);
        REQUIRE(waitpid(t.prom_pid, &status, WNOHANG) == 0, "prometheus exited (status 0x%x)",
                status);
        json_t *result = prom_query(&t, "up{job=\"foreshock\"}");
        up =
            result && json_array_size(result) == 1 && element_value(json_array_get(result, 0)) == 1;
        json_decref(result);
        result = up ? prom_query(&t, "foreshock_events_consumed_total") : NULL;
        for (size_t i = 0; result && i < json_array_size(result); i++) {
            json_t *e = json_array_get(result, i);
            const char *topic =
                json_string_value(json_object_get(json_object_get(e, "metric"), "topic"));
            for (int k = 0; k < 2; k++)
                if (topic && strcmp(topic, topics[k]) == 0)
                    got[k] = element_value(e);
        }
        json_decref(result);
        if (up && got[0] == want[0] && got[1] == want[1])
            break;
        REQUIRE(fs_test_mono_ms() < deadline,
                "after 60 s Prometheus has up=%d, foreshock_events_consumed_total %g and %g, "
                "expected %g and %g",
                up, got[0], got[1], want[0], want[1]);
        fs_test_sleep_ms(500);
    }
    note(&t, "Prometheus has foreshock_events_consumed_total = %g (playback), %g (errors)", got[0],
         got[1]);
    /* The histogram parses as one: a quantile over its buckets is a number. */
    json_t *result =
        prom_query(&t, "histogram_quantile(0.5, foreshock_flush_duration_seconds_bucket)");
    REQUIRE(result && json_array_size(result) == 1, "no flush duration quantile");
    double median = element_value(json_array_get(result, 0));
    json_decref(result);
    REQUIRE(median > 0 && median < 10, "median flush duration %g s", median);
    note(&t, "median flush duration according to Prometheus: %.4f s", median);

    int status = stop_child(t.prom_pid, "prometheus");
    t.prom_pid = 0;
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "prometheus ended with status 0x%x",
            status);
    fs_test_remove_dir(t.prom_dir);
    daemon_stop(&t);
    fs_wl_free(wl);
    world_finish(&t);
}
END_TEST

/* The prometheus binary: FORESHOCK_TEST_PROMETHEUS, or `prometheus` on PATH. */
static const char *find_prometheus(void)
{
    static char found[4096];
    const char *env = getenv("FORESHOCK_TEST_PROMETHEUS");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(found, sizeof found, "%.*s/prometheus", (int)n, path);
        if (n > 0 && access(found, X_OK) == 0)
            return found;
        path += n + (path[n] == ':');
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int only_prometheus = argc > 1 && strcmp(argv[1], "prometheus") == 0;
    brokers = fs_test_service("FORESHOCK_TEST_KAFKA");
    redis_addr = fs_test_service("FORESHOCK_TEST_REDIS");
    redis_server_bin = getenv("FORESHOCK_TEST_REDIS_SERVER");
    if (only_prometheus && !(prometheus_bin = find_prometheus())) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0) {
            fprintf(stderr, "CI=true and no prometheus binary (tests/stack/deps.sh installs "
                            "it; or set FORESHOCK_TEST_PROMETHEUS)\n");
            return 1;
        }
        printf("skipped: no prometheus binary on PATH (tests/stack/deps.sh installs it)\n");
        return FS_TEST_SKIP;
    }
    fs_test_on_failure(fail_cleanup);
    Suite *s = suite_create("metrics_e2e");
    struct {
        const char *name;
        const TTest *test;
        double timeout_s;
        int prometheus;
    } cases[] = {
        {"endpoints", test_endpoints, 240, 0},
        {"outage", test_outage, 180, 0},
        {"prometheus", test_prometheus, 180, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].prometheus != only_prometheus)
            continue;
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, cases[i].timeout_s);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
