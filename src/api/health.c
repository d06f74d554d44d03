/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* GET /health: the process is up and answering. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/handlers.h"
#include "http/respond.h"
#include "util/buf.h"
#include "util/clock.h"
#include "version.h"

void api_health(api_request_t *ar)
{
    char body[160], when[40];
    buf_t b = buf_init(body, sizeof(body));

    clock_format_rfc3339(clock_now_ms(), 0, when, sizeof(when));
    buf_printf(&b, "{\"status\":\"ok\",\"timestamp\":\"%s\",\"version\":\"%s\"}", when,
               RATEWATCH_VERSION);
    respond_json(ar, 200, body, b.len);
}

/* GET /health/detailed: what an operator looks at first. */
void api_health_detailed(api_request_t *ar)
{
    server_t *server = ar->worker->server;
    uint64_t now = clock_now_ms();
    store_stats_t stats;
    char body[1024];
    buf_t b = buf_init(body, sizeof(body));

    store_stats(server->store, &stats);
    buf_printf(&b, "{\"status\":\"%s\",\"version\":\"%s\",\"build\":\"%s\",",
               stats.reachable ? "ok" : "degraded", RATEWATCH_VERSION, RATEWATCH_BUILD);
    buf_printf(&b, "\"store\":{\"kind\":\"%s\",\"reachable\":%s,\"roundtrip_ms\":%.3f,",
               server->store->ops->kind, stats.reachable ? "true" : "false", stats.roundtrip_ms);
    buf_puts(&b, "\"last_error\":");
    if (stats.last_error[0] != '\0')
        buf_json_string(&b, stats.last_error, strlen(stats.last_error));
    else
        buf_puts(&b, "null");
    if (stats.counts_keys) {
        buf_puts(&b, ",\"keys\":");
        buf_u64(&b, stats.keys);
        buf_puts(&b, ",\"bytes\":");
        buf_u64(&b, stats.bytes);
    }
    buf_puts(&b, "},\"uptime_s\":");
    buf_u64(&b, (now - server->started_ms) / 1000);
    buf_printf(&b, ",\"workers\":%zu,\"open_connections\":", server->nworkers);
    buf_u64(&b, server_open_connections(server));
    buf_puts(&b, "}");
    respond_json(ar, 200, body, b.len);
}

/* GET /health/ready: 200 when checks can be served, 503 with the reason otherwise. */
void api_health_ready(api_request_t *ar)
{
    server_t *server = ar->worker->server;
    store_stats_t stats;

    store_stats(server->store, &stats);
    if (stats.reachable) {
        respond_json(ar, 200, H2O_STRLIT("{\"status\":\"ready\"}"));
        return;
    }
    respond_json(ar, 503,
                 H2O_STRLIT("{\"status\":\"not_ready\",\"reason\":\"the store is unreachable\"}"));
}

/* GET /metrics: Prometheus text; with RATEWATCH_METRICS_TOKEN, only for its bearer. */
void api_metrics(api_request_t *ar)
{
    server_t *server = ar->worker->server;
    const char *token = server->config->metrics_token;
    h2o_req_t *req = ar->req;
    size_t len;

    if (token[0] != '\0') {
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
        size_t n = strlen(token);
        h2o_iovec_t v = i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
        if (v.len != n + 7 || !h2o_lcstris(v.base, 7, H2O_STRLIT("bearer ")) ||
            CRYPTO_memcmp(v.base + 7, token, n) != 0) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                           H2O_STRLIT("Bearer realm=\"ratewatch-metrics\""));
            respond_error(ar, ERR_UNAUTHORIZED, "/metrics needs the metrics token as a Bearer");
            return;
        }
    }

    char *text = metrics_render(server, &len);
    char *body = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(body, text, len);
    free(text);
    respond_text(ar, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}
