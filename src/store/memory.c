/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The embedded store: counters in this process, in 256 shards of chained hash tables, each
 * under its own mutex. A check takes one shard lock for one lookup, so it is O(1) and
 * workers rarely meet. A background thread walks every shard a slice at a time and frees
 * counters that have expired, so keys that are never seen again still give memory back.
 * A key is only inserted when a check charges it: peeks and denials leave no trace.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define SHARD_COUNT     256
#define MIN_BUCKETS     64
#define SWEEP_SLICE     4096
#define SWEEP_PERIOD_MS 100

typedef struct entry {
    struct entry *next;
    uint8_t id[DERIVE_ID_LEN];
    uint64_t window_ms;
    uint64_t expires_at_ms;
    sw_state_t state;
} entry_t;

typedef struct {
    pthread_mutex_t lock;
    entry_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t sweep_pos;
} __attribute__((aligned(64))) shard_t;

typedef struct {
    store_t base;
    store_worker_t worker; /* one handle serves every thread: the store is thread-safe */
    shard_t shards[SHARD_COUNT];
    uint64_t max_keys;
    _Atomic uint64_t keys;
    _Atomic uint64_t bucket_bytes;

    pthread_t sweeper;
    pthread_mutex_t sweeper_lock;
    pthread_cond_t sweeper_wake;
    bool stopping;
} memory_store_t;

static inline uint64_t id_hash(const uint8_t *id)
{
    uint64_t h;

    memcpy(&h, id + 1, sizeof(h));
    return h;
}

static void shard_resize(memory_store_t *m, shard_t *s, size_t nbuckets)
{
    entry_t **buckets = rw_calloc(nbuckets, sizeof(*buckets));

    for (size_t i = 0; i < s->nbuckets; i++) {
        entry_t *e = s->buckets[i];
        while (e != NULL) {
            entry_t *next = e->next;
            size_t slot = id_hash(e->id) & (nbuckets - 1);
            e->next = buckets[slot];
            buckets[slot] = e;
            e = next;
        }
    }
    atomic_fetch_add(&m->bucket_bytes, nbuckets * sizeof(*buckets));
    atomic_fetch_sub(&m->bucket_bytes, s->nbuckets * sizeof(*buckets));
    free(s->buckets);
    s->buckets = buckets;
    s->nbuckets = nbuckets;
    s->sweep_pos = 0;
}

/* Unlinks and frees the expired entries of one chain. Call with the shard locked. */
static uint64_t chain_reap(memory_store_t *m, shard_t *s, entry_t **link, uint64_t now_ms)
{
    uint64_t freed = 0;

    while (*link != NULL) {
        entry_t *e = *link;
        if (e->expires_at_ms > now_ms) {
            link = &e->next;
            continue;
        }
        *link = e->next;
        free(e);
        s->count--;
        freed++;
    }
    if (freed > 0)
        atomic_fetch_sub(&m->keys, freed);
    return freed;
}

static void memory_check(store_worker_t *worker, const store_check_t *check, store_check_cb cb,
                         void *data)
{
    memory_store_t *m = (memory_store_t *)worker->store;
    shard_t *s = &m->shards[check->counter_id[0]];
    uint64_t hash = id_hash(check->counter_id);
    store_status_t status = STORE_OK;
    limiter_result_t result;
    entry_t *e;

    pthread_mutex_lock(&s->lock);
    entry_t **slot = &s->buckets[hash & (s->nbuckets - 1)];
    for (e = *slot; e != NULL; e = e->next) {
        if (memcmp(e->id, check->counter_id, DERIVE_ID_LEN) == 0)
            break;
    }

    if (e != NULL) {
        sliding_window_check(&e->state, &check->req, check->now_ms, &result);
        if (result.changed)
            e->expires_at_ms = result.expires_at_ms;
        goto out;
    }

    sw_state_t fresh = {0, 0, 0};
    sliding_window_check(&fresh, &check->req, check->now_ms, &result);
    if (!result.changed)
        goto out;

    chain_reap(m, s, slot, check->now_ms);
    if (m->max_keys > 0 && atomic_fetch_add(&m->keys, 1) >= m->max_keys) {
        atomic_fetch_sub(&m->keys, 1);
        status = STORE_FULL;
        goto out;
    }
    if (m->max_keys == 0)
        atomic_fetch_add(&m->keys, 1);

    e = rw_malloc(sizeof(*e));
    memcpy(e->id, check->counter_id, DERIVE_ID_LEN);
    e->window_ms = check->req.window_ms;
    e->expires_at_ms = result.expires_at_ms;
    e->state = fresh;
    e->next = *slot;
    *slot = e;
    if (++s->count > s->nbuckets)
        shard_resize(m, s, s->nbuckets * 2);

out:
    pthread_mutex_unlock(&s->lock);
    cb(data, status, &result);
}

static uint64_t shard_sweep(memory_store_t *m, shard_t *s, uint64_t now_ms, size_t slice)
{
    uint64_t freed = 0;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < slice && i < s->nbuckets; i++) {
        freed += chain_reap(m, s, &s->buckets[s->sweep_pos], now_ms);
        s->sweep_pos = (s->sweep_pos + 1) & (s->nbuckets - 1);
    }
    if (s->nbuckets > MIN_BUCKETS && s->count * 8 < s->nbuckets)
        shard_resize(m, s, s->nbuckets / 2);
    pthread_mutex_unlock(&s->lock);
    return freed;
}

uint64_t store_memory_sweep(store_t *store, uint64_t now_ms)
{
    memory_store_t *m = (memory_store_t *)store;
    uint64_t freed = 0;

    for (int i = 0; i < SHARD_COUNT; i++)
        freed += shard_sweep(m, &m->shards[i], now_ms, SIZE_MAX);
    return freed;
}

static void *sweeper_main(void *arg)
{
    memory_store_t *m = arg;

    pthread_mutex_lock(&m->sweeper_lock);
    while (!m->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SWEEP_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->sweeper_wake, &m->sweeper_lock, &until);
        if (m->stopping)
            break;
        pthread_mutex_unlock(&m->sweeper_lock);

        uint64_t now = clock_now_ms();
        for (int i = 0; i < SHARD_COUNT; i++)
            shard_sweep(m, &m->shards[i], now, SWEEP_SLICE);

        pthread_mutex_lock(&m->sweeper_lock);
    }
    pthread_mutex_unlock(&m->sweeper_lock);
    return NULL;
}

static store_worker_t *memory_worker_attach(store_t *store, struct st_h2o_evloop_t *loop)
{
    (void)loop;
    return &((memory_store_t *)store)->worker;
}

static void memory_worker_detach(store_worker_t *worker)
{
    (void)worker;
}

static void memory_stats(store_t *store, store_stats_t *out)
{
    memory_store_t *m = (memory_store_t *)store;
    uint64_t keys = atomic_load(&m->keys);

    out->keys = keys;
    out->bytes = keys * sizeof(entry_t) + atomic_load(&m->bucket_bytes);
    out->reachable = 1;
}

static void memory_destroy(store_t *store)
{
    memory_store_t *m = (memory_store_t *)store;

    pthread_mutex_lock(&m->sweeper_lock);
    m->stopping = true;
    pthread_cond_signal(&m->sweeper_wake);
    pthread_mutex_unlock(&m->sweeper_lock);
    pthread_join(m->sweeper, NULL);

    for (int i = 0; i < SHARD_COUNT; i++) {
        shard_t *s = &m->shards[i];
        for (size_t b = 0; b < s->nbuckets; b++) {
            entry_t *e = s->buckets[b];
            while (e != NULL) {
                entry_t *next = e->next;
                free(e);
                e = next;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    pthread_cond_destroy(&m->sweeper_wake);
    pthread_mutex_destroy(&m->sweeper_lock);
    free(m);
}

static const struct store_ops memory_ops = {
    .kind = "memory",
    .worker_attach = memory_worker_attach,
    .worker_detach = memory_worker_detach,
    .check = memory_check,
    .stats = memory_stats,
    .destroy = memory_destroy,
};

store_t *store_memory_create(uint64_t max_keys)
{
    memory_store_t *m = rw_calloc(1, sizeof(*m));

    m->base.ops = &memory_ops;
    m->worker.store = &m->base;
    m->max_keys = max_keys;
    for (int i = 0; i < SHARD_COUNT; i++) {
        pthread_mutex_init(&m->shards[i].lock, NULL);
        m->shards[i].buckets = rw_calloc(MIN_BUCKETS, sizeof(entry_t *));
        m->shards[i].nbuckets = MIN_BUCKETS;
    }
    atomic_store(&m->bucket_bytes, (uint64_t)SHARD_COUNT * MIN_BUCKETS * sizeof(entry_t *));
    pthread_mutex_init(&m->sweeper_lock, NULL);
    pthread_cond_init(&m->sweeper_wake, NULL);
    if (pthread_create(&m->sweeper, NULL, sweeper_main, m) != 0) {
        LOG_ERROR("cannot start the embedded store's sweeper thread");
        abort();
    }
    return &m->base;
}
