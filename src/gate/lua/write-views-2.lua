--[[
  Writes purchase views into a sale's read model (holds, payments, the orphan sweep and
  the API's compensation; a worker's decisions are written by finalize-6 itself).

  Input:
    KEYS[1] views hash      (purchaseId -> JSON view)
    KEYS[2] purchases hash  (whose expiry a new views hash takes)
    ARGV    purchaseId, JSON view, repeated

  Output: 1
]]
--- @include "views"
writeViews(KEYS[1], KEYS[2], ARGV)
return 1
