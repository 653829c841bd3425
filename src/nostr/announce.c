/* announce.c -- kind 38421: building our announcement, comparing announcements, turning one
 * into the /v1/providers/ object, and the directory of the newest per (pubkey, d).
 *
 * The directory is a flat array searched linearly: it is capped (a few hundred entries at
 * most), and the expensive step of a put, the signature check, runs only for an event that
 * would be stored, so a relay replaying old or duplicate events costs a comparison each. */
#include "nostr/announce.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"

/* ------------------------------------------------------------------------------- URLs */

static struct str url_host(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n && *p == '[') {
        const char *rb = memchr(p, ']', n);
        return rb ? (struct str){p + 1, (size_t)(rb - p - 1)} : (struct str){p, n};
    }
    const char *colon = memchr(p, ':', n);
    return (struct str){p, colon ? (size_t)(colon - p) : n};
}

bool nostr_url_is_local(const char *url)
{
    struct str h = url_host(url);
    static const char *const local[] = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (str_ieq(h, local[i]))
            return true;
    return h.len > 10 && strncasecmp(h.p + h.len - 10, ".localhost", 10) == 0;
}

static bool is_http(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

int nostr_ann_url(char **out, const char *url)
{
    struct str s = str_trim(str_from(url));
    if (s.len == 0)
        return E_NOTFOUND;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] <= ' ' || s.p[i] == 0x7f || s.p[i] == '"' || s.p[i] == '\\')
            return E_PROTO;
    char *u;
    if (memmem(s.p, s.len, "://", 3) == NULL) {
        /* A bare host: only a .onion is completed (the reference's rule). */
        char *bare = xstrndup(s.p, s.len);
        struct str h = url_host(bare);
        bool onion = h.len > 6 && strncasecmp(h.p + h.len - 6, ".onion", 6) == 0;
        if (!onion) {
            free(bare);
            return E_PROTO;
        }
        u = xasprintf("http://%s", bare);
        free(bare);
    } else {
        u = xstrndup(s.p, s.len);
    }
    if (!is_http(u) || url_host(u).len == 0) {
        free(u);
        return E_PROTO;
    }
    size_t n = strlen(u);
    while (n && u[n - 1] == '/')
        n--;
    if (n >= 3 && strncasecmp(u + n - 3, "/v1", 3) == 0)
        n -= 3;
    while (n && u[n - 1] == '/')
        n--;
    u[n] = '\0';
    if (nostr_url_is_local(u)) {
        free(u);
        return E_NOTFOUND;
    }
    *out = u;
    return E_OK;
}

/* ------------------------------------------------------------------------ the event */

int nostr_ann_build(struct nostr_event *ev, const struct nostr_ann *a, int64_t created_at)
{
    nostr_event_init(ev);
    ev->kind = NOSTR_KIND_PROVIDER;
    ev->created_at = created_at;
    const char *t[2] = {"d", a->d};
    int rc = nostr_event_add_tag(ev, t, 2);
    for (size_t i = 0; rc == E_OK && i < a->n_urls; i++) {
        t[0] = "u", t[1] = a->urls[i];
        rc = nostr_event_add_tag(ev, t, 2);
    }
    for (size_t i = 0; rc == E_OK && i < a->n_mints; i++) {
        t[0] = "mint", t[1] = a->mints[i];
        rc = nostr_event_add_tag(ev, t, 2);
    }
    if (rc == E_OK && a->version && *a->version) {
        t[0] = "version", t[1] = a->version;
        rc = nostr_event_add_tag(ev, t, 2);
    }
    if (rc != E_OK)
        return rc;
    json_t *c = json_object();
    json_t *name = json_string(a->name ? a->name : "");
    json_t *about = json_string(a->about ? a->about : "");
    if (name == NULL || about == NULL) { /* not UTF-8 */
        json_decref(name);
        json_decref(about);
        json_decref(c);
        return E_PROTO;
    }
    json_object_set_new(c, "name", name);
    json_object_set_new(c, "about", about);
    char *text = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(c);
    if (text == NULL)
        abort();
    rc = nostr_event_set_content(ev, text, strlen(text));
    free(text);
    return rc;
}

static bool tag_is(const json_t *tag, const char *name)
{
    const json_t *k = json_array_get(tag, 0);
    size_t n = strlen(name);
    return json_array_size(tag) >= 2 && json_string_length(k) == n &&
           memcmp(json_string_value(k), name, n) == 0;
}

/* True if every value of tag 'name' in a is also one in b. */
static bool subset(const struct nostr_event *a, const struct nostr_event *b, const char *name)
{
    size_t i, j;
    json_t *ta, *tb;
    json_array_foreach(a->tags, i, ta) {
        if (!tag_is(ta, name))
            continue;
        bool found = false;
        json_array_foreach(b->tags, j, tb) {
            if (tag_is(tb, name) && json_equal(json_array_get(ta, 1), json_array_get(tb, 1))) {
                found = true;
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

static bool same_first(const struct nostr_event *a, const struct nostr_event *b, const char *name)
{
    size_t la = 0, lb = 0;
    const char *va = nostr_event_tag(a, name, &la), *vb = nostr_event_tag(b, name, &lb);
    if (va == NULL || vb == NULL)
        return va == vb;
    return la == lb && memcmp(va, vb, la) == 0;
}

static json_t *content_json(const struct nostr_event *ev)
{
    json_error_t err;
    json_t *j = json_loadb(ev->content, ev->content_len, 0, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    return j;
}

bool nostr_ann_equal(const struct nostr_event *a, const struct nostr_event *b)
{
    if (a->kind != b->kind || !same_first(a, b, "d") || !same_first(a, b, "version") ||
        !subset(a, b, "u") || !subset(b, a, "u") || !subset(a, b, "mint") || !subset(b, a, "mint"))
        return false;
    json_t *ca = content_json(a), *cb = content_json(b);
    bool eq = json_equal(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return eq;
}

json_t *nostr_ann_provider(const struct nostr_event *ev)
{
    size_t dlen = 0;
    const char *d = nostr_event_tag(ev, "d", &dlen);
    if (d == NULL || dlen == 0)
        return NULL;
    json_t *urls = json_array(), *mints = json_array();
    size_t i;
    json_t *tag;
    json_array_foreach(ev->tags, i, tag) {
        json_t *v = json_array_get(tag, 1);
        const char *s = json_string_value(v);
        if (tag_is(tag, "u") && strlen(s) == json_string_length(v) && is_http(s) &&
            !nostr_url_is_local(s))
            json_array_append(urls, v);
        else if (tag_is(tag, "mint"))
            json_array_append(mints, v);
    }
    if (json_array_size(urls) == 0) {
        json_decref(urls);
        json_decref(mints);
        return NULL;
    }
    json_t *content = content_json(ev);
    json_t *name = json_object_get(content, "name"), *about = json_object_get(content, "about");
    json_t *name_v = json_is_string(name) ? json_incref(name) : json_string("Unknown Provider");
    json_t *about_v = json_is_string(about) ? json_incref(about) : json_null();
    size_t vlen = 0;
    const char *version = nostr_event_tag(ev, "version", &vlen);
    char pub[65];
    hex_encode(pub, ev->pubkey, 32);
    json_t *p = json_pack("{s:s%, s:s, s:I, s:i, s:O, s:o, s:o, s:o, s:o, s:o, s:s%}",
                          "id", d, dlen, "pubkey", pub, "created_at", (json_int_t)ev->created_at,
                          "kind", (int)ev->kind, "endpoint_url", json_array_get(urls, 0),
                          "endpoint_urls", urls, "name", name_v, "description", about_v,
                          "mint_urls", mints, "version",
                          version ? json_stringn(version, vlen) : json_null(), "content",
                          ev->content, ev->content_len);
    json_decref(content);
    if (p == NULL)
        abort(); /* every string came from a validated event */
    return p;
}

/* ------------------------------------------------------------------------ directory */

struct dir_entry {
    struct nostr_event ev;
    char *d;
    size_t dlen;
};

struct nostr_dir {
    struct dir_entry *e;
    size_t n, cap;
};

struct nostr_dir *nostr_dir_new(size_t cap)
{
    struct nostr_dir *d = xcalloc(1, sizeof *d);
    d->cap = cap ? cap : 1;
    d->e = xcalloc(d->cap, sizeof *d->e);
    return d;
}

static void entry_clear(struct dir_entry *e)
{
    nostr_event_deinit(&e->ev);
    free(e->d);
    memset(e, 0, sizeof *e);
}

void nostr_dir_free(struct nostr_dir *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        entry_clear(&d->e[i]);
    free(d->e);
    free(d);
}

size_t nostr_dir_size(const struct nostr_dir *d)
{
    return d->n;
}

/* NIP-01: the newer event wins; for the same timestamp, the lower id. */
static bool newer(const struct nostr_event *a, const struct nostr_event *b)
{
    if (a->created_at != b->created_at)
        return a->created_at > b->created_at;
    return memcmp(a->id, b->id, 32) < 0;
}

static void entry_set(struct dir_entry *e, const struct nostr_event *ev, const char *d, size_t dlen)
{
    entry_clear(e);
    nostr_event_copy(&e->ev, ev);
    e->d = xmalloc(dlen + 1);
    memcpy(e->d, d, dlen);
    e->d[dlen] = '\0';
    e->dlen = dlen;
}

static bool small_enough(const struct nostr_event *ev)
{
    if (json_array_size(ev->tags) > NOSTR_ANN_MAX_TAGS || ev->content_len > NOSTR_ANN_MAX_BYTES)
        return false;
    size_t total = ev->content_len, i, j;
    json_t *tag, *item;
    json_array_foreach(ev->tags, i, tag) {
        json_array_foreach(tag, j, item) {
            total += json_string_length(item);
        }
    }
    return total <= NOSTR_ANN_MAX_BYTES;
}

int nostr_dir_put(struct nostr_dir *d, const struct nostr_event *ev, int64_t now)
{
    if (ev->kind != NOSTR_KIND_PROVIDER)
        return E_PROTO;
    if (ev->created_at > now + NOSTR_MAX_FUTURE_S || !small_enough(ev))
        return E_LIMIT;
    size_t dlen = 0;
    const char *dv = nostr_event_tag(ev, "d", &dlen);
    if (dv == NULL)
        return E_PROTO;
    struct dir_entry *slot = NULL;
    for (size_t i = 0; i < d->n; i++) {
        struct dir_entry *e = &d->e[i];
        if (e->dlen == dlen && memcmp(e->ev.pubkey, ev->pubkey, 32) == 0 &&
            memcmp(e->d, dv, dlen) == 0) {
            if (!newer(ev, &e->ev))
                return 0; /* the same event again, or an older one */
            slot = e;
            break;
        }
    }
    if (slot == NULL && d->n == d->cap) {
        struct dir_entry *oldest = &d->e[0];
        for (size_t i = 1; i < d->n; i++)
            if (newer(&oldest->ev, &d->e[i].ev))
                oldest = &d->e[i];
        if (!newer(ev, &oldest->ev))
            return 0;
        slot = oldest;
    }
    if (nostr_event_verify(ev) != E_OK)
        return E_PROTO;
    if (slot == NULL)
        slot = &d->e[d->n++];
    entry_set(slot, ev, dv, dlen);
    return 1;
}

static int by_newest(const void *x, const void *y)
{
    const struct dir_entry *a = *(struct dir_entry *const *)x, *b = *(struct dir_entry *const *)y;
    return newer(&a->ev, &b->ev) ? -1 : newer(&b->ev, &a->ev) ? 1 : 0;
}

json_t *nostr_dir_list(const struct nostr_dir *d, const char *pubkey, size_t max)
{
    json_t *out = json_array();
    struct dir_entry **order = xcalloc(d->n ? d->n : 1, sizeof *order);
    size_t n = 0;
    uint8_t want[32];
    bool filter = pubkey && hex_decode(want, 32, pubkey, strlen(pubkey)) == 0;
    if (pubkey && !filter) {
        free(order);
        return out; /* a malformed pubkey matches nothing */
    }
    for (size_t i = 0; i < d->n; i++)
        if (!filter || memcmp(d->e[i].ev.pubkey, want, 32) == 0)
            order[n++] = &d->e[i];
    qsort(order, n, sizeof *order, by_newest);
    for (size_t i = 0; i < n && json_array_size(out) < max; i++) {
        json_t *p = nostr_ann_provider(&order[i]->ev);
        if (p == NULL)
            continue;
        json_t *url = json_object_get(p, "endpoint_url");
        bool dup = false;
        size_t k;
        json_t *q;
        json_array_foreach(out, k, q) {
            if (json_equal(json_object_get(q, "endpoint_url"), url)) {
                dup = true;
                break;
            }
        }
        if (dup)
            json_decref(p);
        else
            json_array_append_new(out, p);
    }
    free(order);
    return out;
}
