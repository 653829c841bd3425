/* test_app_admin_pass.c -- the admin password's scrypt hash (RFC 7914 vectors, encode and
 * verify, malformed and tampered encodings refused), generated passwords and session tokens,
 * and the mask that is all a stored secret ever shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/admin_int.h"
#include "base/str.h"
#include "crypto/crypto.h"

static void check_vector(const char *pass, const char *salt, uint64_t n, uint64_t r, uint64_t p,
                         const char *want_hex)
{
    uint8_t out[64];
    char hex[129];
    assert_int_equal(crypto_scrypt(out, 64, pass, strlen(pass), salt, strlen(salt), n, r, p), 0);
    hex_encode(hex, out, 64);
    assert_string_equal(hex, want_hex);
}

/* RFC 7914 §12, the first two vectors. */
static void test_scrypt_vectors(void **state)
{
    check_vector("", "", 16, 1, 1,
                 "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                 "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
    check_vector("password", "NaCl", 1024, 8, 16,
                 "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                 "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

static void test_scrypt_bounds(void **state)
{
    uint8_t out[32];
    assert_int_equal(crypto_scrypt(out, 32, "p", 1, "s", 1, 1000, 8, 1), E_PROTO); /* not 2^k */
    assert_int_equal(crypto_scrypt(out, 32, "p", 1, "s", 1, 1u << 21, 8, 1), E_PROTO);
    assert_int_equal(crypto_scrypt(out, 32, "p", 1, "s", 1, 1024, 0, 1), E_PROTO);
    assert_int_equal(crypto_scrypt(out, 32, "p", 1, "s", 1, 1024, 8, 65), E_PROTO);
}

static void test_hash_and_verify(void **state)
{
    char *h = NULL;
    assert_int_equal(admin_password_hash(&h, "correct horse", 1024, 8, 1), 0);
    assert_true(strncmp(h, "scrypt$1024$8$1$", 16) == 0);
    assert_true(admin_password_verify(h, "correct horse"));
    assert_false(admin_password_verify(h, "correct horsE"));
    assert_false(admin_password_verify(h, ""));
    assert_false(admin_password_verify(h, NULL));
    /* A fresh salt each time: two hashes of one password differ, and both verify. */
    char *h2 = NULL;
    assert_int_equal(admin_password_hash(&h2, "correct horse", 1024, 8, 1), 0);
    assert_string_not_equal(h, h2);
    assert_true(admin_password_verify(h2, "correct horse"));
    /* The default cost works as well. */
    char *h3 = NULL;
    assert_int_equal(admin_password_hash(&h3, "x", ADMIN_SCRYPT_N, ADMIN_SCRYPT_R, ADMIN_SCRYPT_P),
                     0);
    assert_true(admin_password_verify(h3, "x"));
    free(h);
    free(h2);
    free(h3);
}

static void test_malformed_never_verify(void **state)
{
    char *h = NULL;
    assert_int_equal(admin_password_hash(&h, "pw", 1024, 8, 1), 0);
    const char *salt = h + strlen("scrypt$1024$8$1$");
    const char *hash = strchr(salt, '$') + 1;
    char bad[256];
    const char *cases[] = {"", "scrypt$", "bcrypt$1024$8$1$AAAA$AAAA", NULL, NULL, NULL, NULL,
                           NULL, NULL};
    size_t n = 3;
    /* Extra field, a cost that is not a power of two, one too large to compute, r = 0. */
    snprintf(bad, sizeof(bad), "%s$x", h);
    cases[n++] = strdup(bad);
    snprintf(bad, sizeof(bad), "scrypt$1000$8$1$%.*s$%s", (int)(hash - salt - 1), salt, hash);
    cases[n++] = strdup(bad);
    snprintf(bad, sizeof(bad), "scrypt$4194304$8$1$%.*s$%s", (int)(hash - salt - 1), salt, hash);
    cases[n++] = strdup(bad);
    snprintf(bad, sizeof(bad), "scrypt$1024$0$1$%.*s$%s", (int)(hash - salt - 1), salt, hash);
    cases[n++] = strdup(bad);
    /* Not base64; a tampered hash (one character changed). */
    snprintf(bad, sizeof(bad), "scrypt$1024$8$1$%.*s$%s", (int)(hash - salt - 1), salt, "!!!");
    cases[n++] = strdup(bad);
    snprintf(bad, sizeof(bad), "%s", h);
    bad[strlen(bad) - 10] = bad[strlen(bad) - 10] == 'A' ? 'B' : 'A';
    cases[n++] = strdup(bad);
    for (size_t i = 0; i < n; i++) {
        assert_false(admin_password_verify(cases[i], "pw"));
        if (i >= 3)
            free((char *)cases[i]);
    }
    assert_true(admin_password_verify(h, "pw"));
    free(h);
}

static void test_generated_password_and_token(void **state)
{
    char a[25], b[25];
    assert_int_equal(admin_password_generate(a), 0);
    assert_int_equal(admin_password_generate(b), 0);
    assert_int_equal(strlen(a), 24);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     24);
    assert_string_not_equal(a, b);
    char t[44], h[65], again[65];
    assert_int_equal(admin_token_new(t, h), 0);
    assert_int_equal(strlen(t), 43);
    admin_token_hash(t, again);
    assert_string_equal(h, again);
    uint8_t d[32];
    char hex[65];
    crypto_sha256(d, t, strlen(t));
    hex_encode(hex, d, 32);
    assert_string_equal(h, hex);
}

static void test_mask(void **state)
{
    char m[64];
    admin_mask(m, sizeof(m), "");
    assert_string_equal(m, "");
    admin_mask(m, sizeof(m), NULL);
    assert_string_equal(m, "");
    admin_mask(m, sizeof(m), "short");
    assert_string_equal(m, "****");
    admin_mask(m, sizeof(m), "exactly12chr");
    assert_string_equal(m, "****");
    admin_mask(m, sizeof(m), "sk-0123456789abcd");
    assert_string_equal(m, "sk-\xe2\x80\xa6" "abcd");
    /* Nothing between the ends leaks, however long the key. */
    admin_mask(m, sizeof(m), "sk-live-SECRET-SECRET-SECRET-9876");
    assert_null(strstr(m, "SECRET"));
    assert_string_equal(m, "sk-\xe2\x80\xa6" "9876");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrypt_vectors),
        cmocka_unit_test(test_scrypt_bounds),
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_malformed_never_verify),
        cmocka_unit_test(test_generated_password_and_token),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
