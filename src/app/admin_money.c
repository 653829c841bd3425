/* admin_money.c -- the operator's money: the overview, withdrawals, and the lists of keys,
 * ledger rows and requests (docs/admin-api.md, "Money" and "Keys, transactions, requests").
 *
 * The wallet's proofs are worth wallet_msat per mint and unit; users are owed their keys'
 * balances plus refunds debited but not yet paid out. Balances are not tied to a mint, so what
 * is owed is attributed to the trusted mints in CASHU_MINTS order (the primary first), each up
 * to what it holds, the last taking the rest; owner_msat = wallet_msat - owed_msat is the
 * operator's to withdraw. A withdrawal is checked against that figure, then paid by the wallet
 * as a token whose ledger row (the operator's account, kind "withdraw") is written in the
 * transaction that spends the proofs; that transaction checks again, with the mint's fee, that
 * the operator owns it all. One withdrawal at a time per process. */
#include "app/admin_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "cashu/wallet.h"

#define EARNING_DAYS 30

/* ---------------------------------------------------------------------- the balances */

/* Wallet rows (mint_url, unit, unspent, pending) to [{"mint","unit","wallet_msat"}], the
 * trusted mints first in their order (with zeros when they hold nothing), then the others. */
static json_t *wallet_list(const struct config *cfg, const struct store_rows *rows)
{
    json_t *list = json_array();
    bool *used = xcalloc(rows->nrows + 1, sizeof(bool));
    for (const char *p = cfg->cashu_mints; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        bool any = false;
        for (size_t i = 0; i < rows->nrows; i++) {
            const char *m = store_cell(rows, i, 0);
            if (!used[i] && strlen(m) == n && strncmp(m, p, n) == 0) {
                used[i] = any = true;
                const char *unit = store_cell(rows, i, 1);
                int64_t held = store_cell_i64(rows, i, 2) + store_cell_i64(rows, i, 3);
                json_array_append_new(
                    list, json_pack("{s:s, s:s, s:I}", "mint", m, "unit", unit, "wallet_msat",
                                    (json_int_t)(strcmp(unit, "msat") == 0 ? held : held * 1000)));
            }
        }
        if (!any)
            json_array_append_new(list, json_pack("{s:s#, s:s, s:I}", "mint", p, (int)n, "unit",
                                                  "sat", "wallet_msat", (json_int_t)0));
        p += n + (comma ? 1 : 0);
    }
    for (size_t i = 0; i < rows->nrows; i++) {
        if (used[i])
            continue;
        const char *unit = store_cell(rows, i, 1);
        int64_t held = store_cell_i64(rows, i, 2) + store_cell_i64(rows, i, 3);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I}", "mint", store_cell(rows, i, 0), "unit", unit,
                            "wallet_msat",
                            (json_int_t)(strcmp(unit, "msat") == 0 ? held : held * 1000)));
    }
    free(used);
    return list;
}

/* Adds owed_msat and owner_msat to each entry: 'owed' spread in order, the last taking the
 * rest (an insolvent node shows a negative owner_msat there). */
static void attribute(json_t *list, int64_t owed)
{
    size_t n = json_array_size(list);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        int64_t wallet = json_integer_value(json_object_get(e, "wallet_msat"));
        int64_t take = i + 1 == n ? owed : owed < wallet ? owed : wallet;
        if (take < 0)
            take = 0;
        owed -= take;
        json_object_set_new(e, "owed_msat", json_integer(take));
        json_object_set_new(e, "owner_msat", json_integer(wallet - take));
    }
}

/* ------------------------------------------------------------------------- overview */

static void on_earnings(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    if (status != 0) {
        admin_store_error(c->r);
        admin_call_free(c);
        return;
    }
    int64_t today = (int64_t)time(NULL) / 86400;
    json_t *days = json_array();
    for (int64_t d = today - EARNING_DAYS + 1; d <= today; d++) {
        int64_t earned = 0, n = 0;
        for (size_t i = 0; i < rows->nrows; i++)
            if (store_cell_i64(rows, i, 0) == d) {
                earned = store_cell_i64(rows, i, 1);
                n = store_cell_i64(rows, i, 2);
            }
        time_t t = (time_t)(d * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        char day[16];
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        json_array_append_new(days, json_pack("{s:s, s:I, s:I}", "day", day, "earned_msat",
                                              (json_int_t)earned, "requests", (json_int_t)n));
    }
    json_object_set_new(c->out, "earnings", days);
    app_reply_json(c->r, 200, json_incref(c->out));
    admin_call_free(c);
}

static void on_totals(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    if (status != 0 || rows->nrows != 1) {
        admin_store_error(c->r);
        admin_call_free(c);
        return;
    }
    attribute(json_object_get(c->out, "balances"),
              store_cell_i64(rows, 0, 5) + store_cell_i64(rows, 0, 6));
    json_object_set_new(
        c->out, "totals",
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "keys", (json_int_t)store_cell_i64(rows, 0, 0),
                  "requests", (json_int_t)store_cell_i64(rows, 0, 1), "earned_msat",
                  (json_int_t)store_cell_i64(rows, 0, 2), "withdrawn_msat",
                  (json_int_t)store_cell_i64(rows, 0, 3), "reserved_msat",
                  (json_int_t)store_cell_i64(rows, 0, 4)));
    int64_t since = ((int64_t)time(NULL) / 86400 - EARNING_DAYS + 1) * 86400;
    store_admin_earnings(c->r->app->store, since, on_earnings, c);
}

static void on_wallet(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    if (status != 0) {
        admin_store_error(c->r);
        admin_call_free(c);
        return;
    }
    c->out = json_pack("{s:o}", "balances", wallet_list(&c->r->app->cfg, rows));
    store_admin_totals(c->r->app->store, on_totals, c);
}

void admin_overview(struct app_req *r)
{
    struct admin_call *c = admin_call_new(r);
    store_wallet_balance(r->app->store, on_wallet, c);
}

/* ------------------------------------------------------------------------- withdraw */

static void withdraw_end(struct admin_call *c)
{
    c->r->app->admin->withdrawing = false;
    admin_call_free(c);
}

static void on_withdrawn(const struct cashu_result *res, void *ud)
{
    struct admin_call *c = ud;
    if (res->status == 0) {
        log_info("admin: withdrew %llu %s from %s", (unsigned long long)res->amount, res->unit,
                 res->mint);
        app_reply_json(c->r, 200,
                       json_pack("{s:s, s:I, s:s, s:s}", "token", res->token, "amount_sat",
                                 (json_int_t)res->amount, "mint", res->mint, "unit", res->unit));
    } else if (res->status == E_LIMIT) { /* the mint's fee on top went beyond it */
        admin_bad_request(c->r, "insufficient_owner_balance",
                          "The operator does not own %lld sat plus the mint's fee",
                          (long long)c->n[0]);
    } else if (res->status == E_FUNDS) {
        admin_bad_request(c->r, "insufficient_wallet_balance",
                          "The wallet's proofs at this mint do not cover %lld sat plus fees",
                          (long long)c->n[0]);
    } else {
        app_reply_error(c->r, 502, "cashu_error", "withdraw_failed", "Withdrawal failed: %s",
                        res->message ? res->message : "the mint did not answer");
    }
    withdraw_end(c);
}

static void on_withdraw_totals(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    if (status != 0 || rows->nrows != 1) {
        admin_store_error(c->r);
        withdraw_end(c);
        return;
    }
    json_t *list = c->out;
    attribute(list, store_cell_i64(rows, 0, 5) + store_cell_i64(rows, 0, 6));
    int64_t owner = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (strcmp(json_string_value(json_object_get(e, "mint")), c->s[0]) == 0 &&
            strcmp(json_string_value(json_object_get(e, "unit")), "sat") == 0)
            owner = json_integer_value(json_object_get(e, "owner_msat"));
    }
    int64_t amount = c->n[0];
    if (owner < 0 || amount > owner / 1000) {
        admin_bad_request(c->r, "insufficient_owner_balance",
                          "The operator owns %lld sat at %s; %lld asked",
                          (long long)(owner > 0 ? owner / 1000 : 0), c->s[0], (long long)amount);
        withdraw_end(c);
        return;
    }
    char ref[64];
    snprintf(ref, sizeof(ref), "admin:%s", c->r->id);
    struct app *a = c->r->app;
    if (cashu_wallet_withdraw(a->wallet, c->s[0], "sat", (uint64_t)amount, false, true, ref,
                              on_withdrawn, c) != 0) {
        app_reply_error(c->r, 502, "cashu_error", "withdraw_failed", "Cannot start the withdrawal");
        withdraw_end(c);
    }
}

static void on_withdraw_wallet(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    if (status != 0) {
        admin_store_error(c->r);
        withdraw_end(c);
        return;
    }
    c->out = wallet_list(&c->r->app->cfg, rows);
    store_admin_totals(c->r->app->store, on_withdraw_totals, c);
}

void admin_withdraw(struct app_req *r)
{
    struct app *a = r->app;
    json_t *body = admin_json_body(r);
    if (body == NULL)
        return;
    json_t *amount = json_object_get(body, "amount_sat");
    json_t *mint = json_object_get(body, "mint");
    if (!json_is_integer(amount) || json_integer_value(amount) <= 0 ||
        json_integer_value(amount) > ((json_int_t)1 << 40)) {
        json_decref(body);
        admin_bad_request(r, "invalid_amount", "'amount_sat' must be a positive whole number");
        return;
    }
    if (mint && !json_is_null(mint) && !json_is_string(mint)) {
        json_decref(body);
        admin_bad_request(r, "invalid_mint", "'mint' must be a mint URL");
        return;
    }
    const char *url = json_is_string(mint) ? json_string_value(mint) : NULL;
    size_t len = url ? strlen(url) : 0;
    while (len && url[len - 1] == '/') /* as CASHU_MINTS is normalised */
        len--;
    char *want = url ? xstrndup(url, len) : NULL;
    if (a->wallet == NULL || cashu_wallet_primary(a->wallet) == NULL) {
        admin_bad_request(r, "no_wallet", "No trusted mint: set cashu_mints first");
    } else if (want && !cashu_wallet_trusts(a->wallet, want)) {
        admin_bad_request(r, "invalid_mint", "'%.200s' is not a trusted mint", want);
    } else if (a->admin->withdrawing) {
        app_reply_error(r, 409, "conflict", "withdrawal_in_progress",
                        "Another withdrawal is in progress; try again when it ends");
    } else {
        struct admin_call *c = admin_call_new(r);
        a->admin->withdrawing = true;
        c->n[0] = json_integer_value(amount);
        c->s[0] = want ? want : xstrdup(cashu_wallet_primary(a->wallet));
        want = NULL;
        store_wallet_balance(a->store, on_withdraw_wallet, c);
    }
    free(want);
    json_decref(body);
}

/* ----------------------------------------------------------------------------- lists */

static json_t *opt_int(const struct store_rows *rows, size_t i, size_t col)
{
    return store_cell(rows, i, col) ? json_integer(store_cell_i64(rows, i, col)) : json_null();
}

static json_t *opt_str(const struct store_rows *rows, size_t i, size_t col)
{
    return store_cell(rows, i, col) ? json_string(store_cell(rows, i, col)) : json_null();
}

/* The first 8 hex digits of a key hash: enough to tell keys apart, useless to spend them. */
static json_t *prefix(const char *key_hash)
{
    return json_stringn(key_hash, strlen(key_hash) < 8 ? strlen(key_hash) : 8);
}

/* A key filter: a hex prefix of a key hash (or "owner") as a LIKE pattern, NULL when absent;
 * false after answering 400. */
static bool key_filter(struct app_req *r, char **like)
{
    char *k = admin_query(r, "key");
    *like = NULL;
    if (k == NULL)
        return true;
    bool ok = strcmp(k, "owner") == 0 || (*k && strlen(k) <= 64 && strspn(k, "0123456789abcdef") ==
                                                                         strlen(k));
    if (!ok) {
        free(k);
        admin_bad_request(r, "invalid_parameter",
                          "'key' must be the hex prefix of a key hash, or 'owner'");
        return false;
    }
    *like = xasprintf("%s%%", k);
    free(k);
    return true;
}

/* The lists page through rows whose last column counts every match. A page past the end has
 * no row to read that count from: the list's query runs again for the first row alone (c->n[1]
 * set) and the answer is an empty page with the count. A list's query reads its filter from
 * the call (c->s, c->n[2..]) and serves its first run too. */
typedef void list_query_fn(struct admin_call *c, int64_t limit, int64_t offset);

/* false once the call is answered (a store error) or its query asked again; else the number of
 * rows the page lists in *n. */
static bool page_ready(struct admin_call *c, int status, const struct store_rows *rows,
                       list_query_fn *query, size_t *n)
{
    if (status != 0) {
        admin_store_error(c->r);
        admin_call_free(c);
        return false;
    }
    if (rows->nrows == 0 && c->n[0] > 0 && !c->n[1]) { /* past the end: count alone */
        c->n[1] = 1;
        query(c, 1, 0);
        return false;
    }
    *n = c->n[1] ? 0 : rows->nrows;
    return true;
}

static void page_reply(struct admin_call *c, const char *name, json_t *list,
                       const struct store_rows *rows)
{
    int64_t total = rows->nrows ? store_cell_i64(rows, 0, rows->ncols - 1) : 0;
    app_reply_json(c->r, 200, json_pack("{s:o, s:I}", name, list, "total", (json_int_t)total));
    admin_call_free(c);
}

static void on_keys(int status, const struct store_rows *rows, void *ud);

static void keys_query(struct admin_call *c, int64_t limit, int64_t offset)
{
    store_admin_keys(c->r->app->store, c->s[0], limit, offset, on_keys, c);
}

static void on_keys(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    size_t n;
    if (!page_ready(c, status, rows, keys_query, &n))
        return;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list,
            json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "hash_prefix",
                      prefix(store_cell(rows, i, 0)), "balance_msat",
                      (json_int_t)store_cell_i64(rows, i, 1), "reserved_msat",
                      (json_int_t)store_cell_i64(rows, i, 2), "total_spent_msat",
                      (json_int_t)store_cell_i64(rows, i, 3), "total_requests",
                      (json_int_t)store_cell_i64(rows, i, 4), "created_at",
                      (json_int_t)store_cell_i64(rows, i, 5), "last_used_at", opt_int(rows, i, 6),
                      "expiry_time", opt_int(rows, i, 7), "refund_address", opt_str(rows, i, 8)));
    page_reply(c, "keys", list, rows);
}

void admin_keys(struct app_req *r)
{
    int64_t limit, offset;
    if (!admin_query_int(r, "limit", 1, 500, 50, &limit) ||
        !admin_query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    char *order = admin_query(r, "order");
    if (order && strcmp(order, "last_used") != 0 && strcmp(order, "created") != 0 &&
        strcmp(order, "balance") != 0 && strcmp(order, "spent") != 0) {
        free(order);
        admin_bad_request(r, "invalid_parameter",
                          "'order' must be last_used, created, balance or spent");
        return;
    }
    struct admin_call *c = admin_call_new(r);
    c->n[0] = offset;
    c->s[0] = order;
    keys_query(c, limit, offset);
}

static void on_ledger(int status, const struct store_rows *rows, void *ud);

static void ledger_query(struct admin_call *c, int64_t limit, int64_t offset)
{
    struct store_ledger_filter f = {.key_like = c->s[0], .kind = c->s[1], .since = c->n[2],
                                    .until = c->n[3]};
    store_admin_ledger(c->r->app->store, &f, limit, offset, on_ledger, c);
}

static void on_ledger(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    size_t n;
    if (!page_ready(c, status, rows, ledger_query, &n))
        return;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:s, s:o, s:s, s:I, s:o, s:I}", "id", store_cell(rows, i, 0), "key",
                            prefix(store_cell(rows, i, 1)), "kind", store_cell(rows, i, 2),
                            "amount_msat", (json_int_t)store_cell_i64(rows, i, 3), "request_id",
                            opt_str(rows, i, 4), "created_at",
                            (json_int_t)store_cell_i64(rows, i, 5)));
    page_reply(c, "transactions", list, rows);
}

static bool word(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n;
}

void admin_transactions(struct app_req *r)
{
    int64_t limit, offset, since, until;
    if (!admin_query_int(r, "limit", 1, 500, 100, &limit) ||
        !admin_query_int(r, "offset", 0, INT32_MAX, 0, &offset) ||
        !admin_query_int(r, "since", 0, INT64_MAX / 2, -1, &since) ||
        !admin_query_int(r, "until", 0, INT64_MAX / 2, -1, &until))
        return;
    char *like, *kind = admin_query(r, "kind");
    if (kind && !word(kind)) {
        free(kind);
        admin_bad_request(r, "invalid_parameter", "'kind' must be a ledger kind, e.g. charge");
        return;
    }
    if (!key_filter(r, &like)) {
        free(kind);
        return;
    }
    struct admin_call *c = admin_call_new(r);
    c->n[0] = offset;
    c->n[2] = since;
    c->n[3] = until;
    c->s[0] = like;
    c->s[1] = kind;
    ledger_query(c, limit, offset);
}

/* Reservation states as the API names them. */
static const char *const states[][2] = {
    {"active", "reserved"}, {"charged", "settled"}, {"released", "released"}};

static const char *state_out(const char *db)
{
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (strcmp(states[i][0], db) == 0)
            return states[i][1];
    return db;
}

static void on_requests(int status, const struct store_rows *rows, void *ud);

static void requests_query(struct admin_call *c, int64_t limit, int64_t offset)
{
    struct store_request_filter f = {.status = c->s[2], .model = c->s[1], .key_like = c->s[0]};
    store_admin_requests(c->r->app->store, &f, limit, offset, on_requests, c);
}

static void on_requests(int status, const struct store_rows *rows, void *ud)
{
    struct admin_call *c = ud;
    size_t n;
    if (!page_ready(c, status, rows, requests_query, &n))
        return;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:s, s:o, s:o, s:o, s:s, s:I, s:o, s:I, s:o}", "id",
                            store_cell(rows, i, 0), "key", prefix(store_cell(rows, i, 1)),
                            "model", opt_str(rows, i, 2), "path", opt_str(rows, i, 3), "status",
                            state_out(store_cell(rows, i, 4)), "reserved_msat",
                            (json_int_t)store_cell_i64(rows, i, 5), "cost_msat",
                            opt_int(rows, i, 6), "created_at",
                            (json_int_t)store_cell_i64(rows, i, 7), "settled_at",
                            opt_int(rows, i, 8)));
    page_reply(c, "requests", list, rows);
}

void admin_requests(struct app_req *r)
{
    int64_t limit, offset;
    if (!admin_query_int(r, "limit", 1, 500, 100, &limit) ||
        !admin_query_int(r, "offset", 0, INT32_MAX, 0, &offset))
        return;
    char *status = admin_query(r, "status"), *model = admin_query(r, "model"), *like;
    const char *db = NULL;
    for (size_t i = 0; status && i < sizeof(states) / sizeof(states[0]); i++)
        if (strcmp(states[i][1], status) == 0)
            db = states[i][0];
    if ((status && db == NULL) || (model && (*model == '\0' || strlen(model) > 256))) {
        admin_bad_request(r, "invalid_parameter",
                          status && db == NULL ? "'status' must be reserved, settled or released"
                                               : "'model' must be a model id");
        free(status);
        free(model);
        return;
    }
    free(status);
    if (!key_filter(r, &like)) {
        free(model);
        return;
    }
    struct admin_call *c = admin_call_new(r);
    c->n[0] = offset;
    c->s[0] = like;
    c->s[1] = model;
    c->s[2] = db ? xstrdup(db) : NULL;
    requests_query(c, limit, offset);
}
