/*
 * perf.h: `foreshock-bench perf`: the throughput figures of one run, on a
 * generated workload: events/s through the daemon's pipeline in process
 * (memory store, and Redis store with --redis), Redis commands and round
 * trips per event measured at the server, memory per live slice, and Kafka
 * end to end (the real foreshock daemon next to kcat on the same topics).
 */
#ifndef FS_BENCH_PERF_H
#define FS_BENCH_PERF_H

/* Runs the perf subcommand; argv[0] is "perf". Returns the exit status. */
int fs_bench_perf_main(int argc, char **argv);

#endif
