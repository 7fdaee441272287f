/*
 * check_metrics.c: the metrics registry renders the Prometheus text
 * exposition format (version 0.0.4) exactly as its specification writes it:
 * HELP and TYPE lines, label values escaped, histogram buckets cumulative
 * with le="+Inf" equal to _count; a render sees only what was published, and
 * never a half-published snapshot. The HTTP endpoint (http.h) answers
 * /metrics, /healthz and /readyz on a loopback port.
 *
 * Expected texts are written out by hand from the format's rules, never
 * copied from the renderer's output.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "detector/http.h"
#include "detector/metrics.h"

/* Publishes and renders; the caller frees. */
static char *render(fs_metrics_t *m)
{
    size_t len = 0;
    ck_assert_int_eq(fs_metrics_publish(m), FS_METRICS_PUBLISHED);
    char *text = fs_metrics_render(m, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    return text;
}

START_TEST(small_registry_renders_exactly)
{
    static const char *const topic[] = {"topic", NULL};
    static const double bounds[] = {0.125, 0.5, 2};
    fs_metrics_t *m = fs_metrics_new();
    fs_metric_t *c = fs_metrics_counter(m, "demo_events_total", "Events by topic.", topic);
    fs_metric_t *g = fs_metrics_gauge(m, "demo_open", "Open things.", NULL);
    fs_metric_t *h = fs_metrics_histogram(m, "demo_latency_seconds", "Latency.", NULL, bounds, 3);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_nonnull(h);
    const char *a_labels[] = {"a"}, *b_labels[] = {"b"};
    int a = fs_metric_series(c, a_labels);
    int b = fs_metric_series(c, b_labels);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_ne(a, b);
    ck_assert_int_eq(fs_metric_series(c, a_labels), a);
    fs_metric_add(c, a, 3);
    fs_metric_add(c, b, 1);
    fs_metric_add(c, a, 2);
    fs_metric_set(g, 0, 7);
    /* Exactly representable values, so the sum is exact: 6.4375. A value
     * equal to a bound counts in that bound's bucket (le = less or equal). */
    const double observed[] = {0.0625, 0.125, 0.25, 1, 5};
    for (size_t i = 0; i < 5; i++)
        fs_metric_observe(h, 0, observed[i]);
    char *text = render(m);
    ck_assert_str_eq(text, "# HELP demo_events_total Events by topic.\n"
                           "# TYPE demo_events_total counter\n"
                           "demo_events_total{topic=\"a\"} 5\n"
                           "demo_events_total{topic=\"b\"} 1\n"
                           "# HELP demo_open Open things.\n"
                           "# TYPE demo_open gauge\n"
                           "demo_open 7\n"
                           "# HELP demo_latency_seconds Latency.\n"
                           "# TYPE demo_latency_seconds histogram\n"
                           "demo_latency_seconds_bucket{le=\"0.125\"} 2\n"
                           "demo_latency_seconds_bucket{le=\"0.5\"} 3\n"
                           "demo_latency_seconds_bucket{le=\"2\"} 4\n"
                           "demo_latency_seconds_bucket{le=\"+Inf\"} 5\n"
                           "demo_latency_seconds_sum 6.4375\n"
                           "demo_latency_seconds_count 5\n");
    free(text);
    fs_metrics_free(m);
}
END_TEST

/* Each row: values observed, and the cumulative counts expected for the
 * bounds 1, 2, 4 and +Inf. */
static const struct {
    double values[6];
    size_t n;
    unsigned cumulative[4];
} histogram_rows[] = {
    {{0}, 0, {0, 0, 0, 0}},
    {{-3}, 1, {1, 1, 1, 1}},
    {{1, 2, 4}, 3, {1, 2, 3, 3}},
    {{1.5, 1.5, 3}, 3, {0, 2, 3, 3}},
    {{4.000001, 100}, 2, {0, 0, 0, 2}},
    {{0.5, 8, 2, 0.5, 2, 9}, 6, {2, 4, 4, 6}},
};

START_TEST(histogram_buckets_are_cumulative)
{
    static const double bounds[] = {1, 2, 4};
    static const char *const route[] = {"route", NULL};
    const char *labels[] = {"/x"};
    fs_metrics_t *m = fs_metrics_new();
    fs_metric_t *h = fs_metrics_histogram(m, "h_seconds", "H.", route, bounds, 3);
    int id = fs_metric_series(h, labels);
    double sum = 0;
    for (size_t i = 0; i < histogram_rows[_i].n; i++) {
        fs_metric_observe(h, id, histogram_rows[_i].values[i]);
        sum += histogram_rows[_i].values[i];
    }
    char expected[1024], num[40];
    const unsigned *cum = histogram_rows[_i].cumulative;
    snprintf(expected, sizeof expected,
             "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
             "h_seconds_bucket{route=\"/x\",le=\"1\"} %u\n"
             "h_seconds_bucket{route=\"/x\",le=\"2\"} %u\n"
             "h_seconds_bucket{route=\"/x\",le=\"4\"} %u\n"
             "h_seconds_bucket{route=\"/x\",le=\"+Inf\"} %u\n"
             "h_seconds_sum{route=\"/x\"} %s\n"
             "h_seconds_count{route=\"/x\"} %zu\n",
             cum[0], cum[1], cum[2], cum[3], fs_metrics_format_value(sum, num, sizeof num),
             histogram_rows[_i].n);
    char *text = render(m);
    ck_assert_str_eq(text, expected);
    free(text);
    fs_metrics_free(m);
}
END_TEST

START_TEST(labels_and_help_are_escaped)
{
    static const char *const labels[] = {"path", "note", NULL};
    fs_metrics_t *m = fs_metrics_new();
    /* In HELP only '\' and newline are escaped; '"' stays as it is. */
    fs_metric_t *g = fs_metrics_gauge(m, "esc", "A \"quoted\" back\\slash\nand a newline.", labels);
    const char *values[] = {"C:\\dir\\", "say \"hi\"\nbye"};
    fs_metric_set(g, fs_metric_series(g, values), 1);
    const char *utf8[] = {"s\xc3\xa3o paulo", ""};
    fs_metric_set(g, fs_metric_series(g, utf8), 2);
    char *text = render(m);
    ck_assert_str_eq(text, "# HELP esc A \"quoted\" back\\\\slash\\nand a newline.\n"
                           "# TYPE esc gauge\n"
                           "esc{path=\"C:\\\\dir\\\\\",note=\"say \\\"hi\\\"\\nbye\"} 1\n"
                           "esc{path=\"s\xc3\xa3o paulo\",note=\"\"} 2\n");
    free(text);
    fs_metrics_free(m);
}
END_TEST

static const struct {
    double value;
    const char *text;
} value_rows[] = {
    {0, "0"},
    {-0.0, "0"},
    {1, "1"},
    {-3, "-3"},
    {123456789012345, "123456789012345"},
    {1e15, "1e+15"},
    {18446744073709551616.0, "1.8446744073709552e+19"},
    {0.1, "0.1"},
    {2.5e-05, "2.5e-05"},
    {1795816092.711, "1795816092.711"},
    {1.0 / 3, "0.33333333333333331"},
};

START_TEST(values_read_back_exactly)
{
    char buf[40];
    ck_assert_str_eq(fs_metrics_format_value(value_rows[_i].value, buf, sizeof buf),
                     value_rows[_i].text);
    ck_assert(strtod(buf, NULL) == value_rows[_i].value);
}
END_TEST

START_TEST(special_values)
{
    char buf[40];
    ck_assert_str_eq(fs_metrics_format_value(NAN, buf, sizeof buf), "NaN");
    ck_assert_str_eq(fs_metrics_format_value(INFINITY, buf, sizeof buf), "+Inf");
    ck_assert_str_eq(fs_metrics_format_value(-INFINITY, buf, sizeof buf), "-Inf");
}
END_TEST

START_TEST(render_shows_the_published_snapshot)
{
    fs_metrics_t *m = fs_metrics_new();
    fs_metric_t *c = fs_metrics_counter(m, "n_total", "N.", NULL);
    size_t len;
    /* Nothing published yet: the family is announced, without samples. */
    char *text = fs_metrics_render(m, &len);
    ck_assert_str_eq(text, "# HELP n_total N.\n# TYPE n_total counter\n");
    free(text);
    fs_metric_add(c, 0, 1);
    text = render(m);
    ck_assert_str_eq(text, "# HELP n_total N.\n# TYPE n_total counter\nn_total 1\n");
    free(text);
    /* Updated but not published: renders still show 1. */
    fs_metric_add(c, 0, 41);
    text = fs_metrics_render(m, &len);
    ck_assert_str_eq(text, "# HELP n_total N.\n# TYPE n_total counter\nn_total 1\n");
    free(text);
    text = render(m);
    ck_assert_str_eq(text, "# HELP n_total N.\n# TYPE n_total counter\nn_total 42\n");
    free(text);
    fs_metrics_free(m);
}
END_TEST

START_TEST(hidden_series_are_not_rendered)
{
    static const char *const part[] = {"partition", NULL};
    fs_metrics_t *m = fs_metrics_new();
    fs_metric_t *g = fs_metrics_gauge(m, "lag", "Lag.", part);
    const char *p0[] = {"0"}, *p1[] = {"1"};
    int s0 = fs_metric_series(g, p0), s1 = fs_metric_series(g, p1);
    fs_metric_set(g, s0, 5);
    fs_metric_set(g, s1, 6);
    fs_metric_hide(g, s0);
    char *text = render(m);
    ck_assert_str_eq(text, "# HELP lag Lag.\n# TYPE lag gauge\nlag{partition=\"1\"} 6\n");
    free(text);
    fs_metric_hide_all(g);
    text = render(m);
    ck_assert_str_eq(text, "# HELP lag Lag.\n# TYPE lag gauge\n");
    free(text);
    /* An update shows a series again, from zero. */
    fs_metric_add(g, s0, 2);
    text = render(m);
    ck_assert_str_eq(text, "# HELP lag Lag.\n# TYPE lag gauge\nlag{partition=\"0\"} 2\n");
    free(text);
    fs_metrics_free(m);
}
END_TEST

START_TEST(misuse_is_refused_or_ignored)
{
    static const char *const le[] = {"le", NULL};
    static const char *const dunder[] = {"__x", NULL};
    static const char *const twice[] = {"a", "a", NULL};
    static const char *const five[] = {"a", "b", "c", "d", "e", NULL};
    static const char *const digit[] = {"1a", NULL};
    static const double unsorted[] = {1, 1};
    static const double inf[] = {1, INFINITY};
    fs_metrics_t *m = fs_metrics_new();
    ck_assert_ptr_null(fs_metrics_counter(m, "", "x", NULL));
    ck_assert_ptr_null(fs_metrics_counter(m, "9lives", "x", NULL));
    ck_assert_ptr_null(fs_metrics_counter(m, "has-dash", "x", NULL));
    ck_assert_ptr_nonnull(fs_metrics_counter(m, "ns:ok_total", "x", NULL));
    ck_assert_ptr_null(fs_metrics_gauge(m, "ns:ok_total", "again", NULL));
    ck_assert_ptr_null(fs_metrics_gauge(m, "g1", "x", dunder));
    ck_assert_ptr_null(fs_metrics_gauge(m, "g2", "x", twice));
    ck_assert_ptr_null(fs_metrics_gauge(m, "g3", "x", five));
    ck_assert_ptr_null(fs_metrics_gauge(m, "g4", "x", digit));
    ck_assert_ptr_nonnull(fs_metrics_gauge(m, "g5", "x", le));
    ck_assert_ptr_null(fs_metrics_histogram(m, "h1", "x", le, unsorted, 1));
    ck_assert_ptr_null(fs_metrics_histogram(m, "h2", "x", NULL, unsorted, 2));
    ck_assert_ptr_null(fs_metrics_histogram(m, "h3", "x", NULL, inf, 2));
    fs_metric_t *c = fs_metrics_counter(m, "c_total", "x", NULL);
    fs_metric_t *h = fs_metrics_histogram(m, "h_seconds", "x", NULL, NULL, 0);
    ck_assert_ptr_nonnull(h);
    fs_metric_add(c, 0, -1);    /* counters never go down */
    fs_metric_add(c, 0, NAN);   /* nor become NaN */
    fs_metric_observe(c, 0, 1); /* not a histogram */
    fs_metric_set(h, 0, 3);     /* not a counter or gauge */
    fs_metric_observe(h, 0, NAN);
    fs_metric_observe(h, 0, 0.5);
    fs_metric_add(c, 7, 1);    /* no such series */
    fs_metric_add(NULL, 0, 1); /* no family (a failed registration) */
    ck_assert_int_eq(fs_metric_series(NULL, NULL), -1);
    char *text = render(m);
    const char *tail = strstr(text, "# HELP c_total");
    ck_assert_ptr_nonnull(tail);
    ck_assert_str_eq(tail, "# HELP c_total x\n# TYPE c_total counter\nc_total 0\n"
                           "# HELP h_seconds x\n# TYPE h_seconds histogram\n"
                           "h_seconds_bucket{le=\"+Inf\"} 1\n"
                           "h_seconds_sum 0.5\n"
                           "h_seconds_count 1\n");
    free(text);
    fs_metrics_free(m);
    fs_metrics_free(NULL);
}
END_TEST

/* ---- a render never sees a half-published snapshot ---- */

typedef struct race {
    fs_metrics_t *m;
    fs_metric_t *a, *b;
    volatile int done;
    unsigned turns, published, busy;
} race_t;

static void *writer(void *arg)
{
    race_t *r = arg;
    /* A turn that finds the snapshot busy costs a failed trylock, so 20,000
     * of them can pass inside one render: go on until 100 turns published
     * too (publication is never starved: the check's timeout would fail). */
    for (r->turns = 0; r->turns < 20000 || r->published < 100; r->turns++) {
        fs_metric_add(r->a, 0, 1);
        fs_metric_add(r->b, 0, 1);
        int rc = fs_metrics_publish(r->m);
        if (rc == FS_METRICS_PUBLISHED)
            r->published++;
        else if (rc == FS_METRICS_BUSY)
            r->busy++;
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static double sample_of(const char *text, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    ck_assert_ptr_nonnull(p);
    return strtod(p + strlen(key), NULL);
}

START_TEST(renders_see_whole_publications)
{
    race_t r;
    memset(&r, 0, sizeof r);
    r.m = fs_metrics_new();
    r.a = fs_metrics_counter(r.m, "a_total", "A.", NULL);
    r.b = fs_metrics_counter(r.m, "b_total", "B.", NULL);
    fs_metrics_publish(r.m);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, writer, &r), 0);
    unsigned renders = 0;
    double last = 0;
    while (!__atomic_load_n(&r.done, __ATOMIC_SEQ_CST) || renders == 0) {
        char *text = fs_metrics_render(r.m, NULL);
        double a = sample_of(text, "a_total"), b = sample_of(text, "b_total");
        ck_assert(a == b);
        ck_assert(a >= last);
        last = a;
        free(text);
        renders++;
    }
    pthread_join(t, NULL);
    /* The writer never waited: each turn either published or skipped. */
    ck_assert_uint_eq(r.published + r.busy, r.turns);
    ck_assert_uint_ge(r.published, 100);
    fs_metrics_free(r.m);
}
END_TEST

/* ---- the HTTP endpoint ---- */

/* One request over HTTP/1.0 to 127.0.0.1:port; the whole response (status
 * line, headers, body) into out. Returns the status code. */
static int request(int port, const char *method, const char *path, char *out, size_t size)
{
    struct sockaddr_in sa;
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
                  strerror(errno));
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n", method, path);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    size_t used = 0;
    ssize_t got;
    while (used + 1 < size && (got = read(fd, out + used, size - 1 - used)) > 0)
        used += (size_t)got;
    out[used] = '\0';
    close(fd);
    int status = 0;
    ck_assert_int_eq(sscanf(out, "HTTP/1.%*d %d", &status), 1);
    return status;
}

static const char *body_of(const char *response)
{
    const char *p = strstr(response, "\r\n\r\n");
    ck_assert_ptr_nonnull(p);
    return p + 4;
}

START_TEST(http_endpoints)
{
    char err[256] = "", out[16384];
    fs_metrics_t *m = fs_metrics_new();
    fs_metric_t *c = fs_metrics_counter(m, "x_total", "X.", NULL);
    fs_metric_add(c, 0, 3);
    fs_metrics_publish(m);
    /* Port 0: the kernel picks a free one. */
    fs_http_t *http = fs_http_new("127.0.0.1:0", m, err, sizeof err);
    ck_assert_msg(http != NULL, "fs_http_new: %s", err);
    int port = fs_http_port(http);
    ck_assert_int_gt(port, 0);

    ck_assert_int_eq(request(port, "GET", "/healthz", out, sizeof out), 200);
    ck_assert_str_eq(body_of(out), "ok\n");
    ck_assert_int_eq(request(port, "GET", "/readyz", out, sizeof out), 503);
    ck_assert_str_eq(body_of(out), "starting\n");
    fs_http_set_ready(http, "store unavailable: consumption paused");
    ck_assert_int_eq(request(port, "GET", "/readyz", out, sizeof out), 503);
    ck_assert_str_eq(body_of(out), "store unavailable: consumption paused\n");
    fs_http_set_ready(http, NULL);
    ck_assert_int_eq(request(port, "GET", "/readyz", out, sizeof out), 200);
    ck_assert_str_eq(body_of(out), "ready\n");

    ck_assert_int_eq(request(port, "GET", "/metrics", out, sizeof out), 200);
    ck_assert_ptr_nonnull(
        strstr(out, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    ck_assert_str_eq(body_of(out), "# HELP x_total X.\n# TYPE x_total counter\nx_total 3\n");
    ck_assert_int_eq(request(port, "HEAD", "/metrics", out, sizeof out), 200);
    ck_assert_str_eq(body_of(out), "");

    ck_assert_int_eq(request(port, "GET", "/nothing", out, sizeof out), 404);
    ck_assert_int_eq(request(port, "POST", "/metrics", out, sizeof out), 405);
    ck_assert_ptr_nonnull(strstr(out, "\r\nAllow: GET, HEAD\r\n"));

    /* The port is taken now. */
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", port);
    ck_assert_ptr_null(fs_http_new(taken, m, err, sizeof err));
    ck_assert_msg(strstr(err, taken) != NULL, "err: %s", err);
    fs_http_free(http);
    fs_metrics_free(m);
}
END_TEST

START_TEST(http_bad_addresses)
{
    /* No name that needs a resolver: the test must not wait for DNS. */
    static const char *const bad[] = {"no-port",     "127.0.0.1:",     "[::1:9464",
                                      "/run/x.sock", "127.0.0.1:http", ":9464"};
    char err[256];
    fs_metrics_t *m = fs_metrics_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_ptr_null(fs_http_new(bad[i], m, err, sizeof err));
        ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i]);
    }
    fs_http_free(NULL);
    fs_metrics_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, small_registry_renders_exactly);
    tcase_add_loop_test(tc, histogram_buckets_are_cumulative, 0,
                        sizeof histogram_rows / sizeof histogram_rows[0]);
    tcase_add_test(tc, labels_and_help_are_escaped);
    tcase_add_loop_test(tc, values_read_back_exactly, 0, sizeof value_rows / sizeof value_rows[0]);
    tcase_add_test(tc, special_values);
    tcase_add_test(tc, render_shows_the_published_snapshot);
    tcase_add_test(tc, hidden_series_are_not_rendered);
    tcase_add_test(tc, misuse_is_refused_or_ignored);
    tcase_add_test(tc, renders_see_whole_publications);
    suite_add_tcase(s, tc);
    TCase *http = tcase_create("http");
    tcase_add_test(http, http_endpoints);
    tcase_add_test(http, http_bad_addresses);
    suite_add_tcase(s, http);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
