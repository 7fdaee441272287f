/*
 * score.h: `foreshock-bench score`: how well the alerts of a replay match the
 * incidents a workload injected.
 *
 * Inputs are the ground truth written by `foreshock-bench gen --truth` (one
 * JSON line per incident: {"incident":"DIM=V[,DIM=V]@START-END*F","start":
 * RFC 3339,"end":RFC 3339,"factor":F}, and per decoy the same with
 * "decoy":true), the alert messages written by
 * `foreshock-bench replay` (CONTRACT.md section 2, one per line) and,
 * optionally, the workload's event files. The result says, per incident,
 * whether and how fast it was detected and on which slice, and how long its
 * alert took to resolve; which firing alerts match no incident; precision,
 * recall and false alerts per simulated day; and, with the playback file, the
 * delay of an oracle CUSUM that knows the slice's failure ratio before and
 * during the incident exactly, the yardstick of docs/detection.md.
 *
 * Matching rules (the same for every caller):
 * - An alert is a `firing` message; repeated firing messages with the same
 *   fingerprint and startsAt (a contract violation) count once and are
 *   reported as duplicates. Its endsAt is taken from the `resolved` message
 *   with the same fingerprint and startsAt.
 * - A firing alert matches an incident when its startsAt or its detectedAt
 *   lies in [start - 60 s, end + 60 s] (inclusive) and its slice is the
 *   incident's slice, more general (its dimension=value pairs are a proper
 *   subset of the incident's, e.g. country=BR or {} for
 *   country=BR,platform=android) or more specific (a proper superset). The
 *   alertname does not matter.
 * - An incident is detected when at least one alert matches it. Its
 *   reported alert is the matching one with the earliest detectedAt (ties:
 *   same slice, then more specific, then more general, then file order); the
 *   delay is that detectedAt minus the incident start, and the time to
 *   resolve is that alert's endsAt minus the incident end.
 * - Precision is (alerts matching at least one incident) / (firing alerts);
 *   recall is (incidents detected) / (incidents), each incident counted once
 *   however many alerts match it. Both are NAN when their denominator is 0.
 * - Decoys (truth lines with "decoy":true: a benign change that must not
 *   page, such as a traffic surge or a tiny slice with 3 failures out of 5)
 *   are not incidents: they count toward neither recall nor precision's
 *   numerator. A firing alert that matches no incident but matches a decoy
 *   (the same window and slice rules) is a false alert that paged on the
 *   decoy; a decoy is paged when at least one such alert exists.
 * - A false alert is a firing alert that matches no incident. Those whose
 *   slice merely overlaps an incident's (no dimension with two different
 *   values, neither a subset nor a superset, e.g. country=BR,cdn=akamai for
 *   country=BR,platform=android) within its time window are counted apart as
 *   collateral, but they are false alerts all the same.
 * - False alerts per simulated day divide by the simulated span: `span_ms` of
 *   the options when > 0; else the first to the last valid event time of the
 *   playback and error files when either is given; else the earliest to the
 *   latest time in the truth and alerts (incident start and end, startsAt,
 *   detectedAt, endsAt), which underestimates the span of a workload whose
 *   quiet stretches raised no alert, hence overstates the rate.
 *
 * Oracle (needs the playback file): the incident's slice is aggregated into
 * 1 s event-time buckets (epoch-aligned, like window.bucket = 1s) from 10
 * minutes before its start to its end. p0 is the slice's failure ratio over
 * the 10 minutes before the start and p1 its ratio during the incident
 * (failures over attempts of the events in those intervals; a count of 0 or
 * of all attempts is replaced by 0.5 so the log-LR stays finite). A binomial
 * log-LR CUSUM S = max(0, S + llr(f, n; p0, p1)) runs over the buckets from
 * the first one; it alarms at the end of the bucket where S >= h, with
 * h = fs_cusum_threshold(fs_budget_arl0(1 alarm/day, `slices` tests, 1 s)).
 * An alarm at or before the incident start is a false alarm: it is counted,
 * S restarts at 0 and the run goes on. The oracle delay is the first alarm
 * after the start minus the start; none if S does not reach h before the
 * incident ends, or if p1 <= p0 or either interval has no attempts. Event
 * lines are decoded with the detector's own decoder (detector/decode.h),
 * with the default dimensions (country, platform, app_version, cdn) plus any
 * other the incidents name; invalid lines are counted and skipped, as the
 * detector skips them.
 *
 * Thread safety: functions share no state; a result is not shared.
 */
#ifndef FS_BENCH_SCORE_H
#define FS_BENCH_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "detector/decode.h"
#include "detector/event.h"

/* Tolerance around an incident's window within which an alert counts, ms. */
#define FS_SCORE_MATCH_MS 60000
/* How far before an incident the oracle measures p0 and starts its CUSUM, ms. */
#define FS_SCORE_ORACLE_LEAD_MS 600000
/* Oracle bucket width, ms. */
#define FS_SCORE_BUCKET_MS 1000
/* False alarms per day the oracle's threshold allows across all slices. */
#define FS_SCORE_ALARMS_PER_DAY 1.0
/* Default number of slices the false-alarm budget is spread over. */
#define FS_SCORE_DEFAULT_SLICES 500.0

/* A time that is absent (an unresolved alert, an undetected incident). */
#define FS_SCORE_NO_TIME INT64_MIN

typedef enum fs_score_relation {
    FS_SCORE_DISJOINT = 0, /* some dimension has two different values: no common traffic */
    FS_SCORE_OVERLAP,      /* common traffic, but neither a subset nor a superset */
    FS_SCORE_SAME,         /* the same dimension=value pairs */
    FS_SCORE_GENERAL,      /* the alert's pairs are a proper subset of the incident's */
    FS_SCORE_SPECIFIC,     /* the alert's pairs are a proper superset of the incident's */
} fs_score_relation_t;

/* A slice: n dimension=value pairs (in the order read), and its text form,
 * "country=BR,platform=android", or "{}" for all traffic. */
typedef struct fs_score_slice {
    size_t n;
    char *dims[FS_MAX_DIMS];
    char *values[FS_MAX_DIMS];
    char *text;
} fs_score_slice_t;

/* One firing alert (deduplicated by fingerprint and startsAt). */
typedef struct fs_score_alert {
    char *fingerprint;
    char *alertname;
    fs_score_slice_t slice;
    int64_t starts_at_ms;
    int64_t detected_at_ms;
    int64_t ends_at_ms;  /* from its resolved message; FS_SCORE_NO_TIME if none */
    long line;           /* line of its first firing message in the alerts file */
    int matched;         /* index of the first incident it matches, or -1 */
    int decoy;           /* unmatched: index of the first decoy it matches, or -1 */
    int collateral;      /* unmatched, but overlaps an incident's slice within its window */
    size_t n_duplicates; /* repeated firing messages of this alert */
} fs_score_alert_t;

/* An incident, or a decoy (then the detection fields describe the alerts
 * that paged on it, and there is no oracle). */
typedef struct fs_score_incident {
    char *spec; /* the truth's "incident" string */
    fs_score_slice_t slice;
    int64_t start_ms, end_ms;
    double factor; /* NAN if the truth has none */

    /* Detection. alert is an index into fs_score_result_t.alerts or -1. */
    int alert;
    fs_score_relation_t relation; /* of that alert's slice to the incident's */
    size_t n_matching;            /* alerts matching this incident */
    int64_t delay_ms;             /* detectedAt - start; FS_SCORE_NO_TIME if undetected */
    int64_t resolve_ms;           /* endsAt - end; FS_SCORE_NO_TIME if unresolved */

    /* Oracle: has_oracle says whether it could run (see note otherwise). */
    int has_oracle;
    const char *oracle_note; /* static string: why there is no oracle delay */
    double attempts_before, failures_before, attempts_during, failures_during;
    double p0, p1;
    int64_t oracle_delay_ms;    /* FS_SCORE_NO_TIME if it did not alarm during the incident */
    size_t oracle_false_alarms; /* alarms at or before the start */
    double delay_ratio;         /* delay_ms / oracle_delay_ms; NAN if either is missing */
} fs_score_incident_t;

typedef struct fs_score_options {
    const char *truth_path;    /* required */
    const char *alerts_path;   /* required */
    const char *playback_path; /* optional: span and oracle */
    const char *errors_path;   /* optional: span */
    double slices;             /* oracle budget's slice count; <= 0 means the default */
    int64_t span_ms;           /* > 0 overrides the simulated span */
} fs_score_options_t;

typedef struct fs_score_result {
    fs_score_incident_t *incidents;
    size_t n_incidents;
    fs_score_alert_t *alerts; /* firing alerts, in order of their first message */
    size_t n_alerts;
    fs_score_incident_t *decoys; /* truth lines marked "decoy", in file order */
    size_t n_decoys;

    size_t n_detected;        /* incidents with a matching alert */
    size_t n_matching_alerts; /* alerts matching at least one incident */
    size_t n_false_alerts;    /* alerts matching none */
    size_t n_collateral;      /* of which overlap an incident (see above) */
    size_t n_decoy_alerts;    /* of which match a decoy */
    size_t n_decoys_paged;    /* decoys with at least one matching false alert */
    size_t n_duplicates;      /* repeated firing messages, over all alerts */
    size_t n_resolved;        /* resolved messages read */
    size_t n_orphan_resolved; /* resolved messages with no firing message */
    double precision, recall; /* NAN when undefined */

    int64_t span_start_ms, span_end_ms; /* the simulated span */
    const char *span_source;            /* "--span", "event files" or "truth and alerts" */
    double span_days;
    double false_per_day; /* NAN if the span is empty */

    int oracle_run;       /* the playback file was read */
    double slices;        /* the budget's slice count */
    double oracle_h;      /* the oracle's threshold, log-LR units */
    uint64_t events_read; /* valid playback and error events */
    uint64_t events_invalid;
} fs_score_result_t;

/* Name of a relation: "same", "more general", "more specific", "overlapping",
 * "disjoint". A static string. */
const char *fs_score_relation_name(fs_score_relation_t relation);

/* How an alert's slice relates to an incident's slice. */
fs_score_relation_t fs_score_relate(const fs_score_slice_t *incident, const fs_score_slice_t *alert);

/* Whether the alert matches the incident: its slice is the same, more general
 * or more specific, and it started or was detected within FS_SCORE_MATCH_MS
 * of the incident's window. */
int fs_score_matches(const fs_score_incident_t *incident, const fs_score_alert_t *alert);

/*
 * Event files, read as score reads them; report reads the playback file with
 * the same functions.
 *
 * fs_score_decoder_new makes the decoder for r's (borrowed) incidents: the
 * default dimensions (country, platform, app_version, cdn; CONTRACT.md
 * section 3), so it accepts and rejects exactly the lines the detector does
 * with its default configuration, then any other dimension an incident
 * names. It writes into dim_index[i][k] (r->n_incidents rows, caller's) the
 * decoder dimension of incident i's k-th pair. Returns the decoder (free
 * with fs_decoder_free), or NULL with a reason in err.
 */
fs_decoder_t *fs_score_decoder_new(const fs_score_result_t *r, int (*dim_index)[FS_MAX_DIMS],
                                   char *err, size_t err_size);

/* Whether the decoded event ev lies in slice, whose k-th pair is the
 * decoder's dimension dim_index[k] (a row of fs_score_decoder_new's). */
int fs_score_event_in_slice(const fs_event_t *ev, const fs_score_slice_t *slice,
                            const int *dim_index);

/* Called with each valid event of a file; ev is valid during the call only. */
typedef void (*fs_score_event_fn)(void *ctx, const fs_event_t *ev);

/* Decodes each line of the event file path as kind with decoder (borrowed)
 * and calls fn(ctx, ev) on each valid event, in file order. Blank lines are
 * skipped; invalid ones are skipped, as the detector skips them, and counted
 * into *n_invalid unless it is NULL. Returns 0, or -1 with a reason in err. */
int fs_score_read_events(const char *path, fs_event_kind_t kind, fs_decoder_t *decoder,
                         fs_score_event_fn fn, void *ctx, uint64_t *n_invalid, char *err,
                         size_t err_size);

/*
 * Reads the files of opt (borrowed) and scores them into *out (a new result,
 * free with fs_score_result_free). Returns 0 on success; on failure returns
 * -1, sets *out to NULL and writes a NUL-terminated reason such as
 * "alerts.ndjson:3: startsAt cannot be parsed" into err (err_size bytes).
 */
int fs_score_run(const fs_score_options_t *opt, fs_score_result_t **out, char *err,
                 size_t err_size);

/* Frees a result. Accepts NULL. */
void fs_score_result_free(fs_score_result_t *r);

/* Writes the readable report of r (borrowed) to out. */
void fs_score_print(const fs_score_result_t *r, FILE *out);

/* Writes r (borrowed) as one JSON document to path. Returns 0, or -1 with a
 * reason in err. */
int fs_score_write_json(const fs_score_result_t *r, const char *path, char *err, size_t err_size);

/* Runs the score subcommand; argv[0] is "score". Returns the exit status:
 * 0 success, 1 an input or output failed, 2 bad usage. */
int fs_bench_score_main(int argc, char **argv);

#endif
