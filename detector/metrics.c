/*
 * metrics.c: the metrics registry and its Prometheus text rendering (see
 * metrics.h).
 *
 * Every family keeps two arrays of series: `live`, which only the writer
 * touches (no lock), and `pub`, the snapshot that renders read under the
 * mutex. Publishing copies numbers from live to pub under a trylock; a
 * publication that finds a render holding the snapshot leaves a flag, and the
 * next render lets the writer go first (for at most RENDER_YIELD_MS), so
 * back-to-back scrapes cannot keep the snapshot from ever being refreshed.
 * Label values are allocated once per series and never change or move, so the
 * snapshot shares them with the live side instead of copying strings.
 */
#include "detector/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

typedef struct series {
    char **values; /* n_labels label values; owned by the live side */
    int visible;
    double value; /* counters and gauges */
    double sum;   /* histograms */
    uint64_t count;
    uint64_t *buckets; /* histograms: n_bounds + 1 counts, not cumulative */
} series_t;

struct fs_metric {
    kind_t kind;
    char *name;
    char *help;
    char *labels[FS_METRICS_MAX_LABELS];
    size_t n_labels;
    double bounds[FS_METRICS_MAX_BOUNDS];
    size_t n_bounds;
    series_t *live;
    size_t n_live, cap_live;
    series_t *pub; /* guarded by the registry's mutex */
    size_t n_pub, cap_pub;
};

/* How long a render waits for a publication that a render made skip. The
 * daemon publishes once per loop turn, at least every 100 ms. */
#define RENDER_YIELD_MS 250

struct fs_metrics {
    pthread_mutex_t lock;
    atomic_int skipped; /* the last publication found the snapshot busy */
    /* The family list changes only under the lock (at registration). */
    fs_metric_t **families;
    size_t n_families, cap_families;
};

/* ---- registration ---- */

static int valid_name(const char *s, int colon_ok)
{
    if (!s || !*s)
        return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon_ok && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static void free_family(fs_metric_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_live; i++) {
        for (size_t j = 0; j < f->n_labels; j++)
            free(f->live[i].values ? f->live[i].values[j] : NULL);
        free(f->live[i].values);
        free(f->live[i].buckets);
    }
    for (size_t i = 0; i < f->n_pub; i++)
        free(f->pub[i].buckets);
    free(f->live);
    free(f->pub);
    for (size_t j = 0; j < f->n_labels; j++)
        free(f->labels[j]);
    free(f->name);
    free(f->help);
    free(f);
}

fs_metrics_t *fs_metrics_new(void)
{
    fs_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    atomic_init(&m->skipped, 0);
    return m;
}

void fs_metrics_free(fs_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_families; i++)
        free_family(m->families[i]);
    free(m->families);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static fs_metric_t *add_family(fs_metrics_t *m, kind_t kind, const char *name, const char *help,
                               const char *const *labels, const double *bounds, size_t n_bounds)
{
    fs_metric_t *f = NULL;
    if (!m || !valid_name(name, 1) || !help)
        return NULL;
    if (kind == KIND_HISTOGRAM && (n_bounds > FS_METRICS_MAX_BOUNDS || (n_bounds && !bounds)))
        return NULL;
    for (size_t i = 0; kind == KIND_HISTOGRAM && i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return NULL;
    for (size_t i = 0; i < m->n_families; i++)
        if (strcmp(m->families[i]->name, name) == 0)
            return NULL;
    if (!(f = calloc(1, sizeof *f)))
        return NULL;
    f->kind = kind;
    if (!(f->name = strdup(name)) || !(f->help = strdup(help)))
        goto fail;
    for (size_t i = 0; labels && labels[i]; i++) {
        if (i == FS_METRICS_MAX_LABELS || !valid_name(labels[i], 0) ||
            strncmp(labels[i], "__", 2) == 0 ||
            (kind == KIND_HISTOGRAM && strcmp(labels[i], "le") == 0))
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[j], labels[i]) == 0)
                goto fail;
        if (!(f->labels[i] = strdup(labels[i])))
            goto fail;
        f->n_labels = i + 1;
    }
    if (kind == KIND_HISTOGRAM) {
        if (n_bounds)
            memcpy(f->bounds, bounds, n_bounds * sizeof *bounds);
        f->n_bounds = n_bounds;
    }
    if (f->n_labels == 0 && fs_metric_series(f, NULL) != 0)
        goto fail;
    pthread_mutex_lock(&m->lock);
    if (m->n_families == m->cap_families) {
        size_t cap = m->cap_families ? 2 * m->cap_families : 16;
        fs_metric_t **grown = realloc(m->families, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&m->lock);
            goto fail;
        }
        m->families = grown;
        m->cap_families = cap;
    }
    m->families[m->n_families++] = f;
    pthread_mutex_unlock(&m->lock);
    return f;
fail:
    free_family(f);
    return NULL;
}

fs_metric_t *fs_metrics_counter(fs_metrics_t *m, const char *name, const char *help,
                                const char *const *labels)
{
    return add_family(m, KIND_COUNTER, name, help, labels, NULL, 0);
}

fs_metric_t *fs_metrics_gauge(fs_metrics_t *m, const char *name, const char *help,
                              const char *const *labels)
{
    return add_family(m, KIND_GAUGE, name, help, labels, NULL, 0);
}

fs_metric_t *fs_metrics_histogram(fs_metrics_t *m, const char *name, const char *help,
                                  const char *const *labels, const double *bounds, size_t n_bounds)
{
    return add_family(m, KIND_HISTOGRAM, name, help, labels, bounds, n_bounds);
}

/* ---- series and updates (writer thread) ---- */

int fs_metric_series(fs_metric_t *f, const char *const *values)
{
    if (!f || (f->n_labels && !values))
        return -1;
    for (size_t i = 0; i < f->n_live; i++) {
        size_t j = 0;
        while (j < f->n_labels && strcmp(f->live[i].values[j], values[j]) == 0)
            j++;
        if (j == f->n_labels) {
            f->live[i].visible = 1;
            return (int)i;
        }
    }
    if (f->n_live >= INT32_MAX)
        return -1;
    if (f->n_live == f->cap_live) {
        size_t cap = f->cap_live ? 2 * f->cap_live : 4;
        series_t *grown = realloc(f->live, cap * sizeof *grown);
        if (!grown)
            return -1;
        f->live = grown;
        f->cap_live = cap;
    }
    series_t s;
    memset(&s, 0, sizeof s);
    s.visible = 1;
    if (f->n_labels && !(s.values = calloc(f->n_labels, sizeof *s.values)))
        goto fail;
    for (size_t j = 0; j < f->n_labels; j++)
        if (!(s.values[j] = strdup(values[j] ? values[j] : "")))
            goto fail;
    if (f->kind == KIND_HISTOGRAM && !(s.buckets = calloc(f->n_bounds + 1, sizeof *s.buckets)))
        goto fail;
    f->live[f->n_live] = s;
    return (int)f->n_live++;
fail:
    for (size_t j = 0; s.values && j < f->n_labels; j++)
        free(s.values[j]);
    free(s.values);
    free(s.buckets);
    return -1;
}

static series_t *live(fs_metric_t *f, int id)
{
    if (!f || id < 0 || (size_t)id >= f->n_live)
        return NULL;
    return &f->live[id];
}

void fs_metric_set(fs_metric_t *f, int id, double value)
{
    series_t *s = live(f, id);
    if (!s || f->kind == KIND_HISTOGRAM)
        return;
    s->value = value;
    s->visible = 1;
}

void fs_metric_add(fs_metric_t *f, int id, double delta)
{
    series_t *s = live(f, id);
    if (!s || f->kind == KIND_HISTOGRAM || (f->kind == KIND_COUNTER && !(delta >= 0)))
        return;
    s->value += delta;
    s->visible = 1;
}

void fs_metric_observe(fs_metric_t *f, int id, double value)
{
    series_t *s = live(f, id);
    if (!s || f->kind != KIND_HISTOGRAM || isnan(value))
        return;
    size_t i = 0;
    while (i < f->n_bounds && value > f->bounds[i])
        i++;
    s->buckets[i]++;
    s->sum += value;
    s->count++;
    s->visible = 1;
}

static void zero(const fs_metric_t *f, series_t *s)
{
    s->visible = 0;
    s->value = 0;
    s->sum = 0;
    s->count = 0;
    if (s->buckets)
        memset(s->buckets, 0, (f->n_bounds + 1) * sizeof *s->buckets);
}

void fs_metric_hide(fs_metric_t *f, int id)
{
    series_t *s = live(f, id);
    if (s)
        zero(f, s);
}

void fs_metric_hide_all(fs_metric_t *f)
{
    for (size_t i = 0; f && i < f->n_live; i++)
        zero(f, &f->live[i]);
}

/* ---- publication ---- */

/* Copies one family's live numbers to its snapshot; called under the lock. */
static int publish_family(fs_metric_t *f)
{
    if (f->n_live > f->cap_pub) {
        series_t *grown = realloc(f->pub, f->n_live * sizeof *grown);
        if (!grown)
            return -1;
        f->pub = grown;
        f->cap_pub = f->n_live;
    }
    /* New series enter the snapshot only once their buckets exist, so a
     * failed allocation leaves a shorter but consistent snapshot. */
    while (f->n_pub < f->n_live) {
        series_t *p = &f->pub[f->n_pub];
        memset(p, 0, sizeof *p);
        if (f->kind == KIND_HISTOGRAM &&
            !(p->buckets = calloc(f->n_bounds + 1, sizeof *p->buckets)))
            return -1;
        p->values = f->live[f->n_pub].values;
        f->n_pub++;
    }
    for (size_t i = 0; i < f->n_pub; i++) {
        const series_t *s = &f->live[i];
        series_t *p = &f->pub[i];
        p->visible = s->visible;
        p->value = s->value;
        p->sum = s->sum;
        p->count = s->count;
        if (s->buckets)
            memcpy(p->buckets, s->buckets, (f->n_bounds + 1) * sizeof *p->buckets);
    }
    return 0;
}

int fs_metrics_publish(fs_metrics_t *m)
{
    int rc = FS_METRICS_PUBLISHED;
    if (!m)
        return FS_METRICS_NOMEM;
    if (pthread_mutex_trylock(&m->lock) != 0) {
        atomic_store(&m->skipped, 1);
        return FS_METRICS_BUSY;
    }
    atomic_store(&m->skipped, 0);
    for (size_t i = 0; i < m->n_families; i++)
        if (publish_family(m->families[i]) != 0)
            rc = FS_METRICS_NOMEM;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- rendering ---- */

typedef struct buf {
    char *data;
    size_t len, cap;
    int failed;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void put_str(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Text with '\' and newline escaped, and '"' too inside label values. */
static void put_escaped(buf_t *b, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\'           ? "\\\\"
                          : *s == '\n'         ? "\\n"
                          : quote && *s == '"' ? "\\\""
                                               : NULL;
        if (!esc)
            continue;
        put(b, run, (size_t)(s - run));
        put_str(b, esc);
        run = s + 1;
    }
    put(b, run, (size_t)(s - run));
}

const char *fs_metrics_format_value(double v, char *buf, size_t size)
{
    if (isnan(v))
        snprintf(buf, size, "NaN");
    else if (isinf(v))
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    else if (v == 0)
        snprintf(buf, size, "0");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else {
        snprintf(buf, size, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, size, "%.17g", v);
    }
    return buf;
}

static void put_value(buf_t *b, double v)
{
    char num[40];
    put_str(b, fs_metrics_format_value(v, num, sizeof num));
}

/* name{labels[,le="bound"]} value\n */
static void put_sample(buf_t *b, const fs_metric_t *f, const series_t *s, const char *suffix,
                       const char *le, double value)
{
    put_str(b, f->name);
    put_str(b, suffix);
    if (f->n_labels || le) {
        put_str(b, "{");
        for (size_t j = 0; j < f->n_labels; j++) {
            if (j)
                put_str(b, ",");
            put_str(b, f->labels[j]);
            put_str(b, "=\"");
            put_escaped(b, s->values[j], 1);
            put_str(b, "\"");
        }
        if (le) {
            put_str(b, f->n_labels ? ",le=\"" : "le=\"");
            put_str(b, le);
            put_str(b, "\"");
        }
        put_str(b, "}");
    }
    put_str(b, " ");
    put_value(b, value);
    put_str(b, "\n");
}

static void render_family(buf_t *b, const fs_metric_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    put_str(b, "# HELP ");
    put_str(b, f->name);
    put_str(b, " ");
    put_escaped(b, f->help, 0);
    put_str(b, "\n# TYPE ");
    put_str(b, f->name);
    put_str(b, " ");
    put_str(b, types[f->kind]);
    put_str(b, "\n");
    for (size_t i = 0; i < f->n_pub; i++) {
        const series_t *s = &f->pub[i];
        if (!s->visible)
            continue;
        if (f->kind != KIND_HISTOGRAM) {
            put_sample(b, f, s, "", NULL, s->value);
            continue;
        }
        uint64_t cumulative = 0;
        char le[40];
        for (size_t k = 0; k <= f->n_bounds; k++) {
            cumulative += s->buckets[k];
            if (k < f->n_bounds)
                fs_metrics_format_value(f->bounds[k], le, sizeof le);
            else
                snprintf(le, sizeof le, "+Inf");
            put_sample(b, f, s, "_bucket", le, (double)cumulative);
        }
        put_sample(b, f, s, "_sum", NULL, s->sum);
        put_sample(b, f, s, "_count", NULL, (double)s->count);
    }
}

char *fs_metrics_render(fs_metrics_t *m, size_t *len)
{
    buf_t b = {NULL, 0, 0, 0};
    if (!m)
        return NULL;
    put(&b, "", 0);
    /* Let a skipped publication through first (the writer never waits). */
    for (int waited = 0; atomic_load(&m->skipped) && waited < RENDER_YIELD_MS; waited++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_families; i++)
        render_family(&b, m->families[i]);
    pthread_mutex_unlock(&m->lock);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.data;
}
