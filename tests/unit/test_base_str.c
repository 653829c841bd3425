/* test_base_str.c -- slices, number parsing, hex, and the capped buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

static void test_trim_and_compare(void **state)
{
    struct str s = str_trim(str_from(" \t Hello \t"));
    assert_int_equal(s.len, 5);
    assert_true(str_eq(s, "Hello"));
    assert_true(str_ieq(s, "hELLO"));
    assert_false(str_eq(s, "Hell"));
    assert_true(str_has_prefix(str_from("/v1/chat"), "/v1/"));
    assert_true(str_ihas_prefix(str_from("Bearer x"), "bearer "));
    assert_int_equal(str_trim(str_from("   ")).len, 0);
}

static void test_parse_i64(void **state)
{
    int64_t v;
    assert_int_equal(str_parse_i64("8000", 0, 65535, &v), E_OK);
    assert_int_equal(v, 8000);
    assert_int_equal(str_parse_i64("65536", 0, 65535, &v), E_PROTO);
    assert_int_equal(str_parse_i64("-1", 0, 65535, &v), E_PROTO);
    assert_int_equal(str_parse_i64("12x", 0, 100, &v), E_PROTO);
    assert_int_equal(str_parse_i64("", 0, 100, &v), E_PROTO);
    assert_int_equal(str_parse_i64("99999999999999999999", 0, INT64_MAX, &v), E_PROTO);
}

static void test_parse_seconds(void **state)
{
    int64_t ms;
    assert_int_equal(str_parse_seconds_ms("10", 100000, &ms), E_OK);
    assert_int_equal(ms, 10000);
    assert_int_equal(str_parse_seconds_ms("0.5", 100000, &ms), E_OK);
    assert_int_equal(ms, 500);
    assert_int_equal(str_parse_seconds_ms("1.25", 100000, &ms), E_OK);
    assert_int_equal(ms, 1250);
    assert_int_equal(str_parse_seconds_ms("0.0001", 100000, &ms), E_PROTO);
    assert_int_equal(str_parse_seconds_ms("-1", 100000, &ms), E_PROTO);
    assert_int_equal(str_parse_seconds_ms("1e3", 100000, &ms), E_PROTO);
    assert_int_equal(str_parse_seconds_ms("101", 100000, &ms), E_PROTO);
    assert_int_equal(str_parse_seconds_ms("99999999999999999999", 100000, &ms), E_PROTO);
}

static void test_parse_bool(void **state)
{
    bool b;
    assert_int_equal(str_parse_bool("TRUE", &b), E_OK);
    assert_true(b);
    assert_int_equal(str_parse_bool("0", &b), E_OK);
    assert_false(b);
    assert_int_equal(str_parse_bool("maybe", &b), E_PROTO);
}

static void test_hex(void **state)
{
    uint8_t in[4] = {0x00, 0xab, 0x10, 0xff}, out[4];
    char hex[9];
    hex_encode(hex, in, 4);
    assert_string_equal(hex, "00ab10ff");
    assert_int_equal(hex_decode(out, 4, "00AB10ff", 8), E_OK);
    assert_memory_equal(in, out, 4);
    assert_int_equal(hex_decode(out, 4, "00ab10f", 7), E_PROTO);
    assert_int_equal(hex_decode(out, 4, "00ab10fg", 8), E_PROTO);
}

static void test_buf_cap(void **state)
{
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_appends(&b, "12345"), E_OK);
    assert_int_equal(buf_appends(&b, "6789"), E_LIMIT); /* would pass the cap */
    assert_int_equal(b.len, 5);                         /* left as it was */
    assert_string_equal(b.p, "12345");
    assert_int_equal(buf_printf(&b, "%d", 678), E_OK);
    assert_string_equal(b.p, "12345678");
    assert_int_equal(buf_printf(&b, "x"), E_LIMIT);
    buf_consume(&b, 3);
    assert_string_equal(b.p, "45678");
    size_t n;
    char *p = buf_take(&b, &n);
    assert_int_equal(n, 5);
    assert_string_equal(p, "45678");
    assert_null(b.p);
    free(p);
    buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim_and_compare), cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_parse_seconds),    cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_hex),              cmocka_unit_test(test_buf_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
