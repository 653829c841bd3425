/* ws.c -- websocket client: evdns + bufferevent (+ SOCKS5) (+ TLS) + HTTP upgrade + wslay.
 *
 * A connection walks CONNECT -> [SOCKS_GREET -> SOCKS_CONNECT] -> [TLS] -> UPGRADE -> OPEN. The
 * host (or the proxy) is resolved by evdns_getaddrinfo and each address is tried in turn until
 * one accepts the TCP connection (an IPv6 address that does not route, then the IPv4 one). The
 * socket bufferevent is created first; for wss:// a bufferevent_openssl filter is stacked on it
 * once the TCP (or SOCKS) stage is done, and from then on 'bev' is the filter. wslay never
 * touches a socket: its recv callback drains the bufferevent's input evbuffer and its send
 * callback appends to the output one (refusing past max_out, which pauses wslay until the
 * write callback says the buffer drained).
 *
 * Re-entrancy: every entry from the loop (bufferevent callbacks, timer, deferred flush) is
 * bracketed by enter()/leave(). A failure anywhere only records its reason; leave() at depth 0
 * then calls on_close once and frees everything, and nostr_ws_close() from inside a callback
 * only marks the connection, so nothing is freed while a frame of ours is on the stack.
 * Sends are queued in wslay and flushed from a deferred event, never from inside wslay's own
 * recv callback chain. */
#include "nostr/ws.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#include "base/b64.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"

#define MAX_HOST 255
#define MAX_PATH 1024
#define MAX_RESPONSE_HEAD (16 * 1024)

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum ws_state { ST_CONNECT, ST_SOCKS_GREET, ST_SOCKS_CONNECT, ST_TLS, ST_UPGRADE, ST_OPEN };

struct ws_url {
    bool tls;
    char host[MAX_HOST + 1]; /* without brackets */
    int port;
    char path[MAX_PATH + 1];
    bool ip_literal;
};

struct nostr_ws {
    const struct nostr_net *net;
    struct nostr_ws_cbs cbs;
    void *ud;
    struct ws_url url;
    char proxy_host[MAX_HOST + 1];
    int proxy_port;
    bool use_proxy;
    size_t max_msg, max_out;
    long timeout_ms, ping_ms;

    enum ws_state st;
    struct bufferevent *bev;
    struct evdns_getaddrinfo_request *dnsreq;
    struct evutil_addrinfo *ai, *ai_next; /* resolved addresses; the next one to try */
    wslay_event_context_ptr ctx;
    struct event *timer;
    struct event *flush_ev;
    char key[25];      /* Sec-WebSocket-Key */
    char accept[29];   /* what Sec-WebSocket-Accept must be */
    bool heard;        /* some byte arrived since the last ping */

    int depth;
    bool dead;         /* the owner closed it, or on_close ran: free at depth 0 */
    bool failing;
    int status;
    char why[160];
};

/* ------------------------------------------------------------------------ net context */

int nostr_net_init(struct nostr_net *n, struct event_base *base, const char *ca_file,
                   char err[ERR_LEN])
{
    memset(n, 0, sizeof *n);
    n->base = base;
    n->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                      EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (n->dns == NULL) {
        snprintf(err, ERR_LEN, "cannot start the DNS resolver");
        return E_IO;
    }
    evdns_base_load_hosts(n->dns, NULL);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, ERR_LEN, "cannot create a TLS context");
        nostr_net_deinit(n);
        return E_IO;
    }
    n->ssl = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(err, ERR_LEN, "cannot load trusted certificates%s%s", ca_file ? " from " : "",
                 ca_file ? ca_file : "");
        nostr_net_deinit(n);
        return E_IO;
    }
    return E_OK;
}

void nostr_net_deinit(struct nostr_net *n)
{
    if (n->dns)
        evdns_base_free(n->dns, 1);
    if (n->ssl)
        SSL_CTX_free(n->ssl);
    memset(n, 0, sizeof *n);
}

/* ------------------------------------------------------------------------------- URLs */

/* Parses "host[:port]" (host may be "[v6]") ending at 'end'. */
static int parse_authority(const char *p, const char *end, char host[MAX_HOST + 1], int *port,
                           bool *ip_literal)
{
    const char *h = p, *hend;
    const char *colon = NULL;
    if (p < end && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL)
            return E_PROTO;
        h = p + 1;
        hend = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return E_PROTO;
            colon = rb + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0 || hlen > MAX_HOST)
        return E_PROTO;
    for (const char *c = h; c < hend; c++) {
        unsigned char ch = (unsigned char)*c;
        /* Letters, digits, '-', '.', '_', and ':' inside brackets: nothing that could break
         * the Host header or the SOCKS request. */
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_' || (ch == ':' && h != p)))
            return E_PROTO;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (colon) {
        int64_t v;
        char num[8];
        size_t nlen = (size_t)(end - colon - 1);
        if (nlen == 0 || nlen >= sizeof num)
            return E_PROTO;
        memcpy(num, colon + 1, nlen);
        num[nlen] = '\0';
        if (str_parse_i64(num, 1, 65535, &v) != E_OK)
            return E_PROTO;
        *port = (int)v;
    }
    unsigned char tmp[16];
    *ip_literal = inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
    if (h != p && !*ip_literal)
        return E_PROTO; /* brackets hold IPv6 addresses only */
    return E_OK;
}

static int parse_url(struct ws_url *u, const char *url, char err[ERR_LEN])
{
    memset(u, 0, sizeof *u);
    size_t skip;
    if (strncasecmp(url, "wss://", 6) == 0) {
        u->tls = true;
        u->port = 443;
        skip = 6;
    } else if (strncasecmp(url, "ws://", 5) == 0) {
        u->port = 80;
        skip = 5;
    } else {
        snprintf(err, ERR_LEN, "relay URL must start with ws:// or wss://: %.80s", url);
        return E_PROTO;
    }
    const char *a = url + skip;
    const char *end = a + strcspn(a, "/?#");
    if (parse_authority(a, end, u->host, &u->port, &u->ip_literal) != E_OK) {
        snprintf(err, ERR_LEN, "bad host in relay URL: %.80s", url);
        return E_PROTO;
    }
    const char *path = *end == '/' ? end : "/";
    size_t plen = strcspn(path, "#");
    if (*end == '?') { /* "wss://host?x" */
        snprintf(u->path, sizeof u->path, "/%.*s", (int)strcspn(end, "#"), end);
    } else if (plen > MAX_PATH) {
        snprintf(err, ERR_LEN, "relay URL too long");
        return E_PROTO;
    } else {
        memcpy(u->path, path, plen);
        u->path[plen] = '\0';
    }
    for (const char *c = u->path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(err, ERR_LEN, "bad character in relay URL path");
            return E_PROTO;
        }
    return E_OK;
}

int nostr_ws_url_check(const char *url, char err[ERR_LEN])
{
    struct ws_url u;
    return parse_url(&u, url, err);
}

static int parse_proxy(struct nostr_ws *ws, const char *proxy, char err[ERR_LEN])
{
    size_t skip = strncmp(proxy, "socks5://", 9) == 0    ? 9
                  : strncmp(proxy, "socks5h://", 10) == 0 ? 10
                                                          : 0;
    bool lit;
    ws->proxy_port = 1080;
    const char *a = proxy + skip;
    const char *end = a + strcspn(a, "/");
    if (skip == 0 || memchr(a, '@', (size_t)(end - a)) ||
        parse_authority(a, end, ws->proxy_host, &ws->proxy_port, &lit) != E_OK) {
        snprintf(err, ERR_LEN, "proxy must be socks5://host:port (no credentials)");
        return E_PROTO;
    }
    ws->use_proxy = true;
    return E_OK;
}

/* ---------------------------------------------------------------------- life and death */

static void fail(struct nostr_ws *ws, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct nostr_ws *ws, int status, const char *fmt, ...)
{
    if (ws->failing || ws->dead)
        return;
    ws->failing = true;
    ws->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->why, sizeof ws->why, fmt, ap);
    va_end(ap);
    if (ws->bev)
        bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
}

static void destroy(struct nostr_ws *ws)
{
    if (ws->dnsreq) {
        struct evdns_getaddrinfo_request *req = ws->dnsreq;
        ws->dnsreq = NULL;
        evdns_getaddrinfo_cancel(req); /* its callback runs now, with EVUTIL_EAI_CANCEL */
    }
    if (ws->ai)
        evutil_freeaddrinfo(ws->ai);
    if (ws->timer)
        event_free(ws->timer);
    if (ws->flush_ev)
        event_free(ws->flush_ev);
    if (ws->bev)
        bufferevent_free(ws->bev); /* and, for TLS, the SSL and the socket under it */
    if (ws->ctx)
        wslay_event_context_free(ws->ctx);
    secure_zero(ws, sizeof *ws);
    free(ws);
}

static void enter(struct nostr_ws *ws)
{
    ws->depth++;
}

static void leave(struct nostr_ws *ws)
{
    if (--ws->depth > 0)
        return;
    if (!ws->dead && ws->failing) {
        ws->dead = true;
        ws->depth++;
        if (ws->cbs.on_close)
            ws->cbs.on_close(ws, ws->status, ws->why, ws->ud);
        ws->depth--;
    }
    if (ws->dead)
        destroy(ws);
}

void nostr_ws_close(struct nostr_ws *ws)
{
    if (ws == NULL)
        return;
    if (ws->depth > 0) {
        ws->dead = true;
        return;
    }
    destroy(ws);
}

bool nostr_ws_is_open(const struct nostr_ws *ws)
{
    return ws->st == ST_OPEN && !ws->failing && !ws->dead;
}

/* ------------------------------------------------------------------------------ wslay */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *ud)
{
    struct nostr_ws *ws = ud;
    int n = evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    ws->heard = true;
    return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    struct nostr_ws *ws = ud;
    struct evbuffer *out = bufferevent_get_output(ws->bev);
    size_t have = evbuffer_get_length(out);
    if (have >= ws->max_out) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > ws->max_out - have)
        len = ws->max_out - have;
    if (evbuffer_add(out, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    if (crypto_random(buf, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return 0;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
    struct nostr_ws *ws = ud;
    if (arg->opcode != WSLAY_TEXT_FRAME || ws->dead || ws->failing || ws->cbs.on_text == NULL)
        return; /* binary frames mean nothing in Nostr; control frames are wslay's */
    ws->cbs.on_text(ws, (const char *)arg->msg, arg->msg_length, ws->ud);
}

static void flush(struct nostr_ws *ws)
{
    if (ws->ctx == NULL || ws->failing || ws->dead)
        return;
    if (wslay_event_send(ws->ctx) != 0)
        fail(ws, E_IO, "websocket write failed");
}

static void read_frames(struct nostr_ws *ws)
{
    if (wslay_event_recv(ws->ctx) != 0) {
        fail(ws, E_IO, "websocket read failed");
        return;
    }
    if (ws->failing || ws->dead || wslay_event_get_read_enabled(ws->ctx))
        return;
    /* wslay stopped reading: the peer's close frame, or a frame we refuse (it queued a close
     * with 1009 for one over max_msg, 1002 for a protocol error). Send that close, then go. */
    flush(ws);
    if (wslay_event_get_close_received(ws->ctx)) {
        fail(ws, 0, "closed by the relay (code %u)",
             (unsigned)wslay_event_get_status_code_received(ws->ctx));
    } else {
        uint16_t code = wslay_event_get_status_code_sent(ws->ctx);
        if (code == WSLAY_CODE_MESSAGE_TOO_BIG)
            fail(ws, E_LIMIT, "a message over %zu bytes", ws->max_msg);
        else
            fail(ws, E_PROTO, "websocket protocol error (code %u)", (unsigned)code);
    }
}

static void flush_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct nostr_ws *ws = arg;
    enter(ws);
    flush(ws);
    leave(ws);
}

int nostr_ws_send(struct nostr_ws *ws, const char *p, size_t len)
{
    if (ws->failing || ws->dead)
        return E_IO;
    if (ws->st != ST_OPEN)
        return E_AGAIN;
    size_t queued = wslay_event_get_queued_msg_length(ws->ctx);
    if (len > ws->max_out || queued > ws->max_out - len)
        return E_LIMIT;
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)p, len};
    if (wslay_event_queue_msg(ws->ctx, &m) != 0)
        return E_IO;
    event_active(ws->flush_ev, EV_TIMEOUT, 0);
    return E_OK;
}

/* --------------------------------------------------------------------------- handshake */

static void arm_timer(struct nostr_ws *ws, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(ws->timer, &tv);
}

static void send_upgrade(struct nostr_ws *ws)
{
    uint8_t raw[16], digest[20];
    if (crypto_random(raw, sizeof raw) != 0) {
        fail(ws, E_IO, "no randomness for the websocket key");
        return;
    }
    b64_encode(ws->key, raw, sizeof raw);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%s%s", ws->key, ws_guid);
    unsigned dlen = 0;
    if (EVP_Digest(buf, (size_t)n, digest, &dlen, EVP_sha1(), NULL) != 1 || dlen != 20) {
        fail(ws, E_IO, "SHA-1 failed");
        return;
    }
    b64_encode(ws->accept, digest, 20);

    const struct ws_url *u = &ws->url;
    bool v6 = strchr(u->host, ':') != NULL;
    char port[8] = "";
    if (u->port != (u->tls ? 443 : 80))
        snprintf(port, sizeof port, ":%d", u->port);
    evbuffer_add_printf(bufferevent_get_output(ws->bev),
                        "GET %s HTTP/1.1\r\n"
                        "Host: %s%s%s%s\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n"
                        "User-Agent: routstr/" ROUTSTR_VERSION "\r\n"
                        "\r\n",
                        u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", port, ws->key);
    ws->st = ST_UPGRADE;
}

/* True if the comma-separated header value holds 'token' (any case). */
static bool has_token(struct str v, const char *token)
{
    while (v.len) {
        const char *comma = memchr(v.p, ',', v.len);
        size_t n = comma ? (size_t)(comma - v.p) : v.len;
        if (str_ieq(str_trim((struct str){v.p, n}), token))
            return true;
        v.p += n + (comma ? 1 : 0);
        v.len -= n + (comma ? 1 : 0);
    }
    return false;
}

/* Checks the 101 answer (RFC 6455 §4.1, the client's checks 1-6). */
static int check_upgrade(struct nostr_ws *ws, const char *head, size_t len)
{
    const char *end = head + len;
    const char *eol = memmem(head, len, "\r\n", 2);
    int code = 0;
    if (eol == NULL || sscanf(head, "HTTP/1.1 %3d", &code) != 1) {
        fail(ws, E_PROTO, "not an HTTP answer to the upgrade");
        return E_PROTO;
    }
    if (code != 101) {
        fail(ws, E_PROTO, "relay answered HTTP %d to the upgrade", code);
        return E_PROTO;
    }
    bool upgrade = false, connection = false, accept = false;
    for (const char *p = eol + 2; p < end;) {
        const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (e == NULL)
            e = end;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon) {
            struct str name = str_trim((struct str){p, (size_t)(colon - p)});
            struct str val = str_trim((struct str){colon + 1, (size_t)(e - colon - 1)});
            if (str_ieq(name, "Upgrade"))
                upgrade = str_ieq(val, "websocket");
            else if (str_ieq(name, "Connection"))
                connection = has_token(val, "upgrade");
            else if (str_ieq(name, "Sec-WebSocket-Accept"))
                accept = val.len == 28 && memcmp(val.p, ws->accept, 28) == 0;
            else if (str_ieq(name, "Sec-WebSocket-Extensions") ||
                     str_ieq(name, "Sec-WebSocket-Protocol")) {
                /* We offered neither; a server that picks one speaks something else. */
                fail(ws, E_PROTO, "relay chose an extension or subprotocol we did not offer");
                return E_PROTO;
            }
        }
        p = e + 2;
    }
    if (!upgrade || !connection || !accept) {
        fail(ws, E_PROTO, "bad upgrade answer (%s)",
             !upgrade ? "Upgrade" : !connection ? "Connection" : "Sec-WebSocket-Accept");
        return E_PROTO;
    }
    return E_OK;
}

static void open_ws(struct nostr_ws *ws)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = recv_cb,
        .send_callback = send_cb,
        .genmask_callback = genmask_cb,
        .on_msg_recv_callback = msg_cb,
    };
    if (wslay_event_context_client_init(&ws->ctx, &cbs, ws) != 0) {
        fail(ws, E_IO, "out of memory");
        return;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_msg);
    ws->st = ST_OPEN;
    ws->heard = true;
    evtimer_del(ws->timer);
    arm_timer(ws, ws->ping_ms);
    if (ws->cbs.on_open)
        ws->cbs.on_open(ws, ws->ud);
}

static void on_upgrade_data(struct nostr_ws *ws)
{
    struct evbuffer *in = bufferevent_get_input(ws->bev);
    struct evbuffer_ptr at = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (at.pos < 0) {
        if (evbuffer_get_length(in) > MAX_RESPONSE_HEAD)
            fail(ws, E_LIMIT, "upgrade answer over %d bytes", MAX_RESPONSE_HEAD);
        return;
    }
    size_t len = (size_t)at.pos + 4;
    if (len > MAX_RESPONSE_HEAD) {
        fail(ws, E_LIMIT, "upgrade answer over %d bytes", MAX_RESPONSE_HEAD);
        return;
    }
    char *head = xmalloc(len + 1);
    evbuffer_remove(in, head, len);
    head[len] = '\0';
    int rc = check_upgrade(ws, head, len - 2);
    free(head);
    if (rc != E_OK)
        return;
    open_ws(ws);
    /* Frames that came in the same read as the answer. */
    if (!ws->failing && !ws->dead && evbuffer_get_length(in) > 0)
        read_frames(ws);
}

/* ------------------------------------------------------------------------------ SOCKS5 */

static void socks_send_connect(struct nostr_ws *ws)
{
    /* RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT. Names go to the proxy unresolved, so
     * Tor resolves them (and .onion works); literal addresses go as addresses. */
    uint8_t req[4 + 1 + MAX_HOST + 2];
    size_t n = 0;
    const char *host = ws->url.host;
    req[n++] = 5, req[n++] = 1, req[n++] = 0;
    if (inet_pton(AF_INET, host, req + n + 1) == 1) {
        req[n] = 1;
        n += 1 + 4;
    } else if (inet_pton(AF_INET6, host, req + n + 1) == 1) {
        req[n] = 4;
        n += 1 + 16;
    } else {
        size_t hlen = strlen(host);
        req[n++] = 3;
        req[n++] = (uint8_t)hlen;
        memcpy(req + n, host, hlen);
        n += hlen;
    }
    req[n++] = (uint8_t)(ws->url.port >> 8);
    req[n++] = (uint8_t)(ws->url.port & 0xff);
    bufferevent_write(ws->bev, req, n);
    ws->st = ST_SOCKS_CONNECT;
}

static void after_tcp(struct nostr_ws *ws);

static void on_socks_data(struct nostr_ws *ws)
{
    struct evbuffer *in = bufferevent_get_input(ws->bev);
    uint8_t b[4 + 1 + 255 + 2];
    if (ws->st == ST_SOCKS_GREET) {
        if (evbuffer_get_length(in) < 2)
            return;
        evbuffer_remove(in, b, 2);
        if (b[0] != 5 || b[1] != 0) {
            fail(ws, E_PROTO, "SOCKS5 proxy refused: no acceptable authentication method");
            return;
        }
        socks_send_connect(ws);
        return;
    }
    size_t have = evbuffer_get_length(in);
    if (have < 5)
        return;
    evbuffer_copyout(in, b, 5);
    if (b[0] != 5) {
        fail(ws, E_PROTO, "not a SOCKS5 answer");
        return;
    }
    if (b[1] != 0) {
        fail(ws, E_IO, "SOCKS5 proxy could not connect (reply %u)", (unsigned)b[1]);
        return;
    }
    size_t need = b[3] == 1 ? 4 + 4 + 2 : b[3] == 4 ? 4 + 16 + 2 : b[3] == 3 ? 4 + 1 + b[4] + 2 : 0;
    if (need == 0) {
        fail(ws, E_PROTO, "bad SOCKS5 answer");
        return;
    }
    if (have < need)
        return;
    evbuffer_drain(in, need);
    after_tcp(ws);
}

/* ----------------------------------------------------------------- bufferevent plumbing */

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* Connects to the next resolved address that accepts a connect() call. */
static void try_connect(struct nostr_ws *ws)
{
    while (ws->ai_next) {
        struct evutil_addrinfo *ai = ws->ai_next;
        ws->ai_next = ai->ai_next;
        ws->bev = bufferevent_socket_new(ws->net->base, -1,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (ws->bev == NULL)
            abort();
        bufferevent_setcb(ws->bev, read_cb, write_cb, event_cb, ws);
        bufferevent_enable(ws->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(ws->bev, ai->ai_addr, (int)ai->ai_addrlen) == 0)
            return;
        bufferevent_free(ws->bev);
        ws->bev = NULL;
    }
    fail(ws, E_IO, "connect failed: %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    struct nostr_ws *ws = arg;
    if (result == EVUTIL_EAI_CANCEL)
        return; /* destroy() is running */
    enter(ws);
    ws->dnsreq = NULL;
    if (result != 0) {
        fail(ws, E_IO, "DNS: %s", evutil_gai_strerror(result));
    } else {
        ws->ai = ws->ai_next = res;
        try_connect(ws);
    }
    leave(ws);
}

/* The byte stream to the relay is up (TCP, or the proxy's tunnel): TLS if wss, then upgrade. */
static void after_tcp(struct nostr_ws *ws)
{
    if (!ws->url.tls) {
        send_upgrade(ws);
        return;
    }
    SSL *ssl = SSL_new(ws->net->ssl);
    if (ssl == NULL) {
        fail(ws, E_IO, "cannot create a TLS session");
        return;
    }
    if (ws->url.ip_literal) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ws->url.host);
    } else {
        SSL_set_tlsext_host_name(ssl, ws->url.host);
        SSL_set1_host(ssl, ws->url.host);
    }
    struct bufferevent *tls = bufferevent_openssl_filter_new(
        ws->net->base, ws->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (tls == NULL) {
        SSL_free(ssl);
        fail(ws, E_IO, "cannot start TLS");
        return;
    }
    ws->bev = tls;
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    bufferevent_setcb(tls, read_cb, write_cb, event_cb, ws);
    bufferevent_enable(tls, EV_READ | EV_WRITE);
    ws->st = ST_TLS;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct nostr_ws *ws = arg;
    enter(ws);
    if (!ws->failing && !ws->dead) {
        switch (ws->st) {
        case ST_SOCKS_GREET:
        case ST_SOCKS_CONNECT:
            on_socks_data(ws);
            break;
        case ST_UPGRADE:
            on_upgrade_data(ws);
            break;
        case ST_OPEN:
            read_frames(ws);
            flush(ws);
            break;
        default:
            break;
        }
    }
    leave(ws);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct nostr_ws *ws = arg;
    enter(ws);
    if (ws->st == ST_OPEN)
        flush(ws); /* the output drained: wslay may have more */
    leave(ws);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct nostr_ws *ws = arg;
    enter(ws);
    if (what & BEV_EVENT_CONNECTED) {
        if (ws->st == ST_CONNECT && ws->use_proxy) {
            static const uint8_t greet[3] = {5, 1, 0}; /* version 5, one method: no auth */
            bufferevent_write(ws->bev, greet, sizeof greet);
            ws->st = ST_SOCKS_GREET;
        } else if (ws->st == ST_CONNECT) {
            after_tcp(ws);
        } else if (ws->st == ST_TLS) {
            send_upgrade(ws);
        }
    } else if ((what & BEV_EVENT_ERROR) && ws->st == ST_CONNECT && ws->ai_next) {
        /* This address did not answer: the next one (IPv6 then IPv4, say). */
        bufferevent_free(ws->bev);
        ws->bev = NULL;
        try_connect(ws);
    } else if (what & BEV_EVENT_ERROR) {
        unsigned long tls = ws->url.tls ? bufferevent_get_openssl_error(bev) : 0;
        char detail[120] = "";
        if (tls)
            ERR_error_string_n(tls, detail, sizeof detail);
        else
            snprintf(detail, sizeof detail, "%s",
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        fail(ws, E_IO, "%s failed: %s",
             ws->st == ST_CONNECT ? "connect" : ws->st == ST_TLS ? "TLS handshake" : "connection",
             detail);
    } else if (what & BEV_EVENT_EOF) {
        fail(ws, E_IO, "connection closed by the relay");
    } else if (what & BEV_EVENT_TIMEOUT) {
        fail(ws, E_TIMEOUT, "timed out");
    }
    leave(ws);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct nostr_ws *ws = arg;
    enter(ws);
    if (ws->st != ST_OPEN) {
        fail(ws, E_TIMEOUT, "no websocket after %ld ms", ws->timeout_ms);
    } else if (!ws->heard) {
        fail(ws, E_TIMEOUT, "relay silent for %ld ms", ws->ping_ms);
    } else {
        ws->heard = false;
        struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *)"", 0};
        wslay_event_queue_msg(ws->ctx, &ping);
        flush(ws);
        arm_timer(ws, ws->ping_ms);
    }
    leave(ws);
}

struct nostr_ws *nostr_ws_open(const struct nostr_net *net, const struct nostr_ws_opts *o,
                               const struct nostr_ws_cbs *cbs, void *ud, char err[ERR_LEN])
{
    struct nostr_ws *ws = xcalloc(1, sizeof *ws);
    ws->net = net;
    ws->cbs = *cbs;
    ws->ud = ud;
    ws->max_msg = o->max_msg;
    ws->max_out = o->max_out;
    ws->timeout_ms = o->timeout_ms;
    ws->ping_ms = o->ping_ms;
    if (parse_url(&ws->url, o->url, err) != E_OK ||
        (o->proxy && *o->proxy && parse_proxy(ws, o->proxy, err) != E_OK)) {
        free(ws);
        return NULL;
    }
    ws->timer = evtimer_new(net->base, timer_cb, ws);
    ws->flush_ev = event_new(net->base, -1, 0, flush_event_cb, ws);
    if (ws->timer == NULL || ws->flush_ev == NULL)
        abort();
    arm_timer(ws, ws->timeout_ms);
    ws->st = ST_CONNECT;
    const char *host = ws->use_proxy ? ws->proxy_host : ws->url.host;
    char port[8];
    snprintf(port, sizeof port, "%d", ws->use_proxy ? ws->proxy_port : ws->url.port);
    struct evutil_addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_protocol = IPPROTO_TCP,
    };
    /* The callback may run before this returns (a literal address, /etc/hosts): the depth
     * keeps a failure there from being reported inside this call. */
    ws->depth++;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(net->dns, host, port, &hints, dns_cb, ws);
    if (ws->ai == NULL && !ws->failing)
        ws->dnsreq = req; /* still resolving */
    if (ws->failing)
        event_active(ws->flush_ev, EV_TIMEOUT, 0); /* runs leave(), which reports it */
    ws->depth--;
    return ws;
}
