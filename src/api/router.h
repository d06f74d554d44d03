/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Maps a request to its API handler by path and method; answers 404 and 405 itself. */
#ifndef RW_API_ROUTER_H
#define RW_API_ROUTER_H

#include "http/server.h"

/* Answers `req`, now or later from the worker's loop. */
void router_dispatch(worker_t *worker, h2o_req_t *req);

#endif
