/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The Redis store: counters shared by every RateWatch instance. Each worker owns one
 * connection, driven by its own h2o loop, with many checks in flight on it (pipelining);
 * hiredis parses the replies. A check is one EVALSHA of an atomic Lua script that takes
 * the time from Redis. A command that gets no answer within the timeout fails (and with
 * it the connection, which is then reopened with capped exponential backoff).
 */
#ifndef RW_STORE_REDIS_H
#define RW_STORE_REDIS_H

#include "auth/revocations.h"
#include "config.h"
#include "store/store.h"

/*
 * Creates the store from REDIS_URL. A malformed URL fails here (-1 semantics: NULL with a
 * message in `err`); an unreachable Redis does not: workers keep reconnecting. When
 * `revocations` is given, worker 0 keeps it in step with the revocations kept in Redis.
 */
store_t *store_redis_create(const config_t *config, revocations_t *revocations, char *err,
                            size_t err_size);

#endif
