/* admin.c -- the admin API's entry: routing, sessions, login throttling, start-up, the settings
 * poll, and retiring what runtime changes replace (see admin.h, docs/admin-api.md).
 *
 * A request under /admin/api/ other than login first proves its session: the cookie's token is
 * hashed and looked up in admin_sessions (several processes share one PostgreSQL), then routed.
 * Login is throttled per client address: after ADMIN_MAX_FAILURES failures within
 * ADMIN_FAILURE_WINDOW_S every attempt is answered 429 until the window ends, even with the right
 * password. The password's scrypt (about 0.1 s and 32 MB) runs on a thread of its own, never on
 * the loop that serves paid requests, and at most ADMIN_MAX_CHECKS at once (more: 429). Changing
 * requests must say Content-Type: application/json, which a cross-site form cannot, on top of the
 * SameSite=Strict cookie. Neither the password nor a token is ever logged. */
#include "app/admin_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "app/pricing.h"
#include "app/secrets.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* ------------------------------------------------------------------------------ helpers */

struct admin_call *admin_call_new(struct app_req *r)
{
    struct admin_call *c = xcalloc(1, sizeof(*c));
    c->r = r;
    app_req_hold(r);
    return c;
}

void admin_call_free(struct admin_call *c)
{
    json_decref(c->body);
    json_decref(c->out);
    for (size_t i = 0; i < sizeof(c->s) / sizeof(c->s[0]); i++)
        free(c->s[i]);
    app_req_release(c->r);
    free(c);
}

void admin_bad_request(struct app_req *r, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    app_reply_error(r, 400, "invalid_request", code, "%s", msg);
}

void admin_store_error(struct app_req *r)
{
    app_reply_error(r, 503, "service_unavailable", "database_unavailable",
                    "The database did not answer; try again");
}

json_t *admin_json_body(struct app_req *r)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(r->req);
    size_t n = evbuffer_get_length(b);
    if (n > ADMIN_MAX_BODY) {
        app_reply_error(r, 413, "invalid_request", "body_too_large", "The body is over %d bytes",
                        ADMIN_MAX_BODY);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = n ? json_loadb((const char *)evbuffer_pullup(b, -1), n, JSON_REJECT_DUPLICATES,
                               &jerr)
                  : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        admin_bad_request(r, "invalid_json", "The body must be a JSON object");
        return NULL;
    }
    return j;
}

char *admin_query(struct app_req *r, const char *name)
{
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
    if (q == NULL)
        return NULL;
    struct evkeyvalq kv;
    if (evhttp_parse_query_str(q, &kv) != 0) {
        evhttp_clear_headers(&kv);
        return NULL;
    }
    const char *v = evhttp_find_header(&kv, name);
    char *out = v ? xstrdup(v) : NULL;
    evhttp_clear_headers(&kv);
    return out;
}

bool admin_query_int(struct app_req *r, const char *name, int64_t min, int64_t max, int64_t def,
                     int64_t *out)
{
    char *v = admin_query(r, name);
    *out = def;
    if (v && str_parse_i64(v, min, max, out) != E_OK) {
        admin_bad_request(r, "invalid_parameter", "'%s' must be a whole number from %lld to %lld",
                          name, (long long)min, (long long)max);
        free(v);
        return false;
    }
    free(v);
    return true;
}

static const char *header(struct app_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

/* The session token of the request's cookie, or NULL (malloc'd). */
static char *session_token(struct app_req *r)
{
    const char *h = header(r, "Cookie");
    size_t want = strlen(ADMIN_COOKIE);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > want && strncmp(p, ADMIN_COOKIE, want) == 0 && p[want] == '=' &&
            n - want - 1 <= 128)
            return xstrndup(p + want + 1, n - want - 1);
        p = end ? end + 1 : p + n;
    }
    return NULL;
}

static bool behind_https(struct app_req *r)
{
    const char *fp = header(r, "X-Forwarded-Proto");
    return strncmp(r->app->cfg.http_url, "https://", 8) == 0 ||
           (fp && strcasecmp(fp, "https") == 0);
}

static void set_cookie(struct app_req *r, const char *token, int max_age)
{
    char *v = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", ADMIN_COOKIE,
                        token, max_age, behind_https(r) ? "; Secure" : "");
    app_reply_header(r, "Set-Cookie", v);
    free(v);
}

/* ------------------------------------------------------------------------- throttling */

static void peer(struct app_req *r, char out[64])
{
    char *host = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    if (evcon)
        evhttp_connection_get_peer(evcon, &host, &port);
    snprintf(out, 64, "%s", host ? host : "?");
}

static struct admin_failures *failures(struct admin *ad, const char *addr, bool create,
                                       int64_t now)
{
    size_t oldest = 0;
    for (size_t i = 0; i < ad->n_fails; i++) {
        if (strcmp(ad->fails[i].addr, addr) == 0)
            return &ad->fails[i];
        if (ad->fails[i].window_start < ad->fails[oldest].window_start)
            oldest = i;
    }
    if (!create)
        return NULL;
    struct admin_failures *f;
    if (ad->n_fails == ADMIN_MAX_TRACKED) { /* the table is capped: forget the oldest */
        f = &ad->fails[oldest];
    } else {
        ad->fails = xrealloc(ad->fails, (ad->n_fails + 1) * sizeof(*ad->fails));
        f = &ad->fails[ad->n_fails++];
    }
    memset(f, 0, sizeof(*f));
    snprintf(f->addr, sizeof(f->addr), "%s", addr);
    f->window_start = now;
    return f;
}

/* ------------------------------------------------------------------------ the session */

struct login {
    struct app_req *r;
    char token[44];
};

static void on_session_saved(int status, void *ud)
{
    struct login *l = ud;
    if (status != 0) {
        admin_store_error(l->r);
    } else {
        set_cookie(l->r, l->token, ADMIN_SESSION_S);
        app_reply_json(l->r, 200, json_pack("{s:b}", "ok", 1));
    }
    secure_zero(l->token, sizeof(l->token));
    app_req_release(l->r);
    free(l);
}

/* A password check on its own thread; the loop learns of its end through a pipe. */
#define ADMIN_MAX_CHECKS 2

struct check {
    struct app_req *r;
    char *encoded;       /* a copy of the stored hash */
    char *password;      /* zeroed and freed once checked */
    bool ok;
    int fds[2];
    pthread_t thread;
    struct event *ev;
    char addr[64];
    int64_t now;
};

static void *check_run(void *arg)
{
    struct check *c = arg;
    c->ok = admin_password_verify(c->encoded, c->password);
    ssize_t w;
    do
        w = write(c->fds[1], "", 1);
    while (w < 0 && errno == EINTR);
    return NULL;
}

static void check_free(struct check *c)
{
    if (c->ev)
        event_free(c->ev);
    for (int i = 0; i < 2; i++)
        if (c->fds[i] >= 0)
            close(c->fds[i]);
    secure_zero(c->password, strlen(c->password));
    free(c->password);
    free(c->encoded);
    free(c);
}

static void checked(struct app_req *r, const char *addr, int64_t now, bool ok)
{
    struct admin *ad = r->app->admin;
    struct admin_failures *f = failures(ad, addr, !ok, now);
    if (!ok) {
        f->count++;
        log_warn("admin: failed login from %s (%d in this window)", addr, f->count);
        app_reply_error(r, 401, "unauthorized", "invalid_password", "Wrong password");
        return;
    }
    if (f)
        f->count = 0;
    struct login *l = xcalloc(1, sizeof(*l));
    char hash[65];
    if (admin_token_new(l->token, hash) != 0) {
        free(l);
        app_reply_error(r, 500, "server_error", "no_randomness", "No randomness for a session");
        return;
    }
    l->r = r;
    app_req_hold(r);
    log_info("admin: login from %s", addr);
    store_session_put(r->app->store, hash, now + ADMIN_SESSION_S, on_session_saved, l);
}

static void on_checked(evutil_socket_t fd, short what, void *arg)
{
    struct check *c = arg;
    pthread_join(c->thread, NULL);
    c->r->app->admin->checking--;
    checked(c->r, c->addr, c->now, c->ok);
    app_req_release(c->r);
    check_free(c);
}

static void login(struct app_req *r)
{
    struct admin *ad = r->app->admin;
    char addr[64];
    peer(r, addr);
    int64_t now = (int64_t)time(NULL);
    struct admin_failures *f = failures(ad, addr, false, now);
    if (f && now >= f->window_start + ADMIN_FAILURE_WINDOW_S) {
        f->count = 0; /* the window is over */
        f->window_start = now;
    }
    if (f && f->count >= ADMIN_MAX_FAILURES) {
        char after[24];
        snprintf(after, sizeof(after), "%lld",
                 (long long)(f->window_start + ADMIN_FAILURE_WINDOW_S - now));
        app_reply_header(r, "Retry-After", after);
        app_reply_error(r, 429, "rate_limited", "too_many_login_attempts",
                        "Too many failed logins from this address; retry in %s seconds", after);
        return;
    }
    if (ad->checking >= ADMIN_MAX_CHECKS) {
        app_reply_header(r, "Retry-After", "1");
        app_reply_error(r, 429, "rate_limited", "too_many_login_attempts",
                        "Other logins are being checked; retry in 1 second");
        return;
    }
    json_t *body = admin_json_body(r);
    if (body == NULL)
        return;
    const char *password = json_string_value(json_object_get(body, "password"));
    if (password == NULL || strlen(password) > 1024) {
        json_decref(body);
        admin_bad_request(r, "invalid_password_field", "'password' must be a string");
        return;
    }
    if (ad->password_hash == NULL) { /* nothing to check against: no thread needed */
        json_decref(body);
        checked(r, addr, now, false);
        return;
    }
    struct check *c = xcalloc(1, sizeof(*c));
    c->r = r;
    c->encoded = xstrdup(ad->password_hash);
    c->password = xstrdup(password);
    json_decref(body);
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->now = now;
    c->fds[0] = c->fds[1] = -1;
    if (pipe2(c->fds, O_CLOEXEC) != 0 ||
        (c->ev = event_new(r->app->base, c->fds[0], EV_READ, on_checked, c)) == NULL ||
        event_add(c->ev, NULL) != 0 || pthread_create(&c->thread, NULL, check_run, c) != 0) {
        check_free(c);
        app_reply_error(r, 503, "service_unavailable", "busy", "Cannot check the password now");
        return;
    }
    ad->checking++;
    app_req_hold(r);
}

static void on_logged_out(int status, void *ud)
{
    struct admin_call *c = ud;
    if (status != 0) {
        admin_store_error(c->r);
    } else {
        set_cookie(c->r, "", 0);
        app_reply_json(c->r, 200, json_pack("{s:b}", "ok", 1));
    }
    admin_call_free(c);
}

static bool is(struct app_req *r, enum evhttp_cmd_type want)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    return m == want || (want == EVHTTP_REQ_GET && m == EVHTTP_REQ_HEAD);
}

/* Whether the request has method 'want'; answers 405 when not. */
static bool method(struct app_req *r, enum evhttp_cmd_type want)
{
    if (is(r, want))
        return true;
    app_reply_error(r, 405, "invalid_request", "method_not_allowed",
                    "Method %s not allowed on %s", r->method, r->path);
    return false;
}

/* Routes a request whose session is valid. */
static void route(struct app_req *r, const char *sub, const char *token_hash, int64_t expires)
{
    if (strcmp(sub, "/session") == 0) {
        if (method(r, EVHTTP_REQ_GET))
            app_reply_json(r, 200, json_pack("{s:b, s:I}", "ok", 1, "expires_at",
                                             (json_int_t)expires));
    } else if (strcmp(sub, "/logout") == 0) {
        if (method(r, EVHTTP_REQ_POST))
            store_session_delete(r->app->store, token_hash, on_logged_out, admin_call_new(r));
    } else if (strcmp(sub, "/overview") == 0) {
        if (method(r, EVHTTP_REQ_GET))
            admin_overview(r);
    } else if (strcmp(sub, "/withdraw") == 0) {
        if (method(r, EVHTTP_REQ_POST))
            admin_withdraw(r);
    } else if (strcmp(sub, "/keys") == 0) {
        if (method(r, EVHTTP_REQ_GET))
            admin_keys(r);
    } else if (strcmp(sub, "/transactions") == 0) {
        if (method(r, EVHTTP_REQ_GET))
            admin_transactions(r);
    } else if (strcmp(sub, "/requests") == 0) {
        if (method(r, EVHTTP_REQ_GET))
            admin_requests(r);
    } else if (strcmp(sub, "/models") == 0) {
        if (method(r, EVHTTP_REQ_GET))
            admin_models_get(r);
    } else if (strcmp(sub, "/models/reload") == 0) {
        if (method(r, EVHTTP_REQ_POST))
            admin_models_reload(r);
    } else if (strncmp(sub, "/models/", 8) == 0) {
        /* The id is the rest of the path, percent-decoded ("vendor/model" may come as either). */
        char *id = method(r, EVHTTP_REQ_PUT) ? evhttp_uridecode(sub + 8, 0, NULL) : NULL;
        if (id)
            admin_model_put(r, id);
        free(id);
    } else if (strcmp(sub, "/upstream") == 0) {
        if (is(r, EVHTTP_REQ_PUT))
            admin_upstream_put(r);
        else if (method(r, EVHTTP_REQ_GET))
            admin_upstream_get(r);
    } else if (strcmp(sub, "/settings") == 0) {
        if (is(r, EVHTTP_REQ_PUT))
            admin_settings_put(r);
        else if (method(r, EVHTTP_REQ_GET))
            admin_settings_get(r);
    } else {
        app_reply_error(r, 404, "not_found", "not_found", "No admin route %s", r->path);
    }
}

static bool changing(struct app_req *r)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    return m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT || m == EVHTTP_REQ_DELETE ||
           m == EVHTTP_REQ_PATCH;
}

static bool json_content(struct app_req *r)
{
    const char *ct = header(r, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) == 0 &&
        (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' '))
        return true;
    app_reply_error(r, 415, "invalid_request", "unsupported_media_type",
                    "Changing requests must send Content-Type: application/json");
    return false;
}

static void on_session(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    if (status != 0)
        admin_store_error(c->r);
    else if (rows->nrows == 0)
        app_reply_error(c->r, 401, "unauthorized", "admin_session_required",
                        "Log in first (POST /admin/api/login)");
    else if (!changing(c->r) || json_content(c->r))
        route(c->r, c->s[0], c->s[1], store_cell_i64(rows, 0, 0));
    admin_call_free(c);
}

void admin_handle(struct app_req *r, const char *sub)
{
    app_reply_header(r, "Cache-Control", "no-store");
    if (strcmp(sub, "/login") == 0) {
        if (method(r, EVHTTP_REQ_POST) && json_content(r))
            login(r);
        return;
    }
    char *token = session_token(r);
    if (token == NULL) {
        app_reply_error(r, 401, "unauthorized", "admin_session_required",
                        "Log in first (POST /admin/api/login)");
        return;
    }
    struct admin_call *c = admin_call_new(r);
    c->s[0] = xstrdup(sub);
    c->s[1] = xmalloc(65);
    admin_token_hash(token, c->s[1]);
    secure_zero(token, strlen(token));
    free(token);
    store_session_get(r->app->store, c->s[1], on_session, c);
}

/* ----------------------------------------------------------------------- retiring */

void admin_retire(struct app *a, void *p, void (*free_fn)(void *))
{
    struct admin *ad = a->admin;
    if (p == NULL)
        return;
    if (a->n_open == 0) { /* no request can point into it */
        free_fn(p);
        return;
    }
    ad->retired = xrealloc(ad->retired, (ad->n_retired + 1) * sizeof(*ad->retired));
    ad->retired[ad->n_retired++] = (struct admin_retired){p, free_fn, a->gen};
    a->gen++; /* requests from now on never saw p */
}

/* Frees what no open request can still use: a request may use what was current when it began,
 * so an entry retired at generation g waits for every request with gen <= g. */
static void sweep_retired(struct app *a, bool all)
{
    struct admin *ad = a->admin;
    uint64_t oldest = a->gen;
    for (struct app_req *r = a->open; r; r = r->next)
        if (r->gen < oldest)
            oldest = r->gen;
    size_t kept = 0;
    for (size_t i = 0; i < ad->n_retired; i++) {
        if (all || ad->retired[i].gen < oldest)
            ad->retired[i].free_fn(ad->retired[i].p);
        else
            ad->retired[kept++] = ad->retired[i];
    }
    ad->n_retired = kept;
}

/* ------------------------------------------------------------------ the settings poll */

static void on_poll_overrides(int status, const struct store_rows *rows, void *ud)
{
    struct app *a = ud;
    a->admin->polling = false;
    if (status != 0)
        return;
    admin_overrides_load(a->admin, rows);
    /* The version may have moved for a reload elsewhere: a node with a file reads it again (a
     * file that no longer parses keeps the catalogue it had, overrides laid over anew). */
    char err[ERR_LEN];
    bool reread = a->models_text != NULL;
    if (pricing_catalog_load(a, reread, err) != 0 &&
        (!reread || pricing_catalog_load(a, false, err) != 0))
        log_warn("admin: models: %s", err);
}

static void on_poll_settings(int status, const struct store_rows *rows, void *ud)
{
    struct app *a = ud;
    if (status != 0) {
        a->admin->polling = false;
        return;
    }
    admin_settings_apply(a, rows, false);
    store_model_overrides(a->store, on_poll_overrides, a);
}

static void on_poll_version(int status, const struct store_rows *rows, void *ud)
{
    struct app *a = ud;
    if (status != 0 || rows->nrows != 1 || store_cell_i64(rows, 0, 0) == a->admin->version) {
        a->admin->polling = false;
        return;
    }
    a->admin->version = store_cell_i64(rows, 0, 0);
    log_info("admin: settings changed in the database (version %lld): applying",
             (long long)a->admin->version);
    store_settings_get(a->store, on_poll_settings, a);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    sweep_retired(a, false);
    /* Only a shared database can change behind our back. */
    if (!a->admin->polling && strcmp(store_dialect(a->store), "postgresql") == 0) {
        a->admin->polling = true;
        store_settings_version(a->store, on_poll_version, a);
    }
}

/* --------------------------------------------------------------------- start and stop */

struct start_overrides {
    struct store_wait w;
    struct admin *ad;
};

static void on_start_overrides(int status, const struct store_rows *rows, void *ud)
{
    struct start_overrides *so = ud;
    store_wait_done(status, &so->w);
    if (status == 0)
        admin_overrides_load(so->ad, rows);
}

struct start_settings {
    struct store_wait w;
    struct app *a;
};

static void on_start_settings(int status, const struct store_rows *rows, void *ud)
{
    struct start_settings *ss = ud;
    store_wait_done(status, &ss->w);
    if (status == 0) /* the password hash among them */
        admin_settings_apply(ss->a, rows, true);
}

/* ADMIN_PASSWORD (hashed, replacing what is stored unless it already matches), or the stored
 * hash, or a generated password stored and printed once. */
static int password_init(struct app *a, char err[ERR_LEN])
{
    struct admin *ad = a->admin;
    char *env = a->cfg.admin_password;
    if (env && *env) {
        bool same = ad->password_hash && admin_password_verify(ad->password_hash, env);
        if (!same) {
            char *hash = NULL;
            if (admin_password_hash(&hash, env, ADMIN_SCRYPT_N, ADMIN_SCRYPT_R,
                                    ADMIN_SCRYPT_P) != 0) {
                snprintf(err, ERR_LEN, "cannot hash ADMIN_PASSWORD");
                return E_IO;
            }
            const char *k = "admin_password_hash", *v = hash;
            struct store_wait w = {0};
            store_settings_put(a->store, &k, &v, 1, store_wait_done, &w);
            store_wait(a->base, &w);
            free(ad->password_hash);
            ad->password_hash = hash;
            if (w.status != 0) {
                snprintf(err, ERR_LEN, "cannot store the admin password hash");
                return E_IO;
            }
        }
        secure_zero(env, strlen(env));
        return E_OK;
    }
    if (ad->password_hash)
        return E_OK;
    char password[25], *hash = NULL;
    if (admin_password_generate(password) != 0 ||
        admin_password_hash(&hash, password, ADMIN_SCRYPT_N, ADMIN_SCRYPT_R, ADMIN_SCRYPT_P) != 0) {
        snprintf(err, ERR_LEN, "cannot generate an admin password");
        return E_IO;
    }
    struct store_wait w = {0};
    store_setting_init(a->store, "admin_password_hash", hash, store_wait_value, &w);
    store_wait(a->base, &w);
    if (w.status != 0 || w.value == NULL) {
        free(hash);
        free(w.value);
        secure_zero(password, sizeof(password));
        snprintf(err, ERR_LEN, "cannot store the admin password hash");
        return E_IO;
    }
    /* Another process starting at the same moment may have stored its own first. */
    if (strcmp(w.value, hash) == 0)
        fprintf(stderr,
                "routstr: generated the admin password (dashboard at /admin/); it is shown this "
                "once: %s\n"
                "routstr: set ADMIN_PASSWORD to choose your own.\n",
                password);
    secure_zero(password, sizeof(password));
    free(hash);
    ad->password_hash = w.value;
    return E_OK;
}

int admin_init(struct app *a, char err[ERR_LEN])
{
    struct admin *ad = xcalloc(1, sizeof(*ad));
    ad->app = a;
    a->admin = ad;
    int rc = secrets_key_load(ad->key, &a->cfg, err);
    if (rc != E_OK)
        return rc;
    ad->have_key = true;

    struct start_settings ss = {.a = a};
    store_settings_get(a->store, on_start_settings, &ss);
    store_wait(a->base, &ss.w);
    struct start_overrides so = {.ad = ad};
    if (ss.w.status == 0) {
        store_model_overrides(a->store, on_start_overrides, &so);
        store_wait(a->base, &so.w);
    }
    if (ss.w.status != 0 || so.w.status != 0) {
        snprintf(err, ERR_LEN, "cannot read the settings from the database");
        return E_IO;
    }
    if ((rc = password_init(a, err)) != E_OK)
        return rc;
    struct store_wait v = {0};
    store_settings_version(a->store, store_wait_value, &v);
    store_wait(a->base, &v);
    ad->version = v.value ? strtoll(v.value, NULL, 10) : 0;
    free(v.value);
    return v.status == 0 ? E_OK : E_IO;
}

void admin_start(struct app *a)
{
    struct admin *ad = a->admin;
    ad->poll_timer = event_new(a->base, -1, EV_PERSIST, on_poll, a);
    struct timeval tv = {ADMIN_POLL_MS / 1000, (ADMIN_POLL_MS % 1000) * 1000};
    evtimer_add(ad->poll_timer, &tv);
}

void admin_free(struct app *a)
{
    struct admin *ad = a->admin;
    if (ad == NULL)
        return;
    if (ad->poll_timer)
        event_free(ad->poll_timer);
    sweep_retired(a, true);
    free(ad->retired);
    admin_overrides_free(ad);
    free(ad->fails);
    free(ad->password_hash);
    secure_zero(ad->key, sizeof(ad->key));
    free(ad);
    a->admin = NULL;
}
