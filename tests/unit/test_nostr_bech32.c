/* test_nostr_bech32.c -- bech32 and NIP-19 (nostr/bech32.h): the valid and invalid strings of
 * BIP-173, NIP-19's own npub/nsec example, round trips of random keys and byte strings, and the
 * strictness rules (mixed case, padding, prefix, checksum). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "nostr/bech32.h"

static int decode(const char *s, char hrp[100], uint8_t out[100], size_t *n)
{
    return nostr_bech32_decode(hrp, 100, out, 100, n, s, strlen(s));
}

static void test_bip173_valid(void **state)
{
    static const char *const valid[] = {
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char hrp[100];
        uint8_t data[100];
        size_t n = 0;
        int rc = decode(valid[i], hrp, data, &n);
        if (rc != E_OK)
            fail_msg("%s: %s", valid[i], err_name(rc));
        /* Re-encoding gives the same string in lower case. */
        char again[100], want[100];
        assert_true(nostr_bech32_encode(again, sizeof again, hrp, data, n) > 0);
        size_t len = strlen(valid[i]);
        for (size_t j = 0; j <= len; j++)
            want[j] = (valid[i][j] >= 'A' && valid[i][j] <= 'Z') ? (char)(valid[i][j] + 32)
                                                                  : valid[i][j];
        assert_string_equal(again, want);
    }
}

static void test_bip173_invalid(void **state)
{
    static const char *const invalid[] = {
        "\x20" "1nwldj5",   /* HRP character out of range */
        "\x7f" "1axkwrx",
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "pzry9x0s0muk",     /* no separator */
        "1pzry9x0s0muk",    /* empty HRP */
        "x1b4n0q5v",        /* invalid data character */
        "li1dgmt3",         /* too short checksum */
        "de1lg7wt\xff",     /* invalid character in checksum */
        "A1G7SGD8",         /* checksum calculated with upper-case HRP */
        "10a06t8",          /* empty HRP */
        "1qzzfhee",         /* empty HRP */
        "a12UEL5L",         /* mixed case */
        "a12uel5m",         /* checksum */
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        char hrp[100];
        uint8_t data[100];
        size_t n = 0;
        if (decode(invalid[i], hrp, data, &n) == E_OK)
            fail_msg("accepted invalid bech32 #%zu", i);
    }
}

static void test_nip19_example(void **state)
{
    uint8_t k[32];
    char s[NOSTR_NPUB_LEN + 1];
    const char *npub = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg";
    const char *nsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5";
    assert_int_equal(nostr_npub_decode(k, npub, strlen(npub)), E_OK);
    char hex[65];
    hex_encode(hex, k, 32);
    assert_string_equal(hex, "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e");
    nostr_npub_encode(s, k);
    assert_string_equal(s, npub);
    assert_int_equal(nostr_nsec_decode(k, nsec, strlen(nsec)), E_OK);
    hex_encode(hex, k, 32);
    assert_string_equal(hex, "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa");
    nostr_nsec_encode(s, k);
    assert_string_equal(s, nsec);
    secure_zero(k, sizeof k);
    /* The wrong prefix for the call, a flipped character, a truncation. */
    assert_int_equal(nostr_npub_decode(k, nsec, strlen(nsec)), E_PROTO);
    assert_int_equal(nostr_nsec_decode(k, npub, strlen(npub)), E_PROTO);
    char bad[NOSTR_NPUB_LEN + 1];
    memcpy(bad, npub, sizeof bad);
    bad[20] = bad[20] == 'q' ? 'p' : 'q';
    assert_int_equal(nostr_npub_decode(k, bad, strlen(bad)), E_PROTO);
    assert_int_equal(nostr_npub_decode(k, npub, strlen(npub) - 1), E_PROTO);
}

static void test_round_trips(void **state)
{
    for (int i = 0; i < 200; i++) {
        uint8_t k[32], back[32];
        char s[NOSTR_NPUB_LEN + 1];
        assert_int_equal(crypto_random(k, sizeof k), 0);
        nostr_npub_encode(s, k);
        assert_int_equal(strlen(s), NOSTR_NPUB_LEN);
        assert_int_equal(nostr_npub_decode(back, s, strlen(s)), E_OK);
        assert_memory_equal(k, back, 32);
        nostr_nsec_encode(s, k);
        assert_int_equal(nostr_nsec_decode(back, s, strlen(s)), E_OK);
        assert_memory_equal(k, back, 32);
    }
    /* Any length from 0 to 40 bytes round-trips through the generic coder. */
    for (size_t n = 0; n <= 40; n++) {
        uint8_t p[40], out[100];
        char s[100], hrp[100];
        size_t got = 99;
        assert_int_equal(crypto_random(p, n), 0);
        int len = nostr_bech32_encode(s, sizeof s, "test", p, n);
        assert_true(len > 0);
        assert_int_equal(nostr_bech32_decode(hrp, sizeof hrp, out, sizeof out, &got, s, (size_t)len), E_OK);
        assert_string_equal(hrp, "test");
        assert_int_equal(got, n);
        assert_memory_equal(out, p, n);
    }
    /* Caps: the output buffer, the 90-character limit. */
    char small[10];
    uint8_t p[60] = {0};
    assert_int_equal(nostr_bech32_encode(small, sizeof small, "npub", p, 32), E_LIMIT);
    char big[200];
    assert_int_equal(nostr_bech32_encode(big, sizeof big, "npub", p, 60), E_LIMIT);
}

static void test_nonzero_padding(void **state)
{
    /* 32 bytes are 256 bits: 52 groups carry 260, so the last group holds 4 bits of padding,
     * which must be zero. These strings have valid checksums (computed with BIP-173's reference
     * code): all-zero key; the same with a padding bit set; 53 groups (a 33rd byte). */
    static const char zero[] = "npub1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqzqujme";
    static const char padded[] = "npub1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqplkg8xt";
    static const char longer[] = "npub1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnenctv";
    uint8_t k[32];
    char s[NOSTR_NPUB_LEN + 1];
    memset(k, 0xff, sizeof k);
    assert_int_equal(nostr_npub_decode(k, zero, strlen(zero)), E_OK);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k[i], 0);
    nostr_npub_encode(s, k);
    assert_string_equal(s, zero);
    assert_int_equal(nostr_npub_decode(k, padded, strlen(padded)), E_PROTO);
    assert_int_equal(nostr_npub_decode(k, longer, strlen(longer)), E_PROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip173_valid),
        cmocka_unit_test(test_bip173_invalid),
        cmocka_unit_test(test_nip19_example),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_nonzero_padding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
