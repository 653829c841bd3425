/* relay.c -- a relay connection with reconnects, backoff and a budget for bad input.
 *
 * States: idle (timer pending or not started) and connected-or-connecting (ws != NULL). Every
 * way a connection ends -- the websocket's on_close, or our own drop for misbehaviour -- goes
 * through went_down(), which computes the next delay, arms the timer and tells the owner. The
 * budget (malformed messages, messages per second) is per connection and starts over with each
 * new one. */
#include "nostr/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"

struct nostr_relay {
    const struct nostr_net *net;
    struct nostr_relay_opts o;
    char *url, *proxy;
    struct nostr_relay_cbs cbs;
    void *ud;
    struct nostr_ws *ws;
    struct event *retry;
    unsigned failures;   /* in a row */
    unsigned attempts;   /* since start */
    bool open;
    int64_t opened_ms;
    unsigned bad;        /* malformed messages on this connection */
    int64_t window_ms;   /* start of the current one-second window */
    unsigned in_window;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long nostr_backoff_ms(long min_ms, long max_ms, unsigned failures, uint32_t rnd)
{
    long d = min_ms > 0 ? min_ms : 1;
    for (unsigned i = 0; i < failures && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms)
        d = max_ms;
    /* factor 800..1200 per mille, uniform */
    long long j = (long long)d * (800 + (long long)(rnd % 401)) / 1000;
    return j > 0 ? (long)j : 1;
}

static void connect_now(struct nostr_relay *r);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    connect_now(arg);
}

static void went_down(struct nostr_relay *r, int status, const char *why)
{
    int64_t now = now_ms();
    if (r->open && now - r->opened_ms >= r->o.stable_ms)
        r->failures = 0;
    r->open = false;
    uint32_t rnd = 0;
    if (crypto_random(&rnd, sizeof rnd) != 0)
        rnd = 200; /* no jitter */
    long delay = nostr_backoff_ms(r->o.backoff_min_ms, r->o.backoff_max_ms, r->failures, rnd);
    if (r->failures < 64)
        r->failures++;
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(r->retry, &tv);
    if (r->failures == 1)
        log_info("nostr: relay %s down (%s); retrying in %.1f s", r->url, why, delay / 1e3);
    else
        log_debug("nostr: relay %s down (%s); retry %u in %.1f s", r->url, why, r->failures,
                  delay / 1e3);
    if (r->cbs.on_down)
        r->cbs.on_down(r, status, why, delay, r->ud);
}

/* Ends the connection for bad behaviour; it is retried like any failure. */
static void drop(struct nostr_relay *r, int status, const char *why)
{
    nostr_ws_close(r->ws);
    r->ws = NULL;
    went_down(r, status, why);
}

static void on_open(struct nostr_ws *ws, void *ud)
{
    struct nostr_relay *r = ud;
    r->open = true;
    r->opened_ms = now_ms();
    if (r->failures)
        log_info("nostr: relay %s connected", r->url);
    else
        log_debug("nostr: relay %s connected", r->url);
    if (r->cbs.on_open)
        r->cbs.on_open(r, r->ud);
}

static void on_text(struct nostr_ws *ws, const char *p, size_t len, void *ud)
{
    struct nostr_relay *r = ud;
    if (r->ws != ws)
        return; /* dropped earlier in this same read */
    int64_t now = now_ms();
    if (now - r->window_ms >= 1000) {
        r->window_ms = now;
        r->in_window = 0;
    }
    if (++r->in_window > r->o.max_rate) {
        drop(r, E_LIMIT, "over the message rate");
        return;
    }
    struct nostr_msg m;
    int rc = nostr_msg_parse(&m, p, len);
    if (rc != E_OK) {
        if (++r->bad > r->o.max_bad) {
            drop(r, E_PROTO, "too many malformed messages");
            return;
        }
        log_debug("nostr: relay %s sent a malformed message (%s)", r->url, err_name(rc));
        return;
    }
    if (r->cbs.on_msg)
        r->cbs.on_msg(r, &m, r->ud);
    nostr_msg_deinit(&m);
}

static void on_close(struct nostr_ws *ws, int status, const char *why, void *ud)
{
    struct nostr_relay *r = ud;
    r->ws = NULL;
    went_down(r, status, why);
}

static void connect_now(struct nostr_relay *r)
{
    static const struct nostr_ws_cbs cbs = {on_open, on_text, on_close};
    char err[ERR_LEN];
    struct nostr_ws_opts wo = {
        .url = r->url,
        .proxy = r->proxy,
        .max_msg = r->o.max_frame,
        .max_out = 4 * r->o.max_frame,
        .timeout_ms = r->o.timeout_ms,
        .ping_ms = r->o.ping_ms,
    };
    r->attempts++;
    r->bad = 0;
    r->in_window = 0;
    r->window_ms = now_ms();
    r->ws = nostr_ws_open(r->net, &wo, &cbs, r, err);
    if (r->ws == NULL) /* checked in nostr_relay_new(); cannot happen */
        log_error("nostr: relay %s: %s", r->url, err);
}

struct nostr_relay *nostr_relay_new(const struct nostr_net *net, const struct nostr_relay_opts *o,
                                    const struct nostr_relay_cbs *cbs, void *ud,
                                    char err[ERR_LEN])
{
    if (nostr_ws_url_check(o->url, err) != E_OK)
        return NULL;
    if (o->proxy && *o->proxy && strncmp(o->proxy, "socks5://", 9) != 0 &&
        strncmp(o->proxy, "socks5h://", 10) != 0) {
        snprintf(err, ERR_LEN, "proxy must be socks5://host:port");
        return NULL;
    }
    struct nostr_relay *r = xcalloc(1, sizeof *r);
    r->net = net;
    r->o = *o;
    r->url = xstrdup(o->url);
    r->proxy = o->proxy && *o->proxy ? xstrdup(o->proxy) : NULL;
    r->o.url = r->url;
    r->o.proxy = r->proxy;
    r->cbs = *cbs;
    r->ud = ud;
    r->retry = evtimer_new(net->base, retry_cb, r);
    if (r->retry == NULL)
        abort();
    return r;
}

void nostr_relay_start(struct nostr_relay *r)
{
    if (r->ws == NULL && !evtimer_pending(r->retry, NULL))
        connect_now(r);
}

int nostr_relay_send(struct nostr_relay *r, const char *p, size_t len)
{
    if (r->ws == NULL)
        return E_AGAIN;
    return nostr_ws_send(r->ws, p, len);
}

bool nostr_relay_is_open(const struct nostr_relay *r)
{
    return r->ws && nostr_ws_is_open(r->ws);
}

const char *nostr_relay_url(const struct nostr_relay *r)
{
    return r->url;
}

unsigned nostr_relay_attempts(const struct nostr_relay *r)
{
    return r->attempts;
}

void nostr_relay_free(struct nostr_relay *r)
{
    if (r == NULL)
        return;
    nostr_ws_close(r->ws);
    event_free(r->retry);
    free(r->url);
    free(r->proxy);
    free(r);
}
