/*
 * season.c: the hour-of-week profile of a count (see season.h).
 */
#include "models/season.h"

#include <math.h>

#define HOUR_MS 3600000LL
#define WEEK_MS (FS_SEASON_SLOTS * HOUR_MS)
/* 1970-01-01 00:00 UTC was a Thursday, 72 hours after a Monday 00:00. */
#define EPOCH_IN_WEEK_MS (72 * HOUR_MS)

/* a / b and a mod b rounded toward minus infinity, for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* Half a bucket in ms, clamped to an hour (buckets are at most a minute). */
static int64_t half_bucket_ms(double bucket_seconds)
{
    double half = bucket_seconds * 500.0;
    if (!(half > 0.0))
        return 0;
    return half < (double)HOUR_MS ? (int64_t)half : HOUR_MS;
}

/* Position of a bucket's middle within the week, in ms (no overflow for any
 * start time). */
static int64_t week_position(int64_t bucket_start_ms, double bucket_seconds)
{
    int64_t in_week = floor_mod(bucket_start_ms, WEEK_MS);
    return (in_week + EPOCH_IN_WEEK_MS + half_bucket_ms(bucket_seconds)) % WEEK_MS;
}

void fs_season_init(fs_season_t *s)
{
    fs_baseline_init(&s->level);
    s->hour = INT64_MIN;
    s->hour_x = 0.0;
    s->hour_buckets = 0.0;
    s->mean = 0.0;
    s->hour_mode = FS_SEASON_LEARN;
    s->ready = 0;
    for (int k = 0; k < FS_SEASON_SLOTS; k++) {
        s->knot[k] = 0.0f;
        s->seen[k] = 0;
    }
}

int fs_season_slot(int64_t t_ms)
{
    return (int)(((floor_mod(t_ms, WEEK_MS) + EPOCH_IN_WEEK_MS) % WEEK_MS) / HOUR_MS);
}

static int weeks(const fs_season_t *s, int k)
{
    return s->seen[k] & FS_SEASON_SEEN_WEEKS;
}

/* The knot of the same hour one day earlier. */
static int day_before(int k)
{
    return (k + FS_SEASON_SLOTS - 24) % FS_SEASON_SLOTS;
}

/* The value of knot k: its own once learned, else the most recent learned
 * knot of the same hour of the day (going back a day at a time); -1 when
 * that hour of the day has never been learned. */
static double knot_value(const fs_season_t *s, int k)
{
    for (int d = 0; d < 7; d++, k = day_before(k))
        if (weeks(s, k) > 0)
            return s->knot[k];
    return -1.0;
}

/* The band, in events over the hour's buckets, that the hour's events are
 * clipped to around a knot value ref (FS_SEASON_CLIP): in events, so that
 * the Poisson allowance is that of the counts actually seen. */
static void band(const fs_season_t *s, double ref, double *lo, double *hi)
{
    double e = ref * s->hour_buckets, noise = 4.0 * sqrt(e) + 1.0;

    *lo = fmax(e / FS_SEASON_CLIP - noise, 0.0);
    *hi = e * FS_SEASON_CLIP + noise;
}

/* Readiness and the mean, after a knot changed. */
static void refresh(fs_season_t *s)
{
    double sum = 0.0;

    for (int k = 0; k < FS_SEASON_SLOTS; k++) {
        double v = knot_value(s, k);
        if (v < 0.0) {
            s->ready = 0;
            s->mean = 0.0;
            return;
        }
        sum += v;
    }
    s->ready = 1;
    s->mean = sum / FS_SEASON_SLOTS;
}

/* Learns the accumulated hour (a clean one) into its knot k. */
static void learn_hour(fs_season_t *s, int k)
{
    double ref = knot_value(s, k), v = s->hour_x / s->hour_buckets, a = 1.0, lo, hi;
    int w = weeks(s, k);

    /* The first time against the knot it borrowed, if any. */
    if (ref >= 0.0) {
        band(s, ref, &lo, &hi);
        v = fmin(fmax(s->hour_x, lo), hi) / s->hour_buckets;
    }
    if (w > 0)
        a = fmax(FS_SEASON_ALPHA, 1.0 / (w + 1.0));
    else
        ref = 0.0;
    s->knot[k] = (float)(ref + a * (v - ref));
    s->seen[k] = (uint8_t)(w < FS_SEASON_SEEN_WEEKS ? w + 1 : w);
}

/* An hour in which the plain baseline fired (see season.h): learned with
 * the candidate of the day before when they agree, else kept as a
 * candidate. Learned knots are never touched. */
static void candidate_hour(fs_season_t *s, int k)
{
    int j = day_before(k);
    double v = s->hour_x / s->hour_buckets, lo, hi;

    if (weeks(s, k) > 0)
        return;
    band(s, s->knot[j], &lo, &hi);
    if ((s->seen[j] & FS_SEASON_SEEN_CANDIDATE) && s->hour_x >= lo && s->hour_x <= hi) {
        s->seen[j] = 1;
        s->knot[k] = (float)v;
        s->seen[k] = 1;
        return;
    }
    s->knot[k] = (float)v;
    s->seen[k] = FS_SEASON_SEEN_CANDIDATE;
}

void fs_season_roll(fs_season_t *s, int64_t bucket_start_ms, double bucket_seconds)
{
    int64_t hour = floor_div(bucket_start_ms, HOUR_MS);

    /* The bucket's middle may fall into the next hour. */
    if (floor_mod(bucket_start_ms, HOUR_MS) + half_bucket_ms(bucket_seconds) >= HOUR_MS)
        hour++;
    if (hour == s->hour)
        return;
    if (s->hour != INT64_MIN && s->hour_mode != FS_SEASON_FROZEN && bucket_seconds > 0.0 &&
        s->hour_buckets * bucket_seconds >= 0.5 * HOUR_MS / 1000.0) {
        int k = (int)floor_mod(s->hour + EPOCH_IN_WEEK_MS / HOUR_MS, FS_SEASON_SLOTS);
        if (s->hour_mode == FS_SEASON_LEARN)
            learn_hour(s, k);
        else
            candidate_hour(s, k);
        refresh(s);
    }
    s->hour = hour;
    s->hour_x = 0.0;
    s->hour_buckets = 0.0;
    s->hour_mode = FS_SEASON_LEARN;
}

void fs_season_add(fs_season_t *s, double x, fs_season_mode_t mode)
{
    if ((int)mode > s->hour_mode)
        s->hour_mode = (int32_t)mode;
    if (mode == FS_SEASON_FROZEN)
        return;
    s->hour_x += x;
    s->hour_buckets += 1.0;
}

double fs_season_factor(const fs_season_t *s, int64_t bucket_start_ms, double bucket_seconds)
{
    double pos, f, v;
    int k0, k1;

    if (!s->ready || !(s->mean > 0.0))
        return 1.0;
    /* Knot k sits at the middle of hour k: half an hour back, the whole
     * part is the knot before the bucket, the rest the way to the next. */
    pos = (double)week_position(bucket_start_ms, bucket_seconds) / (double)HOUR_MS - 0.5;
    if (pos < 0.0)
        pos += FS_SEASON_SLOTS;
    k0 = (int)pos;
    if (k0 >= FS_SEASON_SLOTS)
        k0 = FS_SEASON_SLOTS - 1;
    f = pos - k0;
    k1 = (k0 + 1) % FS_SEASON_SLOTS;
    v = (1.0 - f) * knot_value(s, k0) + f * knot_value(s, k1);
    return fmax(v / s->mean, FS_SEASON_FACTOR_MIN);
}

double fs_season_hourly(const fs_season_t *s, double bucket_seconds)
{
    if (!s->ready || !(bucket_seconds > 0.0))
        return 0.0;
    return s->mean * 3600.0 / bucket_seconds;
}
