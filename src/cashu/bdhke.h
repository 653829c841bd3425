/* bdhke.h -- Cashu's blind signature scheme (NUT-00) and its DLEQ proofs (NUT-12).
 *
 * Points cross this interface as 33-byte SEC1 compressed encodings and scalars as 32-byte
 * big-endian numbers, the forms the protocol carries; libsecp256k1's opaque types stay inside.
 * Every call validates its inputs: a point that does not parse, a scalar that is 0 or >= n, or a
 * result at infinity gives E_PROTO, so peer data can be passed straight in.
 *
 * Wallet flow: Y = hash_to_curve(secret); B_ = Y + r*G (cashu_blind); the mint answers
 * C_ = k*B_ with a DLEQ proof (cashu_dleq_verify_blind); C = C_ - r*K (cashu_unblind). A proof
 * received from someone else carries r, so its DLEQ can be checked again
 * (cashu_dleq_verify_proof). Secrets are hashed as their UTF-8 bytes (the string itself, not a
 * hex decoding of it). */
#ifndef ROUTSTR_CASHU_BDHKE_H
#define ROUTSTR_CASHU_BDHKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CASHU_POINT_LEN 33
#define CASHU_SCALAR_LEN 32

/* A DLEQ proof as NUT-12 carries it. 'r' (the blinding factor) travels only in proofs passed
 * between users, never in the mint's BlindSignature. */
struct cashu_dleq {
    uint8_t e[32];
    uint8_t s[32];
    uint8_t r[32];
    bool has_r;
};

/* Y = hash_to_curve(msg) (NUT-00): SHA256("Secp256k1_HashToCurve_Cashu_" || msg), then the
 * first counter (uint32 little endian) for which 0x02 || SHA256(msg_hash || counter) is on the
 * curve. Returns 0, or E_PROTO if none is found below 2^16 (probability 2^-65536). */
int cashu_hash_to_curve(uint8_t Y[33], const void *msg, size_t len);

/* B_ = hash_to_curve(secret) + r*G. Returns 0 or E_PROTO (r out of range). */
int cashu_blind(uint8_t B_[33], const void *secret, size_t secret_len, const uint8_t r[32]);

/* C = C_ - r*K, with K the mint's key for the signature's keyset and amount. Returns 0 or
 * E_PROTO. */
int cashu_unblind(uint8_t C[33], const uint8_t C_[33], const uint8_t r[32], const uint8_t K[33]);

/* Mint side, for tests and the test mint: C_ = k*B_. Returns 0 or E_PROTO. */
int cashu_sign_blinded(uint8_t C_[33], const uint8_t k[32], const uint8_t B_[33]);

/* Mint side: checks C == k*hash_to_curve(secret). Returns 0 if it holds, E_PROTO if not. */
int cashu_verify_unblinded(const uint8_t k[32], const void *secret, size_t secret_len,
                           const uint8_t C[33]);

/* hash_e (NUT-12): SHA256 over the ASCII lowercase hex of each point's 65-byte uncompressed
 * form, concatenated. Returns 0, E_PROTO (a point does not parse) or E_LIMIT (n > 8; NUT-12
 * hashes 4). */
int cashu_hash_e(uint8_t e[32], const uint8_t (*points)[33], size_t n);

/* Checks the DLEQ of a BlindSignature: with R1 = s*G - e*A and R2 = s*B_ - e*C_, valid iff
 * hash_e(R1, R2, A, C_) == e. A is the mint's key for the amount. Returns 0 if valid, E_PROTO
 * otherwise (including malformed points or scalars). */
int cashu_dleq_verify_blind(const uint8_t A[33], const uint8_t B_[33], const uint8_t C_[33],
                            const uint8_t e[32], const uint8_t s[32]);

/* Checks the DLEQ carried by a Proof {secret, C, dleq{e,s,r}}: B_ = hash_to_curve(secret) + r*G,
 * C_ = C + r*A, then as above. Returns 0 if valid, E_PROTO otherwise (also when !d->has_r). */
int cashu_dleq_verify_proof(const uint8_t A[33], const void *secret, size_t secret_len,
                            const uint8_t C[33], const struct cashu_dleq *d);

/* Mint side, for tests and the test mint: a DLEQ (e, s) for C_ = a*B_ with the deterministic
 * nonce of NUT-12, r = HMAC-SHA256(a, "Cashu_DLEQ_R_v1" || A || B_ || C_ || ctr), points
 * uncompressed and ctr one byte, 0 first, raised while r is not a valid scalar (the reading
 * that reproduces the NUT-12 vector). Returns 0 or E_PROTO. */
int cashu_dleq_prove(uint8_t e[32], uint8_t s[32], const uint8_t a[32], const uint8_t B_[33],
                     const uint8_t C_[33]);

#endif
