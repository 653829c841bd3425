/* test_crypto_random.c -- the RNG, constant-time compare, secure_zero and the shared secp256k1
 * context (one instance, usable from several threads at once). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

static void test_random(void **state)
{
    uint8_t a[64], b[64], zero[64] = {0};
    assert_int_equal(crypto_random(a, sizeof a), E_OK);
    assert_int_equal(crypto_random(b, sizeof b), E_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_int_equal(crypto_random(a, 0), E_OK);
    /* Every byte value shows up in 64 KiB (a gross bias check, not a statistical test). */
    static uint8_t big[1 << 16];
    int seen[256] = {0};
    assert_int_equal(crypto_random(big, sizeof big), E_OK);
    for (size_t i = 0; i < sizeof big; i++)
        seen[big[i]]++;
    for (int v = 0; v < 256; v++)
        assert_true(seen[v] > 100 && seen[v] < 500);
}

static void test_ct_memeq(void **state)
{
    uint8_t a[40], b[40];
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof a);
    assert_true(ct_memeq(a, b, sizeof a));
    assert_true(ct_memeq(a, b, 0));
    for (size_t i = 0; i < sizeof a; i++) {
        b[i] ^= 0x80;
        assert_false(ct_memeq(a, b, sizeof a));
        b[i] ^= 0x80;
    }
}

static void test_secure_zero(void **state)
{
    uint8_t a[33], zero[33] = {0};
    memset(a, 0xff, sizeof a);
    secure_zero(a, sizeof a);
    assert_memory_equal(a, zero, sizeof a);
    secure_zero(NULL, 0);
}

static void *grab(void *arg)
{
    return (void *)crypto_secp();
}

static void test_secp_context(void **state)
{
    pthread_t th[4];
    void *got[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, grab, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], &got[i]), 0);
    const secp256k1_context *ctx = crypto_secp();
    assert_non_null(ctx);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(got[i], ctx);
    /* It does scalar multiplication: 1*G is the generator. */
    uint8_t one[32] = {[31] = 1}, out[33];
    size_t len = 33;
    secp256k1_pubkey G;
    assert_true(secp256k1_ec_pubkey_create(ctx, &G, one));
    assert_true(secp256k1_ec_pubkey_serialize(ctx, out, &len, &G, SECP256K1_EC_COMPRESSED));
    static const uint8_t g[33] = {0x02, 0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0,
                                  0x62, 0x95, 0xce, 0x87, 0x0b, 0x07, 0x02, 0x9b, 0xfc, 0xdb, 0x2d,
                                  0xce, 0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98};
    assert_memory_equal(out, g, 33);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_ct_memeq),
        cmocka_unit_test(test_secure_zero),
        cmocka_unit_test(test_secp_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
