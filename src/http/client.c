/* client.c -- libcurl multi wired to libevent (the "multi_socket" API).
 *
 * curl tells us which sockets to watch (sock_cb) and when to wake it (timer_cb); we run
 * curl_multi_socket_action() from libevent callbacks and then collect finished transfers. No
 * transfer is freed inside one of curl's callbacks: an abort there only marks the transfer, makes
 * the callback return an error, and the transfer is reaped when curl reports it done.
 *
 * Each transfer also has an idle timer of ours: it fires when the upstream has sent nothing for
 * idle_timeout_ms while we were ready to read (a paused transfer is never idle: the wait is ours). */
#include "http/client.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"

#define EASY_POOL 64

struct http_client {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct http_xfer *xfers; /* doubly linked list of running transfers */
    size_t active;
    CURL *spare[EASY_POOL];  /* reset easy handles: curl_easy_init() per request is costly */
    size_t n_spare;
    bool closing;            /* http_client_shutdown(): no new transfer */
};

struct http_xfer {
    struct http_client *client;
    CURL *easy;
    struct curl_slist *headers;
    const struct http_xfer_cbs *cbs;
    void *ud;
    struct event *idle;
    long idle_timeout_ms;
    struct timeval last_io;
    struct http_xfer *prev, *next;
    bool headers_done;
    bool paused;
    bool in_callback;
    bool aborted;   /* http_xfer_abort() was called: no on_done */
    bool refused;   /* one of our callbacks asked to stop */
    bool timed_out;
};

struct sock {
    struct event ev;
    bool added;
};

static void check_done(struct http_client *c);

static void link_xfer(struct http_client *c, struct http_xfer *x)
{
    x->next = c->xfers;
    if (c->xfers)
        c->xfers->prev = x;
    c->xfers = x;
    c->active++;
}

static void unlink_xfer(struct http_client *c, struct http_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        c->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    c->active--;
}

static void xfer_free(struct http_xfer *x)
{
    struct http_client *c = x->client;
    unlink_xfer(c, x);
    curl_multi_remove_handle(c->multi, x->easy);
    if (c->n_spare < EASY_POOL) {
        curl_easy_reset(x->easy);
        c->spare[c->n_spare++] = x->easy;
    } else {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    if (x->idle)
        event_free(x->idle);
    free(x);
}

/* libevent → curl */

static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_client *c = arg;
    int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(c->multi, fd, action, &running);
    check_done(c);
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_client *c = arg;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* curl → libevent */

static int sock_cb(CURL *e, curl_socket_t s, int what, void *cbp, void *sockp)
{
    struct http_client *c = cbp;
    struct sock *sk = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            if (sk->added)
                event_del(&sk->ev);
            free(sk);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    if (sk == NULL) {
        sk = xcalloc(1, sizeof(*sk));
        curl_multi_assign(c->multi, s, sk);
    } else if (sk->added) {
        event_del(&sk->ev);
    }
    short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    event_assign(&sk->ev, c->base, s, kind, sock_event_cb, c);
    event_add(&sk->ev, NULL);
    sk->added = true;
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *ud)
{
    struct http_client *c = ud;
    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    return 0;
}

/* Whether any of the request reached the peer: from then on a failure may hide an answer. */
static bool request_sent(struct http_xfer *x)
{
    long sent = 0;
    curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &sent);
    return sent > 0;
}

static int classify(struct http_xfer *x, CURLcode rc)
{
    if (rc == CURLE_OK)
        return HTTP_XFER_OK;
    if (x->timed_out)
        return HTTP_XFER_IDLE_TIMEOUT;
    if (x->refused)
        return HTTP_XFER_FAILED;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return HTTP_XFER_UNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT:
        /* Before a connection the peer saw nothing; after, it may have acted on the request. */
        return request_sent(x) ? HTTP_XFER_TIMEOUT : HTTP_XFER_UNREACHABLE;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return x->headers_done || request_sent(x) ? HTTP_XFER_BROKEN : HTTP_XFER_UNREACHABLE;
    default:
        return HTTP_XFER_FAILED;
    }
}

static void check_done(struct http_client *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct http_xfer *x;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = msg->data.result;
        int status = classify(x, rc);
        bool notify = !x->aborted;
        const struct http_xfer_cbs *cbs = x->cbs;
        void *ud = x->ud;
        /* The transfer stays alive during on_done so on_done may still read its headers. */
        if (notify)
            cbs->on_done(x, status, rc == CURLE_OK ? "" : curl_easy_strerror(rc), ud);
        xfer_free(x);
    }
}

/* Per-transfer callbacks */

static void touch(struct http_xfer *x)
{
    event_base_gettimeofday_cached(x->client->base, &x->last_io);
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    struct http_xfer *x = ud;
    touch(x);
    if (x->aborted)
        return 0;
    bool blank = (n == 2 && p[0] == '\r' && p[1] == '\n') || (n == 1 && p[0] == '\n');
    if (!blank || x->headers_done)
        return n;
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 && code != 0)
        return n; /* an interim 1xx block; the final one follows */
    x->headers_done = true;
    x->in_callback = true;
    int rc = x->cbs->on_headers(x, code, x->ud);
    x->in_callback = false;
    if (rc < 0 || x->aborted) {
        x->refused = true;
        return 0;
    }
    return n;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct http_xfer *x = ud;
    touch(x);
    if (x->aborted)
        return 0;
    x->in_callback = true;
    size_t r = x->cbs->on_data(x, p, n, x->ud);
    x->in_callback = false;
    if (x->aborted)
        return 0;
    if (r == HTTP_XFER_PAUSE) {
        x->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r != n)
        x->refused = true;
    return r;
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_xfer *x = arg;
    struct timeval now, since, left = {0, 0};
    event_base_gettimeofday_cached(x->client->base, &now);
    timersub(&now, &x->last_io, &since);
    long since_ms = since.tv_sec * 1000 + since.tv_usec / 1000;
    if (x->paused || since_ms < x->idle_timeout_ms) {
        long wait_ms = x->paused ? x->idle_timeout_ms : x->idle_timeout_ms - since_ms;
        left.tv_sec = wait_ms / 1000;
        left.tv_usec = (wait_ms % 1000) * 1000;
        evtimer_add(x->idle, &left);
        return;
    }
    /* Stall: make curl end the transfer; check_done reports it as an idle timeout. Removing the
     * handle directly is safe here (we are not inside a curl callback). */
    x->timed_out = true;
    struct http_client *c = x->client;
    const struct http_xfer_cbs *cbs = x->cbs;
    void *ud = x->ud;
    if (!x->aborted)
        cbs->on_done(x, HTTP_XFER_IDLE_TIMEOUT, "upstream idle timeout", ud);
    xfer_free(x);
    check_done(c);
}

/* Public API */

struct http_client *http_client_new(struct event_base *base)
{
    static bool global_init;
    if (!global_init) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_init = true;
    }
    struct http_client *c = xcalloc(1, sizeof(*c));
    c->base = base;
    c->multi = curl_multi_init();
    if (c->multi == NULL)
        abort();
    c->timer = evtimer_new(base, timer_event_cb, c);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 256L);
    return c;
}

void http_client_shutdown(struct http_client *c)
{
    c->closing = true;
    while (c->xfers) {
        struct http_xfer *x = c->xfers;
        if (!x->aborted && x->cbs)
            x->cbs->on_done(x, HTTP_XFER_FAILED, "shutting down", x->ud);
        xfer_free(x);
    }
}

void http_client_free(struct http_client *c)
{
    if (c == NULL)
        return;
    while (c->xfers)
        xfer_free(c->xfers);
    while (c->n_spare)
        curl_easy_cleanup(c->spare[--c->n_spare]);
    curl_multi_cleanup(c->multi);
    event_free(c->timer);
    free(c);
}

struct event_base *http_client_base(const struct http_client *c)
{
    return c->base;
}

size_t http_client_active(const struct http_client *c)
{
    return c->active;
}

struct http_xfer *http_xfer_start(struct http_client *c, const struct http_xfer_req *req,
                                  const struct http_xfer_cbs *cbs, void *ud)
{
    CURL *e = c->closing ? NULL : c->n_spare ? c->spare[--c->n_spare] : curl_easy_init();
    if (e == NULL) {
        curl_slist_free_all(req->headers);
        return NULL;
    }
    struct http_xfer *x = xcalloc(1, sizeof(*x));
    x->client = c;
    x->easy = e;
    x->headers = req->headers;
    x->cbs = cbs;
    x->ud = ud;
    x->idle_timeout_ms = req->idle_timeout_ms;

    bool ok = curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    if (req->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    /* HTTP/1.1 for upstream transfers: pausing HTTP/2 streams has known libcurl bugs. */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (req->max_response_bytes > 0)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response_bytes);
    if (req->proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, req->proxy);
    if (req->fresh_connection)
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);

    const char *m = req->method;
    if (strcmp(m, "GET") == 0 && req->body_len == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        /* Any other method sends the body as it came (possibly empty) with its length. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
    if (!ok) {
        curl_easy_cleanup(e);
        curl_slist_free_all(x->headers);
        free(x);
        return NULL;
    }
    link_xfer(c, x);
    touch(x);
    if (x->idle_timeout_ms > 0) {
        x->idle = evtimer_new(c->base, idle_cb, x);
        struct timeval tv = {x->idle_timeout_ms / 1000, (x->idle_timeout_ms % 1000) * 1000};
        evtimer_add(x->idle, &tv);
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        x->cbs = NULL;
        xfer_free(x);
        return NULL;
    }
    return x;
}

void http_xfer_resume(struct http_xfer *x)
{
    if (!x->paused || x->aborted)
        return;
    x->paused = false;
    touch(x);
    /* curl may deliver the held data from inside this call (write_cb runs re-entrantly). */
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
}

void http_xfer_abort(struct http_xfer *x)
{
    if (x->in_callback) {
        x->aborted = true; /* the callback returns an error; check_done frees it quietly */
        return;
    }
    xfer_free(x);
}

struct curl_header *http_xfer_next_header(struct http_xfer *x, struct curl_header *prev)
{
    return curl_easy_nextheader(x->easy, CURLH_HEADER, -1, prev);
}

/* Buffered fetch: a transfer whose callbacks collect the body. */

struct fetch {
    struct buf body;
    char *req_body;
    long code;
    http_fetch_fn *cb;
    void *ud;
};

static int fetch_headers(struct http_xfer *x, long status, void *ud)
{
    struct fetch *f = ud;
    f->code = status;
    return 0;
}

static size_t fetch_data(struct http_xfer *x, const char *p, size_t len, void *ud)
{
    struct fetch *f = ud;
    return buf_append(&f->body, p, len) == 0 ? len : 0;
}

static void fetch_done(struct http_xfer *x, int status, const char *detail, void *ud)
{
    struct fetch *f = ud;
    if (f->code == 0)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &f->code);
    struct http_fetch_res res = {
        .status = status,
        .code = f->code,
        .body = f->body.p ? f->body.p : "",
        .len = f->body.len,
        .detail = detail,
    };
    f->cb(&res, f->ud);
    buf_deinit(&f->body);
    free(f->req_body);
    free(f);
}

static const struct http_xfer_cbs fetch_cbs = {fetch_headers, fetch_data, fetch_done};

int http_fetch(struct http_client *c, const struct http_fetch_req *req, http_fetch_fn *cb,
               void *ud)
{
    struct fetch *f = xcalloc(1, sizeof(*f));
    buf_init(&f->body, req->max_bytes ? req->max_bytes : (1 << 20));
    f->cb = cb;
    f->ud = ud;
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    h = curl_slist_append(h, "Accept: application/json");
    if (req->content_type) {
        char *line = xasprintf("Content-Type: %s", req->content_type);
        h = curl_slist_append(h, line);
        free(line);
    }
    if (req->body_len) {
        f->req_body = xmalloc(req->body_len);
        memcpy(f->req_body, req->body, req->body_len);
    }
    struct http_xfer_req xr = {
        .method = req->method,
        .url = req->url,
        .headers = h,
        .body = f->req_body,
        .body_len = req->body_len,
        .connect_timeout_ms = req->connect_timeout_ms ? req->connect_timeout_ms : 10000,
        .timeout_ms = req->timeout_ms,
        .proxy = req->proxy,
        .fresh_connection = req->fresh_connection,
    };
    if (http_xfer_start(c, &xr, &fetch_cbs, f) == NULL) {
        buf_deinit(&f->body);
        free(f->req_body);
        free(f);
        return E_IO;
    }
    return E_OK;
}
