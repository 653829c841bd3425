/* nostr_app.c -- the node's Nostr identity, announcement and provider directory.
 *
 * Each relay of RELAYS is a 'struct slot' around a nostr_relay that reconnects by itself. On
 * every connection we send two REQs: our own kind-38421 events ("routstr-own", closed at its
 * EOSE) and everyone's ("routstr-providers", kept open, so new announcements stream in). Events
 * of the second go to the directory, which verifies signatures and keeps the newest per
 * (pubkey, d); /v1/providers/ lists it.
 *
 * Announcing (only with a public URL): the 'd' tag is PROVIDER_ID, else the 'd' of our newest
 * own event on the relays, else the first 12 hex digits of our pubkey. Without PROVIDER_ID the
 * choice waits until every relay has answered the own-events REQ or failed once, or
 * DECIDE_WAIT_MS has passed with at least one answer, so a slow relay cannot make us invent a
 * new id. Then, relay by relay, once its own events are in: if its newest own event with our
 * 'd' is semantically equal to ours (announce.h), nothing is sent; otherwise our event goes out.
 * That runs again on every reconnect, every 24 hours, and when nostr_app_settings_changed() is
 * called; a restart with a changed HTTP_URL finds the relays' copy outdated and republishes.
 * Our event's created_at is past every own event we saw, so relays replace rather than ignore.
 *
 * Health probes (include_json=true) run as HTTP transfers owned by a batch tied to the request;
 * the request going away aborts them, and nothing outlives nostr_app_free(). */
#include "app/nostr_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "app/app.h"
#include "app/secrets.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "crypto/crypto.h"
#include "http/client.h"
#include "nostr/announce.h"
#include "nostr/bech32.h"
#include "nostr/relay.h"

#define MAX_RELAYS 16
#define OWN_MAX 10                 /* own events kept per relay, as the REQ's limit */
#define OWN_WAIT_MS 10000          /* an own-events REQ unanswered this long counts as empty */
#define DECIDE_WAIT_MS 10000
#define RECHECK_MS (24L * 3600 * 1000)
#define DIR_CAP 1000
#define LIST_MAX 42
#define PROBE_MAX 16
#define PROBE_CONNECT_MS 3000
#define PROBE_TIMEOUT_MS 5000
#define PROBE_MAX_BYTES (64 * 1024)
#define HEALTH_TTL_MS 60000
#define HEALTH_CACHE 64
#define SUB_OWN "routstr-own"
#define SUB_DISC "routstr-providers"

struct slot {
    struct nostr_app *n;
    struct nostr_relay *r;
    struct event *own_timer;
    struct nostr_event own[OWN_MAX];
    size_t n_own;
    bool own_done;   /* our own events on this connection are all in */
    bool failed;     /* a connection failed or ended since start (counts for choosing 'd') */
    bool checked;    /* our announcement was compared (and sent if needed) on this connection */
};

struct health {
    char *url;
    json_t *json;
    int64_t at_ms;
};

struct probe_batch;

struct nostr_app {
    struct app *app;
    struct nostr_key key;
    char pubhex[65];
    char npub[NOSTR_NPUB_LEN + 1];
    struct nostr_net net;
    struct nostr_relay_opts ro;  /* every relay's options (ro.url aside) */
    struct slot *slots;
    size_t n_slots;
    struct nostr_dir *dir;
    /* the announcement */
    char **urls, **mints;
    size_t n_urls, n_mints;
    char *d;                   /* chosen 'd', NULL until then */
    bool decide_late;          /* DECIDE_WAIT_MS passed */
    struct nostr_event ann;
    bool have_ann;
    int64_t newest_own;        /* created_at of the newest own event seen anywhere */
    struct event *decide_timer, *recheck_timer;
    /* /v1/providers/?include_json=true */
    struct probe_batch *batches;
    struct health cache[HEALTH_CACHE];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long env_ms(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    int64_t n;
    if (v == NULL || *v == '\0')
        return def;
    if (str_parse_i64(v, min, max, &n) != E_OK) {
        log_warn("nostr: ignoring %s=%.32s (want %ld..%ld)", name, v, min, max);
        return def;
    }
    return (long)n;
}

/* Splits a comma-separated list into trimmed, non-empty, new strings. */
static size_t split_list(const char *s, char ***out)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    for (const char *p = s ? s : ""; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        struct str item = str_trim((struct str){p, len});
        if (item.len) {
            if (n == cap)
                v = xrealloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v);
            v[n++] = xstrndup(item.p, item.len);
        }
        p += len + (comma ? 1 : 0);
    }
    *out = v;
    return n;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ------------------------------------------------------------------- the announcement */

static void drop_ann(struct nostr_app *n)
{
    if (n->have_ann)
        nostr_event_deinit(&n->ann);
    n->have_ann = false;
}

/* Public URLs and mints from the configuration. */
static void load_settings(struct nostr_app *n)
{
    const struct config *c = &n->app->cfg;
    free_list(n->urls, n->n_urls);
    free_list(n->mints, n->n_mints);
    n->urls = xcalloc(2, sizeof *n->urls);
    n->n_urls = 0;
    const char *candidates[2] = {c->http_url, c->onion_url};
    const char *names[2] = {"HTTP_URL", "ONION_URL"};
    for (int i = 0; i < 2; i++) {
        char *u = NULL;
        int rc = nostr_ann_url(&u, candidates[i] ? candidates[i] : "");
        if (rc == E_OK)
            n->urls[n->n_urls++] = u;
        else if (rc == E_PROTO)
            log_warn("nostr: %s is not an http(s) URL; not announced", names[i]);
        else if (candidates[i] && *candidates[i])
            log_info("nostr: %s is a local address; not announced", names[i]);
    }
    n->n_mints = split_list(c->cashu_mints, &n->mints);
    drop_ann(n);
}

static int ensure_ann(struct nostr_app *n)
{
    if (n->have_ann)
        return E_OK;
    const struct config *c = &n->app->cfg;
    struct nostr_ann a = {
        .d = n->d,
        .urls = (const char *const *)n->urls,
        .n_urls = n->n_urls,
        .mints = (const char *const *)n->mints,
        .n_mints = n->n_mints,
        .version = ROUTSTR_VERSION,
        .name = c->name,
        .about = c->description,
    };
    int64_t now = (int64_t)time(NULL);
    int rc = nostr_ann_build(&n->ann, &a, now > n->newest_own ? now : n->newest_own + 1);
    if (rc == E_OK)
        rc = nostr_event_sign(&n->ann, &n->key);
    if (rc != E_OK) {
        nostr_event_deinit(&n->ann);
        log_error("nostr: cannot build the announcement (%s)", err_name(rc));
        return rc;
    }
    n->have_ann = true;
    return E_OK;
}

static bool announcing(const struct nostr_app *n)
{
    return n->n_urls > 0;
}

/* Our newest own event with our 'd' on this relay, or NULL. */
static const struct nostr_event *own_current(const struct slot *s)
{
    const struct nostr_event *best = NULL;
    size_t dlen = strlen(s->n->d);
    for (size_t i = 0; i < s->n_own; i++) {
        size_t len = 0;
        const char *d = nostr_event_tag(&s->own[i], "d", &len);
        if (d && len == dlen && memcmp(d, s->n->d, dlen) == 0 &&
            (best == NULL || s->own[i].created_at > best->created_at))
            best = &s->own[i];
    }
    return best;
}

static void maybe_publish(struct slot *s)
{
    struct nostr_app *n = s->n;
    if (!announcing(n) || n->d == NULL || !s->own_done || s->checked ||
        !nostr_relay_is_open(s->r))
        return;
    if (ensure_ann(n) != E_OK)
        return;
    s->checked = true;
    const struct nostr_event *cur = own_current(s);
    if (cur && nostr_ann_equal(cur, &n->ann)) {
        log_debug("nostr: announcement up to date on %s", nostr_relay_url(s->r));
        return;
    }
    if (cur && cur->created_at >= n->ann.created_at) {
        /* This relay holds a newer one of ours than we knew of: ours must be newer still, or
         * the relay keeps its copy (NIP-01 addressable events). */
        drop_ann(n);
        if (ensure_ann(n) != E_OK)
            return;
    }
    struct buf b;
    buf_init(&b, NOSTR_MAX_FRAME);
    int rc = nostr_msg_event(&b, &n->ann);
    if (rc == E_OK)
        rc = nostr_relay_send(s->r, b.p, b.len);
    char id[65];
    hex_encode(id, n->ann.id, 32);
    if (rc == E_OK)
        log_info("nostr: announcement %.16s... sent to %s", id, nostr_relay_url(s->r));
    else
        log_warn("nostr: cannot send the announcement to %s (%s)", nostr_relay_url(s->r),
                 err_name(rc));
    buf_deinit(&b);
}

static void maybe_decide(struct nostr_app *n)
{
    if (!announcing(n) || n->d != NULL)
        return;
    size_t answered = 0, settled = 0;
    for (size_t i = 0; i < n->n_slots; i++) {
        answered += n->slots[i].own_done;
        settled += n->slots[i].own_done || n->slots[i].failed;
    }
    if (answered == 0 || (settled < n->n_slots && !n->decide_late))
        return;
    const struct nostr_event *newest = NULL;
    for (size_t i = 0; i < n->n_slots; i++)
        for (size_t j = 0; j < n->slots[i].n_own; j++) {
            const struct nostr_event *e = &n->slots[i].own[j];
            if (nostr_event_tag(e, "d", NULL) &&
                (newest == NULL || e->created_at > newest->created_at))
                newest = e;
        }
    size_t len = 0;
    const char *d = newest ? nostr_event_tag(newest, "d", &len) : NULL;
    if (d && len > 0 && strlen(d) == len) {
        n->d = xstrndup(d, len);
        log_info("nostr: announcing as d=\"%s\" (from our newest announcement on the relays)",
                 n->d);
    } else {
        n->d = xstrndup(n->pubhex, 12);
        log_info("nostr: announcing as d=\"%s\" (new provider id)", n->d);
    }
    event_del(n->decide_timer);
    for (size_t i = 0; i < n->n_slots; i++)
        maybe_publish(&n->slots[i]);
}

static void decide_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct nostr_app *n = arg;
    n->decide_late = true;
    maybe_decide(n);
}

/* ------------------------------------------------------------------------- per relay */

static void send_req(struct slot *s, const char *sub, json_t *filter)
{
    struct buf b;
    buf_init(&b, 4096);
    if (nostr_msg_req(&b, sub, filter) == E_OK)
        (void)nostr_relay_send(s->r, b.p, b.len);
    buf_deinit(&b);
    json_decref(filter);
}

static void clear_own(struct slot *s)
{
    for (size_t i = 0; i < s->n_own; i++)
        nostr_event_deinit(&s->own[i]);
    s->n_own = 0;
    s->own_done = false;
    s->checked = false;
}

/* Sends our REQs on a fresh connection (or for the daily re-check). */
static void subscribe(struct slot *s)
{
    struct nostr_app *n = s->n;
    clear_own(s);
    if (announcing(n)) {
        send_req(s, SUB_OWN, json_pack("{s:[i], s:[s], s:i}", "kinds", NOSTR_KIND_PROVIDER,
                                       "authors", n->pubhex, "limit", OWN_MAX));
        struct timeval tv = {OWN_WAIT_MS / 1000, (OWN_WAIT_MS % 1000) * 1000};
        evtimer_add(s->own_timer, &tv);
    }
    send_req(s, SUB_DISC, json_pack("{s:[i], s:i}", "kinds", NOSTR_KIND_PROVIDER, "limit", 100));
}

static void own_done(struct slot *s)
{
    if (s->own_done)
        return;
    s->own_done = true;
    evtimer_del(s->own_timer);
    struct buf b;
    buf_init(&b, 256);
    if (nostr_msg_close(&b, SUB_OWN) == E_OK)
        (void)nostr_relay_send(s->r, b.p, b.len);
    buf_deinit(&b);
    if (s->n->d == NULL)
        maybe_decide(s->n);
    else
        maybe_publish(s);
}

static void own_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;
    log_info("nostr: %s did not finish listing our events in %d s; going on without",
             nostr_relay_url(s->r), OWN_WAIT_MS / 1000);
    own_done(s);
}

static void on_own_event(struct slot *s, const struct nostr_event *ev)
{
    struct nostr_app *n = s->n;
    if (ev->kind != NOSTR_KIND_PROVIDER || memcmp(ev->pubkey, n->key.pub, 32) != 0 ||
        nostr_event_verify(ev) != E_OK)
        return; /* not ours, or a relay making things up */
    if (ev->created_at > n->newest_own)
        n->newest_own = ev->created_at;
    size_t at = s->n_own;
    if (at == OWN_MAX) { /* keep the newest OWN_MAX */
        at = 0;
        for (size_t i = 1; i < OWN_MAX; i++)
            if (s->own[i].created_at < s->own[at].created_at)
                at = i;
        if (s->own[at].created_at >= ev->created_at)
            return;
        nostr_event_deinit(&s->own[at]);
    } else {
        s->n_own++;
    }
    nostr_event_copy(&s->own[at], ev);
}

static void on_open(struct nostr_relay *r, void *ud)
{
    subscribe(ud);
}

static void on_msg(struct nostr_relay *r, const struct nostr_msg *m, void *ud)
{
    struct slot *s = ud;
    struct nostr_app *n = s->n;
    char text[200];
    switch (m->type) {
    case NOSTR_MSG_EVENT:
        if (strcmp(m->sub, SUB_OWN) == 0) {
            on_own_event(s, &m->ev);
        } else if (strcmp(m->sub, SUB_DISC) == 0) {
            int rc = nostr_dir_put(n->dir, &m->ev, (int64_t)time(NULL));
            if (rc < 0) {
                char id[65];
                hex_encode(id, m->ev.id, 32);
                log_debug("nostr: %s: dropped event %.16s... (%s)", nostr_relay_url(r), id,
                          rc == E_LIMIT ? "in the future, or too big"
                                          : "not a valid signed announcement");
            }
        }
        break;
    case NOSTR_MSG_EOSE:
        if (strcmp(m->sub, SUB_OWN) == 0)
            own_done(s);
        break;
    case NOSTR_MSG_OK:
        if (n->have_ann && memcmp(m->id, n->ann.id, 32) == 0) {
            nostr_log_text(text, sizeof text - 1, m->text);
            if (m->ok)
                log_info("nostr: %s accepted the announcement", nostr_relay_url(r));
            else
                log_warn("nostr: %s refused the announcement: %s", nostr_relay_url(r), text);
        }
        break;
    case NOSTR_MSG_CLOSED:
        nostr_log_text(text, sizeof text - 1, m->text);
        log_info("nostr: %s closed subscription %s: %s", nostr_relay_url(r), m->sub, text);
        if (strcmp(m->sub, SUB_OWN) == 0)
            own_done(s);
        break;
    case NOSTR_MSG_NOTICE:
        nostr_log_text(text, sizeof text - 1, m->text);
        log_info("nostr: notice from %s: %s", nostr_relay_url(r), text);
        break;
    case NOSTR_MSG_OTHER:
        log_debug("nostr: %s sent %s (ignored)", nostr_relay_url(r), m->text);
        break;
    }
}

static void on_down(struct nostr_relay *r, int status, const char *why, long retry_ms, void *ud)
{
    struct slot *s = ud;
    s->failed = true;
    evtimer_del(s->own_timer);
    clear_own(s);
    maybe_decide(s->n);
}

static void recheck(evutil_socket_t fd, short what, void *arg)
{
    struct nostr_app *n = arg;
    drop_ann(n); /* a republish gets a fresh timestamp */
    for (size_t i = 0; i < n->n_slots; i++)
        if (nostr_relay_is_open(n->slots[i].r))
            subscribe(&n->slots[i]);
    struct timeval tv = {RECHECK_MS / 1000, 0};
    evtimer_add(n->recheck_timer, &tv);
}

void nostr_app_settings_changed(struct nostr_app *n)
{
    bool was = announcing(n);
    load_settings(n);
    if (!announcing(n)) {
        if (was)
            log_info("nostr: no public URL any more; the announcement stays on relays as it is");
        return;
    }
    const char *pid = n->app->cfg.provider_id;
    if (pid && *pid && (n->d == NULL || strcmp(n->d, pid) != 0)) {
        free(n->d);
        n->d = xstrdup(pid); /* a cleared PROVIDER_ID keeps the d in use */
    }
    if (n->d == NULL) {
        struct timeval tv = {DECIDE_WAIT_MS / 1000, 0};
        evtimer_add(n->decide_timer, &tv);
    }
    recheck(-1, 0, n);
}

/* --------------------------------------------------------------------- start and stop */

static int load_key(struct nostr_app *n, char err[ERR_LEN])
{
    struct app *a = n->app;
    if (a->cfg.nsec && *a->cfg.nsec) {
        if (nostr_key_parse(&n->key, a->cfg.nsec) != E_OK) {
            snprintf(err, ERR_LEN, "NSEC: must be an nsec1... key or 64 hex digits");
            return E_PROTO;
        }
        return E_OK;
    }
    uint8_t key[32], sk[32];
    int rc = secrets_key_load(key, &a->cfg, err);
    if (rc == E_OK)
        rc = secrets_get_or_create(a->store, a->base, key, "nostr_nsec", sk, sizeof sk, err);
    if (rc == E_OK && nostr_key_from_secret(&n->key, sk) != E_OK) {
        snprintf(err, ERR_LEN, "the stored Nostr key is not a valid secp256k1 key");
        rc = E_PROTO;
    }
    secure_zero(key, sizeof key);
    secure_zero(sk, sizeof sk);
    return rc;
}

static void open_relays(struct nostr_app *n);

int nostr_app_start(struct nostr_app **out, struct app *a, char err[ERR_LEN])
{
    struct nostr_app *n = xcalloc(1, sizeof *n);
    n->app = a;
    int rc = load_key(n, err);
    if (rc != E_OK) {
        nostr_key_wipe(&n->key);
        free(n);
        return rc;
    }
    hex_encode(n->pubhex, n->key.pub, 32);
    nostr_npub_encode(n->npub, n->key.pub);
    const char *ca = getenv("NOSTR_CA_FILE");
    rc = nostr_net_init(&n->net, a->base, ca && *ca ? ca : NULL, err);
    if (rc != E_OK) {
        nostr_key_wipe(&n->key);
        free(n);
        return rc;
    }
    n->dir = nostr_dir_new(DIR_CAP);
    n->decide_timer = evtimer_new(a->base, decide_timeout, n);
    n->recheck_timer = evtimer_new(a->base, recheck, n);
    load_settings(n);
    if (a->cfg.provider_id && *a->cfg.provider_id)
        n->d = xstrdup(a->cfg.provider_id);

    n->ro = (struct nostr_relay_opts){
        .proxy = a->cfg.tor_proxy_url,
        .backoff_min_ms = env_ms("NOSTR_BACKOFF_MIN_MS", 5000, 1, 3600000),
        .backoff_max_ms = env_ms("NOSTR_BACKOFF_MAX_MS", 900000, 1, 86400000),
        .stable_ms = 60000,
        .timeout_ms = 15000,
        .ping_ms = 60000,
        .max_frame = NOSTR_MAX_FRAME,
        .max_bad = 20,
        .max_rate = 300, /* a REQ's answer (<= 110 events) fits in one second */
    };
    if (n->ro.backoff_max_ms < n->ro.backoff_min_ms)
        n->ro.backoff_max_ms = n->ro.backoff_min_ms;
    n->slots = xcalloc(MAX_RELAYS, sizeof *n->slots);
    open_relays(n);

    log_info("nostr: node key %s; %zu relay(s); %s", n->npub, n->n_slots,
             announcing(n) ? "announcing this node"
                           : "not announcing (no public HTTP_URL or ONION_URL)");
    if (announcing(n) && n->d)
        log_info("nostr: announcing as d=\"%s\" (PROVIDER_ID)", n->d);
    if (announcing(n) && n->d == NULL) {
        struct timeval tv = {DECIDE_WAIT_MS / 1000, (DECIDE_WAIT_MS % 1000) * 1000};
        evtimer_add(n->decide_timer, &tv);
    }
    struct timeval day = {RECHECK_MS / 1000, 0};
    evtimer_add(n->recheck_timer, &day);
    for (size_t i = 0; i < n->n_slots; i++)
        nostr_relay_start(n->slots[i].r);
    *out = n;
    return E_OK;
}

/* Connects to every relay of RELAYS (slots filled, not started yet). */
static void open_relays(struct nostr_app *n)
{
    static const struct nostr_relay_cbs cbs = {on_open, on_msg, on_down};
    struct nostr_relay_opts ro = n->ro;
    char **urls;
    size_t nurls = split_list(n->app->cfg.relays, &urls);
    for (size_t i = 0; i < nurls; i++) {
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup |= strcasecmp(urls[i], urls[j]) == 0;
        if (dup)
            continue;
        if (n->n_slots == MAX_RELAYS) {
            log_warn("nostr: more than %d relays; ignoring %s", MAX_RELAYS, urls[i]);
            continue;
        }
        char rerr[ERR_LEN];
        struct slot *s = &n->slots[n->n_slots];
        ro.url = urls[i];
        s->n = n;
        s->r = nostr_relay_new(&n->net, &ro, &cbs, s, rerr);
        if (s->r == NULL) {
            log_warn("nostr: RELAYS: %s", rerr);
            continue;
        }
        s->own_timer = evtimer_new(n->app->base, own_timeout, s);
        n->n_slots++;
    }
    free_list(urls, nurls);
}

static void close_relays(struct nostr_app *n)
{
    for (size_t i = 0; i < n->n_slots; i++) {
        struct slot *s = &n->slots[i];
        nostr_relay_free(s->r);
        clear_own(s);
        event_free(s->own_timer);
    }
    memset(n->slots, 0, MAX_RELAYS * sizeof *n->slots);
    n->n_slots = 0;
}

void nostr_app_relays_changed(struct nostr_app *n)
{
    close_relays(n);
    open_relays(n);
    log_info("nostr: RELAYS changed: %zu relay(s)", n->n_slots);
    for (size_t i = 0; i < n->n_slots; i++)
        nostr_relay_start(n->slots[i].r);
}

const char *nostr_app_npub(const struct nostr_app *n)
{
    return n ? n->npub : "";
}

/* --------------------------------------------------------------- /v1/providers/ */

struct probe {
    struct probe_batch *b;
    struct http_xfer *x;
    size_t idx;
    char *url;        /* the endpoint URL (the cache key) */
    long code;
    struct buf body;
};

struct probe_batch {
    struct nostr_app *n;
    struct app_req *r;
    json_t *items;    /* [{"provider":{...},"health":...}] */
    struct probe *probes;
    size_t n_probes, pending;
    struct probe_batch *prev, *next;
};

static json_t *health_error(json_t *code, const char *why)
{
    return json_pack("{s:o, s:s, s:{s:s}}", "status_code", code, "endpoint", "error", "json",
                     "error", why);
}

static const json_t *cache_get(struct nostr_app *n, const char *url)
{
    int64_t now = mono_ms();
    for (size_t i = 0; i < HEALTH_CACHE; i++) {
        struct health *h = &n->cache[i];
        if (h->url && strcmp(h->url, url) == 0 && now - h->at_ms < HEALTH_TTL_MS)
            return h->json;
    }
    return NULL;
}

static void cache_put(struct nostr_app *n, const char *url, json_t *health)
{
    struct health *slot = &n->cache[0];
    for (size_t i = 0; i < HEALTH_CACHE; i++) {
        struct health *h = &n->cache[i];
        if (h->url == NULL || strcmp(h->url, url) == 0) {
            slot = h;
            break;
        }
        if (h->at_ms < slot->at_ms)
            slot = h;
    }
    free(slot->url);
    json_decref(slot->json);
    slot->url = xstrdup(url);
    slot->json = json_incref(health);
    slot->at_ms = mono_ms();
}

static void batch_free(struct probe_batch *b)
{
    struct nostr_app *n = b->n;
    for (size_t i = 0; i < b->n_probes; i++) {
        struct probe *p = &b->probes[i];
        if (p->x)
            http_xfer_abort(p->x);
        buf_deinit(&p->body);
        free(p->url);
    }
    if (b->prev)
        b->prev->next = b->next;
    else
        n->batches = b->next;
    if (b->next)
        b->next->prev = b->prev;
    if (b->r && b->r->gone_ud == b) {
        b->r->gone = NULL;
        b->r->gone_ud = NULL;
    }
    json_decref(b->items);
    free(b->probes);
    free(b);
}

static void batch_gone(struct app_req *r)
{
    struct probe_batch *b = r->gone_ud;
    b->r = NULL;
    batch_free(b);
}

static void batch_maybe_done(struct probe_batch *b)
{
    if (b->pending > 0)
        return;
    struct app_req *r = b->r;
    json_t *body = json_pack("{s:O}", "providers", b->items);
    batch_free(b);
    app_reply_json(r, 200, body);
}

static int probe_headers(struct http_xfer *x, long status, void *ud)
{
    struct probe *p = ud;
    p->code = status;
    return 0;
}

static size_t probe_data(struct http_xfer *x, const char *data, size_t len, void *ud)
{
    struct probe *p = ud;
    return buf_append(&p->body, data, len) == E_OK ? len : 0;
}

static void probe_done(struct http_xfer *x, int status, const char *detail, void *ud)
{
    struct probe *p = ud;
    struct probe_batch *b = p->b;
    p->x = NULL;
    json_t *health;
    json_error_t jerr;
    json_t *j = status == HTTP_XFER_OK && p->code == 200
                    ? json_loadb(p->body.p ? p->body.p : "", p->body.len, 0, &jerr)
                    : NULL;
    if (j) {
        health = json_pack("{s:i, s:s, s:o}", "status_code", 200, "endpoint", "info", "json", j);
    } else {
        char why[160];
        if (status != HTTP_XFER_OK)
            snprintf(why, sizeof why, "Failed to fetch provider: %s",
                     p->body.len >= PROBE_MAX_BYTES ? "answer too large"
                     : status == HTTP_XFER_UNREACHABLE ? "unreachable"
                     : status == HTTP_XFER_TIMEOUT || status == HTTP_XFER_IDLE_TIMEOUT ? "timed out"
                                                                                       : "failed");
        else if (p->code != 200)
            snprintf(why, sizeof why, "Failed to fetch provider: HTTP %ld", p->code);
        else
            snprintf(why, sizeof why, "Failed to fetch provider: not JSON");
        health = health_error(json_integer(p->code && p->code != 200 ? p->code : 500), why);
    }
    cache_put(b->n, p->url, health);
    json_object_set_new(json_array_get(b->items, p->idx), "health", health);
    b->pending--;
    batch_maybe_done(b);
}

/* The proxy for a probe: TOR_PROXY_URL; socks5h for a .onion so the proxy resolves it. */
static char *probe_proxy(const struct nostr_app *n, const char *url)
{
    const char *proxy = n->app->cfg.tor_proxy_url;
    if (proxy == NULL || *proxy == '\0')
        return NULL;
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t hl = strcspn(h, ":/?#");
    bool onion = hl > 6 && strncasecmp(h + hl - 6, ".onion", 6) == 0;
    if (onion && strncmp(proxy, "socks5://", 9) == 0)
        return xasprintf("socks5h://%s", proxy + 9);
    return xstrdup(proxy);
}

static void probe_start(struct probe_batch *b, struct probe *p)
{
    static const struct http_xfer_cbs cbs = {probe_headers, probe_data, probe_done};
    struct nostr_app *n = b->n;
    char *proxy = probe_proxy(n, p->url);
    const char *h = strstr(p->url, "://");
    h = h ? h + 3 : p->url;
    size_t hl = strcspn(h, ":/?#");
    if (proxy == NULL && hl > 6 && strncasecmp(h + hl - 6, ".onion", 6) == 0) {
        json_t *health = health_error(json_integer(500), "Failed to fetch provider: a .onion "
                                                          "needs TOR_PROXY_URL");
        json_object_set_new(json_array_get(b->items, p->idx), "health", health);
        return;
    }
    char *url = xasprintf("%s/v1/info", p->url);
    struct http_xfer_req req = {
        .method = "GET",
        .url = url,
        .headers = curl_slist_append(NULL, "Accept: application/json"),
        .connect_timeout_ms = PROBE_CONNECT_MS,
        .timeout_ms = PROBE_TIMEOUT_MS,
        .proxy = proxy,
        .max_response_bytes = PROBE_MAX_BYTES,
    };
    buf_init(&p->body, PROBE_MAX_BYTES);
    p->x = http_xfer_start(n->app->client, &req, &cbs, p);
    free(url);
    free(proxy);
    if (p->x == NULL) {
        json_object_set_new(json_array_get(b->items, p->idx), "health",
                            health_error(json_integer(500), "Failed to fetch provider: bad URL"));
        return;
    }
    b->pending++;
}

static void reply_with_health(struct nostr_app *n, struct app_req *r, json_t *list)
{
    struct probe_batch *b = xcalloc(1, sizeof *b);
    b->n = n;
    b->r = r;
    b->items = json_array();
    b->probes = xcalloc(PROBE_MAX, sizeof *b->probes);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        const char *url = json_string_value(json_object_get(p, "endpoint_url"));
        const json_t *cached = cache_get(n, url);
        json_t *item = json_pack("{s:O}", "provider", p);
        json_array_append_new(b->items, item);
        if (cached) {
            json_object_set(item, "health", (json_t *)cached);
        } else if (b->n_probes < PROBE_MAX) {
            struct probe *pr = &b->probes[b->n_probes++];
            pr->b = b;
            pr->idx = i;
            pr->url = xstrdup(url);
        } else {
            json_object_set_new(item, "health",
                                json_pack("{s:n, s:s, s:{s:s}}", "status_code", "endpoint",
                                          "skipped", "json", "error",
                                          "not probed: over the cap of probes per request"));
        }
    }
    json_decref(list);
    b->next = n->batches;
    if (n->batches)
        n->batches->prev = b;
    n->batches = b;
    r->gone = batch_gone;
    r->gone_ud = b;
    for (i = 0; i < b->n_probes; i++)
        probe_start(b, &b->probes[i]);
    batch_maybe_done(b); /* everything was cached, or no probe could start */
}

/* The value of one query parameter, or NULL (a new string). */
static char *query_param(struct app_req *r, const char *name)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->req);
    const char *q = u ? evhttp_uri_get_query(u) : NULL;
    struct evkeyvalq params = {0};
    char *v = NULL;
    if (q && evhttp_parse_query_str(q, &params) == 0) {
        const char *s = evhttp_find_header(&params, name);
        v = s ? xstrdup(s) : NULL;
    }
    evhttp_clear_headers(&params);
    return v;
}

void nostr_app_providers(struct nostr_app *n, struct app_req *r)
{
    if (strcmp(r->path, "/v1/providers") == 0) {
        const char *uri = evhttp_request_get_uri(r->req);
        const char *q = strchr(uri, '?');
        char *loc = xasprintf("/v1/providers/%s", q ? q : "");
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", loc);
        free(loc);
        app_reply_json(r, 307, json_pack("{s:s}", "detail", "Temporary Redirect"));
        return;
    }
    if (n == NULL) {
        app_reply_json(r, 404, json_pack("{s:s}", "detail", "Provider discovery is disabled"));
        return;
    }
    char *inc = query_param(r, "include_json");
    char *pubkey = query_param(r, "pubkey");
    bool include = false;
    if (inc && str_parse_bool(inc, &include) != E_OK) {
        free(inc);
        free(pubkey);
        app_reply_json(r, 422, json_pack("{s:s}", "detail", "include_json must be true or false"));
        return;
    }
    json_t *list = nostr_dir_list(n->dir, pubkey, LIST_MAX);
    free(inc);
    free(pubkey);
    if (!include) {
        app_reply_json(r, 200, json_pack("{s:o}", "providers", list));
        return;
    }
    reply_with_health(n, r, list);
}

/* -------------------------------------------------------------------------- teardown */

void nostr_app_free(struct nostr_app *n)
{
    if (n == NULL)
        return;
    while (n->batches)
        batch_free(n->batches);
    close_relays(n);
    free(n->slots);
    event_free(n->decide_timer);
    event_free(n->recheck_timer);
    for (size_t i = 0; i < HEALTH_CACHE; i++) {
        free(n->cache[i].url);
        json_decref(n->cache[i].json);
    }
    nostr_dir_free(n->dir);
    drop_ann(n);
    free_list(n->urls, n->n_urls);
    free_list(n->mints, n->n_mints);
    free(n->d);
    nostr_net_deinit(&n->net);
    nostr_key_wipe(&n->key);
    free(n);
}
