--[[
  Compensation for admit-8: gives a reservation back when the purchase could not
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
--- @include "release"
if releaseQueued(ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
