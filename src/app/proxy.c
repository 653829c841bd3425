/* proxy.c -- the /v1 reverse proxy.
 *
 * A request under /v1/ is forwarded to UPSTREAM_BASE_URL + the rest of its path, query string
 * kept and body untouched. The client's credentials never leave: every header that can carry
 * one, and every hop-by-hop header, is dropped, and the operator's key is put in their place.
 *
 * The answer streams back as it arrives. evhttp buffers whatever we push, so the transfer is
 * paused while the client's output buffer is above PROXY_HIGH_WATER and resumed when it has
 * drained (h2o's proceed/stop). A client that goes away aborts the upstream transfer, noticed
 * either through EV_CLOSED on its socket while we wait or through evhttp's close callback when
 * a write fails.
 *
 * Lifetime: a 'struct proxy_req' lives from proxy_handle() to finish(), which runs exactly once
 * on every path (upstream done, upstream failed, client gone, shutdown). After finish() neither
 * the evhttp request nor the transfer is touched again. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "app/app.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "http/client.h"
#include "http/server.h"

#define PROXY_HIGH_WATER (64 * 1024)

struct proxy_req {
    struct app_req r; /* first: the shared per-request state */
    struct http_xfer *xfer;
    struct evhttp_connection *evcon;
    struct http_close_watch watch;
    struct evbuffer *chunk;
    char *url;
    struct proxy_req *prev, *next;
    bool reply_started;
    bool paused;
};

/* Request headers that never reach the upstream: credentials (ours to check, never the
 * upstream's to see), hop-by-hop headers (RFC 9110 §7.6.1), and what curl sets itself. */
static const char *const drop_request[] = {
    "authorization", "x-api-key", "cookie", "proxy-authorization", "x-cashu", "refund-lnurl",
    "key-expiry-time", "connection", "keep-alive", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length", "expect",
};

/* Response headers that are not passed back: hop-by-hop ones, and CORS, which is ours to set. */
static const char *const drop_response[] = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "proxy-authenticate", "x-routstr-request-id",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(name, list[i]) == 0)
            return true;
    return false;
}

/* True when 'name' is listed in the Connection header's tokens (RFC 9110 §7.6.1). */
static bool named_by_connection(const char *name, const char *connection)
{
    if (connection == NULL)
        return false;
    size_t n = strlen(name);
    for (const char *p = connection; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        struct str tok = str_trim((struct str){p, len});
        if (tok.len == n && strncasecmp(tok.p, name, n) == 0)
            return true;
        p += len + (comma ? 1 : 0);
    }
    return false;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void link_req(struct app *a, struct proxy_req *p)
{
    p->next = a->inflight;
    if (a->inflight)
        a->inflight->prev = p;
    a->inflight = p;
    a->n_inflight++;
}

static void unlink_req(struct app *a, struct proxy_req *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        a->inflight = p->next;
    if (p->next)
        p->next->prev = p->prev;
    a->n_inflight--;
}

/* Frees a request's state once nothing refers to it any more. */
static void release(struct proxy_req *p)
{
    struct app *a = p->r.app;
    unlink_req(a, p);
    evbuffer_free(p->chunk);
    free(p->url);
    free(p);
    app_maybe_exit(a);
}

/* Stops every callback that could still reach 'p' from the client side. */
static void detach_client(struct proxy_req *p)
{
    http_close_watch_stop(&p->watch);
    if (p->evcon)
        evhttp_connection_set_closecb(p->evcon, NULL, NULL);
}

/* The one exit of every proxied request whose reply is not sent as a whole by app_reply_*. */
static void finish(struct proxy_req *p)
{
    detach_client(p);
    if (p->xfer) {
        http_xfer_abort(p->xfer);
        p->xfer = NULL;
    }
    app_req_log(&p->r);
    release(p);
}

/* evhttp is tearing the client connection down (a write failed, or a timeout). If it already
 * detached our request from the connection, the request is ours to free. */
static void on_evcon_close(struct evhttp_connection *evcon, void *arg)
{
    struct proxy_req *p = arg;
    p->evcon = NULL;
    p->r.status = 499; /* nginx's "client closed request" */
    if (evhttp_request_get_connection(p->r.req) == NULL)
        evhttp_request_free(p->r.req);
    finish(p);
}

/* Drops the client connection: used when the client left, or when the upstream failed after
 * the status line went out (a clean end would tell the client the answer was complete). */
static void drop_client(struct proxy_req *p, int status)
{
    struct evhttp_connection *evcon = p->evcon;
    p->r.status = status;
    detach_client(p);
    p->evcon = NULL;
    if (evcon)
        evhttp_connection_free(evcon); /* frees the request still queued on it */
    finish(p);
}

static void on_client_fin(void *arg)
{
    struct proxy_req *p = arg;
    if (p->xfer) {
        http_xfer_abort(p->xfer);
        p->xfer = NULL;
    }
    drop_client(p, 499);
}

static void on_drain(struct evhttp_connection *evcon, void *arg)
{
    struct proxy_req *p = arg;
    if (p->paused && p->xfer) {
        p->paused = false;
        http_xfer_resume(p->xfer);
    }
}

static int on_headers(struct http_xfer *x, long status, void *ud)
{
    struct proxy_req *p = ud;
    struct evkeyvalq *out = evhttp_request_get_output_headers(p->r.req);
    const char *connection = NULL;
    struct curl_header *h = NULL;
    while ((h = http_xfer_next_header(x, h)) != NULL)
        if (strcasecmp(h->name, "connection") == 0)
            connection = h->value;
    h = NULL;
    while ((h = http_xfer_next_header(x, h)) != NULL) {
        if (in_list(h->name, drop_response, NELEM(drop_response)) ||
            strncasecmp(h->name, "access-control-", 15) == 0 ||
            named_by_connection(h->name, connection))
            continue;
        evhttp_add_header(out, h->name, h->value);
    }
    app_reply_headers(&p->r);
    p->r.status = (int)status;
    p->reply_started = true;
    evhttp_send_reply_start(p->r.req, (int)status, NULL);
    return 0;
}

static size_t on_data(struct http_xfer *x, const char *data, size_t len, void *ud)
{
    struct proxy_req *p = ud;
    if (p->evcon == NULL)
        return 0;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(p->evcon);
    if (evbuffer_get_length(bufferevent_get_output(bev)) >= PROXY_HIGH_WATER) {
        p->paused = true; /* on_drain resumes; curl hands this piece again then */
        return HTTP_XFER_PAUSE;
    }
    evbuffer_add(p->chunk, data, len);
    evhttp_send_reply_chunk_with_cb(p->r.req, p->chunk, on_drain, p);
    p->r.bytes_out += len;
    return len;
}

static void on_done(struct http_xfer *x, int status, const char *detail, void *ud)
{
    struct proxy_req *p = ud;
    p->xfer = NULL; /* freed by the client module right after this returns */
    if (status == HTTP_XFER_OK) {
        if (!p->reply_started)
            on_headers(x, 200, p);
        detach_client(p);
        evhttp_send_reply_end(p->r.req);
        finish(p);
        return;
    }
    if (p->reply_started) {
        log_warn("upstream failed mid-answer (%s) %s", detail, p->r.id);
        drop_client(p, p->r.status);
        return;
    }
    detach_client(p);
    log_warn("upstream %s: %s %s", status == HTTP_XFER_IDLE_TIMEOUT ? "timed out" : "failed",
             detail, p->r.id);
    if (status == HTTP_XFER_IDLE_TIMEOUT)
        app_reply_error(&p->r, 504, "upstream_error", NULL, "Upstream service request timed out");
    else
        app_reply_error(&p->r, 502, "upstream_error", NULL,
                        "Unable to connect to upstream service");
    release(p); /* app_reply_error sent and logged it */
}

static const struct http_xfer_cbs proxy_cbs = {on_headers, on_data, on_done};

/* Rejects request targets with dot segments, which curl would resolve out of the upstream's
 * base path. */
static bool safe_target(const char *rest)
{
    size_t n = strcspn(rest, "?#");
    for (size_t i = 0; i < n; i++) {
        if (rest[i] != '/')
            continue;
        const char *seg = rest + i + 1;
        size_t len = strcspn(seg, "/?#");
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
    }
    return strchr(rest, '#') == NULL;
}

static struct curl_slist *upstream_headers(struct evhttp_request *req, const char *key)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *connection = evhttp_find_header(in, "Connection");
    struct curl_slist *list = NULL;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, in, next) {
        if (in_list(kv->key, drop_request, NELEM(drop_request)) ||
            named_by_connection(kv->key, connection))
            continue;
        /* curl sends "Name;" as an empty header; "Name:" would remove it. */
        char *line = *kv->value ? xasprintf("%s: %s", kv->key, kv->value)
                                : xasprintf("%s;", kv->key);
        list = curl_slist_append(list, line);
        free(line);
    }
    if (*key) {
        char *auth = xasprintf("Authorization: Bearer %s", key);
        list = curl_slist_append(list, auth);
        free(auth);
    }
    list = curl_slist_append(list, "Expect:"); /* no 100-continue round trip */
    return list;
}

void proxy_handle(struct app_req *r, const char *rest)
{
    struct app *a = r->app;
    const struct config *c = &a->cfg;
    if (*c->upstream_base_url == '\0') {
        app_reply_error(r, 503, "upstream_error", "upstream_not_configured",
                        "No upstream configured: set UPSTREAM_BASE_URL to an OpenAI-compatible API");
        return;
    }
    if (!safe_target(rest)) {
        app_reply_error(r, 400, "invalid_request_error", "invalid_path",
                        "Path segments '.' and '..' are not allowed");
        return;
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    if (evcon == NULL)
        return;

    struct proxy_req *p = xcalloc(1, sizeof(*p));
    p->r = *r;
    p->evcon = evcon;
    p->chunk = evbuffer_new();
    p->url = xasprintf("%s%s", c->upstream_base_url, rest);
    link_req(a, p);

    struct evbuffer *body = evhttp_request_get_input_buffer(r->req);
    size_t body_len = evbuffer_get_length(body);
    struct http_xfer_req xr = {
        .method = p->r.method,
        .url = p->url,
        .headers = upstream_headers(r->req, c->upstream_api_key),
        .body = body_len ? evbuffer_pullup(body, -1) : NULL,
        .body_len = body_len,
        .connect_timeout_ms = (long)c->upstream_connect_timeout_ms,
        .idle_timeout_ms = (long)c->upstream_idle_timeout_ms,
        .proxy = *c->tor_proxy_url ? c->tor_proxy_url : NULL,
    };
    p->xfer = http_xfer_start(a->client, &xr, &proxy_cbs, p);
    if (p->xfer == NULL) {
        app_reply_error(&p->r, 502, "upstream_error", NULL, "Unable to start the upstream request");
        release(p);
        return;
    }
    evhttp_connection_set_closecb(evcon, on_evcon_close, p);
    http_close_watch_start(&p->watch, r->req, on_client_fin, p);
}

void proxy_abort_all(struct app *a)
{
    while (a->inflight) {
        struct proxy_req *p = a->inflight;
        if (p->xfer) {
            http_xfer_abort(p->xfer);
            p->xfer = NULL;
        }
        drop_client(p, p->reply_started ? p->r.status : 503);
    }
}
