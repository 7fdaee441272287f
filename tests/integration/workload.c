/*
 * workload.c: the end-to-end suite's deterministic events, their truth and
 * their producer (see workload.h). The truth is computed from the values
 * drawn here, by code that shares nothing with the detector: slice keys are
 * written out by hand from the default configuration.
 */
#include "tests/integration/workload.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- truth --------------------------------------------------------------- */

typedef struct cell {
    uint32_t slice; /* index into slices, UINT32_MAX = empty */
    int64_t bucket_ms;
    int64_t count[3]; /* attempts, failures, errors */
} cell_t;

struct fs_truth {
    char **slices;
    size_t n_slices, cap_slices;
    uint32_t *slice_index; /* open addressing over slice keys: index + 1, 0 = empty */
    size_t index_cap;
    cell_t *cells;
    size_t n_cells, cap_cells;
};

static uint64_t hash_bytes(const char *s, size_t len, uint64_t h)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t hash_cell(uint32_t slice, int64_t bucket_ms)
{
    uint64_t h =
        (uint64_t)bucket_ms * 0x9E3779B97F4A7C15ULL ^ (uint64_t)slice * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    return h * 0xBF58476D1CE4E5B9ULL;
}

fs_truth_t *fs_truth_new(void)
{
    fs_truth_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->index_cap = 1024;
    t->cap_cells = 4096;
    t->slice_index = calloc(t->index_cap, sizeof *t->slice_index);
    t->cells = malloc(t->cap_cells * sizeof *t->cells);
    if (!t->slice_index || !t->cells) {
        fs_truth_free(t);
        return NULL;
    }
    for (size_t i = 0; i < t->cap_cells; i++)
        t->cells[i].slice = UINT32_MAX;
    return t;
}

void fs_truth_free(fs_truth_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_slices; i++)
        free(t->slices[i]);
    free(t->slices);
    free(t->slice_index);
    free(t->cells);
    free(t);
}

/* The index of slice, or (create) a new one; UINT32_MAX if absent or OOM. */
static uint32_t slice_id(fs_truth_t *t, const char *slice, int create)
{
    size_t len = strlen(slice);
    size_t mask = t->index_cap - 1;
    size_t pos = hash_bytes(slice, len, 0xcbf29ce484222325ULL) & mask;
    while (t->slice_index[pos]) {
        uint32_t id = t->slice_index[pos] - 1;
        if (strcmp(t->slices[id], slice) == 0)
            return id;
        pos = (pos + 1) & mask;
    }
    if (!create)
        return UINT32_MAX;
    if (2 * (t->n_slices + 1) > t->index_cap) {
        /* Grow the index and re-insert every key. */
        size_t cap = 2 * t->index_cap;
        uint32_t *index = calloc(cap, sizeof *index);
        if (!index)
            return UINT32_MAX;
        for (size_t i = 0; i < t->n_slices; i++) {
            size_t p =
                hash_bytes(t->slices[i], strlen(t->slices[i]), 0xcbf29ce484222325ULL) & (cap - 1);
            while (index[p])
                p = (p + 1) & (cap - 1);
            index[p] = (uint32_t)i + 1;
        }
        free(t->slice_index);
        t->slice_index = index;
        t->index_cap = cap;
        return slice_id(t, slice, create);
    }
    if (t->n_slices == t->cap_slices) {
        size_t cap = t->cap_slices ? 2 * t->cap_slices : 64;
        char **grown = realloc(t->slices, cap * sizeof *grown);
        if (!grown)
            return UINT32_MAX;
        t->slices = grown;
        t->cap_slices = cap;
    }
    char *copy = strdup(slice);
    if (!copy)
        return UINT32_MAX;
    t->slices[t->n_slices] = copy;
    t->slice_index[pos] = (uint32_t)t->n_slices + 1;
    return (uint32_t)t->n_slices++;
}

static cell_t *find_cell(cell_t *cells, size_t cap, uint32_t slice, int64_t bucket_ms)
{
    size_t pos = hash_cell(slice, bucket_ms) & (cap - 1);
    while (cells[pos].slice != UINT32_MAX &&
           (cells[pos].slice != slice || cells[pos].bucket_ms != bucket_ms))
        pos = (pos + 1) & (cap - 1);
    return &cells[pos];
}

static int grow_cells(fs_truth_t *t)
{
    size_t cap = 2 * t->cap_cells;
    cell_t *cells = malloc(cap * sizeof *cells);
    if (!cells)
        return -1;
    for (size_t i = 0; i < cap; i++)
        cells[i].slice = UINT32_MAX;
    for (size_t i = 0; i < t->cap_cells; i++)
        if (t->cells[i].slice != UINT32_MAX)
            *find_cell(cells, cap, t->cells[i].slice, t->cells[i].bucket_ms) = t->cells[i];
    free(t->cells);
    t->cells = cells;
    t->cap_cells = cap;
    return 0;
}

int fs_truth_add(fs_truth_t *t, const char *slice, int64_t bucket_ms, int64_t attempts,
                 int64_t failures, int64_t errors)
{
    uint32_t id = slice_id(t, slice, 1);
    if (id == UINT32_MAX)
        return -1;
    if (2 * (t->n_cells + 1) > t->cap_cells && grow_cells(t) != 0)
        return -1;
    cell_t *c = find_cell(t->cells, t->cap_cells, id, bucket_ms);
    if (c->slice == UINT32_MAX) {
        c->slice = id;
        c->bucket_ms = bucket_ms;
        c->count[0] = c->count[1] = c->count[2] = 0;
        t->n_cells++;
    }
    c->count[0] += attempts;
    c->count[1] += failures;
    c->count[2] += errors;
    return 0;
}

static int nonzero(const cell_t *c)
{
    return c->count[0] != 0 || c->count[1] != 0 || c->count[2] != 0;
}

size_t fs_truth_cells(const fs_truth_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap_cells; i++)
        if (t->cells[i].slice != UINT32_MAX && nonzero(&t->cells[i]))
            n++;
    return n;
}

void fs_truth_totals(const fs_truth_t *t, const char *slice, int64_t out[3])
{
    out[0] = out[1] = out[2] = 0;
    uint32_t id = slice_id((fs_truth_t *)t, slice, 0);
    if (id == UINT32_MAX)
        return;
    for (size_t i = 0; i < t->cap_cells; i++)
        if (t->cells[i].slice == id)
            for (int k = 0; k < 3; k++)
                out[k] += t->cells[i].count[k];
}

/* A non-zero cell of one side, for the ordered comparison. */
typedef struct flat {
    const char *slice;
    int64_t bucket_ms;
    const int64_t *count;
} flat_t;

static int flat_cmp(const void *a, const void *b)
{
    const flat_t *x = a, *y = b;
    if (x->bucket_ms != y->bucket_ms)
        return x->bucket_ms < y->bucket_ms ? -1 : 1;
    return strcmp(x->slice, y->slice);
}

static flat_t *flatten(const fs_truth_t *t, size_t *n)
{
    flat_t *f = malloc((t->n_cells ? t->n_cells : 1) * sizeof *f);
    *n = 0;
    if (!f)
        return NULL;
    for (size_t i = 0; i < t->cap_cells; i++) {
        const cell_t *c = &t->cells[i];
        if (c->slice == UINT32_MAX || !nonzero(c))
            continue;
        f[*n].slice = t->slices[c->slice];
        f[*n].bucket_ms = c->bucket_ms;
        f[*n].count = c->count;
        (*n)++;
    }
    qsort(f, *n, sizeof *f, flat_cmp);
    return f;
}

static void appendf(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void appendf(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    va_list ap;
    if (*used + 1 >= size)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used = *used + (size_t)n < size ? *used + (size_t)n : size - 1;
}

size_t fs_truth_diff(const fs_truth_t *expected, const fs_truth_t *actual, char *report,
                     size_t size)
{
    static const int64_t zero[3] = {0, 0, 0};
    size_t ne, na, i = 0, j = 0, diffs = 0, used = 0;
    flat_t *e = flatten(expected, &ne), *a = flatten(actual, &na);
    int64_t te[3], ta[3];

    report[0] = '\0';
    if (!e || !a) {
        free(e);
        free(a);
        snprintf(report, size, "out of memory comparing counters");
        return (size_t)-1;
    }
    while (i < ne || j < na) {
        int c = i == ne ? 1 : j == na ? -1 : flat_cmp(&e[i], &a[j]);
        const flat_t *cell = c <= 0 ? &e[i] : &a[j];
        const int64_t *ce = c <= 0 ? e[i].count : zero;
        const int64_t *ca = c >= 0 ? a[j].count : zero;
        if (memcmp(ce, ca, sizeof zero) != 0) {
            if (diffs < 8)
                appendf(report, size, &used,
                        "%s[bucket %lld slice \"%s\": expected %lld/%lld/%lld, store has "
                        "%lld/%lld/%lld]",
                        diffs ? " " : "first differences (attempts/failures/errors): ",
                        (long long)cell->bucket_ms, cell->slice, (long long)ce[0], (long long)ce[1],
                        (long long)ce[2], (long long)ca[0], (long long)ca[1], (long long)ca[2]);
            diffs++;
        }
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    fs_truth_totals(expected, "", te);
    fs_truth_totals(actual, "", ta);
    appendf(report, size, &used,
            "%s%zu differing cells of %zu expected / %zu stored; all traffic expected "
            "%lld/%lld/%lld, stored %lld/%lld/%lld",
            diffs ? "; " : "", diffs, ne, na, (long long)te[0], (long long)te[1], (long long)te[2],
            (long long)ta[0], (long long)ta[1], (long long)ta[2]);
    free(e);
    free(a);
    return diffs;
}

/* ---- generator ----------------------------------------------------------- */

typedef struct weighted {
    const char *value;
    unsigned weight;
} weighted_t;

static const weighted_t countries[] = {{"US", 30}, {"BR", 15}, {"IN", 15}, {"DE", 10},
                                       {"JP", 10}, {"FR", 8},  {"GB", 7},  {"SE", 5}};
static const weighted_t platforms[] = {{"android", 45}, {"ios", 35}, {"web", 20}};
static const weighted_t versions[] = {{"5.3.1", 50}, {"5.4.0", 30}, {"5.2.0", 20}};
static const weighted_t cdns[] = {{"akamai", 40}, {"fastly", 35}, {"cloudfront", 25}};
static const weighted_t codes[] = {{"AUDIO_DECODE", 30},
                                   {"NETWORK_TIMEOUT", 25},
                                   {"DRM_LICENSE", 20},
                                   {"MANIFEST_404", 15},
                                   {"CDN_5XX", 10}};
#define COUNT(a) (sizeof(a) / sizeof(a)[0])

struct fs_workload {
    fs_wl_params_t params;
    uint64_t rng;
    fs_truth_t *truth;
    int second, index;   /* the next playback event: second and index within it */
    int error_pending;   /* the last playback event is followed by an error event */
    const char *dims[4]; /* its country, platform, app_version, cdn */
    char user[16];
    int64_t ts_ms;
    int have_peek; /* peek holds the next event, not yet counted */
    fs_wl_event_t peek;
    uint64_t count[2];
};

/* xorshift64*, the workload's only source of randomness. */
static uint64_t rnd(fs_workload_t *wl)
{
    wl->rng ^= wl->rng >> 12;
    wl->rng ^= wl->rng << 25;
    wl->rng ^= wl->rng >> 27;
    return wl->rng * 0x2545F4914F6CDD1DULL;
}

static double rnd_unit(fs_workload_t *wl)
{
    return (double)(rnd(wl) >> 11) * (1.0 / 9007199254740992.0);
}

static const char *pick(fs_workload_t *wl, const weighted_t *w, size_t n)
{
    unsigned total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i].weight;
    unsigned r = (unsigned)(rnd(wl) % total);
    for (size_t i = 0; i < n; i++) {
        if (r < w[i].weight)
            return w[i].value;
        r -= w[i].weight;
    }
    return w[n - 1].value;
}

void fs_wl_defaults(fs_wl_params_t *params, uint64_t seed, int duration_s, int rate)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    memset(params, 0, sizeof *params);
    params->seed = seed;
    params->duration_s = duration_s;
    params->rate = rate;
    params->failure_ratio = 0.01;
    params->error_ratio = 0.03;
    params->string_ts = 0.10;
    params->users = 20000;
    params->base_ms = ((int64_t)now.tv_sec - duration_s - 120) * 1000;
}

fs_workload_t *fs_wl_new(const fs_wl_params_t *params)
{
    if (params->rate <= 0 || params->rate > 1000 || params->duration_s <= 0 || params->users <= 0 ||
        params->users > 999999 || params->base_ms % 1000 != 0)
        return NULL;
    fs_workload_t *wl = calloc(1, sizeof *wl);
    if (!wl)
        return NULL;
    wl->params = *params;
    wl->rng = params->seed ? params->seed : 0x9E3779B97F4A7C15ULL;
    wl->truth = fs_truth_new();
    if (!wl->truth) {
        free(wl);
        return NULL;
    }
    return wl;
}

void fs_wl_free(fs_workload_t *wl)
{
    if (!wl)
        return;
    fs_truth_free(wl->truth);
    free(wl);
}

/* Civil date of days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

/* Writes ts as an RFC 3339 string: UTC or a +-hh:mm offset, with a fraction
 * of 3 or 6 digits (the extra digits must be truncated, not rounded). */
static int write_rfc3339(fs_workload_t *wl, int64_t ts_ms, char *out, size_t size)
{
    static const int offsets_min[] = {0, 0, 120, -300, 330, -90};
    int off = offsets_min[rnd(wl) % COUNT(offsets_min)];
    int64_t local = ts_ms + (int64_t)off * 60000;
    int64_t secs = local / 1000, ms = local % 1000;
    int64_t days = secs / 86400, rem = secs % 86400;
    int y;
    unsigned m, d;
    char frac[16], zone[16];
    civil(days, &y, &m, &d);
    if (rnd(wl) % 2)
        snprintf(frac, sizeof frac, ".%03lld", (long long)ms);
    else
        snprintf(frac, sizeof frac, ".%03lld%03u", (long long)ms, (unsigned)(rnd(wl) % 1000));
    if (off == 0)
        snprintf(zone, sizeof zone, "Z");
    else
        snprintf(zone, sizeof zone, "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60,
                 abs(off) % 60);
    return snprintf(out, size, "\"%04d-%02u-%02uT%02d:%02d:%02d%s%s\"", y, m, d, (int)(rem / 3600),
                    (int)(rem / 60 % 60), (int)(rem % 60), frac, zone);
}

static void add_truth(fs_workload_t *wl, const char *const dims[4], int64_t ts_ms, int failed,
                      const char *code)
{
    static const char *const names[4] = {"country", "platform", "app_version", "cdn"};
    /* The default pairs, as indices into dims: country+platform,
     * country+cdn, platform+app_version. */
    static const int pairs[3][2] = {{0, 1}, {0, 3}, {1, 2}};
    int64_t bucket = ts_ms - ts_ms % 1000;
    int64_t a = code ? 0 : 1, f = code ? 0 : failed, e = code ? 1 : 0;
    char key[256];

    fs_truth_add(wl->truth, "", bucket, a, f, e);
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "%s=%s", names[i], dims[i]);
        fs_truth_add(wl->truth, key, bucket, a, f, e);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s=%s,%s=%s", names[pairs[i][0]], dims[pairs[i][0]],
                 names[pairs[i][1]], dims[pairs[i][1]]);
        fs_truth_add(wl->truth, key, bucket, a, f, e);
    }
    if (code) {
        snprintf(key, sizeof key, "code=%s", code);
        fs_truth_add(wl->truth, key, bucket, a, f, e);
    }
}

/* Generates the next event into ev without counting it. Returns 0 at the end. */
static int generate(fs_workload_t *wl, fs_wl_event_t *ev)
{
    const fs_wl_params_t *pp = &wl->params;
    char ts[128];
    const char *extra = "";
    size_t n;

    if (!wl->error_pending && wl->second >= pp->duration_s)
        return 0;
    memset(ev, 0, offsetof(fs_wl_event_t, json));
    ev->code = NULL;
    if (wl->error_pending) {
        /* An error event of the same user and place, right after the attempt. */
        wl->error_pending = 0;
        ev->kind = FS_WL_ERROR;
    } else {
        ev->kind = FS_WL_PLAYBACK;
        wl->ts_ms = pp->base_ms + (int64_t)wl->second * 1000 + (int64_t)wl->index * 1000 / pp->rate;
        wl->dims[0] = pick(wl, countries, COUNT(countries));
        wl->dims[1] = pick(wl, platforms, COUNT(platforms));
        wl->dims[2] = pick(wl, versions, COUNT(versions));
        wl->dims[3] = pick(wl, cdns, COUNT(cdns));
        snprintf(wl->user, sizeof wl->user, "u%06u", (unsigned)(rnd(wl) % (uint64_t)pp->users));
        if (++wl->index == pp->rate) {
            wl->index = 0;
            wl->second++;
        }
    }
    ev->ts_ms = wl->ts_ms;
    memcpy(ev->dims, wl->dims, sizeof ev->dims);
    memcpy(ev->user, wl->user, sizeof ev->user);
    if (rnd_unit(wl) < pp->string_ts)
        write_rfc3339(wl, ev->ts_ms, ts, sizeof ts);
    else
        snprintf(ts, sizeof ts, "%lld", (long long)ev->ts_ms);
    /* A few events carry fields the contract does not name: ignored. */
    if (rnd(wl) % 50 == 0)
        extra = ",\"session\":{\"bitrate\":4500,\"tags\":[\"a\",null,true,1.5e3]},\"seq\":7";

    if (ev->kind == FS_WL_PLAYBACK) {
        const fs_wl_incident_t *inc = pp->incident;
        double p = pp->failure_ratio;
        int64_t rel = ev->ts_ms - pp->base_ms;
        if (inc && rel >= (int64_t)inc->start_s * 1000 && rel < (int64_t)inc->end_s * 1000 &&
            (!inc->country || strcmp(inc->country, wl->dims[0]) == 0) &&
            (!inc->platform || strcmp(inc->platform, wl->dims[1]) == 0))
            p *= inc->multiplier;
        int failed = rnd_unit(wl) < p;
        ev->failed = failed;
        n = (size_t)snprintf(ev->json, sizeof ev->json,
                             "{\"ts\":%s,\"outcome\":\"%s\",\"user_id\":\"%s\",\"country\":\"%s\","
                             "\"platform\":\"%s\",\"app_version\":\"%s\",\"cdn\":\"%s\"%s}",
                             ts, failed ? "failed" : "ok", wl->user, wl->dims[0], wl->dims[1],
                             wl->dims[2], wl->dims[3], extra);
        wl->error_pending = rnd_unit(wl) < pp->error_ratio;
    } else {
        const char *code = pick(wl, codes, COUNT(codes));
        ev->code = code;
        n = (size_t)snprintf(ev->json, sizeof ev->json,
                             "{\"code\":\"%s\",\"ts\":%s,\"country\":\"%s\",\"platform\":\"%s\","
                             "\"app_version\":\"%s\",\"cdn\":\"%s\",\"user_id\":\"%s\"%s}",
                             code, ts, wl->dims[0], wl->dims[1], wl->dims[2], wl->dims[3], wl->user,
                             extra);
    }
    ev->len = n;
    return 1;
}

/* Counts an event in the truth, from the values it was generated with. */
static void take(fs_workload_t *wl, const fs_wl_event_t *ev)
{
    add_truth(wl, ev->dims, ev->ts_ms, ev->failed, ev->code);
    wl->count[ev->kind]++;
}

int fs_wl_next(fs_workload_t *wl, fs_wl_event_t *ev)
{
    if (wl->have_peek) {
        *ev = wl->peek;
        wl->have_peek = 0;
    } else if (!generate(wl, ev)) {
        return 0;
    }
    take(wl, ev);
    return 1;
}

int64_t fs_wl_peek_ms(fs_workload_t *wl)
{
    if (!wl->have_peek) {
        if (!generate(wl, &wl->peek))
            return INT64_MAX;
        wl->have_peek = 1;
    }
    return wl->peek.ts_ms;
}

const fs_truth_t *fs_wl_truth(const fs_workload_t *wl)
{
    return wl->truth;
}

uint64_t fs_wl_count(const fs_workload_t *wl, fs_wl_kind_t kind)
{
    return wl->count[kind];
}

int64_t fs_wl_end_ms(const fs_workload_t *wl)
{
    return wl->params.base_ms + (int64_t)wl->params.duration_s * 1000;
}

/* ---- producer -------------------------------------------------------------- */

typedef struct delivery {
    int done;
    int32_t partition;
    int64_t offset;
} delivery_t;

struct fs_wl_producer {
    rd_kafka_t *rk;
    delivery_t *dr; /* by tag */
    size_t cap_dr;
    uint64_t failed;
    char first_error[256];
};

#define MAX_TAG 1000000

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    fs_wl_producer_t *prod = opaque;
    intptr_t tag = (intptr_t)msg->_private - 1;
    (void)rk;
    if (msg->err) {
        if (prod->failed++ == 0)
            snprintf(prod->first_error, sizeof prod->first_error, "%s", rd_kafka_err2str(msg->err));
        return;
    }
    if (tag >= 0 && (size_t)tag < prod->cap_dr) {
        prod->dr[tag].done = 1;
        prod->dr[tag].partition = msg->partition;
        prod->dr[tag].offset = msg->offset;
    }
}

fs_wl_producer_t *fs_wl_producer_new(const char *brokers, char *err, size_t err_size)
{
    static const char *const settings[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "20"},
        {"batch.size", "1000000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"message.timeout.ms", "60000"},
        {"client.id", "foreshock-e2e-workload"},
    };
    fs_wl_producer_t *prod = calloc(1, sizeof *prod);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!prod || !conf) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, err_size) != RD_KAFKA_CONF_OK)
        goto fail;
    for (size_t i = 0; i < COUNT(settings); i++)
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, err_size) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, prod);
    prod->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, err_size);
    if (!prod->rk)
        goto fail;
    return prod;
fail:
    if (conf && !(prod && prod->rk))
        rd_kafka_conf_destroy(conf);
    free(prod);
    return NULL;
}

void fs_wl_producer_free(fs_wl_producer_t *prod, int timeout_ms)
{
    if (!prod)
        return;
    if (prod->rk) {
        rd_kafka_flush(prod->rk, timeout_ms);
        rd_kafka_destroy(prod->rk);
    }
    free(prod->dr);
    free(prod);
}

int fs_wl_send(fs_wl_producer_t *prod, const char *topic, const char *key, const void *value,
               size_t len, long tag, char *err, size_t err_size)
{
    if (tag >= MAX_TAG) {
        snprintf(err, err_size, "tag %ld too large", tag);
        return -1;
    }
    if (tag >= 0 && (size_t)tag >= prod->cap_dr) {
        size_t cap = prod->cap_dr ? prod->cap_dr : 256;
        while (cap <= (size_t)tag)
            cap *= 2;
        delivery_t *grown = realloc(prod->dr, cap * sizeof *grown);
        if (!grown) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        memset(grown + prod->cap_dr, 0, (cap - prod->cap_dr) * sizeof *grown);
        prod->dr = grown;
        prod->cap_dr = cap;
    }
    /* A non-NULL pointer keeps an empty value empty rather than null. */
    static const char empty[1] = "";
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            prod->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
            RD_KAFKA_V_VALUE((void *)(len ? value : empty), len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)(tag >= 0 ? tag + 1 : 0)), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 600) {
            snprintf(err, err_size, "produce to %s: %s", topic, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(prod->rk, 100);
    }
}

int fs_wl_flush(fs_wl_producer_t *prod, int timeout_ms, char *err, size_t err_size)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(prod->rk, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_size, "flush: %s (%d messages left)", rd_kafka_err2str(e),
                 rd_kafka_outq_len(prod->rk));
        return -1;
    }
    if (prod->failed) {
        snprintf(err, err_size, "%llu deliveries failed, first: %s",
                 (unsigned long long)prod->failed, prod->first_error);
        return -1;
    }
    return 0;
}

int fs_wl_delivery(const fs_wl_producer_t *prod, long tag, int32_t *partition, int64_t *offset)
{
    if (tag < 0 || (size_t)tag >= prod->cap_dr || !prod->dr[tag].done)
        return -1;
    *partition = prod->dr[tag].partition;
    *offset = prod->dr[tag].offset;
    return 0;
}

long fs_wl_produce(fs_workload_t *wl, fs_wl_producer_t *prod, const char *playback_topic,
                   const char *error_topic, int64_t until_ms, char *err, size_t err_size)
{
    fs_wl_event_t ev;
    long sent = 0;
    while (fs_wl_peek_ms(wl) < until_ms && fs_wl_next(wl, &ev)) {
        if (fs_wl_send(prod, ev.kind == FS_WL_PLAYBACK ? playback_topic : error_topic, ev.user,
                       ev.json, ev.len, -1, err, err_size) != 0)
            return -1;
        sent++;
        if (sent % 1024 == 0)
            rd_kafka_poll(prod->rk, 0);
    }
    if (fs_wl_flush(prod, 60000, err, err_size) != 0)
        return -1;
    return sent;
}
