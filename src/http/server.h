/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The HTTP server: one worker thread per core, each with its own h2o event loop and its
 * own listening socket on the shared port (SO_REUSEPORT), so the kernel spreads
 * connections and no two workers share a lock on the request path.
 */
#ifndef RW_HTTP_SERVER_H
#define RW_HTTP_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <h2o.h>
#include <openssl/ssl.h>

#include "config.h"
#include "crypto/derive.h"
#include "metrics/metrics.h"
#include "store/store.h"

typedef struct server server_t;

typedef struct worker {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int listen_fd;
    store_worker_t *store;
    server_t *server;
    unsigned index;
    uint64_t request_seq;
    _Atomic uint64_t open_connections;
    uint64_t in_flight; /* requests dispatched and not yet disposed of; this thread only */
    int disposed;
    uint64_t access_seq;           /* for RATEWATCH_ACCESS_LOG=sample:N */
    struct auth_cache *auth_cache; /* keys this worker has verified; see auth.c */
    metrics_worker_t metrics;
    pthread_t thread;
} worker_t;

/* One request as the API layer sees it; lives in the request's memory pool. */
typedef struct {
    h2o_req_t *req;
    worker_t *worker;
    int status;
    metrics_route_t route;
    uint64_t start_ns;
    char request_id[72];
    /* Set by authentication, for the /v1 endpoints only. */
    char tenant[33];
    size_t tenant_len;
    uint8_t tenant_key[DERIVE_KEY_LEN];
    uint8_t tenant_tag[DERIVE_TAG_LEN];
} api_request_t;

struct server {
    const config_t *config;
    h2o_globalconf_t globalconf;
    store_t *store;
    derive_keys_t keys;
    struct revocations *revocations;
    SSL_CTX *ssl_ctx; /* NULL: plain HTTP */
    int fail_open;    /* RATEWATCH_FAIL_MODE=open */
    worker_t *workers;
    size_t nworkers;
    uint64_t started_ms;
    _Atomic uint64_t open_connections; /* touched on accept and close only */
    char boot_id[9];
    _Atomic int stopping;
};

/*
 * Sets up TLS when configured and binds every worker's listener. The server keeps
 * `config`, `store` and `revocations`; the caller frees them after server_dispose().
 * Returns 0, or -1 after logging why.
 */
int server_init(server_t *server, const config_t *config, const derive_keys_t *keys, store_t *store,
                struct revocations *revocations);

/* Runs the workers until server_stop(); returns when they have all finished. */
void server_run(server_t *server);

/* Asks every worker to stop accepting and finish; safe from any thread. */
void server_stop(server_t *server);

void server_dispose(server_t *server);

/* Open client connections over all workers. */
uint64_t server_open_connections(server_t *server);

#endif
