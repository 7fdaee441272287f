/*
 * hll.h: a HyperLogLog distinct counter for the in-memory store, with the
 * same precision as Redis' (2^14 registers would be 16 KiB; this one uses
 * 2^12 = 4096 one-byte registers, 1.6% standard error) and a sparse form
 * that holds up to 128 exact hashes first, since most slices see few
 * distinct failing users per minute.
 */
#ifndef FS_DETECTOR_HLL_H
#define FS_DETECTOR_HLL_H

#include <stddef.h>
#include <stdint.h>

#define FS_HLL_P 12
#define FS_HLL_REGISTERS (1u << FS_HLL_P)
#define FS_HLL_SPARSE_MAX 128

typedef struct fs_hll {
    uint64_t *sparse;   /* distinct hashes while n_sparse <= FS_HLL_SPARSE_MAX */
    uint8_t *registers; /* dense form, NULL while sparse */
    uint32_t n_sparse, cap_sparse;
} fs_hll_t;

/* Adds a 64-bit hash of a value. Returns 0 or -1 on out of memory. */
int fs_hll_add(fs_hll_t *hll, uint64_t hash);

/* Frees what the counter holds; it is empty afterwards. */
void fs_hll_clear(fs_hll_t *hll);

/* Merges hll into registers (FS_HLL_REGISTERS bytes, start zeroed). */
void fs_hll_merge_into(const fs_hll_t *hll, uint8_t *registers);

/* The cardinality estimate of merged registers. */
double fs_hll_estimate(const uint8_t *registers);

#endif
