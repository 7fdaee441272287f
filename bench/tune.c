/*
 * tune.c: `foreshock-bench tune`, a parameter sweep over replay and score
 * (the contract is in tune.h).
 *
 * The flow: parse the sweeps; load and check the configuration of every
 * point before anything runs, so a bad value stops the sweep at once; score
 * an empty alerts file with the event files, which gives the oracle delays
 * and the simulated span once for all points; then run the points, on
 * --jobs threads that take the next point from a shared counter, each with
 * its own configuration, store and pipeline (fs_bench_replay_run); score
 * each point's alerts against the span and oracle; format the figures, mark
 * the Pareto front on the formatted values, and write the CSV in point order.
 */
#include "bench/tune.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/replay.h"
#include "config/config.h"

/* More points than this is almost certainly a typo in a --sweep. */
#define MAX_POINTS 100000
#define MAX_JOBS   64
#define PATH_LEN   4096

/* The numeric CSV columns after the swept keys, in order. */
enum {
    F_INCIDENTS,
    F_DETECTED,
    F_ALERTS,
    F_FALSE,
    F_RECALL,
    F_PRECISION,
    F_FALSE_PER_DAY,
    F_DELAY_P50,
    F_DELAY_P95,
    F_RATIO_P50,
    F_EVENTS_PER_S,
    N_FIELDS
};

static const char *const field_names[N_FIELDS] = {
    FS_TUNE_COL_INCIDENTS, FS_TUNE_COL_DETECTED,  FS_TUNE_COL_ALERTS,        FS_TUNE_COL_FALSE,
    FS_TUNE_COL_RECALL,    FS_TUNE_COL_PRECISION, FS_TUNE_COL_FALSE_PER_DAY, FS_TUNE_COL_DELAY_P50,
    FS_TUNE_COL_DELAY_P95, FS_TUNE_COL_RATIO_P50, FS_TUNE_COL_EVENTS_PER_S};

typedef struct sweep {
    char *key;     /* owned, trimmed */
    char *text;    /* owned copy of the value list, cut into values */
    char **values; /* point into text */
    size_t n;
} sweep_t;

typedef struct point {
    fs_config_t *cfg;
    char **assignments; /* "key=value" per sweep, owned */
    char *label;        /* "key=value, key=value", owned */
    char alerts_path[PATH_LEN];
    fs_tune_metrics_t m;
    double events_per_s;
    char fields[N_FIELDS][32];
    int pareto;
    char err[1024];
} point_t;

typedef struct tune {
    const char *playback, *errors, *truth;
    sweep_t *sweeps;
    size_t n_sweeps;
    point_t *points;
    size_t n_points;
    const fs_score_result_t *oracle;
    int64_t span_ms;
    int keep_alerts;

    pthread_mutex_t lock; /* guards what follows */
    size_t next, finished;
    int failed;
} tune_t;

/* ---- figures ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

double fs_tune_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

int fs_tune_metrics(const fs_score_result_t *r, const fs_score_result_t *oracle,
                    fs_tune_metrics_t *m)
{
    double *delays = calloc(r->n_incidents ? r->n_incidents : 1, sizeof *delays);
    double *ratios = calloc(r->n_incidents ? r->n_incidents : 1, sizeof *ratios);
    size_t n_delays = 0, n_ratios = 0;
    int rc = -1;

    if (!delays || !ratios)
        goto done;
    memset(m, 0, sizeof *m);
    m->incidents = r->n_incidents;
    m->detected = r->n_detected;
    m->alerts = r->n_alerts;
    m->false_alerts = r->n_false_alerts;
    m->recall = r->recall;
    m->precision = r->precision;
    m->false_per_day = r->false_per_day;
    for (size_t i = 0; i < r->n_incidents; i++) {
        int64_t delay = r->incidents[i].delay_ms;
        int64_t oracle_delay =
            i < oracle->n_incidents ? oracle->incidents[i].oracle_delay_ms : FS_SCORE_NO_TIME;
        if (delay == FS_SCORE_NO_TIME)
            continue;
        delays[n_delays++] = (double)delay / 1000.0;
        if (oracle_delay != FS_SCORE_NO_TIME && oracle_delay > 0)
            ratios[n_ratios++] = (double)delay / (double)oracle_delay;
    }
    m->delay_p50_s = fs_tune_quantile(delays, n_delays, 0.5);
    m->delay_p95_s = fs_tune_quantile(delays, n_delays, 0.95);
    m->ratio_p50 = fs_tune_quantile(ratios, n_ratios, 0.5);
    rc = 0;
done:
    free(delays);
    free(ratios);
    return rc;
}

void fs_tune_pareto(const double *delay, const double *false_per_day, size_t n, int *front)
{
    for (size_t i = 0; i < n; i++) {
        front[i] = !isnan(delay[i]) && !isnan(false_per_day[i]);
        for (size_t j = 0; front[i] && j < n; j++) {
            if (j == i || isnan(delay[j]) || isnan(false_per_day[j]))
                continue;
            if (delay[j] <= delay[i] && false_per_day[j] <= false_per_day[i] &&
                (delay[j] < delay[i] || false_per_day[j] < false_per_day[i]))
                front[i] = 0;
        }
    }
}

/* ---- sweeps and points ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return s;
}

static void sweeps_free(sweep_t *sweeps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sweeps[i].key);
        free(sweeps[i].text);
        free(sweeps[i].values);
    }
    free(sweeps);
}

/* Parses `key=v1,v2,...` (or `key=v1;v2;...`) into s. Returns 0, or -1 with
 * a reason in err. */
static int sweep_parse(const char *spec, sweep_t *s, char *err, size_t err_size)
{
    const char *eq = strchr(spec, '=');
    char *copy = NULL, *key;

    memset(s, 0, sizeof *s);
    if (!eq) {
        snprintf(err, err_size, "--sweep '%s': not key=v1,v2,...", spec);
        return -1;
    }
    if (!(copy = strndup(spec, (size_t)(eq - spec))))
        goto oom;
    key = trim(copy);
    if (!*key) {
        free(copy);
        snprintf(err, err_size, "--sweep '%s': empty key", spec);
        return -1;
    }
    s->key = strdup(key);
    free(copy);
    if (!s->key || !(s->text = strdup(eq + 1)))
        goto oom;
    const char *sep = strchr(s->text, ';') ? ";" : ",";
    size_t cap = 1;
    for (const char *p = s->text; *p; p++)
        cap += *p == *sep;
    if (!(s->values = calloc(cap, sizeof *s->values)))
        goto oom;
    char *p = s->text;
    for (;;) {
        char *end = strchr(p, *sep);
        if (end)
            *end = '\0';
        char *value = trim(p);
        if (!*value) {
            snprintf(err, err_size, "--sweep '%s': empty value", spec);
            return -1;
        }
        s->values[s->n++] = value;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
oom:
    snprintf(err, err_size, "out of memory");
    return -1;
}

/* The length of the key of an assignment `key=value`, blanks trimmed. */
static size_t key_len(const char *assignment, const char **key)
{
    const char *eq = strchr(assignment, '=');
    size_t len = eq ? (size_t)(eq - assignment) : strlen(assignment);
    while (len > 0 && (*assignment == ' ' || *assignment == '\t')) {
        assignment++;
        len--;
    }
    while (len > 0 && (assignment[len - 1] == ' ' || assignment[len - 1] == '\t'))
        len--;
    *key = assignment;
    return len;
}

static void points_free(point_t *points, size_t n_points, size_t n_sweeps)
{
    for (size_t i = 0; points && i < n_points; i++) {
        fs_config_free(points[i].cfg);
        for (size_t s = 0; points[i].assignments && s < n_sweeps; s++)
            free(points[i].assignments[s]);
        free(points[i].assignments);
        free(points[i].label);
    }
    free(points);
}

/*
 * Builds every point's overrides and label and loads its configuration.
 * Configuration problems are printed to stderr (the edge is here: this is
 * the subcommand). Returns 0, or -1.
 */
static int points_prepare(tune_t *t, const char *config_path, const char *const *fixed,
                          size_t n_fixed, const char *alerts_dir)
{
    const char **overrides = calloc(n_fixed + t->n_sweeps + 1, sizeof *overrides);
    fs_config_diag_t diag = {0};
    int rc = -1;

    if (!overrides || !(t->points = calloc(t->n_points, sizeof *t->points))) {
        fprintf(stderr, "tune: out of memory\n");
        goto done;
    }
    memcpy(overrides, fixed, n_fixed * sizeof *overrides);
    for (size_t i = 0; i < t->n_points; i++) {
        point_t *p = &t->points[i];
        size_t label_len = sizeof "(no sweep)", rest = i;

        if (!(p->assignments = calloc(t->n_sweeps + 1, sizeof *p->assignments)))
            goto oom;
        /* The first sweep varies slowest: decode i as a mixed-radix number. */
        for (size_t s = t->n_sweeps; s-- > 0;) {
            const sweep_t *sw = &t->sweeps[s];
            const char *value = sw->values[rest % sw->n];
            rest /= sw->n;
            size_t len = strlen(sw->key) + 1 + strlen(value) + 1;
            if (!(p->assignments[s] = malloc(len)))
                goto oom;
            snprintf(p->assignments[s], len, "%s=%s", sw->key, value);
            label_len += len + 2;
        }
        if (!(p->label = malloc(label_len)))
            goto oom;
        p->label[0] = '\0';
        for (size_t s = 0; s < t->n_sweeps; s++) {
            if (s > 0)
                strcat(p->label, ", ");
            strcat(p->label, p->assignments[s]);
            overrides[n_fixed + s] = p->assignments[s];
        }
        if (t->n_sweeps == 0)
            strcpy(p->label, "(no sweep)");
        if (!(p->cfg = fs_config_new()) || fs_config_set_default(p->cfg, "store", "memory") != 0)
            goto oom;
        if (fs_config_load(p->cfg, config_path, overrides, n_fixed + t->n_sweeps, &diag) != 0) {
            fprintf(stderr, "tune: point %zu (%s): the configuration is not valid:\n", i + 1,
                    p->label);
            for (size_t k = 0; k < diag.n; k++)
                fprintf(stderr, "  %s\n", diag.messages[k]);
            goto done;
        }
        if (p->cfg->store != FS_STORE_MEMORY) {
            fprintf(stderr,
                    "tune: point %zu (%s): store must be memory: every point starts from "
                    "empty state of its own\n",
                    i + 1, p->label);
            goto done;
        }
        int n = snprintf(p->alerts_path, sizeof p->alerts_path, "%s/point-%zu.ndjson", alerts_dir,
                         i + 1);
        if (n < 0 || (size_t)n >= sizeof p->alerts_path) {
            fprintf(stderr, "tune: %s: path too long\n", alerts_dir);
            goto done;
        }
    }
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "tune: out of memory\n");
done:
    fs_config_diag_clear(&diag);
    free(overrides);
    return rc;
}

/* ---- running ---- */

static void format_fields(point_t *p)
{
    const fs_tune_metrics_t *m = &p->m;
    const double reals[N_FIELDS] = {[F_RECALL] = m->recall,
                                    [F_PRECISION] = m->precision,
                                    [F_FALSE_PER_DAY] = m->false_per_day,
                                    [F_DELAY_P50] = m->delay_p50_s,
                                    [F_DELAY_P95] = m->delay_p95_s,
                                    [F_RATIO_P50] = m->ratio_p50,
                                    [F_EVENTS_PER_S] = p->events_per_s};

    snprintf(p->fields[F_INCIDENTS], sizeof p->fields[0], "%zu", m->incidents);
    snprintf(p->fields[F_DETECTED], sizeof p->fields[0], "%zu", m->detected);
    snprintf(p->fields[F_ALERTS], sizeof p->fields[0], "%zu", m->alerts);
    snprintf(p->fields[F_FALSE], sizeof p->fields[0], "%zu", m->false_alerts);
    for (int f = F_RECALL; f < N_FIELDS; f++) {
        if (!isfinite(reals[f]))
            p->fields[f][0] = '\0';
        else
            snprintf(p->fields[f], sizeof p->fields[0], f == F_EVENTS_PER_S ? "%.0f" : "%.6g",
                     reals[f]);
    }
}

/* Replays and scores one point. Returns 0, or -1 with the reason in p->err. */
static int run_point(const tune_t *t, point_t *p)
{
    fs_bench_replay_files_t files = {t->playback, t->errors, p->alerts_path, NULL};
    fs_bench_replay_stats_t stats;
    fs_score_options_t opt;
    fs_score_result_t *r = NULL;
    char why[768];

    if (fs_bench_replay_run(p->cfg, &files, NULL, &stats, p->err, sizeof p->err) != 0)
        return -1;
    memset(&opt, 0, sizeof opt);
    opt.truth_path = t->truth;
    opt.alerts_path = p->alerts_path;
    opt.span_ms = t->span_ms;
    if (fs_score_run(&opt, &r, why, sizeof why) != 0) {
        snprintf(p->err, sizeof p->err, "score: %s", why);
        return -1;
    }
    int rc = fs_tune_metrics(r, t->oracle, &p->m);
    fs_score_result_free(r);
    if (rc != 0) {
        snprintf(p->err, sizeof p->err, "out of memory");
        return -1;
    }
    p->events_per_s =
        stats.elapsed_s > 0
            ? (double)(stats.pipeline.events + stats.pipeline.invalid) / stats.elapsed_s
            : NAN;
    format_fields(p);
    if (!t->keep_alerts)
        unlink(p->alerts_path);
    return 0;
}

/* Formats v for people: fmt, or "-" when undefined. */
static const char *human(char buf[32], const char *fmt, double v)
{
    if (!isfinite(v))
        return "-";
    snprintf(buf, 32, fmt, v);
    return buf;
}

static void *worker(void *opaque)
{
    tune_t *t = opaque;

    for (;;) {
        pthread_mutex_lock(&t->lock);
        if (t->failed || t->next == t->n_points) {
            pthread_mutex_unlock(&t->lock);
            break;
        }
        point_t *p = &t->points[t->next++];
        pthread_mutex_unlock(&t->lock);

        int rc = run_point(t, p);

        pthread_mutex_lock(&t->lock);
        t->finished++;
        if (rc != 0) {
            t->failed = 1;
        } else {
            char b1[32], b2[32], b3[32], b4[32];
            fprintf(stderr,
                    "tune: %zu/%zu  %s: recall %s, precision %s, %s false/day, "
                    "median delay %s (%.0f events/s)\n",
                    t->finished, t->n_points, p->label, human(b1, "%.2f", p->m.recall),
                    human(b2, "%.2f", p->m.precision), human(b3, "%.2f", p->m.false_per_day),
                    human(b4, "%.1f s", p->m.delay_p50_s), p->events_per_s);
        }
        pthread_mutex_unlock(&t->lock);
    }
    return NULL;
}

/* Runs every point on jobs threads (the calling one when jobs is 1).
 * Returns 0, or -1 after printing the first failure in point order. */
static int run_all(tune_t *t, int jobs)
{
    pthread_t threads[MAX_JOBS];
    int started = 0;

    if ((size_t)jobs > t->n_points)
        jobs = (int)t->n_points;
    if (jobs <= 1) {
        worker(t);
    } else {
        for (; started < jobs; started++) {
            if (pthread_create(&threads[started], NULL, worker, t) != 0)
                break;
        }
        if (started == 0)
            worker(t);
        for (int i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
    }
    if (!t->failed)
        return 0;
    for (size_t i = 0; i < t->n_points; i++) {
        if (t->points[i].err[0]) {
            fprintf(stderr, "tune: point %zu (%s): %s\n", i + 1, t->points[i].label,
                    t->points[i].err);
            break;
        }
    }
    return -1;
}

/* ---- output ---- */

/* Writes a CSV field, quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static int write_csv(const tune_t *t, const char *path)
{
    FILE *out = fopen(path, "w");

    if (!out) {
        fprintf(stderr, "tune: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs(FS_TUNE_COL_POINT, out);
    for (size_t s = 0; s < t->n_sweeps; s++) {
        fputc(',', out);
        csv_field(out, t->sweeps[s].key);
    }
    for (int f = 0; f < N_FIELDS; f++)
        fprintf(out, ",%s", field_names[f]);
    fprintf(out, ",%s\n", FS_TUNE_COL_PARETO);
    for (size_t i = 0; i < t->n_points; i++) {
        const point_t *p = &t->points[i];
        fprintf(out, "%zu", i + 1);
        for (size_t s = 0; s < t->n_sweeps; s++) {
            fputc(',', out);
            csv_field(out, strchr(p->assignments[s], '=') + 1);
        }
        for (int f = 0; f < N_FIELDS; f++)
            fprintf(out, ",%s", p->fields[f]);
        fprintf(out, ",%d\n", p->pareto);
    }
    if (fclose(out) != 0) {
        fprintf(stderr, "tune: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static double field_value(const char *field)
{
    return field[0] ? strtod(field, NULL) : NAN;
}

/* Marks the front on the values as written, so the file agrees with itself. */
static int mark_pareto(tune_t *t)
{
    double *delay = calloc(t->n_points, sizeof *delay);
    double *fpd = calloc(t->n_points, sizeof *fpd);
    int *front = calloc(t->n_points, sizeof *front);
    int rc = -1;

    if (delay && fpd && front) {
        for (size_t i = 0; i < t->n_points; i++) {
            delay[i] = field_value(t->points[i].fields[F_DELAY_P50]);
            fpd[i] = field_value(t->points[i].fields[F_FALSE_PER_DAY]);
        }
        fs_tune_pareto(delay, fpd, t->n_points, front);
        for (size_t i = 0; i < t->n_points; i++)
            t->points[i].pareto = front[i];
        rc = 0;
    }
    free(delay);
    free(fpd);
    free(front);
    return rc;
}

typedef struct front_entry {
    size_t point;
    double delay, false_per_day;
} front_entry_t;

static int cmp_front(const void *a, const void *b)
{
    const front_entry_t *x = a, *y = b;
    if (x->delay != y->delay)
        return x->delay < y->delay ? -1 : 1;
    if (x->false_per_day != y->false_per_day)
        return x->false_per_day < y->false_per_day ? -1 : 1;
    return x->point < y->point ? -1 : 1;
}

/* Prints the front as a table, fastest detection first. */
static void print_front(const tune_t *t, FILE *out)
{
    front_entry_t *order = calloc(t->n_points, sizeof *order);
    size_t n = 0;
    int width_label = 6;

    if (!order)
        return;
    for (size_t i = 0; i < t->n_points; i++) {
        const point_t *p = &t->points[i];
        if (!p->pareto)
            continue;
        order[n].point = i;
        order[n].delay = field_value(p->fields[F_DELAY_P50]);
        order[n].false_per_day = field_value(p->fields[F_FALSE_PER_DAY]);
        n++;
        int len = (int)strlen(p->label);
        if (len > width_label)
            width_label = len;
    }
    qsort(order, n, sizeof *order, cmp_front);
    fprintf(out,
            "pareto front (median detection delay vs false alerts per day): %zu of %zu "
            "point%s\n",
            n, t->n_points, t->n_points == 1 ? "" : "s");
    if (n == 0) {
        fprintf(out, "  (no point detected any incident)\n");
        free(order);
        return;
    }
    fprintf(out, "  %5s  %-*s  %11s  %11s  %9s  %6s  %9s\n", "point", width_label, "values",
            "delay p50 s", "delay p95 s", "false/day", "recall", "precision");
    for (size_t k = 0; k < n; k++) {
        const point_t *p = &t->points[order[k].point];
        char b1[32], b2[32], b3[32], b4[32], b5[32];
        fprintf(out, "  %5zu  %-*s  %11s  %11s  %9s  %6s  %9s\n", order[k].point + 1, width_label,
                p->label, human(b1, "%.1f", p->m.delay_p50_s), human(b2, "%.1f", p->m.delay_p95_s),
                human(b3, "%.2f", p->m.false_per_day), human(b4, "%.2f", p->m.recall),
                human(b5, "%.2f", p->m.precision));
    }
    free(order);
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench tune -c FILE --playback P.ndjson --errors E.ndjson\n"
          "         --truth T.ndjson --out RESULTS.csv [--sweep key=v1,v2,...]...\n"
          "         [-X key=value]... [--jobs N] [--alerts-dir DIR]\n",
          out);
}

int fs_bench_tune_main(int argc, char **argv)
{
    enum { OPT_PLAYBACK = 256, OPT_ERRORS, OPT_TRUTH, OPT_OUT, OPT_SWEEP, OPT_JOBS, OPT_ALERTS };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"playback", required_argument, NULL, OPT_PLAYBACK},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"out", required_argument, NULL, OPT_OUT},
        {"sweep", required_argument, NULL, OPT_SWEEP},
        {"jobs", required_argument, NULL, OPT_JOBS},
        {"alerts-dir", required_argument, NULL, OPT_ALERTS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *out_path = NULL, *alerts_dir = NULL;
    const char **fixed = calloc((size_t)argc + 1, sizeof *fixed);
    size_t n_fixed = 0;
    tune_t t;
    fs_score_result_t *oracle = NULL;
    char tmp_dir[PATH_LEN] = "", empty_alerts[PATH_LEN] = "", err[1024], *end;
    long jobs = 1;
    int status = 1, opt, lock_ready = 0;

    memset(&t, 0, sizeof t);
    if (!fixed || !(t.sweeps = calloc((size_t)argc + 1, sizeof *t.sweeps))) {
        fprintf(stderr, "tune: out of memory\n");
        goto done;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:X:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'X':
            fixed[n_fixed++] = optarg;
            break;
        case OPT_PLAYBACK:
            t.playback = optarg;
            break;
        case OPT_ERRORS:
            t.errors = optarg;
            break;
        case OPT_TRUTH:
            t.truth = optarg;
            break;
        case OPT_OUT:
            out_path = optarg;
            break;
        case OPT_SWEEP:
            if (sweep_parse(optarg, &t.sweeps[t.n_sweeps++], err, sizeof err) != 0) {
                fprintf(stderr, "tune: %s\n", err);
                status = 2;
                goto done;
            }
            break;
        case OPT_JOBS:
            jobs = strtol(optarg, &end, 10);
            if (end == optarg || *end || jobs < 1 || jobs > MAX_JOBS) {
                fprintf(stderr, "tune: bad --jobs '%s' (1 to %d)\n", optarg, MAX_JOBS);
                status = 2;
                goto done;
            }
            break;
        case OPT_ALERTS:
            alerts_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto done;
        default:
            usage(stderr);
            status = 2;
            goto done;
        }
    }
    if (!config_path || !t.playback || !t.errors || !t.truth || !out_path || optind != argc) {
        usage(stderr);
        status = 2;
        goto done;
    }

    /* A key swept twice, or swept and fixed, has no single meaning. */
    t.n_points = 1;
    for (size_t s = 0; s < t.n_sweeps; s++) {
        for (size_t k = 0; k < s; k++) {
            if (strcmp(t.sweeps[k].key, t.sweeps[s].key) == 0) {
                fprintf(stderr, "tune: %s is swept twice\n", t.sweeps[s].key);
                status = 2;
                goto done;
            }
        }
        for (size_t k = 0; k < n_fixed; k++) {
            const char *key;
            size_t len = key_len(fixed[k], &key);
            if (len == strlen(t.sweeps[s].key) && memcmp(key, t.sweeps[s].key, len) == 0) {
                fprintf(stderr, "tune: %s is both swept and set with -X\n", t.sweeps[s].key);
                status = 2;
                goto done;
            }
        }
        if (t.n_points > MAX_POINTS / t.sweeps[s].n) {
            fprintf(stderr, "tune: the sweeps make more than %d points\n", MAX_POINTS);
            status = 2;
            goto done;
        }
        t.n_points *= t.sweeps[s].n;
    }

    const char *tmp_root = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/foreshock-tune.XXXXXX",
             tmp_root && *tmp_root ? tmp_root : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "tune: cannot create a temporary folder in %s: %s\n",
                tmp_root && *tmp_root ? tmp_root : "/tmp", strerror(errno));
        tmp_dir[0] = '\0';
        goto done;
    }
    if (alerts_dir && mkdir(alerts_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "tune: %s: %s\n", alerts_dir, strerror(errno));
        goto done;
    }
    t.keep_alerts = alerts_dir != NULL;
    if (points_prepare(&t, config_path, fixed, n_fixed, alerts_dir ? alerts_dir : tmp_dir) != 0)
        goto done;

    /* The oracle and the span, once: score no alerts with the event files. */
    snprintf(empty_alerts, sizeof empty_alerts, "%s/no-alerts.ndjson", tmp_dir);
    FILE *f = fopen(empty_alerts, "w");
    if (!f || fclose(f) != 0) {
        fprintf(stderr, "tune: %s: %s\n", empty_alerts, strerror(errno));
        goto done;
    }
    fs_score_options_t sopt;
    memset(&sopt, 0, sizeof sopt);
    sopt.truth_path = t.truth;
    sopt.alerts_path = empty_alerts;
    sopt.playback_path = t.playback;
    sopt.errors_path = t.errors;
    if (fs_score_run(&sopt, &oracle, err, sizeof err) != 0) {
        fprintf(stderr, "tune: %s\n", err);
        goto done;
    }
    t.oracle = oracle;
    if (strcmp(oracle->span_source, "event files") == 0 &&
        oracle->span_end_ms > oracle->span_start_ms)
        t.span_ms = oracle->span_end_ms - oracle->span_start_ms;
    fprintf(stderr,
            "tune: %zu point%s on %ld job%s; %zu incident%s, %.4f simulated days, "
            "%llu events\n",
            t.n_points, t.n_points == 1 ? "" : "s", jobs, jobs == 1 ? "" : "s", oracle->n_incidents,
            oracle->n_incidents == 1 ? "" : "s", oracle->span_days,
            (unsigned long long)oracle->events_read);

    /* jansson seeds its hash function on first use; do it before threads. */
    json_object_seed(0);
    if (pthread_mutex_init(&t.lock, NULL) != 0) {
        fprintf(stderr, "tune: cannot create a mutex\n");
        goto done;
    }
    lock_ready = 1;
    if (run_all(&t, (int)jobs) != 0)
        goto done;
    if (mark_pareto(&t) != 0) {
        fprintf(stderr, "tune: out of memory\n");
        goto done;
    }
    if (write_csv(&t, out_path) != 0)
        goto done;
    print_front(&t, stdout);
    status = 0;
done:
    if (tmp_dir[0]) {
        if (empty_alerts[0])
            unlink(empty_alerts);
        for (size_t i = 0; !t.keep_alerts && t.points && i < t.n_points; i++)
            if (t.points[i].alerts_path[0])
                unlink(t.points[i].alerts_path);
        rmdir(tmp_dir);
    }
    if (lock_ready)
        pthread_mutex_destroy(&t.lock);
    fs_score_result_free(oracle);
    points_free(t.points, t.n_points, t.n_sweeps);
    sweeps_free(t.sweeps, t.n_sweeps);
    free(fixed);
    return status;
}
