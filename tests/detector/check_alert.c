/*
 * check_alert.c: alert messages follow CONTRACT.md section 2; fingerprints
 * are FNV-1a 64 of (alertname, NUL, slice key), checked against values
 * computed independently; the persisted state round-trips.
 */
#include <check.h>
#include <string.h>

#include "detector/alert.h"
#include "detector/json_write.h"

START_TEST(fingerprints_are_stable)
{
    char fp[FS_ALERT_FINGERPRINT_LEN + 1];
    /* Computed outside the project with a plain FNV-1a 64 implementation. */
    fs_alert_fingerprint(FS_SIGNAL_FAILURE_RATIO, "country=BR,platform=android", fp);
    ck_assert_str_eq(fp, "6a8779b8ced2c916");
    fs_alert_fingerprint(FS_SIGNAL_ERROR_COUNT, "", fp);
    ck_assert_str_eq(fp, "5adb7d3517c42a5f");
}
END_TEST

static fs_alert_t sample(int firing)
{
    fs_alert_t a;
    memset(&a, 0, sizeof a);
    a.signal = FS_SIGNAL_FAILURE_RATIO;
    a.firing = firing;
    a.slice = "country=BR,platform=android";
    a.starts_at_ms = 1795001200000; /* 2026-11-18T11:26:40.000Z */
    a.detected_at_ms = 1795001210000;
    a.ends_at_ms = firing ? FS_ALERT_NULL_TIME : 1795001400000;
    a.severity = "warning";
    a.verdict.firing = firing;
    a.verdict.observed = 0.15;
    a.verdict.expected = 0.01;
    a.verdict.window_n = 1000;
    a.verdict.window_x = 150;
    a.verdict.window_seconds = 10;
    a.verdict.score = 1.5;
    a.affected_users = 120;
    a.excess = 140;
    a.traffic_share = 0.02;
    return a;
}

START_TEST(firing_message_has_contract_fields)
{
    char buf[8192];
    fs_alert_t a = sample(1);
    ck_assert_int_gt(fs_alert_format(&a, buf, sizeof buf), 0);
    const char *expect[] = {
        "{\"fingerprint\":\"6a8779b8ced2c916\",\"status\":\"firing\",",
        "\"alertname\":\"PlaybackFailureBurst\"",
        "\"severity\":\"warning\"",
        "\"slice\":{\"country\":\"BR\",\"platform\":\"android\"}",
        "\"startsAt\":\"2026-11-18T11:26:40.000Z\"",
        "\"detectedAt\":\"2026-11-18T11:26:50.000Z\"",
        "\"endsAt\":null",
        "\"labels\":{\"alertname\":\"PlaybackFailureBurst\",\"severity\":\"warning\","
        "\"country\":\"BR\",\"platform\":\"android\"}",
        "\"annotations\":{\"summary\":\"Playback failures 15.0x expected in country=BR, "
        "platform=android\",\"description\":\"",
        "\"evidence\":{\"observed\":0.15,\"expected\":0.01,\"attempts\":1000,\"failures\":150,"
        "\"window_seconds\":10,\"score\":1.5,\"affected_users\":120,\"excess\":140,"
        "\"traffic_share\":0.02}",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        ck_assert_msg(strstr(buf, expect[i]), "missing %s in %s", expect[i], buf);
}
END_TEST

START_TEST(resolved_message_keeps_identity)
{
    char firing[8192], resolved[8192];
    fs_alert_t a = sample(1), r = sample(0);
    fs_alert_format(&a, firing, sizeof firing);
    fs_alert_format(&r, resolved, sizeof resolved);
    ck_assert_ptr_nonnull(strstr(resolved, "\"status\":\"resolved\""));
    ck_assert_ptr_nonnull(strstr(resolved, "\"startsAt\":\"2026-11-18T11:26:40.000Z\""));
    ck_assert_ptr_nonnull(strstr(resolved, "\"endsAt\":\"2026-11-18T11:30:00.000Z\""));
    ck_assert_ptr_nonnull(strstr(resolved, "\"fingerprint\":\"6a8779b8ced2c916\""));
    char id_f[FS_ALERT_ID_LEN + 1], id_r[FS_ALERT_ID_LEN + 1];
    fs_alert_id(&a, id_f);
    fs_alert_id(&r, id_r);
    ck_assert_str_ne(id_f, id_r);
}
END_TEST

START_TEST(all_traffic_and_escapes)
{
    char buf[8192];
    fs_alert_t a = sample(1);
    a.slice = "";
    ck_assert_int_gt(fs_alert_format(&a, buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\"slice\":{}"));
    ck_assert_ptr_nonnull(strstr(buf, "in all traffic"));
    a.slice = "country=a\\,\"b\\=";
    ck_assert_int_gt(fs_alert_format(&a, buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\"slice\":{\"country\":\"a,\\\"b=\"}"));
    a.affected_users = -1;
    ck_assert_int_gt(fs_alert_format(&a, buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "\"affected_users\":null"));
    ck_assert_int_eq(fs_alert_format(&a, buf, 100), -1);
}
END_TEST

START_TEST(state_round_trips)
{
    char state[512];
    fs_alert_t a = sample(1), back;
    ck_assert_int_gt(fs_alert_state_format(&a, state, sizeof state), 0);
    ck_assert_int_eq(fs_alert_state_parse(state, &back), 0);
    ck_assert_int_eq(back.signal, a.signal);
    ck_assert_int_eq(back.starts_at_ms, a.starts_at_ms);
    ck_assert_int_eq(back.detected_at_ms, a.detected_at_ms);
    ck_assert_str_eq(back.severity, "warning");
    ck_assert_str_eq(back.slice, a.slice);
    char bad[] = "7\t1\t2\twarning\tx";
    ck_assert_int_eq(fs_alert_state_parse(bad, &back), -1);
}
END_TEST

START_TEST(json_writer_escapes_controls)
{
    char buf[64];
    fs_jw_t jw;
    fs_jw_init(&jw, buf, sizeof buf);
    fs_jw_open(&jw, '[');
    fs_jw_str(&jw, "a\"\\\n\x01", 5);
    fs_jw_num(&jw, 1.0 / 0.0);
    fs_jw_int(&jw, -5);
    fs_jw_close(&jw, ']');
    ck_assert_int_gt(fs_jw_finish(&jw), 0);
    ck_assert_str_eq(buf, "[\"a\\\"\\\\\\n\\u0001\",null,-5]");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alert");
    TCase *tc = tcase_create("messages");
    tcase_add_test(tc, fingerprints_are_stable);
    tcase_add_test(tc, firing_message_has_contract_fields);
    tcase_add_test(tc, resolved_message_keeps_identity);
    tcase_add_test(tc, all_traffic_and_escapes);
    tcase_add_test(tc, state_round_trips);
    tcase_add_test(tc, json_writer_escapes_controls);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
