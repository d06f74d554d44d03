/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "crypto/derive.h"

#include <string.h>

#include <blake3.h>

#define CONTEXT_MAC     "RateWatch 2026-12-04 API key MAC v1"
#define CONTEXT_STORAGE "RateWatch 2026-12-04 tenant storage v1"

/* Domain bytes keep counter and subject hashes of the same string apart. */
enum { DOMAIN_COUNTER = 1, DOMAIN_SUBJECT = 2 };

static void derive_one(const char *context, const void *secret, size_t len, uint8_t *out)
{
    blake3_hasher h;

    blake3_hasher_init_derive_key(&h, context);
    blake3_hasher_update(&h, secret, len);
    blake3_hasher_finalize(&h, out, DERIVE_KEY_LEN);
}

void derive_keys_init(derive_keys_t *keys, const void *secret, size_t secret_len)
{
    derive_one(CONTEXT_MAC, secret, secret_len, keys->mac_key);
    derive_one(CONTEXT_STORAGE, secret, secret_len, keys->storage_root);
}

void derive_tenant_key(const derive_keys_t *keys, const char *tenant, size_t tenant_len,
                       uint8_t out[DERIVE_KEY_LEN], uint8_t tag[DERIVE_TAG_LEN])
{
    uint8_t both[DERIVE_KEY_LEN + DERIVE_TAG_LEN];
    blake3_hasher h;

    /* One extended output: the key, then the tag, which reveals nothing of the key. */
    blake3_hasher_init_keyed(&h, keys->storage_root);
    blake3_hasher_update(&h, tenant, tenant_len);
    blake3_hasher_finalize(&h, both, sizeof(both));
    memcpy(out, both, DERIVE_KEY_LEN);
    memcpy(tag, both + DERIVE_KEY_LEN, DERIVE_TAG_LEN);
}

void derive_counter_id(const uint8_t tenant_key[DERIVE_KEY_LEN], limiter_algorithm_t algorithm,
                       uint64_t window_ms, const char *key, size_t key_len,
                       uint8_t out[DERIVE_ID_LEN])
{
    uint8_t head[10];
    blake3_hasher h;

    head[0] = DOMAIN_COUNTER;
    head[1] = (uint8_t)algorithm;
    for (int i = 0; i < 8; i++)
        head[2 + i] = (uint8_t)(window_ms >> (8 * i));
    blake3_hasher_init_keyed(&h, tenant_key);
    blake3_hasher_update(&h, head, sizeof(head));
    blake3_hasher_update(&h, key, key_len);
    blake3_hasher_finalize(&h, out, DERIVE_ID_LEN);
}

void derive_subject_id(const uint8_t tenant_key[DERIVE_KEY_LEN], const char *subject,
                       size_t subject_len, uint8_t out[DERIVE_ID_LEN])
{
    uint8_t domain = DOMAIN_SUBJECT;
    blake3_hasher h;

    blake3_hasher_init_keyed(&h, tenant_key);
    blake3_hasher_update(&h, &domain, 1);
    blake3_hasher_update(&h, subject, subject_len);
    blake3_hasher_finalize(&h, out, DERIVE_ID_LEN);
}

void derive_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}
