/* event.h -- Nostr keys and events (NIP-01) signed with BIP-340 Schnorr signatures.
 *
 * An event's id is SHA-256 of its canonical serialization
 *     [0,"<pubkey hex>",<created_at>,<kind>,<tags>,"<content>"]
 * written with no whitespace, strings in UTF-8 verbatim except the escapes NIP-01 lists (\" \\
 * \n \r \t \b \f). NIP-01 would put the other C0 controls (U+0000..U+001F) in verbatim, which is
 * not JSON; every widely used implementation (nostr-tools' JSON.stringify, rust-nostr's
 * serde_json, go-nostr) writes them as \u00xx with lowercase hex, so we do too -- otherwise an
 * event carrying one would get an id nobody else computes. The signature is BIP-340 over the
 * 32-byte id, under the x-only public key 'pubkey'.
 *
 * Events cross this interface parsed: binary id/pubkey/sig, 'tags' as a jansson array of
 * arrays of strings (validated on entry, owned by the event), 'content' as bytes. Everything
 * that comes from a peer is bounded (NOSTR_MAX_*) and checked; nothing is asserted. Secret keys
 * live only inside 'struct nostr_key' and are wiped by nostr_key_wipe(). */
#ifndef ROUTSTR_NOSTR_EVENT_H
#define ROUTSTR_NOSTR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>

#include "base/buf.h"

#define NOSTR_MAX_TAGS 1024          /* tags per event */
#define NOSTR_MAX_TAG_ITEMS 16       /* strings per tag */
#define NOSTR_MAX_TAG_ITEM_LEN 4096  /* bytes per tag string */
#define NOSTR_MAX_CONTENT (64 * 1024)
/* The largest canonical serialization we build (content and tags at their caps, escaped). */
#define NOSTR_MAX_SERIALIZED (1024 * 1024)
/* created_at above this is refused: JavaScript numbers are exact only below 2^53. */
#define NOSTR_MAX_CREATED_AT ((int64_t)9007199254740991)

/* A key pair. The secret half never leaves it. */
struct nostr_key {
    secp256k1_keypair kp;
    uint8_t pub[32]; /* x-only public key */
};

/* Makes a key pair from a 32-byte secret. Returns 0, or E_PROTO if the secret is 0 or >= the
 * curve order. 'sk' is not wiped: the caller owns it. */
int nostr_key_from_secret(struct nostr_key *k, const uint8_t sk[32]);
/* Parses an "nsec1..." string (NIP-19) or 64 hex digits (either case), surrounding spaces
 * allowed. Returns 0 or E_PROTO. Every temporary copy of the secret is wiped. */
int nostr_key_parse(struct nostr_key *k, const char *s);
/* Copies the 32-byte secret out (to store it sealed). Wipe 'sk' after use. */
void nostr_key_secret(const struct nostr_key *k, uint8_t sk[32]);
void nostr_key_wipe(struct nostr_key *k);

/* BIP-340 over a 32-byte message. 'aux' is the auxiliary randomness (32 bytes, or NULL for
 * none; the BIP recommends fresh random bytes). Returns 0 or E_IO (libsecp256k1 refused). */
int nostr_schnorr_sign(uint8_t sig[64], const struct nostr_key *k, const uint8_t msg[32],
                       const uint8_t aux[32]);
/* Returns 0 if 'sig' is a valid BIP-340 signature of msg under the x-only key 'pub', E_PROTO
 * otherwise (including a 'pub' that is not on the curve). */
int nostr_schnorr_verify(const uint8_t sig[64], const uint8_t msg[32], const uint8_t pub[32]);

struct nostr_event {
    uint8_t id[32];
    uint8_t pubkey[32];
    uint8_t sig[64];
    int64_t created_at;
    uint32_t kind;       /* 0..65535 */
    json_t *tags;        /* owned: an array of arrays of strings */
    char *content;       /* owned, NUL-terminated; may itself hold NULs (content_len) */
    size_t content_len;
};

/* An empty event (no tags, empty content). */
void nostr_event_init(struct nostr_event *ev);
void nostr_event_deinit(struct nostr_event *ev);
/* Sets the content to a copy of n bytes. Returns 0, E_LIMIT (over NOSTR_MAX_CONTENT) or
 * E_PROTO (not UTF-8). */
int nostr_event_set_content(struct nostr_event *ev, const char *p, size_t n);
/* Appends a tag of n strings. Returns 0 or E_LIMIT (a cap), E_PROTO (a string that is not
 * UTF-8). */
int nostr_event_add_tag(struct nostr_event *ev, const char *const *items, size_t n);
/* Deep copy: 'dst' is initialised by the call. */
void nostr_event_copy(struct nostr_event *dst, const struct nostr_event *src);

/* Appends the canonical serialization to 'out'. Returns 0 or E_LIMIT (out's cap). */
int nostr_event_serialize(const struct nostr_event *ev, struct buf *out);
/* Computes the id from the fields (does not store it). Returns 0 or E_LIMIT. */
int nostr_event_hash(const struct nostr_event *ev, uint8_t id[32]);
/* Sets pubkey from 'k', then id, then sig. created_at, kind, tags and content must be set.
 * Returns 0, E_LIMIT (too large to serialize) or E_IO (no randomness). */
int nostr_event_sign(struct nostr_event *ev, const struct nostr_key *k);
/* Checks that id is the hash of the fields and sig a valid signature of id by pubkey.
 * Returns 0 or E_PROTO. */
int nostr_event_verify(const struct nostr_event *ev);

/* Fills 'ev' (initialised by the call) from a JSON object with id, pubkey, created_at, kind,
 * tags, content, sig (other members ignored). Hex must be lowercase and of the right length.
 * Returns 0, E_PROTO (shape) or E_LIMIT (a cap); on error 'ev' is left empty (deinit is still
 * safe). Does not verify: see nostr_event_verify(). */
int nostr_event_from_json(struct nostr_event *ev, const json_t *j);
/* Appends the event as a JSON object {"id","pubkey","created_at","kind","tags","content","sig"}
 * with the same escaping as the canonical form. Returns 0 or E_LIMIT. */
int nostr_event_write_json(const struct nostr_event *ev, struct buf *out);
/* The event as a new jansson object (same members). */
json_t *nostr_event_to_json(const struct nostr_event *ev);

/* The first value (item 1) of the first tag named 'name', or NULL; its length in *len if
 * 'len' is not NULL. */
const char *nostr_event_tag(const struct nostr_event *ev, const char *name, size_t *len);

/* Appends s (n bytes) as a JSON string with the escaping above, quotes included. */
int nostr_json_string(struct buf *out, const char *s, size_t n);

#endif
