/* test_nostr_relay.c -- the websocket client and the reconnecting relay (nostr/ws.h,
 * nostr/relay.h) against the test relay of tests/relay/relay.js (Node's `ws`), run as a child
 * process: a REQ answered with EOSE, publishing with OK, a forged event refused by the relay;
 * the misbehaviour bounds (garbage, an oversized message, a relay that never answers the
 * upgrade, a refused connection, a wrong Sec-WebSocket-Accept, an HTTP 404 to the upgrade) each
 * ending in on_down with its reason; freeing midway (resolving, connecting); the backoff between
 * attempts; SOCKS5 through tests/relay/socks5.js with the host name left for the proxy; and
 * wss:// with a self-signed certificate (trusted through a CA file, refused without it, and
 * refused under the wrong host name).
 *
 * Needs node and tests/node_modules (npm ci in tests/); without them the tests are skipped.
 * The wss tests also need the openssl command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "nostr/announce.h"
#include "nostr/relay.h"

/* ------------------------------------------------------------------ the Node relay */

struct proc {
    pid_t pid;
    json_t *info; /* {"url","control","socks","socksControl"} */
};

static bool have_node(void)
{
    return access("tests/node_modules/ws/package.json", R_OK) == 0 &&
           access("tests/node_modules/nostr-tools/package.json", R_OK) == 0 &&
           system("node --version >/dev/null 2>&1") == 0;
}

/* Starts `node tests/relay/relay.js args...` and reads its JSON line. */
static bool proc_start(struct proc *p, const char *const *args)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    const char *argv[12] = {"node", "tests/relay/relay.js"};
    size_t n = 2;
    for (; args && *args && n < 11; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    p->pid = fork();
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("node", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[2048];
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
    p->info = json_loads(line, 0, &err);
    if (p->info == NULL) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        return false;
    }
    return true;
}

static void proc_stop(struct proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
    }
    json_decref(p->info);
    memset(p, 0, sizeof *p);
}

static const char *pstr(const struct proc *p, const char *key)
{
    return json_string_value(json_object_get(p->info, key));
}

static size_t on_body(char *d, size_t s, size_t n, void *ud)
{
    return buf_append(ud, d, s * n) == E_OK ? s * n : 0;
}

/* A blocking request to a control endpoint; the answer's JSON (to decref). */
static json_t *ctl(const char *base, const char *method, const char *path, const char *body)
{
    CURL *c = curl_easy_init();
    struct buf b;
    buf_init(&b, 64 << 20);
    char *url = malloc(strlen(base) + strlen(path) + 1);
    strcpy(url, base);
    strcat(url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    free(url);
    json_error_t err;
    json_t *j = rc == CURLE_OK ? json_loadb(b.p ? b.p : "", b.len, JSON_ALLOW_NUL, &err) : NULL;
    buf_deinit(&b);
    if (j == NULL)
        fail_msg("control %s %s%s failed", method, base, path);
    return j;
}

static void set_mode(const struct proc *p, const char *mode)
{
    char body[64];
    snprintf(body, sizeof body, "{\"mode\":\"%s\"}", mode);
    json_decref(ctl(pstr(p, "control"), "POST", "/_test/mode", body));
}

/* ------------------------------------------------------------------------- fixture */

static struct proc relay, tls_relay;
static bool tls_ok;
static char tmpdir[64], cert[128], key[128];
static struct event_base *base;
static struct nostr_net net;

static int group_setup(void **state)
{
    if (!have_node())
        return 0; /* every test skips */
    static const char *const args[] = {"--socks", NULL};
    if (!proc_start(&relay, args))
        return -1;
    strcpy(tmpdir, "/tmp/routstr-nostr-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
    snprintf(key, sizeof key, "%s/key.pem", tmpdir);
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost "
             "-keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    if (system(cmd) == 0) {
        const char *const targs[] = {"--tls-cert", cert, "--tls-key", key, NULL};
        tls_ok = proc_start(&tls_relay, targs);
    }
    return 0;
}

static int group_teardown(void **state)
{
    proc_stop(&relay);
    proc_stop(&tls_relay);
    if (*tmpdir) {
        unlink(cert);
        unlink(key);
        rmdir(tmpdir);
    }
    return 0;
}

static int setup(void **state)
{
    if (relay.pid == 0)
        return 0;
    json_decref(ctl(pstr(&relay, "control"), "POST", "/_test/reset", ""));
    base = event_base_new();
    char err[ERR_LEN];
    if (nostr_net_init(&net, base, tls_ok ? cert : NULL, err) != E_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    if (base == NULL)
        return 0;
    nostr_net_deinit(&net);
    event_base_free(base);
    base = NULL;
    return 0;
}

/* ------------------------------------------------------------------------ a client */

struct client {
    struct nostr_relay *r;
    int opens, downs, eoses, oks, events, notices;
    int last_status;
    char last_why[160];
    bool ok_value;
    int64_t down_ms[32];
    const char *on_open_send; /* sent at each open */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void c_open(struct nostr_relay *r, void *ud)
{
    struct client *c = ud;
    c->opens++;
    if (c->on_open_send)
        assert_int_equal(nostr_relay_send(r, c->on_open_send, strlen(c->on_open_send)), E_OK);
}

static void c_msg(struct nostr_relay *r, const struct nostr_msg *m, void *ud)
{
    struct client *c = ud;
    c->eoses += m->type == NOSTR_MSG_EOSE;
    c->events += m->type == NOSTR_MSG_EVENT;
    c->notices += m->type == NOSTR_MSG_NOTICE;
    if (m->type == NOSTR_MSG_OK) {
        c->oks++;
        c->ok_value = m->ok;
    }
}

static void c_down(struct nostr_relay *r, int status, const char *why, long retry_ms, void *ud)
{
    struct client *c = ud;
    if (c->downs < 32)
        c->down_ms[c->downs] = now_ms();
    c->downs++;
    c->last_status = status;
    snprintf(c->last_why, sizeof c->last_why, "%s", why);
}

static struct nostr_relay_opts opts(const char *url)
{
    return (struct nostr_relay_opts){
        .url = url,
        .backoff_min_ms = 100,
        .backoff_max_ms = 10000,
        .stable_ms = 60000,
        .timeout_ms = 3000,
        .ping_ms = 5000,
        .max_frame = NOSTR_MAX_FRAME,
        .max_bad = 5,
        .max_rate = 1000,
    };
}

static struct nostr_relay *client_new(struct client *c, const struct nostr_relay_opts *o)
{
    static const struct nostr_relay_cbs cbs = {c_open, c_msg, c_down};
    char err[ERR_LEN];
    c->r = nostr_relay_new(&net, o, &cbs, c, err);
    if (c->r == NULL)
        fail_msg("%s", err);
    nostr_relay_start(c->r);
    return c->r;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *flag >= want or ms pass. */
static bool run_until(int *flag, int want, int ms)
{
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 20000};
    event_add(t, &tv);
    int64_t end = now_ms() + ms;
    while ((flag == NULL || *flag < want) && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return flag == NULL || *flag >= want;
}

#define NEED_RELAY()                                                                          \
    do {                                                                                      \
        if (relay.pid == 0)                                                                   \
            skip();                                                                           \
    } while (0)

static const char req_msg[] = "[\"REQ\",\"t\",{\"kinds\":[38421],\"limit\":5}]";

/* -------------------------------------------------------------------------- tests */

static void test_req_publish(void **state)
{
    NEED_RELAY();
    struct client c = {.on_open_send = req_msg};
    struct nostr_relay_opts o = opts(pstr(&relay, "url"));
    client_new(&c, &o);
    assert_true(run_until(&c.eoses, 1, 5000));
    assert_true(nostr_relay_is_open(c.r));
    assert_int_equal(c.downs, 0);

    /* Publish an announcement: OK true, then it streams back on the open subscription. */
    uint8_t sk[32] = {0};
    sk[31] = 9;
    struct nostr_key k;
    assert_int_equal(nostr_key_from_secret(&k, sk), E_OK);
    const char *urls[] = {"https://x.example"};
    struct nostr_ann a = {"x", urls, 1, NULL, 0, "1", "X", ""};
    struct nostr_event ev;
    assert_int_equal(nostr_ann_build(&ev, &a, time(NULL)), E_OK);
    assert_int_equal(nostr_event_sign(&ev, &k), E_OK);
    struct buf b;
    buf_init(&b, NOSTR_MAX_FRAME);
    assert_int_equal(nostr_msg_event(&b, &ev), E_OK);
    assert_int_equal(nostr_relay_send(c.r, b.p, b.len), E_OK);
    assert_true(run_until(&c.oks, 1, 5000));
    assert_true(c.ok_value);
    assert_true(run_until(&c.events, 1, 5000));

    /* The same event with its content changed: nostr-tools' verifyEvent refuses it. */
    assert_int_equal(nostr_event_set_content(&ev, "{}", 2), E_OK);
    buf_reset(&b);
    assert_int_equal(nostr_msg_event(&b, &ev), E_OK);
    assert_int_equal(nostr_relay_send(c.r, b.p, b.len), E_OK);
    assert_true(run_until(&c.oks, 2, 5000));
    assert_false(c.ok_value);
    buf_deinit(&b);
    nostr_event_deinit(&ev);
    nostr_key_wipe(&k);
    assert_int_equal(nostr_relay_attempts(c.r), 1);
    nostr_relay_free(c.r);
}

static void test_misbehaving(void **state)
{
    NEED_RELAY();
    static const struct {
        const char *mode;
        int status;
        const char *why;
    } cases[] = {
        {"garbage", E_PROTO, "malformed"},
        {"huge", E_LIMIT, "over"},
        {"silent", E_TIMEOUT, "no websocket"},
        {"refuse", E_IO, ""},
        {"badaccept", E_PROTO, "Sec-WebSocket-Accept"},
        {"nows", E_PROTO, "HTTP 404"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_mode(&relay, cases[i].mode);
        /* Enough REQs to pass max_bad in garbage mode. */
        static const char six[] = "[\"REQ\",\"a\",{}]";
        struct client c = {.on_open_send = six};
        struct nostr_relay_opts o = opts(pstr(&relay, "url"));
        o.timeout_ms = 400;
        o.max_bad = 0;
        client_new(&c, &o);
        if (!run_until(&c.downs, 1, 5000))
            fail_msg("mode %s: never dropped", cases[i].mode);
        if (c.last_status != cases[i].status || strstr(c.last_why, cases[i].why) == NULL)
            fail_msg("mode %s: %s (%s)", cases[i].mode, err_name(c.last_status), c.last_why);
        nostr_relay_free(c.r);
    }
    set_mode(&relay, "normal");
}

static void test_backoff(void **state)
{
    NEED_RELAY();
    set_mode(&relay, "drop");
    struct client c = {0};
    struct nostr_relay_opts o = opts(pstr(&relay, "url"));
    client_new(&c, &o);
    run_until(NULL, 0, 2300);
    /* 100, 200, 400, 800 ms (each ±20 %): 5 attempts within 2.3 s (the 6th comes at ~3.1 s). */
    unsigned n = nostr_relay_attempts(c.r);
    if (n < 4 || n > 6)
        fail_msg("%u attempts in 2.3 s", n);
    for (int i = 2; i < c.downs && i < 5; i++) {
        int64_t gap = c.down_ms[i] - c.down_ms[i - 1], prev = c.down_ms[i - 1] - c.down_ms[i - 2];
        /* doubling with ±20 % jitter: at worst 1.6/1.2 = 1.33 times the previous gap */
        if (gap < prev * 12 / 10)
            fail_msg("gap %d: %lld ms after %lld ms: not growing", i, (long long)gap,
                     (long long)prev);
    }
    json_t *st = ctl(pstr(&relay, "control"), "GET", "/_test/state", NULL);
    assert_int_equal(json_integer_value(json_object_get(st, "attempts")), n);
    json_decref(st);
    /* The relay heals: the next attempt connects. */
    set_mode(&relay, "normal");
    assert_true(run_until(&c.opens, 1, 4000));
    nostr_relay_free(c.r);
}

static void test_socks5(void **state)
{
    NEED_RELAY();
    /* A made-up host name: only the proxy can know where it is (it dials 127.0.0.1). */
    char url[128], proxy[64];
    const char *ru = pstr(&relay, "url");
    snprintf(url, sizeof url, "ws://relay.test.invalid:%s", strrchr(ru, ':') + 1);
    snprintf(proxy, sizeof proxy, "socks5://127.0.0.1:%lld",
             (long long)json_integer_value(json_object_get(relay.info, "socks")));
    struct client c = {.on_open_send = req_msg};
    struct nostr_relay_opts o = opts(url);
    o.proxy = proxy;
    client_new(&c, &o);
    assert_true(run_until(&c.eoses, 1, 5000));
    json_t *st = ctl(pstr(&relay, "socksControl"), "GET", "/", NULL);
    json_t *last = json_array_get(json_object_get(st, "connects"), 0);
    assert_non_null(last);
    assert_int_equal(json_integer_value(json_object_get(last, "atyp")), 3);
    assert_string_equal(json_string_value(json_object_get(last, "host")), "relay.test.invalid");
    json_decref(st);
    nostr_relay_free(c.r);
}

static void test_tls(void **state)
{
    NEED_RELAY();
    if (!tls_ok)
        skip();
    const char *port = strrchr(pstr(&tls_relay, "url"), ':') + 1;
    char url[128];
    snprintf(url, sizeof url, "wss://localhost:%s/", port);
    struct client c = {.on_open_send = req_msg};
    struct nostr_relay_opts o = opts(url);
    client_new(&c, &o);
    if (!run_until(&c.eoses, 1, 5000))
        fail_msg("no EOSE over TLS: %s", c.last_why);
    nostr_relay_free(c.r);

    /* The certificate names localhost, not 127.0.0.1. */
    snprintf(url, sizeof url, "wss://127.0.0.1:%s", port);
    struct client c2 = {.on_open_send = req_msg};
    o = opts(url);
    client_new(&c2, &o);
    assert_true(run_until(&c2.downs, 1, 5000));
    assert_int_equal(c2.opens, 0);
    assert_int_equal(c2.last_status, E_IO);
    nostr_relay_free(c2.r);

    /* Without the CA file the self-signed certificate is not trusted. */
    struct nostr_net sys;
    char err[ERR_LEN];
    assert_int_equal(nostr_net_init(&sys, base, NULL, err), E_OK);
    snprintf(url, sizeof url, "wss://localhost:%s", port);
    struct client c3 = {0};
    static const struct nostr_relay_cbs cbs = {c_open, c_msg, c_down};
    o = opts(url);
    c3.r = nostr_relay_new(&sys, &o, &cbs, &c3, err);
    nostr_relay_start(c3.r);
    assert_true(run_until(&c3.downs, 1, 5000));
    assert_int_equal(c3.opens, 0);
    assert_non_null(strstr(c3.last_why, "certificate"));
    nostr_relay_free(c3.r);
    nostr_net_deinit(&sys);
}

static void test_bad_urls(void **state)
{
    char err[ERR_LEN];
    static const char *const bad[] = {
        "http://relay.example", "wss://", "wss://a b", "wss://host:0", "wss://host:99999",
        "wss://[zz]", "wss://host\r\nX: y", "relay.example", "wss://ho\"st",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (nostr_ws_url_check(bad[i], err) == E_OK)
            fail_msg("accepted %s", bad[i]);
    static const char *const good[] = {
        "wss://relay.damus.io", "ws://127.0.0.1:7777", "wss://[::1]:443/path?x=1",
        "wss://nos.lol/", "WSS://Relay.Example",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (nostr_ws_url_check(good[i], err) != E_OK)
            fail_msg("refused %s: %s", good[i], err);
}

/* Freed while the name is being resolved, while connecting, and during the backoff: nothing
 * leaks and no callback comes afterwards (ASan would see either). No relay process needed. */
static void test_free_midway(void **state)
{
    base = event_base_new();
    char err[ERR_LEN];
    assert_int_equal(nostr_net_init(&net, base, NULL, err), E_OK);
    static const char *const urls[] = {"wss://relay.test.invalid", "ws://127.0.0.1:1",
                                       "ws://[::1]:1"};
    for (size_t i = 0; i < 3; i++) {
        for (int wait = 0; wait <= 200; wait += 100) {
            struct client c = {0};
            struct nostr_relay_opts o = opts(urls[i]);
            o.backoff_min_ms = 5000;
            client_new(&c, &o);
            if (wait)
                run_until(NULL, 0, wait);
            nostr_relay_free(c.r);
            run_until(NULL, 0, 20);
            assert_int_equal(c.opens, 0);
        }
    }
    nostr_net_deinit(&net);
    event_base_free(base);
    base = NULL;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_free_midway),
        cmocka_unit_test_setup_teardown(test_req_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misbehaving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socks5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return rc;
}
