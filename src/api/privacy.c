/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The data-subject endpoints: erasure with a receipt, access (a summary of what is held),
 * and the tenant's audit of both. Subjects are named to the store only by their keyed
 * hash under the tenant's key; the receipt shows that hash, never the identifier.
 */
#include <string.h>

#include "api/handlers.h"
#include "api/privacy_request.h"
#include "http/pending.h"
#include "http/respond.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

typedef struct {
    pending_t base;
    store_subject_t subject;
    char subject_hex[2 * DERIVE_ID_LEN + 1];
} pending_privacy_t;

/* The pending request, with the audit record the store writes along with it. */
static pending_privacy_t *pending_for(api_request_t *ar, const privacy_request_t *in,
                                      const char *action)
{
    pending_privacy_t *p = pending_new(ar, sizeof(*p));
    store_audit_t *record = &p->subject.audit;

    memcpy(p->subject.tenant_tag, ar->tenant_tag, DERIVE_TAG_LEN);
    derive_subject_id(ar->tenant_key, in->user_id, in->user_id_len, p->subject.subject_id);
    derive_hex(p->subject.subject_id, DERIVE_ID_LEN, p->subject_hex);

    record->time_ms = clock_now_ms();
    snprintf(record->action, sizeof(record->action), "%s", action);
    memcpy(record->subject, p->subject_hex, sizeof(record->subject));
    memcpy(record->reason, in->reason, sizeof(record->reason));
    snprintf(record->request_id, sizeof(record->request_id), "%s", ar->request_id);
    return p;
}

static void on_erased(void *data, store_status_t status, uint64_t erased)
{
    pending_privacy_t *p = data;
    api_request_t *ar = p->base.ar;
    char body[512], when[40];
    buf_t b = buf_init(body, sizeof(body));

    if (ar == NULL)
        goto out;
    if (status != STORE_OK) {
        respond_error(ar, ERR_STORE_UNAVAILABLE,
                      "the store did not confirm the erasure in time, so it may or may not have "
                      "happened; retry it (erasing again is harmless)");
        goto out;
    }
    clock_format_rfc3339(clock_now_ms(), 1, when, sizeof(when));
    buf_puts(&b, "{\"deleted\":true,\"deleted_counters\":");
    buf_u64(&b, erased);
    buf_printf(&b, ",\"subject\":\"%s\",\"request_id\":", p->subject_hex);
    buf_json_string(&b, ar->request_id, strlen(ar->request_id));
    buf_printf(&b, ",\"completed_at\":\"%s\"}", when);
    respond_json(ar, 200, body, b.len);

out:
    pending_finish(&p->base);
}

void api_privacy_delete(api_request_t *ar)
{
    privacy_request_t in;
    api_error_t err;

    if (json_body_ok_or_respond(ar) != 0)
        return;
    if (privacy_request_parse(ar->req->entity.base ? ar->req->entity.base : "", ar->req->entity.len,
                              1, "user_request", &in, &err) != 0) {
        respond_error(ar, err.code, err.message);
        return;
    }
    pending_privacy_t *p = pending_for(ar, &in, "delete");
    store_erase(ar->worker->store, &p->subject, on_erased, p);
}

static void on_summary(void *data, store_status_t status, const store_counter_info_t *items,
                       size_t count, uint64_t total)
{
    pending_privacy_t *p = data;
    api_request_t *ar = p->base.ar;

    if (ar == NULL)
        goto out;
    if (status != STORE_OK) {
        respond_error(ar, ERR_STORE_UNAVAILABLE, "the store is unavailable; retry shortly");
        goto out;
    }

    size_t cap = 512 + count * 96;
    char *body = h2o_mem_alloc_pool(&ar->req->pool, cap);
    buf_t b = buf_init(body, cap);
    buf_printf(&b, "{\"subject\":\"%s\",\"counters\":", p->subject_hex);
    buf_u64(&b, total);
    buf_printf(&b, ",\"items_truncated\":%s", count < total ? "true" : "false");
    buf_puts(&b, ",\"items\":[");
    for (size_t i = 0; i < count; i++) {
        buf_printf(&b, "%s{\"algorithm\":\"%s\",\"window_ms\":", i ? "," : "",
                   limiter_algorithm_name(items[i].algorithm));
        buf_u64(&b, items[i].window_ms);
        buf_puts(&b, ",\"expires_in_s\":");
        buf_u64(&b, limiter_ms_to_s_ceil(items[i].expires_in_ms));
        buf_puts(&b, "}");
    }
    buf_puts(&b, "],\"held\":\"per counter: a keyed hash of the key, counts and their window "
                 "start; per subject: a keyed hash listing its counters\","
                 "\"not_held\":[\"the key or user id in clear\",\"request bodies\","
                 "\"client addresses\",\"request history\"]}");
    respond_json(ar, 200, body, b.len);

out:
    pending_finish(&p->base);
}

void api_privacy_summary(api_request_t *ar)
{
    h2o_req_t *req = ar->req;
    privacy_request_t in;
    api_error_t err;
    int rc;

    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        if (json_body_ok_or_respond(ar) != 0)
            return;
        rc = privacy_request_parse(req->entity.base ? req->entity.base : "", req->entity.len, 0,
                                   "access_request", &in, &err);
    } else {
        size_t q = req->query_at == SIZE_MAX ? req->path.len : req->query_at + 1;
        rc = privacy_query_parse(req->path.base + q, q < req->path.len ? req->path.len - q : 0, &in,
                                 &err);
        snprintf(in.reason, sizeof(in.reason), "access_request");
    }
    if (rc != 0) {
        respond_error(ar, err.code, err.message);
        return;
    }
    pending_privacy_t *p = pending_for(ar, &in, "summary");
    store_summary(ar->worker->store, &p->subject, on_summary, p);
}

static void on_audit(void *data, store_status_t status, const store_audit_t *records, size_t count)
{
    pending_t *p = data;
    api_request_t *ar = p->ar;

    if (ar == NULL)
        goto out;
    if (status != STORE_OK) {
        respond_error(ar, ERR_STORE_UNAVAILABLE, "the store is unavailable; retry shortly");
        goto out;
    }
    size_t cap = 64 + count * 2048; /* a record with every byte of its reason escaped */
    char *body = h2o_mem_alloc_pool(&ar->req->pool, cap);
    buf_t b = buf_init(body, cap);
    buf_puts(&b, "{\"records\":[");
    for (size_t i = 0; i < count; i++) {
        const store_audit_t *r = &records[i];
        char when[40];
        clock_format_rfc3339(r->time_ms, 1, when, sizeof(when));
        buf_printf(&b, "%s{\"time\":\"%s\",\"action\":", i ? "," : "", when);
        buf_json_string(&b, r->action, strlen(r->action));
        buf_puts(&b, ",\"subject\":");
        buf_json_string(&b, r->subject, strlen(r->subject));
        buf_puts(&b, ",\"reason\":");
        buf_json_string(&b, r->reason, strlen(r->reason));
        buf_puts(&b, ",\"count\":");
        buf_u64(&b, r->count);
        buf_puts(&b, ",\"request_id\":");
        buf_json_string(&b, r->request_id, strlen(r->request_id));
        buf_puts(&b, "}");
    }
    buf_puts(&b, "]}");
    respond_json(ar, 200, body, b.len);

out:
    pending_finish(p);
}

void api_privacy_audit(api_request_t *ar)
{
    pending_t *p = pending_new(ar, sizeof(*p));

    store_audit_list(ar->worker->store, ar->tenant_tag, on_audit, p);
}
