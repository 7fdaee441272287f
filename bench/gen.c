/*
 * gen.c: `foreshock-bench gen --playback P --errors E [options]`.
 *
 * Traffic: countries with Zipf-like weights (a few large, a long tail),
 * platforms, app versions and CDNs with fixed shares, a daily cycle of
 * +-30% around --rate, a base failure ratio per country x platform between
 * 0.5% and 2%, error events at 3% of the playback rate spread over a few
 * codes, and users drawn from a pool of a million. Events of one second are
 * spread over it.
 *
 * Incidents (--incident, repeatable) and decoys (--decoy, the same syntax):
 * `DIM=VALUE[,DIM=VALUE]@START-END{OP}ARG`, times as durations from the start
 * (e.g. `country=BR,platform=android@8m-10m*10`). Within the window, events
 * of that slice fail ARG times as often (`*`), or as often rising to ARG
 * times (`~`), or arrive ARG times as often (`v`: below 1 clients stop
 * sending, above 1 a surge whose failures rise in proportion), or carry ARG
 * times the error events (`e`); `rARG` rolls the slice's app_version out to
 * a share rising to ARG by END (it keeps it afterwards); `fK/N` adds N
 * attempts of which K fail (a handful: name a value nothing else has, e.g.
 * country=IS, for a slice of only those). --truth writes one JSON line per
 * incident and decoy; decoys carry "decoy":true.
 *
 * Delivery noise comes last: events are written in order of arrival, which
 * is their event time except for a share delayed within --lateness (out of
 * order) and a few delayed beyond it (late: the detector counts them and
 * leaves them out); a share is written twice (at-least-once producers) and
 * a share lacks one dimension. Base traffic, effects and noise draw from
 * three separate random streams, so for a seed the traffic without noise is
 * the same whatever the noise options.
 */
#include "bench/gen.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector/timestamp.h"

#define TWO_PI 6.283185307179586

#define MAX_INCIDENTS    32
#define MAX_HANDFUL      1000
#define N_COUNTRIES      30
#define LATE_MIN_MS      2000  /* a late event is at least this much beyond the lateness */
#define LATE_SPAN_MS     28000 /* and at most this much more */
#define DUPLICATE_MAX_MS 1000

static const char *const countries[N_COUNTRIES] = {
    "US", "BR", "DE", "IN", "GB", "MX", "FR", "JP", "ES", "IT", "CA", "AU", "NL", "SE", "PL",
    "AR", "CO", "TR", "ID", "PH", "CL", "PT", "NO", "DK", "FI", "BE", "AT", "CH", "IE", "NZ"};
static const char *const platforms[] = {"android", "ios", "web"};
static const double platform_share[] = {0.5, 0.35, 0.15};
static const char *const versions[] = {"8.9.1", "8.9.2", "9.0.0", "9.1.0"};
static const double version_share[] = {0.2, 0.45, 0.3, 0.05};
static const char *const cdns[] = {"akamai", "fastly", "cloudfront"};
static const double cdn_share[] = {0.45, 0.35, 0.2};
static const char *const codes[] = {"AUDIO_DECODE", "NET_TIMEOUT", "DRM_LICENSE", "CDN_404",
                                    "AUTH_EXPIRED"};
static const double code_share[] = {0.3, 0.35, 0.1, 0.15, 0.1};
static const char *const dim_names[4] = {"country", "platform", "app_version", "cdn"};

/* What an incident does to the events of its slice within its window. */
typedef enum incident_kind {
    INC_RATIO = '*',   /* failure ratio x factor */
    INC_RAMP = '~',    /* failure ratio x 1 rising linearly to x factor (creeping) */
    INC_VOLUME = 'v',  /* attempts x factor: < 1 clients stop sending, > 1 a surge */
    INC_ERRORS = 'e',  /* error events x factor (of `code` if given) */
    INC_ROLLOUT = 'r', /* app_version's share rises to factor by the end, and stays */
    INC_HANDFUL = 'f', /* `attempts` extra attempts of which `failures` fail */
} incident_kind_t;

typedef struct incident {
    char dims[4][16]; /* country, platform, app_version, cdn; "" = any */
    char code[32];
    char spec[128];
    int64_t start_ms, end_ms; /* from the start of the workload */
    incident_kind_t kind;
    double factor;
    int failures, attempts; /* INC_HANDFUL */
    int decoy;
} incident_t;

/* Delivery noise: shares of events and the lateness they are measured by. */
typedef struct noise {
    double duplicates, disorder, late, missing;
    int64_t lateness_ms;
} noise_t;

/* A line waiting to be written; lines leave in order of arrival, then of
 * creation. */
typedef struct pending {
    int64_t arrival;
    uint64_t seq;
    FILE *f;
    char *line;
} pending_t;

/* One event before it is written. */
typedef struct event {
    int64_t ts;
    int ts_text;         /* ts as RFC 3339 rather than epoch milliseconds */
    const char *outcome; /* playback: "ok" or "failed"; NULL for an error event */
    const char *code;    /* error events */
    uint64_t user;
    const char *dims[4];
} event_t;

typedef struct gen {
    FILE *pf, *ef;
    pending_t *heap;
    size_t n_heap, cap_heap;
    uint64_t seq;
    int in_order;    /* lines are made in order of ts from here on */
    uint64_t fx, nz; /* random streams of the effects and of the noise */
    noise_t noise;
    int64_t end_ms; /* the end of the workload's event time */
    uint64_t n_playback, n_errors, n_duplicated, n_disorder, n_late, n_missing;
    int failed; /* out of memory */
} gen_t;

/* splitmix64: small, fast and good enough for workloads. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *state)
{
    return (double)(next_u64(state) >> 11) * 0x1.0p-53;
}

static size_t pick(uint64_t *state, const double *share, size_t n)
{
    double u = uniform(state), acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += share[i];
        if (u < acc)
            return i;
    }
    return n - 1;
}

static int parse_duration(const char *text, int64_t *ms)
{
    char *end;
    double v = strtod(text, &end);
    double unit = 1000;
    if (end == text || v < 0)
        return -1;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return -1;
    *ms = (int64_t)(v * unit);
    return 0;
}

/* A share in [0, 1]. */
static int parse_share(const char *text, double *share)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= 0 && v <= 1))
        return -1;
    *share = v;
    return 0;
}

/* The argument after the operator: a factor, or K/N for a handful. */
static int parse_argument(const char *arg, incident_t *inc)
{
    char *end;
    if (inc->kind == INC_HANDFUL) {
        long k = strtol(arg, &end, 10), n;
        if (end == arg || *end != '/')
            return -1;
        arg = end + 1;
        n = strtol(arg, &end, 10);
        if (end == arg || *end || k < 0 || n < 1 || k > n || n > MAX_HANDFUL)
            return -1;
        inc->failures = (int)k;
        inc->attempts = (int)n;
        inc->factor = (double)k / (double)n;
        return 0;
    }
    inc->factor = strtod(arg, &end);
    if (end == arg || *end || !(inc->factor > 0))
        return -1;
    return inc->kind == INC_ROLLOUT && inc->factor > 1 ? -1 : 0;
}

static int parse_incident(const char *spec, int decoy, incident_t *inc)
{
    char buf[128], *save = NULL;
    memset(inc, 0, sizeof *inc);
    inc->decoy = decoy;
    if (strlen(spec) >= sizeof inc->spec)
        return -1;
    snprintf(inc->spec, sizeof inc->spec, "%s", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    char *at = strchr(buf, '@'), *dash, *op;
    if (!at)
        return -1;
    *at++ = '\0';
    if (!(dash = strchr(at, '-')) || !(op = strpbrk(dash, "*~verf")))
        return -1;
    *dash++ = '\0';
    inc->kind = (incident_kind_t)*op;
    *op++ = '\0';
    if (parse_duration(at, &inc->start_ms) || parse_duration(dash, &inc->end_ms) ||
        parse_argument(op, inc) || inc->end_ms <= inc->start_ms)
        return -1;
    for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        if (!eq)
            return -1;
        *eq++ = '\0';
        char *slot = strcmp(part, "code") == 0 ? inc->code : NULL;
        for (int d = 0; d < 4; d++)
            if (strcmp(part, dim_names[d]) == 0)
                slot = inc->dims[d];
        if (!slot || !*eq || strlen(eq) >= (slot == inc->code ? sizeof inc->code : 16))
            return -1;
        strcpy(slot, eq);
    }
    /* A rollout needs the version it rolls out. */
    return inc->kind == INC_ROLLOUT && !inc->dims[2][0] ? -1 : 0;
}

static int matches(const char *want, const char *have)
{
    return want[0] == '\0' || strcmp(want, have) == 0;
}

/* Whether the event's dimensions are in inc's slice; skip names one to ignore. */
static int in_slice(const incident_t *inc, const char *const dims[4], int skip)
{
    for (int d = 0; d < 4; d++)
        if (d != skip && !matches(inc->dims[d], dims[d]))
            return 0;
    return 1;
}

/* ---- writing in order of arrival ---- */

static int before(const pending_t *a, const pending_t *b)
{
    return a->arrival < b->arrival || (a->arrival == b->arrival && a->seq < b->seq);
}

static void release(gen_t *g, int64_t until);

/* Queues a line made at ts that arrives at `arrival`. Once lines are made in
 * order of ts, one that arrives at its ts comes after every line queued to
 * arrive by then and before every line made later, so it is written at once:
 * the same order, and most lines never pass the queue. */
static void push(gen_t *g, FILE *f, int64_t ts, int64_t arrival, const char *line)
{
    if (g->in_order && arrival == ts) {
        release(g, arrival + 1);
        fputs(line, f);
        g->seq++;
        return;
    }
    if (g->n_heap == g->cap_heap) {
        size_t cap = g->cap_heap ? 2 * g->cap_heap : 1024;
        pending_t *grown = realloc(g->heap, cap * sizeof *grown);
        if (!grown) {
            g->failed = 1;
            return;
        }
        g->heap = grown;
        g->cap_heap = cap;
    }
    pending_t item = {arrival, g->seq++, f, strdup(line)};
    if (!item.line) {
        g->failed = 1;
        return;
    }
    size_t i = g->n_heap++;
    while (i > 0 && before(&item, &g->heap[(i - 1) / 2])) {
        g->heap[i] = g->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    g->heap[i] = item;
}

/* Writes every line that arrives before `until`, in order of arrival. */
static void release(gen_t *g, int64_t until)
{
    while (g->n_heap > 0 && g->heap[0].arrival < until) {
        pending_t top = g->heap[0], last = g->heap[--g->n_heap];
        size_t i = 0;
        for (;;) {
            size_t child = 2 * i + 1;
            if (child >= g->n_heap)
                break;
            if (child + 1 < g->n_heap && before(&g->heap[child + 1], &g->heap[child]))
                child++;
            if (!before(&g->heap[child], &last))
                break;
            g->heap[i] = g->heap[child];
            i = child;
        }
        if (g->n_heap > 0)
            g->heap[i] = last;
        fputs(top.line, top.f);
        free(top.line);
    }
}

/* A delay of at most max_ms that keeps the arrival within the workload, or 0. */
static int64_t delay_within(const gen_t *g, int64_t ts, int64_t delay_ms)
{
    return ts + delay_ms < g->end_ms ? delay_ms : 0;
}

/* Formats ev as its JSON line, applies the delivery noise and queues it. */
static void write_event(gen_t *g, const event_t *ev)
{
    const noise_t *nz = &g->noise;
    char line[512], ts_text[FS_TIMESTAMP_LEN + 1];
    int omit = -1;
    size_t n;

    if (nz->missing > 0 && uniform(&g->nz) < nz->missing) {
        omit = (int)(next_u64(&g->nz) % 4);
        g->n_missing++;
    }
    if (ev->ts_text) {
        fs_timestamp_format(ev->ts, ts_text);
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\"", ts_text);
    } else {
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":%" PRId64, ev->ts);
    }
    if (ev->outcome)
        n += (size_t)snprintf(line + n, sizeof line - n, ",\"outcome\":\"%s\"", ev->outcome);
    else
        n += (size_t)snprintf(line + n, sizeof line - n, ",\"code\":\"%s\"", ev->code);
    n += (size_t)snprintf(line + n, sizeof line - n, ",\"user_id\":\"u%" PRIu64 "\"", ev->user);
    for (int d = 0; d < 4; d++)
        if (d != omit)
            n += (size_t)snprintf(line + n, sizeof line - n, ",\"%s\":\"%s\"", dim_names[d],
                                  ev->dims[d]);
    snprintf(line + n, sizeof line - n, "}\n");

    int64_t arrival = ev->ts;
    int late = 0;
    if (nz->late + nz->disorder > 0) {
        double u = uniform(&g->nz), v = uniform(&g->nz);
        int64_t delay = 0;
        if (u < nz->late) {
            delay = delay_within(g, ev->ts,
                                 nz->lateness_ms + LATE_MIN_MS + (int64_t)(v * LATE_SPAN_MS));
            late = delay > 0;
        } else if (u < nz->late + nz->disorder && nz->lateness_ms > 1) {
            delay = delay_within(g, ev->ts, 1 + (int64_t)(v * (double)(nz->lateness_ms - 1)));
            g->n_disorder += delay > 0;
        }
        arrival += delay;
    }
    FILE *f = ev->outcome ? g->pf : g->ef;
    uint64_t *count = ev->outcome ? &g->n_playback : &g->n_errors;
    push(g, f, ev->ts, arrival, line);
    ++*count;
    g->n_late += (uint64_t)late;
    if (nz->duplicates > 0 && uniform(&g->nz) < nz->duplicates) {
        /* The producer's retry arrives soon after; a copy of an event on
         * time stays within the lateness. */
        int64_t most = late ? DUPLICATE_MAX_MS : nz->lateness_ms - 1 - (arrival - ev->ts);
        if (most > DUPLICATE_MAX_MS)
            most = DUPLICATE_MAX_MS;
        int64_t again = most > 0 ? (int64_t)(uniform(&g->nz) * (double)most) : 0;
        if (arrival + again >= g->end_ms)
            again = 0;
        push(g, f, ev->ts, arrival + again, line);
        ++*count;
        g->n_duplicated++;
        g->n_late += (uint64_t)late;
    }
}

/* One attempt of the slice dims at ts: draws its outcome, user and error
 * event from rng (in this order, the order of every earlier version). */
static void attempt(gen_t *g, uint64_t *rng, int64_t ts, int ts_text, const char *const dims[4],
                    double ratio, double error_x, const char *storm_code)
{
    event_t ev = {ts, ts_text, NULL, NULL, 0, {dims[0], dims[1], dims[2], dims[3]}};
    int failed = uniform(rng) < ratio;
    ev.user = next_u64(rng) % 1000000;
    ev.outcome = failed ? "failed" : "ok";
    write_event(g, &ev);
    if (uniform(rng) < 0.03 * error_x) {
        size_t code = pick(rng, code_share, 5);
        /* In an error storm of one code, the extra errors carry it. */
        ev.code = codes[code];
        if (storm_code && uniform(rng) >= 1.0 / error_x)
            ev.code = storm_code;
        ev.outcome = NULL;
        ev.ts_text = 0;
        write_event(g, &ev);
    }
}

/* Queues the attempts of a handful: spread over the window, exactly
 * `failures` of them failed, the dimensions it does not name drawn as usual. */
static void add_handful(gen_t *g, const incident_t *inc, int64_t start_ms,
                        const double *country_share)
{
    int failures_left = inc->failures;
    for (int k = 0; k < inc->attempts; k++) {
        double at = ((double)k + uniform(&g->fx)) / (double)inc->attempts;
        const char *picked[4] = {countries[pick(&g->fx, country_share, N_COUNTRIES)],
                                 platforms[pick(&g->fx, platform_share, 3)],
                                 versions[pick(&g->fx, version_share, 4)],
                                 cdns[pick(&g->fx, cdn_share, 3)]};
        event_t ev = {start_ms + inc->start_ms +
                          (int64_t)(at * (double)(inc->end_ms - inc->start_ms)),
                      0,
                      "ok",
                      NULL,
                      next_u64(&g->fx) % 1000000,
                      {NULL, NULL, NULL, NULL}};
        /* Selection sampling: each of the remaining attempts fails with the
         * share of failures left, which gives exactly `failures`. */
        if (uniform(&g->fx) * (double)(inc->attempts - k) < (double)failures_left) {
            ev.outcome = "failed";
            failures_left--;
        }
        for (int d = 0; d < 4; d++)
            ev.dims[d] = inc->dims[d][0] ? inc->dims[d] : picked[d];
        write_event(g, &ev);
    }
}

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench gen --playback P.ndjson --errors E.ndjson [--truth T.ndjson]\n"
          "         [--seed N] [--rate EVENTS_PER_S] [--duration 30m] [--start RFC3339|ago:2h]\n"
          "         [--incident SPEC]... [--decoy SPEC]...\n"
          "         [--duplicates SHARE] [--disorder SHARE] [--late SHARE] [--missing SHARE]\n"
          "         [--lateness 5s] [--no-noise]\n"
          "  SPEC: DIM=V[,DIM=V]@START-END{*|~|v|e|r}FACTOR or ...@START-ENDfK/N\n"
          "  *F failure ratio xF, ~F ratio rising to xF over the window, vF attempts xF (below\n"
          "  1 clients stop sending, above 1 a surge), eF error events xF (code=X picks the\n"
          "  code), rF app_version=V rolls out to a share F, fK/N N extra attempts, K failed\n"
          "  noise defaults: --duplicates 0.001 --disorder 0.02 --late 0.0001 --missing 0.005\n",
          out);
}

int fs_bench_gen_main(int argc, char **argv)
{
    enum {
        OPT_PLAYBACK = 256,
        OPT_ERRORS,
        OPT_TRUTH,
        OPT_SEED,
        OPT_RATE,
        OPT_DURATION,
        OPT_START,
        OPT_INCIDENT,
        OPT_DECOY,
        OPT_DUPLICATES,
        OPT_DISORDER,
        OPT_LATE,
        OPT_MISSING,
        OPT_LATENESS,
        OPT_NO_NOISE
    };
    static const struct option options[] = {
        {"playback", required_argument, NULL, OPT_PLAYBACK},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"seed", required_argument, NULL, OPT_SEED},
        {"rate", required_argument, NULL, OPT_RATE},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"start", required_argument, NULL, OPT_START},
        {"incident", required_argument, NULL, OPT_INCIDENT},
        {"decoy", required_argument, NULL, OPT_DECOY},
        {"duplicates", required_argument, NULL, OPT_DUPLICATES},
        {"disorder", required_argument, NULL, OPT_DISORDER},
        {"late", required_argument, NULL, OPT_LATE},
        {"missing", required_argument, NULL, OPT_MISSING},
        {"lateness", required_argument, NULL, OPT_LATENESS},
        {"no-noise", no_argument, NULL, OPT_NO_NOISE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *playback_path = NULL, *errors_path = NULL, *truth_path = NULL;
    uint64_t seed = 1;
    double rate = 1000;
    int64_t duration_ms = 30 * 60000, start_ms = 1795000000000LL; /* 2026-11-18T11:06:40Z */
    incident_t incidents[MAX_INCIDENTS];
    size_t n_incidents = 0;
    FILE *tf = NULL;
    gen_t g;
    int status = 1;

    memset(&g, 0, sizeof g);
    g.noise = (noise_t){0.001, 0.02, 0.0001, 0.005, 5000};
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_PLAYBACK:
            playback_path = optarg;
            break;
        case OPT_ERRORS:
            errors_path = optarg;
            break;
        case OPT_TRUTH:
            truth_path = optarg;
            break;
        case OPT_SEED:
            seed = strtoull(optarg, NULL, 10);
            break;
        case OPT_RATE:
            rate = atof(optarg);
            break;
        case OPT_DURATION:
            if (parse_duration(optarg, &duration_ms) != 0) {
                fprintf(stderr, "gen: bad --duration '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_START:
            if (strncmp(optarg, "ago:", 4) == 0) {
                /* A workload that ends `ago` before now, for live runs. */
                int64_t ago;
                if (parse_duration(optarg + 4, &ago) != 0)
                    return 2;
                start_ms = -ago; /* resolved below, once duration is known */
            } else if (fs_timestamp_parse(optarg, strlen(optarg), &start_ms) != 0) {
                fprintf(stderr, "gen: bad --start '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_INCIDENT:
        case OPT_DECOY:
            if (n_incidents == MAX_INCIDENTS ||
                parse_incident(optarg, opt == OPT_DECOY, &incidents[n_incidents]) != 0) {
                fprintf(stderr,
                        "gen: bad --%s '%s' (DIM=V[,DIM=V]@START-END{*|~|v|e|r}FACTOR or "
                        "...@START-ENDfK/N; at most %d)\n",
                        opt == OPT_DECOY ? "decoy" : "incident", optarg, MAX_INCIDENTS);
                return 2;
            }
            n_incidents++;
            break;
        case OPT_DUPLICATES:
        case OPT_DISORDER:
        case OPT_LATE:
        case OPT_MISSING: {
            double *share = opt == OPT_DUPLICATES ? &g.noise.duplicates
                            : opt == OPT_DISORDER ? &g.noise.disorder
                            : opt == OPT_LATE     ? &g.noise.late
                                                  : &g.noise.missing;
            if (parse_share(optarg, share) != 0) {
                fprintf(stderr, "gen: bad share '%s' (a number from 0 to 1)\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_LATENESS:
            if (parse_duration(optarg, &g.noise.lateness_ms) != 0 || g.noise.lateness_ms < 1) {
                fprintf(stderr, "gen: bad --lateness '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_NO_NOISE:
            g.noise.duplicates = g.noise.disorder = g.noise.late = g.noise.missing = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!playback_path || !errors_path || rate <= 0 || optind != argc ||
        g.noise.late + g.noise.disorder > 1) {
        usage(stderr);
        return 2;
    }
    if (start_ms <= 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        start_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + start_ms - duration_ms;
    }
    g.end_ms = start_ms + duration_ms;
    g.pf = fopen(playback_path, "w");
    g.ef = fopen(errors_path, "w");
    if (!g.pf || !g.ef || (truth_path && !(tf = fopen(truth_path, "w")))) {
        perror("gen");
        goto done;
    }

    double country_share[N_COUNTRIES], total = 0;
    for (int i = 0; i < N_COUNTRIES; i++)
        total += country_share[i] = 1.0 / pow(i + 1, 1.1);
    for (int i = 0; i < N_COUNTRIES; i++)
        country_share[i] /= total;
    double base_ratio[N_COUNTRIES][3];
    uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 1;
    g.fx = seed * 0x9e3779b97f4a7c15ULL + 2;
    g.nz = seed * 0xd1b54a32d192ed03ULL + 3;
    for (int c = 0; c < N_COUNTRIES; c++)
        for (int p = 0; p < 3; p++)
            base_ratio[c][p] = 0.005 + 0.015 * uniform(&rng);
    for (size_t k = 0; k < n_incidents; k++)
        if (incidents[k].kind == INC_HANDFUL)
            add_handful(&g, &incidents[k], start_ms, country_share);

    g.in_order = 1;
    for (int64_t sec = 0; sec * 1000 < duration_ms && !g.failed; sec++) {
        int64_t second_start = start_ms + sec * 1000;
        /* Nothing made from here on arrives before this second. */
        release(&g, second_start);
        double cycle = 1.0 + 0.3 * sin(TWO_PI * (double)(second_start % 86400000) / 86400000.0);
        double expected = rate * cycle;
        /* Poisson-ish: the expected count plus rounding noise. */
        uint64_t n = (uint64_t)(expected + uniform(&rng));
        for (uint64_t i = 0; i < n; i++) {
            int64_t ts = second_start + (int64_t)(1000.0 * ((double)i + uniform(&rng)) / (double)n);
            size_t c = pick(&rng, country_share, N_COUNTRIES);
            size_t p = pick(&rng, platform_share, 3);
            size_t v = pick(&rng, version_share, 4);
            size_t d = pick(&rng, cdn_share, 3);
            const char *dims[4] = {countries[c], platforms[p], versions[v], cdns[d]};
            double ratio = base_ratio[c][p], keep = 1, error_x = 1;
            const char *storm_code = NULL;
            int64_t offset = ts - start_ms;
            /* Rollouts first: an incident may hit the version rolled out. */
            for (size_t k = 0; k < n_incidents; k++) {
                const incident_t *inc = &incidents[k];
                if (inc->kind != INC_ROLLOUT || offset < inc->start_ms || !in_slice(inc, dims, 2))
                    continue;
                double progress = fmin(1.0, (double)(offset - inc->start_ms) /
                                                (double)(inc->end_ms - inc->start_ms));
                if (uniform(&g.fx) < inc->factor * progress)
                    dims[2] = inc->dims[2];
            }
            for (size_t k = 0; k < n_incidents; k++) {
                const incident_t *inc = &incidents[k];
                if (offset < inc->start_ms || offset >= inc->end_ms || !in_slice(inc, dims, -1))
                    continue;
                double progress =
                    (double)(offset - inc->start_ms) / (double)(inc->end_ms - inc->start_ms);
                switch (inc->kind) {
                case INC_RATIO:
                    ratio = fmin(1.0, ratio * inc->factor);
                    break;
                case INC_RAMP:
                    ratio = fmin(1.0, ratio * (1 + (inc->factor - 1) * progress));
                    break;
                case INC_VOLUME:
                    keep *= inc->factor;
                    break;
                case INC_ERRORS:
                    error_x *= inc->factor;
                    if (inc->code[0])
                        storm_code = inc->code;
                    break;
                case INC_ROLLOUT:
                case INC_HANDFUL:
                    break;
                }
            }
            if (keep < 1 && uniform(&rng) >= keep)
                continue; /* the client never sent it */
            /* Half the events use the RFC 3339 form of ts, half the integer. */
            attempt(&g, &rng, ts, (int)(i & 1), dims, ratio, error_x, storm_code);
            if (keep > 1) {
                /* A surge: more attempts like this one, failing as often. */
                double extra = keep - 1;
                int copies = (int)extra + (uniform(&g.fx) < extra - floor(extra));
                for (int k = 0; k < copies; k++)
                    attempt(&g, &g.fx, ts, (int)(i & 1), dims, ratio, error_x, storm_code);
            }
        }
    }
    release(&g, INT64_MAX);
    if (g.failed) {
        fprintf(stderr, "gen: out of memory\n");
        goto done;
    }
    for (size_t k = 0; tf && k < n_incidents; k++) {
        char a[32], b[32];
        fs_timestamp_format(start_ms + incidents[k].start_ms, a);
        fs_timestamp_format(start_ms + incidents[k].end_ms, b);
        fprintf(tf, "{\"incident\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"factor\":%g%s}\n",
                incidents[k].spec, a, b, incidents[k].factor,
                incidents[k].decoy ? ",\"decoy\":true" : "");
    }
    fprintf(stderr,
            "gen: %" PRIu64 " playback and %" PRIu64 " error events (%" PRIu64
            " duplicated, %" PRIu64 " out of order, %" PRIu64 " late, %" PRIu64
            " missing a dimension)\n",
            g.n_playback, g.n_errors, g.n_duplicated, g.n_disorder, g.n_late, g.n_missing);
    status = 0;
done:
    for (size_t i = 0; i < g.n_heap; i++)
        free(g.heap[i].line);
    free(g.heap);
    if (g.pf && fclose(g.pf) != 0)
        status = 1;
    if (g.ef && fclose(g.ef) != 0)
        status = 1;
    if (tf && fclose(tf) != 0)
        status = 1;
    return status;
}
