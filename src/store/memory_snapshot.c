/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Durability of the embedded store: a snapshot of every live counter, written to a
 * temporary file, fsynced, then renamed over the last one, so a crash leaves either the
 * old snapshot or the new one. A BLAKE3 checksum closes the file; a snapshot that is
 * truncated or altered is reported and moved aside, never loaded and never ignored.
 *
 * Layout (integers little-endian): "RWSNAP01", count u64, written_at_ms u64, then per
 * counter: id[16], window_ms, expires_at_ms, window_start_ms, prev, cur (u64 each),
 * algorithm u8, nsubjects u8, subjects[nsubjects][16]; then the checksum of all before.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blake3.h>

#include "store/memory_internal.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAGIC     "RWSNAP01"
#define MAGIC_LEN 8
#define SUM_LEN   32

typedef struct {
    uint8_t *data;
    size_t len, cap;
} bytes_t;

static void put(bytes_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->cap + n) * 2;
        b->data = rw_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u64(bytes_t *b, uint64_t v)
{
    uint8_t le[8];

    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    put(b, le, 8);
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory makes the rename itself durable. */
static void sync_dir(const char *path)
{
    char *copy = rw_strdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int memory_snapshot_write(memory_store_t *m, uint64_t now_ms)
{
    bytes_t b = {NULL, 0, 0};
    uint64_t count = 0;
    uint8_t sum[SUM_LEN];
    blake3_hasher h;
    char tmp[4096];
    int fd, rc = -1;

    put(&b, MAGIC, MAGIC_LEN);
    put_u64(&b, 0); /* the count, filled in below */
    put_u64(&b, now_ms);
    for (int i = 0; i < SHARD_COUNT; i++) {
        shard_t *s = &m->shards[i];
        pthread_mutex_lock(&s->lock);
        for (size_t k = 0; k < s->nbuckets; k++) {
            for (entry_t *e = s->buckets[k]; e != NULL; e = e->next) {
                if (e->expires_at_ms <= now_ms)
                    continue;
                put(&b, e->id, DERIVE_ID_LEN);
                put_u64(&b, e->window_ms);
                put_u64(&b, e->expires_at_ms);
                put_u64(&b, e->state.window_start_ms);
                put_u64(&b, e->state.prev);
                put_u64(&b, e->state.cur);
                put(&b, &e->algorithm, 1);
                put(&b, &e->nsubjects, 1);
                put(&b, e->subjects, (size_t)e->nsubjects * DERIVE_ID_LEN);
                count++;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    for (int i = 0; i < 8; i++)
        b.data[MAGIC_LEN + i] = (uint8_t)(count >> (8 * i));
    blake3_hasher_init(&h);
    blake3_hasher_update(&h, b.data, b.len);
    blake3_hasher_finalize(&h, sum, SUM_LEN);
    put(&b, sum, SUM_LEN);

    snprintf(tmp, sizeof(tmp), "%s.tmp", m->snapshot_path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        goto out;
    if (write_all(fd, b.data, b.len) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, m->snapshot_path) != 0) {
        unlink(tmp);
        goto out;
    }
    sync_dir(m->snapshot_path);
    rc = 0;
    LOG_DEBUG("snapshot: %llu counters written", (unsigned long long)count);

out:
    if (rc != 0)
        LOG_ERROR("snapshot: cannot write %s: %s", m->snapshot_path, strerror(errno));
    free(b.data);
    return rc;
}

static void set_aside(const char *path, uint64_t now_ms, const char *why)
{
    char aside[4200];

    snprintf(aside, sizeof(aside), "%s.corrupt-%llu", path, (unsigned long long)now_ms);
    if (rename(path, aside) == 0)
        LOG_ERROR("snapshot: %s is %s; moved to %s and starting without it", path, why, aside);
    else
        LOG_ERROR("snapshot: %s is %s and cannot be moved aside (%s); starting without it", path,
                  why, strerror(errno));
}

/* Parses `data` into entries; returns NULL on success or what is wrong. */
static const char *parse(memory_store_t *m, const uint8_t *data, size_t len, uint64_t now_ms,
                         uint64_t *loaded, uint64_t *expired)
{
    uint8_t sum[SUM_LEN];
    blake3_hasher h;
    const size_t fixed = DERIVE_ID_LEN + 5 * 8 + 2;

    if (len < MAGIC_LEN + 16 + SUM_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0)
        return "not a RateWatch snapshot (or truncated)";
    blake3_hasher_init(&h);
    blake3_hasher_update(&h, data, len - SUM_LEN);
    blake3_hasher_finalize(&h, sum, SUM_LEN);
    if (memcmp(sum, data + len - SUM_LEN, SUM_LEN) != 0)
        return "corrupt or truncated (checksum mismatch)";

    uint64_t count = get_u64(data + MAGIC_LEN);
    const uint8_t *p = data + MAGIC_LEN + 16, *end = data + len - SUM_LEN;
    for (uint64_t i = 0; i < count; i++) {
        if ((size_t)(end - p) < fixed)
            return "inconsistent (records run past the end)";
        unsigned nsub = p[fixed - 1];
        if ((size_t)(end - p) < fixed + nsub * DERIVE_ID_LEN || nsub > 64)
            return "inconsistent (records run past the end)";
        uint64_t window_ms = get_u64(p + 16), expires = get_u64(p + 24);
        if (window_ms == 0 || window_ms > LIMITER_MAX_WINDOW_MS ||
            p[fixed - 2] >= LIMITER_ALGORITHM_COUNT)
            return "inconsistent (a counter is out of range)";
        if (expires > now_ms) {
            entry_t *e = rw_calloc(1, sizeof(*e));
            memcpy(e->id, p, DERIVE_ID_LEN);
            e->window_ms = window_ms;
            e->expires_at_ms = expires;
            e->state.window_start_ms = get_u64(p + 32);
            e->state.prev = get_u64(p + 40);
            e->state.cur = get_u64(p + 48);
            e->algorithm = p[fixed - 2];
            e->nsubjects = (uint8_t)nsub;
            e->subjects = rw_malloc((nsub ? nsub : 1) * DERIVE_ID_LEN);
            memcpy(e->subjects, p + fixed, nsub * DERIVE_ID_LEN);
            memory_restore_entry(m, e);
            (*loaded)++;
        } else {
            (*expired)++;
        }
        p += fixed + nsub * DERIVE_ID_LEN;
    }
    if (p != end)
        return "inconsistent (bytes after the last record)";
    return NULL;
}

void memory_snapshot_load(memory_store_t *m, uint64_t now_ms)
{
    struct stat st;
    uint64_t loaded = 0, expired = 0;
    int fd = open(m->snapshot_path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno != ENOENT)
            LOG_ERROR("snapshot: cannot open %s: %s", m->snapshot_path, strerror(errno));
        else
            LOG_INFO("snapshot: none at %s yet", m->snapshot_path);
        return;
    }
    if (fstat(fd, &st) != 0 || st.st_size > (off_t)(1ULL << 34)) {
        close(fd);
        set_aside(m->snapshot_path, now_ms, "unreadable or implausibly large");
        return;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *data = rw_malloc(len ? len : 1);
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, data + got, len - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);

    const char *why = got == len ? parse(m, data, len, now_ms, &loaded, &expired) : "unreadable";
    free(data);
    if (why != NULL) {
        /* Nothing half-loaded stays: the store starts empty, and says so. */
        store_memory_sweep(&m->base, UINT64_MAX);
        set_aside(m->snapshot_path, now_ms, why);
        return;
    }
    LOG_INFO("snapshot: %llu counters restored, %llu expired ones dropped",
             (unsigned long long)loaded, (unsigned long long)expired);
}
