/* pricing.c -- see pricing.h. */
#include "app/pricing.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "app/admin.h"
#include "app/app.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "http/client.h"

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = xmalloc(cap);
    size_t got;
    while ((got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= (64u << 20)) { /* a catalogue is a few MiB at most */
                free(p);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            cap *= 2;
            p = xrealloc(p, cap);
        }
    }
    fclose(f);
    *len = n;
    return p;
}

/* models.example.json ships beside the binary's source tree: look in the working directory,
 * then next to the executable (build/routstr → ../models.example.json). */
static char *read_example(size_t *len, char *used, size_t used_len)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    const char *candidates[3] = {"models.example.json", NULL, NULL};
    char a[4200], b[4200];
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(a, sizeof(a), "%s/../models.example.json", exe);
            snprintf(b, sizeof(b), "%s/../../models.example.json", exe);
            candidates[1] = a;
            candidates[2] = b;
        }
    }
    for (size_t i = 0; i < 3; i++) {
        char *text = candidates[i] ? read_file(candidates[i], len) : NULL;
        if (text) {
            snprintf(used, used_len, "%s", candidates[i]);
            return text;
        }
    }
    return NULL;
}

static void schedule_prices(struct app *a, long ms);

static void prices_round_done(struct app *a)
{
    double rate;
    if (billing_btc_usd_combine(a->price_quotes, a->n_price_quotes, &rate) == 0) {
        a->btc_usd = rate;
        a->btc_usd_at_ms = wall_ms();
        log_debug("BTC/USD %.2f from %zu source(s)", rate, a->n_price_quotes);
    } else {
        log_warn("BTC/USD: no exchange answered; keeping the last price");
    }
    free(a->price_quotes);
    a->price_quotes = NULL;
    a->n_price_quotes = 0;
    schedule_prices(a, (long)a->cfg.price_refresh_ms);
}

struct feed {
    struct app *a;
    char *path;
};

static void on_quote(const struct http_fetch_res *res, void *ud)
{
    struct feed *f = ud;
    struct app *a = f->a;
    double q;
    if (res->status == HTTP_XFER_OK && res->code == 200 &&
        billing_quote_parse(&q, res->body, res->len, f->path) == 0) {
        a->price_quotes = xrealloc(a->price_quotes, (a->n_price_quotes + 1) * sizeof(double));
        a->price_quotes[a->n_price_quotes++] = q;
    }
    free(f->path);
    free(f);
    if (--a->price_pending == 0)
        prices_round_done(a);
}

/* One round: every source at once; the round ends when the last answers. */
static void fetch_prices(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    const char *p = a->cfg.btc_price_sources;
    a->price_pending = 1; /* held until every request is started */
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *entry = xstrndup(p, n);
        char *bar = strchr(entry, '|');
        if (bar) {
            *bar = '\0';
            struct feed *f = xcalloc(1, sizeof(*f));
            f->a = a;
            f->path = xstrdup(bar + 1);
            struct http_fetch_req req = {.method = "GET", .url = entry, .timeout_ms = 10000,
                                         .connect_timeout_ms = 5000, .max_bytes = 1 << 16,
                                         .proxy = *a->cfg.tor_proxy_url ? a->cfg.tor_proxy_url
                                                                       : NULL};
            a->price_pending++;
            if (http_fetch(a->client, &req, on_quote, f) != 0) {
                a->price_pending--;
                free(f->path);
                free(f);
            }
        }
        free(entry);
        p += n + (comma ? 1 : 0);
    }
    if (--a->price_pending == 0)
        prices_round_done(a);
}

static void schedule_prices(struct app *a, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(a->price_timer, &tv);
}

static void free_catalog(void *p)
{
    billing_catalog_deinit(p);
    free(p);
}

int pricing_catalog_load(struct app *a, bool reread, char err[ERR_LEN])
{
    const struct config *c = &a->cfg;
    if (!reread && a->models_text == NULL)
        return E_OK; /* no catalogue (a fixed-price node without a file): nothing to redo */
    if (reread) {
        size_t len = 0;
        char used[sizeof(a->models_source)];
        snprintf(used, sizeof(used), "%s", c->models_path);
        char *text = read_file(c->models_path, &len);
        if (text == NULL && errno == ENOENT)
            text = read_example(&len, used, sizeof(used));
        if (text == NULL) {
            snprintf(err, ERR_LEN, "MODELS_PATH: cannot read %s (nor models.example.json)",
                     c->models_path);
            return E_IO;
        }
        /* Checked before it replaces the text that parses. */
        struct billing_catalog probe = {0};
        if (billing_catalog_parse(&probe, text, len, err) != 0) {
            free(text);
            log_error("models: %s", used);
            return E_PROTO;
        }
        billing_catalog_deinit(&probe);
        free(a->models_text);
        a->models_text = text;
        a->models_len = len;
        snprintf(a->models_source, sizeof(a->models_source), "%s", used);
    }
    struct billing_catalog fresh = {0};
    if (billing_catalog_parse(&fresh, a->models_text, a->models_len, err) != 0)
        return E_PROTO;
    admin_models_apply(a, &fresh);
    /* Requests in flight may point at models of the current catalogue: it is retired, not
     * freed (admin.h). */
    struct billing_catalog *old = xmalloc(sizeof(*old));
    *old = a->catalog;
    a->catalog = fresh;
    if (a->admin)
        admin_retire(a, old, free_catalog);
    else
        free_catalog(old);
    return E_OK;
}

static void fixed_rates(struct app *a)
{
    const struct config *c = &a->cfg;
    a->fixed = (struct billing_fixed){
        .per_request_msat = c->fixed_cost_per_request_sat * 1000,
        .per_1k_input_msat = c->fixed_per_1k_input_sat * 1000,
        .per_1k_output_msat = c->fixed_per_1k_output_sat * 1000,
    };
}

int pricing_init(struct app *a, char err[ERR_LEN])
{
    const struct config *c = &a->cfg;
    fixed_rates(a);
    int rc = pricing_catalog_load(a, true, err);
    if (rc == E_IO && c->fixed_pricing)
        rc = E_OK; /* a fixed-price node needs no catalogue */
    if (rc != E_OK)
        return rc;
    if (a->models_text)
        log_info("models: %zu from %s", a->catalog.n, a->models_source);
    a->price_timer = evtimer_new(a->base, fetch_prices, a);
    if (!c->fixed_pricing)
        schedule_prices(a, 0); /* at once; then every PRICING_REFRESH_INTERVAL_SECONDS */
    return E_OK;
}

void pricing_settings_changed(struct app *a)
{
    fixed_rates(a);
    /* Prices from the catalogue need BTC/USD: start fetching if nothing is under way. */
    if (!a->cfg.fixed_pricing && a->price_timer && !evtimer_pending(a->price_timer, NULL) &&
        a->price_pending == 0)
        schedule_prices(a, 0);
}

void pricing_deinit(struct app *a)
{
    if (a->price_timer)
        event_free(a->price_timer);
    free(a->price_quotes);
    billing_catalog_deinit(&a->catalog);
    free(a->models_text);
    a->models_text = NULL;
}

struct billing_rates pricing_rates(const struct app *a, bool *usable)
{
    const struct config *c = &a->cfg;
    if (usable)
        *usable = a->btc_usd > 0 && wall_ms() - a->btc_usd_at_ms <= c->price_max_age_ms;
    return (struct billing_rates){
        .btc_usd = a->btc_usd,
        .exchange_fee = c->exchange_fee,
        .provider_fee = c->upstream_provider_fee,
        .tolerance_pct = c->tolerance_pct,
        .min_request_msat = c->min_request_msat,
    };
}

const struct billing_fixed *pricing_fixed(const struct app *a)
{
    return a->cfg.fixed_pricing ? &a->fixed : NULL;
}

bool pricing_free(const struct app *a)
{
    return a->cfg.fixed_pricing && a->fixed.per_request_msat == 0 &&
           a->fixed.per_1k_input_msat == 0 && a->fixed.per_1k_output_msat == 0;
}

void pricing_models(struct app_req *r)
{
    struct app *a = r->app;
    struct billing_rates rates = pricing_rates(a, NULL);
    json_t *data = json_array();
    for (size_t i = 0; i < a->catalog.n; i++)
        if (a->catalog.models[i].enabled)
            json_array_append_new(data, billing_model_json(&a->catalog.models[i], &rates));
    app_reply_json(r, 200, json_pack("{s:o}", "data", data));
}
