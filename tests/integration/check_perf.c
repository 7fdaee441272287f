/*
 * Integration suite for `foreshock-bench perf`, against the real Kafka broker
 * in FORESHOCK_TEST_KAFKA and a real redis-server. It runs perf once on a
 * small workload, with the real foreshock daemon and kcat, and checks that
 * every figure is present, finite and sane: the in-process runs read the
 * whole workload, Redis commands and round trips per event lie in (0, 1),
 * the measured memory per live slice is of the order of the static size of
 * a slice, and the daemon and kcat each consumed every event produced. Never a
 * timing threshold: the figures are a benchmark's, not a test's.
 *
 * Commands per event are read from the server's INFO commandstats totals,
 * which count every client's commands. Other suites share the stack's Redis,
 * so when FORESHOCK_TEST_REDIS_SERVER names the binary this suite starts a
 * private redis-server on a free loopback port for perf; otherwise it uses the
 * shared one (FORESHOCK_TEST_REDIS), where a busy neighbour could inflate
 * the count.
 */
#include "tests/integration/services.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CASE_TIMEOUT_S 100
#define SLICES         2000

static const char *kafka_addr;
static const char *redis_addr;
static const char *redis_server_bin;

/* Runs argv with stdout and stderr to files; returns the exit status. */
static int run(char *const argv[], const char *out, const char *errs)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(errs, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The number at a path of object keys ("kafka", "kcat", "events_per_s"),
 * which must be there and finite. */
static double figure(json_t *root, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(root, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    ck_assert_msg(json_is_number(v), "%s.%s.%s missing or not a number", a, b ? b : "", c ? c : "");
    double x = json_number_value(v);
    ck_assert_msg(isfinite(x), "%s.%s.%s is not finite", a, b ? b : "", c ? c : "");
    return x;
}

static void assert_fraction(double x, const char *what)
{
    ck_assert_msg(x > 0 && x < 1, "%s = %g, want within (0, 1)", what, x);
}

static int contains(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int found = 0;
    ck_assert_ptr_nonnull(f);
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

START_TEST(test_perf_figures)
{
    char dir[] = "/tmp/foreshock-check-perf.XXXXXX", private_redis[32], out[300], errs[300],
         json_path[300], slices[16];
    const char *redis = redis_addr;
    pid_t redis_pid = -1;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    if (redis_server_bin && redis_server_bin[0]) {
        static const char *const args[] = {"--save", "", "--appendonly", "no", NULL};
        char err[512];
        int port = fs_test_free_port();
        ck_assert_msg(port > 0, "no free port");
        redis_pid = fs_test_redis_start(redis_server_bin, port, dir, args, err, sizeof err);
        ck_assert_msg(redis_pid > 0, "%s", err);
        snprintf(private_redis, sizeof private_redis, "127.0.0.1:%d", port);
        redis = private_redis;
    }
    snprintf(out, sizeof out, "%s/perf.out", dir);
    snprintf(errs, sizeof errs, "%s/perf.err", dir);
    snprintf(json_path, sizeof json_path, "%s/perf.json", dir);
    snprintf(slices, sizeof slices, "%d", SLICES);
    char *argv[] = {FORESHOCK_BENCH_BIN,
                    "perf",
                    "--rate",
                    "1000",
                    "--duration",
                    "1m",
                    "--slices",
                    slices,
                    "--redis",
                    (char *)redis,
                    "-b",
                    (char *)kafka_addr,
                    "--foreshock",
                    FORESHOCK_BIN,
                    "--timeout",
                    "60",
                    "--json",
                    json_path,
                    NULL};
    int64_t t0 = fs_test_mono_ms();
    int status = run(argv, out, errs);
    printf("check_perf: foreshock-bench perf took %.1f s\n",
           (double)(fs_test_mono_ms() - t0) / 1000.0);
    if (redis_pid > 0)
        fs_test_redis_stop(redis_pid, 10000);
    if (status != 0) {
        fs_test_print_log_tail(out, "perf stdout", 40);
        fs_test_print_log_tail(errs, "perf stderr", 40);
    }
    ck_assert_int_eq(status, 0);

    /* The printed figures, with their units. */
    static const char *const lines[] = {"events/s", "commands/event", "round trips/event", "bytes",
                                        "ratio foreshock/kcat"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(contains(out, lines[i]), "no '%s' in perf's output", lines[i]);

    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", json_path, jerr.text);
    double events = figure(root, "workload", "events", NULL);
    ck_assert(events > 10000);

    /* In process: the whole workload, with either store. */
    ck_assert(figure(root, "in_process", "memory_store", "events_per_s") > 0);
    ck_assert(figure(root, "in_process", "redis_store", "events_per_s") > 0);
    json_t *in = json_object_get(root, "in_process");
    ck_assert(figure(in, "memory_store", "events", NULL) == events);
    ck_assert(figure(in, "redis_store", "events", NULL) == events);
    assert_fraction(figure(in, "redis_store", "redis_commands_per_event", NULL),
                    "in-process Redis commands per event");
    assert_fraction(figure(in, "redis_store", "round_trips_per_event", NULL),
                    "in-process round trips per event");

    /* Memory: the live slices' state is resident. The peak is well above the
     * static size (a snapshot of every slice is encoded once a minute), but
     * a run without one stays just under it: some per-slice arrays are
     * allocated for every slice and touched only in part, so half the
     * static size is the bound that holds either way. */
    ck_assert(figure(root, "memory", "live_slices", NULL) == SLICES);
    double measured = figure(root, "memory", "bytes_per_slice", NULL);
    double fixed = figure(root, "memory", "static_bytes_per_slice", NULL);
    ck_assert_msg(fixed > 0 && measured > fixed / 2 && measured < 100 * fixed,
                  "memory per slice %g, static %g", measured, fixed);

    /* Kafka: both consumers read every event produced. */
    json_t *kafka = json_object_get(root, "kafka");
    ck_assert(figure(kafka, "produced", NULL, NULL) == events);
    ck_assert(figure(kafka, "kcat", "events", NULL) == events);
    ck_assert(figure(kafka, "foreshock", "events", NULL) == events);
    ck_assert(figure(kafka, "kcat", "events_per_s", NULL) > 0);
    ck_assert(figure(kafka, "foreshock", "events_per_s", NULL) > 0);
    ck_assert(figure(kafka, "foreshock", "late_or_future", NULL) < events / 2);
    ck_assert(figure(kafka, "ratio", NULL, NULL) > 0);
    assert_fraction(figure(kafka, "foreshock", "redis_commands_per_event", NULL),
                    "daemon Redis commands per event");
    assert_fraction(figure(kafka, "foreshock", "round_trips_per_event", NULL),
                    "daemon round trips per event");
    json_decref(root);

    /* perf removed its own folder; this one holds only our files and the
     * private redis-server's log. */
    fs_test_remove_dir(dir);
}
END_TEST

static Suite *perf_suite(void)
{
    Suite *s = suite_create("perf");
    TCase *tc = tcase_create("perf");
    tcase_set_timeout(tc, CASE_TIMEOUT_S);
    tcase_add_test(tc, test_perf_figures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Before any test forks, so that a skip or a CI failure is this
     * program's exit code. */
    kafka_addr = fs_test_service("FORESHOCK_TEST_KAFKA");
    redis_addr = fs_test_service("FORESHOCK_TEST_REDIS");
    redis_server_bin = getenv("FORESHOCK_TEST_REDIS_SERVER");
    SRunner *sr = srunner_create(perf_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
