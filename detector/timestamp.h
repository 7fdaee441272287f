/*
 * timestamp.h: RFC 3339 event times to and from Unix epoch milliseconds.
 *
 * The decoder parses the string form of an event's `ts` with
 * fs_timestamp_parse; alerts print their times with fs_timestamp_format. Both
 * use integer civil-calendar arithmetic (proleptic Gregorian, UTC), so neither
 * depends on timegm, the locale, the TZ variable or the C library's tz data.
 *
 * Thread safety: both functions are pure and reentrant.
 */
#ifndef FS_DETECTOR_TIMESTAMP_H
#define FS_DETECTOR_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

/* Characters written by fs_timestamp_format, without the terminating NUL. */
#define FS_TIMESTAMP_LEN 24

/*
 * Parses exactly the len bytes at s (borrowed; need not be NUL-terminated) as
 * an RFC 3339 date-time:
 *
 *     YYYY-MM-DD ( "T" | "t" | " " ) hh:mm:ss [ "." 1*DIGIT ] ( "Z" | "z" | ("+"|"-") hh:mm )
 *
 * Every field has exactly the digits shown. Month, day (including 29 February
 * in leap years only), hour (0-23), minute (0-59) and the offset (hours 0-23,
 * minutes 0-59; "-00:00" is accepted and means UTC) are range-checked. A
 * fraction of any length is truncated (not rounded) to milliseconds. A leap
 * second (ss = 60) is accepted and clamped to the last millisecond of second
 * 59, which keeps event times monotonic without knowing the leap-second
 * table. No leading or trailing characters, including spaces, are allowed.
 *
 * On success stores the instant in Unix epoch milliseconds in *out_ms and
 * returns 0; otherwise returns -1 and leaves *out_ms unchanged. Years 0000 to
 * 9999 are representable; range policy belongs to the caller.
 */
int fs_timestamp_parse(const char *s, size_t len, int64_t *out_ms);

/*
 * Writes ms (Unix epoch milliseconds) as "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC,
 * exactly FS_TIMESTAMP_LEN characters plus a terminating NUL, into out.
 * Instants before 0000-01-01T00:00:00.000Z or after
 * 9999-12-31T23:59:59.999Z are written as those bounds so the output always
 * fits.
 */
void fs_timestamp_format(int64_t ms, char out[FS_TIMESTAMP_LEN + 1]);

#endif
