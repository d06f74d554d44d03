/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/router.h"
#include "auth/auth.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define LISTEN_BACKLOG         1024
#define MAX_ENTITY_BYTES       (64 * 1024)
#define LOOP_TICK_MS           100
#define SHUTDOWN_IDLE_GRACE_MS 200

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    worker_t *worker = H2O_STRUCT_FROM_MEMBER(worker_t, ctx, req->conn->ctx);

    (void)self;
    router_dispatch(worker, req);
    return 0;
}

static void on_connection_close(void *data)
{
    worker_t *worker = data;

    atomic_fetch_sub_explicit(&worker->open_connections, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&worker->server->open_connections, 1, memory_order_relaxed);
}

/* Accepts one waiting connection and hands it to h2o; returns 0 when none was waiting. */
static int accept_one(worker_t *worker, h2o_socket_t *listener)
{
    h2o_socket_t *sock;

    if ((sock = h2o_evloop_socket_accept(listener)) == NULL)
        return 0;
    /* Over the cap, the connection is closed before a byte is read from it. */
    if (atomic_fetch_add_explicit(&worker->server->open_connections, 1, memory_order_relaxed) >=
        worker->server->config->max_connections) {
        atomic_fetch_sub_explicit(&worker->server->open_connections, 1, memory_order_relaxed);
        h2o_socket_close(sock);
        return 1;
    }
    atomic_fetch_add_explicit(&worker->open_connections, 1, memory_order_relaxed);
    sock->on_close.cb = on_connection_close;
    sock->on_close.data = worker;
    h2o_accept(&worker->accept_ctx, sock);
    return 1;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err == NULL)
        accept_one(listener->data, listener);
}

/*
 * Closing a listener resets the connections still in its accept queue, though their
 * clients have connected and may have sent a request. So: first make the socket drop new
 * connection attempts (a filter that accepts no packet: clients retry their SYN and find
 * the port closed), then accept and serve everything queued, then close.
 */
static void listener_drain_and_close(worker_t *w)
{
    struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
    struct sock_fprog program = {1, &drop_all};

    if (setsockopt(w->listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) != 0)
        LOG_WARN("cannot stop new connections before draining: %s", strerror(errno));
    h2o_socket_read_stop(w->listener);
    while (accept_one(w, w->listener))
        ;
    h2o_socket_close(w->listener);
    w->listener = NULL;
}

static int listen_socket(const config_t *config, int reuse_port)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd, on = 1;

    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, config->bind, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)config->port);
        sslen = sizeof(*sin);
    } else if (inet_pton(AF_INET6, config->bind, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)config->port);
        sslen = sizeof(*sin6);
    } else {
        LOG_ERROR("RATEWATCH_BIND: '%s' is not an IPv4 or IPv6 address", config->bind);
        return -1;
    }

    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
        goto fail;
    return fd;

fail:
    LOG_ERROR("cannot listen on %s port %u: %s", config->bind, (unsigned)config->port,
              strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static SSL_CTX *tls_context(const config_t *config)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int min = strcmp(config->tls_min, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, config->tls_cert_file) != 1) {
        LOG_ERROR("TLS_CERT_FILE: cannot load a PEM certificate chain from %s",
                  config->tls_cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, config->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        LOG_ERROR("TLS_KEY_FILE: cannot load a PEM private key matching the certificate from %s",
                  config->tls_key_file);
        goto fail;
    }
    return ctx;

fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int server_init(server_t *server, const config_t *config, const derive_keys_t *keys, store_t *store,
                struct revocations *revocations)
{
    memset(server, 0, sizeof(*server));
    server->config = config;
    server->store = store;
    server->keys = *keys;
    server->revocations = revocations;
    server->fail_open = strcmp(config->fail_mode, "open") == 0;
    server->started_ms = clock_now_ms();
    snprintf(server->boot_id, sizeof(server->boot_id), "%08x",
             (unsigned)(clock_now_ms() ^ ((uint64_t)getpid() << 16)));

    if (config->tls_cert_file[0] != '\0' && (server->ssl_ctx = tls_context(config)) == NULL)
        return -1;

    h2o_config_init(&server->globalconf);
    server->globalconf.max_request_entity_size = MAX_ENTITY_BYTES;
    server->globalconf.http1.upgrade_to_http2 = 0;
    server->globalconf.http1.req_timeout = config->request_timeout_ms;
    /* No Server field: it tells a client nothing it needs, and costs a sprintf per answer. */
    server->globalconf.server_name = h2o_iovec_init(NULL, 0);
    h2o_hostconf_t *host =
        h2o_config_register_host(&server->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    server->nworkers = config->workers ? config->workers : (size_t)(cpus > 0 ? cpus : 1);
    /*
     * SO_REUSEPORT would let this process share a port that another one (of the same user)
     * already serves, each counting on its own. A first bind without it fails if the port
     * is taken at all.
     */
    int probe = listen_socket(config, 0);
    if (probe < 0)
        return -1;
    close(probe);

    server->workers = rw_calloc(server->nworkers, sizeof(worker_t));
    for (size_t i = 0; i < server->nworkers; i++) {
        worker_t *w = &server->workers[i];
        w->server = server;
        w->index = (unsigned)i;
        if ((w->listen_fd = listen_socket(config, 1)) < 0)
            return -1;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    server_t *server = w->server;
    h2o_evloop_t *loop = h2o_evloop_create();

    h2o_context_init(&w->ctx, loop, &server->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = server->globalconf.hosts;
    w->accept_ctx.ssl_ctx = server->ssl_ctx;
    w->store = store_worker_attach(server->store, loop);

    w->listener = h2o_evloop_socket_create(loop, w->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);

    while (!atomic_load(&server->stopping))
        h2o_evloop_run(loop, LOOP_TICK_MS);

    /*
     * Stop accepting; answer what is in flight with keep-alive off. Connections that are
     * still open once nothing is in flight are idle and close with the process.
     */
    w->ctx.shutdown_requested = 1;
    listener_drain_and_close(w);
    uint64_t deadline = clock_mono_ms() + server->config->shutdown_timeout_s * 1000;
    while ((w->in_flight > 0 || atomic_load(&w->open_connections) > 0) &&
           clock_mono_ms() < deadline) {
        h2o_evloop_run(loop, 10);
        if (w->in_flight == 0 && clock_mono_ms() + SHUTDOWN_IDLE_GRACE_MS < deadline)
            deadline = clock_mono_ms() + SHUTDOWN_IDLE_GRACE_MS;
    }
    if (w->in_flight > 0)
        LOG_WARN("worker %u stopped with %llu requests unanswered", w->index,
                 (unsigned long long)w->in_flight);

    store_worker_detach(w->store);
    auth_cache_free(w);
    if (atomic_load(&w->open_connections) == 0) {
        h2o_context_dispose(&w->ctx);
        h2o_evloop_destroy(loop);
        w->disposed = 1;
    }
    return NULL;
}

void server_run(server_t *server)
{
    for (size_t i = 0; i < server->nworkers; i++)
        pthread_create(&server->workers[i].thread, NULL, worker_main, &server->workers[i]);
    for (size_t i = 0; i < server->nworkers; i++)
        pthread_join(server->workers[i].thread, NULL);
}

void server_stop(server_t *server)
{
    atomic_store(&server->stopping, 1);
}

void server_dispose(server_t *server)
{
    if (server->workers == NULL) /* server_init never ran, or failed before the workers */
        goto config;
    /* A worker whose idle connections outlived it keeps its memory until the process ends. */
    for (size_t i = 0; i < server->nworkers; i++) {
        if (!server->workers[i].disposed)
            return;
    }
    free(server->workers);
    server->workers = NULL;
config:
    if (server->globalconf.hosts != NULL)
        h2o_config_dispose(&server->globalconf);
    if (server->ssl_ctx != NULL)
        SSL_CTX_free(server->ssl_ctx);
}

uint64_t server_open_connections(server_t *server)
{
    return atomic_load_explicit(&server->open_connections, memory_order_relaxed);
}
