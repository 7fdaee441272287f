/*
 * alertmanager.c: forwarding alert messages to Prometheus Alertmanager (see
 * alertmanager.h).
 *
 * The flow, in one thread: the Kafka consumer hands over messages of
 * topics.alerts. Each assigned partition is read from its beginning:
 * messages before the offset the group had committed are replayed (they only
 * rebuild the firing set: an earlier run posted them), later ones are live
 * and join a FIFO queue. The rebuilt alerts are held back until the
 * partition has been read up to where it ended at assignment, so a live
 * `resolved` message that was waiting there is posted before its alert could
 * be posted as firing again.
 * The loop posts the head of the queue in batches; when a batch is accepted,
 * its alerts update the firing set and its offsets become committable, so a
 * committed offset always means "everything before it reached Alertmanager".
 * A batch Alertmanager rejects as bad (400, 422...) is split and posted alert
 * by alert, so one poison message is logged and skipped without taking its
 * neighbours along. While the queue is empty, firing alerts due for a re-post
 * go out in batches. Failures that retrying can cure back off exponentially,
 * and nothing moves past them.
 */
#include "detector/alertmanager.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "detector/kafka_conf.h"
#include "detector/log.h"
#include "detector/timestamp.h"

/* ---- a strict JSON scanner, enough to validate a message and copy its fields --- */

#define JSON_MAX_DEPTH 64

typedef struct span {
    const char *p;
    size_t len;
} span_t;

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"'; returns the position after the closing quote, or NULL. */
static const char *scan_string(const char *p, const char *end)
{
    for (p++; p < end;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c != '\\') {
            p++;
            continue;
        }
        if (++p >= end)
            return NULL;
        if (*p == 'u') {
            if (end - p < 5)
                return NULL;
            for (int i = 1; i <= 4; i++)
                if (!isxdigit((unsigned char)p[i]))
                    return NULL;
            p += 5;
        } else if (strchr("\"\\/bfnrt", *p) && *p != '\0') {
            p++;
        } else {
            return NULL;
        }
    }
    return NULL;
}

static const char *scan_digits(const char *p, const char *end)
{
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > start ? p : NULL;
}

static const char *scan_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = scan_digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = scan_digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!(p = scan_digits(p, end)))
            return NULL;
    }
    return p;
}

static const char *scan_value(const char *p, const char *end, int depth);

/* p at '{' or '['; returns the position after the closing bracket. */
static const char *scan_container(const char *p, const char *end, int depth)
{
    char close = *p == '{' ? '}' : ']';
    int object = *p == '{';
    if (depth >= JSON_MAX_DEPTH)
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (object) {
            if (p >= end || *p != '"' || !(p = scan_string(p, end)))
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
        }
        if (!(p = scan_value(p, end, depth + 1)))
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        return p < end && *p == close ? p + 1 : NULL;
    }
}

/* p at the first byte of a value (no leading space); returns its end. */
static const char *scan_value(const char *p, const char *end, int depth)
{
    static const char *const literals[] = {"true", "false", "null"};
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{':
    case '[':
        return scan_container(p, end, depth);
    case '"':
        return scan_string(p, end);
    case 't':
    case 'f':
    case 'n':
        for (size_t i = 0; i < 3; i++) {
            size_t n = strlen(literals[i]);
            if ((size_t)(end - p) >= n && memcmp(p, literals[i], n) == 0)
                return p + n;
        }
        return NULL;
    default:
        return scan_number(p, end);
    }
}

/* Members of an object already validated by scan_value. */
typedef struct members {
    const char *p, *end;
} members_t;

static void members_begin(members_t *it, span_t object)
{
    it->p = object.p + 1;
    it->end = object.p + object.len;
}

/* The next member's key (with its quotes) and value. Returns 0 at the end. */
static int members_next(members_t *it, span_t *key, span_t *value)
{
    const char *p = skip_ws(it->p, it->end);
    if (p < it->end && *p == ',')
        p = skip_ws(p + 1, it->end);
    if (p >= it->end || *p != '"')
        return 0;
    key->p = p;
    p = scan_string(p, it->end);
    key->len = (size_t)(p - key->p);
    p = skip_ws(p, it->end);
    p = skip_ws(p + 1, it->end); /* ':' */
    value->p = p;
    p = scan_value(p, it->end, 0);
    value->len = (size_t)(p - value->p);
    it->p = p;
    return 1;
}

static int span_is(span_t s, const char *text)
{
    size_t n = strlen(text);
    return s.p && s.len == n && memcmp(s.p, text, n) == 0;
}

/* A string value whose content has no escapes: sets *inner to the content. */
static int plain_string(span_t s, span_t *inner)
{
    if (!s.p || s.len < 2 || s.p[0] != '"' || memchr(s.p, '\\', s.len))
        return 0;
    inner->p = s.p + 1;
    inner->len = s.len - 2;
    return 1;
}

/* An object whose values are all strings, with at least min members. */
static int string_object(span_t s, size_t min)
{
    members_t it;
    span_t key, value;
    size_t n = 0;
    if (!s.p || s.p[0] != '{')
        return 0;
    members_begin(&it, s);
    while (members_next(&it, &key, &value)) {
        if (value.p[0] != '"')
            return 0;
        n++;
    }
    return n >= min;
}

static int timestamp_string(span_t s)
{
    span_t inner;
    int64_t ms;
    return plain_string(s, &inner) && fs_timestamp_parse(inner.p, inner.len, &ms) == 0;
}

/* ---- one alert message ------------------------------------------------------- */

void fs_am_alert_clear(fs_am_alert_t *alert)
{
    if (!alert)
        return;
    free(alert->element);
    memset(alert, 0, sizeof *alert);
}

/* Appends n bytes to the element under construction (sized in advance). */
static void put(char *buf, size_t *len, const char *s, size_t n)
{
    memcpy(buf + *len, s, n);
    *len += n;
}

#define PUT_LIT(buf, len, lit) put(buf, len, lit, sizeof lit - 1)

int fs_am_alert_parse(const char *msg, size_t len, fs_am_alert_t *out, char *err, size_t err_size)
{
    const char *end = msg + len;
    const char *reason = NULL;
    span_t fingerprint = {0}, status = {0}, labels = {0}, annotations = {0}, starts = {0},
           ends = {0}, generator = {0}, key, value, inner;
    members_t it;

    memset(out, 0, sizeof *out);
    const char *p = skip_ws(msg, end);
    if (p >= end) {
        reason = "empty message";
        goto fail;
    }
    if (*p != '{') {
        reason = "not a JSON object";
        goto fail;
    }
    const char *after = scan_value(p, end, 0);
    if (!after || skip_ws(after, end) != end) {
        reason = "not valid JSON";
        goto fail;
    }
    span_t object = {p, (size_t)(after - p)};
    members_begin(&it, object);
    while (members_next(&it, &key, &value)) {
        if (span_is(key, "\"fingerprint\""))
            fingerprint = value;
        else if (span_is(key, "\"status\""))
            status = value;
        else if (span_is(key, "\"labels\""))
            labels = value;
        else if (span_is(key, "\"annotations\""))
            annotations = value;
        else if (span_is(key, "\"startsAt\""))
            starts = value;
        else if (span_is(key, "\"endsAt\""))
            ends = value;
        else if (span_is(key, "\"generatorURL\""))
            generator = value;
    }

    /* Identity and status first: even a broken message may resolve. */
    if (plain_string(fingerprint, &inner) && inner.len > 0 && inner.len <= FS_AM_FINGERPRINT_MAX) {
        int printable = 1;
        for (size_t i = 0; i < inner.len; i++)
            printable &= inner.p[i] > ' ' && inner.p[i] < 0x7f;
        if (printable) {
            memcpy(out->fingerprint, inner.p, inner.len);
            out->fingerprint[inner.len] = '\0';
        }
    }
    if (span_is(status, "\"firing\"") || span_is(status, "\"resolved\"")) {
        out->status_known = 1;
        out->firing = span_is(status, "\"firing\"");
    }
    if (!out->fingerprint[0])
        reason = "fingerprint missing or not a string of 1 to 64 printable characters";
    else if (!out->status_known)
        reason = "status is not \"firing\" or \"resolved\"";
    else if (!string_object(labels, 1))
        reason = "labels missing, empty or not an object of strings";
    else if (annotations.p && !span_is(annotations, "null") && !string_object(annotations, 0))
        reason = "annotations is not an object of strings";
    else if (!timestamp_string(starts))
        reason = "startsAt missing or not an RFC 3339 time";
    else if (!out->firing && !timestamp_string(ends))
        reason = "a resolved alert needs endsAt as an RFC 3339 time";
    if (reason)
        goto fail;
    if (annotations.p && annotations.p[0] != '{')
        annotations.p = NULL;
    if (generator.p && generator.p[0] != '"')
        generator.p = NULL;

    size_t cap = 96 + labels.len + starts.len;
    cap += annotations.p ? annotations.len : 0;
    cap += out->firing ? 0 : ends.len;
    cap += generator.p ? generator.len : 0;
    char *buf = malloc(cap);
    size_t n = 0;
    if (!buf) {
        reason = "out of memory";
        goto fail;
    }
    PUT_LIT(buf, &n, "{\"labels\":");
    put(buf, &n, labels.p, labels.len);
    if (annotations.p) {
        PUT_LIT(buf, &n, ",\"annotations\":");
        put(buf, &n, annotations.p, annotations.len);
    }
    PUT_LIT(buf, &n, ",\"startsAt\":");
    put(buf, &n, starts.p, starts.len);
    if (!out->firing) {
        PUT_LIT(buf, &n, ",\"endsAt\":");
        put(buf, &n, ends.p, ends.len);
    }
    if (generator.p) {
        PUT_LIT(buf, &n, ",\"generatorURL\":");
        put(buf, &n, generator.p, generator.len);
    }
    PUT_LIT(buf, &n, "}");
    buf[n] = '\0';
    out->element = buf;
    out->element_len = n;
    return 0;
fail:
    snprintf(err, err_size, "%s", reason);
    return -1;
}

char *fs_am_payload_new(const char *const *elements, const size_t *lens, size_t n, size_t *len)
{
    size_t total = 3;
    for (size_t i = 0; i < n; i++)
        total += lens[i] + 1;
    char *buf = malloc(total);
    size_t used = 0;
    if (!buf)
        return NULL;
    buf[used++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf[used++] = ',';
        memcpy(buf + used, elements[i], lens[i]);
        used += lens[i];
    }
    buf[used++] = ']';
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* ---- the firing set ---------------------------------------------------------- */

/* A handful to a few thousand alerts fire at once: a flat array searched
 * linearly is fast enough and keeps removal trivial. */
typedef struct entry {
    char fingerprint[FS_AM_FINGERPRINT_MAX + 1];
    int32_t partition;
    int64_t next_ms;
    char *element;
    size_t element_len;
} entry_t;

struct fs_am_firing {
    entry_t *entries;
    size_t n, cap;
    int64_t resend_ms;
};

fs_am_firing_t *fs_am_firing_new(int64_t resend_ms)
{
    fs_am_firing_t *set = calloc(1, sizeof *set);
    if (set)
        set->resend_ms = resend_ms;
    return set;
}

void fs_am_firing_free(fs_am_firing_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        free(set->entries[i].element);
    free(set->entries);
    free(set);
}

static entry_t *find_entry(const fs_am_firing_t *set, const char *fingerprint)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->entries[i].fingerprint, fingerprint) == 0)
            return &set->entries[i];
    return NULL;
}

static void remove_at(fs_am_firing_t *set, size_t i)
{
    free(set->entries[i].element);
    set->entries[i] = set->entries[--set->n];
}

int fs_am_firing_forget(fs_am_firing_t *set, const char *fingerprint)
{
    entry_t *e = find_entry(set, fingerprint);
    if (!e)
        return 0;
    remove_at(set, (size_t)(e - set->entries));
    return 1;
}

int fs_am_firing_apply(fs_am_firing_t *set, int32_t partition, const fs_am_alert_t *alert,
                       int64_t next_post_ms)
{
    if (!alert->firing) {
        fs_am_firing_forget(set, alert->fingerprint);
        return 0;
    }
    char *element = malloc(alert->element_len + 1);
    if (!element)
        return -1;
    memcpy(element, alert->element, alert->element_len + 1);
    entry_t *e = find_entry(set, alert->fingerprint);
    if (!e) {
        if (set->n == set->cap) {
            size_t cap = set->cap ? 2 * set->cap : 64;
            entry_t *grown = realloc(set->entries, cap * sizeof *grown);
            if (!grown) {
                free(element);
                return -1;
            }
            set->entries = grown;
            set->cap = cap;
        }
        e = &set->entries[set->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->fingerprint, sizeof e->fingerprint, "%s", alert->fingerprint);
    }
    free(e->element);
    e->element = element;
    e->element_len = alert->element_len;
    e->partition = partition;
    e->next_ms = next_post_ms;
    return 0;
}

void fs_am_firing_drop_partition(fs_am_firing_t *set, int32_t partition)
{
    for (size_t i = 0; i < set->n;) {
        if (set->entries[i].partition == partition)
            remove_at(set, i);
        else
            i++;
    }
}

void fs_am_firing_release(fs_am_firing_t *set, int32_t partition, int64_t now_ms)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->entries[i].partition == partition && set->entries[i].next_ms == FS_AM_HELD)
            set->entries[i].next_ms = now_ms;
}

size_t fs_am_firing_count(const fs_am_firing_t *set)
{
    return set->n;
}

int fs_am_firing_contains(const fs_am_firing_t *set, const char *fingerprint)
{
    return find_entry(set, fingerprint) != NULL;
}

size_t fs_am_firing_due(const fs_am_firing_t *set, int64_t now_ms, fs_am_due_t *out, size_t max)
{
    /* Insertion into out, kept sorted by due time, keeps the max most overdue. */
    int64_t due_ms[64];
    size_t n = 0;
    if (max > sizeof due_ms / sizeof due_ms[0])
        max = sizeof due_ms / sizeof due_ms[0];
    for (size_t i = 0; i < set->n && max > 0; i++) {
        const entry_t *e = &set->entries[i];
        if (e->next_ms == FS_AM_HELD || e->next_ms > now_ms)
            continue;
        if (n == max && e->next_ms >= due_ms[n - 1])
            continue;
        size_t j = n < max ? n++ : n - 1;
        while (j > 0 && due_ms[j - 1] > e->next_ms) {
            due_ms[j] = due_ms[j - 1];
            out[j] = out[j - 1];
            j--;
        }
        due_ms[j] = e->next_ms;
        out[j].fingerprint = e->fingerprint;
        out[j].element = e->element;
        out[j].element_len = e->element_len;
    }
    return n;
}

void fs_am_firing_posted(fs_am_firing_t *set, const char *fingerprint, int64_t now_ms)
{
    entry_t *e = find_entry(set, fingerprint);
    if (e)
        e->next_ms = now_ms + set->resend_ms;
}

int64_t fs_am_firing_next_due(const fs_am_firing_t *set)
{
    int64_t next = FS_AM_HELD;
    for (size_t i = 0; i < set->n; i++)
        if (set->entries[i].next_ms < next)
            next = set->entries[i].next_ms;
    return next;
}

/* ---- retries ------------------------------------------------------------------ */

int64_t fs_am_backoff_fail(fs_am_backoff_t *b)
{
    if (b->next_ms < FS_AM_BACKOFF_MIN_MS)
        b->next_ms = FS_AM_BACKOFF_MIN_MS;
    int64_t delay = b->next_ms;
    b->next_ms = delay >= FS_AM_BACKOFF_MAX_MS / 2 ? FS_AM_BACKOFF_MAX_MS : 2 * delay;
    b->failures++;
    return delay;
}

void fs_am_backoff_reset(fs_am_backoff_t *b)
{
    b->next_ms = 0;
    b->failures = 0;
}

fs_am_outcome_t fs_am_classify(int answered, long status)
{
    if (!answered)
        return FS_AM_RETRY;
    if (status >= 200 && status <= 299)
        return FS_AM_POSTED;
    switch (status) {
    case 401: /* the credentials, */
    case 403:
    case 407:
    case 404: /* or the URL are wrong: fixing the configuration cures it */
    case 405:
    case 408: /* request timeout */
    case 425: /* too early */
    case 429: /* too many requests */
        return FS_AM_RETRY;
    default:
        return status >= 400 && status <= 499 ? FS_AM_REJECTED : FS_AM_RETRY;
    }
}

/* ---- posting with libcurl ---------------------------------------------------------- */

#define RESPONSE_KEEP 2048

struct fs_am_client {
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    char errbuf[CURL_ERROR_SIZE];
    char response[RESPONSE_KEEP];
    size_t response_len;
};

int fs_am_url_check(const char *url, char *reason, size_t reason_size)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *query = NULL, *fragment = NULL;
    int rc = -1;
    if (!u) {
        snprintf(reason, reason_size, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        snprintf(reason, reason_size, "not a URL like http://HOST:PORT (%s)",
                 curl_url_strerror(uc));
        goto done;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(reason, reason_size, "the URL must start with http:// or https://");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        snprintf(reason, reason_size, "the URL has no host");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK) {
        snprintf(reason, reason_size,
                 "the URL must not have a query or fragment (" FS_AM_ALERTS_PATH
                 " is appended to it)");
        goto done;
    }
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return rc;
}

static size_t on_response(char *data, size_t size, size_t nmemb, void *opaque)
{
    fs_am_client_t *client = opaque;
    size_t n = size * nmemb, room = RESPONSE_KEEP - 1 - client->response_len;
    memcpy(client->response + client->response_len, data, n < room ? n : room);
    client->response_len += n < room ? n : room;
    return n;
}

void fs_am_client_free(fs_am_client_t *client)
{
    if (!client)
        return;
    if (client->curl)
        curl_easy_cleanup(client->curl);
    curl_slist_free_all(client->headers);
    free(client->url);
    free(client);
}

fs_am_client_t *fs_am_client_new(const char *base_url, int64_t timeout_ms, char *err,
                                 size_t err_size)
{
    fs_am_client_t *client = calloc(1, sizeof *client);
    size_t base_len = strlen(base_url);
    struct curl_slist *grown;
    if (!client)
        goto oom;
    if (fs_am_url_check(base_url, err, err_size) != 0)
        goto fail;
    while (base_len > 0 && base_url[base_len - 1] == '/')
        base_len--;
    client->url = malloc(base_len + sizeof FS_AM_ALERTS_PATH);
    if (!client->url)
        goto oom;
    memcpy(client->url, base_url, base_len);
    memcpy(client->url + base_len, FS_AM_ALERTS_PATH, sizeof FS_AM_ALERTS_PATH);
    /* No "Expect: 100-continue" round trip for larger bodies. */
    if (!(grown = curl_slist_append(NULL, "Content-Type: application/json")))
        goto oom;
    client->headers = grown;
    if (!(grown = curl_slist_append(client->headers, "Expect:")))
        goto oom;
    client->headers = grown;
    if (!(client->curl = curl_easy_init()))
        goto oom;
    CURL *c = client->curl;
    /* librdkafka runs threads: curl must not use signals for its timeouts. */
    if (curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(c, CURLOPT_URL, client->url) ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, client->headers) ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms) ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms) ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, client->errbuf) ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_response) ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, client) ||
        curl_easy_setopt(c, CURLOPT_USERAGENT, "foreshock-alertmanager") ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) {
        snprintf(err, err_size, "libcurl refused an option");
        goto fail;
    }
    return client;
oom:
    snprintf(err, err_size, "out of memory");
fail:
    fs_am_client_free(client);
    return NULL;
}

fs_am_outcome_t fs_am_client_post(fs_am_client_t *client, const char *body, size_t len,
                                  long *status, char *detail, size_t detail_size)
{
    CURL *c = client->curl;
    client->errbuf[0] = '\0';
    client->response_len = 0;
    *status = 0;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(detail, detail_size, "%s",
                 client->errbuf[0] ? client->errbuf : curl_easy_strerror(rc));
        return fs_am_classify(0, 0);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    client->response[client->response_len] = '\0';
    /* Alertmanager's error bodies end with a newline; keep the log line tidy. */
    while (client->response_len > 0 &&
           isspace((unsigned char)client->response[client->response_len - 1]))
        client->response[--client->response_len] = '\0';
    snprintf(detail, detail_size, "%s", client->response);
    return fs_am_classify(1, *status);
}

/* ---- the program ---------------------------------------------------------------- */

#define LIVE_BATCH_MAX   64
#define RESEND_BATCH_MAX 64
#define BATCH_BYTES_MAX  (1 << 20)
#define QUEUE_PAUSE_AT   1024
#define QUEUE_RESUME_AT  256
#define POLL_MAX         256
#define KAFKA_TIMEOUT_MS 10000
#define KAFKA_TRIES      3

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One live message waiting for its post. */
typedef struct queued {
    int32_t partition;
    int64_t offset;
    fs_am_alert_t alert; /* alert.element == NULL: invalid, skipped at the head */
    char reason[128];
    int tombstone; /* a null value (compacted topic): skipped without a word */
} queued_t;

/* One assigned partition of topics.alerts. */
typedef struct part {
    int32_t partition;
    int64_t live_from;      /* first offset to post; earlier ones are replayed */
    int64_t catch_up_to;    /* high watermark at assignment */
    int rebuilding;         /* not read up to catch_up_to yet: replayed alerts held */
    int64_t done_next;      /* offset after the last message finished (posted or skipped) */
    int64_t committed_next; /* what the group holds (-1: nothing) */
} part_t;

typedef struct fwd {
    const fs_config_t *cfg;
    rd_kafka_t *rk;
    fs_am_client_t *client;
    fs_am_firing_t *firing;
    part_t *parts;
    size_t n_parts, cap_parts;
    queued_t *queue;
    size_t q_head, q_end, q_cap; /* live entries are [q_head, q_end) */
    int paused;
    int fatal;
    fs_am_backoff_t backoff;
    int64_t retry_at;
    int64_t commit_retry_at; /* after a failed commit, the next try waits until then */
    int down;
    int64_t down_since;
    unsigned long long posted, reposted, rejected, invalid;
} fwd_t;

static size_t queue_len(const fwd_t *f)
{
    return f->q_end - f->q_head;
}

static part_t *find_part(fwd_t *f, int32_t partition)
{
    for (size_t i = 0; i < f->n_parts; i++)
        if (f->parts[i].partition == partition)
            return &f->parts[i];
    return NULL;
}

static int queue_push(fwd_t *f, queued_t *q)
{
    if (f->q_end == f->q_cap) {
        if (f->q_head > 0) {
            memmove(f->queue, f->queue + f->q_head, queue_len(f) * sizeof *f->queue);
            f->q_end -= f->q_head;
            f->q_head = 0;
        } else {
            size_t cap = f->q_cap ? 2 * f->q_cap : 256;
            queued_t *grown = realloc(f->queue, cap * sizeof *grown);
            if (!grown)
                return -1;
            f->queue = grown;
            f->q_cap = cap;
        }
    }
    f->queue[f->q_end++] = *q;
    return 0;
}

/* The head message is finished (posted or skipped): its offset may be committed. */
static void queue_pop(fwd_t *f)
{
    queued_t *q = &f->queue[f->q_head++];
    part_t *p = find_part(f, q->partition);
    if (p && q->offset + 1 > p->done_next)
        p->done_next = q->offset + 1;
    fs_am_alert_clear(&q->alert);
    if (f->q_head == f->q_end)
        f->q_head = f->q_end = 0;
}

static void queue_clear(fwd_t *f)
{
    for (size_t i = f->q_head; i < f->q_end; i++)
        fs_am_alert_clear(&f->queue[i].alert);
    f->q_head = f->q_end = 0;
}

/* Commits every partition's done_next that the group does not hold yet. */
static void commit(fwd_t *f, int sync)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (!sync && mono_ms() < f->commit_retry_at)
        return;
    for (size_t i = 0; i < f->n_parts; i++) {
        part_t *p = &f->parts[i];
        if (p->done_next < 0 || p->done_next == p->committed_next)
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new((int)f->n_parts);
        rd_kafka_topic_partition_list_add(list, f->cfg->topics_alerts, p->partition)->offset =
            p->done_next;
    }
    if (!list)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(f->rk, list, !sync);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        fs_log(FS_LOG_WARN, "commit_failed", "reason=\"%s\"", rd_kafka_err2str(e));
        f->commit_retry_at = mono_ms() + 1000;
    } else {
        /* An asynchronous commit that fails later is reported to on_commit,
         * which marks the partitions for another try. */
        for (int i = 0; i < list->cnt; i++) {
            part_t *p = find_part(f, list->elems[i].partition);
            if (p)
                p->committed_next = list->elems[i].offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* The partition was read up to where it ended at assignment: its replayed
 * firing alerts are due now (behind any live message still queued). */
static void finish_rebuild(fwd_t *f, part_t *p)
{
    if (!p->rebuilding)
        return;
    p->rebuilding = 0;
    fs_am_firing_release(f->firing, p->partition, mono_ms());
    fs_log(FS_LOG_INFO, "rebuild_done", "partition=%d live_from=%lld read_to=%lld firing=%zu",
           (int)p->partition, (long long)p->live_from, (long long)p->catch_up_to,
           fs_am_firing_count(f->firing));
}

static void note_failure(fwd_t *f, long status, const char *detail, size_t n_alerts)
{
    char q[1024];
    int64_t delay = fs_am_backoff_fail(&f->backoff);
    int64_t now = mono_ms();
    f->retry_at = now + delay;
    if (!f->down) {
        f->down = 1;
        f->down_since = now;
        fs_log(FS_LOG_WARN, "alertmanager_unavailable",
               "url=%s status=%ld reason=%s alerts=%zu retry_in_ms=%lld", f->cfg->alertmanager_url,
               status, fs_log_quote(detail, q, sizeof q), n_alerts, (long long)delay);
    } else {
        fs_log(FS_LOG_DEBUG, "alertmanager_retry",
               "status=%ld reason=%s attempts=%lld retry_in_ms=%lld", status,
               fs_log_quote(detail, q, sizeof q), (long long)f->backoff.failures, (long long)delay);
    }
}

static void note_success(fwd_t *f)
{
    if (f->down) {
        fs_log(FS_LOG_INFO, "alertmanager_available", "url=%s down_ms=%lld failed_attempts=%lld",
               f->cfg->alertmanager_url, (long long)(mono_ms() - f->down_since),
               (long long)f->backoff.failures);
        f->down = 0;
    }
    fs_am_backoff_reset(&f->backoff);
    f->retry_at = 0;
}

static fs_am_outcome_t post(fwd_t *f, const char *const *elements, const size_t *lens, size_t n,
                            long *status, char *detail, size_t detail_size)
{
    size_t len;
    char *payload = fs_am_payload_new(elements, lens, n, &len);
    if (!payload) {
        snprintf(detail, detail_size, "out of memory");
        *status = 0;
        return FS_AM_RETRY;
    }
    fs_am_outcome_t outcome =
        fs_am_client_post(f->client, payload, len, status, detail, detail_size);
    free(payload);
    return outcome;
}

/*
 * Posts the first n messages of the queue (all valid). Accepted: the firing
 * set learns them and they leave the queue. Rejected: a single message is
 * logged and skipped; a batch stays for the caller to split.
 */
static fs_am_outcome_t post_head(fwd_t *f, size_t n)
{
    const char *elements[LIVE_BATCH_MAX] = {0};
    size_t lens[LIVE_BATCH_MAX] = {0};
    char detail[1024], q[1200];
    long status;
    for (size_t i = 0; i < n; i++) {
        elements[i] = f->queue[f->q_head + i].alert.element;
        lens[i] = f->queue[f->q_head + i].alert.element_len;
    }
    fs_am_outcome_t outcome = post(f, elements, lens, n, &status, detail, sizeof detail);
    int64_t now = mono_ms();
    if (outcome == FS_AM_RETRY) {
        note_failure(f, status, detail, n);
        return outcome;
    }
    note_success(f);
    if (outcome == FS_AM_REJECTED && n > 1)
        return outcome;
    for (size_t i = 0; i < n; i++) {
        queued_t *m = &f->queue[f->q_head];
        if (outcome == FS_AM_REJECTED) {
            f->rejected++;
            fs_log(FS_LOG_ERROR, "alert_rejected",
                   "fingerprint=%s status=%s partition=%d offset=%lld http_status=%ld body=%s",
                   m->alert.fingerprint, m->alert.firing ? "firing" : "resolved", (int)m->partition,
                   (long long)m->offset, status, fs_log_quote(detail, q, sizeof q));
            if (!m->alert.firing)
                fs_am_firing_forget(f->firing, m->alert.fingerprint);
        } else {
            f->posted++;
            fs_log(FS_LOG_INFO, "alert_posted", "fingerprint=%s status=%s partition=%d offset=%lld",
                   m->alert.fingerprint, m->alert.firing ? "firing" : "resolved", (int)m->partition,
                   (long long)m->offset);
            if (fs_am_firing_apply(f->firing, m->partition, &m->alert,
                                   now + f->cfg->alertmanager_resend_ms) != 0) {
                /* Without it the alert would silently stop being re-posted:
                 * stop uncommitted, and the next start rebuilds the set. */
                fs_log(FS_LOG_ERROR, "out_of_memory", "where=firing_set");
                f->fatal = 1;
                return FS_AM_RETRY;
            }
        }
        queue_pop(f);
    }
    return outcome;
}

/* Posts from the head of the queue: skips invalid messages, then one batch
 * (split message by message if Alertmanager rejects it). */
static void post_live(fwd_t *f)
{
    while (queue_len(f) > 0 && !f->queue[f->q_head].alert.element) {
        queued_t *m = &f->queue[f->q_head];
        char q[256];
        if (m->tombstone) {
            queue_pop(f);
            continue;
        }
        f->invalid++;
        fs_log(FS_LOG_ERROR, "alert_invalid", "partition=%d offset=%lld fingerprint=%s reason=%s",
               (int)m->partition, (long long)m->offset,
               m->alert.fingerprint[0] ? m->alert.fingerprint : "-",
               fs_log_quote(m->reason, q, sizeof q));
        if (m->alert.status_known && !m->alert.firing && m->alert.fingerprint[0])
            fs_am_firing_forget(f->firing, m->alert.fingerprint);
        queue_pop(f);
    }
    size_t n = 0, bytes = 0;
    while (n < LIVE_BATCH_MAX && n < queue_len(f)) {
        const queued_t *m = &f->queue[f->q_head + n];
        if (!m->alert.element || (n > 0 && bytes + m->alert.element_len > BATCH_BYTES_MAX))
            break;
        bytes += m->alert.element_len;
        n++;
    }
    if (n == 0)
        return;
    if (post_head(f, n) == FS_AM_REJECTED && n > 1) {
        for (size_t i = 0; i < n && !f->fatal; i++)
            if (post_head(f, 1) == FS_AM_RETRY)
                break;
    }
}

/* Posts the firing alerts that are due again. */
static void post_due(fwd_t *f, int64_t now)
{
    fs_am_due_t due[RESEND_BATCH_MAX];
    const char *elements[RESEND_BATCH_MAX];
    size_t lens[RESEND_BATCH_MAX];
    char detail[1024], q[1200];
    char forget[RESEND_BATCH_MAX][FS_AM_FINGERPRINT_MAX + 1];
    size_t n_forget = 0;
    long status;
    size_t n = fs_am_firing_due(f->firing, now, due, RESEND_BATCH_MAX);
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        elements[i] = due[i].element;
        lens[i] = due[i].element_len;
    }
    fs_am_outcome_t outcome = post(f, elements, lens, n, &status, detail, sizeof detail);
    if (outcome == FS_AM_RETRY) {
        note_failure(f, status, detail, n);
        return;
    }
    note_success(f);
    if (outcome == FS_AM_POSTED) {
        for (size_t i = 0; i < n; i++)
            fs_am_firing_posted(f->firing, due[i].fingerprint, now);
        f->reposted += n;
        return;
    }
    /* One of them is bad (it passed once, so Alertmanager changed its mind,
     * or it came back from the replay of a message that was rejected):
     * find it alone and stop re-posting it. */
    for (size_t i = 0; i < n; i++) {
        outcome = post(f, &elements[i], &lens[i], 1, &status, detail, sizeof detail);
        if (outcome == FS_AM_RETRY) {
            note_failure(f, status, detail, 1);
            break;
        }
        if (outcome == FS_AM_POSTED) {
            fs_am_firing_posted(f->firing, due[i].fingerprint, now);
            f->reposted++;
            continue;
        }
        f->rejected++;
        fs_log(FS_LOG_ERROR, "alert_rejected",
               "fingerprint=%s status=firing resend=true http_status=%ld body=%s",
               due[i].fingerprint, status, fs_log_quote(detail, q, sizeof q));
        snprintf(forget[n_forget++], sizeof forget[0], "%s", due[i].fingerprint);
    }
    for (size_t i = 0; i < n_forget; i++)
        fs_am_firing_forget(f->firing, forget[i]);
}

/* ---- Kafka ---------------------------------------------------------------------- */

static void assign_partitions(fwd_t *f, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < KAFKA_TRIES; attempt++)
        if (!(e = rd_kafka_committed(rk, parts, KAFKA_TIMEOUT_MS)))
            break;
    if (e) {
        /* Without the committed offsets there is no telling what was posted. */
        fs_log(FS_LOG_ERROR, "committed_offsets_unavailable", "reason=\"%s\"", rd_kafka_err2str(e));
        f->fatal = 1;
        rd_kafka_assign(rk, NULL);
        return;
    }
    f->n_parts = 0;
    if ((size_t)parts->cnt > f->cap_parts) {
        part_t *grown = realloc(f->parts, (size_t)parts->cnt * sizeof *grown);
        if (!grown) {
            fs_log(FS_LOG_ERROR, "out_of_memory", "where=assignment");
            f->fatal = 1;
            rd_kafka_assign(rk, NULL);
            return;
        }
        f->parts = grown;
        f->cap_parts = (size_t)parts->cnt;
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo = 0, hi = 0;
        for (int attempt = 0; attempt < KAFKA_TRIES; attempt++)
            if (!(e = rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi,
                                                       KAFKA_TIMEOUT_MS)))
                break;
        if (e) {
            fs_log(FS_LOG_ERROR, "watermarks_unavailable", "partition=%d reason=\"%s\"",
                   (int)tp->partition, rd_kafka_err2str(e));
            f->fatal = 1;
            rd_kafka_assign(rk, NULL);
            f->n_parts = 0;
            return;
        }
        part_t *p = &f->parts[f->n_parts++];
        p->partition = tp->partition;
        if (tp->offset > hi) {
            /* The topic was deleted and made again: post all it holds
             * rather than skip what lies below the stale offset. */
            fs_log(FS_LOG_WARN, "committed_offset_beyond_end",
                   "partition=%d committed=%lld end=%lld", (int)tp->partition,
                   (long long)tp->offset, (long long)hi);
            p->committed_next = tp->offset;
            p->live_from = p->done_next = lo;
        } else if (tp->offset >= 0) {
            p->live_from = p->done_next = p->committed_next = tp->offset;
        } else {
            /* A new group: what the topic holds now is history. Its firing
             * alerts are rebuilt and posted; the group starts at the end. */
            p->live_from = p->done_next = hi;
            p->committed_next = -1;
        }
        /* Always from the first offset the topic still holds: before
         * live_from to rebuild the firing set, from there on to post. */
        p->catch_up_to = hi;
        p->rebuilding = hi > lo;
        tp->offset = lo;
        fs_log(FS_LOG_INFO, "partition_assigned",
               "partition=%d committed=%lld read_from=%lld live_from=%lld end=%lld",
               (int)tp->partition, (long long)p->committed_next, (long long)lo,
               (long long)p->live_from, (long long)hi);
    }
    rd_kafka_assign(rk, parts);
    f->paused = 0;
    commit(f, 1);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    fwd_t *f = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assign_partitions(f, rk, parts);
        return;
    }
    /* Commit what was posted; the next owner replays up to there and posts
     * the rest, including what is still queued here. */
    commit(f, 1);
    queue_clear(f);
    for (int i = 0; i < parts->cnt; i++)
        fs_am_firing_drop_partition(f->firing, parts->elems[i].partition);
    f->n_parts = 0;
    rd_kafka_assign(rk, NULL);
    fs_log(FS_LOG_INFO, "partitions_revoked", "count=%d", parts->cnt);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    fwd_t *f = opaque;
    (void)rk;
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    fs_log(FS_LOG_WARN, "commit_failed", "reason=\"%s\"", rd_kafka_err2str(err));
    /* Commit again (in a second): done_next is still what was posted. */
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        part_t *p = find_part(f, offsets->elems[i].partition);
        if (p && p->committed_next == offsets->elems[i].offset)
            p->committed_next = -1;
    }
    f->commit_retry_at = mono_ms() + 1000;
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    char q[1024];
    (void)rk;
    fs_log(level <= 3   ? FS_LOG_ERROR
           : level <= 4 ? FS_LOG_WARN
                        : FS_LOG_DEBUG,
           "librdkafka", "facility=%s message=%s", facility, fs_log_quote(buf, q, sizeof q));
}

static void handle_message(fwd_t *f, rd_kafka_message_t *m)
{
    char q[512];
    part_t *p = find_part(f, m->partition);
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p)
                finish_rebuild(f, p);
        } else {
            fs_log(FS_LOG_WARN, "consume_error", "reason=%s",
                   fs_log_quote(rd_kafka_message_errstr(m), q, sizeof q));
        }
        return;
    }
    if (!p)
        return;
    /* Past the end as it was (compaction can leave a gap there). */
    if (p->rebuilding && m->offset >= p->catch_up_to)
        finish_rebuild(f, p);

    queued_t item;
    memset(&item, 0, sizeof item);
    item.partition = m->partition;
    item.offset = m->offset;
    if (!m->payload) {
        /* A tombstone (a compacted alerts topic): nothing to post. */
        item.tombstone = 1;
    } else {
        fs_am_alert_parse(m->payload, m->len, &item.alert, item.reason, sizeof item.reason);
    }

    if (m->offset < p->live_from) {
        if (item.alert.element) {
            if (fs_am_firing_apply(f->firing, p->partition, &item.alert, FS_AM_HELD) != 0) {
                fs_log(FS_LOG_ERROR, "out_of_memory", "where=firing_set");
                f->fatal = 1;
            }
        } else if (item.alert.status_known && !item.alert.firing && item.alert.fingerprint[0]) {
            fs_am_firing_forget(f->firing, item.alert.fingerprint);
        }
        fs_am_alert_clear(&item.alert);
    } else if (queue_push(f, &item) != 0) {
        /* Invalid messages and tombstones are queued too: they are skipped
         * in order, so their offsets are committed with the rest. */
        fs_am_alert_clear(&item.alert);
        fs_log(FS_LOG_ERROR, "out_of_memory", "where=queue");
        f->fatal = 1;
    }
    if (p->rebuilding && m->offset + 1 >= p->catch_up_to)
        finish_rebuild(f, p);
}

static void set_paused(fwd_t *f, int pause)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (f->paused == pause || rd_kafka_assignment(f->rk, &list) != 0)
        return;
    if (pause)
        rd_kafka_pause_partitions(f->rk, list);
    else
        rd_kafka_resume_partitions(f->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    f->paused = pause;
}

static int rebuilding(const fwd_t *f)
{
    int n = 0;
    for (size_t i = 0; i < f->n_parts; i++)
        n += f->parts[i].rebuilding;
    return n;
}

static void log_status(fwd_t *f)
{
    fs_log(FS_LOG_INFO, "status",
           "firing=%zu queued=%zu posted=%llu reposted=%llu rejected=%llu invalid=%llu "
           "partitions=%zu rebuilding=%d alertmanager=%s",
           fs_am_firing_count(f->firing), queue_len(f), f->posted, f->reposted, f->rejected,
           f->invalid, f->n_parts, rebuilding(f), f->down ? "down" : "up");
}

static rd_kafka_t *consumer_new(fwd_t *f, char *err, size_t err_size)
{
    fs_config_diag_t diag = {0};
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *conf = fs_kafka_conf_new(f->cfg, &diag);
    if (!conf) {
        snprintf(err, err_size, "%s", diag.n ? diag.messages[0] : "kafka configuration");
        goto done;
    }
    /* Its own group, and offsets committed by hand after each post. */
    if (rd_kafka_conf_set(conf, "group.id", f->cfg->alertmanager_group_id, err, err_size) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, err_size) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, err_size) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, err_size) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, err_size))
        goto done;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, f);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, err_size);
    if (rk)
        conf = NULL;
done:
    if (conf)
        rd_kafka_conf_destroy(conf);
    fs_config_diag_clear(&diag);
    return rk;
}

int fs_alertmanager_run(const fs_config_t *cfg)
{
    fwd_t fwd, *f = &fwd;
    char err[512];
    int status = 1;
    rd_kafka_topic_partition_list_t *topics = NULL;
    struct sigaction sa;

    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Before librdkafka starts its threads. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=\"libcurl initialisation\"");
        return 1;
    }
    f->firing = fs_am_firing_new(cfg->alertmanager_resend_ms);
    f->client =
        fs_am_client_new(cfg->alertmanager_url, cfg->alertmanager_timeout_ms, err, sizeof err);
    if (!f->firing || !f->client) {
        char q[600];
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s",
               fs_log_quote(f->firing ? err : "out of memory", q, sizeof q));
        goto done;
    }
    if (!(f->rk = consumer_new(f, err, sizeof err))) {
        char q[600];
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=%s", fs_log_quote(err, q, sizeof q));
        goto done;
    }
    rd_kafka_poll_set_consumer(f->rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->topics_alerts, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(f->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        fs_log(FS_LOG_ERROR, "startup_failed", "reason=\"subscribe: %s\"", rd_kafka_err2str(e));
        goto done;
    }
    fs_log(FS_LOG_INFO, "started",
           "topic=%s group=%s url=%s resend_interval_ms=%lld timeout_ms=%lld", cfg->topics_alerts,
           cfg->alertmanager_group_id, cfg->alertmanager_url,
           (long long)cfg->alertmanager_resend_ms, (long long)cfg->alertmanager_timeout_ms);

    int64_t next_status = mono_ms() + cfg->log_status_ms;
    while (!stop_requested && !f->fatal) {
        int64_t now = mono_ms();
        if (now >= f->retry_at) {
            if (queue_len(f) > 0)
                post_live(f);
            else if (fs_am_firing_next_due(f->firing) <= now)
                post_due(f, now);
            commit(f, 0);
        }
        if (now >= next_status) {
            log_status(f);
            next_status = now + cfg->log_status_ms;
        }
        if (f->fatal || stop_requested)
            break;

        /* Wait for messages only when nothing can be posted right now. */
        now = mono_ms();
        int64_t wake = f->retry_at > now ? f->retry_at : now;
        if (queue_len(f) == 0) {
            int64_t due = fs_am_firing_next_due(f->firing);
            wake = due > wake ? due : wake;
        }
        int64_t timeout = wake - now;
        if (timeout > 100)
            timeout = 100;
        if (!f->paused && queue_len(f) >= QUEUE_PAUSE_AT)
            set_paused(f, 1);
        else if (f->paused && queue_len(f) <= QUEUE_RESUME_AT)
            set_paused(f, 0);
        for (int i = 0; i < POLL_MAX && !f->fatal; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(f->rk, i == 0 ? (int)timeout : 0);
            if (!m)
                break;
            handle_message(f, m);
            rd_kafka_message_destroy(m);
        }
    }
    if (f->fatal) {
        fs_log(FS_LOG_ERROR, "stopping", "reason=fatal posted=%llu", f->posted);
        goto done;
    }
    commit(f, 1);
    log_status(f);
    fs_log(FS_LOG_INFO, "stopped", "posted=%llu reposted=%llu rejected=%llu invalid=%llu",
           f->posted, f->reposted, f->rejected, f->invalid);
    status = 0;
done:
    if (f->rk) {
        /* Leaving the group runs the revoke handler, which commits again. */
        rd_kafka_consumer_close(f->rk);
        rd_kafka_destroy(f->rk);
    }
    queue_clear(f);
    free(f->queue);
    free(f->parts);
    fs_am_client_free(f->client);
    fs_am_firing_free(f->firing);
    curl_global_cleanup();
    return status;
}
