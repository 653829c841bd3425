/* cashu_int.h -- helpers shared by the files of the cashu module; not for callers.
 *
 * Points: libsecp256k1's secp256k1_pubkey is an opaque in-memory form, so these helpers convert
 * at the module's edge. Token codec: token.c owns the struct and the validation of each field;
 * token_json.c (V3, cashuA) and token_cbor.c (V4, cashuB and crawB) only walk their syntax and
 * hand fields to these setters, so both formats enforce the same caps with the same codes. */
#ifndef ROUTSTR_CASHU_CASHU_INT_H
#define ROUTSTR_CASHU_CASHU_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <secp256k1.h>

#include "cashu/token.h"

/* --- points (bdhke.c) --- */

/* Parses a 33-byte compressed point. False if it is not one (wrong prefix, not on the curve). */
bool cashu_point_parse(secp256k1_pubkey *P, const uint8_t in[33]);
void cashu_point_ser(uint8_t out[33], const secp256k1_pubkey *P);
void cashu_point_ser65(uint8_t out[65], const secp256k1_pubkey *P);
/* hash_to_curve into libsecp256k1's form. Returns 0 or E_PROTO. */
int cashu_h2c(secp256k1_pubkey *Y, const void *msg, size_t len);

/* --- token fields (token.c) --- */

/* Returns 0, E_LIMIT if n > max, E_PROTO if p holds a NUL or is not UTF-8 (RFC 3629). */
int cashu_check_text(const char *p, size_t n, size_t max);
/* A keyset id from hex (either case) or from its bytes, stored as lowercase hex. Accepts 8 bytes
 * (v1, or a short v2 id) and 33 bytes (full v2). Returns 0 or E_PROTO. */
int cashu_id_from_hex(char out[CASHU_KEYSET_ID_HEX_MAX + 1], const char *hex, size_t n);
int cashu_id_from_bytes(char out[CASHU_KEYSET_ID_HEX_MAX + 1], const uint8_t *p, size_t n);

/* Setters used by the decoders: each validates, then copies into the token. Strings need not be
 * NUL-terminated. Return 0, E_PROTO or E_LIMIT. */
int cashu_token_set_mint(struct cashu_token *t, const char *p, size_t n);
int cashu_token_set_unit(struct cashu_token *t, const char *p, size_t n);
int cashu_token_set_memo(struct cashu_token *t, const char *p, size_t n);
/* Appends a zeroed proof and returns it in *out; E_LIMIT past CASHU_MAX_PROOFS. */
int cashu_token_push(struct cashu_token *t, struct cashu_proof **out);
int cashu_proof_set_secret(struct cashu_proof *p, const char *s, size_t n);
int cashu_proof_set_witness(struct cashu_proof *p, const char *s, size_t n);
/* Copies and checks C (a valid compressed point). */
int cashu_proof_set_C(struct cashu_proof *p, const uint8_t *c, size_t n);

/* Format back ends. decode: 'bytes' is the payload after the prefix (JSON text for V3, CBOR for
 * V4); t was initialized empty by the caller, who frees it on error. encode: appends the
 * payload (before base64) to 'out'. */
int cashu_token_json_decode(struct cashu_token *t, const uint8_t *bytes, size_t n);
int cashu_token_json_encode(const struct cashu_token *t, struct buf *out);
int cashu_token_cbor_decode(struct cashu_token *t, const uint8_t *bytes, size_t n);
int cashu_token_cbor_encode(const struct cashu_token *t, struct buf *out);

#endif
