/* main.c -- start-up and shutdown of the routstr daemon.
 *
 * Start: configuration (environment, .env, flags), the event loop, the outbound HTTP client, the
 * server. One log line says where we serve and what we sell. Shutdown on SIGTERM/SIGINT: stop
 * accepting, give in-flight requests SHUTDOWN_GRACE_SECONDS to finish, then end the rest and
 * exit 0. Everything is torn down in the reverse order it was built. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "app/admin.h"
#include "app/app.h"
#include "app/cli.h"
#include "app/metrics.h"
#include "app/nostr_app.h"
#include "app/pricing.h"
#include "app/secrets.h"
#include "base/str.h"
#include "cashu/wallet.h"
#include "crypto/crypto.h"
#include "base/log.h"
#include "http/client.h"
#include "http/server.h"
#include "store/store.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: routstr [--host ADDR] [--port N] [--env-file PATH]      serve\n"
            "       routstr [--env-file PATH] wallet balance|send|receive|melt|recover|check ...\n"
            "       routstr [--env-file PATH] audit      check the ledger's invariants\n"
            "       routstr --help | --version\n"
            "\n"
            "Sells an OpenAI-compatible API per request for Bitcoin (Cashu eCash).\n"
            "Flags win over the environment, which wins over the .env file (default ./.env).\n\n");
    config_print_help(out);
}

struct lookup {
    const struct dotenv *env_file;
    const char *host, *port; /* from flags */
};

static const char *lookup(const char *name, void *ud)
{
    const struct lookup *l = ud;
    if (l->host && strcmp(name, "HOST") == 0)
        return l->host;
    if (l->port && strcmp(name, "PORT") == 0)
        return l->port;
    const char *v = getenv(name);
    return v ? v : dotenv_get(l->env_file, name);
}

void app_maybe_exit(struct app *a)
{
    if (a->stopping && a->n_open == 0)
        event_base_loopexit(a->base, NULL);
}

static void on_recovered(const struct cashu_result *r, void *ud)
{
    if (r->amount || r->status)
        log_info("wallet: recovery at start: %s", r->message ? r->message : "done");
}

/* The wallet of the trusted mints, its seed opened with the secrets key. Operations left
 * pending by a crash are settled in the background. */
static int open_wallet(struct app *a, char err[ERR_LEN])
{
    if (*a->cfg.cashu_mints == '\0') {
        log_warn("no CASHU_MINTS: this node cannot take payments in Cashu");
        return E_OK;
    }
    uint8_t key[32], seed[64];
    int rc = secrets_key_load(key, &a->cfg, err);
    if (rc == 0)
        rc = secrets_get_or_create(a->store, a->base, key, "wallet_seed", seed, sizeof(seed), err);
    secure_zero(key, sizeof(key));
    if (rc != 0)
        return rc;
    struct cashu_wallet_opts o = {.http = a->client, .store = a->store, .seed = seed,
                                  .mints = a->cfg.cashu_mints,
                                  .proxy = *a->cfg.tor_proxy_url ? a->cfg.tor_proxy_url : NULL,
                                  .timeout_ms = (long)a->cfg.mint_timeout_ms};
    a->wallet = cashu_wallet_new(&o);
    secure_zero(seed, sizeof(seed));
    cashu_wallet_recover(a->wallet, on_recovered, NULL);
    return E_OK;
}

static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    log_warn("grace period over: ending %zu request(s)", a->n_open);
    app_drop_all(a);
    event_base_loopexit(a->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct app *a = arg;
    if (a->stopping) {
        log_warn("second signal: stopping now");
        app_drop_all(a);
        event_base_loopexit(a->base, NULL);
        return;
    }
    a->stopping = true;
    log_info("%s: no new connections; %zu request(s) in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT",
             a->n_open);
    http_server_stop_accepting(a->server);
    struct timeval tv = {a->cfg.shutdown_grace_ms / 1000, (a->cfg.shutdown_grace_ms % 1000) * 1000};
    a->grace_timer = evtimer_new(a->base, on_grace_over, a);
    evtimer_add(a->grace_timer, &tv);
    app_maybe_exit(a);
}

/* Parses flags into 'l' up to the first word that is not a flag (a command, whose index goes
 * to *cmd). Returns -1 to go on, or an exit status. */
static int parse_flags(int argc, char **argv, struct lookup *l, const char **env_path, int *cmd)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-') {
            *cmd = i;
            return -1;
        }
        const char **dst = NULL;
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(f, "--version") == 0) {
            printf("routstr %s\n", ROUTSTR_VERSION);
            return 0;
        }
        if (strcmp(f, "--host") == 0)
            dst = &l->host;
        else if (strcmp(f, "--port") == 0)
            dst = &l->port;
        else if (strcmp(f, "--env-file") == 0)
            dst = env_path;
        if (dst == NULL) {
            fprintf(stderr, "routstr: unknown argument '%s' (see --help)\n", f);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "routstr: %s needs a value\n", f);
            return 2;
        }
        *dst = argv[++i];
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct lookup l = {0};
    const char *env_path = NULL;
    int cmd = 0;
    int rc = parse_flags(argc, argv, &l, &env_path, &cmd);
    if (rc >= 0)
        return rc;
    if (cmd && strcmp(argv[cmd], "wallet") != 0 && strcmp(argv[cmd], "audit") != 0) {
        fprintf(stderr, "routstr: unknown command '%s' (see --help)\n", argv[cmd]);
        return 2;
    }

    char err[ERR_LEN];
    struct dotenv env_file;
    if (dotenv_load(&env_file, env_path ? env_path : ".env", env_path != NULL, err) != E_OK) {
        fprintf(stderr, "routstr: %s\n", err);
        return 2;
    }
    l.env_file = &env_file;
    struct app a = {0};
    rc = config_load(&a.cfg, lookup, &l, err);
    dotenv_deinit(&env_file);
    if (rc != E_OK) {
        fprintf(stderr, "routstr: bad configuration: %s\n", err);
        return 2;
    }
    log_min_level = a.cfg.log_level;
    signal(SIGPIPE, SIG_IGN);
    if (cmd) {
        rc = strcmp(argv[cmd], "audit") == 0 ? cli_audit(&a.cfg)
                                             : cli_wallet(&a.cfg, argc - cmd - 1, argv + cmd + 1);
        config_deinit(&a.cfg);
        curl_global_cleanup();
        return rc;
    }

    a.base = event_base_new();
    if (a.base == NULL)
        abort();
    a.client = http_client_new(a.base);
    uint8_t inst[16];
    if (crypto_random(inst, sizeof(inst)) != 0)
        abort();
    hex_encode(a.instance, inst, sizeof(inst));
    metrics_node_start();
    if (store_open(&a.store, a.base, a.cfg.database_url, err) != E_OK ||
        admin_init(&a, err) != E_OK || pricing_init(&a, err) != E_OK ||
        open_wallet(&a, err) != E_OK ||
        nostr_app_start(&a.nostr, &a, err) != E_OK) {
        fprintf(stderr, "routstr: %s\n", err);
        rc = 1;
        goto out;
    }
    struct http_server_opts so = {
        .host = a.cfg.host,
        .port = (int)a.cfg.port,
        .max_header_bytes = (size_t)a.cfg.max_header_bytes,
        .max_body_bytes = (size_t)a.cfg.max_body_bytes,
        .idle_timeout_ms = (long)a.cfg.client_idle_timeout_ms,
    };
    a.server = http_server_new(a.base, &so, app_handle, &a, err);
    if (a.server == NULL) {
        fprintf(stderr, "routstr: %s\n", err);
        rc = 1;
        goto out;
    }
    sweep_start(&a);
    admin_start(&a);
    a.sig_term = evsignal_new(a.base, SIGTERM, on_signal, &a);
    a.sig_int = evsignal_new(a.base, SIGINT, on_signal, &a);
    evsignal_add(a.sig_term, NULL);
    evsignal_add(a.sig_int, NULL);

    log_info("routstr %s serving http://%s:%d upstream %s", ROUTSTR_VERSION, a.cfg.host,
             http_server_port(a.server),
             *a.cfg.upstream_base_url ? a.cfg.upstream_base_url
                                      : "(none: set UPSTREAM_BASE_URL; proxied requests get 503)");
    event_base_dispatch(a.base);
    http_client_shutdown(a.client); /* background transfers end while their owners still live */
    log_info("stopped");
    rc = 0;

out:
    sweep_stop(&a);
    nostr_app_free(a.nostr);
    if (a.grace_timer)
        event_free(a.grace_timer);
    if (a.sig_term)
        event_free(a.sig_term);
    if (a.sig_int)
        event_free(a.sig_int);
    http_server_free(a.server);
    cashu_wallet_free(a.wallet);
    pricing_deinit(&a);
    admin_free(&a);
    store_close(a.store);
    http_client_free(a.client);
    event_base_free(a.base);
    metrics_node_stop(); /* last: teardown still ends requests, which are counted */
    config_deinit(&a.cfg);
    curl_global_cleanup();
    return rc;
}
