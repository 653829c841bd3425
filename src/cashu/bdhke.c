/* bdhke.c -- hash_to_curve and the blind signature steps of NUT-00.
 *
 * Each public call parses its inputs into libsecp256k1's form, does one or two group
 * operations, and serializes the result compressed. libsecp256k1 refuses a scalar that is 0 or
 * >= n and a sum at infinity; each refusal becomes E_PROTO, which is also what a malformed
 * point gets, so callers can feed mint answers and token fields in unchecked. Scalar
 * multiplications by secrets (r, k) run in libsecp256k1's constant-time paths. */
#include "cashu/bdhke.h"

#include <string.h>

#include "base/err.h"
#include "cashu/cashu_int.h"
#include "crypto/crypto.h"

static const char h2c_domain[] = "Secp256k1_HashToCurve_Cashu_";

bool cashu_point_parse(secp256k1_pubkey *P, const uint8_t in[33])
{
    if (in[0] != 0x02 && in[0] != 0x03)
        return false;
    return secp256k1_ec_pubkey_parse(crypto_secp(), P, in, 33) == 1;
}

void cashu_point_ser(uint8_t out[33], const secp256k1_pubkey *P)
{
    size_t len = 33;
    int ok = secp256k1_ec_pubkey_serialize(crypto_secp(), out, &len, P, SECP256K1_EC_COMPRESSED);
    (void)ok; /* always 1 for a parsed or computed key */
}

void cashu_point_ser65(uint8_t out[65], const secp256k1_pubkey *P)
{
    size_t len = 65;
    int ok = secp256k1_ec_pubkey_serialize(crypto_secp(), out, &len, P, SECP256K1_EC_UNCOMPRESSED);
    (void)ok;
}

int cashu_h2c(secp256k1_pubkey *Y, const void *msg, size_t len)
{
    uint8_t msg_hash[32], buf[36], cand[33];
    struct crypto_sha256_ctx h;
    crypto_sha256_init(&h);
    crypto_sha256_update(&h, h2c_domain, sizeof h2c_domain - 1);
    crypto_sha256_update(&h, msg, len);
    crypto_sha256_final(&h, msg_hash);

    memcpy(buf, msg_hash, 32);
    cand[0] = 0x02; /* NUT-00: Y always has an even y */
    for (uint32_t counter = 0; counter < (1u << 16); counter++) {
        buf[32] = (uint8_t)counter; /* little endian */
        buf[33] = (uint8_t)(counter >> 8);
        buf[34] = (uint8_t)(counter >> 16);
        buf[35] = (uint8_t)(counter >> 24);
        crypto_sha256(cand + 1, buf, sizeof buf);
        if (secp256k1_ec_pubkey_parse(crypto_secp(), Y, cand, sizeof cand) == 1)
            return E_OK;
    }
    return E_PROTO;
}

int cashu_hash_to_curve(uint8_t Y[33], const void *msg, size_t len)
{
    secp256k1_pubkey P;
    int rc = cashu_h2c(&P, msg, len);
    if (rc == E_OK)
        cashu_point_ser(Y, &P);
    return rc;
}

int cashu_blind(uint8_t B_[33], const void *secret, size_t secret_len, const uint8_t r[32])
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_pubkey Y, rG, B;
    if (cashu_h2c(&Y, secret, secret_len) != E_OK || !secp256k1_ec_pubkey_create(ctx, &rG, r))
        return E_PROTO;
    const secp256k1_pubkey *terms[2] = {&Y, &rG};
    if (!secp256k1_ec_pubkey_combine(ctx, &B, terms, 2))
        return E_PROTO;
    cashu_point_ser(B_, &B);
    return E_OK;
}

int cashu_unblind(uint8_t C[33], const uint8_t C_[33], const uint8_t r[32], const uint8_t K[33])
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_pubkey sig, rK, out;
    if (!cashu_point_parse(&sig, C_) || !cashu_point_parse(&rK, K))
        return E_PROTO;
    if (!secp256k1_ec_pubkey_tweak_mul(ctx, &rK, r) || !secp256k1_ec_pubkey_negate(ctx, &rK))
        return E_PROTO;
    const secp256k1_pubkey *terms[2] = {&sig, &rK};
    if (!secp256k1_ec_pubkey_combine(ctx, &out, terms, 2))
        return E_PROTO;
    cashu_point_ser(C, &out);
    return E_OK;
}

int cashu_sign_blinded(uint8_t C_[33], const uint8_t k[32], const uint8_t B_[33])
{
    secp256k1_pubkey P;
    if (!cashu_point_parse(&P, B_) || !secp256k1_ec_pubkey_tweak_mul(crypto_secp(), &P, k))
        return E_PROTO;
    cashu_point_ser(C_, &P);
    return E_OK;
}

int cashu_verify_unblinded(const uint8_t k[32], const void *secret, size_t secret_len,
                           const uint8_t C[33])
{
    secp256k1_pubkey Y;
    uint8_t want[33];
    if (cashu_h2c(&Y, secret, secret_len) != E_OK ||
        !secp256k1_ec_pubkey_tweak_mul(crypto_secp(), &Y, k))
        return E_PROTO;
    cashu_point_ser(want, &Y);
    return ct_memeq(want, C, 33) ? E_OK : E_PROTO;
}
