/* metrics.c -- see metrics.h.
 *
 * A family keeps its series in an array searched linearly: a family has a handful of series
 * (requests_total, the largest, one per route x model x status seen), and a search is a few
 * string compares per event. Past METRICS_MAX_SERIES a new label set is dropped, with one
 * warning, so a bug that leaks unbounded values into a label cannot eat the memory.
 *
 * Histogram series count each observation once, in the first bucket whose bound is >= it (the
 * "le" of the format); rendering turns them into the cumulative counts the format wants.
 *
 * Numbers are rendered exactly: integers as integers, other values in the shortest form that
 * reads back to the same double (the bounds stay "0.005", not "0.0050000000000000001"). */
#include "app/metrics.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>

#include "app/app.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/wallet.h"
#include "crypto/crypto.h"

#define METRICS_MAX_OUTPUT (16 << 20)

struct series {
    char *values[METRICS_MAX_LABELS];
    double value;      /* counter, gauge */
    uint64_t *buckets; /* histogram: observations per bucket, n_bounds + 1 (+Inf last) */
    double sum;
    uint64_t count;
};

struct metrics_family {
    enum metrics_type type;
    char *name, *help;
    char *labels[METRICS_MAX_LABELS];
    size_t n_labels;
    double bounds[METRICS_MAX_BOUNDS];
    size_t n_bounds;
    struct series *series;
    size_t n_series, cap;
    bool warned;
    struct metrics_family *next;
};

struct metrics {
    struct metrics_family *first, *last;
};

/* The registry */

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
              ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
            return false;
    return true;
}

struct metrics *metrics_new(void)
{
    return xcalloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    for (struct metrics_family *f = m->first, *next; f; f = next) {
        next = f->next;
        for (size_t i = 0; i < f->n_series; i++) {
            for (size_t j = 0; j < f->n_labels; j++)
                free(f->series[i].values[j]);
            free(f->series[i].buckets);
        }
        for (size_t j = 0; j < f->n_labels; j++)
            free(f->labels[j]);
        free(f->series);
        free(f->name);
        free(f->help);
        free(f);
    }
    free(m);
}

static struct series *find_series(struct metrics_family *f, const char *const *values);

struct metrics_family *metrics_family(struct metrics *m, enum metrics_type type, const char *name,
                                      const char *help, const char *labels, const double *bounds,
                                      size_t n_bounds)
{
    assert(valid_name(name, strlen(name)));
    assert(type == METRICS_HISTOGRAM ? n_bounds <= METRICS_MAX_BOUNDS : n_bounds == 0);
    struct metrics_family *f = xcalloc(1, sizeof(*f));
    f->type = type;
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    for (const char *p = labels; *p;) {
        size_t n = strcspn(p, ",");
        assert(valid_name(p, n) && f->n_labels < METRICS_MAX_LABELS);
        assert(!(n == 2 && memcmp(p, "le", 2) == 0 && type == METRICS_HISTOGRAM));
        f->labels[f->n_labels++] = xstrndup(p, n);
        p += n + (p[n] == ',');
    }
    for (size_t i = 0; i < n_bounds; i++) {
        assert(isfinite(bounds[i]) && (i == 0 || bounds[i] > bounds[i - 1]));
        f->bounds[i] = bounds[i];
    }
    f->n_bounds = n_bounds;
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    if (f->n_labels == 0)
        find_series(f, NULL); /* an unlabelled family always shows its one sample */
    return f;
}

static struct series *find_series(struct metrics_family *f, const char *const *values)
{
    for (size_t i = 0; i < f->n_series; i++) {
        size_t j = 0;
        while (j < f->n_labels && strcmp(f->series[i].values[j], values[j] ? values[j] : "") == 0)
            j++;
        if (j == f->n_labels)
            return &f->series[i];
    }
    if (f->n_series == METRICS_MAX_SERIES) {
        if (!f->warned)
            log_warn("metrics: %s has %d series; new label sets are dropped", f->name,
                     METRICS_MAX_SERIES);
        f->warned = true;
        return NULL;
    }
    if (f->n_series == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->series = xrealloc(f->series, f->cap * sizeof(*f->series));
    }
    struct series *s = &f->series[f->n_series++];
    memset(s, 0, sizeof(*s));
    for (size_t j = 0; j < f->n_labels; j++)
        s->values[j] = xstrdup(values[j] ? values[j] : "");
    if (f->type == METRICS_HISTOGRAM)
        s->buckets = xcalloc(f->n_bounds + 1, sizeof(*s->buckets));
    return s;
}

void metrics_add(struct metrics_family *f, const char *const *values, double delta)
{
    assert(f->type != METRICS_HISTOGRAM);
    assert(f->type != METRICS_COUNTER || delta >= 0); /* a counter only goes up */
    struct series *s = find_series(f, values);
    if (s)
        s->value += delta;
}

void metrics_set(struct metrics_family *f, const char *const *values, double value)
{
    assert(f->type != METRICS_HISTOGRAM);
    struct series *s = find_series(f, values);
    if (s)
        s->value = value;
}

void metrics_observe(struct metrics_family *f, const char *const *values, double value)
{
    assert(f->type == METRICS_HISTOGRAM);
    struct series *s = find_series(f, values);
    if (s == NULL || isnan(value))
        return;
    size_t i = 0;
    while (i < f->n_bounds && value > f->bounds[i])
        i++;
    s->buckets[i]++;
    s->sum += value;
    s->count++;
}

/* The shortest text that reads back as 'v'; the format's spellings for infinities and NaN. */
static void fmt_double(char out[32], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 32, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Label values escape backslash, double quote and line feed; HELP text backslash and line feed
 * (text format 0.0.4). */
static int append_escaped(struct buf *b, const char *s, bool quote)
{
    int rc = 0;
    for (const char *p = s; *p && rc == 0; p++) {
        if (*p == '\\')
            rc = buf_appends(b, "\\\\");
        else if (*p == '\n')
            rc = buf_appends(b, "\\n");
        else if (*p == '"' && quote)
            rc = buf_appends(b, "\\\"");
        else
            rc = buf_append(b, p, 1);
    }
    return rc;
}

/* name{labels[,le="..."]} value\n */
static int sample(struct buf *b, const struct metrics_family *f, const struct series *s,
                  const char *suffix, const char *le, double value)
{
    int rc = buf_printf(b, "%s%s", f->name, suffix);
    if (f->n_labels || le) {
        rc = rc ? rc : buf_appends(b, "{");
        for (size_t j = 0; j < f->n_labels && rc == 0; j++) {
            rc = buf_printf(b, "%s%s=\"", j ? "," : "", f->labels[j]);
            rc = rc ? rc : append_escaped(b, s->values[j], true);
            rc = rc ? rc : buf_appends(b, "\"");
        }
        if (le && rc == 0)
            rc = buf_printf(b, "%sle=\"%s\"", f->n_labels ? "," : "", le);
        rc = rc ? rc : buf_appends(b, "}");
    }
    char num[32];
    fmt_double(num, value);
    return rc ? rc : buf_printf(b, " %s\n", num);
}

static int render_family(const struct metrics_family *f, struct buf *b)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    int rc = buf_printf(b, "# HELP %s ", f->name);
    rc = rc ? rc : append_escaped(b, f->help, false);
    rc = rc ? rc : buf_printf(b, "\n# TYPE %s %s\n", f->name, types[f->type]);
    for (size_t i = 0; i < f->n_series && rc == 0; i++) {
        const struct series *s = &f->series[i];
        if (f->type != METRICS_HISTOGRAM) {
            rc = sample(b, f, s, "", NULL, s->value);
            continue;
        }
        uint64_t cumulative = 0;
        char le[32];
        for (size_t k = 0; k < f->n_bounds && rc == 0; k++) {
            cumulative += s->buckets[k];
            fmt_double(le, f->bounds[k]);
            rc = sample(b, f, s, "_bucket", le, (double)cumulative);
        }
        rc = rc ? rc : sample(b, f, s, "_bucket", "+Inf", (double)s->count);
        rc = rc ? rc : sample(b, f, s, "_sum", NULL, s->sum);
        rc = rc ? rc : sample(b, f, s, "_count", NULL, (double)s->count);
    }
    return rc;
}

int metrics_render(const struct metrics *m, struct buf *out)
{
    int rc = 0;
    for (const struct metrics_family *f = m->first; f && rc == 0; f = f->next)
        rc = render_family(f, out);
    return rc;
}

/* The node's metrics */

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                        2.5,   5,    10,    30,   60,  120,  300};

/* Labels of the wallet's mint failures, in the order of enum cashu_mint_fail. */
static const char *const fail_labels[][2] = {
    {"unreachable", ""},    {"timeout", ""},        {"unknown", ""},
    {"rate_limited", ""},   {"refused", "10xxx"},   {"refused", "11xxx"},
    {"refused", "12xxx"},   {"refused", "2xxxx"},   {"refused", "other"},
};
static_assert(sizeof(fail_labels) / sizeof(fail_labels[0]) == CASHU_MINT_N_FAILS,
              "a label for every mint failure");

static struct node_metrics {
    struct metrics *reg; /* NULL outside metrics_node_start/stop: the hooks do nothing */
    struct metrics_family *requests, *llm_tokens, *cashu_tokens, *cashu_msat, *earned,
        *reserved, *latency, *duration, *mint_calls, *mint_errors, *streams, *open_requests;
} node;

void metrics_node_start(void)
{
    struct metrics *m = metrics_new();
    node.reg = m;
    node.requests = metrics_family(m, METRICS_COUNTER, "routstr_requests_total",
                                   "HTTP requests answered, by route, model and status",
                                   "route,model,status", NULL, 0);
    node.llm_tokens = metrics_family(m, METRICS_COUNTER, "routstr_llm_tokens_total",
                                     "LLM tokens metered on paid requests: prompt (in) and "
                                     "completion (out)",
                                     "direction", NULL, 0);
    node.cashu_tokens = metrics_family(m, METRICS_COUNTER, "routstr_cashu_tokens_total",
                                       "Cashu tokens redeemed (in) and paid out as change or "
                                       "refunds (out)",
                                       "direction", NULL, 0);
    node.cashu_msat = metrics_family(m, METRICS_COUNTER, "routstr_cashu_msat_total",
                                     "Value of those Cashu tokens in msat (in: credited after "
                                     "mint fees)",
                                     "direction", NULL, 0);
    node.earned = metrics_family(m, METRICS_COUNTER, "routstr_earned_msat_total",
                                 "msat charged for settled requests", "", NULL, 0);
    node.reserved = metrics_family(m, METRICS_GAUGE, "routstr_reserved_msat",
                                   "msat reserved right now by this process's requests in flight",
                                   "", NULL, 0);
    node.latency = metrics_family(m, METRICS_HISTOGRAM, "routstr_upstream_latency_seconds",
                                  "Time from sending a request upstream to its response headers",
                                  "", latency_bounds, sizeof(latency_bounds) / sizeof(double));
    node.duration = metrics_family(m, METRICS_HISTOGRAM, "routstr_upstream_duration_seconds",
                                   "Time from sending a request upstream to the end of its "
                                   "response (or failure)",
                                   "", latency_bounds, sizeof(latency_bounds) / sizeof(double));
    node.mint_calls = metrics_family(m, METRICS_COUNTER, "routstr_mint_calls_total",
                                     "Calls the wallet made to Cashu mints", "", NULL, 0);
    node.mint_errors = metrics_family(m, METRICS_COUNTER, "routstr_mint_errors_total",
                                      "Failed mint calls, by kind (unreachable, timeout, unknown "
                                      "outcome, rate_limited, refused) and NUT error code class",
                                      "kind,code_class", NULL, 0);
    node.streams = metrics_family(m, METRICS_GAUGE, "routstr_open_streams",
                                  "Event-stream responses being relayed now", "", NULL, 0);
    node.open_requests = metrics_family(m, METRICS_GAUGE, "routstr_open_requests",
                                        "Requests whose reply is not yet fully written", "", NULL,
                                        0);
    struct timeval now;
    gettimeofday(&now, NULL);
    metrics_set(metrics_family(m, METRICS_GAUGE, "process_start_time_seconds",
                               "Start time of the process since the Unix epoch, in seconds", "",
                               NULL, 0),
                NULL, (double)now.tv_sec + (double)now.tv_usec / 1e6);
    metrics_set(metrics_family(m, METRICS_GAUGE, "routstr_build_info",
                               "The running build: always 1", "version", NULL, 0),
                (const char *const[]){ROUTSTR_VERSION}, 1);
    for (size_t i = 0; i < CASHU_MINT_N_FAILS; i++)
        metrics_add(node.mint_errors, fail_labels[i], 0); /* every kind shows, from zero */
    for (size_t i = 0; i < 2; i++) {
        const char *dir[] = {i ? "out" : "in"};
        metrics_add(node.llm_tokens, dir, 0);
        metrics_add(node.cashu_tokens, dir, 0);
        metrics_add(node.cashu_msat, dir, 0);
    }
}

void metrics_node_stop(void)
{
    metrics_free(node.reg);
    memset(&node, 0, sizeof(node));
}

/* The route label: a fixed set, so a scanner walking paths cannot grow the series. */
static const char *route_of(const char *path)
{
    static const char *const routes[][2] = {
        {"/v1/chat/completions", "chat_completions"}, {"/v1/completions", "completions"},
        {"/v1/embeddings", "embeddings"},             {"/v1/responses", "responses"},
        {"/v1/messages", "messages"},                 {"/v1/models", "models"},
        {"/models", "models"},                        {"/v1/info", "info"},
        {"/v1/providers", "providers"},               {"/health", "health"},
        {"/metrics", "metrics"},
    };
    if (strcmp(path, "/") == 0)
        return "root";
    struct str p = str_from(path);
    if (p.len > 1 && p.p[p.len - 1] == '/')
        p.len--;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (str_eq(p, routes[i][0]))
            return routes[i][1];
    if (str_eq(p, "/v1/balance") || str_has_prefix(p, "/v1/balance/"))
        return "balance";
    if (str_eq(p, "/v1/wallet") || str_has_prefix(p, "/v1/wallet/"))
        return "wallet";
    return "other";
}

void metrics_on_request(const struct app_req *r)
{
    if (node.reg == NULL)
        return;
    char status[16];
    snprintf(status, sizeof(status), "%d", r->status);
    metrics_add(node.requests, (const char *const[]){route_of(r->path), r->model, status}, 1);
}

void metrics_set_model(struct app_req *r, const char *model, const struct billing_model *m)
{
    const char *label = model == NULL                            ? ""
                        : m && strlen(m->id) < sizeof(r->model) ? m->id
                                                                 : "other";
    snprintf(r->model, sizeof(r->model), "%s", label);
}

void metrics_on_reserve(int64_t reserved_msat)
{
    if (node.reg)
        metrics_add(node.reserved, NULL, (double)reserved_msat);
}

void metrics_on_settle(int64_t reserved_msat, int64_t charged_msat, const struct billing_usage *u)
{
    if (node.reg == NULL)
        return;
    metrics_add(node.reserved, NULL, -(double)reserved_msat);
    metrics_add(node.earned, NULL, (double)charged_msat);
    if (u && u->present) {
        /* Prompt tokens are the uncached ones plus those read from and written to a cache. */
        metrics_add(node.llm_tokens, (const char *const[]){"in"},
                    (double)(u->input_tokens + u->cache_read_tokens + u->cache_write_tokens));
        metrics_add(node.llm_tokens, (const char *const[]){"out"}, (double)u->output_tokens);
    }
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

void metrics_on_upstream_headers(const struct timespec *sent)
{
    if (node.reg)
        metrics_observe(node.latency, NULL, seconds_since(sent));
}

void metrics_on_upstream_end(const struct timespec *sent)
{
    if (node.reg)
        metrics_observe(node.duration, NULL, seconds_since(sent));
}

void metrics_on_stream(int delta)
{
    if (node.reg)
        metrics_add(node.streams, NULL, delta);
}

/* Scrape: what other modules count is copied in */

static void collect(const struct app *a)
{
    metrics_set(node.open_requests, NULL, (double)a->n_open);
    if (a->wallet == NULL)
        return;
    const struct cashu_wallet_stats *w = cashu_wallet_stats(a->wallet);
    metrics_set(node.cashu_tokens, (const char *const[]){"in"}, (double)w->tokens_in);
    metrics_set(node.cashu_tokens, (const char *const[]){"out"}, (double)w->tokens_out);
    metrics_set(node.cashu_msat, (const char *const[]){"in"}, (double)w->msat_in);
    metrics_set(node.cashu_msat, (const char *const[]){"out"}, (double)w->msat_out);
    metrics_set(node.mint_calls, NULL, (double)w->mint.calls);
    for (size_t i = 0; i < CASHU_MINT_N_FAILS; i++)
        metrics_set(node.mint_errors, fail_labels[i], (double)w->mint.failed[i]);
}

static bool peer_is_loopback(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const struct sockaddr *sa = evcon ? evhttp_connection_get_addr(evcon) : NULL;
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127; /* ::ffff:127.x.y.z */
    }
    return false;
}

/* Authorization: Bearer <METRICS_TOKEN>, compared in constant time (as hashes, so the length
 * does not show either). */
static bool bearer_ok(struct evhttp_request *req, const char *token)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    struct str given = str_trim(str_from(h + 7));
    uint8_t a[32], b[32];
    crypto_sha256(a, given.p, given.len);
    crypto_sha256(b, token, strlen(token));
    return ct_memeq(a, b, sizeof(a));
}

void metrics_handle(struct app_req *r)
{
    const char *token = r->app->cfg.metrics_token;
    if (!peer_is_loopback(r->req)) {
        if (*token == '\0') {
            app_reply_error(r, 403, "forbidden", "metrics_forbidden",
                            "/metrics is open to loopback only; set METRICS_TOKEN to scrape it "
                            "from elsewhere");
            return;
        }
        if (!bearer_ok(r->req, token)) {
            app_reply_header(r, "WWW-Authenticate", "Bearer realm=\"metrics\"");
            app_reply_error(r, 401, "invalid_request_error", "invalid_metrics_token",
                            "/metrics needs Authorization: Bearer <METRICS_TOKEN>");
            return;
        }
    }
    if (node.reg == NULL) {
        app_reply_error(r, 503, "service_unavailable", "metrics_unavailable",
                        "Metrics are not collected");
        return;
    }
    collect(r->app);
    struct buf b;
    buf_init(&b, METRICS_MAX_OUTPUT);
    if (metrics_render(node.reg, &b) != 0) {
        buf_deinit(&b);
        log_error("metrics: the exposition passed %d bytes", METRICS_MAX_OUTPUT);
        app_reply_error(r, 500, "internal_error", "metrics_too_large",
                        "The metrics exposition is too large");
        return;
    }
    app_reply_headers(r);
    app_reply_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    app_reply_header(r, "Cache-Control", "no-store");
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, b.p ? b.p : "", b.len);
    r->status = 200;
    r->bytes_out = b.len;
    buf_deinit(&b);
    evhttp_send_reply(r->req, 200, "OK", out);
    evbuffer_free(out);
    app_req_log(r);
}
