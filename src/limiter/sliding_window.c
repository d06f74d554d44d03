/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The weighted two-window counter. With p the previous window's count, c the current
 * one's, e the milliseconds elapsed in the current window and W the window length,
 * used = p*(W-e)/W + c. Every comparison is made on the products scaled by W, in 128-bit
 * integers, so no bound is ever decided by a rounding error.
 */
#include "limiter/limiter.h"

#include <string.h>

typedef unsigned __int128 u128;

static const char *const algorithm_names[LIMITER_ALGORITHM_COUNT] = {
    [LIMITER_SLIDING_WINDOW] = "sliding_window",
};

const char *limiter_algorithm_name(limiter_algorithm_t algorithm)
{
    return algorithm < LIMITER_ALGORITHM_COUNT ? algorithm_names[algorithm] : "unknown";
}

int limiter_algorithm_parse(const char *name, limiter_algorithm_t *out)
{
    for (int i = 0; i < LIMITER_ALGORITHM_COUNT; i++) {
        if (strcmp(name, algorithm_names[i]) == 0) {
            *out = (limiter_algorithm_t)i;
            return 0;
        }
    }
    return -1;
}

void sliding_window_normalize(sw_state_t *state, uint64_t window_ms, uint64_t now_ms)
{
    uint64_t start = now_ms - now_ms % window_ms;

    if (state->window_start_ms == start)
        return;
    if (start >= window_ms && state->window_start_ms == start - window_ms)
        state->prev = state->cur;
    else
        state->prev = 0;
    state->cur = 0;
    state->window_start_ms = start;
}

/* ceil(p * (W - e) / W): what the previous window still weighs. */
static uint64_t decayed_prev(uint64_t p, uint64_t w, uint64_t e)
{
    u128 scaled = (u128)p * (w - e);

    return (uint64_t)((scaled + w - 1) / w);
}

/*
 * Milliseconds from `e` until p*(W-e')/W + c + cost <= limit holds, given that it does not
 * hold now. It may hold later in this window, or else at some point of the next one, where
 * the current count becomes the previous one and nothing is current.
 */
static uint64_t retry_after(uint64_t p, uint64_t c, const limiter_request_t *req, uint64_t e)
{
    uint64_t w = req->window_ms;

    if (p > 0 && c + req->cost <= req->limit) {
        u128 slack = (u128)(req->limit - c - req->cost) * w;
        u128 room = slack / p; /* W - e' may be at most this */

        if (room > 0 && room < w)
            return (w - (uint64_t)room) - e;
    }

    uint64_t until_next = w - e;
    if (c == 0)
        return until_next;

    u128 room = (u128)(req->limit - req->cost) * w / c;
    uint64_t e_next = room >= w ? 0 : w - (uint64_t)room;
    return until_next + e_next;
}

void sliding_window_check(sw_state_t *state, const limiter_request_t *req, uint64_t now_ms,
                          limiter_result_t *out)
{
    uint64_t w = req->window_ms;

    sliding_window_normalize(state, w, now_ms);

    uint64_t e = now_ms - state->window_start_ms;
    uint64_t p = state->prev;
    uint64_t c = state->cur;
    u128 used_scaled = (u128)p * (w - e) + (u128)c * w;
    u128 want_scaled = used_scaled + (u128)req->cost * w;

    memset(out, 0, sizeof(*out));
    out->retry_after_ms = LIMITER_NO_RETRY;
    out->allowed = req->cost <= req->limit && want_scaled <= (u128)req->limit * w;

    if (out->allowed && req->cost > 0) {
        c += req->cost;
        state->cur = c;
        out->changed = true;
    } else if (!out->allowed && req->cost <= req->limit) {
        out->retry_after_ms = retry_after(p, c, req, e);
    }

    uint64_t spent = c + decayed_prev(p, w, e);
    out->remaining = spent >= req->limit ? 0 : req->limit - spent;

    if (c > 0)
        out->reset_in_ms = 2 * w - e;
    else if (p > 0)
        out->reset_in_ms = w - e;
    if (out->reset_in_ms > 0)
        out->expires_at_ms = now_ms + out->reset_in_ms;
}
