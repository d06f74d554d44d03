/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * A request waiting on the store. h2o may free a request (its client went away) before
 * the store answers, so the state a store callback needs lives outside the request's
 * pool: it is shared by the pool and the callback and freed by whichever lets go last.
 */
#ifndef RW_HTTP_PENDING_H
#define RW_HTTP_PENDING_H

#include "http/server.h"

typedef struct pending {
    api_request_t *ar; /* NULL once h2o has disposed of the request */
    int refs;
} pending_t;

/*
 * Allocates `size` bytes (a struct that starts with a pending_t) tied to `ar`. The caller
 * hands it to exactly one store callback, which calls pending_finish() at its end.
 */
void *pending_new(api_request_t *ar, size_t size);

/* Drops the callback's reference; call last in the callback, after answering. */
void pending_finish(pending_t *p);

#endif
