/* test_store_store.c -- the store's typed calls on a real SQLite file: migrations, secrets,
 * counters, wallet operations and proofs, and that a refused transaction leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"

static void test_migrations_once(void **state)
{
    struct fx *f = *state;
    assert_string_equal(store_dialect(f->s), on_pg ? "postgresql" : "sqlite");
    assert_int_equal(store_schema_version(f->s), 5);
    store_close(f->s);
    char err[ERR_LEN];
    assert_int_equal(store_open(&f->s, f->base, f->url, err), E_OK); /* nothing re-applied */
    assert_int_equal(store_schema_version(f->s), 5);
}

static void test_secret_first_wins(void **state)
{
    struct fx *f = *state;
    struct got g = {0};
    store_secret_init(f->s, "seed", "first", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(g.cells[0][0], "first");
    memset(&g, 0, sizeof(g));
    store_secret_init(f->s, "seed", "second", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][0], "first");
    memset(&g, 0, sizeof(g));
    store_secret_get(f->s, "none", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_int_equal(g.nrows, 0);
}

static void test_counters(void **state)
{
    struct fx *f = *state;
    struct got g = {0};
    store_counter_reserve(f->s, "00abc", 3, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(g.cells[0][0], "0");
    memset(&g, 0, sizeof(g));
    store_counter_reserve(f->s, "00abc", 5, on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][0], "3");
    memset(&g, 0, sizeof(g));
    store_counter_reserve(f->s, "00def", 1, on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][0], "0");
}

static void receive(struct fx *f, const char *op_id, const char *y1, const char *y2)
{
    struct store_op op = {.id = op_id, .kind = "receive", .mint_url = "http://m", .unit = "sat",
                          .amount = 12, .fee = 0, .ref = "tokhash"};
    struct store_output outs[2] = {{"00abc", 0, 4, "02aa"}, {"00abc", 1, 8, "02bb"}};
    struct got g = {0};
    store_op_begin(f->s, &op, outs, 2, NULL, 0, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    struct store_proof proofs[2] = {
        {y1, "http://m", "sat", "00abc", 4, "s1", "02c1", NULL},
        {y2, "http://m", "sat", "00abc", 8, "s2", "02c2", "{\"e\":\"00\"}"},
    };
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, op_id, proofs, 2, NULL, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
}

static void test_wallet_op_cycle(void **state)
{
    struct fx *f = *state;
    receive(f, "op1", "y1", "y2");
    struct got g = {0};
    store_op_outputs(f->s, "op1", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 2);
    assert_string_equal(g.cells[1][3], "02bb");

    memset(&g, 0, sizeof(g));
    store_proofs_unspent(f->s, "http://m", "sat", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 2);
    assert_string_equal(g.cells[0][2], "8"); /* largest first */

    /* A send spends y2: pending while the op runs, spent when done. */
    struct store_op send = {.id = "op2", .kind = "send", .mint_url = "http://m", .unit = "sat",
                            .amount = 8};
    const char *inputs[] = {"y2"};
    memset(&g, 0, sizeof(g));
    store_op_begin(f->s, &send, NULL, 0, inputs, 1, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);

    memset(&g, 0, sizeof(g));
    store_wallet_balance(f->s, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][2], "4"); /* unspent */
    assert_string_equal(g.cells[0][3], "8"); /* pending */

    /* A second op cannot take the same proof: refused, and nothing of it is left. */
    struct store_op send2 = {.id = "op3", .kind = "send", .mint_url = "http://m", .unit = "sat",
                             .amount = 8};
    memset(&g, 0, sizeof(g));
    store_op_begin(f->s, &send2, NULL, 0, inputs, 1, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    memset(&g, 0, sizeof(g));
    store_op_get(f->s, "op3", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 0);

    memset(&g, 0, sizeof(g));
    store_ops_pending(f->s, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][0], "op2");

    /* The mint refused it: the proof is ours again. */
    memset(&g, 0, sizeof(g));
    store_op_failed(f->s, "op2", "11001", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    memset(&g, 0, sizeof(g));
    store_wallet_balance(f->s, on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][2], "12");
    assert_string_equal(g.cells[0][3], "0");

    /* Ending an op twice is refused. */
    memset(&g, 0, sizeof(g));
    store_op_failed(f->s, "op2", "again", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
}

static void test_duplicate_proof_rolls_back(void **state)
{
    struct fx *f = *state;
    receive(f, "op1", "y1", "y2");
    struct store_op op = {.id = "op9", .kind = "receive", .mint_url = "http://m", .unit = "sat",
                          .amount = 4};
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, NULL, 0, on_done, &g);
    wait_for(f, &g);
    struct store_proof dup = {"y1", "http://m", "sat", "00abc", 4, "s1", "02c1", NULL};
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, "op9", &dup, 1, NULL, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    memset(&g, 0, sizeof(g));
    store_op_get(f->s, "op9", on_rows, &g); /* still pending: the whole transaction rolled back */
    wait_for(f, &g);
    assert_string_equal(g.cells[0][2], "pending");
}

static void test_keysets(void **state)
{
    struct fx *f = *state;
    struct store_keyset k = {"00abc", "http://m", "sat", true, 100, "{\"1\":\"02..\"}"};
    struct got g = {0};
    store_keyset_put(f->s, &k, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    k.active = false;
    memset(&g, 0, sizeof(g));
    store_keyset_put(f->s, &k, on_done, &g); /* an update, not a second row */
    wait_for(f, &g);
    memset(&g, 0, sizeof(g));
    store_keysets_get(f->s, NULL, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][3], "0");
    assert_string_equal(g.cells[0][4], "100");
    memset(&g, 0, sizeof(g));
    store_keysets_get(f->s, "http://other", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 0);
}

static void test_bad_url(void **state)
{
    struct fx *f = *state;
    struct store *s = NULL;
    char err[ERR_LEN];
    assert_int_equal(store_open(&s, f->base, "mysql://x", err), E_PROTO);
    assert_int_equal(store_open(&s, f->base, "sqlite:////nonexistent-dir/x.db", err), E_IO);
    assert_int_equal(store_open(&s, f->base, "postgresql://nobody@127.0.0.1:1/none", err), E_IO);
    assert_null(strstr(err, "secret"));
}

/* Many programs at once: more than the connections, all answered, none lost. */
struct many {
    int answered;
    int firsts[64];
};

static void on_many(int status, const struct store_rows *rows, void *ud)
{
    struct many *m = ud;
    assert_int_equal(status, E_OK);
    m->firsts[m->answered++] = (int)store_cell_i64(rows, 0, 0);
}

static void test_concurrent_counters(void **state)
{
    struct fx *f = *state;
    struct many m = {0};
    for (int i = 0; i < 64; i++)
        store_counter_reserve(f->s, "00abc", 2, on_many, &m);
    while (m.answered < 64)
        event_base_loop(f->base, EVLOOP_ONCE);
    /* Every reservation got its own range: 64 distinct even starts 0..126. */
    bool seen[64] = {0};
    for (int i = 0; i < 64; i++) {
        assert_int_equal(m.firsts[i] % 2, 0);
        assert_false(seen[m.firsts[i] / 2]);
        seen[m.firsts[i] / 2] = true;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_first_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wallet_op_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_proof_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keysets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_counters, setup, teardown),
    };
    return STORE_RUN_BOTH(tests);
}
