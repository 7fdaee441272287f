/*
 * nab.c: `foreshock-bench nab` (see nab.h): one registered value model, fed
 * every file of the corpus row by row, its scores written and scored.
 */
#include "bench/nab.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/nab_score.h"
#include "models/model.h"

/* NAB's probationary period (nab/detectors/base.py, as nab_score.h states):
 * 15% of the file, at most 15% of 5000 rows. */
static double probation_rows(size_t n)
{
    return fmin(floor(0.15 * (double)n), 0.15 * 5000.0);
}

void fs_nab_model_params(const double *value, size_t n, fs_model_params_t *params)
{
    double lo = n ? value[0] : 0.0, hi = lo, probation = probation_rows(n);

    for (size_t i = 1; i < n; i++) {
        lo = fmin(lo, value[i]);
        hi = fmax(hi, value[i]);
    }
    memset(params, 0, sizeof *params);
    params->bucket_seconds = 1.0;
    params->warmup_buckets = probation;
    params->value_min = lo;
    params->value_max = hi;
    params->rest_buckets = floor(probation / FS_NAB_REST_DIVISOR);
}

int fs_nab_model_run(const fs_model_vtable_t *model, const double *value, size_t n, double *score)
{
    fs_model_params_t params;
    fs_model_verdict_t verdict;
    void *state = malloc(model->state_size);

    if (state == NULL)
        return -1;
    fs_nab_model_params(value, n, &params);
    model->init(state, &params);
    for (size_t i = 0; i < n; i++) {
        fs_model_obs_t obs = {
            .bucket_start_ms = (int64_t)i * 1000, .n = 1.0, .x = value[i], .prior = NAN};
        model->update(state, &params, &obs, &verdict);
        score[i] = verdict.score;
    }
    free(state);
    return 0;
}

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_results(const fs_nab_corpus_t *corpus, size_t f, const char *out_dir,
                         const char *detector, const double *score, char *err, size_t errlen)
{
    const char *name = fs_nab_corpus_file(corpus, f), *slash = strrchr(name, '/');
    char dir[4096], path[8192];
    snprintf(dir, sizeof dir, "%.2000s/%.*s", out_dir, (int)(slash ? slash - name : 0), name);
    snprintf(path, sizeof path, "%s/%s_%s", dir, detector, slash ? slash + 1 : name);
    if (mkdirs(dir) != 0) {
        snprintf(err, errlen, "%.3000s: %s", dir, strerror(errno));
        return -1;
    }
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        snprintf(err, errlen, "%.3000s: %s", path, strerror(errno));
        return -1;
    }
    fputs("timestamp,anomaly_score\n", fp);
    for (size_t r = 0; r < fs_nab_corpus_nrows(corpus, f); r++)
        fprintf(fp, "%s,%.17g\n", fs_nab_corpus_timestamp(corpus, f, r), score[r]);
    if (fclose(fp) != 0) {
        snprintf(err, errlen, "%.3000s: write failed", path);
        return -1;
    }
    return 0;
}

static const char usage[] =
    "usage: foreshock-bench nab --corpus DIR --out DIR [--model NAME] [--detector NAME]\n";

int fs_bench_nab_main(int argc, char **argv)
{
    static const struct option options[] = {{"corpus", required_argument, NULL, 'c'},
                                            {"out", required_argument, NULL, 'o'},
                                            {"model", required_argument, NULL, 'm'},
                                            {"detector", required_argument, NULL, 'd'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *corpus_dir = NULL, *out_dir = NULL, *detector = "foreshock";
    const char *model_name = FS_NAB_MODEL;
    const fs_model_vtable_t *model;
    char err[4096] = "";
    fs_nab_result_t res[FS_NAB_PROFILES];
    double **scores = NULL;
    fs_nab_corpus_t *corpus = NULL;
    int c, rc = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'c': corpus_dir = optarg; break;
        case 'o': out_dir = optarg; break;
        case 'm': model_name = optarg; break;
        case 'd': detector = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return 2;
        }
    }
    if (corpus_dir == NULL || out_dir == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    model = fs_model_find(model_name);
    if (model == NULL || model->signal != FS_SIGNAL_VALUE) {
        fprintf(stderr, "nab: %s: not a value model (try %s)\n", model_name, FS_NAB_MODEL);
        return 2;
    }
    corpus = fs_nab_corpus_load(corpus_dir, err, sizeof err);
    if (corpus == NULL)
        goto fail;
    size_t nfiles = fs_nab_corpus_nfiles(corpus);
    scores = calloc(nfiles ? nfiles : 1, sizeof *scores);
    if (scores == NULL)
        goto fail;
    for (size_t f = 0; f < nfiles; f++) {
        size_t n = fs_nab_corpus_nrows(corpus, f);
        scores[f] = malloc((n ? n : 1) * sizeof **scores);
        if (scores[f] == NULL ||
            fs_nab_model_run(model, fs_nab_corpus_values(corpus, f), n, scores[f]) != 0)
            goto fail;
        if (write_results(corpus, f, out_dir, detector, scores[f], err, sizeof err) != 0)
            goto fail;
    }
    if (fs_nab_score_arrays(corpus, NULL, (const double *const *)scores, res, err, sizeof err) != 0)
        goto fail;
    printf("%s (model %s; per file: the value range, warm-up = probation, rest = probation / %g)\n",
           detector, model->name, FS_NAB_REST_DIVISOR);
    fs_nab_print(stdout, detector, res);
    rc = 0;
fail:
    if (rc != 0)
        fprintf(stderr, "nab: %s\n", err[0] ? err : "out of memory");
    for (size_t f = 0; scores != NULL && f < fs_nab_corpus_nfiles(corpus); f++)
        free(scores[f]);
    free(scores);
    fs_nab_corpus_free(corpus);
    return rc;
}
