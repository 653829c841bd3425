/* sse.h -- incremental Server-Sent Events framing (WHATWG HTML §9.2 "event stream").
 *
 * Bytes arrive in arbitrary pieces (a chunk may end mid-line, CRLF may be split); the parser
 * keeps what is incomplete and reports each complete event once its blank line arrives. Lines
 * end in LF, CR or CRLF. "data:" lines are joined with LF; "event:", "id:" and "retry:" are kept;
 * a line starting with ':' is a comment. Each event also carries its raw bytes, so a proxy can
 * pass an event through unchanged. Every buffer is capped: an event larger than 'max_event'
 * bytes makes sse_feed() fail with E_LIMIT. */
#ifndef ROUTSTR_HTTP_SSE_H
#define ROUTSTR_HTTP_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

struct sse_event {
    const char *event;  /* the "event:" value, or NULL */
    size_t event_len;
    const char *data;   /* "data:" lines joined with LF (no trailing LF), or NULL if none */
    size_t data_len;
    const char *id;     /* the "id:" value, or NULL */
    size_t id_len;
    const char *raw;    /* the event's bytes as received, blank line included */
    size_t raw_len;
    bool comment_only;  /* nothing but ':' comment lines (keep-alives) */
};

/* Called for every complete event; the pointers are valid during the call only. Returning
 * nonzero stops sse_feed(), which then returns that value. */
typedef int sse_event_fn(const struct sse_event *ev, void *ud);

struct sse_parser {
    struct buf raw;   /* bytes of the event being read */
    size_t scan;      /* how far 'raw' has been split into lines */
    bool cr;          /* the last byte seen was CR (a following LF belongs to it) */
    size_t max_event;
};

void sse_init(struct sse_parser *p, size_t max_event);
void sse_deinit(struct sse_parser *p);
/* Feeds bytes. Returns 0, E_LIMIT (an event over the cap), or a callback's nonzero value. */
int sse_feed(struct sse_parser *p, const char *bytes, size_t len, sse_event_fn *cb, void *ud);
/* End of stream: reports a last event that lacked its blank line (if it has data). Returns as
 * sse_feed(). */
int sse_finish(struct sse_parser *p, sse_event_fn *cb, void *ud);

#endif
