/* aead.c -- AES-256-GCM seal and open for secrets at rest (wallet seed, operator keys).
 *
 * Layout: nonce(12) || ciphertext || tag(16). The nonce is drawn from the RNG for every seal,
 * never derived from a counter, so no state has to survive a restart. open() checks the tag
 * before it returns anything: on failure the output is wiped, so a caller that ignores the
 * code still never sees unauthenticated plaintext. */
#include "crypto/crypto.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "base/err.h"

/* OpenSSL takes lengths as int: feed long inputs in slices. */
#define SLICE (1 << 30)

static EVP_CIPHER_CTX *cipher_new(void)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c == NULL) {
        fprintf(stderr, "routstr: OpenSSL EVP_CIPHER_CTX_new failed\n");
        abort();
    }
    return c;
}

static bool feed_aad(EVP_CIPHER_CTX *c, const uint8_t *aad, size_t n, bool enc)
{
    int len;
    while (n > 0) {
        int k = n > SLICE ? SLICE : (int)n;
        int ok = enc ? EVP_EncryptUpdate(c, NULL, &len, aad, k)
                     : EVP_DecryptUpdate(c, NULL, &len, aad, k);
        if (ok != 1)
            return false;
        aad += k;
        n -= (size_t)k;
    }
    return true;
}

static bool feed(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t n, bool enc)
{
    int len;
    while (n > 0) {
        int k = n > SLICE ? SLICE : (int)n;
        int ok = enc ? EVP_EncryptUpdate(c, out, &len, in, k)
                     : EVP_DecryptUpdate(c, out, &len, in, k);
        if (ok != 1 || len != k)
            return false;
        out += k;
        in += k;
        n -= (size_t)k;
    }
    return true;
}

int crypto_aead_seal(uint8_t *out, const uint8_t key[32], const void *pt, size_t n,
                     const void *aad, size_t aad_len)
{
    uint8_t *nonce = out, *ct = out + CRYPTO_AEAD_NONCE_LEN, *tag = ct + n;
    if (crypto_random(nonce, CRYPTO_AEAD_NONCE_LEN) != E_OK)
        return E_IO;
    EVP_CIPHER_CTX *c = cipher_new();
    int len;
    bool ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
              feed_aad(c, aad, aad_len, true) && feed(c, ct, pt, n, true) &&
              EVP_EncryptFinal_ex(c, tag, &len) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPTO_AEAD_TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        fprintf(stderr, "routstr: OpenSSL AES-256-GCM seal failed\n");
        abort();
    }
    return E_OK;
}

int crypto_aead_open(uint8_t *out, const uint8_t key[32], const uint8_t *sealed, size_t n,
                     const void *aad, size_t aad_len)
{
    if (n < CRYPTO_AEAD_OVERHEAD)
        return E_PROTO;
    size_t ct_len = n - CRYPTO_AEAD_OVERHEAD;
    const uint8_t *nonce = sealed, *ct = sealed + CRYPTO_AEAD_NONCE_LEN, *tag = ct + ct_len;
    uint8_t tag_copy[CRYPTO_AEAD_TAG_LEN]; /* the ctrl call takes a non-const pointer */
    for (size_t i = 0; i < sizeof tag_copy; i++)
        tag_copy[i] = tag[i];
    EVP_CIPHER_CTX *c = cipher_new();
    int len;
    bool ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
              feed_aad(c, aad, aad_len, false) && feed(c, out, ct, ct_len, false) &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPTO_AEAD_TAG_LEN, tag_copy) == 1 &&
              EVP_DecryptFinal_ex(c, out + ct_len, &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        secure_zero(out, ct_len);
        return E_PROTO;
    }
    return E_OK;
}
