-- SPDX-License-Identifier: Apache-2.0 OR MIT
-- Erases a data subject at once: every counter its index lists, then the index, and
-- records the erasure in the tenant's audit stream, all in one atomic call.
-- KEYS[1]  the subject's index (see sliding_window.lua)
-- KEYS[2]  the tenant's audit stream
-- ARGV     the tenant's counter key prefix "rw:{<tag>}:c:", an unused slot (summary.lua's
--          limit: both scripts take the same arguments), then the audit record's time_ms,
--          action, subject, reason, request_id, the stream's cap and its TTL (ms)
-- Returns  how many counters existed and were deleted
--
-- An index member names a counter and the generation it had when it was listed; a counter
-- erased through another subject and created again since is another generation, and no
-- longer this subject's. The audit record is written before anything is deleted, so a
-- refused write (Redis out of memory) leaves the erasure undone rather than unrecorded.
local victims = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local id, gen = string.match(member, '([0-9a-f]+):(%d+)$')
  if id then
    local stored = redis.call('GET', ARGV[1] .. id)
    if stored and string.match(stored, ':(%d+)$') == gen then
      victims[#victims + 1] = ARGV[1] .. id
    end
  end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'time_ms', ARGV[3], 'action', ARGV[4],
           'subject', ARGV[5], 'reason', ARGV[6], 'count', #victims, 'request_id', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[9])
for _, key in ipairs(victims) do
  redis.call('DEL', key)
end
redis.call('DEL', KEYS[1])
return #victims
