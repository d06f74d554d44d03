/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The command-line front end: reads the configuration, builds the store and the server,
 * and turns signals into an orderly stop. Everything it starts lives in the modules.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "http/server.h"
#include "store/store.h"
#include "util/log.h"
#include "version.h"

static server_t server;

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    int sig;

    if (sigwait(set, &sig) == 0) {
        LOG_INFO("received %s, finishing requests in flight", strsignal(sig));
        server_stop(&server);
    }
    return NULL;
}

static int run_server(const config_t *config)
{
    log_level_t level;
    char described[2048];
    sigset_t set;
    pthread_t signal_thread;
    int rc = 1;

    log_level_parse(config->log_level, &level);
    log_configure(level,
                  strcmp(config->log_format, "text") == 0 ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON);

    /* Every thread inherits a mask with the stop signals blocked; one thread waits for them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (config->redis_url != NULL && config->redis_url[0] != '\0') {
        LOG_ERROR("REDIS_URL: the Redis store is not built into this version");
        return 1;
    }
    store_t *store = store_memory_create(config->max_keys);

    if (server_init(&server, config, store) != 0)
        goto out;

    config_describe(config, described, sizeof(described));
    LOG_AT(LOG_LEVEL_INFO, NULL, described, "ratewatch %s listening on %s port %u, %zu workers",
           RATEWATCH_VERSION, config->bind, (unsigned)config->port, server.nworkers);

    pthread_create(&signal_thread, NULL, signal_main, &set);
    pthread_detach(signal_thread);
    server_run(&server);
    LOG_INFO("stopped");
    rc = 0;

out:
    server_dispose(&server);
    store_destroy(store);
    return rc;
}

int main(int argc, char **argv)
{
    config_t config;
    char err[512];
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_print_help(argv[0]);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("ratewatch %s (%s)\n", RATEWATCH_VERSION, RATEWATCH_BUILD);
            return 0;
        }
        if (strcmp(argv[i], "--help-markdown") == 0) {
            config_print_markdown();
            return 0;
        }
    }

    if (config_load(&config, argc - 1, argv + 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "ratewatch: %s\n", err);
        config_free(&config);
        return 2;
    }
    rc = run_server(&config);
    config_free(&config);
    return rc;
}
