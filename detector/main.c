/*
 * main.c: the `foreshock` command line (CONTRACT.md section 3).
 *
 * Parses -c FILE and -X overrides into a configuration, validates it (the
 * key table, cross-key rules and librdkafka's verdict on kafka.* properties),
 * then checks, dumps or runs the detector.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "detector/daemon.h"
#include "detector/embedded_kafka.h"
#include "detector/log.h"
#include "detector/kafka_conf.h"

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

static void print_diag(const fs_config_diag_t *diag)
{
    for (size_t i = 0; i < diag->n; i++)
        fprintf(stderr, "%s\n", diag->messages[i]);
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_DUMP, OPT_EMBEDDED };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"dump-config", no_argument, NULL, OPT_DUMP},
        {"embedded-kafka", no_argument, NULL, OPT_EMBEDDED},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int check_only = 0, dump = 0, embedded = 0, n_overrides = 0, status = 1;
    fs_embedded_kafka_t *kafka = NULL;
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    fs_config_t *cfg = NULL;
    fs_config_diag_t diag = {0};
    rd_kafka_conf_t *kafka_conf = NULL;

    if (!overrides) {
        fputs("foreshock: out of memory\n", stderr);
        return 1;
    }
    int opt;
    while ((opt = getopt_long(argc, argv, "c:X:Vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'X':
            overrides[n_overrides++] = optarg;
            break;
        case OPT_CHECK:
            check_only = 1;
            break;
        case OPT_DUMP:
            dump = 1;
            break;
        case OPT_EMBEDDED:
            embedded = 1;
            break;
        case 'V':
            printf("foreshock %s\nlibrdkafka %s\nhiredis %d.%d.%d\n", FS_VERSION,
                   rd_kafka_version_str(), HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
            status = 0;
            goto done;
        case 'h':
            usage(stdout);
            status = 0;
            goto done;
        default:
            usage(stderr);
            status = 2;
            goto done;
        }
    }
    if (optind != argc || !config_path) {
        fputs(optind != argc ? "foreshock: unexpected argument\n"
                             : "foreshock: -c FILE is required\n",
              stderr);
        usage(stderr);
        status = 2;
        goto done;
    }

    cfg = fs_config_new();
    if (!cfg) {
        fputs("foreshock: out of memory\n", stderr);
        goto done;
    }
    int problems = fs_config_load(cfg, config_path, overrides, (size_t)n_overrides, &diag);
    /* The Redis password may come from the environment instead of the file. */
    const char *env_password = getenv("FORESHOCK_REDIS_PASSWORD");
    if (env_password && env_password[0] && !cfg->redis_password[0]) {
        char *copy = strdup(env_password);
        if (copy) {
            free(cfg->redis_password);
            cfg->redis_password = copy;
        }
    }
    kafka_conf = fs_kafka_conf_new(cfg, &diag);
    if (problems || !kafka_conf || diag.n > 0) {
        print_diag(&diag);
        goto done;
    }
    if (dump) {
        fs_config_dump(cfg, stdout);
        status = 0;
        goto done;
    }
    if (check_only) {
        printf("%s: configuration is valid\n", config_path);
        status = 0;
        goto done;
    }
    rd_kafka_conf_destroy(kafka_conf);
    kafka_conf = NULL;
    fs_log_set_json(cfg->log_format == 1);
    fs_log_set_level((fs_log_level_t)cfg->log_level);
    if (embedded) {
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
    if (kafka_conf)
        rd_kafka_conf_destroy(kafka_conf);
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
    free(overrides);
    return status;
}
