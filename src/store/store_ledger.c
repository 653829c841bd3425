/* store_ledger.c -- the ledger's typed calls: keys, reservations, settlements, refunds, audit.
 *
 * Every balance change is one conditional statement on the key's row, in the same transaction
 * as its ledger row: never a read followed by a write in our memory, so concurrent requests (and
 * several processes on one PostgreSQL) cannot race. A statement that must touch a row says so
 * (need_rows), and the whole transaction rolls back when it does not. Where a ledger row needs
 * the value a later update will use, the key's row is locked first by a no-op update (SQLite
 * holds the database lock from BEGIN IMMEDIATE anyway). Reserve and settle are not fsynced
 * (DESIGN.md, money rules); refunds are. A refund is settled by the wallet op that pays it, in
 * that op's transaction (store_refund_link, used by store.c): whether the process lives to see
 * the mint's answer or recovery finds it after a crash, the same statements run, once. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void store_key_get(struct store *s, const char *key_hash, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT balance_msat, reserved_msat, total_spent_msat, total_requests, "
               "refund_address, key_expiry_time, created_at, last_used_at FROM api_keys "
               "WHERE key_hash = $1",
        .params = {P_TEXT(key_hash)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_key_set_refund(struct store *s, const char *key_hash, const char *refund_address,
                          int64_t key_expiry_time, store_done_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "UPDATE api_keys SET refund_address = COALESCE($2, refund_address), "
               "key_expiry_time = CASE WHEN $3 > 0 THEN $3 ELSE key_expiry_time END "
               "WHERE key_hash = $1",
        .params = {P_TEXT(key_hash), P_TEXT(refund_address), P_INT(key_expiry_time)},
        .nparams = 3};
    store_run_done(s, &st, 1, false, cb, ud);
}

void store_redemption_claim(struct store *s, const char *token_hash, const char *key_hash,
                            store_rows_fn *cb, void *ud)
{
    /* The insert returns a row only when it made the claim; the select always does. */
    struct store_stmt st[2] = {
        {.sql = "INSERT INTO redemptions (token_hash, key_hash, state, created_at) "
                "VALUES ($1, $2, 'pending', $3) ON CONFLICT (token_hash) DO NOTHING "
                "RETURNING state, key_hash, 'claimed'",
         .params = {P_TEXT(token_hash), P_TEXT(key_hash), P_INT(store_now())}, .nparams = 3,
         .collect = true},
        {.sql = "SELECT state, key_hash, 'existing' FROM redemptions WHERE token_hash = $1",
         .params = {P_TEXT(token_hash)}, .nparams = 1, .collect = true},
    };
    store_run(s, st, 2, true, cb, ud);
}

void store_redemption_drop(struct store *s, const char *token_hash, store_done_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "DELETE FROM redemptions WHERE token_hash = $1 AND state = 'pending'",
        .params = {P_TEXT(token_hash)}, .nparams = 1};
    store_run_done(s, &st, 1, true, cb, ud);
}

void store_reserve(struct store *s, const struct store_reservation *r, store_rows_fn *cb,
                   void *ud)
{
    int64_t now = store_now();
    struct store_stmt st[2] = {
        {.sql = "UPDATE api_keys SET reserved_msat = reserved_msat + $2, "
                "total_requests = total_requests + 1, last_used_at = $3 "
                "WHERE key_hash = $1 AND balance_msat - reserved_msat >= $2 "
                "RETURNING balance_msat, reserved_msat",
         .params = {P_TEXT(r->key_hash), P_INT(r->amount_msat), P_INT(now)}, .nparams = 3,
         .need_rows = E_FUNDS, .collect = true},
        {.sql = "INSERT INTO reservations (id, key_hash, reserved_msat, status, model, path, "
                "instance, created_at) VALUES ($1, $2, $3, 'active', $4, $5, $6, $7)",
         .params = {P_TEXT(r->request_id), P_TEXT(r->key_hash), P_INT(r->amount_msat),
                    P_TEXT(r->model), P_TEXT(r->path), P_TEXT(r->instance), P_INT(now)},
         .nparams = 7},
    };
    store_run(s, st, 2, false, cb, ud);
}

/* The charge of a settlement: the cost, but never more than the key holds outside the other
 * requests' reservations (an overrun must not spend their money). */
#define CHARGE                                                                               \
    "CASE WHEN $2 < k.balance_msat - k.reserved_msat + r.reserved_msat THEN $2 "               \
    "ELSE k.balance_msat - k.reserved_msat + r.reserved_msat END"

void store_settle(struct store *s, const char *request_id, int64_t cost_msat, store_rows_fn *cb,
                  void *ud)
{
    int64_t now = store_now();
    struct store_stmt st[4] = {
        /* Lock the key's row; refuse a reservation that already ended. */
        {.sql = "UPDATE api_keys SET last_used_at = $2 WHERE key_hash = "
                "(SELECT key_hash FROM reservations WHERE id = $1 AND status = 'active')",
         .params = {P_TEXT(request_id), P_INT(now)}, .nparams = 2, .need_rows = E_CONFLICT},
        {.sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, request_id, created_at) "
                "SELECT $1 || ':charge', k.key_hash, 'charge', -(" CHARGE "), $1, $3 "
                "FROM reservations r JOIN api_keys k ON k.key_hash = r.key_hash "
                "WHERE r.id = $1 AND r.status = 'active'",
         .params = {P_TEXT(request_id), P_INT(cost_msat), P_INT(now)}, .nparams = 3,
         .need_rows = E_CONFLICT},
        {.sql = "UPDATE api_keys SET "
                "balance_msat = balance_msat + (SELECT amount_msat FROM ledger WHERE id = $1 || ':charge'), "
                "total_spent_msat = total_spent_msat - (SELECT amount_msat FROM ledger WHERE id = $1 || ':charge'), "
                "reserved_msat = reserved_msat - (SELECT reserved_msat FROM reservations WHERE id = $1) "
                "WHERE key_hash = (SELECT key_hash FROM reservations WHERE id = $1) "
                "RETURNING -(SELECT amount_msat FROM ledger WHERE id = $1 || ':charge'), "
                "balance_msat - reserved_msat",
         .params = {P_TEXT(request_id)}, .nparams = 1, .need_rows = E_CONFLICT, .collect = true},
        {.sql = "UPDATE reservations SET status = 'charged', settled_at = $2, cost_msat = "
                "(SELECT -amount_msat FROM ledger WHERE id = $1 || ':charge') "
                "WHERE id = $1 AND status = 'active'",
         .params = {P_TEXT(request_id), P_INT(now)}, .nparams = 2, .need_rows = E_CONFLICT},
    };
    store_run(s, st, 4, false, cb, ud);
}

void store_release(struct store *s, const char *request_id, store_done_fn *cb, void *ud)
{
    int64_t now = store_now();
    struct store_stmt st[2] = {
        {.sql = "UPDATE api_keys SET reserved_msat = reserved_msat - "
                "(SELECT reserved_msat FROM reservations WHERE id = $1), "
                "total_requests = total_requests - 1 "
                "WHERE key_hash = (SELECT key_hash FROM reservations "
                "WHERE id = $1 AND status = 'active')",
         .params = {P_TEXT(request_id)}, .nparams = 1, .need_rows = E_CONFLICT},
        {.sql = "UPDATE reservations SET status = 'released', cost_msat = 0, settled_at = $2 "
                "WHERE id = $1 AND status = 'active'",
         .params = {P_TEXT(request_id), P_INT(now)}, .nparams = 2, .need_rows = E_CONFLICT},
    };
    store_run_done(s, st, 2, false, cb, ud);
}

void store_reservations_stale(struct store *s, int64_t before, const char *live_instance,
                              int64_t dead_before, bool include_own, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT r.id FROM reservations r LEFT JOIN instances i ON i.id = r.instance "
               "WHERE r.status = 'active' AND r.created_at < $1 AND ("
               "($4 <> 0 AND r.instance = $2) OR "
               "(r.instance <> $2 AND (i.id IS NULL OR i.last_seen < $3))) "
               "ORDER BY r.created_at LIMIT 1000",
        .params = {P_INT(before), P_TEXT(live_instance), P_INT(dead_before), P_INT(include_own)},
        .nparams = 4, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

#define ORPHAN_REFUND                                                                        \
    "state = 'pending' AND created_at < $1 AND NOT EXISTS "                                   \
    "(SELECT 1 FROM wallet_ops o WHERE o.ref = refunds.id)"
#define ORPHAN_REDEMPTION                                                                    \
    "state = 'pending' AND created_at < $1 AND NOT EXISTS "                                   \
    "(SELECT 1 FROM wallet_ops o WHERE o.ref = redemptions.token_hash)"

void store_orphans_settle(struct store *s, int64_t before, store_rows_fn *cb, void *ud)
{
    /* The refunds found are marked first, so every later statement works on the same set; the
     * mark never outlives the transaction. A payout op whose start committed while the marking
     * waited on its row (PostgreSQL) is seen by the next statement, which unmarks that refund:
     * the op's start locks the refund's row and requires it pending (store_op_begin). */
    struct store_stmt st[7] = {
        {.sql = "UPDATE refunds SET state = 'orphan' WHERE " ORPHAN_REFUND,
         .params = {P_INT(before)}, .nparams = 1},
        {.sql = "UPDATE refunds SET state = 'pending' WHERE state = 'orphan' AND EXISTS "
                "(SELECT 1 FROM wallet_ops o WHERE o.ref = refunds.id)"},
        {.sql = "SELECT (SELECT COUNT(*) FROM refunds WHERE state = 'orphan'), "
                "(SELECT COUNT(*) FROM redemptions WHERE " ORPHAN_REDEMPTION ")",
         .params = {P_INT(before)}, .nparams = 1, .collect = true},
        {.sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, ref, created_at) "
                "SELECT id || ':reversal', key_hash, 'refund_reversal', amount_msat, id, $1 "
                "FROM refunds WHERE state = 'orphan'",
         .params = {P_INT(store_now())}, .nparams = 1},
        {.sql = "UPDATE api_keys SET balance_msat = balance_msat + (SELECT SUM(r.amount_msat) "
                "FROM refunds r WHERE r.key_hash = api_keys.key_hash AND r.state = 'orphan') "
                "WHERE key_hash IN (SELECT key_hash FROM refunds WHERE state = 'orphan')"},
        {.sql = "UPDATE refunds SET state = 'failed' WHERE state = 'orphan'"},
        /* A receive that starts anyway credits once: the mint refuses the token's second swap. */
        {.sql = "DELETE FROM redemptions WHERE " ORPHAN_REDEMPTION,
         .params = {P_INT(before)}, .nparams = 1},
    };
    store_run(s, st, 7, true, cb, ud);
}

void store_instance_seen(struct store *s, const char *instance, store_done_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "INSERT INTO instances (id, last_seen) VALUES ($1, $2) "
               "ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen",
        .params = {P_TEXT(instance), P_INT(store_now())}, .nparams = 2};
    store_run_done(s, &st, 1, false, cb, ud);
}

void store_refund_begin(struct store *s, const struct store_refund *r, store_done_fn *cb,
                        void *ud)
{
    int64_t now = store_now();
    struct store_stmt st[3] = {
        {.sql = "UPDATE api_keys SET balance_msat = balance_msat - $2 WHERE key_hash = $1 "
                "AND reserved_msat = 0 AND balance_msat = $3 AND balance_msat >= $2",
         .params = {P_TEXT(r->key_hash), P_INT(r->amount_msat), P_INT(r->expect_balance_msat)},
         .nparams = 3, .need_rows = E_CONFLICT},
        {.sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, ref, created_at) "
                "VALUES ($1 || ':refund', $2, 'refund', -$3, $1, $4)",
         .params = {P_TEXT(r->id), P_TEXT(r->key_hash), P_INT(r->amount_msat), P_INT(now)},
         .nparams = 4},
        {.sql = "INSERT INTO refunds (id, key_hash, amount_msat, amount, unit, state, created_at, "
                "balance_after_msat, spent_msat) SELECT $1, $2, $3, $4, $5, 'pending', $6, "
                "balance_msat, total_spent_msat FROM api_keys WHERE key_hash = $2",
         .params = {P_TEXT(r->id), P_TEXT(r->key_hash), P_INT(r->amount_msat), P_INT(r->amount),
                    P_TEXT(r->unit), P_INT(now)},
         .nparams = 6, .need_rows = E_CONFLICT},
    };
    store_run_done(s, st, 3, true, cb, ud);
}

void store_refund_failed(struct store *s, const char *id, store_done_fn *cb, void *ud)
{
    int64_t now = store_now();
    struct store_stmt st[3] = {
        {.sql = "UPDATE refunds SET state = 'failed' WHERE id = $1 AND state = 'pending'",
         .params = {P_TEXT(id)}, .nparams = 1, .need_rows = E_CONFLICT},
        {.sql = "UPDATE api_keys SET balance_msat = balance_msat + "
                "(SELECT amount_msat FROM refunds WHERE id = $1) "
                "WHERE key_hash = (SELECT key_hash FROM refunds WHERE id = $1)",
         .params = {P_TEXT(id)}, .nparams = 1, .need_rows = E_CONFLICT},
        {.sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, ref, created_at) "
                "SELECT id || ':reversal', key_hash, 'refund_reversal', amount_msat, id, $2 "
                "FROM refunds WHERE id = $1",
         .params = {P_TEXT(id), P_INT(now)}, .nparams = 2},
    };
    store_run_done(s, st, 3, true, cb, ud);
}

size_t store_refund_link(struct store_stmt *st, const char *op_id, const char *token,
                         int64_t now)
{
    if (token) {
        st[0] = (struct store_stmt){
            .sql = "UPDATE refunds SET state = 'done', token = $2 WHERE id = " STORE_REFUND_OF_OP
                   " AND state = 'pending'",
            .params = {P_TEXT(op_id), P_TEXT(token)}, .nparams = 2};
        return 1;
    }
    /* The reversal's ledger row and credit first, while the refund still reads pending. */
    st[0] = (struct store_stmt){
        .sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, ref, created_at) "
               "SELECT id || ':reversal', key_hash, 'refund_reversal', amount_msat, id, $2 "
               "FROM refunds WHERE id = " STORE_REFUND_OF_OP " AND state = 'pending'",
        .params = {P_TEXT(op_id), P_INT(now)}, .nparams = 2};
    st[1] = (struct store_stmt){
        .sql = "UPDATE api_keys SET balance_msat = balance_msat + "
               "(SELECT amount_msat FROM refunds WHERE id = " STORE_REFUND_OF_OP ") "
               "WHERE key_hash = (SELECT key_hash FROM refunds WHERE id = " STORE_REFUND_OF_OP
               " AND state = 'pending')",
        .params = {P_TEXT(op_id)}, .nparams = 1};
    st[2] = (struct store_stmt){
        .sql = "UPDATE refunds SET state = 'failed' WHERE id = " STORE_REFUND_OF_OP
               " AND state = 'pending'",
        .params = {P_TEXT(op_id)}, .nparams = 1};
    return 3;
}

void store_refund_latest(struct store *s, const char *key_hash, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT r.id, r.amount_msat, r.amount, r.unit, r.state, r.token, "
               "CASE WHEN r.balance_after_msat = k.balance_msat AND "
               "r.spent_msat = k.total_spent_msat THEN 1 ELSE 0 END "
               "FROM refunds r JOIN api_keys k ON k.key_hash = r.key_hash "
               "WHERE r.key_hash = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
        .params = {P_TEXT(key_hash)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_ledger_history(struct store *s, const char *key_hash, int64_t limit,
                          store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT id, kind, amount_msat, request_id, created_at FROM ledger "
               "WHERE key_hash = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        .params = {P_TEXT(key_hash), P_INT(limit)}, .nparams = 2, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_audit(struct store *s, store_rows_fn *cb, void *ud)
{
    /* Every check yields (check, key_hash, expected, actual) rows for what is wrong. */
    static const char *const checks[] = {
        "SELECT 'balance = sum(ledger)', k.key_hash, "
        "CAST(COALESCE((SELECT SUM(l.amount_msat) FROM ledger l WHERE l.key_hash = k.key_hash), 0) "
        "AS BIGINT), k.balance_msat FROM api_keys k WHERE k.balance_msat <> "
        "COALESCE((SELECT SUM(l.amount_msat) FROM ledger l WHERE l.key_hash = k.key_hash), 0)",

        "SELECT 'total_spent = sum(charges)', k.key_hash, "
        "CAST(COALESCE((SELECT -SUM(l.amount_msat) FROM ledger l WHERE l.key_hash = k.key_hash "
        "AND l.kind = 'charge'), 0) AS BIGINT), k.total_spent_msat FROM api_keys k "
        "WHERE k.total_spent_msat <> COALESCE((SELECT -SUM(l.amount_msat) FROM ledger l "
        "WHERE l.key_hash = k.key_hash AND l.kind = 'charge'), 0)",

        "SELECT 'reserved = sum(active reservations)', k.key_hash, "
        "CAST(COALESCE((SELECT SUM(r.reserved_msat) FROM reservations r WHERE r.key_hash = "
        "k.key_hash AND r.status = 'active'), 0) AS BIGINT), k.reserved_msat FROM api_keys k "
        "WHERE k.reserved_msat <> COALESCE((SELECT SUM(r.reserved_msat) FROM reservations r "
        "WHERE r.key_hash = k.key_hash AND r.status = 'active'), 0)",

        "SELECT '0 <= reserved <= balance', key_hash, balance_msat, reserved_msat FROM api_keys "
        "WHERE reserved_msat < 0 OR reserved_msat > balance_msat OR balance_msat < 0",

        "SELECT 'ledger row of no key', l.key_hash, 0, COUNT(*) FROM ledger l "
        "WHERE l.key_hash <> 'owner' AND "
        "NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.key_hash = l.key_hash) "
        "GROUP BY l.key_hash",

        "SELECT 'charge = settled cost', r.id, r.cost_msat, "
        "CAST(COALESCE((SELECT -l.amount_msat FROM ledger l WHERE l.id = r.id || ':charge'), -1) "
        "AS BIGINT) FROM reservations r WHERE r.status = 'charged' AND r.cost_msat <> "
        "COALESCE((SELECT -l.amount_msat FROM ledger l WHERE l.id = r.id || ':charge'), -1)",

        "SELECT 'deposits = balances + spent + refunded', '*', "
        "CAST(COALESCE((SELECT SUM(amount_msat) FROM ledger WHERE kind IN "
        "('deposit', 'refund_reversal')), 0) AS BIGINT), "
        "CAST(COALESCE((SELECT SUM(balance_msat) + SUM(total_spent_msat) FROM api_keys), 0) "
        "+ COALESCE((SELECT -SUM(amount_msat) FROM ledger WHERE kind = 'refund'), 0) AS BIGINT) "
        "WHERE COALESCE((SELECT SUM(amount_msat) FROM ledger WHERE kind IN "
        "('deposit', 'refund_reversal')), 0) <> "
        "COALESCE((SELECT SUM(balance_msat) + SUM(total_spent_msat) FROM api_keys), 0) "
        "+ COALESCE((SELECT -SUM(amount_msat) FROM ledger WHERE kind = 'refund'), 0)",

        /* The op that pays a refund settles it as it ends (store_op_done, store_op_failed). */
        "SELECT 'no refund pending once its payout ended', r.id, 0, r.amount_msat "
        "FROM refunds r WHERE r.state = 'pending' AND EXISTS (SELECT 1 FROM wallet_ops o "
        "WHERE o.ref = r.id AND o.kind = 'send' AND o.state <> 'pending')",
    };
    struct store_stmt st[sizeof(checks) / sizeof(checks[0])];
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        st[i] = (struct store_stmt){.sql = checks[i], .collect = true};
    store_run(s, st, sizeof(checks) / sizeof(checks[0]), false, cb, ud);
}
