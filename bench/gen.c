/*
 * gen.c: `foreshock-bench gen --playback P --errors E [options]`.
 *
 * Traffic: countries with Zipf-like weights (a few large, a long tail),
 * platforms, app versions and CDNs with fixed shares, a daily cycle of
 * +-30% around --rate, a base failure ratio per country x platform between
 * 0.5% and 2%, error events at 3% of the playback rate spread over a few
 * codes, and users drawn from a pool of a million. Events of one second are
 * spread over it and written in time order.
 *
 * Incidents (--incident, repeatable): `DIM=VALUE[,DIM=VALUE]@START-END*FACTOR`,
 * times as durations from the start (e.g. `country=BR,platform=android@8m-10m*10`):
 * within the window, events of that slice fail FACTOR times as often (capped
 * at 100%). --truth writes one JSON line per incident.
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

#define MAX_INCIDENTS 16
#define N_COUNTRIES 30

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

/* What an incident does to the events of its slice within its window. */
typedef enum incident_kind {
    INC_RATIO = '*',  /* failure ratio x factor */
    INC_RAMP = '~',   /* failure ratio x 1 rising linearly to x factor (creeping) */
    INC_VOLUME = 'v', /* only a factor of the playback attempts arrive (clients stop sending) */
    INC_ERRORS = 'e', /* error events x factor (of `code` if given) */
} incident_kind_t;

typedef struct incident {
    char country[16], platform[16], app_version[16], cdn[16], code[32];
    char spec[128];
    int64_t start_ms, end_ms; /* from the start of the workload */
    incident_kind_t kind;
    double factor;
} incident_t;

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

static int parse_incident(const char *spec, incident_t *inc)
{
    char buf[128], *save = NULL;
    memset(inc, 0, sizeof *inc);
    snprintf(inc->spec, sizeof inc->spec, "%s", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    char *at = strchr(buf, '@'), *dash, *op;
    if (!at)
        return -1;
    *at++ = '\0';
    if (!(dash = strchr(at, '-')) || !(op = strpbrk(dash, "*~ve")))
        return -1;
    *dash++ = '\0';
    inc->kind = (incident_kind_t)*op;
    *op++ = '\0';
    if (parse_duration(at, &inc->start_ms) || parse_duration(dash, &inc->end_ms) ||
        (inc->factor = atof(op)) <= 0 || inc->end_ms <= inc->start_ms)
        return -1;
    for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        if (!eq)
            return -1;
        *eq++ = '\0';
        char *slot = strcmp(part, "country") == 0    ? inc->country
                     : strcmp(part, "platform") == 0 ? inc->platform
                     : strcmp(part, "app_version") == 0 ? inc->app_version
                     : strcmp(part, "cdn") == 0      ? inc->cdn
                     : strcmp(part, "code") == 0     ? inc->code
                                                     : NULL;
        if (!slot || strlen(eq) >= (slot == inc->code ? sizeof inc->code : 16))
            return -1;
        strcpy(slot, eq);
    }
    return 0;
}

static int matches(const char *want, const char *have)
{
    return want[0] == '\0' || strcmp(want, have) == 0;
}

static void usage(FILE *out)
{
    fputs("usage: foreshock-bench gen --playback P.ndjson --errors E.ndjson [--truth T.ndjson]\n"
          "         [--seed N] [--rate EVENTS_PER_S] [--duration 30m] [--start RFC3339|ago:2h]\n"
          "         [--incident DIM=V[,DIM=V]@START-END{*|~|v|e}FACTOR]...\n"
          "  incidents: *F failure ratio xF, ~F ratio rising to xF over the window, vF only a\n"
          "  fraction F of the attempts arrive, eF error events xF (code=X picks the code)\n",
          out);
}

int fs_bench_gen_main(int argc, char **argv)
{
    enum { OPT_PLAYBACK = 256, OPT_ERRORS, OPT_TRUTH, OPT_SEED, OPT_RATE, OPT_DURATION,
           OPT_START, OPT_INCIDENT };
    static const struct option options[] = {
        {"playback", required_argument, NULL, OPT_PLAYBACK},
        {"errors", required_argument, NULL, OPT_ERRORS},
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"seed", required_argument, NULL, OPT_SEED},
        {"rate", required_argument, NULL, OPT_RATE},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"start", required_argument, NULL, OPT_START},
        {"incident", required_argument, NULL, OPT_INCIDENT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *playback_path = NULL, *errors_path = NULL, *truth_path = NULL;
    uint64_t seed = 1;
    double rate = 1000;
    int64_t duration_ms = 30 * 60000, start_ms = 1795000000000LL; /* 2026-11-18T11:06:40Z */
    incident_t incidents[MAX_INCIDENTS];
    size_t n_incidents = 0;
    FILE *pf = NULL, *ef = NULL, *tf = NULL;
    int status = 1;

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
            if (n_incidents == MAX_INCIDENTS ||
                parse_incident(optarg, &incidents[n_incidents]) != 0) {
                fprintf(stderr, "gen: bad --incident '%s' (DIM=V[,DIM=V]@START-END*FACTOR)\n",
                        optarg);
                return 2;
            }
            n_incidents++;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!playback_path || !errors_path || rate <= 0 || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (start_ms <= 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        start_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + start_ms - duration_ms;
    }
    pf = fopen(playback_path, "w");
    ef = fopen(errors_path, "w");
    if (!pf || !ef || (truth_path && !(tf = fopen(truth_path, "w")))) {
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
    for (int c = 0; c < N_COUNTRIES; c++)
        for (int p = 0; p < 3; p++)
            base_ratio[c][p] = 0.005 + 0.015 * uniform(&rng);

    char ts_text[32];
    uint64_t n_playback = 0, n_errors = 0;
    for (int64_t sec = 0; sec * 1000 < duration_ms; sec++) {
        int64_t second_start = start_ms + sec * 1000;
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
            double ratio = base_ratio[c][p], keep = 1, error_x = 1;
            const char *storm_code = NULL;
            int64_t offset = ts - start_ms;
            for (size_t k = 0; k < n_incidents; k++) {
                const incident_t *inc = &incidents[k];
                if (offset < inc->start_ms || offset >= inc->end_ms ||
                    !matches(inc->country, countries[c]) || !matches(inc->platform, platforms[p]) ||
                    !matches(inc->app_version, versions[v]) || !matches(inc->cdn, cdns[d]))
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
                }
            }
            if (keep < 1 && uniform(&rng) >= keep)
                continue; /* the client never sent it */
            int failed = uniform(&rng) < ratio;
            uint64_t user = next_u64(&rng) % 1000000;
            /* Half the events use the RFC 3339 form of ts, half the integer. */
            if (i & 1) {
                fs_timestamp_format(ts, ts_text);
                fprintf(pf, "{\"ts\":\"%s\"", ts_text);
            } else {
                fprintf(pf, "{\"ts\":%" PRId64, ts);
            }
            fprintf(pf,
                    ",\"outcome\":\"%s\",\"user_id\":\"u%" PRIu64 "\",\"country\":\"%s\","
                    "\"platform\":\"%s\",\"app_version\":\"%s\",\"cdn\":\"%s\"}\n",
                    failed ? "failed" : "ok", user, countries[c], platforms[p], versions[v],
                    cdns[d]);
            n_playback++;
            if (uniform(&rng) < 0.03 * error_x) {
                size_t code = pick(&rng, code_share, 5);
                /* In an error storm of one code, the extra errors carry it. */
                const char *code_text = codes[code];
                if (storm_code && uniform(&rng) >= 1.0 / error_x)
                    code_text = storm_code;
                fprintf(ef,
                        "{\"ts\":%" PRId64 ",\"code\":\"%s\",\"user_id\":\"u%" PRIu64 "\","
                        "\"country\":\"%s\",\"platform\":\"%s\",\"app_version\":\"%s\","
                        "\"cdn\":\"%s\"}\n",
                        ts, code_text, user, countries[c], platforms[p], versions[v], cdns[d]);
                n_errors++;
            }
        }
    }
    for (size_t k = 0; tf && k < n_incidents; k++) {
        char a[32], b[32];
        fs_timestamp_format(start_ms + incidents[k].start_ms, a);
        fs_timestamp_format(start_ms + incidents[k].end_ms, b);
        fprintf(tf, "{\"incident\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"factor\":%g}\n",
                incidents[k].spec, a, b, incidents[k].factor);
    }
    fprintf(stderr, "gen: %" PRIu64 " playback and %" PRIu64 " error events\n", n_playback,
            n_errors);
    status = 0;
done:
    if (pf && fclose(pf) != 0)
        status = 1;
    if (ef && fclose(ef) != 0)
        status = 1;
    if (tf && fclose(tf) != 0)
        status = 1;
    return status;
}
