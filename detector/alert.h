/*
 * alert.h: alert messages of CONTRACT.md section 2.
 *
 * An alert is about one signal of one slice. Its fingerprint is a stable
 * hash of (alertname, slice key), the same in every process and release, and
 * every message has a deterministic id (fingerprint, status, startsAt,
 * detectedAt) so a message re-sent after a crash can be recognised on the
 * alerts topic.
 */
#ifndef FS_DETECTOR_ALERT_H
#define FS_DETECTOR_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "models/model.h"

#define FS_ALERT_FINGERPRINT_LEN 16
#define FS_ALERT_ID_LEN 16
#define FS_ALERT_NULL_TIME INT64_MIN

typedef struct fs_alert {
    fs_signal_t signal;
    int firing;          /* 1: firing message, 0: resolved */
    const char *slice;   /* canonical slice key */
    int64_t starts_at_ms;
    int64_t detected_at_ms;
    int64_t ends_at_ms;  /* FS_ALERT_NULL_TIME while firing */
    const char *severity;
    fs_model_verdict_t verdict; /* the evidence at detection (firing) or at the end */
    int64_t affected_users;     /* -1 when unknown */
    double excess;              /* failures or errors above expected, or missing attempts */
    double traffic_share;       /* the slice's share of all attempts, recently; NAN if unknown */
    const char *superseded_by;  /* resolved because this slice now explains it; NULL if not */
} fs_alert_t;

/* The alertname of a signal ("PlaybackFailureBurst", ...). */
const char *fs_alert_name(fs_signal_t signal);

/* Writes the 16 hex digits (and a NUL) of the fingerprint of (signal, slice). */
void fs_alert_fingerprint(fs_signal_t signal, const char *slice, char out[FS_ALERT_FINGERPRINT_LEN + 1]);

/* Writes the message id (16 hex digits and a NUL). */
void fs_alert_id(const fs_alert_t *alert, char out[FS_ALERT_ID_LEN + 1]);

/*
 * Writes the alert message JSON into buf. Returns its length, or -1 if buf is
 * too small (8 KiB always suffices for slice keys within the slice limit).
 */
long fs_alert_format(const fs_alert_t *alert, char *buf, size_t size);

/*
 * The persisted state of an open alert (what a restarted detector needs to
 * resolve it later): signal, start, detection, severity, slice. Returns the
 * length or -1.
 */
long fs_alert_state_format(const fs_alert_t *alert, char *buf, size_t size);

/*
 * Parses a state written by fs_alert_state_format. The slice points into
 * state. Returns 0 or -1.
 */
int fs_alert_state_parse(char *state, fs_alert_t *alert);

#endif
