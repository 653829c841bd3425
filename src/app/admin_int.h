/* admin_int.h -- what the admin files share (admin.c, admin_pass.c, admin_money.c,
 * admin_models.c, admin_settings.c); not for other modules. */
#ifndef ROUTSTR_APP_ADMIN_INT_H
#define ROUTSTR_APP_ADMIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app/admin.h"
#include "app/app.h"
#include "store/store.h"

#define ADMIN_COOKIE "routstr_admin"
#define ADMIN_SESSION_S 43200         /* 12 hours */
#define ADMIN_MAX_FAILURES 5          /* per client address ... */
#define ADMIN_FAILURE_WINDOW_S 900    /* ... within 15 minutes */
#define ADMIN_MAX_TRACKED 4096        /* client addresses remembered for throttling */
#define ADMIN_MAX_BODY 65536
#define ADMIN_POLL_MS 5000

/* scrypt cost of new password hashes: 32 MiB, about 0.1 s. */
#define ADMIN_SCRYPT_N 32768
#define ADMIN_SCRYPT_R 8
#define ADMIN_SCRYPT_P 1

struct admin_failures {
    char addr[64];
    int64_t window_start;
    int count;
};

struct admin_override {
    char *id;
    bool enabled;
    bool has_price[3];       /* prompt, completion, request */
    double price[3];
};

struct admin_retired {
    void *p;
    void (*free_fn)(void *);
    uint64_t gen;
};

struct admin {
    struct app *app;
    uint8_t key[32];               /* the secrets key: seals the upstream API key */
    bool have_key;
    char *password_hash;           /* scrypt$N$r$p$salt$hash */
    struct admin_failures *fails;
    size_t n_fails;
    struct admin_override *overrides;
    size_t n_overrides;
    struct admin_retired *retired;
    size_t n_retired;
    struct event *poll_timer;
    int64_t version;               /* settings_version applied here */
    bool polling;
    bool withdrawing;              /* one withdrawal at a time in this process */
    int checking;                  /* password checks running on their threads */
    bool opening_wallet;
};

/* A call that waits on the store or a mint holds its request. */
struct admin_call {
    struct app_req *r;
    json_t *body;
    json_t *out;       /* the reply being assembled */
    int64_t n[8];      /* figures carried between steps */
    char *s[4];        /* strings carried between steps */
};
struct admin_call *admin_call_new(struct app_req *r);
void admin_call_free(struct admin_call *c);

/* Replies (the proxy's error envelope); the 'invalid_request' 400 names what is wrong. */
void admin_bad_request(struct app_req *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void admin_store_error(struct app_req *r);
/* The request's JSON object body, or NULL after answering 400. */
json_t *admin_json_body(struct app_req *r);
/* A query parameter (malloc'd), or NULL. */
char *admin_query(struct app_req *r, const char *name);
/* Parses an integer query parameter in [min, max] ('def' when absent). Returns false after
 * answering 400. */
bool admin_query_int(struct app_req *r, const char *name, int64_t min, int64_t max, int64_t def,
                     int64_t *out);

/* admin_pass.c: password hashes, secrets shown masked, tokens. */
/* Hashes 'password' into "scrypt$N$r$p$salt_b64$hash_b64" (malloc'd). Returns 0 or E_IO. */
int admin_password_hash(char **out, const char *password, uint64_t n, uint64_t r, uint64_t p);
/* Whether 'password' matches an encoded hash (constant-time compare; a malformed encoding or
 * parameters beyond crypto_scrypt's bounds never match). */
bool admin_password_verify(const char *encoded, const char *password);
/* 24 base64url characters from 18 random bytes. Returns 0 or E_IO. */
int admin_password_generate(char out[25]);
/* What may be shown of a secret: its first 3 and last 4 characters around "…" when longer than
 * 12, else "****"; "" for an empty one. 'out' holds at least 16 bytes. */
void admin_mask(char *out, size_t cap, const char *secret);
/* A fresh session token (43 base64url characters) and the hex SHA-256 stored for it. */
int admin_token_new(char token[44], char hash[65]);
void admin_token_hash(const char *token, char hash[65]);

/* admin_money.c */
void admin_overview(struct app_req *r);
void admin_withdraw(struct app_req *r);
void admin_keys(struct app_req *r);
void admin_transactions(struct app_req *r);
void admin_requests(struct app_req *r);

/* admin_models.c */
void admin_models_get(struct app_req *r);
void admin_model_put(struct app_req *r, const char *id);
void admin_models_reload(struct app_req *r);
/* Replaces the overrides with the store's rows (id, enabled, prompt, completion, request). */
void admin_overrides_load(struct admin *ad, const struct store_rows *rows);
void admin_overrides_free(struct admin *ad);

/* admin_settings.c */
void admin_settings_get(struct app_req *r);
void admin_settings_put(struct app_req *r);
void admin_upstream_get(struct app_req *r);
void admin_upstream_put(struct app_req *r);
/* Applies stored settings rows (key, value) over a->cfg and re-derives what depends on them.
 * At start ('starting'), nothing is notified (subsystems read the configuration as they start). */
void admin_settings_apply(struct app *a, const struct store_rows *rows, bool starting);

#endif
