/*
 * kafka_conf.c: kafka.* passthrough into librdkafka (see kafka_conf.h).
 */
#include "detector/kafka_conf.h"

rd_kafka_conf_t *fs_kafka_conf_new(const fs_config_t *cfg, fs_config_diag_t *diag)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int problems = 0;
    char errstr[512];
    if (!conf) {
        fs_config_origin_t none = {NULL, 0};
        fs_config_diag_add(diag, none, "kafka", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        const fs_kafka_prop_t *kp = &cfg->kafka[i];
        if (rd_kafka_conf_set(conf, kp->name, kp->value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            char key[300];
            snprintf(key, sizeof key, "kafka.%s", kp->name);
            fs_config_diag_add(diag, kp->origin, key, "rejected by librdkafka: %s", errstr);
            problems++;
        }
    }
    if (problems) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}
