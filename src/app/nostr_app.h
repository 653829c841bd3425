/* nostr_app.h -- the node on Nostr: its identity, its kind-38421 announcement, and the
 * directory of other providers behind GET /v1/providers/ (spec/routstr-api.md §7,
 * clients.md §1.2 and §1.4).
 *
 * Started once after the store is open and before the server serves; freed before the HTTP
 * client and the event loop (probes of /v1/providers/?include_json=true are HTTP transfers).
 *
 * Settings read here, beyond struct config: NOSTR_BACKOFF_MIN_MS and NOSTR_BACKOFF_MAX_MS
 * (the reconnect backoff, default 5000 and 900000; tests shorten them) and NOSTR_CA_FILE (a PEM
 * file of roots trusted for wss:// relays instead of the system's), from the environment. */
#ifndef ROUTSTR_APP_NOSTR_APP_H
#define ROUTSTR_APP_NOSTR_APP_H

#include "base/err.h"

struct app;
struct app_req;
struct nostr_app;

/* The node's key: NSEC (nsec1... or hex) when set, else the secret "nostr_nsec" from the store,
 * created at first start and sealed with the secrets key. Then connects to RELAYS, subscribes
 * to kind 38421, and announces the node when HTTP_URL or ONION_URL gives a public URL. Returns 0,
 * or E_PROTO/E_IO with 'err' filled (a malformed NSEC, a secret that does not open): the node
 * should not start then. */
int nostr_app_start(struct nostr_app **out, struct app *a, char err[ERR_LEN]);
/* Closes relay connections and aborts health probes (their requests are not answered). */
void nostr_app_free(struct nostr_app *n);

/* The node's npub (bech32), for /v1/info. */
const char *nostr_app_npub(const struct nostr_app *n);

/* The settings the announcement depends on (HTTP_URL, ONION_URL, CASHU_MINTS, NAME,
 * DESCRIPTION) changed in a->cfg: rebuild it and republish where a relay holds an outdated one.
 * A restart with changed settings needs nothing: the comparison with what relays hold runs at
 * every start. */
void nostr_app_settings_changed(struct nostr_app *n);
/* RELAYS changed in a->cfg: the connections are closed and made again to the new list. */
void nostr_app_relays_changed(struct nostr_app *n);

/* GET /v1/providers/[?include_json=true][&pubkey=<hex>]: {"providers":[provider, ...]} from the
 * directory, newest first, one per endpoint URL, at most 42 (the reference's cap). With
 * include_json=true each item becomes {"provider":{...},"health":{"status_code","endpoint",
 * "json"}} as in the reference: GET <endpoint_url>/v1/info is probed for at most 16 providers
 * (5 s each, in parallel, answers over 64 KiB refused; a result is reused for 60 s); a 200 JSON
 * answer gives endpoint "info" and its JSON, anything else endpoint "error" and
 * {"error": why}; providers past the cap get endpoint "skipped" and status_code null.
 * GET /v1/providers (no slash) answers 307 to /v1/providers/ with the query kept.
 * 'n' may be NULL (Nostr off): 404 {"detail":"Provider discovery is disabled"}. */
void nostr_app_providers(struct nostr_app *n, struct app_req *r);

#endif
