/* msg.h -- the NIP-01 messages between a client and a relay, as JSON arrays.
 *
 * Relay to client (parsed here): ["EVENT",sub,event], ["OK",id,bool,message], ["EOSE",sub],
 * ["CLOSED",sub,message], ["NOTICE",message]; ["AUTH",challenge] (NIP-42) and any other
 * well-formed array whose first element is a string come back as NOSTR_MSG_OTHER, so a newer
 * relay does not look broken. Client to relay (built here): ["REQ",sub,filter],
 * ["EVENT",event], ["CLOSE",sub].
 *
 * Everything is bounded: a frame over NOSTR_MAX_FRAME is refused before parsing, events obey the
 * caps of event.h, subscription ids are 1..64 characters (NIP-01), and human-readable messages
 * are cut to NOSTR_MAX_TEXT bytes. A relay's message is never trusted: shapes are checked and
 * bad input gives E_PROTO, signatures are left to nostr_event_verify(). */
#ifndef ROUTSTR_NOSTR_MSG_H
#define ROUTSTR_NOSTR_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "nostr/event.h"

#define NOSTR_MAX_FRAME (256 * 1024)
#define NOSTR_MAX_SUB_ID 64
#define NOSTR_MAX_TEXT 1024

enum nostr_msg_type {
    NOSTR_MSG_EVENT = 1,
    NOSTR_MSG_OK,
    NOSTR_MSG_EOSE,
    NOSTR_MSG_CLOSED,
    NOSTR_MSG_NOTICE,
    NOSTR_MSG_OTHER, /* AUTH, COUNT, or a kind of message we do not know */
};

struct nostr_msg {
    enum nostr_msg_type type;
    char sub[NOSTR_MAX_SUB_ID + 1]; /* EVENT, EOSE, CLOSED */
    struct nostr_event ev;          /* EVENT */
    uint8_t id[32];                 /* OK */
    bool ok;                        /* OK */
    char *text;                     /* OK, CLOSED, NOTICE: owned, at most NOSTR_MAX_TEXT bytes;
                                       OTHER: the message's name */
};

/* Parses one relay message of len bytes into 'm' (initialised by the call). Returns 0,
 * E_PROTO (not JSON, wrong shape) or E_LIMIT (over a cap). On error 'm' holds nothing, and
 * nostr_msg_deinit() is still safe. */
int nostr_msg_parse(struct nostr_msg *m, const char *p, size_t len);
void nostr_msg_deinit(struct nostr_msg *m);

/* True if 'sub' is a subscription id we may send: 1..64 printable ASCII characters, none of
 * them a quote or a backslash. */
bool nostr_sub_id_valid(const char *sub);

/* Append a client message to 'out'. Return 0, E_PROTO (a bad subscription id, a filter that
 * is not an object) or E_LIMIT (out's cap). */
int nostr_msg_req(struct buf *out, const char *sub, const json_t *filter);
int nostr_msg_close(struct buf *out, const char *sub);
int nostr_msg_event(struct buf *out, const struct nostr_event *ev);

/* Copies a peer's text for a log line: at most max bytes, control characters and quotes
 * replaced by '?', always NUL-terminated (out has max + 1 bytes). */
void nostr_log_text(char *out, size_t max, const char *s);

#endif
