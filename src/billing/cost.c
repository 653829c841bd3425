/* cost.c -- the metered cost of an answer, and the cost object clients parse
 * (routstr-api.md §4.4 token path, clients.md §4.3 billing rule, §1.2 item 8).
 *
 * Rates are msat per 1000 tokens: the model's sats prices × 10^6 (so msat per token × 1000),
 * or the FIXED_PER_1K_* settings. Cache rates fall back to the input rate when 0. The parts
 *
 *   base        = the request price in msat (sats_pricing.request × 1000 before the display
 *                 floor of MIN_REQUEST_MSAT, or FIXED_COST_PER_REQUEST)
 *   input       = input_tokens × in / 1000
 *   output      = output_tokens × out / 1000
 *   cache_read  = cache_read_tokens × cache_read_rate / 1000
 *   cache_write = cache_write_tokens × cache_write_rate / 1000
 *
 * are kept exact (doubles) and their sum is rounded up once: total = ceil(Σ). Unlike the
 * reference, which rounds each part to 3 decimals first and takes input as total − int(output),
 * each part is then made an integer so that the parts add up to the total exactly (largest
 * remainder): every part is floored, and the msat left over (total − Σ floors, at most one per
 * part with a fraction) go one each to the parts with the largest fractions, ties to the earlier
 * part in the order above. So no part is ever off by more than one msat from its exact value.
 *
 * Binary noise (6060.000000000001 for an exact 6060) is ignored by billing_ceil_msat(). */
#include <math.h>
#include <string.h>

#include "billing/billing.h"
#include "billing/billing_int.h"

enum { P_BASE, P_INPUT, P_OUTPUT, P_CACHE_READ, P_CACHE_WRITE, N_PARTS };

struct per1k {
    double base_msat; /* per request */
    double in, out, cache_read, cache_write;
};

/* Fills r for the model or the fixed settings. Returns false when nothing can be priced (no
 * model and no fixed pricing, or no BTC/USD quote yet; the app answers 503 before that). */
static bool rates_of(struct per1k *r, const struct billing_model *m,
                     const struct billing_rates *rates, const struct billing_fixed *fixed)
{
    memset(r, 0, sizeof *r);
    if (fixed != NULL) {
        r->base_msat = fixed->per_request_msat > 0 ? (double)fixed->per_request_msat : 0;
        r->in = fixed->per_1k_input_msat > 0 ? (double)fixed->per_1k_input_msat : 0;
        r->out = fixed->per_1k_output_msat > 0 ? (double)fixed->per_1k_output_msat : 0;
        r->cache_read = r->cache_write = r->in;
        return true;
    }
    struct billing_model_prices mp;
    if (m == NULL || billing_model_prices(&mp, m, rates) != E_OK)
        return false;
    r->in = mp.sats.prompt * 1e6;
    r->out = mp.sats.completion * 1e6;
    r->cache_read = mp.sats.input_cache_read > 0 ? mp.sats.input_cache_read * 1e6 : r->in;
    r->cache_write = mp.sats.input_cache_write > 0 ? mp.sats.input_cache_write * 1e6 : r->in;
    r->base_msat = mp.usd.request * billing_sats_per_usd(rates) * 1000;
    return true;
}

static double part(int64_t tokens, double per1k)
{
    double x = (double)tokens * per1k / 1000;
    return x > 0 ? fmin(x, BILLING_MAX_MSAT) : 0;
}

/* The largest-remainder split described at the top. */
static void settle(struct billing_cost *out, const double x[N_PARTS])
{
    double sum = 0, frac[N_PARTS];
    int64_t v[N_PARTS], floors = 0;
    for (int i = 0; i < N_PARTS; i++) {
        sum += x[i];
        v[i] = (int64_t)floor(x[i]);
        frac[i] = x[i] - (double)v[i];
        floors += v[i];
    }
    int64_t total = billing_ceil_msat(sum);
    int64_t left = total - floors;
    bool given[N_PARTS] = {false};
    while (left > 0) {
        int best = -1;
        for (int i = 0; i < N_PARTS; i++) {
            if (!given[i] && (best < 0 || frac[i] > frac[best]))
                best = i;
        }
        if (best < 0)
            best = P_INPUT; /* cannot happen: left ≤ parts with a fraction */
        else
            given[best] = true;
        v[best]++;
        left--;
    }
    for (int i = N_PARTS - 1; left < 0 && i >= 0; i--) { /* nor this: ceil ≥ Σ floors */
        int64_t take = v[i] < -left ? v[i] : -left;
        v[i] -= take;
        left += take;
    }
    out->base_msat = v[P_BASE];
    out->input_msat = v[P_INPUT];
    out->output_msat = v[P_OUTPUT];
    out->cache_read_msat = v[P_CACHE_READ];
    out->cache_write_msat = v[P_CACHE_WRITE];
    out->total_msat = total;
}

static void cost_of(struct billing_cost *out, const struct billing_model *m,
                    const struct billing_rates *rates, const struct billing_fixed *fixed,
                    const struct billing_usage *u)
{
    struct per1k r;
    memset(out, 0, sizeof *out);
    if (!rates_of(&r, m, rates, fixed))
        return;
    double x[N_PARTS] = {
        [P_BASE] = fmin(r.base_msat, BILLING_MAX_MSAT),
        [P_INPUT] = part(u->input_tokens, r.in),
        [P_OUTPUT] = part(u->output_tokens, r.out),
        [P_CACHE_READ] = part(u->cache_read_tokens, r.cache_read),
        [P_CACHE_WRITE] = part(u->cache_write_tokens, r.cache_write),
    };
    settle(out, x);
    double k = billing_sats_per_usd(rates);
    out->total_usd = k > 0 ? (double)out->total_msat / 1000 / k : 0;
}

void billing_cost(struct billing_cost *out, const struct billing_model *m,
                  const struct billing_rates *rates, const struct billing_fixed *fixed,
                  const struct billing_usage *u)
{
    static const struct billing_usage none;
    cost_of(out, m, rates, fixed, u ? u : &none);
}

static int64_t quarter_up(size_t chars)
{
    size_t t = chars / 4 + (chars % 4 != 0);
    return t > (size_t)BILLING_MAX_TOKENS ? BILLING_MAX_TOKENS : (int64_t)t;
}

void billing_cost_estimate(struct billing_cost *out, const struct billing_model *m,
                           const struct billing_rates *rates, const struct billing_fixed *fixed,
                           size_t input_chars, size_t output_chars)
{
    struct billing_usage u = {
        .present = true,
        .input_tokens = quarter_up(input_chars),
        .output_tokens = quarter_up(output_chars),
    };
    cost_of(out, m, rates, fixed, &u);
    out->estimated = true;
}

json_t *billing_cost_json(const struct billing_cost *c, const struct billing_usage *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "base_msats", json_integer(c->base_msat));
    json_object_set_new(o, "input_msats", json_integer(c->input_msat));
    json_object_set_new(o, "output_msats", json_integer(c->output_msat));
    json_object_set_new(o, "total_msats", json_integer(c->total_msat));
    json_object_set_new(o, "cache_read_input_tokens",
                        json_integer(u ? u->cache_read_tokens : 0));
    json_object_set_new(o, "cache_creation_input_tokens",
                        json_integer(u ? u->cache_write_tokens : 0));
    json_object_set_new(o, "cache_read_msats", json_integer(c->cache_read_msat));
    json_object_set_new(o, "cache_creation_msats", json_integer(c->cache_write_msat));
    json_object_set_new(o, "total_usd", json_real(isfinite(c->total_usd) ? c->total_usd : 0));
    if (c->estimated)
        json_object_set_new(o, "estimated", json_true());
    return o;
}
