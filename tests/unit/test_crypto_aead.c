/* test_crypto_aead.c -- AES-256-GCM seal/open: round trips of several sizes, a fresh nonce per
 * seal, refusal of any flipped bit (nonce, ciphertext, tag), of a wrong key or AAD and of a
 * short blob, with the output wiped on refusal. Plus the NIST GCM test case 16 answer (key
 * feffe9…, IV cafebabe…) to pin the layout against an independent result. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/str.h"
#include "crypto/crypto.h"

static void test_round_trip(void **state)
{
    uint8_t key[32];
    assert_int_equal(crypto_random(key, 32), E_OK);
    static const size_t sizes[] = {0, 1, 15, 16, 17, 64, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        size_t sn = n + CRYPTO_AEAD_OVERHEAD;
        uint8_t *pt = malloc(n + 1), *out = malloc(n + 1);
        uint8_t *sealed = malloc(sn), *sealed2 = malloc(sn);
        assert_int_equal(crypto_random(pt, n + 1), E_OK);
        assert_int_equal(crypto_aead_seal(sealed, key, pt, n, "row:7", 5), E_OK);
        assert_int_equal(crypto_aead_seal(sealed2, key, pt, n, "row:7", 5), E_OK);
        assert_memory_not_equal(sealed, sealed2, CRYPTO_AEAD_NONCE_LEN); /* fresh nonces */
        assert_int_equal(crypto_aead_open(out, key, sealed, sn, "row:7", 5), E_OK);
        if (n)
            assert_memory_equal(out, pt, n);
        assert_int_equal(crypto_aead_open(out, key, sealed2, sn, "row:7", 5), E_OK);
        free(pt), free(sealed), free(sealed2), free(out);
    }
}

static void test_tamper(void **state)
{
    uint8_t key[32], pt[48], sealed[48 + CRYPTO_AEAD_OVERHEAD], out[48], zero[48] = {0};
    size_t n = sizeof sealed;
    assert_int_equal(crypto_random(key, 32), E_OK);
    memset(pt, 'p', sizeof pt);
    assert_int_equal(crypto_aead_seal(sealed, key, pt, sizeof pt, NULL, 0), E_OK);
    for (size_t i = 0; i < n; i++) {
        sealed[i] ^= 0x01;
        memset(out, 0x77, sizeof out);
        assert_int_equal(crypto_aead_open(out, key, sealed, n, NULL, 0), E_PROTO);
        assert_memory_equal(out, zero, sizeof out);
        sealed[i] ^= 0x01;
    }
    assert_int_equal(crypto_aead_open(out, key, sealed, n, NULL, 0), E_OK);
    assert_int_equal(crypto_aead_open(out, key, sealed, n, "x", 1), E_PROTO);  /* AAD */
    key[0] ^= 1;
    assert_int_equal(crypto_aead_open(out, key, sealed, n, NULL, 0), E_PROTO); /* key */
    key[0] ^= 1;
    assert_int_equal(crypto_aead_open(out, key, sealed, n - 1, NULL, 0), E_PROTO); /* cut */
    size_t short_len = CRYPTO_AEAD_OVERHEAD - 1;
    assert_int_equal(crypto_aead_open(out, key, sealed, short_len, NULL, 0), E_PROTO);
}

/* The GCM spec's test case 16 (AES-256, 96-bit IV, 20 bytes of AAD): rebuild the sealed blob
 * from the published ciphertext and tag, and open it. */
static void test_known_answer(void **state)
{
    uint8_t key[32], iv[12], pt[60], aad[20], ct[60], tag[16];
    hex_decode(key, 32, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", 64);
    hex_decode(iv, 12, "cafebabefacedbaddecaf888", 24);
    hex_decode(pt, 60, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                       "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39", 120);
    hex_decode(aad, 20, "feedfacedeadbeeffeedfacedeadbeefabaddad2", 40);
    hex_decode(ct, 60, "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                       "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662", 120);
    hex_decode(tag, 16, "76fc6ece0f4e1768cddf8853bb2d551b", 32);
    uint8_t sealed[12 + 60 + 16], out[60];
    memcpy(sealed, iv, 12);
    memcpy(sealed + 12, ct, 60);
    memcpy(sealed + 72, tag, 16);
    assert_int_equal(crypto_aead_open(out, key, sealed, sizeof sealed, aad, sizeof aad), E_OK);
    assert_memory_equal(out, pt, 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_known_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
