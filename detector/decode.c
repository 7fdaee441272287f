/*
 * decode.c: Kafka message value -> fs_event_t, or the reason it is invalid.
 *
 * A hand-written parser makes one pass over the message. It checks the whole
 * of RFC 8259 (strings with their escapes, numbers, literals, separators,
 * nesting up to FS_DECODE_MAX_DEPTH, nothing after the top-level value) and
 * that the bytes inside strings are well-formed UTF-8 without control
 * characters; outside strings JSON allows only ASCII anyway. Strings are
 * scanned 16 bytes at a time with SSE2 (8 with plain 64-bit words otherwise)
 * up to the next quote, backslash, control or non-ASCII byte. The keys of the
 * top-level object are matched against the fields the decoder uses, by length
 * first, then bytes, and the matched values are remembered as pointers into
 * the message: there is no token array.
 *
 * The parser only says whether the message is good. When it is not, the
 * reason is worked out afterwards, by the rules decode.h documents (invalid
 * bytes anywhere come before JSON errors, nesting before syntax), from a
 * second look at the message: invalid messages are rare, and this keeps the
 * fast path free of bookkeeping.
 *
 * Once the message is known to be good JSON, the remembered values are
 * type-checked, unescaped when they hold a backslash (into scratch memory
 * owned by the decoder) and stored.
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
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define USE_WORDS 1
#endif

#include "detector/timestamp.h"

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
    uint64_t head, tail; /* the first and the last 8 bytes of name, zero-padded if shorter */
    unsigned roles;      /* ROLE_* */
    char *wrong_type;    /* owned "<name> has the wrong type" when ROLE_DIM */
};

/* Key lengths indexed directly; longer keys share the last slot. */
#define LEN_SLOTS 32

/* The JSON type of a value, as far as the fields care. */
enum { V_STRING, V_PRIMITIVE, V_CONTAINER };

/* A field's value as found in the message. */
struct value {
    const char *ptr; /* strings: the contents between the quotes; else the value's text */
    size_t len;
    unsigned char type;   /* V_* */
    unsigned char escape; /* V_STRING: the contents hold a backslash */
};

struct fs_decoder {
    size_t n_fields;
    struct field fields[MAX_FIELDS];
    size_t n_dims;
    size_t dim_field[FS_MAX_DIMS];  /* index into fields of each dimension */
    uint32_t by_len[LEN_SLOTS + 1]; /* bit i: fields[i].len is the index (or > LEN_SLOTS) */
    uint32_t active[2];             /* by fs_event_kind_t: bit i: fields[i] matters */
    char *scratch;                  /* FS_DECODE_MAX_BYTES: unescaped keys and strings */

    /* Per-decode state, reset by fs_decoder_decode. */
    uint32_t seen;     /* bit i: value[i] holds field i's value */
    int duplicate;     /* a field in the mask appeared twice */
    unsigned have_str; /* bit i: str[i] holds field i's string value */
    size_t scratch_used;
    struct value value[MAX_FIELDS];
    fs_str_t str[MAX_FIELDS];
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
    memcpy(&f->head, f->name, f->len < 8 ? f->len : 8);
    if (f->len >= 8)
        memcpy(&f->tail, f->name + f->len - 8, 8);
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

    d->scratch = malloc(FS_DECODE_MAX_BYTES);
    if (!d->scratch)
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
    free(d->scratch);
    free(d);
}

/* ---- characters -------------------------------------------------------- */

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define LOWS  0x7f7f7f7f7f7f7f7fULL

/* High bit of each byte of v that is zero; exact (no carries between bytes). */
static inline uint64_t zero_bytes(uint64_t v)
{
    return ~(((v & LOWS) + LOWS) | v | LOWS);
}

/* High bit of each byte of w that is >= 0x80 or a control character (< 0x20). */
static inline uint64_t unusual_bytes(uint64_t w)
{
    return (w | ~((w & LOWS) + ONES * 0x60)) & HIGHS;
}

/*
 * Whether c ends a run of plain string characters: the quote, the backslash,
 * controls and everything from 0x80 up.
 */
static inline int string_stop(unsigned char c)
{
    return (unsigned char)(c - 0x20) >= 0x60 || c == '"' || c == '\\';
}

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int is_digit(unsigned char c)
{
    return (unsigned)(c - '0') <= 9;
}

static inline int is_hex(unsigned char c)
{
    return (unsigned)(c - '0') <= 9 || (unsigned)((c | 0x20) - 'a') <= 5;
}

/* Length of the valid UTF-8 sequence of two or more bytes at s, or 0 if invalid. */
static inline size_t utf8_seq(const unsigned char *s, size_t avail)
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

/* ---- the parser -------------------------------------------------------- */

/*
 * Each function takes p, the next byte to look at, and end, one past the last
 * byte of the message; nothing at or after end is ever read. Each returns
 * where it stopped, or NULL if the message is not good JSON there.
 *
 * Inside the top-level object the parser knows more: the message's last
 * byte other than whitespace, at lim, is the object's closing brace. A byte
 * that is not '}' therefore always has another after it, so the functions
 * with a _to_brace suffix read byte after byte without comparing with end.
 */

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    /* Compact JSON has no whitespace: one comparison decides the usual case. */
    while (p < end && *p <= ' ' && is_ws(*p))
        p++;
    return p;
}

static inline const unsigned char *skip_ws_to_brace(const unsigned char *p)
{
    while (*p <= ' ' && is_ws(*p))
        p++;
    return p;
}

/*
 * Inside the top-level object: the byte after c, which must come next, after
 * any whitespace; NULL if something else comes. Compact JSON has c at p.
 */
static inline const unsigned char *after_to_brace(const unsigned char *p, unsigned char c)
{
    if (*p != c) {
        p = skip_ws_to_brace(p);
        if (*p != c)
            return NULL;
    }
    return p + 1;
}

/* Which of the 16 bytes at p end a run of plain string characters, as bits. */
#ifdef USE_SSE2
static inline unsigned string_stops16(const unsigned char *p)
{
    const __m128i quote = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), space = _mm_set1_epi8(' ');
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* The signed comparison flags bytes >= 0x80 along with the controls. */
    __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs)),
                                _mm_cmplt_epi8(v, space));
    return (unsigned)_mm_movemask_epi8(stop);
}
#endif

/* The same for the 8 bytes at p: the high bit of each such byte. */
#ifdef USE_WORDS
static inline uint64_t string_stops8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return unusual_bytes(w) | zero_bytes(w ^ (ONES * '"')) | zero_bytes(w ^ (ONES * '\\'));
}
#endif

/*
 * string_end from p on, where p may be at any byte of the contents: handles
 * escapes, non-ASCII characters and long strings.
 */
static const unsigned char *string_rest(const unsigned char *p, const unsigned char *end,
                                        unsigned char *escape)
{
    for (;;) {
        /* Each loop stops at a byte that ends the run; the next ones then stop at once. */
#ifdef USE_SSE2
        while (end - p >= 16) {
            unsigned m = string_stops16(p);
            if (m) {
                p += __builtin_ctz(m);
                break;
            }
            p += 16;
        }
#endif
#ifdef USE_WORDS
        while (end - p >= 8) {
            uint64_t m = string_stops8(p);
            if (m) {
                p += __builtin_ctzll(m) >> 3;
                break;
            }
            p += 8;
        }
#endif
        while (p < end && !string_stop(*p))
            p++;
        if (p == end)
            return NULL;
        if (*p == '"')
            return p;
        if (*p == '\\') {
            *escape = 1;
            if (end - p < 2)
                return NULL;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u':
                if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                    return NULL;
                p += 6;
                break;
            default:
                return NULL;
            }
        } else if (*p >= 0x80) {
            /* Text that is not ASCII comes in runs: check the whole run here. */
            do {
                size_t n = utf8_seq(p, (size_t)(end - p));
                if (n == 0)
                    return NULL;
                p += n;
            } while (p < end && *p >= 0x80);
        } else {
            return NULL; /* a control character */
        }
    }
}

/*
 * The string whose contents start at p (just past the opening quote). Returns
 * the closing quote; sets *escape if the contents hold a backslash. Escapes
 * are checked for form only: a \u escape may name a lone surrogate, which
 * only matters (as invalid UTF-8) if the decoder unescapes the string.
 *
 * Inline, the common case: a short plain ASCII string, its closing quote
 * among the next 16 bytes.
 */
static inline const unsigned char *string_end(const unsigned char *p, const unsigned char *end,
                                              unsigned char *escape)
{
#if defined(USE_SSE2)
    if (end - p >= 16) {
        unsigned m = string_stops16(p);
        if (!m)
            return string_rest(p + 16, end, escape);
        p += __builtin_ctz(m);
        if (*p == '"')
            return p;
    }
#elif defined(USE_WORDS)
    if (end - p >= 8) {
        uint64_t m = string_stops8(p);
        if (!m)
            return string_rest(p + 8, end, escape);
        p += __builtin_ctzll(m) >> 3;
        if (*p == '"')
            return p;
    }
#endif
    return string_rest(p, end, escape);
}

/* The RFC 8259 number starting at p (a '-', a digit, or anything else: not a number). */
static const unsigned char *number_end(const unsigned char *p, const unsigned char *end)
{
    if (*p == '-' && ++p == end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (is_digit(*p)) {
        do
            p++;
        while (p < end && is_digit(*p));
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        if (++p == end || !is_digit(*p))
            return NULL;
        do
            p++;
        while (p < end && is_digit(*p));
    }
    if (p < end && (*p | 0x20) == 'e') {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return NULL;
        do
            p++;
        while (p < end && is_digit(*p));
    }
    return p;
}

/* number_end inside the top-level object. */
static inline const unsigned char *number_end_to_brace(const unsigned char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0') {
        p++;
    } else if (is_digit(*p)) {
        do
            p++;
        while (is_digit(*p));
    } else {
        return NULL;
    }
    if (*p == '.') {
        if (!is_digit(*++p))
            return NULL;
        do
            p++;
        while (is_digit(*p));
    }
    if ((*p | 0x20) == 'e') {
        if (*++p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return NULL;
        do
            p++;
        while (is_digit(*p));
    }
    return p;
}

/* The literal true, false or null starting at p (one of 't', 'f', 'n'), inside the object. */
static inline const unsigned char *literal_end_to_brace(const unsigned char *p)
{
    /* Each comparison reads a byte only after a byte that was not '}'. */
    if (*p == 't')
        return p[1] == 'r' && p[2] == 'u' && p[3] == 'e' ? p + 4 : NULL;
    if (*p == 'f')
        return p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e' ? p + 5 : NULL;
    return p[1] == 'u' && p[2] == 'l' && p[3] == 'l' ? p + 4 : NULL;
}

/* The literal true, false or null starting at p (one of 't', 'f', 'n'). */
static const unsigned char *literal_end(const unsigned char *p, const unsigned char *end)
{
    size_t n = *p == 'f' ? 5 : 4;
    if ((size_t)(end - p) < n)
        return NULL;
    /* All n bytes are in the message, so the comparisons may read them. */
    return literal_end_to_brace(p);
}

static const unsigned char *container_end(const unsigned char *p, const unsigned char *end,
                                          int depth);

/*
 * The value starting at p (p < end, not whitespace), inside depth containers.
 * A value never nests deeper than FS_DECODE_MAX_DEPTH, so the recursion
 * through container_end is bounded.
 */
static const unsigned char *value_end(const unsigned char *p, const unsigned char *end, int depth)
{
    unsigned char escape;
    switch (*p) {
    case '"':
        p = string_end(p + 1, end, &escape);
        return p ? p + 1 : NULL;
    case '{':
    case '[':
        return container_end(p, end, depth + 1);
    case 't':
    case 'f':
    case 'n':
        return literal_end(p, end);
    default:
        return number_end(p, end);
    }
}

/* The object or array whose opening bracket is at p, itself at nesting depth. */
static const unsigned char *container_end(const unsigned char *p, const unsigned char *end,
                                          int depth)
{
    const int object = *p == '{';
    const unsigned char close = object ? '}' : ']';
    unsigned char escape;

    if (depth > FS_DECODE_MAX_DEPTH)
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (p == end)
            return NULL;
        if (object) {
            if (*p != '"' || !(p = string_end(p + 1, end, &escape)))
                return NULL;
            p = skip_ws(p + 1, end);
            if (p == end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
            if (p == end)
                return NULL;
        }
        if (!(p = value_end(p, end, depth)))
            return NULL;
        p = skip_ws(p, end);
        if (p == end)
            return NULL;
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

/* ---- fields ------------------------------------------------------------ */

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

/*
 * Whether the n bytes at s, which may be read up to end, are the name of f
 * (whose length is n).
 */
static inline int is_name(const struct field *f, const char *s, size_t n, const char *end)
{
#ifdef USE_WORDS
    /* Keys are short: one or two loads from the message, compared with the name's words. */
    if (n <= 16 && end - s >= 8) {
        uint64_t w;
        memcpy(&w, s, sizeof w);
        if (n < 8)
            return ((w ^ f->head) & ((1ULL << (8 * n)) - 1)) == 0;
        uint64_t t;
        memcpy(&t, s + n - 8, sizeof t);
        return w == f->head && t == f->tail;
    }
#else
    (void)end;
#endif
    return same_bytes(f->name, s, n);
}

/* Index of the field named s[0..n) among the fields in mask, or -1; s may be read up to end. */
static inline int match_key(const fs_decoder_t *d, const char *s, size_t n, const char *end,
                            uint32_t mask)
{
    uint32_t m = d->by_len[n < LEN_SLOTS ? n : LEN_SLOTS] & mask;
    while (m) {
        int i = __builtin_ctz(m);
        const struct field *f = &d->fields[i];
        /* Below LEN_SLOTS, by_len already says the lengths are equal. */
        if ((n < LEN_SLOTS || f->len == n) && is_name(f, s, n, end))
            return i;
        m &= m - 1;
    }
    return -1;
}

/*
 * match_key for a key with escapes: it is compared as the producer meant it
 * ("t\u0073" is "ts"). The scratch is unused until the whole message has been
 * parsed, so it can hold the key meanwhile. A key that does not unescape
 * (a lone surrogate) names no field.
 */
static int match_escaped_key(fs_decoder_t *d, const char *s, size_t n, uint32_t mask)
{
    const char *ignored;
    long m = unescape(s, n, d->scratch, &ignored);
    if (m <= 0)
        return -1;
    return match_key(d, d->scratch, (size_t)m, d->scratch + m, mask);
}

/*
 * Parses the top-level object whose '{' is at p and whose closing brace is
 * at lim (the last byte of the message other than whitespace): every member
 * is checked, and the value of each key that names a field in mask is
 * remembered. Returns the byte after the closing brace or NULL; a brace
 * before lim ends the object too early, so the caller checks for lim + 1.
 */
static const unsigned char *top_object(fs_decoder_t *d, const unsigned char *p,
                                       const unsigned char *end, const unsigned char *lim,
                                       uint32_t mask)
{
    p = skip_ws_to_brace(p + 1);
    if (*p == '}')
        return p + 1;
    for (;;) {
        unsigned char escape = 0;
        if (!(p = after_to_brace(p, '"')))
            return NULL;
        /* A closing quote is never at lim, so the byte after it can be read. */
        const unsigned char *key = p;
        if (!(p = string_end(key, end, &escape)))
            return NULL;
        const size_t key_len = (size_t)(p - key);
        int fi = escape ? match_escaped_key(d, (const char *)key, key_len, mask)
                        : match_key(d, (const char *)key, key_len, (const char *)end, mask);

        if (!(p = after_to_brace(p + 1, ':')))
            return NULL;

        struct value v;
        escape = 0;
    value:
        v.ptr = (const char *)p;
        /* Most values are strings: they skip the switch. */
        if (*p == '"') {
            if (!(p = string_end(p + 1, end, &escape)))
                return NULL;
            v.ptr++;
            v.type = V_STRING;
            v.len = (size_t)(p - (const unsigned char *)v.ptr);
            p++;
        } else {
            switch (*p) {
            case '{':
            case '[':
                /* A container may end at lim, taking the top-level object's brace. */
                if (!(p = container_end(p, end, 2)) || p > lim)
                    return NULL;
                v.type = V_CONTAINER;
                v.len = (size_t)(p - (const unsigned char *)v.ptr);
                break;
            case 't':
            case 'f':
            case 'n':
                if (!(p = literal_end_to_brace(p)))
                    return NULL;
                v.type = V_PRIMITIVE;
                v.len = (size_t)(p - (const unsigned char *)v.ptr);
                break;
            case '-':
            case '0':
            case '1':
            case '2':
            case '3':
            case '4':
            case '5':
            case '6':
            case '7':
            case '8':
            case '9':
                if (!(p = number_end_to_brace(p)))
                    return NULL;
                v.type = V_PRIMITIVE;
                v.len = (size_t)(p - (const unsigned char *)v.ptr);
                break;
            case ' ':
            case '\t':
            case '\n':
            case '\r':
                p = skip_ws_to_brace(p);
                goto value;
            default:
                return NULL;
            }
        }
        if (fi >= 0) {
            v.escape = escape;
            if (d->seen & (1u << fi)) {
                d->duplicate = 1;
            } else {
                d->seen |= 1u << fi;
                d->value[fi] = v;
            }
        }

        /* Then a comma and the next member, or the closing brace. */
        if (*p != ',') {
            p = skip_ws_to_brace(p);
            if (*p == '}')
                return p + 1;
            if (*p != ',')
                return NULL;
        }
        p++;
    }
}

/* field_string for a value with escapes: unescaped once into the scratch. */
static const char *field_unescaped(fs_decoder_t *d, int fi, fs_str_t *out)
{
    if (!(d->have_str & (1u << fi))) {
        /* Distinct fields are distinct values, so the scratch cannot overflow. */
        const struct value *v = &d->value[fi];
        const char *reason;
        char *o = d->scratch + d->scratch_used;
        long m = unescape(v->ptr, v->len, o, &reason);
        if (m < 0)
            return reason;
        d->scratch_used += (size_t)m;
        d->str[fi].ptr = o;
        d->str[fi].len = (size_t)m;
        d->have_str |= 1u << fi;
    }
    *out = d->str[fi];
    return NULL;
}

/* The string value of field fi (a V_STRING value), unescaped if needed; NULL or the reason. */
static inline const char *field_string(fs_decoder_t *d, int fi, fs_str_t *out)
{
    const struct value *v = &d->value[fi];
    if (v->escape)
        return field_unescaped(d, fi, out);
    out->ptr = v->ptr;
    out->len = v->len;
    return NULL;
}

static int is_null(const struct value *v)
{
    return v->type == V_PRIMITIVE && v->ptr[0] == 'n';
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
 * An integer ts from the primitive s[0..n) (already checked to be valid
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
        if (!is_digit((unsigned char)s[i]) || v > TS_MAX_MS) {
            if (has_fraction_or_exponent(s + i, n - i))
                return "ts has the wrong type";
            return "ts out of range"; /* negative, or too large */
        }
        v = v * 10 + (s[i] - '0');
    }
    *ms = v;
    return NULL;
}

static const char *decode_ts(fs_decoder_t *d, fs_event_t *ev)
{
    if (!(d->seen & (1u << F_TS)))
        return "missing ts";
    const struct value *v = &d->value[F_TS];
    const char *r;
    if (v->type == V_STRING) {
        fs_str_t s = {NULL, 0};
        if ((r = field_string(d, F_TS, &s)))
            return r;
        if (fs_timestamp_parse(s.ptr, s.len, &ev->ts_ms))
            return "ts cannot be parsed";
    } else if (v->type == V_PRIMITIVE) {
        if ((r = ts_integer(v->ptr, v->len, &ev->ts_ms)))
            return r;
    } else {
        return "ts has the wrong type";
    }
    if (ev->ts_ms < TS_MIN_MS || ev->ts_ms > TS_MAX_MS)
        return "ts out of range";
    return NULL;
}

static const char *decode_outcome(fs_decoder_t *d, fs_event_t *ev)
{
    if (!(d->seen & (1u << F_OUTCOME)))
        return "missing outcome";
    if (d->value[F_OUTCOME].type != V_STRING)
        return "outcome has the wrong type";
    fs_str_t s = {NULL, 0};
    const char *r = field_string(d, F_OUTCOME, &s);
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

static const char *decode_code(fs_decoder_t *d, fs_event_t *ev)
{
    if (!(d->seen & (1u << F_CODE)))
        return "missing code";
    if (d->value[F_CODE].type != V_STRING)
        return "code has the wrong type";
    const char *r = field_string(d, F_CODE, &ev->code);
    if (r)
        return r;
    if (ev->code.len == 0)
        return "empty code";
    return NULL;
}

static const char *decode_user(fs_decoder_t *d, fs_event_t *ev)
{
    if (!(d->seen & (1u << F_USER)))
        return NULL;
    const struct value *v = &d->value[F_USER];
    if (is_null(v))
        return NULL;
    if (v->type != V_STRING)
        return "user_id has the wrong type";
    return field_string(d, F_USER, &ev->user);
}

static const char *decode_dims(fs_decoder_t *d, fs_event_t *ev)
{
    for (size_t i = 0; i < d->n_dims; i++) {
        int fi = (int)d->dim_field[i];
        ev->dims[i] = unknown;
        if (!(d->seen & (1u << fi)))
            continue;
        const struct value *v = &d->value[fi];
        if (is_null(v))
            continue;
        if (v->type != V_STRING)
            return d->fields[fi].wrong_type;
        fs_str_t s;
        const char *r = field_string(d, fi, &s);
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

/* ---- why a message is not good JSON ------------------------------------ */

/*
 * Ill-formed UTF-8 anywhere in the message gives "not valid UTF-8", even
 * after a control character (decode.h's order); otherwise a control
 * character other than tab, CR and LF gives "not valid JSON"; NULL if there
 * is neither.
 */
static const char *bad_bytes(const unsigned char *s, size_t len)
{
    size_t i = 0;
    const char *control = NULL;
    while (i < len) {
#ifdef USE_WORDS
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            if (!unusual_bytes(w)) {
                i += 8;
                continue;
            }
        }
#endif
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = utf8_seq(s + i, len - i);
            if (n == 0)
                return R_UTF8;
            i += n;
        } else if (c < 0x20 && !is_ws(c)) {
            control = R_JSON;
            i++;
        } else {
            i++;
        }
    }
    return control;
}

/*
 * Whether brackets nest deeper than FS_DECODE_MAX_DEPTH, counting those
 * outside strings and taking a quote after a backslash as part of a string;
 * the message need not be good JSON.
 */
static int too_deep(const unsigned char *s, size_t len)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
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

/*
 * The reason a message the parser rejected is invalid. The checks apply in
 * the order decode.h lists them: bad bytes anywhere in the message, then
 * emptiness, then nesting (an excess of brackets is reported even when the
 * syntax breaks earlier), then any other syntax error.
 */
static const char *rejected(const unsigned char *s, size_t len)
{
    const char *r = bad_bytes(s, len);
    if (r)
        return r;
    if (skip_ws(s, s + len) == s + len)
        return R_EMPTY;
    if (too_deep(s, len))
        return R_DEEP;
    return R_JSON;
}

/* ---- entry point ------------------------------------------------------- */

int fs_decoder_decode(fs_decoder_t *d, fs_event_kind_t kind, const char *buf, size_t len,
                      fs_event_t *ev, const char **reason)
{
    const unsigned char *s = (const unsigned char *)buf, *end = s + len, *p;
    const char *r;

    if (len > FS_DECODE_MAX_BYTES) {
        r = R_TOO_LARGE;
        goto invalid;
    }

    d->seen = 0;
    d->duplicate = 0;
    d->have_str = 0;
    d->scratch_used = 0;

    /* good: the message is one JSON value, with nothing but whitespace around it. */
    int good = 0;
    p = skip_ws(s, end);
    const int object = p < end && *p == '{';
    if (object) {
        const unsigned char *lim = end - 1;
        while (lim > p && is_ws(*lim))
            lim--;
        good = lim > p && *lim == '}' &&
               top_object(d, p, end, lim, d->active[kind == FS_EVENT_ERROR]) == lim + 1;
    } else if (p < end && (p = value_end(p, end, 0))) {
        good = skip_ws(p, end) == end;
    }
    if (!good) {
        r = rejected(s, len);
        goto invalid;
    }
    if (!object) {
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
    if ((r = decode_ts(d, ev)))
        goto invalid;
    if (kind == FS_EVENT_ERROR)
        r = decode_code(d, ev);
    else
        r = decode_outcome(d, ev);
    if (r || (r = decode_user(d, ev)) || (r = decode_dims(d, ev)))
        goto invalid;
    return 0;

invalid:
    *reason = r;
    return -1;
}
