/*
 * Integration suite for redis through hiredis, against the real redis-server
 * in FORESHOCK_TEST_REDIS. It proves what the detector's redis store relies
 * on: a pipelined MULTI/EXEC batch (hash counters, a HyperLogLog of users, the
 * consumed offset, expiries) sent in one round trip, read back with the
 * values computed here by hand; and a Lua fence that applies a batch only if
 * the stored offset is the one the batch was computed from, so a stale or
 * replayed batch is refused. Keys carry a unique name per run and a TTL, so a
 * failed run leaves nothing behind for long; a passing run deletes them.
 */
#include "tests/integration/services.h"

#include <check.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_S 2
#define COMMAND_TIMEOUT_S 5
#define KEY_TTL_S         600
#define CASE_TIMEOUT_S    30

/* The address from FORESHOCK_TEST_REDIS, set by main() before any test. */
static const char *redis_addr;

/* The keys of one test: a hash of counters, a HyperLogLog of users and an
 * offset. The {tag} keeps them in one cluster slot, as a script needs. */
typedef struct {
    char hash[160];
    char users[160];
    char offset[160];
} keys_t;

static void make_keys(keys_t *keys)
{
    char tag[128];

    ck_assert_int_eq(fs_test_unique_name(tag, sizeof tag, "foreshock-itest"), 0);
    snprintf(keys->hash, sizeof keys->hash, "{%s}:counts", tag);
    snprintf(keys->users, sizeof keys->users, "{%s}:users", tag);
    snprintf(keys->offset, sizeof keys->offset, "{%s}:offset", tag);
}

/* Connects to "host:port" (or "[v6]:port") with bounded connect, read and
 * write times. */
static redisContext *connect_redis(void)
{
    struct timeval connect_tv = {CONNECT_TIMEOUT_S, 0};
    struct timeval command_tv = {COMMAND_TIMEOUT_S, 0};
    char host[256], errstr[256];
    const char *colon = strrchr(redis_addr, ':');
    const char *start;
    size_t hostlen;
    char *end;
    long port;
    redisContext *c;

    ck_assert_msg(colon != NULL && colon != redis_addr, "FORESHOCK_TEST_REDIS=%s: want host:port",
                  redis_addr);
    port = strtol(colon + 1, &end, 10);
    ck_assert_msg(*end == '\0' && port > 0 && port < 65536, "FORESHOCK_TEST_REDIS=%s: bad port",
                  redis_addr);
    start = redis_addr;
    hostlen = (size_t)(colon - redis_addr);
    /* An IPv6 address comes in brackets: [::1]:6379. */
    if (hostlen >= 2 && start[0] == '[' && colon[-1] == ']') {
        start++;
        hostlen -= 2;
    }
    ck_assert_msg(hostlen > 0 && hostlen < sizeof host, "FORESHOCK_TEST_REDIS=%s: bad host",
                  redis_addr);
    memcpy(host, start, hostlen);
    host[hostlen] = '\0';

    c = redisConnectWithTimeout(host, (int)port, connect_tv);
    ck_assert_msg(c != NULL, "redisConnectWithTimeout: out of memory");
    if (c->err) {
        snprintf(errstr, sizeof errstr, "%s", c->errstr);
        redisFree(c);
        ck_abort_msg("connect to %s: %s", redis_addr, errstr);
    }
    /* Without a timeout a stuck server would hang the read forever. */
    ck_assert_int_eq(redisSetTimeout(c, command_tv), REDIS_OK);
    return c;
}

/* Reads the next reply of a pipeline; the caller frees it. */
static redisReply *next_reply(redisContext *c)
{
    void *reply = NULL;

    ck_assert_msg(redisGetReply(c, &reply) == REDIS_OK && reply != NULL,
                  "redisGetReply: %s (command timeout %d s)", c->errstr, COMMAND_TIMEOUT_S);
    return reply;
}

/* Runs one command and returns its reply; the caller frees it. */
static redisReply *command(redisContext *c, const char *format, ...)
{
    va_list ap;
    redisReply *reply;

    va_start(ap, format);
    reply = redisvCommand(c, format, ap);
    va_end(ap);
    ck_assert_msg(reply != NULL, "%s: %s (command timeout %d s)", format, c->errstr,
                  COMMAND_TIMEOUT_S);
    ck_assert_msg(reply->type != REDIS_REPLY_ERROR, "%s: %s", format, reply->str);
    return reply;
}

static void expect_status(const redisReply *reply, const char *status, const char *what)
{
    ck_assert_msg(reply->type == REDIS_REPLY_STATUS, "%s: reply type %d, want status %s (%s)", what,
                  reply->type, status,
                  reply->type == REDIS_REPLY_ERROR ? reply->str : "not an error");
    ck_assert_msg(strcmp(reply->str, status) == 0, "%s: %s, want %s", what, reply->str, status);
}

static void expect_integer(const redisReply *reply, long long value, const char *what)
{
    ck_assert_msg(reply->type == REDIS_REPLY_INTEGER, "%s: reply type %d, want integer", what,
                  reply->type);
    ck_assert_msg(reply->integer == value, "%s: %lld, want %lld", what, reply->integer, value);
}

static void expect_string(const redisReply *reply, const char *value, const char *what)
{
    ck_assert_msg(reply->type == REDIS_REPLY_STRING, "%s: reply type %d, want string", what,
                  reply->type);
    ck_assert_msg(reply->len == strlen(value) && memcmp(reply->str, value, reply->len) == 0,
                  "%s: \"%s\", want \"%s\"", what, reply->str, value);
}

static void expect_command_integer(redisContext *c, long long value, const char *format,
                                   const char *key)
{
    redisReply *reply = command(c, format, key);

    expect_integer(reply, value, format);
    freeReplyObject(reply);
}

/* One batch of the store: counter increments, with the counter's value right
 * after each, worked out by hand. */
static const struct {
    const char *field;
    long long delta;
    long long after;
} increments[] = {
    {"play", 3, 3}, {"error", 5, 5}, {"play", 4, 7}, {"stall", 1, 1}, {"error", -2, 3},
};

/* The hash after the batch. */
static const struct {
    const char *field;
    const char *value;
} totals[] = {{"play", "7"}, {"error", "3"}, {"stall", "1"}};

/* Seven users, five of them distinct (HyperLogLog counts small sets exactly). */
static const char *const users[] = {"u-alice", "u-bob", "u-carol", "u-alice",
                                    "u-dave",  "u-bob", "u-erin"};
#define DISTINCT_USERS 5
#define BATCH_OFFSET   "4242"

#define N_INCREMENTS (sizeof increments / sizeof increments[0])
#define N_TOTALS     (sizeof totals / sizeof totals[0])
#define N_USERS      (sizeof users / sizeof users[0])

START_TEST(test_pipelined_transaction)
{
    redisContext *c = connect_redis();
    const char *argv[2 + N_USERS];
    redisReply *reply, *exec;
    keys_t keys;
    size_t i, j, queued = 0, n = 0;

    make_keys(&keys);

    /* Everything is appended to hiredis's output buffer first; the first
     * redisGetReply writes it all, so the batch costs one round trip. */
    ck_assert_int_eq(redisAppendCommand(c, "MULTI"), REDIS_OK);
    for (i = 0; i < N_INCREMENTS; i++, queued++)
        ck_assert_int_eq(redisAppendCommand(c, "HINCRBY %s %s %lld", keys.hash, increments[i].field,
                                            increments[i].delta),
                         REDIS_OK);
    argv[n++] = "PFADD";
    argv[n++] = keys.users;
    for (i = 0; i < N_USERS; i++)
        argv[n++] = users[i];
    ck_assert_int_eq(redisAppendCommandArgv(c, (int)n, argv, NULL), REDIS_OK);
    queued++;
    ck_assert_int_eq(redisAppendCommand(c, "SET %s %s", keys.offset, BATCH_OFFSET), REDIS_OK);
    queued++;
    ck_assert_int_eq(redisAppendCommand(c, "EXPIRE %s %d", keys.hash, KEY_TTL_S), REDIS_OK);
    ck_assert_int_eq(redisAppendCommand(c, "EXPIRE %s %d", keys.users, KEY_TTL_S), REDIS_OK);
    ck_assert_int_eq(redisAppendCommand(c, "EXPIRE %s %d", keys.offset, KEY_TTL_S), REDIS_OK);
    queued += 3;
    ck_assert_int_eq(redisAppendCommand(c, "EXEC"), REDIS_OK);

    reply = next_reply(c);
    expect_status(reply, "OK", "MULTI");
    freeReplyObject(reply);
    for (i = 0; i < queued; i++) {
        reply = next_reply(c);
        expect_status(reply, "QUEUED", "queued command");
        freeReplyObject(reply);
    }
    exec = next_reply(c);
    ck_assert_msg(exec->type == REDIS_REPLY_ARRAY, "EXEC: reply type %d, want array", exec->type);
    ck_assert_uint_eq(exec->elements, queued);
    for (i = 0; i < N_INCREMENTS; i++)
        expect_integer(exec->element[i], increments[i].after, "HINCRBY");
    expect_integer(exec->element[i++], 1, "PFADD (registers changed)");
    expect_status(exec->element[i++], "OK", "SET");
    for (j = 0; j < 3; j++)
        expect_integer(exec->element[i++], 1, "EXPIRE");
    freeReplyObject(exec);

    /* Read everything back and compare with the values worked out above. */
    reply = command(c, "HGETALL %s", keys.hash);
    ck_assert_int_eq(reply->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(reply->elements, 2 * N_TOTALS);
    for (i = 0; i < N_TOTALS; i++) {
        int found = 0;

        for (j = 0; j + 1 < reply->elements; j += 2) {
            if (strcmp(reply->element[j]->str, totals[i].field) == 0) {
                expect_string(reply->element[j + 1], totals[i].value, totals[i].field);
                found++;
            }
        }
        ck_assert_msg(found == 1, "HGETALL: field %s found %d times", totals[i].field, found);
    }
    freeReplyObject(reply);

    expect_command_integer(c, DISTINCT_USERS, "PFCOUNT %s", keys.users);

    reply = command(c, "GET %s", keys.offset);
    expect_string(reply, BATCH_OFFSET, "GET offset");
    freeReplyObject(reply);

    {
        const char *const ttl_keys[] = {keys.hash, keys.users, keys.offset};

        for (i = 0; i < 3; i++) {
            reply = command(c, "TTL %s", ttl_keys[i]);
            ck_assert_int_eq(reply->type, REDIS_REPLY_INTEGER);
            ck_assert_msg(reply->integer > 0 && reply->integer <= KEY_TTL_S,
                          "TTL %s: %lld, want 1..%d", ttl_keys[i], reply->integer, KEY_TTL_S);
            freeReplyObject(reply);
        }
    }

    reply = command(c, "DEL %s %s %s", keys.hash, keys.users, keys.offset);
    expect_integer(reply, 3, "DEL");
    freeReplyObject(reply);
    reply = command(c, "EXISTS %s %s %s", keys.hash, keys.users, keys.offset);
    expect_integer(reply, 0, "EXISTS after DEL");
    freeReplyObject(reply);
    redisFree(c);
}
END_TEST

/*
 * Applies a batch only if the stored offset is the one it was computed from.
 * KEYS[1] offset, KEYS[2] counters; ARGV[1] expected offset, ARGV[2] offset
 * after the batch, ARGV[3] field, ARGV[4] delta, ARGV[5] TTL in seconds.
 * Returns 1 when applied, 0 when refused.
 */
static const char fence_script[] = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then\n"
                                   "  return 0\n"
                                   "end\n"
                                   "redis.call('HINCRBY', KEYS[2], ARGV[3], ARGV[4])\n"
                                   "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[5])\n"
                                   "redis.call('EXPIRE', KEYS[2], ARGV[5])\n"
                                   "return 1\n";

/* Batches in the order they arrive, starting from a stored offset of 100. */
static const struct {
    const char *from;         /* the offset the batch was computed from */
    const char *to;           /* the offset after it */
    long long delta;          /* its increment of "play" */
    long long applied;        /* the script's answer */
    const char *offset_after; /* the stored offset afterwards */
    long long play_after;     /* the counter afterwards */
} fence_cases[] = {
    {"100", "150", 5, 1, "150", 5},  /* the expected batch applies */
    {"100", "150", 5, 0, "150", 5},  /* the same batch replayed is stale */
    {"50", "100", 9, 0, "150", 5},   /* an older batch is stale */
    {"150", "200", 2, 1, "200", 7},  /* the next batch applies */
    {"999", "1000", 1, 0, "200", 7}, /* a batch from beyond the offset is refused */
    {"200", "250", -3, 1, "250", 4}, /* and the fence still moves on */
};

#define N_FENCE_CASES (sizeof fence_cases / sizeof fence_cases[0])

START_TEST(test_lua_fence)
{
    redisContext *c = connect_redis();
    redisReply *reply;
    keys_t keys;
    size_t i;

    make_keys(&keys);
    reply = command(c, "SET %s %s EX %d", keys.offset, "100", KEY_TTL_S);
    expect_status(reply, "OK", "SET offset");
    freeReplyObject(reply);

    for (i = 0; i < N_FENCE_CASES; i++) {
        char what[64];

        snprintf(what, sizeof what, "fence case %zu", i);
        reply = command(c, "EVAL %s 2 %s %s %s %s %s %lld %d", fence_script, keys.offset, keys.hash,
                        fence_cases[i].from, fence_cases[i].to, "play", fence_cases[i].delta,
                        KEY_TTL_S);
        expect_integer(reply, fence_cases[i].applied, what);
        freeReplyObject(reply);

        reply = command(c, "GET %s", keys.offset);
        expect_string(reply, fence_cases[i].offset_after, what);
        freeReplyObject(reply);
        reply = command(c, "HGET %s %s", keys.hash, "play");
        ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
        ck_assert_msg(strtoll(reply->str, NULL, 10) == fence_cases[i].play_after,
                      "%s: play %s, want %lld", what, reply->str, fence_cases[i].play_after);
        freeReplyObject(reply);
    }

    /* The script renews the TTL of what it writes. */
    reply = command(c, "TTL %s", keys.hash);
    ck_assert_int_eq(reply->type, REDIS_REPLY_INTEGER);
    ck_assert_msg(reply->integer > 0 && reply->integer <= KEY_TTL_S, "TTL: %lld", reply->integer);
    freeReplyObject(reply);

    reply = command(c, "DEL %s %s", keys.offset, keys.hash);
    expect_integer(reply, 2, "DEL");
    freeReplyObject(reply);
    redisFree(c);
}
END_TEST

static Suite *redis_suite(void)
{
    Suite *s = suite_create("redis");
    TCase *tc = tcase_create("server");

    /* Longer than the connect and command timeouts, so that a stuck server
     * fails with hiredis's reason rather than Check's. */
    tcase_set_timeout(tc, CASE_TIMEOUT_S);

    tcase_add_test(tc, test_pipelined_transaction);
    tcase_add_test(tc, test_lua_fence);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    /* Before any test forks, so that a skip or a CI failure is this
     * program's exit code. */
    redis_addr = fs_test_service("FORESHOCK_TEST_REDIS");
    sr = srunner_create(redis_suite());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
