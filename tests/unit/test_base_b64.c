/* test_base_b64.c -- base64 and base64url: the RFC 4648 §10 vectors in both alphabets, padded
 * and unpadded; the refusals (foreign characters, misplaced or excess padding, non-zero
 * trailing bits, a length of 4k+1) with E_PROTO; the output cap with E_LIMIT; random round
 * trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/b64.h"
#include "base/err.h"
#include "crypto/crypto.h"

static const struct { const char *plain, *b64; } rfc[] = {
    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648(void **state)
{
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        const char *p = rfc[i].plain, *want = rfc[i].b64;
        size_t n = strlen(p), wn = strlen(want);
        char out[16];
        assert_int_equal(b64_encoded_len(n, true), wn);
        assert_int_equal(b64_encode(out, (const uint8_t *)p, n), wn);
        assert_string_equal(out, want);
        assert_int_equal(b64url_encode(out, (const uint8_t *)p, n, true), wn);
        assert_string_equal(out, want);
        /* Unpadded: the same without '='. */
        size_t un = b64url_encode(out, (const uint8_t *)p, n, false);
        assert_int_equal(un, b64_encoded_len(n, false));
        assert_int_equal(strcspn(want, "="), un);
        assert_memory_equal(out, want, un);
        /* Both forms decode, with all three decoders. */
        uint8_t dec[16];
        size_t dn = 99;
        assert_int_equal(b64_decode(dec, sizeof dec, &dn, want, wn), E_OK);
        assert_int_equal(dn, n);
        assert_memory_equal(dec, p, n);
        assert_int_equal(b64url_decode(dec, sizeof dec, &dn, out, un), E_OK);
        assert_int_equal(dn, n);
        assert_memory_equal(dec, p, n);
        assert_int_equal(b64_decode_any(dec, sizeof dec, &dn, want, wn), E_OK);
        assert_int_equal(dn, n);
        assert_true(b64_decoded_max(wn) >= n && b64_decoded_max(un) >= n);
    }
}

static void test_alphabets(void **state)
{
    static const uint8_t raw[] = {0xfb, 0xff, 0xbf}; /* "+/+/" and "-_-_" */
    char out[8];
    uint8_t dec[8];
    size_t n;
    b64_encode(out, raw, 3);
    assert_string_equal(out, "+/+/");
    b64url_encode(out, raw, 3, false);
    assert_string_equal(out, "-_-_");
    assert_int_equal(b64_decode(dec, 8, &n, "+/+/", 4), E_OK);
    assert_int_equal(b64_decode(dec, 8, &n, "-_-_", 4), E_PROTO);
    assert_int_equal(b64url_decode(dec, 8, &n, "-_-_", 4), E_OK);
    assert_int_equal(b64url_decode(dec, 8, &n, "+/+/", 4), E_PROTO);
    assert_int_equal(b64_decode_any(dec, 8, &n, "+_-/", 4), E_OK);
    assert_memory_equal(dec, raw, 3);
}

static void test_refusals(void **state)
{
    static const char *bad[] = {
        "Zg=",     /* padding that does not complete a quad */
        "Zg===",   /* too much padding */
        "Z===",    /* a lone character */
        "Z",       /* 4k+1 characters */
        "Zm9vY",   /* 4k+1 characters */
        "Zm=v",    /* '=' inside */
        "=Zm9",    /* '=' first */
        "Zm9v Yg==", /* whitespace */
        "Zm9v\nYg==",
        "Zh==",    /* trailing bits set: "f" is Zg== */
        "Zm9=",    /* trailing bits set: "fo" is Zm8= */
        "Zm9vYmE*", "Zm9vYmE.", "Zm9v\x80", "====", "Zm9vYg==Zg==",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t dec[16];
        size_t n;
        print_message("refusing \"%s\"\n", bad[i]);
        assert_int_equal(b64_decode_any(dec, sizeof dec, &n, bad[i], strlen(bad[i])), E_PROTO);
    }
}

static void test_cap(void **state)
{
    uint8_t dec[6];
    size_t n;
    assert_int_equal(b64_decode(dec, 6, &n, "Zm9vYmFy", 8), E_OK);
    assert_int_equal(b64_decode(dec, 5, &n, "Zm9vYmFy", 8), E_LIMIT);
    assert_int_equal(b64_decode(dec, 5, &n, "Zm9vYmE=", 8), E_OK);
    assert_int_equal(b64_decode(dec, 5, &n, "Zm9vYmE", 7), E_OK);
    assert_int_equal(n, 5);
    assert_int_equal(b64_decode(dec, 0, &n, "", 0), E_OK);
    assert_int_equal(n, 0);
}

static void test_random_round_trip(void **state)
{
    uint8_t raw[300], dec[300];
    char enc[401];
    for (size_t len = 0; len < sizeof raw; len += 1 + len / 8) {
        assert_int_equal(crypto_random(raw, len), E_OK);
        for (int pad = 0; pad < 2; pad++) {
            size_t n = b64url_encode(enc, raw, len, pad), dn;
            assert_int_equal(strlen(enc), n);
            assert_int_equal(b64url_decode(dec, len, &dn, enc, n), E_OK);
            assert_int_equal(dn, len);
            assert_memory_equal(dec, raw, len);
            assert_true(b64_decoded_max(n) >= len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648),
        cmocka_unit_test(test_alphabets),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_random_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
