/* client.h -- outbound HTTP on one libcurl multi handle driven by the libevent loop.
 *
 * One 'struct http_client' per event loop holds the multi handle (and so the keep-alive pool).
 * Each 'struct http_xfer' is one request: the caller fills 'struct http_xfer_req', and the
 * transfer reports through three callbacks, all run on the loop thread:
 *
 *   on_headers  once, when the final (non-1xx) header block has arrived;
 *   on_data     for every piece of the body, as it arrives; returning HTTP_XFER_PAUSE leaves the
 *               piece unconsumed and pauses the transfer until http_xfer_resume();
 *   on_done     once at the end, with 0 or a negative code, after which the transfer is freed.
 *
 * If http_xfer_start() fails, no callback ever runs (libuv's contract). http_xfer_abort() stops a
 * transfer from outside its callbacks and frees it without calling on_done. */
#ifndef ROUTSTR_HTTP_CLIENT_H
#define ROUTSTR_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct event_base;
struct http_client;
struct http_xfer;

#define HTTP_XFER_PAUSE ((size_t)CURL_WRITEFUNC_PAUSE)

/* Why a transfer ended (on_done's 'status'). */
enum http_xfer_status {
    HTTP_XFER_OK = 0,
    HTTP_XFER_UNREACHABLE = -1, /* no connection (refused, DNS, connect timeout, TLS) */
    HTTP_XFER_IDLE_TIMEOUT = -2, /* connected, then no byte for idle_timeout_ms */
    HTTP_XFER_BROKEN = -3,       /* the request went out, then the peer closed or sent garbage */
    HTTP_XFER_FAILED = -4,       /* any other failure (our callback refused, out of limits) */
    HTTP_XFER_TIMEOUT = -5,      /* connected, then timeout_ms passed: the peer may have acted */
};

struct http_xfer_cbs {
    /* Returns 0 to go on, or <0 to stop the transfer (on_done then gets HTTP_XFER_FAILED). */
    int (*on_headers)(struct http_xfer *x, long status, void *ud);
    /* Returns len, HTTP_XFER_PAUSE, or 0 to stop the transfer. */
    size_t (*on_data)(struct http_xfer *x, const char *p, size_t len, void *ud);
    void (*on_done)(struct http_xfer *x, int status, const char *detail, void *ud);
};

struct http_xfer_req {
    const char *method;          /* "GET", "POST", ... */
    const char *url;
    struct curl_slist *headers;  /* takes ownership */
    const void *body;            /* not copied: must live until on_done or abort */
    size_t body_len;
    long connect_timeout_ms;
    long idle_timeout_ms;        /* 0: none */
    long timeout_ms;             /* whole transfer; 0: none */
    const char *proxy;           /* e.g. "socks5h://127.0.0.1:9050", or NULL */
    long max_response_bytes;     /* 0: no cap (streamed); else the transfer fails past it */
    /* A new connection, never a pooled one. libcurl silently resends a request that failed on a
     * reused connection before any answer byte; for a request that moves money that would turn
     * "answer lost" into "sent twice". */
    bool fresh_connection;
};

struct http_client *http_client_new(struct event_base *base);
/* Ends every transfer still running, each owner told through on_done (HTTP_XFER_FAILED), and
 * refuses new ones: at exit, so that what owners hold is released. */
void http_client_shutdown(struct http_client *c);
/* Aborts every transfer still running (without callbacks) and frees the client. */
void http_client_free(struct http_client *c);
/* The event loop the client runs on (for timers of its users). */
struct event_base *http_client_base(const struct http_client *c);
/* Number of transfers running. */
size_t http_client_active(const struct http_client *c);

/* Starts a transfer. Returns it, or NULL (with no callback to come) if curl refused the setup. */
struct http_xfer *http_xfer_start(struct http_client *c, const struct http_xfer_req *req,
                                  const struct http_xfer_cbs *cbs, void *ud);
void http_xfer_resume(struct http_xfer *x);
void http_xfer_abort(struct http_xfer *x);
/* Iterates the final response's headers (valid inside on_headers and after). Start with
 * prev = NULL; returns NULL at the end. */
struct curl_header *http_xfer_next_header(struct http_xfer *x, struct curl_header *prev);

/* A whole answer, buffered: for small JSON calls (mints, price feeds, relays' info). */
struct http_fetch_res {
    int status;       /* enum http_xfer_status */
    long code;        /* HTTP status, 0 if none arrived */
    const char *body; /* NUL-terminated; valid during the callback only */
    size_t len;
    const char *detail;
};
typedef void http_fetch_fn(const struct http_fetch_res *res, void *ud);

struct http_fetch_req {
    const char *method;
    const char *url;
    const char *content_type; /* of 'body', or NULL */
    const void *body;         /* copied */
    size_t body_len;
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_bytes;         /* the answer is refused (HTTP_XFER_FAILED) past this */
    const char *proxy;
    bool fresh_connection;    /* see struct http_xfer_req */
};
/* Starts a buffered request. Returns 0, or E_IO (no callback to come). */
int http_fetch(struct http_client *c, const struct http_fetch_req *req, http_fetch_fn *cb,
               void *ud);

#endif
