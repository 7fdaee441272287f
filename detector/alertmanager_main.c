/*
 * alertmanager_main.c: the `foreshock-alertmanager` command line.
 *
 * Reads the same configuration file as foreshock (-c FILE, -X overrides,
 * --check-config, --dump-config), checks what the forwarder needs on top
 * (alertmanager.url is an http(s) URL, librdkafka accepts the kafka.*
 * properties), then runs the forwarder (alertmanager.h) until SIGINT or
 * SIGTERM.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "detector/alertmanager.h"
#include "detector/kafka_conf.h"
#include "detector/log.h"

#ifndef FS_VERSION
#define FS_VERSION "unknown"
#endif

static void usage(FILE *out)
{
    fputs("usage: foreshock-alertmanager -c FILE [-X key=value]... [--check-config |\n"
          "                              --dump-config]\n"
          "       foreshock-alertmanager --version | --help\n"
          "\n"
          "Forwards the alerts of topics.alerts to Prometheus Alertmanager\n"
          "(alertmanager.url), re-posting firing alerts every\n"
          "alertmanager.resend_interval, in the consumer group alertmanager.group_id.\n"
          "\n"
          "  -c, --config FILE   configuration file, the same as foreshock's\n"
          "                      (see config/CONFIGURATION.md)\n"
          "  -X key=value        set or override a configuration key\n"
          "      --check-config  validate the configuration, print FILE:LINE: key: reason\n"
          "                      for each problem, exit 0 if valid and 1 if not\n"
          "      --dump-config   print the effective configuration and exit\n"
          "  -V, --version       print the versions of foreshock, librdkafka and libcurl\n",
          out);
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_DUMP };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"dump-config", no_argument, NULL, OPT_DUMP},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int check_only = 0, dump = 0, n_overrides = 0, status = 1;
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    fs_config_t *cfg = NULL;
    fs_config_diag_t diag = {0};
    rd_kafka_conf_t *kafka_conf = NULL;
    char reason[256];

    if (!overrides) {
        fputs("foreshock-alertmanager: out of memory\n", stderr);
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
        case 'V':
            printf("foreshock-alertmanager %s\nlibrdkafka %s\n%s\n", FS_VERSION,
                   rd_kafka_version_str(), curl_version());
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
        fputs(optind != argc ? "foreshock-alertmanager: unexpected argument\n"
                             : "foreshock-alertmanager: -c FILE is required\n",
              stderr);
        usage(stderr);
        status = 2;
        goto done;
    }

    cfg = fs_config_new();
    if (!cfg) {
        fputs("foreshock-alertmanager: out of memory\n", stderr);
        goto done;
    }
    int problems = fs_config_load(cfg, config_path, overrides, (size_t)n_overrides, &diag);
    if (cfg->alertmanager_url && fs_am_url_check(cfg->alertmanager_url, reason, sizeof reason) != 0)
        fs_config_diag_add(&diag, fs_config_origin(cfg, "alertmanager.url"), "alertmanager.url",
                           "%s", reason);
    kafka_conf = fs_kafka_conf_new(cfg, &diag);
    if (problems || !kafka_conf || diag.n > 0) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "%s\n", diag.messages[i]);
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
    status = fs_alertmanager_run(cfg);

done:
    if (kafka_conf)
        rd_kafka_conf_destroy(kafka_conf);
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
    free(overrides);
    return status;
}
