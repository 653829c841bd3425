/* payreq.h -- Cashu payment requests: NUT-18 "creqA" (CBOR) and NUT-26 "creqB" (bech32m TLV).
 *
 * A payment request tells a payer what to send: an amount in a unit, the mints accepted, and
 * how to deliver the token (transports; none means in-band, as in NUT-24's 402 answer, where
 * the server emits a, u and m only). Both encodings carry the same fields, so one struct serves
 * both and a request decoded from one can be encoded in the other.
 *
 * Decoding takes peer input: the length is capped (CASHU_PAYREQ_MAX_LEN), so are the counts
 * (CASHU_PAYREQ_MAX_*), every string must be UTF-8 without NUL, unknown CBOR keys and TLV tags
 * are skipped, CBOR null and undefined (0xf7, which some encoders write for an absent field)
 * stand for "absent". A known key or singular tag given twice is E_PROTO.
 *
 * Nostr transports. NUT-26 carries the target as a raw 32-byte key with the relays as "r" tag
 * tuples; a creqB decoder folds them back into an nprofile (NIP-19, always nprofile, as the
 * NUT-26 vectors and cashu-ts do) and drops the "r" tags, so a decoded transport looks the same
 * whichever encoding it came from. The creqB encoder accepts an npub or an nprofile target.
 *
 * Mint URLs are kept as written; normalize (cashu_mint_url_normalize) before comparing. */
#ifndef ROUTSTR_CASHU_PAYREQ_H
#define ROUTSTR_CASHU_PAYREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CASHU_PAYREQ_MAX_LEN 8192       /* characters of an encoded request, either form */
#define CASHU_PAYREQ_MAX_MINTS 32
#define CASHU_PAYREQ_MAX_TRANSPORTS 8
#define CASHU_PAYREQ_MAX_TAGS 32        /* per transport (relays included) or nut10 */
#define CASHU_PAYREQ_MAX_TAG_ITEMS 16   /* strings in one tag, its key included */

/* One tag: ["key", "value", ...]. */
struct cashu_payreq_tag {
    char **s; /* owned; s[0] is the key when n > 0 */
    size_t n;
};

struct cashu_payreq_tags {
    struct cashu_payreq_tag *v;
    size_t n;
};

struct cashu_payreq_transport {
    char *type;   /* "nostr" or "post" (NUT-18); creqA may name others, creqB cannot */
    char *target; /* nostr: nprofile or npub; post: a URL */
    struct cashu_payreq_tags tags; /* NUT-18 "g", e.g. [["n", "17"]] */
};

/* NUT-10 locking condition the payment must carry. */
struct cashu_payreq_nut10 {
    char *kind; /* "P2PK" or "HTLC" (creqB knows only these) */
    char *data;
    struct cashu_payreq_tags tags;
};

struct cashu_payreq {
    char *id; /* or NULL; likewise every optional string */
    bool has_amount;
    uint64_t amount; /* in 'unit' */
    char *unit;
    bool has_single_use;
    bool single_use;
    char **mints;
    size_t n_mints;
    char *description;
    struct cashu_payreq_transport *transports; /* none: in-band */
    size_t n_transports;
    bool has_nut10;
    struct cashu_payreq_nut10 nut10;
};

/* --- decoding and encoding --- */

/* Decodes a "creqA…" (the prefix in any case; base64url or base64, padded or not) or a
 * "creqb1…" (bech32m, upper or lower case) request of len bytes into *out, which the caller
 * frees with cashu_payreq_deinit(). Returns 0; E_PROTO if malformed (prefix, base64, bech32m
 * checksum, CBOR or TLV syntax, a mistyped or missing field, an unknown creqB transport or
 * NUT-10 kind); E_LIMIT above a cap. 'out' is left untouched on error. */
int cashu_payreq_decode(struct cashu_payreq *out, const char *s, size_t len);
/* The same for one form only. */
int cashu_payreq_decode_creqA(struct cashu_payreq *out, const char *s, size_t len);
int cashu_payreq_decode_creqB(struct cashu_payreq *out, const char *s, size_t len);

/* Encode req into a new NUL-terminated string in *out (free() it). creqA: "creqA" + padded
 * base64url of the CBOR map, keys in the order of the NUT-18 vectors (t, i, a, u, m, d, s,
 * nut10), only the fields present. creqB: upper-case bech32m, tags in order (NUT-26).
 * Return 0; E_PROTO if cashu_payreq_check() refuses req, or (creqB) a transport type other than
 * nostr/post, a nostr target that is no npub/nprofile, a NUT-10 kind other than P2PK/HTLC;
 * E_LIMIT if the result would pass CASHU_PAYREQ_MAX_LEN, or (creqB) a tag string is over 255
 * bytes or relays and tags together pass CASHU_PAYREQ_MAX_TAGS. Whatever is encoded decodes
 * again. *out is set only on success. */
int cashu_payreq_encode_creqA(const struct cashu_payreq *req, char **out);
int cashu_payreq_encode_creqB(const struct cashu_payreq *req, char **out);

/* --- building --- */

/* A request for NUT-24's 402 answer: amount, unit and mints (copied), nothing else. Returns 0,
 * E_PROTO (a string that is not UTF-8, unit NULL, no mint), E_LIMIT (a cap); on error req is
 * left empty. */
int cashu_payreq_init_nut24(struct cashu_payreq *req, uint64_t amount, const char *unit,
                            const char *const *mints, size_t n_mints);

/* A request starts zeroed ("struct cashu_payreq r = {0};") and is filled with these; the
 * decoders use them too, so both forms obey the same rules. Strings need not be
 * NUL-terminated. Each returns 0, E_PROTO (a NUL or invalid UTF-8) or E_LIMIT (n above
 * CASHU_PAYREQ_MAX_LEN, or a count cap), and changes nothing on error. */
/* Copies p[0..n) into *field (&req->id, &tp->target, ...), freeing what was there. */
int cashu_payreq_set_str(char **field, const char *p, size_t n);
int cashu_payreq_add_mint(struct cashu_payreq *req, const char *p, size_t n);
/* Appends an empty transport (type and target NULL: set both before encoding). */
int cashu_payreq_add_transport(struct cashu_payreq *req, struct cashu_payreq_transport **out);
/* Appends an empty tag to a list, then strings to a tag. */
int cashu_payreq_add_tag(struct cashu_payreq_tags *tags, struct cashu_payreq_tag **out);
int cashu_payreq_tag_push(struct cashu_payreq_tag *tag, const char *p, size_t n);

/* Returns 0 if every field a decoder would check passes (strings present where required,
 * UTF-8 without NUL, counts within the caps), E_PROTO or E_LIMIT otherwise. */
int cashu_payreq_check(const struct cashu_payreq *req);
/* True if a and b hold the same fields (strings compared bytewise, lists in order). */
bool cashu_payreq_equal(const struct cashu_payreq *a, const struct cashu_payreq *b);
/* Frees every string and list; req is zeroed and may be reused. */
void cashu_payreq_deinit(struct cashu_payreq *req);

#endif
