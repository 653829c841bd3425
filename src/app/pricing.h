/* pricing.h -- the node's prices: the model catalogue (MODELS_PATH) and a live BTC/USD rate.
 *
 * The catalogue is read at start (models.json, else the shipped models.example.json). The
 * BTC/USD rate is fetched from several exchanges (BTC_PRICE_SOURCES) every
 * PRICING_REFRESH_INTERVAL_SECONDS, on the loop; the minimum of the answers is kept with its
 * time. A rate older than PRICE_MAX_AGE_SECONDS, or none yet, makes USD-priced requests 503
 * (fixed prices never depend on it). */
#ifndef ROUTSTR_APP_PRICING_H
#define ROUTSTR_APP_PRICING_H

#include <stdbool.h>

#include "billing/billing.h"

struct app;
struct app_req;

int pricing_init(struct app *a, char err[ERR_LEN]);
/* Makes a new catalogue current: MODELS_PATH read again when 'reread' (else the text last read;
 * nothing to do when none was), with the dashboard's overrides applied. The old one is retired
 * (admin.h). Returns 0, or E_IO/E_PROTO with 'err' naming the problem; the current catalogue
 * stays then. */
int pricing_catalog_load(struct app *a, bool reread, char err[ERR_LEN]);
/* FIXED_PRICING and the fixed rates changed in a->cfg: re-derive the rates, and start fetching
 * BTC/USD if prices now come from the catalogue. */
void pricing_settings_changed(struct app *a);
void pricing_deinit(struct app *a);
/* The rates to price with now; 'usable' says whether the BTC/USD rate is fresh enough. */
struct billing_rates pricing_rates(const struct app *a, bool *usable);
/* GET /v1/models (and /models): the catalogue in the Routstr shape. */
void pricing_models(struct app_req *r);
/* FIXED_PRICING's rates in msat, or NULL when prices come from the catalogue. */
const struct billing_fixed *pricing_fixed(const struct app *a);
/* A free node: FIXED_PRICING with FIXED_COST_PER_REQUEST=0 and no per-1k rates. */
bool pricing_free(const struct app *a);

#endif
