/*
 * alert.c: alert messages (see alert.h).
 */
#include "detector/alert.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/hash.h"
#include "detector/json_write.h"
#include "detector/slices.h"
#include "detector/timestamp.h"

static const char *const names[] = {"PlaybackFailureBurst", "ErrorBurst", "PlaybackVolumeDrop"};

const char *fs_alert_name(fs_signal_t signal)
{
    return (unsigned)signal < 3 ? names[signal] : "Unknown";
}

void fs_alert_fingerprint(fs_signal_t signal, const char *slice,
                          char out[FS_ALERT_FINGERPRINT_LEN + 1])
{
    const char *name = fs_alert_name(signal);
    uint64_t h = fs_fnv1a(FS_FNV_OFFSET, name, strlen(name) + 1);
    h = fs_fnv1a(h, slice, strlen(slice));
    snprintf(out, FS_ALERT_FINGERPRINT_LEN + 1, "%016" PRIx64, h);
}

void fs_alert_id(const fs_alert_t *a, char out[FS_ALERT_ID_LEN + 1])
{
    char fp[FS_ALERT_FINGERPRINT_LEN + 1];
    fs_alert_fingerprint(a->signal, a->slice, fp);
    uint64_t h = fs_fnv1a(FS_FNV_OFFSET, fp, sizeof fp);
    h = fs_fnv1a(h, a->firing ? "firing" : "resolved", a->firing ? 6 : 8);
    h = fs_fnv1a(h, &a->starts_at_ms, sizeof a->starts_at_ms);
    /* A slice can be named again in one incident after a handover back: the
     * detection time keeps those messages apart. */
    h = fs_fnv1a(h, &a->detected_at_ms, sizeof a->detected_at_ms);
    snprintf(out, FS_ALERT_ID_LEN + 1, "%016" PRIx64, h);
}

static void write_time(fs_jw_t *jw, int64_t ms)
{
    if (ms == FS_ALERT_NULL_TIME) {
        fs_jw_null(jw);
        return;
    }
    char text[32];
    fs_timestamp_format(ms, text);
    fs_jw_cstr(jw, text);
}

static void write_pair(void *opaque, const char *name, size_t name_len, const char *value,
                       size_t value_len)
{
    fs_jw_t *jw = opaque;
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)name_len, name);
    fs_jw_key(jw, key);
    fs_jw_str(jw, value, value_len);
}

/* A readable slice name: "country=BR, platform=android" or "all traffic". */
static void describe_slice(const char *slice, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    if (slice[0] == '\0') {
        snprintf(out, size, "all traffic");
        return;
    }
    for (const char *p = slice; *p && n + 3 < size; p++) {
        if (*p == '\\' && p[1]) {
            out[n++] = *++p;
        } else if (*p == ',') {
            out[n++] = ',';
            out[n++] = ' ';
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

static void write_annotations(fs_jw_t *jw, const fs_alert_t *a)
{
    char where[512], since[32], summary[1024], description[2048], users[160];
    const fs_model_verdict_t *v = &a->verdict;
    describe_slice(a->slice, where, sizeof where);
    fs_timestamp_format(a->starts_at_ms, since);
    /* User counts come from per-minute HyperLogLogs, so they cover whole
     * minutes from the one the incident started in: say so. */
    char minute[32];
    fs_timestamp_format(a->starts_at_ms - ((a->starts_at_ms % 60000) + 60000) % 60000, minute);
    minute[16] = '\0'; /* YYYY-MM-DDTHH:MM */
    if (a->affected_users >= 0)
        snprintf(users, sizeof users,
                 "about %" PRId64 " distinct users had a failure or error here since %sZ",
                 a->affected_users, minute);
    else
        snprintf(users, sizeof users, "the number of users affected is unknown");
    double ratio = v->expected > 0 ? v->observed / v->expected : INFINITY;
    char ending[700] = "";
    if (!a->firing && a->superseded_by) {
        char other[512];
        describe_slice(a->superseded_by, other, sizeof other);
        snprintf(ending, sizeof ending,
                 " Superseded by the alert on %s, which now explains this burst.", other);
    } else if (!a->firing) {
        snprintf(ending, sizeof ending, " %s is back to normal.",
                 a->signal == FS_SIGNAL_FAILURE_RATIO ? "The failure ratio"
                 : a->signal == FS_SIGNAL_ERROR_COUNT ? "The error rate"
                                                      : "Volume");
    } else if (a->traffic_share == a->traffic_share && a->traffic_share > 0) {
        snprintf(ending, sizeof ending, " This slice carries %.2f%% of all playback attempts.",
                 100 * a->traffic_share);
    }

    switch (a->signal) {
    case FS_SIGNAL_FAILURE_RATIO:
        snprintf(summary, sizeof summary, "Playback failures %.1fx expected in %s", ratio, where);
        snprintf(description, sizeof description,
                 "Since %s, %.2f%% of playback attempts in %s failed (%.0f of %.0f in the last "
                 "%.0f s), against %.2f%% expected from its history; %.0f failures more than "
                 "expected; %s.%s",
                 since, 100 * v->observed, where, v->window_x, v->window_n, v->window_seconds,
                 100 * v->expected, v->window_x - v->expected * v->window_n, users,
                 ending);
        break;
    case FS_SIGNAL_ERROR_COUNT:
        snprintf(summary, sizeof summary, "Errors %.1fx expected in %s", ratio, where);
        snprintf(description, sizeof description,
                 "Since %s, %s reported %.0f errors in %.0f s, against %.1f expected from its "
                 "history (%.1fx); %s.%s",
                 since, where, v->window_x, v->window_seconds,
                 v->expected * v->window_seconds, ratio, users,
                 ending);
        break;
    default:
        snprintf(summary, sizeof summary, "Playback attempts fell to %.0f%% of expected in %s",
                 100 * (v->expected > 0 ? v->observed / v->expected : 0), where);
        snprintf(description, sizeof description,
                 "Since %s, %s sent %.0f playback attempts in %.0f s against %.0f expected: "
                 "clients may be unable to start playback at all.%s",
                 since, where, v->window_x, v->window_seconds, v->expected * v->window_seconds,
                 ending);
        break;
    }
    fs_jw_key(jw, "annotations");
    fs_jw_open(jw, '{');
    fs_jw_key(jw, "summary");
    fs_jw_cstr(jw, summary);
    fs_jw_key(jw, "description");
    fs_jw_cstr(jw, description);
    fs_jw_close(jw, '}');
}

long fs_alert_format(const fs_alert_t *a, char *buf, size_t size)
{
    fs_jw_t jw;
    char fp[FS_ALERT_FINGERPRINT_LEN + 1], id[FS_ALERT_ID_LEN + 1];
    const fs_model_verdict_t *v = &a->verdict;
    fs_alert_fingerprint(a->signal, a->slice, fp);
    fs_alert_id(a, id);

    fs_jw_init(&jw, buf, size);
    fs_jw_open(&jw, '{');
    fs_jw_key(&jw, "fingerprint");
    fs_jw_cstr(&jw, fp);
    fs_jw_key(&jw, "status");
    fs_jw_cstr(&jw, a->firing ? "firing" : "resolved");
    fs_jw_key(&jw, "alertname");
    fs_jw_cstr(&jw, fs_alert_name(a->signal));
    fs_jw_key(&jw, "severity");
    fs_jw_cstr(&jw, a->severity);
    fs_jw_key(&jw, "slice");
    fs_jw_open(&jw, '{');
    fs_slice_key_parts(a->slice, write_pair, &jw);
    fs_jw_close(&jw, '}');
    fs_jw_key(&jw, "startsAt");
    write_time(&jw, a->starts_at_ms);
    fs_jw_key(&jw, "detectedAt");
    write_time(&jw, a->detected_at_ms);
    fs_jw_key(&jw, "endsAt");
    write_time(&jw, a->firing ? FS_ALERT_NULL_TIME : a->ends_at_ms);
    fs_jw_key(&jw, "labels");
    fs_jw_open(&jw, '{');
    fs_jw_key(&jw, "alertname");
    fs_jw_cstr(&jw, fs_alert_name(a->signal));
    fs_jw_key(&jw, "severity");
    fs_jw_cstr(&jw, a->severity);
    fs_slice_key_parts(a->slice, write_pair, &jw);
    fs_jw_close(&jw, '}');
    write_annotations(&jw, a);
    fs_jw_key(&jw, "evidence");
    fs_jw_open(&jw, '{');
    fs_jw_key(&jw, "observed");
    fs_jw_num(&jw, v->observed);
    fs_jw_key(&jw, "expected");
    fs_jw_num(&jw, v->expected);
    fs_jw_key(&jw, "attempts");
    fs_jw_num(&jw, a->signal == FS_SIGNAL_ERROR_COUNT ? NAN : v->window_n);
    fs_jw_key(&jw, a->signal == FS_SIGNAL_ERROR_COUNT ? "errors" : "failures");
    fs_jw_num(&jw, a->signal == FS_SIGNAL_VOLUME_DROP ? NAN : v->window_x);
    fs_jw_key(&jw, "window_seconds");
    fs_jw_num(&jw, v->window_seconds);
    fs_jw_key(&jw, "score");
    fs_jw_num(&jw, v->score);
    fs_jw_key(&jw, "affected_users");
    if (a->affected_users >= 0)
        fs_jw_int(&jw, a->affected_users);
    else
        fs_jw_null(&jw);
    fs_jw_key(&jw, "excess");
    fs_jw_num(&jw, round(a->excess));
    fs_jw_key(&jw, "traffic_share");
    fs_jw_num(&jw, a->traffic_share);
    fs_jw_close(&jw, '}');
    fs_jw_key(&jw, "id");
    fs_jw_cstr(&jw, id);
    fs_jw_close(&jw, '}');
    return fs_jw_finish(&jw);
}

long fs_alert_state_format(const fs_alert_t *a, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%d\t%" PRId64 "\t%" PRId64 "\t%s\t%s", (int)a->signal,
                     a->starts_at_ms, a->detected_at_ms, a->severity, a->slice);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int fs_alert_state_parse(char *state, fs_alert_t *a)
{
    char *fields[5];
    char *p = state;
    for (int i = 0; i < 4; i++) {
        fields[i] = p;
        p = strchr(p, '\t');
        if (!p)
            return -1;
        *p++ = '\0';
    }
    fields[4] = p;
    char *end;
    long signal = strtol(fields[0], &end, 10);
    if (*end || signal < 0 || signal > 2)
        return -1;
    memset(a, 0, sizeof *a);
    a->signal = (fs_signal_t)signal;
    a->starts_at_ms = strtoll(fields[1], &end, 10);
    if (*end)
        return -1;
    a->detected_at_ms = strtoll(fields[2], &end, 10);
    if (*end)
        return -1;
    if (strcmp(fields[3], "critical") == 0)
        a->severity = "critical";
    else if (strcmp(fields[3], "warning") == 0)
        a->severity = "warning";
    else if (strcmp(fields[3], "info") == 0)
        a->severity = "info";
    else
        return -1;
    a->slice = fields[4];
    a->firing = 1;
    a->ends_at_ms = FS_ALERT_NULL_TIME;
    a->affected_users = -1;
    return 0;
}
