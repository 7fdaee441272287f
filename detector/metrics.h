/*
 * metrics.h: a small registry of Prometheus metrics and its text rendering.
 *
 * The daemon thread registers metric families at startup (counters, gauges
 * and histograms, each with fixed label names), updates their series as it
 * runs, and calls fs_metrics_publish() once per loop turn. Publishing copies
 * the numbers into a snapshot under a mutex that it only ever *tries* to take:
 * while a scrape is rendering, the daemon skips that turn's publication rather
 * than wait, so a slow scraper can never block the pipeline; the next render
 * then waits (at most 250 ms) for a publication to get through first, so
 * back-to-back scrapes cannot keep the snapshot stale. The HTTP thread
 * renders the last published snapshot in the Prometheus text exposition format
 * (version 0.0.4) with fs_metrics_render().
 *
 * Thread safety: registration, series look-up, updates and publication belong
 * to one writer thread; fs_metrics_render() may run on any other thread at the
 * same time. Families and series live until fs_metrics_free().
 */
#ifndef FS_DETECTOR_METRICS_H
#define FS_DETECTOR_METRICS_H

#include <stddef.h>

typedef struct fs_metrics fs_metrics_t;
typedef struct fs_metric fs_metric_t; /* one family: a name, a type, label names */

/* Most labels per family. */
#define FS_METRICS_MAX_LABELS 4
/* Most finite bucket bounds per histogram (+Inf is implicit). */
#define FS_METRICS_MAX_BOUNDS 32

/* Return codes of fs_metrics_publish. */
#define FS_METRICS_PUBLISHED 0
#define FS_METRICS_BUSY      1    /* a scrape held the snapshot: nothing copied, try next turn */
#define FS_METRICS_NOMEM     (-1) /* retriable: part of the snapshot is older */

/* The content type of fs_metrics_render's output. */
#define FS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* An empty registry, or NULL on out of memory. */
fs_metrics_t *fs_metrics_new(void);

/* Frees the registry and every family. Accepts NULL. No render may run. */
void fs_metrics_free(fs_metrics_t *m);

/*
 * Registers a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be new to
 * the registry; help is any text (copied; rendered with '\' and newlines
 * escaped); labels is a NULL-terminated array of at most FS_METRICS_MAX_LABELS
 * names matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (copied; NULL
 * for none). A family without labels has one series, id 0, from the start.
 * Histograms take bounds[0..n_bounds) (copied), finite and strictly
 * increasing, at most FS_METRICS_MAX_BOUNDS; the +Inf bucket is added, and
 * "le" is not allowed as a label name.
 *
 * Returns the family (owned by the registry), or NULL for an invalid
 * argument or out of memory. Briefly takes the snapshot mutex (waits for a
 * running render): register at startup, not in the hot path.
 */
fs_metric_t *fs_metrics_counter(fs_metrics_t *m, const char *name, const char *help,
                                const char *const *labels);
fs_metric_t *fs_metrics_gauge(fs_metrics_t *m, const char *name, const char *help,
                              const char *const *labels);
fs_metric_t *fs_metrics_histogram(fs_metrics_t *m, const char *name, const char *help,
                                  const char *const *labels, const double *bounds, size_t n_bounds);

/*
 * The id of the series whose label values are values[0..n_labels) (copied
 * when new; any UTF-8 text, escaped when rendered), created at 0 on first
 * use, and shown again if it was hidden. Returns -1 on out of memory or when
 * f is NULL. Linear in the family's series: keep the id of a hot series.
 */
int fs_metric_series(fs_metric_t *f, const char *const *values);

/*
 * Updates a series. All of them accept f == NULL or id < 0 (nothing
 * happens), so a failed look-up never needs a branch at the call site, and
 * all of them show a hidden series again.
 *   set:     counters and gauges: the value (a counter's caller keeps it
 *            monotonic, e.g. a total read from elsewhere);
 *   add:     counters (delta >= 0) and gauges;
 *   observe: histograms: counts value in the first bucket whose bound is
 *            >= value, adds it to the sum and 1 to the count.
 */
void fs_metric_set(fs_metric_t *f, int id, double value);
void fs_metric_add(fs_metric_t *f, int id, double delta);
void fs_metric_observe(fs_metric_t *f, int id, double value);

/* Hides a series (not rendered) and zeroes it, e.g. for a partition that was
 * revoked; fs_metric_hide_all hides every series of the family. The id stays
 * valid and comes back with the next update or look-up. */
void fs_metric_hide(fs_metric_t *f, int id);
void fs_metric_hide_all(fs_metric_t *f);

/*
 * Copies every family's current numbers into the snapshot that renders
 * read. Never waits: returns FS_METRICS_BUSY when a render holds the
 * snapshot. Writer thread only.
 */
int fs_metrics_publish(fs_metrics_t *m);

/*
 * Renders the last published snapshot: for each family in registration
 * order its # HELP and # TYPE lines, then its visible series in creation
 * order (histograms as cumulative _bucket{le=...} lines, _sum and _count).
 * Returns a NUL-terminated string that the caller frees with free(), its
 * length in *len, or NULL on out of memory. Thread safe against the writer.
 * If the writer's last publication was skipped because of a render, waits up
 * to 250 ms for it to publish before reading the snapshot.
 */
char *fs_metrics_render(fs_metrics_t *m, size_t *len);

/*
 * Formats a sample value as Prometheus reads it into buf (at least 32
 * bytes): integers without a fraction, others in the shortest form that reads
 * back exactly, and NaN, +Inf, -Inf. Returns buf.
 */
const char *fs_metrics_format_value(double value, char *buf, size_t size);

#endif
