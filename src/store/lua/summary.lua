-- SPDX-License-Identifier: Apache-2.0 OR MIT
-- What is held about a data subject, recorded in the tenant's audit stream in the same
-- call: for each live counter of the subject (of the generation it was listed with, see
-- erase.lua), its algorithm, window and milliseconds until it expires.
-- KEYS[1]  the subject's index;  KEYS[2]  the tenant's audit stream
-- ARGV     the counter key prefix, the most items to list, then the audit record's
--          time_ms, action, subject, reason, request_id, the stream's cap and its TTL (ms)
-- Returns  a flat array: the number of live counters, then for at most ARGV[2] of them
--          algorithm, window_ms, expires_in_ms, algorithm, ...
local out = {0}
local limit = tonumber(ARGV[2])
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local algorithm, window, id, gen = string.match(member, '^(%d+):(%d+):([0-9a-f]+):(%d+)$')
  if id then
    local stored = redis.call('GET', ARGV[1] .. id)
    local ttl = redis.call('PTTL', ARGV[1] .. id)
    if stored and ttl > 0 and string.match(stored, ':(%d+)$') == gen then
      out[1] = out[1] + 1
      if out[1] <= limit then
        out[#out + 1] = tonumber(algorithm)
        out[#out + 1] = tonumber(window)
        out[#out + 1] = ttl
      end
    end
  end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'time_ms', ARGV[3], 'action', ARGV[4],
           'subject', ARGV[5], 'reason', ARGV[6], 'count', out[1], 'request_id', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[9])
return out
