/*
 * main.c: the `foreshock` command line (CONTRACT.md section 3).
 *
 * Parses -c FILE and -X overrides into a configuration and validates it
 * (cli.h), then checks, dumps or runs the detector, with an embedded Kafka
 * when asked.
 */
#include <stdio.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "detector/cli.h"
#include "detector/daemon.h"
#include "detector/embedded_kafka.h"
#include "detector/log.h"

#ifndef FS_VERSION
#define FS_VERSION "unknown"
#endif

static void usage(FILE *out)
{
    fputs("usage: foreshock -c FILE [-X key=value]... [--check-config | --dump-config]\n"
          "                 [--embedded-kafka]\n"
          "       foreshock --version | --help\n"
          "\n"
          "  -c, --config FILE   configuration file (see config/CONFIGURATION.md)\n"
          "  -X key=value        set or override a configuration key\n"
          "      --check-config  validate the configuration, print FILE:LINE: key: reason\n"
          "                      for each problem, exit 0 if valid and 1 if not\n"
          "      --dump-config   print the effective configuration and exit\n"
          "      --embedded-kafka  run an in-process Kafka (librdkafka's mock cluster) on a\n"
          "                      loopback port, create the four topics in it and use it\n"
          "                      instead of kafka.bootstrap.servers; for demos and trials,\n"
          "                      not for volume (it keeps about 5 MiB per partition)\n"
          "  -V, --version       print the versions of foreshock, librdkafka and hiredis\n",
          out);
}

static void version(void)
{
    printf("foreshock %s\nlibrdkafka %s\nhiredis %d.%d.%d\n", FS_VERSION, rd_kafka_version_str(),
           HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
}

int main(int argc, char **argv)
{
    fs_cli_t cli = {.program = "foreshock", .usage = usage, .version = version,
                    .allow_embedded = 1};
    fs_embedded_kafka_t *kafka = NULL;
    fs_config_t *cfg = NULL;
    int status = fs_cli_parse(&cli, argc, argv);

    if (status >= 0)
        goto done;
    cfg = fs_cli_config(&cli, NULL, &status);
    if (!cfg)
        goto done;
    status = 1;
    if (cli.embedded) {
        char err[512];
        const char *topics[] = {cfg->topics_playback, cfg->topics_errors, cfg->topics_alerts,
                                cfg->topics_deadletter};
        kafka = fs_embedded_kafka_new(topics, 4, 4, err, sizeof err);
        if (!kafka || fs_config_set_kafka(cfg, "bootstrap.servers",
                                          fs_embedded_kafka_bootstraps(kafka)) != 0) {
            fprintf(stderr, "foreshock: embedded Kafka: %s\n", kafka ? "out of memory" : err);
            goto done;
        }
        fs_log(FS_LOG_INFO, "embedded_kafka", "bootstrap=%s", fs_embedded_kafka_bootstraps(kafka));
    }
    status = fs_daemon_run(cfg);

done:
    fs_embedded_kafka_free(kafka);
    fs_config_free(cfg);
    fs_cli_free(&cli);
    return status;
}
