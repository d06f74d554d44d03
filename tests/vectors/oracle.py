# SPDX-License-Identifier: Apache-2.0 OR MIT
"""An independent model of the sliding_window algorithm, written from its definition with exact
fractions and a search instead of closed forms. The tests use it to check the shared vectors
and to generate random ones for the C code and the Lua script."""
from fractions import Fraction


class SlidingWindow:
    def __init__(self):
        self.start = None  # start of the window `cur` belongs to
        self.prev = 0
        self.cur = 0

    def counts_at(self, t, w):
        start = t - t % w
        if self.start == start:
            return self.prev, self.cur
        if self.start is not None and self.start == start - w:
            return self.cur, 0
        return 0, 0

    def used_at(self, t, w):
        p, c = self.counts_at(t, w)
        e = t - (t - t % w)
        return Fraction(p * (w - e), w) + c

    def check(self, t, limit, window_ms, cost):
        w = window_ms
        used = self.used_at(t, w)
        allowed = cost <= limit and used + cost <= limit
        retry = None
        if not allowed and cost <= limit:
            # Without traffic, usage never rises: find the first millisecond that admits.
            lo, hi = 1, 2 * w
            while lo < hi:
                mid = (lo + hi) // 2
                if self.used_at(t + mid, w) + cost <= limit:
                    hi = mid
                else:
                    lo = mid + 1
            retry = lo
        p, c = self.counts_at(t, w)
        if allowed and cost > 0:
            c += cost
            self.start, self.prev, self.cur = t - t % w, p, c
        e = t % w
        decayed = -((-p * (w - e)) // w)  # ceil
        remaining = max(0, limit - c - decayed)
        # Usage is gone once every counted unit has left both windows.
        if c > 0:
            reset = 2 * w - e
        elif p > 0:
            reset = w - e
        else:
            reset = 0
        return {"allowed": allowed, "remaining": remaining, "reset_in_ms": reset,
                "retry_after_ms": retry}
