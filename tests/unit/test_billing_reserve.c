/* test_billing_reserve.c -- the reservation R of routstr-api.md §3.2 (billing/reserve.c).
 *
 * Rates: BTC_USD = 10^8 and no fees, so 1 USD = 1 sat = 1000 msat. Prices: prompt 0.25 and
 * completion 0.5 USD (= sats) per token, exact in binary. Every R below is worked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "billing/billing.h"

static struct billing_rates rates(double tolerance_pct, int64_t min_msat)
{
    return (struct billing_rates){.btc_usd = 1e8, .exchange_fee = 1, .provider_fee = 1,
                                  .tolerance_pct = tolerance_pct,
                                  .min_request_msat = min_msat};
}

static struct billing_model model(int64_t cl, int64_t mct, int64_t ctx)
{
    return (struct billing_model){.id = "v/m", .usd = {.prompt = 0.25, .completion = 0.5},
                                  .top_context_length = cl, .top_max_completion_tokens = mct,
                                  .context_length = ctx, .enabled = true};
}

static int64_t reserve(const struct billing_model *m, const struct billing_rates *r,
                       const struct billing_fixed *fixed, const char *body)
{
    json_t *b = body ? json_loads(body, 0, NULL) : NULL;
    assert_true(body == NULL || b != NULL);
    int64_t v = billing_reservation_msat(m, r, fixed, b);
    json_decref(b);
    return v;
}

/* 30 characters: est = 10 tokens */
#define MSG30 "{\"role\":\"user\",\"content\":\"abcdefghijklmnopqrstuvwxyz0123\"}"

/* cl 1000 > mct 200: max_cost = 800·0.25 + 200·0.5 = 300 sats, max_completion = 100 sats,
 * L = 1000 − 200 = 800 so maxP = 800 × 0.25 = 200 sats. */
static void test_cl_and_mct(void **state)
{
    struct billing_model m = model(1000, 200, 0);
    struct billing_rates r = rates(0, 1);
    /* R0 = 300 × 1000 = 300000 */
    assert_int_equal(reserve(&m, &r, NULL, NULL), 300000);
    assert_int_equal(reserve(&m, &r, NULL, "{}"), 300000);
    /* est 10: d = 200 − 10 × 0.25 = 197.5 sats → 300000 − 197500 = 102500 */
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "]}"), 102500);
    /* and max_tokens 50: d = 100 − 50 × 0.5 = 75 → 102500 − 75000 = 27500
     * (= 10 × 250 + 50 × 500 msat: what the prompt and max_tokens can cost) */
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "],\"max_tokens\":50}"),
                     27500);
    /* max_tokens 300: d = 100 − 150 < 0, no discount */
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "],\"max_tokens\":300}"),
                     102500);
    /* max_tokens must be a JSON integer ≥ 0: a string, a real, a boolean or a negative get
     * no discount */
    assert_int_equal(reserve(&m, &r, NULL, "{\"max_tokens\":\"50\"}"), 300000);
    assert_int_equal(reserve(&m, &r, NULL, "{\"max_tokens\":50.0}"), 300000);
    assert_int_equal(reserve(&m, &r, NULL, "{\"max_tokens\":true}"), 300000);
    assert_int_equal(reserve(&m, &r, NULL, "{\"max_tokens\":-5}"), 300000);
    /* max_tokens 0 and an empty prompt: 300000 − 200000 − 100000 = 0 → MIN 1 */
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[],\"max_tokens\":0}"), 1);
    /* ... or a MIN of 50000 */
    struct billing_rates r50 = rates(0, 50000);
    assert_int_equal(reserve(&m, &r50, NULL, "{\"messages\":[],\"max_tokens\":0}"), 50000);
    /* Responses bodies ("input") get no prompt discount; max_output_tokens is not max_tokens */
    assert_int_equal(reserve(&m, &r, NULL, "{\"input\":\"hi\",\"max_output_tokens\":5}"),
                     300000);
    /* "messages" that is not an array: no discount */
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":\"abc\"}"), 300000);
}

static void test_prompt_estimate(void **state)
{
    struct billing_model m = model(1000, 200, 0);
    struct billing_rates r = rates(0, 1);
    /* characters are summed over messages before dividing: 2 + 2 = 4 → est 1;
     * d = 200 − 0.25 = 199.75 → 300000 − 199750 = 100250 */
    assert_int_equal(reserve(&m, &r, NULL,
                             "{\"messages\":[{\"content\":\"ab\"},{\"content\":\"cd\"}]}"),
                     100250);
    /* text parts count, images are 85 tokens each, other parts and null content nothing:
     * 6 chars → 2, + 2 × 85 → est 172; d = 200 − 43 = 157 → 143000 */
    assert_int_equal(
        reserve(&m, &r, NULL,
                "{\"messages\":[{\"content\":[{\"type\":\"text\",\"text\":\"abcdef\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}},"
                "{\"type\":\"input_image\"},{\"type\":\"input_text\",\"text\":\"no no no\"},"
                "{\"text\":\"no type\"}]},{\"role\":\"assistant\",\"content\":null}]}"),
        143000);
    /* code points, not bytes: "héllo wörld€" is 12 characters (15 bytes) → est 4;
     * d = 200 − 1 = 199 → 101000 (bytes would give est 5 → 101250) */
    assert_int_equal(reserve(&m, &r, NULL,
                             "{\"messages\":[{\"content\":\"h\\u00e9llo w\\u00f6rld\\u20ac\"}]}"),
                     101000);
}

static void test_limit_branches(void **state)
{
    struct billing_rates r = rates(0, 1);
    /* cl 100 ≤ mct 200: L = 0, so no prompt discount; max_cost = 100 × 0.5 = 50 sats,
     * max_completion = 100 × 0.5 = 50; max_tokens 10: d = 50 − 5 = 45 → 50000 − 45000 */
    struct billing_model m = model(100, 200, 0);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "]}"), 50000);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "],\"max_tokens\":10}"), 5000);
    /* only cl 100: L = 100, maxP = 25; R0 = 50000; empty prompt: d = 25 → 25000;
     * max_tokens 80: d = 50 − 40 = 10 → 15000 */
    m = model(100, 0, 0);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[],\"max_tokens\":80}"), 15000);
    /* only mct 200 (context_length ignored): L = 0; max_cost = 200 × 0.5 = 100 sats;
     * max_tokens 50: d = 100 − 25 = 75 → 25000 */
    m = model(0, 200, 999);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "]}"), 100000);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "],\"max_tokens\":50}"),
                     25000);
    /* context_length 400 only: L = 400, maxP = 100; max_cost = 400 × 0.5 = 200 sats;
     * 12 chars → est 4: d = 100 − 1 = 99 → 200000 − 99000 = 101000 */
    m = model(0, 0, 400);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[{\"content\":\"abcdefghijkl\"}]}"),
                     101000);
    /* nothing known: maxP = 0.25 × 10^6 = 250000 sats, maxC = 0.5 × 32000 = 16000,
     * max_cost = 266000 sats → R0 = 266,000,000; est 4: d = 249999 → 16,001,000;
     * max_tokens 10: d = 16000 − 5 = 15995 → 6000 (= 4 × 250 + 10 × 500) */
    m = model(0, 0, 0);
    assert_int_equal(reserve(&m, &r, NULL, NULL), 266000000);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[{\"content\":\"abcdefghijkl\"}]}"),
                     16001000);
    assert_int_equal(reserve(&m, &r, NULL,
                             "{\"messages\":[{\"content\":\"abcdefghijkl\"}],\"max_tokens\":10}"),
                     6000);
}

static void test_tolerance(void **state)
{
    struct billing_model m = model(1000, 200, 0);
    /* 50 %: R0 = trunc(300 × 1000 × 0.5) = 150000; maxP = 800 × 0.25 × 0.5 = 100,
     * maxC = 100 × 0.5 = 50; est 10: d = 100 − 2.5 = 97.5 → 52500; max_tokens 50:
     * d = 50 − 25 = 25 → 27500 */
    struct billing_rates r = rates(50, 1);
    assert_int_equal(reserve(&m, &r, NULL, NULL), 150000);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "]}"), 52500);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "],\"max_tokens\":50}"),
                     27500);
    /* 150 %: R0 = trunc(300000 × −0.5) < 0 → MIN; tol = max(0, −0.5) = 0: no discounts */
    r = rates(150, 1);
    assert_int_equal(reserve(&m, &r, NULL, "{\"messages\":[" MSG30 "],\"max_tokens\":50}"), 1);
    /* the default 1 %: R0 = trunc(300000 × 0.99) = 297000 */
    r = rates(1, 1);
    assert_int_equal(reserve(&m, &r, NULL, NULL), 297000);
}

static void test_no_quote(void **state)
{
    struct billing_model m = model(1000, 200, 0);
    struct billing_rates r = rates(0, 7);
    r.btc_usd = 0;
    assert_int_equal(reserve(&m, &r, NULL, NULL), 7);
    assert_int_equal(reserve(NULL, &r, NULL, NULL), 7);
}

static void test_fixed(void **state)
{
    struct billing_model m = model(1000, 200, 0);
    struct billing_rates r = rates(0, 1);
    struct billing_fixed f = {.per_request_msat = 5000};
    /* model prices are never used */
    assert_int_equal(reserve(&m, &r, &f, "{\"max_tokens\":1001}"), 5000);
    assert_int_equal(reserve(NULL, &r, &f, NULL), 5000);
    /* with 1500 msat per 1k output tokens: ceil(1001 × 1500 / 1000) = ceil(1501.5) = 1502 */
    f.per_1k_output_msat = 1500;
    assert_int_equal(reserve(&m, &r, &f, "{\"max_tokens\":1001}"), 6502);
    assert_int_equal(reserve(&m, &r, &f, "{\"max_tokens\":1000}"), 6500);
    assert_int_equal(reserve(&m, &r, &f, "{\"max_tokens\":\"1000\"}"), 5000);
    assert_int_equal(reserve(&m, &r, &f, NULL), 5000);
    /* floored at MIN */
    struct billing_fixed free_node = {0};
    struct billing_rates r3 = rates(0, 3);
    assert_int_equal(reserve(&m, &r3, &free_node, NULL), 3);
    /* saturates instead of overflowing */
    f.per_1k_output_msat = INT64_MAX / 2;
    assert_int_equal(reserve(&m, &r, &f, "{\"max_tokens\":9223372036854775807}"), INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cl_and_mct),  cmocka_unit_test(test_prompt_estimate),
        cmocka_unit_test(test_limit_branches), cmocka_unit_test(test_tolerance),
        cmocka_unit_test(test_no_quote),    cmocka_unit_test(test_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
