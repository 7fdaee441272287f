/*
 * keys.c: the table of every configuration key (see keys.h).
 *
 * To add a key: add a field to fs_config_t, a row here, then regenerate the
 * documentation with `cmake --build build --target config-docs`.
 */
#include "config/keys.h"

#include <string.h>

#include "config/config.h"

#define FIELD(f) offsetof(fs_config_t, f)
#define NO_RANGE 1, 0

static const char *const store_choices[] = {"redis", "memory", NULL};
static const char *const log_format_choices[] = {"logfmt", "json", NULL};
static const char *const log_level_choices[] = {"debug", "info", "warn", "error", NULL};

const fs_key_t fs_config_keys[] = {
    {"topics.playback", FS_KEY_STRING, "playback-events", NO_RANGE, NULL, NULL,
     FIELD(topics_playback), "Kafka topic of playback events (one attempt each, ok or failed)."},
    {"topics.errors", FS_KEY_STRING, "error-events", NO_RANGE, NULL, NULL, FIELD(topics_errors),
     "Kafka topic of error events (one error with a code each)."},
    {"topics.alerts", FS_KEY_STRING, "foreshock-alerts", NO_RANGE, NULL, NULL,
     FIELD(topics_alerts), "Kafka topic the alerts are published to, keyed by fingerprint."},
    {"topics.deadletter", FS_KEY_STRING, "foreshock-deadletter", NO_RANGE, NULL, NULL,
     FIELD(topics_deadletter),
     "Kafka topic that receives invalid input messages unchanged, with the headers "
     "foreshock-error (the reason) and foreshock-source (topic/partition/offset)."},
    {"redis.address", FS_KEY_ADDRESS, "127.0.0.1:6379", NO_RANGE, NULL, NULL,
     FIELD(redis_address), "Redis server as HOST:PORT, or the absolute path of a Unix socket."},
    {"redis.prefix", FS_KEY_STRING, "fs:", NO_RANGE, NULL, NULL, FIELD(redis_prefix),
     "Prefix of every Redis key foreshock writes, so several deployments can share one "
     "Redis."},
    {"redis.user", FS_KEY_STRING, "", NO_RANGE, NULL, NULL, FIELD(redis_user),
     "User for Redis AUTH (Redis 6 ACLs); empty for the default user."},
    {"redis.password", FS_KEY_STRING, "", NO_RANGE, NULL, NULL, FIELD(redis_password),
     "Password for Redis AUTH; empty for none. The environment variable "
     "FORESHOCK_REDIS_PASSWORD is used when this is empty, so the secret need not be in the "
     "file. Never printed (--dump-config shows <redacted>)."},
    {"redis.timeout", FS_KEY_DURATION, "2s", 10, 600000, "ms", NULL, FIELD(redis_timeout_ms),
     "Time to wait for Redis to connect or answer before the attempt counts as failed and is "
     "retried with backoff."},
    {"redis.retention", FS_KEY_DURATION, "2h", 60000, 30LL * 86400000, "ms", NULL,
     FIELD(redis_retention_ms),
     "How long Redis keeps per-bucket counters and user HyperLogLogs (their TTL). Must "
     "cover the longest window a model or a restart reads back."},
    {"dimensions", FS_KEY_LIST, "country,platform,app_version,cdn", NO_RANGE, NULL, NULL,
     FIELD(dimensions),
     "Event fields used as dimensions. Each event counts in all traffic and in the slice of "
     "each dimension's value; a missing field counts as \"unknown\"."},
    {"slices.pairs", FS_KEY_LIST, "country+platform,country+cdn,platform+app_version", NO_RANGE,
     NULL, NULL, FIELD(slices_pairs),
     "Pairs of dimensions that get slices of their own, written `a+b`; both must be in "
     "`dimensions`. An event counts in the slice of each pair's two values."},
    {"slices.error_codes", FS_KEY_BOOL, "true", NO_RANGE, NULL, NULL, FIELD(slices_error_codes),
     "Count error events per error `code` as well (slices `code=...`), so a storm of one code "
     "is seen even when the overall error count hides it."},
    {"slices.max", FS_KEY_INT, "100000", 16, 10000000, NULL, NULL, FIELD(slices_max),
     "Most slices kept at once. Events of slices beyond the bound still count in all "
     "traffic and in the slices that exist; the overflow is counted in the status line and "
     "metrics. Memory grows with live slices, not with traffic."},
    {"slices.idle", FS_KEY_DURATION, "1h", 60000, 7LL * 86400000, "ms", NULL, FIELD(slices_idle_ms),
     "A slice with no event for this long (event time) and no open alert is forgotten, "
     "freeing its place for new slices."},
    {"window.bucket", FS_KEY_DURATION, "1s", 100, 60000, "ms", NULL, FIELD(window_bucket_ms),
     "Width of one event-time bucket: the resolution of counters, evaluation and alert "
     "times."},
    {"window.flush_interval", FS_KEY_DURATION, "1s", 10, 60000, "ms", NULL,
     FIELD(window_flush_ms),
     "How often aggregated counters, offsets and alert decisions are written to the store as "
     "one atomic batch. Shorter means less to replay after a crash and more round trips."},
    {"window.flush_events", FS_KEY_INT, "200000", 100, 100000000, NULL, NULL,
     FIELD(window_flush_events),
     "Most events one batch carries. A batch that reaches it goes to the store as soon as the "
     "previous one has landed, and until then no more events are taken, so one Redis call "
     "(which holds Redis while it runs: 100-400 ms for 200,000 events on a 2-core machine) "
     "stays bounded while a backlog is caught up on."},
    {"window.lateness", FS_KEY_DURATION, "5s", 0, 600000, "ms", NULL, FIELD(window_lateness_ms),
     "Allowed lateness: a bucket closes (and is evaluated) once every active partition has "
     "seen an event this much newer than its end. Later events are counted as late and not "
     "applied."},
    {"window.horizon", FS_KEY_DURATION, "60s", 1000, 3600000, "ms", NULL,
     FIELD(window_horizon_ms),
     "Most event time held open at once (memory: horizon/bucket buckets per slice). A "
     "partition whose next event lies beyond it waits, paused, until the slower partitions "
     "catch up, so catching up on a backlog loses nothing; only the slowest partition "
     "jumping further ahead than this closes older buckets early."},
    {"window.future_skew", FS_KEY_DURATION, "2m", 0, 86400000, "ms", NULL,
     FIELD(window_future_skew_ms),
     "Events stamped more than this ahead of the wall clock (client clock skew) are counted "
     "and not applied, so one bad clock cannot close every window."},
    {"window.idle_timeout", FS_KEY_DURATION, "10s", 100, 3600000, "ms", NULL,
     FIELD(window_idle_ms),
     "A partition that delivers nothing for this long (wall clock) stops holding the "
     "watermark back; an empty partition never holds it. Paused consumption (Redis "
     "unavailable) does not count as silence."},
    {"detect.false_alarms_per_day", FS_KEY_DOUBLE, "1", NO_RANGE, NULL, NULL,
     FIELD(detect_false_alarms_per_day),
     "Accepted false alarms per day across all slices and signals (a positive number). The "
     "sequential tests derive their thresholds from it and from the number of live slices."},
    {"detect.min_excess", FS_KEY_INT, "20", 1, 1000000000, NULL, NULL, FIELD(detect_min_excess),
     "Smallest impact worth paging: the excess failures or errors (observed minus expected) "
     "in the deciding window, or for volume drops the missing attempts."},
    {"detect.baseline_halflife", FS_KEY_DURATION, "30m", 1000, 30LL * 86400000, "ms", NULL,
     FIELD(detect_halflife_ms),
     "Memory of the baselines: the age at which a past bucket weighs half as much as a new "
     "one."},
    {"detect.warmup", FS_KEY_DURATION, "5m", 0, 86400000, "ms", NULL, FIELD(detect_warmup_ms),
     "History a slice needs before it may alert (a cold start learns before it judges)."},
    {"localize.share", FS_KEY_DOUBLE, "0.8", NO_RANGE, NULL, NULL, FIELD(localize_share),
     "Share (0 to 1] of a slice's excess that more specific firing slices must explain for "
     "the alert to name them instead (one alert per incident: see README, Localization)."},
    {"severity.critical_users", FS_KEY_INT, "1000", 1, 1000000000, NULL, NULL,
     FIELD(severity_critical_users),
     "An alert is critical when at least this many distinct users had a failure or error in "
     "its slice since the incident began..."},
    {"severity.critical_share", FS_KEY_DOUBLE, "0.05", NO_RANGE, NULL, NULL,
     FIELD(severity_critical_share),
     "...or when its slice carries at least this share (0 to 1] of all playback attempts."},
    {"severity.warning_users", FS_KEY_INT, "20", 1, 1000000000, NULL, NULL,
     FIELD(severity_warning_users),
     "Below critical, an alert is a warning from this many affected users on (or when the "
     "count is unknown), and info below it."},
    {"detect.snapshot_interval", FS_KEY_DURATION, "1m", 1000, 86400000, "ms", NULL,
     FIELD(detect_snapshot_ms),
     "How often (event time) the models' warm state is written to the store, in the same "
     "atomic batch as the counters. After a restart the models resume from the snapshot and "
     "catch up on the buckets closed since from the stored counters, so they neither relearn "
     "from zero nor miss what happened in between."},
    {"detect.snapshot_chunk", FS_KEY_INT, "4096", 1, 1000000, NULL, NULL,
     FIELD(detect_snapshot_chunk),
     "Most slices whose warm state one batch carries. A snapshot of more live slices is "
     "frozen when it is taken and written over consecutive batches, one Redis call each (about "
     "3.6 KB per slice, so 4096 slices make a call of about 15 MB, well inside Redis' 1 GB "
     "query buffer); it becomes the restart point when its last part lands, and the next "
     "snapshot starts after that."},
    {"log.format", FS_KEY_ENUM, "logfmt", NO_RANGE, NULL, log_format_choices, FIELD(log_format),
     "Log lines on stderr as logfmt (`time=... level=info event=status key=value`) or as one "
     "JSON object per line with the same fields."},
    {"log.level", FS_KEY_ENUM, "info", NO_RANGE, NULL, log_level_choices, FIELD(log_level),
     "Least important log lines written; librdkafka's own messages are routed through the same "
     "log."},
    {"log.status_interval", FS_KEY_DURATION, "10s", 1000, 3600000, "ms", NULL,
     FIELD(log_status_ms), "How often the status line is logged."},
    {"metrics.enabled", FS_KEY_BOOL, "true", NO_RANGE, NULL, NULL, FIELD(metrics_enabled),
     "Serve the monitoring endpoint on `metrics.address`: `/metrics` (Prometheus text "
     "format), `/healthz` and `/readyz`. A port that cannot be listened on stops startup."},
    {"metrics.address", FS_KEY_ADDRESS, "127.0.0.1:9464", NO_RANGE, NULL, NULL,
     FIELD(metrics_address),
     "Where the monitoring endpoint listens, as HOST:PORT (`0.0.0.0:9464` for every IPv4 "
     "interface, `[::1]:9464` for IPv6). A Unix socket path is not supported."},
    {"store", FS_KEY_ENUM, "redis", NO_RANGE, NULL, store_choices, FIELD(store),
     "Where window state lives: `redis` (durable, shared, exactly-once) or `memory` (one "
     "process, nothing kept). `foreshock-bench replay` defaults to `memory`."},
    {"alertmanager.url", FS_KEY_STRING, "http://127.0.0.1:9093", NO_RANGE, NULL, NULL,
     FIELD(alertmanager_url),
     "foreshock-alertmanager: base URL of Prometheus Alertmanager (http or https); alerts "
     "are posted to its /api/v2/alerts."},
    {"alertmanager.resend_interval", FS_KEY_DURATION, "1m", 1000, 3600000, "ms", NULL,
     FIELD(alertmanager_resend_ms),
     "foreshock-alertmanager: how often each firing alert is posted again. Alertmanager "
     "resolves an alert by itself resolve_timeout (default 5m) after its last post, so keep "
     "this well below it."},
    {"alertmanager.timeout", FS_KEY_DURATION, "10s", 100, 300000, "ms", NULL,
     FIELD(alertmanager_timeout_ms),
     "foreshock-alertmanager: time allowed for one POST (connecting included) before it "
     "counts as failed and is retried with backoff."},
    {"alertmanager.group_id", FS_KEY_STRING, "foreshock-alertmanager", NO_RANGE, NULL, NULL,
     FIELD(alertmanager_group_id),
     "foreshock-alertmanager: its Kafka consumer group on topics.alerts (it does not use "
     "kafka.group.id, the detector's group). Offsets are committed here only after "
     "everything up to them was posted."},
};

const size_t fs_config_n_keys = sizeof fs_config_keys / sizeof fs_config_keys[0];

const fs_kafka_default_t fs_kafka_defaults[] = {
    {"bootstrap.servers", "127.0.0.1:9092", "a broker on this host"},
    {"group.id", "foreshock", "the consumer group all foreshock instances of a deployment share"},
};

const size_t fs_kafka_n_defaults = sizeof fs_kafka_defaults / sizeof fs_kafka_defaults[0];

const fs_key_t *fs_config_key_find(const char *name)
{
    for (size_t i = 0; i < fs_config_n_keys; i++)
        if (strcmp(fs_config_keys[i].name, name) == 0)
            return &fs_config_keys[i];
    return NULL;
}

const char *fs_key_type_name(fs_key_type_t type)
{
    switch (type) {
    case FS_KEY_STRING:
        return "string";
    case FS_KEY_INT:
        return "integer";
    case FS_KEY_DURATION:
        return "duration";
    case FS_KEY_BOOL:
        return "boolean";
    case FS_KEY_ENUM:
        return "enum";
    case FS_KEY_LIST:
        return "list";
    case FS_KEY_ADDRESS:
        return "address";
    case FS_KEY_DOUBLE:
        return "number";
    }
    return "?";
}
