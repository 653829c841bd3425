/* vectors.h -- reading the spec test vectors of tests/vectors/ from a cmocka test.
 *
 * Unit tests run from the repository root, so vectors are found at tests/vectors/<file>;
 * ROUTSTR_VECTORS_DIR overrides that directory (it replaces "tests/vectors"). A file that is
 * missing or does not parse fails the test: a vector is never skipped silently. Include after
 * <cmocka.h>. Header-only: each test binary is one translation unit. */
#ifndef ROUTSTR_TESTS_VECTORS_H
#define ROUTSTR_TESTS_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/str.h"

/* Loads tests/vectors/<rel> ("cashu/nut00-crypto.json"); the caller json_decref()s it. */
static inline json_t *vectors_load(const char *rel)
{
    const char *dir = getenv("ROUTSTR_VECTORS_DIR");
    char path[1024];
    json_error_t err;
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/vectors", rel);
    json_t *j = json_load_file(path, 0, &err);
    if (j == NULL)
        fail_msg("cannot load vector file %s: %s (line %d)", path, err.text, err.line);
    return j;
}

/* Walks a path of object keys, failing the test if a step is missing. */
static inline json_t *vget(const json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (v == NULL)
        fail_msg("vector field \"%s\" missing", key);
    return v;
}

static inline const char *vstr(const json_t *j, const char *key)
{
    json_t *v = vget(j, key);
    if (!json_is_string(v))
        fail_msg("vector field \"%s\" is not a string", key);
    return json_string_value(v);
}

/* Decodes the hex string j[key] into exactly n bytes. */
static inline void vhex(uint8_t *out, size_t n, const json_t *j, const char *key)
{
    const char *s = vstr(j, key);
    if (hex_decode(out, n, s, strlen(s)) != 0)
        fail_msg("vector field \"%s\" is not %zu bytes of hex: %s", key, n, s);
}

/* The same for a string that is itself an array element. */
static inline void vhex_at(uint8_t *out, size_t n, const json_t *arr, size_t i)
{
    const char *s = json_string_value(json_array_get(arr, i));
    if (s == NULL || hex_decode(out, n, s, strlen(s)) != 0)
        fail_msg("vector element %zu is not %zu bytes of hex", i, n);
}

/* Asserts that n bytes equal the hex string 'want'. */
#define assert_hex_equal(bytes, n, want)                                                      \
    do {                                                                                      \
        char hex_[2 * (n) + 1];                                                               \
        hex_encode(hex_, (bytes), (n));                                                       \
        assert_string_equal(hex_, (want));                                                    \
    } while (0)

#endif
