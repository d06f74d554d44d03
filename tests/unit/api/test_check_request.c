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

int main(void)
{
    test_table();
    test_key_bounds();
    return test_finish("check_request");
}
