/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Every setting is declared once, in the table in config.c: its environment variable,
 * command-line flag, default, bounds and help text. The parser, `--help` and the
 * configuration table in README.md (`ratewatch --help-markdown`) all read that table.
 * Precedence: flag, then environment variable, then default.
 */
#ifndef RW_CONFIG_H
#define RW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t port;
    char *bind;
    uint64_t workers; /* 0: one per CPU */
    char *log_level;
    char *log_format;
    uint64_t max_keys;
    char *redis_url; /* NULL or empty: the embedded store */
    uint64_t redis_timeout_ms;
    char *fail_mode; /* "open" or "closed" */
    uint64_t shutdown_timeout_s;
    uint64_t snapshot_interval_s;
    char *env;            /* "development" or "production" */
    char *api_key_secret; /* empty: the development secret (development only) */
    char *data_dir;       /* empty: nothing persisted */
    uint64_t max_connections;
    uint64_t request_timeout_ms;
    uint64_t max_header_count;
    uint64_t max_header_bytes;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_min;
    char *metrics_token;
    char *access_log;
    /* Derived by config_finish() from access_log. */
    _Atomic int access_log_mode; /* 0 off, 1 all, 2 errors, 3 sample; changes on SIGHUP */
    _Atomic uint64_t access_log_every;
    char *env_file;
} config_t;

/*
 * On SIGHUP: applies RATEWATCH_LOG_LEVEL and RATEWATCH_ACCESS_LOG from the KEY=VALUE file
 * RATEWATCH_ENV_FILE, if set. The other settings need a restart. Returns 0, or -1 with a
 * message (nothing is changed then).
 */
int config_reload(config_t *config, char *err, size_t err_size);

/* Whether RATEWATCH_ENV is production. */
int config_is_production(const config_t *config);

/*
 * Settles what depends on other settings (the bind address by mode, the production
 * secret, TLS files in pairs). Returns 0, or -1 with a message naming the setting.
 */
int config_finish(config_t *config, char *err, size_t err_size);

/*
 * Fills `config` from the defaults, the environment and `argv` (after the program name).
 * Returns 0, or -1 with a message that names the setting in `err`. The strings in
 * `config` are owned by it until config_free().
 */
int config_load(config_t *config, int argc, char **argv, char *err, size_t err_size);
void config_free(config_t *config);

void config_print_help(const char *program);
void config_print_markdown(void);

/* The effective configuration as JSON members for the start-up log; secrets redacted. */
void config_describe(const config_t *config, char *out, size_t size);

#endif
