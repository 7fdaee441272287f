/*
 * json_write.c: the JSON writer (see json_write.h).
 */
#include "detector/json_write.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void put(fs_jw_t *jw, const char *s, size_t n)
{
    if (jw->overflow || jw->len + n + 1 > jw->size) {
        jw->overflow = 1;
        return;
    }
    memcpy(jw->buf + jw->len, s, n);
    jw->len += n;
}

static void comma(fs_jw_t *jw)
{
    if (jw->need_comma)
        put(jw, ",", 1);
    jw->need_comma = 1;
}

void fs_jw_init(fs_jw_t *jw, char *buf, size_t size)
{
    jw->buf = buf;
    jw->size = size;
    jw->len = 0;
    jw->overflow = size == 0;
    jw->need_comma = 0;
}

void fs_jw_open(fs_jw_t *jw, char bracket)
{
    comma(jw);
    put(jw, &bracket, 1);
    jw->need_comma = 0;
}

void fs_jw_close(fs_jw_t *jw, char bracket)
{
    put(jw, &bracket, 1);
    jw->need_comma = 1;
}

void fs_jw_key(fs_jw_t *jw, const char *key)
{
    fs_jw_str(jw, key, strlen(key));
    put(jw, ":", 1);
    jw->need_comma = 0;
}

void fs_jw_str(fs_jw_t *jw, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    comma(jw);
    put(jw, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(jw, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"':
            put(jw, "\\\"", 2);
            break;
        case '\\':
            put(jw, "\\\\", 2);
            break;
        case '\n':
            put(jw, "\\n", 2);
            break;
        case '\t':
            put(jw, "\\t", 2);
            break;
        case '\r':
            put(jw, "\\r", 2);
            break;
        default:
            put(jw, esc, 6);
        }
    }
    put(jw, s + run, len - run);
    put(jw, "\"", 1);
}

void fs_jw_cstr(fs_jw_t *jw, const char *s)
{
    if (s)
        fs_jw_str(jw, s, strlen(s));
    else
        fs_jw_null(jw);
}

void fs_jw_int(fs_jw_t *jw, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    comma(jw);
    put(jw, tmp, (size_t)n);
}

void fs_jw_num(fs_jw_t *jw, double v)
{
    if (!isfinite(v)) {
        fs_jw_null(jw);
        return;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.6g", v);
    comma(jw);
    put(jw, tmp, (size_t)n);
}

void fs_jw_null(fs_jw_t *jw)
{
    comma(jw);
    put(jw, "null", 4);
}

long fs_jw_finish(fs_jw_t *jw)
{
    if (jw->overflow)
        return -1;
    jw->buf[jw->len] = '\0';
    return (long)jw->len;
}
