/*
 * gen.h: `foreshock-bench gen`: a seeded, reproducible workload of playback
 * and error events (CONTRACT.md section 1) with injected incidents, written
 * as the two NDJSON files replay and the Kafka producers read.
 */
#ifndef FS_BENCH_GEN_H
#define FS_BENCH_GEN_H

/* Runs the gen subcommand; argv[0] is "gen". Returns the exit status. */
int fs_bench_gen_main(int argc, char **argv);

#endif
