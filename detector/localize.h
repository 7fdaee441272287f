/*
 * localize.h: one alert per incident.
 *
 * A burst in country=BR, platform=android also moves country=BR,
 * platform=android and all traffic. Given the slices whose models fire, the
 * localizer picks the smallest set of most specific slices that explain the
 * excess, and the rest are not alerted. Each candidate brings its recent
 * (decayed) excess, expected count and traffic.
 *
 *   Start from each firing slice that has no firing ancestor. At a slice X,
 *   take its firing children one dimension at a time (country=BR's children
 *   by platform: BR x android, BR x ios, ...; children with less excess than
 *   the paging minimum do not count). They explain X when
 *     - what they leave of X (the rest R: X's excess and expected count
 *       less theirs) is not an incident of its own: at least the paging
 *       minimum and REST_Z standard deviations of its expected count, and
 *     - they carry `share` of X's excess, or share less 0.3 when one of them
 *       has an open alert (hysteresis) or when R is clearly quieter than if
 *       their excess were spread over X (in proportion to traffic or to
 *       expected failures, whichever is closer).
 *   "Not an incident of its own" is judged over the recent window and, where
 *   known (excess_now, expected_now), over a short one too: when the wide
 *   part of an incident has ended, the rest of X fails no more now though
 *   its recent excess stays significant for minutes; the children's share
 *   is then judged on what fails now, if they clearly fail now and the
 *   rest of X is clearly (REST_Z standard deviations) quieter now than
 *   their failures spread over X would leave it (the incident narrows back
 *   to them; a creeping problem across X, whose short window is small and
 *   noisy, does not hand itself to a child that fails a little more by
 *   chance). The open alert that lowers the share
 *   may also lie inside a child (BR x android for country=BR).
 *   Among the dimensions whose children explain X, the one concentrating
 *   the excess most (excess per traffic) wins. If none does, X is reported,
 *   unless a slice inside X with an open alert explains X alone (all
 *   traffic and every cdn still firing when BR x android's burst ends).
 *   One child is descended into. Several are separate incidents, each
 *   descended into, when their share of X's excess is more than twice their
 *   share of X's traffic (and of its expected failures) or R is clearly
 *   quieter than a problem across X would leave it, and each of them
 *   stands out from R (more than twice the excess it would have failing
 *   like R, significantly), and together they carry less than 90% of X's
 *   traffic; otherwise the largest of them may still explain X alone (the
 *   others that fail no more now go with it), or they are one problem
 *   across X and X is reported (a country-wide outage is one alert on the
 *   country, not one per platform; two unrelated bursts are two alerts, not
 *   one on all traffic).
 *
 * The rest rule makes a spreading incident one alert: when BR x android's
 * burst spreads to all of android, BR x android still carries most of
 * android's recent excess (its history, its worse ratio), but the rest of
 * android now holds a significant excess of its own, so android is
 * reported at once, and the other countries' pairs that cross their own
 * thresholds one by one lie inside it (a pair failing like the rest of
 * android does not stand out). A firing slice above a named one (android
 * above a named BR x android, reached from all traffic through
 * country=BR) is checked the same way: it is reported, and the slices named
 * inside it are not, only when its excess reaches beyond its firing
 * children.
 *
 * Slices that are not firing but hold recent excess can be passed as
 * `pending`: they are never reported and start nothing. When X would be
 * reported (and has no open alert) while a child, pending, below the paging
 * minimum or not yet decisive, holds share less 0.3 of X's excess and
 * leaves no incident in the rest, X is `held` instead: its test crossed
 * first, on more traffic, but the narrower slice probably holds the
 * incident. The caller decides how long to wait before alerting X anyway.
 *
 * Slices that overlap a reported one without being its ancestor or
 * descendant (country=BR x cdn=akamai next to a reported country=BR x
 * platform=android) are explained by it when what remains of their excess,
 * after the part of the reported excess that falls into them (the reported
 * excess times their traffic share within the slice both have in common,
 * assuming their other dimension is spread alike), is at most twice the
 * larger of (1 - share) of their excess and the paging minimum. Otherwise
 * they start a descent of their own: two unrelated incidents give two
 * alerts. A descent that ends inside a reported slice explains overlapping
 * slices with its own excess, and a value "unknown" (a missing dimension,
 * decode.h) overlaps every value of its dimension. A slice without traffic
 * (an error code, counted across all traffic) takes its usual share of all
 * errors (its expected count over all traffic's) of each named slice's
 * excess. A firing slice below an explained firing one that fails no more
 * now (a pair crossing its threshold in the tail of a wider burst) starts
 * nothing: it is explained with that one.
 *
 * Cost: keys are split into parts once per call and the parts interned in a
 * hash table, so parents and children are found by index; each slice is
 * visited once and its children sorted: O(K log K) for K candidates, plus,
 * for each firing slice that starts a descent, one pass over the named
 * slices for the overlap rule (O(K x named), the named slices being the
 * alerts, few), and for each slice about to be named, one pass over the
 * open alerts (fewer still). Hierarchy slices have at most two parts.
 */
#ifndef FS_DETECTOR_LOCALIZE_H
#define FS_DETECTOR_LOCALIZE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_loc_candidate {
    const char *key;     /* canonical slice key (borrowed) */
    double excess;       /* excess failures, errors or missing attempts, > 0 */
    double traffic;      /* attempts over the same recent window */
    int open;            /* an alert is open on this slice now */
    int report;          /* out: 1 if this slice is alerted */
    double expected;     /* expected failures, errors or attempts over the same window, the
                            count the excess is measured against; 0 if unknown (then the rest of a
                            slice is never judged an incident of its own) */
    int pending;         /* 1: not firing, passed only as a possible explanation */
    int held;            /* out: 1 if it would be reported but a child that is pending (or not
                            yet decisive) may explain it; 2 for that child; 3 for the slices inside
                            or explained by a held slice (not explained by an alert) */
    long by;             /* out: when not reported, the index of the reported or held candidate
                            whose slice contains it or explains it by overlap, or -1 */
    double excess_now;   /* excess over a short recent window (a few buckets), may be < 0 */
    double expected_now; /* expected count over that window; 0 if unknown (then only the
                            recent window judges the rest of a slice) */
} fs_loc_candidate_t;

typedef struct fs_localizer fs_localizer_t;

/* A localizer for up to max_candidates at once; min_excess is the paging
 * minimum (detect.min_excess). NULL on out of memory. */
fs_localizer_t *fs_localizer_new(size_t max_candidates, double min_excess);
void fs_localizer_free(fs_localizer_t *loc);

/* Recent attempts of the slice with this canonical key (which need not be
 * a candidate), or 0 if it is unknown. key is not NUL-terminated. */
typedef double (*fs_loc_traffic_cb)(void *opaque, const char *key, size_t len);

/*
 * Sets c[i].report, c[i].held and c[i].by for the n candidates (n <= max_candidates;
 * beyond that, every firing one is reported). share in (0, 1], e.g. 0.8.
 * Never allocates. Not thread safe (the localizer holds the scratch).
 */
void fs_localize(fs_localizer_t *loc, fs_loc_candidate_t *c, size_t n, double share,
                 fs_loc_traffic_cb traffic, void *opaque);

#endif
