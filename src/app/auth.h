/* auth.h -- who pays for a request: an sk- key, or a Cashu token sent as the key.
 *
 * A key is stored only as key_hash = hex(SHA-256(the part after "sk-")). A token sent as the key
 * names the account "sk-" + hex(SHA-256(token string)) (clients derive it themselves), and is
 * redeemed once: the first use claims the redemption in the database, swaps the token at its
 * mint and credits the new key in the transaction that stores the proofs; concurrent first uses
 * (in this process or another on the same database) wait for that one and then use the key. */
#ifndef ROUTSTR_APP_AUTH_H
#define ROUTSTR_APP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "cashu/mint.h"

struct app_req;
struct evhttp_request;

enum auth_kind { AUTH_NONE, AUTH_KEY, AUTH_TOKEN, AUTH_BAD };

struct auth_cred {
    enum auth_kind kind;
    char rest[65];       /* the key's part after "sk-": given, or hex(SHA-256(token)) */
    char key_hash[65];   /* hex(SHA-256(rest)) */
    char *token;         /* AUTH_TOKEN: the token string (owned) */
};

/* Reads 'Authorization: Bearer ...' (scheme case-insensitive; also X-Api-Key, which Anthropic
 * clients send). */
void auth_parse(struct evhttp_request *req, struct auth_cred *out);
/* Credentials from a token given in a body or query (create, top-up). */
void auth_from_token(struct auth_cred *out, const char *token);
void auth_cred_deinit(struct auth_cred *c);

/* Makes sure the key exists: an sk- key must be known; a token is redeemed into its key on first
 * use. 'status' 0: the key is ready. Else 'err' classifies the failure (clients.md §1.2). */
typedef void auth_ready_fn(struct app_req *r, int status, const struct cashu_error_class *err,
                           const char *message, void *ud);
void auth_resolve(struct app_req *r, const struct auth_cred *c, auth_ready_fn *cb, void *ud);

/* Redeems a token that must not have been seen before into its own key (X-Cashu: a replayed
 * token is refused as spent, never served from what its first use left). 'claimed' (may be
 * NULL) runs once this request has won the token's redemption claim in the database, just
 * before the mint is asked; 'cb' runs later, as always. */
typedef void auth_claimed_fn(struct app_req *r, void *ud);
void auth_redeem_fresh(struct app_req *r, const struct auth_cred *c, auth_claimed_fn *claimed,
                       auth_ready_fn *cb, void *ud);

/* Redeems 'token' into the existing key 'key_hash' (top-up). 'credited_msat' on success. */
typedef void auth_topup_fn(struct app_req *r, int status, int64_t credited_msat,
                           const struct cashu_error_class *err, const char *message, void *ud);
void auth_topup(struct app_req *r, const char *key_hash, const char *token, auth_topup_fn *cb,
                void *ud);

/* Replies the 401 of a missing or unknown key in the shapes clients parse:
 * {"detail":{"error":{...}},"error":{...},"request_id"}. */
void auth_reply_401(struct app_req *r, const char *code, const char *message);
/* Replies a redemption failure in the proxy envelope {"error":{type,code,message},"request_id"}. */
void auth_reply_cashu_error(struct app_req *r, const struct cashu_error_class *err,
                            const char *message);
/* Replies what auth_resolve() reported: a 401 for an unknown key, the redemption error else. */
void auth_reply_failure(struct app_req *r, const struct cashu_error_class *err,
                        const char *message);

#endif
