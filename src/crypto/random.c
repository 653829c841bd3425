/* random.c -- the CSPRNG, constant-time compare, secure clearing, and the secp256k1 context.
 *
 * The secp256k1 context is created once for the whole process (call_once, so threads may race
 * to the first use) and randomized with 32 bytes from the RNG: libsecp256k1 blinds its
 * scalar multiplications with that seed, which hardens pubkey_create and tweak_mul against
 * timing and power side channels. The context is only read afterwards, which libsecp256k1
 * allows from any number of threads. */
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/err.h"

int crypto_random(void *p, size_t n)
{
    uint8_t *q = p;
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        if (RAND_bytes(q, chunk) != 1) {
            OPENSSL_cleanse(p, (size_t)(q - (uint8_t *)p) + n);
            return E_IO;
        }
        q += chunk;
        n -= (size_t)chunk;
    }
    return E_OK;
}

bool ct_memeq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void secure_zero(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}

static secp256k1_context *secp_ctx;
static once_flag secp_once = ONCE_FLAG_INIT;

static void secp_create(void)
{
    uint8_t seed[32];
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (ctx == NULL || crypto_random(seed, sizeof seed) != E_OK ||
        !secp256k1_context_randomize(ctx, seed)) {
        fprintf(stderr, "routstr: cannot create the secp256k1 context\n");
        abort();
    }
    secure_zero(seed, sizeof seed);
    secp_ctx = ctx;
}

const secp256k1_context *crypto_secp(void)
{
    call_once(&secp_once, secp_create);
    return secp_ctx;
}
