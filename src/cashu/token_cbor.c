/* token_cbor.c -- the V4 token's CBOR (NUT-00 "cashuB", and the binary "crawB" form).
 *
 *   {"t": [{"i": bytes id, "p": [{"a": uint, "s": text, "c": bytes33,
 *                                 "d"?: {"e": bytes32, "s": bytes32, "r": bytes32},
 *                                 "w"?: text}]}],
 *    "d"?: text memo, "m": text mint, "u": text unit}
 *
 * Decoding pulls one item head at a time from libcbor's streaming decoder
 * (cbor_stream_decode), which allocates nothing and hands back string bodies as pointers into
 * our buffer. We never build libcbor's item tree: cbor_load() would allocate whatever count a
 * peer declares and free it recursively. So a declared count is only trusted up to the bytes
 * left (each item takes at least one), nesting is capped at MAX_DEPTH, and the work is linear in
 * the input. Definite and indefinite lengths are both accepted (RFC 8949 §3.2); tags are
 * skipped; unknown keys are skipped whatever their value; a known key twice is E_PROTO; null
 * and undefined stand for an absent optional field; trailing bytes are E_PROTO.
 *
 * Encoding writes heads with libcbor's cbor_encode_* and the bodies ourselves, in the key
 * order of the NUT-00 vectors, so our tokens are byte-identical to theirs. */
#include <string.h>

#include <cbor.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "cashu/cashu_int.h"
#include "crypto/crypto.h"

#define MAX_DEPTH 16

/* Each *_INDEF kind directly follows its definite kind (read_str relies on it). */
enum kind {
    K_NONE,
    K_UINT,
    K_NEGINT,
    K_BYTES,
    K_BYTES_INDEF,
    K_TEXT,
    K_TEXT_INDEF,
    K_ARRAY,
    K_ARRAY_INDEF,
    K_MAP,
    K_MAP_INDEF,
    K_TAG,
    K_FLOAT,
    K_BOOL,
    K_NULL,
    K_UNDEF,
    K_BREAK,
};

struct item {
    enum kind kind;
    uint64_t n;        /* an integer's value, a string's length, a container's count */
    const uint8_t *p;  /* a definite string's body, inside the input */
};

struct cur {
    const uint8_t *p, *end;
};

/* --- libcbor streaming callbacks: each records the head it saw --- */

static void set(void *ctx, enum kind k, uint64_t n, const uint8_t *p)
{
    struct item *it = ctx;
    it->kind = k;
    it->n = n;
    it->p = p;
}

static void on_u8(void *c, uint8_t v) { set(c, K_UINT, v, NULL); }
static void on_u16(void *c, uint16_t v) { set(c, K_UINT, v, NULL); }
static void on_u32(void *c, uint32_t v) { set(c, K_UINT, v, NULL); }
static void on_u64(void *c, uint64_t v) { set(c, K_UINT, v, NULL); }
static void on_n8(void *c, uint8_t v) { set(c, K_NEGINT, v, NULL); }
static void on_n16(void *c, uint16_t v) { set(c, K_NEGINT, v, NULL); }
static void on_n32(void *c, uint32_t v) { set(c, K_NEGINT, v, NULL); }
static void on_n64(void *c, uint64_t v) { set(c, K_NEGINT, v, NULL); }
static void on_bytes(void *c, cbor_data p, size_t n) { set(c, K_BYTES, n, p); }
static void on_bytes_indef(void *c) { set(c, K_BYTES_INDEF, 0, NULL); }
static void on_text(void *c, cbor_data p, size_t n) { set(c, K_TEXT, n, p); }
static void on_text_indef(void *c) { set(c, K_TEXT_INDEF, 0, NULL); }
static void on_array(void *c, size_t n) { set(c, K_ARRAY, n, NULL); }
static void on_array_indef(void *c) { set(c, K_ARRAY_INDEF, 0, NULL); }
static void on_map(void *c, size_t n) { set(c, K_MAP, n, NULL); }
static void on_map_indef(void *c) { set(c, K_MAP_INDEF, 0, NULL); }
static void on_tag(void *c, uint64_t v) { set(c, K_TAG, v, NULL); }
static void on_f4(void *c, float v) { (void)v; set(c, K_FLOAT, 0, NULL); }
static void on_f8(void *c, double v) { (void)v; set(c, K_FLOAT, 0, NULL); }
static void on_undef(void *c) { set(c, K_UNDEF, 0, NULL); }
static void on_null(void *c) { set(c, K_NULL, 0, NULL); }
static void on_bool(void *c, bool v) { set(c, K_BOOL, v, NULL); }
static void on_break(void *c) { set(c, K_BREAK, 0, NULL); }

/* libcbor's header swaps the comments of the string callbacks; the members are what count. */
static const struct cbor_callbacks callbacks = {
    .uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
    .negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32, .negint64 = on_n64,
    .byte_string = on_bytes, .byte_string_start = on_bytes_indef,
    .string = on_text, .string_start = on_text_indef,
    .array_start = on_array, .indef_array_start = on_array_indef,
    .map_start = on_map, .indef_map_start = on_map_indef,
    .tag = on_tag, .float2 = on_f4, .float4 = on_f4, .float8 = on_f8,
    .undefined = on_undef, .null = on_null, .boolean = on_bool, .indef_break = on_break,
};

/* --- the pull parser --- */

static size_t left(const struct cur *c)
{
    return (size_t)(c->end - c->p);
}

/* Reads the next item head into *it, skipping tags. */
static int next(struct cur *c, struct item *it)
{
    for (;;) {
        *it = (struct item){.kind = K_NONE};
        struct cbor_decoder_result r = cbor_stream_decode(c->p, left(c), &callbacks, it);
        if (r.status != CBOR_DECODER_FINISHED || it->kind == K_NONE || r.read == 0 ||
            r.read > left(c))
            return E_PROTO;
        c->p += r.read;
        if (it->kind != K_TAG)
            return E_OK;
    }
}

/* A container being walked: definite with 'todo' entries left, or indefinite until a break. */
struct coll {
    bool indef;
    uint64_t todo;
};

static int coll_open(const struct cur *c, const struct item *it, bool map, struct coll *co)
{
    enum kind def = map ? K_MAP : K_ARRAY;
    if (it->kind == def + 1) {
        *co = (struct coll){.indef = true};
        return E_OK;
    }
    if (it->kind != def)
        return E_PROTO;
    /* Every entry takes at least one byte per item: a larger count is a lie. */
    if (it->n > left(c) / (map ? 2 : 1))
        return E_PROTO;
    *co = (struct coll){.todo = it->n};
    return E_OK;
}

/* Reads the head of the next element (of a map: its key). Returns 1, 0 at the end, or <0. */
static int coll_next(struct cur *c, struct coll *co, struct item *it)
{
    if (!co->indef) {
        if (co->todo == 0)
            return 0;
        co->todo--;
        return next(c, it) == E_OK ? 1 : E_PROTO;
    }
    if (next(c, it) != E_OK)
        return E_PROTO;
    return it->kind == K_BREAK ? 0 : 1;
}

/* Consumes the rest of an item whose head is 'it'. */
static int skip_rest(struct cur *c, const struct item *it, int depth)
{
    struct item sub;
    struct coll co;
    int rc;
    if (depth > MAX_DEPTH)
        return E_LIMIT;
    switch (it->kind) {
    case K_BYTES_INDEF:
    case K_TEXT_INDEF:
        while ((rc = next(c, &sub)) == E_OK && sub.kind != K_BREAK) {
            if (sub.kind != it->kind - 1)
                return E_PROTO; /* chunks are definite strings of the same type */
        }
        return rc;
    case K_ARRAY:
    case K_ARRAY_INDEF:
    case K_MAP:
    case K_MAP_INDEF: {
        bool map = it->kind == K_MAP || it->kind == K_MAP_INDEF;
        if ((rc = coll_open(c, it, map, &co)) != E_OK)
            return rc;
        while ((rc = coll_next(c, &co, &sub)) == 1) {
            if ((rc = skip_rest(c, &sub, depth + 1)) != E_OK)
                return rc;
            if (map) {
                if ((rc = next(c, &sub)) != E_OK || (rc = skip_rest(c, &sub, depth + 1)) != E_OK)
                    return rc;
            }
        }
        return rc;
    }
    case K_BREAK:
    case K_NONE:
        return E_PROTO;
    default:
        return E_OK;
    }
}

/* A text or byte string (kind K_TEXT or K_BYTES) whose head is 'it', as a slice: a definite
 * string points into the input, an indefinite one is joined in 'tmp' (its cap: max). */
static int read_str(struct cur *c, const struct item *it, enum kind kind, struct buf *tmp,
                    const char **p, size_t *n)
{
    if (it->kind == kind) {
        *p = (const char *)it->p;
        *n = it->n;
        return E_OK;
    }
    if (it->kind != kind + 1)
        return E_PROTO;
    struct item ch;
    int rc;
    buf_reset(tmp);
    while ((rc = next(c, &ch)) == E_OK && ch.kind != K_BREAK) {
        if (ch.kind != kind)
            return E_PROTO;
        if (ch.n > 0 && (rc = buf_append(tmp, ch.p, ch.n)) != E_OK)
            return rc;
    }
    if (rc != E_OK)
        return rc;
    *p = tmp->len ? tmp->p : "";
    *n = tmp->len;
    return E_OK;
}

static void tmp_wipe(struct buf *tmp)
{
    if (tmp->p)
        secure_zero(tmp->p, tmp->alloc);
    buf_deinit(tmp);
}

/* Reads a byte string value of min..max bytes into out. */
static int read_bytes(struct cur *c, const struct item *it, uint8_t *out, size_t min, size_t max,
                      size_t *got)
{
    struct buf tmp;
    const char *p;
    size_t n;
    buf_init(&tmp, max);
    int rc = read_str(c, it, K_BYTES, &tmp, &p, &n);
    if (rc == E_LIMIT || (rc == E_OK && (n < min || n > max)))
        rc = E_PROTO;
    if (rc == E_OK) {
        memcpy(out, p, n);
        *got = n;
    }
    tmp_wipe(&tmp);
    return rc;
}

typedef int text_setter_fn(void *obj, const char *p, size_t n);

/* Reads a text value and hands it to 'set'. */
static int read_text(struct cur *c, const struct item *it, size_t max, text_setter_fn *fn,
                     void *obj)
{
    struct buf tmp;
    const char *p;
    size_t n;
    buf_init(&tmp, max);
    int rc = read_str(c, it, K_TEXT, &tmp, &p, &n);
    if (rc == E_OK)
        rc = fn(obj, p, n);
    tmp_wipe(&tmp);
    return rc;
}

static int set_mint(void *t, const char *p, size_t n) { return cashu_token_set_mint(t, p, n); }
static int set_unit(void *t, const char *p, size_t n) { return cashu_token_set_unit(t, p, n); }
static int set_memo(void *t, const char *p, size_t n) { return cashu_token_set_memo(t, p, n); }
static int set_secret(void *p, const char *s, size_t n)
{
    return cashu_proof_set_secret(p, s, n);
}

static int set_witness(void *p, const char *s, size_t n)
{
    return cashu_proof_set_witness(p, s, n);
}

/* A map key. Keys we know are one letter; anything else (a long or non-text key) gets n = 0
 * and its value is skipped. */
struct key {
    char s;
    size_t n;
};

static int read_key(struct cur *c, const struct item *it, struct key *k, int depth)
{
    k->n = 0;
    if (it->kind != K_TEXT && it->kind != K_TEXT_INDEF)
        return skip_rest(c, it, depth);
    struct buf tmp;
    const char *p;
    size_t n;
    buf_init(&tmp, CASHU_TOKEN_MAX_LEN);
    int rc = read_str(c, it, K_TEXT, &tmp, &p, &n);
    if (rc == E_OK && n == 1) {
        k->s = p[0];
        k->n = 1;
    }
    buf_deinit(&tmp);
    return rc;
}

/* Marks key 'name' seen in *seen; E_PROTO if it was already. */
static int once(unsigned *seen, const char *known, char name)
{
    unsigned bit = 1u << (strchr(known, name) - known);
    if (*seen & bit)
        return E_PROTO;
    *seen |= bit;
    return E_OK;
}

static bool is_absent(const struct item *it)
{
    return it->kind == K_NULL || it->kind == K_UNDEF;
}

/* Walks a map whose head is 'it', calling fn for every entry with a known one-letter key (one
 * of 'known') and skipping the others. fn reads the value whose head it is given. */
typedef int entry_fn(struct cur *c, char key, const struct item *val, void *obj, int depth);

static int walk_map(struct cur *c, const struct item *it, const char *known, entry_fn *fn,
                    void *obj, int depth, unsigned *seen)
{
    struct coll co;
    struct item k, v;
    struct key key;
    int rc;
    if (depth > MAX_DEPTH)
        return E_LIMIT;
    if ((rc = coll_open(c, it, true, &co)) != E_OK)
        return rc;
    *seen = 0;
    while ((rc = coll_next(c, &co, &k)) == 1) {
        if ((rc = read_key(c, &k, &key, depth + 1)) != E_OK || (rc = next(c, &v)) != E_OK)
            return rc;
        if (key.n == 1 && key.s != '\0' && strchr(known, key.s)) {
            if ((rc = once(seen, known, key.s)) != E_OK ||
                (rc = fn(c, key.s, &v, obj, depth + 1)) != E_OK)
                return rc;
        } else if ((rc = skip_rest(c, &v, depth + 1)) != E_OK) {
            return rc;
        }
    }
    return rc;
}

static bool has(unsigned seen, const char *known, const char *need)
{
    for (; *need; need++) {
        if (!(seen & 1u << (strchr(known, *need) - known)))
            return false;
    }
    return true;
}

/* --- the token's maps --- */

static int dleq_entry(struct cur *c, char key, const struct item *v, void *obj, int depth)
{
    struct cashu_dleq *d = obj;
    uint8_t *dst = key == 'e' ? d->e : key == 's' ? d->s : d->r;
    size_t got;
    if (key == 'r' && is_absent(v))
        return E_OK;
    if (key == 'r')
        d->has_r = true;
    return read_bytes(c, v, dst, 32, 32, &got);
}

static int proof_entry(struct cur *c, char key, const struct item *v, void *obj, int depth)
{
    struct cashu_proof *p = obj;
    uint8_t C[33];
    size_t got;
    unsigned seen;
    int rc;
    switch (key) {
    case 'a':
        if (v->kind != K_UINT)
            return E_PROTO;
        p->amount = v->n;
        return E_OK;
    case 's':
        return read_text(c, v, CASHU_MAX_SECRET_LEN, set_secret, p);
    case 'c':
        if ((rc = read_bytes(c, v, C, 33, 33, &got)) != E_OK)
            return rc;
        return cashu_proof_set_C(p, C, 33);
    case 'd':
        if (is_absent(v))
            return E_OK;
        if ((rc = walk_map(c, v, "esr", dleq_entry, &p->dleq, depth, &seen)) != E_OK)
            return rc;
        if (!has(seen, "esr", "es"))
            return E_PROTO;
        p->has_dleq = true;
        return E_OK;
    default: /* 'w' */
        return is_absent(v) ? E_OK : read_text(c, v, CASHU_MAX_WITNESS_LEN, set_witness, p);
    }
}

struct group {
    struct cashu_token *t;
    uint8_t id[33];
    size_t id_len;
};

static int group_entry(struct cur *c, char key, const struct item *v, void *obj, int depth)
{
    struct group *g = obj;
    struct coll co;
    struct item it;
    struct cashu_proof *p;
    unsigned seen;
    int rc;
    if (key == 'i') {
        rc = read_bytes(c, v, g->id, 8, 33, &g->id_len);
        return rc == E_OK && g->id_len != 8 && g->id_len != 33 ? E_PROTO : rc;
    }
    if ((rc = coll_open(c, v, false, &co)) != E_OK)
        return rc;
    while ((rc = coll_next(c, &co, &it)) == 1) {
        if ((rc = cashu_token_push(g->t, &p)) != E_OK)
            return rc;
        if ((rc = walk_map(c, &it, "ascdw", proof_entry, p, depth + 1, &seen)) != E_OK)
            return rc;
        if (!has(seen, "ascdw", "asc"))
            return E_PROTO;
    }
    return rc;
}

static int top_entry(struct cur *c, char key, const struct item *v, void *obj, int depth)
{
    struct cashu_token *t = obj;
    struct coll co;
    struct item it;
    unsigned seen;
    int rc;
    switch (key) {
    case 'm':
        return read_text(c, v, CASHU_MAX_MINT_LEN, set_mint, t);
    case 'u':
        return read_text(c, v, CASHU_MAX_UNIT_LEN, set_unit, t);
    case 'd':
        return is_absent(v) ? E_OK : read_text(c, v, CASHU_MAX_MEMO_LEN, set_memo, t);
    default: /* 't' */
        if ((rc = coll_open(c, v, false, &co)) != E_OK)
            return rc;
        while ((rc = coll_next(c, &co, &it)) == 1) {
            struct group g = {.t = t};
            size_t first = t->n_proofs;
            if ((rc = walk_map(c, &it, "ip", group_entry, &g, depth + 1, &seen)) != E_OK)
                return rc;
            if (!has(seen, "ip", "ip"))
                return E_PROTO;
            /* 'i' may come after 'p': the group's proofs get their id at the end. */
            for (size_t i = first; i < t->n_proofs; i++) {
                if ((rc = cashu_id_from_bytes(t->proofs[i].id, g.id, g.id_len)) != E_OK)
                    return rc;
            }
        }
        return rc;
    }
}

int cashu_token_cbor_decode(struct cashu_token *t, const uint8_t *bytes, size_t n)
{
    struct cur c = {bytes, bytes + n};
    struct item it;
    unsigned seen;
    int rc;
    if ((rc = next(&c, &it)) != E_OK)
        return rc;
    if ((rc = walk_map(&c, &it, "tmud", top_entry, t, 0, &seen)) != E_OK)
        return rc;
    if (!has(seen, "tmud", "tm") || c.p != c.end)
        return E_PROTO;
    return E_OK;
}

/* --- encoding --- */

/* Appends with a sticky error, so the writer checks once at the end. */
struct enc {
    struct buf *b;
    int rc;
};

enum major { M_UINT = 0, M_BYTES = 2, M_TEXT = 3, M_ARRAY = 4, M_MAP = 5 };

static void put(struct enc *e, const void *p, size_t n)
{
    if (e->rc == E_OK && n > 0)
        e->rc = buf_append(e->b, p, n);
}

static void put_head(struct enc *e, enum major m, uint64_t v)
{
    unsigned char h[9];
    size_t n = 0;
    switch (m) {
    case M_UINT: n = cbor_encode_uint(v, h, sizeof h); break;
    case M_BYTES: n = cbor_encode_bytestring_start((size_t)v, h, sizeof h); break;
    case M_TEXT: n = cbor_encode_string_start((size_t)v, h, sizeof h); break;
    case M_ARRAY: n = cbor_encode_array_start((size_t)v, h, sizeof h); break;
    case M_MAP: n = cbor_encode_map_start((size_t)v, h, sizeof h); break;
    }
    put(e, h, n);
}

static void put_text(struct enc *e, const char *s)
{
    size_t n = strlen(s);
    put_head(e, M_TEXT, n);
    put(e, s, n);
}

static void put_bytes(struct enc *e, const uint8_t *p, size_t n)
{
    put_head(e, M_BYTES, n);
    put(e, p, n);
}

static void put_proof(struct enc *e, const struct cashu_proof *p)
{
    put_head(e, M_MAP, 3 + (p->has_dleq ? 1 : 0) + (p->witness ? 1 : 0));
    put_text(e, "a");
    put_head(e, M_UINT, p->amount);
    put_text(e, "s");
    put_text(e, p->secret);
    put_text(e, "c");
    put_bytes(e, p->C, 33);
    if (p->has_dleq) {
        put_text(e, "d");
        put_head(e, M_MAP, p->dleq.has_r ? 3 : 2);
        put_text(e, "e");
        put_bytes(e, p->dleq.e, 32);
        put_text(e, "s");
        put_bytes(e, p->dleq.s, 32);
        if (p->dleq.has_r) {
            put_text(e, "r");
            put_bytes(e, p->dleq.r, 32);
        }
    }
    if (p->witness) {
        put_text(e, "w");
        put_text(e, p->witness);
    }
}

/* True if an earlier proof has proofs[i]'s id: its group was already written. */
static bool seen_before(const struct cashu_token *t, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(t->proofs[j].id, t->proofs[i].id) == 0)
            return true;
    }
    return false;
}

int cashu_token_cbor_encode(const struct cashu_token *t, struct buf *out)
{
    struct enc e = {.b = out};
    size_t groups = 0;
    for (size_t i = 0; i < t->n_proofs; i++)
        groups += !seen_before(t, i);

    put_head(&e, M_MAP, t->memo ? 4 : 3);
    put_text(&e, "t");
    put_head(&e, M_ARRAY, groups);
    for (size_t i = 0; i < t->n_proofs; i++) {
        if (seen_before(t, i))
            continue;
        const char *id = t->proofs[i].id;
        uint8_t raw[33];
        size_t idlen = strlen(id) / 2, members = 0;
        if ((idlen != 8 && idlen != 33) || hex_decode(raw, idlen, id, 2 * idlen) != E_OK)
            return E_PROTO;
        for (size_t k = i; k < t->n_proofs; k++)
            members += strcmp(t->proofs[k].id, id) == 0;
        put_head(&e, M_MAP, 2);
        put_text(&e, "i");
        put_bytes(&e, raw, idlen);
        put_text(&e, "p");
        put_head(&e, M_ARRAY, members);
        for (size_t k = i; k < t->n_proofs; k++) {
            if (strcmp(t->proofs[k].id, id) == 0)
                put_proof(&e, &t->proofs[k]);
        }
    }
    if (t->memo) {
        put_text(&e, "d");
        put_text(&e, t->memo);
    }
    put_text(&e, "m");
    put_text(&e, t->mint);
    put_text(&e, "u");
    put_text(&e, t->unit);
    return e.rc;
}
