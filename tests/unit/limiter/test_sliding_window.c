/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The sliding-window algorithm against the shared vectors (tests/vectors/sliding_window.json,
 * or the file named by argv[1]: the integration tests feed random vectors from the oracle),
 * plus the cases only the C side has.
 */
#include <jansson.h>

#include "limiter/limiter.h"
#include "test.h"

static uint64_t field_u64(json_t *step, const char *name)
{
    return (uint64_t)json_integer_value(json_object_get(step, name));
}

static void run_vectors(const char *path)
{
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    size_t i, j;
    json_t *c, *step;

    if (doc == NULL) {
        fprintf(stderr, "cannot read %s: %s\n", path, err.text);
        test_failed++;
        return;
    }
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        sw_state_t state = {0, 0, 0};
        test_case = json_string_value(json_object_get(c, "name"));
        json_array_foreach(json_object_get(c, "steps"), j, step)
        {
            limiter_request_t req = {field_u64(step, "limit"), field_u64(step, "window_ms"),
                                     field_u64(step, "cost")};
            limiter_result_t r;
            json_t *retry = json_object_get(step, "retry_after_ms");

            sliding_window_check(&state, &req, field_u64(step, "t"), &r);
            EXPECT(r.allowed == json_is_true(json_object_get(step, "allowed")));
            EXPECT_U64(r.remaining, field_u64(step, "remaining"));
            EXPECT_U64(r.reset_in_ms, field_u64(step, "reset_in_ms"));
            EXPECT_U64(r.retry_after_ms, json_is_null(retry) ? LIMITER_NO_RETRY
                                                             : (uint64_t)json_integer_value(retry));
            EXPECT(r.changed == (r.allowed && req.cost > 0));
            if (r.reset_in_ms > 0)
                EXPECT_U64(r.expires_at_ms, field_u64(step, "t") + r.reset_in_ms);
        }
    }
    json_decref(doc);
}

static void test_rounding(void)
{
    static const struct {
        uint64_t ms, s;
    } cases[] = {{0, 0}, {1, 1}, {999, 1}, {1000, 1}, {1001, 2}, {31536000000ULL, 31536000}};

    test_case = "milliseconds to whole seconds, rounded up";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        EXPECT_U64(limiter_ms_to_s_ceil(cases[i].ms), cases[i].s);
}

static void test_denial_changes_nothing(void)
{
    sw_state_t state = {0, 0, 0};
    limiter_request_t fill = {3, 1000, 3}, more = {3, 1000, 1};
    limiter_result_t r;

    test_case = "a denial leaves the state as it was";
    sliding_window_check(&state, &fill, 50000, &r);
    sw_state_t before = state;
    sliding_window_check(&state, &more, 50001, &r);
    EXPECT(!r.allowed);
    EXPECT(memcmp(&before, &state, sizeof(state)) == 0);
}

static void test_algorithm_names(void)
{
    limiter_algorithm_t a;

    test_case = "algorithm names";
    EXPECT(limiter_algorithm_parse("sliding_window", &a) == 0 && a == LIMITER_SLIDING_WINDOW);
    EXPECT(limiter_algorithm_parse("token_bucket", &a) != 0);
    EXPECT(limiter_algorithm_parse("", &a) != 0);
    EXPECT_STR(limiter_algorithm_name(LIMITER_SLIDING_WINDOW), "sliding_window");
}

/* Exhaustive over small windows: allowed answers never exceed the limit in any window. */
static void test_never_over_limit(void)
{
    test_case = "sliding usage never exceeds the limit";
    for (uint64_t limit = 1; limit <= 4; limit++) {
        sw_state_t state = {0, 0, 0};
        limiter_request_t req = {limit, 10, 1};
        for (uint64_t t = 1000; t < 1100; t++) {
            limiter_result_t r;
            for (int k = 0; k < 3; k++)
                sliding_window_check(&state, &req, t, &r);
            uint64_t start = t - t % 10;
            uint64_t p = state.window_start_ms == start ? state.prev : 0;
            uint64_t c = state.window_start_ms == start ? state.cur : 0;
            EXPECT(p * (10 - (t - start)) + c * 10 <= limit * 10);
        }
    }
}

int main(int argc, char **argv)
{
    run_vectors(argc > 1 ? argv[1] : "tests/vectors/sliding_window.json");
    if (argc > 1)
        return test_finish("sliding_window vectors");
    test_rounding();
    test_denial_changes_nothing();
    test_algorithm_names();
    test_never_over_limit();
    return test_finish("sliding_window");
}
