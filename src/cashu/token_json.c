/* token_json.c -- the V3 token's JSON (NUT-00 "cashuA"), read and written with jansson.
 *
 *   {"token":[{"mint":"https://…","proofs":[Proof,…]},…],"unit":"sat","memo":"…"}
 *   Proof = {"amount":int,"id":hex,"secret":str,"C":hex33,"dleq"?:{"e","s","r"},"witness"?:str}
 *
 * A V3 token may list several entries; we accept several only for one mint (after URL
 * normalization) and merge their proofs, since a payment is redeemed at one mint (cashu.md §2).
 * Unknown keys are ignored; duplicate keys are refused (jansson's JSON_REJECT_DUPLICATES), so
 * no two readers can disagree on which value counts. JSON null stands for an absent optional
 * field. jansson holds integers as int64: a V3 amount above INT64_MAX is refused as E_PROTO,
 * V4 carries the full uint64 range. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "cashu/cashu_int.h"
#include "crypto/crypto.h"

static int get_string(const json_t *obj, const char *key, const char **p, size_t *n, bool required)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *p = NULL;
        *n = 0;
        return required ? E_PROTO : E_OK;
    }
    if (!json_is_string(v))
        return E_PROTO;
    *p = json_string_value(v);
    *n = json_string_length(v);
    return E_OK;
}

static int get_hex32(const json_t *obj, const char *key, uint8_t out[32])
{
    const char *p;
    size_t n;
    int rc = get_string(obj, key, &p, &n, true);
    if (rc != E_OK)
        return rc;
    return hex_decode(out, 32, p, n);
}

static int parse_dleq(struct cashu_proof *p, const json_t *d)
{
    if (d == NULL || json_is_null(d))
        return E_OK;
    if (!json_is_object(d))
        return E_PROTO;
    int rc;
    if ((rc = get_hex32(d, "e", p->dleq.e)) != E_OK || (rc = get_hex32(d, "s", p->dleq.s)) != E_OK)
        return rc;
    const json_t *r = json_object_get(d, "r");
    if (r != NULL && !json_is_null(r)) {
        if ((rc = get_hex32(d, "r", p->dleq.r)) != E_OK)
            return rc;
        p->dleq.has_r = true;
    }
    p->has_dleq = true;
    return E_OK;
}

static int parse_proof(struct cashu_token *t, const json_t *o)
{
    struct cashu_proof *p;
    const char *s;
    size_t n;
    int rc;
    if (!json_is_object(o))
        return E_PROTO;
    if ((rc = cashu_token_push(t, &p)) != E_OK)
        return rc;

    const json_t *amount = json_object_get(o, "amount");
    if (!json_is_integer(amount) || json_integer_value(amount) < 0)
        return E_PROTO;
    p->amount = (uint64_t)json_integer_value(amount);

    if ((rc = get_string(o, "id", &s, &n, true)) != E_OK ||
        (rc = cashu_id_from_hex(p->id, s, n)) != E_OK)
        return rc;
    if ((rc = get_string(o, "secret", &s, &n, true)) != E_OK ||
        (rc = cashu_proof_set_secret(p, s, n)) != E_OK)
        return rc;

    uint8_t C[33];
    if ((rc = get_string(o, "C", &s, &n, true)) != E_OK || (rc = hex_decode(C, 33, s, n)) != E_OK ||
        (rc = cashu_proof_set_C(p, C, 33)) != E_OK)
        return rc;

    if ((rc = parse_dleq(p, json_object_get(o, "dleq"))) != E_OK)
        return rc;
    if ((rc = get_string(o, "witness", &s, &n, false)) != E_OK)
        return rc;
    if (s != NULL && (rc = cashu_proof_set_witness(p, s, n)) != E_OK)
        return rc;
    return E_OK;
}

static int parse_entry(struct cashu_token *t, const json_t *e)
{
    const char *s;
    size_t n;
    int rc;
    if (!json_is_object(e))
        return E_PROTO;
    if ((rc = get_string(e, "mint", &s, &n, true)) != E_OK)
        return rc;
    char *prev = t->mint;
    t->mint = NULL;
    rc = cashu_token_set_mint(t, s, n);
    if (rc == E_OK && prev != NULL && strcmp(prev, t->mint) != 0)
        rc = E_PROTO; /* several mints in one token */
    free(prev);
    if (rc != E_OK)
        return rc;

    const json_t *proofs = json_object_get(e, "proofs");
    if (!json_is_array(proofs))
        return E_PROTO;
    size_t i;
    const json_t *o;
    json_array_foreach(proofs, i, o) {
        if ((rc = parse_proof(t, o)) != E_OK)
            return rc;
    }
    return E_OK;
}

int cashu_token_json_decode(struct cashu_token *t, const uint8_t *bytes, size_t n)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes, n, JSON_REJECT_DUPLICATES, &jerr);
    const char *s;
    size_t len;
    int rc = E_PROTO;
    if (root == NULL || !json_is_object(root))
        goto out;

    const json_t *entries = json_object_get(root, "token");
    if (!json_is_array(entries) || json_array_size(entries) == 0)
        goto out;
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e) {
        if ((rc = parse_entry(t, e)) != E_OK)
            goto out;
    }
    if ((rc = get_string(root, "unit", &s, &len, false)) != E_OK)
        goto out;
    if (s != NULL && (rc = cashu_token_set_unit(t, s, len)) != E_OK)
        goto out;
    if ((rc = get_string(root, "memo", &s, &len, false)) != E_OK)
        goto out;
    if (s != NULL && (rc = cashu_token_set_memo(t, s, len)) != E_OK)
        goto out;
    rc = E_OK;
out:
    json_decref(root);
    return rc;
}

/* --- encoding --- */

static json_t *hex_string(const uint8_t *p, size_t n)
{
    char hex[2 * 33 + 1];
    hex_encode(hex, p, n);
    return json_stringn(hex, 2 * n);
}

static json_t *proof_json(const struct cashu_proof *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "amount", json_integer((json_int_t)p->amount));
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "secret", json_string(p->secret));
    json_object_set_new(o, "C", hex_string(p->C, 33));
    if (p->has_dleq) {
        json_t *d = json_object();
        json_object_set_new(d, "e", hex_string(p->dleq.e, 32));
        json_object_set_new(d, "s", hex_string(p->dleq.s, 32));
        if (p->dleq.has_r)
            json_object_set_new(d, "r", hex_string(p->dleq.r, 32));
        json_object_set_new(o, "dleq", d);
    }
    if (p->witness)
        json_object_set_new(o, "witness", json_string(p->witness));
    return o;
}

int cashu_token_json_encode(const struct cashu_token *t, struct buf *out)
{
    for (size_t i = 0; i < t->n_proofs; i++) {
        if (t->proofs[i].amount > INT64_MAX)
            return E_LIMIT;
    }
    /* Strings were checked as UTF-8 when they entered the struct, so no json_string() here
     * returns NULL; jansson keeps insertion order, which gives the vectors' key order. */
    json_t *root = json_object(), *entries = json_array(), *entry = json_object();
    json_t *proofs = json_array();
    for (size_t i = 0; i < t->n_proofs; i++)
        json_array_append_new(proofs, proof_json(&t->proofs[i]));
    json_object_set_new(entry, "mint", json_string(t->mint));
    json_object_set_new(entry, "proofs", proofs);
    json_array_append_new(entries, entry);
    json_object_set_new(root, "token", entries);
    json_object_set_new(root, "unit", json_string(t->unit));
    if (t->memo)
        json_object_set_new(root, "memo", json_string(t->memo));

    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s == NULL)
        return E_PROTO;
    size_t n = strlen(s);
    int rc = buf_append(out, s, n);
    secure_zero(s, n); /* it held the secrets */
    free(s);
    return rc;
}
