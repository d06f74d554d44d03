/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * POST /v1/check: validate, hash the key into a counter id, ask the store, answer.
 * The store may answer later (Redis), by which time the client may be gone: the pending
 * check is shared between the request's pool and the store callback and freed by
 * whichever lets go last.
 */
#include <string.h>

#include "api/check_request.h"
#include "api/handlers.h"
#include "http/pending.h"
#include "http/respond.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

typedef struct {
    pending_t base;
    worker_t *worker; /* outlives the request, for the metrics */
    uint64_t sent_ns;
    limiter_algorithm_t algorithm;
    limiter_request_t req;
    uint8_t tenant_tag[DERIVE_TAG_LEN];
    char tenant[33];
} pending_check_t;

static void add_header(h2o_req_t *req, const char *name, size_t name_len, buf_t *value)
{
    char *copy = h2o_mem_alloc_pool(&req->pool, value->len);

    memcpy(copy, value->data, value->len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, name_len, 0, NULL, copy, value->len);
}

/* The IETF RateLimit and RateLimit-Policy fields, and Retry-After on a denial. */
static void add_ratelimit_headers(h2o_req_t *req, const pending_check_t *p,
                                  const limiter_result_t *r)
{
    const char *policy = limiter_algorithm_name(p->algorithm);
    char tmp[160];
    buf_t b = buf_init(tmp, sizeof(tmp));

    buf_puts(&b, "\"");
    buf_puts(&b, policy);
    buf_puts(&b, "\";q=");
    buf_u64(&b, p->req.limit);
    buf_puts(&b, ";w=");
    buf_u64(&b, limiter_ms_to_s_ceil(p->req.window_ms));
    add_header(req, H2O_STRLIT("ratelimit-policy"), &b);

    b = buf_init(tmp, sizeof(tmp));
    buf_puts(&b, "\"");
    buf_puts(&b, policy);
    buf_puts(&b, "\";r=");
    buf_u64(&b, r->remaining);
    buf_puts(&b, ";t=");
    buf_u64(&b, limiter_ms_to_s_ceil(r->reset_in_ms));
    add_header(req, H2O_STRLIT("ratelimit"), &b);

    if (!r->allowed && r->retry_after_ms != LIMITER_NO_RETRY) {
        b = buf_init(tmp, sizeof(tmp));
        uint64_t secs = limiter_ms_to_s_ceil(r->retry_after_ms);
        buf_u64(&b, secs ? secs : 1);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       h2o_strdup(&req->pool, b.data, b.len).base, b.len);
    }
}

static void respond_decision(api_request_t *ar, const pending_check_t *p, const limiter_result_t *r,
                             int degraded)
{
    char body[256];
    buf_t b = buf_init(body, sizeof(body));

    buf_puts(&b, r->allowed ? "{\"allowed\":true,\"limit\":" : "{\"allowed\":false,\"limit\":");
    buf_u64(&b, p->req.limit);
    buf_puts(&b, ",\"remaining\":");
    buf_u64(&b, r->remaining);
    buf_puts(&b, ",\"reset_in\":");
    buf_u64(&b, limiter_ms_to_s_ceil(r->reset_in_ms));
    if (r->retry_after_ms == LIMITER_NO_RETRY) {
        buf_puts(&b, ",\"retry_after\":null");
    } else {
        uint64_t secs = limiter_ms_to_s_ceil(r->retry_after_ms);
        buf_puts(&b, ",\"retry_after\":");
        buf_u64(&b, secs ? secs : 1);
    }
    buf_puts(&b, ",\"reset_in_ms\":");
    buf_u64(&b, r->reset_in_ms);
    if (r->retry_after_ms == LIMITER_NO_RETRY) {
        buf_puts(&b, ",\"retry_after_ms\":null}");
    } else {
        buf_puts(&b, ",\"retry_after_ms\":");
        buf_u64(&b, r->retry_after_ms ? r->retry_after_ms : 1);
        buf_puts(&b, "}");
    }
    if (degraded) {
        b.len--;
        buf_puts(&b, ",\"degraded\":true}");
        h2o_add_header_by_str(&ar->req->pool, &ar->req->res.headers,
                              H2O_STRLIT("ratewatch-degraded"), 0, NULL,
                              H2O_STRLIT("store_unavailable"));
    }

    add_ratelimit_headers(ar->req, p, r);
    respond_json(ar, 200, body, b.len);
}

/* The one place a check's outcome is decided for metrics; the answer follows from it. */
static metrics_outcome_t outcome_of(store_status_t status, const limiter_result_t *r, int fail_open)
{
    switch (status) {
    case STORE_OK:
        return r->allowed ? OUTCOME_ALLOWED : OUTCOME_DENIED;
    case STORE_UNAVAILABLE:
        return fail_open ? OUTCOME_DEGRADED : OUTCOME_ERROR;
    case STORE_FULL:
        break;
    }
    return OUTCOME_ERROR;
}

static void on_store_answer(void *data, store_status_t status, const limiter_result_t *result)
{
    pending_check_t *p = data;
    api_request_t *ar = p->base.ar;
    metrics_worker_t *m = &p->worker->metrics;
    int fail_open = p->worker->server->fail_open;
    metrics_outcome_t outcome = outcome_of(status, result, fail_open);

    metrics_observe(&m->store_roundtrip, clock_mono_ns() - p->sent_ns);
    METRICS_ADD(m->store_in_flight, -1);
    if (status != STORE_OK)
        METRICS_ADD(
            m->store_errors[status == STORE_FULL ? STORE_ERROR_FULL : STORE_ERROR_UNAVAILABLE], 1);
    metrics_check(m, p->tenant_tag, p->tenant, p->algorithm, outcome);
    if (ar == NULL)
        goto out;

    switch (outcome) {
    case OUTCOME_ALLOWED:
    case OUTCOME_DENIED:
        respond_decision(ar, p, result, 0);
        break;
    case OUTCOME_DEGRADED: {
        /* Nothing was counted: the answer says so rather than pretend to know. */
        limiter_result_t open = {.allowed = p->req.cost <= p->req.limit,
                                 .remaining = p->req.limit,
                                 .retry_after_ms = LIMITER_NO_RETRY};
        respond_decision(ar, p, &open, 1);
        break;
    }
    case OUTCOME_ERROR:
    case OUTCOME_COUNT:
        if (status == STORE_FULL)
            respond_error(ar, ERR_STORE_FULL,
                          "the store tracks RATEWATCH_MAX_KEYS keys already; retry later");
        else
            respond_error(ar, ERR_STORE_UNAVAILABLE, "the store is unavailable; retry shortly");
        break;
    }

out:
    pending_finish(&p->base);
}

void api_check(api_request_t *ar)
{
    h2o_req_t *req = ar->req;
    check_request_t parsed;
    api_error_t err;
    store_check_t check;

    if (json_body_ok_or_respond(ar) != 0)
        return;

    json_t *doc = check_request_parse(req->entity.base ? req->entity.base : "", req->entity.len,
                                      &parsed, &err);
    if (doc == NULL) {
        respond_error(ar, err.code, err.message);
        return;
    }

    memcpy(check.tenant_tag, ar->tenant_tag, DERIVE_TAG_LEN);
    check.algorithm = parsed.algorithm;
    check.req = parsed.req;
    check.now_ms = clock_now_ms();
    derive_subject_id(ar->tenant_key, parsed.key, parsed.key_len, check.subjects[0]);
    check.nsubjects = 1;
    if (parsed.user_id != NULL && (parsed.user_id_len != parsed.key_len ||
                                   memcmp(parsed.user_id, parsed.key, parsed.key_len) != 0)) {
        derive_subject_id(ar->tenant_key, parsed.user_id, parsed.user_id_len, check.subjects[1]);
        check.nsubjects = 2;
    }
    derive_counter_id(ar->tenant_key, parsed.algorithm, parsed.req.window_ms, parsed.key,
                      parsed.key_len, check.counter_id);
    json_decref(doc);

    pending_check_t *p = pending_new(ar, sizeof(*p));
    p->worker = ar->worker;
    p->algorithm = check.algorithm;
    p->req = check.req;
    memcpy(p->tenant_tag, ar->tenant_tag, DERIVE_TAG_LEN);
    memcpy(p->tenant, ar->tenant, ar->tenant_len + 1);
    METRICS_ADD(ar->worker->metrics.store_in_flight, 1);
    p->sent_ns = clock_mono_ns();

    store_check(ar->worker->store, &check, on_store_answer, p);
}
