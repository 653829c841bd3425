/* test_cashu_token_cbor.c -- the V4 CBOR walker (token_cbor.c) on hand-made input, written
 * here with libcbor's encoders: the caps (proof count, secret and mint length, the sum of
 * amounts, the input length) with E_LIMIT; every truncation and trailing bytes; malformed and
 * mistyped fields, lying container counts, nesting, stray breaks and reserved heads with
 * E_PROTO (each table of refusals ends with a control case that must pass); and what must be
 * accepted: indefinite lengths, tags, unknown keys, null optionals, keys in any order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cbor.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "cashu/token.h"
#include "vectors.h"

static int decode(struct cashu_token *t, const char *s)
{
    return cashu_token_decode(t, s, strlen(s));
}

/* Encodes t as 'fmt' and decodes it again: the same proofs come back. */
static void round_trip(const struct cashu_token *t, enum cashu_token_format fmt)
{
    char *s;
    size_t n;
    struct cashu_token u;
    assert_int_equal(cashu_token_encode(t, fmt, &s, &n), E_OK);
    assert_int_equal(cashu_token_decode(&u, s, n), E_OK);
    assert_string_equal(u.mint, t->mint);
    assert_string_equal(u.unit, t->unit);
    assert_int_equal(u.n_proofs, t->n_proofs);
    assert_true(u.amount == t->amount);
    for (size_t i = 0; i < t->n_proofs; i++) {
        assert_true(u.proofs[i].amount == t->proofs[i].amount);
        assert_string_equal(u.proofs[i].id, t->proofs[i].id);
        assert_string_equal(u.proofs[i].secret, t->proofs[i].secret);
        assert_memory_equal(u.proofs[i].C, t->proofs[i].C, 33);
    }
    cashu_token_deinit(&u);
    free(s);
}

static void cb_head(struct buf *b, int major, uint64_t v)
{
    unsigned char h[9];
    size_t n = 0;
    switch (major) {
    case 0: n = cbor_encode_uint(v, h, 9); break;
    case 2: n = cbor_encode_bytestring_start(v, h, 9); break;
    case 3: n = cbor_encode_string_start(v, h, 9); break;
    case 4: n = cbor_encode_array_start(v, h, 9); break;
    case 5: n = cbor_encode_map_start(v, h, 9); break;
    }
    assert_int_equal(buf_append(b, h, n), E_OK);
}

static void cb_byte(struct buf *b, uint8_t c)
{
    assert_int_equal(buf_append(b, &c, 1), E_OK);
}

static void cb_text(struct buf *b, const char *s)
{
    cb_head(b, 3, strlen(s));
    assert_int_equal(buf_append(b, s, strlen(s)), E_OK);
}

static void cb_bytes(struct buf *b, const uint8_t *p, size_t n)
{
    cb_head(b, 2, n);
    assert_int_equal(buf_append(b, p, n), E_OK);
}

static const char *C_hex = "038618543ffb6b8695df4ad4babcde92a34a96bdcd97dcee0d7ccf98d472126792";
static const uint8_t id8[8] = {0x00, 0xad, 0x26, 0x8c, 0x4d, 0x1f, 0x58, 0x26};

static void cb_proof(struct buf *b, uint64_t amount, const char *secret)
{
    uint8_t C[33];
    hex_decode(C, 33, C_hex, 66);
    cb_head(b, 5, 3);
    cb_text(b, "a");
    cb_head(b, 0, amount);
    cb_text(b, "s");
    cb_text(b, secret);
    cb_text(b, "c");
    cb_bytes(b, C, 33);
}

/* Decodes "cashuB" + base64url(b). */
static int decode_cbor(struct cashu_token *t, const struct buf *b)
{
    char *s = malloc(8 + b64_encoded_len(b->len, false));
    memcpy(s, "cashuB", 6);
    b64url_encode(s + 6, (const uint8_t *)b->p, b->len, false);
    int rc = decode(t, s);
    free(s);
    return rc;
}

/* {"t":[{"i":id8,"p":[n proofs]}],"m":mint,"u":"sat"} */
static void cb_token(struct buf *b, size_t n, uint64_t amount, const char *secret, const char *mint)
{
    buf_reset(b);
    cb_head(b, 5, 3);
    cb_text(b, "t");
    cb_head(b, 4, 1);
    cb_head(b, 5, 2);
    cb_text(b, "i");
    cb_bytes(b, id8, 8);
    cb_text(b, "p");
    cb_head(b, 4, n);
    for (size_t i = 0; i < n; i++)
        cb_proof(b, amount, secret);
    cb_text(b, "m");
    cb_text(b, mint);
    cb_text(b, "u");
    cb_text(b, "sat");
}

static void test_caps(void **state)
{
    struct buf b;
    struct cashu_token t;
    buf_init(&b, 1 << 20);
    char secret[CASHU_MAX_SECRET_LEN + 2];

    cb_token(&b, CASHU_MAX_PROOFS, 1, "x", "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_OK);
    assert_int_equal(t.n_proofs, CASHU_MAX_PROOFS);
    assert_true(t.amount == CASHU_MAX_PROOFS);
    cashu_token_deinit(&t);
    cb_token(&b, CASHU_MAX_PROOFS + 1, 1, "x", "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_LIMIT);

    memset(secret, 'a', sizeof secret);
    secret[CASHU_MAX_SECRET_LEN] = '\0';
    cb_token(&b, 1, 1, secret, "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_OK);
    cashu_token_deinit(&t);
    secret[CASHU_MAX_SECRET_LEN] = 'a';
    secret[CASHU_MAX_SECRET_LEN + 1] = '\0';
    cb_token(&b, 1, 1, secret, "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_LIMIT);

    char mint[CASHU_MAX_MINT_LEN + 2];
    memset(mint, 'm', sizeof mint);
    mint[CASHU_MAX_MINT_LEN + 1] = '\0';
    cb_token(&b, 1, 1, "x", mint);
    assert_int_equal(decode_cbor(&t, &b), E_LIMIT);

    /* Amounts: the full uint64 range per proof, but the sum must fit too. */
    cb_token(&b, 1, UINT64_MAX, "x", "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_OK);
    assert_true(t.amount == UINT64_MAX);
    round_trip(&t, CASHU_TOKEN_V4);
    char *s;
    size_t n;
    assert_int_equal(cashu_token_encode(&t, CASHU_TOKEN_V3, &s, &n), E_LIMIT); /* JSON: int64 */
    cashu_token_deinit(&t);
    cb_token(&b, 2, (uint64_t)1 << 63, "x", "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_LIMIT);

    /* The whole input. */
    size_t big = CASHU_TOKEN_MAX_LEN + 1;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "cashuB", 6);
    huge[big] = '\0';
    assert_int_equal(cashu_token_decode(&t, huge, big), E_LIMIT);
    assert_int_equal(cashu_token_decode_raw(&t, (const uint8_t *)huge, big), E_LIMIT);
    free(huge);
    buf_deinit(&b);
}

/* Every strict prefix of a valid payload is refused, and so is a trailing byte. */
static void test_truncation(void **state)
{
    struct buf b;
    struct cashu_token t;
    buf_init(&b, 1 << 16);
    cb_token(&b, 2, 5, "secret", "http://m/");
    assert_int_equal(decode_cbor(&t, &b), E_OK);
    assert_string_equal(t.mint, "http://m"); /* normalized */
    cashu_token_deinit(&t);
    size_t full = b.len;
    for (size_t n = 0; n < full; n++) {
        b.len = n;
        assert_int_equal(decode_cbor(&t, &b), E_PROTO);
    }
    b.len = full;
    cb_byte(&b, 0x00);
    assert_int_equal(decode_cbor(&t, &b), E_PROTO);
    buf_deinit(&b);
}

static void test_cbor_refusals(void **state)
{
    struct buf b;
    struct cashu_token t;
    uint8_t C[33];
    hex_decode(C, 33, C_hex, 66);
    buf_init(&b, 1 << 16);

    /* Top level not a map; no proofs; no mint; a duplicate key. */
    cb_head(&b, 4, 0);
    assert_int_equal(decode_cbor(&t, &b), E_PROTO);
    cb_token(&b, 0, 1, "x", "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_PROTO);
    buf_reset(&b);
    cb_head(&b, 5, 1);
    cb_text(&b, "t");
    cb_head(&b, 4, 1);
    cb_head(&b, 5, 2);
    cb_text(&b, "i");
    cb_bytes(&b, id8, 8);
    cb_text(&b, "p");
    cb_head(&b, 4, 1);
    cb_proof(&b, 1, "x");
    assert_int_equal(decode_cbor(&t, &b), E_PROTO); /* no "m" */
    b.p[0] = (char)0xa2; /* now claims 2 entries: add "m" twice... */
    cb_text(&b, "m");
    cb_text(&b, "http://m");
    assert_int_equal(decode_cbor(&t, &b), E_OK);
    cashu_token_deinit(&t);
    b.p[0] = (char)0xa3;
    cb_text(&b, "m");
    cb_text(&b, "http://n");
    assert_int_equal(decode_cbor(&t, &b), E_PROTO); /* duplicate "m" */

    /* Bad fields of a proof: C off the curve, C too short, amount negative, secret bytes. */
    struct { const char *what; int rc; } cases[] = {
        {"C off curve", E_PROTO}, {"C short", E_PROTO}, {"negative amount", E_PROTO},
        {"secret as bytes", E_PROTO}, {"id of 9 bytes", E_PROTO}, {"secret with NUL", E_PROTO},
        {"secret not UTF-8", E_PROTO}, {"empty secret", E_PROTO}, {"no secret", E_PROTO},
        {"control: none of the above", E_OK},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        buf_reset(&b);
        cb_head(&b, 5, 3);
        cb_text(&b, "t");
        cb_head(&b, 4, 1);
        cb_head(&b, 5, 2);
        cb_text(&b, "i");
        uint8_t id9[9] = {0};
        cb_bytes(&b, id9, k == 4 ? 9 : 8);
        cb_text(&b, "p");
        cb_head(&b, 4, 1);
        cb_head(&b, 5, k == 8 ? 2 : 3);
        cb_text(&b, "a");
        if (k == 2)
            cb_byte(&b, 0x20); /* -1 */
        else
            cb_head(&b, 0, 1);
        if (k != 8) {
            cb_text(&b, "s");
            if (k == 3)
                cb_bytes(&b, (const uint8_t *)"ab", 2);
            else if (k == 5)
                cb_head(&b, 3, 3), cb_byte(&b, 'a'), cb_byte(&b, 0), cb_byte(&b, 'b');
            else if (k == 6)
                cb_head(&b, 3, 2), cb_byte(&b, 0xc0), cb_byte(&b, 0x80); /* overlong '\0' */
            else
                cb_text(&b, k == 7 ? "" : "x");
        }
        cb_text(&b, "c");
        uint8_t c2[33];
        memcpy(c2, C, 33);
        if (k == 0)
            memset(c2 + 1, 0, 31), c2[32] = 5, c2[0] = 2;
        cb_bytes(&b, c2, k == 1 ? 32 : 33);
        cb_text(&b, "m");
        cb_text(&b, "http://m");
        cb_text(&b, "u");
        cb_text(&b, "sat");
        print_message("refusing: %s\n", cases[k].what);
        assert_int_equal(decode_cbor(&t, &b), cases[k].rc);
        if (cases[k].rc == E_OK)
            cashu_token_deinit(&t);
    }

    /* A container claiming more entries than there are bytes: refused before any work. */
    buf_reset(&b);
    cb_byte(&b, 0xbb); /* map, 8-byte count */
    for (int i = 0; i < 8; i++)
        cb_byte(&b, 0xff);
    assert_int_equal(decode_cbor(&t, &b), E_PROTO);
    buf_reset(&b);
    cb_head(&b, 5, 1);
    cb_text(&b, "zz");
    cb_byte(&b, 0x9b);
    for (int i = 0; i < 8; i++)
        cb_byte(&b, 0x7f);
    assert_int_equal(decode_cbor(&t, &b), E_PROTO);

    /* Nesting past the cap inside an unknown key. */
    buf_reset(&b);
    cb_head(&b, 5, 1);
    cb_text(&b, "x");
    for (int i = 0; i < 40; i++)
        cb_head(&b, 4, 1);
    cb_head(&b, 0, 0);
    assert_int_equal(decode_cbor(&t, &b), E_LIMIT);
    /* A break where no indefinite item is open; a reserved head byte. */
    buf_reset(&b);
    cb_head(&b, 5, 1);
    cb_text(&b, "m");
    cb_byte(&b, 0xff);
    assert_int_equal(decode_cbor(&t, &b), E_PROTO);
    b.p[b.len - 1] = (char)0x1c;
    assert_int_equal(decode_cbor(&t, &b), E_PROTO);
    buf_deinit(&b);
}

/* Indefinite lengths, tags, unknown keys (with nested values), null optionals, the keys out
 * of order ("i" after "p", "m" first): all accepted. */
static void test_cbor_liberal(void **state)
{
    struct buf b;
    struct cashu_token t;
    uint8_t C[33], id33[33];
    hex_decode(C, 33, C_hex, 66);
    memset(id33, 0x11, 33);
    id33[0] = 0x01;
    buf_init(&b, 1 << 16);

    cb_byte(&b, 0xbf); /* indefinite map */
    cb_text(&b, "m");
    cb_byte(&b, 0x7f); /* indefinite text in two chunks */
    cb_text(&b, "http://");
    cb_text(&b, "mint.example/");
    cb_byte(&b, 0xff);
    cb_text(&b, "future");
    cb_head(&b, 5, 1);
    cb_head(&b, 0, 7);
    cb_byte(&b, 0x9f);
    cb_byte(&b, 0xf5);
    cb_byte(&b, 0xfb);
    for (int i = 0; i < 8; i++)
        cb_byte(&b, 0);
    cb_byte(&b, 0xff);
    cb_text(&b, "d");
    cb_byte(&b, 0xf7); /* undefined memo */
    cb_text(&b, "t");
    cb_byte(&b, 0x9f); /* indefinite array of groups */
    cb_byte(&b, 0xbf);
    cb_text(&b, "p");
    cb_byte(&b, 0x9f);
    cb_byte(&b, 0xbf);
    cb_text(&b, "c");
    cb_byte(&b, 0x5f); /* indefinite bytes: 10 + 23 */
    cb_bytes(&b, C, 10);
    cb_bytes(&b, C + 10, 23);
    cb_byte(&b, 0xff);
    cb_text(&b, "s");
    cb_text(&b, "secret");
    cb_text(&b, "a");
    cb_byte(&b, 0xc2); /* a tag before the amount: skipped */
    cb_head(&b, 0, 21);
    cb_text(&b, "w");
    cb_byte(&b, 0xf6);
    cb_text(&b, "d");
    cb_byte(&b, 0xf6);
    cb_byte(&b, 0xff);
    cb_byte(&b, 0xff);
    cb_text(&b, "i");
    cb_bytes(&b, id33, 33);
    cb_byte(&b, 0xff);
    cb_byte(&b, 0xff);
    cb_text(&b, "u");
    cb_text(&b, "usd");
    cb_byte(&b, 0xff);
    assert_int_equal(decode_cbor(&t, &b), E_OK);
    assert_string_equal(t.mint, "http://mint.example");
    assert_string_equal(t.unit, "usd");
    assert_null(t.memo);
    assert_int_equal(t.n_proofs, 1);
    assert_true(t.proofs[0].amount == 21);
    assert_string_equal(t.proofs[0].secret, "secret");
    assert_string_equal(t.proofs[0].id, "01111111111111111111111111111111"
                                        "1111111111111111111111111111111111");
    assert_memory_equal(t.proofs[0].C, C, 33);
    assert_false(t.proofs[0].has_dleq);
    assert_null(t.proofs[0].witness);
    round_trip(&t, CASHU_TOKEN_V4);
    round_trip(&t, CASHU_TOKEN_V3);
    cashu_token_deinit(&t);
    buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_cbor_refusals),
        cmocka_unit_test(test_cbor_liberal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
