/*
 * season.h: the hour-of-week profile of a count (attempts, errors).
 *
 * Volume and error counts follow the day and the week: at night a slice may
 * see a third of its daytime traffic. A decayed baseline with a half-life of
 * minutes follows such a cycle only with a lag (about halflife / ln 2), so a
 * steep evening fall looks like a volume drop and a steep morning rise like
 * an error burst. The profile takes the cycle out: a bucket at time t is
 * expected to hold
 *
 *     expected(t) = level * m(t)
 *
 * events, where m(t) is the multiplier of that time of the week (about 1 on
 * average over the week) and `level` a decayed baseline of the counts per
 * unit of m: a Poisson baseline whose buckets have exposure m(t) instead of 1
 * (baseline.h). The level keeps the baseline's short memory, so a slice whose
 * traffic grows or shrinks as a whole is still followed within a half-life;
 * the profile only supplies the shape.
 *
 * The profile: one knot per hour of the week (FS_SEASON_SLOTS, 0 = Monday
 * 00:00-01:00 UTC, by event time), each the mean count per bucket over that
 * hour, learned once per week by exponential smoothing (FS_SEASON_ALPHA) of
 * the hour's mean, clipped to within a factor FS_SEASON_CLIP (plus Poisson
 * noise) of what the knot held, so one odd week moves it only so far. m(t)
 * interpolates linearly between the knots at the middle of each hour, so it
 * never jumps at an hour boundary, and is divided by the profile's mean.
 *
 * Frozen while firing: once the profile is in use, an hour in which the
 * slice fired at all is not learned, so the profile is untouched from the
 * bucket that fires to the one that resolves, and an incident never becomes
 * part of the shape. Before that the alarms are the plain baseline's, which
 * does not know the cycle: where the cycle is steep, it fires every evening
 * and stays open all night (its rate is frozen at the day's level), and a
 * strict freeze would keep the night out of the profile for ever. So an hour
 * in which the plain baseline fired becomes a candidate: it is learned when
 * the same hour the day before was a candidate too and held the same level
 * (within the clip band): a cycle repeats from day to day, an incident does
 * not. A candidate never overwrites a learned knot and is never borrowed.
 * An hour needs at least half of its buckets to be fed.
 *
 * Enough history: a knot of the week that has not been learned yet borrows
 * the most recent learned knot of the same hour of the day (the day before,
 * or the one before that, ...). The profile is ready once every hour of the
 * day has been learned on some day, i.e. after a day of history; each hour
 * of the week uses its own knot from its first week on. The engine uses it
 * only once ready, once the level has learned for a half-life, and while
 * the level's counts are large enough for a shape to mean anything
 * (FS_SEASON_MIN_HOURLY; engine.h); otherwise the plain decayed baseline
 * applies.
 *
 * Memory: 168 floats and 168 counters plus the level and the hour being
 * accumulated, 928 bytes per slice and count signal (FS_SEASON_BYTES). The
 * two count models carry one each, so a slice's three model states take
 * 552 + 2 * 1480 = 3512 bytes instead of 1656 (tests/models/check_season.c
 * checks the figures).
 *
 * Plain data inside caller-owned model state; nothing here allocates, reads
 * a clock or fails.
 */
#ifndef FS_MODELS_SEASON_H
#define FS_MODELS_SEASON_H

#include <stdint.h>

#include "models/baseline.h"

/* Hours in a week: the knots of the profile. */
#define FS_SEASON_SLOTS 168

/* Weight of a new week in a knot: a half-life of two weeks (1 - 2^(-1/2)).
 * The first weeks of a knot are averaged evenly (weight 1/(seen + 1)) until
 * that is smaller. A shifted cycle (daylight saving time moves local habits
 * by an hour of UTC) is half relearned in two weeks; until then the level
 * absorbs what it can. */
#define FS_SEASON_ALPHA 0.2928932188134524

/* A week's hour mean is clipped to [k / C - noise, k * C + noise] around
 * the knot k it updates (or the knot it borrows, the first time), noise
 * being 4 Poisson standard deviations plus one event over the hour. */
#define FS_SEASON_CLIP 2.0

/* Smallest multiplier m(t): an hour that never sees traffic still expects a
 * little, so the expected count is never 0. */
#define FS_SEASON_FACTOR_MIN 0.01

/* Events per hour, at the level (the mean count with the cycle taken out:
 * about the average over the week), below which the profile is not used:
 * with fewer, an hour's mean is mostly noise (a knot of 30 events, a night
 * at 30% of 100, is known to +-18% from one week), and a count that small
 * gathers evidence too slowly for the cycle to matter. */
#define FS_SEASON_MIN_HOURLY 100.0

/* Bytes of fs_season_t (LP64 and ILP32 alike). */
#define FS_SEASON_BYTES 928

/* How a bucket may be learned (fs_season_add). */
typedef enum fs_season_mode {
    FS_SEASON_LEARN = 0,     /* not firing: learned */
    FS_SEASON_CANDIDATE = 1, /* firing on the plain baseline: its hour is a candidate */
    FS_SEASON_FROZEN = 2,    /* firing with the profile in use: its hour is not learned */
} fs_season_mode_t;

/* Bits of fs_season_t.seen: the weeks a knot has learned, and whether it
 * holds a candidate instead (then no week is learned). */
#define FS_SEASON_SEEN_WEEKS     0x7f
#define FS_SEASON_SEEN_CANDIDATE 0x80

typedef struct fs_season {
    fs_baseline_t level;           /* the level: counts per unit of m(t); the engine learns it */
    int64_t hour;                  /* hour being accumulated (hours since the epoch) */
    double hour_x;                 /* events learned in that hour */
    double hour_buckets;           /* buckets learned in that hour */
    double mean;                   /* mean of the profile's knots (borrowed ones included) */
    int32_t hour_mode;             /* the strictest fs_season_mode_t of its buckets */
    int32_t ready;                 /* every hour of the day has been learned on some day */
    float knot[FS_SEASON_SLOTS];   /* mean count per bucket of each hour of the week */
    uint8_t seen[FS_SEASON_SLOTS]; /* weeks learned per knot (at most 127), or candidate */
} fs_season_t;

/* Puts s into its empty state: nothing learned, not ready. */
void fs_season_init(fs_season_t *s);

/* The hour of the week (0 = Monday 00:00-01:00 UTC ... 167 = Sunday
 * 23:00-24:00) of an event time in ms since the epoch; any int64 is valid. */
int fs_season_slot(int64_t t_ms);

/*
 * Starts a bucket: when the bucket at bucket_start_ms (of bucket_seconds)
 * belongs to another hour than the one being accumulated (by its middle),
 * the accumulated hour is learned into its knot (or kept as a candidate, or
 * dropped, by its mode; see above) if at least half of its buckets were
 * fed, and accumulation restarts with the bucket's hour. Call once per
 * bucket, before fs_season_add, in order of time.
 */
void fs_season_roll(fs_season_t *s, int64_t bucket_start_ms, double bucket_seconds);

/* Adds the current bucket's count x to its hour, with the mode the engine
 * was in for it (see fs_season_mode_t). */
void fs_season_add(fs_season_t *s, double x, fs_season_mode_t mode);

/*
 * The multiplier m(t) for the bucket at bucket_start_ms (of bucket_seconds),
 * at its middle: the knots interpolated linearly (a knot sits at the middle
 * of its hour), divided by the mean of the knots, at least
 * FS_SEASON_FACTOR_MIN. 1 while the profile is not ready.
 */
double fs_season_factor(const fs_season_t *s, int64_t bucket_start_ms, double bucket_seconds);

/* Mean events per hour of the profile's knots for buckets of bucket_seconds
 * (for reports; the engine gates on the level); 0 while it is not ready. */
double fs_season_hourly(const fs_season_t *s, double bucket_seconds);

#endif
