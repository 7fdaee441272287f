/*
 * consumer.c: the Kafka consumer of the input topics (see consumer.h).
 *
 * It also keeps the figures of librdkafka's statistics reports that the
 * metrics endpoint shows (per-partition lag, watermark, committed offset)
 * and that readiness needs (whether any broker connection is up). The
 * reports arrive as JSON on the consumer queue, so they are parsed (with
 * jansson) on the daemon's thread, inside fs_consumer_poll.
 */
#include "detector/consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "detector/kafka_conf.h"
#include "detector/log.h"

#define MAX_BATCH 4096
#define MAX_HELD_PARTITIONS 1024
/* Held messages of one partition, or of all, before a partition's fetching
 * is paused. Pausing drops what librdkafka has prefetched for the partition
 * and resuming fetches it again, so a partition that waits briefly is not
 * paused (measured on a 3.9 M event backlog: 13.3 s with 20,000, 10.3 s
 * with 100,000, for 130 MB more at the peak). */
#define HOLD_PAUSE_AT 100000
#define HOLD_TOTAL_MAX 200000
#define STATS_INTERVAL_MS "1000"

/* Messages of one partition that could not be taken yet, in offset order. */
typedef struct held {
    char *topic;
    int32_t partition;
    rd_kafka_message_t **msgs;
    size_t n, cap, first;
    int eof;    /* the end of the partition came after the last held message */
    int paused; /* fetching paused: HOLD_PAUSE_AT messages are held */
} held_t;

struct fs_consumer {
    const fs_config_t *cfg;
    fs_consumer_handler_t handler;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    rd_kafka_topic_partition_list_t *assignment; /* NULL when nothing is assigned */
    int paused;
    rd_kafka_message_t *batch[MAX_BATCH];
    held_t held[MAX_HELD_PARTITIONS];
    size_t n_held;
    size_t held_total; /* messages held over all partitions */
    rd_kafka_topic_partition_list_t *to_commit;
    /* From the last statistics report. */
    fs_consumer_partition_t *stats;
    size_t n_stats, cap_stats;
    int brokers_up; /* -1 before the first report */
    uint64_t reports;
    rd_kafka_topic_t *kind_rkt; /* kind_of_rkt's last topic and its kind */
    fs_event_kind_t kind;
};

static fs_event_kind_t kind_of(const fs_consumer_t *c, const char *topic)
{
    return strcmp(topic, c->cfg->topics_errors) == 0 ? FS_EVENT_ERROR : FS_EVENT_PLAYBACK;
}

/* The configuration's name of a topic: the handler sees the same two
 * pointers for the whole run, so it can compare them by pointer. */
static const char *cfg_topic(const fs_consumer_t *c, fs_event_kind_t kind)
{
    return kind == FS_EVENT_ERROR ? c->cfg->topics_errors : c->cfg->topics_playback;
}

/* The kind of a message's topic, remembered for the topic object of the
 * last call (messages come in runs of one topic; the consumer keeps its
 * topic objects while it is subscribed). */
static fs_event_kind_t kind_of_rkt(fs_consumer_t *c, rd_kafka_topic_t *rkt)
{
    if (rkt != c->kind_rkt) {
        c->kind_rkt = rkt;
        c->kind = kind_of(c, rd_kafka_topic_name(rkt));
    }
    return c->kind;
}

/* Asks the handler where each partition of list starts. */
static void fill_offsets(fs_consumer_t *c, rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        int64_t next = c->handler.assigned(c->handler.opaque, tp->topic, tp->partition,
                                           kind_of(c, tp->topic));
        tp->offset = next < 0 ? RD_KAFKA_OFFSET_BEGINNING : next;
    }
}

static void clear_held(fs_consumer_t *c)
{
    for (size_t i = 0; i < c->n_held; i++) {
        held_t *h = &c->held[i];
        for (size_t j = h->first; j < h->n; j++)
            rd_kafka_message_destroy(h->msgs[j]);
        free(h->msgs);
        free(h->topic);
    }
    c->n_held = 0;
    c->held_total = 0;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    fs_consumer_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        fill_offsets(c, partitions);
        if (c->assignment)
            rd_kafka_topic_partition_list_destroy(c->assignment);
        c->assignment = rd_kafka_topic_partition_list_copy(partitions);
        rd_kafka_assign(rk, partitions);
        c->paused = 0;
        fs_log(FS_LOG_INFO, "partitions_assigned", "count=%d", partitions->cnt);
    } else {
        /* Held messages were never applied: the next owner reads them. */
        clear_held(c);
        c->handler.revoking(c->handler.opaque);
        rd_kafka_assign(rk, NULL);
        if (c->assignment)
            rd_kafka_topic_partition_list_destroy(c->assignment);
        c->assignment = NULL;
        c->n_stats = 0;
        fs_log(FS_LOG_INFO, "partitions_revoked", "count=%d", partitions->cnt);
    }
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    char q[1024];
    (void)rk;
    fs_log(level <= 3 ? FS_LOG_ERROR : level <= 4 ? FS_LOG_WARN : FS_LOG_DEBUG, "librdkafka",
           "facility=%s message=%s", facility, fs_log_quote(buf, q, sizeof q));
}

static int is_assigned(const fs_consumer_t *c, const char *topic, int32_t partition)
{
    for (int i = 0; c->assignment && i < c->assignment->cnt; i++)
        if (c->assignment->elems[i].partition == partition &&
            strcmp(c->assignment->elems[i].topic, topic) == 0)
            return 1;
    return 0;
}

/* An offset field of a statistics object; librdkafka writes -1001
 * (RD_KAFKA_OFFSET_INVALID) for unknown offsets. */
static int64_t offset_of(const json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    int64_t n = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
    return n < 0 ? -1 : n;
}

/* Keeps the assigned partitions of one input topic from a report. */
static void stats_topic(fs_consumer_t *c, json_t *topics, const char *topic)
{
    json_t *partitions = json_object_get(json_object_get(topics, topic), "partitions");
    const char *key;
    json_t *p;
    json_object_foreach(partitions, key, p)
    {
        json_t *id = json_object_get(p, "partition");
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > INT32_MAX ||
            !is_assigned(c, topic, (int32_t)json_integer_value(id)))
            continue;
        if (c->n_stats == c->cap_stats) {
            size_t cap = c->cap_stats ? 2 * c->cap_stats : 16;
            fs_consumer_partition_t *grown = realloc(c->stats, cap * sizeof *grown);
            if (!grown)
                return;
            c->stats = grown;
            c->cap_stats = cap;
        }
        fs_consumer_partition_t *out = &c->stats[c->n_stats++];
        out->topic = topic;
        out->partition = (int32_t)json_integer_value(id);
        out->lag = offset_of(p, "consumer_lag");
        out->high_watermark = offset_of(p, "hi_offset");
        out->committed = offset_of(p, "committed_offset");
        out->position = offset_of(p, "app_offset");
    }
}

/* librdkafka's statistics report (STATISTICS.md): brokers and partitions. */
static int on_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    fs_consumer_t *c = opaque;
    json_t *root = json_loadb(json, json_len, 0, NULL);
    const char *name;
    json_t *b;
    int up = 0;
    (void)rk;
    if (!root) {
        fs_log(FS_LOG_DEBUG, "stats_unreadable", NULL);
        return 0; /* librdkafka frees json */
    }
    json_object_foreach(json_object_get(root, "brokers"), name, b)
    {
        /* The internal broker stands for no connection. */
        const char *state = json_string_value(json_object_get(b, "state"));
        const char *source = json_string_value(json_object_get(b, "source"));
        if (state && strcmp(state, "UP") == 0 && !(source && strcmp(source, "internal") == 0))
            up++;
    }
    c->n_stats = 0;
    json_t *topics = json_object_get(root, "topics");
    stats_topic(c, topics, c->cfg->topics_playback);
    stats_topic(c, topics, c->cfg->topics_errors);
    c->brokers_up = up;
    c->reports++;
    json_decref(root);
    return 0;
}

static int has_property(const fs_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (strcmp(cfg->kafka[i].name, name) == 0)
            return 1;
    return 0;
}

void fs_consumer_free(fs_consumer_t *c)
{
    if (!c)
        return;
    clear_held(c);
    if (c->to_commit)
        rd_kafka_topic_partition_list_destroy(c->to_commit);
    if (c->queue)
        rd_kafka_queue_destroy(c->queue);
    if (c->rk) {
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    if (c->assignment)
        rd_kafka_topic_partition_list_destroy(c->assignment);
    free(c->stats);
    free(c);
}

fs_consumer_t *fs_consumer_new(const fs_config_t *cfg, const fs_consumer_handler_t *handler,
                               char *err, size_t err_size)
{
    fs_consumer_t *c = calloc(1, sizeof *c);
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    fs_config_diag_t diag = {0};
    if (!c) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->handler = *handler;
    c->brokers_up = -1;
    conf = fs_kafka_conf_new(cfg, &diag);
    if (!conf) {
        snprintf(err, err_size, "%s", diag.n ? diag.messages[0] : "kafka configuration");
        goto fail;
    }
    /* The store owns the offsets: Kafka's are never used to resume. */
    if (rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, err_size) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, err_size) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, err_size))
        goto fail;
    /* librdkafka 2.0 stops fetching a partition for up to a second once
     * queued.min.messages are waiting, which starves a consumer that is
     * catching up; the byte bound (queued.max.messages.kbytes) still caps
     * memory. Measured: ~120k -> ~300k events/s on a backlog. */
    if (!has_property(cfg, "queued.min.messages") &&
        rd_kafka_conf_set(conf, "queued.min.messages", "1000000", err, err_size))
        goto fail;
    /* Statistics feed the metrics endpoint and readiness; a configured
     * interval wins (0 turns them off). */
    if (cfg->metrics_enabled && !has_property(cfg, "statistics.interval.ms") &&
        rd_kafka_conf_set(conf, "statistics.interval.ms", STATS_INTERVAL_MS, err, err_size))
        goto fail;
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, err_size);
    if (!c->rk)
        goto fail;
    conf = NULL;
    rd_kafka_poll_set_consumer(c->rk);
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, cfg->topics_playback, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, cfg->topics_errors, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, err_size, "subscribe: %s", rd_kafka_err2str(e));
        goto fail;
    }
    fs_config_diag_clear(&diag);
    return c;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    fs_config_diag_clear(&diag);
    fs_consumer_free(c);
    return NULL;
}

static held_t *find_held(fs_consumer_t *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < c->n_held; i++)
        if (c->held[i].partition == partition && strcmp(c->held[i].topic, topic) == 0)
            return &c->held[i];
    return NULL;
}

static void set_paused(fs_consumer_t *c, const char *topic, int32_t partition, int pause)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition);
    if (pause)
        rd_kafka_pause_partitions(c->rk, list);
    else if (!c->paused)
        rd_kafka_resume_partitions(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
}

/* Keeps m (taken over) behind the partition's held messages. Returns -1 when
 * it cannot, and the caller must destroy m. */
static int hold(fs_consumer_t *c, rd_kafka_message_t *m, const char *topic)
{
    held_t *h = find_held(c, topic, m->partition);
    if (!h) {
        if (c->n_held == MAX_HELD_PARTITIONS)
            return -1;
        h = &c->held[c->n_held];
        memset(h, 0, sizeof *h);
        if (!(h->topic = strdup(topic)))
            return -1;
        h->partition = m->partition;
        c->n_held++;
    }
    if (!h->paused && (h->n - h->first >= HOLD_PAUSE_AT || c->held_total >= HOLD_TOTAL_MAX)) {
        set_paused(c, topic, m->partition, 1);
        h->paused = 1;
    }
    if (h->n == h->cap && h->first > 0) {
        /* Reuse the room of the messages already taken. */
        memmove(h->msgs, h->msgs + h->first, (h->n - h->first) * sizeof *h->msgs);
        h->n -= h->first;
        h->first = 0;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        rd_kafka_message_t **grown = realloc(h->msgs, cap * sizeof *grown);
        if (!grown)
            return -1;
        h->msgs = grown;
        h->cap = cap;
    }
    h->msgs[h->n++] = m;
    h->eof = 0;
    c->held_total++;
    return 0;
}

/* Offers held messages again; releases partitions that drained. */
static int offer_held(fs_consumer_t *c)
{
    int delivered = 0;
    for (size_t i = 0; i < c->n_held;) {
        held_t *h = &c->held[i];
        while (h->first < h->n) {
            rd_kafka_message_t *m = h->msgs[h->first];
            fs_event_kind_t kind = kind_of(c, h->topic);
            if (c->handler.message(c->handler.opaque, cfg_topic(c, kind), m->partition, kind,
                                   m->offset, m->payload ? m->payload : "", m->len) != 0)
                break;
            rd_kafka_message_destroy(m);
            h->first++;
            c->held_total--;
            delivered++;
        }
        if (h->first < h->n) {
            i++;
            continue;
        }
        /* The end was reached behind the held messages: say so now that
         * the pipeline has them all, or the partition would look as if it
         * could still bring older events. */
        if (h->eof)
            c->handler.at_end(c->handler.opaque, cfg_topic(c, kind_of(c, h->topic)),
                              h->partition);
        if (h->paused)
            set_paused(c, h->topic, h->partition, 0);
        free(h->msgs);
        free(h->topic);
        c->held[i] = c->held[--c->n_held];
    }
    return delivered;
}

int fs_consumer_poll(fs_consumer_t *c, int timeout_ms, int max)
{
    if (max > MAX_BATCH)
        max = MAX_BATCH;
    int delivered = offer_held(c);
    /* rd_kafka_consume_batch_queue waits until the batch is full or the
     * timeout has passed, so asking it for a full batch with a timeout
     * leaves a consumer that is catching up idle while its queue fills
     * (measured: two thirds of the time). Take what is there; only when
     * nothing is, wait for the first message and take the rest with it. */
    ssize_t n = rd_kafka_consume_batch_queue(c->queue, 0, c->batch, (size_t)max);
    if (n == 0 && !delivered && timeout_ms > 0) {
        rd_kafka_message_t *first = rd_kafka_consume_queue(c->queue, timeout_ms);
        if (first) {
            c->batch[0] = first;
            n = rd_kafka_consume_batch_queue(c->queue, 0, c->batch + 1, (size_t)max - 1);
            n = n < 0 ? 1 : n + 1;
        }
    }
    for (ssize_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = c->batch[i];
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                const char *topic = rd_kafka_topic_name(m->rkt);
                held_t *h = find_held(c, topic, m->partition);
                if (h)
                    h->eof = 1;
                else
                    c->handler.at_end(c->handler.opaque, cfg_topic(c, kind_of_rkt(c, m->rkt)),
                                      m->partition);
            } else {
                char q[512];
                fs_log(FS_LOG_WARN, "consume_error", "reason=%s",
                       fs_log_quote(rd_kafka_message_errstr(m), q, sizeof q));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        const char *topic = rd_kafka_topic_name(m->rkt);
        fs_event_kind_t kind = kind_of_rkt(c, m->rkt);
        /* Behind a held message of its partition, a message waits too. */
        if ((c->n_held && find_held(c, topic, m->partition)) ||
            c->handler.message(c->handler.opaque, cfg_topic(c, kind), m->partition, kind,
                               m->offset, m->payload ? m->payload : "", m->len) != 0) {
            if (hold(c, m, topic) == 0)
                continue;
            /* Cannot hold it: fetch it again later rather than lose it. */
            fs_log(FS_LOG_WARN, "hold_failed", "topic=%s partition=%d offset=%lld", topic,
                   (int)m->partition, (long long)m->offset);
            rd_kafka_seek(m->rkt, m->partition, m->offset, 1000);
        } else {
            delivered++;
        }
        rd_kafka_message_destroy(m);
    }
    return delivered;
}

void fs_consumer_pause(fs_consumer_t *c)
{
    if (c->paused || !c->assignment)
        return;
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(c->rk, &list) == 0) {
        rd_kafka_pause_partitions(c->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
    }
    c->paused = 1;
}

void fs_consumer_resume(fs_consumer_t *c)
{
    if (!c->paused)
        return;
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(c->rk, &list) == 0) {
        rd_kafka_resume_partitions(c->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
    }
    c->paused = 0;
}

void fs_consumer_reseek(fs_consumer_t *c)
{
    if (!c->assignment)
        return;
    fill_offsets(c, c->assignment);
    rd_kafka_assign(c->rk, c->assignment);
    c->paused = 0;
}

void fs_consumer_commit_add(fs_consumer_t *c, const char *topic, int32_t partition, int64_t next)
{
    if (!c->to_commit)
        c->to_commit = rd_kafka_topic_partition_list_new(16);
    rd_kafka_topic_partition_list_add(c->to_commit, topic, partition)->offset = next;
}

void fs_consumer_commit_send(fs_consumer_t *c)
{
    if (!c->to_commit)
        return;
    if (c->to_commit->cnt > 0 && c->assignment)
        rd_kafka_commit(c->rk, c->to_commit, 1);
    rd_kafka_topic_partition_list_destroy(c->to_commit);
    c->to_commit = NULL;
}

void fs_consumer_commit_clear(fs_consumer_t *c)
{
    if (c->to_commit)
        rd_kafka_topic_partition_list_destroy(c->to_commit);
    c->to_commit = NULL;
}

int64_t fs_consumer_lag(fs_consumer_t *c)
{
    if (!c->assignment)
        return -1;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_copy(c->assignment);
    int64_t lag = 0;
    if (rd_kafka_position(c->rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        return -1;
    }
    for (int i = 0; i < list->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        if (rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi) ||
            hi < 0) {
            lag = -1;
            break;
        }
        int64_t pos = tp->offset >= 0 ? tp->offset : lo;
        if (hi > pos)
            lag += hi - pos;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return lag;
}

int fs_consumer_assigned(const fs_consumer_t *c)
{
    return c->assignment ? c->assignment->cnt : 0;
}

uint64_t fs_consumer_stats_reports(const fs_consumer_t *c)
{
    return c ? c->reports : 0;
}

void fs_consumer_partitions(const fs_consumer_t *c,
                            void (*cb)(void *opaque, const fs_consumer_partition_t *p),
                            void *opaque)
{
    for (size_t i = 0; c && i < c->n_stats; i++)
        cb(opaque, &c->stats[i]);
}

int fs_consumer_brokers_up(const fs_consumer_t *c)
{
    return c ? c->brokers_up : -1;
}

const char *fs_consumer_librdkafka_version(void)
{
    return rd_kafka_version_str();
}
