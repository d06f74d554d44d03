/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Revoked key ids in Redis, shared by every instance: a set and a version number that each
 * revocation bumps, so servers poll one small integer and reload the set only on change.
 * These calls block and are for the command line only; servers read the same keys
 * asynchronously from their own loop (store/redis.c).
 */
#ifndef RW_STORE_REVOCATIONS_REDIS_H
#define RW_STORE_REVOCATIONS_REDIS_H

#include <stddef.h>

#include "config.h"

#define REVOCATIONS_REDIS_SET     "rw:{revoked}:ids"
#define REVOCATIONS_REDIS_VERSION "rw:{revoked}:version"

int revocations_redis_add(const config_t *config, const char *key_id);
int revocations_redis_list(const config_t *config, char ***ids, size_t *count);

#endif
