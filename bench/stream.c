/*
 * stream.c: `foreshock-bench stream -b BOOTSTRAP --playback P --errors E
 * [--speed X] [--truth T] [--grace SECONDS] [-X kafka.property=value]...`.
 *
 * Replays the two files to the input topics in event-time order, paced so
 * that X seconds of event time pass per wall second (0: as fast as
 * possible), and at the same time reads the alerts topic and prints one line
 * per alert as it fires or resolves, with a progress line on stderr. After
 * the workload, it keeps watching for --grace seconds, then prints a
 * summary; with --truth, each incident's detection delay.
 */
#include "bench/stream.h"

#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "detector/decode.h"
#include "detector/timestamp.h"

typedef struct source {
    FILE *f;
    fs_event_kind_t kind;
    const char *topic;
    char *line;
    size_t cap;
    ssize_t len;
    int64_t ts;
    int done;
} source_t;

typedef struct stats {
    uint64_t sent, firing, resolved, open;
} stats_t;

static volatile int interrupted;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the next line with a parseable ts (others are sent as they are, at
 * the time of the previous event: they are the detector's dead letters). */
static void advance(source_t *s, fs_decoder_t *dec)
{
    s->len = getline(&s->line, &s->cap, s->f);
    if (s->len < 0) {
        s->done = 1;
        return;
    }
    if (s->len > 0 && s->line[s->len - 1] == '\n')
        s->line[--s->len] = '\0';
    fs_event_t ev;
    const char *reason;
    if (fs_decoder_decode(dec, s->kind, s->line, (size_t)s->len, &ev, &reason) == 0)
        s->ts = ev.ts_ms;
}

static void hhmmss(const char *rfc3339, char out[9])
{
    snprintf(out, 9, "%.8s", rfc3339 && strlen(rfc3339) >= 19 ? rfc3339 + 11 : "--:--:--");
}

/* "country=BR, platform=android" or "all traffic". */
static void slice_text(json_t *slice, char *out, size_t size)
{
    const char *key;
    json_t *value;
    size_t n = 0;
    out[0] = '\0';
    json_object_foreach(slice, key, value)
    {
        n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s=%s", n ? ", " : "", key,
                              json_string_value(value) ? json_string_value(value) : "?");
    }
    if (n == 0)
        snprintf(out, size, "all traffic");
}

static FILE *alerts_out; /* --alerts: every alert message, one per line */

static void show_alert(const rd_kafka_message_t *m, stats_t *st, json_t *seen, json_t *firsts)
{
    json_error_t jerr;
    json_t *a = json_loadb(m->payload, m->len, 0, &jerr);
    if (!a)
        return;
    const char *status = json_string_value(json_object_get(a, "status"));
    const char *name = json_string_value(json_object_get(a, "alertname"));
    const char *id = json_string_value(json_object_get(a, "id"));
    if (!status || !name)
        goto done;
    /* The same message twice (a redelivery) is shown once. */
    if (id && json_object_get(seen, id))
        goto done;
    if (id)
        json_object_set_new(seen, id, json_true());
    if (alerts_out) {
        fprintf(alerts_out, "%.*s\n", (int)m->len, (const char *)m->payload);
        fflush(alerts_out);
    }
    char where[256], started[9], detected[9], ended[9];
    slice_text(json_object_get(a, "slice"), where, sizeof where);
    hhmmss(json_string_value(json_object_get(a, "startsAt")), started);
    hhmmss(json_string_value(json_object_get(a, "detectedAt")), detected);
    hhmmss(json_string_value(json_object_get(a, "endsAt")), ended);
    json_t *ev = json_object_get(a, "evidence");
    json_t *users = json_object_get(ev, "affected_users");
    const char *summary =
        json_string_value(json_object_get(json_object_get(a, "annotations"), "summary"));
    fprintf(stderr, "\r\033[K");
    if (strcmp(status, "firing") == 0) {
        /* The first detection per slice, for the incident summary. */
        const char *at = json_string_value(json_object_get(a, "detectedAt"));
        int64_t at_ms;
        if (at && !json_object_get(firsts, where) &&
            fs_timestamp_parse(at, strlen(at), &at_ms) == 0)
            json_object_set_new(firsts, where, json_integer(at_ms));
        st->firing++;
        st->open++;
        printf("%s  FIRING    %-20s %-36s since %s  %s", detected, name, where, started,
               summary ? summary : "");
        if (json_is_integer(users))
            printf(", ~%" JSON_INTEGER_FORMAT " users", json_integer_value(users));
        printf("\n");
    } else {
        st->resolved++;
        if (st->open)
            st->open--;
        printf("%s  RESOLVED  %-20s %-36s was firing since %s\n", ended, name, where, started);
    }
    fflush(stdout);
done:
    json_decref(a);
}

static rd_kafka_t *new_client(rd_kafka_type_t type, const char *bootstrap, char **props,
                              size_t n_props, const char *group, char *err, size_t err_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, err_size) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, err_size))
        goto fail;
    if (type == RD_KAFKA_CONSUMER &&
        (rd_kafka_conf_set(conf, "group.id", group, err, err_size) ||
         rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, err_size) ||
         rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, err_size)))
        goto fail;
    if (type == RD_KAFKA_PRODUCER &&
        (rd_kafka_conf_set(conf, "linger.ms", "20", err, err_size) ||
         rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, err_size)))
        goto fail;
    for (size_t i = 0; i < n_props; i++) {
        char *eq = strchr(props[i], '=');
        *eq = '\0';
        int bad = rd_kafka_conf_set(conf, props[i], eq + 1, err, err_size) != RD_KAFKA_CONF_OK;
        *eq = '=';
        if (bad)
            goto fail;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, err_size);
    if (rk)
        return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench stream -b BOOTSTRAP --playback P --errors E [--speed X]\n"
          "         [--truth T] [--grace SECONDS] [--topics PLAYBACK,ERRORS,ALERTS]\n"
          "         [--alerts OUT.ndjson]\n"
          "         [-X kafka.property=value]...\n",
          out);
}

/* Prints each incident of the truth file with the first firing alert after it. */
static void print_truth(const char *path, json_t *firsts)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    if (!f)
        return;
    printf("\nincidents:\n");
    while (getline(&line, &cap, f) > 0) {
        json_t *t = json_loads(line, 0, NULL);
        const char *spec = json_string_value(json_object_get(t, "incident"));
        const char *start = json_string_value(json_object_get(t, "start"));
        int64_t start_ms, best = INT64_MAX;
        const char *best_slice = NULL;
        /* Decoys are not incidents: they must not page (score reports them). */
        if (spec && start && !json_is_true(json_object_get(t, "decoy")) &&
            fs_timestamp_parse(start, strlen(start), &start_ms) == 0) {
            const char *slice;
            json_t *detected;
            json_object_foreach(firsts, slice, detected)
            {
                int64_t at = json_integer_value(detected);
                if (at >= start_ms && at - start_ms < best) {
                    best = at - start_ms;
                    best_slice = slice;
                }
            }
            if (best_slice)
                printf("  %-48s detected %.0f s after onset (first alert: %s)\n", spec,
                       (double)best / 1000.0, best_slice);
            else
                printf("  %-48s NOT detected\n", spec);
        }
        json_decref(t);
    }
    free(line);
    fclose(f);
}

int fs_bench_stream_main(int argc, char **argv)
{
    enum { OPT_PLAYBACK = 256, OPT_ERRORS, OPT_SPEED, OPT_TRUTH, OPT_GRACE, OPT_TOPICS,
           OPT_ALERTS };
    static const struct option options[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"playback", required_argument, NULL, OPT_PLAYBACK},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"speed", required_argument, NULL, OPT_SPEED},
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"topics", required_argument, NULL, OPT_TOPICS},
        {"alerts", required_argument, NULL, OPT_ALERTS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *bootstrap = NULL, *truth = NULL, *paths[2] = {NULL, NULL};
    char topic_buf[512] = "playback-events,error-events,foreshock-alerts";
    char *props[64];
    size_t n_props = 0;
    double speed = 60, grace_s = 20;
    int status = 1;
    source_t src[2];
    rd_kafka_t *producer = NULL, *consumer = NULL;
    fs_decoder_t *dec = NULL;
    json_t *seen = json_object(), *firsts = json_object();
    stats_t st = {0};
    char err[512];

    memset(src, 0, sizeof src);
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "b:X:h", options, NULL)) != -1) {
        switch (opt) {
        case 'b':
            bootstrap = optarg;
            break;
        case 'X':
            if (n_props == 64 || strncmp(optarg, "kafka.", 6) != 0 || !strchr(optarg, '=')) {
                fprintf(stderr, "stream: -X takes kafka.property=value\n");
                return 2;
            }
            props[n_props++] = optarg + 6;
            break;
        case OPT_PLAYBACK:
            paths[0] = optarg;
            break;
        case OPT_ERRORS:
            paths[1] = optarg;
            break;
        case OPT_SPEED:
            speed = atof(optarg);
            break;
        case OPT_TRUTH:
            truth = optarg;
            break;
        case OPT_GRACE:
            grace_s = atof(optarg);
            break;
        case OPT_TOPICS:
            snprintf(topic_buf, sizeof topic_buf, "%s", optarg);
            break;
        case OPT_ALERTS:
            if (!(alerts_out = fopen(optarg, "w"))) {
                perror(optarg);
                return 1;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    char *save = NULL;
    char *t_play = strtok_r(topic_buf, ",", &save), *t_err = strtok_r(NULL, ",", &save),
         *t_alerts = strtok_r(NULL, ",", &save);
    if (!bootstrap || !paths[0] || !paths[1] || speed < 0 || !t_alerts || optind != argc) {
        usage(stderr);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    dec = fs_decoder_new(NULL, 0, err, sizeof err);
    char group[64];
    snprintf(group, sizeof group, "foreshock-bench-stream-%d", (int)getpid());
    producer = new_client(RD_KAFKA_PRODUCER, bootstrap, props, n_props, NULL, err, sizeof err);
    consumer = producer ? new_client(RD_KAFKA_CONSUMER, bootstrap, props, n_props, group, err,
                                     sizeof err)
                        : NULL;
    if (!dec || !producer || !consumer) {
        fprintf(stderr, "stream: %s\n", err);
        goto done;
    }
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, t_alerts, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);

    const char *topics[2] = {t_play, t_err};
    for (int i = 0; i < 2; i++) {
        src[i].kind = i ? FS_EVENT_ERROR : FS_EVENT_PLAYBACK;
        src[i].topic = topics[i];
        src[i].ts = INT64_MIN;
        if (!(src[i].f = fopen(paths[i], "r"))) {
            perror(paths[i]);
            goto done;
        }
        advance(&src[i], dec);
    }

    int64_t first_ts = INT64_MIN, wall0 = mono_ms(), last_progress = 0, now_ts = 0;
    while (!interrupted && (!src[0].done || !src[1].done)) {
        source_t *s = src[1].done || (!src[0].done && src[0].ts <= src[1].ts) ? &src[0] : &src[1];
        if (first_ts == INT64_MIN && s->ts != INT64_MIN)
            first_ts = s->ts;
        if (s->ts > now_ts)
            now_ts = s->ts;
        if (speed > 0 && first_ts != INT64_MIN) {
            int64_t due = wall0 + (int64_t)((double)(now_ts - first_ts) / speed);
            while (!interrupted && mono_ms() < due) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, (int)(due - mono_ms()));
                if (m) {
                    if (!m->err)
                        show_alert(m, &st, seen, firsts);
                    rd_kafka_message_destroy(m);
                }
            }
        }
        while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(s->topic),
                                 RD_KAFKA_V_VALUE(s->line, (size_t)s->len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 10);
        st.sent++;
        rd_kafka_poll(producer, 0);
        advance(s, dec);
        if ((st.sent & 1023) == 0) {
            rd_kafka_message_t *m;
            while ((m = rd_kafka_consumer_poll(consumer, 0))) {
                if (!m->err)
                    show_alert(m, &st, seen, firsts);
                rd_kafka_message_destroy(m);
            }
            if (mono_ms() - last_progress >= 200) {
                char when[32];
                fs_timestamp_format(now_ts, when);
                fprintf(stderr, "\r\033[Kevent time %.8s  %" PRIu64 " events sent  %gx  %" PRIu64
                        " alerts open",
                        when + 11, st.sent, speed, st.open);
                last_progress = mono_ms();
            }
        }
    }
    rd_kafka_flush(producer, 10000);
    fprintf(stderr, "\r\033[Kall %" PRIu64 " events sent; watching alerts for %.0f s more\n",
            st.sent, grace_s);
    int64_t until = mono_ms() + (int64_t)(grace_s * 1000);
    while (!interrupted && mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
        if (!m)
            continue;
        if (!m->err)
            show_alert(m, &st, seen, firsts);
        rd_kafka_message_destroy(m);
    }
    printf("\n%" PRIu64 " events sent, %" PRIu64 " alerts fired, %" PRIu64 " resolved, %" PRIu64
           " still open\n",
           st.sent, st.firing, st.resolved, st.open);
    if (truth)
        print_truth(truth, firsts);
    status = interrupted ? 130 : 0;
done:
    for (int i = 0; i < 2; i++) {
        if (src[i].f)
            fclose(src[i].f);
        free(src[i].line);
    }
    if (consumer) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    if (producer)
        rd_kafka_destroy(producer);
    fs_decoder_free(dec);
    if (alerts_out)
        fclose(alerts_out);
    alerts_out = NULL;
    json_decref(seen);
    json_decref(firsts);
    return status;
}
