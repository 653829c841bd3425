/* str.c -- see str.h. */
#include "base/str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

struct str str_from(const char *s)
{
    return (struct str){s, s ? strlen(s) : 0};
}

struct str str_trim(struct str s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

bool str_eq(struct str a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && memcmp(a.p, b, n) == 0;
}

bool str_ieq(struct str a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && strncasecmp(a.p, b, n) == 0;
}

bool str_has_prefix(struct str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

bool str_ihas_prefix(struct str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && strncasecmp(s.p, prefix, n) == 0;
}

int str_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return E_PROTO;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return E_PROTO;
    *out = v;
    return E_OK;
}

int str_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"true", "1", "yes", "on"};
    static const char *no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return E_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return E_OK;
        }
    }
    return E_PROTO;
}

int str_parse_seconds_ms(const char *s, int64_t max_ms, int64_t *out_ms)
{
    /* Digits, then an optional '.' and up to three digits: no floats, no locale. */
    int64_t whole = 0, frac = 0;
    int frac_digits = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return E_PROTO;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > max_ms / 1000 + 1)
            return E_PROTO;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (frac_digits == 3)
                return E_PROTO;
            frac = frac * 10 + (*p - '0');
            frac_digits++;
        }
    }
    if (*p != '\0')
        return E_PROTO;
    while (frac_digits++ < 3)
        frac *= 10;
    int64_t ms = whole * 1000 + frac;
    if (ms > max_ms)
        return E_PROTO;
    *out_ms = ms;
    return E_OK;
}

void hex_encode(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(uint8_t *out, size_t n, const char *hex, size_t hexlen)
{
    if (hexlen != 2 * n)
        return E_PROTO;
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return E_PROTO;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return E_OK;
}
