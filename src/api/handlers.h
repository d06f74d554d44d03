/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * API handlers. Each one answers the request it is given, at once or later from the
 * worker's loop; after it returns the caller must not touch the request.
 */
#ifndef RW_API_HANDLERS_H
#define RW_API_HANDLERS_H

#include "http/server.h"

void api_check(api_request_t *ar);
void api_privacy_delete(api_request_t *ar);
void api_privacy_summary(api_request_t *ar);
void api_privacy_audit(api_request_t *ar);
void api_health(api_request_t *ar);
void api_health_detailed(api_request_t *ar);
void api_health_ready(api_request_t *ar);
void api_metrics(api_request_t *ar);

#endif
