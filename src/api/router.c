/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "api/router.h"

#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "auth/auth.h"
#include "http/respond.h"
#include "util/buf.h"
#include "util/clock.h"

enum { METHOD_GET = 1, METHOD_HEAD = 2, METHOD_POST = 4, METHOD_OTHER = 8 };

typedef struct {
    const char *path;
    unsigned methods;
    const char *allow;
    int authenticated;
    void (*handler)(api_request_t *ar);
} route_t;

static const route_t routes[] = {
    {"/v1/check", METHOD_POST, "POST", 1, api_check},
    {"/v1/privacy/delete", METHOD_POST, "POST", 1, api_privacy_delete},
    {"/v1/privacy/summary", METHOD_GET | METHOD_POST, "GET, POST", 1, api_privacy_summary},
    {"/v1/privacy/audit", METHOD_GET, "GET", 1, api_privacy_audit},
    {"/health", METHOD_GET | METHOD_HEAD, "GET, HEAD", 0, api_health},
    {"/health/detailed", METHOD_GET | METHOD_HEAD, "GET, HEAD", 0, api_health_detailed},
    {"/health/ready", METHOD_GET | METHOD_HEAD, "GET, HEAD", 0, api_health_ready},
    {"/metrics", METHOD_GET | METHOD_HEAD, "GET, HEAD", 0, api_metrics},
};

static unsigned method_bit(h2o_iovec_t m)
{
    if (h2o_memis(m.base, m.len, H2O_STRLIT("POST")))
        return METHOD_POST;
    if (h2o_memis(m.base, m.len, H2O_STRLIT("GET")))
        return METHOD_GET;
    if (h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")))
        return METHOD_HEAD;
    return METHOD_OTHER;
}

static int request_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void request_id_assign(api_request_t *ar)
{
    h2o_req_t *req = ar->req;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);

    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (request_id_ok(v.base, v.len)) {
            memcpy(ar->request_id, v.base, v.len);
            ar->request_id[v.len] = '\0';
            return;
        }
    }
    /* <boot id>-<worker>-<sequence in hex>: unique per process, made without printf. */
    static const char digits[] = "0123456789abcdef";
    worker_t *w = ar->worker;
    char tmp[20];
    size_t n = 0;
    buf_t b = buf_init(ar->request_id, sizeof(ar->request_id));

    buf_puts(&b, w->server->boot_id);
    buf_append(&b, "-", 1);
    buf_u64(&b, w->index);
    buf_append(&b, "-", 1);
    for (uint64_t seq = ++w->request_seq; seq != 0 || n == 0; seq >>= 4)
        tmp[n++] = digits[seq & 15];
    while (n > 0)
        buf_append(&b, &tmp[--n], 1);
}

/* Runs when h2o frees the request, after its response has been written out. */
static void on_request_dispose(void *p)
{
    api_request_t *ar = p;

    ar->worker->in_flight--;
}

/*
 * Two Content-Length or Content-Type fields make a request mean different things to
 * different readers (request smuggling through a proxy): refused, and the connection
 * closed, so nothing after them on it is read as a request.
 */
static int headers_unambiguous(const h2o_req_t *req)
{
    int lengths = 0, types = 0;

    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_iovec_t *name = req->headers.entries[i].name;
        lengths += h2o_lcstris(name->base, name->len, H2O_STRLIT("content-length"));
        types += h2o_lcstris(name->base, name->len, H2O_STRLIT("content-type"));
    }
    return lengths <= 1 && types <= 1;
}

/* Header fields beyond the configured count or size are refused before any handler. */
static int headers_within_limits(const config_t *config, const h2o_req_t *req)
{
    size_t bytes = 0;

    if (req->headers.size > config->max_header_count)
        return 0;
    for (size_t i = 0; i < req->headers.size; i++)
        bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    return bytes <= config->max_header_bytes;
}

void router_dispatch(worker_t *worker, h2o_req_t *req)
{
    api_request_t *ar = h2o_mem_alloc_shared(&req->pool, sizeof(*ar), on_request_dispose);
    h2o_iovec_t path = req->path_normalized;

    ar->req = req;
    ar->worker = worker;
    ar->status = 0;
    ar->route = metrics_route_of(path.base, path.len);
    ar->start_ns = clock_mono_ns();
    ar->tenant_len = 0;
    worker->in_flight++;
    request_id_assign(ar);

    if (!headers_unambiguous(req)) {
        req->http1_is_persistent = 0;
        respond_error(ar, ERR_BAD_REQUEST,
                      "the request has more than one Content-Length or Content-Type");
        return;
    }
    if (!headers_within_limits(worker->server->config, req)) {
        respond_error(ar, ERR_HEADERS_TOO_LARGE,
                      "too many or too large header fields; see RATEWATCH_MAX_HEADER_*");
        return;
    }

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const route_t *r = &routes[i];
        if (!h2o_memis(path.base, path.len, r->path, strlen(r->path)))
            continue;
        if ((method_bit(req->method) & r->methods) == 0) {
            respond_method_not_allowed(ar, r->allow);
            return;
        }
        if (r->authenticated && auth_request_or_respond(ar) != 0)
            return;
        r->handler(ar);
        return;
    }
    respond_error(ar, ERR_NOT_FOUND, "no such endpoint; see docs/API.md");
}
