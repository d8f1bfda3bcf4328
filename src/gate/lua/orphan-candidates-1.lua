--[[
  Lists a sale's orphan candidates: purchases admitted before the cutoff that no queue
  job is known to hold (the API's marker after its add, or a worker's claim, removes
  them from the hash). Read-only. Normally the hash holds only the purchases of adds in
  flight, so this is cheap.

  Input:
    KEYS[1] unqueued hash (purchaseId -> "admittedAtMs|scopedIdemKey")

    ARGV[1] cutoff, epoch ms: entries admitted before it are candidates
    ARGV[2] most candidates returned

  Output: list of purchaseIds (oldest first is not promised)
]]
--- @include "records"
local cutoff = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local admittedAt = parseUnqueued(entries[i + 1])
  if admittedAt and admittedAt < cutoff then
    out[#out + 1] = entries[i]
    if #out >= limit then break end
  end
end
return out
