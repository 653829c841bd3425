/* test_billing_usage.c -- usage of every dialect, normalised (billing/usage.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "billing/billing.h"

static struct billing_usage parse(const char *usage_json)
{
    struct billing_usage u;
    json_t *j = json_loads(usage_json, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    billing_usage_parse(&u, j);
    json_decref(j);
    return u;
}

static void expect(struct billing_usage u, bool present, int64_t in, int64_t out, int64_t cr,
                   int64_t cw, int64_t reasoning)
{
    assert_int_equal(u.present, present);
    assert_int_equal(u.input_tokens, in);
    assert_int_equal(u.output_tokens, out);
    assert_int_equal(u.cache_read_tokens, cr);
    assert_int_equal(u.cache_write_tokens, cw);
    assert_int_equal(u.reasoning_tokens, reasoning);
}

static void test_openai_chat(void **state)
{
    /* cached ⊂ prompt: input = 1000 − 400 = 600; reasoning ⊂ completion */
    expect(parse("{\"prompt_tokens\":1000,\"completion_tokens\":200,\"total_tokens\":1200,"
                 "\"prompt_tokens_details\":{\"cached_tokens\":400,\"audio_tokens\":0},"
                 "\"completion_tokens_details\":{\"reasoning_tokens\":50}}"),
           true, 600, 200, 400, 0, 50);
    /* embeddings: prompt only */
    expect(parse("{\"prompt_tokens\":8,\"total_tokens\":8}"), true, 8, 0, 0, 0, 0);
}

static void test_openrouter_and_litellm(void **state)
{
    /* OpenRouter's cache_write_tokens: 1000 − 100 − 300 = 600 */
    expect(parse("{\"prompt_tokens\":1000,\"completion_tokens\":10,\"cost\":0.01,"
                 "\"prompt_tokens_details\":{\"cached_tokens\":100,\"cache_write_tokens\":300}}"),
           true, 600, 10, 100, 300, 0);
    /* litellm's cache_creation_tokens */
    expect(parse("{\"prompt_tokens\":50,\"completion_tokens\":5,"
                 "\"prompt_tokens_details\":{\"cache_creation_tokens\":20}}"),
           true, 30, 5, 0, 20, 0);
    /* litellm's Anthropic-named keys next to prompt_tokens (which then includes them):
     * 500 − 100 − 200 = 200 */
    expect(parse("{\"prompt_tokens\":500,\"completion_tokens\":1,"
                 "\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":200}"),
           true, 200, 1, 100, 200, 0);
    /* cache larger than the prompt: clamped at 0 */
    expect(parse("{\"prompt_tokens\":10,\"prompt_tokens_details\":{\"cached_tokens\":40}}"),
           true, 0, 0, 40, 0, 0);
}

static void test_responses(void **state)
{
    /* cached ⊂ input_tokens: 900 − 300 = 600 */
    expect(parse("{\"input_tokens\":900,\"input_tokens_details\":{\"cached_tokens\":300},"
                 "\"output_tokens\":120,\"output_tokens_details\":{\"reasoning_tokens\":80},"
                 "\"total_tokens\":1020}"),
           true, 600, 120, 300, 0, 80);
}

static void test_anthropic(void **state)
{
    /* additive: input_tokens excludes the cache */
    expect(parse("{\"input_tokens\":25,\"cache_creation_input_tokens\":1000,"
                 "\"cache_read_input_tokens\":3000,\"output_tokens\":400,"
                 "\"cache_creation\":{\"ephemeral_5m_input_tokens\":1000},"
                 "\"service_tier\":\"standard\"}"),
           true, 25, 400, 3000, 1000, 0);
}

static void test_deepseek(void **state)
{
    /* prompt = hit + miss: 700 − 500 = 200 */
    expect(parse("{\"prompt_tokens\":700,\"completion_tokens\":90,"
                 "\"prompt_cache_hit_tokens\":500,\"prompt_cache_miss_tokens\":200,"
                 "\"completion_tokens_details\":{\"reasoning_tokens\":30}}"),
           true, 200, 90, 500, 0, 30);
}

static void test_present_and_zeros(void **state)
{
    /* explicit zeros: present, billed as zero */
    expect(parse("{\"prompt_tokens\":0,\"completion_tokens\":0}"), true, 0, 0, 0, 0, 0);
    expect(parse("{\"input_tokens\":0}"), true, 0, 0, 0, 0, 0);
    /* absent: not present (estimated by the caller) */
    expect(parse("{}"), false, 0, 0, 0, 0, 0);
    expect(parse("{\"total_tokens\":100}"), false, 0, 0, 0, 0, 0);
    expect(parse("{\"prompt_tokens\":null,\"completion_tokens\":null}"), false, 0, 0, 0, 0, 0);
    expect(parse("null"), false, 0, 0, 0, 0, 0);
    expect(parse("[1,2]"), false, 0, 0, 0, 0, 0);
    expect(parse("42"), false, 0, 0, 0, 0, 0);
    struct billing_usage u;
    billing_usage_parse(&u, NULL);
    expect(u, false, 0, 0, 0, 0, 0);
    /* first non-zero wins: completion_tokens 0 falls through to output_tokens */
    expect(parse("{\"completion_tokens\":0,\"output_tokens\":7}"), true, 0, 7, 0, 0, 0);
}

static void test_lenient_counts(void **state)
{
    /* reals are truncated, decimal strings read, booleans/negatives/junk are 0 */
    expect(parse("{\"prompt_tokens\":\"120\",\"completion_tokens\":12.9,"
                 "\"prompt_tokens_details\":{\"cached_tokens\":\" 20 \"}}"),
           true, 100, 12, 20, 0, 0);
    expect(parse("{\"prompt_tokens\":true,\"completion_tokens\":-5}"), true, 0, 0, 0, 0, 0);
    expect(parse("{\"prompt_tokens\":\"abc\",\"completion_tokens\":\"0x10\"}"), true, 0, 0, 0, 0,
           0);
    expect(parse("{\"prompt_tokens\":{},\"completion_tokens\":[]}"), true, 0, 0, 0, 0, 0);
    expect(parse("{\"prompt_tokens\":\"1e3\",\"completion_tokens\":\"-7\"}"), true, 1000, 0, 0,
           0, 0);
    /* clamped at 10^15 */
    expect(parse("{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":1e300}"), true,
           INT64_C(1000000000000000), INT64_C(1000000000000000), 0, 0, 0);
    /* details that are not objects are ignored */
    expect(parse("{\"prompt_tokens\":10,\"prompt_tokens_details\":5}"), true, 10, 0, 0, 0, 0);
}

static struct billing_usage from_body(const char *body)
{
    struct billing_usage u;
    json_t *j = json_loads(body, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    billing_usage_from_body(&u, j);
    json_decref(j);
    return u;
}

static void test_from_body(void **state)
{
    /* a chat answer, and a stream's usage chunk */
    expect(from_body("{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
                     "\"completion_tokens\":4}}"),
           true, 3, 4, 0, 0, 0);
    /* a Responses body and a response.completed event */
    expect(from_body("{\"type\":\"response.completed\",\"response\":{\"id\":\"r\","
                     "\"usage\":{\"input_tokens\":11,\"output_tokens\":5}}}"),
           true, 11, 5, 0, 0, 0);
    /* "usage": null (every other stream chunk) falls back to response.usage, then nothing */
    expect(from_body("{\"usage\":null,\"response\":{\"usage\":{\"input_tokens\":2}}}"), true, 2,
           0, 0, 0, 0);
    expect(from_body("{\"choices\":[{\"delta\":{}}],\"usage\":null}"), false, 0, 0, 0, 0, 0);
    expect(from_body("{\"response\":{\"status\":\"in_progress\"}}"), false, 0, 0, 0, 0, 0);
    expect(from_body("\"text\""), false, 0, 0, 0, 0, 0);
    struct billing_usage u;
    billing_usage_from_body(&u, NULL);
    assert_false(u.present);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_chat),   cmocka_unit_test(test_openrouter_and_litellm),
        cmocka_unit_test(test_responses),     cmocka_unit_test(test_anthropic),
        cmocka_unit_test(test_deepseek),      cmocka_unit_test(test_present_and_zeros),
        cmocka_unit_test(test_lenient_counts), cmocka_unit_test(test_from_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
