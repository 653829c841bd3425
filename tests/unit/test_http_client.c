/* test_http_client.c -- the libcurl-on-libevent client against an evhttp server in the same loop:
 * streamed bodies, pause and resume, the idle timeout, an unreachable peer, and abort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "base/buf.h"
#include "http/client.h"

struct fixture {
    struct event_base *base;
    struct evhttp *http;
    struct http_client *client;
    int port;
    struct evhttp_request *held; /* a request the server never answers */
};

struct result {
    long status;
    struct buf body;
    int done_status;
    bool done;
    int pauses_left;
    struct http_xfer *xfer;
    struct event_base *base;
};

static void serve(struct evhttp_request *req, void *arg)
{
    struct fixture *f = arg;
    const char *uri = evhttp_request_get_uri(req);
    if (strcmp(uri, "/stall") == 0) {
        f->held = req;
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Test", "yes");
    evhttp_send_reply_start(req, 201, "Created");
    for (int i = 0; i < 100; i++) {
        evbuffer_add_printf(b, "chunk %03d\n", i);
        evhttp_send_reply_chunk(req, b);
    }
    evhttp_send_reply_end(req);
    evbuffer_free(b);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    f->http = evhttp_new(f->base);
    evhttp_set_gencb(f->http, serve, f);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
    assert_non_null(s);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sin, &len);
    f->port = ntohs(sin.sin_port);
    f->client = http_client_new(f->base);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    http_client_free(f->client);
    evhttp_free(f->http);
    event_base_free(f->base);
    free(f);
    return 0;
}

static int on_headers(struct http_xfer *x, long status, void *ud)
{
    struct result *r = ud;
    r->status = status;
    bool saw = false;
    for (struct curl_header *h = NULL; (h = http_xfer_next_header(x, h));)
        saw |= strcmp(h->name, "X-Test") == 0 && strcmp(h->value, "yes") == 0;
    assert_true(saw);
    return 0;
}

static void resume_later(evutil_socket_t fd, short what, void *arg)
{
    struct result *r = arg;
    http_xfer_resume(r->xfer);
}

static size_t on_data(struct http_xfer *x, const char *p, size_t len, void *ud)
{
    struct result *r = ud;
    if (r->pauses_left > 0) {
        r->pauses_left--;
        struct timeval tv = {0, 20000};
        event_base_once(r->base, -1, EV_TIMEOUT, resume_later, r, &tv);
        return HTTP_XFER_PAUSE;
    }
    assert_int_equal(buf_append(&r->body, p, len), 0);
    return len;
}

static void on_done(struct http_xfer *x, int status, const char *detail, void *ud)
{
    struct result *r = ud;
    r->done = true;
    r->done_status = status;
    event_base_loopbreak(r->base);
}

static const struct http_xfer_cbs cbs = {on_headers, on_data, on_done};

static void run(struct fixture *f, const char *path, long idle_ms, int port, struct result *r)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port ? port : f->port, path);
    r->base = f->base;
    buf_init(&r->body, 1 << 20);
    struct http_xfer_req req = {.method = "GET", .url = url, .connect_timeout_ms = 2000,
                                .idle_timeout_ms = idle_ms};
    r->xfer = http_xfer_start(f->client, &req, &cbs, r);
    assert_non_null(r->xfer);
    struct timeval limit = {10, 0};
    event_base_loopexit(f->base, &limit);
    event_base_dispatch(f->base);
    assert_true(r->done);
}

static void expect_body(struct result *r)
{
    assert_int_equal(r->done_status, HTTP_XFER_OK);
    assert_int_equal(r->status, 201);
    assert_int_equal(r->body.len, 100 * 10);
    assert_memory_equal(r->body.p, "chunk 000\nchunk 001\n", 20);
    assert_memory_equal(r->body.p + 990, "chunk 099\n", 10);
}

static void test_streamed_body(void **state)
{
    struct result r = {0};
    run(*state, "/ok", 5000, 0, &r);
    expect_body(&r);
    buf_deinit(&r.body);
}

static void test_pause_and_resume(void **state)
{
    struct result r = {.pauses_left = 3};
    run(*state, "/ok", 5000, 0, &r);
    expect_body(&r); /* nothing lost or repeated across pauses */
    buf_deinit(&r.body);
}

static void test_idle_timeout(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    run(f, "/stall", 200, 0, &r);
    assert_int_equal(r.done_status, HTTP_XFER_IDLE_TIMEOUT);
    assert_int_equal(http_client_active(f->client), 0);
    buf_deinit(&r.body);
}

static void test_unreachable(void **state)
{
    struct result r = {0};
    run(*state, "/", 5000, 1, &r); /* nothing listens on port 1 */
    assert_int_equal(r.done_status, HTTP_XFER_UNREACHABLE);
    buf_deinit(&r.body);
}

static void test_abort_runs_no_callback(void **state)
{
    struct fixture *f = *state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", f->port);
    struct result r = {.base = f->base};
    struct http_xfer_req req = {.method = "POST", .url = url, .body = "x", .body_len = 1,
                                .connect_timeout_ms = 1000};
    struct http_xfer *x = http_xfer_start(f->client, &req, &cbs, &r);
    assert_non_null(x);
    assert_int_equal(http_client_active(f->client), 1);
    http_xfer_abort(x);
    assert_int_equal(http_client_active(f->client), 0);
    struct timeval tv = {0, 100000};
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
    assert_false(r.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_streamed_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_runs_no_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
