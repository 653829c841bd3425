/* yset.h -- a bounded in-memory set of proof Ys (hash_to_curve(secret), NUT-00) known spent.
 *
 * Two generations of an open-addressing table, each holding at most half the cap: when the
 * current generation is full, the older one is dropped and the current one becomes the older.
 * Memory is fixed at init, the oldest entries are forgotten first, and a lookup checks both
 * generations. A forgotten Y costs nothing but the guard it gave: the caller must still be
 * correct without it (the mint and the redemption claims stay the authority on spending). */
#ifndef ROUTSTR_CASHU_YSET_H
#define ROUTSTR_CASHU_YSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cashu_ygen {
    uint8_t (*keys)[33];
    bool *used;
    size_t n;
};

struct cashu_yset {
    struct cashu_ygen gen[2];
    size_t cur;    /* the generation adds go to */
    size_t half;   /* entries per generation */
    size_t slots;  /* table size per generation: a power of two >= 2 * half */
    uint64_t salt; /* per process: slot positions are not the attacker's choice */
};

/* Sets up a set that remembers at least cap / 2 and at most cap entries (cap >= 2). */
void cashu_yset_init(struct cashu_yset *s, size_t cap);
void cashu_yset_deinit(struct cashu_yset *s);
/* Adds Y (a 33-byte compressed point); adding a known Y again does nothing. */
void cashu_yset_add(struct cashu_yset *s, const uint8_t y[33]);
bool cashu_yset_has(const struct cashu_yset *s, const uint8_t y[33]);

#endif
