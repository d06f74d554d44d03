/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The Redis store. h2o 2.2's loop has no watcher for a foreign file descriptor, so the
 * connection is an h2o socket and hiredis does what it is best at: parsing replies
 * (redisReader). Commands are encoded here and queued; while one write is on the wire,
 * the next commands gather in a second buffer and leave together, so under load many
 * checks share each write and each read.
 *
 * States of a worker's connection: DOWN (waiting to reconnect; checks fail at once,
 * nothing is queued), CONNECTING, and UP. A command that gets no reply within
 * RATEWATCH_REDIS_TIMEOUT_MS takes the connection down with it: on one FIFO pipe a late
 * reply means everything behind it is late too.
 */
#include "store/redis.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <h2o.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "store/redis_url.h"
#include "store/revocations_redis.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#include "lua_scripts.h"

#define TICK_MS            50
#define BACKOFF_MIN_MS     50
#define BACKOFF_MAX_MS     2000
#define REVOCATION_POLL_MS 500
#define AUDIT_STREAM_CAP   10000
#define MAX_WORKERS        256

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_UP } conn_state_t;

typedef struct redis_worker redis_worker_t;
typedef struct redis_cmd redis_cmd_t;

/* Called once per command: with its reply, or with NULL when it failed or timed out. */
typedef void (*redis_reply_cb)(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply);

struct redis_cmd {
    h2o_timeout_entry_t timeout; /* first: the timeout callback finds the command from it */
    redis_cmd_t *next;
    redis_worker_t *worker;
    redis_reply_cb on_reply;
    uint64_t sent_us;
    store_check_cb cb;
    store_erase_cb erase_cb;
    store_summary_cb summary_cb;
    store_audit_cb audit_cb;
    void *data;
    store_check_t check; /* kept to resend as EVAL after NOSCRIPT */
    int retried;
};

typedef struct {
    char *data;
    size_t len, cap;
} outbuf_t;

typedef struct {
    store_t base;
    redis_url_t url;
    uint64_t timeout_ms;
    char sha[41];
    revocations_t *revocations;
    long long revocation_version;

    pthread_mutex_t addr_lock; /* the resolved address, read only when connecting */
    struct sockaddr_storage addr;
    socklen_t addr_len;

    pthread_t resolver;
    int resolver_started;
    _Atomic int stopping;

    pthread_mutex_t error_lock;
    char last_error[160];
    _Atomic uint64_t roundtrip_us; /* of the last revocation poll: a small command */

    _Atomic int workers_attached;
    _Atomic int workers_up;
    _Atomic int was_reachable; /* the last state logged, so each change is logged once */
} redis_store_t;

struct redis_worker {
    store_worker_t base;
    redis_store_t *store;
    h2o_evloop_t *loop;
    int index;
    conn_state_t state;
    h2o_socket_t *sock;
    redisReader *reader;
    outbuf_t out, wire; /* `wire` is being written; `out` gathers the next batch */
    redis_cmd_t *head, *tail;
    redis_cmd_t *free_cmds;
    h2o_timeout_t cmd_timeout;
    h2o_timeout_t tick;
    h2o_timeout_t flush_timeout; /* zero: fires at the end of the loop's current pass */
    h2o_timeout_entry_t flush_entry;
    h2o_timeout_entry_t tick_entry;
    h2o_timeout_entry_t connect_entry;
    uint64_t backoff_ms;
    uint64_t next_attempt_ms;
    uint64_t next_revocation_poll_ms;
    int closing;
};

static void conn_fail(redis_worker_t *w, const char *why);

/* Keeps the latest error for /health/detailed; a new kind of error is logged once. */
static void record_error(redis_store_t *s, const char *why)
{
    int changed;

    pthread_mutex_lock(&s->error_lock);
    changed = strncmp(s->last_error, why, sizeof(s->last_error) - 1) != 0;
    snprintf(s->last_error, sizeof(s->last_error), "%s", why);
    pthread_mutex_unlock(&s->error_lock);
    if (changed && !atomic_load(&s->stopping))
        LOG_WARN("redis: %s", why);
}
static void conn_flush(redis_worker_t *w);

/* --- store-wide state ------------------------------------------------------------------ */

static void reachability_changed(redis_store_t *s)
{
    if (atomic_load(&s->stopping))
        return;
    int up = atomic_load(&s->workers_up) == atomic_load(&s->workers_attached);

    if (atomic_exchange(&s->was_reachable, up) == up)
        return;
    if (up)
        LOG_INFO("redis: reachable at %s", s->url.path[0] ? s->url.path : s->url.host);
    else
        LOG_WARN("redis: unreachable; checks answer in the configured fail mode");
}

static int resolve(redis_store_t *s)
{
    struct sockaddr_storage ss;
    socklen_t len;

    memset(&ss, 0, sizeof(ss));
    if (s->url.path[0]) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        sun->sun_family = AF_UNIX;
        size_t n = strnlen(s->url.path, sizeof(sun->sun_path) - 1);
        memcpy(sun->sun_path, s->url.path, n);
        sun->sun_path[n] = '\0';
        len = sizeof(*sun);
    } else {
        struct addrinfo hints = {0}, *res;
        char port[8];
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof(port), "%d", s->url.port);
        if (getaddrinfo(s->url.host, port, &hints, &res) != 0)
            return -1;
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        len = res->ai_addrlen;
        freeaddrinfo(res);
    }
    pthread_mutex_lock(&s->addr_lock);
    s->addr = ss;
    s->addr_len = len;
    pthread_mutex_unlock(&s->addr_lock);
    return 0;
}

/* Retries a failed name lookup off the event loops until it succeeds. */
static void *resolver_main(void *arg)
{
    redis_store_t *s = arg;

    while (!atomic_load(&s->stopping) && resolve(s) != 0) {
        for (int i = 0; i < 10 && !atomic_load(&s->stopping); i++)
            usleep(100000);
    }
    return NULL;
}

/* --- encoding and sending -------------------------------------------------------------- */

static void out_reserve(outbuf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    b->data = rw_realloc(b->data, cap);
    b->cap = cap;
}

static void out_append(outbuf_t *b, const char *s, size_t len)
{
    out_reserve(b, len);
    memcpy(b->data + b->len, s, len);
    b->len += len;
}

/* Appends one command in RESP: an array of bulk strings. */
static void out_command(outbuf_t *b, int argc, const char *const *argv, const size_t *lens)
{
    char head[24];
    size_t n;

    head[0] = '*';
    n = 1 + u64_to_dec(head + 1, (uint64_t)argc);
    head[n++] = '\r';
    head[n++] = '\n';
    out_append(b, head, n);
    for (int i = 0; i < argc; i++) {
        head[0] = '$';
        n = 1 + u64_to_dec(head + 1, lens[i]);
        head[n++] = '\r';
        head[n++] = '\n';
        out_append(b, head, n);
        out_append(b, argv[i], lens[i]);
        out_append(b, "\r\n", 2);
    }
}

static redis_cmd_t *cmd_new(redis_worker_t *w, redis_reply_cb on_reply)
{
    redis_cmd_t *cmd = w->free_cmds;

    if (cmd != NULL)
        w->free_cmds = cmd->next;
    else
        cmd = rw_malloc(sizeof(*cmd));
    memset(cmd, 0, sizeof(*cmd));
    cmd->worker = w;
    cmd->on_reply = on_reply;
    return cmd;
}

static void cmd_free(redis_worker_t *w, redis_cmd_t *cmd)
{
    cmd->next = w->free_cmds;
    w->free_cmds = cmd;
}

static void on_cmd_timeout(h2o_timeout_entry_t *entry)
{
    redis_cmd_t *cmd = (redis_cmd_t *)entry;

    conn_fail(cmd->worker, "a command timed out");
}

/* Queues an encoded command's reply slot; the bytes are already in w->out. */
static void cmd_enqueue(redis_worker_t *w, redis_cmd_t *cmd)
{
    cmd->timeout.cb = on_cmd_timeout;
    h2o_timeout_link(w->loop, &w->cmd_timeout, &cmd->timeout);
    if (w->tail != NULL)
        w->tail->next = cmd;
    else
        w->head = cmd;
    w->tail = cmd;
}

static void on_write_complete(h2o_socket_t *sock, const char *err)
{
    redis_worker_t *w = sock->data;

    w->wire.len = 0;
    if (err != NULL) {
        conn_fail(w, err);
        return;
    }
    conn_flush(w);
}

static void on_flush_due(h2o_timeout_entry_t *entry)
{
    conn_flush(H2O_STRUCT_FROM_MEMBER(redis_worker_t, flush_entry, entry));
}

/*
 * Sends what has gathered once the loop has read everything that is ready now, so the
 * checks of one pass over the clients leave in one write and arrive in one read.
 */
static void conn_flush_soon(redis_worker_t *w)
{
    if (!h2o_timeout_is_linked(&w->flush_entry))
        h2o_timeout_link(w->loop, &w->flush_timeout, &w->flush_entry);
}

/* Sends what has gathered, unless a write is already on the wire. */
static void conn_flush(redis_worker_t *w)
{
    if (w->state == CONN_DOWN || w->sock == NULL || w->wire.len > 0 || w->out.len == 0)
        return;
    outbuf_t t = w->wire;
    w->wire = w->out;
    w->out = t;
    h2o_iovec_t iov = h2o_iovec_init(w->wire.data, w->wire.len);
    h2o_socket_write(w->sock, &iov, 1, on_write_complete);
}

/* --- the check command ----------------------------------------------------------------- */

static void hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
}

/*
 * rw:{<tenant tag>}:<kind>:<id>, kind c for a counter, s for a subject's index, a for the
 * audit stream. The hash tag keeps a tenant's keys in one cluster slot, so every script
 * touches one slot only. `id` may be NULL (the bare prefix, up to the kind's colon).
 */
static size_t store_key(const uint8_t *tag, char kind, const uint8_t *id, char *out)
{
    size_t n = 0;

    memcpy(out, "rw:{", 4);
    n += 4;
    hex(tag, DERIVE_TAG_LEN, out + n);
    n += 2 * DERIVE_TAG_LEN;
    out[n++] = '}';
    out[n++] = ':';
    out[n++] = kind;
    out[n++] = ':';
    if (id != NULL) {
        hex(id, DERIVE_ID_LEN, out + n);
        n += 2 * DERIVE_ID_LEN;
    }
    out[n] = '\0';
    return n;
}

#define KEY_MAX 64

static void encode_check(redis_worker_t *w, const store_check_t *check, int with_body)
{
    char key[KEY_MAX], index[STORE_MAX_SUBJECTS][KEY_MAX], limit[24], window[24], cost[24];
    char member[80], numkeys[20];
    const char *argv[9 + STORE_MAX_SUBJECTS];
    size_t lens[9 + STORE_MAX_SUBJECTS];
    unsigned nsub = check->nsubjects, a = 4 + nsub;

    argv[0] = with_body ? "EVAL" : "EVALSHA";
    lens[0] = strlen(argv[0]);
    argv[1] = with_body ? SLIDING_WINDOW_LUA : w->store->sha;
    lens[1] = with_body ? strlen(SLIDING_WINDOW_LUA) : 40;
    argv[2] = numkeys;
    lens[2] = u64_to_dec(numkeys, 1 + nsub);
    argv[3] = key;
    lens[3] = store_key(check->tenant_tag, 'c', check->counter_id, key);
    for (unsigned i = 0; i < nsub; i++) {
        argv[4 + i] = index[i];
        lens[4 + i] = store_key(check->tenant_tag, 's', check->subjects[i], index[i]);
    }

    argv[a] = limit;
    lens[a] = u64_to_dec(limit, check->req.limit);
    argv[a + 1] = window;
    lens[a + 1] = u64_to_dec(window, check->req.window_ms);
    argv[a + 2] = cost;
    lens[a + 2] = u64_to_dec(cost, check->req.cost);
    argv[a + 3] = ""; /* no time from the caller: the script asks Redis */
    lens[a + 3] = 0;

    /* The index member names the algorithm and window, for the privacy summary. */
    size_t m = u64_to_dec(member, (uint64_t)check->algorithm);
    member[m++] = ':';
    m += u64_to_dec(member + m, check->req.window_ms);
    member[m++] = ':';
    hex(check->counter_id, DERIVE_ID_LEN, member + m);
    argv[a + 4] = member;
    lens[a + 4] = m + 2 * DERIVE_ID_LEN;
    out_command(&w->out, (int)(a + 5), argv, lens);
}

static int integer_at(const redisReply *r, size_t i, long long *out)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_INTEGER)
        return -1;
    *out = r->element[i]->integer;
    return 0;
}

static void on_check_reply(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply)
{
    limiter_result_t result;
    long long allowed, remaining, reset, retry;

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && !cmd->retried && w->state == CONN_UP) {
        /* The script did not run, so sending it whole cannot count the check twice. */
        redis_cmd_t *again = cmd_new(w, on_check_reply);
        again->cb = cmd->cb;
        again->data = cmd->data;
        again->check = cmd->check;
        again->retried = 1;
        encode_check(w, &again->check, 1);
        cmd_enqueue(w, again);
        conn_flush_soon(w);
        return;
    }

    memset(&result, 0, sizeof(result));
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || integer_at(reply, 0, &allowed) ||
        integer_at(reply, 1, &remaining) || integer_at(reply, 2, &reset) ||
        integer_at(reply, 3, &retry)) {
        if (reply != NULL)
            record_error(w->store, reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                    : "a check's reply is not "
                                                                      "an array of 4");
        cmd->cb(cmd->data, STORE_UNAVAILABLE, &result);
        return;
    }
    result.allowed = allowed == 1;
    result.remaining = (uint64_t)remaining;
    result.reset_in_ms = (uint64_t)reset;
    result.retry_after_ms = retry < 0 ? LIMITER_NO_RETRY : (uint64_t)retry;
    result.changed = result.allowed && cmd->check.req.cost > 0;
    w->backoff_ms = BACKOFF_MIN_MS;
    cmd->cb(cmd->data, STORE_OK, &result);
}

static void redis_check(store_worker_t *base, const store_check_t *check, store_check_cb cb,
                        void *data)
{
    redis_worker_t *w = (redis_worker_t *)base;

    if (w->state != CONN_UP) {
        limiter_result_t none;
        memset(&none, 0, sizeof(none));
        cb(data, STORE_UNAVAILABLE, &none);
        return;
    }
    redis_cmd_t *cmd = cmd_new(w, on_check_reply);
    cmd->cb = cb;
    cmd->data = data;
    cmd->check = *check;
    encode_check(w, check, 0);
    cmd_enqueue(w, cmd);
    conn_flush_soon(w);
}

/* --- privacy --------------------------------------------------------------------------- */

static void send_argv(redis_worker_t *w, redis_cmd_t *cmd, int argc, const char **argv)
{
    size_t lens[24];

    for (int i = 0; i < argc && i < 24; i++)
        lens[i] = strlen(argv[i]);
    out_command(&w->out, argc, argv, lens);
    cmd_enqueue(w, cmd);
    conn_flush_soon(w);
}

static void on_erase_reply(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply)
{
    (void)w;
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        cmd->erase_cb(cmd->data, STORE_UNAVAILABLE, 0);
        return;
    }
    cmd->erase_cb(cmd->data, STORE_OK, (uint64_t)reply->integer);
}

/*
 * Sends erase.lua or summary.lua about `subject`: both take the subject's index and the
 * tenant's audit stream as keys, and the same arguments (the counter prefix, the most
 * items to list, then the audit record), so the audit is written in the same script.
 */
static void send_privacy_script(redis_worker_t *w, redis_cmd_t *cmd, const char *script,
                                const store_subject_t *subject)
{
    const store_audit_t *r = &subject->audit;
    char index[KEY_MAX], stream[KEY_MAX], prefix[KEY_MAX];
    char max[24], time_ms[24], cap[24], retention[24];

    store_key(subject->tenant_tag, 's', subject->subject_id, index);
    store_key(subject->tenant_tag, 'a', NULL, stream);
    stream[strlen(stream) - 1] = '\0'; /* "rw:{<tag>}:a" */
    store_key(subject->tenant_tag, 'c', NULL, prefix);
    max[u64_to_dec(max, STORE_SUMMARY_MAX)] = '\0';
    time_ms[u64_to_dec(time_ms, r->time_ms)] = '\0';
    cap[u64_to_dec(cap, AUDIT_STREAM_CAP)] = '\0';
    retention[u64_to_dec(retention, STORE_AUDIT_RETENTION_MS)] = '\0';

    const char *argv[] = {"EVAL",    script,        "2",     index,     stream,
                          prefix,    max,           time_ms, r->action, r->subject,
                          r->reason, r->request_id, cap,     retention};
    send_argv(w, cmd, (int)(sizeof(argv) / sizeof(argv[0])), argv);
}

static void redis_erase(store_worker_t *base, const store_subject_t *subject, store_erase_cb cb,
                        void *data)
{
    redis_worker_t *w = (redis_worker_t *)base;

    if (w->state != CONN_UP) {
        cb(data, STORE_UNAVAILABLE, 0);
        return;
    }
    redis_cmd_t *cmd = cmd_new(w, on_erase_reply);
    cmd->erase_cb = cb;
    cmd->data = data;
    send_privacy_script(w, cmd, ERASE_LUA, subject);
}

static void on_summary_reply(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply)
{
    store_counter_info_t items[STORE_SUMMARY_MAX];
    size_t n = 0;
    long long total;

    (void)w;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || integer_at(reply, 0, &total)) {
        cmd->summary_cb(cmd->data, STORE_UNAVAILABLE, NULL, 0, 0);
        return;
    }
    for (size_t i = 1; i + 2 < reply->elements && n < STORE_SUMMARY_MAX; i += 3) {
        long long algorithm, window, ttl;
        if (integer_at(reply, i, &algorithm) || integer_at(reply, i + 1, &window) ||
            integer_at(reply, i + 2, &ttl))
            break;
        items[n].algorithm = (limiter_algorithm_t)algorithm;
        items[n].window_ms = (uint64_t)window;
        items[n].expires_in_ms = (uint64_t)ttl;
        n++;
    }
    cmd->summary_cb(cmd->data, STORE_OK, items, n, (uint64_t)total);
}

static void redis_summary(store_worker_t *base, const store_subject_t *subject, store_summary_cb cb,
                          void *data)
{
    redis_worker_t *w = (redis_worker_t *)base;

    if (w->state != CONN_UP) {
        cb(data, STORE_UNAVAILABLE, NULL, 0, 0);
        return;
    }
    redis_cmd_t *cmd = cmd_new(w, on_summary_reply);
    cmd->summary_cb = cb;
    cmd->data = data;
    send_privacy_script(w, cmd, SUMMARY_LUA, subject);
}

static const char *field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1]->str;
    }
    return "";
}

static void on_audit_reply(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply)
{
    uint64_t oldest = clock_now_ms() - STORE_AUDIT_RETENTION_MS;
    size_t n = 0;

    (void)w;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        cmd->audit_cb(cmd->data, STORE_UNAVAILABLE, NULL, 0);
        return;
    }
    store_audit_t *out = rw_calloc(reply->elements ? reply->elements : 1, sizeof(*out));
    /* XREVRANGE gives newest first; the answer lists oldest first. */
    for (size_t i = reply->elements; i-- > 0;) {
        const redisReply *entry = reply->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
            entry->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *f = entry->element[1];
        store_audit_t *r = &out[n];
        r->time_ms = strtoull(field(f, "time_ms"), NULL, 10);
        if (r->time_ms < oldest)
            continue;
        snprintf(r->action, sizeof(r->action), "%s", field(f, "action"));
        snprintf(r->subject, sizeof(r->subject), "%s", field(f, "subject"));
        snprintf(r->reason, sizeof(r->reason), "%s", field(f, "reason"));
        snprintf(r->request_id, sizeof(r->request_id), "%s", field(f, "request_id"));
        r->count = strtoull(field(f, "count"), NULL, 10);
        n++;
    }
    cmd->audit_cb(cmd->data, STORE_OK, out, n);
    free(out);
}

static void redis_audit_list(store_worker_t *base, const uint8_t *tag, store_audit_cb cb,
                             void *data)
{
    redis_worker_t *w = (redis_worker_t *)base;
    char key[KEY_MAX], max[16];

    if (w->state != CONN_UP) {
        cb(data, STORE_UNAVAILABLE, NULL, 0);
        return;
    }
    store_key(tag, 'a', NULL, key);
    key[strlen(key) - 1] = '\0';
    snprintf(max, sizeof(max), "%d", STORE_AUDIT_MAX);
    redis_cmd_t *cmd = cmd_new(w, on_audit_reply);
    cmd->audit_cb = cb;
    cmd->data = data;
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", max};
    send_argv(w, cmd, 6, argv);
}

/* --- connection setup and revocations -------------------------------------------------- */

static void on_setup_reply(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply)
{
    (void)cmd;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        conn_fail(w, reply->str);
}

static void send_simple(redis_worker_t *w, redis_reply_cb cb, int argc, const char **argv)
{
    size_t lens[8];

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    out_command(&w->out, argc, argv, lens);
    cmd_enqueue(w, cmd_new(w, cb));
}

static void on_revocation_members(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply)
{
    (void)cmd;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        return;
    char **ids = rw_calloc(reply->elements ? reply->elements : 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            ids[n++] = reply->element[i]->str;
    }
    revocations_replace(w->store->revocations, ids, n);
    free(ids);
    LOG_INFO("revocations loaded from redis: %zu key ids", n);
}

static void on_revocation_version(redis_worker_t *w, redis_cmd_t *cmd, redisReply *reply)
{
    long long version = 0;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        return;
    atomic_store(&w->store->roundtrip_us, clock_mono_ns() / 1000 - cmd->sent_us);
    if (reply->type == REDIS_REPLY_STRING)
        version = strtoll(reply->str, NULL, 10);
    if (version == w->store->revocation_version)
        return;
    w->store->revocation_version = version;
    const char *argv[] = {"SMEMBERS", REVOCATIONS_REDIS_SET};
    send_simple(w, on_revocation_members, 2, argv);
    conn_flush_soon(w);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    redis_worker_t *w = sock->data;
    redis_store_t *s = w->store;

    h2o_timeout_unlink(&w->connect_entry);
    if (err != NULL) {
        conn_fail(w, err);
        return;
    }
    w->state = CONN_UP;
    atomic_fetch_add(&s->workers_up, 1);
    reachability_changed(s);

    if (s->url.password[0]) {
        const char *auth_user[] = {"AUTH", s->url.user, s->url.password};
        const char *auth[] = {"AUTH", s->url.password};
        if (s->url.user[0])
            send_simple(w, on_setup_reply, 3, auth_user);
        else
            send_simple(w, on_setup_reply, 2, auth);
    }
    if (s->url.db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", s->url.db);
        const char *select[] = {"SELECT", db};
        send_simple(w, on_setup_reply, 2, select);
    }
    const char *load[] = {"SCRIPT", "LOAD", SLIDING_WINDOW_LUA};
    send_simple(w, on_setup_reply, 3, load);
    conn_flush_soon(w);
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    redis_worker_t *w = H2O_STRUCT_FROM_MEMBER(redis_worker_t, connect_entry, entry);

    conn_fail(w, "connect timed out");
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    redis_worker_t *w = sock->data;
    void *reply;

    if (err != NULL) {
        conn_fail(w, err);
        return;
    }
    redisReaderFeed(w->reader, sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);

    while (w->state == CONN_UP) {
        if (redisReaderGetReply(w->reader, &reply) != REDIS_OK) {
            conn_fail(w, "malformed reply");
            return;
        }
        if (reply == NULL)
            break;
        redis_cmd_t *cmd = w->head;
        if (cmd == NULL) {
            freeReplyObject(reply);
            conn_fail(w, "a reply nobody asked for");
            return;
        }
        w->head = cmd->next;
        if (w->head == NULL)
            w->tail = NULL;
        h2o_timeout_unlink(&cmd->timeout);
        cmd->on_reply(w, cmd, reply);
        freeReplyObject(reply);
        cmd_free(w, cmd);
    }
}

static void conn_start(redis_worker_t *w)
{
    redis_store_t *s = w->store;
    struct sockaddr_storage addr;
    socklen_t len;

    pthread_mutex_lock(&s->addr_lock);
    addr = s->addr;
    len = s->addr_len;
    pthread_mutex_unlock(&s->addr_lock);
    if (len == 0) {
        conn_fail(w, "the host name is not resolved yet");
        return;
    }

    w->state = CONN_CONNECTING;
    w->sock = h2o_socket_connect(w->loop, (struct sockaddr *)&addr, len, on_connect);
    if (w->sock == NULL) {
        w->state = CONN_DOWN;
        conn_fail(w, strerror(errno));
        return;
    }
    w->sock->data = w;
    if (addr.ss_family != AF_UNIX) {
        int on = 1;
        setsockopt(h2o_socket_get_fd(w->sock), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    h2o_socket_read_start(w->sock, on_read);
    w->reader = redisReaderCreate();
    w->connect_entry.cb = on_connect_timeout;
    h2o_timeout_link(w->loop, &w->cmd_timeout, &w->connect_entry);
}

/*
 * Takes the connection down: every command in flight fails (their checks answer in the
 * fail mode), and a reconnect is scheduled with exponential backoff.
 */
static void conn_fail(redis_worker_t *w, const char *why)
{
    redis_store_t *s = w->store;

    if (w->closing)
        return;
    w->closing = 1;
    LOG_DEBUG("redis: worker %d connection down: %s", w->index, why);
    record_error(s, why);
    if (w->state == CONN_UP) {
        atomic_fetch_sub(&s->workers_up, 1);
        reachability_changed(s);
    }
    w->state = CONN_DOWN;
    h2o_timeout_unlink(&w->connect_entry);
    if (w->sock != NULL) {
        h2o_socket_close(w->sock);
        w->sock = NULL;
    }
    if (w->reader != NULL) {
        redisReaderFree(w->reader);
        w->reader = NULL;
    }
    w->out.len = 0;
    w->wire.len = 0;

    redis_cmd_t *cmd = w->head;
    w->head = w->tail = NULL;
    while (cmd != NULL) {
        redis_cmd_t *next = cmd->next;
        h2o_timeout_unlink(&cmd->timeout);
        cmd->on_reply(w, cmd, NULL);
        cmd_free(w, cmd);
        cmd = next;
    }

    w->next_attempt_ms = clock_mono_ms() + w->backoff_ms;
    w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
    w->closing = 0;
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    redis_worker_t *w = H2O_STRUCT_FROM_MEMBER(redis_worker_t, tick_entry, entry);
    uint64_t now = clock_mono_ms();

    if (w->state == CONN_DOWN && now >= w->next_attempt_ms)
        conn_start(w);
    if (w->index == 0 && w->store->revocations != NULL &&
        revocations_reload_requested(w->store->revocations)) {
        w->store->revocation_version = -1;
        w->next_revocation_poll_ms = 0;
    }
    if (w->index == 0 && w->store->revocations != NULL && w->state == CONN_UP &&
        now >= w->next_revocation_poll_ms) {
        const char *argv[] = {"GET", REVOCATIONS_REDIS_VERSION};
        w->next_revocation_poll_ms = now + REVOCATION_POLL_MS;
        send_simple(w, on_revocation_version, 2, argv);
        w->tail->sent_us = clock_mono_ns() / 1000;
        conn_flush_soon(w);
    }
    h2o_timeout_link(w->loop, &w->tick, &w->tick_entry);
}

/* --- the store interface --------------------------------------------------------------- */

static store_worker_t *redis_worker_attach(store_t *base, struct st_h2o_evloop_t *loop)
{
    redis_store_t *s = (redis_store_t *)base;
    redis_worker_t *w = rw_calloc(1, sizeof(*w));

    w->base.store = base;
    w->store = s;
    w->loop = loop;
    w->index = atomic_fetch_add(&s->workers_attached, 1);
    w->backoff_ms = BACKOFF_MIN_MS;
    h2o_timeout_init(loop, &w->cmd_timeout, s->timeout_ms);
    h2o_timeout_init(loop, &w->tick, TICK_MS);
    h2o_timeout_init(loop, &w->flush_timeout, 0);
    w->flush_entry.cb = on_flush_due;
    w->tick_entry.cb = on_tick;
    h2o_timeout_link(loop, &w->tick, &w->tick_entry);
    conn_start(w);
    return &w->base;
}

static void redis_worker_detach(store_worker_t *base)
{
    redis_worker_t *w = (redis_worker_t *)base;

    atomic_store(&w->store->stopping, 1);
    h2o_timeout_unlink(&w->tick_entry);
    h2o_timeout_unlink(&w->flush_entry);
    conn_fail(w, "shutting down");
    atomic_fetch_sub(&w->store->workers_attached, 1);
    h2o_timeout_dispose(w->loop, &w->tick);
    h2o_timeout_dispose(w->loop, &w->flush_timeout);
    h2o_timeout_dispose(w->loop, &w->cmd_timeout);
    while (w->free_cmds != NULL) {
        redis_cmd_t *next = w->free_cmds->next;
        free(w->free_cmds);
        w->free_cmds = next;
    }
    free(w->out.data);
    free(w->wire.data);
    free(w);
}

static void redis_stats(store_t *base, store_stats_t *out)
{
    redis_store_t *s = (redis_store_t *)base;
    int attached = atomic_load(&s->workers_attached);

    memset(out, 0, sizeof(*out));
    out->reachable = attached > 0 && atomic_load(&s->workers_up) == attached;
    out->roundtrip_ms = (double)atomic_load(&s->roundtrip_us) / 1000.0;
    pthread_mutex_lock(&s->error_lock);
    memcpy(out->last_error, s->last_error, sizeof(out->last_error));
    pthread_mutex_unlock(&s->error_lock);
}

static void redis_destroy(store_t *base)
{
    redis_store_t *s = (redis_store_t *)base;

    atomic_store(&s->stopping, 1);
    if (s->resolver_started)
        pthread_join(s->resolver, NULL);
    pthread_mutex_destroy(&s->addr_lock);
    pthread_mutex_destroy(&s->error_lock);
    free(s);
}

static const struct store_ops redis_ops = {
    .kind = "redis",
    .worker_attach = redis_worker_attach,
    .worker_detach = redis_worker_detach,
    .check = redis_check,
    .erase = redis_erase,
    .summary = redis_summary,
    .audit_list = redis_audit_list,
    .stats = redis_stats,
    .destroy = redis_destroy,
};

store_t *store_redis_create(const config_t *config, revocations_t *revocations, char *err,
                            size_t err_size)
{
    redis_store_t *s = rw_calloc(1, sizeof(*s));
    uint8_t digest[SHA_DIGEST_LENGTH];

    if (redis_url_parse(config->redis_url, &s->url, err, err_size) != 0) {
        free(s);
        return NULL;
    }
    s->base.ops = &redis_ops;
    s->timeout_ms = config->redis_timeout_ms;
    s->revocations = revocations;
    s->revocation_version = -1;
    pthread_mutex_init(&s->addr_lock, NULL);
    pthread_mutex_init(&s->error_lock, NULL);
    SHA1((const unsigned char *)SLIDING_WINDOW_LUA, strlen(SLIDING_WINDOW_LUA), digest);
    hex(digest, sizeof(digest), s->sha);
    s->sha[40] = '\0';

    /* Resolving may block, so it happens here, before any loop runs, or on a thread. */
    if (resolve(s) != 0) {
        LOG_WARN("redis: cannot resolve %s yet; will keep trying", s->url.host);
        s->resolver_started = pthread_create(&s->resolver, NULL, resolver_main, s) == 0;
    }
    return &s->base;
}
