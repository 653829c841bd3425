/* cli_audit.c -- 'routstr audit': checks the ledger's invariants over the whole database.
 *
 * Every key's balance must equal the sum of its ledger rows; its total spent the sum of its
 * charges; its reserved amount the sum of its active reservations, between 0 and its balance;
 * every settled reservation's cost its charge row; over the node, deposits = balances +
 * spent + refunded, and what the wallet's proofs are worth = what users are owed (balances and
 * refunds not yet paid out) + the operator's account (charges, withdrawals, fees: store.h,
 * store_audit_wallet); and no refund may stay pending once the wallet op that pays it has ended
 * (the op settles it). Each violation is printed; the exit status is 1 if there is any. It also
 * prints what the node owes its users beside what its wallet holds. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "app/cli.h"
#include "store/store.h"

struct audit {
    struct store_wait w;
    size_t violations;
    int64_t wallet_msat, owed_msat, inflight_msat, owner_msat;
};

static void on_audit(int status, const struct store_rows *rows, void *ud)
{
    struct audit *a = ud;
    store_wait_done(status, &a->w);
    if (status != 0)
        return;
    a->violations = rows->nrows;
    for (size_t i = 0; i < rows->nrows; i++)
        printf("VIOLATION %s: %s expected %s, found %s\n", store_cell(rows, i, 0),
               store_cell(rows, i, 1) ? store_cell(rows, i, 1) : "-",
               store_cell(rows, i, 2) ? store_cell(rows, i, 2) : "null",
               store_cell(rows, i, 3) ? store_cell(rows, i, 3) : "null");
}

static void on_wallet(int status, const struct store_rows *rows, void *ud)
{
    struct audit *a = ud;
    store_wait_done(status, &a->w);
    if (status != 0 || rows->nrows != 1)
        return;
    a->wallet_msat = store_cell_i64(rows, 0, 0);
    a->owed_msat = store_cell_i64(rows, 0, 1);
    a->inflight_msat = store_cell_i64(rows, 0, 2);
    a->owner_msat = store_cell_i64(rows, 0, 3);
}

int cli_audit(const struct config *cfg)
{
    char err[ERR_LEN];
    struct event_base *base = event_base_new();
    struct store *s = NULL;
    if (store_open(&s, base, cfg->database_url, err) != 0) {
        fprintf(stderr, "routstr: %s\n", err);
        event_base_free(base);
        return 2;
    }
    struct audit a = {0};
    store_audit(s, on_audit, &a);
    store_wait(base, &a.w);
    if (a.w.status == 0) {
        a.w.done = false;
        store_audit_wallet(s, on_wallet, &a);
        store_wait(base, &a.w);
    }
    bool books_ok = a.wallet_msat == a.owed_msat + a.inflight_msat + a.owner_msat;
    if (a.w.status == 0 && !books_ok) {
        printf("VIOLATION wallet = owed + owner: * expected %lld, found %lld\n",
               (long long)(a.owed_msat + a.inflight_msat + a.owner_msat),
               (long long)a.wallet_msat);
        a.violations++;
    }
    int rc = a.w.status != 0 ? 2 : a.violations ? 1 : 0;
    if (a.w.status != 0) {
        fprintf(stderr, "routstr: audit: the database cannot be read\n");
    } else {
        printf("audit: %s (%zu violation%s)\n", a.violations ? "FAILED" : "ok", a.violations,
               a.violations == 1 ? "" : "s");
        printf("wallet holds %lld msat in proofs: users are owed %lld (%lld of it in refunds "
               "being paid), the operator owns %lld\n",
               (long long)a.wallet_msat, (long long)(a.owed_msat + a.inflight_msat),
               (long long)a.inflight_msat, (long long)a.owner_msat);
    }
    store_close(s);
    event_base_free(base);
    return rc;
}
