/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * Rate-limit algorithms as pure functions: they read a state, a request and a time and
 * return a decision and the next state. No I/O, no clock, no allocation; the stores call
 * them under whatever lock or script makes the read-decide-write atomic.
 */
#ifndef RW_LIMITER_H
#define RW_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#define LIMITER_MAX_LIMIT     1000000000ULL
#define LIMITER_MAX_COST      1000000000ULL
#define LIMITER_MAX_WINDOW_MS 31536000000ULL

/* No value: retry_after is null in the answer. */
#define LIMITER_NO_RETRY UINT64_MAX

typedef enum { LIMITER_SLIDING_WINDOW = 0, LIMITER_ALGORITHM_COUNT } limiter_algorithm_t;

typedef struct {
    uint64_t limit;     /* 1 .. LIMITER_MAX_LIMIT */
    uint64_t window_ms; /* 1 .. LIMITER_MAX_WINDOW_MS */
    uint64_t cost;      /* 0 .. LIMITER_MAX_COST; 0 is a peek */
} limiter_request_t;

/*
 * The sliding-window counter: `cur` units counted in the window that starts at
 * `window_start_ms`, `prev` in the one before it. A zeroed state is an empty one.
 */
typedef struct {
    uint64_t window_start_ms;
    uint64_t prev;
    uint64_t cur;
} sw_state_t;

typedef struct {
    bool allowed;
    bool changed;            /* the state must be written back */
    uint64_t remaining;      /* units that could still be spent now */
    uint64_t reset_in_ms;    /* until everything counted has decayed; 0 if nothing is */
    uint64_t retry_after_ms; /* LIMITER_NO_RETRY when allowed or never allowable */
    uint64_t expires_at_ms;  /* when the state stops mattering; 0 if it is empty */
} limiter_result_t;

/* Decide `req` at `now_ms` against `state`, and update `state` when the request is charged. */
void sliding_window_check(sw_state_t *state, const limiter_request_t *req, uint64_t now_ms,
                          limiter_result_t *out);

/* The state as seen at `now_ms`: windows that have passed are rolled forward. */
void sliding_window_normalize(sw_state_t *state, uint64_t window_ms, uint64_t now_ms);

/* Whole seconds for a millisecond duration, rounded up. */
static inline uint64_t limiter_ms_to_s_ceil(uint64_t ms)
{
    return ms / 1000 + (ms % 1000 != 0);
}

const char *limiter_algorithm_name(limiter_algorithm_t algorithm);
int limiter_algorithm_parse(const char *name, limiter_algorithm_t *out);

#endif
