/*
 * fuzz.h: what the fuzz harnesses share.
 *
 * Each harness (fuzz_decode.c, fuzz_config.c) defines LLVMFuzzerTestOneInput
 * and checks the documented invariants of the code it feeds with FUZZ_CHECK.
 * The same source is linked two ways: with libFuzzer (clang,
 * -fsanitize=fuzzer, tests/fuzz/CMakeLists.txt option FS_FUZZ), which
 * generates inputs, and with replay_corpus.c, a plain main that feeds it the
 * files of a corpus folder under ctest. A failed check prints what broke and
 * aborts, which both drivers report as a crash.
 */
#ifndef FS_TESTS_FUZZ_H
#define FS_TESTS_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry point: data[0..size) is one input (borrowed, not NUL-terminated). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn, format(printf, 4, 5))) static inline void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: fuzz check failed: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

/* Aborts with a printf-style explanation unless cond holds. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

#endif
