/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Authenticating requests to /v1 endpoints: a Bearer API key, its MAC, its revocation status. A
 * request that fails is answered 401 here and never reaches a store.
 */
#ifndef RW_AUTH_AUTH_H
#define RW_AUTH_AUTH_H

#include "config.h"
#include "http/server.h"

/*
 * Returns 0 and fills ar->tenant and ar->tenant_key when the request carries a valid,
 * unrevoked key; otherwise answers 401 and returns -1, after which `ar` is finished.
 */
int auth_request_or_respond(api_request_t *ar);

/* Frees the worker's cache of verified keys; call when the worker stops. */
void auth_cache_free(worker_t *w);

/* The fixed secret of development mode, and its ready-made key for tenant "dev". */
#define AUTH_DEVELOPMENT_SECRET "ratewatch-development-secret-never-use-in-production"

/*
 * Derives the service's keys from API_KEY_SECRET, or in development from the fixed
 * development secret when none is set. Returns 1 if the development secret is in use.
 */
int auth_keys_init(const config_t *config, derive_keys_t *keys);

/* The revocation file of the embedded store, into `out`; -1 if RATEWATCH_DATA_DIR is unset. */
int auth_revocation_file(const config_t *config, char *out, size_t size);

/* A key for `tenant` whose id is derived from the secret: the same every start. */
void auth_development_key(const derive_keys_t *keys, const char *tenant, char *out, size_t size);

#endif
