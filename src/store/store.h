/* store.h -- the one seam to the database.
 *
 * Every database access in routstr goes through the calls below. A call is one transaction:
 * a fixed list of statements (store_int.h) that a backend runs as a unit, either all or none.
 * Calls are asynchronous: each takes a callback that runs exactly once with 0 or a negative
 * code. The SQLite backend runs on the loop thread and calls back before the call returns; the
 * PostgreSQL backend answers from the loop later. Callers must not assume either.
 *
 * Money rules (DESIGN.md): amounts are integers named with their unit; what receives money or
 * changes wallet proofs commits durably (fsync) before its callback reports success. */
#ifndef ROUTSTR_STORE_STORE_H
#define ROUTSTR_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct store;
struct event_base;

/* The rows a call returns: nrows × ncols text cells, NULL for SQL NULL. Valid only during the
 * callback. */
struct store_rows {
    size_t nrows, ncols;
    const char *const *cells;
};

static inline const char *store_cell(const struct store_rows *r, size_t row, size_t col)
{
    return r->cells[row * r->ncols + col];
}
int64_t store_cell_i64(const struct store_rows *r, size_t row, size_t col);

typedef void store_done_fn(int status, void *ud);
typedef void store_rows_fn(int status, const struct store_rows *rows, void *ud);

/* Opens 'url' (sqlite:///PATH or postgresql://...) and brings the schema to the newest
 * migration. Runs before the loop serves, so it may block. Returns 0, E_PROTO (bad URL),
 * E_IO (cannot open or migrate), with 'err' filled. */
int store_open(struct store **out, struct event_base *base, const char *url, char err[ERR_LEN]);
void store_close(struct store *s);

/* Start-up and the CLI wait for a call before going on (the loop serves nothing yet): pass
 * store_wait_value or store_wait_done as the callback, then store_wait runs the loop until it
 * came. */
struct store_wait {
    bool done;
    int status;
    char *value; /* store_wait_value: the first row's first cell (a copy to free), or NULL */
};
void store_wait_value(int status, const struct store_rows *rows, void *ud);
void store_wait_done(int status, void *ud);
void store_wait(struct event_base *base, struct store_wait *w);
/* "sqlite" or "postgresql". */
const char *store_dialect(const struct store *s);
/* The schema version after migrations. */
int store_schema_version(const struct store *s);

/* Secrets (values already encrypted by the caller), by name. */
void store_secret_get(struct store *s, const char *name, store_rows_fn *cb, void *ud);
/* Stores 'value' under 'name' unless one is there; the callback's row holds the value that is
 * stored afterwards (ours, or the one that won). Durable. */
void store_secret_init(struct store *s, const char *name, const char *value, store_rows_fn *cb,
                       void *ud);

/* Wallet: keysets of trusted mints. */
struct store_keyset {
    const char *id;
    const char *mint_url;
    const char *unit;
    bool active;
    int64_t input_fee_ppk;
    const char *keys_json; /* {"amount":"pubkey hex",...} */
};
void store_keyset_put(struct store *s, const struct store_keyset *k, store_done_fn *cb, void *ud);
/* Rows: id, mint_url, unit, active, input_fee_ppk, keys_json; for one mint, or every mint when
 * mint_url is NULL. */
void store_keysets_get(struct store *s, const char *mint_url, store_rows_fn *cb, void *ud);

/* Reserves 'n' consecutive NUT-13 counters of a keyset, durably, before any request uses them.
 * The row holds the first one. */
void store_counter_reserve(struct store *s, const char *keyset_id, int64_t n, store_rows_fn *cb,
                           void *ud);

/* A wallet operation (receive, send, melt) and the blinded outputs it will ask the mint to
 * sign, saved durably before the request goes out so that a lost answer can be restored. */
struct store_output {
    const char *keyset_id;
    int64_t counter;
    int64_t amount;
    const char *b_; /* hex of B_ */
};
struct store_op {
    const char *id;
    const char *kind;     /* "receive", "send", "melt" */
    const char *mint_url;
    const char *unit;
    int64_t amount;       /* in 'unit' */
    int64_t fee;          /* in 'unit' */
    const char *ref;      /* what it serves: a request id, a token hash, or NULL */
    const char *credit_key; /* a receive that pays into an API key: its hash, or NULL */
    int64_t credit_msat;    /* credited when the op ends done, in the same transaction */
    const char *account;    /* "owner": a send of the operator's money (a withdrawal), else
                             * NULL (a payout of users' money, debited by a refund row) */
    bool owner_only;        /* a withdrawal refused (E_LIMIT) when amount + fee is more than
                             * the operator owns (store_audit_wallet's owner_msat) */
};
/* Saves the op (state "pending"), its outputs, and marks 'input_ys' (our own proofs this op
 * spends, may be empty) as pending for it. Fails with E_CONFLICT if one of them is not unspent,
 * E_LIMIT for an 'owner_only' op beyond the operator's money. Durable. */
void store_op_begin(struct store *s, const struct store_op *op, const struct store_output *outs,
                    size_t n_outs, const char *const *input_ys, size_t n_inputs,
                    store_done_fn *cb, void *ud);

/* A proof we hold. */
struct store_proof {
    const char *y;        /* hex of Y = hash_to_curve(secret): the key */
    const char *mint_url;
    const char *unit;
    const char *keyset_id;
    int64_t amount;
    const char *secret;
    const char *c;        /* hex of C */
    const char *dleq_json; /* {"e","s","r"} or NULL */
};
/* Ends an op: state "done", stores 'proofs' as unspent, marks the op's pending inputs spent,
 * and records 'result' (e.g. the token sent). An op with a credit_key credits that key (created
 * if new) with a ledger row, and marks the redemption of its ref done, in the same transaction.
 * A send whose ref is a refund still pending settles it in the same transaction too: done with
 * 'result' as its token, or, with no result (nothing was handed out), failed, the key credited
 * back with a ledger row. What the op changed in the wallet beyond what users are owed (a
 * withdrawal, the mint fee of a refund, the operator's own receive or melt) is a ledger row of the
 * operator's account (key_hash "owner"), also in that transaction. E_CONFLICT if the op is not
 * pending (nothing changes). Durable. */
void store_op_done(struct store *s, const char *op_id, const struct store_proof *proofs,
                   size_t n_proofs, const char *result, store_done_fn *cb, void *ud);
/* Ends a send that recovery restored (a crash or a lost answer after the mint swapped): like
 * store_op_done with no result, except when its ref is a refund still pending: the proofs of
 * 'send_ys' (some of 'proofs', worth the op's amount) then go out in 'token', stored spent, and
 * 'token' becomes the op's result and the refund's, all in the one transaction. Durable. */
void store_op_done_claimable(struct store *s, const char *op_id,
                             const struct store_proof *proofs, size_t n_proofs,
                             const char *const *send_ys, size_t n_send, const char *token,
                             store_done_fn *cb, void *ud);
/* Ends an op that the mint refused: state "failed"; its pending inputs go back to unspent; a
 * receive's pending redemption claim (its ref) is dropped, so the token may be tried again; a
 * refund it paid, still pending, fails and credits the key back (ledger row); all in the same
 * transaction. E_CONFLICT if the op is not pending. Durable. */
void store_op_failed(struct store *s, const char *op_id, const char *why, store_done_fn *cb,
                     void *ud);
/* Rows: id, kind, mint_url, unit, amount, fee, ref, state, result; ops still "pending" (their
 * outcome unknown: a crash or a lost answer), oldest first. */
void store_ops_pending(struct store *s, store_rows_fn *cb, void *ud);
/* Rows: keyset_id, counter, amount, b_; the outputs of one op, in order. */
void store_op_outputs(struct store *s, const char *op_id, store_rows_fn *cb, void *ud);
/* Rows: y; the proofs an op is spending (state pending). */
void store_op_inputs(struct store *s, const char *op_id, store_rows_fn *cb, void *ud);
/* Rows: id, kind, state, amount, unit, result; one op by id. */
void store_op_get(struct store *s, const char *op_id, store_rows_fn *cb, void *ud);

/* Rows: y, keyset_id, amount, secret, c, dleq_json; the unspent proofs of a mint and unit,
 * largest first. */
void store_proofs_unspent(struct store *s, const char *mint_url, const char *unit,
                          store_rows_fn *cb, void *ud);
/* Marks proofs spent (a state check found them spent); their value leaves the operator's
 * account (a "proofs_lost" ledger row each). */
void store_proofs_spent(struct store *s, const char *const *ys, size_t n, store_done_fn *cb,
                        void *ud);
/* Rows: mint_url, unit, balance of unspent proofs, balance of pending proofs. */
void store_wallet_balance(struct store *s, store_rows_fn *cb, void *ud);

/* Ledger: API keys, reservations, deposits, charges, refunds.
 * A key is named by key_hash = hex(SHA-256(the key's part after "sk-")). Balances are msat. */

/* Rows: balance_msat, reserved_msat, total_spent_msat, total_requests, refund_address,
 * key_expiry_time, created_at, last_used_at; none when unknown. */
void store_key_get(struct store *s, const char *key_hash, store_rows_fn *cb, void *ud);
/* Stores Refund-LNURL / Key-Expiry-Time on a key (NULL leaves a value as it is). */
void store_key_set_refund(struct store *s, const char *key_hash, const char *refund_address,
                          int64_t key_expiry_time, store_done_fn *cb, void *ud);

/* Claims the redemption of a token (its hash) for a key, before the mint is asked. Rows: state,
 * key_hash, and 'claimed' in column 2 of the first row when this call made the claim. */
void store_redemption_claim(struct store *s, const char *token_hash, const char *key_hash,
                            store_rows_fn *cb, void *ud);
/* Forgets a claim whose redemption failed, so the token may be tried again. */
void store_redemption_drop(struct store *s, const char *token_hash, store_done_fn *cb, void *ud);

/* Reserves 'amount_msat' of a key's spendable balance for request 'request_id', in one
 * conditional update (balance - reserved >= amount). Rows: balance_msat, reserved_msat after.
 * E_FUNDS when short or when the key is unknown (store_key_get tells which). */
struct store_reservation {
    const char *request_id;
    const char *key_hash;
    int64_t amount_msat;
    const char *model;
    const char *path;
    const char *instance;
};
void store_reserve(struct store *s, const struct store_reservation *r, store_rows_fn *cb,
                   void *ud);
/* Settles a reservation at 'cost_msat' (capped at what the key has outside other requests'
 * reservations), with a charge row in the ledger. Rows: charged_msat, spendable balance after.
 * E_CONFLICT if the reservation was already settled or released (nothing changes). */
void store_settle(struct store *s, const char *request_id, int64_t cost_msat, store_rows_fn *cb,
                  void *ud);
/* Releases a reservation without charge. E_CONFLICT if already settled or released. */
void store_release(struct store *s, const char *request_id, store_done_fn *cb, void *ud);
/* Rows: id; active reservations created before 'before' (unix s) by instances other than
 * 'live_instance' that have not been seen since 'dead_before', or by 'live_instance' itself
 * when 'include_own' (a restart of a single node). */
void store_reservations_stale(struct store *s, int64_t before, const char *live_instance,
                              int64_t dead_before, bool include_own, store_rows_fn *cb, void *ud);
/* Settles what a crash left between two steps, for rows created before 'before' (unix s): a
 * refund debited whose payout op was never saved fails, the key credited back with a ledger row;
 * a token's redemption claimed whose receive op was never saved is dropped, so the token may be
 * used again (the mint never saw it: an op is saved before its swap). One transaction. Rows: the
 * number of refunds and of redemptions found, one row. */
void store_orphans_settle(struct store *s, int64_t before, store_rows_fn *cb, void *ud);
/* Marks this process alive (instances table). */
void store_instance_seen(struct store *s, const char *instance, store_done_fn *cb, void *ud);

/* Refunds: debit first (the whole refundable amount, only while nothing is reserved), then the
 * wallet pays with a send op whose ref is the refund's id, and the op's end settles the refund
 * in its own transaction (store_op_done, store_op_failed): done with the token, or failed and
 * credited back. Exactly once: each step acts only on a refund still pending. Rows of begin:
 * none. E_CONFLICT when the balance or the reservations changed (the caller re-reads and
 * answers). */
struct store_refund {
    const char *id;
    const char *key_hash;
    int64_t amount_msat;  /* debited */
    int64_t amount;       /* paid out, in 'unit' */
    const char *unit;
    int64_t expect_balance_msat;
};
void store_refund_begin(struct store *s, const struct store_refund *r, store_done_fn *cb,
                        void *ud);
/* The payout failed for certain before any op could settle it (no op was saved): the amount
 * goes back to the key (a ledger row says so). E_CONFLICT if the refund is not pending. */
void store_refund_failed(struct store *s, const char *id, store_done_fn *cb, void *ud);
/* Rows: id, amount_msat, amount, unit, state, token, unchanged; the key's newest refund, and 1
 * in 'unchanged' when the key is as that refund left it (no credit or charge since). */
void store_refund_latest(struct store *s, const char *key_hash, store_rows_fn *cb, void *ud);
/* Rows: id, kind, amount_msat, request_id, created_at; a key's ledger, newest first. */
void store_ledger_history(struct store *s, const char *key_hash, int64_t limit,
                          store_rows_fn *cb, void *ud);

/* Rows: check, key_hash, expected, actual; one per violated invariant (none: all holds):
 * balance = sum of ledger rows; total spent = sum of charges; reserved = sum of active
 * reservations; 0 <= reserved <= balance; deposits = balances + spent + refunded overall; no
 * refund pending once the op that pays it has ended (its key_hash column is the refund id). */
void store_audit(struct store *s, store_rows_fn *cb, void *ud);

/* The operator's books (store_admin.c), for 'routstr audit' and the admin dashboard. Money the
 * wallet holds (unspent and pending proofs, msat) = what users are owed (key balances, plus
 * refunds debited whose payout has not happened) + the operator's account (every charge, plus
 * the ledger rows of key_hash "owner"). Rows: wallet_msat, owed_msat, inflight_msat,
 * owner_msat; exactly one. */
void store_audit_wallet(struct store *s, store_rows_fn *cb, void *ud);

/* Settings changed in the dashboard (docs/admin-api.md). Rows: key, value; every setting but
 * the internal counter. */
void store_settings_get(struct store *s, store_rows_fn *cb, void *ud);
/* Stores n settings in one transaction, and counts the change in 'settings_version'. Durable. */
void store_settings_put(struct store *s, const char *const *keys, const char *const *values,
                        size_t n, store_done_fn *cb, void *ud);
/* Stores 'value' under 'key' unless one is there; the row holds the value stored afterwards
 * (ours, or the one that won). Durable. */
void store_setting_init(struct store *s, const char *key, const char *value, store_rows_fn *cb,
                        void *ud);
/* Rows: the settings version (0 when nothing was ever changed). One row. */
void store_settings_version(struct store *s, store_rows_fn *cb, void *ud);

/* Model overrides: enabled, and USD prices as decimal text (NULL: the catalogue's). */
struct store_model_override {
    const char *id;
    bool enabled;
    const char *prompt_usd, *completion_usd, *request_usd;
};
/* Rows: id, enabled, prompt_usd, completion_usd, request_usd. */
void store_model_overrides(struct store *s, store_rows_fn *cb, void *ud);
/* Replaces the override of o->id (counted in 'settings_version'). Durable. */
void store_model_override_put(struct store *s, const struct store_model_override *o,
                              store_done_fn *cb, void *ud);
/* Bumps 'settings_version' alone (a reloaded catalogue). */
void store_settings_touch(struct store *s, store_done_fn *cb, void *ud);

/* Admin sessions, by the SHA-256 (hex) of their token. Rows of get: expires_at; none when
 * unknown or expired. Put also forgets every expired session. */
void store_session_put(struct store *s, const char *token_hash, int64_t expires_at,
                       store_done_fn *cb, void *ud);
void store_session_get(struct store *s, const char *token_hash, store_rows_fn *cb, void *ud);
void store_session_delete(struct store *s, const char *token_hash, store_done_fn *cb, void *ud);

/* The dashboard's figures. Totals, one row: keys, requests, earned_msat (all charges),
 * withdrawn_msat, reserved_msat, owed_msat (balances), inflight_msat (refunds not yet paid). */
void store_admin_totals(struct store *s, store_rows_fn *cb, void *ud);
/* Rows: day (unix day number, UTC), earned_msat, requests; charges since 'since' (unix s). */
void store_admin_earnings(struct store *s, int64_t since, store_rows_fn *cb, void *ud);

/* Lists, newest first, 'limit' from 'offset'; the last column of every row is the count of all
 * matching rows. A NULL filter matches everything; 'key_like' is a LIKE pattern on key_hash.
 * Keys, ordered by 'order' ("last_used", "created", "balance" or "spent"): key_hash,
 * balance_msat, reserved_msat, total_spent_msat, total_requests, created_at, last_used_at,
 * key_expiry_time, refund_address, total. */
void store_admin_keys(struct store *s, const char *order, int64_t limit, int64_t offset,
                      store_rows_fn *cb, void *ud);
/* Ledger rows: id, key_hash, kind, amount_msat, request_id, created_at, total. 'since' and
 * 'until' (unix s) bound created_at when >= 0. */
struct store_ledger_filter {
    const char *key_like, *kind;
    int64_t since, until;
};
void store_admin_ledger(struct store *s, const struct store_ledger_filter *f, int64_t limit,
                        int64_t offset, store_rows_fn *cb, void *ud);
/* Reservations (requests): id, key_hash, model, path, status, reserved_msat, cost_msat,
 * created_at, settled_at, total. */
struct store_request_filter {
    const char *status, *model, *key_like;
};
void store_admin_requests(struct store *s, const struct store_request_filter *f, int64_t limit,
                          int64_t offset, store_rows_fn *cb, void *ud);

#endif
