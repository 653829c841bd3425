/* test_store_admin.c -- the admin dashboard's store calls on both backends: the operator's books
 * balance through deposits, charges, refunds with a mint fee, withdrawals and lost proofs (and
 * stop balancing when proofs change behind the ledger); settings with their version; model
 * overrides; sessions; and the filtered lists with their totals. */
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

static void ok(struct fx *f, struct got *g)
{
    wait_for(f, g);
    assert_int_equal(g->status, E_OK);
}

/* A proof of 'amount' sat named 'y'. */
static struct store_proof proof(const char *y, int64_t amount)
{
    return (struct store_proof){.y = y, .mint_url = "http://m", .unit = "sat",
                                .keyset_id = "00ab", .amount = amount, .secret = y, .c = "02"};
}

/* A receive of 'proofs' crediting 'key' with their sum (or the operator's own when NULL). */
static void receive(struct fx *f, const char *op_id, const char *key,
                    const struct store_proof *proofs, size_t n)
{
    int64_t sat = 0;
    for (size_t i = 0; i < n; i++)
        sat += proofs[i].amount;
    struct store_op op = {.id = op_id, .kind = "receive", .mint_url = "http://m", .unit = "sat",
                          .amount = sat, .ref = op_id, .credit_key = key,
                          .credit_msat = sat * 1000}; /* the wallet sets it with no key too */
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, NULL, 0, on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, op_id, proofs, n, NULL, on_done, &g);
    ok(f, &g);
}

/* A send spending 'ys' (all of them), keeping 'change' proofs. */
static void pay_out(struct fx *f, const char *op_id, const char *account, const char *ref,
                 int64_t amount, int64_t fee, const char *const *ys, size_t n_ys,
                 const struct store_proof *change, size_t n_change)
{
    struct store_op op = {.id = op_id, .kind = "send", .mint_url = "http://m", .unit = "sat",
                          .amount = amount, .fee = fee, .ref = ref, .account = account};
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, ys, n_ys, on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, op_id, change, n_change, "cashuBtoken", on_done, &g);
    ok(f, &g);
}

struct books {
    int64_t wallet, owed, inflight, owner;
};

static struct books books(struct fx *f)
{
    struct got g = {0};
    store_audit_wallet(f->s, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    return (struct books){strtoll(g.cells[0][0], NULL, 10), strtoll(g.cells[0][1], NULL, 10),
                          strtoll(g.cells[0][2], NULL, 10), strtoll(g.cells[0][3], NULL, 10)};
}

static void assert_books(struct fx *f, int64_t wallet, int64_t owed, int64_t inflight,
                         int64_t owner)
{
    struct books b = books(f);
    assert_int_equal(b.wallet, wallet);
    assert_int_equal(b.owed, owed);
    assert_int_equal(b.inflight, inflight);
    assert_int_equal(b.owner, owner);
    assert_int_equal(b.wallet, b.owed + b.inflight + b.owner);
}

static void test_books_balance(void **state)
{
    struct fx *f = *state;
    struct store_proof in[2] = {proof("y1", 64), proof("y2", 36)};
    receive(f, "op1", "k1", in, 2);
    assert_books(f, 100000, 100000, 0, 0);

    /* A charge moves money from the key to the operator. */
    struct store_reservation r = {"req1", "k1", 5000, "m", "/v1/chat/completions", "i"};
    struct got g = {0};
    store_reserve(f->s, &r, on_rows, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_settle(f->s, "req1", 4321, on_rows, &g);
    ok(f, &g);
    assert_books(f, 100000, 100000 - 4321, 0, 4321);

    /* A refund of 30 sats: debited first (in flight), then paid with a mint fee of 1 sat. */
    struct store_refund rf = {"rf1", "k1", 30000, 30, "sat", 100000 - 4321};
    memset(&g, 0, sizeof(g));
    store_refund_begin(f->s, &rf, on_done, &g);
    ok(f, &g);
    assert_books(f, 100000, 100000 - 4321 - 30000, 30000, 4321);
    struct store_proof change[1] = {proof("y3", 5)}; /* 36 in: 30 out, 1 fee, 5 back */
    const char *spend[1] = {"y2"};
    pay_out(f, "op2", NULL, "rf1", 30, 1, spend, 1, change, 1);
    /* The op's end settled the refund: no longer in flight; the operator paid the fee. */
    assert_books(f, 69000, 100000 - 4321 - 30000, 0, 4321 - 1000);

    /* The operator withdraws 3 sats (exact proofs: no fee) from the change. */
    struct store_proof split[2] = {proof("y4", 3), proof("y5", 2)};
    receive(f, "op3", NULL, split, 2); /* the operator's own receive: +5 sats */
    assert_books(f, 74000, 65679, 0, 8321);
    const char *take[1] = {"y4"};
    pay_out(f, "op4", "owner", "w1", 3, 0, take, 1, NULL, 0);
    assert_books(f, 71000, 65679, 0, 5321);

    /* A proof the mint says is spent is the operator's loss. */
    const char *lost[1] = {"y5"};
    memset(&g, 0, sizeof(g));
    store_proofs_spent(f->s, lost, 1, on_done, &g);
    ok(f, &g);
    assert_books(f, 69000, 65679, 0, 3321);

    /* The ledger shows the operator's rows; the audit of keys still holds. */
    struct store_ledger_filter lf = {.key_like = "owner", .since = -1, .until = -1};
    memset(&g, 0, sizeof(g));
    store_admin_ledger(f->s, &lf, 10, 0, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 4); /* payout_fee, owner_receive, withdraw, proofs_lost */
    assert_string_equal(g.cells[0][6], "4");
    int64_t sum = 0;
    bool seen_withdraw = false;
    for (size_t i = 0; i < g.nrows; i++) {
        sum += strtoll(g.cells[i][3], NULL, 10);
        if (strcmp(g.cells[i][2], "withdraw") == 0) {
            seen_withdraw = true;
            assert_string_equal(g.cells[i][3], "-3000");
        }
    }
    assert_true(seen_withdraw);
    assert_int_equal(sum, -1000 + 5000 - 3000 - 2000);
    memset(&g, 0, sizeof(g));
    store_audit(f->s, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 0);

    /* Totals. */
    memset(&g, 0, sizeof(g));
    store_admin_totals(f->s, on_rows, &g);
    ok(f, &g);
    assert_string_equal(g.cells[0][0], "1");     /* keys */
    assert_string_equal(g.cells[0][1], "1");     /* requests */
    assert_string_equal(g.cells[0][2], "4321");  /* earned */
    assert_string_equal(g.cells[0][3], "3000");  /* withdrawn */
    assert_string_equal(g.cells[0][5], "65679"); /* owed */

    /* A proof removed behind the ledger's back breaks the books. */
    store_fixture_exec(f, "DELETE FROM proofs WHERE y = 'y1'");
    struct books b = books(f);
    assert_int_not_equal(b.wallet, b.owed + b.inflight + b.owner);
}

/* A refund of 'sat' sats from k1, debited: its payout is then up to the test. */
static void refund_begin(struct fx *f, const char *id, int64_t sat, int64_t balance_before)
{
    struct store_refund rf = {id, "k1", sat * 1000, sat, "sat", balance_before};
    struct got g = {0};
    store_refund_begin(f->s, &rf, on_done, &g);
    ok(f, &g);
}

static void begin_send(struct fx *f, const char *op_id, const char *ref, int64_t amount,
                       int64_t fee, const char *const *ys, size_t n_ys)
{
    struct store_op op = {.id = op_id, .kind = "send", .mint_url = "http://m", .unit = "sat",
                          .amount = amount, .fee = fee, .ref = ref};
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, ys, n_ys, on_done, &g);
    ok(f, &g);
}

static void assert_no_violation(struct fx *f)
{
    struct got g = {0};
    store_audit(f->s, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 0);
}

/* However a refund's send ends, the books balance and the operator bears only the mint's fee:
 * restored after a crash with its token claimed by the refund; restored without a token (the
 * refund fails, the key is credited back); refused by the mint (nothing moved). */
static void test_books_refund_outcomes(void **state)
{
    struct fx *f = *state;
    struct store_proof in[3] = {proof("a1", 16), proof("a2", 16), proof("a3", 16)};
    receive(f, "op1", "k1", in, 3);
    assert_books(f, 48000, 48000, 0, 0);

    /* Restored with a claim: 16 in, 10 out in the refund's token, 1 fee, 5 change. */
    refund_begin(f, "rfA", 10, 48000);
    const char *ya[1] = {"a1"};
    begin_send(f, "sA", "rfA", 10, 1, ya, 1);
    assert_books(f, 48000, 38000, 10000, 0);
    struct store_proof outA[3] = {proof("a4", 8), proof("a5", 2), proof("a6", 5)};
    const char *sendA[2] = {"a4", "a5"};
    struct got g = {0};
    store_op_done_claimable(f->s, "sA", outA, 3, sendA, 2, "cashuBrestored", on_done, &g);
    ok(f, &g);
    assert_books(f, 37000, 38000, 0, -1000);
    assert_no_violation(f);

    /* Restored without a token: the refund fails, k1 gets its 10 sats back, the proofs stay. */
    refund_begin(f, "rfB", 10, 38000);
    const char *yb[1] = {"a2"};
    begin_send(f, "sB", "rfB", 10, 1, yb, 1);
    struct store_proof outB[3] = {proof("b1", 8), proof("b2", 2), proof("b3", 5)};
    memset(&g, 0, sizeof(g));
    store_op_done(f->s, "sB", outB, 3, NULL, on_done, &g);
    ok(f, &g);
    assert_books(f, 36000, 38000, 0, -2000);
    assert_no_violation(f);

    /* Refused by the mint: the inputs come back, the refund fails, the key is credited back. */
    refund_begin(f, "rfC", 10, 38000);
    const char *yc[1] = {"a3"};
    begin_send(f, "sC", "rfC", 10, 1, yc, 1);
    memset(&g, 0, sizeof(g));
    store_op_failed(f->s, "sC", "refused", on_done, &g);
    ok(f, &g);
    assert_books(f, 36000, 38000, 0, -2000);
    assert_no_violation(f);
}

/* A withdrawal marked owner_only is refused in its own transaction beyond the operator's money,
 * its proofs left unspent. */
static void test_withdraw_guard(void **state)
{
    struct fx *f = *state;
    struct store_proof in[2] = {proof("g1", 8), proof("g2", 2)};
    receive(f, "gop1", "k1", in, 1);        /* 8 sats of a user's */
    receive(f, "gop2", NULL, in + 1, 1);    /* 2 sats of the operator's */
    const char *ys[1] = {"g1"};
    struct store_op op = {.id = "w1", .kind = "send", .mint_url = "http://m", .unit = "sat",
                          .amount = 2, .fee = 1, .ref = "w1", .account = "owner",
                          .owner_only = true};
    struct got g = {0};
    store_op_begin(f->s, &op, NULL, 0, ys, 1, on_done, &g); /* 2 + 1 fee > 2 owned */
    wait_for(f, &g);
    assert_int_equal(g.status, E_LIMIT);
    op.fee = 0; /* exactly what is owned */
    memset(&g, 0, sizeof(g));
    store_op_begin(f->s, &op, NULL, 0, ys, 1, on_done, &g);
    ok(f, &g);
    /* While it is in flight its proofs still count in the wallet: a second withdrawal sees
     * what is left after it (nothing), not the 2 sats again. */
    const char *ys2[1] = {"g2"};
    struct store_op op2 = {.id = "w1b", .kind = "send", .mint_url = "http://m", .unit = "sat",
                           .amount = 1, .ref = "w1b", .account = "owner", .owner_only = true};
    memset(&g, 0, sizeof(g));
    store_op_begin(f->s, &op2, NULL, 0, ys2, 1, on_done, &g);
    wait_for(f, &g);
    assert_int_equal(g.status, E_LIMIT);
    memset(&g, 0, sizeof(g));
    store_op_failed(f->s, "w1", "test", on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g)); /* the first one ended: the second fits */
    store_op_begin(f->s, &op2, NULL, 0, ys2, 1, on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_op_failed(f->s, "w1b", "test", on_done, &g);
    ok(f, &g);
    /* Without the flag (the CLI), nothing is checked. */
    op = (struct store_op){.id = "w2", .kind = "send", .mint_url = "http://m", .unit = "sat",
                           .amount = 8, .ref = "w2", .account = "owner"};
    memset(&g, 0, sizeof(g));
    store_op_begin(f->s, &op, NULL, 0, ys, 1, on_done, &g);
    ok(f, &g);
}

static void test_settings(void **state)
{
    struct fx *f = *state;
    struct got g = {0};
    store_settings_version(f->s, on_rows, &g);
    ok(f, &g);
    assert_string_equal(g.cells[0][0], "0");
    const char *keys[2] = {"NAME", "EXCHANGE_FEE"}, *values[2] = {"n1", "1.01"};
    memset(&g, 0, sizeof(g));
    store_settings_put(f->s, keys, values, 2, on_done, &g);
    ok(f, &g);
    values[0] = "n2";
    memset(&g, 0, sizeof(g));
    store_settings_put(f->s, keys, values, 1, on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_settings_get(f->s, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 2);
    assert_string_equal(g.cells[0][0], "EXCHANGE_FEE");
    assert_string_equal(g.cells[0][1], "1.01");
    assert_string_equal(g.cells[1][1], "n2");
    memset(&g, 0, sizeof(g));
    store_settings_version(f->s, on_rows, &g);
    ok(f, &g);
    assert_string_equal(g.cells[0][0], "2");

    /* init keeps the first value. */
    memset(&g, 0, sizeof(g));
    store_setting_init(f->s, "admin_password_hash", "h1", on_rows, &g);
    ok(f, &g);
    assert_string_equal(g.cells[0][0], "h1");
    memset(&g, 0, sizeof(g));
    store_setting_init(f->s, "admin_password_hash", "h2", on_rows, &g);
    ok(f, &g);
    assert_string_equal(g.cells[0][0], "h1");

    /* Overrides bump the version too. */
    struct store_model_override o = {"a/b", false, "0.000001", NULL, "0"};
    memset(&g, 0, sizeof(g));
    store_model_override_put(f->s, &o, on_done, &g);
    ok(f, &g);
    o.enabled = true;
    memset(&g, 0, sizeof(g));
    store_model_override_put(f->s, &o, on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_model_overrides(f->s, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][0], "a/b");
    assert_string_equal(g.cells[0][1], "1");
    assert_string_equal(g.cells[0][2], "0.000001");
    assert_string_equal(g.cells[0][3], "(null)");
    memset(&g, 0, sizeof(g));
    store_settings_touch(f->s, on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_settings_version(f->s, on_rows, &g);
    ok(f, &g);
    assert_string_equal(g.cells[0][0], "5");
}

static void test_sessions(void **state)
{
    struct fx *f = *state;
    int64_t now = store_fixture_now();
    struct got g = {0};
    store_session_put(f->s, "old", now - 1, on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_session_put(f->s, "live", now + 100, on_done, &g); /* also forgets "old" */
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_session_get(f->s, "live", on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    memset(&g, 0, sizeof(g));
    store_session_get(f->s, "old", on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 0);
    memset(&g, 0, sizeof(g));
    store_session_delete(f->s, "live", on_done, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_session_get(f->s, "live", on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 0);
}

static void test_lists(void **state)
{
    struct fx *f = *state;
    struct store_proof a[1] = {proof("ya", 10)}, b[1] = {proof("yb", 20)};
    receive(f, "opa", "aa11", a, 1);
    receive(f, "opb", "bb22", b, 1);
    struct store_reservation r1 = {"r1", "aa11", 100, "m1", "/v1/chat/completions", "i"};
    struct store_reservation r2 = {"r2", "bb22", 100, "m2", "/v1/chat/completions", "i"};
    struct got g = {0};
    store_reserve(f->s, &r1, on_rows, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_reserve(f->s, &r2, on_rows, &g);
    ok(f, &g);
    memset(&g, 0, sizeof(g));
    store_settle(f->s, "r1", 50, on_rows, &g);
    ok(f, &g);

    memset(&g, 0, sizeof(g));
    store_admin_keys(f->s, "balance", 1, 0, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][0], "bb22");
    assert_string_equal(g.cells[0][1], "20000"); /* (the fixture keeps 8 columns) */

    struct store_request_filter rf = {.status = "charged"};
    memset(&g, 0, sizeof(g));
    store_admin_requests(f->s, &rf, 10, 0, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][0], "r1");
    assert_string_equal(g.cells[0][6], "50");
    rf = (struct store_request_filter){.key_like = "bb%"};
    memset(&g, 0, sizeof(g));
    store_admin_requests(f->s, &rf, 10, 0, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][4], "active");
    rf = (struct store_request_filter){.model = "nope"};
    memset(&g, 0, sizeof(g));
    store_admin_requests(f->s, &rf, 10, 0, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 0);

    struct store_ledger_filter lf = {.kind = "deposit", .since = -1, .until = -1};
    memset(&g, 0, sizeof(g));
    store_admin_ledger(f->s, &lf, 1, 1, on_rows, &g); /* the second page of one */
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_string_equal(g.cells[0][6], "2");
    lf = (struct store_ledger_filter){.key_like = "aa%", .since = store_fixture_now() + 10,
                                      .until = -1};
    memset(&g, 0, sizeof(g));
    store_admin_ledger(f->s, &lf, 10, 0, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 0);

    memset(&g, 0, sizeof(g));
    store_admin_earnings(f->s, 0, on_rows, &g);
    ok(f, &g);
    assert_int_equal(g.nrows, 1);
    assert_int_equal(strtoll(g.cells[0][0], NULL, 10), store_fixture_now() / 86400);
    assert_string_equal(g.cells[0][1], "50");
    assert_string_equal(g.cells[0][2], "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_books_balance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_books_refund_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_guard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
    };
    return STORE_RUN_BOTH(tests);
}
