/*
 * fuzz_config.c: fuzzes the configuration loader (config/config.h).
 *
 * Every input is the text of a configuration file. It is written to an
 * in-memory file and loaded three ways:
 *
 *   A. fs_config_load on the whole input, without overrides;
 *   B. fs_config_load with -X overrides taken from the input: if the input
 *      has a line "%%", the lines before it are the file and each line after
 *      it one override; otherwise the whole input is the file and each of its
 *      lines (at most MAX_OVERRIDES) also an override;
 *   C. the steps of B one by one (fs_config_load_file, fs_config_override,
 *      fs_config_finish), each of which must return exactly the number of
 *      messages it appended, which must be B's messages.
 *
 * Every message must have one of the documented shapes: `FILE:LINE: key:
 * reason` with LINE a line of the file whose text contains the key, or
 * `-X:N: key: reason` with N an override that contains it (the key may also be
 * one of the placeholders "(line)", "(file)" and "(key)"); loading a missing
 * file gives `FILE: cannot open: reason`. Every origin points at the
 * default, a line of the file or an override. When a load has no problems,
 * the fs_config_dump output must load again without problems and dump the
 * same text again, unless an override's key or value has blanks at an end,
 * which the file syntax cannot express (it trims them). Everything is freed,
 * so LeakSanitizer sees any leak.
 */
/* memfd_create, memmem */
#define _GNU_SOURCE

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "config/config.h"
#include "config/keys.h"
#include "tests/fuzz/fuzz.h"

#define MAX_OVERRIDES 16

/* ---- in-memory files ------------------------------------------------------ */

/*
 * The loader reads a path, so inputs and dumps go to two memfd files, named
 * by their /proc/self/fd paths: nothing touches the disk, and nothing is left
 * behind when a check fails.
 */
static char conf_path[64], dump_path[64];

static void make_memfd(char *path, size_t size, const char *what)
{
    int fd = memfd_create(what, 0);
    FUZZ_CHECK(fd >= 0, "memfd_create failed");
    snprintf(path, size, "/proc/self/fd/%d", fd);
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "cannot write %s", path);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size, "short write to %s", path);
    FUZZ_CHECK(fclose(f) == 0, "cannot write %s", path);
}

static char *dump_to_string(const fs_config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    FUZZ_CHECK(mem != NULL, "open_memstream failed");
    fs_config_dump(cfg, mem);
    FUZZ_CHECK(fclose(mem) == 0 && text != NULL, "open_memstream failed");
    return text;
}

/* ---- what one load was given ------------------------------------------------- */

struct load {
    const char *path;
    const uint8_t *file; /* the bytes written to path */
    size_t file_len;
    size_t n_lines;                 /* as fgets counts them */
    char *overrides[MAX_OVERRIDES]; /* NUL-terminated; NULL past n_overrides */
    size_t n_overrides;
};

/* Physical line `line` (from 1) of the file; its length goes to *len. */
static const uint8_t *file_line(const struct load *ld, size_t line, size_t *len)
{
    const uint8_t *p = ld->file, *end = ld->file + ld->file_len;
    for (size_t i = 1; i < line; i++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    *len = (size_t)((nl ? nl : end) - p);
    return p;
}

static size_t count_lines(const uint8_t *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n + (len > 0 && s[len - 1] != '\n');
}

static int contains(const uint8_t *hay, size_t hay_len, const char *needle, size_t n)
{
    return n == 0 || memmem(hay, hay_len, needle, n) != NULL;
}

/* Reads the decimal number at *p followed by ": "; -1 if there is none. */
static long location_number(const char **p)
{
    const char *s = *p;
    long v = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    while (isdigit((unsigned char)*s) && v < 1000000000L)
        v = v * 10 + (*s++ - '0');
    if (s[0] != ':' || s[1] != ' ')
        return -1;
    *p = s + 2;
    return v;
}

/*
 * `key: reason` at rest, where the key is a placeholder or occurs in
 * src[0..src_len), the line or override the message points at. Keys are
 * free text (an unknown key is quoted as written), so every ": " is tried.
 */
static int key_and_reason(const char *rest, const uint8_t *src, size_t src_len, int empty_key)
{
    static const char *const placeholders[] = {"(line)", "(file)", "(key)"};
    for (const char *sep = strstr(rest, ": "); sep; sep = strstr(sep + 1, ": ")) {
        size_t key_len = (size_t)(sep - rest);
        if (sep[2] == '\0' || (key_len == 0 && !empty_key))
            continue;
        for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++)
            if (key_len == strlen(placeholders[i]) && memcmp(rest, placeholders[i], key_len) == 0)
                return 1;
        if (contains(src, src_len, rest, key_len))
            return 1;
    }
    return 0;
}

static void check_message(const struct load *ld, const char *msg)
{
    size_t plen = strlen(ld->path);
    const char *rest = msg;
    long n;

    if (strncmp(msg, ld->path, plen) == 0 && msg[plen] == ':') {
        rest = msg + plen + 1;
        n = location_number(&rest);
        FUZZ_CHECK(n >= 1 && (size_t)n <= ld->n_lines,
                   "message \"%s\": no line number from 1 to %zu after the file name", msg,
                   ld->n_lines);
        size_t len = 0;
        const uint8_t *line = file_line(ld, (size_t)n, &len);
        FUZZ_CHECK(line && key_and_reason(rest, line, len, 0),
                   "message \"%s\": no `key: reason` whose key is on line %ld (\"%.*s\")", msg, n,
                   (int)len, line ? (const char *)line : "");
    } else if (strncmp(msg, "-X:", 3) == 0) {
        rest = msg + 3;
        n = location_number(&rest);
        FUZZ_CHECK(n >= 1 && (size_t)n <= ld->n_overrides,
                   "message \"%s\": no override number from 1 to %zu after -X:", msg,
                   ld->n_overrides);
        const char *ov = ld->overrides[n - 1];
        FUZZ_CHECK(key_and_reason(rest, (const uint8_t *)ov, strlen(ov), 1),
                   "message \"%s\": no `key: reason` whose key is in override %ld (\"%s\")", msg, n,
                   ov);
    } else {
        fuzz_fail(__FILE__, __LINE__, "a FILE:LINE or -X:N location",
                  "message \"%s\" has no FILE:LINE or -X:N location", msg);
    }
}

/* Where each key and kafka property was set: the default, a file line or an override. */
static void check_origin(const struct load *ld, const char *name, fs_config_origin_t o)
{
    if (!o.file)
        return;
    if (strcmp(o.file, "-X") == 0)
        FUZZ_CHECK(o.line >= 1 && (size_t)o.line <= ld->n_overrides,
                   "%s: origin -X override %d of %zu", name, o.line, ld->n_overrides);
    else
        FUZZ_CHECK(strcmp(o.file, ld->path) == 0 && o.line >= 1 && (size_t)o.line <= ld->n_lines,
                   "%s: origin %s:%d, the file has %zu lines", name, o.file, o.line, ld->n_lines);
}

static void check_origins(const struct load *ld, const fs_config_t *cfg)
{
    for (size_t i = 0; i < fs_config_n_keys; i++)
        check_origin(ld, fs_config_keys[i].name, fs_config_origin(cfg, fs_config_keys[i].name));
    for (size_t i = 0; i < cfg->n_kafka; i++)
        check_origin(ld, cfg->kafka[i].name, cfg->kafka[i].origin);
}

/* The dump of a configuration without problems loads again, to the same dump. */
static void check_round_trip(const fs_config_t *cfg)
{
    char *text = dump_to_string(cfg);
    fs_config_t *again = fs_config_new();
    fs_config_diag_t diag = {0};
    FUZZ_CHECK(again != NULL, "fs_config_new failed");

    write_file(dump_path, text, strlen(text));
    int problems = fs_config_load(again, dump_path, NULL, 0, &diag);
    FUZZ_CHECK(problems == 0 && diag.n == 0,
               "the dump does not load again (%d problems): %s\n--- dump ---\n%s", problems,
               diag.n ? diag.messages[0] : "(no message)", text);
    char *text2 = dump_to_string(again);
    FUZZ_CHECK(strcmp(text, text2) == 0,
               "reloading the dump changes it\n--- dump ---\n%s--- dump of the reload ---\n%s",
               text, text2);
    free(text2);
    fs_config_diag_clear(&diag);
    fs_config_free(again);
    free(text);
}

/*
 * Runs fs_config_load as ld says; checks and returns the messages (caller
 * clears). round_trip: whether a dump must reproduce the configuration.
 */
static fs_config_diag_t load_and_check(const struct load *ld, int round_trip)
{
    fs_config_t *cfg = fs_config_new();
    fs_config_diag_t diag = {0};
    FUZZ_CHECK(cfg != NULL, "fs_config_new failed");

    int problems =
        fs_config_load(cfg, ld->path, (const char *const *)ld->overrides, ld->n_overrides, &diag);
    FUZZ_CHECK(problems >= 0 && (problems == 0) == (diag.n == 0) && (size_t)problems <= diag.n,
               "fs_config_load returned %d with %zu messages", problems, diag.n);
    for (size_t i = 0; i < diag.n; i++)
        check_message(ld, diag.messages[i]);
    check_origins(ld, cfg);
    if (problems == 0 && round_trip)
        check_round_trip(cfg);
    fs_config_free(cfg);
    return diag;
}

/* The same load step by step: each step's count is the number of messages it added. */
static void steps_and_check(const struct load *ld, const fs_config_diag_t *whole)
{
    fs_config_t *cfg = fs_config_new();
    fs_config_diag_t diag = {0};
    FUZZ_CHECK(cfg != NULL, "fs_config_new failed");

    int r = fs_config_load_file(cfg, ld->path, &diag);
    FUZZ_CHECK(r >= 0 && (size_t)r == diag.n, "fs_config_load_file returned %d with %zu messages",
               r, diag.n);
    for (size_t i = 0; i < ld->n_overrides; i++) {
        size_t before = diag.n;
        r = fs_config_override(cfg, ld->overrides[i], (int)i + 1, &diag);
        FUZZ_CHECK(r >= 0 && (size_t)r == diag.n - before,
                   "fs_config_override(\"%s\") returned %d and added %zu messages",
                   ld->overrides[i], r, diag.n - before);
    }
    size_t before = diag.n;
    r = fs_config_finish(cfg, &diag);
    FUZZ_CHECK(r >= 0 && (size_t)r == diag.n - before,
               "fs_config_finish returned %d and added %zu messages", r, diag.n - before);
    FUZZ_CHECK(diag.n == whole->n, "%zu messages step by step, %zu from fs_config_load", diag.n,
               whole->n);
    for (size_t i = 0; i < diag.n; i++)
        FUZZ_CHECK(strcmp(diag.messages[i], whole->messages[i]) == 0,
                   "message %zu differs: \"%s\" step by step, \"%s\" from fs_config_load", i,
                   diag.messages[i], whole->messages[i]);
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
}

/* A missing file is one `FILE: cannot open: reason` message and -1. */
static void check_missing_file(void)
{
    char path[600];
    fs_config_t *cfg = fs_config_new();
    fs_config_diag_t diag = {0};
    FUZZ_CHECK(cfg != NULL, "fs_config_new failed");
    snprintf(path, sizeof path, "%s.missing/foreshock.conf", conf_path);

    int r = fs_config_load_file(cfg, path, &diag);
    FUZZ_CHECK(r == -1 && diag.n == 1, "missing file: returned %d with %zu messages", r, diag.n);
    size_t plen = strlen(path);
    FUZZ_CHECK(strncmp(diag.messages[0], path, plen) == 0 &&
                   strncmp(diag.messages[0] + plen, ": cannot open: ", 15) == 0 &&
                   diag.messages[0][plen + 15] != '\0',
               "missing file: message \"%s\"", diag.messages[0]);
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
}

static int blank_at_an_end(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    if (!initialized) {
        make_memfd(conf_path, sizeof conf_path, "fs_fuzz_config");
        make_memfd(dump_path, sizeof dump_path, "fs_fuzz_config_dump");
        check_missing_file();
        initialized = 1;
    }

    /* A. The whole input as the file. */
    struct load ld = {conf_path, data, size, count_lines(data, size), {NULL}, 0};
    write_file(conf_path, data, size);
    fs_config_diag_t diag = load_and_check(&ld, 1);
    fs_config_diag_clear(&diag);

    /* B. A file and overrides: split at a line "%%", or every line also as an override. */
    const uint8_t *ov = data, *end = data + size;
    for (const uint8_t *p = data; p + 2 <= end; p++) {
        if ((p == data || p[-1] == '\n') && p[0] == '%' && p[1] == '%' &&
            (p + 2 == end || p[2] == '\n')) {
            ld.file_len = (size_t)(p - data);
            ld.n_lines = count_lines(data, ld.file_len);
            ov = p + 2 < end ? p + 3 : end;
            break;
        }
    }
    int round_trip = 1;
    while (ov < end && ld.n_overrides < MAX_OVERRIDES) {
        const uint8_t *nl = memchr(ov, '\n', (size_t)(end - ov));
        size_t len = (size_t)((nl ? nl : end) - ov);
        /* Like a command-line argument, an override ends at a NUL. */
        char *s = strndup((const char *)ov, len);
        FUZZ_CHECK(s != NULL, "out of memory");
        char *eq = strchr(s, '=');
        if (eq) {
            *eq = '\0';
            round_trip &= !blank_at_an_end(s) && !blank_at_an_end(eq + 1);
            *eq = '=';
        }
        ld.overrides[ld.n_overrides++] = s;
        ov = nl ? nl + 1 : end;
    }
    write_file(conf_path, data, ld.file_len);
    diag = load_and_check(&ld, round_trip);

    /* C. The same, step by step. */
    steps_and_check(&ld, &diag);
    fs_config_diag_clear(&diag);
    for (size_t i = 0; i < ld.n_overrides; i++)
        free(ld.overrides[i]);
    return 0;
}
