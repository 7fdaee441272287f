/*
 * store.c: opens the store the configuration names (see store.h).
 */
#include "detector/store.h"

#include "detector/store_memory.h"
#include "detector/store_redis.h"

fs_store_t *fs_store_open(const fs_config_t *cfg, char *err, size_t err_size)
{
    if (cfg->store == FS_STORE_MEMORY)
        /* Counters reach as far back as a restart reads: the snapshot
         * interval plus the open buckets. */
        return fs_store_memory_open(cfg->redis_retention_ms,
                                    cfg->detect_snapshot_ms + 2 * cfg->window_horizon_ms, err,
                                    err_size);
    return fs_store_redis_open(cfg, err, err_size);
}
