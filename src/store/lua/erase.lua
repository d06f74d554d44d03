-- SPDX-License-Identifier: Apache-2.0 OR MIT
-- Erases a data subject at once: every counter its index lists, then the index.
-- KEYS[1]  the subject's index (see sliding_window.lua)
-- ARGV[1]  the prefix of the tenant's counter keys, "rw:{<tag>}:c:"
-- Returns  how many counters existed and were deleted
local erased = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local id = string.match(member, '([0-9a-f]+)$')
  if id then
    erased = erased + redis.call('DEL', ARGV[1] .. id)
  end
end
redis.call('DEL', KEYS[1])
return erased
