/* ws.h -- a websocket client (RFC 6455) on the event loop, for Nostr relays.
 *
 * One 'struct nostr_ws' is one connection: DNS through evdns (never getaddrinfo on the loop),
 * TCP, optionally SOCKS5 to a proxy (Tor: the host name is sent to the proxy, which resolves
 * it, so .onion relays work), optionally TLS (bufferevent_openssl, certificate and host name
 * verified), then the HTTP/1.1 upgrade with its Sec-WebSocket-Accept check, then frames by
 * wslay: client masking, automatic pong, our pings, the close handshake.
 *
 * Everything is bounded: the whole setup must finish within 'timeout_ms'; a received message
 * over 'max_msg' closes the connection (1009); queued output over 'max_out' refuses sends; once
 * open, a ping goes out every 'ping_ms' and a peer that sent nothing during a whole interval
 * is dropped.
 *
 * Callbacks run on the loop thread, never from inside nostr_ws_open() or nostr_ws_send().
 * on_close is the last one: it says why (0 for a close by the peer's close frame, else
 * E_IO, E_TIMEOUT, E_PROTO, E_LIMIT) and the connection frees itself when it returns.
 * nostr_ws_close() ends a connection from the owner's side, from anywhere (callbacks included),
 * with no callback after it. */
#ifndef ROUTSTR_NOSTR_WS_H
#define ROUTSTR_NOSTR_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct event_base;
struct evdns_base;
struct ssl_ctx_st;
struct nostr_ws;

/* What connections of one process share: the loop, a DNS resolver, a TLS client context. */
struct nostr_net {
    struct event_base *base;
    struct evdns_base *dns;
    struct ssl_ctx_st *ssl; /* SSL_CTX */
};

/* 'ca_file' (PEM) replaces the system's trusted roots when not NULL (tests). Returns 0 or
 * E_IO with 'err' filled. */
int nostr_net_init(struct nostr_net *n, struct event_base *base, const char *ca_file,
                   char err[ERR_LEN]);
/* After every connection using it is gone. */
void nostr_net_deinit(struct nostr_net *n);

struct nostr_ws_opts {
    const char *url;   /* ws://host[:port][/path] or wss://... */
    const char *proxy; /* socks5://host:port or socks5h://host:port, or NULL */
    size_t max_msg;
    size_t max_out;
    long timeout_ms;
    long ping_ms;
};

struct nostr_ws_cbs {
    void (*on_open)(struct nostr_ws *ws, void *ud);
    void (*on_text)(struct nostr_ws *ws, const char *p, size_t len, void *ud);
    void (*on_close)(struct nostr_ws *ws, int status, const char *why, void *ud);
};

/* Checks a relay URL the way nostr_ws_open() will. Returns 0 or E_PROTO with 'err' filled. */
int nostr_ws_url_check(const char *url, char err[ERR_LEN]);

/* Starts connecting. Returns the connection, or NULL with 'err' filled if the URL or proxy is
 * malformed (no callback will come). */
struct nostr_ws *nostr_ws_open(const struct nostr_net *net, const struct nostr_ws_opts *o,
                               const struct nostr_ws_cbs *cbs, void *ud, char err[ERR_LEN]);
/* Queues a text message. Returns 0, E_AGAIN (not open yet), E_LIMIT (over max_out) or E_IO
 * (closing). */
int nostr_ws_send(struct nostr_ws *ws, const char *p, size_t len);
bool nostr_ws_is_open(const struct nostr_ws *ws);
void nostr_ws_close(struct nostr_ws *ws);

#endif
