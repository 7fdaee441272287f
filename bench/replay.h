/*
 * replay.h: `foreshock-bench replay`: the daemon's pipeline over
 * newline-delimited event files, as fast as it can, in event time
 * (CONTRACT.md section 3).
 */
#ifndef FS_BENCH_REPLAY_H
#define FS_BENCH_REPLAY_H

/* Runs the replay subcommand; argv[0] is "replay". Returns the exit status. */
int fs_bench_replay_main(int argc, char **argv);

#endif
