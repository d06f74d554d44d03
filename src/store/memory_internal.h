/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The embedded store's data structures, shared by memory.c (checks, privacy, the sweeper)
 * and memory_snapshot.c (durability). Nothing outside store/ includes this.
 */
#ifndef RW_STORE_MEMORY_INTERNAL_H
#define RW_STORE_MEMORY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "store/store.h"

#define SHARD_COUNT         256
#define SUBJECT_SHARD_COUNT 64
#define MIN_BUCKETS         64
#define SWEEP_SLICE         4096
#define SWEEP_PERIOD_MS     100
#define AUDIT_CAPACITY      10000
#define AUDIT_FILE          "privacy_audit.jsonl"
#define SNAPSHOT_FILE       "counters.snapshot"

typedef uint8_t id_t_[DERIVE_ID_LEN];

typedef struct entry {
    struct entry *next;
    uint8_t id[DERIVE_ID_LEN];
    uint64_t window_ms;
    uint64_t expires_at_ms;
    sw_state_t state;
    uint8_t algorithm;
    uint8_t nsubjects;
    id_t_ *subjects; /* the subjects this counter belongs to */
} entry_t;

typedef struct {
    pthread_mutex_t lock;
    entry_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t sweep_pos;
} __attribute__((aligned(64))) shard_t;

typedef struct subject {
    struct subject *next;
    uint8_t id[DERIVE_ID_LEN];
    size_t count, cap;
    id_t_ *counters;
} subject_t;

typedef struct {
    pthread_mutex_t lock;
    subject_t **buckets;
    size_t nbuckets;
    size_t count;
} __attribute__((aligned(64))) subject_shard_t;

typedef struct {
    uint8_t tenant_tag[DERIVE_TAG_LEN];
    store_audit_t record;
} audit_slot_t;

typedef struct memory_store {
    store_t base;
    store_worker_t worker; /* one handle serves every thread: the store is thread-safe */
    shard_t shards[SHARD_COUNT];
    subject_shard_t subjects[SUBJECT_SHARD_COUNT];
    uint64_t max_keys;
    _Atomic uint64_t keys;
    _Atomic uint64_t bucket_bytes;

    pthread_mutex_t audit_lock;
    audit_slot_t *audit; /* a ring of AUDIT_CAPACITY */
    size_t audit_next, audit_count;
    size_t audit_unwritten; /* newest records the sweeper has still to append to the file */
    char *audit_path;
    char *snapshot_path; /* NULL: not durable */
    uint64_t snapshot_interval_ms;
    uint64_t next_snapshot_ms;

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

/* Inserts a restored entry (its subjects included); call before any worker runs. */
void memory_restore_entry(memory_store_t *m, entry_t *e);

/* Writes every live counter to the snapshot file atomically; 0 or -1 (logged). */
int memory_snapshot_write(memory_store_t *m, uint64_t now_ms);

/* Loads the snapshot, dropping what has expired; a bad file is set aside and reported. */
void memory_snapshot_load(memory_store_t *m, uint64_t now_ms);

#endif
