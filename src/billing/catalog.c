/* catalog.c -- the model catalogue: models.json in OpenRouter's format, and finding a model by
 * the name a client sends.
 *
 * Parsing checks every entry (an id, prices that are non-negative decimals, sane limits) and
 * either installs the whole catalogue or leaves the old one in place, so a bad edit of
 * models.json never half-loads. USD prices are stored as given, before fees (price.c applies
 * them).
 *
 * Lookup runs per request, so parsing also builds an index: every name a model answers to (its
 * id, the id after its last '/', its canonical slug with and without vendor, its alias_ids),
 * lower-cased, sorted by (name, priority, catalogue order). A lookup is a binary search that
 * compares the request's id case-insensitively in place (no copy, no allocation), and the first
 * enabled match wins: an exact id beats a vendor-less id beats a slug beats an alias, and the
 * earlier model wins a tie. Failing that, a trailing -YYYYMMDD or -YYYY-MM-DD is cut from the
 * request's id and the search is repeated (clients send dated snapshots such as
 * "gpt-4o-mini-2024-07-18"; routstr-api.md §4.6). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "billing/billing.h"
#include "billing/billing_int.h"

#define MAX_PRICE_USD 1e6      /* per token or unit: anything above is a typo */
#define MAX_TOKENS_LIMIT 1e10  /* context_length and max_completion_tokens */
#define MAX_ALIASES 64

enum prio { PRIO_ID, PRIO_BASE, PRIO_SLUG, PRIO_ALIAS };

struct key {
    char *name; /* lower-cased, owned */
    uint32_t model;
    uint8_t prio;
};

struct billing_index {
    struct key *keys;
    size_t n;
};

static char ascii_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* After the last '/', or NULL when there is no vendor prefix. */
static const char *after_vendor(const char *id)
{
    const char *slash = strrchr(id, '/');
    return slash && slash[1] ? slash + 1 : NULL;
}

/* ---- parsing ---- */

static void model_free(struct billing_model *m)
{
    free(m->id);
    free(m->name);
    free(m->description);
    free(m->canonical_slug);
    json_decref(m->architecture);
    json_decref(m->top_provider);
    json_decref(m->per_request_limits);
    for (size_t i = 0; i < m->n_aliases; i++)
        free(m->aliases[i]);
    free(m->aliases);
    memset(m, 0, sizeof *m);
}

/* An optional price: absent or null is 0. */
static int price(const json_t *pricing, const char *key, double *out)
{
    const json_t *v = json_object_get(pricing, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return E_OK;
    if (billing_json_number(v, out) != E_OK || *out < 0 || *out > MAX_PRICE_USD)
        return E_PROTO;
    return E_OK;
}

/* An optional count (context_length, ...): absent or null is 0. Integers, or integral reals. */
static int count(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    double d;
    *out = 0;
    if (v == NULL || json_is_null(v))
        return E_OK;
    if (!json_is_number(v) || (d = json_number_value(v)) < 0 || d > MAX_TOKENS_LIMIT ||
        d != (double)(int64_t)d)
        return E_PROTO;
    *out = (int64_t)d;
    return E_OK;
}

static char *opt_string(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) && json_string_length(v) > 0 ? xstrdup(json_string_value(v)) : NULL;
}

/* Keeps a JSON member (a new reference), or NULL when absent, null or not 'kind'. */
static json_t *keep(const json_t *obj, const char *key, json_type kind)
{
    json_t *v = json_object_get(obj, key);
    return v && json_typeof(v) == kind ? json_incref(v) : NULL;
}

static int parse_prices(struct billing_prices *p, const json_t *pricing, const char **bad)
{
    static const char *const names[] = {"prompt", "completion", "request", "image",
                                        "web_search", "internal_reasoning",
                                        "input_cache_read", "input_cache_write"};
    double *fields[] = {&p->prompt, &p->completion, &p->request, &p->image,
                        &p->web_search, &p->internal_reasoning, &p->input_cache_read,
                        &p->input_cache_write};
    static_assert(sizeof names / sizeof names[0] == sizeof fields / sizeof fields[0], "");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (price(pricing, names[i], fields[i]) != E_OK) {
            *bad = names[i];
            return E_PROTO;
        }
    }
    /* A model without its two token prices would be free: refuse it. */
    if (json_object_get(pricing, "prompt") == NULL) {
        *bad = "prompt";
        return E_PROTO;
    }
    if (json_object_get(pricing, "completion") == NULL) {
        *bad = "completion";
        return E_PROTO;
    }
    return E_OK;
}

/* Fills m from one catalogue entry; on error 'what' says what was wrong. */
static int parse_model(struct billing_model *m, const json_t *e, char *what, size_t what_len)
{
    const json_t *id = json_object_get(e, "id");
    if (!json_is_object(e) || !json_is_string(id) || json_string_length(id) == 0) {
        snprintf(what, what_len, "no \"id\"");
        return E_PROTO;
    }
    m->id = xstrdup(json_string_value(id));
    m->name = opt_string(e, "name");
    if (m->name == NULL)
        m->name = xstrdup(m->id);
    m->description = opt_string(e, "description");
    if (m->description == NULL)
        m->description = xstrdup("");
    m->canonical_slug = opt_string(e, "canonical_slug");

    const json_t *created = json_object_get(e, "created");
    if (json_is_number(created) && json_number_value(created) > 0 &&
        json_number_value(created) < 1e15)
        m->created = (int64_t)json_number_value(created);

    const json_t *pricing = json_object_get(e, "pricing");
    const char *bad = NULL;
    if (!json_is_object(pricing)) {
        snprintf(what, what_len, "no \"pricing\" object");
        return E_PROTO;
    }
    if (parse_prices(&m->usd, pricing, &bad) != E_OK) {
        snprintf(what, what_len, "pricing.%s is missing, negative or not a number", bad);
        return E_PROTO;
    }

    if (count(e, "context_length", &m->context_length) != E_OK) {
        snprintf(what, what_len, "bad context_length");
        return E_PROTO;
    }
    const json_t *top = json_object_get(e, "top_provider");
    if (json_is_object(top)) {
        if (count(top, "context_length", &m->top_context_length) != E_OK ||
            count(top, "max_completion_tokens", &m->top_max_completion_tokens) != E_OK) {
            snprintf(what, what_len, "bad top_provider limits");
            return E_PROTO;
        }
    }
    m->architecture = keep(e, "architecture", JSON_OBJECT);
    m->top_provider = keep(e, "top_provider", JSON_OBJECT);
    m->per_request_limits = keep(e, "per_request_limits", JSON_OBJECT);

    const json_t *enabled = json_object_get(e, "enabled");
    m->enabled = !json_is_false(enabled);

    const json_t *aliases = json_object_get(e, "alias_ids");
    if (json_is_array(aliases) && json_array_size(aliases) > 0) {
        size_t n = json_array_size(aliases);
        if (n > MAX_ALIASES) {
            snprintf(what, what_len, "more than %d alias_ids", MAX_ALIASES);
            return E_PROTO;
        }
        m->aliases = xcalloc(n, sizeof *m->aliases);
        for (size_t i = 0; i < n; i++) {
            const json_t *a = json_array_get(aliases, i);
            if (!json_is_string(a) || json_string_length(a) == 0) {
                snprintf(what, what_len, "alias_ids[%zu] is not a string", i);
                return E_PROTO;
            }
            m->aliases[m->n_aliases++] = xstrdup(json_string_value(a));
        }
    } else if (aliases != NULL && !json_is_null(aliases) && !json_is_array(aliases)) {
        snprintf(what, what_len, "alias_ids is not an array");
        return E_PROTO;
    }
    return E_OK;
}

/* ---- the index ---- */

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    if (x->prio != y->prio)
        return x->prio - y->prio;
    return x->model < y->model ? -1 : x->model > y->model;
}

static void add_key(struct billing_index *ix, size_t *cap, const char *name, uint32_t model,
                    enum prio prio)
{
    if (ix->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        ix->keys = xrealloc(ix->keys, *cap * sizeof *ix->keys);
    }
    char *lower = xstrdup(name);
    for (char *q = lower; *q; q++)
        *q = ascii_lower(*q);
    ix->keys[ix->n++] = (struct key){.name = lower, .model = model, .prio = (uint8_t)prio};
}

static void index_free(struct billing_index *ix)
{
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->n; i++)
        free(ix->keys[i].name);
    free(ix->keys);
    free(ix);
}

static struct billing_index *index_build(const struct billing_catalog *c)
{
    struct billing_index *ix = xcalloc(1, sizeof *ix);
    size_t cap = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct billing_model *m = &c->models[i];
        uint32_t mi = (uint32_t)i;
        const char *base = after_vendor(m->id);
        add_key(ix, &cap, m->id, mi, PRIO_ID);
        if (base)
            add_key(ix, &cap, base, mi, PRIO_BASE);
        if (m->canonical_slug) {
            add_key(ix, &cap, m->canonical_slug, mi, PRIO_SLUG);
            if ((base = after_vendor(m->canonical_slug)) != NULL)
                add_key(ix, &cap, base, mi, PRIO_SLUG);
        }
        for (size_t j = 0; j < m->n_aliases; j++)
            add_key(ix, &cap, m->aliases[j], mi, PRIO_ALIAS);
    }
    if (ix->n > 0)
        qsort(ix->keys, ix->n, sizeof *ix->keys, key_cmp);
    return ix;
}

/* The id of a model that shares its id with an earlier one, or NULL. */
static const char *duplicate_id(const struct billing_index *ix)
{
    for (size_t i = 1; i < ix->n; i++) {
        const struct key *a = &ix->keys[i - 1], *b = &ix->keys[i];
        if (a->prio == PRIO_ID && b->prio == PRIO_ID && strcmp(a->name, b->name) == 0)
            return b->name;
    }
    return NULL;
}

/* Compares the request's q[0..n) (any case) with a lower-cased key, as strcmp() would order
 * the lower-cased q. */
static int cmp_query(const char *q, size_t n, const char *key)
{
    size_t i = 0;
    for (; i < n && key[i]; i++) {
        unsigned char a = (unsigned char)ascii_lower(q[i]), b = (unsigned char)key[i];
        if (a != b)
            return a < b ? -1 : 1;
    }
    if (i < n)
        return 1;
    return key[i] ? -1 : 0;
}

static const struct billing_model *find_indexed(const struct billing_catalog *c, const char *q,
                                                size_t n)
{
    const struct billing_index *ix = c->index;
    size_t lo = 0, hi = ix->n;
    while (lo < hi) { /* the first key ≥ q */
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_query(q, n, ix->keys[mid].name) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < ix->n && cmp_query(q, n, ix->keys[lo].name) == 0; lo++) {
        const struct billing_model *m = &c->models[ix->keys[lo].model];
        if (m->enabled)
            return m;
    }
    return NULL;
}

static bool name_eq(const char *q, size_t n, const char *name)
{
    return name && strlen(name) == n && strncasecmp(q, name, n) == 0;
}

/* A catalogue built by hand has no index: the same rules by a scan. */
static const struct billing_model *find_scan(const struct billing_catalog *c, const char *q,
                                             size_t n)
{
    for (int prio = PRIO_ID; prio <= PRIO_ALIAS; prio++) {
        for (size_t i = 0; i < c->n; i++) {
            const struct billing_model *m = &c->models[i];
            bool hit = false;
            if (!m->enabled)
                continue;
            if (prio == PRIO_ID)
                hit = name_eq(q, n, m->id);
            else if (prio == PRIO_BASE)
                hit = name_eq(q, n, after_vendor(m->id));
            else if (prio == PRIO_SLUG)
                hit = name_eq(q, n, m->canonical_slug) ||
                      (m->canonical_slug && name_eq(q, n, after_vendor(m->canonical_slug)));
            for (size_t j = 0; prio == PRIO_ALIAS && j < m->n_aliases && !hit; j++)
                hit = name_eq(q, n, m->aliases[j]);
            if (hit)
                return m;
        }
    }
    return NULL;
}

static const struct billing_model *find(const struct billing_catalog *c, const char *q, size_t n)
{
    return c->index ? find_indexed(c, q, n) : find_scan(c, q, n);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* The length of a trailing "-YYYYMMDD" or "-YYYY-MM-DD" on id[0..n) (with something before it),
 * or 0. */
static size_t date_suffix(const char *id, size_t n)
{
    if (n > 11 && id[n - 11] == '-' && digits(id + n - 10, 4) && id[n - 6] == '-' &&
        digits(id + n - 5, 2) && id[n - 3] == '-' && digits(id + n - 2, 2))
        return 11;
    if (n > 9 && id[n - 9] == '-' && digits(id + n - 8, 8))
        return 9;
    return 0;
}

/* ---- the API ---- */

int billing_catalog_parse(struct billing_catalog *c, const char *text, size_t len,
                          char err[ERR_LEN])
{
    char scratch[ERR_LEN], what[ERR_LEN - 64];
    if (err == NULL)
        err = scratch;
    err[0] = '\0';

    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (root == NULL) {
        snprintf(err, ERR_LEN, "models: line %d column %d: %s", je.line, je.column, je.text);
        return E_PROTO;
    }
    const char *list_name = "data";
    const json_t *list = json_object_get(root, "data");
    if (!json_is_array(list)) {
        list_name = "models";
        list = json_object_get(root, "models");
    }
    int rc = E_PROTO;
    struct billing_catalog nc = {0};
    if (!json_is_array(list)) {
        snprintf(err, ERR_LEN, "models: no \"data\" or \"models\" array");
        goto out;
    }
    size_t n = json_array_size(list);
    if (n > BILLING_MAX_MODELS) {
        snprintf(err, ERR_LEN, "models: %zu models, more than %d", n, BILLING_MAX_MODELS);
        rc = E_LIMIT;
        goto out;
    }
    nc.models = xcalloc(n ? n : 1, sizeof *nc.models);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(list, i);
        what[0] = '\0';
        nc.n++; /* counted first, so a half-parsed entry is freed too */
        if (parse_model(&nc.models[i], e, what, sizeof what) != E_OK) {
            const json_t *id = json_object_get(e, "id");
            snprintf(err, ERR_LEN, "models: %s[%zu]%s%.60s%s: %s", list_name, i,
                     json_is_string(id) ? " (" : "", json_is_string(id) ? json_string_value(id) : "",
                     json_is_string(id) ? ")" : "", what);
            goto out;
        }
    }
    nc.index = index_build(&nc);
    const char *dup = duplicate_id(nc.index);
    if (dup != NULL) {
        snprintf(err, ERR_LEN, "models: duplicate id \"%.120s\"", dup);
        goto out;
    }
    billing_catalog_deinit(c);
    *c = nc;
    nc = (struct billing_catalog){0};
    rc = E_OK;
out:
    billing_catalog_deinit(&nc);
    json_decref(root);
    return rc;
}

void billing_catalog_deinit(struct billing_catalog *c)
{
    for (size_t i = 0; i < c->n; i++)
        model_free(&c->models[i]);
    free(c->models);
    index_free(c->index);
    c->models = NULL;
    c->n = 0;
    c->index = NULL;
}

const struct billing_model *billing_catalog_find(const struct billing_catalog *c, const char *id)
{
    if (c == NULL || id == NULL || id[0] == '\0')
        return NULL;
    size_t n = strlen(id);
    const struct billing_model *m = find(c, id, n);
    size_t cut;
    if (m == NULL && (cut = date_suffix(id, n)) > 0)
        m = find(c, id, n - cut);
    return m;
}
