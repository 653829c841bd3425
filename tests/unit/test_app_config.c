/* test_app_config.c -- configuration: defaults, validation with one clear error, .env files, and
 * one setting changed at runtime (the admin dashboard) by the same rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/config.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *get(const char *name, void *ud)
{
    const char **kv = ud;
    for (; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static void test_defaults(void **state)
{
    const char *env[] = {NULL};
    struct config c;
    char err[ERR_LEN];
    assert_int_equal(config_load(&c, get, env, err), E_OK);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 8000);
    assert_string_equal(c.database_url, "sqlite:///routstr.db");
    assert_string_equal(c.upstream_base_url, "");
    assert_string_equal(c.cors_origins, "*");
    assert_int_equal(c.max_body_bytes, 32 << 20);
    assert_int_equal(c.max_header_bytes, 64 << 10);
    assert_int_equal(c.upstream_connect_timeout_ms, 10000);
    assert_int_equal(c.upstream_idle_timeout_ms, 300000);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_true(c.cashu_speculative);
    config_deinit(&c);
}

static void test_values_normalised(void **state)
{
    const char *env[] = {"UPSTREAM_BASE_URL", "https://api.openai.com/v1/",
                         "CASHU_MINTS", " https://mint.a/ , http://127.0.0.1:3338//",
                         "UPSTREAM_IDLE_TIMEOUT_SECONDS", "0.5",
                         "LOG_LEVEL", "WARNING",
                         "DATABASE_URL", "postgresql://u:p@127.0.0.1/db",
                         "CASHU_SPECULATIVE", "false",
                         NULL};
    struct config c;
    char err[ERR_LEN];
    assert_int_equal(config_load(&c, get, env, err), E_OK);
    assert_string_equal(c.upstream_base_url, "https://api.openai.com/v1");
    assert_string_equal(c.cashu_mints, "https://mint.a,http://127.0.0.1:3338");
    assert_int_equal(c.upstream_idle_timeout_ms, 500);
    assert_int_equal(c.log_level, LOG_WARN);
    assert_false(c.cashu_speculative);
    config_deinit(&c);
}

static void expect_bad(const char *name, const char *value, const char *needle)
{
    const char *env[] = {name, value, NULL};
    struct config c;
    char err[ERR_LEN] = "";
    assert_int_equal(config_load(&c, get, env, err), E_PROTO);
    assert_non_null(strstr(err, name));
    assert_non_null(strstr(err, needle));
}

static void test_bad_values(void **state)
{
    expect_bad("PORT", "99999", "port");
    expect_bad("PORT", "80a", "port");
    expect_bad("UPSTREAM_BASE_URL", "ftp://x", "http");
    expect_bad("UPSTREAM_BASE_URL", "http://", "http");
    expect_bad("CASHU_MINTS", "https://ok, nope", "URL");
    expect_bad("LOG_LEVEL", "loud", "debug");
    expect_bad("UPSTREAM_IDLE_TIMEOUT_SECONDS", "0", "seconds");
    expect_bad("MAX_REQUEST_BODY_BYTES", "12", "bytes");
    expect_bad("TOR_PROXY_URL", "http://127.0.0.1:9050", "socks5");
    expect_bad("HOST", "", "empty");
}

static void test_db_password_never_echoed(void **state)
{
    const char *env[] = {"DATABASE_URL", "mysql://user:s3cret@h/db", NULL};
    struct config c;
    char err[ERR_LEN] = "";
    assert_int_equal(config_load(&c, get, env, err), E_PROTO);
    assert_null(strstr(err, "s3cret"));
}

static void test_dotenv(void **state)
{
    char path[] = "/tmp/routstr-dotenv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# a comment\n"
                       "\n"
                       "export NAME=\"My Node\"\n"
                       "PORT = 9000 # trailing comment\n"
                       "DESCRIPTION='a # inside quotes'\n"
                       "PORT=9001\r\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct dotenv d;
    char err[ERR_LEN];
    assert_int_equal(dotenv_load(&d, path, true, err), E_OK);
    assert_string_equal(dotenv_get(&d, "NAME"), "My Node");
    assert_string_equal(dotenv_get(&d, "PORT"), "9001"); /* a later line wins */
    assert_string_equal(dotenv_get(&d, "DESCRIPTION"), "a # inside quotes");
    assert_null(dotenv_get(&d, "HOST"));
    dotenv_deinit(&d);

    FILE *f = fopen(path, "w");
    fputs("OK=1\nthis line is wrong\n", f);
    fclose(f);
    assert_int_equal(dotenv_load(&d, path, true, err), E_PROTO);
    assert_non_null(strstr(err, ":2:"));
    unlink(path);

    assert_int_equal(dotenv_load(&d, path, false, err), E_OK); /* missing, optional */
    assert_int_equal(d.n, 0);
    assert_int_equal(dotenv_load(&d, path, true, err), E_IO); /* missing, asked for */
}

static void test_set_at_runtime(void **state)
{
    const char *env[] = {"NAME", "env-name", "CASHU_MINTS", "http://m1", NULL};
    struct config c;
    char err[ERR_LEN], *old = NULL;
    bool changed;
    assert_int_equal(config_load(&c, get, env, err), E_OK);
    /* A string: the old allocation is handed back, the new one normalised like at start. */
    char *was = c.cashu_mints;
    assert_int_equal(config_set(&c, "CASHU_MINTS", "http://m2/ ,http://m3", &old, &changed, err),
                     E_OK);
    assert_true(changed);
    assert_ptr_equal(old, was);
    assert_string_equal(old, "http://m1");
    free(old);
    assert_string_equal(c.cashu_mints, "http://m2,http://m3");
    /* The same value again changes nothing. */
    assert_int_equal(config_set(&c, "NAME", "env-name", &old, &changed, err), E_OK);
    assert_false(changed);
    assert_null(old);
    /* Numbers and flags; their text form round-trips. */
    assert_int_equal(config_set(&c, "EXCHANGE_FEE", "1.25", &old, &changed, err), E_OK);
    assert_true(changed);
    assert_null(old);
    assert_true(c.exchange_fee == 1.25);
    char *t = config_get_text(&c, "EXCHANGE_FEE");
    assert_string_equal(t, "1.25");
    free(t);
    assert_int_equal(config_set(&c, "FIXED_PRICING", "true", &old, &changed, err), E_OK);
    assert_true(c.fixed_pricing);
    t = config_get_text(&c, "FIXED_PRICING");
    assert_string_equal(t, "true");
    free(t);
    t = config_get_text(&c, "UPSTREAM_IDLE_TIMEOUT_SECONDS");
    assert_string_equal(t, "300");
    free(t);
    assert_null(config_get_text(&c, "NO_SUCH"));
    /* A bad value: the message of the start, nothing changed. */
    assert_int_equal(config_set(&c, "HTTP_URL", "ftp://x", &old, &changed, err), E_PROTO);
    assert_non_null(strstr(err, "HTTP_URL=\"ftp://x\": must be an http"));
    assert_string_equal(c.http_url, "");
    assert_int_equal(config_set(&c, "EXCHANGE_FEE", "-1", &old, &changed, err), E_PROTO);
    assert_true(c.exchange_fee == 1.25);
    assert_int_equal(config_set(&c, "NO_SUCH", "1", &old, &changed, err), E_NOTFOUND);
    assert_int_equal(config_check("MIN_REQUEST_MSAT", "12", err), E_OK);
    assert_int_equal(config_check("MIN_REQUEST_MSAT", "1.5", err), E_PROTO);
    assert_int_equal(config_check("CASHU_MINTS", "ftp://m", err), E_PROTO);
    config_deinit(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_values_normalised),
        cmocka_unit_test(test_bad_values), cmocka_unit_test(test_db_password_never_echoed),
        cmocka_unit_test(test_dotenv),     cmocka_unit_test(test_set_at_runtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
