/*
 * hash.h: a fast 64-bit hash of byte strings for in-process tables, and
 * FNV-1a for identities that must be the same in every process and release
 * (alert fingerprints). The table hash is not stable across releases.
 */
#ifndef FS_DETECTOR_HASH_H
#define FS_DETECTOR_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t fs_hash_mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

/* Hash for in-process tables: 8 bytes at a time. */
static inline uint64_t fs_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ fs_hash_mix(w)) * 0x9e3779b97f4a7c15ULL;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ fs_hash_mix(w)) * 0x9e3779b97f4a7c15ULL;
    }
    return fs_hash_mix(h);
}

/* FNV-1a 64: stable identity hash, continued from h (start with FS_FNV_OFFSET). */
#define FS_FNV_OFFSET 0xcbf29ce484222325ULL
static inline uint64_t fs_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
