/* test_nostr_msg.c -- relay messages (nostr/msg.h): each message type parsed from what real
 * relays send, a list of malformed frames that must give E_PROTO or E_LIMIT and leave nothing
 * allocated, and the client messages we build (REQ, EVENT, CLOSE) parsed back by jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/str.h"
#include "nostr/msg.h"
#include "vectors.h"

/* An event nostr-tools signed (tests/relay/fixtures/nip01.json, the announcement). */
static const char ann_json[] =
    "{\"kind\":38421,\"created_at\":1750000100,\"tags\":[[\"d\",\"abc123\"],[\"u\",\"https://node."
    "example.com\"],[\"u\",\"http://xxxxxxxx.onion\"],[\"mint\",\"https://mint.example.com\"],"
    "[\"version\",\"0.1.0\"]],\"content\":\"{\\\"name\\\":\\\"My Node\\\",\\\"about\\\":\\\"Fast, "
    "private\\\"}\",\"pubkey\":\"7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e\","
    "\"id\":\"%s\",\"sig\":\"%s\"}";

static char *load_fixture_event(void)
{
    json_error_t err;
    json_t *f = json_load_file("tests/relay/fixtures/nip01.json", JSON_ALLOW_NUL, &err);
    assert_non_null(f);
    json_t *events = json_object_get(f, "events");
    json_t *last = json_object_get(json_array_get(events, json_array_size(events) - 1), "event");
    char *s = malloc(4096);
    snprintf(s, 4096, ann_json, json_string_value(json_object_get(last, "id")),
             json_string_value(json_object_get(last, "sig")));
    json_decref(f);
    return s;
}

static int parse(struct nostr_msg *m, const char *s)
{
    return nostr_msg_parse(m, s, strlen(s));
}

static void test_event(void **state)
{
    char *ev = load_fixture_event();
    char frame[5000];
    snprintf(frame, sizeof frame, "[\"EVENT\",\"disc\",%s]", ev);
    struct nostr_msg m;
    assert_int_equal(parse(&m, frame), E_OK);
    assert_int_equal(m.type, NOSTR_MSG_EVENT);
    assert_string_equal(m.sub, "disc");
    assert_int_equal(m.ev.kind, 38421);
    assert_int_equal(m.ev.created_at, 1750000100);
    assert_string_equal(nostr_event_tag(&m.ev, "d", NULL), "abc123");
    assert_string_equal(m.ev.content, "{\"name\":\"My Node\",\"about\":\"Fast, private\"}");
    assert_int_equal(nostr_event_verify(&m.ev), E_OK);

    /* Building ["EVENT",ev] from it and wrapping it as a relay would gives the same event. */
    struct buf b;
    buf_init(&b, NOSTR_MAX_FRAME);
    assert_int_equal(nostr_msg_event(&b, &m.ev), E_OK);
    assert_true(str_has_prefix((struct str){b.p, b.len}, "[\"EVENT\",{\"id\":\""));
    json_error_t jerr;
    json_t *a = json_loadb(b.p, b.len, 0, &jerr);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), 2);
    json_t *orig = json_loads(ev, 0, &jerr);
    assert_true(json_equal(json_array_get(a, 1), orig));
    json_decref(orig);
    json_decref(a);
    buf_deinit(&b);
    nostr_msg_deinit(&m);
    free(ev);
}

static void test_ok_eose_closed_notice(void **state)
{
    struct nostr_msg m;
    const char *id = "b9f5441e45ca39179320e0031cfb18e34078673dcc3d3e3a3b3a981760aa5696";
    char frame[512];
    snprintf(frame, sizeof frame, "[\"OK\",\"%s\",true,\"\"]", id);
    assert_int_equal(parse(&m, frame), E_OK);
    assert_int_equal(m.type, NOSTR_MSG_OK);
    assert_true(m.ok);
    assert_hex_equal(m.id, 32, id);
    assert_string_equal(m.text, "");
    nostr_msg_deinit(&m);

    snprintf(frame, sizeof frame, "[\"OK\",\"%s\",false,\"invalid: bad signature\"]", id);
    assert_int_equal(parse(&m, frame), E_OK);
    assert_false(m.ok);
    assert_string_equal(m.text, "invalid: bad signature");
    nostr_msg_deinit(&m);

    snprintf(frame, sizeof frame, "[\"OK\",\"%s\",true]", id); /* message omitted */
    assert_int_equal(parse(&m, frame), E_OK);
    assert_true(m.ok);
    nostr_msg_deinit(&m);

    assert_int_equal(parse(&m, "[\"EOSE\",\"own\"]"), E_OK);
    assert_int_equal(m.type, NOSTR_MSG_EOSE);
    assert_string_equal(m.sub, "own");
    nostr_msg_deinit(&m);

    assert_int_equal(parse(&m, "[\"CLOSED\",\"disc\",\"auth-required: sign in\"]"), E_OK);
    assert_int_equal(m.type, NOSTR_MSG_CLOSED);
    assert_string_equal(m.sub, "disc");
    assert_string_equal(m.text, "auth-required: sign in");
    nostr_msg_deinit(&m);

    assert_int_equal(parse(&m, " [ \"NOTICE\" , \"rate limited\\n\" ] "), E_OK);
    assert_int_equal(m.type, NOSTR_MSG_NOTICE);
    assert_string_equal(m.text, "rate limited\n");
    nostr_msg_deinit(&m);

    assert_int_equal(parse(&m, "[\"AUTH\",\"challenge-string\"]"), E_OK);
    assert_int_equal(m.type, NOSTR_MSG_OTHER);
    assert_string_equal(m.text, "AUTH");
    nostr_msg_deinit(&m);

    /* A long NOTICE is cut to NOSTR_MAX_TEXT bytes. */
    char *big = malloc(NOSTR_MAX_TEXT * 3);
    int n = snprintf(big, NOSTR_MAX_TEXT * 3, "[\"NOTICE\",\"");
    memset(big + n, 'x', NOSTR_MAX_TEXT * 2);
    strcpy(big + n + NOSTR_MAX_TEXT * 2, "\"]");
    assert_int_equal(parse(&m, big), E_OK);
    assert_int_equal(strlen(m.text), NOSTR_MAX_TEXT);
    nostr_msg_deinit(&m);
    free(big);
}

static void test_malformed(void **state)
{
    char *ev = load_fixture_event();
    char ev_frame[5000];
    static const char *const bad[] = {
        "",
        "null",
        "[]",
        "{}",
        "\"EVENT\"",
        "[1,2,3]",
        "[\"EVENT\"",
        "[\"EVENT\",\"s\"]",
        "[\"EVENT\",\"s\",{}]",
        "[\"EVENT\",\"\",%s]",              /* empty subscription id */
        "[\"EVENT\",7,%s]",
        "[\"EVENT\",\"s\",%s,1]",           /* extra element */
        "[\"EVENT\",\"s\\u0000x\",%s]",     /* NUL in the subscription id */
        "[\"EVENT\",\"01234567890123456789012345678901234567890123456789012345678901234\",%s]",
        "[\"OK\",\"abc\",true,\"\"]",
        "[\"OK\",\"B9F5441E45CA39179320E0031CFB18E34078673DCC3D3E3A3B3A981760AA5696\",true,\"\"]",
        "[\"OK\",\"b9f5441e45ca39179320e0031cfb18e34078673dcc3d3e3a3b3a981760aa5696\",\"true\",\"\"]",
        "[\"OK\",\"b9f5441e45ca39179320e0031cfb18e34078673dcc3d3e3a3b3a981760aa5696\",true,5]",
        "[\"OK\",\"b9f5441e45ca39179320e0031cfb18e34078673dcc3d3e3a3b3a981760aa5696\"]",
        "[\"EOSE\"]",
        "[\"EOSE\",\"s\",\"t\"]",
        "[\"EOSE\",null]",
        "[\"CLOSED\"]",
        "[\"CLOSED\",\"s\",3]",
        "[\"NOTICE\"]",
        "[\"NOTICE\",{}]",
        "[\"NOTICE\",\"a\",\"b\"]",
        "[\"NOTICE\",\"\xff\"]",            /* not UTF-8 */
        "[\"NOTICE\",\"\\ud800\"]",         /* lone surrogate */
        "[\"EOSE\",\"s\"] trailing",
        "{\"EVENT\":1}",
        "[\"EVENT\",\"s\",{\"id\":1}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nostr_msg m;
        snprintf(ev_frame, sizeof ev_frame, bad[i], ev);
        int rc = parse(&m, ev_frame);
        if (rc != E_PROTO)
            fail_msg("frame #%zu gave %s: %s", i, err_name(rc), ev_frame);
        assert_null(m.text);
        nostr_msg_deinit(&m);
    }
    /* Duplicate keys in the event object are refused (which one would be signed?). */
    char dup[5200];
    snprintf(dup, sizeof dup, "[\"EVENT\",\"s\",%.*s,\"kind\":1}]", (int)strlen(ev) - 1, ev);
    struct nostr_msg m;
    assert_int_equal(parse(&m, dup), E_PROTO);
    nostr_msg_deinit(&m);
    free(ev);
}

static void test_limits(void **state)
{
    struct nostr_msg m;
    size_t n = NOSTR_MAX_FRAME + 1;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "[\"NOTICE\",\"x\"]", 14);
    big[n] = '\0';
    assert_int_equal(nostr_msg_parse(&m, big, n), E_LIMIT);
    nostr_msg_deinit(&m);
    /* An event with too many tags, inside the frame cap. */
    struct buf b;
    buf_init(&b, NOSTR_MAX_FRAME);
    buf_appends(&b, "[\"EVENT\",\"s\",{\"id\":\"");
    for (int i = 0; i < 64; i++)
        buf_appends(&b, "0");
    buf_appends(&b, "\",\"pubkey\":\"");
    for (int i = 0; i < 64; i++)
        buf_appends(&b, "0");
    buf_appends(&b, "\",\"sig\":\"");
    for (int i = 0; i < 128; i++)
        buf_appends(&b, "0");
    buf_appends(&b, "\",\"created_at\":1,\"kind\":1,\"content\":\"\",\"tags\":[");
    for (int i = 0; i <= NOSTR_MAX_TAGS; i++)
        buf_appends(&b, i ? ",[\"t\"]" : "[\"t\"]");
    buf_appends(&b, "]}]");
    assert_int_equal(nostr_msg_parse(&m, b.p, b.len), E_LIMIT);
    nostr_msg_deinit(&m);
    buf_deinit(&b);
    free(big);
}

static void test_build(void **state)
{
    struct buf b;
    buf_init(&b, 4096);
    json_t *filter = json_pack("{s:[i], s:i}", "kinds", 38421, "limit", 100);
    assert_int_equal(nostr_msg_req(&b, "disc", filter), E_OK);
    assert_string_equal(b.p, "[\"REQ\",\"disc\",{\"kinds\":[38421],\"limit\":100}]");
    buf_reset(&b);
    assert_int_equal(nostr_msg_close(&b, "disc"), E_OK);
    assert_string_equal(b.p, "[\"CLOSE\",\"disc\"]");
    buf_reset(&b);
    assert_int_equal(nostr_msg_req(&b, "", filter), E_PROTO);
    assert_int_equal(nostr_msg_req(&b, "a\"b", filter), E_PROTO);
    assert_int_equal(nostr_msg_req(&b, "a b", filter), E_PROTO);
    assert_int_equal(nostr_msg_close(&b, "01234567890123456789012345678901234567890123456789012345678901234"), E_PROTO);
    json_t *arr = json_array();
    assert_int_equal(nostr_msg_req(&b, "x", arr), E_PROTO);
    json_decref(arr);
    assert_int_equal(b.len, 0);
    /* The buffer's cap is honoured. */
    struct buf small;
    buf_init(&small, 10);
    assert_int_equal(nostr_msg_req(&small, "disc", filter), E_LIMIT);
    buf_deinit(&small);
    json_decref(filter);
    buf_deinit(&b);

    char out[8];
    nostr_log_text(out, 7, "a\"b\\c\nde");
    assert_string_equal(out, "a?b?c?d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_ok_eose_closed_notice),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
