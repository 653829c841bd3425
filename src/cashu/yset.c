/* yset.c -- see yset.h. Linear probing at a load of at most 1/2; no deletion (a generation is
 * dropped whole), so no tombstones. */
#include "cashu/yset.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "crypto/crypto.h"

void cashu_yset_init(struct cashu_yset *s, size_t cap)
{
    assert(cap >= 2);
    memset(s, 0, sizeof(*s));
    s->half = cap / 2;
    s->slots = 2;
    while (s->slots < 2 * s->half)
        s->slots *= 2;
    for (int g = 0; g < 2; g++) {
        s->gen[g].keys = xcalloc(s->slots, sizeof(*s->gen[g].keys));
        s->gen[g].used = xcalloc(s->slots, sizeof(*s->gen[g].used));
    }
    if (crypto_random(&s->salt, sizeof(s->salt)) != 0)
        abort();
}

void cashu_yset_deinit(struct cashu_yset *s)
{
    for (int g = 0; g < 2; g++) {
        free(s->gen[g].keys);
        free(s->gen[g].used);
    }
    memset(s, 0, sizeof(*s));
}

static size_t slot_of(const struct cashu_yset *s, const uint8_t y[33])
{
    uint64_t h;
    memcpy(&h, y + 1, sizeof(h)); /* x-coordinate bytes: a hash output already */
    h ^= s->salt;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (s->slots - 1);
}

/* The slot holding y, or the empty slot where it would go. */
static size_t probe(const struct cashu_yset *s, const struct cashu_ygen *g, const uint8_t y[33])
{
    size_t i = slot_of(s, y);
    while (g->used[i] && memcmp(g->keys[i], y, 33) != 0)
        i = (i + 1) & (s->slots - 1);
    return i;
}

bool cashu_yset_has(const struct cashu_yset *s, const uint8_t y[33])
{
    if (s->slots == 0)
        return false;
    for (int k = 0; k < 2; k++) {
        const struct cashu_ygen *g = &s->gen[k];
        if (g->n && g->used[probe(s, g, y)])
            return true;
    }
    return false;
}

void cashu_yset_add(struct cashu_yset *s, const uint8_t y[33])
{
    if (s->slots == 0 || cashu_yset_has(s, y))
        return;
    struct cashu_ygen *g = &s->gen[s->cur];
    if (g->n == s->half) { /* full: forget the older generation, start over in its table */
        s->cur ^= 1;
        g = &s->gen[s->cur];
        memset(g->used, 0, s->slots * sizeof(*g->used));
        g->n = 0;
    }
    size_t i = probe(s, g, y);
    memcpy(g->keys[i], y, 33);
    g->used[i] = true;
    g->n++;
}
