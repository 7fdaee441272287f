/*
 * config.h: foreshock's configuration, one key table driving everything.
 *
 * The table in keys.c names every key with its type, default, range, unit and
 * description. The loader reads `key = value` files and `-X key=value`
 * overrides against that table, the same table prints the effective
 * configuration (--dump-config) and generates config/CONFIGURATION.md and the
 * reference config/foreshock.conf. Problems are reported as
 * `FILE:LINE: key: reason`, all of them at once, and nothing is clamped.
 *
 * `kafka.<property>` keys are not interpreted here (this library depends on
 * libc only): they are kept in order with their origin, and the detector hands
 * them to librdkafka, which has the final word on their validity.
 */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where a value came from, for error messages: a file and line, or "-X" and
 * the position of the override on the command line. */
typedef struct fs_config_origin {
    const char *file; /* borrowed from the loader's interned copy; NULL = default */
    int line;
} fs_config_origin_t;

/* Most event fields that can be dimensions (the decoder's limit). */
#define FS_CONFIG_MAX_DIMENSIONS 8

typedef struct fs_strlist {
    char **items;
    size_t n;
} fs_strlist_t;

typedef enum fs_store_kind { FS_STORE_REDIS = 0, FS_STORE_MEMORY = 1 } fs_store_kind_t;

/* One `kafka.<property> = value` setting, in the order given. */
typedef struct fs_kafka_prop {
    char *name;  /* without the "kafka." prefix */
    char *value;
    fs_config_origin_t origin;
} fs_kafka_prop_t;

/*
 * The effective configuration. A plain struct because every component reads
 * it; only the loader writes it. Strings and lists are owned by the struct.
 */
typedef struct fs_config {
    char *topics_playback;
    char *topics_errors;
    char *topics_alerts;
    char *topics_deadletter;
    char *redis_address;
    char *redis_prefix;
    char *redis_user;
    char *redis_password;
    int64_t redis_timeout_ms;
    int64_t redis_retention_ms;
    fs_strlist_t dimensions;
    fs_strlist_t slices_pairs;
    int slices_error_codes;
    int64_t slices_max;
    int64_t slices_idle_ms;
    int64_t window_bucket_ms;
    int64_t window_flush_ms;
    int64_t window_flush_events;
    int64_t window_lateness_ms;
    int64_t window_horizon_ms;
    int64_t window_future_skew_ms;
    int64_t window_idle_ms;
    double detect_false_alarms_per_day;
    int64_t detect_min_excess;
    int64_t detect_halflife_ms;
    int64_t detect_warmup_ms;
    int64_t detect_snapshot_ms;
    int64_t detect_snapshot_chunk;
    double localize_share;
    int64_t severity_critical_users;
    double severity_critical_share;
    int64_t severity_warning_users;
    int64_t log_status_ms;
    int log_format; /* 0 logfmt, 1 json */
    int log_level;  /* fs_log_level_t order: debug, info, warn, error */
    int metrics_enabled;
    char *metrics_address;
    int store; /* fs_store_kind_t */
    char *alertmanager_url;          /* foreshock-alertmanager only */
    int64_t alertmanager_resend_ms;
    int64_t alertmanager_timeout_ms;
    char *alertmanager_group_id;

    fs_kafka_prop_t *kafka;
    size_t n_kafka;

    /* Private to the loader: which keys were set and where. */
    struct fs_config_private *priv;
} fs_config_t;

/* Collected diagnostics, one `FILE:LINE: key: reason` string each. */
typedef struct fs_config_diag {
    char **messages;
    size_t n;
} fs_config_diag_t;

/* A new configuration holding every default. Returns NULL on out of memory. */
fs_config_t *fs_config_new(void);

/* Frees cfg and everything it owns. Accepts NULL. */
void fs_config_free(fs_config_t *cfg);

/*
 * Changes the default of `key` before anything is loaded (e.g. the replay
 * tool defaults `store` to `memory`). Returns 0, or -1 if key is unknown or
 * the value does not parse (a programming error).
 */
int fs_config_set_default(fs_config_t *cfg, const char *key, const char *value);

/*
 * Reads `key = value` lines from path. Blank lines and lines whose first
 * non-blank character is '#' are ignored. Every problem is appended to diag.
 * Returns the number of problems found (0 = success), or -1 if the file
 * cannot be read (the reason is in diag too).
 */
int fs_config_load_file(fs_config_t *cfg, const char *path, fs_config_diag_t *diag);

/*
 * Applies one `-X key=value` override; `position` numbers the overrides from 1
 * for messages (`-X:2: key: reason`). Overrides win over the file; the same
 * key given twice with -X is an error. Returns 0 or the number of problems.
 */
int fs_config_override(fs_config_t *cfg, const char *assignment, int position,
                       fs_config_diag_t *diag);

/*
 * Checks rules that involve several keys, after loading and overrides.
 * Returns the number of problems appended to diag.
 */
int fs_config_finish(fs_config_t *cfg, fs_config_diag_t *diag);

/*
 * The usual sequence: load path, apply overrides[0..n) in order, check the
 * cross-key rules. Returns the number of problems (all in diag).
 */
int fs_config_load(fs_config_t *cfg, const char *path, const char *const *overrides,
                   size_t n_overrides, fs_config_diag_t *diag);

/*
 * Sets a librdkafka property from the program itself (not from the user):
 * replaces any value, keeps no origin. Returns 0, or -1 on out of memory.
 */
int fs_config_set_kafka(fs_config_t *cfg, const char *prop, const char *value);

/* Where `key` was last set (origin.file == NULL for a default). */
fs_config_origin_t fs_config_origin(const fs_config_t *cfg, const char *key);

/*
 * Writes the effective configuration as a loadable file (`key = value`), every
 * key of the table and then the kafka properties. Values of secret-looking
 * properties (passwords, keys) are replaced by "<redacted>".
 */
void fs_config_dump(const fs_config_t *cfg, FILE *out);

/* Appends a formatted message to diag. Returns -1 on out of memory. */
int fs_config_diag_add(fs_config_diag_t *diag, fs_config_origin_t origin, const char *key,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Frees the messages of diag and empties it. */
void fs_config_diag_clear(fs_config_diag_t *diag);

/* True if a kafka property's value must never be printed. */
int fs_config_is_secret(const char *kafka_property);

#endif
