/*
 * check_timestamp.c: RFC 3339 parsing and formatting against instants
 * computed independently with GNU date (`date -u -d STRING +%s`), written
 * here as literals.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "detector/timestamp.h"

struct valid_case {
    const char *text;
    int64_t ms;
};

static const struct valid_case valid[] = {
    /* date -u -d 2026-11-27T20:00:05Z +%s = 1795809605 */
    {"2026-11-27T20:00:05.250Z", 1795809605250LL},
    {"2026-11-27T20:00:05Z", 1795809605000LL},
    {"2026-11-27T21:00:05+01:00", 1795809605000LL},
    {"2026-11-27T15:00:05.250-05:00", 1795809605250LL},
    {"2026-11-27t20:00:05.250z", 1795809605250LL},
    {"2026-11-27 20:00:05.250Z", 1795809605250LL},
    {"2026-11-27T20:00:05-00:00", 1795809605000LL},
    /* fractions of any length are truncated, not rounded */
    {"2026-11-27T20:00:05.2Z", 1795809605200LL},
    {"2026-11-27T20:00:05.25Z", 1795809605250LL},
    {"2026-11-27T20:00:05.2509Z", 1795809605250LL},
    {"2026-11-27T20:00:05.999999999Z", 1795809605999LL},
    {"2026-11-27T20:00:05.000000000000000000001Z", 1795809605000LL},
    /* leap days: 2028 and 2000 are leap years */
    {"2028-02-29T12:00:00Z", 1835438400000LL},
    {"2028-02-28T23:59:59Z", 1835395199000LL},
    {"2028-03-01T00:00:00Z", 1835481600000LL},
    {"2000-02-29T00:00:00Z", 951782400000LL},
    {"2100-03-01T00:00:00Z", 4107542400000LL},
    /* offsets that cross midnight, a month and a year */
    {"2026-12-31T23:30:00-01:00", 1798763400000LL}, /* 2027-01-01T00:30:00Z */
    {"2027-01-01T00:15:00+05:30", 1798742700000LL}, /* 2026-12-31T18:45:00Z */
    {"2024-03-01T00:00:00+14:00", 1709200800000LL}, /* 2024-02-29T10:00:00Z */
    {"2026-01-01T00:00:00-12:00", 1767268800000LL},
    {"2026-06-15T08:07:06-09:30", 1781545026000LL},
    /* range edges */
    {"1970-01-01T00:00:00Z", 0},
    {"2000-01-01T00:00:00Z", 946684800000LL},
    {"2038-01-19T03:14:08Z", 2147483648000LL},
    {"2200-12-31T23:59:59.999Z", 7289654399999LL},
    {"9999-12-31T23:59:59Z", 253402300799000LL},
    {"0000-01-01T00:00:00Z", -62167219200000LL},
    /* a leap second is clamped to the last millisecond of second 59 */
    {"2016-12-31T23:59:60Z", 1483228799999LL},
    {"2016-12-31T23:59:60.5Z", 1483228799999LL},
};

static const char *const invalid[] = {
    "",
    "2026-11-27",
    "2026-11-27T20:00:05",       /* no zone */
    "2026-11-27T20:00Z",         /* no seconds */
    "2026-11-27T20:00:05.Z",     /* empty fraction */
    "2026-11-27T20:00:05.250",   /* no zone after fraction */
    "2026-11-27T20:00:05,250Z",  /* comma fraction */
    "2026-11-27T20:00:05+0100",  /* offset without colon */
    "2026-11-27T20:00:05+01",    /* short offset */
    "2026-11-27T20:00:05+24:00", /* offset hour */
    "2026-11-27T20:00:05+01:60", /* offset minute */
    "2026-11-27T20:00:05Z ",     /* trailing space */
    " 2026-11-27T20:00:05Z",     /* leading space */
    "2026-11-27X20:00:05Z",      /* separator */
    "2026-11-27T20:00:05UTC",
    "2026-13-01T00:00:00Z",  /* month 13 */
    "2026-00-01T00:00:00Z",  /* month 0 */
    "2026-11-00T00:00:00Z",  /* day 0 */
    "2026-11-31T00:00:00Z",  /* November has 30 days */
    "2026-02-29T00:00:00Z",  /* 2026 is not a leap year */
    "2100-02-29T00:00:00Z",  /* 2100 is not a leap year */
    "2026-11-27T24:00:00Z",  /* hour 24 */
    "2026-11-27T20:60:00Z",  /* minute 60 */
    "2026-11-27T20:00:61Z",  /* second 61 */
    "26-11-27T20:00:05Z",    /* two-digit year */
    "+2026-11-27T20:00:05Z", /* signed year */
    "2026-1-27T20:00:05Z",   /* one-digit month */
    "2026-11-27T2:00:05Z",   /* one-digit hour */
    "2026-11-27T20:00:05ZZ",
    "2026/11/27T20:00:05Z",
    "1795809605250", /* an integer is not a string ts */
    "2026-11-27T20:00:0aZ",
};

START_TEST(parses_valid)
{
    const struct valid_case *c = &valid[_i];
    int64_t ms = 42;
    ck_assert_msg(fs_timestamp_parse(c->text, strlen(c->text), &ms) == 0, "%s rejected", c->text);
    ck_assert_msg(ms == c->ms, "%s: got %lld, want %lld", c->text, (long long)ms, (long long)c->ms);
}
END_TEST

START_TEST(rejects_invalid)
{
    const char *text = invalid[_i];
    int64_t ms = 42;
    ck_assert_msg(fs_timestamp_parse(text, strlen(text), &ms) == -1, "\"%s\" accepted", text);
    ck_assert_int_eq(ms, 42);
}
END_TEST

START_TEST(reads_only_len_bytes)
{
    /* The buffer is not NUL-terminated: what follows len must not matter. */
    const char text[] = "2026-11-27T20:00:05.250Zgarbage";
    int64_t ms = 0;
    ck_assert_int_eq(fs_timestamp_parse(text, 24, &ms), 0);
    ck_assert_int_eq(ms, 1795809605250LL);
    ck_assert_int_eq(fs_timestamp_parse(text, 23, &ms), -1);
    ck_assert_int_eq(fs_timestamp_parse(text, 25, &ms), -1);
}
END_TEST

struct format_case {
    int64_t ms;
    const char *text;
};

static const struct format_case formats[] = {
    {1795809605250LL, "2026-11-27T20:00:05.250Z"},
    {1795809605000LL, "2026-11-27T20:00:05.000Z"},
    {1835438400007LL, "2028-02-29T12:00:00.007Z"},
    {1798763400000LL, "2027-01-01T00:30:00.000Z"},
    {1709200800000LL, "2024-02-29T10:00:00.000Z"},
    {946684800000LL, "2000-01-01T00:00:00.000Z"},
    {7289654399999LL, "2200-12-31T23:59:59.999Z"},
    {0, "1970-01-01T00:00:00.000Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {253402300799999LL, "9999-12-31T23:59:59.999Z"},
    {-62167219200000LL, "0000-01-01T00:00:00.000Z"},
    /* out of the four-digit range: clamped */
    {INT64_MAX, "9999-12-31T23:59:59.999Z"},
    {INT64_MIN, "0000-01-01T00:00:00.000Z"},
};

START_TEST(formats_utc_millis)
{
    const struct format_case *c = &formats[_i];
    char out[FS_TIMESTAMP_LEN + 1];
    memset(out, 'x', sizeof out);
    fs_timestamp_format(c->ms, out);
    ck_assert_str_eq(out, c->text);
}
END_TEST

START_TEST(format_then_parse_round_trips)
{
    /* Every 7919th second plus a varying millisecond across 2000..2200. */
    char out[FS_TIMESTAMP_LEN + 1];
    for (int64_t ms = 946684800000LL; ms < 7289654400000LL; ms += 7919000LL * 997 + 13) {
        int64_t back = 0;
        fs_timestamp_format(ms, out);
        ck_assert_int_eq(fs_timestamp_parse(out, FS_TIMESTAMP_LEN, &back), 0);
        ck_assert_int_eq(back, ms);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timestamp");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, parses_valid, 0, (int)(sizeof valid / sizeof valid[0]));
    tcase_add_loop_test(tc, rejects_invalid, 0, (int)(sizeof invalid / sizeof invalid[0]));
    tcase_add_test(tc, reads_only_len_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_loop_test(tc, formats_utc_millis, 0, (int)(sizeof formats / sizeof formats[0]));
    tcase_add_test(tc, format_then_parse_round_trips);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
