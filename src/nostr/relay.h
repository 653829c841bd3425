/* relay.h -- one Nostr relay: a websocket that comes back after it breaks.
 *
 * A relay connects on nostr_relay_start() and, whenever its connection fails or ends, tries
 * again after an exponential backoff: backoff_min_ms doubled per failure in a row up to
 * backoff_max_ms, then ±20 % jitter (spec/routstr-api.md §7.1: 5 s ... 900 s), so a fleet of
 * nodes does not reconnect in step. A connection that stayed up for stable_ms resets the
 * count. Messages arrive parsed (msg.h); a relay that sends more than max_bad malformed ones,
 * or more than max_rate messages in one second, on one connection is dropped and retried like
 * any other failure, so a misbehaving relay costs bounded work.
 *
 * Callbacks run on the loop thread. on_open: the connection is up (send your REQs now);
 * on_msg: one message (borrowed for the call); on_down: it ended or never came up, and the next
 * attempt is scheduled in retry_ms. A callback may send, but must not free the relay. */
#ifndef ROUTSTR_NOSTR_RELAY_H
#define ROUTSTR_NOSTR_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nostr/msg.h"
#include "nostr/ws.h"

struct nostr_relay;

struct nostr_relay_opts {
    const char *url;      /* copied */
    const char *proxy;    /* copied; NULL or "" for none */
    long backoff_min_ms;
    long backoff_max_ms;
    long stable_ms;
    long timeout_ms;      /* connect + TLS + upgrade */
    long ping_ms;
    size_t max_frame;     /* largest message accepted */
    unsigned max_bad;
    unsigned max_rate;
};

struct nostr_relay_cbs {
    void (*on_open)(struct nostr_relay *r, void *ud);
    void (*on_msg)(struct nostr_relay *r, const struct nostr_msg *m, void *ud);
    void (*on_down)(struct nostr_relay *r, int status, const char *why, long retry_ms, void *ud);
};

/* The delay before the next attempt after 'failures' failures in a row (0 for the first),
 * with 'rnd' a uniform 32-bit random number for the jitter: min * 2^failures, capped at max,
 * times a factor in [0.8, 1.2]. */
long nostr_backoff_ms(long min_ms, long max_ms, unsigned failures, uint32_t rnd);

/* Returns the relay, idle until nostr_relay_start(); NULL with 'err' filled if the URL or proxy
 * is malformed. */
struct nostr_relay *nostr_relay_new(const struct nostr_net *net, const struct nostr_relay_opts *o,
                                    const struct nostr_relay_cbs *cbs, void *ud,
                                    char err[ERR_LEN]);
void nostr_relay_start(struct nostr_relay *r);
/* Sends one text message. Returns 0, E_AGAIN (not connected), E_LIMIT (output full), E_IO. */
int nostr_relay_send(struct nostr_relay *r, const char *p, size_t len);
bool nostr_relay_is_open(const struct nostr_relay *r);
const char *nostr_relay_url(const struct nostr_relay *r);
/* Connection attempts since start. */
unsigned nostr_relay_attempts(const struct nostr_relay *r);
/* Closes the connection (no callback) and frees. Not from inside the relay's callbacks. */
void nostr_relay_free(struct nostr_relay *r);

#endif
