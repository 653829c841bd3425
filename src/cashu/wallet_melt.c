/* wallet_melt.c -- paying a Lightning invoice from the primary mint (NUT-05, NUT-08).
 *
 *   quote → inputs covering amount + fee_reserve + input fees → blank outputs for the change
 *   (NUT-08: enough blanks, amount 1, that their powers of two can return everything we
 *   overpay, cashu-ts #286) → op saved durably with inputs pending → POST /v1/melt/bolt11 (long timeout)
 *   → PAID: change proofs stored and op done; 20004 (payment failed): op failed, inputs ours
 *   again; anything unknown: the op stays pending for recover. */
#include "cashu/wallet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"

#define MELT_TIMEOUT_MS (10 * 60 * 1000)

struct melt {
    struct cashu_wallet *w;
    struct mint_state *m;
    char *bolt11;
    char *quote;
    uint64_t amount, fee_reserve, fee;
    char op_id[33];
    struct wallet_inputs in;
    struct wallet_outputs out;
    uint64_t change;
    cashu_result_fn *cb;
    void *ud;
};

static void end(struct melt *mt, int status, const char *msg)
{
    struct cashu_result r = {
        .status = status,
        .amount = status == 0 ? mt->amount : 0,
        .fee = mt->fee,
        .unit = "sat",
        .mint = mt->m ? mt->m->url : NULL,
        .op_id = mt->op_id,
        .err = status ? (struct cashu_error_class){"mint_error", 502, "cashu_melt_failed"}
                      : (struct cashu_error_class){0},
        .message = msg,
    };
    mt->cb(&r, mt->ud);
    wallet_inputs_deinit(&mt->in);
    wallet_outputs_deinit(&mt->out);
    free(mt->bolt11);
    free(mt->quote);
    free(mt);
}

static void on_saved_done(int status, void *ud)
{
    struct melt *mt = ud;
    end(mt, status == 0 ? 0 : E_IO, status == 0 ? NULL : "paid, but the change was not stored");
}

static void ignore(int status, void *ud)
{
}

static void on_melt(const struct cashu_mint_res *r, void *ud)
{
    struct melt *mt = ud;
    const char *state = r->status == CASHU_MINT_OK
                            ? json_string_value(json_object_get(r->json, "state"))
                            : NULL;
    if (state && strcmp(state, "PAID") == 0) {
        /* Change comes in the order of our blanks, with the amounts the mint chose. */
        json_t *change = json_object_get(r->json, "change");
        size_t n = json_array_size(change);
        if (n > mt->out.n) {
            end(mt, E_PROTO, "more change than blanks");
            return;
        }
        struct store_proof *proofs = xcalloc(n ? n : 1, sizeof(*proofs));
        struct wallet_strs strs = {0};
        if (n && wallet_unblind(mt->m, "sat", &mt->out, change, NULL, proofs, NULL, &strs) != 0) {
            log_error("wallet: melt %s: change does not verify; recover will retry", mt->op_id);
            free(proofs);
            wallet_strs_free(&strs);
            end(mt, E_PROTO, "paid; the change did not verify");
            return;
        }
        for (size_t i = 0; i < n; i++)
            mt->change += (uint64_t)proofs[i].amount;
        const char *preimage = json_string_value(json_object_get(r->json, "payment_preimage"));
        store_op_done(mt->w->store, mt->op_id, proofs, n, preimage, on_saved_done, mt);
        free(proofs);
        wallet_strs_free(&strs);
        return;
    }
    if (r->status == CASHU_MINT_REFUSED) {
        store_op_failed(mt->w->store, mt->op_id, r->detail ? r->detail : "refused", ignore, NULL);
        end(mt, E_IO, r->detail ? r->detail : "the mint refused the payment");
        return;
    }
    end(mt, E_UNKNOWN, "payment pending or unknown; 'routstr wallet recover' settles it");
}

static void on_op_saved(int status, void *ud)
{
    struct melt *mt = ud;
    if (status != 0) {
        end(mt, status, "cannot save the operation");
        return;
    }
    json_t *body = json_pack("{s:s, s:o, s:o}", "quote", mt->quote, "inputs",
                             wallet_inputs_json(&mt->in), "outputs", wallet_outputs_json(&mt->out));
    int rc = wallet_call(mt->w, mt->m->url, "POST", "/v1/melt/bolt11", body, MELT_TIMEOUT_MS,
                         on_melt, mt);
    json_decref(body);
    if (rc != 0) {
        store_op_failed(mt->w->store, mt->op_id, "mint unreachable", ignore, NULL);
        end(mt, E_IO, "cannot reach the mint");
    }
}

static void on_outputs(int status, void *ud)
{
    struct melt *mt = ud;
    if (status != 0) {
        end(mt, E_IO, "cannot derive outputs");
        return;
    }
    struct store_output *outs = xcalloc(mt->out.n ? mt->out.n : 1, sizeof(*outs));
    for (size_t i = 0; i < mt->out.n; i++)
        outs[i] = (struct store_output){mt->out.keyset_id, mt->out.first_counter + (int64_t)i, 1,
                                        mt->out.B_hex[i]};
    struct store_op op = {.id = mt->op_id, .kind = "melt", .mint_url = mt->m->url,
                          .unit = "sat", .amount = (int64_t)mt->amount,
                          .fee = (int64_t)(mt->fee_reserve + mt->fee), .ref = mt->quote};
    store_op_begin(mt->w->store, &op, outs, mt->out.n, (const char *const *)mt->in.y, mt->in.n,
                   on_op_saved, mt);
    free(outs);
}

static void on_unspent(int status, const struct store_rows *rows, void *ud)
{
    struct melt *mt = ud;
    if (status != 0 ||
        wallet_select(mt->m, rows, mt->amount + mt->fee_reserve, &mt->in, &mt->fee) != 0) {
        end(mt, E_FUNDS, "not enough funds in the wallet");
        return;
    }
    uint64_t over = mt->in.sum - mt->amount - mt->fee;
    size_t blanks = 0;
    while (blanks < 64 && ((uint64_t)1 << blanks) <= over)
        blanks++;
    uint64_t ones[64];
    for (size_t i = 0; i < blanks; i++)
        ones[i] = 1; /* NUT-08: the mint ignores a blank's amount */
    wallet_outputs_make(mt->w, wallet_active_keyset(mt->m, "sat"), ones, blanks, &mt->out,
                        on_outputs, mt);
}

static void on_keys(int status, const char *message, void *ud)
{
    struct melt *mt = ud;
    if (status != 0) {
        end(mt, E_IO, message);
        return;
    }
    store_proofs_unspent(mt->w->store, mt->m->url, "sat", on_unspent, mt);
}

static void on_proof_keysets(int status, const struct store_rows *rows, void *ud)
{
    struct melt *mt = ud;
    if (status != 0) {
        end(mt, E_IO, "cannot read the wallet");
        return;
    }
    const char **ids = xcalloc(rows->nrows + 1, sizeof(char *));
    for (size_t i = 0; i < rows->nrows; i++)
        ids[i] = store_cell(rows, i, 1);
    wallet_ensure_keys(mt->w, mt->m, "sat", ids, rows->nrows, on_keys, mt);
    free(ids);
}

static void on_quote(const struct cashu_mint_res *r, void *ud)
{
    struct melt *mt = ud;
    const char *quote = json_string_value(json_object_get(r->json, "quote"));
    json_int_t amount = json_integer_value(json_object_get(r->json, "amount"));
    json_int_t reserve = json_integer_value(json_object_get(r->json, "fee_reserve"));
    if (r->status != CASHU_MINT_OK || quote == NULL || amount <= 0 || reserve < 0) {
        end(mt, E_IO, r->detail ? r->detail : "the mint gave no usable quote");
        return;
    }
    mt->quote = xstrdup(quote);
    mt->amount = (uint64_t)amount;
    mt->fee_reserve = (uint64_t)reserve;
    store_proofs_unspent(mt->w->store, mt->m->url, "sat", on_proof_keysets, mt);
}

int cashu_wallet_melt(struct cashu_wallet *w, const char *bolt11, cashu_result_fn *cb, void *ud)
{
    struct melt *mt = xcalloc(1, sizeof(*mt));
    mt->w = w;
    mt->cb = cb;
    mt->ud = ud;
    mt->bolt11 = xstrdup(bolt11);
    wallet_op_id(mt->op_id);
    const char *primary = cashu_wallet_primary(w);
    mt->m = primary ? wallet_mint(w, primary) : NULL;
    if (mt->m == NULL) {
        end(mt, E_NOTFOUND, "no trusted mint");
        return 0;
    }
    json_t *body = json_pack("{s:s, s:s}", "request", bolt11, "unit", "sat");
    int rc = wallet_call(w, mt->m->url, "POST", "/v1/melt/quote/bolt11", body, 0, on_quote, mt);
    json_decref(body);
    if (rc != 0)
        end(mt, E_IO, "cannot reach the mint");
    return 0;
}
