/* app.h -- the node's process-wide state and what the app/ files share.
 *
 * One 'struct app' lives for the whole process (built in main.c, torn down in reverse). Every
 * request gets a 'struct app_req' for its lifetime: its id, its timing, what it sent back. Local
 * routes keep it on the stack; the proxy embeds it in its per-request state. */
#ifndef ROUTSTR_APP_APP_H
#define ROUTSTR_APP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include <event2/http.h>
#include <jansson.h>

#include "app/config.h"
#include "billing/billing.h"

struct http_server;
struct http_client;
struct store;
struct cashu_wallet;
struct app_req;
struct nostr_app;
struct admin;

#define APP_SPEC_MAX 256 /* speculative requests in flight at once (paid.c); more go plain */

struct app {
    struct config cfg;
    struct event_base *base;
    struct http_server *server;
    struct http_client *client;
    struct store *store;
    struct cashu_wallet *wallet;   /* NULL when no mint is trusted */
    struct nostr_app *nostr;       /* nostr_app.c: key, announcement, /v1/providers/ */
    struct admin *admin;           /* admin*.c: the dashboard API, runtime settings */
    uint64_t gen;                  /* bumped when a runtime change retires something (admin.h) */
    char instance[33];             /* this process, among several on one database */
    /* pricing.c */
    struct billing_catalog catalog;
    char *models_text;             /* the catalogue file as last read, re-parsed on changes */
    size_t models_len;
    char models_source[4300];      /* the file it came from */
    struct billing_fixed fixed;
    double btc_usd;
    int64_t btc_usd_at_ms;         /* when the rate was fetched (monotonic-ish wall ms) */
    struct event *price_timer;
    int price_pending;             /* feeds still answering this round */
    double *price_quotes;
    size_t n_price_quotes;
    /* paid.c */
    struct event *sweep_timer;
    /* Tokens (SHA-256 hex) with a speculative request in flight (paid.c). */
    char spec_tokens[APP_SPEC_MAX][65];
    size_t n_spec_tokens;
    struct app_req *open; /* requests whose reply is not yet fully written */
    size_t n_open;
    bool stopping;
    struct event *grace_timer;
    struct event *sig_term, *sig_int;
};

/* A request lives from its arrival until its reply is fully written to the socket, or until the
 * client connection dies, whichever comes first (evhttp's on_complete and close callbacks).
 * Shutdown waits for every one of them, so no reply is cut short. */
struct app_req {
    struct app *app;
    struct evhttp_request *req;
    char id[37];          /* uuid4: x-routstr-request-id */
    uint64_t gen;         /* a->gen when it began: what was retired since may still be in use */
    struct timeval start;
    const char *method;
    char path[256];       /* without the query string, which may carry tokens: safe to log */
    char model[128];      /* the metrics' model label (metrics_set_model), "" when none */
    int status;
    size_t bytes_out;
    bool logged;
    bool closed;          /* the client is gone: r->req is no longer ours, replies are dropped */
    int holds;            /* handlers waiting on something (a mint, the database) keep r alive */
    /* Set by a handler still working on the request (the proxy): called when the client
     * connection dies first, so the handler can stop and release its state. */
    void (*gone)(struct app_req *r);
    void *gone_ud;
    struct app_req *prev, *next;
};

/* routes.c: the one evhttp entry point. */
void app_handle(struct evhttp_request *req, void *ud);

/* request.c */
struct app_req *app_req_new(struct app *a, struct evhttp_request *req);
/* A handler that goes asynchronous before it replies holds the request: if the client leaves
 * meanwhile, the request stays in memory (closed) until the handler releases it, and every
 * reply to it is dropped. */
void app_req_hold(struct app_req *r);
void app_req_release(struct app_req *r);
/* Closes the client connection at once: a handler's 'gone' runs, the request ends. */
void app_req_drop(struct app_req *r);
/* Drops every open request (the grace period is over). */
void app_drop_all(struct app *a);
/* Adds one header to the reply (nothing once the client is gone). */
void app_reply_header(struct app_req *r, const char *name, const char *value);
/* Adds x-routstr-request-id and the CORS headers to the reply. */
void app_reply_headers(struct app_req *r);
/* Sends 'body' (stolen) as JSON with 'status', then logs the request. */
void app_reply_json(struct app_req *r, int status, json_t *body);
/* Sends the proxy error envelope {"error":{"message","type","code"},"request_id"}. A NULL
 * 'code' puts the HTTP status there as a number, as the reference does. */
void app_reply_error(struct app_req *r, int status, const char *type, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The one log line per request: method, path, status, bytes, duration, request id. Logs once. */
void app_req_log(struct app_req *r);
/* Answers a CORS preflight if this is one. Returns true when it answered. */
bool app_cors_preflight(struct app_req *r);

/* balance.c: /v1/balance/<sub> and /v1/wallet/<sub>. */
void balance_handle(struct app_req *r, const char *sub);

/* proxy.c */
void proxy_handle(struct app_req *r, const char *rest);

/* sweep.c: releasing reservations of dead processes. */
void sweep_start(struct app *a);
void sweep_stop(struct app *a);

/* main.c: called when the last open request ends while stopping. */
void app_maybe_exit(struct app *a);

#endif
