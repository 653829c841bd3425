/* sweep.c -- releasing reservations nobody will settle, without ever cutting a live request.
 *
 * Every minute this process marks itself alive (instances table) and releases the active
 * reservations older than STALE_RESERVATION_TIMEOUT_SECONDS whose process has not been seen for
 * three sweeps: a crashed or killed node's requests. Its own are never swept while it runs (a
 * long stream keeps its reservation). On SQLite, one node owns the database, so at start every
 * earlier process's reservations are released at once; on PostgreSQL, other nodes may still be
 * serving theirs, so they wait for the liveness rule (no reset at start).
 *
 * The same sweep settles what a crash left between two steps of a payment: a refund debited
 * whose payout op was never saved (credited back), a token's redemption claimed whose receive op
 * was never saved (dropped, so the token works again); at start on SQLite all of them, else
 * those older than the stale timeout (a live process saves its op within a mint timeout). */
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "app/app.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "store/store.h"

#define SWEEP_EVERY_S 60
#define DEAD_AFTER_S (3 * SWEEP_EVERY_S)

static void ignore(int status, void *ud)
{
    (void)ud;
    if (status != 0 && status != E_CONFLICT)
        log_warn("sweep: release failed (%d)", status);
}

static void on_stale(int status, const struct store_rows *rows, void *ud)
{
    struct app *a = ud;
    if (status != 0)
        return;
    if (rows->nrows)
        log_warn("sweep: releasing %zu stale reservation(s)", rows->nrows);
    for (size_t i = 0; i < rows->nrows; i++)
        store_release(a->store, store_cell(rows, i, 0), ignore, NULL);
}

static void on_orphans(int status, const struct store_rows *rows, void *ud)
{
    if (status != 0) {
        log_warn("sweep: settling interrupted payments failed (%d)", status);
        return;
    }
    int64_t refunds = rows->nrows ? store_cell_i64(rows, 0, 0) : 0;
    int64_t claims = rows->nrows ? store_cell_i64(rows, 0, 1) : 0;
    if (refunds || claims)
        log_warn("sweep: %lld refund(s) never paid out credited back, %lld redemption claim(s) "
                 "never redeemed dropped", (long long)refunds, (long long)claims);
}

static void sweep(struct app *a, bool at_start)
{
    int64_t now = (int64_t)time(NULL);
    store_instance_seen(a->store, a->instance, ignore, NULL);
    bool single = strcmp(store_dialect(a->store), "sqlite") == 0;
    int64_t stale_s = a->cfg.stale_reservation_ms / 1000;
    if (at_start && single) { /* nobody else can be serving these */
        store_reservations_stale(a->store, now + 1, a->instance, now + 1, false, on_stale, a);
        store_orphans_settle(a->store, now + 1, on_orphans, NULL);
    } else {
        store_reservations_stale(a->store, now - stale_s, a->instance, now - DEAD_AFTER_S, false,
                                 on_stale, a);
        store_orphans_settle(a->store, now - stale_s, on_orphans, NULL);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    sweep(arg, false);
}

void sweep_start(struct app *a)
{
    sweep(a, true);
    a->sweep_timer = event_new(a->base, -1, EV_PERSIST, on_timer, a);
    struct timeval tv = {SWEEP_EVERY_S, 0};
    evtimer_add(a->sweep_timer, &tv);
}

void sweep_stop(struct app *a)
{
    if (a->sweep_timer)
        event_free(a->sweep_timer);
    a->sweep_timer = NULL;
}
