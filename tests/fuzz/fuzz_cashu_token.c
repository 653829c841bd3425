/* fuzz_cashu_token.c -- libFuzzer target for the Cashu token decoder (cashu/token.h).
 *
 * The first input byte picks how the rest reaches the decoder, so the fuzzer can work on the
 * CBOR and JSON grammars directly instead of having to discover base64 first:
 *   0  the bytes as a token string (prefixes, whitespace, base64 itself)
 *   1  "cashuB" + base64url(bytes)   -- the V4 CBOR walker
 *   2  "cashuA" + base64url(bytes)   -- the V3 JSON reader
 *   3  "crawB" + bytes, binary       -- the raw V4 form
 * Whatever decodes must satisfy the struct's invariants, and must re-encode in each format to
 * a token that decodes to the same proofs (V3 may refuse with E_LIMIT: JSON cannot carry an
 * amount above INT64_MAX, and its text is longer). A violated property aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/err.h"
#include "cashu/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c))                                                                             \
            __builtin_trap();                                                                 \
    } while (0)

static void check_invariants(const struct cashu_token *t)
{
    uint64_t sum = 0;
    CHECK(t->mint && t->mint[0] && t->mint[strlen(t->mint) - 1] != '/');
    CHECK(t->unit && t->unit[0]);
    CHECK(t->n_proofs > 0 && t->n_proofs <= CASHU_MAX_PROOFS);
    for (size_t i = 0; i < t->n_proofs; i++) {
        const struct cashu_proof *p = &t->proofs[i];
        size_t idlen = strlen(p->id);
        CHECK(idlen == 16 || idlen == 66);
        CHECK(p->secret && p->secret[0] && strlen(p->secret) <= CASHU_MAX_SECRET_LEN);
        CHECK(p->C[0] == 0x02 || p->C[0] == 0x03);
        CHECK(!__builtin_add_overflow(sum, p->amount, &sum));
    }
    CHECK(sum == t->amount);
}

static bool proof_eq(const struct cashu_proof *p, const struct cashu_proof *q)
{
    return p->amount == q->amount && strcmp(p->id, q->id) == 0 &&
           strcmp(p->secret, q->secret) == 0 && memcmp(p->C, q->C, 33) == 0 &&
           p->has_dleq == q->has_dleq &&
           (!p->has_dleq || memcmp(&p->dleq, &q->dleq, sizeof p->dleq) == 0) &&
           (p->witness == NULL) == (q->witness == NULL) &&
           (p->witness == NULL || strcmp(p->witness, q->witness) == 0);
}

static void check_same(const struct cashu_token *a, const struct cashu_token *b)
{
    CHECK(strcmp(a->mint, b->mint) == 0 && strcmp(a->unit, b->unit) == 0);
    CHECK((a->memo == NULL) == (b->memo == NULL));
    CHECK(a->memo == NULL || strcmp(a->memo, b->memo) == 0);
    CHECK(a->n_proofs == b->n_proofs && a->amount == b->amount);
    /* V4 groups proofs by keyset, so the order may change: the same multiset of proofs. */
    for (size_t i = 0; i < a->n_proofs; i++) {
        size_t in_a = 0, in_b = 0;
        for (size_t j = 0; j < a->n_proofs; j++) {
            in_a += proof_eq(&a->proofs[i], &a->proofs[j]);
            in_b += proof_eq(&a->proofs[i], &b->proofs[j]);
        }
        CHECK(in_a == in_b);
    }
}

static void reencode(const struct cashu_token *t)
{
    for (enum cashu_token_format f = CASHU_TOKEN_V3; f <= CASHU_TOKEN_RAW; f++) {
        char *s;
        size_t n;
        struct cashu_token u;
        int rc = cashu_token_encode(t, f, &s, &n);
        if (rc != E_OK) {
            CHECK(rc == E_LIMIT);
            continue;
        }
        rc = f == CASHU_TOKEN_RAW ? cashu_token_decode_raw(&u, (const uint8_t *)s, n)
                                  : cashu_token_decode(&u, s, n);
        CHECK(rc == E_OK);
        CHECK(u.format == f);
        check_invariants(&u);
        check_same(t, &u);
        cashu_token_deinit(&u);
        free(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > CASHU_TOKEN_MAX_LEN)
        return 0;
    uint8_t mode = data[0] % 4;
    data++, size--;

    struct cashu_token t;
    int rc;
    if (mode == 0) {
        rc = cashu_token_decode(&t, (const char *)data, size);
    } else if (mode == 3) {
        uint8_t *raw = malloc(size + 5);
        memcpy(raw, "crawB", 5);
        memcpy(raw + 5, data, size);
        rc = cashu_token_decode_raw(&t, raw, size + 5);
        free(raw);
    } else {
        char *s = malloc(6 + b64_encoded_len(size, false) + 1);
        memcpy(s, mode == 1 ? "cashuB" : "cashuA", 6);
        size_t n = 6 + b64url_encode(s + 6, data, size, false);
        rc = cashu_token_decode(&t, s, n);
        free(s);
    }
    CHECK(rc == E_OK || rc == E_PROTO || rc == E_LIMIT);
    if (rc != E_OK)
        return 0;
    check_invariants(&t);
    reencode(&t);
    cashu_token_deinit(&t);
    return 0;
}
