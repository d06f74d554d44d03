/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The key-management commands. They read the same settings as the server (the secret,
 * the mode, where revocations live) from the environment, and write revocations where
 * the running servers will pick them up: the embedded store's file, or Redis.
 */
#include "cli/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/revocations.h"
#include "crypto/apikey.h"
#include "store/revocations_redis.h"

static int usage(void)
{
    fprintf(stderr, "usage: ratewatch keys issue --tenant <name>\n"
                    "       ratewatch keys revoke <key id | key>\n"
                    "       ratewatch keys revoked\n"
                    "       ratewatch keys inspect <key>\n");
    return 2;
}

static int uses_redis(const config_t *config)
{
    return config->redis_url != NULL && config->redis_url[0] != '\0';
}

/* Loads the current revocations into `ids`; -1 with a message if there is nowhere to look. */
static int load_revoked(const config_t *config, char ***ids, size_t *count)
{
    char path[4096];

    if (uses_redis(config))
        return revocations_redis_list(config, ids, count);
    if (auth_revocation_file(config, path, sizeof(path)) != 0) {
        *ids = NULL;
        *count = 0;
        return 0;
    }
    if (revocations_file_read(path, ids, count) != 0) {
        fprintf(stderr, "ratewatch: cannot read %s\n", path);
        return -1;
    }
    return 0;
}

static void free_ids(char **ids, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(ids[i]);
    free(ids);
}

static int cmd_issue(const config_t *config, const derive_keys_t *keys, int argc, char **argv)
{
    const char *tenant = NULL;
    char key[APIKEY_MAX_LEN + 1];

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
            tenant = argv[++i];
        else if (strncmp(argv[i], "--tenant=", 9) == 0)
            tenant = argv[i] + 9;
        else
            return usage();
    }
    if (tenant == NULL)
        return usage();
    if (!apikey_tenant_ok(tenant, strlen(tenant))) {
        fprintf(stderr, "ratewatch: tenant names are 1 to 32 of a-z, 0-9 and '-'\n");
        return 2;
    }
    if (apikey_issue(keys, tenant, key, sizeof(key)) != 0) {
        fprintf(stderr, "ratewatch: no randomness available to make a key id\n");
        return 1;
    }
    printf("%s\n", key);
    fprintf(stderr, "Issued a key for tenant %s (key id %.*s). It is shown only now; %s.\n", tenant,
            APIKEY_ID_HEX, key + strlen(key) - APIKEY_MAC_HEX - 1 - APIKEY_ID_HEX,
            config->api_key_secret[0] ? "it is valid wherever API_KEY_SECRET is the same"
                                      : "it is signed with the DEVELOPMENT secret");
    return 0;
}

static int cmd_revoke(const config_t *config, const derive_keys_t *keys, const char *arg)
{
    char id[APIKEY_ID_HEX + 1], path[4096];
    apikey_t parsed;

    if (apikey_id_ok(arg, strlen(arg))) {
        memcpy(id, arg, sizeof(id));
    } else if (apikey_verify(keys, arg, strlen(arg), &parsed) != APIKEY_MALFORMED) {
        memcpy(id, parsed.key_id, sizeof(id));
    } else {
        fprintf(stderr, "ratewatch: '%s' is neither a key id (24 hex digits) nor a key\n", arg);
        return 2;
    }

    if (uses_redis(config)) {
        if (revocations_redis_add(config, id) != 0)
            return 1;
    } else if (auth_revocation_file(config, path, sizeof(path)) != 0) {
        fprintf(stderr, "ratewatch: revocations are kept under RATEWATCH_DATA_DIR on the "
                        "embedded store, or in Redis with REDIS_URL; set one of them\n");
        return 2;
    } else if (revocations_file_append(path, id) != 0) {
        fprintf(stderr, "ratewatch: cannot write %s\n", path);
        return 1;
    }
    printf("revoked %s\n", id);
    return 0;
}

static int cmd_revoked(const config_t *config)
{
    char **ids;
    size_t count;

    if (load_revoked(config, &ids, &count) != 0)
        return 1;
    for (size_t i = 0; i < count; i++)
        printf("%s\n", ids[i]);
    free_ids(ids, count);
    return 0;
}

static int cmd_inspect(const config_t *config, const derive_keys_t *keys, const char *arg)
{
    apikey_t parsed;
    apikey_status_t status = apikey_verify(keys, arg, strlen(arg), &parsed);
    char **ids;
    size_t count;
    int revoked = 0;

    if (status == APIKEY_MALFORMED) {
        printf("malformed: not a RateWatch key (rw_<tenant>_<key id>_<mac>)\n");
        return 1;
    }
    if (load_revoked(config, &ids, &count) != 0)
        return 1;
    for (size_t i = 0; i < count; i++)
        revoked |= strcmp(ids[i], parsed.key_id) == 0;
    free_ids(ids, count);

    printf("tenant:  %s\nkey id:  %s\nvalid:   %s\nrevoked: %s\n", parsed.tenant, parsed.key_id,
           status == APIKEY_VALID ? "yes" : "no (not issued under this secret)",
           revoked ? "yes" : "no");
    return status == APIKEY_VALID && !revoked ? 0 : 1;
}

int cli_keys_main(const config_t *config, int argc, char **argv)
{
    derive_keys_t keys;

    if (argc < 1)
        return usage();
    auth_keys_init(config, &keys);

    if (strcmp(argv[0], "issue") == 0)
        return cmd_issue(config, &keys, argc - 1, argv + 1);
    if (strcmp(argv[0], "revoke") == 0 && argc == 2)
        return cmd_revoke(config, &keys, argv[1]);
    if (strcmp(argv[0], "revoked") == 0 && argc == 1)
        return cmd_revoked(config);
    if (strcmp(argv[0], "inspect") == 0 && argc == 2)
        return cmd_inspect(config, &keys, argv[1]);
    return usage();
}
