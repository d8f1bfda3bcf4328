--[[
  Applies the end of a hold to the Redis gate, exactly once per purchase, after
  PostgreSQL committed it: `paid` keeps the units, `expired` and `cancelled` give them
  back so the next shopper can buy them. Only a purchase still `confirmed` here changes.

  Input:
    KEYS[1] sale remaining units
    KEYS[2] per-user units hash
    KEYS[3] purchases hash
    KEYS[4] stats hash

    ARGV[1] purchaseId
    ARGV[2] "paid" | "expired" | "cancelled"

  Output: 1 applied now, 0 already applied or unknown (reconciliation owns unknown ones)
]]
--- @include "records"
local rec = redis.call('HGET', KEYS[3], ARGV[1])
if not rec then return 0 end
local status, q, createdAt, userId = parseRecord(rec)
if status ~= 'confirmed' then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], formatRecord(ARGV[2], q, createdAt, userId))
if ARGV[2] ~= 'paid' then
  redis.call('INCRBY', KEYS[1], q)
  redis.call('HINCRBY', KEYS[2], userId, -tonumber(q))
end
redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
return 1
