/*
 * score.c: `foreshock-bench score --truth T --alerts A [--playback P]
 * [--errors E] [--json OUT] [--slices N] [--span D]`.
 *
 * Reads the ground truth of `gen` and the alert messages of `replay` with
 * jansson, matches alerts to incidents, optionally scans the event files
 * with the detector's decoder (for the simulated span and the oracle CUSUM),
 * and prints a report; the rules are in score.h. The flow is: load truth,
 * load alerts (firing deduplicated, resolved paired with their firing
 * message), scan events, match, run the oracle per incident, summarise.
 */
#include "bench/score.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "detector/decode.h"
#include "detector/timestamp.h"
#include "models/stats.h"

#define DAY_MS 86400000.0

/* A resolved message, kept until it is paired with its firing alert. */
typedef struct resolved {
    char *fingerprint;
    int64_t starts_at_ms, ends_at_ms;
} resolved_t;

/* Per-incident working state of the event scan. */
typedef struct oracle_counts {
    int64_t first_bucket; /* epoch second of buckets[0] */
    size_t n_buckets;
    double *attempts, *failures;
} oracle_counts_t;

static void set_err(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;

    if (!err || err_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- slices ---- */

static void slice_free(fs_score_slice_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->dims[i]);
        free(s->values[i]);
    }
    free(s->text);
    memset(s, 0, sizeof *s);
}

/* Appends dim=value (copied) unless the dimension is already there or the
 * slice is full. Returns 0, or -1 with a reason. */
static int slice_add(fs_score_slice_t *s, const char *dim, size_t dim_len, const char *value,
                     size_t value_len, const char **reason)
{
    if (dim_len == 0) {
        *reason = "empty dimension name";
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strlen(s->dims[i]) == dim_len && memcmp(s->dims[i], dim, dim_len) == 0) {
            *reason = "dimension listed twice";
            return -1;
        }
    }
    if (s->n == FS_MAX_DIMS) {
        *reason = "more than 8 dimensions";
        return -1;
    }
    s->dims[s->n] = strndup(dim, dim_len);
    s->values[s->n] = strndup(value, value_len);
    if (!s->dims[s->n] || !s->values[s->n]) {
        free(s->dims[s->n]);
        free(s->values[s->n]);
        *reason = "out of memory";
        return -1;
    }
    s->n++;
    return 0;
}

/* Builds s->text from the pairs. Returns 0, or -1 if out of memory. */
static int slice_finish(fs_score_slice_t *s)
{
    size_t len = 3;

    for (size_t i = 0; i < s->n; i++)
        len += strlen(s->dims[i]) + strlen(s->values[i]) + 2;
    if (!(s->text = malloc(len)))
        return -1;
    if (s->n == 0) {
        strcpy(s->text, "{}");
        return 0;
    }
    s->text[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0)
            strcat(s->text, ",");
        strcat(s->text, s->dims[i]);
        strcat(s->text, "=");
        strcat(s->text, s->values[i]);
    }
    return 0;
}

/* The slice of an incident spec, `DIM=V[,DIM=V]@...`: the part before '@'
 * (all of it without one); empty means all traffic. */
static int slice_from_spec(const char *spec, fs_score_slice_t *s, const char **reason)
{
    const char *end = strchr(spec, '@');
    const char *p = spec;

    if (!end)
        end = spec + strlen(spec);
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *part_end = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(part_end - p));
        if (!eq) {
            *reason = "incident slice is not DIM=V[,DIM=V]";
            return -1;
        }
        if (slice_add(s, p, (size_t)(eq - p), eq + 1, (size_t)(part_end - eq - 1), reason))
            return -1;
        p = comma ? comma + 1 : end;
    }
    if (slice_finish(s)) {
        *reason = "out of memory";
        return -1;
    }
    return 0;
}

static int slice_from_json(json_t *obj, fs_score_slice_t *s, const char **reason)
{
    const char *key;
    json_t *value;

    if (!json_is_object(obj)) {
        *reason = "slice is not an object";
        return -1;
    }
    json_object_foreach(obj, key, value)
    {
        if (!json_is_string(value)) {
            *reason = "slice value is not a string";
            return -1;
        }
        if (slice_add(s, key, strlen(key), json_string_value(value), json_string_length(value),
                      reason))
            return -1;
    }
    if (slice_finish(s)) {
        *reason = "out of memory";
        return -1;
    }
    return 0;
}

fs_score_relation_t fs_score_relate(const fs_score_slice_t *inc, const fs_score_slice_t *a)
{
    size_t common = 0;

    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < inc->n; j++) {
            if (strcmp(a->dims[i], inc->dims[j]) != 0)
                continue;
            if (strcmp(a->values[i], inc->values[j]) != 0)
                return FS_SCORE_DISJOINT;
            common++;
        }
    }
    if (common == a->n)
        return a->n == inc->n ? FS_SCORE_SAME : FS_SCORE_GENERAL;
    if (common == inc->n)
        return FS_SCORE_SPECIFIC;
    return FS_SCORE_OVERLAP;
}

const char *fs_score_relation_name(fs_score_relation_t relation)
{
    switch (relation) {
    case FS_SCORE_SAME:
        return "same";
    case FS_SCORE_GENERAL:
        return "more general";
    case FS_SCORE_SPECIFIC:
        return "more specific";
    case FS_SCORE_OVERLAP:
        return "overlapping";
    case FS_SCORE_DISJOINT:
    default:
        return "disjoint";
    }
}

/* ---- reading the truth and the alerts ---- */

#define WHY_LEN 160

/* A time field: an RFC 3339 string, or an integer of epoch milliseconds.
 * Returns 0, or -1 with a reason in why. */
static int get_time(json_t *obj, const char *key, int64_t *ms, char *why)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_integer(v)) {
        *ms = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v) ||
        fs_timestamp_parse(json_string_value(v), json_string_length(v), ms) != 0) {
        snprintf(why, WHY_LEN, "%s %s", key,
                 !v                  ? "is missing"
                 : json_is_string(v) ? "cannot be parsed"
                                     : "has the wrong type");
        return -1;
    }
    return 0;
}

/* Copies a constant reason into why and returns -1. */
static int fail_with(char *why, const char *reason)
{
    snprintf(why, WHY_LEN, "%s", reason);
    return -1;
}

static const char *get_string(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Calls fn on the JSON object of every non-blank line of path; fn returns 0,
 * or -1 with a reason in why. */
typedef int (*line_fn)(fs_score_result_t *r, void *ctx, json_t *doc, long line, char *why);

static int for_each_json_line(const char *path, fs_score_result_t *r, void *ctx, line_fn fn,
                              char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL, why[WHY_LEN];
    size_t cap = 0;
    ssize_t len;
    long line = 0;
    int rc = -1;

    if (!f) {
        set_err(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&buf, &cap, f)) >= 0) {
        json_error_t jerr;
        json_t *doc;
        size_t i = 0;

        line++;
        while (i < (size_t)len && strchr(" \t\r\n", buf[i]))
            i++;
        if (i == (size_t)len)
            continue;
        if (!(doc = json_loadb(buf, (size_t)len, 0, &jerr))) {
            set_err(err, err_size, "%s:%ld: not valid JSON (%s)", path, line, jerr.text);
            goto done;
        }
        if (!json_is_object(doc)) {
            json_decref(doc);
            set_err(err, err_size, "%s:%ld: not a JSON object", path, line);
            goto done;
        }
        int failed = fn(r, ctx, doc, line, why);
        json_decref(doc);
        if (failed) {
            set_err(err, err_size, "%s:%ld: %s", path, line, why);
            goto done;
        }
    }
    if (ferror(f)) {
        set_err(err, err_size, "%s: read error", path);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    fclose(f);
    return rc;
}

static int on_truth_line(fs_score_result_t *r, void *ctx, json_t *doc, long line, char *why)
{
    fs_score_incident_t *inc, *grown;
    const char *spec = get_string(doc, "incident"), *reason;
    json_t *factor = json_object_get(doc, "factor"), *decoy = json_object_get(doc, "decoy");

    (void)ctx;
    (void)line;
    if (!spec)
        return fail_with(why, "incident is missing or not a string");
    if (decoy && !json_is_boolean(decoy))
        return fail_with(why, "decoy is neither true nor false");
    /* Decoys are kept apart: nothing that counts incidents sees them. */
    fs_score_incident_t **list = json_is_true(decoy) ? &r->decoys : &r->incidents;
    size_t *n = json_is_true(decoy) ? &r->n_decoys : &r->n_incidents;
    if (!(grown = realloc(*list, (*n + 1) * sizeof *grown)))
        return fail_with(why, "out of memory");
    *list = grown;
    inc = &grown[(*n)++];
    memset(inc, 0, sizeof *inc);
    inc->alert = -1;
    inc->delay_ms = inc->resolve_ms = inc->oracle_delay_ms = FS_SCORE_NO_TIME;
    inc->delay_ratio = inc->p0 = inc->p1 = NAN;
    inc->factor = json_is_number(factor) ? json_number_value(factor) : NAN;
    inc->oracle_note = json_is_true(decoy) ? "a decoy" : "no --playback file";
    if (!(inc->spec = strdup(spec)))
        return fail_with(why, "out of memory");
    if (slice_from_spec(spec, &inc->slice, &reason))
        return fail_with(why, reason);
    if (get_time(doc, "start", &inc->start_ms, why) || get_time(doc, "end", &inc->end_ms, why))
        return -1;
    if (inc->end_ms <= inc->start_ms)
        return fail_with(why, "end is not after start");
    return 0;
}

typedef struct alert_ctx {
    resolved_t *resolved;
    size_t n_resolved;
} alert_ctx_t;

static int on_alert_line(fs_score_result_t *r, void *opaque, json_t *doc, long line, char *why)
{
    alert_ctx_t *ctx = opaque;
    const char *status = get_string(doc, "status");
    const char *fingerprint = get_string(doc, "fingerprint");
    const char *alertname = get_string(doc, "alertname");
    const char *reason;
    int64_t starts_at;

    if (!fingerprint || !alertname || !status)
        return fail_with(why, "fingerprint, alertname or status missing or not a string");
    if (get_time(doc, "startsAt", &starts_at, why))
        return -1;
    if (strcmp(status, "resolved") == 0) {
        resolved_t *grown = realloc(ctx->resolved, (ctx->n_resolved + 1) * sizeof *grown);
        if (!grown)
            return fail_with(why, "out of memory");
        ctx->resolved = grown;
        resolved_t *res = &ctx->resolved[ctx->n_resolved];
        res->starts_at_ms = starts_at;
        if (get_time(doc, "endsAt", &res->ends_at_ms, why))
            return -1;
        if (!(res->fingerprint = strdup(fingerprint)))
            return fail_with(why, "out of memory");
        ctx->n_resolved++;
        return 0;
    }
    if (strcmp(status, "firing") != 0)
        return fail_with(why, "status is neither firing nor resolved");
    for (size_t i = 0; i < r->n_alerts; i++) {
        fs_score_alert_t *old = &r->alerts[i];
        if (old->starts_at_ms == starts_at && strcmp(old->fingerprint, fingerprint) == 0) {
            old->n_duplicates++;
            r->n_duplicates++;
            return 0;
        }
    }
    fs_score_alert_t *grown = realloc(r->alerts, (r->n_alerts + 1) * sizeof *grown);
    if (!grown)
        return fail_with(why, "out of memory");
    r->alerts = grown;
    fs_score_alert_t *a = &r->alerts[r->n_alerts++];
    memset(a, 0, sizeof *a);
    a->starts_at_ms = starts_at;
    a->ends_at_ms = FS_SCORE_NO_TIME;
    a->line = line;
    a->matched = -1;
    a->decoy = -1;
    if (!(a->fingerprint = strdup(fingerprint)) || !(a->alertname = strdup(alertname)))
        return fail_with(why, "out of memory");
    if (get_time(doc, "detectedAt", &a->detected_at_ms, why))
        return -1;
    if (slice_from_json(json_object_get(doc, "slice"), &a->slice, &reason))
        return fail_with(why, reason);
    return 0;
}

/* Gives each firing alert the endsAt of its resolved message. */
static void pair_resolved(fs_score_result_t *r, const alert_ctx_t *ctx)
{
    r->n_resolved = ctx->n_resolved;
    for (size_t k = 0; k < ctx->n_resolved; k++) {
        const resolved_t *res = &ctx->resolved[k];
        size_t i = 0;
        while (i < r->n_alerts && (r->alerts[i].starts_at_ms != res->starts_at_ms ||
                                   strcmp(r->alerts[i].fingerprint, res->fingerprint) != 0))
            i++;
        if (i == r->n_alerts)
            r->n_orphan_resolved++;
        else if (r->alerts[i].ends_at_ms == FS_SCORE_NO_TIME)
            r->alerts[i].ends_at_ms = res->ends_at_ms;
    }
}

/* ---- the event files ---- */

typedef struct scan {
    fs_score_result_t *r;
    fs_decoder_t *decoder;
    int (*dim_index)[FS_MAX_DIMS]; /* one row per incident, see fs_score_decoder_new */
    oracle_counts_t *counts;       /* one per incident, n_counts of them */
    size_t n_counts;
    int64_t first_ms, last_ms;
    int have_events;
} scan_t;

fs_decoder_t *fs_score_decoder_new(const fs_score_result_t *r, int (*dim_index)[FS_MAX_DIMS],
                                   char *err, size_t err_size)
{
    const char *dims[FS_MAX_DIMS] = {"country", "platform", "app_version", "cdn"};
    size_t n_dims = 4;

    for (size_t i = 0; i < r->n_incidents; i++) {
        const fs_score_slice_t *s = &r->incidents[i].slice;
        for (size_t k = 0; k < s->n; k++) {
            size_t d = 0;
            while (d < n_dims && strcmp(dims[d], s->dims[k]) != 0)
                d++;
            if (d == n_dims) {
                if (n_dims == FS_MAX_DIMS) {
                    set_err(err, err_size, "the incidents name more than %d dimensions",
                            FS_MAX_DIMS);
                    return NULL;
                }
                dims[n_dims++] = s->dims[k];
            }
            dim_index[i][k] = (int)d;
        }
    }
    return fs_decoder_new(dims, n_dims, err, err_size);
}

int fs_score_event_in_slice(const fs_event_t *ev, const fs_score_slice_t *slice,
                            const int *dim_index)
{
    for (size_t k = 0; k < slice->n; k++) {
        const fs_str_t *v = &ev->dims[dim_index[k]];
        if (v->len != strlen(slice->values[k]) || memcmp(v->ptr, slice->values[k], v->len) != 0)
            return 0;
    }
    return 1;
}

static void count_event(fs_score_result_t *r, scan_t *sc, const fs_event_t *ev)
{
    for (size_t i = 0; i < r->n_incidents; i++) {
        fs_score_incident_t *inc = &r->incidents[i];
        oracle_counts_t *c = &sc->counts[i];
        int64_t ts = ev->ts_ms;

        if (ts < inc->start_ms - FS_SCORE_ORACLE_LEAD_MS || ts >= inc->end_ms ||
            !fs_score_event_in_slice(ev, &inc->slice, sc->dim_index[i]))
            continue;
        size_t b = (size_t)(floor_div(ts, FS_SCORE_BUCKET_MS) - c->first_bucket);
        c->attempts[b] += 1;
        c->failures[b] += ev->failed ? 1 : 0;
        if (ts < inc->start_ms) {
            inc->attempts_before += 1;
            inc->failures_before += ev->failed ? 1 : 0;
        } else {
            inc->attempts_during += 1;
            inc->failures_during += ev->failed ? 1 : 0;
        }
    }
}

int fs_score_read_events(const char *path, fs_event_kind_t kind, fs_decoder_t *decoder,
                         fs_score_event_fn fn, void *ctx, uint64_t *n_invalid, char *err,
                         size_t err_size)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f) {
        set_err(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&buf, &cap, f)) >= 0) {
        fs_event_t ev;
        const char *reason;

        if (len > 0 && buf[len - 1] == '\n')
            len--;
        if (len == 0)
            continue; /* blank lines are not messages, as in replay */
        if (fs_decoder_decode(decoder, kind, buf, (size_t)len, &ev, &reason) != 0) {
            if (n_invalid)
                (*n_invalid)++;
            continue;
        }
        fn(ctx, &ev);
    }
    int failed = ferror(f);
    free(buf);
    fclose(f);
    if (failed) {
        set_err(err, err_size, "%s: read error", path);
        return -1;
    }
    return 0;
}

/* fs_score_event_fn of the event files: the span, and the oracle's counts. */
static void scan_event(void *ctx, const fs_event_t *ev)
{
    scan_t *sc = ctx;

    sc->r->events_read++;
    if (!sc->have_events || ev->ts_ms < sc->first_ms)
        sc->first_ms = ev->ts_ms;
    if (!sc->have_events || ev->ts_ms > sc->last_ms)
        sc->last_ms = ev->ts_ms;
    sc->have_events = 1;
    if (ev->kind == FS_EVENT_PLAYBACK)
        count_event(sc->r, sc, ev);
}

/* Sets up the decoder and the bucket arrays, then reads the files. */
static int scan_events(fs_score_result_t *r, const fs_score_options_t *opt, scan_t *sc, char *err,
                       size_t err_size)
{
    sc->r = r;
    for (size_t i = 0; i < r->n_incidents; i++) {
        fs_score_incident_t *inc = &r->incidents[i];
        oracle_counts_t *c = &sc->counts[i];
        c->first_bucket = floor_div(inc->start_ms - FS_SCORE_ORACLE_LEAD_MS, FS_SCORE_BUCKET_MS);
        c->n_buckets =
            (size_t)(floor_div(inc->end_ms - 1, FS_SCORE_BUCKET_MS) - c->first_bucket + 1);
        c->attempts = calloc(c->n_buckets, sizeof *c->attempts);
        c->failures = calloc(c->n_buckets, sizeof *c->failures);
        if (!c->attempts || !c->failures) {
            set_err(err, err_size, "out of memory");
            return -1;
        }
    }
    if (!(sc->decoder = fs_score_decoder_new(r, sc->dim_index, err, err_size)))
        return -1;
    if (opt->playback_path &&
        fs_score_read_events(opt->playback_path, FS_EVENT_PLAYBACK, sc->decoder, scan_event, sc,
                             &r->events_invalid, err, err_size) != 0)
        return -1;
    if (opt->errors_path &&
        fs_score_read_events(opt->errors_path, FS_EVENT_ERROR, sc->decoder, scan_event, sc,
                             &r->events_invalid, err, err_size) != 0)
        return -1;
    return 0;
}

/* ---- matching and the oracle ---- */

static int in_window(const fs_score_incident_t *inc, int64_t t)
{
    return t >= inc->start_ms - FS_SCORE_MATCH_MS && t <= inc->end_ms + FS_SCORE_MATCH_MS;
}

int fs_score_matches(const fs_score_incident_t *inc, const fs_score_alert_t *al)
{
    fs_score_relation_t rel = fs_score_relate(&inc->slice, &al->slice);
    return (rel == FS_SCORE_SAME || rel == FS_SCORE_GENERAL || rel == FS_SCORE_SPECIFIC) &&
           (in_window(inc, al->starts_at_ms) || in_window(inc, al->detected_at_ms));
}

/* Preference among alerts detected at the same time: same slice first. */
static int relation_rank(fs_score_relation_t rel)
{
    return rel == FS_SCORE_SAME ? 0 : rel == FS_SCORE_SPECIFIC ? 1 : 2;
}

/* Matches the alerts to entry `index` of the incidents, or of the decoys
 * (decoy set: then only alerts that match no incident count), and picks its
 * reported alert. overlaps gets the alerts that merely overlap an incident. */
static void match_one(fs_score_result_t *r, fs_score_incident_t *inc, int index, int decoy,
                      char *overlaps)
{
    for (size_t a = 0; a < r->n_alerts; a++) {
        fs_score_alert_t *al = &r->alerts[a];
        fs_score_relation_t rel = fs_score_relate(&inc->slice, &al->slice);
        if (decoy && al->matched >= 0)
            continue;
        if (!in_window(inc, al->starts_at_ms) && !in_window(inc, al->detected_at_ms))
            continue;
        if (rel == FS_SCORE_OVERLAP && !decoy)
            overlaps[a] = 1;
        if (rel != FS_SCORE_SAME && rel != FS_SCORE_GENERAL && rel != FS_SCORE_SPECIFIC)
            continue;
        inc->n_matching++;
        int *slot = decoy ? &al->decoy : &al->matched;
        if (*slot < 0)
            *slot = index;
        if (inc->alert < 0 || al->detected_at_ms < r->alerts[inc->alert].detected_at_ms ||
            (al->detected_at_ms == r->alerts[inc->alert].detected_at_ms &&
             relation_rank(rel) < relation_rank(inc->relation))) {
            inc->alert = (int)a;
            inc->relation = rel;
        }
    }
    if (inc->alert >= 0) {
        const fs_score_alert_t *al = &r->alerts[inc->alert];
        inc->delay_ms = al->detected_at_ms - inc->start_ms;
        if (al->ends_at_ms != FS_SCORE_NO_TIME)
            inc->resolve_ms = al->ends_at_ms - inc->end_ms;
    }
}

/* Matches alerts to incidents, then the alerts left to decoys, and fills in
 * the counts that follow. Returns 0, or -1 if out of memory. */
static int match(fs_score_result_t *r)
{
    char *overlaps = calloc(r->n_alerts ? r->n_alerts : 1, 1);

    if (!overlaps)
        return -1;

    for (size_t i = 0; i < r->n_incidents; i++) {
        match_one(r, &r->incidents[i], (int)i, 0, overlaps);
        r->n_detected += r->incidents[i].alert >= 0;
    }
    for (size_t i = 0; i < r->n_decoys; i++) {
        match_one(r, &r->decoys[i], (int)i, 1, overlaps);
        r->n_decoys_paged += r->decoys[i].alert >= 0;
    }
    for (size_t a = 0; a < r->n_alerts; a++) {
        if (r->alerts[a].matched >= 0) {
            r->n_matching_alerts++;
        } else {
            r->n_false_alerts++;
            r->n_decoy_alerts += r->alerts[a].decoy >= 0;
            if (overlaps[a]) {
                r->alerts[a].collateral = 1;
                r->n_collateral++;
            }
        }
    }
    free(overlaps);
    r->precision = r->n_alerts ? (double)r->n_matching_alerts / (double)r->n_alerts : NAN;
    r->recall = r->n_incidents ? (double)r->n_detected / (double)r->n_incidents : NAN;
    return 0;
}

/* f/n, with 0 or n failures replaced by 0.5 or n - 0.5 so logs stay finite. */
static double ratio(double f, double n)
{
    if (f <= 0)
        f = 0.5;
    else if (f >= n)
        f = n - 0.5;
    return f / n;
}

static void run_oracle(fs_score_incident_t *inc, const oracle_counts_t *c, double h)
{
    double s = 0;

    if (inc->attempts_before <= 0 || inc->attempts_during <= 0) {
        inc->oracle_note = "no attempts in the slice before or during the incident";
        return;
    }
    inc->p0 = ratio(inc->failures_before, inc->attempts_before);
    inc->p1 = ratio(inc->failures_during, inc->attempts_during);
    if (!(inc->p1 > inc->p0)) {
        inc->oracle_note = "the failure ratio did not rise";
        return;
    }
    inc->has_oracle = 1;
    inc->oracle_note = "did not reach h during the incident";
    for (size_t b = 0; b < c->n_buckets; b++) {
        s = fmax(0.0, s + fs_llr_binomial(c->failures[b], c->attempts[b], inc->p0, inc->p1));
        if (s < h)
            continue;
        int64_t alarm_ms = (c->first_bucket + (int64_t)b + 1) * FS_SCORE_BUCKET_MS;
        if (alarm_ms <= inc->start_ms) {
            inc->oracle_false_alarms++;
            s = 0;
            continue;
        }
        inc->oracle_delay_ms = alarm_ms - inc->start_ms;
        inc->oracle_note = NULL;
        break;
    }
    if (inc->oracle_delay_ms != FS_SCORE_NO_TIME && inc->delay_ms != FS_SCORE_NO_TIME &&
        inc->oracle_delay_ms > 0)
        inc->delay_ratio = (double)inc->delay_ms / (double)inc->oracle_delay_ms;
}

static void widen(int64_t t, int64_t *lo, int64_t *hi, int *any)
{
    if (t == FS_SCORE_NO_TIME)
        return;
    if (!*any || t < *lo)
        *lo = t;
    if (!*any || t > *hi)
        *hi = t;
    *any = 1;
}

static void set_span(fs_score_result_t *r, const fs_score_options_t *opt, const scan_t *sc)
{
    int any = 0;

    if (sc->have_events) {
        r->span_start_ms = sc->first_ms;
        r->span_end_ms = sc->last_ms;
        r->span_source = "event files";
    } else {
        for (size_t i = 0; i < r->n_incidents; i++) {
            widen(r->incidents[i].start_ms, &r->span_start_ms, &r->span_end_ms, &any);
            widen(r->incidents[i].end_ms, &r->span_start_ms, &r->span_end_ms, &any);
        }
        for (size_t i = 0; i < r->n_decoys; i++) {
            widen(r->decoys[i].start_ms, &r->span_start_ms, &r->span_end_ms, &any);
            widen(r->decoys[i].end_ms, &r->span_start_ms, &r->span_end_ms, &any);
        }
        for (size_t a = 0; a < r->n_alerts; a++) {
            widen(r->alerts[a].starts_at_ms, &r->span_start_ms, &r->span_end_ms, &any);
            widen(r->alerts[a].detected_at_ms, &r->span_start_ms, &r->span_end_ms, &any);
            widen(r->alerts[a].ends_at_ms, &r->span_start_ms, &r->span_end_ms, &any);
        }
        r->span_source = "truth and alerts";
    }
    r->span_days = (double)(r->span_end_ms - r->span_start_ms) / DAY_MS;
    if (opt->span_ms > 0) {
        r->span_days = (double)opt->span_ms / DAY_MS;
        r->span_source = "--span";
    }
    r->false_per_day = r->span_days > 0 ? (double)r->n_false_alerts / r->span_days : NAN;
}

void fs_score_result_free(fs_score_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_incidents; i++) {
        free(r->incidents[i].spec);
        slice_free(&r->incidents[i].slice);
    }
    for (size_t i = 0; i < r->n_decoys; i++) {
        free(r->decoys[i].spec);
        slice_free(&r->decoys[i].slice);
    }
    free(r->decoys);
    for (size_t a = 0; a < r->n_alerts; a++) {
        free(r->alerts[a].fingerprint);
        free(r->alerts[a].alertname);
        slice_free(&r->alerts[a].slice);
    }
    free(r->incidents);
    free(r->alerts);
    free(r);
}

int fs_score_run(const fs_score_options_t *opt, fs_score_result_t **out, char *err, size_t err_size)
{
    fs_score_result_t *r = NULL;
    alert_ctx_t actx = {NULL, 0};
    scan_t sc;
    int rc = -1;

    memset(&sc, 0, sizeof sc);
    *out = NULL;
    if (!opt->truth_path || !opt->alerts_path) {
        set_err(err, err_size, "--truth and --alerts are required");
        goto fail;
    }
    if (!(r = calloc(1, sizeof *r))) {
        set_err(err, err_size, "out of memory");
        goto fail;
    }
    r->slices = opt->slices > 0 ? opt->slices : FS_SCORE_DEFAULT_SLICES;
    r->oracle_h = fs_cusum_threshold(
        fs_budget_arl0(FS_SCORE_ALARMS_PER_DAY, r->slices, FS_SCORE_BUCKET_MS / 1000.0));
    if (for_each_json_line(opt->truth_path, r, NULL, on_truth_line, err, err_size) ||
        for_each_json_line(opt->alerts_path, r, &actx, on_alert_line, err, err_size))
        goto fail;
    pair_resolved(r, &actx);
    if (match(r)) {
        set_err(err, err_size, "out of memory");
        goto fail;
    }
    if (opt->playback_path || opt->errors_path) {
        size_t n = r->n_incidents ? r->n_incidents : 1;
        if (!(sc.counts = calloc(n, sizeof *sc.counts)) ||
            !(sc.dim_index = calloc(n, sizeof *sc.dim_index))) {
            set_err(err, err_size, "out of memory");
            goto fail;
        }
        sc.n_counts = r->n_incidents;
        if (scan_events(r, opt, &sc, err, err_size))
            goto fail;
    }
    if (opt->playback_path) {
        r->oracle_run = 1;
        for (size_t i = 0; i < r->n_incidents; i++)
            run_oracle(&r->incidents[i], &sc.counts[i], r->oracle_h);
    }
    set_span(r, opt, &sc);
    *out = r;
    r = NULL;
    rc = 0;
fail:
    for (size_t k = 0; k < actx.n_resolved; k++)
        free(actx.resolved[k].fingerprint);
    free(actx.resolved);
    for (size_t i = 0; i < sc.n_counts; i++) {
        free(sc.counts[i].attempts);
        free(sc.counts[i].failures);
    }
    free(sc.counts);
    free(sc.dim_index);
    fs_decoder_free(sc.decoder);
    fs_score_result_free(r);
    return rc;
}

/* ---- output ---- */

static const char *fmt_time(int64_t ms, char buf[FS_TIMESTAMP_LEN + 1])
{
    if (ms == FS_SCORE_NO_TIME)
        return "-";
    fs_timestamp_format(ms, buf);
    return buf;
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* The first lines of an incident or decoy: "KIND N  SPEC", its window, and
 * the label of the third line, whose rest the caller writes. */
static void print_head(const char *kind, size_t i, const fs_score_incident_t *inc,
                       const char *label, FILE *out)
{
    char t1[FS_TIMESTAMP_LEN + 1], t2[FS_TIMESTAMP_LEN + 1];

    fprintf(out, "%s %zu  %s\n", kind, i + 1, inc->spec);
    fprintf(out, "  window     %s .. %s\n", fmt_time(inc->start_ms, t1), fmt_time(inc->end_ms, t2));
    fprintf(out, "  %-10s ", label);
}

/* "after D s, by NAME on SLICE (RELATION slice); " of the reported alert. */
static void print_first_alert(const fs_score_result_t *r, const fs_score_incident_t *inc, FILE *out)
{
    const fs_score_alert_t *al = &r->alerts[inc->alert];
    fprintf(out, "after %.1f s, by %s on %s (%s slice); ", (double)inc->delay_ms / 1000.0,
            al->alertname, al->slice.text, fs_score_relation_name(inc->relation));
}

static void print_incident(const fs_score_result_t *r, size_t i, FILE *out)
{
    const fs_score_incident_t *inc = &r->incidents[i];
    char t1[FS_TIMESTAMP_LEN + 1], t2[FS_TIMESTAMP_LEN + 1];

    print_head("incident", i, inc, "detected", out);
    if (inc->alert < 0) {
        fprintf(out, "no (missed)\n");
    } else {
        const fs_score_alert_t *al = &r->alerts[inc->alert];
        print_first_alert(r, inc, out);
        fprintf(out, "%zu alert%s match\n", inc->n_matching, plural(inc->n_matching));
        fprintf(out, "             startsAt %s, detectedAt %s\n", fmt_time(al->starts_at_ms, t1),
                fmt_time(al->detected_at_ms, t2));
        if (inc->resolve_ms == FS_SCORE_NO_TIME)
            fprintf(out, "  resolved   no (still firing at the end of the alerts)\n");
        else
            fprintf(out, "  resolved   %.1f s %s the incident ended\n",
                    fabs((double)inc->resolve_ms) / 1000.0,
                    inc->resolve_ms >= 0 ? "after" : "before");
    }
    if (!r->oracle_run)
        return;
    fprintf(out, "  oracle     ");
    if (inc->attempts_before > 0 && inc->attempts_during > 0)
        fprintf(out, "p0 %.3f%% (%.0f of %.0f) -> p1 %.3f%% (%.0f of %.0f): ", 100 * inc->p0,
                inc->failures_before, inc->attempts_before, 100 * inc->p1, inc->failures_during,
                inc->attempts_during);
    if (inc->oracle_delay_ms == FS_SCORE_NO_TIME)
        fprintf(out, "no delay (%s)", inc->oracle_note);
    else
        fprintf(out, "delay %.1f s", (double)inc->oracle_delay_ms / 1000.0);
    if (isfinite(inc->delay_ratio))
        fprintf(out, "; detector/oracle %.2f", inc->delay_ratio);
    if (inc->oracle_false_alarms)
        fprintf(out, "; %zu oracle false alarm%s before the start", inc->oracle_false_alarms,
                plural(inc->oracle_false_alarms));
    fputc('\n', out);
}

static void print_decoy(const fs_score_result_t *r, size_t i, FILE *out)
{
    const fs_score_incident_t *d = &r->decoys[i];

    print_head("decoy", i, d, "paged", out);
    if (d->alert < 0) {
        fprintf(out, "no\n");
        return;
    }
    fprintf(out, "YES, ");
    print_first_alert(r, d, out);
    fprintf(out, "%zu false alert%s\n", d->n_matching, plural(d->n_matching));
}

static void print_ratio(FILE *out, const char *name, size_t num, size_t den, double value)
{
    if (isnan(value))
        fprintf(out, "  %-14s %zu/%zu = n/a\n", name, num, den);
    else
        fprintf(out, "  %-14s %zu/%zu = %.3f\n", name, num, den, value);
}

void fs_score_print(const fs_score_result_t *r, FILE *out)
{
    char t1[FS_TIMESTAMP_LEN + 1], t2[FS_TIMESTAMP_LEN + 1];

    fprintf(out, "score: %zu incident%s, %zu firing alert%s (%zu resolved message%s",
            r->n_incidents, plural(r->n_incidents), r->n_alerts, plural(r->n_alerts), r->n_resolved,
            plural(r->n_resolved));
    if (r->n_duplicates)
        fprintf(out, ", %zu DUPLICATE firing message%s", r->n_duplicates, plural(r->n_duplicates));
    if (r->n_orphan_resolved)
        fprintf(out, ", %zu resolved without firing", r->n_orphan_resolved);
    fprintf(out, ")\n");
    if (strcmp(r->span_source, "--span") == 0)
        fprintf(out, "span:  %.4f simulated days (--span)\n", r->span_days);
    else
        fprintf(out, "span:  %s .. %s = %.4f simulated days (from the %s)\n",
                fmt_time(r->span_start_ms, t1), fmt_time(r->span_end_ms, t2), r->span_days,
                r->span_source);
    if (r->events_read || r->events_invalid)
        fprintf(out, "events: %" PRIu64 " read, %" PRIu64 " invalid (skipped)\n", r->events_read,
                r->events_invalid);
    if (r->oracle_run)
        fprintf(out,
                "oracle: binomial CUSUM knowing p0 and p1, %g false alarm/day over %g slices, "
                "%d s buckets: h = %.3f\n",
                FS_SCORE_ALARMS_PER_DAY, r->slices, FS_SCORE_BUCKET_MS / 1000, r->oracle_h);
    fputc('\n', out);
    for (size_t i = 0; i < r->n_incidents; i++)
        print_incident(r, i, out);
    for (size_t i = 0; i < r->n_decoys; i++)
        print_decoy(r, i, out);
    if (r->n_alerts)
        fprintf(out, "\nfiring alerts\n  %-5s %-24s %-22s %-36s %s\n", "line", "detectedAt",
                "alertname", "slice", "verdict");
    for (size_t a = 0; a < r->n_alerts; a++) {
        const fs_score_alert_t *al = &r->alerts[a];
        fprintf(out, "  %-5ld %-24s %-22s %-36s ", al->line, fmt_time(al->detected_at_ms, t1),
                al->alertname, al->slice.text);
        if (al->matched >= 0)
            fprintf(out, "incident %d (%s)", al->matched + 1,
                    fs_score_relation_name(
                        fs_score_relate(&r->incidents[al->matched].slice, &al->slice)));
        else if (al->decoy >= 0)
            fprintf(out, "FALSE (decoy %d)", al->decoy + 1);
        else
            fprintf(out, "FALSE%s", al->collateral ? " (overlaps an incident)" : "");
        if (al->n_duplicates)
            fprintf(out, ", %zu duplicate%s", al->n_duplicates, plural(al->n_duplicates));
        fputc('\n', out);
    }
    fprintf(out, "\nsummary\n");
    print_ratio(out, "recall", r->n_detected, r->n_incidents, r->recall);
    print_ratio(out, "precision", r->n_matching_alerts, r->n_alerts, r->precision);
    fprintf(out, "  %-14s %zu (%zu overlapping an incident), ", "false alerts", r->n_false_alerts,
            r->n_collateral);
    if (isnan(r->false_per_day))
        fprintf(out, "n/a per simulated day (empty span)\n");
    else
        fprintf(out, "%.2f per simulated day\n", r->false_per_day);
    if (r->n_decoys)
        fprintf(out, "  %-14s %zu/%zu (%zu false alert%s on decoys)\n", "decoys paged",
                r->n_decoys_paged, r->n_decoys, r->n_decoy_alerts, plural(r->n_decoy_alerts));
}

/* ---- JSON ---- */

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jtime(int64_t ms)
{
    char buf[FS_TIMESTAMP_LEN + 1];
    if (ms == FS_SCORE_NO_TIME)
        return json_null();
    fs_timestamp_format(ms, buf);
    return json_string(buf);
}

static json_t *jseconds(int64_t ms)
{
    return ms == FS_SCORE_NO_TIME ? json_null() : json_real((double)ms / 1000.0);
}

static json_t *jslice(const fs_score_slice_t *s)
{
    json_t *o = json_object();
    for (size_t k = 0; o && k < s->n; k++)
        json_object_set_new(o, s->dims[k], json_string(s->values[k]));
    return o;
}

static json_t *jalert(const fs_score_result_t *r, const fs_score_alert_t *al)
{
    json_t *match = json_null();
    if (al->matched >= 0)
        match = json_pack(
            "{s:i,s:s}", "incident", al->matched + 1, "relation",
            fs_score_relation_name(fs_score_relate(&r->incidents[al->matched].slice, &al->slice)));
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:o,s:b,s:o,s:I}", "fingerprint",
                     al->fingerprint, "alertname", al->alertname, "slice", jslice(&al->slice),
                     "startsAt", jtime(al->starts_at_ms), "detectedAt", jtime(al->detected_at_ms),
                     "endsAt", jtime(al->ends_at_ms), "line", (json_int_t)al->line, "match", match,
                     "overlaps_incident", al->collateral, "decoy",
                     al->decoy >= 0 ? json_integer(al->decoy + 1) : json_null(), "duplicates",
                     (json_int_t)al->n_duplicates);
}

/* The fields incidents and decoys share: {KEY: spec, slice, start, end,
 * factor, FLAG: whether an alert matched, alert, relation, delay_seconds,
 * matching_alerts}. */
static json_t *jentry(const fs_score_result_t *r, const fs_score_incident_t *inc, const char *key,
                      const char *flag)
{
    return json_pack(
        "{s:s,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:o,s:I}", key, inc->spec, "slice", jslice(&inc->slice),
        "start", jtime(inc->start_ms), "end", jtime(inc->end_ms), "factor", jnum(inc->factor), flag,
        inc->alert >= 0, "alert", inc->alert >= 0 ? jalert(r, &r->alerts[inc->alert]) : json_null(),
        "relation",
        inc->alert >= 0 ? json_string(fs_score_relation_name(inc->relation)) : json_null(),
        "delay_seconds", jseconds(inc->delay_ms), "matching_alerts", (json_int_t)inc->n_matching);
}

static json_t *jincident(const fs_score_result_t *r, const fs_score_incident_t *inc)
{
    json_t *oracle = json_null(), *o = jentry(r, inc, "incident", "detected");
    if (r->oracle_run)
        oracle = json_pack("{s:f,s:f,s:f,s:f,s:o,s:o,s:o,s:I,s:o}", "attempts_before",
                           inc->attempts_before, "failures_before", inc->failures_before,
                           "attempts_during", inc->attempts_during, "failures_during",
                           inc->failures_during, "p0", jnum(inc->p0), "p1", jnum(inc->p1),
                           "delay_seconds", jseconds(inc->oracle_delay_ms),
                           "false_alarms_before_start", (json_int_t)inc->oracle_false_alarms,
                           "note", inc->oracle_note ? json_string(inc->oracle_note) : json_null());
    if (!o) {
        json_decref(oracle);
        return NULL;
    }
    json_object_set_new(o, "resolve_seconds", jseconds(inc->resolve_ms));
    json_object_set_new(o, "oracle", oracle);
    json_object_set_new(o, "delay_ratio", jnum(inc->delay_ratio));
    return o;
}

int fs_score_write_json(const fs_score_result_t *r, const char *path, char *err, size_t err_size)
{
    json_t *incidents = json_array(), *alerts = json_array(), *decoys = json_array(), *root = NULL;
    int rc = -1;

    for (size_t i = 0; incidents && i < r->n_incidents; i++)
        json_array_append_new(incidents, jincident(r, &r->incidents[i]));
    for (size_t i = 0; decoys && i < r->n_decoys; i++)
        json_array_append_new(decoys, jentry(r, &r->decoys[i], "decoy", "paged"));
    for (size_t a = 0; alerts && a < r->n_alerts; a++)
        json_array_append_new(alerts, jalert(r, &r->alerts[a]));
    root = json_pack(
        "{s:o,s:o,s:o,s:{s:I,s:I,s:o,s:I,s:I,s:o,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I},"
        "s:{s:o,s:o,s:f,s:s},s:{s:f,s:f,s:f,s:o,s:I,s:I}}",
        "incidents", incidents, "alerts", alerts, "decoys", decoys, "summary", "incidents",
        (json_int_t)r->n_incidents, "detected", (json_int_t)r->n_detected, "recall",
        jnum(r->recall), "firing_alerts", (json_int_t)r->n_alerts, "matching_alerts",
        (json_int_t)r->n_matching_alerts, "precision", jnum(r->precision), "false_alerts",
        (json_int_t)r->n_false_alerts, "false_alerts_overlapping", (json_int_t)r->n_collateral,
        "false_alerts_per_day", jnum(r->false_per_day), "duplicate_firing_messages",
        (json_int_t)r->n_duplicates, "resolved_messages", (json_int_t)r->n_resolved,
        "resolved_without_firing", (json_int_t)r->n_orphan_resolved, "decoys",
        (json_int_t)r->n_decoys, "decoys_paged", (json_int_t)r->n_decoys_paged, "decoy_alerts",
        (json_int_t)r->n_decoy_alerts, "span", "start",
        strcmp(r->span_source, "--span") == 0 ? json_null() : jtime(r->span_start_ms), "end",
        strcmp(r->span_source, "--span") == 0 ? json_null() : jtime(r->span_end_ms), "days",
        r->span_days, "source", r->span_source, "oracle", "alarms_per_day", FS_SCORE_ALARMS_PER_DAY,
        "slices", r->slices, "bucket_seconds", FS_SCORE_BUCKET_MS / 1000.0, "h",
        r->oracle_run ? jnum(r->oracle_h) : json_null(), "events_read", (json_int_t)r->events_read,
        "events_invalid", (json_int_t)r->events_invalid);
    if (!root) {
        set_err(err, err_size, "out of memory building the JSON report");
        goto done;
    }
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
        set_err(err, err_size, "%s: cannot write", path);
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/* ---- command line ---- */

static int parse_duration(const char *text, int64_t *ms)
{
    char *end;
    double v = strtod(text, &end), unit;

    if (end == text || !(v > 0))
        return -1;
    if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = DAY_MS;
    else
        return -1;
    *ms = (int64_t)(v * unit);
    return 0;
}

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench score --truth T.ndjson --alerts A.ndjson\n"
          "         [--playback P.ndjson] [--errors E.ndjson] [--json OUT.json]\n"
          "         [--slices N (oracle budget, default 500)] [--span DURATION]\n",
          out);
}

int fs_bench_score_main(int argc, char **argv)
{
    enum { OPT_TRUTH = 256, OPT_ALERTS, OPT_PLAYBACK, OPT_ERRORS, OPT_JSON, OPT_SLICES, OPT_SPAN };
    static const struct option options[] = {
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"alerts", required_argument, NULL, OPT_ALERTS},
        {"playback", required_argument, NULL, OPT_PLAYBACK},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"json", required_argument, NULL, OPT_JSON},
        {"slices", required_argument, NULL, OPT_SLICES},
        {"span", required_argument, NULL, OPT_SPAN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    const char *json_path = NULL;
    char err[512], *end;
    int c;

    memset(&opt, 0, sizeof opt);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_TRUTH:
            opt.truth_path = optarg;
            break;
        case OPT_ALERTS:
            opt.alerts_path = optarg;
            break;
        case OPT_PLAYBACK:
            opt.playback_path = optarg;
            break;
        case OPT_ERRORS:
            opt.errors_path = optarg;
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case OPT_SLICES:
            opt.slices = strtod(optarg, &end);
            if (end == optarg || *end || !(opt.slices >= 1)) {
                fprintf(stderr, "score: bad --slices '%s' (a number >= 1)\n", optarg);
                return 2;
            }
            break;
        case OPT_SPAN:
            if (parse_duration(optarg, &opt.span_ms) != 0) {
                fprintf(stderr, "score: bad --span '%s' (e.g. 30m, 1d)\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!opt.truth_path || !opt.alerts_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (fs_score_run(&opt, &r, err, sizeof err) != 0) {
        fprintf(stderr, "score: %s\n", err);
        return 1;
    }
    fs_score_print(r, stdout);
    if (json_path && fs_score_write_json(r, json_path, err, sizeof err) != 0) {
        fprintf(stderr, "score: %s\n", err);
        fs_score_result_free(r);
        return 1;
    }
    fs_score_result_free(r);
    return 0;
}
