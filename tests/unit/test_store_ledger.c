/* test_store_ledger.c -- the ledger's calls on both backends: credit through a wallet receive,
 * reserve and settle, release, overrun capping, double settlement refused, refunds settled
 * exactly once by the op that pays them (live, failed, or recovered after a crash), and the
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

/* The send op that pays refund 'refund_id' (its ref), saved as the wallet saves it. */
static void pay_op(struct fx *f, const char *op_id, const char *refund_id, int64_t sats)
{
    struct store_op op = {.id = op_id, .kind = "send", .mint_url = "http://m", .unit = "sat",
                          .amount = sats, .ref = refund_id};
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, NULL, 0, on_done, &g);
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
    /* The op that pays it stores the token with the refund, in its own transaction. */
    pay_op(f, "s1", "rf1", 7);
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, "s1", NULL, 0, "cashuBtoken", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    memset(&g, 0, sizeof(g));
    store_refund_latest(f->s, "k1", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][4], "done");
    assert_string_equal(g.cells[0][5], "cashuBtoken");
    assert_string_equal(g.cells[0][6], "1"); /* unchanged since: a retry gets it again */
    /* A refund whose payout failed before any op gives the money back, with a ledger row. */
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

static const char *refund_state(struct fx *f, const char *key, char out[130])
{
    struct got g = {0};
    store_refund_latest(f->s, key, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    snprintf(out, 130, "%s", g.cells[0][4]);
    return out;
}

static void begin_refund(struct fx *f, const char *id, const char *key, int64_t sats)
{
    struct store_refund rf = {id, key, sats * 1000, sats, "sat", balance(f, key, 0)};
    struct got g = {0};
    store_refund_begin(f->s, &rf, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
}

/* Unspent, pending wallet proofs of http://m (sat). */
static int64_t wallet(struct fx *f, int col)
{
    struct got g = {0};
    store_wallet_balance(f->s, on_rows, &g);
    wait_for(f, &g);
    return g.nrows ? strtoll(g.cells[0][col], NULL, 10) : 0;
}

static void test_refund_settled_by_its_op(void **state)
{
    struct fx *f = *state;
    char st[130];
    credit(f, "op1", "k1", 10000);
    /* The mint refused the swap: the op fails, the key gets its 10 sat back, once. */
    begin_refund(f, "rf1", "k1", 10);
    assert_int_equal(balance(f, "k1", 0), 0);
    pay_op(f, "s1", "rf1", 10);
    struct got g = {0};
    store_op_failed(f->s, "s1", "refused", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(refund_state(f, "k1", st), "failed");
    assert_int_equal(balance(f, "k1", 0), 10000);
    memset(&g, 0, sizeof(g));
    store_refund_failed(f->s, "rf1", on_done, &g); /* the caller's own reversal: too late */
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    assert_int_equal(balance(f, "k1", 0), 10000);
    audit_clean(f);

    /* Recovery ends the op done with no token (nothing restorable): nothing was handed out. */
    begin_refund(f, "rf2", "k1", 10);
    pay_op(f, "s2", "rf2", 10);
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, "s2", NULL, 0, NULL, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(refund_state(f, "k1", st), "failed");
    assert_int_equal(balance(f, "k1", 0), 10000);
    audit_clean(f);

    /* Recovery restored the swap's outputs (8 + 2 to send, 4 kept): the refund takes its token
     * and the proofs in it leave the wallet; the rest is the wallet's. */
    begin_refund(f, "rf3", "k1", 10);
    pay_op(f, "s3", "rf3", 10);
    struct store_proof p[3] = {
        {"y8", "http://m", "sat", "00aa", 8, "s8", "02c8", NULL},
        {"y4", "http://m", "sat", "00aa", 4, "s4", "02c4", NULL},
        {"y2", "http://m", "sat", "00aa", 2, "s2", "02c2", NULL},
    };
    const char *send_ys[2] = {"y8", "y2"};
    memset(&g, 0, sizeof(g));
    store_op_done_claimable(f->s, "s3", p, 3, send_ys, 2, "cashuBrecovered", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    memset(&g, 0, sizeof(g));
    store_refund_latest(f->s, "k1", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][4], "done");
    assert_string_equal(g.cells[0][5], "cashuBrecovered");
    assert_int_equal(balance(f, "k1", 0), 0);
    assert_int_equal(wallet(f, 2), 4);
    memset(&g, 0, sizeof(g));
    store_op_get(f->s, "s3", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][2], "done");
    assert_string_equal(g.cells[0][5], "cashuBrecovered");
    /* The same op cannot end twice. */
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, "s3", NULL, 0, NULL, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    assert_int_equal(balance(f, "k1", 0), 0);
    audit_clean(f);

    /* A restored send nobody waits for (no pending refund): every proof stays the wallet's. */
    pay_op(f, "s4", "cli", 8);
    struct store_proof q[2] = {
        {"z8", "http://m", "sat", "00aa", 8, "t8", "02d8", NULL},
        {"z1", "http://m", "sat", "00aa", 1, "t1", "02d1", NULL},
    };
    const char *send_zs[1] = {"z8"};
    memset(&g, 0, sizeof(g));
    store_op_done_claimable(f->s, "s4", q, 2, send_zs, 1, "cashuBnobody", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_int_equal(wallet(f, 2), 4 + 9);
    memset(&g, 0, sizeof(g));
    store_op_get(f->s, "s4", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][5], "(null)");
    audit_clean(f);
}

static void test_audit_flags_stuck_refund(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 5000);
    begin_refund(f, "rf1", "k1", 5);
    pay_op(f, "s1", "rf1", 5);
    audit_clean(f); /* pending while its op is: a payout in flight */
    /* An op ended behind the refund's back (what an older node left after a crash). */
    store_fixture_exec(f, "UPDATE wallet_ops SET state = 'done' WHERE id = 's1'");
    struct got g = {0};
    store_audit(f->s, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][0], "no refund pending once its payout ended");
    assert_string_equal(g.cells[0][1], "rf1");
    assert_string_equal(g.cells[0][3], "5000");
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
    /* Its receive fails (recovery found nothing signed after a crash): the claim goes with it,
     * in the op's transaction, and the token may be tried again. */
    struct store_op op = {.id = "rc1", .kind = "receive", .mint_url = "http://m", .unit = "sat",
                          .amount = 5, .ref = "tok", .credit_key = "k2", .credit_msat = 5000};
    memset(&g, 0, sizeof(g));
    store_op_begin(f->s, &op, NULL, 0, NULL, 0, on_done, &g);
    wait_for(f, &g);
    memset(&g, 0, sizeof(g));
    store_op_failed(f->s, "rc1", "recovered: nothing was signed", on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    memset(&g, 0, sizeof(g));
    store_redemption_claim(f->s, "tok", "k2", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][2], "claimed");
}

static void claim(struct fx *f, const char *token, const char *key)
{
    struct got g = {0};
    store_redemption_claim(f->s, token, key, on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][2], "claimed");
}

/* What a crash leaves between two steps: a refund debited with no op, a claim with no receive.
 * The sweep's settlement credits the first back and drops the second; rows with an op saved, and
 * rows newer than its bound, stay as they are. */
static void test_orphans_settled(void **state)
{
    struct fx *f = *state;
    credit(f, "op1", "k1", 9000);
    credit(f, "op2", "k2", 4000);
    begin_refund(f, "orphan", "k1", 9);     /* no op: the process died after the debit */
    begin_refund(f, "paying", "k2", 4);     /* its op saved: recovery's, not the sweep's */
    pay_op(f, "s1", "paying", 4);
    claim(f, "tok-orphan", "k3");           /* no op */
    claim(f, "tok-receiving", "k4");        /* its receive op saved */
    struct store_op op = {.id = "rc1", .kind = "receive", .mint_url = "http://m", .unit = "sat",
                          .amount = 5, .ref = "tok-receiving", .credit_key = "k4",
                          .credit_msat = 5000};
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, NULL, 0, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_int_equal(balance(f, "k1", 0), 0);

    /* A bound in the past finds nothing (all rows are newer). */
    memset(&g, 0, sizeof(g));
    store_orphans_settle(f->s, time(NULL) - 300, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(g.cells[0][0], "0");
    assert_string_equal(g.cells[0][1], "0");
    assert_int_equal(balance(f, "k1", 0), 0);

    memset(&g, 0, sizeof(g));
    store_orphans_settle(f->s, time(NULL) + 1, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_OK);
    assert_string_equal(g.cells[0][0], "1");
    assert_string_equal(g.cells[0][1], "1");
    char st[130];
    assert_string_equal(refund_state(f, "k1", st), "failed");
    assert_string_equal(refund_state(f, "k2", st), "pending");
    assert_int_equal(balance(f, "k1", 0), 9000);
    assert_int_equal(balance(f, "k2", 0), 0);
    memset(&g, 0, sizeof(g));
    store_ledger_history(f->s, "k1", 10, on_rows, &g);
    wait_for(f, &g);
    assert_int_equal(g.nrows, 3); /* deposit, refund, reversal */
    audit_clean(f);
    /* A payout starting late for the refund credited back is refused: nothing goes out twice. */
    struct store_op late = {.id = "s-late", .kind = "send", .mint_url = "http://m", .unit = "sat",
                            .amount = 9, .ref = "orphan"};
    memset(&g, 0, sizeof(g));
    store_op_begin(f->s, &late, NULL, 0, NULL, 0, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_CONFLICT);
    claim(f, "tok-orphan", "k3"); /* the token may be used again */
    memset(&g, 0, sizeof(g));
    store_redemption_claim(f->s, "tok-receiving", "k4", on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][2], "existing");

    /* Settled once: a second pass finds nothing more. */
    memset(&g, 0, sizeof(g));
    store_orphans_settle(f->s, time(NULL) + 1, on_rows, &g);
    wait_for(f, &g);
    assert_string_equal(g.cells[0][0], "0");
    assert_int_equal(balance(f, "k1", 0), 9000);
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
        cmocka_unit_test_setup_teardown(test_refund_settled_by_its_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_flags_stuck_refund, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redemption_claim_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphans_settled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_reservations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_finds_corruption, setup, teardown),
    };
    return STORE_RUN_BOTH(tests);
}
