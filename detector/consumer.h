/*
 * consumer.h: reads the input topics in a Kafka consumer group.
 *
 * Offsets belong to the store, not to Kafka: when partitions are assigned
 * the handler says where each one starts (the store's offset + 1), and
 * foreshock commits to Kafka only as a courtesy after each store batch, so
 * the usual lag tools see the group's progress. Consumption can be paused
 * as a whole (the store is unavailable) and resumed where it stopped.
 * Not thread safe; handler callbacks run inside fs_consumer_poll.
 */
#ifndef FS_DETECTOR_CONSUMER_H
#define FS_DETECTOR_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "detector/event.h"

typedef struct fs_consumer fs_consumer_t;

typedef struct fs_consumer_handler {
    void *opaque;
    /* A partition was assigned: return the next offset to read (the stored
     * offset + 1), or -1 to start at the beginning of the partition. */
    int64_t (*assigned)(void *opaque, const char *topic, int32_t partition,
                        fs_event_kind_t kind);
    /* Every partition is about to be revoked: commit what can be committed. */
    void (*revoking)(void *opaque);
    /* The consumer has read everything the partition holds so far (said
     * once the messages held before the end were taken). */
    void (*at_end)(void *opaque, const char *topic, int32_t partition);
    /* One message. Returns 0 when taken, or 1 when it cannot be taken yet:
     * the consumer then holds it (and the rest of its partition), pauses the
     * partition once many are held, and offers it again on later polls.
     * topic is always one of the configuration's two topic strings (the
     * same pointers for the whole run), for at_end too. */
    int (*message)(void *opaque, const char *topic, int32_t partition, fs_event_kind_t kind,
                   int64_t offset, const char *payload, size_t len);
} fs_consumer_handler_t;

/* Subscribes to cfg's playback and error topics. NULL with reason in err. */
fs_consumer_t *fs_consumer_new(const fs_config_t *cfg, const fs_consumer_handler_t *handler,
                               char *err, size_t err_size);

/* Leaves the group (running the revoke handler) and frees. Accepts NULL. */
void fs_consumer_free(fs_consumer_t *c);

/* Delivers up to max messages, waiting at most timeout_ms for the first.
 * Returns the number delivered. */
int fs_consumer_poll(fs_consumer_t *c, int timeout_ms, int max);

/* Stops fetching from every assigned partition / starts again where the
 * last delivered message left off. */
void fs_consumer_pause(fs_consumer_t *c);
void fs_consumer_resume(fs_consumer_t *c);

/* Re-reads the start offsets of every assigned partition from the handler
 * (after the store refused a batch) and seeks there. */
void fs_consumer_reseek(fs_consumer_t *c);

/* Adds `next` (last applied + 1) of a partition to the pending commit. */
void fs_consumer_commit_add(fs_consumer_t *c, const char *topic, int32_t partition, int64_t next);

/* Commits the pending offsets to Kafka asynchronously, for lag monitoring
 * only: foreshock resumes from the store's offsets, never from these. */
void fs_consumer_commit_send(fs_consumer_t *c);

/* Forgets the pending offsets (their store batch did not land). */
void fs_consumer_commit_clear(fs_consumer_t *c);

/* Messages behind the high watermark over all assigned partitions (-1 if
 * not known yet), from the consumer's cached watermarks. */
int64_t fs_consumer_lag(fs_consumer_t *c);

/* Number of assigned partitions. */
int fs_consumer_assigned(const fs_consumer_t *c);

/*
 * librdkafka's statistics (statistics.interval.ms, 1 s unless configured;
 * none when metrics.enabled is false), parsed when they arrive inside
 * fs_consumer_poll. Offsets are -1 where librdkafka does not know them.
 */
typedef struct fs_consumer_partition {
    const char *topic; /* the configuration's topic name (borrowed) */
    int32_t partition;
    int64_t lag;            /* consumer_lag: high watermark (last stable offset under
                               read_committed) minus the committed offset */
    int64_t high_watermark; /* hi_offset */
    int64_t committed;      /* committed_offset: what foreshock committed after its
                               last store batch */
    int64_t position;       /* app_offset: the next offset handed to the pipeline */
} fs_consumer_partition_t;

/* Statistics reports received so far: the figures below change only when
 * this does. */
uint64_t fs_consumer_stats_reports(const fs_consumer_t *c);

/* Calls cb for every assigned partition of the last report (nothing before
 * the first). p is valid during the call only. */
void fs_consumer_partitions(const fs_consumer_t *c,
                            void (*cb)(void *opaque, const fs_consumer_partition_t *p),
                            void *opaque);

/* Brokers the last report showed connected (state UP), or -1 before the
 * first report. */
int fs_consumer_brokers_up(const fs_consumer_t *c);

/* The version of the librdkafka library in use ("2.0.2"). */
const char *fs_consumer_librdkafka_version(void);

#endif
