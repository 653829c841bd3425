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
};
/* Saves the op (state "pending"), its outputs, and marks 'input_ys' (our own proofs this op
 * spends, may be empty) as pending for it. Fails with E_CONFLICT if one of them is not unspent.
 * Durable. */
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
 * and records 'result' (e.g. the token sent). Durable. */
void store_op_done(struct store *s, const char *op_id, const struct store_proof *proofs,
                   size_t n_proofs, const char *result, store_done_fn *cb, void *ud);
/* Ends an op that the mint refused: state "failed"; its pending inputs go back to unspent. */
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
/* Marks proofs spent (a state check found them spent). */
void store_proofs_spent(struct store *s, const char *const *ys, size_t n, store_done_fn *cb,
                        void *ud);
/* Rows: mint_url, unit, balance of unspent proofs, balance of pending proofs. */
void store_wallet_balance(struct store *s, store_rows_fn *cb, void *ud);

#endif
