/*
 * event.h: one decoded input event, as the decoder hands it to the rest of the
 * pipeline (slices, aggregation). Strings are borrowed views: see decode.h for
 * how long they stay valid.
 */
#ifndef FS_DETECTOR_EVENT_H
#define FS_DETECTOR_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Most dimensions an event can carry (the `dimensions` configuration key). */
#define FS_MAX_DIMS 8

/* A string view: len bytes at ptr, not NUL-terminated, may contain any byte. */
typedef struct fs_str {
    const char *ptr;
    size_t len;
} fs_str_t;

typedef enum fs_event_kind {
    FS_EVENT_PLAYBACK = 0, /* topics.playback: one playback attempt */
    FS_EVENT_ERROR = 1,    /* topics.errors: one error */
} fs_event_kind_t;

typedef struct fs_event {
    fs_event_kind_t kind;
    int64_t ts_ms;              /* event time, Unix epoch milliseconds */
    int failed;                 /* playback: outcome was "failed"; 0 for error events */
    fs_str_t code;              /* error events: the error code (non-empty); len 0 otherwise */
    fs_str_t user;              /* user_id, len 0 if absent, null or empty */
    fs_str_t dims[FS_MAX_DIMS]; /* values of the configured dimensions, in order; "unknown" if
                                   absent, null or empty; entries past the configured count
                                   have len 0 */
} fs_event_t;

#endif
