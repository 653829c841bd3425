/* admin.h -- the operator's dashboard API under /admin/api/ (docs/admin-api.md).
 *
 * Sessions: a password (ADMIN_PASSWORD, or one generated at first start and printed once) kept
 * only as a scrypt hash in the settings table; a login sets an HttpOnly, SameSite=Strict cookie
 * whose token's SHA-256 is the stored session. Settings changed here are stored in the database
 * and win over the environment from then on; they take effect at once in this process, and
 * within 5 seconds in other processes on the same PostgreSQL (a polled version counter).
 *
 * Runtime changes replace strings of a->cfg and the model catalogue while requests may still
 * point into the old ones: what is replaced is retired, and freed only once every request that
 * was open at the time has ended (app.h: a->gen, r->gen). */
#ifndef ROUTSTR_APP_ADMIN_H
#define ROUTSTR_APP_ADMIN_H

#include <stdbool.h>

#include "base/err.h"
#include "billing/billing.h"

struct app;
struct app_req;

/* Before serving (after store_open, before pricing_init): applies the stored settings over the
 * environment's, sets up the admin password (printing a generated one once), reads the model
 * overrides. Blocks on the store. Returns 0, or E_IO/E_PROTO with 'err' filled. */
int admin_init(struct app *a, char err[ERR_LEN]);
/* Starts the settings poll (once the loop runs). */
void admin_start(struct app *a);
void admin_free(struct app *a);

/* Everything under /admin/api/: 'sub' is the path after "/admin/api". */
void admin_handle(struct app_req *r, const char *sub);

/* Keeps 'p' until no request open now can use it, then calls free_fn(p). */
void admin_retire(struct app *a, void *p, void (*free_fn)(void *));

/* Applies the dashboard's model overrides (enabled, USD prices) to a freshly parsed catalogue. */
void admin_models_apply(const struct app *a, struct billing_catalog *c);
/* Whether 'model' names a model the dashboard disabled (for fixed pricing, which does not look
 * models up in the catalogue). */
bool admin_model_disabled(const struct app *a, const char *model);
bool admin_models_any_disabled(const struct app *a);

#endif
