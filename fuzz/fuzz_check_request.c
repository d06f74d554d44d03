/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * libFuzzer target over what RateWatch parses from the network: POST /v1/check bodies
 * (check_request_parse) and API keys (apikey_verify). Built and run by scripts/fuzz.sh.
 *
 * The first byte of an input, modulo 4, picks what the rest is fed to (the seed corpus
 * uses the digits '0' to '3'):
 *   0  a /v1/check body, to check_request_parse();
 *   1  an API key, to apikey_verify();
 *   2  a tenant, a NUL byte and a key id, to apikey_format(): a key it formats must
 *      verify, and must stop verifying when one digit of its MAC changes;
 *   3  24 bytes of time and counter state, then a /v1/check body; a body that parses is
 *      decided by sliding_window_check() against that state.
 * A broken invariant prints what broke and aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/check_request.h"
#include "crypto/apikey.h"
#include "crypto/derive.h"
#include "limiter/limiter.h"

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant broken: %s (%s:%d)\n", #cond, __FILE__, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FUZZ_SECRET "ratewatch-fuzz-secret-0123456789abcdef"

typedef unsigned __int128 u128;

static derive_keys_t keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    derive_keys_init(&keys, FUZZ_SECRET, strlen(FUZZ_SECRET));
    return 0;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
static int utf8_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* An integer member of `doc`, or `def` when it is absent. */
static uint64_t member_u64(json_t *doc, const char *name, uint64_t def)
{
    json_t *v = json_object_get(doc, name);

    return v == NULL ? def : (uint64_t)json_integer_value(v);
}

/*
 * Parses a body and checks what the parser promises either way. Returns the document
 * (owned by the caller) when the body was accepted.
 */
static json_t *fuzz_body(const uint8_t *data, size_t len, check_request_t *out)
{
    api_error_t err;

    memset(&err, 0, sizeof(err));
    json_t *doc = check_request_parse_general((const char *)data, len, out, &err);

    /* The fast path must give the general path's answer, to the byte. */
    check_request_t fast;
    api_error_t fast_err;
    memset(&fast_err, 0, sizeof(fast_err));
    json_t *fast_doc = check_request_parse((const char *)data, len, &fast, &fast_err);
    REQUIRE((fast_doc == NULL) == (doc == NULL));
    if (doc == NULL) {
        REQUIRE(fast_err.code == err.code && strcmp(fast_err.message, err.message) == 0);
    } else {
        REQUIRE(fast.key_len == out->key_len && memcmp(fast.key, out->key, fast.key_len) == 0);
        REQUIRE((fast.user_id == NULL) == (out->user_id == NULL));
        REQUIRE(fast.user_id == NULL ||
                (fast.user_id_len == out->user_id_len &&
                 memcmp(fast.user_id, out->user_id, fast.user_id_len) == 0));
        REQUIRE(fast.req.limit == out->req.limit && fast.req.window_ms == out->req.window_ms &&
                fast.req.cost == out->req.cost && fast.algorithm == out->algorithm);
    }
    json_decref(fast_doc);

    if (doc == NULL) {
        size_t n = strnlen(err.message, sizeof(err.message));
        REQUIRE(err.code == ERR_INVALID_JSON || err.code == ERR_INVALID_FIELD);
        REQUIRE(n > 0 && n < sizeof(err.message));
        /* The message goes into a JSON answer: it must be text. */
        REQUIRE(utf8_ok(err.message, n));
        return NULL;
    }

    REQUIRE(json_is_object(doc));
    REQUIRE(json_object_size(doc) >= 3 && json_object_size(doc) <= 6);
    const char *name;
    json_t *value;
    json_object_foreach(doc, name, value)
    {
        REQUIRE(strcmp(name, "key") == 0 || strcmp(name, "limit") == 0 ||
                strcmp(name, "window") == 0 || strcmp(name, "window_ms") == 0 ||
                strcmp(name, "cost") == 0 || strcmp(name, "algorithm") == 0 ||
                strcmp(name, "user_id") == 0);
    }

    json_t *key = json_object_get(doc, "key");
    REQUIRE(json_is_string(key) && json_string_value(key) == out->key);
    REQUIRE(out->key_len == json_string_length(key));
    REQUIRE(out->key_len >= 1 && out->key_len <= CHECK_MAX_KEY);
    REQUIRE(memchr(out->key, '\0', out->key_len) == NULL);
    REQUIRE(utf8_ok(out->key, out->key_len));

    json_t *user = json_object_get(doc, "user_id");
    if (user == NULL) {
        REQUIRE(out->user_id == NULL);
    } else {
        REQUIRE(json_is_string(user) && json_string_value(user) == out->user_id);
        REQUIRE(out->user_id_len == json_string_length(user));
        REQUIRE(out->user_id_len >= 1 && out->user_id_len <= CHECK_MAX_KEY);
        REQUIRE(memchr(out->user_id, '\0', out->user_id_len) == NULL);
        REQUIRE(utf8_ok(out->user_id, out->user_id_len));
    }

    REQUIRE(out->req.limit >= 1 && out->req.limit <= LIMITER_MAX_LIMIT);
    REQUIRE(out->req.limit == member_u64(doc, "limit", 0));
    REQUIRE(out->req.window_ms >= 1 && out->req.window_ms <= LIMITER_MAX_WINDOW_MS);
    json_t *window = json_object_get(doc, "window");
    json_t *window_ms = json_object_get(doc, "window_ms");
    REQUIRE((window == NULL) != (window_ms == NULL));
    if (window != NULL)
        REQUIRE(out->req.window_ms == 1000 * (uint64_t)json_integer_value(window));
    else
        REQUIRE(out->req.window_ms == (uint64_t)json_integer_value(window_ms));
    REQUIRE(out->req.cost <= LIMITER_MAX_COST);
    REQUIRE(out->req.cost == member_u64(doc, "cost", 1));
    REQUIRE(out->algorithm == LIMITER_SLIDING_WINDOW);
    return doc;
}

static void fuzz_key(const uint8_t *data, size_t len)
{
    const char *s = (const char *)data;
    apikey_t key;

    memset(&key, 0, sizeof(key));
    apikey_status_t st = apikey_verify(&keys, s, len, &key);
    REQUIRE(st == APIKEY_VALID || st == APIKEY_MALFORMED || st == APIKEY_BAD_MAC);
    if (st == APIKEY_MALFORMED)
        return;

    /* Well formed: rw_<tenant>_<24 hex>_<32 hex>, and the parts were filled in. */
    REQUIRE(len >= 3 + 1 + 1 + APIKEY_ID_HEX + 1 + APIKEY_MAC_HEX && len <= APIKEY_MAX_LEN);
    REQUIRE(memcmp(s, "rw_", 3) == 0);
    REQUIRE(key.tenant_len == strlen(key.tenant));
    REQUIRE(apikey_tenant_ok(key.tenant, key.tenant_len));
    REQUIRE(memcmp(s + 3, key.tenant, key.tenant_len) == 0);
    REQUIRE(apikey_id_ok(key.key_id, strlen(key.key_id)));

    /* Valid exactly when it is the key the secret would issue for that tenant and id. */
    char again[APIKEY_MAX_LEN + 1];
    REQUIRE(apikey_format(&keys, key.tenant, key.key_id, again, sizeof(again)) == 0);
    int same = strlen(again) == len && memcmp(again, s, len) == 0;
    REQUIRE(same == (st == APIKEY_VALID));
}

static void fuzz_key_roundtrip(const uint8_t *data, size_t len)
{
    char tenant[48], id[32], key[APIKEY_MAX_LEN + 1];
    const uint8_t *nul = memchr(data, '\0', len);
    size_t tlen = nul ? (size_t)(nul - data) : len;

    if (tlen >= sizeof(tenant))
        return;
    memcpy(tenant, data, tlen);
    tenant[tlen] = '\0';
    size_t rest = nul ? len - tlen - 1 : 0;
    size_t ilen = rest < sizeof(id) - 1 ? rest : sizeof(id) - 1;
    if (ilen > 0)
        memcpy(id, nul + 1, ilen);
    id[ilen] = '\0';

    int expect_ok = apikey_tenant_ok(tenant, strlen(tenant)) && apikey_id_ok(id, strlen(id));
    REQUIRE(apikey_format(&keys, tenant, id, key, sizeof(key) - 1) == -1);
    int rc = apikey_format(&keys, tenant, id, key, sizeof(key));
    REQUIRE((rc == 0) == expect_ok);
    if (rc != 0)
        return;

    size_t klen = strlen(key);
    apikey_t parsed;
    REQUIRE(klen <= APIKEY_MAX_LEN);
    REQUIRE(apikey_verify(&keys, key, klen, &parsed) == APIKEY_VALID);
    REQUIRE(strcmp(parsed.tenant, tenant) == 0 && strcmp(parsed.key_id, id) == 0);
    REQUIRE(apikey_verify(&keys, key, klen - 1, &parsed) == APIKEY_MALFORMED);

    /* One MAC digit changed, to another lower-case hex digit: well formed, not valid. */
    size_t pos = klen - 1 - (len ? data[len - 1] : 0) % APIKEY_MAC_HEX;
    key[pos] = key[pos] == '0' ? 'a' : '0';
    REQUIRE(apikey_verify(&keys, key, klen, &parsed) == APIKEY_BAD_MAC);
}

/* used * W after `s` is rolled to `now`, exactly: p*(W-e) + c*W. */
static u128 used_scaled(sw_state_t s, uint64_t w, uint64_t now)
{
    sliding_window_normalize(&s, w, now);
    return (u128)s.prev * (w - (now - s.window_start_ms)) + (u128)s.cur * w;
}

static void fuzz_limiter(const uint8_t *data, size_t len)
{
    if (len < 24)
        return;
    uint64_t a = load_u64(data), b = load_u64(data + 8), c = load_u64(data + 16);
    check_request_t in;
    json_t *doc = fuzz_body(data + 24, len - 24, &in);
    if (doc == NULL)
        return;
    json_decref(doc); /* `in.key` is not used below */

    const limiter_request_t *req = &in.req;
    uint64_t w = req->window_ms;
    uint64_t now = a & ((1ULL << 46) - 1); /* some 2,200 years of milliseconds */
    uint64_t start = now - now % w;
    uint64_t back = (a >> 46) % 4; /* the state's window: this one, 1 or 2 back, none */
    sw_state_t state = {0, 0, 0};
    if (back < 3 && start >= back * w) {
        state.window_start_ms = start - back * w;
        state.prev = b % (LIMITER_MAX_LIMIT + 1);
        state.cur = c % (LIMITER_MAX_LIMIT + 1);
    }

    sw_state_t before = state, rolled = state;
    limiter_result_t r;
    sliding_window_normalize(&rolled, w, now);
    sliding_window_check(&state, req, now, &r);

    uint64_t e = now - start;
    u128 used = used_scaled(before, w, now);
    int fits = req->cost <= req->limit && used + (u128)req->cost * w <= (u128)req->limit * w;
    REQUIRE(r.allowed == fits);
    REQUIRE(state.window_start_ms == start);

    if (r.allowed && req->cost > 0) {
        REQUIRE(r.changed);
        REQUIRE(state.prev == rolled.prev && state.cur == rolled.cur + req->cost);
    } else {
        /* A peek or a denial charges nothing. */
        REQUIRE(!r.changed);
        REQUIRE(state.prev == rolled.prev && state.cur == rolled.cur);
    }

    /* remaining = limit - c - ceil(p*(W-e)/W), at least 0, after any charge. */
    u128 decayed = ((u128)state.prev * (w - e) + w - 1) / w;
    u128 spent = (u128)state.cur + decayed;
    REQUIRE(r.remaining == (spent >= req->limit ? 0 : req->limit - (uint64_t)spent));
    REQUIRE(r.remaining <= req->limit);

    /* reset_in: until everything counted has left both windows; at most 2W. */
    uint64_t reset = state.cur > 0 ? 2 * w - e : state.prev > 0 ? w - e : 0;
    REQUIRE(r.reset_in_ms == reset && r.reset_in_ms <= 2 * w);
    REQUIRE(r.expires_at_ms == (reset ? now + reset : 0));

    if (r.allowed || req->cost > req->limit) {
        REQUIRE(r.retry_after_ms == LIMITER_NO_RETRY);
        return;
    }
    /* retry_after: the first millisecond from now at which the same request fits. */
    uint64_t retry = r.retry_after_ms;
    REQUIRE(retry >= 1 && retry <= 2 * w);
    sw_state_t later = rolled;
    limiter_result_t r2;
    sliding_window_check(&later, req, now + retry, &r2);
    REQUIRE(r2.allowed);
    if (retry > 1) {
        later = rolled;
        sliding_window_check(&later, req, now + retry - 1, &r2);
        REQUIRE(!r2.allowed);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request_t parsed;

    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0: {
        json_t *doc = fuzz_body(data + 1, size - 1, &parsed);
        json_decref(doc);
        break;
    }
    case 1:
        fuzz_key(data + 1, size - 1);
        break;
    case 2:
        fuzz_key_roundtrip(data + 1, size - 1);
        break;
    default:
        fuzz_limiter(data + 1, size - 1);
        break;
    }
    return 0;
}
