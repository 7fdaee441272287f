/*
 * http.c: the monitoring endpoint on libmicrohttpd (see http.h).
 *
 * libmicrohttpd runs one internal thread that accepts, reads and answers
 * every connection. A scrape renders the metrics snapshot on that thread;
 * readiness is a pointer to a static reason string swapped atomically by the
 * daemon. libmicrohttpd's own errors go to the daemon's log.
 */
#include "detector/http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "detector/log.h"

struct fs_http {
    struct MHD_Daemon *mhd;
    fs_metrics_t *metrics;
    _Atomic(const char *) not_ready; /* NULL when ready */
    int port;
    /* While MHD_start_daemon runs (on the caller's thread), its messages
     * are kept here for the caller's error instead of being logged. */
    _Atomic int starting;
    char start_error[512];
};

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    fs_http_t *http = cls;
    char msg[512], q[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* libmicrohttpd ends its messages with a newline. */
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (http->starting) {
        if (!http->start_error[0])
            snprintf(http->start_error, sizeof http->start_error, "%s", msg);
        return;
    }
    fs_log(FS_LOG_WARN, "http_error", "message=%s", fs_log_quote(msg, q, sizeof q));
}

/* Queues a response and drops our reference to it. */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
                              struct MHD_Response *response, const char *content_type)
{
    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    return answer(conn, status, r, "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    fs_http_t *http = cls;
    (void)version;
    (void)upload_data;
    (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        /* A request body is ignored; answer once it has been read. */
        if (*upload_data_size) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(
            strlen("method not allowed\n"), (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
        if (r)
            MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r, "text/plain; charset=utf-8");
    }
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *text = fs_metrics_render(http->metrics, &len);
        if (!text)
            return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!r)
            free(text);
        return answer(conn, MHD_HTTP_OK, r, FS_METRICS_CONTENT_TYPE);
    }
    if (strcmp(url, "/healthz") == 0)
        return answer_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        const char *reason = atomic_load(&http->not_ready);
        char body[256];
        if (!reason)
            return answer_text(conn, MHD_HTTP_OK, "ready\n");
        snprintf(body, sizeof body, "%s\n", reason);
        return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found (try /metrics, /healthz, /readyz)\n");
}

/* Splits "HOST:PORT" or "[V6]:PORT" and resolves it for listening. */
static struct addrinfo *resolve(const char *address, char *err, size_t err_size)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    if (address[0] == '/') {
        snprintf(err, err_size, "'%s': a Unix socket path is not supported (use HOST:PORT)",
                 address);
        return NULL;
    }
    if (!colon || colon == address || !colon[1]) {
        snprintf(err, err_size, "'%s' is not HOST:PORT", address);
        return NULL;
    }
    size_t n = (size_t)(colon - address);
    const char *h = address;
    if (address[0] == '[') {
        if (n < 3 || address[n - 1] != ']') {
            snprintf(err, err_size, "'%s': a bracketed IPv6 address must end with ']:PORT'",
                     address);
            return NULL;
        }
        h++;
        n -= 2;
    }
    if (n >= sizeof host) {
        snprintf(err, err_size, "'%s': host name too long", address);
        return NULL;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_size, "'%s': %s", address, gai_strerror(rc));
        return NULL;
    }
    return res;
}

fs_http_t *fs_http_new(const char *address, fs_metrics_t *metrics, char *err, size_t err_size)
{
    fs_http_t *http = calloc(1, sizeof *http);
    struct addrinfo *ai = NULL;
    if (!http) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    http->metrics = metrics;
    atomic_init(&http->not_ready, "starting");
    if (!(ai = resolve(address, err, err_size)))
        goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The server's thread inherits this mask: it takes no signal, so
     * SIGTERM and SIGINT reach the daemon's thread and wake it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    http->starting = 1;
    /* The port argument only names the port in libmicrohttpd's messages (the
     * address says where to listen); the logger must be the first option to
     * catch every message. */
    uint16_t port = ai->ai_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_port)
                        : ntohs(((struct sockaddr_in *)(void *)ai->ai_addr)->sin_port);
    http->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, http,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, http, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!http->mhd) {
        snprintf(err, err_size, "cannot listen on %s: %s", address,
                 http->start_error[0] ? http->start_error : "libmicrohttpd refused to start");
        goto fail;
    }
    http->starting = 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info ? info->port : 0;
    freeaddrinfo(ai);
    return http;
fail:
    if (ai)
        freeaddrinfo(ai);
    fs_http_free(http);
    return NULL;
}

void fs_http_free(fs_http_t *http)
{
    if (!http)
        return;
    if (http->mhd)
        MHD_stop_daemon(http->mhd);
    free(http);
}

void fs_http_set_ready(fs_http_t *http, const char *reason)
{
    if (http)
        atomic_store(&http->not_ready, reason);
}

int fs_http_port(const fs_http_t *http)
{
    return http ? http->port : 0;
}
