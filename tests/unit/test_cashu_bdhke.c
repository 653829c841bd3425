/* test_cashu_bdhke.c -- NUT-00 cryptography against tests/vectors/cashu/nut00-crypto.json:
 * hash_to_curve (3 vectors, with the counter each one stops at), blinded messages (2) and blind
 * signatures (2); then the whole wallet/mint round trip and the refusals of bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "cashu/bdhke.h"
#include "crypto/crypto.h"
#include "vectors.h"

static json_t *vec;

static int setup(void **state)
{
    vec = vectors_load("cashu/nut00-crypto.json");
    return 0;
}

static int teardown(void **state)
{
    json_decref(vec);
    return 0;
}

static void test_hash_to_curve(void **state)
{
    json_t *arr = vget(vec, "hash_to_curve"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 3);
    json_array_foreach(arr, i, v) {
        uint8_t msg[32], Y[33];
        vhex(msg, 32, v, "message_hex");
        assert_int_equal(cashu_hash_to_curve(Y, msg, 32), E_OK);
        assert_hex_equal(Y, 33, vstr(v, "expected_point"));

        /* counter_used: the spec's loop stops at that counter and at no earlier one. */
        uint8_t h[32], buf[36], cand[33] = {0x02};
        static const char dst[] = "Secp256k1_HashToCurve_Cashu_";
        uint8_t pre[sizeof dst - 1 + 32];
        memcpy(pre, dst, sizeof dst - 1);
        memcpy(pre + sizeof dst - 1, msg, 32);
        crypto_sha256(h, pre, sizeof pre);
        memcpy(buf, h, 32);
        json_int_t used = json_integer_value(vget(v, "counter_used"));
        for (uint32_t ctr = 0; ctr <= (uint32_t)used; ctr++) {
            secp256k1_pubkey P;
            buf[32] = (uint8_t)ctr, buf[33] = buf[34] = buf[35] = 0;
            crypto_sha256(cand + 1, buf, 36);
            int ok = secp256k1_ec_pubkey_parse(crypto_secp(), &P, cand, 33);
            assert_int_equal(ok, ctr == (uint32_t)used);
        }
        assert_memory_equal(cand, Y, 33);
    }
}

static void test_blinded_messages(void **state)
{
    json_t *arr = vget(vec, "blinded_messages"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, v) {
        uint8_t x[32], r[32], B_[33];
        vhex(x, 32, v, "x_hex");
        vhex(r, 32, v, "r_hex");
        assert_int_equal(cashu_blind(B_, x, 32, r), E_OK);
        assert_hex_equal(B_, 33, vstr(v, "expected_B_"));
    }
}

static void test_blind_signatures(void **state)
{
    json_t *arr = vget(vec, "blind_signatures"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, v) {
        uint8_t k[32], B_[33], C_[33];
        vhex(k, 32, v, "k_hex");
        vhex(B_, 33, v, "B_");
        assert_int_equal(cashu_sign_blinded(C_, k, B_), E_OK);
        assert_hex_equal(C_, 33, vstr(v, "expected_C_"));
    }
}

/* Wallet blinds, mint signs, wallet unblinds: C must be k*hash_to_curve(secret). */
static void test_round_trip(void **state)
{
    const char *secret = "407915bc212be61a77e3e6d2aeb4c727980bda51cd06a6afc29e2861768a7837";
    uint8_t k[32], r[32], K[33], B_[33], C_[33], C[33];
    secp256k1_pubkey P;
    for (int round = 0; round < 16; round++) {
        assert_int_equal(crypto_random(k, 32), E_OK);
        assert_int_equal(crypto_random(r, 32), E_OK);
        assert_true(secp256k1_ec_pubkey_create(crypto_secp(), &P, k));
        size_t len = 33;
        assert_true(secp256k1_ec_pubkey_serialize(crypto_secp(), K, &len, &P,
                                                  SECP256K1_EC_COMPRESSED));
        assert_int_equal(cashu_blind(B_, secret, strlen(secret), r), E_OK);
        assert_int_equal(cashu_sign_blinded(C_, k, B_), E_OK);
        assert_int_equal(cashu_unblind(C, C_, r, K), E_OK);
        assert_int_equal(cashu_verify_unblinded(k, secret, strlen(secret), C), E_OK);
        /* Another secret, or another key, does not verify. */
        assert_int_equal(cashu_verify_unblinded(k, "other", 5, C), E_PROTO);
        k[31] ^= 1;
        assert_int_equal(cashu_verify_unblinded(k, secret, strlen(secret), C), E_PROTO);
    }
}

static void test_bad_input(void **state)
{
    static const uint8_t zero[32];
    uint8_t n[32], good[33], out[33], r[32] = {[31] = 7};
    /* The group order n itself is not a valid scalar. */
    hex_decode(n, 32, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 64);
    assert_int_equal(cashu_blind(out, "s", 1, zero), E_PROTO);
    assert_int_equal(cashu_blind(out, "s", 1, n), E_PROTO);

    assert_int_equal(cashu_hash_to_curve(good, "s", 1), E_OK);
    uint8_t bad[33];
    memcpy(bad, good, 33);
    bad[0] = 0x04; /* not a compressed prefix */
    assert_int_equal(cashu_sign_blinded(out, r, bad), E_PROTO);
    assert_int_equal(cashu_unblind(out, bad, r, good), E_PROTO);
    assert_int_equal(cashu_unblind(out, good, r, bad), E_PROTO);
    /* x = 5 is not on secp256k1 (5^3 + 7 = 132 is no square mod p). */
    memset(bad, 0, 33);
    bad[0] = 0x02, bad[32] = 5;
    assert_int_equal(cashu_sign_blinded(out, r, bad), E_PROTO);
    assert_int_equal(cashu_sign_blinded(out, zero, good), E_PROTO);
    assert_int_equal(cashu_unblind(out, good, zero, good), E_PROTO);

    /* C_ - r*K at infinity: C_ = r*K. */
    uint8_t rK[33];
    assert_int_equal(cashu_sign_blinded(rK, r, good), E_OK);
    assert_int_equal(cashu_unblind(out, rK, r, good), E_PROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_to_curve),
        cmocka_unit_test(test_blinded_messages),
        cmocka_unit_test(test_blind_signatures),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
