/* xalloc.h -- allocation that aborts on out-of-memory.
 *
 * A daemon cannot do anything useful without memory, so, like redis and h2o, we abort rather than
 * thread NULL checks through every caller. What the network fills is capped elsewhere (buf.h), so
 * no peer can drive us here. */
#ifndef ROUTSTR_BASE_XALLOC_H
#define ROUTSTR_BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
