/* test_crypto_hash.c -- SHA-256 (FIPS 180-4 examples, incremental = one-shot), HMAC-SHA256 and
 * HMAC-SHA512 (RFC 4231 cases 1, 2 and 6), PBKDF2-HMAC-SHA512 (the BIP-39 seed of the NUT-13
 * vector file, and a known one-iteration answer). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "crypto/crypto.h"
#include "vectors.h"

static void test_sha256(void **state)
{
    uint8_t d[32];
    crypto_sha256(d, "abc", 3);
    assert_hex_equal(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256(d, "", 0);
    assert_hex_equal(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    crypto_sha256(d, m, strlen(m));
    assert_hex_equal(d, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_incremental(void **state)
{
    uint8_t msg[1000], one[32], inc[32];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    crypto_sha256(one, msg, sizeof msg);
    for (size_t step = 1; step < 200; step += 37) {
        struct crypto_sha256_ctx c;
        crypto_sha256_init(&c);
        for (size_t o = 0; o < sizeof msg; o += step)
            crypto_sha256_update(&c, msg + o, o + step > sizeof msg ? sizeof msg - o : step);
        crypto_sha256_final(&c, inc);
        assert_null(c._md);
        assert_memory_equal(one, inc, 32);
    }
    /* One million 'a' (FIPS 180-2 example 3), in pieces. */
    struct crypto_sha256_ctx c;
    char a[1000];
    memset(a, 'a', sizeof a);
    crypto_sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        crypto_sha256_update(&c, a, sizeof a);
    crypto_sha256_final(&c, inc);
    assert_hex_equal(inc, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* An abandoned context is released without leaking. */
    crypto_sha256_init(&c);
    crypto_sha256_update(&c, "x", 1);
    crypto_sha256_abort(&c);
    assert_null(c._md);
}

static void test_hmac(void **state)
{
    uint8_t key[131], m256[32], m512[64];
    /* RFC 4231 test case 1 */
    memset(key, 0x0b, 20);
    crypto_hmac_sha256(m256, key, 20, "Hi There", 8);
    assert_hex_equal(m256, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    crypto_hmac_sha512(m512, key, 20, "Hi There", 8);
    assert_hex_equal(m512, 64, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                               "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
    /* test case 2: a short key */
    const char *what = "what do ya want for nothing?";
    crypto_hmac_sha256(m256, "Jefe", 4, what, strlen(what));
    assert_hex_equal(m256, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    crypto_hmac_sha512(m512, "Jefe", 4, what, strlen(what));
    assert_hex_equal(m512, 64, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                               "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    /* test case 6: a key longer than the block */
    memset(key, 0xaa, 131);
    const char *big = "Test Using Larger Than Block-Size Key - Hash Key First";
    crypto_hmac_sha256(m256, key, 131, big, strlen(big));
    assert_hex_equal(m256, 32, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    crypto_hmac_sha512(m512, key, 131, big, strlen(big));
    assert_hex_equal(m512, 64, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
                               "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
    /* An empty key and an empty message are legal. */
    crypto_hmac_sha256(m256, NULL, 0, NULL, 0);
    assert_hex_equal(m256, 32, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_pbkdf2(void **state)
{
    json_t *v = vectors_load("cashu/nut13-deterministic-secrets.json");
    const char *mnemonic = vstr(v, "mnemonic");
    uint8_t seed[64];
    crypto_pbkdf2_sha512(seed, 64, mnemonic, strlen(mnemonic), "mnemonic", 8, 2048);
    assert_hex_equal(seed, 64, vstr(v, "seed_hex"));
    json_decref(v);
    /* PBKDF2-HMAC-SHA512("password", "salt", 1, 64): with one round it is
     * HMAC-SHA512(password, salt || INT(1)), which checks the block index encoding. */
    uint8_t dk[64], want[64];
    crypto_pbkdf2_sha512(dk, 64, "password", 8, "salt", 4, 1);
    crypto_hmac_sha512(want, "password", 8, "salt\0\0\0\1", 8);
    assert_memory_equal(dk, want, 64);
    assert_hex_equal(dk, 64, "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
                             "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_sha256_incremental),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_pbkdf2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
