/*
 * decode.c: Kafka message value -> fs_event_t, or the reason it is invalid.
 *
 * Four steps, each linear in the message:
 *
 *  1. One pass over the bytes (16 at a time with SSE2, else 8, while they
 *     are plain ASCII) validates UTF-8, rejects control characters JSON never
 *     allows, and notes whether the message has any backslash, tab/newline
 *     or bracket at all, so the later steps can skip work for the common
 *     flat event.
 *  2. jsmn (strict mode, parent links) splits the message into tokens.
 *  3. jsmn is lax: it does not check separators (`[1 2]`, `{"a":1,}`), the
 *     spelling of primitives (`tru`, `01`, `1.`), control characters inside
 *     strings or what follows the top-level value. A recursive walk over the
 *     tokens checks all of that against the text between tokens, so the
 *     message is accepted only if it is RFC 8259 JSON. The same walk matches
 *     the keys of the top-level object against the fields the decoder cares
 *     about (by length first, then bytes).
 *  4. The matched values are type-checked, unescaped when they hold a
 *     backslash (into scratch memory owned by the decoder) and stored.
 *
 * jsmn's cost grows with nesting depth at every closing bracket, so messages
 * nested deeper than FS_DECODE_MAX_DEPTH are rejected before jsmn sees them.
 */
#include "detector/decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) && !defined(FS_DECODE_PORTABLE)
#define USE_SSE2 1
#include <emmintrin.h>
#endif

#include "detector/timestamp.h"

/* The jsmn implementation is compiled here, privately (static functions). */
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#define JSMN_STATIC
#include <jsmn.h>

/* Accepted event times: 2000-01-01T00:00:00.000Z to 2200-12-31T23:59:59.999Z. */
#define TS_MIN_MS 946684800000LL
#define TS_MAX_MS 7289654399999LL

/* What a top-level key means; one key can mean several things. */
enum {
    ROLE_TS = 1u << 0,
    ROLE_OUTCOME = 1u << 1,
    ROLE_CODE = 1u << 2,
    ROLE_USER = 1u << 3,
    ROLE_DIM = 1u << 4,
};

/* The built-in fields come first in the field table, in this order. */
enum { F_TS, F_OUTCOME, F_CODE, F_USER, F_BUILTIN };

#define MAX_FIELDS (F_BUILTIN + FS_MAX_DIMS)

struct field {
    char *name; /* owned, NUL-terminated */
    size_t len;
    unsigned roles;   /* ROLE_* */
    char *wrong_type; /* owned "<name> has the wrong type" when ROLE_DIM */
};

/* Key lengths indexed directly; longer keys share the last slot. */
#define LEN_SLOTS 32

struct fs_decoder {
    size_t n_fields;
    struct field fields[MAX_FIELDS];
    size_t n_dims;
    size_t dim_field[FS_MAX_DIMS];  /* index into fields of each dimension */
    uint32_t by_len[LEN_SLOTS + 1]; /* bit i: fields[i].len is the index (or > LEN_SLOTS) */
    uint32_t active[2];             /* by fs_event_kind_t: bit i: fields[i] matters */
    jsmntok_t *toks;                /* FS_DECODE_MAX_BYTES tokens: one per byte at most */
    char *scratch;                  /* FS_DECODE_MAX_BYTES: unescaped strings */

    /* Per-decode state, reset by fs_decoder_decode. */
    size_t scratch_used;
    int value_tok[MAX_FIELDS]; /* token of each field's value, 0 if absent */
    unsigned have_str;         /* bit i: str[i] holds field i's string value */
    fs_str_t str[MAX_FIELDS];
    int duplicate;
};

static const fs_str_t unknown = {"unknown", 7};

static const char R_TOO_LARGE[] = "message larger than 64 KiB";
static const char R_EMPTY[] = "empty message";
static const char R_UTF8[] = "not valid UTF-8";
static const char R_JSON[] = "not valid JSON";
static const char R_DEEP[] = "JSON nested too deeply";
static const char R_NOT_OBJECT[] = "not a JSON object";
static const char R_DUPLICATE[] = "duplicate field";

/* ---- construction ---------------------------------------------------- */

static void set_err(char *err, size_t err_size, const char *what, const char *name)
{
    if (err && err_size > 0)
        snprintf(err, err_size, "%s%s", what, name);
}

static int add_field(fs_decoder_t *d, const char *name, unsigned roles)
{
    struct field *f = &d->fields[d->n_fields];
    f->name = strdup(name);
    if (!f->name)
        return -1;
    f->len = strlen(name);
    f->roles = roles;
    d->n_fields++;
    return 0;
}

fs_decoder_t *fs_decoder_new(const char *const *dims, size_t n_dims, char *err, size_t err_size)
{
    fs_decoder_t *d = NULL;

    if (n_dims > FS_MAX_DIMS) {
        set_err(err, err_size, "too many dimensions (at most 8)", "");
        goto fail;
    }
    d = calloc(1, sizeof *d);
    if (!d)
        goto nomem;
    if (add_field(d, "ts", ROLE_TS) || add_field(d, "outcome", ROLE_OUTCOME) ||
        add_field(d, "code", ROLE_CODE) || add_field(d, "user_id", ROLE_USER))
        goto nomem;

    for (size_t i = 0; i < n_dims; i++) {
        const char *name = dims[i];
        if (!name || !*name) {
            set_err(err, err_size, "a dimension has an empty name", "");
            goto fail;
        }
        size_t fi = 0;
        while (fi < d->n_fields && strcmp(d->fields[fi].name, name) != 0)
            fi++;
        if (fi < d->n_fields && (d->fields[fi].roles & ROLE_DIM)) {
            set_err(err, err_size, "dimension listed twice: ", name);
            goto fail;
        }
        if (fi == d->n_fields && add_field(d, name, 0))
            goto nomem;
        struct field *f = &d->fields[fi];
        f->roles |= ROLE_DIM;
        size_t size = f->len + sizeof " has the wrong type";
        f->wrong_type = malloc(size);
        if (!f->wrong_type)
            goto nomem;
        snprintf(f->wrong_type, size, "%s has the wrong type", name);
        d->dim_field[i] = fi;
    }
    d->n_dims = n_dims;

    for (size_t i = 0; i < d->n_fields; i++) {
        const struct field *f = &d->fields[i];
        d->by_len[f->len < LEN_SLOTS ? f->len : LEN_SLOTS] |= 1u << i;
        if (f->roles & (ROLE_TS | ROLE_USER | ROLE_DIM | ROLE_OUTCOME))
            d->active[FS_EVENT_PLAYBACK] |= 1u << i;
        if (f->roles & (ROLE_TS | ROLE_USER | ROLE_DIM | ROLE_CODE))
            d->active[FS_EVENT_ERROR] |= 1u << i;
    }

    d->toks = calloc(FS_DECODE_MAX_BYTES, sizeof *d->toks);
    d->scratch = malloc(FS_DECODE_MAX_BYTES);
    if (!d->toks || !d->scratch)
        goto nomem;
    return d;

nomem:
    set_err(err, err_size, "out of memory", "");
fail:
    fs_decoder_free(d);
    return NULL;
}

void fs_decoder_free(fs_decoder_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_fields; i++) {
        free(d->fields[i].name);
        free(d->fields[i].wrong_type);
    }
    free(d->toks);
    free(d->scratch);
    free(d);
}

/* ---- step 1: bytes ----------------------------------------------------- */

struct scan {
    int ctrl;        /* a tab, CR or LF occurs: strings must be checked for them */
    int backslash;   /* a backslash occurs: strings may need unescaping */
    size_t brackets; /* '{' and '[' bytes, inside strings or not */
};

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define LOWS  0x7f7f7f7f7f7f7f7fULL

/* High bit of each byte of v that is zero; exact (no carries between bytes). */
static uint64_t zero_bytes(uint64_t v)
{
    return ~(((v & LOWS) + LOWS) | v | LOWS);
}

/* High bit of each byte of w that is >= 0x80 or a control character (< 0x20). */
static uint64_t unusual_bytes(uint64_t w)
{
    return (w | ~((w & LOWS) + ONES * 0x60)) & HIGHS;
}

/* Length of the valid UTF-8 sequence of two or more bytes at s, or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/*
 * Looks at the character at s[i] and updates sc. Returns the index just past
 * it, or 0 with *reason set if the message is invalid there.
 */
static size_t scan_char(const unsigned char *s, size_t len, size_t i, struct scan *sc,
                        const char **reason)
{
    unsigned char c = s[i];
    if (c >= 0x80) {
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0)
            *reason = R_UTF8;
        return n ? i + n : 0;
    }
    if (c < 0x20) {
        /* JSON allows only these, and only between tokens. */
        if (c != '\t' && c != '\n' && c != '\r') {
            *reason = R_JSON;
            return 0;
        }
        sc->ctrl = 1;
    } else if (c == '\\') {
        sc->backslash = 1;
    } else if (c == '{' || c == '[') {
        sc->brackets++;
    }
    return i + 1;
}

static const char *scan_bytes(const char *buf, size_t len, struct scan *sc)
{
    const unsigned char *s = (const unsigned char *)buf;
    const char *reason = NULL;
    uint64_t backslash = 0;
    size_t i = 0;

    memset(sc, 0, sizeof *sc);
#ifdef USE_SSE2
    /* Sixteen bytes at a time; the signed compare flags bytes >= 0x80 as well as controls. */
    const __m128i space = _mm_set1_epi8(0x20), bs = _mm_set1_epi8('\\'), brace = _mm_set1_epi8('{');
    __m128i backslashes = _mm_setzero_si128();
    while (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        if (_mm_movemask_epi8(_mm_cmplt_epi8(v, space))) {
            size_t end = i + 16;
            while (i < end)
                if ((i = scan_char(s, len, i, sc, &reason)) == 0)
                    return reason;
            continue;
        }
        backslashes = _mm_or_si128(backslashes, _mm_cmpeq_epi8(v, bs));
        unsigned brackets =
            (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(v, space), brace));
        if (brackets)
            sc->brackets += (size_t)__builtin_popcount(brackets);
        i += 16;
    }
    sc->backslash |= _mm_movemask_epi8(backslashes) != 0;
#endif
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        if (unusual_bytes(w)) {
            /* A multi-byte character may run past the word; the next word starts after it. */
            size_t end = i + 8;
            while (i < end)
                if ((i = scan_char(s, len, i, sc, &reason)) == 0)
                    return reason;
            continue;
        }
        backslash |= zero_bytes(w ^ (ONES * '\\'));
        /* '[' and '{' differ only in bit 0x20. */
        uint64_t brackets = zero_bytes((w | (ONES * 0x20)) ^ (ONES * '{'));
        if (brackets)
            sc->brackets += (size_t)__builtin_popcountll(brackets);
        i += 8;
    }
    while (i < len)
        if ((i = scan_char(s, len, i, sc, &reason)) == 0)
            return reason;
    sc->backslash |= backslash != 0;
    return NULL;
}

/* Whether the objects and arrays of buf nest deeper than FS_DECODE_MAX_DEPTH. */
static int too_deep(const char *buf, size_t len)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > FS_DECODE_MAX_DEPTH)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

/* ---- step 3: grammar --------------------------------------------------- */

static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int is_digit(char c)
{
    return (unsigned)(c - '0') <= 9;
}

/* Whether s[0..n) is exactly true, false, null or an RFC 8259 number. */
static int valid_primitive(const char *s, size_t n)
{
    size_t i = 0, first;

    switch (s[0]) {
    case 't':
        return n == 4 && memcmp(s, "true", 4) == 0;
    case 'f':
        return n == 5 && memcmp(s, "false", 5) == 0;
    case 'n':
        return n == 4 && memcmp(s, "null", 4) == 0;
    }
    if (s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && is_digit(s[i]))
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        first = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == first)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        first = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == first)
            return 0;
    }
    return i == n;
}

/*
 * Whether buf[from..to) is whitespace, then sep (unless sep is 0), then
 * whitespace: the text JSON allows between two tokens.
 */
static int valid_gap(const char *buf, size_t from, size_t to, char sep)
{
    if (from > to)
        return 0;
    while (from < to && is_ws(buf[from]))
        from++;
    if (sep) {
        if (from == to || buf[from] != sep)
            return 0;
        from++;
        while (from < to && is_ws(buf[from]))
            from++;
    }
    return from == to;
}

/* Four hex digits at s (n bytes available) into *v; -1 if not. */
static int hex4(const char *s, size_t n, unsigned *v)
{
    unsigned acc = 0;
    if (n < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)s[i];
        if (c - '0' <= 9)
            c -= '0';
        else if ((c | 0x20) - 'a' <= 5)
            c = (c | 0x20) - 'a' + 10;
        else
            return -1;
        acc = acc << 4 | c;
    }
    *v = acc;
    return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Writes the unescaped JSON string contents s[0..n) to out, which has room
 * for n bytes (unescaping never lengthens). Returns the length written, or -1
 * with *reason set when an escape is malformed or a \u escape is an unpaired
 * surrogate (not representable in UTF-8).
 */
static long unescape(const char *s, size_t n, char *out, const char **reason)
{
    size_t i = 0, o = 0;

    while (i < n) {
        const char *bs = memchr(s + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
        memcpy(out + o, s + i, run);
        o += run;
        i += run;
        if (i == n)
            break;
        if (i + 1 == n)
            goto bad_json;
        char c = s[i + 1];
        i += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            out[o++] = c;
            break;
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
            unsigned cp, low;
            if (hex4(s + i, n - i, &cp))
                goto bad_json;
            i += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                goto bad_utf8;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u' || hex4(s + i + 2, 4, &low) ||
                    low < 0xdc00 || low > 0xdfff)
                    goto bad_utf8;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                i += 6;
            }
            o += utf8_put(out + o, cp);
            break;
        }
        default:
            goto bad_json;
        }
    }
    return (long)o;

bad_json:
    *reason = R_JSON;
    return -1;
bad_utf8:
    *reason = R_UTF8;
    return -1;
}

/* memcmp(a, b, n) == 0 without a call: keys are short. */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Index of the field named s[0..n) among the fields in mask, or -1. */
static int match_key(const fs_decoder_t *d, const char *s, size_t n, uint32_t mask)
{
    uint32_t m = d->by_len[n < LEN_SLOTS ? n : LEN_SLOTS] & mask;
    while (m) {
        int i = __builtin_ctz(m);
        const struct field *f = &d->fields[i];
        if (f->len == n && same_bytes(f->name, s, n))
            return i;
        m &= m - 1;
    }
    return -1;
}

/* Records that the top-level key token at index k names a field in mask. */
static void note_key(fs_decoder_t *d, const char *buf, const struct scan *sc, int k, uint32_t mask)
{
    const jsmntok_t *t = &d->toks[k];
    const char *s = buf + t->start;
    size_t n = (size_t)(t->end - t->start);
    int fi;

    if (n == 0)
        return;
    if (sc->backslash && memchr(s, '\\', n)) {
        /*
         * Compare the key as the producer meant it ("t\u0073" is "ts"). The
         * scratch is unused while the grammar is checked, so it can hold it.
         */
        const char *ignored;
        long m = unescape(s, n, d->scratch, &ignored);
        if (m <= 0)
            return;
        fi = match_key(d, d->scratch, (size_t)m, mask);
    } else {
        fi = match_key(d, s, n, mask);
    }
    if (fi < 0)
        return;
    if (d->value_tok[fi])
        d->duplicate = 1;
    else
        d->value_tok[fi] = k + 1;
}

/* Whether buf[from..to) holds what JSON allows between two tokens, with sep in it. */
static inline int gap_ok(const char *buf, size_t from, size_t to, char sep)
{
    /* The usual case: no whitespace at all. */
    if (to - from == (sep != 0) && (sep == 0 || buf[from] == sep))
        return 1;
    return valid_gap(buf, from, to, sep);
}

/* A walk over jsmn's tokens, in document order. */
struct walk {
    fs_decoder_t *d;
    const char *buf;
    const struct scan *sc;
    const jsmntok_t *toks;
    int n;         /* tokens */
    int i;         /* next token */
    size_t cur;    /* first byte of buf not yet accounted for */
    uint32_t mask; /* fields to note among the top-level keys */
};

/* Where token t's text starts in buf (strings: at the opening quote). */
static inline size_t tok_start(const jsmntok_t *t)
{
    return (size_t)t->start - (t->type == JSMN_STRING);
}

/* Checks string or primitive token t and moves w->cur past it; 0 if valid. */
static inline int scalar(struct walk *w, const jsmntok_t *t)
{
    if (t->type == JSMN_STRING) {
        if (w->sc->ctrl) {
            for (int j = t->start; j < t->end; j++)
                if ((unsigned char)w->buf[j] < 0x20)
                    return -1;
        }
        w->cur = (size_t)t->end + 1;
        return 0;
    }
    if (!valid_primitive(w->buf + t->start, (size_t)(t->end - t->start)))
        return -1;
    w->cur = (size_t)t->end;
    return 0;
}

/*
 * Checks the value whose first token is w->toks[w->i] (the text before it is
 * already checked) and everything inside it, and moves w->i and w->cur past
 * it. depth counts the containers around the value; collect says the value
 * is the top-level object, whose keys are noted. Returns NULL or the reason.
 */
static const char *walk_value(struct walk *w, int depth, int collect)
{
    const jsmntok_t *t = &w->toks[w->i++];
    if (t->type == JSMN_STRING || t->type == JSMN_PRIMITIVE)
        return scalar(w, t) ? R_JSON : NULL;
    if (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY)
        return R_JSON;
    if (depth == FS_DECODE_MAX_DEPTH)
        return R_DEEP;

    /* The members are the tokens that start before the closing bracket. */
    const size_t end = (size_t)t->end;
    const int object = t->type == JSMN_OBJECT;
    const char *r;
    char sep = 0;
    w->cur = (size_t)t->start + 1;
    while (w->i < w->n && tok_start(&w->toks[w->i]) < end) {
        const jsmntok_t *v = &w->toks[w->i];
        if (!gap_ok(w->buf, w->cur, tok_start(v), sep))
            return R_JSON;
        sep = ',';
        if (object) {
            /* A key, then ':' and a value. */
            if (v->type != JSMN_STRING || scalar(w, v))
                return R_JSON;
            if (collect)
                note_key(w->d, w->buf, w->sc, w->i, w->mask);
            w->i++;
            if (w->i == w->n || tok_start(&w->toks[w->i]) >= end)
                return R_JSON;
            v = &w->toks[w->i];
            if (!gap_ok(w->buf, w->cur, tok_start(v), ':'))
                return R_JSON;
        }
        if (v->type == JSMN_STRING || v->type == JSMN_PRIMITIVE) {
            if (scalar(w, v))
                return R_JSON;
            w->i++;
        } else if ((r = walk_value(w, depth + 1, 0))) {
            return r;
        }
    }
    if (!gap_ok(w->buf, w->cur, end - 1, 0))
        return R_JSON;
    w->cur = end;
    return NULL;
}

/*
 * Checks that the n tokens jsmn made of buf are one RFC 8259 JSON value with
 * nothing but whitespace around it, and, if collect is set (the value is an
 * object), notes which top-level keys name fields in mask.
 */
static const char *check_grammar(fs_decoder_t *d, const char *buf, size_t len, int n,
                                 const struct scan *sc, int collect, uint32_t mask)
{
    struct walk w = {d, buf, sc, d->toks, n, 0, 0, mask};
    const char *r;

    if (!gap_ok(buf, 0, tok_start(&w.toks[0]), 0))
        return R_JSON;
    if ((r = walk_value(&w, 0, collect)))
        return r;
    /* One value only, then nothing but whitespace. */
    if (w.i != n || !valid_gap(buf, w.cur, len, 0))
        return R_JSON;
    return NULL;
}

/* ---- step 4: fields ---------------------------------------------------- */

/* The string value of field fi (a JSMN_STRING token), unescaped if needed. */
static const char *field_string(fs_decoder_t *d, const char *buf, const struct scan *sc, int fi,
                                fs_str_t *out)
{
    if (d->have_str & (1u << fi)) {
        *out = d->str[fi];
        return NULL;
    }
    const jsmntok_t *t = &d->toks[d->value_tok[fi]];
    const char *s = buf + t->start;
    size_t n = (size_t)(t->end - t->start);
    if (sc->backslash && memchr(s, '\\', n)) {
        /* Distinct fields are distinct tokens, so the scratch cannot overflow. */
        const char *reason;
        char *o = d->scratch + d->scratch_used;
        long m = unescape(s, n, o, &reason);
        if (m < 0)
            return reason;
        d->scratch_used += (size_t)m;
        s = o;
        n = (size_t)m;
    }
    d->str[fi].ptr = s;
    d->str[fi].len = n;
    d->have_str |= 1u << fi;
    *out = d->str[fi];
    return NULL;
}

static int is_null(const char *buf, const jsmntok_t *t)
{
    return t->type == JSMN_PRIMITIVE && buf[t->start] == 'n';
}

/* Whether the JSON number s[0..n) has a fraction or an exponent. */
static int has_fraction_or_exponent(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
            return 1;
    return 0;
}

/*
 * An integer ts from the primitive token s[0..n) (already checked to be valid
 * JSON): it must be a JSON integer (no fraction or exponent) in range.
 * Returns NULL or the reason.
 */
static const char *ts_integer(const char *s, size_t n, int64_t *ms)
{
    int64_t v = 0;

    if (s[0] == 't' || s[0] == 'f' || s[0] == 'n')
        return "ts has the wrong type";
    for (size_t i = 0; i < n; i++) {
        /* Bounding v on the way also rules out overflow. */
        if (!is_digit(s[i]) || v > TS_MAX_MS) {
            if (has_fraction_or_exponent(s + i, n - i))
                return "ts has the wrong type";
            return "ts out of range"; /* negative, or too large */
        }
        v = v * 10 + (s[i] - '0');
    }
    *ms = v;
    return NULL;
}

static const char *decode_ts(fs_decoder_t *d, const char *buf, const struct scan *sc,
                             fs_event_t *ev)
{
    if (!d->value_tok[F_TS])
        return "missing ts";
    const jsmntok_t *t = &d->toks[d->value_tok[F_TS]];
    const char *r;
    if (t->type == JSMN_STRING) {
        fs_str_t s;
        if ((r = field_string(d, buf, sc, F_TS, &s)))
            return r;
        if (fs_timestamp_parse(s.ptr, s.len, &ev->ts_ms))
            return "ts cannot be parsed";
    } else if (t->type == JSMN_PRIMITIVE) {
        if ((r = ts_integer(buf + t->start, (size_t)(t->end - t->start), &ev->ts_ms)))
            return r;
    } else {
        return "ts has the wrong type";
    }
    if (ev->ts_ms < TS_MIN_MS || ev->ts_ms > TS_MAX_MS)
        return "ts out of range";
    return NULL;
}

static const char *decode_outcome(fs_decoder_t *d, const char *buf, const struct scan *sc,
                                  fs_event_t *ev)
{
    if (!d->value_tok[F_OUTCOME])
        return "missing outcome";
    if (d->toks[d->value_tok[F_OUTCOME]].type != JSMN_STRING)
        return "outcome has the wrong type";
    fs_str_t s;
    const char *r = field_string(d, buf, sc, F_OUTCOME, &s);
    if (r)
        return r;
    if (s.len == 2 && memcmp(s.ptr, "ok", 2) == 0)
        ev->failed = 0;
    else if (s.len == 6 && memcmp(s.ptr, "failed", 6) == 0)
        ev->failed = 1;
    else
        return "unknown outcome";
    return NULL;
}

static const char *decode_code(fs_decoder_t *d, const char *buf, const struct scan *sc,
                               fs_event_t *ev)
{
    if (!d->value_tok[F_CODE])
        return "missing code";
    if (d->toks[d->value_tok[F_CODE]].type != JSMN_STRING)
        return "code has the wrong type";
    const char *r = field_string(d, buf, sc, F_CODE, &ev->code);
    if (r)
        return r;
    if (ev->code.len == 0)
        return "empty code";
    return NULL;
}

static const char *decode_user(fs_decoder_t *d, const char *buf, const struct scan *sc,
                               fs_event_t *ev)
{
    if (!d->value_tok[F_USER])
        return NULL;
    const jsmntok_t *t = &d->toks[d->value_tok[F_USER]];
    if (is_null(buf, t))
        return NULL;
    if (t->type != JSMN_STRING)
        return "user_id has the wrong type";
    return field_string(d, buf, sc, F_USER, &ev->user);
}

static const char *decode_dims(fs_decoder_t *d, const char *buf, const struct scan *sc,
                               fs_event_t *ev)
{
    for (size_t i = 0; i < d->n_dims; i++) {
        int fi = (int)d->dim_field[i];
        ev->dims[i] = unknown;
        if (!d->value_tok[fi])
            continue;
        const jsmntok_t *t = &d->toks[d->value_tok[fi]];
        if (is_null(buf, t))
            continue;
        if (t->type != JSMN_STRING)
            return d->fields[fi].wrong_type;
        fs_str_t s;
        const char *r = field_string(d, buf, sc, fi, &s);
        if (r)
            return r;
        if (s.len > 0)
            ev->dims[i] = s;
    }
    for (size_t i = d->n_dims; i < FS_MAX_DIMS; i++) {
        ev->dims[i].ptr = "";
        ev->dims[i].len = 0;
    }
    return NULL;
}

/* ---- entry point ------------------------------------------------------- */

/* A bare primitive is valid JSON, but jsmn cannot parse one that ends the input. */
static const char *check_bare_primitive(const char *buf, size_t len, size_t p)
{
    char c = buf[p];
    size_t end = len;
    while (end > p && is_ws(buf[end - 1]))
        end--;
    if ((c == '-' || is_digit(c) || c == 't' || c == 'f' || c == 'n') &&
        valid_primitive(buf + p, end - p))
        return R_NOT_OBJECT;
    return R_JSON;
}

int fs_decoder_decode(fs_decoder_t *d, fs_event_kind_t kind, const char *buf, size_t len,
                      fs_event_t *ev, const char **reason)
{
    struct scan sc;
    const char *r;
    size_t p = 0;

    if (len > FS_DECODE_MAX_BYTES) {
        r = R_TOO_LARGE;
        goto invalid;
    }
    if ((r = scan_bytes(buf, len, &sc)))
        goto invalid;
    while (p < len && is_ws(buf[p]))
        p++;
    if (p == len) {
        r = R_EMPTY;
        goto invalid;
    }
    if (sc.brackets > FS_DECODE_MAX_DEPTH && too_deep(buf, len)) {
        r = R_DEEP;
        goto invalid;
    }
    if (buf[p] != '{' && buf[p] != '[' && buf[p] != '"') {
        r = check_bare_primitive(buf, len, p);
        goto invalid;
    }
    int collect = buf[p] == '{';

    memset(d->value_tok, 0, sizeof d->value_tok);
    d->duplicate = 0;
    d->have_str = 0;
    d->scratch_used = 0;

    /* The only call of jsmn_parse: the compiler inlines it and keeps its state in registers. */
    jsmn_parser parser;
    jsmn_init(&parser);
    int n = jsmn_parse(&parser, buf, len, d->toks, FS_DECODE_MAX_BYTES);
    if (n <= 0) {
        r = R_JSON;
        goto invalid;
    }
    uint32_t mask = d->active[kind == FS_EVENT_ERROR];
    if ((r = check_grammar(d, buf, len, n, &sc, collect, mask)))
        goto invalid;
    if (!collect) {
        r = R_NOT_OBJECT;
        goto invalid;
    }
    if (d->duplicate) {
        r = R_DUPLICATE;
        goto invalid;
    }

    ev->kind = kind;
    ev->failed = 0;
    ev->code.ptr = "";
    ev->code.len = 0;
    ev->user.ptr = "";
    ev->user.len = 0;
    if ((r = decode_ts(d, buf, &sc, ev)))
        goto invalid;
    if (kind == FS_EVENT_ERROR)
        r = decode_code(d, buf, &sc, ev);
    else
        r = decode_outcome(d, buf, &sc, ev);
    if (r || (r = decode_user(d, buf, &sc, ev)) || (r = decode_dims(d, buf, &sc, ev)))
        goto invalid;
    return 0;

invalid:
    *reason = r;
    return -1;
}
