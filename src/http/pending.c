/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "http/pending.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static void release(pending_t *p)
{
    if (--p->refs == 0)
        free(p);
}

static void on_request_dispose(void *slot)
{
    pending_t *p = *(pending_t **)slot;

    p->ar = NULL;
    release(p);
}

void *pending_new(api_request_t *ar, size_t size)
{
    pending_t *p = rw_calloc(1, size);
    pending_t **slot = h2o_mem_alloc_shared(&ar->req->pool, sizeof(*slot), on_request_dispose);

    p->ar = ar;
    p->refs = 2;
    *slot = p;
    return p;
}

void pending_finish(pending_t *p)
{
    release(p);
}
