/* request.c -- a request's lifetime, and what every reply carries: the request id, CORS
 * headers, JSON error envelopes, and the one log line per request.
 *
 * A 'struct app_req' is made when evhttp hands us a request and freed when the reply has been
 * fully written (on_complete) or the client connection is gone (on_close), whichever is first.
 * While a handler works on it, it may set 'gone' to hear about the second case.
 *
 * Error bodies have the proxy envelope of spec/routstr-api.md §11.1, which the OpenAI SDKs read
 * as error.message. CORS follows CORS_ORIGINS: "*" allows any origin; a list echoes a matching
 * Origin. The headers Routstr clients must read from a browser are always exposed (clients.md
 * §1.5 item 4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>

#include "app/app.h"
#include "app/metrics.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"

#define EXPOSE_HEADERS                                                                        \
    "x-routstr-request-id, x-cashu, x-routstr-cost-msats, x-routstr-cost-usd, "             \
    "x-routstr-input-cost-msats, x-routstr-output-cost-msats"

static void new_request_id(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        abort();
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    char hex[33];
    hex_encode(hex, b, 16);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "UNKNOWN";
}

static void app_req_free(struct app_req *r)
{
    struct app *a = r->app;
    if (r->prev)
        r->prev->next = r->next;
    else
        a->open = r->next;
    if (r->next)
        r->next->prev = r->prev;
    a->n_open--;
    free(r);
    app_maybe_exit(a);
}

void app_req_hold(struct app_req *r)
{
    r->holds++;
}

void app_req_release(struct app_req *r)
{
    if (--r->holds == 0 && r->closed)
        app_req_free(r);
}

/* evhttp wrote the whole reply; it frees the request right after this returns. */
static void on_complete(struct evhttp_request *req, void *arg)
{
    struct app_req *r = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    app_req_free(r);
}

/* The client connection is going away before the reply was written. If evhttp detached the
 * request from the connection first (it does on EOF and timeouts), freeing it is ours to do;
 * otherwise evhttp frees it with the connection. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct app_req *r = arg;
    if (r->gone)
        r->gone(r);
    if (!r->logged) {
        r->status = 499; /* nginx's "client closed request" */
        app_req_log(r);
    }
    if (evhttp_request_get_connection(r->req) == NULL)
        evhttp_request_free(r->req);
    r->req = NULL;
    if (r->holds == 0) {
        app_req_free(r);
        return;
    }
    r->closed = true; /* a handler still holds it: freed at its release (shutdown waits) */
}

struct app_req *app_req_new(struct app *a, struct evhttp_request *req)
{
    struct app_req *r = xcalloc(1, sizeof(*r));
    r->app = a;
    r->req = req;
    r->gen = a->gen;
    new_request_id(r->id);
    gettimeofday(&r->start, NULL);
    r->method = method_name(evhttp_request_get_command(req));
    const char *uri = evhttp_request_get_uri(req);
    size_t n = strcspn(uri, "?");
    if (n >= sizeof(r->path))
        n = sizeof(r->path) - 1;
    memcpy(r->path, uri, n);
    r->path[n] = '\0';
    r->next = a->open;
    if (a->open)
        a->open->prev = r;
    a->open = r;
    a->n_open++;
    evhttp_request_set_on_complete_cb(req, on_complete, r);
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, r);
    return r;
}

void app_req_drop(struct app_req *r)
{
    if (r->closed)
        return;
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    if (evcon)
        evhttp_connection_free(evcon); /* runs on_close, which ends the request */
    else
        on_close(NULL, r);
}

void app_drop_all(struct app *a)
{
    for (struct app_req *r = a->open, *next; r; r = next) {
        next = r->next;
        app_req_drop(r); /* a closed one waits for its handler */
    }
}

/* The origin to allow for this request, or NULL. */
static const char *allowed_origin(const struct app_req *r)
{
    const char *list = r->app->cfg.cors_origins;
    if (strcmp(list, "*") == 0)
        return "*";
    const char *origin = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Origin");
    if (origin == NULL || *origin == '\0')
        return NULL;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct str item = str_trim((struct str){p, n});
        if (item.len == olen && memcmp(item.p, origin, olen) == 0)
            return origin;
        if (str_eq(item, "*"))
            return "*";
        p += n + (comma ? 1 : 0);
    }
    return NULL;
}

void app_reply_header(struct app_req *r, const char *name, const char *value)
{
    if (!r->closed)
        evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

void app_reply_headers(struct app_req *r)
{
    if (r->closed)
        return;
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "x-routstr-request-id", r->id);
    if (r->app->stopping)
        evhttp_add_header(h, "Connection", "close");
    const char *origin = allowed_origin(r);
    if (origin) {
        evhttp_add_header(h, "Access-Control-Allow-Origin", origin);
        evhttp_add_header(h, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
        if (strcmp(origin, "*") != 0)
            evhttp_add_header(h, "Vary", "Origin");
    }
}

bool app_cors_preflight(struct app_req *r)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
    if (evhttp_request_get_command(r->req) != EVHTTP_REQ_OPTIONS ||
        evhttp_find_header(in, "Origin") == NULL ||
        evhttp_find_header(in, "Access-Control-Request-Method") == NULL)
        return false;
    app_reply_headers(r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    if (allowed_origin(r)) {
        const char *want = evhttp_find_header(in, "Access-Control-Request-Headers");
        evhttp_add_header(h, "Access-Control-Allow-Methods",
                          "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        evhttp_add_header(h, "Access-Control-Allow-Headers", want && *want ? want : "*");
        evhttp_add_header(h, "Access-Control-Max-Age", "600");
    }
    r->status = 204;
    evhttp_send_reply(r->req, 204, "No Content", NULL);
    app_req_log(r);
    return true;
}

void app_reply_json(struct app_req *r, int status, json_t *body)
{
    if (r->closed) { /* the client left while we worked: nothing to send */
        json_decref(body);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        abort();
    size_t len = strlen(text);
    app_reply_headers(r);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                      "application/json");
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, text, len);
    free(text);
    r->status = status;
    r->bytes_out = len;
    evhttp_send_reply(r->req, status, NULL, out);
    evbuffer_free(out);
    app_req_log(r);
}

void app_reply_error(struct app_req *r, int status, const char *type, const char *code,
                     const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s, s:s, s:o}", "message", msg, "type", type, "code",
                            code ? json_string(code) : json_integer(status));
    app_reply_json(r, status, json_pack("{s:o, s:s}", "error", err, "request_id", r->id));
}

void app_req_log(struct app_req *r)
{
    if (r->logged)
        return;
    r->logged = true;
    metrics_on_request(r);
    struct timeval now, d;
    gettimeofday(&now, NULL);
    timersub(&now, &r->start, &d);
    log_info("%s %s %d %zu %.1fms %s", r->method, r->path, r->status, r->bytes_out,
             (double)d.tv_sec * 1e3 + (double)d.tv_usec / 1e3, r->id);
}
