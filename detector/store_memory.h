/*
 * store_memory.h: the in-memory store: one process, nothing kept after it.
 * Used by `foreshock-bench replay` by default and by unit tests. It applies
 * batches with the same fence rules as the Redis store and keeps offsets,
 * alert state, the outbox, the meta and snapshot hashes, per-minute user
 * HyperLogLogs for `affected_users` (pruned after `redis.retention`), and the
 * counters of only the newest buckets (what a restart of a pipeline on the
 * same store reads back), so memory stays small over long replays.
 */
#ifndef FS_DETECTOR_STORE_MEMORY_H
#define FS_DETECTOR_STORE_MEMORY_H

#include "detector/store.h"

/* A new in-memory store; retention_ms bounds the users kept, keep_counters_ms
 * the counters (back from the newest bucket). NULL on OOM. */
fs_store_t *fs_store_memory_open(int64_t retention_ms, int64_t keep_counters_ms, char *err,
                                 size_t err_size);

#endif
