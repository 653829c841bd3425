/* test_cashu_nut13.c -- NUT-13 against tests/vectors/cashu/nut13-deterministic-secrets.json:
 * the BIP-39 seed, the v1 keyset integer and derivation paths, 5 secrets and 5 r for v1 (BIP-32)
 * and for v2 (HMAC-SHA256). Plus the BIP-39 passphrase (the Trezor reference vector) and the
 * refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "cashu/bdhke.h"
#include "cashu/nut13.h"
#include "vectors.h"

static json_t *vec;
static uint8_t seed[64];

static int setup(void **state)
{
    vec = vectors_load("cashu/nut13-deterministic-secrets.json");
    return 0;
}

static int teardown(void **state)
{
    json_decref(vec);
    return 0;
}

static void test_seed(void **state)
{
    cashu_bip39_seed(seed, vstr(vec, "mnemonic"), "");
    assert_hex_equal(seed, 64, vstr(vec, "seed_hex"));
    uint8_t again[64];
    cashu_bip39_seed(again, vstr(vec, "mnemonic"), NULL);
    assert_memory_equal(again, seed, 64);
}

/* BIP-39's published vector (trezor/python-mnemonic vectors.json, first entry), to cover the
 * passphrase half of the salt, which the NUT-13 vector leaves empty. */
static void test_seed_passphrase(void **state)
{
    uint8_t s[64];
    cashu_bip39_seed(s, "abandon abandon abandon abandon abandon abandon abandon abandon abandon "
                        "abandon abandon about", "TREZOR");
    assert_hex_equal(s, 64, "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e5349553"
                            "1f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04");
}

static void check_version(const char *name)
{
    json_t *v = vget(vec, name);
    json_t *secrets = vget(v, "secrets"), *rs = vget(v, "r");
    const char *id = vstr(v, "keyset_id");
    assert_int_equal(json_array_size(secrets), 5);
    assert_int_equal(json_array_size(rs), 5);
    cashu_bip39_seed(seed, vstr(vec, "mnemonic"), "");
    for (size_t counter = 0; counter < 5; counter++) {
        char secret[65];
        uint8_t r[32], B_[33];
        assert_int_equal(cashu_nut13_derive(secret, r, seed, id, counter), E_OK);
        assert_string_equal(secret, json_string_value(json_array_get(secrets, counter)));
        assert_hex_equal(r, 32, json_string_value(json_array_get(rs, counter)));
        /* The outputs are usable: the hex secret text blinds with r. */
        assert_int_equal(cashu_blind(B_, secret, 64, r), E_OK);
    }
}

static void test_v1(void **state)
{
    json_t *v = vget(vec, "v1");
    uint32_t kid;
    assert_int_equal(cashu_nut13_keyset_int(&kid, vstr(v, "keyset_id")), E_OK);
    assert_int_equal(kid, json_integer_value(vget(v, "keyset_id_int")));

    /* The paths the vector lists are the ones we derive along. */
    char want[64];
    snprintf(want, sizeof want, "m/129372'/0'/%u'/{counter}'", kid);
    assert_string_equal(vstr(v, "derivation_path_template"), want);
    json_t *paths = vget(v, "derivation_paths");
    assert_int_equal(json_array_size(paths), 5);
    for (unsigned c = 0; c < 5; c++) {
        snprintf(want, sizeof want, "m/129372'/0'/%u'/%u'", kid, c);
        assert_string_equal(json_string_value(json_array_get(paths, c)), want);
    }
    check_version("v1");
}

static void test_v2(void **state)
{
    check_version("v2");
}

static void test_refusals(void **state)
{
    char secret[65];
    uint8_t r[32];
    uint32_t kid;
    cashu_bip39_seed(seed, vstr(vec, "mnemonic"), "");
    /* v1 counters are hardened BIP-32 indexes: below 2^31. */
    assert_int_equal(cashu_nut13_derive(secret, r, seed, "009a1f293253e41e", 0x7fffffff), E_OK);
    assert_int_equal(cashu_nut13_derive(secret, r, seed, "009a1f293253e41e", 0x80000000u), E_LIMIT);
    /* v2 counters are 64-bit. */
    assert_int_equal(cashu_nut13_derive(secret, r, seed,
        "015ba18a8adcd02e715a58358eb618da4a4b3791151a4bee5e968bb88406ccf76a", UINT64_MAX), E_OK);
    /* A short v2 id, an unknown version, bad hex. */
    assert_int_equal(cashu_nut13_derive(secret, r, seed, "015ba18a8adcd02e", 0), E_PROTO);
    assert_int_equal(cashu_nut13_derive(secret, r, seed, "029a1f293253e41e", 0), E_PROTO);
    assert_int_equal(cashu_nut13_derive(secret, r, seed, "009a1f293253e41g", 0), E_PROTO);
    assert_int_equal(cashu_nut13_keyset_int(&kid, "009a1f29"), E_PROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_seed_passphrase),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
