/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The embedded store: counters in this process, in 256 shards of chained hash tables, each
 * under its own mutex. A check takes one shard lock for one lookup, so it is O(1) and
 * workers rarely meet. A background thread walks every shard a slice at a time and frees
 * counters that have expired, so keys that are never seen again still give memory back.
 * A key is only inserted when a check charges it: peeks and denials leave no trace.
 *
 * Data subjects: each counter lists the subjects it belongs to, and a second sharded
 * table maps each subject to its counters. A counter leaves its subjects' lists when it
 * is freed, and a subject with no counters left is freed with it, so the index expires
 * exactly when what it lists does. Lock order: a counter shard, then a subject shard.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#include "store/memory_internal.h"

/* --- the subject index ----------------------------------------------------------------- */

static subject_shard_t *subject_shard(memory_store_t *m, const uint8_t *subject)
{
    return &m->subjects[subject[0] % SUBJECT_SHARD_COUNT];
}

static subject_t **subject_slot(subject_shard_t *ss, const uint8_t *subject)
{
    subject_t **link = &ss->buckets[id_hash(subject) & (ss->nbuckets - 1)];

    while (*link != NULL && memcmp((*link)->id, subject, DERIVE_ID_LEN) != 0)
        link = &(*link)->next;
    return link;
}

static void subject_shard_grow(subject_shard_t *ss)
{
    size_t n = ss->nbuckets * 2;
    subject_t **buckets = rw_calloc(n, sizeof(*buckets));

    for (size_t i = 0; i < ss->nbuckets; i++) {
        subject_t *s = ss->buckets[i];
        while (s != NULL) {
            subject_t *next = s->next;
            size_t slot = id_hash(s->id) & (n - 1);
            s->next = buckets[slot];
            buckets[slot] = s;
            s = next;
        }
    }
    free(ss->buckets);
    ss->buckets = buckets;
    ss->nbuckets = n;
}

/* Lists `counter` under `subject`. */
static void subject_add(memory_store_t *m, const uint8_t *subject, const uint8_t *counter)
{
    subject_shard_t *ss = subject_shard(m, subject);

    pthread_mutex_lock(&ss->lock);
    subject_t **link = subject_slot(ss, subject);
    subject_t *s = *link;
    if (s == NULL) {
        s = rw_calloc(1, sizeof(*s));
        memcpy(s->id, subject, DERIVE_ID_LEN);
        *link = s;
        if (++ss->count > ss->nbuckets)
            subject_shard_grow(ss);
    }
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 2;
        s->counters = rw_realloc(s->counters, s->cap * DERIVE_ID_LEN);
    }
    memcpy(s->counters[s->count++], counter, DERIVE_ID_LEN);
    pthread_mutex_unlock(&ss->lock);
}

/* Takes `counter` off `subject`'s list; frees the subject when nothing is left. */
static void subject_remove(memory_store_t *m, const uint8_t *subject, const uint8_t *counter)
{
    subject_shard_t *ss = subject_shard(m, subject);

    pthread_mutex_lock(&ss->lock);
    subject_t **link = subject_slot(ss, subject);
    subject_t *s = *link;
    if (s != NULL) {
        for (size_t i = 0; i < s->count; i++) {
            if (memcmp(s->counters[i], counter, DERIVE_ID_LEN) == 0) {
                memcpy(s->counters[i], s->counters[--s->count], DERIVE_ID_LEN);
                break;
            }
        }
        if (s->count == 0) {
            *link = s->next;
            free(s->counters);
            free(s);
            ss->count--;
        }
    }
    pthread_mutex_unlock(&ss->lock);
}

/* Copies the counters listed under `subject`; the caller frees the array. */
static id_t_ *subject_counters(memory_store_t *m, const uint8_t *subject, size_t *count)
{
    subject_shard_t *ss = subject_shard(m, subject);
    id_t_ *copy = NULL;

    pthread_mutex_lock(&ss->lock);
    subject_t *s = *subject_slot(ss, subject);
    *count = s ? s->count : 0;
    if (*count > 0) {
        copy = rw_malloc(*count * DERIVE_ID_LEN);
        memcpy(copy, s->counters, *count * DERIVE_ID_LEN);
    }
    pthread_mutex_unlock(&ss->lock);
    return copy;
}

static bool entry_has_subject(const entry_t *e, const uint8_t *subject)
{
    for (unsigned i = 0; i < e->nsubjects; i++) {
        if (memcmp(e->subjects[i], subject, DERIVE_ID_LEN) == 0)
            return true;
    }
    return false;
}

/* Records that `e` belongs to the check's subjects. Call with e's shard locked. */
static void entry_join_subjects(memory_store_t *m, entry_t *e, const store_check_t *check)
{
    for (unsigned i = 0; i < check->nsubjects; i++) {
        if (entry_has_subject(e, check->subjects[i]))
            continue;
        e->subjects = rw_realloc(e->subjects, (e->nsubjects + 1u) * DERIVE_ID_LEN);
        memcpy(e->subjects[e->nsubjects++], check->subjects[i], DERIVE_ID_LEN);
        subject_add(m, check->subjects[i], e->id);
    }
}

/* Frees an entry already unlinked from its shard. Call with that shard locked. */
static void entry_free(memory_store_t *m, entry_t *e)
{
    for (unsigned i = 0; i < e->nsubjects; i++)
        subject_remove(m, e->subjects[i], e->id);
    free(e->subjects);
    free(e);
}

/* --- counters -------------------------------------------------------------------------- */

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

static entry_t **shard_find(shard_t *s, const uint8_t *id)
{
    entry_t **link = &s->buckets[id_hash(id) & (s->nbuckets - 1)];

    while (*link != NULL && memcmp((*link)->id, id, DERIVE_ID_LEN) != 0)
        link = &(*link)->next;
    return link;
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
        entry_free(m, e);
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
    store_status_t status = STORE_OK;
    limiter_result_t result;
    entry_t *e;

    pthread_mutex_lock(&s->lock);
    entry_t **slot = &s->buckets[id_hash(check->counter_id) & (s->nbuckets - 1)];
    for (e = *slot; e != NULL; e = e->next) {
        if (memcmp(e->id, check->counter_id, DERIVE_ID_LEN) == 0)
            break;
    }

    if (e != NULL) {
        sliding_window_check(&e->state, &check->req, check->now_ms, &result);
        if (result.changed) {
            e->expires_at_ms = result.expires_at_ms;
            entry_join_subjects(m, e, check);
        }
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

    e = rw_calloc(1, sizeof(*e));
    memcpy(e->id, check->counter_id, DERIVE_ID_LEN);
    e->window_ms = check->req.window_ms;
    e->expires_at_ms = result.expires_at_ms;
    e->algorithm = (uint8_t)check->algorithm;
    e->state = fresh;
    e->next = *slot;
    *slot = e;
    entry_join_subjects(m, e, check);
    if (++s->count > s->nbuckets)
        shard_resize(m, s, s->nbuckets * 2);

out:
    pthread_mutex_unlock(&s->lock);
    cb(data, status, &result);
}

/* --- privacy --------------------------------------------------------------------------- */

static void memory_audit_append(store_worker_t *worker, const uint8_t *tag,
                                const store_audit_t *record);

static void memory_erase(store_worker_t *worker, const store_subject_t *subject, store_erase_cb cb,
                         void *data)
{
    memory_store_t *m = (memory_store_t *)worker->store;
    uint64_t now = clock_now_ms(), erased = 0;
    size_t count;
    id_t_ *ids = subject_counters(m, subject->subject_id, &count);

    for (size_t i = 0; i < count; i++) {
        shard_t *s = &m->shards[ids[i][0]];
        pthread_mutex_lock(&s->lock);
        entry_t **link = shard_find(s, ids[i]);
        entry_t *e = *link;
        if (e != NULL) {
            erased += e->expires_at_ms > now;
            *link = e->next;
            entry_free(m, e);
            s->count--;
            atomic_fetch_sub(&m->keys, 1);
        }
        pthread_mutex_unlock(&s->lock);
    }
    free(ids);
    store_audit_t record = subject->audit;
    record.count = erased;
    memory_audit_append(worker, subject->tenant_tag, &record);
    cb(data, STORE_OK, erased);
}

static void memory_summary(store_worker_t *worker, const store_subject_t *subject,
                           store_summary_cb cb, void *data)
{
    memory_store_t *m = (memory_store_t *)worker->store;
    uint64_t now = clock_now_ms();
    size_t count, n = 0;
    id_t_ *ids = subject_counters(m, subject->subject_id, &count);
    store_counter_info_t *items = rw_calloc(count ? count : 1, sizeof(*items));

    uint64_t total = 0;

    for (size_t i = 0; i < count; i++) {
        shard_t *s = &m->shards[ids[i][0]];
        pthread_mutex_lock(&s->lock);
        entry_t *e = *shard_find(s, ids[i]);
        if (e != NULL && e->expires_at_ms > now && total++ < STORE_SUMMARY_MAX) {
            items[n].algorithm = (limiter_algorithm_t)e->algorithm;
            items[n].window_ms = e->window_ms;
            items[n].expires_in_ms = e->expires_at_ms - now;
            n++;
        }
        pthread_mutex_unlock(&s->lock);
    }
    free(ids);
    store_audit_t record = subject->audit;
    record.count = total;
    memory_audit_append(worker, subject->tenant_tag, &record);
    cb(data, STORE_OK, items, n, total);
    free(items);
}

/* --- the privacy audit: a bounded ring, and a JSON-lines file the sweeper appends to --- */

static void audit_format(const store_audit_t *r, const uint8_t *tag, buf_t *b)
{
    char when[40], tag_hex[2 * DERIVE_TAG_LEN + 1];

    clock_format_rfc3339(r->time_ms, 1, when, sizeof(when));
    derive_hex(tag, DERIVE_TAG_LEN, tag_hex);
    buf_printf(b,
               "{\"time_ms\":%llu,\"time\":\"%s\",\"tenant\":\"%s\",\"action\":\"%s\","
               "\"subject\":\"%s\",\"reason\":",
               (unsigned long long)r->time_ms, when, tag_hex, r->action, r->subject);
    buf_json_string(b, r->reason, strlen(r->reason));
    buf_printf(b, ",\"count\":%llu,\"request_id\":", (unsigned long long)r->count);
    buf_json_string(b, r->request_id, strlen(r->request_id));
    buf_puts(b, "}\n");
}

static void audit_push(memory_store_t *m, const uint8_t *tag, const store_audit_t *record,
                       bool unwritten)
{
    audit_slot_t *slot = &m->audit[m->audit_next];

    memcpy(slot->tenant_tag, tag, DERIVE_TAG_LEN);
    slot->record = *record;
    m->audit_next = (m->audit_next + 1) % AUDIT_CAPACITY;
    if (m->audit_count < AUDIT_CAPACITY)
        m->audit_count++;
    if (unwritten && m->audit_unwritten < AUDIT_CAPACITY)
        m->audit_unwritten++;
}

static void memory_audit_append(store_worker_t *worker, const uint8_t *tag,
                                const store_audit_t *record)
{
    memory_store_t *m = (memory_store_t *)worker->store;

    pthread_mutex_lock(&m->audit_lock);
    audit_push(m, tag, record, m->audit_path != NULL);
    pthread_mutex_unlock(&m->audit_lock);
}

static void memory_audit_list(store_worker_t *worker, const uint8_t *tag, store_audit_cb cb,
                              void *data)
{
    memory_store_t *m = (memory_store_t *)worker->store;
    store_audit_t *out = rw_calloc(STORE_AUDIT_MAX, sizeof(*out));
    uint64_t oldest = clock_now_ms() - STORE_AUDIT_RETENTION_MS;
    size_t n = 0;

    pthread_mutex_lock(&m->audit_lock);
    size_t start = (m->audit_next + AUDIT_CAPACITY - m->audit_count) % AUDIT_CAPACITY;
    for (size_t i = 0; i < m->audit_count; i++) {
        const audit_slot_t *slot = &m->audit[(start + i) % AUDIT_CAPACITY];
        if (memcmp(slot->tenant_tag, tag, DERIVE_TAG_LEN) != 0 || slot->record.time_ms < oldest)
            continue;
        if (n == STORE_AUDIT_MAX) {
            memmove(out, out + 1, (STORE_AUDIT_MAX - 1) * sizeof(*out));
            n--;
        }
        out[n++] = slot->record;
    }
    pthread_mutex_unlock(&m->audit_lock);
    cb(data, STORE_OK, out, n);
    free(out);
}

/* Appends the records not yet in the file. Runs on the sweeper thread, never a loop. */
static void audit_flush(memory_store_t *m)
{
    char line[4096]; /* a record, every byte of its reason escaped: under 2 KiB */
    buf_t b;

    pthread_mutex_lock(&m->audit_lock);
    size_t n = m->audit_unwritten;
    if (n == 0 || m->audit_path == NULL) {
        pthread_mutex_unlock(&m->audit_lock);
        return;
    }
    size_t cap = n * 512;
    char *text = rw_malloc(cap);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const audit_slot_t *slot =
            &m->audit[(m->audit_next + AUDIT_CAPACITY - n + i) % AUDIT_CAPACITY];
        b = buf_init(line, sizeof(line));
        audit_format(&slot->record, slot->tenant_tag, &b);
        if (b.overflow)
            continue; /* cannot happen with the bounds of a record; never write half a line */
        if (len + b.len > cap) {
            cap = (len + b.len) * 2;
            text = rw_realloc(text, cap);
        }
        memcpy(text + len, line, b.len);
        len += b.len;
    }
    m->audit_unwritten = 0;
    pthread_mutex_unlock(&m->audit_lock);

    int fd = open(m->audit_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len)
        LOG_WARN("cannot append to the privacy audit %s: %s", m->audit_path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(text);
}

static int unhex_into(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static void copy_str(char *dst, size_t cap, json_t *v)
{
    const char *s = json_string_value(v);

    snprintf(dst, cap, "%s", s ? s : "");
}

/* Reloads the file's records within retention, then rewrites it without the older ones. */
static void audit_load(memory_store_t *m)
{
    FILE *f = fopen(m->audit_path, "r");
    uint64_t oldest = clock_now_ms() - STORE_AUDIT_RETENTION_MS;
    char line[4096];
    size_t kept = 0, dropped = 0;

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        json_t *doc = json_loads(line, 0, NULL);
        json_t *tag = json_object_get(doc, "tenant");
        store_audit_t r;
        uint8_t tag_bytes[DERIVE_TAG_LEN];

        memset(&r, 0, sizeof(r));
        r.time_ms = (uint64_t)json_integer_value(json_object_get(doc, "time_ms"));
        if (doc == NULL || !json_is_string(tag) || r.time_ms < oldest ||
            strlen(json_string_value(tag)) != 2 * DERIVE_TAG_LEN ||
            unhex_into(json_string_value(tag), tag_bytes, DERIVE_TAG_LEN) != 0) {
            dropped++;
            json_decref(doc);
            continue;
        }
        copy_str(r.action, sizeof(r.action), json_object_get(doc, "action"));
        copy_str(r.subject, sizeof(r.subject), json_object_get(doc, "subject"));
        copy_str(r.reason, sizeof(r.reason), json_object_get(doc, "reason"));
        copy_str(r.request_id, sizeof(r.request_id), json_object_get(doc, "request_id"));
        r.count = (uint64_t)json_integer_value(json_object_get(doc, "count"));
        audit_push(m, tag_bytes, &r, false);
        kept++;
        json_decref(doc);
    }
    fclose(f);
    if (dropped > 0) {
        /* Rewrite the file with what is kept: the ring now holds it, oldest first. */
        m->audit_unwritten = m->audit_count;
        if (unlink(m->audit_path) != 0)
            LOG_WARN("cannot prune the privacy audit %s", m->audit_path);
        audit_flush(m);
    }
    LOG_INFO("privacy audit: %zu records kept, %zu past retention dropped", kept, dropped);
}

/* --- the sweeper ----------------------------------------------------------------------- */

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
        audit_flush(m);
        if (m->snapshot_path != NULL && m->snapshot_interval_ms > 0 && now >= m->next_snapshot_ms) {
            memory_snapshot_write(m, now);
            m->next_snapshot_ms = now + m->snapshot_interval_ms;
        }

        pthread_mutex_lock(&m->sweeper_lock);
    }
    pthread_mutex_unlock(&m->sweeper_lock);
    return NULL;
}

/* --- the store interface --------------------------------------------------------------- */

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

    memset(out, 0, sizeof(*out));
    out->counts_keys = 1;
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
    audit_flush(m);
    if (m->snapshot_path != NULL)
        memory_snapshot_write(m, clock_now_ms());

    for (int i = 0; i < SHARD_COUNT; i++) {
        shard_t *s = &m->shards[i];
        for (size_t b = 0; b < s->nbuckets; b++) {
            entry_t *e = s->buckets[b];
            while (e != NULL) {
                entry_t *next = e->next;
                entry_free(m, e);
                e = next;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    for (int i = 0; i < SUBJECT_SHARD_COUNT; i++) {
        free(m->subjects[i].buckets);
        pthread_mutex_destroy(&m->subjects[i].lock);
    }
    pthread_cond_destroy(&m->sweeper_wake);
    pthread_mutex_destroy(&m->sweeper_lock);
    pthread_mutex_destroy(&m->audit_lock);
    free(m->audit);
    free(m->audit_path);
    free(m->snapshot_path);
    free(m);
}

static const struct store_ops memory_ops = {
    .kind = "memory",
    .worker_attach = memory_worker_attach,
    .worker_detach = memory_worker_detach,
    .check = memory_check,
    .erase = memory_erase,
    .summary = memory_summary,
    .audit_list = memory_audit_list,
    .stats = memory_stats,
    .destroy = memory_destroy,
};

void memory_restore_entry(memory_store_t *m, entry_t *e)
{
    shard_t *s = &m->shards[e->id[0]];
    entry_t **slot = &s->buckets[id_hash(e->id) & (s->nbuckets - 1)];

    e->next = *slot;
    *slot = e;
    for (unsigned i = 0; i < e->nsubjects; i++)
        subject_add(m, e->subjects[i], e->id);
    atomic_fetch_add(&m->keys, 1);
    if (++s->count > s->nbuckets)
        shard_resize(m, s, s->nbuckets * 2);
}

store_t *store_memory_create(uint64_t max_keys, const char *data_dir, uint64_t snapshot_interval_s)
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
    for (int i = 0; i < SUBJECT_SHARD_COUNT; i++) {
        pthread_mutex_init(&m->subjects[i].lock, NULL);
        m->subjects[i].buckets = rw_calloc(MIN_BUCKETS, sizeof(subject_t *));
        m->subjects[i].nbuckets = MIN_BUCKETS;
    }
    atomic_store(&m->bucket_bytes, (uint64_t)SHARD_COUNT * MIN_BUCKETS * sizeof(entry_t *));

    pthread_mutex_init(&m->audit_lock, NULL);
    m->audit = rw_calloc(AUDIT_CAPACITY, sizeof(*m->audit));
    if (data_dir != NULL && data_dir[0] != '\0') {
        size_t n = strlen(data_dir) + sizeof(AUDIT_FILE) + 2;
        m->audit_path = rw_malloc(n);
        snprintf(m->audit_path, n, "%s/%s", data_dir, AUDIT_FILE);
        audit_load(m);
        n = strlen(data_dir) + sizeof(SNAPSHOT_FILE) + 2;
        m->snapshot_path = rw_malloc(n);
        snprintf(m->snapshot_path, n, "%s/%s", data_dir, SNAPSHOT_FILE);
        m->snapshot_interval_ms = snapshot_interval_s * 1000;
        m->next_snapshot_ms = clock_now_ms() + m->snapshot_interval_ms;
        memory_snapshot_load(m, clock_now_ms());
    }

    pthread_mutex_init(&m->sweeper_lock, NULL);
    pthread_cond_init(&m->sweeper_wake, NULL);
    if (pthread_create(&m->sweeper, NULL, sweeper_main, m) != 0) {
        LOG_ERROR("cannot start the embedded store's sweeper thread");
        abort();
    }
    return &m->base;
}
