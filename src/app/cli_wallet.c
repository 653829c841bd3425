/* cli_wallet.c -- the operator's wallet commands: routstr wallet balance | send AMOUNT |
 * receive TOKEN | melt BOLT11 | mint AMOUNT | recover | check.
 *
 * Each command opens the node's database and wallet exactly as the server does (same
 * configuration, same secrets), runs one operation on its own event loop and prints the outcome
 * on stdout: a token for send, one JSON object otherwise. Failures go to stderr with exit
 * status 1; bad usage exits 2. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "app/cli.h"
#include "app/secrets.h"
#include "base/str.h"
#include "cashu/wallet.h"
#include "crypto/crypto.h"
#include "http/client.h"
#include "store/store.h"

struct cli {
    struct event_base *base;
    struct http_client *http;
    struct store *store;
    struct cashu_wallet *wallet;
    bool done;
    int rc;
    bool v3;
    bool force; /* send: beyond what the operator owns (users' balances) */
};

static void wallet_usage(FILE *out)
{
    fprintf(out, "usage: routstr wallet balance\n"
                 "       routstr wallet send AMOUNT [--v3] [--mint URL] [--force]   (sat; only\n"
                 "                 what the operator owns unless --force: users' money too)\n"
                 "       routstr wallet receive TOKEN\n"
                 "       routstr wallet melt BOLT11\n"
                 "       routstr wallet mint AMOUNT   (sats over Lightning: prints the invoice)\n"
                 "       routstr wallet recover\n"
                 "       routstr wallet check      (drop proofs the mint says are spent)\n");
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(j);
}

static void on_result(const struct cashu_result *r, void *ud)
{
    struct cli *c = ud;
    c->done = true;
    if (r->status != 0 && r->status != E_AGAIN) {
        fprintf(stderr, "routstr: wallet: %s\n", r->message ? r->message : "failed");
        c->rc = 1;
        return;
    }
    if (r->token) {
        printf("%s\n", r->token);
        return;
    }
    print_json(json_pack("{s:I, s:I, s:s?, s:s?, s:s?}", "amount", (json_int_t)r->amount, "fee",
                         (json_int_t)r->fee, "unit", r->unit, "mint", r->mint, "message",
                         r->message));
    c->rc = r->status == E_AGAIN ? 1 : 0;
}

static void on_invoice(const char *bolt11, uint64_t amount, void *ud)
{
    fprintf(stderr, "routstr: pay this invoice of %llu sat to fund the wallet:\n%s\n",
            (unsigned long long)amount, bolt11);
}

static void on_balance(int status, const struct store_rows *rows, void *ud)
{
    struct cli *c = ud;
    c->done = true;
    if (status != 0) {
        fprintf(stderr, "routstr: wallet: cannot read the balance\n");
        c->rc = 1;
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < rows->nrows; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I}", "mint", store_cell(rows, i, 0),
                                           "unit", store_cell(rows, i, 1), "balance",
                                           (json_int_t)store_cell_i64(rows, i, 2), "pending",
                                           (json_int_t)store_cell_i64(rows, i, 3)));
    print_json(json_pack("{s:o}", "balances", a));
}

static int open_wallet(struct cli *c, const struct config *cfg)
{
    char err[ERR_LEN];
    uint8_t key[32], seed[64];
    c->base = event_base_new();
    c->http = http_client_new(c->base);
    if (store_open(&c->store, c->base, cfg->database_url, err) != 0 ||
        secrets_key_load(key, cfg, err) != 0 ||
        secrets_get_or_create(c->store, c->base, key, "wallet_seed", seed, sizeof(seed), err) !=
            0) {
        fprintf(stderr, "routstr: %s\n", err);
        secure_zero(key, sizeof(key));
        return 1;
    }
    struct cashu_wallet_opts o = {.http = c->http, .store = c->store, .seed = seed,
                                  .mints = cfg->cashu_mints,
                                  .proxy = *cfg->tor_proxy_url ? cfg->tor_proxy_url : NULL,
                                  .timeout_ms = (long)cfg->mint_timeout_ms};
    c->wallet = cashu_wallet_new(&o);
    secure_zero(key, sizeof(key));
    secure_zero(seed, sizeof(seed));
    return 0;
}

static void close_wallet(struct cli *c)
{
    cashu_wallet_free(c->wallet);
    store_close(c->store);
    http_client_free(c->http);
    if (c->base)
        event_base_free(c->base);
}

int cli_wallet(const struct config *cfg, int argc, char **argv)
{
    if (argc < 1) {
        wallet_usage(stderr);
        return 2;
    }
    const char *cmd = argv[0];
    const char *mint = NULL;
    struct cli c = {0};
    int64_t amount = 0;
    if (strcmp(cmd, "mint") == 0) {
        if (argc != 2 || str_parse_i64(argv[1], 1, INT64_MAX, &amount) != 0) {
            wallet_usage(stderr);
            return 2;
        }
    } else if (strcmp(cmd, "send") == 0) {
        if (argc < 2 || str_parse_i64(argv[1], 1, INT64_MAX, &amount) != 0) {
            wallet_usage(stderr);
            return 2;
        }
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--v3") == 0)
                c.v3 = true;
            else if (strcmp(argv[i], "--force") == 0)
                c.force = true;
            else if (strcmp(argv[i], "--mint") == 0 && i + 1 < argc)
                mint = argv[++i];
            else {
                wallet_usage(stderr);
                return 2;
            }
        }
    } else if ((strcmp(cmd, "receive") == 0 || strcmp(cmd, "melt") == 0) && argc != 2) {
        wallet_usage(stderr);
        return 2;
    } else if (strcmp(cmd, "balance") != 0 && strcmp(cmd, "recover") != 0 &&
               strcmp(cmd, "check") != 0 && strcmp(cmd, "mint") != 0 &&
               strcmp(cmd, "receive") != 0 && strcmp(cmd, "melt") != 0 &&
               strcmp(cmd, "send") != 0) {
        wallet_usage(stderr);
        return 2;
    }
    if (open_wallet(&c, cfg) != 0) {
        close_wallet(&c);
        return 1;
    }
    int rc = 0;
    if (strcmp(cmd, "balance") == 0)
        store_wallet_balance(c.store, on_balance, &c);
    else if (strcmp(cmd, "send") == 0)
        rc = cashu_wallet_withdraw(c.wallet, mint, "sat", (uint64_t)amount, c.v3, !c.force,
                                   "cli", on_result, &c);
    else if (strcmp(cmd, "receive") == 0)
        rc = cashu_wallet_receive(c.wallet, argv[1], strlen(argv[1]), "cli", NULL, on_result,
                                  &c);
    else if (strcmp(cmd, "melt") == 0)
        rc = cashu_wallet_melt(c.wallet, argv[1], on_result, &c);
    else if (strcmp(cmd, "mint") == 0)
        rc = cashu_wallet_mint(c.wallet, (uint64_t)amount, on_invoice, on_result, &c);
    else if (strcmp(cmd, "check") == 0)
        rc = cashu_wallet_check(c.wallet, on_result, &c);
    else
        rc = cashu_wallet_recover(c.wallet, on_result, &c);
    if (rc != 0) {
        fprintf(stderr, "routstr: wallet: cannot start\n");
        c.rc = 1;
        c.done = true;
    }
    while (!c.done)
        event_base_loop(c.base, EVLOOP_ONCE);
    close_wallet(&c);
    return c.rc;
}
