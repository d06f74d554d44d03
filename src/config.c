/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

typedef enum {
    SETTING_UINT,
    SETTING_STRING,
    SETTING_CHOICE,
} setting_type_t;

typedef struct {
    const char *env;
    const char *flag;
    setting_type_t type;
    const char *def;
    uint64_t min, max;   /* SETTING_UINT */
    const char *choices; /* SETTING_CHOICE: values separated by '|' */
    bool secret;         /* redacted wherever it is shown */
    size_t offset;
    const char *help;
} setting_t;

#define FIELD(name) offsetof(config_t, name)

static const setting_t settings[] = {
    {"PORT", "--port", SETTING_UINT, "8081", 1, 65535, NULL, false, FIELD(port),
     "TCP port to listen on."},
    {"RATEWATCH_BIND", "--bind", SETTING_STRING, "", 0, 0, NULL, false, FIELD(bind),
     "Address to listen on (IPv4 or IPv6 literal); unset: 127.0.0.1 in development, 0.0.0.0 "
     "in production."},
    {"RATEWATCH_WORKERS", "--workers", SETTING_UINT, "0", 0, 256, NULL, false, FIELD(workers),
     "Worker threads, each with its own event loop and listener; 0 means one per CPU."},
    {"RATEWATCH_LOG_LEVEL", "--log-level", SETTING_CHOICE, "info", 0, 0, "debug|info|warn|error",
     false, FIELD(log_level), "Lowest level of log records written."},
    {"RATEWATCH_LOG_FORMAT", "--log-format", SETTING_CHOICE, "json", 0, 0, "json|text", false,
     FIELD(log_format), "Log records as JSON lines, or as text for people."},
    {"RATEWATCH_MAX_KEYS", "--max-keys", SETTING_UINT, "1000000", 1, 1000000000, NULL, false,
     FIELD(max_keys),
     "Counters the embedded store tracks at most; a new key beyond it gets "
     "503 store_full, live counters are never evicted."},
    {"REDIS_URL", "--redis-url", SETTING_STRING, "", 0, 0, NULL, true, FIELD(redis_url),
     "Redis to keep counters in (redis://[user:password@]host:port[/db] or "
     "unix:///path/to.sock[?db=N]); empty means the embedded store."},
    {"RATEWATCH_REDIS_TIMEOUT_MS", "--redis-timeout-ms", SETTING_UINT, "100", 1, 60000, NULL, false,
     FIELD(redis_timeout_ms),
     "Bound on connecting to Redis and on every command; past it the check answers in the "
     "fail mode."},
    {"RATEWATCH_FAIL_MODE", "--fail-mode", SETTING_CHOICE, "open", 0, 0, "open|closed", false,
     FIELD(fail_mode),
     "When the store is unavailable: open answers allowed with \"degraded\": true, closed "
     "answers 503 store_unavailable."},
    {"RATEWATCH_SNAPSHOT_INTERVAL_S", "--snapshot-interval", SETTING_UINT, "30", 0, 86400, NULL,
     false, FIELD(snapshot_interval_s),
     "With RATEWATCH_DATA_DIR on the embedded store: seconds between counter snapshots "
     "(0: only at shutdown)."},
    {"RATEWATCH_SHUTDOWN_TIMEOUT_S", "--shutdown-timeout", SETTING_UINT, "10", 1, 3600, NULL, false,
     FIELD(shutdown_timeout_s),
     "On SIGTERM or SIGINT, seconds to finish requests in flight before exiting."},
    {"RATEWATCH_ENV", "--env", SETTING_CHOICE, "development", 0, 0, "development|production", false,
     FIELD(env),
     "production requires API_KEY_SECRET; development uses a fixed secret, binds loopback "
     "only and prints a ready key."},
    {"API_KEY_SECRET", "--api-key-secret", SETTING_STRING, "", 0, 0, NULL, true,
     FIELD(api_key_secret),
     "Root secret (at least 32 bytes in production) from which API-key MACs and storage "
     "hashes are derived."},
    {"RATEWATCH_DATA_DIR", "--data-dir", SETTING_STRING, "", 0, 0, NULL, false, FIELD(data_dir),
     "Directory for the embedded store's files (revoked keys, snapshots, privacy audit)."},
    {"RATEWATCH_MAX_CONNECTIONS", "--max-connections", SETTING_UINT, "10000", 1, 1000000, NULL,
     false, FIELD(max_connections),
     "Open client connections at most; beyond it new ones are closed at once."},
    {"RATEWATCH_REQUEST_TIMEOUT_MS", "--request-timeout-ms", SETTING_UINT, "10000", 100, 600000,
     NULL, false, FIELD(request_timeout_ms),
     "Time to receive a whole request, and to wait idle for the next one on a kept-alive "
     "connection (one timer in h2o 2.2)."},
    {"RATEWATCH_MAX_HEADER_COUNT", "--max-header-count", SETTING_UINT, "64", 1, 100, NULL, false,
     FIELD(max_header_count),
     "Request header fields at most (Host and Content-Length not counted); more gets 431. "
     "h2o itself refuses over 100 with a plain 400."},
    {"RATEWATCH_MAX_HEADER_BYTES", "--max-header-bytes", SETTING_UINT, "8192", 256, 8192, NULL,
     false, FIELD(max_header_bytes),
     "Bytes of request header names and values at most; more gets 431."},
    {"TLS_CERT_FILE", "--tls-cert-file", SETTING_STRING, "", 0, 0, NULL, false,
     FIELD(tls_cert_file), "PEM certificate chain; with TLS_KEY_FILE, serves HTTPS."},
    {"TLS_KEY_FILE", "--tls-key-file", SETTING_STRING, "", 0, 0, NULL, false, FIELD(tls_key_file),
     "PEM private key for TLS_CERT_FILE."},
    {"RATEWATCH_METRICS_TOKEN", "--metrics-token", SETTING_STRING, "", 0, 0, NULL, true,
     FIELD(metrics_token), "When set, GET /metrics requires it as a Bearer token."},
    {"RATEWATCH_ACCESS_LOG", "--access-log", SETTING_STRING, "off", 0, 0, NULL, false,
     FIELD(access_log),
     "Access log records: off, all, errors (status 400 and up) or sample:N (one in N)."},
    {"RATEWATCH_ENV_FILE", "--env-file", SETTING_STRING, "", 0, 0, NULL, false, FIELD(env_file),
     "KEY=VALUE file re-read on SIGHUP for RATEWATCH_LOG_LEVEL and RATEWATCH_ACCESS_LOG."},
    {"RATEWATCH_TLS_MIN", "--tls-min", SETTING_CHOICE, "1.3", 0, 0, "1.2|1.3", false,
     FIELD(tls_min), "Lowest TLS version accepted."},
};

#define SETTING_COUNT (sizeof(settings) / sizeof(settings[0]))

static bool choice_ok(const char *choices, const char *value)
{
    size_t len = strlen(value);

    for (const char *p = choices; *p != '\0';) {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, value, n) == 0)
            return true;
        p += n + (end != NULL);
    }
    return false;
}

/* Stores `value` into the field of `s`, or explains why it cannot. */
static int setting_apply(const setting_t *s, config_t *config, const char *value, char *err,
                         size_t err_size)
{
    char *field = (char *)config + s->offset;

    switch (s->type) {
    case SETTING_UINT: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || v < s->min ||
            v > s->max) {
            snprintf(err, err_size, "%s: '%s' is not a whole number from %llu to %llu", s->env,
                     value, (unsigned long long)s->min, (unsigned long long)s->max);
            return -1;
        }
        *(uint64_t *)field = v;
        return 0;
    }
    case SETTING_CHOICE:
        if (!choice_ok(s->choices, value)) {
            snprintf(err, err_size, "%s: '%s' is not one of %s", s->env, value, s->choices);
            return -1;
        }
        /* fall through */
    case SETTING_STRING:
        free(*(char **)field);
        *(char **)field = rw_strdup(value);
        return 0;
    }
    return -1;
}

static const setting_t *setting_by_flag(const char *arg, size_t len)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (strlen(settings[i].flag) == len && strncmp(settings[i].flag, arg, len) == 0)
            return &settings[i];
    }
    return NULL;
}

int config_load(config_t *config, int argc, char **argv, char *err, size_t err_size)
{
    memset(config, 0, sizeof(*config));

    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const char *env = getenv(settings[i].env);
        if (setting_apply(&settings[i], config, settings[i].def, err, err_size) != 0)
            return -1;
        if (env != NULL && setting_apply(&settings[i], config, env, err, err_size) != 0)
            return -1;
    }

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const setting_t *s = setting_by_flag(arg, name_len);
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);

        if (s == NULL) {
            snprintf(err, err_size, "unknown option '%s' (see --help)", arg);
            return -1;
        }
        if (value == NULL) {
            snprintf(err, err_size, "%s needs a value (%s)", s->flag, s->env);
            return -1;
        }
        if (setting_apply(s, config, value, err, err_size) != 0)
            return -1;
        if (eq == NULL)
            i++;
    }
    return 0;
}

int config_is_production(const config_t *config)
{
    return strcmp(config->env, "production") == 0;
}

static int access_log_parse(config_t *config, const char *al, char *err, size_t err_size)
{
    char *end = NULL;
    uint64_t every = 1;
    int mode;

    if (strcmp(al, "off") == 0) {
        mode = 0;
    } else if (strcmp(al, "all") == 0) {
        mode = 1;
    } else if (strcmp(al, "errors") == 0) {
        mode = 2;
    } else if (strncmp(al, "sample:", 7) == 0 && al[7] >= '1' && al[7] <= '9' &&
               (every = strtoull(al + 7, &end, 10)) > 0 && *end == '\0') {
        mode = 3;
    } else {
        snprintf(err, err_size, "RATEWATCH_ACCESS_LOG: '%s' is not off, all, errors or sample:N",
                 al);
        return -1;
    }
    atomic_store(&config->access_log_every, every);
    atomic_store(&config->access_log_mode, mode);
    return 0;
}

int config_reload(config_t *config, char *err, size_t err_size)
{
    char line[512], level[512] = "", access[512] = "";
    FILE *f;

    if (config->env_file[0] == '\0')
        return 0;
    if ((f = fopen(config->env_file, "r")) == NULL) {
        snprintf(err, err_size, "RATEWATCH_ENV_FILE: cannot read %s", config->env_file);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "RATEWATCH_LOG_LEVEL=", 20) == 0)
            snprintf(level, sizeof(level), "%s", line + 20);
        else if (strncmp(line, "RATEWATCH_ACCESS_LOG=", 21) == 0)
            snprintf(access, sizeof(access), "%s", line + 21);
    }
    fclose(f);

    if (level[0] && !choice_ok("debug|info|warn|error", level)) {
        snprintf(err, err_size, "RATEWATCH_LOG_LEVEL: '%s' is not one of debug|info|warn|error",
                 level);
        return -1;
    }
    if (access[0] && access_log_parse(config, access, err, err_size) != 0)
        return -1;
    if (level[0]) {
        free(config->log_level);
        config->log_level = rw_strdup(level);
    }
    if (access[0]) {
        free(config->access_log);
        config->access_log = rw_strdup(access);
    }
    return 0;
}

int config_finish(config_t *config, char *err, size_t err_size)
{
    int production = config_is_production(config);

    if (config->bind[0] == '\0') {
        free(config->bind);
        config->bind = rw_strdup(production ? "0.0.0.0" : "127.0.0.1");
    }
    if (production && strlen(config->api_key_secret) < 32) {
        snprintf(err, err_size,
                 "API_KEY_SECRET: production needs a secret of at least 32 bytes "
                 "(for example: openssl rand -hex 32)");
        return -1;
    }
    if (access_log_parse(config, config->access_log, err, err_size) != 0)
        return -1;
    if ((config->tls_cert_file[0] == '\0') != (config->tls_key_file[0] == '\0')) {
        snprintf(err, err_size, "%s: TLS needs both TLS_CERT_FILE and TLS_KEY_FILE",
                 config->tls_cert_file[0] ? "TLS_KEY_FILE" : "TLS_CERT_FILE");
        return -1;
    }
    return 0;
}

void config_free(config_t *config)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (settings[i].type != SETTING_UINT) {
            char **field = (char **)((char *)config + settings[i].offset);
            free(*field);
            *field = NULL;
        }
    }
}

static const char *setting_default_text(const setting_t *s)
{
    return s->def[0] != '\0' ? s->def : "(unset)";
}

void config_print_help(const char *program)
{
    printf("Usage: %s [options]\n"
           "       %s keys <issue|revoke|revoked|inspect> ...\n\n"
           "RateWatch answers rate-limit checks over HTTP. Every option can also be set\n"
           "by its environment variable; a flag wins over the variable.\n\n"
           "Options:\n",
           program, program);
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting_t *s = &settings[i];
        printf("  %-16s %-22s default %s\n      %s\n", s->flag, s->env, setting_default_text(s),
               s->help);
    }
    printf("  --help                                  this text\n"
           "  --version                               print the version\n");
}

void config_print_markdown(void)
{
    printf("| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting_t *s = &settings[i];
        printf("| `%s` | `%s` | `%s` | %s |\n", s->env, s->flag, setting_default_text(s), s->help);
    }
}

void config_describe(const config_t *config, char *out, size_t size)
{
    buf_t b = buf_init(out, size);

    buf_puts(&b, "\"config\":{");
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting_t *s = &settings[i];
        const char *field = (const char *)config + s->offset;

        buf_printf(&b, "%s\"%s\":", i ? "," : "", s->env);
        if (s->type == SETTING_UINT) {
            buf_u64(&b, *(const uint64_t *)field);
        } else {
            const char *v = *(char *const *)field;
            const char *scheme = v ? strstr(v, "://") : NULL;
            const char *at = scheme ? strchr(scheme, '@') : NULL;
            if (s->secret && at != NULL) {
                /* A URL keeps its host and database; only the credentials go. */
                char shown[512];
                snprintf(shown, sizeof(shown), "%.*s<redacted>%s", (int)(scheme + 3 - v), v, at);
                buf_json_string(&b, shown, strlen(shown));
                continue;
            }
            if (s->secret && v != NULL && v[0] != '\0' && scheme == NULL)
                v = "<redacted>";
            buf_json_string(&b, v ? v : "", v ? strlen(v) : 0);
        }
    }
    buf_puts(&b, "}");
}
