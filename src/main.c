/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The command-line front end: reads the configuration, builds the store and the server,
 * and turns signals into an orderly stop; `ratewatch keys ...` goes to the key commands.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/revocations.h"
#include "cli/keys.h"
#include "config.h"
#include "crypto/apikey.h"
#include "http/server.h"
#include "store/redis.h"
#include "store/store.h"
#include "util/log.h"
#include "version.h"

static server_t server;

static void configure_logging(const config_t *config);

/* SIGHUP: revocations and the reloadable settings; the stop signals: an orderly stop. */
static void *signal_main(void *arg)
{
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    while (sigwait(&set, &sig) == 0) {
        if (sig == SIGHUP) {
            char err[512];
            config_t *config = arg;
            revocations_request_reload(server.revocations);
            if (config_reload(config, err, sizeof(err)) != 0) {
                LOG_ERROR("reload refused, nothing changed: %s", err);
                continue;
            }
            configure_logging(config);
            LOG_INFO("reloaded on SIGHUP: log level %s, access log %s, revocations",
                     config->log_level, config->access_log);
            continue;
        }
        LOG_INFO("received %s, finishing requests in flight", strsignal(sig));
        server_stop(&server);
        break;
    }
    return NULL;
}

static void configure_logging(const config_t *config)
{
    log_level_t level = LOG_LEVEL_INFO;

    log_level_parse(config->log_level, &level);
    log_configure(level,
                  strcmp(config->log_format, "text") == 0 ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON);
}

/* Development mode says so loudly and hands out a key that works at once. */
static void announce_development(const config_t *config, const derive_keys_t *keys,
                                 int development_secret)
{
    char key[APIKEY_MAX_LEN + 1];

    if (config_is_production(config))
        return;
    LOG_WARN("development mode: %s; set RATEWATCH_ENV=production for real use",
             development_secret ? "keys are signed with the public development secret"
                                : "API_KEY_SECRET is set but the mode is still development");
    /* A ready key only under the public secret: with a real one, keys come from the CLI. */
    if (!development_secret)
        return;
    auth_development_key(keys, "dev", key, sizeof(key));
    printf("RateWatch development key (tenant \"dev\"): %s\n", key);
    fflush(stdout);
}

static int run_server(config_t *config)
{
    char described[4096], path[4096];
    derive_keys_t keys;
    pthread_t signal_thread;
    revocations_t *revocations;
    store_t *store = NULL;
    int rc = 1;

    int development_secret = auth_keys_init(config, &keys);
    revocations = revocations_create();

    if (config->redis_url[0] != '\0') {
        char err[512];
        if ((store = store_redis_create(config, revocations, err, sizeof(err))) == NULL) {
            LOG_ERROR("%s", err);
            goto out;
        }
    } else {
        store =
            store_memory_create(config->max_keys, config->data_dir, config->snapshot_interval_s);
        if (auth_revocation_file(config, path, sizeof(path)) == 0 &&
            revocations_watch_file(revocations, path) != 0)
            goto out;
    }

    if (server_init(&server, config, &keys, store, revocations) != 0)
        goto out;

    config_describe(config, described, sizeof(described));
    LOG_AT(LOG_LEVEL_INFO, NULL, described, "ratewatch %s listening on %s port %u%s, %zu workers",
           RATEWATCH_VERSION, config->bind, (unsigned)config->port, server.ssl_ctx ? " (TLS)" : "",
           server.nworkers);
    announce_development(config, &keys, development_secret);

    pthread_create(&signal_thread, NULL, signal_main, config);
    pthread_detach(signal_thread);
    server_run(&server);
    LOG_INFO("stopped");
    rc = 0;

out:
    server_dispose(&server);
    if (store != NULL)
        store_destroy(store);
    revocations_destroy(revocations);
    return rc;
}

int main(int argc, char **argv)
{
    config_t config;
    char err[512];
    int keys_command = argc > 1 && strcmp(argv[1], "keys") == 0;
    sigset_t stop_signals;
    int rc;

    /*
     * Block the stop signals before any thread exists, so that every thread inherits the
     * mask and only the signal thread (once the server runs) receives them.
     */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    if (!keys_command)
        pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 1; i < argc && !keys_command; i++) {
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

    /* The key commands read the settings from the environment only. */
    if (config_load(&config, keys_command ? 0 : argc - 1, argv + 1, err, sizeof(err)) != 0 ||
        config_finish(&config, err, sizeof(err)) != 0) {
        fprintf(stderr, "ratewatch: %s\n", err);
        config_free(&config);
        return 2;
    }
    configure_logging(&config);
    rc = keys_command ? cli_keys_main(&config, argc - 2, argv + 2) : run_server(&config);
    config_free(&config);
    return rc;
}
