/* balance.c -- the balance API, mounted at /v1/balance and /v1/wallet (clients.md §1.2, §1.5).
 *
 *   GET  /            GET /info        the key's balance (spendable) and reserved, msat
 *   GET  /create?initial_balance_token=   POST /create {"initial_balance_token"}
 *   POST /topup?cashu_token=             POST /topup {"cashu_token"}    → {"msats": n}
 *   POST /refund                         → {"token": "cashuB...", "sats": "n"}
 *   GET  /history                        the key's ledger, newest first
 *
 * A token given anywhere a key is expected is redeemed once into its own key (auth.c). Refunds
 * debit first, in one conditional update that also requires no request in flight, then the
 * wallet makes the token with a send op whose ref is the refund: the op's end stores the token
 * with the refund (or credits the key back when nothing went out), before it is answered, and
 * after a crash recovery does the same. A retried refund gets the same token back. Error
 * strings that clients match are kept to the letter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "app/app.h"
#include "app/auth.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/wallet.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* {"detail": message, "request_id"} -- the reference's HTTPException envelope. */
static void reply_detail(struct app_req *r, int status, const char *message)
{
    app_reply_json(r, status, json_pack("{s:s, s:s}", "detail", message, "request_id", r->id));
}

static char *query_param(struct evhttp_request *req, const char *name)
{
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (q == NULL)
        return NULL;
    struct evkeyvalq kv;
    if (evhttp_parse_query_str(q, &kv) != 0)
        return NULL;
    const char *v = evhttp_find_header(&kv, name);
    char *out = v ? xstrdup(v) : NULL;
    evhttp_clear_headers(&kv);
    return out;
}

static json_t *json_body(struct evhttp_request *req)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);
    return n ? json_loadb((const char *)evbuffer_pullup(b, -1), n, 0, NULL) : NULL;
}

/* A token from ?name= or the JSON body's "name". */
static char *token_param(struct evhttp_request *req, const char *name)
{
    char *t = query_param(req, name);
    if (t)
        return t;
    json_t *j = json_body(req);
    const char *v = json_string_value(json_object_get(j, name));
    t = v ? xstrdup(v) : NULL;
    json_decref(j);
    return t;
}

/* Per-request state of a balance call. */
struct call {
    struct app_req *r;
    struct auth_cred cred;
    char *token; /* top-up */
    char refund_id[33];
    int64_t refund_sats;
    int64_t balance_msat; /* spendable when the refund was asked */
    bool by_token;        /* X-Cashu: the change of a pay-per-request call is fetched */
};

static void call_free(struct call *c)
{
    app_req_release(c->r);
    auth_cred_deinit(&c->cred);
    if (c->token) {
        secure_zero(c->token, strlen(c->token));
        free(c->token);
    }
    free(c);
}

static void api_key(char out[68], const struct call *c)
{
    snprintf(out, 68, "sk-%s", c->cred.rest);
}

/* info */

static void on_info(int status, const struct store_rows *rows, void *ud)
{
    struct call *c = ud;
    if (status != 0 || rows->nrows == 0) {
        auth_reply_401(c->r, "invalid_api_key", "Invalid API key");
        call_free(c);
        return;
    }
    char key[68];
    api_key(key, c);
    int64_t bal = store_cell_i64(rows, 0, 0), res = store_cell_i64(rows, 0, 1);
    app_reply_json(c->r, 200,
                   json_pack("{s:s, s:I, s:I, s:b, s:I, s:I, s:n, s:n, s:n}", "api_key", key,
                             "balance", (json_int_t)(bal - res), "reserved", (json_int_t)res,
                             "is_child", 0, "total_requests",
                             (json_int_t)store_cell_i64(rows, 0, 3), "total_spent",
                             (json_int_t)store_cell_i64(rows, 0, 2), "balance_limit",
                             "balance_limit_reset", "validity_date"));
    call_free(c);
}

/* create: the same answer shape, {"api_key","balance"} */
static void on_created_key(int status, const struct store_rows *rows, void *ud)
{
    struct call *c = ud;
    if (status != 0 || rows->nrows == 0) {
        static const struct cashu_error_class e = {"api_error", 500, "internal_error"};
        auth_reply_cashu_error(c->r, &e, "the key was credited but cannot be read");
        call_free(c);
        return;
    }
    char key[68];
    api_key(key, c);
    app_reply_json(c->r, 200, json_pack("{s:s, s:I}", "api_key", key, "balance",
                                        (json_int_t)(store_cell_i64(rows, 0, 0) -
                                                     store_cell_i64(rows, 0, 1))));
    call_free(c);
}

static void on_ready(struct app_req *r, int status, const struct cashu_error_class *err,
                     const char *message, void *ud)
{
    struct call *c = ud;
    if (status != 0) {
        auth_reply_failure(r, err, message);
        call_free(c);
        return;
    }
    /* create answers {"api_key","balance"}; info the full object. */
    bool create = strstr(r->path, "/create") != NULL;
    store_key_get(r->app->store, c->cred.key_hash, create ? on_created_key : on_info, c);
}

/* topup */

static void on_topped(struct app_req *r, int status, int64_t credited_msat,
                      const struct cashu_error_class *err, const char *message, void *ud)
{
    struct call *c = ud;
    if (status != 0)
        auth_reply_cashu_error(r, err, message);
    else
        app_reply_json(r, 200, json_pack("{s:I}", "msats", (json_int_t)credited_msat));
    call_free(c);
}

static void on_topup_key(struct app_req *r, int status, const struct cashu_error_class *err,
                         const char *message, void *ud)
{
    struct call *c = ud;
    if (status != 0) {
        auth_reply_failure(r, err, message);
        call_free(c);
        return;
    }
    auth_topup(r, c->cred.key_hash, c->token, on_topped, c);
}

/* refund */

static void reply_token(struct app_req *r, const char *token, int64_t amount, const char *unit)
{
    /* The token also rides in X-Cashu, where pay-per-request clients read their change. */
    app_reply_header(r, "X-Cashu", token);
    char n[32];
    snprintf(n, sizeof(n), "%lld", (long long)amount);
    /* Amounts are strings, as routstr-core sends them (clients accept both). */
    app_reply_json(r, 200, json_pack("{s:s, s:s}", "token", token,
                                     strcmp(unit, "msat") == 0 ? "msats" : "sats", n));
}

static void on_refund_failed(int status, void *ud)
{
    (void)status; /* E_CONFLICT: the op's end already settled the refund */
    (void)ud;
}

static void on_sent(const struct cashu_result *res, void *ud)
{
    struct call *c = ud;
    struct app *a = c->r->app;
    if (res->status == 0) {
        /* The op's end stored the token with the refund, in one transaction. */
        reply_token(c->r, res->token, (int64_t)res->amount, "sat");
    } else if (res->status == E_UNKNOWN) {
        /* The payout may have happened: keep the debit; recovery settles op and refund. */
        reply_detail(c->r, 502, "Refund outcome is unconfirmed; retry the refund shortly.");
    } else {
        /* A failed op already gave the money back; a send that failed before saving its op
         * did not, and this does (each acts only on a refund still pending). */
        store_refund_failed(a->store, c->refund_id, on_refund_failed, NULL);
        reply_detail(c->r, res->status == E_FUNDS ? 500 : 503,
                     res->status == E_FUNDS ? "Refund failed" : "Mint service unavailable");
    }
    call_free(c);
}

static void on_refund_begun(int status, void *ud)
{
    struct call *c = ud;
    struct app *a = c->r->app;
    if (status == E_CONFLICT) {
        reply_detail(c->r, 409, "Balance changed concurrently. Please retry the refund.");
        call_free(c);
        return;
    }
    if (status != 0) {
        reply_detail(c->r, 503, "Database unavailable");
        call_free(c);
        return;
    }
    FAULT("refund.debited"); /* crash tests: debited, its payout op not yet saved */
    if (cashu_wallet_send(a->wallet, NULL, "sat", (uint64_t)c->refund_sats, false, c->refund_id,
                          on_sent, c) != 0) {
        store_refund_failed(a->store, c->refund_id, on_refund_failed, NULL);
        reply_detail(c->r, 503, "Mint service unavailable");
        call_free(c);
    }
}

static void on_latest_refund(int status, const struct store_rows *rows, void *ud)
{
    struct call *c = ud;
    if (status == 0 && rows->nrows > 0 && strcmp(store_cell(rows, 0, 4), "done") == 0 &&
        store_cell(rows, 0, 5) && store_cell_i64(rows, 0, 6) == 1) {
        /* A retried refund, nothing changed since: the same token again. */
        reply_token(c->r, store_cell(rows, 0, 5), store_cell_i64(rows, 0, 2),
                    store_cell(rows, 0, 3));
    } else if (status == 0 && rows->nrows > 0 && strcmp(store_cell(rows, 0, 4), "pending") == 0) {
        reply_detail(c->r, 502, "Refund outcome is unconfirmed; retry the refund shortly.");
    } else {
        /* The exact strings clients match (clients.md §1.5 item 8). */
        reply_detail(c->r, 400, c->balance_msat > 0 ? "Balance too small to refund"
                                                    : "No balance to refund");
    }
    call_free(c);
}

static void on_refund_key(int status, const struct store_rows *rows, void *ud)
{
    struct call *c = ud;
    struct app *a = c->r->app;
    if (status != 0 || rows->nrows == 0) {
        if (c->by_token)
            reply_detail(c->r, 404, "Refund not found");
        else
            auth_reply_401(c->r, "key_not_found",
                           "Key not found. Deposit first via /v1/wallet/create before requesting "
                           "a refund.");
        call_free(c);
        return;
    }
    int64_t bal = store_cell_i64(rows, 0, 0), reserved = store_cell_i64(rows, 0, 1);
    if (reserved > 0 && c->by_token) {
        /* The X-Cashu request is still running: its change is not made yet. */
        app_reply_header(c->r, "Retry-After", "2");
        reply_detail(c->r, 425, "Refund is pending; retry shortly.");
        call_free(c);
        return;
    }
    if (reserved > 0) {
        reply_detail(c->r, 400, "Cannot refund key. There are ongoing requests for this api key.");
        call_free(c);
        return;
    }
    /* Refunds are in sats: the sub-sat rest stays on the key (nothing is forfeited). With no
     * whole sat left, a retried refund gets the key's last refund token again. */
    c->balance_msat = bal;
    c->refund_sats = bal / 1000;
    if (c->refund_sats == 0) {
        store_refund_latest(a->store, c->cred.key_hash, on_latest_refund, c);
        return;
    }
    if (a->wallet == NULL) {
        reply_detail(c->r, 503, "Mint service unavailable");
        call_free(c);
        return;
    }
    uint8_t id[16];
    if (crypto_random(id, sizeof(id)) != 0)
        abort();
    hex_encode(c->refund_id, id, sizeof(id));
    struct store_refund rf = {.id = c->refund_id, .key_hash = c->cred.key_hash,
                              .amount_msat = c->refund_sats * 1000, .amount = c->refund_sats,
                              .unit = "sat", .expect_balance_msat = bal};
    store_refund_begin(a->store, &rf, on_refund_begun, c);
}

/* history */

static void on_history(int status, const struct store_rows *rows, void *ud)
{
    struct call *c = ud;
    json_t *list = json_array();
    for (size_t i = 0; status == 0 && i < rows->nrows; i++) {
        int64_t amount = store_cell_i64(rows, i, 2);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:I, s:s, s:s?, s:I}", "id", store_cell(rows, i, 0),
                            "type", amount >= 0 ? "in" : "out", "source", store_cell(rows, i, 1),
                            "amount", (json_int_t)(amount >= 0 ? amount : -amount), "unit", "msat",
                            "request_id", store_cell(rows, i, 3), "created_at",
                            (json_int_t)store_cell_i64(rows, i, 4)));
    }
    app_reply_json(c->r, 200, json_pack("{s:o}", "transactions", list));
    call_free(c);
}

static void on_history_ready(struct app_req *r, int status, const struct cashu_error_class *err,
                             const char *message, void *ud)
{
    struct call *c = ud;
    if (status != 0) {
        auth_reply_401(r, err ? err->code : "invalid_api_key", message);
        call_free(c);
        return;
    }
    store_ledger_history(r->app->store, c->cred.key_hash, 500, on_history, c);
}

/* Requires credentials; answers the 401 itself when there are none usable. */
static bool need_cred(struct app_req *r, struct call *c)
{
    auth_parse(r->req, &c->cred);
    if (c->cred.kind == AUTH_NONE) {
        auth_reply_401(r, "missing_api_key", "API key or Cashu token required");
        return false;
    }
    if (c->cred.kind == AUTH_BAD) {
        reply_detail(r, 401,
                     "Invalid authorization. Use 'Bearer <cashu-token>' or 'Bearer <api-key>'");
        return false;
    }
    return true;
}

void balance_handle(struct app_req *r, const char *sub)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    bool get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD, post = m == EVHTTP_REQ_POST;
    struct call *c = xcalloc(1, sizeof(*c));
    c->r = r;
    app_req_hold(r); /* released by call_free: the client may leave while a mint answers */
    if ((strcmp(sub, "") == 0 || strcmp(sub, "/") == 0 || strcmp(sub, "/info") == 0) && get) {
        if (need_cred(r, c)) {
            auth_resolve(r, &c->cred, on_ready, c);
            return;
        }
    } else if (strcmp(sub, "/create") == 0 && (get || post)) {
        char *token = token_param(r->req, "initial_balance_token");
        if (token == NULL || strstr(token, "cashu") == NULL) {
            reply_detail(r, 400, token ? "Invalid token format"
                                       : "An initial_balance_token is required.");
            free(token);
        } else {
            auth_from_token(&c->cred, token);
            free(token);
            auth_resolve(r, &c->cred, on_ready, c);
            return;
        }
    } else if (strcmp(sub, "/topup") == 0 && post) {
        if (need_cred(r, c)) {
            c->token = token_param(r->req, "cashu_token");
            struct auth_cred probe;
            if (c->token)
                auth_from_token(&probe, c->token); /* strips \n \r \t */
            if (c->token == NULL) {
                reply_detail(r, 400, "A cashu_token is required.");
            } else if (strlen(probe.token) < 10 || strstr(probe.token, "cashu") == NULL) {
                auth_cred_deinit(&probe);
                reply_detail(r, 400, "Invalid token format");
            } else {
                free(c->token);
                c->token = probe.token;
                probe.token = NULL;
                auth_cred_deinit(&probe);
                auth_resolve(r, &c->cred, on_topup_key, c);
                return;
            }
        }
    } else if (strcmp(sub, "/refund") == 0 && post) {
        const char *xc = evhttp_find_header(evhttp_request_get_input_headers(r->req), "X-Cashu");
        if (xc && *xc) { /* the change of an X-Cashu request: never redeems anything */
            auth_from_token(&c->cred, xc);
            c->by_token = true;
            store_key_get(r->app->store, c->cred.key_hash, on_refund_key, c);
            return;
        }
        if (need_cred(r, c)) {
            /* A refund never creates a key: a token nobody deposited is simply unknown. */
            store_key_get(r->app->store, c->cred.key_hash, on_refund_key, c);
            return;
        }
    } else if (strcmp(sub, "/history") == 0 && get) {
        if (need_cred(r, c)) {
            auth_resolve(r, &c->cred, on_history_ready, c);
            return;
        }
    } else {
        reply_detail(r, 404, "Not found check /docs for available endpoints");
    }
    call_free(c);
}
