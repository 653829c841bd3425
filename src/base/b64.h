/* b64.h -- base64 and base64url (RFC 4648 §4 and §5).
 *
 * Encoders write into a buffer the caller sized with b64_encoded_len(). Decoders write at most
 * 'cap' bytes and accept padded and unpadded input alike; they are strict otherwise: no
 * whitespace, no character outside the alphabet, '=' only as the final padding, and the unused
 * low bits of the last character must be zero (RFC 4648 §3.5), so one byte string has exactly
 * one encoding per alphabet (padding aside). */
#ifndef ROUTSTR_BASE_B64_H
#define ROUTSTR_BASE_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without the NUL; with '=' padding when 'pad'. */
size_t b64_encoded_len(size_t n, bool pad);
/* Upper bound on the bytes a decoder produces from len characters. */
size_t b64_decoded_max(size_t len);

/* Encode n bytes into out (b64_encoded_len(n, pad) + 1 bytes, NUL-terminated). Return the
 * length written, NUL excluded. b64_encode uses the standard alphabet and always pads. */
size_t b64_encode(char *out, const uint8_t *p, size_t n);
size_t b64url_encode(char *out, const uint8_t *p, size_t n, bool pad);

/* Decode len characters into out (at most cap bytes); *out_len gets the decoded length.
 * Return 0, E_PROTO on a character outside the alphabet or a malformed end, E_LIMIT when the
 * result would not fit in cap. 'out' may be partly written on error.
 * b64_decode: standard alphabet (+/). b64url_decode: URL alphabet (-_).
 * b64_decode_any: either alphabet, even mixed (what Cashu wallets emit in the wild). */
int b64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t len);
int b64url_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t len);
int b64_decode_any(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t len);

#endif
