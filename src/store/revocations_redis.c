/* SPDX-License-Identifier: Apache-2.0 OR MIT */
#include "store/revocations_redis.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store/redis_url.h"
#include "util/alloc.h"

/* A blocking connection, authenticated and on the right database; NULL after a message. */
static redisContext *connect_sync(const config_t *config)
{
    redis_url_t url;
    char err[512];
    struct timeval tv = {2, 0};
    redisContext *c;
    redisReply *r;

    if (redis_url_parse(config->redis_url, &url, err, sizeof(err)) != 0) {
        fprintf(stderr, "ratewatch: %s\n", err);
        return NULL;
    }
    c = url.path[0] ? redisConnectUnixWithTimeout(url.path, tv)
                    : redisConnectWithTimeout(url.host, url.port, tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "ratewatch: cannot reach Redis: %s\n", c ? c->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c, tv);
    if (url.password[0]) {
        r = url.user[0] ? redisCommand(c, "AUTH %s %s", url.user, url.password)
                        : redisCommand(c, "AUTH %s", url.password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "ratewatch: Redis refused AUTH\n");
            freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    if (url.db != 0) {
        r = redisCommand(c, "SELECT %d", url.db);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "ratewatch: Redis refused SELECT %d\n", url.db);
            freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    return c;

fail:
    if (c != NULL)
        redisFree(c);
    return NULL;
}

int revocations_redis_add(const config_t *config, const char *key_id)
{
    redisContext *c = connect_sync(config);
    redisReply *r;
    int rc = -1;

    if (c == NULL)
        return -1;
    /* One script so that the set and the version change together. */
    r = redisCommand(c, "EVAL %s 2 %s %s %s",
                     "redis.call('SADD', KEYS[1], ARGV[1]) "
                     "return redis.call('INCR', KEYS[2])",
                     REVOCATIONS_REDIS_SET, REVOCATIONS_REDIS_VERSION, key_id);
    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        rc = 0;
    else
        fprintf(stderr, "ratewatch: Redis did not record the revocation: %s\n",
                r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

int revocations_redis_list(const config_t *config, char ***ids, size_t *count)
{
    redisContext *c = connect_sync(config);
    redisReply *r;
    int rc = -1;

    *ids = NULL;
    *count = 0;
    if (c == NULL)
        return -1;
    r = redisCommand(c, "SMEMBERS %s", REVOCATIONS_REDIS_SET);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        *ids = rw_calloc(r->elements ? r->elements : 1, sizeof(char *));
        for (size_t i = 0; i < r->elements; i++) {
            if (r->element[i]->type == REDIS_REPLY_STRING)
                (*ids)[(*count)++] = rw_strndup(r->element[i]->str, r->element[i]->len);
        }
        rc = 0;
    } else {
        fprintf(stderr, "ratewatch: cannot read revocations from Redis\n");
    }
    freeReplyObject(r);
    redisFree(c);
    return rc;
}
