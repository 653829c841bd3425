/* test_nostr_event.c -- BIP-340 and NIP-01 (nostr/event.h).
 *
 * Every row of the official BIP-340 vectors (tests/vectors/bip340/test-vectors.csv: signing
 * byte for byte where a secret key is given, verification with the expected result for all);
 * then events that nostr-tools signed (tests/relay/fixtures/nip01.json, written by
 * tests/relay/gen-fixtures.js): our canonical serialization must equal the string nostr-tools
 * hashed, our id its id, and its signature must verify here. Escaping edge cases, key parsing,
 * round trips of our own signatures, and the refusal of malformed or forged events follow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "nostr/bech32.h"
#include "nostr/event.h"
#include "vectors.h"

/* ------------------------------------------------------------------------------ BIP-340 */

static int unhex(uint8_t *out, size_t n, const char *s)
{
    return hex_decode(out, n, s, strlen(s));
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void test_bip340_vectors(void **state)
{
    const char *dir = getenv("ROUTSTR_VECTORS_DIR");
    char path[1024], line[2048];
    snprintf(path, sizeof path, "%s/bip340/test-vectors.csv", dir && *dir ? dir : "tests/vectors");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    int rows = 0, signed_rows = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        char *col[8] = {0};
        char *p = line;
        for (int i = 0; i < 7; i++) {
            col[i] = p;
            char *comma = strchr(p, ',');
            if (comma == NULL)
                fail_msg("row %d: short line", rows);
            *comma = '\0';
            p = comma + 1;
        }
        col[7] = p; /* the comment, which may hold anything */
        for (int i = 1; i < 6; i++)
            lower(col[i]);
        uint8_t pub[32], msg[32], sig[64];
        assert_int_equal(unhex(pub, 32, col[2]), 0);
        assert_int_equal(unhex(msg, 32, col[4]), 0);
        assert_int_equal(unhex(sig, 64, col[5]), 0);
        bool expect = strcmp(col[6], "TRUE") == 0;
        int got = nostr_schnorr_verify(sig, msg, pub);
        if ((got == E_OK) != expect)
            fail_msg("row %s (%s): verify gave %s, expected %s", col[0], col[7], err_name(got),
                     col[6]);
        if (*col[1]) {
            uint8_t sk[32], aux[32], mine[64];
            struct nostr_key k;
            assert_int_equal(unhex(sk, 32, col[1]), 0);
            assert_int_equal(unhex(aux, 32, col[3]), 0);
            assert_int_equal(nostr_key_from_secret(&k, sk), E_OK);
            assert_memory_equal(k.pub, pub, 32);
            assert_int_equal(nostr_schnorr_sign(mine, &k, msg, aux), E_OK);
            if (memcmp(mine, sig, 64) != 0)
                fail_msg("row %s: signature differs", col[0]);
            nostr_key_wipe(&k);
            signed_rows++;
        }
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 15);
    assert_int_equal(signed_rows, 4);
}

/* ---------------------------------------------------------------------- NIP-01 fixtures */

static json_t *fixtures;

static int setup(void **state)
{
    json_error_t err;
    fixtures = json_load_file("tests/relay/fixtures/nip01.json", JSON_ALLOW_NUL, &err);
    if (fixtures == NULL) {
        fprintf(stderr, "cannot load tests/relay/fixtures/nip01.json: %s\n", err.text);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    json_decref(fixtures);
    return 0;
}

static void test_nostr_tools_events(void **state)
{
    json_t *arr = vget(fixtures, "events"), *v;
    size_t i;
    assert_true(json_array_size(arr) >= 10);
    json_array_foreach(arr, i, v) {
        json_t *j = vget(v, "event");
        json_t *want = vget(v, "serialized");
        struct nostr_event ev;
        assert_int_equal(nostr_event_from_json(&ev, j), E_OK);

        struct buf b;
        buf_init(&b, NOSTR_MAX_SERIALIZED);
        assert_int_equal(nostr_event_serialize(&ev, &b), E_OK);
        if (b.len != json_string_length(want) || memcmp(b.p, json_string_value(want), b.len))
            fail_msg("event %zu: serialization differs:\n ours   %s\n theirs %s", i, b.p,
                     json_string_value(want));
        uint8_t id[32];
        assert_int_equal(nostr_event_hash(&ev, id), E_OK);
        assert_hex_equal(id, 32, vstr(j, "id"));
        assert_int_equal(nostr_event_verify(&ev), E_OK);

        /* Our JSON of the event parses back to the same event, and jansson agrees it is the
         * object nostr-tools wrote. */
        buf_reset(&b);
        assert_int_equal(nostr_event_write_json(&ev, &b), E_OK);
        json_error_t jerr;
        json_t *back = json_loadb(b.p, b.len, JSON_ALLOW_NUL, &jerr);
        assert_non_null(back);
        assert_true(json_equal(back, j));
        json_t *dom = nostr_event_to_json(&ev);
        assert_true(json_equal(dom, j));
        json_decref(dom);
        json_decref(back);

        /* Any change to a signed field breaks verification. */
        ev.created_at++;
        assert_int_equal(nostr_event_verify(&ev), E_PROTO);
        ev.created_at--;
        ev.sig[10] ^= 1;
        assert_int_equal(nostr_event_verify(&ev), E_PROTO);
        ev.sig[10] ^= 1;
        ev.kind ^= 2;
        assert_int_equal(nostr_event_verify(&ev), E_PROTO);
        ev.kind ^= 2;
        assert_int_equal(nostr_event_verify(&ev), E_OK);

        buf_deinit(&b);
        nostr_event_deinit(&ev);
    }
}

static void test_keys_from_fixtures(void **state)
{
    json_t *arr = vget(fixtures, "keys"), *v;
    size_t i;
    json_array_foreach(arr, i, v) {
        struct nostr_key k, k2;
        assert_int_equal(nostr_key_parse(&k, vstr(v, "sk")), E_OK);
        assert_hex_equal(k.pub, 32, vstr(v, "pubkey"));
        assert_int_equal(nostr_key_parse(&k2, vstr(v, "nsec")), E_OK);
        assert_memory_equal(k.pub, k2.pub, 32);
        char npub[NOSTR_NPUB_LEN + 1], nsec[NOSTR_NPUB_LEN + 1];
        uint8_t sk[32];
        nostr_npub_encode(npub, k.pub);
        assert_string_equal(npub, vstr(v, "npub"));
        nostr_key_secret(&k, sk);
        nostr_nsec_encode(nsec, sk);
        assert_string_equal(nsec, vstr(v, "nsec"));
        assert_hex_equal(sk, 32, vstr(v, "sk"));
        secure_zero(sk, sizeof sk);
        nostr_key_wipe(&k);
        nostr_key_wipe(&k2);
    }
}

/* --------------------------------------------------------------------------- escaping */

static void check_escape(const char *in, size_t n, const char *want)
{
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(nostr_json_string(&b, in, n), E_OK);
    assert_string_equal(b.p, want);
    buf_deinit(&b);
}

static void test_escaping(void **state)
{
    check_escape("", 0, "\"\"");
    check_escape("plain", 5, "\"plain\"");
    check_escape("\"", 1, "\"\\\"\"");
    check_escape("\\", 1, "\"\\\\\"");
    check_escape("a\nb\rc\td\be\ff", 11, "\"a\\nb\\rc\\td\\be\\ff\"");
    check_escape("\x01\x1f", 2, "\"\\u0001\\u001f\"");
    check_escape("\0x", 2, "\"\\u0000x\"");
    check_escape("\x0b\x0e\x1b", 3, "\"\\u000b\\u000e\\u001b\"");
    check_escape("/\x7f", 2, "\"/\x7f\"");                       /* verbatim */
    check_escape("\xc3\xa9\xf0\x9f\x98\x80", 6, "\"\xc3\xa9\xf0\x9f\x98\x80\""); /* é 😀 */
    check_escape("\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\"");       /* U+2028 verbatim */
}

static void test_sign_round_trip(void **state)
{
    struct nostr_key k;
    uint8_t sk[32] = {0};
    sk[31] = 7;
    assert_int_equal(nostr_key_from_secret(&k, sk), E_OK);
    struct nostr_event ev;
    nostr_event_init(&ev);
    ev.kind = 38421;
    ev.created_at = 1750000000;
    const char *d[] = {"d", "node"}, *u[] = {"u", "https://a.example"};
    assert_int_equal(nostr_event_add_tag(&ev, d, 2), E_OK);
    assert_int_equal(nostr_event_add_tag(&ev, u, 2), E_OK);
    const char content[] = "{\"name\":\"x \\\"y\\\"\",\"about\":\"\xc3\xa9\\n\"}";
    assert_int_equal(nostr_event_set_content(&ev, content, sizeof content - 1), E_OK);
    assert_int_equal(nostr_event_sign(&ev, &k), E_OK);
    assert_memory_equal(ev.pubkey, k.pub, 32);
    assert_int_equal(nostr_event_verify(&ev), E_OK);
    size_t len;
    assert_string_equal(nostr_event_tag(&ev, "u", &len), "https://a.example");
    assert_int_equal(len, 17);
    assert_null(nostr_event_tag(&ev, "mint", NULL));

    struct nostr_event copy;
    nostr_event_copy(&copy, &ev);
    assert_int_equal(nostr_event_verify(&copy), E_OK);
    nostr_event_deinit(&copy);

    /* A signature moved onto other content is a forgery. */
    assert_int_equal(nostr_event_set_content(&ev, "other", 5), E_OK);
    assert_int_equal(nostr_event_verify(&ev), E_PROTO);
    /* Not UTF-8; over the caps. */
    assert_int_equal(nostr_event_set_content(&ev, "\xff", 1), E_PROTO);
    const char *bad[] = {"t", "\xc3"};
    assert_int_equal(nostr_event_add_tag(&ev, bad, 2), E_PROTO);
    const char *many[NOSTR_MAX_TAG_ITEMS + 1];
    for (size_t i = 0; i <= NOSTR_MAX_TAG_ITEMS; i++)
        many[i] = "x";
    assert_int_equal(nostr_event_add_tag(&ev, many, NOSTR_MAX_TAG_ITEMS + 1), E_LIMIT);
    nostr_event_deinit(&ev);
    nostr_key_wipe(&k);
}

static void test_key_parse(void **state)
{
    struct nostr_key k;
    /* The secret 0 and the curve order are not keys. */
    assert_int_equal(nostr_key_parse(&k, "0000000000000000000000000000000000000000000000000000000000000000"), E_PROTO);
    assert_int_equal(nostr_key_parse(&k, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"), E_PROTO);
    assert_int_equal(nostr_key_parse(&k, "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ff"), E_PROTO);
    assert_int_equal(nostr_key_parse(&k, "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe6"), E_PROTO);
    /* An npub is not a secret. */
    assert_int_equal(nostr_key_parse(&k, "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"), E_PROTO);
    assert_int_equal(nostr_key_parse(&k, ""), E_PROTO);
    /* Upper-case hex, surrounding spaces, and an all-upper-case nsec are accepted. */
    assert_int_equal(nostr_key_parse(&k, " 67DEA2ED018072D675F5415ECFAED7D2597555E202D85B3D65EA4E58D2D92FFA "), E_OK);
    assert_hex_equal(k.pub, 32, "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e");
    assert_int_equal(nostr_key_parse(&k, "NSEC1VL029MGPSPEDVA04G90VLTKH6FVH240ZQTV9K0T9AF8935KE9LAQSNLFE5"), E_OK);
    assert_hex_equal(k.pub, 32, "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e");
    nostr_key_wipe(&k);
}

static json_t *good_event_json(void)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:[[s,s]], s:s, s:s}", "id",
                     "0000000000000000000000000000000000000000000000000000000000000000",
                     "pubkey", "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e",
                     "created_at", 1, "kind", 1, "tags", "d", "x", "content", "c", "sig",
                     "00000000000000000000000000000000000000000000000000000000000000000000000000"
                     "000000000000000000000000000000000000000000000000000000");
}

static void expect_from_json(json_t *j, int want)
{
    struct nostr_event ev;
    assert_int_equal(nostr_event_from_json(&ev, j), want);
    if (want == E_OK)
        assert_int_equal(nostr_event_verify(&ev), E_PROTO); /* the id is all zeros */
    nostr_event_deinit(&ev);
    json_decref(j);
}

static void test_from_json_refusals(void **state)
{
    expect_from_json(good_event_json(), E_OK);
    json_t *j;
    j = good_event_json();
    json_object_set_new(j, "id", json_string("00"));
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_set_new(j, "pubkey", json_string("7E7E9C42A91BFEF19FA929E5FDA1B72E0EBC1A4C1141673E2794234D86ADDF4E"));
    expect_from_json(j, E_PROTO); /* NIP-01 hex is lowercase */
    j = good_event_json();
    json_object_set_new(j, "created_at", json_real(1.5));
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_set_new(j, "created_at", json_integer(-1));
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_set_new(j, "kind", json_integer(65536));
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_set_new(j, "kind", json_string("1"));
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_set_new(j, "tags", json_pack("[[s,i]]", "d", 1));
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_set_new(j, "tags", json_pack("[s]", "d"));
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_set_new(j, "tags", json_object());
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_del(j, "content");
    expect_from_json(j, E_PROTO);
    j = good_event_json();
    json_object_del(j, "sig");
    expect_from_json(j, E_PROTO);
    expect_from_json(json_array(), E_PROTO);

    j = good_event_json();
    json_t *tags = json_array();
    for (int i = 0; i <= NOSTR_MAX_TAGS; i++)
        json_array_append_new(tags, json_pack("[s]", "t"));
    json_object_set_new(j, "tags", tags);
    expect_from_json(j, E_LIMIT);
    j = good_event_json();
    char *big = malloc(NOSTR_MAX_CONTENT + 2);
    memset(big, 'a', NOSTR_MAX_CONTENT + 1);
    big[NOSTR_MAX_CONTENT + 1] = '\0';
    json_object_set_new(j, "content", json_string(big));
    free(big);
    expect_from_json(j, E_LIMIT);
    /* Empty tags ([]) are legal NIP-01. */
    j = good_event_json();
    json_object_set_new(j, "tags", json_pack("[[]]"));
    expect_from_json(j, E_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip340_vectors),
        cmocka_unit_test(test_nostr_tools_events),
        cmocka_unit_test(test_keys_from_fixtures),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_from_json_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
