/* store.c -- the typed calls of store.h, each written as one transaction program, and the choice
 * of backend from DATABASE_URL.
 *
 * All SQL of the typed calls is here and shared by both dialects: it sticks to what SQLite 3.40
 * and PostgreSQL 15 both understand (INSERT ... ON CONFLICT, RETURNING, $n placeholders).
 * Timestamps are unix seconds. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "base/xalloc.h"

int64_t store_cell_i64(const struct store_rows *r, size_t row, size_t col)
{
    const char *v = store_cell(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

int store_open(struct store **out, struct event_base *base, const char *url, char err[ERR_LEN])
{
    const struct store_backend *be = NULL;
    if (strncmp(url, "sqlite:///", 10) == 0) {
        be = &store_sqlite_backend;
    } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        be = &store_pg_backend;
    } else {
        snprintf(err, ERR_LEN, "DATABASE_URL: must be sqlite:///PATH or postgresql://...");
        return E_PROTO;
    }
    struct store *s = xcalloc(1, sizeof(*s));
    s->be = be;
    s->base = base;
    int rc = be->open(s, url, err);
    if (rc != E_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return E_OK;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    s->be->close(s);
    free(s);
}

void store_wait_value(int status, const struct store_rows *rows, void *ud)
{
    struct store_wait *w = ud;
    w->done = true;
    w->status = status;
    if (status == 0 && rows->nrows > 0 && store_cell(rows, 0, 0))
        w->value = xstrdup(store_cell(rows, 0, 0));
}

void store_wait_done(int status, void *ud)
{
    struct store_wait *w = ud;
    w->done = true;
    w->status = status;
}

void store_wait(struct event_base *base, struct store_wait *w)
{
    while (!w->done)
        event_base_loop(base, EVLOOP_ONCE);
}

const char *store_dialect(const struct store *s)
{
    return s->be->dialect;
}

int store_schema_version(const struct store *s)
{
    return s->schema_version;
}

/* Runs a program; a NULL 'done' callback is adapted from 'rows' form. */
struct done_adapter {
    store_done_fn *cb;
    void *ud;
};

static void adapt_done(int status, const struct store_rows *rows, void *ud)
{
    struct done_adapter *a = ud;
    store_done_fn *cb = a->cb;
    void *cud = a->ud;
    free(a);
    cb(status, cud);
}

void store_run(struct store *s, struct store_stmt *stmts, size_t n, bool durable,
               store_rows_fn *cb, void *ud)
{
    struct store_tx tx = {.stmts = stmts, .n = n, .durable = durable, .cb = cb, .ud = ud};
    s->be->run(s, &tx);
}

void store_run_done(struct store *s, struct store_stmt *stmts, size_t n, bool durable,
                    store_done_fn *cb, void *ud)
{
    struct done_adapter *a = xmalloc(sizeof(*a));
    a->cb = cb;
    a->ud = ud;
    store_run(s, stmts, n, durable, adapt_done, a);
}

int64_t store_now(void)
{
    return (int64_t)time(NULL);
}

/* Secrets */

void store_secret_get(struct store *s, const char *name, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {.sql = "SELECT value FROM secrets WHERE name = $1",
                            .params = {P_TEXT(name)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_secret_init(struct store *s, const char *name, const char *value, store_rows_fn *cb,
                       void *ud)
{
    struct store_stmt st[2] = {
        {.sql = "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (name) DO NOTHING",
         .params = {P_TEXT(name), P_TEXT(value), P_INT(store_now())}, .nparams = 3},
        {.sql = "SELECT value FROM secrets WHERE name = $1", .params = {P_TEXT(name)},
         .nparams = 1, .collect = true, .need_rows = E_IO},
    };
    store_run(s, st, 2, true, cb, ud);
}

/* Keysets and counters */

void store_keyset_put(struct store *s, const struct store_keyset *k, store_done_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "INSERT INTO keysets (id, mint_url, unit, active, input_fee_ppk, keys_json, "
               "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET "
               "active = excluded.active, input_fee_ppk = excluded.input_fee_ppk, "
               "keys_json = excluded.keys_json, updated_at = excluded.updated_at",
        .params = {P_TEXT(k->id), P_TEXT(k->mint_url), P_TEXT(k->unit), P_INT(k->active),
                   P_INT(k->input_fee_ppk), P_TEXT(k->keys_json), P_INT(store_now())},
        .nparams = 7};
    store_run_done(s, &st, 1, false, cb, ud);
}

void store_keysets_get(struct store *s, const char *mint_url, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT id, mint_url, unit, active, input_fee_ppk, keys_json FROM keysets "
               "WHERE $1 IS NULL OR mint_url = $1 ORDER BY mint_url, active DESC, id",
        .params = {P_TEXT(mint_url)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_counter_reserve(struct store *s, const char *keyset_id, int64_t n, store_rows_fn *cb,
                           void *ud)
{
    struct store_stmt st = {
        .sql = "INSERT INTO keyset_counters (keyset_id, next_counter) VALUES ($1, $2) "
               "ON CONFLICT (keyset_id) DO UPDATE SET next_counter = "
               "keyset_counters.next_counter + $2 RETURNING next_counter - $2",
        .params = {P_TEXT(keyset_id), P_INT(n)}, .nparams = 2, .collect = true,
        .need_rows = E_IO};
    store_run(s, &st, 1, true, cb, ud);
}

/* Wallet operations */

void store_op_begin(struct store *s, const struct store_op *op, const struct store_output *outs,
                    size_t n_outs, const char *const *input_ys, size_t n_inputs,
                    store_done_fn *cb, void *ud)
{
    bool send = strcmp(op->kind, "send") == 0 && op->ref != NULL;
    size_t n = 1 + n_outs + n_inputs + (op->owner_only ? 2 : 0) + (send ? 2 : 0);
    struct store_stmt *st = xcalloc(n, sizeof(*st));
    int64_t now = store_now();
    size_t k = 1 + n_outs + n_inputs;
    if (send) {
        /* A payout of a refund (its ref) starts only while the refund is pending, its row
         * locked against the sweep that credits back refunds nobody paid out. */
        st[k++] = (struct store_stmt){.sql = "UPDATE refunds SET state = state WHERE id = $1",
                                      .params = {P_TEXT(op->ref)}, .nparams = 1};
        st[k++] = (struct store_stmt){
            .sql = "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM refunds WHERE id = $1 AND "
                   "state <> 'pending')",
            .params = {P_TEXT(op->ref)}, .nparams = 1, .need_rows = E_CONFLICT};
    }
    if (op->owner_only) { /* one withdrawal's check at a time across processes (see below) */
        st[n - 2] = (struct store_stmt){
            .sql = strcmp(store_dialect(s), "postgresql") == 0
                       ? "SELECT pg_advisory_xact_lock(7205231)" /* 'withdraw' */
                       : "SELECT 1"}; /* SQLite: BEGIN IMMEDIATE already serializes writers */
    }
    st[0] = (struct store_stmt){
        .sql = "INSERT INTO wallet_ops (id, kind, mint_url, unit, amount, fee, ref, state, "
               "created_at, updated_at, credit_key, credit_msat, account) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9, $10, $11)",
        .params = {P_TEXT(op->id), P_TEXT(op->kind), P_TEXT(op->mint_url), P_TEXT(op->unit),
                   P_INT(op->amount), P_INT(op->fee), P_TEXT(op->ref), P_INT(now),
                   P_TEXT(op->credit_key), P_INT(op->credit_msat), P_TEXT(op->account)},
        .nparams = 11};
    for (size_t i = 0; i < n_outs; i++)
        st[1 + i] = (struct store_stmt){
            .sql = "INSERT INTO wallet_outputs (op_id, idx, keyset_id, counter, amount, b_) "
                   "VALUES ($1, $2, $3, $4, $5, $6)",
            .params = {P_TEXT(op->id), P_INT((int64_t)i), P_TEXT(outs[i].keyset_id),
                       P_INT(outs[i].counter), P_INT(outs[i].amount), P_TEXT(outs[i].b_)},
            .nparams = 6};
    for (size_t i = 0; i < n_inputs; i++)
        st[1 + n_outs + i] = (struct store_stmt){
            .sql = "UPDATE proofs SET state = 'pending', op_id = $2 "
                   "WHERE y = $1 AND state = 'unspent'",
            .params = {P_TEXT(input_ys[i]), P_TEXT(op->id)}, .nparams = 2,
            .need_rows = E_CONFLICT};
    /* In the transaction that takes the proofs, after the lock: what the operator owns, less
     * every other withdrawal still in flight (its proofs still count in the wallet until it
     * ends), must cover this one. */
    if (op->owner_only)
        st[n - 1] = (struct store_stmt){
            .sql = "SELECT 1 WHERE " STORE_OWNER_MSAT " - COALESCE((SELECT SUM((o.amount + "
                   "o.fee) * (CASE WHEN o.unit = 'msat' THEN 1 ELSE 1000 END)) FROM wallet_ops o "
                   "WHERE o.state = 'pending' AND o.account = 'owner' AND o.id <> $4), 0) >= "
                   "($1 + $2) * (CASE WHEN $3 = 'msat' THEN 1 ELSE 1000 END)",
            .params = {P_INT(op->amount), P_INT(op->fee), P_TEXT(op->unit), P_TEXT(op->id)},
            .nparams = 4, .need_rows = E_LIMIT};
    store_run_done(s, st, n, true, cb, ud);
    free(st);
}

/* The done op: its state, its inputs spent, a receive's credit, its new proofs; then the refund
 * it pays, if any (store_refund_link), claimed with 'claim_token' when 'claim_ys' go out. */
static void op_done(struct store *s, const char *op_id, const struct store_proof *proofs,
                    size_t n_proofs, const char *result, const char *const *claim_ys,
                    size_t n_claim, const char *claim_token, store_done_fn *cb, void *ud)
{
    size_t n = 6 + n_proofs + n_claim + 1 + STORE_REFUND_LINK_MAX;
    struct store_stmt *st = xcalloc(n, sizeof(*st));
    int64_t now = store_now();
    int64_t added = 0, claimed = 0;
    for (size_t i = 0; i < n_proofs; i++) {
        added += proofs[i].amount;
        for (size_t j = 0; j < n_claim; j++)
            if (strcmp(proofs[i].y, claim_ys[j]) == 0)
                claimed += proofs[i].amount;
    }
    bool pays_out = result != NULL || claim_token != NULL;
    st[0] = (struct store_stmt){
        .sql = "UPDATE wallet_ops SET state = 'done', result = $2, updated_at = $3 "
               "WHERE id = $1 AND state = 'pending'",
        .params = {P_TEXT(op_id), P_TEXT(result), P_INT(now)}, .nparams = 3,
        .need_rows = E_CONFLICT};
    /* The operator's share of the op, before its inputs are marked spent: what the wallet
     * gains (proofs added, less those a refund still pending claims, less the inputs) less what
     * users are owed more (a receive's credit) or less (a refund paid out: its debit was the
     * refund's ledger row; one that fails instead is credited back, owing the same). Zero for a
     * receive into a key or a fee-free refund; minus the fee for a paid one. */
    st[1] = (struct store_stmt){
        .sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, ref, created_at) "
               "SELECT id || ':owner', 'owner', CASE WHEN kind = 'send' AND account = 'owner' "
               "THEN 'withdraw' WHEN kind = 'send' THEN 'payout_fee' ELSE 'owner_' || kind END, "
               "delta, ref, $3 FROM (SELECT o.id, o.kind, o.account, o.ref, "
               "($2 - (CASE WHEN " STORE_REFUND_PENDING_OF_OP " THEN $4 ELSE 0 END) - "
               "COALESCE((SELECT SUM(p.amount) FROM proofs p WHERE p.op_id = o.id AND "
               "p.state = 'pending'), 0)) * (CASE WHEN o.unit = 'msat' THEN 1 ELSE 1000 END) "
               "- (CASE WHEN o.credit_key IS NOT NULL THEN o.credit_msat ELSE 0 END) "
               "+ (CASE WHEN o.kind = 'send' AND o.account IS NULL "
               "AND $5 = 1 AND " STORE_REFUND_PENDING_OF_OP " "
               "THEN o.amount * (CASE WHEN o.unit = 'msat' THEN 1 ELSE 1000 END) ELSE 0 END) "
               "AS delta FROM wallet_ops o WHERE o.id = $1) x WHERE delta <> 0",
        .params = {P_TEXT(op_id), P_INT(added), P_INT(now), P_INT(claimed), P_INT(pays_out)},
        .nparams = 5};
    st[2] = (struct store_stmt){
        .sql = "UPDATE proofs SET state = 'spent' WHERE op_id = $1 AND state = 'pending'",
        .params = {P_TEXT(op_id)}, .nparams = 1};
    /* The credit of a receive that pays into a key: same transaction as its proofs. */
    st[3] = (struct store_stmt){
        .sql = "INSERT INTO api_keys (key_hash, balance_msat, created_at, last_used_at) "
               "SELECT credit_key, credit_msat, $2, $2 FROM wallet_ops "
               "WHERE id = $1 AND credit_key IS NOT NULL "
               "ON CONFLICT (key_hash) DO UPDATE SET "
               "balance_msat = api_keys.balance_msat + excluded.balance_msat",
        .params = {P_TEXT(op_id), P_INT(now)}, .nparams = 2};
    st[4] = (struct store_stmt){
        .sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, ref, created_at) "
               "SELECT id || ':deposit', credit_key, 'deposit', credit_msat, ref, $2 "
               "FROM wallet_ops WHERE id = $1 AND credit_key IS NOT NULL",
        .params = {P_TEXT(op_id), P_INT(now)}, .nparams = 2};
    st[5] = (struct store_stmt){
        .sql = "UPDATE redemptions SET state = 'done' WHERE token_hash = "
               "(SELECT ref FROM wallet_ops WHERE id = $1 AND credit_key IS NOT NULL)",
        .params = {P_TEXT(op_id)}, .nparams = 1};
    size_t k = 6;
    for (size_t i = 0; i < n_proofs; i++) {
        const struct store_proof *p = &proofs[i];
        st[k++] = (struct store_stmt){
            .sql = "INSERT INTO proofs (y, mint_url, unit, keyset_id, amount, secret, c, dleq, "
                   "state, op_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                   "'unspent', NULL, $9)",
            .params = {P_TEXT(p->y), P_TEXT(p->mint_url), P_TEXT(p->unit), P_TEXT(p->keyset_id),
                       P_INT(p->amount), P_TEXT(p->secret), P_TEXT(p->c), P_TEXT(p->dleq_json),
                       P_INT(now)},
            .nparams = 9};
    }
    if (claim_token) {
        /* Only while the refund is pending: the proofs leave the wallet in the refund's token;
         * otherwise nobody is owed them and they stay unspent, the wallet's. */
        for (size_t i = 0; i < n_claim; i++)
            st[k++] = (struct store_stmt){
                .sql = "UPDATE proofs SET state = 'spent', op_id = $1 WHERE y = $2 AND "
                       STORE_REFUND_PENDING_OF_OP,
                .params = {P_TEXT(op_id), P_TEXT(claim_ys[i])}, .nparams = 2};
        st[k++] = (struct store_stmt){
            .sql = "UPDATE wallet_ops SET result = $2 WHERE id = $1 AND "
                   STORE_REFUND_PENDING_OF_OP,
            .params = {P_TEXT(op_id), P_TEXT(claim_token)}, .nparams = 2};
        result = claim_token;
    }
    k += store_refund_link(st + k, op_id, result, now);
    store_run_done(s, st, k, true, cb, ud);
    free(st);
}

void store_op_done(struct store *s, const char *op_id, const struct store_proof *proofs,
                   size_t n_proofs, const char *result, store_done_fn *cb, void *ud)
{
    op_done(s, op_id, proofs, n_proofs, result, NULL, 0, NULL, cb, ud);
}

void store_op_done_claimable(struct store *s, const char *op_id,
                             const struct store_proof *proofs, size_t n_proofs,
                             const char *const *send_ys, size_t n_send, const char *token,
                             store_done_fn *cb, void *ud)
{
    op_done(s, op_id, proofs, n_proofs, NULL, send_ys, n_send, token, cb, ud);
}

void store_op_failed(struct store *s, const char *op_id, const char *why, store_done_fn *cb,
                     void *ud)
{
    struct store_stmt st[3 + STORE_REFUND_LINK_MAX] = {
        {.sql = "UPDATE wallet_ops SET state = 'failed', result = $2, updated_at = $3 "
                "WHERE id = $1 AND state = 'pending'",
         .params = {P_TEXT(op_id), P_TEXT(why), P_INT(store_now())}, .nparams = 3,
         .need_rows = E_CONFLICT},
        {.sql = "UPDATE proofs SET state = 'unspent', op_id = NULL "
                "WHERE op_id = $1 AND state = 'pending'",
         .params = {P_TEXT(op_id)}, .nparams = 1},
    };
    /* A receive that failed did not take the token: its claim goes, so the token may be tried
     * again (else every retry would wait on a redemption that never ends). */
    st[2] = (struct store_stmt){
        .sql = "DELETE FROM redemptions WHERE state = 'pending' AND token_hash = "
               "(SELECT ref FROM wallet_ops WHERE id = $1 AND kind = 'receive')",
        .params = {P_TEXT(op_id)}, .nparams = 1};
    /* Nothing went out: the refund it paid, if any, gives the key its money back. */
    size_t n = 3 + store_refund_link(st + 3, op_id, NULL, store_now());
    store_run_done(s, st, n, true, cb, ud);
}

void store_ops_pending(struct store *s, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT id, kind, mint_url, unit, amount, fee, ref, state, result FROM wallet_ops "
               "WHERE state = 'pending' ORDER BY created_at, id",
        .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_op_outputs(struct store *s, const char *op_id, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT keyset_id, counter, amount, b_ FROM wallet_outputs WHERE op_id = $1 "
               "ORDER BY idx",
        .params = {P_TEXT(op_id)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_op_inputs(struct store *s, const char *op_id, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT y FROM proofs WHERE op_id = $1 AND state = 'pending' ORDER BY y",
        .params = {P_TEXT(op_id)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_op_get(struct store *s, const char *op_id, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT id, kind, state, amount, unit, result FROM wallet_ops WHERE id = $1",
        .params = {P_TEXT(op_id)}, .nparams = 1, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

/* Proofs */

void store_proofs_unspent(struct store *s, const char *mint_url, const char *unit,
                          store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT y, keyset_id, amount, secret, c, dleq FROM proofs WHERE mint_url = $1 "
               "AND unit = $2 AND state = 'unspent' ORDER BY amount DESC, y",
        .params = {P_TEXT(mint_url), P_TEXT(unit)}, .nparams = 2, .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}

void store_proofs_spent(struct store *s, const char *const *ys, size_t n, store_done_fn *cb,
                        void *ud)
{
    struct store_stmt *st = xcalloc(n ? 2 * n : 1, sizeof(*st));
    int64_t now = store_now();
    for (size_t i = 0; i < n; i++) {
        st[2 * i] = (struct store_stmt){
            .sql = "INSERT INTO ledger (id, key_hash, kind, amount_msat, ref, created_at) "
                   "SELECT 'lost:' || y, 'owner', 'proofs_lost', -amount * (CASE WHEN unit = "
                   "'msat' THEN 1 ELSE 1000 END), op_id, $2 FROM proofs "
                   "WHERE y = $1 AND state <> 'spent'",
            .params = {P_TEXT(ys[i]), P_INT(now)}, .nparams = 2};
        st[2 * i + 1] = (struct store_stmt){
            .sql = "UPDATE proofs SET state = 'spent' WHERE y = $1",
            .params = {P_TEXT(ys[i])}, .nparams = 1};
    }
    store_run_done(s, st, 2 * n, true, cb, ud);
    free(st);
}

void store_wallet_balance(struct store *s, store_rows_fn *cb, void *ud)
{
    struct store_stmt st = {
        .sql = "SELECT mint_url, unit, "
               "COALESCE(SUM(CASE WHEN state = 'unspent' THEN amount ELSE 0 END), 0), "
               "COALESCE(SUM(CASE WHEN state = 'pending' THEN amount ELSE 0 END), 0) "
               "FROM proofs WHERE state <> 'spent' GROUP BY mint_url, unit ORDER BY mint_url, unit",
        .collect = true};
    store_run(s, &st, 1, false, cb, ud);
}
