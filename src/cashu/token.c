/* token.c -- the token codec's front: prefixes, base64, field validation and the token struct.
 *
 * Decoding runs in three stages: the input is capped and cleaned (whitespace and "cashu:"
 * dropped) into a private copy; the prefix picks the format and base64 gives the payload;
 * token_json.c or token_cbor.c walks the payload and hands each field to the setters below,
 * which hold every rule both formats share. A token is built in a local struct and copied to
 * the caller's only once it is complete, so a failed decode leaves nothing behind. Buffers that
 * held secrets are wiped before they are freed. */
#include "cashu/token.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/cashu_int.h"
#include "crypto/crypto.h"

#define PREFIX_LEN 6 /* "cashuA", "cashuB" */
static const char raw_prefix[] = "crawB";

/* --- field rules --- */

int cashu_check_text(const char *p, size_t n, size_t max)
{
    if (n > max)
        return E_LIMIT;
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c == 0)
            return E_PROTO;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return E_PROTO;
        }
        if (n - i <= k)
            return E_PROTO;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return E_PROTO;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        /* RFC 3629 §3: no overlong forms, no surrogates, nothing past U+10FFFF. */
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return E_PROTO;
        i += k + 1;
    }
    return E_OK;
}

int cashu_id_from_bytes(char out[CASHU_KEYSET_ID_HEX_MAX + 1], const uint8_t *p, size_t n)
{
    if (n != 8 && n != 33)
        return E_PROTO;
    hex_encode(out, p, n);
    return E_OK;
}

int cashu_id_from_hex(char out[CASHU_KEYSET_ID_HEX_MAX + 1], const char *hex, size_t n)
{
    uint8_t raw[33];
    if ((n != 16 && n != 66) || hex_decode(raw, n / 2, hex, n) != E_OK)
        return E_PROTO;
    return cashu_id_from_bytes(out, raw, n / 2);
}

void cashu_mint_url_normalize(char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
}

/* A checked, NUL-terminated copy of p[0..n) in *dst (freed first). */
static int set_text(char **dst, const char *p, size_t n, size_t max)
{
    int rc = cashu_check_text(p, n, max);
    if (rc != E_OK)
        return rc;
    free(*dst);
    *dst = xstrndup(n ? p : "", n);
    return E_OK;
}

int cashu_token_set_mint(struct cashu_token *t, const char *p, size_t n)
{
    char *mint = NULL;
    int rc = set_text(&mint, p, n, CASHU_MAX_MINT_LEN);
    if (rc != E_OK)
        return rc;
    cashu_mint_url_normalize(mint);
    if (mint[0] == '\0') {
        free(mint);
        return E_PROTO;
    }
    free(t->mint);
    t->mint = mint;
    return E_OK;
}

int cashu_token_set_unit(struct cashu_token *t, const char *p, size_t n)
{
    if (n == 0)
        return E_PROTO;
    return set_text(&t->unit, p, n, CASHU_MAX_UNIT_LEN);
}

int cashu_token_set_memo(struct cashu_token *t, const char *p, size_t n)
{
    return set_text(&t->memo, p, n, CASHU_MAX_MEMO_LEN);
}

int cashu_token_push(struct cashu_token *t, struct cashu_proof **out)
{
    if (t->n_proofs >= CASHU_MAX_PROOFS)
        return E_LIMIT;
    if (t->n_proofs == t->_cap) {
        t->_cap = t->_cap ? 2 * t->_cap : 8;
        t->proofs = xrealloc(t->proofs, t->_cap * sizeof *t->proofs);
    }
    *out = &t->proofs[t->n_proofs++];
    memset(*out, 0, sizeof **out);
    return E_OK;
}

int cashu_proof_set_secret(struct cashu_proof *p, const char *s, size_t n)
{
    if (n == 0)
        return E_PROTO;
    return set_text(&p->secret, s, n, CASHU_MAX_SECRET_LEN);
}

int cashu_proof_set_witness(struct cashu_proof *p, const char *s, size_t n)
{
    return set_text(&p->witness, s, n, CASHU_MAX_WITNESS_LEN);
}

int cashu_proof_set_C(struct cashu_proof *p, const uint8_t *c, size_t n)
{
    secp256k1_pubkey P;
    if (n != 33 || !cashu_point_parse(&P, c))
        return E_PROTO;
    memcpy(p->C, c, 33);
    return E_OK;
}

/* --- the struct --- */

static void proof_release(struct cashu_proof *p)
{
    if (p->secret) {
        secure_zero(p->secret, strlen(p->secret));
        free(p->secret);
    }
    if (p->witness) {
        secure_zero(p->witness, strlen(p->witness));
        free(p->witness);
    }
    secure_zero(p, sizeof *p);
}

void cashu_token_deinit(struct cashu_token *t)
{
    for (size_t i = 0; i < t->n_proofs; i++)
        proof_release(&t->proofs[i]);
    free(t->proofs);
    free(t->mint);
    free(t->unit);
    free(t->memo);
    memset(t, 0, sizeof *t);
}

/* Checks what only the whole token can show, and fills defaults. */
static int finish(struct cashu_token *t)
{
    if (t->mint == NULL || t->n_proofs == 0)
        return E_PROTO;
    if (t->unit == NULL)
        t->unit = xstrdup("sat");
    uint64_t sum = 0;
    for (size_t i = 0; i < t->n_proofs; i++) {
        if (__builtin_add_overflow(sum, t->proofs[i].amount, &sum))
            return E_LIMIT;
    }
    t->amount = sum;
    return E_OK;
}

int cashu_token_init(struct cashu_token *t, const char *mint, const char *unit, const char *memo)
{
    struct cashu_token n = {.format = CASHU_TOKEN_V4};
    int rc = cashu_token_set_mint(&n, mint, strlen(mint));
    if (rc == E_OK)
        rc = unit ? cashu_token_set_unit(&n, unit, strlen(unit))
                  : cashu_token_set_unit(&n, "sat", 3);
    if (rc == E_OK && memo)
        rc = cashu_token_set_memo(&n, memo, strlen(memo));
    if (rc != E_OK) {
        cashu_token_deinit(&n);
        return rc;
    }
    *t = n;
    return E_OK;
}

int cashu_token_add_proof(struct cashu_token *t, const struct cashu_proof *p)
{
    struct cashu_proof q = {.amount = p->amount, .has_dleq = p->has_dleq, .dleq = p->dleq};
    uint64_t sum;
    int rc = E_OK;
    if (t->n_proofs >= CASHU_MAX_PROOFS || __builtin_add_overflow(t->amount, p->amount, &sum))
        return E_LIMIT;
    if (p->secret == NULL)
        return E_PROTO;
    if ((rc = cashu_id_from_hex(q.id, p->id, strnlen(p->id, sizeof p->id))) == E_OK &&
        (rc = cashu_proof_set_C(&q, p->C, 33)) == E_OK &&
        (rc = cashu_proof_set_secret(&q, p->secret, strlen(p->secret))) == E_OK && p->witness)
        rc = cashu_proof_set_witness(&q, p->witness, strlen(p->witness));
    if (rc != E_OK) {
        proof_release(&q);
        return rc;
    }
    struct cashu_proof *slot;
    rc = cashu_token_push(t, &slot);
    assert(rc == E_OK); /* the count was checked above */
    (void)rc;
    *slot = q;
    t->amount = sum;
    return E_OK;
}

/* --- decoding --- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Decodes a payload into a fresh token and, on success only, moves it to *out. */
static int decode_payload(struct cashu_token *out, enum cashu_token_format fmt,
                          const uint8_t *bytes, size_t n)
{
    struct cashu_token t = {.format = fmt};
    int rc = fmt == CASHU_TOKEN_V3 ? cashu_token_json_decode(&t, bytes, n)
                                   : cashu_token_cbor_decode(&t, bytes, n);
    if (rc == E_OK)
        rc = finish(&t);
    if (rc != E_OK) {
        cashu_token_deinit(&t);
        return rc;
    }
    *out = t;
    return E_OK;
}

int cashu_token_decode(struct cashu_token *out, const char *s, size_t len)
{
    if (len > CASHU_TOKEN_MAX_LEN)
        return E_LIMIT;
    char *clean = xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_space(s[i]))
            clean[n++] = s[i];
    }
    clean[n] = '\0';

    const char *p = clean;
    if (n >= 6 && strncasecmp(p, "cashu:", 6) == 0) {
        p += 6;
        n -= 6;
    }
    enum cashu_token_format fmt;
    int rc = E_PROTO;
    if (n >= PREFIX_LEN && memcmp(p, "cashuA", PREFIX_LEN) == 0)
        fmt = CASHU_TOKEN_V3;
    else if (n >= PREFIX_LEN && memcmp(p, "cashuB", PREFIX_LEN) == 0)
        fmt = CASHU_TOKEN_V4;
    else
        goto out;
    p += PREFIX_LEN;
    n -= PREFIX_LEN;

    size_t cap = b64_decoded_max(n), blen = 0;
    uint8_t *bytes = xmalloc(cap + 1);
    rc = b64_decode_any(bytes, cap, &blen, p, n);
    if (rc == E_OK)
        rc = decode_payload(out, fmt, bytes, blen);
    secure_zero(bytes, cap + 1);
    free(bytes);
out:
    secure_zero(clean, len + 1);
    free(clean);
    return rc;
}

int cashu_token_decode_raw(struct cashu_token *out, const uint8_t *p, size_t len)
{
    size_t plen = sizeof raw_prefix - 1;
    if (len > CASHU_TOKEN_MAX_LEN)
        return E_LIMIT;
    if (len < plen || memcmp(p, raw_prefix, plen) != 0)
        return E_PROTO;
    return decode_payload(out, CASHU_TOKEN_RAW, p + plen, len - plen);
}

/* --- encoding --- */

int cashu_token_encode(const struct cashu_token *t, enum cashu_token_format fmt, char **out,
                       size_t *out_len)
{
    if (t->n_proofs == 0 || t->mint == NULL || t->unit == NULL)
        return E_PROTO;
    struct buf payload;
    buf_init(&payload, CASHU_TOKEN_MAX_LEN);
    int rc;
    switch (fmt) {
    case CASHU_TOKEN_V3:
        rc = cashu_token_json_encode(t, &payload);
        break;
    case CASHU_TOKEN_V4:
    case CASHU_TOKEN_RAW:
        rc = cashu_token_cbor_encode(t, &payload);
        break;
    default:
        rc = E_PROTO;
    }
    if (rc != E_OK)
        goto out;

    char *s;
    size_t n;
    if (fmt == CASHU_TOKEN_RAW) {
        n = sizeof raw_prefix - 1 + payload.len;
        if (n > CASHU_TOKEN_MAX_LEN) {
            rc = E_LIMIT;
            goto out;
        }
        s = xmalloc(n + 1);
        memcpy(s, raw_prefix, sizeof raw_prefix - 1);
        memcpy(s + sizeof raw_prefix - 1, payload.p, payload.len);
        s[n] = '\0';
    } else {
        bool pad = fmt == CASHU_TOKEN_V3; /* as nutshell writes V3; V4 as cashu-ts writes it */
        n = PREFIX_LEN + b64_encoded_len(payload.len, pad);
        if (n > CASHU_TOKEN_MAX_LEN) {
            rc = E_LIMIT;
            goto out;
        }
        s = xmalloc(n + 1);
        memcpy(s, fmt == CASHU_TOKEN_V3 ? "cashuA" : "cashuB", PREFIX_LEN);
        b64url_encode(s + PREFIX_LEN, (const uint8_t *)payload.p, payload.len, pad);
    }
    *out = s;
    *out_len = n;
out:
    if (payload.p)
        secure_zero(payload.p, payload.len);
    buf_deinit(&payload);
    return rc;
}
