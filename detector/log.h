/*
 * log.h: the detector's log: one logfmt line per event on stderr,
 *   time=2026-11-27T20:00:05.250Z level=warn event=store_unavailable reason="..."
 * With log.format = json each line is a JSON object with the same fields.
 * Library code never logs; the daemon's edges (main, daemon loop, Kafka and
 * Redis callbacks) do, through this one function.
 */
#ifndef FS_DETECTOR_LOG_H
#define FS_DETECTOR_LOG_H

typedef enum fs_log_level {
    FS_LOG_DEBUG = 0,
    FS_LOG_INFO = 1,
    FS_LOG_WARN = 2,
    FS_LOG_ERROR = 3,
} fs_log_level_t;

/* Lines below this level are dropped. */
void fs_log_set_level(fs_log_level_t level);

/* 0: logfmt lines (the default); 1: one JSON object per line, the same
 * fields as keys (numbers stay numbers, quoted values become strings). */
void fs_log_set_json(int json);

/*
 * Writes one line: time, level, event, then the logfmt fields that fmt
 * formats (e.g. "reason=%s" with the value quoted by fs_log_quote, or
 * numbers). fmt may be NULL for no fields. Thread safe (one write per line).
 */
void fs_log(fs_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Quotes s for logfmt into buf ("..." with \" and \\ escaped, control
 * characters dropped). Returns buf. */
const char *fs_log_quote(const char *s, char *buf, unsigned size);

#endif
