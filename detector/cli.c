/*
 * cli.c: the command line shared by foreshock and foreshock-alertmanager
 * (see cli.h).
 */
#include "detector/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "detector/kafka_conf.h"
#include "detector/log.h"

int fs_cli_parse(fs_cli_t *cli, int argc, char **argv)
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
    int opt;

    cli->overrides = calloc((size_t)argc + 1, sizeof *cli->overrides);
    if (!cli->overrides) {
        fprintf(stderr, "%s: out of memory\n", cli->program);
        return 1;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:X:Vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cli->config_path = optarg;
            break;
        case 'X':
            cli->overrides[cli->n_overrides++] = optarg;
            break;
        case OPT_CHECK:
            cli->check_only = 1;
            break;
        case OPT_DUMP:
            cli->dump = 1;
            break;
        case OPT_EMBEDDED:
            if (!cli->allow_embedded) {
                fprintf(stderr, "%s: unrecognized option '--embedded-kafka'\n", cli->program);
                cli->usage(stderr);
                return 2;
            }
            cli->embedded = 1;
            break;
        case 'V':
            cli->version();
            return 0;
        case 'h':
            cli->usage(stdout);
            return 0;
        default:
            cli->usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !cli->config_path) {
        fprintf(stderr, "%s: %s\n", cli->program,
                optind != argc ? "unexpected argument" : "-c FILE is required");
        cli->usage(stderr);
        return 2;
    }
    return -1;
}

/* FORESHOCK_REDIS_PASSWORD stands in for a redis.password the file leaves out. */
static void password_from_env(fs_config_t *cfg)
{
    const char *env_password = getenv("FORESHOCK_REDIS_PASSWORD");
    if (env_password && env_password[0] && !cfg->redis_password[0]) {
        char *copy = strdup(env_password);
        if (copy) {
            free(cfg->redis_password);
            cfg->redis_password = copy;
        }
    }
}

fs_config_t *fs_cli_config(const fs_cli_t *cli, fs_cli_check_fn check, int *status)
{
    fs_config_diag_t diag = {0};
    rd_kafka_conf_t *kafka_conf = NULL;
    fs_config_t *cfg = fs_config_new();

    *status = 1;
    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", cli->program);
        return NULL;
    }
    int problems = fs_config_load(cfg, cli->config_path, cli->overrides, cli->n_overrides, &diag);
    password_from_env(cfg);
    if (check)
        check(cfg, &diag);
    kafka_conf = fs_kafka_conf_new(cfg, &diag);
    if (kafka_conf)
        rd_kafka_conf_destroy(kafka_conf);
    if (problems || !kafka_conf || diag.n > 0) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "%s\n", diag.messages[i]);
    } else if (cli->dump) {
        fs_config_dump(cfg, stdout);
        *status = 0;
    } else if (cli->check_only) {
        printf("%s: configuration is valid\n", cli->config_path);
        *status = 0;
    } else {
        fs_config_diag_clear(&diag);
        fs_log_set_json(cfg->log_format == 1);
        fs_log_set_level((fs_log_level_t)cfg->log_level);
        return cfg;
    }
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
    return NULL;
}

void fs_cli_free(fs_cli_t *cli)
{
    free(cli->overrides);
    cli->overrides = NULL;
}
