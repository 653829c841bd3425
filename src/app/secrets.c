/* secrets.c -- see secrets.h. */
#include "app/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"
#include "store/store.h"

static int key_from_hex(uint8_t key[32], const char *hex, const char *where, char err[ERR_LEN])
{
    struct str s = str_trim(str_from(hex));
    while (s.len && (s.p[s.len - 1] == '\n' || s.p[s.len - 1] == '\r'))
        s.len--;
    if (hex_decode(key, 32, s.p, s.len) != 0) {
        snprintf(err, ERR_LEN, "%s: must be 64 hex digits (32 bytes)", where);
        return E_PROTO;
    }
    return E_OK;
}

int secrets_key_load(uint8_t key[32], const struct config *c, char err[ERR_LEN])
{
    if (*c->secret_key)
        return key_from_hex(key, c->secret_key, "ROUTSTR_SECRET_KEY", err);
    const char *path = c->secret_key_file;
    char text[130] = "";
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        return key_from_hex(key, text, path, err);
    }
    if (errno != ENOENT) {
        snprintf(err, ERR_LEN, "cannot read %s: %s", path, strerror(errno));
        return E_IO;
    }
    if (crypto_random(key, 32) != 0) {
        snprintf(err, ERR_LEN, "no randomness for a secret key");
        return E_IO;
    }
    hex_encode(text, key, 32);
    /* O_EXCL: two processes starting together must not write two keys. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        if (errno == EEXIST) /* another process won: use its key */
            return secrets_key_load(key, c, err);
        snprintf(err, ERR_LEN, "cannot create %s: %s", path, strerror(errno));
        return E_IO;
    }
    bool ok = write(fd, text, 64) == 64 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        snprintf(err, ERR_LEN, "cannot write %s", path);
        return E_IO;
    }
    fprintf(stderr,
            "routstr: generated the key that encrypts this node's secrets, saved in %s.\n"
            "routstr: back it up; it is shown this once: %s\n",
            path, text);
    secure_zero(text, sizeof(text));
    return E_OK;
}

int secrets_get_or_create(struct store *s, struct event_base *base, const uint8_t key[32],
                          const char *name, uint8_t *out, size_t n, char err[ERR_LEN])
{
    struct store_wait w = {0};
    store_secret_get(s, name, store_wait_value, &w);
    store_wait(base, &w);
    if (w.status != 0) {
        snprintf(err, ERR_LEN, "cannot read secret %s from the database", name);
        return E_IO;
    }
    if (w.value == NULL) {
        uint8_t *fresh = xmalloc(n);
        uint8_t *sealed = xmalloc(n + CRYPTO_AEAD_OVERHEAD);
        char *hex = xmalloc(2 * (n + CRYPTO_AEAD_OVERHEAD) + 1);
        int rc = crypto_random(fresh, n);
        if (rc == 0)
            rc = crypto_aead_seal(sealed, key, fresh, n, name, strlen(name));
        secure_zero(fresh, n);
        free(fresh);
        if (rc == 0) {
            hex_encode(hex, sealed, n + CRYPTO_AEAD_OVERHEAD);
            w = (struct store_wait){0};
            store_secret_init(s, name, hex, store_wait_value, &w); /* the first stored wins */
            store_wait(base, &w);
        }
        free(sealed);
        free(hex);
        if (rc != 0 || w.status != 0 || w.value == NULL) {
            snprintf(err, ERR_LEN, "cannot create secret %s", name);
            free(w.value);
            return E_IO;
        }
    }
    size_t len = strlen(w.value) / 2;
    uint8_t *sealed = xmalloc(len + 1);
    int rc = E_PROTO;
    if (len == n + CRYPTO_AEAD_OVERHEAD && hex_decode(sealed, len, w.value, 2 * len) == 0)
        rc = crypto_aead_open(out, key, sealed, len, name, strlen(name));
    free(sealed);
    free(w.value);
    if (rc != 0)
        snprintf(err, ERR_LEN,
                 "secret %s does not open with this ROUTSTR_SECRET_KEY (a different key than "
                 "the one it was created with?)", name);
    return rc;
}

/* The asynchronous form: the same steps, each answered by a store callback. */
struct async {
    struct store *s;
    uint8_t key[32];
    char *name;
    size_t n;
    secrets_fn *cb;
    void *ud;
};

static void async_end(struct async *as, int status, const char *hex)
{
    uint8_t *out = xcalloc(1, as->n);
    size_t len = hex ? strlen(hex) / 2 : 0;
    if (status == 0) {
        uint8_t *sealed = xmalloc(len + 1);
        status = E_PROTO;
        if (len == as->n + CRYPTO_AEAD_OVERHEAD && hex_decode(sealed, len, hex, 2 * len) == 0)
            status = crypto_aead_open(out, as->key, sealed, len, as->name, strlen(as->name));
        free(sealed);
    }
    as->cb(status, status == 0 ? out : NULL, as->n, as->ud);
    secure_zero(out, as->n);
    free(out);
    secure_zero(as->key, sizeof(as->key));
    free(as->name);
    free(as);
}

static void on_async_init(int status, const struct store_rows *rows, void *ud)
{
    struct async *as = ud;
    const char *v = status == 0 && rows->nrows ? store_cell(rows, 0, 0) : NULL;
    async_end(as, status ? E_IO : v ? 0 : E_IO, v);
}

static void on_async_get(int status, const struct store_rows *rows, void *ud)
{
    struct async *as = ud;
    if (status != 0) {
        async_end(as, E_IO, NULL);
        return;
    }
    if (rows->nrows && store_cell(rows, 0, 0)) {
        async_end(as, 0, store_cell(rows, 0, 0));
        return;
    }
    uint8_t *fresh = xmalloc(as->n), *sealed = xmalloc(as->n + CRYPTO_AEAD_OVERHEAD);
    char *hex = xmalloc(2 * (as->n + CRYPTO_AEAD_OVERHEAD) + 1);
    int rc = crypto_random(fresh, as->n);
    if (rc == 0)
        rc = crypto_aead_seal(sealed, as->key, fresh, as->n, as->name, strlen(as->name));
    secure_zero(fresh, as->n);
    free(fresh);
    if (rc == 0) {
        hex_encode(hex, sealed, as->n + CRYPTO_AEAD_OVERHEAD);
        store_secret_init(as->s, as->name, hex, on_async_init, as); /* the first stored wins */
    }
    free(sealed);
    free(hex);
    if (rc != 0)
        async_end(as, E_IO, NULL);
}

void secrets_get_or_create_async(struct store *s, const uint8_t key[32], const char *name,
                                 size_t n, secrets_fn *cb, void *ud)
{
    struct async *as = xcalloc(1, sizeof(*as));
    as->s = s;
    memcpy(as->key, key, 32);
    as->name = xstrdup(name);
    as->n = n;
    as->cb = cb;
    as->ud = ud;
    store_secret_get(s, name, on_async_get, as);
}
