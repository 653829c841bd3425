/* admin_settings.c -- node and upstream settings in the dashboard (docs/admin-api.md, "Upstream
 * and settings"), and applying stored settings over the environment's.
 *
 * A setting is stored under its environment variable's name with the text that variable would
 * hold, so one checker (config_set, the same rules and messages as at start) serves the
 * environment, the dashboard and the values read back from the database. The upstream API key is
 * the exception: it is stored sealed (AES-256-GCM under the node's secrets key, bound to its
 * name) as "upstream_api_key", and only ever shown masked.
 *
 * Applying replaces strings of a->cfg; the old ones are retired (admin.h), a key zeroed when
 * freed. Then what depends on them is re-derived: the fixed prices and the BTC/USD feed
 * (pricing.c), the wallet's trusted mints, the Nostr announcement. The proxy, the rates and the
 * CORS list read a->cfg on every request, so they follow at once. */
#include "app/admin_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/nostr_app.h"
#include "app/pricing.h"
#include "app/secrets.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cashu/wallet.h"
#include "crypto/crypto.h"

#define UPSTREAM_KEY "upstream_api_key"
#define MAX_TEXT 4096

enum type { T_STR, T_LIST, T_BOOL, T_INT, T_NUM };
enum group { G_NONE = 0, G_PRICING = 1, G_MINTS = 2, G_NOSTR = 4, G_RELAYS = 8 };

struct field {
    const char *json;
    const char *env;
    enum type type;
    int groups;
};

/* The node settings GET/PUT /admin/api/settings edit, in the order they are shown. */
static const struct field fields[] = {
    {"name", "NAME", T_STR, G_NOSTR},
    {"description", "DESCRIPTION", T_STR, G_NOSTR},
    {"http_url", "HTTP_URL", T_STR, G_NOSTR},
    {"onion_url", "ONION_URL", T_STR, G_NOSTR},
    {"cashu_mints", "CASHU_MINTS", T_LIST, G_MINTS | G_NOSTR},
    {"fixed_pricing", "FIXED_PRICING", T_BOOL, G_PRICING},
    {"fixed_cost_per_request", "FIXED_COST_PER_REQUEST", T_INT, G_PRICING},
    {"fixed_per_1k_input_tokens", "FIXED_PER_1K_INPUT_TOKENS", T_INT, G_PRICING},
    {"fixed_per_1k_output_tokens", "FIXED_PER_1K_OUTPUT_TOKENS", T_INT, G_PRICING},
    {"exchange_fee", "EXCHANGE_FEE", T_NUM, G_NONE},
    {"upstream_provider_fee", "UPSTREAM_PROVIDER_FEE", T_NUM, G_NONE},
    {"tolerance_percentage", "TOLERANCE_PERCENTAGE", T_NUM, G_NONE},
    {"min_request_msat", "MIN_REQUEST_MSAT", T_INT, G_NONE},
    {"relays", "RELAYS", T_LIST, G_RELAYS},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Settings stored by name that are not in 'fields'. */
static const struct field upstream_url = {"base_url", "UPSTREAM_BASE_URL", T_STR, G_NONE};

static const struct field *field_by_env(const char *env)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].env, env) == 0)
            return &fields[i];
    return strcmp(env, upstream_url.env) == 0 ? &upstream_url : NULL;
}

/* ----------------------------------------------------------------- the upstream key */

static void free_secret(void *p)
{
    secure_zero(p, strlen(p));
    free(p);
}

/* The sealed form of a key: hex of nonce || ciphertext || tag; "" stays "" (no key). */
static char *seal_key(const struct admin *ad, const char *key)
{
    size_t n = strlen(key);
    if (n == 0)
        return xstrdup("");
    uint8_t *sealed = xmalloc(n + CRYPTO_AEAD_OVERHEAD);
    char *hex = NULL;
    if (crypto_aead_seal(sealed, ad->key, key, n, UPSTREAM_KEY, strlen(UPSTREAM_KEY)) == 0) {
        hex = xmalloc(2 * (n + CRYPTO_AEAD_OVERHEAD) + 1);
        hex_encode(hex, sealed, n + CRYPTO_AEAD_OVERHEAD);
    }
    free(sealed);
    return hex;
}

/* The key a sealed value holds (malloc'd), or NULL when it does not open under our key. */
static char *open_key(const struct admin *ad, const char *hex)
{
    size_t len = strlen(hex) / 2;
    if (*hex == '\0')
        return xstrdup("");
    if (len <= CRYPTO_AEAD_OVERHEAD || len > MAX_TEXT + CRYPTO_AEAD_OVERHEAD)
        return NULL;
    uint8_t *sealed = xmalloc(len);
    char *out = xcalloc(1, len - CRYPTO_AEAD_OVERHEAD + 1);
    int rc = hex_decode(sealed, len, hex, 2 * len);
    if (rc == 0)
        rc = crypto_aead_open((uint8_t *)out, ad->key, sealed, len, UPSTREAM_KEY,
                              strlen(UPSTREAM_KEY));
    free(sealed);
    if (rc != 0 || strlen(out) != len - CRYPTO_AEAD_OVERHEAD) {
        free(out);
        return NULL;
    }
    return out;
}

/* What an Authorization header may carry: visible ASCII, no spaces. */
static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n > MAX_TEXT)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f)
            return false;
    return true;
}

/* ------------------------------------------------------------------------- applying */

static void on_seed(int status, const uint8_t *seed, size_t n, void *ud)
{
    struct app *a = ud;
    a->admin->opening_wallet = false;
    if (status != 0 || a->wallet) {
        if (status != 0)
            log_error("admin: cannot open the wallet for the new mints (%d)", status);
        return;
    }
    struct cashu_wallet_opts o = {.http = a->client, .store = a->store, .seed = seed,
                                  .mints = a->cfg.cashu_mints,
                                  .proxy = *a->cfg.tor_proxy_url ? a->cfg.tor_proxy_url : NULL,
                                  .timeout_ms = (long)a->cfg.mint_timeout_ms};
    a->wallet = cashu_wallet_new(&o);
    log_info("admin: wallet opened for %s", a->cfg.cashu_mints);
}

/* CASHU_MINTS changed: the wallet trusts the new list (a node that had none opens its wallet). */
static void mints_changed(struct app *a)
{
    if (a->wallet) {
        cashu_wallet_set_mints(a->wallet, a->cfg.cashu_mints);
        return;
    }
    if (*a->cfg.cashu_mints == '\0' || a->admin->opening_wallet)
        return;
    a->admin->opening_wallet = true;
    secrets_get_or_create_async(a->store, a->admin->key, "wallet_seed", 64, on_seed, a);
}

/* Applies (env name, text) pairs over a->cfg; returns the groups that changed. */
static int apply_pairs(struct app *a, const char *const *keys, const char *const *values,
                       size_t n)
{
    struct admin *ad = a->admin;
    int groups = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        char err[ERR_LEN], *old = NULL;
        bool changed = false;
        if (v == NULL)
            continue;
        if (strcmp(k, "admin_password_hash") == 0) {
            if (ad->password_hash == NULL || strcmp(ad->password_hash, v) != 0) {
                free(ad->password_hash);
                ad->password_hash = xstrdup(v);
            }
            continue;
        }
        if (strcmp(k, UPSTREAM_KEY) == 0) {
            char *key = open_key(ad, v);
            if (key == NULL) {
                log_warn("admin: the stored upstream API key does not open with this "
                         "ROUTSTR_SECRET_KEY; keeping UPSTREAM_API_KEY");
                continue;
            }
            if (config_set(&a->cfg, "UPSTREAM_API_KEY", key, &old, &changed, err) == 0 && old)
                admin_retire(a, old, free_secret);
            free_secret(key);
            continue;
        }
        const struct field *f = field_by_env(k);
        if (f == NULL)
            continue;
        if (config_set(&a->cfg, k, v, &old, &changed, err) != 0) {
            log_warn("admin: ignoring the stored %s: %s", k, err);
            continue;
        }
        if (old)
            admin_retire(a, old, free);
        if (changed)
            groups |= f->groups;
    }
    return groups;
}

static void notify(struct app *a, int groups)
{
    if (groups & G_PRICING)
        pricing_settings_changed(a);
    if (groups & G_MINTS)
        mints_changed(a);
    if ((groups & G_NOSTR) && a->nostr)
        nostr_app_settings_changed(a->nostr);
    if ((groups & G_RELAYS) && a->nostr)
        nostr_app_relays_changed(a->nostr);
}

void admin_settings_apply(struct app *a, const struct store_rows *rows, bool starting)
{
    const char **keys = xcalloc(rows->nrows + 1, sizeof(char *));
    const char **values = xcalloc(rows->nrows + 1, sizeof(char *));
    for (size_t i = 0; i < rows->nrows; i++) {
        keys[i] = store_cell(rows, i, 0);
        values[i] = store_cell(rows, i, 1);
    }
    int groups = apply_pairs(a, keys, values, rows->nrows);
    free(keys);
    free(values);
    if (!starting)
        notify(a, groups);
}

/* ------------------------------------------------------------------------- settings */

static json_t *list_json(const char *s)
{
    json_t *arr = json_array();
    for (const char *p = s; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct str item = str_trim((struct str){p, n});
        if (item.len)
            json_array_append_new(arr, json_stringn(item.p, item.len));
        p += n + (comma ? 1 : 0);
    }
    return arr;
}

static json_t *field_json(const struct config *c, const struct field *f)
{
    char *text = config_get_text(c, f->env);
    json_t *v;
    switch (f->type) {
    case T_LIST: v = list_json(text); break;
    case T_BOOL: v = json_boolean(strcmp(text, "true") == 0); break;
    case T_INT: v = json_integer(strtoll(text, NULL, 10)); break;
    case T_NUM: v = json_real(strtod(text, NULL)); break;
    default: v = json_string(text); break;
    }
    free(text);
    return v;
}

static json_t *settings_json(const struct config *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < NFIELDS; i++)
        json_object_set_new(o, fields[i].json, field_json(c, &fields[i]));
    return o;
}

void admin_settings_get(struct app_req *r)
{
    app_reply_json(r, 200, settings_json(&r->app->cfg));
}

/* A JSON value as the text its variable would hold, or NULL (with 'why') when its type is
 * wrong. */
static char *field_text(const struct field *f, const json_t *v, const char **why)
{
    switch (f->type) {
    case T_STR:
        if (!json_is_string(v) || json_string_length(v) > MAX_TEXT) {
            *why = "must be a string";
            return NULL;
        }
        return xstrdup(json_string_value(v));
    case T_BOOL:
        if (!json_is_boolean(v)) {
            *why = "must be true or false";
            return NULL;
        }
        return xstrdup(json_is_true(v) ? "true" : "false");
    case T_INT:
        if (!json_is_integer(v)) {
            *why = "must be a whole number";
            return NULL;
        }
        return xasprintf("%lld", (long long)json_integer_value(v));
    case T_NUM:
        if (!json_is_number(v)) {
            *why = "must be a number";
            return NULL;
        }
        return xasprintf("%.17g", json_number_value(v));
    case T_LIST: {
        if (!json_is_array(v) || json_array_size(v) > 64) {
            *why = "must be a list of URLs";
            return NULL;
        }
        struct buf b;
        buf_init(&b, 1 << 16);
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            const char *s = json_string_value(item);
            if (s == NULL || *s == '\0' || strchr(s, ',') || strlen(s) > 2048 ||
                buf_printf(&b, "%s%s", i ? "," : "", s) != E_OK) {
                buf_deinit(&b);
                *why = "must be a list of URLs";
                return NULL;
            }
        }
        return buf_take(&b, NULL);
    }
    }
    *why = "is not a setting";
    return NULL;
}

/* Relays are checked here (the start only warns about a bad one). */
static bool relays_ok(const char *list)
{
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (!((n > 6 && strncmp(p, "wss://", 6) == 0) || (n > 5 && strncmp(p, "ws://", 5) == 0)))
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] <= ' ' || p[i] == '"' || p[i] == '\\')
                return false;
        p += n + (comma ? 1 : 0);
    }
    return true;
}

struct put {
    struct app_req *r;
    const char **keys;
    char **values;
    size_t n;
    bool upstream; /* reply with the upstream view */
};

static void put_free(struct put *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->values[i])
            free_secret(p->values[i]);
    free(p->keys);
    free(p->values);
    app_req_release(p->r);
    free(p);
}

static json_t *upstream_json(const struct config *c)
{
    char mask[64];
    admin_mask(mask, sizeof(mask), c->upstream_api_key);
    return json_pack("{s:s, s:b, s:s}", "base_url", c->upstream_base_url, "api_key_set",
                     *c->upstream_api_key != '\0', "api_key_masked", mask);
}

static void on_put(int status, void *ud)
{
    struct put *p = ud;
    struct app *a = p->r->app;
    if (status != 0) {
        admin_store_error(p->r);
        put_free(p);
        return;
    }
    notify(a, apply_pairs(a, p->keys, (const char *const *)p->values, p->n));
    log_info("admin: %zu setting(s) changed", p->n);
    app_reply_json(p->r, 200, p->upstream ? upstream_json(&a->cfg) : settings_json(&a->cfg));
    put_free(p);
}

static struct put *put_new(struct app_req *r, size_t cap)
{
    struct put *p = xcalloc(1, sizeof(*p));
    p->r = r;
    p->keys = xcalloc(cap + 1, sizeof(char *));
    p->values = xcalloc(cap + 1, sizeof(char *));
    app_req_hold(r);
    return p;
}

/* Checks one value as the start would; answers 400 naming the field when it is bad. */
static bool check(struct app_req *r, const struct field *f, const char *text)
{
    char err[ERR_LEN];
    if (config_check(f->env, text, err) != 0) {
        admin_bad_request(r, "invalid_setting", "%s: %s", f->json, err);
        return false;
    }
    if (f->groups & G_RELAYS && !relays_ok(text)) {
        admin_bad_request(r, "invalid_setting", "%s: must be ws:// or wss:// URLs", f->json);
        return false;
    }
    return true;
}

void admin_settings_put(struct app_req *r)
{
    json_t *body = admin_json_body(r);
    if (body == NULL)
        return;
    struct put *p = put_new(r, json_object_size(body));
    const char *name;
    json_t *v;
    json_object_foreach(body, name, v) {
        const struct field *f = NULL;
        for (size_t i = 0; i < NFIELDS && f == NULL; i++)
            if (strcmp(fields[i].json, name) == 0)
                f = &fields[i];
        const char *why = NULL;
        char *text = f ? field_text(f, v, &why) : NULL;
        if (f == NULL || text == NULL) {
            admin_bad_request(r, "invalid_setting", f ? "%s: %s" : "%s: no such setting", name,
                              why);
            free(text);
            goto bad;
        }
        p->keys[p->n] = f->env;
        p->values[p->n++] = text;
        if (!check(r, f, text))
            goto bad;
    }
    json_decref(body);
    store_settings_put(r->app->store, p->keys, (const char *const *)p->values, p->n, on_put, p);
    return;
bad:
    json_decref(body);
    put_free(p);
}

/* ------------------------------------------------------------------------- upstream */

void admin_upstream_get(struct app_req *r)
{
    app_reply_json(r, 200, upstream_json(&r->app->cfg));
}

void admin_upstream_put(struct app_req *r)
{
    struct admin *ad = r->app->admin;
    json_t *body = admin_json_body(r);
    if (body == NULL)
        return;
    json_t *url = json_object_get(body, "base_url"), *key = json_object_get(body, "api_key");
    struct put *p = put_new(r, 2);
    p->upstream = true;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "base_url") != 0 && strcmp(k, "api_key") != 0) {
            admin_bad_request(r, "invalid_setting", "%s: no such setting", k);
            goto bad;
        }
    }
    if (url) {
        if (!json_is_string(url) || json_string_length(url) > MAX_TEXT) {
            admin_bad_request(r, "invalid_setting", "base_url: must be a string");
            goto bad;
        }
        p->keys[p->n] = upstream_url.env;
        p->values[p->n++] = xstrdup(json_string_value(url));
        if (!check(r, &upstream_url, json_string_value(url)))
            goto bad;
    }
    if (key) {
        if (!json_is_string(key) || !key_ok(json_string_value(key))) {
            admin_bad_request(r, "invalid_setting",
                              "api_key: must be printable characters without spaces");
            goto bad;
        }
        char *sealed = seal_key(ad, json_string_value(key));
        if (sealed == NULL) {
            app_reply_error(r, 500, "server_error", "no_randomness", "Cannot seal the key");
            goto bad;
        }
        p->keys[p->n] = UPSTREAM_KEY;
        p->values[p->n++] = sealed;
    }
    json_decref(body); /* (the key's plaintext goes with it) */
    store_settings_put(r->app->store, p->keys, (const char *const *)p->values, p->n, on_put, p);
    return;
bad:
    json_decref(body);
    put_free(p);
}
