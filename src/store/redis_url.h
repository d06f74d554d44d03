/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * REDIS_URL: redis://[[user]:password@]host[:port][/db] or unix://[[user]:password@]/path[?db=N].
 * Host may be a name, an IPv4 address or a bracketed IPv6 address.
 */
#ifndef RW_STORE_REDIS_URL_H
#define RW_STORE_REDIS_URL_H

#include <stddef.h>

typedef struct {
    char host[256]; /* empty for a unix socket */
    int port;
    char path[256]; /* the unix socket, or empty */
    char user[128];
    char password[256];
    int db;
} redis_url_t;

/* Returns 0, or -1 with what is wrong in `err`. */
int redis_url_parse(const char *url, redis_url_t *out, char *err, size_t err_size);

#endif
