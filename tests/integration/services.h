/*
 * Service discovery for the integration suites.
 *
 * tests/run.sh starts a real Kafka broker and redis-server (tests/stack/) and
 * exports their addresses in FORESHOCK_TEST_KAFKA and FORESHOCK_TEST_REDIS.
 * A suite calls fs_test_service() from main(), before it forks any test: a
 * missing address skips the suite (exit 77, ctest's SKIP_RETURN_CODE), except
 * under CI=true, where a missing service means the stack did not start and the
 * suite fails. fs_test_unique_name() gives each run its own topics, groups and
 * keys, so parallel runs and leftovers of earlier runs never collide.
 */
#ifndef FS_TESTS_INTEGRATION_SERVICES_H
#define FS_TESTS_INTEGRATION_SERVICES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit code that ctest reports as "skipped" (SKIP_RETURN_CODE in tests/). */
#define FS_TEST_SKIP 77

/*
 * Returns the address in the environment variable env_name (borrowed from the
 * environment; valid until the environment changes). When it is unset or
 * empty, this does not return: it prints why and exits 77 (skipped), or 1
 * when CI is "true". Call it from main(), not from inside a forked test, so
 * that the exit code reaches ctest. Not thread-safe (reads the environment).
 */
const char *fs_test_service(const char *env_name);

/*
 * Writes "<prefix>-<pid>-<seconds>-<nanoseconds>-<counter>" into buf (size
 * bytes, always NUL-terminated). The result uses only [A-Za-z0-9._-] if the
 * prefix does, so it is valid as a Kafka topic or group name and a redis key.
 * Returns 0, or -1 when buf is too small (buf then holds a truncated name that
 * must not be used). Not thread-safe (a static counter).
 */
int fs_test_unique_name(char *buf, size_t size, const char *prefix);

/* Milliseconds of a monotonic clock. */
int64_t fs_test_mono_ms(void);

/* Sleeps ms milliseconds, resuming after signals. */
void fs_test_sleep_ms(long ms);

/* Prints the last max_lines lines of the log at path to stderr, framed and
 * named `what` (for failure messages). */
void fs_test_print_log_tail(const char *path, const char *what, long max_lines);

/* SIGKILLs a child and waits for it. */
void fs_test_reap(pid_t pid);

/* A free TCP port on 127.0.0.1 (bound, read and released), or -1. */
int fs_test_free_port(void);

/*
 * Forks and execs argv[0] (a path) with stdin from /dev/null and stdout and
 * stderr appended to log, after a line "==== marker ====" when marker is not
 * NULL. The child is SIGKILLed when the test process dies. Returns its pid,
 * or -1 with the reason in err.
 */
pid_t fs_test_spawn(const char *const *argv, const char *log, const char *marker, char *err,
                    size_t err_size);

/*
 * Sets what REQUIRE runs before it fails a test: the suite's cleanup, which
 * kills the test's children, prints their logs and removes what the test
 * made. Call it from main() before any test forks; cleanup may be NULL (the
 * default: nothing). Not thread-safe.
 */
void fs_test_on_failure(void (*cleanup)(void));

/* Runs the cleanup set by fs_test_on_failure, if any (REQUIRE's first step). */
void fs_test_fail_cleanup(void);

/* ck_abort_msg that first runs the suite's cleanup (fs_test_on_failure), so
 * that no child outlives a failed check. Expands to check.h's ck_abort_msg:
 * the suite includes <check.h>. */
#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fs_test_fail_cleanup();                                                                \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

/*
 * A progress line on stdout, "[<tag> <name> +<seconds>s] <message>", the
 * seconds counted from t0_ms (fs_test_mono_ms() when the test began); flushed
 * at once, so that it comes before a failure's output.
 */
void fs_test_vnote(const char *tag, const char *name, int64_t t0_ms, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* rm -rf dir (a folder the test made); complains on stderr if it fails. */
void fs_test_remove_dir(const char *dir);

/*
 * Creates the topics with `partitions` partitions each on brokers and waits
 * until every partition has a leader, within timeout_ms. Returns 0, or -1
 * with the reason in err.
 */
int fs_test_create_topics(const char *brokers, const char *const *names, size_t n, int partitions,
                          int timeout_ms, char *err, size_t err_size);

/* Deletes the topics; best effort, bounded (never fails the test: it runs on
 * failure paths too). */
void fs_test_delete_topics(const char *brokers, const char *const *names, size_t n);

/* A connection to the redis-server at HOST:PORT with 3 s timeouts, or NULL. */
struct redisContext *fs_test_redis_connect(const char *address);

/* SCAN + DEL of every key under prefix on the redis-server at HOST:PORT.
 * Returns the keys left afterwards, or -1 if Redis could not be asked. Never
 * fails the test: it runs on failure paths too. */
long fs_test_redis_delete_keys(const char *address, const char *prefix);

/*
 * Starts a private redis-server: the binary at server (borrowed; as in
 * FORESHOCK_TEST_REDIS_SERVER) listening on 127.0.0.1:port only, with its
 * working folder dir (which must exist) and its output appended to
 * dir/redis.log, followed by the extra arguments args (a NULL-terminated list,
 * or NULL), such as "--appendonly", "yes" or "--requirepass", "secret" (then
 * the readiness check authenticates with it). Waits until the server answers
 * PING, within 20 s. The server is SIGKILLed when the test process dies.
 * Returns its pid, or -1 with the reason in err (the server, if it started, is
 * killed and its log printed on stderr).
 */
pid_t fs_test_redis_start(const char *server, int port, const char *dir, const char *const *args,
                          char *err, size_t err_size);

/*
 * Stops a server that fs_test_redis_start started: SIGTERM (redis saves what
 * its arguments ask for, and exits) and a wait of at most timeout_ms, then
 * SIGKILL. Returns 0 when it exited on SIGTERM in time, -1 otherwise (it is
 * reaped either way).
 */
int fs_test_redis_stop(pid_t pid, int timeout_ms);

#endif
