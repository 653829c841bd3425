/* test_store_ledger.c -- the ledger's calls on both backends: credit through a wallet receive,
 * reserve and settle, release, overrun capping, double settlement refused, refunds, and the
 * audit finding nothing wrong (and finding what a corruption breaks). */
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

/* A key credited as a receive does it: op with a credit, ended done. */
static void credit(struct fx *f, const char *op_id, const char *key, int64_t msat)
{
    struct store_op op = {.id = op_id, .kind = "receive", .mint_url = "http://m", .unit = "sat",
                          .amount = msat / 1000, .ref = op_id, .credit_key = key,
                          .credit_msat = msat};
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, NULL, 0, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, op_id, NULL, 0, NULL, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
}

static int64_t balance(struct fx *f, const char *key, int col)
{
    struct got g = {0};
    store_key_get(f->s, key, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    return strtoll(g.cells[0][col], NULL, 10);
}

static void audit_clean(struct fx *f)
{
    struct got g = {0};
    store_audit(f->s, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    if (g.nrows)
        fail_msg("audit: %s %s expected %s actual %s", g.cells[0][0], g.cells[0][1],
                 g.cells[0][2], g.cells[0][3]);
}

static int reserve(struct fx *f, const char *rid, const char *key, int64_t msat)
{
    struct store_reservation r = {rid, key, msat, "m", "/v1/chat/completions", "inst-a"};
    struct got g = {0};
    store_reserve(f->s, &r, on_rows, &g);
    wait_for(f, &g);
    return g.status;
}

static void test_credit_and_settle(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 10000);
    credit(f, "op2", "k1", 5000); /* a top-up adds */
    assert_int_equal(balance(f, "k1", 0), 15000);
    assert_int_equal(reserve(f, "r1", "k1", 4000), E_OK);
    assert_int_equal(balance(f, "k1", 1), 4000);
    struct got g = {0};
    store_settle(f->s, "r1", 1234, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(g.cells[0][0], "1234");  /* charged */
    assert_string_equal(g.cells[0][1], "13766"); /* spendable after */
    assert_int_equal(balance(f, "k1", 0), 15000 - 1234);
    assert_int_equal(balance(f, "k1", 1), 0);
    assert_int_equal(balance(f, "k1", 2), 1234);
    /* Settling twice changes nothing. */
    memset(&g, 0, sizeof(g));
    store_settle(f->s, "r1", 1234, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    memset(&g, 0, sizeof(g));
    store_release(f->s, "r1", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    assert_int_equal(balance(f, "k1", 0), 15000 - 1234);
    audit_clean(f);
}

static void test_short_unknown_release(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 3000);
    assert_int_equal(reserve(f, "r1", "k1", 2000), E_OK);
    assert_int_equal(reserve(f, "r2", "k1", 2000), E_FUNDS); /* only 1000 left */
    assert_int_equal(reserve(f, "r3", "nokey", 1), E_FUNDS);
    struct got g = {0};
    store_key_get(f->s, "nokey", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 0);
    memset(&g, 0, sizeof(g));
    store_release(f->s, "r1", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_int_equal(balance(f, "k1", 1), 0);
    assert_int_equal(balance(f, "k1", 3), 0); /* a released request does not count */
    assert_int_equal(reserve(f, "r2", "k1", 3000), E_OK);
    audit_clean(f);
}

static void test_overrun_never_spends_others(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 10000);
    assert_int_equal(reserve(f, "a", "k1", 4000), E_OK);
    assert_int_equal(reserve(f, "b", "k1", 6000), E_OK);
    /* 'a' costs more than reserved: it may take its reservation and nothing of b's. */
    struct got g = {0};
    store_settle(f->s, "a", 9999, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(g.cells[0][0], "4000");
    memset(&g, 0, sizeof(g));
    store_settle(f->s, "b", 6000, on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][0], "6000");
    assert_int_equal(balance(f, "k1", 0), 0);
    audit_clean(f);
}

static void test_refunds(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 7500);
    assert_int_equal(reserve(f, "r", "k1", 100), E_OK);
    struct store_refund rf = {"rf1", "k1", 7000, 7, "sat", 7500};
    struct got g = {0};
    store_refund_begin(f->s, &rf, on_done, &g); /* refused while a request is in flight */
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    memset(&g, 0, sizeof(g));
    store_release(f->s, "r", on_done, &g);
    wait_for(f, &g);
    memset(&g, 0, sizeof(g));
    store_refund_begin(f->s, &rf, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_int_equal(balance(f, "k1", 0), 500); /* the sub-sat rest stays on the key */
    memset(&g, 0, sizeof(g));
    store_refund_done(f->s, "rf1", "cashuBtoken", on_done, &g);
    wait_for(f, &g);
    memset(&g, 0, sizeof(g));
    store_refund_latest(f->s, "k1", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][4], "done");
    assert_string_equal(g.cells[0][5], "cashuBtoken");
    /* A refund whose payout failed gives the money back, with a ledger row. */
    struct store_refund rf2 = {"rf2", "k1", 500, 500, "msat", 500};
    memset(&g, 0, sizeof(g));
    store_refund_begin(f->s, &rf2, on_done, &g);
    wait_for(f, &g);
    memset(&g, 0, sizeof(g));
    store_refund_failed(f->s, "rf2", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_int_equal(balance(f, "k1", 0), 500);
    audit_clean(f);
    memset(&g, 0, sizeof(g));
    store_ledger_history(f->s, "k1", 10, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 4); /* deposit, refund, refund, reversal */
}

static void test_redemption_claim_once(void **state)
{
    struct fx *f = *state;
    struct got g = {0};
    store_redemption_claim(f->s, "tok", "k1", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(g.cells[0][2], "claimed");
    memset(&g, 0, sizeof(g));
    store_redemption_claim(f->s, "tok", "k2", on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][2], "existing");
    assert_string_equal(g.cells[0][1], "k1");
    memset(&g, 0, sizeof(g));
    store_redemption_drop(f->s, "tok", on_done, &g);
    wait_for(f, &g);
    memset(&g, 0, sizeof(g));
    store_redemption_claim(f->s, "tok", "k2", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][2], "claimed");
}

static void test_stale_reservations(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 10000);
    assert_int_equal(reserve(f, "mine", "k1", 10), E_OK);  /* instance inst-a */
    struct got g = {0};
    store_instance_seen(f->s, "inst-a", on_done, &g);
    wait_for(f, &g);
    int64_t later = store_fixture_now() + 1000;
    /* inst-b asks: inst-a was seen just now, so its reservation is alive. */
    memset(&g, 0, sizeof(g));
    store_reservations_stale(f->s, later, "inst-b", later - 2000, false, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 0);
    /* ...and once inst-a has not been seen for long, it is stale. */
    memset(&g, 0, sizeof(g));
    store_reservations_stale(f->s, later, "inst-b", later, false, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][0], "mine");
    /* inst-a restarting alone sweeps its own. */
    memset(&g, 0, sizeof(g));
    store_reservations_stale(f->s, later, "inst-a", 0, true, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
}

static void test_audit_finds_corruption(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 1000);
    audit_clean(f);
    /* Change a balance behind the ledger's back. */
    struct got g = {0};
    store_fixture_exec(f, "UPDATE api_keys SET balance_msat = balance_msat + 1");
    store_audit(f->s, on_rows, &g);
    wait_for(f, &g);
    assert_true(g.nrows >= 1);
    assert_string_equal(g.cells[0][0], "balance = sum(ledger)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_credit_and_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_unknown_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrun_never_spends_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refunds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redemption_claim_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_reservations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_finds_corruption, setup, teardown),
    };
    return STORE_RUN_BOTH(tests);
}
