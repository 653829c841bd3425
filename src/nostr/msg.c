/* msg.c -- parsing relay messages and building client messages (NIP-01).
 *
 * A frame is size-checked, parsed by jansson (JSON_ALLOW_NUL: a NUL escaped inside content is
 * legal JSON, and the event id covers it), then matched against the shape of its message type
 * element by element: extra trailing elements are refused, as nostr-tools' relay code would
 * misread them too. Subscription ids are copied into a fixed buffer and messages into a capped
 * heap string, so nothing in 'struct nostr_msg' points into the parsed DOM, which is released
 * before returning. */
#include "nostr/msg.h"

#include <string.h>

#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"

static int copy_sub(char out[NOSTR_MAX_SUB_ID + 1], const json_t *v)
{
    if (!json_is_string(v))
        return E_PROTO;
    size_t n = json_string_length(v);
    /* Relays echo our ids; anything else (empty, too long, NUL inside) is not ours. */
    if (n == 0 || n > NOSTR_MAX_SUB_ID || strlen(json_string_value(v)) != n)
        return E_PROTO;
    memcpy(out, json_string_value(v), n + 1);
    return E_OK;
}

static char *copy_text(const json_t *v)
{
    size_t n = json_string_length(v);
    if (n > NOSTR_MAX_TEXT)
        n = NOSTR_MAX_TEXT;
    return xstrndup(json_string_value(v), n);
}

static int parse_array(struct nostr_msg *m, const json_t *a)
{
    size_t n = json_array_size(a);
    const char *type = json_string_value(json_array_get(a, 0));
    json_t *a1 = json_array_get(a, 1), *a2 = json_array_get(a, 2), *a3 = json_array_get(a, 3);
    int rc;
    if (type == NULL)
        return E_PROTO;
    if (strcmp(type, "EVENT") == 0) {
        if (n != 3 || (rc = copy_sub(m->sub, a1)) != E_OK)
            return E_PROTO;
        rc = nostr_event_from_json(&m->ev, a2);
        if (rc != E_OK)
            return rc;
        m->type = NOSTR_MSG_EVENT;
        return E_OK;
    }
    if (strcmp(type, "OK") == 0) {
        /* The message is required by NIP-01; some relays omit it, which costs nothing. */
        if ((n != 3 && n != 4) || !json_is_string(a1) || json_string_length(a1) != 64 ||
            !json_is_boolean(a2) || (n == 4 && !json_is_string(a3)))
            return E_PROTO;
        const char *h = json_string_value(a1);
        for (size_t i = 0; i < 64; i++)
            if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
                return E_PROTO;
        if (hex_decode(m->id, 32, h, 64) != 0)
            return E_PROTO;
        m->ok = json_is_true(a2);
        m->text = n == 4 ? copy_text(a3) : xstrdup("");
        m->type = NOSTR_MSG_OK;
        return E_OK;
    }
    if (strcmp(type, "EOSE") == 0) {
        if (n != 2 || copy_sub(m->sub, a1) != E_OK)
            return E_PROTO;
        m->type = NOSTR_MSG_EOSE;
        return E_OK;
    }
    if (strcmp(type, "CLOSED") == 0) {
        if ((n != 2 && n != 3) || copy_sub(m->sub, a1) != E_OK || (n == 3 && !json_is_string(a2)))
            return E_PROTO;
        m->text = n == 3 ? copy_text(a2) : xstrdup("");
        m->type = NOSTR_MSG_CLOSED;
        return E_OK;
    }
    if (strcmp(type, "NOTICE") == 0) {
        if (n != 2 || !json_is_string(a1))
            return E_PROTO;
        m->text = copy_text(a1);
        m->type = NOSTR_MSG_NOTICE;
        return E_OK;
    }
    m->text = xstrndup(type, strnlen(type, 16));
    m->type = NOSTR_MSG_OTHER;
    return E_OK;
}

int nostr_msg_parse(struct nostr_msg *m, const char *p, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len > NOSTR_MAX_FRAME)
        return E_LIMIT;
    json_error_t jerr;
    json_t *a = json_loadb(p, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_array(a) || json_array_size(a) == 0) {
        json_decref(a);
        return E_PROTO;
    }
    int rc = parse_array(m, a);
    json_decref(a);
    if (rc != E_OK) {
        nostr_msg_deinit(m);
        memset(m, 0, sizeof *m);
    }
    return rc;
}

void nostr_msg_deinit(struct nostr_msg *m)
{
    if (m->type == NOSTR_MSG_EVENT || m->ev.tags)
        nostr_event_deinit(&m->ev);
    free(m->text);
    m->text = NULL;
    m->type = 0;
}

bool nostr_sub_id_valid(const char *sub)
{
    size_t n = strlen(sub);
    if (n == 0 || n > NOSTR_MAX_SUB_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (sub[i] < 0x21 || sub[i] > 0x7e || sub[i] == '"' || sub[i] == '\\')
            return false;
    return true;
}

int nostr_msg_req(struct buf *out, const char *sub, const json_t *filter)
{
    if (!nostr_sub_id_valid(sub) || !json_is_object(filter))
        return E_PROTO;
    char *f = json_dumps(filter, JSON_COMPACT);
    if (f == NULL)
        return E_PROTO;
    int rc = buf_printf(out, "[\"REQ\",\"%s\",%s]", sub, f);
    free(f);
    return rc == E_OK ? E_OK : E_LIMIT;
}

int nostr_msg_close(struct buf *out, const char *sub)
{
    if (!nostr_sub_id_valid(sub))
        return E_PROTO;
    return buf_printf(out, "[\"CLOSE\",\"%s\"]", sub) == E_OK ? E_OK : E_LIMIT;
}

int nostr_msg_event(struct buf *out, const struct nostr_event *ev)
{
    if (buf_appends(out, "[\"EVENT\",") != E_OK || nostr_event_write_json(ev, out) != E_OK ||
        buf_append(out, "]", 1) != E_OK)
        return E_LIMIT;
    return E_OK;
}

void nostr_log_text(char *out, size_t max, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
    }
    out[i] = '\0';
}
