/*
 * fuzz_decode.c: fuzzes the event decoder (detector/decode.h).
 *
 * Every input is one Kafka message value. It is decoded as a playback event
 * and as an error event by three decoders: the default dimensions, dimensions
 * named like the fields the decoder reads anyway ("code", "outcome",
 * "user_id"), and eight dimensions with awkward names ("ts" itself, names of
 * 16, 17 and more than 32 bytes, non-ASCII, a quote, a tab). Each result is
 * compared with a reference written here from decode.h alone: a slow,
 * obviously-correct recursive JSON parser and an RFC 3339 reader that share no
 * code with the decoder. On top of the reference, the harness checks what
 * must hold whatever the input: the return value is 0 or -1, a reason is one
 * of the documented phrases, the event's fields agree with its kind, and
 * every returned string lies inside the message or (only if the message has
 * an escape) in memory that no other returned string partly overlaps, and is
 * valid UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/decode.h"
#include "tests/fuzz/fuzz.h"

/* decode.h: accepted event times, 2000-01-01T00:00:00.000Z .. 2200-12-31T23:59:59.999Z. */
#define TS_MIN_MS 946684800000LL
#define TS_MAX_MS 7289654399999LL

#define R_TOO_LARGE  "message larger than 64 KiB"
#define R_UTF8       "not valid UTF-8"
#define R_JSON       "not valid JSON"
#define R_EMPTY      "empty message"
#define R_DEEP       "JSON nested too deeply"
#define R_NOT_OBJECT "not a JSON object"
#define R_DUPLICATE  "duplicate field"

/* Every constant reason decode.h lists; "<dimension> has the wrong type" comes on top. */
static const char *const constant_reasons[] = {
    R_TOO_LARGE,
    R_UTF8,
    R_JSON,
    R_EMPTY,
    R_DEEP,
    R_NOT_OBJECT,
    R_DUPLICATE,
    "missing ts",
    "ts has the wrong type",
    "ts cannot be parsed",
    "ts out of range",
    "missing outcome",
    "outcome has the wrong type",
    "unknown outcome",
    "missing code",
    "code has the wrong type",
    "empty code",
    "user_id has the wrong type",
};

/* ---- the decoders under test ---------------------------------------------- */

static const char *const dims_default[] = {"country", "platform", "app_version", "cdn"};
static const char *const dims_fields[] = {"code", "outcome", "user_id", "region", "device.model"};
static const char *const dims_edge[] = {
    "ts",          "abcdefghijklmnop", "abcdefghijklmnopq", "a_dimension_name_longer_than_32_bytes",
    "pa\xc3\xafs", "q\"uote",          "tab\tname",         "x",
};

struct dimset {
    const char *const *names;
    size_t n;
    fs_decoder_t *d; /* made on first use and kept, so state carries over between inputs */
};

static struct dimset dimsets[] = {
    {dims_default, sizeof dims_default / sizeof dims_default[0], NULL},
    {dims_fields, sizeof dims_fields / sizeof dims_fields[0], NULL},
    {dims_edge, sizeof dims_edge / sizeof dims_edge[0], NULL},
};

/* ---- bytes ----------------------------------------------------------------- */

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Length of the well-formed UTF-8 sequence at s (avail bytes readable), or 0:
 * decodes the code point and rejects overlong forms, surrogates and values
 * above U+10FFFF (RFC 3629).
 */
static size_t utf8_len(const uint8_t *s, size_t avail)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t cp;
    size_t n;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static int valid_utf8(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(s + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

static uint32_t hex4(const uint8_t *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 4 | (uint32_t)hex_value(s[i]);
    return v;
}

/*
 * Unescapes the contents s[0..n) of a JSON string that is known to be
 * well-formed into out (room for n bytes). Returns the length, or -1 if a \u
 * escape leaves an unpaired surrogate.
 */
static long ref_unescape(const uint8_t *s, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        uint8_t e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'u': {
            uint32_t cp = hex4(s + i);
            i += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return -1;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
                    return -1;
                uint32_t low = hex4(s + i + 2);
                if (low < 0xdc00 || low > 0xdfff)
                    return -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                i += 6;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: /* '"', '\\', '/' */
            out[o++] = e;
            break;
        }
    }
    return (long)o;
}

/* ---- reference RFC 3339 reader (timestamp.h) ------------------------------- */

static int digits(const uint8_t *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 0000-01-01 to y-01-01 (0 <= y <= 9999), proleptic Gregorian. */
static int64_t days_before_year(int64_t y)
{
    if (y == 0)
        return 0;
    /* Year 0 is a leap year; then the leap years among 1 .. y-1. */
    return 365 * y + 1 + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
}

/*
 * YYYY-MM-DD (T|t|' ') hh:mm:ss [.digits] (Z|z|(+|-)hh:mm), exactly len
 * bytes, into Unix epoch milliseconds. Returns 0 or -1.
 */
static int ref_timestamp(const uint8_t *s, size_t len, int64_t *out_ms)
{
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    int64_t frac = 0;
    size_t i;

    if (len < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && is_digit(s[i])) {
            if (i - start < 3)
                frac = frac * 10 + (s[i] - '0');
            i++;
        }
        if (i == start)
            return -1;
        for (size_t k = i - start; k < 3; k++)
            frac *= 10;
    }
    if (i >= len)
        return -1;
    int sign = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        sign = s[i] == '+' ? 1 : -1;
        if (len - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return -1;
    int dim = month_days[mo - 1] + (mo == 2 && is_leap(y));
    if (d > dim)
        return -1;
    if (sec == 60) {
        sec = 59;
        frac = 999;
    }
    int64_t day = days_before_year(y) - days_before_year(1970) + d - 1;
    for (int m = 1; m < mo; m++)
        day += month_days[m - 1] + (m == 2 && is_leap(y));
    int64_t ms = ((day * 24 + h) * 60 + mi) * 60000 + sec * 1000 + frac;
    *out_ms = ms - (int64_t)sign * (oh * 60 + om) * 60000;
    return 0;
}

/* ---- reference JSON parser ---------------------------------------------------- */

enum { J_STRING, J_NUMBER, J_LITERAL, J_CONTAINER };

/* One member of the top-level object. */
struct member {
    const uint8_t *key; /* unescaped (into the key arena) */
    long key_len;       /* -1: the key does not unescape (names no field) */
    int type;           /* J_* */
    const uint8_t *raw; /* J_STRING: the contents between the quotes; else the value's text */
    size_t raw_len;
    int str_state; /* J_STRING: 0 not unescaped yet, 1 done, -1 unpaired surrogate */
    const uint8_t *str;
    size_t str_len;
};

struct parser {
    const uint8_t *s;
    size_t len, pos;
    int too_deep; /* reached a container at depth FS_DECODE_MAX_DEPTH + 1 */
};

static int peek(const struct parser *p)
{
    return p->pos < p->len ? p->s[p->pos] : -1;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && is_ws(p->s[p->pos]))
        p->pos++;
}

/* The string at p->pos (its opening quote). The bytes are known to be valid UTF-8. */
static int parse_string(struct parser *p)
{
    p->pos++;
    while (p->pos < p->len) {
        uint8_t c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            p->pos++;
            continue;
        }
        if (p->len - p->pos < 2)
            return -1;
        uint8_t e = p->s[p->pos + 1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
            e == 't') {
            p->pos += 2;
        } else if (e == 'u') {
            if (p->len - p->pos < 6)
                return -1;
            for (size_t k = 2; k < 6; k++)
                if (hex_value(p->s[p->pos + k]) < 0)
                    return -1;
            p->pos += 6;
        } else {
            return -1;
        }
    }
    return -1;
}

static int parse_digits(struct parser *p)
{
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return -1;
    while (p->pos < p->len && is_digit(p->s[p->pos]))
        p->pos++;
    return 0;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int parse_number(struct parser *p)
{
    if (peek(p) == '-')
        p->pos++;
    if (peek(p) == '0')
        p->pos++;
    else if (parse_digits(p))
        return -1;
    if (peek(p) == '.') {
        p->pos++;
        if (parse_digits(p))
            return -1;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (parse_digits(p))
            return -1;
    }
    return 0;
}

static int parse_literal(struct parser *p)
{
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[i], n) == 0) {
            p->pos += n;
            return 0;
        }
    }
    return -1;
}

/*
 * The value at p->pos (not whitespace); a container there is at nesting
 * depth `depth` (the top level is 1). Recursion stops one level past the
 * limit, so the stack stays small whatever the input.
 */
static int parse_value(struct parser *p, int depth)
{
    int c = peek(p);
    if (c == '"')
        return parse_string(p);
    if (c == 't' || c == 'f' || c == 'n')
        return parse_literal(p);
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p);
    if (c != '{' && c != '[')
        return -1;
    if (depth > FS_DECODE_MAX_DEPTH) {
        p->too_deep = 1;
        return -1;
    }
    const int close = c == '{' ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (peek(p) == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        if (c == '{') {
            if (peek(p) != '"' || parse_string(p))
                return -1;
            skip_ws(p);
            if (peek(p) != ':')
                return -1;
            p->pos++;
            skip_ws(p);
        }
        if (parse_value(p, depth + 1))
            return -1;
        skip_ws(p);
        int n = peek(p);
        if (n == close) {
            p->pos++;
            return 0;
        }
        if (n != ',')
            return -1;
        p->pos++;
        skip_ws(p);
    }
}

/* The reference's view of a message whose bytes are valid. */
struct doc {
    int syntax_ok; /* one RFC 8259 value, nesting at most FS_DECODE_MAX_DEPTH */
    int too_deep;
    int object;
    struct member *members;
    size_t n_members;
    uint8_t *key_arena, *str_arena;
    size_t str_used;
};

/* The top-level object at p->pos, recording its members. */
static int parse_top_object(struct parser *p, struct doc *doc)
{
    size_t key_used = 0;
    p->pos++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        return 0;
    }
    for (;;) {
        struct member *m = &doc->members[doc->n_members];
        if (peek(p) != '"')
            return -1;
        size_t k0 = p->pos + 1;
        if (parse_string(p))
            return -1;
        size_t klen = p->pos - 1 - k0;
        m->key = doc->key_arena + key_used;
        m->key_len = ref_unescape(p->s + k0, klen, doc->key_arena + key_used);
        if (m->key_len > 0)
            key_used += (size_t)m->key_len;
        skip_ws(p);
        if (peek(p) != ':')
            return -1;
        p->pos++;
        skip_ws(p);
        size_t v0 = p->pos;
        int c = peek(p);
        if (parse_value(p, 2))
            return -1;
        if (c == '"') {
            m->type = J_STRING;
            m->raw = p->s + v0 + 1;
            m->raw_len = p->pos - v0 - 2;
        } else {
            m->type = c == '{' || c == '['                 ? J_CONTAINER
                      : (c == '-' || is_digit((uint8_t)c)) ? J_NUMBER
                                                           : J_LITERAL;
            m->raw = p->s + v0;
            m->raw_len = p->pos - v0;
        }
        m->str_state = 0;
        doc->n_members++;
        skip_ws(p);
        int n = peek(p);
        if (n == '}') {
            p->pos++;
            return 0;
        }
        if (n != ',')
            return -1;
        p->pos++;
        skip_ws(p);
    }
}

/* Parses s[0..len) (valid UTF-8, no control characters but tab, CR, LF, not blank). */
static int doc_parse(struct doc *doc, const uint8_t *s, size_t len)
{
    struct parser p = {s, len, 0, 0};
    memset(doc, 0, sizeof *doc);
    /* A member takes at least 4 bytes ("":0), plus room for one half-parsed. */
    doc->members = calloc(len / 4 + 2, sizeof *doc->members);
    doc->key_arena = malloc(len + 1);
    doc->str_arena = malloc(len + 1);
    if (!doc->members || !doc->key_arena || !doc->str_arena)
        return -1;
    skip_ws(&p);
    doc->object = peek(&p) == '{';
    int r = doc->object ? parse_top_object(&p, doc) : parse_value(&p, 1);
    if (r == 0) {
        skip_ws(&p);
        r = p.pos == len ? 0 : -1;
    }
    doc->syntax_ok = r == 0;
    doc->too_deep = p.too_deep;
    return 0;
}

static void doc_free(struct doc *doc)
{
    free(doc->members);
    free(doc->key_arena);
    free(doc->str_arena);
}

/* The member named name, or NULL; *count says how many members have that name. */
static struct member *doc_find(struct doc *doc, const char *name, size_t *count)
{
    struct member *found = NULL;
    size_t n = strlen(name);
    *count = 0;
    for (size_t i = 0; i < doc->n_members; i++) {
        struct member *m = &doc->members[i];
        if (m->key_len == (long)n && memcmp(m->key, name, n) == 0) {
            (*count)++;
            if (!found)
                found = m;
        }
    }
    return found;
}

/* A string member's value, unescaped once; -1 for an unpaired surrogate. */
static int member_string(struct doc *doc, struct member *m, const uint8_t **s, size_t *len)
{
    if (m->str_state == 0) {
        long n = ref_unescape(m->raw, m->raw_len, doc->str_arena + doc->str_used);
        if (n < 0) {
            m->str_state = -1;
        } else {
            m->str = doc->str_arena + doc->str_used;
            m->str_len = (size_t)n;
            doc->str_used += (size_t)n;
            m->str_state = 1;
        }
    }
    *s = m->str;
    *len = m->str_len;
    return m->str_state == 1 ? 0 : -1;
}

static int is_null(const struct member *m)
{
    return m->type == J_LITERAL && m->raw[0] == 'n';
}

/* ---- what the decoder must answer ------------------------------------------ */

struct bytes {
    const uint8_t *ptr;
    size_t len;
};

struct expect {
    const char *reason;   /* NULL: success */
    int deep_or_json;     /* bad syntax: either R_DEEP or R_JSON may be right */
    char wrong_type[128]; /* storage for "<dimension> has the wrong type" */
    int64_t ts_ms;
    int failed;
    struct bytes code, user, dims[FS_MAX_DIMS];
};

static const char *expect_ts(struct doc *doc, struct expect *x)
{
    size_t count;
    struct member *m = doc_find(doc, "ts", &count);
    if (!m)
        return "missing ts";
    if (m->type == J_STRING) {
        const uint8_t *s;
        size_t n;
        if (member_string(doc, m, &s, &n))
            return R_UTF8;
        if (ref_timestamp(s, n, &x->ts_ms))
            return "ts cannot be parsed";
    } else if (m->type == J_NUMBER) {
        for (size_t i = 0; i < m->raw_len; i++)
            if (m->raw[i] == '.' || m->raw[i] == 'e' || m->raw[i] == 'E')
                return "ts has the wrong type";
        if (m->raw[0] == '-')
            return "ts out of range";
        int64_t v = 0;
        for (size_t i = 0; i < m->raw_len; i++)
            v = v > TS_MAX_MS ? v : v * 10 + (m->raw[i] - '0'); /* saturates past the range */
        x->ts_ms = v;
    } else {
        return "ts has the wrong type";
    }
    if (x->ts_ms < TS_MIN_MS || x->ts_ms > TS_MAX_MS)
        return "ts out of range";
    return NULL;
}

/* The required field outcome or code. */
static const char *expect_kind(struct doc *doc, fs_event_kind_t kind, struct expect *x)
{
    const char *name = kind == FS_EVENT_ERROR ? "code" : "outcome";
    size_t count;
    struct member *m = doc_find(doc, name, &count);
    const uint8_t *s;
    size_t n;
    if (!m)
        return kind == FS_EVENT_ERROR ? "missing code" : "missing outcome";
    if (m->type != J_STRING)
        return kind == FS_EVENT_ERROR ? "code has the wrong type" : "outcome has the wrong type";
    if (member_string(doc, m, &s, &n))
        return R_UTF8;
    if (kind == FS_EVENT_ERROR) {
        if (n == 0)
            return "empty code";
        x->code.ptr = s;
        x->code.len = n;
        return NULL;
    }
    if (n == 2 && memcmp(s, "ok", 2) == 0)
        x->failed = 0;
    else if (n == 6 && memcmp(s, "failed", 6) == 0)
        x->failed = 1;
    else
        return "unknown outcome";
    return NULL;
}

static const char *expect_user_and_dims(struct doc *doc, const struct dimset *set, struct expect *x)
{
    size_t count;
    const uint8_t *s;
    size_t n;
    struct member *m = doc_find(doc, "user_id", &count);
    if (m && !is_null(m)) {
        if (m->type != J_STRING)
            return "user_id has the wrong type";
        if (member_string(doc, m, &s, &n))
            return R_UTF8;
        x->user.ptr = s;
        x->user.len = n;
    }
    for (size_t i = 0; i < set->n; i++) {
        x->dims[i].ptr = (const uint8_t *)"unknown";
        x->dims[i].len = 7;
        m = doc_find(doc, set->names[i], &count);
        if (!m || is_null(m))
            continue;
        if (m->type != J_STRING) {
            snprintf(x->wrong_type, sizeof x->wrong_type, "%s has the wrong type", set->names[i]);
            return x->wrong_type;
        }
        if (member_string(doc, m, &s, &n))
            return R_UTF8;
        if (n > 0) {
            x->dims[i].ptr = s;
            x->dims[i].len = n;
        }
    }
    return NULL;
}

/*
 * The answer decode.h prescribes for the message, given what the byte checks
 * and the reference parser found, for one kind and one set of dimensions.
 */
static void expect_event(struct doc *doc, const struct dimset *set, fs_event_kind_t kind,
                         struct expect *x)
{
    memset(x, 0, sizeof *x);
    if (doc->too_deep) {
        x->reason = R_DEEP;
        return;
    }
    if (!doc->syntax_ok) {
        x->reason = R_JSON;
        x->deep_or_json = 1;
        return;
    }
    if (!doc->object) {
        x->reason = R_NOT_OBJECT;
        return;
    }
    /* Only the keys this decoder uses for this kind are checked for duplicates. */
    size_t count;
    const char *used[3 + FS_MAX_DIMS] = {"ts", kind == FS_EVENT_ERROR ? "code" : "outcome",
                                         "user_id"};
    for (size_t i = 0; i < set->n; i++)
        used[3 + i] = set->names[i];
    for (size_t i = 0; i < 3 + set->n; i++) {
        doc_find(doc, used[i], &count);
        if (count > 1) {
            x->reason = R_DUPLICATE;
            return;
        }
    }
    if ((x->reason = expect_ts(doc, x)) || (x->reason = expect_kind(doc, kind, x)) ||
        (x->reason = expect_user_and_dims(doc, set, x)))
        return;
}

/* ---- checking one decode ------------------------------------------------------ */

struct input {
    const uint8_t *data;
    size_t size;
    int has_backslash;
    size_t brackets; /* '{' and '[' bytes anywhere */
};

static int same_bytes(fs_str_t got, struct bytes want)
{
    return got.len == want.len && (want.len == 0 || memcmp(got.ptr, want.ptr, want.len) == 0);
}

static int inside_input(const struct input *in, fs_str_t s)
{
    uintptr_t p = (uintptr_t)s.ptr, lo = (uintptr_t)in->data;
    return p >= lo && p - lo <= in->size && s.len <= in->size - (p - lo);
}

static int known_reason(const struct dimset *set, const char *reason)
{
    for (size_t i = 0; i < sizeof constant_reasons / sizeof constant_reasons[0]; i++)
        if (strcmp(reason, constant_reasons[i]) == 0)
            return 1;
    for (size_t i = 0; i < set->n; i++) {
        size_t n = strlen(set->names[i]);
        if (strncmp(reason, set->names[i], n) == 0 &&
            strcmp(reason + n, " has the wrong type") == 0)
            return 1;
    }
    return 0;
}

/* Where each returned string lives: in the message or in the decoder's scratch. */
static void check_strings(const struct input *in, const fs_event_t *ev, size_t n_dims)
{
    static const char *const names[2 + FS_MAX_DIMS] = {
        "code",    "user",    "dims[0]", "dims[1]", "dims[2]",
        "dims[3]", "dims[4]", "dims[5]", "dims[6]", "dims[7]",
    };
    fs_str_t all[2 + FS_MAX_DIMS];
    size_t n = 0;
    all[n++] = ev->code;
    all[n++] = ev->user;
    for (size_t i = 0; i < n_dims; i++)
        all[n++] = ev->dims[i];
    for (size_t i = 0; i < n; i++) {
        fs_str_t s = all[i];
        if (s.len == 0)
            continue;
        FUZZ_CHECK(s.ptr != NULL, "%s has len %zu and a NULL ptr", names[i], s.len);
        FUZZ_CHECK(valid_utf8((const uint8_t *)s.ptr, s.len), "%s is not valid UTF-8: \"%.*s\"",
                   names[i], (int)s.len, s.ptr);
        if (inside_input(in, s))
            continue;
        if (s.len == 7 && memcmp(s.ptr, "unknown", 7) == 0)
            continue; /* the decoder's constant for a missing dimension */
        FUZZ_CHECK(in->has_backslash, "%s (\"%.*s\") lies outside the message, which has no escape",
                   names[i], (int)s.len, s.ptr);
        /* Scratch strings: distinct fields never share bytes unless they are one value. */
        for (size_t j = 0; j < i; j++) {
            fs_str_t t = all[j];
            if (t.len == 0 || inside_input(in, t))
                continue;
            uintptr_t a = (uintptr_t)s.ptr, b = (uintptr_t)t.ptr;
            int overlap = a < b + t.len && b < a + s.len;
            FUZZ_CHECK(!overlap || (a == b && s.len == t.len),
                       "%s and %s overlap in scratch memory", names[i], names[j]);
        }
    }
}

static void check_decode(const struct input *in, struct doc *doc, int bytes_ok,
                         const char *bytes_reason, struct dimset *set, fs_event_kind_t kind)
{
    fs_event_t ev;
    const char *reason = NULL;
    const char *kind_name = kind == FS_EVENT_ERROR ? "error" : "playback";
    memset(&ev, 0x5a, sizeof ev);

    int rc = fs_decoder_decode(set->d, kind, (const char *)in->data, in->size, &ev, &reason);
    FUZZ_CHECK(rc == 0 || rc == -1, "fs_decoder_decode returned %d", rc);
    if (rc == -1) {
        FUZZ_CHECK(reason != NULL && reason[0] != '\0', "%s event: -1 without a reason", kind_name);
        FUZZ_CHECK(known_reason(set, reason), "%s event: undocumented reason \"%s\"", kind_name,
                   reason);
        FUZZ_CHECK(in->size <= FS_DECODE_MAX_BYTES || strcmp(reason, R_TOO_LARGE) == 0,
                   "%zu bytes: reason \"%s\", want \"%s\"", in->size, reason, R_TOO_LARGE);
    } else {
        FUZZ_CHECK(in->size <= FS_DECODE_MAX_BYTES, "%zu bytes accepted", in->size);
    }
    if (in->size > FS_DECODE_MAX_BYTES)
        return;

    /* The byte checks come before anything else. */
    if (!bytes_ok) {
        FUZZ_CHECK(rc == -1 && strcmp(reason, bytes_reason) == 0,
                   "%s event: got %s \"%s\", want the byte-level reason \"%s\"", kind_name,
                   rc ? "reason" : "success", rc ? reason : "", bytes_reason);
        return;
    }
    if (rc == -1 && strcmp(reason, R_UTF8) == 0)
        FUZZ_CHECK(in->has_backslash, "\"%s\" for a message of valid UTF-8 without escapes",
                   R_UTF8);

    struct expect x;
    expect_event(doc, set, kind, &x);
    if (x.deep_or_json) {
        FUZZ_CHECK(rc == -1 && (strcmp(reason, R_JSON) == 0 || strcmp(reason, R_DEEP) == 0),
                   "%s event, bad syntax: got %s \"%s\", want \"%s\" or \"%s\"", kind_name,
                   rc ? "reason" : "success", rc ? reason : "", R_JSON, R_DEEP);
        FUZZ_CHECK(in->brackets > FS_DECODE_MAX_DEPTH || strcmp(reason, R_DEEP) != 0,
                   "\"%s\" with only %zu brackets in the message", R_DEEP, in->brackets);
        return;
    }
    if (x.reason) {
        FUZZ_CHECK(rc == -1 && strcmp(reason, x.reason) == 0,
                   "%s event, dimension set %zu: got %s \"%s\", want \"%s\"", kind_name,
                   (size_t)(set - dimsets), rc ? "reason" : "success", rc ? reason : "", x.reason);
        return;
    }
    FUZZ_CHECK(rc == 0, "%s event, dimension set %zu: got \"%s\", want success", kind_name,
               (size_t)(set - dimsets), reason);

    /* Success: the event must say what the message says. */
    FUZZ_CHECK(ev.kind == kind, "kind %d, want %d", (int)ev.kind, (int)kind);
    FUZZ_CHECK(ev.ts_ms >= TS_MIN_MS && ev.ts_ms <= TS_MAX_MS, "ts_ms %lld out of range",
               (long long)ev.ts_ms);
    FUZZ_CHECK(ev.ts_ms == x.ts_ms, "ts_ms %lld, want %lld", (long long)ev.ts_ms,
               (long long)x.ts_ms);
    if (kind == FS_EVENT_PLAYBACK) {
        FUZZ_CHECK(ev.failed == x.failed, "failed %d, want %d", ev.failed, x.failed);
        FUZZ_CHECK(ev.code.len == 0, "playback event with a code of %zu bytes", ev.code.len);
    } else {
        FUZZ_CHECK(ev.failed == 0, "error event with failed = %d", ev.failed);
        FUZZ_CHECK(ev.code.len > 0, "error event with an empty code");
        FUZZ_CHECK(same_bytes(ev.code, x.code), "code \"%.*s\", want \"%.*s\"", (int)ev.code.len,
                   ev.code.ptr, (int)x.code.len, (const char *)x.code.ptr);
    }
    FUZZ_CHECK(same_bytes(ev.user, x.user), "user \"%.*s\", want \"%.*s\"", (int)ev.user.len,
               ev.user.ptr, (int)x.user.len, (const char *)x.user.ptr);
    for (size_t i = 0; i < FS_MAX_DIMS; i++) {
        if (i >= set->n) {
            FUZZ_CHECK(ev.dims[i].len == 0, "dims[%zu] past the %zu dimensions has len %zu", i,
                       set->n, ev.dims[i].len);
            continue;
        }
        FUZZ_CHECK(same_bytes(ev.dims[i], x.dims[i]), "dimension %s: \"%.*s\", want \"%.*s\"",
                   set->names[i], (int)ev.dims[i].len, ev.dims[i].ptr, (int)x.dims[i].len,
                   (const char *)x.dims[i].ptr);
    }
    check_strings(in, &ev, set->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size, 0, 0};
    struct doc doc;
    const char *bytes_reason = NULL;

    for (size_t i = 0; i < sizeof dimsets / sizeof dimsets[0]; i++) {
        if (dimsets[i].d)
            continue;
        char err[128] = "";
        dimsets[i].d = fs_decoder_new(dimsets[i].names, dimsets[i].n, err, sizeof err);
        FUZZ_CHECK(dimsets[i].d != NULL, "fs_decoder_new (dimension set %zu): %s", i, err);
    }

    /* The byte-level facts, in the order decode.h applies them. */
    int all_ws = 1, control = 0;
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i];
        in.has_backslash |= c == '\\';
        in.brackets += c == '{' || c == '[';
        all_ws &= is_ws(c);
        control |= c < 0x20 && !is_ws(c);
    }
    if (size <= FS_DECODE_MAX_BYTES) {
        if (!valid_utf8(data, size))
            bytes_reason = R_UTF8;
        else if (control)
            bytes_reason = R_JSON;
        else if (all_ws)
            bytes_reason = R_EMPTY;
    }
    memset(&doc, 0, sizeof doc);
    if (size <= FS_DECODE_MAX_BYTES && !bytes_reason)
        FUZZ_CHECK(doc_parse(&doc, data, size) == 0, "out of memory");

    for (size_t i = 0; i < sizeof dimsets / sizeof dimsets[0]; i++) {
        check_decode(&in, &doc, !bytes_reason, bytes_reason, &dimsets[i], FS_EVENT_PLAYBACK);
        check_decode(&in, &doc, !bytes_reason, bytes_reason, &dimsets[i], FS_EVENT_ERROR);
    }
    doc_free(&doc);
    return 0;
}
