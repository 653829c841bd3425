/* nut13.h -- deterministic secrets (NUT-13): a wallet seed gives every output's secret and
 * blinding factor, so a wallet that kept only its seed and per-keyset counters can restore its
 * proofs (NUT-09).
 *
 * seed = BIP-39 seed (PBKDF2-HMAC-SHA512 of the mnemonic, salt "mnemonic" || passphrase, 2048
 * rounds). Keyset v1 ("00"): BIP-32 path m/129372'/0'/{id mod 2^31-1}'/{counter}'/{0 secret,
 * 1 r}. Keyset v2 ("01"): HMAC-SHA256(seed, "Cashu_KDF_HMAC_SHA256" || id bytes ||
 * counter as uint64 big endian || {0x00 secret, 0x01 r}), r reduced mod n. The proof's secret
 * is the lowercase hex of the 32 derived bytes; hash_to_curve runs over that text. */
#ifndef ROUTSTR_CASHU_NUT13_H
#define ROUTSTR_CASHU_NUT13_H

#include <stddef.h>
#include <stdint.h>

#define CASHU_SEED_LEN 64

/* BIP-39 seed of a mnemonic (and passphrase, "" or NULL for none). The words are used as given:
 * they must already be NFKD-normalized (English words in ASCII are) and single-space separated.
 * This neither checks the wordlist nor the checksum. */
void cashu_bip39_seed(uint8_t seed[64], const char *mnemonic, const char *passphrase);

/* The v1 path's keyset component: int(id, 16) mod (2^31 - 1). Returns 0 or E_PROTO (id not
 * 16 hex digits). */
int cashu_nut13_keyset_int(uint32_t *out, const char *keyset_id);

/* The secret (64 lowercase hex digits and a NUL) and blinding factor r of output 'counter' of
 * keyset 'keyset_id' (full id: 16 hex digits for v1, 66 for v2). Returns 0; E_PROTO for an id
 * that is neither, or a derivation that yields an invalid key (probability about 2^-127);
 * E_LIMIT for a v1 counter >= 2^31 (hardened index). Wipe r and the seed after use. */
int cashu_nut13_derive(char secret[65], uint8_t r[32], const uint8_t seed[64],
                       const char *keyset_id, uint64_t counter);

#endif
