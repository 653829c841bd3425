/* keyset.h -- mint keysets (NUT-01, NUT-02): parsing, ID computation, short IDs and fees.
 *
 * A keyset is the mint's public keys for one unit, one key per amount, plus its fee and
 * optional expiry. Its ID is derived from those, so a wallet recomputes it and never trusts the
 * ID the mint states: v1 "00" + 14 hex digits of SHA256(keys), v2 "01" + SHA256 over the keys,
 * unit, input_fee_ppk and final_expiry (NUT-02). A token may name a v2 keyset by its first 8
 * bytes (a short ID); cashu_keyset_resolve() finds the full one among all known keysets,
 * inactive ones included. Fees are charged per transaction:
 * ceil(sum of each input's keyset input_fee_ppk / 1000), in the keysets' unit. */
#ifndef ROUTSTR_CASHU_KEYSET_H
#define ROUTSTR_CASHU_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cashu/token.h"

#define CASHU_KEYSET_MAX_KEYS 256

struct cashu_key {
    uint64_t amount; /* in the keyset's unit; up to 2^63 in the NUT-01 vectors */
    uint8_t K[33];   /* compressed point, checked on the curve */
};

struct cashu_keyset {
    char id[CASHU_KEYSET_ID_HEX_MAX + 1]; /* lowercase hex, 16 (v1) or 66 (v2) digits */
    char unit[CASHU_MAX_UNIT_LEN + 1];
    bool active;
    uint64_t input_fee_ppk;  /* 0 when absent or null */
    uint64_t final_expiry;   /* unix seconds; 0 when absent or null */
    struct cashu_key *keys;  /* ascending by amount, owned; NULL for /v1/keysets metadata */
    size_t n_keys;
};

/* Parses a NUT-01 keys object {"<amount>": "<33-byte hex>", ...} into ks->keys (replacing any).
 * Amounts are decimal strings in 1..2^64-1 without sign or leading zeros. Returns 0; E_PROTO
 * for a non-object, an empty object, a bad amount or a key that is not a 33-byte compressed
 * point (the NUT-01 invalid vectors); E_LIMIT past CASHU_KEYSET_MAX_KEYS. ks->keys is left
 * unchanged on error. */
int cashu_keyset_parse_keys(struct cashu_keyset *ks, const json_t *keys);

/* Parses one keyset object as GET /v1/keys and /v1/keysets list them: "id", "unit", "active"
 * (false when absent), "input_fee_ppk", "final_expiry" (null or absent: 0), and "keys" (only
 * in /v1/keys). When keys are present the stated id must equal the computed one. Initializes
 * *ks (free with cashu_keyset_deinit) only on success. Returns 0, E_PROTO or E_LIMIT. */
int cashu_keyset_parse(struct cashu_keyset *ks, const json_t *obj);

void cashu_keyset_deinit(struct cashu_keyset *ks);

/* Computes the v1 ID ("00" + 14 hex digits) or v2 ID ("01" + 64) from ks's keys (and, for v2,
 * unit, input_fee_ppk and final_expiry). Returns 0, or E_PROTO if ks has no keys. */
int cashu_keyset_id_v1(char out[17], const struct cashu_keyset *ks);
int cashu_keyset_id_v2(char out[67], const struct cashu_keyset *ks);

/* Recomputes ks->id by its version byte and compares. Returns 0, or E_PROTO on a mismatch, an
 * unknown version, or no keys. */
int cashu_keyset_verify_id(const struct cashu_keyset *ks);

/* The key for an amount, or NULL if the keyset has none (binary search). */
const uint8_t *cashu_keyset_key(const struct cashu_keyset *ks, uint64_t amount);

/* Finds the keyset a token's id names: an exact match, or a v2 keyset whose first 8 bytes are
 * a 16-digit short id (NUT-02). Search 'sets' in full, inactive keysets included. Returns 0
 * with *idx set, E_NOTFOUND, or E_CONFLICT if the short id matches more than one keyset. */
int cashu_keyset_resolve(const struct cashu_keyset *sets, size_t n_sets, size_t *idx,
                         const char *id);

/* Before adding 'ks' to the known keysets: E_CONFLICT if its id, or its short form, already
 * names a different known keyset (NUT-02: a wallet must reject colliding IDs); 0 otherwise
 * (also when the same id is known: a refresh). */
int cashu_keyset_check_new(const struct cashu_keyset *sets, size_t n_sets,
                           const struct cashu_keyset *ks);

/* fee = ceil(sum(ppk[i]) / 1000) for one transaction of n inputs (NUT-02). Returns 0, or
 * E_LIMIT if the sum overflows. */
int cashu_fee(uint64_t *fee, const uint64_t *ppk, size_t n);

/* The fee of spending 'proofs' together, each charged by its own keyset (short ids resolved as
 * above). Returns 0, E_NOTFOUND or E_CONFLICT (a proof's keyset), or E_LIMIT. */
int cashu_fee_for_proofs(const struct cashu_keyset *sets, size_t n_sets, uint64_t *fee,
                         const struct cashu_proof *proofs, size_t n_proofs);

#endif
