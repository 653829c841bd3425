/* test_nostr_app.c -- the node on Nostr (app/nostr_app.h) end to end against the test relay of
 * tests/relay/relay.js, in one process: a 'struct app' with its configuration, store and HTTP
 * client, plus an evhttp server on 127.0.0.2 that routes /v1/providers[/] to
 * nostr_app_providers() and answers /v1/info (the health probe's target).
 *
 *   - the announcement reaches the relay, nostr-tools' verifyEvent accepts it, its tags are
 *     exactly d, u (HTTP_URL without /v1, the bare onion completed), mint, version, and its
 *     content {"name","about"};
 *   - announcements of other keys show up in /v1/providers/ (newest per (pubkey, d)); forged,
 *     future, URL-less and localhost-only ones do not; ?pubkey= filters; ?include_json=true
 *     adds the health of /v1/info; /v1/providers answers 307;
 *   - a dropped connection comes back without announcing again (up to date);
 *   - restarts: the generated key is the same (stored sealed), unchanged settings publish
 *     nothing, a changed HTTP_URL republishes with the same d, PROVIDER_ID sets d, no public
 *     URL announces nothing, NSEC is used when set and refused when malformed, and the d of an
 *     older own announcement on the relay is reused;
 *   - nostr_app_settings_changed(): unchanged settings publish nothing, a new URL, name or
 *     PROVIDER_ID republishes at once.
 *
 * Skipped without node and tests/node_modules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "app/app.h"
#include "app/nostr_app.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "http/client.h"
#include "nostr/announce.h"
#include "nostr/bech32.h"
#include "nostr/msg.h"
#include "store/store.h"

/* request.c calls this (main.c has it). */
void app_maybe_exit(struct app *a)
{
}

static const char nsec_hex[] = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa";
static const char nsec_pub[] = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e";

/* ------------------------------------------------------------------ the Node relay */

static pid_t relay_pid;
static json_t *relay_info;

static const char *relay_str(const char *key)
{
    return json_string_value(json_object_get(relay_info, key));
}

static size_t on_body(char *d, size_t s, size_t n, void *ud)
{
    return buf_append(ud, d, s * n) == E_OK ? s * n : 0;
}

static json_t *ctl(const char *method, const char *path, const char *body)
{
    CURL *c = curl_easy_init();
    struct buf b;
    buf_init(&b, 64 << 20);
    char url[256];
    snprintf(url, sizeof url, "%s%s", relay_str("control"), path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    json_error_t err;
    json_t *j = rc == CURLE_OK ? json_loadb(b.p ? b.p : "", b.len, JSON_ALLOW_NUL, &err) : NULL;
    buf_deinit(&b);
    if (j == NULL)
        fail_msg("control %s %s failed", method, path);
    return j;
}

static int group_setup(void **state)
{
    if (access("tests/node_modules/ws/package.json", R_OK) != 0 ||
        system("node --version >/dev/null 2>&1") != 0)
        return 0;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    relay_pid = fork();
    if (relay_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("node", "node", "tests/relay/relay.js", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[1024];
    size_t len = 0;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    while (len < sizeof line - 1 && (len == 0 || line[len - 1] != '\n') &&
           poll(&pfd, 1, 10000) == 1) {
        ssize_t r = read(fds[0], line + len, sizeof line - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fds[0]);
    line[len] = '\0';
    json_error_t err;
    relay_info = json_loads(line, 0, &err);
    return relay_info ? 0 : -1;
}

static int group_teardown(void **state)
{
    if (relay_pid > 0) {
        kill(relay_pid, SIGTERM);
        waitpid(relay_pid, NULL, 0);
    }
    json_decref(relay_info);
    curl_global_cleanup();
    return 0;
}

/* ---------------------------------------------------------------------- the node */

struct kv {
    const char *k, *v;
};

static struct {
    struct app a;
    struct nostr_app *n;
    struct evhttp *http;
    int port;
    char dir[64], db[128];
    struct kv env[24];
} fx;

static const char *env_get(const char *name, void *ud)
{
    for (struct kv *e = fx.env; e->k; e++)
        if (strcmp(e->k, name) == 0)
            return e->v;
    return NULL;
}

static void serve(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    if (strncmp(uri, "/v1/info", 8) == 0) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "{\"name\":\"probe-target\",\"version\":\"9.9.9\"}");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    struct app_req *r = app_req_new(&fx.a, req);
    nostr_app_providers(fx.n, r);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

static void run_for(int ms)
{
    struct event *t = event_new(fx.a.base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 10000};
    event_add(t, &tv);
    int64_t end = now_ms() + ms;
    while (now_ms() < end)
        event_base_loop(fx.a.base, EVLOOP_ONCE);
    event_free(t);
}

/* Sets the environment (NULL-terminated pairs) and starts the node's Nostr side. */
static int node_start(const char *const *pairs)
{
    size_t n = 0;
    fx.env[n++] = (struct kv){"RELAYS", relay_str("url")};
    fx.env[n++] = (struct kv){"DATABASE_URL", fx.db};
    fx.env[n++] = (struct kv){"ROUTSTR_SECRET_KEY",
                              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"};
    fx.env[n++] = (struct kv){"CASHU_MINTS", "https://mint.example/"};
    fx.env[n++] = (struct kv){"NAME", "Test Node"};
    fx.env[n++] = (struct kv){"DESCRIPTION", "A \"quoted\" node"};
    for (; pairs && pairs[0]; pairs += 2)
        fx.env[n++] = (struct kv){pairs[0], pairs[1]};
    fx.env[n] = (struct kv){NULL, NULL};
    char err[ERR_LEN];
    config_deinit(&fx.a.cfg);
    assert_int_equal(config_load(&fx.a.cfg, env_get, NULL, err), E_OK);
    if (fx.a.store == NULL)
        assert_int_equal(store_open(&fx.a.store, fx.a.base, fx.db, err), E_OK);
    int rc = nostr_app_start(&fx.n, &fx.a, err);
    if (rc != E_OK)
        fx.n = NULL;
    return rc;
}

static void node_stop(void)
{
    nostr_app_free(fx.n);
    fx.n = NULL;
}

static int setup(void **state)
{
    if (relay_pid == 0)
        return 0;
    json_decref(ctl("POST", "/_test/reset", ""));
    setenv("NOSTR_BACKOFF_MIN_MS", "100", 1);
    memset(&fx, 0, sizeof fx);
    strcpy(fx.dir, "/tmp/routstr-nostr-app-XXXXXX");
    if (mkdtemp(fx.dir) == NULL)
        return -1;
    snprintf(fx.db, sizeof fx.db, "sqlite:///%s/routstr.db", fx.dir);
    fx.a.base = event_base_new();
    fx.a.client = http_client_new(fx.a.base);
    fx.http = evhttp_new(fx.a.base);
    evhttp_set_gencb(fx.http, serve, NULL);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(fx.http, "127.0.0.2", 0);
    if (s == NULL)
        return -1;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sa, &sl);
    fx.port = ntohs(sa.sin_port);
    return 0;
}

static int teardown(void **state)
{
    if (fx.a.base == NULL)
        return 0;
    node_stop();
    evhttp_free(fx.http);
    http_client_free(fx.a.client);
    store_close(fx.a.store);
    event_base_free(fx.a.base);
    config_deinit(&fx.a.cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx.dir);
    (void)system(cmd);
    return 0;
}

#define NEED_RELAY()                                                                          \
    do {                                                                                      \
        if (relay_pid == 0)                                                                   \
            skip();                                                                           \
    } while (0)

/* ------------------------------------------------------------------------- helpers */

/* The announcements by 'pubhex' that the relay received (and verified). */
static size_t received_by(const char *pubhex, json_t **last)
{
    json_t *st = ctl("GET", "/_test/state", NULL);
    json_t *rec = json_object_get(st, "received"), *e;
    size_t i, n = 0;
    if (last)
        *last = NULL;
    json_array_foreach(rec, i, e) {
        json_t *ev = json_object_get(e, "event");
        if (json_integer_value(json_object_get(ev, "kind")) == 38421 &&
            strcmp(json_string_value(json_object_get(ev, "pubkey")), pubhex) == 0 &&
            json_is_true(json_object_get(e, "ok"))) {
            n++;
            if (last) {
                json_decref(*last);
                *last = json_incref(ev);
            }
        }
    }
    json_decref(st);
    return n;
}

static size_t wait_received(const char *pubhex, size_t want, json_t **last, int ms)
{
    int64_t end = now_ms() + ms;
    size_t n;
    while ((n = received_by(pubhex, NULL)) < want && now_ms() < end)
        run_for(50);
    return received_by(pubhex, last);
}

/* REQs the relay got for our own events (authors = [pubhex]). */
static size_t own_reqs(const char *pubhex)
{
    json_t *st = ctl("GET", "/_test/state", NULL);
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(json_object_get(st, "reqs"), i, r) {
        json_t *authors = json_object_get(json_array_get(json_object_get(r, "filters"), 0), "authors");
        const char *a = json_string_value(json_array_get(authors, 0));
        n += a && strcmp(a, pubhex) == 0;
    }
    json_decref(st);
    return n;
}

static void node_pubhex(char out[65])
{
    uint8_t pub[32];
    const char *npub = nostr_app_npub(fx.n);
    assert_int_equal(nostr_npub_decode(pub, npub, strlen(npub)), E_OK);
    hex_encode(out, pub, 32);
}

struct fetched {
    bool done;
    long code;
    char *body;
    char location[256];
};

static void on_fetched(const struct http_fetch_res *res, void *ud)
{
    struct fetched *f = ud;
    f->done = true;
    f->code = res->code;
    f->body = res->body ? strdup(res->body) : NULL;
}

/* GET on our server; the JSON body (to decref), the status in *code. */
static json_t *get(const char *path, long *code)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.2:%d%s", fx.port, path);
    struct fetched f = {0};
    struct http_fetch_req req = {.method = "GET", .url = url, .connect_timeout_ms = 2000,
                                 .timeout_ms = 15000, .max_bytes = 1 << 20};
    assert_int_equal(http_fetch(fx.a.client, &req, on_fetched, &f), E_OK);
    int64_t end = now_ms() + 20000;
    while (!f.done && now_ms() < end)
        run_for(10);
    assert_true(f.done);
    *code = f.code;
    json_error_t err;
    json_t *j = f.body ? json_loads(f.body, 0, &err) : NULL;
    free(f.body);
    return j;
}

static json_t *providers(const char *query)
{
    char path[300];
    snprintf(path, sizeof path, "/v1/providers/%s", query ? query : "");
    long code = 0;
    json_t *j = get(path, &code);
    assert_int_equal(code, 200);
    json_t *p = json_incref(json_object_get(j, "providers"));
    json_decref(j);
    assert_true(json_is_array(p));
    return p;
}

static json_t *find(json_t *list, const char *key, const char *value)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        json_t *o = json_object_get(p, "provider") ? json_object_get(p, "provider") : p;
        if (json_is_string(json_object_get(o, key)) &&
            strcmp(json_string_value(json_object_get(o, key)), value) == 0)
            return p;
    }
    return NULL;
}

/* A signed announcement by key 'kb' as JSON text. */
static char *announcement(uint8_t kb, const char *d, const char *url, int64_t at, bool forge)
{
    uint8_t sk[32] = {0};
    sk[31] = kb;
    struct nostr_key k;
    assert_int_equal(nostr_key_from_secret(&k, sk), E_OK);
    const char *urls[] = {url};
    const char *mints[] = {"https://mint.other"};
    struct nostr_ann a = {d, urls, url ? 1 : 0, mints, 1, "0.4.5", "Other", "Another node"};
    struct nostr_event ev;
    assert_int_equal(nostr_ann_build(&ev, &a, at), E_OK);
    assert_int_equal(nostr_event_sign(&ev, &k), E_OK);
    if (forge)
        assert_int_equal(nostr_event_set_content(&ev, "{\"name\":\"Evil\",\"about\":\"\"}", 26), E_OK);
    struct buf b;
    buf_init(&b, NOSTR_MAX_FRAME);
    assert_int_equal(nostr_event_write_json(&ev, &b), E_OK);
    nostr_event_deinit(&ev);
    nostr_key_wipe(&k);
    return buf_take(&b, NULL);
}

/* -------------------------------------------------------------------------- tests */

static void test_announce_and_discover(void **state)
{
    NEED_RELAY();
    static const char *const env[] = {"HTTP_URL", "https://node.example/v1/", "ONION_URL",
                                      "abcdefghijklmnop.onion", NULL};
    assert_int_equal(node_start(env), E_OK);
    char pub[65];
    node_pubhex(pub);

    json_t *ev = NULL;
    assert_int_equal(wait_received(pub, 1, &ev, 10000), 1);
    char want[512];
    snprintf(want, sizeof want,
             "[[\"d\",\"%.12s\"],[\"u\",\"https://node.example\"],[\"u\",\"http://abcdefghijklmnop"
             ".onion\"],[\"mint\",\"https://mint.example\"],[\"version\",\"%s\"]]",
             pub, ROUTSTR_VERSION);
    char *tags = json_dumps(json_object_get(ev, "tags"), JSON_COMPACT);
    assert_string_equal(tags, want);
    free(tags);
    assert_string_equal(json_string_value(json_object_get(ev, "content")),
                        "{\"name\":\"Test Node\",\"about\":\"A \\\"quoted\\\" node\"}");
    int64_t t = (int64_t)time(NULL);
    assert_true(json_integer_value(json_object_get(ev, "created_at")) >= t - 30);
    json_decref(ev);

    /* Other providers: P1 twice (older, newer), P2 on 127.0.0.2 (our server: probed), a forged
     * one, one an hour ahead, one without a URL, one on localhost only. */
    char p2url[64];
    snprintf(p2url, sizeof p2url, "http://127.0.0.2:%d", fx.port);
    char *evs[] = {
        announcement(2, "p1", "https://p1-old.example", t - 100, false),
        announcement(2, "p1", "https://p1.example", t - 50, false),
        announcement(3, "p2", p2url, t - 10, false),
        announcement(4, "forged", "https://forged.example", t, true),
        announcement(5, "future", "https://future.example", t + 3600, false),
        announcement(6, "nourl", NULL, t, false),
        announcement(7, "local", "http://localhost:8000", t, false),
    };
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_appends(&b, "[");
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        buf_printf(&b, "%s%s", i ? "," : "", evs[i]);
        free(evs[i]);
    }
    buf_appends(&b, "]");
    json_decref(ctl("POST", "/_test/inject", b.p));
    buf_deinit(&b);

    json_t *list = NULL;
    for (int64_t end = now_ms() + 5000; now_ms() < end;) {
        json_decref(list);
        list = providers(NULL);
        if (json_array_size(list) >= 3)
            break;
        run_for(50);
    }
    run_for(200); /* anything else would have arrived by now */
    json_decref(list);
    list = providers(NULL);
    assert_int_equal(json_array_size(list), 3);
    json_t *me = find(list, "pubkey", pub);
    assert_non_null(me);
    assert_string_equal(json_string_value(json_object_get(me, "endpoint_url")), "https://node.example");
    assert_string_equal(json_string_value(json_object_get(me, "name")), "Test Node");
    assert_string_equal(json_string_value(json_object_get(me, "description")), "A \"quoted\" node");
    assert_int_equal(json_array_size(json_object_get(me, "endpoint_urls")), 2);
    json_t *p1 = find(list, "id", "p1");
    assert_non_null(p1);
    assert_string_equal(json_string_value(json_object_get(p1, "endpoint_url")), "https://p1.example");
    assert_string_equal(json_string_value(json_object_get(p1, "version")), "0.4.5");
    assert_int_equal(json_integer_value(json_object_get(p1, "kind")), 38421);
    assert_non_null(find(list, "id", "p2"));
    assert_null(find(list, "id", "forged"));
    assert_null(find(list, "id", "future"));
    const char *p1pub = json_string_value(json_object_get(p1, "pubkey"));
    char q[128];
    snprintf(q, sizeof q, "?pubkey=%s", p1pub);
    json_t *only = providers(q);
    assert_int_equal(json_array_size(only), 1);
    json_decref(only);

    /* The redirect keeps the query. */
    long code = 0;
    json_t *j = get("/v1/providers?include_json=false", &code);
    assert_int_equal(code, 307);
    json_decref(j);

    /* Health: P2's /v1/info is our server; the others do not resolve. */
    json_t *h = providers("?include_json=true");
    assert_int_equal(json_array_size(h), 3);
    json_t *hp2 = find(h, "id", "p2");
    assert_non_null(hp2);
    json_t *health = json_object_get(hp2, "health");
    assert_string_equal(json_string_value(json_object_get(health, "endpoint")), "info");
    assert_int_equal(json_integer_value(json_object_get(health, "status_code")), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(health, "json"), "name")),
                        "probe-target");
    json_t *hme = json_object_get(find(h, "pubkey", pub), "health");
    assert_string_equal(json_string_value(json_object_get(hme, "endpoint")), "error");
    json_decref(h);
    j = get("/v1/providers/?include_json=maybe", &code);
    assert_int_equal(code, 422);
    json_decref(j);

    /* The relay drops us: we come back and find the announcement up to date. */
    size_t reqs = own_reqs(pub);
    json_decref(ctl("POST", "/_test/drop", ""));
    for (int64_t end = now_ms() + 5000; own_reqs(pub) == reqs && now_ms() < end;)
        run_for(50);
    assert_int_equal(own_reqs(pub), reqs + 1);
    run_for(300);
    assert_int_equal(received_by(pub, NULL), 1);
    json_decref(list);
}

static void test_restarts(void **state)
{
    NEED_RELAY();
    static const char *const env1[] = {"HTTP_URL", "https://node.example", NULL};
    assert_int_equal(node_start(env1), E_OK);
    char pub[65], pub2[65];
    node_pubhex(pub);
    json_t *first = NULL;
    assert_int_equal(wait_received(pub, 1, &first, 10000), 1);
    node_stop();

    /* Same key from the store; nothing changed: nothing published. */
    assert_int_equal(node_start(env1), E_OK);
    node_pubhex(pub2);
    assert_string_equal(pub, pub2);
    for (int64_t end = now_ms() + 5000; own_reqs(pub) < 2 && now_ms() < end;)
        run_for(50);
    run_for(400);
    assert_int_equal(received_by(pub, NULL), 1);
    node_stop();

    /* A new HTTP_URL: republished, same d. */
    static const char *const env2[] = {"HTTP_URL", "https://node2.example", NULL};
    assert_int_equal(node_start(env2), E_OK);
    json_t *second = NULL;
    assert_int_equal(wait_received(pub, 2, &second, 10000), 2);
    json_t *t1 = json_object_get(first, "tags"), *t2 = json_object_get(second, "tags");
    assert_true(json_equal(json_array_get(t1, 0), json_array_get(t2, 0)));
    assert_string_equal(json_string_value(json_array_get(json_array_get(t2, 1), 1)),
                        "https://node2.example");
    assert_true(json_integer_value(json_object_get(second, "created_at")) >
                json_integer_value(json_object_get(first, "created_at")) - 1);
    json_decref(first);
    json_decref(second);
    node_stop();

    /* PROVIDER_ID wins. */
    static const char *const env3[] = {"HTTP_URL", "https://node2.example", "PROVIDER_ID",
                                       "my-node", NULL};
    assert_int_equal(node_start(env3), E_OK);
    json_t *third = NULL;
    assert_int_equal(wait_received(pub, 3, &third, 10000), 3);
    assert_string_equal(json_string_value(json_array_get(json_array_get(json_object_get(third, "tags"), 0), 1)),
                        "my-node");
    json_decref(third);
    node_stop();

    /* No public URL (a local one only): nothing announced, no own-events REQ. */
    size_t reqs = own_reqs(pub);
    static const char *const env4[] = {"HTTP_URL", "http://127.0.0.1:8000", NULL};
    assert_int_equal(node_start(env4), E_OK);
    run_for(800);
    assert_int_equal(own_reqs(pub), reqs);
    assert_int_equal(received_by(pub, NULL), 3);
    node_stop();

    /* A malformed NSEC stops the start. */
    static const char *const bad[] = {"NSEC", "nsec1notakey", NULL};
    assert_int_equal(node_start(bad), E_PROTO);
}

static void test_nsec_and_reused_d(void **state)
{
    NEED_RELAY();
    /* Our own older announcement with another d is on the relay: its d is reused. */
    uint8_t sk[32];
    assert_int_equal(hex_decode(sk, 32, nsec_hex, 64), 0);
    struct nostr_key k;
    assert_int_equal(nostr_key_from_secret(&k, sk), E_OK);
    const char *urls[] = {"https://old.example"};
    struct nostr_ann a = {"old-id", urls, 1, NULL, 0, "0.0.1", "Old", ""};
    struct nostr_event ev;
    assert_int_equal(nostr_ann_build(&ev, &a, (int64_t)time(NULL) - 1000), E_OK);
    assert_int_equal(nostr_event_sign(&ev, &k), E_OK);
    struct buf b;
    buf_init(&b, NOSTR_MAX_FRAME);
    assert_int_equal(nostr_event_write_json(&ev, &b), E_OK);
    json_decref(ctl("POST", "/_test/inject", b.p));
    buf_deinit(&b);
    nostr_event_deinit(&ev);
    nostr_key_wipe(&k);

    char nsec[NOSTR_NPUB_LEN + 1];
    nostr_nsec_encode(nsec, sk);
    static const char *env[] = {"HTTP_URL", "https://node.example", "NSEC", NULL, NULL};
    env[3] = nsec;
    assert_int_equal(node_start(env), E_OK);
    char pub[65];
    node_pubhex(pub);
    assert_string_equal(pub, nsec_pub);
    json_t *got = NULL;
    assert_int_equal(wait_received(pub, 1, &got, 15000), 1);
    json_t *tags = json_object_get(got, "tags");
    assert_string_equal(json_string_value(json_array_get(json_array_get(tags, 0), 1)), "old-id");
    assert_string_equal(json_string_value(json_array_get(json_array_get(tags, 1), 1)),
                        "https://node.example");
    json_decref(got);
}

static void test_settings_changed(void **state)
{
    NEED_RELAY();
    static const char *const env[] = {"HTTP_URL", "https://node.example", NULL};
    assert_int_equal(node_start(env), E_OK);
    char pub[65];
    node_pubhex(pub);
    assert_int_equal(wait_received(pub, 1, NULL, 10000), 1);
    /* Nothing changed: the re-check finds the relay's copy up to date. */
    size_t reqs = own_reqs(pub);
    nostr_app_settings_changed(fx.n);
    for (int64_t end = now_ms() + 3000; own_reqs(pub) == reqs && now_ms() < end;)
        run_for(50);
    run_for(300);
    assert_int_equal(received_by(pub, NULL), 1);
    /* A new URL and name while running (what an admin API would do). */
    free(fx.a.cfg.http_url);
    fx.a.cfg.http_url = strdup("https://moved.example");
    free(fx.a.cfg.name);
    fx.a.cfg.name = strdup("Renamed");
    nostr_app_settings_changed(fx.n);
    json_t *ev = NULL;
    assert_int_equal(wait_received(pub, 2, &ev, 5000), 2);
    json_t *tags = json_object_get(ev, "tags");
    assert_string_equal(json_string_value(json_array_get(json_array_get(tags, 1), 1)),
                        "https://moved.example");
    assert_string_equal(json_string_value(json_object_get(ev, "content")),
                        "{\"name\":\"Renamed\",\"about\":\"A \\\"quoted\\\" node\"}");
    json_decref(ev);
    /* PROVIDER_ID set while running replaces d. */
    free(fx.a.cfg.provider_id);
    fx.a.cfg.provider_id = strdup("renamed-node");
    nostr_app_settings_changed(fx.n);
    assert_int_equal(wait_received(pub, 3, &ev, 5000), 3);
    tags = json_object_get(ev, "tags");
    assert_string_equal(json_string_value(json_array_get(json_array_get(tags, 0), 1)),
                        "renamed-node");
    json_decref(ev);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_announce_and_discover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nsec_and_reused_d, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_changed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
