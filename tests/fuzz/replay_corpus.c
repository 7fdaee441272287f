/*
 * replay_corpus.c: runs a fuzz harness over saved inputs, without libFuzzer.
 *
 * Linked with one harness (fuzz_decode.c or fuzz_config.c) into a plain
 * program that ctest runs on the harness's corpus folder, so every build
 * replays the seeds, the inputs fuzzing found interesting and the reproducers
 * of known bugs (files named crash-*). Modelled on fluent-bit's
 * tests/internal/fuzzers/local_test.c, extended to whole folders.
 *
 *   usage: replay_corpus PATH...   (each PATH a file, or a folder whose regular
 *                                   files, except dot files, are replayed in
 *                                   name order)
 *
 * Each input runs in a child process of its own, so one that fails a check
 * (abort) or trips a sanitizer does not hide the others: every failing input
 * is named at the end. The input is read into a heap block of exactly its
 * size, as libFuzzer passes it, so a read past its end is caught under
 * AddressSanitizer. Exits 0 if at least one input was replayed and all
 * passed, 1 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

/* A growing list of owned strings. */
struct paths {
    char **items;
    size_t n;
};

static int paths_add(struct paths *list, char *path)
{
    char **grown = path ? realloc(list->items, (list->n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(path);
        fprintf(stderr, "replay_corpus: out of memory\n");
        return -1;
    }
    list->items = grown;
    list->items[list->n++] = path;
    return 0;
}

static void paths_free(struct paths *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the regular files of dir, in name order. */
static int add_dir(struct paths *list, const char *dir)
{
    DIR *dp = opendir(dir);
    struct paths names = {NULL, 0};
    struct dirent *e;
    int rc = -1;

    if (!dp) {
        fprintf(stderr, "replay_corpus: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(dp)))
        if (e->d_name[0] != '.' && paths_add(&names, strdup(e->d_name)) != 0)
            goto done;
    if (names.n > 0)
        qsort(names.items, names.n, sizeof *names.items, compare_names);
    for (size_t i = 0; i < names.n; i++) {
        size_t len = strlen(dir) + strlen(names.items[i]) + 2;
        char *path = malloc(len);
        struct stat st;
        if (!path)
            goto done;
        snprintf(path, len, "%s/%s", dir, names.items[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (paths_add(list, path) != 0)
                goto done;
        } else {
            free(path);
        }
    }
    rc = 0;

done:
    paths_free(&names);
    closedir(dp);
    return rc;
}

/* Reads the file at path into a heap block of exactly its size; NULL on error. */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = NULL;
    uint8_t *data = NULL;
    struct stat st;

    errno = 0;
    f = fopen(path, "rb");
    if (!f)
        goto fail;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0)
        goto fail;
    *size = (size_t)st.st_size;
    /* A non-NULL block even for an empty file, as libFuzzer passes. */
    data = malloc(*size ? *size : 1);
    if (!data || fread(data, 1, *size, f) != *size)
        goto fail;
    fclose(f);
    return data;

fail:
    fprintf(stderr, "replay_corpus: %s: %s\n", path, errno ? strerror(errno) : "short read");
    free(data);
    if (f)
        fclose(f);
    return NULL;
}

/*
 * Runs the harness on the file at path in a child process. Returns 0 if it
 * passed; otherwise says how it ended and returns -1.
 */
static int replay_one(const char *path)
{
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "replay_corpus: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        size_t size = 0;
        uint8_t *data = read_file(path, &size);
        if (!data)
            exit(2);
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        /* exit, not _exit: LeakSanitizer and the harness's atexit handlers run. */
        exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "replay_corpus: waitpid: %s\n", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "replay: FAILED %s (signal %d)\n", path, WTERMSIG(status));
    else
        fprintf(stderr, "replay: FAILED %s (exit status %d)\n", path, WEXITSTATUS(status));
    return -1;
}

int main(int argc, char **argv)
{
    struct paths inputs = {NULL, 0}, failed = {NULL, 0};
    int rc = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH...  (corpus files or folders)\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay_corpus: %s: %s\n", argv[i], strerror(errno));
            goto done;
        }
        if (S_ISDIR(st.st_mode) ? add_dir(&inputs, argv[i]) : paths_add(&inputs, strdup(argv[i])))
            goto done;
    }
    if (inputs.n == 0) {
        fprintf(stderr, "replay_corpus: no inputs found\n");
        goto done;
    }
    for (size_t i = 0; i < inputs.n; i++)
        if (replay_one(inputs.items[i]) != 0 && paths_add(&failed, strdup(inputs.items[i])) != 0)
            goto done;
    if (failed.n == 0) {
        printf("replay: %zu inputs, all passed\n", inputs.n);
        rc = 0;
        goto done;
    }
    fprintf(stderr, "replay: %zu of %zu inputs FAILED:\n", failed.n, inputs.n);
    for (size_t i = 0; i < failed.n; i++)
        fprintf(stderr, "  %s\n", failed.items[i]);

done:
    paths_free(&inputs);
    paths_free(&failed);
    return rc;
}
