/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* GET /health: the process is up and answering. */
#include "api/handlers.h"
#include "http/respond.h"
#include "util/buf.h"
#include "util/clock.h"
#include "version.h"

void api_health(api_request_t *ar)
{
    char body[160], when[40];
    buf_t b = buf_init(body, sizeof(body));

    clock_format_rfc3339(clock_now_ms(), 0, when, sizeof(when));
    buf_printf(&b, "{\"status\":\"ok\",\"timestamp\":\"%s\",\"version\":\"%s\"}", when,
               RATEWATCH_VERSION);
    respond_json(ar, 200, body, b.len);
}
