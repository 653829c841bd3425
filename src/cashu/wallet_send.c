/* wallet_send.c -- paying out a token (change, refunds, withdrawals).
 *
 * Proofs are chosen largest first. When some of them add up to the amount exactly they go out
 * as they are; otherwise they are swapped (NUT-03) into the amount to send plus change to keep,
 * the fee paid from the change. Either way the chosen proofs are marked pending in the same
 * durable transaction that saves the op, so two payouts never spend one proof, and the token
 * is stored with the op before it is handed to anyone (a lost answer can fetch it again). A
 * withdrawal is the same send of the operator's own money: its op is marked so, and the ledger
 * row that debits the operator's account is written with the proofs' leaving (store_op_done). */
#include "cashu/wallet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"

struct send {
    struct cashu_wallet *w;
    struct mint_state *m;
    char *unit;
    char *ref;
    uint64_t amount;
    bool v3;
    bool withdraw;  /* the operator's money: the op is marked account "owner" */
    bool owner_only; /* ... and refused beyond what the operator owns */
    int attempts;
    char op_id[33];
    struct wallet_inputs in;
    uint64_t fee;
    bool swap;
    /* swap outputs: amounts ascending; is_send marks the ones that go out */
    struct wallet_outputs out;
    bool *is_send;
    json_t *swap_body;
    char *token;
    cashu_result_fn *cb;
    void *ud;
};

static void end(struct send *s, int status, const char *msg)
{
    struct cashu_result r = {
        .status = status,
        .amount = status == 0 ? s->amount : 0,
        .fee = s->fee,
        .unit = s->unit,
        .mint = s->m ? s->m->url : NULL,
        .token = s->token,
        .op_id = s->op_id,
        .err = status ? (struct cashu_error_class){"cashu_error", 500, "cashu_send_failed"}
                      : (struct cashu_error_class){0},
        .message = msg,
    };
    if (status == 0)
        wallet_count_token(s->w, false, r.amount, r.unit);
    s->cb(&r, s->ud);
    wallet_inputs_deinit(&s->in);
    free(s->is_send);
    wallet_outputs_deinit(&s->out);
    json_decref(s->swap_body);
    free(s->token);
    free(s->unit);
    free(s->ref);
    free(s);
}

/* A token from stored proof fields. */
static int add_stored_proof(struct cashu_token *t, uint64_t amount, const char *id,
                            const char *secret, const char *c, const char *dleq_json)
{
    struct cashu_proof p = {.amount = amount, .secret = (char *)secret};
    snprintf(p.id, sizeof(p.id), "%s", id);
    if (hex_decode(p.C, 33, c, strlen(c)) != 0)
        return E_PROTO;
    json_t *d = dleq_json ? json_loads(dleq_json, 0, NULL) : NULL;
    if (d) {
        const char *e = json_string_value(json_object_get(d, "e"));
        const char *sv = json_string_value(json_object_get(d, "s"));
        const char *r = json_string_value(json_object_get(d, "r"));
        p.has_dleq = e && sv && hex_decode(p.dleq.e, 32, e, strlen(e)) == 0 &&
                     hex_decode(p.dleq.s, 32, sv, strlen(sv)) == 0;
        p.dleq.has_r = p.has_dleq && r && hex_decode(p.dleq.r, 32, r, strlen(r)) == 0;
        json_decref(d);
    }
    return cashu_token_add_proof(t, &p);
}

static int encode(struct send *s, struct cashu_token *t)
{
    size_t len;
    return cashu_token_encode(t, s->v3 ? CASHU_TOKEN_V3 : CASHU_TOKEN_V4, &s->token, &len);
}

static void on_done_saved(int status, void *ud)
{
    struct send *s = ud;
    if (status != 0) {
        free(s->token);
        s->token = NULL;
        end(s, E_IO, "cannot store the payout");
        return;
    }
    end(s, 0, NULL);
}

static void settle_swap(struct send *s, const json_t *sigs)
{
    size_t n = json_array_size(sigs);
    struct store_proof *proofs = xcalloc(n ? n : 1, sizeof(*proofs));
    struct cashu_proof *tproofs = xcalloc(n ? n : 1, sizeof(*tproofs));
    struct wallet_strs strs = {0};
    struct cashu_token t = {0};
    int rc = n == s->out.n ? wallet_unblind(s->m, s->unit, &s->out, sigs, NULL, proofs, tproofs,
                                            &strs)
                           : E_PROTO;
    if (rc == 0)
        rc = cashu_token_init(&t, s->m->url, s->unit, NULL);
    /* Proofs to send go in the token; the rest are kept. */
    size_t n_keep = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (s->is_send[i])
            rc = cashu_token_add_proof(&t, &tproofs[i]);
        else
            proofs[n_keep++] = proofs[i];
    }
    if (rc == 0)
        rc = encode(s, &t);
    cashu_token_deinit(&t);
    if (rc != 0) {
        log_error("wallet: send %s: cannot build the token from the mint's answer", s->op_id);
        free(proofs);
        free(tproofs);
        wallet_strs_free(&strs);
        end(s, E_PROTO, "the mint's answer did not verify");
        return;
    }
    store_op_done(s->w->store, s->op_id, proofs, n_keep, s->token, on_done_saved, s);
    free(proofs);
    free(tproofs);
    wallet_strs_free(&strs);
}

static void ignore(int status, void *ud)
{
}

static void on_restore(const struct cashu_mint_res *r, void *ud)
{
    struct send *s = ud;
    json_t *sigs = r->status == CASHU_MINT_OK ? json_object_get(r->json, "signatures") : NULL;
    if (json_array_size(sigs) == s->out.n) {
        settle_swap(s, sigs);
        return;
    }
    if (r->status == CASHU_MINT_OK && json_array_size(sigs) == 0) {
        /* The mint signed none of our outputs: the swap did not happen, our proofs are ours. */
        store_op_failed(s->w->store, s->op_id, "swap not done (restore found nothing)", ignore,
                        NULL);
        end(s, E_IO, "the mint did not complete the swap");
        return;
    }
    end(s, E_UNKNOWN, "the mint's answer was lost; 'routstr wallet recover' settles it");
}

static void on_swap(const struct cashu_mint_res *r, void *ud)
{
    struct send *s = ud;
    if (r->status == CASHU_MINT_OK) {
        FAULT("wallet.swap_answered");
        FAULT("wallet.send_swap_answered"); /* the same moment, for a payout only */
        settle_swap(s, json_object_get(r->json, "signatures"));
        return;
    }
    if (r->status == CASHU_MINT_UNKNOWN) {
        json_t *body = json_pack("{s:o}", "outputs", wallet_outputs_json(&s->out));
        int rc = wallet_call(s->w, s->m->url, "POST", "/v1/restore", body, 0, on_restore, s);
        json_decref(body);
        if (rc != 0)
            end(s, E_UNKNOWN, "the mint's answer was lost");
        return;
    }
    if (r->status == CASHU_MINT_REFUSED && r->code == CASHU_ERR_ALREADY_SPENT) {
        /* Our proofs were spent elsewhere (a restored backup?): drop them, not the op's. */
        store_proofs_spent(s->w->store, (const char *const *)s->in.y, s->in.n, ignore, NULL);
    }
    store_op_failed(s->w->store, s->op_id, r->detail ? r->detail : "refused", ignore, NULL);
    end(s, E_IO, r->detail ? r->detail : "the mint refused the swap");
}

static void on_unspent(int status, const struct store_rows *rows, void *ud);

static void on_op_saved(int status, void *ud)
{
    struct send *s = ud;
    if (status == E_CONFLICT && ++s->attempts < 5) {
        /* Another payout (maybe another process on the same database) took one of our
         * proofs first: choose again among what is left. */
        wallet_inputs_deinit(&s->in);
        wallet_outputs_deinit(&s->out);
        free(s->is_send);
        s->is_send = NULL;
        json_decref(s->swap_body);
        s->swap_body = NULL;
        free(s->token);
        s->token = NULL;
        s->fee = 0;
        wallet_op_id(s->op_id);
        store_proofs_unspent(s->w->store, s->m->url, s->unit, on_unspent, s);
        return;
    }
    if (status == E_LIMIT) {
        end(s, E_LIMIT, "more than the operator owns (with the mint's fee)");
        return;
    }
    if (status != 0) {
        end(s, status == E_CONFLICT ? E_CONFLICT : E_IO,
            status == E_CONFLICT ? "proofs taken by another payout; try again"
                                 : "cannot save the operation");
        return;
    }
    if (!s->swap) {
        store_op_done(s->w->store, s->op_id, NULL, 0, s->token, on_done_saved, s);
        return;
    }
    if (wallet_call(s->w, s->m->url, "POST", "/v1/swap", s->swap_body, 0, on_swap, s) != 0) {
        store_op_failed(s->w->store, s->op_id, "mint unreachable", ignore, NULL);
        end(s, E_IO, "cannot reach the mint");
    }
}

static void save_op(struct send *s)
{
    struct store_output *outs = xcalloc(s->out.n ? s->out.n : 1, sizeof(*outs));
    for (size_t i = 0; i < s->out.n; i++)
        outs[i] = (struct store_output){s->out.keyset_id, s->out.first_counter + (int64_t)i,
                                        (int64_t)s->out.amounts[i], s->out.B_hex[i]};
    struct store_op op = {.id = s->op_id, .kind = "send", .mint_url = s->m->url, .unit = s->unit,
                          .amount = (int64_t)s->amount, .fee = (int64_t)s->fee, .ref = s->ref,
                          .account = s->withdraw ? "owner" : NULL,
                          .owner_only = s->owner_only};
    store_op_begin(s->w->store, &op, outs, s->out.n, (const char *const *)s->in.y, s->in.n,
                   on_op_saved, s);
    free(outs);
}

static void on_outputs(int status, void *ud)
{
    struct send *s = ud;
    if (status != 0) {
        end(s, E_IO, "cannot derive outputs");
        return;
    }
    s->swap_body = json_pack("{s:o, s:o}", "inputs", wallet_inputs_json(&s->in), "outputs",
                             wallet_outputs_json(&s->out));
    save_op(s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Picks inputs from the unspent proofs (largest first) and decides: exact or swap. */
static void on_unspent(int status, const struct store_rows *rows, void *ud)
{
    struct send *s = ud;
    if (status != 0) {
        end(s, E_IO, "cannot read the wallet");
        return;
    }
    /* Exact: greedy over powers of two finds a subset whenever one of this shape exists. */
    bool *take = xcalloc(rows->nrows + 1, sizeof(bool));
    uint64_t left = s->amount;
    for (size_t i = 0; i < rows->nrows && left; i++) {
        uint64_t a = (uint64_t)store_cell_i64(rows, i, 2);
        if (a <= left) {
            take[i] = true;
            left -= a;
        }
    }
    s->swap = left != 0;
    int rc = 0;
    if (s->swap)
        rc = wallet_select(s->m, rows, s->amount, &s->in, &s->fee);
    else
        wallet_inputs_take(&s->in, rows, take);
    free(take);
    if (rc != 0) {
        end(s, E_FUNDS, "not enough funds in the wallet");
        return;
    }
    if (!s->swap) {
        struct cashu_token t = {0};
        rc = cashu_token_init(&t, s->m->url, s->unit, NULL);
        for (size_t i = 0; rc == 0 && i < s->in.n; i++)
            rc = add_stored_proof(&t, s->in.amount[i], s->in.id[i], s->in.secret[i], s->in.c[i],
                                  s->in.dleq[i]);
        if (rc == 0)
            rc = encode(s, &t);
        cashu_token_deinit(&t);
        if (rc != 0) {
            end(s, E_PROTO, "cannot encode the token");
            return;
        }
        save_op(s);
        return;
    }
    const struct cashu_keyset *active = wallet_active_keyset(s->m, s->unit);
    uint64_t send_a[64], keep_a[64], all[128];
    size_t ns = wallet_split(s->amount, send_a);
    size_t nk = wallet_split(s->in.sum - s->amount - s->fee, keep_a);
    memcpy(all, send_a, ns * sizeof(uint64_t));
    memcpy(all + ns, keep_a, nk * sizeof(uint64_t));
    qsort(all, ns + nk, sizeof(uint64_t), cmp_u64); /* NUT-03: ascending */
    s->is_send = xcalloc(ns + nk, sizeof(bool));
    /* Mark one output per send amount as the one to send. */
    for (size_t j = 0; j < ns; j++)
        for (size_t i = 0; i < ns + nk; i++)
            if (!s->is_send[i] && all[i] == send_a[j]) {
                s->is_send[i] = true;
                break;
            }
    wallet_outputs_make(s->w, active, all, ns + nk, &s->out, on_outputs, s);
}

static void on_keys(int status, const char *message, void *ud)
{
    struct send *s = ud;
    if (status != 0) {
        end(s, E_IO, message);
        return;
    }
    store_proofs_unspent(s->w->store, s->m->url, s->unit, on_unspent, s);
}

/* Knows the keys of every keyset our proofs are in, then picks. */
static void on_keysets_of_proofs(int status, const struct store_rows *rows, void *ud)
{
    struct send *s = ud;
    if (status != 0) {
        end(s, E_IO, "cannot read the wallet");
        return;
    }
    const char **ids = xcalloc(rows->nrows + 1, sizeof(char *));
    for (size_t i = 0; i < rows->nrows; i++)
        ids[i] = store_cell(rows, i, 1);
    wallet_ensure_keys(s->w, s->m, s->unit, ids, rows->nrows, on_keys, s);
    free(ids);
}

static int send_start(struct cashu_wallet *w, const char *mint, const char *unit,
                      uint64_t amount, bool v3, bool withdraw, bool owner_only, const char *ref,
                      cashu_result_fn *cb, void *ud)
{
    struct send *s = xcalloc(1, sizeof(*s));
    s->w = w;
    s->withdraw = withdraw;
    s->owner_only = owner_only;
    s->cb = cb;
    s->ud = ud;
    s->amount = amount;
    s->v3 = v3;
    s->unit = xstrdup(unit ? unit : "sat");
    s->ref = ref ? xstrdup(ref) : NULL;
    wallet_op_id(s->op_id);
    s->m = wallet_mint(w, mint ? mint : cashu_wallet_primary(w) ? cashu_wallet_primary(w) : "");
    if (s->m == NULL) {
        end(s, E_NOTFOUND, "no such trusted mint");
        return 0;
    }
    if (amount == 0) {
        end(s, E_PROTO, "nothing to send");
        return 0;
    }
    store_proofs_unspent(w->store, s->m->url, s->unit, on_keysets_of_proofs, s);
    return 0;
}

int cashu_wallet_send(struct cashu_wallet *w, const char *mint, const char *unit,
                      uint64_t amount, bool v3, const char *ref, cashu_result_fn *cb, void *ud)
{
    return send_start(w, mint, unit, amount, v3, false, false, ref, cb, ud);
}

int cashu_wallet_withdraw(struct cashu_wallet *w, const char *mint, const char *unit,
                          uint64_t amount, bool v3, bool owner_only, const char *ref,
                          cashu_result_fn *cb, void *ud)
{
    return send_start(w, mint, unit, amount, v3, true, owner_only, ref, cb, ud);
}
