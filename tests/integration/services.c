/*
 * Service discovery for the integration suites: see services.h. This is test
 * scaffolding at the edge of a test program, so unlike library code it prints
 * and exits.
 */
#include "tests/integration/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
