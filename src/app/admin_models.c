/* admin_models.c -- the model catalogue in the dashboard: list, price overrides, enable/disable,
 * reload of MODELS_PATH (docs/admin-api.md, "Models").
 *
 * Overrides live in the model_overrides table and in memory here; every catalogue pricing.c
 * builds (at start, on reload, on a change) is the file's, parsed afresh, with the overrides laid
 * over it (admin_models_apply). A disabled model is simply not enabled in the catalogue, so the
 * lookup the proxy does refuses it as unknown and /v1/models leaves it out. */
#include "app/admin_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/pricing.h"
#include "base/log.h"
#include "base/xalloc.h"

static const char *const price_names[3] = {"prompt", "completion", "request"};

void admin_overrides_free(struct admin *ad)
{
    for (size_t i = 0; i < ad->n_overrides; i++)
        free(ad->overrides[i].id);
    free(ad->overrides);
    ad->overrides = NULL;
    ad->n_overrides = 0;
}

void admin_overrides_load(struct admin *ad, const struct store_rows *rows)
{
    admin_overrides_free(ad);
    ad->overrides = xcalloc(rows->nrows + 1, sizeof(*ad->overrides));
    for (size_t i = 0; i < rows->nrows; i++) {
        struct admin_override *o = &ad->overrides[ad->n_overrides++];
        o->id = xstrdup(store_cell(rows, i, 0));
        o->enabled = store_cell_i64(rows, i, 1) != 0;
        for (int k = 0; k < 3; k++) {
            const char *v = store_cell(rows, i, 2 + k);
            char *end;
            double d = v ? strtod(v, &end) : 0;
            o->has_price[k] = v && *v && *end == '\0' && isfinite(d) && d >= 0;
            o->price[k] = o->has_price[k] ? d : 0;
        }
    }
}

static struct admin_override *find_override(const struct admin *ad, const char *id)
{
    for (size_t i = 0; i < ad->n_overrides; i++)
        if (strcmp(ad->overrides[i].id, id) == 0)
            return &ad->overrides[i];
    return NULL;
}

void admin_models_apply(const struct app *a, struct billing_catalog *c)
{
    const struct admin *ad = a->admin;
    for (size_t i = 0; ad && i < c->n; i++) {
        struct billing_model *m = &c->models[i];
        const struct admin_override *o = find_override(ad, m->id);
        if (o == NULL)
            continue;
        m->enabled = o->enabled;
        if (o->has_price[0])
            m->usd.prompt = o->price[0];
        if (o->has_price[1])
            m->usd.completion = o->price[1];
        if (o->has_price[2])
            m->usd.request = o->price[2];
    }
}

static const char *after_vendor(const char *id)
{
    const char *slash = strchr(id, '/');
    return slash ? slash + 1 : id;
}

bool admin_model_disabled(const struct app *a, const char *model)
{
    const struct admin *ad = a->admin;
    for (size_t i = 0; ad && i < ad->n_overrides; i++) {
        const struct admin_override *o = &ad->overrides[i];
        if (!o->enabled && (strcasecmp(model, o->id) == 0 ||
                            strcasecmp(model, after_vendor(o->id)) == 0))
            return true;
    }
    return false;
}

bool admin_models_any_disabled(const struct app *a)
{
    for (size_t i = 0; a->admin && i < a->admin->n_overrides; i++)
        if (!a->admin->overrides[i].enabled)
            return true;
    return false;
}

/* ------------------------------------------------------------------------- the API */

static json_t *model_json(const struct app *a, const struct billing_model *m)
{
    const struct admin_override *o = find_override(a->admin, m->id);
    json_t *ov = json_null();
    if (o && (o->has_price[0] || o->has_price[1] || o->has_price[2])) {
        ov = json_object();
        for (int k = 0; k < 3; k++)
            json_object_set_new(ov, price_names[k],
                                o->has_price[k] ? json_real(o->price[k]) : json_null());
    }
    struct billing_rates rates = pricing_rates(a, NULL);
    json_t *full = billing_model_json(m, &rates);
    json_t *sats = json_object_get(full, "sats_pricing");
    json_t *out = json_pack("{s:s, s:s, s:b, s:{s:f, s:f, s:f}, s:o, s:O}", "id", m->id, "name",
                            m->name ? m->name : m->id, "enabled", m->enabled, "pricing",
                            "prompt", m->usd.prompt, "completion", m->usd.completion, "request",
                            m->usd.request, "override", ov, "sats_pricing",
                            sats ? sats : json_null());
    json_decref(full);
    return out;
}

void admin_models_get(struct app_req *r)
{
    struct app *a = r->app;
    json_t *list = json_array();
    for (size_t i = 0; i < a->catalog.n; i++)
        json_array_append_new(list, model_json(a, &a->catalog.models[i]));
    app_reply_json(r, 200, json_pack("{s:o, s:s}", "models", list, "source",
                                     a->models_text ? a->models_source : ""));
}

static const struct billing_model *model_by_id(const struct app *a, const char *id)
{
    for (size_t i = 0; i < a->catalog.n; i++)
        if (strcmp(a->catalog.models[i].id, id) == 0)
            return &a->catalog.models[i];
    return NULL;
}

static void on_override_saved(int status, void *ud)
{
    struct admin_call *c = ud;
    struct app *a = c->r->app;
    struct admin *ad = a->admin;
    if (status != 0) {
        admin_store_error(c->r);
        admin_call_free(c);
        return;
    }
    /* The stored row, now in memory too (c->n: enabled, has_price bits; c->s[1..3] texts). */
    struct admin_override *o = find_override(ad, c->s[0]);
    if (o == NULL) {
        ad->overrides = xrealloc(ad->overrides, (ad->n_overrides + 1) * sizeof(*ad->overrides));
        o = &ad->overrides[ad->n_overrides++];
        memset(o, 0, sizeof(*o));
        o->id = xstrdup(c->s[0]);
    }
    o->enabled = c->n[0] != 0;
    for (int k = 0; k < 3; k++) {
        o->has_price[k] = c->s[1 + k] != NULL;
        o->price[k] = c->s[1 + k] ? strtod(c->s[1 + k], NULL) : 0;
    }
    char err[ERR_LEN];
    if (pricing_catalog_load(a, false, err) != 0) {
        log_warn("admin: models: %s", err);
        app_reply_error(c->r, 500, "server_error", "catalogue_rebuild_failed", "%s", err);
        admin_call_free(c);
        return;
    }
    const struct billing_model *m = model_by_id(a, c->s[0]);
    log_info("admin: model %s: %s", c->s[0], o->enabled ? "enabled" : "disabled");
    if (m)
        app_reply_json(c->r, 200, model_json(a, m));
    else
        app_reply_error(c->r, 404, "not_found", "model_not_found", "No model '%.200s'", c->s[0]);
    admin_call_free(c);
}

void admin_model_put(struct app_req *r, const char *id)
{
    struct app *a = r->app;
    const struct billing_model *m = model_by_id(a, id);
    if (m == NULL) {
        app_reply_error(r, 404, "not_found", "model_not_found", "No model '%.200s'", id);
        return;
    }
    json_t *body = admin_json_body(r);
    if (body == NULL)
        return;
    json_t *enabled = json_object_get(body, "enabled");
    json_t *ov = json_object_get(body, "override");
    if (enabled && !json_is_boolean(enabled)) {
        json_decref(body);
        admin_bad_request(r, "invalid_setting", "'enabled' must be true or false");
        return;
    }
    if (ov && !json_is_null(ov) && !json_is_object(ov)) {
        json_decref(body);
        admin_bad_request(r, "invalid_setting", "'override' must be an object or null");
        return;
    }
    const struct admin_override *cur = find_override(a->admin, id);
    struct admin_call *c = admin_call_new(r);
    c->body = body;
    c->s[0] = xstrdup(id);
    c->n[0] = enabled ? json_is_true(enabled) : m->enabled;
    for (int k = 0; k < 3; k++) {
        if (ov == NULL) { /* unchanged */
            if (cur && cur->has_price[k])
                c->s[1 + k] = xasprintf("%.17g", cur->price[k]);
            continue;
        }
        json_t *v = json_object_get(ov, price_names[k]);
        if (v == NULL || json_is_null(v))
            continue; /* the file's price */
        double d = json_number_value(v);
        if (!json_is_number(v) || !isfinite(d) || d < 0 || d > 1000) {
            admin_bad_request(r, "invalid_setting",
                              "override.%s must be a USD price from 0 to 1000", price_names[k]);
            admin_call_free(c);
            return;
        }
        c->s[1 + k] = xasprintf("%.17g", d);
    }
    struct store_model_override o = {.id = c->s[0], .enabled = c->n[0] != 0,
                                     .prompt_usd = c->s[1], .completion_usd = c->s[2],
                                     .request_usd = c->s[3]};
    store_model_override_put(a->store, &o, on_override_saved, c);
}

static void on_reload_counted(int status, void *ud)
{
    struct admin_call *c = ud;
    struct app *a = c->r->app;
    if (status != 0)
        log_warn("admin: models: other processes were not told of the reload (%d)", status);
    app_reply_json(c->r, 200, json_pack("{s:I, s:s}", "models", (json_int_t)a->catalog.n,
                                        "source", a->models_source));
    admin_call_free(c);
}

void admin_models_reload(struct app_req *r)
{
    struct app *a = r->app;
    char err[ERR_LEN];
    if (pricing_catalog_load(a, true, err) != 0) {
        admin_bad_request(r, "invalid_models_file", "%s", err);
        return;
    }
    log_info("admin: models: %zu reloaded from %s", a->catalog.n, a->models_source);
    /* The settings version moves: other processes on the database read the file again. */
    store_settings_touch(a->store, on_reload_counted, admin_call_new(r));
}
