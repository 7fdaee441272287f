/*
 * kafka_conf.h: turns the `kafka.*` configuration keys into a librdkafka
 * configuration, reporting every property librdkafka rejects with the
 * file and line it came from and librdkafka's own message.
 */
#ifndef FS_DETECTOR_KAFKA_CONF_H
#define FS_DETECTOR_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "config/config.h"

/*
 * A new rd_kafka_conf_t with every kafka.* property of cfg (cfg is borrowed).
 * Returns NULL when any property is rejected or memory runs out; each problem
 * is appended to diag. The caller owns the result: hand it to rd_kafka_new or
 * destroy it with rd_kafka_conf_destroy.
 */
rd_kafka_conf_t *fs_kafka_conf_new(const fs_config_t *cfg, fs_config_diag_t *diag);

#endif
