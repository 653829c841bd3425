/* test_nostr_announce.c -- kind 38421 (nostr/announce.h) and the reconnect backoff
 * (nostr/relay.h): URL normalisation and the local-URL rule, the exact tags of our
 * announcement, semantic equality, the provider object, and the directory's rules (newest per
 * (pubkey, d), forged and future events refused, the cap, one entry per endpoint URL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/str.h"
#include "nostr/announce.h"
#include "nostr/relay.h"

static void url_is(const char *in, const char *want)
{
    char *out = NULL;
    int rc = nostr_ann_url(&out, in);
    if (rc != E_OK)
        fail_msg("'%s': %s", in, err_name(rc));
    assert_string_equal(out, want);
    free(out);
}

static void url_refused(const char *in, int want)
{
    char *out = NULL;
    assert_int_equal(nostr_ann_url(&out, in), want);
    assert_null(out);
}

static void test_urls(void **state)
{
    url_is("https://node.example", "https://node.example");
    url_is(" https://node.example/ ", "https://node.example");
    url_is("https://node.example/v1", "https://node.example");
    url_is("https://node.example/v1/", "https://node.example");
    url_is("https://node.example/api/v1", "https://node.example/api");
    url_is("https://node.example:8443", "https://node.example:8443");
    url_is("abcdefghijklmnop.onion", "http://abcdefghijklmnop.onion");
    url_is("http://abcdefghijklmnop.onion/", "http://abcdefghijklmnop.onion");
    url_refused("", E_NOTFOUND);
    url_refused("   ", E_NOTFOUND);
    url_refused("http://localhost:8000", E_NOTFOUND);
    url_refused("http://LOCALHOST", E_NOTFOUND);
    url_refused("http://127.0.0.1:8000/v1", E_NOTFOUND);
    url_refused("http://[::1]:8000", E_NOTFOUND);
    url_refused("http://0.0.0.0", E_NOTFOUND);
    url_refused("http://app.localhost", E_NOTFOUND);
    url_refused("node.example", E_PROTO);
    url_refused("ftp://node.example", E_PROTO);
    url_refused("https://", E_PROTO);
    url_refused("https://a b", E_PROTO);
    assert_false(nostr_url_is_local("https://127.0.0.2:9000"));
    assert_false(nostr_url_is_local("https://notlocalhost.example"));
    assert_true(nostr_url_is_local("http://user@localhost/"));
}

static struct nostr_key key(uint8_t b)
{
    uint8_t sk[32] = {0};
    sk[31] = b;
    struct nostr_key k;
    assert_int_equal(nostr_key_from_secret(&k, sk), E_OK);
    return k;
}

static void build(struct nostr_event *ev, const struct nostr_key *k, const char *d,
                  const char *url, int64_t at)
{
    const char *urls[] = {url, "http://abcdefghijklmnop.onion"};
    const char *mints[] = {"https://mint.example"};
    struct nostr_ann a = {d, urls, 2, mints, 1, "0.1.0", "Node", "About"};
    assert_int_equal(nostr_ann_build(ev, &a, at), E_OK);
    assert_int_equal(nostr_event_sign(ev, k), E_OK);
}

static void test_build_and_equal(void **state)
{
    struct nostr_key k = key(1);
    struct nostr_event a, b;
    build(&a, &k, "node1", "https://node.example", 1000);
    assert_int_equal(a.kind, 38421);
    char *tags = json_dumps(a.tags, JSON_COMPACT);
    assert_string_equal(tags, "[[\"d\",\"node1\"],[\"u\",\"https://node.example\"],"
                              "[\"u\",\"http://abcdefghijklmnop.onion\"],"
                              "[\"mint\",\"https://mint.example\"],[\"version\",\"0.1.0\"]]");
    free(tags);
    assert_string_equal(a.content, "{\"name\":\"Node\",\"about\":\"About\"}");
    assert_int_equal(nostr_event_verify(&a), E_OK);

    /* Same settings at another time: equal. Tag order and content key order do not matter. */
    build(&b, &k, "node1", "https://node.example", 2000);
    assert_true(nostr_ann_equal(&a, &b));
    json_t *t0 = json_incref(json_array_get(b.tags, 1));
    json_array_remove(b.tags, 1);
    json_array_append_new(b.tags, t0);
    const char c[] = "{\"about\":\"About\",\"name\":\"Node\"}";
    assert_int_equal(nostr_event_set_content(&b, c, sizeof c - 1), E_OK);
    assert_true(nostr_ann_equal(&a, &b));
    nostr_event_deinit(&b);

    /* A changed URL, d, version or name: not equal. */
    build(&b, &k, "node1", "https://other.example", 1000);
    assert_false(nostr_ann_equal(&a, &b));
    nostr_event_deinit(&b);
    build(&b, &k, "node2", "https://node.example", 1000);
    assert_false(nostr_ann_equal(&a, &b));
    nostr_event_deinit(&b);
    build(&b, &k, "node1", "https://node.example", 1000);
    json_array_remove(b.tags, json_array_size(b.tags) - 1);
    assert_false(nostr_ann_equal(&a, &b));
    nostr_event_deinit(&b);
    build(&b, &k, "node1", "https://node.example", 1000);
    assert_int_equal(nostr_event_set_content(&b, "{\"name\":\"X\",\"about\":\"About\"}", 28), E_OK);
    assert_false(nostr_ann_equal(&a, &b));
    nostr_event_deinit(&b);

    /* The provider object. */
    json_t *p = nostr_ann_provider(&a);
    assert_non_null(p);
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    char want[1024];
    char pub[65];
    hex_encode(pub, k.pub, 32);
    snprintf(want, sizeof want,
             "{\"content\":\"{\\\"name\\\":\\\"Node\\\",\\\"about\\\":\\\"About\\\"}\","
             "\"created_at\":1000,\"description\":\"About\",\"endpoint_url\":\"https://node."
             "example\",\"endpoint_urls\":[\"https://node.example\",\"http://abcdefghijklmnop."
             "onion\"],\"id\":\"node1\",\"kind\":38421,\"mint_urls\":[\"https://mint.example\"],"
             "\"name\":\"Node\",\"pubkey\":\"%s\",\"version\":\"0.1.0\"}",
             pub);
    assert_string_equal(s, want);
    free(s);
    json_decref(p);
    nostr_event_deinit(&a);

    /* Without name/about/version: defaults; without a usable URL: not a provider. */
    nostr_event_init(&a);
    a.kind = 38421;
    const char *d[] = {"d", "x"}, *u[] = {"u", "http://localhost:8000"};
    assert_int_equal(nostr_event_add_tag(&a, d, 2), E_OK);
    assert_int_equal(nostr_event_add_tag(&a, u, 2), E_OK);
    assert_null(nostr_ann_provider(&a));
    u[1] = "https://ok.example";
    assert_int_equal(nostr_event_add_tag(&a, u, 2), E_OK);
    assert_int_equal(nostr_event_set_content(&a, "not json", 8), E_OK);
    p = nostr_ann_provider(&a);
    assert_string_equal(json_string_value(json_object_get(p, "name")), "Unknown Provider");
    assert_true(json_is_null(json_object_get(p, "description")));
    assert_true(json_is_null(json_object_get(p, "version")));
    assert_int_equal(json_array_size(json_object_get(p, "endpoint_urls")), 1);
    json_decref(p);
    nostr_event_deinit(&a);
    nostr_key_wipe(&k);
}

static void test_directory(void **state)
{
    struct nostr_key k1 = key(1), k2 = key(2);
    struct nostr_dir *dir = nostr_dir_new(3);
    struct nostr_event e1, e1new, e2, forged, future;
    int64_t now = 1000000;
    build(&e1, &k1, "a", "https://a.example", now - 100);
    build(&e1new, &k1, "a", "https://a2.example", now - 50);
    build(&e2, &k2, "b", "https://b.example", now - 10);
    assert_int_equal(nostr_dir_put(dir, &e1, now), 1);
    assert_int_equal(nostr_dir_put(dir, &e1, now), 0);      /* again */
    assert_int_equal(nostr_dir_put(dir, &e1new, now), 1);   /* replaces */
    assert_int_equal(nostr_dir_put(dir, &e1, now), 0);      /* older */
    assert_int_equal(nostr_dir_put(dir, &e2, now), 1);
    assert_int_equal(nostr_dir_size(dir), 2);

    /* A forged signature (content changed after signing), a signature by another key. */
    build(&forged, &k1, "c", "https://c.example", now);
    assert_int_equal(nostr_event_set_content(&forged, "{\"name\":\"evil\"}", 15), E_OK);
    assert_int_equal(nostr_dir_put(dir, &forged, now), E_PROTO);
    nostr_event_deinit(&forged);
    build(&forged, &k1, "c", "https://c.example", now);
    memcpy(forged.pubkey, k2.pub, 32);
    assert_int_equal(nostr_dir_put(dir, &forged, now), E_PROTO);
    nostr_event_deinit(&forged);
    /* 15 minutes ahead is fine, 15 minutes and a second is not. */
    build(&future, &k2, "f", "https://f.example", now + 15 * 60 + 1);
    assert_int_equal(nostr_dir_put(dir, &future, now), E_LIMIT);
    nostr_event_deinit(&future);
    build(&future, &k2, "f", "https://f.example", now + 15 * 60);
    assert_int_equal(nostr_dir_put(dir, &future, now), 1);
    nostr_event_deinit(&future);
    assert_int_equal(nostr_dir_size(dir), 3);

    json_t *list = nostr_dir_list(dir, NULL, 10);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), "f");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "endpoint_url")),
                        "https://a2.example");
    json_decref(list);
    char pub[65];
    hex_encode(pub, k1.pub, 32);
    list = nostr_dir_list(dir, pub, 10);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    list = nostr_dir_list(dir, "zz", 10);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    list = nostr_dir_list(dir, NULL, 2);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);

    /* Full: an older newcomer is dropped, a newer one evicts the oldest (e1new). */
    struct nostr_event old, fresh;
    build(&old, &k2, "old", "https://old.example", now - 1000);
    assert_int_equal(nostr_dir_put(dir, &old, now), 0);
    build(&fresh, &k2, "fresh", "https://b.example", now);
    assert_int_equal(nostr_dir_put(dir, &fresh, now), 1);
    assert_int_equal(nostr_dir_size(dir), 3);
    list = nostr_dir_list(dir, pub, 10);
    assert_int_equal(json_array_size(list), 0); /* k1's only entry was evicted */
    json_decref(list);
    /* Two entries with the same endpoint URL: only the newest is listed. */
    list = nostr_dir_list(dir, NULL, 10);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    /* Not an announcement. */
    old.kind = 1;
    assert_int_equal(nostr_dir_put(dir, &old, now), E_PROTO);
    /* Too big to be one: more tags, or more bytes, than an announcement needs. */
    struct nostr_event big;
    build(&big, &k1, "big", "https://big.example", now + 1);
    const char *t[] = {"t", "x"};
    for (int i = 0; i < NOSTR_ANN_MAX_TAGS; i++)
        assert_int_equal(nostr_event_add_tag(&big, t, 2), E_OK);
    assert_int_equal(nostr_event_sign(&big, &k1), E_OK);
    assert_int_equal(nostr_dir_put(dir, &big, now), E_LIMIT);
    nostr_event_deinit(&big);
    build(&big, &k1, "big", "https://big.example", now + 1);
    char *text = malloc(NOSTR_ANN_MAX_BYTES);
    memset(text, 'a', NOSTR_ANN_MAX_BYTES - 10);
    text[NOSTR_ANN_MAX_BYTES - 10] = '\0';
    t[1] = text;
    assert_int_equal(nostr_event_add_tag(&big, t, 2), E_LIMIT); /* over one tag string's cap */
    text[4000] = '\0';
    assert_int_equal(nostr_event_add_tag(&big, t, 2), E_OK);
    assert_int_equal(nostr_event_add_tag(&big, t, 2), E_OK);
    assert_int_equal(nostr_event_add_tag(&big, t, 2), E_OK);
    free(text);
    assert_int_equal(nostr_event_sign(&big, &k1), E_OK);
    assert_int_equal(nostr_dir_put(dir, &big, now), E_LIMIT);
    nostr_event_deinit(&big);

    nostr_event_deinit(&old);
    nostr_event_deinit(&fresh);
    nostr_event_deinit(&e1);
    nostr_event_deinit(&e1new);
    nostr_event_deinit(&e2);
    nostr_dir_free(dir);
    nostr_key_wipe(&k1);
    nostr_key_wipe(&k2);
}

static void test_backoff(void **state)
{
    /* rnd % 401 == 200 is the factor 1.0. */
    assert_int_equal(nostr_backoff_ms(5000, 900000, 0, 200), 5000);
    assert_int_equal(nostr_backoff_ms(5000, 900000, 1, 200), 10000);
    assert_int_equal(nostr_backoff_ms(5000, 900000, 7, 200), 640000);
    assert_int_equal(nostr_backoff_ms(5000, 900000, 8, 200), 900000);
    assert_int_equal(nostr_backoff_ms(5000, 900000, 1000, 200), 900000);
    /* The jitter stays within ±20 %. */
    assert_int_equal(nostr_backoff_ms(5000, 900000, 0, 0), 4000);
    assert_int_equal(nostr_backoff_ms(5000, 900000, 0, 400), 6000);
    for (uint32_t r = 0; r < 100000; r += 997) {
        long d = nostr_backoff_ms(5000, 900000, 3, r * 2654435761u);
        assert_true(d >= 32000 && d <= 48000);
    }
    assert_true(nostr_backoff_ms(0, 10, 0, 0) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_build_and_equal),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
