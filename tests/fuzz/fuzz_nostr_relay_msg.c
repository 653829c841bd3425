/* fuzz_nostr_relay_msg.c -- libFuzzer target for relay message parsing (nostr/msg.h).
 *
 * Any input either fails with E_PROTO/E_LIMIT, leaving nothing allocated, or parses into a
 * message that keeps the documented bounds (subscription id 1..64, text under NOSTR_MAX_TEXT,
 * event caps). A parsed EVENT must then survive a round trip: our JSON of it, wrapped as a
 * relay frame, parses to the same event with the same canonical serialization and id, and the
 * client message built from it is valid JSON. A violated property traps. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "nostr/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c))                                                                             \
            __builtin_trap();                                                                 \
    } while (0)

static void check_event(const struct nostr_event *ev)
{
    CHECK(ev->kind <= 65535);
    CHECK(ev->created_at >= 0 && ev->created_at <= NOSTR_MAX_CREATED_AT);
    CHECK(json_is_array(ev->tags) && json_array_size(ev->tags) <= NOSTR_MAX_TAGS);
    CHECK(ev->content_len <= NOSTR_MAX_CONTENT && ev->content[ev->content_len] == '\0');

    struct buf a, b;
    buf_init(&a, NOSTR_MAX_SERIALIZED);
    buf_init(&b, NOSTR_MAX_SERIALIZED);
    CHECK(nostr_event_serialize(ev, &a) == E_OK);
    CHECK(buf_appends(&b, "[\"EVENT\",\"fuzz\",") == E_OK);
    CHECK(nostr_event_write_json(ev, &b) == E_OK);
    CHECK(buf_appends(&b, "]") == E_OK);

    struct nostr_msg m2;
    int rc = nostr_msg_parse(&m2, b.p, b.len);
    /* Our JSON escapes more than the input may have: it can only outgrow the frame cap. */
    CHECK(rc == E_OK || (rc == E_LIMIT && b.len > NOSTR_MAX_FRAME));
    if (rc == E_OK) {
        const struct nostr_event *e2 = &m2.ev;
        CHECK(m2.type == NOSTR_MSG_EVENT && strcmp(m2.sub, "fuzz") == 0);
        CHECK(memcmp(e2->id, ev->id, 32) == 0 && memcmp(e2->pubkey, ev->pubkey, 32) == 0 &&
              memcmp(e2->sig, ev->sig, 64) == 0);
        CHECK(e2->created_at == ev->created_at && e2->kind == ev->kind);
        CHECK(e2->content_len == ev->content_len &&
              memcmp(e2->content, ev->content, ev->content_len) == 0);
        CHECK(json_equal(e2->tags, ev->tags));
        struct buf c;
        buf_init(&c, NOSTR_MAX_SERIALIZED);
        CHECK(nostr_event_serialize(e2, &c) == E_OK);
        CHECK(c.len == a.len && memcmp(c.p, a.p, a.len) == 0);
        buf_deinit(&c);
        uint8_t id1[32], id2[32];
        CHECK(nostr_event_hash(ev, id1) == E_OK && nostr_event_hash(e2, id2) == E_OK);
        CHECK(memcmp(id1, id2, 32) == 0);
    }
    nostr_msg_deinit(&m2);

    /* The client message we would send is valid JSON: ["EVENT",{...}]. */
    buf_reset(&b);
    CHECK(nostr_msg_event(&b, ev) == E_OK);
    json_error_t jerr;
    json_t *j = json_loadb(b.p, b.len, JSON_ALLOW_NUL, &jerr);
    CHECK(json_is_array(j) && json_array_size(j) == 2);
    json_decref(j);
    /* Verification never crashes, whatever it says. */
    (void)nostr_event_verify(ev);
    buf_deinit(&a);
    buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nostr_msg m;
    int rc = nostr_msg_parse(&m, (const char *)data, size);
    CHECK(rc == E_OK || rc == E_PROTO || rc == E_LIMIT);
    if (rc != E_OK) {
        CHECK(m.text == NULL && m.ev.tags == NULL && m.ev.content == NULL);
        nostr_msg_deinit(&m);
        return 0;
    }
    switch (m.type) {
    case NOSTR_MSG_EVENT:
        CHECK(strlen(m.sub) >= 1 && strlen(m.sub) <= NOSTR_MAX_SUB_ID);
        check_event(&m.ev);
        break;
    case NOSTR_MSG_EOSE:
        CHECK(strlen(m.sub) >= 1 && strlen(m.sub) <= NOSTR_MAX_SUB_ID);
        break;
    case NOSTR_MSG_CLOSED:
        CHECK(strlen(m.sub) >= 1 && strlen(m.sub) <= NOSTR_MAX_SUB_ID);
        /* fall through */
    case NOSTR_MSG_OK:
    case NOSTR_MSG_NOTICE:
    case NOSTR_MSG_OTHER:
        CHECK(m.text != NULL && strlen(m.text) <= NOSTR_MAX_TEXT);
        break;
    default:
        CHECK(0);
    }
    nostr_msg_deinit(&m);
    return 0;
}
