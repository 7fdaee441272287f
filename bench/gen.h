/*
 * gen.h: `foreshock-bench gen`: a seeded, reproducible workload of playback
 * and error events (CONTRACT.md section 1) with injected incidents and
 * decoys and realistic delivery noise (duplicates, out-of-order and late
 * events, missing dimensions), written as the two NDJSON files replay and
 * the Kafka producers read, and a ground-truth file for score.
 */
#ifndef FS_BENCH_GEN_H
#define FS_BENCH_GEN_H

/* Runs the gen subcommand; argv[0] is "gen". Returns the exit status: 0, 1
 * if a file could not be written, 2 on bad usage. Not thread safe (getopt). */
int fs_bench_gen_main(int argc, char **argv);

#endif
