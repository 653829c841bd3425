/* test_cashu_token.c -- the token codec against tests/vectors/cashu/nut00-tokens.json:
 * V3 (cashuA): 3 valid tokens (basic, padded, unpadded) decoded and compared field by field with
 * their JSON, 2 invalid ones refused, valid_same_as_basic; V4 (cashuB): 2 valid tokens compared
 * with their JSON and their CBOR hex, re-encoded byte for byte; the binary crawB token decoded
 * and re-encoded. Then conversions between formats, lenient input, DLEQs carried in tokens,
 * V3 JSON refusals, and building tokens. Hand-made CBOR is in test_cashu_token_cbor.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/b64.h"
#include "base/err.h"
#include "cashu/bdhke.h"
#include "cashu/token.h"
#include "vectors.h"

static json_t *vec;
static const char *C_hex = "038618543ffb6b8695df4ad4babcde92a34a96bdcd97dcee0d7ccf98d472126792";

static int setup(void **state)
{
    vec = vectors_load("cashu/nut00-tokens.json");
    return 0;
}

static int teardown(void **state)
{
    json_decref(vec);
    return 0;
}

static int decode(struct cashu_token *t, const char *s)
{
    return cashu_token_decode(t, s, strlen(s));
}

static void check_proof(const struct cashu_proof *p, uint64_t amount, const char *id,
                        const char *secret, const char *C)
{
    assert_true(p->amount == amount);
    assert_string_equal(p->id, id);
    assert_string_equal(p->secret, secret);
    assert_hex_equal(p->C, 33, C);
}

/* A decoded token equals a V3 token_json: {"token":[{"mint","proofs":[…]}],"unit","memo"}. */
static void check_v3(const struct cashu_token *t, const json_t *j)
{
    json_t *entries = vget(j, "token"), *e;
    size_t i, k = 0;
    uint64_t sum = 0;
    json_array_foreach(entries, i, e) {
        assert_string_equal(t->mint, vstr(e, "mint"));
        json_t *proofs = vget(e, "proofs"), *p;
        size_t n;
        json_array_foreach(proofs, n, p) {
            assert_true(k < t->n_proofs);
            uint64_t amount = (uint64_t)json_integer_value(vget(p, "amount"));
            check_proof(&t->proofs[k++], amount, vstr(p, "id"), vstr(p, "secret"), vstr(p, "C"));
            sum += amount;
        }
    }
    assert_int_equal(k, t->n_proofs);
    assert_true(t->amount == sum);
    assert_string_equal(t->unit, json_object_get(j, "unit") ? vstr(j, "unit") : "sat");
    if (json_object_get(j, "memo"))
        assert_string_equal(t->memo, vstr(j, "memo"));
    else
        assert_null(t->memo);
}

/* A decoded token equals a V4 token_json: {"t":[{"i","p":[{"a","s","c"}]}],"d"?,"m","u"}. */
static void check_v4(const struct cashu_token *t, const json_t *j)
{
    json_t *groups = vget(j, "t"), *g;
    size_t i, k = 0;
    uint64_t sum = 0;
    json_array_foreach(groups, i, g) {
        json_t *proofs = vget(g, "p"), *p;
        size_t n;
        json_array_foreach(proofs, n, p) {
            assert_true(k < t->n_proofs);
            uint64_t amount = (uint64_t)json_integer_value(vget(p, "a"));
            check_proof(&t->proofs[k++], amount, vstr(g, "i"), vstr(p, "s"), vstr(p, "c"));
            assert_false(t->proofs[k - 1].has_dleq);
            assert_null(t->proofs[k - 1].witness);
            sum += amount;
        }
    }
    assert_int_equal(k, t->n_proofs);
    assert_true(t->amount == sum);
    assert_string_equal(t->mint, vstr(j, "m"));
    assert_string_equal(t->unit, vstr(j, "u"));
    if (json_object_get(j, "d"))
        assert_string_equal(t->memo, vstr(j, "d"));
    else
        assert_null(t->memo);
}

/* Two strings equal once trailing '=' padding is ignored. */
static void assert_same_unpadded(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na && a[na - 1] == '=')
        na--;
    while (nb && b[nb - 1] == '=')
        nb--;
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
}

/* Decodes, re-encodes in 'fmt', decodes that again, and checks nothing changed. */
static void round_trip(const struct cashu_token *t, enum cashu_token_format fmt)
{
    char *s;
    size_t n;
    struct cashu_token u;
    assert_int_equal(cashu_token_encode(t, fmt, &s, &n), E_OK);
    if (fmt == CASHU_TOKEN_RAW)
        assert_int_equal(cashu_token_decode_raw(&u, (const uint8_t *)s, n), E_OK);
    else
        assert_int_equal(cashu_token_decode(&u, s, n), E_OK);
    assert_int_equal(u.format, fmt);
    assert_string_equal(u.mint, t->mint);
    assert_string_equal(u.unit, t->unit);
    if (t->memo)
        assert_string_equal(u.memo, t->memo);
    else
        assert_null(u.memo);
    assert_int_equal(u.n_proofs, t->n_proofs);
    assert_true(u.amount == t->amount);
    for (size_t i = 0; i < t->n_proofs; i++) {
        const struct cashu_proof *a = &t->proofs[i], *b = &u.proofs[i];
        assert_true(a->amount == b->amount);
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->secret, b->secret);
        assert_memory_equal(a->C, b->C, 33);
        assert_int_equal(a->has_dleq, b->has_dleq);
        if (a->has_dleq)
            assert_memory_equal(&a->dleq, &b->dleq, sizeof a->dleq);
        if (a->witness)
            assert_string_equal(a->witness, b->witness);
        else
            assert_null(b->witness);
    }
    cashu_token_deinit(&u);
    free(s);
}

static void test_v3_valid(void **state)
{
    json_t *arr = vget(vget(vec, "v3"), "valid"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 3);
    json_array_foreach(arr, i, v) {
        struct cashu_token t;
        const char *ser = vstr(v, "serialized");
        print_message("V3 %s\n", vstr(v, "name"));
        assert_int_equal(decode(&t, ser), E_OK);
        assert_int_equal(t.format, CASHU_TOKEN_V3);
        check_v3(&t, vget(v, "token_json"));
        /* Re-encoding gives the official string (we write V3 padded, as nutshell does). */
        char *s;
        size_t n;
        assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_V3, &s, &n), E_OK);
        assert_int_equal(n, strlen(s));
        assert_same_unpadded(s, ser);
        assert_int_equal(n % 4, 6 % 4); /* "cashuA" + padded base64 */
        free(s);
        round_trip(&t, CASHU_TOKEN_V3);
        round_trip(&t, CASHU_TOKEN_V4);
        round_trip(&t, CASHU_TOKEN_RAW);
        cashu_token_deinit(&t);
        cashu_token_deinit(&t); /* idempotent */
    }
}

static void test_v3_padding(void **state)
{
    json_t *arr = vget(vget(vec, "v3"), "valid");
    struct cashu_token a, b;
    const char *padded = vstr(json_array_get(arr, 1), "serialized");
    const char *unpadded = vstr(json_array_get(arr, 2), "serialized");
    assert_int_equal(padded[strlen(padded) - 1], '=');
    assert_true(unpadded[strlen(unpadded) - 1] != '=');
    assert_int_equal(decode(&a, padded), E_OK);
    assert_int_equal(decode(&b, unpadded), E_OK);
    assert_string_equal(a.memo, b.memo);
    assert_int_equal(a.n_proofs, b.n_proofs);
    for (size_t i = 0; i < a.n_proofs; i++)
        assert_string_equal(a.proofs[i].secret, b.proofs[i].secret);
    /* Both re-encode to the padded official string. */
    char *s;
    size_t n;
    assert_int_equal(cashu_token_encode(&b, CASHU_TOKEN_V3, &s, &n), E_OK);
    assert_string_equal(s, padded);
    free(s);
    cashu_token_deinit(&a);
    cashu_token_deinit(&b);
}

static void test_v3_invalid(void **state)
{
    json_t *v3 = vget(vec, "v3"), *arr = vget(v3, "invalid"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, v) {
        struct cashu_token t = {.n_proofs = 12345};
        print_message("V3 invalid: %s\n", vstr(v, "name"));
        assert_int_equal(decode(&t, vstr(v, "serialized")), E_PROTO);
        assert_int_equal(t.n_proofs, 12345); /* untouched on error */
    }
    /* valid_same_as_basic decodes to the basic token. */
    struct cashu_token t;
    assert_int_equal(decode(&t, vstr(v3, "valid_same_as_basic")), E_OK);
    check_v3(&t, vget(json_array_get(vget(v3, "valid"), 0), "token_json"));
    cashu_token_deinit(&t);
}

static void test_v4_valid(void **state)
{
    json_t *arr = vget(vget(vec, "v4"), "valid"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, v) {
        struct cashu_token t;
        const char *ser = vstr(v, "serialized");
        print_message("V4 %s\n", vstr(v, "name"));
        assert_int_equal(decode(&t, ser), E_OK);
        assert_int_equal(t.format, CASHU_TOKEN_V4);
        check_v4(&t, vget(v, "token_json"));

        /* The payload is the vector's CBOR. */
        uint8_t cbor[4096];
        size_t n;
        assert_int_equal(b64url_decode(cbor, sizeof cbor, &n, ser + 6, strlen(ser) - 6), E_OK);
        const char *want = vstr(v, "cbor_hex");
        assert_int_equal(2 * n, strlen(want));
        char hex[8193];
        hex_encode(hex, cbor, n);
        assert_string_equal(hex, want);

        /* Our encoder writes the same bytes, and the same string (we write V4 unpadded). */
        char *s;
        size_t len;
        assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_V4, &s, &len), E_OK);
        assert_same_unpadded(s, ser);
        assert_true(s[len - 1] != '=');
        free(s);
        assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_RAW, &s, &len), E_OK);
        assert_int_equal(len, 5 + n);
        assert_memory_equal(s, "crawB", 5);
        assert_memory_equal(s + 5, cbor, n);
        free(s);
        round_trip(&t, CASHU_TOKEN_V3);
        round_trip(&t, CASHU_TOKEN_V4);
        cashu_token_deinit(&t);
    }
}

static void test_binary(void **state)
{
    json_t *arr = vget(vget(vec, "v4"), "binary"), *v;
    size_t i;
    assert_int_equal(json_array_size(arr), 1);
    json_array_foreach(arr, i, v) {
        const char *hex = vstr(v, "raw_hex");
        size_t n = strlen(hex) / 2;
        uint8_t *raw = malloc(n);
        assert_int_equal(hex_decode(raw, n, hex, 2 * n), E_OK);
        struct cashu_token t;
        assert_int_equal(cashu_token_decode_raw(&t, raw, n), E_OK);
        assert_int_equal(t.format, CASHU_TOKEN_RAW);
        check_v4(&t, vget(v, "token_json"));
        char *s;
        size_t len;
        assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_RAW, &s, &len), E_OK);
        assert_int_equal(len, n);
        assert_memory_equal(s, raw, n);
        free(s);
        /* The text decoder does not take the binary form, nor the binary one a bad prefix. */
        assert_int_equal(cashu_token_decode(&t, (const char *)raw, n), E_PROTO);
        raw[0] = 'C';
        assert_int_equal(cashu_token_decode_raw(&t, raw, n), E_PROTO);
        assert_int_equal(cashu_token_decode_raw(&t, raw, 3), E_PROTO);
        cashu_token_deinit(&t);
        free(raw);
    }
}

/* Whitespace anywhere and a "cashu:" URI prefix are ignored; the standard alphabet too. */
static void test_lenient_input(void **state)
{
    const char *ser = vstr(json_array_get(vget(vget(vec, "v4"), "valid"), 1), "serialized");
    size_t n = strlen(ser);
    char *s = malloc(3 * n + 32);
    size_t o = 0;
    o += (size_t)sprintf(s, "  CASHU:");
    for (size_t i = 0; i < n; i++) {
        s[o++] = ser[i];
        if (i % 60 == 59)
            s[o++] = '\n';
        if (i % 97 == 3)
            s[o++] = ' ';
    }
    memcpy(s + o, "\r\n\t", 4);
    struct cashu_token t;
    assert_int_equal(decode(&t, s), E_OK);
    check_v4(&t, vget(json_array_get(vget(vget(vec, "v4"), "valid"), 1), "token_json"));
    cashu_token_deinit(&t);
    /* '-' and '_' of base64url swapped for '+' and '/'. */
    strcpy(s, ser);
    for (char *p = s; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    assert_true(strchr(s, '+') || strchr(s, '/'));
    assert_int_equal(decode(&t, s), E_OK);
    cashu_token_deinit(&t);
    /* But not a broken character, a lower-case prefix, or a lone prefix. */
    strcpy(s, ser);
    s[40] = '*';
    assert_int_equal(decode(&t, s), E_PROTO);
    strcpy(s, ser);
    s[5] = 'b';
    assert_int_equal(decode(&t, s), E_PROTO);
    assert_int_equal(decode(&t, "cashuB"), E_PROTO);
    assert_int_equal(decode(&t, "cashuA"), E_PROTO);
    assert_int_equal(decode(&t, ""), E_PROTO);
    assert_int_equal(decode(&t, "cashu:"), E_PROTO);
    assert_int_equal(decode(&t, "cashuC"), E_PROTO);
    free(s);
}

static void test_json_refusals(void **state)
{
    static const struct { const char *json; int rc; } cases[] = {
        {"[]", E_PROTO},
        {"{\"token\":[]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[]}]}", E_PROTO},
        {"{\"token\":[{\"proofs\":[]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":-1,"
         "\"id\":\"009a1f293253e41e\","
         "\"secret\":\"x\",\"C\":\"%s\"}]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":1.5,"
         "\"id\":\"009a1f293253e41e\","
         "\"secret\":\"x\",\"C\":\"%s\"}]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":1,\"id\":\"I2yN+iRYfkzT\","
         "\"secret\":\"x\",\"C\":\"%s\"}]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":1,\"id\":\"009a1f293253e41e\","
         "\"secret\":\"x\",\"C\":\"04%.64s\"}]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":1,\"id\":\"009a1f293253e41e\","
         "\"secret\":\"x\",\"C\":\"%s\",\"dleq\":{\"e\":\"00\"}}]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":1,\"id\":\"009a1f293253e41e\","
         "\"secret\":\"x\",\"C\":\"%s\"}]},{\"mint\":\"http://n\",\"proofs\":[]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":1,\"id\":\"009a1f293253e41e\","
         "\"secret\":\"x\",\"secret\":\"y\",\"C\":\"%s\"}]}]}", E_PROTO},
        {"{\"token\":[{\"mint\":\"http://m\",\"proofs\":[{\"amount\":99999999999999999999,"
         "\"id\":\"009a1f293253e41e\",\"secret\":\"x\",\"C\":\"%s\"}]}]}", E_PROTO},
        /* Accepted: the same mint twice (merged), a trailing slash, null memo, unknown keys. */
        {"{\"token\":[{\"mint\":\"http://m/\",\"proofs\":[{\"amount\":1,"
         "\"id\":\"009A1F293253E41E\","
         "\"secret\":\"x\",\"C\":\"%s\",\"zz\":[1]}]},{\"mint\":\"http://m\",\"proofs\":[]}],"
         "\"memo\":null,\"unit\":\"sat\",\"extra\":{}}", E_OK},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char json[1024], tok[2048];
        struct cashu_token t;
        snprintf(json, sizeof json, cases[k].json, C_hex);
        memcpy(tok, "cashuA", 6);
        b64url_encode(tok + 6, (const uint8_t *)json, strlen(json), k % 2 == 0);
        print_message("V3 case %zu\n", k);
        assert_int_equal(decode(&t, tok), cases[k].rc);
        if (cases[k].rc == E_OK) {
            assert_string_equal(t.mint, "http://m");
            assert_string_equal(t.proofs[0].id, "009a1f293253e41e");
            assert_null(t.memo);
            cashu_token_deinit(&t);
        }
    }
}

/* A proof with its DLEQ (the NUT-12 vector) survives both formats and still verifies. */
static void test_dleq_in_token(void **state)
{
    json_t *d12 = vectors_load("cashu/nut12-dleq.json");
    json_t *v = vget(d12, "proof_valid"), *p = vget(v, "proof"), *d = vget(p, "dleq");
    struct cashu_token t;
    struct cashu_proof pr = {.amount = 1, .has_dleq = true, .dleq.has_r = true};
    uint8_t A[33];
    vhex(A, 33, v, "A");
    strcpy(pr.id, vstr(p, "id"));
    pr.secret = (char *)vstr(p, "secret");
    vhex(pr.C, 33, p, "C");
    vhex(pr.dleq.e, 32, d, "e");
    vhex(pr.dleq.s, 32, d, "s");
    vhex(pr.dleq.r, 32, d, "r");
    pr.witness = "{\"signatures\":[]}";
    assert_int_equal(cashu_token_init(&t, "https://mint.example//", NULL, "memo"), E_OK);
    assert_string_equal(t.mint, "https://mint.example");
    assert_string_equal(t.unit, "sat");
    assert_int_equal(cashu_token_add_proof(&t, &pr), E_OK);
    for (enum cashu_token_format f = CASHU_TOKEN_V3; f <= CASHU_TOKEN_RAW; f++) {
        char *s;
        size_t n;
        struct cashu_token u;
        assert_int_equal(cashu_token_encode(&t, f, &s, &n), E_OK);
        if (f == CASHU_TOKEN_RAW)
            assert_int_equal(cashu_token_decode_raw(&u, (const uint8_t *)s, n), E_OK);
        else
            assert_int_equal(cashu_token_decode(&u, s, n), E_OK);
        const struct cashu_proof *q = &u.proofs[0];
        assert_true(q->has_dleq && q->dleq.has_r);
        assert_string_equal(q->witness, pr.witness);
        size_t slen = strlen(q->secret);
        assert_int_equal(cashu_dleq_verify_proof(A, q->secret, slen, q->C, &q->dleq), E_OK);
        cashu_token_deinit(&u);
        free(s);
    }
    cashu_token_deinit(&t);
    json_decref(d12);
}

static void test_build_refusals(void **state)
{
    struct cashu_token t;
    struct cashu_proof p = {.amount = 1, .secret = "x"};
    char *s;
    size_t n;
    hex_decode(p.C, 33, C_hex, 66);
    assert_int_equal(cashu_token_init(&t, "/", NULL, NULL), E_PROTO);
    assert_int_equal(cashu_token_init(&t, "http://m", "", NULL), E_PROTO);
    assert_int_equal(cashu_token_init(&t, "http://m", NULL, NULL), E_OK);
    assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_V4, &s, &n), E_PROTO); /* empty */
    strcpy(p.id, "00ad268c4d1f58");
    assert_int_equal(cashu_token_add_proof(&t, &p), E_PROTO);
    strcpy(p.id, "00ad268c4d1f5826");
    p.C[0] = 0x04;
    assert_int_equal(cashu_token_add_proof(&t, &p), E_PROTO);
    p.C[0] = 0x03;
    p.secret = NULL;
    assert_int_equal(cashu_token_add_proof(&t, &p), E_PROTO);
    p.secret = "x";
    p.amount = UINT64_MAX;
    assert_int_equal(cashu_token_add_proof(&t, &p), E_OK);
    assert_int_equal(cashu_token_add_proof(&t, &p), E_LIMIT); /* the sum */
    assert_int_equal(t.n_proofs, 1);
    p.amount = 0;
    for (int i = 1; i < CASHU_MAX_PROOFS; i++)
        assert_int_equal(cashu_token_add_proof(&t, &p), E_OK);
    assert_int_equal(cashu_token_add_proof(&t, &p), E_LIMIT);
    /* 1000 small proofs fit in a V4 token (45 bytes of CBOR each), not in V3's JSON: whatever
     * we encode, we can decode. */
    assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_V3, &s, &n), E_LIMIT);
    assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_V4, &s, &n), E_OK);
    assert_true(n <= CASHU_TOKEN_MAX_LEN);
    free(s);
    round_trip(&t, CASHU_TOKEN_V4);
    cashu_token_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v3_valid),
        cmocka_unit_test(test_v3_padding),
        cmocka_unit_test(test_v3_invalid),
        cmocka_unit_test(test_v4_valid),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_lenient_input),
        cmocka_unit_test(test_json_refusals),
        cmocka_unit_test(test_dleq_in_token),
        cmocka_unit_test(test_build_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
