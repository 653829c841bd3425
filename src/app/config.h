/* config.h -- the node's configuration: environment, then an optional .env file, then flags.
 *
 * Names follow the reference node (spec/routstr-api.md §9) so an operator's existing .env works.
 * The environment wins over the .env file; --host and --port win over both. Every value is
 * checked at load time: a bad one stops the start with one line naming the variable. */
#ifndef ROUTSTR_APP_CONFIG_H
#define ROUTSTR_APP_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/log.h"

struct config {
    char *host;
    int64_t port;
    char *upstream_base_url; /* "" when not configured; never ends in '/' */
    char *upstream_api_key;
    char *database_url;
    enum log_level log_level;
    char *cors_origins;      /* "*" or a comma-separated list of origins */
    char *name;
    char *description;
    char *http_url;
    char *onion_url;
    char *npub;
    char *tor_proxy_url;     /* SOCKS5 proxy for outbound requests, or "" */
    char *cashu_mints;       /* comma-separated, normalised: no trailing '/' */
    bool cashu_speculative;  /* X-Cashu speculative forwarding (paid.c) */
    char *nsec;              /* NSEC: the node's Nostr key (bech32 nsec or hex), or "" */
    char *relays;            /* RELAYS: comma-separated wss:// (or ws://) relay URLs */
    char *provider_id;       /* PROVIDER_ID: the 'd' tag of the announcement, or "" */
    char *secret_key;        /* ROUTSTR_SECRET_KEY: hex of the 32-byte key for secrets at rest */
    char *secret_key_file;   /* where a generated key is kept when ROUTSTR_SECRET_KEY is unset */
    char *admin_password;    /* ADMIN_PASSWORD: hashed at start, then wiped; "": generated */
    char *web_dir;           /* WEB_DIR: the dashboard's files; "": web/ beside the binary */
    int64_t max_body_bytes;
    int64_t max_header_bytes;
    int64_t upstream_connect_timeout_ms;
    int64_t upstream_idle_timeout_ms;
    int64_t client_idle_timeout_ms;
    int64_t shutdown_grace_ms;
    int64_t mint_timeout_ms;
    /* Pricing (spec/routstr-api.md §4, top section). */
    bool fixed_pricing;
    int64_t fixed_cost_per_request_sat;
    int64_t fixed_per_1k_input_sat;
    int64_t fixed_per_1k_output_sat;
    char *models_path;
    double exchange_fee;
    double upstream_provider_fee;
    double tolerance_pct;
    int64_t min_request_msat;
    char *btc_price_sources;   /* "url|json.path" entries, comma-separated */
    int64_t price_refresh_ms;
    int64_t price_max_age_ms;  /* past it, USD-priced requests get 503 */
    int64_t stale_reservation_ms;
    char *metrics_token;       /* METRICS_TOKEN: bearer token for /metrics off loopback, or "" */
};

/* Looks a name up: the environment first, then the .env file's values. */
typedef const char *config_get_fn(const char *name, void *ud);

/* Fills 'c' from 'get' (defaults for what is unset). Returns 0, or E_PROTO with 'err' naming
 * the variable and the problem. */
int config_load(struct config *c, config_get_fn *get, void *ud, char err[ERR_LEN]);
void config_deinit(struct config *c);

/* Sets one setting by its variable name from text, with the checks of config_load (the same
 * messages in 'err'). A replaced string goes to *old for the caller to free once nobody can use
 * it (NULL for numbers and flags, or when nothing changed); *changed says whether the value
 * differs. Returns 0, E_NOTFOUND for an unknown name, or E_PROTO. */
int config_set(struct config *c, const char *name, const char *value, char **old, bool *changed,
               char err[ERR_LEN]);
/* Checks a value as config_set would, storing nothing. */
int config_check(const char *name, const char *value, char err[ERR_LEN]);
/* The current value of a setting as text (malloc'd), as config_set would accept it, or NULL for
 * an unknown name. */
char *config_get_text(const struct config *c, const char *name);

/* A parsed .env file: KEY=VALUE lines, '#' comments, optional 'export ', quotes stripped. */
struct dotenv {
    char **keys;
    char **values;
    size_t n;
};
/* Reads 'path'. A missing file is fine when !required (empty result). Returns 0, E_IO (missing
 * required file, unreadable) or E_PROTO (a malformed line), with 'err' filled. */
int dotenv_load(struct dotenv *d, const char *path, bool required, char err[ERR_LEN]);
const char *dotenv_get(const struct dotenv *d, const char *name);
void dotenv_deinit(struct dotenv *d);

/* Writes the table of settings (name, default, meaning) for --help. */
void config_print_help(FILE *out);

#endif
