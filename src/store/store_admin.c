/* store_admin.c -- the typed calls of the admin dashboard: settings, model overrides, sessions,
 * the operator's books, and the lists of keys, ledger rows and requests.
 *
 * Settings and overrides count every change in one row, settings_version, in the same
 * transaction as the change, so a process polling that number (several processes on one
 * PostgreSQL) reloads exactly when something changed. Lists carry the number of all matching
 * rows in a last column (COUNT(*) OVER ()), so a page and its total come from one statement. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* msat of a proof amount in its unit (the wallet holds sat; msat is accepted as is). */
#define MSAT_OF(unit) "(CASE WHEN " unit " = 'msat' THEN 1 ELSE 1000 END)"

/* The operator's account: every charge, plus the rows of 'owner'. */
#define OWNER_SUM                                                                            \
    "COALESCE((SELECT -SUM(amount_msat) FROM ledger WHERE kind = 'charge'), 0) + "          \
    "COALESCE((SELECT SUM(amount_msat) FROM ledger WHERE key_hash = 'owner'), 0)"

#define INFLIGHT_SUM STORE_INFLIGHT_SUM

void store_audit_wallet(struct store *s, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT CAST(COALESCE((SELECT SUM(amount * " MSAT_OF("unit") ") FROM proofs "
               "WHERE state IN ('unspent', 'pending')), 0) AS BIGINT), "
               "CAST(COALESCE((SELECT SUM(balance_msat) FROM api_keys), 0) AS BIGINT), "
               "CAST(" INFLIGHT_SUM " AS BIGINT), CAST(" OWNER_SUM " AS BIGINT)",
        .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

/* Settings */

#define BUMP_VERSION                                                                         \
    "INSERT INTO settings (key, value, updated_at) VALUES ('settings_version', '1', $1) "   \
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT), " \
    "updated_at = excluded.updated_at"

void store_settings_get(struct store *s, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT key, value FROM settings WHERE key <> 'settings_version' ORDER BY key",
        .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_settings_put(struct store *s, const char *const *keys, const char *const *values,
                        size_t n, store_done_fn *cb, void *ud)
{
    struct store_stmt *st = xcalloc(n + 1, sizeof(*st));
    int64_t now = store_now();
    for (size_t i = 0; i < n; i++)
        st[i] = (struct store_stmt){
            .sql = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                   "updated_at = excluded.updated_at",
            .params = {P_TEXT(keys[i]), P_TEXT(values[i]), P_INT(now)}, .nparams = 3};
    st[n] = (struct store_stmt){.sql = BUMP_VERSION, .params = {P_INT(now)}, .nparams = 1};
    store_run_done(s, st, n + 1, true, cb, ud);
    free(st);
}

void store_setting_init(struct store *s, const char *key, const char *value, store_rows_fn *cb,
                        void *ud)
{
    struct store_stmt st[2] = {
        {.sql = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (key) DO NOTHING",
         .params = {P_TEXT(key), P_TEXT(value), P_INT(store_now())}, .nparams = 3},
        {.sql = "SELECT value FROM settings WHERE key = $1", .params = {P_TEXT(key)},
         .nparams = 1, .collect = true, .need_rows = E_IO},
    };
    store_run(s, st, 2, true, cb, ud);
}

void store_settings_version(struct store *s, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT CAST(COALESCE((SELECT value FROM settings WHERE key = 'settings_version'), "
               "'0') AS BIGINT)",
        .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_settings_touch(struct store *s, store_done_fn *cb, void *ud)
{
    struct store_stmt st = {.sql = BUMP_VERSION, .params = {P_INT(store_now())}, .nparams = 1};
    store_run_done(s, &st, 1, true, cb, ud);
}

/* Model overrides */

void store_model_overrides(struct store *s, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT id, enabled, prompt_usd, completion_usd, request_usd FROM model_overrides "
               "ORDER BY id",
        .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_model_override_put(struct store *s, const struct store_model_override *o,
                              store_done_fn *cb, void *ud)
{
    int64_t now = store_now();
    struct store_stmt st[2] = {
        {.sql = "INSERT INTO model_overrides (id, enabled, prompt_usd, completion_usd, "
                "request_usd, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO "
                "UPDATE SET enabled = excluded.enabled, prompt_usd = excluded.prompt_usd, "
                "completion_usd = excluded.completion_usd, request_usd = excluded.request_usd, "
                "updated_at = excluded.updated_at",
         .params = {P_TEXT(o->id), P_INT(o->enabled), P_TEXT(o->prompt_usd),
                    P_TEXT(o->completion_usd), P_TEXT(o->request_usd), P_INT(now)},
         .nparams = 6},
        {.sql = BUMP_VERSION, .params = {P_INT(now)}, .nparams = 1},
    };
    store_run_done(s, st, 2, true, cb, ud);
}

/* Sessions */

void store_session_put(struct store *s, const char *token_hash, int64_t expires_at,
                       store_done_fn *cb, void *ud)
{
    int64_t now = store_now();
    struct store_stmt st[2] = {
        {.sql = "DELETE FROM admin_sessions WHERE expires_at <= $1", .params = {P_INT(now)},
         .nparams = 1},
        {.sql = "INSERT INTO admin_sessions (token_hash, expires_at, created_at) "
                "VALUES ($1, $2, $3)",
         .params = {P_TEXT(token_hash), P_INT(expires_at), P_INT(now)}, .nparams = 3},
    };
    store_run_done(s, st, 2, true, cb, ud);
}

void store_session_get(struct store *s, const char *token_hash, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT expires_at FROM admin_sessions WHERE token_hash = $1 AND expires_at > $2",
        .params = {P_TEXT(token_hash), P_INT(store_now())}, .nparams = 2, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_session_delete(struct store *s, const char *token_hash, store_done_fn *cb, void *ud)
{
    struct store_stmt st = {.sql = "DELETE FROM admin_sessions WHERE token_hash = $1",
                            .params = {P_TEXT(token_hash)}, .nparams = 1};
    store_run_done(s, &st, 1, true, cb, ud);
}

/* Figures */

void store_admin_totals(struct store *s, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT (SELECT COUNT(*) FROM api_keys), "
               "CAST(COALESCE((SELECT SUM(total_requests) FROM api_keys), 0) AS BIGINT), "
               "CAST(COALESCE((SELECT -SUM(amount_msat) FROM ledger WHERE kind = 'charge'), 0) "
               "AS BIGINT), "
               "CAST(COALESCE((SELECT -SUM(amount_msat) FROM ledger WHERE key_hash = 'owner' AND "
               "kind = 'withdraw'), 0) AS BIGINT), "
               "CAST(COALESCE((SELECT SUM(reserved_msat) FROM api_keys), 0) AS BIGINT), "
               "CAST(COALESCE((SELECT SUM(balance_msat) FROM api_keys), 0) AS BIGINT), "
               "CAST(" INFLIGHT_SUM " AS BIGINT)",
        .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_admin_earnings(struct store *s, int64_t since, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT created_at / 86400, CAST(-SUM(amount_msat) AS BIGINT), COUNT(*) "
               "FROM ledger WHERE kind = 'charge' AND created_at >= $1 "
               "GROUP BY created_at / 86400 ORDER BY created_at / 86400",
        .params = {P_INT(since)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

/* Lists */

#define KEYS_SQL(by)                                                                         \
    "SELECT key_hash, balance_msat, reserved_msat, total_spent_msat, total_requests, "       \
    "created_at, last_used_at, key_expiry_time, refund_address, COUNT(*) OVER () "            \
    "FROM api_keys ORDER BY " by " LIMIT $1 OFFSET $2"

void store_admin_keys(struct store *s, const char *order, int64_t limit, int64_t offset,
                      store_rows_fn *cb, void *ud)
{
    /* One fixed text per order (a backend may keep the SQL past this call). */
    const char *sql = KEYS_SQL("COALESCE(last_used_at, created_at) DESC, key_hash");
    if (order && strcmp(order, "created") == 0)
        sql = KEYS_SQL("created_at DESC, key_hash");
    else if (order && strcmp(order, "balance") == 0)
        sql = KEYS_SQL("balance_msat DESC, key_hash");
    else if (order && strcmp(order, "spent") == 0)
        sql = KEYS_SQL("total_spent_msat DESC, key_hash");
    struct store_stmt st = {.sql = sql, .params = {P_INT(limit), P_INT(offset)}, .nparams = 2,
                            .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_admin_ledger(struct store *s, const struct store_ledger_filter *f, int64_t limit,
                        int64_t offset, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT id, key_hash, kind, amount_msat, request_id, created_at, COUNT(*) OVER () "
               "FROM ledger WHERE ($1 IS NULL OR key_hash LIKE $1) AND ($2 IS NULL OR kind = $2) "
               "AND ($3 < 0 OR created_at >= $3) AND ($4 < 0 OR created_at <= $4) "
               "ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6",
        .params = {P_TEXT(f->key_like), P_TEXT(f->kind), P_INT(f->since), P_INT(f->until),
                   P_INT(limit), P_INT(offset)},
        .nparams = 6, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_admin_requests(struct store *s, const struct store_request_filter *f, int64_t limit,
                          int64_t offset, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT id, key_hash, model, path, status, reserved_msat, cost_msat, created_at, "
               "settled_at, COUNT(*) OVER () FROM reservations WHERE ($1 IS NULL OR status = $1) "
               "AND ($2 IS NULL OR model = $2) AND ($3 IS NULL OR key_hash LIKE $3) "
               "ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5",
        .params = {P_TEXT(f->status), P_TEXT(f->model), P_TEXT(f->key_like), P_INT(limit),
                   P_INT(offset)},
        .nparams = 5, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}
