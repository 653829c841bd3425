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
 * Lifetime: a 'struct proxy_req' lives from proxy_handle() until the upstream transfer ends
 * (on_done) or the client connection dies first (proxy_gone, through the request's 'gone' hook);
 * release() runs exactly once on every path. The request itself (struct app_req) lives on until
 * its reply is written out (request.c).
 *
 * Speculative forwarding (proxy_forward_gated, paid.c): the transfer starts before the payment
 * is settled, behind a gate. Until paid opens it, nothing of the answer is acted on: its
 * headers are kept aside, the transfer is paused at the first body byte (curl holds that piece
 * and the kernel the rest), and an end is recorded. Opening replays what was kept, in order,
 * exactly as if it had just arrived; failing aborts the transfer, and the client, which got
 * nothing, gets paid's error instead. A client that leaves meanwhile aborts the transfer at
 * once; the state then waits for paid's verdict to be freed. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "app/admin.h"
#include "app/app.h"
#include "app/metrics.h"
#include "app/paid.h"
#include "app/pricing.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "http/client.h"
#include "http/server.h"

#define PROXY_HIGH_WATER (64 * 1024)
#define PROXY_MAX_BUFFERED (32 << 20) /* a metered JSON answer held to add its cost */
#define PROXY_MAX_SSE_EVENT (4 << 20)

struct proxy_req {
    struct app_req *r;
    struct http_xfer *xfer;
    struct http_close_watch watch;
    struct evbuffer *chunk;
    char *url;
    bool reply_started;
    bool paused;
    bool upstream_broke; /* the upstream failed after the status line went out: once what
                            it did send is written, the client connection is cut */
    bool event_stream;   /* an SSE answer, counted in the open streams until release() */
    struct timespec sent; /* when the request went upstream (CLOCK_MONOTONIC) */
    /* A paid request (paid.c): how its answer is relayed, and what is held meanwhile. */
    struct paid *pd;
    enum paid_relay relay;
    long status;
    bool answered;       /* the upstream's headers came */
    bool settling;       /* paid.c is settling: the reply waits for it */
    bool client_left;    /* ...and the client left meanwhile */
    char *body;          /* a replaced request body (owned) */
    struct buf held;     /* RELAY_BUFFER: the answer */
    struct sse_parser sse;
    struct evkeyvalq up_headers; /* gated: the upstream's header block, kept for the opening */
    /* The gate (speculative forwarding). */
    bool gated;          /* paid has not said yet: nothing reaches the client or paid */
    bool gate_paused;    /* the transfer waits at its first body byte */
    bool got_headers;    /* the header block came (in up_headers, status in 'status') */
    bool ended;          /* the transfer ended while gated: */
    int end_status;      /* ...how (enum http_xfer_status) */
    char *end_detail;
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

/* Frees the proxy's state; the client side no longer reaches it. */
static void release(struct proxy_req *p)
{
    http_close_watch_stop(&p->watch);
    if (p->event_stream)
        metrics_on_stream(-1);
    if (!p->client_left) /* else the request is gone already */
        p->r->gone = NULL;
    if (p->xfer)
        http_xfer_abort(p->xfer);
    if (p->pd) /* still unsettled: the client left or the transfer failed */
        paid_on_end(p->pd, p->answered ? PAID_GONE : PAID_NO_ANSWER, NULL, 0, NULL, NULL);
    evbuffer_free(p->chunk);
    evhttp_clear_headers(&p->up_headers);
    free(p->end_detail);
    buf_deinit(&p->held);
    sse_deinit(&p->sse);
    free(p->body);
    free(p->url);
    free(p);
}

/* The client connection died first: stop the upstream transfer. */
static void proxy_gone(struct app_req *r)
{
    struct proxy_req *p = r->gone_ud;
    if (!p->upstream_broke)
        r->status = 499; /* nginx's "client closed request" */
    app_req_log(r);
    if (p->gated && p->xfer) { /* nobody will read the answer: stop paying for it now */
        http_xfer_abort(p->xfer);
        p->xfer = NULL;
    }
    if (p->settling || p->gated) { /* paid.c calls back later; the state is freed then */
        p->client_left = true;
        http_close_watch_stop(&p->watch);
        r->gone = NULL;
        return;
    }
    release(p);
}

/* The client closed its side while we wait or stream (EV_CLOSED): close ours too; the request
 * ends through proxy_gone. */
static void on_client_fin(void *arg)
{
    struct proxy_req *p = arg;
    app_req_drop(p->r);
}

static size_t client_backlog(struct proxy_req *p)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(p->r->req);
    return evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(evcon)));
}

static void on_drain(struct evhttp_connection *evcon, void *arg)
{
    struct proxy_req *p = arg;
    if (p->upstream_broke) {
        app_req_drop(p->r); /* all it sent is out: now the truncation shows */
        return;
    }
    if (p->paused && p->xfer) {
        p->paused = false;
        http_xfer_resume(p->xfer);
    }
}

/* The upstream's headers one by one: curl's own while the transfer reports them ('x'), else
 * the copy the gate kept (up_headers), so an ungated answer is never copied. '*it' starts NULL. */
static bool next_header(struct proxy_req *p, struct http_xfer *x, void **it, const char **name,
                        const char **value)
{
    if (x) {
        struct curl_header *h = http_xfer_next_header(x, *it);
        if (h == NULL)
            return false;
        *it = h, *name = h->name, *value = h->value;
        return true;
    }
    struct evkeyval *kv = *it ? TAILQ_NEXT((struct evkeyval *)*it, next)
                              : TAILQ_FIRST(&p->up_headers);
    if (kv == NULL)
        return false;
    *it = kv, *name = kv->key, *value = kv->value;
    return true;
}

/* The upstream's headers go to the client (or are held for paid.c to add the cost first). */
static void apply_headers(struct proxy_req *p, struct http_xfer *x)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(p->r->req);
    const char *connection = NULL, *ctype = NULL, *name, *value;
    void *it = NULL;
    while (next_header(p, x, &it, &name, &value)) {
        if (strcasecmp(name, "connection") == 0)
            connection = value;
        else if (strcasecmp(name, "content-type") == 0)
            ctype = value;
    }
    p->answered = true;
    p->event_stream = ctype && strncasecmp(ctype, "text/event-stream", 17) == 0;
    if (p->event_stream)
        metrics_on_stream(+1);
    p->relay = p->pd ? paid_on_headers(p->pd, p->status, ctype) : RELAY_PASS;
    it = NULL;
    while (next_header(p, x, &it, &name, &value)) {
        if (in_list(name, drop_response, NELEM(drop_response)) ||
            strncasecmp(name, "access-control-", 15) == 0 || named_by_connection(name, connection))
            continue;
        /* A body that routstr rewrites (cost added) gets its own length. */
        if (p->relay != RELAY_PASS && strcasecmp(name, "content-length") == 0)
            continue;
        evhttp_add_header(out, name, value);
    }
    app_reply_headers(p->r);
    p->r->status = (int)p->status;
    if (p->relay == RELAY_SSE || p->relay == RELAY_SSE_HELD)
        sse_init(&p->sse, PROXY_MAX_SSE_EVENT);
    if (p->relay == RELAY_BUFFER || p->relay == RELAY_SSE_HELD)
        return; /* the reply starts once the cost (and any change) is known */
    p->reply_started = true;
    evhttp_send_reply_start(p->r->req, (int)p->status, NULL);
}

static void keep_headers(struct proxy_req *p, struct http_xfer *x)
{
    struct curl_header *h = NULL;
    while ((h = http_xfer_next_header(x, h)) != NULL)
        evhttp_add_header(&p->up_headers, h->name, h->value);
}

static int on_headers(struct http_xfer *x, long status, void *ud)
{
    struct proxy_req *p = ud;
    p->got_headers = true;
    p->status = status;
    metrics_on_upstream_headers(&p->sent);
    if (p->gated)
        keep_headers(p, x); /* for proxy_gate_open: curl's are gone with the transfer */
    else
        apply_headers(p, x);
    return 0;
}

static int on_sse_event(const struct sse_event *ev, void *ud)
{
    struct proxy_req *p = ud;
    paid_on_event(p->pd, ev, p->chunk);
    return 0;
}

static size_t on_data(struct http_xfer *x, const char *data, size_t len, void *ud)
{
    struct proxy_req *p = ud;
    if (p->gated) {
        p->gate_paused = true; /* proxy_gate_open resumes; curl hands this piece again then */
        return HTTP_XFER_PAUSE;
    }
    if (p->relay == RELAY_BUFFER)
        return buf_append(&p->held, data, len) == 0 ? len : 0; /* past the cap: fails */
    if (p->relay == RELAY_SSE_HELD) {
        if (sse_feed(&p->sse, data, len, on_sse_event, p) != 0)
            return 0;
        size_t n = evbuffer_get_length(p->chunk);
        bool fits = buf_append(&p->held, (const char *)evbuffer_pullup(p->chunk, -1), n) == 0;
        evbuffer_drain(p->chunk, n);
        return fits ? len : 0;
    }
    if (client_backlog(p) >= PROXY_HIGH_WATER) {
        p->paused = true; /* on_drain resumes; curl hands this piece again then */
        return HTTP_XFER_PAUSE;
    }
    if (p->relay == RELAY_SSE) {
        if (sse_feed(&p->sse, data, len, on_sse_event, p) != 0)
            return 0; /* an event over the cap: the stream is cut */
    } else {
        evbuffer_add(p->chunk, data, len);
        if (p->pd)
            paid_on_bytes(p->pd, len);
    }
    size_t n = evbuffer_get_length(p->chunk);
    if (n) {
        evhttp_send_reply_chunk_with_cb(p->r->req, p->chunk, on_drain, p);
        p->r->bytes_out += n;
    }
    return len;
}

/* Settlement is done: send what paid.c made (the rewritten body, or the stream's last chunk). */
static void on_paid(void *ud, struct evbuffer *out)
{
    struct proxy_req *p = ud;
    struct app_req *r = p->r;
    p->settling = false;
    if (p->client_left) {
        release(p);
        return;
    }
    if (p->relay == RELAY_BUFFER || p->relay == RELAY_SSE_HELD) {
        struct evbuffer *body = evbuffer_new();
        if (p->relay == RELAY_SSE_HELD) { /* the held stream, then its last chunk */
            evbuffer_add(body, p->held.p ? p->held.p : "", p->held.len);
            if (out)
                evbuffer_add_buffer(body, out);
        } else if (out && evbuffer_get_length(out)) {
            evbuffer_add_buffer(body, out);
        } else {
            evbuffer_add(body, p->held.p ? p->held.p : "", p->held.len);
        }
        r->bytes_out = evbuffer_get_length(body);
        release(p);
        evhttp_send_reply(r->req, r->status, NULL, body);
        evbuffer_free(body);
    } else {
        if (out && evbuffer_get_length(out)) {
            r->bytes_out += evbuffer_get_length(out);
            evhttp_send_reply_chunk(r->req, out);
        }
        release(p);
        evhttp_send_reply_end(r->req);
    }
    app_req_log(r);
}

/* The transfer's end, as it happened ('x') or as the gate replays it ('x' NULL). */
static void transfer_ended(struct proxy_req *p, struct http_xfer *x, int status,
                           const char *detail)
{
    struct app_req *r = p->r;
    if (status == HTTP_XFER_OK) {
        if (!p->answered) {
            p->status = 200;
            apply_headers(p, x);
        }
        if (p->pd) {
            struct paid *pd = p->pd;
            p->pd = NULL;
            if (p->relay == RELAY_SSE || p->relay == RELAY_SSE_HELD)
                sse_finish(&p->sse, on_sse_event, p);
            if (p->relay == RELAY_SSE_HELD && evbuffer_get_length(p->chunk)) {
                size_t n = evbuffer_get_length(p->chunk);
                buf_append(&p->held, (const char *)evbuffer_pullup(p->chunk, -1), n);
                evbuffer_drain(p->chunk, n);
            }
            p->settling = true;
            paid_on_end(pd, PAID_COMPLETE, p->held.p, p->held.len, on_paid, p);
            return;
        }
        release(p);
        evhttp_send_reply_end(r->req);
        app_req_log(r);
        return;
    }
    if (p->pd && paid_is_xcashu(p->pd) && !p->reply_started) {
        /* The token was redeemed: the answer is the error with a refund of all of it. */
        struct paid *pd = p->pd;
        p->pd = NULL;
        log_warn("upstream %s: %s %s", status == HTTP_XFER_IDLE_TIMEOUT ? "timed out" : "failed",
                 detail, r->id);
        r->status = status == HTTP_XFER_IDLE_TIMEOUT ? 504 : 502;
        if (!p->answered) {
            app_reply_headers(r);
            evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                              "application/json");
        }
        p->relay = RELAY_BUFFER;
        p->settling = true;
        paid_on_end(pd, PAID_NO_ANSWER, NULL, 0, on_paid, p);
        return;
    }
    if (p->pd) {
        struct paid *pd = p->pd;
        p->pd = NULL;
        paid_on_end(pd, p->reply_started ? PAID_BROKEN : PAID_NO_ANSWER, NULL, 0, NULL, NULL);
    }
    if (p->reply_started) {
        /* A clean end would tell the client the answer was complete: cut the connection, but
         * only once what the upstream did send has been written (on_drain). */
        log_warn("upstream failed mid-answer (%s) %s", detail, r->id);
        p->upstream_broke = true;
        if (client_backlog(p) == 0)
            app_req_drop(r);
        return;
    }
    release(p);
    log_warn("upstream %s: %s %s", status == HTTP_XFER_IDLE_TIMEOUT ? "timed out" : "failed",
             detail, r->id);
    if (status == HTTP_XFER_IDLE_TIMEOUT)
        app_reply_error(r, 504, "upstream_error", NULL, "Upstream service request timed out");
    else
        app_reply_error(r, 502, "upstream_error", NULL, "Unable to connect to upstream service");
}

static void on_done(struct http_xfer *x, int status, const char *detail, void *ud)
{
    struct proxy_req *p = ud;
    p->xfer = NULL; /* the client module frees it right after this returns */
    metrics_on_upstream_end(&p->sent);
    if (p->gated) { /* kept for proxy_gate_open */
        if (!p->got_headers && status == HTTP_XFER_OK)
            keep_headers(p, x); /* an answer without a header block of its own */
        p->ended = true;
        p->end_status = status;
        p->end_detail = xstrdup(detail ? detail : "");
        return;
    }
    transfer_ended(p, x, status, detail);
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

static struct curl_slist *upstream_headers(struct evhttp_request *req, const char *key,
                                           bool metered)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *connection = evhttp_find_header(in, "Connection");
    struct curl_slist *list = NULL;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, in, next) {
        if (in_list(kv->key, drop_request, NELEM(drop_request)) ||
            named_by_connection(kv->key, connection) ||
            (metered && strcasecmp(kv->key, "accept-encoding") == 0))
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
    if (metered) /* usage must be readable: an uncompressed answer (DESIGN.md step 4) */
        list = curl_slist_append(list, "Accept-Encoding: identity");
    return list;
}

/* Fails a request before it reaches the upstream: the payment, if any, is released. */
static bool check_target(struct app_req *r, const char *rest)
{
    const struct config *c = &r->app->cfg;
    if (*c->upstream_base_url == '\0') {
        app_reply_error(r, 503, "upstream_error", "upstream_not_configured",
                        "No upstream configured: set UPSTREAM_BASE_URL to an OpenAI-compatible API");
        return false;
    }
    if (!safe_target(rest)) {
        app_reply_error(r, 400, "invalid_request_error", "invalid_path",
                        "Path segments '.' and '..' are not allowed");
        return false;
    }
    return true;
}

/* A free node reads no body, but a model the dashboard disabled is refused as unknown (paid.c
 * does the same on the paid path). Answers 400 and returns true for one. */
static bool disabled_model(struct app_req *r)
{
    if (!admin_models_any_disabled(r->app))
        return false;
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t n = evbuffer_get_length(in);
    json_t *body = n ? json_loadb((const char *)evbuffer_pullup(in, -1), n, 0, NULL) : NULL;
    const char *model = json_string_value(json_object_get(body, "model"));
    bool off = model && admin_model_disabled(r->app, model);
    if (off) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Model '%.150s' not found", model);
        app_reply_json(r, 400, json_pack("{s:{s:s, s:s, s:i}, s:s}", "error", "message", msg,
                                         "type", "invalid_model", "code", 400, "request_id",
                                         r->id));
    }
    json_decref(body);
    return off;
}

void proxy_handle(struct app_req *r, const char *rest)
{
    if (!check_target(r, rest))
        return;
    if (!pricing_free(r->app))
        paid_handle(r, rest);
    else if (!disabled_model(r))
        proxy_forward(r, rest, NULL, 0, NULL);
}

/* Starts the upstream transfer of 'r'. Returns its state, or NULL (freed, 'pd' untouched,
 * nothing replied) when curl refused it. */
static struct proxy_req *start(struct app_req *r, const char *rest, char *body_override,
                               size_t override_len, struct paid *pd, bool gated)
{
    const struct config *c = &r->app->cfg;
    struct proxy_req *p = xcalloc(1, sizeof(*p));
    p->r = r;
    p->pd = pd;
    p->gated = gated;
    p->body = body_override;
    p->chunk = evbuffer_new();
    p->url = xasprintf("%s%s", c->upstream_base_url, rest);
    TAILQ_INIT(&p->up_headers);
    buf_init(&p->held, PROXY_MAX_BUFFERED);

    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t body_len = p->body ? override_len : evbuffer_get_length(in);
    struct http_xfer_req xr = {
        .method = r->method,
        .url = p->url,
        .headers = upstream_headers(r->req, c->upstream_api_key, pd != NULL || gated),
        .body = p->body ? p->body : body_len ? (const char *)evbuffer_pullup(in, -1) : NULL,
        .body_len = body_len,
        .connect_timeout_ms = (long)c->upstream_connect_timeout_ms,
        .idle_timeout_ms = (long)c->upstream_idle_timeout_ms,
        .proxy = *c->tor_proxy_url ? c->tor_proxy_url : NULL,
    };
    clock_gettime(CLOCK_MONOTONIC, &p->sent);
    p->xfer = http_xfer_start(r->app->client, &xr, &proxy_cbs, p);
    if (p->xfer == NULL) {
        p->pd = NULL;
        release(p);
        return NULL;
    }
    r->gone = proxy_gone;
    r->gone_ud = p;
    http_close_watch_start(&p->watch, r->req, on_client_fin, p);
    return p;
}

void proxy_forward(struct app_req *r, const char *rest, char *body_override, size_t override_len,
                   struct paid *pd)
{
    if (start(r, rest, body_override, override_len, pd, false) == NULL) {
        if (pd) /* nothing went out: the reservation is released */
            paid_on_end(pd, PAID_NO_ANSWER, NULL, 0, NULL, NULL);
        app_reply_error(r, 502, "upstream_error", NULL, "Unable to start the upstream request");
    }
}

struct proxy_req *proxy_forward_gated(struct app_req *r, const char *rest, char *body,
                                      size_t body_len)
{
    return start(r, rest, body, body_len, NULL, true);
}

void proxy_gate_open(struct proxy_req *p, struct paid *pd)
{
    p->gated = false;
    p->pd = pd;
    if (p->client_left) { /* the transfer is gone with the client: paid releases */
        release(p);
        return;
    }
    if (p->got_headers)
        apply_headers(p, NULL);
    if (p->ended) {
        transfer_ended(p, NULL, p->end_status, p->end_detail);
        return;
    }
    if (p->gate_paused && p->xfer) {
        p->gate_paused = false;
        http_xfer_resume(p->xfer); /* may hand the held piece to on_data right away */
    }
}

void proxy_gate_fail(struct proxy_req *p)
{
    release(p); /* aborts the transfer; p->pd is NULL: paid answers */
}
