/* metrics.h -- GET /metrics: the node's counters in the Prometheus text format 0.0.4.
 *
 * Two parts. A small registry (struct metrics) of metric families -- counters, gauges,
 * histograms -- each with fixed label names and a capped number of series, rendered as the
 * text exposition format. And the node's own families in one process-wide registry, fed by
 * one call at each point where something worth counting happens (request.c, proxy.c, paid.c),
 * plus what other modules count themselves and is read when /metrics is scraped (the wallet's
 * tokens and mint errors, open requests).
 *
 * Everything runs on the event loop thread (libevent, one loop; the SQLite store and libcurl
 * multi call back on it too), so nothing here takes a lock. */
#ifndef ROUTSTR_APP_METRICS_H
#define ROUTSTR_APP_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct app;
struct app_req;
struct billing_model;
struct billing_usage;
struct buf;

/* The registry */

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_SERIES 4096 /* per family: past it new label sets are dropped */
#define METRICS_MAX_BOUNDS 32

struct metrics;
struct metrics_family;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
/* Adds a family to 'm', which owns it; families render in the order they were added. 'name'
 * and each label name must match [a-zA-Z_][a-zA-Z0-9_]* (asserted: they are ours). 'labels'
 * is a comma-separated list of label names, "" for none. A histogram gets 'n_bounds' upper
 * bounds, ascending and finite (copied); +Inf is implied. */
struct metrics_family *metrics_family(struct metrics *m, enum metrics_type type, const char *name,
                                      const char *help, const char *labels, const double *bounds,
                                      size_t n_bounds);

/* 'values' holds one label value per label name (NULL when the family has none); a series is
 * made at zero the first time its values are seen. Values are copied and escaped when rendered,
 * so any bytes are safe, but the caller keeps their number bounded. */
void metrics_add(struct metrics_family *f, const char *const *values, double delta);
void metrics_set(struct metrics_family *f, const char *const *values, double value);
void metrics_observe(struct metrics_family *f, const char *const *values, double value);

/* Appends the exposition of every family to 'out' (text format 0.0.4: # HELP, # TYPE, one line
 * per sample; a histogram's _bucket lines cumulative, then _sum and _count). Returns 0, or
 * E_LIMIT when 'out' reached its cap. */
int metrics_render(const struct metrics *m, struct buf *out);

/* The node's metrics (process-wide, all named routstr_...) */

/* Made at start and freed at exit by main.c; every hook below is a no-op outside that span. */
void metrics_node_start(void);
void metrics_node_stop(void);

/* request.c: the request ended with r->status (counted once, by route, model and status). */
void metrics_on_request(const struct app_req *r);
/* paid.c: the model label of r: the id of 'm', the catalogue entry 'model' names (looked up
 * by the caller), "other" when it names none (m NULL), "" when the request named no model. */
void metrics_set_model(struct app_req *r, const char *model, const struct billing_model *m);
/* paid.c: 'reserved_msat' was reserved; then it ended, 'charged_msat' charged (0: released),
 * 'u' the usage the upstream reported (NULL or !present: none). */
void metrics_on_reserve(int64_t reserved_msat);
void metrics_on_settle(int64_t reserved_msat, int64_t charged_msat, const struct billing_usage *u);
/* proxy.c: the upstream's response headers came / its transfer ended, 'sent' being when the
 * request left (CLOCK_MONOTONIC). */
void metrics_on_upstream_headers(const struct timespec *sent);
void metrics_on_upstream_end(const struct timespec *sent);
/* proxy.c: an event stream started (+1) or ended (-1). */
void metrics_on_stream(int delta);

/* GET /metrics. Open to loopback peers; any other needs Authorization: Bearer METRICS_TOKEN. */
void metrics_handle(struct app_req *r);

#endif
