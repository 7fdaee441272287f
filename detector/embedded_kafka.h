/*
 * embedded_kafka.h: an in-process Kafka cluster for the demo and for trying
 * foreshock without installing Kafka (`foreshock --embedded-kafka`).
 *
 * It is librdkafka's mock cluster: it listens on real loopback ports, so
 * other processes (foreshock-bench, kcat) can produce and consume, and it
 * implements produce, fetch, consumer groups and idempotence. It is not a
 * broker for volume: it keeps at most about 5 MiB per partition and silently
 * drops older data, and every first group join waits 3 s.
 */
#ifndef FS_DETECTOR_EMBEDDED_KAFKA_H
#define FS_DETECTOR_EMBEDDED_KAFKA_H

#include <stddef.h>

typedef struct fs_embedded_kafka fs_embedded_kafka_t;

/*
 * Starts a cluster of one broker with topics[0..n) created with `partitions`
 * partitions each. Returns NULL with the reason in err.
 */
fs_embedded_kafka_t *fs_embedded_kafka_new(const char *const *topics, size_t n, int partitions,
                                           char *err, size_t err_size);

/* The bootstrap servers ("127.0.0.1:PORT"), valid until fs_embedded_kafka_free. */
const char *fs_embedded_kafka_bootstraps(const fs_embedded_kafka_t *ek);

/* Stops the cluster. Accepts NULL. */
void fs_embedded_kafka_free(fs_embedded_kafka_t *ek);

#endif
