/* sse.c -- incremental Server-Sent Events framing (WHATWG HTML §9.2.6 "Interpreting an event
 * stream"); see sse.h.
 *
 * It runs on every streamed chunk, so it copies as little as it can. An event that lies wholly
 * inside one fed piece is parsed where it lies: the event's fields and its raw bytes point into
 * the caller's bytes, and nothing is copied. Only the unfinished tail of a piece (an event cut by
 * the chunk boundary) is copied into p->raw; the next feed completes it there and then parses it
 * in place. An event with more than one "data:" line (rare: OpenAI, Anthropic and the Responses
 * API send one) has its lines joined into a temporary allocation for the callback.
 *
 * State between feeds: p->raw holds the bytes of the unfinished event, p->scan is where its
 * unfinished line starts (scan == raw.len: the current line is still empty), and p->cr says the
 * last byte seen was a CR, so that an LF arriving first in the next piece is the second half of
 * a CRLF and not a blank line.
 *
 * Two choices the spec leaves to us:
 * - An event is reported as soon as its blank line's first terminator byte arrives, never held
 *   back for the byte after it. When that byte is a CR that ends a piece, the LF that follows in
 *   the next piece belongs to an event already reported: it is dropped, so that event's raw bytes
 *   end in "\r" where a one-piece parse gives "\r\n". Both are a valid line end. For the same
 *   reason an event's size, for the cap, counts its blank line's terminator as one byte.
 * - Blank lines with nothing before them (extra blank lines between events) are no event: they
 *   are consumed and not reported. An event that has only unknown fields (e.g. "retry:") is
 *   reported, with data NULL, so a proxy can pass it through.
 * After E_LIMIT or a callback's nonzero return, the rest of that feed is dropped and the parser
 * starts afresh at the next feed. */
#include "http/sse.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

/* What a pass over an event's lines found. Pointers point into the bytes being parsed. */
struct fields {
    const char *event, *id, *data;
    size_t event_len, id_len, data_len;
    size_t n_data;     /* "data" lines */
    size_t data_total; /* length of the data lines joined with LF */
    size_t n_lines;    /* non-blank lines */
    size_t n_comments; /* lines starting with ':' */
};

void sse_init(struct sse_parser *p, size_t max_event)
{
    assert(max_event < SIZE_MAX);
    /* One more than the cap: a blank line's CRLF is stored whole but counts as one byte. */
    buf_init(&p->raw, max_event + 1);
    p->scan = 0;
    p->cr = false;
    p->max_event = max_event;
}

void sse_deinit(struct sse_parser *p)
{
    buf_deinit(&p->raw);
    p->scan = 0;
    p->cr = false;
}

/* The first CR or LF in [s, end), or NULL. Two memchr() calls beat a byte loop: CR is rare, and
 * the second search stops at the LF. *lf caches the next LF (end: none) across the calls of one
 * scan, so a run of CR-ended lines does not search for the same LF again each time (start a
 * scan with *lf = NULL). */
static const char *find_eol(const char *s, const char *end, const char **lf)
{
    if (*lf == NULL || *lf < s) {
        *lf = memchr(s, '\n', (size_t)(end - s));
        if (*lf == NULL)
            *lf = end;
    }
    const char *cr = memchr(s, '\r', (size_t)(*lf - s));
    if (cr)
        return cr;
    return *lf < end ? *lf : NULL;
}

/* Splits a non-blank line into field name and value (WHATWG: no colon → the whole line is the
 * name and the value is empty; one space after the colon is dropped). */
static void split_field(const char *line, size_t n, size_t *name_len, const char **v, size_t *vlen)
{
    const char *colon = memchr(line, ':', n);
    *name_len = colon ? (size_t)(colon - line) : n;
    *v = colon ? colon + 1 : line + n;
    *vlen = (size_t)(line + n - *v);
    if (*vlen > 0 && **v == ' ') {
        (*v)++;
        (*vlen)--;
    }
}

static bool is_name(const char *line, size_t n, const char *name, size_t name_len)
{
    return n == name_len && memcmp(line, name, name_len) == 0;
}

static void parse_line(struct fields *f, const char *line, size_t n)
{
    f->n_lines++;
    if (line[0] == ':') {
        f->n_comments++;
        return;
    }
    size_t name_len, vlen;
    const char *v;
    split_field(line, n, &name_len, &v, &vlen);
    if (is_name(line, name_len, "data", 4)) {
        if (f->n_data == 0) {
            f->data = v;
            f->data_len = vlen;
            f->data_total = vlen;
        } else {
            f->data_total += 1 + vlen;
        }
        f->n_data++;
    } else if (is_name(line, name_len, "event", 5)) {
        f->event = v;
        f->event_len = vlen;
    } else if (is_name(line, name_len, "id", 2)) {
        if (memchr(v, '\0', vlen) == NULL) { /* WHATWG: an id with NUL is ignored */
            f->id = v;
            f->id_len = vlen;
        }
    }
    /* "retry" and unknown fields stay in the raw bytes only. */
}

/* Parses s[0..n) from the start of an event. Returns the bytes through the terminator of the
 * event's blank line (a CR's LF included when it is in s), or 0 when s holds no blank line; then
 * *unfinished is where the unterminated last line starts (n if none). *ends_cr says the last
 * line end found was a CR that is the last byte of s. With 'eof', an unterminated last line is a
 * line too (sse_finish). A returned event with f->n_lines == 0 is a stray blank line. */
static size_t parse_event(struct fields *f, const char *s, size_t n, bool eof, bool *ends_cr,
                          size_t *unfinished)
{
    memset(f, 0, sizeof *f);
    *ends_cr = false;
    size_t i = 0;
    const char *lf = NULL;
    while (i < n) {
        const char *eol = find_eol(s + i, s + n, &lf);
        if (eol == NULL) {
            *unfinished = i;
            if (eof)
                parse_line(f, s + i, n - i);
            return 0;
        }
        size_t e = (size_t)(eol - s), next = e + 1;
        *ends_cr = false;
        if (*eol == '\r') {
            if (next < n && s[next] == '\n')
                next++;
            else if (next == n)
                *ends_cr = true;
        }
        if (e == i)
            return next;
        parse_line(f, s + i, e - i);
        i = next;
    }
    *unfinished = n;
    return 0;
}

/* For an event that is not wholly in one piece: looks in s[0..n) for the blank line that ends
 * the event pending in p->raw. *empty (the current line has no bytes yet) and *cr (the byte
 * before s was a CR) carry the scan across pieces. Returns the bytes through the blank line's
 * terminator, or 0; *line_start is updated to where the current line starts in s when a line
 * ended in s. */
static size_t find_end(const char *s, size_t n, bool *empty, bool *cr, size_t *line_start)
{
    size_t i = 0;
    const char *lf = NULL;
    if (n == 0)
        return 0;
    if (*cr && s[0] == '\n') /* the LF of a CRLF split between pieces */
        *line_start = i = 1;
    *cr = false;
    while (i < n) {
        if (*empty && (s[i] == '\r' || s[i] == '\n')) {
            size_t end = i + 1;
            if (s[i] == '\r') {
                if (end < n && s[end] == '\n')
                    end++;
                else if (end == n)
                    *cr = true;
            }
            return end;
        }
        const char *eol = find_eol(s + i, s + n, &lf);
        if (eol == NULL) {
            *empty = false;
            return 0;
        }
        size_t e = (size_t)(eol - s);
        if (*eol == '\r') {
            if (e + 1 < n && s[e + 1] == '\n')
                e++;
            else if (e + 1 == n)
                *cr = true;
        }
        *line_start = i = e + 1;
        *empty = true;
    }
    return 0;
}

/* The size that counts against the cap: the raw bytes, with a blank line ended by CRLF counted
 * as one byte (so the size does not depend on where the pieces were cut). */
static size_t event_size(const char *raw, size_t len)
{
    if (len >= 2 && raw[len - 1] == '\n' && raw[len - 2] == '\r')
        return len - 1;
    return len;
}

/* Joins the values of the "data" lines of raw[0..len) with LF into out. */
static void join_data(char *out, const char *raw, size_t len)
{
    size_t i = 0, o = 0, lines = 0;
    const char *lf = NULL;
    while (i < len) {
        const char *eol = find_eol(raw + i, raw + len, &lf);
        size_t e = eol ? (size_t)(eol - raw) : len, next = e + 1;
        if (eol && *eol == '\r' && next < len && raw[next] == '\n')
            next++;
        if (e == i)
            break; /* the blank line */
        if (raw[i] != ':') {
            size_t name_len, vlen;
            const char *v;
            split_field(raw + i, e - i, &name_len, &v, &vlen);
            if (is_name(raw + i, name_len, "data", 4)) {
                if (lines++)
                    out[o++] = '\n';
                memcpy(out + o, v, vlen);
                o += vlen;
            }
        }
        i = next;
    }
    out[o] = '\0';
}

static int dispatch(const struct fields *f, const char *raw, size_t raw_len, sse_event_fn *cb,
                    void *ud)
{
    struct sse_event ev = {
        .event = f->event,
        .event_len = f->event_len,
        .data = f->data,
        .data_len = f->data_len,
        .id = f->id,
        .id_len = f->id_len,
        .raw = raw,
        .raw_len = raw_len,
        .comment_only = f->n_comments == f->n_lines,
    };
    char *joined = NULL;
    if (f->n_data > 1) {
        joined = xmalloc(f->data_total + 1);
        join_data(joined, raw, raw_len);
        ev.data = joined;
        ev.data_len = f->data_total;
    }
    int rc = cb(&ev, ud);
    free(joined);
    return rc;
}

static void reset(struct sse_parser *p)
{
    buf_reset(&p->raw);
    p->scan = 0;
    p->cr = false;
}

static int fail(struct sse_parser *p, int rc)
{
    reset(p);
    return rc;
}

/* Completes the event pending in p->raw with the first bytes of s. Returns the bytes of s used
 * (all of them when the event is still unfinished), or a negative/callback code in *rc. */
static size_t feed_pending(struct sse_parser *p, const char *s, size_t n, sse_event_fn *cb,
                           void *ud, int *rc)
{
    bool empty = p->scan == p->raw.len, cr = p->cr;
    size_t line_start = SIZE_MAX;
    size_t end = find_end(s, n, &empty, &cr, &line_start);
    size_t take = end ? end : n;
    size_t size = p->raw.len + (end ? event_size(s, end) : n);
    *rc = E_OK;
    if (size > p->max_event) {
        *rc = fail(p, E_LIMIT);
        return n;
    }
    size_t old = p->raw.len;
    int arc = buf_append(&p->raw, s, take);
    assert(arc == E_OK); /* take ≤ max_event + 1 - old: the cap was checked above */
    (void)arc;
    if (end == 0) {
        if (line_start != SIZE_MAX)
            p->scan = old + line_start;
        p->cr = cr;
        return n;
    }
    struct fields f;
    bool ends_cr;
    size_t unfinished;
    size_t got = parse_event(&f, p->raw.p, p->raw.len, false, &ends_cr, &unfinished);
    assert(got == p->raw.len);
    (void)got;
    *rc = dispatch(&f, p->raw.p, p->raw.len, cb, ud);
    reset(p);
    p->cr = cr;
    if (*rc != 0)
        p->cr = false;
    return take;
}

int sse_feed(struct sse_parser *p, const char *bytes, size_t len, sse_event_fn *cb, void *ud)
{
    size_t pos = 0;
    if (len == 0)
        return E_OK;
    if (p->raw.len > 0) {
        int rc;
        pos = feed_pending(p, bytes, len, cb, ud, &rc);
        if (rc != 0)
            return rc;
    } else if (p->cr) {
        if (bytes[0] == '\n')
            pos = 1; /* the LF of a CRLF that ended the last event */
        p->cr = false;
    }

    /* Whole events straight from the caller's bytes. */
    while (pos < len) {
        struct fields f;
        bool ends_cr;
        size_t unfinished;
        const char *s = bytes + pos;
        size_t n = len - pos;
        size_t end = parse_event(&f, s, n, false, &ends_cr, &unfinished);
        if (end == 0) {
            if (n > p->max_event)
                return fail(p, E_LIMIT);
            int arc = buf_append(&p->raw, s, n);
            assert(arc == E_OK);
            (void)arc;
            p->scan = unfinished;
            p->cr = unfinished == n && ends_cr;
            return E_OK;
        }
        pos += end;
        p->cr = pos == len && ends_cr;
        if (f.n_lines == 0)
            continue; /* a stray blank line */
        if (event_size(s, end) > p->max_event)
            return fail(p, E_LIMIT);
        int rc = dispatch(&f, s, end, cb, ud);
        if (rc != 0)
            return fail(p, rc);
    }
    return E_OK;
}

int sse_finish(struct sse_parser *p, sse_event_fn *cb, void *ud)
{
    int rc = E_OK;
    if (p->raw.len > 0) {
        struct fields f;
        bool ends_cr;
        size_t unfinished;
        size_t got = parse_event(&f, p->raw.p, p->raw.len, true, &ends_cr, &unfinished);
        assert(got == 0); /* a complete event never stays in raw */
        (void)got;
        if (f.n_data > 0)
            rc = dispatch(&f, p->raw.p, p->raw.len, cb, ud);
    }
    reset(p);
    return rc;
}
