--[[
  The orphan sweep's decision: a purchase admitted long ago that is still `queued` and
  still has no known job is rejected and its units go back, exactly as release-6 does
  for the API. Status-guarded: a purchase a worker claimed meanwhile (`processing`) or
  decided is left to the worker. A job of a rejected purchase that turns up later is
  skipped by the worker's claim (it finds `rejected`).

  Input:
    KEYS[1] sale remaining units
    KEYS[2] per-user units hash
    KEYS[3] purchases hash
    KEYS[4] idempotency hash
    KEYS[5] stats hash
    KEYS[6] unqueued hash

    ARGV[1] reason recorded (e.g. ENQUEUE_FAILED)
    ARGV[2..n] purchaseIds

  Output: one entry per purchase rejected now: { purchaseId, quantity, createdAtMs, userId }
]]
--- @include "records"
local reason = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local pid = ARGV[i]
  local entry = redis.call('HGET', KEYS[6], pid)
  if entry then
    redis.call('HDEL', KEYS[6], pid)
    local _, idemKey = parseUnqueued(entry)
    local rec = redis.call('HGET', KEYS[3], pid)
    local status, q, createdAt, userId
    if rec then status, q, createdAt, userId = parseRecord(rec) end
    if status == 'queued' then
      redis.call('INCRBY', KEYS[1], q)
      redis.call('HINCRBY', KEYS[2], userId, -tonumber(q))
      redis.call('HSET', KEYS[3], pid, formatRecord('rejected', q, createdAt, userId))
      -- As for any refused attempt: a retry with the same key is judged afresh.
      if idemKey ~= '' and redis.call('HGET', KEYS[4], idemKey) == pid then redis.call('HDEL', KEYS[4], idemKey) end
      redis.call('HINCRBY', KEYS[5], 'admitted', -1)
      redis.call('HINCRBY', KEYS[5], 'admittedUnits', -tonumber(q))
      redis.call('HINCRBY', KEYS[5], 'pendingUnits', -tonumber(q))
      redis.call('HINCRBY', KEYS[5], 'rejected:' .. reason, 1)
      out[#out + 1] = { pid, tonumber(q), tonumber(createdAt), userId }
    end
  end
end
return out
