--[[
  A worker claims purchases before writing them to PostgreSQL: `queued` becomes
  `processing`, after which release-6 can no longer give the reservation back.

  Input:
    KEYS[1] purchases hash
    KEYS[2] unqueued hash (a claimed purchase has a job: the orphan sweep leaves it alone)
    ARGV[1..n] purchaseIds

  Output: one status per purchaseId, in order:
    "processing" (claimed now or earlier: write it), "confirmed" / "rejected"
    (already final: a duplicate delivery), "missing" (Redis lost the record:
    PostgreSQL decides alone)
]]
--- @include "records"
-- One read and one write for the whole batch (not two commands per purchase).
local out = {}
if #ARGV == 0 then return out end
redis.call('HDEL', KEYS[2], unpack(ARGV))
local recs = redis.call('HMGET', KEYS[1], unpack(ARGV))
local writes = {}
local claimed = {}
for i, pid in ipairs(ARGV) do
  local rec = recs[i]
  if claimed[pid] then
    out[i] = 'processing'
  elseif not rec then
    out[i] = 'missing'
  else
    local status, q, createdAt, userId = parseRecord(rec)
    if status == 'queued' then
      claimed[pid] = true
      writes[#writes + 1] = pid
      writes[#writes + 1] = formatRecord('processing', q, createdAt, userId)
      status = 'processing'
    end
    out[i] = status
  end
end
if #writes > 0 then redis.call('HSET', KEYS[1], unpack(writes)) end
return out
