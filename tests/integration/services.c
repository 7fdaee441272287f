/*
 * Service discovery for the integration suites: see services.h. This is test
 * scaffolding at the edge of a test program, so unlike library code it prints
 * and exits.
 */
#include "tests/integration/services.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

const char *fs_test_service(const char *env_name)
{
    const char *addr = getenv(env_name);
    const char *ci = getenv("CI");

    if (addr != NULL && addr[0] != '\0')
        return addr;

    /* In CI the stack is started by .ci/run, so an empty variable is a broken
     * stack, never a reason to skip. */
    if (ci != NULL && strcmp(ci, "true") == 0) {
        fprintf(stderr, "CI=true and %s is not set: the service did not start\n", env_name);
        fflush(stderr);
        exit(1);
    }
    printf("skipped: %s not set (run tests/run.sh)\n", env_name);
    fflush(stdout);
    exit(FS_TEST_SKIP);
}

int fs_test_unique_name(char *buf, size_t size, const char *prefix)
{
    static unsigned counter;
    struct timespec now;
    int n;

    if (buf == NULL || size == 0)
        return -1;
    /* The pid separates concurrent runs, the clock separates runs that reuse
     * a pid, and the counter separates names made within one process. */
    clock_gettime(CLOCK_REALTIME, &now);
    n = snprintf(buf, size, "%s-%ld-%lld-%09ld-%u", prefix, (long)getpid(), (long long)now.tv_sec,
                 now.tv_nsec, counter++);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return 0;
}

int64_t fs_test_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fs_test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void fs_test_print_log_tail(const char *path, const char *what, long max_lines)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    long lines = 0, skip;
    if (!f) {
        fprintf(stderr, "(no %s at %s)\n", what, path);
        return;
    }
    while (fgets(line, sizeof line, f))
        lines++;
    skip = lines > max_lines ? lines - max_lines : 0;
    rewind(f);
    fprintf(stderr, "---- %s %s (%ld lines%s) ----\n", what, path, lines,
            skip ? ", last lines only" : "");
    for (long i = 0; fgets(line, sizeof line, f); i++)
        if (i >= skip)
            fputs(line, stderr);
    fprintf(stderr, "---- end of %s ----\n", what);
    fclose(f);
}

void fs_test_reap(pid_t pid)
{
    int status;
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

int fs_test_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

pid_t fs_test_spawn(const char *const *argv, const char *log, const char *marker, char *err,
                    size_t err_size)
{
    pid_t parent = getpid();
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0) {
        snprintf(err, err_size, "open %s: %s", log, strerror(errno));
        return -1;
    }
    if (marker)
        dprintf(fd, "==== %s ====\n", marker);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_size, "fork: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        dprintf(fd, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    return pid;
}

/* The suite's cleanup for REQUIRE, set once from main(). */
static void (*failure_cleanup)(void);

void fs_test_on_failure(void (*cleanup)(void))
{
    failure_cleanup = cleanup;
}

void fs_test_fail_cleanup(void)
{
    if (failure_cleanup)
        failure_cleanup();
}

void fs_test_vnote(const char *tag, const char *name, int64_t t0_ms, const char *fmt, va_list ap)
{
    printf("[%s %s +%6.2fs] ", tag, name, (double)(fs_test_mono_ms() - t0_ms) / 1000.0);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

void fs_test_remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static rd_kafka_t *admin_client(const char *brokers, char *err, size_t err_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, err_size) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, err_size);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* Whether the metadata shows the topic with all its partitions led. */
static int topic_complete(rd_kafka_t *rk, const char *name, int partitions)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    int ok = rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
             md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
             md->topics[0].partition_cnt == partitions;
    for (int p = 0; ok && p < partitions; p++)
        ok = md->topics[0].partitions[p].leader >= 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return ok;
}

int fs_test_create_topics(const char *brokers, const char *const *names, size_t n, int partitions,
                          int timeout_ms, char *err, size_t err_size)
{
    rd_kafka_t *rk = admin_client(brokers, err, err_size);
    if (!rk)
        return -1;
    int rc = -1;
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_NewTopic_t **topics = calloc(n ? n : 1, sizeof *topics);
    rd_kafka_AdminOptions_t *options =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    size_t made = 0;
    if (!topics) {
        snprintf(err, err_size, "out of memory");
        goto done;
    }
    rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, err, err_size);
    for (; made < n; made++) {
        topics[made] = rd_kafka_NewTopic_new(names[made], partitions, 1, err, err_size);
        if (!topics[made])
            goto done;
    }
    rd_kafka_CreateTopics(rk, topics, n, options, queue);
    ev = rd_kafka_queue_poll(queue, timeout_ms + 5000);
    if (!ev) {
        snprintf(err, err_size, "CreateTopics: no answer within %d ms", timeout_ms + 5000);
        goto done;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    if (!res || rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_size, "CreateTopics: %s", rd_kafka_event_error_string(ev));
        goto done;
    }
    size_t cnt;
    const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(res, &cnt);
    for (size_t i = 0; i < cnt; i++)
        if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, err_size, "create topic %s: %s", rd_kafka_topic_result_name(results[i]),
                     rd_kafka_topic_result_error_string(results[i]));
            goto done;
        }
    /* The broker answers before every partition has a leader everywhere. */
    int64_t deadline = fs_test_mono_ms() + timeout_ms;
    for (size_t i = 0; i < n; i++)
        while (!topic_complete(rk, names[i], partitions)) {
            if (fs_test_mono_ms() >= deadline) {
                snprintf(err, err_size, "topic %s: no complete metadata within %d ms", names[i],
                         timeout_ms);
                goto done;
            }
            fs_test_sleep_ms(100);
        }
    rc = 0;
done:
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < made; i++)
        rd_kafka_NewTopic_destroy(topics[i]);
    free(topics);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
    return rc;
}

void fs_test_delete_topics(const char *brokers, const char *const *names, size_t n)
{
    char err[512];
    rd_kafka_t *rk = admin_client(brokers, err, sizeof err);
    rd_kafka_DeleteTopic_t **topics = calloc(n ? n : 1, sizeof *topics);
    if (!rk || !topics) {
        free(topics);
        if (rk)
            rd_kafka_destroy(rk);
        return;
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    for (size_t i = 0; i < n; i++)
        topics[i] = rd_kafka_DeleteTopic_new(names[i]);
    rd_kafka_DeleteTopics(rk, topics, n, NULL, queue);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, 10000);
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        rd_kafka_DeleteTopic_destroy(topics[i]);
    free(topics);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
}

redisContext *fs_test_redis_connect(const char *address)
{
    struct timeval tv = {3, 0};
    const char *colon = strrchr(address, ':');
    char host[256];
    if (!colon || (size_t)(colon - address) >= sizeof host)
        return NULL;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    redisContext *c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

long fs_test_redis_delete_keys(const char *address, const char *prefix)
{
    redisContext *c = fs_test_redis_connect(address);
    char cursor[32], pattern[300];
    long left = 0;
    if (!c)
        return -1;
    snprintf(pattern, sizeof pattern, "%s*", prefix);
    /* Pass 0 deletes, pass 1 counts what is left. */
    for (int pass = 0; pass < 2; pass++) {
        snprintf(cursor, sizeof cursor, "0");
        do {
            redisReply *reply = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
            if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
                if (reply)
                    freeReplyObject(reply);
                redisFree(c);
                return -1;
            }
            snprintf(cursor, sizeof cursor, "%s", reply->element[0]->str);
            redisReply *keys = reply->element[1];
            for (size_t i = 0; i < keys->elements; i++) {
                if (pass == 1) {
                    left++;
                    continue;
                }
                redisReply *del =
                    redisCommand(c, "DEL %b", keys->element[i]->str, (size_t)keys->element[i]->len);
                if (del)
                    freeReplyObject(del);
            }
            freeReplyObject(reply);
        } while (strcmp(cursor, "0") != 0);
    }
    redisFree(c);
    return left;
}

/* Whether the redis-server on port answers PING with PONG (after AUTH with
 * password when it is not NULL): up, and done loading its data. */
static int redis_answers(int port, const char *password)
{
    char address[32];
    snprintf(address, sizeof address, "127.0.0.1:%d", port);
    redisContext *c = fs_test_redis_connect(address);
    if (!c)
        return 0;
    int ok = 1;
    if (password) {
        redisReply *r = redisCommand(c, "AUTH %s", password);
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (ok) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r)
            freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

pid_t fs_test_redis_start(const char *server, int port, const char *dir, const char *const *args,
                          char *err, size_t err_size)
{
    enum { N_FIXED = 9, MAX_ARGS = 64 };
    const char *argv[N_FIXED + MAX_ARGS + 1];
    const char *password = NULL;
    char port_s[16], log[4200];
    size_t n = 0;

    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    argv[n++] = server;
    argv[n++] = "--port";
    argv[n++] = port_s;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--dir";
    argv[n++] = dir;
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    for (size_t i = 0; args && args[i]; i++) {
        if (i >= MAX_ARGS) {
            snprintf(err, err_size, "more than %d redis-server arguments", MAX_ARGS);
            return -1;
        }
        if (strcmp(args[i], "--requirepass") == 0 && args[i + 1])
            password = args[i + 1];
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    pid_t pid = fs_test_spawn(argv, log, NULL, err, err_size);
    if (pid < 0)
        return -1;
    int64_t deadline = fs_test_mono_ms() + 20000;
    while (!redis_answers(port, password)) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            snprintf(err, err_size,
                     "the private redis-server on port %d exited at start (status 0x%x)", port,
                     status);
            fs_test_print_log_tail(log, "private redis-server log", 40);
            return -1;
        }
        if (fs_test_mono_ms() > deadline) {
            fs_test_reap(pid);
            snprintf(err, err_size, "the private redis-server on port %d did not answer in 20 s",
                     port);
            fs_test_print_log_tail(log, "private redis-server log", 40);
            return -1;
        }
        fs_test_sleep_ms(50);
    }
    return pid;
}

int fs_test_redis_stop(pid_t pid, int timeout_ms)
{
    int64_t deadline = fs_test_mono_ms() + timeout_ms;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1; /* not our child, or already reaped */
        if (fs_test_mono_ms() > deadline) {
            fs_test_reap(pid);
            return -1;
        }
        fs_test_sleep_ms(20);
    }
}
