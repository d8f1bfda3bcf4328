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
    KEYS[6] views hash (the read model: every outcome's view is written, applied now or before)

    ARGV: quads, repeated: purchaseId, status ("confirmed" | "rejected"), reason ("" when confirmed),
          the purchase's JSON view ("": none)

  Output: one integer per quad: 1 applied now, 0 already applied or unknown
]]
--- @include "records"
--- @include "views"
-- Per batch, not per purchase: one HDEL, one HMGET, one HSET and one HINCRBY per counter;
-- only a rejection adds its own give-back (remaining and the shopper's units).
local out = {}
local n = #ARGV / 4
if n == 0 then return out end
local ids = {}
local views = {}
for i = 1, n do
  ids[i] = ARGV[i * 4 - 3]
  if ARGV[i * 4] ~= '' then
    views[#views + 1] = ids[i]
    views[#views + 1] = ARGV[i * 4]
  end
end
redis.call('HDEL', KEYS[5], unpack(ids))
local recs = redis.call('HMGET', KEYS[3], unpack(ids))
local writes = {}
local pending, confirmed, giveBack = 0, 0, 0
local rejected = {}
-- The same purchase twice in one call applies once (every copy read the same record).
local seen = {}
for i = 1, n do
  local pid, status, reason = ids[i], ARGV[i * 4 - 2], ARGV[i * 4 - 1]
  local applied = 0
  local rec = recs[i]
  if seen[pid] then rec = nil end
  seen[pid] = true
  if rec then
    local cur, q, createdAt, userId = parseRecord(rec)
    if cur == 'queued' or cur == 'processing' then
      writes[#writes + 1] = pid
      writes[#writes + 1] = formatRecord(status, q, createdAt, userId)
      pending = pending + tonumber(q)
      if status == 'rejected' then
        giveBack = giveBack + tonumber(q)
        redis.call('HINCRBY', KEYS[2], userId, -tonumber(q))
        rejected[reason] = (rejected[reason] or 0) + 1
      else
        confirmed = confirmed + 1
      end
      applied = 1
    end
  end
  out[i] = applied
end
if #writes > 0 then redis.call('HSET', KEYS[3], unpack(writes)) end
-- Pending units are admittedUnits - decidedUnits: admission counts the one, this the other.
if pending > 0 then redis.call('HINCRBY', KEYS[4], 'decidedUnits', pending) end
if giveBack > 0 then redis.call('INCRBY', KEYS[1], giveBack) end
if confirmed > 0 then redis.call('HINCRBY', KEYS[4], 'confirmed', confirmed) end
for reason, count in pairs(rejected) do redis.call('HINCRBY', KEYS[4], 'rejected:' .. reason, count) end
writeViews(KEYS[6], KEYS[3], views)
return out
