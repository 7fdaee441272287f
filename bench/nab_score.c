/*
 * nab_score.c: NAB scoring (see nab_score.h for the rules and their source).
 */
#include "bench/nab_score.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const fs_nab_profile_names[FS_NAB_PROFILES] = {"standard", "reward_low_FP_rate",
                                                           "reward_low_FN_rate"};

typedef struct nab_file {
    char *name; /* "category/name.csv" */
    size_t n;
    char (*ts)[FS_NAB_TS_LEN];
    int64_t *us; /* timestamps, microseconds since the epoch */
    double *val;
    size_t nwin;
    int64_t (*win)[2];
} nab_file;

struct fs_nab_corpus {
    nab_file *files;
    size_t nfiles;
    size_t nwindows;
    double tp_w[FS_NAB_PROFILES], fp_w[FS_NAB_PROFILES], fn_w[FS_NAB_PROFILES];
    json_t *thresholds; /* config/thresholds.json, NULL when absent */
};

/* One scorable (non-probationary) row of the whole corpus. */
typedef struct nab_point {
    double score;  /* detector's anomaly score */
    double sig;    /* scaled sigmoid of the row's position */
    long window;   /* corpus-wide window index, -1 outside windows */
    size_t order;  /* position in the corpus, for a stable sort */
} nab_point;

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" (or 'T') -> microseconds; -1 on error. */
static int parse_ts(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, nread = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &nread) != 6)
        return -1;
    int64_t us = 0;
    const char *p = s + nread;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 6)
                us = us * 10 + (*p - '0');
        for (; digits < 6; digits++)
            us *= 10;
    }
    if (*p != '\0')
        return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out = ((days * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + us;
    return 0;
}

static char *read_all(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(fp, 0, SEEK_END) != 0)
        goto fail;
    long size = ftell(fp);
    if (size < 0 || fseek(fp, 0, SEEK_SET) != 0)
        goto fail;
    buf = malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, fp) != (size_t)size)
        goto fail;
    buf[size] = '\0';
    *len = (size_t)size;
    fclose(fp);
    return buf;
fail:
    snprintf(err, errlen, "%s: read failed", path);
    free(buf);
    fclose(fp);
    return NULL;
}

int fs_nab_read_csv(const char *path, char (**ts_out)[FS_NAB_TS_LEN], double **val_out,
                    size_t *n_out, char *err, size_t errlen)
{
    size_t len = 0, cap = 0, n = 0, line = 0;
    char (*ts)[FS_NAB_TS_LEN] = NULL;
    double *val = NULL;
    char *buf = read_all(path, &len, err, errlen);
    if (buf == NULL)
        return -1;
    for (char *p = buf, *next; p < buf + len; p = next) {
        char *eol = strchr(p, '\n');
        next = eol ? eol + 1 : buf + len;
        if (eol)
            *eol = '\0';
        size_t l = strlen(p);
        if (l > 0 && p[l - 1] == '\r')
            p[--l] = '\0';
        if (++line == 1 || l == 0)
            continue; /* header, blank line */
        char *comma = strchr(p, ',');
        if (comma == NULL || (size_t)(comma - p) >= FS_NAB_TS_LEN) {
            snprintf(err, errlen, "%s:%zu: expected timestamp,number", path, line);
            goto fail;
        }
        char *end;
        double v = strtod(comma + 1, &end);
        if (end == comma + 1 || (*end != '\0' && *end != ',')) {
            snprintf(err, errlen, "%s:%zu: bad number", path, line);
            goto fail;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            void *t2 = ts_out ? realloc(ts, cap * sizeof *ts) : NULL;
            double *v2 = realloc(val, cap * sizeof *val);
            if (v2 != NULL)
                val = v2;
            if (t2 != NULL)
                ts = t2;
            if (v2 == NULL || (ts_out && t2 == NULL)) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
        }
        if (ts_out) {
            memcpy(ts[n], p, (size_t)(comma - p));
            ts[n][comma - p] = '\0';
        }
        val[n++] = v;
    }
    free(buf);
    if (ts_out)
        *ts_out = ts;
    *val_out = val;
    *n_out = n;
    return 0;
fail:
    free(buf);
    free(ts);
    free(val);
    return -1;
}

void fs_nab_corpus_free(fs_nab_corpus_t *corpus)
{
    if (corpus == NULL)
        return;
    for (size_t f = 0; f < corpus->nfiles; f++) {
        free(corpus->files[f].name);
        free(corpus->files[f].ts);
        free(corpus->files[f].us);
        free(corpus->files[f].val);
        free(corpus->files[f].win);
    }
    free(corpus->files);
    json_decref(corpus->thresholds);
    free(corpus);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int load_profiles(fs_nab_corpus_t *corpus, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/config/profiles.json", dir);
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        json_t *cm = json_object_get(json_object_get(root, fs_nab_profile_names[k]), "CostMatrix");
        json_t *tp = json_object_get(cm, "tpWeight"), *fp = json_object_get(cm, "fpWeight"),
               *fn = json_object_get(cm, "fnWeight");
        if (!json_is_number(tp) || !json_is_number(fp) || !json_is_number(fn)) {
            snprintf(err, errlen, "%s: profile %s lacks tp/fp/fnWeight", path,
                     fs_nab_profile_names[k]);
            json_decref(root);
            return -1;
        }
        corpus->tp_w[k] = json_number_value(tp);
        corpus->fp_w[k] = json_number_value(fp);
        corpus->fn_w[k] = json_number_value(fn);
    }
    json_decref(root);
    return 0;
}

fs_nab_corpus_t *fs_nab_corpus_load(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    json_error_t jerr;
    json_t *labels = NULL;
    const char **keys = NULL;
    fs_nab_corpus_t *corpus = calloc(1, sizeof *corpus);
    if (corpus == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (load_profiles(corpus, dir, err, errlen) != 0)
        goto fail;
    snprintf(path, sizeof path, "%s/config/thresholds.json", dir);
    corpus->thresholds = json_load_file(path, 0, &jerr); /* optional */
    snprintf(path, sizeof path, "%s/labels/combined_windows.json", dir);
    labels = json_load_file(path, 0, &jerr);
    if (labels == NULL || !json_is_object(labels)) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line,
                 labels ? "not an object" : jerr.text);
        goto fail;
    }
    size_t nkeys = json_object_size(labels), i = 0;
    keys = calloc(nkeys ? nkeys : 1, sizeof *keys);
    corpus->files = calloc(nkeys ? nkeys : 1, sizeof *corpus->files);
    if (keys == NULL || corpus->files == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *wins;
    json_object_foreach(labels, key, wins) keys[i++] = key;
    qsort(keys, nkeys, sizeof *keys, cmp_str);
    for (i = 0; i < nkeys; i++) {
        nab_file *file = &corpus->files[corpus->nfiles++];
        wins = json_object_get(labels, keys[i]);
        file->name = strdup(keys[i]);
        if (file->name == NULL || !json_is_array(wins)) {
            snprintf(err, errlen, "%s: %s: bad entry", path, keys[i]);
            goto fail;
        }
        file->nwin = json_array_size(wins);
        file->win = calloc(file->nwin ? file->nwin : 1, sizeof *file->win);
        if (file->win == NULL)
            goto fail;
        for (size_t w = 0; w < file->nwin; w++) {
            json_t *pair = json_array_get(wins, w);
            for (int e = 0; e < 2; e++) {
                const char *s = json_string_value(json_array_get(pair, (size_t)e));
                if (s == NULL || parse_ts(s, &file->win[w][e]) != 0) {
                    snprintf(err, errlen, "%s: %s: window %zu: bad timestamp", path, keys[i], w);
                    goto fail;
                }
            }
        }
        corpus->nwindows += file->nwin;
        char dpath[4096];
        snprintf(dpath, sizeof dpath, "%s/data/%s", dir, keys[i]);
        if (fs_nab_read_csv(dpath, &file->ts, &file->val, &file->n, err, errlen) != 0)
            goto fail;
        file->us = malloc((file->n ? file->n : 1) * sizeof *file->us);
        if (file->us == NULL)
            goto fail;
        for (size_t r = 0; r < file->n; r++)
            if (parse_ts(file->ts[r], &file->us[r]) != 0) {
                snprintf(err, errlen, "%s:%zu: bad timestamp", dpath, r + 2);
                goto fail;
            }
    }
    free(keys);
    json_decref(labels);
    return corpus;
fail:
    if (err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    free(keys);
    json_decref(labels);
    fs_nab_corpus_free(corpus);
    return NULL;
}

size_t fs_nab_corpus_nfiles(const fs_nab_corpus_t *corpus) { return corpus->nfiles; }
const char *fs_nab_corpus_file(const fs_nab_corpus_t *corpus, size_t f)
{
    return corpus->files[f].name;
}
size_t fs_nab_corpus_nrows(const fs_nab_corpus_t *corpus, size_t f) { return corpus->files[f].n; }
const double *fs_nab_corpus_values(const fs_nab_corpus_t *corpus, size_t f)
{
    return corpus->files[f].val;
}
const char *fs_nab_corpus_timestamp(const fs_nab_corpus_t *corpus, size_t f, size_t row)
{
    return corpus->files[f].ts[row];
}

/* NAB's scaledSigmoid. */
static double scaled_sigmoid(double x)
{
    if (x >= 3.0)
        return -1.0;
    return 2.0 * (1.0 / (1.0 + exp(5.0 * x))) - 1.0;
}

static size_t probation_length(size_t n)
{
    double a = floor(0.15 * (double)n), b = 0.15 * 5000;
    return (size_t)ceil(a < b ? a : b);
}

static size_t index_of(const int64_t *us, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++)
        if (us[i] == t)
            return i;
    return n;
}

/* calcSweepScore for one file: appends its scorable rows to pts. Window ids
 * start at *win_base and *win_base advances by the file's windows. */
static int sweep_file(const nab_file *file, const double *scores, nab_point *pts, size_t *npts,
                      size_t *order, long *win_base, char *err, size_t errlen)
{
    size_t prob = probation_length(file->n), next_win = 0;
    long cur_win = -1;
    size_t cur_right = 0, prev_right = 0;
    double cur_width = 0, prev_width = 0;
    int have_prev = 0;
    for (size_t i = 0; i < file->n; i++) {
        double sig;
        if (next_win < file->nwin && file->us[i] == file->win[next_win][0]) {
            cur_win = *win_base + (long)next_win;
            cur_right = index_of(file->us, file->n, file->win[next_win][1]);
            if (cur_right == file->n) {
                snprintf(err, errlen, "%s: window %zu ends at no row", file->name, next_win);
                return -1;
            }
            cur_width = (double)(cur_right - i + 1);
            next_win++;
        }
        if (cur_win >= 0) {
            sig = scaled_sigmoid(-(double)((long)cur_right - (long)i + 1) / cur_width);
        } else if (!have_prev) {
            sig = scaled_sigmoid(3.0);
        } else {
            sig = scaled_sigmoid((double)(i - prev_right) / (prev_width - 1.0));
        }
        if (i >= prob) {
            nab_point *pt = &pts[(*npts)++];
            pt->score = scores[i];
            pt->sig = sig;
            pt->window = cur_win;
            pt->order = (*order)++;
        }
        if (cur_win >= 0 && i == cur_right) {
            prev_right = i;
            prev_width = cur_width;
            have_prev = 1;
            cur_win = -1;
        }
    }
    *win_base += (long)file->nwin;
    return 0;
}

static int cmp_point(const void *a, const void *b)
{
    const nab_point *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* calcScoreByThreshold's table: row j holds the total with every point of
 * score >= thr[j] detected; thr[0] = 1.1 (nothing detected), then the distinct
 * scores in decreasing order. */
typedef struct nab_table {
    size_t nrows;
    double *thr, *total;
    long *tp, *fp, *detected;
} nab_table;

static void sweep_table(const nab_point *pts, size_t npts, long nwin, double tp_w, double fp_w,
                        double fn_w, double *win_part, long *win_seq, long *seq_win,
                        nab_table *tab)
{
    const double max_tp = scaled_sigmoid(-1.0);
    long nseq = 0, tp = 0, fp = 0, detected = 0;
    double fp_part = 0.0, cur = 1.1;
    for (long w = 0; w < nwin; w++)
        win_seq[w] = -1;
    /* The dict of window parts is ordered by first appearance in sorted order;
     * totals are summed in that order, as Python's sum(dict.values()) does. */
    for (size_t k = 0; k < npts; k++) {
        long w = pts[k].window;
        if (w >= 0 && win_seq[w] < 0) {
            win_seq[w] = nseq;
            seq_win[nseq++] = w;
            win_part[w] = -fn_w;
        }
    }
    tab->nrows = 0;
    for (size_t k = 0; k <= npts; k++) {
        if (k == npts || pts[k].score != cur) {
            double total = 0.0 + fp_part;
            for (long s = 0; s < nseq; s++)
                total += win_part[seq_win[s]];
            size_t j = tab->nrows++;
            tab->thr[j] = cur;
            tab->total[j] = total;
            tab->tp[j] = tp;
            tab->fp[j] = fp;
            tab->detected[j] = detected;
            if (k == npts)
                break;
            cur = pts[k].score;
        }
        long w = pts[k].window;
        if (w < 0) {
            fp++;
            fp_part += pts[k].sig * fp_w;
        } else {
            double ws = pts[k].sig * tp_w / max_tp;
            tp++;
            if (win_part[w] == -fn_w && ws > -fn_w)
                detected++;
            if (ws > win_part[w])
                win_part[w] = ws;
        }
    }
}

/* The row in effect at threshold t: the last one whose threshold is >= t. */
static size_t table_row(const nab_table *tab, double t)
{
    size_t lo = 0, hi = tab->nrows; /* thr[lo] >= t is invariant for lo = 0 when t <= 1.1 */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tab->thr[mid] >= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static double objective(const nab_table *tab, double t)
{
    if (!(t >= 0.0 && t <= 1.0))
        return -INFINITY;
    return tab->total[table_row(tab, t)];
}

#define TWIDDLE_MAX_CALLS 4096

/* nab/optimizer.py twiddle(initialGuess=0.5, tolerance=1e-7): the hill
 * climb that chose the thresholds of NAB's published scores. */
static double twiddle(const nab_table *tab)
{
    double xs[TWIDDLE_MAX_CALLS], ys[TWIDDLE_MAX_CALLS];
    size_t ncalls = 0;
    double x = 0.5, delta = 0.1, best = objective(tab, x);
    xs[ncalls] = x;
    ys[ncalls++] = best;
#define CALL(X)                                                                                \
    do {                                                                                       \
        size_t c_;                                                                             \
        for (c_ = 0; c_ < ncalls && xs[c_] != (X); c_++)                                       \
            ;                                                                                  \
        if (c_ == ncalls && ncalls < TWIDDLE_MAX_CALLS) {                                      \
            xs[ncalls] = (X);                                                                  \
            ys[ncalls++] = objective(tab, (X));                                                \
        }                                                                                      \
        score = c_ < ncalls ? ys[c_] : objective(tab, (X));                                    \
    } while (0)
    while (delta > 0.0000001) {
        double score;
        x += delta;
        CALL(x);
        if (score > best) {
            best = score;
            delta *= 2;
        } else {
            x -= 2 * delta;
            CALL(x);
            if (score > best) {
                best = score;
                delta *= 2;
            } else {
                x += delta;
                delta *= 0.5;
            }
        }
    }
#undef CALL
    size_t arg = 0;
    for (size_t c = 1; c < ncalls; c++)
        if (ys[c] > ys[arg])
            arg = c;
    return xs[arg];
}

/* The optimum raw score of every profile for one set of anomaly scores. */
static int score_raw(const fs_nab_corpus_t *corpus, const double *published,
                     const double *const *scores,
                     fs_nab_result_t out[FS_NAB_PROFILES], char *err, size_t errlen)
{
    size_t total = 0, npts = 0, order = 0;
    long win_base = 0;
    int rc = -1;
    for (size_t f = 0; f < corpus->nfiles; f++)
        total += corpus->files[f].n;
    long nwin = (long)corpus->nwindows;
    nab_point *pts = malloc((total ? total : 1) * sizeof *pts);
    double *win_part = malloc((size_t)(nwin ? nwin : 1) * sizeof *win_part);
    long *win_seq = malloc((size_t)(nwin ? nwin : 1) * sizeof *win_seq);
    long *seq_win = malloc((size_t)(nwin ? nwin : 1) * sizeof *seq_win);
    nab_table tab = {0};
    tab.thr = malloc((total + 1) * sizeof *tab.thr);
    tab.total = malloc((total + 1) * sizeof *tab.total);
    tab.tp = malloc((total + 1) * sizeof *tab.tp);
    tab.fp = malloc((total + 1) * sizeof *tab.fp);
    tab.detected = malloc((total + 1) * sizeof *tab.detected);
    if (pts == NULL || win_part == NULL || win_seq == NULL || seq_win == NULL ||
        tab.thr == NULL || tab.total == NULL || tab.tp == NULL || tab.fp == NULL ||
        tab.detected == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t f = 0; f < corpus->nfiles; f++)
        if (sweep_file(&corpus->files[f], scores[f], pts, &npts, &order, &win_base, err,
                       errlen) != 0)
            goto done;
    qsort(pts, npts, sizeof *pts, cmp_point);
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        fs_nab_result_t *r = &out[k];
        memset(r, 0, sizeof *r);
        snprintf(r->profile, sizeof r->profile, "%s", fs_nab_profile_names[k]);
        sweep_table(pts, npts, nwin, corpus->tp_w[k], corpus->fp_w[k], corpus->fn_w[k],
                    win_part, win_seq, seq_win, &tab);
        size_t best = 0;
        for (size_t j = 1; j < tab.nrows; j++)
            if (tab.total[j] > tab.total[best])
                best = j;
        r->sweep_threshold = tab.thr[best];
        r->sweep_raw = tab.total[best];
        r->twiddle_threshold = twiddle(&tab);
        r->twiddle_raw = objective(&tab, r->twiddle_threshold);
        r->threshold = r->sweep_threshold;
        if (published != NULL && !isnan(published[k]))
            r->threshold = published[k];
        r->published = published != NULL && !isnan(published[k]);
        size_t j = table_row(&tab, r->threshold);
        r->raw = tab.total[j];
        r->tp = tab.tp[j];
        r->fp = tab.fp[j];
        r->windows_detected = tab.detected[j];
        r->windows = nwin;
        r->perfect = (double)nwin * corpus->tp_w[k];
    }
    rc = 0;
done:
    free(tab.thr);
    free(tab.total);
    free(tab.tp);
    free(tab.fp);
    free(tab.detected);
    free(pts);
    free(win_part);
    free(win_seq);
    free(seq_win);
    return rc;
}

int fs_nab_score_arrays(const fs_nab_corpus_t *corpus, const char *detector,
                        const double *const *anomaly_scores,
                        fs_nab_result_t out[FS_NAB_PROFILES], char *err, size_t errlen)
{
    fs_nab_result_t null_res[FS_NAB_PROFILES];
    double **null_scores = calloc(corpus->nfiles ? corpus->nfiles : 1, sizeof *null_scores);
    int rc = -1;
    if (null_scores == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t f = 0; f < corpus->nfiles; f++) {
        null_scores[f] = malloc((corpus->files[f].n ? corpus->files[f].n : 1) * sizeof(double));
        if (null_scores[f] == NULL) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        for (size_t r = 0; r < corpus->files[f].n; r++)
            null_scores[f][r] = 0.5;
    }
    double published[FS_NAB_PROFILES];
    int have_published = 0;
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        json_t *t = json_object_get(
            json_object_get(json_object_get(corpus->thresholds, detector ? detector : ""),
                            fs_nab_profile_names[k]),
            "threshold");
        published[k] = json_is_number(t) ? json_number_value(t) : NAN;
        have_published |= json_is_number(t);
    }
    if (score_raw(corpus, NULL, (const double *const *)null_scores, null_res, err, errlen) != 0 ||
        score_raw(corpus, have_published ? published : NULL, anomaly_scores, out, err, errlen) !=
            0)
        goto done;
    for (int k = 0; k < FS_NAB_PROFILES; k++) {
        out[k].null_raw = null_res[k].raw;
        out[k].normalized =
            100.0 * (out[k].raw - out[k].null_raw) / (out[k].perfect - out[k].null_raw);
        out[k].sweep_normalized =
            100.0 * (out[k].sweep_raw - out[k].null_raw) / (out[k].perfect - out[k].null_raw);
        out[k].twiddle_normalized =
            100.0 * (out[k].twiddle_raw - out[k].null_raw) / (out[k].perfect - out[k].null_raw);
    }
    rc = 0;
done:
    for (size_t f = 0; f < corpus->nfiles; f++)
        free(null_scores[f]);
    free(null_scores);
    return rc;
}

int fs_nab_score_dir(const fs_nab_corpus_t *corpus, const char *results_dir,
                     const char *detector, fs_nab_result_t out[FS_NAB_PROFILES], char *err,
                     size_t errlen)
{
    double **scores = calloc(corpus->nfiles ? corpus->nfiles : 1, sizeof *scores);
    char (*ts)[FS_NAB_TS_LEN] = NULL;
    int rc = -1;
    if (scores == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t f = 0; f < corpus->nfiles; f++) {
        const nab_file *file = &corpus->files[f];
        const char *slash = strrchr(file->name, '/');
        char path[4096];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s/%.*s/%s_%s", results_dir, detector,
                 (int)(slash ? slash - file->name : 0), file->name, detector,
                 slash ? slash + 1 : file->name);
        if (fs_nab_read_csv(path, &ts, &scores[f], &n, err, errlen) != 0)
            goto done;
        if (n != file->n) {
            snprintf(err, errlen, "%s: %zu rows, data file has %zu", path, n, file->n);
            goto done;
        }
        for (size_t r = 0; r < n; r++) {
            int64_t us;
            if (parse_ts(ts[r], &us) != 0 || us != file->us[r]) {
                snprintf(err, errlen, "%s:%zu: timestamp %s differs from the data file", path,
                         r + 2, ts[r]);
                goto done;
            }
        }
        free(ts);
        ts = NULL;
    }
    rc = fs_nab_score_arrays(corpus, detector, (const double *const *)scores, out, err, errlen);
done:
    free(ts);
    for (size_t f = 0; f < corpus->nfiles; f++)
        free(scores[f]);
    free(scores);
    return rc;
}

void fs_nab_print(FILE *out, const char *detector, const fs_nab_result_t res[FS_NAB_PROFILES])
{
    fprintf(out, "%-16s %-20s %8s %14s %10s %6s %6s %9s %8s %14s %8s %14s\n", "detector",
            "profile", "score", "threshold", "raw", "tp", "fp", "windows", "sweep", "sweep_thr",
            "twiddle", "twiddle_thr");
    for (int k = 0; k < FS_NAB_PROFILES; k++)
        fprintf(out,
                "%-16s %-20s %8.2f %14.12f%s %10.4f %6ld %6ld %4ld/%-4ld %8.2f %14.12f %8.2f "
                "%14.12f\n",
                detector, res[k].profile, res[k].normalized, res[k].threshold,
                res[k].published ? "*" : " ", res[k].raw, res[k].tp, res[k].fp,
                res[k].windows_detected, res[k].windows, res[k].sweep_normalized,
                res[k].sweep_threshold, res[k].twiddle_normalized, res[k].twiddle_threshold);
    fputs("(* = published threshold from config/thresholds.json; otherwise the sweep optimum)\n",
          out);
}

int fs_bench_nab_score_main(int argc, char **argv)
{
    static const struct option options[] = {{"corpus", required_argument, NULL, 'c'},
                                            {"results", required_argument, NULL, 'r'},
                                            {"detector", required_argument, NULL, 'd'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *corpus_dir = NULL, *results_dir = NULL, *detector = NULL;
    char err[4096] = "";
    fs_nab_result_t res[FS_NAB_PROFILES];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'c': corpus_dir = optarg; break;
        case 'r': results_dir = optarg; break;
        case 'd': detector = optarg; break;
        case 'h':
            puts("usage: foreshock-bench nab-score --corpus DIR --results DIR --detector NAME");
            return 0;
        default: return 2;
        }
    }
    if (corpus_dir == NULL || results_dir == NULL || detector == NULL) {
        fputs("usage: foreshock-bench nab-score --corpus DIR --results DIR --detector NAME\n",
              stderr);
        return 2;
    }
    fs_nab_corpus_t *corpus = fs_nab_corpus_load(corpus_dir, err, sizeof err);
    if (corpus == NULL) {
        fprintf(stderr, "nab-score: %s\n", err);
        return 1;
    }
    int rc = fs_nab_score_dir(corpus, results_dir, detector, res, err, sizeof err);
    fs_nab_corpus_free(corpus);
    if (rc != 0) {
        fprintf(stderr, "nab-score: %s\n", err);
        return 1;
    }
    fs_nab_print(stdout, detector, res);
    return 0;
}
