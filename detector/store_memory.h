/*
 * store_memory.h: the in-memory store: one process, nothing kept after it.
 * Used by `foreshock-bench replay` by default and by unit tests. It applies
 * batches with the same fence rules as the Redis store, but keeps no
 * counters (the pipeline's own mirror is all a single process reads back);
 * it keeps offsets, alert state, the outbox and per-minute user
 * HyperLogLogs for `affected_users`, pruned after `redis.retention`.
 */
#ifndef FS_DETECTOR_STORE_MEMORY_H
#define FS_DETECTOR_STORE_MEMORY_H

#include "detector/store.h"

/* A new in-memory store; retention_ms bounds the users kept. NULL on OOM. */
fs_store_t *fs_store_memory_open(int64_t retention_ms, char *err, size_t err_size);

#endif
