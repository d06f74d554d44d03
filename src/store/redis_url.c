/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "store/redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t size, const char *why)
{
    snprintf(err, size,
             "REDIS_URL: %s (expected redis://[user:password@]host:port[/db] or "
             "unix:///path/to.sock[?db=N])",
             why);
    return -1;
}

static int copy_part(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static int parse_number(const char *s, size_t len, long min, long max, int *out)
{
    char tmp[16];
    char *end;

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    long v = strtol(tmp, &end, 10);
    if (*end != '\0' || tmp[0] < '0' || tmp[0] > '9' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* user:password@ before `end`, if any; advances *p past it. */
static int parse_userinfo(const char **p, const char *end, redis_url_t *out)
{
    const char *at = memchr(*p, '@', (size_t)(end - *p));

    if (at == NULL)
        return 0;
    const char *colon = memchr(*p, ':', (size_t)(at - *p));
    if (colon == NULL)
        return -1;
    if (copy_part(out->user, sizeof(out->user), *p, (size_t)(colon - *p)) != 0 ||
        copy_part(out->password, sizeof(out->password), colon + 1, (size_t)(at - colon - 1)) != 0)
        return -1;
    *p = at + 1;
    return 0;
}

int redis_url_parse(const char *url, redis_url_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;

    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7;
        const char *query = strchr(p, '?');
        const char *end = query ? query : p + strlen(p);
        if (parse_userinfo(&p, end, out) != 0)
            return fail(err, err_size, "malformed credentials");
        if (*p != '/' || (size_t)(end - p) >= 108 ||
            copy_part(out->path, sizeof(out->path), p, (size_t)(end - p)) != 0)
            return fail(err, err_size, "a unix socket needs an absolute path");
        if (query != NULL) {
            if (strncmp(query, "?db=", 4) != 0 ||
                parse_number(query + 4, strlen(query + 4), 0, 1000000, &out->db) != 0)
                return fail(err, err_size, "the only query parameter is db=<number>");
        }
        return 0;
    }

    if (strncmp(url, "redis://", 8) != 0)
        return fail(err, err_size, "the scheme must be redis:// or unix://");
    const char *p = url + 8;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    if (parse_userinfo(&p, end, out) != 0)
        return fail(err, err_size, "malformed credentials");

    const char *host_end;
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t)(end - p));
        if (host_end == NULL ||
            copy_part(out->host, sizeof(out->host), p + 1, (size_t)(host_end - p - 1)) != 0)
            return fail(err, err_size, "malformed IPv6 address");
        host_end++;
    } else {
        host_end = memchr(p, ':', (size_t)(end - p));
        if (host_end == NULL)
            host_end = end;
        if (copy_part(out->host, sizeof(out->host), p, (size_t)(host_end - p)) != 0)
            return fail(err, err_size, "host name too long");
    }
    if (out->host[0] == '\0')
        return fail(err, err_size, "no host");
    if (host_end < end) {
        if (*host_end != ':' ||
            parse_number(host_end + 1, (size_t)(end - host_end - 1), 1, 65535, &out->port) != 0)
            return fail(err, err_size, "the port must be a number from 1 to 65535");
    }
    if (slash != NULL && slash[1] != '\0' &&
        parse_number(slash + 1, strlen(slash + 1), 0, 1000000, &out->db) != 0)
        return fail(err, err_size, "the database must be a number");
    return 0;
}
