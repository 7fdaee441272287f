/*
 * alertmanager_main.c: the `foreshock-alertmanager` command line.
 *
 * Reads the same configuration file as foreshock (-c FILE, -X overrides,
 * --check-config, --dump-config), checks what the forwarder needs on top
 * (alertmanager.url is an http(s) URL, librdkafka accepts the kafka.*
 * properties), then runs the forwarder (alertmanager.h) until SIGINT or
 * SIGTERM.
 */
#include <stdio.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "detector/alertmanager.h"
#include "detector/cli.h"

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

static void version(void)
{
    printf("foreshock-alertmanager %s\nlibrdkafka %s\n%s\n", FS_VERSION, rd_kafka_version_str(),
           curl_version());
}

/* alertmanager.url must be an http(s) URL the forwarder can post to. */
static void check_url(const fs_config_t *cfg, fs_config_diag_t *diag)
{
    char reason[256];
    if (cfg->alertmanager_url && fs_am_url_check(cfg->alertmanager_url, reason, sizeof reason) != 0)
        fs_config_diag_add(diag, fs_config_origin(cfg, "alertmanager.url"), "alertmanager.url",
                           "%s", reason);
}

int main(int argc, char **argv)
{
    fs_cli_t cli = {.program = "foreshock-alertmanager", .usage = usage, .version = version};
    fs_config_t *cfg = NULL;
    int status = fs_cli_parse(&cli, argc, argv);

    if (status < 0) {
        cfg = fs_cli_config(&cli, check_url, &status);
        if (cfg)
            status = fs_alertmanager_run(cfg);
    }
    fs_config_free(cfg);
    fs_cli_free(&cli);
    return status;
}
