/* payreq_bech32.c -- the NUT-26 "creqB" form of a payment request: bech32m over TLVs.
 *
 *   creqB = bech32m("creqb", TLV*)       TLV = type (1 byte), length (2 bytes, big-endian), value
 *   0x01 id  0x02 amount (u64 BE)  0x03 unit (0x00 = "sat", else text)  0x04 single_use (0|1)
 *   0x05 mint (repeatable)  0x06 description  0x07 transport (repeatable)  0x08 nut10
 *   transport: 0x01 kind (0 nostr, 1 post)  0x02 target  0x03 tag tuple (repeatable)
 *   nut10:     0x01 kind (0 P2PK, 1 HTLC)   0x02 data    0x03 tag tuple (repeatable)
 *   tag tuple: (1-byte length, UTF-8)*, the key first
 *
 * Decoding checks the whole bech32m string first (BIP-350: one case, the checksum, padding of
 * under 5 zero bits; no length limit but ours), then walks the TLVs, handing each field to the
 * builders of payreq.c. Unknown tags are skipped at every level (NUT-26); a singular tag given
 * twice, a value of the wrong size, an unknown transport or NUT-10 kind is E_PROTO: a payer who
 * cannot tell where or under which lock to pay must not guess (an unknown transport dropped
 * would turn the request into an in-band one).
 *
 * Nostr targets are raw 32-byte keys on the wire, their relays "r" tag tuples. The decoder
 * folds them into a NIP-19 nprofile (bech32, not bech32m) and the encoder unfolds an npub or
 * nprofile again, writing the request's own tags first and the relays after, as the NUT-26
 * vectors do. The encoder writes the tags in numeric order (the vectors' order) in upper case
 * (NUT-26: SHOULD, for QR alphanumeric mode). */
#include "cashu/payreq.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "cashu/cashu_int.h"

#define BECH32_CONST 1u           /* BIP-173, NIP-19 */
#define BECH32M_CONST 0x2bc830a3u /* BIP-350, NUT-26 */
#define CHECKSUM_LEN 6
#define TUPLE_STR_MAX 255 /* a tag tuple's or nprofile's 1-byte length */

enum { T_ID = 1, T_AMOUNT, T_UNIT, T_SINGLE_USE, T_MINT, T_DESCRIPTION, T_TRANSPORT, T_NUT10 };
enum { S_KIND = 1, S_TARGET = 2, S_DATA = 2, S_TAG = 3 }; /* transport and nut10 sub-tags */
enum { KIND_NOSTR = 0, KIND_POST = 1 };
enum { NP_PUBKEY = 0, NP_RELAY = 1 }; /* NIP-19 nprofile TLV types */

static const char *const nut10_kinds[] = {"P2PK", "HTLC"}; /* by NUT-26 kind value */

/* --- bech32 and bech32m (BIP-173, BIP-350) --- */

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod_step(uint32_t pre)
{
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint8_t b = (uint8_t)(pre >> 25);
    uint32_t chk = (pre & 0x1ffffff) << 5;
    for (int i = 0; i < 5; i++)
        chk ^= (0u - (uint32_t)((b >> i) & 1)) & gen[i];
    return chk;
}

/* The checksum state after the expanded prefix (lowercase): high bits, a zero, low bits. */
static uint32_t hrp_polymod(const char *hrp, size_t n)
{
    uint32_t chk = 1;
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk) ^ ((uint8_t)hrp[i] >> 5);
    chk = polymod_step(chk);
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk) ^ ((uint8_t)hrp[i] & 0x1f);
    return chk;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Appends hrp (lowercase) + "1" + the data groups of p[0..n) + checksum to out, all in upper
 * case if 'up'. Returns 0 or E_LIMIT (out's cap). */
static int bech32_put(struct buf *out, const char *hrp, const uint8_t *p, size_t n,
                      uint32_t constant, bool up)
{
    size_t hlen = strlen(hrp);
    uint32_t chk = hrp_polymod(hrp, hlen), acc = 0;
    int bits = 0, rc = E_OK;
    char c;
    for (size_t i = 0; i < hlen && rc == E_OK; i++) {
        c = up ? upper(hrp[i]) : hrp[i];
        rc = buf_append(out, &c, 1);
    }
    if (rc == E_OK)
        rc = buf_append(out, "1", 1);
    for (size_t i = 0; i <= n && rc == E_OK; i++) {
        if (i < n) {
            acc = (acc << 8 | p[i]) & 0xfff;
            bits += 8;
        } else if (bits > 0) {
            acc <<= 5 - bits; /* the last group, zero-padded */
            bits = 5;
        }
        while (bits >= 5 && rc == E_OK) {
            bits -= 5;
            uint8_t g = (acc >> bits) & 0x1f;
            chk = polymod_step(chk) ^ g;
            c = up ? upper(charset[g]) : charset[g];
            rc = buf_append(out, &c, 1);
        }
    }
    for (int i = 0; i < CHECKSUM_LEN; i++)
        chk = polymod_step(chk);
    chk ^= constant;
    for (int i = 0; i < CHECKSUM_LEN && rc == E_OK; i++) {
        c = charset[(chk >> (5 * (CHECKSUM_LEN - 1 - i))) & 0x1f];
        c = up ? upper(c) : c;
        rc = buf_append(out, &c, 1);
    }
    return rc;
}

/* Decodes s[0..len), which must be a bech32 string (checksum 'constant') with prefix hrp
 * (lowercase), in either case but one. The bytes are appended to out. Returns 0, E_PROTO or
 * E_LIMIT (out's cap). */
static int bech32_get(struct buf *out, const char *hrp, uint32_t constant, const char *s,
                      size_t len)
{
    size_t hlen = strlen(hrp);
    bool lo = false, up = false;
    uint32_t chk, acc = 0;
    int bits = 0, rc;
    if (len < hlen + 1 + CHECKSUM_LEN)
        return E_PROTO;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return E_PROTO;
        lo |= c >= 'a' && c <= 'z';
        up |= c >= 'A' && c <= 'Z';
    }
    if (lo && up)
        return E_PROTO;
    for (size_t i = 0; i < hlen; i++) {
        if (lower(s[i]) != hrp[i])
            return E_PROTO;
    }
    if (s[hlen] != '1')
        return E_PROTO;
    chk = hrp_polymod(hrp, hlen);
    for (size_t i = hlen + 1; i < len; i++) {
        const char *q = strchr(charset, lower(s[i])); /* s[i] is not NUL: checked above */
        if (q == NULL) /* a '1' after the separator lands here too */
            return E_PROTO;
        uint32_t g = (uint32_t)(q - charset);
        chk = polymod_step(chk) ^ g;
        if (i >= len - CHECKSUM_LEN)
            continue;
        acc = (acc << 5 | g) & 0x1fff;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            uint8_t b = (uint8_t)(acc >> bits);
            if ((rc = buf_append(out, &b, 1)) != E_OK)
                return rc;
        }
    }
    /* BIP-173 regrouping: fewer than 5 bits of padding, all zero. */
    if (chk != constant || bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
        return E_PROTO;
    return E_OK;
}

/* A buffer's bytes; never NULL, so an empty one still gives a valid [p, p + 0) range. */
static const uint8_t *bytes_of(const struct buf *b)
{
    return b->p ? (const uint8_t *)b->p : (const uint8_t *)"";
}

/* --- nostr targets (NIP-19 npub and nprofile) --- */

struct relays {
    const char *p[CASHU_PAYREQ_MAX_TAGS];
    size_t n[CASHU_PAYREQ_MAX_TAGS];
    size_t count;
};

/* Parses an npub or nprofile into its key and relays; the relays point into 'raw', which
 * receives the decoded bytes. Returns 0, E_PROTO, or E_LIMIT (more relays than tags allowed). */
static int nostr_target_parse(const char *t, uint8_t pub[32], struct buf *raw, struct relays *rl)
{
    struct str s = str_from(t);
    bool have_pub = false;
    int rc;
    rl->count = 0;
    if (str_ihas_prefix(s, "npub1")) {
        if ((rc = bech32_get(raw, "npub", BECH32_CONST, s.p, s.len)) != E_OK)
            return rc;
        if (raw->len != 32)
            return E_PROTO;
        memcpy(pub, raw->p, 32);
        return E_OK;
    }
    if (!str_ihas_prefix(s, "nprofile1"))
        return E_PROTO;
    if ((rc = bech32_get(raw, "nprofile", BECH32_CONST, s.p, s.len)) != E_OK)
        return rc;
    const uint8_t *p = bytes_of(raw), *end = p + raw->len;
    while (p < end) {
        if (end - p < 2 || (size_t)(end - p - 2) < p[1])
            return E_PROTO;
        uint8_t type = p[0], n = p[1];
        const char *v = (const char *)p + 2;
        p += 2 + n;
        if (type == NP_PUBKEY) {
            if (have_pub || n != 32)
                return E_PROTO;
            memcpy(pub, v, 32);
            have_pub = true;
        } else if (type == NP_RELAY) {
            if ((rc = cashu_check_text(v, n, TUPLE_STR_MAX)) != E_OK)
                return rc;
            if (rl->count == CASHU_PAYREQ_MAX_TAGS)
                return E_LIMIT;
            rl->p[rl->count] = v;
            rl->n[rl->count++] = n;
        } /* NIP-19: other types are ignored */
    }
    return have_pub ? E_OK : E_PROTO;
}

/* Replaces a nostr transport's "r" tags by an nprofile of pub and their values. Relay strings
 * came from tag tuples, so each fits the nprofile's 1-byte length. */
static int fold_relays(struct cashu_payreq_transport *tp, const uint8_t pub[32])
{
    struct buf tlv, out;
    size_t keep = 0;
    uint8_t head[2] = {NP_PUBKEY, 32};
    int rc;
    /* The relays come from the input, so twice its cap holds the key, them and their heads. */
    buf_init(&tlv, 2 * CASHU_PAYREQ_MAX_LEN);
    buf_init(&out, 4 * CASHU_PAYREQ_MAX_LEN);
    rc = buf_append(&tlv, head, 2);
    if (rc == E_OK)
        rc = buf_append(&tlv, pub, 32);
    for (size_t i = 0; i < tp->tags.n; i++) {
        struct cashu_payreq_tag *tag = &tp->tags.v[i];
        if (tag->n == 0 || strcmp(tag->s[0], "r") != 0) {
            tp->tags.v[keep++] = *tag;
            continue;
        }
        for (size_t j = 1; j < tag->n; j++) {
            size_t n = strlen(tag->s[j]);
            assert(n <= TUPLE_STR_MAX);
            head[0] = NP_RELAY, head[1] = (uint8_t)n;
            if (rc == E_OK)
                rc = buf_append(&tlv, head, 2);
            if (rc == E_OK)
                rc = buf_append(&tlv, tag->s[j], n);
        }
        for (size_t j = 0; j < tag->n; j++)
            free(tag->s[j]);
        free(tag->s);
    }
    tp->tags.n = keep;
    if (rc == E_OK)
        rc = bech32_put(&out, "nprofile", (const uint8_t *)tlv.p, tlv.len, BECH32_CONST, false);
    if (rc == E_OK) {
        free(tp->target);
        tp->target = buf_take(&out, NULL); /* our own ASCII: no text check needed */
    }
    buf_deinit(&tlv);
    buf_deinit(&out);
    return rc;
}

/* --- TLV decoding --- */

struct tlv {
    uint8_t type;
    const uint8_t *v;
    size_t n;
};

/* Reads the next TLV of [*p, end). Returns 1, 0 at the end, or E_PROTO if truncated. */
static int tlv_next(const uint8_t **p, const uint8_t *end, struct tlv *t)
{
    const uint8_t *q = *p;
    if (q == end)
        return 0;
    if (end - q < 3)
        return E_PROTO;
    t->type = q[0];
    t->n = (size_t)q[1] << 8 | q[2];
    if ((size_t)(end - q - 3) < t->n)
        return E_PROTO;
    t->v = q + 3;
    *p = q + 3 + t->n;
    return 1;
}

static int set_bytes(char **field, const struct tlv *t)
{
    return cashu_payreq_set_str(field, (const char *)t->v, t->n);
}

static int read_tuple(struct cashu_payreq_tags *tags, const struct tlv *t)
{
    struct cashu_payreq_tag *tag;
    int rc = cashu_payreq_add_tag(tags, &tag);
    for (size_t i = 0; rc == E_OK && i < t->n;) {
        size_t n = t->v[i++];
        if (t->n - i < n)
            return E_PROTO;
        rc = cashu_payreq_tag_push(tag, (const char *)t->v + i, n);
        i += n;
    }
    return rc;
}

/* The body of a transport or nut10 TLV: a kind byte, a target or data, tag tuples. */
struct sub {
    int kind; /* -1 until seen */
    bool has_value;
    struct tlv value;
};

static int read_sub(const struct tlv *t, struct sub *s, struct cashu_payreq_tags *tags)
{
    const uint8_t *p = t->v, *end = t->v + t->n;
    struct tlv f;
    int got, rc;
    *s = (struct sub){.kind = -1};
    while ((got = tlv_next(&p, end, &f)) == 1) {
        if (f.type == S_KIND) {
            if (s->kind >= 0 || f.n != 1)
                return E_PROTO;
            s->kind = f.v[0];
        } else if (f.type == S_TARGET) {
            if (s->has_value)
                return E_PROTO;
            s->has_value = true;
            s->value = f;
        } else if (f.type == S_TAG && (rc = read_tuple(tags, &f)) != E_OK) {
            return rc;
        }
    }
    if (got != 0)
        return got;
    return s->kind >= 0 && s->has_value ? E_OK : E_PROTO;
}

static int read_transport(struct cashu_payreq *r, const struct tlv *t)
{
    struct cashu_payreq_transport *tp;
    struct sub s;
    int rc;
    if ((rc = cashu_payreq_add_transport(r, &tp)) != E_OK ||
        (rc = read_sub(t, &s, &tp->tags)) != E_OK)
        return rc;
    switch (s.kind) {
    case KIND_POST:
        if ((rc = cashu_payreq_set_str(&tp->type, "post", 4)) != E_OK)
            return rc;
        return set_bytes(&tp->target, &s.value);
    case KIND_NOSTR:
        if (s.value.n != 32)
            return E_PROTO;
        if ((rc = cashu_payreq_set_str(&tp->type, "nostr", 5)) != E_OK)
            return rc;
        return fold_relays(tp, s.value.v);
    default:
        return E_PROTO;
    }
}

static int read_nut10(struct cashu_payreq *r, const struct tlv *t)
{
    struct sub s;
    int rc;
    if (r->has_nut10) /* NUT-26: one lock; two would be ambiguous */
        return E_PROTO;
    if ((rc = read_sub(t, &s, &r->nut10.tags)) != E_OK)
        return rc;
    if ((size_t)s.kind >= sizeof nut10_kinds / sizeof *nut10_kinds)
        return E_PROTO;
    const char *k = nut10_kinds[s.kind];
    if ((rc = cashu_payreq_set_str(&r->nut10.kind, k, strlen(k))) != E_OK ||
        (rc = set_bytes(&r->nut10.data, &s.value)) != E_OK)
        return rc;
    r->has_nut10 = true;
    return E_OK;
}

static int read_field(struct cashu_payreq *r, const struct tlv *t)
{
    switch (t->type) {
    case T_ID:
        return r->id ? E_PROTO : set_bytes(&r->id, t);
    case T_AMOUNT:
        if (r->has_amount || t->n != 8)
            return E_PROTO;
        r->amount = 0;
        for (int i = 0; i < 8; i++)
            r->amount = r->amount << 8 | t->v[i];
        r->has_amount = true;
        return E_OK;
    case T_UNIT:
        if (r->unit)
            return E_PROTO;
        if (t->n == 1 && t->v[0] == 0x00)
            return cashu_payreq_set_str(&r->unit, "sat", 3);
        return set_bytes(&r->unit, t);
    case T_SINGLE_USE:
        if (r->has_single_use || t->n != 1 || t->v[0] > 1)
            return E_PROTO;
        r->has_single_use = true;
        r->single_use = t->v[0] == 1;
        return E_OK;
    case T_MINT:
        return cashu_payreq_add_mint(r, (const char *)t->v, t->n);
    case T_DESCRIPTION:
        return r->description ? E_PROTO : set_bytes(&r->description, t);
    case T_TRANSPORT:
        return read_transport(r, t);
    case T_NUT10:
        return read_nut10(r, t);
    default:
        return E_OK; /* NUT-26: unknown tags MUST be ignored (0x09 preferred_mint among them) */
    }
}

int cashu_payreq_decode_creqB(struct cashu_payreq *out, const char *s, size_t len)
{
    struct cashu_payreq r = {0};
    struct buf bytes;
    struct tlv t;
    int rc, got = 0;
    if (len > CASHU_PAYREQ_MAX_LEN)
        return E_LIMIT;
    buf_init(&bytes, len);
    rc = bech32_get(&bytes, "creqb", BECH32M_CONST, s, len);
    const uint8_t *p = bytes_of(&bytes), *end = p + bytes.len;
    while (rc == E_OK && (got = tlv_next(&p, end, &t)) == 1)
        rc = read_field(&r, &t);
    if (rc == E_OK)
        rc = got;
    buf_deinit(&bytes);
    if (rc != E_OK) {
        cashu_payreq_deinit(&r);
        return rc == E_LIMIT ? E_LIMIT : E_PROTO;
    }
    *out = r;
    return E_OK;
}

/* --- TLV encoding --- */

/* Appends with a sticky error, so the writer checks once at the end. */
struct enc {
    struct buf *b;
    int rc;
};

static void put(struct enc *e, const void *p, size_t n)
{
    if (e->rc == E_OK && n > 0)
        e->rc = buf_append(e->b, p, n);
}

/* Starts a TLV whose length is patched by tlv_close(); returns where the length goes. */
static size_t tlv_open(struct enc *e, uint8_t type)
{
    uint8_t head[3] = {type, 0, 0};
    put(e, head, 3);
    return e->rc == E_OK ? e->b->len - 2 : 0;
}

static void tlv_close(struct enc *e, size_t at)
{
    if (e->rc != E_OK)
        return;
    size_t n = e->b->len - at - 2;
    if (n > 0xffff) {
        e->rc = E_LIMIT;
        return;
    }
    e->b->p[at] = (char)(n >> 8);
    e->b->p[at + 1] = (char)(n & 0xff);
}

static void put_tlv(struct enc *e, uint8_t type, const void *p, size_t n)
{
    size_t at = tlv_open(e, type);
    put(e, p, n);
    tlv_close(e, at);
}

static void put_str(struct enc *e, uint8_t type, const char *s)
{
    put_tlv(e, type, s, strlen(s));
}

/* One tag tuple of n strings (s[i], len[i]). */
static void put_tuple(struct enc *e, char *const *s, const size_t *len, size_t n)
{
    size_t at = tlv_open(e, S_TAG);
    for (size_t i = 0; i < n; i++) {
        size_t k = len ? len[i] : strlen(s[i]);
        uint8_t b = (uint8_t)k;
        if (k > TUPLE_STR_MAX && e->rc == E_OK)
            e->rc = E_LIMIT;
        put(e, &b, 1);
        put(e, s[i], k);
    }
    tlv_close(e, at);
}

static void put_tags(struct enc *e, const struct cashu_payreq_tags *t)
{
    for (size_t i = 0; i < t->n; i++)
        put_tuple(e, t->v[i].s, NULL, t->v[i].n);
}

static void put_transport(struct enc *e, const struct cashu_payreq_transport *tp)
{
    bool nostr = strcmp(tp->type, "nostr") == 0;
    uint8_t kind = nostr ? KIND_NOSTR : KIND_POST, pub[32];
    struct relays rl = {.count = 0};
    struct buf raw;
    if (!nostr && strcmp(tp->type, "post") != 0) {
        e->rc = e->rc ? e->rc : E_PROTO; /* NUT-26 has no kind for it */
        return;
    }
    buf_init(&raw, CASHU_PAYREQ_MAX_LEN);
    if (nostr && e->rc == E_OK) {
        e->rc = nostr_target_parse(tp->target, pub, &raw, &rl);
        if (e->rc == E_OK && rl.count + tp->tags.n > CASHU_PAYREQ_MAX_TAGS)
            e->rc = E_LIMIT; /* the decoder would refuse that many tags */
    }
    size_t at = tlv_open(e, T_TRANSPORT);
    put_tlv(e, S_KIND, &kind, 1);
    if (nostr)
        put_tlv(e, S_TARGET, pub, 32);
    else
        put_str(e, S_TARGET, tp->target);
    put_tags(e, &tp->tags);
    for (size_t i = 0; nostr && e->rc == E_OK && i < rl.count; i++) {
        char *rs[2] = {"r", (char *)rl.p[i]};
        size_t rn[2] = {1, rl.n[i]};
        put_tuple(e, rs, rn, 2);
    }
    tlv_close(e, at);
    buf_deinit(&raw);
}

static void put_nut10(struct enc *e, const struct cashu_payreq_nut10 *n)
{
    uint8_t kind = 0;
    while (kind < sizeof nut10_kinds / sizeof *nut10_kinds && strcmp(nut10_kinds[kind], n->kind))
        kind++;
    if (kind == sizeof nut10_kinds / sizeof *nut10_kinds) {
        e->rc = e->rc ? e->rc : E_PROTO;
        return;
    }
    size_t at = tlv_open(e, T_NUT10);
    put_tlv(e, S_KIND, &kind, 1);
    put_str(e, S_DATA, n->data);
    put_tags(e, &n->tags);
    tlv_close(e, at);
}

static void tlv_encode(struct enc *e, const struct cashu_payreq *r)
{
    if (r->id)
        put_str(e, T_ID, r->id);
    if (r->has_amount) {
        uint8_t be[8];
        for (int i = 0; i < 8; i++)
            be[i] = (uint8_t)(r->amount >> (56 - 8 * i));
        put_tlv(e, T_AMOUNT, be, 8);
    }
    if (r->unit && strcmp(r->unit, "sat") == 0) {
        uint8_t sat = 0x00;
        put_tlv(e, T_UNIT, &sat, 1);
    } else if (r->unit) {
        put_str(e, T_UNIT, r->unit);
    }
    if (r->has_single_use) {
        uint8_t b = r->single_use;
        put_tlv(e, T_SINGLE_USE, &b, 1);
    }
    for (size_t i = 0; i < r->n_mints; i++)
        put_str(e, T_MINT, r->mints[i]);
    if (r->description)
        put_str(e, T_DESCRIPTION, r->description);
    for (size_t i = 0; i < r->n_transports; i++)
        put_transport(e, &r->transports[i]);
    if (r->has_nut10)
        put_nut10(e, &r->nut10);
}

int cashu_payreq_encode_creqB(const struct cashu_payreq *req, char **out)
{
    struct buf tlv, s;
    struct enc e = {.b = &tlv};
    int rc = cashu_payreq_check(req);
    if (rc != E_OK)
        return rc;
    buf_init(&tlv, CASHU_PAYREQ_MAX_LEN); /* bech32 only grows it: a larger one cannot fit */
    buf_init(&s, CASHU_PAYREQ_MAX_LEN);
    tlv_encode(&e, req);
    rc = e.rc;
    if (rc == E_OK)
        rc = bech32_put(&s, "creqb", bytes_of(&tlv), tlv.len, BECH32M_CONST, true);
    if (rc == E_OK)
        *out = buf_take(&s, NULL);
    buf_deinit(&tlv);
    buf_deinit(&s);
    return rc;
}
