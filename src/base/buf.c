/* buf.c -- see buf.h. Growth doubles, so appends are amortised O(1). */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

void buf_deinit(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->alloc = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static void reserve(struct buf *b, size_t need)
{
    if (need + 1 <= b->alloc)
        return;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need + 1)
        n *= 2;
    b->p = xrealloc(b->p, n);
    b->alloc = n;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > b->max - b->len)
        return E_LIMIT;
    reserve(b, b->len + n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return E_OK;
}

int buf_appends(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return E_IO;
    if ((size_t)n > b->max - b->len)
        return E_LIMIT;
    reserve(b, b->len + (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return E_OK;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = '\0';
}

char *buf_take(struct buf *b, size_t *len_out)
{
    reserve(b, b->len);
    b->p[b->len] = '\0';
    char *p = b->p;
    if (len_out)
        *len_out = b->len;
    b->p = NULL;
    b->len = b->alloc = 0;
    return p;
}
