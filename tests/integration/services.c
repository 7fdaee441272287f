/*
 * Service discovery for the integration suites: see services.h. This is test
 * scaffolding at the edge of a test program, so unlike library code it prints
 * and exits.
 */
#include "tests/integration/services.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

const char *fs_test_service(const char *env_name)
{
    const char *addr = getenv(env_name);
    const char *ci = getenv("CI");

    if (addr != NULL && addr[0] != '\0')
        return addr;

    /* In CI the stack is started by .ci/run, so an empty variable is a broken
     * stack, never a reason to skip. */
    if (ci != NULL && strcmp(ci, "true") == 0) {
        fprintf(stderr, "CI=true and %s is not set: the service did not start\n", env_name);
        fflush(stderr);
        exit(1);
    }
    printf("skipped: %s not set (run tests/run.sh)\n", env_name);
    fflush(stdout);
    exit(FS_TEST_SKIP);
}

int fs_test_unique_name(char *buf, size_t size, const char *prefix)
{
    static unsigned counter;
    struct timespec now;
    int n;

    if (buf == NULL || size == 0)
        return -1;
    /* The pid separates concurrent runs, the clock separates runs that reuse
     * a pid, and the counter separates names made within one process. */
    clock_gettime(CLOCK_REALTIME, &now);
    n = snprintf(buf, size, "%s-%ld-%lld-%09ld-%u", prefix, (long)getpid(), (long long)now.tv_sec,
                 now.tv_nsec, counter++);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return 0;
}

int64_t fs_test_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fs_test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void fs_test_print_log_tail(const char *path, const char *what, long max_lines)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    long lines = 0, skip;
    if (!f) {
        fprintf(stderr, "(no %s at %s)\n", what, path);
        return;
    }
    while (fgets(line, sizeof line, f))
        lines++;
    skip = lines > max_lines ? lines - max_lines : 0;
    rewind(f);
    fprintf(stderr, "---- %s %s (%ld lines%s) ----\n", what, path, lines,
            skip ? ", last lines only" : "");
    for (long i = 0; fgets(line, sizeof line, f); i++)
        if (i >= skip)
            fputs(line, stderr);
    fprintf(stderr, "---- end of %s ----\n", what);
    fclose(f);
}

void fs_test_reap(pid_t pid)
{
    int status;
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}
