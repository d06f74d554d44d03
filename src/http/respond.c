/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "http/respond.h"

#include <string.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/utf8.h"

static const struct {
    int status;
    const char *code;
} error_table[ERR_COUNT] = {
#define X(name, status, code) [ERR_##name] = {status, code},
    ERROR_CODES(X)
#undef X
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

#define ADD_STATIC(req, token, s)                                                                  \
    h2o_add_header(&(req)->pool, &(req)->res.headers, token, NULL, H2O_STRLIT(s))
#define ADD_STATIC_NAME(req, name, s)                                                              \
    h2o_add_header_by_str(&(req)->pool, &(req)->res.headers, H2O_STRLIT(name), 0, NULL,            \
                          H2O_STRLIT(s))

int respond_request_is_json(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);

    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t n = 0;
    while (n < v.len && v.base[n] != ';' && v.base[n] != ' ' && v.base[n] != '\t')
        n++;
    if (!h2o_lcstris(v.base, n, H2O_STRLIT("application/json")))
        return 0;
    /* JSON is UTF-8 (RFC 8259): a charset parameter may only say so. */
    for (size_t k = n; k + 8 <= v.len; k++) {
        if (h2o_lcstris(v.base + k, 8, H2O_STRLIT("charset="))) {
            h2o_iovec_t cs = h2o_iovec_init(v.base + k + 8, v.len - k - 8);
            while (cs.len > 0 && (cs.base[cs.len - 1] == ' ' || cs.base[cs.len - 1] == ';'))
                cs.len--;
            if (cs.len >= 2 && cs.base[0] == '"' && cs.base[cs.len - 1] == '"') {
                cs.base++;
                cs.len -= 2;
            }
            return h2o_lcstris(cs.base, cs.len, H2O_STRLIT("utf-8")) ||
                   h2o_lcstris(cs.base, cs.len, H2O_STRLIT("utf8"));
        }
    }
    return 1;
}

int json_body_ok_or_respond(api_request_t *ar)
{
    if (!respond_request_is_json(ar->req)) {
        respond_error(ar, ERR_UNSUPPORTED_MEDIA_TYPE, "send the body as application/json");
        return -1;
    }
    if (ar->req->entity.len > RESPOND_MAX_BODY) {
        respond_error(ar, ERR_BODY_TOO_LARGE, "the body is larger than 8 KiB");
        return -1;
    }
    return 0;
}

void respond_common_headers(api_request_t *ar)
{
    h2o_req_t *req = ar->req;

    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          ar->request_id, strlen(ar->request_id));
    ADD_STATIC_NAME(req, "x-content-type-options", "nosniff");
    ADD_STATIC_NAME(req, "x-frame-options", "DENY");
    ADD_STATIC_NAME(req, "referrer-policy", "no-referrer");
    ADD_STATIC_NAME(req, "content-security-policy", "default-src 'none'; frame-ancestors 'none'");
    ADD_STATIC(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
    if (ar->worker->server->ssl_ctx != NULL)
        ADD_STATIC(req, H2O_TOKEN_STRICT_TRANSPORT_SECURITY, "max-age=63072000");
}

/* Access log: off by default; the mode is tested before anything is formatted. */
static void access_log(api_request_t *ar, int status, uint64_t ns)
{
    const config_t *config = ar->worker->server->config;
    char fields[256];

    switch (config->access_log_mode) {
    case 0:
        return;
    case 2:
        if (status < 400)
            return;
        break;
    case 3:
        if (ar->worker->access_seq++ % config->access_log_every != 0)
            return;
        break;
    }
    if (!log_enabled(LOG_LEVEL_INFO))
        return;
    h2o_req_t *req = ar->req;
    snprintf(fields, sizeof(fields),
             "\"method\":\"%.*s\",\"route\":\"%s\",\"status\":%d,\"duration_ms\":%.3f,"
             "\"tenant\":\"%s\"",
             (int)(req->method.len < 16 ? req->method.len : 16), req->method.base,
             metrics_route_path(ar->route), status, (double)ns / 1e6,
             ar->tenant_len ? ar->tenant : "");
    log_write(LOG_LEVEL_INFO, ar->request_id, fields, "request");
}

static void respond_finish(api_request_t *ar, int status, const char *content_type,
                           const char *body, size_t len, int copy)
{
    h2o_req_t *req = ar->req;
    static h2o_generator_t generator = {NULL, NULL};

    if (METRICS_ENABLED) {
        uint64_t ns = clock_mono_ns() - ar->start_ns;
        metrics_http(&ar->worker->metrics, ar->route, status, ns);
        access_log(ar, status, ns);
    }

    ar->status = status;
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    respond_common_headers(ar);
    req->res.content_length = len;
    if (copy) {
        h2o_send_inline(req, body, len);
        return;
    }
    h2o_iovec_t buf = h2o_iovec_init(body, len);
    h2o_start_response(req, &generator);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void respond_json(api_request_t *ar, int status, const char *body, size_t len)
{
    respond_finish(ar, status, "application/json", body, len, 1);
}

void respond_text(api_request_t *ar, int status, const char *content_type, const char *body,
                  size_t len)
{
    respond_finish(ar, status, content_type, body, len, 0);
}

void respond_error(api_request_t *ar, error_code_t code, const char *message)
{
    char body[1024];
    buf_t b = buf_init(body, sizeof(body));

    buf_puts(&b, "{\"error\":");
    if (!utf8_valid(message, strlen(message)))
        message = "the request was rejected";
    buf_json_string(&b, message, strlen(message));
    buf_printf(&b, ",\"code\":\"%s\"}", error_table[code].code);
    if (b.overflow) {
        b = buf_init(body, sizeof(body));
        buf_printf(&b, "{\"error\":\"request rejected\",\"code\":\"%s\"}", error_table[code].code);
    }
    if (code == ERR_STORE_UNAVAILABLE)
        ADD_STATIC(ar->req, H2O_TOKEN_RETRY_AFTER, "1");
    respond_json(ar, error_table[code].status, body, b.len);
}

void respond_method_not_allowed(api_request_t *ar, const char *allow)
{
    h2o_add_header(&ar->req->pool, &ar->req->res.headers, H2O_TOKEN_ALLOW, NULL, allow,
                   strlen(allow));
    respond_error(ar, ERR_METHOD_NOT_ALLOWED, "this method is not allowed here; see Allow");
}
