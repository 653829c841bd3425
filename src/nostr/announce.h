/* announce.h -- the Routstr provider announcement, kind 38421 (clients.md §1.4, RIP-02), and
 * the directory of announcements seen on relays.
 *
 * The event a node publishes:
 *   tags    ["d",<provider id>], ["u",<base URL>]..., ["mint",<mint URL>]..., ["version",<v>]
 *   content {"name":<NAME>,"about":<DESCRIPTION>}
 * Two announcements are "semantically equal" (routstr-core's rule) when they have the same
 * kind, the same first 'd', the same set of 'u', the same set of 'mint', the same first
 * 'version' and contents that parse to equal JSON (unparseable content counts as {}); the
 * timestamp, signature and tag order do not matter. A node republishes only when a relay holds
 * no equal one.
 *
 * The directory keeps, for each (pubkey, d), the newest announcement whose signature verified
 * (NIP-01 replaceable semantics: newer created_at wins, a tie goes to the lower id), refuses
 * events more than NOSTR_MAX_FUTURE_S in the future, and lists them in the reference
 * /v1/providers/ shape. It holds at most 'cap' entries; when full, a newcomer replaces the
 * oldest entry if it is newer. */
#ifndef ROUTSTR_NOSTR_ANNOUNCE_H
#define ROUTSTR_NOSTR_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nostr/event.h"

#define NOSTR_KIND_PROVIDER 38421
#define NOSTR_MAX_FUTURE_S (15 * 60)
/* An announcement is small: the directory refuses bigger ones, so its memory stays bounded
 * (cap x this) whatever relays send. */
#define NOSTR_ANN_MAX_TAGS 64
#define NOSTR_ANN_MAX_BYTES 8192 /* content plus every tag string */

/* What goes into our announcement. Strings are borrowed. */
struct nostr_ann {
    const char *d;
    const char *const *urls; /* normalised with nostr_ann_url() */
    size_t n_urls;
    const char *const *mints;
    size_t n_mints;
    const char *version;
    const char *name;
    const char *about;
};

/* Normalises a public URL for a 'u' tag into a new string: spaces trimmed, a bare "x.onion"
 * becomes "http://x.onion", trailing '/' and a trailing "/v1" removed (clients append
 * "v1/..."). Returns 0, E_NOTFOUND for an empty or local URL (localhost, *.localhost,
 * 127.0.0.1, [::1], 0.0.0.0: never announced), or E_PROTO if it is not http(s). */
int nostr_ann_url(char **out, const char *url);
/* True if the URL's host is one of the local names above. */
bool nostr_url_is_local(const char *url);

/* Fills an unsigned kind-38421 event (initialised by the call) at 'created_at'. Returns 0,
 * E_PROTO (a string is not UTF-8) or E_LIMIT (a cap). */
int nostr_ann_build(struct nostr_event *ev, const struct nostr_ann *a, int64_t created_at);
bool nostr_ann_equal(const struct nostr_event *a, const struct nostr_event *b);

/* The provider object of an announcement: {id, pubkey, created_at, kind, endpoint_url,
 * endpoint_urls, name, description, mint_urls, version, content}, or NULL if it is not a usable
 * provider (no 'd', or no http(s) 'u' that is not local). */
json_t *nostr_ann_provider(const struct nostr_event *ev);

struct nostr_dir;
struct nostr_dir *nostr_dir_new(size_t cap);
void nostr_dir_free(struct nostr_dir *d);
/* Offers an event seen on a relay at time 'now' (unix seconds). Verifies the signature only
 * when the event would replace or add an entry. Returns 1 if stored, 0 if not newer than what
 * is held (or the directory is full of newer ones), E_PROTO if it is not a valid provider
 * announcement (wrong kind, no 'd', forged or bad signature), E_LIMIT if too far in the future
 * or over NOSTR_ANN_MAX_TAGS / NOSTR_ANN_MAX_BYTES. */
int nostr_dir_put(struct nostr_dir *d, const struct nostr_event *ev, int64_t now);
size_t nostr_dir_size(const struct nostr_dir *d);
/* The providers, newest first, one per endpoint_url (the newest), at most 'max', only those of
 * 'pubkey' (64 hex) when not NULL. A new array. */
json_t *nostr_dir_list(const struct nostr_dir *d, const char *pubkey, size_t max);

#endif
