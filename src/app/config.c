/* config.c -- loading and checking the configuration (see config.h).
 *
 * One table lists every setting with its kind, default and help text; loading walks it, so a
 * new setting is one line here and one field in struct config. */
#include "app/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"

enum kind {
    K_STR,     /* any text */
    K_HTTPURL, /* empty, or an http:// or https:// URL; a trailing '/' is dropped */
    K_URLLIST, /* comma-separated http(s) URLs, normalised */
    K_SOCKS,   /* empty, or socks5:// / socks5h:// */
    K_DBURL,   /* sqlite:///path or postgresql://... */
    K_PORT,
    K_BYTES,
    K_MS,      /* seconds in the environment ("10", "0.5"), milliseconds in struct config */
    K_LEVEL,
    K_HOST,
    K_BOOL,
    K_FLOAT,   /* a positive decimal (fees, tolerance) */
    K_COUNT,   /* a non-negative integer */
};

struct setting {
    const char *name;
    const char *legacy; /* an older name still read when 'name' is unset, or NULL */
    enum kind kind;
    size_t off;
    const char *def;
    const char *help;
};

#define F(field) offsetof(struct config, field)

static const struct setting settings[] = {
    {"UPSTREAM_BASE_URL", NULL, K_HTTPURL, F(upstream_base_url), "",
     "OpenAI-compatible API to sell, e.g. https://api.openai.com/v1"},
    {"UPSTREAM_API_KEY", NULL, K_STR, F(upstream_api_key), "", "the operator's key for the upstream"},
    {"HOST", NULL, K_HOST, F(host), "0.0.0.0", "address to listen on"},
    {"PORT", NULL, K_PORT, F(port), "8000", "port to listen on"},
    {"DATABASE_URL", NULL, K_DBURL, F(database_url), "sqlite:///routstr.db",
     "sqlite:///path or postgresql://user:pass@host/db"},
    {"LOG_LEVEL", NULL, K_LEVEL, F(log_level), "info", "debug, info, warning or error"},
    {"CORS_ORIGINS", NULL, K_STR, F(cors_origins), "*", "allowed browser origins, comma-separated"},
    {"NAME", NULL, K_STR, F(name), "ARoutstrNode", "node name shown to clients"},
    {"DESCRIPTION", NULL, K_STR, F(description), "A Routstr Node", "node description"},
    {"HTTP_URL", NULL, K_HTTPURL, F(http_url), "", "public URL of this node"},
    {"ONION_URL", NULL, K_STR, F(onion_url), "", "public .onion URL of this node"},
    {"NPUB", NULL, K_STR, F(npub), "", "the node's Nostr public key"},
    {"TOR_PROXY_URL", NULL, K_SOCKS, F(tor_proxy_url), "", "SOCKS5 proxy for outbound requests"},
    {"CASHU_MINTS", NULL, K_URLLIST, F(cashu_mints), "", "trusted Cashu mints, comma-separated"},
    {"CASHU_SPECULATIVE", NULL, K_BOOL, F(cashu_speculative), "true",
     "X-Cashu: forward before the swap completes when every proof's DLEQ verifies"},
    {"NSEC", NULL, K_STR, F(nsec), "", "the node's Nostr key (nsec1... or hex); generated if unset"},
    {"RELAYS", NULL, K_STR, F(relays),
     "wss://relay.nostr.band,wss://relay.damus.io,wss://relay.routstr.com,wss://nos.lol",
     "Nostr relays, comma-separated"},
    {"PROVIDER_ID", NULL, K_STR, F(provider_id), "", "the 'd' tag of the node's announcement"},
    {"ROUTSTR_SECRET_KEY", NULL, K_STR, F(secret_key), "",
     "64 hex digits: the key that encrypts secrets at rest"},
    {"ROUTSTR_SECRET_KEY_FILE", NULL, K_STR, F(secret_key_file), "routstr_secret.key",
     "where a generated key is kept when ROUTSTR_SECRET_KEY is unset"},
    {"ADMIN_PASSWORD", NULL, K_STR, F(admin_password), "",
     "the dashboard's password (/admin/); generated and printed once when unset"},
    {"WEB_DIR", NULL, K_STR, F(web_dir), "",
     "the dashboard's files (/admin/); default: web/ beside the executable, else ./web"},
    {"MAX_REQUEST_BODY_BYTES", NULL, K_BYTES, F(max_body_bytes), "33554432", "request body cap"},
    {"MAX_HEADER_BYTES", NULL, K_BYTES, F(max_header_bytes), "65536", "request header block cap"},
    {"UPSTREAM_CONNECT_TIMEOUT_SECONDS", NULL, K_MS, F(upstream_connect_timeout_ms), "10",
     "upstream connect timeout"},
    {"UPSTREAM_IDLE_TIMEOUT_SECONDS", NULL, K_MS, F(upstream_idle_timeout_ms), "300",
     "longest upstream silence before 504"},
    {"CLIENT_IDLE_TIMEOUT_SECONDS", NULL, K_MS, F(client_idle_timeout_ms), "120",
     "client connection idle timeout"},
    {"SHUTDOWN_GRACE_SECONDS", NULL, K_MS, F(shutdown_grace_ms), "10",
     "time in-flight requests get on SIGTERM"},
    {"MINT_OPERATION_TIMEOUT_SECONDS", NULL, K_MS, F(mint_timeout_ms), "30",
     "longest wait for a mint's answer (a lost answer is restored)"},
    {"FIXED_PRICING", NULL, K_BOOL, F(fixed_pricing), "false",
     "true: every request costs FIXED_COST_PER_REQUEST (0: a free node)"},
    {"FIXED_COST_PER_REQUEST", "COST_PER_REQUEST", K_COUNT, F(fixed_cost_per_request_sat), "1",
     "sats per request when FIXED_PRICING"},
    {"FIXED_PER_1K_INPUT_TOKENS", "COST_PER_1K_INPUT_TOKENS", K_COUNT, F(fixed_per_1k_input_sat),
     "0", "sats per 1000 input tokens when FIXED_PRICING"},
    {"FIXED_PER_1K_OUTPUT_TOKENS", "COST_PER_1K_OUTPUT_TOKENS", K_COUNT,
     F(fixed_per_1k_output_sat), "0", "sats per 1000 output tokens when FIXED_PRICING"},
    {"MODELS_PATH", NULL, K_STR, F(models_path), "models.json",
     "model catalogue (OpenRouter format); models.example.json when missing"},
    {"EXCHANGE_FEE", NULL, K_FLOAT, F(exchange_fee), "1.005", "multiplier on USD prices"},
    {"UPSTREAM_PROVIDER_FEE", NULL, K_FLOAT, F(upstream_provider_fee), "1.05",
     "multiplier on USD prices"},
    {"TOLERANCE_PERCENTAGE", NULL, K_FLOAT, F(tolerance_pct), "1.0",
     "reservation discount, percent"},
    {"MIN_REQUEST_MSAT", NULL, K_COUNT, F(min_request_msat), "1", "smallest reservation"},
    {"BTC_PRICE_SOURCES", NULL, K_STR, F(btc_price_sources),
     "https://api.kraken.com/0/public/Ticker?pair=XBTUSD|result.XXBTZUSD.c.0,"
     "https://api.coinbase.com/v2/prices/BTC-USD/spot|data.amount,"
     "https://api.binance.com/api/v3/ticker/price?symbol=BTCUSDT|price",
     "BTC/USD feeds: URL|json.path, comma-separated"},
    {"PRICING_REFRESH_INTERVAL_SECONDS", NULL, K_MS, F(price_refresh_ms), "120",
     "how often BTC/USD is fetched"},
    {"PRICE_MAX_AGE_SECONDS", NULL, K_MS, F(price_max_age_ms), "900",
     "oldest usable BTC/USD price"},
    {"STALE_RESERVATION_TIMEOUT_SECONDS", NULL, K_MS, F(stale_reservation_ms), "300",
     "reservations of dead processes older than this are released; so are refunds and token "
     "claims a crash left before their mint call"},
    {"METRICS_TOKEN", NULL, K_STR, F(metrics_token), "",
     "bearer token for GET /metrics from non-loopback peers (unset: loopback only)"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static bool is_http_url(const char *s)
{
    size_t n = strncmp(s, "http://", 7) == 0 ? 7 : strncmp(s, "https://", 8) == 0 ? 8 : 0;
    if (n == 0 || s[n] == '\0' || s[n] == '/')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return false;
    return true;
}

static char *strip_slashes(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    return xstrndup(s, n);
}

/* Normalises "a/, b" into "a,b", each an http(s) URL. */
static int url_list(const char *v, char **out)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    const char *p = v;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct str item = str_trim((struct str){p, n});
        if (item.len) {
            char *u = xstrndup(item.p, item.len);
            char *norm = strip_slashes(u);
            bool ok = is_http_url(norm);
            if (ok)
                ok = buf_printf(&b, "%s%s", b.len ? "," : "", norm) == E_OK;
            free(u);
            free(norm);
            if (!ok) {
                buf_deinit(&b);
                return E_PROTO;
            }
        }
        p += n + (comma ? 1 : 0);
    }
    *out = buf_take(&b, NULL);
    return E_OK;
}

static int load_one(struct config *c, const struct setting *s, const char *v, char err[ERR_LEN])
{
    char *base = (char *)c;
    const char *why = NULL;
    int64_t n;
    switch (s->kind) {
    case K_STR:
        *(char **)(base + s->off) = xstrdup(v);
        return E_OK;
    case K_HOST:
        if (*v == '\0') {
            why = "must not be empty";
            break;
        }
        *(char **)(base + s->off) = xstrdup(v);
        return E_OK;
    case K_HTTPURL:
        if (*v && !is_http_url(v)) {
            why = "must be an http:// or https:// URL";
            break;
        }
        *(char **)(base + s->off) = strip_slashes(v);
        return E_OK;
    case K_URLLIST:
        if (url_list(v, (char **)(base + s->off)) != E_OK)
            why = "must be comma-separated http:// or https:// URLs";
        break;
    case K_SOCKS:
        if (*v && strncmp(v, "socks5://", 9) != 0 && strncmp(v, "socks5h://", 10) != 0) {
            why = "must be a socks5:// or socks5h:// URL";
            break;
        }
        *(char **)(base + s->off) = xstrdup(v);
        return E_OK;
    case K_DBURL:
        if ((strncmp(v, "sqlite:///", 10) != 0 || v[10] == '\0') &&
            strncmp(v, "postgresql://", 13) != 0 && strncmp(v, "postgres://", 11) != 0) {
            why = "must be sqlite:///PATH or postgresql://...";
            break;
        }
        *(char **)(base + s->off) = xstrdup(v);
        return E_OK;
    case K_PORT:
        if (str_parse_i64(v, 0, 65535, &n) != E_OK) {
            why = "must be a port number (0-65535)";
            break;
        }
        *(int64_t *)(base + s->off) = n;
        return E_OK;
    case K_BYTES:
        if (str_parse_i64(v, 1024, (int64_t)1 << 40, &n) != E_OK) {
            why = "must be a number of bytes (at least 1024)";
            break;
        }
        *(int64_t *)(base + s->off) = n;
        return E_OK;
    case K_MS:
        if (str_parse_seconds_ms(v, (int64_t)30 * 24 * 3600 * 1000, &n) != E_OK || n == 0) {
            why = "must be a positive number of seconds (e.g. 10 or 0.5)";
            break;
        }
        *(int64_t *)(base + s->off) = n;
        return E_OK;
    case K_LEVEL:
        if (log_level_parse(v, (enum log_level *)(base + s->off)) != E_OK)
            why = "must be debug, info, warning or error";
        break;
    case K_BOOL:
        if (str_parse_bool(v, (bool *)(base + s->off)) != E_OK)
            why = "must be true or false";
        break;
    case K_COUNT:
        if (str_parse_i64(v, 0, (int64_t)1 << 50, &n) != E_OK) {
            why = "must be a whole number (0 or more)";
            break;
        }
        *(int64_t *)(base + s->off) = n;
        return E_OK;
    case K_FLOAT: {
        char *end;
        double d = strtod(v, &end);
        if (*v == '\0' || *end != '\0' || !(d >= 0 && d <= 1000)) {
            why = "must be a decimal number between 0 and 1000";
            break;
        }
        *(double *)(base + s->off) = d;
        return E_OK;
    }
    }
    if (why) {
        if (s->kind == K_DBURL) /* may hold a password: never echo it */
            snprintf(err, ERR_LEN, "%s: %s", s->name, why);
        else
            snprintf(err, ERR_LEN, "%s=\"%.64s\": %s", s->name, v, why);
        return E_PROTO;
    }
    return E_OK;
}

int config_load(struct config *c, config_get_fn *get, void *ud, char err[ERR_LEN])
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *v = get(settings[i].name, ud);
        if (v == NULL && settings[i].legacy)
            v = get(settings[i].legacy, ud);
        if (load_one(c, &settings[i], v ? v : settings[i].def, err) != E_OK) {
            config_deinit(c);
            return E_PROTO;
        }
    }
    return E_OK;
}

void config_deinit(struct config *c)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        enum kind k = settings[i].kind;
        if (k == K_PORT || k == K_BYTES || k == K_MS || k == K_LEVEL || k == K_BOOL ||
            k == K_FLOAT || k == K_COUNT)
            continue;
        char **p = (char **)((char *)c + settings[i].off);
        free(*p);
        *p = NULL;
    }
}

static const struct setting *find_setting(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

static bool is_string_kind(enum kind k)
{
    return !(k == K_PORT || k == K_BYTES || k == K_MS || k == K_LEVEL || k == K_BOOL ||
             k == K_FLOAT || k == K_COUNT);
}

static size_t field_size(enum kind k)
{
    switch (k) {
    case K_PORT: case K_BYTES: case K_MS: case K_COUNT: return sizeof(int64_t);
    case K_LEVEL: return sizeof(enum log_level);
    case K_BOOL: return sizeof(bool);
    case K_FLOAT: return sizeof(double);
    default: return sizeof(char *);
    }
}

/* Parses 'value' as the setting 'name' into a zeroed *tmp, by the rules of the start. */
static int parse_setting(const char *name, const char *value, struct config *tmp,
                         const struct setting **out, char err[ERR_LEN])
{
    const struct setting *s = find_setting(name);
    if (s == NULL) {
        snprintf(err, ERR_LEN, "%s: no such setting", name);
        return E_NOTFOUND;
    }
    *out = s;
    memset(tmp, 0, sizeof(*tmp));
    return load_one(tmp, s, value, err);
}

int config_check(const char *name, const char *value, char err[ERR_LEN])
{
    const struct setting *s;
    struct config tmp;
    int rc = parse_setting(name, value, &tmp, &s, err);
    if (rc == E_OK && is_string_kind(s->kind))
        free(*(char **)((char *)&tmp + s->off));
    return rc;
}

int config_set(struct config *c, const char *name, const char *value, char **old, bool *changed,
               char err[ERR_LEN])
{
    *old = NULL;
    *changed = false;
    const struct setting *s;
    struct config tmp;
    int rc = parse_setting(name, value, &tmp, &s, err);
    if (rc != E_OK)
        return rc;
    char *dst = (char *)c + s->off, *src = (char *)&tmp + s->off;
    if (is_string_kind(s->kind)) {
        char *now = *(char **)dst, *fresh = *(char **)src;
        if (now && strcmp(now, fresh) == 0) {
            free(fresh);
            return E_OK;
        }
        *old = now;
        *(char **)dst = fresh;
        *changed = true;
        return E_OK;
    }
    *changed = memcmp(dst, src, field_size(s->kind)) != 0;
    memcpy(dst, src, field_size(s->kind));
    return E_OK;
}

char *config_get_text(const struct config *c, const char *name)
{
    const struct setting *s = find_setting(name);
    if (s == NULL)
        return NULL;
    const char *base = (const char *)c + s->off;
    switch (s->kind) {
    case K_PORT: case K_BYTES: case K_COUNT:
        return xasprintf("%lld", (long long)*(const int64_t *)base);
    case K_MS: {
        int64_t ms = *(const int64_t *)base;
        return ms % 1000 ? xasprintf("%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000))
                         : xasprintf("%lld", (long long)(ms / 1000));
    }
    case K_BOOL:
        return xstrdup(*(const bool *)base ? "true" : "false");
    case K_FLOAT:
        return xasprintf("%.17g", *(const double *)base);
    case K_LEVEL:
        return NULL;
    default:
        return xstrdup(*(char *const *)base ? *(char *const *)base : "");
    }
}

void config_print_help(FILE *out)
{
    fprintf(out, "Settings (environment variables, or KEY=VALUE lines in the .env file):\n");
    for (size_t i = 0; i < NSETTINGS; i++)
        fprintf(out, "  %-34s %s%s%s%s\n", settings[i].name, settings[i].help,
                *settings[i].def ? " (default: " : "", settings[i].def,
                *settings[i].def ? ")" : "");
}

/* .env files */

static void dotenv_put(struct dotenv *d, char *k, char *v)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->keys[i], k) == 0) { /* a later line wins, as in a shell */
            free(d->values[i]);
            free(k);
            d->values[i] = v;
            return;
        }
    }
    d->keys = xrealloc(d->keys, (d->n + 1) * sizeof(char *));
    d->values = xrealloc(d->values, (d->n + 1) * sizeof(char *));
    d->keys[d->n] = k;
    d->values[d->n] = v;
    d->n++;
}

static int parse_line(struct dotenv *d, char *line, size_t lineno, const char *path,
                      char err[ERR_LEN])
{
    struct str s = str_trim(str_from(line));
    if (s.len && s.p[s.len - 1] == '\r')
        s = str_trim((struct str){s.p, s.len - 1});
    if (s.len == 0 || s.p[0] == '#')
        return E_OK;
    if (str_has_prefix(s, "export ")) {
        s.p += 7;
        s.len -= 7;
        s = str_trim(s);
    }
    const char *eq = memchr(s.p, '=', s.len);
    struct str key = eq ? str_trim((struct str){s.p, (size_t)(eq - s.p)}) : s;
    bool key_ok = eq && key.len > 0;
    for (size_t i = 0; key_ok && i < key.len; i++)
        key_ok = isalnum((unsigned char)key.p[i]) || key.p[i] == '_';
    if (!key_ok) {
        snprintf(err, ERR_LEN, "%s:%zu: expected KEY=VALUE", path, lineno);
        return E_PROTO;
    }
    struct str val = str_trim((struct str){eq + 1, s.len - (size_t)(eq + 1 - s.p)});
    if (val.len >= 2 && (val.p[0] == '"' || val.p[0] == '\'') && val.p[val.len - 1] == val.p[0]) {
        val.p++;
        val.len -= 2;
    } else {
        /* An unquoted value ends at a ' #' comment. */
        for (size_t i = 1; i < val.len; i++) {
            if (val.p[i] == '#' && (val.p[i - 1] == ' ' || val.p[i - 1] == '\t')) {
                val = str_trim((struct str){val.p, i});
                break;
            }
        }
    }
    dotenv_put(d, xstrndup(key.p, key.len), xstrndup(val.p, val.len));
    return E_OK;
}

int dotenv_load(struct dotenv *d, const char *path, bool required, char err[ERR_LEN])
{
    memset(d, 0, sizeof(*d));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!required && errno == ENOENT)
            return E_OK;
        snprintf(err, ERR_LEN, "cannot read %s: %s", path, strerror(errno));
        return E_IO;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = E_OK;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if ((rc = parse_line(d, line, lineno, path, err)) != E_OK)
            break;
    }
    free(line);
    fclose(f);
    if (rc != E_OK)
        dotenv_deinit(d);
    return rc;
}

const char *dotenv_get(const struct dotenv *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->keys[i], name) == 0)
            return d->values[i];
    return NULL;
}

void dotenv_deinit(struct dotenv *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->keys[i]);
        free(d->values[i]);
    }
    free(d->keys);
    free(d->values);
    memset(d, 0, sizeof(*d));
}
