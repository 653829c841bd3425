/* wallet_int.h -- what the wallet's own files share: its state, the keyset cache, and the
 * output and proof helpers every operation uses. */
#ifndef ROUTSTR_CASHU_WALLET_INT_H
#define ROUTSTR_CASHU_WALLET_INT_H

#include <jansson.h>

#include "cashu/keyset.h"
#include "cashu/yset.h"
#include "http/client.h"
#include "cashu/wallet.h"
#include "store/store.h"

struct mint_state {
    char *url;
    struct cashu_keyset *sets; /* with their keys */
    size_t n_sets;
    bool loaded;               /* the store's copies have been read */
};

struct cashu_wallet {
    struct http_client *http;
    struct store *store;
    uint8_t seed[64];
    struct mint_state **mints;    /* trusted, in order: the first is primary */
    size_t n_mints;
    struct mint_state **untrusted; /* trusted once: kept for operations that still use them */
    size_t n_untrusted;
    char *proxy;
    long timeout_ms;
    struct cashu_yset spent; /* Ys of proofs we took or the mint reported spent (receive) */
    struct cashu_wallet_stats stats;
};

#define WALLET_SPENT_CAP 16384

/* Counts a token redeemed ('in') or made, of 'amount' 'unit', in the wallet's stats. */
void wallet_count_token(struct cashu_wallet *w, bool in, uint64_t amount, const char *unit);

struct mint_state *wallet_mint(struct cashu_wallet *w, const char *url);
int wallet_call(struct cashu_wallet *w, const char *mint, const char *method, const char *path,
                const json_t *body, long timeout_ms, cashu_mint_fn *cb, void *ud);

/* Makes sure the keysets that 'ids' name (may be NULL) and an active keyset of 'unit' are
 * known with their keys, fetching from the mint what is missing. */
typedef void wallet_keys_fn(int status, const char *message, void *ud);
void wallet_ensure_keys(struct cashu_wallet *w, struct mint_state *m, const char *unit,
                        const char *const *ids, size_t n_ids, wallet_keys_fn *cb, void *ud);
/* The active keyset of 'unit' with the most keys, or NULL. */
const struct cashu_keyset *wallet_active_keyset(const struct mint_state *m, const char *unit);
const struct cashu_keyset *wallet_keyset(const struct mint_state *m, const char *id);

/* Outputs derived from the seed (NUT-13) for one keyset. */
struct wallet_outputs {
    size_t n;
    char keyset_id[CASHU_KEYSET_ID_HEX_MAX + 1];
    int64_t first_counter;
    uint64_t *amounts;
    char (*secrets)[65];
    uint8_t (*r)[32];
    uint8_t (*B_)[33];
    char (*B_hex)[67];
};
void wallet_outputs_deinit(struct wallet_outputs *o);
/* Powers of two that sum to 'v', ascending (NUT-03: outputs sorted by amount). Returns the
 * count. */
size_t wallet_split(uint64_t v, uint64_t out[64]);
/* Reserves counters for 'n' outputs of 'ks', then derives secrets, r and B_. */
typedef void wallet_outputs_fn(int status, void *ud);
void wallet_outputs_make(struct cashu_wallet *w, const struct cashu_keyset *ks,
                         const uint64_t *amounts, size_t n, struct wallet_outputs *o,
                         wallet_outputs_fn *cb, void *ud);
/* Derives the outputs of saved rows (keyset_id, counter, amount, b_) again, for restore. */
int wallet_outputs_from_rows(struct cashu_wallet *w, const struct store_rows *rows,
                             struct wallet_outputs *o);
/* [{"amount","id","B_"}] */
json_t *wallet_outputs_json(const struct wallet_outputs *o);

/* Turns the mint's signatures for outputs 'o' into proofs. 'sigs' line up with 'map' (output
 * index per signature; NULL: the identity). Checks each DLEQ. Fills 'proofs' (n_sigs entries;
 * strings owned by 'strs', freed with wallet_strs_free). Returns 0 or E_PROTO. */
struct wallet_strs {
    char **p;
    size_t n;
};
void wallet_strs_free(struct wallet_strs *s);
int wallet_unblind(const struct mint_state *m, const char *unit, const struct wallet_outputs *o,
                   const json_t *sigs, const size_t *map, struct store_proof *proofs,
                   struct cashu_proof *token_proofs, struct wallet_strs *strs);

/* Proofs of ours chosen as the inputs of a swap or melt (copied out of store rows: y,
 * keyset_id, amount, secret, c, dleq). */
struct wallet_inputs {
    size_t n;
    char **y, **id, **secret, **c, **dleq;
    uint64_t *amount;
    uint64_t sum;
};
/* Picks rows (largest first, as store_proofs_unspent lists them) until their sum covers
 * 'target' plus the fee of spending them (NUT-02), skipping keysets we have no keys for.
 * Returns 0 with 'in' filled and *fee set, or E_FUNDS. */
int wallet_select(const struct mint_state *m, const struct store_rows *rows, uint64_t target,
                  struct wallet_inputs *in, uint64_t *fee);
/* Copies the rows marked in 'take'. */
void wallet_inputs_take(struct wallet_inputs *in, const struct store_rows *rows, const bool *take);
/* [{"amount","id","secret","C"}]: no DLEQ, no witness (spec/cashu.md §5). */
json_t *wallet_inputs_json(const struct wallet_inputs *in);
void wallet_inputs_deinit(struct wallet_inputs *in);

/* A fresh random operation id. */
void wallet_op_id(char out[33]);

#endif
