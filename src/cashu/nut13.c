/* nut13.c -- NUT-13 deterministic secrets: BIP-39 seed, BIP-32 derivation (keyset v1) and the
 * HMAC-SHA256 derivation (keyset v2).
 *
 * BIP-32 is implemented here for the one thing NUT-13 needs: private child keys along a path
 * (CKDpriv, BIP-32 "Private parent key -> private child key"). A hardened step hashes
 * 0x00 || k || index, a normal step hashes the compressed public key || index; the child key is
 * IL + k mod n (libsecp256k1's seckey_tweak_add) and the chain code is IR. Every intermediate
 * key and chain code is wiped before return. */
#include "cashu/nut13.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"

#define HARDENED 0x80000000u

static const char kdf_domain[] = "Cashu_KDF_HMAC_SHA256";

void cashu_bip39_seed(uint8_t seed[64], const char *mnemonic, const char *passphrase)
{
    /* BIP-39: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" || passphrase, 2048, 64 bytes). */
    size_t plen = passphrase ? strlen(passphrase) : 0;
    uint8_t salt[8 + 256];
    uint8_t *s = salt;
    uint8_t *heap = NULL;
    if (plen > sizeof salt - 8)
        s = heap = xmalloc(8 + plen);
    memcpy(s, "mnemonic", 8);
    if (plen)
        memcpy(s + 8, passphrase, plen);
    crypto_pbkdf2_sha512(seed, 64, mnemonic, strlen(mnemonic), s, 8 + plen, 2048);
    secure_zero(s, 8 + plen);
    free(heap);
}

/* A BIP-32 extended private key: key then chain code. */
struct xpriv {
    uint8_t k[32];
    uint8_t c[32];
};

static bool ckd_priv(struct xpriv *x, uint32_t index)
{
    const secp256k1_context *ctx = crypto_secp();
    uint8_t data[37], I[64];
    bool ok = false;
    if (index & HARDENED) {
        data[0] = 0x00;
        memcpy(data + 1, x->k, 32);
    } else {
        secp256k1_pubkey P;
        size_t len = 33;
        if (!secp256k1_ec_pubkey_create(ctx, &P, x->k) ||
            !secp256k1_ec_pubkey_serialize(ctx, data, &len, &P, SECP256K1_EC_COMPRESSED))
            goto out;
    }
    data[33] = (uint8_t)(index >> 24);
    data[34] = (uint8_t)(index >> 16);
    data[35] = (uint8_t)(index >> 8);
    data[36] = (uint8_t)index;
    crypto_hmac_sha512(I, x->c, 32, data, sizeof data);
    /* k_child = IL + k (mod n); fails if IL >= n or the sum is 0 (BIP-32: invalid child). */
    if (!secp256k1_ec_seckey_tweak_add(ctx, x->k, I))
        goto out;
    memcpy(x->c, I + 32, 32);
    ok = true;
out:
    secure_zero(data, sizeof data);
    secure_zero(I, sizeof I);
    return ok;
}

static bool bip32_master(struct xpriv *x, const uint8_t seed[64])
{
    uint8_t I[64];
    crypto_hmac_sha512(I, "Bitcoin seed", 12, seed, 64);
    memcpy(x->k, I, 32);
    memcpy(x->c, I + 32, 32);
    secure_zero(I, sizeof I);
    return secp256k1_ec_seckey_verify(crypto_secp(), x->k) == 1;
}

int cashu_nut13_keyset_int(uint32_t *out, const char *keyset_id)
{
    uint8_t raw[8];
    if (strlen(keyset_id) != 16 || hex_decode(raw, 8, keyset_id, 16) != E_OK)
        return E_PROTO;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | raw[i];
    *out = (uint32_t)(v % 2147483647u);
    return E_OK;
}

static int derive_v1(char secret[65], uint8_t r[32], const uint8_t seed[64], const char *id,
                     uint64_t counter)
{
    uint32_t kid;
    if (cashu_nut13_keyset_int(&kid, id) != E_OK)
        return E_PROTO;
    if (counter >= HARDENED)
        return E_LIMIT;
    const uint32_t path[] = {129372 | HARDENED, 0 | HARDENED, kid | HARDENED,
                             (uint32_t)counter | HARDENED};
    struct xpriv parent, child;
    int rc = E_PROTO;
    if (!bip32_master(&parent, seed))
        goto out;
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        if (!ckd_priv(&parent, path[i]))
            goto out;
    }
    child = parent;
    if (!ckd_priv(&child, 0))
        goto out;
    hex_encode(secret, child.k, 32);
    child = parent;
    if (!ckd_priv(&child, 1))
        goto out;
    memcpy(r, child.k, 32);
    rc = E_OK;
out:
    secure_zero(&parent, sizeof parent);
    secure_zero(&child, sizeof child);
    return rc;
}

/* x mod n for a 32-byte big-endian x < 2^256 < 2n: subtract n at most once. */
static void reduce_mod_n(uint8_t x[32])
{
    static const uint8_t n[32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
        0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
    };
    uint8_t d[32];
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int v = x[i] - n[i] - borrow;
        borrow = v < 0;
        d[i] = (uint8_t)v;
    }
    if (!borrow) /* x >= n */
        memcpy(x, d, 32);
    secure_zero(d, sizeof d);
}

static int derive_v2(char secret[65], uint8_t r[32], const uint8_t seed[64], const char *id,
                     uint64_t counter)
{
    uint8_t msg[sizeof kdf_domain - 1 + 33 + 8 + 1], out[32];
    size_t o = sizeof kdf_domain - 1;
    if (strlen(id) != 66 || hex_decode(msg + o, 33, id, 66) != E_OK)
        return E_PROTO;
    memcpy(msg, kdf_domain, o);
    o += 33;
    for (int i = 0; i < 8; i++)
        msg[o + i] = (uint8_t)(counter >> (56 - 8 * i));
    o += 8;

    msg[o] = 0x00;
    crypto_hmac_sha256(out, seed, 64, msg, o + 1);
    hex_encode(secret, out, 32);
    msg[o] = 0x01;
    crypto_hmac_sha256(out, seed, 64, msg, o + 1);
    reduce_mod_n(out);
    int rc = E_PROTO;
    if (secp256k1_ec_seckey_verify(crypto_secp(), out)) { /* rejects 0 */
        memcpy(r, out, 32);
        rc = E_OK;
    }
    secure_zero(out, sizeof out);
    return rc;
}

int cashu_nut13_derive(char secret[65], uint8_t r[32], const uint8_t seed[64],
                       const char *keyset_id, uint64_t counter)
{
    if (strncmp(keyset_id, "00", 2) == 0)
        return derive_v1(secret, r, seed, keyset_id, counter);
    if (strncmp(keyset_id, "01", 2) == 0)
        return derive_v2(secret, r, seed, keyset_id, counter);
    return E_PROTO;
}
