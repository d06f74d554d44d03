/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Validation of POST /v1/check bodies: a table of bodies and what each must give. */
#include "api/check_request.h"
#include "test.h"

#define OK (-1)

static const struct {
    const char *name;
    const char *body;
    int code; /* OK or the error_code_t expected */
    uint64_t limit, window_ms, cost;
} cases[] = {
    {"minimal", "{\"key\":\"a\",\"limit\":1,\"window\":1}", OK, 1, 1000, 1},
    {"window_ms", "{\"key\":\"a\",\"limit\":5,\"window_ms\":250}", OK, 5, 250, 1},
    {"cost zero peeks", "{\"key\":\"a\",\"limit\":5,\"window\":2,\"cost\":0}", OK, 5, 2000, 0},
    {"largest values",
     "{\"key\":\"k\",\"limit\":1000000000,\"window\":31536000,\"cost\":1000000000,"
     "\"algorithm\":\"sliding_window\"}",
     OK, 1000000000, 31536000000ULL, 1000000000},
    {"largest window_ms", "{\"key\":\"k\",\"limit\":1,\"window_ms\":31536000000}", OK, 1,
     31536000000ULL, 1},
    {"not json", "{key:1}", ERR_INVALID_JSON, 0, 0, 0},
    {"empty body", "", ERR_INVALID_JSON, 0, 0, 0},
    {"array", "[1,2]", ERR_INVALID_JSON, 0, 0, 0},
    {"trailing garbage", "{\"key\":\"a\",\"limit\":1,\"window\":1} x", ERR_INVALID_JSON, 0, 0, 0},
    {"duplicate field", "{\"key\":\"a\",\"key\":\"b\",\"limit\":1,\"window\":1}", ERR_INVALID_JSON,
     0, 0, 0},
    {"invalid utf-8", "{\"key\":\"\xff\",\"limit\":1,\"window\":1}", ERR_INVALID_JSON, 0, 0, 0},
    {"unknown field", "{\"key\":\"a\",\"limit\":1,\"window\":1,\"x\":1}", ERR_INVALID_FIELD, 0, 0,
     0},
    {"missing key", "{\"limit\":1,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"empty key", "{\"key\":\"\",\"limit\":1,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"key with NUL", "{\"key\":\"a\\u0000b\",\"limit\":1,\"window\":1}", ERR_INVALID_FIELD, 0, 0,
     0},
    {"numeric key", "{\"key\":5,\"limit\":1,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"missing limit", "{\"key\":\"a\",\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"zero limit", "{\"key\":\"a\",\"limit\":0,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"negative limit", "{\"key\":\"a\",\"limit\":-1,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"fractional limit", "{\"key\":\"a\",\"limit\":1.5,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"limit 1.0", "{\"key\":\"a\",\"limit\":1.0,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"string limit", "{\"key\":\"a\",\"limit\":\"1\",\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"boolean limit", "{\"key\":\"a\",\"limit\":true,\"window\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"limit too large", "{\"key\":\"a\",\"limit\":1000000001,\"window\":1}", ERR_INVALID_FIELD, 0,
     0, 0},
    {"huge integer", "{\"key\":\"a\",\"limit\":99999999999999999999999,\"window\":1}",
     ERR_INVALID_FIELD, 0, 0, 0},
    {"both windows", "{\"key\":\"a\",\"limit\":1,\"window\":1,\"window_ms\":1000}",
     ERR_INVALID_FIELD, 0, 0, 0},
    {"no window", "{\"key\":\"a\",\"limit\":1}", ERR_INVALID_FIELD, 0, 0, 0},
    {"window too long", "{\"key\":\"a\",\"limit\":1,\"window\":31536001}", ERR_INVALID_FIELD, 0, 0,
     0},
    {"window_ms zero", "{\"key\":\"a\",\"limit\":1,\"window_ms\":0}", ERR_INVALID_FIELD, 0, 0, 0},
    {"null cost", "{\"key\":\"a\",\"limit\":1,\"window\":1,\"cost\":null}", ERR_INVALID_FIELD, 0, 0,
     0},
    {"cost too large", "{\"key\":\"a\",\"limit\":1,\"window\":1,\"cost\":1000000001}",
     ERR_INVALID_FIELD, 0, 0, 0},
    {"unknown algorithm", "{\"key\":\"a\",\"limit\":1,\"window\":1,\"algorithm\":\"fixed\"}",
     ERR_INVALID_FIELD, 0, 0, 0},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_request_t out;
        api_error_t err;
        json_t *doc;

        test_case = cases[i].name;
        doc = check_request_parse(cases[i].body, strlen(cases[i].body), &out, &err);
        if (cases[i].code == OK) {
            EXPECT(doc != NULL);
            if (doc == NULL) {
                fprintf(stderr, "  rejected: %s\n", err.message);
                continue;
            }
            EXPECT_U64(out.req.limit, cases[i].limit);
            EXPECT_U64(out.req.window_ms, cases[i].window_ms);
            EXPECT_U64(out.req.cost, cases[i].cost);
            json_decref(doc);
        } else {
            EXPECT(doc == NULL);
            json_decref(doc);
            if (doc == NULL) {
                EXPECT_U64(err.code, cases[i].code);
                EXPECT(strlen(err.message) > 10);
            }
        }
    }
}

static void test_key_bounds(void)
{
    char body[1200];
    char key[600];
    check_request_t out;
    api_error_t err;

    memset(key, 'k', sizeof(key));
    test_case = "key of exactly 512 bytes";
    snprintf(body, sizeof(body), "{\"key\":\"%.*s\",\"limit\":1,\"window\":1}", 512, key);
    json_t *doc = check_request_parse(body, strlen(body), &out, &err);
    EXPECT(doc != NULL && out.key_len == 512);
    json_decref(doc);

    test_case = "key of 513 bytes";
    snprintf(body, sizeof(body), "{\"key\":\"%.*s\",\"limit\":1,\"window\":1}", 513, key);
    doc = check_request_parse(body, strlen(body), &out, &err);
    EXPECT(doc == NULL && err.code == ERR_INVALID_FIELD);

    test_case = "multi-byte key counts bytes";
    snprintf(body, sizeof(body), "{\"key\":\"\xd0\xba\xd0\xbb\",\"limit\":1,\"window\":1}");
    doc = check_request_parse(body, strlen(body), &out, &err);
    EXPECT(doc != NULL && out.key_len == 4);
    json_decref(doc);
}

/* Both parsers must give the same answer to every body: the same error, or the same fields. */
static void compare_paths(const char *body, size_t len)
{
    check_request_t fast, general;
    api_error_t fast_err, general_err;
    json_t *a = check_request_parse(body, len, &fast, &fast_err);
    json_t *b = check_request_parse_general(body, len, &general, &general_err);

    EXPECT((a == NULL) == (b == NULL));
    if (a != NULL && b != NULL) {
        EXPECT(fast.key_len == general.key_len && memcmp(fast.key, general.key, fast.key_len) == 0);
        EXPECT((fast.user_id == NULL) == (general.user_id == NULL));
        EXPECT(fast.req.limit == general.req.limit && fast.req.cost == general.req.cost &&
               fast.req.window_ms == general.req.window_ms);
    } else if (a == NULL && b == NULL) {
        EXPECT(fast_err.code == general_err.code);
        EXPECT(strcmp(fast_err.message, general_err.message) == 0);
    }
    if (test_failed > 0 && test_failed < 3)
        fprintf(stderr, "  body: %.*s\n", (int)len, body);
    json_decref(a);
    json_decref(b);
}

static void test_fast_path_agrees_with_jansson(void)
{
    static const char *const names[] = {"\"key\"",       "\"limit\"", "\"window\"",
                                        "\"window_ms\"", "\"cost\"",  "\"algorithm\"",
                                        "\"user_id\"",   "\"x\"",     "\"k\\u0065y\""};
    static const char *const values[] = {"\"a\"",
                                         "\"\"",
                                         "0",
                                         "1",
                                         "10",
                                         "01",
                                         "-1",
                                         "1.0",
                                         "1e3",
                                         "true",
                                         "null",
                                         "\"sliding_window\"",
                                         "999999999999999",
                                         "1000000000",
                                         "31536000",
                                         "31536000000",
                                         "[1]",
                                         "{}",
                                         "\"\\n\"",
                                         "\"\xd0\xba\"",
                                         "\"\xff\"",
                                         "2 ",
                                         "\"a\\u0000b\""};
    static const char *const glue[] = {"", " ", "\n", "\t"};
    unsigned seed = 20261204;
    char body[512];

    test_case = "the fast path gives the general path's answer";
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        int members = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 6;
        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s{", glue[(seed >> 3) % 4]);
        for (int m = 0; m < members; m++) {
            seed = seed * 1103515245u + 12345u;
            len += (size_t)snprintf(body + len, sizeof(body) - len, "%s%s%s:%s%s", m ? "," : "",
                                    glue[(seed >> 5) % 4], names[(seed >> 8) % 9],
                                    glue[(seed >> 12) % 4], values[(seed >> 16) % 23]);
        }
        len += (size_t)snprintf(body + len, sizeof(body) - len, "}%s", glue[(seed >> 20) % 4]);
        /* Now and then, damage it. */
        if ((seed >> 24) % 7 == 0 && len > 2)
            body[(seed >> 9) % len] = "{}\",: x"[(seed >> 14) % 7];
        compare_paths(body, len);
    }
}

static void test_common_bodies_take_the_fast_path(void)
{
    static const char *const bodies[] = {
        "{\"key\":\"user:42\",\"limit\":100,\"window\":60}",
        " {\n \"key\": \"\xd0\xba\", \"limit\": 5, \"window_ms\": 1500, \"cost\": 0,"
        " \"user_id\": \"u\", \"algorithm\": \"sliding_window\" } ",
    };
    check_request_t out;
    api_error_t err;

    test_case = "common bodies need no allocation";
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *doc = check_request_parse(bodies[i], strlen(bodies[i]), &out, &err);
        EXPECT(doc == json_null()); /* the fast path's token: no document was built */
        json_decref(doc);
    }
}

int main(void)
{
    test_table();
    test_common_bodies_take_the_fast_path();
    test_key_bounds();
    test_fast_path_agrees_with_jansson();
    return test_finish("check_request");
}
