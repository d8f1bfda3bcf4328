--[[
  Gives a still-`queued` purchase's reservation back: its units to the sale and to its
  buyer's total, its record to `rejected`, its idempotency key forgotten (a retry is judged
  afresh), its admission uncounted (which also takes its units out of the pending ones). Needs the "records" include before it, and the key
  layout release-6 and reject-orphans-6 share:
    KEYS[1] remaining, KEYS[2] per-user units, KEYS[3] purchases, KEYS[4] idempotency,
    KEYS[5] stats, KEYS[6] unqueued
  Returns quantity, createdAtMs, userId when it released; nil when the purchase is unknown,
  claimed by a worker or already final (then nothing changes but its unqueued entry).
]]
local function releaseQueued(pid, idemKey, reason)
  redis.call('HDEL', KEYS[6], pid)
  local rec = redis.call('HGET', KEYS[3], pid)
  if not rec then return nil end
  local status, q, createdAt, userId = parseRecord(rec)
  if status ~= 'queued' then return nil end
  redis.call('INCRBY', KEYS[1], q)
  redis.call('HINCRBY', KEYS[2], userId, -tonumber(q))
  redis.call('HSET', KEYS[3], pid, formatRecord('rejected', q, createdAt, userId))
  if idemKey ~= '' and redis.call('HGET', KEYS[4], idemKey) == pid then redis.call('HDEL', KEYS[4], idemKey) end
  redis.call('HINCRBY', KEYS[5], 'admitted', -1)
  redis.call('HINCRBY', KEYS[5], 'admittedUnits', -tonumber(q))
  redis.call('HINCRBY', KEYS[5], 'rejected:' .. reason, 1)
  return q, createdAt, userId
end
