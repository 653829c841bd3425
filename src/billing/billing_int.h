/* billing_int.h -- helpers shared by the files of billing/ (not for other modules). */
#ifndef ROUTSTR_BILLING_BILLING_INT_H
#define ROUTSTR_BILLING_BILLING_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "billing/billing.h"

#define BILLING_MAX_MODELS 10000
/* Token counts are clamped here (10^15), so sums and products of counts never overflow and stay
 * exact in a double. */
#define BILLING_MAX_TOKENS INT64_C(1000000000000000)
/* Any msat figure is clamped here (10^18 msat = 10^7 BTC, more than will ever exist). */
#define BILLING_MAX_MSAT 1e18

/* Parses a plain decimal number ("12", "0.0000015", "1e-6", surrounding spaces allowed; no hex,
 * inf or nan). Returns 0 with a finite *out, or E_PROTO. */
int billing_parse_decimal(const char *s, double *out);
/* A JSON number, or a string billing_parse_decimal() accepts. Returns 0 or E_PROTO. */
int billing_json_number(const json_t *v, double *out);

/* EXCHANGE_FEE × UPSTREAM_PROVIDER_FEE; a fee that is not a positive finite number counts as 1
 * (a misconfigured fee must never make requests free). */
double billing_fee(const struct billing_rates *r);
/* Sats per USD (1e8 / btc_usd), or 0 when there is no valid quote. */
double billing_sats_per_usd(const struct billing_rates *r);

/* x rounded up to an integer, with binary noise below about 1e-9 (absolute) or 1e-12
 * (relative) ignored, so 6060.000000000001 is 6060; clamped to [0, BILLING_MAX_MSAT]. */
int64_t billing_ceil_msat(double x);

#endif
