/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "crypto/apikey.h"

#include <stdio.h>
#include <string.h>

#include <blake3.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#define PREFIX     "rw_"
#define PREFIX_LEN 3

bool apikey_tenant_ok(const char *tenant, size_t len)
{
    if (len < 1 || len > APIKEY_TENANT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = tenant[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static bool hex_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool apikey_id_ok(const char *id, size_t len)
{
    return len == APIKEY_ID_HEX && hex_ok(id, len);
}

/* The MAC of (tenant, key id), as lower-case hex into `out` (APIKEY_MAC_HEX + 1 bytes). */
static void apikey_mac(const derive_keys_t *keys, const char *tenant, size_t tenant_len,
                       const char *id, char *out)
{
    static const uint8_t version = 1;
    uint8_t tag[APIKEY_MAC_HEX / 2];
    uint8_t sep = 0;
    blake3_hasher h;

    blake3_hasher_init_keyed(&h, keys->mac_key);
    blake3_hasher_update(&h, &version, 1);
    blake3_hasher_update(&h, tenant, tenant_len);
    blake3_hasher_update(&h, &sep, 1);
    blake3_hasher_update(&h, id, APIKEY_ID_HEX);
    blake3_hasher_finalize(&h, tag, sizeof(tag));
    derive_hex(tag, sizeof(tag), out);
}

apikey_status_t apikey_verify(const derive_keys_t *keys, const char *key, size_t len, apikey_t *out)
{
    char expected[APIKEY_MAC_HEX + 1];

    if (len < PREFIX_LEN + 1 + 1 + APIKEY_ID_HEX + 1 + APIKEY_MAC_HEX || len > APIKEY_MAX_LEN ||
        memcmp(key, PREFIX, PREFIX_LEN) != 0)
        return APIKEY_MALFORMED;

    const char *mac = key + len - APIKEY_MAC_HEX;
    const char *id = mac - 1 - APIKEY_ID_HEX;
    const char *tenant = key + PREFIX_LEN;
    size_t tenant_len = (size_t)(id - 1 - tenant);

    if (mac[-1] != '_' || id[-1] != '_' || !apikey_tenant_ok(tenant, tenant_len) ||
        !apikey_id_ok(id, APIKEY_ID_HEX) || !hex_ok(mac, APIKEY_MAC_HEX))
        return APIKEY_MALFORMED;

    memcpy(out->tenant, tenant, tenant_len);
    out->tenant[tenant_len] = '\0';
    out->tenant_len = tenant_len;
    memcpy(out->key_id, id, APIKEY_ID_HEX);
    out->key_id[APIKEY_ID_HEX] = '\0';

    apikey_mac(keys, tenant, tenant_len, id, expected);
    if (CRYPTO_memcmp(expected, mac, APIKEY_MAC_HEX) != 0)
        return APIKEY_BAD_MAC;
    return APIKEY_VALID;
}

int apikey_format(const derive_keys_t *keys, const char *tenant, const char *key_id, char *out,
                  size_t size)
{
    char mac[APIKEY_MAC_HEX + 1];
    size_t tenant_len = strlen(tenant);

    if (!apikey_tenant_ok(tenant, tenant_len) || !apikey_id_ok(key_id, strlen(key_id)) ||
        size < APIKEY_MAX_LEN + 1)
        return -1;
    apikey_mac(keys, tenant, tenant_len, key_id, mac);
    snprintf(out, size, PREFIX "%s_%s_%s", tenant, key_id, mac);
    return 0;
}

int apikey_issue(const derive_keys_t *keys, const char *tenant, char *out, size_t size)
{
    uint8_t raw[APIKEY_ID_HEX / 2];
    char id[APIKEY_ID_HEX + 1];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    derive_hex(raw, sizeof(raw), id);
    return apikey_format(keys, tenant, id, out, size);
}
