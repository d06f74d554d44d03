/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Stateless API keys: rw_<tenant>_<key id>_<mac>. The tenant is 1 to 32 of [a-z0-9-], the
 * key id 24 random hex digits, and the MAC 32 hex digits (128 bits) of keyed BLAKE3 over
 * both under the MAC key derived from API_KEY_SECRET. Checking a key needs no lookup; only
 * revocation (by key id) is state, and that lives elsewhere.
 */
#ifndef RW_CRYPTO_APIKEY_H
#define RW_CRYPTO_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/derive.h"

#define APIKEY_TENANT_MAX 32
#define APIKEY_ID_HEX     24
#define APIKEY_MAC_HEX    32
#define APIKEY_MAX_LEN    (3 + APIKEY_TENANT_MAX + 1 + APIKEY_ID_HEX + 1 + APIKEY_MAC_HEX)

typedef struct {
    char tenant[APIKEY_TENANT_MAX + 1];
    size_t tenant_len;
    char key_id[APIKEY_ID_HEX + 1];
} apikey_t;

typedef enum {
    APIKEY_VALID = 0,
    APIKEY_MALFORMED, /* not of the form above */
    APIKEY_BAD_MAC,   /* well formed, but not issued under this secret */
} apikey_status_t;

bool apikey_tenant_ok(const char *tenant, size_t len);
bool apikey_id_ok(const char *id, size_t len);

/* Parses and authenticates `key`; fills `out` when the key is well formed. */
apikey_status_t apikey_verify(const derive_keys_t *keys, const char *key, size_t len,
                              apikey_t *out);

/*
 * Issues a key for `tenant` with a fresh random id into `out` (APIKEY_MAX_LEN + 1 bytes).
 * Returns 0, or -1 if the tenant name is invalid or no randomness could be had.
 */
int apikey_issue(const derive_keys_t *keys, const char *tenant, char *out, size_t size);

/* Formats the key of (tenant, key id) with its MAC into `out`. */
int apikey_format(const derive_keys_t *keys, const char *tenant, const char *key_id, char *out,
                  size_t size);

#endif
