/*
 * nab.c: `foreshock-bench nab` (see nab.h).
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

const fs_nab_cusum_params_t fs_nab_cusum_default = {
    .alpha = 0.01, .beta = 0.01, .k = 0.5, .h = 8.0, .reset = 30.0, .clip = 6.0, .warmup = 50,
};

void fs_nab_cusum_run(const fs_nab_cusum_params_t *params, const double *value, size_t n,
                      double *score)
{
    double mu = n ? value[0] : 0.0, scale = 0.0, sp = 0.0, sn = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = value[i], r = x - mu;
        double s = scale > 1e-9 ? scale : 1e-9;
        double z = r / (1.25 * s);
        if (z > params->clip)
            z = params->clip;
        if (z < -params->clip)
            z = -params->clip;
        if (i >= params->warmup && scale > 0.0) {
            sp = fmax(0.0, sp + z - params->k);
            sn = fmax(0.0, sn - z - params->k);
        }
        double S = fmax(sp, sn);
        score[i] = i >= params->warmup ? 1.0 - exp(-S / params->h) : 0.0;
        /* Robust updates: the residual fed to the estimates is clipped. */
        double lim = params->clip * 1.25 * s;
        double rc = scale > 0.0 ? fmax(-lim, fmin(lim, r)) : r;
        double a = i < params->warmup ? 1.0 / (double)(i + 1) : params->alpha;
        double b = i < params->warmup ? 1.0 / (double)(i + 1) : params->beta;
        mu += a * rc;
        scale += b * (fabs(rc) - scale);
        if (S > params->reset) {
            sp = sn = 0.0;
            mu = x;
        }
    }
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

int fs_bench_nab_main(int argc, char **argv)
{
    static const struct option options[] = {{"corpus", required_argument, NULL, 'c'},
                                            {"out", required_argument, NULL, 'o'},
                                            {"detector", required_argument, NULL, 'd'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *corpus_dir = NULL, *out_dir = NULL, *detector = "foreshock";
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
        case 'd': detector = optarg; break;
        case 'h': puts("usage: foreshock-bench nab --corpus DIR --out DIR [--detector NAME]"); return 0;
        default: return 2;
        }
    }
    if (corpus_dir == NULL || out_dir == NULL) {
        fputs("usage: foreshock-bench nab --corpus DIR --out DIR [--detector NAME]\n", stderr);
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
        if (scores[f] == NULL)
            goto fail;
        fs_nab_cusum_run(&fs_nab_cusum_default, fs_nab_corpus_values(corpus, f), n, scores[f]);
        if (write_results(corpus, f, out_dir, detector, scores[f], err, sizeof err) != 0)
            goto fail;
    }
    if (fs_nab_score_arrays(corpus, NULL, (const double *const *)scores, res, err, sizeof err) != 0)
        goto fail;
    printf("%s (cusum alpha=%g beta=%g k=%g h=%g reset=%g clip=%g warmup=%zu)\n", detector,
           fs_nab_cusum_default.alpha, fs_nab_cusum_default.beta, fs_nab_cusum_default.k,
           fs_nab_cusum_default.h, fs_nab_cusum_default.reset, fs_nab_cusum_default.clip,
           fs_nab_cusum_default.warmup);
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
