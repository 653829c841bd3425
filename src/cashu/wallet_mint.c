/* wallet_mint.c -- funding the wallet over Lightning (NUT-04, bolt11).
 *
 *   quote (POST /v1/mint/quote/bolt11) → the invoice is shown → the quote is polled until PAID
 *   → outputs derived, counters and op saved durably → POST /v1/mint/bolt11 → proofs stored and
 *   op done, durably. A lost answer is restored (NUT-09) as for a swap. */
#include "cashu/wallet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/xalloc.h"

#define POLL_MS 1000
#define POLL_MAX 600 /* ten minutes for the payer */

struct mintop {
    struct cashu_wallet *w;
    struct mint_state *m;
    uint64_t amount;
    char *quote;
    char op_id[33];
    int polls;
    struct wallet_outputs out;
    cashu_invoice_fn *on_invoice;
    cashu_result_fn *cb;
    void *ud;
};

static void end(struct mintop *mo, int status, const char *msg)
{
    struct cashu_result r = {.status = status, .amount = status == 0 ? mo->amount : 0,
                             .unit = "sat", .mint = mo->m ? mo->m->url : NULL,
                             .op_id = mo->op_id, .message = msg};
    mo->cb(&r, mo->ud);
    wallet_outputs_deinit(&mo->out);
    free(mo->quote);
    free(mo);
}

static void on_saved(int status, void *ud)
{
    struct mintop *mo = ud;
    end(mo, status == 0 ? 0 : E_IO, status == 0 ? NULL : "minted, but the proofs were not stored");
}

static void settle(struct mintop *mo, const json_t *sigs)
{
    size_t n = json_array_size(sigs);
    struct store_proof *proofs = xcalloc(n ? n : 1, sizeof(*proofs));
    struct wallet_strs strs = {0};
    if (n != mo->out.n ||
        wallet_unblind(mo->m, "sat", &mo->out, sigs, NULL, proofs, NULL, &strs) != 0) {
        free(proofs);
        wallet_strs_free(&strs);
        end(mo, E_PROTO, "the mint's signatures do not check out; recover will retry");
        return;
    }
    store_op_done(mo->w->store, mo->op_id, proofs, n, mo->quote, on_saved, mo);
    free(proofs);
    wallet_strs_free(&strs);
}

static void ignore(int status, void *ud)
{
}

static void on_restore(const struct cashu_mint_res *r, void *ud)
{
    struct mintop *mo = ud;
    json_t *sigs = r->status == CASHU_MINT_OK ? json_object_get(r->json, "signatures") : NULL;
    if (json_array_size(sigs) == mo->out.n)
        settle(mo, sigs);
    else
        end(mo, E_UNKNOWN, "the mint's answer was lost; 'routstr wallet recover' settles it");
}

static void on_minted(const struct cashu_mint_res *r, void *ud)
{
    struct mintop *mo = ud;
    if (r->status == CASHU_MINT_OK) {
        settle(mo, json_object_get(r->json, "signatures"));
        return;
    }
    if (r->status == CASHU_MINT_UNKNOWN) {
        json_t *body = json_pack("{s:o}", "outputs", wallet_outputs_json(&mo->out));
        if (wallet_call(mo->w, mo->m->url, "POST", "/v1/restore", body, 0, on_restore, mo) != 0)
            end(mo, E_UNKNOWN, "the mint's answer was lost");
        json_decref(body);
        return;
    }
    store_op_failed(mo->w->store, mo->op_id, r->detail ? r->detail : "refused", ignore, NULL);
    end(mo, E_IO, r->detail ? r->detail : "the mint refused");
}

static void on_op_saved(int status, void *ud)
{
    struct mintop *mo = ud;
    if (status != 0) {
        end(mo, E_IO, "cannot save the operation");
        return;
    }
    json_t *body = json_pack("{s:s, s:o}", "quote", mo->quote, "outputs",
                             wallet_outputs_json(&mo->out));
    if (wallet_call(mo->w, mo->m->url, "POST", "/v1/mint/bolt11", body, 0, on_minted, mo) != 0) {
        store_op_failed(mo->w->store, mo->op_id, "mint unreachable", ignore, NULL);
        end(mo, E_IO, "cannot reach the mint");
    }
    json_decref(body);
}

static void on_outputs(int status, void *ud)
{
    struct mintop *mo = ud;
    if (status != 0) {
        end(mo, E_IO, "cannot derive outputs");
        return;
    }
    struct store_output *outs = xcalloc(mo->out.n, sizeof(*outs));
    for (size_t i = 0; i < mo->out.n; i++)
        outs[i] = (struct store_output){mo->out.keyset_id, mo->out.first_counter + (int64_t)i,
                                        (int64_t)mo->out.amounts[i], mo->out.B_hex[i]};
    struct store_op op = {.id = mo->op_id, .kind = "mint", .mint_url = mo->m->url, .unit = "sat",
                          .amount = (int64_t)mo->amount, .ref = mo->quote};
    store_op_begin(mo->w->store, &op, outs, mo->out.n, NULL, 0, on_op_saved, mo);
    free(outs);
}

static void on_keys(int status, const char *message, void *ud)
{
    struct mintop *mo = ud;
    if (status != 0) {
        end(mo, E_IO, message);
        return;
    }
    uint64_t amounts[64];
    size_t n = wallet_split(mo->amount, amounts);
    wallet_outputs_make(mo->w, wallet_active_keyset(mo->m, "sat"), amounts, n, &mo->out,
                        on_outputs, mo);
}

static void poll_quote(evutil_socket_t fd, short what, void *arg);

static void on_state(const struct cashu_mint_res *r, void *ud)
{
    struct mintop *mo = ud;
    const char *state = r->status == CASHU_MINT_OK
                            ? json_string_value(json_object_get(r->json, "state"))
                            : NULL;
    if (state && (strcmp(state, "PAID") == 0)) {
        wallet_ensure_keys(mo->w, mo->m, "sat", NULL, 0, on_keys, mo);
        return;
    }
    if (state && strcmp(state, "ISSUED") == 0) {
        end(mo, E_CONFLICT, "the quote was already used");
        return;
    }
    if (++mo->polls >= POLL_MAX) {
        end(mo, E_TIMEOUT, "the invoice was not paid in time");
        return;
    }
    struct timeval tv = {POLL_MS / 1000, (POLL_MS % 1000) * 1000};
    event_base_once(http_client_base(mo->w->http), -1, EV_TIMEOUT, poll_quote, mo, &tv);
}

static void poll_quote(evutil_socket_t fd, short what, void *arg)
{
    struct mintop *mo = arg;
    char path[256];
    snprintf(path, sizeof(path), "/v1/mint/quote/bolt11/%s", mo->quote);
    if (wallet_call(mo->w, mo->m->url, "GET", path, NULL, 0, on_state, mo) != 0)
        end(mo, E_IO, "cannot reach the mint");
}

static void on_quote(const struct cashu_mint_res *r, void *ud)
{
    struct mintop *mo = ud;
    const char *quote = json_string_value(json_object_get(r->json, "quote"));
    const char *invoice = json_string_value(json_object_get(r->json, "request"));
    if (r->status != CASHU_MINT_OK || quote == NULL || invoice == NULL) {
        end(mo, E_IO, r->detail ? r->detail : "the mint gave no quote");
        return;
    }
    mo->quote = xstrdup(quote);
    if (mo->on_invoice)
        mo->on_invoice(invoice, mo->amount, mo->ud);
    on_state(r, mo); /* the quote's own state: a test mint answers PAID at once */
}

int cashu_wallet_mint(struct cashu_wallet *w, uint64_t amount, cashu_invoice_fn *on_invoice,
                      cashu_result_fn *cb, void *ud)
{
    struct mintop *mo = xcalloc(1, sizeof(*mo));
    mo->w = w;
    mo->amount = amount;
    mo->on_invoice = on_invoice;
    mo->cb = cb;
    mo->ud = ud;
    wallet_op_id(mo->op_id);
    const char *primary = cashu_wallet_primary(w);
    mo->m = primary ? wallet_mint(w, primary) : NULL;
    if (mo->m == NULL || amount == 0) {
        end(mo, E_NOTFOUND, amount ? "no trusted mint" : "nothing to mint");
        return 0;
    }
    json_t *body = json_pack("{s:I, s:s}", "amount", (json_int_t)amount, "unit", "sat");
    int rc = wallet_call(w, mo->m->url, "POST", "/v1/mint/quote/bolt11", body, 0, on_quote, mo);
    json_decref(body);
    if (rc != 0)
        end(mo, E_IO, "cannot reach the mint");
    return 0;
}
