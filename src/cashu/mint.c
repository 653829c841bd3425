/* mint.c -- see mint.h. Answers are bounded (1 MiB: a keyset listing is a few KiB), parsed as
 * JSON, and sorted into the outcomes of mint.h. A mint's error body is {"detail","code"}
 * (NUT-00); its 'code' decides, never its 'detail' text, which differs between mints. */
#include "cashu/mint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "http/client.h"

#define MINT_MAX_ANSWER (1 << 20)

struct call {
    cashu_mint_fn *cb;
    void *ud;
    struct cashu_mint_stats *stats;
    char *what; /* "POST /v1/swap" for logs */
};

static void count(struct cashu_mint_stats *s, const struct cashu_mint_res *res, int xfer_status)
{
    s->calls++;
    enum cashu_mint_fail f;
    switch (res->status) {
    case CASHU_MINT_OK:
        return;
    case CASHU_MINT_UNREACHABLE: f = CASHU_FAIL_UNREACHABLE; break;
    case CASHU_MINT_RATE_LIMITED: f = CASHU_FAIL_RATE_LIMITED; break;
    case CASHU_MINT_UNKNOWN:
        f = xfer_status == HTTP_XFER_TIMEOUT || xfer_status == HTTP_XFER_IDLE_TIMEOUT
                ? CASHU_FAIL_TIMEOUT
                : CASHU_FAIL_UNKNOWN;
        break;
    default:
        f = res->code >= 10000 && res->code < 11000   ? CASHU_FAIL_REFUSED_10
            : res->code >= 11000 && res->code < 12000 ? CASHU_FAIL_REFUSED_11
            : res->code >= 12000 && res->code < 13000 ? CASHU_FAIL_REFUSED_12
            : res->code >= 20000 && res->code < 30000 ? CASHU_FAIL_REFUSED_2X
                                                      : CASHU_FAIL_REFUSED_OTHER;
        break;
    }
    s->failed[f]++;
}

static void on_fetch(const struct http_fetch_res *r, void *ud)
{
    struct call *c = ud;
    struct cashu_mint_res res = {.http_code = r->code, .detail = r->detail};
    json_t *j = NULL;
    if (r->status == HTTP_XFER_UNREACHABLE) {
        res.status = CASHU_MINT_UNREACHABLE;
    } else if (r->status != HTTP_XFER_OK) {
        res.status = CASHU_MINT_UNKNOWN; /* the request went out; the answer did not come */
    } else {
        json_error_t jerr;
        j = json_loadb(r->body, r->len, 0, &jerr);
        res.json = j;
        if (r->code == 200 && json_is_object(j)) {
            res.status = CASHU_MINT_OK;
        } else if (r->code == 429) {
            res.status = CASHU_MINT_RATE_LIMITED;
            res.detail = "rate limited";
        } else if (r->code >= 400 && r->code < 500 && json_is_object(j) &&
                   json_is_integer(json_object_get(j, "code"))) {
            res.status = CASHU_MINT_REFUSED;
            res.code = (long)json_integer_value(json_object_get(j, "code"));
            const char *d = json_string_value(json_object_get(j, "detail"));
            res.detail = d ? d : "refused";
        } else if (r->code >= 400 && r->code < 500) {
            /* A 4xx without a NUT code: the mint did not act (a request it could not read). */
            res.status = CASHU_MINT_REFUSED;
            res.detail = "refused without an error code";
        } else {
            /* 5xx or garbage: the mint may have acted before failing. */
            res.status = CASHU_MINT_UNKNOWN;
            res.detail = "no usable answer";
        }
    }
    if (c->stats)
        count(c->stats, &res, r->status);
    if (res.status != CASHU_MINT_OK)
        log_warn("mint %s: %s (HTTP %ld, code %ld)", c->what, res.detail ? res.detail : "?",
                 res.http_code, res.code);
    c->cb(&res, c->ud);
    json_decref(j);
    free(c->what);
    free(c);
}

int cashu_mint_call(struct http_client *client, const char *mint_url, const char *method,
                    const char *path, const json_t *body, const struct cashu_mint_opts *o,
                    cashu_mint_fn *cb, void *ud)
{
    char *url = xasprintf("%s%s", mint_url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct call *c = xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    c->stats = o ? o->stats : NULL;
    c->what = xasprintf("%s %s%s", method, mint_url, path);
    struct http_fetch_req req = {
        .method = method,
        .url = url,
        .content_type = text ? "application/json" : NULL,
        .body = text,
        .body_len = text ? strlen(text) : 0,
        .timeout_ms = o && o->timeout_ms ? o->timeout_ms : 30000,
        .max_bytes = MINT_MAX_ANSWER,
        .proxy = o ? o->proxy : NULL,
        /* Every POST to a mint may move money: a lost answer must stay "unknown", never be
         * resent by libcurl on its own (see http_xfer_req.fresh_connection). */
        .fresh_connection = strcmp(method, "POST") == 0,
    };
    int rc = http_fetch(client, &req, on_fetch, c);
    free(url);
    free(text);
    if (rc != E_OK) {
        free(c->what);
        free(c);
    }
    return rc;
}

struct cashu_error_class cashu_mint_classify(const struct cashu_mint_res *res)
{
    switch (res->status) {
    case CASHU_MINT_UNREACHABLE:
        return (struct cashu_error_class){"mint_unreachable", 503, "cashu_mint_unreachable"};
    case CASHU_MINT_RATE_LIMITED:
        return (struct cashu_error_class){"mint_rate_limited", 503, "cashu_mint_rate_limited"};
    case CASHU_MINT_UNKNOWN:
        /* The mint may hold the token's value for us now: reconciled later, never re-asked. */
        return (struct cashu_error_class){"token_consumed", 500, "cashu_token_consumed"};
    default:
        break;
    }
    switch (res->code) {
    case CASHU_ERR_ALREADY_SPENT:
        return (struct cashu_error_class){"token_already_spent", 400,
                                          "cashu_token_already_spent"};
    case CASHU_ERR_PROOF_INVALID:
    case CASHU_ERR_KEYSET_UNKNOWN:
    case 11007: /* duplicate inputs */
    case 11009: /* unit problems */
    case 11010:
    case 11013:
    case 12003: /* keyset expired */
        return (struct cashu_error_class){"invalid_token", 400, "invalid_cashu_token"};
    default:
        return (struct cashu_error_class){"cashu_error", 400, "cashu_token_redemption_failed"};
    }
}
