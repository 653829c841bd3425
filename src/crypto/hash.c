/* hash.c -- SHA-256, HMAC-SHA256/512, PBKDF2-HMAC-SHA512 and scrypt over OpenSSL 3's EVP layer.
 *
 * The low-level SHA256_* calls are deprecated in OpenSSL 3, so the incremental hash holds an
 * EVP_MD_CTX. OpenSSL only fails these calls when it cannot allocate, which we treat like any
 * other out-of-memory: abort (xalloc.h). Key and length arguments that OpenSSL takes as 'int'
 * are asserted to fit; no caller passes anything near 2 GiB. */
#include "crypto/crypto.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/err.h"

static void die(const char *what)
{
    fprintf(stderr, "routstr: OpenSSL %s failed\n", what);
    abort();
}

void crypto_sha256(uint8_t out[32], const void *p, size_t n)
{
    unsigned int len = 0;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
        die("EVP_Digest");
}

void crypto_sha256_init(struct crypto_sha256_ctx *c)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        die("EVP_DigestInit_ex");
    c->_md = md;
}

void crypto_sha256_update(struct crypto_sha256_ctx *c, const void *p, size_t n)
{
    assert(c->_md != NULL);
    if (EVP_DigestUpdate(c->_md, p, n) != 1)
        die("EVP_DigestUpdate");
}

void crypto_sha256_final(struct crypto_sha256_ctx *c, uint8_t out[32])
{
    unsigned int len = 0;
    assert(c->_md != NULL);
    if (EVP_DigestFinal_ex(c->_md, out, &len) != 1 || len != 32)
        die("EVP_DigestFinal_ex");
    crypto_sha256_abort(c);
}

void crypto_sha256_abort(struct crypto_sha256_ctx *c)
{
    EVP_MD_CTX_free(c->_md);
    c->_md = NULL;
}

static void hmac(const EVP_MD *md, uint8_t *out, unsigned int want, const void *key,
                 size_t key_len, const void *p, size_t n)
{
    /* HMAC() rejects a NULL key even of length 0 (RFC 2104 allows an empty key). */
    static const uint8_t empty[1];
    unsigned int len = 0;
    assert(key_len <= INT_MAX);
    if (HMAC(md, key_len ? key : empty, (int)key_len, p ? p : empty, n, out, &len) == NULL ||
        len != want)
        die("HMAC");
}

void crypto_hmac_sha256(uint8_t out[32], const void *key, size_t key_len, const void *p, size_t n)
{
    hmac(EVP_sha256(), out, 32, key, key_len, p, n);
}

void crypto_hmac_sha512(uint8_t out[64], const void *key, size_t key_len, const void *p, size_t n)
{
    hmac(EVP_sha512(), out, 64, key, key_len, p, n);
}

void crypto_pbkdf2_sha512(uint8_t *out, size_t out_len, const void *pass, size_t pass_len,
                          const void *salt, size_t salt_len, unsigned iterations)
{
    static const char empty[1];
    assert(out_len <= INT_MAX && pass_len <= INT_MAX && salt_len <= INT_MAX);
    assert(iterations >= 1 && iterations <= INT_MAX);
    if (PKCS5_PBKDF2_HMAC(pass_len ? pass : empty, (int)pass_len, salt_len ? salt : empty,
                          (int)salt_len, (int)iterations, EVP_sha512(), (int)out_len, out) != 1)
        die("PKCS5_PBKDF2_HMAC");
}

int crypto_scrypt(uint8_t *out, size_t out_len, const void *pass, size_t pass_len,
                  const void *salt, size_t salt_len, uint64_t n, uint64_t r, uint64_t p)
{
    static const char empty[1];
    /* 128·r·N bytes for V, 256·r·p for B and XY, with room to spare (RFC 7914 §5). */
    uint64_t maxmem = 128 * r * n + 256 * r * p + (1u << 20);
    if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0 || r > 64 || p > 64 ||
        n > (1u << 20) || maxmem > (1ull << 30))
        return E_PROTO;
    if (EVP_PBE_scrypt(pass_len ? pass : empty, pass_len, salt_len ? salt : empty, salt_len, n,
                       r, p, maxmem, out, out_len) != 1)
        die("EVP_PBE_scrypt");
    return E_OK;
}
