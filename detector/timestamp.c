/*
 * timestamp.c: RFC 3339 parsing and formatting with integer arithmetic.
 *
 * Days are converted to and from civil dates with Howard Hinnant's
 * days_from_civil / civil_from_days algorithms (proleptic Gregorian calendar,
 * 400-year eras), which are exact for every year and need no tables or
 * library time functions.
 */
#include "detector/timestamp.h"

#define MS_PER_DAY 86400000LL

/* Bounds that format as 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
#define MIN_FORMAT_MS (-62167219200000LL)
#define MAX_FORMAT_MS (253402300799999LL)

/* Days since 1970-01-01 of the civil date y-m-d (m 1-12, d 1-31). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The civil date of z days since 1970-01-01. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads n decimal digits at s into *v; returns -1 if any is not a digit. */
static int digits(const char *s, int n, unsigned *v)
{
    unsigned acc = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9)
            return -1;
        acc = acc * 10 + c;
    }
    *v = acc;
    return 0;
}

int fs_timestamp_parse(const char *s, size_t len, int64_t *out_ms)
{
    unsigned year, month, day, hour, minute, second, ms = 0;

    /* "YYYY-MM-DDThh:mm:ss" is 19 bytes and the shortest zone ("Z") one more. */
    if (len < 20)
        return -1;
    if (digits(s, 4, &year) || s[4] != '-' || digits(s + 5, 2, &month) || s[7] != '-' ||
        digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &hour) || s[13] != ':' || digits(s + 14, 2, &minute) || s[16] != ':' ||
        digits(s + 17, 2, &second))
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return -1;

    size_t i = 19;
    if (s[i] == '.') {
        size_t first = ++i;
        unsigned scale = 100;
        while (i < len && (unsigned)((unsigned char)s[i] - '0') <= 9) {
            ms += scale * (unsigned)(s[i] - '0');
            scale /= 10;
            i++;
        }
        if (i == first)
            return -1;
    }
    if (i >= len)
        return -1;

    int64_t offset_min = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        unsigned oh, om;
        if (len - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_min = (int64_t)(oh * 60 + om);
        if (s[i] == '-')
            offset_min = -offset_min;
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;

    /* A leap second has no place in Unix time; pin it to the end of second 59. */
    if (second == 60) {
        second = 59;
        ms = 999;
    }

    int64_t t = days_from_civil(year, month, day) * MS_PER_DAY;
    t += ((int64_t)hour * 3600 + (int64_t)minute * 60 + second) * 1000 + ms;
    t -= offset_min * 60000;
    *out_ms = t;
    return 0;
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void fs_timestamp_format(int64_t ms, char out[FS_TIMESTAMP_LEN + 1])
{
    if (ms < MIN_FORMAT_MS)
        ms = MIN_FORMAT_MS;
    if (ms > MAX_FORMAT_MS)
        ms = MAX_FORMAT_MS;

    /* Floor division, so instants before 1970 land on the right day. */
    int64_t days = ms / MS_PER_DAY;
    int64_t rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);

    unsigned r = (unsigned)rem;
    unsigned y = (unsigned)year;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    put2(out + 2, y % 100);
    out[4] = '-';
    put2(out + 5, month);
    out[7] = '-';
    put2(out + 8, day);
    out[10] = 'T';
    put2(out + 11, r / 3600000);
    out[13] = ':';
    put2(out + 14, r / 60000 % 60);
    out[16] = ':';
    put2(out + 17, r / 1000 % 60);
    out[19] = '.';
    out[20] = (char)('0' + r % 1000 / 100);
    put2(out + 21, r % 100);
    out[23] = 'Z';
    out[24] = '\0';
}
