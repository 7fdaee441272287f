/*
 * check_config.c: the configuration loader: defaults, every error kind with
 * its FILE:LINE: key: reason message, overrides and the dump round trip.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/keys.h"

/* Writes text to a fresh temporary file and returns its path (static). */
static const char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/fs_check_config_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text as a file; returns the diagnostics joined by newlines. */
static char *load_text(const char *text, fs_config_t **out_cfg)
{
    fs_config_t *cfg = fs_config_new();
    ck_assert_ptr_nonnull(cfg);
    fs_config_diag_t diag = {0};
    const char *path = write_temp(text);
    fs_config_load_file(cfg, path, &diag);
    fs_config_finish(cfg, &diag);
    unlink(path);
    size_t len = 1;
    for (size_t i = 0; i < diag.n; i++)
        len += strlen(diag.messages[i]) + 1;
    char *joined = calloc(1, len);
    for (size_t i = 0; i < diag.n; i++) {
        strcat(joined, diag.messages[i]);
        strcat(joined, "\n");
    }
    fs_config_diag_clear(&diag);
    if (out_cfg)
        *out_cfg = cfg;
    else
        fs_config_free(cfg);
    return joined;
}

START_TEST(defaults_match_contract)
{
    fs_config_t *cfg = fs_config_new();
    ck_assert_str_eq(cfg->topics_playback, "playback-events");
    ck_assert_str_eq(cfg->topics_errors, "error-events");
    ck_assert_str_eq(cfg->topics_alerts, "foreshock-alerts");
    ck_assert_str_eq(cfg->topics_deadletter, "foreshock-deadletter");
    ck_assert_str_eq(cfg->redis_address, "127.0.0.1:6379");
    ck_assert_str_eq(cfg->redis_prefix, "fs:");
    ck_assert_uint_eq(cfg->dimensions.n, 4);
    ck_assert_str_eq(cfg->dimensions.items[0], "country");
    ck_assert_str_eq(cfg->dimensions.items[3], "cdn");
    ck_assert_int_eq(cfg->store, FS_STORE_REDIS);
    fs_config_free(cfg);
}
END_TEST

START_TEST(valid_file_is_applied)
{
    fs_config_t *cfg;
    char *errors = load_text("# comment\n"
                             "\n"
                             "  topics.playback =  plays  \n"
                             "redis.address = /run/redis.sock\n"
                             "dimensions = country , cdn\n"
                             "store = memory\n"
                             "kafka.bootstrap.servers = 127.0.0.1:1234\n"
                             "kafka.client.id = a=b#c\n",
                             &cfg);
    ck_assert_str_eq(errors, "");
    ck_assert_str_eq(cfg->topics_playback, "plays");
    ck_assert_str_eq(cfg->redis_address, "/run/redis.sock");
    ck_assert_uint_eq(cfg->dimensions.n, 2);
    ck_assert_str_eq(cfg->dimensions.items[1], "cdn");
    /* Of the default pairs only the one whose dimensions exist remains. */
    ck_assert_uint_eq(cfg->slices_pairs.n, 1);
    ck_assert_str_eq(cfg->slices_pairs.items[0], "country+cdn");
    ck_assert_int_eq(cfg->store, FS_STORE_MEMORY);
    /* The default bootstrap.servers is replaced, not repeated. */
    size_t found = 0;
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        if (strcmp(cfg->kafka[i].name, "bootstrap.servers") == 0) {
            ck_assert_str_eq(cfg->kafka[i].value, "127.0.0.1:1234");
            ck_assert_int_eq(cfg->kafka[i].origin.line, 7);
            found++;
        }
        if (strcmp(cfg->kafka[i].name, "client.id") == 0)
            ck_assert_str_eq(cfg->kafka[i].value, "a=b#c");
    }
    ck_assert_uint_eq(found, 1);
    fs_config_origin_t o = fs_config_origin(cfg, "store");
    ck_assert_int_eq(o.line, 6);
    ck_assert_ptr_null(fs_config_origin(cfg, "redis.prefix").file);
    free(errors);
    fs_config_free(cfg);
}
END_TEST

/* One bad line each; the message after "FILE:" must be exactly this. */
static const struct {
    const char *text;
    const char *message;
} bad_cases[] = {
    {"no.such.key = 1\n", "1: no.such.key: unknown key"},
    {"\nstore = memory\nstore = redis\n", "3: store: set twice (first at line 2)"},
    {"kafka.acks = 1\nkafka.acks = all\n", "2: kafka.acks: set twice (first at line 1)"},
    {"store = disk\n", "1: store: 'disk' is not one of redis, memory"},
    {"redis.address = localhost\n",
     "1: redis.address: not an address (HOST:PORT or an absolute Unix socket path)"},
    {"redis.address = localhost:0\n", "1: redis.address: port must be an integer from 1 to 65535"},
    {"redis.address = localhost:70000\n",
     "1: redis.address: port must be an integer from 1 to 65535"},
    {"redis.address = localhost:x\n", "1: redis.address: port must be an integer from 1 to 65535"},
    {"redis.prefix =\n", "1: redis.prefix: empty value (expected string)"},
    {"dimensions = a,,b\n", "1: dimensions: empty item in list"},
    {"dimensions = a,b,a\n", "1: dimensions: item repeated in list"},
    {"dimensions = a b\n",
     "1: dimensions: list items may contain only letters, digits, '_', '-', '.' and '+'"},
    {"dimensions = a+b,c\n", "1: dimensions: 'a+b': a dimension name cannot contain '+'"},
    {"dimensions = country,code\n",
     "1: dimensions: 'code' is reserved (error code slices and alert labels use it)"},
    {"dimensions = severity\n",
     "1: dimensions: 'severity' is reserved (error code slices and alert labels use it)"},
    {"slices.pairs = country\n", "1: slices.pairs: 'country' is not a pair `a+b`"},
    {"slices.pairs = country+os\n",
     "1: slices.pairs: 'country+os' names a dimension not in `dimensions`"},
    {"slices.pairs = cdn+cdn\n", "1: slices.pairs: 'cdn+cdn' pairs a dimension with itself"},
    {"window.bucket = 5\n", "1: window.bucket: duration needs a unit (ms, s, m, h or d), e.g. 5s"},
    {"window.bucket = 5y\n", "1: window.bucket: unknown duration unit (use ms, s, m, h or d)"},
    {"window.bucket = 2m\n", "1: window.bucket: 2m is out of range (100ms to 60000ms)"},
    {"slices.max = 3\n", "1: slices.max: 3 is out of range (16 to 10000000)"},
    {"slices.max = many\n", "1: slices.max: not an integer"},
    {"slices.error_codes = yes\n", "1: slices.error_codes: not a boolean (true or false)"},
    {"detect.false_alarms_per_day = 0\n", "1: detect.false_alarms_per_day: not a positive number"},
    {"detect.false_alarms_per_day = x\n", "1: detect.false_alarms_per_day: not a positive number"},
    {"localize.share = 1.5\n", "1: localize.share: must be at most 1"},
    {"window.horizon = 3s\nwindow.lateness = 3s\n",
     "1: window.horizon: must exceed window.lateness + window.bucket"},
    {"just words\n", "1: just words: expected `key = value`"},
    {" = 3\n", "1: (line): missing key before '='"},
    {"kafka. = 3\n", "1: kafka.: missing librdkafka property name"},
    {"topics.alerts = playback-events\n",
     "1: topics.alerts: must differ from topics.playback ('playback-events')"},
    {"topics.deadletter = foreshock-alerts\n",
     "1: topics.deadletter: must differ from topics.alerts ('foreshock-alerts')"},
};

START_TEST(bad_line_is_reported)
{
    char *errors = load_text(bad_cases[_i].text, NULL);
    const char *colon = strstr(errors, ":");
    ck_assert_ptr_nonnull(colon);
    /* The file name comes first, then exactly one message. */
    ck_assert_msg(strncmp(errors, "/tmp/fs_check_config_", 21) == 0, "%s", errors);
    char expected[512];
    snprintf(expected, sizeof expected, "%s\n", bad_cases[_i].message);
    ck_assert_str_eq(colon + 1, expected);
    free(errors);
}
END_TEST

START_TEST(every_problem_is_listed)
{
    char *errors = load_text("a = 1\nstore = x\nb = 2\n", NULL);
    ck_assert_ptr_nonnull(strstr(errors, ":1: a: unknown key"));
    ck_assert_ptr_nonnull(strstr(errors, ":2: store:"));
    ck_assert_ptr_nonnull(strstr(errors, ":3: b: unknown key"));
    free(errors);
}
END_TEST

START_TEST(bad_value_keeps_previous)
{
    fs_config_t *cfg;
    char *errors = load_text("dimensions = a,,b\n", &cfg);
    ck_assert_str_ne(errors, "");
    ck_assert_uint_eq(cfg->dimensions.n, 4);
    free(errors);
    fs_config_free(cfg);
}
END_TEST

START_TEST(missing_file_is_an_error)
{
    fs_config_t *cfg = fs_config_new();
    fs_config_diag_t diag = {0};
    ck_assert_int_eq(fs_config_load_file(cfg, "/nonexistent/foreshock.conf", &diag), -1);
    ck_assert_uint_eq(diag.n, 1);
    ck_assert_str_eq(diag.messages[0],
                     "/nonexistent/foreshock.conf: cannot open: No such file or directory");
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
}
END_TEST

START_TEST(overrides_win_and_are_checked)
{
    fs_config_t *cfg;
    char *errors = load_text("store = redis\nkafka.acks = 1\n", &cfg);
    ck_assert_str_eq(errors, "");
    fs_config_diag_t diag = {0};
    ck_assert_int_eq(fs_config_override(cfg, "store=memory", 1, &diag), 0);
    ck_assert_int_eq(fs_config_override(cfg, "kafka.acks=all", 2, &diag), 0);
    ck_assert_int_eq(cfg->store, FS_STORE_MEMORY);
    ck_assert_int_eq(fs_config_override(cfg, "store=redis", 3, &diag), 1);
    ck_assert_int_eq(fs_config_override(cfg, "nokey=1", 4, &diag), 1);
    ck_assert_int_eq(fs_config_override(cfg, "novalue", 5, &diag), 1);
    ck_assert_uint_eq(diag.n, 3);
    ck_assert_str_eq(diag.messages[0], "-X:3: store: set twice (first at -X override 1)");
    ck_assert_str_eq(diag.messages[1], "-X:4: nokey: unknown key");
    ck_assert_str_eq(diag.messages[2], "-X:5: novalue: expected key=value");
    ck_assert_int_eq(cfg->store, FS_STORE_MEMORY);
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (strcmp(cfg->kafka[i].name, "acks") == 0)
            ck_assert_str_eq(cfg->kafka[i].value, "all");
    fs_config_diag_clear(&diag);
    free(errors);
    fs_config_free(cfg);
}
END_TEST

START_TEST(empty_list_is_allowed)
{
    fs_config_t *cfg;
    char *errors = load_text("slices.pairs =\n", &cfg);
    ck_assert_str_eq(errors, "");
    ck_assert_uint_eq(cfg->slices_pairs.n, 0);
    free(errors);
    fs_config_free(cfg);
}
END_TEST

START_TEST(set_default_changes_default_only)
{
    fs_config_t *cfg = fs_config_new();
    ck_assert_int_eq(fs_config_set_default(cfg, "store", "memory"), 0);
    ck_assert_int_eq(cfg->store, FS_STORE_MEMORY);
    ck_assert_int_eq(fs_config_set_default(cfg, "store", "tape"), -1);
    ck_assert_int_eq(fs_config_set_default(cfg, "nokey", "1"), -1);
    ck_assert_ptr_null(fs_config_origin(cfg, "store").file);
    fs_config_free(cfg);
}
END_TEST

START_TEST(dump_reloads_to_same_config_and_hides_secrets)
{
    fs_config_t *cfg;
    char *errors = load_text("store = memory\ndimensions = cdn,country\n"
                             "kafka.sasl.password = hunter2\nkafka.acks = all\n",
                             &cfg);
    ck_assert_str_eq(errors, "");
    char *dumped = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&dumped, &len);
    fs_config_dump(cfg, mem);
    fclose(mem);
    ck_assert_ptr_null(strstr(dumped, "hunter2"));
    ck_assert_ptr_nonnull(strstr(dumped, "kafka.sasl.password = <redacted>\n"));
    ck_assert_ptr_nonnull(strstr(dumped, "dimensions = cdn,country\n"));

    fs_config_t *again;
    char *errors2 = load_text(dumped, &again);
    ck_assert_str_eq(errors2, "");
    ck_assert_int_eq(again->store, FS_STORE_MEMORY);
    ck_assert_uint_eq(again->dimensions.n, 2);
    ck_assert_str_eq(again->redis_prefix, cfg->redis_prefix);
    ck_assert_uint_eq(again->n_kafka, cfg->n_kafka);
    free(errors);
    free(errors2);
    free(dumped);
    fs_config_free(again);
    fs_config_free(cfg);
}
END_TEST

START_TEST(table_defaults_parse)
{
    /* Every default in the table must be valid for its own key. */
    fs_config_t *cfg = fs_config_new();
    for (size_t i = 0; i < fs_config_n_keys; i++)
        ck_assert_msg(fs_config_set_default(cfg, fs_config_keys[i].name,
                                            fs_config_keys[i].default_value) == 0,
                      "%s", fs_config_keys[i].name);
    fs_config_free(cfg);
}
END_TEST

START_TEST(secrets_are_recognised)
{
    ck_assert(fs_config_is_secret("sasl.password"));
    ck_assert(fs_config_is_secret("ssl.key.password"));
    ck_assert(fs_config_is_secret("ssl.key.pem"));
    ck_assert(fs_config_is_secret("sasl.oauthbearer.client.secret"));
    ck_assert(!fs_config_is_secret("bootstrap.servers"));
    ck_assert(!fs_config_is_secret("sasl.username"));
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, defaults_match_contract);
    tcase_add_test(tc, valid_file_is_applied);
    tcase_add_loop_test(tc, bad_line_is_reported, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, every_problem_is_listed);
    tcase_add_test(tc, bad_value_keeps_previous);
    tcase_add_test(tc, missing_file_is_an_error);
    tcase_add_test(tc, overrides_win_and_are_checked);
    tcase_add_test(tc, empty_list_is_allowed);
    tcase_add_test(tc, set_default_changes_default_only);
    tcase_add_test(tc, dump_reloads_to_same_config_and_hides_secrets);
    tcase_add_test(tc, table_defaults_parse);
    tcase_add_test(tc, secrets_are_recognised);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
