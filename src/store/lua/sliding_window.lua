-- SPDX-License-Identifier: Apache-2.0 OR MIT
-- The sliding-window check, decided and recorded in one atomic call (see
-- src/limiter/sliding_window.c for the same algorithm in C; the shared vectors hold both
-- to one answer).
--
-- KEYS[1]  the counter: a string "<window start>:<prev>:<cur>:<generation>", milliseconds,
--          units, and the microsecond the counter was created (see erase.lua)
-- KEYS[2..] the indexes of the data subjects the counter belongs to: sorted sets of
--          "<algorithm>:<window_ms>:<counter id>:<generation>" scored by when each expires
-- ARGV     limit, window_ms, cost, now_ms for tests only (the service sends "", and the
--          time is Redis's own, so instances with skewed clocks agree), and the counter's
--          index member
-- Returns  {allowed (0|1), remaining, reset_in_ms, retry_after_ms (-1: none)}
--
-- Lua numbers are doubles, exact only below 2^53, while the products compared here reach
-- 2^76. Products are therefore formed exactly in three 24-bit limbs, and divisions are
-- estimated in floating point, then corrected with exact products.

local B = 16777216 -- 2^24

-- a * b for 0 <= a, b < 2^48, as limbs {high, mid, low}
local function mul(a, b)
  local a1, a0 = math.floor(a / B), a % B
  local b1, b0 = math.floor(b / B), b % B
  local low = a0 * b0
  local mid = a1 * b0 + a0 * b1 + math.floor(low / B)
  return {a1 * b1 + math.floor(mid / B), mid % B, low % B}
end

-- x <= y for limb triples
local function le(x, y)
  if x[1] ~= y[1] then return x[1] < y[1] end
  if x[2] ~= y[2] then return x[2] < y[2] end
  return x[3] <= y[3]
end

-- floor(a * b / d) for a * b < 2^76 and a result below `cap`; returns cap when it is not
-- below cap. The float estimate is off by at most a few units; exact products settle it.
local function muldiv_floor(a, b, d, cap)
  local q = math.floor(a / d * b)
  if q >= cap + 2 then return cap end
  if q < 0 then q = 0 end
  local target = mul(a, b)
  while q > 0 and not le(mul(q, d), target) do q = q - 1 end
  while le(mul(q + 1, d), target) do q = q + 1 end
  if q > cap then return cap end
  return q
end

local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local start = now - now % w
local e = now - start
local p, c = 0, 0
local gen = nil
local stored = redis.call('GET', KEYS[1])
if stored then
  local s, sp, sc, sg = string.match(stored, '^(%d+):(%d+):(%d+):(%d+)$')
  s, sp, sc = tonumber(s), tonumber(sp), tonumber(sc)
  gen = sg
  if s == start then
    p, c = sp, sc
  elseif s == start - w then
    p = sc
  end
end

local allowed = false
if cost <= limit and c + cost <= limit then
  allowed = le(mul(p, w - e), mul(limit - c - cost, w))
end

local retry = -1
if allowed and cost > 0 then
  c = c + cost
elseif not allowed and cost <= limit then
  local found = false
  if p > 0 and c + cost <= limit then
    local room = muldiv_floor(limit - c - cost, w, p, w)
    if room > 0 and room < w then
      retry = (w - room) - e
      found = true
    end
  end
  if not found then
    local e_next = 0
    if c > 0 then
      local room = muldiv_floor(limit - cost, w, c, w)
      e_next = w - room
    end
    retry = (w - e) + e_next
  end
end

-- What the previous window still weighs, rounded up: p - floor(p * e / w).
local decayed = p - muldiv_floor(p, e, w, p)
local spent = c + decayed
local remaining = 0
if spent < limit then remaining = limit - spent end

local reset = 0
if c > 0 then
  reset = 2 * w - e
elseif p > 0 then
  reset = w - e
end

if allowed and cost > 0 then
  if not gen then
    local t = redis.call('TIME')
    gen = t[1] .. string.format('%06d', tonumber(t[2]))
  end
  redis.call('SET', KEYS[1], string.format('%d:%d:%d:', start, p, c) .. gen, 'PX', reset)
  -- Each subject's index lists the counter until it expires, and lives no longer than
  -- the last counter it lists; members past their expiry are trimmed on the way.
  for i = 2, #KEYS do
    redis.call('ZADD', KEYS[i], now + reset, ARGV[5] .. ':' .. gen)
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    if redis.call('PTTL', KEYS[i]) < reset then
      redis.call('PEXPIRE', KEYS[i], reset)
    end
  end
end

return {allowed and 1 or 0, remaining, reset, retry}
