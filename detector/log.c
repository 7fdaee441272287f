/*
 * log.c: logfmt lines on stderr (see log.h).
 */
#include "detector/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "detector/timestamp.h"

static fs_log_level_t min_level = FS_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

void fs_log_set_level(fs_log_level_t level)
{
    min_level = level;
}

void fs_log(fs_log_level_t level, const char *event, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char line[4096], when[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fs_timestamp_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, when);
    int n = snprintf(line, sizeof line, "time=%s level=%s event=%s", when, names[level], event);
    if (fmt && n > 0 && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        n = m < 0 ? n : n + m;
    }
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t written = write(STDERR_FILENO, line, (size_t)n);
    (void)written;
}

const char *fs_log_quote(const char *s, char *buf, unsigned size)
{
    unsigned n = 0;
    if (size < 3)
        return "\"\"";
    buf[n++] = '"';
    for (; s && *s && n + 3 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20)
            continue;
        if (c == '"' || c == '\\')
            buf[n++] = '\\';
        buf[n++] = (char)c;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}
