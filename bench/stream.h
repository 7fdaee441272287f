/*
 * stream.h: `foreshock-bench stream`: produces a workload to Kafka at a
 * chosen speed while showing the alerts foreshock publishes, live.
 */
#ifndef FS_BENCH_STREAM_H
#define FS_BENCH_STREAM_H

/* Runs the stream subcommand; argv[0] is "stream". Returns the exit status. */
int fs_bench_stream_main(int argc, char **argv);

#endif
