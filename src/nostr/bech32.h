/* bech32.h -- bech32 (BIP-173) and the NIP-19 keys npub/nsec.
 *
 * NIP-19 encodes a 32-byte key as bech32 (not bech32m) with the prefix "npub" or "nsec". The
 * decoder is strict: one case throughout (either), characters of the alphabet only, a valid
 * checksum, the expected prefix, and 8-bit regrouping with zero padding of fewer than 5 bits.
 * The 90-character limit of BIP-173 applies to the plain keys handled here. */
#ifndef ROUTSTR_NOSTR_BECH32_H
#define ROUTSTR_NOSTR_BECH32_H

#include <stddef.h>
#include <stdint.h>

#define NOSTR_BECH32_MAX 90
/* "npub1" + 52 data characters + 6 checksum characters. */
#define NOSTR_NPUB_LEN 63

/* Encodes n bytes under 'hrp' (lowercase) into out (cap bytes with the NUL). Returns the length
 * written, or E_LIMIT when the result would exceed cap or NOSTR_BECH32_MAX. */
int nostr_bech32_encode(char *out, size_t cap, const char *hrp, const uint8_t *p, size_t n);
/* Decodes 's' (len characters): the prefix is written to hrp (hrp_cap bytes with the NUL,
 * lowercase), the data to out (at most cap bytes, count in *n). Returns 0, E_PROTO (malformed,
 * checksum) or E_LIMIT (too long for a buffer). */
int nostr_bech32_decode(char *hrp, size_t hrp_cap, uint8_t *out, size_t cap, size_t *n,
                        const char *s, size_t len);

/* npub/nsec of a 32-byte key into out (at least NOSTR_NPUB_LEN + 1 bytes). */
void nostr_npub_encode(char out[NOSTR_NPUB_LEN + 1], const uint8_t pub[32]);
void nostr_nsec_encode(char out[NOSTR_NPUB_LEN + 1], const uint8_t sk[32]);
/* Decodes an npub/nsec into 32 bytes. Returns 0 or E_PROTO (wrong prefix, length, checksum). */
int nostr_npub_decode(uint8_t pub[32], const char *s, size_t len);
int nostr_nsec_decode(uint8_t sk[32], const char *s, size_t len);

#endif
