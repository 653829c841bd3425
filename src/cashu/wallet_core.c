/* wallet_core.c -- the wallet's state, its keyset cache, and the helpers every operation uses:
 * outputs derived from the seed, and signatures turned into proofs.
 *
 * Keysets are fetched from the mint when a token names one we do not know or when we need an
 * active keyset for outputs; each is checked by recomputing its id (NUT-02) before use and is
 * saved in the store, so later offline checks (DLEQ) and restarts have the keys. */
#include "cashu/wallet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"
#include "cashu/nut13.h"

struct cashu_wallet *cashu_wallet_new(const struct cashu_wallet_opts *o)
{
    struct cashu_wallet *w = xcalloc(1, sizeof(*w));
    w->http = o->http;
    w->store = o->store;
    memcpy(w->seed, o->seed, 64);
    w->proxy = o->proxy ? xstrdup(o->proxy) : NULL;
    w->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    cashu_yset_init(&w->spent, WALLET_SPENT_CAP);
    cashu_wallet_set_mints(w, o->mints);
    return w;
}

/* Takes the state of 'url' out of 'list' (NULL when absent). */
static struct mint_state *take(struct mint_state **list, size_t *n, const char *url, size_t len)
{
    for (size_t i = 0; i < *n; i++) {
        if (strlen(list[i]->url) == len && strncmp(list[i]->url, url, len) == 0) {
            struct mint_state *m = list[i];
            memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof(*list));
            (*n)--;
            return m;
        }
    }
    return NULL;
}

void cashu_wallet_set_mints(struct cashu_wallet *w, const char *mints)
{
    /* Operations in flight hold pointers to mint states: none is freed before the wallet. */
    struct mint_state **fresh = NULL;
    size_t n_fresh = 0;
    for (const char *p = mints ? mints : ""; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct mint_state *m = NULL;
        for (size_t i = 0; n && i < n_fresh && m == NULL; i++)
            if (strlen(fresh[i]->url) == n && strncmp(fresh[i]->url, p, n) == 0)
                m = fresh[i]; /* listed twice */
        if (n && m == NULL) {
            m = take(w->mints, &w->n_mints, p, n);
            if (m == NULL)
                m = take(w->untrusted, &w->n_untrusted, p, n);
            if (m == NULL) {
                m = xcalloc(1, sizeof(*m));
                m->url = xstrndup(p, n);
            }
            fresh = xrealloc(fresh, (n_fresh + 1) * sizeof(*fresh));
            fresh[n_fresh++] = m;
        }
        p += n + (comma ? 1 : 0);
    }
    if (w->n_mints) {
        w->untrusted = xrealloc(w->untrusted,
                                (w->n_untrusted + w->n_mints) * sizeof(*w->untrusted));
        memcpy(w->untrusted + w->n_untrusted, w->mints, w->n_mints * sizeof(*w->mints));
        w->n_untrusted += w->n_mints;
    }
    free(w->mints);
    w->mints = fresh;
    w->n_mints = n_fresh;
}

static void mint_state_free(struct mint_state *m)
{
    for (size_t j = 0; j < m->n_sets; j++)
        cashu_keyset_deinit(&m->sets[j]);
    free(m->sets);
    free(m->url);
    free(m);
}

void cashu_wallet_free(struct cashu_wallet *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n_mints; i++)
        mint_state_free(w->mints[i]);
    for (size_t i = 0; i < w->n_untrusted; i++)
        mint_state_free(w->untrusted[i]);
    free(w->mints);
    free(w->untrusted);
    free(w->proxy);
    cashu_yset_deinit(&w->spent);
    secure_zero(w->seed, sizeof(w->seed));
    free(w);
}

const char *cashu_wallet_primary(const struct cashu_wallet *w)
{
    return w->n_mints ? w->mints[0]->url : NULL;
}

const struct cashu_wallet_stats *cashu_wallet_stats(const struct cashu_wallet *w)
{
    return &w->stats;
}

void wallet_count_token(struct cashu_wallet *w, bool in, uint64_t amount, const char *unit)
{
    if (unit == NULL)
        unit = "sat"; /* a token that names no unit */
    int64_t msat = strcmp(unit, "sat") == 0    ? (int64_t)amount * 1000
                   : strcmp(unit, "msat") == 0 ? (int64_t)amount
                                               : 0; /* other units have no msat value */
    if (in) {
        w->stats.tokens_in++;
        w->stats.msat_in += msat;
    } else {
        w->stats.tokens_out++;
        w->stats.msat_out += msat;
    }
}

struct mint_state *wallet_mint(struct cashu_wallet *w, const char *url)
{
    for (size_t i = 0; i < w->n_mints; i++)
        if (strcmp(w->mints[i]->url, url) == 0)
            return w->mints[i];
    return NULL;
}

bool cashu_wallet_trusts(const struct cashu_wallet *w, const char *mint_url)
{
    return wallet_mint((struct cashu_wallet *)w, mint_url) != NULL;
}

int wallet_call(struct cashu_wallet *w, const char *mint, const char *method, const char *path,
                const json_t *body, long timeout_ms, cashu_mint_fn *cb, void *ud)
{
    struct cashu_mint_opts o = {.timeout_ms = timeout_ms ? timeout_ms : w->timeout_ms,
                                .proxy = w->proxy, .stats = &w->stats.mint};
    return cashu_mint_call(w->http, mint, method, path, body, &o, cb, ud);
}

void wallet_op_id(char out[33])
{
    uint8_t b[16];
    if (crypto_random(b, sizeof(b)) != 0)
        abort();
    hex_encode(out, b, sizeof(b));
}

/* Keysets */

const struct cashu_keyset *wallet_keyset(const struct mint_state *m, const char *id)
{
    size_t idx;
    if (cashu_keyset_resolve(m->sets, m->n_sets, &idx, id) != 0)
        return NULL;
    return &m->sets[idx];
}

const struct cashu_keyset *wallet_active_keyset(const struct mint_state *m, const char *unit)
{
    const struct cashu_keyset *best = NULL;
    for (size_t i = 0; i < m->n_sets; i++) {
        const struct cashu_keyset *k = &m->sets[i];
        if (k->active && strcmp(k->unit, unit) == 0 && (!best || k->n_keys > best->n_keys))
            best = k;
    }
    return best;
}

struct ensure {
    struct cashu_wallet *w;
    struct mint_state *m;
    char *unit;
    char **ids;
    size_t n_ids;
    json_t *listing; /* /v1/keysets answer */
    size_t next;     /* position in the listing */
    wallet_keys_fn *cb;
    void *ud;
};

static bool have_all(const struct ensure *e)
{
    for (size_t i = 0; i < e->n_ids; i++)
        if (wallet_keyset(e->m, e->ids[i]) == NULL)
            return false;
    return wallet_active_keyset(e->m, e->unit) != NULL;
}

static void ensure_end(struct ensure *e, int status, const char *message)
{
    e->cb(status, message, e->ud);
    for (size_t i = 0; i < e->n_ids; i++)
        free(e->ids[i]);
    free(e->ids);
    free(e->unit);
    json_decref(e->listing);
    free(e);
}

static void saved(int status, void *ud)
{
    if (status != 0)
        log_warn("wallet: could not save a keyset (%d)", status);
}

static void fetch_next(struct ensure *e);

/* GET /v1/keys/{id} answered: check the id, add the keyset to the cache and the store. */
static void on_keys(const struct cashu_mint_res *r, void *ud)
{
    struct ensure *e = ud;
    json_t *meta = json_array_get(e->listing, e->next - 1);
    json_t *sets = r->status == CASHU_MINT_OK ? json_object_get(r->json, "keysets") : NULL;
    json_t *obj = json_array_get(sets, 0);
    if (!json_is_object(obj)) {
        ensure_end(e, E_IO, "the mint did not send its keys");
        return;
    }
    /* Fee and expiry are part of a v2 id: take them from the listing when /keys omits them. */
    json_t *copy = json_copy(obj);
    static const char *const from_listing[] = {"input_fee_ppk", "final_expiry", "active"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(copy, from_listing[i]) == NULL && json_object_get(meta, from_listing[i]))
            json_object_set(copy, from_listing[i], json_object_get(meta, from_listing[i]));
    struct cashu_keyset ks;
    int rc = cashu_keyset_parse(&ks, copy);
    json_decref(copy);
    if (rc == 0 && (rc = cashu_keyset_check_new(e->m->sets, e->m->n_sets, &ks)) != 0)
        cashu_keyset_deinit(&ks);
    if (rc != 0) {
        /* A keyset whose id does not match its keys, or collides with a known one (NUT-02). */
        log_warn("wallet: mint %s: keyset refused (%s)", e->m->url, err_name(rc));
        fetch_next(e);
        return;
    }
    /* The listing is authoritative for 'active' (a /keys answer may omit it). */
    ks.active = json_is_true(json_object_get(meta, "active"));
    e->m->sets = xrealloc(e->m->sets, (e->m->n_sets + 1) * sizeof(*e->m->sets));
    e->m->sets[e->m->n_sets++] = ks;
    char *keys_json = json_dumps(json_object_get(obj, "keys"), JSON_COMPACT);
    struct store_keyset sk = {ks.id, e->m->url, ks.unit, ks.active, (int64_t)ks.input_fee_ppk,
                              keys_json};
    store_keyset_put(e->w->store, &sk, saved, NULL);
    free(keys_json);
    fetch_next(e);
}

/* Walks the listing, fetching the keys of every keyset we lack that is active in our unit or
 * named by the token. */
static void fetch_next(struct ensure *e)
{
    while (e->next < json_array_size(e->listing)) {
        json_t *meta = json_array_get(e->listing, e->next++);
        const char *id = json_string_value(json_object_get(meta, "id"));
        const char *unit = json_string_value(json_object_get(meta, "unit"));
        if (id == NULL || strlen(id) > CASHU_KEYSET_ID_HEX_MAX)
            continue;
        bool wanted = json_is_true(json_object_get(meta, "active")) && unit &&
                      strcmp(unit, e->unit) == 0;
        for (size_t i = 0; i < e->n_ids && !wanted; i++)
            wanted = strncmp(id, e->ids[i], strlen(e->ids[i])) == 0;
        bool known = false;
        for (size_t i = 0; i < e->m->n_sets && !known; i++)
            known = strcmp(e->m->sets[i].id, id) == 0;
        if (!wanted || known)
            continue;
        char path[128];
        snprintf(path, sizeof(path), "/v1/keys/%s", id);
        if (wallet_call(e->w, e->m->url, "GET", path, NULL, 0, on_keys, e) != 0)
            ensure_end(e, E_IO, "cannot reach the mint");
        return;
    }
    if (have_all(e))
        ensure_end(e, 0, NULL);
    else
        ensure_end(e, E_NOTFOUND, "the token names a keyset the mint does not have");
}

static void on_listing(const struct cashu_mint_res *r, void *ud)
{
    struct ensure *e = ud;
    json_t *list = r->status == CASHU_MINT_OK ? json_object_get(r->json, "keysets") : NULL;
    if (!json_is_array(list)) {
        ensure_end(e, r->status == CASHU_MINT_OK ? E_PROTO : E_IO,
                   "cannot get the mint's keysets");
        return;
    }
    e->listing = json_incref(list);
    /* Refresh 'active' of what we know: a rotated keyset must not get new outputs. */
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *meta = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(meta, "id"));
        for (size_t j = 0; id && j < e->m->n_sets; j++)
            if (strcmp(e->m->sets[j].id, id) == 0)
                e->m->sets[j].active = json_is_true(json_object_get(meta, "active"));
    }
    fetch_next(e);
}

static void ensure_start(struct ensure *e)
{
    if (have_all(e)) {
        ensure_end(e, 0, NULL);
        return;
    }
    if (wallet_call(e->w, e->m->url, "GET", "/v1/keysets", NULL, 0, on_listing, e) != 0)
        ensure_end(e, E_IO, "cannot reach the mint");
}

/* The keysets saved earlier: a restart needs no round trip to the mint for what it knew. Each is
 * checked again (its id recomputed) as if it came from the mint. */
static void on_stored(int status, const struct store_rows *rows, void *ud)
{
    struct ensure *e = ud;
    e->m->loaded = true;
    for (size_t i = 0; status == 0 && i < rows->nrows; i++) {
        json_error_t jerr;
        json_t *keys = json_loads(store_cell(rows, i, 5), 0, &jerr);
        json_t *obj = json_pack("{s:s, s:s, s:b, s:I, s:o}", "id", store_cell(rows, i, 0),
                                "unit", store_cell(rows, i, 2), "active",
                                store_cell_i64(rows, i, 3) != 0, "input_fee_ppk",
                                (json_int_t)store_cell_i64(rows, i, 4), "keys",
                                keys ? keys : json_object());
        struct cashu_keyset ks;
        if (obj && cashu_keyset_parse(&ks, obj) == 0) {
            if (cashu_keyset_check_new(e->m->sets, e->m->n_sets, &ks) == 0 &&
                wallet_keyset(e->m, ks.id) == NULL) {
                ks.active = store_cell_i64(rows, i, 3) != 0;
                e->m->sets = xrealloc(e->m->sets, (e->m->n_sets + 1) * sizeof(*e->m->sets));
                e->m->sets[e->m->n_sets++] = ks;
            } else {
                cashu_keyset_deinit(&ks);
            }
        }
        json_decref(obj);
    }
    ensure_start(e);
}

void wallet_ensure_keys(struct cashu_wallet *w, struct mint_state *m, const char *unit,
                        const char *const *ids, size_t n_ids, wallet_keys_fn *cb, void *ud)
{
    struct ensure *e = xcalloc(1, sizeof(*e));
    e->w = w;
    e->m = m;
    e->unit = xstrdup(unit);
    e->cb = cb;
    e->ud = ud;
    e->ids = xcalloc(n_ids ? n_ids : 1, sizeof(char *));
    for (size_t i = 0; i < n_ids; i++)
        e->ids[e->n_ids++] = xstrdup(ids[i]);
    if (!m->loaded)
        store_keysets_get(w->store, m->url, on_stored, e);
    else
        ensure_start(e);
}

/* Outputs */

size_t wallet_split(uint64_t v, uint64_t out[64])
{
    size_t n = 0;
    for (int bit = 0; bit < 64; bit++)
        if (v & ((uint64_t)1 << bit))
            out[n++] = (uint64_t)1 << bit;
    return n;
}

static void outputs_alloc(struct wallet_outputs *o, size_t n)
{
    o->n = n;
    o->amounts = xcalloc(n ? n : 1, sizeof(*o->amounts));
    o->secrets = xcalloc(n ? n : 1, sizeof(*o->secrets));
    o->r = xcalloc(n ? n : 1, sizeof(*o->r));
    o->B_ = xcalloc(n ? n : 1, sizeof(*o->B_));
    o->B_hex = xcalloc(n ? n : 1, sizeof(*o->B_hex));
}

void wallet_outputs_deinit(struct wallet_outputs *o)
{
    if (o->secrets)
        secure_zero(o->secrets, o->n * sizeof(*o->secrets));
    if (o->r)
        secure_zero(o->r, o->n * sizeof(*o->r));
    free(o->amounts);
    free(o->secrets);
    free(o->r);
    free(o->B_);
    free(o->B_hex);
    memset(o, 0, sizeof(*o));
}

static int derive(struct cashu_wallet *w, struct wallet_outputs *o, size_t i, int64_t counter)
{
    int rc = cashu_nut13_derive(o->secrets[i], o->r[i], w->seed, o->keyset_id, (uint64_t)counter);
    if (rc == 0)
        rc = cashu_blind(o->B_[i], o->secrets[i], strlen(o->secrets[i]), o->r[i]);
    if (rc == 0)
        hex_encode(o->B_hex[i], o->B_[i], 33);
    return rc;
}

struct make {
    struct cashu_wallet *w;
    struct wallet_outputs *o;
    wallet_outputs_fn *cb;
    void *ud;
};

static void on_counters(int status, const struct store_rows *rows, void *ud)
{
    struct make *mk = ud;
    struct wallet_outputs *o = mk->o;
    int rc = status;
    if (rc == 0) {
        o->first_counter = store_cell_i64(rows, 0, 0);
        for (size_t i = 0; i < o->n && rc == 0; i++)
            rc = derive(mk->w, o, i, o->first_counter + (int64_t)i);
    }
    wallet_outputs_fn *cb = mk->cb;
    void *cud = mk->ud;
    free(mk);
    cb(rc, cud);
}

void wallet_outputs_make(struct cashu_wallet *w, const struct cashu_keyset *ks,
                         const uint64_t *amounts, size_t n, struct wallet_outputs *o,
                         wallet_outputs_fn *cb, void *ud)
{
    outputs_alloc(o, n);
    snprintf(o->keyset_id, sizeof(o->keyset_id), "%s", ks->id);
    memcpy(o->amounts, amounts, n * sizeof(*amounts));
    if (n == 0) {
        cb(0, ud);
        return;
    }
    struct make *mk = xmalloc(sizeof(*mk));
    *mk = (struct make){w, o, cb, ud};
    store_counter_reserve(w->store, ks->id, (int64_t)n, on_counters, mk);
}

int wallet_outputs_from_rows(struct cashu_wallet *w, const struct store_rows *rows,
                             struct wallet_outputs *o)
{
    outputs_alloc(o, rows->nrows);
    for (size_t i = 0; i < rows->nrows; i++) {
        snprintf(o->keyset_id, sizeof(o->keyset_id), "%s", store_cell(rows, i, 0));
        o->amounts[i] = (uint64_t)store_cell_i64(rows, i, 2);
        int rc = derive(w, o, i, store_cell_i64(rows, i, 1));
        if (rc != 0 || strcmp(o->B_hex[i], store_cell(rows, i, 3)) != 0)
            return E_PROTO; /* the seed or the keyset changed under a saved output */
    }
    return 0;
}

json_t *wallet_outputs_json(const struct wallet_outputs *o)
{
    json_t *a = json_array();
    for (size_t i = 0; i < o->n; i++)
        json_array_append_new(a, json_pack("{s:I, s:s, s:s}", "amount", (json_int_t)o->amounts[i],
                                           "id", o->keyset_id, "B_", o->B_hex[i]));
    return a;
}

/* Signatures → proofs */

void wallet_strs_free(struct wallet_strs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        secure_zero(s->p[i], strlen(s->p[i]));
        free(s->p[i]);
    }
    free(s->p);
    s->p = NULL;
    s->n = 0;
}

static const char *keep(struct wallet_strs *s, char *p)
{
    s->p = xrealloc(s->p, (s->n + 1) * sizeof(char *));
    s->p[s->n++] = p;
    return p;
}

static int hex_field(uint8_t *out, size_t n, const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? hex_decode(out, n, v, strlen(v)) : E_PROTO;
}

int wallet_unblind(const struct mint_state *m, const char *unit, const struct wallet_outputs *o,
                   const json_t *sigs, const size_t *map, struct store_proof *proofs,
                   struct cashu_proof *token_proofs, struct wallet_strs *strs)
{
    size_t n = json_array_size(sigs);
    for (size_t k = 0; k < n; k++) {
        size_t i = map ? map[k] : k;
        const json_t *sig = json_array_get(sigs, k);
        json_int_t amount = json_integer_value(json_object_get(sig, "amount"));
        const char *id = json_string_value(json_object_get(sig, "id"));
        uint8_t C_[33], C[33], Y[33];
        if (i >= o->n || amount <= 0 || id == NULL || strcmp(id, o->keyset_id) != 0 ||
            hex_field(C_, 33, sig, "C_") != 0)
            return E_PROTO;
        const struct cashu_keyset *ks = wallet_keyset(m, id);
        const uint8_t *K = ks ? cashu_keyset_key(ks, (uint64_t)amount) : NULL;
        if (K == NULL)
            return E_PROTO;
        struct cashu_dleq d = {0};
        const json_t *dj = json_object_get(sig, "dleq");
        if (dj) {
            if (hex_field(d.e, 32, dj, "e") != 0 || hex_field(d.s, 32, dj, "s") != 0 ||
                cashu_dleq_verify_blind(K, o->B_[i], C_, d.e, d.s) != 0)
                return E_PROTO; /* NUT-12: a signature whose DLEQ fails is not the mint's */
            memcpy(d.r, o->r[i], 32);
            d.has_r = true;
        }
        if (cashu_unblind(C, C_, o->r[i], K) != 0 ||
            cashu_hash_to_curve(Y, o->secrets[i], strlen(o->secrets[i])) != 0)
            return E_PROTO;
        char yhex[67], chex[67], e[65], s[65], r[65];
        hex_encode(yhex, Y, 33);
        hex_encode(chex, C, 33);
        const char *dleq_json = NULL;
        if (dj) {
            hex_encode(e, d.e, 32);
            hex_encode(s, d.s, 32);
            hex_encode(r, d.r, 32);
            dleq_json = keep(strs, xasprintf("{\"e\":\"%s\",\"s\":\"%s\",\"r\":\"%s\"}", e, s, r));
        }
        proofs[k] = (struct store_proof){
            .y = keep(strs, xstrdup(yhex)),
            .mint_url = m->url,
            .unit = unit,
            .keyset_id = o->keyset_id,
            .amount = (int64_t)amount,
            .secret = keep(strs, xstrdup(o->secrets[i])),
            .c = keep(strs, xstrdup(chex)),
            .dleq_json = dleq_json,
        };
        if (token_proofs) {
            struct cashu_proof *tp = &token_proofs[k];
            memset(tp, 0, sizeof(*tp));
            tp->amount = (uint64_t)amount;
            snprintf(tp->id, sizeof(tp->id), "%s", o->keyset_id);
            tp->secret = (char *)proofs[k].secret;
            memcpy(tp->C, C, 33);
            tp->has_dleq = dj != NULL;
            tp->dleq = d;
        }
    }
    return 0;
}

/* Inputs */

void wallet_inputs_take(struct wallet_inputs *in, const struct store_rows *rows, const bool *take)
{
    size_t n = rows->nrows + 1;
    in->y = xcalloc(n, sizeof(char *));
    in->id = xcalloc(n, sizeof(char *));
    in->secret = xcalloc(n, sizeof(char *));
    in->c = xcalloc(n, sizeof(char *));
    in->dleq = xcalloc(n, sizeof(char *));
    in->amount = xcalloc(n, sizeof(uint64_t));
    for (size_t i = 0; i < rows->nrows; i++) {
        if (!take[i])
            continue;
        size_t k = in->n++;
        in->y[k] = xstrdup(store_cell(rows, i, 0));
        in->id[k] = xstrdup(store_cell(rows, i, 1));
        in->amount[k] = (uint64_t)store_cell_i64(rows, i, 2);
        in->secret[k] = xstrdup(store_cell(rows, i, 3));
        in->c[k] = xstrdup(store_cell(rows, i, 4));
        in->dleq[k] = store_cell(rows, i, 5) ? xstrdup(store_cell(rows, i, 5)) : NULL;
        in->sum += in->amount[k];
    }
}

int wallet_select(const struct mint_state *m, const struct store_rows *rows, uint64_t target,
                  struct wallet_inputs *in, uint64_t *fee)
{
    bool *take = xcalloc(rows->nrows + 1, sizeof(bool));
    uint64_t sum = 0, ppk_sum = 0;
    *fee = 0;
    for (size_t i = 0; i < rows->nrows && sum < target + *fee; i++) {
        const struct cashu_keyset *ks = wallet_keyset(m, store_cell(rows, i, 1));
        if (ks == NULL)
            continue; /* a keyset we cannot price: not spendable now */
        take[i] = true;
        sum += (uint64_t)store_cell_i64(rows, i, 2);
        ppk_sum += ks->input_fee_ppk;
        *fee = (ppk_sum + 999) / 1000;
    }
    int rc = sum >= target + *fee ? 0 : E_FUNDS;
    if (rc == 0)
        wallet_inputs_take(in, rows, take);
    free(take);
    return rc;
}

json_t *wallet_inputs_json(const struct wallet_inputs *in)
{
    json_t *a = json_array();
    for (size_t i = 0; i < in->n; i++)
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s}", "amount",
                                           (json_int_t)in->amount[i], "id", in->id[i], "secret",
                                           in->secret[i], "C", in->c[i]));
    return a;
}

void wallet_inputs_deinit(struct wallet_inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->y[i]);
        free(in->id[i]);
        secure_zero(in->secret[i], strlen(in->secret[i]));
        free(in->secret[i]);
        free(in->c[i]);
        free(in->dleq[i]);
    }
    free(in->y);
    free(in->id);
    free(in->secret);
    free(in->c);
    free(in->dleq);
    free(in->amount);
    memset(in, 0, sizeof(*in));
}
