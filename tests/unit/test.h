/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * A minimal unit-test harness: EXPECT_* record a failure with its location and go on, so
 * one run shows every broken case of a table. test_finish() prints the summary line and
 * gives the exit status.
 */
#ifndef RW_TEST_H
#define RW_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;
static const char *test_case = "";

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "%s:%d: [%s] expected %s\n", __FILE__, __LINE__, test_case, #cond);    \
        }                                                                                          \
    } while (0)

#define EXPECT_U64(got, want)                                                                      \
    do {                                                                                           \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);                                 \
        if (got_ == want_) {                                                                       \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "%s:%d: [%s] %s is %" PRIu64 ", want %" PRIu64 "\n", __FILE__,         \
                    __LINE__, test_case, #got, got_, want_);                                       \
        }                                                                                          \
    } while (0)

#define EXPECT_STR(got, want)                                                                      \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        if (got_ != NULL && strcmp(got_, want_) == 0) {                                            \
            test_passed++;                                                                         \
        } else {                                                                                   \
            test_failed++;                                                                         \
            fprintf(stderr, "%s:%d: [%s] %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__,         \
                    test_case, #got, got_ ? got_ : "(null)", want_);                               \
        }                                                                                          \
    } while (0)

static inline int test_finish(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
    return test_failed == 0 ? 0 : 1;
}

#endif
