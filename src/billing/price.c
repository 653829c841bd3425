/* price.c -- from a model's USD prices to what /v1/models shows: fees, max costs and sats
 * (routstr-api.md §4.2, §4.3, §4.5), and the BTC/USD quotes the sats come from.
 *
 * Fees: every USD field is multiplied by EXCHANGE_FEE × UPSTREAM_PROVIDER_FEE (the top section
 * of routstr-api.md: the reference reads these settings and ignores them; we apply them). Sats
 * are USD-with-fees × 10^8 / BTC_USD. Everything here stays a double: the only rounding to msat
 * happens in reserve.c and cost.c, once.
 *
 * Max costs follow §4.3 exactly, from the top provider's context length (cl) and maximum
 * completion tokens (mct), else the model's context_length, else the reference's fallback of a
 * million prompt tokens and 32,000 completion tokens. sats_pricing.request and
 * sats_pricing.max_cost are raised to MIN_REQUEST_MSAT / 1000 for display, as the reference
 * does; the metered cost uses the model's real request price (cost.c). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "billing/billing.h"
#include "billing/billing_int.h"

/* ---- numbers ---- */

int billing_parse_decimal(const char *s, double *out)
{
    char tmp[72];
    bool digit = false;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof tmp)
        return E_PROTO;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digit = true;
        else if (strchr(".eE+-", s[i]) == NULL || s[i] == '\0')
            return E_PROTO; /* no hex, inf, nan or stray text: strtod() would take them */
    }
    if (!digit)
        return E_PROTO;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(v))
        return E_PROTO;
    *out = v;
    return E_OK;
}

int billing_json_number(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d))
            return E_PROTO;
        *out = d;
        return E_OK;
    }
    if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
        return billing_parse_decimal(json_string_value(v), out);
    return E_PROTO;
}

static double fee_or_one(double f)
{
    return f > 0 && isfinite(f) ? f : 1.0;
}

double billing_fee(const struct billing_rates *r)
{
    return fee_or_one(r->exchange_fee) * fee_or_one(r->provider_fee);
}

double billing_sats_per_usd(const struct billing_rates *r)
{
    return r->btc_usd > 0 && isfinite(r->btc_usd) ? 1e8 / r->btc_usd : 0;
}

int64_t billing_ceil_msat(double x)
{
    if (!(x > 0))
        return 0;
    if (x >= BILLING_MAX_MSAT)
        return (int64_t)BILLING_MAX_MSAT;
    double y = ceil(x - (1e-9 + x * 1e-12));
    return y > 0 ? (int64_t)y : 0;
}

/* ---- prices ---- */

static void scale(struct billing_prices *out, const struct billing_prices *in, double k)
{
    out->prompt = in->prompt * k;
    out->completion = in->completion * k;
    out->request = in->request * k;
    out->image = in->image * k;
    out->web_search = in->web_search * k;
    out->internal_reasoning = in->internal_reasoning * k;
    out->input_cache_read = in->input_cache_read * k;
    out->input_cache_write = in->input_cache_write * k;
}

int billing_model_prices(struct billing_model_prices *out, const struct billing_model *m,
                         const struct billing_rates *rates)
{
    memset(out, 0, sizeof *out);
    scale(&out->usd, &m->usd, billing_fee(rates));

    /* §4.3, with p and c the prices after fees. */
    double p = out->usd.prompt, c = out->usd.completion;
    double cl = (double)m->top_context_length, mct = (double)m->top_max_completion_tokens;
    if (cl <= 0 && mct <= 0 && m->context_length > 0)
        cl = (double)m->context_length; /* no top_provider limits: as "only cl" */
    if (cl > 0 && mct > 0 && cl > mct) {
        out->usd_max_prompt = cl * p;
        out->usd_max_completion = mct * c;
        out->usd_max_cost = (cl - mct) * p + mct * c;
    } else if (cl > 0) { /* only cl, or cl ≤ mct */
        out->usd_max_prompt = cl * p;
        out->usd_max_completion = cl * c;
        out->usd_max_cost = cl * fmax(p, c);
    } else if (mct > 0) {
        out->usd_max_prompt = mct * p;
        out->usd_max_completion = mct * c;
        out->usd_max_cost = mct * c;
    } else {
        const struct billing_prices *u = &out->usd;
        out->usd_max_prompt = p * 1e6;
        out->usd_max_completion = c * 32000;
        out->usd_max_cost = fmax(p * 1e6 + c * 32000 + u->request * 1e5 + u->image * 100 +
                                     u->web_search * 1000 + u->internal_reasoning * 100,
                                 (double)rates->min_request_msat / 1e6);
    }

    double k = billing_sats_per_usd(rates);
    if (k == 0)
        return E_AGAIN;
    double floor_sats = (double)rates->min_request_msat / 1000;
    scale(&out->sats, &out->usd, k);
    out->sats.request = fmax(out->sats.request, floor_sats);
    out->sats_max_prompt = out->usd_max_prompt * k;
    out->sats_max_completion = out->usd_max_completion * k;
    out->sats_max_cost = fmax(out->usd_max_cost * k, floor_sats);
    return E_OK;
}

/* ---- the /v1/models entry ---- */

static json_t *num(double x)
{
    return json_real(isfinite(x) ? x : 0);
}

static json_t *prices_json(const struct billing_prices *p, double max_prompt,
                           double max_completion, double max_cost)
{
    json_t *o = json_object();
    json_object_set_new(o, "prompt", num(p->prompt));
    json_object_set_new(o, "completion", num(p->completion));
    json_object_set_new(o, "request", num(p->request));
    json_object_set_new(o, "image", num(p->image));
    json_object_set_new(o, "web_search", num(p->web_search));
    json_object_set_new(o, "internal_reasoning", num(p->internal_reasoning));
    json_object_set_new(o, "input_cache_read", num(p->input_cache_read));
    json_object_set_new(o, "input_cache_write", num(p->input_cache_write));
    json_object_set_new(o, "max_prompt_cost", num(max_prompt));
    json_object_set_new(o, "max_completion_cost", num(max_completion));
    json_object_set_new(o, "max_cost", num(max_cost));
    return o;
}

static json_t *count_or_null(int64_t v)
{
    return v > 0 ? json_integer(v) : json_null();
}

/* The catalogue's architecture, or what a text model has. */
static json_t *architecture_json(const struct billing_model *m)
{
    if (m->architecture)
        return json_deep_copy(m->architecture);
    json_t *a = json_object();
    json_object_set_new(a, "modality", json_string("text->text"));
    json_object_set_new(a, "input_modalities", json_pack("[s]", "text"));
    json_object_set_new(a, "output_modalities", json_pack("[s]", "text"));
    json_object_set_new(a, "tokenizer", json_string("Other"));
    json_object_set_new(a, "instruct_type", json_null());
    return a;
}

/* top_provider with its three keys always there. Without one in the catalogue it is made up
 * from the limits we know (the same max costs follow from it), null when nothing is known. */
static json_t *top_provider_json(const struct billing_model *m)
{
    int64_t cl = m->top_context_length > 0 ? m->top_context_length
                 : m->top_provider        ? 0
                                          : m->context_length;
    if (m->top_provider == NULL && cl <= 0 && m->top_max_completion_tokens <= 0)
        return json_null();
    json_t *t = m->top_provider ? json_deep_copy(m->top_provider) : json_object();
    if (json_object_get(t, "context_length") == NULL)
        json_object_set_new(t, "context_length", count_or_null(cl));
    if (json_object_get(t, "max_completion_tokens") == NULL)
        json_object_set_new(t, "max_completion_tokens",
                            count_or_null(m->top_max_completion_tokens));
    if (!json_is_boolean(json_object_get(t, "is_moderated")))
        json_object_set_new(t, "is_moderated", json_false());
    return t;
}

json_t *billing_model_json(const struct billing_model *m, const struct billing_rates *rates)
{
    struct billing_model_prices mp;
    int rc = billing_model_prices(&mp, m, rates);
    json_t *o = json_object();
    /* The catalogue's id as is (not §4.5's vendor-less id): the proxy forwards the body
     * untouched, so the id a client copies from here must be one the upstream knows. The
     * vendor-less form still resolves (catalog.c). */
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "name", json_string(m->name ? m->name : m->id));
    json_object_set_new(o, "created", json_integer(m->created));
    json_object_set_new(o, "description", json_string(m->description ? m->description : ""));
    json_object_set_new(o, "context_length",
                        json_integer(m->context_length > 0 ? m->context_length
                                                           : m->top_context_length));
    json_object_set_new(o, "architecture", architecture_json(m));
    json_object_set_new(o, "pricing", prices_json(&mp.usd, mp.usd_max_prompt,
                                                  mp.usd_max_completion, mp.usd_max_cost));
    json_object_set_new(o, "sats_pricing",
                        rc == E_OK ? prices_json(&mp.sats, mp.sats_max_prompt,
                                                 mp.sats_max_completion, mp.sats_max_cost)
                                   : json_null());
    json_object_set_new(o, "per_request_limits", m->per_request_limits
                                                     ? json_deep_copy(m->per_request_limits)
                                                     : json_null());
    json_object_set_new(o, "top_provider", top_provider_json(m));
    json_object_set_new(o, "enabled", json_boolean(m->enabled));
    json_object_set_new(o, "upstream_provider_id", json_string("custom"));
    json_object_set_new(o, "canonical_slug",
                        m->canonical_slug ? json_string(m->canonical_slug) : json_null());
    json_t *aliases = json_array();
    for (size_t i = 0; i < m->n_aliases; i++)
        json_array_append_new(aliases, json_string(m->aliases[i]));
    json_object_set_new(o, "alias_ids", aliases);
    json_object_set_new(o, "forwarded_model_id", json_null());
    return o;
}

/* ---- BTC/USD ---- */

int billing_btc_usd_combine(const double *quotes, size_t n, double *out)
{
    bool found = false;
    double best = 0;
    for (size_t i = 0; i < n; i++) {
        double q = quotes[i];
        if (q > 0 && isfinite(q) && (!found || q < best)) {
            best = q;
            found = true;
        }
    }
    if (!found)
        return E_NOTFOUND;
    *out = best;
    return E_OK;
}

int billing_quote_parse(double *out, const char *text, size_t len, const char *path)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    if (root == NULL || path == NULL)
        goto bad;
    const json_t *v = root;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        if (n == 0)
            goto bad;
        if (json_is_array(v)) {
            size_t idx = 0;
            for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)seg[i]) || idx > 1000000)
                    goto bad;
                idx = idx * 10 + (size_t)(seg[i] - '0');
            }
            v = json_array_get(v, idx);
        } else {
            v = json_object_getn(v, seg, n); /* NULL when v is not an object */
        }
        if (v == NULL)
            goto bad;
        if (dot == NULL)
            break;
        seg = dot + 1;
    }
    double q;
    if (billing_json_number(v, &q) != E_OK || !(q > 0))
        goto bad;
    *out = q;
    json_decref(root);
    return E_OK;
bad:
    json_decref(root);
    return E_PROTO;
}
