/* buf.h -- a growable byte buffer with a hard cap.
 *
 * Every buffer the network fills is given its cap at init (curl's 'toobig'): an append that would
 * pass it fails with E_LIMIT and leaves the buffer as it was. The bytes are always followed by a
 * NUL (not counted in len), so text can be handed to C string functions. */
#ifndef ROUTSTR_BASE_BUF_H
#define ROUTSTR_BASE_BUF_H

#include <stddef.h>

struct buf {
    char *p;
    size_t len;
    size_t alloc; /* bytes allocated, including room for the NUL */
    size_t max;   /* cap on len */
};

void buf_init(struct buf *b, size_t max);
void buf_deinit(struct buf *b);
void buf_reset(struct buf *b);
/* Returns 0, or E_LIMIT when len + n would pass the cap (b unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the bytes to the caller (NUL-terminated, to free()); b is left empty. */
char *buf_take(struct buf *b, size_t *len_out);

#endif
