/*
 * check_kafka_conf.c: kafka.* properties go to librdkafka unchanged, and a
 * property it rejects is reported with its origin and librdkafka's message.
 */
#include <check.h>
#include <string.h>

#include "config/config.h"
#include "detector/kafka_conf.h"

START_TEST(accepted_properties_reach_librdkafka)
{
    fs_config_t *cfg = fs_config_new();
    fs_config_diag_t diag = {0};
    ck_assert_int_eq(fs_config_override(cfg, "kafka.client.id=fs-test", 1, &diag), 0);
    ck_assert_int_eq(fs_config_override(cfg, "kafka.bootstrap.servers=127.0.0.1:1", 2, &diag), 0);
    rd_kafka_conf_t *conf = fs_kafka_conf_new(cfg, &diag);
    ck_assert_ptr_nonnull(conf);
    ck_assert_uint_eq(diag.n, 0);
    char value[128];
    size_t size = sizeof value;
    ck_assert_int_eq(rd_kafka_conf_get(conf, "client.id", value, &size), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(value, "fs-test");
    size = sizeof value;
    ck_assert_int_eq(rd_kafka_conf_get(conf, "group.id", value, &size), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(value, "foreshock");
    size = sizeof value;
    ck_assert_int_eq(rd_kafka_conf_get(conf, "bootstrap.servers", value, &size),
                     RD_KAFKA_CONF_OK);
    ck_assert_str_eq(value, "127.0.0.1:1");
    rd_kafka_conf_destroy(conf);
    fs_config_free(cfg);
}
END_TEST

START_TEST(rejected_properties_are_each_reported)
{
    fs_config_t *cfg = fs_config_new();
    fs_config_diag_t diag = {0};
    ck_assert_int_eq(fs_config_override(cfg, "kafka.no.such.property=1", 1, &diag), 0);
    ck_assert_int_eq(fs_config_override(cfg, "kafka.acks=sometimes", 2, &diag), 0);
    ck_assert_ptr_null(fs_kafka_conf_new(cfg, &diag));
    ck_assert_uint_eq(diag.n, 2);
    ck_assert_str_eq(diag.messages[0], "-X:1: kafka.no.such.property: rejected by librdkafka: "
                                       "No such configuration property: \"no.such.property\"");
    ck_assert_msg(strncmp(diag.messages[1], "-X:2: kafka.acks: rejected by librdkafka: ", 42) == 0,
                  "%s", diag.messages[1]);
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_conf");
    TCase *tc = tcase_create("passthrough");
    tcase_add_test(tc, accepted_properties_reach_librdkafka);
    tcase_add_test(tc, rejected_properties_are_each_reported);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
