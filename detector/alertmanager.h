/*
 * alertmanager.h: forwards foreshock's alert messages to Prometheus
 * Alertmanager (the program `foreshock-alertmanager`).
 *
 * The alerts topic (CONTRACT.md section 2) carries one `firing` and one
 * `resolved` message per incident. Alertmanager wants something else: every
 * firing alert posted again and again (it resolves an alert by itself
 * `resolve_timeout` after the last post), and a resolved one posted once with
 * `endsAt`. This module bridges the two:
 *
 *   - fs_am_alert_parse turns one message into the JSON object that
 *     `POST /api/v2/alerts` takes ({labels, annotations, startsAt[, endsAt]
 *     [, generatorURL]}), copying the message's own fields unchanged;
 *   - the firing set (fs_am_firing_*) keeps the alerts that are firing, by
 *     fingerprint, and says which are due to be posted again;
 *   - fs_am_client_* posts a payload with libcurl and classifies the answer
 *     as posted, worth retrying (connection errors, 5xx, 429, ...) or
 *     rejected (a 4xx about the message itself);
 *   - fs_alertmanager_run is the program's loop: a Kafka consumer in its own
 *     group (alertmanager.group_id), offsets committed only after everything
 *     up to them was posted. The firing set is rebuilt whenever partitions
 *     are assigned (start, restart, rebalance) by reading each partition from
 *     the first offset the topic still holds: messages before the committed
 *     offset only rebuild the set, later ones are posted. A new group starts
 *     at the end of each partition, with the alerts firing there rebuilt.
 *
 * The parsing, payload and firing-set functions are pure (no I/O, no clock:
 * times are passed in), so they are unit-tested without a network.
 * Nothing here is thread safe; one thread owns each object.
 */
#ifndef FS_DETECTOR_ALERTMANAGER_H
#define FS_DETECTOR_ALERTMANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Longest fingerprint accepted, in characters. */
#define FS_AM_FINGERPRINT_MAX 64

/* The path appended to alertmanager.url. */
#define FS_AM_ALERTS_PATH "/api/v2/alerts"

/* ---- one alert message ----------------------------------------------------- */

typedef struct fs_am_alert {
    char fingerprint[FS_AM_FINGERPRINT_MAX + 1]; /* "" when the message has none */
    int firing; /* 1 firing, 0 resolved; meaningful when status_known */
    int status_known;
    char *element; /* owned: the object to post, NUL-terminated; NULL if invalid */
    size_t element_len;
} fs_am_alert_t;

/*
 * Parses one alert message (msg: len bytes, borrowed, need not be
 * NUL-terminated) into out, which the caller clears with fs_am_alert_clear.
 * The element to post has the message's `labels` (a non-empty object of
 * strings), `annotations` (an object of strings; left out if absent),
 * `startsAt` (required, RFC 3339), `endsAt` (required and RFC 3339 when
 * resolved, never sent while firing) and `generatorURL` (a string, copied if
 * present), each value copied byte for byte.
 *
 * Returns 0, or -1 when the message cannot be posted (not a JSON object, a
 * field missing or of the wrong type...) with the reason in err. Even then,
 * out->fingerprint, out->firing and out->status_known are filled when the
 * message has them, so the caller can forget a resolved alert whose message
 * is broken.
 */
int fs_am_alert_parse(const char *msg, size_t len, fs_am_alert_t *out, char *err, size_t err_size);

/* Frees what out owns and zeroes it. Accepts a zeroed alert. */
void fs_am_alert_clear(fs_am_alert_t *alert);

/*
 * The body of one POST: a JSON array of the n elements (each borrowed, lens
 * their lengths) in order, NUL-terminated. Returns a malloc'ed string and
 * its length in *len, or NULL on out of memory.
 */
char *fs_am_payload_new(const char *const *elements, const size_t *lens, size_t n, size_t *len);

/* ---- the firing set ------------------------------------------------------------ */

/* next_post_ms of an alert rebuilt from a partition that is still being
 * read up to its end: never due until fs_am_firing_release. */
#define FS_AM_HELD INT64_MAX

typedef struct fs_am_firing fs_am_firing_t;

/* One due alert, as fs_am_firing_due lists it; borrowed from the set until
 * the next call that adds or removes an alert. */
typedef struct fs_am_due {
    const char *fingerprint;
    const char *element;
    size_t element_len;
} fs_am_due_t;

/* An empty set whose alerts are posted again every resend_ms. NULL on out of
 * memory. */
fs_am_firing_t *fs_am_firing_new(int64_t resend_ms);

/* Frees the set. Accepts NULL. */
void fs_am_firing_free(fs_am_firing_t *set);

/*
 * Applies one parsed, valid alert of `partition` to the set: a firing alert
 * is added, or replaces the one with its fingerprint, and is next due at
 * next_post_ms (FS_AM_HELD while its partition is being rebuilt); a
 * resolved one removes its fingerprint. The element is copied. Returns 0,
 * or -1 on out of memory (the set is unchanged).
 */
int fs_am_firing_apply(fs_am_firing_t *set, int32_t partition, const fs_am_alert_t *alert,
                       int64_t next_post_ms);

/* Removes fingerprint if present. Returns 1 if it was there, 0 if not. */
int fs_am_firing_forget(fs_am_firing_t *set, const char *fingerprint);

/* Removes every alert of partition (its partition was revoked). */
void fs_am_firing_drop_partition(fs_am_firing_t *set, int32_t partition);

/* Makes the held alerts of partition due at now_ms (its rebuild is over). */
void fs_am_firing_release(fs_am_firing_t *set, int32_t partition, int64_t now_ms);

/* Number of alerts in the set. */
size_t fs_am_firing_count(const fs_am_firing_t *set);

/* True if fingerprint is in the set. */
int fs_am_firing_contains(const fs_am_firing_t *set, const char *fingerprint);

/*
 * Lists up to max (at most 64) alerts due at now_ms (next post at or before
 * now_ms), the longest overdue first, into out. Returns how many.
 */
size_t fs_am_firing_due(const fs_am_firing_t *set, int64_t now_ms, fs_am_due_t *out, size_t max);

/* fingerprint was just posted at now_ms: it is next due at now_ms + resend.
 * Does not move alerts, so fs_am_due_t views stay valid. */
void fs_am_firing_posted(fs_am_firing_t *set, const char *fingerprint, int64_t now_ms);

/* The earliest next post over the set (FS_AM_HELD if none is scheduled). */
int64_t fs_am_firing_next_due(const fs_am_firing_t *set);

/* ---- retries ----------------------------------------------------------------- */

/* Exponential backoff: FS_AM_BACKOFF_MIN_MS doubling to FS_AM_BACKOFF_MAX_MS. */
#define FS_AM_BACKOFF_MIN_MS 100
#define FS_AM_BACKOFF_MAX_MS 30000

typedef struct fs_am_backoff {
    int64_t next_ms;  /* the delay the next failure gets; 0 = not failing */
    int64_t failures; /* consecutive failures */
} fs_am_backoff_t;

/* A failure: returns the delay before the next attempt. */
int64_t fs_am_backoff_fail(fs_am_backoff_t *b);

/* A success: the next failure starts over at the minimum. */
void fs_am_backoff_reset(fs_am_backoff_t *b);

/* ---- posting ----------------------------------------------------------------- */

typedef enum fs_am_outcome {
    FS_AM_POSTED = 0,    /* 2xx */
    FS_AM_RETRY = -1,    /* retriable: no answer, 5xx, 429, 408, or the endpoint itself
                            refused (401, 403, 404, 405, 407), any other status */
    FS_AM_REJECTED = -2, /* any other 4xx: the payload is at fault; retrying cannot help */
} fs_am_outcome_t;

/*
 * What an HTTP answer means for the payload. `answered` is 0 when no answer
 * came (connection refused, timeout, TLS...), status the HTTP status. A 4xx
 * that says the URL or the credentials are wrong (401, 403, 404, 405, 407)
 * is retried, not skipped: a wrong alertmanager.url must not commit past
 * every alert.
 */
fs_am_outcome_t fs_am_classify(int answered, long status);

/* Checks that url is an http or https URL with a host. Returns 0, or -1
 * with the reason in reason. */
int fs_am_url_check(const char *url, char *reason, size_t reason_size);

typedef struct fs_am_client fs_am_client_t;

/* A client posting to <base_url>/api/v2/alerts (a trailing '/' of base_url
 * is ignored), each request bounded by timeout_ms. Reuses its connection.
 * NULL with the reason in err. */
fs_am_client_t *fs_am_client_new(const char *base_url, int64_t timeout_ms, char *err,
                                 size_t err_size);

/* Frees the client. Accepts NULL. */
void fs_am_client_free(fs_am_client_t *client);

/*
 * POSTs body (len bytes, Content-Type application/json). *status gets the
 * HTTP status (0 if none came); detail gets the transport error or the start
 * of the response body (control characters kept for the caller to quote).
 */
fs_am_outcome_t fs_am_client_post(fs_am_client_t *client, const char *body, size_t len,
                                  long *status, char *detail, size_t detail_size);

/* ---- the program ----------------------------------------------------------- */

/*
 * Runs the forwarder until SIGINT or SIGTERM (cfg borrowed): consumes
 * topics.alerts in the group alertmanager.group_id and posts to
 * alertmanager.url. On a signal it finishes the post under way, commits the
 * offsets of everything posted and returns 0; returns 1 on a fatal error
 * (the consumer cannot start, committed offsets cannot be read).
 */
int fs_alertmanager_run(const fs_config_t *cfg);

#endif
