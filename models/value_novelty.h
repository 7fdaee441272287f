/*
 * value_novelty.h: the value model "value_novelty" (FS_SIGNAL_VALUE), a
 * novelty detector over a discretised value and its recent context. It is
 * the model `foreshock-bench nab` runs over the NAB corpus.
 *
 * Encoding. The range [params->value_min, params->value_max] is cut into
 * FS_VALUE_NOVELTY_LEVELS equal cells (values outside it fall into the edge
 * cells), and each value is seen at FS_VALUE_NOVELTY_BITS resolutions at once:
 * its cell among 2, 4, ..., FS_VALUE_NOVELTY_LEVELS cells (the leading 1, 2,
 * ... bits of its cell number). A coarse cell says roughly where the value
 * is; a fine one says exactly.
 *
 * Contexts. At each resolution the model looks at the cells of the current
 * value and of the up to FS_VALUE_NOVELTY_ORDER values before it: the
 * 1-gram (the cell), the 2-gram (previous cell, cell) and the 3-gram. That
 * is FS_VALUE_NOVELTY_FEATURES contexts per value (fewer for the first
 * values). The state counts how often each context has occurred; the tables
 * are indexed directly (FS_VALUE_NOVELTY_CELLS counters in all), so nothing
 * is ever evicted and the state is a fixed block.
 *
 * Score. The share of the current contexts never seen before, in [0, 1]: 1
 * when even the value's coarsest cell is new, 0 for a sequence that has
 * occurred before. A new level, a spike or a new shape of the curve all
 * make unseen contexts; a noisy but stationary series stops producing them
 * once its range and transitions have been seen, and a repeated pattern
 * stops being novel after its first occurrence.
 *
 * Detection and rest. A score of at least FS_VALUE_NOVELTY_DETECT (a third
 * of the contexts new) is a detection (verdict.firing = 1). After it the
 * model reports score 0 and firing 0 for params->rest_buckets buckets while
 * it goes on learning: one incident should be reported once, early, and the
 * unseen contexts that follow a change (the way into and out of the new
 * level) are part of the same event.
 *
 * Warm-up. During the first params->warmup_buckets buckets the model learns
 * and reports 0.
 *
 * Observations: obs->x is the value; n and prior are ignored, and so is the
 * time (obs->bucket_start_ms only becomes verdict.onset_ms): every call is
 * the next value of the stream. A NaN value is no observation: it is not
 * learned and does not enter the context, the verdict has score 0,
 * window_n 0 and observed, expected and window_x 0 (the warm-up and the
 * rest period still count it as a bucket). Without a usable range
 * (value_max <= value_min, or either not finite) every value falls into one
 * cell and nothing is new after the first three values.
 *
 * Verdict: score as above; firing on a detection; onset_ms =
 * obs->bucket_start_ms; observed = window_x = the value, window_n = 1,
 * window_seconds = params->bucket_seconds; expected = the centre of the
 * fine cell that most often followed the previous value's cell (the model's
 * guess), or the value itself when there is none yet.
 */
#ifndef FS_MODELS_VALUE_NOVELTY_H
#define FS_MODELS_VALUE_NOVELTY_H

#include <stdint.h>

#include "models/model.h"

/* Resolutions: the finest cuts the range into 2^4 = 16 cells (a cell is
 * about 6% of the range, coarse enough that noise stays in a few cells). */
#define FS_VALUE_NOVELTY_BITS   4
#define FS_VALUE_NOVELTY_LEVELS (1 << FS_VALUE_NOVELTY_BITS)
/* Previous values in the longest context. */
#define FS_VALUE_NOVELTY_ORDER 2
/* Contexts per value: one per resolution and length. */
#define FS_VALUE_NOVELTY_FEATURES (FS_VALUE_NOVELTY_BITS * (FS_VALUE_NOVELTY_ORDER + 1))
/* Counters: at resolution r (2^r cells) a context of length k + 1 has
 * 2^(r (k + 1)) possible values; summed over r = 1..4 and k = 0..2. */
#define FS_VALUE_NOVELTY_CELLS 5050
/* A detection is a score of at least NUM / DEN. */
#define FS_VALUE_NOVELTY_DETECT_NUM 1
#define FS_VALUE_NOVELTY_DETECT_DEN 3
#define FS_VALUE_NOVELTY_DETECT                                                                    \
    ((double)FS_VALUE_NOVELTY_DETECT_NUM / (double)FS_VALUE_NOVELTY_DETECT_DEN)

/* The per-stream state (10,120 bytes). */
typedef struct fs_value_novelty_state {
    double buckets;                         /* buckets seen, for the warm-up */
    uint32_t rest_left;                     /* buckets still to report 0 after a detection */
    uint16_t count[FS_VALUE_NOVELTY_CELLS]; /* occurrences of each context, saturating */
    uint8_t recent[FS_VALUE_NOVELTY_ORDER]; /* fine cells of the previous values, newest first */
    uint8_t recent_n;                       /* how many of them are known */
} fs_value_novelty_state_t;

extern const fs_model_vtable_t fs_value_novelty_model;

#endif
