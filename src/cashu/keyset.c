/* keyset.c -- NUT-01 keyset parsing, NUT-02 IDs (v1 and v2), short-ID resolution and fees.
 *
 * A keyset enters through cashu_keyset_parse() from the mint's JSON; its keys are checked one by
 * one (33-byte compressed points on the curve, amounts as strict decimal strings, since NUT-01
 * amounts reach 2^63 and JSON numbers would lose them) and kept sorted by amount, which is the
 * order both ID versions hash in. The stated ID is then recomputed and compared, so a keyset we
 * hold always matches its keys. */
#include "cashu/keyset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/cashu_int.h"
#include "crypto/crypto.h"

#define SHORT_ID_HEX 16 /* 8 bytes: a v1 id, or the short form of a v2 id */

/* A NUT-01 amount: decimal digits, no sign, no leading zero, 1..UINT64_MAX. */
static int parse_amount(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (s[0] < '1' || s[0] > '9')
        return E_PROTO;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return E_PROTO;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return E_PROTO;
    }
    *out = v;
    return E_OK;
}

static int by_amount(const void *a, const void *b)
{
    const struct cashu_key *x = a, *y = b;
    return x->amount < y->amount ? -1 : x->amount > y->amount;
}

int cashu_keyset_parse_keys(struct cashu_keyset *ks, const json_t *keys)
{
    if (!json_is_object(keys) || json_object_size(keys) == 0)
        return E_PROTO;
    size_t n = json_object_size(keys);
    if (n > CASHU_KEYSET_MAX_KEYS)
        return E_LIMIT;

    struct cashu_key *k = xcalloc(n, sizeof *k);
    const char *amount;
    const json_t *v;
    size_t i = 0;
    int rc = E_OK;
    json_object_foreach((json_t *)keys, amount, v) {
        secp256k1_pubkey P;
        if (!json_is_string(v) || parse_amount(amount, &k[i].amount) != E_OK ||
            hex_decode(k[i].K, 33, json_string_value(v), json_string_length(v)) != E_OK ||
            !cashu_point_parse(&P, k[i].K)) {
            rc = E_PROTO;
            break;
        }
        i++;
    }
    if (rc == E_OK) {
        qsort(k, n, sizeof *k, by_amount);
        for (i = 1; i < n; i++) {
            if (k[i].amount == k[i - 1].amount)
                rc = E_PROTO;
        }
    }
    if (rc != E_OK) {
        free(k);
        return rc;
    }
    free(ks->keys);
    ks->keys = k;
    ks->n_keys = n;
    return E_OK;
}

/* An optional non-negative integer: absent or null gives 0. */
static int opt_uint(const json_t *obj, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return E_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return E_PROTO;
    *out = (uint64_t)json_integer_value(v);
    return E_OK;
}

int cashu_keyset_parse(struct cashu_keyset *ks, const json_t *obj)
{
    struct cashu_keyset k = {0};
    const json_t *id = json_object_get(obj, "id"), *unit = json_object_get(obj, "unit");
    const json_t *active = json_object_get(obj, "active"), *keys = json_object_get(obj, "keys");
    int rc = E_PROTO;
    if (!json_is_object(obj) || !json_is_string(id) || !json_is_string(unit))
        return E_PROTO;
    if (cashu_id_from_hex(k.id, json_string_value(id), json_string_length(id)) != E_OK)
        return E_PROTO;
    size_t unit_len = json_string_length(unit);
    if (unit_len == 0 || (rc = cashu_check_text(json_string_value(unit), unit_len,
                                                CASHU_MAX_UNIT_LEN)) != E_OK)
        return unit_len == 0 ? E_PROTO : rc;
    memcpy(k.unit, json_string_value(unit), unit_len + 1);
    if (active != NULL && !json_is_boolean(active))
        return E_PROTO;
    k.active = json_is_true(active);
    if ((rc = opt_uint(obj, "input_fee_ppk", &k.input_fee_ppk)) != E_OK ||
        (rc = opt_uint(obj, "final_expiry", &k.final_expiry)) != E_OK)
        return rc;
    if (keys != NULL && !json_is_null(keys)) {
        if ((rc = cashu_keyset_parse_keys(&k, keys)) == E_OK)
            rc = cashu_keyset_verify_id(&k);
        if (rc != E_OK) {
            cashu_keyset_deinit(&k);
            return rc;
        }
    }
    *ks = k;
    return E_OK;
}

void cashu_keyset_deinit(struct cashu_keyset *ks)
{
    free(ks->keys);
    memset(ks, 0, sizeof *ks);
}

int cashu_keyset_id_v1(char out[17], const struct cashu_keyset *ks)
{
    struct crypto_sha256_ctx h;
    uint8_t digest[32];
    if (ks->n_keys == 0)
        return E_PROTO;
    crypto_sha256_init(&h);
    for (size_t i = 0; i < ks->n_keys; i++)
        crypto_sha256_update(&h, ks->keys[i].K, 33);
    crypto_sha256_final(&h, digest);
    out[0] = '0';
    out[1] = '0';
    hex_encode(out + 2, digest, 7);
    return E_OK;
}

int cashu_keyset_id_v2(char out[67], const struct cashu_keyset *ks)
{
    struct crypto_sha256_ctx h;
    uint8_t digest[32];
    char part[64];
    if (ks->n_keys == 0)
        return E_PROTO;
    /* NUT-02: "amount:key,..." ascending, then "|unit:u", then "|input_fee_ppk:n" and
     * "|final_expiry:t" each only when non-zero. */
    crypto_sha256_init(&h);
    for (size_t i = 0; i < ks->n_keys; i++) {
        char hex[67];
        int n = snprintf(part, sizeof part, "%s%" PRIu64 ":", i ? "," : "", ks->keys[i].amount);
        hex_encode(hex, ks->keys[i].K, 33);
        crypto_sha256_update(&h, part, (size_t)n);
        crypto_sha256_update(&h, hex, 66);
    }
    crypto_sha256_update(&h, "|unit:", 6);
    crypto_sha256_update(&h, ks->unit, strlen(ks->unit));
    if (ks->input_fee_ppk != 0) {
        int n = snprintf(part, sizeof part, "|input_fee_ppk:%" PRIu64, ks->input_fee_ppk);
        crypto_sha256_update(&h, part, (size_t)n);
    }
    if (ks->final_expiry != 0) {
        int n = snprintf(part, sizeof part, "|final_expiry:%" PRIu64, ks->final_expiry);
        crypto_sha256_update(&h, part, (size_t)n);
    }
    crypto_sha256_final(&h, digest);
    out[0] = '0';
    out[1] = '1';
    hex_encode(out + 2, digest, 32);
    return E_OK;
}

int cashu_keyset_verify_id(const struct cashu_keyset *ks)
{
    char want[67];
    size_t n = strlen(ks->id);
    int rc;
    if (n == 16 && strncmp(ks->id, "00", 2) == 0)
        rc = cashu_keyset_id_v1(want, ks);
    else if (n == 66 && strncmp(ks->id, "01", 2) == 0)
        rc = cashu_keyset_id_v2(want, ks);
    else
        return E_PROTO;
    if (rc != E_OK)
        return rc;
    return strcasecmp(want, ks->id) == 0 ? E_OK : E_PROTO;
}

const uint8_t *cashu_keyset_key(const struct cashu_keyset *ks, uint64_t amount)
{
    size_t lo = 0, hi = ks->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ks->keys[mid].amount == amount)
            return ks->keys[mid].K;
        if (ks->keys[mid].amount < amount)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Does token id 'id' (len n) name the keyset with full id 'full'? */
static bool names(const char *full, const char *id, size_t n)
{
    size_t m = strlen(full);
    if (n == m)
        return strcasecmp(full, id) == 0;
    return n == SHORT_ID_HEX && m > n && strncasecmp(full, id, n) == 0;
}

int cashu_keyset_resolve(const struct cashu_keyset *sets, size_t n_sets, size_t *idx,
                         const char *id)
{
    size_t n = strlen(id), found = 0, at = 0;
    for (size_t i = 0; i < n_sets; i++) {
        if (names(sets[i].id, id, n)) {
            found++;
            at = i;
        }
    }
    if (found == 0)
        return E_NOTFOUND;
    if (found > 1)
        return E_CONFLICT;
    *idx = at;
    return E_OK;
}

int cashu_keyset_check_new(const struct cashu_keyset *sets, size_t n_sets,
                           const struct cashu_keyset *ks)
{
    for (size_t i = 0; i < n_sets; i++) {
        if (strcasecmp(sets[i].id, ks->id) == 0)
            continue;
        if (strncasecmp(sets[i].id, ks->id, SHORT_ID_HEX) == 0)
            return E_CONFLICT;
    }
    return E_OK;
}

int cashu_fee(uint64_t *fee, const uint64_t *ppk, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (__builtin_add_overflow(sum, ppk[i], &sum))
            return E_LIMIT;
    }
    *fee = sum / 1000 + (sum % 1000 != 0);
    return E_OK;
}

int cashu_fee_for_proofs(const struct cashu_keyset *sets, size_t n_sets, uint64_t *fee,
                         const struct cashu_proof *proofs, size_t n_proofs)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n_proofs; i++) {
        size_t k;
        int rc = cashu_keyset_resolve(sets, n_sets, &k, proofs[i].id);
        if (rc != E_OK)
            return rc;
        if (__builtin_add_overflow(sum, sets[k].input_fee_ppk, &sum))
            return E_LIMIT;
    }
    return cashu_fee(fee, &sum, 1);
}
