/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "metrics/metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/server.h"
#include "util/alloc.h"
#include "version.h"

/* Upper bounds in nanoseconds; printed in seconds. */
static const uint64_t bucket_ns[METRICS_BUCKETS] = {
    50000,   100000,   250000,   500000,   1000000,   2500000,
    5000000, 10000000, 25000000, 50000000, 100000000, 500000000,
};

static const char *const route_paths[ROUTE_COUNT] = {
#define X(name, path) [ROUTE_##name] = path,
    METRICS_ROUTES(X)
#undef X
};

static const char *const outcome_names[OUTCOME_COUNT] = {"allowed", "denied", "degraded", "error"};
static const char *const store_error_names[STORE_ERROR_KIND_COUNT] = {"unavailable", "full"};

const char *metrics_route_path(metrics_route_t route)
{
    return route_paths[route];
}

metrics_route_t metrics_route_of(const char *path, size_t len)
{
    for (int i = 0; i < ROUTE_OTHER; i++) {
        if (strlen(route_paths[i]) == len && memcmp(route_paths[i], path, len) == 0)
            return (metrics_route_t)i;
    }
    return ROUTE_OTHER;
}

const char *metrics_outcome_name(metrics_outcome_t outcome)
{
    return outcome_names[outcome];
}

#if METRICS_ENABLED
void metrics_observe(metrics_histogram_t *h, uint64_t ns)
{
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (ns <= bucket_ns[i]) {
            METRICS_ADD(h->buckets[i], 1);
            break;
        }
    }
    METRICS_ADD(h->count, 1);
    METRICS_ADD(h->sum_ns, ns);
}

void metrics_http(metrics_worker_t *m, metrics_route_t route, int status, uint64_t ns)
{
    int class = status / 100;

    METRICS_ADD(m->http[route][class >= 1 && class <= 5 ? class : 5], 1);
    metrics_observe(&m->duration[route], ns);
}

void metrics_check(metrics_worker_t *m, const uint8_t *tag, const char *tenant,
                   limiter_algorithm_t algorithm, metrics_outcome_t outcome)
{
    size_t start = tag[0] % METRICS_MAX_TENANTS;

    /* Open addressing on the tenant tag; only this worker writes its table. */
    for (size_t i = 0; i < METRICS_MAX_TENANTS; i++) {
        metrics_tenant_t *t = &m->tenants[(start + i) % METRICS_MAX_TENANTS];
        if (!atomic_load_explicit(&t->used, memory_order_acquire)) {
            memcpy(t->tag, tag, DERIVE_TAG_LEN);
            snprintf(t->name, sizeof(t->name), "%s", tenant);
            atomic_store_explicit(&t->used, 1, memory_order_release);
        } else if (memcmp(t->tag, tag, DERIVE_TAG_LEN) != 0) {
            continue;
        }
        METRICS_ADD(t->checks[algorithm][outcome], 1);
        return;
    }
    METRICS_ADD(m->other_tenant_checks[algorithm][outcome], 1);
}
#endif

/* --- rendering ------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} text_t;

static void emit(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(text_t *t, const char *fmt, ...)
{
    va_list ap;

    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (n > 0 ? (size_t)n : 0);
        t->data = rw_realloc(t->data, t->cap);
    }
}

static void header(text_t *t, const char *name, const char *type, const char *help)
{
    emit(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void histogram(text_t *t, const char *name, const char *labels,
                      const metrics_histogram_t *const *parts, size_t nparts)
{
    uint64_t cumulative = 0, count = 0, sum = 0;

    for (int b = 0; b < METRICS_BUCKETS; b++) {
        for (size_t p = 0; p < nparts; p++)
            cumulative += LOAD(parts[p]->buckets[b]);
        emit(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, labels[0] ? "," : "",
             (double)bucket_ns[b] / 1e9, (unsigned long long)cumulative);
    }
    for (size_t p = 0; p < nparts; p++) {
        count += LOAD(parts[p]->count);
        sum += LOAD(parts[p]->sum_ns);
    }
    emit(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, labels[0] ? "," : "",
         (unsigned long long)count);
    emit(t, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name, labels, (double)sum / 1e9, name, labels,
         (unsigned long long)count);
}

static void render_checks(text_t *t, server_t *server)
{
    header(t, "ratewatch_checks_total", "counter",
           "Rate-limit checks answered, by tenant, algorithm and outcome.");
    /* Tenants are summed by tag across workers; a worker's table never reorders. */
    for (size_t w = 0; w < server->nworkers; w++) {
        metrics_worker_t *m = &server->workers[w].metrics;
        for (size_t i = 0; i < METRICS_MAX_TENANTS; i++) {
            metrics_tenant_t *ti = &m->tenants[i];
            if (!atomic_load_explicit(&ti->used, memory_order_acquire))
                continue;
            int seen_before = 0;
            for (size_t v = 0; v < w && !seen_before; v++) {
                for (size_t j = 0; j < METRICS_MAX_TENANTS; j++) {
                    metrics_tenant_t *tj = &server->workers[v].metrics.tenants[j];
                    if (atomic_load_explicit(&tj->used, memory_order_acquire) &&
                        memcmp(tj->tag, ti->tag, DERIVE_TAG_LEN) == 0) {
                        seen_before = 1;
                        break;
                    }
                }
            }
            if (seen_before)
                continue;
            for (int a = 0; a < LIMITER_ALGORITHM_COUNT; a++) {
                for (int o = 0; o < OUTCOME_COUNT; o++) {
                    uint64_t sum = 0;
                    for (size_t v = w; v < server->nworkers; v++) {
                        for (size_t j = 0; j < METRICS_MAX_TENANTS; j++) {
                            metrics_tenant_t *tj = &server->workers[v].metrics.tenants[j];
                            if (atomic_load_explicit(&tj->used, memory_order_acquire) &&
                                memcmp(tj->tag, ti->tag, DERIVE_TAG_LEN) == 0)
                                sum += LOAD(tj->checks[a][o]);
                        }
                    }
                    emit(t,
                         "ratewatch_checks_total{tenant=\"%s\",algorithm=\"%s\",outcome=\"%s\"} "
                         "%llu\n",
                         ti->name, limiter_algorithm_name((limiter_algorithm_t)a), outcome_names[o],
                         (unsigned long long)sum);
                }
            }
        }
    }
    for (int a = 0; a < LIMITER_ALGORITHM_COUNT; a++) {
        for (int o = 0; o < OUTCOME_COUNT; o++) {
            uint64_t sum = 0;
            for (size_t w = 0; w < server->nworkers; w++)
                sum += LOAD(server->workers[w].metrics.other_tenant_checks[a][o]);
            if (sum > 0)
                emit(t,
                     "ratewatch_checks_total{tenant=\"_other\",algorithm=\"%s\",outcome=\"%s\"} "
                     "%llu\n",
                     limiter_algorithm_name((limiter_algorithm_t)a), outcome_names[o],
                     (unsigned long long)sum);
        }
    }
}

static void render_http(text_t *t, server_t *server)
{
    header(t, "ratewatch_http_requests_total", "counter",
           "HTTP requests answered, by route and status class.");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        for (int c = 1; c <= 5; c++) {
            uint64_t sum = 0;
            for (size_t w = 0; w < server->nworkers; w++)
                sum += LOAD(server->workers[w].metrics.http[r][c]);
            emit(t, "ratewatch_http_requests_total{route=\"%s\",status=\"%dxx\"} %llu\n",
                 route_paths[r], c, (unsigned long long)sum);
        }
    }

    header(t, "ratewatch_http_request_duration_seconds", "histogram",
           "Time from a request's dispatch to its response, by route.");
    const metrics_histogram_t *parts[256];
    for (int r = 0; r < ROUTE_COUNT; r++) {
        char labels[64];
        size_t n = 0;
        for (size_t w = 0; w < server->nworkers && n < 256; w++)
            parts[n++] = &server->workers[w].metrics.duration[r];
        snprintf(labels, sizeof(labels), "route=\"%s\"", route_paths[r]);
        histogram(t, "ratewatch_http_request_duration_seconds", labels, parts, n);
    }
}

static void render_store(text_t *t, server_t *server)
{
    const metrics_histogram_t *parts[256];
    store_stats_t stats;
    char labels[64];
    size_t n = 0;

    snprintf(labels, sizeof(labels), "store=\"%s\"", server->store->ops->kind);
    header(t, "ratewatch_store_roundtrip_seconds", "histogram",
           "Time from handing a check to the store to its answer.");
    for (size_t w = 0; w < server->nworkers && n < 256; w++)
        parts[n++] = &server->workers[w].metrics.store_roundtrip;
    histogram(t, "ratewatch_store_roundtrip_seconds", labels, parts, n);

    header(t, "ratewatch_store_errors_total", "counter", "Checks the store could not decide.");
    for (int k = 0; k < STORE_ERROR_KIND_COUNT; k++) {
        uint64_t sum = 0;
        for (size_t w = 0; w < server->nworkers; w++)
            sum += LOAD(server->workers[w].metrics.store_errors[k]);
        emit(t, "ratewatch_store_errors_total{%s,kind=\"%s\"} %llu\n", labels, store_error_names[k],
             (unsigned long long)sum);
    }

    uint64_t in_flight = 0;
    for (size_t w = 0; w < server->nworkers; w++)
        in_flight += LOAD(server->workers[w].metrics.store_in_flight);
    header(t, "ratewatch_store_checks_in_flight", "gauge", "Checks waiting on the store.");
    emit(t, "ratewatch_store_checks_in_flight{%s} %llu\n", labels, (unsigned long long)in_flight);

    store_stats(server->store, &stats);
    header(t, "ratewatch_store_up", "gauge", "1 when the store is reachable.");
    emit(t, "ratewatch_store_up{%s} %d\n", labels, stats.reachable ? 1 : 0);
    header(t, "ratewatch_embedded_store_keys", "gauge", "Counters the embedded store tracks.");
    emit(t, "ratewatch_embedded_store_keys %llu\n", (unsigned long long)stats.keys);
    header(t, "ratewatch_embedded_store_bytes", "gauge",
           "Memory the embedded store's counters and tables take.");
    emit(t, "ratewatch_embedded_store_bytes %llu\n", (unsigned long long)stats.bytes);
}

static void render_process(text_t *t, server_t *server)
{
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long utime = 0, stime = 0;
    long rss = 0;
    size_t fds = 0;
    char buf[1024];
    FILE *f;

    if ((f = fopen("/proc/self/stat", "r")) != NULL) {
        if (fgets(buf, sizeof(buf), f) != NULL) {
            char *p = strrchr(buf, ')');
            if (p != NULL)
                sscanf(p + 2,
                       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d "
                       "%*d %*d %*d %*u %*u %ld",
                       &utime, &stime, &rss);
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        while (readdir(d) != NULL)
            fds++;
        closedir(d);
        fds = fds > 2 ? fds - 3 : 0; /* ".", ".." and the directory's own descriptor */
    }

    header(t, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    emit(t, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)ticks);
    header(t, "process_resident_memory_bytes", "gauge", "Resident memory size.");
    emit(t, "process_resident_memory_bytes %ld\n", rss * page);
    header(t, "process_open_fds", "gauge", "Open file descriptors.");
    emit(t, "process_open_fds %zu\n", fds);
    header(t, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.");
    emit(t, "process_start_time_seconds %.3f\n", (double)server->started_ms / 1000.0);
}

char *metrics_render(struct server *server, size_t *len)
{
    text_t t = {rw_malloc(16384), 0, 16384};

    header(&t, "ratewatch_build_info", "gauge", "Version and build of this binary.");
    emit(&t, "ratewatch_build_info{version=\"%s\",build=\"%s\"} 1\n", RATEWATCH_VERSION,
         RATEWATCH_BUILD);
    header(&t, "ratewatch_open_connections", "gauge", "Open client connections.");
    emit(&t, "ratewatch_open_connections %llu\n",
         (unsigned long long)server_open_connections(server));
    render_checks(&t, server);
    render_http(&t, server);
    render_store(&t, server);
    render_process(&t, server);
    *len = t.len;
    return t.data;
}
