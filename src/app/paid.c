/* paid.c -- see paid.h.
 *
 * Metering reads usage where each API puts it (clients.md §4): the JSON body's "usage" (or
 * "response.usage" for the Responses API), the final SSE chunk of a streamed chat (forced with
 * stream_options.include_usage), or the response.completed event of a streamed Responses call.
 * The cost goes back to the client the way Routstr clients parse it (clients.md §1.2 item 8):
 * in the body and the X-Routstr-Cost-* headers, or in the one usage chunk that ends a stream
 * before "data: [DONE]".
 *
 * X-Cashu (clients.md §1.2 "X-Cashu path", NUT-24 style): the token in the header is redeemed
 * into an account of its own (sk- + sha256(token), the same derivation as a token sent as the
 * key, but a replayed token is refused as spent), the request is reserved and settled on it
 * like any other, and what is left, in whole sats, is paid back as a new token: in the X-Cashu
 * response header (the stream is then held to the end, as existing clients expect), or, when
 * the client asks with "X-Cashu-Stream: live", as a last SSE event before [DONE]. An upstream
 * error or failure refunds everything the same way, also in error.refund_token. Every change
 * token is stored before it is sent: POST /v1/wallet/refund with the original token fetches it
 * again. Sub-sat rests stay on the token's account.
 *
 * Speculative forwarding (CASHU_SPECULATIVE): when every proof of an X-Cashu token carries a
 * DLEQ that verifies offline against the mint's cached keys, and none is known spent, the
 * upstream request starts as soon as this request wins the token's redemption claim (the
 * database row that makes a token redeemable once, across processes and restarts), so it runs
 * while the mint swaps. Its answer waits behind a gate (proxy_forward_gated): the gate opens
 * once the payment is reserved, exactly as on the plain path, and fails on any error before
 * that, which is then answered as the plain path answers it: the client never sees an upstream
 * byte it did not pay for. What an aborted speculation cost upstream is the operator's loss,
 * hence the guards: DLEQs (the proofs were signed by the mint), the wallet's memory of spent
 * Ys (a replay of proofs we took or the mint refused), the claim (a replay of the same token),
 * at most one speculation per token in flight and APP_SPEC_MAX at once, PAID_SPEC_MAX_PROOFS
 * per token (the DLEQ checks run on the loop). */
#include "app/paid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/keyvalq_struct.h>

#include "app/admin.h"
#include "app/app.h"
#include "app/auth.h"
#include "app/metrics.h"
#include "app/pricing.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/payreq.h"
#include "cashu/token.h"
#include "cashu/wallet.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define PAID_SPEC_MAX_PROOFS 64 /* proofs of a token checked on the loop before forwarding */

struct paid {
    struct app *a;
    struct app_req *r;
    char rid[37];
    char key_hash[65];
    struct auth_cred cred;
    char *rest;                   /* the path to forward */
    json_t *body;                 /* the request's JSON body, or NULL */
    const struct billing_model *m; /* NULL: priced per request */
    struct billing_fixed fixed;   /* the per-request price when !m or FIXED_PRICING */
    bool use_fixed;
    int64_t reserved_msat;
    bool chat_stream;             /* a streamed chat completion (usage chunk forced) */
    bool usage_forced;            /* include_usage was added to 'body' */
    bool token_route;             /* an API whose answers carry token usage */
    bool failed;                  /* the upstream answered an error: released, never charged */
    char *failed_body;            /* X-Cashu: the upstream's error, to add the refund to */
    size_t failed_len;
    enum paid_relay relay;
    struct billing_usage usage;
    json_t *held;                 /* the usage chunk / response.completed event, held to the end */
    char *held_event;             /* its "event:" name, if any */
    size_t in_chars, out_chars;   /* for the estimate */
    char *refund_address;
    int64_t key_expiry;
    paid_done_fn *done;
    void *done_ud;
    enum paid_end how;
    struct billing_cost cost;
    bool holding;                 /* pd holds r (app_req_hold) until the proxy takes it */
    /* X-Cashu */
    bool xcashu;
    bool stream_live;
    char *change_token;
    int64_t change_sats;
    char change_id[33];
    int64_t charged_msat, remaining_msat;
    /* Speculative forwarding */
    bool spec;                    /* registered in a->spec_tokens: may start before the swap */
    struct proxy_req *gate;       /* the upstream request started, its answer held */
};

bool paid_is_xcashu(const struct paid *pd)
{
    return pd->xcashu;
}

/* Speculation */

/* Registers pd's token as speculated on, unless one is already or APP_SPEC_MAX are. */
static bool spec_begin(struct paid *pd)
{
    struct app *a = pd->a;
    for (size_t i = 0; i < a->n_spec_tokens; i++)
        if (strcmp(a->spec_tokens[i], pd->cred.rest) == 0)
            return false;
    if (a->n_spec_tokens == APP_SPEC_MAX)
        return false;
    memcpy(a->spec_tokens[a->n_spec_tokens++], pd->cred.rest, sizeof(pd->cred.rest));
    pd->spec = true;
    return true;
}

static void spec_end(struct paid *pd)
{
    struct app *a = pd->a;
    if (!pd->spec)
        return;
    pd->spec = false;
    for (size_t i = 0; i < a->n_spec_tokens; i++) {
        if (strcmp(a->spec_tokens[i], pd->cred.rest) == 0) {
            memcpy(a->spec_tokens[i], a->spec_tokens[--a->n_spec_tokens],
                   sizeof(a->spec_tokens[i]));
            break;
        }
    }
}

/* The payment failed or the client left: the held answer is dropped, the transfer stopped. */
static void spec_abort(struct paid *pd)
{
    if (pd->gate) {
        log_info("speculative forward %s aborted: no payment (or no client) yet",
                 pd->rid);
        proxy_gate_fail(pd->gate);
        pd->gate = NULL;
    }
    spec_end(pd);
}

static void paid_free(struct paid *pd)
{
    spec_abort(pd);
    if (pd->holding)
        app_req_release(pd->r);
    auth_cred_deinit(&pd->cred);
    json_decref(pd->body);
    json_decref(pd->held);
    free(pd->held_event);
    free(pd->rest);
    free(pd->refund_address);
    free(pd->change_token);
    free(pd->failed_body);
    free(pd);
}

/* {"detail":{"error":{...}},"error":{...},"request_id"} */
static void reply_typed(struct app_req *r, int status, const char *type, const char *code,
                        const char *message)
{
    json_t *err = json_pack("{s:s, s:s, s:s}", "message", message, "type", type, "code", code);
    app_reply_json(r, status, json_pack("{s:{s:O}, s:o, s:s}", "detail", "error", err, "error",
                                        err, "request_id", r->id));
}

/* Rough characters of a request's prompt, for the estimate when no usage comes back. */
static size_t prompt_chars(const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v);
    size_t n = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) n += prompt_chars(x);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) n += prompt_chars(x);
    }
    return n;
}

static const char *const token_routes[] = {"/chat/completions", "/completions", "/responses",
                                           "/embeddings", "/messages"};

static bool is_token_route(const char *rest)
{
    size_t n = strcspn(rest, "?");
    for (size_t i = 0; i < sizeof(token_routes) / sizeof(token_routes[0]); i++)
        if (strlen(token_routes[i]) == n && strncmp(rest, token_routes[i], n) == 0)
            return true;
    return false;
}

/* Settlement */

static void inject_cost(json_t *usage_holder, const struct billing_cost *c,
                        const struct billing_usage *u, int64_t remaining_msat)
{
    json_t *usage = json_object_get(usage_holder, "usage");
    if (!json_is_object(usage)) {
        usage = json_object();
        json_object_set_new(usage_holder, "usage", usage);
    }
    json_object_set_new(usage, "cost", billing_cost_json(c, u));
    json_object_set_new(usage, "cost_sats", json_integer(c->total_msat / 1000));
    json_object_set_new(usage, "remaining_balance_msats", json_integer(remaining_msat));
}

static json_t *cost_object(const struct billing_cost *c, const struct billing_usage *u,
                           int64_t remaining_msat)
{
    json_t *o = billing_cost_json(c, u);
    json_object_set_new(o, "sats_cost", json_integer(c->total_msat / 1000));
    json_object_set_new(o, "remaining_balance_msats", json_integer(remaining_msat));
    return o;
}

/* X-Cashu: the refund of everything when the upstream failed, in the body clients read. */
static void refund_body(struct paid *pd, struct evbuffer *out, const char *body, size_t len)
{
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *err = json_object_get(j, "error");
    if (!json_is_object(err)) {
        json_decref(j);
        long status = pd->r->status ? pd->r->status : 502;
        j = json_pack("{s:{s:s, s:s, s:i}, s:s}", "error", "message",
                      pd->how == PAID_NO_ANSWER ? "Unable to connect to upstream service"
                                                : "Error forwarding request to upstream",
                      "type", "upstream_error", "code", (int)status, "request_id", pd->rid);
        err = json_object_get(j, "error");
    }
    if (pd->change_token)
        json_object_set_new(err, "refund_token", json_string(pd->change_token));
    char *text = json_dumps(j, JSON_COMPACT);
    evbuffer_add(out, text, strlen(text));
    free(text);
    json_decref(j);
}

static void finish(struct paid *pd, int64_t charged_msat, int64_t remaining_msat)
{
    struct evbuffer *out = NULL;
    pd->cost.total_msat = charged_msat; /* what was charged is what is reported */
    if (pd->done && pd->xcashu && (pd->failed || pd->how == PAID_NO_ANSWER)) {
        out = evbuffer_new();
        refund_body(pd, out, pd->relay == RELAY_BUFFER ? pd->failed_body : NULL,
                    pd->failed_len);
    } else if (pd->done && pd->how == PAID_COMPLETE && !pd->failed) {
        out = evbuffer_new();
        if (pd->relay == RELAY_SSE || pd->relay == RELAY_SSE_HELD) {
            json_t *chunk = pd->held;
            if (chunk == NULL && pd->chat_stream) {
                /* No usage chunk came: one is made, so every stream ends the same way. */
                chunk = json_pack("{s:s, s:s, s:I, s:s, s:[], s:{s:I, s:I, s:I}}", "id",
                                  pd->rid, "object", "chat.completion.chunk", "created",
                                  (json_int_t)time(NULL), "model",
                                  json_string_value(json_object_get(pd->body, "model"))
                                      ? json_string_value(json_object_get(pd->body, "model"))
                                      : "unknown",
                                  "choices", "usage", "prompt_tokens", (json_int_t)0,
                                  "completion_tokens", (json_int_t)0, "total_tokens",
                                  (json_int_t)0);
                pd->held = chunk;
            }
            if (chunk) {
                json_t *holder = json_is_object(json_object_get(chunk, "response"))
                                     ? json_object_get(chunk, "response")
                                     : chunk;
                inject_cost(holder, &pd->cost, &pd->usage, remaining_msat);
                char *text = json_dumps(chunk, JSON_COMPACT);
                if (pd->held_event)
                    evbuffer_add_printf(out, "event: %s\n", pd->held_event);
                evbuffer_add_printf(out, "data: %s\n\n", text);
                free(text);
            }
            if (pd->xcashu && pd->stream_live && pd->change_token)
                evbuffer_add_printf(out, "event: cashu-change\ndata: {\"token\":\"%s\","
                                         "\"sats\":%lld}\n\n",
                                    pd->change_token, (long long)pd->change_sats);
            if (pd->chat_stream)
                evbuffer_add_printf(out, "data: [DONE]\n\n");
        } else if (pd->relay == RELAY_BUFFER && pd->held) {
            json_t *holder = json_is_object(json_object_get(pd->held, "response")) &&
                                     !json_object_get(pd->held, "usage")
                                 ? json_object_get(pd->held, "response")
                                 : pd->held;
            inject_cost(holder, &pd->cost, &pd->usage, remaining_msat);
            json_object_set_new(pd->held, "cost", cost_object(&pd->cost, &pd->usage,
                                                              remaining_msat));
            char *text = json_dumps(pd->held, JSON_COMPACT);
            evbuffer_add(out, text, strlen(text));
            free(text);
        }
        if (pd->relay == RELAY_BUFFER || pd->relay == RELAY_SSE_HELD) {
            struct evkeyvalq *h = evhttp_request_get_output_headers(pd->r->req);
            char v[64];
            snprintf(v, sizeof(v), "%lld", (long long)pd->cost.total_msat);
            evhttp_add_header(h, "X-Routstr-Cost-Msats", v);
            snprintf(v, sizeof(v), "%lld", (long long)pd->cost.input_msat);
            evhttp_add_header(h, "X-Routstr-Input-Cost-Msats", v);
            snprintf(v, sizeof(v), "%lld", (long long)pd->cost.output_msat);
            evhttp_add_header(h, "X-Routstr-Output-Cost-Msats", v);
            snprintf(v, sizeof(v), "%.8f", pd->cost.total_usd);
            evhttp_add_header(h, "X-Routstr-Cost-Usd", v);
        }
    }
    if (pd->done && pd->change_token && !pd->stream_live)
        evhttp_add_header(evhttp_request_get_output_headers(pd->r->req), "X-Cashu",
                          pd->change_token);
    if (pd->done)
        pd->done(pd->done_ud, out);
    if (out)
        evbuffer_free(out);
    paid_free(pd);
}

/* X-Cashu: what is left on the token's account, in whole sats, becomes the change token. The
 * refund row is written (debit first) before the wallet is asked, and the send op's end stores
 * the token with it before it is sent (after a crash, recovery does). A failure leaves the money
 * on the account: the refund endpoint with the original token pays it later. */
static void change_done(struct paid *pd)
{
    finish(pd, pd->charged_msat, pd->remaining_msat);
}

static void on_change_failed(int status, void *ud)
{
    (void)status;
    change_done(ud);
}

static void on_change(const struct cashu_result *res, void *ud)
{
    struct paid *pd = ud;
    if (res->status == 0) { /* the op's end stored the token with the refund row */
        pd->change_token = xstrdup(res->token);
        pd->remaining_msat -= pd->change_sats * 1000;
        change_done(pd);
        return;
    }
    pd->change_sats = 0;
    if (res->status == E_UNKNOWN) { /* the debit stays; recovery settles op and refund */
        change_done(pd);
        return;
    }
    /* A no-op (E_CONFLICT) when the failed op already credited the account back. */
    store_refund_failed(pd->a->store, pd->change_id, on_change_failed, pd);
}

static void on_change_debited(int status, void *ud)
{
    struct paid *pd = ud;
    if (status == 0)
        FAULT("refund.debited");
    if (status != 0 || pd->a->wallet == NULL ||
        cashu_wallet_send(pd->a->wallet, NULL, "sat", (uint64_t)pd->change_sats, false,
                          pd->change_id, on_change, pd) != 0) {
        pd->change_sats = 0;
        if (status == 0)
            store_refund_failed(pd->a->store, pd->change_id, on_change_failed, pd);
        else
            change_done(pd);
    }
}

static void on_account(int status, const struct store_rows *rows, void *ud)
{
    struct paid *pd = ud;
    int64_t bal = status == 0 && rows->nrows ? store_cell_i64(rows, 0, 0) : 0;
    int64_t reserved = status == 0 && rows->nrows ? store_cell_i64(rows, 0, 1) : 1;
    pd->change_sats = reserved == 0 ? bal / 1000 : 0;
    if (pd->change_sats <= 0) {
        pd->change_sats = 0;
        change_done(pd);
        return;
    }
    uint8_t id[16];
    if (crypto_random(id, sizeof(id)) != 0)
        abort();
    hex_encode(pd->change_id, id, sizeof(id));
    struct store_refund rf = {.id = pd->change_id, .key_hash = pd->key_hash,
                              .amount_msat = pd->change_sats * 1000,
                              .amount = pd->change_sats, .unit = "sat",
                              .expect_balance_msat = bal};
    store_refund_begin(pd->a->store, &rf, on_change_debited, pd);
}

/* After settlement: the change of an X-Cashu request, then the answer. */
static void settled(struct paid *pd, int64_t charged_msat, int64_t remaining_msat)
{
    metrics_on_settle(pd->reserved_msat, charged_msat, &pd->usage);
    pd->charged_msat = charged_msat;
    pd->remaining_msat = remaining_msat;
    if (pd->xcashu && pd->done)
        store_key_get(pd->a->store, pd->key_hash, on_account, pd);
    else
        finish(pd, charged_msat, remaining_msat);
}

static void on_settled(int status, const struct store_rows *rows, void *ud)
{
    struct paid *pd = ud;
    if (status == 0 && rows->nrows > 0) {
        settled(pd, store_cell_i64(rows, 0, 0), store_cell_i64(rows, 0, 1));
        return;
    }
    /* E_CONFLICT: already ended (swept while we streamed): a released request is not charged. */
    if (status != E_CONFLICT)
        log_error("settle %s failed (%d): the sweeper will release it", pd->rid, status);
    settled(pd, 0, 0);
}

static void on_released(int status, void *ud)
{
    struct paid *pd = ud;
    if (status != 0 && status != E_CONFLICT)
        log_error("release %s failed (%d): the sweeper will release it", pd->rid, status);
    settled(pd, 0, 0);
}

void paid_on_end(struct paid *pd, enum paid_end how, const char *body, size_t len,
                 paid_done_fn *cb, void *ud)
{
    struct app *a = pd->a;
    pd->how = how;
    pd->done = cb;
    pd->done_ud = ud;
    if (how == PAID_NO_ANSWER || pd->failed) {
        if (pd->failed && body && len) {
            pd->failed_body = xmalloc(len);
            memcpy(pd->failed_body, body, len);
            pd->failed_len = len;
        }
        store_release(a->store, pd->rid, on_released, pd);
        return;
    }
    if (pd->relay == RELAY_BUFFER && how == PAID_COMPLETE) {
        json_error_t jerr;
        pd->held = body && len ? json_loadb(body, len, 0, &jerr) : NULL;
        if (json_is_object(pd->held))
            billing_usage_from_body(&pd->usage, pd->held);
        else {
            json_decref(pd->held);
            pd->held = NULL;
        }
        pd->out_chars += len;
    }
    struct billing_rates rates = pricing_rates(a, NULL);
    const struct billing_fixed *fixed = pd->use_fixed ? &pd->fixed : NULL;
    if (pd->usage.present || !pd->token_route) {
        /* Metered, or an API without tokens: its per-request price. */
        billing_cost(&pd->cost, pd->m, &rates, fixed, &pd->usage);
    } else {
        billing_cost_estimate(&pd->cost, pd->m, &rates, fixed, pd->in_chars, pd->out_chars);
        if (pd->cost.total_msat > pd->reserved_msat)
            pd->cost.total_msat = pd->reserved_msat; /* an estimate never exceeds the reservation */
    }
    store_settle(a->store, pd->rid, pd->cost.total_msat, on_settled, pd);
}

/* Answers */

enum paid_relay paid_on_headers(struct paid *pd, long status, const char *content_type)
{
    if (status < 200 || status > 299) {
        pd->failed = true; /* the upstream's error goes back; nothing is charged */
        return pd->relay = pd->xcashu ? RELAY_BUFFER : RELAY_PASS;
    }
    if (content_type && strncasecmp(content_type, "text/event-stream", 17) == 0)
        return pd->relay = pd->xcashu && !pd->stream_live ? RELAY_SSE_HELD : RELAY_SSE;
    if (content_type && (strncasecmp(content_type, "application/json", 16) == 0))
        return pd->relay = RELAY_BUFFER;
    return pd->relay = RELAY_PASS;
}

void paid_on_bytes(struct paid *pd, size_t n)
{
    pd->out_chars += n;
}

/* Length of the text in "content":"..." fields of an event, cheaply (no JSON parse). */
static size_t content_chars(const char *p, size_t n)
{
    static const char key[] = "\"content\":\"";
    size_t total = 0;
    const char *end = p + n;
    while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
        p += sizeof(key) - 1;
        const char *q = p;
        while (q < end && *q != '"')
            q += *q == '\\' ? 2 : 1;
        total += (size_t)(q - p);
        p = q;
    }
    return total;
}

void paid_on_event(struct paid *pd, const struct sse_event *ev, struct evbuffer *out)
{
    if (ev->comment_only)
        return; /* keep-alive comments are dropped (clients.md §1.5 item 10) */
    if (ev->data == NULL) {
        evbuffer_add(out, ev->raw, ev->raw_len);
        return;
    }
    if (pd->chat_stream && ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)
        return; /* emitted once, after the usage chunk */
    pd->out_chars += content_chars(ev->data, ev->data_len);
    bool completed = ev->event && ((ev->event_len == 18 &&
                                    memcmp(ev->event, "response.completed", 18) == 0) ||
                                   (ev->event_len == 19 &&
                                    memcmp(ev->event, "response.incomplete", 19) == 0));
    /* Only events that may carry usage are parsed; the rest pass byte for byte. */
    if (!completed && memmem(ev->data, ev->data_len, "\"usage\"", 7) == NULL) {
        evbuffer_add(out, ev->raw, ev->raw_len);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loadb(ev->data, ev->data_len, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        evbuffer_add(out, ev->raw, ev->raw_len);
        return;
    }
    if (completed) {
        billing_usage_from_body(&pd->usage, j);
        json_decref(pd->held);
        pd->held = j;
        free(pd->held_event);
        pd->held_event = xstrndup(ev->event, ev->event_len);
        return;
    }
    json_t *usage = json_object_get(j, "usage");
    if (!json_is_object(usage)) {
        json_decref(j);
        evbuffer_add(out, ev->raw, ev->raw_len);
        return;
    }
    billing_usage_parse(&pd->usage, usage);
    json_t *choices = json_object_get(j, "choices");
    if (json_is_array(choices) && json_array_size(choices) == 0) {
        json_decref(pd->held); /* the usage chunk: held, sent last with the cost */
        pd->held = j;
        return;
    }
    /* Usage on a content chunk (Gemini does this): the content goes now, the usage at the end. */
    json_object_del(j, "usage");
    char *text = json_dumps(j, JSON_COMPACT);
    if (ev->event)
        evbuffer_add_printf(out, "event: %.*s\n", (int)ev->event_len, ev->event);
    evbuffer_add_printf(out, "data: %s\n\n", text);
    free(text);
    json_decref(j);
}

/* The request */

/* No credentials at all: 402 with a NUT-18 payment request in X-Cashu (NUT-24): the amount that
 * covers this request's reservation, in sats, from any trusted mint. */
static void payment_required(struct paid *pd)
{
    struct app_req *r = pd->r;
    const char *list = pd->a->cfg.cashu_mints;
    const char *mints[32];
    char *copy = xstrdup(list);
    size_t n = 0;
    for (char *save = NULL, *m = strtok_r(copy, ",", &save); m && n < 32;
         m = strtok_r(NULL, ",", &save))
        mints[n++] = m;
    struct cashu_payreq req;
    char *creq = NULL;
    uint64_t sats = (uint64_t)(pd->reserved_msat + 999) / 1000;
    if (cashu_payreq_init_nut24(&req, sats, "sat", mints, n) == 0) {
        if (cashu_payreq_encode_creqA(&req, &creq) != 0)
            creq = NULL;
        cashu_payreq_deinit(&req);
    }
    free(copy);
    if (creq)
        app_reply_header(r, "X-Cashu", creq);
    app_reply_header(r, "Cache-Control", "no-store");
    char msg[200];
    snprintf(msg, sizeof(msg),
             "Payment required: %llu sat in a Cashu token (X-Cashu header), or an API key",
             (unsigned long long)sats);
    app_reply_json(r, 402, json_pack("{s:{s:s, s:s, s:s}, s:s}", "error", "type",
                                     "payment_required", "code", "payment_required", "message",
                                     msg, "request_id", r->id));
    free(creq);
}

/* A redemption failure of an X-Cashu request: the typed error, with the token echoed back in
 * the X-Cashu header only while it is still spendable (clients.md §1.5 item 4). */
static void xcashu_error(struct paid *pd, const struct cashu_error_class *err, const char *message)
{
    static const char *const spent[] = {"cashu_token_already_spent", "cashu_token_consumed",
                                        "cashu_token_zero_value", "internal_error"};
    bool echo = true;
    for (size_t i = 0; i < sizeof(spent) / sizeof(spent[0]); i++)
        echo = echo && strcmp(err->code, spent[i]) != 0;
    if (echo)
        app_reply_header(pd->r, "X-Cashu", pd->cred.token);
    auth_reply_cashu_error(pd->r, err, message);
}

static bool header_int(const char *v, int64_t *out)
{
    return v && str_parse_i64(v, 0, INT64_MAX, out) == 0;
}

static void on_reserved(int status, const struct store_rows *rows, void *ud);
static void on_released_early(int status, void *ud);

/* The body that goes upstream, when it is not the client's own (NULL then): forced
 * include_usage is the only change made to a request body (DESIGN.md step 4). */
static char *upstream_body(struct paid *pd, size_t *len)
{
    *len = 0;
    if (!pd->chat_stream)
        return NULL;
    if (!pd->usage_forced) { /* once: a speculation that could not start comes here again */
        json_t *so = json_object_get(pd->body, "stream_options");
        if (json_is_object(so) && json_is_true(json_object_get(so, "include_usage")))
            return NULL;
        if (!json_is_object(so)) {
            so = json_object();
            json_object_set_new(pd->body, "stream_options", so);
        }
        json_object_set_new(so, "include_usage", json_true());
        pd->usage_forced = true;
    }
    char *body = json_dumps(pd->body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    *len = strlen(body);
    return body;
}

static void on_key_for_402(int status, const struct store_rows *rows, void *ud)
{
    struct paid *pd = ud;
    struct app_req *r = pd->r;
    if (status != 0 || rows->nrows == 0) {
        auth_reply_401(r, "invalid_api_key",
                       "Invalid API key format. Expected an 'sk-...' API key or a 'cashu...' token.");
    } else {
        int64_t bal = store_cell_i64(rows, 0, 0), res = store_cell_i64(rows, 0, 1);
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "Insufficient balance: %lld mSats required. %lld available. (reserved: %lld)",
                 (long long)pd->reserved_msat, (long long)(bal - res), (long long)res);
        reply_typed(r, 402, "insufficient_quota", "insufficient_balance", msg);
    }
    paid_free(pd);
}

static void on_reserved(int status, const struct store_rows *rows, void *ud)
{
    struct paid *pd = ud;
    struct app_req *r = pd->r;
    if (status != 0 || r->closed)
        spec_abort(pd); /* before any answer: the client gets no upstream byte */
    if (status == 0)
        metrics_on_reserve(pd->reserved_msat);
    if (status == 0 && r->closed) { /* the client left before its request went out */
        store_release(pd->a->store, pd->rid, on_released_early, pd);
        return;
    }
    if (status == E_FUNDS) {
        store_key_get(pd->a->store, pd->key_hash, on_key_for_402, pd);
        return;
    }
    if (status != 0) {
        reply_typed(r, 503, "service_unavailable", "database_unavailable",
                    "The node's database is unavailable; retry shortly");
        paid_free(pd);
        return;
    }
    if (pd->gate) { /* the speculative request: its answer may go now */
        struct proxy_req *gate = pd->gate;
        pd->gate = NULL;
        spec_end(pd);
        pd->holding = false;
        app_req_release(r);
        proxy_gate_open(gate, pd);
        return;
    }
    spec_end(pd);
    size_t len;
    char *body = upstream_body(pd, &len);
    char *rest = pd->rest;
    pd->rest = NULL;
    pd->holding = false; /* the proxy watches the client from here on */
    app_req_release(r);
    proxy_forward(r, rest, body, len, pd);
    free(rest);
}

static void on_released_early(int status, void *ud)
{
    (void)status;
    metrics_on_settle(((struct paid *)ud)->reserved_msat, 0, NULL);
    paid_free(ud);
}

static void on_refund_info(int status, void *ud)
{
    (void)status;
    (void)ud;
}

/* A speculated token is ours to redeem: its upstream request starts now, while the mint swaps. */
static void on_claimed(struct app_req *r, void *ud)
{
    struct paid *pd = ud;
    if (r->closed)
        return;
    size_t len;
    char *body = upstream_body(pd, &len);
    pd->gate = proxy_forward_gated(r, pd->rest, body, len);
    if (pd->gate)
        log_debug("speculative forward %s started", pd->rid);
}

static void on_payer(struct app_req *r, int status, const struct cashu_error_class *err,
                     const char *message, void *ud)
{
    struct paid *pd = ud;
    if (status != 0) {
        spec_abort(pd); /* before the error goes out: the client gets no upstream byte */
        if (pd->xcashu)
            xcashu_error(pd, err, message);
        else
            auth_reply_failure(r, err, message);
        paid_free(pd);
        return;
    }
    memcpy(pd->key_hash, pd->cred.key_hash, sizeof(pd->key_hash));
    if (pd->refund_address || pd->key_expiry)
        store_key_set_refund(pd->a->store, pd->key_hash, pd->refund_address, pd->key_expiry,
                             on_refund_info, NULL);
    struct store_reservation res = {
        .request_id = pd->rid,
        .key_hash = pd->key_hash,
        .amount_msat = pd->reserved_msat,
        .model = pd->m ? pd->m->id : NULL,
        .path = r->path,
        .instance = pd->a->instance,
    };
    store_reserve(pd->a->store, &res, on_reserved, pd);
}

void paid_handle(struct app_req *r, const char *rest)
{
    struct app *a = r->app;
    struct paid *pd = xcalloc(1, sizeof(*pd));
    pd->a = a;
    pd->r = r;
    app_req_hold(r); /* the client may leave while the mint or the database answers */
    pd->holding = true;
    memcpy(pd->rid, r->id, sizeof(pd->rid));
    pd->rest = xstrdup(rest);
    pd->token_route = is_token_route(rest);
    struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);

    /* X-Cashu wins over Authorization (spec §1.3 step 7). */
    const char *xc = evhttp_find_header(in, "X-Cashu");
    if (xc && *xc) {
        pd->xcashu = true;
        const char *mode = evhttp_find_header(in, "X-Cashu-Stream");
        pd->stream_live = mode && strcasecmp(mode, "live") == 0;
        auth_from_token(&pd->cred, xc);
    } else {
        auth_parse(r->req, &pd->cred);
    }
    if (pd->cred.kind == AUTH_BAD) {
        auth_reply_401(r, "invalid_api_key",
                       "Invalid API key format. Expected an 'sk-...' API key or a 'cashu...' token.");
        goto fail;
    }
    /* Refund-LNURL and Key-Expiry-Time, any case (spec §2.5, early-era semantics). */
    const char *lnurl = evhttp_find_header(in, "Refund-LNURL");
    const char *expiry = evhttp_find_header(in, "Key-Expiry-Time");
    if (expiry && !header_int(expiry, &pd->key_expiry)) {
        app_reply_json(r, 400, json_pack("{s:s, s:s}", "detail",
                                         "Invalid Key-Expiry-Time: must be a valid Unix timestamp",
                                         "request_id", r->id));
        goto fail;
    }
    if (expiry && (lnurl == NULL || *lnurl == '\0')) {
        app_reply_json(r, 400,
                       json_pack("{s:s, s:s}", "detail",
                                 "Error: Refund-LNURL header required when using Key-Expiry-Time",
                                 "request_id", r->id));
        goto fail;
    }
    pd->refund_address = lnurl && *lnurl ? xstrdup(lnurl) : NULL;

    /* The JSON body: model, stream, max_tokens. Other bodies (multipart, none) pay per request. */
    struct evbuffer *b = evhttp_request_get_input_buffer(r->req);
    size_t n = evbuffer_get_length(b);
    const char *ctype = evhttp_find_header(in, "Content-Type");
    if (n && ctype && strncasecmp(ctype, "application/json", 16) == 0) {
        json_error_t jerr;
        pd->body = json_loadb((const char *)evbuffer_pullup(b, -1), n, 0, &jerr);
        if (!json_is_object(pd->body)) {
            json_t *err = json_pack("{s:s, s:s, s:s}", "type", "invalid_request_error", "code",
                                    "invalid_json", "message", "The request body is not valid JSON");
            app_reply_json(r, 400, json_pack("{s:{s:O}, s:o, s:s}", "detail", "error", err,
                                             "error", err, "request_id", r->id));
            goto fail;
        }
        json_t *mt = json_object_get(pd->body, "max_tokens");
        if (mt && !json_is_null(mt) && !json_is_integer(mt)) {
            app_reply_json(r, 400, json_pack("{s:{s:s}, s:s}", "detail", "error",
                                             "max_tokens must be an integer", "request_id",
                                             r->id));
            goto fail;
        }
        pd->in_chars = prompt_chars(json_object_get(pd->body, "messages")) +
                       prompt_chars(json_object_get(pd->body, "input")) +
                       prompt_chars(json_object_get(pd->body, "prompt"));
        /* Chat and legacy completions stream chunks ending in [DONE], with usage only when
         * stream_options.include_usage is set: forced here (the Responses API streams events
         * of its own and always reports usage in response.completed). */
        size_t plen = strcspn(rest, "?");
        bool chunked_api = (plen == 17 && strncmp(rest, "/chat/completions", 17) == 0) ||
                           (plen == 12 && strncmp(rest, "/completions", 12) == 0);
        pd->chat_stream = chunked_api && json_is_true(json_object_get(pd->body, "stream"));
    }
    const char *model = json_string_value(json_object_get(pd->body, "model"));
    if (model == NULL)
        model = json_string_value(json_object_get(json_object_get(pd->body, "input"), "model"));
    const struct billing_model *found = model ? billing_catalog_find(&a->catalog, model) : NULL;
    metrics_set_model(r, model, found);

    bool usable;
    struct billing_rates rates = pricing_rates(a, &usable);
    pd->use_fixed = a->cfg.fixed_pricing || model == NULL;
    pd->fixed = a->cfg.fixed_pricing ? a->fixed
                                     : (struct billing_fixed){
                                           .per_request_msat = a->fixed.per_request_msat};
    /* Fixed prices need no catalogue, but a model the dashboard disabled is refused anyway. */
    if (model && (!a->cfg.fixed_pricing || admin_model_disabled(a, model))) {
        pd->m = a->cfg.fixed_pricing ? NULL : found;
        if (pd->m == NULL) {
            char msg[200];
            snprintf(msg, sizeof(msg), "Model '%.150s' not found", model);
            app_reply_json(r, 400, json_pack("{s:{s:s, s:s, s:i}, s:s}", "error", "message", msg,
                                             "type", "invalid_model", "code", 400, "request_id",
                                             r->id));
            goto fail;
        }
        if (!usable) {
            reply_typed(r, 503, "service_unavailable", "price_unavailable",
                        "No recent BTC/USD price: USD-priced models are unavailable right now");
            goto fail;
        }
    }
    pd->reserved_msat = billing_reservation_msat(pd->m, &rates, pd->use_fixed ? &pd->fixed : NULL,
                                                 pd->body);
    if (pd->cred.kind == AUTH_NONE) {
        payment_required(pd);
        goto fail;
    }
    if (pd->xcashu) {
        /* Pre-check before the mint is asked (spec §2.3 step 1): the token must cover R. */
        struct cashu_token t;
        if (cashu_token_decode(&t, pd->cred.token, strlen(pd->cred.token)) != 0) {
            static const struct cashu_error_class bad = {"invalid_token", 400,
                                                         "invalid_cashu_token"};
            xcashu_error(pd, &bad, "Invalid Cashu token");
            goto fail;
        }
        int64_t msat = strcmp(t.unit, "msat") == 0 ? (int64_t)t.amount : (int64_t)t.amount * 1000;
        cashu_token_deinit(&t);
        if (msat < pd->reserved_msat) {
            evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Cashu",
                              pd->cred.token); /* untouched: still the client's */
            app_reply_json(r, 402,
                           json_pack("{s:{s:s, s:I, s:s, s:s}, s:s}", "detail", "reason",
                                     "Insufficient balance", "amount_required_msat",
                                     (json_int_t)pd->reserved_msat, "model",
                                     model ? model : "unknown", "type",
                                     "minimum_balance_required", "request_id", r->id));
            goto fail;
        }
        bool spec = a->cfg.cashu_speculative && a->wallet &&
                    cashu_wallet_verify_offline(a->wallet, pd->cred.token,
                                                strlen(pd->cred.token),
                                                PAID_SPEC_MAX_PROOFS) == 0 &&
                    spec_begin(pd);
        auth_redeem_fresh(r, &pd->cred, spec ? on_claimed : NULL, on_payer, pd);
        return;
    }
    auth_resolve(r, &pd->cred, on_payer, pd);
    return;
fail:
    paid_free(pd);
}
