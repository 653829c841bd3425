/* wallet.h -- the node's Cashu wallet: redeem tokens, hold proofs, pay out tokens and Lightning.
 *
 * The wallet holds proofs of the trusted mints only (CASHU_MINTS; the first is primary). Every
 * operation follows one crash-safe pattern (spec/cashu.md §5): derive the outputs from the seed
 * (NUT-13) with counters reserved durably first, save the operation and its outputs durably,
 * then ask the mint, then store the resulting proofs and end the operation in one durable
 * transaction. If the answer is lost, the saved outputs are restored (NUT-09) before anything
 * else happens to the same money: right away, and by cashu_wallet_recover() after a crash.
 *
 * All calls run on the event loop and report through a callback, exactly once, unless the
 * starting call returns an error. */
#ifndef ROUTSTR_CASHU_WALLET_H
#define ROUTSTR_CASHU_WALLET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "cashu/mint.h"
#include "cashu/token.h"

struct cashu_wallet;
struct event_base;
struct http_client;
struct store;

struct cashu_wallet_opts {
    struct http_client *http;
    struct store *store;
    const uint8_t *seed;   /* 64 bytes, copied */
    const char *mints;     /* comma-separated normalised URLs; the first is primary */
    const char *proxy;     /* SOCKS5 for mint calls, or NULL */
    long timeout_ms;       /* per mint call; 0: 30 s */
};

struct cashu_wallet *cashu_wallet_new(const struct cashu_wallet_opts *o);
void cashu_wallet_free(struct cashu_wallet *w);
/* Trusts exactly 'mints' from now on (comma-separated normalised URLs; the first is primary).
 * Operations already under way at a mint no longer trusted finish there. */
void cashu_wallet_set_mints(struct cashu_wallet *w, const char *mints);
/* The primary mint's URL, or NULL when no mint is trusted. */
const char *cashu_wallet_primary(const struct cashu_wallet *w);
bool cashu_wallet_trusts(const struct cashu_wallet *w, const char *mint_url);

/* What the wallet did since it was made, for /metrics: tokens redeemed (in) and made (out),
 * their value in msat (sat and msat tokens), and how its calls to the mints ended. */
struct cashu_wallet_stats {
    uint64_t tokens_in, tokens_out;
    int64_t msat_in, msat_out;
    struct cashu_mint_stats mint;
};
const struct cashu_wallet_stats *cashu_wallet_stats(const struct cashu_wallet *w);

/* What an operation reports. On failure 'err' classifies it for the client (clients.md §1.2)
 * and 'message' says it for a person. */
struct cashu_result {
    int status;               /* 0, or a negative code */
    uint64_t amount;          /* credited (receive), sent (send) or paid (melt), in 'unit' */
    uint64_t fee;             /* mint fees paid, in 'unit' */
    const char *unit;
    const char *mint;
    const char *token;        /* send: the token string */
    const char *op_id;
    struct cashu_error_class err;
    const char *message;
};
typedef void cashu_result_fn(const struct cashu_result *r, void *ud);

/* Swaps every proof of 'token' for fresh proofs of ours at its (trusted) mint and stores them;
 * credits amount - fees. 'ref' (may be NULL) is recorded with the operation, e.g. the hash of
 * the token string. With 'credit_key' (an API key's hash), the net amount in msat is credited
 * to that key in the same durable transaction that stores the proofs (also when the op is
 * settled later by recover); tokens of units other than sat and msat are then refused. Once
 * the proofs went to the mint and it took them (or may have), or it reported them spent, their
 * Ys are remembered for cashu_wallet_verify_offline(). The callback may run before this
 * returns. Returns 0 (callback to come) or E_IO. */
int cashu_wallet_receive(struct cashu_wallet *w, const char *token, size_t len, const char *ref,
                         const char *credit_key, cashu_result_fn *cb, void *ud);

/* Checks offline, against the keysets already cached (nothing is fetched), whether 'token' is
 * worth starting work for before the mint confirms it: its mint is trusted, it has at most
 * 'max_proofs' proofs, each unlocked, of the token's unit, carrying a DLEQ with its blinding
 * factor (NUT-12) that verifies against the cached key, and none of them is known spent (taken
 * by a receive of ours, or reported spent by the mint: a bounded memory, see yset.h). Returns
 * 0; E_NOTFOUND (untrusted mint, keyset not cached), E_PROTO (malformed, no DLEQ, a DLEQ that
 * does not verify, locked), E_LIMIT (too many proofs), E_CONFLICT (a proof known spent). */
int cashu_wallet_verify_offline(struct cashu_wallet *w, const char *token, size_t len,
                                size_t max_proofs);

/* Makes a token worth exactly 'amount' of 'unit' from the proofs of 'mint' (NULL: primary),
 * swapping for the exact amount plus change when no proofs add up to it. 'v3' picks cashuA. */
int cashu_wallet_send(struct cashu_wallet *w, const char *mint, const char *unit,
                      uint64_t amount, bool v3, const char *ref, cashu_result_fn *cb, void *ud);
/* The same, paid from the operator's own money: a ledger row of the operator's account
 * (key_hash "owner", kind "withdraw", amount + fee) is written in the transaction that spends
 * the proofs. With 'owner_only', it fails with E_LIMIT (nothing spent) when amount + fee is
 * more than the operator owns, checked in the transaction that takes the proofs. */
int cashu_wallet_withdraw(struct cashu_wallet *w, const char *mint, const char *unit,
                          uint64_t amount, bool v3, bool owner_only, const char *ref,
                          cashu_result_fn *cb, void *ud);

/* Funds the wallet with 'amount' sats over Lightning at the primary mint (NUT-04): the invoice
 * to pay is handed to 'on_invoice' (may be NULL), the quote polled until paid, then minted. */
typedef void cashu_invoice_fn(const char *bolt11, uint64_t amount, void *ud);
int cashu_wallet_mint(struct cashu_wallet *w, uint64_t amount, cashu_invoice_fn *on_invoice,
                      cashu_result_fn *cb, void *ud);

/* Pays a BOLT11 invoice from the primary mint (NUT-05), with NUT-08 change. */
int cashu_wallet_melt(struct cashu_wallet *w, const char *bolt11, cashu_result_fn *cb, void *ud);

/* Resolves every operation left pending (a crash, a lost answer): restores saved outputs with
 * NUT-09 and settles the operation. The result's 'amount' is what was recovered. */
int cashu_wallet_recover(struct cashu_wallet *w, cashu_result_fn *cb, void *ud);

/* Asks each mint which of our unspent proofs it holds spent (NUT-07) and drops those. The
 * result's 'amount' is the value dropped. */
int cashu_wallet_check(struct cashu_wallet *w, cashu_result_fn *cb, void *ud);

#endif
