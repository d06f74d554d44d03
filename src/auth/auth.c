/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blake3.h>
#include <openssl/crypto.h>

#include "auth/revocations.h"
#include "crypto/apikey.h"
#include "http/respond.h"
#include "util/alloc.h"

static void respond_unauthorized(api_request_t *ar, error_code_t code, const char *challenge,
                                 const char *message)
{
    h2o_req_t *req = ar->req;

    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, challenge,
                   strlen(challenge));
    respond_error(ar, code, message);
}

/*
 * Each worker remembers the keys it has verified, with their tenant's derived keys, so a
 * client that sends the same key again costs one constant-time comparison instead of two
 * BLAKE3 derivations. Keys are stateless and the secret never changes while the process
 * runs, so an entry never goes stale; revocation is still checked on every request.
 */
#define AUTH_CACHE_SLOTS 64

typedef struct {
    size_t len; /* 0: empty */
    char key[APIKEY_MAX_LEN];
    apikey_t parsed;
    uint8_t tenant_key[DERIVE_KEY_LEN];
    uint8_t tenant_tag[DERIVE_TAG_LEN];
} auth_cache_entry_t;

struct auth_cache {
    auth_cache_entry_t slots[AUTH_CACHE_SLOTS];
};

static auth_cache_entry_t *cache_slot(worker_t *w, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: the slot only, not a security property */

    if (w->auth_cache == NULL)
        w->auth_cache = rw_calloc(1, sizeof(*w->auth_cache));
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)key[i]) * 1099511628211ULL;
    return &w->auth_cache->slots[h % AUTH_CACHE_SLOTS];
}

void auth_cache_free(worker_t *w)
{
    free(w->auth_cache);
    w->auth_cache = NULL;
}

/* Verifies `key`, from the cache when this worker has seen it; 0 when valid. */
static int verify_cached(api_request_t *ar, const char *key, size_t len, apikey_t *out)
{
    server_t *server = ar->worker->server;
    auth_cache_entry_t *e;

    if (len == 0 || len > APIKEY_MAX_LEN)
        return -1;
    e = cache_slot(ar->worker, key, len);
    if (e->len != 0 && e->len == len && CRYPTO_memcmp(e->key, key, len) == 0) {
        *out = e->parsed;
        memcpy(ar->tenant_key, e->tenant_key, DERIVE_KEY_LEN);
        memcpy(ar->tenant_tag, e->tenant_tag, DERIVE_TAG_LEN);
        return 0;
    }
    if (apikey_verify(&server->keys, key, len, out) != APIKEY_VALID)
        return -1;
    derive_tenant_key(&server->keys, out->tenant, out->tenant_len, ar->tenant_key, ar->tenant_tag);
    memcpy(e->key, key, len);
    e->len = len;
    e->parsed = *out;
    memcpy(e->tenant_key, ar->tenant_key, DERIVE_KEY_LEN);
    memcpy(e->tenant_tag, ar->tenant_tag, DERIVE_TAG_LEN);
    return 0;
}

int auth_request_or_respond(api_request_t *ar)
{
    h2o_req_t *req = ar->req;
    server_t *server = ar->worker->server;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    apikey_t key;

    if (i < 0) {
        respond_unauthorized(ar, ERR_UNAUTHORIZED, "Bearer realm=\"ratewatch\"",
                             "send an API key as Authorization: Bearer <key>");
        return -1;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || !h2o_lcstris(v.base, 7, H2O_STRLIT("bearer ")) ||
        verify_cached(ar, v.base + 7, v.len - 7, &key) != 0) {
        respond_unauthorized(ar, ERR_UNAUTHORIZED,
                             "Bearer realm=\"ratewatch\", error=\"invalid_token\"",
                             "the API key is not valid");
        return -1;
    }
    if (revocations_contains(server->revocations, key.key_id)) {
        respond_unauthorized(ar, ERR_KEY_REVOKED,
                             "Bearer realm=\"ratewatch\", error=\"invalid_token\"",
                             "this API key has been revoked");
        return -1;
    }

    memcpy(ar->tenant, key.tenant, key.tenant_len + 1);
    ar->tenant_len = key.tenant_len;
    return 0;
}

int auth_keys_init(const config_t *config, derive_keys_t *keys)
{
    const char *secret = config->api_key_secret;

    if (secret[0] == '\0') {
        derive_keys_init(keys, AUTH_DEVELOPMENT_SECRET, strlen(AUTH_DEVELOPMENT_SECRET));
        return 1;
    }
    derive_keys_init(keys, secret, strlen(secret));
    return 0;
}

int auth_revocation_file(const config_t *config, char *out, size_t size)
{
    if (config->data_dir[0] == '\0')
        return -1;
    snprintf(out, size, "%s/revoked_keys", config->data_dir);
    return 0;
}

void auth_development_key(const derive_keys_t *keys, const char *tenant, char *out, size_t size)
{
    static const char context[] = "development key id";
    uint8_t raw[APIKEY_ID_HEX / 2];
    char id[APIKEY_ID_HEX + 1];
    blake3_hasher h;

    blake3_hasher_init_keyed(&h, keys->mac_key);
    blake3_hasher_update(&h, context, sizeof(context) - 1);
    blake3_hasher_update(&h, tenant, strlen(tenant));
    blake3_hasher_finalize(&h, raw, sizeof(raw));
    derive_hex(raw, sizeof(raw), id);
    apikey_format(keys, tenant, id, out, size);
}
