/*
 * log.c: logfmt lines on stderr (see log.h).
 */
#include "detector/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detector/timestamp.h"

static fs_log_level_t min_level = FS_LOG_INFO;
static int json_lines;
static const char *const names[] = {"debug", "info", "warn", "error"};

void fs_log_set_level(fs_log_level_t level)
{
    min_level = level;
}

void fs_log_set_json(int json)
{
    json_lines = json;
}

/* Appends s[0..n) to out as the inside of a JSON string. */
static size_t json_escape(char *out, size_t size, size_t used, const char *s, size_t n)
{
    for (size_t i = 0; i < n && used + 7 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[used++] = '\\';
            out[used++] = (char)c;
        } else if (c < 0x20) {
            used += (size_t)snprintf(out + used, size - used, "\\u%04x", c);
        } else {
            out[used++] = (char)c;
        }
    }
    return used;
}

/* Rewrites a logfmt line (without its newline) as a JSON object. */
static size_t logfmt_to_json(const char *in, size_t len, char *out, size_t size)
{
    size_t used = 0, i = 0;
    out[used++] = '{';
    while (i < len && used + 16 < size) {
        while (i < len && in[i] == ' ')
            i++;
        size_t k = i;
        while (i < len && in[i] != '=' && in[i] != ' ')
            i++;
        if (i >= len || in[i] != '=')
            break;
        size_t klen = i - k;
        i++;
        if (used > 1)
            out[used++] = ',';
        out[used++] = '"';
        used = json_escape(out, size, used, in + k, klen);
        out[used++] = '"';
        out[used++] = ':';
        if (i < len && in[i] == '"') {
            size_t v = ++i;
            while (i < len && in[i] != '"') {
                if (in[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            /* logfmt escapes only \" and \\, so the value is copied as is. */
            out[used++] = '"';
            for (size_t j = v; j < i && used + 7 < size; j++)
                out[used++] = in[j];
            out[used++] = '"';
            i++;
        } else {
            size_t v = i;
            while (i < len && in[i] != ' ')
                i++;
            char *end;
            char tmp[64];
            size_t vlen = i - v < sizeof tmp - 1 ? i - v : sizeof tmp - 1;
            memcpy(tmp, in + v, vlen);
            tmp[vlen] = '\0';
            (void)strtod(tmp, &end);
            int number = vlen > 0 && *end == '\0';
            if (!number)
                out[used++] = '"';
            used = json_escape(out, size, used, in + v, i - v);
            if (!number)
                out[used++] = '"';
        }
    }
    out[used++] = '}';
    return used;
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
    if (json_lines) {
        char json[8192];
        size_t m = logfmt_to_json(line, (size_t)n, json, sizeof json - 1);
        json[m++] = '\n';
        ssize_t written = write(STDERR_FILENO, json, m);
        (void)written;
        return;
    }
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
