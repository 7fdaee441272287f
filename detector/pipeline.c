/*
 * pipeline.c: decode, slice, aggregate, evaluate, alert and flush (see
 * pipeline.h).
 *
 * Event time: each partition's watermark is its newest event time minus the
 * allowed lateness; a bucket closes when it ends at or before the smallest
 * watermark of the partitions that are not idle. An event older than the
 * oldest open bucket is late, one stamped beyond wall clock + future skew is
 * refused; neither touches a counter. An event beyond the open horizon
 * forces the oldest buckets closed, so one fast partition cannot make memory
 * grow.
 *
 * Exactly once: counters, users, offsets and alert decisions leave the
 * process only in one store batch; alert messages are handed to the sink
 * after their batch committed, and removed from the outbox in a later batch
 * once acknowledged.
 */
#include "detector/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/aggregate.h"
#include "detector/alert.h"
#include "detector/decode.h"
#include "detector/localize.h"
#include "detector/slices.h"
#include "models/model.h"

#define N_SIGNALS 3
#define LOCALIZE_HALFLIFE 30.0 /* buckets */
#define NOW_HALFLIFE 5.0       /* buckets: the short window, for what fails now */
#define HANDBACK_HALFLIFE 2.0  /* buckets: what a slice taking an incident back must fail over */
#define MAX_CANDIDATES 65536 /* slices localized at once (or slices.max if smaller) */
#define HANDOVER_BUCKETS 5 /* a handover must be named this long, so noise cannot flap it */
/* A slice whose excess a narrower slice may hold waits this long for it to fire or to show
 * it clearly (about as long as firing at once and handing over to it would take). */
#define HOLD_BUCKETS (2 * HANDOVER_BUCKETS)
#define MAX_PARTITIONS 4096
/* A slice superseded by a containing one fires again once, when the incident
 * narrows back to it (named for HANDOVER_BUCKETS, or when the containing
 * alert resolves while it is named). */
#define SUPERSEDED_BY_WIDER 2
#define STATE_ALIGN 16

typedef struct partition {
    char *topic;
    int32_t partition;
    fs_event_kind_t kind;
    int64_t stored;  /* offset the store holds (the fence) */
    int64_t applied; /* last offset processed */
    int64_t max_ts;  /* newest event time seen, INT64_MIN before any */
    int64_t next_ts; /* time of an event the caller holds back, INT64_MIN if none */
    int64_t last_wall_ms;
    int active;
    int at_end; /* the consumer reached the end of the partition */
} partition_t;

/* An alert of one slice and signal that is open (firing). */
typedef struct open_alert {
    int open;
    int64_t starts_at_ms, detected_at_ms;
    const char *severity;
} open_alert_t;

/* What localization compares: recent excess and traffic, decayed with a
 * half-life of LOCALIZE_HALFLIFE buckets, so slices judged over different
 * windows are measured alike. */
typedef struct recent {
    double excess;
    double traffic;
    /* The same over a half-life of NOW_HALFLIFE buckets (not persisted: a
     * restored slice rebuilds it within a few buckets). */
    double excess_now;
    double traffic_now;
    /* And over HANDBACK_HALFLIFE buckets, the last few. */
    double excess_last;
    double traffic_last;
} recent_t;

typedef struct slice_state {
    int initialized;
    uint32_t buckets_seen;
    double expected[N_SIGNALS]; /* last baseline, the prior for children */
    open_alert_t alert[N_SIGNALS];
    uint8_t candidate[N_SIGNALS]; /* the model fires with enough impact */
    uint8_t explained[N_SIGNALS]; /* was explained by another alert while firing */
    uint16_t named[N_SIGNALS];    /* consecutive buckets the localizer named it */
    uint8_t held[N_SIGNALS];      /* consecutive buckets it waited for a narrower slice */
    int64_t ended_ms[N_SIGNALS];  /* when its last alert resolved, 0 if none yet */
    uint32_t cand_at;             /* its index among the candidates being localized */
    uint8_t superseded[N_SIGNALS]; /* its alert was handed over in this episode: 1, or
                                      SUPERSEDED_BY_WIDER (it may take the incident back) */
    uint8_t handed_back[N_SIGNALS]; /* it took an incident back from a wider slice */
    recent_t recent[N_SIGNALS];
    fs_model_verdict_t verdict[N_SIGNALS]; /* of the last closed bucket */
} slice_state_t;

/* The head of a slice's snapshot record; its model states follow. */
#define SNAPSHOT_VERSION 2
#define SUPERSEDED_MARK "superseded\t"
typedef struct persisted_slice {
    uint32_t version;
    uint32_t buckets_seen;
    double expected[N_SIGNALS];
    double recent_excess[N_SIGNALS];
    double recent_traffic[N_SIGNALS];
} persisted_slice_t;

/*
 * A model snapshot on its way to the store: the records are frozen when it
 * is taken and go out in parts of at most detect.snapshot_chunk slices, one
 * per batch (store.h, FS_SNAPSHOT_*), so that no Redis call and no copy on
 * the way holds the state of every slice at once.
 */
typedef struct snapshot_out {
    fs_blob_put_t *entries; /* NULL: no snapshot under way; keys and values in data */
    unsigned char *data;
    size_t n, sent;
    int64_t wm;  /* the watermark it was taken at */
    char at[32]; /* wm in text, for the meta hash */
} snapshot_out_t;

/* An alert state change waiting for the next batch. */
typedef struct alert_put {
    char fingerprint[FS_ALERT_FINGERPRINT_LEN + 1];
    char id[FS_ALERT_ID_LEN + 1];
    char *state;   /* NULL: resolved */
    char *message;
} alert_put_t;

typedef struct user_add {
    uint32_t slice;
    int64_t bucket_ms;
    uint32_t offset, len; /* into the user arena */
} user_add_t;

struct fs_pipeline {
    const fs_config_t *cfg;
    fs_store_t *store;
    fs_pipeline_sink_t sink;
    fs_decoder_t *decoder;
    fs_slices_t *slices;
    fs_aggregate_t *agg;

    const fs_model_vtable_t *models[N_SIGNALS];
    fs_model_params_t params[N_SIGNALS];
    size_t state_offset[N_SIGNALS];
    size_t state_stride;
    unsigned char *model_states; /* max_slices * state_stride */
    slice_state_t *states;       /* max_slices */
    size_t max_slices;
    double warmup_buckets;

    partition_t parts[MAX_PARTITIONS];
    int n_parts;

    user_add_t *users;
    size_t n_users, cap_users;
    char *user_arena;
    size_t arena_len, arena_cap;

    alert_put_t *puts;
    size_t n_puts, cap_puts;
    char **delivered;
    size_t n_delivered, cap_delivered;
    size_t delivered_in_batch; /* how many of delivered the current batch carries */

    int64_t newest_ts; /* newest applied event time */
    int silent;        /* re-evaluating restored buckets: no alert decisions */
    fs_localizer_t *localizer;
    fs_loc_candidate_t *cands;
    uint32_t *cand_ids;
    size_t max_cands;
    uint32_t *reported; /* indices of the candidates the localizer named */
    double decay;      /* per bucket, for recent_t */
    double decay_now;  /* per bucket, for recent_t's short window */
    double decay_last; /* per bucket, for recent_t's last few buckets */
    uint64_t events_flushed; /* stats.events when the last batch went to the store */
    int64_t snapshot_wm;     /* watermark of the last model snapshot written whole */
    snapshot_out_t snapshot; /* the one being written, if any */
    char format[160];  /* what a snapshot record holds, to refuse foreign ones */
    fs_pipeline_stats_t stats;
    size_t threshold_for_live; /* live slice count the thresholds were computed for */
};

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc(*array, cap2 * elem);
    if (!grown)
        return -1;
    *array = grown;
    *cap = cap2;
    return 0;
}

static void free_puts(fs_pipeline_t *p)
{
    for (size_t i = 0; i < p->n_puts; i++) {
        free(p->puts[i].state);
        free(p->puts[i].message);
    }
    p->n_puts = 0;
}

/* Forgets the snapshot under way, if any. */
static void drop_snapshot(fs_pipeline_t *p)
{
    free(p->snapshot.entries);
    free(p->snapshot.data);
    memset(&p->snapshot, 0, sizeof p->snapshot);
}

void fs_pipeline_free(fs_pipeline_t *p)
{
    if (!p)
        return;
    fs_decoder_free(p->decoder);
    fs_localizer_free(p->localizer);
    free(p->cands);
    free(p->cand_ids);
    free(p->reported);
    fs_slices_free(p->slices);
    fs_aggregate_free(p->agg);
    free(p->model_states);
    free(p->states);
    for (int i = 0; i < p->n_parts; i++)
        free(p->parts[i].topic);
    free(p->users);
    free(p->user_arena);
    free_puts(p);
    free(p->puts);
    for (size_t i = 0; i < p->n_delivered; i++)
        free(p->delivered[i]);
    free(p->delivered);
    drop_snapshot(p);
    free(p);
}

/* Recomputes the models' thresholds from the false-alarm budget. */
static void update_thresholds(fs_pipeline_t *p)
{
    size_t live = fs_slices_count(p->slices);
    if (live == p->threshold_for_live)
        return;
    double bucket_s = (double)p->cfg->window_bucket_ms / 1000.0;
    /* The budget is shared equally by the signals, and within a signal by
     * every test of every live slice. */
    double per_signal = p->cfg->detect_false_alarms_per_day / N_SIGNALS;
    for (int s = 0; s < N_SIGNALS; s++)
        p->params[s].threshold =
            fs_model_threshold(p->models[s], per_signal, (double)(live ? live : 1), bucket_s);
    p->threshold_for_live = live;
}

fs_pipeline_t *fs_pipeline_new(const fs_config_t *cfg, fs_store_t *store,
                               const fs_pipeline_sink_t *sink, char *err, size_t err_size)
{
    fs_pipeline_t *p = calloc(1, sizeof *p);
    uint8_t pairs[2 * 64];
    size_t n_pairs = 0;
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->store = store;
    p->sink = *sink;
    p->max_slices = (size_t)cfg->slices_max;
    p->newest_ts = INT64_MIN;

    p->decoder = fs_decoder_new((const char *const *)cfg->dimensions.items, cfg->dimensions.n,
                                err, err_size);
    if (!p->decoder)
        goto fail;
    for (size_t i = 0; i < cfg->slices_pairs.n && n_pairs < 64; i++) {
        const char *pair = cfg->slices_pairs.items[i];
        const char *plus = strchr(pair, '+');
        for (size_t d = 0; d < cfg->dimensions.n; d++) {
            const char *dim = cfg->dimensions.items[d];
            if (strlen(dim) == (size_t)(plus - pair) && memcmp(dim, pair, strlen(dim)) == 0)
                pairs[2 * n_pairs] = (uint8_t)d;
            if (strcmp(dim, plus + 1) == 0)
                pairs[2 * n_pairs + 1] = (uint8_t)d;
        }
        n_pairs++;
    }
    p->slices = fs_slices_new((const char *const *)cfg->dimensions.items, cfg->dimensions.n,
                              pairs, n_pairs, cfg->slices_error_codes, p->max_slices, err,
                              err_size);
    if (!p->slices)
        goto fail;
    size_t n_frames = (size_t)(cfg->window_horizon_ms / cfg->window_bucket_ms) + 1;
    p->agg = fs_aggregate_new(cfg->window_bucket_ms, n_frames, p->max_slices, err, err_size);
    if (!p->agg)
        goto fail;

    double bucket_s = (double)cfg->window_bucket_ms / 1000.0;
    p->warmup_buckets = (double)cfg->detect_warmup_ms / (double)cfg->window_bucket_ms;
    size_t offset = 0;
    for (int s = 0; s < N_SIGNALS; s++) {
        p->models[s] = fs_model_default((fs_signal_t)s);
        p->params[s].bucket_seconds = bucket_s;
        p->params[s].baseline_halflife =
            (double)cfg->detect_halflife_ms / (double)cfg->window_bucket_ms;
        p->params[s].warmup_buckets = p->warmup_buckets;
        p->params[s].min_rate_ratio = 2.0;
        p->state_offset[s] = offset;
        offset += (p->models[s]->state_size + STATE_ALIGN - 1) / STATE_ALIGN * STATE_ALIGN;
    }
    p->state_stride = offset;
    /* calloc: pages of slices never used are never touched. */
    p->model_states = calloc(p->max_slices, p->state_stride);
    p->states = calloc(p->max_slices, sizeof *p->states);
    if (!p->model_states || !p->states) {
        snprintf(err, err_size, "out of memory for %zu slices", p->max_slices);
        goto fail;
    }
    p->threshold_for_live = SIZE_MAX;
    update_thresholds(p);
    p->max_cands = p->max_slices < MAX_CANDIDATES ? p->max_slices : MAX_CANDIDATES;
    p->localizer = fs_localizer_new(p->max_cands, (double)cfg->detect_min_excess);
    p->cands = malloc(p->max_cands * sizeof *p->cands);
    p->cand_ids = malloc(p->max_cands * sizeof *p->cand_ids);
    p->reported = malloc(p->max_cands * sizeof *p->reported);
    if (!p->localizer || !p->cands || !p->cand_ids || !p->reported) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    p->decay = pow(0.5, 1.0 / LOCALIZE_HALFLIFE);
    p->decay_now = pow(0.5, 1.0 / NOW_HALFLIFE);
    p->decay_last = pow(0.5, 1.0 / HANDBACK_HALFLIFE);
    p->snapshot_wm = INT64_MIN;
    snprintf(p->format, sizeof p->format, "v%d record=%zu stride=%zu models=%s,%s,%s",
             SNAPSHOT_VERSION, sizeof(persisted_slice_t), p->state_stride, p->models[0]->name,
             p->models[1]->name, p->models[2]->name);
    return p;
fail:
    fs_pipeline_free(p);
    return NULL;
}

int fs_pipeline_add_partition(fs_pipeline_t *p, const char *topic, int32_t partition,
                              fs_event_kind_t kind, int64_t stored)
{
    int handle = -1;
    for (int i = 0; i < p->n_parts; i++)
        if (p->parts[i].partition == partition && strcmp(p->parts[i].topic, topic) == 0)
            handle = i;
    if (handle < 0) {
        if (p->n_parts >= MAX_PARTITIONS)
            return -1;
        char *copy = strdup(topic);
        if (!copy)
            return -1;
        handle = p->n_parts++;
        memset(&p->parts[handle], 0, sizeof p->parts[handle]);
        p->parts[handle].topic = copy;
        p->parts[handle].partition = partition;
        p->parts[handle].max_ts = INT64_MIN;
    }
    partition_t *part = &p->parts[handle];
    part->kind = kind;
    part->stored = stored;
    part->applied = stored;
    part->active = 1;
    part->at_end = 0;
    part->next_ts = INT64_MIN;
    part->last_wall_ms = INT64_MIN;
    return handle;
}

void fs_pipeline_partition_at_end(fs_pipeline_t *p, int handle)
{
    if (handle >= 0 && handle < p->n_parts)
        p->parts[handle].at_end = 1;
}

void fs_pipeline_touch(fs_pipeline_t *p, int64_t now_ms)
{
    for (int i = 0; i < p->n_parts; i++)
        if (p->parts[i].active && p->parts[i].last_wall_ms != INT64_MIN)
            p->parts[i].last_wall_ms = now_ms;
}

void fs_pipeline_remove_partition(fs_pipeline_t *p, int handle)
{
    if (handle >= 0 && handle < p->n_parts)
        p->parts[handle].active = 0;
}

/* ---- evaluation ---- */

/* Impact of a verdict: excess failures or errors, or missing attempts. */
static double excess_of(fs_signal_t signal, const fs_model_verdict_t *v, double bucket_s)
{
    double buckets = v->window_seconds / bucket_s;
    switch (signal) {
    case FS_SIGNAL_FAILURE_RATIO:
        return v->window_x - v->expected * v->window_n;
    case FS_SIGNAL_ERROR_COUNT:
        return v->window_x - v->expected * buckets;
    default:
        return v->expected * buckets - v->window_x;
    }
}

static char *dup_or_null(const char *s, long len)
{
    if (len < 0)
        return NULL;
    char *copy = malloc((size_t)len + 1);
    if (copy)
        memcpy(copy, s, (size_t)len + 1);
    return copy;
}

/* Queues an alert message and state change for the next batch. */
static void queue_alert(fs_pipeline_t *p, const fs_alert_t *a)
{
    char message[16384], state[2048];
    if (grow((void **)&p->puts, &p->cap_puts, p->n_puts + 1, sizeof *p->puts) != 0)
        return;
    alert_put_t *put = &p->puts[p->n_puts];
    fs_alert_fingerprint(a->signal, a->slice, put->fingerprint);
    fs_alert_id(a, put->id);
    put->message = dup_or_null(message, fs_alert_format(a, message, sizeof message));
    put->state = NULL;
    if (a->firing) {
        put->state = dup_or_null(state, fs_alert_state_format(a, state, sizeof state));
    } else if (a->superseded_by) {
        /* Remembered across restarts: a handed-over slice does not fire
         * again in the same episode. */
        int n = snprintf(state, sizeof state, "%s%d\t%s", SUPERSEDED_MARK, (int)a->signal,
                         a->slice);
        put->state = dup_or_null(state, n < (int)sizeof state ? n : -1);
    }
    if (!put->message || ((a->firing || a->superseded_by) && !put->state)) {
        free(put->message);
        free(put->state);
        return;
    }
    p->n_puts++;
}

/* Forgets a superseded marker (state only, no message). */
static void queue_forget(fs_pipeline_t *p, fs_signal_t s, const char *slice)
{
    if (grow((void **)&p->puts, &p->cap_puts, p->n_puts + 1, sizeof *p->puts) != 0)
        return;
    alert_put_t *put = &p->puts[p->n_puts++];
    fs_alert_fingerprint(s, slice, put->fingerprint);
    put->id[0] = '\0';
    put->state = NULL;
    put->message = NULL;
}

static int64_t affected_users(fs_pipeline_t *p, const char *slice, int64_t from, int64_t to)
{
    int64_t count = -1;
    char err[256];
    if (fs_store_affected_users(p->store, slice, from, to, &count, err, sizeof err) != 0)
        return -1;
    return count;
}

/* The severity of an alert from its impact (see the severity.* keys). */
static const char *severity_of(const fs_pipeline_t *p, int64_t users, double share)
{
    if (users >= p->cfg->severity_critical_users ||
        (share == share && share >= p->cfg->severity_critical_share))
        return "critical";
    if (users < 0 || users >= p->cfg->severity_warning_users)
        return "warning";
    return "info";
}

/* Recent share of all attempts carried by slice id, or NAN. */
static double traffic_share(const fs_pipeline_t *p, uint32_t id)
{
    double all = p->states[FS_SLICE_ALL].recent[FS_SIGNAL_FAILURE_RATIO].traffic;
    double own = p->states[id].recent[FS_SIGNAL_FAILURE_RATIO].traffic;
    return all > 0 ? own / all : NAN;
}

static void fill_alert(fs_pipeline_t *p, uint32_t id, fs_signal_t s, fs_alert_t *a)
{
    slice_state_t *st = &p->states[id];
    memset(a, 0, sizeof *a);
    a->signal = s;
    a->slice = fs_slices_key(p->slices, id);
    a->verdict = st->verdict[s];
    a->excess = excess_of(s, &st->verdict[s], p->params[s].bucket_seconds);
    a->traffic_share = traffic_share(p, id);
}

static void fire(fs_pipeline_t *p, uint32_t id, fs_signal_t s, int64_t now_ms)
{
    open_alert_t *oa = &p->states[id].alert[s];
    fs_alert_t a;
    fill_alert(p, id, s, &a);
    oa->open = 1;
    oa->starts_at_ms = a.verdict.onset_ms;
    oa->detected_at_ms = now_ms;
    a.firing = 1;
    a.starts_at_ms = oa->starts_at_ms;
    a.detected_at_ms = now_ms;
    a.ends_at_ms = FS_ALERT_NULL_TIME;
    a.affected_users = affected_users(p, a.slice, oa->starts_at_ms, now_ms);
    oa->severity = severity_of(p, a.affected_users, a.traffic_share);
    a.severity = oa->severity;
    queue_alert(p, &a);
    p->stats.alerts_fired++;
    p->stats.open_alerts++;
}

static void resolve(fs_pipeline_t *p, uint32_t id, fs_signal_t s, int64_t now_ms,
                    const char *superseded_by)
{
    open_alert_t *oa = &p->states[id].alert[s];
    fs_alert_t a;
    fill_alert(p, id, s, &a);
    a.firing = 0;
    a.starts_at_ms = oa->starts_at_ms;
    a.detected_at_ms = oa->detected_at_ms;
    a.ends_at_ms = now_ms;
    a.severity = oa->severity;
    a.superseded_by = superseded_by;
    a.affected_users = affected_users(p, a.slice, oa->starts_at_ms, now_ms);
    queue_alert(p, &a);
    oa->open = 0;
    p->states[id].ended_ms[s] = now_ms;
    p->stats.alerts_resolved++;
    p->stats.open_alerts--;
}

/* Whether one canonical key's parts include all of the other's. */
static int key_contains(const char *wide, const char *narrow)
{
    /* Parts are separated by unescaped ','; compare as sets. */
    const char *p = wide;
    if (!*p)
        return 1;
    while (*p) {
        const char *q = p;
        while (*q && *q != ',') {
            if (*q == '\\' && q[1])
                q++;
            q++;
        }
        size_t len = (size_t)(q - p);
        int found = 0;
        for (const char *r = narrow; *r && !found;) {
            const char *t = r;
            while (*t && *t != ',') {
                if (*t == '\\' && t[1])
                    t++;
                t++;
            }
            found = (size_t)(t - r) == len && memcmp(r, p, len) == 0;
            r = *t == ',' ? t + 1 : t;
        }
        if (!found)
            return 0;
        p = *q == ',' ? q + 1 : q;
    }
    return 1;
}

/* Whether an alert of signal s is open on a slice containing slice id. */
static int inside_open(const fs_pipeline_t *p, uint32_t id, fs_signal_t s)
{
    const char *mine = fs_slices_key(p->slices, id);
    uint32_t cap = fs_slices_capacity(p->slices);
    for (uint32_t o = 0; o < cap; o++)
        if (o != id && fs_slices_live(p->slices, o) && p->states[o].alert[s].open &&
            key_contains(fs_slices_key(p->slices, o), mine))
            return 1;
    return 0;
}

/* Whether slice id still fails over the last few buckets (half-life
 * HANDBACK_HALFLIFE): a quarter of the paging minimum, and 5 standard
 * deviations of the decayed count. A slice whose burst ended with the wide
 * part of the incident does not, within seconds, however large its recent
 * excess. */
static int fails_last(const fs_pipeline_t *p, uint32_t id, fs_signal_t s)
{
    const slice_state_t *st = &p->states[id];
    double e = st->expected[s];
    if (!(e > 0))
        return 1;
    double expected =
        s == FS_SIGNAL_FAILURE_RATIO ? e * st->recent[s].traffic_last : e / (1 - p->decay_last);
    double var = expected > 1 ? expected : 1;
    double excess = st->recent[s].excess_last;
    return excess >= 0.25 * (double)p->cfg->detect_min_excess &&
           excess >= 5 * sqrt(var / (1 + p->decay_last));
}

/* Slice id, superseded by a containing slice in this episode, takes the
 * incident back: it fires again (same startsAt, its model has fired all
 * along), once per episode. */
static void hand_back(fs_pipeline_t *p, uint32_t id, fs_signal_t s, int64_t now_ms)
{
    slice_state_t *st = &p->states[id];
    st->superseded[s] = 0;
    st->handed_back[s] = 1;
    fire(p, id, s, now_ms);
}

/* Whether slice id, whose model has fired since onset_ms, lies inside a
 * slice whose alert of signal s resolved since then: it is the tail of that
 * incident (a small slice that crossed its threshold late), not a new one. */
static int tail_of_resolved(const fs_pipeline_t *p, uint32_t id, fs_signal_t s, int64_t onset_ms)
{
    const char *mine = fs_slices_key(p->slices, id);
    uint32_t cap = fs_slices_capacity(p->slices);
    /* An error code's errors come from every slice: a slice's errors lie
     * partly inside each code's (the tail of a code storm, AT x web). */
    int coded = fs_slices_kind(p->slices, id) != FS_SLICE_KIND_CODE;
    for (uint32_t o = 0; o < cap; o++) {
        const slice_state_t *st = &p->states[o];
        if (o != id && fs_slices_live(p->slices, o) && !st->alert[s].open &&
            st->ended_ms[s] != 0 && st->ended_ms[s] >= onset_ms &&
            (key_contains(fs_slices_key(p->slices, o), mine) ||
             (coded && fs_slices_kind(p->slices, o) == FS_SLICE_KIND_CODE)))
            return 1;
    }
    return 0;
}

/* Whether an alert of signal s is open, with its model still firing, on a
 * slice containing or contained in slice id: one it can take over from. */
static int handover_possible(const fs_pipeline_t *p, uint32_t id, fs_signal_t s)
{
    const char *mine = fs_slices_key(p->slices, id);
    uint32_t cap = fs_slices_capacity(p->slices);
    for (uint32_t o = 0; o < cap; o++) {
        const slice_state_t *st = &p->states[o];
        if (o == id || !fs_slices_live(p->slices, o) || !st->alert[s].open || !st->candidate[s])
            continue;
        const char *other = fs_slices_key(p->slices, o);
        if (key_contains(other, mine) || key_contains(mine, other))
            return 1;
    }
    return 0;
}

static double recent_traffic(void *opaque, const char *key, size_t len)
{
    const fs_pipeline_t *p = opaque;
    uint32_t id = fs_slices_find(p->slices, key, len);
    return id == FS_SLICE_NONE ? 0 : p->states[id].recent[FS_SIGNAL_FAILURE_RATIO].traffic;
}

/* Whether a slice kind carries a signal: code slices only count errors. */
static int has_signal(fs_slice_kind_t kind, fs_signal_t s)
{
    return kind != FS_SLICE_KIND_CODE || s == FS_SIGNAL_ERROR_COUNT;
}

/* Expected failures, errors or attempts of slice st over the recent window
 * (what its recent excess is measured against), from the model's current
 * baseline, which is frozen while the slice fires; 0 if not known yet. */
static double recent_expected(const fs_pipeline_t *p, const slice_state_t *st, fs_signal_t s)
{
    double e = st->expected[s];
    if (!(e > 0))
        return 0;
    if (s == FS_SIGNAL_FAILURE_RATIO)
        return e * st->recent[s].traffic;
    /* Counts: the baseline per bucket times the decayed number of buckets. */
    return e * (1 - pow(p->decay, (double)st->buckets_seen)) / (1 - p->decay);
}

/* The same over the short window (0 until the slice has seen as many
 * buckets as the short window's half-life, or after a restore). */
static double recent_expected_now(const fs_pipeline_t *p, const slice_state_t *st, fs_signal_t s)
{
    double e = st->expected[s];
    if (!(e > 0) || st->recent[s].traffic_now <= 0 || st->buckets_seen < NOW_HALFLIFE)
        return 0;
    if (s == FS_SIGNAL_FAILURE_RATIO)
        return e * st->recent[s].traffic_now;
    return e * (1 - pow(p->decay_now, (double)st->buckets_seen)) / (1 - p->decay_now);
}

/* Adds slice id to the candidates of signal s. */
static void add_candidate(fs_pipeline_t *p, uint32_t id, fs_signal_t s, size_t n, int pending)
{
    slice_state_t *st = &p->states[id];
    fs_loc_candidate_t *c = &p->cands[n];
    p->cand_ids[n] = id;
    st->cand_at = (uint32_t)n;
    memset(c, 0, sizeof *c);
    c->key = fs_slices_key(p->slices, id);
    c->excess = st->recent[s].excess > 0 ? st->recent[s].excess : 0;
    c->traffic = st->recent[s].traffic;
    c->expected = recent_expected(p, st, s);
    c->open = st->alert[s].open;
    c->pending = pending;
    c->excess_now = st->recent[s].excess_now;
    c->expected_now = recent_expected_now(p, st, s);
}

/*
 * One alert per incident, per signal: the firing slices go through the
 * localizer; the slices it names are alerted, every other open alert of the
 * signal resolves (its slice is back to normal, or a related slice now
 * explains it: a handover, fired in the same batch so there is no gap).
 * Slices that do not fire but hold at least half the paging minimum of
 * recent excess go along as pending, so that a slice whose narrower part
 * holds the incident but has not fired yet waits for it (HOLD_BUCKETS at
 * most) instead of firing and handing over a few seconds later.
 */
static void localize_and_alert(fs_pipeline_t *p, fs_signal_t s, int64_t now_ms)
{
    uint32_t cap = fs_slices_capacity(p->slices);
    size_t n = 0;
    /* Firing slices first, in index order, so all traffic and the slices
     * that appeared first are kept when more than max_cands fire at once. */
    for (uint32_t id = 0; id < cap; id++) {
        if (!fs_slices_live(p->slices, id))
            continue;
        p->states[id].cand_at = UINT32_MAX;
        if (p->states[id].candidate[s] && n < p->max_cands)
            add_candidate(p, id, s, n++, 0);
    }
    double pending_min = 0.5 * (double)p->cfg->detect_min_excess;
    for (uint32_t id = 0; id < cap && n < p->max_cands; id++)
        if (fs_slices_live(p->slices, id) && !p->states[id].candidate[s] &&
            p->states[id].recent[s].excess >= pending_min &&
            has_signal(fs_slices_kind(p->slices, id), s))
            add_candidate(p, id, s, n++, 1);
    fs_localize(p->localizer, p->cands, n, p->cfg->localize_share, recent_traffic, p);

    /* New alerts first, so that a handover never leaves a moment with no
     * alert open. */
    size_t n_reported = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = p->cand_ids[i];
        slice_state_t *st = &p->states[id];
        const fs_loc_candidate_t *c = &p->cands[i];
        if (c->pending)
            continue;
        if (c->report)
            p->reported[n_reported++] = (uint32_t)i;
        if (!c->report) {
            st->named[s] = 0;
            if (c->held != 1 || st->alert[s].open) {
                /* Explained by another slice (marked below, once the new
                 * alerts are open), or waiting with one. */
                st->held[s] = 0;
                continue;
            }
            /* Waiting for a narrower slice to fire; alerted after
             * HOLD_BUCKETS if it does not. */
            if (st->held[s] < UINT8_MAX)
                st->held[s]++;
            if (st->held[s] < HOLD_BUCKETS)
                continue;
        } else {
            st->held[s] = 0;
            if (st->named[s] < UINT16_MAX)
                st->named[s]++;
        }
        if (st->alert[s].open)
            continue;
        /* Handed over to a containing slice, named again for as long as a
         * handover takes (at once if the containing alert has resolved) and
         * failing now: the incident narrows back (the wide part ended, this
         * part goes on); the containing alert resolves below, superseded by
         * this one. */
        if (st->superseded[s] == SUPERSEDED_BY_WIDER && c->report && fails_last(p, id, s) &&
            (st->named[s] >= HANDOVER_BUCKETS || !inside_open(p, id, s))) {
            hand_back(p, id, s, now_ms);
            continue;
        }
        /* A slice that another alert explained earlier in this episode
         * speaks up only to take over from a containing or contained alert
         * whose model still fires (the incident spreads or narrows); not
         * beside an overlapping one, and not in the tail of an incident whose
         * alert has resolved, even if it was never a candidate while the
         * alert was open. */
        if (st->superseded[s] || (st->explained[s] && (st->named[s] < HANDOVER_BUCKETS ||
                                                       !handover_possible(p, id, s))))
            continue;
        if (!st->explained[s] && tail_of_resolved(p, id, s, st->verdict[s].onset_ms)) {
            st->explained[s] = 1;
            continue;
        }
        fire(p, id, s, now_ms);
    }
    /* A slice is explained when the slice that explains it has an alert
     * open: not when that one waits, or is itself kept quiet. */
    for (size_t i = 0; i < n; i++) {
        const fs_loc_candidate_t *c = &p->cands[i];
        slice_state_t *st = &p->states[p->cand_ids[i]];
        if (!c->pending && !c->report && !c->held && c->by >= 0 && !st->alert[s].open &&
            p->states[p->cand_ids[c->by]].alert[s].open)
            st->explained[s] = 1;
    }
    /* Then open alerts: one resolves when its model is back to normal, or
     * when a containing or contained slice is now named instead (a handover,
     * whose new alert fires in the same batch). Being overlapped by another
     * alert is no reason to resolve. */
    for (uint32_t id = 0; id < cap; id++) {
        slice_state_t *st = &p->states[id];
        if (!fs_slices_live(p->slices, id) || !st->alert[s].open)
            continue;
        const char *by = NULL;
        if (st->candidate[s]) {
            uint32_t at = st->cand_at;
            if (at != UINT32_MAX && p->cands[at].report)
                continue;
            const char *mine = fs_slices_key(p->slices, id);
            for (size_t k = 0; k < n_reported && !by; k++) {
                const fs_loc_candidate_t *r = &p->cands[p->reported[k]];
                if (p->states[p->cand_ids[p->reported[k]]].alert[s].open &&
                    (key_contains(r->key, mine) || key_contains(mine, r->key)))
                    by = r->key;
            }
            if (!by)
                continue;
        } else if (st->buckets_seen < p->warmup_buckets) {
            /* A restored alert waits until its cold model has warmed up:
             * only a model that has seen enough can say the incident is
             * over. */
            continue;
        } else {
            /* Back to normal while a slice inside it that it superseded
             * still fails (the incident narrowed back and goes on there),
             * named, or failing now with nothing alerted explaining it: that
             * one takes the incident back now, so there is no gap. */
            const char *mine = fs_slices_key(p->slices, id);
            for (size_t i = 0; i < n && !by; i++) {
                const fs_loc_candidate_t *c = &p->cands[i];
                slice_state_t *in = &p->states[p->cand_ids[i]];
                if (c->pending || !key_contains(mine, c->key))
                    continue;
                if (in->superseded[s] == SUPERSEDED_BY_WIDER && !in->alert[s].open &&
                    fails_last(p, p->cand_ids[i], s) &&
                    (c->report || c->by < 0 || !p->states[p->cand_ids[c->by]].alert[s].open))
                    hand_back(p, p->cand_ids[i], s, now_ms);
                else if (!(in->handed_back[s] && in->alert[s].open &&
                           in->alert[s].detected_at_ms == now_ms))
                    continue;
                by = c->key;
            }
        }
        const char *mine = fs_slices_key(p->slices, id);
        resolve(p, id, s, now_ms, by);
        /* Superseded while its model still fires: it does not fire again in
         * this episode (one firing message per slice and incident), however
         * the explanation wavers; except once, to take the incident back
         * from the containing slice that superseded it. */
        if (st->candidate[s]) {
            st->explained[s] = 1;
            st->superseded[s] =
                by && key_contains(by, mine) && !st->handed_back[s] ? SUPERSEDED_BY_WIDER : 1;
            st->named[s] = 0;
        }
    }
}

/* Evaluates and closes the oldest open bucket. */
static void close_bucket(fs_pipeline_t *p)
{
    int64_t bucket = fs_aggregate_open_from(p->agg);
    int64_t end = bucket + p->cfg->window_bucket_ms;
    uint32_t cap = fs_slices_capacity(p->slices);
    update_thresholds(p);
    for (uint32_t id = 0; id < cap; id++) {
        if (!fs_slices_live(p->slices, id))
            continue;
        slice_state_t *st = &p->states[id];
        fs_counts_t c = fs_aggregate_oldest(p->agg, id);
        unsigned char *states = p->model_states + (size_t)id * p->state_stride;
        fs_slice_kind_t kind = fs_slices_kind(p->slices, id);
        if (!st->initialized) {
            /* A slice starts being judged with its first bucket of data. */
            if ((c.attempts | c.errors) == 0)
                continue;
            for (int s = 0; s < N_SIGNALS; s++)
                p->models[s]->init(states + p->state_offset[s], &p->params[s]);
            st->initialized = 1;
        }
        uint32_t parent = fs_slices_parent(p->slices, id);
        for (int s = 0; s < N_SIGNALS; s++) {
            if (!has_signal(kind, (fs_signal_t)s))
                continue;
            fs_model_obs_t obs;
            obs.bucket_start_ms = bucket;
            obs.n = c.attempts;
            obs.x = s == FS_SIGNAL_FAILURE_RATIO ? c.failures
                    : s == FS_SIGNAL_ERROR_COUNT ? c.errors
                                                 : c.attempts;
            obs.prior = NAN;
            if (s == FS_SIGNAL_FAILURE_RATIO && parent != FS_SLICE_NONE &&
                p->states[parent].initialized)
                obs.prior = p->states[parent].expected[s];
            /* Errors are judged against the traffic that produced them
             * (models/model.h); an error code has no attempts of its own,
             * so its errors are set against all traffic's. */
            if (s == FS_SIGNAL_ERROR_COUNT && kind == FS_SLICE_KIND_CODE)
                obs.n = fs_aggregate_oldest(p->agg, FS_SLICE_ALL).attempts;
            fs_model_verdict_t v;
            p->models[s]->update(states + p->state_offset[s], &p->params[s], &obs, &v);
            st->expected[s] = v.expected;
            st->verdict[s] = v;
            /* Recent excess and traffic for localization, against the
             * model's expectation of this bucket. */
            double expected_x = s == FS_SIGNAL_FAILURE_RATIO ? v.expected * c.attempts
                                                             : v.expected;
            double delta = s == FS_SIGNAL_VOLUME_DROP ? expected_x - obs.x : obs.x - expected_x;
            st->recent[s].excess = st->recent[s].excess * p->decay + delta;
            st->recent[s].traffic = st->recent[s].traffic * p->decay + c.attempts;
            st->recent[s].excess_now = st->recent[s].excess_now * p->decay_now + delta;
            st->recent[s].traffic_now = st->recent[s].traffic_now * p->decay_now + c.attempts;
            st->recent[s].excess_last = st->recent[s].excess_last * p->decay_last + delta;
            st->recent[s].traffic_last = st->recent[s].traffic_last * p->decay_last + c.attempts;
            /* An open alert stays a candidate while its model fires: its
             * excess hovering about the paging minimum must not resolve it
             * and fire it again a bucket later, the same incident paged
             * twice (it resolves when the model is back to normal). */
            st->candidate[s] =
                v.firing &&
                (st->alert[s].open || excess_of((fs_signal_t)s, &v, p->params[s].bucket_seconds) >=
                                          (double)p->cfg->detect_min_excess);
            if (!v.firing) {
                st->explained[s] = 0;
                if (st->superseded[s] && !p->silent)
                    queue_forget(p, (fs_signal_t)s, fs_slices_key(p->slices, id));
                st->superseded[s] = 0;
                st->handed_back[s] = 0;
            }
            if (!st->candidate[s]) {
                st->named[s] = 0;
                st->held[s] = 0;
            }
        }
        if (st->buckets_seen < UINT32_MAX)
            st->buckets_seen++;
    }
    if (!p->silent)
        for (int s = 0; s < N_SIGNALS; s++)
            localize_and_alert(p, (fs_signal_t)s, end);
    fs_aggregate_close_oldest(p->agg);
    p->stats.buckets_closed++;
    p->stats.watermark_ms = end;
}

/* Whether a partition has been silent for the idle timeout. A partition
 * that never delivered counts from the first tick after its assignment. */
static int is_idle(const fs_pipeline_t *p, const partition_t *part, int64_t now_ms)
{
    /* A partition known to be empty holds nothing back. One that has spoken
     * holds the watermark at its position until it has been silent for the
     * idle timeout, even when the consumer is at its end: new events for it
     * may simply not have been fetched yet. */
    if (part->at_end && part->max_ts == INT64_MIN && part->next_ts == INT64_MIN)
        return 1;
    return part->last_wall_ms != INT64_MIN && now_ms - part->last_wall_ms > p->cfg->window_idle_ms;
}

/* How far a partition has got: its newest event, or the one it holds back
 * (partitions are read in order, so nothing older is expected from it). */
static int64_t position(const partition_t *part)
{
    return part->next_ts > part->max_ts ? part->next_ts : part->max_ts;
}

/* The event time up to which buckets may close, or INT64_MIN. */
static int64_t watermark(const fs_pipeline_t *p, int64_t now_ms, int use_idle)
{
    int64_t low = INT64_MAX, high = INT64_MIN;
    for (int i = 0; i < p->n_parts; i++) {
        const partition_t *part = &p->parts[i];
        if (!part->active)
            continue;
        int idle = use_idle && is_idle(p, part, now_ms);
        if (position(part) == INT64_MIN) {
            /* A partition that has not spoken yet may still bring old events. */
            if (use_idle && !idle)
                return INT64_MIN;
            continue;
        }
        int64_t wm = position(part) - p->cfg->window_lateness_ms;
        if (wm > high)
            high = wm;
        if (!idle && wm < low)
            low = wm;
    }
    if (low != INT64_MAX)
        return low;
    /* Every partition is idle: the traffic itself has stopped (a total
     * outage of the clients looks exactly like this), so event time goes on
     * with the wall clock, less the lateness and the idle timeout, and the
     * empty buckets close and are judged. */
    if (use_idle && high != INT64_MIN) {
        int64_t by_clock = now_ms - p->cfg->window_lateness_ms - p->cfg->window_idle_ms;
        return by_clock > high ? by_clock : high;
    }
    return high;
}

static void close_until(fs_pipeline_t *p, int64_t wm)
{
    if (!fs_aggregate_started(p->agg) || wm == INT64_MIN)
        return;
    while (fs_aggregate_open_from(p->agg) + p->cfg->window_bucket_ms <= wm) {
        if (p->sink.evaluating)
            p->sink.evaluating(p->sink.opaque, 0);
        close_bucket(p);
        if (p->sink.evaluating)
            p->sink.evaluating(p->sink.opaque, 1);
    }
}

void fs_pipeline_tick(fs_pipeline_t *p, int64_t now_ms)
{
    for (int i = 0; i < p->n_parts; i++)
        if (p->parts[i].active && p->parts[i].last_wall_ms == INT64_MIN)
            p->parts[i].last_wall_ms = now_ms;
    /* A long silence is caught up on a horizon at a time, so one tick never
     * stalls the consumer loop. */
    int64_t wm = watermark(p, now_ms, 1);
    int64_t span = fs_aggregate_open_until(p->agg) - fs_aggregate_open_from(p->agg);
    if (fs_aggregate_started(p->agg) && wm != INT64_MIN &&
        wm > fs_aggregate_open_from(p->agg) + span)
        wm = fs_aggregate_open_from(p->agg) + span;
    close_until(p, wm);
}

void fs_pipeline_drain(fs_pipeline_t *p)
{
    if (p->newest_ts != INT64_MIN)
        close_until(p, p->newest_ts + p->cfg->window_bucket_ms);
}

/* ---- events ---- */

static void add_users(fs_pipeline_t *p, const fs_event_t *ev, const fs_slice_set_t *set)
{
    if (ev->user.len == 0 || ev->user.len > UINT32_MAX / 2)
        return;
    if (grow((void **)&p->user_arena, &p->arena_cap, p->arena_len + ev->user.len, 1) != 0 ||
        grow((void **)&p->users, &p->cap_users, p->n_users + set->n, sizeof *p->users) != 0)
        return;
    uint32_t offset = (uint32_t)p->arena_len;
    memcpy(p->user_arena + offset, ev->user.ptr, ev->user.len);
    p->arena_len += ev->user.len;
    int64_t width = p->cfg->window_bucket_ms;
    int64_t bucket = ev->ts_ms - ((ev->ts_ms % width) + width) % width;
    for (size_t i = 0; i < set->n; i++) {
        user_add_t *u = &p->users[p->n_users++];
        u->slice = set->ids[i];
        u->bucket_ms = bucket;
        u->offset = offset;
        u->len = (uint32_t)ev->user.len;
    }
}

/*
 * Whether another partition that is not idle is behind event time ts, so an
 * event at ts that does not fit the open buckets should wait. A partition
 * that waits counts as being at the time of its waiting event, so the one
 * furthest behind never waits and the watermark always moves. A partition
 * whose consumer is at its end has nothing older to bring: what it gets next
 * is produced from now on, so waiting for it would only stall the others
 * until its idle timeout (it still holds the watermark until then).
 */
static int others_behind(const fs_pipeline_t *p, int handle, int64_t ts, int64_t now_ms)
{
    for (int i = 0; i < p->n_parts; i++) {
        const partition_t *o = &p->parts[i];
        if (i == handle || !o->active || o->at_end || is_idle(p, o, now_ms))
            continue;
        if (position(o) < ts)
            return 1;
    }
    return 0;
}

int fs_pipeline_message(fs_pipeline_t *p, int handle, int64_t offset, const char *buf,
                        size_t len, int64_t now_ms)
{
    partition_t *part = &p->parts[handle];
    part->at_end = 0;
    if (offset <= part->applied)
        return FS_PIPELINE_TAKEN;

    fs_event_t ev;
    const char *reason;
    if (fs_decoder_decode(p->decoder, part->kind, buf, len, &ev, &reason) != 0) {
        part->applied = offset;
        part->last_wall_ms = now_ms;
        p->stats.invalid++;
        p->sink.dead_letter(p->sink.opaque, part->topic, part->partition, offset, buf, len,
                            reason);
        return FS_PIPELINE_TAKEN;
    }
    if (!fs_aggregate_started(p->agg) && ev.ts_ms <= now_ms + p->cfg->window_future_skew_ms) {
        /* The window starts at the oldest position of all partitions, so
         * wait until each has shown where it is (or is idle). */
        int64_t oldest = ev.ts_ms;
        for (int i = 0; i < p->n_parts; i++) {
            const partition_t *o = &p->parts[i];
            if (i == handle || !o->active || is_idle(p, o, now_ms))
                continue;
            if (position(o) == INT64_MIN) {
                part->next_ts = ev.ts_ms;
                part->last_wall_ms = now_ms; /* waiting with a message is not silence */
                return FS_PIPELINE_AHEAD;
            }
            if (position(o) < oldest)
                oldest = position(o);
        }
        fs_aggregate_start(p->agg, oldest - p->cfg->window_lateness_ms);
    }
    if (fs_aggregate_started(p->agg) && ev.ts_ms >= fs_aggregate_open_until(p->agg) &&
        ev.ts_ms <= now_ms + p->cfg->window_future_skew_ms &&
        others_behind(p, handle, ev.ts_ms, now_ms)) {
        /* Waiting with a message is not silence: the idle clock must not
         * run, or once every partition waits long enough the watermark
         * follows the wall clock and the waiting events become late. */
        part->last_wall_ms = now_ms;
        if (part->next_ts != ev.ts_ms) {
            part->next_ts = ev.ts_ms;
            close_until(p, watermark(p, now_ms, 1));
        }
        return FS_PIPELINE_AHEAD;
    }
    part->next_ts = INT64_MIN;
    part->applied = offset;
    part->last_wall_ms = now_ms;
    if (ev.ts_ms > now_ms + p->cfg->window_future_skew_ms) {
        p->stats.future++;
        return FS_PIPELINE_TAKEN;
    }
    if (ev.ts_ms < fs_aggregate_open_from(p->agg) &&
        fs_aggregate_extend_back(p->agg, ev.ts_ms) != 0) {
        p->stats.late++;
        return FS_PIPELINE_TAKEN;
    }
    /* Beyond the horizon and nobody behind: close the oldest buckets. */
    int64_t span = fs_aggregate_open_until(p->agg) - fs_aggregate_open_from(p->agg);
    int64_t horizon_from = ev.ts_ms - span + p->cfg->window_bucket_ms;
    if (horizon_from > fs_aggregate_open_from(p->agg))
        close_until(p, horizon_from);

    fs_slice_set_t set;
    fs_slices_expand(p->slices, &ev, &set);
    if (ev.kind == FS_EVENT_PLAYBACK)
        fs_aggregate_add(p->agg, ev.ts_ms, set.ids, set.n, 1, ev.failed ? 1 : 0, 0, 1);
    else
        fs_aggregate_add(p->agg, ev.ts_ms, set.ids, set.n, 0, 0, 1, 1);
    if (ev.kind == FS_EVENT_ERROR || ev.failed)
        add_users(p, &ev, &set);
    p->stats.events++;
    if (ev.ts_ms > p->newest_ts)
        p->newest_ts = ev.ts_ms;

    /* The watermark only moves when a partition's newest time crosses into a
     * new bucket, so it is recomputed then and not per event. */
    int64_t width = p->cfg->window_bucket_ms;
    if (part->max_ts == INT64_MIN || ev.ts_ms / width > part->max_ts / width) {
        part->max_ts = ev.ts_ms;
        close_until(p, watermark(p, now_ms, 1));
    } else if (ev.ts_ms > part->max_ts) {
        part->max_ts = ev.ts_ms;
    }
    return FS_PIPELINE_TAKEN;
}

/* ---- flush ---- */

typedef struct batch_builder {
    fs_pipeline_t *p;
    fs_counter_delta_t *counters;
    size_t n;
} batch_builder_t;

static void collect_delta(void *opaque, const fs_delta_t *d)
{
    batch_builder_t *b = opaque;
    fs_counter_delta_t *c = &b->counters[b->n++];
    c->slice = fs_slices_key(b->p->slices, d->slice);
    c->bucket_ms = d->bucket_ms;
    c->attempts = d->counts.attempts;
    c->failures = d->counts.failures;
    c->errors = d->counts.errors;
}

static int keep_slice(void *opaque, uint32_t id)
{
    const fs_pipeline_t *p = opaque;
    for (int s = 0; s < N_SIGNALS; s++)
        if (p->states[id].alert[s].open)
            return 1;
    return 0;
}

/* Forgets idle slices; only between batches, when nothing refers to them. */
static void evict(fs_pipeline_t *p)
{
    if (p->newest_ts == INT64_MIN)
        return;
    int64_t before = p->newest_ts - p->cfg->slices_idle_ms;
    uint32_t cap = fs_slices_capacity(p->slices);
    size_t n = fs_slices_evict(p->slices, before, keep_slice, p);
    if (n == 0)
        return;
    for (uint32_t id = 0; id < cap; id++) {
        if (!fs_slices_live(p->slices, id) && p->states[id].initialized) {
            memset(&p->states[id], 0, sizeof p->states[id]);
            fs_aggregate_forget_slice(p->agg, id);
        }
    }
    p->stats.evicted_slices += n;
}

/*
 * Whether a fenced batch is this very batch, applied by an earlier attempt
 * whose reply was lost (the connection broke after sending): the store then
 * holds exactly the batch's last offsets.
 */
static int landed_before(fs_pipeline_t *p, const fs_offset_advance_t *offsets, size_t n)
{
    char err[256];
    for (size_t i = 0; i < n; i++) {
        int64_t stored;
        if (fs_store_offset(p->store, offsets[i].topic, offsets[i].partition, &stored, err,
                            sizeof err) != FS_STORE_OK ||
            stored != offsets[i].last)
            return 0;
    }
    return 1;
}

/*
 * Freezes the warm state of every slice that has been judged into
 * p->snapshot: per slice its key, record head and model states. Returns -1
 * on out of memory (the next flush tries again).
 */
static int take_snapshot(fs_pipeline_t *p, int64_t wm)
{
    uint32_t cap = fs_slices_capacity(p->slices);
    size_t record = sizeof(persisted_slice_t) + p->state_stride, n = 0, key_bytes = 0;
    for (uint32_t id = 0; id < cap; id++)
        if (fs_slices_live(p->slices, id) && p->states[id].initialized) {
            n++;
            key_bytes += strlen(fs_slices_key(p->slices, id)) + 1;
        }
    /* Records first, then the keys (copied: a slice may be evicted before
     * its part goes out). */
    fs_blob_put_t *entries = malloc((n ? n : 1) * sizeof *entries);
    unsigned char *buf = malloc(n * record + key_bytes + 1);
    if (!entries || !buf) {
        free(entries);
        free(buf);
        return -1;
    }
    char *keys = (char *)buf + n * record;
    n = 0;
    for (uint32_t id = 0; id < cap; id++) {
        if (!fs_slices_live(p->slices, id) || !p->states[id].initialized)
            continue;
        persisted_slice_t head;
        memset(&head, 0, sizeof head);
        head.version = SNAPSHOT_VERSION;
        head.buckets_seen = p->states[id].buckets_seen;
        memcpy(head.expected, p->states[id].expected, sizeof head.expected);
        for (int k = 0; k < N_SIGNALS; k++) {
            head.recent_excess[k] = p->states[id].recent[k].excess;
            head.recent_traffic[k] = p->states[id].recent[k].traffic;
        }
        unsigned char *r = buf + n * record;
        memcpy(r, &head, sizeof head);
        memcpy(r + sizeof head, p->model_states + (size_t)id * p->state_stride, p->state_stride);
        const char *key = fs_slices_key(p->slices, id);
        size_t len = strlen(key) + 1;
        memcpy(keys, key, len);
        entries[n].key = keys;
        entries[n].value = r;
        entries[n].len = record;
        keys += len;
        n++;
    }
    p->snapshot = (snapshot_out_t){entries, buf, n, 0, wm, ""};
    snprintf(p->snapshot.at, sizeof p->snapshot.at, "%lld", (long long)wm);
    return 0;
}

int fs_pipeline_flush(fs_pipeline_t *p, char *err, size_t err_size)
{
    int rc = FS_STORE_OK;
    size_t n_deltas = fs_aggregate_n_deltas(p->agg);
    fs_counter_delta_t *counters = malloc((n_deltas ? n_deltas : 1) * sizeof *counters);
    fs_user_add_t *users = malloc((p->n_users ? p->n_users : 1) * sizeof *users);
    fs_offset_advance_t offsets[MAX_PARTITIONS];
    fs_alert_put_t *alerts = malloc((p->n_puts ? p->n_puts : 1) * sizeof *alerts);
    if (!counters || !users || !alerts) {
        snprintf(err, err_size, "out of memory building a batch");
        rc = FS_STORE_EUNAVAILABLE;
        goto done;
    }
    batch_builder_t b = {p, counters, 0};
    fs_aggregate_deltas(p->agg, collect_delta, &b);
    for (size_t i = 0; i < p->n_users; i++) {
        users[i].slice = fs_slices_key(p->slices, p->users[i].slice);
        users[i].bucket_ms = p->users[i].bucket_ms;
        users[i].user = p->user_arena + p->users[i].offset;
        users[i].user_len = p->users[i].len;
    }
    size_t n_offsets = 0;
    for (int i = 0; i < p->n_parts; i++) {
        partition_t *part = &p->parts[i];
        if (part->applied == part->stored)
            continue;
        offsets[n_offsets].topic = part->topic;
        offsets[n_offsets].partition = part->partition;
        offsets[n_offsets].expected = part->stored;
        offsets[n_offsets].last = part->applied;
        n_offsets++;
    }
    for (size_t i = 0; i < p->n_puts; i++) {
        alerts[i].fingerprint = p->puts[i].fingerprint;
        alerts[i].state = p->puts[i].state;
        alerts[i].id = p->puts[i].id[0] ? p->puts[i].id : NULL;
        alerts[i].message = p->puts[i].message;
    }
    size_t n_delivered = p->n_delivered;
    if (b.n == 0 && p->n_users == 0 && n_offsets == 0 && p->n_puts == 0 && n_delivered == 0 &&
        !p->snapshot.entries)
        goto done;

    /* How far buckets are closed travels with the counters, so a restart
     * knows which stored buckets were evaluated and which are still open. */
    char closed[32], width[32];
    snprintf(closed, sizeof closed, "%lld", (long long)p->stats.watermark_ms);
    snprintf(width, sizeof width, "%lld", (long long)p->cfg->window_bucket_ms);
    fs_blob_put_t meta[4] = {{"closed_until", closed, strlen(closed)},
                             {"bucket_ms", width, strlen(width)},
                             {"format", p->format, strlen(p->format)},
                             {"snapshot_at", p->snapshot.at, 0}};
    size_t n_meta = p->stats.buckets_closed ? 3 : 0;
    int64_t wm = p->stats.watermark_ms;
    if (!p->snapshot.entries && p->stats.buckets_closed &&
        (p->snapshot_wm == INT64_MIN || wm - p->snapshot_wm >= p->cfg->detect_snapshot_ms))
        take_snapshot(p, wm);
    /* The next part of the snapshot under way; its last part says where
     * the snapshot stands, in the same batch that makes it the restart point. */
    snapshot_out_t *out = &p->snapshot;
    size_t n_part = 0;
    int part = 0;
    if (out->entries) {
        n_part = out->n - out->sent;
        if (n_part > (size_t)p->cfg->detect_snapshot_chunk)
            n_part = (size_t)p->cfg->detect_snapshot_chunk;
        part = (out->sent == 0 ? FS_SNAPSHOT_FIRST : 0) |
               (out->sent + n_part == out->n ? FS_SNAPSHOT_LAST : 0);
        if (part & FS_SNAPSHOT_LAST) {
            meta[3].len = strlen(out->at);
            n_meta = 4;
        }
    }

    fs_batch_t batch = {
        .counters = counters,
        .n_counters = b.n,
        .users = users,
        .n_users = p->n_users,
        .offsets = offsets,
        .n_offsets = n_offsets,
        .alerts = alerts,
        .n_alerts = p->n_puts,
        .delivered = (const char *const *)p->delivered,
        .n_delivered = n_delivered,
        .meta = meta,
        .n_meta = n_meta,
        .snapshot_part = part,
        .snapshot = out->entries ? out->entries + out->sent : NULL,
        .n_snapshot = n_part,
    };
    rc = fs_store_commit(p->store, &batch, err, err_size);
    if (rc == FS_STORE_EFENCE && n_offsets > 0 && landed_before(p, offsets, n_offsets))
        rc = FS_STORE_OK;
    if (rc != FS_STORE_OK)
        goto done;

    p->stats.flushes++;
    p->events_flushed = p->stats.events;
    out->sent += n_part;
    if (part & FS_SNAPSHOT_LAST) {
        p->snapshot_wm = out->wm;
        drop_snapshot(p);
    }
    fs_aggregate_mark_flushed(p->agg);
    p->n_users = 0;
    p->arena_len = 0;
    for (int i = 0; i < p->n_parts; i++)
        p->parts[i].stored = p->parts[i].applied;
    for (size_t i = 0; i < n_delivered; i++)
        free(p->delivered[i]);
    /* Acknowledgements that arrived during the commit stay for the next batch. */
    if (p->n_delivered > n_delivered)
        memmove(p->delivered, p->delivered + n_delivered,
                (p->n_delivered - n_delivered) * sizeof *p->delivered);
    p->n_delivered -= n_delivered;
    /* The decisions are durable: now publish them. */
    for (size_t i = 0; i < p->n_puts; i++)
        if (p->puts[i].message)
            p->sink.alert(p->sink.opaque, p->puts[i].id, p->puts[i].fingerprint,
                          p->puts[i].message);
    free_puts(p);
    evict(p);
done:
    free(counters);
    free(users);
    free(alerts);
    return rc;
}

void fs_pipeline_stored_offsets(const fs_pipeline_t *p,
                                void (*cb)(void *opaque, const char *topic, int32_t partition,
                                           int64_t stored),
                                void *opaque)
{
    for (int i = 0; i < p->n_parts; i++)
        if (p->parts[i].active)
            cb(opaque, p->parts[i].topic, p->parts[i].partition, p->parts[i].stored);
}

int fs_pipeline_dirty(const fs_pipeline_t *p)
{
    if (fs_aggregate_n_deltas(p->agg) || p->n_users || p->n_puts || p->n_delivered)
        return 1;
    for (int i = 0; i < p->n_parts; i++)
        if (p->parts[i].applied != p->parts[i].stored)
            return 1;
    return 0;
}

void fs_pipeline_delivered(fs_pipeline_t *p, const char *id)
{
    char *copy = strdup(id);
    if (!copy ||
        grow((void **)&p->delivered, &p->cap_delivered, p->n_delivered + 1, sizeof(char *))) {
        free(copy);
        return;
    }
    p->delivered[p->n_delivered++] = copy;
}

/* ---- restore ---- */

typedef struct restore_ctx {
    fs_pipeline_t *p;
    void (*pending)(void *opaque, const char *id, const char *message);
    void *opaque;
} restore_ctx_t;

static int restore_alert(void *opaque, const char *fingerprint, const char *value)
{
    restore_ctx_t *ctx = opaque;
    fs_pipeline_t *p = ctx->p;
    (void)fingerprint;
    char *state = strdup(value);
    fs_alert_t a;
    if (!state)
        return 0;
    if (strncmp(state, SUPERSEDED_MARK, strlen(SUPERSEDED_MARK)) == 0) {
        char *rest = state + strlen(SUPERSEDED_MARK), *tab = strchr(rest, '\t');
        int signal = atoi(rest);
        if (tab && signal >= 0 && signal < N_SIGNALS) {
            uint32_t id = fs_slices_intern(p->slices, tab + 1, strlen(tab + 1));
            if (id != FS_SLICE_NONE) {
                p->states[id].superseded[signal] = 1;
                p->states[id].explained[signal] = 1;
            }
        }
    } else if (fs_alert_state_parse(state, &a) == 0) {
        uint32_t id = fs_slices_intern(p->slices, a.slice, strlen(a.slice));
        if (id != FS_SLICE_NONE) {
            open_alert_t *oa = &p->states[id].alert[a.signal];
            if (!oa->open)
                p->stats.open_alerts++;
            oa->open = 1;
            oa->starts_at_ms = a.starts_at_ms;
            oa->detected_at_ms = a.detected_at_ms;
            oa->severity = a.severity; /* a string constant */
        }
    }
    free(state);
    return 0;
}

static int restore_outbox(void *opaque, const char *id, const char *message)
{
    restore_ctx_t *ctx = opaque;
    ctx->pending(ctx->opaque, id, message);
    return 0;
}

typedef struct meta_ctx {
    const fs_pipeline_t *p;
    int64_t closed_until, bucket_ms, snapshot_at;
    int format_ok;
} meta_ctx_t;

static int read_meta(void *opaque, const char *key, const void *value, size_t len)
{
    meta_ctx_t *m = opaque;
    char text[192];
    snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text - 1 ? len : sizeof text - 1),
             (const char *)value);
    if (strcmp(key, "closed_until") == 0)
        m->closed_until = strtoll(text, NULL, 10);
    else if (strcmp(key, "bucket_ms") == 0)
        m->bucket_ms = strtoll(text, NULL, 10);
    else if (strcmp(key, "snapshot_at") == 0)
        m->snapshot_at = strtoll(text, NULL, 10);
    else if (strcmp(key, "format") == 0)
        m->format_ok = strcmp(text, m->p->format) == 0;
    return 0;
}

static int read_snapshot(void *opaque, const char *key, const void *value, size_t len)
{
    fs_pipeline_t *p = opaque;
    persisted_slice_t head;
    if (len != sizeof head + p->state_stride)
        return 0;
    memcpy(&head, value, sizeof head);
    if (head.version != SNAPSHOT_VERSION)
        return 0;
    uint32_t id = fs_slices_intern(p->slices, key, strlen(key));
    if (id == FS_SLICE_NONE)
        return 0;
    slice_state_t *st = &p->states[id];
    st->initialized = 1;
    st->buckets_seen = head.buckets_seen;
    memcpy(st->expected, head.expected, sizeof st->expected);
    for (int k = 0; k < N_SIGNALS; k++) {
        st->recent[k].excess = head.recent_excess[k];
        st->recent[k].traffic = head.recent_traffic[k];
    }
    memcpy(p->model_states + (size_t)id * p->state_stride, (const unsigned char *)value + sizeof head,
           p->state_stride);
    return 0;
}

/* Stored counters of one slice and bucket, waiting to be fed in order. */
typedef struct stored_bucket {
    int64_t bucket_ms;
    uint32_t slice;
    fs_counts_t counts;
} stored_bucket_t;

typedef struct stored_list {
    fs_pipeline_t *p;
    stored_bucket_t *items;
    size_t n, cap;
    int oom;
} stored_list_t;

static int collect_stored(void *opaque, const char *slice, int64_t bucket_ms, int64_t attempts,
                          int64_t failures, int64_t errors)
{
    stored_list_t *l = opaque;
    uint32_t id = fs_slices_intern(l->p->slices, slice, strlen(slice));
    if (id == FS_SLICE_NONE)
        return 0;
    if (grow((void **)&l->items, &l->cap, l->n + 1, sizeof *l->items) != 0) {
        l->oom = 1;
        return 1;
    }
    stored_bucket_t *b = &l->items[l->n++];
    b->bucket_ms = bucket_ms;
    b->slice = id;
    b->counts.attempts = (uint32_t)attempts;
    b->counts.failures = (uint32_t)failures;
    b->counts.errors = (uint32_t)errors;
    return 0;
}

static int by_bucket(const void *a, const void *b)
{
    const stored_bucket_t *x = a, *y = b;
    return x->bucket_ms < y->bucket_ms ? -1 : x->bucket_ms > y->bucket_ms;
}

/*
 * Picks up where the previous life of this deployment stopped: the models
 * from the last snapshot, then the buckets closed since, fed again from the
 * stored counters without alerting (their decisions were made then), then
 * the counters of the buckets still open. A deployment with nothing stored
 * starts cold.
 */
static int restore_state(fs_pipeline_t *p, char *err, size_t err_size)
{
    meta_ctx_t meta = {p, INT64_MIN, 0, INT64_MIN, 0};
    stored_list_t list = {p, NULL, 0, 0, 0};
    int rc = fs_store_read_hash(p->store, FS_STORE_META, read_meta, &meta, err, err_size);
    if (rc != FS_STORE_OK || meta.closed_until == INT64_MIN)
        return rc;
    int64_t width = p->cfg->window_bucket_ms;
    if (meta.bucket_ms != width || meta.closed_until % width != 0)
        return FS_STORE_OK; /* another bucket width: its counters cannot be reused */
    int64_t from = meta.closed_until;
    if (meta.format_ok && meta.snapshot_at != INT64_MIN && meta.snapshot_at <= meta.closed_until &&
        meta.snapshot_at % width == 0) {
        rc = fs_store_read_hash(p->store, FS_STORE_SNAPSHOT, read_snapshot, p, err, err_size);
        if (rc != FS_STORE_OK)
            return rc;
        from = meta.snapshot_at;
    }
    int64_t span = fs_aggregate_open_until(p->agg) - fs_aggregate_open_from(p->agg);
    rc = fs_store_buckets(p->store, from, meta.closed_until + span, collect_stored, &list, err,
                          err_size);
    if (rc == FS_STORE_OK && list.oom) {
        snprintf(err, err_size, "out of memory reading stored buckets");
        rc = FS_STORE_EINVALID;
    }
    if (rc != FS_STORE_OK) {
        free(list.items);
        return rc;
    }
    qsort(list.items, list.n, sizeof *list.items, by_bucket);

    fs_aggregate_start(p->agg, from);
    fs_aggregate_seal(p->agg);
    p->silent = 1;
    size_t next = 0;
    for (;;) {
        while (next < list.n && list.items[next].bucket_ms < fs_aggregate_open_until(p->agg)) {
            stored_bucket_t *b = &list.items[next++];
            if (b->bucket_ms >= fs_aggregate_open_from(p->agg))
                fs_aggregate_add(p->agg, b->bucket_ms, &b->slice, 1, b->counts.attempts,
                                 b->counts.failures, b->counts.errors, 0);
        }
        if (fs_aggregate_open_from(p->agg) >= meta.closed_until)
            break;
        close_bucket(p);
    }
    p->silent = 0;
    p->snapshot_wm = meta.snapshot_at;
    uint32_t cap = fs_slices_capacity(p->slices);
    for (uint32_t id = 0; id < cap; id++)
        if (fs_slices_live(p->slices, id))
            fs_slices_seen(p->slices, id, meta.closed_until);
    p->stats.buckets_restored = p->stats.buckets_closed;
    p->stats.slices_restored = fs_slices_count(p->slices);
    free(list.items);
    return FS_STORE_OK;
}

int fs_pipeline_restore(fs_pipeline_t *p,
                        void (*pending)(void *opaque, const char *id, const char *message),
                        void *opaque, char *err, size_t err_size)
{
    restore_ctx_t ctx = {p, pending, opaque};
    int rc = restore_state(p, err, err_size);
    if (rc == FS_STORE_OK)
        rc = fs_store_alerts(p->store, restore_alert, &ctx, err, err_size);
    if (rc == FS_STORE_OK)
        rc = fs_store_outbox(p->store, restore_outbox, &ctx, err, err_size);
    return rc;
}

void fs_pipeline_reset(fs_pipeline_t *p)
{
    char err[256];
    fs_slices_t *slices = NULL;
    fs_aggregate_t *agg = NULL;
    /* Rebuild the registries empty; on failure keep the old ones. */
    fs_pipeline_t *fresh = fs_pipeline_new(p->cfg, p->store, &p->sink, err, sizeof err);
    if (!fresh)
        return;
    slices = p->slices;
    agg = p->agg;
    p->slices = fresh->slices;
    p->agg = fresh->agg;
    fresh->slices = slices;
    fresh->agg = agg;
    memset(p->states, 0, p->max_slices * sizeof *p->states);
    memset(p->model_states, 0, p->max_slices * p->state_stride);
    for (int i = 0; i < p->n_parts; i++)
        free(p->parts[i].topic);
    p->n_parts = 0;
    p->n_users = 0;
    p->arena_len = 0;
    p->events_flushed = p->stats.events;
    free_puts(p);
    for (size_t i = 0; i < p->n_delivered; i++)
        free(p->delivered[i]);
    p->n_delivered = 0;
    /* A snapshot under way holds the state being dropped. */
    drop_snapshot(p);
    p->newest_ts = INT64_MIN;
    p->stats.open_alerts = 0;
    p->threshold_for_live = SIZE_MAX;
    fs_pipeline_free(fresh);
}

void fs_pipeline_stats(const fs_pipeline_t *p, fs_pipeline_stats_t *stats)
{
    *stats = p->stats;
    stats->snapshot_ms = p->snapshot_wm;
    stats->live_slices = fs_slices_count(p->slices);
    stats->slice_overflow = fs_slices_overflow(p->slices);
}

uint64_t fs_pipeline_batch_events(const fs_pipeline_t *p)
{
    return p->stats.events - p->events_flushed;
}

size_t fs_pipeline_bytes_per_slice(const fs_pipeline_t *p)
{
    return fs_aggregate_bytes_per_slice(p->agg) + p->state_stride + sizeof(slice_state_t);
}
