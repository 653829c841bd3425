/* test_billing_cost.c -- the metered cost, the estimate and the cost object
 * (billing/cost.c).
 *
 * Unless said otherwise: BTC_USD = 100,000 and no fees, so a price of 1e-6 USD per token is
 * 1e-6 × 10^8 / 10^5 = 0.001 sats = 1 msat per token. The doubles carry binary noise (1e-6 is
 * not exact), which the single rounding must ignore. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "billing/billing.h"

static const struct billing_rates R = {.btc_usd = 100000, .exchange_fee = 1, .provider_fee = 1,
                                       .tolerance_pct = 1, .min_request_msat = 1};

static struct billing_model model(double p, double c, double cache_read, double cache_write)
{
    return (struct billing_model){.id = "v/m", .enabled = true,
                                  .usd = {.prompt = p, .completion = c,
                                          .input_cache_read = cache_read,
                                          .input_cache_write = cache_write}};
}

static struct billing_usage usage(int64_t in, int64_t out, int64_t cr, int64_t cw)
{
    return (struct billing_usage){.present = true, .input_tokens = in, .output_tokens = out,
                                  .cache_read_tokens = cr, .cache_write_tokens = cw};
}

static void expect(const struct billing_cost *c, int64_t base, int64_t in, int64_t out,
                   int64_t cr, int64_t cw, int64_t total)
{
    assert_int_equal(c->base_msat, base);
    assert_int_equal(c->input_msat, in);
    assert_int_equal(c->output_msat, out);
    assert_int_equal(c->cache_read_msat, cr);
    assert_int_equal(c->cache_write_msat, cw);
    assert_int_equal(c->total_msat, total);
    assert_int_equal(base + in + out + cr + cw, total);
}

static void assert_close(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want)))
        fail_msg("%.17g != %.17g", got, want);
}

/* routstr-api.md §4.4: prompt $3e-6, completion $1.5e-5, fee 1.01, BTC $100,000:
 * 3e-6 × 1.01 × 10^8 / 10^5 = 0.00303 sats = 3.03 msat per token → 1000 × 3.03 = 3030;
 * 1.5e-5 × 1.01 → 15.15 msat per token → 200 × 15.15 = 3030; total 6060, no request price. */
static void test_worked_example(void **state)
{
    struct billing_rates r = R;
    r.provider_fee = 1.01;
    struct billing_model m = model(3e-6, 1.5e-5, 0, 0);
    struct billing_usage u = usage(1000, 200, 0, 0);
    struct billing_cost c;
    billing_cost(&c, &m, &r, NULL, &u);
    expect(&c, 0, 3030, 3030, 0, 0, 6060);
    assert_false(c.estimated);
    /* total_usd = 6060 msat = 6.06 sats × $0.001 = $0.00606 */
    assert_close(c.total_usd, 0.00606);
}

static void test_cache_rates(void **state)
{
    /* in 2, out 8, cache read 0.5, cache write 2.5 msat per token:
     * 1000 × 2 + 100 × 8 + 3000 × 0.5 + 400 × 2.5 = 2000 + 800 + 1500 + 1000 = 5300 */
    struct billing_model m = model(2e-6, 8e-6, 0.5e-6, 2.5e-6);
    struct billing_usage u = usage(1000, 100, 3000, 400);
    struct billing_cost c;
    billing_cost(&c, &m, &R, NULL, &u);
    expect(&c, 0, 2000, 800, 1500, 1000, 5300);
    /* no cache prices: both fall back to the input rate, 3000 × 2 + 400 × 2 = 6800;
     * 2000 + 800 + 6000 + 800 = 9600 */
    m = model(2e-6, 8e-6, 0, 0);
    billing_cost(&c, &m, &R, NULL, &u);
    expect(&c, 0, 2000, 800, 6000, 800, 9600);
}

static void test_rounds_up_once(void **state)
{
    /* 0.3 msat per token each way: 1 in + 1 out = 0.6 → 1 msat (not 1 + 1); the msat goes to
     * the part with the largest fraction, the earlier on a tie (input) */
    struct billing_model m = model(0.3e-6, 0.3e-6, 0, 0);
    struct billing_usage u = usage(1, 1, 0, 0);
    struct billing_cost c;
    billing_cost(&c, &m, &R, NULL, &u);
    expect(&c, 0, 1, 0, 0, 0, 1);
    /* 3 in + 1 out = 0.9 + 0.3 = 1.2 → 2: one msat to each */
    u = usage(3, 1, 0, 0);
    billing_cost(&c, &m, &R, NULL, &u);
    expect(&c, 0, 1, 1, 0, 0, 2);
    /* exact integers stay as they are despite the noise of 0.3e-6: 10 × 0.3 = 3 */
    u = usage(10, 0, 0, 0);
    billing_cost(&c, &m, &R, NULL, &u);
    expect(&c, 0, 3, 0, 0, 0, 3);
    /* zero usage, explicitly: free of tokens (no request price) */
    u = usage(0, 0, 0, 0);
    billing_cost(&c, &m, &R, NULL, &u);
    expect(&c, 0, 0, 0, 0, 0, 0);
    billing_cost(&c, &m, &R, NULL, NULL);
    expect(&c, 0, 0, 0, 0, 0, 0);
}

/* gpt-4o-mini at the default fees (1.005 × 1.05 = 1.05525):
 * in  0.15e-6 × 1.05525 × 10^6 = 0.1582875 msat per token × 1000 = 158.2875
 * out 0.60e-6 × 1.05525 × 10^6 = 0.63315 msat per token × 500 = 316.575
 * total ceil(474.8625) = 475; floors 158 + 316 = 474, the msat left goes to output (.575). */
static void test_default_fees(void **state)
{
    struct billing_rates r = R;
    r.exchange_fee = 1.005;
    r.provider_fee = 1.05;
    struct billing_model m = model(0.15e-6, 0.6e-6, 0, 0);
    struct billing_usage u = usage(1000, 500, 0, 0);
    struct billing_cost c;
    billing_cost(&c, &m, &r, NULL, &u);
    expect(&c, 0, 158, 317, 0, 0, 475);
    assert_close(c.total_usd, 0.000475);

    /* fees 1.25 × 2 = 2.5 at BTC $10^8 (1 USD = 1 sat): 0.25 USD → 625 msat per token,
     * 0.5 → 1250; 3 in + 2 out = 1875 + 2500 = 4375 msat = 4.375 sats = $4.375 */
    struct billing_rates f = {.btc_usd = 1e8, .exchange_fee = 1.25, .provider_fee = 2,
                              .min_request_msat = 1};
    m = model(0.25, 0.5, 0, 0);
    u = usage(3, 2, 0, 0);
    billing_cost(&c, &m, &f, NULL, &u);
    expect(&c, 0, 1875, 2500, 0, 0, 4375);
    assert_true(c.total_usd == 4.375);
}

static void test_request_price(void **state)
{
    /* request $1e-3 → 1 sat → base 1000 msat; plus 10 × 2 = 20 */
    struct billing_model m = model(2e-6, 8e-6, 0, 0);
    m.usd.request = 1e-3;
    struct billing_usage u = usage(10, 0, 0, 0);
    struct billing_cost c;
    billing_cost(&c, &m, &R, NULL, &u);
    expect(&c, 1000, 20, 0, 0, 0, 1020);
    /* no request price: base 0, even though /v1/models shows MIN_REQUEST_MSAT/1000 sats */
    struct billing_rates r = R;
    r.min_request_msat = 1000;
    m.usd.request = 0;
    billing_cost(&c, &m, &r, NULL, &u);
    expect(&c, 0, 20, 0, 0, 0, 20);
}

static void test_estimate(void **state)
{
    /* 10 characters → ceil(10/4) = 3 tokens, 8 → 2: 3 × 2 + 2 × 8 = 22 */
    struct billing_model m = model(2e-6, 8e-6, 0, 0);
    struct billing_cost c;
    billing_cost_estimate(&c, &m, &R, NULL, 10, 8);
    expect(&c, 0, 6, 16, 0, 0, 22);
    assert_true(c.estimated);
    billing_cost_estimate(&c, &m, &R, NULL, 0, 0);
    expect(&c, 0, 0, 0, 0, 0, 0);
    assert_true(c.estimated);
    /* fixed rates: 1500 and 3000 msat per 1k: 3 × 1.5 + 2 × 3 = 10.5, + 5000 → 5011 */
    struct billing_fixed f = {.per_request_msat = 5000, .per_1k_input_msat = 1500,
                              .per_1k_output_msat = 3000};
    billing_cost_estimate(&c, &m, &R, &f, 10, 8);
    expect(&c, 5000, 5, 6, 0, 0, 5011);
}

static void test_fixed(void **state)
{
    /* 5000 per request; 1001 in × 1.5 = 1501.5, 333 out × 3 = 999, 10 cache read at the input
     * rate × 1.5 = 15: 5000 + 1501.5 + 999 + 15 = 7515.5 → 7516, the half msat to input */
    struct billing_model m = model(2e-6, 8e-6, 0, 0);
    struct billing_fixed f = {.per_request_msat = 5000, .per_1k_input_msat = 1500,
                              .per_1k_output_msat = 3000};
    struct billing_usage u = usage(1001, 333, 10, 0);
    struct billing_cost c;
    billing_cost(&c, &m, &R, &f, &u);
    expect(&c, 5000, 1502, 999, 15, 0, 7516);
    /* total_usd = 7.516 sats × $0.001 */
    assert_close(c.total_usd, 0.007516);
    /* no quote needed; then no USD either */
    struct billing_rates none = R;
    none.btc_usd = 0;
    billing_cost(&c, NULL, &none, &f, &u);
    expect(&c, 5000, 1502, 999, 15, 0, 7516);
    assert_true(c.total_usd == 0);
    /* per-request only */
    struct billing_fixed only = {.per_request_msat = 5000};
    billing_cost(&c, NULL, &R, &only, &u);
    expect(&c, 5000, 0, 0, 0, 0, 5000);
}

static void test_cannot_price(void **state)
{
    struct billing_model m = model(2e-6, 8e-6, 0, 0);
    struct billing_usage u = usage(10, 10, 0, 0);
    struct billing_rates none = R;
    none.btc_usd = 0;
    struct billing_cost c;
    billing_cost(&c, &m, &none, NULL, &u);
    expect(&c, 0, 0, 0, 0, 0, 0);
    billing_cost(&c, NULL, &R, NULL, &u);
    expect(&c, 0, 0, 0, 0, 0, 0);
}

static void test_saturates(void **state)
{
    /* 10^15 tokens at $1000 per token and BTC at $1: clamped, and the parts still add up */
    struct billing_rates r = {.btc_usd = 1, .exchange_fee = 1, .provider_fee = 1,
                              .min_request_msat = 1};
    struct billing_model m = model(1000, 1000, 0, 0);
    struct billing_usage u = usage(INT64_C(1000000000000000), INT64_C(1000000000000000), 0, 0);
    struct billing_cost c;
    billing_cost(&c, &m, &r, NULL, &u);
    assert_true(c.total_msat > 0 && c.total_msat <= INT64_C(1000000000000000000));
    assert_int_equal(c.base_msat + c.input_msat + c.output_msat + c.cache_read_msat +
                         c.cache_write_msat,
                     c.total_msat);
}

static void test_cost_json(void **state)
{
    struct billing_cost c = {.base_msat = 1, .input_msat = 2, .output_msat = 3,
                             .cache_read_msat = 4, .cache_write_msat = 5, .total_msat = 15,
                             .total_usd = 0.015};
    struct billing_usage u = usage(10, 20, 30, 40);
    json_t *j = billing_cost_json(&c, &u);
    static const struct {
        const char *key;
        int64_t v;
    } ints[] = {{"base_msats", 1},
                {"input_msats", 2},
                {"output_msats", 3},
                {"total_msats", 15},
                {"cache_read_input_tokens", 30},
                {"cache_creation_input_tokens", 40},
                {"cache_read_msats", 4},
                {"cache_creation_msats", 5}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const json_t *v = json_object_get(j, ints[i].key);
        if (!json_is_integer(v) || json_integer_value(v) != ints[i].v)
            fail_msg("%s", ints[i].key);
    }
    assert_true(json_is_real(json_object_get(j, "total_usd")));
    assert_true(json_real_value(json_object_get(j, "total_usd")) == 0.015);
    assert_null(json_object_get(j, "estimated"));
    assert_int_equal(json_object_size(j), 9);
    json_decref(j);

    c.estimated = true;
    j = billing_cost_json(&c, NULL);
    assert_true(json_is_true(json_object_get(j, "estimated")));
    assert_int_equal(json_integer_value(json_object_get(j, "cache_read_input_tokens")), 0);
    assert_int_equal(json_object_size(j), 10);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example), cmocka_unit_test(test_cache_rates),
        cmocka_unit_test(test_rounds_up_once), cmocka_unit_test(test_default_fees),
        cmocka_unit_test(test_request_price),  cmocka_unit_test(test_estimate),
        cmocka_unit_test(test_fixed),          cmocka_unit_test(test_cannot_price),
        cmocka_unit_test(test_saturates),      cmocka_unit_test(test_cost_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
