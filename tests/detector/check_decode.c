/*
 * check_decode.c: the decoder accepts exactly the events of CONTRACT.md
 * section 1, returns their fields unescaped, rejects everything else with the
 * documented reason, and never allocates while decoding.
 *
 * Each message is copied into a heap block of exactly its length, so a read
 * past the end is caught when the suite runs under AddressSanitizer.
 * malloc, calloc and realloc are wrapped at link time (see CMakeLists.txt) to
 * count allocations.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/decode.h"

/* ---- allocation counting (-Wl,--wrap=malloc,calloc,realloc) ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static long allocations;

void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    allocations++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    allocations++;
    return __real_realloc(p, size);
}

/* ---- helpers ---- */

static const char *const default_dims[] = {"country", "platform", "app_version", "cdn"};
static const char *const custom_dims[] = {"cdn", "region", "device.model", "country", "code"};

enum { DIMS_DEFAULT, DIMS_CUSTOM };

static fs_decoder_t *new_decoder(int which)
{
    char err[128] = "";
    fs_decoder_t *d = which == DIMS_CUSTOM ? fs_decoder_new(custom_dims, 5, err, sizeof err)
                                           : fs_decoder_new(default_dims, 4, err, sizeof err);
    ck_assert_msg(d != NULL, "fs_decoder_new: %s", err);
    return d;
}

/* A heap copy of exactly len bytes: no NUL after it. */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, s, len);
    return p;
}

static int str_is(fs_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define ck_assert_fs_str(s, want)                                                                  \
    ck_assert_msg(str_is((s), (want)), "%s: got \"%.*s\", want \"%s\"", #s, (int)(s).len,          \
                  (s).ptr ? (s).ptr : "", (want))

/* ---- valid events ---- */

struct valid_case {
    const char *name;
    fs_event_kind_t kind;
    int dims;
    const char *json;
    int64_t ts_ms;
    int failed;
    const char *code;
    const char *user;
    const char *dim[5];
};

#define TS1 1795809605250LL /* 2026-11-27T20:00:05.250Z (date -u -d ... +%s) */

static const struct valid_case valid[] = {
    {"playback, integer ts, all dimensions",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":1795809605250,\"outcome\":\"failed\",\"user_id\":\"u-17\",\"country\":\"BR\","
     "\"platform\":\"android\",\"app_version\":\"7.4.1\",\"cdn\":\"edge-b\"}",
     TS1,
     1,
     "",
     "u-17",
     {"BR", "android", "7.4.1", "edge-b"}},
    {"playback, string ts, no dimensions",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"outcome\":\"ok\",\"ts\":\"2026-11-27T20:00:05.250Z\"}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"playback, ts with offset",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":\"2026-11-27T21:00:05.250+01:00\",\"outcome\":\"ok\",\"cdn\":\"a\"}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "a"}},
    {"playback, leap day",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":\"2028-02-29T12:00:00Z\",\"outcome\":\"ok\"}",
     1835438400000LL,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"error event",
     FS_EVENT_ERROR,
     DIMS_DEFAULT,
     "{\"ts\":1795809605250,\"code\":\"AUDIO_DECODE\",\"user_id\":\"u-9\",\"country\":\"DE\","
     "\"platform\":\"tvos\"}",
     TS1,
     0,
     "AUDIO_DECODE",
     "u-9",
     {"DE", "tvos", "unknown", "unknown"}},
    {"escapes are unescaped",
     FS_EVENT_ERROR,
     DIMS_DEFAULT,
     "{\"ts\":\"2026-11-27T20:00:05\\u002e250Z\",\"code\":\"AUDIO\\u005fDECODE\","
     "\"user_id\":\"a\\\"b\\\\c\\/d\",\"country\":\"C\\u00f4te d'Ivoire\","
     "\"platform\":\"\\ud83d\\ude00\",\"app_version\":\"\\b\\f\\n\\r\\t\",\"cdn\":\"\\u20AC\"}",
     TS1,
     0,
     "AUDIO_DECODE",
     "a\"b\\c/d",
     {"C\xc3\xb4te d'Ivoire", "\xf0\x9f\x98\x80", "\b\f\n\r\t", "\xe2\x82\xac"}},
    {"raw UTF-8 values",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":1795809605250,\"outcome\":\"ok\",\"country\":\"Espa\xc3\xb1"
     "a\","
     "\"platform\":\"\xe6\x97\xa5\xe6\x9c\xac\",\"cdn\":\"\xf0\x9f\x8c\x8d\"}",
     TS1,
     0,
     "",
     "",
     {"Espa\xc3\xb1"
      "a",
      "\xe6\x97\xa5\xe6\x9c\xac", "unknown", "\xf0\x9f\x8c\x8d"}},
    {"null optional fields and empty dimension",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":1795809605250,\"outcome\":\"ok\",\"user_id\":null,\"country\":null,\"cdn\":\"\","
     "\"platform\":\"web\"}",
     TS1,
     0,
     "",
     "",
     {"unknown", "web", "unknown", "unknown"}},
    {"empty user_id",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":1795809605250,\"outcome\":\"ok\",\"user_id\":\"\"}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"extra fields of every JSON type",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"s\":\"x\\u0041\\\"\",\"i\":-12,\"f\":3.25,\"e\":-1.5E+10,\"z\":0,\"e2\":2e-3,"
     "\"t\":true,\"fa\":false,\"n\":null,\"o\":{\"a\":[1,{\"b\":null}],\"c\":{}},"
     "\"a\":[[],{},\"\",0.5,[true,false,null]],\"eo\":{},\"ea\":[],"
     "\"ts\":1795809605250,\"outcome\":\"failed\",\"country\":\"FR\"}",
     TS1,
     1,
     "",
     "",
     {"FR", "unknown", "unknown", "unknown"}},
    {"whitespace everywhere",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     " \r\n\t{ \"ts\" :\n1795809605250 ,\r\n\t\"outcome\"\t:\t\"ok\" , \"x\" : [ 1 , 2 ] , "
     "\"cdn\" : \"c\" }\n\t ",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "c"}},
    {"nested fields named like ours are ignored",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"meta\":{\"ts\":\"bad\",\"outcome\":5,\"country\":7},\"ts\":1795809605250,"
     "\"outcome\":\"ok\",\"list\":[\"ts\",\"country\"]}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"duplicate ignored fields are fine",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"x\":1,\"x\":\"a\",\"ts\":1795809605250,\"outcome\":\"ok\",\"x\":null}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"playback ignores code, error ignores outcome",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":1795809605250,\"outcome\":\"ok\",\"code\":5,\"code\":[]}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"error ignores outcome",
     FS_EVENT_ERROR,
     DIMS_DEFAULT,
     "{\"ts\":1795809605250,\"code\":\"X\",\"outcome\":{\"a\":1},\"outcome\":7}",
     TS1,
     0,
     "X",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"escaped key names the field",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"t\\u0073\":1795809605250,\"outc\\u006fme\":\"ok\",\"c\\u006funtry\":\"PT\"}",
     TS1,
     0,
     "",
     "",
     {"PT", "unknown", "unknown", "unknown"}},
    {"custom dimensions follow the configured order",
     FS_EVENT_PLAYBACK,
     DIMS_CUSTOM,
     "{\"country\":\"JP\",\"device.model\":\"Pixel 8\",\"ts\":1795809605250,\"outcome\":\"ok\","
     "\"platform\":\"android\",\"cdn\":\"edge-c\"}",
     TS1,
     0,
     "",
     "",
     {"edge-c", "unknown", "Pixel 8", "JP", "unknown"}},
    {"a dimension named code fills both in error events",
     FS_EVENT_ERROR,
     DIMS_CUSTOM,
     "{\"ts\":1795809605250,\"code\":\"DRM\\u005fLICENSE\",\"region\":\"eu\"}",
     TS1,
     0,
     "DRM_LICENSE",
     "",
     {"unknown", "eu", "unknown", "unknown", "DRM_LICENSE"}},
    {"a dimension named code is just a dimension in playback",
     FS_EVENT_PLAYBACK,
     DIMS_CUSTOM,
     "{\"ts\":1795809605250,\"outcome\":\"ok\",\"code\":\"E1\"}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown", "E1"}},
    {"lowest ts",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":946684800000,\"outcome\":\"ok\"}",
     946684800000LL,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"highest ts",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"ts\":\"2200-12-31T23:59:59.999Z\",\"outcome\":\"ok\"}",
     7289654399999LL,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"a lone surrogate in an ignored field is not unescaped",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"x\":\"\\ud800\",\"ts\":1795809605250,\"\\udc00\":1,\"outcome\":\"ok\"}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"values end right at the closing brace",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"outcome\":\"ok\",\"t\":true,\"f\":false,\"n\":null,\"a\":[],\"o\":{},\"e\":1E-7,"
     "\"ts\":1795809605250}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
    {"long keys and values",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"a_key_longer_than_thirty_two_bytes_x\":\"a value longer than sixteen bytes\","
     "\"ts\":1795809605250,\"outcome\":\"ok\",\"app_version\":\"2026.11.27-build.1234567\","
     "\"app_versiom\":1,\"App_version\":2,\"app_version_\":3}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "2026.11.27-build.1234567", "unknown"}},
    {"an empty object is valid JSON",
     FS_EVENT_PLAYBACK,
     DIMS_DEFAULT,
     "{\"o\":{ },\"a\":[ ],\"ts\":1795809605250,\"outcome\":\"ok\"}",
     TS1,
     0,
     "",
     "",
     {"unknown", "unknown", "unknown", "unknown"}},
};

START_TEST(decodes_valid)
{
    const struct valid_case *c = &valid[_i];
    fs_decoder_t *d = new_decoder(c->dims);
    size_t len = strlen(c->json);
    char *buf = exact_copy(c->json, len);
    fs_event_t ev;
    const char *reason = NULL;

    int rc = fs_decoder_decode(d, c->kind, buf, len, &ev, &reason);
    ck_assert_msg(rc == 0, "%s: rejected: %s", c->name, reason ? reason : "(no reason)");
    ck_assert_int_eq(ev.kind, c->kind);
    ck_assert_msg(ev.ts_ms == c->ts_ms, "%s: ts %lld, want %lld", c->name, (long long)ev.ts_ms,
                  (long long)c->ts_ms);
    ck_assert_int_eq(ev.failed, c->failed);
    ck_assert_fs_str(ev.code, c->code);
    ck_assert_fs_str(ev.user, c->user);
    size_t n_dims = c->dims == DIMS_CUSTOM ? 5 : 4;
    for (size_t i = 0; i < n_dims; i++)
        ck_assert_fs_str(ev.dims[i], c->dim[i]);
    for (size_t i = n_dims; i < FS_MAX_DIMS; i++)
        ck_assert_uint_eq(ev.dims[i].len, 0);
    free(buf);
    fs_decoder_free(d);
}
END_TEST

/* ---- invalid events ---- */

struct invalid_case {
    fs_event_kind_t kind;
    const char *json;
    size_t len; /* 0: strlen(json) */
    const char *reason;
};

#define P       FS_EVENT_PLAYBACK
#define E       FS_EVENT_ERROR
#define OK_HEAD "{\"ts\":1795809605250,\"outcome\":\"ok\","
/* A literal with an embedded NUL, and its length. */
#define WITH_NUL(s) s, sizeof(s) - 1

static const struct invalid_case invalid[] = {
    {P, "", 0, "empty message"},
    {P, " \r\n\t ", 0, "empty message"},
    {P, "{", 0, "not valid JSON"},
    {P, "}", 0, "not valid JSON"},
    {P, "nul", 0, "not valid JSON"},
    {P, "[1,2]", 0, "not a JSON object"},
    {P, "42", 0, "not a JSON object"},
    {P, "\"ts\"", 0, "not a JSON object"},
    {P, "null ", 0, "not a JSON object"},
    {P, "[1 2]", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1} x", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1}{}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1} \"s\"", 0, "not valid JSON"},
    {P, "{\"ts\":1795809605250 \"outcome\":\"ok\"}", 0, "not valid JSON"},
    {P, OK_HEAD "}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":[1 2]}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":[1,]}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":[,1]}", 0, "not valid JSON"},
    {P, "{\"ts\":1795809605250,,\"outcome\":\"ok\"}", 0, "not valid JSON"},
    {P, "{,\"ts\":1795809605250,\"outcome\":\"ok\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\"::1}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1:2}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\" \"y\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":[\"a\":1]}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":tru}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":nulls}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":01}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1.}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":.5}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":-}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1e}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":+1}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":0x10}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":NaN}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"a\tb\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"a\nb\"}", 0, "not valid JSON"},
    {P,
     OK_HEAD "\"x\":\"a\x01"
             "b\"}",
     0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\\q\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\\u12\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":'a'}", 0, "not valid JSON"},
    {P, "{ts:1795809605250,\"outcome\":\"ok\"}", 0, "not valid JSON"},
    {P, "{1:2,\"ts\":1795809605250,\"outcome\":\"ok\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"unterminated}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":[1}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":{\"a\":1]}", 0, "not valid JSON"},
    {P, WITH_NUL(OK_HEAD "\"x\":1}\0garbage"), "not valid JSON"},
    {P, WITH_NUL(OK_HEAD "\"x\":\"a\0b\"}"), "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\xff\"}", 0, "not valid UTF-8"},
    {P, OK_HEAD "\"x\":\"\xc0\xaf\"}", 0, "not valid UTF-8"},         /* overlong '/' */
    {P, OK_HEAD "\"x\":\"\xe0\x80\xaf\"}", 0, "not valid UTF-8"},     /* overlong '/' */
    {P, OK_HEAD "\"x\":\"\xed\xa0\x80\"}", 0, "not valid UTF-8"},     /* surrogate */
    {P, OK_HEAD "\"x\":\"\xf4\x90\x80\x80\"}", 0, "not valid UTF-8"}, /* above U+10FFFF */
    {P, OK_HEAD "\"x\":\"\xe2\x82\"}", 0, "not valid UTF-8"},         /* truncated */
    {P, OK_HEAD "\"x\":\"\x80\"}", 0, "not valid UTF-8"},             /* lone continuation */
    {P, OK_HEAD "\"x\":1}\xe2\x82", 0, "not valid UTF-8"},
    {P, OK_HEAD "\"country\":\"\\ud800\"}", 0, "not valid UTF-8"}, /* lone surrogate */
    {P, OK_HEAD "\"country\":\"\\udc00\\ud800\"}", 0, "not valid UTF-8"},
    {P, "{\"outcome\":\"ok\"}", 0, "missing ts"},
    {P, "{\"outcome\":\"ok\",\"meta\":{\"ts\":1795809605250}}", 0, "missing ts"},
    {P, "{\"ts\":1795809605250}", 0, "missing outcome"},
    {E, "{\"ts\":1795809605250,\"outcome\":\"failed\"}", 0, "missing code"},
    {P, "{\"ts\":null,\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":true,\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":{},\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":[1795809605250],\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":1795809605250.0,\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":1.79580960525e12,\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":\"yesterday\",\"outcome\":\"ok\"}", 0, "ts cannot be parsed"},
    {P, "{\"ts\":\"2026-02-29T00:00:00Z\",\"outcome\":\"ok\"}", 0, "ts cannot be parsed"},
    {P, "{\"ts\":\"1795809605250\",\"outcome\":\"ok\"}", 0, "ts cannot be parsed"},
    {P, "{\"ts\":\"\",\"outcome\":\"ok\"}", 0, "ts cannot be parsed"},
    {P, "{\"ts\":0,\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":-1795809605250,\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":1795809605,\"outcome\":\"ok\"}", 0, "ts out of range"}, /* seconds */
    {P, "{\"ts\":946684799999,\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":7289654400000,\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":99999999999999999999999,\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":99999999999999999999999.5,\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":-1795809605250.5,\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":17958096052e2,\"outcome\":\"ok\"}", 0, "ts has the wrong type"},
    {P, "{\"ts\":-0,\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":\"1999-12-31T23:59:59.999Z\",\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":\"2201-01-01T00:00:00Z\",\"outcome\":\"ok\"}", 0, "ts out of range"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"OK\"}", 0, "unknown outcome"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"failure\"}", 0, "unknown outcome"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"\"}", 0, "unknown outcome"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"ok \"}", 0, "unknown outcome"},
    {P, "{\"ts\":1795809605250,\"outcome\":1}", 0, "outcome has the wrong type"},
    {P, "{\"ts\":1795809605250,\"outcome\":null}", 0, "outcome has the wrong type"},
    {P, "{\"ts\":1795809605250,\"outcome\":true}", 0, "outcome has the wrong type"},
    {E, "{\"ts\":1795809605250,\"code\":\"\"}", 0, "empty code"},
    {E, "{\"ts\":1795809605250,\"code\":5}", 0, "code has the wrong type"},
    {E, "{\"ts\":1795809605250,\"code\":null}", 0, "code has the wrong type"},
    {E, "{\"ts\":1795809605250,\"code\":[\"A\"]}", 0, "code has the wrong type"},
    {P, OK_HEAD "\"user_id\":42}", 0, "user_id has the wrong type"},
    {P, OK_HEAD "\"user_id\":{}}", 0, "user_id has the wrong type"},
    {P, OK_HEAD "\"user_id\":false}", 0, "user_id has the wrong type"},
    {P, OK_HEAD "\"country\":5}", 0, "country has the wrong type"},
    {P, OK_HEAD "\"cdn\":true}", 0, "cdn has the wrong type"},
    {E, "{\"ts\":1795809605250,\"code\":\"X\",\"app_version\":[7,4]}", 0,
     "app_version has the wrong type"},
    {P, OK_HEAD "\"ts\":1795809605250}", 0, "duplicate field"},
    {P, OK_HEAD "\"outcome\":\"ok\"}", 0, "duplicate field"},
    {P, OK_HEAD "\"t\\u0073\":1795809605250}", 0, "duplicate field"},
    {P, OK_HEAD "\"country\":\"a\",\"country\":null}", 0, "duplicate field"},
    {E, "{\"ts\":1795809605250,\"code\":\"X\",\"code\":\"Y\"}", 0, "duplicate field"},
    {P, OK_HEAD "\"user_id\":\"a\",\"user_id\":\"a\"}", 0, "duplicate field"},
    /* The top-level object's closing brace taken by a nested value, or found too early. */
    {P, OK_HEAD "\"x\":{}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":{\"a\":[1]}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1} }", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1}}", 0, "not valid JSON"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"ok\"", 0, "not valid JSON"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"ok\",}", 0, "not valid JSON"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"ok\",\"x\":}", 0, "not valid JSON"},
    {P, "{}}", 0, "not valid JSON"},
    {P, "{ }  ]", 0, "not valid JSON"},
    /* Values cut short by the closing brace. */
    {P, OK_HEAD "\"x\":t}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":fals}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":n}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1e+}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":1.5e}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":-01}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":-a}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\\u00e\"}", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\\", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\\u00", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\\u00e", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":\"\\u00e9", 0, "not valid JSON"},
    {P, "\"\\u00e", 0, "not valid JSON"},
    {P, "[\"\\u00e", 0, "not valid JSON"},
    {P, "[\"\\", 0, "not valid JSON"},
    {P, "[\"abc", 0, "not valid JSON"},
    {P, "[tru", 0, "not valid JSON"},
    {P, "[-", 0, "not valid JSON"},
    {P, "[1.", 0, "not valid JSON"},
    {P, "[1e", 0, "not valid JSON"},
    {P, "[1e-", 0, "not valid JSON"},
    {P, OK_HEAD "\"x\":[\"a\",t]}", 0, "not valid JSON"},
    {P, "[tru", 0, "not valid JSON"},
    {P, "[1,\"", 0, "not valid JSON"},
    {P, "{\"a\":[1,{\"b\":2,}]}", 0, "not valid JSON"},
    /* Bad bytes anywhere come before syntax errors; ill-formed UTF-8 anywhere
     * comes before a control character (decode.h's order), wherever each is. */
    {P, "} \xff", 0, "not valid UTF-8"},
    {P, "{\"a\":1,\xff\x01}", 0, "not valid UTF-8"},
    {P, "{\"a\":1,\x01\"x\":\"\xff\"}", 0, "not valid UTF-8"},
    {P, OK_HEAD "\"x\":\"\xc3\"}", 0, "not valid UTF-8"},
    {P, OK_HEAD "\"x\":\xc3\xa9}", 0, "not valid JSON"}, /* UTF-8, but outside a string */
    /* Nesting comes before syntax errors; brackets in strings do not count. */
    {P, "{\"a\":1,,\"b\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0,
     "JSON nested too deeply"},
    {P, "{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0,
     "not valid JSON"},
    {P, "\t \r\n", 0, "empty message"},
    {P, "\t \r\n1", 0, "not a JSON object"},
    {P, "\"\\ud800\" ", 0, "not a JSON object"},
    {P, "[{\"ts\":1795809605250,\"outcome\":\"ok\"}]", 0, "not a JSON object"},
    /* A key in the last bytes of the message. */
    {P, OK_HEAD "\"cdn\":1}", 0, "cdn has the wrong type"},
    {P, "{\"outcome\":\"ok\",\"ts\":1}", 0, "ts out of range"},
    {P, "{\"outcome\":\"ok\",\"ts\" :\n1.0 }", 0, "ts has the wrong type"},
    {E, "{\"ts\":1795809605250,\"code\":\"\\udc00\"}", 0, "not valid UTF-8"},
    {P, "{\"ts\":1795809605250,\"outcome\":\"o\\ud800\"}", 0, "not valid UTF-8"},
    {P, "{\"ts\":\"\\ud800\",\"outcome\":1}", 0, "not valid UTF-8"},
};

START_TEST(rejects_invalid)
{
    const struct invalid_case *c = &invalid[_i];
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    size_t len = c->len ? c->len : strlen(c->json);
    char *buf = exact_copy(c->json, len);
    fs_event_t ev;
    const char *reason = NULL;

    int rc = fs_decoder_decode(d, c->kind, buf, len, &ev, &reason);
    ck_assert_msg(rc == -1, "case %d (%s) accepted", _i, c->json);
    ck_assert_ptr_nonnull(reason);
    ck_assert_msg(strcmp(reason, c->reason) == 0, "case %d (%s): reason \"%s\", want \"%s\"", _i,
                  c->json, reason, c->reason);
    free(buf);
    fs_decoder_free(d);
}
END_TEST

/* ---- sizes and nesting ---- */

/* A valid playback event of exactly len bytes, padded with an ignored field. */
static char *padded_event(size_t len)
{
    const char head[] = OK_HEAD "\"pad\":\"";
    const char tail[] = "\"}";
    size_t fixed = sizeof head - 1 + sizeof tail - 1;
    ck_assert_uint_ge(len, fixed);
    char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, head, sizeof head - 1);
    memset(buf + sizeof head - 1, 'x', len - fixed);
    memcpy(buf + len - (sizeof tail - 1), tail, sizeof tail - 1);
    return buf;
}

START_TEST(size_limit_is_64_kib)
{
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_event_t ev;
    const char *reason = NULL;

    char *buf = padded_event(FS_DECODE_MAX_BYTES);
    ck_assert_int_eq(fs_decoder_decode(d, P, buf, FS_DECODE_MAX_BYTES, &ev, &reason), 0);
    ck_assert_int_eq(ev.ts_ms, TS1);
    free(buf);

    buf = padded_event(FS_DECODE_MAX_BYTES + 1);
    ck_assert_int_eq(fs_decoder_decode(d, P, buf, FS_DECODE_MAX_BYTES + 1, &ev, &reason), -1);
    ck_assert_str_eq(reason, "message larger than 64 KiB");
    free(buf);
    fs_decoder_free(d);
}
END_TEST

/* OK_HEAD "\"x\":" + depth-1 '[' + ']'s + "}" : total nesting depth `depth`. */
static char *nested_event(int depth, size_t *len)
{
    const char head[] = OK_HEAD "\"x\":";
    size_t n = sizeof head - 1 + 2 * (size_t)(depth - 1) + 1;
    char *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, head, sizeof head - 1);
    size_t p = sizeof head - 1;
    for (int i = 0; i < depth - 1; i++)
        buf[p++] = '[';
    for (int i = 0; i < depth - 1; i++)
        buf[p++] = ']';
    buf[p++] = '}';
    *len = p;
    return buf;
}

START_TEST(nesting_limit)
{
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_event_t ev;
    const char *reason = NULL;
    size_t len;

    char *buf = nested_event(FS_DECODE_MAX_DEPTH, &len);
    ck_assert_int_eq(fs_decoder_decode(d, P, buf, len, &ev, &reason), 0);
    free(buf);

    buf = nested_event(FS_DECODE_MAX_DEPTH + 1, &len);
    ck_assert_int_eq(fs_decoder_decode(d, P, buf, len, &ev, &reason), -1);
    ck_assert_str_eq(reason, "JSON nested too deeply");
    free(buf);

    /* Brackets inside strings do not count. */
    char text[512];
    int n = snprintf(text, sizeof text, OK_HEAD "\"x\":\"");
    for (int i = 0; i < 200; i++)
        text[n++] = i % 2 ? '{' : '[';
    text[n++] = '"';
    text[n++] = '}';
    ck_assert_int_eq(fs_decoder_decode(d, P, text, (size_t)n, &ev, &reason), 0);

    /* The deepest nesting the whole message can have: 64 KiB of '['. */
    buf = malloc(FS_DECODE_MAX_BYTES);
    ck_assert_ptr_nonnull(buf);
    memset(buf, '[', FS_DECODE_MAX_BYTES);
    ck_assert_int_eq(fs_decoder_decode(d, P, buf, FS_DECODE_MAX_BYTES, &ev, &reason), -1);
    ck_assert_str_eq(reason, "JSON nested too deeply");
    free(buf);
    fs_decoder_free(d);
}
END_TEST

START_TEST(many_tokens)
{
    /* An ignored array of ~32k numbers: the token array must be large enough. */
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_event_t ev;
    const char *reason = NULL;
    char *buf = malloc(FS_DECODE_MAX_BYTES);
    ck_assert_ptr_nonnull(buf);
    size_t p = (size_t)sprintf(buf, OK_HEAD "\"x\":[0");
    while (p + 4 <= FS_DECODE_MAX_BYTES) {
        buf[p++] = ',';
        buf[p++] = '0';
    }
    buf[p++] = ']';
    buf[p++] = '}';
    ck_assert_int_eq(fs_decoder_decode(d, P, buf, p, &ev, &reason), 0);
    free(buf);
    fs_decoder_free(d);
}
END_TEST

/* ---- buffers and lifetimes ---- */

START_TEST(reads_only_len_bytes)
{
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_event_t ev;
    const char *reason = NULL;
    const char text[] = "{\"ts\":1795809605250,\"outcome\":\"ok\",\"cdn\":\"a\"}trailing junk";
    size_t len = sizeof text - 1 - strlen("trailing junk");
    ck_assert_int_eq(fs_decoder_decode(d, P, text, len, &ev, &reason), 0);
    ck_assert_fs_str(ev.dims[3], "a");
    ck_assert_int_eq(fs_decoder_decode(d, P, text, len - 1, &ev, &reason), -1);
    ck_assert_str_eq(reason, "not valid JSON");
    fs_decoder_free(d);
}
END_TEST

START_TEST(values_point_into_buffer_unless_escaped)
{
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_event_t ev;
    const char *reason = NULL;
    const char text[] = "{\"ts\":1795809605250,\"outcome\":\"ok\",\"country\":\"SE\","
                        "\"platform\":\"w\\u0065b\",\"user_id\":\"u\\/1\"}";
    ck_assert_int_eq(fs_decoder_decode(d, P, text, sizeof text - 1, &ev, &reason), 0);
    ck_assert_ptr_eq(ev.dims[0].ptr, strstr(text, "SE"));
    ck_assert_fs_str(ev.dims[1], "web");
    ck_assert_fs_str(ev.user, "u/1");
    ck_assert(ev.dims[1].ptr < text || ev.dims[1].ptr >= text + sizeof text);
    ck_assert(ev.user.ptr < text || ev.user.ptr >= text + sizeof text);
    /* Unescaped values do not overlap. */
    ck_assert(ev.user.ptr + ev.user.len <= ev.dims[1].ptr ||
              ev.dims[1].ptr + ev.dims[1].len <= ev.user.ptr);
    fs_decoder_free(d);
}
END_TEST

START_TEST(decoding_never_allocates)
{
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_decoder_t *dc = new_decoder(DIMS_CUSTOM);
    fs_event_t ev;
    const char *reason;
    size_t n_valid = sizeof valid / sizeof valid[0];
    size_t n_invalid = sizeof invalid / sizeof invalid[0];

    long before = allocations;
    int ok = 0, bad = 0;
    for (int round = 0; round < 1000; round++) {
        const struct valid_case *v = &valid[(size_t)round % n_valid];
        const struct invalid_case *x = &invalid[(size_t)round % n_invalid];
        fs_decoder_t *dv = v->dims == DIMS_CUSTOM ? dc : d;
        ok += fs_decoder_decode(dv, v->kind, v->json, strlen(v->json), &ev, &reason) == 0;
        bad += fs_decoder_decode(d, x->kind, x->json, x->len ? x->len : strlen(x->json), &ev,
                                 &reason) == -1;
    }
    long made = allocations - before;
    ck_assert_int_eq(ok, 1000);
    ck_assert_int_eq(bad, 1000);
    ck_assert_int_eq(made, 0);

    /* The counter works: the constructor does allocate. */
    fs_decoder_free(new_decoder(DIMS_DEFAULT));
    ck_assert_int_gt(allocations, before);
    fs_decoder_free(dc);
    fs_decoder_free(d);
}
END_TEST

/* ---- strings of every length ---- */

/*
 * Pieces of a string value as written in JSON and as unescaped; the scanner
 * stops at each of them, so each is tried at every position around the 8-
 * and 16-byte blocks the scan reads, and at every distance from the end of
 * the message.
 */
static const struct {
    const char *json, *text;
} pieces[] = {
    {"", ""},
    {"\\u00e9", "\xc3\xa9"},
    {"\xc3\xa9", "\xc3\xa9"},
    {"\xe2\x82\xac", "\xe2\x82\xac"},
    {"\\n", "\n"},
    {"\\\"", "\""},
    {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
    {"\x7f", "\x7f"},
    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9",
     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9"},
};

START_TEST(string_lengths)
{
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_event_t ev;
    const char *reason;
    char json[256], want[128];

    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        for (int before = 0; before <= 34; before++) {
            for (int after = 0; after <= 34; after += before % 3 == 0 ? 1 : 11) {
                int n = snprintf(json, sizeof json, OK_HEAD "\"cdn\":\"%.*s%s%.*s\"}", before,
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", pieces[k].json, after,
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij");
                snprintf(want, sizeof want, "%.*s%s%.*s", before,
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", pieces[k].text, after,
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij");
                size_t len = (size_t)n;
                char *buf = exact_copy(json, len);
                int rc = fs_decoder_decode(d, P, buf, len, &ev, &reason);
                ck_assert_msg(rc == 0, "%s: %s", json, reason);
                if (*want)
                    ck_assert_fs_str(ev.dims[3], want);
                else
                    ck_assert_fs_str(ev.dims[3], "unknown");
                free(buf);

                /* Every shorter prefix is cut off inside the string or before the brace. */
                for (size_t cut = 1; cut <= len - sizeof OK_HEAD; cut++) {
                    buf = exact_copy(json, len - cut);
                    rc = fs_decoder_decode(d, P, buf, len - cut, &ev, &reason);
                    ck_assert_msg(rc == -1, "%.*s accepted", (int)(len - cut), json);
                    /* Cutting a character in two leaves invalid UTF-8. */
                    ck_assert_msg(strcmp(reason, "not valid JSON") == 0 ||
                                      strcmp(reason, "not valid UTF-8") == 0,
                                  "%.*s: %s", (int)(len - cut), json, reason);
                    free(buf);
                }
            }
        }
    }
    fs_decoder_free(d);
}
END_TEST

/* A bad piece anywhere in a string gives its reason, wherever it falls in the blocks. */
START_TEST(bad_string_pieces)
{
    static const struct {
        const char *json, *reason;
    } bad[] = {
        {"\x01", "not valid JSON"},
        {"\t", "not valid JSON"},
        {"\x1f", "not valid JSON"},
        {"\\x", "not valid JSON"},
        {"\\u12G4", "not valid JSON"},
        {"\xc3", "not valid UTF-8"},
        {"\xc3(", "not valid UTF-8"},
        {"\xe2\x82", "not valid UTF-8"},
        {"\xed\xbf\xbf", "not valid UTF-8"},
        {"\xf8\x88\x80\x80\x80", "not valid UTF-8"},
        {"\xc1\xbf", "not valid UTF-8"},
        {"\\ud800x", "not valid UTF-8"},
        {"\\ude00\\ud83d", "not valid UTF-8"},
        {"\xc3\xa9\xe2\x82\xac\xc3", "not valid UTF-8"},
        {"\xc3\xa9\xe2\x82\xac\xa9", "not valid UTF-8"},
        {"\xc3\xa9\xe2\x82\xac\x01", "not valid JSON"},
    };
    fs_decoder_t *d = new_decoder(DIMS_DEFAULT);
    fs_event_t ev;
    const char *reason;
    char json[256];

    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        for (int before = 0; before <= 34; before++) {
            for (int after = 0; after <= 20; after += 5) {
                int n = snprintf(json, sizeof json, OK_HEAD "\"cdn\":\"%.*s%s%.*s\"}", before,
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", bad[k].json, after,
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
                char *buf = exact_copy(json, (size_t)n);
                ck_assert_int_eq(fs_decoder_decode(d, P, buf, (size_t)n, &ev, &reason), -1);
                ck_assert_msg(strcmp(reason, bad[k].reason) == 0, "%s: %s, want %s", json, reason,
                              bad[k].reason);
                free(buf);
            }
        }
    }
    fs_decoder_free(d);
}
END_TEST

/* ---- key matching ---- */

START_TEST(keys_match_exactly)
{
    static const char *const dims[] = {"app_version", "k", "a_dimension_name_of_28_bytes",
                                       "a_dimension_name_longer_than_32_bytes"};
    static const struct {
        const char *key;
        int dim; /* which dimension gets the value, -1 none */
    } cases[] = {
        {"app_version", 0},
        {"app\\u005fversion", 0},
        {"app_versio", -1},
        {"app_versionn", -1},
        {"app_versiom", -1},
        {"bpp_version", -1},
        {"app-version", -1},
        {"k", 1},
        {"\\u006b", 1},
        {"K", -1},
        {"j", -1},
        {"l", -1},
        {"kk", -1},
        {"", -1},
        {"a_dimension_name_of_28_bytes", 2},
        {"a_dimension_name_of_28_bytez", -1},
        {"a_dimension_namE_of_28_bytes", -1},
        {"b_dimension_name_of_28_bytes", -1},
        {"a_dimension_name_longer_than_32_bytes", 3},
        {"a_dimension_name_longer_than_32_byteS", -1},
        {"a_dimension_name_longer_than_32_bytez", -1},
        {"a_dimension_name_longer_than_32_bytes_", -1},
        {"a_dimension_nam\\u0065_longer_than_32_bytes", 3},
    };
    char err[128];
    fs_decoder_t *d = fs_decoder_new(dims, 4, err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    fs_event_t ev;
    const char *reason;
    char json[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The key first, and last (its bytes then end near the end of the message). */
        for (int last = 0; last < 2; last++) {
            int n = last ? snprintf(json, sizeof json, OK_HEAD "\"%s\":\"v\"}", cases[i].key)
                         : snprintf(json, sizeof json,
                                    "{\"%s\":\"v\",\"ts\":1795809605250,\"outcome\":\"ok\"}",
                                    cases[i].key);
            char *buf = exact_copy(json, (size_t)n);
            int rc = fs_decoder_decode(d, P, buf, (size_t)n, &ev, &reason);
            ck_assert_msg(rc == 0, "%s: %s", json, reason);
            for (int k = 0; k < 4; k++)
                ck_assert_msg(str_is(ev.dims[k], k == cases[i].dim ? "v" : "unknown"),
                              "%s: dimension %d is \"%.*s\"", json, k, (int)ev.dims[k].len,
                              ev.dims[k].ptr);
            free(buf);
        }
    }
    fs_decoder_free(d);
}
END_TEST

/* ---- construction ---- */

START_TEST(constructor_checks_dimensions)
{
    char err[128];
    const char *nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    const char *twice[] = {"country", "cdn", "country"};
    const char *empty[] = {"country", ""};

    ck_assert_ptr_null(fs_decoder_new(nine, 9, err, sizeof err));
    ck_assert_str_eq(err, "too many dimensions (at most 8)");
    ck_assert_ptr_null(fs_decoder_new(twice, 3, err, sizeof err));
    ck_assert_str_eq(err, "dimension listed twice: country");
    ck_assert_ptr_null(fs_decoder_new(empty, 2, err, sizeof err));
    ck_assert_str_eq(err, "a dimension has an empty name");
    ck_assert_ptr_null(fs_decoder_new(empty, 2, NULL, 0));

    fs_decoder_t *d = fs_decoder_new(nine, 8, err, sizeof err);
    ck_assert_ptr_nonnull(d);
    fs_event_t ev;
    const char *reason;
    const char text[] = "{\"ts\":1795809605250,\"outcome\":\"ok\",\"h\":\"last\",\"a\":\"first\"}";
    ck_assert_int_eq(fs_decoder_decode(d, P, text, sizeof text - 1, &ev, &reason), 0);
    ck_assert_fs_str(ev.dims[0], "first");
    ck_assert_fs_str(ev.dims[7], "last");
    fs_decoder_free(d);

    d = fs_decoder_new(NULL, 0, err, sizeof err);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(fs_decoder_decode(d, P, text, sizeof text - 1, &ev, &reason), 0);
    fs_decoder_free(d);
    fs_decoder_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("valid");
    tcase_add_loop_test(tc, decodes_valid, 0, (int)(sizeof valid / sizeof valid[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("invalid");
    tcase_add_loop_test(tc, rejects_invalid, 0, (int)(sizeof invalid / sizeof invalid[0]));
    tcase_add_test(tc, size_limit_is_64_kib);
    tcase_add_test(tc, nesting_limit);
    tcase_add_test(tc, many_tokens);
    suite_add_tcase(s, tc);
    tc = tcase_create("strings");
    tcase_add_test(tc, string_lengths);
    tcase_add_test(tc, bad_string_pieces);
    tcase_add_test(tc, keys_match_exactly);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, reads_only_len_bytes);
    tcase_add_test(tc, values_point_into_buffer_unless_escaped);
    tcase_add_test(tc, decoding_never_allocates);
    suite_add_tcase(s, tc);
    tc = tcase_create("construction");
    tcase_add_test(tc, constructor_checks_dimensions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
