/* routes.c -- the node's routing table: what is answered here and what goes upstream.
 *
 *   OPTIONS + Origin + Access-Control-Request-Method   CORS preflight (any path)
 *   GET /              node summary (JSON); a browser (Accept: text/html) goes to /admin/
 *   GET /health        200 while serving
 *   GET /metrics       Prometheus text format (metrics.c): loopback, or METRICS_TOKEN
 *   GET /v1/info       node info (spec/routstr-api.md §1.1)
 *   GET /v1/providers/ other Routstr nodes found on Nostr (nostr_app.c)
 *   GET /v1/models     the catalogue with sats prices (pricing.c), also /models
 *   *   /v1/balance/..., /v1/wallet/...   the balance API (balance.c)
 *   *   /v1/...        the reverse proxy (proxy.c)
 *   *   /admin/api/... the operator's dashboard API (admin.c, docs/admin-api.md)
 *   GET /admin/...     the dashboard's static files (web.c)
 *   anything else      404 in the proxy error envelope */
#include <string.h>

#include "app/admin.h"
#include "app/app.h"
#include "app/metrics.h"
#include "app/nostr_app.h"
#include "app/pricing.h"
#include "app/web.h"
#include "base/str.h"

static json_t *mints_array(const struct config *c)
{
    json_t *a = json_array();
    for (const char *p = c->cashu_mints; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, n));
        p += n + (comma ? 1 : 0);
    }
    return a;
}

static void info(struct app_req *r)
{
    const struct config *c = &r->app->cfg;
    const char *npub = r->app->nostr ? nostr_app_npub(r->app->nostr) : c->npub;
    /* Beyond the reference's fields: how to stream an X-Cashu request live (the change then
     * comes as a last "cashu-change" SSE event instead of the X-Cashu response header). */
    app_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:{s:s, s:s}}", "name",
                             c->name, "description", c->description, "version", ROUTSTR_VERSION,
                             "npub", npub, "mints", mints_array(c), "http_url", c->http_url,
                             "onion_url", c->onion_url, "child_key_cost_msats", 0, "x_cashu",
                             "live_stream_header", "X-Cashu-Stream: live", "live_change_event",
                             "cashu-change"));
}

static void root(struct app_req *r)
{
    const struct config *c = &r->app->cfg;
    app_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:s}", "name", c->name, "description",
                             c->description, "version", ROUTSTR_VERSION, "status", "running"));
}

static bool is_get(struct app_req *r)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
}

void app_handle(struct evhttp_request *req, void *ud)
{
    struct app *a = ud;
    struct app_req *r = app_req_new(a, req);
    struct str path = str_from(r->path);

    if (app_cors_preflight(r))
        return;
    if (a->stopping) {
        /* A request on a connection kept alive from before SIGTERM: not served, and told so
         * (the reply carries Connection: close). */
        app_reply_error(r, 503, "service_unavailable", "shutting_down",
                        "The node is shutting down; retry on another connection");
        return;
    }
    if (str_has_prefix(path, "/v1/") || str_eq(path, "/v1")) {
        if (str_eq(path, "/v1/info") && is_get(r)) {
            info(r);
            return;
        }
        if ((str_eq(path, "/v1/providers") || str_eq(path, "/v1/providers/")) && is_get(r)) {
            nostr_app_providers(a->nostr, r);
            return;
        }
        if ((str_eq(path, "/v1/models") || str_eq(path, "/v1/models/")) && is_get(r)) {
            pricing_models(r);
            return;
        }
        if (str_has_prefix(path, "/v1/balance") || str_has_prefix(path, "/v1/wallet")) {
            size_t skip = str_has_prefix(path, "/v1/balance") ? 11 : 10;
            if (path.len == skip || path.p[skip] == '/') {
                balance_handle(r, path.p + skip);
                return;
            }
        }
        /* The rest of the request target after "/v1", query string included. */
        proxy_handle(r, evhttp_request_get_uri(req) + 3);
        return;
    }
    if (str_has_prefix(path, "/admin/api/") || str_eq(path, "/admin/api")) {
        admin_handle(r, r->path + 10);
        return;
    }
    if (str_eq(path, "/admin") || str_has_prefix(path, "/admin/")) {
        web_handle(r);
        return;
    }
    if (str_eq(path, "/") && is_get(r)) {
        if (!web_browser_root(r))
            root(r);
        return;
    }
    if ((str_eq(path, "/models") || str_eq(path, "/models/")) && is_get(r)) {
        pricing_models(r);
        return;
    }
    if (str_eq(path, "/metrics") && is_get(r)) {
        metrics_handle(r);
        return;
    }
    if (str_eq(path, "/health") && is_get(r)) {
        app_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    app_reply_error(r, 404, "not_found", NULL, "Path '%s' not found", r->path);
}
