/* b64.c -- base64 and base64url, see b64.h.
 *
 * Encoding takes three bytes to four characters. Decoding first finds where the data ends
 * (padding stripped and checked), then takes whole quads, then the 2- or 3-character tail, whose
 * unused bits must be zero. Nothing is read outside [s, s+len) and nothing is written past
 * out[cap-1]. */
#include "base/b64.h"

#include "base/err.h"

enum alphabet { STD = 1, URL = 2 };

static const char std_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64_encoded_len(size_t n, bool pad)
{
    if (pad)
        return (n + 2) / 3 * 4;
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t b64_decoded_max(size_t len)
{
    return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

static size_t encode(char *out, const uint8_t *p, size_t n, const char *chars, bool pad)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = chars[v >> 18 & 63];
        out[o++] = chars[v >> 12 & 63];
        out[o++] = chars[v >> 6 & 63];
        out[o++] = chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = chars[v >> 18 & 63];
        out[o++] = chars[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = chars[v >> 18 & 63];
        out[o++] = chars[v >> 12 & 63];
        out[o++] = chars[v >> 6 & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t b64_encode(char *out, const uint8_t *p, size_t n)
{
    return encode(out, p, n, std_chars, true);
}

size_t b64url_encode(char *out, const uint8_t *p, size_t n, bool pad)
{
    return encode(out, p, n, url_chars, pad);
}

/* The 6-bit value of c in the accepted alphabets, or -1. */
static int sextet(unsigned char c, int alphabets)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (alphabets & STD) {
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
    }
    if (alphabets & URL) {
        if (c == '-')
            return 62;
        if (c == '_')
            return 63;
    }
    return -1;
}

static int decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t len,
                  int alphabets)
{
    /* Padding: only when the whole length is a multiple of 4 (so len >= 4 here), at most two
     * '='; what is left must then end in a 2- or 3-character tail, or a stray '=' in it fails
     * as a character outside the alphabet. */
    size_t n = len;
    if (n > 0 && s[n - 1] == '=') {
        if (len % 4 != 0)
            return E_PROTO;
        n--;
        if (s[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return E_PROTO;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > cap)
        return E_LIMIT;

    size_t o = 0, i = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (; i + 4 <= n; i += 4) {
        int a = sextet(u[i], alphabets), b = sextet(u[i + 1], alphabets);
        int c = sextet(u[i + 2], alphabets), d = sextet(u[i + 3], alphabets);
        if ((a | b | c | d) < 0)
            return E_PROTO;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    size_t tail = n - i;
    if (tail >= 2) {
        int a = sextet(u[i], alphabets), b = sextet(u[i + 1], alphabets);
        int c = tail == 3 ? sextet(u[i + 2], alphabets) : 0;
        if ((a | b | c) < 0)
            return E_PROTO;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        out[o++] = (uint8_t)(v >> 16);
        if (tail == 3)
            out[o++] = (uint8_t)(v >> 8);
        /* RFC 4648 §3.5: the bits past the last whole byte must be zero. */
        if (tail == 2 ? (v & 0xffff) != 0 : (v & 0xff) != 0)
            return E_PROTO;
    }
    *out_len = o;
    return E_OK;
}

int b64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t len)
{
    return decode(out, cap, out_len, s, len, STD);
}

int b64url_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t len)
{
    return decode(out, cap, out_len, s, len, URL);
}

int b64_decode_any(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t len)
{
    return decode(out, cap, out_len, s, len, STD | URL);
}
