/* mint.h -- an asynchronous client of a Cashu mint's HTTP API, on the shared libcurl multi.
 *
 * One call is one HTTP request with a JSON body and answer. What the caller gets back tells the
 * three outcomes apart that money handling needs (clients.md §3, lesson 14): the mint acted and
 * answered (OK), the mint refused with a NUT error code (REFUSED: nothing happened), nothing
 * reached the mint (UNREACHABLE: safe to retry), or the request went out and no usable answer
 * came back (UNKNOWN: the mint may have acted; reconcile with NUT-09 restore or NUT-07 before
 * doing anything else with the same proofs). */
#ifndef ROUTSTR_CASHU_MINT_H
#define ROUTSTR_CASHU_MINT_H

#include <stdint.h>

#include <jansson.h>

struct http_client;

enum cashu_mint_status {
    CASHU_MINT_OK = 0,
    CASHU_MINT_REFUSED = -1,
    CASHU_MINT_UNREACHABLE = -2,
    CASHU_MINT_UNKNOWN = -3,
    CASHU_MINT_RATE_LIMITED = -4, /* HTTP 429: nothing happened, try later */
};

/* NUT error codes the wallet acts on (error_codes.md). */
enum {
    CASHU_ERR_PROOF_INVALID = 10001,
    CASHU_ERR_ALREADY_SPENT = 11001,
    CASHU_ERR_PROOFS_PENDING = 11002,
    CASHU_ERR_OUTPUTS_SIGNED = 11003,
    CASHU_ERR_UNBALANCED = 11005,
    CASHU_ERR_KEYSET_UNKNOWN = 12001,
    CASHU_ERR_KEYSET_INACTIVE = 12002,
    CASHU_ERR_LN_FAILED = 20004,
};

struct cashu_mint_res {
    int status;        /* enum cashu_mint_status */
    long http_code;    /* 0 when no answer */
    long code;         /* the NUT error code when REFUSED, else 0 */
    const char *detail;
    json_t *json;      /* the answer (OK) or error body (REFUSED); borrowed, or NULL */
};

typedef void cashu_mint_fn(const struct cashu_mint_res *res, void *ud);

/* How calls failed, by outcome and NUT error code class (error_codes.md), for /metrics. */
enum cashu_mint_fail {
    CASHU_FAIL_UNREACHABLE,   /* nothing reached the mint */
    CASHU_FAIL_TIMEOUT,       /* sent, then no answer in time: outcome unknown */
    CASHU_FAIL_UNKNOWN,       /* sent, then a broken or unusable answer (5xx): outcome unknown */
    CASHU_FAIL_RATE_LIMITED,
    CASHU_FAIL_REFUSED_10,    /* 10xxx: proofs and blind signatures */
    CASHU_FAIL_REFUSED_11,    /* 11xxx: inputs and outputs (spent, pending, unbalanced) */
    CASHU_FAIL_REFUSED_12,    /* 12xxx: keysets */
    CASHU_FAIL_REFUSED_2X,    /* 2xxxx: quotes and Lightning */
    CASHU_FAIL_REFUSED_OTHER, /* another code, or a 4xx without one */
    CASHU_MINT_N_FAILS
};
struct cashu_mint_stats {
    uint64_t calls;
    uint64_t failed[CASHU_MINT_N_FAILS];
};

struct cashu_mint_opts {
    long timeout_ms;   /* whole call; 0: 30 s */
    const char *proxy; /* SOCKS5 for .onion mints, or NULL */
    struct cashu_mint_stats *stats; /* counts this call's outcome when it ends, or NULL */
};

/* Calls 'method' 'path' (e.g. "POST", "/v1/swap") on the mint at 'mint_url' (no trailing '/')
 * with 'body' (borrowed; NULL for none). Returns 0, or E_IO with no callback to come. */
int cashu_mint_call(struct http_client *c, const char *mint_url, const char *method,
                    const char *path, const json_t *body, const struct cashu_mint_opts *o,
                    cashu_mint_fn *cb, void *ud);

/* The taxonomy of clients.md §1.2 for a failed redemption: error 'type', its HTTP status and
 * 'code' string, from a call's outcome. */
struct cashu_error_class {
    const char *type;
    int http_status;
    const char *code;
};
struct cashu_error_class cashu_mint_classify(const struct cashu_mint_res *res);

#endif
