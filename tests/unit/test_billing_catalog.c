/* test_billing_catalog.c -- models.json parsing and model lookup (billing/catalog.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "billing/billing.h"

static int parse(struct billing_catalog *c, const char *json, char err[ERR_LEN])
{
    return billing_catalog_parse(c, json, strlen(json), err);
}

static const char *CATALOG =
    "{\"models\":["
    /* 0: prices as strings, every field */
    "{\"id\":\"openai/gpt-4o-mini\",\"name\":\"GPT-4o mini\",\"created\":1721260800,"
    " \"description\":\"small\",\"context_length\":128000,"
    " \"canonical_slug\":\"openai/gpt-4o-mini-2024-07-18\","
    " \"architecture\":{\"modality\":\"text+image->text\"},"
    " \"pricing\":{\"prompt\":\"0.00000015\",\"completion\":\"0.0000006\",\"request\":\"0\","
    "  \"image\":\"0.000217\",\"web_search\":\"0\",\"internal_reasoning\":\"0\","
    "  \"input_cache_read\":\"0.000000075\"},"
    " \"top_provider\":{\"context_length\":128000,\"max_completion_tokens\":16384,"
    "  \"is_moderated\":true},\"per_request_limits\":null},"
    /* 1: prices as numbers, aliases, no optional fields */
    "{\"id\":\"anthropic/claude-sonnet-4\",\"alias_ids\":[\"sonnet\",\"Claude-Latest\"],"
    " \"pricing\":{\"prompt\":3e-6,\"completion\":0.000015,\"input_cache_write\":3.75e-6}},"
    /* 2: an id without vendor that equals model 3's vendor-less id */
    "{\"id\":\"gpt-4o\",\"pricing\":{\"prompt\":\"1\",\"completion\":\"1\"}},"
    "{\"id\":\"openai/gpt-4o\",\"pricing\":{\"prompt\":\"2\",\"completion\":\"2\"}},"
    /* 4: disabled */
    "{\"id\":\"old/retired\",\"enabled\":false,\"pricing\":{\"prompt\":0,\"completion\":0}},"
    /* 5: a model whose own id carries a date */
    "{\"id\":\"vendor/snap-2024-05-13\",\"pricing\":{\"prompt\":0,\"completion\":0}}"
    "]}";

static void test_parse_fields(void **state)
{
    struct billing_catalog c = {0};
    char err[ERR_LEN];
    assert_int_equal(parse(&c, CATALOG, err), E_OK);
    assert_int_equal(c.n, 6);

    const struct billing_model *m = &c.models[0];
    assert_string_equal(m->id, "openai/gpt-4o-mini");
    assert_string_equal(m->name, "GPT-4o mini");
    assert_string_equal(m->description, "small");
    assert_string_equal(m->canonical_slug, "openai/gpt-4o-mini-2024-07-18");
    assert_int_equal(m->created, 1721260800);
    assert_int_equal(m->context_length, 128000);
    assert_int_equal(m->top_context_length, 128000);
    assert_int_equal(m->top_max_completion_tokens, 16384);
    assert_true(m->usd.prompt == 0.00000015); /* strtod of the same text: the same double */
    assert_true(m->usd.completion == 0.0000006);
    assert_true(m->usd.image == 0.000217);
    assert_true(m->usd.input_cache_read == 0.000000075);
    assert_true(m->usd.input_cache_write == 0);
    assert_non_null(m->architecture);
    assert_non_null(m->top_provider);
    assert_null(m->per_request_limits); /* null in the file */
    assert_true(m->enabled);

    m = &c.models[1];
    assert_string_equal(m->name, m->id); /* no name: the id */
    assert_string_equal(m->description, "");
    assert_null(m->canonical_slug);
    assert_true(m->usd.prompt == 3e-6);
    assert_true(m->usd.input_cache_write == 3.75e-6);
    assert_int_equal(m->n_aliases, 2);
    assert_string_equal(m->aliases[1], "Claude-Latest");
    assert_int_equal(m->context_length, 0);
    assert_null(m->top_provider);
    assert_false(c.models[4].enabled);
    billing_catalog_deinit(&c);
}

static void test_lookup(void **state)
{
    struct billing_catalog c = {0};
    assert_int_equal(parse(&c, CATALOG, NULL), E_OK);
    const struct billing_model *mini = &c.models[0], *sonnet = &c.models[1];

    assert_ptr_equal(billing_catalog_find(&c, "openai/gpt-4o-mini"), mini);
    assert_ptr_equal(billing_catalog_find(&c, "OpenAI/GPT-4o-Mini"), mini);   /* any case */
    assert_ptr_equal(billing_catalog_find(&c, "gpt-4o-mini"), mini);          /* no vendor */
    assert_ptr_equal(billing_catalog_find(&c, "openai/gpt-4o-mini-2024-07-18"), mini); /* slug */
    assert_ptr_equal(billing_catalog_find(&c, "gpt-4o-mini-2024-07-18"), mini); /* slug, no vendor */
    assert_ptr_equal(billing_catalog_find(&c, "sonnet"), sonnet);             /* alias */
    assert_ptr_equal(billing_catalog_find(&c, "claude-latest"), sonnet);      /* alias, any case */
    assert_ptr_equal(billing_catalog_find(&c, "claude-sonnet-4"), sonnet);

    /* date suffixes cut from the request when nothing matches as is */
    assert_ptr_equal(billing_catalog_find(&c, "claude-sonnet-4-20250514"), sonnet);
    assert_ptr_equal(billing_catalog_find(&c, "anthropic/claude-sonnet-4-2025-05-14"), sonnet);
    assert_ptr_equal(billing_catalog_find(&c, "gpt-4o-mini-20990101"), mini);
    assert_null(billing_catalog_find(&c, "gpt-4o-mini-2099010"));    /* 7 digits */
    assert_null(billing_catalog_find(&c, "gpt-4o-mini-2099-1-01"));  /* not YYYY-MM-DD */
    assert_null(billing_catalog_find(&c, "gpt-4o-mini-x0990101"));
    assert_null(billing_catalog_find(&c, "-20240101"));              /* nothing before it */
    /* a model whose id has a date is found by that id, exactly */
    assert_ptr_equal(billing_catalog_find(&c, "snap-2024-05-13"), &c.models[5]);
    assert_null(billing_catalog_find(&c, "snap"));

    /* an exact id beats another model's vendor-less id, whatever the catalogue order */
    assert_ptr_equal(billing_catalog_find(&c, "gpt-4o"), &c.models[2]);
    assert_ptr_equal(billing_catalog_find(&c, "openai/gpt-4o"), &c.models[3]);

    /* disabled, unknown, empty */
    assert_null(billing_catalog_find(&c, "old/retired"));
    assert_null(billing_catalog_find(&c, "retired"));
    assert_null(billing_catalog_find(&c, "gpt-4"));
    assert_null(billing_catalog_find(&c, "gpt-4o-mini-extra"));
    assert_null(billing_catalog_find(&c, ""));
    assert_null(billing_catalog_find(&c, NULL));
    billing_catalog_deinit(&c);
}

/* A catalogue built by hand has no index: the same rules by a scan. */
static void test_lookup_without_index(void **state)
{
    char *aliases[] = {"fast"};
    struct billing_model models[] = {
        {.id = "v/b", .enabled = true},
        {.id = "b", .enabled = true},
        {.id = "v/c", .canonical_slug = "v/c-2024-01-01", .aliases = aliases, .n_aliases = 1,
         .enabled = true},
        {.id = "v/off", .enabled = false},
    };
    struct billing_catalog c = {.models = models, .n = 4};
    assert_ptr_equal(billing_catalog_find(&c, "B"), &models[1]);
    assert_ptr_equal(billing_catalog_find(&c, "v/B"), &models[0]);
    assert_ptr_equal(billing_catalog_find(&c, "c-2024-01-01"), &models[2]);
    assert_ptr_equal(billing_catalog_find(&c, "c-20240202"), &models[2]);
    assert_ptr_equal(billing_catalog_find(&c, "FAST"), &models[2]);
    assert_null(billing_catalog_find(&c, "off"));
}

static void test_data_array_and_example_file(void **state)
{
    struct billing_catalog c = {0};
    char err[ERR_LEN];
    assert_int_equal(parse(&c, "{\"data\":[]}", err), E_OK);
    assert_int_equal(c.n, 0);
    assert_null(billing_catalog_find(&c, "x"));

    /* the shipped example (tests run from the repository root) replaces it */
    FILE *f = fopen("models.example.json", "rb");
    assert_non_null(f);
    char *text = xmalloc(1 << 20);
    size_t len = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_int_equal(billing_catalog_parse(&c, text, len, err), E_OK);
    free(text);
    assert_true(c.n >= 5 && c.n <= 8);
    const struct billing_model *m = billing_catalog_find(&c, "gpt-4o-mini");
    assert_non_null(m);
    assert_string_equal(m->id, "openai/gpt-4o-mini");
    assert_true(m->usd.prompt == 0.00000015 && m->usd.completion == 0.0000006);
    assert_int_equal(m->top_max_completion_tokens, 16384);
    m = billing_catalog_find(&c, "text-embedding-3-small");
    assert_non_null(m);
    assert_true(m->usd.completion == 0);
    assert_non_null(billing_catalog_find(&c, "claude-4-sonnet-20250522"));
    for (size_t i = 0; i < c.n; i++) {
        assert_true(c.models[i].usd.prompt > 0);
        assert_true(c.models[i].context_length > 0);
        assert_non_null(c.models[i].architecture);
        assert_non_null(c.models[i].top_provider);
    }
    billing_catalog_deinit(&c);
}

static void expect_bad(const char *json, int code, const char *needle)
{
    /* a good catalogue first: a failed parse must leave it as it was */
    struct billing_catalog c = {0};
    char err[ERR_LEN];
    assert_int_equal(parse(&c, "{\"data\":[{\"id\":\"a/keep\",\"pricing\":{\"prompt\":1,"
                               "\"completion\":1}}]}",
                           err),
                     E_OK);
    err[0] = '\0';
    assert_int_equal(parse(&c, json, err), code);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not name \"%s\"", err, needle);
    assert_int_equal(c.n, 1);
    assert_non_null(billing_catalog_find(&c, "keep"));
    billing_catalog_deinit(&c);
}

static void test_bad_input(void **state)
{
    expect_bad("not json", E_PROTO, "line 1");
    expect_bad("[]", E_PROTO, "no \"data\" or \"models\"");
    expect_bad("{\"data\":{}}", E_PROTO, "no \"data\" or \"models\"");
    expect_bad("{\"data\":[{\"pricing\":{\"prompt\":1,\"completion\":1}}]}", E_PROTO,
               "data[0]: no \"id\"");
    expect_bad("{\"data\":[\"x\"]}", E_PROTO, "data[0]");
    expect_bad("{\"models\":[{\"id\":\"ok\",\"pricing\":{\"prompt\":1,\"completion\":1}},"
               "{\"id\":\"v/neg\",\"pricing\":{\"prompt\":\"-1\",\"completion\":\"0\"}}]}",
               E_PROTO, "models[1] (v/neg): pricing.prompt");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"pricing\":{\"prompt\":\"abc\",\"completion\":1}}]}",
               E_PROTO, "pricing.prompt");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"pricing\":{\"prompt\":\"0x10\",\"completion\":1}}]}",
               E_PROTO, "pricing.prompt");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"pricing\":{\"prompt\":\"inf\",\"completion\":1}}]}",
               E_PROTO, "pricing.prompt");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"pricing\":{\"prompt\":true,\"completion\":1}}]}",
               E_PROTO, "pricing.prompt");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"pricing\":{\"prompt\":1}}]}", E_PROTO,
               "pricing.completion");
    expect_bad("{\"data\":[{\"id\":\"v/t\"}]}", E_PROTO, "no \"pricing\"");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"context_length\":-5,"
               "\"pricing\":{\"prompt\":1,\"completion\":1}}]}",
               E_PROTO, "context_length");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"top_provider\":{\"max_completion_tokens\":\"x\"},"
               "\"pricing\":{\"prompt\":1,\"completion\":1}}]}",
               E_PROTO, "top_provider");
    expect_bad("{\"data\":[{\"id\":\"v/t\",\"alias_ids\":[1],"
               "\"pricing\":{\"prompt\":1,\"completion\":1}}]}",
               E_PROTO, "alias_ids[0]");
    expect_bad("{\"data\":[{\"id\":\"v/Dup\",\"pricing\":{\"prompt\":1,\"completion\":1}},"
               "{\"id\":\"v/dup\",\"pricing\":{\"prompt\":1,\"completion\":1}}]}",
               E_PROTO, "duplicate id \"v/dup\"");
}

static void test_too_many_models(void **state)
{
    size_t n = 10001, cap = n * 64 + 64, len = 0;
    char *json = xmalloc(cap);
    len += (size_t)snprintf(json, cap, "{\"data\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(json + len, cap - len,
                                "%s{\"id\":\"m%zu\",\"pricing\":{\"prompt\":0,\"completion\":0}}",
                                i ? "," : "", i);
    snprintf(json + len, cap - len, "]}");
    struct billing_catalog c = {0};
    char err[ERR_LEN];
    assert_int_equal(parse(&c, json, err), E_LIMIT);
    assert_int_equal(c.n, 0);
    /* exactly 10,000 fit, and every one is found through the index */
    char *last = strstr(json, ",{\"id\":\"m10000\"");
    assert_non_null(last);
    strcpy(last, "]}");
    assert_int_equal(parse(&c, json, err), E_OK);
    assert_int_equal(c.n, 10000);
    for (size_t i = 0; i < n - 1; i += 997) {
        char id[32];
        snprintf(id, sizeof id, "M%zu", i);
        assert_ptr_equal(billing_catalog_find(&c, id), &c.models[i]);
    }
    free(json);
    billing_catalog_deinit(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_lookup_without_index),
        cmocka_unit_test(test_data_array_and_example_file),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_too_many_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
