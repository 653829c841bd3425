/* billing.h -- the pure rules of what a request costs: the model catalogue, prices in sats, the
 * reservation a request must hold, usage read from answers, and the metered cost.
 *
 * No I/O here (DESIGN.md): the app loads files and fetches BTC/USD quotes and hands them in.
 * Prices are floats (USD per token, sats per token) only until they become msat: every msat
 * figure is an integer, rounded up once at the end (spec/routstr-api.md §4, clients.md §4.3).
 *
 * Formulas, field names and units follow spec/routstr-api.md §3.2 (reservation), §4.3 (fees and
 * max costs), §4.4 (cost from usage) and §4.5 (the /v1/models item), with the differences listed
 * at the top of that file (EXCHANGE_FEE and UPSTREAM_PROVIDER_FEE are applied; usage of the
 * Responses API is read from response.usage; no usage is estimated, never free). */
#ifndef ROUTSTR_BILLING_BILLING_H
#define ROUTSTR_BILLING_BILLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

/* USD per token (or per unit for request/image/web_search), as models.json carries them. */
struct billing_prices {
    double prompt, completion, request, image, web_search, internal_reasoning;
    double input_cache_read, input_cache_write;
};

struct billing_model {
    char *id;               /* as in models.json, e.g. "openai/gpt-4o-mini" */
    char *name;
    char *description;
    char *canonical_slug;   /* or NULL */
    int64_t created;
    int64_t context_length;         /* 0 if unknown */
    int64_t top_context_length;     /* top_provider.context_length, 0 if absent */
    int64_t top_max_completion_tokens; /* top_provider.max_completion_tokens, 0 if absent */
    struct billing_prices usd;      /* before fees */
    json_t *architecture;   /* owned, or NULL */
    json_t *top_provider;   /* owned, or NULL */
    json_t *per_request_limits; /* owned, or NULL */
    char **aliases;         /* extra ids it answers to (alias_ids), owned */
    size_t n_aliases;
    bool enabled;
};

struct billing_index; /* private to billing/ */

struct billing_catalog {
    struct billing_model *models;
    size_t n;
    struct billing_index *index; /* lookup keys built by billing_catalog_parse(); a catalogue
                                    built by hand leaves it NULL (find then scans) */
};

/* Parses a catalogue in the OpenRouter format: {"data":[model...]} or {"models":[model...]}
 * (prices as numbers or decimal strings). Replaces *c only on success (*c is zeroed or a parsed
 * catalogue; its old models are freed). Returns 0, or E_PROTO with 'err' naming the first bad
 * entry; E_LIMIT past 10,000 models. */
int billing_catalog_parse(struct billing_catalog *c, const char *text, size_t len,
                          char err[ERR_LEN]);
void billing_catalog_deinit(struct billing_catalog *c);
/* Finds an enabled model by id, case-insensitively: its id, the id without its "vendor/" prefix,
 * its canonical slug, an alias; failing that, the same with a trailing -YYYYMMDD or -YYYY-MM-DD
 * removed from 'id'. NULL when none (the caller answers 400 invalid_model). */
const struct billing_model *billing_catalog_find(const struct billing_catalog *c, const char *id);

/* What turns USD into sats, and the node's fee and tolerance settings. */
struct billing_rates {
    double btc_usd;          /* USD per BTC; 0 when no quote yet */
    double exchange_fee;     /* EXCHANGE_FEE, default 1.005 */
    double provider_fee;     /* UPSTREAM_PROVIDER_FEE, default 1.05 */
    double tolerance_pct;    /* TOLERANCE_PERCENTAGE, default 1.0 */
    int64_t min_request_msat; /* MIN_REQUEST_MSAT, default 1 */
};

/* The /v1/models price objects: USD (fees applied) and sats, each with max_prompt_cost,
 * max_completion_cost and max_cost (§4.3). */
struct billing_model_prices {
    struct billing_prices usd, sats;
    double usd_max_prompt, usd_max_completion, usd_max_cost;
    double sats_max_prompt, sats_max_completion, sats_max_cost;
};
/* Fills 'out' for 'm'. Returns 0, or E_AGAIN when rates->btc_usd is 0 (no sats yet). */
int billing_model_prices(struct billing_model_prices *out, const struct billing_model *m,
                         const struct billing_rates *rates);
/* The /v1/models entry of 'm' in the Routstr shape (§4.5; every price a JSON number). New
 * reference. */
json_t *billing_model_json(const struct billing_model *m, const struct billing_rates *rates);

/* FIXED_PRICING: a request costs cost_per_request_msat plus the per-1k token rates. */
struct billing_fixed {
    int64_t per_request_msat;
    int64_t per_1k_input_msat;
    int64_t per_1k_output_msat;
};

/* The reservation R in msat for a request with JSON body 'body' (may be NULL) to model 'm'
 * (§3.2: max_cost × (1 − tolerance), prompt and max_tokens discounts, floored at
 * min_request_msat). With 'fixed' non-NULL the fixed per-request cost (plus, when per-1k rates
 * are set, what max_tokens could cost) is reserved instead. */
int64_t billing_reservation_msat(const struct billing_model *m, const struct billing_rates *rates,
                                 const struct billing_fixed *fixed, const json_t *body);

/* Token usage, normalised across dialects (clients.md §4.3). */
struct billing_usage {
    bool present;            /* a usage object was found (explicit zeros count as present) */
    int64_t input_tokens;    /* uncached input: total input − cache read − cache write, ≥ 0 */
    int64_t output_tokens;   /* including reasoning */
    int64_t cache_read_tokens;
    int64_t cache_write_tokens;
    int64_t reasoning_tokens; /* informational: a subset of output */
};
/* Reads a usage object of any dialect: OpenAI chat/completions (prompt_tokens, completion_tokens,
 * prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens, OpenRouter's
 * cache_write_tokens), Responses (input_tokens, output_tokens, input_tokens_details,
 * output_tokens_details), Anthropic (input_tokens additive with cache_creation_input_tokens and
 * cache_read_input_tokens), DeepSeek (prompt_cache_hit_tokens). Counts are read leniently
 * (integers, floats, numeric strings; negatives and booleans give 0). */
void billing_usage_parse(struct billing_usage *u, const json_t *usage);
/* Finds the usage in a whole JSON answer: "usage", or "response.usage" (Responses API). */
void billing_usage_from_body(struct billing_usage *u, const json_t *body);

struct billing_cost {
    int64_t base_msat;        /* per-request part */
    int64_t input_msat;
    int64_t output_msat;
    int64_t cache_read_msat;
    int64_t cache_write_msat;
    int64_t total_msat;       /* the sum, rounded up once */
    double total_usd;
    bool estimated;           /* no usage: estimated from characters */
};
/* The metered cost of 'u' (§4.4 token path): rates in msat per token from the model's sats
 * prices (or 'fixed' when non-NULL), cache rates falling back to the input rate, plus the
 * per-request price; computed in doubles and rounded up once to the msat. */
void billing_cost(struct billing_cost *out, const struct billing_model *m,
                  const struct billing_rates *rates, const struct billing_fixed *fixed,
                  const struct billing_usage *u);
/* The estimate for an answer without usage: input and output characters / 4 at the model's
 * prices; out->estimated is set. The caller caps it at the reservation. */
void billing_cost_estimate(struct billing_cost *out, const struct billing_model *m,
                           const struct billing_rates *rates, const struct billing_fixed *fixed,
                           size_t input_chars, size_t output_chars);
/* The cost object clients parse (clients.md §1.2 item 8): {"base_msats","input_msats",
 * "output_msats","total_msats","cache_read_input_tokens","cache_creation_input_tokens",
 * "cache_read_msats","cache_creation_msats","total_usd"[,"estimated"]}. New reference. */
json_t *billing_cost_json(const struct billing_cost *c, const struct billing_usage *u);

/* Combines BTC/USD quotes from several exchanges: the minimum of the valid ones (> 0, finite),
 * as the reference does. Returns 0 with *out set, or E_NOTFOUND when none is valid. */
int billing_btc_usd_combine(const double *quotes, size_t n, double *out);
/* Reads a quote out of an exchange's JSON answer given a path like "result.XXBTZUSD.c.0" or
 * "data.amount" or "price" (numbers or numeric strings). Returns 0 or E_PROTO. */
int billing_quote_parse(double *out, const char *text, size_t len, const char *path);

#endif
