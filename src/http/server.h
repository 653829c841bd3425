/* server.h -- the inbound HTTP/1.1 server: libevent's evhttp with our limits and hooks.
 *
 * evhttp parses requests and writes replies; this module binds it, sets every bound the
 * network could abuse (header block, body, idle time), raises RLIMIT_NOFILE, and adds the one
 * thing evhttp lacks: noticing that a client vanished while we were waiting on the upstream
 * (evhttp stops reading after a request, so it would only see it when a write fails). Route
 * handlers use the evhttp request API directly. */
#ifndef ROUTSTR_HTTP_SERVER_H
#define ROUTSTR_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>

#include "base/err.h"

struct http_server;

typedef void http_handler_fn(struct evhttp_request *req, void *ud);

struct http_server_opts {
    const char *host;
    int port;
    size_t max_header_bytes;
    size_t max_body_bytes;
    long idle_timeout_ms; /* a connection with no progress for this long is closed */
};

/* Binds and starts serving. Returns the server, or NULL with 'err' filled. */
struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *o,
                                    http_handler_fn *handler, void *ud, char err[ERR_LEN]);
/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *s);
/* Stops accepting new connections; established ones go on. */
void http_server_stop_accepting(struct http_server *s);
void http_server_free(struct http_server *s);

/* Watches a request's connection for the client closing it (EPOLLRDHUP through EV_CLOSED) and
 * calls cb once when it does. Storage is the caller's; stop it before freeing that storage. */
struct http_close_watch {
    struct event ev;
    bool armed;
    void (*cb)(void *ud);
    void *ud;
};
int http_close_watch_start(struct http_close_watch *w, struct evhttp_request *req,
                           void (*cb)(void *ud), void *ud);
void http_close_watch_stop(struct http_close_watch *w);

#endif
