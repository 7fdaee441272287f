/*
 * check_localize.c: the localizer on constructed sets of firing slices,
 * with excess and traffic chosen so the right answer is known by hand.
 */
#include <check.h>
#include <string.h>

#include "detector/localize.h"

/* Traffic of non-firing slices the overlap rule asks about. */
typedef struct traffic_table {
    const char *key;
    double traffic;
} traffic_table_t;

static const traffic_table_t *table;

static double traffic_of(void *opaque, const char *key, size_t len)
{
    (void)opaque;
    for (const traffic_table_t *t = table; t && t->key; t++)
        if (strlen(t->key) == len && memcmp(t->key, key, len) == 0)
            return t->traffic;
    return 0;
}

static void run(fs_loc_candidate_t *c, size_t n)
{
    fs_localizer_t *loc = fs_localizer_new(64, 20);
    ck_assert_ptr_nonnull(loc);
    fs_localize(loc, c, n, 0.8, traffic_of, NULL);
    fs_localizer_free(loc);
}

static int reported(const fs_loc_candidate_t *c, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].key, key) == 0)
            return c[i].report;
    ck_abort_msg("no candidate %s", key);
    return 0;
}

static size_t n_reported(const fs_loc_candidate_t *c, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += c[i].report != 0;
    return k;
}

START_TEST(a_pair_burst_is_named_by_the_pair)
{
    /* BR x android fails; BR, android and all traffic move with it. */
    fs_loc_candidate_t c[] = {
        {"", 100, 10000, 0, 0},
        {"country=BR", 95, 1000, 0, 0},
        {"platform=android", 97, 5000, 0, 0},
        {"country=BR,platform=android", 94, 500, 0, 0},
    };
    run(c, 4);
    ck_assert_uint_eq(n_reported(c, 4), 1);
    ck_assert(reported(c, 4, "country=BR,platform=android"));
}
END_TEST

START_TEST(a_country_wide_outage_is_named_by_the_country)
{
    /* Every platform of BR fails alike: the pairs split the excess in
     * proportion to their traffic, no one of them explains 80%. */
    fs_loc_candidate_t c[] = {
        {"", 100, 10000, 0, 0},
        {"country=BR", 100, 1000, 0, 0},
        {"country=BR,platform=android", 50, 500, 0, 0},
        {"country=BR,platform=ios", 35, 350, 0, 0},
        {"country=BR,platform=web", 15, 150, 0, 0},
    };
    run(c, 5);
    ck_assert_uint_eq(n_reported(c, 5), 1);
    ck_assert(reported(c, 5, "country=BR"));
}
END_TEST

START_TEST(two_unrelated_bursts_are_two_alerts)
{
    /* BR x android and DE x web; all traffic sums both. The two countries
     * carry 20% of the traffic, so this is not an all-traffic problem. */
    fs_loc_candidate_t c[] = {
        {"", 100, 10000, 0, 0},
        {"country=BR", 60, 1000, 0, 0},
        {"country=DE", 40, 1000, 0, 0},
        {"country=BR,platform=android", 58, 500, 0, 0},
        {"country=DE,platform=web", 39, 150, 0, 0},
    };
    run(c, 5);
    ck_assert_uint_eq(n_reported(c, 5), 2);
    ck_assert(reported(c, 5, "country=BR,platform=android"));
    ck_assert(reported(c, 5, "country=DE,platform=web"));
}
END_TEST

START_TEST(a_small_burst_beside_a_big_one_is_not_lost)
{
    /* The big one explains 95% of all traffic's excess; SE x web is
     * unrelated and must still be named. */
    fs_loc_candidate_t c[] = {
        {"", 1000, 100000, 0, 0},
        {"country=BR", 950, 10000, 0, 0},
        {"country=BR,platform=android", 940, 5000, 0, 0},
        {"country=SE", 45, 1000, 0, 0},
        {"country=SE,platform=web", 44, 150, 0, 0},
    };
    run(c, 5);
    ck_assert_uint_eq(n_reported(c, 5), 2);
    ck_assert(reported(c, 5, "country=BR,platform=android"));
    ck_assert(reported(c, 5, "country=SE,platform=web"));
}
END_TEST

START_TEST(an_overlapping_slice_is_explained)
{
    /* Numbers from a replay: BR x akamai carries 45% of BR's traffic, so
     * 0.45 x 935 = 421 of BR x android's excess falls into it; it has 439:
     * 18 remain, at most 2 x max(0.2 x 439, 20) = 176. */
    static const traffic_table_t t[] = {{"country=BR", 1000}, {NULL, 0}};
    table = t;
    fs_loc_candidate_t c[] = {
        {"country=BR,platform=android", 935, 500, 0, 0},
        {"country=BR,cdn=akamai", 439, 450, 0, 0},
    };
    run(c, 2);
    ck_assert(reported(c, 2, "country=BR,platform=android"));
    ck_assert(!reported(c, 2, "country=BR,cdn=akamai"));
    /* Two incidents, one on BR x android (600 excess of its own) and one on
     * BR x akamai (500), each spilling into the other by the traffic share:
     * 600 + 0.5 x 500 = 850 and 500 + 0.45 x 600 = 770. The overlap explains
     * 0.45 x 850 = 383 of 770: 387 remain, more than 2 x 0.2 x 770 = 308: two
     * alerts. */
    fs_loc_candidate_t d[] = {
        {"country=BR,platform=android", 850, 500, 0, 0},
        {"country=BR,cdn=akamai", 770, 450, 0, 0},
    };
    run(d, 2);
    ck_assert_uint_eq(n_reported(d, 2), 2);
    table = NULL;
}
END_TEST

START_TEST(an_open_alert_holds_within_hysteresis)
{
    /* BR x android explains 70% of BR: below 0.8, so a new explanation names
     * BR; but while BR x android has the alert, 0.8 - 0.3 = 0.5 suffices. */
    fs_loc_candidate_t fresh[] = {
        {"country=BR", 100, 1000, 0, 0},
        {"country=BR,platform=android", 70, 500, 0, 0},
    };
    run(fresh, 2);
    ck_assert(reported(fresh, 2, "country=BR"));
    fs_loc_candidate_t held[] = {
        {"country=BR", 100, 1000, 0, 0},
        {"country=BR,platform=android", 70, 500, 1, 0},
    };
    run(held, 2);
    ck_assert(reported(held, 2, "country=BR,platform=android"));
    ck_assert(!reported(held, 2, "country=BR"));
}
END_TEST

START_TEST(error_codes_are_named)
{
    fs_loc_candidate_t c[] = {
        {"", 300, 10000, 0, 0},
        {"code=AUDIO_DECODE", 290, 10000, 0, 0},
    };
    run(c, 2);
    ck_assert_uint_eq(n_reported(c, 2), 1);
    ck_assert(reported(c, 2, "code=AUDIO_DECODE"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("localize");
    TCase *tc = tcase_create("explanations");
    tcase_add_test(tc, a_pair_burst_is_named_by_the_pair);
    tcase_add_test(tc, a_country_wide_outage_is_named_by_the_country);
    tcase_add_test(tc, two_unrelated_bursts_are_two_alerts);
    tcase_add_test(tc, a_small_burst_beside_a_big_one_is_not_lost);
    tcase_add_test(tc, an_overlapping_slice_is_explained);
    tcase_add_test(tc, an_open_alert_holds_within_hysteresis);
    tcase_add_test(tc, error_codes_are_named);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
