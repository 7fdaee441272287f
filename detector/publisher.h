/*
 * publisher.h: everything foreshock writes to Kafka: alert messages (key =
 * fingerprint) and dead letters (the invalid message unchanged, with the
 * headers foreshock-error and foreshock-source). One idempotent producer.
 *
 * It also answers, after a crash, which outbox messages already reached the
 * alerts topic, by reading the topic's recent tail for their ids.
 * Not thread safe; delivery callbacks run inside fs_publisher_poll/flush.
 */
#ifndef FS_DETECTOR_PUBLISHER_H
#define FS_DETECTOR_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct fs_publisher fs_publisher_t;

/* Called once per alert message when the broker acknowledged it. */
typedef void (*fs_publisher_delivered_cb)(void *opaque, const char *id);

/*
 * A publisher for cfg (borrowed, must outlive it). kafka.* properties apply.
 * Returns NULL with the reason in err.
 */
fs_publisher_t *fs_publisher_new(const fs_config_t *cfg, fs_publisher_delivered_cb delivered,
                                 void *opaque, char *err, size_t err_size);

/* Flushes for at most timeout_ms and frees. Accepts NULL. */
void fs_publisher_free(fs_publisher_t *pub, int timeout_ms);

/* Queues an alert message; a failed delivery is retried until acknowledged.
 * Returns 0, or -1 if the local queue refused it (retry later). */
int fs_publisher_alert(fs_publisher_t *pub, const char *id, const char *fingerprint,
                       const char *message);

/* Queues a dead letter. Returns 0 or -1 (queue full; the caller may retry). */
int fs_publisher_dead_letter(fs_publisher_t *pub, const char *topic, int32_t partition,
                             int64_t offset, const void *payload, size_t len,
                             const char *reason);

/* Serves delivery reports without blocking. */
void fs_publisher_poll(fs_publisher_t *pub);

/* Waits up to timeout_ms for everything queued to be delivered. Returns 0 if
 * nothing is left in flight. */
int fs_publisher_flush(fs_publisher_t *pub, int timeout_ms);

/* Messages queued or in flight. */
int fs_publisher_in_flight(const fs_publisher_t *pub);

/*
 * Reads the last `depth` messages of every partition of the alerts topic and
 * sets found[i] = 1 for each ids[i] that appears as an alert's "id". Returns
 * 0, or -1 with the reason in err (the broker could not be read in time).
 */
int fs_publisher_scan_ids(const fs_config_t *cfg, const char *const *ids, size_t n_ids,
                          int *found, int64_t depth, int timeout_ms, char *err,
                          size_t err_size);

#endif
