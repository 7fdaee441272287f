/*
 * cli.h: the command line shared by `foreshock` and `foreshock-alertmanager`.
 *
 * Both read one configuration file (-c FILE) with -X key=value overrides and
 * can --check-config or --dump-config instead of running. fs_cli_parse reads
 * the options; fs_cli_config loads and validates the configuration (the key
 * table, cross-key rules, librdkafka's verdict on kafka.* properties and the
 * program's own check), prints each problem as FILE:LINE: key: reason, and
 * sets up the logger. Not thread-safe (getopt).
 */
#ifndef FS_DETECTOR_CLI_H
#define FS_DETECTOR_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

typedef struct fs_cli {
    /* Set by the caller. */
    const char *program;          /* name in messages: "foreshock" */
    void (*usage)(FILE *out);     /* prints the program's usage */
    void (*version)(void);        /* prints the program's -V answer */
    int allow_embedded;           /* accept --embedded-kafka */
    /* Set by fs_cli_parse. */
    const char *config_path;
    const char **overrides; /* -X values, in order (owned) */
    size_t n_overrides;
    int check_only, dump, embedded;
} fs_cli_t;

/* Reads argv into cli. Returns -1 to go on, or the status to exit with after
 * --version, --help (0) or a usage error (2; 1 when out of memory). */
int fs_cli_parse(fs_cli_t *cli, int argc, char **argv);

/* The program's checks beyond the key table: adds its problems to diag. */
typedef void (*fs_cli_check_fn)(const fs_config_t *cfg, fs_config_diag_t *diag);

/*
 * Loads cli->config_path with the overrides; FORESHOCK_REDIS_PASSWORD, when
 * set and redis.password is not, supplies the Redis password. Returns the
 * configuration to run with (the caller frees it), or NULL with *status set:
 * 1 after printing the problems, 0 after --check-config or --dump-config.
 */
fs_config_t *fs_cli_config(const fs_cli_t *cli, fs_cli_check_fn check, int *status);

/* Frees what fs_cli_parse allocated. */
void fs_cli_free(fs_cli_t *cli);

#endif
