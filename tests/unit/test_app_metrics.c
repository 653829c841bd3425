/* test_app_metrics.c -- the metrics registry and its text exposition (format 0.0.4): label and
 * HELP escaping, cumulative histogram buckets, number spelling, the series cap, the output
 * cap; and the node's hooks: route labels, the model label, reserved and earned msat. The file
 * includes metrics.c to reach the node's registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/app/metrics.c"

/* request.c is linked in through metrics_handle(); its shutdown hook lives in main.c. */
void app_maybe_exit(struct app *a)
{
    (void)a;
}

static char *render(const struct metrics *m)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render(m, &b), 0);
    return buf_take(&b, NULL);
}

/* The one line of 'text' that starts with 'prefix' (whole), or NULL. */
static const char *line_of(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
        if (strncmp(p, prefix, n) == 0)
            return p;
        if (strchr(p, '\n') == NULL)
            break;
    }
    return NULL;
}

static void assert_line(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("missing line <%s> in:\n%s", line, text);
}

static void test_counter_and_escaping(void **state)
{
    struct metrics *m = metrics_new();
    struct metrics_family *c = metrics_family(m, METRICS_COUNTER, "t_requests_total",
                                              "Help with a \\ backslash\nand a line feed",
                                              "route,model", NULL, 0);
    metrics_add(c, (const char *const[]){"chat", "a\\b\"c\nd"}, 1);
    metrics_add(c, (const char *const[]){"chat", "a\\b\"c\nd"}, 2);
    metrics_add(c, (const char *const[]){"chat", NULL}, 5); /* NULL is "" */
    metrics_add(c, (const char *const[]){"chat", ""}, 1);
    char *t = render(m);
    assert_line(t, "# HELP t_requests_total Help with a \\\\ backslash\\nand a line feed");
    assert_line(t, "# TYPE t_requests_total counter");
    assert_line(t, "t_requests_total{route=\"chat\",model=\"a\\\\b\\\"c\\nd\"} 3");
    assert_line(t, "t_requests_total{route=\"chat\",model=\"\"} 6");
    /* HELP, TYPE, two samples: four lines, each ended by '\n' */
    size_t lines = 0;
    for (const char *p = t; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    assert_int_equal(t[strlen(t) - 1], '\n');
    free(t);
    metrics_free(m);
}

static void test_gauge_and_numbers(void **state)
{
    struct metrics *m = metrics_new();
    struct metrics_family *g = metrics_family(m, METRICS_GAUGE, "t_gauge", "g", "", NULL, 0);
    struct metrics_family *h = metrics_family(m, METRICS_GAUGE, "t_values", "v", "k", NULL, 0);
    char *t = render(m);
    assert_line(t, "t_gauge 0"); /* an unlabelled family shows from the start */
    assert_null(line_of(t, "t_values")); /* a labelled one only once a series exists */
    free(t);
    metrics_add(g, NULL, 5);
    metrics_add(g, NULL, -7);
    metrics_set(h, (const char *const[]){"tenth"}, 0.1);
    metrics_set(h, (const char *const[]){"big"}, 123456789012.0);
    metrics_set(h, (const char *const[]){"huge"}, 1e300);
    metrics_set(h, (const char *const[]){"inf"}, 1.0 / 0.0);
    metrics_set(h, (const char *const[]){"ninf"}, -1.0 / 0.0);
    metrics_set(h, (const char *const[]){"nan"}, 0.0 / 0.0);
    t = render(m);
    assert_line(t, "t_gauge -2");
    assert_line(t, "t_values{k=\"tenth\"} 0.1");
    assert_line(t, "t_values{k=\"big\"} 123456789012");
    assert_line(t, "t_values{k=\"huge\"} 1e+300");
    assert_line(t, "t_values{k=\"inf\"} +Inf");
    assert_line(t, "t_values{k=\"ninf\"} -Inf");
    assert_line(t, "t_values{k=\"nan\"} NaN");
    free(t);
    metrics_free(m);
}

static void test_histogram_cumulative(void **state)
{
    static const double bounds[] = {0.005, 0.1, 1, 300};
    struct metrics *m = metrics_new();
    struct metrics_family *h =
        metrics_family(m, METRICS_HISTOGRAM, "t_latency_seconds", "l", "", bounds, 4);
    struct metrics_family *hl =
        metrics_family(m, METRICS_HISTOGRAM, "t_sized_seconds", "s", "route", bounds, 4);
    metrics_observe(h, NULL, 0.001);
    metrics_observe(h, NULL, 0.005); /* on a bound: counted in that bucket (le = less or equal) */
    metrics_observe(h, NULL, 0.05);
    metrics_observe(h, NULL, 0.5);
    metrics_observe(h, NULL, 0.5);
    metrics_observe(h, NULL, 1000); /* past every bound: only +Inf */
    metrics_observe(h, NULL, 0.0 / 0.0); /* NaN: ignored */
    metrics_observe(hl, (const char *const[]){"chat"}, 2);
    char *t = render(m);
    assert_line(t, "# TYPE t_latency_seconds histogram");
    assert_line(t, "t_latency_seconds_bucket{le=\"0.005\"} 2");
    assert_line(t, "t_latency_seconds_bucket{le=\"0.1\"} 3");
    assert_line(t, "t_latency_seconds_bucket{le=\"1\"} 5");
    assert_line(t, "t_latency_seconds_bucket{le=\"300\"} 5");
    assert_line(t, "t_latency_seconds_bucket{le=\"+Inf\"} 6");
    assert_line(t, "t_latency_seconds_sum 1001.056");
    assert_line(t, "t_latency_seconds_count 6");
    /* the buckets come in order, +Inf last, then _sum and _count */
    const char *b1 = line_of(t, "t_latency_seconds_bucket{le=\"0.005\"}");
    const char *b4 = line_of(t, "t_latency_seconds_bucket{le=\"300\"}");
    const char *inf = line_of(t, "t_latency_seconds_bucket{le=\"+Inf\"}");
    const char *sum = line_of(t, "t_latency_seconds_sum");
    const char *count = line_of(t, "t_latency_seconds_count");
    assert_true(b1 < b4 && b4 < inf && inf < sum && sum < count);
    /* with labels, le comes last */
    assert_line(t, "t_sized_seconds_bucket{route=\"chat\",le=\"1\"} 0");
    assert_line(t, "t_sized_seconds_bucket{route=\"chat\",le=\"300\"} 1");
    assert_line(t, "t_sized_seconds_bucket{route=\"chat\",le=\"+Inf\"} 1");
    assert_line(t, "t_sized_seconds_sum{route=\"chat\"} 2");
    assert_line(t, "t_sized_seconds_count{route=\"chat\"} 1");
    free(t);
    metrics_free(m);
}

static void test_caps(void **state)
{
    struct metrics *m = metrics_new();
    struct metrics_family *c = metrics_family(m, METRICS_COUNTER, "t_many_total", "m", "id",
                                              NULL, 0);
    char id[32];
    for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
        snprintf(id, sizeof(id), "%d", i);
        metrics_add(c, (const char *const[]){id}, 1);
    }
    assert_int_equal(c->n_series, METRICS_MAX_SERIES);
    metrics_add(c, (const char *const[]){"0"}, 1); /* a known series still counts */
    char *t = render(m);
    assert_line(t, "t_many_total{id=\"0\"} 2");
    snprintf(id, sizeof(id), "t_many_total{id=\"%d\"}", METRICS_MAX_SERIES);
    assert_null(line_of(t, id));
    free(t);

    struct buf small;
    buf_init(&small, 100);
    assert_int_equal(metrics_render(m, &small), E_LIMIT);
    buf_deinit(&small);
    metrics_free(m);
}

static void test_node_hooks(void **state)
{
    metrics_node_start();
    struct app a = {0};
    struct app_req r = {.app = &a};
    static const struct {
        const char *path, *route;
    } paths[] = {
        {"/v1/chat/completions", "chat_completions"}, {"/v1/chat/completions/", "chat_completions"},
        {"/v1/embeddings", "embeddings"},             {"/v1/balance/info", "balance"},
        {"/v1/balancex", "other"},                    {"/v1/wallet/refund", "wallet"},
        {"/models", "models"},                        {"/v1/anything/else", "other"},
        {"/", "root"},                                {"//", "other"},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        assert_string_equal(route_of(paths[i].path), paths[i].route);

    /* An empty catalogue: a named model is "other", none is "" */
    metrics_set_model(&r, "gpt-4o", billing_catalog_find(&a.catalog, "gpt-4o"));
    assert_string_equal(r.model, "other");
    metrics_set_model(&r, NULL, NULL);
    assert_string_equal(r.model, "");

    snprintf(r.path, sizeof(r.path), "/v1/chat/completions");
    snprintf(r.model, sizeof(r.model), "m1");
    r.status = 200;
    metrics_on_request(&r);
    metrics_on_request(&r);
    r.status = 402;
    metrics_on_request(&r);

    metrics_on_reserve(5000);
    metrics_on_reserve(3000);
    struct billing_usage u = {.present = true, .input_tokens = 10, .cache_read_tokens = 2,
                              .output_tokens = 7};
    metrics_on_settle(5000, 2019, &u);
    metrics_on_stream(+1);
    char *t = render(node.reg);
    assert_line(t, "routstr_requests_total{route=\"chat_completions\",model=\"m1\",status=\"200\"} 2");
    assert_line(t, "routstr_requests_total{route=\"chat_completions\",model=\"m1\",status=\"402\"} 1");
    assert_line(t, "routstr_reserved_msat 3000");
    assert_line(t, "routstr_earned_msat_total 2019");
    assert_line(t, "routstr_llm_tokens_total{direction=\"in\"} 12");
    assert_line(t, "routstr_llm_tokens_total{direction=\"out\"} 7");
    assert_line(t, "routstr_open_streams 1");
    assert_line(t, "routstr_build_info{version=\"" ROUTSTR_VERSION "\"} 1");
    free(t);
    metrics_on_settle(3000, 0, NULL); /* released: no usage, nothing earned */
    metrics_on_stream(-1);
    t = render(node.reg);
    assert_line(t, "routstr_reserved_msat 0");
    assert_line(t, "routstr_earned_msat_total 2019");
    assert_line(t, "routstr_open_streams 0");
    free(t);
    metrics_node_stop();
    metrics_on_reserve(1); /* after stop: a no-op, not a crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_escaping), cmocka_unit_test(test_gauge_and_numbers),
        cmocka_unit_test(test_histogram_cumulative), cmocka_unit_test(test_caps),
        cmocka_unit_test(test_node_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
