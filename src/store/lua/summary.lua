-- SPDX-License-Identifier: Apache-2.0 OR MIT
-- What is held about a data subject: for each live counter, its algorithm, window and
-- milliseconds until it expires. Counters erased through another subject are skipped.
-- KEYS[1]  the subject's index;  ARGV[1] the tenant's counter key prefix;  ARGV[2] at most
-- Returns  a flat array: the number of live counters, then for at most ARGV[2] of them
--          algorithm, window_ms, expires_in_ms, algorithm, ...
local out = {0}
local limit = tonumber(ARGV[2])
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local algorithm, window, id = string.match(member, '^(%d+):(%d+):([0-9a-f]+)$')
  if id then
    local ttl = redis.call('PTTL', ARGV[1] .. id)
    if ttl > 0 then
      out[1] = out[1] + 1
      if out[1] <= limit then
        out[#out + 1] = tonumber(algorithm)
        out[#out + 1] = tonumber(window)
        out[#out + 1] = ttl
      end
    end
  end
end
return out
