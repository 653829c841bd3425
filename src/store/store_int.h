/* store_int.h -- what the store's own files share: transactions as data, and the backend table.
 *
 * A typed call in store.c builds a 'struct store_tx': statements with typed parameters ($1, $2,
 * ... placeholders in both dialects), run in order inside one transaction. A statement may
 * demand that it touch at least one row (else the transaction rolls back with 'need_rows' as
 * the status), and one statement's result rows may be collected for the caller. A backend
 * (SQLite, PostgreSQL) only has to run such programs; all SQL lives in store.c, except the
 * migrations, which are per dialect. */
#ifndef ROUTSTR_STORE_STORE_INT_H
#define ROUTSTR_STORE_STORE_INT_H

#include "store/store.h"

#define STORE_MAX_PARAMS 12

enum store_ptype { SP_NULL = 0, SP_INT, SP_TEXT };

struct store_param {
    enum store_ptype type;
    int64_t i;
    const char *s;
};

#define P_INT(x) ((struct store_param){.type = SP_INT, .i = (x)})
#define P_TEXT(x) ((struct store_param){.type = (x) ? SP_TEXT : SP_NULL, .s = (x)})

struct store_stmt {
    const char *sql;
    struct store_param params[STORE_MAX_PARAMS];
    int nparams;
    int need_rows; /* 0, or the status to fail with when it changes / returns no row */
    bool collect;  /* hand its rows to the caller */
};

struct store_tx {
    struct store_stmt *stmts;
    size_t n;
    bool durable;  /* fsync before reporting success */
    store_rows_fn *cb;
    void *ud;
};

struct store_backend {
    const char *dialect;
    int (*open)(struct store *s, const char *url, char err[ERR_LEN]);
    void (*close)(struct store *s);
    /* Runs 'tx' and calls tx->cb exactly once. Copies what it needs: 'tx' and the strings it
     * points to belong to the caller only until run() returns. */
    void (*run)(struct store *s, const struct store_tx *tx);
};

struct store {
    const struct store_backend *be;
    struct event_base *base;
    void *impl;
    int schema_version;
};

/* SQL for the books (store_admin.c): what users are owed beyond their balances (refunds debited
 * but not yet paid out), and what the operator owns (every charge, plus the rows of 'owner'),
 * and the latter as wallet - owed. */
#define STORE_INFLIGHT_SUM                                                                   \
    "COALESCE((SELECT SUM(r.amount_msat) FROM refunds r WHERE r.state = 'pending' AND "      \
    "NOT EXISTS (SELECT 1 FROM wallet_ops o WHERE o.ref = r.id AND o.state = 'done')), 0)"
#define STORE_OWNER_MSAT                                                                     \
    "(COALESCE((SELECT SUM(amount * (CASE WHEN unit = 'msat' THEN 1 ELSE 1000 END)) FROM "   \
    "proofs WHERE state IN ('unspent', 'pending')), 0) - COALESCE((SELECT SUM(balance_msat) "  \
    "FROM api_keys), 0) - " STORE_INFLIGHT_SUM ")"

/* Runs one program (store.c); the 'done' form adapts a callback that wants no rows. */
void store_run(struct store *s, struct store_stmt *stmts, size_t n, bool durable,
               store_rows_fn *cb, void *ud);
void store_run_done(struct store *s, struct store_stmt *stmts, size_t n, bool durable,
                    store_done_fn *cb, void *ud);
int64_t store_now(void);

/* A refund is paid by a send op whose ref is the refund's id. The SQL condition "the op $1 pays
 * a refund that is still pending", for statements whose first parameter is the op's id. */
#define STORE_REFUND_OF_OP "(SELECT ref FROM wallet_ops WHERE id = $1 AND kind = 'send')"
#define STORE_REFUND_PENDING_OF_OP                                                            \
    "EXISTS (SELECT 1 FROM refunds WHERE id = " STORE_REFUND_OF_OP " AND state = 'pending')"
/* Writes into 'st' (room for STORE_REFUND_LINK_MAX) the statements that settle the refund an
 * ending op pays, when there is one still pending, and returns how many: with 'token' (the op
 * sent it) the refund is done with that token; without, nothing went out and the key gets the
 * amount back with a ledger row. They go in the op's own transaction (store_ledger.c). */
#define STORE_REFUND_LINK_MAX 3
size_t store_refund_link(struct store_stmt *st, const char *op_id, const char *token,
                         int64_t now);

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend;

/* A migration: its number and its SQL (several statements separated by ';'). */
struct store_migration {
    int version;
    const char *sql;
};
extern const struct store_migration store_sqlite_migrations[];
extern const size_t store_sqlite_n_migrations;
extern const struct store_migration store_pg_migrations[];
extern const size_t store_pg_n_migrations;

#endif
