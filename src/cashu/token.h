/* token.h -- Cashu tokens (NUT-00): cashuA (V3, JSON), cashuB (V4, CBOR) and crawB (V4 binary).
 *
 * A decoded token is one mint, one unit, an optional memo and a flat list of proofs; each proof
 * carries its own keyset id (V4 groups proofs by id on the wire; V3 may list the same mint in
 * several entries, which are merged). The decoder takes peer input: it strips whitespace and an
 * optional "cashu:" URI prefix, caps every size (CASHU_TOKEN_MAX_LEN, CASHU_MAX_PROOFS,
 * CASHU_MAX_*_LEN) and checks every field: ids are hex of 8 or 33 bytes, C is a valid
 * compressed point, strings are UTF-8 without NUL, amounts fit uint64 and so does their sum.
 * Unknown keys are ignored (NUT-00 V4: receivers must). The mint URL is normalized (trailing
 * '/' removed) so it can be compared with an allow-list.
 *
 * Amounts are in the token's unit ('unit': "sat" unless the token says otherwise). Proof secrets
 * are bearer money: cashu_token_deinit() wipes them. */
#ifndef ROUTSTR_CASHU_TOKEN_H
#define ROUTSTR_CASHU_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cashu/bdhke.h"

struct buf;

#define CASHU_TOKEN_MAX_LEN (64 * 1024) /* input characters, whitespace included */
#define CASHU_MAX_PROOFS 1000           /* per token */
#define CASHU_MAX_SECRET_LEN 1024       /* bytes; NUT-10 secrets are a few hundred */
#define CASHU_MAX_WITNESS_LEN 4096
#define CASHU_MAX_MINT_LEN 512
#define CASHU_MAX_UNIT_LEN 32
#define CASHU_MAX_MEMO_LEN 1024
#define CASHU_KEYSET_ID_HEX_MAX 66 /* v2: "01" + 64 hex digits */

enum cashu_token_format {
    CASHU_TOKEN_V3 = 3, /* "cashuA" + base64url(JSON) */
    CASHU_TOKEN_V4 = 4, /* "cashuB" + base64url(CBOR) */
    CASHU_TOKEN_RAW = 5, /* "crawB" + CBOR, binary (NUT-00 "binary tokens") */
};

struct cashu_proof {
    uint64_t amount;                          /* in the token's unit */
    char id[CASHU_KEYSET_ID_HEX_MAX + 1];     /* lowercase hex: 16 digits (v1, or a short v2
                                                 id: resolve with cashu_keyset_resolve) or 66 */
    char *secret;                             /* NUL-terminated UTF-8, owned */
    uint8_t C[33];                            /* compressed point, checked on the curve */
    bool has_dleq;
    struct cashu_dleq dleq;                   /* NUT-12, when has_dleq (r when dleq.has_r) */
    char *witness;                            /* NUT-11 witness string, or NULL; owned */
};

struct cashu_token {
    enum cashu_token_format format; /* what it was decoded from (V4 for a built token) */
    char *mint;                     /* without trailing '/' */
    char *unit;                     /* "sat" if the token named none */
    char *memo;                     /* or NULL */
    struct cashu_proof *proofs;
    size_t n_proofs;
    uint64_t amount;                /* sum of the proofs' amounts (no overflow: checked) */
    size_t _cap;
};

/* Decodes a cashuA or cashuB token string (len bytes, need not be NUL-terminated) into *out,
 * which the caller later frees with cashu_token_deinit(). Whitespace anywhere and a leading
 * "cashu:" are ignored; padded and unpadded base64url are both accepted (and the standard
 * alphabet, which some wallets emit). Returns 0; E_PROTO if malformed (bad prefix, base64,
 * JSON/CBOR, a missing or mistyped field, an invalid point, no proof at all, V3 entries of
 * different mints); E_LIMIT over a cap (input length, proof count, a string's length, the sum
 * of amounts past UINT64_MAX). 'out' is left untouched on error. */
int cashu_token_decode(struct cashu_token *out, const char *s, size_t len);

/* Decodes the binary form "crawB" || CBOR (no whitespace stripping). Same contract. */
int cashu_token_decode_raw(struct cashu_token *out, const uint8_t *p, size_t len);

/* Starts an empty token to be filled with cashu_token_add_proof() and encoded. Copies the
 * strings; unit NULL means "sat", memo may be NULL. Returns 0, E_PROTO or E_LIMIT (a string
 * that the decoder would refuse); on error nothing needs freeing. */
int cashu_token_init(struct cashu_token *t, const char *mint, const char *unit, const char *memo);

/* Appends a deep copy of p (its strings copied). Returns 0, E_PROTO (invalid id, secret, C),
 * or E_LIMIT (CASHU_MAX_PROOFS, a string's cap, the sum of amounts). t is unchanged on error. */
int cashu_token_add_proof(struct cashu_token *t, const struct cashu_proof *p);

/* Frees what t owns, wiping secrets and witnesses, and leaves t empty. Safe on a zeroed or
 * already released token. */
void cashu_token_deinit(struct cashu_token *t);

/* Encodes t as a string: V3 "cashuA" + padded base64url of compact JSON, V4 "cashuB" +
 * unpadded base64url of CBOR (keys in the order of the NUT-00 vectors: t,d,m,u; i,p; a,s,c,d,w),
 * or RAW "crawB" + CBOR (binary: use *out_len). *out is heap memory for free(), NUL-terminated.
 * Proofs are grouped by keyset id in order of first appearance. DLEQs and witnesses are
 * included when present: strip them (cashu_proof.has_dleq, .witness) before sending proofs to a
 * mint. Returns 0, E_PROTO (an empty token), or E_LIMIT (V3 cannot carry an amount above
 * INT64_MAX; the result would pass CASHU_TOKEN_MAX_LEN). */
int cashu_token_encode(const struct cashu_token *t, enum cashu_token_format fmt, char **out,
                       size_t *out_len);

/* Strips trailing '/' from a mint URL in place (NUT-00: a MUST before comparing or storing). */
void cashu_mint_url_normalize(char *url);

#endif
