/*
 * check_slices.c: slice expansion, canonical keys with escaping, the bound
 * on live slices, eviction and reuse of indices.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "detector/slices.h"

static const char *const dims[] = {"country", "platform", "app_version", "cdn"};
static const uint8_t pairs[] = {0, 1, 0, 3, 1, 2};

static fs_event_t event(const char *country, const char *platform, int64_t ts)
{
    fs_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FS_EVENT_PLAYBACK;
    ev.ts_ms = ts;
    const char *values[] = {country, platform, "9.0", "akamai"};
    for (int i = 0; i < 4; i++) {
        ev.dims[i].ptr = values[i];
        ev.dims[i].len = strlen(values[i]);
    }
    return ev;
}

static int has_key(fs_slices_t *s, const fs_slice_set_t *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(fs_slices_key(s, set->ids[i]), key) == 0)
            return 1;
    return 0;
}

START_TEST(event_expands_to_all_dims_and_pairs)
{
    char err[128];
    fs_slices_t *s = fs_slices_new(dims, 4, pairs, 3, 1, 1000, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    fs_event_t ev = event("BR", "android", 1000);
    fs_slice_set_t set;
    fs_slices_expand(s, &ev, &set);
    ck_assert_uint_eq(set.n, 8);
    ck_assert_uint_eq(set.ids[0], FS_SLICE_ALL);
    ck_assert_str_eq(fs_slices_key(s, set.ids[0]), "");
    const char *want[] = {"country=BR", "platform=android", "app_version=9.0", "cdn=akamai",
                          "country=BR,platform=android", "country=BR,cdn=akamai",
                          "platform=android,app_version=9.0"};
    for (size_t i = 0; i < 7; i++)
        ck_assert_msg(has_key(s, &set, want[i]), "missing %s", want[i]);
    /* The same event again finds the same slices. */
    fs_slice_set_t again;
    fs_slices_expand(s, &ev, &again);
    ck_assert_mem_eq(set.ids, again.ids, set.n * sizeof set.ids[0]);
    ck_assert_uint_eq(fs_slices_count(s), 8);
    /* Parents: dims and codes borrow from all traffic, pairs from their first dimension. */
    for (size_t i = 0; i < set.n; i++) {
        const char *key = fs_slices_key(s, set.ids[i]);
        uint32_t parent = fs_slices_parent(s, set.ids[i]);
        if (strcmp(key, "country=BR,platform=android") == 0 ||
            strcmp(key, "country=BR,cdn=akamai") == 0)
            ck_assert_str_eq(fs_slices_key(s, parent), "country=BR");
        else if (strcmp(key, "platform=android,app_version=9.0") == 0)
            ck_assert_str_eq(fs_slices_key(s, parent), "platform=android");
        else if (key[0])
            ck_assert_uint_eq(parent, FS_SLICE_ALL);
    }
    fs_slices_free(s);
}
END_TEST

START_TEST(error_codes_get_slices)
{
    char err[128];
    fs_slices_t *s = fs_slices_new(dims, 4, pairs, 0, 1, 1000, err, sizeof err);
    fs_event_t ev = event("SE", "web", 1000);
    ev.kind = FS_EVENT_ERROR;
    ev.code.ptr = "AUDIO_DECODE";
    ev.code.len = 12;
    fs_slice_set_t set;
    fs_slices_expand(s, &ev, &set);
    ck_assert_uint_eq(set.n, 6);
    ck_assert(has_key(s, &set, "code=AUDIO_DECODE"));
    ck_assert_int_eq(fs_slices_kind(s, set.ids[5]), FS_SLICE_KIND_CODE);
    fs_slices_free(s);
}
END_TEST

static void collect(void *opaque, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    char *out = opaque;
    size_t used = strlen(out);
    snprintf(out + used, 256 - used, "[%.*s|%.*s]", (int)name_len, name, (int)value_len, value);
}

START_TEST(special_characters_are_escaped_unambiguously)
{
    char err[128];
    fs_slices_t *s = fs_slices_new(dims, 2, pairs, 1, 0, 1000, err, sizeof err);
    /* "a,platform=b" as a country must not look like a pair. */
    fs_event_t ev = event("a,platform=b", "x\\y", 1000);
    fs_slice_set_t set;
    fs_slices_expand(s, &ev, &set);
    ck_assert(has_key(s, &set, "country=a\\,platform\\=b"));
    ck_assert(has_key(s, &set, "platform=x\\\\y"));
    ck_assert(has_key(s, &set, "country=a\\,platform\\=b,platform=x\\\\y"));
    ck_assert_int_eq(fs_slices_kind(s, set.ids[1]), FS_SLICE_KIND_DIM);
    char parts[256] = "";
    ck_assert_int_eq(fs_slice_key_parts("country=a\\,platform\\=b,platform=x\\\\y", collect, parts),
                     0);
    ck_assert_str_eq(parts, "[country|a,platform=b][platform|x\\y]");
    fs_slices_free(s);
}
END_TEST

START_TEST(bound_is_enforced_and_counted)
{
    char err[128];
    /* All traffic + 3 more slices at most. */
    fs_slices_t *s = fs_slices_new(dims, 1, pairs, 0, 0, 4, err, sizeof err);
    const char *countries[] = {"A", "B", "C", "D", "E"};
    fs_slice_set_t set;
    for (int i = 0; i < 5; i++) {
        fs_event_t ev = event(countries[i], "web", 1000);
        fs_slices_expand(s, &ev, &set);
    }
    ck_assert_uint_eq(fs_slices_count(s), 4);
    ck_assert_uint_eq(fs_slices_overflow(s), 2);
    /* The overflowing event still counts in all traffic. */
    ck_assert_uint_eq(set.n, 1);
    ck_assert_uint_eq(set.ids[0], FS_SLICE_ALL);
    fs_slices_free(s);
}
END_TEST

START_TEST(idle_slices_are_evicted_and_indices_reused)
{
    char err[128];
    fs_slices_t *s = fs_slices_new(dims, 1, pairs, 0, 0, 3, err, sizeof err);
    fs_slice_set_t set;
    fs_event_t old_ev = event("OLD", "web", 1000);
    fs_slices_expand(s, &old_ev, &set);
    uint32_t old_id = set.ids[1];
    fs_event_t new_ev = event("NEW", "web", 500000);
    fs_slices_expand(s, &new_ev, &set);
    ck_assert_uint_eq(fs_slices_count(s), 3);
    ck_assert_uint_eq(fs_slices_evict(s, 100000, NULL, NULL), 1);
    ck_assert(!fs_slices_live(s, old_id));
    ck_assert(fs_slices_live(s, FS_SLICE_ALL)); /* all traffic is never evicted */
    fs_event_t third = event("THIRD", "web", 600000);
    fs_slices_expand(s, &third, &set);
    ck_assert_uint_eq(set.ids[1], old_id);
    ck_assert_str_eq(fs_slices_key(s, old_id), "country=THIRD");
    /* The evicted key is gone from the table; the others are still found. */
    ck_assert_uint_eq(fs_slices_intern(s, "country=NEW", 11), set.ids[1] == old_id ? 2 : 1);
    fs_slices_free(s);
}
END_TEST

START_TEST(many_slices_survive_churn)
{
    /* Insert and evict in waves; every live key must stay findable. */
    char err[128], key[32];
    fs_slices_t *s = fs_slices_new(dims, 1, pairs, 0, 0, 5000, err, sizeof err);
    fs_slice_set_t set;
    for (int wave = 0; wave < 6; wave++) {
        for (int i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "c%d", wave * 3000 + i);
            fs_event_t ev = event(key, "web", (int64_t)wave * 1000000 + 1);
            fs_slices_expand(s, &ev, &set);
        }
        fs_slices_evict(s, (int64_t)wave * 1000000, NULL, NULL);
        for (int i = 0; i < 3000; i++) {
            char full[40];
            snprintf(full, sizeof full, "country=c%d", wave * 3000 + i);
            uint32_t id = fs_slices_intern(s, full, strlen(full));
            ck_assert_uint_ne(id, FS_SLICE_NONE);
            ck_assert_str_eq(fs_slices_key(s, id), full);
        }
        ck_assert_uint_eq(fs_slices_count(s), 3001);
    }
    fs_slices_free(s);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("slices");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, event_expands_to_all_dims_and_pairs);
    tcase_add_test(tc, error_codes_get_slices);
    tcase_add_test(tc, special_characters_are_escaped_unambiguously);
    tcase_add_test(tc, bound_is_enforced_and_counted);
    tcase_add_test(tc, idle_slices_are_evicted_and_indices_reused);
    tcase_add_test(tc, many_slices_survive_churn);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
