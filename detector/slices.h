/*
 * slices.h: the registry of live slices.
 *
 * A slice is a subset of traffic named by up to two dimension values
 * ("country=BR", "country=BR,platform=android"), one error code
 * ("code=AUDIO_DECODE"), or nothing (all traffic, key ""). Each event is
 * expanded into the slices it belongs to; the registry maps them to small
 * dense indices, so per-slice state elsewhere lives in plain arrays.
 *
 * The canonical key is `dim=value` parts joined by ',' in configured
 * dimension order, with '\\', ',' and '=' in values escaped by a backslash,
 * so different slices never share a key. Keys are what the store and the
 * alert fingerprints use.
 *
 * The number of slices is bounded (slices.max): a slice that would exceed it
 * is not created and the event still counts in the slices that exist.
 * Not thread safe.
 */
#ifndef FS_DETECTOR_SLICES_H
#define FS_DETECTOR_SLICES_H

#include <stddef.h>
#include <stdint.h>

#include "detector/event.h"

#define FS_SLICE_NONE UINT32_MAX
#define FS_SLICE_ALL 0u /* index of the all-traffic slice, which always exists */

/* Kinds of slices, from the least to the most specific. */
typedef enum fs_slice_kind {
    FS_SLICE_KIND_ALL = 0,
    FS_SLICE_KIND_DIM = 1,  /* one dimension */
    FS_SLICE_KIND_PAIR = 2, /* two dimensions */
    FS_SLICE_KIND_CODE = 3, /* one error code */
} fs_slice_kind_t;

typedef struct fs_slices fs_slices_t;

/* The slices one event counts in. */
typedef struct fs_slice_set {
    uint32_t ids[2 + 2 * FS_MAX_DIMS + FS_MAX_DIMS * (FS_MAX_DIMS - 1) / 2];
    size_t n;
} fs_slice_set_t;

/*
 * A registry for the given dimensions (copied), pairs as index pairs
 * (pairs[2*i], pairs[2*i+1] index dims), per-code slices or not, and at most
 * max_slices slices. Returns NULL with the reason in err.
 */
fs_slices_t *fs_slices_new(const char *const *dims, size_t n_dims, const uint8_t *pairs,
                           size_t n_pairs, int error_codes, size_t max_slices, char *err,
                           size_t err_size);

/* Frees the registry. Accepts NULL. */
void fs_slices_free(fs_slices_t *slices);

/*
 * Finds or creates the slices of ev and writes their indices to set (all
 * traffic first, parents before children). event_ms marks them as seen.
 * Slices that could not be created because of the bound are left out and
 * counted (fs_slices_overflow).
 */
void fs_slices_expand(fs_slices_t *slices, const fs_event_t *ev, fs_slice_set_t *set);

/* Finds a slice by canonical key without creating it; FS_SLICE_NONE if absent. */
uint32_t fs_slices_find(const fs_slices_t *slices, const char *key, size_t len);

/* Finds or creates a slice by canonical key (as stored); FS_SLICE_NONE if the
 * key is malformed or the bound is reached. */
uint32_t fs_slices_intern(fs_slices_t *slices, const char *key, size_t len);

/*
 * Forgets slices not seen since before `older_than_ms` (event time) for which
 * keep(opaque, id) returns 0; their indices are reused later. Returns how
 * many were forgotten. forget(opaque, id) is called for each before reuse.
 */
size_t fs_slices_evict(fs_slices_t *slices, int64_t older_than_ms,
                       int (*keep)(void *opaque, uint32_t id), void *opaque);

/* One past the highest index in use (indices below it may be free). */
uint32_t fs_slices_capacity(const fs_slices_t *slices);

/* Whether index id holds a live slice. */
int fs_slices_live(const fs_slices_t *slices, uint32_t id);

/* Number of live slices. */
size_t fs_slices_count(const fs_slices_t *slices);

/* Events' slices that were not created because of the bound, since start. */
uint64_t fs_slices_overflow(const fs_slices_t *slices);

/* The canonical key of a live slice (valid until it is evicted). */
const char *fs_slices_key(const fs_slices_t *slices, uint32_t id);

fs_slice_kind_t fs_slices_kind(const fs_slices_t *slices, uint32_t id);

/* The parent whose baseline a small slice borrows: all traffic for a one-
 * dimension or code slice, the first dimension's slice for a pair;
 * FS_SLICE_NONE for all traffic or when the parent is gone. */
uint32_t fs_slices_parent(const fs_slices_t *slices, uint32_t id);

/* Marks a slice as seen at event_ms (restored slices, so they are not
 * evicted before their first event). */
void fs_slices_seen(fs_slices_t *slices, uint32_t id, int64_t event_ms);

/* Most recent event time seen in the slice. */
int64_t fs_slices_last_seen(const fs_slices_t *slices, uint32_t id);

/*
 * Splits a canonical key into its (name, value) parts, unescaped, calling
 * cb for each. Returns 0, or -1 if the key is malformed.
 */
int fs_slice_key_parts(const char *key, void (*cb)(void *opaque, const char *name,
                                                   size_t name_len, const char *value,
                                                   size_t value_len),
                       void *opaque);

#endif
