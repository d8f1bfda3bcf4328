--[[
  Compensation for admit-7: gives a reservation back when the purchase could not
  be enqueued. Only a purchase still `queued` (not yet claimed by a worker) is
  released, so a purchase a worker already holds is never given back twice.

  Input:
    KEYS[1] sale remaining units
    KEYS[2] per-user units hash
    KEYS[3] purchases hash
    KEYS[4] idempotency hash
    KEYS[5] stats hash
    KEYS[6] unqueued hash

    ARGV[1] purchaseId
    ARGV[2] scoped idempotency key, or ""
    ARGV[3] reason recorded on the purchase (e.g. ENQUEUE_FAILED)

  Output: 1 released (purchase now rejected), 0 not released (claimed, finished or unknown)
]]
--- @include "records"
redis.call('HDEL', KEYS[6], ARGV[1])
local rec = redis.call('HGET', KEYS[3], ARGV[1])
if not rec then return 0 end
local status, q, createdAt, userId = parseRecord(rec)
if status ~= 'queued' then return 0 end

redis.call('INCRBY', KEYS[1], q)
redis.call('HINCRBY', KEYS[2], userId, -tonumber(q))
redis.call('HSET', KEYS[3], ARGV[1], formatRecord('rejected', q, createdAt, userId))
-- A refused attempt is not remembered under its key: a retry is judged afresh.
if ARGV[2] ~= '' and redis.call('HGET', KEYS[4], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[4], ARGV[2])
end
redis.call('HINCRBY', KEYS[5], 'admitted', -1)
redis.call('HINCRBY', KEYS[5], 'admittedUnits', -tonumber(q))
redis.call('HINCRBY', KEYS[5], 'pendingUnits', -tonumber(q))
redis.call('HINCRBY', KEYS[5], 'rejected:' .. ARGV[3], 1)
return 1
