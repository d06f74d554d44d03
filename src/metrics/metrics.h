/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Prometheus metrics. Every worker thread counts into its own block, with relaxed atomic
 * loads and stores that compile to plain moves: no lock and no shared cache line on the
 * request path. A scrape sums the blocks. Label sets are bounded: routes and outcomes are
 * enums, and at most METRICS_MAX_TENANTS tenants are named per worker ("_other" after).
 */
#ifndef RW_METRICS_METRICS_H
#define RW_METRICS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/derive.h"
#include "limiter/limiter.h"

#define METRICS_MAX_TENANTS 64
#define METRICS_BUCKETS     12

/* Routes, for labels; ROUTE_OTHER covers 404s and anything unrouted. */
#define METRICS_ROUTES(X)                                                                          \
    X(CHECK, "/v1/check")                                                                          \
    X(PRIVACY_DELETE, "/v1/privacy/delete")                                                        \
    X(PRIVACY_SUMMARY, "/v1/privacy/summary")                                                      \
    X(PRIVACY_AUDIT, "/v1/privacy/audit")                                                          \
    X(HEALTH, "/health")                                                                           \
    X(HEALTH_DETAILED, "/health/detailed")                                                         \
    X(HEALTH_READY, "/health/ready")                                                               \
    X(METRICS, "/metrics")                                                                         \
    X(OTHER, "other")

typedef enum {
#define X(name, path) ROUTE_##name,
    METRICS_ROUTES(X)
#undef X
        ROUTE_COUNT
} metrics_route_t;

/* One outcome enum feeds logs and metrics alike. */
typedef enum {
    OUTCOME_ALLOWED = 0,
    OUTCOME_DENIED,
    OUTCOME_DEGRADED,
    OUTCOME_ERROR,
    OUTCOME_COUNT
} metrics_outcome_t;

typedef enum {
    STORE_ERROR_UNAVAILABLE = 0,
    STORE_ERROR_FULL,
    STORE_ERROR_KIND_COUNT
} metrics_store_error_t;

typedef struct {
    _Atomic uint64_t buckets[METRICS_BUCKETS]; /* cumulative at scrape, not here */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
} metrics_histogram_t;

typedef struct {
    uint8_t tag[DERIVE_TAG_LEN];
    char name[33];
    _Atomic int used;
    _Atomic uint64_t checks[LIMITER_ALGORITHM_COUNT][OUTCOME_COUNT];
} metrics_tenant_t;

/* One worker's counters; written by that worker only. */
typedef struct {
    _Atomic uint64_t http[ROUTE_COUNT][6]; /* status class 1xx..5xx at [1..5] */
    metrics_histogram_t duration[ROUTE_COUNT];
    metrics_histogram_t store_roundtrip;
    _Atomic uint64_t store_errors[STORE_ERROR_KIND_COUNT];
    _Atomic uint64_t store_in_flight;
    metrics_tenant_t tenants[METRICS_MAX_TENANTS];
    _Atomic uint64_t other_tenant_checks[LIMITER_ALGORITHM_COUNT][OUTCOME_COUNT];
} metrics_worker_t;

/*
 * RATEWATCH_METRICS=OFF (CMake) compiles the counting out, for the benchmark that shows
 * what it costs; /metrics then reports zeros.
 */
#ifndef RW_NO_METRICS
#define METRICS_ENABLED 1
#define METRICS_ADD(field, n)                                                                      \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),    \
                          memory_order_relaxed)

void metrics_observe(metrics_histogram_t *h, uint64_t ns);
void metrics_http(metrics_worker_t *m, metrics_route_t route, int status, uint64_t ns);
void metrics_check(metrics_worker_t *m, const uint8_t *tag, const char *tenant,
                   limiter_algorithm_t algorithm, metrics_outcome_t outcome);
#else
#define METRICS_ENABLED                                   0
#define METRICS_ADD(field, n)                             ((void)(field), (void)(n))
#define metrics_observe(h, ns)                            ((void)(h), (void)(ns))
#define metrics_http(m, route, status, ns)                ((void)(m), (void)(status))
#define metrics_check(m, tag, tenant, algorithm, outcome) ((void)(m), (void)(outcome))
#endif

const char *metrics_route_path(metrics_route_t route);
metrics_route_t metrics_route_of(const char *path, size_t len);
const char *metrics_outcome_name(metrics_outcome_t outcome);

struct server;

/* Renders the exposition of every worker's counters and the process; caller frees. */
char *metrics_render(struct server *server, size_t *len);

#endif
