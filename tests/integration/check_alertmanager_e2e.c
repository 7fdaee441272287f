/*
 * check_alertmanager_e2e.c: foreshock-alertmanager between the real Kafka
 * broker of tests/stack and a real Prometheus Alertmanager (Debian's
 * prometheus-alertmanager, started here on a free loopback port with
 * clustering off, docs/alertmanager-local.md).
 *
 * Each test makes its own alerts topic (4 partitions) and consumer group,
 * produces alert messages as foreshock writes them (CONTRACT.md section 2),
 * runs the forwarder as a child process (stderr to a log printed when the
 * test fails) and reads Alertmanager back with GET /api/v2/alerts.
 *
 *   fire_and_resolve  a poison message (a label name Alertmanager refuses)
 *                     is logged and skipped, and the firing alert behind it
 *                     on the same partition arrives with exactly its labels,
 *                     annotations and startsAt; it stays active well past
 *                     Alertmanager's resolve_timeout (re-posted); its
 *                     resolved message makes it disappear at once; SIGTERM
 *                     exits 0 with every offset committed.
 *   kill_and_restart  two alerts fire and are committed; Alertmanager dies
 *                     and, while the forwarder retries, a third alert fires
 *                     and one of the two resolves; the forwarder is
 *                     SIGKILLed; a fresh Alertmanager (no state) and a new
 *                     forwarder start: the committed firing alert is
 *                     re-posted from the rebuilt firing set, the uncommitted
 *                     one arrives, the resolved one never shows as active.
 *
 * Without prometheus-alertmanager on PATH (or FORESHOCK_TEST_ALERTMANAGER)
 * the suite is skipped, except under CI=true, where it fails. Every wait is
 * bounded; children die with the test (PR_SET_PDEATHSIG).
 */
#include "tests/integration/services.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FORESHOCK_ALERTMANAGER_BIN
#error "FORESHOCK_ALERTMANAGER_BIN must name the foreshock-alertmanager executable"
#endif

#define PARTITIONS        4
#define ADMIN_TIMEOUT_MS  30000
#define READY_TIMEOUT_MS  30000
#define STOP_TIMEOUT_MS   10000
#define ARRIVE_TIMEOUT_MS 30000
/* Alertmanager's resolve_timeout here, and the forwarder's resend interval. */
#define RESOLVE_TIMEOUT_S 5
#define RESEND            "1s"
#define LOG_TAIL_LINES    120

static const char *brokers;
static const char *am_bin;

/* ---- time ------------------------------------------------------------------- */

/* Now as RFC 3339 UTC with milliseconds, offset by delta_ms. */
static void rfc3339_now(char out[64], int64_t delta_ms)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + delta_ms;
    time_t secs = (time_t)(ms / 1000);
    gmtime_r(&secs, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* ---- one test's world, and the failure path ------------------------------------ */

typedef struct world {
    const char *name;
    char id[128], topic[160], group[160];
    char dir[64];
    char conf[128], fwd_log[128], am_log[128];
    int am_port, am_lives, fwd_lives;
    pid_t am, fwd;
    rd_kafka_t *producer;
    int64_t t0;
} world_t;

static world_t *current;

static void fail_cleanup(void)
{
    world_t *w = current;
    if (!w)
        return;
    current = NULL;
    if (w->fwd > 0)
        fs_test_reap(w->fwd);
    if (w->am > 0)
        fs_test_reap(w->am);
    w->fwd = w->am = 0;
    fs_test_print_log_tail(w->fwd_log, "forwarder log", LOG_TAIL_LINES);
    fs_test_print_log_tail(w->am_log, "alertmanager log", LOG_TAIL_LINES);
    fprintf(stderr, "e2e %s failed after %.1f s (files kept in %s)\n", w->name,
            (double)(fs_test_mono_ms() - w->t0) / 1000.0, w->dir);
    fflush(stderr);
}

__attribute__((format(printf, 2, 3))) static void note(const world_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_test_vnote("am-e2e", w->name, w->t0, fmt, ap);
    va_end(ap);
}

/* ---- children ------------------------------------------------------------------- */

/* fs_test_spawn that fails the test when it cannot start the child. */
static pid_t spawn(const char *const *argv, const char *log, const char *marker)
{
    char err[512];
    pid_t pid = fs_test_spawn(argv, log, marker, err, sizeof err);
    REQUIRE(pid > 0, "%s", err);
    return pid;
}

static void require_alive(pid_t *pid, const char *what)
{
    int status;
    if (*pid > 0 && waitpid(*pid, &status, WNOHANG) == *pid) {
        *pid = 0;
        REQUIRE(0, "%s exited (status 0x%x)", what, status);
    }
}

/* ---- HTTP ---------------------------------------------------------------------- */

typedef struct body {
    char *p;
    size_t len;
} body_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    body_t *b = opaque;
    size_t n = size * nmemb;
    char *grown = realloc(b->p, b->len + n + 1);
    if (!grown)
        return 0;
    b->p = grown;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* GETs path from the test's Alertmanager. Returns the HTTP status (0 if no
 * answer); *out gets the body (caller frees) when out is not NULL. */
static long am_get(const world_t *w, const char *path, char **out)
{
    char url[256];
    body_t b = {0};
    long status = 0;
    CURL *c = curl_easy_init();
    REQUIRE(c != NULL, "curl_easy_init");
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", w->am_port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (out)
        *out = b.p;
    else
        free(b.p);
    return status;
}

/* The active alerts (GET /api/v2/alerts), as a JSON array (caller decrefs). */
static json_t *am_alerts(const world_t *w)
{
    char *text = NULL;
    json_error_t jerr;
    long status = am_get(w, "/api/v2/alerts", &text);
    REQUIRE(status == 200, "GET /api/v2/alerts answered %ld: %s", status, text ? text : "");
    json_t *alerts = json_loads(text, 0, &jerr);
    REQUIRE(alerts && json_is_array(alerts), "GET /api/v2/alerts: not a JSON array: %s", text);
    free(text);
    return alerts;
}

/* The alert whose `country` label is country, or NULL (borrowed from alerts). */
static json_t *find_alert(json_t *alerts, const char *country)
{
    size_t i;
    json_t *a;
    json_array_foreach(alerts, i, a)
    {
        const char *c = json_string_value(json_object_get(json_object_get(a, "labels"), "country"));
        if (c && strcmp(c, country) == 0)
            return a;
    }
    return NULL;
}

static int is_active(json_t *alert)
{
    const char *state =
        json_string_value(json_object_get(json_object_get(alert, "status"), "state"));
    return alert && state && strcmp(state, "active") == 0;
}

/* Waits until the alert of country is listed as active; returns a copy. */
static json_t *wait_active(world_t *w, const char *country, int timeout_ms)
{
    int64_t deadline = fs_test_mono_ms() + timeout_ms;
    for (;;) {
        json_t *alerts = am_alerts(w);
        json_t *a = find_alert(alerts, country);
        if (a && is_active(a)) {
            json_t *copy = json_deep_copy(a);
            json_decref(alerts);
            return copy;
        }
        json_decref(alerts);
        require_alive(&w->fwd, "the forwarder");
        REQUIRE(fs_test_mono_ms() < deadline, "alert country=%s not active in Alertmanager within %d ms",
                country, timeout_ms);
        fs_test_sleep_ms(100);
    }
}

/* Waits until no alert of country is listed (resolved alerts are not). */
static int64_t wait_gone(world_t *w, const char *country, int timeout_ms)
{
    int64_t start = fs_test_mono_ms();
    for (;;) {
        json_t *alerts = am_alerts(w);
        json_t *a = find_alert(alerts, country);
        json_decref(alerts);
        if (!a)
            return fs_test_mono_ms() - start;
        REQUIRE(fs_test_mono_ms() - start < timeout_ms,
                "alert country=%s still listed %d ms after its resolved message", country,
                timeout_ms);
        fs_test_sleep_ms(50);
    }
}

/* ---- Alertmanager -------------------------------------------------------------------- */

/* Starts a fresh Alertmanager (new storage, no alerts) on the world's port. */
static void am_start(world_t *w)
{
    char config[160], storage[160], config_arg[200], storage_arg[200], listen_arg[64];
    char marker[64];
    snprintf(config, sizeof config, "%s/am.yml", w->dir);
    snprintf(storage, sizeof storage, "%s/am-data-%d", w->dir, w->am_lives + 1);
    FILE *f = fopen(config, "w");
    REQUIRE(f != NULL, "%s: %s", config, strerror(errno));
    /* One receiver without integrations: alerts are kept, nothing is sent. */
    fprintf(f,
            "global:\n"
            "  resolve_timeout: %ds\n"
            "route:\n"
            "  receiver: sink\n"
            "receivers:\n"
            "  - name: sink\n",
            RESOLVE_TIMEOUT_S);
    REQUIRE(fclose(f) == 0, "writing %s", config);
    snprintf(config_arg, sizeof config_arg, "--config.file=%s", config);
    snprintf(storage_arg, sizeof storage_arg, "--storage.path=%s", storage);
    snprintf(listen_arg, sizeof listen_arg, "--web.listen-address=127.0.0.1:%d", w->am_port);
    const char *argv[] = {am_bin,
                          config_arg,
                          storage_arg,
                          listen_arg,
                          "--cluster.listen-address=",
                          "--log.level=info",
                          NULL};
    snprintf(marker, sizeof marker, "alertmanager life %d", w->am_lives + 1);
    w->am = spawn(argv, w->am_log, marker);
    w->am_lives++;
    int64_t deadline = fs_test_mono_ms() + READY_TIMEOUT_MS;
    while (am_get(w, "/-/ready", NULL) != 200) {
        require_alive(&w->am, "prometheus-alertmanager");
        REQUIRE(fs_test_mono_ms() < deadline, "Alertmanager not ready on port %d within %d ms", w->am_port,
                READY_TIMEOUT_MS);
        fs_test_sleep_ms(100);
    }
    note(w, "alertmanager life %d ready on 127.0.0.1:%d", w->am_lives, w->am_port);
}

static void am_kill(world_t *w)
{
    fs_test_reap(w->am);
    w->am = 0;
    note(w, "alertmanager killed");
}

/* ---- the forwarder ----------------------------------------------------------------- */

static void fwd_start(world_t *w)
{
    char marker[64];
    const char *argv[] = {FORESHOCK_ALERTMANAGER_BIN, "-c", w->conf, NULL};
    snprintf(marker, sizeof marker, "forwarder life %d", w->fwd_lives + 1);
    w->fwd = spawn(argv, w->fwd_log, marker);
    w->fwd_lives++;
}

static void fwd_kill(world_t *w)
{
    fs_test_reap(w->fwd);
    w->fwd = 0;
    note(w, "forwarder SIGKILLed");
}

static void fwd_stop(world_t *w)
{
    int status = 0;
    int64_t start = fs_test_mono_ms();
    REQUIRE(kill(w->fwd, SIGTERM) == 0, "kill: %s", strerror(errno));
    for (;;) {
        if (waitpid(w->fwd, &status, WNOHANG) == w->fwd)
            break;
        REQUIRE(fs_test_mono_ms() - start < STOP_TIMEOUT_MS, "the forwarder ignored SIGTERM for %d ms",
                STOP_TIMEOUT_MS);
        fs_test_sleep_ms(20);
    }
    w->fwd = 0;
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "after SIGTERM the forwarder ended with status 0x%x, expected exit 0", status);
    note(w, "forwarder stopped by SIGTERM: exit 0 after %lld ms", (long long)(fs_test_mono_ms() - start));
}

/* Occurrences of needle in the forwarder's log since its last start. */
static int log_count(const world_t *w, const char *needle)
{
    FILE *f = fopen(w->fwd_log, "r");
    char line[8192];
    int n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "==== forwarder life", 19) == 0)
            n = 0;
        else if (strstr(line, needle))
            n++;
    }
    fclose(f);
    return n;
}

static void wait_log(world_t *w, const char *needle, int count, int timeout_ms)
{
    int64_t deadline = fs_test_mono_ms() + timeout_ms;
    while (log_count(w, needle) < count) {
        require_alive(&w->fwd, "the forwarder");
        REQUIRE(fs_test_mono_ms() < deadline, "the forwarder's log has fewer than %d '%s' after %d ms",
                count, needle, timeout_ms);
        fs_test_sleep_ms(50);
    }
}

/* ---- Kafka ------------------------------------------------------------------------- */

static rd_kafka_conf_t *base_conf(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ==
                RD_KAFKA_CONF_OK,
            "bootstrap.servers: %s", errstr);
    return conf;
}

static void create_topic(world_t *w)
{
    char errstr[512];
    rd_kafka_t *rk = w->producer;
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_NewTopic_t *topic =
        rd_kafka_NewTopic_new(w->topic, PARTITIONS, 1, errstr, sizeof errstr);
    REQUIRE(topic != NULL, "NewTopic: %s", errstr);
    rd_kafka_AdminOptions_t *options =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(options, ADMIN_TIMEOUT_MS, errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, &topic, 1, options, queue);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, ADMIN_TIMEOUT_MS + 5000);
    REQUIRE(ev != NULL, "CreateTopics: no answer");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **results =
        res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    REQUIRE(res && cnt == 1 && rd_kafka_topic_result_error(results[0]) == 0, "create topic %s: %s",
            w->topic,
            cnt ? rd_kafka_topic_result_error_string(results[0]) : rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(topic);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);

    int64_t deadline = fs_test_mono_ms() + ADMIN_TIMEOUT_MS;
    for (;;) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, w->topic, NULL);
        int ok = rd_kafka_metadata(rk, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1 &&
                 md->topics[0].err == 0 && md->topics[0].partition_cnt == PARTITIONS;
        for (int p = 0; ok && p < PARTITIONS; p++)
            ok = md->topics[0].partitions[p].leader >= 0;
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        if (ok)
            break;
        REQUIRE(fs_test_mono_ms() < deadline, "topic %s: no complete metadata", w->topic);
        fs_test_sleep_ms(100);
    }
}

static void delete_topic(world_t *w)
{
    rd_kafka_queue_t *queue = rd_kafka_queue_new(w->producer);
    rd_kafka_DeleteTopic_t *topic = rd_kafka_DeleteTopic_new(w->topic);
    rd_kafka_DeleteTopics(w->producer, &topic, 1, NULL, queue);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, 10000);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy(topic);
    rd_kafka_queue_destroy(queue);
}

/* Produces value keyed by key and waits for the broker's acknowledgement. */
static void produce(world_t *w, const char *key, const char *value)
{
    rd_kafka_resp_err_t e =
        rd_kafka_producev(w->producer, RD_KAFKA_V_TOPIC(w->topic), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    REQUIRE(e == 0, "produce: %s", rd_kafka_err2str(e));
    REQUIRE(rd_kafka_flush(w->producer, 30000) == 0, "flush: not delivered in 30 s");
}

/* An alert message as foreshock writes it; its slice is {country}. */
static void produce_alert(world_t *w, const char *fingerprint, int firing, const char *country,
                          const char *starts_at, const char *ends_at)
{
    char msg[4096], ends[80];
    if (firing)
        snprintf(ends, sizeof ends, "null");
    else
        snprintf(ends, sizeof ends, "\"%s\"", ends_at);
    snprintf(msg, sizeof msg,
             "{\"fingerprint\":\"%s\",\"status\":\"%s\",\"alertname\":\"PlaybackFailureBurst\","
             "\"severity\":\"warning\",\"slice\":{\"country\":\"%s\"},\"startsAt\":\"%s\","
             "\"detectedAt\":\"%s\",\"endsAt\":%s,"
             "\"labels\":{\"alertname\":\"PlaybackFailureBurst\",\"severity\":\"warning\","
             "\"country\":\"%s\"},"
             "\"annotations\":{\"summary\":\"Playback failures 7.8x expected in country=%s\","
             "\"description\":\"Since %s, 4.98%% of playback attempts in country=%s failed.\"},"
             "\"evidence\":{\"observed\":0.0497,\"expected\":0.0064,\"attempts\":603,"
             "\"failures\":30,\"window_seconds\":4,\"score\":1,\"affected_users\":395},"
             "\"id\":\"%s-%s\"}",
             fingerprint, firing ? "firing" : "resolved", country, starts_at, starts_at, ends,
             country, country, starts_at, country, fingerprint, firing ? "f" : "r");
    produce(w, fingerprint, msg);
    note(w, "produced %s %s (country=%s)", firing ? "firing" : "resolved", fingerprint, country);
}

/* Waits until the group's committed offsets reach every partition's end. */
static void wait_committed_to_end(world_t *w, int timeout_ms)
{
    char errstr[512];
    rd_kafka_conf_t *conf = base_conf();
    REQUIRE(rd_kafka_conf_set(conf, "group.id", w->group, errstr, sizeof errstr) == 0, "%s",
            errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    REQUIRE(rk != NULL, "rd_kafka_new: %s", errstr);
    int64_t deadline = fs_test_mono_ms() + timeout_ms;
    for (;;) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(PARTITIONS);
        int behind = 0;
        char why[256] = "";
        for (int p = 0; p < PARTITIONS; p++)
            rd_kafka_topic_partition_list_add(list, w->topic, p);
        rd_kafka_resp_err_t e = rd_kafka_committed(rk, list, 10000);
        for (int p = 0; !e && p < PARTITIONS; p++) {
            int64_t lo, hi;
            e = rd_kafka_query_watermark_offsets(rk, w->topic, p, &lo, &hi, 10000);
            if (!e && list->elems[p].offset != hi && hi > 0) {
                behind++;
                snprintf(why, sizeof why, "partition %d committed %lld, end %lld", p,
                         (long long)list->elems[p].offset, (long long)hi);
            }
        }
        rd_kafka_topic_partition_list_destroy(list);
        if (!e && !behind)
            break;
        REQUIRE(fs_test_mono_ms() < deadline, "offsets not committed to the end within %d ms: %s",
                timeout_ms, e ? rd_kafka_err2str(e) : why);
        fs_test_sleep_ms(100);
    }
    rd_kafka_destroy(rk);
}

/* ---- the world ---------------------------------------------------------------------- */

static void world_init(world_t *w, const char *name)
{
    char base[64], errstr[512];
    memset(w, 0, sizeof *w);
    w->name = name;
    w->t0 = fs_test_mono_ms();
    current = w;
    snprintf(w->dir, sizeof w->dir, "/tmp/fs-am-e2e-XXXXXX");
    REQUIRE(mkdtemp(w->dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(w->conf, sizeof w->conf, "%s/forwarder.conf", w->dir);
    snprintf(w->fwd_log, sizeof w->fwd_log, "%s/forwarder.log", w->dir);
    snprintf(w->am_log, sizeof w->am_log, "%s/alertmanager.log", w->dir);
    snprintf(base, sizeof base, "fs-am-e2e-%s", name);
    REQUIRE(fs_test_unique_name(w->id, sizeof w->id, base) == 0, "unique name");
    snprintf(w->topic, sizeof w->topic, "%s-alerts", w->id);
    snprintf(w->group, sizeof w->group, "%s-group", w->id);
    w->am_port = fs_test_free_port();
    REQUIRE(w->am_port > 0, "no free port");

    rd_kafka_conf_t *conf = base_conf();
    REQUIRE(rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) == 0, "%s",
            errstr);
    w->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    REQUIRE(w->producer != NULL, "producer: %s", errstr);
    create_topic(w);

    FILE *f = fopen(w->conf, "w");
    REQUIRE(f != NULL, "%s: %s", w->conf, strerror(errno));
    /* The detector's own keys are there too, as in a shared file: the
     * forwarder must ignore them, and its group must not be kafka.group.id. */
    fprintf(f,
            "# foreshock-alertmanager end-to-end test %s\n"
            "kafka.bootstrap.servers = %s\n"
            "kafka.group.id = %s-detector\n"
            "kafka.session.timeout.ms = 6000\n"
            "kafka.heartbeat.interval.ms = 500\n"
            "topics.alerts = %s\n"
            "store = memory\n"
            "alertmanager.url = http://127.0.0.1:%d/\n"
            "alertmanager.group_id = %s\n"
            "alertmanager.resend_interval = %s\n"
            "alertmanager.timeout = 2s\n"
            "log.status_interval = 2s\n",
            name, brokers, w->id, w->topic, w->am_port, w->group, RESEND);
    REQUIRE(fclose(f) == 0, "writing %s", w->conf);
    note(w, "topic %s (%d partitions), group %s", w->topic, PARTITIONS, w->group);
}

static void world_finish(world_t *w)
{
    REQUIRE(w->fwd == 0, "the test left the forwarder running");
    if (w->am > 0)
        am_kill(w);
    delete_topic(w);
    rd_kafka_destroy(w->producer);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        note(w, "could not remove %s", w->dir);
    note(w, "passed");
    current = NULL;
}

/* Starts the forwarder and waits until it owns every partition. */
static void fwd_start_assigned(world_t *w)
{
    fwd_start(w);
    wait_log(w, "event=partition_assigned", PARTITIONS, 60000);
    note(w, "forwarder life %d owns the %d partitions", w->fwd_lives, PARTITIONS);
}

/* ---- the tests ---------------------------------------------------------------------- */

START_TEST(fire_and_resolve)
{
    world_t w;
    char starts[64], ends[64], poison[1024];
    world_init(&w, "fire_and_resolve");
    am_start(&w);
    fwd_start_assigned(&w);

    /* A message Alertmanager refuses (a label name with a space), then a
     * good one on the same partition (same key): the good one must pass. */
    rfc3339_now(starts, -30000);
    snprintf(poison, sizeof poison,
             "{\"fingerprint\":\"aaaa000000000001\",\"status\":\"firing\","
             "\"alertname\":\"PlaybackFailureBurst\",\"severity\":\"warning\",\"slice\":{},"
             "\"startsAt\":\"%s\",\"detectedAt\":\"%s\",\"endsAt\":null,"
             "\"labels\":{\"alertname\":\"PlaybackFailureBurst\",\"bad label\":\"x\"},"
             "\"annotations\":{\"summary\":\"s\",\"description\":\"d\"},\"evidence\":{}}",
             starts, starts);
    produce(&w, "6a8779b8ced2c916", poison);
    produce_alert(&w, "6a8779b8ced2c916", 1, "BR", starts, NULL);

    json_t *a = wait_active(&w, "BR", ARRIVE_TIMEOUT_MS);
    note(&w, "the firing alert is active in Alertmanager");
    json_t *want_labels = json_pack("{s:s, s:s, s:s}", "alertname", "PlaybackFailureBurst",
                                    "severity", "warning", "country", "BR");
    REQUIRE(json_equal(json_object_get(a, "labels"), want_labels), "labels: %s",
            json_dumps(json_object_get(a, "labels"), JSON_COMPACT));
    json_decref(want_labels);
    const char *summary =
        json_string_value(json_object_get(json_object_get(a, "annotations"), "summary"));
    REQUIRE(summary && strcmp(summary, "Playback failures 7.8x expected in country=BR") == 0,
            "annotations: %s", json_dumps(json_object_get(a, "annotations"), JSON_COMPACT));
    REQUIRE(json_object_get(json_object_get(a, "annotations"), "description") != NULL,
            "no description");
    /* Alertmanager prints startsAt itself; the instant must be ours. */
    const char *got = json_string_value(json_object_get(a, "startsAt"));
    REQUIRE(got && strncmp(got, starts, 19) == 0, "startsAt %s, produced %s", got, starts);
    json_decref(a);
    wait_log(&w, "event=alert_rejected", 1, 5000);
    REQUIRE(log_count(&w, "invalid label set") >= 1,
            "the rejection was not logged with Alertmanager's answer");
    note(&w, "the poison message was logged with Alertmanager's answer and skipped");

    /* Well past resolve_timeout, the alert is still active: it is re-posted. */
    fs_test_sleep_ms((RESOLVE_TIMEOUT_S * 2 + 1) * 1000);
    a = wait_active(&w, "BR", 1);
    json_decref(a);
    note(&w, "still active after %d s (resolve_timeout %d s): re-posted", RESOLVE_TIMEOUT_S * 2 + 1,
         RESOLVE_TIMEOUT_S);

    /* Resolved: gone long before a timeout could have done it (the last
     * re-post was at most a second ago, so that would take 4 s or more). */
    rfc3339_now(ends, 0);
    produce_alert(&w, "6a8779b8ced2c916", 0, "BR", starts, ends);
    int64_t took = wait_gone(&w, "BR", 3500);
    note(&w, "resolved in Alertmanager %lld ms after the message", (long long)took);

    fwd_stop(&w);
    wait_committed_to_end(&w, 5000);
    note(&w, "every offset is committed");
    world_finish(&w);
}
END_TEST

START_TEST(kill_and_restart)
{
    world_t w;
    char starts[64], ends[64];
    world_init(&w, "kill_and_restart");
    am_start(&w);
    fwd_start_assigned(&w);

    rfc3339_now(starts, -60000);
    produce_alert(&w, "dddd000000000001", 1, "DE", starts, NULL);
    produce_alert(&w, "dddd000000000002", 1, "JP", starts, NULL);
    json_decref(wait_active(&w, "DE", ARRIVE_TIMEOUT_MS));
    json_decref(wait_active(&w, "JP", ARRIVE_TIMEOUT_MS));
    wait_committed_to_end(&w, 10000);
    note(&w, "DE and JP are active and committed");

    /* Alertmanager goes away; meanwhile FR fires and JP resolves. */
    am_kill(&w);
    produce_alert(&w, "dddd000000000003", 1, "FR", starts, NULL);
    rfc3339_now(ends, 0);
    produce_alert(&w, "dddd000000000002", 0, "JP", starts, ends);
    wait_log(&w, "event=alertmanager_unavailable", 1, 15000);
    fs_test_sleep_ms(1500);
    note(&w, "the forwarder is retrying; killing it mid-way");
    fwd_kill(&w);

    /* A fresh Alertmanager knows nothing: everything it gets comes from
     * the restarted forwarder. */
    am_start(&w);
    fwd_start(&w);
    int64_t deadline = fs_test_mono_ms() + 60000;
    int de = 0, fr = 0;
    while (!(de && fr)) {
        json_t *alerts = am_alerts(&w);
        json_t *jp = find_alert(alerts, "JP");
        de = is_active(find_alert(alerts, "DE"));
        fr = is_active(find_alert(alerts, "FR"));
        json_decref(alerts);
        REQUIRE(!jp, "JP was posted as firing after its resolved message");
        require_alive(&w.fwd, "the restarted forwarder");
        REQUIRE(fs_test_mono_ms() < deadline, "after the restart: DE active %d, FR active %d", de, fr);
        fs_test_sleep_ms(50);
    }
    note(&w, "after the restart: DE (rebuilt) and FR (uncommitted) active, JP not");
    REQUIRE(log_count(&w, "event=rebuild_done") >= 1, "no rebuild_done in the log");

    /* A few re-posts later, still the same picture. */
    fs_test_sleep_ms(3000);
    json_t *alerts = am_alerts(&w);
    REQUIRE(is_active(find_alert(alerts, "DE")) && is_active(find_alert(alerts, "FR")) &&
                !find_alert(alerts, "JP"),
            "after 3 s: %s", json_dumps(alerts, JSON_COMPACT));
    json_decref(alerts);

    fwd_stop(&w);
    wait_committed_to_end(&w, 5000);
    note(&w, "every offset is committed");
    world_finish(&w);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alertmanager_e2e");
    TCase *tc = tcase_create("fire_and_resolve");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, fire_and_resolve);
    suite_add_tcase(s, tc);
    tc = tcase_create("kill_and_restart");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, kill_and_restart);
    suite_add_tcase(s, tc);
    return s;
}

/* prometheus-alertmanager from FORESHOCK_TEST_ALERTMANAGER or PATH; skips
 * (or fails under CI=true) without it. */
static const char *find_alertmanager(void)
{
    static char path[4096];
    const char *env = getenv("FORESHOCK_TEST_ALERTMANAGER");
    const char *ci = getenv("CI");
    if (env && env[0])
        return env;
    const char *dirs = getenv("PATH");
    if (!dirs || !dirs[0])
        dirs = "/usr/bin:/bin";
    while (*dirs) {
        size_t n = strcspn(dirs, ":");
        snprintf(path, sizeof path, "%.*s/prometheus-alertmanager", (int)n, dirs);
        if (access(path, X_OK) == 0)
            return path;
        dirs += n + (dirs[n] == ':');
    }
    if (ci && strcmp(ci, "true") == 0) {
        fprintf(stderr, "CI=true and prometheus-alertmanager is not installed "
                        "(tests/stack/deps.sh installs it)\n");
        exit(1);
    }
    printf("skipped: prometheus-alertmanager not found (tests/stack/deps.sh installs it)\n");
    exit(FS_TEST_SKIP);
}

int main(void)
{
    brokers = fs_test_service("FORESHOCK_TEST_KAFKA");
    am_bin = find_alertmanager();
    fs_test_on_failure(fail_cleanup);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
