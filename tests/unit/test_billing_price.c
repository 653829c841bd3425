/* test_billing_price.c -- fees, max costs, sats, the /v1/models entry, BTC/USD quotes
 * (billing/price.c).
 *
 * Most cases use BTC_USD = 10^8 (1 USD = 1 sat) and prices that are sums of powers of two, so
 * every figure is exact in binary and is written below as computed by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "billing/billing.h"

static const struct billing_rates ONE_TO_ONE = {
    .btc_usd = 1e8, .exchange_fee = 1, .provider_fee = 1, .tolerance_pct = 0,
    .min_request_msat = 1};

static struct billing_model model(double p, double c, int64_t cl, int64_t mct, int64_t ctx)
{
    return (struct billing_model){.id = "v/m", .name = "M", .description = "",
                                  .usd = {.prompt = p, .completion = c},
                                  .top_context_length = cl, .top_max_completion_tokens = mct,
                                  .context_length = ctx, .enabled = true};
}

static void assert_close(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want) + 1e-18))
        fail_msg("%.17g != %.17g", got, want);
}

static void check_max(const struct billing_model *m, double mp, double mc, double mx)
{
    struct billing_model_prices out;
    assert_int_equal(billing_model_prices(&out, m, &ONE_TO_ONE), E_OK);
    assert_true(out.usd_max_prompt == mp);
    assert_true(out.usd_max_completion == mc);
    assert_true(out.usd_max_cost == mx);
    /* 1 USD = 1 sat here */
    assert_true(out.sats_max_prompt == mp);
    assert_true(out.sats_max_completion == mc);
    assert_true(out.sats_max_cost == mx);
}

/* §4.3, p = 0.25, c = 0.5 USD per token. */
static void test_max_cost_branches(void **state)
{
    /* cl 1000 > mct 200: (1000·p, 200·c, 800·p + 200·c) = (250, 100, 200 + 100) */
    struct billing_model m = model(0.25, 0.5, 1000, 200, 0);
    check_max(&m, 250, 100, 300);
    /* cl 100 ≤ mct 200: (100·p, 100·c, 100·max(p,c)) = (25, 50, 50) */
    m = model(0.25, 0.5, 100, 200, 0);
    check_max(&m, 25, 50, 50);
    /* only cl 100: the same */
    m = model(0.25, 0.5, 100, 0, 0);
    check_max(&m, 25, 50, 50);
    /* only mct 200: (200·p, 200·c, 200·c) = (50, 100, 100), context_length ignored */
    m = model(0.25, 0.5, 0, 200, 999);
    check_max(&m, 50, 100, 100);
    /* no top_provider limits, context_length 400: as only cl = (100, 200, 400·max) = 200 */
    m = model(0.25, 0.5, 0, 0, 400);
    check_max(&m, 100, 200, 200);
    /* none: (p·10^6, c·32000, p·10^6 + c·32000 + request·10^5 + image·100 + web·1000 +
     * reasoning·100) with request 2, image 0.5, web 0.125, reasoning 1:
     * 250000 + 16000 + 200000 + 50 + 125 + 100 = 466275 */
    m = model(0.25, 0.5, 0, 0, 0);
    m.usd.request = 2;
    m.usd.image = 0.5;
    m.usd.web_search = 0.125;
    m.usd.internal_reasoning = 1;
    check_max(&m, 250000, 16000, 466275);
}

static void test_fees_and_sats(void **state)
{
    /* fee = 1.25 × 2 = 2.5; 1 USD = 10^8 / 50000 = 2000 sats */
    struct billing_rates r = {.btc_usd = 50000, .exchange_fee = 1.25, .provider_fee = 2,
                              .min_request_msat = 1};
    struct billing_model m = model(0.25, 0.5, 1000, 200, 0);
    m.usd.input_cache_read = 0.125;
    struct billing_model_prices out;
    assert_int_equal(billing_model_prices(&out, &m, &r), E_OK);
    assert_true(out.usd.prompt == 0.625);           /* 0.25 × 2.5 */
    assert_true(out.usd.completion == 1.25);        /* 0.5 × 2.5 */
    assert_true(out.usd.input_cache_read == 0.3125);
    assert_true(out.usd_max_cost == 750);           /* 300 × 2.5 */
    assert_true(out.sats.prompt == 1250);           /* 0.625 × 2000 */
    assert_true(out.sats.completion == 2500);
    assert_true(out.sats.input_cache_read == 625);
    assert_true(out.sats_max_prompt == 1250000);    /* 625 × 2000 */
    assert_true(out.sats_max_completion == 500000); /* 250 × 2000 */
    assert_true(out.sats_max_cost == 1500000);      /* 750 × 2000 */
    /* the request price 0 is shown as MIN_REQUEST_MSAT / 1000 = 0.001 sats */
    assert_true(out.sats.request == 0.001);

    /* the defaults, 1.005 × 1.05 = 1.05525, at $100,000: 1e-6 USD → 1.05525e-3 sats */
    struct billing_rates d = {.btc_usd = 100000, .exchange_fee = 1.005, .provider_fee = 1.05,
                              .min_request_msat = 1};
    m = model(1e-6, 2e-6, 0, 0, 1000);
    assert_int_equal(billing_model_prices(&out, &m, &d), E_OK);
    assert_close(out.usd.prompt, 1.05525e-6);
    assert_close(out.sats.prompt, 1.05525e-3);
    assert_close(out.sats.completion, 2.1105e-3);

    /* §4.4's example: $3e-6 and $1.5e-5 per token, fee 1.01, $100,000 → 0.00303 and 0.01515 */
    struct billing_rates w = {.btc_usd = 100000, .exchange_fee = 1, .provider_fee = 1.01,
                              .min_request_msat = 1};
    m = model(3e-6, 1.5e-5, 0, 0, 0);
    assert_int_equal(billing_model_prices(&out, &m, &w), E_OK);
    assert_close(out.sats.prompt, 0.00303);
    assert_close(out.sats.completion, 0.01515);

    /* a fee that is 0 or not a number counts as 1, never as free */
    struct billing_rates z = ONE_TO_ONE;
    z.exchange_fee = 0;
    z.provider_fee = NAN;
    m = model(0.25, 0.5, 0, 0, 100);
    assert_int_equal(billing_model_prices(&out, &m, &z), E_OK);
    assert_true(out.usd.prompt == 0.25);
}

static void test_floors_and_no_quote(void **state)
{
    struct billing_rates r = ONE_TO_ONE;
    r.min_request_msat = 5000;
    struct billing_model m = model(0, 0, 0, 0, 0);
    struct billing_model_prices out;
    assert_int_equal(billing_model_prices(&out, &m, &r), E_OK);
    /* "none" max cost: max(0, MIN_REQUEST_MSAT / 10^6) = 0.005 USD; sats floor 5000/1000 = 5 */
    assert_true(out.usd_max_cost == 0.005);
    assert_true(out.sats_max_cost == 5);
    assert_true(out.sats.request == 5);
    /* a request price above the floor is kept: 8 USD = 8 sats */
    m.usd.request = 8;
    assert_int_equal(billing_model_prices(&out, &m, &r), E_OK);
    assert_true(out.sats.request == 8);

    r.btc_usd = 0;
    assert_int_equal(billing_model_prices(&out, &m, &r), E_AGAIN);
    assert_true(out.usd.request == 8); /* USD is still filled */
    assert_true(out.sats.request == 0);
    r.btc_usd = NAN;
    assert_int_equal(billing_model_prices(&out, &m, &r), E_AGAIN);
}

static const char *const PRICE_KEYS[] = {
    "prompt", "completion", "request", "image", "web_search", "internal_reasoning",
    "input_cache_read", "input_cache_write", "max_prompt_cost", "max_completion_cost",
    "max_cost"};

static void check_price_object(const json_t *o)
{
    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), 11);
    for (size_t i = 0; i < 11; i++) {
        const json_t *v = json_object_get(o, PRICE_KEYS[i]);
        if (!json_is_number(v))
            fail_msg("%s is not a number", PRICE_KEYS[i]);
    }
}

static void test_model_json(void **state)
{
    char *aliases[] = {"fast"};
    struct billing_model m = model(0.25, 0.5, 1000, 200, 1000);
    m.id = "vendor/model-x";
    m.name = "Model X";
    m.description = "test";
    m.created = 1700000000;
    m.canonical_slug = "vendor/model-x-2024-01-01";
    m.aliases = aliases;
    m.n_aliases = 1;
    m.top_provider = json_pack("{s:i,s:i,s:b}", "context_length", 1000,
                               "max_completion_tokens", 200, "is_moderated", 1);

    json_t *j = billing_model_json(&m, &ONE_TO_ONE);
    static const char *const keys[] = {
        "id", "name", "created", "description", "context_length", "architecture", "pricing",
        "sats_pricing", "per_request_limits", "top_provider", "enabled",
        "upstream_provider_id", "canonical_slug", "alias_ids", "forwarded_model_id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (json_object_get(j, keys[i]) == NULL)
            fail_msg("no %s", keys[i]);
    }
    assert_string_equal(json_string_value(json_object_get(j, "id")), "vendor/model-x");
    assert_int_equal(json_integer_value(json_object_get(j, "created")), 1700000000);
    assert_int_equal(json_integer_value(json_object_get(j, "context_length")), 1000);
    assert_true(json_is_true(json_object_get(j, "enabled")));
    assert_true(json_is_string(json_object_get(j, "upstream_provider_id")));
    assert_true(json_is_null(json_object_get(j, "forwarded_model_id")));
    assert_true(json_is_null(json_object_get(j, "per_request_limits")));
    assert_string_equal(json_string_value(json_object_get(j, "canonical_slug")),
                        "vendor/model-x-2024-01-01");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "alias_ids"), 0)),
                        "fast");
    check_price_object(json_object_get(j, "pricing"));
    check_price_object(json_object_get(j, "sats_pricing"));
    /* numbers, not strings: 800·0.25 + 200·0.5 = 300 USD = 300 sats here */
    assert_true(json_real_value(json_object_get(json_object_get(j, "sats_pricing"), "max_cost")) ==
                300);
    assert_true(json_real_value(json_object_get(json_object_get(j, "pricing"), "prompt")) == 0.25);
    assert_true(json_real_value(json_object_get(json_object_get(j, "sats_pricing"), "request")) ==
                0.001);
    /* the default architecture of a text model */
    const json_t *a = json_object_get(j, "architecture");
    assert_string_equal(json_string_value(json_object_get(a, "modality")), "text->text");
    assert_true(json_is_array(json_object_get(a, "input_modalities")));
    assert_true(json_is_array(json_object_get(a, "output_modalities")));
    assert_non_null(json_object_get(a, "tokenizer"));
    assert_non_null(json_object_get(a, "instruct_type"));
    const json_t *t = json_object_get(j, "top_provider");
    assert_int_equal(json_integer_value(json_object_get(t, "max_completion_tokens")), 200);
    assert_true(json_is_true(json_object_get(t, "is_moderated")));
    json_decref(j);

    /* no quote yet: sats_pricing is null; no top_provider: made up from context_length */
    struct billing_rates none = ONE_TO_ONE;
    none.btc_usd = 0;
    json_decref(m.top_provider);
    m.top_provider = NULL; /* as parsed from an entry without top_provider */
    m.top_context_length = m.top_max_completion_tokens = 0;
    m.aliases = NULL;
    m.n_aliases = 0;
    m.canonical_slug = NULL;
    j = billing_model_json(&m, &none);
    assert_true(json_is_null(json_object_get(j, "sats_pricing")));
    check_price_object(json_object_get(j, "pricing"));
    t = json_object_get(j, "top_provider");
    assert_int_equal(json_integer_value(json_object_get(t, "context_length")), 1000);
    assert_true(json_is_null(json_object_get(t, "max_completion_tokens")));
    assert_true(json_is_false(json_object_get(t, "is_moderated")));
    assert_true(json_is_null(json_object_get(j, "canonical_slug")));
    assert_int_equal(json_array_size(json_object_get(j, "alias_ids")), 0);
    char *s = json_dumps(j, 0);
    assert_non_null(s);
    free(s);
    json_decref(j);
}

static void test_btc_combine(void **state)
{
    double q[] = {0, NAN, -1, 65000.5, 64000.25, INFINITY}, out = 0;
    assert_int_equal(billing_btc_usd_combine(q, 6, &out), E_OK);
    assert_true(out == 64000.25); /* the lowest valid quote */
    assert_int_equal(billing_btc_usd_combine(q, 3, &out), E_NOTFOUND);
    assert_int_equal(billing_btc_usd_combine(NULL, 0, &out), E_NOTFOUND);
}

static int quote(double *out, const char *text, const char *path)
{
    return billing_quote_parse(out, text, strlen(text), path);
}

static void test_quote_parse(void **state)
{
    double v = 0;
    const char *kraken = "{\"error\":[],\"result\":{\"XXBTZUSD\":{\"a\":[\"64000.1\",\"1\"],"
                         "\"c\":[\"64321.5\",\"0.001\"]}}}";
    assert_int_equal(quote(&v, kraken, "result.XXBTZUSD.c.0"), E_OK);
    assert_true(v == 64321.5);
    assert_int_equal(quote(&v, "{\"data\":{\"amount\":\"64000.12\",\"base\":\"BTC\"}}",
                           "data.amount"),
                     E_OK);
    assert_true(v == 64000.12);
    assert_int_equal(quote(&v, "{\"symbol\":\"BTCUSDT\",\"price\":\"64010.00000000\"}", "price"),
                     E_OK);
    assert_true(v == 64010);
    assert_int_equal(quote(&v, "{\"p\":[1,{\"q\":65000}]}", "p.1.q"), E_OK);
    assert_true(v == 65000);

    v = 1;
    assert_int_equal(quote(&v, kraken, "result.XXBTZUSD.c.2"), E_PROTO);   /* out of range */
    assert_int_equal(quote(&v, kraken, "result.XXBTZUSD.c.x"), E_PROTO);   /* not an index */
    assert_int_equal(quote(&v, kraken, "result.XXBTZUSD.c"), E_PROTO);     /* an array */
    assert_int_equal(quote(&v, kraken, "result..c"), E_PROTO);
    assert_int_equal(quote(&v, kraken, "result.nope"), E_PROTO);
    assert_int_equal(quote(&v, "{\"price\":\"abc\"}", "price"), E_PROTO);
    assert_int_equal(quote(&v, "{\"price\":0}", "price"), E_PROTO);
    assert_int_equal(quote(&v, "{\"price\":\"-5\"}", "price"), E_PROTO);
    assert_int_equal(quote(&v, "{\"price\":\"nan\"}", "price"), E_PROTO);
    assert_int_equal(quote(&v, "{\"a\":\"1\"}", "a.b"), E_PROTO);          /* through a string */
    assert_int_equal(quote(&v, "<html>", "price"), E_PROTO);
    assert_true(v == 1); /* untouched on error */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_cost_branches), cmocka_unit_test(test_fees_and_sats),
        cmocka_unit_test(test_floors_and_no_quote), cmocka_unit_test(test_model_json),
        cmocka_unit_test(test_btc_combine),        cmocka_unit_test(test_quote_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
