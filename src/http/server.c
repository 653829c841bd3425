/* server.c -- see server.h. */
#include "http/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "base/log.h"
#include "base/xalloc.h"

struct http_server {
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    int port;
};

/* Each proxied stream holds two descriptors: take all the kernel lets us. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("could not raise RLIMIT_NOFILE to %llu", (unsigned long long)rl.rlim_max);
    }
}

struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *o,
                                    http_handler_fn *handler, void *ud, char err[ERR_LEN])
{
    raise_nofile();
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->http = evhttp_new(base);
    if (s->http == NULL)
        abort();
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)o->max_header_bytes);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)o->max_body_bytes);
    struct timeval tv = {o->idle_timeout_ms / 1000, (o->idle_timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(s->http, &tv);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    /* No made-up Content-Type on replies that carry none (evhttp defaults to text/html). */
    evhttp_set_default_content_type(s->http, NULL);
    evhttp_set_gencb(s->http, handler, ud);

    s->bound = evhttp_bind_socket_with_handle(s->http, o->host, (ev_uint16_t)o->port);
    if (s->bound == NULL) {
        snprintf(err, ERR_LEN, "cannot listen on %s:%d: %s", o->host, o->port, strerror(errno));
        evhttp_free(s->http);
        free(s);
        return NULL;
    }
    evutil_socket_t fd = evhttp_bound_socket_get_fd(s->bound);
    /* Streamed answers are many small writes: without TCP_NODELAY, Nagle holds each one back
     * until the client acknowledges the previous (40 ms with delayed ACKs). Accepted sockets
     * inherit it from the listener on Linux. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        log_warn("cannot set TCP_NODELAY on the listener: %s", strerror(errno));
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    s->port = o->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return s;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop_accepting(struct http_server *s)
{
    if (s->bound) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
}

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    evhttp_free(s->http);
    free(s);
}

static void close_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_close_watch *w = arg;
    http_close_watch_stop(w);
    w->cb(w->ud);
}

int http_close_watch_start(struct http_close_watch *w, struct evhttp_request *req,
                           void (*cb)(void *ud), void *ud)
{
    w->armed = false;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon == NULL)
        return E_IO;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd < 0)
        return E_IO;
    w->cb = cb;
    w->ud = ud;
    struct event_base *base = bufferevent_get_base(bev);
    if (event_assign(&w->ev, base, fd, EV_CLOSED, close_event_cb, w) != 0 ||
        event_add(&w->ev, NULL) != 0)
        return E_IO;
    w->armed = true;
    return E_OK;
}

void http_close_watch_stop(struct http_close_watch *w)
{
    if (w->armed) {
        event_del(&w->ev);
        w->armed = false;
    }
}
