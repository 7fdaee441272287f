/*
 * store_redis.c: the window store in Redis (see store_redis.h for the key
 * layout and store.h for the contract).
 *
 * The pipeline hands this module one pre-aggregated batch per flush. commit()
 * turns it into one flat argument vector and one EVALSHA of commit_script,
 * sent in one round trip, so Redis applies the fences and the whole batch as
 * one atomic step. The readers (offset, buckets, alerts, outbox,
 * affected_users) serve start-up, failover and other instances; they are
 * never on the per-event path. The connection is made lazily and dropped
 * after any transport failure or retriable server error; the next call
 * reconnects. Library code: nothing is printed, every failure is a return
 * code and a message in the caller's buffer.
 */
#include "detector/store_redis.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define MINUTE_MS 60000
/* Times travel through sorted-set scores and Lua numbers, which are doubles:
 * keep them where a double is exact. */
#define TIME_LIMIT  ((int64_t)1 << 53)
#define COUNT_LIMIT ((int64_t)1 << 53)
/* affected_users() names one key per minute in one PFCOUNT. */
#define MAX_MINUTE_KEYS 100000
/* Keeps the size arithmetic of a batch far from overflow (and ARGV below
 * Redis' limits); a real flush is a few orders of magnitude smaller. */
#define MAX_BATCH_ITEMS (INT_MAX / 16)
/* Room for one formatted int64, an optional '(' and the NUL. */
#define NUM_SIZE 24
#define SHA_LEN  40

/*
 * The commit script. KEYS: [1] offsets hash, [2] alerts hash, [3] outbox
 * hash, [4] bucket index (sorted set), [5] meta hash, [6] snapshot hash,
 * [7] snapshot staging hash. ARGV, flat, with counts up front so that the
 * script walks it with one cursor:
 *
 *   [1] key prefix  [2] TTL in ms  [3] index trim bound ("(<ms>")
 *   [4] #offsets  [5] #bucket groups  [6] #user groups  [7] #alerts
 *   [8] #delivered  [9] #meta entries
 *   [10] "<snapshot part flags> <#snapshot entries>"
 *   per offset:        "<topic>/<partition>", expected, last
 *   per bucket group:  bucket_ms, #deltas, then per delta:
 *                      slice, "<attempts> <failures> <errors>"
 *   per user group:    minute_ms, slice, #users, then the users
 *   per alert:         flags, fingerprint, state, id, message
 *                      (flags[1] 's' = set the state, 'd' = delete it;
 *                       flags[2] 'o' = put id -> message into the outbox)
 *   per delivered id:  the id
 *   per meta entry:    key, value
 *   per snapshot entry: slice, state (into the staging hash, which the
 *                      first part clears and the last renames over the
 *                      snapshot hash)
 *
 * Groups are formed in C (one per bucket, one per minute and slice), so the
 * bucket and HyperLogLog keys are built once per group, not per element, and
 * each key gets exactly one PEXPIRE.
 *
 * The script reads everything it depends on before its first write: the
 * fences (a failing one returns the error "FENCE ..."), and the current
 * counters of every (slice, bucket) of the batch, with HMGET in chunks.
 * New sums are computed in Lua (a slice new to the bucket takes the
 * pre-formatted value as is; a slice twice in one bucket group is summed);
 * a stored value that does not parse, or a sum beyond 2^53 (Lua numbers are
 * doubles), fails the batch with "ERR ..." before anything is written. Only
 * then does it write: HSET in chunks per bucket, then HyperLogLogs, offsets,
 * alerts, outbox puts and removals. Bulk commands pass at most 2000
 * arguments through unpack(), well inside Lua's C stack limit. A write that
 * fails after the first one (possible only when something else wrote a
 * wrong type into our keys) cannot be undone by Redis.
 */
static const char commit_script[] =
    "local call, prefix, ttl = redis.call, ARGV[1], ARGV[2]\n"
    "local n_off, n_bkt = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local n_usr, n_alr, n_del = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])\n"
    "local n_meta = tonumber(ARGV[9])\n"
    "local snap_part, n_snap = string.match(ARGV[10], '^(%d) (%d+)$')\n"
    "snap_part, n_snap = tonumber(snap_part), tonumber(n_snap)\n"
    "local match, format, unpack, min = string.match, string.format, unpack, math.min\n"
    "local LIMIT = 9007199254740992\n"
    "local PAT = '^(%-?%d+) (%-?%d+) (%-?%d+)$'\n"
    "local i = 11\n"
    "for k = 1, n_off do\n"
    "  local field, expected = ARGV[i], ARGV[i + 1]\n"
    "  local stored = call('HGET', KEYS[1], field)\n"
    "  if (expected == '-1' and stored) or (expected ~= '-1' and stored ~= expected) then\n"
    "    return redis.error_reply('FENCE ' .. field .. ' stored ' .. (stored or 'none') ..\n"
    "                             ' expected ' .. (expected == '-1' and 'none' or expected))\n"
    "  end\n"
    "  i = i + 3\n"
    "end\n"
    "local bkeys, bsets, bnames = {}, {}, {}\n"
    "for g = 1, n_bkt do\n"
    "  local bucket, n = ARGV[i], tonumber(ARGV[i + 1])\n"
    "  local key = prefix .. 'b:' .. bucket\n"
    "  local kv, at, fields = {}, {}, {}\n"
    "  i = i + 2\n"
    "  for d = 0, n - 1, 1000 do\n"
    "    local m = min(1000, n - d)\n"
    "    for q = 1, m do fields[q] = ARGV[i + 2 * (d + q - 1)] end\n"
    "    local old = call('HMGET', key, unpack(fields, 1, m))\n"
    "    for q = 1, m do\n"
    "      local j = i + 2 * (d + q - 1)\n"
    "      local slice, v = ARGV[j], ARGV[j + 1]\n"
    "      local p = at[slice]\n"
    "      local o = p and kv[p] or old[q]\n"
    "      if o then\n"
    "        local a, f, e = match(v, PAT)\n"
    "        local oa, of, oe = match(o, PAT)\n"
    "        if not oa then\n"
    "          return redis.error_reply('ERR ' .. key .. ' field ' .. slice .. ': bad counters')\n"
    "        end\n"
    "        a, f, e = a + oa, f + of, e + oe\n"
    "        if a >= LIMIT or -a >= LIMIT or f >= LIMIT or -f >= LIMIT or e >= LIMIT or\n"
    "           -e >= LIMIT then\n"
    "          return redis.error_reply('ERR ' .. key .. ' field ' .. slice .. ': overflow')\n"
    "        end\n"
    "        v = format('%d %d %d', a, f, e)\n"
    "      end\n"
    "      if p then\n"
    "        kv[p] = v\n"
    "      else\n"
    "        kv[#kv + 1] = slice\n"
    "        kv[#kv + 1] = v\n"
    "        at[slice] = #kv\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  i = i + 2 * n\n"
    "  bkeys[g], bsets[g], bnames[g] = key, kv, bucket\n"
    "end\n"
    "for g = 1, n_bkt do\n"
    "  local key, kv = bkeys[g], bsets[g]\n"
    "  for s = 1, #kv, 2000 do call('HSET', key, unpack(kv, s, min(s + 1999, #kv))) end\n"
    "  call('PEXPIRE', key, ttl)\n"
    "  call('ZADD', KEYS[4], bnames[g], bnames[g])\n"
    "end\n"
    "if n_bkt > 0 then\n"
    "  call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[3])\n"
    "  call('PEXPIRE', KEYS[4], ttl)\n"
    "end\n"
    "for g = 1, n_usr do\n"
    "  local key = prefix .. 'u:' .. ARGV[i] .. ':' .. ARGV[i + 1]\n"
    "  local last = i + 2 + tonumber(ARGV[i + 2])\n"
    "  i = i + 3\n"
    "  while i <= last do\n"
    "    local j = min(i + 1999, last)\n"
    "    call('PFADD', key, unpack(ARGV, i, j))\n"
    "    i = j + 1\n"
    "  end\n"
    "  call('PEXPIRE', key, ttl)\n"
    "end\n"
    "for k = 0, n_off - 1 do\n"
    "  call('HSET', KEYS[1], ARGV[11 + 3 * k], ARGV[13 + 3 * k])\n"
    "end\n"
    "for k = 1, n_alr do\n"
    "  local flags, fp = ARGV[i], ARGV[i + 1]\n"
    "  if string.sub(flags, 1, 1) == 's' then\n"
    "    call('HSET', KEYS[2], fp, ARGV[i + 2])\n"
    "  else\n"
    "    call('HDEL', KEYS[2], fp)\n"
    "  end\n"
    "  if string.sub(flags, 2, 2) == 'o' then\n"
    "    call('HSET', KEYS[3], ARGV[i + 3], ARGV[i + 4])\n"
    "  end\n"
    "  i = i + 5\n"
    "end\n"
    "local last = i + n_del - 1\n"
    "while i <= last do\n"
    "  local j = min(i + 1999, last)\n"
    "  call('HDEL', KEYS[3], unpack(ARGV, i, j))\n"
    "  i = j + 1\n"
    "end\n"
    "last = i + 2 * n_meta - 1\n"
    "while i <= last do\n"
    "  local j = min(i + 1999, last)\n"
    "  call('HSET', KEYS[5], unpack(ARGV, i, j))\n"
    "  i = j + 1\n"
    "end\n"
    "if snap_part % 2 == 1 then\n"
    "  call('DEL', KEYS[7])\n"
    "end\n"
    "last = i + 2 * n_snap - 1\n"
    "while i <= last do\n"
    "  local j = min(i + 1999, last)\n"
    "  call('HSET', KEYS[7], unpack(ARGV, i, j))\n"
    "  i = j + 1\n"
    "end\n"
    "if snap_part >= 2 then\n"
    "  if call('EXISTS', KEYS[7]) == 1 then\n"
    "    call('RENAME', KEYS[7], KEYS[6])\n"
    "  else\n"
    "    call('DEL', KEYS[6])\n"
    "  end\n"
    "end\n"
    "return 1\n";

typedef struct redis_store {
    fs_store_t base; /* first, so fs_store_t * and redis_store_t * convert */
    char *address;   /* as configured, for messages */
    char *host;      /* TCP host, or NULL for a Unix socket */
    int port;
    char *path; /* Unix socket path, or NULL */
    char *prefix;
    size_t prefix_len;
    char *user, *password; /* AUTH; password "" for none */
    char *k_offsets, *k_alerts, *k_outbox, *k_buckets, *k_meta, *k_snapshot, *k_staging;
    struct timeval timeout;
    int64_t retention_ms;
    redisContext *ctx;     /* NULL while disconnected */
    int script_loaded;     /* SCRIPT LOAD was sent on ctx */
    char sha[SHA_LEN + 1]; /* the script's SHA1 from Redis; "" until known */
    uint64_t round_trips;
} redis_store_t;

/* Writes the message into err (if any) and returns code. */
static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && err_size > 0) {
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return code;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        return NULL;
    s = malloc((size_t)len + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Parses a whole decimal int64 (what Redis stores and what we write). */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    char buf[NUM_SIZE], *end;
    long long v;

    if (s == NULL || len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || !(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int time_ok(int64_t ms)
{
    return ms >= -TIME_LIMIT && ms <= TIME_LIMIT;
}

/* Counters are summed in Lua, whose numbers are doubles. */
static int count_ok(int64_t v)
{
    return v > -COUNT_LIMIT && v < COUNT_LIMIT;
}

/* The start of the minute holding ms (rounds down, also below zero). */
static int64_t minute_of(int64_t ms)
{
    int64_t m = ms / MINUTE_MS * MINUTE_MS;

    return m > ms ? m - MINUTE_MS : m;
}

/*
 * SIGPIPE guard. hiredis writes with write(2), and a write to a socket the
 * server has closed raises SIGPIPE, whose default action ends the process.
 * The signal is blocked in this thread around the I/O; one we raised is
 * consumed before the mask is restored, so the broken connection shows up
 * only as hiredis' EPIPE error.
 */
typedef struct pipe_guard {
    sigset_t old;
    int was_pending;
} pipe_guard_t;

static void guard_enter(pipe_guard_t *g)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void guard_leave(const pipe_guard_t *g)
{
    static const struct timespec zero = {0, 0};
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void disconnect(redis_store_t *st)
{
    if (st->ctx != NULL)
        redisFree(st->ctx);
    st->ctx = NULL;
    st->script_loaded = 0;
}

/* Connects if there is no connection. */
static int ensure_connected(redis_store_t *st, char *err, size_t err_size)
{
    redisContext *c;

    if (st->ctx != NULL)
        return FS_STORE_OK;
    if (st->path != NULL)
        c = redisConnectUnixWithTimeout(st->path, st->timeout);
    else
        c = redisConnectWithTimeout(st->host, st->port, st->timeout);
    if (c == NULL)
        return fail(err, err_size, FS_STORE_EUNAVAILABLE, "redis %s: connect: out of memory",
                    st->address);
    if (c->err) {
        fail(err, err_size, FS_STORE_EUNAVAILABLE, "redis %s: connect: %s", st->address, c->errstr);
        redisFree(c);
        return FS_STORE_EUNAVAILABLE;
    }
    /* Without a read/write timeout a stuck server would block forever. */
    if (redisSetTimeout(c, st->timeout) != REDIS_OK) {
        fail(err, err_size, FS_STORE_EUNAVAILABLE, "redis %s: set timeout: %s", st->address,
             c->errstr[0] ? c->errstr : "failed");
        redisFree(c);
        return FS_STORE_EUNAVAILABLE;
    }
    if (st->password[0]) {
        redisReply *r = st->user[0] ? redisCommand(c, "AUTH %s %s", st->user, st->password)
                                    : redisCommand(c, "AUTH %s", st->password);
        if (r == NULL) {
            fail(err, err_size, FS_STORE_EUNAVAILABLE, "redis %s: AUTH: %s", st->address,
                 c->errstr[0] ? c->errstr : "no reply");
            redisFree(c);
            return FS_STORE_EUNAVAILABLE;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            /* A wrong password does not get better by retrying. */
            fail(err, err_size, FS_STORE_EINVALID, "redis %s: authentication failed: %s",
                 st->address, r->str);
            freeReplyObject(r);
            redisFree(c);
            return FS_STORE_EINVALID;
        }
        freeReplyObject(r);
    }
    st->ctx = c;
    st->script_loaded = 0;
    return FS_STORE_OK;
}

/* Appends one command to the connection's output buffer. A failure leaves
 * the pipeline in an unknown state, so the connection is dropped. */
static int append(redis_store_t *st, int argc, const char **argv, const size_t *argvlen, char *err,
                  size_t err_size)
{
    if (redisAppendCommandArgv(st->ctx, argc, argv, argvlen) == REDIS_OK)
        return FS_STORE_OK;
    fail(err, err_size, FS_STORE_EUNAVAILABLE, "redis %s: %s: %s", st->address, argv[0],
         st->ctx->errstr[0] ? st->ctx->errstr : "cannot queue the command");
    disconnect(st);
    return FS_STORE_EUNAVAILABLE;
}

/*
 * Reads the next reply (the caller frees it); the first read after commands
 * were appended writes them all. On a transport failure it drops the
 * connection and returns FS_STORE_EUNAVAILABLE.
 */
static int next_reply(redis_store_t *st, redisReply **reply, char *err, size_t err_size)
{
    pipe_guard_t guard;
    void *r = NULL;
    int ok;

    guard_enter(&guard);
    ok = redisGetReply(st->ctx, &r) == REDIS_OK && r != NULL;
    guard_leave(&guard);
    if (ok) {
        *reply = r;
        return FS_STORE_OK;
    }
    fail(err, err_size, FS_STORE_EUNAVAILABLE, "redis %s: %s", st->address,
         st->ctx->errstr[0] ? st->ctx->errstr : "connection lost");
    disconnect(st);
    return FS_STORE_EUNAVAILABLE;
}

/*
 * One round trip: writes everything appended since the last one and reads n
 * replies into replies[] (the caller frees them). On a transport failure it
 * frees what it read and returns FS_STORE_EUNAVAILABLE (connection dropped).
 */
static int exchange(redis_store_t *st, redisReply **replies, size_t n, char *err, size_t err_size)
{
    size_t i;

    st->round_trips++;
    for (i = 0; i < n; i++) {
        if (next_reply(st, &replies[i], err, err_size) != FS_STORE_OK) {
            while (i > 0)
                freeReplyObject(replies[--i]);
            return FS_STORE_EUNAVAILABLE;
        }
    }
    return FS_STORE_OK;
}

/* Maps an error reply to a return code. Errors that say "not now" are
 * retriable and also drop the connection: after a failover or restart the
 * next call starts on a fresh one. */
static int reply_error(redis_store_t *st, const redisReply *reply, const char *what, char *err,
                       size_t err_size)
{
    static const char *const retriable[] = {"LOADING",     "BUSY",       "MASTERDOWN",
                                            "READONLY",    "OOM",        "TRYAGAIN",
                                            "CLUSTERDOWN", "NOREPLICAS", NULL};
    size_t i, len;

    if (reply->type != REDIS_REPLY_ERROR)
        return fail(err, err_size, FS_STORE_EINVALID, "redis %s: %s: unexpected reply type %d",
                    st->address, what, reply->type);
    for (i = 0; retriable[i] != NULL; i++) {
        len = strlen(retriable[i]);
        if (strncmp(reply->str, retriable[i], len) == 0 &&
            (reply->str[len] == ' ' || reply->str[len] == '\0')) {
            fail(err, err_size, FS_STORE_EUNAVAILABLE, "redis %s: %s: %s", st->address, what,
                 reply->str);
            disconnect(st);
            return FS_STORE_EUNAVAILABLE;
        }
    }
    return fail(err, err_size, FS_STORE_EINVALID, "redis %s: %s: %s", st->address, what,
                reply->str);
}

/* Sends one command and returns its reply in *reply (the caller frees it). */
static int command(redis_store_t *st, int argc, const char **argv, const size_t *argvlen,
                   redisReply **reply, char *err, size_t err_size)
{
    int rc = ensure_connected(st, err, err_size);

    if (rc == FS_STORE_OK)
        rc = append(st, argc, argv, argvlen, err, err_size);
    if (rc == FS_STORE_OK)
        rc = exchange(st, reply, 1, err, err_size);
    return rc;
}

/* ---- commit ---------------------------------------------------------- */

/* The argument vector of one command, with room for the numbers in it. */
typedef struct args {
    const char **v;
    size_t *len;
    size_t n, cap;
    char *text; /* formatted numbers and offset fields */
    size_t used, size;
    int overflow; /* a size computed too small: a bug, reported as EINVALID */
} args_t;

static void args_free(args_t *a)
{
    free(a->v);
    free(a->len);
    free(a->text);
}

static int args_init(args_t *a, size_t cap, size_t text_size)
{
    memset(a, 0, sizeof *a);
    a->v = malloc(cap * sizeof *a->v);
    a->len = malloc(cap * sizeof *a->len);
    a->text = malloc(text_size);
    a->cap = cap;
    a->size = text_size;
    return a->v != NULL && a->len != NULL && a->text != NULL ? 0 : -1;
}

static void arg(args_t *a, const char *s, size_t len)
{
    if (a->n >= a->cap) {
        a->overflow = 1;
        return;
    }
    a->v[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

static void arg_str(args_t *a, const char *s)
{
    arg(a, s, strlen(s));
}

static void arg_fmt(args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void arg_fmt(args_t *a, const char *fmt, ...)
{
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(a->text + a->used, a->size - a->used, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= a->size - a->used) {
        a->overflow = 1;
        return;
    }
    arg(a, a->text + a->used, (size_t)len);
    a->used += (size_t)len + 1;
}

static void arg_i64(args_t *a, int64_t v)
{
    arg_fmt(a, "%lld", (long long)v);
}

/* Checks what the script trusts: everything is present and in range. */
static int check_batch(const fs_batch_t *b, char *err, size_t err_size)
{
    size_t i, j;

#define BAD(...) fail(err, err_size, FS_STORE_EINVALID, "redis store: invalid batch: " __VA_ARGS__)
    if (b == NULL)
        return BAD("NULL");
    if ((b->n_counters && !b->counters) || (b->n_users && !b->users) ||
        (b->n_offsets && !b->offsets) || (b->n_alerts && !b->alerts) ||
        (b->n_delivered && !b->delivered) || (b->n_meta && !b->meta) ||
        (b->n_snapshot && !b->snapshot))
        return BAD("an array is NULL but its count is not 0");
    if (b->snapshot_part & ~(FS_SNAPSHOT_FIRST | FS_SNAPSHOT_LAST))
        return BAD("snapshot_part %d is not a set of FS_SNAPSHOT_* flags", b->snapshot_part);
    if (b->n_counters > MAX_BATCH_ITEMS || b->n_users > MAX_BATCH_ITEMS ||
        b->n_offsets > MAX_BATCH_ITEMS || b->n_alerts > MAX_BATCH_ITEMS ||
        b->n_delivered > MAX_BATCH_ITEMS || b->n_meta > MAX_BATCH_ITEMS ||
        b->n_snapshot > MAX_BATCH_ITEMS)
        return BAD("more than %d items in one array", MAX_BATCH_ITEMS);
    for (i = 0; i < b->n_counters; i++) {
        if (b->counters[i].slice == NULL)
            return BAD("counter %zu: slice is NULL", i);
        if (!time_ok(b->counters[i].bucket_ms))
            return BAD("counter %zu: bucket_ms %lld out of range", i,
                       (long long)b->counters[i].bucket_ms);
        if (!count_ok(b->counters[i].attempts) || !count_ok(b->counters[i].failures) ||
            !count_ok(b->counters[i].errors))
            return BAD("counter %zu: a count beyond 2^53", i);
    }
    for (i = 0; i < b->n_users; i++) {
        if (b->users[i].slice == NULL || (b->users[i].user == NULL && b->users[i].user_len > 0))
            return BAD("user %zu: slice or user is NULL", i);
        if (!time_ok(b->users[i].bucket_ms))
            return BAD("user %zu: bucket_ms %lld out of range", i,
                       (long long)b->users[i].bucket_ms);
    }
    for (i = 0; i < b->n_offsets; i++) {
        const fs_offset_advance_t *o = &b->offsets[i];

        if (o->topic == NULL || o->partition < 0)
            return BAD("offset %zu: no topic or a negative partition", i);
        if (o->expected < -1 || o->last < 0 || o->last < o->expected)
            return BAD("offset %zu (%s/%d): expected %lld, last %lld", i, o->topic,
                       (int)o->partition, (long long)o->expected, (long long)o->last);
        for (j = 0; j < i; j++)
            if (b->offsets[j].partition == o->partition &&
                strcmp(b->offsets[j].topic, o->topic) == 0)
                return BAD("offset %zu: %s/%d appears twice", i, o->topic, (int)o->partition);
    }
    for (i = 0; i < b->n_alerts; i++) {
        const fs_alert_put_t *a = &b->alerts[i];

        if (a->fingerprint == NULL || (a->id != NULL && a->message == NULL))
            return BAD("alert %zu: no fingerprint, or an id without a message", i);
    }
    for (i = 0; i < b->n_delivered; i++)
        if (b->delivered[i] == NULL)
            return BAD("delivered id %zu is NULL", i);
#undef BAD
    return FS_STORE_OK;
}

static int cmp_counter(const void *pa, const void *pb)
{
    const fs_counter_delta_t *a = *(const fs_counter_delta_t *const *)pa;
    const fs_counter_delta_t *b = *(const fs_counter_delta_t *const *)pb;

    return (a->bucket_ms > b->bucket_ms) - (a->bucket_ms < b->bucket_ms);
}

static int cmp_user(const void *pa, const void *pb)
{
    const fs_user_add_t *a = *(const fs_user_add_t *const *)pa;
    const fs_user_add_t *b = *(const fs_user_add_t *const *)pb;
    int64_t ma = minute_of(a->bucket_ms), mb = minute_of(b->bucket_ms);

    if (ma != mb)
        return ma < mb ? -1 : 1;
    return strcmp(a->slice, b->slice);
}

/*
 * Builds the EVALSHA argument vector of a batch (argv[0] and argv[1] are
 * set by the caller: EVALSHA sha or EVAL script). cs and us are scratch
 * arrays of n_counters and n_users pointers, sorted here into groups.
 */
static int build_commit(const redis_store_t *st, const fs_batch_t *b, const fs_counter_delta_t **cs,
                        const fs_user_add_t **us, args_t *a, char *err, size_t err_size)
{
    size_t i, j, cap, text, n_bkt = 0, n_usr = 0;
    int64_t newest = 0, trim;

    cap = 20 + 3 * b->n_offsets + 4 * b->n_counters + 4 * b->n_users + 5 * b->n_alerts +
          b->n_delivered + 2 * b->n_meta + 2 * b->n_snapshot;
    text = NUM_SIZE * (10 + 2 * b->n_offsets + 5 * b->n_counters + 2 * b->n_users);
    for (i = 0; i < b->n_offsets; i++)
        text += strlen(b->offsets[i].topic) + NUM_SIZE;
    if (args_init(a, cap, text) != 0)
        return fail(err, err_size, FS_STORE_EINVALID, "redis store: out of memory");

    for (i = 0; i < b->n_counters; i++)
        cs[i] = &b->counters[i];
    qsort(cs, b->n_counters, sizeof *cs, cmp_counter);
    for (i = 0; i < b->n_counters; i++) {
        if (i == 0 || cs[i]->bucket_ms != cs[i - 1]->bucket_ms)
            n_bkt++;
        if (i == 0 || cs[i]->bucket_ms > newest)
            newest = cs[i]->bucket_ms;
    }
    for (i = 0; i < b->n_users; i++)
        us[i] = &b->users[i];
    qsort(us, b->n_users, sizeof *us, cmp_user);
    for (i = 0; i < b->n_users; i++)
        if (i == 0 || cmp_user(&us[i], &us[i - 1]) != 0)
            n_usr++;
    /* Index members older than the retention before the newest bucket are
     * dropped; both terms are within TIME_LIMIT, so this cannot overflow. */
    trim = newest - (st->retention_ms < TIME_LIMIT ? st->retention_ms : TIME_LIMIT);

    arg(a, "", 0); /* EVALSHA / EVAL */
    arg(a, "", 0); /* sha / script */
    arg_str(a, "7");
    arg_str(a, st->k_offsets);
    arg_str(a, st->k_alerts);
    arg_str(a, st->k_outbox);
    arg_str(a, st->k_buckets);
    arg_str(a, st->k_meta);
    arg_str(a, st->k_snapshot);
    arg_str(a, st->k_staging);
    arg(a, st->prefix, st->prefix_len);
    arg_i64(a, st->retention_ms);
    arg_fmt(a, "(%lld", (long long)trim);
    arg_i64(a, (int64_t)b->n_offsets);
    arg_i64(a, (int64_t)n_bkt);
    arg_i64(a, (int64_t)n_usr);
    arg_i64(a, (int64_t)b->n_alerts);
    arg_i64(a, (int64_t)b->n_delivered);
    arg_i64(a, (int64_t)b->n_meta);
    arg_fmt(a, "%d %zu", b->snapshot_part, b->n_snapshot);

    for (i = 0; i < b->n_offsets; i++) {
        const fs_offset_advance_t *o = &b->offsets[i];

        arg_fmt(a, "%s/%d", o->topic, (int)o->partition);
        arg_i64(a, o->expected);
        arg_i64(a, o->last);
    }
    for (i = 0; i < b->n_counters; i = j) {
        for (j = i + 1; j < b->n_counters && cs[j]->bucket_ms == cs[i]->bucket_ms; j++)
            ;
        arg_i64(a, cs[i]->bucket_ms);
        arg_i64(a, (int64_t)(j - i));
        for (; i < j; i++) {
            arg_str(a, cs[i]->slice);
            arg_fmt(a, "%lld %lld %lld", (long long)cs[i]->attempts, (long long)cs[i]->failures,
                    (long long)cs[i]->errors);
        }
    }
    for (i = 0; i < b->n_users; i = j) {
        for (j = i + 1; j < b->n_users && cmp_user(&us[j], &us[i]) == 0; j++)
            ;
        arg_i64(a, minute_of(us[i]->bucket_ms));
        arg_str(a, us[i]->slice);
        arg_i64(a, (int64_t)(j - i));
        for (; i < j; i++)
            arg(a, us[i]->user_len ? us[i]->user : "", us[i]->user_len);
    }
    for (i = 0; i < b->n_alerts; i++) {
        const fs_alert_put_t *al = &b->alerts[i];

        if (al->state != NULL)
            arg_str(a, al->id != NULL ? "so" : "s-");
        else
            arg_str(a, al->id != NULL ? "do" : "d-");
        arg_str(a, al->fingerprint);
        arg_str(a, al->state != NULL ? al->state : "");
        arg_str(a, al->id != NULL ? al->id : "");
        arg_str(a, al->message != NULL ? al->message : "");
    }
    for (i = 0; i < b->n_delivered; i++)
        arg_str(a, b->delivered[i]);
    for (i = 0; i < b->n_meta; i++) {
        arg_str(a, b->meta[i].key);
        arg(a, (const char *)b->meta[i].value, b->meta[i].len);
    }
    for (i = 0; i < b->n_snapshot; i++) {
        arg_str(a, b->snapshot[i].key);
        arg(a, (const char *)b->snapshot[i].value, b->snapshot[i].len);
    }

    if (a->overflow || a->n > INT_MAX)
        return fail(err, err_size, FS_STORE_EINVALID,
                    "redis store: internal error sizing the commit arguments");
    return FS_STORE_OK;
}

/* Interprets the script's reply. */
static int commit_reply(redis_store_t *st, const redisReply *reply, char *err, size_t err_size)
{
    if (reply->type == REDIS_REPLY_INTEGER)
        return FS_STORE_OK;
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "FENCE ", 6) == 0)
        return fail(err, err_size, FS_STORE_EFENCE, "redis %s: batch refused: %s", st->address,
                    reply->str);
    return reply_error(st, reply, "commit", err, err_size);
}

/*
 * Sends the batch: [SCRIPT LOAD, when not yet sent on this connection] and
 * EVALSHA (EVAL while the SHA is unknown), in one round trip. If Redis lost
 * the script (NOSCRIPT: SCRIPT FLUSH, or a restart between the load and
 * now), the script did not run, so the batch is sent again with EVAL.
 */
static int send_commit(redis_store_t *st, args_t *a, char *err, size_t err_size)
{
    redisReply *replies[2] = {NULL, NULL};
    size_t n = 0, i;
    int rc, loading = !st->script_loaded;

    if (loading) {
        const char *load[] = {"SCRIPT", "LOAD", commit_script};
        const size_t load_len[] = {6, 4, sizeof commit_script - 1};

        rc = append(st, 3, load, load_len, err, err_size);
        if (rc != FS_STORE_OK)
            return rc;
        n++;
    }
    if (st->sha[0] != '\0') {
        a->v[0] = "EVALSHA";
        a->v[1] = st->sha;
        a->len[1] = SHA_LEN;
    } else {
        a->v[0] = "EVAL";
        a->v[1] = commit_script;
        a->len[1] = sizeof commit_script - 1;
    }
    a->len[0] = strlen(a->v[0]);
    rc = append(st, (int)a->n, a->v, a->len, err, err_size);
    if (rc != FS_STORE_OK)
        return rc;
    n++;
    rc = exchange(st, replies, n, err, err_size);
    if (rc != FS_STORE_OK)
        return rc;

    if (loading) {
        /* An error here (LOADING, say) is reported through the EVAL reply,
         * which fails the same way. */
        if (replies[0]->type == REDIS_REPLY_STRING && replies[0]->len == SHA_LEN) {
            memcpy(st->sha, replies[0]->str, SHA_LEN);
            st->sha[SHA_LEN] = '\0';
            st->script_loaded = 1;
        }
    }
    if (replies[n - 1]->type == REDIS_REPLY_ERROR &&
        strncmp(replies[n - 1]->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(replies[n - 1]);
        replies[n - 1] = NULL;
        st->script_loaded = 0;
        a->v[0] = "EVAL";
        a->len[0] = 4;
        a->v[1] = commit_script;
        a->len[1] = sizeof commit_script - 1;
        rc = append(st, (int)a->n, a->v, a->len, err, err_size);
        if (rc == FS_STORE_OK)
            rc = exchange(st, &replies[n - 1], 1, err, err_size);
    }
    if (rc == FS_STORE_OK)
        rc = commit_reply(st, replies[n - 1], err, err_size);
    for (i = 0; i < n; i++)
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
    return rc;
}

static int redis_commit(fs_store_t *store, const fs_batch_t *batch, char *err, size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;
    const fs_counter_delta_t **cs = NULL;
    const fs_user_add_t **us = NULL;
    args_t a;
    int rc;

    memset(&a, 0, sizeof a);
    rc = check_batch(batch, err, err_size);
    if (rc != FS_STORE_OK)
        return rc;
    cs = malloc((batch->n_counters + 1) * sizeof *cs);
    us = malloc((batch->n_users + 1) * sizeof *us);
    if (cs == NULL || us == NULL) {
        rc = fail(err, err_size, FS_STORE_EINVALID, "redis store: out of memory");
        goto done;
    }
    rc = build_commit(st, batch, cs, us, &a, err, err_size);
    if (rc == FS_STORE_OK)
        rc = ensure_connected(st, err, err_size);
    if (rc == FS_STORE_OK)
        rc = send_commit(st, &a, err, err_size);
done:
    args_free(&a);
    free(cs);
    free(us);
    return rc;
}

/* ---- readers --------------------------------------------------------- */

static int redis_offset(fs_store_t *store, const char *topic, int32_t partition, int64_t *offset,
                        char *err, size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;
    redisReply *reply = NULL;
    const char *argv[3];
    size_t argvlen[3];
    char *field;
    int rc;

    if (topic == NULL || offset == NULL || partition < 0)
        return fail(err, err_size, FS_STORE_EINVALID, "redis store: offset: invalid arguments");
    field = dup_printf("%s/%d", topic, (int)partition);
    if (field == NULL)
        return fail(err, err_size, FS_STORE_EINVALID, "redis store: out of memory");
    argv[0] = "HGET";
    argv[1] = st->k_offsets;
    argv[2] = field;
    argvlen[0] = 4;
    argvlen[1] = strlen(st->k_offsets);
    argvlen[2] = strlen(field);
    rc = command(st, 3, argv, argvlen, &reply, err, err_size);
    if (rc == FS_STORE_OK) {
        if (reply->type == REDIS_REPLY_NIL)
            *offset = -1;
        else if (reply->type == REDIS_REPLY_STRING) {
            if (parse_i64(reply->str, reply->len, offset) != 0)
                rc = fail(err, err_size, FS_STORE_EINVALID, "redis %s: offset of %s: \"%s\"",
                          st->address, field, reply->str);
        } else
            rc = reply_error(st, reply, "HGET offsets", err, err_size);
        freeReplyObject(reply);
    }
    free(field);
    return rc;
}

/* Parses "<attempts> <failures> <errors>". */
static int parse_counters(const char *s, size_t len, int64_t c[3])
{
    size_t i, start = 0, k = 0;

    for (i = 0; i <= len && k < 3; i++) {
        if (i == len || s[i] == ' ') {
            if (parse_i64(s + start, i - start, &c[k++]) != 0)
                return -1;
            start = i + 1;
        }
    }
    return k == 3 && start == len + 1 ? 0 : -1;
}

/* Calls cb for every slice of one bucket's HGETALL reply. Returns 1 when cb
 * asked to stop, 0 when done, or an FS_STORE_* error. */
static int emit_bucket(redis_store_t *st, const redisReply *reply, int64_t bucket_ms,
                       fs_store_bucket_cb cb, void *opaque, char *err, size_t err_size)
{
    size_t i;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0)
        return reply_error(st, reply, "HGETALL bucket", err, err_size);
    for (i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        int64_t c[3];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            parse_counters(v->str, v->len, c) != 0)
            return fail(err, err_size, FS_STORE_EINVALID,
                        "redis %s: bucket %lld: slice \"%s\": bad counters", st->address,
                        (long long)bucket_ms, k->type == REDIS_REPLY_STRING ? k->str : "?");
        if (cb(opaque, k->str, bucket_ms, c[0], c[1], c[2]) != 0)
            return 1;
    }
    return 0;
}

static int redis_buckets(fs_store_t *store, int64_t from_ms, int64_t to_ms, fs_store_bucket_cb cb,
                         void *opaque, char *err, size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;
    redisReply *index = NULL;
    int64_t *bucket_ms = NULL;
    size_t i, nb = 0;
    char from_s[NUM_SIZE], to_s[NUM_SIZE], *key = NULL;
    const char *argv[4];
    size_t argvlen[4];
    int rc;

    if (cb == NULL)
        return fail(err, err_size, FS_STORE_EINVALID, "redis store: buckets: no callback");
    if (from_ms >= to_ms)
        return FS_STORE_OK;
    snprintf(from_s, sizeof from_s, "%lld", (long long)from_ms);
    snprintf(to_s, sizeof to_s, "(%lld", (long long)to_ms);
    argv[0] = "ZRANGEBYSCORE";
    argv[1] = st->k_buckets;
    argv[2] = from_s;
    argv[3] = to_s;
    for (i = 0; i < 4; i++)
        argvlen[i] = strlen(argv[i]);
    rc = command(st, 4, argv, argvlen, &index, err, err_size);
    if (rc != FS_STORE_OK)
        return rc;
    if (index->type != REDIS_REPLY_ARRAY) {
        rc = reply_error(st, index, "ZRANGEBYSCORE buckets", err, err_size);
        goto done;
    }
    nb = index->elements;
    if (nb == 0)
        goto done;

    bucket_ms = malloc(nb * sizeof *bucket_ms);
    key = malloc(st->prefix_len + 2 + NUM_SIZE);
    if (bucket_ms == NULL || key == NULL) {
        rc = fail(err, err_size, FS_STORE_EINVALID, "redis store: out of memory");
        goto done;
    }
    for (i = 0; i < nb; i++) {
        const redisReply *m = index->element[i];

        if (m->type != REDIS_REPLY_STRING || parse_i64(m->str, m->len, &bucket_ms[i]) != 0) {
            rc = fail(err, err_size, FS_STORE_EINVALID, "redis %s: bucket index: bad member",
                      st->address);
            goto done;
        }
    }
    /* All the bucket hashes in one pipelined round trip. Nothing is appended
     * before every member parsed: a half-sent pipeline would put the
     * connection out of step. */
    for (i = 0; i < nb; i++) {
        argv[0] = "HGETALL";
        argv[1] = key;
        argvlen[0] = 7;
        argvlen[1] = (size_t)snprintf(key, st->prefix_len + 2 + NUM_SIZE, "%sb:%lld", st->prefix,
                                      (long long)bucket_ms[i]);
        rc = append(st, 2, argv, argvlen, err, err_size);
        if (rc != FS_STORE_OK)
            goto done;
    }
    /* Replies are handled one at a time, so a long range never holds more
     * than one bucket in memory. After the callback stops or a bucket fails,
     * the rest is read and dropped to keep the connection in step. */
    st->round_trips++;
    for (i = 0; i < nb && st->ctx != NULL; i++) {
        redisReply *reply = NULL;
        int rr = next_reply(st, &reply, err, err_size);

        if (rr != FS_STORE_OK) {
            rc = rr;
            break;
        }
        if (rc == 0)
            rc = emit_bucket(st, reply, bucket_ms[i], cb, opaque, err, err_size);
        freeReplyObject(reply);
    }
    if (rc > 0)
        rc = FS_STORE_OK; /* the callback stopped early */
done:
    if (index != NULL)
        freeReplyObject(index);
    free(bucket_ms);
    free(key);
    return rc;
}

/* HGETALL of one of our hashes, cb per entry. */
static int each_entry(redis_store_t *st, const char *hash, fs_store_entry_cb cb, void *opaque,
                      char *err, size_t err_size)
{
    const char *argv[2] = {"HGETALL", hash};
    size_t argvlen[2] = {7, strlen(hash)};
    redisReply *reply = NULL;
    size_t i;
    int rc;

    if (cb == NULL)
        return fail(err, err_size, FS_STORE_EINVALID, "redis store: no callback");
    rc = command(st, 2, argv, argvlen, &reply, err, err_size);
    if (rc != FS_STORE_OK)
        return rc;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
        rc = reply_error(st, reply, "HGETALL", err, err_size);
        goto done;
    }
    for (i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            rc = fail(err, err_size, FS_STORE_EINVALID, "redis %s: HGETALL %s: bad reply",
                      st->address, hash);
            goto done;
        }
        if (cb(opaque, k->str, v->str) != 0)
            break;
    }
done:
    freeReplyObject(reply);
    return rc;
}

static int redis_read_hash(fs_store_t *store, fs_store_hash_t which, fs_store_blob_cb cb,
                           void *opaque, char *err, size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;
    const char *hash = which == FS_STORE_META ? st->k_meta : st->k_snapshot;
    const char *argv[2] = {"HGETALL", hash};
    size_t argvlen[2] = {7, strlen(hash)};
    redisReply *reply = NULL;
    int rc = command(st, 2, argv, argvlen, &reply, err, err_size);
    if (rc != FS_STORE_OK)
        return rc;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
        rc = reply_error(st, reply, "HGETALL", err, err_size);
        freeReplyObject(reply);
        return rc;
    }
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            rc = fail(err, err_size, FS_STORE_EINVALID, "redis %s: HGETALL %s: bad reply",
                      st->address, hash);
            break;
        }
        if (cb(opaque, k->str, v->str, v->len) != 0)
            break;
    }
    freeReplyObject(reply);
    return rc;
}

static int redis_alerts(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                        size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;

    return each_entry(st, st->k_alerts, cb, opaque, err, err_size);
}

static int redis_outbox(fs_store_t *store, fs_store_entry_cb cb, void *opaque, char *err,
                        size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;

    return each_entry(st, st->k_outbox, cb, opaque, err, err_size);
}

/* One PFCOUNT over the minute keys that cover [from_ms, to_ms): the union
 * of the users of those minutes, counted once each. */
static int redis_affected_users(fs_store_t *store, const char *slice, int64_t from_ms,
                                int64_t to_ms, int64_t *count, char *err, size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;
    redisReply *reply = NULL;
    const char **argv = NULL;
    size_t *argvlen = NULL, i, n_keys, key_size, slice_len;
    char *keys = NULL;
    int64_t first;
    int rc;

    if (slice == NULL || count == NULL || !time_ok(from_ms) || !time_ok(to_ms))
        return fail(err, err_size, FS_STORE_EINVALID,
                    "redis store: affected_users: invalid arguments");
    if (from_ms >= to_ms) {
        *count = 0;
        return FS_STORE_OK;
    }
    first = minute_of(from_ms);
    n_keys = (size_t)((to_ms - 1 - first) / MINUTE_MS) + 1;
    if (n_keys > MAX_MINUTE_KEYS)
        return fail(err, err_size, FS_STORE_EINVALID,
                    "redis store: affected_users: %zu minutes, more than %d", n_keys,
                    MAX_MINUTE_KEYS);
    slice_len = strlen(slice);
    key_size = st->prefix_len + 2 + NUM_SIZE + 1 + slice_len + 1;
    argv = malloc((n_keys + 1) * sizeof *argv);
    argvlen = malloc((n_keys + 1) * sizeof *argvlen);
    keys = malloc(n_keys * key_size);
    if (argv == NULL || argvlen == NULL || keys == NULL) {
        rc = fail(err, err_size, FS_STORE_EINVALID, "redis store: out of memory");
        goto done;
    }
    argv[0] = "PFCOUNT";
    argvlen[0] = 7;
    for (i = 0; i < n_keys; i++) {
        char *k = keys + i * key_size;
        int len = snprintf(k, key_size, "%su:%lld:", st->prefix,
                           (long long)(first + (int64_t)i * MINUTE_MS));

        memcpy(k + len, slice, slice_len + 1);
        argv[i + 1] = k;
        argvlen[i + 1] = (size_t)len + slice_len;
    }
    rc = command(st, (int)n_keys + 1, argv, argvlen, &reply, err, err_size);
    if (rc == FS_STORE_OK) {
        if (reply->type == REDIS_REPLY_INTEGER)
            *count = reply->integer;
        else
            rc = reply_error(st, reply, "PFCOUNT", err, err_size);
        freeReplyObject(reply);
    }
done:
    free(argv);
    free(argvlen);
    free(keys);
    return rc;
}

static int redis_ping(fs_store_t *store, char *err, size_t err_size)
{
    redis_store_t *st = (redis_store_t *)store;
    const char *argv[1] = {"PING"};
    size_t argvlen[1] = {4};
    redisReply *reply = NULL;
    int rc = command(st, 1, argv, argvlen, &reply, err, err_size);

    if (rc != FS_STORE_OK)
        return rc;
    if (reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "PONG") != 0)
        rc = reply_error(st, reply, "PING", err, err_size);
    freeReplyObject(reply);
    return rc;
}

static uint64_t redis_round_trips(const fs_store_t *store)
{
    return ((const redis_store_t *)store)->round_trips;
}

static void redis_free(fs_store_t *store)
{
    redis_store_t *st = (redis_store_t *)store;

    if (st == NULL)
        return;
    disconnect(st);
    free(st->address);
    free(st->host);
    free(st->path);
    free(st->prefix);
    free(st->user);
    free(st->password);
    free(st->k_offsets);
    free(st->k_alerts);
    free(st->k_outbox);
    free(st->k_buckets);
    free(st->k_meta);
    free(st->k_snapshot);
    free(st->k_staging);
    free(st);
}

static const fs_store_ops_t redis_ops = {
    .name = "redis",
    .commit = redis_commit,
    .offset = redis_offset,
    .buckets = redis_buckets,
    .alerts = redis_alerts,
    .outbox = redis_outbox,
    .affected_users = redis_affected_users,
    .read_hash = redis_read_hash,
    .ping = redis_ping,
    .round_trips = redis_round_trips,
    .free = redis_free,
};

/* Splits "host:port", "[v6]:port" or "/path" into st. */
static int parse_address(redis_store_t *st, const char *addr, char *err, size_t err_size)
{
    const char *colon, *host = addr;
    size_t host_len;
    int64_t port;

    if (addr[0] == '/') {
        st->path = strdup(addr);
        return st->path != NULL ? 0 : fail(err, err_size, -1, "redis store: out of memory");
    }
    colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || parse_i64(colon + 1, strlen(colon + 1), &port) != 0 ||
        port < 1 || port > 65535)
        return fail(err, err_size, -1,
                    "redis.address \"%s\": want HOST:PORT or the absolute path of a socket", addr);
    host_len = (size_t)(colon - addr);
    if (host_len >= 2 && host[0] == '[' && colon[-1] == ']') {
        host++;
        host_len -= 2;
    }
    if (host_len == 0)
        return fail(err, err_size, -1, "redis.address \"%s\": empty host", addr);
    st->host = strndup(host, host_len);
    if (st->host == NULL)
        return fail(err, err_size, -1, "redis store: out of memory");
    st->port = (int)port;
    return 0;
}

fs_store_t *fs_store_redis_open(const fs_config_t *cfg, char *err, size_t err_size)
{
    redis_store_t *st = NULL;

    if (cfg == NULL || cfg->redis_address == NULL || cfg->redis_address[0] == '\0' ||
        cfg->redis_prefix == NULL) {
        fail(err, err_size, -1, "redis store: no redis.address or redis.prefix");
        return NULL;
    }
    if (cfg->redis_timeout_ms < 1 || cfg->redis_timeout_ms > INT_MAX) {
        fail(err, err_size, -1, "redis.timeout: %lld ms is out of range",
             (long long)cfg->redis_timeout_ms);
        return NULL;
    }
    if (cfg->redis_retention_ms < 1 || cfg->redis_retention_ms > TIME_LIMIT) {
        fail(err, err_size, -1, "redis.retention: %lld ms is out of range",
             (long long)cfg->redis_retention_ms);
        return NULL;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        fail(err, err_size, -1, "redis store: out of memory");
        return NULL;
    }
    st->base.ops = &redis_ops;
    st->timeout.tv_sec = (time_t)(cfg->redis_timeout_ms / 1000);
    st->timeout.tv_usec = (suseconds_t)(cfg->redis_timeout_ms % 1000 * 1000);
    st->retention_ms = cfg->redis_retention_ms;
    if (parse_address(st, cfg->redis_address, err, err_size) != 0)
        goto fail;
    st->address = strdup(cfg->redis_address);
    st->prefix = strdup(cfg->redis_prefix);
    st->user = strdup(cfg->redis_user ? cfg->redis_user : "");
    st->password = strdup(cfg->redis_password ? cfg->redis_password : "");
    st->k_offsets = dup_printf("%soffsets", cfg->redis_prefix);
    st->k_alerts = dup_printf("%salerts", cfg->redis_prefix);
    st->k_outbox = dup_printf("%soutbox", cfg->redis_prefix);
    st->k_buckets = dup_printf("%sbuckets", cfg->redis_prefix);
    st->k_meta = dup_printf("%smeta", cfg->redis_prefix);
    st->k_snapshot = dup_printf("%ssnapshot", cfg->redis_prefix);
    st->k_staging = dup_printf("%ssnapshot:next", cfg->redis_prefix);
    if (st->address == NULL || st->prefix == NULL || st->user == NULL || st->password == NULL ||
        st->k_offsets == NULL || st->k_alerts == NULL || st->k_outbox == NULL ||
        st->k_buckets == NULL || st->k_meta == NULL || st->k_snapshot == NULL ||
        st->k_staging == NULL) {
        fail(err, err_size, -1, "redis store: out of memory");
        goto fail;
    }
    st->prefix_len = strlen(st->prefix);
    return &st->base;
fail:
    redis_free(&st->base);
    return NULL;
}
