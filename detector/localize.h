/*
 * localize.h: one alert per incident.
 *
 * A burst in country=BR, platform=android also moves country=BR,
 * platform=android and all traffic. Given the slices whose models fire, the
 * localizer picks the smallest set of most specific slices that explain the
 * excess, and the rest are not alerted:
 *
 *   Start from each firing slice that has no firing ancestor. At a slice X,
 *   look at its firing children one dimension at a time (country=BR's
 *   children by platform: BR x android, BR x ios, ...), take the fewest
 *   children of one dimension whose excess adds up to `share` of X's excess,
 *   over the dimension needing fewest. If none explains it, X is reported.
 *   If one child does, descend into it. If several do: when their share of
 *   X's excess is at most twice their share of X's traffic, the excess is
 *   spread over X and X is reported (a country-wide outage is one alert on
 *   the country, not one per platform); when it is concentrated, they are
 *   separate incidents and each is descended into (two unrelated bursts are
 *   two alerts, not one on all traffic). Children with less excess than the
 *   paging minimum are not considered.
 *
 * Slices that overlap a reported one without being its ancestor or
 * descendant (country=BR x cdn=akamai next to a reported country=BR x
 * platform=android) are explained by it when what remains of their excess,
 * after the part of the reported excess that falls into them (the reported
 * excess times their traffic share within the slice both have in common,
 * assuming their other dimension is spread alike), is at most twice the
 * larger of (1 - share) of their excess and the paging minimum. Otherwise
 * they start a descent of their own: two unrelated incidents give two
 * alerts.
 *
 * Slices with an open alert get hysteresis (`share` less 0.3) so the
 * explanation does not flip back and forth near the threshold. Cost: O(K^2)
 * key comparisons for K firing slices, parsed once per call; K is small
 * (the firing slices, not the live ones).
 */
#ifndef FS_DETECTOR_LOCALIZE_H
#define FS_DETECTOR_LOCALIZE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_loc_candidate {
    const char *key; /* canonical slice key (borrowed) */
    double excess;   /* excess failures, errors or missing attempts, > 0 */
    double traffic;  /* attempts over the same recent window */
    int open;        /* an alert is open on this slice now */
    int report;      /* out: 1 if this slice is alerted */
} fs_loc_candidate_t;

typedef struct fs_localizer fs_localizer_t;

/* A localizer for up to max_candidates at once; min_excess is the paging
 * minimum (detect.min_excess). NULL on out of memory. */
fs_localizer_t *fs_localizer_new(size_t max_candidates, double min_excess);
void fs_localizer_free(fs_localizer_t *loc);

/* Recent attempts of the slice with this canonical key (which need not be
 * firing), or 0 if it is unknown. */
typedef double (*fs_loc_traffic_cb)(void *opaque, const char *key, size_t len);

/*
 * Sets c[i].report for the n candidates (n <= max_candidates; extra ones
 * are all reported). share in (0, 1], e.g. 0.8. Never allocates.
 */
void fs_localize(fs_localizer_t *loc, fs_loc_candidate_t *c, size_t n, double share,
                 fs_loc_traffic_cb traffic, void *opaque);

#endif
