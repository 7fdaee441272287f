/*
 * store_redis.h: the Redis implementation of the window store (store.h).
 *
 * This is the durable, shared copy of foreshock's state: the daemon flushes
 * one pre-aggregated batch per flush interval into it, and reads it back on
 * start, on failover and from other instances. Each commit is ONE round trip:
 * a Lua script, sent with EVALSHA, that checks every offset fence and only
 * then applies the whole batch, so Redis never holds half a batch. Only this
 * module includes hiredis; its types stay behind fs_store_t.
 *
 * Key layout. Every key starts with cfg->redis_prefix (P below, "fs:" by
 * default; with Redis Cluster give it a hash tag, e.g. "{fs}:", so that every
 * key lands in one slot: the commit script builds bucket and HyperLogLog key
 * names itself, which Cluster accepts only for keys of the script's own
 * slot). Numbers are decimal, times are event time in milliseconds since the
 * epoch. Which buckets exist is kept in the "buckets" index below, so readers
 * need not know the bucket width.
 *
 *   P b:<bucket_ms>           hash, one per bucket: the counters of every
 *                             slice in that bucket. Field: the slice key
 *                             verbatim (any byte: ':', '=', ',', UTF-8; the
 *                             whole field is the slice, so nothing is
 *                             ambiguous). Value: "<attempts> <failures>
 *                             <errors>" in decimal, one field per slice
 *                             rather than three keeps the hash a third of
 *                             the size. Every (slice, bucket) a batch
 *                             mentions gets a field, zeros included.
 *                             TTL: redis_retention_ms, renewed by each commit
 *                             that touches the bucket.
 *   P buckets                 sorted set indexing the bucket hashes: member
 *                             and score are <bucket_ms>. Commits drop members
 *                             older than (newest bucket of the batch -
 *                             retention); readers skip members whose hash has
 *                             expired. TTL: retention, renewed by each commit
 *                             with counters.
 *   P u:<minute_ms>:<slice>   HyperLogLog of the users with a failure or error
 *                             in the slice during the minute starting at
 *                             minute_ms (bucket_ms rounded down to a multiple
 *                             of 60000). minute_ms has no ':', so everything
 *                             after the second ':' is the slice verbatim.
 *                             TTL: retention, renewed on each commit.
 *   P offsets                 hash: field "<topic>/<partition>" -> the last
 *                             applied offset (Kafka topic names have no '/').
 *                             No TTL.
 *   P alerts                  hash: fingerprint -> persisted alert state.
 *                             No TTL.
 *   P outbox                  hash: message id -> alert message not yet
 *                             delivered. No TTL.
 *   P meta                    hash: small facts of the pipeline (how far
 *                             buckets are closed, the bucket width, the
 *                             snapshot's time and format). No TTL.
 *   P snapshot                hash: slice -> the models' warm state (binary),
 *                             replaced whole by a batch that carries one.
 *                             No TTL.
 *
 * A commit that returns FS_STORE_EUNAVAILABLE has an unknown outcome when the
 * connection broke after the request was sent (e.g. a timeout): the batch was
 * applied in full or not at all. Retrying the same batch is safe: either it
 * applies now, or the fence refuses it with FS_STORE_EFENCE, and
 * fs_store_offset() then shows whether the stored offset is the batch's
 * `last` (it had landed) or not (someone else moved the partition on).
 * Everything else in a batch is idempotent except the counters, so a batch
 * with counters should carry the offsets they came from.
 *
 * Beyond store.h: an fs_alert_put_t with id == NULL changes the alert state
 * only and puts nothing into the outbox. Within one batch the outbox puts are
 * applied before the `delivered` removals. Counters and times must stay
 * within +-2^53 (they pass through Lua numbers and sorted-set scores, which
 * are doubles); a batch outside that, or one that meets a stored counter that
 * does not parse, is refused with FS_STORE_EINVALID and changes nothing.
 */
#ifndef FS_DETECTOR_STORE_REDIS_H
#define FS_DETECTOR_STORE_REDIS_H

#include <stddef.h>

#include "config/config.h"
#include "detector/store.h"

/*
 * Creates a Redis store for cfg->redis_address (HOST:PORT, [IPv6]:PORT or
 * the absolute path of a Unix socket), cfg->redis_prefix, cfg->redis_timeout_ms
 * (bound on connecting and on each request) and cfg->redis_retention_ms (TTL
 * of counters and HyperLogLogs). cfg is borrowed: what is needed is copied.
 *
 * Nothing is sent here: the store connects on its first call and reconnects
 * on the call after any failure, so an unreachable Redis is not an error of
 * this function; the calls return FS_STORE_EUNAVAILABLE until it answers.
 * Returns NULL, with the reason in err (err_size bytes, always terminated),
 * when the address is malformed, a setting is out of range or memory runs
 * out. Free the store with fs_store_free().
 *
 * The store is not thread safe (one per pipeline thread). While it talks to
 * Redis it blocks SIGPIPE in the calling thread, so a server that goes away
 * yields FS_STORE_EUNAVAILABLE rather than killing the process.
 */
fs_store_t *fs_store_redis_open(const fs_config_t *cfg, char *err, size_t err_size);

#endif
