/* usage.c -- token usage read from any upstream dialect, normalised to what we bill
 * (routstr-api.md §4.4 step 1, clients.md §4.3).
 *
 *   output      = completion_tokens || output_tokens
 *   cache_read  = cache_read_input_tokens || prompt_tokens_details.cached_tokens
 *                 || prompt_cache_hit_tokens || input_tokens_details.cached_tokens
 *   cache_write = cache_creation_input_tokens || prompt_tokens_details.cache_creation_tokens
 *                 || prompt_tokens_details.cache_write_tokens
 *   input       = prompt_tokens − cache_read − cache_write        when prompt_tokens is there
 *                 (OpenAI chat, OpenRouter, litellm, DeepSeek: the total includes the cache)
 *               = input_tokens − input_tokens_details.cached_tokens   otherwise
 *                 (Responses: cached ⊂ input; Anthropic: input_tokens already excludes its
 *                 additive cache_*_input_tokens, and has no input_tokens_details)
 * clamped at 0. "a || b" is the first non-zero, as in the reference.
 *
 * Counts are read leniently (integers, reals truncated, decimal strings; booleans, negatives and
 * anything else are 0) and clamped at BILLING_MAX_TOKENS. The usage is "present" when one of
 * the top-level counts is there and not null, even if 0: an explicit zero is billed as zero,
 * an absent usage is estimated (cost.c), never free. "total_tokens" alone is not enough: it
 * does not say what was input and what was output. */
#include <math.h>
#include <string.h>

#include "billing/billing.h"
#include "billing/billing_int.h"

/* A lenient count at obj[key]; *seen is set when the key holds a non-null value. */
static int64_t count(const json_t *obj, const char *key, bool *seen)
{
    const json_t *v = json_object_get(obj, key);
    double d = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (seen)
        *seen = true;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        return i <= 0 ? 0 : i > BILLING_MAX_TOKENS ? BILLING_MAX_TOKENS : (int64_t)i;
    }
    if (json_is_boolean(v) || billing_json_number(v, &d) != E_OK || !(d > 0))
        return 0;
    return d >= (double)BILLING_MAX_TOKENS ? BILLING_MAX_TOKENS : (int64_t)d;
}

static int64_t first(int64_t a, int64_t b, int64_t c, int64_t d)
{
    return a ? a : b ? b : c ? c : d;
}

static int64_t minus(int64_t total, int64_t a, int64_t b)
{
    int64_t r = total - a - b; /* all in [0, 10^15]: no overflow */
    return r > 0 ? r : 0;
}

void billing_usage_parse(struct billing_usage *u, const json_t *usage)
{
    memset(u, 0, sizeof *u);
    if (!json_is_object(usage))
        return;
    bool seen = false, has_prompt = false;
    const json_t *ptd = json_object_get(usage, "prompt_tokens_details");
    const json_t *itd = json_object_get(usage, "input_tokens_details");
    const json_t *ctd = json_object_get(usage, "completion_tokens_details");
    const json_t *otd = json_object_get(usage, "output_tokens_details");

    int64_t prompt = count(usage, "prompt_tokens", &has_prompt);
    int64_t input = count(usage, "input_tokens", &seen);
    int64_t completion = count(usage, "completion_tokens", &seen);
    int64_t output = count(usage, "output_tokens", &seen);
    int64_t anth_read = count(usage, "cache_read_input_tokens", &seen);
    int64_t anth_write = count(usage, "cache_creation_input_tokens", &seen);
    int64_t ds_hit = count(usage, "prompt_cache_hit_tokens", &seen);
    int64_t resp_cached = count(itd, "cached_tokens", NULL);

    u->present = seen || has_prompt;
    u->output_tokens = first(completion, output, 0, 0);
    u->cache_read_tokens = first(anth_read, count(ptd, "cached_tokens", NULL), ds_hit, resp_cached);
    u->cache_write_tokens = first(anth_write, count(ptd, "cache_creation_tokens", NULL),
                                  count(ptd, "cache_write_tokens", NULL), 0);
    if (has_prompt)
        u->input_tokens = minus(prompt, u->cache_read_tokens, u->cache_write_tokens);
    else
        u->input_tokens = minus(input, resp_cached, 0);
    u->reasoning_tokens = first(count(ctd, "reasoning_tokens", NULL),
                                count(otd, "reasoning_tokens", NULL), 0, 0);
}

void billing_usage_from_body(struct billing_usage *u, const json_t *body)
{
    const json_t *usage = json_object_get(body, "usage");
    if (!json_is_object(usage))
        usage = json_object_get(json_object_get(body, "response"), "usage");
    billing_usage_parse(u, usage);
}
