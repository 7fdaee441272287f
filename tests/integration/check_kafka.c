/*
 * Integration suite for Kafka through librdkafka, against the real broker in
 * FORESHOCK_TEST_KAFKA. It proves what the detector's consumer relies on:
 * topics created with the admin API, an idempotent producer whose every
 * delivery succeeds exactly once and in order, a consumer group that reads
 * each message once and commits synchronously, and a later member of the same
 * group that resumes at the committed offsets. Every wait is bounded by a
 * deadline, so a broken broker fails the suite instead of hanging it.
 */
#include "tests/integration/services.h"

#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    FIRST_BATCH = 1000, /* messages before the first commit */
    SECOND_BATCH = 250, /* messages the resuming consumer must read, and only they */
    TOTAL = FIRST_BATCH + SECOND_BATCH,
    PARTITIONS = 2,
};

#define ADMIN_TIMEOUT_MS     20000
#define METADATA_TIMEOUT_MS  30000
#define FLUSH_TIMEOUT_MS     30000
#define CONSUME_TIMEOUT_MS   45000
#define COMMITTED_TIMEOUT_MS 10000
#define DESTROY_TIMEOUT_MS   10000
#define CASE_TIMEOUT_S       180

/* The broker list from FORESHOCK_TEST_KAFKA, set by main() before any test. */
static const char *brokers;

/* What the delivery report said about one message. */
typedef struct {
    int reports; /* delivery reports received for it: must end up exactly 1 */
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
} delivery_t;

/* Delivery reports of the producer, indexed by message number (its opaque). */
typedef struct {
    delivery_t msg[TOTAL];
    int reports;
    int unknown; /* reports whose opaque was no message number of ours */
} deliveries_t;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Message i has key "key-<i>" and a payload derived from i alone, so a
 * consumer can check each message against numbers it computes itself. */
static int key_of(int i, char *buf, size_t size)
{
    return snprintf(buf, size, "key-%d", i);
}

static int payload_of(int i, char *buf, size_t size)
{
    return snprintf(buf, size, "payload-%d-%08x", i, (unsigned)i * 2654435761u);
}

/* Returns the message number in a key "key-<i>", or -1 for any other key. */
static int index_of(const rd_kafka_message_t *rkmessage)
{
    char expect[32];
    int i = 0;
    size_t k;
    const char *key = rkmessage->key;

    if (key == NULL || rkmessage->key_len <= 4 || rkmessage->key_len > 12 ||
        memcmp(key, "key-", 4) != 0)
        return -1;
    for (k = 4; k < rkmessage->key_len; k++) {
        if (key[k] < '0' || key[k] > '9')
            return -1;
        i = i * 10 + (key[k] - '0');
    }
    /* Reject leading zeros and the like: the key must be exactly key_of(i). */
    if ((size_t)key_of(i, expect, sizeof expect) != rkmessage->key_len ||
        memcmp(expect, key, rkmessage->key_len) != 0)
        return -1;
    return i;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkmessage, void *opaque)
{
    deliveries_t *dr = opaque;
    intptr_t i = (intptr_t)rkmessage->_private;

    (void)rk;
    /* This runs inside rd_kafka_poll/flush on the test's thread; it only
     * records, and the test asserts on the records afterwards. */
    dr->reports++;
    if (i < 0 || i >= TOTAL) {
        dr->unknown++;
        return;
    }
    dr->msg[i].reports++;
    dr->msg[i].err = rkmessage->err;
    dr->msg[i].partition = rkmessage->partition;
    dr->msg[i].offset = rkmessage->offset;
}

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];

    ck_assert_msg(rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK,
                  "%s=%s: %s", name, value, errstr);
}

/* Creates a client from conf (taken: owned by the handle on success, destroyed
 * here on failure). */
static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk;

    rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (rk == NULL)
        rd_kafka_conf_destroy(conf);
    conf = NULL;
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", errstr);
    return rk;
}

/* An idempotent producer whose delivery reports go to dr (borrowed; must
 * outlive the handle). Also used as the admin client. */
static rd_kafka_t *new_producer(deliveries_t *dr)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "client.id", "foreshock-itest-producer");
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "acks", "all");
    conf_set(conf, "linger.ms", "5");
    conf_set(conf, "message.timeout.ms", "25000");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, dr);
    return new_client(RD_KAFKA_PRODUCER, conf);
}

/* A consumer in group, subscribed to topic, that starts at the earliest offset
 * when the group has none and commits only when told to. */
static rd_kafka_t *new_consumer(const char *group, const char *topic)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *subscription;
    rd_kafka_resp_err_t err;
    rd_kafka_t *rk;

    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "client.id", "foreshock-itest-consumer");
    conf_set(conf, "group.id", group);
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "auto.offset.reset", "earliest");
    /* End-of-partition events tell the test it has read everything there is,
     * so "nothing else arrives" is checked without waiting out a timeout. */
    conf_set(conf, "enable.partition.eof", "true");
    rk = new_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);

    subscription = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subscription, topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, subscription);
    rd_kafka_topic_partition_list_destroy(subscription);
    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "subscribe %s: %s", topic,
                  rd_kafka_err2str(err));
    return rk;
}

static void close_consumer(rd_kafka_t *rk)
{
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk);

    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "consumer_close: %s", rd_kafka_err2str(err));
    rd_kafka_destroy(rk);
}

/* Waits for the result of an admin request on rkqu (borrowed) and returns the
 * event (the caller destroys it). */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *rkqu, int type, const char *what)
{
    rd_kafka_event_t *rkev;

    /* The request itself gives up after ADMIN_TIMEOUT_MS; the margin only
     * lets its timeout result arrive. */
    rkev = rd_kafka_queue_poll(rkqu, ADMIN_TIMEOUT_MS + 5000);
    ck_assert_msg(rkev != NULL, "%s: no result within %d ms", what, ADMIN_TIMEOUT_MS + 5000);
    ck_assert_int_eq(rd_kafka_event_type(rkev), type);
    ck_assert_msg(rd_kafka_event_error(rkev) == RD_KAFKA_RESP_ERR_NO_ERROR, "%s on %s: %s", what,
                  brokers, rd_kafka_event_error_string(rkev));
    return rkev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    char errstr[512];
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(rk, op);

    ck_assert_ptr_nonnull(options);
    ck_assert_msg(rd_kafka_AdminOptions_set_request_timeout(options, ADMIN_TIMEOUT_MS, errstr,
                                                            sizeof errstr) == 0,
                  "request_timeout: %s", errstr);
    ck_assert_msg(rd_kafka_AdminOptions_set_operation_timeout(options, ADMIN_TIMEOUT_MS, errstr,
                                                              sizeof errstr) == 0,
                  "operation_timeout: %s", errstr);
    return options;
}

/* Creates topic with the given partitions (replication factor 1). Returns the
 * topic's result: NO_ERROR or TOPIC_ALREADY_EXISTS, both success; any other
 * result fails the test. */
static rd_kafka_resp_err_t create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    char errstr[512];
    rd_kafka_NewTopic_t *newt;
    rd_kafka_AdminOptions_t *options;
    rd_kafka_queue_t *rkqu;
    rd_kafka_event_t *rkev;
    const rd_kafka_topic_result_t **results;
    size_t cnt;
    rd_kafka_resp_err_t err;

    newt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof errstr);
    ck_assert_msg(newt != NULL, "NewTopic %s: %s", topic, errstr);
    options = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rkqu = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &newt, 1, options, rkqu);
    /* The request keeps its own copies of the topic and the options. */
    rd_kafka_NewTopic_destroy(newt);
    rd_kafka_AdminOptions_destroy(options);

    rkev = admin_result(rkqu, RD_KAFKA_EVENT_CREATETOPICS_RESULT, "CreateTopics");
    results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(rkev), &cnt);
    ck_assert_uint_eq(cnt, 1);
    ck_assert_str_eq(rd_kafka_topic_result_name(results[0]), topic);
    err = rd_kafka_topic_result_error(results[0]);
    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR ||
                      err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
                  "CreateTopics %s: %s: %s", topic, rd_kafka_err2name(err),
                  rd_kafka_topic_result_error_string(results[0]));
    rd_kafka_event_destroy(rkev);
    rd_kafka_queue_destroy(rkqu);
    return err;
}

static void delete_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_DeleteTopic_t *delt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_AdminOptions_t *options = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_queue_t *rkqu = rd_kafka_queue_new(rk);
    rd_kafka_event_t *rkev;
    const rd_kafka_topic_result_t **results;
    size_t cnt;

    rd_kafka_DeleteTopics(rk, &delt, 1, options, rkqu);
    rd_kafka_DeleteTopic_destroy(delt);
    rd_kafka_AdminOptions_destroy(options);

    rkev = admin_result(rkqu, RD_KAFKA_EVENT_DELETETOPICS_RESULT, "DeleteTopics");
    results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(rkev), &cnt);
    ck_assert_uint_eq(cnt, 1);
    ck_assert_msg(rd_kafka_topic_result_error(results[0]) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  "DeleteTopics %s: %s", topic, rd_kafka_topic_result_error_string(results[0]));
    rd_kafka_event_destroy(rkev);
    rd_kafka_queue_destroy(rkqu);
}

/* Returns 1 when md shows topic with exactly `partitions` partitions 0..n-1,
 * each with a leader; otherwise 0 and the reason in why. */
static int topic_ready(const struct rd_kafka_metadata *md, const char *topic, int partitions,
                       char *why, size_t size)
{
    int t, p;

    for (t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        int ids = 0;

        if (strcmp(mt->topic, topic) != 0)
            continue;
        if (mt->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(why, size, "topic error %s", rd_kafka_err2name(mt->err));
            return 0;
        }
        if (mt->partition_cnt != partitions) {
            snprintf(why, size, "%d partitions, want %d", mt->partition_cnt, partitions);
            return 0;
        }
        for (p = 0; p < mt->partition_cnt; p++) {
            const rd_kafka_metadata_partition_t *mp = &mt->partitions[p];

            if (mp->err != RD_KAFKA_RESP_ERR_NO_ERROR || mp->leader < 0 || mp->id < 0 ||
                mp->id >= partitions) {
                snprintf(why, size, "partition %d: %s, leader %d", (int)mp->id,
                         rd_kafka_err2name(mp->err), (int)mp->leader);
                return 0;
            }
            ids |= 1 << mp->id;
        }
        if (ids != (1 << partitions) - 1) {
            snprintf(why, size, "partition ids are not 0..%d", partitions - 1);
            return 0;
        }
        return 1;
    }
    snprintf(why, size, "topic not in metadata");
    return 0;
}

/* Polls the cluster's metadata until topic shows all its partitions with
 * leaders, or fails after METADATA_TIMEOUT_MS. */
static void wait_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
    int64_t deadline = now_ms() + METADATA_TIMEOUT_MS;
    char why[256] = "no metadata received";

    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - now_ms();
        rd_kafka_resp_err_t err;
        int ready;

        ck_assert_msg(left > 0, "topic %s not ready within %d ms: %s", topic, METADATA_TIMEOUT_MS,
                      why);
        /* All topics rather than one topic object: asking for a single topic
         * by name may auto-create it and hide a failed CreateTopics. */
        err = rd_kafka_metadata(rk, 1, NULL, &md, left < 5000 ? (int)left : 5000);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(why, sizeof why, "metadata: %s", rd_kafka_err2str(err));
            continue;
        }
        ready = topic_ready(md, topic, partitions, why, sizeof why);
        rd_kafka_metadata_destroy(md);
        if (ready)
            return;
        sleep_ms(100);
    }
}

/* Produces messages first..first+count-1 to topic and flushes; fails if any
 * cannot be enqueued or the flush does not finish in time. */
static void produce_range(rd_kafka_t *rk, const char *topic, int first, int count)
{
    int64_t deadline = now_ms() + FLUSH_TIMEOUT_MS;
    rd_kafka_resp_err_t err;
    int i;

    for (i = first; i < first + count; i++) {
        char key[32], payload[64];
        int keylen = key_of(i, key, sizeof key);
        int len = payload_of(i, payload, sizeof payload);

        for (;;) {
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                    RD_KAFKA_V_VALUE(payload, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_ms() >= deadline)
                break;
            /* A full queue drains as deliveries complete. */
            rd_kafka_poll(rk, 100);
        }
        ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "produce message %d: %s", i,
                      rd_kafka_err2str(err));
        rd_kafka_poll(rk, 0);
    }
    err = rd_kafka_flush(rk, FLUSH_TIMEOUT_MS);
    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "flush: %s, %d messages still queued",
                  rd_kafka_err2str(err), rd_kafka_outq_len(rk));
    ck_assert_int_eq(rd_kafka_outq_len(rk), 0);
}

/* Checks that messages first..first+count-1 each had exactly one successful
 * delivery report, and that in each partition they got consecutive offsets
 * starting at next[p], in the order produced (no gap, no duplicate: what
 * idempotence promises). On return next[p] is the partition's end offset. */
static void check_deliveries(rd_kafka_t *rk, const deliveries_t *dr, int first, int count,
                             int64_t next[PARTITIONS])
{
    char errstr[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, errstr, sizeof errstr);
    int i;

    ck_assert_msg(fatal == RD_KAFKA_RESP_ERR_NO_ERROR, "producer fatal error: %s", errstr);
    ck_assert_int_eq(dr->unknown, 0);
    ck_assert_int_eq(dr->reports, first + count);
    for (i = first; i < first + count; i++) {
        const delivery_t *d = &dr->msg[i];

        ck_assert_msg(d->reports == 1, "message %d: %d delivery reports", i, d->reports);
        ck_assert_msg(d->err == RD_KAFKA_RESP_ERR_NO_ERROR, "message %d: %s", i,
                      rd_kafka_err2str(d->err));
        ck_assert_msg(d->partition >= 0 && d->partition < PARTITIONS, "message %d: partition %d", i,
                      (int)d->partition);
        ck_assert_msg(d->offset == next[d->partition],
                      "message %d: partition %d offset %lld, want %lld", i, (int)d->partition,
                      (long long)d->offset, (long long)next[d->partition]);
        next[d->partition]++;
    }
}

/* Consumes until messages first..first+count-1 have each arrived once, with
 * the key, payload, partition and offset they were produced with, and every
 * partition has reported its end. Any other message fails the test. */
static void consume_range(rd_kafka_t *rk, const deliveries_t *dr, int first, int count)
{
    int64_t deadline = now_ms() + CONSUME_TIMEOUT_MS;
    int seen[TOTAL] = {0};
    int at_end[PARTITIONS] = {0};
    int received = 0, ends = 0;

    while (received < count || ends < PARTITIONS) {
        rd_kafka_message_t *rkmessage;
        char payload[64];
        int i, len;

        ck_assert_msg(now_ms() < deadline,
                      "after %d ms: %d of %d messages, %d of %d partitions at their end",
                      CONSUME_TIMEOUT_MS, received, count, ends, PARTITIONS);
        rkmessage = rd_kafka_consumer_poll(rk, 200);
        if (rkmessage == NULL)
            continue;
        if (rkmessage->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            ck_assert_msg(rkmessage->partition >= 0 && rkmessage->partition < PARTITIONS,
                          "end of unknown partition %d", (int)rkmessage->partition);
            if (!at_end[rkmessage->partition]) {
                at_end[rkmessage->partition] = 1;
                ends++;
            }
            rd_kafka_message_destroy(rkmessage);
            continue;
        }
        ck_assert_msg(rkmessage->err == RD_KAFKA_RESP_ERR_NO_ERROR, "consume: %s",
                      rd_kafka_message_errstr(rkmessage));

        i = index_of(rkmessage);
        ck_assert_msg(i >= first && i < first + count,
                      "message %d (partition %d offset %lld) is outside [%d, %d)", i,
                      (int)rkmessage->partition, (long long)rkmessage->offset, first,
                      first + count);
        ck_assert_msg(!seen[i], "message %d arrived twice (offset %lld)", i,
                      (long long)rkmessage->offset);
        len = payload_of(i, payload, sizeof payload);
        ck_assert_msg(rkmessage->len == (size_t)len &&
                          memcmp(rkmessage->payload, payload, (size_t)len) == 0,
                      "message %d: wrong payload", i);
        ck_assert_msg(rkmessage->partition == dr->msg[i].partition &&
                          rkmessage->offset == dr->msg[i].offset,
                      "message %d at partition %d offset %lld, produced to %d at %lld", i,
                      (int)rkmessage->partition, (long long)rkmessage->offset,
                      (int)dr->msg[i].partition, (long long)dr->msg[i].offset);
        /* A message after its partition's end would be one nobody produced. */
        ck_assert_msg(!at_end[rkmessage->partition], "message %d after end of partition %d", i,
                      (int)rkmessage->partition);
        seen[i] = 1;
        received++;
        rd_kafka_message_destroy(rkmessage);
    }
}

static void commit_sync(rd_kafka_t *rk)
{
    /* NULL commits the offsets of the current assignment: one past the last
     * message handed to the application in each partition. */
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);

    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "commit: %s", rd_kafka_err2str(err));
}

/* Asks the group coordinator for the group's committed offsets of topic and
 * compares them with want[p]. */
static void check_committed(rd_kafka_t *rk, const char *topic, const int64_t want[PARTITIONS])
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    rd_kafka_resp_err_t err;
    int p;

    for (p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    err = rd_kafka_committed(rk, parts, COMMITTED_TIMEOUT_MS);
    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "committed: %s", rd_kafka_err2str(err));
    for (p = 0; p < PARTITIONS; p++) {
        const rd_kafka_topic_partition_t *rktpar =
            rd_kafka_topic_partition_list_find(parts, topic, p);

        ck_assert_ptr_nonnull(rktpar);
        ck_assert_msg(rktpar->err == RD_KAFKA_RESP_ERR_NO_ERROR, "committed partition %d: %s", p,
                      rd_kafka_err2str(rktpar->err));
        ck_assert_msg(rktpar->offset == want[p], "partition %d committed %lld, want %lld", p,
                      (long long)rktpar->offset, (long long)want[p]);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

static void unique_name(char *buf, size_t size, const char *prefix)
{
    ck_assert_int_eq(fs_test_unique_name(buf, size, prefix), 0);
}

START_TEST(test_create_topic_twice)
{
    deliveries_t *dr = calloc(1, sizeof *dr);
    char topic[128];
    rd_kafka_t *rk;

    ck_assert_ptr_nonnull(dr);
    unique_name(topic, sizeof topic, "foreshock-itest-create");
    rk = new_producer(dr);
    ck_assert_int_eq(create_topic(rk, topic, PARTITIONS), RD_KAFKA_RESP_ERR_NO_ERROR);
    wait_topic(rk, topic, PARTITIONS);
    /* A second create reports the topic exists, which callers treat as done,
     * and leaves the partitions as they were. */
    ck_assert_int_eq(create_topic(rk, topic, PARTITIONS), RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    wait_topic(rk, topic, PARTITIONS);
    delete_topic(rk, topic);
    rd_kafka_destroy(rk);
    free(dr);
    ck_assert_int_eq(rd_kafka_wait_destroyed(DESTROY_TIMEOUT_MS), 0);
}
END_TEST

START_TEST(test_group_commit_and_resume)
{
    deliveries_t *dr = calloc(1, sizeof *dr);
    int64_t end_first[PARTITIONS] = {0}, end_all[PARTITIONS];
    char topic[128], group[128];
    rd_kafka_t *producer, *consumer;
    int p;

    ck_assert_ptr_nonnull(dr);
    unique_name(topic, sizeof topic, "foreshock-itest-topic");
    unique_name(group, sizeof group, "foreshock-itest-group");
    producer = new_producer(dr);
    create_topic(producer, topic, PARTITIONS);
    wait_topic(producer, topic, PARTITIONS);

    produce_range(producer, topic, 0, FIRST_BATCH);
    check_deliveries(producer, dr, 0, FIRST_BATCH, end_first);
    /* With 1000 distinct keys both partitions get messages, so the resume
     * below is checked per partition. */
    for (p = 0; p < PARTITIONS; p++)
        ck_assert_msg(end_first[p] > 0, "partition %d got no messages", p);

    consumer = new_consumer(group, topic);
    consume_range(consumer, dr, 0, FIRST_BATCH);
    commit_sync(consumer);
    check_committed(consumer, topic, end_first);
    close_consumer(consumer);

    memcpy(end_all, end_first, sizeof end_all);
    produce_range(producer, topic, FIRST_BATCH, SECOND_BATCH);
    check_deliveries(producer, dr, FIRST_BATCH, SECOND_BATCH, end_all);

    /* A new member of the same group starts from what the first one
     * committed: it must read the second batch, all of it and nothing else. */
    consumer = new_consumer(group, topic);
    check_committed(consumer, topic, end_first);
    consume_range(consumer, dr, FIRST_BATCH, SECOND_BATCH);
    commit_sync(consumer);
    check_committed(consumer, topic, end_all);
    close_consumer(consumer);

    delete_topic(producer, topic);
    rd_kafka_destroy(producer);
    free(dr);
    /* Every handle is gone, with its threads: nothing leaked. */
    ck_assert_int_eq(rd_kafka_wait_destroyed(DESTROY_TIMEOUT_MS), 0);
}
END_TEST

static Suite *kafka_suite(void)
{
    Suite *s = suite_create("kafka");
    TCase *tc = tcase_create("broker");

    tcase_set_timeout(tc, CASE_TIMEOUT_S);
    tcase_add_test(tc, test_create_topic_twice);
    tcase_add_test(tc, test_group_commit_and_resume);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    /* Before any test forks, so that a skip or a CI failure is this
     * program's exit code. */
    brokers = fs_test_service("FORESHOCK_TEST_KAFKA");
    sr = srunner_create(kafka_suite());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
