/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "auth/auth.h"

#include <stdio.h>
#include <string.h>

#include <blake3.h>

#include "auth/revocations.h"
#include "crypto/apikey.h"
#include "http/respond.h"

static void respond_unauthorized(api_request_t *ar, error_code_t code, const char *challenge,
                                 const char *message)
{
    h2o_req_t *req = ar->req;

    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, challenge,
                   strlen(challenge));
    respond_error(ar, code, message);
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
        apikey_verify(&server->keys, v.base + 7, v.len - 7, &key) != APIKEY_VALID) {
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
    derive_tenant_key(&server->keys, key.tenant, key.tenant_len, ar->tenant_key, ar->tenant_tag);
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
