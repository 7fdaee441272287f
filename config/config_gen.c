/*
 * config_gen.c: `foreshock-config-gen markdown|reference [--check FILE]`
 * writes a document generated from the key table to stdout, or with --check
 * compares FILE with it and exits 1 when FILE is stale (used by ctest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/doc.h"

static char *generate(void (*writer)(FILE *), size_t *len)
{
    char *buf = NULL;
    FILE *mem = open_memstream(&buf, len);
    if (!mem)
        return NULL;
    writer(mem);
    fclose(mem);
    return buf;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    FILE *mem = open_memstream(&buf, len);
    char chunk[4096];
    size_t n;
    while (mem && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, mem);
    if (mem)
        fclose(mem);
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    void (*writer)(FILE *) = NULL;
    if (argc >= 2 && strcmp(argv[1], "markdown") == 0)
        writer = fs_config_write_markdown;
    else if (argc >= 2 && strcmp(argv[1], "reference") == 0)
        writer = fs_config_write_reference;
    if (!writer || !(argc == 2 || (argc == 4 && strcmp(argv[2], "--check") == 0))) {
        fprintf(stderr, "usage: %s markdown|reference [--check FILE]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        writer(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    size_t want_len = 0, have_len = 0;
    char *want = generate(writer, &want_len);
    char *have = slurp(argv[3], &have_len);
    int same = want && have && want_len == have_len && memcmp(want, have, want_len) == 0;
    if (!same)
        fprintf(stderr,
                "%s is stale: regenerate it with `cmake --build build --target config-docs`\n",
                argv[3]);
    free(want);
    free(have);
    return same ? 0 : 1;
}
