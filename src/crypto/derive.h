/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Every key RateWatch uses is derived from one root secret (API_KEY_SECRET) with BLAKE3's
 * derive-key mode under fixed context strings, so that no two purposes share a key:
 *   mac key        authenticates API keys;
 *   storage root   from which each tenant's storage key is derived;
 *   tenant key     hashes that tenant's rate-limit keys and user ids into store ids.
 * Callers' identifiers never reach a store in clear: only these keyed hashes do.
 */
#ifndef RW_CRYPTO_DERIVE_H
#define RW_CRYPTO_DERIVE_H

#include <stddef.h>
#include <stdint.h>

#include "limiter/limiter.h"

#define DERIVE_KEY_LEN 32
#define DERIVE_ID_LEN  16
#define DERIVE_TAG_LEN 8

typedef struct {
    uint8_t mac_key[DERIVE_KEY_LEN];
    uint8_t storage_root[DERIVE_KEY_LEN];
} derive_keys_t;

void derive_keys_init(derive_keys_t *keys, const void *secret, size_t secret_len);

/* The tenant's storage key, and a short public tag that names the tenant in store keys. */
void derive_tenant_key(const derive_keys_t *keys, const char *tenant, size_t tenant_len,
                       uint8_t out[DERIVE_KEY_LEN], uint8_t tag[DERIVE_TAG_LEN]);

/* The store id of one counter: (key, algorithm, window) under a tenant. */
void derive_counter_id(const uint8_t tenant_key[DERIVE_KEY_LEN], limiter_algorithm_t algorithm,
                       uint64_t window_ms, const char *key, size_t key_len,
                       uint8_t out[DERIVE_ID_LEN]);

/* The store id of a data subject (a key or user id) under a tenant. */
void derive_subject_id(const uint8_t tenant_key[DERIVE_KEY_LEN], const char *subject,
                       size_t subject_len, uint8_t out[DERIVE_ID_LEN]);

/* Lower-case hex of `len` bytes into `out`, which holds 2*len+1 bytes. */
void derive_hex(const uint8_t *bytes, size_t len, char *out);

#endif
