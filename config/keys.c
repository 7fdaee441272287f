/*
 * keys.c: the table of every configuration key (see keys.h).
 *
 * To add a key: add a field to fs_config_t, a row here, then regenerate the
 * documentation with `cmake --build build --target config-docs`.
 */
#include "config/keys.h"

#include <string.h>

#include "config/config.h"

#define FIELD(f) offsetof(fs_config_t, f)
#define NO_RANGE 1, 0

static const char *const store_choices[] = {"redis", "memory", NULL};

const fs_key_t fs_config_keys[] = {
    {"topics.playback", FS_KEY_STRING, "playback-events", NO_RANGE, NULL, NULL,
     FIELD(topics_playback), "Kafka topic of playback events (one attempt each, ok or failed)."},
    {"topics.errors", FS_KEY_STRING, "error-events", NO_RANGE, NULL, NULL, FIELD(topics_errors),
     "Kafka topic of error events (one error with a code each)."},
    {"topics.alerts", FS_KEY_STRING, "foreshock-alerts", NO_RANGE, NULL, NULL,
     FIELD(topics_alerts), "Kafka topic the alerts are published to, keyed by fingerprint."},
    {"topics.deadletter", FS_KEY_STRING, "foreshock-deadletter", NO_RANGE, NULL, NULL,
     FIELD(topics_deadletter),
     "Kafka topic that receives invalid input messages unchanged, with the headers "
     "foreshock-error (the reason) and foreshock-source (topic/partition/offset)."},
    {"redis.address", FS_KEY_ADDRESS, "127.0.0.1:6379", NO_RANGE, NULL, NULL,
     FIELD(redis_address), "Redis server as HOST:PORT, or the absolute path of a Unix socket."},
    {"redis.prefix", FS_KEY_STRING, "fs:", NO_RANGE, NULL, NULL, FIELD(redis_prefix),
     "Prefix of every Redis key foreshock writes, so several deployments can share one "
     "Redis."},
    {"dimensions", FS_KEY_LIST, "country,platform,app_version,cdn", NO_RANGE, NULL, NULL,
     FIELD(dimensions),
     "Event fields used as dimensions. Each event counts in all traffic and in the slice of "
     "each dimension's value; a missing field counts as \"unknown\"."},
    {"store", FS_KEY_ENUM, "redis", NO_RANGE, NULL, store_choices, FIELD(store),
     "Where window state lives: `redis` (durable, shared, exactly-once) or `memory` (one "
     "process, nothing kept). `foreshock-bench replay` defaults to `memory`."},
};

const size_t fs_config_n_keys = sizeof fs_config_keys / sizeof fs_config_keys[0];

const fs_kafka_default_t fs_kafka_defaults[] = {
    {"bootstrap.servers", "127.0.0.1:9092", "a broker on this host"},
    {"group.id", "foreshock", "the consumer group all foreshock instances of a deployment share"},
};

const size_t fs_kafka_n_defaults = sizeof fs_kafka_defaults / sizeof fs_kafka_defaults[0];

const fs_key_t *fs_config_key_find(const char *name)
{
    for (size_t i = 0; i < fs_config_n_keys; i++)
        if (strcmp(fs_config_keys[i].name, name) == 0)
            return &fs_config_keys[i];
    return NULL;
}

const char *fs_key_type_name(fs_key_type_t type)
{
    switch (type) {
    case FS_KEY_STRING:
        return "string";
    case FS_KEY_INT:
        return "integer";
    case FS_KEY_DURATION:
        return "duration";
    case FS_KEY_BOOL:
        return "boolean";
    case FS_KEY_ENUM:
        return "enum";
    case FS_KEY_LIST:
        return "list";
    case FS_KEY_ADDRESS:
        return "address";
    }
    return "?";
}
