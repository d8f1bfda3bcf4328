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
--- @include "release"
local reason = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local pid = ARGV[i]
  local entry = redis.call('HGET', KEYS[6], pid)
  if entry then
    local _, idemKey = parseUnqueued(entry)
    local q, createdAt, userId = releaseQueued(pid, idemKey, reason)
    if q then out[#out + 1] = { pid, tonumber(q), tonumber(createdAt), userId } end
  end
end
return out
