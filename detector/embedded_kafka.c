/*
 * embedded_kafka.c: librdkafka's mock cluster (see embedded_kafka.h).
 */
#include "detector/embedded_kafka.h"

#include <stdio.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct fs_embedded_kafka {
    rd_kafka_t *rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
};

void fs_embedded_kafka_free(fs_embedded_kafka_t *ek)
{
    if (!ek)
        return;
    if (ek->mcluster)
        rd_kafka_mock_cluster_destroy(ek->mcluster);
    if (ek->rk)
        rd_kafka_destroy(ek->rk);
    free(ek);
}

fs_embedded_kafka_t *fs_embedded_kafka_new(const char *const *topics, size_t n, int partitions,
                                           char *err, size_t err_size)
{
    fs_embedded_kafka_t *ek = calloc(1, sizeof *ek);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!ek || !conf) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    /* A quiet handle whose only job is to own the cluster. */
    if (rd_kafka_conf_set(conf, "log_level", "3", err, err_size) != RD_KAFKA_CONF_OK)
        goto fail;
    ek->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, err_size);
    if (!ek->rk)
        goto fail;
    conf = NULL;
    ek->mcluster = rd_kafka_mock_cluster_new(ek->rk, 1);
    if (!ek->mcluster) {
        snprintf(err, err_size, "cannot start librdkafka's mock cluster");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(ek->mcluster, topics[i], partitions, 1);
        if (e) {
            snprintf(err, err_size, "creating %s: %s", topics[i], rd_kafka_err2str(e));
            goto fail;
        }
    }
    return ek;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    fs_embedded_kafka_free(ek);
    return NULL;
}

const char *fs_embedded_kafka_bootstraps(const fs_embedded_kafka_t *ek)
{
    return rd_kafka_mock_cluster_bootstraps(ek->mcluster);
}
