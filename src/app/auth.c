/* auth.c -- see auth.h. */
#include "app/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "app/app.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/wallet.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define WAIT_STEP_MS 50

static void sha256_hex(char out[65], const char *p, size_t n)
{
    uint8_t h[32];
    crypto_sha256(h, p, n);
    hex_encode(out, h, 32);
}

void auth_from_token(struct auth_cred *out, const char *token)
{
    memset(out, 0, sizeof(*out));
    /* clients.md §1.5 item 2: stray \n \r \t are dropped, as routstr-core does. */
    size_t n = strlen(token);
    char *t = xmalloc(n + 1), *q = t;
    for (size_t i = 0; i < n; i++)
        if (token[i] != '\n' && token[i] != '\r' && token[i] != '\t')
            *q++ = token[i];
    *q = '\0';
    out->kind = AUTH_TOKEN;
    out->token = t;
    sha256_hex(out->rest, t, strlen(t)); /* the account a token names: sk- + sha256(token) */
    sha256_hex(out->key_hash, out->rest, 64);
}

void auth_parse(struct evhttp_request *req, struct auth_cred *out)
{
    memset(out, 0, sizeof(*out));
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *v = evhttp_find_header(h, "Authorization");
    struct str cred = {0};
    if (v) {
        struct str s = str_trim(str_from(v));
        if (!str_ihas_prefix(s, "bearer ")) {
            out->kind = AUTH_BAD;
            return;
        }
        cred = str_trim((struct str){s.p + 7, s.len - 7});
    } else if ((v = evhttp_find_header(h, "X-Api-Key")) != NULL) {
        cred = str_trim(str_from(v));
    }
    if (cred.len == 0) {
        out->kind = v ? AUTH_BAD : AUTH_NONE;
        return;
    }
    if (str_has_prefix(cred, "sk-")) {
        struct str rest = {cred.p + 3, cred.len - 3};
        /* Keys are "sk-" + 64 hex digits; anything else cannot be one of ours. */
        uint8_t raw[32];
        if (rest.len != 64 || hex_decode(raw, 32, rest.p, 64) != 0) {
            out->kind = AUTH_BAD;
            return;
        }
        out->kind = AUTH_KEY;
        hex_encode(out->rest, raw, 32); /* lowercase, as keys are issued */
        sha256_hex(out->key_hash, out->rest, 64);
        return;
    }
    if (str_has_prefix(cred, "cashuA") || str_has_prefix(cred, "cashuB")) {
        char *t = xstrndup(cred.p, cred.len);
        auth_from_token(out, t);
        free(t);
        return;
    }
    out->kind = AUTH_BAD;
}

void auth_cred_deinit(struct auth_cred *c)
{
    if (c->token) {
        secure_zero(c->token, strlen(c->token));
        free(c->token);
    }
    memset(c, 0, sizeof(*c));
}

void auth_reply_401(struct app_req *r, const char *code, const char *message)
{
    json_t *err = json_pack("{s:s, s:s, s:s}", "message", message, "type",
                            "invalid_request_error", "code", code);
    app_reply_json(r, 401, json_pack("{s:{s:O}, s:o, s:s}", "detail", "error", err, "error", err,
                                     "request_id", r->id));
}

void auth_reply_cashu_error(struct app_req *r, const struct cashu_error_class *err,
                            const char *message)
{
    app_reply_json(r, err->http_status,
                   json_pack("{s:{s:s, s:s, s:s}, s:s}", "error", "type", err->type, "code",
                             err->code, "message", message ? message : err->type, "request_id",
                             r->id));
}

void auth_reply_failure(struct app_req *r, const struct cashu_error_class *err,
                        const char *message)
{
    if (err && err->http_status == 401)
        auth_reply_401(r, err->code, message);
    else
        auth_reply_cashu_error(r, err, message);
}

/* Resolution of credentials into a ready key. */

struct resolve {
    struct app_req *r;
    struct app *a;
    char rest[65], key_hash[65];
    char *token;
    int64_t deadline_ms;
    bool topup;        /* credit an existing key instead of creating one */
    bool fresh;        /* the token must be new: a claim by anyone before means spent */
    auth_ready_fn *ready;
    auth_claimed_fn *claimed;
    auth_topup_fn *topped;
    void *ud;
};

static void resolve_free(struct resolve *rs)
{
    if (rs->token) {
        secure_zero(rs->token, strlen(rs->token));
        free(rs->token);
    }
    free(rs);
}

static void resolved(struct resolve *rs, int status, const struct cashu_error_class *err,
                     const char *message, int64_t credited_msat)
{
    if (rs->topup)
        rs->topped(rs->r, status, credited_msat, err, message, rs->ud);
    else
        rs->ready(rs->r, status, err, message, rs->ud);
    resolve_free(rs);
}

static const struct cashu_error_class NOT_FOUND = {"invalid_request_error", 401,
                                                   "invalid_api_key"};
static const struct cashu_error_class SPENT = {"token_already_spent", 400,
                                               "cashu_token_already_spent"};
static const struct cashu_error_class BUSY = {"mint_unreachable", 503, "cashu_mint_unreachable"};

static void claim(struct resolve *rs);

static void on_dropped(int status, void *ud)
{
    (void)status;
    (void)ud;
}

static void on_received(const struct cashu_result *res, void *ud)
{
    struct resolve *rs = ud;
    if (res->status == 0) {
        int64_t msat = (int64_t)(strcmp(res->unit, "msat") == 0 ? res->amount : res->amount * 1000);
        resolved(rs, 0, NULL, NULL, msat);
        return;
    }
    /* A failure the mint answered, or nothing reached it: the token was not taken, so the claim
     * is dropped (it may be tried again). An unknown outcome keeps the claim: recover settles it
     * and credits the key then. */
    if (res->status != E_UNKNOWN)
        store_redemption_drop(rs->a->store, rs->rest, on_dropped, NULL);
    resolved(rs, res->status, &res->err, res->message, 0);
}

static void redeem(struct resolve *rs)
{
    if (rs->a->wallet == NULL) {
        static const struct cashu_error_class none = {"invalid_token", 400,
                                                      "cashu_untrusted_mint"};
        store_redemption_drop(rs->a->store, rs->rest, on_dropped, NULL);
        resolved(rs, E_PROTO, &none, "this node trusts no mint (CASHU_MINTS is empty)", 0);
        return;
    }
    if (cashu_wallet_receive(rs->a->wallet, rs->token, strlen(rs->token), rs->rest,
                             rs->key_hash, on_received, rs) != 0) {
        store_redemption_drop(rs->a->store, rs->rest, on_dropped, NULL);
        resolved(rs, E_IO, &BUSY, "cannot start the redemption", 0);
    }
}

static void wait_again(evutil_socket_t fd, short what, void *arg)
{
    claim(arg);
}

static void on_claim(int status, const struct store_rows *rows, void *ud)
{
    struct resolve *rs = ud;
    if (status != 0 || rows->nrows == 0) {
        resolved(rs, E_IO, &BUSY, "database unavailable", 0);
        return;
    }
    if (strcmp(store_cell(rows, 0, 2), "claimed") == 0) {
        FAULT("redemption.claimed"); /* crash tests: claimed, its receive op not yet saved */
        if (rs->claimed)
            rs->claimed(rs->r, rs->ud);
        redeem(rs);
        return;
    }
    /* Someone else claimed this token: for this very key, wait until its credit lands. */
    bool same_key = strcmp(store_cell(rows, 0, 1), rs->key_hash) == 0;
    if (rs->fresh) {
        resolved(rs, E_CONFLICT, &SPENT, "Cashu token already spent", 0);
        return;
    }
    if (strcmp(store_cell(rows, 0, 0), "done") == 0) {
        if (same_key && !rs->topup)
            resolved(rs, 0, NULL, NULL, 0);
        else
            resolved(rs, E_CONFLICT, &SPENT, "Cashu token already spent", 0);
        return;
    }
    struct timeval now;
    gettimeofday(&now, NULL);
    if ((int64_t)now.tv_sec * 1000 + now.tv_usec / 1000 > rs->deadline_ms) {
        resolved(rs, E_TIMEOUT, &BUSY, "the token's redemption is still in progress; retry", 0);
        return;
    }
    struct timeval tv = {0, WAIT_STEP_MS * 1000};
    event_base_once(rs->a->base, -1, EV_TIMEOUT, wait_again, rs, &tv);
}

static void claim(struct resolve *rs)
{
    store_redemption_claim(rs->a->store, rs->rest, rs->key_hash, on_claim, rs);
}

static void on_key(int status, const struct store_rows *rows, void *ud)
{
    struct resolve *rs = ud;
    if (status != 0) {
        resolved(rs, E_IO, &BUSY, "database unavailable", 0);
        return;
    }
    if (rows->nrows > 0) {
        resolved(rs, 0, NULL, NULL, 0); /* a known key, or a token already redeemed into one */
        return;
    }
    if (rs->token == NULL) {
        resolved(rs, E_NOTFOUND, &NOT_FOUND,
                 "Invalid API key format. Expected an 'sk-...' API key or a 'cashu...' token.", 0);
        return;
    }
    claim(rs);
}

static struct resolve *resolve_new(struct app_req *r)
{
    struct resolve *rs = xcalloc(1, sizeof(*rs));
    rs->r = r;
    rs->a = r->app;
    struct timeval now;
    gettimeofday(&now, NULL);
    rs->deadline_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000 +
                      2 * r->app->cfg.mint_timeout_ms + 5000;
    return rs;
}

void auth_resolve(struct app_req *r, const struct auth_cred *c, auth_ready_fn *cb, void *ud)
{
    struct resolve *rs = resolve_new(r);
    rs->ready = cb;
    rs->ud = ud;
    memcpy(rs->rest, c->rest, sizeof(rs->rest));
    memcpy(rs->key_hash, c->key_hash, sizeof(rs->key_hash));
    rs->token = c->token ? xstrdup(c->token) : NULL;
    store_key_get(r->app->store, rs->key_hash, on_key, rs);
}

void auth_redeem_fresh(struct app_req *r, const struct auth_cred *c, auth_claimed_fn *claimed,
                       auth_ready_fn *cb, void *ud)
{
    struct resolve *rs = resolve_new(r);
    rs->ready = cb;
    rs->claimed = claimed;
    rs->ud = ud;
    rs->fresh = true;
    memcpy(rs->rest, c->rest, sizeof(rs->rest));
    memcpy(rs->key_hash, c->key_hash, sizeof(rs->key_hash));
    rs->token = xstrdup(c->token);
    claim(rs);
}

void auth_topup(struct app_req *r, const char *key_hash, const char *token, auth_topup_fn *cb,
                void *ud)
{
    struct auth_cred c;
    auth_from_token(&c, token);
    struct resolve *rs = resolve_new(r);
    rs->topup = true;
    rs->topped = cb;
    rs->ud = ud;
    memcpy(rs->rest, c.rest, sizeof(rs->rest)); /* the redemption is named by the token */
    snprintf(rs->key_hash, sizeof(rs->key_hash), "%s", key_hash); /* the credit goes here */
    rs->token = c.token;
    c.token = NULL;
    auth_cred_deinit(&c);
    claim(rs);
}
