/* reserve.c -- the reservation R a request must hold before it is forwarded
 * (routstr-api.md §3.2, the reference's get_max_cost_for_model and
 * calculate_discounted_max_cost; the Routstr SDK mirrors the same gate to size its tokens, so
 * the formula is kept as is, in doubles, truncating where the reference does).
 *
 *   tol  = max(0, 1 − TOLERANCE_PERCENTAGE/100)
 *   R0   = max(MIN, trunc(sats.max_cost × 1000 × (1 − TOLERANCE_PERCENTAGE/100)))
 *   maxP = sats.max_prompt_cost × tol, or L × sats.prompt × tol when a prompt limit L is known
 *   maxC = sats.max_completion_cost × tol
 *   R0  −= floor((maxP − est × sats.prompt) × 1000)       when positive, if "messages"
 *   R0  −= floor((maxC − max_tokens × sats.completion) × 1000)  when positive, if max_tokens
 *   R    = max(MIN, R0)
 *
 * est is floor(characters / 3) of the messages' text (code points, as Python's len() counts),
 * plus 85 tokens per image part: the low-detail price; we fetch nothing. A negative max_tokens
 * gets no discount (it would otherwise shrink R below what any answer costs). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "billing/billing.h"
#include "billing/billing_int.h"

#define IMAGE_TOKENS 85

/* trunc(x) as an int64 (Python's int() of a float), saturating at ±4e18 so that R0 minus two
 * discounts cannot overflow. */
static int64_t trunc_i64(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 4e18)
        return INT64_C(4000000000000000000);
    if (x <= -4e18)
        return -INT64_C(4000000000000000000);
    return (int64_t)x;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* The prompt estimate of §3.2 over a "messages" array. */
static int64_t prompt_tokens_estimate(const json_t *messages)
{
    size_t chars = 0, images = 0, i, j;
    const json_t *msg, *part;
    json_array_foreach((json_t *)messages, i, msg) {
        const json_t *content = json_object_get(msg, "content");
        if (json_is_string(content)) {
            chars += utf8_chars(json_string_value(content), json_string_length(content));
            continue;
        }
        json_array_foreach((json_t *)content, j, part) { /* no-op unless an array */
            const char *type = json_string_value(json_object_get(part, "type"));
            const json_t *text = json_object_get(part, "text");
            if (type == NULL)
                continue;
            if (strcmp(type, "text") == 0 && json_is_string(text))
                chars += utf8_chars(json_string_value(text), json_string_length(text));
            else if (strcmp(type, "image_url") == 0 || strcmp(type, "input_image") == 0)
                images++;
        }
    }
    return (int64_t)(chars / 3) + (int64_t)images * IMAGE_TOKENS;
}

/* The prompt token limit L of §3.2, or -1 when none is known. */
static int64_t prompt_limit(const struct billing_model *m)
{
    int64_t cl = m->top_context_length, mct = m->top_max_completion_tokens;
    if (cl > 0 && mct > 0)
        return cl > mct ? cl - mct : 0;
    if (cl > 0)
        return cl;
    if (mct > 0)
        return 0;
    if (m->context_length > 0)
        return m->context_length;
    return -1;
}

/* max_tokens when it is a JSON integer ≥ 0, else -1. */
static int64_t max_tokens_of(const json_t *body)
{
    const json_t *v = json_object_get(body, "max_tokens");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    return json_integer_value(v);
}

static int64_t fixed_reservation(const struct billing_fixed *fixed, const json_t *body,
                                 int64_t min_msat)
{
    int64_t r = fixed->per_request_msat > 0 ? fixed->per_request_msat : 0;
    int64_t mt = max_tokens_of(body);
    if (fixed->per_1k_output_msat > 0 && mt > 0) {
        /* ceil(mt × rate / 1000) without overflow: mt ≤ 2^63 and rate ≤ 2^63. */
        int64_t q = mt / 1000, rem = mt % 1000, a, b;
        if (__builtin_mul_overflow(q, fixed->per_1k_output_msat, &a) ||
            __builtin_mul_overflow(rem, fixed->per_1k_output_msat, &b))
            return INT64_MAX;
        b = b / 1000 + (b % 1000 != 0);
        if (__builtin_add_overflow(r, a, &r) || __builtin_add_overflow(r, b, &r))
            return INT64_MAX;
    }
    return r > min_msat ? r : min_msat;
}

int64_t billing_reservation_msat(const struct billing_model *m, const struct billing_rates *rates,
                                 const struct billing_fixed *fixed, const json_t *body)
{
    int64_t min_msat = rates->min_request_msat > 0 ? rates->min_request_msat : 0;
    if (fixed != NULL)
        return fixed_reservation(fixed, body, min_msat);

    struct billing_model_prices mp;
    if (m == NULL || billing_model_prices(&mp, m, rates) != E_OK)
        return min_msat; /* no BTC/USD yet: the caller answers 503 before reserving */
    const struct billing_prices *sp = &mp.sats;

    double tol_pct = isfinite(rates->tolerance_pct) ? rates->tolerance_pct : 0;
    double tol = fmax(0, 1 - tol_pct / 100);
    int64_t adj = trunc_i64(mp.sats_max_cost * 1000 * (1 - tol_pct / 100));
    if (adj < min_msat)
        adj = min_msat;

    double max_p = mp.sats_max_prompt * tol, max_c = mp.sats_max_completion * tol;
    int64_t limit = prompt_limit(m);
    if (limit >= 0)
        max_p = (double)limit * sp->prompt * tol;

    const json_t *messages = json_object_get(body, "messages");
    if (json_is_array(messages)) {
        double d = max_p - (double)prompt_tokens_estimate(messages) * sp->prompt;
        if (d > 0)
            adj -= trunc_i64(floor(d * 1000));
    }
    int64_t mt = max_tokens_of(body);
    if (mt >= 0) {
        double d = max_c - (double)mt * sp->completion;
        if (d > 0)
            adj -= trunc_i64(floor(d * 1000));
    }
    return adj > min_msat ? adj : min_msat;
}
