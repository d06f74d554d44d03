/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The store interface: where counters live. The embedded store keeps them in this process;
 * the Redis store shares them between instances. Both decide with the same algorithms and
 * give the same answers.
 *
 * Ownership and threading: a store_t is created once and shared by every worker thread.
 * Each worker attaches a store_worker_t bound to its own event loop and uses it only from
 * that loop. store_check() calls `cb` exactly once, either before it returns (embedded) or
 * later from the worker's loop (Redis); `cb` may not free the store_worker_t. A request
 * handler that may vanish before the callback runs must guard its own memory.
 */
#ifndef RW_STORE_STORE_H
#define RW_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/derive.h"
#include "limiter/limiter.h"

struct st_h2o_evloop_t;

typedef enum {
    STORE_OK = 0,      /* the result is the decision */
    STORE_FULL,        /* a new key found no room: answer 503 store_full, nothing was charged */
    STORE_UNAVAILABLE, /* unreachable or too slow: apply the fail mode, nothing is queued */
} store_status_t;

/* A counter belongs to the subject of its key, and to the user_id's when one is given. */
#define STORE_MAX_SUBJECTS 2

/* Bounds on what privacy answers list. */
#define STORE_SUMMARY_MAX 1000
#define STORE_AUDIT_MAX   1000

typedef struct {
    uint8_t tenant_tag[DERIVE_TAG_LEN]; /* groups a tenant's keys (a Redis hash tag) */
    uint8_t counter_id[DERIVE_ID_LEN];
    uint8_t subjects[STORE_MAX_SUBJECTS][DERIVE_ID_LEN];
    unsigned nsubjects; /* 1, or 2 with a user_id other than the key */
    limiter_algorithm_t algorithm;
    limiter_request_t req;
    uint64_t now_ms; /* the service's clock; a store with a clock of its own ignores it */
} store_check_t;

typedef struct {
    int counts_keys; /* whether keys and bytes mean anything (the embedded store) */
    uint64_t keys;   /* counters tracked */
    uint64_t bytes;  /* memory they take, tables included */
    int reachable;
    double roundtrip_ms;  /* the last measured round trip; 0 for the embedded store */
    char last_error[160]; /* empty when none */
} store_stats_t;

/* One privacy audit record: no personal data, only the subject's hash. */
typedef struct {
    uint64_t time_ms;
    char action[16];
    char subject[2 * DERIVE_ID_LEN + 1];
    char reason[201];
    uint64_t count;
    char request_id[72];
} store_audit_t;

/*
 * A privacy request about one subject. The store records `audit` (with its count set to
 * what was erased or found) in the same step as the request itself, so no erasure or
 * summary succeeds unrecorded.
 */
typedef struct {
    uint8_t tenant_tag[DERIVE_TAG_LEN];
    uint8_t subject_id[DERIVE_ID_LEN];
    store_audit_t audit;
} store_subject_t;

typedef struct {
    limiter_algorithm_t algorithm;
    uint64_t window_ms;
    uint64_t expires_in_ms;
} store_counter_info_t;

typedef void (*store_check_cb)(void *data, store_status_t status, const limiter_result_t *result);
typedef void (*store_erase_cb)(void *data, store_status_t status, uint64_t erased);
/* `items` lists at most STORE_SUMMARY_MAX of the subject's `total` live counters. */
typedef void (*store_summary_cb)(void *data, store_status_t status,
                                 const store_counter_info_t *items, size_t count, uint64_t total);
typedef void (*store_audit_cb)(void *data, store_status_t status, const store_audit_t *records,
                               size_t count);

typedef struct store store_t;
typedef struct store_worker store_worker_t;

struct store_ops {
    const char *kind;
    store_worker_t *(*worker_attach)(store_t *store, struct st_h2o_evloop_t *loop);
    void (*worker_detach)(store_worker_t *worker);
    void (*check)(store_worker_t *worker, const store_check_t *check, store_check_cb cb,
                  void *data);
    /* Erases every counter of the subject, and the subject's index, at once. */
    void (*erase)(store_worker_t *worker, const store_subject_t *subject, store_erase_cb cb,
                  void *data);
    /* Lists the live counters of the subject (at most STORE_SUMMARY_MAX). */
    void (*summary)(store_worker_t *worker, const store_subject_t *subject, store_summary_cb cb,
                    void *data);
    /* The tenant's audit records, newest last (at most STORE_AUDIT_MAX). */
    void (*audit_list)(store_worker_t *worker, const uint8_t tenant_tag[DERIVE_TAG_LEN],
                       store_audit_cb cb, void *data);
    void (*stats)(store_t *store, store_stats_t *out);
    void (*destroy)(store_t *store);
};

struct store {
    const struct store_ops *ops;
};

struct store_worker {
    store_t *store;
};

static inline store_worker_t *store_worker_attach(store_t *store, struct st_h2o_evloop_t *loop)
{
    return store->ops->worker_attach(store, loop);
}

static inline void store_worker_detach(store_worker_t *worker)
{
    worker->store->ops->worker_detach(worker);
}

static inline void store_check(store_worker_t *worker, const store_check_t *check,
                               store_check_cb cb, void *data)
{
    worker->store->ops->check(worker, check, cb, data);
}

static inline void store_erase(store_worker_t *worker, const store_subject_t *subject,
                               store_erase_cb cb, void *data)
{
    worker->store->ops->erase(worker, subject, cb, data);
}

static inline void store_summary(store_worker_t *worker, const store_subject_t *subject,
                                 store_summary_cb cb, void *data)
{
    worker->store->ops->summary(worker, subject, cb, data);
}

static inline void store_audit_list(store_worker_t *worker,
                                    const uint8_t tenant_tag[DERIVE_TAG_LEN], store_audit_cb cb,
                                    void *data)
{
    worker->store->ops->audit_list(worker, tenant_tag, cb, data);
}

static inline void store_stats(store_t *store, store_stats_t *out)
{
    store->ops->stats(store, out);
}

static inline void store_destroy(store_t *store)
{
    store->ops->destroy(store);
}

/*
 * The embedded store. `max_keys` caps tracked counters; 0 means no cap. With `data_dir`
 * (NULL or empty for none), the privacy audit is also kept in a JSON-lines file there, and
 * the counters in a snapshot written every `snapshot_interval_s` (0: only at shutdown) and
 * when the store is destroyed, and loaded when it is created.
 */
store_t *store_memory_create(uint64_t max_keys, const char *data_dir, uint64_t snapshot_interval_s);

/* How long privacy audit records are kept, on every store. */
#define STORE_AUDIT_RETENTION_MS (30ULL * 24 * 3600 * 1000)

/* Frees expired counters now, as the background sweeper would; returns how many. */
uint64_t store_memory_sweep(store_t *store, uint64_t now_ms);

#endif
