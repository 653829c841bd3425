/* test_cashu_dleq.c -- NUT-12 against tests/vectors/cashu/nut12-dleq.json: hash_e, the mint's
 * deterministic nonce (e and s), a BlindSignature DLEQ and a Proof DLEQ (with r); then every
 * single-bit tamper of those proofs must fail, and a proof made here must verify. */
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
    vec = vectors_load("cashu/nut12-dleq.json");
    return 0;
}

static int teardown(void **state)
{
    json_decref(vec);
    return 0;
}

static void test_hash_e(void **state)
{
    json_t *v = vget(vec, "hash_e");
    uint8_t pts[4][33], e[32];
    vhex(pts[0], 33, v, "R1");
    vhex(pts[1], 33, v, "R2");
    vhex(pts[2], 33, v, "K");
    vhex(pts[3], 33, v, "C_");
    assert_int_equal(cashu_hash_e(e, (const uint8_t(*)[33])pts, 4), E_OK);
    assert_hex_equal(e, 32, vstr(v, "expected"));
    pts[1][0] = 0x05;
    assert_int_equal(cashu_hash_e(e, (const uint8_t(*)[33])pts, 4), E_PROTO);
}

static void test_deterministic_nonce(void **state)
{
    json_t *v = vget(vec, "deterministic_nonce");
    uint8_t a[32], A[33], B_[33], C_[33], e[32], s[32], C_mine[33];
    vhex(a, 32, v, "a");
    vhex(A, 33, v, "A");
    vhex(B_, 33, v, "B_");
    vhex(C_, 33, v, "C_");
    /* The vector's C_ is a*B_ and its A is a*G. */
    assert_int_equal(cashu_sign_blinded(C_mine, a, B_), E_OK);
    assert_memory_equal(C_mine, C_, 33);
    assert_int_equal(cashu_dleq_prove(e, s, a, B_, C_), E_OK);
    assert_hex_equal(e, 32, vstr(v, "expected_e"));
    assert_hex_equal(s, 32, vstr(v, "expected_s"));
    assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, e, s), E_OK);
}

static void test_blind_signature(void **state)
{
    json_t *v = vget(vec, "blind_signature_valid");
    json_t *sig = vget(v, "blind_signature"), *d = vget(sig, "dleq");
    uint8_t A[33], B_[33], C_[33], e[32], s[32];
    vhex(A, 33, v, "A");
    vhex(B_, 33, v, "B_");
    vhex(C_, 33, sig, "C_");
    vhex(e, 32, d, "e");
    vhex(s, 32, d, "s");
    assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, e, s), E_OK);

    /* Tamper: every bit of e and s, and a different A, B_ or C_. */
    for (int bit = 0; bit < 256; bit++) {
        e[bit / 8] ^= (uint8_t)(1 << bit % 8);
        assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, e, s), E_PROTO);
        e[bit / 8] ^= (uint8_t)(1 << bit % 8);
        s[bit / 8] ^= (uint8_t)(1 << bit % 8);
        assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, e, s), E_PROTO);
        s[bit / 8] ^= (uint8_t)(1 << bit % 8);
    }
    uint8_t other[33];
    assert_int_equal(cashu_hash_to_curve(other, "x", 1), E_OK);
    assert_int_equal(cashu_dleq_verify_blind(other, B_, C_, e, s), E_PROTO);
    assert_int_equal(cashu_dleq_verify_blind(A, other, C_, e, s), E_PROTO);
    assert_int_equal(cashu_dleq_verify_blind(A, B_, other, e, s), E_PROTO);
    assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, e, s), E_OK);
}

static void test_proof(void **state)
{
    json_t *v = vget(vec, "proof_valid");
    json_t *p = vget(v, "proof"), *d = vget(p, "dleq");
    const char *secret = vstr(p, "secret");
    struct cashu_dleq dl = {.has_r = true};
    uint8_t A[33], C[33];
    vhex(A, 33, v, "A");
    vhex(C, 33, p, "C");
    vhex(dl.e, 32, d, "e");
    vhex(dl.s, 32, d, "s");
    vhex(dl.r, 32, d, "r");
    assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C, &dl), E_OK);

    /* Tamper: r, e, s bits; the secret; C; and no r at all. */
    for (int bit = 0; bit < 256; bit += 7) {
        uint8_t mask = (uint8_t)(1 << bit % 8);
        dl.r[bit / 8] ^= mask;
        assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C, &dl), E_PROTO);
        dl.r[bit / 8] ^= mask;
        dl.e[bit / 8] ^= mask;
        assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C, &dl), E_PROTO);
        dl.e[bit / 8] ^= mask;
        dl.s[bit / 8] ^= mask;
        assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C, &dl), E_PROTO);
        dl.s[bit / 8] ^= mask;
    }
    char other[65];
    memcpy(other, secret, 65);
    other[0] = other[0] == 'a' ? 'b' : 'a';
    assert_int_equal(cashu_dleq_verify_proof(A, other, strlen(other), C, &dl), E_PROTO);
    uint8_t C2[33];
    assert_int_equal(cashu_hash_to_curve(C2, "y", 1), E_OK);
    assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C2, &dl), E_PROTO);
    dl.has_r = false;
    assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C, &dl), E_PROTO);
    dl.has_r = true;
    assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C, &dl), E_OK);
}

/* Out-of-range scalars: e or s equal to 0 or to n make the proof invalid, never crash. */
static void test_scalar_range(void **state)
{
    json_t *v = vget(vec, "blind_signature_valid");
    uint8_t A[33], B_[33], C_[33], zero[32] = {0}, n[32], e[32];
    vhex(A, 33, v, "A");
    vhex(B_, 33, v, "B_");
    vhex(C_, 33, vget(v, "blind_signature"), "C_");
    vhex(e, 32, vget(vget(v, "blind_signature"), "dleq"), "e");
    hex_decode(n, 32, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 64);
    assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, zero, e), E_PROTO);
    assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, e, zero), E_PROTO);
    assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, n, e), E_PROTO);
    assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, e, n), E_PROTO);
}

/* The full wallet path: blind, sign with a DLEQ, verify it, unblind, then verify the DLEQ again
 * from the proof's side (as a receiver of the token would). */
static void test_prove_and_verify(void **state)
{
    const char *secret = "daf4dd00a2b68a0858a80450f52c8a7d2ccf87d375e43e216e0c571f089f63e9";
    for (int round = 0; round < 8; round++) {
        uint8_t a[32], r[32], A[33], B_[33], C_[33], C[33];
        struct cashu_dleq d = {.has_r = true};
        secp256k1_pubkey P;
        size_t len = 33;
        assert_int_equal(crypto_random(a, 32), E_OK);
        assert_int_equal(crypto_random(r, 32), E_OK);
        assert_true(secp256k1_ec_pubkey_create(crypto_secp(), &P, a));
        assert_true(secp256k1_ec_pubkey_serialize(crypto_secp(), A, &len, &P,
                                                  SECP256K1_EC_COMPRESSED));
        assert_int_equal(cashu_blind(B_, secret, strlen(secret), r), E_OK);
        assert_int_equal(cashu_sign_blinded(C_, a, B_), E_OK);
        assert_int_equal(cashu_dleq_prove(d.e, d.s, a, B_, C_), E_OK);
        assert_int_equal(cashu_dleq_verify_blind(A, B_, C_, d.e, d.s), E_OK);
        assert_int_equal(cashu_unblind(C, C_, r, A), E_OK);
        memcpy(d.r, r, 32);
        assert_int_equal(cashu_dleq_verify_proof(A, secret, strlen(secret), C, &d), E_OK);
        /* A signature by another key does not pass with this proof. */
        uint8_t a2[32], C2_[33];
        memcpy(a2, a, 32);
        a2[31] ^= 0x55;
        assert_int_equal(cashu_sign_blinded(C2_, a2, B_), E_OK);
        assert_int_equal(cashu_dleq_verify_blind(A, B_, C2_, d.e, d.s), E_PROTO);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_e),
        cmocka_unit_test(test_deterministic_nonce),
        cmocka_unit_test(test_blind_signature),
        cmocka_unit_test(test_proof),
        cmocka_unit_test(test_scalar_range),
        cmocka_unit_test(test_prove_and_verify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
