/*
 * replay.h: `foreshock-bench replay`: the daemon's pipeline over
 * newline-delimited event files, as fast as it can, in event time
 * (CONTRACT.md section 3). The subcommand and `foreshock-bench tune` share
 * fs_bench_replay_run.
 */
#ifndef FS_BENCH_REPLAY_H
#define FS_BENCH_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "detector/pipeline.h"

/* The files of one replay; all paths borrowed. */
typedef struct fs_bench_replay_files {
    const char *playback;   /* playback events, one JSON message per line */
    const char *errors;     /* error events, likewise */
    const char *alerts;     /* created or truncated: every alert message, one per line */
    const char *deadletter; /* optional (NULL): invalid lines with source and reason */
} fs_bench_replay_files_t;

/* What a replay did, for its summary line. */
typedef struct fs_bench_replay_stats {
    int finished; /* the inputs were read to the end and flushed */
    fs_pipeline_stats_t pipeline;
    double elapsed_s;        /* from the first line read to the last flush */
    uint64_t alerts_written; /* alert messages written to the alerts file */
    uint64_t store_round_trips;
    size_t bytes_per_slice;
} fs_bench_replay_stats_t;

/*
 * Replays the two event files through a fresh store and pipeline over cfg
 * (borrowed), writing alerts as they are published. With store = redis it
 * resumes after the offsets stored by an earlier run. The result does not
 * depend on machine speed: the wall clock is read once.
 *
 * progress (may be NULL) receives a line when the store is unavailable and
 * the flush is being retried. Returns 0 with *stats filled in; or -1 with a
 * NUL-terminated message in err (err_size bytes), the text the replay
 * subcommand prints, e.g. "replay: flush failed: ..." or "a.ndjson: No such
 * file or directory"; stats->finished then says whether the replay itself
 * completed (only closing the alerts file failed).
 *
 * Thread safety: runs on separate threads may share nothing but cfg, and
 * must use the memory store (or distinct Redis prefixes).
 */
int fs_bench_replay_run(const fs_config_t *cfg, const fs_bench_replay_files_t *files,
                        FILE *progress, fs_bench_replay_stats_t *stats, char *err, size_t err_size);

/* Runs the replay subcommand; argv[0] is "replay". Returns the exit status. */
int fs_bench_replay_main(int argc, char **argv);

#endif
