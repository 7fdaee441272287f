/*
 * check_alertmanager.c: the forwarder's pure parts, without a network.
 *
 *   - an alert message becomes exactly the object Alertmanager's
 *     POST /api/v2/alerts takes, its fields copied byte for byte; broken
 *     messages are refused with a reason, and still tell their fingerprint
 *     and status when they have them;
 *   - payloads are JSON arrays of those objects;
 *   - the firing set re-posts each firing alert every resend interval,
 *     holds replayed alerts until their partition's replay is over, forgets
 *     resolved ones, and lists the most overdue first;
 *   - backoff doubles from 100 ms to 30 s; HTTP answers are classified.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/alertmanager.h"

#define MIN_MS 60000

static const char firing_msg[] =
    "{\"fingerprint\":\"6a8779b8ced2c916\",\"status\":\"firing\","
    "\"alertname\":\"PlaybackFailureBurst\",\"severity\":\"warning\","
    "\"slice\":{\"country\":\"BR\",\"platform\":\"android\"},"
    "\"startsAt\":\"2026-11-18T11:26:40.000Z\",\"detectedAt\":\"2026-11-18T11:26:44.000Z\","
    "\"endsAt\":null,"
    "\"labels\":{\"alertname\":\"PlaybackFailureBurst\",\"severity\":\"warning\","
    "\"country\":\"BR\",\"platform\":\"android\"},"
    "\"annotations\":{\"summary\":\"Playback failures 7.8x expected\","
    "\"description\":\"4.98% of attempts failed\"},"
    "\"evidence\":{\"observed\":0.0497512,\"expected\":6.41113e-3,\"attempts\":603,"
    "\"failures\":30,\"window_seconds\":4,\"score\":1,\"affected_users\":null},"
    "\"id\":\"29582d97e298ce1a\"}";

static const char firing_element[] =
    "{\"labels\":{\"alertname\":\"PlaybackFailureBurst\",\"severity\":\"warning\","
    "\"country\":\"BR\",\"platform\":\"android\"},"
    "\"annotations\":{\"summary\":\"Playback failures 7.8x expected\","
    "\"description\":\"4.98% of attempts failed\"},"
    "\"startsAt\":\"2026-11-18T11:26:40.000Z\"}";

START_TEST(firing_message_becomes_alertmanager_object)
{
    fs_am_alert_t a;
    char err[128] = "";
    ck_assert_int_eq(fs_am_alert_parse(firing_msg, strlen(firing_msg), &a, err, sizeof err), 0);
    ck_assert_str_eq(a.fingerprint, "6a8779b8ced2c916");
    ck_assert_int_eq(a.status_known, 1);
    ck_assert_int_eq(a.firing, 1);
    /* endsAt is never sent while firing: Alertmanager then keeps the alert
     * for resolve_timeout after each post. */
    ck_assert_str_eq(a.element, firing_element);
    ck_assert_uint_eq(a.element_len, strlen(firing_element));
    fs_am_alert_clear(&a);
    ck_assert_ptr_null(a.element);
}
END_TEST

START_TEST(resolved_message_carries_ends_at)
{
    /* Whitespace between tokens, keys in another order, generatorURL kept. */
    static const char msg[] =
        " {\n \"status\" : \"resolved\", \"endsAt\" : \"2026-11-18T11:30:00.000Z\",\n"
        "  \"labels\" : {\"alertname\" : \"ErrorBurst\", \"code\":\"AUDIO_DECODE\"},\n"
        "  \"startsAt\":\"2026-11-18T11:26:40.000Z\", \"fingerprint\":\"5adb7d3517c42a5f\",\n"
        "  \"generatorURL\":\"http://grafana.example/d/x?var-code=AUDIO_DECODE\" }\n";
    static const char expect[] =
        "{\"labels\":{\"alertname\" : \"ErrorBurst\", \"code\":\"AUDIO_DECODE\"},"
        "\"startsAt\":\"2026-11-18T11:26:40.000Z\",\"endsAt\":\"2026-11-18T11:30:00.000Z\","
        "\"generatorURL\":\"http://grafana.example/d/x?var-code=AUDIO_DECODE\"}";
    fs_am_alert_t a;
    char err[128] = "";
    ck_assert_msg(fs_am_alert_parse(msg, strlen(msg), &a, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(a.firing, 0);
    ck_assert_str_eq(a.fingerprint, "5adb7d3517c42a5f");
    ck_assert_str_eq(a.element, expect);
    fs_am_alert_clear(&a);
}
END_TEST

START_TEST(escapes_are_copied_unchanged)
{
    static const char msg[] =
        "{\"fingerprint\":\"ab\",\"status\":\"firing\",\"startsAt\":\"2026-01-01T00:00:00Z\","
        "\"labels\":{\"alertname\":\"A\",\"city\":\"S\\u00e3o Paulo \\\"SP\\\"\"},"
        "\"annotations\":{\"summary\":\"line\\nbreak \xc3\xa9\"},\"generatorURL\":null}";
    static const char expect[] =
        "{\"labels\":{\"alertname\":\"A\",\"city\":\"S\\u00e3o Paulo \\\"SP\\\"\"},"
        "\"annotations\":{\"summary\":\"line\\nbreak \xc3\xa9\"},"
        "\"startsAt\":\"2026-01-01T00:00:00Z\"}";
    fs_am_alert_t a;
    char err[128] = "";
    ck_assert_msg(fs_am_alert_parse(msg, strlen(msg), &a, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(a.element, expect);
    fs_am_alert_clear(&a);
}
END_TEST

/* Broken messages: refused, with what can still be read of them. */
static const struct {
    const char *msg;
    const char *reason_part;
    const char *fingerprint; /* what out->fingerprint must hold */
    int status_known, firing;
} broken[] = {
    {"", "empty", "", 0, 0},
    {"not json", "not a JSON object", "", 0, 0},
    {"[1,2]", "not a JSON object", "", 0, 0},
    {"{\"fingerprint\":\"a\"", "not valid JSON", "", 0, 0},
    {"{\"fingerprint\":\"a\"} x", "not valid JSON", "", 0, 0},
    {"{\"fingerprint\":\"a\",}", "not valid JSON", "", 0, 0},
    {"{\"a\":\"\\x\"}", "not valid JSON", "", 0, 0},
    {"{\"a\":\"\\u12\"}", "not valid JSON", "", 0, 0},
    {"{\"a\":\"tab\there\"}", "not valid JSON", "", 0, 0},
    {"{\"a\":01}", "not valid JSON", "", 0, 0},
    {"{\"a\":1.}", "not valid JSON", "", 0, 0},
    {"{\"a\":tru}", "not valid JSON", "", 0, 0},
    {"{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},"
     "\"startsAt\":\"2026-01-01T00:00:00Z\"}",
     "fingerprint", "", 1, 1},
    {"{\"fingerprint\":\"\",\"status\":\"firing\"}", "fingerprint", "", 1, 1},
    {"{\"fingerprint\":7,\"status\":\"firing\"}", "fingerprint", "", 1, 1},
    {"{\"fingerprint\":\"a b\",\"status\":\"firing\"}", "fingerprint", "", 1, 1},
    {"{\"fingerprint\":\"0123456789012345678901234567890123456789012345678901234567890123X\","
     "\"status\":\"firing\"}",
     "fingerprint", "", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"open\"}", "status", "f", 0, 0},
    {"{\"fingerprint\":\"f\",\"status\":\"resolved\",\"startsAt\":\"2026-01-01T00:00:00Z\","
     "\"endsAt\":\"2026-01-01T00:01:00Z\"}",
     "labels", "f", 1, 0},
    {"{\"fingerprint\":\"f\",\"status\":\"firing\",\"labels\":{},"
     "\"startsAt\":\"2026-01-01T00:00:00Z\"}",
     "labels", "f", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"firing\",\"labels\":{\"alertname\":3},"
     "\"startsAt\":\"2026-01-01T00:00:00Z\"}",
     "labels", "f", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"firing\",\"labels\":[\"alertname\"],"
     "\"startsAt\":\"2026-01-01T00:00:00Z\"}",
     "labels", "f", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},"
     "\"annotations\":{\"summary\":{}},\"startsAt\":\"2026-01-01T00:00:00Z\"}",
     "annotations", "f", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"}}", "startsAt",
     "f", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},"
     "\"startsAt\":\"yesterday\"}",
     "startsAt", "f", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"firing\",\"labels\":{\"alertname\":\"A\"},"
     "\"startsAt\":1795001200000}",
     "startsAt", "f", 1, 1},
    {"{\"fingerprint\":\"f\",\"status\":\"resolved\",\"labels\":{\"alertname\":\"A\"},"
     "\"startsAt\":\"2026-01-01T00:00:00Z\",\"endsAt\":null}",
     "endsAt", "f", 1, 0},
    {"{\"fingerprint\":\"f\",\"status\":\"resolved\",\"labels\":{\"alertname\":\"A\"},"
     "\"startsAt\":\"2026-01-01T00:00:00Z\"}",
     "endsAt", "f", 1, 0},
};

START_TEST(broken_messages_are_refused)
{
    fs_am_alert_t a;
    char err[128] = "";
    const char *msg = broken[_i].msg;
    ck_assert_int_eq(fs_am_alert_parse(msg, strlen(msg), &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, broken[_i].reason_part) != NULL, "case %d: reason '%s', want '%s'",
                  _i, err, broken[_i].reason_part);
    ck_assert_ptr_null(a.element);
    ck_assert_str_eq(a.fingerprint, broken[_i].fingerprint);
    ck_assert_int_eq(a.status_known, broken[_i].status_known);
    ck_assert_int_eq(a.firing, broken[_i].firing);
    fs_am_alert_clear(&a);
}
END_TEST

START_TEST(deep_nesting_is_refused_not_recursed)
{
    size_t depth = 100000;
    char *msg = malloc(2 * depth + 16);
    size_t n = 0;
    fs_am_alert_t a;
    char err[128];
    ck_assert_ptr_nonnull(msg);
    n += (size_t)sprintf(msg, "{\"a\":");
    for (size_t i = 0; i < depth; i++)
        msg[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        msg[n++] = ']';
    msg[n++] = '}';
    ck_assert_int_eq(fs_am_alert_parse(msg, n, &a, err, sizeof err), -1);
    ck_assert_str_eq(err, "not valid JSON");
    free(msg);
}
END_TEST

START_TEST(message_need_not_be_nul_terminated)
{
    size_t len = strlen(firing_msg);
    char *copy = malloc(len);
    fs_am_alert_t a;
    char err[128];
    memcpy(copy, firing_msg, len);
    ck_assert_int_eq(fs_am_alert_parse(copy, len, &a, err, sizeof err), 0);
    ck_assert_str_eq(a.element, firing_element);
    fs_am_alert_clear(&a);
    /* Cut short anywhere, it is refused. */
    for (size_t cut = 0; cut < len; cut += 7) {
        ck_assert_int_eq(fs_am_alert_parse(copy, cut, &a, err, sizeof err), -1);
        fs_am_alert_clear(&a);
    }
    free(copy);
}
END_TEST

START_TEST(payload_is_an_array_in_order)
{
    const char *elements[] = {"{\"a\":1}", "{}", "{\"b\":[2]}"};
    size_t lens[] = {7, 2, 9}, len;
    char *p = fs_am_payload_new(elements, lens, 0, &len);
    ck_assert_str_eq(p, "[]");
    ck_assert_uint_eq(len, 2);
    free(p);
    p = fs_am_payload_new(elements, lens, 1, &len);
    ck_assert_str_eq(p, "[{\"a\":1}]");
    free(p);
    p = fs_am_payload_new(elements, lens, 3, &len);
    ck_assert_str_eq(p, "[{\"a\":1},{},{\"b\":[2]}]");
    ck_assert_uint_eq(len, strlen(p));
    free(p);
}
END_TEST

/* ---- the firing set ---------------------------------------------------------- */

/* A parsed alert of fingerprint fp; firing or resolved. */
static fs_am_alert_t make(const char *fp, int firing)
{
    char msg[512], err[128];
    fs_am_alert_t a;
    snprintf(msg, sizeof msg,
             "{\"fingerprint\":\"%s\",\"status\":\"%s\",\"labels\":{\"alertname\":\"A\","
             "\"slice\":\"%s\"},\"startsAt\":\"2026-01-01T00:00:00Z\",\"endsAt\":%s}",
             fp, firing ? "firing" : "resolved", fp, firing ? "null" : "\"2026-01-01T00:10:00Z\"");
    ck_assert_msg(fs_am_alert_parse(msg, strlen(msg), &a, err, sizeof err) == 0, "%s", err);
    return a;
}

static void apply(fs_am_firing_t *set, int32_t partition, const char *fp, int firing, int64_t next)
{
    fs_am_alert_t a = make(fp, firing);
    ck_assert_int_eq(fs_am_firing_apply(set, partition, &a, next), 0);
    fs_am_alert_clear(&a);
}

/* The fingerprints due at now, joined with ',' in the order listed. */
static const char *due_list(fs_am_firing_t *set, int64_t now, size_t max)
{
    static char buf[1024];
    fs_am_due_t due[64];
    size_t n = fs_am_firing_due(set, now, due, max), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "",
                                 due[i].fingerprint);
    return buf;
}

START_TEST(firing_alerts_are_reposted_every_interval)
{
    fs_am_firing_t *set = fs_am_firing_new(MIN_MS);
    ck_assert_ptr_nonnull(set);
    ck_assert_int_eq(fs_am_firing_next_due(set), FS_AM_HELD);

    /* Posted live at t=0: next due one interval later, not before. */
    apply(set, 0, "a", 1, 0 + MIN_MS);
    ck_assert_uint_eq(fs_am_firing_count(set), 1);
    ck_assert_str_eq(due_list(set, 0, 64), "");
    ck_assert_str_eq(due_list(set, MIN_MS - 1, 64), "");
    ck_assert_int_eq(fs_am_firing_next_due(set), MIN_MS);
    ck_assert_str_eq(due_list(set, MIN_MS, 64), "a");

    /* The re-post was made 2 s late: the next one counts from it. */
    fs_am_firing_posted(set, "a", MIN_MS + 2000);
    ck_assert_int_eq(fs_am_firing_next_due(set), 2 * MIN_MS + 2000);
    ck_assert_str_eq(due_list(set, 2 * MIN_MS + 1999, 64), "");
    ck_assert_str_eq(due_list(set, 2 * MIN_MS + 2000, 64), "a");

    /* A re-post that failed (not marked posted) stays due. */
    ck_assert_str_eq(due_list(set, 3 * MIN_MS, 64), "a");

    /* Resolved: gone, never due again. */
    apply(set, 0, "a", 0, 0);
    ck_assert_uint_eq(fs_am_firing_count(set), 0);
    ck_assert_str_eq(due_list(set, 10 * MIN_MS, 64), "");
    ck_assert_int_eq(fs_am_firing_next_due(set), FS_AM_HELD);
    fs_am_firing_free(set);
}
END_TEST

START_TEST(the_same_fingerprint_is_kept_once)
{
    fs_am_firing_t *set = fs_am_firing_new(MIN_MS);
    apply(set, 1, "a", 1, 1000);
    apply(set, 1, "a", 1, 5000); /* posted again (a replay, a duplicate) */
    ck_assert_uint_eq(fs_am_firing_count(set), 1);
    ck_assert_str_eq(due_list(set, 4999, 64), "");
    ck_assert_str_eq(due_list(set, 5000, 64), "a");
    /* A resolved message for an alert never seen changes nothing. */
    apply(set, 1, "zz", 0, 0);
    ck_assert_uint_eq(fs_am_firing_count(set), 1);
    ck_assert_int_eq(fs_am_firing_forget(set, "zz"), 0);
    ck_assert_int_eq(fs_am_firing_forget(set, "a"), 1);
    ck_assert_uint_eq(fs_am_firing_count(set), 0);
    fs_am_firing_free(set);
}
END_TEST

START_TEST(most_overdue_first_and_bounded)
{
    fs_am_firing_t *set = fs_am_firing_new(MIN_MS);
    apply(set, 0, "c", 1, 3000);
    apply(set, 0, "a", 1, 1000);
    apply(set, 0, "d", 1, 9000);
    apply(set, 0, "b", 1, 2000);
    ck_assert_str_eq(due_list(set, 5000, 64), "a,b,c");
    ck_assert_str_eq(due_list(set, 5000, 2), "a,b");
    ck_assert_str_eq(due_list(set, 9000, 3), "a,b,c");
    ck_assert_str_eq(due_list(set, 9000, 64), "a,b,c,d");
    ck_assert_str_eq(due_list(set, 0, 64), "");
    fs_am_firing_free(set);
}
END_TEST

START_TEST(replayed_alerts_wait_for_their_partition)
{
    fs_am_firing_t *set = fs_am_firing_new(MIN_MS);
    /* Partition 0 is replayed: a fires, b fires and later resolves, c fires. */
    apply(set, 0, "a", 1, FS_AM_HELD);
    apply(set, 0, "b", 1, FS_AM_HELD);
    apply(set, 2, "c", 1, FS_AM_HELD);
    ck_assert_str_eq(due_list(set, INT64_MAX - 1, 64), "");
    apply(set, 0, "b", 0, FS_AM_HELD);
    ck_assert_uint_eq(fs_am_firing_count(set), 2);
    ck_assert_int_eq(fs_am_firing_contains(set, "b"), 0);

    /* Partition 0's replay ends at t=500: only its alerts become due, now. */
    fs_am_firing_release(set, 0, 500);
    ck_assert_str_eq(due_list(set, 500, 64), "a");
    ck_assert_int_eq(fs_am_firing_next_due(set), 500);
    fs_am_firing_posted(set, "a", 600);
    ck_assert_int_eq(fs_am_firing_next_due(set), 600 + MIN_MS);
    /* Releasing again does not move a scheduled alert. */
    fs_am_firing_release(set, 0, 700);
    ck_assert_int_eq(fs_am_firing_next_due(set), 600 + MIN_MS);

    fs_am_firing_release(set, 2, 800);
    ck_assert_str_eq(due_list(set, 800, 64), "c");

    /* Partition 0 revoked: its alerts belong to the next owner. */
    fs_am_firing_drop_partition(set, 0);
    ck_assert_uint_eq(fs_am_firing_count(set), 1);
    ck_assert_int_eq(fs_am_firing_contains(set, "c"), 1);
    fs_am_firing_free(set);
}
END_TEST

START_TEST(due_views_survive_posted)
{
    fs_am_firing_t *set = fs_am_firing_new(MIN_MS);
    fs_am_due_t due[64];
    char name[8];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "f%02d", i);
        apply(set, i % 4, name, 1, i);
    }
    /* Batches of at most 64, oldest first; marking them posted keeps the
     * views valid and empties the due list batch by batch. */
    size_t n = fs_am_firing_due(set, 1000, due, 64);
    ck_assert_uint_eq(n, 64);
    ck_assert_str_eq(due[0].fingerprint, "f00");
    ck_assert_str_eq(due[63].fingerprint, "f63");
    for (size_t i = 0; i < n; i++)
        fs_am_firing_posted(set, due[i].fingerprint, 1000);
    ck_assert_ptr_nonnull(strstr(due[63].element, "\"slice\":\"f63\""));
    n = fs_am_firing_due(set, 1000, due, 64);
    ck_assert_uint_eq(n, 36);
    ck_assert_str_eq(due[0].fingerprint, "f64");
    for (size_t i = 0; i < n; i++)
        fs_am_firing_posted(set, due[i].fingerprint, 1000);
    ck_assert_uint_eq(fs_am_firing_due(set, 1000 + MIN_MS - 1, due, 64), 0);
    ck_assert_uint_eq(fs_am_firing_due(set, 1000 + MIN_MS, due, 64), 64);
    fs_am_firing_free(set);
    fs_am_firing_free(NULL);
}
END_TEST

/* An hour of a forwarder's life, simulated second by second: every firing
 * alert is posted at least once per interval and at most once more than the
 * minimum needed, and never after its resolution. */
START_TEST(resend_schedule_over_an_hour)
{
    const int64_t resend = MIN_MS;
    fs_am_firing_t *set = fs_am_firing_new(resend);
    int64_t last_post[3] = {-1, -1, -1};
    int posts[3] = {0, 0, 0};
    const char *names[3] = {"x", "y", "z"};
    for (int64_t t = 0; t <= 3600000; t += 1000) {
        /* x fires at 0 and resolves at 30 min; y fires at 10 min; z at 50 min. */
        if (t == 0 || t == 600000 || t == 3000000) {
            int k = t == 0 ? 0 : t == 600000 ? 1 : 2;
            apply(set, 0, names[k], 1, t + resend);
            last_post[k] = t;
            posts[k]++;
        }
        if (t == 1800000)
            apply(set, 0, "x", 0, 0);
        fs_am_due_t due[64];
        size_t n = fs_am_firing_due(set, t, due, 64);
        for (size_t i = 0; i < n; i++) {
            int k = due[i].fingerprint[0] - 'x';
            ck_assert_msg(!(k == 0 && t >= 1800000), "x re-posted after it resolved");
            ck_assert_int_eq(t - last_post[k], resend);
            last_post[k] = t;
            posts[k]++;
            fs_am_firing_posted(set, due[i].fingerprint, t);
        }
    }
    /* x: 0..29 min -> 30 posts; y: 10..60 min -> 51; z: 50..60 min -> 11. */
    ck_assert_int_eq(posts[0], 30);
    ck_assert_int_eq(posts[1], 51);
    ck_assert_int_eq(posts[2], 11);
    fs_am_firing_free(set);
}
END_TEST

/* ---- retries and answers ---------------------------------------------------- */

START_TEST(backoff_doubles_to_a_cap)
{
    fs_am_backoff_t b = {0};
    const int64_t expect[] = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        ck_assert_int_eq(fs_am_backoff_fail(&b), expect[i]);
    ck_assert_int_eq(b.failures, 11);
    fs_am_backoff_reset(&b);
    ck_assert_int_eq(b.failures, 0);
    ck_assert_int_eq(fs_am_backoff_fail(&b), 100);
}
END_TEST

static const struct {
    int answered;
    long status;
    fs_am_outcome_t outcome;
} answers[] = {
    {0, 0, FS_AM_RETRY},      {1, 200, FS_AM_POSTED},   {1, 204, FS_AM_POSTED},
    {1, 400, FS_AM_REJECTED}, {1, 413, FS_AM_REJECTED}, {1, 422, FS_AM_REJECTED},
    {1, 429, FS_AM_RETRY},    {1, 408, FS_AM_RETRY},    {1, 404, FS_AM_RETRY},
    {1, 401, FS_AM_RETRY},    {1, 403, FS_AM_RETRY},    {1, 405, FS_AM_RETRY},
    {1, 500, FS_AM_RETRY},    {1, 502, FS_AM_RETRY},    {1, 503, FS_AM_RETRY},
    {1, 301, FS_AM_RETRY},    {1, 100, FS_AM_RETRY},
};

START_TEST(answers_are_classified)
{
    ck_assert_int_eq(fs_am_classify(answers[_i].answered, answers[_i].status), answers[_i].outcome);
}
END_TEST

static const struct {
    const char *url;
    int ok;
} urls[] = {
    {"http://127.0.0.1:9093", 1},
    {"http://127.0.0.1:9093/", 1},
    {"https://am.example.com/alertmanager", 1},
    {"http://[::1]:9093", 1},
    {"127.0.0.1:9093", 0},
    {"ftp://127.0.0.1/", 0},
    {"http://", 0},
    {"http://am:9093/?x=1", 0},
    {"http://am:9093/#top", 0},
    {"", 0},
};

START_TEST(urls_are_checked)
{
    char reason[256] = "";
    ck_assert_msg((fs_am_url_check(urls[_i].url, reason, sizeof reason) == 0) == urls[_i].ok,
                  "%s: %s", urls[_i].url, reason);
}
END_TEST

START_TEST(client_refuses_a_bad_url)
{
    char err[256] = "";
    ck_assert_ptr_null(fs_am_client_new("localhost:9093", 1000, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "http"));
    fs_am_client_t *c = fs_am_client_new("http://127.0.0.1:9/", 1000, err, sizeof err);
    ck_assert_ptr_nonnull(c);
    fs_am_client_free(c);
    fs_am_client_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alertmanager");
    TCase *tc = tcase_create("payload");
    tcase_add_test(tc, firing_message_becomes_alertmanager_object);
    tcase_add_test(tc, resolved_message_carries_ends_at);
    tcase_add_test(tc, escapes_are_copied_unchanged);
    tcase_add_loop_test(tc, broken_messages_are_refused, 0,
                        (int)(sizeof broken / sizeof broken[0]));
    tcase_add_test(tc, deep_nesting_is_refused_not_recursed);
    tcase_add_test(tc, message_need_not_be_nul_terminated);
    tcase_add_test(tc, payload_is_an_array_in_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("firing_set");
    tcase_add_test(tc, firing_alerts_are_reposted_every_interval);
    tcase_add_test(tc, the_same_fingerprint_is_kept_once);
    tcase_add_test(tc, most_overdue_first_and_bounded);
    tcase_add_test(tc, replayed_alerts_wait_for_their_partition);
    tcase_add_test(tc, due_views_survive_posted);
    tcase_add_test(tc, resend_schedule_over_an_hour);
    suite_add_tcase(s, tc);

    tc = tcase_create("retries");
    tcase_add_test(tc, backoff_doubles_to_a_cap);
    tcase_add_loop_test(tc, answers_are_classified, 0, (int)(sizeof answers / sizeof answers[0]));
    tcase_add_loop_test(tc, urls_are_checked, 0, (int)(sizeof urls / sizeof urls[0]));
    tcase_add_test(tc, client_refuses_a_bad_url);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
