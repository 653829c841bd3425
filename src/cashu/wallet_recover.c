/* wallet_recover.c -- settling operations whose outcome is unknown (a crash, a lost answer).
 *
 * For each pending op, oldest first: derive its saved outputs again from the seed and ask the
 * mint which of them it signed (NUT-09 restore). Signed outputs become proofs and the op is
 * done. A restored send also makes the token it would have sent, from proofs worth its amount:
 * if the op pays a refund still waiting for it, the token goes to that refund (the client's
 * retry fetches it), else every proof stays ours (store_op_done_claimable decides, in the op's
 * transaction). Nothing signed: a receive never happened (failed); a send or melt is decided by
 * the state of its inputs (NUT-07): unspent → failed, our proofs are ours again; spent → done.
 * Either way a refund the op paid is settled with it (store.h). Pending inputs (a melt still
 * paying) leave the op for a later run. */
#include "cashu/wallet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/token.h"
#include "crypto/crypto.h"

struct recover {
    struct cashu_wallet *w;
    struct store_rows *ops; /* a copy of the pending ops */
    char **cells;
    size_t next;
    /* the op being settled */
    struct mint_state *m;
    struct wallet_outputs out;
    char **ys;
    size_t n_ys;
    uint64_t recovered;
    size_t settled, left;
    cashu_result_fn *cb;
    void *ud;
};

#define OP(r, col) store_cell((r)->ops, (r)->next - 1, (col)) /* id kind mint unit ... */

static void next_op(struct recover *r);

static void free_ys(struct recover *r)
{
    for (size_t i = 0; i < r->n_ys; i++)
        free(r->ys[i]);
    free(r->ys);
    r->ys = NULL;
    r->n_ys = 0;
}

static void op_end(struct recover *r, bool settled)
{
    if (settled)
        r->settled++;
    else
        r->left++;
    wallet_outputs_deinit(&r->out);
    free_ys(r);
    next_op(r);
}

static void on_saved(int status, void *ud)
{
    struct recover *r = ud;
    if (status != 0)
        log_error("wallet: recover %s: cannot store the outcome (%d)", OP(r, 0), status);
    op_end(r, status == 0);
}

static void on_states(const struct cashu_mint_res *res, void *ud)
{
    struct recover *r = ud;
    json_t *states = res->status == CASHU_MINT_OK ? json_object_get(res->json, "states") : NULL;
    if (json_array_size(states) != r->n_ys) {
        op_end(r, false);
        return;
    }
    size_t spent = 0, unspent = 0;
    for (size_t i = 0; i < r->n_ys; i++) {
        const char *st = json_string_value(json_object_get(json_array_get(states, i), "state"));
        spent += st && strcmp(st, "SPENT") == 0;
        unspent += st && strcmp(st, "UNSPENT") == 0;
    }
    if (unspent == r->n_ys) {
        store_op_failed(r->w->store, OP(r, 0), "recovered: inputs unspent", on_saved, r);
    } else if (spent == r->n_ys) {
        log_warn("wallet: recover %s: inputs spent and no output restorable", OP(r, 0));
        store_op_done(r->w->store, OP(r, 0), NULL, 0, NULL, on_saved, r);
    } else {
        op_end(r, false); /* pending at the mint: try again later */
    }
}

static void on_inputs(int status, const struct store_rows *rows, void *ud)
{
    struct recover *r = ud;
    if (status != 0 || rows->nrows == 0) {
        if (status == 0)
            store_op_failed(r->w->store, OP(r, 0), "recovered: nothing was signed", on_saved, r);
        else
            op_end(r, false);
        return;
    }
    r->ys = xcalloc(rows->nrows, sizeof(char *));
    json_t *ys = json_array();
    for (size_t i = 0; i < rows->nrows; i++) {
        r->ys[r->n_ys++] = xstrdup(store_cell(rows, i, 0));
        json_array_append_new(ys, json_string(store_cell(rows, i, 0)));
    }
    json_t *body = json_pack("{s:o}", "Ys", ys);
    if (wallet_call(r->w, r->m->url, "POST", "/v1/checkstate", body, 0, on_states, r) != 0)
        op_end(r, false);
    json_decref(body);
}

/* Ends a restored send: the proofs worth its amount, largest first (over powers of two this
 * finds the send's own outputs), make the token it would have sent, offered to the refund the
 * op pays. Without such a subset every proof simply stays ours. */
static void settle_send(struct recover *r, const struct store_proof *proofs,
                        const struct cashu_proof *tproofs, size_t n)
{
    size_t *order = xcalloc(n, sizeof(size_t));
    for (size_t k = 0; k < n; k++) {
        size_t j = k;
        for (; j > 0 && proofs[order[j - 1]].amount < proofs[k].amount; j--)
            order[j] = order[j - 1];
        order[j] = k;
    }
    const char **ys = xcalloc(n, sizeof(char *));
    size_t n_send = 0;
    int64_t left = strtoll(OP(r, 4), NULL, 10);
    struct cashu_token t = {0};
    int rc = cashu_token_init(&t, r->m->url, OP(r, 3), NULL);
    for (size_t k = 0; rc == 0 && k < n && left > 0; k++) {
        const struct store_proof *p = &proofs[order[k]];
        if (p->amount > left)
            continue;
        left -= p->amount;
        ys[n_send++] = p->y;
        rc = cashu_token_add_proof(&t, &tproofs[order[k]]);
    }
    char *token = NULL;
    size_t len = 0;
    if (rc == 0 && left == 0 && n_send > 0)
        rc = cashu_token_encode(&t, CASHU_TOKEN_V4, &token, &len);
    cashu_token_deinit(&t);
    if (token) {
        store_op_done_claimable(r->w->store, OP(r, 0), proofs, n, ys, n_send, token, on_saved,
                                r);
        secure_zero(token, len);
        free(token);
    } else {
        log_warn("wallet: recover %s: no restored proofs make its amount; all kept", OP(r, 0));
        store_op_done(r->w->store, OP(r, 0), proofs, n, NULL, on_saved, r);
    }
    free(ys);
    free(order);
}

static void on_restore(const struct cashu_mint_res *res, void *ud)
{
    struct recover *r = ud;
    if (res->status != CASHU_MINT_OK) {
        op_end(r, false);
        return;
    }
    json_t *outs = json_object_get(res->json, "outputs");
    json_t *sigs = json_object_get(res->json, "signatures");
    size_t n = json_array_size(sigs);
    if (n == 0 || n != json_array_size(outs)) {
        if (strcmp(OP(r, 1), "receive") == 0)
            store_op_failed(r->w->store, OP(r, 0), "recovered: nothing was signed", on_saved, r);
        else
            store_op_inputs(r->w->store, OP(r, 0), on_inputs, r);
        return;
    }
    size_t *map = xcalloc(n, sizeof(size_t));
    for (size_t k = 0; k < n; k++) {
        const char *b = json_string_value(json_object_get(json_array_get(outs, k), "B_"));
        map[k] = r->out.n; /* no match: wallet_unblind refuses it */
        for (size_t i = 0; b && i < r->out.n; i++)
            if (strcmp(b, r->out.B_hex[i]) == 0)
                map[k] = i;
    }
    struct store_proof *proofs = xcalloc(n, sizeof(*proofs));
    struct cashu_proof *tproofs = xcalloc(n, sizeof(*tproofs));
    struct wallet_strs strs = {0};
    if (wallet_unblind(r->m, OP(r, 3), &r->out, sigs, map, proofs, tproofs, &strs) != 0) {
        log_error("wallet: recover %s: restored signatures do not verify", OP(r, 0));
        free(map);
        free(proofs);
        free(tproofs);
        wallet_strs_free(&strs);
        op_end(r, false);
        return;
    }
    for (size_t k = 0; k < n; k++)
        r->recovered += (uint64_t)proofs[k].amount;
    log_info("wallet: recover %s (%s): %zu proof(s) restored", OP(r, 0), OP(r, 1), n);
    if (strcmp(OP(r, 1), "send") == 0 && OP(r, 6) != NULL)
        settle_send(r, proofs, tproofs, n);
    else
        store_op_done(r->w->store, OP(r, 0), proofs, n, NULL, on_saved, r);
    free(map);
    free(proofs);
    free(tproofs);
    wallet_strs_free(&strs);
}

static void on_keys(int status, const char *message, void *ud)
{
    struct recover *r = ud;
    if (status != 0) {
        op_end(r, false);
        return;
    }
    json_t *body = json_pack("{s:o}", "outputs", wallet_outputs_json(&r->out));
    if (wallet_call(r->w, r->m->url, "POST", "/v1/restore", body, 0, on_restore, r) != 0)
        op_end(r, false);
    json_decref(body);
}

static void on_outputs(int status, const struct store_rows *rows, void *ud)
{
    struct recover *r = ud;
    if (status != 0) {
        op_end(r, false);
        return;
    }
    if (rows->nrows == 0) { /* an exact send: only its inputs tell */
        store_op_inputs(r->w->store, OP(r, 0), on_inputs, r);
        return;
    }
    if (wallet_outputs_from_rows(r->w, rows, &r->out) != 0) {
        log_error("wallet: recover %s: saved outputs do not match the seed", OP(r, 0));
        op_end(r, false);
        return;
    }
    const char *id = r->out.keyset_id;
    wallet_ensure_keys(r->w, r->m, OP(r, 3), &id, 1, on_keys, r);
}

static void next_op(struct recover *r)
{
    while (r->next < r->ops->nrows) {
        r->next++;
        r->m = wallet_mint(r->w, OP(r, 2));
        if (r->m == NULL) {
            log_warn("wallet: recover %s: mint %s is no longer trusted", OP(r, 0), OP(r, 2));
            r->left++;
            continue;
        }
        store_op_outputs(r->w->store, OP(r, 0), on_outputs, r);
        return;
    }
    struct cashu_result res = {.status = r->left ? E_AGAIN : 0, .amount = r->recovered,
                               .message = r->left ? "some operations are still pending" : NULL};
    char msg[96];
    snprintf(msg, sizeof(msg), "%zu operation(s) settled, %zu left", r->settled, r->left);
    if (!r->left)
        res.message = msg;
    r->cb(&res, r->ud);
    for (size_t i = 0; i < r->ops->nrows * r->ops->ncols; i++)
        free(r->cells[i]);
    free(r->cells);
    free(r->ops);
    free(r);
}

static void on_pending(int status, const struct store_rows *rows, void *ud)
{
    struct recover *r = ud;
    r->ops = xcalloc(1, sizeof(*r->ops));
    size_t n = status == 0 ? rows->nrows * rows->ncols : 0;
    r->cells = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        r->cells[i] = rows->cells[i] ? xstrdup(rows->cells[i]) : NULL;
    r->ops->nrows = status == 0 ? rows->nrows : 0;
    r->ops->ncols = status == 0 ? rows->ncols : 0;
    r->ops->cells = (const char *const *)r->cells;
    next_op(r);
}

int cashu_wallet_recover(struct cashu_wallet *w, cashu_result_fn *cb, void *ud)
{
    struct recover *r = xcalloc(1, sizeof(*r));
    r->w = w;
    r->cb = cb;
    r->ud = ud;
    store_ops_pending(w->store, on_pending, r);
    return 0;
}
