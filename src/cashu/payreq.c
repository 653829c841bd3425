/* payreq.c -- payment requests: the struct, its builders, and the NUT-18 "creqA" form.
 *
 *   creqA = "creqA" + base64url(CBOR {"i"?: text, "a"?: uint, "u"?: text, "s"?: bool,
 *                                     "m"?: [text], "d"?: text,
 *                                     "t"?: [{"t": text, "a": text, "g"?: [[text]]}],
 *                                     "nut10"?: {"k": text, "d": text, "t"?: [[text]]}})
 *
 * Every field reaches the struct through the builders below (shared with payreq_bech32.c, the
 * creqB form), which hold the rules both forms share: UTF-8 without NUL, count caps. A request
 * is decoded into a local struct and handed to the caller only when complete.
 *
 * The CBOR walker pulls one item head at a time from libcbor's streaming decoder, as
 * token_cbor.c does and for the same reasons: nothing is allocated for a peer's declared
 * counts (a count above the bytes left is a lie), nesting is capped, work is linear. Definite
 * and indefinite lengths are accepted, tags (CBOR's) skipped, unknown keys skipped whatever
 * their value, null and undefined mean absent; trailing bytes are E_PROTO.
 *
 * The encoder writes the keys in the order the NUT-18 vectors use (t, i, a, u, m, d, s, nut10;
 * t, a, g; k, d, t), so our requests match theirs byte for byte. One difference: for a
 * transport without tags those vectors write "g": undefined, which we leave out (RFC 8949
 * §5.3: a strict decoder may refuse undefined). */
#include "cashu/payreq.h"

#include <string.h>

#include <cbor.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/cashu_int.h"

#define PREFIX_LEN 5 /* "creqA", "creqb" */
#define MAX_DEPTH 16

/* --- builders --- */

int cashu_payreq_set_str(char **field, const char *p, size_t n)
{
    int rc = cashu_check_text(p, n, CASHU_PAYREQ_MAX_LEN);
    if (rc != E_OK)
        return rc;
    free(*field);
    *field = xstrndup(n ? p : "", n);
    return E_OK;
}

int cashu_payreq_add_mint(struct cashu_payreq *req, const char *p, size_t n)
{
    char *s = NULL;
    int rc;
    if (req->n_mints >= CASHU_PAYREQ_MAX_MINTS)
        return E_LIMIT;
    if ((rc = cashu_payreq_set_str(&s, p, n)) != E_OK)
        return rc;
    req->mints = xrealloc(req->mints, (req->n_mints + 1) * sizeof *req->mints);
    req->mints[req->n_mints++] = s;
    return E_OK;
}

int cashu_payreq_add_transport(struct cashu_payreq *req, struct cashu_payreq_transport **out)
{
    if (req->n_transports >= CASHU_PAYREQ_MAX_TRANSPORTS)
        return E_LIMIT;
    req->transports =
        xrealloc(req->transports, (req->n_transports + 1) * sizeof *req->transports);
    *out = &req->transports[req->n_transports++];
    **out = (struct cashu_payreq_transport){0};
    return E_OK;
}

int cashu_payreq_add_tag(struct cashu_payreq_tags *tags, struct cashu_payreq_tag **out)
{
    if (tags->n >= CASHU_PAYREQ_MAX_TAGS)
        return E_LIMIT;
    tags->v = xrealloc(tags->v, (tags->n + 1) * sizeof *tags->v);
    *out = &tags->v[tags->n++];
    **out = (struct cashu_payreq_tag){0};
    return E_OK;
}

int cashu_payreq_tag_push(struct cashu_payreq_tag *tag, const char *p, size_t n)
{
    char *s = NULL;
    int rc;
    if (tag->n >= CASHU_PAYREQ_MAX_TAG_ITEMS)
        return E_LIMIT;
    if ((rc = cashu_payreq_set_str(&s, p, n)) != E_OK)
        return rc;
    tag->s = xrealloc(tag->s, (tag->n + 1) * sizeof *tag->s);
    tag->s[tag->n++] = s;
    return E_OK;
}

static int add_mint_str(struct cashu_payreq *req, const char *s)
{
    return s ? cashu_payreq_add_mint(req, s, strlen(s)) : E_PROTO;
}

int cashu_payreq_init_nut24(struct cashu_payreq *req, uint64_t amount, const char *unit,
                            const char *const *mints, size_t n_mints)
{
    struct cashu_payreq r = {.has_amount = true, .amount = amount};
    int rc = unit && n_mints > 0 ? E_OK : E_PROTO;
    if (rc == E_OK)
        rc = cashu_payreq_set_str(&r.unit, unit, strlen(unit));
    for (size_t i = 0; rc == E_OK && i < n_mints; i++)
        rc = add_mint_str(&r, mints[i]);
    if (rc != E_OK)
        cashu_payreq_deinit(&r);
    *req = r;
    return rc;
}

/* --- checks, comparison, teardown --- */

/* A string the decoders would accept: present unless optional, UTF-8 without NUL. */
static int check_str(const char *s, bool optional)
{
    if (s == NULL)
        return optional ? E_OK : E_PROTO;
    return cashu_check_text(s, strlen(s), CASHU_PAYREQ_MAX_LEN);
}

static int check_tags(const struct cashu_payreq_tags *t)
{
    int rc;
    if (t->n > CASHU_PAYREQ_MAX_TAGS)
        return E_LIMIT;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].n > CASHU_PAYREQ_MAX_TAG_ITEMS)
            return E_LIMIT;
        for (size_t j = 0; j < t->v[i].n; j++) {
            if ((rc = check_str(t->v[i].s[j], false)) != E_OK)
                return rc;
        }
    }
    return E_OK;
}

int cashu_payreq_check(const struct cashu_payreq *req)
{
    int rc;
    if (req->n_mints > CASHU_PAYREQ_MAX_MINTS || req->n_transports > CASHU_PAYREQ_MAX_TRANSPORTS)
        return E_LIMIT;
    if ((rc = check_str(req->id, true)) != E_OK || (rc = check_str(req->unit, true)) != E_OK ||
        (rc = check_str(req->description, true)) != E_OK)
        return rc;
    for (size_t i = 0; i < req->n_mints; i++) {
        if ((rc = check_str(req->mints[i], false)) != E_OK)
            return rc;
    }
    for (size_t i = 0; i < req->n_transports; i++) {
        const struct cashu_payreq_transport *tp = &req->transports[i];
        if ((rc = check_str(tp->type, false)) != E_OK ||
            (rc = check_str(tp->target, false)) != E_OK || (rc = check_tags(&tp->tags)) != E_OK)
            return rc;
    }
    if (req->has_nut10) {
        const struct cashu_payreq_nut10 *n = &req->nut10;
        if ((rc = check_str(n->kind, false)) != E_OK || (rc = check_str(n->data, false)) != E_OK ||
            (rc = check_tags(&n->tags)) != E_OK)
            return rc;
    }
    return E_OK;
}

static bool str_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool tags_same(const struct cashu_payreq_tags *a, const struct cashu_payreq_tags *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].n != b->v[i].n)
            return false;
        for (size_t j = 0; j < a->v[i].n; j++) {
            if (!str_same(a->v[i].s[j], b->v[i].s[j]))
                return false;
        }
    }
    return true;
}

bool cashu_payreq_equal(const struct cashu_payreq *a, const struct cashu_payreq *b)
{
    if (!str_same(a->id, b->id) || a->has_amount != b->has_amount ||
        (a->has_amount && a->amount != b->amount) || !str_same(a->unit, b->unit) ||
        a->has_single_use != b->has_single_use ||
        (a->has_single_use && a->single_use != b->single_use) ||
        !str_same(a->description, b->description) || a->n_mints != b->n_mints ||
        a->n_transports != b->n_transports || a->has_nut10 != b->has_nut10)
        return false;
    for (size_t i = 0; i < a->n_mints; i++) {
        if (!str_same(a->mints[i], b->mints[i]))
            return false;
    }
    for (size_t i = 0; i < a->n_transports; i++) {
        const struct cashu_payreq_transport *p = &a->transports[i], *q = &b->transports[i];
        if (!str_same(p->type, q->type) || !str_same(p->target, q->target) ||
            !tags_same(&p->tags, &q->tags))
            return false;
    }
    return !a->has_nut10 ||
           (str_same(a->nut10.kind, b->nut10.kind) && str_same(a->nut10.data, b->nut10.data) &&
            tags_same(&a->nut10.tags, &b->nut10.tags));
}

static void tags_free(struct cashu_payreq_tags *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t j = 0; j < t->v[i].n; j++)
            free(t->v[i].s[j]);
        free(t->v[i].s);
    }
    free(t->v);
}

void cashu_payreq_deinit(struct cashu_payreq *req)
{
    free(req->id);
    free(req->unit);
    free(req->description);
    for (size_t i = 0; i < req->n_mints; i++)
        free(req->mints[i]);
    free(req->mints);
    for (size_t i = 0; i < req->n_transports; i++) {
        free(req->transports[i].type);
        free(req->transports[i].target);
        tags_free(&req->transports[i].tags);
    }
    free(req->transports);
    free(req->nut10.kind);
    free(req->nut10.data);
    tags_free(&req->nut10.tags);
    *req = (struct cashu_payreq){0};
}

/* --- decoding: the front --- */

int cashu_payreq_decode(struct cashu_payreq *out, const char *s, size_t len)
{
    struct str in = {s, len};
    if (len > CASHU_PAYREQ_MAX_LEN)
        return E_LIMIT;
    if (str_ihas_prefix(in, "creqa"))
        return cashu_payreq_decode_creqA(out, s, len);
    if (str_ihas_prefix(in, "creqb1"))
        return cashu_payreq_decode_creqB(out, s, len);
    return E_PROTO;
}

/* --- the CBOR pull parser (see token_cbor.c for the same design) --- */

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
    uint64_t n;       /* an integer's value, a string's length, a container's count, a bool */
    const uint8_t *p; /* a definite string's body, inside the input */
};

struct cur {
    const uint8_t *p, *end;
};

static void set(void *ctx, enum kind k, uint64_t n, const uint8_t *p)
{
    *(struct item *)ctx = (struct item){.kind = k, .n = n, .p = p};
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

static size_t left(const struct cur *c)
{
    return (size_t)(c->end - c->p);
}

/* Reads the next item head into *it, skipping CBOR tags. */
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

static bool is_absent(const struct item *it)
{
    return it->kind == K_NULL || it->kind == K_UNDEF;
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
    if (it->n > left(c) / (map ? 2 : 1)) /* each item takes a byte at least */
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
            if (map && ((rc = next(c, &sub)) != E_OK ||
                        (rc = skip_rest(c, &sub, depth + 1)) != E_OK))
                return rc;
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

/* A text string whose head is 'it', as a slice: a definite one points into the input, an
 * indefinite one is joined in 'tmp' (capped: the input is). */
static int read_text(struct cur *c, const struct item *it, struct buf *tmp, const char **p,
                     size_t *n)
{
    struct item ch;
    int rc;
    if (it->kind == K_TEXT) {
        *p = (const char *)it->p;
        *n = it->n;
        return E_OK;
    }
    if (it->kind != K_TEXT_INDEF)
        return E_PROTO;
    buf_reset(tmp);
    while ((rc = next(c, &ch)) == E_OK && ch.kind != K_BREAK) {
        if (ch.kind != K_TEXT)
            return E_PROTO;
        if ((rc = buf_append(tmp, ch.p, ch.n)) != E_OK)
            return rc;
    }
    if (rc != E_OK)
        return rc;
    *p = tmp->len ? tmp->p : "";
    *n = tmp->len;
    return E_OK;
}

/* Reads a text value into *field. */
static int text_into(struct cur *c, const struct item *it, char **field)
{
    struct buf tmp;
    const char *p;
    size_t n;
    buf_init(&tmp, CASHU_PAYREQ_MAX_LEN);
    int rc = read_text(c, it, &tmp, &p, &n);
    if (rc == E_OK)
        rc = cashu_payreq_set_str(field, p, n);
    buf_deinit(&tmp);
    return rc;
}

/* An optional text value: absent leaves *field NULL. */
static int opt_text(struct cur *c, const struct item *it, char **field)
{
    return is_absent(it) ? E_OK : text_into(c, it, field);
}

/* Each map is read against a list of its known keys; the index of a key found is passed to the
 * entry callback, and a bit per index catches a key given twice. */
typedef int entry_fn(struct cur *c, int key, const struct item *val, void *obj, int depth);

/* Sets *idx to the index of the key whose head is 'it' in 'keys', or -1 for another key. */
static int key_index(struct cur *c, const struct item *it, const char *const *keys, int depth,
                     int *idx)
{
    struct buf tmp;
    const char *p;
    size_t n;
    int rc;
    *idx = -1;
    if (it->kind != K_TEXT && it->kind != K_TEXT_INDEF)
        return skip_rest(c, it, depth); /* a key of another type: never one of ours */
    buf_init(&tmp, CASHU_PAYREQ_MAX_LEN);
    rc = read_text(c, it, &tmp, &p, &n);
    for (int i = 0; rc == E_OK && keys[i]; i++) {
        if (strlen(keys[i]) == n && memcmp(keys[i], p, n) == 0)
            *idx = i;
    }
    buf_deinit(&tmp);
    return rc;
}

static int walk_map(struct cur *c, const struct item *it, const char *const *keys, entry_fn *fn,
                    void *obj, int depth, unsigned *seen)
{
    struct coll co;
    struct item k, v;
    int rc;
    if (depth > MAX_DEPTH)
        return E_LIMIT;
    if ((rc = coll_open(c, it, true, &co)) != E_OK)
        return rc;
    *seen = 0;
    while ((rc = coll_next(c, &co, &k)) == 1) {
        int idx;
        if ((rc = key_index(c, &k, keys, depth + 1, &idx)) != E_OK || (rc = next(c, &v)) != E_OK)
            return rc;
        if (idx < 0) {
            rc = skip_rest(c, &v, depth + 1);
        } else if (*seen & 1u << idx) {
            rc = E_PROTO;
        } else {
            *seen |= 1u << idx;
            rc = fn(c, idx, &v, obj, depth + 1);
        }
        if (rc != E_OK)
            return rc;
    }
    return rc;
}

/* An array of tags (NUT-18 "g", NUT-10 "t"): [[text, ...], ...]; absent is empty. */
static int read_tags(struct cur *c, const struct item *it, struct cashu_payreq_tags *tags)
{
    struct coll outer, inner;
    struct item t, s;
    struct cashu_payreq_tag *tag;
    struct buf tmp;
    const char *p;
    size_t n;
    int rc;
    if (is_absent(it))
        return E_OK;
    if ((rc = coll_open(c, it, false, &outer)) != E_OK)
        return rc;
    buf_init(&tmp, CASHU_PAYREQ_MAX_LEN);
    while ((rc = coll_next(c, &outer, &t)) == 1) {
        if ((rc = coll_open(c, &t, false, &inner)) != E_OK ||
            (rc = cashu_payreq_add_tag(tags, &tag)) != E_OK)
            break;
        while ((rc = coll_next(c, &inner, &s)) == 1) {
            if ((rc = read_text(c, &s, &tmp, &p, &n)) != E_OK ||
                (rc = cashu_payreq_tag_push(tag, p, n)) != E_OK)
                break;
        }
        if (rc != E_OK)
            break;
    }
    buf_deinit(&tmp);
    return rc;
}

/* --- the request's maps --- */

static const char *const transport_keys[] = {"t", "a", "g", NULL};
static const char *const nut10_keys[] = {"k", "d", "t", NULL};
static const char *const top_keys[] = {"i", "a", "u", "s", "m", "d", "t", "nut10", NULL};
enum { TOP_I, TOP_A, TOP_U, TOP_S, TOP_M, TOP_D, TOP_T, TOP_NUT10 };

static int transport_entry(struct cur *c, int key, const struct item *v, void *obj, int depth)
{
    struct cashu_payreq_transport *tp = obj;
    switch (key) {
    case 0: return opt_text(c, v, &tp->type);
    case 1: return opt_text(c, v, &tp->target);
    default: return read_tags(c, v, &tp->tags);
    }
}

static int nut10_entry(struct cur *c, int key, const struct item *v, void *obj, int depth)
{
    struct cashu_payreq_nut10 *n = obj;
    switch (key) {
    case 0: return opt_text(c, v, &n->kind);
    case 1: return opt_text(c, v, &n->data);
    default: return read_tags(c, v, &n->tags);
    }
}

static int read_mints(struct cur *c, const struct item *v, struct cashu_payreq *r)
{
    struct coll co;
    struct item it;
    struct buf tmp;
    const char *p;
    size_t n;
    int rc;
    if (is_absent(v))
        return E_OK;
    if ((rc = coll_open(c, v, false, &co)) != E_OK)
        return rc;
    buf_init(&tmp, CASHU_PAYREQ_MAX_LEN);
    while ((rc = coll_next(c, &co, &it)) == 1) {
        if ((rc = read_text(c, &it, &tmp, &p, &n)) != E_OK ||
            (rc = cashu_payreq_add_mint(r, p, n)) != E_OK)
            break;
    }
    buf_deinit(&tmp);
    return rc;
}

static int read_transports(struct cur *c, const struct item *v, struct cashu_payreq *r,
                           int depth)
{
    struct coll co;
    struct item it;
    struct cashu_payreq_transport *tp;
    unsigned seen;
    int rc;
    if (is_absent(v))
        return E_OK;
    if ((rc = coll_open(c, v, false, &co)) != E_OK)
        return rc;
    while ((rc = coll_next(c, &co, &it)) == 1) {
        if ((rc = cashu_payreq_add_transport(r, &tp)) != E_OK ||
            (rc = walk_map(c, &it, transport_keys, transport_entry, tp, depth + 1, &seen)) !=
                E_OK)
            return rc;
        if (tp->type == NULL || tp->target == NULL) /* NUT-18: both required */
            return E_PROTO;
    }
    return rc;
}

static int top_entry(struct cur *c, int key, const struct item *v, void *obj, int depth)
{
    struct cashu_payreq *r = obj;
    unsigned seen;
    int rc;
    switch (key) {
    case TOP_I: return opt_text(c, v, &r->id);
    case TOP_U: return opt_text(c, v, &r->unit);
    case TOP_D: return opt_text(c, v, &r->description);
    case TOP_M: return read_mints(c, v, r);
    case TOP_T: return read_transports(c, v, r, depth);
    case TOP_A:
        if (is_absent(v))
            return E_OK;
        if (v->kind != K_UINT)
            return E_PROTO;
        r->has_amount = true;
        r->amount = v->n;
        return E_OK;
    case TOP_S:
        if (is_absent(v))
            return E_OK;
        if (v->kind != K_BOOL)
            return E_PROTO;
        r->has_single_use = true;
        r->single_use = v->n != 0;
        return E_OK;
    default: /* TOP_NUT10 */
        if (is_absent(v))
            return E_OK;
        if ((rc = walk_map(c, v, nut10_keys, nut10_entry, &r->nut10, depth, &seen)) != E_OK)
            return rc;
        if (r->nut10.kind == NULL || r->nut10.data == NULL)
            return E_PROTO;
        r->has_nut10 = true;
        return E_OK;
    }
}

static int cbor_decode(struct cashu_payreq *r, const uint8_t *bytes, size_t n)
{
    struct cur c = {bytes, bytes + n};
    struct item it;
    unsigned seen;
    int rc;
    if ((rc = next(&c, &it)) != E_OK ||
        (rc = walk_map(&c, &it, top_keys, top_entry, r, 0, &seen)) != E_OK)
        return rc;
    return c.p == c.end ? E_OK : E_PROTO;
}

int cashu_payreq_decode_creqA(struct cashu_payreq *out, const char *s, size_t len)
{
    struct cashu_payreq r = {0};
    uint8_t *bytes;
    size_t n;
    int rc;
    if (len > CASHU_PAYREQ_MAX_LEN)
        return E_LIMIT;
    if (!str_ihas_prefix((struct str){s, len}, "creqa"))
        return E_PROTO;
    s += PREFIX_LEN, len -= PREFIX_LEN;
    bytes = xmalloc(b64_decoded_max(len) + 1);
    /* NUT-18 says base64url, yet its vectors use the standard alphabet: take either. */
    rc = b64_decode_any(bytes, b64_decoded_max(len) + 1, &n, s, len);
    if (rc == E_OK)
        rc = cbor_decode(&r, bytes, n);
    free(bytes);
    if (rc != E_OK) {
        cashu_payreq_deinit(&r);
        return rc == E_LIMIT ? E_LIMIT : E_PROTO;
    }
    *out = r;
    return E_OK;
}

/* --- encoding --- */

/* Appends with a sticky error, so the writer checks once at the end. */
struct enc {
    struct buf *b;
    int rc;
};

enum major { M_UINT = 0, M_TEXT = 3, M_ARRAY = 4, M_MAP = 5 };

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

static void put_tags(struct enc *e, const struct cashu_payreq_tags *t)
{
    put_head(e, M_ARRAY, t->n);
    for (size_t i = 0; i < t->n; i++) {
        put_head(e, M_ARRAY, t->v[i].n);
        for (size_t j = 0; j < t->v[i].n; j++)
            put_text(e, t->v[i].s[j]);
    }
}

static void put_transport(struct enc *e, const struct cashu_payreq_transport *tp)
{
    put_head(e, M_MAP, tp->tags.n ? 3 : 2);
    put_text(e, "t");
    put_text(e, tp->type);
    put_text(e, "a");
    put_text(e, tp->target);
    if (tp->tags.n) {
        put_text(e, "g");
        put_tags(e, &tp->tags);
    }
}

static void cbor_encode(struct enc *e, const struct cashu_payreq *r)
{
    put_head(e, M_MAP, (r->n_transports > 0) + (r->id != NULL) + r->has_amount +
                           (r->unit != NULL) + (r->n_mints > 0) + (r->description != NULL) +
                           r->has_single_use + r->has_nut10);
    if (r->n_transports) {
        put_text(e, "t");
        put_head(e, M_ARRAY, r->n_transports);
        for (size_t i = 0; i < r->n_transports; i++)
            put_transport(e, &r->transports[i]);
    }
    if (r->id) {
        put_text(e, "i");
        put_text(e, r->id);
    }
    if (r->has_amount) {
        put_text(e, "a");
        put_head(e, M_UINT, r->amount);
    }
    if (r->unit) {
        put_text(e, "u");
        put_text(e, r->unit);
    }
    if (r->n_mints) {
        put_text(e, "m");
        put_head(e, M_ARRAY, r->n_mints);
        for (size_t i = 0; i < r->n_mints; i++)
            put_text(e, r->mints[i]);
    }
    if (r->description) {
        put_text(e, "d");
        put_text(e, r->description);
    }
    if (r->has_single_use) {
        uint8_t b = r->single_use ? 0xf5 : 0xf4; /* RFC 8949 §3.3: simple values 21, 20 */
        put_text(e, "s");
        put(e, &b, 1);
    }
    if (r->has_nut10) {
        put_text(e, "nut10");
        put_head(e, M_MAP, r->nut10.tags.n ? 3 : 2);
        put_text(e, "k");
        put_text(e, r->nut10.kind);
        put_text(e, "d");
        put_text(e, r->nut10.data);
        if (r->nut10.tags.n) {
            put_text(e, "t");
            put_tags(e, &r->nut10.tags);
        }
    }
}

int cashu_payreq_encode_creqA(const struct cashu_payreq *req, char **out)
{
    struct buf b;
    struct enc e = {.b = &b};
    int rc = cashu_payreq_check(req);
    if (rc != E_OK)
        return rc;
    buf_init(&b, CASHU_PAYREQ_MAX_LEN); /* base64 only grows it: a larger one cannot fit */
    cbor_encode(&e, req);
    size_t n = b64_encoded_len(b.len, true);
    if (e.rc == E_OK && PREFIX_LEN + n > CASHU_PAYREQ_MAX_LEN)
        e.rc = E_LIMIT;
    if (e.rc == E_OK) {
        char *s = xmalloc(PREFIX_LEN + n + 1);
        memcpy(s, "creqA", PREFIX_LEN);
        b64url_encode(s + PREFIX_LEN, (const uint8_t *)b.p, b.len, true);
        *out = s;
    }
    buf_deinit(&b);
    return e.rc;
}
