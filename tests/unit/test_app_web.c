/* test_app_web.c -- which URL paths under /admin/ may reach the file system, and as what type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "app/app.h"
#include "app/web.h"

/* web.o replies through request.c, which calls main.c's hook; no server runs here. */
void app_maybe_exit(struct app *a)
{
}

static const char *type_of(const char *rest)
{
    return web_path_type(rest, strlen(rest));
}

static void test_known_types(void **state)
{
    assert_string_equal(type_of("index.html"), "text/html; charset=utf-8");
    assert_string_equal(type_of("app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(type_of("style.css"), "text/css; charset=utf-8");
    assert_string_equal(type_of("vendor/qrcode.js"), "text/javascript; charset=utf-8");
    assert_string_equal(type_of("favicon.svg"), "image/svg+xml");
    assert_string_equal(type_of("a-b_c.1.min.js"), "text/javascript; charset=utf-8");
    /* Only the last extension counts. */
    assert_string_equal(type_of("x.js.html"), "text/html; charset=utf-8");
}

static void test_refused(void **state)
{
    static const char *bad[] = {
        "", "..", "../x.js", "a/../b.js", "./a.js", ".hidden.js", "vendor/.x.js", "a//b.js",
        "/etc/passwd.txt", "app.js/", "vendor/", "vendor", "app", "app.exe", ".js", "vendor/.js",
        "app%2ejs", "a b.js", "a\\b.js", "a?.js", "caf\xc3\xa9.js", "app.JS", "app.js\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (web_path_type(bad[i], strlen(bad[i])) != NULL)
            fail_msg("'%s' must be refused", bad[i]);
    }
    /* A NUL inside the given length is a character like any other: refused. */
    assert_null(web_path_type("app.js\0.html", 12));
}

static void test_length_cap(void **state)
{
    char p[260];
    memset(p, 'a', sizeof(p));
    memcpy(p + 197, ".js", 3); /* 200 bytes: the most */
    assert_non_null(web_path_type(p, 200));
    memcpy(p + 198, ".js", 3); /* 201 bytes */
    assert_null(web_path_type(p, 201));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_types),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_length_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
