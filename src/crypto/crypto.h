/* crypto.h -- hashes, MACs, key stretching, randomness, secret hygiene, AES-GCM, and the one
 * secp256k1 context of the process.
 *
 * Everything here is a thin, typed layer over OpenSSL 3 and libsecp256k1, so the rest of the
 * tree never includes their headers for the common cases. Digest and MAC calls cannot fail on
 * valid arguments; an OpenSSL failure there means out-of-memory, and we abort as xalloc does.
 * Calls that can fail for a reason a caller must handle (the RNG, an AEAD tag) return 0 or a
 * negative code from base/err.h and warn when the result is ignored. */
#ifndef ROUTSTR_CRYPTO_CRYPTO_H
#define ROUTSTR_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <secp256k1.h>

#define CRYPTO_WARN_UNUSED __attribute__((warn_unused_result))

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA512_LEN 64

/* SHA-256 of n bytes. */
void crypto_sha256(uint8_t out[32], const void *p, size_t n);

/* Incremental SHA-256: init, any number of updates, one final (which releases the state, so a
 * context is never leaked if final runs). A context that is abandoned before final must be
 * released with crypto_sha256_abort(). */
struct crypto_sha256_ctx {
    void *_md; /* EVP_MD_CTX */
};
void crypto_sha256_init(struct crypto_sha256_ctx *c);
void crypto_sha256_update(struct crypto_sha256_ctx *c, const void *p, size_t n);
void crypto_sha256_final(struct crypto_sha256_ctx *c, uint8_t out[32]);
void crypto_sha256_abort(struct crypto_sha256_ctx *c);

/* HMAC (RFC 2104) of n bytes under a key of any length. */
void crypto_hmac_sha256(uint8_t out[32], const void *key, size_t key_len, const void *p,
                        size_t n);
void crypto_hmac_sha512(uint8_t out[64], const void *key, size_t key_len, const void *p,
                        size_t n);

/* PBKDF2-HMAC-SHA512 (RFC 8018 §5.2) into out_len bytes; BIP-39 uses 2048 iterations and a
 * 64-byte output. */
void crypto_pbkdf2_sha512(uint8_t *out, size_t out_len, const void *pass, size_t pass_len,
                          const void *salt, size_t salt_len, unsigned iterations);

/* scrypt (RFC 7914) into out_len bytes with cost N (a power of two, at most 2^20), block size r
 * and parallelism p (each 1..64), using up to 128·r·N bytes of memory. Returns 0, or E_PROTO
 * for parameters out of those bounds (so a stored hash cannot make us spend unbounded memory). */
CRYPTO_WARN_UNUSED int crypto_scrypt(uint8_t *out, size_t out_len, const void *pass,
                                     size_t pass_len, const void *salt, size_t salt_len,
                                     uint64_t n, uint64_t r, uint64_t p);

/* Fills p with n bytes from OpenSSL's CSPRNG. Returns 0, or E_IO if the generator is not
 * seeded (p is then zeroed, never left half random). */
CRYPTO_WARN_UNUSED int crypto_random(void *p, size_t n);

/* Compares n bytes in time independent of their contents (secp256k1's "_var" distinction:
 * use this for MACs, keys, secrets; memcmp is fine for public data). */
bool ct_memeq(const void *a, const void *b, size_t n);
/* Clears n bytes in a way the compiler may not elide. */
void secure_zero(void *p, size_t n);

/* The process-wide secp256k1 context: created on first use (thread-safe), randomized against
 * side channels, never destroyed (it holds no secret). Aborts if the RNG cannot seed it. */
const secp256k1_context *crypto_secp(void);

/* AES-256-GCM for secrets at rest. The sealed form is nonce(12) || ciphertext(n) || tag(16):
 * CRYPTO_AEAD_OVERHEAD bytes longer than the plaintext. The nonce is random, so one key may
 * seal about 2^32 messages (NIST SP 800-38D §8.3) -- ample for a wallet's seed and keys.
 * 'aad' (may be NULL with aad_len 0) is authenticated, not stored: bind a secret to its row. */
#define CRYPTO_AEAD_KEY_LEN 32
#define CRYPTO_AEAD_NONCE_LEN 12
#define CRYPTO_AEAD_TAG_LEN 16
#define CRYPTO_AEAD_OVERHEAD (CRYPTO_AEAD_NONCE_LEN + CRYPTO_AEAD_TAG_LEN)

/* Writes n + CRYPTO_AEAD_OVERHEAD bytes to out. Returns 0, or E_IO if no nonce could be drawn. */
CRYPTO_WARN_UNUSED int crypto_aead_seal(uint8_t *out, const uint8_t key[32], const void *pt,
                                        size_t n, const void *aad, size_t aad_len);
/* Opens a sealed blob of n bytes into out (n - CRYPTO_AEAD_OVERHEAD bytes). Returns 0, or
 * E_PROTO if the blob is too short or fails authentication (out is then zeroed). */
CRYPTO_WARN_UNUSED int crypto_aead_open(uint8_t *out, const uint8_t key[32], const uint8_t *sealed,
                                        size_t n, const void *aad, size_t aad_len);

#endif
