/* event.c -- NIP-01 events: canonical serialization, ids, BIP-340 signatures, JSON in and out.
 *
 * The canonical form is written by hand (nostr_json_string), never by jansson, because the id
 * depends on every byte: jansson's escaping of U+007F, '/' or non-ASCII depends on flags and
 * version, ours is fixed by the rules in event.h. The JSON we send to relays uses the same
 * writer, so what we sign is exactly what a relay re-serializes. Incoming events are parsed by
 * jansson (strict UTF-8, no lone surrogates) and then checked field by field against the caps
 * of event.h; the tags stay a jansson array the event owns. */
#include "nostr/event.h"

#include <string.h>

#include <secp256k1_schnorrsig.h>

#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"
#include "nostr/bech32.h"

/* ------------------------------------------------------------------------------- keys */

int nostr_key_from_secret(struct nostr_key *k, const uint8_t sk[32])
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_xonly_pubkey xpub;
    if (secp256k1_keypair_create(ctx, &k->kp, sk) != 1) {
        secure_zero(k, sizeof *k);
        return E_PROTO;
    }
    if (secp256k1_keypair_xonly_pub(ctx, &xpub, NULL, &k->kp) != 1 ||
        secp256k1_xonly_pubkey_serialize(ctx, k->pub, &xpub) != 1) {
        secure_zero(k, sizeof *k);
        return E_PROTO;
    }
    return E_OK;
}

int nostr_key_parse(struct nostr_key *k, const char *s)
{
    struct str t = str_trim(str_from(s));
    uint8_t sk[32];
    int rc;
    if (str_ihas_prefix(t, "nsec1"))
        rc = nostr_nsec_decode(sk, t.p, t.len);
    else
        rc = hex_decode(sk, 32, t.p, t.len) == 0 ? E_OK : E_PROTO;
    if (rc == E_OK)
        rc = nostr_key_from_secret(k, sk);
    secure_zero(sk, sizeof sk);
    return rc;
}

void nostr_key_secret(const struct nostr_key *k, uint8_t sk[32])
{
    int ok = secp256k1_keypair_sec(crypto_secp(), sk, &k->kp);
    (void)ok; /* a created keypair always has its secret */
}

void nostr_key_wipe(struct nostr_key *k)
{
    secure_zero(k, sizeof *k);
}

int nostr_schnorr_sign(uint8_t sig[64], const struct nostr_key *k, const uint8_t msg[32],
                       const uint8_t aux[32])
{
    if (secp256k1_schnorrsig_sign32(crypto_secp(), sig, msg, &k->kp, aux) != 1)
        return E_IO;
    return E_OK;
}

int nostr_schnorr_verify(const uint8_t sig[64], const uint8_t msg[32], const uint8_t pub[32])
{
    const secp256k1_context *ctx = crypto_secp();
    secp256k1_xonly_pubkey xpub;
    if (secp256k1_xonly_pubkey_parse(ctx, &xpub, pub) != 1)
        return E_PROTO;
    return secp256k1_schnorrsig_verify(ctx, sig, msg, 32, &xpub) == 1 ? E_OK : E_PROTO;
}

/* ----------------------------------------------------------------------------- events */

void nostr_event_init(struct nostr_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->tags = json_array();
    ev->content = xstrdup("");
}

void nostr_event_deinit(struct nostr_event *ev)
{
    json_decref(ev->tags);
    free(ev->content);
    memset(ev, 0, sizeof *ev);
}

int nostr_event_set_content(struct nostr_event *ev, const char *p, size_t n)
{
    if (n > NOSTR_MAX_CONTENT)
        return E_LIMIT;
    json_t *utf8 = json_stringn(p, n); /* NULL unless valid UTF-8 */
    if (utf8 == NULL)
        return E_PROTO;
    json_decref(utf8);
    free(ev->content);
    ev->content = xmalloc(n + 1);
    memcpy(ev->content, p, n);
    ev->content[n] = '\0';
    ev->content_len = n;
    return E_OK;
}

int nostr_event_add_tag(struct nostr_event *ev, const char *const *items, size_t n)
{
    if (n > NOSTR_MAX_TAG_ITEMS || json_array_size(ev->tags) >= NOSTR_MAX_TAGS)
        return E_LIMIT;
    json_t *tag = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(items[i]);
        json_t *s = len <= NOSTR_MAX_TAG_ITEM_LEN ? json_stringn(items[i], len) : NULL;
        if (s == NULL) {
            json_decref(tag);
            return len > NOSTR_MAX_TAG_ITEM_LEN ? E_LIMIT : E_PROTO;
        }
        json_array_append_new(tag, s);
    }
    json_array_append_new(ev->tags, tag);
    return E_OK;
}

void nostr_event_copy(struct nostr_event *dst, const struct nostr_event *src)
{
    *dst = *src;
    dst->tags = json_deep_copy(src->tags);
    dst->content = xmalloc(src->content_len + 1);
    memcpy(dst->content, src->content, src->content_len + 1);
    if (dst->tags == NULL)
        abort();
}

int nostr_json_string(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_append(out, "\"", 1) != E_OK)
        return E_LIMIT;
    size_t run = 0; /* bytes copied verbatim, pending */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            if (c >= 0x20) {
                run++;
                continue;
            }
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if (buf_append(out, s + i - run, run) != E_OK || buf_append(out, esc, elen) != E_OK)
            return E_LIMIT;
        run = 0;
    }
    if (buf_append(out, s + n - run, run) != E_OK || buf_append(out, "\"", 1) != E_OK)
        return E_LIMIT;
    return E_OK;
}

static int put_hex(struct buf *out, const uint8_t *p, size_t n)
{
    char hex[129];
    hex_encode(hex, p, n);
    return buf_printf(out, "\"%s\"", hex);
}

static int put_tags(struct buf *out, const json_t *tags)
{
    size_t i, j;
    json_t *tag, *item;
    if (buf_append(out, "[", 1) != E_OK)
        return E_LIMIT;
    json_array_foreach(tags, i, tag) {
        if ((i && buf_append(out, ",", 1) != E_OK) || buf_append(out, "[", 1) != E_OK)
            return E_LIMIT;
        json_array_foreach(tag, j, item) {
            if (j && buf_append(out, ",", 1) != E_OK)
                return E_LIMIT;
            if (nostr_json_string(out, json_string_value(item), json_string_length(item)))
                return E_LIMIT;
        }
        if (buf_append(out, "]", 1) != E_OK)
            return E_LIMIT;
    }
    return buf_append(out, "]", 1);
}

int nostr_event_serialize(const struct nostr_event *ev, struct buf *out)
{
    if (buf_append(out, "[0,", 3) != E_OK || put_hex(out, ev->pubkey, 32) != E_OK ||
        buf_printf(out, ",%lld,%u,", (long long)ev->created_at, (unsigned)ev->kind) != E_OK ||
        put_tags(out, ev->tags) != E_OK || buf_append(out, ",", 1) != E_OK ||
        nostr_json_string(out, ev->content, ev->content_len) != E_OK ||
        buf_append(out, "]", 1) != E_OK)
        return E_LIMIT;
    return E_OK;
}

int nostr_event_hash(const struct nostr_event *ev, uint8_t id[32])
{
    struct buf b;
    buf_init(&b, NOSTR_MAX_SERIALIZED);
    int rc = nostr_event_serialize(ev, &b);
    if (rc == E_OK)
        crypto_sha256(id, b.p, b.len);
    buf_deinit(&b);
    return rc;
}

int nostr_event_sign(struct nostr_event *ev, const struct nostr_key *k)
{
    uint8_t aux[32];
    memcpy(ev->pubkey, k->pub, 32);
    int rc = nostr_event_hash(ev, ev->id);
    if (rc != E_OK)
        return rc;
    if (crypto_random(aux, sizeof aux) != 0)
        return E_IO;
    rc = nostr_schnorr_sign(ev->sig, k, ev->id, aux);
    secure_zero(aux, sizeof aux);
    return rc;
}

int nostr_event_verify(const struct nostr_event *ev)
{
    uint8_t id[32];
    if (nostr_event_hash(ev, id) != E_OK || memcmp(id, ev->id, 32) != 0)
        return E_PROTO;
    return nostr_schnorr_verify(ev->sig, ev->id, ev->pubkey);
}

/* A lowercase hex string of exactly 2n digits. */
static int get_hex(uint8_t *out, size_t n, const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    if (!json_is_string(v) || json_string_length(v) != 2 * n)
        return E_PROTO;
    const char *s = json_string_value(v);
    for (size_t i = 0; i < 2 * n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return E_PROTO;
    return hex_decode(out, n, s, 2 * n) == 0 ? E_OK : E_PROTO;
}

static int check_tags(const json_t *tags)
{
    size_t i, j;
    json_t *tag, *item;
    if (!json_is_array(tags))
        return E_PROTO;
    if (json_array_size(tags) > NOSTR_MAX_TAGS)
        return E_LIMIT;
    json_array_foreach(tags, i, tag) {
        if (!json_is_array(tag))
            return E_PROTO;
        if (json_array_size(tag) > NOSTR_MAX_TAG_ITEMS)
            return E_LIMIT;
        json_array_foreach(tag, j, item) {
            if (!json_is_string(item))
                return E_PROTO;
            if (json_string_length(item) > NOSTR_MAX_TAG_ITEM_LEN)
                return E_LIMIT;
        }
    }
    return E_OK;
}

int nostr_event_from_json(struct nostr_event *ev, const json_t *j)
{
    memset(ev, 0, sizeof *ev);
    if (!json_is_object(j))
        return E_PROTO;
    const json_t *created = json_object_get(j, "created_at");
    const json_t *kind = json_object_get(j, "kind");
    const json_t *tags = json_object_get(j, "tags");
    const json_t *content = json_object_get(j, "content");
    if (get_hex(ev->id, 32, j, "id") || get_hex(ev->pubkey, 32, j, "pubkey") ||
        get_hex(ev->sig, 64, j, "sig") || !json_is_integer(created) ||
        json_integer_value(created) < 0 || json_integer_value(created) > NOSTR_MAX_CREATED_AT ||
        !json_is_integer(kind) || json_integer_value(kind) < 0 ||
        json_integer_value(kind) > 65535 || !json_is_string(content))
        goto proto;
    int rc = check_tags(tags);
    if (rc != E_OK) {
        memset(ev, 0, sizeof *ev);
        return rc;
    }
    if (json_string_length(content) > NOSTR_MAX_CONTENT) {
        memset(ev, 0, sizeof *ev);
        return E_LIMIT;
    }
    ev->created_at = json_integer_value(created);
    ev->kind = (uint32_t)json_integer_value(kind);
    ev->tags = json_deep_copy(tags);
    if (ev->tags == NULL)
        abort();
    ev->content_len = json_string_length(content);
    ev->content = xmalloc(ev->content_len + 1);
    memcpy(ev->content, json_string_value(content), ev->content_len + 1);
    return E_OK;
proto:
    memset(ev, 0, sizeof *ev);
    return E_PROTO;
}

int nostr_event_write_json(const struct nostr_event *ev, struct buf *out)
{
    if (buf_append(out, "{\"id\":", 6) || put_hex(out, ev->id, 32) ||
        buf_appends(out, ",\"pubkey\":") || put_hex(out, ev->pubkey, 32) ||
        buf_printf(out, ",\"created_at\":%lld,\"kind\":%u,\"tags\":", (long long)ev->created_at,
                   (unsigned)ev->kind) ||
        put_tags(out, ev->tags) || buf_appends(out, ",\"content\":") ||
        nostr_json_string(out, ev->content, ev->content_len) || buf_appends(out, ",\"sig\":") ||
        put_hex(out, ev->sig, 64) || buf_append(out, "}", 1))
        return E_LIMIT;
    return E_OK;
}

json_t *nostr_event_to_json(const struct nostr_event *ev)
{
    char id[65], pub[65], sig[129];
    hex_encode(id, ev->id, 32);
    hex_encode(pub, ev->pubkey, 32);
    hex_encode(sig, ev->sig, 64);
    json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:O, s:s%, s:s}", "id", id, "pubkey", pub,
                          "created_at", (json_int_t)ev->created_at, "kind", (int)ev->kind,
                          "tags", ev->tags, "content", ev->content, ev->content_len, "sig",
                          sig);
    if (j == NULL)
        abort(); /* content and tags were validated on the way in */
    return j;
}

const char *nostr_event_tag(const struct nostr_event *ev, const char *name, size_t *len)
{
    size_t i, nlen = strlen(name);
    json_t *tag;
    json_array_foreach(ev->tags, i, tag) {
        json_t *k = json_array_get(tag, 0), *v = json_array_get(tag, 1);
        if (v && json_string_length(k) == nlen && memcmp(json_string_value(k), name, nlen) == 0) {
            if (len)
                *len = json_string_length(v);
            return json_string_value(v);
        }
    }
    return NULL;
}
