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
 * started again resumes after the last committed line.
 */
#include "bench/replay.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/config.h"
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
    char *held; /* a line the pipeline could not take yet */
    size_t held_len;
    fs_event_kind_t kind;
    int handle;
    int64_t line;
    double size;
    double read; /* bytes read so far (ftell costs a system call) */
    int done;
} input_t;

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
    fprintf(sink->deadletter, "%s/%d/%lld\t%s\t%.*s\n", topic, (int)partition,
            (long long)offset, reason, (int)len, (const char *)payload);
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

static int flush(fs_pipeline_t *pipeline)
{
    char err[512];
    int rc;
    /* The store may be briefly unavailable (Redis restarting): retry. */
    for (int attempt = 0; (rc = fs_pipeline_flush(pipeline, err, sizeof err)) ==
                              FS_STORE_EUNAVAILABLE && attempt < 600;
         attempt++) {
        if (attempt == 0)
            fprintf(stderr, "replay: store unavailable (%s), retrying\n", err);
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
    }
    if (rc != FS_STORE_OK)
        fprintf(stderr, "replay: flush failed: %s\n", err);
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
    const char *config_path = NULL, *alerts_path = NULL, *deadletter_path = NULL;
    input_t inputs[2] = {{.kind = FS_EVENT_PLAYBACK, .handle = -1},
                         {.kind = FS_EVENT_ERROR, .handle = -1}};
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    size_t n_overrides = 0;
    fs_config_t *cfg = NULL;
    fs_config_diag_t diag = {0};
    fs_store_t *store = NULL;
    fs_pipeline_t *pipeline = NULL;
    replay_sink_t sink = {0};
    char *line = NULL;
    size_t line_cap = 0;
    int status = 1;
    char err[512];

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
            inputs[0].path = optarg;
            break;
        case OPT_ERRORS:
            inputs[1].path = optarg;
            break;
        case OPT_ALERTS:
            alerts_path = optarg;
            break;
        case OPT_DEADLETTER:
            deadletter_path = optarg;
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
    if (!config_path || !inputs[0].path || !inputs[1].path || !alerts_path || optind != argc) {
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
    store = fs_store_open(cfg, err, sizeof err);
    if (!store) {
        fprintf(stderr, "replay: %s\n", err);
        goto done;
    }
    sink.alerts = fopen(alerts_path, "w");
    if (!sink.alerts) {
        perror(alerts_path);
        goto done;
    }
    if (deadletter_path && !(sink.deadletter = fopen(deadletter_path, "w"))) {
        perror(deadletter_path);
        goto done;
    }
    fs_pipeline_sink_t pipeline_sink = {&sink, on_dead_letter, on_alert};
    pipeline = fs_pipeline_new(cfg, store, &pipeline_sink, err, sizeof err);
    if (!pipeline) {
        fprintf(stderr, "replay: %s\n", err);
        goto done;
    }
    sink.pipeline = pipeline;
    if (fs_pipeline_restore(pipeline, on_pending, &sink, err, sizeof err) != FS_STORE_OK) {
        fprintf(stderr, "replay: cannot read the store: %s\n", err);
        goto done;
    }

    for (int i = 0; i < 2; i++) {
        input_t *in = &inputs[i];
        struct stat st;
        in->f = fopen(in->path, "r");
        if (!in->f) {
            perror(in->path);
            goto done;
        }
        in->size = fstat(fileno(in->f), &st) == 0 && st.st_size > 0 ? (double)st.st_size : 1;
        const char *topic = i == 0 ? "replay:playback" : "replay:errors";
        int64_t stored = -1;
        if (fs_store_offset(store, topic, 0, &stored, err, sizeof err) != FS_STORE_OK) {
            fprintf(stderr, "replay: cannot read offsets: %s\n", err);
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
    while (!inputs[0].done || !inputs[1].done) {
        /* Take the next line from the file that is behind, by bytes read. */
        input_t *in;
        if (inputs[0].done)
            in = &inputs[1];
        else if (inputs[1].done)
            in = &inputs[0];
        else
            in = inputs[0].read / inputs[0].size <= inputs[1].read / inputs[1].size ? &inputs[0]
                                                                                     : &inputs[1];
        if (in->held) {
            /* The other file is behind in event time: read it first. */
            input_t *other = in == &inputs[0] ? &inputs[1] : &inputs[0];
            if (!other->done && !other->held)
                in = other;
        }
        const char *text;
        ssize_t len;
        if (in->held) {
            text = in->held;
            len = (ssize_t)in->held_len;
        } else {
            len = getline(&line, &line_cap, in->f);
            if (len < 0) {
                in->done = 1;
                fs_pipeline_remove_partition(pipeline, in->handle);
                continue;
            }
            in->read += (double)len;
            if (len > 0 && line[len - 1] == '\n')
                len--;
            if (len == 0) {
                in->line++;
                continue; /* blank lines are not messages */
            }
            text = line;
        }
        int taken = fs_pipeline_message(pipeline, in->handle, in->line, text, (size_t)len, now);
        if (taken == FS_PIPELINE_AHEAD && !in->held) {
            in->held = strndup(line, (size_t)len);
            in->held_len = (size_t)len;
            if (!in->held)
                goto done;
            continue;
        }
        if (taken == FS_PIPELINE_AHEAD)
            continue;
        free(in->held);
        in->held = NULL;
        in->line++;
        fs_pipeline_stats_t stats;
        fs_pipeline_stats(pipeline, &stats);
        if (stats.watermark_ms - last_flush_wm >= cfg->window_flush_ms) {
            if (flush(pipeline) != FS_STORE_OK)
                goto done;
            last_flush_wm = stats.watermark_ms;
        }
    }
    fs_pipeline_drain(pipeline);
    if (flush(pipeline) != FS_STORE_OK)
        goto done;
    double elapsed = mono_s() - started;

    fs_pipeline_stats_t stats;
    fs_pipeline_stats(pipeline, &stats);
    fprintf(stderr,
            "replay: %llu events in %.2f s (%.0f events/s), %llu invalid, %llu late, "
            "%llu future, %zu live slices, %llu alerts (%llu fired, %llu resolved), "
            "%llu store round trips (%.6f per event), %zu bytes of state per slice\n",
            (unsigned long long)stats.events, elapsed,
            elapsed > 0 ? (double)(stats.events + stats.invalid) / elapsed : 0.0,
            (unsigned long long)stats.invalid, (unsigned long long)stats.late,
            (unsigned long long)stats.future, stats.live_slices,
            (unsigned long long)sink.alerts_written, (unsigned long long)stats.alerts_fired,
            (unsigned long long)stats.alerts_resolved,
            (unsigned long long)fs_store_round_trips(store),
            stats.events ? (double)fs_store_round_trips(store) / (double)stats.events : 0.0,
            fs_pipeline_bytes_per_slice(pipeline));
    status = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (inputs[i].f)
            fclose(inputs[i].f);
        free(inputs[i].held);
    }
    if (sink.alerts && fclose(sink.alerts) != 0 && status == 0) {
        perror(alerts_path);
        status = 1;
    }
    if (sink.deadletter)
        fclose(sink.deadletter);
    free(line);
    fs_pipeline_free(pipeline);
    fs_store_free(store);
    fs_config_diag_clear(&diag);
    fs_config_free(cfg);
    free(overrides);
    return status;
}
