/* paid.h -- the paid path of a proxied request: price, pay, meter, settle (DESIGN.md steps 1-6).
 *
 * paid_handle() takes a /v1 request that is not free: it reads the JSON body (model, stream,
 * max_tokens), computes the reservation, finds the payer (auth.c), reserves in one conditional
 * update, and hands the request to the proxy with its 'struct paid'. The proxy then reports the
 * answer through the calls below; paid settles exactly once, whatever happens: metered cost
 * when usage came back, an estimate capped at the reservation when the answer was cut or had no
 * usage, nothing (release) when the upstream failed or the client left before any answer. */
#ifndef ROUTSTR_APP_PAID_H
#define ROUTSTR_APP_PAID_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "http/sse.h"

struct app_req;
struct paid;

/* How the proxy relays an answer's body. */
enum paid_relay {
    RELAY_PASS,   /* bytes as they come (errors, binary answers) */
    RELAY_BUFFER, /* collect the whole JSON answer; paid rewrites it with the cost */
    RELAY_SSE,    /* event by event; paid holds the usage chunk and appends it with the cost */
    RELAY_SSE_HELD, /* as RELAY_SSE, but the whole stream is held until the end (X-Cashu: the
                       change goes in a header, as existing clients expect) */
};

enum paid_end {
    PAID_COMPLETE, /* the upstream finished its answer */
    PAID_BROKEN,   /* the upstream failed after its answer began */
    PAID_GONE,     /* the client left after the answer began */
    PAID_NO_ANSWER /* the upstream failed, or the client left, before any answer */
};

void paid_handle(struct app_req *r, const char *rest);
/* Paid by an X-Cashu token: failures before an answer are answered by paid (with a refund). */
bool paid_is_xcashu(const struct paid *pd);

enum paid_relay paid_on_headers(struct paid *pd, long status, const char *content_type);
/* RELAY_SSE: appends to 'out' what the client gets for one upstream event. */
void paid_on_event(struct paid *pd, const struct sse_event *ev, struct evbuffer *out);
/* RELAY_PASS: bytes relayed (for estimates). */
void paid_on_bytes(struct paid *pd, size_t n);

/* What the client gets after settlement: RELAY_BUFFER: the rewritten body (and cost headers are
 * added to the reply); RELAY_SSE(_HELD): the final usage chunk and [DONE]. NULL 'out' when
 * nothing. For X-Cashu the change token is added (header, or a last SSE event when live). */
typedef void paid_done_fn(void *ud, struct evbuffer *out);
/* Ends the paid request: settles (asynchronously), then calls 'cb' (if non-NULL: the client is
 * still there) and frees 'pd'. 'body' is the buffered answer for RELAY_BUFFER. */
void paid_on_end(struct paid *pd, enum paid_end how, const char *body, size_t len,
                 paid_done_fn *cb, void *ud);

/* proxy.c: forwards a request whose payment is reserved; 'body' replaces the client's body
 * when non-NULL (the forced stream_options.include_usage). Takes ownership of 'pd'. */
void proxy_forward(struct app_req *r, const char *rest, char *body, size_t body_len,
                   struct paid *pd);

/* Speculative forwarding: starts the upstream request of 'r' before its payment is settled,
 * behind a gate. Until the gate is opened or failed, no byte of the answer reaches the client
 * (status, headers and body are held: the transfer is paused at its first body byte) and a
 * client that leaves aborts the transfer. Takes ownership of 'body' (may be NULL). Returns the
 * gate, or NULL (nothing started, nothing replied) if the transfer could not start. */
struct proxy_req;
struct proxy_req *proxy_forward_gated(struct app_req *r, const char *rest, char *body,
                                      size_t body_len);
/* The payment is reserved: the proxy takes 'pd' and relays the answer as proxy_forward does. */
void proxy_gate_open(struct proxy_req *g, struct paid *pd);
/* The payment failed: the transfer is aborted and the gate freed; the caller answers. */
void proxy_gate_fail(struct proxy_req *g);

#endif
