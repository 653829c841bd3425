/* fault.h -- fault injection points for crash tests (SQLite's and curl's torture idea).
 *
 * FAULT("wallet.swap_answered") kills the process with SIGKILL when the environment variable
 * ROUTSTR_TEST_FAULT names that point, so a test can stop the daemon at an exact moment (after
 * the mint answered, before the proofs are stored) instead of hoping a timed kill -9 lands
 * there. Unset, a point costs one pointer test. Points: wallet.swap_answered (any swap: a
 * receive's or a payout's), wallet.send_swap_answered (a payout's only: change, refunds),
 * refund.debited (a refund or change debited, its payout op not yet saved),
 * redemption.claimed (a token's redemption claimed, its receive op not yet saved). */
#ifndef ROUTSTR_BASE_FAULT_H
#define ROUTSTR_BASE_FAULT_H

void fault_point(const char *name);

#define FAULT(name) fault_point(name)

#endif
