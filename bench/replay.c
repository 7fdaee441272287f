/*
 * replay.c: `foreshock-bench replay -c FILE --playback P --errors E
 * --alerts OUT [-X key=value]...`.
 *
 * Each input file is one partition (offset = line number). Lines are taken
 * from the two files in proportion to their sizes, so two time-ordered files
 * are merged roughly in event time; the per-partition watermarks handle the
 * rest, exactly as with Kafka partitions. A file at its end stops holding
 * the watermark back. Alerts are written to OUT as they are published, one
 * JSON message per line; invalid lines are counted (and, with --deadletter,
 * written there with their reason). With -X store=redis the state goes to
 * Redis exactly as the daemon's, including offsets: a replay interrupted and
 * started again resumes after the last committed line. The replay itself is
 * fs_bench_replay_run, which `foreshock-bench tune` calls once per point.
 */
#include "bench/replay.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "detector/decode.h"
#include "detector/pipeline.h"
#include "detector/store.h"

typedef struct replay_sink {
    fs_pipeline_t *pipeline;
    FILE *alerts;
    FILE *deadletter;
    uint64_t alerts_written;
} replay_sink_t;

typedef struct input {
    const char *path;
    FILE *f;
    char *buf; /* the next line, not yet taken by the pipeline */
    size_t cap;
    size_t len;
    int64_t ts;   /* its event time (of the line before, if it has none) */
    int ready;    /* buf holds a line */
    fs_event_kind_t kind;
    int handle;
    int64_t line; /* the offset of the line in buf */
    int done;
} input_t;

/*
 * Reads the next non-blank line of in into its buffer with its event time,
 * read by the same decoder the pipeline uses (an invalid line keeps the
 * previous time: it only becomes a dead letter). At the end of the file the
 * input is done and its partition stops holding the watermark back.
 */
static void load(input_t *in, fs_decoder_t *dec, fs_pipeline_t *pipeline)
{
    while (!in->ready && !in->done) {
        ssize_t len = getline(&in->buf, &in->cap, in->f);
        if (len < 0) {
            in->done = 1;
            fs_pipeline_remove_partition(pipeline, in->handle);
            return;
        }
        if (len > 0 && in->buf[len - 1] == '\n')
            len--;
        if (len == 0) {
            in->line++; /* blank lines are not messages */
            continue;
        }
        in->len = (size_t)len;
        fs_event_t ev;
        const char *reason;
        if (fs_decoder_decode(dec, in->kind, in->buf, in->len, &ev, &reason) == 0)
            in->ts = ev.ts_ms;
        in->ready = 1;
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_dead_letter(void *opaque, const char *topic, int32_t partition, int64_t offset,
                           const void *payload, size_t len, const char *reason)
{
    replay_sink_t *sink = opaque;
    if (!sink->deadletter)
        return;
    fprintf(sink->deadletter, "%s/%d/%lld\t%s\t%.*s\n", topic, (int)partition, (long long)offset,
            reason, (int)len, (const char *)payload);
}

static void on_alert(void *opaque, const char *id, const char *fingerprint, const char *message)
{
    replay_sink_t *sink = opaque;
    (void)fingerprint;
    fprintf(sink->alerts, "%s\n", message);
    fflush(sink->alerts);
    sink->alerts_written++;
    fs_pipeline_delivered(sink->pipeline, id);
}

/* Publishes outbox messages left by an earlier interrupted replay. */
static void on_pending(void *opaque, const char *id, const char *message)
{
    on_alert(opaque, id, "", message);
}

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench replay -c FILE --playback P.ndjson --errors E.ndjson\n"
          "                              --alerts OUT.ndjson [--deadletter D.tsv]\n"
          "                              [-X key=value]...\n",
          out);
}

static int flush(fs_pipeline_t *pipeline, FILE *progress, char *err, size_t err_size)
{
    char why[512];
    int rc;
    /* The store may be briefly unavailable (Redis restarting): retry. */
    for (int attempt = 0;
         (rc = fs_pipeline_flush(pipeline, why, sizeof why)) == FS_STORE_EUNAVAILABLE &&
         attempt < 600;
         attempt++) {
        if (attempt == 0 && progress)
            fprintf(progress, "replay: store unavailable (%s), retrying\n", why);
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
    }
    if (rc != FS_STORE_OK)
        snprintf(err, err_size, "replay: flush failed: %s", why);
    return rc;
}

/* The message perror(path) would print. */
static void path_error(char *err, size_t err_size, const char *path)
{
    snprintf(err, err_size, "%s: %s", path, strerror(errno));
}

int fs_bench_replay_run(const fs_config_t *cfg, const fs_bench_replay_files_t *files,
                        FILE *progress, fs_bench_replay_stats_t *stats, char *err, size_t err_size)
{
    input_t inputs[2] = {{.path = files->playback, .kind = FS_EVENT_PLAYBACK, .handle = -1},
                         {.path = files->errors, .kind = FS_EVENT_ERROR, .handle = -1}};
    fs_store_t *store = NULL;
    fs_pipeline_t *pipeline = NULL;
    replay_sink_t sink = {0};
    fs_decoder_t *dec = NULL;
    int rc = -1;
    char why[512];

    memset(stats, 0, sizeof *stats);
    err[0] = '\0';
    store = fs_store_open(cfg, why, sizeof why);
    if (!store) {
        snprintf(err, err_size, "replay: %s", why);
        goto done;
    }
    sink.alerts = fopen(files->alerts, "w");
    if (!sink.alerts) {
        path_error(err, err_size, files->alerts);
        goto done;
    }
    if (files->deadletter && !(sink.deadletter = fopen(files->deadletter, "w"))) {
        path_error(err, err_size, files->deadletter);
        goto done;
    }
    fs_pipeline_sink_t pipeline_sink = {&sink, on_dead_letter, on_alert, NULL};
    pipeline = fs_pipeline_new(cfg, store, &pipeline_sink, why, sizeof why);
    if (!pipeline) {
        snprintf(err, err_size, "replay: %s", why);
        goto done;
    }
    sink.pipeline = pipeline;
    if (fs_pipeline_restore(pipeline, on_pending, &sink, why, sizeof why) != FS_STORE_OK) {
        snprintf(err, err_size, "replay: cannot read the store: %s", why);
        goto done;
    }

    for (int i = 0; i < 2; i++) {
        input_t *in = &inputs[i];
        in->f = fopen(in->path, "r");
        if (!in->f) {
            path_error(err, err_size, in->path);
            goto done;
        }
        const char *topic = i == 0 ? "replay:playback" : "replay:errors";
        int64_t stored = -1;
        if (fs_store_offset(store, topic, 0, &stored, why, sizeof why) != FS_STORE_OK) {
            snprintf(err, err_size, "replay: cannot read offsets: %s", why);
            goto done;
        }
        in->handle = fs_pipeline_add_partition(pipeline, topic, 0, in->kind, stored);
    }

    double started = mono_s();
    /* One wall-clock reading for the whole run: it bounds future-stamped
     * events, and since it never advances no partition ever looks idle, so
     * the result does not depend on how fast the machine is. A file at its
     * end is removed instead. */
    const int64_t now = wall_ms();
    int64_t last_flush_wm = 0; /* the watermark is 0 until a bucket closes */
    /* The two files are merged in event time, as partitions of one topic
     * would deliver them; a line the pipeline asks to wait (its file is
     * ahead of the other by more than the open window) lets the other file
     * go first. */
    dec = fs_decoder_new(NULL, 0, why, sizeof why);
    if (!dec) {
        snprintf(err, err_size, "replay: %s", why);
        goto done;
    }
    for (;;) {
        load(&inputs[0], dec, pipeline);
        load(&inputs[1], dec, pipeline);
        if (!inputs[0].ready && !inputs[1].ready)
            break;
        input_t *in = !inputs[1].ready || (inputs[0].ready && inputs[0].ts <= inputs[1].ts)
                          ? &inputs[0]
                          : &inputs[1];
        input_t *other = in == &inputs[0] ? &inputs[1] : &inputs[0];
        int taken = fs_pipeline_message(pipeline, in->handle, in->line, in->buf, in->len, now);
        if (taken == FS_PIPELINE_AHEAD) {
            if (!other->ready || fs_pipeline_message(pipeline, other->handle, other->line,
                                                     other->buf, other->len,
                                                     now) == FS_PIPELINE_AHEAD) {
                snprintf(err, err_size, "replay: both files wait for each other at lines %lld "
                                        "and %lld (a bug: please report it)",
                         (long long)inputs[0].line, (long long)inputs[1].line);
                goto done;
            }
            in = other;
        }
        in->ready = 0;
        in->line++;
        fs_pipeline_stats_t pstats;
        fs_pipeline_stats(pipeline, &pstats);
        if (pstats.watermark_ms - last_flush_wm >= cfg->window_flush_ms) {
            if (flush(pipeline, progress, err, err_size) != FS_STORE_OK)
                goto done;
            last_flush_wm = pstats.watermark_ms;
        }
    }
    fs_pipeline_drain(pipeline);
    if (flush(pipeline, progress, err, err_size) != FS_STORE_OK)
        goto done;
    stats->elapsed_s = mono_s() - started;
    fs_pipeline_stats(pipeline, &stats->pipeline);
    stats->alerts_written = sink.alerts_written;
    stats->store_round_trips = fs_store_round_trips(store);
    stats->bytes_per_slice = fs_pipeline_bytes_per_slice(pipeline);
    stats->finished = 1;
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (inputs[i].f)
            fclose(inputs[i].f);
        free(inputs[i].buf);
    }
    if (sink.alerts && fclose(sink.alerts) != 0 && rc == 0) {
        path_error(err, err_size, files->alerts);
        rc = -1;
    }
    if (sink.deadletter)
        fclose(sink.deadletter);
    fs_decoder_free(dec);
    fs_pipeline_free(pipeline);
    fs_store_free(store);
    return rc;
}

int fs_bench_replay_main(int argc, char **argv)
{
    enum { OPT_PLAYBACK = 256, OPT_ERRORS, OPT_ALERTS, OPT_DEADLETTER };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"playback", required_argument, NULL, OPT_PLAYBACK},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"alerts", required_argument, NULL, OPT_ALERTS},
        {"deadletter", required_argument, NULL, OPT_DEADLETTER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    fs_bench_replay_files_t files = {NULL, NULL, NULL, NULL};
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    size_t n_overrides = 0;
    fs_config_t *cfg = NULL;
    fs_config_diag_t diag = {0};
    fs_bench_replay_stats_t stats;
    int status = 1;
    char err[1024];

    if (!overrides)
        return 1;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:X:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'X':
            overrides[n_overrides++] = optarg;
            break;
        case OPT_PLAYBACK:
            files.playback = optarg;
            break;
        case OPT_ERRORS:
            files.errors = optarg;
            break;
        case OPT_ALERTS:
            files.alerts = optarg;
            break;
        case OPT_DEADLETTER:
            files.deadletter = optarg;
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
    if (!config_path || !files.playback || !files.errors || !files.alerts || optind != argc) {
        usage(stderr);
        status = 2;
        goto done;
    }

    cfg = fs_config_new();
    if (!cfg || fs_config_set_default(cfg, "store", "memory") != 0)
        goto done;
    if (fs_config_load(cfg, config_path, overrides, n_overrides, &diag) != 0) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "%s\n", diag.messages[i]);
        goto done;
    }
    int rc = fs_bench_replay_run(cfg, &files, stderr, &stats, err, sizeof err);
    if (stats.finished) {
        const fs_pipeline_stats_t *ps = &stats.pipeline;
        double elapsed = stats.elapsed_s;
        fprintf(stderr,
                "replay: %llu events in %.2f s (%.0f events/s), %llu invalid, %llu late, "
                "%llu future, %zu live slices, %llu alerts (%llu fired, %llu resolved), "
                "%llu store round trips (%.6f per event), %zu bytes of state per slice\n",
                (unsigned long long)ps->events, elapsed,
                elapsed > 0 ? (double)(ps->events + ps->invalid) / elapsed : 0.0,
                (unsigned long long)ps->invalid, (unsigned long long)ps->late,
                (unsigned long long)ps->future, ps->live_slices,
                (unsigned long long)stats.alerts_written, (unsigned long long)ps->alerts_fired,
                (unsigned long long)ps->alerts_resolved,
                (unsigned long long)stats.store_round_trips,
                ps->events ? (double)stats.store_round_trips / (double)ps->events : 0.0,
                stats.bytes_per_slice);
    }
    if (rc != 0) {
        if (err[0])
            fprintf(stderr, "%s\n", err);
        goto done;
    }
    status = 0;
done:
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
    free(overrides);
    return status;
}
