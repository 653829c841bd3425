/* admin_pass.c -- the admin password's scrypt hash, session tokens, and masks.
 *
 * A hash is stored as "scrypt$N$r$p$salt$hash" with the salt (16 bytes) and the hash (32 bytes)
 * in standard base64, so a later cost can be chosen without breaking older hashes. Verifying
 * parses every field strictly, refuses costs beyond crypto_scrypt's bounds (a tampered row
 * cannot make us allocate gigabytes), and compares in constant time. */
#include "app/admin_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"

#define SALT_LEN 16
#define HASH_LEN 32

int admin_password_hash(char **out, const char *password, uint64_t n, uint64_t r, uint64_t p)
{
    uint8_t salt[SALT_LEN], hash[HASH_LEN];
    if (crypto_random(salt, sizeof(salt)) != 0)
        return E_IO;
    if (crypto_scrypt(hash, sizeof(hash), password, strlen(password), salt, sizeof(salt), n, r,
                      p) != 0)
        return E_PROTO;
    char salt_b64[32], hash_b64[48];
    b64_encode(salt_b64, salt, sizeof(salt));
    b64_encode(hash_b64, hash, sizeof(hash));
    *out = xasprintf("scrypt$%llu$%llu$%llu$%s$%s", (unsigned long long)n, (unsigned long long)r,
                     (unsigned long long)p, salt_b64, hash_b64);
    secure_zero(hash, sizeof(hash));
    return E_OK;
}

/* The next '$'-separated field of *p as a string slice; *p moves past it. */
static struct str field(const char **p)
{
    const char *end = strchr(*p, '$');
    struct str s = {*p, end ? (size_t)(end - *p) : strlen(*p)};
    *p = end ? end + 1 : *p + s.len;
    return s;
}

static bool field_u64(struct str s, uint64_t max, uint64_t *out)
{
    char tmp[24];
    int64_t v;
    if (s.len == 0 || s.len >= sizeof(tmp))
        return false;
    memcpy(tmp, s.p, s.len);
    tmp[s.len] = '\0';
    if (str_parse_i64(tmp, 1, (int64_t)max, &v) != E_OK)
        return false;
    *out = (uint64_t)v;
    return true;
}

bool admin_password_verify(const char *encoded, const char *password)
{
    if (encoded == NULL || password == NULL || strncmp(encoded, "scrypt$", 7) != 0)
        return false;
    const char *p = encoded + 7;
    struct str fn = field(&p), fr = field(&p), fp = field(&p), fsalt = field(&p),
               fhash = field(&p);
    uint64_t n, r, par;
    uint8_t salt[64], want[64], got[64];
    size_t salt_len, hash_len;
    if (*p != '\0' || !field_u64(fn, 1u << 20, &n) || !field_u64(fr, 64, &r) ||
        !field_u64(fp, 64, &par) ||
        b64_decode(salt, sizeof(salt), &salt_len, fsalt.p, fsalt.len) != E_OK || salt_len < 8 ||
        b64_decode(want, sizeof(want), &hash_len, fhash.p, fhash.len) != E_OK || hash_len < 16)
        return false;
    if (crypto_scrypt(got, hash_len, password, strlen(password), salt, salt_len, n, r, par) != 0)
        return false;
    bool ok = ct_memeq(got, want, hash_len);
    secure_zero(got, sizeof(got));
    return ok;
}

int admin_password_generate(char out[25])
{
    uint8_t b[18];
    if (crypto_random(b, sizeof(b)) != 0)
        return E_IO;
    b64url_encode(out, b, sizeof(b), false);
    secure_zero(b, sizeof(b));
    return E_OK;
}

void admin_mask(char *out, size_t cap, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n == 0)
        snprintf(out, cap, "%s", "");
    else if (n <= 12)
        snprintf(out, cap, "%s", "****");
    else
        snprintf(out, cap, "%.3s\xe2\x80\xa6%s", secret, secret + n - 4);
}

void admin_token_hash(const char *token, char hash[65])
{
    uint8_t h[32];
    crypto_sha256(h, token, strlen(token));
    hex_encode(hash, h, sizeof(h));
}

int admin_token_new(char token[44], char hash[65])
{
    uint8_t b[32];
    if (crypto_random(b, sizeof(b)) != 0)
        return E_IO;
    b64url_encode(token, b, sizeof(b), false);
    secure_zero(b, sizeof(b));
    admin_token_hash(token, hash);
    return E_OK;
}
