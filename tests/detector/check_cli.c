/*
 * check_cli.c: the `foreshock` command line of CONTRACT.md section 3, run as
 * a real process: --check-config exit codes and FILE:LINE: key: reason
 * output, -X overrides, --dump-config and --version.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FORESHOCK_BIN
#error "FORESHOCK_BIN must name the foreshock executable"
#endif
#ifndef FS_SOURCE_DIR
#error "FS_SOURCE_DIR must name the source tree"
#endif

/* Runs the shell command; returns its exit status and stdout+stderr. */
static int run(const char *args, char *out, size_t out_size)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", FORESHOCK_BIN, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, out_size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static const char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/fs_check_cli_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(reference_config_is_valid)
{
    char out[4096];
    ck_assert_int_eq(run("-c " FS_SOURCE_DIR "/config/foreshock.conf --check-config", out,
                         sizeof out),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "configuration is valid"));
}
END_TEST

START_TEST(bad_config_lists_every_problem_and_exits_1)
{
    const char *path = write_temp("store = memory\n"
                                  "bogus = 1\n"
                                  "store = redis\n"
                                  "kafka.not.a.property = 1\n");
    char args[256], out[4096], expected[256];
    snprintf(args, sizeof args, "-c %s --check-config -X redis.address=nowhere", path);
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    snprintf(expected, sizeof expected, "%s:2: bogus: unknown key\n", path);
    ck_assert_ptr_nonnull(strstr(out, expected));
    snprintf(expected, sizeof expected, "%s:3: store: set twice (first at line 1)\n", path);
    ck_assert_ptr_nonnull(strstr(out, expected));
    snprintf(expected, sizeof expected,
             "%s:4: kafka.not.a.property: rejected by librdkafka: No such configuration "
             "property: \"not.a.property\"\n",
             path);
    ck_assert_ptr_nonnull(strstr(out, expected));
    ck_assert_ptr_nonnull(strstr(out, "-X:1: redis.address: not an address"));
    ck_assert_ptr_null(strstr(out, "valid"));
    unlink(path);
}
END_TEST

START_TEST(dump_shows_overrides)
{
    char out[4096];
    ck_assert_int_eq(run("-c " FS_SOURCE_DIR "/config/foreshock.conf --dump-config "
                         "-X store=memory -X kafka.sasl.password=hunter2",
                         out, sizeof out),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "\nstore = memory\n"));
    ck_assert_ptr_nonnull(strstr(out, "kafka.sasl.password = <redacted>\n"));
    ck_assert_ptr_null(strstr(out, "hunter2"));
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    char out[4096];
    ck_assert_int_eq(run("--check-config", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "-c FILE is required"));
    ck_assert_int_eq(run("-c x.conf extra", out, sizeof out), 2);
    ck_assert_int_eq(run("--no-such-flag", out, sizeof out), 2);
}
END_TEST

START_TEST(version_names_libraries)
{
    char out[4096];
    ck_assert_int_eq(run("--version", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "foreshock "));
    ck_assert_ptr_nonnull(strstr(out, "librdkafka 2."));
    ck_assert_ptr_nonnull(strstr(out, "hiredis "));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("foreshock");
    tcase_add_test(tc, reference_config_is_valid);
    tcase_add_test(tc, bad_config_lists_every_problem_and_exits_1);
    tcase_add_test(tc, dump_shows_overrides);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, version_names_libraries);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
