/* wallet_check.c -- dropping proofs the mint says are spent (NUT-07).
 *
 * Proofs can be spent behind our back: a backup restored over a newer database, a token sent
 * and claimed before its op was marked done. For every mint and unit we hold, the unspent
 * proofs' Ys are checked in batches and those the mint reports SPENT are marked spent, so they
 * are never offered again. The result's 'amount' is what was dropped. */
#include "cashu/wallet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"

#define CHECK_BATCH 100

struct check {
    struct cashu_wallet *w;
    char **groups; /* mint, unit pairs */
    size_t n_groups, group;
    char **ys;
    int64_t *amounts;
    size_t n, start, next; /* proofs of the current group; the batch in flight [start, next) */
    uint64_t dropped;
    int status;
    cashu_result_fn *cb;
    void *ud;
};

static void next_group(struct check *c);
static void next_batch(struct check *c);

static void free_proofs(struct check *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->ys[i]);
    free(c->ys);
    free(c->amounts);
    c->ys = NULL;
    c->amounts = NULL;
    c->n = c->start = c->next = 0;
}

static void on_marked(int status, void *ud)
{
    struct check *c = ud;
    if (status != 0)
        c->status = status;
    next_batch(c);
}

static void on_states(const struct cashu_mint_res *r, void *ud)
{
    struct check *c = ud;
    size_t start = c->start;
    json_t *states = r->status == CASHU_MINT_OK ? json_object_get(r->json, "states") : NULL;
    if (json_array_size(states) != c->next - start) {
        c->status = E_IO;
        next_group(c);
        return;
    }
    const char **spent = xcalloc(c->next - start, sizeof(char *));
    size_t n_spent = 0;
    for (size_t i = start; i < c->next; i++) {
        const char *st = json_string_value(json_object_get(json_array_get(states, i - start),
                                                           "state"));
        if (st && strcmp(st, "SPENT") == 0) {
            spent[n_spent++] = c->ys[i];
            c->dropped += (uint64_t)c->amounts[i];
        }
    }
    if (n_spent) {
        log_warn("wallet: %zu proof(s) found spent at the mint; dropped", n_spent);
        store_proofs_spent(c->w->store, spent, n_spent, on_marked, c);
    } else {
        next_batch(c);
    }
    free(spent);
}

static void next_batch(struct check *c)
{
    if (c->next >= c->n) {
        next_group(c);
        return;
    }
    json_t *ys = json_array();
    size_t end = c->next + CHECK_BATCH < c->n ? c->next + CHECK_BATCH : c->n;
    for (size_t i = c->next; i < end; i++)
        json_array_append_new(ys, json_string(c->ys[i]));
    c->start = c->next;
    c->next = end;
    json_t *body = json_pack("{s:o}", "Ys", ys);
    if (wallet_call(c->w, c->groups[2 * c->group - 2], "POST", "/v1/checkstate", body, 0,
                    on_states, c) != 0) {
        c->status = E_IO;
        c->next = c->n;
        next_group(c);
    }
    json_decref(body);
}

static void on_unspent(int status, const struct store_rows *rows, void *ud)
{
    struct check *c = ud;
    if (status != 0) {
        c->status = status;
        next_group(c);
        return;
    }
    c->ys = xcalloc(rows->nrows + 1, sizeof(char *));
    c->amounts = xcalloc(rows->nrows + 1, sizeof(int64_t));
    for (size_t i = 0; i < rows->nrows; i++) {
        c->ys[c->n] = xstrdup(store_cell(rows, i, 0));
        c->amounts[c->n++] = store_cell_i64(rows, i, 2);
    }
    next_batch(c);
}

static void next_group(struct check *c)
{
    free_proofs(c);
    while (c->group < c->n_groups) {
        const char *mint = c->groups[2 * c->group], *unit = c->groups[2 * c->group + 1];
        c->group++;
        if (wallet_mint(c->w, mint) == NULL)
            continue; /* no longer trusted: left alone */
        store_proofs_unspent(c->w->store, mint, unit, on_unspent, c);
        return;
    }
    struct cashu_result r = {.status = c->status, .amount = c->dropped,
                             .message = c->status ? "some mints could not be checked" : NULL};
    c->cb(&r, c->ud);
    for (size_t i = 0; i < 2 * c->n_groups; i++)
        free(c->groups[i]);
    free(c->groups);
    free(c);
}

static void on_groups(int status, const struct store_rows *rows, void *ud)
{
    struct check *c = ud;
    c->status = status;
    size_t n = status == 0 ? rows->nrows : 0;
    c->groups = xcalloc(2 * n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        c->groups[2 * i] = xstrdup(store_cell(rows, i, 0));
        c->groups[2 * i + 1] = xstrdup(store_cell(rows, i, 1));
    }
    c->n_groups = n;
    next_group(c);
}

int cashu_wallet_check(struct cashu_wallet *w, cashu_result_fn *cb, void *ud)
{
    struct check *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->cb = cb;
    c->ud = ud;
    store_wallet_balance(w->store, on_groups, c);
    return 0;
}
