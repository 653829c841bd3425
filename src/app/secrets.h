/* secrets.h -- the key that encrypts secrets at rest, and the secrets it guards.
 *
 * The key comes from ROUTSTR_SECRET_KEY (64 hex digits), or from ROUTSTR_SECRET_KEY_FILE, which
 * is created at first start with a fresh random key (mode 0600) and the key printed once to the
 * console so the operator can back it up. Secrets (the wallet seed, later the node's Nostr key
 * and the admin hash) are sealed with AES-256-GCM under it, bound to their name, and kept in the
 * store's secrets table; they never reach a log. */
#ifndef ROUTSTR_APP_SECRETS_H
#define ROUTSTR_APP_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "app/config.h"

struct store;
struct event_base;

/* Loads or creates the key. Returns 0, or E_PROTO/E_IO with 'err' filled. */
int secrets_key_load(uint8_t key[32], const struct config *c, char err[ERR_LEN]);

/* Gets secret 'name' (n bytes), creating it from fresh random bytes at first use; when two
 * processes race, the first stored wins. Runs the loop until the store answers. Returns 0,
 * E_PROTO (it does not open under this key: a wrong ROUTSTR_SECRET_KEY) or E_IO. */
int secrets_get_or_create(struct store *s, struct event_base *base, const uint8_t key[32],
                          const char *name, uint8_t *out, size_t n, char err[ERR_LEN]);

/* The same without blocking, for a running loop: 'cb' gets 0 and the n bytes (valid during the
 * call), or E_PROTO / E_IO and NULL. */
typedef void secrets_fn(int status, const uint8_t *value, size_t n, void *ud);
void secrets_get_or_create_async(struct store *s, const uint8_t key[32], const char *name,
                                 size_t n, secrets_fn *cb, void *ud);

#endif
