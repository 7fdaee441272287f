/*
 * publisher.c: the Kafka producer for alerts and dead letters (see
 * publisher.h).
 */
#define _GNU_SOURCE /* memmem */
#include "detector/publisher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "detector/kafka_conf.h"
#include "detector/log.h"

struct fs_publisher {
    const fs_config_t *cfg;
    rd_kafka_t *rk;
    rd_kafka_topic_t *alerts;
    fs_publisher_delivered_cb delivered;
    void *opaque;
};

/* What an alert message carries to its delivery report. */
typedef struct pending_alert {
    char *id;
    char *fingerprint;
} pending_alert_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    fs_publisher_t *pub = opaque;
    pending_alert_t *pa = msg->_private;
    (void)rk;
    if (!pa) {
        if (msg->err) {
            char q[512];
            fs_log(FS_LOG_WARN, "deadletter_failed", "reason=%s",
                   fs_log_quote(rd_kafka_err2str(msg->err), q, sizeof q));
        }
        return;
    }
    if (msg->err) {
        /* An alert must not be lost: produce it again. The message id lets
         * consumers drop the rare duplicate an ambiguous failure can cause. */
        char q[512];
        fs_log(FS_LOG_WARN, "alert_delivery_failed", "id=%s reason=%s", pa->id,
               fs_log_quote(rd_kafka_err2str(msg->err), q, sizeof q));
        if (rd_kafka_produce(pub->alerts, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                             msg->payload, msg->len, pa->fingerprint, strlen(pa->fingerprint),
                             pa) == 0)
            return;
        fs_log(FS_LOG_ERROR, "alert_requeue_failed", "id=%s", pa->id);
    } else {
        pub->delivered(pub->opaque, pa->id);
    }
    free(pa->id);
    free(pa->fingerprint);
    free(pa);
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    char q[1024];
    (void)rk;
    fs_log(level <= 3 ? FS_LOG_ERROR : level <= 4 ? FS_LOG_WARN : FS_LOG_DEBUG, "librdkafka",
           "facility=%s message=%s", facility, fs_log_quote(buf, q, sizeof q));
}

void fs_publisher_free(fs_publisher_t *pub, int timeout_ms)
{
    if (!pub)
        return;
    if (pub->rk) {
        rd_kafka_flush(pub->rk, timeout_ms);
        /* Undelivered alerts stay in the store's outbox; only free memory. */
        rd_kafka_purge(pub->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(pub->rk, 0);
    }
    if (pub->alerts)
        rd_kafka_topic_destroy(pub->alerts);
    if (pub->rk)
        rd_kafka_destroy(pub->rk);
    free(pub);
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
               size_t err_size)
{
    if (rd_kafka_conf_set(conf, name, value, err, err_size) != RD_KAFKA_CONF_OK)
        return -1;
    return 0;
}

fs_publisher_t *fs_publisher_new(const fs_config_t *cfg, fs_publisher_delivered_cb delivered,
                                 void *opaque, char *err, size_t err_size)
{
    fs_publisher_t *pub = calloc(1, sizeof *pub);
    rd_kafka_conf_t *conf = NULL;
    fs_config_diag_t diag = {0};
    if (!pub) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pub->cfg = cfg;
    pub->delivered = delivered;
    pub->opaque = opaque;
    conf = fs_kafka_conf_new(cfg, &diag);
    if (!conf) {
        snprintf(err, err_size, "%s", diag.n ? diag.messages[0] : "kafka configuration");
        goto fail;
    }
    /* Idempotence keeps retries from duplicating or reordering messages. */
    if (set(conf, "enable.idempotence", "true", err, err_size) ||
        set(conf, "linger.ms", "5", err, err_size))
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, pub);
    pub->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, err_size);
    if (!pub->rk)
        goto fail;
    conf = NULL; /* owned by the handle now */
    pub->alerts = rd_kafka_topic_new(pub->rk, cfg->topics_alerts, NULL);
    if (!pub->alerts) {
        snprintf(err, err_size, "cannot create topic handle %s", cfg->topics_alerts);
        goto fail;
    }
    fs_config_diag_clear(&diag);
    return pub;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    fs_config_diag_clear(&diag);
    fs_publisher_free(pub, 0);
    return NULL;
}

int fs_publisher_alert(fs_publisher_t *pub, const char *id, const char *fingerprint,
                       const char *message)
{
    pending_alert_t *pa = calloc(1, sizeof *pa);
    if (!pa || !(pa->id = strdup(id)) || !(pa->fingerprint = strdup(fingerprint)))
        goto fail;
    if (rd_kafka_produce(pub->alerts, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         (void *)message, strlen(message), fingerprint, strlen(fingerprint),
                         pa) != 0)
        goto fail;
    return 0;
fail:
    if (pa) {
        free(pa->id);
        free(pa->fingerprint);
    }
    free(pa);
    return -1;
}

int fs_publisher_dead_letter(fs_publisher_t *pub, const char *topic, int32_t partition,
                             int64_t offset, const void *payload, size_t len, const char *reason)
{
    char source[512];
    snprintf(source, sizeof source, "%s/%d/%lld", topic, (int)partition, (long long)offset);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        pub->rk, RD_KAFKA_V_TOPIC(pub->cfg->topics_deadletter),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("foreshock-error", reason, (ssize_t)strlen(reason)),
        RD_KAFKA_V_HEADER("foreshock-source", source, (ssize_t)strlen(source)),
        RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

void fs_publisher_poll(fs_publisher_t *pub)
{
    rd_kafka_poll(pub->rk, 0);
}

int fs_publisher_flush(fs_publisher_t *pub, int timeout_ms)
{
    return rd_kafka_flush(pub->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int fs_publisher_in_flight(const fs_publisher_t *pub)
{
    return rd_kafka_outq_len(pub->rk);
}

/* Whether the message value holds "id":"<id>". */
static int has_id(const rd_kafka_message_t *m, const char *id)
{
    char needle[64];
    int n = snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
    if (n <= 0 || (size_t)n >= sizeof needle || !m->payload)
        return 0;
    return memmem(m->payload, m->len, needle, (size_t)n) != NULL;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fs_publisher_scan_ids(const fs_config_t *cfg, const char *const *ids, size_t n_ids,
                          int *found, int64_t depth, int timeout_ms, char *err,
                          size_t err_size)
{
    fs_config_diag_t diag = {0};
    rd_kafka_conf_t *conf = fs_kafka_conf_new(cfg, &diag);
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = NULL;
    int rc = -1;
    int64_t deadline = monotonic_ms() + timeout_ms;

    memset(found, 0, n_ids * sizeof *found);
    if (!conf) {
        snprintf(err, err_size, "%s", diag.n ? diag.messages[0] : "kafka configuration");
        goto done;
    }
    /* A plain reader: no group, no commits. */
    if (set(conf, "enable.auto.commit", "false", err, err_size) ||
        set(conf, "enable.partition.eof", "true", err, err_size))
        goto done;
    rd_kafka_conf_set_log_cb(conf, on_log);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, err_size);
    if (!rk)
        goto done;
    conf = NULL;
    rkt = rd_kafka_topic_new(rk, cfg->topics_alerts, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (e || md->topic_cnt != 1) {
        snprintf(err, err_size, "metadata of %s: %s", cfg->topics_alerts, rd_kafka_err2str(e));
        goto done;
    }
    if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rc = 0; /* no alerts topic yet: nothing was published */
        goto done;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    int waiting = 0;
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo, hi;
        e = rd_kafka_query_watermark_offsets(rk, cfg->topics_alerts, p, &lo, &hi, timeout_ms);
        if (e) {
            snprintf(err, err_size, "offsets of %s/%d: %s", cfg->topics_alerts, (int)p,
                     rd_kafka_err2str(e));
            goto done;
        }
        if (hi <= lo)
            continue;
        rd_kafka_topic_partition_list_add(parts, cfg->topics_alerts, p)->offset =
            hi - depth > lo ? hi - depth : lo;
        waiting++;
    }
    if (waiting && (e = rd_kafka_assign(rk, parts))) {
        snprintf(err, err_size, "assign: %s", rd_kafka_err2str(e));
        goto done;
    }
    while (waiting > 0) {
        if (monotonic_ms() > deadline) {
            snprintf(err, err_size, "timed out reading the tail of %s", cfg->topics_alerts);
            goto done;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            waiting--;
        } else if (!m->err) {
            for (size_t i = 0; i < n_ids; i++)
                if (!found[i] && has_id(m, ids[i]))
                    found[i] = 1;
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;
done:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    fs_config_diag_clear(&diag);
    return rc;
}
