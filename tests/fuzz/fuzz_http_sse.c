/* fuzz_http_sse.c -- libFuzzer target for the SSE framer (http/sse.h).
 *
 * Input: byte 0 and byte 1 choose two cut points, byte 2 the event cap; the rest is the
 * stream. The stream is parsed in one piece and again in three pieces cut there; both runs
 * must report the same events (event, data, id, comment flag, raw bytes) and the same result.
 * The one difference allowed is the documented one (sse.c): an event whose blank line ends in
 * a CR that ends a piece has raw "…\r" where the one-piece run has "…\r\n". Each event must also
 * satisfy the struct's invariants (sizes under the cap, fields inside the raw bytes, a
 * comment-only event has no fields). A violated property aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "http/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c))                                                                             \
            __builtin_trap();                                                                 \
    } while (0)

struct rec {
    char *event, *data, *id, *raw;
    size_t event_len, data_len, id_len, raw_len;
    bool has_event, has_data, has_id, comment_only;
};

struct log {
    struct rec *v;
    size_t n, cap;
    size_t max_event;
};

static char *copy(const char *p, size_t n)
{
    char *s = xmalloc(n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static bool inside(const char *p, size_t n, const struct sse_event *ev)
{
    return p >= ev->raw && p + n <= ev->raw + ev->raw_len;
}

static int on_event(const struct sse_event *ev, void *ud)
{
    struct log *l = ud;
    CHECK(ev->raw != NULL && ev->raw_len > 0);
    CHECK(ev->raw_len <= l->max_event + 1);
    CHECK(ev->data_len <= ev->raw_len);
    CHECK(ev->event == NULL || inside(ev->event, ev->event_len, ev));
    CHECK(ev->id == NULL || inside(ev->id, ev->id_len, ev));
    CHECK(!ev->comment_only || (ev->event == NULL && ev->data == NULL && ev->id == NULL));
    CHECK(ev->data != NULL || ev->data_len == 0);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    struct rec *r = &l->v[l->n++];
    r->has_event = ev->event != NULL;
    r->has_data = ev->data != NULL;
    r->has_id = ev->id != NULL;
    r->event = copy(ev->event, ev->event_len);
    r->event_len = ev->event_len;
    r->data = copy(ev->data, ev->data_len);
    r->data_len = ev->data_len;
    r->id = copy(ev->id, ev->id_len);
    r->id_len = ev->id_len;
    r->raw = copy(ev->raw, ev->raw_len);
    r->raw_len = ev->raw_len;
    r->comment_only = ev->comment_only;
    return 0;
}

static void log_free(struct log *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].event);
        free(l->v[i].data);
        free(l->v[i].id);
        free(l->v[i].raw);
    }
    free(l->v);
}

static bool field_eq(bool ha, const char *a, size_t an, bool hb, const char *b, size_t bn)
{
    return ha == hb && an == bn && memcmp(a, b, an) == 0;
}

static void check_same(const struct log *a, const struct log *b)
{
    CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct rec *x = &a->v[i], *y = &b->v[i];
        CHECK(field_eq(x->has_event, x->event, x->event_len, y->has_event, y->event,
                       y->event_len));
        CHECK(field_eq(x->has_data, x->data, x->data_len, y->has_data, y->data, y->data_len));
        CHECK(field_eq(x->has_id, x->id, x->id_len, y->has_id, y->id, y->id_len));
        CHECK(x->comment_only == y->comment_only);
        if (x->raw_len == y->raw_len + 1)
            CHECK(y->raw[y->raw_len - 1] == '\r' && x->raw[x->raw_len - 1] == '\n' &&
                  memcmp(x->raw, y->raw, y->raw_len) == 0);
        else
            CHECK(x->raw_len == y->raw_len && memcmp(x->raw, y->raw, x->raw_len) == 0);
    }
}

/* Feeds the pieces until one fails; then finishes if none did. Returns the first failure. */
static int run(struct log *l, const char *s, const size_t *cuts, size_t n_cuts, size_t max_event)
{
    struct sse_parser p;
    int rc = 0;
    sse_init(&p, max_event);
    l->max_event = max_event;
    for (size_t k = 0; k + 1 < n_cuts && rc == 0; k++)
        rc = sse_feed(&p, s + cuts[k], cuts[k + 1] - cuts[k], on_event, l);
    if (rc == 0)
        rc = sse_finish(&p, on_event, l);
    CHECK(p.raw.len == 0); /* finished, or reset by the failure */
    sse_deinit(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const char *s = (const char *)data + 3;
    size_t n = size - 3;
    size_t i = n * data[0] / 255, j = n * data[1] / 255;
    if (i > j) {
        size_t t = i;
        i = j;
        j = t;
    }
    size_t max_event = data[2] == 255 ? (size_t)1 << 20 : 1 + (size_t)data[2] * 2;

    struct log whole = {0}, pieces = {0};
    size_t one[] = {0, n}, three[] = {0, i, j, n};
    int rc1 = run(&whole, s, one, 2, max_event);
    int rc3 = run(&pieces, s, three, 4, max_event);
    CHECK(rc1 == rc3);
    CHECK(rc1 == 0 || rc1 == E_LIMIT);
    check_same(&whole, &pieces);
    log_free(&whole);
    log_free(&pieces);
    return 0;
}
