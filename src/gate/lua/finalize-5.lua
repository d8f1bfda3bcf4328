--[[
  Applies a worker's committed outcomes to the Redis gate, exactly once per
  purchase: a rejected purchase gives its units back, a confirmed one keeps them.
  A purchase already final (redelivered job) or unknown (Redis lost it and
  reconciliation owns the counters) is left alone.

  Input:
    KEYS[1] sale remaining units
    KEYS[2] per-user units hash
    KEYS[3] purchases hash
    KEYS[4] stats hash
    KEYS[5] unqueued hash

    ARGV: triples, repeated: purchaseId, status ("confirmed" | "rejected"), reason ("" when confirmed)

  Output: one integer per triple: 1 applied now, 0 already applied or unknown
]]
--- @include "records"
local out = {}
for i = 1, #ARGV, 3 do
  local pid, status, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local applied = 0
  redis.call('HDEL', KEYS[5], pid)
  local rec = redis.call('HGET', KEYS[3], pid)
  if rec then
    local cur, q, createdAt, userId = parseRecord(rec)
    if cur == 'queued' or cur == 'processing' then
      redis.call('HSET', KEYS[3], pid, formatRecord(status, q, createdAt, userId))
      redis.call('HINCRBY', KEYS[4], 'pendingUnits', -tonumber(q))
      if status == 'rejected' then
        redis.call('INCRBY', KEYS[1], q)
        redis.call('HINCRBY', KEYS[2], userId, -tonumber(q))
        redis.call('HINCRBY', KEYS[4], 'rejected:' .. reason, 1)
      else
        redis.call('HINCRBY', KEYS[4], 'confirmed', 1)
      end
      applied = 1
    end
  end
  out[#out + 1] = applied
end
return out
