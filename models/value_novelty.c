/*
 * value_novelty.c: the value model (see value_novelty.h). One value in, the
 * share of its contexts never seen before out; the counters live in the
 * caller's state block, so an update only reads and bumps a dozen of them.
 */
#include "models/value_novelty.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(fs_value_novelty_state_t) % 8 == 0, "state blocks hold doubles");
_Static_assert(FS_VALUE_NOVELTY_LEVELS <= 256, "cells are kept in bytes");

/* Counters before the table of contexts of length k + 1 at resolution r
 * (2^r cells); the tables are laid out by resolution, then length. */
static size_t table_offset(int r, int k)
{
    size_t off = 0;

    for (int rr = 1; rr <= FS_VALUE_NOVELTY_BITS; rr++)
        for (int kk = 0; kk <= FS_VALUE_NOVELTY_ORDER; kk++) {
            if (rr == r && kk == k)
                return off;
            off += (size_t)1 << (rr * (kk + 1));
        }
    return off;
}

/* Whether the params give a range to cut into cells. */
static int has_range(const fs_model_params_t *params)
{
    return isfinite(params->value_min) && isfinite(params->value_max) &&
           params->value_max > params->value_min;
}

/* The fine cell of x; out-of-range values go to the edge cells. The
 * comparisons are written so that a NaN position (an overflowing range)
 * lands in cell 0 and nothing is converted out of int's range. */
static int cell_of(const fs_model_params_t *params, double x)
{
    double pos;

    if (!has_range(params))
        return 0;
    pos =
        (x - params->value_min) / (params->value_max - params->value_min) * FS_VALUE_NOVELTY_LEVELS;
    if (!(pos >= 0.0))
        return 0;
    if (pos >= FS_VALUE_NOVELTY_LEVELS - 1)
        return FS_VALUE_NOVELTY_LEVELS - 1;
    return (int)pos;
}

/* The centre of the fine cell that most often followed the previous value's
 * cell (the lowest such cell on a tie), or x when nothing has followed it. */
static double guess(const fs_value_novelty_state_t *vs, const fs_model_params_t *params, double x)
{
    const uint16_t *next;
    int best = -1;

    if (vs->recent_n == 0 || !has_range(params))
        return x;
    next = vs->count + table_offset(FS_VALUE_NOVELTY_BITS, 1) +
           (size_t)vs->recent[0] * FS_VALUE_NOVELTY_LEVELS;
    for (int c = 0; c < FS_VALUE_NOVELTY_LEVELS; c++)
        if (next[c] > 0 && (best < 0 || next[c] > next[best]))
            best = c;
    if (best < 0)
        return x;
    return params->value_min +
           (best + 0.5) * (params->value_max - params->value_min) / FS_VALUE_NOVELTY_LEVELS;
}

/* Counts the current contexts (cells[0] is the value's fine cell, cells[j]
 * the one j values back, known of them in all), returning in *total how many
 * there were and how many had never been seen. */
static int learn(fs_value_novelty_state_t *vs, const int *cells, int known, int *total)
{
    int novel = 0;

    *total = 0;
    for (int r = 1; r <= FS_VALUE_NOVELTY_BITS; r++) {
        int shift = FS_VALUE_NOVELTY_BITS - r;
        for (int k = 0; k <= FS_VALUE_NOVELTY_ORDER && k < known; k++) {
            size_t idx = 0;
            for (int j = k; j >= 0; j--)
                idx = (idx << r) + (size_t)(cells[j] >> shift);
            idx += table_offset(r, k);
            (*total)++;
            if (vs->count[idx] == 0)
                novel++;
            if (vs->count[idx] < UINT16_MAX)
                vs->count[idx]++;
        }
    }
    return novel;
}

static void value_init(void *state, const fs_model_params_t *params)
{
    (void)params;
    memset(state, 0, sizeof(fs_value_novelty_state_t));
}

static void value_update(void *state, const fs_model_params_t *params, const fs_model_obs_t *obs,
                         fs_model_verdict_t *verdict)
{
    fs_value_novelty_state_t *vs = state;
    int cells[FS_VALUE_NOVELTY_ORDER + 1];
    int novel, total;
    double x = obs->x;

    vs->buckets += 1.0;
    verdict->firing = 0;
    verdict->onset_ms = obs->bucket_start_ms;
    verdict->window_seconds = params->bucket_seconds;
    verdict->score = 0.0;
    if (isnan(x)) {
        verdict->observed = verdict->expected = verdict->window_x = verdict->window_n = 0.0;
        if (vs->rest_left > 0)
            vs->rest_left--;
        return;
    }
    verdict->observed = verdict->window_x = x;
    verdict->window_n = 1.0;
    verdict->expected = guess(vs, params, x);

    /* Every value is learned, in the warm-up and the rest period too: what
     * follows a detection is part of the same event and must not look new
     * once the rest is over. */
    cells[0] = cell_of(params, x);
    for (int j = 0; j < vs->recent_n; j++)
        cells[j + 1] = vs->recent[j];
    novel = learn(vs, cells, vs->recent_n + 1, &total);
    memmove(vs->recent + 1, vs->recent, FS_VALUE_NOVELTY_ORDER - 1);
    vs->recent[0] = (uint8_t)cells[0];
    if (vs->recent_n < FS_VALUE_NOVELTY_ORDER)
        vs->recent_n++;

    if (vs->rest_left > 0) {
        vs->rest_left--;
        return;
    }
    if (vs->buckets <= params->warmup_buckets)
        return;
    verdict->score = (double)novel / (double)total;
    if (novel * FS_VALUE_NOVELTY_DETECT_DEN >= total * FS_VALUE_NOVELTY_DETECT_NUM) {
        verdict->firing = 1;
        vs->rest_left = params->rest_buckets >= (double)UINT32_MAX ? UINT32_MAX
                        : params->rest_buckets >= 1.0              ? (uint32_t)params->rest_buckets
                                                                   : 0;
    }
}

const fs_model_vtable_t fs_value_novelty_model = {
    .name = "value_novelty",
    .signal = FS_SIGNAL_VALUE,
    .state_size = sizeof(fs_value_novelty_state_t),
    .init = value_init,
    .update = value_update,
    .tests = 1,
};
