/*
 * keys.h: the configuration key table.
 *
 * One row per key: name, type, default, range, unit and description, plus
 * where the parsed value lives in fs_config_t. The loader, the dump, the
 * generated CONFIGURATION.md and the reference config all read this table,
 * so a key documented anywhere is a key the loader accepts, and the reverse.
 */
#ifndef FS_CONFIG_KEYS_H
#define FS_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

typedef enum fs_key_type {
    FS_KEY_STRING,   /* non-empty text */
    FS_KEY_INT,      /* decimal integer within [min, max] */
    FS_KEY_DURATION, /* integer with unit ms, s, m, h or d; stored in ms */
    FS_KEY_BOOL,     /* true or false */
    FS_KEY_ENUM,     /* one of `choices`, stored as its index */
    FS_KEY_LIST,     /* comma-separated names, none empty, no repeats */
    FS_KEY_ADDRESS,  /* HOST:PORT or an absolute Unix socket path */
    FS_KEY_DOUBLE,   /* decimal number, finite, > 0 */
} fs_key_type_t;

typedef struct fs_key {
    const char *name;
    fs_key_type_t type;
    const char *default_value; /* in the file syntax */
    int64_t min, max;          /* INT and DURATION (ms); ignored when min > max */
    const char *unit;          /* for documentation; NULL if none */
    const char *const *choices; /* ENUM: NULL-terminated */
    size_t offset;             /* of the field in fs_config_t */
    const char *description;
} fs_key_t;

extern const fs_key_t fs_config_keys[];
extern const size_t fs_config_n_keys;

/* Properties foreshock sets on its librdkafka handles unless configured. */
typedef struct fs_kafka_default {
    const char *name;
    const char *value;
    const char *why;
} fs_kafka_default_t;

extern const fs_kafka_default_t fs_kafka_defaults[];
extern const size_t fs_kafka_n_defaults;

/* Finds a key by name; NULL if there is none. */
const fs_key_t *fs_config_key_find(const char *name);

/* The type's name as documentation shows it ("duration", "list", ...). */
const char *fs_key_type_name(fs_key_type_t type);

#endif
