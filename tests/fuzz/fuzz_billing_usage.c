/* fuzz_billing_usage.c -- libFuzzer target for usage extraction and the metered cost
 * (billing/billing.h).
 *
 * The input is parsed as JSON (any answer an upstream might send); its usage is read with
 * billing_usage_from_body() and priced by billing_cost() for one of three price sets, chosen
 * by the input's length: a model with cache prices and a request price, a model without cache
 * prices, and FIXED_PRICING. Properties, each aborting when violated:
 * - counts are within [0, 10^15] and the reasoning subset is a count too;
 * - the cost parts are non-negative and add up to the total exactly;
 * - the total is the exact price rounded up: within [exact − tiny, exact + 1];
 * - the cost object serialises, and the estimate path holds the same properties. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "billing/billing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c))                                                                             \
            __builtin_trap();                                                                 \
    } while (0)

#define MAX_TOKENS INT64_C(1000000000000000)

static void check_usage(const struct billing_usage *u)
{
    const int64_t v[] = {u->input_tokens, u->output_tokens, u->cache_read_tokens,
                         u->cache_write_tokens, u->reasoning_tokens};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK(v[i] >= 0 && v[i] <= MAX_TOKENS);
    if (!u->present)
        CHECK(u->input_tokens == 0 && u->output_tokens == 0);
}

/* The exact price in msat, in long double, from the same per-1k rates. */
static long double exact(const struct billing_usage *u, long double base, long double in,
                         long double out, long double cr, long double cw)
{
    return base + ((long double)u->input_tokens * in + (long double)u->output_tokens * out +
                   (long double)u->cache_read_tokens * cr +
                   (long double)u->cache_write_tokens * cw) / 1000;
}

static void check_cost(const struct billing_cost *c, const struct billing_usage *u,
                       long double want)
{
    CHECK(c->base_msat >= 0 && c->input_msat >= 0 && c->output_msat >= 0 &&
          c->cache_read_msat >= 0 && c->cache_write_msat >= 0);
    CHECK(c->base_msat + c->input_msat + c->output_msat + c->cache_read_msat +
              c->cache_write_msat ==
          c->total_msat);
    long double t = (long double)c->total_msat;
    if (want < 1e17L) /* below the clamp */
        CHECK(t >= want - want * 1e-9L - 1e-6L && t <= want + 1 + want * 1e-9L);
    json_t *j = billing_cost_json(c, u);
    CHECK(j != NULL && json_integer_value(json_object_get(j, "total_msats")) == c->total_msat);
    char *s = json_dumps(j, JSON_COMPACT);
    CHECK(s != NULL);
    free(s);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (body == NULL)
        return 0;

    /* 1 BTC = $100,000 and no fees: 1 USD = 1,000 sats, so a price of p USD per token is
     * p × 10^9 msat per 1000 tokens. */
    struct billing_rates rates = {.btc_usd = 100000, .exchange_fee = 1, .provider_fee = 1,
                                  .tolerance_pct = 1, .min_request_msat = 1};
    struct billing_model with_cache = {
        .id = "v/with-cache",
        .enabled = true,
        .usd = {.prompt = 3e-6, .completion = 15e-6, .request = 1e-6,
                .input_cache_read = 0.3e-6, .input_cache_write = 3.75e-6},
    };
    struct billing_model plain = {.id = "v/plain", .enabled = true,
                                  .usd = {.prompt = 0.15e-6, .completion = 0.6e-6}};
    struct billing_fixed fixed = {.per_request_msat = 5, .per_1k_input_msat = 7,
                                  .per_1k_output_msat = 11};

    struct billing_usage u, u2;
    billing_usage_from_body(&u, body);
    check_usage(&u);
    billing_usage_parse(&u2, body);
    check_usage(&u2);

    int which = (int)(size % 3);
    const struct billing_model *m = which == 0 ? &with_cache : &plain;
    const struct billing_fixed *fx = which == 2 ? &fixed : NULL;
    long double base, in, out, cr, cw;
    if (fx) {
        base = 5;
        in = 7;
        out = 11;
        cr = cw = 7;
    } else {
        long double k = 1e9L; /* msat per 1000 tokens for 1 USD per token */
        base = (long double)m->usd.request * 1e6L;
        in = (long double)m->usd.prompt * k;
        out = (long double)m->usd.completion * k;
        cr = m->usd.input_cache_read > 0 ? (long double)m->usd.input_cache_read * k : in;
        cw = m->usd.input_cache_write > 0 ? (long double)m->usd.input_cache_write * k : in;
    }

    struct billing_cost c;
    billing_cost(&c, m, &rates, fx, &u);
    CHECK(!c.estimated);
    check_cost(&c, &u, exact(&u, base, in, out, cr, cw));

    /* the estimate from the body's size split in two */
    struct billing_usage est = {.present = true,
                                .input_tokens = (int64_t)((size / 2 + 3) / 4),
                                .output_tokens = (int64_t)((size - size / 2 + 3) / 4)};
    billing_cost_estimate(&c, m, &rates, fx, size / 2, size - size / 2);
    CHECK(c.estimated && c.cache_read_msat == 0 && c.cache_write_msat == 0);
    check_cost(&c, &est, exact(&est, base, in, out, cr, cw));

    json_decref(body);
    return 0;
}
