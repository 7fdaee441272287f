/*
 * http.h: foreshock's HTTP endpoint for monitoring (libmicrohttpd, one
 * thread of its own):
 *
 *   GET /metrics   the registry's last published snapshot, Prometheus text
 *   GET /healthz   200 "ok" while the process runs
 *   GET /readyz    200 "ready", or 503 with a one-line reason
 *
 * HEAD works on all three; other methods get 405, other paths 404. The
 * server never calls into the daemon: the daemon publishes metrics with
 * fs_metrics_publish() and readiness with fs_http_set_ready(), neither of
 * which waits for a request in progress.
 */
#ifndef FS_DETECTOR_HTTP_H
#define FS_DETECTOR_HTTP_H

#include <stddef.h>

#include "detector/metrics.h"

typedef struct fs_http fs_http_t;

/*
 * Listens on address, "HOST:PORT" (HOST a name, an IPv4 address or a
 * bracketed IPv6 address such as [::1]), and serves metrics (borrowed: must
 * outlive the server; rendered on the server's thread). Readiness starts as
 * not ready with the reason "starting". The server's thread blocks every
 * signal, so signals reach the daemon's thread. Returns NULL with the reason
 * in err (bad address, address in use, out of memory).
 */
fs_http_t *fs_http_new(const char *address, fs_metrics_t *metrics, char *err, size_t err_size);

/* Stops the server (waits for its thread) and frees it. Accepts NULL. */
void fs_http_free(fs_http_t *http);

/*
 * Sets what /readyz answers: NULL for ready (200), or the reason for 503.
 * reason must have static storage duration (a string literal): the server
 * reads it later, on its own thread. Thread safe and wait-free.
 */
void fs_http_set_ready(fs_http_t *http, const char *reason);

/* The port the server listens on. */
int fs_http_port(const fs_http_t *http);

#endif
