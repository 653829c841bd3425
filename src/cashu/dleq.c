/* dleq.c -- NUT-12 discrete-log equality proofs: hash_e, the wallet's two checks, and the mint's
 * deterministic proof (tests and the test mint only).
 *
 * The proof shows that the mint used the same k for its public key A = k*G and its signature
 * C_ = k*B_, so a signature cannot be a tagging key of its own. The wallet recomputes
 * R1 = s*G - e*A and R2 = s*B_ - e*C_ and accepts iff hash_e(R1, R2, A, C_) == e. A scalar e or
 * s that is 0 or >= n cannot come from an honest mint and makes the proof invalid. */
#include "cashu/bdhke.h"

#include <string.h>

#include "base/err.h"
#include "base/str.h"
#include "cashu/cashu_int.h"
#include "crypto/crypto.h"

static const char nonce_domain[] = "Cashu_DLEQ_R_v1";

static void hash_e_points(uint8_t e[32], const secp256k1_pubkey *const *P, size_t n)
{
    struct crypto_sha256_ctx h;
    uint8_t raw[65];
    char hex[131];
    crypto_sha256_init(&h);
    for (size_t i = 0; i < n; i++) {
        cashu_point_ser65(raw, P[i]);
        hex_encode(hex, raw, sizeof raw);
        crypto_sha256_update(&h, hex, 130);
    }
    crypto_sha256_final(&h, e);
}

int cashu_hash_e(uint8_t e[32], const uint8_t (*points)[33], size_t n)
{
    secp256k1_pubkey P[8];
    const secp256k1_pubkey *ptrs[8];
    if (n > 8)
        return E_LIMIT;
    for (size_t i = 0; i < n; i++) {
        if (!cashu_point_parse(&P[i], points[i]))
            return E_PROTO;
        ptrs[i] = &P[i];
    }
    hash_e_points(e, ptrs, n);
    return E_OK;
}

/* X*s - Y*e, or false if a scalar is out of range or the result is infinity. */
static bool lin(secp256k1_pubkey *out, const secp256k1_pubkey *X, const uint8_t s[32],
                const secp256k1_pubkey *Y, const uint8_t e[32])
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_pubkey sX = *X, eY = *Y;
    if (!secp256k1_ec_pubkey_tweak_mul(ctx, &sX, s) ||
        !secp256k1_ec_pubkey_tweak_mul(ctx, &eY, e) || !secp256k1_ec_pubkey_negate(ctx, &eY))
        return false;
    const secp256k1_pubkey *terms[2] = {&sX, &eY};
    return secp256k1_ec_pubkey_combine(ctx, out, terms, 2) == 1;
}

static int verify(const secp256k1_pubkey *A, const secp256k1_pubkey *B, const secp256k1_pubkey *C,
                  const uint8_t e[32], const uint8_t s[32])
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_pubkey G, R1, R2;
    static const uint8_t one[32] = {[31] = 1};
    if (!secp256k1_ec_pubkey_create(ctx, &G, one))
        return E_PROTO;
    if (!lin(&R1, &G, s, A, e) || !lin(&R2, B, s, C, e))
        return E_PROTO;
    uint8_t want[32];
    const secp256k1_pubkey *pts[4] = {&R1, &R2, A, C};
    hash_e_points(want, pts, 4);
    return ct_memeq(want, e, 32) ? E_OK : E_PROTO;
}

int cashu_dleq_verify_blind(const uint8_t A[33], const uint8_t B_[33], const uint8_t C_[33],
                            const uint8_t e[32], const uint8_t s[32])
{
    secp256k1_pubkey a, b, c;
    if (!cashu_point_parse(&a, A) || !cashu_point_parse(&b, B_) || !cashu_point_parse(&c, C_))
        return E_PROTO;
    return verify(&a, &b, &c, e, s);
}

int cashu_dleq_verify_proof(const uint8_t A[33], const void *secret, size_t secret_len,
                            const uint8_t C[33], const struct cashu_dleq *d)
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_pubkey a, c, Y, rG, rA, B_, C_;
    if (!d->has_r || !cashu_point_parse(&a, A) || !cashu_point_parse(&c, C))
        return E_PROTO;
    if (cashu_h2c(&Y, secret, secret_len) != E_OK || !secp256k1_ec_pubkey_create(ctx, &rG, d->r))
        return E_PROTO;
    rA = a;
    if (!secp256k1_ec_pubkey_tweak_mul(ctx, &rA, d->r))
        return E_PROTO;
    const secp256k1_pubkey *t1[2] = {&Y, &rG}, *t2[2] = {&c, &rA};
    if (!secp256k1_ec_pubkey_combine(ctx, &B_, t1, 2) ||
        !secp256k1_ec_pubkey_combine(ctx, &C_, t2, 2))
        return E_PROTO;
    return verify(&a, &B_, &C_, d->e, d->s);
}

int cashu_dleq_prove(uint8_t e[32], uint8_t s[32], const uint8_t a[32], const uint8_t B_[33],
                     const uint8_t C_[33])
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_pubkey A, B, C, R1, R2;
    uint8_t msg[sizeof nonce_domain - 1 + 3 * 65 + 1], r[32], ea[32];
    int rc = E_PROTO;
    if (!secp256k1_ec_pubkey_create(ctx, &A, a) || !cashu_point_parse(&B, B_) ||
        !cashu_point_parse(&C, C_))
        return E_PROTO;
    size_t o = sizeof nonce_domain - 1;
    memcpy(msg, nonce_domain, o);
    cashu_point_ser65(msg + o, &A);
    cashu_point_ser65(msg + o + 65, &B);
    cashu_point_ser65(msg + o + 130, &C);
    o += 195;
    for (unsigned ctr = 0; ctr < 256; ctr++) {
        msg[o] = (uint8_t)ctr;
        crypto_hmac_sha256(r, a, 32, msg, o + 1);
        if (secp256k1_ec_seckey_verify(ctx, r))
            break;
        if (ctr == 255)
            goto out;
    }
    if (!secp256k1_ec_pubkey_create(ctx, &R1, r))
        goto out;
    R2 = B;
    if (!secp256k1_ec_pubkey_tweak_mul(ctx, &R2, r))
        goto out;
    const secp256k1_pubkey *pts[4] = {&R1, &R2, &A, &C};
    hash_e_points(e, pts, 4);
    /* s = r + e*a (mod n) */
    memcpy(ea, e, 32);
    memcpy(s, r, 32);
    if (!secp256k1_ec_seckey_tweak_mul(ctx, ea, a) || !secp256k1_ec_seckey_tweak_add(ctx, s, ea))
        goto out;
    rc = E_OK;
out:
    secure_zero(r, sizeof r);
    secure_zero(ea, sizeof ea);
    secure_zero(msg, sizeof msg);
    return rc;
}
