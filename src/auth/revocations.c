/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "auth/revocations.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/apikey.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define ID_BYTES        (APIKEY_ID_HEX / 2)
#define GRACE_MS        10000
#define WATCH_PERIOD_S  0
#define WATCH_PERIOD_NS 500000000L

typedef struct set {
    size_t count;
    uint8_t (*ids)[ID_BYTES]; /* sorted */
    uint64_t retired_at_ms;
    struct set *next_retired;
} set_t;

struct revocations {
    _Atomic(set_t *) current;
    pthread_mutex_t lock; /* writers and the retired list */
    set_t *retired;
    char *path;
    pthread_t watcher;
    int watching;
    _Atomic int stopping;
    _Atomic int reload_requested;
};

static int unhex(const char *hex, uint8_t *out)
{
    for (size_t i = 0; i < ID_BYTES; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= c - '0';
            else if (c >= 'a' && c <= 'f')
                v |= c - 'a' + 10;
            else
                return -1;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ID_BYTES);
}

revocations_t *revocations_create(void)
{
    revocations_t *r = rw_calloc(1, sizeof(*r));

    pthread_mutex_init(&r->lock, NULL);
    atomic_store(&r->current, rw_calloc(1, sizeof(set_t)));
    return r;
}

static void set_free(set_t *s)
{
    free(s->ids);
    free(s);
}

void revocations_destroy(revocations_t *r)
{
    if (r->watching) {
        atomic_store(&r->stopping, 1);
        pthread_join(r->watcher, NULL);
    }
    while (r->retired != NULL) {
        set_t *next = r->retired->next_retired;
        set_free(r->retired);
        r->retired = next;
    }
    set_free(atomic_load(&r->current));
    pthread_mutex_destroy(&r->lock);
    free(r->path);
    free(r);
}

bool revocations_contains(revocations_t *r, const char *key_id)
{
    uint8_t id[ID_BYTES];
    set_t *s = atomic_load_explicit(&r->current, memory_order_acquire);

    if (s->count == 0 || unhex(key_id, id) != 0)
        return false;
    return bsearch(id, s->ids, s->count, ID_BYTES, id_cmp) != NULL;
}

void revocations_request_reload(revocations_t *r)
{
    atomic_store(&r->reload_requested, 1);
}

int revocations_reload_requested(revocations_t *r)
{
    return atomic_exchange(&r->reload_requested, 0);
}

size_t revocations_count(revocations_t *r)
{
    return atomic_load(&r->current)->count;
}

void revocations_replace(revocations_t *r, char *const *ids, size_t count)
{
    set_t *s = rw_calloc(1, sizeof(*s));
    uint64_t now = clock_mono_ms();

    s->ids = rw_calloc(count ? count : 1, ID_BYTES);
    for (size_t i = 0; i < count; i++) {
        if (apikey_id_ok(ids[i], strlen(ids[i])) && unhex(ids[i], s->ids[s->count]) == 0)
            s->count++;
    }
    qsort(s->ids, s->count, ID_BYTES, id_cmp);

    pthread_mutex_lock(&r->lock);
    set_t *old = atomic_exchange_explicit(&r->current, s, memory_order_acq_rel);
    old->retired_at_ms = now;
    old->next_retired = r->retired;
    r->retired = old;
    /* Free what was retired long enough ago that no reader can still hold it. */
    for (set_t **link = &r->retired; *link != NULL;) {
        set_t *cur = *link;
        if (now - cur->retired_at_ms >= GRACE_MS) {
            *link = cur->next_retired;
            set_free(cur);
        } else {
            link = &cur->next_retired;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

int revocations_file_read(const char *path, char ***ids_out, size_t *count_out)
{
    FILE *f = fopen(path, "r");
    char line[256];
    char **ids = NULL;
    size_t count = 0, cap = 0;

    *ids_out = NULL;
    *count_out = 0;
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strspn(line, "0123456789abcdef");
        if (line[0] == '#' || n != APIKEY_ID_HEX)
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            ids = rw_realloc(ids, cap * sizeof(*ids));
        }
        ids[count++] = rw_strndup(line, n);
    }
    fclose(f);
    *ids_out = ids;
    *count_out = count;
    return 0;
}

int revocations_file_append(const char *path, const char *key_id)
{
    char line[96], when[40];
    int fd, rc = -1;

    clock_format_rfc3339(clock_now_ms(), 0, when, sizeof(when));
    int n = snprintf(line, sizeof(line), "%s %s\n", key_id, when);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
        return -1;
    if (write(fd, line, (size_t)n) == n && fsync(fd) == 0)
        rc = 0;
    close(fd);
    return rc;
}

static void reload(revocations_t *r)
{
    char **ids;
    size_t count;

    if (revocations_file_read(r->path, &ids, &count) != 0) {
        LOG_WARN("cannot read the revocation file %s: %s", r->path, strerror(errno));
        return;
    }
    revocations_replace(r, ids, count);
    for (size_t i = 0; i < count; i++)
        free(ids[i]);
    free(ids);
    LOG_INFO("revocations loaded: %zu key ids", count);
}

static void *watch_main(void *arg)
{
    revocations_t *r = arg;
    struct stat st;
    struct timespec last = {0, 0};
    off_t last_size = 0;

    if (stat(r->path, &st) == 0) {
        last = st.st_mtim;
        last_size = st.st_size;
    }

    while (!atomic_load(&r->stopping)) {
        struct timespec pause = {WATCH_PERIOD_S, WATCH_PERIOD_NS};

        if (stat(r->path, &st) != 0)
            memset(&st, 0, sizeof(st));
        if (revocations_reload_requested(r) || st.st_mtim.tv_sec != last.tv_sec ||
            st.st_mtim.tv_nsec != last.tv_nsec || st.st_size != last_size) {
            last = st.st_mtim;
            last_size = st.st_size;
            reload(r);
        }
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int revocations_watch_file(revocations_t *r, const char *path)
{
    r->path = rw_strdup(path);
    reload(r);
    if (pthread_create(&r->watcher, NULL, watch_main, r) != 0)
        return -1;
    r->watching = 1;
    return 0;
}
