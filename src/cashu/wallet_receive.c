/* wallet_receive.c -- redeeming a token: swap its proofs for fresh ones of ours (NUT-03).
 *
 *   decode → trusted mint? → keysets known (fetch what is missing) → checks (units, duplicate
 *   secrets, DLEQs the token carries) → fee → outputs derived, counters and op saved durably
 *   → POST /v1/swap → proofs stored and op done, durably → credit reported.
 *
 * Once the swap went out and the mint took the proofs (or may have: a lost answer), or refused
 * them as spent or pending, their Ys join the wallet's memory of spent proofs, which
 * cashu_wallet_verify_offline() consults before anyone starts work on a token the mint has not
 * confirmed yet (speculative forwarding, app/paid.c).
 *
 * A lost answer is restored at once from the saved outputs (NUT-09); only when that fails too
 * does the caller hear "unknown", and the op stays pending for cashu_wallet_recover(). */
#include "cashu/wallet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"

struct receive {
    struct cashu_wallet *w;
    struct mint_state *m;
    struct cashu_token token;
    char op_id[33];
    char *ref;
    char *credit_key;
    uint64_t fee;
    struct wallet_outputs out;
    json_t *swap_body;
    bool spent;                  /* the inputs are spent (or may be): remember their Ys */
    cashu_result_fn *cb;
    void *ud;
};

static void remember_spent(struct receive *rc)
{
    uint8_t Y[33];
    for (size_t i = 0; i < rc->token.n_proofs; i++) {
        const char *secret = rc->token.proofs[i].secret;
        if (cashu_hash_to_curve(Y, secret, strlen(secret)) == 0)
            cashu_yset_add(&rc->w->spent, Y);
    }
}

static void end(struct receive *rc, int status, struct cashu_error_class err, const char *msg)
{
    if (rc->spent)
        remember_spent(rc);
    struct cashu_result r = {
        .status = status,
        .amount = status == 0 ? rc->token.amount - rc->fee : 0,
        .fee = rc->fee,
        .unit = rc->token.unit,
        .mint = rc->token.mint,
        .op_id = rc->op_id,
        .err = err,
        .message = msg,
    };
    if (status == 0)
        wallet_count_token(rc->w, true, r.amount, r.unit);
    rc->cb(&r, rc->ud);
    json_decref(rc->swap_body);
    wallet_outputs_deinit(&rc->out);
    cashu_token_deinit(&rc->token);
    free(rc->ref);
    free(rc->credit_key);
    free(rc);
}

#define INVALID ((struct cashu_error_class){"invalid_token", 400, "invalid_cashu_token"})
#define NO_ERR ((struct cashu_error_class){0})

static void on_done_saved(int status, void *ud)
{
    struct receive *rc = ud;
    if (status != 0) {
        /* The mint gave us the proofs and we could not store them: the outputs stay saved
         * with the op pending, so recover restores them. The token is gone for the client. */
        log_error("wallet: receive %s: storing proofs failed (%d); run 'routstr wallet recover'",
                  rc->op_id, status);
        end(rc, E_IO, (struct cashu_error_class){"token_consumed", 500, "cashu_token_consumed"},
            "the token was redeemed but could not be credited; the operator can recover it");
        return;
    }
    end(rc, 0, NO_ERR, NULL);
}

/* Stores the proofs made from 'sigs' and ends the op. */
static void settle(struct receive *rc, const json_t *sigs)
{
    size_t n = json_array_size(sigs);
    struct store_proof *proofs = xcalloc(n ? n : 1, sizeof(*proofs));
    struct wallet_strs strs = {0};
    if (n != rc->out.n ||
        wallet_unblind(rc->m, rc->token.unit, &rc->out, sigs, NULL, proofs, NULL, &strs) != 0) {
        log_error("wallet: receive %s: the mint's signatures do not check out", rc->op_id);
        free(proofs);
        wallet_strs_free(&strs);
        end(rc, E_PROTO, (struct cashu_error_class){"token_consumed", 500, "cashu_token_consumed"},
            "the mint's answer did not verify");
        return;
    }
    store_op_done(rc->w->store, rc->op_id, proofs, n, NULL, on_done_saved, rc);
    free(proofs);
    wallet_strs_free(&strs);
}

static void on_failed_saved(int status, void *ud)
{
    (void)status; /* the op stays pending at worst; recover settles it */
    (void)ud;
}

static void on_restore(const struct cashu_mint_res *r, void *ud)
{
    struct receive *rc = ud;
    json_t *sigs = r->status == CASHU_MINT_OK ? json_object_get(r->json, "signatures") : NULL;
    if (json_array_size(sigs) == rc->out.n && rc->out.n > 0) {
        log_info("wallet: receive %s: lost swap answer restored", rc->op_id);
        settle(rc, sigs);
        return;
    }
    if (r->status == CASHU_MINT_OK && json_array_size(sigs) == 0) {
        /* The mint signed none of our outputs: the swap never happened. */
        store_op_failed(rc->w->store, rc->op_id, "swap answer lost, nothing signed",
                        on_failed_saved, NULL);
        end(rc, E_IO, (struct cashu_error_class){"mint_unreachable", 503, "cashu_mint_unreachable"},
            "the mint did not complete the swap");
        return;
    }
    end(rc, E_UNKNOWN, (struct cashu_error_class){"token_consumed", 500, "cashu_token_consumed"},
        "the mint's answer was lost; the operator's recover will settle it");
}

static void on_swap(const struct cashu_mint_res *r, void *ud)
{
    struct receive *rc = ud;
    rc->spent = r->status == CASHU_MINT_OK || r->status == CASHU_MINT_UNKNOWN ||
                (r->status == CASHU_MINT_REFUSED && (r->code == CASHU_ERR_ALREADY_SPENT ||
                                                     r->code == CASHU_ERR_PROOFS_PENDING));
    if (r->status == CASHU_MINT_OK) {
        FAULT("wallet.swap_answered"); /* crash tests: outputs saved, proofs not yet stored */
        settle(rc, json_object_get(r->json, "signatures"));
        return;
    }
    if (r->status == CASHU_MINT_UNKNOWN) {
        /* The swap may have happened: ask for our outputs' signatures (NUT-09). */
        json_t *body = json_pack("{s:o}", "outputs", wallet_outputs_json(&rc->out));
        int s = wallet_call(rc->w, rc->m->url, "POST", "/v1/restore", body, 0, on_restore, rc);
        json_decref(body);
        if (s != 0)
            end(rc, E_UNKNOWN,
                (struct cashu_error_class){"token_consumed", 500, "cashu_token_consumed"},
                "the mint's answer was lost");
        return;
    }
    /* Refused or unreachable: nothing happened at the mint. */
    char why[64];
    snprintf(why, sizeof(why), "mint refused: code %ld", r->code);
    store_op_failed(rc->w->store, rc->op_id, why, on_failed_saved, NULL);
    struct cashu_error_class err = cashu_mint_classify(r);
    end(rc, r->status == CASHU_MINT_REFUSED && r->code == CASHU_ERR_ALREADY_SPENT ? E_CONFLICT
                                                                                 : E_IO,
        err, r->detail);
}

static void on_op_saved(int status, void *ud)
{
    struct receive *rc = ud;
    if (status != 0) {
        end(rc, E_IO, (struct cashu_error_class){"cashu_error", 500, "cashu_token_redemption_failed"},
            "cannot save the operation");
        return;
    }
    if (wallet_call(rc->w, rc->m->url, "POST", "/v1/swap", rc->swap_body, 0, on_swap, rc) != 0)
        end(rc, E_IO, (struct cashu_error_class){"mint_unreachable", 503, "cashu_mint_unreachable"},
            "cannot reach the mint");
}

static void on_outputs(int status, void *ud)
{
    struct receive *rc = ud;
    if (status != 0) {
        end(rc, E_IO, (struct cashu_error_class){"cashu_error", 500, "cashu_token_redemption_failed"},
            "cannot derive outputs");
        return;
    }
    json_t *inputs = json_array();
    char chex[67];
    for (size_t i = 0; i < rc->token.n_proofs; i++) {
        const struct cashu_proof *p = &rc->token.proofs[i];
        const struct cashu_keyset *ks = wallet_keyset(rc->m, p->id);
        hex_encode(chex, p->C, 33);
        /* The full keyset id (a short id resolved), no DLEQ, no witness (spec/cashu.md §5). */
        json_array_append_new(inputs, json_pack("{s:I, s:s, s:s, s:s}", "amount",
                                                (json_int_t)p->amount, "id", ks->id, "secret",
                                                p->secret, "C", chex));
    }
    rc->swap_body = json_pack("{s:o, s:o}", "inputs", inputs, "outputs",
                              wallet_outputs_json(&rc->out));
    struct store_output *outs = xcalloc(rc->out.n, sizeof(*outs));
    for (size_t i = 0; i < rc->out.n; i++)
        outs[i] = (struct store_output){rc->out.keyset_id, rc->out.first_counter + (int64_t)i,
                                        (int64_t)rc->out.amounts[i], rc->out.B_hex[i]};
    uint64_t net = rc->token.amount - rc->fee;
    struct store_op op = {
        .id = rc->op_id,
        .kind = "receive",
        .mint_url = rc->m->url,
        .unit = rc->token.unit,
        .amount = (int64_t)net,
        .fee = (int64_t)rc->fee,
        .ref = rc->ref,
        .credit_key = rc->credit_key,
        .credit_msat = (int64_t)(strcmp(rc->token.unit, "msat") == 0 ? net : net * 1000),
    };
    store_op_begin(rc->w->store, &op, outs, rc->out.n, NULL, 0, on_op_saved, rc);
    free(outs);
}

/* One proof checked offline against its mint's cached keys. Returns 0, E_NOTFOUND (no key
 * for its keyset and amount) or E_PROTO, with '*why'. '*ks' is its keyset (NULL when not
 * cached). A DLEQ with its blinding factor is verified when present; with 'need_dleq', a proof
 * without one is refused too. */
static int check_proof(const struct mint_state *m, const struct cashu_token *t,
                       const struct cashu_proof *p, bool need_dleq,
                       const struct cashu_keyset **ks, const char **why)
{
    *ks = wallet_keyset(m, p->id);
    const uint8_t *K = *ks ? cashu_keyset_key(*ks, p->amount) : NULL;
    bool dleq = p->has_dleq && p->dleq.has_r;
    *why = NULL;
    if (K == NULL) {
        *why = "a proof's amount has no key in its keyset";
        return E_NOTFOUND;
    }
    if (strcmp((*ks)->unit, t->unit) != 0)
        *why = "a proof's keyset is of another unit than the token";
    else if (p->witness || strncmp(p->secret, "[\"", 2) == 0)
        *why = "locked (NUT-10) proofs are not accepted";
    else if (need_dleq && !dleq)
        *why = "a proof carries no DLEQ";
    else if (dleq && cashu_dleq_verify_proof(K, p->secret, strlen(p->secret), p->C, &p->dleq) != 0)
        *why = "a proof's DLEQ does not verify";
    return *why ? E_PROTO : 0;
}

/* Checks what can be checked offline, once the keysets are known. */
static void on_keys(int status, const char *message, void *ud)
{
    struct receive *rc = ud;
    if (status != 0) {
        bool unknown_id = status == E_NOTFOUND;
        end(rc, status,
            unknown_id ? INVALID
                       : (struct cashu_error_class){"mint_unreachable", 503,
                                                    "cashu_mint_unreachable"},
            message);
        return;
    }
    struct cashu_token *t = &rc->token;
    uint64_t *ppk = xcalloc(t->n_proofs, sizeof(*ppk));
    const char *bad = NULL;
    for (size_t i = 0; i < t->n_proofs && !bad; i++) {
        const struct cashu_proof *p = &t->proofs[i];
        const struct cashu_keyset *ks;
        check_proof(rc->m, t, p, false, &ks, &bad);
        for (size_t j = 0; j < i && !bad; j++)
            if (strcmp(t->proofs[j].secret, p->secret) == 0)
                bad = "the token holds the same proof twice";
        if (ks)
            ppk[i] = ks->input_fee_ppk;
    }
    uint64_t fee = 0;
    if (!bad && cashu_fee(&fee, ppk, t->n_proofs) != 0)
        bad = "fee overflow";
    free(ppk);
    if (bad) {
        end(rc, E_PROTO, INVALID, bad);
        return;
    }
    rc->fee = fee;
    if (fee >= t->amount) {
        end(rc, E_FUNDS,
            (struct cashu_error_class){"mint_error", 422, "cashu_token_swap_fees_exceed_amount"},
            "the mint's fees take the whole token");
        return;
    }
    const struct cashu_keyset *active = wallet_active_keyset(rc->m, t->unit);
    uint64_t amounts[64];
    size_t n = wallet_split(t->amount - fee, amounts);
    for (size_t i = 0; i < n; i++) {
        if (cashu_keyset_key(active, amounts[i]) == NULL) {
            end(rc, E_PROTO,
                (struct cashu_error_class){"cashu_error", 400, "cashu_token_redemption_failed"},
                "the mint's active keyset cannot sign this amount");
            return;
        }
    }
    wallet_outputs_make(rc->w, active, amounts, n, &rc->out, on_outputs, rc);
}

int cashu_wallet_verify_offline(struct cashu_wallet *w, const char *token, size_t len,
                                size_t max_proofs)
{
    struct cashu_token t;
    int rc = cashu_token_decode(&t, token, len);
    if (rc != 0)
        return rc;
    struct mint_state *m = wallet_mint(w, t.mint);
    if (m == NULL)
        rc = E_NOTFOUND;
    else if (t.n_proofs > max_proofs)
        rc = E_LIMIT;
    uint8_t Y[33];
    for (size_t i = 0; i < t.n_proofs && rc == 0; i++) {
        const struct cashu_proof *p = &t.proofs[i];
        const struct cashu_keyset *ks;
        const char *why;
        if ((rc = check_proof(m, &t, p, true, &ks, &why)) != 0)
            break;
        if (cashu_hash_to_curve(Y, p->secret, strlen(p->secret)) != 0)
            rc = E_PROTO;
        else if (cashu_yset_has(&w->spent, Y))
            rc = E_CONFLICT;
    }
    cashu_token_deinit(&t);
    return rc;
}

int cashu_wallet_receive(struct cashu_wallet *w, const char *token, size_t len, const char *ref,
                         const char *credit_key, cashu_result_fn *cb, void *ud)
{
    struct receive *rc = xcalloc(1, sizeof(*rc));
    rc->w = w;
    rc->cb = cb;
    rc->ud = ud;
    rc->ref = ref ? xstrdup(ref) : NULL;
    rc->credit_key = credit_key ? xstrdup(credit_key) : NULL;
    wallet_op_id(rc->op_id);
    int s = cashu_token_decode(&rc->token, token, len);
    if (s != 0) {
        end(rc, s, INVALID, s == E_LIMIT ? "token too large" : "malformed token");
        return 0;
    }
    if (rc->credit_key && strcmp(rc->token.unit, "sat") != 0 &&
        strcmp(rc->token.unit, "msat") != 0) {
        end(rc, E_PROTO, INVALID, "only sat and msat tokens can fund a key");
        return 0;
    }
    /* A V3 amount fits int64; the msat credit of a sat token must too. */
    if (rc->token.amount > (uint64_t)INT64_MAX / 1000) {
        end(rc, E_LIMIT, INVALID, "token amount too large");
        return 0;
    }
    if (rc->token.amount == 0) {
        end(rc, E_PROTO, (struct cashu_error_class){"cashu_error", 400, "cashu_token_zero_value"},
            "the token is worth nothing");
        return 0;
    }
    rc->m = wallet_mint(w, rc->token.mint);
    if (rc->m == NULL) {
        char msg[512];
        snprintf(msg, sizeof(msg), "token from untrusted mint %.200s; this node accepts: %.250s",
                 rc->token.mint, w->n_mints ? w->mints[0]->url : "(none)");
        for (size_t i = 1; i < w->n_mints; i++) {
            size_t l = strlen(msg);
            snprintf(msg + l, sizeof(msg) - l, ", %s", w->mints[i]->url);
        }
        end(rc, E_PROTO, (struct cashu_error_class){"invalid_token", 400, "cashu_untrusted_mint"},
            msg);
        return 0;
    }
    const char **ids = xcalloc(rc->token.n_proofs, sizeof(char *));
    for (size_t i = 0; i < rc->token.n_proofs; i++)
        ids[i] = rc->token.proofs[i].id;
    wallet_ensure_keys(w, rc->m, rc->token.unit, ids, rc->token.n_proofs, on_keys, rc);
    free(ids);
    return 0;
}
