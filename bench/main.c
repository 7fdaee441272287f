/*
 * main.c: `foreshock-bench SUBCOMMAND ...`, the benchmark and replay tool.
 */
#include <stdio.h>
#include <string.h>

#include "bench/gen.h"
#include "bench/nab.h"
#include "bench/nab_score.h"
#include "bench/perf.h"
#include "bench/replay.h"
#include "bench/report.h"
#include "bench/score.h"
#include "bench/stream.h"
#include "bench/tune.h"

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench replay -c FILE --playback P --errors E --alerts OUT "
          "[-X key=value]...\n"
          "       foreshock-bench gen --playback P --errors E [--rate N] [--duration D] "
          "[--incident SPEC]... [--decoy SPEC]...\n"
          "                           [--duplicates S] [--disorder S] [--late S] [--missing S] "
          "[--no-noise]   (gen --help for all)\n"
          "       foreshock-bench stream -b BOOTSTRAP --playback P --errors E [--speed X] "
          "[--truth T]\n",
          out);
    fputs("       foreshock-bench score --truth T --alerts A [--playback P --errors E] "
          "[--json OUT] [--slices N] [--span D]\n",
          out);
    fputs("       foreshock-bench tune -c FILE --playback P --errors E --truth T --out R.csv "
          "[--sweep key=v1,v2,...]... [-X key=value]... [--jobs N] [--alerts-dir D]\n"
          "       foreshock-bench report --truth T --alerts A --playback P --errors E "
          "[--tune R.csv] --out REPORT.html\n",
          out);
    fputs("       foreshock-bench nab --corpus DIR --out DIR [--detector NAME] [--model NAME]\n"
          "       foreshock-bench nab-score --corpus DIR --results DIR --detector NAME\n",
          out);
    fputs("       foreshock-bench perf [-c FILE] [-X key=value]... [--rate N] [--duration D] "
          "[--seed N] [--slices N]\n"
          "                            [--redis HOST:PORT] [-b BOOTSTRAP] [--foreshock PATH] "
          "[--kcat PATH]\n"
          "                            [--partitions N] [--timeout SECONDS] [--json OUT]\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "gen") == 0)
        return fs_bench_gen_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "stream") == 0)
        return fs_bench_stream_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return fs_bench_replay_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "score") == 0)
        return fs_bench_score_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "tune") == 0)
        return fs_bench_tune_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "report") == 0)
        return fs_bench_report_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "nab") == 0)
        return fs_bench_nab_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "nab-score") == 0)
        return fs_bench_nab_score_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "perf") == 0)
        return fs_bench_perf_main(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
