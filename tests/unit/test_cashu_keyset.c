/* test_cashu_keyset.c -- NUT-01 and NUT-02 against tests/vectors/cashu/nut01-keysets.json (2
 * invalid keysets refused, 2 valid ones accepted, the largest amount 2^63) and
 * nut02-keyset-ids.json (2 v1 IDs, 3 v2 IDs); then whole keyset objects as /v1/keys serves
 * them, short-ID resolution and collisions, and the fee rule (no official vector: the spec's
 * worked examples). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "cashu/keyset.h"
#include "vectors.h"

static json_t *nut01, *nut02;

static int setup(void **state)
{
    nut01 = vectors_load("cashu/nut01-keysets.json");
    nut02 = vectors_load("cashu/nut02-keyset-ids.json");
    return 0;
}

static int teardown(void **state)
{
    json_decref(nut01);
    json_decref(nut02);
    return 0;
}

static void test_nut01_invalid(void **state)
{
    json_t *arr = vget(nut01, "invalid"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, v) {
        struct cashu_keyset ks = {0};
        print_message("rejecting: %s\n", vstr(v, "reason"));
        assert_int_equal(cashu_keyset_parse_keys(&ks, vget(v, "keys")), E_PROTO);
        assert_null(ks.keys);
    }
}

static void test_nut01_valid(void **state)
{
    json_t *arr = vget(nut01, "valid"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, v) {
        struct cashu_keyset ks = {0};
        json_t *keys = vget(v, "keys");
        assert_int_equal(cashu_keyset_parse_keys(&ks, keys), E_OK);
        assert_int_equal(ks.n_keys, json_object_size(keys));
        /* Sorted ascending, and each key found by its amount. */
        const char *amount;
        json_t *hex;
        json_object_foreach(keys, amount, hex) {
            uint64_t a = strtoull(amount, NULL, 10);
            const uint8_t *K = cashu_keyset_key(&ks, a);
            assert_non_null(K);
            assert_hex_equal(K, 33, json_string_value(hex));
        }
        for (size_t k = 1; k < ks.n_keys; k++)
            assert_true(ks.keys[k - 1].amount < ks.keys[k].amount);
        assert_null(cashu_keyset_key(&ks, 3));
        cashu_keyset_deinit(&ks);
    }
    /* The second keyset reaches 2^63, past INT64_MAX. */
    struct cashu_keyset ks = {0};
    assert_int_equal(cashu_keyset_parse_keys(&ks, vget(json_array_get(arr, 1), "keys")), E_OK);
    assert_int_equal(ks.n_keys, 64);
    assert_true(ks.keys[63].amount == (uint64_t)1 << 63);
    assert_non_null(cashu_keyset_key(&ks, (uint64_t)1 << 63));
    cashu_keyset_deinit(&ks);
}

static void test_bad_amounts(void **state)
{
    static const char *bad[] = {"0", "01", "-1", "+1", "1.0", "",
                                "18446744073709551616", "1e3", " 1"};
    const char *key = "03a40f20667ed53513075dc51e715ff2046cad64eb68960632269ba7f0210e38bc";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cashu_keyset ks = {0};
        json_t *keys = json_object();
        json_object_set_new(keys, bad[i], json_string(key));
        assert_int_equal(cashu_keyset_parse_keys(&ks, keys), E_PROTO);
        json_decref(keys);
    }
    struct cashu_keyset ks = {0};
    json_t *keys = json_object();
    json_object_set_new(keys, "18446744073709551615", json_string(key));
    assert_int_equal(cashu_keyset_parse_keys(&ks, keys), E_OK);
    assert_true(ks.keys[0].amount == UINT64_MAX);
    cashu_keyset_deinit(&ks);
    json_decref(keys);
    /* Not an object, empty, a non-string key value. */
    keys = json_object();
    assert_int_equal(cashu_keyset_parse_keys(&ks, keys), E_PROTO);
    json_object_set_new(keys, "1", json_integer(3));
    assert_int_equal(cashu_keyset_parse_keys(&ks, keys), E_PROTO);
    json_decref(keys);
    keys = json_array();
    assert_int_equal(cashu_keyset_parse_keys(&ks, keys), E_PROTO);
    json_decref(keys);
}

static void test_too_many_keys(void **state)
{
    struct cashu_keyset ks = {0};
    json_t *keys = json_object();
    const char *key = "03a40f20667ed53513075dc51e715ff2046cad64eb68960632269ba7f0210e38bc";
    for (int i = 1; i <= CASHU_KEYSET_MAX_KEYS + 1; i++) {
        char amount[16];
        snprintf(amount, sizeof amount, "%d", i);
        json_object_set_new(keys, amount, json_string(key));
    }
    assert_int_equal(cashu_keyset_parse_keys(&ks, keys), E_LIMIT);
    json_decref(keys);
}

static void test_ids_v1(void **state)
{
    json_t *arr = vget(nut02, "v1"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, v) {
        struct cashu_keyset ks = {0};
        char id[17];
        assert_int_equal(cashu_keyset_parse_keys(&ks, vget(v, "keys")), E_OK);
        assert_int_equal(cashu_keyset_id_v1(id, &ks), E_OK);
        assert_string_equal(id, vstr(v, "expected_id"));
        strcpy(ks.id, id);
        assert_int_equal(cashu_keyset_verify_id(&ks), E_OK);
        ks.id[15] = ks.id[15] == '0' ? '1' : '0';
        assert_int_equal(cashu_keyset_verify_id(&ks), E_PROTO);
        cashu_keyset_deinit(&ks);
    }
}

/* Fills ks from a v2 vector: keys, unit, input_fee_ppk, final_expiry (null: none). */
static void load_v2(struct cashu_keyset *ks, const json_t *v)
{
    assert_int_equal(cashu_keyset_parse_keys(ks, vget(v, "keys")), E_OK);
    strcpy(ks->unit, vstr(v, "unit"));
    ks->input_fee_ppk = (uint64_t)json_integer_value(vget(v, "input_fee_ppk"));
    json_t *exp = vget(v, "final_expiry");
    ks->final_expiry = json_is_null(exp) ? 0 : (uint64_t)json_integer_value(exp);
}

static void test_ids_v2(void **state)
{
    json_t *arr = vget(nut02, "v2"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 3);
    json_array_foreach(arr, i, v) {
        struct cashu_keyset ks = {0};
        char id[67];
        load_v2(&ks, v);
        assert_int_equal(cashu_keyset_id_v2(id, &ks), E_OK);
        assert_string_equal(id, vstr(v, "expected_id"));
        strcpy(ks.id, id);
        assert_int_equal(cashu_keyset_verify_id(&ks), E_OK);
        /* Each input of the preimage matters. */
        ks.input_fee_ppk += 1;
        assert_int_equal(cashu_keyset_verify_id(&ks), E_PROTO);
        ks.input_fee_ppk -= 1;
        ks.final_expiry ^= 1;
        assert_int_equal(cashu_keyset_verify_id(&ks), E_PROTO);
        ks.final_expiry ^= 1;
        strcpy(ks.unit, "usd");
        assert_int_equal(cashu_keyset_verify_id(&ks), E_PROTO);
        cashu_keyset_deinit(&ks);
    }
}

/* A whole /v1/keys keyset object built from a v2 vector, as a mint would serve it. */
static json_t *keyset_json(const json_t *v, const char *id)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id ? id : vstr(v, "expected_id")));
    json_object_set_new(o, "unit", json_string(vstr(v, "unit")));
    json_object_set_new(o, "active", json_true());
    json_object_set(o, "input_fee_ppk", vget(v, "input_fee_ppk"));
    json_object_set(o, "final_expiry", vget(v, "final_expiry"));
    json_object_set(o, "keys", vget(v, "keys"));
    return o;
}

static void test_parse_object(void **state)
{
    json_t *v = json_array_get(vget(nut02, "v2"), 0);
    struct cashu_keyset ks;
    json_t *o = keyset_json(v, NULL);
    assert_int_equal(cashu_keyset_parse(&ks, o), E_OK);
    assert_string_equal(ks.id, vstr(v, "expected_id"));
    assert_string_equal(ks.unit, "sat");
    assert_true(ks.active);
    assert_int_equal(ks.input_fee_ppk, 100);
    assert_int_equal(ks.final_expiry, 2059210353);
    assert_int_equal(ks.n_keys, 4);
    cashu_keyset_deinit(&ks);

    /* The stated id must match the keys: flip a digit of it, or of the v1 form. */
    char id[67];
    strcpy(id, vstr(v, "expected_id"));
    id[40] = id[40] == 'a' ? 'b' : 'a';
    json_object_set_new(o, "id", json_string(id));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_PROTO);
    json_object_set_new(o, "id", json_string("00456a94ab4e1c47"));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_PROTO);
    /* A v1 id covers the keys only (these are the keys of nut02 v1[0]): fee and expiry are
     * not part of it, so the v1 id is accepted whatever they are. */
    json_object_set_new(o, "id", json_string("00456A94AB4E1C46"));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_OK);
    assert_string_equal(ks.id, "00456a94ab4e1c46"); /* stored lowercase */
    cashu_keyset_deinit(&ks);
    json_object_set_new(o, "input_fee_ppk", json_null());
    json_object_del(o, "final_expiry");
    assert_int_equal(cashu_keyset_parse(&ks, o), E_OK);
    assert_int_equal(ks.input_fee_ppk, 0);
    assert_int_equal(ks.final_expiry, 0);
    cashu_keyset_deinit(&ks);
    /* /v1/keysets entries have no keys: metadata only. active absent means false. */
    json_object_del(o, "keys");
    json_object_del(o, "active");
    json_object_set_new(o, "id", json_string(vstr(v, "expected_id")));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_OK);
    assert_false(ks.active);
    assert_int_equal(ks.n_keys, 0);
    cashu_keyset_deinit(&ks);
    /* Type errors. */
    json_object_set_new(o, "input_fee_ppk", json_integer(-1));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_PROTO);
    json_object_set_new(o, "input_fee_ppk", json_string("100"));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_PROTO);
    json_object_set_new(o, "input_fee_ppk", json_integer(0));
    json_object_set_new(o, "active", json_string("yes"));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_PROTO);
    json_object_set_new(o, "active", json_false());
    json_object_set_new(o, "unit", json_string(""));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_PROTO);
    json_object_set_new(o, "unit", json_string("a-unit-name-longer-than-32-bytes!"));
    assert_int_equal(cashu_keyset_parse(&ks, o), E_LIMIT);
    json_object_set_new(o, "unit", json_string("sat"));
    json_object_set_new(o, "id", json_string("I2yN+iRYfkzT")); /* a pre-v1 base64 id */
    assert_int_equal(cashu_keyset_parse(&ks, o), E_PROTO);
    json_decref(o);
}

static void test_resolve(void **state)
{
    json_t *v2 = vget(nut02, "v2");
    struct cashu_keyset sets[4] = {0};
    size_t idx;
    for (int i = 0; i < 3; i++) {
        json_t *o = keyset_json(json_array_get(v2, i), NULL);
        assert_int_equal(cashu_keyset_parse(&sets[i], o), E_OK);
        json_decref(o);
    }
    strcpy(sets[3].id, "009a1f293253e41e"); /* a v1 keyset, metadata only */

    for (size_t i = 0; i < 4; i++) {
        char shortid[17];
        assert_int_equal(cashu_keyset_resolve(sets, 4, &idx, sets[i].id), E_OK);
        assert_int_equal(idx, i);
        memcpy(shortid, sets[i].id, 16);
        shortid[16] = '\0';
        assert_int_equal(cashu_keyset_resolve(sets, 4, &idx, shortid), E_OK);
        assert_int_equal(idx, i);
    }
    assert_int_equal(cashu_keyset_resolve(sets, 4, &idx, "00ffd48b8f5ecf80"), E_NOTFOUND);
    assert_int_equal(cashu_keyset_resolve(sets, 4, &idx, "015ba18a8adcd02e715a"), E_NOTFOUND);
    /* A full v2 id only matches exactly. */
    char full[67];
    strcpy(full, sets[0].id);
    full[65] = full[65] == '0' ? '1' : '0';
    assert_int_equal(cashu_keyset_resolve(sets, 4, &idx, full), E_NOTFOUND);
    /* Two keysets sharing a short id: resolving it is ambiguous, and adding one is refused. */
    assert_int_equal(cashu_keyset_check_new(sets, 4, &sets[0]), E_OK); /* a refresh */
    struct cashu_keyset twin = {0};
    strcpy(twin.id, full);
    assert_int_equal(cashu_keyset_check_new(sets, 4, &twin), E_CONFLICT);
    strcpy(sets[3].id, full);
    memcpy(full, sets[0].id, 16);
    full[16] = '\0';
    assert_int_equal(cashu_keyset_resolve(sets, 4, &idx, full), E_CONFLICT);
    strcpy(twin.id, "00ad268c4d1f5826");
    assert_int_equal(cashu_keyset_check_new(sets, 4, &twin), E_OK);
    for (int i = 0; i < 4; i++)
        cashu_keyset_deinit(&sets[i]);
}

static void test_fees(void **state)
{
    uint64_t fee, ppk[25];
    for (int i = 0; i < 25; i++)
        ppk[i] = 100;
    /* NUT-02 example: 3 inputs at 100 ppk pay 1; 1-10 inputs pay 1, 11-20 pay 2. */
    assert_int_equal(cashu_fee(&fee, ppk, 3), E_OK);
    assert_int_equal(fee, 1);
    for (size_t n = 1; n <= 20; n++) {
        assert_int_equal(cashu_fee(&fee, ppk, n), E_OK);
        assert_int_equal(fee, n <= 10 ? 1 : 2);
    }
    assert_int_equal(cashu_fee(&fee, ppk, 0), E_OK);
    assert_int_equal(fee, 0);
    uint64_t one = 1, thousand = 1000, k1 = 1001;
    assert_int_equal(cashu_fee(&fee, &one, 1), E_OK);
    assert_int_equal(fee, 1);
    assert_int_equal(cashu_fee(&fee, &thousand, 1), E_OK);
    assert_int_equal(fee, 1);
    assert_int_equal(cashu_fee(&fee, &k1, 1), E_OK);
    assert_int_equal(fee, 2);
    uint64_t zero[5] = {0};
    assert_int_equal(cashu_fee(&fee, zero, 5), E_OK);
    assert_int_equal(fee, 0);
    uint64_t huge[2] = {UINT64_MAX, 1};
    assert_int_equal(cashu_fee(&fee, huge, 2), E_LIMIT);
    assert_int_equal(cashu_fee(&fee, huge, 1), E_OK);
    assert_true(fee == UINT64_MAX / 1000 + 1);

    /* Per transaction, each input charged by its own keyset (short ids resolved). */
    struct cashu_keyset sets[2] = {0};
    strcpy(sets[0].id, "015ba18a8adcd02e715a58358eb618da4a4b3791151a4bee5e968bb88406ccf76a");
    sets[0].input_fee_ppk = 100;
    strcpy(sets[1].id, "009a1f293253e41e");
    sets[1].input_fee_ppk = 450;
    struct cashu_proof proofs[4] = {0};
    strcpy(proofs[0].id, "015ba18a8adcd02e");
    strcpy(proofs[1].id, "015ba18a8adcd02e715a58358eb618da4a4b3791151a4bee5e968bb88406ccf76a");
    strcpy(proofs[2].id, "009a1f293253e41e");
    strcpy(proofs[3].id, "009a1f293253e41e");
    assert_int_equal(cashu_fee_for_proofs(sets, 2, &fee, proofs, 3), E_OK);
    assert_int_equal(fee, 1); /* 100 + 100 + 450 = 650 */
    assert_int_equal(cashu_fee_for_proofs(sets, 2, &fee, proofs, 4), E_OK);
    assert_int_equal(fee, 2); /* 1100 */
    assert_int_equal(cashu_fee_for_proofs(sets, 2, &fee, proofs, 0), E_OK);
    assert_int_equal(fee, 0);
    strcpy(proofs[3].id, "00ffd48b8f5ecf80");
    assert_int_equal(cashu_fee_for_proofs(sets, 2, &fee, proofs, 4), E_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nut01_invalid),
        cmocka_unit_test(test_nut01_valid),
        cmocka_unit_test(test_bad_amounts),
        cmocka_unit_test(test_too_many_keys),
        cmocka_unit_test(test_ids_v1),
        cmocka_unit_test(test_ids_v2),
        cmocka_unit_test(test_parse_object),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_fees),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
