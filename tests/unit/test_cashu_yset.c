/* test_cashu_yset.c -- the bounded set of spent Ys: what is added is found, what was never added
 * is not; past the cap the oldest generation is forgotten and the newest entries stay; adding a
 * known Y again takes no room. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cashu/bdhke.h"
#include "cashu/yset.h"

/* Y of the secret "y<i>", as the wallet computes it. */
static void y_of(uint8_t Y[33], unsigned i)
{
    char secret[32];
    int n = snprintf(secret, sizeof(secret), "y%u", i);
    assert_int_equal(cashu_hash_to_curve(Y, secret, (size_t)n), 0);
}

static void test_membership(void **state)
{
    struct cashu_yset s;
    cashu_yset_init(&s, 64);
    uint8_t Y[33];
    for (unsigned i = 0; i < 20; i++) {
        y_of(Y, i);
        cashu_yset_add(&s, Y);
    }
    for (unsigned i = 0; i < 20; i++) {
        y_of(Y, i);
        assert_true(cashu_yset_has(&s, Y));
    }
    for (unsigned i = 20; i < 200; i++) {
        y_of(Y, i);
        assert_false(cashu_yset_has(&s, Y));
    }
    y_of(Y, 3); /* same x, other parity: another point */
    Y[0] = Y[0] == 2 ? 3 : 2;
    assert_false(cashu_yset_has(&s, Y));
    cashu_yset_deinit(&s);
}

static void test_bounded(void **state)
{
    struct cashu_yset s;
    cashu_yset_init(&s, 64); /* 32 per generation */
    uint8_t Y[33];
    for (unsigned i = 0; i < 1000; i++) {
        y_of(Y, i);
        cashu_yset_add(&s, Y);
        assert_true(cashu_yset_has(&s, Y));
        assert_true(s.gen[0].n <= 32 && s.gen[1].n <= 32);
    }
    for (unsigned i = 1000 - 32; i < 1000; i++) { /* at least the last half of the cap stays */
        y_of(Y, i);
        assert_true(cashu_yset_has(&s, Y));
    }
    for (unsigned i = 0; i < 1000 - 64; i++) { /* beyond the cap: forgotten */
        y_of(Y, i);
        assert_false(cashu_yset_has(&s, Y));
    }
    cashu_yset_deinit(&s);
}

static void test_duplicates(void **state)
{
    struct cashu_yset s;
    cashu_yset_init(&s, 8);
    uint8_t Y[33];
    y_of(Y, 7);
    for (int i = 0; i < 100; i++)
        cashu_yset_add(&s, Y);
    assert_int_equal(s.gen[0].n + s.gen[1].n, 1);
    assert_true(cashu_yset_has(&s, Y));
    cashu_yset_deinit(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_duplicates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
