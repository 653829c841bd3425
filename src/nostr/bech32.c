/* bech32.c -- BIP-173 bech32 and the NIP-19 npub/nsec forms.
 *
 * Encoding regroups the bytes into 5-bit groups (zero-padded), appends the 6-group BCH checksum
 * computed over the expanded prefix, and maps groups to the 32-character alphabet. Decoding runs
 * the same steps backwards and refuses anything BIP-173 calls invalid (mixed case, characters
 * outside 33..126, a missing separator, a bad checksum) plus the regrouping rule that padding is
 * under 5 bits and all zero, so each byte string has exactly one encoding. Secret keys pass
 * through stack buffers that are wiped before return. */
#include "nostr/bech32.h"

#include <stdbool.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod_step(uint32_t pre)
{
    uint8_t b = (uint8_t)(pre >> 25);
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t chk = (pre & 0x1ffffff) << 5;
    for (int i = 0; i < 5; i++)
        chk ^= (0u - (uint32_t)((b >> i) & 1)) & gen[i];
    return chk;
}

/* The checksum state after the expanded prefix: high bits, a zero, low bits. */
static uint32_t hrp_polymod(const char *hrp, size_t n)
{
    uint32_t chk = 1;
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk) ^ ((uint8_t)hrp[i] >> 5);
    chk = polymod_step(chk);
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk) ^ ((uint8_t)hrp[i] & 0x1f);
    return chk;
}

int nostr_bech32_encode(char *out, size_t cap, const char *hrp, const uint8_t *p, size_t n)
{
    size_t hlen = strlen(hrp);
    size_t ngroups = (n * 8 + 4) / 5;
    size_t total = hlen + 1 + ngroups + 6;
    if (hlen == 0 || total > NOSTR_BECH32_MAX || total + 1 > cap)
        return E_LIMIT;
    uint32_t chk = hrp_polymod(hrp, hlen);
    memcpy(out, hrp, hlen);
    out[hlen] = '1';
    char *o = out + hlen + 1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            uint8_t g = (acc >> bits) & 0x1f;
            chk = polymod_step(chk) ^ g;
            *o++ = charset[g];
        }
    }
    if (bits > 0) {
        uint8_t g = (acc << (5 - bits)) & 0x1f;
        chk = polymod_step(chk) ^ g;
        *o++ = charset[g];
    }
    secure_zero(&acc, sizeof acc);
    for (int i = 0; i < 6; i++)
        chk = polymod_step(chk);
    chk ^= 1;
    for (int i = 0; i < 6; i++)
        *o++ = charset[(chk >> (5 * (5 - i))) & 0x1f];
    *o = '\0';
    return (int)total;
}

static int charset_rev(char c)
{
    const char *p = c ? strchr(charset, c) : NULL;
    return p ? (int)(p - charset) : -1;
}

int nostr_bech32_decode(char *hrp, size_t hrp_cap, uint8_t *out, size_t cap, size_t *n,
                        const char *s, size_t len)
{
    if (len < 8 || len > NOSTR_BECH32_MAX)
        return E_PROTO;
    bool lower = false, upper = false;
    size_t sep = len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return E_PROTO;
        lower |= c >= 'a' && c <= 'z';
        upper |= c >= 'A' && c <= 'Z';
        if (c == '1')
            sep = i;
    }
    if ((lower && upper) || sep == len || sep == 0 || len - sep - 1 < 6)
        return E_PROTO;
    if (sep + 1 > hrp_cap)
        return E_LIMIT;
    for (size_t i = 0; i < sep; i++) {
        char c = s[i];
        hrp[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    hrp[sep] = '\0';

    uint32_t chk = hrp_polymod(hrp, sep);
    size_t ndata = len - sep - 1 - 6;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    int rc = E_OK;
    for (size_t i = sep + 1; i < len; i++) {
        char c = s[i];
        int g = charset_rev((c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
        if (g < 0) {
            rc = E_PROTO;
            goto out;
        }
        chk = polymod_step(chk) ^ (uint32_t)g;
        if (i - sep - 1 >= ndata)
            continue; /* a checksum character */
        acc = (acc << 5) | (uint32_t)g;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap) {
                rc = E_LIMIT;
                goto out;
            }
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* BIP-173 regrouping: fewer than 5 bits of padding, all zero. */
    if (chk != 1 || bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
        rc = E_PROTO;
        goto out;
    }
    *n = o;
out:
    secure_zero(&acc, sizeof acc);
    return rc;
}

static void key_encode(char out[NOSTR_NPUB_LEN + 1], const char *hrp, const uint8_t k[32])
{
    int rc = nostr_bech32_encode(out, NOSTR_NPUB_LEN + 1, hrp, k, 32);
    (void)rc; /* 63 characters always fit */
}

void nostr_npub_encode(char out[NOSTR_NPUB_LEN + 1], const uint8_t pub[32])
{
    key_encode(out, "npub", pub);
}

void nostr_nsec_encode(char out[NOSTR_NPUB_LEN + 1], const uint8_t sk[32])
{
    key_encode(out, "nsec", sk);
}

static int key_decode(uint8_t k[32], const char *want, const char *s, size_t len)
{
    char hrp[8];
    uint8_t tmp[40];
    size_t n = 0;
    int rc = nostr_bech32_decode(hrp, sizeof hrp, tmp, sizeof tmp, &n, s, len);
    if (rc == E_OK && (strcmp(hrp, want) != 0 || n != 32))
        rc = E_PROTO;
    if (rc == E_OK)
        memcpy(k, tmp, 32);
    secure_zero(tmp, sizeof tmp);
    return rc == E_OK ? E_OK : E_PROTO;
}

int nostr_npub_decode(uint8_t pub[32], const char *s, size_t len)
{
    return key_decode(pub, "npub", s, len);
}

int nostr_nsec_decode(uint8_t sk[32], const char *s, size_t len)
{
    return key_decode(sk, "nsec", s, len);
}
