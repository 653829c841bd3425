/* fuzz_cashu_payreq.c -- libFuzzer target for payment requests (cashu/payreq.h).
 *
 * The first input byte picks how the rest reaches the decoder, so the fuzzer can work on the
 * CBOR and TLV grammars directly instead of having to find base64 or a bech32m checksum first:
 *   0  the bytes as a request string (prefixes, base64, bech32m themselves)
 *   1  "creqA" + base64url(bytes)        -- the CBOR walker
 *   2  bech32m("creqb", bytes), upper    -- the TLV walker
 * Whatever decodes must hold the struct's invariants, and must re-encode:
 *   - as creqA (or E_LIMIT) to a string that decodes to the same request: creqA is lossless;
 *   - as creqB (or E_LIMIT; E_PROTO only for what creqA alone can carry) to a string that
 *     decodes to the same request if it came from creqB. From creqA, a nostr transport comes
 *     back as the nprofile of the same key whose relays are the request's "r" tag values, then
 *     its target's relays, and everything else is unchanged. Decoded once from creqB, a
 *     request is stable: encoding and decoding it again gives it back.
 * A violated property aborts. The bech32 helpers come from including payreq_bech32.c. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "cashu/payreq.h"
#include "cashu/payreq_bech32.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c))                                                                             \
            __builtin_trap();                                                                 \
    } while (0)

static void check_tags_shape(const struct cashu_payreq_tags *t)
{
    CHECK(t->n <= CASHU_PAYREQ_MAX_TAGS);
    for (size_t i = 0; i < t->n; i++) {
        CHECK(t->v[i].n <= CASHU_PAYREQ_MAX_TAG_ITEMS);
        for (size_t j = 0; j < t->v[i].n; j++)
            CHECK(t->v[i].s[j] != NULL);
    }
}

static void check_invariants(const struct cashu_payreq *r)
{
    /* Only a string longer than the cap may fail the check: an nprofile we built. */
    int rc = cashu_payreq_check(r);
    CHECK(rc == E_OK || rc == E_LIMIT);
    CHECK(r->n_mints <= CASHU_PAYREQ_MAX_MINTS);
    CHECK(r->n_transports <= CASHU_PAYREQ_MAX_TRANSPORTS);
    for (size_t i = 0; i < r->n_mints; i++)
        CHECK(r->mints[i] != NULL);
    for (size_t i = 0; i < r->n_transports; i++) {
        CHECK(r->transports[i].type && r->transports[i].target);
        check_tags_shape(&r->transports[i].tags);
    }
    CHECK(!r->has_nut10 || (r->nut10.kind && r->nut10.data));
    if (r->has_nut10)
        check_tags_shape(&r->nut10.tags);
}

static bool is_relay_tag(const struct cashu_payreq_tag *t)
{
    return t->n > 0 && strcmp(t->s[0], "r") == 0;
}

static bool tag_same(const struct cashu_payreq_tag *a, const struct cashu_payreq_tag *b)
{
    if (a->n != b->n)
        return false;
    for (size_t j = 0; j < a->n; j++) {
        if (strcmp(a->s[j], b->s[j]) != 0)
            return false;
    }
    return true;
}

/* b is a nostr transport a went through creqB as: the same key, relays = a's "r" tag values
 * then a's target relays, a's other tags unchanged. */
static void check_nostr_folded(const struct cashu_payreq_transport *a,
                               const struct cashu_payreq_transport *b)
{
    uint8_t pa[32], pb[32];
    struct buf ra, rb;
    struct relays la, lb;
    size_t k = 0, m = 0;
    buf_init(&ra, 2 * CASHU_PAYREQ_MAX_LEN);
    buf_init(&rb, 4 * CASHU_PAYREQ_MAX_LEN);
    CHECK(nostr_target_parse(a->target, pa, &ra, &la) == E_OK);
    int rc = nostr_target_parse(b->target, pb, &rb, &lb);
    CHECK(rc == E_OK || rc == E_LIMIT); /* many relays: more than our own encoder would take */
    CHECK(memcmp(pa, pb, 32) == 0);
    for (size_t i = 0; i < a->tags.n; i++) {
        const struct cashu_payreq_tag *t = &a->tags.v[i];
        if (!is_relay_tag(t)) {
            CHECK(k < b->tags.n && tag_same(t, &b->tags.v[k]));
            k++;
            continue;
        }
        for (size_t j = 1; rc == E_OK && j < t->n; j++, m++) {
            CHECK(m < lb.count && lb.n[m] == strlen(t->s[j]));
            CHECK(memcmp(lb.p[m], t->s[j], lb.n[m]) == 0);
        }
    }
    CHECK(k == b->tags.n);
    for (size_t i = 0; rc == E_OK && i < la.count; i++, m++)
        CHECK(m < lb.count && la.n[i] == lb.n[m] && memcmp(la.p[i], lb.p[m], la.n[i]) == 0);
    CHECK(rc != E_OK || m == lb.count);
    buf_deinit(&ra);
    buf_deinit(&rb);
}

/* a went from creqA through creqB into b: equal but for nostr transports (see the top). */
static void check_same_but_nostr(const struct cashu_payreq *a, const struct cashu_payreq *b)
{
    struct cashu_payreq x = *a, y = *b;
    CHECK(a->n_transports == b->n_transports);
    x.n_transports = y.n_transports = 0;
    CHECK(cashu_payreq_equal(&x, &y));
    for (size_t i = 0; i < a->n_transports; i++) {
        const struct cashu_payreq_transport *p = &a->transports[i], *q = &b->transports[i];
        CHECK(strcmp(p->type, q->type) == 0);
        if (strcmp(p->type, "nostr") == 0) {
            check_nostr_folded(p, q);
        } else {
            CHECK(strcmp(p->target, q->target) == 0 && p->tags.n == q->tags.n);
            for (size_t k = 0; k < p->tags.n; k++)
                CHECK(tag_same(&p->tags.v[k], &q->tags.v[k]));
        }
    }
}

static int decode_str(struct cashu_payreq *r, const char *s)
{
    return cashu_payreq_decode(r, s, strlen(s));
}

static void reencode(const struct cashu_payreq *r, bool from_b)
{
    struct cashu_payreq u, w;
    char *s, *t;
    int rc = cashu_payreq_encode_creqA(r, &s);
    CHECK(rc == E_OK || rc == E_LIMIT);
    if (rc == E_OK) {
        CHECK(strlen(s) <= CASHU_PAYREQ_MAX_LEN);
        CHECK(decode_str(&u, s) == E_OK);
        CHECK(cashu_payreq_equal(r, &u));
        cashu_payreq_deinit(&u);
        free(s);
    }

    rc = cashu_payreq_encode_creqB(r, &s);
    CHECK(rc == E_OK || rc == E_LIMIT || (rc == E_PROTO && !from_b));
    if (rc != E_OK)
        return;
    CHECK(strlen(s) <= CASHU_PAYREQ_MAX_LEN);
    CHECK(decode_str(&u, s) == E_OK);
    check_invariants(&u);
    if (from_b)
        CHECK(cashu_payreq_equal(r, &u));
    else
        check_same_but_nostr(r, &u);
    rc = cashu_payreq_encode_creqB(&u, &t);
    CHECK(rc == E_OK || rc == E_LIMIT);
    if (rc == E_OK) {
        CHECK(decode_str(&w, t) == E_OK);
        CHECK(cashu_payreq_equal(&u, &w));
        cashu_payreq_deinit(&w);
        free(t);
    }
    cashu_payreq_deinit(&u);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cashu_payreq r;
    char *s = NULL;
    size_t n;
    int rc;
    if (size == 0 || size > CASHU_PAYREQ_MAX_LEN + 1)
        return 0;
    uint8_t mode = data[0] % 3;
    data++, size--;
    if (mode == 0) {
        s = xmalloc(size + 1);
        memcpy(s, data, size);
        n = size;
    } else if (mode == 1) {
        s = xmalloc(5 + b64_encoded_len(size, false) + 1);
        memcpy(s, "creqA", 5);
        n = 5 + b64url_encode(s + 5, data, size, false);
    } else {
        struct buf b;
        buf_init(&b, 4 * CASHU_PAYREQ_MAX_LEN);
        CHECK(bech32_put(&b, "creqb", data, size, BECH32M_CONST, true) == E_OK);
        s = buf_take(&b, &n);
    }
    struct str in = {s, n};
    bool from_b = str_ihas_prefix(in, "creqb1");
    rc = cashu_payreq_decode(&r, s, n);
    CHECK(rc == E_OK || rc == E_PROTO || rc == E_LIMIT);
    if (rc == E_OK) {
        check_invariants(&r);
        reencode(&r, from_b);
        cashu_payreq_deinit(&r);
    }
    free(s);
    return 0;
}
