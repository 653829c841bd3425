/* test_http_sse.c -- the SSE framer: fields, line ends, pieces cut anywhere, caps, finish. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "http/sse.h"

/* What a callback saw, copied (the event's pointers live only during the call). */
struct seen {
    char *event, *data, *id, *raw; /* NULL when the event had none */
    size_t data_len, raw_len;
    bool comment_only;
    const char *raw_ptr; /* where raw pointed, for the zero-copy test */
};

struct log {
    struct seen ev[64];
    size_t n;
    int stop_at; /* return 7 from the callback for event number stop_at (1-based) */
};

static char *dup_or_null(const char *p, size_t n)
{
    return p ? xstrndup(p, n) : NULL;
}

static int on_event(const struct sse_event *ev, void *ud)
{
    struct log *l = ud;
    assert_true(l->n < 64);
    struct seen *s = &l->ev[l->n++];
    s->event = dup_or_null(ev->event, ev->event_len);
    s->data = dup_or_null(ev->data, ev->data_len);
    s->data_len = ev->data_len;
    s->id = dup_or_null(ev->id, ev->id_len);
    s->raw = xstrndup(ev->raw, ev->raw_len);
    s->raw_len = ev->raw_len;
    s->raw_ptr = ev->raw;
    s->comment_only = ev->comment_only;
    return l->stop_at == (int)l->n ? 7 : 0;
}

static void log_free(struct log *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->ev[i].event);
        free(l->ev[i].data);
        free(l->ev[i].id);
        free(l->ev[i].raw);
    }
    l->n = 0;
}

static void assert_str_or_null(const char *got, const char *want)
{
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

/* Parses 'text' in one piece (plus sse_finish) into l. Returns the first nonzero code. */
static int parse_all(struct log *l, const char *text, size_t len, size_t max_event)
{
    struct sse_parser p;
    sse_init(&p, max_event);
    int rc = sse_feed(&p, text, len, on_event, l);
    if (rc == 0)
        rc = sse_finish(&p, on_event, l);
    sse_deinit(&p);
    return rc;
}

static void test_one_event(void **state)
{
    struct log l = {0};
    const char *s = "data: hello\n\n";
    assert_int_equal(parse_all(&l, s, strlen(s), 1024), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ev[0].data, "hello");
    assert_null(l.ev[0].event);
    assert_null(l.ev[0].id);
    assert_string_equal(l.ev[0].raw, s);
    assert_false(l.ev[0].comment_only);
    log_free(&l);
}

static void test_fields(void **state)
{
    struct log l = {0};
    /* "data" without a colon is a data line with an empty value; one space after the colon
     * is dropped, a second one is kept; the last "event" wins; retry stays in raw only. */
    const char *s = "event: a\nevent:message_start\nid: 7\nretry: 100\n"
                    "data: one\ndata:two\ndata\ndata:  four\n\n";
    assert_int_equal(parse_all(&l, s, strlen(s), 1024), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ev[0].event, "message_start");
    assert_string_equal(l.ev[0].id, "7");
    assert_string_equal(l.ev[0].data, "one\ntwo\n\n four");
    assert_int_equal(l.ev[0].data_len, strlen("one\ntwo\n\n four"));
    assert_string_equal(l.ev[0].raw, s);
    log_free(&l);
}

static void test_comments(void **state)
{
    struct log l = {0};
    const char *s = ": OPENROUTER PROCESSING\n\n"
                    ":ping\n: again\n\n"
                    ": note\ndata: x\n\n"
                    "retry: 5\n\n";
    assert_int_equal(parse_all(&l, s, strlen(s), 1024), 0);
    assert_int_equal(l.n, 4);
    assert_true(l.ev[0].comment_only);
    assert_null(l.ev[0].data);
    assert_string_equal(l.ev[0].raw, ": OPENROUTER PROCESSING\n\n");
    assert_true(l.ev[1].comment_only);
    assert_false(l.ev[2].comment_only);
    assert_string_equal(l.ev[2].data, "x");
    /* only an unknown field: reported (pass-through), no data, not a comment */
    assert_false(l.ev[3].comment_only);
    assert_null(l.ev[3].data);
    assert_string_equal(l.ev[3].raw, "retry: 5\n\n");
    log_free(&l);
}

static void test_line_ends(void **state)
{
    struct log l = {0};
    /* CR, CRLF, LF, and a blank line of each kind */
    const char *s = "data: a\r\rdata: b\r\n\r\ndata: c\n\ndata: d\r\ndata: e\n\r";
    assert_int_equal(parse_all(&l, s, strlen(s), 1024), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.ev[0].data, "a");
    assert_string_equal(l.ev[0].raw, "data: a\r\r");
    assert_string_equal(l.ev[1].data, "b");
    assert_string_equal(l.ev[1].raw, "data: b\r\n\r\n");
    assert_string_equal(l.ev[2].data, "c");
    assert_string_equal(l.ev[3].data, "d\ne");
    assert_string_equal(l.ev[3].raw, "data: d\r\ndata: e\n\r");
    log_free(&l);
}

static void test_stray_blank_lines(void **state)
{
    struct log l = {0};
    const char *s = "\n\r\n\rdata: a\n\n\n\ndata: b\n\n";
    assert_int_equal(parse_all(&l, s, strlen(s), 1024), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ev[0].data, "a");
    assert_string_equal(l.ev[0].raw, "data: a\n\n");
    assert_string_equal(l.ev[1].data, "b");
    log_free(&l);
}

/* Compares a one-piece log 'a' with a log 'b' of pieces, allowing the one documented difference:
 * an event whose blank line's CR ended a piece has raw "…\r" where 'a' has "…\r\n". */
static void assert_same(const struct log *a, const struct log *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct seen *x = &a->ev[i], *y = &b->ev[i];
        assert_str_or_null(y->event, x->event);
        assert_str_or_null(y->data, x->data);
        assert_str_or_null(y->id, x->id);
        assert_int_equal(x->comment_only, y->comment_only);
        if (x->raw_len == y->raw_len + 1) {
            assert_true(y->raw_len > 0 && y->raw[y->raw_len - 1] == '\r');
            assert_int_equal(x->raw[x->raw_len - 1], '\n');
            assert_memory_equal(x->raw, y->raw, y->raw_len);
        } else {
            assert_string_equal(y->raw, x->raw);
        }
    }
}

static const char STREAM[] =
    ": OPENROUTER PROCESSING\n\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
    "event: message_delta\r\nid: 42\r\ndata: {\"a\":1}\r\ndata: {\"b\":2}\r\n\r\n"
    "data: cr only\r\r"
    "\n"
    "data: {\"usage\":{\"prompt_tokens\":3}}\n\n"
    "data: [DONE]\n\n"
    "data: tail without blank line";

/* Every cut into two pieces, and every cut into three pieces, gives the events of one piece. */
static void test_every_split(void **state)
{
    size_t len = sizeof STREAM - 1;
    struct log whole = {0};
    assert_int_equal(parse_all(&whole, STREAM, len, 4096), 0);
    assert_int_equal(whole.n, 7); /* comment, chunk, delta, cr only, usage, DONE, tail */
    assert_string_equal(whole.ev[2].data, "{\"a\":1}\n{\"b\":2}");
    assert_string_equal(whole.ev[6].data, "tail without blank line");
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            struct log l = {0};
            struct sse_parser p;
            sse_init(&p, 4096);
            assert_int_equal(sse_feed(&p, STREAM, i, on_event, &l), 0);
            assert_int_equal(sse_feed(&p, STREAM + i, j - i, on_event, &l), 0);
            assert_int_equal(sse_feed(&p, STREAM + j, len - j, on_event, &l), 0);
            assert_int_equal(sse_finish(&p, on_event, &l), 0);
            sse_deinit(&p);
            assert_same(&whole, &l);
            log_free(&l);
        }
    }
    log_free(&whole);
}

/* Byte by byte: the worst case for the pending path. */
static void test_byte_by_byte(void **state)
{
    size_t len = sizeof STREAM - 1;
    struct log whole = {0}, l = {0};
    assert_int_equal(parse_all(&whole, STREAM, len, 4096), 0);
    struct sse_parser p;
    sse_init(&p, 4096);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(sse_feed(&p, STREAM + i, 1, on_event, &l), 0);
    assert_int_equal(sse_finish(&p, on_event, &l), 0);
    sse_deinit(&p);
    assert_same(&whole, &l);
    log_free(&whole);
    log_free(&l);
}

static void test_crlf_split(void **state)
{
    struct log l = {0};
    struct sse_parser p;
    sse_init(&p, 1024);
    /* the data line's CRLF cut in two: the LF belongs to the pending event */
    assert_int_equal(sse_feed(&p, "data: x\r", 8, on_event, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(sse_feed(&p, "\n\r\n", 3, on_event, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ev[0].raw, "data: x\r\n\r\n");
    /* the blank line's CRLF cut in two: the event goes out at the CR, the LF that follows is
     * the rest of that line end (not a blank line, not part of the next event) */
    assert_int_equal(sse_feed(&p, "data: y\r\n\r", 10, on_event, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ev[1].data, "y");
    assert_string_equal(l.ev[1].raw, "data: y\r\n\r");
    assert_int_equal(sse_feed(&p, "\ndata: z\r\n\r\n", 12, on_event, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.ev[2].data, "z");
    assert_string_equal(l.ev[2].raw, "data: z\r\n\r\n");
    /* a CR then a CR: two line ends */
    assert_int_equal(sse_feed(&p, "data: w\r", 8, on_event, &l), 0);
    assert_int_equal(sse_feed(&p, "\r", 1, on_event, &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.ev[3].raw, "data: w\r\r");
    sse_deinit(&p);
    log_free(&l);
}

static void test_zero_copy(void **state)
{
    struct log l = {0};
    struct sse_parser p;
    const char *s = "data: a\n\ndata: b";
    sse_init(&p, 1024);
    assert_int_equal(sse_feed(&p, s, strlen(s), on_event, &l), 0);
    assert_int_equal(l.n, 1);
    assert_ptr_equal(l.ev[0].raw_ptr, s); /* a whole event is read where it lies */
    assert_int_equal(p.raw.len, strlen("data: b")); /* only the unfinished tail is kept */
    assert_int_equal(sse_feed(&p, "\n\n", 2, on_event, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ev[1].raw, "data: b\n\n");
    assert_int_equal(p.raw.len, 0);
    sse_deinit(&p);
    log_free(&l);
}

static void test_cap(void **state)
{
    struct log l = {0};
    /* max_event 16: "data: 01234567\n\n" is 6 + 8 + 2 = 16 bytes: fits */
    assert_int_equal(parse_all(&l, "data: 01234567\n\n", 16, 16), 0);
    assert_int_equal(l.n, 1);
    log_free(&l);
    /* 17 bytes: over */
    assert_int_equal(parse_all(&l, "data: 012345678\n\n", 17, 16), E_LIMIT);
    assert_int_equal(l.n, 0);
    /* a blank line's CRLF counts as one byte: 6 + 7 + 2 + 2 = 17 raw bytes, size 16: fits */
    assert_int_equal(parse_all(&l, "data: 0123456\r\n\r\n", 17, 16), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.ev[0].raw_len, 17);
    log_free(&l);

    /* an unfinished event over the cap fails at once, in one piece or in several; events
     * before it are delivered; the next feed starts afresh */
    struct sse_parser p;
    sse_init(&p, 16);
    assert_int_equal(sse_feed(&p, "data: ok\n\ndata: 01234567890", 27, on_event, &l), E_LIMIT);
    assert_int_equal(l.n, 1);
    assert_int_equal(sse_feed(&p, "data: 0123", 10, on_event, &l), 0);
    assert_int_equal(sse_feed(&p, "4567", 4, on_event, &l), 0); /* 14 bytes pending */
    assert_int_equal(sse_feed(&p, "89", 2, on_event, &l), 0);   /* 16 */
    assert_int_equal(sse_feed(&p, "\n", 1, on_event, &l), E_LIMIT); /* 17 */
    assert_int_equal(sse_feed(&p, "data: again\n\n", 13, on_event, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ev[1].data, "again");
    sse_deinit(&p);
    log_free(&l);
}

static void test_finish(void **state)
{
    struct log l = {0};
    struct sse_parser p;
    sse_init(&p, 1024);
    assert_int_equal(sse_finish(&p, on_event, &l), 0); /* nothing pending */
    assert_int_equal(sse_feed(&p, "event: e\ndata: last", 19, on_event, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(sse_finish(&p, on_event, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ev[0].event, "e");
    assert_string_equal(l.ev[0].data, "last");
    assert_string_equal(l.ev[0].raw, "event: e\ndata: last");
    /* a last line with its line end but no blank line */
    assert_int_equal(sse_feed(&p, "data: a\r\ndata: b\r", 17, on_event, &l), 0);
    assert_int_equal(sse_finish(&p, on_event, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ev[1].data, "a\nb");
    /* no data: nothing to report */
    assert_int_equal(sse_feed(&p, "event: x\n: c", 12, on_event, &l), 0);
    assert_int_equal(sse_finish(&p, on_event, &l), 0);
    assert_int_equal(l.n, 2);
    /* finish leaves a fresh parser */
    assert_int_equal(sse_feed(&p, "data: n\n\n", 9, on_event, &l), 0);
    assert_int_equal(l.n, 3);
    sse_deinit(&p);
    log_free(&l);
}

static void test_callback_stops(void **state)
{
    struct log l = {.stop_at = 1};
    struct sse_parser p;
    sse_init(&p, 1024);
    assert_int_equal(sse_feed(&p, "data: 1\n\ndata: 2\n\n", 18, on_event, &l), 7);
    assert_int_equal(l.n, 1);
    /* from the pending path too */
    l.stop_at = 2;
    assert_int_equal(sse_feed(&p, "data: 3", 7, on_event, &l), 0);
    assert_int_equal(sse_feed(&p, "\n\ndata: 4\n\n", 11, on_event, &l), 7);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ev[1].data, "3");
    assert_int_equal(p.raw.len, 0);
    sse_deinit(&p);
    log_free(&l);
}

static void test_id_with_nul(void **state)
{
    struct log l = {0};
    static const char s[] = "id: 1\nid: a\0b\ndata: x\n\n";
    /* WHATWG: an id containing NUL is ignored, the earlier one stays */
    assert_int_equal(parse_all(&l, s, sizeof s - 1, 1024), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ev[0].id, "1");
    log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_event),     cmocka_unit_test(test_fields),
        cmocka_unit_test(test_comments),      cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_stray_blank_lines), cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_byte_by_byte),  cmocka_unit_test(test_crlf_split),
        cmocka_unit_test(test_zero_copy),     cmocka_unit_test(test_cap),
        cmocka_unit_test(test_finish),        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_id_with_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
